//! The agent daemon: collect each plugin on its interval, turn samples into datums, and hand
//! them to the sink — CloudWatch (buffered, flushed every `force_flush_interval`, retried with
//! backoff on a task of its own) or the local store (written at once).
//!
//! Signals: SIGTERM/SIGINT stop collecting, flush what is buffered within the stop timeout and
//! exit; SIGHUP reloads the config (a config with errors is refused and the running one kept).
//! Under systemd it reports READY/RELOADING/STOPPING and pings the watchdog.

mod logs;

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use skywatch_backoff::Backoff;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::{mpsc, oneshot, watch};

use crate::config::{self, AgentConfig, Destination, MetricsConfig, Plugin, PluginConfig, Problem};
use crate::instance::{self, InstanceFacts};
use crate::journal::{log, now_ms};
use crate::limits::MAX_DATUMS_PER_PUT;
use crate::metrics::collect::Collector;
use crate::metrics::datum::{datums, Datum, DimensionRules};
use crate::metrics::emf;
use crate::sinks::buffer::{MetricBuffer, OutDatum};
use crate::sinks::cloudwatch::CloudWatchSink;
use crate::sinks::local_store::{LocalStore, Retention};
use crate::sinks::SendError;
use crate::telemetry::{DropReason, Telemetry};
use crate::{aws, health, state_dir, systemd};

/// Datums the buffer holds before it drops the oldest: 100 requests' worth.
const BUFFER_CAPACITY: usize = 100 * MAX_DATUMS_PER_PUT;
/// How long a stopping agent keeps trying to send what it has.
const STOP_FLUSH_TIMEOUT: Duration = Duration::from_secs(20);
/// How long `--once` keeps trying.
const ONCE_FLUSH_TIMEOUT: Duration = Duration::from_secs(30);
/// Between the two readings `--once` takes for rates (cpu usage, diskio, net).
const ONCE_RATE_GAP: Duration = Duration::from_secs(1);
const RETRY_BACKOFF: Backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(30));

/// How the daemon was started.
#[derive(Debug, Clone)]
pub struct Options {
    pub config_path: PathBuf,
    /// Collect once, publish, exit.
    pub once: bool,
    pub state_dir: Option<PathBuf>,
    /// Where procfs is (`/proc`; tests point it at fixtures).
    pub proc_root: PathBuf,
}

/// Why the agent could not start.
#[derive(Debug)]
pub enum AgentError {
    /// The config has errors (each with its key path).
    Config(Vec<Problem>),
    Startup(String),
}

impl std::fmt::Display for AgentError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AgentError::Config(problems) => {
                write!(f, "the config has {} error(s):", problems.len())?;
                for p in problems {
                    write!(f, "\n  {p}")?;
                }
                Ok(())
            }
            AgentError::Startup(why) => write!(f, "{why}"),
        }
    }
}

impl std::error::Error for AgentError {}

/// What a run did, for `--once`'s exit status and the final log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Outcome {
    pub collected: u64,
    pub sent: u64,
    pub stored: u64,
    pub dropped: u64,
}

/// Reads the config file; errors refuse it, warnings are logged.
fn load_config(path: &std::path::Path) -> Result<AgentConfig, AgentError> {
    let loaded = config::load(path);
    for w in &loaded.warnings {
        log(format_args!("{}: warning: {w}", path.display()));
    }
    match loaded.config {
        Some(config) if loaded.errors.is_empty() => Ok(config),
        _ => Err(AgentError::Config(loaded.errors)),
    }
}

fn hostname() -> String {
    rustix::system::uname().nodename().to_string_lossy().into_owned()
}

/// The dimension rules for `config`, given what the instance metadata said.
fn dimension_rules(
    config: &AgentConfig,
    metrics: &MetricsConfig,
    facts: Option<&InstanceFacts>,
) -> DimensionRules {
    let mut global = std::collections::BTreeMap::new();
    if let Some(facts) = facts {
        for (name, placeholder) in &metrics.append_dimensions {
            match facts.placeholder(placeholder) {
                Some(value) if !value.is_empty() => {
                    global.insert(name.clone(), value);
                }
                _ => log(format_args!(
                    "{name}: {placeholder} has no value on this instance; left out"
                )),
            }
        }
    } else if !metrics.append_dimensions.is_empty() {
        log("the EC2 append_dimensions are left out (no instance metadata); sending the host dimension instead");
    }
    // As the CloudWatch agent: EC2 dimensions replace `host`.
    let host = (!config.omit_hostname && global.is_empty()).then(hostname);
    DimensionRules {
        host,
        global,
        aggregation: metrics.aggregation_dimensions.clone(),
    }
}

/// Where datums go.
enum Output {
    CloudWatch(CloudWatchSink),
    Local(LocalStore),
    /// No metrics are collected (a config with logs only).
    Nowhere,
}

async fn choose_output(
    config: &AgentConfig,
    metrics: &MetricsConfig,
    facts: Option<&InstanceFacts>,
    state_dir: &std::path::Path,
    emf_wanted: bool,
) -> Result<Output, AgentError> {
    if metrics.plugins.is_empty() && !emf_wanted {
        return Ok(Output::Nowhere);
    }
    let local = || {
        let dir = state_dir::metrics_store(state_dir);
        LocalStore::open(&dir, Retention::default())
            .map(Output::Local)
            .map_err(|e| AgentError::Startup(format!("cannot open the local store {}: {e}", dir.display())))
    };
    if config.output == Destination::Local {
        return local();
    }
    let sdk = aws::sdk_config(config.region.clone(), facts.map(|f| f.region.clone())).await;
    if config.output == Destination::Auto {
        if let Err(why) = aws::can_reach_aws(&sdk).await {
            log(format_args!(
                "{why}: metrics go to the local store in {} (`skywatch metrics` shows them)",
                state_dir::metrics_store(state_dir).display()
            ));
            return local();
        }
    }
    let sink = CloudWatchSink::new(&sdk, &metrics.namespace, metrics.endpoint_override.as_deref());
    log(format_args!(
        "sending to CloudWatch, namespace {} in {}",
        sink.namespace(),
        sdk.region().map_or("(no region)", |r| r.as_ref())
    ));
    Ok(Output::CloudWatch(sink))
}

/// Resolves `${aws:…}` values in the plugins' own `append_dimensions` (as the CloudWatch agent
/// does since its PR #1892); dimensions without a value are left out and logged.
fn resolve_plugin_dimensions(metrics: &mut MetricsConfig, facts: Option<&InstanceFacts>) {
    for plugin in &mut metrics.plugins {
        let (resolved, missing) = instance::resolve_placeholders(&plugin.append_dimensions, facts);
        for name in missing {
            log(format_args!(
                "{}: dimension {name} has no value here; left out",
                plugin.plugin.name()
            ));
        }
        plugin.append_dimensions = resolved;
    }
}

/// A plugin and when it runs next.
struct Scheduled {
    plugin: PluginConfig,
    interval: Duration,
    next: Instant,
}

fn schedule(config: &AgentConfig, metrics: &MetricsConfig, start: Instant) -> Vec<Scheduled> {
    metrics
        .plugins
        .iter()
        .map(|p| Scheduled {
            plugin: p.clone(),
            interval: Duration::from_secs(p.interval_s.unwrap_or(config.interval_s).max(1)),
            next: start,
        })
        .collect()
}

/// The running agent's collection side.
struct Collection {
    collector: Collector,
    rules: DimensionRules,
    telemetry: Arc<Telemetry>,
}

impl Collection {
    /// Collects one plugin and returns its datums.
    fn collect(&mut self, scheduled: &Scheduled, global_interval: u64) -> Vec<Datum> {
        let plugin = &scheduled.plugin;
        match self.collector.collect(plugin) {
            Ok(samples) => {
                let interval = plugin.interval_s.unwrap_or(global_interval);
                let out = datums(plugin, &samples, &self.rules, interval, now_ms());
                self.telemetry
                    .datums_collected
                    .fetch_add(out.len() as u64, Ordering::Relaxed);
                out
            }
            Err(e) => {
                self.telemetry.scrape_error(plugin.plugin.name());
                log(format_args!("{} scrape failed: {e}", plugin.plugin.name()));
                Vec::new()
            }
        }
    }
}

/// A request to send everything buffered; `done` answers when it is through.
struct Flush {
    done: Option<oneshot::Sender<()>>,
}

/// Runs the agent until SIGTERM/SIGINT (or, with `once`, one collection).
pub async fn run(options: Options) -> Result<Outcome, AgentError> {
    let config = load_config(&options.config_path)?;
    if config.metrics.is_none() && config.logs.as_ref().is_none_or(|l| l.files.is_empty()) {
        return Err(AgentError::Startup(
            "the config has no metrics and no log files: nothing to do".into(),
        ));
    }
    let mut metrics = config.metrics.clone().unwrap_or_else(no_metrics);
    let started = Instant::now();
    if let Some(user) = config.run_as_user.as_deref().filter(|u| *u != "root") {
        if rustix::process::geteuid().is_root() {
            // skywatch does not switch users itself: the service manager starts it as one.
            log(format_args!(
                "running as root although run_as_user = {user:?}: start it as that user (the systemd unit's User=)"
            ));
        }
    }
    let facts = match instance::discover().await {
        Ok(facts) => {
            log(format_args!(
                "on EC2 instance {} ({})",
                facts.instance_id, facts.region
            ));
            Some(facts)
        }
        Err(why) => {
            log(format_args!("not using instance metadata: {why}"));
            None
        }
    };
    resolve_plugin_dimensions(&mut metrics, facts.as_ref());
    let state_dir = state_dir::resolve(options.state_dir.clone(), config.state_dir.clone());
    let emf_wanted = config
        .logs
        .as_ref()
        .is_some_and(|l| l.files.iter().any(|f| f.emf));
    let output = choose_output(&config, &metrics, facts.as_ref(), &state_dir, emf_wanted).await?;
    let telemetry = Arc::new(Telemetry::default());
    if let Some(addr) = &config.health_listen {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| AgentError::Startup(format!("cannot listen on {addr}: {e}")))?;
        log(format_args!("health on http://{addr}/healthz and /metrics"));
        tokio::spawn(health::serve(listener, Arc::clone(&telemetry)));
    }
    let logs = match &config.logs {
        Some(logs_config) if !logs_config.files.is_empty() => Some(
            logs::start(logs::LogsStart {
                config: &config,
                logs: logs_config,
                facts: facts.as_ref(),
                state_dir: &state_dir,
                telemetry: Arc::clone(&telemetry),
                once: options.once,
                stop_timeout: if options.once {
                    ONCE_FLUSH_TIMEOUT
                } else {
                    STOP_FLUSH_TIMEOUT
                },
            })
            .await?,
        ),
        _ => None,
    };
    let mut collection = Collection {
        collector: Collector::new(options.proc_root.clone()),
        rules: dimension_rules(&config, &metrics, facts.as_ref()),
        telemetry: Arc::clone(&telemetry),
    };
    if !metrics.plugins.is_empty() {
        log(format_args!(
            "collecting {} every {} s from {} (started in {} ms)",
            metrics
                .plugins
                .iter()
                .map(|p| p.plugin.name())
                .collect::<Vec<_>>()
                .join(", "),
            config.interval_s,
            collection.collector.source(),
            started.elapsed().as_millis()
        ));
    }

    let buffer = Arc::new(Mutex::new(MetricBuffer::new(BUFFER_CAPACITY, &metrics.namespace)));
    let (deadline_tx, deadline_rx) = watch::channel::<Option<Instant>>(None);
    let (flush_tx, flush_rx) = mpsc::channel::<Flush>(4);
    let (store, sender) = match output {
        Output::CloudWatch(sink) => {
            let task = tokio::spawn(send_loop(
                sink,
                Arc::clone(&buffer),
                Arc::clone(&telemetry),
                flush_rx,
                deadline_rx,
            ));
            (None, Some(task))
        }
        Output::Local(store) => {
            if let Err(e) = store.prune(now_ms()) {
                log(format_args!("cannot prune the local store: {e}"));
            }
            (Some(store), None)
        }
        Output::Nowhere => (None, None),
    };
    // The namespace is fixed for the run (a reload does not change it).
    let namespace = metrics.namespace.clone();
    let deliver = |namespace: &str, datums: Vec<Datum>, telemetry: &Telemetry| match &store {
        Some(store) => match store.append(namespace, &datums) {
            Ok(()) => {
                telemetry
                    .datums_stored
                    .fetch_add(datums.len() as u64, Ordering::Relaxed);
            }
            Err(e) => {
                telemetry.dropped(DropReason::StoreError, datums.len() as u64);
                log(format_args!("cannot write the local store: {e}"));
            }
        },
        None => {
            if let Ok(mut b) = buffer.lock() {
                for d in datums {
                    b.push_in(namespace, d);
                }
                telemetry.queue_depth.store(b.len() as u64, Ordering::Relaxed);
                telemetry.set_dropped(DropReason::QueueFull, b.dropped());
                telemetry.set_dropped(DropReason::InvalidValue, b.rejected_values());
            }
        }
    };

    if options.once {
        let mut plugins = schedule(&config, &metrics, Instant::now());
        for p in &plugins {
            let out = collection.collect(p, config.interval_s);
            deliver(&namespace, out, &telemetry);
        }
        // Rates need a second reading.
        plugins.retain(|p| matches!(p.plugin.plugin, Plugin::Cpu | Plugin::Diskio | Plugin::Net));
        if !plugins.is_empty() {
            tokio::time::sleep(ONCE_RATE_GAP).await;
            for p in &plugins {
                let out = collection.collect(p, config.interval_s);
                deliver(&namespace, out, &telemetry);
            }
        }
        // Logs first: their EMF documents become metrics before the metrics are flushed.
        if let Some(mut logs) = logs {
            let mut emf = logs.emf.take();
            logs.drain().await;
            if let Some(rx) = &mut emf {
                while let Ok(docs) = rx.try_recv() {
                    for (namespace, datums) in emf_datums(docs, &telemetry) {
                        deliver(&namespace, datums, &telemetry);
                    }
                }
            }
        }
        let _ = deadline_tx.send(Some(Instant::now() + ONCE_FLUSH_TIMEOUT));
        finish(flush_tx, sender, &buffer, &telemetry).await;
        return Ok(outcome(&telemetry));
    }

    let mut sigterm = signal(SignalKind::terminate()).map_err(|e| AgentError::Startup(e.to_string()))?;
    let mut sigint = signal(SignalKind::interrupt()).map_err(|e| AgentError::Startup(e.to_string()))?;
    let mut sighup = signal(SignalKind::hangup()).map_err(|e| AgentError::Startup(e.to_string()))?;
    let mut config = config;
    let mut plugins = schedule(&config, &metrics, Instant::now());
    let mut flush_every = Duration::from_secs(metrics.force_flush_interval_s.max(1));
    let mut next_flush = Instant::now() + flush_every;
    let watchdog = systemd::watchdog_interval();
    let mut next_ping = watchdog.map(|w| Instant::now() + w);
    let mut logs = logs;
    let mut emf = logs.as_mut().and_then(|l| l.emf.take());
    systemd::notify("READY=1");
    loop {
        let mut wake = plugins
            .iter()
            .map(|p| p.next)
            .min()
            .unwrap_or(next_flush)
            .min(next_flush);
        if let Some(ping) = next_ping {
            wake = wake.min(ping);
        }
        tokio::select! {
            () = tokio::time::sleep_until(wake.into()) => {}
            Some(docs) = next_emf(&mut emf) => {
                for (namespace, datums) in emf_datums(docs, &telemetry) {
                    deliver(&namespace, datums, &telemetry);
                }
                continue;
            }
            _ = sigterm.recv() => break,
            _ = sigint.recv() => break,
            _ = sighup.recv() => {
                systemd::notify("RELOADING=1");
                match reload(&options, &config, facts.as_ref()) {
                    Some((new_config, new_metrics, rules)) => {
                        // `new_metrics` is also `new_config.metrics`.
                        collection.rules = rules;
                        plugins = schedule(&new_config, &new_metrics, Instant::now());
                        flush_every = Duration::from_secs(new_metrics.force_flush_interval_s.max(1));
                        next_flush = Instant::now() + flush_every;
                        config = new_config;
                    }
                    None => log("keeping the running config"),
                }
                systemd::notify("READY=1");
                continue;
            }
        }
        let now = Instant::now();
        if let (Some(ping), Some(every)) = (next_ping, watchdog) {
            if now >= ping {
                systemd::notify("WATCHDOG=1");
                next_ping = Some(now + every);
            }
        }
        for p in &mut plugins {
            if p.next <= now {
                let out = collection.collect(p, config.interval_s);
                deliver(&namespace, out, &telemetry);
                p.next += p.interval;
                if p.next <= now {
                    // Fell behind (a suspended machine): skip the missed runs.
                    p.next = now + p.interval;
                }
            }
        }
        let queued = buffer.lock().map_or(0, |b| b.len());
        if now >= next_flush || queued >= MAX_DATUMS_PER_PUT {
            if sender.is_some() {
                let _ = flush_tx.try_send(Flush { done: None });
            }
            if let Some(store) = &store {
                if let Err(e) = store.prune(now_ms()) {
                    log(format_args!("cannot prune the local store: {e}"));
                }
            }
            next_flush = now + flush_every;
        }
    }
    systemd::notify("STOPPING=1");
    log("stopping: sending what is buffered");
    let _ = deadline_tx.send(Some(Instant::now() + STOP_FLUSH_TIMEOUT));
    let logs_done = async {
        if let Some(logs) = logs {
            logs.stop(STOP_FLUSH_TIMEOUT).await;
        }
    };
    tokio::join!(finish(flush_tx, sender, &buffer, &telemetry), logs_done);
    let result = outcome(&telemetry);
    log(format_args!(
        "stopped: {} datums collected, {} sent, {} stored, {} dropped",
        result.collected, result.sent, result.stored, result.dropped
    ));
    Ok(result)
}

/// Reads the config again for SIGHUP: the new config and its dimension rules, or `None` (and
/// every reason logged) when it cannot be used.
fn reload(
    options: &Options,
    running: &AgentConfig,
    facts: Option<&InstanceFacts>,
) -> Option<(AgentConfig, MetricsConfig, DimensionRules)> {
    let config = match load_config(&options.config_path) {
        Ok(config) => config,
        Err(e) => {
            log(format_args!("reload refused: {e}"));
            return None;
        }
    };
    let mut metrics = config.metrics.clone().unwrap_or_else(no_metrics);
    if config.logs != running.logs || config.logs_output != running.logs_output {
        log("log file changes take effect at the next start");
    }
    resolve_plugin_dimensions(&mut metrics, facts);
    let running_metrics = running.metrics.as_ref();
    if config.output != running.output
        || config.region != running.region
        || running_metrics.map(|m| (&m.namespace, &m.endpoint_override))
            != Some((&metrics.namespace, &metrics.endpoint_override))
    {
        log("outputs, region, namespace and endpoint changes take effect at the next start");
    }
    let rules = dimension_rules(&config, &metrics, facts);
    log(format_args!("reloaded {}", options.config_path.display()));
    Some((config, metrics, rules))
}

/// Sends the last flush and waits for it (the sender keeps to the deadline already set), then
/// counts what is left as dropped at shutdown.
async fn finish(
    flush_tx: mpsc::Sender<Flush>,
    sender: Option<tokio::task::JoinHandle<()>>,
    buffer: &Mutex<MetricBuffer>,
    telemetry: &Telemetry,
) {
    if let Some(task) = sender {
        let (done_tx, done_rx) = oneshot::channel();
        if flush_tx.send(Flush { done: Some(done_tx) }).await.is_ok() {
            let _ = done_rx.await;
        }
        drop(flush_tx);
        let _ = task.await;
    }
    if let Ok(mut b) = buffer.lock() {
        let left: u64 = b
            .take_requests()
            .iter()
            .flatten()
            .map(OutDatum::sample_count)
            .sum();
        telemetry.dropped(DropReason::Shutdown, left);
    }
}

/// The next EMF documents from the log reader (never, without one).
async fn next_emf(
    rx: &mut Option<tokio::sync::mpsc::UnboundedReceiver<Vec<(i64, String)>>>,
) -> Option<Vec<(i64, String)>> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// EMF documents (event time, message) as datums by namespace; invalid documents are counted
/// and the first of each power of two logged.
fn emf_datums(docs: Vec<(i64, String)>, telemetry: &Telemetry) -> Vec<(String, Vec<Datum>)> {
    let mut by_namespace: Vec<(String, Vec<Datum>)> = Vec::new();
    for (event_ms, message) in docs {
        match emf::parse(&message, event_ms) {
            Ok(datums) => {
                telemetry.log_events("emf_documents", 1);
                telemetry
                    .datums_collected
                    .fetch_add(datums.len() as u64, Ordering::Relaxed);
                for d in datums {
                    match by_namespace.iter_mut().find(|(ns, _)| *ns == d.namespace) {
                        Some((_, list)) => list.push(d.datum),
                        None => by_namespace.push((d.namespace, vec![d.datum])),
                    }
                }
            }
            Err(e) => {
                telemetry.log_events("emf_invalid", 1);
                let n = telemetry.log_event_count("emf_invalid");
                if n.is_power_of_two() {
                    log(format_args!("not a valid EMF document ({e}); {n} so far"));
                }
            }
        }
    }
    by_namespace
}

/// The configuration of an agent that collects no metrics.
fn no_metrics() -> MetricsConfig {
    MetricsConfig {
        namespace: config::DEFAULT_NAMESPACE.to_string(),
        append_dimensions: std::collections::BTreeMap::new(),
        aggregation_dimensions: Vec::new(),
        force_flush_interval_s: config::DEFAULT_FORCE_FLUSH_S,
        endpoint_override: None,
        plugins: Vec::new(),
    }
}

fn outcome(telemetry: &Telemetry) -> Outcome {
    Outcome {
        collected: telemetry.datums_collected.load(Ordering::Relaxed),
        sent: telemetry.datums_sent.load(Ordering::Relaxed),
        stored: telemetry.datums_stored.load(Ordering::Relaxed),
        dropped: telemetry.dropped_total(),
    }
}

/// The sending task: on each flush, takes everything buffered and sends it request by request,
/// retrying each until it is accepted, rejected, or the stop deadline passes.
async fn send_loop(
    sink: CloudWatchSink,
    buffer: Arc<Mutex<MetricBuffer>>,
    telemetry: Arc<Telemetry>,
    mut flushes: mpsc::Receiver<Flush>,
    deadline: watch::Receiver<Option<Instant>>,
) {
    while let Some(flush) = flushes.recv().await {
        let requests = match buffer.lock() {
            Ok(mut b) => {
                let requests = b.take_requests();
                telemetry.queue_depth.store(0, Ordering::Relaxed);
                requests
            }
            Err(_) => Vec::new(),
        };
        for request in requests {
            send_one(&sink, &request, &telemetry, &deadline).await;
        }
        if let Some(done) = flush.done {
            let _ = done.send(());
        }
    }
}

async fn send_one(
    sink: &CloudWatchSink,
    request: &[OutDatum],
    telemetry: &Telemetry,
    deadline: &watch::Receiver<Option<Instant>>,
) {
    let samples: u64 = request.iter().map(OutDatum::sample_count).sum();
    let mut attempt: u32 = 0;
    loop {
        match sink.put(request).await {
            Ok(()) => {
                telemetry.datums_sent.fetch_add(samples, Ordering::Relaxed);
                telemetry.requests_sent.fetch_add(1, Ordering::Relaxed);
                if attempt > 0 {
                    log(format_args!("PutMetricData went through after {attempt} retries"));
                }
                return;
            }
            Err(SendError::Rejected { kind, message }) => {
                telemetry.api_error(&kind);
                telemetry.dropped(DropReason::Rejected, samples);
                log(format_args!(
                    "PutMetricData rejected ({kind}): {message}; {samples} datums dropped"
                ));
                return;
            }
            Err(e @ SendError::Retry { .. }) => {
                telemetry.api_error(e.kind());
                if attempt == 0 || attempt.is_power_of_two() {
                    log(format_args!("PutMetricData failed, retrying: {e}"));
                }
                let delay = RETRY_BACKOFF.delay(attempt);
                attempt = attempt.saturating_add(1);
                let stop_at = *deadline.borrow();
                if let Some(stop_at) = stop_at {
                    if Instant::now() + delay > stop_at {
                        telemetry.dropped(DropReason::Shutdown, samples);
                        log(format_args!("stop timeout: {samples} datums not sent"));
                        return;
                    }
                }
                let mut deadline = deadline.clone();
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    // A stop deadline set while waiting is checked at once.
                    _ = deadline.changed() => {}
                }
            }
        }
    }
}

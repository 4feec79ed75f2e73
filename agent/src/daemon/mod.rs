//! The agent daemon: collect each plugin on its interval, turn samples into datums and hand them
//! to the metric output; ship log files; turn EMF lines into metrics.
//!
//! Start-up ([`Agent::start`]) reads the config, asks the instance metadata, chooses the outputs,
//! opens the health listener and starts log shipping. Then either `--once` ([`Agent::once`]:
//! collect, drain the logs, flush, exit) or the long run as a part of a
//! [`skywatch_runtime::Host`] ([`Agent::serve`]): SIGTERM/SIGINT stop it — the log reader first
//! (its EMF documents still become metrics), then the metrics are flushed, all within the stop
//! timeout; SIGHUP reloads the config (a config with errors is refused and the running one
//! kept). The host speaks systemd's protocol (READY/RELOADING/STOPPING, watchdog).
//!
//! With a `traces` section the trace collector runs as a second part of the same host: its
//! listeners are bound at start (a port in use fails the start), its store is
//! `<state dir>/traces`, its counters are on the health listener's /metrics, and it reads its
//! settings at start only.

mod auto_output;
pub use auto_output::OutputStatus;
mod collection;
pub use collection::hostname;
mod logs;
mod metric_output;
mod reload;

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use skywatch_aws::InstanceFacts;
use skywatch_runtime::queue::{BoundedQueue, WhenFull};
use skywatch_runtime::{shutdown_pair, Host, HostEvent, Journal, PartContext, Signals};
use skywatch_telemetry::Registry;

use self::collection::{emf_datums, no_metrics, resolve_plugin_dimensions, schedule, Collection, Scheduled};
use self::logs::LogsRunning;
use self::metric_output::MetricOutput;
use crate::config::{AgentConfig, AlarmsConfig, MetricsConfig, Plugin, Problem};
use crate::logs::shipper::ShipperReport;
use crate::metrics::collect::Collector;
use crate::metrics::emf_listener::{self, Listen};
use crate::metrics::{collectd, statsd};
use crate::telemetry::LogOutcome;
use crate::telemetry::Telemetry;
use skywatch_aws::limits::MAX_DATUMS_PER_PUT;
use skywatch_dashboards::alarms::daemon::{self as alarms_daemon, AlarmsPart};

/// The agent's log lines: `skywatch agent: …`.
pub const JOURNAL: Journal = Journal::new("agent");

/// How long a stopping agent keeps trying to send what it has.
const STOP_FLUSH_TIMEOUT: Duration = Duration::from_secs(20);
/// How long the stopping trace collector keeps sending to X-Ray (as `skywatch collector`).
const COLLECTOR_STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the alarms part may take at a stop to publish what waits (the rest stays in its
/// outbox for the next start).
const ALARMS_STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// Minutes of the collector's service metrics that may wait for the agent's loop.
const TRACE_METRICS_BATCHES: usize = 64;
/// How long `--once` keeps trying, unless told otherwise.
pub const ONCE_FLUSH_TIMEOUT: Duration = Duration::from_secs(30);
/// Between the two readings `--once` takes for rates (cpu usage, diskio, net).
const ONCE_RATE_GAP: Duration = Duration::from_secs(1);

/// EMF documents (event time, message) read from log files or the EMF listener, on their way
/// to the metrics side.
pub(crate) type EmfQueue = BoundedQueue<Vec<(i64, String)>>;

/// Batches of EMF documents the log reader may get ahead of the metrics side (a batch is a
/// round's EMF lines of one file); then it waits.
const EMF_FILE_BATCHES: usize = 64;
/// Documents the EMF listener may get ahead of the metrics side; then it drops (and counts).
const EMF_LISTENED_DOCUMENTS: usize = 10_000;

/// How the daemon was started.
#[derive(Debug, Clone)]
pub struct Options {
    pub config_path: PathBuf,
    /// Collect once, publish, exit.
    pub once: bool,
    /// With `once`: how long to keep trying to deliver.
    pub once_timeout: Duration,
    pub state_dir: Option<PathBuf>,
    /// Where procfs is (`/proc`; tests point it at fixtures).
    pub proc_root: PathBuf,
    /// Called once everything has started (listeners bound, outputs chosen) and before the
    /// long run begins, with one line per output (`metrics: local store …`): `skywatch up`
    /// says where to look then. Not called with `once`.
    pub on_ready: Option<ReadyHook>,
    /// The lock on the state directory, when the caller already holds it (`skywatch up` takes
    /// it before it writes its config there); else the agent takes it at start.
    pub held_lock: Option<Arc<skywatch_runtime::StateLock>>,
}

/// What [`Options::on_ready`] calls.
#[derive(Clone)]
pub struct ReadyHook(pub Arc<dyn Fn(&str) + Send + Sync>);

impl std::fmt::Debug for ReadyHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReadyHook")
    }
}

/// Why the agent could not start.
#[derive(Debug)]
pub enum AgentError {
    /// The config has errors (each with its key path).
    Config(Vec<Problem>),
    Startup(String),
    /// A running part failed (it is named).
    Failed(String),
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
            AgentError::Startup(why) | AgentError::Failed(why) => write!(f, "{why}"),
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
    /// Log events read but not delivered by the end (read again at the next start).
    pub log_events_undelivered: u64,
    /// The log reader failed unexpectedly.
    pub log_reader_failed: bool,
    /// journald entries whose journalctl could not be run or failed (`--once`).
    pub journals_failed: u64,
}

/// Runs the agent until SIGTERM/SIGINT (or, with `once`, one collection).
pub async fn run(options: Options) -> Result<Outcome, AgentError> {
    let registry = Registry::new();
    let telemetry = Arc::new(Telemetry::new(&registry));
    let (health_stop, health_signal) = shutdown_pair();
    // Boxed: starting holds every part's set-up at once.
    let mut agent = Box::pin(Agent::start(
        options,
        Arc::clone(&telemetry),
        registry,
        health_signal,
    ))
    .await?;
    if agent.options.once {
        let logs = agent.once().await;
        health_stop.stop(Duration::ZERO);
        let result = Outcome {
            log_events_undelivered: logs.undelivered,
            log_reader_failed: logs.failed,
            journals_failed: logs.journals_failed,
            ..outcome(&telemetry)
        };
        JOURNAL.log(format_args!("done: {}", stop_report(&result, &telemetry)));
        return Ok(result);
    }
    let signals =
        Signals::new().map_err(|e| AgentError::Startup(format!("cannot listen for signals: {e}")))?;
    let mut host = Host::new(JOURNAL);
    let traces = agent.traces.take();
    let alarms = agent.alarms.take();
    // Until every part (the collector and the alarms too) has stopped.
    let _state_lock = agent.state_lock.take();
    if let Some(ready) = &agent.options.on_ready {
        (ready.0)(&agent.status.lines());
    }
    host.start(JOURNAL, STOP_FLUSH_TIMEOUT, move |ctx| agent.serve(ctx));
    if let Some(part) = alarms {
        host.start(alarms_daemon::JOURNAL, ALARMS_STOP_TIMEOUT, move |ctx| {
            part.serve(ctx)
        });
    }
    if let Some(collector) = traces {
        host.start(
            skywatch_collector::part::journal(),
            COLLECTOR_STOP_TIMEOUT,
            move |ctx| collector.serve(ctx),
        );
    }
    let errors = host.run(signals).await;
    health_stop.stop(Duration::ZERO);
    if errors.is_empty() {
        return Ok(outcome(&telemetry));
    }
    let errors: Vec<String> = errors.iter().map(|(part, e)| format!("{part}: {e}")).collect();
    // A part that failed exits non-zero, so systemd restarts the service.
    Err(AgentError::Failed(errors.join("; ")))
}

/// The started agent.
struct Agent {
    options: Options,
    config: AgentConfig,
    metrics: MetricsConfig,
    facts: Option<InstanceFacts>,
    telemetry: Arc<Telemetry>,
    collection: Collection,
    output: MetricOutput,
    logs: Option<LogsRunning>,
    /// EMF documents from log files and the listener.
    emf: Option<Arc<EmfQueue>>,
    /// EMF documents from the listener (a queue of their own: its producers drop, the
    /// reader's waits, and a file batch may be megabytes).
    emf_listened: Option<Arc<EmfQueue>>,
    /// The EMF and statsd listeners' tasks.
    listeners: Vec<tokio::task::JoinHandle<()>>,
    /// The trace collector, bound, until the host starts it.
    traces: Option<skywatch_collector::part::Collector>,
    /// Which output each kind of data goes to.
    status: OutputStatus,
    /// No second agent on the same state directory: `run` holds it until every part has stopped.
    state_lock: Option<Arc<skywatch_runtime::StateLock>>,
    /// The alarm evaluator, until the host starts it.
    alarms: Option<AlarmsPart>,
    /// The collector's per-minute service metrics, to deliver with the agent's own.
    trace_metrics: tokio::sync::mpsc::Receiver<(String, Vec<crate::metrics::datum::Datum>)>,
}

impl Agent {
    /// Reads the config and starts everything but the collection schedule.
    async fn start(
        options: Options,
        telemetry: Arc<Telemetry>,
        registry: Registry,
        health_shutdown: skywatch_runtime::ShutdownSignal,
    ) -> Result<Agent, AgentError> {
        let config = reload::load_config(&options.config_path)?;
        let mut metrics = config.metrics.clone().unwrap_or_else(no_metrics);
        let started = Instant::now();
        if let Some(user) = config.run_as_user.as_deref().filter(|u| *u != "root") {
            if rustix::process::geteuid().is_root() {
                // skywatch does not switch users itself: the service manager starts it as one.
                JOURNAL.log(format_args!(
                    "running as root although run_as_user = {user:?}: start it as that user (the systemd unit's User=)"
                ));
            }
        }
        let facts = match skywatch_aws::instance::discover().await {
            Ok(facts) => {
                JOURNAL.log(format_args!(
                    "on EC2 instance {} ({})",
                    facts.instance_id, facts.region
                ));
                Some(facts)
            }
            Err(why) => {
                JOURNAL.log(format_args!("not using instance metadata: {why}"));
                None
            }
        };
        resolve_plugin_dimensions(&mut metrics, facts.as_ref());
        let state_dir =
            skywatch_runtime::state_dir::resolve(options.state_dir.clone(), config.state_dir.clone());
        // Before anything reads or writes the directory: one agent per state directory.
        let state_lock = match &options.held_lock {
            Some(lock) => Arc::clone(lock),
            None => Arc::new(skywatch_runtime::StateLock::acquire(&state_dir).map_err(AgentError::Startup)?),
        };
        if let Some(why) = &state_lock.not_locked {
            JOURNAL.log(format_args!(
                "warning: the state directory is not locked ({why}): make sure no other agent uses it"
            ));
        }
        let emf_files = config
            .logs
            .as_ref()
            .is_some_and(|l| l.files.iter().any(|f| f.emf));
        let emf_listen: Vec<Listen> = config
            .logs
            .as_ref()
            .map(|l| l.emf_listen.iter().filter_map(|a| Listen::parse(a)).collect())
            .unwrap_or_default();
        let emf_wanted = emf_files || !emf_listen.is_empty();
        let emf = emf_files.then(|| Arc::new(EmfQueue::new(EMF_FILE_BATCHES, WhenFull::DropNewest)));
        let emf_listened = (!emf_listen.is_empty() && !options.once)
            .then(|| Arc::new(EmfQueue::new(EMF_LISTENED_DOCUMENTS, WhenFull::DropNewest)));
        let traces = match &config.traces {
            Some(_) if options.once => {
                JOURNAL.log("--once: the trace collector is not started");
                None
            }
            Some(traces) => {
                Some(bind_collector(&traces.for_run(&config), &state_dir, registry.clone()).await?)
            }
            None => None,
        };
        // The collector's per-service metrics go where the agent's go (and its alarms see them).
        let (trace_metrics_tx, trace_metrics) = tokio::sync::mpsc::channel(TRACE_METRICS_BATCHES);
        let mut traces = traces;
        if let Some(collector) = &mut traces {
            collector.send_metrics_to(trace_metrics_tx);
        }
        let alarms = match &config.alarms {
            Some(_) if options.once => {
                JOURNAL.log("--once: alarm rules are evaluated by the running agent, not with --once");
                None
            }
            Some(alarms) => Some(start_alarms(alarms, &config, facts.as_ref(), &state_dir, &registry).await?),
            None => None,
        };
        let status = OutputStatus::default();
        let mut output = MetricOutput::open(
            &config,
            &metrics,
            facts.as_ref().map(|f| f.region.clone()),
            &state_dir,
            emf_wanted,
            Arc::clone(&telemetry),
            status.clone(),
        )
        .await?;
        if let Some((_, window)) = &alarms {
            output.tap(window.clone());
        }
        if let Some(addr) = &config.health_listen {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|e| AgentError::Startup(format!("cannot listen on {addr}: {e}")))?;
            JOURNAL.log(format_args!("health on http://{addr}/healthz and /metrics"));
            // /healthz says which output each kind of data goes to, then `ok`.
            let health = status.clone();
            let router = skywatch_http::Router::new(registry).route(
                skywatch_http::Method::GET,
                "/healthz",
                move |_| {
                    let body = format!("{}ok\n", health.lines());
                    async move { skywatch_http::text(skywatch_http::StatusCode::OK, body) }
                },
            );
            tokio::spawn(skywatch_http::serve(listener, router, health_shutdown));
        }
        let logs = match &config.logs {
            Some(logs_config) if !logs_config.files.is_empty() || !logs_config.journald.is_empty() => Some(
                logs::start(logs::LogsStart {
                    config: &config,
                    logs: logs_config,
                    facts: facts.as_ref(),
                    state_dir: &state_dir,
                    telemetry: Arc::clone(&telemetry),
                    status: status.clone(),
                    emf: emf.clone(),
                    once: options.once,
                    stop_timeout: if options.once {
                        options.once_timeout
                    } else {
                        STOP_FLUSH_TIMEOUT
                    },
                })
                .await?,
            ),
            _ => None,
        };
        let emf_listener = match (&emf_listened, options.once) {
            (Some(queue), false) => {
                emf_listener::start(&emf_listen, Arc::clone(queue), Arc::clone(&telemetry))
                    .await
                    .map_err(AgentError::Startup)?
            }
            (_, true) if !emf_listen.is_empty() => {
                JOURNAL.log("--once: the EMF listener is not started");
                Vec::new()
            }
            _ => Vec::new(),
        };
        let mut collector = Collector::new(options.proc_root.clone());
        let mut udp_listeners = Vec::new();
        for plugin in &metrics.plugins {
            if options.once && (plugin.statsd.is_some() || plugin.collectd.is_some()) {
                JOURNAL.log(format_args!(
                    "--once: the {} listener is not started",
                    plugin.plugin.name()
                ));
                continue;
            }
            if let Some(settings) = &plugin.statsd {
                let aggregates = statsd::Shared::default();
                collector.attach_statsd(&settings.address, Arc::clone(&aggregates));
                let separator = settings.separator.clone();
                let take = move |datagram: &[u8]| statsd::take_datagram(&aggregates, datagram, &separator);
                udp_listeners
                    .push(spawn_udp("statsd", &settings.address, Arc::clone(&telemetry), take).await?);
            }
            if let Some(settings) = &plugin.collectd {
                let mut types = collectd::TypesDb::default();
                for file in &settings.typesdb {
                    match std::fs::read_to_string(file) {
                        Ok(text) => types.extend(collectd::read_types_db(&text)),
                        Err(e) => JOURNAL.log(format_args!(
                            "collectd: cannot read {file} ({e}): multi-value types are named by number"
                        )),
                    }
                }
                let latest = collectd::Shared::default();
                collector.attach_collectd(&settings.address, Arc::clone(&latest));
                let prefix = settings.name_prefix.clone();
                let take = move |packet: &[u8]| collectd::take_packet(&latest, packet, &prefix, &types);
                udp_listeners
                    .push(spawn_udp("collectd", &settings.address, Arc::clone(&telemetry), take).await?);
            }
        }
        let collection = Collection {
            collector,
            rules: collection::dimension_rules(&config, &metrics, facts.as_ref()),
            telemetry: Arc::clone(&telemetry),
        };
        if !metrics.plugins.is_empty() {
            JOURNAL.log(format_args!(
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
        Ok(Agent {
            options,
            config,
            metrics,
            facts,
            telemetry,
            collection,
            output,
            logs,
            emf,
            emf_listened,
            listeners: emf_listener.into_iter().chain(udp_listeners).collect(),
            traces,
            status,
            state_lock: Some(state_lock),
            trace_metrics,
            alarms: alarms.map(|(part, _)| part),
        })
    }

    fn collect(&mut self, plugin: &Scheduled) {
        let datums = self.collection.collect(plugin, self.config.interval_s);
        self.output.deliver(&self.metrics.namespace, datums);
    }

    fn take_emf(&self, docs: Vec<(i64, String)>) {
        take_emf(docs, &self.output, &self.telemetry);
    }

    /// `--once`: collect every plugin (twice for rates), drain the log files, flush.
    async fn once(mut self) -> ShipperReport {
        let mut plugins = schedule(&self.config, &self.metrics, Instant::now());
        for p in &plugins {
            self.collect(p);
        }
        // Rates need a second reading.
        plugins.retain(|p| matches!(p.plugin.plugin, Plugin::Cpu | Plugin::Diskio | Plugin::Net));
        if !plugins.is_empty() {
            tokio::time::sleep(ONCE_RATE_GAP).await;
            for p in &plugins {
                self.collect(p);
            }
        }
        // Logs first: their EMF documents become metrics before the metrics are flushed.
        let report = wind_down_logs(
            self.logs.take(),
            None,
            self.emf.as_deref(),
            self.emf_listened.as_deref(),
            &self.output,
            &self.telemetry,
        )
        .await;
        self.output
            .finish(Instant::now() + self.options.once_timeout)
            .await;
        report
    }

    /// The long run, as a part of the host: until the shutdown signal says stop.
    async fn serve(mut self, mut ctx: PartContext) -> Result<(), String> {
        let mut plugins = schedule(&self.config, &self.metrics, Instant::now());
        let mut flush_every = Duration::from_secs(self.metrics.force_flush_interval_s.max(1));
        let mut next_flush = Instant::now() + flush_every;
        let emf = self.emf.clone();
        let emf_listened = self.emf_listened.clone();
        let mut stopping = ctx.shutdown.clone();
        loop {
            // Alive: the host pings systemd's watchdog only while every part beats.
            ctx.liveness.beat();
            let mut wake = plugins
                .iter()
                .map(|p| p.next)
                .min()
                .unwrap_or(next_flush)
                .min(next_flush);
            if let Some(every) = ctx.liveness.every() {
                wake = wake.min(Instant::now() + every);
            }
            tokio::select! {
                () = tokio::time::sleep_until(wake.into()) => {}
                Some(docs) = next_emf(emf_listened.as_deref(), &self.telemetry) => {
                    self.take_emf(docs);
                    continue;
                }
                Some(docs) = next_emf(emf.as_deref(), &self.telemetry) => {
                    self.take_emf(docs);
                    continue;
                }
                Some((namespace, datums)) = self.trace_metrics.recv() => {
                    self.output.deliver(&namespace, datums);
                    continue;
                }
                () = stopping.stopping() => break,
                Some(HostEvent::Reload { done }) = ctx.events.recv() => {
                    match reload::reload(&self.options.config_path, &self.config, self.facts.as_ref()) {
                        Some((config, mut metrics, rules)) => {
                            if self.output.is_nowhere() && !metrics.plugins.is_empty() {
                                JOURNAL.log("metrics plugins added to a logs-only run take effect at the next start");
                                metrics.plugins.clear();
                            }
                            self.collection.rules = rules;
                            plugins = schedule(&config, &metrics, Instant::now());
                            flush_every = Duration::from_secs(metrics.force_flush_interval_s.max(1));
                            next_flush = Instant::now() + flush_every;
                            // The namespace is fixed for the run (a reload does not change it).
                            self.metrics.plugins = metrics.plugins;
                            self.metrics.force_flush_interval_s = metrics.force_flush_interval_s;
                            self.config = config;
                        }
                        None => JOURNAL.log("keeping the running config"),
                    }
                    let _ = done.send(());
                    continue;
                }
            }
            let now = Instant::now();
            for p in &mut plugins {
                if p.next <= now {
                    self.collect(p);
                    p.next += p.interval;
                    if p.next <= now {
                        // Fell behind (a suspended machine): skip the missed runs.
                        p.next = now + p.interval;
                    }
                }
            }
            if now >= next_flush || self.output.queued() >= MAX_DATUMS_PER_PUT {
                self.output.upgrade_if_reachable();
                self.output.flush_soon();
                next_flush = now + flush_every;
            }
        }
        JOURNAL.log("stopping: sending what is buffered");
        let deadline = ctx
            .shutdown
            .deadline()
            .unwrap_or_else(|| Instant::now() + STOP_FLUSH_TIMEOUT);
        self.output.stop_by(deadline);
        // The buffered datums go out while the log reader winds down (as slow as its backend
        // may be); the EMF datums it hands over meanwhile go in the last flush. Producers
        // first: no more documents from the listener.
        for task in self.listeners.drain(..) {
            task.abort();
        }
        let logs = self.logs.take();
        let within = deadline.saturating_duration_since(Instant::now());
        let (logs, ()) = tokio::join!(
            wind_down_logs(
                logs,
                Some(within),
                self.emf.as_deref(),
                self.emf_listened.as_deref(),
                &self.output,
                &self.telemetry
            ),
            self.output.flush_and_wait()
        );
        let telemetry = Arc::clone(&self.telemetry);
        self.output.finish(deadline).await;
        let result = Outcome {
            log_events_undelivered: logs.undelivered,
            ..outcome(&telemetry)
        };
        JOURNAL.log(format_args!("stopped: {}", stop_report(&result, &telemetry)));
        Ok(())
    }
}

/// Reads the alarm rules and restores their states: the part that evaluates them, and the
/// window the metric output fills for it.
async fn start_alarms(
    alarms: &AlarmsConfig,
    config: &AgentConfig,
    facts: Option<&InstanceFacts>,
    state_dir: &std::path::Path,
    registry: &Registry,
) -> Result<(AlarmsPart, alarms_daemon::Window), AgentError> {
    let region = alarms
        .region
        .clone()
        .or_else(|| config.region.clone())
        .or_else(|| facts.map(|f| f.region.clone()))
        .unwrap_or_else(|| "us-east-1".to_string());
    let settings = skywatch_dashboards::alarms::Settings {
        region: region.clone(),
        account_id: alarms
            .account_id
            .clone()
            .unwrap_or_else(|| "123456789012".to_string()),
        ..skywatch_dashboards::alarms::Settings::default()
    };
    let setup = alarms_daemon::Setup {
        rule_files: alarms.rule_files.clone(),
        settings,
        publish: alarms.publish,
        dir: state_dir.join("alarms"),
        sdk: skywatch_aws::SdkSettings {
            region: Some(region),
            dual_stack: config.use_dualstack_endpoint,
            role_arn: config.role_arn.clone(),
            ..skywatch_aws::SdkSettings::default()
        },
    };
    let window = alarms_daemon::Window::new();
    let part = AlarmsPart::start(setup, window.clone(), registry)
        .await
        .map_err(|e| AgentError::Startup(format!("alarms: {e}")))?;
    Ok((part, window))
}

/// Opens the trace store (`<state dir>/traces` unless the config names one) and binds the
/// collector's listeners; its counters go to the agent's registry.
async fn bind_collector(
    config: &skywatch_collector::config::CollectorConfig,
    state_dir: &std::path::Path,
    registry: Registry,
) -> Result<skywatch_collector::part::Collector, AgentError> {
    let settings = config
        .resolve(state_dir)
        .map_err(|problems| AgentError::Startup(format!("traces: {}", problems.join("; "))))?;
    skywatch_collector::part::Collector::bind(settings, registry)
        .await
        .map_err(|e| AgentError::Startup(format!("traces: {e}")))
}

/// Binds a UDP listener of `plugin` on `address` and hands it each datagram; what `take`
/// returns is logged (and counted as the plugin's scrape error): a refusal worth a word.
async fn spawn_udp(
    plugin: &'static str,
    address: &str,
    telemetry: Arc<Telemetry>,
    mut take: impl FnMut(&[u8]) -> Option<String> + Send + 'static,
) -> Result<tokio::task::JoinHandle<()>, AgentError> {
    let socket = tokio::net::UdpSocket::bind(address)
        .await
        .map_err(|e| AgentError::Startup(format!("{plugin}: cannot listen on udp://{address}: {e}")))?;
    JOURNAL.log(format_args!("{plugin} listener on udp://{address}"));
    Ok(tokio::spawn(async move {
        let mut buf = vec![0u8; 65_536];
        loop {
            match socket.recv(&mut buf).await {
                Ok(n) => {
                    if let Some(note) = take(&buf[..n]) {
                        telemetry.scrape_error(plugin);
                        JOURNAL.log(note);
                    }
                }
                // A receive error is the socket's, not a datagram's: pause instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }))
}

/// EMF documents as datums, into the metric output.
fn take_emf(docs: Vec<(i64, String)>, output: &MetricOutput, telemetry: &Telemetry) {
    for (namespace, datums) in emf_datums(docs, telemetry) {
        output.deliver(&namespace, datums);
    }
}

/// Waits for the log reader to end (`stop`: within the timeout given; else once it has read
/// everything), turning its EMF documents into metrics meanwhile and after.
async fn wind_down_logs(
    logs: Option<LogsRunning>,
    stop: Option<Duration>,
    emf: Option<&EmfQueue>,
    listened: Option<&EmfQueue>,
    output: &MetricOutput,
    telemetry: &Telemetry,
) -> ShipperReport {
    let ended = async move {
        match (logs, stop) {
            (Some(logs), Some(timeout)) => logs.stop(timeout).await,
            (Some(logs), None) => logs.drain().await,
            (None, _) => ShipperReport::default(),
        }
    };
    tokio::pin!(ended);
    let report = loop {
        tokio::select! {
            report = &mut ended => break report,
            Some(docs) = next_emf(emf, telemetry) => take_emf(docs, output, telemetry),
        }
    };
    for queue in [emf, listened].into_iter().flatten() {
        queue.close();
        while let Some(docs) = queue.try_pop() {
            take_emf(docs, output, telemetry);
        }
    }
    telemetry.emf_queued.set(0);
    report
}

/// What a run did, for its last log line: datums, and log events when any were read.
fn stop_report(result: &Outcome, telemetry: &Telemetry) -> String {
    let mut text = format!(
        "{} datums collected, {} sent, {} stored, {} dropped",
        result.collected, result.sent, result.stored, result.dropped
    );
    let count = |outcome| telemetry.log_event_count(outcome);
    let read = count(LogOutcome::Read);
    if read > 0 || result.log_events_undelivered > 0 {
        let outside = count(LogOutcome::OutsideWindowOld) + count(LogOutcome::OutsideWindowNew);
        let refused = count(LogOutcome::TooOld)
            + count(LogOutcome::TooNew)
            + count(LogOutcome::Expired)
            + count(LogOutcome::Rejected);
        let _ = write!(
            text,
            "; log events: {read} read, {} sent, {} stored, {} filtered, {outside} outside CloudWatch's time window, {refused} refused, {} not delivered",
            count(LogOutcome::Sent),
            count(LogOutcome::Stored),
            count(LogOutcome::Filtered),
            result.log_events_undelivered
        );
    }
    text
}

/// The next EMF documents from the log reader (never, without one).
async fn next_emf(queue: Option<&EmfQueue>, telemetry: &Telemetry) -> Option<Vec<(i64, String)>> {
    match queue {
        Some(queue) => {
            let docs = queue.pop().await;
            telemetry.emf_queued.set(queue.len() as u64);
            docs
        }
        None => std::future::pending().await,
    }
}

fn outcome(telemetry: &Telemetry) -> Outcome {
    Outcome {
        collected: telemetry.datums_collected.get(),
        sent: telemetry.datums_sent.get(),
        stored: telemetry.datums_stored.get(),
        dropped: telemetry.dropped_total(),
        log_events_undelivered: 0,
        log_reader_failed: false,
        journals_failed: 0,
    }
}

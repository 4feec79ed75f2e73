//! Alarm rules evaluated continuously inside the agent, on the metrics it collects: the agent
//! hands every datum it delivers to a [`Window`] (whatever the metrics' destination), and the
//! alarms part evaluates the rules on it at CloudWatch's cadence. Each change of state is
//! logged, appended to `<state dir>/alarms/history.jsonl` (the `alarms eval` timeline's
//! shape), and its notification queued in the outbox (`<state dir>/alarms/outbox`) and
//! published to SNS. The states are saved (`<state dir>/alarms/state.json`), so a restart
//! neither repeats a notification nor forgets an alarm. On SIGHUP the rule files are read
//! again: an alarm whose rule is unchanged keeps everything; a changed one keeps its state
//! (as updating an alarm does in CloudWatch) and is evaluated at once.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use skywatch_runtime::{HostEvent, Journal, PartContext};
use skywatch_store::Datum;
use skywatch_telemetry::{Counter, Desc, Registry};

use super::evaluate::{Evaluator, Settings, Snapshot, TimelineEntry, Transition};
use super::model::{Alarm, Rules};
use super::notify::sns_notification;
use super::publish::{Counters, Notifier, Outbox, Outgoing};
use super::source::{MemorySource, SeriesKey};
use super::statistics::{Sample, SampleKind};
use super::MetricSource;

/// The part's name in the log.
pub const JOURNAL: Journal = Journal::new("alarms");

/// The longest the part sleeps: it beats the watchdog and retries deliveries at least this often.
const MAX_SLEEP: Duration = Duration::from_secs(5);

/// Where the window is saved, in the part's directory.
const WINDOW_FILE: &str = "window.json";

/// How often the window is saved while running.
const SAVE_WINDOW_EVERY: Duration = Duration::from_secs(60);

/// How long the window keeps datums beyond the longest evaluation range.
const WINDOW_MARGIN_MS: i64 = 120_000;

/// The datums the agent delivered lately, of the metrics the rules watch, for the evaluator.
/// It is saved (`window.json`) every minute and at a stop and read back at the next start, so
/// a restart does not look like missing data to the rules (the agent's own downtime does).
#[derive(Debug, Clone, Default)]
pub struct Window {
    samples: Arc<Mutex<MemorySource>>,
    /// The metrics the rules read; `None` until the rules are known.
    watched: Arc<Mutex<Option<HashSet<SeriesKey>>>>,
}

/// `state.json`: the alarms' states and the notifications of their latest changes that have
/// not reached the outbox yet. Written (atomically) before those notifications are queued, so a
/// crash between the two neither loses them (they are queued at the next start) nor repeats
/// the change (the state is already saved).
#[derive(Debug, Serialize, Deserialize)]
struct SavedState {
    #[serde(flatten)]
    snapshot: Snapshot,
    #[serde(default)]
    pending: Vec<Outgoing>,
}

/// One metric's samples in `window.json`.
#[derive(Debug, Serialize, Deserialize)]
struct SavedSeries {
    namespace: String,
    metric: String,
    dimensions: Vec<(String, String)>,
    samples: Vec<Sample>,
}

impl Window {
    pub fn new() -> Window {
        Window::default()
    }

    /// Keeps copies of those of `datums` (of `namespace`) that a rule watches.
    pub fn record(&self, namespace: &str, datums: &[Datum]) {
        let watched = self.watched.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(watched) = watched.as_ref() else {
            return;
        };
        let mut samples = self.samples.lock().unwrap_or_else(PoisonError::into_inner);
        for d in datums {
            let mut dimensions = d.dimensions.clone();
            dimensions.sort();
            let key = (namespace.to_string(), d.name.clone(), dimensions);
            if !watched.contains(&key) {
                continue;
            }
            let sample = Sample {
                timestamp_ms: d.timestamp_ms,
                unit: (!d.unit.is_empty()).then(|| d.unit.clone()),
                kind: SampleKind::Value(d.value),
            };
            samples.push(&key.0, &key.1, &key.2, sample);
        }
    }

    /// Watches the metrics `rules` read (and no others).
    fn watch(&self, rules: &Rules) {
        *self.watched.lock().unwrap_or_else(PoisonError::into_inner) = Some(watched_metrics(rules));
    }

    /// Whether any datum of `key` is held.
    fn has(&self, key: &SeriesKey) -> bool {
        self.samples
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .has_series(key)
    }

    fn prune(&self, before_ms: i64) {
        self.samples
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .prune(before_ms);
    }

    fn save(&self, path: &Path) -> std::io::Result<()> {
        let saved: Vec<SavedSeries> = self
            .samples
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .series()
            .map(|((namespace, metric, dimensions), samples)| SavedSeries {
                namespace: namespace.clone(),
                metric: metric.clone(),
                dimensions: dimensions.clone(),
                samples: samples.clone(),
            })
            .collect();
        let bytes = serde_json::to_vec(&saved).map_err(std::io::Error::other)?;
        skywatch_store::durable::write_atomically(path, &bytes)
    }

    /// Adds what `path` holds (samples of watched metrics newer than `since_ms`).
    fn load(&self, path: &Path, since_ms: i64) -> Result<usize, String> {
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e.to_string()),
        };
        let saved: Vec<SavedSeries> = serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
        let watched = self.watched.lock().unwrap_or_else(PoisonError::into_inner);
        let mut samples = self.samples.lock().unwrap_or_else(PoisonError::into_inner);
        let mut loaded = 0;
        for series in saved {
            let key = (series.namespace, series.metric, series.dimensions);
            if !watched.as_ref().is_some_and(|w| w.contains(&key)) {
                continue;
            }
            for sample in series.samples.into_iter().filter(|s| s.timestamp_ms >= since_ms) {
                samples.push(&key.0, &key.1, &key.2, sample);
                loaded += 1;
            }
        }
        Ok(loaded)
    }
}

/// The metrics the metric alarms of `rules` read: (namespace, name, dimensions sorted).
fn watched_metrics(rules: &Rules) -> HashSet<SeriesKey> {
    rules.alarms.iter().flat_map(metrics_of).collect()
}

/// The metrics one alarm reads (none for a composite).
fn metrics_of(alarm: &Alarm) -> Vec<SeriesKey> {
    let key = |namespace: &str, metric: &str, dimensions: &[super::model::Dimension]| {
        let mut dims: Vec<(String, String)> = dimensions
            .iter()
            .map(|d| (d.name.clone(), d.value.clone()))
            .collect();
        dims.sort();
        (namespace.to_string(), metric.to_string(), dims)
    };
    let Alarm::Metric(m) = alarm else {
        return Vec::new();
    };
    let mut keys = Vec::new();
    if let (Some(namespace), Some(metric)) = (&m.namespace, &m.metric_name) {
        keys.push(key(namespace, metric, &m.dimensions));
    }
    for stat in m.metrics.iter().filter_map(|q| q.metric_stat.as_ref()) {
        keys.push(key(&stat.namespace, &stat.metric_name, &stat.dimensions));
    }
    keys
}

impl MetricSource for Window {
    fn samples(
        &self,
        namespace: &str,
        metric_name: &str,
        dimensions: &[(String, String)],
        from_ms: i64,
        to_ms: i64,
    ) -> Vec<Sample> {
        self.samples
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .samples(namespace, metric_name, dimensions, from_ms, to_ms)
    }
}

/// How the part is set up.
#[derive(Debug, Clone)]
pub struct Setup {
    /// The rule files, read again on reload.
    pub rule_files: Vec<PathBuf>,
    /// Region and account for ARNs and messages.
    pub settings: Settings,
    /// Publish notifications to SNS (else they are logged and kept in the history only).
    pub publish: bool,
    /// `<state dir>/alarms`.
    pub dir: PathBuf,
    /// How SNS is reached (region and credentials, as the agent's own calls).
    pub sdk: skywatch_aws::SdkSettings,
}

/// The rules of every file, in order; an error names the file and every problem in it.
pub fn read_rule_files(files: &[PathBuf]) -> Result<Rules, String> {
    let mut alarms = Vec::new();
    let mut problems = Vec::new();
    for file in files {
        match std::fs::read_to_string(file) {
            Ok(text) => match super::parse_rules(&text) {
                Ok(rules) => alarms.extend(rules.alarms),
                Err(error) => problems.push(format!("{}: {}", file.display(), error.to_string().trim_end())),
            },
            Err(e) => problems.push(format!("{}: cannot read: {e}", file.display())),
        }
    }
    let mut names = std::collections::BTreeSet::new();
    for alarm in &alarms {
        if !names.insert(alarm.name().to_string()) {
            problems.push(format!(
                "alarm {:?} is defined in more than one rule file",
                alarm.name()
            ));
        }
    }
    if problems.is_empty() {
        Ok(Rules { alarms })
    } else {
        Err(problems.join("\n"))
    }
}

/// The part's counters on `/metrics`, beside the notifier's.
#[derive(Debug, Clone)]
struct PartCounters {
    transitions: Counter,
    evaluations: Counter,
    history_errors: Counter,
    metrics_not_seen: Counter,
}

impl PartCounters {
    fn register(registry: &Registry) -> PartCounters {
        PartCounters {
            transitions: registry.counter(Desc::counter(
                "skywatch_alarms_state_changes_total",
                "Alarm state changes.",
            )),
            evaluations: registry.counter(Desc::counter(
                "skywatch_alarms_evaluation_rounds_total",
                "Evaluation rounds of the alarm rules.",
            )),
            history_errors: registry.counter(Desc::counter(
                "skywatch_alarms_history_write_errors_total",
                "State changes or states that could not be written to the state directory.",
            )),
            metrics_not_seen: registry.counter(Desc::counter(
                "skywatch_alarms_metrics_not_seen_total",
                "Metrics a rule reads of which no datum arrived within its evaluation range (named once each).",
            )),
        }
    }
}

/// The alarms part, ready to serve.
pub struct AlarmsPart {
    setup: Setup,
    evaluator: Evaluator,
    /// Notifications of state changes already saved in `state.json` but not yet written to the
    /// outbox (written at the next tick; kept across restarts by the state file).
    pending: Vec<Outgoing>,
    window: Window,
    notifier: Option<Notifier>,
    notifier_counters: Counters,
    counters: PartCounters,
    /// Metrics already named as never seen (once per run).
    named_missing: HashSet<SeriesKey>,
}

impl std::fmt::Debug for AlarmsPart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlarmsPart")
            .field("setup", &self.setup)
            .finish_non_exhaustive()
    }
}

impl AlarmsPart {
    /// Reads the rules, restores the saved states and opens the outbox.
    pub async fn start(setup: Setup, window: Window, registry: &Registry) -> Result<AlarmsPart, String> {
        let rules = read_rule_files(&setup.rule_files)?;
        skywatch_store::durable::create_private_dir_all(&setup.dir)
            .map_err(|e| format!("cannot create {}: {e}", setup.dir.display()))?;
        window.watch(&rules);
        let mut evaluator = Evaluator::new(rules, setup.settings.clone());
        let state_file = setup.dir.join("state.json");
        let mut pending = Vec::new();
        match std::fs::read(&state_file) {
            Ok(bytes) => match serde_json::from_slice::<SavedState>(&bytes) {
                Ok(saved) if evaluator.restore(&saved.snapshot) => pending = saved.pending,
                _ => JOURNAL.log(format_args!(
                    "{} cannot be read; every alarm starts in INSUFFICIENT_DATA",
                    state_file.display()
                )),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => JOURNAL.log(format_args!(
                "cannot read {}: {e}; every alarm starts in INSUFFICIENT_DATA",
                state_file.display()
            )),
        }
        let notifier_counters = Counters::register(registry);
        let notifier = if setup.publish {
            let outbox_dir = setup.dir.join("outbox");
            let outbox = Outbox::open(&outbox_dir)
                .map_err(|e| format!("cannot open the outbox {}: {e}", outbox_dir.display()))?;
            let sdk = skywatch_aws::sdk_config(setup.sdk.clone()).await;
            Some(Notifier::with_config(
                outbox,
                &sdk,
                notifier_counters.clone(),
                JOURNAL,
            ))
        } else {
            None
        };
        let part = AlarmsPart {
            setup,
            evaluator,
            pending,
            window,
            notifier,
            notifier_counters,
            counters: PartCounters::register(registry),
            named_missing: HashSet::new(),
        };
        let window_file = part.setup.dir.join(WINDOW_FILE);
        match part.window.load(&window_file, now_ms() - part.keep_ms()) {
            Ok(_) => {}
            Err(e) => JOURNAL.log(format_args!(
                "{} cannot be read ({e}); the rules see only what is collected from now on",
                window_file.display()
            )),
        }
        Ok(part)
    }

    /// How many rules run.
    pub fn alarm_count(&self) -> usize {
        self.evaluator.rules().alarms.len()
    }

    /// How long the window must keep datums for the rules.
    fn keep_ms(&self) -> i64 {
        self.evaluator
            .settings()
            .longest_range_ms(self.evaluator.rules(), 1)
            + WINDOW_MARGIN_MS
    }

    /// Evaluates until the context says stop, then delivers what waits until the deadline.
    pub async fn serve(mut self, mut ctx: PartContext) -> Result<(), String> {
        let journal = ctx.journal;
        journal.log(format_args!(
            "evaluating {} alarm rule(s) from {}; notifications {}",
            self.alarm_count(),
            self.setup
                .rule_files
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            if self.notifier.is_some() {
                "go to SNS"
            } else {
                "are logged only (publish = false)"
            }
        ));
        let mut failed_rounds = 0u32;
        let mut next_delivery = tokio::time::Instant::now();
        let mut next_window_save = tokio::time::Instant::now() + SAVE_WINDOW_EVERY;
        // Once the longest range has passed, a watched metric with no datum is named: a rule
        // matches a metric only with exactly its dimensions, and a typo would otherwise leave the
        // alarm in INSUFFICIENT_DATA without a word.
        let check_missing_at = now_ms() + self.keep_ms();
        loop {
            ctx.liveness.beat();
            let now = now_ms();
            let transitions = self.evaluator.evaluate(now, &self.window);
            self.counters.evaluations.add(1);
            if transitions.is_empty() {
                self.queue_pending(journal);
            } else {
                self.record(&transitions, journal);
            }
            self.window.prune(now - self.keep_ms());
            if now >= check_missing_at {
                self.name_missing_metrics(journal);
            }
            if tokio::time::Instant::now() >= next_window_save {
                self.save_window();
                next_window_save = tokio::time::Instant::now() + SAVE_WINDOW_EVERY;
            }
            if let Some(notifier) = &self.notifier {
                if tokio::time::Instant::now() >= next_delivery
                    && !notifier.outbox().is_empty().unwrap_or(true)
                {
                    match notifier.deliver().await {
                        Ok(round) if round.stopped_by.is_some() => {
                            next_delivery = tokio::time::Instant::now() + notifier.retry_delay(failed_rounds);
                            failed_rounds = failed_rounds.saturating_add(1);
                        }
                        Ok(_) => failed_rounds = 0,
                        Err(e) => journal.log(format_args!("cannot read the outbox: {e}")),
                    }
                }
            }
            let due = self.evaluator.next_evaluation_ms().map_or(MAX_SLEEP, |at| {
                Duration::from_millis(u64::try_from(at.saturating_sub(now_ms())).unwrap_or(0))
            });
            let mut sleep = due.min(MAX_SLEEP);
            if let Some(every) = ctx.liveness.every() {
                sleep = sleep.min(every);
            }
            tokio::select! {
                () = tokio::time::sleep(sleep) => {}
                () = ctx.shutdown.stopping() => break,
                Some(HostEvent::Reload { done }) = ctx.events.recv() => {
                    self.reload(journal);
                    let _ = done.send(());
                }
            }
        }
        self.save_states();
        self.save_window();
        let Some(notifier) = &self.notifier else {
            return Ok(());
        };
        let deadline = ctx.shutdown.deadline().map_or_else(
            || tokio::time::Instant::now() + Duration::from_secs(5),
            tokio::time::Instant::from_std,
        );
        let waiting = match notifier.deliver_until(deadline).await {
            Ok(round) => round.waiting,
            Err(e) => {
                journal.log(format_args!("cannot read the outbox: {e}"));
                0
            }
        };
        journal.log(format_args!(
            "stopped: {} state change(s), {} notification(s) published, {} waiting in {} for the next start, {} undeliverable, {} action(s) not SNS",
            self.counters.transitions.get(),
            self.notifier_counters.published.get(),
            waiting,
            notifier.outbox().dir().display(),
            self.notifier_counters.undeliverable.get(),
            self.notifier_counters.not_run.total(),
        ));
        Ok(())
    }

    /// Logs and keeps `transitions`, saves the states with their notifications, then queues
    /// those in the outbox.
    fn record(&mut self, transitions: &[Transition], journal: Journal) {
        let history = self.setup.dir.join("history.jsonl");
        let mut lines = String::new();
        for t in transitions {
            self.counters.transitions.add(1);
            journal.log(format_args!(
                "alarm {:?}: {} -> {}: {}",
                t.alarm_name,
                t.old_state.as_str(),
                t.new_state.as_str(),
                t.reason
            ));
            if let Ok(line) = serde_json::to_string(&TimelineEntry::from(t)) {
                lines.push_str(&line);
                lines.push('\n');
            }
            let (Some(notifier), Some(alarm)) = (&self.notifier, self.evaluator.rules().get(&t.alarm_name))
            else {
                continue;
            };
            let n = sns_notification(alarm, t, self.evaluator.settings());
            self.pending.extend(notifier.prepare(t, &n.subject, &n.message));
        }
        if let Err(e) = append(&history, lines.as_bytes()) {
            self.counters.history_errors.add(1);
            journal.log(format_args!("cannot append to {}: {e}", history.display()));
        }
        self.save_states();
        self.queue_pending(journal);
    }

    /// Moves the pending notifications into the outbox; what cannot be written stays pending
    /// (saved with the states) and is tried again at the next tick.
    fn queue_pending(&mut self, journal: Journal) {
        let Some(notifier) = &self.notifier else {
            self.pending.clear();
            return;
        };
        if self.pending.is_empty() {
            return;
        }
        match notifier.enqueue(std::mem::take(&mut self.pending)) {
            Ok(()) => self.save_states(),
            Err((kept, e)) => {
                self.counters.history_errors.add(1);
                journal.log(format_args!(
                    "cannot write {} notification(s) to the outbox {}: {e}; kept in state.json and tried again",
                    kept.len(),
                    notifier.outbox().dir().display()
                ));
                self.pending = kept;
            }
        }
    }

    fn name_missing_metrics(&mut self, journal: Journal) {
        for alarm in &self.evaluator.rules().alarms {
            for key in metrics_of(alarm) {
                if self.window.has(&key) || self.named_missing.contains(&key) {
                    continue;
                }
                let dims: Vec<String> = key.2.iter().map(|(k, v)| format!("{k}={v}")).collect();
                journal.log(format_args!(
                    "alarm {:?}: no datum of {}/{} with dimensions {{{}}} in the last {} s; the agent must collect that metric with exactly those dimensions (it adds host unless omit_hostname)",
                    alarm.name(),
                    key.0,
                    key.1,
                    dims.join(", "),
                    self.keep_ms() / 1000
                ));
                self.counters.metrics_not_seen.add(1);
                self.named_missing.insert(key);
            }
        }
    }

    fn save_window(&self) {
        let path = self.setup.dir.join(WINDOW_FILE);
        if let Err(e) = self.window.save(&path) {
            self.counters.history_errors.add(1);
            JOURNAL.log(format_args!(
                "cannot save the recent datapoints to {}: {e}",
                path.display()
            ));
        }
    }

    fn save_states(&self) {
        let path = self.setup.dir.join("state.json");
        let state = SavedState {
            snapshot: self.evaluator.snapshot(),
            pending: self.pending.clone(),
        };
        let saved = serde_json::to_vec(&state)
            .map_err(std::io::Error::other)
            .and_then(|bytes| skywatch_store::durable::write_atomically(&path, &bytes));
        if let Err(e) = saved {
            self.counters.history_errors.add(1);
            JOURNAL.log(format_args!(
                "cannot save the alarm states to {}: {e}",
                path.display()
            ));
        }
    }

    /// Reads the rule files again; on any problem the running rules stay.
    fn reload(&mut self, journal: Journal) {
        let rules = match read_rule_files(&self.setup.rule_files) {
            Ok(rules) => rules,
            Err(problems) => {
                journal.log(format_args!(
                    "reload refused, the running rules stay:\n{problems}"
                ));
                return;
            }
        };
        let mut snapshot = self.evaluator.snapshot();
        let old_rules = self.evaluator.rules().clone();
        let mut changed = 0;
        for (name, status) in &mut snapshot.alarms {
            let same = old_rules.get(name) == rules.get(name);
            if !same {
                // Updated: the state stays, the configuration time is now, evaluated at once.
                status.configuration_updated_ms = None;
                status.next_evaluation_ms = None;
                changed += 1;
            }
        }
        self.window.watch(&rules);
        let mut evaluator = Evaluator::new(rules, self.evaluator.settings().clone());
        evaluator.restore(&snapshot);
        self.evaluator = evaluator;
        journal.log(format_args!(
            "rules reloaded: {} alarm(s), {changed} changed or removed",
            self.alarm_count()
        ));
        self.save_states();
    }
}

fn append(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if bytes.is_empty() {
        return Ok(());
    }
    let mut file = skywatch_store::durable::open_private_append(path)?;
    file.write_all(bytes)?;
    file.sync_data()
}

fn now_ms() -> i64 {
    skywatch_runtime::clock::now_ms()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::alarms::publish::key_for;
    use serde_json::Value;

    const RULES: &str = r#"
[[alarm]]
name = "memory high"
namespace = "CWAgent"
metric = "mem_used_percent"
dimensions = { host = "web-1" }
statistic = "Average"
period = 60
evaluation_periods = 3
comparison = ">"
threshold = 80
alarm_actions = ["arn:aws:sns:us-east-1:123456789012:ops"]
"#;

    fn outbox_files(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_file())
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[tokio::test]
    async fn notifications_saved_with_the_states_reach_the_outbox_after_a_crash_once() {
        let dir = tempfile::tempdir().unwrap();
        let rules = dir.path().join("rules.toml");
        std::fs::write(&rules, RULES).unwrap();
        let alarms_dir = dir.path().join("alarms");
        std::fs::create_dir_all(&alarms_dir).unwrap();
        // As a crash right after saving a change leaves it: its notification not yet queued.
        let topic = "arn:aws:sns:us-east-1:123456789012:ops";
        let pending = Outgoing {
            key: key_for(
                "arn:aws:cloudwatch:us-east-1:123456789012:alarm:memory high",
                60_000,
                "ALARM",
                topic,
            ),
            topic_arn: topic.into(),
            subject: "ALARM: \"memory high\" in US East (N. Virginia)".into(),
            message: "{}".into(),
            alarm_name: "memory high".into(),
        };
        let saved = serde_json::json!({"version": 1, "alarms": {}, "pending": [pending]});
        std::fs::write(alarms_dir.join("state.json"), saved.to_string()).unwrap();
        let setup = Setup {
            rule_files: vec![rules],
            settings: Settings::default(),
            publish: true,
            dir: alarms_dir.clone(),
            sdk: skywatch_aws::SdkSettings {
                region: Some("us-east-1".into()),
                ..skywatch_aws::SdkSettings::default()
            },
        };
        let mut part = AlarmsPart::start(setup, Window::new(), &Registry::new())
            .await
            .unwrap();
        assert_eq!(part.pending.len(), 1);
        part.queue_pending(JOURNAL);
        let outbox = alarms_dir.join("outbox");
        assert_eq!(outbox_files(&outbox), [format!("{}.json", pending.key)]);
        let state: Value =
            serde_json::from_slice(&std::fs::read(alarms_dir.join("state.json")).unwrap()).unwrap();
        assert_eq!(state["pending"], serde_json::json!([]));
        // Queued again (a second crash before state.json said so): still one file.
        part.pending.push(pending.clone());
        part.queue_pending(JOURNAL);
        assert_eq!(outbox_files(&outbox).len(), 1);
    }

    #[test]
    fn the_window_keeps_only_what_the_rules_read() {
        let window = Window::new();
        window.watch(&super::super::parse_rules(RULES).unwrap());
        let datum = |name: &str, host: &str| Datum {
            name: name.into(),
            unit: "Percent".into(),
            dimensions: vec![("host".into(), host.into())],
            value: 90.0,
            timestamp_ms: 1_000,
            storage_resolution: 60,
        };
        window.record(
            "CWAgent",
            &[
                datum("mem_used_percent", "web-1"),
                datum("mem_used_percent", "web-2"),
                datum("cpu", "web-1"),
            ],
        );
        let watched = (
            "CWAgent".to_string(),
            "mem_used_percent".to_string(),
            vec![("host".to_string(), "web-1".to_string())],
        );
        assert!(window.has(&watched));
        assert_eq!(
            window
                .samples("CWAgent", "mem_used_percent", &watched.2, 0, 2_000)
                .len(),
            1
        );
        let other = (
            "CWAgent".to_string(),
            "mem_used_percent".to_string(),
            vec![("host".to_string(), "web-2".to_string())],
        );
        assert!(!window.has(&other));
        // Saved and read back.
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("window.json");
        window.save(&file).unwrap();
        let again = Window::new();
        again.watch(&super::super::parse_rules(RULES).unwrap());
        assert_eq!(again.load(&file, 0).unwrap(), 1);
        assert_eq!(again.load(&file, 5_000).unwrap(), 0);
    }
}

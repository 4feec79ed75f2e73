//! The agent's own counters: what it collected, sent, dropped (by reason) and which API errors
//! it met (by kind), registered in the process's [`Registry`] and served as Prometheus text on
//! the health listener's `/metrics`.

use std::borrow::Cow;

use skywatch_telemetry::{Counter, Desc, Family, Gauge, LabelValue, Registry};

/// Why datums were dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum DropReason {
    /// The buffer was full (a long outage): the oldest series went.
    QueueFull,
    /// CloudWatch refused the request (not retryable).
    Rejected,
    /// NaN, infinite or out of CloudWatch's range.
    InvalidValue,
    /// Still unsent when the stop timeout ran out.
    Shutdown,
    /// The local store could not be written.
    StoreError,
    /// Collected while the run has no metric output.
    NoOutput,
}

impl DropReason {
    pub fn name(self) -> &'static str {
        match self {
            DropReason::QueueFull => "queue_full",
            DropReason::Rejected => "rejected",
            DropReason::InvalidValue => "invalid_value",
            DropReason::Shutdown => "shutdown",
            DropReason::StoreError => "store_error",
            DropReason::NoOutput => "no_output",
        }
    }
}

impl LabelValue for DropReason {
    fn label_value(&self) -> Cow<'_, str> {
        Cow::Borrowed(self.name())
    }
}

/// What became of log events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogOutcome {
    Read,
    /// Left out by the file's filters.
    Filtered,
    WithoutTimestamp,
    InvalidEncoding,
    /// Accepted by CloudWatch Logs.
    Sent,
    /// Written to the local store.
    Stored,
    /// Refused by CloudWatch Logs (`rejectedLogEventsInfo`).
    TooOld,
    Expired,
    TooNew,
    /// A batch refused for good.
    Rejected,
    /// Outside the window CloudWatch Logs takes, so never sent.
    OutsideWindowOld,
    OutsideWindowNew,
    EmfDocuments,
    EmfInvalid,
    /// EMF documents read while the agent stopped, after the metrics side had closed.
    EmfNotConverted,
    /// EMF documents the listener received while the metrics side was full.
    EmfDropped,
}

impl LogOutcome {
    pub fn name(self) -> &'static str {
        match self {
            LogOutcome::Read => "read",
            LogOutcome::Filtered => "filtered",
            LogOutcome::WithoutTimestamp => "without_timestamp",
            LogOutcome::InvalidEncoding => "invalid_encoding",
            LogOutcome::Sent => "sent",
            LogOutcome::Stored => "stored",
            LogOutcome::TooOld => "too_old",
            LogOutcome::Expired => "expired",
            LogOutcome::TooNew => "too_new",
            LogOutcome::Rejected => "rejected",
            LogOutcome::OutsideWindowOld => "outside_window_old",
            LogOutcome::OutsideWindowNew => "outside_window_new",
            LogOutcome::EmfDocuments => "emf_documents",
            LogOutcome::EmfInvalid => "emf_invalid",
            LogOutcome::EmfNotConverted => "emf_not_converted",
            LogOutcome::EmfDropped => "emf_dropped",
        }
    }
}

impl LabelValue for LogOutcome {
    fn label_value(&self) -> Cow<'_, str> {
        Cow::Borrowed(self.name())
    }
}

const DATUMS_COLLECTED: Desc = Desc::counter("skywatch_agent_datums_collected_total", "Datums collected.");
const DATUMS_SENT: Desc = Desc::counter("skywatch_agent_datums_sent_total", "Datums CloudWatch accepted.");
const DATUMS_STORED: Desc = Desc::counter(
    "skywatch_agent_datums_stored_total",
    "Datums written to the local store.",
);
const REQUESTS_SENT: Desc = Desc::counter(
    "skywatch_agent_requests_sent_total",
    "PutMetricData requests accepted.",
);
const QUEUE_DEPTH: Desc = Desc::gauge("skywatch_agent_queue_depth", "Datums waiting to be sent.");
const LOG_BYTES_READ: Desc = Desc::counter("skywatch_agent_log_bytes_read_total", "Bytes of log lines read.");
const LOG_BATCHES_QUEUED: Desc = Desc::gauge(
    "skywatch_agent_log_batches_queued",
    "Log batches waiting to be sent (memory and spool).",
);
const LOG_SPOOL_BYTES: Desc = Desc::gauge("skywatch_agent_log_spool_bytes", "Bytes in the on-disk spool.");
const EMF_QUEUED: Desc = Desc::gauge(
    "skywatch_agent_emf_batches_queued",
    "Batches of EMF documents read from log files and waiting to become metrics.",
);
const DATUMS_DROPPED: Desc = Desc::counters_by(
    "skywatch_agent_datums_dropped_total",
    "Datums dropped, by reason.",
    "reason",
);
const API_ERRORS: Desc = Desc::counters_by(
    "skywatch_agent_api_errors_total",
    "Failed API calls, by error kind.",
    "kind",
);
const SCRAPE_ERRORS: Desc = Desc::counters_by(
    "skywatch_agent_scrape_errors_total",
    "Failed readings, by plugin.",
    "plugin",
);
const PATHS_NOT_FOLLOWED: Desc = Desc::gauges_by(
    "skywatch_agent_log_paths_not_followed",
    "Paths the file globs match that cannot be followed (and globs matching nothing), by reason.",
    "reason",
);
const JOURNALD_PROBLEMS: Desc = Desc::counters_by(
    "skywatch_agent_journald_problems_total",
    "Times journalctl could not be started or ended, and journal entries it printed that could not be read, by kind.",
    "kind",
);
const LOG_EVENTS: Desc = Desc::counters_by(
    "skywatch_agent_log_events_total",
    "Log events, by what became of them.",
    "outcome",
);

/// The agent's counters.
#[derive(Debug, Clone)]
pub struct Telemetry {
    pub datums_collected: Counter,
    pub datums_sent: Counter,
    pub datums_stored: Counter,
    pub requests_sent: Counter,
    pub queue_depth: Gauge,
    /// Bytes of log lines read.
    pub log_bytes_read: Counter,
    /// Batches waiting to be sent (memory and spool).
    pub log_batches_queued: Gauge,
    /// Bytes in the on-disk spool.
    pub log_spool_bytes: Gauge,
    /// Batches of EMF documents between the log reader and the metrics side.
    pub emf_queued: Gauge,
    dropped: Family<DropReason>,
    api_errors: Family<String>,
    scrape_errors: Family<String>,
    log_events: Family<LogOutcome>,
    paths_not_followed: Family<&'static str>,
    journald_problems: Family<&'static str>,
    registry: Registry,
}

impl Default for Telemetry {
    fn default() -> Telemetry {
        Telemetry::new(&Registry::new())
    }
}

impl Telemetry {
    /// The agent's counters, registered in `registry`.
    pub fn new(registry: &Registry) -> Telemetry {
        Telemetry {
            datums_collected: registry.counter(DATUMS_COLLECTED),
            datums_sent: registry.counter(DATUMS_SENT),
            datums_stored: registry.counter(DATUMS_STORED),
            requests_sent: registry.counter(REQUESTS_SENT),
            queue_depth: registry.gauge(QUEUE_DEPTH),
            log_bytes_read: registry.counter(LOG_BYTES_READ),
            log_batches_queued: registry.gauge(LOG_BATCHES_QUEUED),
            log_spool_bytes: registry.gauge(LOG_SPOOL_BYTES),
            emf_queued: registry.gauge(EMF_QUEUED),
            dropped: registry.family(DATUMS_DROPPED),
            api_errors: registry.family(API_ERRORS),
            scrape_errors: registry.family(SCRAPE_ERRORS),
            log_events: registry.family(LOG_EVENTS),
            paths_not_followed: registry.family(PATHS_NOT_FOLLOWED),
            journald_problems: registry.family(JOURNALD_PROBLEMS),
            registry: registry.clone(),
        }
    }

    pub fn dropped(&self, reason: DropReason, n: u64) {
        self.dropped.add(&reason, n);
    }

    /// Sets the running total of drops for `reason` (the buffer keeps its own count).
    pub fn set_dropped(&self, reason: DropReason, total: u64) {
        self.dropped.set(&reason, total);
    }

    pub fn api_error(&self, kind: &str) {
        self.api_errors.add(&kind.to_string(), 1);
    }

    /// Counts `n` log events that came to `outcome`.
    pub fn log_events(&self, outcome: LogOutcome, n: u64) {
        self.log_events.add(&outcome, n);
    }

    /// Sets the running total of log events with `outcome` (kept by a counter elsewhere).
    pub fn set_log_events(&self, outcome: LogOutcome, total: u64) {
        self.log_events.set(&outcome, total);
    }

    /// Log events that came to `outcome` so far.
    pub fn log_event_count(&self, outcome: LogOutcome) -> u64 {
        self.log_events.get(&outcome)
    }

    /// The paths not followed right now, by reason (reasons not listed are set to 0).
    pub fn set_paths_not_followed(&self, totals: &[(&'static str, u64)]) {
        for reason in [
            "directory",
            "named_pipe",
            "not_a_regular_file",
            "pseudo_file",
            "permission_denied",
            "cannot_open",
            "no_match",
        ] {
            let n = totals.iter().find(|(r, _)| *r == reason).map_or(0, |(_, n)| *n);
            if n > 0 || self.paths_not_followed.get(&reason) > 0 {
                self.paths_not_followed.set(&reason, n);
            }
        }
    }

    /// A journald problem (`cannot_start`, `exited`, `unreadable_entry`).
    pub fn journald_problem(&self, kind: &'static str) {
        self.journald_problems.add(&kind, 1);
    }

    pub fn journald_problem_count(&self, kind: &'static str) -> u64 {
        self.journald_problems.get(&kind)
    }

    pub fn scrape_error(&self, plugin: &str) {
        self.scrape_errors.add(&plugin.to_string(), 1);
    }

    pub fn dropped_total(&self) -> u64 {
        self.dropped.total()
    }

    /// Every counter of the registry these were registered in, as Prometheus text.
    pub fn prometheus(&self) -> String {
        self.registry.prometheus()
    }
}

#[cfg(test)]
mod tests {
    use super::{DropReason, Telemetry};

    #[test]
    fn prometheus_text_has_every_counter_with_its_labels() {
        let t = Telemetry::default();
        t.datums_collected.set(7);
        t.dropped(DropReason::QueueFull, 2);
        t.dropped(DropReason::Rejected, 0);
        t.api_error("Throttling");
        t.api_error("Throttling");
        t.scrape_error("disk \"x\"");
        let text = t.prometheus();
        for line in [
            "# TYPE skywatch_agent_datums_collected_total counter",
            "skywatch_agent_datums_collected_total 7",
            "skywatch_agent_queue_depth 0",
            "skywatch_agent_datums_dropped_total{reason=\"queue_full\"} 2",
            "skywatch_agent_api_errors_total{kind=\"Throttling\"} 2",
            "skywatch_agent_scrape_errors_total{plugin=\"disk \\\"x\\\"\"} 1",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} not in\n{text}");
        }
        assert!(!text.contains("rejected"), "no row for a zero count");
        assert_eq!(t.dropped_total(), 2);
    }
}

//! The agent's own counters: what it collected, sent, dropped (by reason) and which API errors
//! it met (by kind). Served as Prometheus text on the health listener's `/metrics`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

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
}

impl DropReason {
    pub fn name(self) -> &'static str {
        match self {
            DropReason::QueueFull => "queue_full",
            DropReason::Rejected => "rejected",
            DropReason::InvalidValue => "invalid_value",
            DropReason::Shutdown => "shutdown",
            DropReason::StoreError => "store_error",
        }
    }
}

#[derive(Debug, Default)]
pub struct Telemetry {
    pub datums_collected: AtomicU64,
    pub datums_sent: AtomicU64,
    pub datums_stored: AtomicU64,
    pub requests_sent: AtomicU64,
    pub queue_depth: AtomicU64,
    dropped: Mutex<BTreeMap<DropReason, u64>>,
    api_errors: Mutex<BTreeMap<String, u64>>,
    scrape_errors: Mutex<BTreeMap<String, u64>>,
    /// Log events by what became of them (`read`, `sent`, `stored`, `filtered`, `too_old`…).
    log_events: Mutex<BTreeMap<&'static str, u64>>,
    /// Bytes of log lines read.
    pub log_bytes_read: AtomicU64,
    /// Batches waiting to be sent (memory and spool).
    pub log_batches_queued: AtomicU64,
    /// Bytes in the on-disk spool.
    pub log_spool_bytes: AtomicU64,
}

fn bump<K: Ord>(map: &Mutex<BTreeMap<K, u64>>, key: K, n: u64) {
    if let Ok(mut map) = map.lock() {
        *map.entry(key).or_insert(0) += n;
    }
}

impl Telemetry {
    pub fn dropped(&self, reason: DropReason, n: u64) {
        if n > 0 {
            bump(&self.dropped, reason, n);
        }
    }

    /// Sets the running total of queue-full drops (the buffer keeps its own count).
    pub fn set_dropped(&self, reason: DropReason, total: u64) {
        if let Ok(mut map) = self.dropped.lock() {
            map.insert(reason, total);
        }
    }

    pub fn api_error(&self, kind: &str) {
        bump(&self.api_errors, kind.to_string(), 1);
    }

    /// Counts `n` log events that came to `outcome`.
    pub fn log_events(&self, outcome: &'static str, n: u64) {
        if n > 0 {
            bump(&self.log_events, outcome, n);
        }
    }

    /// Sets the running total of log events with `outcome` (kept by a counter elsewhere).
    pub fn set_log_events(&self, outcome: &'static str, total: u64) {
        if let Ok(mut map) = self.log_events.lock() {
            map.insert(outcome, total);
        }
    }

    /// Log events that came to `outcome` so far.
    pub fn log_event_count(&self, outcome: &str) -> u64 {
        self.log_events
            .lock()
            .map_or(0, |m| m.get(outcome).copied().unwrap_or(0))
    }

    pub fn scrape_error(&self, plugin: &str) {
        bump(&self.scrape_errors, plugin.to_string(), 1);
    }

    pub fn dropped_total(&self) -> u64 {
        self.dropped.lock().map_or(0, |m| m.values().sum())
    }

    /// The counters in the Prometheus text format.
    pub fn prometheus(&self) -> String {
        let mut out = String::new();
        let plain = [
            (
                "skywatch_agent_datums_collected_total",
                "counter",
                "Datums collected.",
                &self.datums_collected,
            ),
            (
                "skywatch_agent_datums_sent_total",
                "counter",
                "Datums CloudWatch accepted.",
                &self.datums_sent,
            ),
            (
                "skywatch_agent_datums_stored_total",
                "counter",
                "Datums written to the local store.",
                &self.datums_stored,
            ),
            (
                "skywatch_agent_requests_sent_total",
                "counter",
                "PutMetricData requests accepted.",
                &self.requests_sent,
            ),
            (
                "skywatch_agent_queue_depth",
                "gauge",
                "Datums waiting to be sent.",
                &self.queue_depth,
            ),
            (
                "skywatch_agent_log_bytes_read_total",
                "counter",
                "Bytes of log lines read.",
                &self.log_bytes_read,
            ),
            (
                "skywatch_agent_log_batches_queued",
                "gauge",
                "Log batches waiting to be sent (memory and spool).",
                &self.log_batches_queued,
            ),
            (
                "skywatch_agent_log_spool_bytes",
                "gauge",
                "Bytes in the on-disk spool.",
                &self.log_spool_bytes,
            ),
        ];
        for (name, kind, help, value) in plain {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {}",
                value.load(Ordering::Relaxed)
            );
        }
        let dropped = snapshot(&self.dropped, |r| r.name().to_string());
        let labelled = [
            (
                "skywatch_agent_datums_dropped_total",
                "Datums dropped, by reason.",
                "reason",
                dropped,
            ),
            (
                "skywatch_agent_api_errors_total",
                "Failed API calls, by error kind.",
                "kind",
                snapshot(&self.api_errors, Clone::clone),
            ),
            (
                "skywatch_agent_scrape_errors_total",
                "Failed readings, by plugin.",
                "plugin",
                snapshot(&self.scrape_errors, Clone::clone),
            ),
            (
                "skywatch_agent_log_events_total",
                "Log events, by what became of them.",
                "outcome",
                snapshot(&self.log_events, |k| (*k).to_string()),
            ),
        ];
        for (name, help, label, rows) in labelled {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for (key, n) in rows {
                let _ = writeln!(out, "{name}{{{label}=\"{}\"}} {n}", escape_label(&key));
            }
        }
        out
    }
}

/// The rows of a labelled counter, with their labels as text.
fn snapshot<K>(map: &Mutex<BTreeMap<K, u64>>, label: impl Fn(&K) -> String) -> Vec<(String, u64)> {
    map.lock()
        .map(|m| m.iter().map(|(k, n)| (label(k), *n)).collect())
        .unwrap_or_default()
}

fn escape_label(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::{DropReason, Telemetry};
    use std::sync::atomic::Ordering;

    #[test]
    fn prometheus_text_has_every_counter_with_its_labels() {
        let t = Telemetry::default();
        t.datums_collected.store(7, Ordering::Relaxed);
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

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

    pub fn scrape_error(&self, plugin: &str) {
        bump(&self.scrape_errors, plugin.to_string(), 1);
    }

    pub fn dropped_total(&self) -> u64 {
        self.dropped.lock().map_or(0, |m| m.values().sum())
    }

    /// The counters in the Prometheus text format.
    pub fn prometheus(&self) -> String {
        let mut out = String::new();
        let gauge = |out: &mut String, name: &str, kind: &str, help: &str, value: u64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}");
        };
        gauge(
            &mut out,
            "skywatch_agent_datums_collected_total",
            "counter",
            "Datums collected.",
            self.datums_collected.load(Ordering::Relaxed),
        );
        gauge(
            &mut out,
            "skywatch_agent_datums_sent_total",
            "counter",
            "Datums CloudWatch accepted.",
            self.datums_sent.load(Ordering::Relaxed),
        );
        gauge(
            &mut out,
            "skywatch_agent_datums_stored_total",
            "counter",
            "Datums written to the local store.",
            self.datums_stored.load(Ordering::Relaxed),
        );
        gauge(
            &mut out,
            "skywatch_agent_requests_sent_total",
            "counter",
            "PutMetricData requests accepted.",
            self.requests_sent.load(Ordering::Relaxed),
        );
        gauge(
            &mut out,
            "skywatch_agent_queue_depth",
            "gauge",
            "Datums waiting to be sent.",
            self.queue_depth.load(Ordering::Relaxed),
        );
        let labelled = |out: &mut String, name: &str, help: &str, label: &str, rows: Vec<(String, u64)>| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for (key, n) in rows {
                let _ = writeln!(out, "{name}{{{label}=\"{}\"}} {n}", escape_label(&key));
            }
        };
        let dropped = self
            .dropped
            .lock()
            .map(|m| m.iter().map(|(r, n)| (r.name().to_string(), *n)).collect())
            .unwrap_or_default();
        labelled(
            &mut out,
            "skywatch_agent_datums_dropped_total",
            "Datums dropped, by reason.",
            "reason",
            dropped,
        );
        let errors = self
            .api_errors
            .lock()
            .map(|m| m.iter().map(|(k, n)| (k.clone(), *n)).collect())
            .unwrap_or_default();
        labelled(
            &mut out,
            "skywatch_agent_api_errors_total",
            "Failed API calls, by error kind.",
            "kind",
            errors,
        );
        let scrapes = self
            .scrape_errors
            .lock()
            .map(|m| m.iter().map(|(k, n)| (k.clone(), *n)).collect())
            .unwrap_or_default();
        labelled(
            &mut out,
            "skywatch_agent_scrape_errors_total",
            "Failed readings, by plugin.",
            "plugin",
            scrapes,
        );
        out
    }
}

fn escape_label(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

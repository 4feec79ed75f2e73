//! skywatch's own numbers — what each part received, sent, stored and dropped, by reason — in
//! one [`Registry`] per process, served as Prometheus text on `/metrics`.
//!
//! Design decision: a metric is declared once as a constant [`Desc`] (name, help, kind and, for
//! a labelled family, the label's name), and labelled families take label values of a type the
//! part chooses — an enum implementing [`LabelValue`] for reasons and outcomes, so a typo is a
//! compile error, or a `String` where the values come from outside (an AWS error code, a plugin
//! name). Handles ([`Counter`], [`Gauge`], [`Family`]) are cheap atomics or a small map behind a
//! lock; registering returns a handle that shares its value with the registry, so parts update
//! without touching the registry again. Labelled rows with a zero count are not printed until
//! something sets them.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Counter or gauge, as Prometheus names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
}

/// A metric's name, help text, kind and (for a family) label name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Desc {
    pub name: &'static str,
    pub help: &'static str,
    pub kind: Kind,
    /// The label of a family (`reason`, `outcome`…); `None` for a single value.
    pub label: Option<&'static str>,
}

impl Desc {
    pub const fn counter(name: &'static str, help: &'static str) -> Desc {
        Desc {
            name,
            help,
            kind: Kind::Counter,
            label: None,
        }
    }

    pub const fn gauge(name: &'static str, help: &'static str) -> Desc {
        Desc {
            name,
            help,
            kind: Kind::Gauge,
            label: None,
        }
    }

    /// A gauge family: one value per label value, set rather than added.
    pub const fn gauges_by(name: &'static str, help: &'static str, label: &'static str) -> Desc {
        Desc {
            name,
            help,
            kind: Kind::Gauge,
            label: Some(label),
        }
    }

    /// A counter family: one value per label value.
    pub const fn counters_by(name: &'static str, help: &'static str, label: &'static str) -> Desc {
        Desc {
            name,
            help,
            kind: Kind::Counter,
            label: Some(label),
        }
    }
}

/// A label value: how it is written in the exposition.
pub trait LabelValue {
    fn label_value(&self) -> std::borrow::Cow<'_, str>;
}

impl LabelValue for String {
    fn label_value(&self) -> std::borrow::Cow<'_, str> {
        std::borrow::Cow::Borrowed(self)
    }
}

impl LabelValue for &'static str {
    fn label_value(&self) -> std::borrow::Cow<'_, str> {
        std::borrow::Cow::Borrowed(self)
    }
}

/// A value that only goes up (or is set to a running total kept elsewhere).
#[derive(Debug, Clone, Default)]
pub struct Counter(Arc<AtomicU64>);

impl Counter {
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    /// Sets a running total that something else counts.
    pub fn set(&self, total: u64) {
        self.0.store(total, Ordering::Relaxed);
    }
}

/// A value that goes up and down (queue depth, bytes held).
#[derive(Debug, Clone, Default)]
pub struct Gauge(Arc<AtomicU64>);

impl Gauge {
    pub fn set(&self, value: u64) {
        self.0.store(value, Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A counter per label value.
#[derive(Debug)]
pub struct Family<L> {
    rows: Arc<Mutex<BTreeMap<String, u64>>>,
    label: PhantomData<fn(L)>,
}

impl<L> Clone for Family<L> {
    fn clone(&self) -> Family<L> {
        Family {
            rows: Arc::clone(&self.rows),
            label: PhantomData,
        }
    }
}

impl<L: LabelValue> Default for Family<L> {
    fn default() -> Family<L> {
        Family {
            rows: Arc::default(),
            label: PhantomData,
        }
    }
}

impl<L: LabelValue> Family<L> {
    /// Adds `n` to `label`'s count (nothing, not even a row, for 0).
    pub fn add(&self, label: &L, n: u64) {
        if n == 0 {
            return;
        }
        if let Ok(mut rows) = self.rows.lock() {
            *rows.entry(label.label_value().into_owned()).or_insert(0) += n;
        }
    }

    /// Sets `label`'s count to a running total kept elsewhere.
    pub fn set(&self, label: &L, total: u64) {
        if let Ok(mut rows) = self.rows.lock() {
            rows.insert(label.label_value().into_owned(), total);
        }
    }

    pub fn get(&self, label: &L) -> u64 {
        self.rows.lock().map_or(0, |rows| {
            rows.get(label.label_value().as_ref()).copied().unwrap_or(0)
        })
    }

    /// The sum over every label.
    pub fn total(&self) -> u64 {
        self.rows.lock().map_or(0, |rows| rows.values().sum())
    }

    fn snapshot(&self) -> Vec<(String, u64)> {
        self.rows
            .lock()
            .map(|rows| rows.iter().map(|(k, n)| (k.clone(), *n)).collect())
            .unwrap_or_default()
    }
}

/// What a registered metric reads from.
#[derive(Debug)]
enum Source {
    Single(Arc<AtomicU64>),
    Labelled(Arc<Mutex<BTreeMap<String, u64>>>),
}

/// Every metric of a process, in the order registered.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    metrics: Arc<Mutex<Vec<(Desc, Source)>>>,
}

impl Registry {
    pub fn new() -> Registry {
        Registry::default()
    }

    fn add(&self, desc: Desc, source: Source) {
        if let Ok(mut metrics) = self.metrics.lock() {
            metrics.push((desc, source));
        }
    }

    /// Registers a counter.
    pub fn counter(&self, desc: Desc) -> Counter {
        let counter = Counter::default();
        self.add(desc, Source::Single(Arc::clone(&counter.0)));
        counter
    }

    /// Registers a gauge.
    pub fn gauge(&self, desc: Desc) -> Gauge {
        let gauge = Gauge::default();
        self.add(desc, Source::Single(Arc::clone(&gauge.0)));
        gauge
    }

    /// Registers a counter family; `desc` should name its label.
    pub fn family<L: LabelValue>(&self, desc: Desc) -> Family<L> {
        let family = Family::<L>::default();
        self.add(desc, Source::Labelled(Arc::clone(&family.rows)));
        family
    }

    /// Every metric in the Prometheus text exposition format (version 0.0.4).
    pub fn prometheus(&self) -> String {
        let mut out = String::new();
        let Ok(metrics) = self.metrics.lock() else {
            return out;
        };
        for (desc, source) in metrics.iter() {
            let kind = match desc.kind {
                Kind::Counter => "counter",
                Kind::Gauge => "gauge",
            };
            let name = desc.name;
            let _ = writeln!(out, "# HELP {name} {}\n# TYPE {name} {kind}", desc.help);
            match source {
                Source::Single(value) => {
                    let _ = writeln!(out, "{name} {}", value.load(Ordering::Relaxed));
                }
                Source::Labelled(rows) => {
                    let label = desc.label.unwrap_or("label");
                    let rows: Vec<(String, u64)> = rows
                        .lock()
                        .map(|rows| rows.iter().map(|(k, n)| (k.clone(), *n)).collect())
                        .unwrap_or_default();
                    for (key, n) in rows {
                        let _ = writeln!(out, "{name}{{{label}=\"{}\"}} {n}", escape_label(&key));
                    }
                }
            }
        }
        out
    }
}

impl<L: LabelValue> Family<L> {
    /// The rows as (label value, count), for reports.
    pub fn rows(&self) -> Vec<(String, u64)> {
        self.snapshot()
    }
}

fn escape_label(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::{Desc, LabelValue, Registry};

    #[derive(Debug, Clone, Copy)]
    enum Reason {
        Full,
        Refused,
    }

    impl LabelValue for Reason {
        fn label_value(&self) -> std::borrow::Cow<'_, str> {
            std::borrow::Cow::Borrowed(match self {
                Reason::Full => "queue_full",
                Reason::Refused => "refused",
            })
        }
    }

    const RECEIVED: Desc = Desc::counter("x_received_total", "Received.");
    const DEPTH: Desc = Desc::gauge("x_queue_depth", "Waiting.");
    const DROPPED: Desc = Desc::counters_by("x_dropped_total", "Dropped, by reason.", "reason");
    const ERRORS: Desc = Desc::counters_by("x_errors_total", "Errors, by kind.", "kind");

    #[test]
    fn the_exposition_has_every_metric_in_order_with_escaped_labels() {
        let registry = Registry::new();
        let received = registry.counter(RECEIVED);
        let depth = registry.gauge(DEPTH);
        let dropped = registry.family::<Reason>(DROPPED);
        let errors = registry.family::<String>(ERRORS);
        received.add(3);
        received.add(4);
        depth.set(2);
        dropped.add(&Reason::Full, 2);
        dropped.add(&Reason::Refused, 0);
        errors.add(&"a \"b\"\\\n".to_string(), 1);
        assert_eq!(
            registry.prometheus(),
            "# HELP x_received_total Received.\n# TYPE x_received_total counter\nx_received_total 7\n\
             # HELP x_queue_depth Waiting.\n# TYPE x_queue_depth gauge\nx_queue_depth 2\n\
             # HELP x_dropped_total Dropped, by reason.\n# TYPE x_dropped_total counter\nx_dropped_total{reason=\"queue_full\"} 2\n\
             # HELP x_errors_total Errors, by kind.\n# TYPE x_errors_total counter\nx_errors_total{kind=\"a \\\"b\\\"\\\\\\n\"} 1\n"
        );
        assert_eq!(dropped.total(), 2);
        assert_eq!(dropped.get(&Reason::Refused), 0);
        dropped.set(&Reason::Refused, 0);
        assert!(registry
            .prometheus()
            .contains("x_dropped_total{reason=\"refused\"} 0"));
    }
}

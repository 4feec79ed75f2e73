//! Per-service numbers per minute, from the stored traces, as CloudWatch datums in the namespace
//! `skywatch/Traces` — what `skywatch dashboard generate` graphs and alarm rules can watch:
//! dimensions `Service` and `Type` (left out when the node has none), metrics `Requests`,
//! `Faults` (5xx), `Errors` (4xx other than 429), `Throttles` (429) as counts, and
//! `LatencyAverage`, `LatencyP50`, `LatencyP99` in milliseconds. A minute is the one a service's
//! requests in a trace started in, read off each trace's own graph (as the web page's per-minute
//! charts are); client nodes are left out.

use std::collections::BTreeMap;

use serde_json::Value;
use skywatch_store::Datum;

use crate::service_graph::service_graph;
use crate::store::{Store, TimeRange};

/// The namespace of the datums.
pub const NAMESPACE: &str = "skywatch/Traces";

/// How long after a minute ends its numbers are computed: segments sent at the end of a
/// request arrive a little later.
pub const SETTLE_SECS: i64 = 15;

#[derive(Default)]
struct Numbers {
    requests: u64,
    faults: u64,
    errors: u64,
    throttles: u64,
    /// Response time in whole milliseconds → count.
    times: BTreeMap<u64, u64>,
    total_seconds: f64,
}

/// The datums of the minute starting at `minute_s` (a multiple of 60).
pub fn minute_datums(store: &Store, minute_s: i64) -> Vec<Datum> {
    let start = minute_s as f64;
    let end = start + 60.0;
    let mut nodes: BTreeMap<(String, String), Numbers> = BTreeMap::new();
    for stored in store.traces_between(start, end, TimeRange::Service) {
        let graph = service_graph(&stored.documents);
        let Some(services) = graph.get("Services").and_then(Value::as_array) else {
            continue;
        };
        for service in services {
            let text = |key: &str| service.get(key).and_then(Value::as_str).unwrap_or_default();
            if text("Type") == "client" {
                continue;
            }
            let Some(at) = service.get("StartTime").and_then(Value::as_f64) else {
                continue;
            };
            if !(start..end).contains(&at) {
                continue;
            }
            let Some(stats) = service.get("SummaryStatistics") else {
                continue;
            };
            let n = |p: &str| stats.pointer(p).and_then(Value::as_u64).unwrap_or(0);
            let numbers = nodes
                .entry((text("Name").to_string(), text("Type").to_string()))
                .or_default();
            numbers.requests += n("/TotalCount");
            numbers.faults += n("/FaultStatistics/TotalCount");
            numbers.errors += n("/ErrorStatistics/OtherCount");
            numbers.throttles += n("/ErrorStatistics/ThrottleCount");
            numbers.total_seconds += stats
                .get("TotalResponseTime")
                .and_then(Value::as_f64)
                .unwrap_or(0.0);
            let buckets = service
                .get("ResponseTimeHistogram")
                .and_then(Value::as_array)
                .into_iter()
                .flatten();
            for bucket in buckets {
                let (Some(value), Some(count)) = (
                    bucket.get("Value").and_then(Value::as_f64),
                    bucket.get("Count").and_then(Value::as_u64),
                ) else {
                    continue;
                };
                *numbers.times.entry((value * 1000.0).round() as u64).or_insert(0) += count;
            }
        }
    }
    let timestamp_ms = minute_s * 1000;
    let mut datums = Vec::new();
    for ((name, kind), numbers) in nodes {
        if numbers.requests == 0 {
            continue;
        }
        let mut dimensions = vec![("Service".to_string(), name)];
        if !kind.is_empty() {
            dimensions.push(("Type".to_string(), kind));
        }
        let datum = |metric: &str, unit: &str, value: f64| Datum {
            name: metric.to_string(),
            unit: unit.to_string(),
            dimensions: dimensions.clone(),
            value,
            timestamp_ms,
            storage_resolution: 60,
        };
        datums.push(datum("Requests", "Count", numbers.requests as f64));
        datums.push(datum("Faults", "Count", numbers.faults as f64));
        datums.push(datum("Errors", "Count", numbers.errors as f64));
        datums.push(datum("Throttles", "Count", numbers.throttles as f64));
        datums.push(datum(
            "LatencyAverage",
            "Milliseconds",
            1000.0 * numbers.total_seconds / numbers.requests as f64,
        ));
        for (metric, p) in [("LatencyP50", 0.50), ("LatencyP99", 0.99)] {
            if let Some(ms) = nearest_rank(&numbers.times, p) {
                datums.push(datum(metric, "Milliseconds", ms as f64));
            }
        }
    }
    datums
}

/// The p-quantile (nearest rank) of a histogram of whole milliseconds.
pub(crate) fn nearest_rank(times: &BTreeMap<u64, u64>, p: f64) -> Option<u64> {
    let total: u64 = times.values().sum();
    if total == 0 {
        return None;
    }
    let rank = ((p * total as f64).ceil() as u64).clamp(1, total);
    let mut seen = 0;
    for (ms, n) in times {
        seen += n;
        if seen >= rank {
            return Some(*ms);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::float_cmp)]
    use super::*;
    use crate::quick_check::Facts;
    use crate::segment::parse;
    use crate::store::StoreSettings;
    use std::sync::Arc;
    use std::time::Duration;

    fn segment(trace: u32, name: &str, at: f64, seconds: f64, status: u16) -> Vec<u8> {
        serde_json::json!({
            "id": format!("{trace:016x}"), "trace_id": format!("1-00000064-{trace:024x}"), "name": name,
            "start_time": at, "end_time": at + seconds,
            "fault": status >= 500, "error": (400..500).contains(&status), "throttle": status == 429,
            "http": {"response": {"status": status}}
        })
        .to_string()
        .into_bytes()
    }

    #[test]
    fn a_minutes_numbers_per_service() {
        let store = Store::open(StoreSettings::in_memory(Duration::from_secs(1 << 30)), 0.0)
            .unwrap()
            .0;
        let minute = 6_000;
        let docs = [
            segment(1, "web", minute as f64 + 1.0, 0.100, 200),
            segment(2, "web", minute as f64 + 2.0, 0.300, 500),
            segment(3, "web", minute as f64 + 3.0, 0.200, 404),
            segment(4, "web", minute as f64 + 4.0, 0.050, 429),
            // The next minute: not counted.
            segment(5, "web", minute as f64 + 61.0, 0.100, 200),
        ];
        for doc in docs {
            let parsed = parse(&doc).unwrap().remove(0);
            store
                .insert(vec![(Facts::from(&parsed), Arc::from(doc))], 1.0)
                .unwrap();
        }
        let datums = minute_datums(&store, minute);
        let value = |metric: &str| {
            datums
                .iter()
                .find(|d| d.name == metric)
                .map_or_else(|| panic!("{metric} in {datums:?}"), |d| d.value)
        };
        assert_eq!(value("Requests"), 4.0);
        assert_eq!(value("Faults"), 1.0);
        assert_eq!(value("Errors"), 1.0);
        assert_eq!(value("Throttles"), 1.0);
        assert!((value("LatencyAverage") - 162.5).abs() < 1e-9);
        assert_eq!(value("LatencyP50"), 100.0);
        assert_eq!(value("LatencyP99"), 300.0);
        assert!(datums
            .iter()
            .all(|d| d.dimensions == [("Service".to_string(), "web".to_string())]
                && d.timestamp_ms == minute * 1000));
    }
}

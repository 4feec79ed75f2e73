//! What the web page asks besides the X-Ray API: the traces through one node or edge of the
//! map (with a response-time range and a filter expression), a node's numbers per minute, and
//! a trace's log lines from the agent's local log store.
//!
//! A node's or an edge's part in a trace is read off that trace's own service graph, so the
//! page's answers and the map agree by construction: the same nodes, the same response times.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{json, Map, Value};

use crate::filter;
use crate::segment::Document;
use crate::service_graph::service_graph;
use crate::store::{Store, TimeRange};
use crate::trace;
use crate::xray_api::ApiError;

/// Trace summaries one answer lists at most.
pub const MAX_TRACES: usize = 200;
/// Log events one answer lists at most.
pub const MAX_LOG_EVENTS: usize = 1_000;
/// How far around a trace's own time its log lines are looked for (seconds).
const LOG_MARGIN_SECS: f64 = 300.0;

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError {
        code: "InvalidRequestException",
        message: message.into(),
    }
}

fn body(request: &[u8]) -> Result<Map<String, Value>, ApiError> {
    match serde_json::from_slice(request) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(invalid("the request body must be a JSON object")),
        Err(e) => Err(invalid(format!("the request body is not JSON: {e}"))),
    }
}

fn number(map: &Map<String, Value>, key: &str) -> Result<Option<f64>, ApiError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_f64()
            .map(Some)
            .ok_or_else(|| invalid(format!("{key} must be a number"))),
    }
}

fn window(map: &Map<String, Value>) -> Result<(f64, f64), ApiError> {
    let start = number(map, "StartTime")?.ok_or_else(|| invalid("StartTime is required"))?;
    let end = number(map, "EndTime")?.ok_or_else(|| invalid("EndTime is required"))?;
    check_times(start, end)?;
    Ok((start, end))
}

/// The latest time a request may name: far enough ahead for any clock, near enough that
/// minute and millisecond arithmetic on it cannot overflow.
const LATEST_TIME: f64 = 1.0e11;

/// Times are seconds since the epoch, from 0 to [`LATEST_TIME`], the end not before the start.
fn check_times(start: f64, end: f64) -> Result<(), ApiError> {
    for (name, t) in [("StartTime", start), ("EndTime", end)] {
        if !(0.0..=LATEST_TIME).contains(&t) {
            return Err(invalid(format!(
                "{name} must be seconds since the epoch (0 to {LATEST_TIME:e})"
            )));
        }
    }
    if end < start {
        return Err(invalid("EndTime is before StartTime"));
    }
    Ok(())
}

/// A node as the map names it: {Name, Type}.
fn node(value: Option<&Value>, key: &str) -> Result<Option<(String, String)>, ApiError> {
    let Some(value) = value.filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let name = value.get("Name").and_then(Value::as_str);
    let kind = value.get("Type").and_then(Value::as_str).unwrap_or_default();
    match name {
        Some(name) => Ok(Some((name.to_string(), kind.to_string()))),
        None if key.is_empty() => Err(invalid("Name is required")),
        None => Err(invalid(format!("{key}.Name is required"))),
    }
}

/// The graph entry for `key` in a graph's `Services`.
fn find<'g>(services: &'g [Value], key: &(String, String)) -> Option<&'g Value> {
    services
        .iter()
        .find(|s| s["Name"] == key.0.as_str() && s["Type"] == key.1.as_str())
}

/// Response times (seconds) of a histogram.
fn times(histogram: &Value) -> impl Iterator<Item = (f64, u64)> + '_ {
    histogram
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|b| Some((b.get("Value")?.as_f64()?, b.get("Count")?.as_u64()?)))
}

/// A node of the map: (name, type).
type NodeKey = (String, String);

/// What part `docs` (one trace) plays for the node or edge asked about: its response times
/// there, or `None` when the trace does not pass through it.
fn part(
    docs: &[Document],
    node: Option<&(String, String)>,
    edge: Option<&(NodeKey, NodeKey)>,
) -> Option<Vec<f64>> {
    let graph = service_graph(docs);
    let services = graph.get("Services")?.as_array()?;
    let histogram = match (node, edge) {
        (Some(key), _) => {
            let entry = find(services, key)?;
            if key.1 == "client" {
                // A client's requests are its one edge's.
                entry.pointer("/Edges/0/ResponseTimeHistogram")?
            } else {
                entry.get("ResponseTimeHistogram")?
            }
        }
        (None, Some((from, to))) => {
            let from = find(services, from)?;
            let to = find(services, to)?;
            from.get("Edges")?
                .as_array()?
                .iter()
                .find(|e| e["ReferenceId"] == to["ReferenceId"])?
                .get("ResponseTimeHistogram")?
        }
        (None, None) => return Some(Vec::new()),
    };
    Some(
        times(histogram)
            .flat_map(|(t, n)| std::iter::repeat_n(t, n as usize))
            .collect(),
    )
}

/// `/ui/api/traces`: the traces in the window through a node or an edge (any, without
/// either), with a response time there within `[MinSeconds, MaxSeconds]`, matching the filter
/// expression; newest first, at most [`MAX_TRACES`].
pub fn traces(store: &Store, request: &[u8]) -> Result<Value, ApiError> {
    let map = body(request)?;
    let (start, end) = window(&map)?;
    let node_key = node(map.get("Node"), "Node")?;
    let edge_key = match map.get("Edge").filter(|v| !v.is_null()) {
        Some(edge) => {
            let from =
                node(edge.get("From"), "Edge.From")?.ok_or_else(|| invalid("Edge.From is required"))?;
            let to = node(edge.get("To"), "Edge.To")?.ok_or_else(|| invalid("Edge.To is required"))?;
            Some((from, to))
        }
        None => None,
    };
    let min = number(&map, "MinSeconds")?.unwrap_or(f64::NEG_INFINITY);
    let max = number(&map, "MaxSeconds")?.unwrap_or(f64::INFINITY);
    let expression = map
        .get("FilterExpression")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let filter = filter::parse(expression).map_err(|e| invalid(e.to_string()))?;
    let mut summaries = Vec::new();
    for stored in store.traces_between(start, end, TimeRange::Service) {
        if summaries.len() >= MAX_TRACES {
            break;
        }
        let Some(times) = part(&stored.documents, node_key.as_ref(), edge_key.as_ref()) else {
            continue;
        };
        let ranged = node_key.is_some() || edge_key.is_some();
        // The histogram rounds to the millisecond: compare at that grain.
        let within = |t: f64| t >= min - 0.000_5 && t <= max + 0.000_5;
        if ranged && !times.iter().any(|t| within(*t)) {
            continue;
        }
        if !filter.matches(&stored.documents) {
            continue;
        }
        summaries.push(trace::summary(&stored.id, &stored.documents));
    }
    Ok(json!({ "TraceSummaries": summaries }))
}

#[derive(Default)]
struct Minute {
    requests: u64,
    ok: u64,
    errors: u64,
    throttles: u64,
    faults: u64,
    /// Response time in whole milliseconds → count.
    times: BTreeMap<u64, u64>,
}

/// The p-quantile (nearest rank) of a histogram of whole milliseconds, in seconds.
fn percentile(times: &BTreeMap<u64, u64>, p: f64) -> Option<f64> {
    crate::trace_metrics::nearest_rank(times, p).map(|ms| ms as f64 / 1000.0)
}

/// `/ui/api/node-series`: a node's requests, outcomes and p50/p99 response time per minute of
/// the window, from each trace's view of it (a minute is the one its requests in that trace
/// started in).
pub fn node_series(store: &Store, request: &[u8]) -> Result<Value, ApiError> {
    let map = body(request)?;
    let (start, end) = window(&map)?;
    let key = node(Some(&Value::Object(map.clone())), "")?.ok_or_else(|| invalid("Name is required"))?;
    if end - start > 86_400.0 {
        return Err(invalid("at most a day of minutes at once"));
    }
    let first = (start / 60.0).floor() as i64;
    let last = (end / 60.0).floor() as i64;
    let mut minutes: BTreeMap<i64, Minute> = (first..=last).map(|m| (m, Minute::default())).collect();
    for stored in store.traces_between(start, end, TimeRange::Service) {
        let graph = service_graph(&stored.documents);
        let Some(services) = graph.get("Services").and_then(Value::as_array) else {
            continue;
        };
        let Some(entry) = find(services, &key) else {
            continue;
        };
        let (stats, histogram, at) = if key.1 == "client" {
            (
                entry.pointer("/Edges/0/SummaryStatistics"),
                entry.pointer("/Edges/0/ResponseTimeHistogram"),
                entry.pointer("/Edges/0/StartTime"),
            )
        } else {
            (
                entry.get("SummaryStatistics"),
                entry.get("ResponseTimeHistogram"),
                entry.get("StartTime"),
            )
        };
        let (Some(stats), Some(histogram), Some(at)) = (stats, histogram, at.and_then(Value::as_f64)) else {
            continue;
        };
        let minute = (at / 60.0).floor() as i64;
        let Some(bucket) = minutes.get_mut(&minute) else {
            continue;
        };
        let n = |p: &str| stats.pointer(p).and_then(Value::as_u64).unwrap_or(0);
        bucket.requests += n("/TotalCount");
        bucket.ok += n("/OkCount");
        bucket.errors += n("/ErrorStatistics/OtherCount");
        bucket.throttles += n("/ErrorStatistics/ThrottleCount");
        bucket.faults += n("/FaultStatistics/TotalCount");
        for (t, count) in times(histogram) {
            *bucket.times.entry((t * 1000.0).round() as u64).or_insert(0) += count;
        }
    }
    let rows: Vec<Value> = minutes
        .into_iter()
        .map(|(minute, m)| {
            json!({
                "Time": minute * 60,
                "Requests": m.requests,
                "Ok": m.ok,
                "Errors": m.errors,
                "Throttles": m.throttles,
                "Faults": m.faults,
                "P50": percentile(&m.times, 0.50),
                "P99": percentile(&m.times, 0.99),
            })
        })
        .collect();
    Ok(json!({ "Minutes": rows }))
}

/// The forms a trace's root id takes in log lines: `1-5759e988-bd862e3f…` (X-Ray's, in
/// `X-Amzn-Trace-Id: Root=…`, `AWS-XRAY-TRACE-ID: …@…`, Lambda's `@xrayTraceId`) and the same
/// 32 hex digits without the dashes (OpenTelemetry's `traceId`), lower-case.
fn id_forms(trace_id: &str) -> Option<[String; 2]> {
    if !crate::segment::is_trace_id(trace_id) {
        return None;
    }
    let lower = trace_id.to_ascii_lowercase();
    let hex: String = lower.get(2..)?.chars().filter(|c| *c != '-').collect();
    Some([lower, hex])
}

/// Whether `message` carries one of `forms`, ignoring case.
fn mentions(message: &str, forms: &[String; 2]) -> bool {
    let lower = message.to_ascii_lowercase();
    forms.iter().any(|f| lower.contains(f.as_str()))
}

/// `/ui/api/logs`: the events of the local log store (every group and stream) that carry the
/// trace's id, within the trace's time ± 5 minutes (or the window given), oldest first, at
/// most [`MAX_LOG_EVENTS`]; with the `logq` command that finds the same lines.
pub fn logs(store: &Store, logs_dir: &Path, request: &[u8]) -> Result<Value, ApiError> {
    let map = body(request)?;
    let trace_id = map
        .get("TraceId")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("TraceId is required"))?;
    let forms =
        id_forms(trace_id).ok_or_else(|| invalid(format!("{trace_id:?} is not an X-Ray trace id")))?;
    let (start, end) =
        if let (Some(start), Some(end)) = (number(&map, "StartTime")?, number(&map, "EndTime")?) {
            check_times(start, end)?;
            if end - start > 86_400.0 {
                return Err(invalid("at most a day of log lines at once"));
            }
            (start, end)
        } else {
            let docs = store.trace(trace_id).map(|t| t.documents).unwrap_or_default();
            let first = docs.iter().map(|d| d.start_time).fold(f64::INFINITY, f64::min);
            let last = docs
                .iter()
                .map(|d| d.end_time.unwrap_or(d.start_time))
                .fold(f64::NEG_INFINITY, f64::max);
            if first.is_finite() {
                (first - LOG_MARGIN_SECS, last + LOG_MARGIN_SECS)
            } else {
                let at = crate::store::trace_id_time(trace_id).unwrap_or(0.0);
                (at - LOG_MARGIN_SECS, at + 3600.0)
            }
        };
    let (start_ms, end_ms) = ((start * 1000.0) as i64, (end * 1000.0) as i64);
    let mut events = std::collections::BinaryHeap::new();
    let mut truncated = false;
    let mut unreadable = 0u64;
    let groups = match std::fs::read_dir(logs_dir) {
        Ok(groups) => groups.filter_map(Result::ok).collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => {
            return Err(ApiError {
                code: "InternalFailure",
                message: format!("cannot read the log store {}: {e}", logs_dir.display()),
            })
        }
    };
    for group in groups {
        let Some(name) = group
            .file_name()
            .to_str()
            .and_then(skywatch_store::logs::decode_name)
        else {
            continue;
        };
        let Ok(chunks) = skywatch_store::logs::chunks_in_range(logs_dir, &name, start_ms, end_ms) else {
            unreadable += 1;
            continue;
        };
        for (stream, path) in chunks {
            let Ok((chunk, _)) = skywatch_store::logs::read_chunk(&stream, &path) else {
                unreadable += 1;
                continue;
            };
            for event in chunk {
                if event.timestamp_ms < start_ms
                    || event.timestamp_ms > end_ms
                    || !mentions(&event.message, &forms)
                {
                    continue;
                }
                // Keep the oldest: a max-heap of at most MAX_LOG_EVENTS drops the newest.
                events.push((event.timestamp_ms, name.clone(), event.stream, event.message));
                if events.len() > MAX_LOG_EVENTS {
                    events.pop();
                    truncated = true;
                }
            }
        }
    }
    let events = events.into_sorted_vec();
    let mut groups_found: Vec<&str> = events.iter().map(|e| e.1.as_str()).collect();
    groups_found.sort_unstable();
    groups_found.dedup();
    let group_args = groups_found.iter().fold(String::new(), |mut args, g| {
        args.push_str(" --log-group ");
        args.push_str(&skywatch_store::logs::shell_word(g));
        args
    });
    let root = forms[0].get(2..).unwrap_or_default();
    let logq = format!(
        "logq --store {}{group_args} --start {} --end {} 'fields @timestamp, @logStream, @message | filter @message like /(?i){root}|{}/ | sort @timestamp asc'",
        skywatch_store::logs::shell_word(&logs_dir.parent().unwrap_or(logs_dir).display().to_string()),
        skywatch_time::rfc3339_ms(start_ms),
        skywatch_time::rfc3339_ms(end_ms),
        forms[1],
    );
    let rows: Vec<Value> = events
        .into_iter()
        .map(|(ts, group, stream, message)| {
            json!({"Timestamp": ts, "LogGroup": group, "LogStream": stream, "Message": message})
        })
        .collect();
    Ok(json!({"Events": rows, "Logq": logq, "Truncated": truncated, "UnreadableChunks": unreadable}))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use serde_json::{json, Value};

    use super::{logs, node_series, traces};
    use crate::quick_check::Facts;
    use crate::segment::parse;
    use crate::store::{Store, StoreSettings};

    const T1: &str = "1-65000000-aaaaaaaaaaaaaaaaaaaaaaa1";
    const T2: &str = "1-65000000-aaaaaaaaaaaaaaaaaaaaaaa2";

    fn store() -> Store {
        let settings = StoreSettings::in_memory(Duration::from_secs(3600));
        let store = Store::open(settings, 0.0).unwrap().0;
        // T1 at 120 s: web calls DynamoDB (0.2 s) and faults; T2 at 200 s: web alone, fast.
        let docs = [
            format!(
                r#"{{"id":"0000000000000001","trace_id":"{T1}","name":"web","start_time":120,"end_time":120.5,"fault":true,"subsegments":[{{"id":"0000000000000011","name":"dynamodb","namespace":"aws","start_time":120.1,"end_time":120.3,"aws":{{"table_name":"orders"}}}}]}}"#
            ),
            format!(
                r#"{{"id":"0000000000000002","trace_id":"{T2}","name":"web","start_time":200,"end_time":200.05}}"#
            ),
        ];
        for doc in docs {
            let parsed = parse(doc.as_bytes()).unwrap().remove(0);
            store
                .insert(vec![(Facts::from(&parsed), Arc::from(doc.into_bytes()))], 1.0)
                .unwrap();
        }
        store
    }

    fn ids(answer: &Value) -> Vec<&str> {
        answer["TraceSummaries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["Id"].as_str().unwrap())
            .collect()
    }

    #[test]
    fn traces_through_a_node_or_an_edge_within_a_response_time_range() {
        let store = store();
        let ask = |body: Value| traces(&store, body.to_string().as_bytes()).unwrap();
        let window = json!({"StartTime": 0, "EndTime": 1000});
        let with = |extra: Value| {
            let mut body = window.clone();
            for (k, v) in extra.as_object().unwrap() {
                body[k] = v.clone();
            }
            body
        };
        assert_eq!(ids(&ask(with(json!({})))).len(), 2);
        assert_eq!(
            ids(&ask(with(
                json!({"Node": {"Name": "orders", "Type": "AWS::DynamoDB::Table"}})
            ))),
            [T1]
        );
        assert_eq!(
            ids(&ask(with(
                json!({"Node": {"Name": "web", "Type": ""}, "MinSeconds": 0.4})
            ))),
            [T1]
        );
        assert_eq!(
            ids(&ask(with(
                json!({"Node": {"Name": "web", "Type": ""}, "MaxSeconds": 0.1})
            ))),
            [T2]
        );
        assert_eq!(
            ids(&ask(with(json!({"Node": {"Name": "web", "Type": "client"}})))).len(),
            2
        );
        let edge = json!({"Edge": {"From": {"Name": "web", "Type": ""}, "To": {"Name": "orders", "Type": "AWS::DynamoDB::Table"}}, "MinSeconds": 0.2, "MaxSeconds": 0.2});
        assert_eq!(ids(&ask(with(edge))), [T1]);
        assert_eq!(ids(&ask(with(json!({"FilterExpression": "fault"})))), [T1]);
        let error = traces(
            &store,
            with(json!({"FilterExpression": "edge(\"a\")"}))
                .to_string()
                .as_bytes(),
        )
        .unwrap_err();
        assert!(error.message.contains("not supported"), "{error}");
    }

    #[test]
    fn times_out_of_range_are_refused_not_overflowed() {
        let store = store();
        let dir = tempfile::tempdir().unwrap();
        for (start, end) in [
            ("-1e300", "1e300"),
            ("-1e300", "-1e300"),
            ("1e300", "1e300"),
            ("0", "1e12"),
            ("100", "90"),
        ] {
            let window = format!(r#""StartTime": {start}, "EndTime": {end}"#);
            let series = node_series(&store, format!(r#"{{{window}, "Name": "web"}}"#).as_bytes());
            assert_eq!(series.unwrap_err().code, "InvalidRequestException", "{window}");
            let traces = traces(&store, format!("{{{window}}}").as_bytes());
            assert!(traces.is_err(), "{window}");
            let lines = logs(
                &store,
                dir.path(),
                format!(r#"{{{window}, "TraceId": "{T1}"}}"#).as_bytes(),
            );
            assert!(lines.is_err(), "{window}");
        }
        // More than a day of minutes or of log lines at once.
        let long = br#"{"StartTime": 0, "EndTime": 172800, "Name": "web"}"#;
        assert!(node_series(&store, long).is_err());
        let long = format!(r#"{{"StartTime": 0, "EndTime": 172800, "TraceId": "{T1}"}}"#);
        assert!(logs(&store, dir.path(), long.as_bytes()).is_err());
    }

    #[test]
    fn a_nodes_numbers_come_per_minute_with_percentiles() {
        let store = store();
        let answer = node_series(
            &store,
            br#"{"StartTime": 60, "EndTime": 299, "Name": "web", "Type": ""}"#,
        )
        .unwrap();
        let minutes = answer["Minutes"].as_array().unwrap();
        assert_eq!(minutes.len(), 4);
        assert_eq!(minutes[1]["Time"], 120);
        assert_eq!(minutes[1]["Requests"], 1);
        assert_eq!(minutes[1]["Faults"], 1);
        assert_eq!(minutes[1]["P50"], 0.5);
        assert_eq!(minutes[2]["Time"], 180);
        assert_eq!(minutes[2]["Ok"], 1);
        assert_eq!(minutes[2]["P99"], 0.05);
        assert_eq!(minutes[3]["Requests"], 0);
        assert_eq!(minutes[0]["P50"], Value::Null);
        assert!(node_series(&store, br#"{"StartTime": 0, "EndTime": 999999, "Name": "web"}"#).is_err());
    }

    #[test]
    fn a_traces_log_lines_are_found_in_every_form_of_its_id() {
        let store = store();
        let dir = tempfile::tempdir().unwrap();
        let logs_dir = dir.path().join("logs");
        let log_store = skywatch_store::LocalLogStore::open(&logs_dir).unwrap();
        let ms = 120_000;
        let lines = [
            format!("GET /buy X-Amzn-Trace-Id: Root={T1};Parent=53995c3f42cd8ad8;Sampled=1"),
            format!(
                "{{\"level\":\"error\",\"traceId\":\"{}\"}}",
                T1[2..].replace('-', "")
            ),
            format!("AWS-XRAY-TRACE-ID: {}@53995c3f42cd8ad8", T1.to_uppercase()),
            format!("another trace {T2}"),
            "<script>alert(1)</script> no id".to_string(),
        ];
        let events: Vec<(i64, &str)> = lines
            .iter()
            .enumerate()
            .map(|(i, l)| (ms + i as i64, l.as_str()))
            .collect();
        log_store.append("/ec2/app", "i-1", &events).unwrap();
        let answer = logs(&store, &logs_dir, format!(r#"{{"TraceId":"{T1}"}}"#).as_bytes()).unwrap();
        let messages: Vec<&str> = answer["Events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["Message"].as_str().unwrap())
            .collect();
        assert_eq!(
            messages,
            [lines[0].as_str(), lines[1].as_str(), lines[2].as_str()]
        );
        assert_eq!(answer["Events"][0]["LogGroup"], "/ec2/app");
        assert_eq!(answer["Events"][0]["LogStream"], "i-1");
        let logq = answer["Logq"].as_str().unwrap();
        assert!(
            logq.contains("--log-group /ec2/app") && logq.contains("65000000-aaaaaaaaaaaaaaaaaaaaaaa1"),
            "{logq}"
        );
        assert!(logs(&store, &logs_dir, br#"{"TraceId":"nope"}"#).is_err());
        // No store at all: no lines, no error.
        let empty = logs(
            &store,
            &dir.path().join("none"),
            format!(r#"{{"TraceId":"{T1}"}}"#).as_bytes(),
        )
        .unwrap();
        assert_eq!(empty["Events"], json!([]));
    }
}

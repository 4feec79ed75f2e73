//! The X-Ray API operations the collector serves from its local store, with the service's
//! JSON shapes (rest-json: a JSON body in, a JSON body out, times as epoch seconds), so the aws
//! CLI, boto3 and the SDKs work against it unchanged with `--endpoint-url`:
//! PutTraceSegments, GetServiceGraph, GetTraceGraph, GetTraceSummaries and BatchGetTraces.
//! Each operation is a function from the request body to the response body or an
//! [`ApiError`] that the HTTP layer turns into the service's error shape.

use serde_json::{json, Map, Value};

use crate::filter;
use crate::ingest::Ingest;
use crate::service_graph::service_graph;
use crate::store::{Store, TimeRange};
use crate::trace;

/// Summaries per GetTraceSummaries page.
pub const SUMMARIES_PER_PAGE: usize = 100;
/// Trace ids one BatchGetTraces or GetTraceGraph call may name.
pub const MAX_TRACE_IDS: usize = 100;

/// A refused request: the service's error code and a message for the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    fn invalid(message: impl Into<String>) -> ApiError {
        ApiError {
            code: "InvalidRequestException",
            message: message.into(),
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

fn body(request: &[u8]) -> Result<Map<String, Value>, ApiError> {
    if request.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice(request) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::invalid("the request body must be a JSON object")),
        Err(e) => Err(ApiError::invalid(format!("the request body is not JSON: {e}"))),
    }
}

/// A timestamp member: epoch seconds (a number, or a number in a string).
fn time(map: &Map<String, Value>, key: &str) -> Result<Option<f64>, ApiError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => Ok(n.as_f64()),
        Some(Value::String(s)) => s
            .parse()
            .map(Some)
            .map_err(|_| ApiError::invalid(format!("{key} must be epoch seconds, got {s:?}"))),
        Some(other) => Err(ApiError::invalid(format!(
            "{key} must be epoch seconds, got {other}"
        ))),
    }
}

fn window(map: &Map<String, Value>) -> Result<(f64, f64), ApiError> {
    let start = time(map, "StartTime")?.ok_or_else(|| ApiError::invalid("StartTime is required"))?;
    let end = time(map, "EndTime")?.ok_or_else(|| ApiError::invalid("EndTime is required"))?;
    if end < start {
        return Err(ApiError::invalid("EndTime is before StartTime"));
    }
    Ok((start, end))
}

fn trace_ids(map: &Map<String, Value>) -> Result<Vec<String>, ApiError> {
    let Some(Value::Array(ids)) = map.get("TraceIds") else {
        return Err(ApiError::invalid("TraceIds is required (a list of trace ids)"));
    };
    if ids.len() > MAX_TRACE_IDS {
        return Err(ApiError::invalid(format!(
            "at most {MAX_TRACE_IDS} TraceIds per call, got {}",
            ids.len()
        )));
    }
    ids.iter()
        .map(|v| {
            v.as_str()
                .map(str::to_string)
                .ok_or_else(|| ApiError::invalid("TraceIds must be strings"))
        })
        .collect()
}

/// PutTraceSegments: every document taken through the same way in as a datagram's;
/// those refused come back in `UnprocessedTraceSegments` with the service's error codes.
pub fn put_trace_segments(ingest: &Ingest, request: &[u8], now: f64) -> Result<Value, ApiError> {
    let map = body(request)?;
    let Some(Value::Array(docs)) = map.get("TraceSegmentDocuments") else {
        return Err(ApiError::invalid(
            "TraceSegmentDocuments is required (a list of segment documents as strings)",
        ));
    };
    let mut unprocessed = Vec::new();
    for doc in docs {
        ingest.counters.received.add(&"tcp", 1);
        let Some(text) = doc.as_str() else {
            ingest.reject("NotJson", &"a TraceSegmentDocuments entry that is not a string");
            unprocessed.push(json!({"ErrorCode": "NotJson", "Message": "not a string"}));
            continue;
        };
        if let Err(invalid) = ingest.accept(text.as_bytes(), now) {
            let id = serde_json::from_str::<Value>(text)
                .ok()
                .and_then(|v| v.get("id").and_then(Value::as_str).map(str::to_string));
            let mut entry = json!({"ErrorCode": invalid.code, "Message": invalid.detail});
            if let (Some(id), Value::Object(m)) = (id, &mut entry) {
                m.insert("Id".into(), json!(id));
            }
            unprocessed.push(entry);
        }
    }
    Ok(json!({ "UnprocessedTraceSegments": unprocessed }))
}

/// GetServiceGraph: the graph of the traces that ran within the window.
pub fn get_service_graph(store: &Store, request: &[u8]) -> Result<Value, ApiError> {
    let map = body(request)?;
    let (start, end) = window(&map)?;
    let docs: Vec<_> = store
        .traces_between(start, end, TimeRange::Service)
        .into_iter()
        .flat_map(|t| t.documents)
        .collect();
    let mut graph = service_graph(&docs);
    if let Value::Object(m) = &mut graph {
        m.insert("StartTime".into(), json!(start));
        m.insert("EndTime".into(), json!(end));
        m.insert("ContainsOldGroupVersions".into(), json!(false));
    }
    Ok(graph)
}

/// GetTraceGraph: the graph of the named traces.
pub fn get_trace_graph(store: &Store, request: &[u8]) -> Result<Value, ApiError> {
    let map = body(request)?;
    let docs: Vec<_> = trace_ids(&map)?
        .iter()
        .filter_map(|id| store.trace(id))
        .flat_map(|t| t.documents)
        .collect();
    Ok(service_graph(&docs))
}

/// GetTraceSummaries: the traces in the window matching the filter expression, newest first,
/// a page at a time.
pub fn get_trace_summaries(store: &Store, request: &[u8], now: f64) -> Result<Value, ApiError> {
    let map = body(request)?;
    let (start, end) = window(&map)?;
    let range = match map.get("TimeRangeType").and_then(Value::as_str) {
        None | Some("TraceId") => TimeRange::TraceId,
        Some("Event") => TimeRange::Event,
        Some("Service") => TimeRange::Service,
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "TimeRangeType must be TraceId, Event or Service, got {other:?}"
            )))
        }
    };
    let expression = map
        .get("FilterExpression")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let filter = filter::parse(expression).map_err(|e| ApiError::invalid(e.to_string()))?;
    let offset = match map.get("NextToken").and_then(Value::as_str) {
        None | Some("") => 0,
        Some(token) => token
            .parse::<usize>()
            .map_err(|_| ApiError::invalid(format!("NextToken {token:?} is not one this collector gave")))?,
    };
    let traces = store.traces_between(start, end, range);
    let processed = traces.len();
    let matching: Vec<Value> = traces
        .iter()
        .filter(|t| filter.matches(&t.documents))
        .skip(offset)
        .take(SUMMARIES_PER_PAGE + 1)
        .map(|t| trace::summary(&t.id, &t.documents))
        .collect();
    let more = matching.len() > SUMMARIES_PER_PAGE;
    let page: Vec<Value> = matching.into_iter().take(SUMMARIES_PER_PAGE).collect();
    let mut response = json!({
        "TraceSummaries": page,
        "ApproximateTime": now,
        "TracesProcessedCount": processed,
    });
    if more {
        if let Value::Object(m) = &mut response {
            m.insert(
                "NextToken".into(),
                json!((offset + SUMMARIES_PER_PAGE).to_string()),
            );
        }
    }
    Ok(response)
}

/// BatchGetTraces: each named trace's documents, assembled; ids the store does not have come
/// back in `UnprocessedTraceIds`.
pub fn batch_get_traces(store: &Store, request: &[u8]) -> Result<Value, ApiError> {
    let map = body(request)?;
    let mut traces = Vec::new();
    let mut missing = Vec::new();
    for id in trace_ids(&map)? {
        let Some(found) = store.trace(&id) else {
            missing.push(json!(id));
            continue;
        };
        let segments: Vec<Value> = trace::assembled(&found.documents)
            .into_iter()
            .map(|doc| {
                json!({
                    "Id": doc.get("id").cloned().unwrap_or(Value::Null),
                    "Document": doc.to_string(),
                })
            })
            .collect();
        traces.push(json!({
            "Id": id,
            "Duration": trace::duration(&found.documents),
            "LimitExceeded": false,
            "Segments": segments,
        }));
    }
    Ok(json!({ "Traces": traces, "UnprocessedTraceIds": missing }))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use serde_json::{json, Value};

    use super::{
        batch_get_traces, get_trace_graph, get_trace_summaries, put_trace_segments, SUMMARIES_PER_PAGE,
    };
    use crate::ingest::{ByteBudget, Ingest};
    use crate::store::{Store, StoreSettings};
    use crate::telemetry::Counters;

    fn ingest() -> Ingest {
        let settings = StoreSettings::in_memory(Duration::from_secs(3600));
        let (store, _) = Store::open(settings, 0.0).unwrap();
        Ingest::new(
            Arc::new(store),
            None,
            Arc::new(ByteBudget::new(0)),
            Counters::register(&skywatch_telemetry::Registry::new()),
            skywatch_runtime::Journal::new("test"),
        )
    }

    fn segment(trace: u32, id: u32, name: &str, extra: &str) -> String {
        format!(
            r#"{{"id":"{id:016x}","trace_id":"1-{trace:08x}-000000000000000000000001","name":"{name}","start_time":{trace},"end_time":{}{extra}}}"#,
            f64::from(trace) + 0.5
        )
    }

    fn put(ingest: &Ingest, docs: &[String]) -> Value {
        let body = json!({ "TraceSegmentDocuments": docs }).to_string();
        put_trace_segments(ingest, body.as_bytes(), 1.0).unwrap()
    }

    #[test]
    fn put_trace_segments_answers_the_refused_with_their_id_and_code() {
        let ingest = ingest();
        let answer = put(
            &ingest,
            &[
                segment(100, 1, "ok", ""),
                r#"{"id":"0000000000000002","name":"x","start_time":1,"end_time":2}"#.to_string(),
                "not json".to_string(),
                format!(r#"{{"id":"0000000000000003","pad":"{}"}}"#, "x".repeat(70_000)),
            ],
        );
        let unprocessed = answer["UnprocessedTraceSegments"].as_array().unwrap();
        let codes: Vec<&str> = unprocessed
            .iter()
            .map(|u| u["ErrorCode"].as_str().unwrap())
            .collect();
        assert_eq!(codes, ["MissingTraceId", "NotJson", "DocumentTooLarge"]);
        assert_eq!(unprocessed[0]["Id"], "0000000000000002");
        assert_eq!(ingest.counters.received.get(&"tcp"), 4);
        assert_eq!(ingest.counters.stored.get(), 1);
        let error = put_trace_segments(&ingest, b"{}", 1.0).unwrap_err();
        assert!(
            error.message.contains("TraceSegmentDocuments is required"),
            "{error}"
        );
    }

    #[test]
    fn summaries_come_a_page_at_a_time_newest_first() {
        let ingest = ingest();
        let docs: Vec<String> = (0..250).map(|i| segment(1000 + i, i + 1, "api", "")).collect();
        put(&ingest, &docs);
        let mut token: Option<String> = None;
        let mut seen = Vec::new();
        loop {
            let mut request = json!({"StartTime": 0, "EndTime": 5000});
            if let Some(t) = &token {
                request["NextToken"] = json!(t);
            }
            let page = get_trace_summaries(&ingest.store, request.to_string().as_bytes(), 1.0).unwrap();
            let ids: Vec<String> = page["TraceSummaries"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["Id"].as_str().unwrap().to_string())
                .collect();
            assert!(ids.len() <= SUMMARIES_PER_PAGE);
            seen.extend(ids);
            match page.get("NextToken").and_then(Value::as_str) {
                Some(t) => token = Some(t.to_string()),
                None => break,
            }
        }
        assert_eq!(seen.len(), 250);
        assert_eq!(seen[0], "1-000004e1-000000000000000000000001", "newest first");
        let mut unique = seen.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 250);
    }

    #[test]
    fn time_range_types_pick_traces_by_their_id_their_arrival_or_their_segments() {
        let ingest = ingest();
        // A trace whose id says 100 but whose segments ran at 5000.
        put(
            &ingest,
            &[r#"{"id":"0000000000000001","trace_id":"1-00000064-000000000000000000000001","name":"a","start_time":5000,"end_time":5001}"#.to_string()],
        );
        let count = |range: &str, start: u32, end: u32| {
            let request = json!({"StartTime": start, "EndTime": end, "TimeRangeType": range}).to_string();
            get_trace_summaries(&ingest.store, request.as_bytes(), 1.0).unwrap()["TraceSummaries"]
                .as_array()
                .unwrap()
                .len()
        };
        assert_eq!(count("TraceId", 50, 150), 1);
        assert_eq!(count("TraceId", 4000, 6000), 0);
        assert_eq!(count("Service", 4000, 6000), 1);
        // Received at 1.0 (the `now` of put).
        assert_eq!(count("Event", 0, 2), 1);
        assert_eq!(count("Event", 3, 9), 0);
        for (body, words) in [
            (
                json!({"StartTime": 0, "EndTime": 1, "TimeRangeType": "Bogus"}),
                "TimeRangeType",
            ),
            (json!({"EndTime": 1}), "StartTime is required"),
            (
                json!({"StartTime": 5, "EndTime": 1}),
                "EndTime is before StartTime",
            ),
            (
                json!({"StartTime": 0, "EndTime": 1, "NextToken": "x"}),
                "NextToken",
            ),
            (
                json!({"StartTime": 0, "EndTime": 1, "FilterExpression": "edge(\"a\",\"b\")"}),
                "not supported",
            ),
        ] {
            let error = get_trace_summaries(&ingest.store, body.to_string().as_bytes(), 1.0).unwrap_err();
            assert_eq!(error.code, "InvalidRequestException");
            assert!(error.message.contains(words), "{error}");
        }
    }

    #[test]
    fn trace_graph_and_batch_get_traces_answer_for_the_ids_named() {
        let ingest = ingest();
        put(
            &ingest,
            &[
                segment(100, 1, "web", ""),
                segment(200, 2, "worker", r#","fault":true"#),
            ],
        );
        let graph = get_trace_graph(
            &ingest.store,
            br#"{"TraceIds":["1-000000c8-000000000000000000000001"]}"#,
        )
        .unwrap();
        let names: Vec<&str> = graph["Services"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["Name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            ["worker", "worker"],
            "the worker and its client only: {graph:#}"
        );
        let traces = batch_get_traces(
            &ingest.store,
            br#"{"TraceIds":["1-00000064-000000000000000000000001","1-00000001-000000000000000000000009"]}"#,
        )
        .unwrap();
        assert_eq!(traces["Traces"].as_array().unwrap().len(), 1);
        assert_eq!(
            traces["UnprocessedTraceIds"],
            json!(["1-00000001-000000000000000000000009"])
        );
        let document: Value =
            serde_json::from_str(traces["Traces"][0]["Segments"][0]["Document"].as_str().unwrap()).unwrap();
        assert_eq!(document["name"], "web");
        let too_many = json!({"TraceIds": vec!["1-00000001-000000000000000000000001"; 101]}).to_string();
        assert!(batch_get_traces(&ingest.store, too_many.as_bytes()).is_err());
        assert!(get_trace_graph(&ingest.store, b"[1]").is_err());
    }
}

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

//! One trace as the X-Ray read API shows it, from its documents in whatever order they came:
//! the summary GetTraceSummaries lists ([`summary`]) and the documents BatchGetTraces returns
//! ([`assembled`]: one per real segment, independent subsegments merged under their parents,
//! an inferred segment for each call nothing instrumented answered).
//!
//! Trace-level facts come from the root segment (the segment without a `parent_id`; the
//! earliest one when a trace has several or none): its response time, HTTP block, error and
//! fault flags. A throttle anywhere, an in-progress document anywhere, count for the trace.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use crate::segment::Document;
use crate::service_graph::inferred;

/// The segment a trace starts at.
pub fn root(docs: &[Document]) -> Option<&Document> {
    let segments = || docs.iter().filter(|d| !d.independent_subsegment);
    let earliest = |a: &&Document, b: &&Document| a.start_time.total_cmp(&b.start_time);
    segments()
        .filter(|d| d.parent_id.is_none())
        .min_by(earliest)
        .or_else(|| segments().min_by(earliest))
}

/// Latest end minus earliest start (seconds); in-progress documents count up to their start.
pub fn duration(docs: &[Document]) -> f64 {
    let start = docs.iter().map(|d| d.start_time).fold(f64::INFINITY, f64::min);
    let end = docs
        .iter()
        .map(|d| d.end_time.unwrap_or(d.start_time))
        .fold(f64::NEG_INFINITY, f64::max);
    if start.is_finite() && end.is_finite() {
        (end - start).max(0.0)
    } else {
        0.0
    }
}

/// The root segment's own time (seconds); `None` while it is in progress.
pub fn response_time(docs: &[Document]) -> Option<f64> {
    let root = root(docs)?;
    root.end_time.map(|end| (end - root.start_time).max(0.0))
}

/// True when `flag` is set on `value` or anywhere below it.
fn anywhere(value: &Value, flag: &str) -> bool {
    value.get(flag).and_then(Value::as_bool) == Some(true) || subsegments(value).any(|s| anywhere(s, flag))
}

fn subsegments(value: &Value) -> impl Iterator<Item = &Value> {
    value
        .get("subsegments")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

fn flag(value: &Value, name: &str) -> bool {
    value.get(name).and_then(Value::as_bool) == Some(true)
}

/// Whether any document of the trace is still in progress.
pub fn is_partial(docs: &[Document]) -> bool {
    docs.iter().any(|d| d.end_time.is_none())
}

/// A service's identity as the summaries name it.
fn service_id(doc: &Value) -> Value {
    let name = doc.get("name").and_then(Value::as_str).unwrap_or_default();
    let mut id = json!({"Name": name, "Names": [name]});
    if let (Some(origin), Value::Object(map)) = (doc.get("origin").and_then(Value::as_str), &mut id) {
        map.insert("Type".into(), json!(origin));
    }
    id
}

/// The TraceSummary of trace `id`.
pub fn summary(id: &str, docs: &[Document]) -> Value {
    let root = root(docs);
    let root_json = root.map(|r| &r.json);
    let mut summary = Map::new();
    summary.insert("Id".into(), json!(id));
    let start = docs.iter().map(|d| d.start_time).fold(f64::INFINITY, f64::min);
    if start.is_finite() {
        summary.insert("StartTime".into(), json!(start));
    }
    summary.insert("Duration".into(), json!(round_micros(duration(docs))));
    if let Some(time) = response_time(docs) {
        summary.insert("ResponseTime".into(), json!(round_micros(time)));
    }
    let root_flag = |name| root_json.is_some_and(|r| flag(r, name));
    summary.insert("HasFault".into(), json!(root_flag("fault")));
    summary.insert("HasError".into(), json!(root_flag("error")));
    summary.insert(
        "HasThrottle".into(),
        json!(docs.iter().any(|d| anywhere(&d.json, "throttle"))),
    );
    summary.insert("IsPartial".into(), json!(is_partial(docs)));
    if let Some(http) = root_json.and_then(|r| r.get("http")) {
        let mut out = Map::new();
        for (key, pointer) in [
            ("HttpURL", "/request/url"),
            ("HttpMethod", "/request/method"),
            ("UserAgent", "/request/user_agent"),
            ("ClientIp", "/request/client_ip"),
            ("HttpStatus", "/response/status"),
        ] {
            if let Some(v) = http.pointer(pointer).filter(|v| !v.is_null()) {
                out.insert(key.into(), v.clone());
            }
        }
        summary.insert("Http".into(), Value::Object(out));
    }
    summary.insert("Annotations".into(), annotations(docs));
    summary.insert("Users".into(), users(docs));
    let mut seen = std::collections::BTreeSet::new();
    let mut services: Vec<Value> = Vec::new();
    for doc in docs.iter().filter(|d| !d.independent_subsegment) {
        let key = (
            doc.json.get("name").and_then(Value::as_str).unwrap_or_default(),
            doc.json.get("origin").and_then(Value::as_str).unwrap_or_default(),
        );
        if seen.insert(key) {
            services.push(service_id(&doc.json));
        }
    }
    summary.insert("ServiceIds".into(), Value::Array(services));
    if let Some(root) = root_json {
        summary.insert("EntryPoint".into(), service_id(root));
    }
    let (faults, errors) = root_causes(docs);
    summary.insert("FaultRootCauses".into(), Value::Array(faults));
    summary.insert("ErrorRootCauses".into(), Value::Array(errors));
    summary.insert("ResponseTimeRootCauses".into(), json!([]));
    summary.insert("Revision".into(), json!(docs.len()));
    summary.insert("ResourceARNs".into(), resource_arns(docs));
    summary.insert("InstanceIds".into(), instance_ids(docs));
    summary.insert("AvailabilityZones".into(), json!([]));
    Value::Object(summary)
}

fn round_micros(t: f64) -> f64 {
    (t * 1e6).round() / 1e6
}

/// Every annotation value in the trace with the services that set it.
fn annotations(docs: &[Document]) -> Value {
    fn walk(value: &Value, service: &Value, found: &mut BTreeMap<String, Vec<(Value, Value)>>) {
        if let Some(map) = value.get("annotations").and_then(Value::as_object) {
            for (key, v) in map {
                let typed = match v {
                    Value::String(s) => json!({"StringValue": s}),
                    Value::Number(n) => json!({"NumberValue": n}),
                    Value::Bool(b) => json!({"BooleanValue": b}),
                    _ => continue,
                };
                let entry = found.entry(key.clone()).or_default();
                match entry.iter_mut().find(|(t, _)| *t == typed) {
                    Some((_, services)) => {
                        if let Value::Array(list) = services {
                            if !list.contains(service) {
                                list.push(service.clone());
                            }
                        }
                    }
                    None => entry.push((typed, json!([service]))),
                }
            }
        }
        for sub in subsegments(value) {
            walk(sub, service, found);
        }
    }
    let mut found: BTreeMap<String, Vec<(Value, Value)>> = BTreeMap::new();
    for doc in docs {
        walk(&doc.json, &service_id(&doc.json), &mut found);
    }
    Value::Object(
        found
            .into_iter()
            .map(|(key, values)| {
                let values: Vec<Value> = values
                    .into_iter()
                    .map(|(v, s)| json!({"AnnotationValue": v, "ServiceIds": s}))
                    .collect();
                (key, Value::Array(values))
            })
            .collect(),
    )
}

fn users(docs: &[Document]) -> Value {
    let mut users: Vec<Value> = Vec::new();
    for doc in docs.iter().filter(|d| !d.independent_subsegment) {
        if let Some(user) = doc.json.get("user").and_then(Value::as_str) {
            if !users.iter().any(|u| u["UserName"] == user) {
                users.push(json!({"UserName": user, "ServiceIds": [service_id(&doc.json)]}));
            }
        }
    }
    Value::Array(users)
}

fn resource_arns(docs: &[Document]) -> Value {
    let mut arns: Vec<Value> = Vec::new();
    for doc in docs {
        if let Some(arn) = doc.json.get("resource_arn").and_then(Value::as_str) {
            let arn = json!({"ARN": arn});
            if !arns.contains(&arn) {
                arns.push(arn);
            }
        }
    }
    Value::Array(arns)
}

fn instance_ids(docs: &[Document]) -> Value {
    let mut ids: Vec<Value> = Vec::new();
    for doc in docs {
        if let Some(id) = doc.json.pointer("/aws/ec2/instance_id").and_then(Value::as_str) {
            let id = json!({"Id": id});
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
    }
    Value::Array(ids)
}

/// Where faults and errors started: for each segment, the deepest subsegments carrying the flag
/// (none below them does), as an entity path from the service down with their exceptions.
fn root_causes(docs: &[Document]) -> (Vec<Value>, Vec<Value>) {
    let client_impacting = |name| root(docs).is_some_and(|r| flag(&r.json, name));
    let mut out = (Vec::new(), Vec::new());
    for (kind, into) in [("fault", &mut out.0), ("error", &mut out.1)] {
        for doc in docs.iter().filter(|d| !d.independent_subsegment) {
            if !anywhere(&doc.json, kind) {
                continue;
            }
            let mut paths = Vec::new();
            deepest(&doc.json, kind, &mut Vec::new(), &mut paths);
            for path in paths {
                let mut service = service_id(&doc.json);
                if let Value::Object(map) = &mut service {
                    map.insert("Inferred".into(), json!(false));
                    map.insert("EntityPath".into(), Value::Array(path));
                }
                into.push(json!({"Services": [service], "ClientImpacting": client_impacting(kind)}));
            }
        }
    }
    out
}

fn deepest(value: &Value, kind: &str, path: &mut Vec<Value>, paths: &mut Vec<Vec<Value>>) {
    let name = value.get("name").and_then(Value::as_str).unwrap_or_default();
    let exceptions: Vec<Value> = value
        .pointer("/cause/exceptions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|e| {
            json!({
                "Name": e.get("type").and_then(Value::as_str).unwrap_or_default(),
                "Message": e.get("message").and_then(Value::as_str).unwrap_or_default(),
            })
        })
        .collect();
    path.push(json!({
        "Name": name,
        "Exceptions": exceptions,
        "Remote": value.get("namespace").and_then(Value::as_str) == Some("remote"),
    }));
    let flagged: Vec<&Value> = subsegments(value).filter(|s| anywhere(s, kind)).collect();
    if flagged.is_empty() {
        if flag(value, kind) {
            paths.push(path.clone());
        }
    } else {
        for sub in flagged {
            deepest(sub, kind, path, paths);
        }
    }
    path.pop();
}

/// BatchGetTraces's documents for one trace: one per real segment with the independent
/// subsegments that belong in it merged under their parents (an independent subsegment whose
/// parent never arrived stays a document of its own), then an inferred segment for each
/// downstream call no instrumented segment answered; ordered by start time.
pub fn assembled(docs: &[Document]) -> Vec<Value> {
    // Independent subsegments by the id they hang under, embedded form (what placed them
    // removed), in arrival order.
    let mut children: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
    for sub in docs.iter().filter(|d| d.independent_subsegment) {
        let Some(parent) = sub.parent_id.as_deref() else {
            continue;
        };
        let mut embedded = sub.json.clone();
        if let Value::Object(map) = &mut embedded {
            for key in ["type", "trace_id", "parent_id"] {
                map.remove(key);
            }
        }
        children.entry(parent).or_default().push(embedded);
    }
    // One walk down each segment, taking each (sub)segment's children as it passes (children
    // taken in turn bring theirs): linear in the documents.
    let mut segments: Vec<Value> = docs
        .iter()
        .filter(|d| !d.independent_subsegment)
        .map(|d| d.json.clone())
        .collect();
    for segment in &mut segments {
        adopt(segment, &mut children, 0);
    }
    // What found no parent (its group is still waiting) stays a document of its own, as sent.
    let orphans = docs
        .iter()
        .filter(|d| d.independent_subsegment)
        .filter(|d| d.parent_id.as_deref().is_some_and(|p| children.contains_key(p)))
        .map(|d| d.json.clone());
    let answered: std::collections::BTreeSet<&str> = docs
        .iter()
        .filter(|d| !d.independent_subsegment)
        .filter_map(|d| d.parent_id.as_deref())
        .collect();
    let mut inferred_segments = Vec::new();
    for segment in &segments {
        inferred_calls(segment, segment, &answered, &mut inferred_segments);
    }
    let mut all: Vec<Value> = segments
        .into_iter()
        .chain(orphans)
        .chain(inferred_segments)
        .collect();
    all.sort_by(|a, b| {
        let start = |v: &Value| v.get("start_time").and_then(Value::as_f64).unwrap_or(0.0);
        start(a).total_cmp(&start(b))
    });
    all
}

/// How deep independent subsegments are nested under their parents in BatchGetTraces's
/// documents (a document itself holds at most 64 levels: the JSON parser's limit of 128).
const MAX_ADOPTED_DEPTH: usize = 64;

/// Puts under `value` (a segment or subsegment, then each of its subsegments in turn) the
/// independent subsegments waiting for its id.
fn adopt(value: &mut Value, children: &mut BTreeMap<&str, Vec<Value>>, depth: usize) {
    // Streamed subsegments nest under each other as deep as a sender likes: past this depth
    // they stay documents of their own, so nothing that walks the tree (here, the inferred
    // calls, JSON output) can run out of stack.
    if depth >= MAX_ADOPTED_DEPTH {
        return;
    }
    let id = value
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if let (Some(mine), Value::Object(map)) = (children.remove(id.as_str()), &mut *value) {
        let list = map
            .entry("subsegments")
            .or_insert_with(|| Value::Array(Vec::new()));
        match list {
            Value::Array(list) => list.extend(mine),
            // A `subsegments` that is not a list holds no subsegments: ours take its place.
            other => *other = Value::Array(mine),
        }
    }
    if let Some(Value::Array(list)) = value.get_mut("subsegments") {
        for sub in list {
            adopt(sub, children, depth + 1);
        }
    }
}

fn inferred_calls(
    segment: &Value,
    value: &Value,
    answered: &std::collections::BTreeSet<&str>,
    out: &mut Vec<Value>,
) {
    for sub in subsegments(value) {
        let namespace = sub.get("namespace").and_then(Value::as_str).unwrap_or_default();
        let id = sub.get("id").and_then(Value::as_str).unwrap_or_default();
        if (namespace == "aws" || namespace == "remote") && !answered.contains(id) {
            let (name, origin) = inferred(sub, namespace);
            let mut doc = Map::new();
            doc.insert("id".into(), json!(inferred_id(id)));
            doc.insert("name".into(), json!(name));
            for key in [
                "start_time",
                "end_time",
                "http",
                "aws",
                "sql",
                "error",
                "fault",
                "throttle",
            ] {
                if let Some(v) = sub.get(key) {
                    doc.insert(key.into(), v.clone());
                }
            }
            if let Some(trace) = segment.get("trace_id") {
                doc.insert("trace_id".into(), trace.clone());
            }
            doc.insert("parent_id".into(), json!(id));
            doc.insert("origin".into(), json!(origin));
            doc.insert("inferred".into(), json!(true));
            out.push(Value::Object(doc));
        }
        inferred_calls(segment, sub, answered, out);
    }
}

/// A stable id for the inferred segment of call `id` (FNV-1a; distinct from the call's own).
fn inferred_id(id: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in b"inferred:".iter().chain(id.as_bytes()) {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::{assembled, summary};
    use crate::segment::{parse, Document};

    const TRACE: &str = "1-5759e988-bd862e3fe1be46a994272793";

    fn docs(lines: &[&str]) -> Vec<Document> {
        lines
            .iter()
            .flat_map(|l| parse(l.replace("TRACE", TRACE).as_bytes()).unwrap())
            .collect()
    }

    fn shop() -> Vec<Document> {
        docs(&[
            // The subsegment arrives before its parent, as the Python SDK streams it.
            r#"{"type":"subsegment","id":"00000000000000c1","trace_id":"TRACE","parent_id":"00000000000000b1","name":"dynamodb","namespace":"aws","start_time":10.2,"end_time":10.3,"aws":{"table_name":"orders"},"throttle":true,"error":true,"http":{"response":{"status":429}}}"#,
            r#"{"id":"00000000000000a1","trace_id":"TRACE","name":"shop","start_time":10.0,"end_time":10.5,"fault":true,"http":{"request":{"method":"GET","url":"http://shop/buy"},"response":{"status":500}},"annotations":{"order":"o-1","amount":12},"user":"ann","subsegments":[{"id":"00000000000000b1","name":"save","start_time":10.1,"end_time":10.4,"fault":true,"cause":{"exceptions":[{"type":"KeyError","message":"sku"}]}}]}"#,
        ])
    }

    #[test]
    fn a_summary_takes_the_roots_flags_and_any_throttle() {
        let s = summary(TRACE, &shop());
        assert_eq!(s["Duration"], 0.5);
        assert_eq!(s["ResponseTime"], 0.5);
        assert_eq!(s["HasFault"], true);
        assert_eq!(s["HasError"], false);
        assert_eq!(s["HasThrottle"], true);
        assert_eq!(s["IsPartial"], false);
        assert_eq!(s["Http"]["HttpStatus"], 500);
        assert_eq!(s["Http"]["HttpMethod"], "GET");
        assert_eq!(
            s["Annotations"]["order"][0]["AnnotationValue"]["StringValue"],
            "o-1"
        );
        assert_eq!(
            s["Annotations"]["amount"][0]["AnnotationValue"]["NumberValue"],
            12
        );
        assert_eq!(s["Users"][0]["UserName"], "ann");
        assert_eq!(s["EntryPoint"]["Name"], "shop");
        let path = &s["FaultRootCauses"][0]["Services"][0]["EntityPath"];
        assert_eq!(path[0]["Name"], "shop");
        assert_eq!(path[1]["Name"], "save");
        assert_eq!(path[1]["Exceptions"][0]["Name"], "KeyError");
    }

    #[test]
    fn an_independent_subsegment_is_merged_under_its_parent_and_its_call_inferred() {
        let out = assembled(&shop());
        assert_eq!(out.len(), 2, "{out:#?}");
        let shop = &out[0];
        let merged = &shop["subsegments"][0]["subsegments"][0];
        assert_eq!(merged["name"], "dynamodb");
        assert!(merged.get("type").is_none() && merged.get("parent_id").is_none());
        let inferred = &out[1];
        assert_eq!(inferred["name"], "orders");
        assert_eq!(inferred["origin"], "AWS::DynamoDB::Table");
        assert_eq!(inferred["inferred"], true);
        assert_eq!(inferred["parent_id"], "00000000000000c1");
        assert_ne!(inferred["id"], Value::from("00000000000000c1"));
    }

    #[test]
    fn streamed_subsegments_nested_under_each_other_land_in_place_in_any_order() {
        let out = assembled(&docs(&[
            r#"{"type":"subsegment","id":"00000000000000c2","trace_id":"TRACE","parent_id":"00000000000000c1","name":"query","start_time":1.2,"end_time":1.3}"#,
            r#"{"type":"subsegment","id":"00000000000000c1","trace_id":"TRACE","parent_id":"00000000000000b1","name":"load","start_time":1.1,"end_time":1.4}"#,
            r#"{"id":"00000000000000a1","trace_id":"TRACE","name":"api","start_time":1,"end_time":2,"subsegments":[{"id":"00000000000000b1","name":"handler","start_time":1.05,"end_time":1.9}]}"#,
        ]));
        assert_eq!(out.len(), 1, "{out:#?}");
        let handler = &out[0]["subsegments"][0];
        assert_eq!(handler["subsegments"][0]["name"], "load");
        assert_eq!(handler["subsegments"][0]["subsegments"][0]["name"], "query");
    }

    #[test]
    fn a_chain_of_ten_thousand_streamed_subsegments_neither_overflows_nor_is_lost() {
        let mut lines = vec![format!(
            r#"{{"id":"{:016x}","trace_id":"{TRACE}","name":"api","start_time":1,"end_time":2}}"#,
            1
        )];
        for i in 2..10_002u64 {
            lines.push(format!(
                r#"{{"type":"subsegment","id":"{i:016x}","trace_id":"{TRACE}","parent_id":"{:016x}","name":"s","namespace":"remote","start_time":1,"end_time":2}}"#,
                i - 1
            ));
        }
        let docs: Vec<Document> = lines.iter().flat_map(|l| parse(l.as_bytes()).unwrap()).collect();
        // On a thread with a small stack, as the blocking pool's.
        let out = std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(move || {
                let out = assembled(&docs);
                let text: usize = out.iter().map(|d| d.to_string().len()).sum();
                let graph = crate::service_graph::service_graph(&docs);
                (out.len(), text, graph["Services"].as_array().map_or(0, Vec::len))
            })
            .unwrap()
            .join()
            .unwrap();
        // Every subsegment is somewhere: nested up to the depth, then documents of their own.
        assert!(out.0 > 1 && out.1 > 0 && out.2 > 0, "{out:?}");
    }

    #[test]
    fn a_subsegment_whose_parent_never_came_stays_a_document() {
        let out = assembled(&docs(&[
            r#"{"type":"subsegment","id":"00000000000000c1","trace_id":"TRACE","parent_id":"00000000000000ff","name":"work","start_time":1,"end_time":2}"#,
        ]));
        assert_eq!(out.len(), 1);
        assert_eq!(out[0]["name"], "work");
        let s = summary(
            TRACE,
            &docs(&[
                r#"{"type":"subsegment","id":"00000000000000c1","trace_id":"TRACE","parent_id":"00000000000000ff","name":"work","start_time":1,"in_progress":true}"#,
            ]),
        );
        assert_eq!(s["IsPartial"], true);
        assert!(s.get("ResponseTime").is_none());
    }
}

//! The service graph, as X-Ray builds it, as a pure function of segment documents:
//!
//! - a node per service that sends segments, identified by (name, origin) — Lambda's two
//!   segments (`AWS::Lambda`, `AWS::Lambda::Function`) are two nodes;
//! - a `client` node in front of each root service (segments without a `parent_id`), its one
//!   edge carrying the root's own statistics;
//! - an inferred node for each downstream call (`namespace` `aws` or `remote` subsegments, at
//!   any depth): a DynamoDB table (`AWS::DynamoDB::Table`), another AWS service
//!   (`AWS::<Service>`), a database (`Database::SQL`), or a `remote` host — unless the callee is
//!   instrumented (a segment whose `parent_id` is the call's id), whose own node it is then;
//! - edges from caller to callee with the caller's view of each call.
//!
//! Statistics partition completed requests (in-progress ones are left out): fault (5xx; it wins
//! when `error` is set too), error (4xx, throttles — 429 — counted apart), ok. Response time is
//! `end_time - start_time`; histograms count times rounded to the millisecond. Subsegments with
//! no namespace, or `local`, are timeline detail only.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::segment::Document;

/// A node's identity.
type NodeKey = (String, String);

#[derive(Debug, Default, Clone)]
struct Stats {
    ok: u64,
    error_other: u64,
    throttle: u64,
    fault: u64,
    total_time: f64,
    /// Response time in whole milliseconds → count.
    histogram: BTreeMap<u64, u64>,
    start: Option<f64>,
    end: Option<f64>,
}

impl Stats {
    /// Counts one completed request from its document (a segment or a subsegment).
    fn add(&mut self, doc: &Value) {
        let (Some(start), Some(end)) = (
            doc.get("start_time").and_then(Value::as_f64),
            doc.get("end_time").and_then(Value::as_f64),
        ) else {
            return;
        };
        if doc.get("in_progress").and_then(Value::as_bool) == Some(true) {
            return;
        }
        let flag = |k: &str| doc.get(k).and_then(Value::as_bool) == Some(true);
        let status = doc
            .pointer("/http/response/status")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        if flag("fault") || (500..600).contains(&status) {
            self.fault += 1;
        } else if flag("throttle") || status == 429 {
            self.throttle += 1;
        } else if flag("error") || (400..500).contains(&status) {
            self.error_other += 1;
        } else {
            self.ok += 1;
        }
        let time = (end - start).max(0.0);
        self.total_time += time;
        *self.histogram.entry((time * 1000.0).round() as u64).or_insert(0) += 1;
        self.start = Some(self.start.map_or(start, |s| s.min(start)));
        self.end = Some(self.end.map_or(end, |e| e.max(end)));
    }

    fn merge(&mut self, other: &Stats) {
        self.ok += other.ok;
        self.error_other += other.error_other;
        self.throttle += other.throttle;
        self.fault += other.fault;
        self.total_time += other.total_time;
        for (ms, n) in &other.histogram {
            *self.histogram.entry(*ms).or_insert(0) += n;
        }
        for (mine, theirs, pick) in [
            (&mut self.start, other.start, f64::min as fn(f64, f64) -> f64),
            (&mut self.end, other.end, f64::max),
        ] {
            if let Some(t) = theirs {
                *mine = Some(mine.map_or(t, |m| pick(m, t)));
            }
        }
    }

    fn total(&self) -> u64 {
        self.ok + self.error_other + self.throttle + self.fault
    }

    fn summary(&self) -> Value {
        json!({
            "OkCount": self.ok,
            "ErrorStatistics": {
                "ThrottleCount": self.throttle,
                "OtherCount": self.error_other,
                "TotalCount": self.throttle + self.error_other,
            },
            "FaultStatistics": {"OtherCount": self.fault, "TotalCount": self.fault},
            "TotalCount": self.total(),
            "TotalResponseTime": round_seconds(self.total_time),
        })
    }

    fn histogram(&self) -> Value {
        Value::Array(
            self.histogram
                .iter()
                .map(|(ms, n)| json!({"Value": *ms as f64 / 1000.0, "Count": n}))
                .collect(),
        )
    }
}

fn round_seconds(t: f64) -> f64 {
    (t * 1e6).round() / 1e6
}

#[derive(Debug, Default)]
struct Node {
    root: bool,
    active: bool,
    stats: Stats,
    /// The requests it took as the root of a trace: its client's edge.
    root_stats: Stats,
    edges: BTreeMap<NodeKey, Stats>,
}

/// The graph of `docs` (segments and independent subsegments, in any order), in the shape of
/// GetServiceGraph's `Services`.
pub fn service_graph(docs: &[Document]) -> Value {
    // Which calls an instrumented callee answered: call id → callee's node.
    let mut callee_of: BTreeMap<&str, NodeKey> = BTreeMap::new();
    for doc in docs.iter().filter(|d| !d.independent_subsegment) {
        if let Some(parent) = &doc.parent_id {
            callee_of.insert(parent.as_str(), service_key(&doc.json));
        }
    }
    // Each segment's service, by segment id (an independent subsegment belongs to its parent's).
    let mut service_of: BTreeMap<&str, NodeKey> = BTreeMap::new();
    for doc in docs.iter().filter(|d| !d.independent_subsegment) {
        service_of.insert(doc.id.as_str(), service_key(&doc.json));
        index_subsegments(&doc.json, &service_key(&doc.json), &mut service_of);
    }
    // Independent subsegments belong to their parent's service, also when the parent is
    // itself an independent subsegment (SDKs stream nested subsegments this way): placed
    // breadth-first from what is known, each once.
    let mut waiting: BTreeMap<&str, Vec<&Document>> = BTreeMap::new();
    for doc in docs.iter().filter(|d| d.independent_subsegment) {
        if let Some(parent) = doc.parent_id.as_deref() {
            waiting.entry(parent).or_default().push(doc);
        }
    }
    let mut frontier: Vec<&str> = service_of.keys().copied().collect();
    while let Some(id) = frontier.pop() {
        let Some(children) = waiting.remove(id) else {
            continue;
        };
        let Some(service) = service_of.get(id).cloned() else {
            continue;
        };
        for child in children {
            if service_of.contains_key(child.id.as_str()) {
                continue;
            }
            service_of.insert(child.id.as_str(), service.clone());
            let mut nested = BTreeMap::new();
            index_subsegments(&child.json, &service, &mut nested);
            for (nested_id, nested_service) in nested {
                service_of.insert(nested_id, nested_service);
                frontier.push(nested_id);
            }
            frontier.push(child.id.as_str());
        }
    }
    let segment_ids: std::collections::BTreeSet<&str> = docs
        .iter()
        .filter(|d| !d.independent_subsegment)
        .map(|d| d.id.as_str())
        .collect();
    // Services that send segments of their own (their nodes' statistics are theirs, not their
    // callers' view), known before any call is counted, whatever the arrival order.
    let mut nodes: BTreeMap<NodeKey, Node> = BTreeMap::new();
    for doc in docs.iter().filter(|d| !d.independent_subsegment) {
        nodes.entry(service_key(&doc.json)).or_default().active = true;
    }
    for doc in docs {
        if doc.independent_subsegment {
            let Some(caller) = doc.parent_id.as_deref().and_then(|p| service_of.get(p)) else {
                continue;
            };
            calls(&doc.json, caller, &callee_of, &mut nodes);
            continue;
        }
        let key = service_key(&doc.json);
        let node = nodes.entry(key.clone()).or_default();
        node.stats.add(&doc.json);
        if doc.parent_id.is_none() {
            node.root = true;
            node.root_stats.add(&doc.json);
        }
        // Called by another service's segment directly (Lambda's service segment and its
        // function's): an edge from that service, with this segment's view.
        let caller = doc
            .parent_id
            .as_deref()
            .filter(|p| segment_ids.contains(p))
            .and_then(|p| service_of.get(p))
            .cloned();
        if let Some(caller) = caller.filter(|c| *c != key) {
            nodes
                .entry(caller)
                .or_default()
                .edges
                .entry(key.clone())
                .or_default()
                .add(&doc.json);
        }
        if let Some(subs) = doc.json.get("subsegments").and_then(Value::as_array) {
            for sub in subs {
                calls(sub, &key, &callee_of, &mut nodes);
            }
        }
    }
    // A client in front of each root service, with the root's own statistics.
    let roots: Vec<(NodeKey, Stats)> = nodes
        .iter()
        .filter(|(_, n)| n.root)
        .map(|(k, n)| (k.clone(), n.root_stats.clone()))
        .collect();
    for (key, stats) in roots {
        let client = nodes.entry((key.0.clone(), "client".into())).or_default();
        client.edges.entry(key).or_default().merge(&stats);
    }
    render(&nodes)
}

/// A segment's node: its name and its origin (empty when it has none).
fn service_key(doc: &Value) -> NodeKey {
    (
        doc.get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        doc.get("origin")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
    )
}

fn index_subsegments<'d>(doc: &'d Value, service: &NodeKey, into: &mut BTreeMap<&'d str, NodeKey>) {
    for sub in doc
        .get("subsegments")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(id) = sub.get("id").and_then(Value::as_str) {
            into.insert(id, service.clone());
        }
        index_subsegments(sub, service, into);
    }
}

/// The downstream calls in subsegment `sub` (and those under it), made by `caller`.
fn calls(
    sub: &Value,
    caller: &NodeKey,
    callee_of: &BTreeMap<&str, NodeKey>,
    nodes: &mut BTreeMap<NodeKey, Node>,
) {
    let namespace = sub.get("namespace").and_then(Value::as_str).unwrap_or_default();
    if namespace == "aws" || namespace == "remote" {
        let id = sub.get("id").and_then(Value::as_str).unwrap_or_default();
        let callee = callee_of
            .get(id)
            .cloned()
            .unwrap_or_else(|| inferred(sub, namespace));
        let edge = nodes
            .entry(caller.clone())
            .or_default()
            .edges
            .entry(callee.clone())
            .or_default();
        edge.add(sub);
        let node = nodes.entry(callee).or_default();
        if !node.active {
            // An inferred node's statistics are its callers' view of it.
            node.stats.add(sub);
        }
    }
    for nested in sub
        .get("subsegments")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        calls(nested, caller, callee_of, nodes);
    }
}

/// The node X-Ray infers for a call nothing instrumented answered.
pub(crate) fn inferred(sub: &Value, namespace: &str) -> NodeKey {
    let name = sub.get("name").and_then(Value::as_str).unwrap_or_default();
    if namespace == "aws" {
        let service = aws_service_name(name);
        if let Some(table) = sub.pointer("/aws/table_name").and_then(Value::as_str) {
            return (table.to_string(), format!("AWS::{service}::Table"));
        }
        return (service.clone(), format!("AWS::{service}"));
    }
    if sub.get("sql").is_some() {
        return (name.to_string(), "Database::SQL".to_string());
    }
    (name.to_string(), "remote".to_string())
}

/// AWS service names as X-Ray shows them (SDKs send botocore's lower-case prefixes).
fn aws_service_name(name: &str) -> String {
    let known = [
        ("dynamodb", "DynamoDB"),
        ("s3", "S3"),
        ("sqs", "SQS"),
        ("sns", "SNS"),
        ("lambda", "Lambda"),
        ("kinesis", "Kinesis"),
        ("secretsmanager", "SecretsManager"),
        ("ssm", "SSM"),
        ("sts", "STS"),
        ("ec2", "EC2"),
        ("stepfunctions", "StepFunctions"),
        ("states", "StepFunctions"),
        ("events", "EventBridge"),
    ];
    known
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map_or_else(|| name.to_string(), |(_, v)| (*v).to_string())
}

fn render(nodes: &BTreeMap<NodeKey, Node>) -> Value {
    // ReferenceIds in a stable order (by type, then name), so the same segments give the same
    // graph.
    let mut keys: Vec<&NodeKey> = nodes.keys().collect();
    keys.sort_by(|a, b| (&a.1, &a.0).cmp(&(&b.1, &b.0)));
    let references: BTreeMap<&NodeKey, usize> = keys.iter().enumerate().map(|(i, k)| (*k, i)).collect();
    let reference = |k: &NodeKey| references.get(k).copied().unwrap_or(0);
    let services: Vec<Value> = keys
        .iter()
        .map(|key| {
            let node = &nodes[*key];
            let client = key.1 == "client";
            let edges: Vec<Value> = node
                .edges
                .iter()
                .map(|(to, stats)| {
                    json!({
                        "ReferenceId": reference(to),
                        "StartTime": stats.start,
                        "EndTime": stats.end,
                        "SummaryStatistics": stats.summary(),
                        "ResponseTimeHistogram": stats.histogram(),
                        "Aliases": [],
                    })
                })
                .collect();
            let mut service = json!({
                "ReferenceId": reference(key),
                "Name": key.0,
                "Names": [key.0],
                "Root": node.root,
                "Type": key.1,
                "State": if node.active { "active" } else { "unknown" },
                "Edges": edges,
            });
            if !client {
                if let Value::Object(map) = &mut service {
                    map.insert("StartTime".into(), json!(node.stats.start));
                    map.insert("EndTime".into(), json!(node.stats.end));
                    map.insert("SummaryStatistics".into(), node.stats.summary());
                    map.insert("DurationHistogram".into(), node.stats.histogram());
                    map.insert("ResponseTimeHistogram".into(), node.stats.histogram());
                }
            }
            service
        })
        .collect();
    json!({ "Services": services })
}

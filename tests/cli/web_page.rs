//! The collector's web page in a real browser (headless Chromium driven over the DevTools
//! protocol by `clients/browser.py`): a fixed set of segments and a local log store holding
//! lines with their trace ids; the test clicks node → trace → timeline → logs, reads the DOM,
//! and keeps screenshots in `target/test-artifacts/web-page/`. Trace data and log lines carrying
//! markup must show as text and run nothing.

use std::path::Path;
use std::process::Command;

use serde_json::{json, Value};

use crate::collector::Collector;

const CLIENTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/cli/clients");
const ARTIFACTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/target/test-artifacts/web-page");
const XSS_NAME: &str = "<img src=x onerror=alert(1)>";

fn put_segments(collector: &Collector, docs: &[Value]) {
    let answer = collector.put_segments(docs);
    assert!(answer.contains(r#""UnprocessedTraceSegments":[]"#), "{answer}");
}

pub fn chromium_available() -> bool {
    Command::new("chromium")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn the_page_shows_the_map_a_nodes_traces_a_timeline_and_its_logs_and_runs_no_trace_data() {
    assert!(chromium_available(), "chromium is missing: .ci/setup installs it");
    let dir = tempfile::tempdir().unwrap();
    let collector = Collector::start(dir.path(), "", &[]);
    let now = now_secs();
    let t1 = format!("1-{now:08x}-0000000000000000000000a1");
    let t2 = format!("1-{now:08x}-0000000000000000000000a2");
    let at = now as f64 - 60.0;
    put_segments(
        &collector,
        &[
            json!({
                "id": "00000000000000a1", "trace_id": t1, "name": "web", "start_time": at, "end_time": at + 0.42,
                "fault": true,
                "http": {"request": {"method": "POST", "url": "http://shop.example/checkout"}, "response": {"status": 502}},
                "annotations": {"order": "o-17"},
                "subsegments": [
                    {"id": "00000000000000b1", "name": "DynamoDB", "namespace": "aws", "start_time": at + 0.01, "end_time": at + 0.05,
                     "aws": {"operation": "PutItem", "table_name": "orders"}, "http": {"response": {"status": 200}}},
                    {"id": "00000000000000b2", "name": "payments.example.com", "namespace": "remote", "start_time": at + 0.06, "end_time": at + 0.4,
                     "fault": true, "http": {"request": {"method": "POST", "url": "https://payments.example.com/charge"}, "response": {"status": 503}},
                     "cause": {"exceptions": [{"id": "e1", "type": "HTTPError", "message": "503 Service Unavailable",
                                               "stack": [{"path": "app/pay.py", "line": 42, "label": "charge"}]}]}}
                ]
            }),
            json!({
                "id": "00000000000000a2", "trace_id": t2, "name": "web", "start_time": at + 5.0, "end_time": at + 5.08,
                "http": {"request": {"method": "GET", "url": "http://shop.example/cart?x=<script>alert(4)</script>"}, "response": {"status": 200}},
                "annotations": {"note": "<script>alert(2)</script>", "probe": "<img src=x onerror=window.__xss=1><script>window.__xss=2</script>"},
                "subsegments": [
                    {"id": "00000000000000b3", "name": "DynamoDB", "namespace": "aws", "start_time": at + 5.01, "end_time": at + 5.03,
                     "aws": {"operation": "GetItem", "table_name": XSS_NAME}}
                ]
            }),
        ],
    );
    // What the agent shipped to its local store, carrying the trace ids in their forms.
    let logs = skywatch_store::LocalLogStore::open(&dir.path().join("state/logs")).unwrap();
    let ms = (at * 1000.0) as i64;
    let lines = [
        format!("POST /checkout 502 X-Amzn-Trace-Id: Root={t1};Parent=00000000000000a1;Sampled=1"),
        format!(
            "{{\"level\":\"error\",\"msg\":\"charge failed\",\"traceId\":\"{}\"}}",
            t1[2..].replace('-', "")
        ),
        format!("<script>alert(3)</script> GET /cart AWS-XRAY-TRACE-ID: {t2}@00000000000000a2"),
        format!("WARN upstream retried {}", t1.to_uppercase()),
        "<svg onload=window.__xss=3></svg> unrelated line".to_string(),
    ];
    let events: Vec<(i64, &str)> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| (ms + i as i64 * 100, l.as_str()))
        .collect();
    logs.append("/ec2/shop", "i-0123456789abcdef0", &events).unwrap();

    let steps = json!([
        {"wait": "[data-node=\"web|\"]", "timeout": 30},
        {"eval": "[...document.querySelectorAll('[data-node]')].map(e => e.getAttribute('data-node')).sort()", "as": "nodes"},
        {"eval": "document.querySelectorAll('[data-edge]').length", "as": "edges"},
        {"screenshot": "1-map.png"},
        {"click": "[data-node=\"web|\"]"},
        {"wait": format!("#traces [data-trace=\"{t1}\"]"), "timeout": 20},
        {"eval": "[...document.querySelectorAll('#traces [data-trace]')].map(e => e.getAttribute('data-trace'))", "as": "traces"},
        {"screenshot": "2-node.png"},
        // The filter-expression box narrows the list, and clearing it brings all back.
        {"type": "#filter", "text": "http.status = 502", "enter": true},
        {"until": format!("[...document.querySelectorAll('#traces [data-trace]')].map(e => e.getAttribute('data-trace')).join() === '{t1}'"), "timeout": 20},
        {"type": "#filter", "text": "", "enter": true},
        {"until": "document.querySelectorAll('#traces [data-trace]').length === 2", "timeout": 20},
        // Dragging across the fast end of the histogram keeps only the 80 ms trace.
        {"drag": "#histogram .catcher", "from": [2, 20], "to": [120, 20]},
        {"until": format!("[...document.querySelectorAll('#traces [data-trace]')].map(e => e.getAttribute('data-trace')).join() === '{t2}'"), "timeout": 20},
        {"eval": "document.querySelector('.histogram-range').textContent", "as": "latency_range"},
        {"click": "#histogram-clear"},
        {"until": "document.querySelectorAll('#traces [data-trace]').length === 2", "timeout": 20},
        // Another range: the map and the list follow.
        {"click": "[data-range=\"5m\"]"},
        {"until": "document.querySelector('[data-range=\"5m\"]').getAttribute('aria-pressed') === 'true' && document.querySelectorAll('#traces [data-trace]').length === 2", "timeout": 20},
        {"eval": "location.hash", "as": "hash"},
        {"click": format!("#traces [data-trace=\"{t1}\"]")},
        {"wait": "#timeline [data-segment=\"00000000000000b2\"]", "timeout": 20},
        {"texts": "#timeline [data-segment]", "as": "timeline"},
        {"click": "#timeline [data-segment=\"00000000000000b2\"]"},
        {"wait": "#segment-details", "timeout": 5},
        {"eval": "document.querySelector('#segment-details').textContent", "as": "details"},
        {"wait": "#logs [data-log]", "timeout": 20},
        {"texts": "#logs [data-log]", "as": "logs"},
        {"screenshot": "3-trace.png"},
        {"click": "#back-to-map"},
        {"wait": "[data-node^=\"<img\"]", "timeout": 20},
        {"click": "[data-node^=\"<img\"]"},
        {"wait": format!("#traces [data-trace=\"{t2}\"]"), "timeout": 20},
        {"click": format!("#traces [data-trace=\"{t2}\"]")},
        // The logs shown are the second trace's, not still the first's.
        {"until": format!("[...document.querySelectorAll('#logs [data-log]')].some(e => e.textContent.includes('{t2}'))"), "timeout": 20},
        {"texts": "#logs [data-log]", "as": "xss_logs"},
        {"eval": "document.body.textContent.includes('<img src=x onerror=alert(1)>')", "as": "name_as_text"},
        {"eval": "document.querySelectorAll('img:not([src=\"/ui/icon.svg\"]), [onerror], [onload], script:not([src])').length", "as": "made_of_data"},
        {"eval": "[...document.scripts].filter(s => !s.src).length", "as": "inline_scripts"},
        {"eval": "window.__xss === undefined", "as": "nothing_ran"},
        {"screenshot": "4-markup-as-text.png"}
    ]);
    let result = run_browser(&collector, dir.path(), &steps);

    let nodes: Vec<&str> = result["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    for expected in [
        "web|",
        "web|client",
        "orders|AWS::DynamoDB::Table",
        "payments.example.com|remote",
        "<img src=x onerror=alert(1)>|AWS::DynamoDB::Table",
    ] {
        assert!(nodes.contains(&expected), "{expected} not in {nodes:?}");
    }
    assert_eq!(result["edges"], 4, "{result:#}");
    assert!(
        result["latency_range"]
            .as_str()
            .unwrap()
            .starts_with("Traces with a response time of "),
        "{result:#}"
    );
    assert!(
        result["hash"].as_str().unwrap().contains("range=5m"),
        "{result:#}"
    );
    assert!(
        result["traces"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == t1.as_str()),
        "{result:#}"
    );
    let timeline: Vec<&str> = result["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    for name in ["web", "DynamoDB", "payments.example.com"] {
        assert!(
            timeline.iter().any(|row| row.contains(name)),
            "{name} not in {timeline:?}"
        );
    }
    let details = result["details"].as_str().unwrap();
    assert!(
        details.contains("503 Service Unavailable") && details.contains("app/pay.py"),
        "{details}"
    );
    let logs: Vec<&str> = result["logs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert_eq!(logs.len(), 3, "{logs:?}");
    assert!(
        logs[0].contains("Root=") && logs[1].contains("charge failed") && logs[2].contains("WARN upstream"),
        "{logs:?}"
    );
    // Markup in trace data and log lines is text: shown as written, nothing made of it.
    let xss_logs = result["xss_logs"].as_array().unwrap();
    assert!(
        xss_logs[0]
            .as_str()
            .unwrap()
            .contains("<script>alert(3)</script>"),
        "{xss_logs:?}"
    );
    assert_eq!(result["name_as_text"], true);
    assert_eq!(result["made_of_data"], 0);
    assert_eq!(result["inline_scripts"], 0);
    // The payloads would set window.__xss had any of them run (the CSP would stop an inline
    // handler too, and report it in log_errors, checked below).
    assert_eq!(result["nothing_ran"], true);
    assert_eq!(result["dialogs"], json!([]), "{result:#}");
    assert_eq!(result["console_errors"], json!([]), "{result:#}");
    assert_eq!(result["log_errors"], json!([]), "{result:#}");

    // The logq command the page offers finds the same lines.
    let answer = post_json(&collector, "/ui/api/logs", &json!({ "TraceId": t1 }));
    let command = answer["Logq"].as_str().unwrap();
    let command = command.replacen("logq ", &format!("{} ", env!("CARGO_BIN_EXE_logq")), 1);
    let out = Command::new("sh").arg("-c").arg(&command).output().unwrap();
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{command}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        printed.contains("Root=") && printed.contains("charge failed") && printed.contains("WARN upstream"),
        "{command}\n{printed}"
    );
    assert!(
        !printed.contains("unrelated line") && !printed.contains("alert(3)"),
        "{printed}"
    );
    collector.stop();
}

fn post_json(collector: &Collector, path: &str, body: &Value) -> Value {
    let answer = collector.post(path, body);
    let (_, payload) = answer.split_once("\r\n\r\n").unwrap();
    serde_json::from_str(payload).unwrap()
}

/// Runs `steps` in headless Chromium against the collector's page; the values they collected.
fn run_browser(collector: &Collector, dir: &Path, steps: &Value) -> Value {
    browse(&format!("http://{}/", collector.http), dir, steps)
        .unwrap_or_else(|e| panic!("{e}\ncollector:\n{}", collector.log()))
}

/// Runs `steps` (browser.py's script) in headless Chromium at `url`; screenshots go to
/// target/test-artifacts/web-page. The collected values, or browser.py's failure.
pub fn browse(url: &str, dir: &Path, steps: &Value) -> Result<Value, String> {
    std::fs::create_dir_all(ARTIFACTS).unwrap();
    let script = dir.join("steps.json");
    std::fs::write(&script, steps.to_string()).unwrap();
    let out = Command::new("python3")
        .arg(Path::new(CLIENTS).join("browser.py"))
        .arg(url)
        .arg(&script)
        .arg(ARTIFACTS)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!(
            "browser.py failed:\n{}\n{stdout}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(serde_json::from_str(stdout.lines().last().unwrap_or_default()).unwrap())
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// One request through `gateway` to service `svc`, which reads `tables`: a gateway segment, its
/// call to the service, and the service's own segment with a DynamoDB call per table.
fn request_through(svc: usize, tables: usize, n: u64, at: f64, fault: bool) -> Vec<Value> {
    let trace = format!("1-{:08x}-{:024x}", now_secs(), (svc as u64) << 32 | n);
    let gateway = format!("{:016x}", 0x1000_0000 + (svc as u64) * 0x10000 + n);
    let call = format!("{:016x}", 0x2000_0000 + (svc as u64) * 0x10000 + n);
    let own = format!("{:016x}", 0x3000_0000 + (svc as u64) * 0x10000 + n);
    let status = if fault { 500 } else { 200 };
    let reads: Vec<Value> = (0..tables)
        .map(|t| {
            json!({
                "id": format!("{:016x}", 0x4000_0000 + (svc as u64) * 0x10000 + n * 0x10 + t as u64),
                "name": "DynamoDB", "namespace": "aws", "start_time": at + 0.02, "end_time": at + 0.03 + t as f64 * 0.002,
                "aws": {"operation": "Query", "table_name": format!("inventory-events-{svc}-{t}")},
                "http": {"response": {"status": 200}}
            })
        })
        .collect();
    vec![
        json!({
            "id": gateway, "trace_id": trace, "name": "gateway", "start_time": at, "end_time": at + 0.1,
            "fault": fault,
            "http": {"request": {"method": "GET", "url": format!("http://api.example/svc/{svc}")}, "response": {"status": status}},
            "subsegments": [{
                "id": call, "name": format!("svc-{svc}"), "namespace": "remote", "start_time": at + 0.01, "end_time": at + 0.09,
                "fault": fault,
                "http": {"request": {"method": "GET", "url": format!("http://svc-{svc}.internal/")}, "response": {"status": status}}
            }]
        }),
        json!({
            "id": own, "trace_id": trace, "parent_id": call, "name": format!("svc-{svc}"), "start_time": at + 0.015, "end_time": at + 0.085,
            "fault": fault,
            "http": {"request": {"method": "GET", "url": "http://svc.internal/"}, "response": {"status": status}},
            "subsegments": reads
        }),
    ]
}

/// The JavaScript that posts `docs` to the collector from the page itself (same origin), so a
/// step can change the data between two refreshes.
fn post_from_page(docs: &[Value]) -> String {
    let documents: Vec<String> = docs.iter().map(Value::to_string).collect();
    let body = json!({ "TraceSegmentDocuments": documents }).to_string();
    format!(
        "fetch('/TraceSegments', {{method: 'POST', headers: {{'Content-Type': 'application/json'}}, body: {}}}).then(r => r.status)",
        Value::String(body)
    )
}

/// Where every node is drawn: data-node → its transform.
const POSITIONS: &str = "Object.fromEntries([...document.querySelectorAll('[data-node]')].map(e => [e.getAttribute('data-node'), e.getAttribute('transform')]))";

/// Pairs of on-screen boxes of `selector` that overlap (by more than a pixel), as text.
fn overlaps_js(selector: &str) -> String {
    format!(
        "(() => {{ const boxes = [...document.querySelectorAll({sel})].filter(e => getComputedStyle(e).display !== 'none' && e.textContent !== '').map(e => [e.closest('[data-node]')?.getAttribute('data-node'), e.getBoundingClientRect()]); \
         const out = []; for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {{ const [a, p] = boxes[i], [b, q] = boxes[j]; \
         if (p.left + 1 < q.right && q.left + 1 < p.right && p.top + 1 < q.bottom && q.top + 1 < p.bottom) out.push(a + ' / ' + b); }} return out; }})()",
        sel = Value::String(selector.to_string())
    )
}

#[test]
fn fifty_services_are_readable_and_stay_put_across_live_refreshes() {
    assert!(chromium_available(), "chromium is missing: .ci/setup installs it");
    let dir = tempfile::tempdir().unwrap();
    let collector = Collector::start(dir.path(), "", &[]);
    let at = now_secs() as f64 - 120.0;
    // client, gateway, 7 services, 6 tables each: 51 nodes.
    let mut docs = Vec::new();
    for svc in 0..7 {
        docs.extend(request_through(svc, 6, 1, at + svc as f64, false));
    }
    put_segments(&collector, &docs);

    // The counts change (faults through svc-3), then a new service appears.
    let more: Vec<Value> = (2..6)
        .flat_map(|n| request_through(3, 6, n, at + 30.0 + n as f64, true))
        .collect();
    let newcomer = request_through(7, 1, 1, at + 40.0, false);
    let gateway_title = "document.querySelector('[data-node=\"gateway|\"] title').textContent";
    let steps = json!([
        {"until": "document.querySelectorAll('[data-node]').length === 51", "timeout": 30},
        {"screenshot": "5-fifty-nodes.png"},
        {"eval": "document.querySelectorAll('[data-node]').length", "as": "nodes"},
        {"eval": "document.querySelectorAll('[data-edge]').length", "as": "edges"},
        {"eval": overlaps_js("[data-node] .disc, [data-node] .client-dot"), "as": "discs_overlapping"},
        {"eval": overlaps_js("[data-node] text.name"), "as": "names_overlapping"},
        {"eval": "Math.min(...[...document.querySelectorAll('[data-node] .disc')].map(e => e.getBoundingClientRect().width))", "as": "smallest_disc_px"},
        {"eval": "Math.min(...[...document.querySelectorAll('[data-node] text.name')].map(e => e.getBoundingClientRect().height))", "as": "smallest_name_px"},
        {"eval": "(() => { const m = document.querySelector('#map').getBoundingClientRect(); return [...document.querySelectorAll('[data-node] .disc, [data-node] .client-dot')].filter(e => { const r = e.getBoundingClientRect(); return r.left < m.left || r.right > m.right || r.top < m.top || r.bottom > m.bottom; }).length; })()", "as": "out_of_view"},
        {"eval": POSITIONS, "as": "before"},
        {"eval": "document.querySelector('.viewport').getAttribute('transform')", "as": "view_before"},
        {"eval": gateway_title, "as": "title_before"},
        {"eval": post_from_page(&more), "as": "posted_more"},
        {"until": format!("{gateway_title}.includes('11 requests')"), "timeout": 30},
        {"eval": POSITIONS, "as": "after_counts"},
        {"eval": "document.querySelector('.viewport').getAttribute('transform')", "as": "view_after"},
        {"eval": gateway_title, "as": "title_after"},
        {"eval": post_from_page(&newcomer), "as": "posted_newcomer"},
        {"wait": "[data-node=\"svc-7|\"]", "timeout": 30},
        {"eval": POSITIONS, "as": "after_newcomer"},
        {"eval": overlaps_js("[data-node] .disc, [data-node] .client-dot"), "as": "discs_overlapping_after"},
        {"screenshot": "6-fifty-nodes-after-refresh.png"}
    ]);
    let result = run_browser(&collector, dir.path(), &steps);

    assert_eq!(result["nodes"], 51, "{result:#}");
    assert_eq!(result["edges"], 50, "{result:#}");
    // Readable: no two nodes or names drawn over each other, nodes and text big enough, all in view.
    assert_eq!(result["discs_overlapping"], json!([]), "{result:#}");
    assert_eq!(result["names_overlapping"], json!([]), "{result:#}");
    assert!(result["smallest_disc_px"].as_f64().unwrap() >= 24.0, "{result:#}");
    assert!(result["smallest_name_px"].as_f64().unwrap() >= 8.0, "{result:#}");
    assert_eq!(result["out_of_view"], 0, "{result:#}");
    // A live refresh that changes only counts moves nothing.
    assert_eq!(result["posted_more"], 200);
    assert_ne!(result["title_before"], result["title_after"]);
    assert_eq!(result["before"], result["after_counts"], "{result:#}");
    assert_eq!(result["view_before"], result["view_after"], "{result:#}");
    // A new service is placed without moving the others, on a free spot.
    assert_eq!(result["posted_newcomer"], 200);
    let after = result["after_newcomer"].as_object().unwrap();
    for (node, place) in result["before"].as_object().unwrap() {
        assert_eq!(after.get(node), Some(place), "{node} moved");
    }
    assert_eq!(after.len(), 53, "{after:?}");
    assert_eq!(result["discs_overlapping_after"], json!([]), "{result:#}");
    assert_eq!(result["dialogs"], json!([]), "{result:#}");
    assert_eq!(result["console_errors"], json!([]), "{result:#}");
    assert_eq!(result["log_errors"], json!([]), "{result:#}");
    collector.stop();
}

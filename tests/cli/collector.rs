//! `skywatch collector` driven by real clients: an app instrumented with the Python
//! aws-xray-sdk (boto3 against moto, a remote HTTP call, errors and faults), the OpenTelemetry
//! Python SDK's OTLP/HTTP exporter, and the aws CLI reading the X-Ray API back; forwarding lands
//! in moto; a flood of malformed datagrams leaves it serving with every one counted.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use skywatch_tests::poll::poll_until;

const CLIENTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/cli/clients");
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/collector/tests/fixtures");

pub(crate) struct Collector {
    child: Child,
    stderr: PathBuf,
    pub(crate) udp: SocketAddr,
    pub(crate) http: SocketAddr,
}

impl Collector {
    /// Starts a collector on free loopback ports with `config`, its store in `dir`.
    pub(crate) fn start(dir: &Path, config: &str, env: &[(&str, String)]) -> Collector {
        let config_path = dir.join("collector.toml");
        std::fs::write(&config_path, config).unwrap();
        let stderr = dir.join("collector.log");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&stderr)
            .unwrap();
        let before = std::fs::read_to_string(&stderr).unwrap_or_default().len();
        let mut command = Command::new(env!("CARGO_BIN_EXE_skywatch"));
        command
            .args(["collector", "--config", config_path.to_str().unwrap()])
            .args(["--udp", "127.0.0.1:0", "--http", "127.0.0.1:0"])
            .args(["--state-dir", dir.join("state").to_str().unwrap()])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", dir)
            .stdout(Stdio::null())
            .stderr(log);
        for (k, v) in env {
            command.env(k, v);
        }
        let child = command.spawn().unwrap();
        let line = poll_until(
            "the collector's start line",
            Duration::from_secs(30),
            Duration::from_millis(20),
            || {
                let text = std::fs::read_to_string(&stderr).unwrap_or_default();
                text[before..]
                    .lines()
                    .find(|l| l.contains("collecting: udp "))
                    .map(str::to_string)
            },
        )
        .unwrap();
        // "collecting: udp 127.0.0.1:P, http 127.0.0.1:Q, …"
        let after = |word: &str| -> SocketAddr {
            let rest = &line[line.find(word).unwrap() + word.len()..];
            rest.split(',').next().unwrap().trim().parse().unwrap()
        };
        Collector {
            child,
            udp: after("udp "),
            http: after("http "),
            stderr,
        }
    }

    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    fn send(&self, datagram: &[u8]) {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.send_to(datagram, self.udp).unwrap();
    }

    fn get(&self, path: &str) -> (u16, String) {
        let mut stream = TcpStream::connect(self.http).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        let status = answer[9..12].parse().unwrap();
        let body = answer
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default();
        (status, body)
    }

    /// A counter from /metrics (`name{label="value"}` or a bare name); 0 when absent.
    fn metric(&self, series: &str) -> u64 {
        let (_, body) = self.get("/metrics");
        body.lines()
            .find_map(|l| l.strip_prefix(series).and_then(|v| v.strip_prefix(' ')))
            .map_or(0, |v| v.trim().parse().unwrap())
    }

    /// `aws xray <args>` against the collector, its JSON answer.
    fn aws(&self, args: &[&str]) -> Value {
        aws_xray(&format!("http://{}", self.http), args).unwrap()
    }

    /// Stops it with SIGTERM; its log.
    pub(crate) fn stop(mut self) -> String {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        let status = self.child.wait().unwrap();
        assert!(status.success(), "collector exit: {status}\n{}", self.log());
        self.log()
    }

    /// Puts segment documents through the collector's PutTraceSegments endpoint and returns its
    /// HTTP answer, having checked that it is a 200.
    pub(crate) fn put_segments(&self, docs: &[serde_json::Value]) -> String {
        let documents: Vec<String> = docs.iter().map(serde_json::Value::to_string).collect();
        let body = serde_json::json!({ "TraceSegmentDocuments": documents });
        let answer = self.post("/TraceSegments", &body);
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        answer
    }

    /// POSTs `body` as JSON to `path` on the collector's HTTP listener; its whole HTTP answer.
    pub(crate) fn post(&self, path: &str, body: &serde_json::Value) -> String {
        let body = body.to_string();
        let mut stream = TcpStream::connect(self.http).unwrap();
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        write!(
            stream,
            "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.http,
            body.len()
        )
        .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        answer
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn aws_env() -> Vec<(&'static str, String)> {
    let mut env = skywatch_tests::aws::env_vars("http://127.0.0.1:1");
    env.retain(|(k, _)| *k != "AWS_ENDPOINT_URL");
    env
}

/// Runs the aws CLI's `xray` commands at `endpoint`.
fn aws_xray(endpoint: &str, args: &[&str]) -> Result<Value, String> {
    let output = Command::new("aws")
        .arg("xray")
        .args(args)
        .args(["--endpoint-url", endpoint, "--output", "json"])
        .envs(aws_env())
        .output()
        .map_err(|e| format!("cannot run the aws CLI: {e}"))?;
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr).into_owned());
    }
    serde_json::from_slice(&output.stdout).map_err(|e| e.to_string())
}

fn python(script: &str, args: &[&str], env: &[(&str, String)]) -> Value {
    let output = Command::new("python3")
        .arg(Path::new(CLIENTS).join(script))
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{script} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(stdout.lines().last().unwrap_or_default()).unwrap()
}

fn window() -> [String; 4] {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    [
        "--start-time".into(),
        (now - 3600).to_string(),
        "--end-time".into(),
        (now + 60).to_string(),
    ]
}

fn with_window<'a>(window: &'a [String; 4], args: &[&'a str]) -> Vec<&'a str> {
    let mut all: Vec<&str> = args.to_vec();
    all.extend(window.iter().map(String::as_str));
    all
}

fn node<'g>(graph: &'g Value, name: &str, kind: &str) -> Option<&'g Value> {
    graph["Services"]
        .as_array()?
        .iter()
        .find(|s| s["Name"] == name && s["Type"] == kind)
}

fn edge<'g>(graph: &Value, from: &'g Value, to: &Value) -> &'g Value {
    from["Edges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["ReferenceId"] == to["ReferenceId"])
        .unwrap_or_else(|| panic!("no edge {} → {}: {graph:#}", from["Name"], to["Name"]))
}

fn summary_ids(collector: &Collector, window: &[String; 4], filter: &str) -> Vec<String> {
    let answer = collector.aws(&with_window(
        window,
        &["get-trace-summaries", "--filter-expression", filter],
    ));
    answer["TraceSummaries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["Id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn the_python_xray_sdks_traces_become_a_service_graph_the_aws_cli_reads() {
    let moto = skywatch_tests::moto::shared().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let collector = Collector::start(dir.path(), "", &[]);
    let table = skywatch_tests::names::unique_name("orders");
    let mut env = skywatch_tests::aws::env_vars(&moto.endpoint_url());
    env.push((
        "AWS_XRAY_DAEMON_ADDRESS",
        format!("udp:{} tcp:{}", collector.udp, collector.http),
    ));
    // The remote call goes to moto by the name `localhost`, so its node is apart from the
    // 127.0.0.1 of boto3's own HTTP calls (the SDK records those too, nested in the DynamoDB
    // subsegments).
    let remote_address = format!("localhost:{}", moto.addr().port());
    let app = python("xray_app.py", &[&table, &remote_address], &env);
    let traces: Vec<String> = app["traces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_string())
        .collect();
    // The SDK's own sampling connector got the local rules over the TCP port.
    assert_eq!(app["rules"], serde_json::json!(["Default"]));

    let window = window();
    let graph = poll_until(
        "the checkout → DynamoDB edge with 3 calls",
        Duration::from_secs(20),
        Duration::from_millis(100),
        || {
            let graph = collector.aws(&with_window(&window, &["get-service-graph"]));
            let checkout = node(&graph, "checkout", "")?;
            let table_node = node(&graph, &table, "AWS::DynamoDB::Table")?;
            let calls = checkout["Edges"]
                .as_array()?
                .iter()
                .find(|e| e["ReferenceId"] == table_node["ReferenceId"])?;
            (calls["SummaryStatistics"]["TotalCount"] == 3
                && checkout["SummaryStatistics"]["TotalCount"] == 3)
                .then_some(graph)
        },
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", collector.log()));

    let checkout = node(&graph, "checkout", "").unwrap();
    assert_eq!(checkout["Root"], true);
    let stats = &checkout["SummaryStatistics"];
    assert_eq!(stats["OkCount"], 1, "{graph:#}");
    assert_eq!(stats["ErrorStatistics"]["OtherCount"], 1);
    assert_eq!(stats["FaultStatistics"]["TotalCount"], 1);
    let client = node(&graph, "checkout", "client").unwrap();
    assert_eq!(
        edge(&graph, client, checkout)["SummaryStatistics"]["TotalCount"],
        3
    );
    let remote = node(&graph, "localhost", "remote").unwrap_or_else(|| panic!("no remote node: {graph:#}"));
    // The SDK's httplib patch records each request as three sibling remote subsegments (send,
    // getresponse, read); X-Ray counts what it is sent, and so do we.
    assert_eq!(
        edge(&graph, checkout, remote)["SummaryStatistics"]["OkCount"],
        9,
        "{graph:#}"
    );

    assert_eq!(summary_ids(&collector, &window, "fault"), vec![traces[2].clone()]);
    assert_eq!(summary_ids(&collector, &window, "error"), vec![traces[1].clone()]);
    assert_eq!(
        summary_ids(&collector, &window, "annotation.status_class = \"2xx\""),
        vec![traces[0].clone()]
    );
    assert_eq!(
        summary_ids(&collector, &window, "http.url CONTAINS \"/checkout/\" AND !ok").len(),
        2
    );
    let all = collector.aws(&with_window(&window, &["get-trace-summaries"]));
    assert_eq!(all["TraceSummaries"].as_array().unwrap().len(), 3);
    let refused = aws_xray(
        &format!("http://{}", collector.http),
        &with_window(
            &window,
            &[
                "get-trace-summaries",
                "--filter-expression",
                "rootcause.fault.service { name = \"x\" }",
            ],
        ),
    )
    .unwrap_err();
    assert!(
        refused.contains("InvalidRequestException") && refused.contains("not supported"),
        "{refused}"
    );

    let fetched = collector.aws(&["batch-get-traces", "--trace-ids", &traces[2]]);
    let segments = fetched["Traces"][0]["Segments"].as_array().unwrap();
    let documents: Vec<Value> = segments
        .iter()
        .map(|s| serde_json::from_str(s["Document"].as_str().unwrap()).unwrap())
        .collect();
    let root = documents.iter().find(|d| d["name"] == "checkout").unwrap();
    assert_eq!(root["fault"], true);
    let charge = root["subsegments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "charge-card")
        .unwrap_or_else(|| panic!("{root:#}"));
    assert_eq!(charge["cause"]["exceptions"][0]["message"], "card declined");
    assert!(documents
        .iter()
        .any(|d| d["inferred"] == true && d["name"] == table.as_str()));

    let map = Command::new(env!("CARGO_BIN_EXE_skywatch"))
        .args([
            "servicemap",
            "--since",
            "1h",
            "--format",
            "mermaid",
            "--collector",
            &collector.http.to_string(),
        ])
        .output()
        .unwrap();
    assert!(map.status.success(), "{}", String::from_utf8_lossy(&map.stderr));
    let mermaid = String::from_utf8_lossy(&map.stdout);
    assert!(
        mermaid.starts_with("flowchart LR\n")
            && mermaid.contains(&format!("\"{table} (AWS::DynamoDB::Table)\"")),
        "{mermaid}"
    );
    let table_out = Command::new(env!("CARGO_BIN_EXE_skywatch"))
        .args(["servicemap", "--collector", &collector.http.to_string()])
        .output()
        .unwrap();
    let table_text = String::from_utf8_lossy(&table_out.stdout);
    assert!(
        table_text
            .lines()
            .any(|l| l.starts_with("checkout (client)") && l.contains("checkout")),
        "{table_text}"
    );

    let log = collector.stop();
    assert!(log.contains("stopped: "), "{log}");
}

#[test]
fn opentelemetry_spans_over_otlp_land_in_the_graph() {
    let dir = tempfile::tempdir().unwrap();
    let collector = Collector::start(dir.path(), "", &[]);
    let env = vec![(
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        format!("http://{}/v1/traces", collector.http),
    )];
    let app = python("otel_app.py", &[], &env);
    let window = window();
    let graph = poll_until(
        "the inventory node",
        Duration::from_secs(20),
        Duration::from_millis(100),
        || {
            let graph = collector.aws(&with_window(&window, &["get-service-graph"]));
            node(&graph, "inventory", "")?;
            Some(graph)
        },
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", collector.log()));
    let inventory = node(&graph, "inventory", "").unwrap();
    assert_eq!(inventory["SummaryStatistics"]["TotalCount"], 2, "{graph:#}");
    assert_eq!(inventory["SummaryStatistics"]["FaultStatistics"]["TotalCount"], 1);
    let payments = node(&graph, "payments.example.com", "remote").unwrap_or_else(|| panic!("{graph:#}"));
    assert_eq!(
        edge(&graph, inventory, payments)["SummaryStatistics"]["OkCount"],
        2
    );
    // The OTel trace id's first 4 bytes are random, not a time: find them by when they ran.
    let faulted = collector.aws(&with_window(
        &window,
        &[
            "get-trace-summaries",
            "--time-range-type",
            "Service",
            "--filter-expression",
            "fault",
        ],
    ));
    let ids: Vec<&Value> = faulted["TraceSummaries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| &s["Id"])
        .collect();
    assert_eq!(ids, vec![&app["traces"][1]]);
    assert_eq!(
        collector.metric("skywatch_collector_received_total{source=\"otlp\"}"),
        4
    );
}

#[test]
fn forwarded_documents_land_in_xray_and_traces_survive_a_restart() {
    let moto = skywatch_tests::moto::shared().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let env = skywatch_tests::aws::env_vars(&moto.endpoint_url());
    let collector = Collector::start(dir.path(), "[forward]\nregion = \"us-east-1\"\n", &env);
    for n in 0..3 {
        collector.send(&std::fs::read(format!("{FIXTURES}/python-sdk-{n}.datagram")).unwrap());
    }
    let fixture = std::fs::read_to_string(format!("{FIXTURES}/python-sdk-2.datagram")).unwrap();
    let document: Value = serde_json::from_str(fixture.lines().nth(1).unwrap()).unwrap();
    let trace_id = document["trace_id"].as_str().unwrap().to_string();
    let found = poll_until(
        "the trace in moto",
        Duration::from_secs(30),
        Duration::from_millis(200),
        || {
            let answer = aws_xray(
                &moto.endpoint_url(),
                &["batch-get-traces", "--trace-ids", &trace_id],
            )
            .ok()?;
            let segments = answer["Traces"][0]["Segments"].as_array()?.len();
            (segments >= 3).then_some(segments)
        },
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", collector.log()));
    assert_eq!(found, 3);
    poll_until(
        "3 forwarded",
        Duration::from_secs(10),
        Duration::from_millis(50),
        || (collector.metric("skywatch_collector_forwarded_total") == 3).then_some(()),
    )
    .unwrap();
    // Forwarding, the sampling calls go to X-Ray signed with the collector's credentials (moto
    // has no sampling API: its refusal comes back in the service's error shape).
    let mut stream = TcpStream::connect(collector.http).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        stream,
        "POST /GetSamplingRules HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(
        !answer.starts_with("HTTP/1.1 200") && answer.contains("x-amzn-errortype"),
        "{answer}"
    );
    assert!(answer.contains("X-Ray: "), "{answer}");
    assert!(
        std::fs::read_to_string(moto.log_path())
            .unwrap_or_default()
            .contains("POST /GetSamplingRules"),
        "the call did not reach moto"
    );
    let log = collector.stop();
    assert!(log.contains("3 forwarded"), "{log}");

    // The local store kept them: a collector started again on the same directory serves them.
    let again = Collector::start(dir.path(), "", &[]);
    let fetched = again.aws(&["batch-get-traces", "--trace-ids", &trace_id]);
    assert_eq!(fetched["Traces"][0]["Id"], trace_id.as_str(), "{fetched:#}");
    assert!(
        again.log().contains("trace store: 3 documents read back"),
        "{}",
        again.log()
    );
}

/// Builds one malformed datagram.
type MakeDatagram = dyn Fn(&mut fastrand::Rng) -> Vec<u8>;

#[test]
fn a_flood_of_malformed_datagrams_is_counted_and_the_collector_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let collector = Collector::start(dir.path(), "", &[]);
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut rng = fastrand::Rng::with_seed(17);
    let kinds: [&MakeDatagram; 5] = [
        &|_| b"no header at all".to_vec(),
        &|_| b"{\"format\":\"xml\",\"version\":1}\n{}".to_vec(),
        &|_| b"{\"format\":\"json\",\"version\":1}\n".to_vec(),
        &|_| b"{\"format\":\"json\",\"version\":1}\n{\"id\":\"zz\"}".to_vec(),
        &|rng| (0..rng.usize(1..65_507)).map(|_| rng.u8(..)).collect(),
    ];
    let sent = 2_000;
    for i in 0..sent {
        let datagram = kinds[i % kinds.len()](&mut rng);
        socket.send_to(&datagram, collector.udp).unwrap();
        if i % 200 == 0 {
            // Loopback drops what the kernel buffer cannot hold; pace the flood so every
            // datagram reaches the collector and the count can be exact.
            poll_until(
                "the collector to catch up",
                Duration::from_secs(10),
                Duration::from_millis(5),
                || {
                    (collector.metric("skywatch_collector_received_total{source=\"udp\"}") as usize
                        > i.saturating_sub(1))
                    .then_some(())
                },
            )
            .unwrap();
        }
    }
    poll_until(
        "every datagram counted",
        Duration::from_secs(20),
        Duration::from_millis(50),
        || {
            (collector.metric("skywatch_collector_received_total{source=\"udp\"}") == sent as u64)
                .then_some(())
        },
    )
    .unwrap();
    let rejected: u64 = [
        "no_header",
        "bad_header",
        "no_document",
        "InvalidId",
        "NotJson",
        "MissingId",
        "MissingName",
    ]
    .iter()
    .map(|r| collector.metric(&format!("skywatch_collector_rejected_total{{reason=\"{r}\"}}")))
    .sum();
    assert_eq!(rejected, sent as u64, "{}", collector.get("/metrics").1);
    assert_eq!(collector.get("/healthz"), (200, "ok\n".to_string()));
    collector.send(&std::fs::read(format!("{FIXTURES}/python-sdk-2.datagram")).unwrap());
    poll_until(
        "the good datagram stored",
        Duration::from_secs(10),
        Duration::from_millis(20),
        || (collector.metric("skywatch_collector_stored_total") == 1).then_some(()),
    )
    .unwrap();
    let log = collector.stop();
    assert!(log.contains(&format!("{sent} rejected")), "{log}");
}

/// Compact segment documents with fresh ids in one trace, as datagrams.
fn datagrams(count: usize, trace_seed: u32) -> (String, Vec<Vec<u8>>) {
    let epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let trace = format!("1-{epoch:08x}-{trace_seed:024x}");
    let now = epoch as f64;
    let all = (0..count)
        .map(|i| {
            format!(
                "{{\"format\":\"json\",\"version\":1}}\n{{\"id\":\"{:016x}\",\"trace_id\":\"{trace}\",\"name\":\"svc\",\"start_time\":{now},\"end_time\":{}}}",
                i + 1,
                now + 0.01
            )
            .into_bytes()
        })
        .collect();
    (trace, all)
}

#[test]
fn forwarding_rides_out_5xx_and_refused_connections_and_sends_telemetry() {
    let moto = skywatch_tests::moto::shared().unwrap();
    let proxy = skywatch_tests::fault_proxy::FaultProxy::start(moto.addr()).unwrap();
    proxy.set(skywatch_tests::fault_proxy::Fault::HttpStatus(503));
    let dir = tempfile::tempdir().unwrap();
    let env = skywatch_tests::aws::env_vars(&proxy.endpoint_url());
    let collector = Collector::start(
        dir.path(),
        "[forward]\nregion = \"us-east-1\"\ntelemetry_interval_secs = 1\n",
        &env,
    );
    let (trace, docs) = datagrams(20, 0xfeed);
    for doc in &docs {
        collector.send(doc);
    }
    poll_until(
        "two 5xx answers counted",
        Duration::from_secs(20),
        Duration::from_millis(50),
        || (collector.metric("skywatch_collector_forward_errors_total{class=\"server\"}") >= 2).then_some(()),
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", collector.log()));
    proxy.set(skywatch_tests::fault_proxy::Fault::Refuse);
    poll_until(
        "a refused connection counted",
        Duration::from_secs(30),
        Duration::from_millis(50),
        || {
            (collector.metric("skywatch_collector_forward_network_errors_total{kind=\"refused\"}") >= 1)
                .then_some(())
        },
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", collector.log()));
    assert_eq!(collector.metric("skywatch_collector_forwarded_total"), 0);
    proxy.recover();
    let landed = poll_until(
        "all 20 documents in moto",
        Duration::from_secs(60),
        Duration::from_millis(200),
        || {
            let answer = aws_xray(&moto.endpoint_url(), &["batch-get-traces", "--trace-ids", &trace]).ok()?;
            let n = answer["Traces"][0]["Segments"].as_array()?.len();
            (n == 20).then_some(n)
        },
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", collector.log()));
    assert_eq!(landed, 20);
    assert_eq!(collector.metric("skywatch_collector_forwarded_total"), 20);
    // The daemon's telemetry record went out too (moto takes it; its log shows the call).
    poll_until(
        "a PutTelemetryRecords call",
        Duration::from_secs(20),
        Duration::from_millis(100),
        || {
            std::fs::read_to_string(moto.log_path())
                .unwrap_or_default()
                .contains("POST /TelemetryRecords")
                .then_some(())
        },
    )
    .unwrap();
    let log = collector.stop();
    assert!(log.contains("went through after"), "{log}");
    assert!(!log.contains("dropped"), "{log}");
}

#[test]
fn with_xray_unreachable_a_full_spool_drops_new_documents_and_every_loss_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens on port 1: every attempt is a refused connection.
    let env = skywatch_tests::aws::env_vars("http://127.0.0.1:1");
    let collector = Collector::start(
        dir.path(),
        "[forward]\nregion = \"us-east-1\"\nspool_documents = 10\n",
        &env,
    );
    let (trace, docs) = datagrams(600, 0xbeef);
    for (i, doc) in docs.iter().enumerate() {
        collector.send(doc);
        if i % 100 == 99 {
            poll_until(
                "the collector to catch up",
                Duration::from_secs(10),
                Duration::from_millis(5),
                || {
                    (collector.metric("skywatch_collector_received_total{source=\"udp\"}") as usize > i)
                        .then_some(())
                },
            )
            .unwrap();
        }
    }
    // At most 8 batches of 50 in flight, one more waiting for a slot, 10 in the spool: the
    // rest were refused at the spool's door, and counted.
    let spilled = poll_until(
        "spool drops counted",
        Duration::from_secs(20),
        Duration::from_millis(50),
        || {
            let n = collector.metric("skywatch_collector_dropped_total{reason=\"spool_full\"}");
            (n >= 600 - 450 - 10).then_some(n)
        },
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", collector.log()));
    // Kept locally all the same.
    assert_eq!(collector.metric("skywatch_collector_stored_total"), 600);
    assert!(
        collector.log().contains("the forwarding spool is full"),
        "{}",
        collector.log()
    );
    let fetched = collector.aws(&["batch-get-traces", "--trace-ids", &trace]);
    assert_eq!(fetched["Traces"][0]["Segments"].as_array().unwrap().len(), 600);
    let log = collector.stop();
    // What was in hand at the stop deadline is counted too: all 600 are accounted for.
    let line = log.lines().find(|l| l.contains("stopped: ")).unwrap();
    assert!(
        line.contains("0 forwarded") && line.contains("600 dropped"),
        "{line} (spool drops {spilled})"
    );
}

//! `skywatch agent` running the trace collector from a CloudWatch agent config's `traces`
//! section: an X-Ray SDK's datagram in over UDP, the trace listed through the TCP endpoint,
//! forwarding to an X-Ray that cannot be reached retried without stopping the agent, and a
//! clean stop.

use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::time::Duration;

use serde_json::Value;
use skywatch_tests::poll::poll_until;

use crate::running_agent::{free_loopback_addr, free_loopback_udp_addr, Agent};

/// The Python X-Ray SDK's datagram (header and segment) of this trace.
const DATAGRAM: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/collector/tests/fixtures/python-sdk-2.datagram"
);
const TRACE_ID: &str = "1-6b167cb7-42b5676dae8fc24a2b52f25e";

/// A CloudWatch agent config: memory metrics, and the X-Ray daemon's endpoints at `udp` and
/// `tcp`, sent to X-Ray in us-east-1.
fn config(udp: &str, tcp: &str) -> String {
    format!(
        r#"{{
  "metrics": {{"metrics_collected": {{"mem": {{"measurement": ["used_percent"]}}}}}},
  "traces": {{
    "traces_collected": {{
      "xray": {{"bind_address": "{udp}", "tcp_proxy": {{"bind_address": "{tcp}"}}}}
    }},
    "region_override": "us-east-1",
    "buffer_size_mb": 3
  }}
}}"#
    )
}

/// An X-Ray that refuses every connection (nothing listens on port 1), credentials that sign,
/// and no instance metadata.
fn unreachable_aws() -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:1".to_string()),
        ("AWS_ACCESS_KEY_ID", "test".to_string()),
        ("AWS_SECRET_ACCESS_KEY", "test".to_string()),
        ("AWS_EC2_METADATA_DISABLED", "true".to_string()),
    ]
}

/// `POST path` with a JSON body: the status and the body of the answer.
fn post(addr: &str, path: &str, body: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
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

/// The trace ids GetTraceSummaries lists for all time, or none while the listener is not up.
fn listed_trace_ids(tcp: &str) -> Option<Vec<String>> {
    TcpStream::connect(tcp).ok()?;
    let (status, body) = post(tcp, "/TraceSummaries", r#"{"StartTime":0,"EndTime":4000000000}"#);
    assert_eq!(status, 200, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    Some(
        answer["TraceSummaries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["Id"].as_str().unwrap().to_string())
            .collect(),
    )
}

#[test]
fn a_cloudwatch_agent_traces_section_runs_the_collector_beside_the_agent() {
    let (udp, tcp) = (free_loopback_udp_addr(), free_loopback_addr());
    let agent = Agent::start(&config(&udp, &tcp), &unreachable_aws(), &[]);
    agent.wait_for_log("collecting: udp", Duration::from_secs(10));
    let datagram = std::fs::read(DATAGRAM).unwrap();
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .send_to(&datagram, &udp)
        .unwrap();
    poll_until(
        "the trace listed by GetTraceSummaries",
        Duration::from_secs(20),
        Duration::from_millis(50),
        || listed_trace_ids(&tcp).filter(|ids| ids.iter().any(|id| id == TRACE_ID)),
    )
    .unwrap_or_else(|e| panic!("{e}\n--- agent log ---\n{}", agent.log()));
    // One registry: the collector's listener shows the agent's counters as well as its own.
    let metrics = crate::running_agent::http_get(&tcp, "/metrics");
    assert!(metrics.contains("skywatch_collector_received_total"), "{metrics}");
    assert!(
        metrics.contains("skywatch_agent_datums_collected_total"),
        "{metrics}"
    );
    // The store is in the agent's state directory.
    assert!(agent.state_dir().join("traces").is_dir(), "{}", agent.log());
    let log = agent.log();
    assert!(log.contains("forwarding to X-Ray"), "{log}");
    assert!(
        log.contains("traces.buffer_size_mb: ignored"),
        "the ignored key is named: {log}"
    );
    // X-Ray cannot be reached: forwarding fails and is retried, and the agent keeps running.
    let (status, log) = agent.stop(Duration::from_secs(60));
    assert!(status.success(), "{status:?}\n{log}");
    assert!(log.contains("skywatch collector: stopped: 1 received"), "{log}");
}

#[test]
fn a_trace_port_in_use_fails_the_start_naming_the_address() {
    let taken = UdpSocket::bind("127.0.0.1:0").unwrap();
    let udp = taken.local_addr().unwrap().to_string();
    let mut agent = Agent::start(&config(&udp, &free_loopback_addr()), &unreachable_aws(), &[]);
    let (status, log) = agent.wait(Duration::from_secs(20));
    assert_eq!(status.code(), Some(1), "{log}");
    assert!(
        log.contains(&format!("traces: cannot listen on udp {udp}")),
        "{log}"
    );
}

#[test]
fn once_does_not_start_the_trace_collector() {
    let (udp, tcp) = (free_loopback_udp_addr(), free_loopback_addr());
    let mut agent = Agent::start(&config(&udp, &tcp), &unreachable_aws(), &["--once"]);
    let (status, log) = agent.wait(Duration::from_secs(60));
    assert!(status.success(), "{log}");
    assert!(
        log.contains("--once: the trace collector is not started"),
        "{log}"
    );
    assert!(!log.contains("collecting: udp"), "{log}");
}

/// `skywatch config <verb> <file>`: exit code, stdout, stderr.
fn skywatch_config(verb: &str, file: &std::path::Path) -> (Option<i32>, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_skywatch"))
        .args(["config", verb, file.to_str().unwrap()])
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn config_check_passes_a_traces_section_and_convert_prints_it_as_our_toml() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("amazon-cloudwatch-agent.json");
    std::fs::write(&json, config("127.0.0.1:2000", "127.0.0.1:2000")).unwrap();
    let (code, out, err) = skywatch_config("check", &json);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("ok (CloudWatch agent JSON)"), "{out}");
    assert!(
        err.contains("warning: traces.buffer_size_mb: ignored: what waits for X-Ray is bounded by the collector's own limits"),
        "{err}"
    );
    let (code, toml, err) = skywatch_config("convert", &json);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        toml.contains("# dropped traces.buffer_size_mb: ignored"),
        "{toml}"
    );
    assert!(
        toml.contains("[traces]\nhttp = \"127.0.0.1:2000\"\nudp = \"127.0.0.1:2000\"\n\n[traces.forward]\nregion = \"us-east-1\"\n"),
        "{toml}"
    );
    let converted = dir.path().join("skywatch.toml");
    std::fs::write(&converted, toml).unwrap();
    let (code, out, err) = skywatch_config("check", &converted);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("ok (skywatch TOML)"), "{out}");
    assert_eq!(err, "", "the converted config checks clean");
}

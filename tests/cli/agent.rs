//! `skywatch agent` as systemd and users run it: against CloudWatch (moto, through the real SDK,
//! and through the fault proxy), to the local store with no AWS at all, with signals and the
//! health listener. procfs comes from a fixture (`SKYWATCH_PROC_ROOT`), so the values CloudWatch
//! receives are known exactly.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::running_agent::{http_get, Agent};

use skywatch_tests::aws::{env_vars, sdk_config};
use skywatch_tests::cloudwatch::types::{Datapoint, Dimension, Statistic};
use skywatch_tests::cloudwatch::Client;
use skywatch_tests::fault_proxy::{Fault, FaultProxy};
use skywatch_tests::imds::FakeImds;
use skywatch_tests::moto;
use skywatch_tests::names::unique_name;
use skywatch_tests::poll::{poll_until, poll_until_async};

/// mem_used_percent and swap_used_percent of that fixture (worked out in agent/tests/memory.rs).
const MEM_USED_PERCENT: f64 = 100.0 * 465_648.0 / 2_002_012.0;
const SWAP_USED_PERCENT: f64 = 100.0 * 10_496.0 / 1_048_572.0;

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_string()
}

/// A config sending mem and swap every second, flushed every second, tagged `test=<tag>`.
pub(crate) fn cloudwatch_config(tag: &str, output: &str) -> String {
    format!(
        r#"
[agent]
metrics_collection_interval = 1
[outputs]
metrics = "{output}"
[metrics]
force_flush_interval = 1
[metrics.mem]
measurement = ["used_percent"]
append_dimensions = {{ test = "{tag}" }}
[metrics.swap]
measurement = ["used_percent"]
append_dimensions = {{ test = "{tag}" }}
"#
    )
}

/// (sample count, average, unit) of a metric with dimensions host and test over the last hour.
async fn statistics(client: &Client, name: &str, tag: &str) -> Option<(f64, f64, String)> {
    let now = std::time::SystemTime::now();
    let out = client
        .get_metric_statistics()
        .namespace("CWAgent")
        .metric_name(name)
        .dimensions(Dimension::builder().name("host").value(hostname()).build())
        .dimensions(Dimension::builder().name("test").value(tag).build())
        .start_time((now - Duration::from_secs(3600)).into())
        .end_time((now + Duration::from_secs(600)).into())
        .period(3600)
        .statistics(Statistic::SampleCount)
        .statistics(Statistic::Average)
        .send()
        .await
        .unwrap();
    let points = out.datapoints();
    let count: f64 = points.iter().filter_map(Datapoint::sample_count).sum();
    let sum: f64 = points
        .iter()
        .filter_map(|p| Some(p.sample_count()? * p.average()?))
        .sum();
    let unit = points.first()?.unit()?.as_str().to_string();
    (count > 0.0).then(|| (count, sum / count, unit))
}

#[tokio::test]
async fn two_intervals_reach_cloudwatch_with_the_agents_names_dimensions_units_and_values() {
    let moto = moto::shared().unwrap_or_else(|e| panic!("{e}"));
    let client = Client::new(&sdk_config(&moto.endpoint_url()).await);
    let tag = unique_name("two-intervals");
    let agent = Agent::start(
        &cloudwatch_config(&tag, "cloudwatch"),
        &env_vars(&moto.endpoint_url()),
        &[],
    );
    let mem = poll_until_async(
        "two mem_used_percent datums in CloudWatch",
        Duration::from_secs(30),
        Duration::from_millis(300),
        || {
            let (client, tag) = (client.clone(), tag.clone());
            async move {
                statistics(&client, "mem_used_percent", &tag)
                    .await
                    .filter(|(n, _, _)| *n >= 2.0)
            }
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e}\n{}", agent.log()));
    let swap = statistics(&client, "swap_used_percent", &tag).await.unwrap();
    let (status, log) = agent.stop(Duration::from_secs(10));
    assert!(status.success(), "{log}");
    assert!((mem.1 - MEM_USED_PERCENT).abs() < 1e-9, "{mem:?}");
    assert_eq!(mem.2, "Percent");
    assert!((swap.1 - SWAP_USED_PERCENT).abs() < 1e-9, "{swap:?}");
    assert_eq!(swap.2, "Percent");
    assert!(
        log.contains("sending to CloudWatch, namespace CWAgent in us-east-1"),
        "{log}"
    );
    assert!(log.contains(" 0 dropped"), "{log}");
}

/// The totals of the agent's last log line: (collected, sent, dropped).
fn totals(log: &str) -> (u64, u64, u64) {
    let line = log
        .lines()
        .find(|l| l.contains("stopped:"))
        .unwrap_or_else(|| panic!("{log}"));
    let numbers: Vec<u64> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|w| w.parse().ok())
        .collect();
    (numbers[0], numbers[1], numbers[3])
}

#[tokio::test]
async fn throttling_errors_and_refused_connections_lose_nothing_within_the_queue() {
    let moto = moto::shared().unwrap_or_else(|e| panic!("{e}"));
    let proxy = FaultProxy::start(moto.addr()).unwrap();
    let client = Client::new(&sdk_config(&moto.endpoint_url()).await);
    let tag = unique_name("faults");
    let agent = Agent::start(
        &cloudwatch_config(&tag, "cloudwatch"),
        &env_vars(&proxy.endpoint_url()),
        &[],
    );
    agent.wait_for_log("collecting mem, swap", Duration::from_secs(10));
    for fault in [
        Fault::Throttle,
        Fault::HttpStatus(503),
        Fault::Refuse,
        Fault::HttpStatus(500),
    ] {
        proxy.set(fault);
        std::thread::sleep(Duration::from_millis(1500));
    }
    proxy.recover();
    // Let the retries drain, then stop.
    poll_until_async(
        "datums sent after the outage",
        Duration::from_secs(40),
        Duration::from_millis(300),
        || {
            let (client, tag) = (client.clone(), tag.clone());
            async move {
                statistics(&client, "swap_used_percent", &tag)
                    .await
                    .filter(|(n, _, _)| *n >= 6.0)
            }
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e}\n{}", agent.log()));
    let (status, log) = agent.stop(Duration::from_secs(25));
    assert!(status.success(), "{log}");
    let (collected, sent, dropped) = totals(&log);
    assert_eq!((sent, dropped), (collected, 0), "{log}");
    let mem = statistics(&client, "mem_used_percent", &tag).await.unwrap();
    let swap = statistics(&client, "swap_used_percent", &tag).await.unwrap();
    assert_eq!(
        (mem.0 + swap.0) as u64,
        collected,
        "every collected datum is in CloudWatch once: {log}"
    );
    assert!(log.contains("PutMetricData failed, retrying"), "{log}");
    assert!(log.contains("went through after"), "{log}");
}

#[test]
fn with_no_aws_metrics_go_to_the_local_store_and_skywatch_metrics_shows_them() {
    let tag = unique_name("local");
    let mut agent = Agent::start(&cloudwatch_config(&tag, "auto"), &[], &["--once"]);
    let (status, log) = agent.wait(Duration::from_secs(60));
    assert!(status.success(), "{log}");
    assert!(log.contains("metrics go to the local store"), "{log}");
    let state = agent.state_dir();
    let out = Command::new(env!("CARGO_BIN_EXE_skywatch"))
        .args([
            "metrics",
            "--json",
            "--name",
            "mem_used_percent",
            "--state-dir",
            state.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["unit"], "Percent");
    assert_eq!(lines[0]["namespace"], "CWAgent");
    assert_eq!(lines[0]["dimensions"]["test"], tag.as_str());
    assert!((lines[0]["value"].as_f64().unwrap() - MEM_USED_PERCENT).abs() < 1e-9);
    // The store is NDJSON with a timestamp field: logq reads it as it is.
    let store_files: Vec<PathBuf> = std::fs::read_dir(state.join("metrics"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let logq = Command::new(env!("CARGO_BIN_EXE_logq"))
        .args([
            "--format",
            "csv",
            "filter name = \"swap_used_percent\" | stats count(*) as n, avg(value) as v",
        ])
        .args(&store_files)
        .output()
        .unwrap();
    let csv = String::from_utf8_lossy(&logq.stdout);
    assert!(csv.starts_with("n,v\n1,"), "{csv}");
    let table = Command::new(env!("CARGO_BIN_EXE_skywatch"))
        .args(["metrics", "--state-dir", state.to_str().unwrap()])
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(table.starts_with("timestamp"), "{table}");
    assert!(table.contains("swap_used_percent"), "{table}");
}

#[test]
fn off_ec2_the_agent_starts_within_two_seconds_with_the_host_dimension() {
    // An instance metadata endpoint that accepts connections and never answers: the worst case.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", silent.local_addr().unwrap());
    let config = cloudwatch_config("off-ec2", "local")
        + "\n[metrics.append_dimensions]\nInstanceId = \"${aws:InstanceId}\"\n";
    let started = Instant::now();
    let agent = Agent::start(&config, &[("AWS_EC2_METADATA_SERVICE_ENDPOINT", endpoint)], &[]);
    agent.wait_for_log("collecting mem, swap", Duration::from_secs(5));
    let took = started.elapsed();
    let (status, log) = agent.stop(Duration::from_secs(10));
    assert!(took < Duration::from_secs(2), "started in {took:?}: {log}");
    assert!(status.success(), "{log}");
    assert!(log.contains("not using instance metadata"), "{log}");
    assert!(log.contains("sending the host dimension instead"), "{log}");
}

#[test]
fn health_listener_reloads_and_bad_configs_on_sighup() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let config = format!(
        "{}\n[health]\nlisten = \"{addr}\"\n",
        cloudwatch_config("health", "local")
    );
    let agent = Agent::start(&config, &[], &[]);
    agent.wait_for_log("health on", Duration::from_secs(5));
    let health = http_get(&addr, "/healthz");
    assert!(
        health.starts_with("HTTP/1.1 200 OK") && health.ends_with("ok\n"),
        "{health}"
    );
    poll_until(
        "datums stored",
        Duration::from_secs(10),
        Duration::from_millis(100),
        || {
            let metrics = http_get(&addr, "/metrics");
            metrics
                .lines()
                .find_map(|l| l.strip_prefix("skywatch_agent_datums_stored_total "))
                .and_then(|n| n.parse::<u64>().ok())
                .filter(|n| *n >= 2)
        },
    )
    .unwrap();
    assert!(http_get(&addr, "/nope").starts_with("HTTP/1.1 404"));
    assert!(http_get(&addr, "/metrics").contains("# TYPE skywatch_agent_datums_dropped_total counter"));

    // A broken config is refused and the agent goes on.
    std::fs::write(&agent.config, "[metrics.mem]\nmeasurement = [\"mem_usd\"]\n").unwrap();
    agent.signal("HUP");
    agent.wait_for_log("keeping the running config", Duration::from_secs(5));
    assert!(
        agent.log().contains("mem has no metric \"mem_usd\""),
        "{}",
        agent.log()
    );
    assert!(http_get(&addr, "/healthz").starts_with("HTTP/1.1 200 OK"));
    // A good one is taken.
    std::fs::write(
        &agent.config,
        config.replace(
            "[metrics.swap]",
            "[metrics.cpu]\nmeasurement = [\"usage_idle\"]\n[metrics.swap]",
        ),
    )
    .unwrap();
    agent.signal("HUP");
    agent.wait_for_log("reloaded", Duration::from_secs(5));
    let (status, log) = agent.stop(Duration::from_secs(10));
    assert!(status.success(), "{log}");
}

#[test]
fn a_config_with_errors_stops_the_agent_with_exit_2_and_every_key_path() {
    let mut agent = Agent::start(
        "[metrics.mem]\nmeasurement = [\"mem_usd\"]\ncolour = 1\n",
        &[],
        &[],
    );
    let (status, log) = agent.wait(Duration::from_secs(60));
    assert_eq!(status.code(), Some(2), "{log}");
    assert!(
        log.contains("metrics.mem.measurement[0]: mem has no metric \"mem_usd\""),
        "{log}"
    );
    assert!(log.contains("metrics.mem.colour: unknown key"), "{log}");
}

/// (sample count) of a metric with exactly `dimensions` over the last hour.
async fn sample_count(client: &Client, name: &str, dimensions: &[(&str, &str)]) -> f64 {
    let now = std::time::SystemTime::now();
    let mut request = client
        .get_metric_statistics()
        .namespace("CWAgent")
        .metric_name(name)
        .start_time((now - Duration::from_secs(3600)).into())
        .end_time((now + Duration::from_secs(600)).into())
        .period(3600)
        .statistics(Statistic::SampleCount);
    for (k, v) in dimensions {
        request = request.dimensions(Dimension::builder().name(*k).value(*v).build());
    }
    let out = request.send().await.unwrap();
    out.datapoints().iter().filter_map(Datapoint::sample_count).sum()
}

#[tokio::test]
async fn on_ec2_the_instance_dimensions_replace_host_and_roll_up() {
    let moto = moto::shared().unwrap_or_else(|e| panic!("{e}"));
    let client = Client::new(&sdk_config(&moto.endpoint_url()).await);
    let tag = unique_name("ec2");
    let config = cloudwatch_config(&tag, "cloudwatch")
        + r#"
[metrics.append_dimensions]
InstanceId = "${aws:InstanceId}"
ImageId = "${aws:ImageId}"
InstanceType = "${aws:InstanceType}"
"#;
    let config = config.replace(
        "force_flush_interval = 1",
        "force_flush_interval = 1\naggregation_dimensions = [[\"InstanceId\", \"test\"]]",
    );
    let imds = FakeImds::start(&[
        ("instance-id", "i-0123456789abcdef0"),
        ("ami-id", "ami-0abcdef1234567890"),
        ("instance-type", "t3.micro"),
        ("placement/region", "us-east-1"),
        ("local-ipv4", "10.0.0.7"),
    ])
    .unwrap();
    let mut env: Vec<(&str, String)> = env_vars(&moto.endpoint_url())
        .into_iter()
        .filter(|(k, _)| *k != "AWS_EC2_METADATA_DISABLED")
        .collect();
    env.push(("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.endpoint_url()));
    let agent = Agent::start(&config, &env, &[]);
    let full = [
        ("ImageId", "ami-0abcdef1234567890"),
        ("InstanceId", "i-0123456789abcdef0"),
        ("InstanceType", "t3.micro"),
        ("test", tag.as_str()),
    ];
    poll_until_async(
        "mem_used_percent with the instance's dimensions",
        Duration::from_secs(30),
        Duration::from_millis(300),
        || {
            let client = client.clone();
            async move { (sample_count(&client, "mem_used_percent", &full).await >= 1.0).then_some(()) }
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e}\n{}", agent.log()));
    let rolled = [("InstanceId", "i-0123456789abcdef0"), ("test", tag.as_str())];
    poll_until_async(
        "the [InstanceId, test] roll-up",
        Duration::from_secs(10),
        Duration::from_millis(300),
        || {
            let client = client.clone();
            async move { (sample_count(&client, "swap_used_percent", &rolled).await >= 1.0).then_some(()) }
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e}\n{}", agent.log()));
    let with_host = [("host", hostname()), ("test", tag.clone())];
    let with_host: Vec<(&str, &str)> = with_host.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert!(
        sample_count(&client, "mem_used_percent", &with_host).await < 0.5,
        "no host dimension on EC2"
    );
    let (status, log) = agent.stop(Duration::from_secs(10));
    assert!(status.success(), "{log}");
    assert!(
        log.contains("on EC2 instance i-0123456789abcdef0 (us-east-1)"),
        "{log}"
    );
    assert_eq!(
        imds.unauthorized.load(std::sync::atomic::Ordering::Relaxed),
        0,
        "IMDSv2: every read carried the token"
    );
}

#[test]
fn netstat_and_processes_are_collected_from_this_machines_procfs() {
    let work = tempfile::tempdir().unwrap();
    let config = "[outputs]\nmetrics = \"local\"\n[metrics.netstat]\nmeasurement = [\"tcp_listen\", \"tcp_established\", \"udp_socket\"]\n[metrics.processes]\nmeasurement = [\"running\", \"sleeping\", \"total\", \"total_threads\"]\n";
    let mut agent = Agent::start_in(
        work.path(),
        config,
        &[
            ("SKYWATCH_PROC_ROOT", "/proc".to_string()),
            ("AWS_EC2_METADATA_DISABLED", "true".to_string()),
        ],
        &["--once"],
    );
    let (status, log) = agent.wait(Duration::from_secs(60));
    assert!(status.success(), "{log}");
    let out = Command::new(env!("CARGO_BIN_EXE_skywatch"))
        .args([
            "metrics",
            "--json",
            "--state-dir",
            work.path().join("state").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let value = |name: &str| -> f64 {
        text.lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .find(|v| v["name"] == name)
            .and_then(|v| v["value"].as_f64())
            .unwrap_or_else(|| panic!("{name} not in\n{text}\n{log}"))
    };
    assert!(value("processes_total") >= 1.0);
    assert!(value("processes_total_threads") >= value("processes_total"));
    assert!(value("processes_running") >= 1.0, "this process runs");
    for name in [
        "netstat_tcp_listen",
        "netstat_tcp_established",
        "netstat_udp_socket",
    ] {
        assert!(value(name) >= 0.0);
    }
    assert!(text.contains("\"unit\":\"Count\""), "{text}");
}

#[test]
fn procstat_counts_and_measures_the_processes_each_entry_selects() {
    let work = tempfile::tempdir().unwrap();
    let mut sleeper = Command::new("sleep").arg("60").spawn().unwrap();
    let pid_file = work.path().join("sleep.pid");
    std::fs::write(&pid_file, format!("{}\n", sleeper.id())).unwrap();
    let json = format!(
        r#"{{"agent": {{"metrics_collection_interval": 60}},
  "metrics": {{"metrics_collected": {{"procstat": [
    {{"pid_file": "{}", "measurement": ["pid_count", "memory_rss", "num_threads", "cpu_time_user"]}},
    {{"pattern": "no-such-process-[0-9]{{40}}", "measurement": ["pid_count", "memory_rss"]}}
  ]}}}}}}"#,
        pid_file.display()
    );
    std::fs::write(work.path().join("agent.json"), &json).unwrap();
    // The CloudWatch agent's JSON converts to our TOML and back to the same thing.
    let convert = Command::new(env!("CARGO_BIN_EXE_skywatch"))
        .args([
            "config",
            "convert",
            work.path().join("agent.json").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let toml = String::from_utf8_lossy(&convert.stdout).into_owned();
    assert!(toml.contains("[[metrics.procstat]]"), "{toml}");
    let toml = format!("[outputs]\nmetrics = \"local\"\n{toml}");
    let mut agent = Agent::start_in(
        work.path(),
        &toml,
        &[
            ("SKYWATCH_PROC_ROOT", "/proc".to_string()),
            ("AWS_EC2_METADATA_DISABLED", "true".to_string()),
        ],
        &["--once"],
    );
    let (status, log) = agent.wait(Duration::from_secs(60));
    let _ = sleeper.kill();
    let _ = sleeper.wait();
    assert!(status.success(), "{log}");
    let rows = stored_metrics(&work.path().join("state"));
    let find = |name: &str, dimension: &str, value: &str| {
        rows.iter()
            .find(|r| r["name"] == name && r["dimensions"][dimension] == value)
            .unwrap_or_else(|| panic!("{name} with {dimension}={value} not in {rows:#?}\n{log}"))
            .clone()
    };
    let pid_file = pid_file.display().to_string();
    assert_eq!(
        find("procstat_lookup_pid_count", "pidfile", &pid_file)["value"],
        1.0
    );
    assert_eq!(
        find("procstat_lookup_pid_count", "pidfile", &pid_file)["dimensions"]["pid_finder"],
        "native"
    );
    let rss = find("procstat_memory_rss", "process_name", "sleep");
    assert!(rss["value"].as_f64().unwrap() > 0.0, "{rss}");
    assert_eq!(rss["unit"], "Bytes");
    assert_eq!(rss["dimensions"]["pidfile"], pid_file.as_str());
    assert_eq!(
        find(
            "procstat_lookup_pid_count",
            "pattern",
            "no-such-process-[0-9]{40}"
        )["value"],
        0.0,
        "a selection matching nothing still counts 0"
    );
}

#[test]
fn statsd_lines_are_aggregated_per_interval_with_their_tags_as_dimensions() {
    let udp = crate::running_agent::free_loopback_udp_addr();
    let config = format!(
        "[outputs]\nmetrics = \"local\"\n[metrics]\nforce_flush_interval = 1\n[metrics.statsd]\nservice_address = \"{udp}\"\nmetrics_collection_interval = 1\n"
    );
    let agent = Agent::start(&config, &[("AWS_EC2_METADATA_DISABLED", "true".to_string())], &[]);
    agent.wait_for_log(
        &format!("statsd listener on udp://{udp}"),
        Duration::from_secs(10),
    );
    let client = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    client
        .send_to(
            b"api.hits:1|c|#route:/a\napi.hits:2|c|#route:/a\napi.latency:12|ms\nnot statsd\n",
            &udp,
        )
        .unwrap();
    client.send_to(b"queue.depth:7|g", &udp).unwrap();
    agent.wait_for_log("statsd: not a StatsD line", Duration::from_secs(10));
    let state = agent.state_dir();
    let rows = || stored_metrics(&state);
    let found = poll_until(
        "the statsd metrics in the local store",
        Duration::from_secs(15),
        Duration::from_millis(200),
        || {
            let rows = rows();
            let names: Vec<String> = rows
                .iter()
                .map(|r| r["name"].as_str().unwrap_or("").to_string())
                .collect();
            ["api_hits", "api_latency", "queue_depth"]
                .iter()
                .all(|n| names.iter().any(|m| m == n))
                .then_some(rows)
        },
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", agent.log()));
    let hits = found.iter().find(|r| r["name"] == "api_hits").unwrap();
    assert_eq!(hits["value"], 3.0, "two counts in one interval: {hits}");
    assert_eq!(hits["dimensions"]["route"], "/a");
    let latency = found.iter().find(|r| r["name"] == "api_latency").unwrap();
    assert_eq!(latency["unit"], "Milliseconds");
    let (status, log) = agent.stop(Duration::from_secs(30));
    assert!(status.success(), "{log}");
}

#[test]
fn nvidia_gpu_reads_nvidia_smi_per_gpu_and_says_when_it_is_missing() {
    let work = tempfile::tempdir().unwrap();
    // A recorded answer of two T4s, as the driver's nvidia-smi prints it.
    let smi = work.path().join("nvidia-smi");
    std::fs::write(
        &smi,
        "#!/bin/sh\nprintf '0, Tesla T4, 0, 15360, 1024, 14336, 27.50, 44, 87, 12, 3, 16, 0, 0, 0, 1590, 1590, 5000, 1470\\n1, Tesla T4, [Not Supported], 15360, 0, 15360, N/A, 30, 0, 0, 1, 16, 0, 0, 0, 300, 300, 405, 540\\n'\n",
    )
    .unwrap();
    make_executable(&smi);
    let config = "[outputs]\nmetrics = \"local\"\n[metrics.nvidia_gpu]\nmeasurement = [\"utilization_gpu\", \"memory_used\", \"power_draw\"]\n";
    let mut agent = Agent::start_in(
        work.path(),
        config,
        &[
            ("SKYWATCH_NVIDIA_SMI", smi.display().to_string()),
            ("AWS_EC2_METADATA_DISABLED", "true".to_string()),
        ],
        &["--once"],
    );
    let (status, log) = agent.wait(Duration::from_secs(60));
    assert!(status.success(), "{log}");
    let rows = stored_metrics(&work.path().join("state"));
    let utilization: Vec<&serde_json::Value> = rows
        .iter()
        .filter(|r| r["name"] == "nvidia_smi_utilization_gpu")
        .collect();
    assert_eq!(utilization.len(), 2, "{rows:#?}");
    assert_eq!(utilization[0]["unit"], "Percent");
    assert!(rows
        .iter()
        .any(|r| r["name"] == "nvidia_smi_memory_used" && r["unit"] == "Megabytes" && r["value"] == 1024.0));
    assert_eq!(
        rows.iter()
            .filter(|r| r["name"] == "nvidia_smi_power_draw")
            .count(),
        1,
        "the second GPU reports no power draw"
    );
    assert!(rows.iter().all(|r| r["dimensions"]["name"] == "Tesla T4"));
    // Without nvidia-smi: the scrape says why.
    let missing = tempfile::tempdir().unwrap();
    let mut agent = Agent::start_in(
        missing.path(),
        config,
        &[
            (
                "SKYWATCH_NVIDIA_SMI",
                missing.path().join("nvidia-smi").display().to_string(),
            ),
            ("AWS_EC2_METADATA_DISABLED", "true".to_string()),
        ],
        &["--once"],
    );
    let (_, log) = agent.wait(Duration::from_secs(60));
    assert!(
        log.contains("nvidia_gpu needs the NVIDIA driver's nvidia-smi"),
        "{log}"
    );
}

/// A packet of collectd's network plugin (binary protocol, no security): one memory gauge.
fn collectd_packet(host: &str, gauge: f64) -> Vec<u8> {
    let part = |kind: u16, body: &[u8]| {
        let mut out = kind.to_be_bytes().to_vec();
        out.extend_from_slice(&((body.len() + 4) as u16).to_be_bytes());
        out.extend_from_slice(body);
        out
    };
    let string = |kind: u16, s: &str| {
        let mut body = s.as_bytes().to_vec();
        body.push(0);
        part(kind, &body)
    };
    let mut packet = string(0x0000, host);
    packet.extend(string(0x0002, "memory"));
    packet.extend(string(0x0004, "memory"));
    packet.extend(string(0x0005, "used"));
    let mut values = 1u16.to_be_bytes().to_vec();
    values.push(1);
    values.extend_from_slice(&gauge.to_le_bytes());
    packet.extend(part(0x0006, &values));
    packet
}

#[test]
fn collectd_packets_become_metrics_named_as_the_cloudwatch_agent_names_them() {
    let udp = crate::running_agent::free_loopback_udp_addr();
    let config = format!(
        "[outputs]\nmetrics = \"local\"\n[metrics]\nforce_flush_interval = 1\n[metrics.collectd]\nservice_address = \"udp://{udp}\"\nmetrics_collection_interval = 1\ncollectd_typesdb = []\n"
    );
    let agent = Agent::start(&config, &[("AWS_EC2_METADATA_DISABLED", "true".to_string())], &[]);
    agent.wait_for_log(
        &format!("collectd listener on udp://{udp}"),
        Duration::from_secs(10),
    );
    let client = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    client.send_to(&collectd_packet("web-1", 2048.0), &udp).unwrap();
    client.send_to(b"not collectd", &udp).unwrap();
    agent.wait_for_log(
        "collectd: a packet that is not collectd's binary protocol",
        Duration::from_secs(10),
    );
    let state = agent.state_dir();
    let found = poll_until(
        "collectd_memory_value in the local store",
        Duration::from_secs(15),
        Duration::from_millis(200),
        || {
            let out = Command::new(env!("CARGO_BIN_EXE_skywatch"))
                .args(["metrics", "--json", "--name", "collectd_memory_value"])
                .args(["--state-dir", state.to_str().unwrap()])
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            (!text.is_empty()).then_some(text)
        },
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", agent.log()));
    let row: serde_json::Value = serde_json::from_str(found.lines().next().unwrap()).unwrap();
    assert_eq!(row["value"], 2048.0);
    assert_eq!(row["dimensions"]["host"], "web-1");
    assert_eq!(row["dimensions"]["type_instance"], "used");
    let (status, log) = agent.stop(Duration::from_secs(30));
    assert!(status.success(), "{log}");
}

#[test]
fn ethtool_sends_the_driver_statistics_asked_for_per_interface() {
    let work = tempfile::tempdir().unwrap();
    // A recorded ENA answer.
    let tool = work.path().join("ethtool");
    std::fs::write(
        &tool,
        "#!/bin/sh\nif [ \"$1\" = -i ]; then printf 'driver: ena\\nversion: 2.8.0g\\n'; else printf 'NIC statistics:\\n     tx_timeout: 0\\n     bw_in_allowance_exceeded: 12\\n     pps_allowance_exceeded: 3\\n'; fi\n",
    )
    .unwrap();
    make_executable(&tool);
    let json = r#"{"metrics": {"metrics_collected": {"ethtool": {"interface_include": ["eth9"], "metrics_include": ["bw_in_allowance_exceeded", "pps_allowance_exceeded"]}}}}"#;
    std::fs::write(work.path().join("agent.json"), json).unwrap();
    let convert = Command::new(env!("CARGO_BIN_EXE_skywatch"))
        .args([
            "config",
            "convert",
            work.path().join("agent.json").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let toml = format!(
        "[outputs]\nmetrics = \"local\"\n{}",
        String::from_utf8_lossy(&convert.stdout)
    );
    let mut agent = Agent::start_in(
        work.path(),
        &toml,
        &[
            ("SKYWATCH_ETHTOOL", tool.display().to_string()),
            ("AWS_EC2_METADATA_DISABLED", "true".to_string()),
        ],
        &["--once"],
    );
    let (status, log) = agent.wait(Duration::from_secs(60));
    assert!(status.success(), "{log}\n{toml}");
    let rows = stored_metrics(&work.path().join("state"));
    let names: Vec<&str> = rows.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names.len(), 2, "only the statistics asked for: {names:?}");
    let bw = rows
        .iter()
        .find(|r| r["name"] == "ethtool_bw_in_allowance_exceeded")
        .unwrap();
    assert_eq!(bw["value"], 12.0);
    assert_eq!(bw["dimensions"]["interface"], "eth9");
    assert_eq!(bw["dimensions"]["driver"], "ena");
}

/// The metrics the local store under `state` holds, as `skywatch metrics --json` prints them.
fn stored_metrics(state: &std::path::Path) -> Vec<serde_json::Value> {
    let out = Command::new(env!("CARGO_BIN_EXE_skywatch"))
        .args(["metrics", "--json", "--state-dir", state.to_str().unwrap()])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A stand-in for a tool (a recorded answer in a shell script) made runnable.
fn make_executable(path: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

//! `skywatch agent` shipping log files: to CloudWatch Logs (moto, through the fault proxy) across
//! rotations, truncation, SIGKILLs and an outage without losing a line; to the local store with no
//! AWS, read back with `logq --store`.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::running_agent::{free_loopback_addr, http_get, Agent};
use skywatch_tests::aws::{env_vars, sdk_config};
use skywatch_tests::fault_proxy::{Fault, FaultProxy};
use skywatch_tests::log_groups::all_messages;
use skywatch_tests::logs::Client;
use skywatch_tests::moto;
use skywatch_tests::names::unique_name;
use skywatch_tests::poll::poll_until;

/// Bytes of each line [`numbered`] writes, with its newline.
const LINE_BYTES: u64 = 56;

/// Lines the saved checkpoints cover (every file holds whole numbered lines, each once).
fn checkpointed_lines(state: &Path) -> usize {
    let Ok(text) = std::fs::read_to_string(state.join("checkpoints.json")) else {
        return 0;
    };
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    doc["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["offset"].as_u64().unwrap() / LINE_BYTES) as usize)
        .sum()
}

/// Line `n` as the writer writes it.
fn numbered(n: usize) -> String {
    format!("line {n:06} the quick brown fox jumps over the lazy dog")
}

/// The number of a line written by [`numbered`].
fn number_of(message: &str) -> Option<usize> {
    message.strip_prefix("line ")?.get(..6)?.parse().ok()
}

/// Writes numbered lines to `app.log` and rotates it the ways logrotate does.
struct Writer {
    dir: PathBuf,
    file: File,
    next: usize,
}

impl Writer {
    fn new(dir: &Path) -> Writer {
        Writer {
            dir: dir.to_path_buf(),
            file: Writer::open(&dir.join("app.log")),
            next: 0,
        }
    }

    fn open(path: &Path) -> File {
        OpenOptions::new().create(true).append(true).open(path).unwrap()
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn write(&mut self, count: usize) {
        let mut text = String::new();
        for _ in 0..count {
            text.push_str(&numbered(self.next));
            text.push('\n');
            self.next += 1;
        }
        self.file.write_all(text.as_bytes()).unwrap();
    }

    /// Rename-and-create: `app.log` becomes `rotated`, a new `app.log` is written.
    fn rename_rotation(&mut self, rotated: &str) {
        std::fs::rename(self.path("app.log"), self.path(rotated)).unwrap();
        self.file = Writer::open(&self.path("app.log"));
    }

    /// copytruncate: `app.log` is copied to `copy`, then truncated in place (the writer's
    /// append-mode handle goes on at the new end).
    fn copytruncate(&mut self, copy: &str) {
        std::fs::copy(self.path("app.log"), self.path(copy)).unwrap();
        self.file.set_len(0).unwrap();
    }

    fn truncate(&mut self) {
        self.file.set_len(0).unwrap();
    }
}

/// How many of each line number the stream holds, and messages that are no numbered line.
fn tally(messages: &[String]) -> (BTreeMap<usize, usize>, Vec<String>) {
    let mut counts = BTreeMap::new();
    let mut strangers = Vec::new();
    for m in messages {
        match number_of(m) {
            Some(n) if m == &numbered(n) => *counts.entry(n).or_insert(0) += 1,
            _ => strangers.push(m.clone()),
        }
    }
    (counts, strangers)
}

/// Consecutive numbers as (first, last) ranges.
fn ranges(numbers: impl Iterator<Item = usize>) -> Vec<(usize, usize)> {
    let mut out: Vec<(usize, usize)> = Vec::new();
    for n in numbers {
        match out.last_mut() {
            Some((_, last)) if *last + 1 == n => *last = n,
            _ => out.push((n, n)),
        }
    }
    out
}

fn logs_config(dir: &Path, group: &str, extra: &str) -> String {
    format!(
        r#"
[outputs]
logs = "cloudwatch"
[logs]
force_flush_interval = 1
{extra}
[[logs.files]]
file_path = "{}/app.log*"
log_group_name = "{group}"
log_stream_name = "app"
"#,
        dir.display()
    )
}

struct Stream {
    runtime: tokio::runtime::Runtime,
    client: Client,
    group: String,
}

impl Stream {
    fn new(endpoint: &str, group: &str) -> Stream {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let client = runtime.block_on(async { Client::new(&sdk_config(endpoint).await) });
        Stream {
            runtime,
            client,
            group: group.to_string(),
        }
    }

    fn messages(&self) -> Vec<String> {
        self.runtime
            .block_on(all_messages(&self.client, &self.group, "app"))
            .unwrap()
    }

    /// Polls until every line below `written` is in the stream.
    fn wait_for_all(&self, written: usize, timeout: Duration, agent_log: impl Fn() -> String) -> Vec<String> {
        poll_until(
            &format!("all {written} lines in CloudWatch Logs"),
            timeout,
            Duration::from_secs(2),
            || {
                let messages = self.messages();
                let (counts, _) = tally(&messages);
                (counts.len() >= written).then_some(messages)
            },
        )
        .unwrap_or_else(|e| {
            let (counts, _) = tally(&self.messages());
            let missing: Vec<usize> = (0..written)
                .filter(|n| !counts.contains_key(n))
                .take(20)
                .collect();
            panic!(
                "{e}; first missing: {missing:?}\n--- agent log ---\n{}",
                agent_log()
            )
        })
    }
}

#[test]
fn a_hundred_thousand_lines_survive_rotations_truncation_two_kills_and_an_outage() {
    let moto = moto::shared().unwrap_or_else(|e| panic!("{e}"));
    let proxy = FaultProxy::start(moto.addr()).unwrap();
    let env = env_vars(&proxy.endpoint_url());
    let work = tempfile::tempdir().unwrap();
    let logs_dir = work.path().join("logs");
    std::fs::create_dir_all(&logs_dir).unwrap();
    let group = unique_name("/it/agent-logs");
    // A small memory buffer and spool, so the outage spills to disk and then stops the reader.
    let config = logs_config(&logs_dir, &group, "buffer_bytes = 65536\nspool_bytes = 1048576");
    let stream = Stream::new(&moto.endpoint_url(), &group);
    let agent_log = || std::fs::read_to_string(work.path().join("stderr.log")).unwrap_or_default();
    let mut writer = Writer::new(&logs_dir);
    let mut duplicates_allowed = 0;
    assert_eq!(numbered(0).len() as u64 + 1, LINE_BYTES);

    // Rename rotation, then the first SIGKILL once delivery is under way.
    let agent = Agent::start_in(work.path(), &config, &env, &[]);
    writer.write(15_000);
    writer.rename_rotation("app.log.1");
    writer.write(15_000);
    poll_until(
        "some lines delivered",
        Duration::from_secs(60),
        Duration::from_millis(200),
        || (tally(&stream.messages()).0.len() >= 5_000).then_some(()),
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", agent_log()));
    agent.kill();
    // What was read but not checkpointed is in flight: the restart sends it again.
    duplicates_allowed += writer.next - checkpointed_lines(&work.path().join("state"));

    // Refused connections for 20 s; a copytruncate meanwhile; the second SIGKILL mid-outage.
    proxy.set_for(Fault::Refuse, Duration::from_secs(20));
    let agent = Agent::start_in(work.path(), &config, &env, &[]);
    writer.write(15_000);
    writer.copytruncate("app.log.2");
    writer.write(15_000);
    agent.wait_for_log("delivery failed, retrying", Duration::from_secs(30));
    agent.kill();
    duplicates_allowed += writer.next - checkpointed_lines(&work.path().join("state"));

    // Throttling for 10 s once the refusals end.
    let agent = Agent::start_in(work.path(), &config, &env, &[]);
    poll_until(
        "the refusals to end",
        Duration::from_secs(40),
        Duration::from_millis(100),
        || (proxy.fault() == Fault::None).then_some(()),
    )
    .unwrap();
    // Caught up first, so the throttling meets a sender that is not already backing off.
    stream.wait_for_all(writer.next, Duration::from_secs(120), agent_log);
    proxy.set_for(Fault::Throttle, Duration::from_secs(10));
    writer.write(20_000);
    // A plain truncation loses what was not read yet, whoever reads: truncate once all is in.
    stream.wait_for_all(writer.next, Duration::from_secs(120), agent_log);
    writer.truncate();
    writer.write(20_000);
    assert_eq!(writer.next, 100_000);
    let messages = stream.wait_for_all(writer.next, Duration::from_secs(120), agent_log);

    let (counts, strangers) = tally(&messages);
    assert!(
        strangers.is_empty(),
        "lines nobody wrote: {:?}",
        &strangers[..strangers.len().min(5)]
    );
    let missing: Vec<usize> = (0..writer.next).filter(|n| !counts.contains_key(n)).collect();
    assert_eq!(
        missing.len(),
        0,
        "lost lines, first: {:?}",
        &missing[..missing.len().min(10)]
    );
    let duplicates = messages.len() - counts.len();
    let duplicated = ranges(counts.iter().filter(|(_, c)| **c > 1).map(|(n, _)| *n));
    assert!(
        duplicates <= duplicates_allowed,
        "{duplicates} duplicates; at most {duplicates_allowed} were in flight at the kills"
    );
    let (status, log) = agent.stop(Duration::from_secs(30));
    assert!(status.success(), "{log}");
    for words in [
        "app.log was truncated",
        "delivery failed, retrying",
        "delivered after",
    ] {
        assert!(log.contains(words), "{words:?} not in the agent's log:\n{log}");
    }
    eprintln!(
        "100000 lines: 0 lost, {duplicates} duplicates {duplicated:?} (at most {duplicates_allowed} in flight at the kills); the proxy answered {} requests with throttling",
        proxy.stats().errors_returned.load(std::sync::atomic::Ordering::Relaxed)
    );
}

#[test]
fn sigterm_delivers_what_was_read_and_a_restart_sends_nothing_twice() {
    let moto = moto::shared().unwrap_or_else(|e| panic!("{e}"));
    let env = env_vars(&moto.endpoint_url());
    let work = tempfile::tempdir().unwrap();
    let logs_dir = work.path().join("logs");
    std::fs::create_dir_all(&logs_dir).unwrap();
    let group = unique_name("/it/agent-logs-term");
    // A long flush interval: only the stop sends the batch.
    let health = free_loopback_addr();
    let config = logs_config(&logs_dir, &group, "")
        .replace("force_flush_interval = 1", "force_flush_interval = 600")
        + &format!("[health]\nlisten = \"{health}\"\n");
    let stream = Stream::new(&moto.endpoint_url(), &group);
    let mut writer = Writer::new(&logs_dir);
    writer.write(500);
    // An unterminated last line is sent as it is at the stop.
    writer.file.write_all(b"line 000500 no newline yet").unwrap();
    let agent = Agent::start_in(work.path(), &config, &env, &[]);
    poll_until(
        "the agent to read the file",
        Duration::from_secs(20),
        Duration::from_millis(50),
        || {
            let metrics = std::net::TcpStream::connect(&health)
                .ok()
                .map(|_| http_get(&health, "/metrics"))?;
            metrics
                .contains("skywatch_agent_log_events_total{outcome=\"read\"} 500")
                .then_some(())
        },
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", agent.log()));
    assert!(
        stream.messages().is_empty(),
        "nothing is sent before the flush interval"
    );
    let (status, log) = agent.stop(Duration::from_secs(30));
    assert!(status.success(), "{log}");
    let messages = stream.messages();
    assert_eq!(messages.len(), 501, "{log}");
    assert_eq!(
        messages.last().map(String::as_str),
        Some("line 000500 no newline yet")
    );
    let checkpoints = std::fs::read_to_string(work.path().join("state/checkpoints.json")).unwrap();
    assert!(checkpoints.contains("\"version\":1"), "{checkpoints}");
    // A restart reads on from the checkpoint: only the new line arrives (the empty line the
    // newline ends is not an event).
    writer
        .file
        .write_all(b"\nline 000501 after the restart\n")
        .unwrap();
    run_once(work.path(), &config, &env);
    let messages = stream.messages();
    assert_eq!(messages.len(), 502, "{messages:?}");
    assert_eq!(
        messages.last().map(String::as_str),
        Some("line 000501 after the restart")
    );
}

#[test]
fn with_no_aws_logs_go_to_the_local_store_and_logq_reads_them() {
    let work = tempfile::tempdir().unwrap();
    let logs_dir = work.path().join("logs");
    std::fs::create_dir_all(&logs_dir).unwrap();
    std::fs::write(
        logs_dir.join("app.log"),
        "2026-11-28 01:00:00 ERROR payment failed for jane@example.com\n  at charge()\n2026-11-28 01:00:05 INFO ok\n2026-11-28 01:00:07 DEBUG healthcheck\n",
    )
    .unwrap();
    let config = format!(
        r#"
[logs]
redact = ["email"]
[[logs.files]]
file_path = "{}/*.log"
log_group_name = "/app/{{hostname}}"
timestamp_format = "%Y-%m-%d %H:%M:%S"
timezone = "UTC"
filters = [{{ type = "exclude", expression = "healthcheck" }}]
"#,
        logs_dir.display()
    );
    // No credentials, no region: the local store.
    let log = run_once(
        work.path(),
        &config,
        &[("AWS_EC2_METADATA_DISABLED", "true".to_string())],
    );
    assert!(log.contains("log events go to the local store"), "{log}");
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let group = format!("/app/{}", host.trim());
    let logq = |query: &str| logq_store(work.path(), &group, query);
    assert_eq!(logq("stats count(*) as n"), "n\n2\n");
    let csv = logq("fields @timestamp, @message | sort @timestamp asc");
    assert!(
        csv.starts_with("@timestamp,@message\n2026-11-28 01:00:00.000,"),
        "{csv}"
    );
    assert!(
        csv.contains("payment failed for [REDACTED:email]\n  at charge()"),
        "{csv}"
    );
    assert!(
        csv.contains("2026-11-28 01:00:05.000,2026-11-28 01:00:05 INFO ok"),
        "{csv}"
    );
    assert!(!csv.contains("jane@") && !csv.contains("healthcheck"), "{csv}");
}

#[test]
fn retention_and_the_stream_placeholders_reach_cloudwatch_logs() {
    let moto = moto::shared().unwrap_or_else(|e| panic!("{e}"));
    let env = env_vars(&moto.endpoint_url());
    let work = tempfile::tempdir().unwrap();
    let logs_dir = work.path().join("logs");
    std::fs::create_dir_all(&logs_dir).unwrap();
    std::fs::write(logs_dir.join("app.log"), "hello\n").unwrap();
    let group = unique_name("/it/agent-logs-retention");
    let config = format!(
        r#"{{"logs": {{"logs_collected": {{"files": {{"collect_list": [
            {{"file_path": "{}/app.log", "log_group_name": "{group}", "log_stream_name": "{{hostname}}-{{instance_id}}",
              "retention_in_days": 7}}]}}}}}}}}"#,
        logs_dir.display()
    );
    let log = run_once(work.path(), &config, &env);
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let host = host.trim();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let client = Client::new(&sdk_config(&moto.endpoint_url()).await);
        let groups = client
            .describe_log_groups()
            .log_group_name_prefix(&group)
            .send()
            .await
            .unwrap();
        assert_eq!(groups.log_groups()[0].retention_in_days(), Some(7), "{log}");
        // Off EC2 {instance_id} is the hostname, as the CloudWatch agent's on-premises mode.
        let messages = all_messages(&client, &group, &format!("{host}-{host}"))
            .await
            .unwrap();
        assert_eq!(messages, ["hello"], "{log}");
    });
}

/// An EMF document with three latency values for `service`, at `timestamp_ms`.
fn emf_line(service: &str, timestamp_ms: i64) -> String {
    format!(
        r#"{{"_aws":{{"Timestamp":{timestamp_ms},"CloudWatchMetrics":[{{"Namespace":"SkywatchEmfTest","Dimensions":[["Service"]],"Metrics":[{{"Name":"Latency","Unit":"Milliseconds"}}]}}]}},"Service":"{service}","Latency":[12,15,30]}}"#
    )
}

#[test]
fn emf_lines_become_metrics_in_their_own_namespace() {
    let moto = moto::shared().unwrap_or_else(|e| panic!("{e}"));
    let work = tempfile::tempdir().unwrap();
    let logs_dir = work.path().join("logs");
    std::fs::create_dir_all(&logs_dir).unwrap();
    let service = unique_name("svc");
    let now = skywatch_tests::log_groups::now_ms();
    std::fs::write(
        logs_dir.join("app.log"),
        format!(
            "{}\nplain text line\n{{\"_aws\":{{\"CloudWatchMetrics\":\"broken\"}}}}\n",
            emf_line(&service, now)
        ),
    )
    .unwrap();
    // Logs stay local (CloudWatch Logs would extract the metrics itself); metrics go to CloudWatch.
    let config = format!(
        r#"
[outputs]
logs = "local"
metrics = "cloudwatch"
[[logs.files]]
file_path = "{}/app.log"
log_group_name = "emf"
emf = true
"#,
        logs_dir.display()
    );
    let log = run_once(work.path(), &config, &env_vars(&moto.endpoint_url()));
    assert!(log.contains("not a valid EMF document"), "{log}");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (count, sum, unit) = runtime.block_on(async {
        let client = skywatch_tests::cloudwatch::Client::new(&sdk_config(&moto.endpoint_url()).await);
        let t = std::time::SystemTime::now();
        let out = client
            .get_metric_statistics()
            .namespace("SkywatchEmfTest")
            .metric_name("Latency")
            .dimensions(
                skywatch_tests::cloudwatch::types::Dimension::builder()
                    .name("Service")
                    .value(&service)
                    .build(),
            )
            .start_time((t - Duration::from_secs(3600)).into())
            .end_time((t + Duration::from_secs(600)).into())
            .period(3600)
            .statistics(skywatch_tests::cloudwatch::types::Statistic::SampleCount)
            .statistics(skywatch_tests::cloudwatch::types::Statistic::Sum)
            .send()
            .await
            .unwrap();
        let p = out
            .datapoints()
            .first()
            .cloned()
            .unwrap_or_else(|| panic!("no datapoints\n{log}"));
        (
            p.sample_count().unwrap(),
            p.sum().unwrap(),
            p.unit().unwrap().as_str().to_string(),
        )
    });
    assert_eq!((count, sum, unit.as_str()), (3.0, 57.0, "Milliseconds"));
    // The lines themselves, the invalid document included, are in the local store.
    assert_eq!(logq_store(work.path(), "emf", "stats count(*) as n"), "n\n3\n");
}

#[test]
fn once_reads_a_file_larger_than_its_buffer_to_the_end() {
    // moto takes a batch more slowly than the agent reads one, so the 64 KiB buffer fills and
    // reading waits, again and again — and `--once` must go on reading after every wait.
    let moto = moto::shared().unwrap_or_else(|e| panic!("{e}"));
    let work = tempfile::tempdir().unwrap();
    let logs_dir = work.path().join("logs");
    std::fs::create_dir_all(&logs_dir).unwrap();
    let group = unique_name("/it/agent-logs-once");
    let mut writer = Writer::new(&logs_dir);
    writer.write(60_000);
    let config = logs_config(&logs_dir, &group, "buffer_bytes = 65536");
    let log = run_once(work.path(), &config, &env_vars(&moto.endpoint_url()));
    let messages = Stream::new(&moto.endpoint_url(), &group).messages();
    let (counts, _) = tally(&messages);
    assert_eq!((messages.len(), counts.len()), (60_000, 60_000), "{log}");
}

/// `skywatch agent --once` with `config` in `work`: its log, once it exited successfully.
fn run_once(work: &Path, config: &str, env: &[(&str, String)]) -> String {
    let mut agent = Agent::start_in(work, config, env, &["--once"]);
    let (status, log) = agent.wait(Duration::from_secs(120));
    assert!(status.success(), "{log}");
    log
}

/// `logq QUERY` over log group `group` of the local store under `work`, as CSV.
fn logq_store(work: &Path, group: &str, query: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_logq"))
        .args(["--format", "csv", query])
        .args(["--store", work.join("state/logs").to_str().unwrap()])
        .args(["--log-group", group])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn publish_multi_logs_gives_each_file_its_stream_and_blacklisted_names_are_left_out() {
    let work = tempfile::tempdir().unwrap();
    let logs_dir = work.path().join("logs");
    std::fs::create_dir_all(&logs_dir).unwrap();
    std::fs::write(logs_dir.join("a.log"), "a 1\na 2\n").unwrap();
    std::fs::write(logs_dir.join("b.log"), "b 1\n").unwrap();
    std::fs::write(logs_dir.join("debug.log"), "noise\n").unwrap();
    let config = format!(
        r#"{{"logs": {{"logs_collected": {{"files": {{"collect_list": [
            {{"file_path": "{}/*.log", "log_group_name": "multi", "log_stream_name": "web",
              "publish_multi_logs": true, "blacklist": "^debug"}}]}}}}}}}}"#,
        logs_dir.display()
    );
    let log = run_once(
        work.path(),
        &config,
        &[("AWS_EC2_METADATA_DISABLED", "true".to_string())],
    );
    let sanitized = |name: &str| {
        logs_dir
            .join(name)
            .display()
            .to_string()
            .replace(|c: char| !(c.is_ascii_alphanumeric() || ".-_#".contains(c)), "_")
    };
    let csv = logq_store(
        work.path(),
        "multi",
        "stats count(*) as n by @logStream | sort @logStream asc",
    );
    assert_eq!(
        csv,
        format!(
            "@logStream,n\nweb_{},2\nweb_{},1\n",
            sanitized("a.log"),
            sanitized("b.log")
        ),
        "{log}"
    );
}

#[test]
fn auto_removal_deletes_a_dated_file_once_a_newer_one_took_over_and_all_of_it_is_stored() {
    let work = tempfile::tempdir().unwrap();
    let logs_dir = work.path().join("logs");
    std::fs::create_dir_all(&logs_dir).unwrap();
    let first = logs_dir.join("batch.log.2026-11-27");
    std::fs::write(&first, "day 1 line 1\nday 1 line 2\n").unwrap();
    let config = format!(
        "[outputs]\nlogs = \"local\"\n[logs]\nforce_flush_interval = 1\n[[logs.files]]\nfile_path = \"{}/batch.log.*\"\nlog_group_name = \"batch\"\nauto_removal = true\n",
        logs_dir.display()
    );
    let agent = Agent::start_in(work.path(), &config, &[], &[]);
    agent.wait_for_log("following", Duration::from_secs(20));
    // The older file is kept while it is the newest.
    let second = logs_dir.join("batch.log.2026-11-28");
    std::fs::write(&second, "day 2 line 1\n").unwrap();
    // Newer by its modification time, whatever the clock's resolution.
    std::fs::File::options()
        .write(true)
        .open(&first)
        .unwrap()
        .set_modified(std::time::SystemTime::now() - Duration::from_secs(3600))
        .unwrap();
    poll_until(
        "the older file to be deleted",
        Duration::from_secs(30),
        Duration::from_millis(100),
        || (!first.exists()).then_some(()),
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", agent.log()));
    assert!(second.exists(), "the newest file stays");
    let (status, log) = agent.stop(Duration::from_secs(30));
    assert!(status.success(), "{log}");
    assert!(log.contains("auto_removal: deleted"), "{log}");
    assert_eq!(
        logq_store(work.path(), "batch", "fields @message | sort @message asc"),
        "@message\nday 1 line 1\nday 1 line 2\nday 2 line 1\n"
    );
}

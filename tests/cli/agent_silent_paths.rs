//! Nothing the agent was asked to ship is skipped without a word: events outside CloudWatch's
//! time window (kept by the local store, named with a timezone hint for CloudWatch Logs), and
//! `--once` runs that end with events undelivered (exit 1, with the count).

use std::path::Path;
use std::time::Duration;

use crate::running_agent::Agent;
use skywatch_tests::aws::env_vars;
use skywatch_tests::log_groups::all_messages;
use skywatch_tests::moto;
use skywatch_tests::names::unique_name;

/// `n` lines stamped `offset_ms` from now, written as UTC `%Y-%m-%d %H:%M:%S`.
fn stamped_lines(n: usize, offset_ms: i64) -> String {
    let at = chrono::Utc::now() + chrono::Duration::milliseconds(offset_ms);
    let stamp = at.format("%Y-%m-%d %H:%M:%S").to_string();
    (0..n)
        .map(|i| [stamp.as_str(), " event ", &i.to_string(), "\n"].concat())
        .collect()
}

fn file_config(dir: &Path, output: &str, group: &str) -> String {
    format!(
        r#"
[outputs]
logs = "{output}"
[logs]
force_flush_interval = 1
[[logs.files]]
file_path = "{}/app.log"
log_group_name = "{group}"
log_stream_name = "app"
timestamp_format = "%Y-%m-%d %H:%M:%S"
timezone = "UTC"
"#,
        dir.display()
    )
}

#[test]
fn events_older_than_cloudwatchs_window_stay_in_the_local_store() {
    let work = tempfile::tempdir().unwrap();
    let thirty_days_ms = 30 * 24 * 3_600_000;
    std::fs::write(work.path().join("app.log"), stamped_lines(5, -thirty_days_ms)).unwrap();
    let mut agent = Agent::start_in(
        work.path(),
        &file_config(work.path(), "local", "/old"),
        &[("AWS_EC2_METADATA_DISABLED", "true".to_string())],
        &["--once"],
    );
    let (status, log) = agent.wait(Duration::from_secs(60));
    assert!(status.success(), "{log}");
    assert!(!log.contains("not sent"), "{log}");
    assert!(
        log.contains("log events: 5 read, 0 sent, 5 stored, 0 filtered, 0 outside"),
        "{log}"
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_logq"))
        .args(["--format", "csv", "stats count(*) as n"])
        .args(["--store", work.path().join("state/logs").to_str().unwrap()])
        .args(["--log-group", "/old"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "n\n5\n");
}

#[test]
fn events_hours_ahead_are_named_with_a_timezone_hint_and_counted() {
    let moto = moto::shared().unwrap();
    let group = unique_name("/it/tz");
    let work = tempfile::tempdir().unwrap();
    // Local times five hours east of UTC, read as UTC: five hours ahead.
    let mut lines = stamped_lines(6, 5 * 3_600_000);
    lines.push_str(&stamped_lines(1, 0));
    std::fs::write(work.path().join("app.log"), lines).unwrap();
    let mut agent = Agent::start_in(
        work.path(),
        &file_config(work.path(), "cloudwatch", &group),
        &env_vars(&moto.endpoint_url()),
        &["--once"],
    );
    let (status, log) = agent.wait(Duration::from_secs(60));
    assert!(status.success(), "{log}");
    let pattern = format!("{}/app.log", work.path().display());
    assert!(
        log.contains(&format!(
            "warning: {pattern}: 1 event(s) more than 2 h ahead of this machine's clock (most by a whole number of hours: check the file's timezone setting"
        )),
        "{log}"
    );
    assert!(
        log.contains(&format!("warning: {pattern}: 6 event(s) more than 2 h ahead")),
        "the shutdown report names the file again: {log}"
    );
    assert!(
        log.contains("log events: 7 read, 1 sent, 0 stored, 0 filtered, 6 outside CloudWatch's time window"),
        "{log}"
    );
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let messages = runtime.block_on(async {
        let client =
            skywatch_tests::logs::Client::new(&skywatch_tests::aws::sdk_config(&moto.endpoint_url()).await);
        all_messages(&client, &group, "app").await.unwrap()
    });
    assert_eq!(messages.len(), 1, "{messages:?}");
}

#[test]
fn once_exits_1_naming_what_it_could_not_deliver() {
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("app.log"), stamped_lines(4, 0)).unwrap();
    // Nothing listens there: every delivery fails until the run gives up.
    let dead = crate::running_agent::free_loopback_addr();
    let mut agent = Agent::start_in(
        work.path(),
        &file_config(work.path(), "cloudwatch", "/dead"),
        &env_vars(&format!("http://{dead}")),
        &["--once", "--once-timeout", "3"],
    );
    let (status, log) = agent.wait(Duration::from_secs(60));
    assert_eq!(status.code(), Some(1), "{log}");
    assert!(
        log.contains("skywatch agent: 4 log event(s) were read but not delivered"),
        "{log}"
    );
    assert!(log.contains("4 not delivered"), "{log}");
}

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

/// `skywatch config check FILE`: (exit code, stdout + stderr).
fn config_check(dir: &Path, config: &str) -> (Option<i32>, String) {
    let file = dir.join("check.toml");
    std::fs::write(&file, config).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_skywatch"))
        .args(["config", "check", file.to_str().unwrap()])
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

#[test]
fn config_check_names_paths_that_cannot_be_followed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    std::fs::write(dir.path().join("a.log"), "x\n").unwrap();
    std::fs::create_dir(dir.path().join("sub.log")).unwrap();
    std::os::unix::fs::symlink(dir.path().join("missing"), dir.path().join("dangling.log")).unwrap();
    let config = format!(
        r#"
[[logs.files]]
file_path = "{d}/*.log"
[[logs.files]]
file_path = "{d}/a.log"
log_group_name = "/again"
[[logs.files]]
file_path = "{d}/a.log"
log_group_name = "/twice"
[[logs.files]]
file_path = 'C:\ProgramData\app\*.log'
[[logs.files]]
file_path = "{d}/none-*.txt"
[[logs.files]]
file_path = "{d}/sub.log"
log_group_name = "/sub"
"#
    );
    let (code, text) = config_check(dir.path(), &config);
    assert_eq!(code, Some(0), "warnings only: {text}");
    for expected in [
        format!("logs.files[5].file_path: {d}/sub.log is a directory, not a file"),
        format!("logs.files[0].file_path: {d}/dangling.log cannot be opened: No such file or directory"),
        "logs.files[2].file_path: the same files as logs.files[1]".to_string(),
        format!("{d}/a.log is matched by logs.files[0] and logs.files[1]: it is shipped once for each"),
        "logs.files[3].file_path: a Windows path".to_string(),
        format!("logs.files[4].file_path: {d}/none-*.txt matches no file now"),
    ] {
        assert!(text.contains(&expected), "{expected}\n--- in ---\n{text}");
    }
    let (code, text) = config_check(dir.path(), "[[logs.files]]\nfile_path = \"/proc/self/status\"\n");
    assert_eq!(code, Some(0), "a warning, as at run time: {text}");
    assert!(
        text.contains("logs.files[0].file_path: names a kernel pseudo-file"),
        "{text}"
    );
    let (code, text) = config_check(dir.path(), "[agent]\nmetrics_collection_interval = 10\n");
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("nothing to do"), "{text}");
}

#[test]
fn paths_that_cannot_be_followed_are_named_counted_and_followed_once_they_can() {
    let work = tempfile::tempdir().unwrap();
    let logs = work.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    std::fs::create_dir(logs.join("dir.log")).unwrap();
    assert!(std::process::Command::new("mkfifo")
        .arg(logs.join("pipe.log"))
        .status()
        .unwrap()
        .success());
    std::os::unix::fs::symlink(logs.join("later.txt"), logs.join("later.log")).unwrap();
    let addr = crate::running_agent::free_loopback_addr();
    let config = format!(
        "[outputs]\nlogs = \"local\"\n[health]\nlisten = \"{addr}\"\n[logs]\nforce_flush_interval = 1\n[[logs.files]]\nfile_path = \"{d}/*.log\"\nlog_group_name = \"/paths\"\n[[logs.files]]\nfile_path = \"{d}/nothing-*.log\"\nlog_group_name = \"/none\"\n[[logs.files]]\nfile_path = \"{d}/dir.log\"\nlog_group_name = \"/dir\"\n",
        d = logs.display()
    );
    let agent = Agent::start(&config, &[("AWS_EC2_METADATA_DISABLED", "true".to_string())], &[]);
    agent.wait_for_log("health on", Duration::from_secs(10));
    for words in [
        format!("warning: {}/dir.log is a directory", logs.display()),
        format!("warning: {}/pipe.log is a named pipe", logs.display()),
        format!("warning: {}/nothing-*.log matches no file yet", logs.display()),
    ] {
        agent.wait_for_log(&words, Duration::from_secs(10));
    }
    let metrics = crate::running_agent::http_get(&addr, "/metrics");
    for line in [
        "skywatch_agent_log_paths_not_followed{reason=\"directory\"} 1",
        "skywatch_agent_log_paths_not_followed{reason=\"named_pipe\"} 1",
        "skywatch_agent_log_paths_not_followed{reason=\"no_match\"} 1",
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line}\n{metrics}");
    }
    // The link's target appears: followed from then on, said once.
    std::fs::write(logs.join("later.txt"), "now it exists\n").unwrap();
    agent.wait_for_log(
        &format!("following {}/later.log", logs.display()),
        Duration::from_secs(10),
    );
    let (status, log) = agent.stop(Duration::from_secs(30));
    assert!(status.success(), "{log}");
    let said = format!("warning: {}/dir.log is a directory", logs.display());
    assert_eq!(log.matches(&said).count(), 1, "said once at run time: {log}");
    assert!(log.contains("1 stored"), "{log}");
}

#[test]
fn a_file_named_by_two_entries_is_not_read_again_at_each_restart() {
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("app.log"), stamped_lines(10, 0)).unwrap();
    let d = work.path().display();
    let config = format!(
        "[outputs]\nlogs = \"local\"\n[[logs.files]]\nfile_path = \"{d}/app.log\"\nlog_group_name = \"/one\"\n[[logs.files]]\nfile_path = \"{d}/app.log\"\nlog_group_name = \"/two\"\n"
    );
    for run in 0..3 {
        let mut agent = Agent::start_in(
            work.path(),
            &config,
            &[("AWS_EC2_METADATA_DISABLED", "true".to_string())],
            &["--once"],
        );
        let (status, log) = agent.wait(Duration::from_secs(60));
        assert!(status.success(), "run {run}: {log}");
    }
    for group in ["/one", "/two"] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_logq"))
            .args(["--format", "csv", "stats count(*) as n"])
            .args(["--store", work.path().join("state/logs").to_str().unwrap()])
            .args(["--log-group", group])
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "n\n10\n", "{group}");
    }
}

#[test]
fn a_file_the_service_user_may_not_read_is_named_with_a_fix_and_read_once_it_may() {
    if !running_as_root() {
        eprintln!("not root: cannot run the agent as another user; skipped");
        return;
    }
    // The checkout must be reachable by `nobody` (a private home directory is not).
    let reachable = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_skywatch"))
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !reachable {
        eprintln!("setpriv missing, or the binary is not reachable by nobody; skipped");
        return;
    }
    // The agent runs as `nobody`, as the unit runs it as `skywatch`; the file is root's, 0600.
    let work = tempfile::tempdir().unwrap();
    let open = |path: &Path, mode: u32| {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    };
    open(work.path(), 0o777);
    let secure = work.path().join("secure.log");
    std::fs::write(&secure, stamped_lines(3, 0)).unwrap();
    open(&secure, 0o600);
    let config = format!(
        "[outputs]\nlogs = \"local\"\n[logs]\nforce_flush_interval = 1\n[[logs.files]]\nfile_path = \"{}\"\nlog_group_name = \"/secure\"\n",
        secure.display()
    );
    let config_path = work.path().join("agent.toml");
    std::fs::write(&config_path, &config).unwrap();
    open(&config_path, 0o644);
    let check = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_skywatch"))
        .args(["config", "check", config_path.to_str().unwrap()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&check.stderr);
    assert!(
        text.contains("cannot be opened by this process (uid 65534): Permission denied"),
        "{text}"
    );
    let stderr = work.path().join("agent.log");
    let mut child = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_skywatch"))
        .args(["agent", "--config", config_path.to_str().unwrap()])
        .args(["--state-dir", work.path().join("state").to_str().unwrap()])
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stderr(std::fs::File::create(&stderr).unwrap())
        .spawn()
        .unwrap();
    let log = || std::fs::read_to_string(&stderr).unwrap_or_default();
    let wait_for = |words: &str| {
        skywatch_tests::poll::poll_until(words, Duration::from_secs(15), Duration::from_millis(50), || {
            log().contains(words).then_some(())
        })
        .unwrap_or_else(|e| panic!("{e}\n{}", log()));
    };
    wait_for(&format!(
        "warning: {} cannot be opened by this process (uid 65534): Permission denied",
        secure.display()
    ));
    // Access granted: followed at the next look, nothing lost.
    open(&secure, 0o644);
    wait_for(&format!("following {} from byte 0", secure.display()));
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let status = child.wait().unwrap();
    assert!(status.success(), "{}", log());
    assert!(
        log().contains("log events: 3 read, 0 sent, 3 stored"),
        "{}",
        log()
    );
}

fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1).map(|euid| euid == "0"))
        .unwrap_or(false)
}

#[test]
fn the_local_store_is_private_whatever_the_umask() {
    use std::os::unix::fs::PermissionsExt as _;
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("app.log"), stamped_lines(3, 0)).unwrap();
    let config_path = work.path().join("agent.toml");
    std::fs::write(
        &config_path,
        format!(
            "[outputs]\nlogs = \"local\"\nmetrics = \"local\"\n[metrics.mem]\nmeasurement = [\"used_percent\"]\n[[logs.files]]\nfile_path = \"{}/app.log\"\nlog_group_name = \"/private\"\n",
            work.path().display()
        ),
    )
    .unwrap();
    let state = work.path().join("state");
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg("umask 000; exec \"$0\" agent --once --config \"$1\" --state-dir \"$2\"")
        .arg(env!("CARGO_BIN_EXE_skywatch"))
        .arg(&config_path)
        .arg(&state)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("SKYWATCH_PROC_ROOT", crate::running_agent::PROC_FIXTURE)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut seen = 0;
    let mut stack = vec![state.clone()];
    while let Some(dir) = stack.pop() {
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o750, "{}", dir.display());
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
                assert_eq!(mode, 0o640, "{}", path.display());
                seen += 1;
            }
        }
    }
    assert!(
        seen >= 3,
        "a log chunk, an hour of metrics and the checkpoints: {seen}"
    );
}

#[test]
fn auto_outputs_move_to_aws_once_it_can_be_reached_and_say_which_they_use() {
    let moto = moto::shared().unwrap();
    let group = unique_name("/it/auto");
    let work = tempfile::tempdir().unwrap();
    let home = work.path().join("home");
    std::fs::create_dir(&home).unwrap();
    let addr = crate::running_agent::free_loopback_addr();
    let config = format!(
        "[outputs]\nauto_recheck_interval = 1\n[health]\nlisten = \"{addr}\"\n[metrics]\nforce_flush_interval = 1\n[agent]\nmetrics_collection_interval = 1\n[metrics.mem]\nmeasurement = [\"used_percent\"]\n[logs]\nforce_flush_interval = 1\n[[logs.files]]\nfile_path = \"{}/app.log\"\nlog_group_name = \"{group}\"\nlog_stream_name = \"app\"\n",
        work.path().display()
    );
    std::fs::write(work.path().join("app.log"), "before credentials\n").unwrap();
    // A region and an endpoint, but no credentials yet.
    let env: Vec<(&str, String)> = vec![
        ("AWS_ENDPOINT_URL", moto.endpoint_url()),
        ("AWS_REGION", "us-east-1".to_string()),
        ("AWS_EC2_METADATA_DISABLED", "true".to_string()),
        ("HOME", home.display().to_string()),
    ];
    let agent = Agent::start(&config, &env, &[]);
    agent.wait_for_log("log events go to the local store", Duration::from_secs(15));
    let health = crate::running_agent::http_get(&addr, "/healthz");
    assert!(health.contains("\r\n\r\nlogs: local store in "), "{health}");
    assert!(health.contains("(auto: no AWS credentials"), "{health}");
    assert!(health.ends_with("ok\n"), "{health}");
    std::fs::create_dir(home.join(".aws")).unwrap();
    std::fs::write(
        home.join(".aws/credentials"),
        "[default]\naws_access_key_id = test\naws_secret_access_key = test\n",
    )
    .unwrap();
    agent.wait_for_log(
        "AWS can be reached now: metrics go to CloudWatch",
        Duration::from_secs(20),
    );
    std::fs::write(
        work.path().join("app.log"),
        "before credentials\nafter credentials\n",
    )
    .unwrap();
    agent.wait_for_log(
        "AWS can be reached now: log events go to CloudWatch Logs",
        Duration::from_secs(20),
    );
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let client = runtime.block_on(async {
        skywatch_tests::logs::Client::new(&skywatch_tests::aws::sdk_config(&moto.endpoint_url()).await)
    });
    skywatch_tests::poll::poll_until(
        "the line written after the credentials in CloudWatch Logs",
        Duration::from_secs(20),
        Duration::from_millis(200),
        || {
            let messages = runtime.block_on(all_messages(&client, &group, "app")).ok()?;
            messages.iter().any(|m| m == "after credentials").then_some(())
        },
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", agent.log()));
    let health = crate::running_agent::http_get(&addr, "/healthz");
    assert!(health.contains("logs: CloudWatch Logs in us-east-1"), "{health}");
    assert!(
        health.contains("metrics: CloudWatch, namespace CWAgent in us-east-1"),
        "{health}"
    );
}

#[test]
fn the_emf_listener_turns_documents_sent_over_tcp_and_udp_into_metrics() {
    let tcp = crate::running_agent::free_loopback_addr();
    let udp = crate::running_agent::free_loopback_udp_addr();
    let config =
        format!("[outputs]\nmetrics = \"local\"\n[logs]\nemf_listen = [\"tcp://{tcp}\", \"udp://{udp}\"]\n");
    let agent = Agent::start(&config, &[("AWS_EC2_METADATA_DISABLED", "true".to_string())], &[]);
    agent.wait_for_log(&format!("EMF listener on udp://{udp}"), Duration::from_secs(10));
    agent.wait_for_log(&format!("EMF listener on tcp://{tcp}"), Duration::from_secs(10));
    let now = chrono::Utc::now().timestamp_millis();
    let document = |service: &str| {
        format!(
            r#"{{"_aws":{{"Timestamp":{now},"CloudWatchMetrics":[{{"Namespace":"ListenerTest","Dimensions":[["Service"]],"Metrics":[{{"Name":"Latency","Unit":"Milliseconds"}}]}}]}},"Service":"{service}","Latency":12}}"#
        )
    };
    {
        use std::io::Write as _;
        let mut stream = std::net::TcpStream::connect(&tcp).unwrap();
        write!(stream, "{}\n{}\nnot json\n", document("tcp-a"), document("tcp-b")).unwrap();
    }
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.send_to(document("udp").as_bytes(), &udp).unwrap();
    agent.wait_for_log("not a valid EMF document", Duration::from_secs(10));
    let state = agent.state_dir();
    let metrics = || {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_skywatch"))
            .args([
                "metrics",
                "--json",
                "--name",
                "Latency",
                "--state-dir",
                state.to_str().unwrap(),
            ])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    skywatch_tests::poll::poll_until(
        "three Latency datums in the local store",
        Duration::from_secs(15),
        Duration::from_millis(100),
        || (metrics().lines().count() == 3).then_some(()),
    )
    .unwrap_or_else(|e| panic!("{e}\n{}\n{}", metrics(), agent.log()));
    let text = metrics();
    for service in ["tcp-a", "tcp-b", "udp"] {
        assert!(text.contains(&format!("\"Service\":\"{service}\"")), "{text}");
    }
    assert!(text.contains("\"namespace\":\"ListenerTest\""), "{text}");
    let (status, log) = agent.stop(Duration::from_secs(30));
    assert!(status.success(), "{log}");
}

#[test]
fn the_cloudwatch_agents_emf_section_listens_on_loopback_25888() {
    let loaded = skywatch_agent_config_check(r#"{"logs": {"metrics_collected": {"emf": {}}}}"#);
    assert!(loaded.contains("ok"), "{loaded}");
}

/// `config check` of a JSON config, as text.
fn skywatch_agent_config_check(json: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("agent.json");
    std::fs::write(&file, json).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_skywatch"))
        .args(["config", "check", file.to_str().unwrap()])
        .output()
        .unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn a_role_to_assume_is_assumed_through_sts_and_the_logs_are_sent_as_it() {
    let moto = moto::shared().unwrap();
    let group = unique_name("/it/role");
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("app.log"), stamped_lines(2, 0)).unwrap();
    let json = format!(
        r#"{{"agent": {{"credentials": {{"role_arn": "arn:aws:iam::123456789012:role/skywatch-test"}}}},
  "logs": {{"logs_collected": {{"files": {{"collect_list": [
    {{"file_path": "{}/app.log", "log_group_name": "{group}", "log_stream_name": "app"}}]}}}}}}}}"#,
        work.path().display()
    );
    // moto records the requests it serves (this test process has a server of its own).
    let addr = moto.endpoint_url().trim_start_matches("http://").to_string();
    moto_api(&addr, "POST", "/moto-api/recorder/start-recording");
    let mut agent = Agent::start_in(work.path(), &json, &env_vars(&moto.endpoint_url()), &["--once"]);
    let (status, log) = agent.wait(Duration::from_secs(60));
    assert!(status.success(), "{log}");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let messages = runtime.block_on(async {
        let client =
            skywatch_tests::logs::Client::new(&skywatch_tests::aws::sdk_config(&moto.endpoint_url()).await);
        all_messages(&client, &group, "app").await.unwrap()
    });
    assert_eq!(messages.len(), 2, "{log}");
    let recording = moto_api(&addr, "GET", "/moto-api/recorder/download-recording");
    // The SDK's STS client (AssumeRole is its only call here) went first, then CloudWatch Logs.
    let sts = recording.find("api/sts/");
    let logs = recording.find("Logs_20140328.PutLogEvents");
    assert!(
        sts.is_some() && logs.is_some(),
        "STS, then CloudWatch Logs: {}",
        recording.chars().take(3000).collect::<String>()
    );
}

/// One request to moto's own API; the response body.
fn moto_api(addr: &str, method: &str, path: &str) -> String {
    use std::io::{Read as _, Write as _};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

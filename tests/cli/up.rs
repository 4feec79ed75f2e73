//! `skywatch up`: the stack in one process, local without AWS and shipping to AWS (moto) with it;
//! `--dry-run`; bad arguments; and the completions and man pages generated from clap.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use skywatch_tests::aws::{env_vars, sdk_config};
use skywatch_tests::moto;
use skywatch_tests::names::unique_name;
use skywatch_tests::poll::poll_until;

use crate::running_agent::{free_loopback_addr, free_loopback_udp_addr, http_get};

/// `skywatch up` as a child: its stdout (the lines saying where to look) and stderr (the parts'
/// log) go to files the test reads while it runs.
pub struct Up {
    child: Child,
    stdout: PathBuf,
    stderr: PathBuf,
    pub state: PathBuf,
    pub http: String,
    pub udp: String,
    pub health: String,
}

impl Up {
    /// Starts `skywatch up` in `dir` (its working directory) with its state in `dir/state`, the
    /// listeners on free loopback ports, only `env` besides PATH and HOME, and `args`.
    pub fn start(dir: &Path, env: &[(&str, String)], args: &[&str]) -> Up {
        let state = dir.join("state");
        let http = free_loopback_addr();
        let udp = free_loopback_udp_addr();
        let health = free_loopback_addr();
        let stdout = dir.join("up.stdout");
        let stderr = dir.join("up.stderr");
        let mut command = Command::new(env!("CARGO_BIN_EXE_skywatch"));
        command
            .arg("up")
            .args(["--state-dir", state.to_str().unwrap()])
            .args(["--http", &http, "--udp", &udp, "--health", &health])
            .args(args)
            .current_dir(dir)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", dir)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .stdout(std::fs::File::create(&stdout).unwrap())
            .stderr(std::fs::File::create(&stderr).unwrap());
        for (k, v) in env {
            command.env(k, v);
        }
        Up {
            child: command.spawn().unwrap(),
            stdout,
            stderr,
            state,
            http,
            udp,
            health,
        }
    }

    pub fn stdout(&self) -> String {
        std::fs::read_to_string(&self.stdout).unwrap_or_default()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Both outputs, for a failure's message.
    pub fn outputs(&self) -> String {
        format!(
            "--- up stdout ---\n{}\n--- up stderr ---\n{}",
            self.stdout(),
            self.log()
        )
    }

    /// Until the parts have started and `up` has said where to look.
    pub fn wait_ready(&mut self) {
        self.wait_for_stdout("Ctrl-C stops everything", Duration::from_secs(60));
    }

    pub fn wait_for_stdout(&mut self, words: &str, timeout: Duration) {
        let result = poll_until(
            &format!("{words:?} on up's stdout"),
            timeout,
            Duration::from_millis(50),
            || {
                if self.stdout().contains(words) {
                    return Some(Ok(()));
                }
                match self.child.try_wait() {
                    Ok(Some(status)) => Some(Err(format!("up exited ({status})"))),
                    _ => None,
                }
            },
        );
        match result {
            Ok(Ok(())) => {}
            Ok(Err(e)) | Err(e) => panic!("{e}\n{}", self.outputs()),
        }
    }

    pub fn wait_for_log(&self, words: &str, timeout: Duration) {
        poll_until(
            &format!("{words:?} in up's log"),
            timeout,
            Duration::from_millis(100),
            || self.log().contains(words).then_some(()),
        )
        .unwrap_or_else(|e| panic!("{e}\n{}", self.outputs()));
    }

    /// SIGINT (Ctrl-C), then the exit status within `timeout`.
    pub fn interrupt(mut self, timeout: Duration) -> (std::process::ExitStatus, String, String) {
        let status = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status, self.stdout(), self.log());
            }
            assert!(
                Instant::now() < deadline,
                "no exit within {timeout:?}\n{}",
                self.outputs()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Up {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn skywatch<S: AsRef<std::ffi::OsStr>>(
    dir: &Path,
    env: &[(&str, String)],
    args: &[S],
) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_skywatch"));
    command
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", dir)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdin(Stdio::null());
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().unwrap()
}

/// `up --state-dir STATE --health HEALTH` with its other listeners on free loopback ports.
fn up_args(state: &str, health: &str) -> Vec<String> {
    let http = free_loopback_addr();
    let udp = free_loopback_udp_addr();
    [
        "up",
        "--state-dir",
        state,
        "--health",
        health,
        "--http",
        &http,
        "--udp",
        &udp,
    ]
    .map(String::from)
    .to_vec()
}

/// `skywatch ARGS`, which must succeed: its stdout.
fn skywatch_ok(dir: &Path, env: &[(&str, String)], args: &[&str]) -> String {
    let out = skywatch(dir, env, args);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "skywatch {args:?}\n{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// `config` (a config `up --dry-run` printed) passes `skywatch config check`.
fn assert_config_checks(dir: &Path, env: &[(&str, String)], config: &str) {
    let file = dir.join("check.toml");
    std::fs::write(&file, config).unwrap();
    skywatch_ok(dir, env, &["config", "check", file.to_str().unwrap()]);
}

#[test]
fn dry_run_without_aws_says_everything_stays_local_and_starts_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    std::fs::write(
        dir.path().join("rules.toml"),
        "[[alarm]]\nname = \"errors\"\nnamespace = \"App\"\nmetric = \"Errors\"\nstatistic = \"Sum\"\nperiod = 60\nevaluation_periods = 1\ncomparison = \">\"\nthreshold = 0\n",
    )
    .unwrap();
    let stdout = skywatch_ok(
        dir.path(),
        &[],
        &[
            "up",
            "--dry-run",
            "--state-dir",
            "state",
            "--logs",
            "app.log=/ec2/app",
            "--alarms",
            "rules.toml",
        ],
    );
    assert!(
        stdout.starts_with("skywatch up --dry-run: everything stays local (no AWS region"),
        "{stdout}"
    );
    let app_log = dir.path().join("app.log");
    assert!(
        stdout.contains(&format!(
            "logs       {} -> /ec2/app in the local store",
            app_log.display()
        )),
        "{stdout}"
    );
    assert!(stdout.contains("page       http://127.0.0.1:2000/"), "{stdout}");
    let rules = dir.path().join("rules.toml");
    assert!(
        stdout.contains(&format!("alarms     {} ->", rules.display())),
        "{stdout}"
    );
    assert!(!stdout.contains("sample app"), "{stdout}");
    // The config it would run, whole, and valid for `skywatch config check`.
    let config = &stdout[stdout.find("[agent]").unwrap()..];
    assert!(
        config.contains("metrics = \"local\"\nlogs = \"local\""),
        "{config}"
    );
    assert!(config.contains("publish = false"), "{config}");
    assert!(!config.contains("[traces.forward]"), "{config}");
    assert_config_checks(dir.path(), &[], config);
    assert!(!state.exists(), "a dry run wrote {}", state.display());
}

#[test]
fn dry_run_with_aws_configured_says_it_ships_there_and_local_keeps_it_here() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let env = env_vars("http://127.0.0.1:9");
    let state_arg = state.to_str().unwrap();
    let stdout = skywatch_ok(dir.path(), &env, &["up", "--dry-run", "--state-dir", state_arg]);
    assert!(
        stdout.starts_with("skywatch up --dry-run: shipping to AWS in us-east-1"),
        "{stdout}"
    );
    for expected in [
        "CloudWatch in us-east-1, namespace CWAgent",
        "forwarded to X-Ray in us-east-1",
        "metrics = \"cloudwatch\"\nlogs = \"cloudwatch\"",
        "[traces.forward]\nregion = \"us-east-1\"",
        "publish = true",
        "(EMF lines go to CloudWatch Logs, which makes the SampleApp metrics there: `skywatch alarms push",
    ] {
        assert!(stdout.contains(expected), "{expected:?} not in\n{stdout}");
    }
    // The config it would run is one `config check` accepts (with the rules it would write).
    let marker = format!("\n# {}/up/alarms.toml (not written)\n", state.display());
    let at = stdout
        .find(&marker)
        .unwrap_or_else(|| panic!("{marker:?} not in {stdout}"));
    let config = &stdout[stdout.find("[agent]").unwrap()..at];
    let rules = &stdout[at + marker.len()..];
    std::fs::create_dir_all(state.join("up")).unwrap();
    std::fs::write(state.join("up/alarms.toml"), rules).unwrap();
    assert_config_checks(dir.path(), &env, config);
    std::fs::remove_dir_all(&state).unwrap();

    let stdout = skywatch_ok(
        dir.path(),
        &env,
        &["up", "--dry-run", "--local", "--state-dir", state_arg],
    );
    assert!(
        stdout.starts_with("skywatch up --dry-run: everything stays local (--local)"),
        "{stdout}"
    );
    assert!(stdout.contains("metrics = \"local\""), "{stdout}");
}

#[test]
fn a_bad_logs_argument_exits_2_naming_it_and_a_port_in_use_exits_1_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = skywatch(dir.path(), &[], &["up", "--logs", "app.log=", "--state-dir", "s"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--logs \"app.log=\": an empty group name"),
        "{stderr}"
    );

    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = skywatch(dir.path(), &[], &up_args("s", &addr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&format!("cannot listen on {addr}")), "{stderr}");
    assert!(
        stderr.contains("--http, --udp and --health take others"),
        "{stderr}"
    );
}

#[test]
fn up_runs_every_part_locally_says_where_to_look_and_stops_cleanly_on_ctrl_c() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    let mut up = Up::start(dir.path(), &[], &["--logs", "app.log=/ec2/app"]);
    up.wait_ready();
    let stdout = up.stdout();
    for line in [
        format!(
            "logs       {} -> /ec2/app in the local store {}/logs",
            log.display(),
            up.state.display()
        ),
        format!("collector  X-Ray daemon on udp {} and http {}", up.udp, up.http),
        format!("page       http://{}/", up.http),
        format!("health     http://{}/healthz", up.health),
        format!(
            "query      logq --store {} --log-group /ec2/app 'filter level",
            up.state.display()
        ),
        format!(
            "query      logq --store {} --log-group /ec2/app 'stats count(*) as events by bin(1m)'",
            up.state.display()
        ),
        "(agent output) logs: local store".to_string(),
        "(agent output) metrics: local store".to_string(),
    ] {
        assert!(stdout.contains(&line), "{line:?} not in\n{stdout}");
    }
    // --logs given: the sample app's log is not followed, so no hint to run it; the sample
    // app's rules are evaluated all the same (no --alarms).
    assert!(!stdout.contains("sample app"), "{stdout}");
    assert!(
        stdout.contains(&format!("alarms     {}/up/alarms.toml", up.state.display())),
        "{stdout}"
    );
    std::fs::write(&log, "{\"level\":\"ERROR\",\"message\":\"disk full\"}\n").unwrap();
    // Each part answers: the page, the agent's health, the log line in the store.
    let page = http_get(&up.http, "/");
    assert!(
        page.starts_with("HTTP/1.1 200") && page.contains("<html"),
        "{page}"
    );
    let health = http_get(&up.health, "/healthz");
    assert!(
        health.contains("metrics: local store") && health.contains("ok"),
        "{health}"
    );
    let metrics = http_get(&up.health, "/metrics");
    assert!(
        metrics.contains("skywatch_collector_") && metrics.contains("skywatch_alarms_"),
        "{metrics}"
    );
    poll_until(
        "the line in the store",
        Duration::from_secs(30),
        Duration::from_millis(200),
        || {
            let out = Command::new(env!("CARGO_BIN_EXE_logq"))
                .args([
                    "--store",
                    up.state.to_str().unwrap(),
                    "--log-group",
                    "/ec2/app",
                    "--format",
                    "ndjson",
                ])
                .arg("fields message")
                .output()
                .unwrap();
            String::from_utf8_lossy(&out.stdout)
                .contains("disk full")
                .then_some(())
        },
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", up.outputs()));
    let config = std::fs::read_to_string(up.state.join("up/agent.toml")).unwrap();
    let mode = |p: &Path| {
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(p).unwrap().permissions()) & 0o777
    };
    assert_eq!(mode(&up.state.join("up")), 0o750);
    assert_eq!(mode(&up.state.join("up/agent.toml")), 0o640);
    assert!(
        config.contains("[traces]") && config.contains("[alarms]"),
        "{config}"
    );

    // One agent per state directory: a second `up` on it is refused, naming the holder, and
    // leaves the running one's config as it was.
    let config_before = std::fs::read_to_string(up.state.join("up/agent.toml")).unwrap();
    let second = skywatch(
        dir.path(),
        &[],
        &up_args(up.state.to_str().unwrap(), &free_loopback_addr()),
    );
    let refused = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(1), "{refused}");
    assert!(
        refused.contains(&format!(
            "another skywatch agent is using the state directory {}",
            up.state.display()
        )),
        "{refused}"
    );
    assert!(refused.contains(", process "), "{refused}");
    assert_eq!(
        std::fs::read_to_string(up.state.join("up/agent.toml")).unwrap(),
        config_before
    );

    let state = up.state.clone();
    let mut file = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    std::io::Write::write_all(
        &mut file,
        b"{\"level\":\"INFO\",\"message\":\"written just before Ctrl-C\"}\n",
    )
    .unwrap();
    let (status, stdout, log) = up.interrupt(Duration::from_secs(40));
    assert!(status.success(), "{status}\n{stdout}\n{log}");
    assert!(stdout.contains("skywatch up: stopped"), "{stdout}");
    // The alarm evaluator saved its states at the stop.
    let saved = std::fs::read_to_string(state.join("alarms/state.json")).unwrap();
    assert!(
        saved.contains("sample-app faults") && saved.contains("memory high"),
        "{saved}"
    );
    for part in ["skywatch collector: stopped", "skywatch agent: stopped"] {
        assert!(log.contains(part), "{part:?} not in\n{log}");
    }
    assert!(log.contains("0 not delivered"), "{log}");
    // Nothing lost: the config up wrote is one `skywatch agent` runs, and its --once reads on
    // from the checkpoints up left: every line written, even just before Ctrl-C, is in the
    // store once.
    let config = state.join("up/agent.toml");
    let once = skywatch(
        dir.path(),
        &[],
        &[
            "agent",
            "--config",
            config.to_str().unwrap(),
            "--once",
            "--state-dir",
            state.to_str().unwrap(),
        ],
    );
    assert!(once.status.success(), "{}", String::from_utf8_lossy(&once.stderr));
    let out = Command::new(env!("CARGO_BIN_EXE_logq"))
        .args([
            "--store",
            state.to_str().unwrap(),
            "--log-group",
            "/ec2/app",
            "--format",
            "csv",
        ])
        .arg("stats count(*) as n by message | sort message")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "message,n\ndisk full,1\nwritten just before Ctrl-C,1\n"
    );
}

#[test]
fn with_aws_configured_up_ships_log_lines_to_cloudwatch_logs() {
    let moto = moto::shared().unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().unwrap();
    let group = unique_name("/it/up");
    let spec = format!("app.log={group}");
    let mut up = Up::start(dir.path(), &env_vars(&moto.endpoint_url()), &["--logs", &spec]);
    up.wait_ready();
    let stdout = up.stdout();
    assert!(
        stdout.starts_with("skywatch up: shipping to AWS in us-east-1"),
        "{stdout}"
    );
    assert!(
        stdout.contains("(agent output) logs: CloudWatch Logs"),
        "{stdout}"
    );
    std::fs::write(dir.path().join("app.log"), "shipped by skywatch up\n").unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let client = runtime
        .block_on(async { aws_sdk_cloudwatchlogs::Client::new(&sdk_config(&moto.endpoint_url()).await) });
    poll_until(
        "the line in CloudWatch Logs",
        Duration::from_secs(40),
        Duration::from_millis(500),
        || {
            let found = runtime.block_on(client.filter_log_events().log_group_name(&group).send());
            found
                .ok()
                .filter(|f| {
                    f.events()
                        .iter()
                        .any(|e| e.message() == Some("shipped by skywatch up"))
                })
                .map(|_| ())
        },
    )
    .unwrap_or_else(|e| panic!("{e}\n{}\n{}", up.outputs(), moto.log_tail()));
    let (status, _, log) = up.interrupt(Duration::from_secs(40));
    assert!(status.success(), "{status}\n{log}");
}

#[test]
fn completions_and_man_pages_come_from_both_command_lines() {
    let dir = tempfile::tempdir().unwrap();
    let bash = skywatch_ok(dir.path(), &[], &["completions", "bash"]);
    assert!(
        bash.contains("_skywatch()") && bash.contains("--dry-run") && bash.contains("servicemap"),
        "{bash}"
    );
    let zsh = skywatch_ok(dir.path(), &[], &["completions", "zsh", "--for", "logq"]);
    // A reader that goes away (`| head -1`) is no reason to panic.
    let mut child = Command::new(env!("CARGO_BIN_EXE_skywatch"))
        .args(["completions", "bash"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && !stderr.contains("panicked"), "{stderr}");
    assert!(
        zsh.starts_with("#compdef logq") && zsh.contains("--log-group"),
        "{zsh}"
    );
    let man = dir.path().join("man");
    let out = skywatch(dir.path(), &[], &["man", "--out", man.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for page in ["skywatch.1", "skywatch-up.1", "skywatch-agent.1", "logq.1"] {
        let text = std::fs::read_to_string(man.join(page)).unwrap_or_else(|e| panic!("{page}: {e}"));
        assert!(
            text.starts_with(".ie \\n(.g .ds Aq \\(aq") && text.contains(".TH "),
            "{page}: {text}"
        );
    }
    let logq = std::fs::read_to_string(man.join("logq.1")).unwrap();
    assert!(
        logq.contains("max\\-memory") && logq.contains("docs/query\\-language.md"),
        "{logq}"
    );
}

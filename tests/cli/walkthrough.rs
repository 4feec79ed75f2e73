//! The README's walk-through, run as written: every command between its `<!-- walkthrough` and
//! `<!-- /walkthrough -->` markers, in order — `skywatch up`, the sample app on the real X-Ray
//! SDK, its traffic, the page in headless Chromium (map → trace → log lines), the logq queries,
//! the dashboards, the alarm firing and clearing — then Ctrl-C. A command the test does not know
//! how to run fails it, so the README and this test cannot drift apart.
//!
//! What the test changes, and only this: the listeners get free ports (`127.0.0.1:2000` in a
//! command becomes the test's), the state directory is the test's (`~/.local/share/skywatch`),
//! `cargo run --release --bin skywatch --` is the binary cargo built for the tests, and the
//! `cargo build … && export PATH=…` line is not run (a release build inside a test): `PATH`
//! holds the test binaries' directory instead, and the test checks that every binary a command
//! uses was built by an earlier command of the walk-through.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};
use skywatch_tests::poll::poll_until;

use crate::running_agent::free_loopback_addr;
use crate::up::Up;
use crate::web_page::{browse, chromium_available};

const README: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"));
const REPO: &str = env!("CARGO_MANIFEST_DIR");
const UP: &str = "cargo run --release --bin skywatch -- up";
const STATE: &str = "~/.local/share/skywatch";
const COLLECTOR: &str = "127.0.0.1:2000";
/// The README's traffic: 200 requests, every tenth inventory call fails.
const REQUESTS: usize = 200;
const FAULTS: usize = 20;

/// The commands of the README's walk-through: the lines of its ```sh blocks, in order.
fn walkthrough_commands() -> Vec<String> {
    let start = README
        .find("<!-- walkthrough")
        .expect("the README has a walk-through");
    let end = README
        .find("<!-- /walkthrough -->")
        .expect("the walk-through ends");
    let mut commands = Vec::new();
    let mut in_block = false;
    for line in README[start..end].lines() {
        if line.starts_with("```") {
            in_block = line == "```sh";
            continue;
        }
        let command = line.trim();
        if in_block && !command.is_empty() && !command.starts_with('#') {
            commands.push(command.to_string());
        }
    }
    commands
}

struct Walk {
    dir: tempfile::TempDir,
    up: Option<Up>,
    app: Option<Child>,
    app_addr: String,
    bin_dir: PathBuf,
}

impl Walk {
    fn up(&self) -> &Up {
        self.up.as_ref().expect("`skywatch up` runs first")
    }

    /// A README command as the test runs it.
    fn substitute(&self, command: &str) -> String {
        let up = self.up();
        command
            .replace(STATE, &up.state.display().to_string())
            .replace(COLLECTOR, &up.http)
            .replace("examples/", &format!("{REPO}/examples/"))
    }

    fn shell(&self, command: &str) -> std::process::Output {
        let path = format!(
            "{}:{}",
            self.bin_dir.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        Command::new("sh")
            .args(["-c", &self.substitute(command)])
            .current_dir(self.dir.path())
            .env("PATH", path)
            .env("HOME", self.dir.path())
            .env("SAMPLE_APP_ADDR", &self.app_addr)
            .env("AWS_XRAY_DAEMON_ADDRESS", &self.up().udp)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    /// Runs a command that must succeed; its stdout.
    fn run(&self, command: &str) -> String {
        let out = self.shell(command);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{command}\n{}\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.up().outputs()
        );
        stdout
    }

    /// How many of the app's lines the store holds.
    fn lines_in_store(&self) -> usize {
        let out = self.shell(&format!(
            "logq --store {STATE} --log-group /sample-app --format ndjson 'stats count(*) as n'"
        ));
        let text = String::from_utf8_lossy(&out.stdout);
        serde_json::from_str::<Value>(text.trim())
            .ok()
            .and_then(|v| {
                v["n"]
                    .as_str()
                    .and_then(|n| n.parse().ok())
                    .or(v["n"].as_u64().map(|n| n as usize))
            })
            .unwrap_or(0)
    }
}

impl Drop for Walk {
    fn drop(&mut self) {
        if let Some(app) = &mut self.app {
            let _ = app.kill();
            let _ = app.wait();
        }
    }
}

#[test]
fn every_command_of_the_readme_walkthrough_does_what_the_readme_says() {
    assert!(chromium_available(), "chromium is missing: .ci/setup installs it");
    let commands = walkthrough_commands();
    assert!(commands.len() >= 10, "{commands:?}");
    assert_eq!(
        commands[0], UP,
        "the walk-through starts with `skywatch up` through cargo"
    );
    let logq = PathBuf::from(env!("CARGO_BIN_EXE_logq"));
    let mut walk = Walk {
        dir: tempfile::tempdir().unwrap(),
        up: None,
        app: None,
        app_addr: free_loopback_addr(),
        bin_dir: logq.parent().unwrap().to_path_buf(),
    };
    // The binaries the walk-through has built so far: `cargo run --bin skywatch` builds skywatch.
    let mut built: Vec<String> = vec!["skywatch".into()];
    for command in &commands {
        let program = command.split_whitespace().next().unwrap_or_default();
        if ["logq", "skywatch"].contains(&program) {
            assert!(
                built.iter().any(|b| b == program),
                "{command:?} runs {program}, which the walk-through has not built by then"
            );
        }
        if command == UP {
            let mut up = Up::start(walk.dir.path(), &[], &[]);
            up.wait_ready();
            let stdout = up.stdout();
            assert!(
                stdout.starts_with("skywatch up: everything stays local"),
                "{stdout}"
            );
            let sample_log = walk.dir.path().join("sample-app.log");
            assert!(
                stdout.contains(&format!("logs       {} -> /sample-app", sample_log.display())),
                "{stdout}"
            );
            assert!(
                stdout.contains("sample app python3 examples/sample-app/app.py"),
                "{stdout}"
            );
            walk.up = Some(up);
        } else if command.starts_with("python3 examples/sample-app/app.py") {
            walk.app = Some(start_app(&walk, command));
        } else if command.starts_with("python3 examples/sample-app/traffic.py") {
            let out = walk.run(command);
            assert_eq!(
                out.trim(),
                format!(
                    "traffic: {REQUESTS} requests: {} answered 200, {FAULTS} answered 502",
                    REQUESTS - FAULTS
                )
            );
            // Every request line and every inventory failure reaches the store.
            poll_until(
                "the app's lines in the store",
                Duration::from_secs(40),
                Duration::from_millis(500),
                || (walk.lines_in_store() == REQUESTS + FAULTS).then_some(()),
            )
            .unwrap_or_else(|e| panic!("{e}: {}\n{}", walk.lines_in_store(), walk.up().outputs()));
            walk.up().wait_for_log(
                "alarm \"sample-app faults\": OK -> ALARM",
                Duration::from_secs(60),
            );
            follow_a_fault_in_the_page(&walk);
        } else if let Some(bins) = command.strip_prefix("cargo build --release ") {
            let (bins, export) = bins.split_once(" && ").expect("the build line also sets PATH");
            assert_eq!(export, "export PATH=\"$PWD/target/release:$PATH\"");
            built.extend(
                bins.split_whitespace()
                    .filter(|w| *w != "--bin")
                    .map(str::to_string),
            );
        } else if command.starts_with("logq ") && command.contains("alarms/history.jsonl") {
            // The alarm clears once its evaluation range holds no fault.
            walk.up().wait_for_log(
                "alarm \"sample-app faults\": ALARM -> OK",
                Duration::from_secs(90),
            );
            let out = walk.run(command);
            let changes: Vec<&str> = out.lines().filter(|l| l.contains("sample-app faults")).collect();
            let ok_alarm = changes
                .iter()
                .position(|l| l.contains("│ OK") && l.trim_end().ends_with("ALARM"));
            let alarm_ok = changes
                .iter()
                .position(|l| l.contains("│ ALARM") && l.trim_end().ends_with("OK"));
            assert!(
                matches!((ok_alarm, alarm_ok), (Some(a), Some(b)) if a < b),
                "{out}"
            );
        } else if command.starts_with("logq ") {
            let out = walk.run(command);
            check_query(command, &out);
        } else if command.starts_with("skywatch dashboard render --preset capstone") {
            let body: Value = serde_json::from_str(&walk.run(command)).unwrap();
            let widgets = body["widgets"].as_array().unwrap();
            assert!(widgets.len() >= 8, "{body:#}");
            assert!(body.to_string().contains("i-0123456789abcdef0"), "{body:#}");
        } else if command.starts_with("skywatch dashboard generate") {
            let body = walk.run(command);
            for service in ["sample-app", "inventory", "skywatch/Traces"] {
                assert!(body.contains(service), "{service} not in {body}");
            }
        } else if command.starts_with("skywatch metrics ") {
            let out = walk.run(command);
            assert!(
                out.lines().count() >= 2 && out.contains("mem_used_percent"),
                "{out}"
            );
        } else {
            panic!("the walk-through test does not know how to run the README's {command:?}: teach it");
        }
    }
    let up = walk.up.take().unwrap();
    let (status, stdout, log) = up.interrupt(Duration::from_secs(40));
    assert!(status.success(), "{status}\n{stdout}\n{log}");
    assert!(log.contains("0 not delivered"), "{log}");
}

fn start_app(walk: &Walk, command: &str) -> Child {
    let path = format!(
        "{}:{}",
        walk.bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let stdout = walk.dir.path().join("app.stdout");
    let stderr = walk.dir.path().join("app.stderr");
    let child = Command::new("sh")
        .args(["-c", &format!("exec {}", walk.substitute(command))])
        .current_dir(walk.dir.path())
        .env("PATH", path)
        .env("SAMPLE_APP_ADDR", &walk.app_addr)
        .env("AWS_XRAY_DAEMON_ADDRESS", &walk.up().udp)
        .stdout(std::fs::File::create(&stdout).unwrap())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .spawn()
        .unwrap();
    poll_until(
        "the sample app to listen",
        Duration::from_secs(30),
        Duration::from_millis(50),
        || {
            std::fs::read_to_string(&stdout)
                .unwrap_or_default()
                .contains("sample-app on http://")
                .then_some(())
        },
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", std::fs::read_to_string(&stderr).unwrap_or_default()));
    child
}

/// What each of the README's three queries answers for the traffic.
fn check_query(command: &str, out: &str) {
    if command.contains("pattern message") {
        assert!(
            out.contains("stock lookup for item <Number-1> failed: database timed out")
                && out.contains("order <Number-1> failed: inventory answered <Number-2>"),
            "{out}"
        );
    } else if command.contains("sum(Faults)") {
        // One row per minute the traffic touched: the counts add up to the traffic.
        let rows: Vec<Vec<&str>> = out
            .lines()
            .skip(2)
            .map(|l| l.split('│').map(str::trim).collect())
            .collect();
        let sum = |i: usize| rows.iter().map(|r| r[i].parse::<usize>().unwrap()).sum::<usize>();
        assert_eq!((sum(1), sum(2)), (REQUESTS, FAULTS), "{out}");
    } else if command.contains("filter level = \"ERROR\"") {
        assert_eq!(out.lines().count(), 2 + 10, "{out}");
        assert!(
            out.contains("inventory answered 503") && out.contains("database timed out"),
            "{out}"
        );
    } else {
        panic!("the walk-through test has no check for {command:?}: teach it");
    }
}

/// The page: the map shows both services, the inventory's faulted traces are found with a
/// filter expression, and a trace's timeline and log lines are there.
fn follow_a_fault_in_the_page(walk: &Walk) {
    let steps = json!([
        {"wait": "[data-node=\"inventory|\"]", "timeout": 30},
        {"eval": "[...document.querySelectorAll('[data-node]')].map(e => e.getAttribute('data-node')).sort()", "as": "nodes"},
        {"screenshot": "walkthrough-1-map.png"},
        {"click": "[data-node=\"inventory|\"]"},
        {"wait": "#traces [data-trace]", "timeout": 20},
        {"type": "#filter", "text": "fault = true", "enter": true},
        {"until": format!("document.querySelectorAll('#traces [data-trace]').length === {FAULTS}"), "timeout": 20},
        {"click": "#traces [data-trace]"},
        {"wait": "#timeline [data-segment]", "timeout": 20},
        {"texts": "#timeline [data-segment]", "as": "timeline"},
        {"until": "document.querySelectorAll('#logs [data-log]').length === 2", "timeout": 20},
        {"texts": "#logs [data-log]", "as": "logs"},
        {"screenshot": "walkthrough-2-trace.png"}
    ]);
    let result = browse(&format!("http://{}/", walk.up().http), walk.dir.path(), &steps)
        .unwrap_or_else(|e| panic!("{e}\n{}", walk.up().outputs()));
    let nodes = result["nodes"].to_string();
    assert!(
        nodes.contains("\"sample-app|\"") && nodes.contains("\"inventory|\""),
        "{result:#}"
    );
    let timeline = result["timeline"].to_string();
    assert!(
        timeline.contains("sample-app") && timeline.contains("inventory"),
        "{result:#}"
    );
    let logs = result["logs"].to_string();
    assert!(
        logs.contains("inventory answered 503") && logs.contains("stock lookup for item"),
        "{result:#}"
    );
}

#[test]
fn the_readme_opens_with_up_through_cargo_and_the_test_command() {
    let fence = README.find("```sh\n").unwrap();
    let first: Vec<&str> = README[fence + 6..].lines().take(2).collect();
    assert!(first[0].starts_with(UP), "{first:?}");
    assert!(
        first[1].starts_with(".ci/setup && cargo nextest run --workspace"),
        "{first:?}"
    );
    let ci = std::fs::read_to_string(Path::new(REPO).join(".ci/run")).unwrap();
    assert!(ci.contains("cargo nextest run --workspace"), "{ci}");
}

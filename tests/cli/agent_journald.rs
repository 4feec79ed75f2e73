//! `skywatch agent` collecting the systemd journal (`logs_collected.journald`) through
//! journalctl. The journalctl here is a stand-in that prints recorded `--output=json` entries
//! (and, with `--follow`, what is appended to them later) and honours `--after-cursor`, so the
//! tests show the cursor rules: entries reach the store once each across restarts, a filtered
//! entry still moves the cursor, and a journalctl that is missing or fails is named and counted.

use std::fmt::Write as _;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::running_agent::{free_loopback_addr, http_get, Agent};
use skywatch_tests::poll::poll_until;

/// A journalctl stand-in: prints the entries of `entries.jsonl` after `--after-cursor`'s entry
/// (all of them without it), following the file with `--follow`; records its arguments; fails
/// as told by a `fail` file (its text on stderr, exit 1).
const FAKE_JOURNALCTL: &str = r#"#!/bin/sh
dir="$(dirname "$0")"
echo "$*" >> "$dir/args.log"
if [ -f "$dir/fail" ]; then cat "$dir/fail" >&2; exit 1; fi
skip=0
follow=no
for a in "$@"; do
  case "$a" in
    --after-cursor=*) c="${a#--after-cursor=}"; skip=$(grep -n "\"__CURSOR\":\"$c\"" "$dir/entries.jsonl" | cut -d: -f1) ;;
    --follow) follow=yes ;;
  esac
done
if [ "$follow" = yes ]; then exec tail -n +$((skip + 1)) -f "$dir/entries.jsonl"; fi
exec tail -n +$((skip + 1)) "$dir/entries.jsonl"
"#;

/// Entry `n` as journalctl prints it (cursor `c=<n>`).
fn entry(n: usize, unit: &str, message: &str) -> String {
    let micros = (chrono::Utc::now().timestamp_millis() as u64) * 1000 + n as u64;
    format!(
        r#"{{"__CURSOR":"c={n}","__REALTIME_TIMESTAMP":"{micros}","__MONOTONIC_TIMESTAMP":"9","_SYSTEMD_UNIT":"{unit}","PRIORITY":"6","SYSLOG_IDENTIFIER":"app","MESSAGE":"{message}"}}"#
    ) + "\n"
}

struct Journal {
    dir: PathBuf,
    next: usize,
}

impl Journal {
    fn new(work: &Path) -> Journal {
        let dir = work.join("journal");
        std::fs::create_dir_all(&dir).unwrap();
        let script = dir.join("journalctl");
        std::fs::write(&script, FAKE_JOURNALCTL).unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(dir.join("entries.jsonl"), "").unwrap();
        Journal { dir, next: 1 }
    }

    fn path(&self) -> String {
        self.dir.join("journalctl").display().to_string()
    }

    fn append(&mut self, unit: &str, messages: &[&str]) {
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(self.dir.join("entries.jsonl"))
            .unwrap();
        for m in messages {
            file.write_all(entry(self.next, unit, m).as_bytes()).unwrap();
            self.next += 1;
        }
    }

    fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.join("args.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }
}

fn config(journal: &Journal, extra: &str) -> String {
    format!(
        r#"{{"logs": {{"force_flush_interval": 1, "logs_collected": {{"journald": {{
              "collect_list": [{{"units": ["app"], "log_group_name": "/journal/app",
                "log_stream_name": "{{hostname}}", "start_at": "beginning",
                "journalctl_path": "{}"{extra}}}]}}}}}}}}"#,
        journal.path()
    )
}

/// Messages of the store's group, in time order.
fn stored(work: &Path, group: &str) -> Vec<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_logq"))
        .args(["--format", "csv", "fields MESSAGE | sort @timestamp asc"])
        .args(["--store", work.join("state/logs").to_str().unwrap()])
        .args(["--log-group", group])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .skip(1)
        .map(str::to_string)
        .collect()
}

fn saved_cursor(work: &Path) -> Option<String> {
    let text = std::fs::read_to_string(work.join("state/journald-cursors.json")).ok()?;
    let doc: serde_json::Value = serde_json::from_str(&text).ok()?;
    doc["entries"][0]["cursor"].as_str().map(str::to_string)
}

fn run_once(work: &Path, config: &str) -> String {
    let mut agent = Agent::start_in(
        work,
        config,
        &[("AWS_EC2_METADATA_DISABLED", "true".to_string())],
        &["--once"],
    );
    let (status, log) = agent.wait(Duration::from_secs(60));
    assert!(status.success(), "{log}");
    log
}

#[test]
fn journal_entries_reach_the_store_once_each_across_runs_and_resume_after_the_cursor() {
    let work = tempfile::tempdir().unwrap();
    let mut journal = Journal::new(work.path());
    journal.append("app.service", &["started", "GET /health 200", "GET /cart 500"]);
    let log = run_once(work.path(), &config(&journal, ""));
    assert!(
        log.contains("shipping the journal (units=app#/journal/app/{hostname})"),
        "{log}"
    );
    assert!(log.contains("from the beginning of the journal"), "{log}");
    assert!(log.contains("log events: 3 read, 0 sent, 3 stored"), "{log}");
    assert_eq!(saved_cursor(work.path()).as_deref(), Some("c=3"));
    journal.append("app.service", &["GET /cart 200", "stopping"]);
    let log = run_once(work.path(), &config(&journal, ""));
    assert!(log.contains("from its saved cursor"), "{log}");
    assert!(log.contains("log events: 2 read, 0 sent, 2 stored"), "{log}");
    assert_eq!(
        stored(work.path(), "/journal/app"),
        [
            "started",
            "GET /health 200",
            "GET /cart 500",
            "GET /cart 200",
            "stopping"
        ]
    );
    let calls = journal.calls();
    assert!(
        calls[0].contains("--unit=app") && calls[0].contains("--priority=info"),
        "{calls:?}"
    );
    assert!(!calls[0].contains("--after-cursor"), "{calls:?}");
    assert!(calls[1].contains("--after-cursor=c=3"), "{calls:?}");
    // The fields are kept: a query can select on them.
    let out = Command::new(env!("CARGO_BIN_EXE_logq"))
        .args([
            "--format",
            "csv",
            "stats count(*) as n by _SYSTEMD_UNIT, PRIORITY",
        ])
        .args(["--store", work.path().join("state/logs").to_str().unwrap()])
        .args(["--log-group", "/journal/app"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "_SYSTEMD_UNIT,PRIORITY,n\napp.service,6,5\n"
    );
}

#[test]
fn a_filtered_entry_moves_the_cursor_and_a_following_agent_ships_what_comes_later() {
    let work = tempfile::tempdir().unwrap();
    let mut journal = Journal::new(work.path());
    journal.append("app.service", &["keep 1", "healthcheck", "keep 2"]);
    let addr = free_loopback_addr();
    let config = format!(
        "[outputs]\nlogs = \"local\"\n[health]\nlisten = \"{addr}\"\n[logs]\nforce_flush_interval = 1\n[[logs.journald]]\nunits = [\"app\"]\nlog_group_name = \"/journal/follow\"\nstart_at = \"beginning\"\njournalctl_path = \"{}\"\nfilters = [{{type = \"exclude\", expression = \"^healthcheck$\"}}]\n",
        journal.path()
    );
    let agent = Agent::start_in(work.path(), &config, &[], &[]);
    poll_until(
        "the first entries to be stored",
        Duration::from_secs(30),
        Duration::from_millis(100),
        || (stored(work.path(), "/journal/follow").len() == 2).then_some(()),
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", agent.log()));
    journal.append("app.service", &["healthcheck", "keep 3"]);
    poll_until(
        "an entry appended while following to be stored",
        Duration::from_secs(30),
        Duration::from_millis(100),
        || (stored(work.path(), "/journal/follow").len() == 3).then_some(()),
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", agent.log()));
    let metrics = http_get(&addr, "/metrics");
    assert!(
        metrics.contains("skywatch_agent_log_events_total{outcome=\"filtered\"} 2"),
        "{metrics}"
    );
    let (status, log) = agent.stop(Duration::from_secs(30));
    assert!(status.success(), "{log}");
    assert_eq!(
        stored(work.path(), "/journal/follow"),
        ["keep 1", "keep 2", "keep 3"]
    );
    // The last entry was filtered out and still passed: nothing is read twice.
    assert_eq!(saved_cursor(work.path()).as_deref(), Some("c=5"), "{log}");
    assert!(journal.calls()[0].contains("--follow"), "{:?}", journal.calls());
}

#[test]
fn a_missing_or_failing_journalctl_is_named_once_counted_and_started_again() {
    let work = tempfile::tempdir().unwrap();
    let mut journal = Journal::new(work.path());
    journal.append("app.service", &["hello"]);
    std::fs::write(
        journal.dir.join("fail"),
        "Failed to open journal: Permission denied\n",
    )
    .unwrap();
    let addr = free_loopback_addr();
    let config = format!(
        "[outputs]\nlogs = \"local\"\n[health]\nlisten = \"{addr}\"\n[logs]\nforce_flush_interval = 1\n[[logs.journald]]\nlog_group_name = \"/journal/fail\"\nstart_at = \"beginning\"\njournalctl_path = \"{}\"\n[[logs.journald]]\nlog_group_name = \"/journal/missing\"\njournalctl_path = \"{}/no-such-journalctl\"\n",
        journal.path(),
        work.path().display()
    );
    let agent = Agent::start_in(work.path(), &config, &[], &[]);
    agent.wait_for_log("Permission denied", Duration::from_secs(30));
    agent.wait_for_log("no-such-journalctl not found", Duration::from_secs(30));
    // It keeps trying: once journalctl works, the entry is delivered.
    std::fs::remove_file(journal.dir.join("fail")).unwrap();
    poll_until(
        "the entry to be stored once journalctl works",
        Duration::from_secs(30),
        Duration::from_millis(100),
        || (stored(work.path(), "/journal/fail") == ["hello"]).then_some(()),
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", agent.log()));
    let metrics = http_get(&addr, "/metrics");
    assert!(
        metrics.contains("skywatch_agent_journald_problems_total{kind=\"exited\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("skywatch_agent_journald_problems_total{kind=\"cannot_start\"}"),
        "{metrics}"
    );
    let (status, log) = agent.stop(Duration::from_secs(30));
    assert!(status.success(), "{log}");
    assert_eq!(
        log.matches("no-such-journalctl not found").count(),
        1,
        "named once, not at every retry:\n{log}"
    );
}

/// Appends entries to a real journal file through systemd-journal-remote (its export format):
/// (unit, boot, message) each.
fn write_journal(dir: &Path, entries: &[(&str, &str, &str)]) {
    let mut export = String::new();
    for (i, (unit, boot, message)) in entries.iter().enumerate() {
        let micros = chrono::Utc::now().timestamp_micros() + i as i64;
        let _ = write!(
            export,
            "__REALTIME_TIMESTAMP={micros}\n__MONOTONIC_TIMESTAMP={}\n_BOOT_ID={boot}\nMESSAGE={message}\nPRIORITY=6\n_SYSTEMD_UNIT={unit}\n_TRANSPORT=journal\n\n",
            i + 1
        );
    }
    let input = dir.join("entries.export");
    std::fs::write(&input, export).unwrap();
    let out = Command::new("/lib/systemd/systemd-journal-remote")
        .arg(format!("--output={}", dir.join("remote.journal").display()))
        .arg(&input)
        .output()
        .expect("systemd-journal-remote (installed by .ci/setup)");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    std::fs::remove_file(&input).unwrap();
}

const BOOT_1: &str = "0123456789abcdef0123456789abcdef";
const BOOT_2: &str = "fedcba9876543210fedcba9876543210";

#[test]
fn a_real_journal_is_followed_across_boots_and_resumed_from_its_cursor() {
    let work = tempfile::tempdir().unwrap();
    let journal = work.path().join("journal");
    std::fs::create_dir_all(&journal).unwrap();
    let long = "x".repeat(6000);
    write_journal(
        &journal,
        &[
            ("app.service", BOOT_1, "started"),
            ("other.service", BOOT_1, "not ours"),
            ("app.service", BOOT_1, &long),
        ],
    );
    let addr = free_loopback_addr();
    let config = format!(
        "[outputs]\nlogs = \"local\"\n[health]\nlisten = \"{addr}\"\n[logs]\nforce_flush_interval = 1\n[[logs.journald]]\nunits = [\"app\"]\ndirectory = \"{}\"\nstart_at = \"beginning\"\nlog_group_name = \"/journal/real\"\n",
        journal.display()
    );
    let agent = Agent::start_in(work.path(), &config, &[], &[]);
    let wait_for = |n: usize, what: &str| {
        poll_until(what, Duration::from_secs(30), Duration::from_millis(100), || {
            (stored(work.path(), "/journal/real").len() == n).then_some(())
        })
        .unwrap_or_else(|e| panic!("{e}\n{}", agent.log()));
    };
    wait_for(2, "the app's entries to be stored");
    // A reboot: entries of another boot, written while the agent follows.
    write_journal(&journal, &[("app.service", BOOT_2, "after the reboot")]);
    wait_for(3, "the new boot's entry to be stored");
    let (status, log) = agent.stop(Duration::from_secs(30));
    assert!(status.success(), "{log}");
    assert!(!log.contains("ended ("), "journalctl took our arguments:\n{log}");
    let cursor = saved_cursor(work.path()).unwrap();
    assert!(cursor.starts_with("s="), "a real cursor: {cursor}");
    // Stopped: one more entry, then a run that reads on from the cursor.
    write_journal(&journal, &[("app.service", BOOT_2, "while stopped")]);
    let log = run_once(work.path(), &config);
    assert!(log.contains("log events: 1 read, 0 sent, 1 stored"), "{log}");
    let messages = stored(work.path(), "/journal/real");
    assert_eq!(messages.len(), 4, "{messages:?}");
    assert_eq!(messages[0], "started");
    assert_eq!(messages[1], long, "a message over 4 KiB comes whole");
    assert_eq!(&messages[2..], ["after the reboot", "while stopped"]);
}

#[test]
fn with_once_a_journalctl_that_fails_exits_1_naming_it() {
    let work = tempfile::tempdir().unwrap();
    let mut journal = Journal::new(work.path());
    journal.append("app.service", &["hello"]);
    std::fs::write(
        journal.dir.join("fail"),
        "Failed to open journal: Permission denied\n",
    )
    .unwrap();
    let mut agent = Agent::start_in(
        work.path(),
        &config(&journal, ""),
        &[("AWS_EC2_METADATA_DISABLED", "true".to_string())],
        &["--once"],
    );
    let (status, log) = agent.wait(Duration::from_secs(60));
    assert_eq!(status.code(), Some(1), "{log}");
    assert!(log.contains("Permission denied"), "{log}");
    assert!(log.contains("journalctl failed for 1 journald entry"), "{log}");
}

#[test]
fn config_check_names_a_journalctl_that_is_not_there_and_a_journal_directory_that_is_not() {
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("check.json");
    std::fs::write(
        &file,
        format!(
            r#"{{"logs": {{"logs_collected": {{"journald": {{"units": ["ssh"],
                "journalctl_path": "{0}/nowhere/journalctl", "directory": "{0}/no-journal"}}}}}}}}"#,
            work.path().display()
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_skywatch"))
        .args(["config", "check", file.to_str().unwrap()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "warnings, not errors:\n{text}");
    assert!(
        text.contains("logs.logs_collected.journald.journalctl_path")
            && text.contains("nowhere/journalctl is not found"),
        "{text}"
    );
    assert!(text.contains("no-journal: No such file"), "{text}");
}

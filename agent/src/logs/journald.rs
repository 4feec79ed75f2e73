//! One journald entry of the config, read through `journalctl --output=json --follow`: each
//! journal entry becomes one event (its fields as a JSON object in journalctl's order, without
//! journald's `__` address fields; the time is the entry's own). Delivery follows the same at-least-once rule
//! as files: every event carries a sequence number in the acknowledgement account, and the
//! saved cursor advances only to the entry ending the longest fully acknowledged prefix — a
//! crash re-sends what was in flight and never skips an entry.
//!
//! journalctl runs as a child process with a thread reading its output; when it cannot be
//! started or ends (journal rotated away, permissions, a missing binary), that is named in the
//! log once per distinct reason, counted, and it is started again after [`RESTART_AFTER`] from
//! the cursor. With `--once` it runs without `--follow` and the entry is done when it ends.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use regex::Regex;
use serde_json::{Map, Value};
use skywatch_aws::limits::MAX_LOG_EVENT_BYTES;

use super::acks::Acks;
use super::filters::{passes, Filter};
use super::journal_cursors::JournalCursor;
use super::{AckToken, LogEvent};
use crate::config::{FilterKind, JournaldConfig};

/// How long after journalctl could not start (or ended) it is started again.
pub const RESTART_AFTER: Duration = Duration::from_secs(5);
/// Lines buffered between journalctl's reader thread and the log reader.
const LINE_QUEUE: usize = 4096;
/// What is kept of journalctl's error output for the log.
const STDERR_KEPT: usize = 2048;

/// Where reading starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    /// Past this cursor (the last delivered entry).
    AfterCursor(String),
    /// Entries from this time on (seconds since the epoch): `start_at = "end"` before any was
    /// delivered.
    Since(i64),
    /// The whole journal.
    Beginning,
}

/// A running journalctl.
struct Running {
    child: Child,
    lines: Receiver<Vec<u8>>,
    stderr: Arc<Mutex<String>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Counts of one entry's events.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct JournalCounts {
    pub events: u64,
    pub filtered: u64,
    pub unreadable: u64,
}

/// What became of one read.
#[derive(Debug, Default)]
pub struct JournalRead {
    pub events: Vec<LogEvent>,
    pub bytes: u64,
    /// journalctl is still running in `--once` mode (more may come).
    pub pending: bool,
    /// Things worth a log line (each distinct one once), and their metric kind.
    pub problems: Vec<(&'static str, String)>,
}

/// One journald entry being collected.
pub struct JournalSource {
    config: JournaldConfig,
    key: String,
    pub group: String,
    pub stream: String,
    /// Its number in the acknowledgement account.
    number: u64,
    filters: Vec<Filter>,
    start: Start,
    /// Events read and not yet behind the checkpoint: (sequence number, cursor).
    in_flight: VecDeque<(u64, String)>,
    next_seq: u64,
    running: Option<Running>,
    start_at: Instant,
    once: bool,
    /// With `--once`: journalctl has ended.
    finished: bool,
    counts: JournalCounts,
    /// The last problem named in the log (named again only when it changes).
    last_problem: Option<String>,
    pub retention_in_days: Option<i32>,
}

impl JournalSource {
    /// `config` with its names resolved; `saved` is its cursor from the last run; `now_s` the
    /// time used when it starts at the end without a cursor.
    pub fn new(
        config: &JournaldConfig,
        key: String,
        (group, stream): (String, String),
        number: u64,
        saved: Option<JournalCursor>,
        once: bool,
        now_s: i64,
    ) -> Result<JournalSource, String> {
        let mut filters = Vec::new();
        for (kind, expression) in &config.filters {
            let re = Regex::new(expression).map_err(|e| format!("{key}: filters: {e}"))?;
            filters.push(match kind {
                FilterKind::Include => Filter::Include(re),
                FilterKind::Exclude => Filter::Exclude(re),
            });
        }
        if let Some(grep) = &config.grep {
            filters.push(Filter::Include(
                Regex::new(grep).map_err(|e| format!("{key}: grep: {e}"))?,
            ));
        }
        let start = match saved {
            Some(JournalCursor {
                cursor: Some(cursor), ..
            }) => Start::AfterCursor(cursor),
            Some(JournalCursor {
                since_s: Some(since), ..
            }) => Start::Since(since),
            _ if config.start_at_beginning => Start::Beginning,
            _ => Start::Since(now_s),
        };
        Ok(JournalSource {
            config: config.clone(),
            key,
            group,
            stream,
            number,
            filters,
            start,
            in_flight: VecDeque::new(),
            next_seq: 1,
            running: None,
            start_at: Instant::now(),
            once,
            finished: false,
            counts: JournalCounts::default(),
            last_problem: None,
            retention_in_days: config.retention_in_days.and_then(|d| i32::try_from(d).ok()),
        })
    }

    /// The name its cursor is saved under.
    pub fn key(&self) -> &str {
        &self.key
    }

    pub fn counts(&self) -> JournalCounts {
        self.counts
    }

    /// With `--once`: everything there was is read.
    pub fn finished(&self) -> bool {
        self.finished
    }

    /// Reads what journalctl printed, at most about `budget` bytes; starts it when due.
    pub fn read(&mut self, budget: usize, acks: &mut Acks, now: Instant, now_ms: i64) -> JournalRead {
        let mut out = JournalRead::default();
        if self.finished {
            return out;
        }
        if self.running.is_none() {
            if now < self.start_at {
                return out;
            }
            if self.next_seq == 1 {
                acks.start(self.number, 0);
            }
            // Entries read but not delivered yet are read again (a restart of journalctl is
            // like a restart of the agent): it starts from the checkpoint.
            self.checkpoint(acks, now_ms);
            match self.spawn() {
                Ok(running) => self.running = Some(running),
                Err(why) => {
                    self.problem(&mut out, "cannot_start", &why);
                    self.start_at = now + RESTART_AFTER;
                    if self.once {
                        self.finished = true;
                    }
                    return out;
                }
            }
        }
        let mut ended = false;
        while (out.bytes as usize) < budget {
            let next = match &self.running {
                Some(running) if self.once && out.events.is_empty() => {
                    // Nothing yet: wait a little for journalctl rather than spin.
                    match running.lines.recv_timeout(Duration::from_millis(20)) {
                        Ok(line) => Ok(line),
                        Err(mpsc::RecvTimeoutError::Timeout) => Err(TryRecvError::Empty),
                        Err(mpsc::RecvTimeoutError::Disconnected) => Err(TryRecvError::Disconnected),
                    }
                }
                Some(running) => running.lines.try_recv(),
                None => break,
            };
            match next {
                Ok(line) => {
                    out.bytes += line.len() as u64 + 1;
                    self.take_line(&line, acks, now_ms, &mut out);
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    ended = true;
                    break;
                }
            }
        }
        if ended {
            self.ended(&mut out, now);
        }
        out.pending = self.once && !self.finished;
        out
    }

    /// journalctl's output ended: why, and when to start it again.
    fn ended(&mut self, out: &mut JournalRead, now: Instant) {
        let Some(mut running) = self.running.take() else {
            return;
        };
        let status = running.child.wait();
        let stderr = running
            .stderr
            .lock()
            .map(|s| s.trim().to_string())
            .unwrap_or_default();
        let clean = matches!(&status, Ok(s) if s.success());
        if self.once && clean {
            self.finished = true;
            return;
        }
        let status = match status {
            Ok(s) => s.to_string(),
            Err(e) => e.to_string(),
        };
        let said = if stderr.is_empty() {
            String::new()
        } else {
            format!(": {stderr}")
        };
        let again = if self.once {
            self.finished = true;
            "what it printed is delivered".to_string()
        } else {
            format!(
                "starting it again in {} s from the last delivered entry",
                RESTART_AFTER.as_secs()
            )
        };
        self.problem(
            out,
            "exited",
            &format!("{} ended ({status}){said}; {again}", self.config.journalctl_path),
        );
        self.start_at = now + RESTART_AFTER;
    }

    fn problem(&mut self, out: &mut JournalRead, kind: &'static str, message: &str) {
        let message = format!("journald {}: {message}", self.key);
        let repeated = self.last_problem.as_deref() == Some(message.as_str());
        self.last_problem = Some(message.clone());
        // Counted every time; named once per distinct message.
        out.problems
            .push((kind, if repeated { String::new() } else { message }));
    }

    /// One line of journalctl's output into an event (or a count).
    fn take_line(&mut self, line: &[u8], acks: &mut Acks, now_ms: i64, out: &mut JournalRead) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            return;
        }
        let entry = match parse_entry(line, now_ms) {
            Ok(entry) => entry,
            Err(why) => {
                self.counts.unreadable += 1;
                let shown = String::from_utf8_lossy(&line[..line.len().min(120)]).into_owned();
                self.problem(out, "unreadable_entry", &format!("{why}: {shown:?} (left out)"));
                return;
            }
        };
        let seq = self.next_seq;
        self.next_seq += 1;
        let token = AckToken {
            file: self.number,
            end_offset: seq,
        };
        acks.register(token);
        self.in_flight.push_back((seq, entry.cursor));
        if !passes(&self.filters, &entry.text) {
            self.counts.filtered += 1;
            // Nothing to deliver: its cursor may be passed at once.
            acks.acknowledge(token);
            return;
        }
        self.counts.events += 1;
        out.events.push(LogEvent {
            timestamp_ms: entry.timestamp_ms,
            message: entry.message,
            token,
        });
    }

    /// Where the entry resumes: past the last entry behind the acknowledged prefix.
    pub fn checkpoint(&mut self, acks: &Acks, now_ms: i64) -> JournalCursor {
        let done = acks.checkpoint(self.number).unwrap_or(0);
        while let Some((seq, _)) = self.in_flight.front() {
            if *seq > done {
                break;
            }
            if let Some((_, cursor)) = self.in_flight.pop_front() {
                self.start = Start::AfterCursor(cursor);
            }
        }
        let (cursor, since_s) = match &self.start {
            Start::AfterCursor(c) => (Some(c.clone()), None),
            Start::Since(s) => (None, Some(*s)),
            Start::Beginning => (None, None),
        };
        JournalCursor {
            source: self.key.clone(),
            cursor,
            since_s,
            updated_ms: now_ms,
        }
    }

    /// Starts journalctl from where delivery got to.
    fn spawn(&mut self) -> Result<Running, String> {
        let args = journalctl_args(&self.config, &self.start, !self.once);
        let mut child = Command::new(&self.config.journalctl_path)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => format!(
                    "{} not found (install systemd's journalctl or set journalctl_path); trying again every {} s",
                    self.config.journalctl_path,
                    RESTART_AFTER.as_secs()
                ),
                _ => format!(
                    "cannot start {}: {e}; trying again every {} s",
                    self.config.journalctl_path,
                    RESTART_AFTER.as_secs()
                ),
            })?;
        let stdout = child.stdout.take().ok_or("journalctl has no output pipe")?;
        let stderr_pipe = child.stderr.take();
        let (tx, lines) = mpsc::sync_channel(LINE_QUEUE);
        let spawned = std::thread::Builder::new()
            .name("skywatch-journald".into())
            .spawn(move || {
                let mut reader = BufReader::new(stdout);
                loop {
                    let mut line = Vec::new();
                    match reader.read_until(b'\n', &mut line) {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {
                            if line.last() == Some(&b'\n') {
                                line.pop();
                            }
                            if tx.send(line).is_err() {
                                break;
                            }
                        }
                    }
                }
            });
        if let Err(e) = spawned {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("cannot start a thread for journalctl: {e}"));
        }
        let stderr = Arc::new(Mutex::new(String::new()));
        if let Some(pipe) = stderr_pipe {
            let kept = Arc::clone(&stderr);
            let _ = std::thread::Builder::new()
                .name("skywatch-journald-err".into())
                .spawn(move || {
                    let mut text = String::new();
                    let _ = pipe.take(STDERR_KEPT as u64).read_to_string(&mut text);
                    if let Ok(mut kept) = kept.lock() {
                        *kept = text;
                    }
                });
        }
        // The numbering goes on; what was still in flight is read again from the cursor (and
        // acknowledging the old copies no longer moves it).
        self.in_flight.clear();
        Ok(Running { child, lines, stderr })
    }
}

/// journalctl's arguments for `config`, starting at `start`.
pub fn journalctl_args(config: &JournaldConfig, start: &Start, follow: bool) -> Vec<String> {
    let mut args = vec![
        "--output=json".to_string(),
        "--no-pager".to_string(),
        "--quiet".to_string(),
    ];
    if follow {
        args.push("--follow".into());
        // Everything from the start point, not only the last ten entries.
        args.push("--no-tail".into());
    }
    match start {
        Start::AfterCursor(cursor) => args.push(format!("--after-cursor={cursor}")),
        Start::Since(s) => args.push(format!("--since=@{s}")),
        Start::Beginning => {}
    }
    args.push(format!("--priority={}", config.priority));
    for unit in &config.units {
        args.push(format!("--unit={unit}"));
    }
    for id in &config.identifiers {
        args.push(format!("--identifier={id}"));
    }
    if config.dmesg {
        args.push("--dmesg".into());
    }
    if config.all {
        args.push("--all".into());
    }
    if let Some(dir) = &config.directory {
        args.push(format!("--directory={dir}"));
    }
    for file in &config.files {
        args.push(format!("--file={file}"));
    }
    if let Some(ns) = &config.namespace {
        args.push(format!("--namespace={ns}"));
    }
    if let Some(root) = &config.root_path {
        args.push(format!("--root={root}"));
    }
    // Matches last: FIELD=VALUE of one set must all hold; `+` between sets means "or".
    for (i, set) in config.matches.iter().enumerate() {
        if i > 0 {
            args.push("+".into());
        }
        for (field, value) in set {
            args.push(format!("{field}={value}"));
        }
    }
    args
}

/// One journal entry as read from journalctl's JSON output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub cursor: String,
    pub timestamp_ms: i64,
    /// The text filters apply to (`MESSAGE`).
    pub text: String,
    /// What is sent: the entry's fields as a JSON object.
    pub message: String,
}

/// Parses one line of `journalctl --output=json`.
pub fn parse_entry(line: &[u8], now_ms: i64) -> Result<Entry, String> {
    let fields: Map<String, Value> = match serde_json::from_slice(line) {
        Ok(Value::Object(map)) => map,
        Ok(_) => return Err("not a JSON object".into()),
        Err(e) => return Err(format!("not JSON ({e})")),
    };
    let cursor = fields
        .get("__CURSOR")
        .and_then(Value::as_str)
        .ok_or("no __CURSOR")?
        .to_string();
    let timestamp_ms = fields
        .get("__REALTIME_TIMESTAMP")
        .and_then(|v| match v {
            Value::String(s) => s.parse::<i64>().ok(),
            Value::Number(n) => n.as_i64(),
            _ => None,
        })
        .map_or(now_ms, |us| us / 1000);
    let mut kept = Map::new();
    for (name, value) in fields {
        if name.starts_with("__") {
            continue;
        }
        kept.insert(name, field_text(value));
    }
    let text = kept
        .get("MESSAGE")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let mut message = Value::Object(kept).to_string();
    if message.len() > MAX_LOG_EVENT_BYTES {
        // Too long for one event (journalctl --all can print huge fields): the message field
        // alone, cut at a character boundary.
        let mut cut = MAX_LOG_EVENT_BYTES.min(text.len());
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        message = text[..cut].to_string();
    }
    Ok(Entry {
        cursor,
        timestamp_ms,
        text,
        message,
    })
}

/// A field as text: journalctl prints fields that are not valid UTF-8 as arrays of bytes,
/// and a field given more than once as an array of its values.
fn field_text(value: Value) -> Value {
    match value {
        Value::Array(items) if items.iter().all(|v| v.as_u64().is_some_and(|n| n <= 255)) => {
            let bytes: Vec<u8> = items
                .iter()
                .filter_map(Value::as_u64)
                .filter_map(|n| u8::try_from(n).ok())
                .collect();
            Value::String(String::from_utf8_lossy(&bytes).into_owned())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(field_text).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::{journalctl_args, parse_entry, Start};
    use crate::config::JournaldConfig;
    use std::collections::BTreeMap;

    #[test]
    fn an_entry_keeps_its_fields_its_time_and_cursor() {
        let line = br#"{"__CURSOR":"s=ab;i=1","__REALTIME_TIMESTAMP":"1764291723004123","__MONOTONIC_TIMESTAMP":"1","MESSAGE":"Accepted publickey for ec2-user","PRIORITY":"6","_SYSTEMD_UNIT":"sshd.service","_PID":"812"}"#;
        let e = parse_entry(line, 0).unwrap();
        assert_eq!(e.cursor, "s=ab;i=1");
        assert_eq!(e.timestamp_ms, 1_764_291_723_004);
        assert_eq!(e.text, "Accepted publickey for ec2-user");
        assert_eq!(
            e.message,
            r#"{"MESSAGE":"Accepted publickey for ec2-user","PRIORITY":"6","_SYSTEMD_UNIT":"sshd.service","_PID":"812"}"#
        );
    }

    #[test]
    fn binary_and_repeated_fields_become_text_and_bad_lines_are_named() {
        // "caf\xe9" is not UTF-8: journalctl prints the bytes.
        let line = br#"{"__CURSOR":"c","MESSAGE":[99,97,102,233],"TAG":["a","b"]}"#;
        let e = parse_entry(line, 42).unwrap();
        assert_eq!(e.text, "caf\u{fffd}");
        assert_eq!(e.timestamp_ms, 42, "no time: the time it was read");
        assert!(e.message.contains(r#""TAG":["a","b"]"#), "{}", e.message);
        assert!(parse_entry(b"{\"MESSAGE\":\"x\"}", 0)
            .unwrap_err()
            .contains("__CURSOR"));
        assert!(parse_entry(b"-- No entries --", 0)
            .unwrap_err()
            .contains("not JSON"));
        assert!(parse_entry(b"[1]", 0).unwrap_err().contains("not a JSON object"));
    }

    #[test]
    fn a_huge_entry_is_sent_as_its_message_cut_to_the_event_limit() {
        let big = "é".repeat(600_000);
        let line = format!(r#"{{"__CURSOR":"c","MESSAGE":"{big}"}}"#);
        let e = parse_entry(line.as_bytes(), 0).unwrap();
        assert!(e.message.len() <= skywatch_aws::limits::MAX_LOG_EVENT_BYTES);
        assert!(e.message.starts_with('é'));
    }

    #[test]
    fn arguments_select_the_entries_and_resume_where_delivery_got_to() {
        let mut set = BTreeMap::new();
        set.insert("_SYSTEMD_UNIT".to_string(), "ssh.service".to_string());
        let config = JournaldConfig {
            units: vec!["ssh".into(), "kubelet".into()],
            identifiers: vec!["sudo".into()],
            matches: vec![set.clone(), set],
            priority: "warning".into(),
            directory: Some("/var/log/journal".into()),
            journalctl_path: "journalctl".into(),
            ..JournaldConfig::default()
        };
        let args = journalctl_args(&config, &Start::AfterCursor("s=1".into()), true);
        assert_eq!(
            args,
            [
                "--output=json",
                "--no-pager",
                "--quiet",
                "--follow",
                "--no-tail",
                "--after-cursor=s=1",
                "--priority=warning",
                "--unit=ssh",
                "--unit=kubelet",
                "--identifier=sudo",
                "--directory=/var/log/journal",
                "_SYSTEMD_UNIT=ssh.service",
                "+",
                "_SYSTEMD_UNIT=ssh.service",
            ]
        );
        let args = journalctl_args(&config, &Start::Since(1_764_291_723), false);
        assert!(args.contains(&"--since=@1764291723".to_string()));
        assert!(!args.iter().any(|a| a == "--follow"));
        assert!(!journalctl_args(&config, &Start::Beginning, true)
            .iter()
            .any(|a| a.starts_with("--since") || a.starts_with("--after")));
    }
}

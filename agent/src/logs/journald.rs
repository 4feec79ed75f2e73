//! One journald entry of the config, read through `journalctl --output=json --follow`
//! ([`super::journalctl`]): each journal entry becomes one event ([`super::journal_entry`]).
//! Delivery follows the same at-least-once rule as files: every event carries a sequence number
//! in the acknowledgement account, and the saved cursor advances only to the entry ending the
//! longest fully acknowledged prefix — a crash re-sends what was in flight and never skips an
//! entry. A filtered entry is acknowledged at once.
//!
//! When journalctl cannot be started or ends (a missing binary, permissions, a journal without
//! the saved cursor), that is named in the log once per distinct reason (again after a
//! recovery), counted, and journalctl is started again after [`RESTART_AFTER`] from the cursor;
//! a cursor the journal does not have is given up for the time of the last delivered entry.
//! With `--once` it runs without `--follow`, the entry is done when it ends, and a failure is
//! reported for the exit status.

use std::collections::VecDeque;
use std::sync::mpsc::{self, TryRecvError};
use std::time::{Duration, Instant};

use regex::Regex;

use super::acks::Acks;
use super::filters::{passes, Filter};
use super::journal_cursors::JournalCursor;
use super::journal_entry::parse_entry;
use super::journalctl::{journalctl_args, Running, Start};
use super::{AckToken, LogEvent};
use crate::config::{FilterKind, JournaldConfig};

/// How long after journalctl could not start (or ended) it is started again.
pub const RESTART_AFTER: Duration = Duration::from_secs(5);

/// Counts of one entry's events.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct JournalCounts {
    pub events: u64,
    pub filtered: u64,
    pub unreadable: u64,
}

/// Something worth a metric, and a log line unless it repeats the last one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalProblem {
    /// The metric's `kind` label.
    pub kind: &'static str,
    pub message: String,
    /// The same as the last one named: counted, not logged again.
    pub repeated: bool,
}

/// What became of one read.
#[derive(Debug, Default)]
pub struct JournalRead {
    pub events: Vec<LogEvent>,
    pub bytes: u64,
    /// journalctl is still running in `--once` mode (more may come).
    pub pending: bool,
    /// Entries acknowledged without delivery (filtered): the cursor moved.
    pub acknowledged: bool,
    pub problems: Vec<JournalProblem>,
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
    /// The time of the last entry behind the checkpoint (seconds), where a lost cursor resumes.
    checkpoint_time_s: Option<i64>,
    /// Events read and not yet behind the checkpoint: (sequence number, cursor, time in ms).
    in_flight: VecDeque<(u64, String, i64)>,
    next_seq: u64,
    running: Option<Running>,
    start_at: Instant,
    once: bool,
    /// With `--once`: journalctl has ended.
    finished: bool,
    /// With `--once`: journalctl could not be run, or failed.
    failed: bool,
    counts: JournalCounts,
    /// The last problem named in the log (named again only when it changes or after a
    /// recovery).
    last_problem: Option<String>,
    pub retention_in_days: Option<i32>,
}

/// Where a journald entry starts and how it runs.
#[derive(Debug, Clone)]
pub struct JournalStart {
    /// Its cursor from the last run.
    pub saved: Option<JournalCursor>,
    /// Read what there is and end (`--once`), instead of following.
    pub once: bool,
    /// The time used when it starts at the end without a cursor.
    pub now_s: i64,
}

impl JournalSource {
    /// `config` with its names resolved to `(group, stream)`; `number` is its place in the
    /// acknowledgement account.
    pub fn new(
        config: &JournaldConfig,
        key: String,
        (group, stream): (String, String),
        number: u64,
        how: JournalStart,
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
        let checkpoint_time_s = how.saved.as_ref().map(|c| c.updated_ms / 1000);
        let start = match how.saved {
            Some(JournalCursor {
                cursor: Some(cursor), ..
            }) => Start::AfterCursor(cursor),
            Some(JournalCursor {
                since_s: Some(since), ..
            }) => Start::Since(since),
            _ if config.start_at_beginning => Start::Beginning,
            _ => Start::Since(how.now_s),
        };
        Ok(JournalSource {
            config: config.clone(),
            key,
            group,
            stream,
            number,
            filters,
            start,
            checkpoint_time_s,
            in_flight: VecDeque::new(),
            next_seq: 1,
            running: None,
            start_at: Instant::now(),
            once: how.once,
            finished: false,
            failed: false,
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

    /// With `--once`: journalctl could not be run or failed (what it read is delivered).
    pub fn failed(&self) -> bool {
        self.failed
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
            let args = journalctl_args(&self.config, &self.start, !self.once);
            match Running::spawn(&self.config.journalctl_path, &args) {
                Ok(running) => {
                    // Anything still in flight is read again from the cursor; acknowledging
                    // the old copies no longer moves it.
                    self.in_flight.clear();
                    self.running = Some(running);
                }
                Err(e) => {
                    let message = match e.kind() {
                        std::io::ErrorKind::NotFound => format!(
                            "{} not found (install systemd's journalctl or set journalctl_path)",
                            self.config.journalctl_path
                        ),
                        _ => format!("cannot start {}: {e}", self.config.journalctl_path),
                    };
                    self.gave_up_or_retry(&mut out, "cannot_start", &message, now);
                    return out;
                }
            }
        }
        let mut ended = false;
        while (out.bytes as usize) < budget {
            let Some(running) = &self.running else { break };
            let next = if self.once && out.events.is_empty() {
                // Nothing yet: wait a little for journalctl rather than spin.
                match running.lines.recv_timeout(Duration::from_millis(20)) {
                    Ok(line) => Ok(line),
                    Err(mpsc::RecvTimeoutError::Timeout) => Err(TryRecvError::Empty),
                    Err(mpsc::RecvTimeoutError::Disconnected) => Err(TryRecvError::Disconnected),
                }
            } else {
                running.lines.try_recv()
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
        let Some(running) = self.running.take() else {
            return;
        };
        let (status, said) = running.finish();
        if self.once && matches!(&status, Ok(s) if s.success()) {
            self.finished = true;
            return;
        }
        let status = match status {
            Ok(s) => s.to_string(),
            Err(e) => e.to_string(),
        };
        let said = if said.is_empty() {
            String::new()
        } else {
            format!(": {said}")
        };
        let lost_cursor = matches!(self.start, Start::AfterCursor(_)) && said.contains("cursor");
        let mut message = format!("{} ended ({status}){said}", self.config.journalctl_path);
        if lost_cursor {
            // A rotated-away journal, or a cursor of another machine: it would fail forever.
            let since = self
                .checkpoint_time_s
                .unwrap_or_else(|| crate::journal::now_ms() / 1000);
            self.start = Start::Since(since);
            let at = chrono::DateTime::from_timestamp(since, 0)
                .map_or_else(|| since.to_string(), |t| t.to_rfc3339());
            message.push_str("; the saved cursor is not in this journal: reading from ");
            message.push_str(&at);
            message.push_str(" (the last delivered entry's time) on instead");
        }
        self.gave_up_or_retry(out, "exited", &message, now);
    }

    /// Names a failure; with `--once` the entry is done (and failed), else it starts again.
    fn gave_up_or_retry(&mut self, out: &mut JournalRead, kind: &'static str, message: &str, now: Instant) {
        let message = if self.once {
            self.finished = true;
            self.failed = true;
            format!("journald {}: {message}; what it read is delivered", self.key)
        } else {
            format!(
                "journald {}: {message}; starting it again in {} s from the last delivered entry",
                self.key,
                RESTART_AFTER.as_secs()
            )
        };
        let repeated = self.last_problem.as_deref() == Some(message.as_str());
        self.last_problem = Some(message.clone());
        out.problems.push(JournalProblem {
            kind,
            message,
            repeated,
        });
        self.start_at = now + RESTART_AFTER;
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
                let message = format!("journald {}: {why}: {shown:?} (left out)", self.key);
                let repeated = self.last_problem.as_deref() == Some(message.as_str());
                self.last_problem = Some(message.clone());
                out.problems.push(JournalProblem {
                    kind: "unreadable_entry",
                    message,
                    repeated,
                });
                return;
            }
        };
        // Entries flow again: a problem that comes back is named again.
        self.last_problem = None;
        let seq = self.next_seq;
        self.next_seq += 1;
        let token = AckToken {
            file: self.number,
            end_offset: seq,
        };
        acks.register(token);
        self.in_flight.push_back((seq, entry.cursor, entry.timestamp_ms));
        if !passes(&self.filters, &entry.text) {
            self.counts.filtered += 1;
            // Nothing to deliver: its cursor may be passed at once.
            acks.acknowledge(token);
            out.acknowledged = true;
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
        while self.in_flight.front().is_some_and(|(seq, _, _)| *seq <= done) {
            if let Some((_, cursor, time_ms)) = self.in_flight.pop_front() {
                self.start = Start::AfterCursor(cursor);
                self.checkpoint_time_s = Some(time_ms / 1000);
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
            updated_ms: self.checkpoint_time_s.map_or(now_ms, |s| s * 1000),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{JournalSource, JournalStart};
    use crate::config::JournaldConfig;
    use crate::logs::acks::Acks;
    use crate::logs::AckToken;
    use std::fmt::Write as _;
    use std::io::Write as _;
    use std::os::unix::fs::PermissionsExt;
    use std::time::{Duration, Instant};

    /// A journalctl that prints entries c=1..=n (after `--after-cursor`'s) and exits.
    fn fake_journalctl(dir: &std::path::Path, n: usize) -> String {
        let path = dir.join("journalctl");
        let mut script = String::from("#!/bin/sh\necho \"$*\" >> \"$(dirname \"$0\")/args\"\nskip=0\nfor a in \"$@\"; do case \"$a\" in --after-cursor=c=*) skip=${a#--after-cursor=c=} ;; esac; done\ni=$((skip + 1))\n");
        let _ = writeln!(
            script,
            "while [ $i -le {n} ]; do echo \"{{\\\"__CURSOR\\\":\\\"c=$i\\\",\\\"__REALTIME_TIMESTAMP\\\":\\\"${{i}}000000\\\",\\\"MESSAGE\\\":\\\"m$i\\\"}}\"; i=$((i + 1)); done"
        );
        let mut file = std::fs::File::create(&path).unwrap();
        file.write_all(script.as_bytes()).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path.display().to_string()
    }

    fn source(journalctl: String) -> JournalSource {
        let config = JournaldConfig {
            priority: "info".into(),
            journalctl_path: journalctl,
            start_at_beginning: true,
            ..JournaldConfig::default()
        };
        JournalSource::new(
            &config,
            "test".into(),
            ("g".into(), "s".into()),
            7 << 40,
            JournalStart {
                saved: None,
                once: true,
                now_s: 0,
            },
        )
        .unwrap()
    }

    /// Reads until journalctl has ended.
    fn read_all(source: &mut JournalSource, acks: &mut Acks) -> Vec<AckToken> {
        let mut tokens = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let read = source.read(1 << 20, acks, Instant::now(), 0);
            tokens.extend(read.events.iter().map(|e| e.token));
            if !read.pending {
                return tokens;
            }
            assert!(Instant::now() < deadline, "journalctl never ended");
        }
    }

    #[test]
    fn the_cursor_stops_at_the_first_entry_not_delivered_and_a_restart_reads_on_from_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut acks = Acks::default();
        let mut journal = source(fake_journalctl(dir.path(), 4));
        let tokens = read_all(&mut journal, &mut acks);
        assert_eq!(tokens.len(), 4);
        // Entries 1 and 3 delivered, 2 and 4 not (in flight at a crash).
        acks.acknowledge(tokens[0]);
        acks.acknowledge(tokens[2]);
        let saved = journal.checkpoint(&acks, 0);
        assert_eq!(saved.cursor.as_deref(), Some("c=1"));
        assert_eq!(saved.updated_ms, 1000, "the time of the last delivered entry");
        // The next run resumes after c=1 and reads 2, 3 and 4 again.
        let mut next = JournalSource::new(
            &JournaldConfig {
                priority: "info".into(),
                journalctl_path: fake_journalctl(dir.path(), 4),
                ..JournaldConfig::default()
            },
            "test".into(),
            ("g".into(), "s".into()),
            7 << 40,
            JournalStart {
                saved: Some(saved),
                once: true,
                now_s: 0,
            },
        )
        .unwrap();
        let mut acks = Acks::default();
        assert_eq!(read_all(&mut next, &mut acks).len(), 3);
        let args = std::fs::read_to_string(dir.path().join("args")).unwrap();
        assert!(
            args.lines().nth(1).unwrap().contains("--after-cursor=c=1"),
            "{args}"
        );
    }

    #[test]
    fn a_failing_journalctl_in_once_mode_marks_the_entry_failed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journalctl");
        std::fs::write(
            &path,
            "#!/bin/sh\necho 'Failed to seek to cursor: Invalid argument' >&2\nexit 1\n",
        )
        .unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut journal = source(path.display().to_string());
        let mut acks = Acks::default();
        let mut problems = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let read = journal.read(1 << 20, &mut acks, Instant::now(), 0);
            problems.extend(read.problems);
            if !read.pending {
                break;
            }
            assert!(Instant::now() < deadline);
        }
        assert!(journal.failed());
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].message.contains("Failed to seek to cursor"),
            "{problems:?}"
        );
    }
}

//! One collected-file entry at work: its glob followed by a [`Tailer`], each followed file's
//! lines turned into events by its own [`EventBuilder`], all bound for one log group and
//! stream. Reading starts where the checkpoints say (from the beginning when there is none) and
//! registers every event with the acknowledgement tracker in file order.

use std::collections::HashMap;
use std::io;
use std::time::{Duration, Instant};

use regex::Regex;

use super::acks::Acks;
use super::batch::LongLines;
use super::checkpoint::Checkpoint;
use super::events::{Built, EventBuilder, EventCounts, EventRules};
use super::filters::{builtin, Filter, Redaction};
use super::multiline::{Multiline, DEFAULT_FLUSH_TIMEOUT, DEFAULT_START_PATTERN};
use super::tailer::{FileEvent, Tailer};
use super::timestamp_format::{AgentTimestampFormat, Zone};
use crate::config::{glob_pattern, FilterKind, LogFileConfig, LongLinesMode};
use skywatch_aws::limits::MAX_LOG_EVENT_BYTES;

/// How long a file renamed away or deleted is still read after it went quiet (a writer may
/// finish its last lines into it before it reopens the new file).
pub const ROTATE_WAIT: Duration = Duration::from_secs(5);

/// How long an unterminated last line waits for its newline before it is sent as it is.
pub const UNTERMINATED_WAIT: Duration = Duration::from_secs(5);

/// What a source read in one round.
#[derive(Debug, Default)]
pub struct Round {
    /// Events to send, in file order per file.
    pub events: Vec<super::LogEvent>,
    pub bytes: u64,
    /// Happenings worth a log line.
    pub file_events: Vec<FileEvent>,
}

/// One `collect_list` entry.
#[derive(Debug)]
pub struct Source {
    tailer: Tailer,
    rules: EventRules,
    start: Regex,
    builders: HashMap<u64, EventBuilder>,
    /// Per file: the position and when it last moved, to time out an unterminated line.
    idle: HashMap<u64, (u64, Instant)>,
    /// Counts of builders already dropped (their files finished).
    finished_counts: EventCounts,
    pub group: String,
    /// The stream (the stream name of every file's own stream, with `publish_multi_logs`).
    pub stream: String,
    /// With `publish_multi_logs`: each file's own stream, by file number.
    file_streams: Option<HashMap<u64, String>>,
    /// Delete files a newer file has superseded, once everything read from them is delivered.
    auto_removal: bool,
    pub retention_in_days: Option<i32>,
    pub emf: bool,
}

/// Why a source could not be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceError(pub String);

impl std::fmt::Display for SourceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Source {
    /// `config` with its names already resolved to `group`/`stream`; files are numbered from
    /// `first_number` on; `saved` are this entry's checkpoints from the last run.
    /// `key` names the source's checkpoints (its glob; with the entry's number when an
    /// earlier entry has the same glob).
    pub fn new(
        config: &LogFileConfig,
        key: String,
        group: String,
        stream: String,
        first_number: u64,
        saved: Vec<Checkpoint>,
    ) -> Result<Source, SourceError> {
        let bad =
            |what: &str, e: &dyn std::fmt::Display| SourceError(format!("{}: {what}: {e}", config.file_path));
        let zone = if config.timezone_utc {
            Zone::Utc
        } else {
            Zone::Local
        };
        let timestamp = config
            .timestamp_format
            .as_deref()
            .map(|f| AgentTimestampFormat::new(f, zone))
            .transpose()
            .map_err(|e| bad("timestamp_format", &e))?;
        let start = match config.multi_line_start_pattern.as_deref() {
            Some("{timestamp_format}") => match &timestamp {
                Some(format) => format.regex().clone(),
                None => {
                    return Err(SourceError(format!(
                        "{}: {{timestamp_format}} needs a timestamp_format",
                        config.file_path
                    )))
                }
            },
            Some(pattern) => Regex::new(pattern).map_err(|e| bad("multi_line_start_pattern", &e))?,
            None => Regex::new(DEFAULT_START_PATTERN).map_err(|e| bad("multi_line_start_pattern", &e))?,
        };
        let mut filters = Vec::new();
        for (kind, expression) in &config.filters {
            let re = Regex::new(expression).map_err(|e| bad("filters", &e))?;
            filters.push(match kind {
                FilterKind::Include => Filter::Include(re),
                FilterKind::Exclude => Filter::Exclude(re),
            });
        }
        let skip_names = config
            .blacklist
            .as_deref()
            .map(Regex::new)
            .transpose()
            .map_err(|e| bad("blacklist", &e))?;
        let mut redactions = Vec::new();
        for name in &config.redact {
            redactions.push(
                builtin(name).ok_or_else(|| SourceError(format!("no built-in redaction rule {name:?}")))?,
            );
        }
        for (name, pattern) in &config.redact_patterns {
            redactions.push(Redaction::new(name, pattern).map_err(|e| bad("redact_patterns", &e))?);
        }
        let long_lines = match config.long_lines {
            LongLinesMode::Split => LongLines::Split,
            LongLinesMode::Truncate => LongLines::Truncate,
        };
        let mut tailer = Tailer::new(&glob_pattern(&config.file_path), MAX_LOG_EVENT_BYTES, saved)
            .keyed(key)
            .numbered_from(first_number)
            .rotate_wait(ROTATE_WAIT);
        if let Some(names) = skip_names {
            tailer = tailer.skipping(names);
        }
        if let Some(label) = &config.encoding {
            let encoding = encoding_rs::Encoding::for_label(label.as_bytes())
                .filter(|e| e.is_ascii_compatible())
                .ok_or_else(|| {
                    SourceError(format!(
                        "{}: encoding {label:?} is not supported",
                        config.file_path
                    ))
                })?;
            tailer = tailer.decoding(Some(encoding));
        }
        Ok(Source {
            tailer,
            rules: EventRules {
                timestamp,
                trim_timestamp: config.trim_timestamp,
                filters,
                redactions,
                long_lines,
            },
            start,
            builders: HashMap::new(),
            idle: HashMap::new(),
            finished_counts: EventCounts::default(),
            group,
            stream,
            file_streams: config.publish_multi_logs.then(HashMap::new),
            auto_removal: config.auto_removal,
            retention_in_days: config
                .retention_in_days
                .filter(|d| *d > 0)
                .and_then(|d| i32::try_from(d).ok()),
            emf: config.emf,
        })
    }

    /// The glob followed.
    /// Paths matched but not followed, by reason.
    pub fn problem_counts(&self) -> Vec<(&'static str, u64)> {
        self.tailer.problem_counts()
    }

    pub fn pattern(&self) -> &str {
        self.tailer.pattern()
    }

    fn builder(&mut self, file: u64) -> &mut EventBuilder {
        let rules = &self.rules;
        let start = &self.start;
        self.builders.entry(file).or_insert_with(|| {
            EventBuilder::new(
                file,
                rules.clone(),
                Multiline::new(start.clone(), DEFAULT_FLUSH_TIMEOUT, MAX_LOG_EVENT_BYTES),
            )
        })
    }

    /// Looks for new, renamed and rotated files.
    pub fn discover(&mut self, acks: &mut Acks, round: &mut Round) -> io::Result<()> {
        let before = round.file_events.len();
        self.tailer.discover(&mut round.file_events)?;
        self.opened(&round.file_events[before..], acks);
        Ok(())
    }

    /// Reads what the files have now (up to `budget` bytes per file), registering each event
    /// with `acks`; events that need no sending (filtered) are acknowledged at once.
    pub fn read(
        &mut self,
        budget: usize,
        acks: &mut Acks,
        now: Instant,
        now_ms: i64,
        round: &mut Round,
    ) -> io::Result<()> {
        let before = round.file_events.len();
        let files = self.tailer.read(budget, &mut round.file_events)?;
        self.opened(&round.file_events[before..], acks);
        for f in files {
            let builder = self.builder(f.file);
            let mut built = Vec::new();
            for line in f.lines {
                round.bytes += line.text.len() as u64 + 1;
                built.extend(builder.push(line, now, now_ms));
            }
            take(built, acks, &mut round.events);
        }
        // Events idle past the multi-line timeout, and unterminated lines given up on.
        let numbers: Vec<u64> = self.builders.keys().copied().collect();
        for file in numbers {
            let position = self.tailer.position(file);
            let moved = match (position, self.idle.get(&file)) {
                (Some(p), Some((last, _))) => p != *last,
                _ => true,
            };
            if moved {
                if let Some(p) = position {
                    self.idle.insert(file, (p, now));
                }
            } else if self
                .idle
                .get(&file)
                .is_some_and(|(_, since)| now.duration_since(*since) >= UNTERMINATED_WAIT)
            {
                if let Some(line) = self.tailer.take_unterminated(file) {
                    let built = self.builder(file).push(line, now, now_ms);
                    take(built, acks, &mut round.events);
                }
            }
            let finished = position.is_none();
            if let Some(builder) = self.builders.get_mut(&file) {
                let built = builder.flush(now, now_ms, finished);
                take(built, acks, &mut round.events);
            }
            if finished {
                if let Some(b) = self.builders.remove(&file) {
                    add_counts(&mut self.finished_counts, &b.counts);
                }
                self.idle.remove(&file);
            }
        }
        Ok(())
    }

    /// Sends every waiting event now (stopping): multi-line events are complete as they are.
    pub fn flush_all(&mut self, acks: &mut Acks, now: Instant, now_ms: i64) -> Vec<super::LogEvent> {
        let mut out = Vec::new();
        for builder in self.builders.values_mut() {
            let built = builder.flush(now, now_ms, true);
            take(built, acks, &mut out);
        }
        out
    }

    /// Checkpoints at the acknowledged offsets; finished files whose events are all
    /// acknowledged are released.
    pub fn checkpoints(&mut self, acks: &mut Acks, now_ms: i64) -> Vec<Checkpoint> {
        let released: Vec<u64> = self
            .tailer
            .retired()
            .filter(|file| acks.outstanding(*file) == 0)
            .collect();
        let out = self.tailer.checkpoints(|file| acks.checkpoint(file), now_ms);
        for file in released {
            self.tailer.release(file);
            acks.forget(file);
            if let Some(streams) = &mut self.file_streams {
                streams.remove(&file);
            }
        }
        out
    }

    /// Opened files start their acknowledgement account where reading starts (and, with
    /// `publish_multi_logs`, get their stream: `<stream>_<path with / and characters a name may
    /// not hold as _>`, as the CloudWatch agent names them).
    fn opened(&mut self, events: &[FileEvent], acks: &mut Acks) {
        for e in events {
            let (FileEvent::Opened { file, offset, path }
            | FileEvent::FoundRotated {
                file,
                offset,
                to: path,
                ..
            }) = e
            else {
                continue;
            };
            acks.start(*file, *offset);
            if let Some(streams) = &mut self.file_streams {
                let sanitized: String = path
                    .display()
                    .to_string()
                    .chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() || ".-_#".contains(c) {
                            c
                        } else {
                            '_'
                        }
                    })
                    .collect();
                streams.insert(*file, format!("{}_{sanitized}", self.stream));
            }
        }
    }

    /// The stream events of `file` go to.
    pub fn stream_of(&self, file: u64) -> &str {
        self.file_streams
            .as_ref()
            .and_then(|s| s.get(&file))
            .map_or(self.stream.as_str(), String::as_str)
    }

    /// With `auto_removal`: deletes files a newer file superseded once all read from them is
    /// acknowledged; returns the paths deleted.
    pub fn remove_superseded(&mut self, acks: &Acks) -> Vec<std::path::PathBuf> {
        if !self.auto_removal {
            return Vec::new();
        }
        let mut removed = Vec::new();
        for (file, path, position) in self.tailer.superseded() {
            let delivered = acks.outstanding(file) == 0 && acks.checkpoint(file) == Some(position);
            // (An event still waiting for its last line is not acknowledged, so the checkpoint
            // is short of the position while one waits.) The path must still name the file.
            if delivered && self.tailer.remove_file(file, position) {
                removed.push(path);
            }
        }
        removed
    }

    /// What the event rules did so far.
    pub fn counts(&self) -> EventCounts {
        let mut total = self.finished_counts;
        for b in self.builders.values() {
            add_counts(&mut total, &b.counts);
        }
        total
    }

    /// Lines with invalid UTF-8 so far (in files still followed).
    pub fn invalid_utf8_lines(&self) -> u64 {
        self.tailer.invalid_utf8_lines()
    }
}

fn add_counts(total: &mut EventCounts, more: &EventCounts) {
    total.events += more.events;
    total.filtered += more.filtered;
    total.without_timestamp += more.without_timestamp;
    total.redactions += more.redactions;
    total.cut += more.cut;
}

/// Registers built events; filtered ones are acknowledged at once, the rest go to `out`.
fn take(built: Vec<Built>, acks: &mut Acks, out: &mut Vec<super::LogEvent>) {
    for b in built {
        match b {
            Built::Send(event) => {
                acks.register(event.token);
                out.push(event);
            }
            Built::Skip(token) => {
                acks.register(token);
                acks.acknowledge(token);
            }
        }
    }
}

//! The reading side of log shipping, on a thread of its own: follows every collected file,
//! turns lines into events, gathers each stream's events into batches (sent when full or when
//! the oldest has waited `force_flush_interval`), queues them in the [`Outbox`], applies the
//! sender's acknowledgements and saves checkpoints. When the outbox is full it stops reading
//! (backpressure). On stop it reads no more, queues what it has, waits for the sender (up to
//! the stop timeout) and saves the final checkpoints.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use super::acks::Acks;
use super::batch::{batches, event_bytes, within_window, OutOfWindow};
use super::checkpoint::CheckpointStore;
use super::journal_cursors::CursorStore;
use super::journald::JournalSource;
use super::outbox::{Batch, Outbox};
use super::path_problem::is_windows_path;
use super::source::{Round, Source};
use super::tailer::{FileEvent, MAX_FAILURES};
use super::wake::{base_dir, Wake};
use super::window::WindowReport;
use super::{AckToken, LogEvent};
use crate::daemon::EmfQueue;
use crate::journal::{log, now_ms};
use crate::metrics::emf::looks_like_emf;
use crate::telemetry::{LogOutcome, Telemetry};
use skywatch_aws::limits::{MAX_LOG_BATCH_BYTES, MAX_LOG_EVENTS_PER_BATCH};

/// Bytes read from one file per round, so one busy file cannot starve the others.
const READ_BUDGET: usize = 4 << 20;
/// How often globs are matched again when nothing wakes the reader.
const DISCOVER_EVERY: Duration = Duration::from_secs(1);
/// The longest sleep between rounds (the polling fallback).
const IDLE_WAIT: Duration = Duration::from_millis(250);
/// How often checkpoints are saved while acknowledgements arrive (a crash re-sends at most
/// what was acknowledged since).
const SAVE_EVERY: Duration = Duration::from_millis(200);

/// One stream's events waiting to make a batch.
#[derive(Debug, Default)]
struct Pending {
    events: Vec<LogEvent>,
    bytes: usize,
    since: Option<Instant>,
}

/// What the reader shares with the sender.
pub struct Links {
    pub outbox: Arc<Mutex<Outbox>>,
    pub queued: Arc<Notify>,
    /// Set by the reader once its last batch is queued.
    pub closed: Arc<AtomicBool>,
    /// Set (by the caller) once the sender has finished.
    pub sender_done: Arc<AtomicBool>,
    /// Set while deliveries fail: batches may spill to the spool.
    pub stalled: Arc<AtomicBool>,
    pub acks: mpsc::Receiver<Vec<AckToken>>,
}

/// What the reader reads, and where it keeps its place.
pub struct Inputs {
    pub files: Vec<Source>,
    pub checkpoints: CheckpointStore,
    pub journals: Vec<JournalSource>,
    pub cursors: CursorStore,
}

/// The log reader.
pub struct Shipper {
    sources: Vec<Source>,
    checkpoints: CheckpointStore,
    journals: Vec<JournalSource>,
    cursors: CursorStore,
    force_flush: Duration,
    telemetry: Arc<Telemetry>,
    links: Links,
    wake: Wake,
    acks: Acks,
    pending: HashMap<(String, String), Pending>,
    /// Batches the outbox refused (full): reading waits until they are in.
    held: VecDeque<Batch>,
    /// Acknowledged since the last save.
    unsaved: bool,
    /// The first discovery is done (and its starting points saved).
    discovered: bool,
    /// EMF documents (time, message), for the metrics side (files with `emf` on).
    emf: Option<Arc<EmfQueue>>,
    /// The events go to CloudWatch Logs (see [`Settings::to_cloudwatch`]).
    to_cloudwatch: Arc<AtomicBool>,
    window_report: WindowReport,
    /// Events acknowledged since checkpoints were last saved (sent again after a crash).
    acked_since_save: u64,
}

/// How a reader's run ended, for `--once`'s exit status and the stop report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ShipperReport {
    /// Events read but not delivered (their files are read again from their checkpoints).
    pub undelivered: u64,
    /// Events left out for CloudWatch Logs' time window.
    pub outside_window: u64,
    /// The last checkpoint save failed: this many delivered events are sent again next time.
    pub resent_next_start: u64,
    /// The reader failed unexpectedly: what it read is read again at the next start, and the
    /// counts above are not known.
    pub failed: bool,
    /// journald entries whose journalctl could not be run or failed (`--once`).
    pub journals_failed: u64,
}

/// How the reader batches and what it hands on besides batches.
pub struct Settings {
    /// The longest a partial batch waits.
    pub force_flush: Duration,
    /// Where EMF documents go (files with `emf` on, when the output is not CloudWatch Logs).
    pub emf: Option<Arc<EmfQueue>>,
    /// Set while the events go to CloudWatch Logs: its time window applies (the local store
    /// keeps every event), and EMF lines are left to it (it extracts their metrics). Shared
    /// with the sender, which sets it when an `auto` output moves to CloudWatch.
    pub to_cloudwatch: Arc<AtomicBool>,
}

impl Shipper {
    pub fn new(
        inputs: Inputs,
        settings: Settings,
        telemetry: Arc<Telemetry>,
        links: Links,
        wake: Wake,
    ) -> Shipper {
        let Settings {
            force_flush,
            emf,
            to_cloudwatch,
        } = settings;
        let Inputs {
            files: sources,
            checkpoints,
            journals,
            cursors,
        } = inputs;
        Shipper {
            sources,
            checkpoints,
            journals,
            cursors,
            force_flush,
            telemetry,
            links,
            wake,
            acks: Acks::default(),
            pending: HashMap::new(),
            held: VecDeque::new(),
            unsaved: false,
            discovered: false,
            emf,
            to_cloudwatch,
            window_report: WindowReport::default(),
            acked_since_save: 0,
        }
    }

    /// Runs until `stop` is set (or, with `until_idle`, until a round finds nothing new) and
    /// everything is wound down; `stop_timeout` bounds the wait for the sender after the stop.
    pub fn run(mut self, stop: &AtomicBool, until_idle: bool, stop_timeout: Duration) -> ShipperReport {
        let mut next_discovery = Instant::now();
        let mut next_save = Instant::now() + SAVE_EVERY;
        // Reading or acknowledgements: with `until_idle`, a run without either for the stop
        // timeout ends (a backend that stays down).
        let mut last_progress = Instant::now();
        // The sender ends early only at the stop deadline: nothing more can be delivered.
        while !stop.load(Ordering::Acquire) && !self.links.sender_done.load(Ordering::Acquire) {
            let now = Instant::now();
            if self.apply_acks() {
                last_progress = now;
            }
            for source in &mut self.sources {
                for path in source.remove_superseded(&self.acks) {
                    log(format_args!(
                        "auto_removal: deleted {} (a newer file took over)",
                        path.display()
                    ));
                }
            }
            let mut round = Round::default();
            if now >= next_discovery {
                for source in &mut self.sources {
                    self.wake.watch(&base_dir(source.pattern()));
                    if let Err(e) = source.discover(&mut self.acks, &mut round) {
                        log(format_args!("{}: {e}", source.pattern()));
                    }
                }
                next_discovery = now + DISCOVER_EVERY;
                if !self.discovered {
                    // Where reading starts is itself worth keeping: a restart before the first
                    // acknowledgement must not take a first start's decisions again (the
                    // CloudWatch agent's "newest file only" on a first start).
                    self.discovered = true;
                    self.save();
                }
            }
            // Reading waits while the outbox refuses batches (backpressure).
            let read = self.offer_held();
            let busy = read && self.read_round(now, &mut round);
            Shipper::report(&round.file_events);
            self.count_paths_not_followed();
            self.cut_batches(now, false);
            if self.unsaved && now >= next_save {
                self.save();
                next_save = now + SAVE_EVERY;
            }
            if busy {
                last_progress = now;
            }
            // Idle: a read found nothing new (not merely skipped for backpressure).
            if until_idle && read && !busy && self.held.is_empty() {
                break;
            }
            if until_idle && now.duration_since(last_progress) >= stop_timeout {
                log("no progress: the backend takes nothing; stopping with what was delivered");
                break;
            }
            if !busy {
                // Woken by a change: look for new files at once too.
                if self.wake.wait(IDLE_WAIT) {
                    next_discovery = Instant::now();
                }
            }
        }
        self.wind_down(stop_timeout)
    }

    /// Reads every source once; true if anything was read.
    fn read_round(&mut self, now: Instant, round: &mut Round) -> bool {
        let now_ms = now_ms();
        for i in 0..self.sources.len() {
            let before = round.events.len();
            let source = &mut self.sources[i];
            if let Err(e) = source.read(READ_BUDGET, &mut self.acks, now, now_ms, round) {
                log(format_args!("{}: {e}", source.pattern()));
            }
            let events: Vec<LogEvent> = round.events.drain(before..).collect();
            self.take_events(i, events, now);
        }
        let mut journal_pending = false;
        for j in 0..self.journals.len() {
            let read = self.journals[j].read(READ_BUDGET, &mut self.acks, now, now_ms);
            round.bytes += read.bytes;
            journal_pending |= read.pending;
            for problem in read.problems {
                self.telemetry.journald_problem(problem.kind);
                if !problem.repeated {
                    log(format_args!("warning: {}", problem.message));
                }
            }
            self.unsaved |= read.acknowledged;
            self.take_journal_events(j, read.events, now);
        }
        self.telemetry.log_bytes_read.add(round.bytes);
        self.count_read();
        round.bytes > 0 || journal_pending
    }

    /// Events of journald entry `j`, to its stream.
    fn take_journal_events(&mut self, j: usize, mut events: Vec<LogEvent>, now: Instant) {
        if self.to_cloudwatch.load(Ordering::Acquire) {
            let name = format!("journald {}", self.journals[j].key());
            events = self.leave_out_of_window(&name, events);
        }
        let journal = &self.journals[j];
        let (group, stream) = (journal.group.clone(), journal.stream.clone());
        self.add(group, stream, events, now);
    }

    /// Paths matched but not followed (and globs matching nothing), by reason, into the gauge.
    fn count_paths_not_followed(&self) {
        let mut totals: Vec<(&'static str, u64)> = Vec::new();
        for (reason, n) in self.sources.iter().flat_map(Source::problem_counts) {
            match totals.iter_mut().find(|(r, _)| *r == reason) {
                Some((_, total)) => *total += n,
                None => totals.push((reason, n)),
            }
        }
        self.telemetry.set_paths_not_followed(&totals);
    }

    /// The sources' running totals into the counters.
    fn count_read(&self) {
        let mut counts = self.sources.iter().map(Source::counts).fold((0, 0, 0), |acc, c| {
            (acc.0 + c.events, acc.1 + c.filtered, acc.2 + c.without_timestamp)
        });
        for journal in &self.journals {
            let c = journal.counts();
            counts.0 += c.events;
            counts.1 += c.filtered;
        }
        self.telemetry.set_log_events(LogOutcome::Read, counts.0);
        self.telemetry.set_log_events(LogOutcome::Filtered, counts.1);
        self.telemetry
            .set_log_events(LogOutcome::WithoutTimestamp, counts.2);
        let invalid = self.sources.iter().map(Source::invalid_utf8_lines).sum();
        self.telemetry
            .set_log_events(LogOutcome::InvalidEncoding, invalid);
    }

    /// Events source `i` produced: EMF documents to the metrics side, all to their stream.
    fn take_events(&mut self, i: usize, mut events: Vec<LogEvent>, now: Instant) {
        let to_cloudwatch = self.to_cloudwatch.load(Ordering::Acquire);
        if self.sources[i].emf && !to_cloudwatch {
            self.forward_emf(&events);
        }
        if to_cloudwatch {
            let name = self.sources[i].pattern().to_string();
            events = self.leave_out_of_window(&name, events);
        }
        let source = &self.sources[i];
        let group = source.group.clone();
        // Usually one stream; with publish_multi_logs one per file.
        let mut by_stream: Vec<(String, Vec<LogEvent>)> = Vec::new();
        for event in events {
            let stream = source.stream_of(event.token.file);
            match by_stream.iter_mut().find(|(s, _)| s == stream) {
                Some((_, list)) => list.push(event),
                None => by_stream.push((stream.to_string(), vec![event])),
            }
        }
        for (stream, events) in by_stream {
            self.add(group.clone(), stream, events, now);
        }
    }

    /// Events of source `name` CloudWatch Logs would take; the rest are counted, named in the
    /// log and acknowledged (so the checkpoint moves past them).
    fn leave_out_of_window(&mut self, name: &str, events: Vec<LogEvent>) -> Vec<LogEvent> {
        let now_ms = now_ms();
        let (ok, outside) = within_window(events, now_ms);
        for (event, why) in outside {
            let reason = match why {
                OutOfWindow::TooOld => LogOutcome::OutsideWindowOld,
                OutOfWindow::TooNew => LogOutcome::OutsideWindowNew,
            };
            self.telemetry.log_events(reason, 1);
            if let Some(warning) = self.window_report.note(name, event.timestamp_ms, now_ms, why) {
                log(format_args!("warning: {warning}"));
            }
            self.acks.acknowledge(event.token);
            self.unsaved = true;
        }
        ok
    }

    /// Hands EMF documents to the metrics side, waiting while its queue is full (reading waits
    /// with it). Only a queue closed at shutdown refuses them; those are counted.
    fn forward_emf(&self, events: &[LogEvent]) {
        let Some(queue) = &self.emf else { return };
        let lines: Vec<(i64, String)> = events
            .iter()
            .filter(|e| looks_like_emf(&e.message))
            .map(|e| (e.timestamp_ms, e.message.clone()))
            .collect();
        if !lines.is_empty() {
            if let Err(lines) = queue.push_waiting(lines) {
                self.telemetry
                    .log_events(LogOutcome::EmfNotConverted, lines.len() as u64);
            }
            self.telemetry.emf_queued.set(queue.len() as u64);
        }
    }

    fn add(&mut self, group: String, stream: String, events: Vec<LogEvent>, now: Instant) {
        if events.is_empty() {
            return;
        }
        let pending = self.pending.entry((group, stream)).or_default();
        pending.since.get_or_insert(now);
        pending.bytes += events.iter().map(event_bytes).sum::<usize>();
        pending.events.extend(events);
    }

    /// Queues the batches that are due: full ones, ones waited on long enough, or all (`all`).
    fn cut_batches(&mut self, now: Instant, all: bool) {
        let mut ready = Vec::new();
        for ((group, stream), pending) in &mut self.pending {
            if pending.events.is_empty() {
                continue;
            }
            let full =
                pending.bytes >= MAX_LOG_BATCH_BYTES || pending.events.len() >= MAX_LOG_EVENTS_PER_BATCH;
            let waited = pending
                .since
                .is_some_and(|s| now.duration_since(s) >= self.force_flush);
            if !(all || full || waited) {
                continue;
            }
            let events = std::mem::take(&mut pending.events);
            pending.bytes = 0;
            pending.since = None;
            let mut cut = batches(events);
            // Only full batches go early; the rest keeps waiting for more events.
            if !(all || waited) {
                if let Some(last) = cut.pop() {
                    pending.bytes = last.iter().map(event_bytes).sum();
                    pending.since = Some(now);
                    pending.events = last;
                }
            }
            for events in cut {
                ready.push(Batch {
                    group: group.clone(),
                    stream: stream.clone(),
                    events,
                });
            }
        }
        // Streams with nothing waiting are forgotten (file names come and go).
        self.pending.retain(|_, p| !p.events.is_empty());
        self.held.extend(ready);
        self.offer_held();
    }

    /// Moves held batches into the outbox; true when none is left held.
    fn offer_held(&mut self) -> bool {
        if self.held.is_empty() {
            return true;
        }
        let Ok(mut outbox) = self.links.outbox.lock() else {
            return false;
        };
        let spill = self.links.stalled.load(Ordering::Acquire);
        while let Some(batch) = self.held.pop_front() {
            match outbox.push(batch, spill) {
                Ok(()) => self.links.queued.notify_one(),
                Err((batch, error)) => {
                    if let Some(e) = error {
                        log(format_args!("the spool cannot be written ({e}): reading waits"));
                    }
                    self.held.push_front(batch);
                    break;
                }
            }
        }
        self.telemetry.log_batches_queued.set(outbox.len() as u64);
        self.telemetry.log_spool_bytes.set(outbox.spooled_bytes());
        self.held.is_empty()
    }

    /// Applies the acknowledgements that arrived; true if there were any.
    fn apply_acks(&mut self) -> bool {
        let mut any = false;
        while let Ok(tokens) = self.links.acks.try_recv() {
            self.acknowledge(tokens);
            any = true;
        }
        any
    }

    /// Waits up to `timeout` for acknowledgements, then applies all that arrived.
    fn wait_for_acks(&mut self, timeout: Duration) {
        if let Ok(tokens) = self.links.acks.recv_timeout(timeout) {
            self.acknowledge(tokens);
        }
        self.apply_acks();
    }

    fn acknowledge(&mut self, tokens: Vec<AckToken>) {
        self.acked_since_save += tokens.len() as u64;
        for token in tokens {
            self.acks.acknowledge(token);
        }
        self.unsaved = true;
    }

    fn save(&mut self) {
        let now_ms = now_ms();
        let mut all = Vec::new();
        for source in &mut self.sources {
            all.extend(source.checkpoints(&mut self.acks, now_ms));
        }
        let cursors: Vec<_> = self
            .journals
            .iter_mut()
            .map(|j| j.checkpoint(&self.acks, now_ms))
            .collect();
        let saved = self.checkpoints.save(&all).and_then(|()| {
            if cursors.is_empty() {
                Ok(())
            } else {
                self.cursors.save(&cursors)
            }
        });
        match saved {
            Ok(()) => {
                self.unsaved = false;
                self.acked_since_save = 0;
            }
            Err(e) => log(format_args!(
                "cannot save checkpoints: {e}; {} event(s) delivered since the last save would be sent again after a restart",
                self.acked_since_save
            )),
        }
    }

    fn report(events: &[FileEvent]) {
        for e in events {
            match e {
                FileEvent::Opened { path, offset, .. } => {
                    log(format_args!("following {} from byte {offset}", path.display()));
                }
                FileEvent::Truncated { path } => {
                    log(format_args!(
                        "{} was truncated: reading it from the start",
                        path.display()
                    ));
                }
                FileEvent::Finished { path } => {
                    log(format_args!(
                        "{} read to its end (rotated or deleted)",
                        path.display()
                    ));
                }
                FileEvent::FoundRotated { from, to, offset, .. } => log(format_args!(
                    "{} was rotated to {} while stopped: reading the rest from byte {offset}",
                    from.display(),
                    to.display()
                )),
                FileEvent::Unreadable { path, error } => {
                    log(format_args!("cannot read {}: {error} (trying again)", path.display()));
                }
                FileEvent::GaveUp { path } => log(format_args!(
                    "{}: unreadable for {MAX_FAILURES} rounds in a row, no longer followed (its checkpoint is kept)",
                    path.display()
                )),
                FileEvent::CannotFollow { path, problem } => {
                    log(format_args!("warning: {} {}", path.display(), problem.describe()));
                }
                FileEvent::NoMatch { pattern } if is_windows_path(pattern) => log(format_args!(
                    "warning: {pattern} is a Windows path: this agent runs on Linux and follows nothing here"
                )),
                FileEvent::NoMatch { pattern } => log(format_args!(
                    "warning: {pattern} matches no file yet (looked for again every second)"
                )),
            }
        }
    }

    /// Stopping: queue everything read, let the sender deliver until the timeout, save, report.
    fn wind_down(mut self, stop_timeout: Duration) -> ShipperReport {
        let now = Instant::now();
        let now_ms = now_ms();
        for i in 0..self.sources.len() {
            let events = self.sources[i].flush_all(&mut self.acks, now, now_ms);
            self.take_events(i, events, now);
        }
        // The events held for multi-line assembly count as read now.
        self.count_read();
        self.cut_batches(now, true);
        let deadline = now + stop_timeout;
        // Held batches go in as the sender makes room.
        while !self.held.is_empty() && Instant::now() < deadline {
            self.wait_for_acks(Duration::from_millis(20));
            self.offer_held();
        }
        self.links.closed.store(true, Ordering::Release);
        self.links.queued.notify_one();
        while !self.links.sender_done.load(Ordering::Acquire)
            && Instant::now() < deadline + Duration::from_secs(1)
        {
            self.wait_for_acks(Duration::from_millis(50));
        }
        let _ = self.apply_acks();
        self.save();
        for line in self.window_report.summary() {
            log(format_args!("warning: {line}"));
        }
        let undelivered = self.acks.unacknowledged_total() as u64;
        if undelivered > 0 {
            log(format_args!(
                "{undelivered} event(s) read were not delivered: they are read again from the checkpoints at the next start"
            ));
        }
        ShipperReport {
            undelivered,
            outside_window: self.window_report.total(),
            resent_next_start: if self.unsaved { self.acked_since_save } else { 0 },
            failed: false,
            journals_failed: self.journals.iter().filter(|j| j.failed()).count() as u64,
        }
    }
}

//! The local trace store: every document received, kept so the read API, the service map and
//! the web page work with no AWS at all, and so traces survive a restart.
//!
//! Design decision: documents are kept as their compact JSON bytes, grouped by trace, in
//! generations of about [`GENERATION_BYTES`]; each generation is one append-only file
//! (`traces-<n>.jsonl`, a line per document: the receive time, a space, the document) in the
//! store directory. Retention drops whole generations — the oldest first, when the store
//! outgrows its byte budget or when a generation's newest document is older than the age
//! limit — so pruning never rewrites a file. Reads copy the matching documents' bytes out
//! under the lock and parse them after releasing it, so a slow query never holds up ingest.
//! With no directory, the same generations live in memory only.
//!
//! A document re-sent with the same id replaces the earlier one, unless the earlier one was
//! complete and the new one is in progress (SDKs send `in_progress` first; UDP may reorder).

use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::quick_check::Facts;
use crate::segment::{self, Document};

/// By default a generation closes past this many bytes and a new one (file) starts.
pub const GENERATION_BYTES: u64 = 8 << 20;

/// What to keep and where.
#[derive(Debug, Clone)]
pub struct StoreSettings {
    /// Where the generation files go; `None`: in memory only.
    pub dir: Option<PathBuf>,
    /// The most bytes of documents kept (0: keep nothing, only forward).
    pub max_bytes: u64,
    /// Documents older than this are dropped (a generation at a time).
    pub max_age: Duration,
    /// A generation's size ([`GENERATION_BYTES`] unless testing).
    pub generation_bytes: u64,
}

#[cfg(test)]
impl StoreSettings {
    /// An in-memory store for tests: 1 GiB, small generations, documents kept for `max_age`.
    pub(crate) fn in_memory(max_age: Duration) -> StoreSettings {
        StoreSettings {
            dir: None,
            max_bytes: 1 << 30,
            max_age,
            generation_bytes: 1 << 20,
        }
    }
}

/// Which time places a trace in a window (GetTraceSummaries' `TimeRangeType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeRange {
    /// The epoch seconds in the trace id (X-Ray's default).
    TraceId,
    /// When a document of the trace last arrived.
    Event,
    /// When its segments ran.
    Service,
}

/// One trace's documents, parsed, as a read returns them.
#[derive(Debug, Clone)]
pub struct StoredTrace {
    pub id: String,
    pub documents: Vec<Document>,
}

/// What [`Store::open`] found in the directory.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Loaded {
    pub documents: u64,
    /// Lines that were not a document (a torn last write, a hand edit), skipped.
    pub unreadable_lines: u64,
}

/// Why documents left the store.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Evicted {
    pub by_age: u64,
    pub by_size: u64,
}

/// One document (its id is its key in the trace's map).
struct Stored {
    start: f64,
    end: Option<f64>,
    received: f64,
    generation: u64,
    bytes: Arc<[u8]>,
}

#[derive(Default)]
struct TraceEntry {
    /// By document id.
    docs: HashMap<String, Stored>,
    start: f64,
    end: f64,
    last_received: f64,
}

struct Generation {
    number: u64,
    /// Bytes written to it (documents later replaced included: they are on disk).
    bytes: u64,
    newest_received: f64,
    /// When its first document came (epoch seconds); 0 while empty.
    opened: f64,
    /// The traces with documents in it: what dropping it visits (not the whole store).
    traces: std::collections::HashSet<String>,
}

struct Inner {
    traces: HashMap<String, TraceEntry>,
    generations: VecDeque<Generation>,
    /// Bytes of the generations kept: what the size limit bounds.
    bytes: u64,
    documents: u64,
    writer: Option<BufWriter<File>>,
    evicted: Evicted,
}

/// The store; cheap to share behind an `Arc`.
pub struct Store {
    settings: StoreSettings,
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

fn generation_path(dir: &Path, number: u64) -> PathBuf {
    dir.join(format!("traces-{number:010}.jsonl"))
}

impl Store {
    /// Opens the store, reading back what an earlier run kept (pruned to the limits as of
    /// `now`, epoch seconds), and starts a new generation.
    pub fn open(settings: StoreSettings, now: f64) -> std::io::Result<(Store, Loaded)> {
        let store = Store {
            settings,
            inner: Mutex::new(Inner {
                traces: HashMap::new(),
                generations: VecDeque::new(),
                bytes: 0,
                documents: 0,
                writer: None,
                evicted: Evicted::default(),
            }),
        };
        let mut loaded = Loaded::default();
        let mut next = 0;
        let mut inner = store.lock();
        if let Some(dir) = store.settings.dir.clone() {
            skywatch_store::durable::create_private_dir_all(&dir)?;
            let mut numbers: Vec<u64> = std::fs::read_dir(&dir)?
                .filter_map(Result::ok)
                .filter_map(|e| {
                    let name = e.file_name().into_string().ok()?;
                    name.strip_prefix("traces-")?.strip_suffix(".jsonl")?.parse().ok()
                })
                .collect();
            numbers.sort_unstable();
            for number in numbers {
                inner.generations.push_back(Generation {
                    number,
                    bytes: 0,
                    newest_received: 0.0,
                    opened: 0.0,
                    traces: std::collections::HashSet::new(),
                });
                let file = File::open(generation_path(&dir, number))?;
                for line in BufReader::new(file).split(b'\n') {
                    let line = line?;
                    let Some((received, doc)) = split_line(&line) else {
                        loaded.unreadable_lines += u64::from(!line.is_empty());
                        continue;
                    };
                    match segment::parse(doc) {
                        Ok(docs) if docs.len() == 1 => {
                            inner.account(number, line.len() as u64 + 1, received);
                            if inner.admits(&Facts::from(&docs[0])) {
                                inner.insert(Facts::from(&docs[0]), Arc::from(doc), received, number);
                            }
                            loaded.documents += 1;
                        }
                        _ => loaded.unreadable_lines += 1,
                    }
                }
                next = number + 1;
            }
        }
        store.start_generation(&mut inner, next)?;
        store.prune_locked(&mut inner, now);
        drop(inner);
        Ok((store, loaded))
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves plain data behind; keep serving it.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether the store keeps anything (a forward-only collector keeps nothing).
    pub fn keeps(&self) -> bool {
        self.settings.max_bytes > 0
    }

    /// A generation's size: the setting, but at most a quarter of the budget (so a small
    /// store still prunes in steps), and at least 64 KiB.
    fn generation_bytes(&self) -> u64 {
        self.settings
            .generation_bytes
            .min(self.settings.max_bytes / 4)
            .max(64 << 10)
    }

    /// Closes the current generation's file and starts generation `number`. The generation
    /// is recorded even when its file cannot be opened; writing then tries again.
    fn start_generation(&self, inner: &mut Inner, number: u64) -> std::io::Result<()> {
        let flushed = match inner.writer.take() {
            Some(mut w) => w.flush(),
            None => Ok(()),
        };
        inner.generations.push_back(Generation {
            number,
            bytes: 0,
            newest_received: 0.0,
            opened: 0.0,
            traces: std::collections::HashSet::new(),
        });
        flushed.and_then(|()| self.reopen(inner))
    }

    /// Opens the current generation's file for appending when there is a directory and no
    /// open file.
    fn reopen(&self, inner: &mut Inner) -> std::io::Result<()> {
        let (Some(dir), None, Some(current)) = (&self.settings.dir, &inner.writer, inner.generations.back())
        else {
            return Ok(());
        };
        let file = skywatch_store::durable::open_private_append(&generation_path(dir, current.number))?;
        inner.writer = Some(BufWriter::with_capacity(64 << 10, file));
        Ok(())
    }

    /// Keeps `docs` (each with its compact JSON), received at `received` (epoch seconds).
    /// Returns an error when the store directory cannot be written; the documents are then
    /// still kept in memory.
    pub fn insert(&self, docs: Vec<(Facts, Arc<[u8]>)>, received: f64) -> std::io::Result<()> {
        if !self.keeps() {
            return Ok(());
        }
        let mut inner = self.lock();
        let mut result = self.reopen(&mut inner);
        let generation = inner.generations.back().map_or(0, |g| g.number);
        let prefix = format!("{received:.6} ");
        let mut line = Vec::new();
        for (doc, bytes) in docs {
            // A complete document is not replaced by an in-progress copy that came late:
            // neither kept nor written.
            if !inner.admits(&doc) {
                continue;
            }
            if let Some(w) = inner.writer.as_mut() {
                // One write per line: a failure cannot leave half a line for the next to join.
                line.clear();
                line.extend_from_slice(prefix.as_bytes());
                line.extend_from_slice(&bytes);
                line.push(b'\n');
                if let Err(e) = w.write_all(&line) {
                    result = Err(e);
                }
            }
            let line = (prefix.len() + bytes.len() + 1) as u64;
            inner.account(generation, line, received);
            inner.insert(doc, bytes, received, generation);
        }
        result.and(self.roll_and_prune(&mut inner, received))
    }

    /// Starts a new generation when the current one is full or has been open an eighth of the
    /// age limit (so age pruning has something to drop even under a trickle), then prunes.
    fn roll_and_prune(&self, inner: &mut Inner, now: f64) -> std::io::Result<()> {
        let roll_after = self.settings.max_age.as_secs_f64() / 8.0;
        let roll = inner.generations.back().map(|g| {
            let full = g.bytes >= self.generation_bytes();
            let old = g.bytes > 0 && now - g.opened > roll_after;
            (full || old, g.number)
        });
        let mut result = Ok(());
        if let Some((true, number)) = roll {
            result = self.start_generation(inner, number + 1);
        }
        self.prune_locked(inner, now);
        result
    }

    /// Hands what was written to the OS (called when ingest has drained its queue, and by
    /// the collector's housekeeping).
    pub fn flush(&self) -> std::io::Result<()> {
        match self.lock().writer.as_mut() {
            Some(w) => w.flush(),
            None => Ok(()),
        }
    }

    /// Applies the limits as of `now`: rolls an old current generation, drops the oldest
    /// generations while the store is over its byte budget or they are older than the age
    /// limit.
    pub fn prune(&self, now: f64) -> std::io::Result<()> {
        let mut inner = self.lock();
        self.roll_and_prune(&mut inner, now)
    }

    /// Drops the oldest generations while over budget or too old (never the one being
    /// written).
    fn prune_locked(&self, inner: &mut Inner, now: f64) {
        let max_age = self.settings.max_age.as_secs_f64();
        while inner.generations.len() >= 2 {
            let Some(oldest) = inner.generations.front() else {
                break;
            };
            let by_size = inner.bytes > self.settings.max_bytes;
            let by_age = oldest.newest_received < now - max_age;
            if !by_size && !by_age {
                break;
            }
            let Some(oldest) = inner.generations.pop_front() else {
                break;
            };
            let number = oldest.number;
            inner.bytes = inner.bytes.saturating_sub(oldest.bytes);
            let dropped = inner.drop_generation(&oldest);
            if by_size {
                inner.evicted.by_size += dropped;
            } else {
                inner.evicted.by_age += dropped;
            }
            if let Some(dir) = &self.settings.dir {
                // Already gone is fine; anything else leaves a file the next start reads back
                // and prunes again.
                let _ = std::fs::remove_file(generation_path(dir, number));
            }
        }
    }

    /// Traces with a document in `[start, end]` by `range`, newest first.
    pub fn traces_between(&self, start: f64, end: f64, range: TimeRange) -> Vec<StoredTrace> {
        // (trace id, its documents, its start)
        type Picked = (String, Vec<Arc<[u8]>>, f64);
        let picked: Vec<Picked> = {
            let inner = self.lock();
            inner
                .traces
                .iter()
                .filter_map(|(id, t)| {
                    let (from, to) = match range {
                        TimeRange::TraceId => {
                            let t = trace_id_time(id)?;
                            (t, t)
                        }
                        TimeRange::Event => (t.last_received, t.last_received),
                        TimeRange::Service => (t.start, t.end),
                    };
                    (to >= start && from <= end).then(|| {
                        (
                            id.clone(),
                            t.docs.values().map(|d| Arc::clone(&d.bytes)).collect(),
                            t.start,
                        )
                    })
                })
                .collect()
        };
        let mut traces: Vec<(f64, StoredTrace)> = picked
            .into_iter()
            .map(|(id, bytes, start)| (start, parsed(id, &bytes)))
            .collect();
        traces.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.id.cmp(&b.1.id)));
        traces.into_iter().map(|(_, t)| t).collect()
    }

    /// One trace, if the store has it.
    pub fn trace(&self, id: &str) -> Option<StoredTrace> {
        let bytes: Vec<Arc<[u8]>> = {
            let inner = self.lock();
            inner
                .traces
                .get(id)?
                .docs
                .values()
                .map(|d| Arc::clone(&d.bytes))
                .collect()
        };
        Some(parsed(id.to_string(), &bytes))
    }

    /// Documents and bytes kept, and traces.
    pub fn size(&self) -> (u64, u64, u64) {
        let inner = self.lock();
        (inner.documents, inner.bytes, inner.traces.len() as u64)
    }

    pub fn evicted(&self) -> Evicted {
        self.lock().evicted
    }
}

impl Inner {
    /// Whether `doc` is taken: a complete document is not replaced by an in-progress copy.
    fn admits(&self, doc: &Facts) -> bool {
        let old = self.traces.get(&doc.trace_id).and_then(|t| t.docs.get(&doc.id));
        !matches!(old, Some(old) if old.end.is_some() && doc.end_time.is_none())
    }

    /// Counts `bytes` written to generation `number` at `received`.
    fn account(&mut self, number: u64, bytes: u64, received: f64) {
        if let Some(g) = self.generations.iter_mut().rev().find(|g| g.number == number) {
            if g.bytes == 0 {
                g.opened = received;
            }
            g.bytes += bytes;
            g.newest_received = g.newest_received.max(received);
            self.bytes += bytes;
        }
    }

    fn insert(&mut self, doc: Facts, bytes: Arc<[u8]>, received: f64, generation: u64) {
        let Facts {
            id,
            trace_id,
            start_time,
            end_time,
        } = doc;
        if let Some(g) = self.generations.iter_mut().rev().find(|g| g.number == generation) {
            if !g.traces.contains(&trace_id) {
                g.traces.insert(trace_id.clone());
            }
        }
        // Most documents join a trace already here: look up before allocating a key.
        if !self.traces.contains_key(&trace_id) {
            self.traces.insert(
                trace_id.clone(),
                TraceEntry {
                    start: f64::INFINITY,
                    end: f64::NEG_INFINITY,
                    ..TraceEntry::default()
                },
            );
        }
        let Some(entry) = self.traces.get_mut(&trace_id) else {
            return;
        };
        entry.start = entry.start.min(start_time);
        entry.end = entry.end.max(end_time.unwrap_or(start_time));
        entry.last_received = entry.last_received.max(received);
        let stored = Stored {
            start: start_time,
            end: end_time,
            received,
            generation,
            bytes,
        };
        if entry.docs.insert(id, stored).is_none() {
            self.documents += 1;
        }
    }

    /// Removes `generation`'s documents (it is already out of the list); returns how many.
    fn drop_generation(&mut self, generation: &Generation) -> u64 {
        let number = generation.number;
        let mut dropped = 0;
        for id in &generation.traces {
            let Some(trace) = self.traces.get_mut(id) else {
                continue;
            };
            trace.docs.retain(|_, d| {
                let keep = d.generation != number;
                dropped += u64::from(!keep);
                keep
            });
            if trace.docs.is_empty() {
                self.traces.remove(id);
                continue;
            }
            trace.start = trace.docs.values().map(|d| d.start).fold(f64::INFINITY, f64::min);
            trace.end = trace
                .docs
                .values()
                .map(|d| d.end.unwrap_or(d.start))
                .fold(f64::NEG_INFINITY, f64::max);
            trace.last_received = trace.docs.values().map(|d| d.received).fold(0.0, f64::max);
        }
        self.documents = self.documents.saturating_sub(dropped);
        dropped
    }
}

fn parsed(id: String, bytes: &[Arc<[u8]>]) -> StoredTrace {
    let documents = bytes
        .iter()
        .filter_map(|b| segment::parse(b).ok())
        .flatten()
        .collect();
    StoredTrace { id, documents }
}

/// `<received> <document>` → both.
fn split_line(line: &[u8]) -> Option<(f64, &[u8])> {
    let space = line.iter().position(|b| *b == b' ')?;
    let received = std::str::from_utf8(&line[..space]).ok()?.parse().ok()?;
    Some((received, &line[space + 1..]))
}

/// The epoch seconds in a trace id (`1-5759e988-…`).
pub fn trace_id_time(id: &str) -> Option<f64> {
    let hex = id.get(2..10)?;
    u32::from_str_radix(hex, 16).ok().map(f64::from)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::{Store, StoreSettings, TimeRange};
    use crate::segment::parse;

    fn doc(trace: u32, id: u32, start: f64, end: Option<f64>) -> (crate::quick_check::Facts, Arc<[u8]>) {
        let end = end.map_or(r#""in_progress":true"#.to_string(), |e| {
            format!(r#""end_time":{e}"#)
        });
        let json = format!(
            r#"{{"id":"{id:016x}","trace_id":"1-{trace:08x}-000000000000000000000001","name":"svc","start_time":{start},{end}}}"#
        );
        let parsed = parse(json.as_bytes()).unwrap().remove(0);
        ((&parsed).into(), Arc::from(json.into_bytes()))
    }

    fn settings(dir: Option<&std::path::Path>, max_bytes: u64) -> StoreSettings {
        StoreSettings {
            dir: dir.map(std::path::Path::to_path_buf),
            max_bytes,
            max_age: Duration::from_secs(3600),
            generation_bytes: 64 << 10,
        }
    }

    #[test]
    fn traces_come_back_after_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = Store::open(settings(Some(dir.path()), 1 << 30), 1000.0).unwrap();
        store
            .insert(
                vec![doc(1000, 1, 1000.0, Some(1001.0)), doc(1000, 2, 1000.5, None)],
                1000.0,
            )
            .unwrap();
        store
            .insert(vec![doc(1000, 2, 1000.5, Some(1000.9))], 1001.0)
            .unwrap();
        store.flush().unwrap();
        drop(store);
        let (store, loaded) = Store::open(settings(Some(dir.path()), 1 << 30), 1002.0).unwrap();
        assert_eq!(loaded.documents, 3);
        let trace = store.trace("1-000003e8-000000000000000000000001").unwrap();
        assert_eq!(trace.documents.len(), 2);
        assert!(trace.documents.iter().all(|d| d.end_time.is_some()));
    }

    #[test]
    fn a_late_in_progress_copy_does_not_replace_the_complete_document() {
        let (store, _) = Store::open(settings(None, 1 << 30), 0.0).unwrap();
        store.insert(vec![doc(5, 1, 5.0, Some(6.0))], 7.0).unwrap();
        store.insert(vec![doc(5, 1, 5.0, None)], 8.0).unwrap();
        let trace = store.trace("1-00000005-000000000000000000000001").unwrap();
        assert_eq!(trace.documents[0].end_time, Some(6.0));
        assert_eq!(store.size().0, 1);
    }

    #[test]
    fn the_oldest_generations_go_when_the_store_is_over_its_budget() {
        let dir = tempfile::tempdir().unwrap();
        // Room for about two generations: filling four drops the first ones.
        let generation = 64 << 10;
        let (store, _) = Store::open(settings(Some(dir.path()), 2 * generation), 0.0).unwrap();
        let mut id = 0;
        for trace in 0..4u32 {
            let mut written = 0;
            while written < generation {
                id += 1;
                let d = doc(trace, id, 1.0, Some(2.0));
                written += d.1.len() as u64;
                store.insert(vec![d], 10.0).unwrap();
            }
        }
        let (_, bytes, _) = store.size();
        assert!(bytes <= 2 * generation, "{bytes}");
        assert!(store.evicted().by_size > 0);
        assert!(store.trace("1-00000000-000000000000000000000001").is_none());
        assert!(store.trace("1-00000003-000000000000000000000001").is_some());
        let files = std::fs::read_dir(dir.path()).unwrap().count();
        assert!(files <= 3, "{files} files");
    }

    #[test]
    fn old_generations_go_by_age_and_windows_pick_by_the_chosen_time() {
        let (store, _) = Store::open(settings(None, 1 << 30), 0.0).unwrap();
        store
            .insert(vec![doc(100, 1, 100.0, Some(101.0))], 100.0)
            .unwrap();
        assert_eq!(store.traces_between(99.0, 100.5, TimeRange::TraceId).len(), 1);
        assert_eq!(store.traces_between(100.5, 200.0, TimeRange::Service).len(), 1);
        assert_eq!(store.traces_between(101.5, 200.0, TimeRange::Service).len(), 0);
        // With no more traffic, the generation rolls once it has been open an eighth of the
        // age limit, and goes when its newest document is older than the limit.
        store.prune(400.0).unwrap();
        assert!(store.trace("1-00000064-000000000000000000000001").is_some());
        store.prune(5000.0).unwrap();
        assert!(store.trace("1-00000064-000000000000000000000001").is_none());
        assert_eq!(store.evicted().by_age, 1);
        store
            .insert(vec![doc(5000, 2, 5000.0, Some(5001.0))], 5000.0)
            .unwrap();
        assert_eq!(store.size().0, 1);
    }

    #[test]
    fn a_late_in_progress_copy_is_not_written_and_replaced_copies_count_against_the_budget() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = Store::open(settings(Some(dir.path()), 1 << 30), 0.0).unwrap();
        store.insert(vec![doc(5, 1, 5.0, None)], 6.0).unwrap();
        store.insert(vec![doc(5, 1, 5.0, Some(6.0))], 7.0).unwrap();
        store.insert(vec![doc(5, 1, 5.0, None)], 8.0).unwrap();
        store.flush().unwrap();
        let lines = std::fs::read_to_string(super::generation_path(dir.path(), 0)).unwrap();
        assert_eq!(lines.lines().count(), 2, "{lines}");
        // Both copies on disk count; one document is kept.
        let (documents, bytes, _) = store.size();
        assert_eq!(documents, 1);
        assert_eq!(bytes, lines.len() as u64);
    }

    #[test]
    fn rotation_from_many_threads_keeps_one_generation_per_number() {
        let dir = tempfile::tempdir().unwrap();
        let store = std::sync::Arc::new(Store::open(settings(Some(dir.path()), 1 << 30), 0.0).unwrap().0);
        let threads: Vec<_> = (0..4u32)
            .map(|t| {
                let store = std::sync::Arc::clone(&store);
                std::thread::spawn(move || {
                    for i in 0..2_000u32 {
                        store
                            .insert(vec![doc(t, t * 10_000 + i + 1, 1.0, Some(2.0))], 3.0)
                            .unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        store.flush().unwrap();
        let inner = store.lock();
        let numbers: Vec<u64> = inner.generations.iter().map(|g| g.number).collect();
        let mut unique = numbers.clone();
        unique.dedup();
        assert_eq!(numbers, unique);
        assert_eq!(inner.documents, 8_000);
        drop(inner);
        // Every line on disk reads back.
        drop(store);
        let (_, loaded) = Store::open(settings(Some(dir.path()), 1 << 30), 4.0).unwrap();
        assert_eq!((loaded.documents, loaded.unreadable_lines), (8_000, 0));
    }

    #[test]
    fn a_torn_last_line_is_counted_and_the_rest_read() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = Store::open(settings(Some(dir.path()), 1 << 30), 0.0).unwrap();
        store.insert(vec![doc(1, 1, 1.0, Some(2.0))], 2.0).unwrap();
        store.flush().unwrap();
        drop(store);
        let path = super::generation_path(dir.path(), 0);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes.extend_from_slice(b"3.0 {\"id\":\"00");
        std::fs::write(&path, bytes).unwrap();
        let (_, loaded) = Store::open(settings(Some(dir.path()), 1 << 30), 3.0).unwrap();
        assert_eq!(loaded.documents, 1);
        assert_eq!(loaded.unreadable_lines, 1);
    }
}

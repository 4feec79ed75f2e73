//! Pieces of input and the workers that read them.

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::time::UNIX_EPOCH;

use chrono::Datelike;

use crate::exec::direct_stats::{Direct, DirectStats};
use crate::exec::extract::{Extractor, SourceContext};
use crate::exec::pipeline::{Partial, Pipeline, Row};
use crate::exec::prefilter::Prefilter;
use crate::exec::{ExecError, RunOptions, Statistics};
use crate::functions::FnContext;
use crate::input::{self, Chunk, InputError, Line, LineReader, NextLine, SliceLines, Source, SourceKind};
use crate::plan::Plan;
use crate::value::Value;

/// A file is split into pieces of at least this size.
const MIN_PIECE_BYTES: u64 = 8 << 20;
/// Pieces per worker thread, so a worker that finishes early takes more.
const PIECES_PER_THREAD: u64 = 16;
/// How far before a piece or chunk to look for the timestamp its first lines may inherit.
pub const LOOKBACK_BYTES: u64 = 64 << 10;
/// Lines rejected by the pre-filter that are kept for the time the next line may inherit.
/// A time and the stream offset of the line that has it: a line without a time of its own
/// takes the time of the latest line that has one and starts at most [`LOOKBACK_BYTES`] before
/// it — on every path (in order, after the pre-filter, at the start of a piece or a chunk).
pub type Stamp = (i64, u64);

/// The time `stamp` gives a line starting at `at`, if it is near enough.
fn within(stamp: Option<Stamp>, at: u64) -> Option<i64> {
    stamp.and_then(|(ms, from)| (at.saturating_sub(from) <= LOOKBACK_BYTES).then_some(ms))
}
/// Progress is published every this many bytes.
const PROGRESS_STEP_BYTES: u64 = 4 << 20;

/// One piece of work: a whole source, or a byte range of a plain file.
#[derive(Debug)]
pub struct Item {
    pub source: usize,
    pub range: Option<(u64, u64)>,
}

impl Item {
    /// Whether the item is a stream (stdin, a compressed file, a pipe) that one reader must
    /// read from start to end.
    pub fn is_whole_source(&self) -> bool {
        self.range.is_none()
    }
}

/// Cuts the sources into pieces for `threads` workers.
/// `piece_bytes`: cut plain files into pieces of that size instead (tests of every path).
pub fn split_work(
    sources: &[Source],
    threads: usize,
    piece_bytes: Option<u64>,
) -> Result<Vec<Item>, InputError> {
    let mut items = Vec::new();
    // Stdin named twice (`- -`) is read once, by the first; only then may it be split.
    let stdin_once = sources.iter().filter(|s| s.path.is_none()).count() == 1;
    for (index, source) in sources.iter().enumerate() {
        // Plain files are read in place by byte range (one range when small or single-threaded);
        // streams are left whole, for the chunking reader.
        let splittable_size = match &source.path {
            Some(path) => plain_file_size(path).map_err(|e| InputError {
                path: path.display().to_string(),
                reason: e.to_string(),
            })?,
            // Stdin redirected from a plain file (`logq … < app.log`) is read like the file.
            None if stdin_once => stdin_file()
                .and_then(|file| plain_size_at_start(&file))
                .ok()
                .flatten(),
            None => None,
        };
        match splittable_size {
            Some(size) if piece_bytes.is_some() => {
                let step = piece_bytes.unwrap_or(size).max(1);
                let mut start = 0;
                while start < size {
                    let end = (start + step).min(size);
                    items.push(Item {
                        source: index,
                        range: Some((start, end)),
                    });
                    start = end;
                }
            }
            Some(size) if size >= 2 * MIN_PIECE_BYTES && threads > 1 => {
                let pieces = (size / MIN_PIECE_BYTES)
                    .min(threads as u64 * PIECES_PER_THREAD)
                    .max(1);
                let step = size.div_ceil(pieces);
                let mut start = 0;
                while start < size {
                    let end = (start + step).min(size);
                    items.push(Item {
                        source: index,
                        range: Some((start, end)),
                    });
                    start = end;
                }
            }
            Some(size) => items.push(Item {
                source: index,
                range: Some((0, size)),
            }),
            None => items.push(Item {
                source: index,
                range: None,
            }),
        }
    }
    Ok(items)
}

/// The size of a regular, uncompressed file, or `None` if it cannot be split. Anything but a
/// regular file (a named pipe, a device) is not opened here: a pipe's writer would meet this
/// open, not the one that reads it (logq hung on `logq QUERY fifo`).
fn plain_file_size(path: &std::path::Path) -> io::Result<Option<u64>> {
    if !std::fs::metadata(path)?.is_file() {
        return Ok(None);
    }
    plain_size(&File::open(path)?)
}

/// Stdin as a file of its own (a duplicate descriptor: reading it by offset leaves stdin as
/// it is).
fn stdin_file() -> io::Result<File> {
    use std::os::fd::AsFd;
    Ok(File::from(std::io::stdin().as_fd().try_clone_to_owned()?))
}

/// [`plain_size`] of stdin's file when nothing has read it yet (its offset is 0).
fn plain_size_at_start(file: &File) -> io::Result<Option<u64>> {
    use std::io::Seek;
    let mut cursor = file;
    if cursor.stream_position()? != 0 {
        return Ok(None);
    }
    plain_size(file)
}

/// The file a source split into ranges is read from.
fn open_for_ranges(source: &Source) -> io::Result<File> {
    match &source.path {
        Some(path) => File::open(path),
        None => stdin_file(),
    }
}

fn plain_size(file: &File) -> io::Result<Option<u64>> {
    let meta = file.metadata()?;
    // A size of 0 may be a lie (/proc files): such a file is streamed to its end instead.
    if !meta.is_file() || meta.len() == 0 {
        return Ok(None);
    }
    let mut magic = [0u8; 4];
    let n = file.read_at(&mut magic, 0)?;
    let compressed = input::is_compressed(&magic[..n]);
    Ok((!compressed).then_some(meta.len()))
}

/// What every worker shares.
pub struct Shared<'a> {
    pub plan: &'a Plan,
    pub sources: &'a [Source],
    pub options: &'a RunOptions,
    pub functions: FnContext,
    pub prefilter: Option<&'a Prefilter>,
    /// Bytes each worker's stats table may take before it spills.
    pub table_budget: Option<usize>,
    /// With several workers: the bytes their tables may take together (the sum of their
    /// budgets); a table past its own budget spills only while they take more.
    pub table_pool: Option<std::sync::Arc<crate::exec::groups::TablePool>>,
}

impl Shared<'_> {
    /// Whether events' times must be found: the query reads them or a time range applies.
    pub fn timestamp_needed(&self) -> bool {
        self.plan.input.timestamp_needed || self.options.start_ms.is_some() || self.options.end_ms.is_some()
    }
}

/// One thread's reader, extractor and pipeline.
pub struct Worker<'a> {
    shared: &'a Shared<'a>,
    extractor: Extractor<'a>,
    /// Lines read straight into the first stats stage, when the query allows.
    direct: Option<DirectStats<'a>>,
    /// The line reader's buffer, kept from piece to piece.
    line_buffer: Vec<u8>,
    pipeline: Pipeline<'a>,
    row: Row,
    stats: Statistics,
    year_hint: i32,
    /// The lines the pre-filter rejected since the last examined line, within
    /// [`LOOKBACK_BYTES`] of the latest: their bytes back to back, and each one's stream offset
    /// and length — kept in case the next examined line has no time of its own.
    skipped: std::collections::VecDeque<u8>,
    skipped_lines: std::collections::VecDeque<(u64, usize)>,
    progress_pending: u64,
    /// Where the last chunk this worker read ended (source, stream offset) and the time its
    /// lines left for the next: a chunk that continues it inherits exactly that.
    stream_end: Option<(usize, u64, Option<Stamp>)>,
}

impl<'a> Worker<'a> {
    pub fn new(shared: &'a Shared<'a>) -> Worker<'a> {
        let options = shared.options;
        let extractor = Extractor::new(
            &shared.plan.input,
            options.timestamp.clone(),
            options.validate_json,
            shared.timestamp_needed(),
        )
        .with_shortcuts(options.shortcuts);
        let mut pipeline = Pipeline::new(shared.plan, shared.functions);
        let whole = options
            .max_memory
            .map(|m| usize::try_from(m).unwrap_or(usize::MAX));
        pipeline.set_memory_budget((shared.table_budget, whole));
        if let Some(pool) = &shared.table_pool {
            pipeline.share_table_budget(pool);
        }
        let row = pipeline.empty_row();
        let direct = if options.validate_json || !options.shortcuts.direct_stats {
            None
        } else {
            DirectStats::for_plan(
                shared.plan,
                shared.timestamp_needed(),
                (options.start_ms, options.end_ms),
            )
        };
        Worker {
            shared,
            extractor,
            direct,
            line_buffer: Vec::new(),
            pipeline,
            row,
            stats: Statistics::default(),
            year_hint: chrono::Utc::now().year(),
            skipped: std::collections::VecDeque::new(),
            skipped_lines: std::collections::VecDeque::new(),
            progress_pending: 0,
            stream_end: None,
        }
    }

    pub fn is_done(&self) -> bool {
        self.pipeline.is_done()
    }

    pub fn into_partial(mut self) -> (Partial, Statistics) {
        self.flush_progress();
        (self.pipeline.into_partial(), self.stats)
    }

    pub fn into_pipeline(mut self) -> (Pipeline<'a>, Statistics) {
        self.flush_progress();
        (self.pipeline, self.stats)
    }

    /// Reads chunk number `index` of source `source` (a stream cut by the reading thread).
    pub fn process_chunk(&mut self, index: usize, source: usize, chunk: &Chunk) -> Result<(), ExecError> {
        let (name, ingestion_ms) = self.source_facts(source);
        let io_error = input_error(&name);
        self.pipeline.set_sequence_base((index as u64) << 40);
        let context = self.source_context(source, &name, ingestion_ms);
        let continues = match self.stream_end {
            Some((s, end, last)) if s == source && end == chunk.offset => Some(last),
            _ => None,
        };
        let inherited = match continues {
            Some(last) => last,
            None if self.shared.timestamp_needed() => {
                self.forget_skipped();
                let start = chunk.offset - chunk.before.len() as u64;
                self.timestamp_in_window(&chunk.before, start, &context)
            }
            None => None,
        };
        let end = chunk.offset + chunk.bytes.len() as u64;
        let mut lines = SliceLines::new(&chunk.bytes).checking_utf8(self.direct.is_some());
        let last = self
            .read_lines(
                &mut lines,
                chunk.offset,
                u64::MAX,
                inherited,
                &context,
                continues.is_some(),
            )
            .map_err(io_error)?;
        self.stream_end = Some((source, end, last));
        // A stream's chunks may be small and slow: its progress shows chunk by chunk.
        self.flush_progress();
        Ok(())
    }

    /// Runs the lines of `reader` through the query (as [`Worker::read_lines`]), read into this
    /// worker's buffer and checked for UTF-8 by blocks when the direct path reads them.
    fn read_stream<R: Read>(
        &mut self,
        reader: R,
        (first, end): (u64, u64),
        inherited: Option<Stamp>,
        context: &SourceContext<'_>,
    ) -> io::Result<()> {
        let mut lines = LineReader::with_buffer(reader, std::mem::take(&mut self.line_buffer))
            .checking_utf8(self.direct.is_some());
        let read = self.read_lines(&mut lines, first, end, inherited, context, false);
        self.line_buffer = lines.into_buffer();
        read.map(|_| ())
    }

    /// The name reads and errors use for source `source`, and its `@ingestionTime`.
    fn source_facts(&self, source: usize) -> (String, i64) {
        let source = &self.shared.sources[source];
        let name = source.name();
        let ingestion_ms = source
            .path
            .as_ref()
            .and_then(|p| std::fs::metadata(p).ok())
            .and_then(|m| m.modified().ok())
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(self.shared.options.now_ms, |d| d.as_millis() as i64);
        (name, ingestion_ms)
    }

    /// What extraction needs to know of source `source`.
    fn source_context<'n>(&self, source: usize, name: &'n str, ingestion_ms: i64) -> SourceContext<'n>
    where
        'a: 'n,
    {
        let source = &self.shared.sources[source];
        SourceContext {
            log_stream: &source.log_stream,
            log: &source.log,
            ptr_prefix: name,
            ingestion_ms,
            year_hint: self.year_hint,
        }
    }

    /// Reads item number `index`.
    pub fn process(&mut self, index: usize, item: &Item) -> Result<(), ExecError> {
        if self.shared.sources[item.source].kind == SourceKind::StoredEvents {
            return self.process_stored(index, item.source);
        }
        let shared = self.shared;
        let source = &shared.sources[item.source];
        let (name, ingestion_ms) = self.source_facts(item.source);
        let io_error = input_error(&name);
        // Rows of later pieces sort after earlier ones when their keys tie.
        self.pipeline.set_sequence_base((index as u64) << 40);
        let context = self.source_context(item.source, &name, ingestion_ms);
        match item.range {
            None => {
                let reader = input::open(source).map_err(ExecError::Input)?;
                self.read_stream(reader, (0, u64::MAX), None, &context)
                    .map_err(io_error)
            }
            Some((start, end)) => {
                let file = open_for_ranges(source).map_err(io_error)?;
                let first = first_line_start(&file, start).map_err(io_error)?;
                if first >= end {
                    return Ok(());
                }
                let inherited = if self.shared.timestamp_needed() && first > 0 {
                    self.timestamp_before(&file, first, &context).map_err(io_error)?
                } else {
                    None
                };
                let reader = FileRange { file, pos: first };
                self.read_stream(reader, (first, end), inherited, &context)
                    .map_err(io_error)
            }
        }
    }

    /// Runs the events of a chunk of the agent's store through the query: each event has its
    /// own time (`@timestamp`), and its message (which may span lines) is `@message`.
    fn process_stored(&mut self, index: usize, source: usize) -> Result<(), ExecError> {
        let plan = self.shared.plan;
        let options = self.shared.options;
        let (name, ingestion_ms) = self.source_facts(source);
        self.pipeline.set_sequence_base((index as u64) << 40);
        let context = self.source_context(source, &name, ingestion_ms);
        let (events, malformed) =
            input::read_stored(&self.shared.sources[source]).map_err(ExecError::Input)?;
        self.stats.broken_json += malformed;
        for (offset, (timestamp_ms, message)) in events.iter().enumerate() {
            let bytes = message.len() as u64 + 1;
            self.progress_pending += bytes;
            self.stats.records_scanned += 1;
            self.stats.bytes_scanned += bytes;
            if self
                .shared
                .prefilter
                .is_some_and(|p| !p.may_match(message.as_bytes()))
            {
                continue;
            }
            if self.row.len() == plan.slot_names.len() {
                self.row.fill(None);
            } else {
                self.row = self.pipeline.empty_row();
            }
            let mut last = Some(*timestamp_ms);
            self.extractor
                .fill(message, offset as u64, &context, &mut self.row, &mut last);
            // The event's own time, whatever its text holds.
            self.row[plan.input.timestamp] = Some(Value::Time(*timestamp_ms));
            if !in_range(
                self.row[plan.input.timestamp].as_ref(),
                options.start_ms,
                options.end_ms,
            ) {
                continue;
            }
            self.pipeline.push(&mut self.row, message);
            if self.pipeline.is_done() {
                break;
            }
        }
        self.flush_progress();
        Ok(())
    }

    /// Runs the lines that start at offsets in `[first, end)` through the query, and returns
    /// the time the next line would inherit. `continues`: the lines go on from the last ones
    /// this worker read (so lines the pre-filter skipped just before still count for times).
    fn read_lines(
        &mut self,
        lines: &mut impl NextLine,
        first: u64,
        end: u64,
        inherited: Option<Stamp>,
        context: &SourceContext<'_>,
        continues: bool,
    ) -> io::Result<Option<Stamp>> {
        let plan = self.shared.plan;
        let options = self.shared.options;
        let timestamp_needed = self.shared.timestamp_needed();
        let mut offset = first;
        let mut last_timestamp = inherited;
        if !continues {
            self.forget_skipped();
        }
        while offset < end {
            let Some(Line {
                bytes,
                consumed,
                known_utf8,
            }) = lines.next_line()?
            else {
                break;
            };
            let line_offset = offset;
            offset += consumed as u64;
            self.progress_pending += consumed as u64;
            if self.progress_pending >= PROGRESS_STEP_BYTES {
                self.flush_progress();
            }
            if let Some(prefilter) = self.shared.prefilter {
                if !prefilter.may_match(bytes) {
                    self.stats.shortcut_lines.prefilter += 1;
                    self.stats.records_scanned += 1;
                    self.stats.bytes_scanned += consumed as u64;
                    if timestamp_needed {
                        self.remember_skipped(line_offset, bytes);
                    }
                    continue;
                }
            }
            if let Some(direct) = &mut self.direct {
                // The direct path reads bytes: a line's text is needed only to know it valid.
                let valid = known_utf8 || simdutf8::basic::from_utf8(bytes).is_ok();
                let outcome = if valid {
                    direct.add(bytes, &mut self.extractor, &mut self.pipeline)
                } else {
                    Direct::Declined
                };
                match outcome {
                    Direct::Added(time) => {
                        self.stats.shortcut_lines.direct_stats += 1;
                        if let Some(ms) = time {
                            last_timestamp = Some((ms, line_offset));
                        }
                        self.forget_skipped();
                        self.stats.records_scanned += 1;
                        self.stats.bytes_scanned += consumed as u64;
                        // A table that could not spill: stop reading, the run ends with it.
                        if self
                            .pipeline
                            .direct_groups_peek()
                            .is_some_and(crate::exec::groups::Groups::spill_failed)
                        {
                            break;
                        }
                        continue;
                    }
                    Direct::OutOfRange(ms) => {
                        self.stats.shortcut_lines.direct_stats += 1;
                        last_timestamp = Some((ms, line_offset));
                        self.forget_skipped();
                        continue;
                    }
                    Direct::Declined => {}
                }
            }
            // SIMD validation: a scan of every byte of every examined line.
            let text = if let Ok(text) = simdutf8::basic::from_utf8(bytes) {
                std::borrow::Cow::Borrowed(text)
            } else {
                self.stats.invalid_utf8 += 1;
                String::from_utf8_lossy(bytes)
            };
            if self.row.len() == plan.slot_names.len() {
                self.row.fill(None);
            } else {
                self.row = self.pipeline.empty_row();
            }
            // The time this line takes if it has none of its own (near enough, or none).
            let mut carried = within(last_timestamp, line_offset);
            let notes = self
                .extractor
                .fill(&text, line_offset, context, &mut self.row, &mut carried);
            if timestamp_needed && !notes.no_timestamp {
                last_timestamp = carried.map(|ms| (ms, line_offset));
            } else if notes.no_timestamp && !self.skipped_lines.is_empty() {
                // The lines just before this one were not parsed; the latest time among them is
                // this line's to inherit.
                if let Some((ms, at)) = self.time_of_skipped(line_offset, context) {
                    last_timestamp = Some((ms, at));
                    self.row[plan.input.timestamp] = Some(Value::Time(ms));
                }
            }
            self.forget_skipped();
            if !in_range(
                self.row[plan.input.timestamp].as_ref(),
                options.start_ms,
                options.end_ms,
            ) {
                continue;
            }
            self.stats.records_scanned += 1;
            self.stats.bytes_scanned += consumed as u64;
            self.stats.broken_json += u64::from(notes.broken_json);
            self.stats.shortcut_lines.key_search += u64::from(notes.by_key_search);
            self.stats.without_timestamp += u64::from(notes.no_timestamp);
            self.pipeline.push(&mut self.row, &text);
            if self.pipeline.is_done() {
                break;
            }
        }
        Ok(last_timestamp)
    }

    /// Keeps a line the pre-filter rejected (starting at `at`), dropping those that no later
    /// line could take a time from.
    fn remember_skipped(&mut self, at: u64, line: &[u8]) {
        while let Some(&(start, len)) = self.skipped_lines.front() {
            if at.saturating_sub(start) <= LOOKBACK_BYTES {
                break;
            }
            self.skipped_lines.pop_front();
            self.skipped.drain(..len.min(self.skipped.len()));
        }
        self.skipped.extend(line);
        self.skipped_lines.push_back((at, line.len()));
    }

    fn forget_skipped(&mut self) {
        self.skipped.clear();
        self.skipped_lines.clear();
    }

    /// The time of the latest rejected line that has one and is near enough to the line at
    /// `at`, and where it starts.
    fn time_of_skipped(&mut self, at: u64, context: &SourceContext<'_>) -> Option<Stamp> {
        let mut end = self.skipped.len();
        let lines: Vec<(u64, usize)> = self.skipped_lines.iter().rev().copied().collect();
        for (start, len) in lines {
            let from = end - len;
            if at.saturating_sub(start) > LOOKBACK_BYTES {
                return None;
            }
            let bytes: Vec<u8> = self.skipped.range(from..end).copied().collect();
            end = from;
            let text = String::from_utf8_lossy(&bytes).into_owned();
            if let Some(ms) = self.extractor.timestamp_of(&text, context, self.year_hint) {
                return Some((ms, start));
            }
        }
        None
    }

    /// The time of the last line that starts at most [`LOOKBACK_BYTES`] before `first` and has
    /// one, and where it starts.
    fn timestamp_before(
        &mut self,
        file: &File,
        first: u64,
        context: &SourceContext<'_>,
    ) -> io::Result<Option<Stamp>> {
        let from = first.saturating_sub(LOOKBACK_BYTES);
        // One byte more in front, to know whether a line starts right at `from`.
        let read_from = from.saturating_sub(1);
        let mut window = vec![0u8; usize::try_from(first - read_from).unwrap_or(0)];
        file.read_exact_at(&mut window, read_from)?;
        let body_start = if from == 0 {
            0
        } else {
            match memchr::memchr(b'\n', &window) {
                Some(i) => i + 1,
                None => return Ok(None),
            }
        };
        let Some(body) = window.get(body_start..) else {
            return Ok(None);
        };
        Ok(self.timestamp_in_window(body, read_from + body_start as u64, context))
    }

    /// The time of the last of the whole lines `window` (starting at stream offset `start`)
    /// that has one, and where that line starts.
    fn timestamp_in_window(
        &mut self,
        window: &[u8],
        start: u64,
        context: &SourceContext<'_>,
    ) -> Option<Stamp> {
        let body = window.strip_suffix(b"\n").unwrap_or(window);
        let mut end = body.len();
        for line in body.rsplit(|&b| b == b'\n') {
            let line_start = end - line.len();
            end = line_start.saturating_sub(1);
            let text = String::from_utf8_lossy(crate::input::lines::trim_line(line));
            if let Some(ms) = self.extractor.timestamp_of(&text, context, self.year_hint) {
                return Some((ms, start + line_start as u64));
            }
        }
        None
    }

    fn flush_progress(&mut self) {
        if let Some(progress) = &self.shared.options.progress {
            progress.fetch_add(self.progress_pending, std::sync::atomic::Ordering::Relaxed);
        }
        self.progress_pending = 0;
    }
}

/// Turns a read error of the source named `name` into the run's error.
fn input_error(name: &str) -> impl Fn(io::Error) -> ExecError + Copy + '_ {
    move |e| {
        ExecError::Input(InputError {
            path: name.to_string(),
            reason: e.to_string(),
        })
    }
}

/// The offset where the first line starting at or after `start` begins.
fn first_line_start(file: &File, start: u64) -> io::Result<u64> {
    if start == 0 {
        return Ok(0);
    }
    let mut pos = start - 1;
    let mut buf = vec![0u8; 64 << 10];
    loop {
        let n = file.read_at(&mut buf, pos)?;
        if n == 0 {
            return Ok(pos);
        }
        if let Some(i) = memchr::memchr(b'\n', &buf[..n]) {
            return Ok(pos + i as u64 + 1);
        }
        pos += n as u64;
    }
}

/// Reads a file from an offset on, without moving a shared cursor.
struct FileRange {
    file: File,
    pos: u64,
}

impl Read for FileRange {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read_at(buf, self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

fn in_range(timestamp: Option<&Value>, start: Option<i64>, end: Option<i64>) -> bool {
    if start.is_none() && end.is_none() {
        return true;
    }
    let Some(Value::Time(ms)) = timestamp else {
        return false;
    };
    start.is_none_or(|s| *ms >= s) && end.is_none_or(|e| *ms <= e)
}

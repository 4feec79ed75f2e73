//! The third phase: run a [`Plan`] over inputs and return the result rows.
//!
//! A plain file larger than a few MiB is cut at line boundaries into pieces that worker threads
//! take in turn; each worker runs the query up to its first holding stage (stats, sort) and the
//! workers' states are merged. Compressed files and stdin are read and cut into chunks of whole lines
//! on a thread of their own, and the workers take the chunks as they come. A literal
//! pre-filter from the query's leading filters rejects most non-matching lines before parsing.

pub mod aggregate_state;
mod direct_stats;
pub mod distinct;
pub mod encoding;
pub mod eval;
pub mod exact_sum;
pub mod extract;
mod feed;
pub mod groups;
pub mod natural_order;
mod parse_fields;
pub mod patterns;
pub mod pipeline;
pub mod prefilter;
pub(crate) mod record_formats;
mod relevance;
mod rows;
mod shared_work;
pub mod sort_spill;
pub mod spill;
pub mod value_counts;
mod work;

use std::fmt;
use std::sync::atomic::AtomicU64;

use crate::functions::FnContext;
use crate::functions::NO_START;
use crate::input::{InputError, Source};
use crate::output::ResultSet;
use crate::plan::Plan;
use extract::TimestampRule;
use pipeline::Pipeline;
use prefilter::Prefilter;
use work::{split_work, Worker};

/// Which shortcuts a run may take. Each gives exactly the answer of the path without it; all are
/// on by default, and the every-path tests turn them off one by one to show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shortcuts {
    /// Read JSON fields by searching for their keys instead of scanning the line.
    pub key_search: bool,
    /// Stop scanning a JSON line once every wanted field is found (it is checked whole first).
    pub stop_early: bool,
    /// Aggregate simple `stats` straight from JSON keys, without rows.
    pub direct_stats: bool,
    /// Skip lines that lack a literal the filter needs.
    pub prefilter: bool,
    /// Cut plain files into pieces of this many bytes (ends anywhere, even mid-line), instead
    /// of by the thread count.
    pub piece_bytes: Option<u64>,
    /// Cut streams (stdin, gzip, zstd) into chunks of this many bytes instead of 4 MiB.
    pub chunk_bytes: Option<usize>,
}

impl Default for Shortcuts {
    fn default() -> Shortcuts {
        Shortcuts {
            key_search: true,
            stop_early: true,
            direct_stats: true,
            prefilter: true,
            piece_bytes: None,
            chunk_bytes: None,
        }
    }
}

/// How to run a query, besides the query itself.
#[derive(Debug, Default, Clone)]
pub struct RunOptions {
    pub timestamp: TimestampRule,
    /// Only events at or after this time (epoch ms), when set.
    pub start_ms: Option<i64>,
    /// Only events at or before this time (epoch ms), when set.
    pub end_ms: Option<i64>,
    /// "Now" for `now()` and the query window functions.
    pub now_ms: i64,
    /// Worker threads; 0 means one per core.
    pub threads: usize,
    /// Check JSON lines even when the query needs none of their fields, to count broken ones.
    pub validate_json: bool,
    /// Updated with the bytes read so far, for a progress display.
    pub progress: Option<std::sync::Arc<AtomicU64>>,
    /// About how much memory the stats tables may take before their groups spill to disk
    /// (none: no limit).
    pub max_memory: Option<u64>,
    pub shortcuts: Shortcuts,
    /// Where `lookup` and `cidrlookup` find their tables.
    pub lookup_dir: Option<std::path::PathBuf>,
    /// The log groups a subquery's or join's `SOURCE` may name; without it they read the
    /// query's own inputs.
    pub catalog: Option<std::sync::Arc<crate::input::Catalog>>,
}

/// What the run saw, as `--stats` prints it.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Statistics {
    /// Events read within the time range (lines the pre-filter rejected count too: their time
    /// is not read).
    pub records_scanned: u64,
    /// Events that passed the filters (before dedup and limit).
    pub records_matched: u64,
    /// Bytes of the events read (decompressed, newlines included).
    pub bytes_scanned: u64,
    /// Lines with invalid UTF-8, read with U+FFFD in place of the bad bytes.
    pub invalid_utf8: u64,
    /// JSON lines that break before their end (they keep the fields before the break).
    pub broken_json: u64,
    /// Events without a timestamp of their own (they took the previous event's).
    pub without_timestamp: u64,
    /// Lines each shortcut served (not printed: the every-path tests check that each path
    /// they compare was taken).
    pub shortcut_lines: ShortcutLines,
    /// Times a stats table past the memory budget was written to disk.
    pub spills: u64,
}

/// Lines served by each shortcut.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ShortcutLines {
    /// Read by the key search.
    pub key_search: u64,
    /// Aggregated straight from their keys.
    pub direct_stats: u64,
    /// Skipped by the literal pre-filter.
    pub prefilter: u64,
}

impl Statistics {
    fn add(&mut self, other: &Statistics) {
        self.records_scanned += other.records_scanned;
        self.records_matched += other.records_matched;
        self.bytes_scanned += other.bytes_scanned;
        self.invalid_utf8 += other.invalid_utf8;
        self.broken_json += other.broken_json;
        self.without_timestamp += other.without_timestamp;
        self.shortcut_lines.key_search += other.shortcut_lines.key_search;
        self.shortcut_lines.direct_stats += other.shortcut_lines.direct_stats;
        self.shortcut_lines.prefilter += other.shortcut_lines.prefilter;
    }
}

/// What a run gives: the rows, what it saw, and the inputs it could not read to their end.
#[derive(Debug)]
pub struct Outcome {
    pub result: ResultSet,
    pub stats: Statistics,
    /// Streams (compressed files, pipes) that failed part-way or could not be opened; the run
    /// went on without the rest of them, so the rows are only what the readable inputs give.
    pub unreadable: Vec<InputError>,
}

/// A failure while running.
#[derive(Debug)]
pub enum ExecError {
    Input(InputError),
    /// Groups past the memory budget could not be written to or read back from disk.
    Spill(std::io::Error),
    /// The query cannot run as asked: it needs something the run was not given (a time range
    /// for `diff`), or it is past a limit (a join's right side).
    Query(String),
}

impl fmt::Display for ExecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExecError::Input(e) => write!(f, "cannot read {e}"),
            ExecError::Query(why) => f.write_str(why),
            ExecError::Spill(e) if e.kind() == std::io::ErrorKind::OutOfMemory => {
                write!(f, "{e}; give --max-memory more room")
            }
            ExecError::Spill(e) => write!(
                f,
                "the rows past the memory budget could not be spilled to {} ({e}); give --max-memory more room, or TMPDIR a disk with space",
                std::env::temp_dir().display()
            ),
        }
    }
}

impl std::error::Error for ExecError {}

/// Distinct keys the right side of a join may have (the documented limit).
pub const MAX_JOIN_KEYS: usize = 50_000;

/// Runs a query inside the query, once: over the groups its `SOURCE` names (from the catalog),
/// or the query's own inputs.
fn run_subquery(
    sub: &crate::plan::Subquery,
    sources: &[Source],
    options: &RunOptions,
) -> Result<(), ExecError> {
    if sub.rows.get().is_some() {
        return Ok(());
    }
    let selected;
    let inputs = match (&sub.plan.source, &options.catalog) {
        (Some(clause), Some(catalog)) => {
            selected = catalog.select(clause).map_err(ExecError::Input)?;
            &selected[..]
        }
        _ => sources,
    };
    // A subquery's own START=/END= (checked when it was planned) replace the query's.
    let own_time = |written: Option<&(String, crate::syntax::span::Span)>| {
        written.and_then(|(text, _)| skywatch_time::parse_time_arg(text, options.now_ms).ok())
    };
    let clause = sub.plan.source.as_ref();
    let inner = RunOptions {
        timestamp: options.timestamp.clone(),
        start_ms: own_time(clause.and_then(|c| c.start.as_ref())).or(options.start_ms),
        end_ms: own_time(clause.and_then(|c| c.end.as_ref())).or(options.end_ms),
        now_ms: options.now_ms,
        threads: options.threads,
        validate_json: false,
        progress: None,
        max_memory: options.max_memory,
        shortcuts: options.shortcuts,
        lookup_dir: options.lookup_dir.clone(),
        catalog: options.catalog.clone(),
    };
    let outcome = run(&sub.plan, inputs, &inner)?;
    if let Some(failed) = outcome.unreadable.into_iter().next() {
        return Err(ExecError::Input(failed));
    }
    let _ = sub.rows.set(outcome.result.rows);
    Ok(())
}

/// Gets ready what the plan's stages read besides the events: lookup tables, subqueries, the
/// right side of a join.
fn prepare(plan: &Plan, sources: &[Source], options: &RunOptions) -> Result<(), ExecError> {
    use crate::plan::Stage;
    for stage in &plan.stages {
        let mut subqueries = Vec::new();
        if let Stage::Filter(cond) = stage {
            cond.for_each_subquery(&mut |sub| subqueries.push(std::sync::Arc::clone(sub)));
        }
        for sub in subqueries {
            run_subquery(&sub, sources, options)?;
        }
        if let Stage::Rows(rows) = stage {
            if let crate::plan::rows::RowStage::Appendcols(append) = &**rows {
                run_subquery(&append.query, sources, options)?;
            }
        }
        if let Stage::Join(join) = stage {
            run_subquery(&join.right, sources, options)?;
            let rows = join.right.rows.get().map_or(&[][..], Vec::as_slice);
            let mut index: std::collections::HashMap<String, Vec<usize>> = std::collections::HashMap::new();
            for (r, row) in rows.iter().enumerate() {
                let key = row
                    .get(join.right_key_column)
                    .and_then(|v| v.as_ref()?.as_text().map(std::borrow::Cow::into_owned));
                if let Some(key) = key {
                    index.entry(key).or_default().push(r);
                }
            }
            if index.len() > MAX_JOIN_KEYS {
                return Err(ExecError::Query(format!(
                    "the join's right side has {} distinct keys; a join takes at most {MAX_JOIN_KEYS}",
                    index.len()
                )));
            }
            let _ = join.index.set(index);
        }
        let Stage::Lookup(lookup) = stage else {
            continue;
        };
        if lookup.loaded.get().is_some() {
            continue;
        }
        let Some(dir) = &options.lookup_dir else {
            return Err(ExecError::Input(InputError {
                path: lookup.table.clone(),
                reason: "lookup tables need a directory (--lookup-dir)".to_string(),
            }));
        };
        let keys: Vec<String> = lookup.keys.iter().map(|(c, _)| c.clone()).collect();
        let outputs: Vec<String> = lookup.outputs.iter().map(|(c, _)| c.clone()).collect();
        let table =
            crate::input::lookup_table::LookupTable::load(dir, &lookup.table, &keys, &outputs, lookup.cidr)
                .map_err(ExecError::Input)?;
        // Another run of the same plan may have loaded it meanwhile: either copy is the table.
        let _ = lookup.loaded.set(std::sync::Arc::new(table));
    }
    Ok(())
}

/// Runs `plan` over `sources`.
pub fn run(plan: &Plan, sources: &[Source], options: &RunOptions) -> Result<Outcome, ExecError> {
    prepare(plan, sources, options)?;
    let functions = FnContext {
        now_ms: options.now_ms,
        // No --start: the query has no start (queryStartTime() and queryTimeRange() are null).
        query_start_ms: options.start_ms.unwrap_or(NO_START),
        query_end_ms: options.end_ms.unwrap_or(options.now_ms),
    };
    // diff/logcompare read the earlier window too (`functions` keeps the query's own).
    let widened;
    let options = match &plan.earlier_window {
        Some(shift) => {
            let Some(start) = options.start_ms else {
                return Err(ExecError::Query(
                    "diff and logcompare compare the query's time range with an earlier one: give the query a start (--start or --since, or START= after SOURCE)".to_string(),
                ));
            };
            let end = options.end_ms.unwrap_or(options.now_ms);
            let earlier = patterns::earlier_window(shift, start, end).map_or(start, |(from, _)| from);
            widened = RunOptions {
                start_ms: Some(earlier),
                ..options.clone()
            };
            &widened
        }
        None => options,
    };
    let threads = match options.threads {
        0 => std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get),
        n => n,
    };
    let prefilter = Prefilter::from_plan(plan).filter(|_| options.shortcuts.prefilter);
    let parallel = threads > 1 && Pipeline::parallelizable(plan);
    let items = split_work(
        sources,
        if parallel { threads } else { 1 },
        options.shortcuts.piece_bytes,
    )
    .map_err(ExecError::Input)?;
    let workers_count = if parallel { threads } else { 1 };
    // Each worker's table, and the one they merge into (with several), take a share.
    let shares = if workers_count > 1 {
        workers_count as u64 + 1
    } else {
        1
    };
    let table_budget = options
        .max_memory
        .map(|bytes| usize::try_from(bytes / shares).unwrap_or(usize::MAX));
    let shared = work::Shared {
        plan,
        sources,
        options,
        functions,
        prefilter: prefilter.as_ref(),
        table_budget,
        // The workers' shares taken together: whichever worker read more may use them.
        table_pool: table_budget
            .filter(|_| workers_count > 1)
            .map(|share| std::sync::Arc::new(groups::TablePool::new(share.saturating_mul(workers_count)))),
    };

    let (workers, unreadable) = feed::run_workers(
        &items,
        sources,
        if parallel { threads } else { 1 },
        (shared.timestamp_needed(), options.shortcuts.chunk_bytes),
        &|| Worker::new(&shared),
    )?;
    let (pipeline, stats) = if parallel {
        let mut partials = Vec::with_capacity(workers.len());
        let mut stats = Statistics::default();
        for worker in workers {
            let (partial, worker_stats) = worker.into_partial();
            stats.add(&worker_stats);
            partials.push(partial);
        }
        let whole = options
            .max_memory
            .map(|m| usize::try_from(m).unwrap_or(usize::MAX));
        (
            Pipeline::merge(plan, functions, partials, (table_budget, whole)),
            stats,
        )
    } else {
        match workers.into_iter().next() {
            Some(worker) => worker.into_pipeline(),
            None => (Pipeline::new(plan, functions), Statistics::default()),
        }
    };
    let mut stats = stats;
    stats.records_matched = pipeline.matched();
    stats.spills = pipeline.spills();
    let rows = pipeline.finish().map_err(ExecError::Spill)?;
    let columns: Vec<String> = plan.columns.iter().map(|c| c.name.clone()).collect();
    let limit = usize::try_from(plan.row_limit).unwrap_or(usize::MAX);
    let rows = rows
        .into_iter()
        .take(limit)
        .map(|mut row| {
            plan.columns
                .iter()
                .map(|c| row.get_mut(c.slot).and_then(Option::take))
                .collect()
        })
        .collect();
    Ok(Outcome {
        result: ResultSet { columns, rows },
        stats,
        unreadable,
    })
}

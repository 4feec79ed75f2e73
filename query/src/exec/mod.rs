//! The third phase: run a [`Plan`] over inputs and return the result rows.

pub mod aggregate_state;
pub mod eval;
pub mod extract;
pub mod natural_order;
pub mod pipeline;

use std::fmt;
use std::time::UNIX_EPOCH;

use chrono::Datelike;

use crate::functions::FnContext;
use crate::input::{self, InputError, LineReader, Source};
use crate::output::ResultSet;
use crate::plan::Plan;
use extract::{Extractor, SourceContext, TimestampRule};
use pipeline::Pipeline;

/// How to run a query, besides the query itself.
#[derive(Debug, Default)]
pub struct RunOptions {
    pub timestamp: TimestampRule,
    /// Only events at or after this time (epoch ms), when set.
    pub start_ms: Option<i64>,
    /// Only events at or before this time (epoch ms), when set.
    pub end_ms: Option<i64>,
    /// "Now" for `now()` and the query window functions.
    pub now_ms: i64,
}

/// What the run saw, as `--stats` prints it.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Statistics {
    /// Events read within the time range.
    pub records_scanned: u64,
    /// Events that passed the filters (before dedup and limit).
    pub records_matched: u64,
    /// Bytes of the events read (decompressed, newlines included).
    pub bytes_scanned: u64,
    /// Lines with invalid UTF-8, read with U+FFFD in place of the bad bytes.
    pub invalid_utf8: u64,
    /// Lines that looked like JSON but were not, read as text.
    pub broken_json: u64,
    /// Events without a timestamp of their own (they took the previous event's).
    pub without_timestamp: u64,
}

/// A failure while running.
#[derive(Debug)]
pub enum ExecError {
    Input(InputError),
}

impl fmt::Display for ExecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExecError::Input(e) => write!(f, "cannot read {e}"),
        }
    }
}

impl std::error::Error for ExecError {}

/// Runs `plan` over `sources` in order.
pub fn run(
    plan: &Plan,
    sources: &[Source],
    options: RunOptions,
) -> Result<(ResultSet, Statistics), ExecError> {
    let functions = FnContext {
        now_ms: options.now_ms,
        query_start_ms: options.start_ms.unwrap_or(0),
        query_end_ms: options.end_ms.unwrap_or(options.now_ms),
    };
    let mut pipeline = Pipeline::new(plan, functions);
    let mut extractor = Extractor::new(&plan.input, options.timestamp);
    let mut stats = Statistics::default();
    let mut row = pipeline.empty_row();
    let year_hint = chrono::Utc::now().year();
    for source in sources {
        if pipeline.is_done() {
            break;
        }
        let reader = input::open(source).map_err(ExecError::Input)?;
        let ingestion_ms = source
            .path
            .as_ref()
            .and_then(|p| std::fs::metadata(p).ok())
            .and_then(|m| m.modified().ok())
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(options.now_ms, |d| d.as_millis() as i64);
        let ptr_prefix = source
            .path
            .as_ref()
            .map_or_else(|| "stdin".to_string(), |p| p.display().to_string());
        let context = SourceContext {
            log_stream: &source.log_stream,
            log: &source.log,
            ptr_prefix: &ptr_prefix,
            ingestion_ms,
            year_hint,
        };
        let mut lines = LineReader::new(reader);
        let mut last_timestamp = None;
        let mut line_no = 0u64;
        loop {
            let next = lines.next_line().map_err(|e| {
                ExecError::Input(InputError {
                    path: ptr_prefix.clone(),
                    reason: e.to_string(),
                })
            })?;
            let Some((bytes, consumed)) = next else { break };
            line_no += 1;
            let text = if let Ok(text) = std::str::from_utf8(bytes) {
                std::borrow::Cow::Borrowed(text)
            } else {
                stats.invalid_utf8 += 1;
                String::from_utf8_lossy(bytes)
            };
            row.fill(None);
            let notes = extractor.fill(&text, line_no, &context, &mut row, &mut last_timestamp);
            if !in_range(
                row[plan.input.timestamp].as_ref(),
                options.start_ms,
                options.end_ms,
            ) {
                continue;
            }
            stats.records_scanned += 1;
            stats.bytes_scanned += consumed as u64;
            stats.broken_json += u64::from(notes.broken_json);
            stats.without_timestamp += u64::from(notes.no_timestamp);
            pipeline.push(&mut row);
            if row.len() != plan.slot_names.len() {
                row = pipeline.empty_row();
            }
            if pipeline.is_done() {
                break;
            }
        }
    }
    stats.records_matched = pipeline.matched();
    let rows = pipeline.finish();
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
    Ok((ResultSet { columns, rows }, stats))
}

fn in_range(timestamp: Option<&crate::value::Value>, start: Option<i64>, end: Option<i64>) -> bool {
    if start.is_none() && end.is_none() {
        return true;
    }
    let Some(crate::value::Value::Time(ms)) = timestamp else {
        return false;
    };
    start.is_none_or(|s| *ms >= s) && end.is_none_or(|e| *ms <= e)
}

//! A query over one file, run as `logq` runs it: its rows as NDJSON, and what it saw.

// Each test crate that includes this uses some of it.
#![allow(dead_code)]

use skywatch_query::exec::{run, RunOptions, Statistics};
use skywatch_query::input::resolve;
use skywatch_query::output::{write, Format};

/// "Now" for these runs: 2024-03-02T00:00:00Z.
const NOW_MS: i64 = 1_709_337_600_000;

/// Runs `query` over `path` with `threads` workers, within `range` (epoch ms, inclusive).
pub fn ndjson_in(
    query: &str,
    path: &std::path::Path,
    threads: usize,
    (start_ms, end_ms): (Option<i64>, Option<i64>),
) -> (String, Statistics) {
    let plan = skywatch_query::compile(query).expect("query compiles");
    let sources = resolve(&[path.display().to_string()]).expect("input resolves");
    let options = RunOptions {
        threads,
        start_ms,
        end_ms,
        now_ms: NOW_MS,
        ..RunOptions::default()
    };
    let outcome = run(&plan, &sources, &options).expect("query runs");
    assert!(
        outcome.unreadable.is_empty(),
        "unreadable: {:?}",
        outcome.unreadable
    );
    let (result, stats) = (outcome.result, outcome.stats);
    let mut out = Vec::new();
    write(&result, Format::Ndjson, &mut out).expect("rows are written");
    (String::from_utf8(out).expect("NDJSON is UTF-8"), stats)
}

/// [`ndjson_in`] without a time range.
pub fn ndjson(query: &str, path: &std::path::Path, threads: usize) -> String {
    ndjson_in(query, path, threads, (None, None)).0
}

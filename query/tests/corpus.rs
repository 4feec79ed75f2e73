//! The public query corpus (`tests/corpus/queries.txt`, 133 queries): every query compiles, or
//! fails the way `tests/corpus/expected.txt` says — tier 1 runs, tier 2/3 say "not supported yet",
//! Q123–Q133 are rejected. Queries that compile run over all fixtures, and their row count and
//! first rows are pinned too. `BLESS=1` rewrites expected.txt. The lookup tables the corpus names
//! are in `tests/corpus/lookups/`.

// Test code: a failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support::fixtures;

use std::fmt::Write as _;
use std::path::Path;

use skywatch_query::exec::{run, RunOptions};
use skywatch_query::output::{row_object, write, Format};

fn corpus() -> Vec<String> {
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/queries.txt"))
            .unwrap();
    text.split("\n---\n")
        .map(|q| q.trim().to_string())
        .filter(|q| !q.is_empty())
        .collect()
}

fn outcome(query: &str) -> String {
    let plan = match skywatch_query::compile(query) {
        Ok(plan) => plan,
        Err(e) => return format!("rejected: {}", e.message()),
    };
    let dir = fixtures::fixtures();
    let mut paths: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path().display().to_string())
        .collect();
    paths.sort();
    let sources = skywatch_query::input::resolve(&paths).unwrap();
    let result = run(
        &plan,
        &sources,
        &RunOptions {
            now_ms: fixtures::NOW_MS,
            // diff compares a window with an earlier one: the fixtures' last hour and a half.
            start_ms: plan.earlier_window.as_ref().map(|_| 1_709_260_200_000),
            end_ms: plan.earlier_window.as_ref().map(|_| 1_709_265_600_000),
            lookup_dir: Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/lookups")),
            ..RunOptions::default()
        },
    )
    .unwrap()
    .result;
    let mut text = format!("runs: {} rows", result.rows.len());
    for row in result.rows.iter().take(3) {
        let _ = write!(text, "\n    {}", row_object(&result.columns, row));
    }
    // Every format can render every result.
    for format in [Format::Table, Format::Json, Format::Csv] {
        write(&result, format, &mut Vec::new()).unwrap();
    }
    // `@log` names the fixtures' directory, whose name changes from run to run.
    text.replace(&dir.display().to_string(), "<fixtures>")
}

#[test]
fn corpus_queries_compile_run_or_fail_as_expected() {
    let queries = corpus();
    assert_eq!(queries.len(), 133);
    let mut actual = String::new();
    for (i, query) in queries.iter().enumerate() {
        let _ = writeln!(actual, "Q{:03} {}", i + 1, outcome(query));
    }
    let expected_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/expected.txt");
    if std::env::var_os("BLESS").is_some() {
        std::fs::write(&expected_path, &actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
    if expected != actual {
        let diff: Vec<String> = expected
            .lines()
            .zip(actual.lines())
            .filter(|(e, a)| e != a)
            .take(10)
            .map(|(e, a)| format!("expected: {e}\n  actual: {a}"))
            .collect();
        panic!(
            "corpus outcomes changed (BLESS=1 to accept):\n{}",
            diff.join("\n")
        );
    }
}

#[test]
fn negative_corpus_queries_are_all_rejected() {
    let queries = corpus();
    for (i, query) in queries.iter().enumerate().skip(122) {
        let err = skywatch_query::compile(query)
            .err()
            .unwrap_or_else(|| panic!("Q{} compiled", i + 1));
        assert!(
            !err.message().starts_with("not supported yet"),
            "Q{}: {}",
            i + 1,
            err.message()
        );
        let rendered = err.render(query);
        assert!(rendered.contains('^'), "Q{}: {rendered}", i + 1);
    }
}

#[test]
fn queries_that_do_not_compile_among_the_first_122_are_only_tier_2_or_3() {
    for (i, query) in corpus().iter().enumerate().take(122) {
        if let Err(e) = skywatch_query::compile(query) {
            assert!(
                e.message().starts_with("not supported yet: "),
                "Q{}: {}",
                i + 1,
                e.render(query)
            );
        }
    }
}

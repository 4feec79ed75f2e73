//! The query language's conformance suite: data-driven cases in `tests/cases/<command>/*.case`,
//! run over fixtures the project's own generator makes, compared with the expected output or
//! error written in the case file. `BLESS=1 cargo test -p skywatch-query --test conformance`
//! rewrites the expectations from what logq does now (review the diff!).
//!
//! A case file holds cases like this:
//!
//! ```text
//! === errors per level
//! --- input app-json
//! --- query
//! filter level = "ERROR" | stats count(*) as n
//! --- output
//! {"n":17}
//! ```
//!
//! `--- input NAME` names a fixture (`app-json`, `lambda`, …; several separated by spaces);
//! `--- input inline` takes the lines up to the next `---` as the input. `--- error` instead of
//! `--- output` expects the rendered query error (message, query line, caret).

// Test code: a failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support::cases;

use cases::{run_case_file, Mode};

#[test]
fn conformance_cases() {
    let mode = if std::env::var_os("BLESS").is_some() {
        Mode::Bless
    } else {
        Mode::Check
    };
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let mut files = Vec::new();
    cases::collect_case_files(&root, &mut files);
    files.sort();
    assert!(!files.is_empty(), "no case files under {}", root.display());
    let mut failures = Vec::new();
    let mut total = 0;
    for file in &files {
        let (count, mut failed) = run_case_file(file, mode);
        total += count;
        failures.append(&mut failed);
    }
    assert!(total > 0);
    assert!(
        failures.is_empty(),
        "{} of {total} cases failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    println!("{total} cases passed");
}

//! Inputs big enough to be cut up (file pieces, stream chunks) give the answer one reader gives:
//! plain and gzip, one thread and two, with untimed lines that inherit across every cut.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;

use crate::support::answer;

/// About 17 MB (a plain file of it is cut into pieces, a stream into chunks): JSON events with times, each followed by untimed text lines (stack frames).
fn input() -> Vec<u8> {
    let mut data = Vec::new();
    let mut i: u64 = 0;
    while data.len() < 17 << 20 {
        let seconds = i / 3;
        writeln!(
            data,
            r#"{{"timestamp":"2024-03-01T{:02}:{:02}:{:02}Z","level":"{}","n":{i}}}"#,
            (seconds / 3600) % 24,
            (seconds / 60) % 60,
            seconds % 60,
            if i.is_multiple_of(7) { "ERROR" } else { "INFO" },
        )
        .unwrap();
        for frame in 0..(i % 5) {
            writeln!(data, "    at frame {frame} of event {i} continued").unwrap();
        }
        i += 1;
    }
    data
}

fn answer(query: &str, path: &std::path::Path, threads: usize) -> String {
    answer::ndjson(query, path, threads)
}

#[test]
fn pieces_and_chunks_answer_as_one_reader_does() {
    let dir = tempfile::tempdir().unwrap();
    let data = input();
    let plain = dir.path().join("app.log");
    std::fs::write(&plain, &data).unwrap();
    let gzip = dir.path().join("app.log.gz");
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(&data).unwrap();
    std::fs::write(&gzip, encoder.finish().unwrap()).unwrap();

    for query in [
        "stats count(*) by bin(10m)",
        r#"filter @message like "continued" | stats count(*) as c by bin(1h) | sort c desc | limit 3"#,
        "fields n | filter n > 100 | limit 3",
    ] {
        let expected = answer(query, &plain, 1);
        assert!(expected.lines().count() >= 3, "{query}: {expected}");
        for (path, threads) in [(&plain, 2), (&gzip, 1), (&gzip, 2)] {
            assert_eq!(
                answer(query, path, threads),
                expected,
                "{query} over {} with {threads} threads",
                path.display()
            );
        }
    }
}

/// `count(*)` counts rows in batches of probes; `count(field)` counts one row at a time. Over
/// thousands of groups (many batches, new groups in every batch, the last batch partial)
/// both give the same counts.
#[test]
fn batched_counts_match_counting_one_row_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("users.log");
    let mut data = Vec::new();
    for i in 0u64..60_000 {
        // A heavy head and a long tail of users, every line carrying one.
        let user = if i % 3 == 0 { i % 7 } else { (i * 7919) % 5_003 };
        writeln!(data, r#"{{"user":"u{user}","n":{i}}}"#).unwrap();
    }
    std::fs::write(&path, &data).unwrap();
    for threads in [1, 2] {
        let batched = answer(
            "stats count(*) as c by user | sort c desc, user | limit 50",
            &path,
            threads,
        );
        let single = answer(
            "stats count(user) as c by user | sort c desc, user | limit 50",
            &path,
            threads,
        );
        assert_eq!(batched, single, "{threads} threads");
        assert!(batched.starts_with(r#"{"user":"u0","c":"#), "{batched}");
        let total = answer(
            "stats count(*) as groups by user | stats count(*) as n, sum(groups) as rows",
            &path,
            threads,
        );
        assert_eq!(total.trim(), r#"{"n":5003,"rows":60000}"#, "{threads} threads");
    }
}

/// Each core's table takes a third of `--max-memory` (with two cores) while it is built, and
/// the table they merge into may take what the whole budget leaves once it is merged: groups
/// that fit the budget but not a third of it are not written to disk (and the answer is one
/// thread's).
#[test]
fn merged_groups_that_fit_the_budget_are_not_spilled() {
    use skywatch_query::exec::{run, RunOptions, Shortcuts};
    use skywatch_query::output::{write, Format};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ids.log");
    let mut data = Vec::new();
    for i in 0u64..40_000 {
        writeln!(
            data,
            r#"{{"id":"request-{:08x}","n":{i}}}"#,
            i.wrapping_mul(2_654_435_761) % 1_000_003
        )
        .unwrap();
    }
    std::fs::write(&path, &data).unwrap();
    let sources = skywatch_query::input::resolve(&[path.display().to_string()]).unwrap();
    let plan = skywatch_query::compile("stats count(*) as c by id | sort c desc | limit 5").unwrap();
    let outcome = |threads: usize, max_memory: u64| {
        let options = RunOptions {
            threads,
            max_memory: Some(max_memory),
            // Small pieces, so that both cores take a share of a small file.
            shortcuts: Shortcuts {
                piece_bytes: Some(64 << 10),
                ..Shortcuts::default()
            },
            ..RunOptions::default()
        };
        let outcome = run(&plan, &sources, &options).unwrap();
        let mut out = Vec::new();
        write(&outcome.result, Format::Ndjson, &mut out).unwrap();
        (String::from_utf8(out).unwrap(), outcome.stats.spills)
    };
    // How much the groups take: about the smallest budget one thread keeps them under.
    let mut fits: u64 = 1 << 20;
    while outcome(1, fits).1 > 0 {
        fits += fits / 4;
    }
    let (expected, _) = outcome(1, fits);
    // A bit over twice that: each core's third holds its half of the groups, and the merged
    // table fits what is left of the budget, though not a third of it.
    let (two_threads, spills) = outcome(2, fits * 9 / 4);
    assert_eq!(two_threads, expected);
    assert_eq!(spills, 0, "groups that fit the budget were spilled");
    // A budget a tenth of that spills, and still gives the one answer.
    let (small, spills) = outcome(2, fits / 10);
    assert_eq!(small, expected);
    assert!(spills > 0);
}

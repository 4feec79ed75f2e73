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

/// The NDJSON answer of `plan` over `sources` read in pieces of `piece_bytes`, and how many
/// times its stats tables spilled.
fn run_in_pieces(
    plan: &skywatch_query::plan::Plan,
    sources: &[skywatch_query::input::Source],
    threads: usize,
    max_memory: Option<u64>,
    piece_bytes: u64,
) -> (String, u64) {
    use skywatch_query::exec::{run, RunOptions, Shortcuts};
    let options = RunOptions {
        threads,
        max_memory,
        shortcuts: Shortcuts {
            piece_bytes: Some(piece_bytes),
            ..Shortcuts::default()
        },
        ..RunOptions::default()
    };
    let outcome = run(plan, sources, &options).unwrap();
    let mut out = Vec::new();
    skywatch_query::output::write(&outcome.result, skywatch_query::output::Format::Ndjson, &mut out).unwrap();
    (String::from_utf8(out).unwrap(), outcome.stats.spills)
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
    // Small pieces, so that both cores take a share of a small file.
    let outcome =
        |threads: usize, max_memory: u64| run_in_pieces(&plan, &sources, threads, Some(max_memory), 64 << 10);
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

/// A table past a few ten thousand groups splits into parts by hash; two cores' split tables
/// merge part by part. Around the split (just under, at and past it), with rows counted in
/// batches or one at a time, one core or two, spilling or not, every group keeps its count and
/// sum, and the groups come out in key order.
#[test]
fn tables_split_into_parts_keep_every_group() {
    use std::collections::BTreeMap;
    let dir = tempfile::tempdir().unwrap();
    for distinct in [32_767u64, 32_768, 50_000] {
        let path = dir.path().join(format!("ids-{distinct}.log"));
        let mut data = Vec::new();
        let mut expected: BTreeMap<String, (u64, u64)> = BTreeMap::new();
        for i in 0..distinct * 3 {
            // Keys come back in shuffled order; a few take most rows.
            let id = if i % 5 == 0 { i % 3 } else { (i * 7_919) % distinct };
            let id = format!("k{id:06}");
            let n = i % 1_000;
            writeln!(data, r#"{{"id":"{id}","n":{n}}}"#).unwrap();
            let group = expected.entry(id).or_default();
            *group = (group.0 + 1, group.1 + n);
        }
        std::fs::write(&path, &data).unwrap();
        let sources = skywatch_query::input::resolve(&[path.display().to_string()]).unwrap();
        // The first rows in key order (as many as a result holds), and sums over every group
        // that a lost, doubled or mismatched group would change.
        let first = |line: &dyn Fn(&str, u64, u64) -> String| -> String {
            expected
                .iter()
                .take(10_000)
                .map(|(id, &(c, s))| line(id, c, s))
                .collect()
        };
        let counted = first(&|id, c, _| format!("{{\"id\":\"{id}\",\"c\":{c}}}\n"));
        let summed = first(&|id, c, s| format!("{{\"id\":\"{id}\",\"c\":{c},\"s\":{s}}}\n"));
        let (rows, squares, products) = expected
            .values()
            .fold((0, 0, 0), |(r, q, p), &(c, s)| (r + c, q + c * c, p + c * s));
        let sums = format!(
            "{{\"groups\":{},\"rows\":{rows},\"squares\":{squares},\"products\":{products}}}\n",
            expected.len()
        );
        // The top groups, and the bottom ones (many tie: the ids break the ties).
        let mut by_count: Vec<(&String, u64)> = expected.iter().map(|(id, &(c, _))| (id, c)).collect();
        by_count.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let line = |id: &str, c: u64| format!("{{\"id\":\"{id}\",\"c\":{c}}}\n");
        let top: String = by_count.iter().take(25).map(|&(id, c)| line(id, c)).collect();
        by_count.sort_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(b.0)));
        let bottom: String = by_count.iter().take(1_500).map(|&(id, c)| line(id, c)).collect();
        let summary =
            "| stats count(*) as groups, sum(c) as rows, sum(c * c) as squares, sum(c * s) as products";
        for (query, want) in [
            ("stats count(*) as c by id".to_string(), &counted),
            (
                "stats count(*) as c by id | sort c desc | limit 25".to_string(),
                &top,
            ),
            (
                "stats count(*) as c by id | sort c | limit 1500".to_string(),
                &bottom,
            ),
            ("stats count(*) as c, sum(n) as s by id".to_string(), &summed),
            (format!("stats count(*) as c, sum(n) as s by id {summary}"), &sums),
            (
                format!("stats count(*) as c by id | fields c, c * 0 + 1 as s {summary}"),
                &{
                    let (rows, squares) = expected
                        .values()
                        .fold((0, 0), |(r, q), &(c, _)| (r + c, q + c * c));
                    format!(
                        "{{\"groups\":{},\"rows\":{rows},\"squares\":{squares},\"products\":{rows}}}\n",
                        expected.len()
                    )
                },
            ),
        ] {
            let plan = skywatch_query::compile(&query).unwrap();
            for threads in [1, 2] {
                for max_memory in [None, Some(2 << 20)] {
                    let (got, spills) = run_in_pieces(&plan, &sources, threads, max_memory, 256 << 10);
                    let path_name =
                        format!("{query}: {distinct} ids, {threads} threads, budget {max_memory:?}");
                    if got != *want {
                        let at = got.lines().zip(want.lines()).position(|(g, w)| g != w);
                        panic!(
                            "{path_name}: first difference at line {at:?}: {:?}",
                            at.map(|i| (got.lines().nth(i), want.lines().nth(i)))
                        );
                    }
                    assert_eq!(spills > 0, max_memory.is_some(), "{path_name}");
                }
            }
        }
    }
}

//! A sort with a limit keeps only the rows that can make the cut; its answer is the first rows
//! of the full sort, ties (broken by arrival, or by group values after stats) included.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;

use crate::support::answer;

fn answer(query: &str, path: &std::path::Path, threads: usize) -> Vec<String> {
    answer::ndjson(query, path, threads)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn top_k_is_the_head_of_the_full_sort() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log");
    let mut data = Vec::new();
    // 20 MB: cut into pieces for two workers. Few distinct scores, so every cut falls in ties.
    let mut i: u64 = 0;
    while data.len() < 20 << 20 {
        let score = (i * 7919) % 13;
        let user = (i * 104_729) % 5_000;
        // A tag that is a number, the same number as text, text with leading zeros, or absent:
        // groups that tie on their counts and compare equal, or nearly, in the natural order.
        let tag = match i % 7 {
            0 => format!(r#","tag":{}"#, user % 3000),
            1 => format!(r#","tag":"{}""#, user % 3000),
            2 => format!(r#","tag":"00{}""#, user % 3000),
            3 => String::new(),
            _ => format!(r#","tag":"t{}""#, user % 3000),
        };
        writeln!(data, r#"{{"n":{i},"score":{score},"user":"u{user}"{tag}}}"#).unwrap();
        i += 1;
    }
    std::fs::write(&path, &data).unwrap();
    for (limited, full, k) in [
        (
            "fields n, score | sort score desc | limit 25",
            "fields n, score | sort score desc",
            25,
        ),
        (
            "fields n, score | sort score | limit 2000",
            "fields n, score | sort score",
            2000,
        ),
        (
            "stats count(*) as c by user | sort c desc | limit 30",
            "stats count(*) as c by user | sort c desc",
            30,
        ),
        (
            // Two `by` terms of one name: the row shows the last; the groups are still pairs.
            "stats count(*) as c, max(n) as m by tag as k, score as k | sort c desc | limit 40",
            "stats count(*) as c, max(n) as m by tag as k, score as k | sort c desc",
            40,
        ),
        (
            "stats count(*) as c by tag | sort c desc | limit 700",
            "stats count(*) as c by tag | sort c desc",
            700,
        ),
        (
            "stats max(score) as m, count(*) as c by user | sort m, c | limit 1500",
            "stats max(score) as m, count(*) as c by user | sort m, c",
            1500,
        ),
    ] {
        let expected: Vec<String> = answer(full, &path, 1).into_iter().take(k).collect();
        assert_eq!(expected.len(), k, "{full}");
        for threads in [1, 2] {
            assert_eq!(
                answer(limited, &path, threads),
                expected,
                "{limited} with {threads} threads"
            );
        }
    }
}

#[test]
fn groups_equal_but_for_their_kind_are_cut_as_the_full_sort_cuts_them() {
    // Every group counts one row and every value comes twice, as a number and then, far
    // apart, as text: the ties are broken by the value, then the kind (text first). The
    // values arrive shuffled, so the rows held for the cut are trimmed many times, and the
    // text often comes after its number has become the edge of the cut.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log");
    let mut data = Vec::new();
    let values = 20_000u64;
    for i in 0..values {
        writeln!(data, r#"{{"tag":{}}}"#, (i * 7_919) % values).unwrap();
    }
    for i in 0..values {
        writeln!(data, r#"{{"tag":"{}"}}"#, (i * 104_729) % values).unwrap();
    }
    std::fs::write(&path, &data).unwrap();
    for k in [1, 99, 100, 1_500] {
        let limited = format!("stats count(*) as c by tag | sort c desc | limit {k}");
        let expected: Vec<String> = answer("stats count(*) as c by tag | sort c desc", &path, 1)
            .into_iter()
            .take(k)
            .collect();
        assert_eq!(expected.len(), k);
        assert!(expected[0].contains(r#""tag":"0""#), "{}", expected[0]);
        for threads in [1, 2] {
            assert_eq!(
                answer(&limited, &path, threads),
                expected,
                "{limited}, {threads} threads"
            );
        }
    }
}

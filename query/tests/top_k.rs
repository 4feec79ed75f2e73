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
        writeln!(data, r#"{{"n":{i},"score":{score},"user":"u{user}"}}"#).unwrap();
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

//! Property test: no query text makes the parser or planner panic, and every error's span lies
//! within the text, so the caret can always be drawn. Inputs are the corpus queries mutated at
//! random (deleted, duplicated, swapped and inserted characters and tokens) and random token soup.

// Test code: a failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

/// A small deterministic generator (SplitMix64), so a failure reproduces from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const PIECES: &[&str] = &[
    "|",
    "(",
    ")",
    "[",
    "]",
    ",",
    "\"",
    "'",
    "`",
    "/",
    "\\",
    "#",
    "*",
    "=",
    "!=",
    "=~",
    "<",
    ">=",
    "^",
    "%",
    "-",
    ".",
    "@",
    "fields",
    "filter",
    "stats",
    "sort",
    "limit",
    "parse",
    "dedup",
    "display",
    "by",
    "as",
    "and",
    "or",
    "not",
    "in",
    "like",
    "desc",
    "bin(5m)",
    "count(*)",
    "pct(x, 99)",
    "@message",
    "@timestamp",
    "5m",
    "0",
    "1e999",
    "99999999999999999999",
    "ü",
    "\u{0}",
    "\n",
    " ",
    "unnest",
    "SOURCE",
    "join",
    "(filter a in (",
    "/(?<x>",
    "\"*\"",
    "as a, b",
    "multi",
];

fn check(query: &str) {
    if let Err(e) = skywatch_query::compile(query) {
        let span = e.span();
        assert!(
            span.start <= span.end && span.end <= query.len(),
            "span {span:?} outside {query:?}"
        );
        let rendered = e.render(query);
        assert!(rendered.starts_with("query error at "), "{rendered}");
    }
}

#[test]
fn mutated_corpus_queries_never_panic() {
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/queries.txt"))
            .unwrap();
    let queries: Vec<&str> = text.split("\n---\n").collect();
    let mut rng = Rng(42);
    for _ in 0..20_000 {
        let base = queries[rng.below(queries.len())];
        let mut chars: Vec<char> = base.chars().collect();
        for _ in 0..=rng.below(4) {
            let at = rng.below(chars.len() + 1);
            match rng.below(4) {
                0 if !chars.is_empty() => {
                    chars.remove(at.min(chars.len() - 1));
                }
                1 => chars
                    .splice(at..at, PIECES[rng.below(PIECES.len())].chars())
                    .for_each(drop),
                2 if at < chars.len() => {
                    let other = rng.below(chars.len());
                    chars.swap(at, other);
                }
                _ => chars.truncate(at),
            }
        }
        check(&chars.into_iter().collect::<String>());
    }
}

#[test]
fn random_token_soup_never_panics() {
    let mut rng = Rng(7);
    for _ in 0..20_000 {
        let len = rng.below(30);
        let query: String = (0..len)
            .map(|_| PIECES[rng.below(PIECES.len())])
            .collect::<Vec<_>>()
            .join(" ");
        check(&query);
    }
}

//! Stats read straight from JSON keys give the answer the row path gives, on lines of every
//! shape the direct path meets or declines: numbers and strings under one key, escapes, nulls,
//! booleans, missing keys, nested objects, repeated keys, long texts, broken JSON, invalid
//! UTF-8 and plain text.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;

use crate::support::answer;

/// Values a key may hold; `None` leaves the key out.
const SERVICES: &[Option<&str>] = &[
    Some(r#""api""#),
    Some(r#""billing""#),
    Some(r#""a-service-name-longer-than-inline-text""#),
    Some(r#""bil\u006cing""#),
    Some(r#""quo\"ted""#),
    Some("7"),
    Some(r#""7""#),
    Some("true"),
    Some("null"),
    Some(r#""""#),
    None,
];
const LATENCIES: &[Option<&str>] = &[
    Some("12"),
    Some("0"),
    Some("-3"),
    Some("2.5e2"),
    Some("1500"),
    Some(r#""40""#),
    Some(r#""slow""#),
    Some("false"),
    Some("null"),
    None,
];

fn input() -> Vec<u8> {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n as u64) as usize
    };
    let mut data = Vec::new();
    for i in 0..6_000 {
        let mut members = vec![format!(r#""n":{i}"#), r#""msg":"done \"ok\"""#.to_string()];
        // Times every 0.7 s from 2024-03-01T00:00:00Z, written in the ways logs write them,
        // or missing (the line inherits the one before), or not a time at all.
        let ms = 1_709_251_200_000_u64 + i as u64 * 700;
        let seconds = ms / 1000;
        let iso = format!(
            "2024-03-01T{:02}:{:02}:{:02}.{:03}Z",
            (seconds / 3600) % 24,
            (seconds / 60) % 60,
            seconds % 60,
            ms % 1000
        );
        match next(10) {
            0 => members.push(format!(r#""timestamp":{ms}"#)),
            1 => members.push(format!(
                r#""@timestamp":"{iso}","timestamp":"2000-01-01T00:00:00Z""#
            )),
            2 => members.push(format!(r#""time":"{iso}""#)),
            3 => {}
            4 => members.push(r#""timestamp":"soon""#.to_string()),
            _ => members.push(format!(r#""timestamp":"{iso}""#)),
        }
        if let Some(s) = SERVICES[next(SERVICES.len())] {
            members.push(format!(r#""service":{s}"#));
        }
        if let Some(l) = LATENCIES[next(LATENCIES.len())] {
            members.push(format!(r#""latencyMs":{l}"#));
        }
        match next(12) {
            0 => members.insert(0, r#""http":{"service":"nested","latencyMs":9}"#.to_string()),
            1 => members.push(r#""service":"second""#.to_string()),
            2 => members.push(r#""err":{"code":"E1"}"#.to_string()),
            _ => {}
        }
        // Shuffle the members a little.
        let at = next(members.len());
        members.swap(0, at);
        let line = format!("{{{}}}", members.join(","));
        match next(40) {
            0 => data.extend_from_slice(b"plain text, not JSON\n"),
            1 => data.extend_from_slice(&line.as_bytes()[..line.len() - 1]),
            2 => data.extend_from_slice(b"{\"service\":\"caf\xff\",\"latencyMs\":5}"),
            3 => data.extend_from_slice(format!("  {line}  ").as_bytes()),
            _ => data.extend_from_slice(line.as_bytes()),
        }
        data.push(b'\n');
    }
    data
}

/// The answer to `query`; with `row_path`, a filter that passes every row goes first, so the
/// stats stage is not first and every line takes the row path: the reference answer.
fn answer(query: &str, path: &std::path::Path, threads: usize, row_path: bool) -> String {
    answer_in(query, path, threads, row_path, (None, None))
}

fn answer_in(
    query: &str,
    path: &std::path::Path,
    threads: usize,
    row_path: bool,
    range: (Option<i64>, Option<i64>),
) -> String {
    let query = if row_path {
        format!("filter 1 = 1 | {query}")
    } else {
        query.to_string()
    };
    let (rows, stats) = answer::ndjson_in(&query, path, threads, range);
    format!(
        "{rows}matched {} scanned {} bytes {} invalid utf-8 {} untimed {}",
        stats.records_matched,
        stats.records_scanned,
        stats.bytes_scanned,
        stats.invalid_utf8,
        stats.without_timestamp
    )
}

#[test]
fn direct_stats_answer_as_the_row_path_does() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log");
    std::fs::write(&path, input()).unwrap();
    for query in [
        "stats avg(latencyMs), max(latencyMs), min(latencyMs), pct(latencyMs, 99) by service",
        "stats count(*) by service",
        "stats count(*) as c by service | sort c desc | limit 3",
        "stats count(latencyMs), sum(latencyMs), stddev(latencyMs), count_distinct(service)",
        "stats count(*), sortsFirst(latencyMs), sortsLast(service) by service, latencyMs",
        "stats avg(latencyMs) * 2 as double, count(*) by service",
        "stats count(*) by service as svc | filter svc != 'api'",
        "stats count(*) by bin(5m)",
        "stats count(*), avg(latencyMs) by bin(1m), service",
        "stats earliest(service), latest(latencyMs), min(@timestamp), max(@timestamp) by service",
        "stats count(*) by @timestamp | sort count(*) desc | limit 5",
    ] {
        let reference = answer(query, &path, 1, true);
        assert!(reference.lines().count() >= 2, "{query}: {reference}");
        assert_eq!(answer(query, &path, 1, false), reference, "{query}");
    }
    // A time range: lines outside it are not counted, whichever path reads them.
    let range = (Some(1_709_252_000_000), Some(1_709_253_000_000));
    for query in [
        "stats count(*) by bin(5m)",
        "stats count(*), max(latencyMs) by service",
    ] {
        let reference = answer_in(query, &path, 1, true, range);
        assert_eq!(
            answer_in(query, &path, 1, false, range),
            reference,
            "{query} in a range"
        );
    }
}

/// The shape is the benchmark's: the direct path with two workers over file pieces.
#[test]
fn direct_stats_over_pieces_merge_as_one_reader() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.log");
    let mut data = Vec::new();
    let mut i: u64 = 0;
    while data.len() < 17 << 20 {
        writeln!(
            data,
            r#"{{"level":"INFO","service":"s{}","latencyMs":{},"userId":"user-{}"}}"#,
            i % 5,
            (i * 37) % 1000,
            (i * 7919) % 3001
        )
        .unwrap();
        i += 1;
    }
    std::fs::write(&path, &data).unwrap();
    for query in [
        "stats avg(latencyMs), max(latencyMs), pct(latencyMs, 99) by service",
        "stats count(*) by userId | sort count(*) desc, userId | limit 10",
    ] {
        let reference = answer(query, &path, 1, true);
        assert_eq!(answer(query, &path, 2, false), reference, "{query}");
    }
}

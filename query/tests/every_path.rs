//! One answer, whatever the path: every conformance case, and a battery of queries over a
//! generated input full of the lines that split paths (repeated keys, broken JSON, integers past
//! 2^53, events past 200 fields, escapes, nesting, text), run with 1 and N threads, with and
//! without `--stats`, from a plain file cut into pieces at random offsets, from gzip and zstd
//! (streams, read as stdin is) cut into random chunks, with each shortcut — the key search, the
//! early stop, direct stats, the literal pre-filter — turned off, and with all of them off. Every
//! answer must be the case's expected output (or the all-off path's, for the battery).
//!
//! As ripgrep's searcher tests force each of its code paths over the same inputs, so that a
//! fast path that answers differently fails here before a user meets it.

use std::fmt::Write as _;

use skywatch_query::exec::{ShortcutLines, Shortcuts};

use crate::support::cases::{all_cases, run_case_as, Form, Variant};

/// A small deterministic generator (xorshift), so a failure names a seed that repeats it.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

/// The paths every case is run through.
fn variants(seed: u64) -> Vec<Variant> {
    let mut rng = Rng(seed | 1);
    let none = Shortcuts {
        key_search: false,
        stop_early: false,
        direct_stats: false,
        prefilter: false,
        ..Shortcuts::default()
    };
    let mut list = vec![
        Variant::default(),
        Variant {
            name: "--stats".into(),
            validate_json: true,
            ..Variant::default()
        },
        Variant {
            name: "no key search".into(),
            shortcuts: Shortcuts {
                key_search: false,
                ..Shortcuts::default()
            },
            ..Variant::default()
        },
        Variant {
            name: "no early stop".into(),
            shortcuts: Shortcuts {
                stop_early: false,
                ..Shortcuts::default()
            },
            ..Variant::default()
        },
        Variant {
            name: "no direct stats".into(),
            shortcuts: Shortcuts {
                direct_stats: false,
                ..Shortcuts::default()
            },
            ..Variant::default()
        },
        Variant {
            name: "no pre-filter".into(),
            shortcuts: Shortcuts {
                prefilter: false,
                ..Shortcuts::default()
            },
            ..Variant::default()
        },
        Variant {
            name: "no shortcut at all".into(),
            shortcuts: none,
            ..Variant::default()
        },
    ];
    for threads in [1, 3] {
        let piece = 1 + rng.below(4096);
        list.push(Variant {
            name: format!("{threads} thread(s), pieces of {piece} bytes"),
            threads,
            shortcuts: Shortcuts {
                piece_bytes: Some(piece),
                ..Shortcuts::default()
            },
            ..Variant::default()
        });
    }
    for (form, threads) in [(Form::Gzip, 2), (Form::Zstd, 3)] {
        let chunk = 1 + rng.below(8192) as usize;
        list.push(Variant {
            name: format!("{form:?}, {threads} threads, chunks of {chunk} bytes"),
            threads,
            form,
            shortcuts: Shortcuts {
                chunk_bytes: Some(chunk),
                ..Shortcuts::default()
            },
            ..Variant::default()
        });
    }
    for (threads, memory) in [(1, 4 << 10), (3, 16 << 10)] {
        list.push(Variant {
            name: format!("{threads} thread(s), stats tables spilling past {memory} bytes"),
            threads,
            max_memory: Some(memory),
            shortcuts: Shortcuts {
                piece_bytes: Some(1 + rng.below(4096)),
                ..Shortcuts::default()
            },
            ..Variant::default()
        });
    }
    list.push(Variant {
        name: "--stats, 3 threads, no shortcut, pieces of 777 bytes".into(),
        threads: 3,
        validate_json: true,
        shortcuts: Shortcuts {
            piece_bytes: Some(777),
            ..none
        },
        form: Form::Plain,
        max_memory: None,
    });
    list
}

fn seed() -> u64 {
    std::env::var("EVERY_PATH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_1234)
}

#[test]
fn every_conformance_case_gives_its_answer_on_every_path() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let seed = seed();
    let variants = variants(seed);
    let mut failures = String::new();
    let mut runs = 0;
    for (file, case) in all_cases(&root) {
        if case.expect_error {
            // A query error comes from compiling, before any path is chosen.
            continue;
        }
        for variant in &variants {
            runs += 1;
            let (is_error, actual) = run_case_as(&case, variant);
            let actual = actual.trim_end_matches(['\n', ' ']).to_string();
            if is_error || actual != case.expected.trim_end_matches('\n') {
                let _ = write!(
                    failures,
                    "\n{} :: {} [{}]\nquery: {}\nexpected:\n{}\nactual:\n{actual}\n",
                    file.display(),
                    case.name,
                    variant.name,
                    case.query,
                    case.expected
                );
            }
        }
    }
    assert!(runs > 100, "{runs} runs");
    assert!(
        failures.is_empty(),
        "paths disagree (EVERY_PATH_SEED={seed}):{failures}"
    );
}

/// Lines that split paths, in a random mix: plain JSON events, repeated keys, broken JSON,
/// integers past 2^53, events past 200 fields, escaped keys and values, nesting, text events
/// with and without a time, blank lines and invalid UTF-8.
fn tricky_input(rng: &mut Rng, lines: usize) -> Vec<u8> {
    let levels = ["INFO", "WARN", "ERROR"];
    let services = ["api", "billing", "search"];
    let mut out = Vec::new();
    for i in 0..lines {
        let second = i / 4;
        let stamp = format!("2024-03-01T00:{:02}:{:02}Z", (second / 60) % 60, second % 60);
        let level = levels[rng.below(3) as usize];
        let svc = services[rng.below(3) as usize];
        let latency = rng.below(2000);
        let line = match rng.below(19) {
            0 => format!(
                r#"{{"timestamp":"{stamp}","level":"{level}","svc":"a","svc":"{svc}","latency":{latency}}}"#
            ),
            1 => format!(r#"{{"timestamp":"{stamp}","level":"{level}","svc":"{svc}","latency":tru}}"#),
            2 => format!(r#"{{"timestamp":"{stamp}","level":"{level}","svc":"{svc}"}}{{"level":"INFO"}}"#),
            3 => format!(r#"{{"timestamp":"{stamp}","level":"{level}","svc":"{svc}","latency":{latency},"#),
            4 => format!(
                r#"{{"timestamp":"{stamp}","level":"{level}","svc":"{svc}","id":{}}}"#,
                9_007_199_254_740_990 + rng.below(6)
            ),
            5 => {
                let many: Vec<String> = (0..210).map(|k| format!(r#""f{k}":{k}"#)).collect();
                format!(
                    r#"{{"timestamp":"{stamp}",{},"level":"{level}","svc":"{svc}","latency":{latency}}}"#,
                    many.join(",")
                )
            }
            6 => format!(
                r#"{{"timestamp":"{stamp}","l\u0065vel":"{level}","svc":"b\u0069lling","latency":{latency}}}"#
            ),
            7 => format!(
                r#"{{"timestamp":"{stamp}","level":"{level}","svc":"{svc}","http":{{"status":{},"path":"/a\/b"}},"latency":{latency}}}"#,
                200 + rng.below(4) * 100
            ),
            8 => format!("{stamp} {level} {svc} took {latency} ms"),
            9 => format!("{level} {svc} a line without a time"),
            10 => String::new(),
            11 => format!(
                r#"  {{ "timestamp" : "{stamp}" , "level" : "{level}" , "svc" : "{svc}" , "latency" : {latency} }}  "#
            ),
            12 => format!(
                r#"{stamp} {{"level":"{level}","svc":"{svc}","orderId":"o-{}","latency":{latency}}}"#,
                rng.below(5)
            ),
            13 => format!(
                "{stamp}\t6f1a9c2e-1b2c-4d5e-8f90-1234567890ab\t{level}\t{{\"orderId\":\"o-{}\",\"latency\":{latency}}}",
                rng.below(5)
            ),
            15 => format!(
                // Microseconds that round up into the next millisecond.
                r#"{{"ts":{}.{:03}9996,"level":"{level}","svc":"{svc}","latency":{latency}}}"#,
                1_709_251_200 + second,
                rng.below(1000)
            ),
            16 => format!(r#"{{"time":"1e12","level":"{level}","svc":"{svc}"}}"#),
            14 => format!(
                "{stamp} REPORT RequestId: 6f1a9c2e-1b2c-4d5e-8f90-1234567890ab\tDuration: {latency}.5 ms\tBilled Duration: {latency} ms"
            ),
            _ => format!(
                r#"{{"timestamp":"{stamp}","level":"{level}","svc":"{svc}","latency":{latency},"msg":"quote \" and \\ and \n"}}"#
            ),
        };
        out.extend_from_slice(line.as_bytes());
        if rng.below(50) == 0 {
            out.extend_from_slice(b" \xff\xfe");
        }
        out.push(b'\n');
    }
    out
}

/// Queries over [`tricky_input`]: filters, stats the direct path serves and ones it does not,
/// sorts, dedup, parse, time bins, fields that may be absent.
const BATTERY: &[&str] = &[
    "stats count(*) as n",
    "filter level = \"ERROR\" | stats count(*) as n",
    "stats count(*) as n by svc | sort svc asc",
    "stats count(*) as n, avg(latency) as a, max(latency) as m, pct(latency, 90) as p by level, svc | sort level asc, svc asc",
    "stats count(*) as n by bin(1m) as minute | sort minute asc",
    "stats count(latency) as n, sum(latency) as s by svc | sort svc asc",
    "filter latency > 1000 | stats count(*) as n by level | sort level asc",
    "stats count(*) as n by id | sort id desc",
    "filter id = 9007199254740993 | stats count(*) as n",
    "stats max(id) as m, min(id) as lo",
    "fields @timestamp, level, svc, latency | sort @timestamp desc, latency asc | limit 25",
    "fields @timestamp, level | filter ispresent(level) | sort @timestamp asc, level asc | limit 40",
    "filter @message like /ERROR/ | stats count(*) as n, count(level) as with_level",
    "stats count(*) as n by http.status | sort http.status asc",
    "filter f5 = 5 | stats count(*) as n",
    "stats count(*) as n by f199, f200 | sort f199 asc",
    "parse @message \"* * took * ms\" as lvl, service, ms | filter ispresent(ms) | stats count(*) as n, sum(ms) as total by lvl | sort lvl asc",
    "fields svc, level | sort svc asc, level asc | dedup svc, level",
    "stats count_distinct(svc) as d by level | sort level asc",
    "filter msg like /quote/ | stats count(*) as n",
    "stats count(*) as n, sum(latency) as s by orderId | sort orderId asc",
    "fields @timestamp, svc, latency | sort latency desc | filter latency > 100 | limit 15",
    "fields svc, level, latency | sort latency asc, svc desc | dedup svc, level",
    "filter @type = \"REPORT\" | stats count(*) as n, avg(@duration) as d",
];

/// The battery's answers on one path, one NDJSON text per query, and the lines each shortcut
/// served over the whole battery.
fn battery_answers(
    battery: &[&str],
    path: &std::path::Path,
    variant: &Variant,
    dir: &std::path::Path,
) -> (Vec<String>, ShortcutLines, u64) {
    use skywatch_query::exec::{run, RunOptions};
    use skywatch_query::output::{write, Format};
    let input = crate::support::cases::in_form(path, variant.form, dir);
    let sources = skywatch_query::input::resolve(&[input.display().to_string()]).expect("input");
    let mut served = ShortcutLines::default();
    let mut spills = 0;
    let answers = battery
        .iter()
        .map(|query| {
            let plan = skywatch_query::compile(query).expect("battery query compiles");
            let options = RunOptions {
                now_ms: 1_709_337_600_000,
                threads: variant.threads,
                validate_json: variant.validate_json,
                shortcuts: variant.shortcuts,
                max_memory: variant.max_memory,
                ..RunOptions::default()
            };
            let outcome = run(&plan, &sources, &options).expect("battery query runs");
            let lines = outcome.stats.shortcut_lines;
            spills += outcome.stats.spills;
            served.key_search += lines.key_search;
            served.direct_stats += lines.direct_stats;
            served.prefilter += lines.prefilter;
            let mut out = Vec::new();
            write(&outcome.result, Format::Ndjson, &mut out).expect("rows");
            String::from_utf8(out).expect("utf-8")
        })
        .collect();
    (answers, served, spills)
}

/// Writes to `failures` each of `battery`'s queries whose answer on path `name` is not the
/// reference's.
fn note_disagreements(
    failures: &mut String,
    name: &str,
    battery: &[&str],
    reference: &[String],
    answers: &[String],
) {
    for ((query, expected), answer) in battery.iter().zip(reference).zip(answers) {
        if answer != expected {
            let _ = write!(
                failures,
                "\n[{name}] {query}\nreference:\n{expected}actual:\n{answer}"
            );
        }
    }
}

#[test]
fn a_generated_input_full_of_edge_lines_gives_one_answer_on_every_path() {
    let seed = seed();
    let mut rng = Rng(seed | 1);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tricky.log");
    std::fs::write(&path, tricky_input(&mut rng, 4000)).unwrap();
    let variants = variants(seed ^ 0x9e37);
    // The reference: no shortcut, one thread, the plain file whole.
    let (reference, none, _) = battery_answers(BATTERY, &path, &variants[6], dir.path());
    assert_eq!(variants[6].name, "no shortcut at all");
    assert_eq!(none, ShortcutLines::default(), "no shortcut taken");
    assert!(
        reference.iter().all(|answer| !answer.is_empty()),
        "every query finds something: {reference:?}"
    );
    let mut failures = String::new();
    for variant in &variants {
        let (answers, served, spills) = battery_answers(BATTERY, &path, variant, dir.path());
        assert_eq!(
            spills > 0,
            variant.max_memory.is_some(),
            "[{}] {spills} spills",
            variant.name
        );
        // Each path compared is one that was taken: a shortcut that declined every line would
        // agree with the reference without being tested.
        let on = variant.shortcuts;
        let expect = |taken: u64, enabled: bool, what: &str| {
            assert_eq!(
                taken > 0,
                enabled,
                "[{}] {what} served {taken} lines",
                variant.name
            );
        };
        expect(
            served.key_search,
            on.key_search && !variant.validate_json,
            "the key search",
        );
        expect(
            served.direct_stats,
            on.direct_stats && !variant.validate_json,
            "direct stats",
        );
        expect(served.prefilter, on.prefilter, "the pre-filter");
        note_disagreements(&mut failures, &variant.name, BATTERY, &reference, &answers);
    }
    assert!(
        failures.is_empty(),
        "paths disagree (EVERY_PATH_SEED={seed}):{failures}"
    );
}

/// Lines with an id each, most of them distinct: enough groups that stats tables split into
/// parts by hash, merge part by part and pick their top rows on several cores.
fn many_ids(rng: &mut Rng, lines: usize) -> Vec<u8> {
    let services = ["api", "billing", "search"];
    let mut out = Vec::new();
    for i in 0..lines {
        let svc = services[rng.below(3) as usize];
        let latency = rng.below(2000);
        // A few hot ids; the rest mostly new, some as numbers, some written with an escape.
        let id = match rng.below(20) {
            0 => format!(r#""hot-{}""#, rng.below(3)),
            1 => format!("{}", rng.below(200_000)),
            2 => format!(r#""\u0069d-{}""#, rng.below(200_000)),
            _ => format!(r#""id-{}""#, rng.below(200_000)),
        };
        let line = match rng.below(40) {
            0 => format!("{svc} took {latency} ms, no id"),
            1 => format!(r#"{{"svc":"{svc}","latency":{latency}}}"#),
            _ => format!(r#"{{"id":{id},"svc":"{svc}","latency":{latency},"n":{i}}}"#),
        };
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
    }
    out
}

/// Queries over [`many_ids`]: counted in batches or not, top and bottom cuts full of ties, two
/// `by` terms, and every group summed up.
const HIGH_CARDINALITY: &[&str] = &[
    "stats count(*) as n by id | sort n desc | limit 7",
    "stats count(*) as n, sum(latency) as s by id | sort n asc, s desc | limit 40",
    "stats count(*) as n by id, svc | sort n desc | limit 25",
    "stats count(*) as n, max(latency) as m by id | stats count(*) as groups, sum(n) as rows, sum(m) as ms",
    "stats count(*) as n by id | filter n > 2 | sort id asc",
];

#[test]
fn a_high_cardinality_input_gives_one_answer_on_every_path() {
    let seed = seed();
    let mut rng = Rng(seed | 1);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ids.log");
    std::fs::write(&path, many_ids(&mut rng, 70_000)).unwrap();
    // The budgets of a few KiB the other batteries spill under would spill these groups
    // thousands of times: these spill past 2 MiB, a few times.
    let mut variants = variants(seed ^ 0x7f4a);
    for variant in &mut variants {
        if variant.max_memory.is_some() {
            variant.max_memory = Some(2 << 20);
        }
    }
    let (reference, _, _) = battery_answers(HIGH_CARDINALITY, &path, &variants[6], dir.path());
    assert_eq!(variants[6].name, "no shortcut at all");
    let groups = &reference[3];
    let distinct: u64 = groups
        .split("\"groups\":")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(distinct > 32_768, "enough groups to split a table: {groups}");
    let mut failures = String::new();
    for variant in &variants {
        let (answers, _, spills) = battery_answers(HIGH_CARDINALITY, &path, variant, dir.path());
        assert_eq!(
            spills > 0,
            variant.max_memory.is_some(),
            "[{}] {spills} spills",
            variant.name
        );
        note_disagreements(
            &mut failures,
            &variant.name,
            HIGH_CARDINALITY,
            &reference,
            &answers,
        );
    }
    assert!(
        failures.is_empty(),
        "paths disagree (EVERY_PATH_SEED={seed}):{failures}"
    );
}

/// Text lines with long runs of lines without a time (stack traces, some over 16 lines, some
/// over 64 KiB), with matches inside the runs: what each takes as its time must not depend on
/// the pre-filter, the pieces or the chunks.
fn untimed_runs(rng: &mut Rng) -> Vec<u8> {
    let mut out = Vec::new();
    for minute in 0..24 {
        out.extend_from_slice(format!("2024-03-01T00:{minute:02}:00Z INFO request {minute}\n").as_bytes());
        let run = match rng.below(4) {
            0 => 3,
            1 => 20 + rng.below(30),
            2 => 800 + rng.below(200), // about 65-80 KiB of trace
            _ => 0,
        };
        for i in 0..run {
            let word = if rng.below(25) == 0 { "ERROR" } else { "at" };
            out.extend_from_slice(
                format!(
                    "    {word} com.example.Service.method{i}(Service.java:{}) {}\n",
                    rng.below(999),
                    "x".repeat(40)
                )
                .as_bytes(),
            );
        }
    }
    out
}

#[test]
fn lines_without_a_time_take_the_same_one_on_every_path() {
    let seed = seed();
    let mut rng = Rng(seed | 1);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("traces.log");
    std::fs::write(&path, untimed_runs(&mut rng)).unwrap();
    let queries = [
        "filter @message like /ERROR/ | fields @timestamp, @message | sort @timestamp asc, @message asc | limit 500",
        "filter @message like /ERROR/ | stats count(*) as n by bin(1m) as minute | sort minute asc",
        "stats count(*) as n by bin(5m) as minute | sort minute asc",
    ];
    let variants = variants(seed ^ 0x5151);
    let run_all = |variant: &Variant| -> Vec<String> {
        use skywatch_query::exec::{run, RunOptions};
        use skywatch_query::output::{write, Format};
        let input = crate::support::cases::in_form(&path, variant.form, dir.path());
        let sources = skywatch_query::input::resolve(&[input.display().to_string()]).unwrap();
        queries
            .iter()
            .map(|q| {
                let plan = skywatch_query::compile(q).unwrap();
                let options = RunOptions {
                    now_ms: 1_709_337_600_000,
                    threads: variant.threads,
                    validate_json: variant.validate_json,
                    shortcuts: variant.shortcuts,
                    max_memory: variant.max_memory,
                    ..RunOptions::default()
                };
                let outcome = run(&plan, &sources, &options).unwrap();
                let mut out = Vec::new();
                write(&outcome.result, Format::Ndjson, &mut out).unwrap();
                String::from_utf8(out).unwrap()
            })
            .collect()
    };
    let reference = run_all(&variants[6]);
    assert!(reference[0].lines().count() > 20, "{}", reference[0]);
    let mut failures = String::new();
    for variant in &variants {
        for (i, answer) in run_all(variant).iter().enumerate() {
            if *answer != reference[i] {
                let _ = write!(
                    failures,
                    "\n[{}] {}\nreference:\n{}actual:\n{answer}",
                    variant.name, queries[i], reference[i]
                );
            }
        }
    }
    assert!(
        failures.is_empty(),
        "paths disagree (EVERY_PATH_SEED={seed}):{failures}"
    );
}

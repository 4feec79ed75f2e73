//! The conformance harness: case files, running a case, blessing.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use skywatch_query::exec::{run, RunOptions};
use skywatch_query::input::Source;
use skywatch_query::output::{write, Format};

use super::fixtures::{fixtures, NOW_MS};

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Check,
    Bless,
}

pub fn collect_case_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_case_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "case") {
            out.push(path);
        }
    }
}

struct Case {
    name: String,
    input: Input,
    query: String,
    expect_error: bool,
    expected: String,
}

enum Input {
    Fixtures(Vec<String>),
    Inline(String),
}

fn parse_cases(text: &str, file: &Path) -> Vec<Case> {
    let mut cases = Vec::new();
    for block in text.split("\n=== ").map(|b| b.trim_start_matches("=== ")) {
        if block.trim().is_empty() || block.trim_start().starts_with('#') && !block.contains("--- query") {
            continue;
        }
        let mut name = String::new();
        let mut input = Input::Fixtures(Vec::new());
        let mut query = String::new();
        let mut expected = String::new();
        let mut expect_error = false;
        let mut section = "";
        let mut inline = String::new();
        for (i, line) in block.lines().enumerate() {
            if i == 0 {
                name = line.trim().to_string();
                continue;
            }
            if let Some(header) = line.strip_prefix("--- ") {
                let mut words = header.split_whitespace();
                section = match words.next() {
                    Some("input") => {
                        let names: Vec<String> = words.map(str::to_string).collect();
                        if names == ["inline"] {
                            "inline"
                        } else {
                            input = Input::Fixtures(names);
                            "input"
                        }
                    }
                    Some("query") => "query",
                    Some("output") => "output",
                    Some("error") => {
                        expect_error = true;
                        "output"
                    }
                    other => panic!("{}: case '{name}': unknown section {other:?}", file.display()),
                };
                continue;
            }
            let target = match section {
                "query" => &mut query,
                "output" => &mut expected,
                "inline" => &mut inline,
                _ => continue,
            };
            target.push_str(line);
            target.push('\n');
        }
        if !inline.is_empty() {
            input = Input::Inline(inline);
        }
        cases.push(Case {
            name,
            input,
            query: query.trim_end().to_string(),
            expect_error,
            expected: normalized(&expected),
        });
    }
    cases
}

fn run_case(case: &Case) -> (bool, String) {
    let plan = match skywatch_query::compile(&case.query) {
        Ok(plan) => plan,
        Err(e) => return (true, format!("{}\n", e.render(&case.query))),
    };
    let tmp;
    let sources: Vec<Source> = match &case.input {
        Input::Fixtures(names) => {
            let paths: Vec<String> = names
                .iter()
                .map(|n| fixtures().join(format!("{n}.log")).display().to_string())
                .collect();
            skywatch_query::input::resolve(&paths).expect("fixture paths")
        }
        Input::Inline(text) => {
            tmp = tempfile::tempdir().expect("temp dir");
            let path = tmp.path().join("inline.log");
            std::fs::write(&path, text).expect("write inline input");
            skywatch_query::input::resolve(&[path.display().to_string()]).expect("inline path")
        }
    };
    let options = RunOptions {
        now_ms: NOW_MS,
        ..RunOptions::default()
    };
    match run(&plan, &sources, &options) {
        Ok(outcome) if !outcome.unreadable.is_empty() => {
            (true, format!("unreadable: {:?}\n", outcome.unreadable))
        }
        Ok(outcome) => {
            let result = outcome.result;
            let mut out = Vec::new();
            write(&result, Format::Ndjson, &mut out).expect("write rows");
            (false, String::from_utf8(out).expect("utf-8 output"))
        }
        Err(e) => (true, format!("run error: {e}\n")),
    }
}

/// Runs every case of `file`; returns the count and the failures (or rewrites the file in bless
/// mode).
pub fn run_case_file(file: &Path, mode: Mode) -> (usize, Vec<String>) {
    let text = std::fs::read_to_string(file).expect("read case file");
    let cases = parse_cases(&text, file);
    let mut failures = Vec::new();
    let mut blessed = String::new();
    for case in &cases {
        let (is_error, actual) = run_case(case);
        let actual = normalized(&actual);
        if mode == Mode::Bless {
            blessed.push_str(&render_case(case, is_error, &actual));
            continue;
        }
        if is_error != case.expect_error || actual != case.expected {
            failures.push(format!(
                "{} :: {}\nquery:\n{}\nexpected ({}):\n{}actual ({}):\n{}",
                file.display(),
                case.name,
                case.query,
                if case.expect_error { "error" } else { "output" },
                case.expected,
                if is_error { "error" } else { "output" },
                actual
            ));
        }
    }
    if mode == Mode::Bless {
        let header: String =
            text.lines()
                .take_while(|l| l.starts_with('#'))
                .fold(String::new(), |mut acc, l| {
                    let _ = writeln!(acc, "{l}");
                    acc
                });
        std::fs::write(file, format!("{header}{blessed}")).expect("bless case file");
    }
    (cases.len(), failures)
}

/// Text without trailing blank lines, ending in one newline unless empty.
fn normalized(text: &str) -> String {
    let trimmed = text.trim_end_matches(['\n', ' ']);
    if trimmed.is_empty() {
        String::new()
    } else {
        format!("{trimmed}\n")
    }
}

fn render_case(case: &Case, is_error: bool, actual: &str) -> String {
    let mut out = format!("=== {}\n", case.name);
    match &case.input {
        Input::Fixtures(names) if names.is_empty() => {}
        Input::Fixtures(names) => {
            let _ = writeln!(out, "--- input {}", names.join(" "));
        }
        Input::Inline(text) => {
            let _ = write!(out, "--- input inline\n{text}");
        }
    }
    let _ = writeln!(out, "--- query\n{}", case.query);
    out.push_str(if is_error { "--- error\n" } else { "--- output\n" });
    out.push_str(actual);
    out.push('\n');
    out
}

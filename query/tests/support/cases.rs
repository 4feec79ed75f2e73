//! The conformance harness: case files, running a case, blessing.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use skywatch_query::exec::{run, RunOptions, Shortcuts};
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

pub struct Case {
    pub name: String,
    input: Input,
    /// `--- table NAME`: lookup tables (CSV text), in the lookup directory of the run.
    tables: Vec<(String, String)>,
    /// `--- group NAME`: log groups (their lines) a subquery's or join's SOURCE can name.
    groups: Vec<(String, String)>,
    /// `--- range START END` (RFC 3339): the query's time range, as --start/--end give it.
    range: Option<(String, String)>,
    pub query: String,
    pub expect_error: bool,
    pub expected: String,
}

/// How a case is run: the way logq runs it by default, or with shortcuts turned off, other
/// threads, pieces cut anywhere, `--stats`, or the input compressed (a stream, read as stdin
/// is).
#[derive(Debug, Clone)]
pub struct Variant {
    pub name: String,
    pub threads: usize,
    /// `--stats`: every JSON line checked whole, broken ones counted.
    pub validate_json: bool,
    pub shortcuts: Shortcuts,
    pub form: Form,
    /// `--max-memory`: stats tables past it spill to disk.
    pub max_memory: Option<u64>,
}

/// The form the input is read in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    Plain,
    Gzip,
    Zstd,
}

impl Default for Variant {
    fn default() -> Variant {
        Variant {
            name: "default".into(),
            threads: 1,
            validate_json: false,
            shortcuts: Shortcuts::default(),
            form: Form::Plain,
            max_memory: None,
        }
    }
}

/// `path`'s bytes written in `form` into `dir` (the same name, with its extension).
pub fn in_form(path: &Path, form: Form, dir: &Path) -> PathBuf {
    use std::io::Write as _;
    let name = path
        .file_name()
        .expect("file name")
        .to_string_lossy()
        .into_owned();
    let data = std::fs::read(path).expect("read input");
    match form {
        Form::Plain => path.to_path_buf(),
        Form::Gzip => {
            let out = dir.join(format!("{name}.gz"));
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            enc.write_all(&data).expect("gzip");
            std::fs::write(&out, enc.finish().expect("gzip")).expect("write gzip");
            out
        }
        Form::Zstd => {
            let out = dir.join(format!("{name}.zst"));
            std::fs::write(&out, zstd::encode_all(&data[..], 1).expect("zstd")).expect("write zstd");
            out
        }
    }
}

/// Every case of the case files under `root`, with the file it came from.
pub fn all_cases(root: &Path) -> Vec<(PathBuf, Case)> {
    let mut files = Vec::new();
    collect_case_files(root, &mut files);
    files.sort();
    files
        .into_iter()
        .flat_map(|file| {
            let text = std::fs::read_to_string(&file).expect("read case file");
            parse_cases(&text, &file)
                .into_iter()
                .map(move |case| (file.clone(), case))
        })
        .collect()
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
        let mut tables: Vec<(String, String)> = Vec::new();
        let mut groups: Vec<(String, String)> = Vec::new();
        let mut range = None;
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
                    Some("table") => {
                        let table = words.next().unwrap_or_default().to_string();
                        tables.push((table, String::new()));
                        "table"
                    }
                    Some("group") => {
                        let group = words.next().unwrap_or_default().to_string();
                        groups.push((group, String::new()));
                        "group"
                    }
                    Some("range") => {
                        let start = words.next().unwrap_or_default().to_string();
                        let end = words.next().unwrap_or_default().to_string();
                        range = Some((start, end));
                        "range"
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
                "table" => match tables.last_mut() {
                    Some((_, text)) => text,
                    None => continue,
                },
                "group" => match groups.last_mut() {
                    Some((_, text)) => text,
                    None => continue,
                },
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
            tables,
            groups,
            range,
            query: query.trim_end().to_string(),
            expect_error,
            expected: normalized(&expected),
        });
    }
    cases
}

fn run_case(case: &Case) -> (bool, String) {
    run_case_as(case, &Variant::default())
}

/// Runs `case` the way `variant` says: whether it is an error, and the output (NDJSON rows or
/// the rendered error).
pub fn run_case_as(case: &Case, variant: &Variant) -> (bool, String) {
    let plan = match skywatch_query::compile(&case.query) {
        Ok(plan) => plan,
        Err(e) => return (true, format!("{}\n", e.render(&case.query))),
    };
    let tmp = tempfile::tempdir().expect("temp dir");
    let paths: Vec<PathBuf> = match &case.input {
        Input::Fixtures(names) => names
            .iter()
            .map(|n| fixtures().join(format!("{n}.log")))
            .collect(),
        Input::Inline(text) => {
            let path = tmp.path().join("inline.log");
            std::fs::write(&path, text).expect("write inline input");
            vec![path]
        }
    };
    let paths: Vec<String> = paths
        .iter()
        .map(|p| in_form(p, variant.form, tmp.path()).display().to_string())
        .collect();
    let sources: Vec<Source> = skywatch_query::input::resolve(&paths).expect("input paths");
    let lookups = tmp.path().join("lookups");
    std::fs::create_dir_all(&lookups).expect("lookup dir");
    for (name, text) in &case.tables {
        std::fs::write(lookups.join(format!("{name}.csv")), text).expect("write table");
    }
    let catalog = if case.groups.is_empty() {
        None
    } else {
        let root = tmp.path().join("groups");
        for (name, text) in &case.groups {
            let dir = root.join(name.trim_start_matches('/'));
            std::fs::create_dir_all(&dir).expect("group dir");
            std::fs::write(dir.join("events.log"), text).expect("write group");
        }
        let catalog = skywatch_query::Catalog::from_paths(&[root.display().to_string()]).expect("catalog");
        Some(std::sync::Arc::new(catalog))
    };
    let time = |text: &str| skywatch_time::parse_time_arg(text, NOW_MS).expect("a time in --- range");
    let options = RunOptions {
        start_ms: case.range.as_ref().map(|(start, _)| time(start)),
        end_ms: case.range.as_ref().map(|(_, end)| time(end)),
        lookup_dir: Some(lookups),
        catalog,
        now_ms: NOW_MS,
        threads: variant.threads,
        validate_json: variant.validate_json,
        shortcuts: variant.shortcuts,
        max_memory: variant.max_memory,
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
        // The temporary directory's name changes from run to run.
        Err(e) => (
            true,
            format!("run error: {e}\n").replace(&tmp.path().display().to_string(), "<tmp>"),
        ),
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
    for (name, text) in &case.tables {
        let _ = write!(out, "--- table {name}\n{text}");
    }
    for (name, text) in &case.groups {
        let _ = write!(out, "--- group {name}\n{text}");
    }
    if let Some((start, end)) = &case.range {
        let _ = writeln!(out, "--- range {start} {end}");
    }
    let _ = writeln!(out, "--- query\n{}", case.query);
    out.push_str(if is_error { "--- error\n" } else { "--- output\n" });
    out.push_str(actual);
    out.push('\n');
    out
}

//! Dashboard golden cases: `tests/dashboards/<case>/` holds one input — `input.toml` (our
//! format), `input.json` (a CloudWatch body), `preset` (a preset's name) or `graph.json` (a
//! service graph for `generate`) — an optional `vars` file (`NAME=VALUE` lines, as `--var`), and
//! the expectation: `expected.json` (the rendered body) or `expected-error.txt` (every problem).
//! `BLESS=1` rewrites the expectations from what the code gives now (review the diff).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use skywatch_dashboards::dashboard::{self, generate, vars, Problems, Rendered};

fn run_case(case: &Path) -> Result<Rendered, String> {
    let overrides: Vec<(String, String)> = std::fs::read_to_string(case.join("vars"))
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| vars::parse_assignment(l).unwrap())
        .collect();
    let show = |p: Problems| p.to_string();
    if let Ok(name) = std::fs::read_to_string(case.join("preset")) {
        return dashboard::load_preset(name.trim(), &overrides).map_err(|e| e.to_string());
    }
    if let Ok(text) = std::fs::read_to_string(case.join("graph.json")) {
        let graph: serde_json::Value = serde_json::from_str(&text).unwrap();
        let alarms: Vec<String> = std::fs::read_to_string(case.join("alarms"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .filter(|l| !l.is_empty())
            .collect();
        let options = generate::GenerateOptions::from_vars(&overrides, alarms).map_err(show)?;
        return generate::generate(&graph, &options)
            .and_then(dashboard::render_model)
            .map_err(show);
    }
    let text = std::fs::read_to_string(case.join("input.toml"))
        .or_else(|_| std::fs::read_to_string(case.join("input.json")))
        .unwrap_or_else(|_| panic!("{}: no input", case.display()));
    dashboard::load(&text, &overrides).map_err(show)
}

#[test]
fn every_dashboard_case_renders_as_expected() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/dashboards");
    let bless = std::env::var_os("BLESS").is_some();
    let mut cases: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    assert!(cases.len() >= 10, "{} cases", cases.len());
    let mut failures = Vec::new();
    for case in cases {
        let (got, file, other) = match run_case(&case) {
            Ok(rendered) => (rendered.pretty(), "expected.json", "expected-error.txt"),
            Err(error) => (error, "expected-error.txt", "expected.json"),
        };
        if bless {
            let _ = std::fs::remove_file(case.join(other));
            std::fs::write(case.join(file), &got).unwrap();
            continue;
        }
        match std::fs::read_to_string(case.join(file)) {
            Ok(expected) if expected == got => {}
            Ok(_) => failures.push(format!("{}: {file} differs; got:\n{got}", case.display())),
            Err(_) => failures.push(format!(
                "{}: expected {other}, got {file}:\n{got}",
                case.display()
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "cases differ (BLESS=1 to accept):\n{}",
        failures.join("\n")
    );
}

/// A rendered body is itself a valid body file, and reads back to the same JSON.
#[test]
fn a_rendered_body_reads_back_unchanged() {
    let rendered = dashboard::load_preset("capstone", &[]).unwrap();
    let again = dashboard::load(&rendered.pretty(), &[]).unwrap();
    assert_eq!(again.body, rendered.body);
    assert_eq!(again.body_for_push(), rendered.pretty());
}

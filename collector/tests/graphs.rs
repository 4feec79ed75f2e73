//! The service graph's golden cases: `tests/graphs/<case>/segments.jsonl` (one segment document
//! per line, in arrival order) → `graph.json` (GetServiceGraph's `Services`). `BLESS=1` writes
//! the graphs from what the code gives now (review the diff).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use skywatch_collector::{segment, service_graph::service_graph};

#[test]
fn every_case_gives_its_graph() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/graphs");
    let bless = std::env::var_os("BLESS").is_some();
    let mut cases: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    cases.sort();
    assert!(cases.len() >= 4);
    let mut failures = Vec::new();
    for case in cases {
        let text = std::fs::read_to_string(case.join("segments.jsonl")).unwrap();
        let docs: Vec<segment::Document> = text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .flat_map(|l| segment::parse(l.as_bytes()).unwrap_or_else(|e| panic!("{}: {e}", case.display())))
            .collect();
        let graph = serde_json::to_string_pretty(&service_graph(&docs)).unwrap() + "\n";
        let expected_path = case.join("graph.json");
        if bless {
            std::fs::write(&expected_path, &graph).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if graph != expected {
            failures.push(format!("{}:\n{graph}", case.display()));
        }
        // Arrival order does not matter.
        let reversed: Vec<segment::Document> = docs.iter().rev().cloned().collect();
        assert_eq!(
            service_graph(&reversed),
            service_graph(&docs),
            "{}",
            case.display()
        );
    }
    assert!(
        failures.is_empty(),
        "graphs differ (BLESS=1 to accept):\n{}",
        failures.join("\n")
    );
}

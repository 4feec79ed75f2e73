//! `alarms eval`'s replay over a datapoints file, against a golden timeline
//! (tests/alarms/replay/timeline.jsonl; `BLESS=1` rewrites it).

use skywatch_dashboards::alarms::evaluate::{replay, Settings};
use skywatch_dashboards::alarms::{parse_rules, DatapointsFile};

#[test]
fn replay_of_the_datapoints_file_gives_the_golden_timeline() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/alarms/replay");
    let rules = parse_rules(&std::fs::read_to_string(dir.join("rules.toml")).unwrap())
        .unwrap_or_else(|e| panic!("{e}"));
    let source =
        DatapointsFile::parse(&std::fs::read_to_string(dir.join("datapoints.jsonl")).unwrap()).unwrap();
    let from = skywatch_time::parse_rfc3339("2026-01-10T09:00:00Z").unwrap();
    let to = skywatch_time::parse_rfc3339("2026-01-10T09:20:00Z").unwrap();
    let settings = Settings {
        region: "eu-west-1".into(),
        account_id: "123456789012".into(),
        ..Settings::default()
    };
    let timeline: String = replay(&rules, &source, from, to, &settings)
        .iter()
        .map(|e| serde_json::to_string(e).unwrap() + "\n")
        .collect();
    let golden = dir.join("timeline.jsonl");
    if std::env::var_os("BLESS").is_some() {
        std::fs::write(&golden, &timeline).unwrap();
    }
    let expected = std::fs::read_to_string(&golden).expect("the golden timeline (BLESS=1 writes it)");
    assert_eq!(
        timeline, expected,
        "the timeline differs (BLESS=1 to accept, then review the diff)"
    );
}

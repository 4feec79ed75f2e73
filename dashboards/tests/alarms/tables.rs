//! Every cell of the documented missing-data tables, through the real evaluator.

use skywatch_dashboards::alarms::evaluate::{Evaluator, Settings};
use skywatch_dashboards::alarms::StateValue;

use crate::common::{rules, set_state, source, MINUTE_MS};

const TREATMENTS: [&str; 4] = ["missing", "ignore", "breaching", "notBreaching"];
const PRIORS: [StateValue; 3] = [StateValue::Ok, StateValue::Alarm, StateValue::InsufficientData];

fn state(text: &str) -> Option<StateValue> {
    match text {
        "OK" => Some(StateValue::Ok),
        "ALARM" => Some(StateValue::Alarm),
        "INSUFFICIENT_DATA" => Some(StateValue::InsufficientData),
        "RETAIN" => None,
        other => panic!("unknown state {other}"),
    }
}

#[test]
fn every_cell_of_the_documented_missing_data_tables() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/alarms/missing_data_tables.txt");
    let text = std::fs::read_to_string(path).unwrap();
    let now = 28_333_334 * MINUTE_MS + 1_500; // just after a minute boundary
    let first_start = (now / MINUTE_MS) * MINUTE_MS - 5 * MINUTE_MS;
    let mut cells = 0;
    let mut failures = Vec::new();
    for (line_no, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let f: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(f.len(), 8, "line {}: {line}", line_no + 1);
        let (n, m, points) = (f[0], f[1], f[2]);
        let filled: usize = f[7].parse().unwrap();
        assert_eq!(points.len(), 5);
        let data: Vec<(i64, f64)> = points
            .chars()
            .enumerate()
            .filter_map(|(i, c)| {
                let t = first_start + i as i64 * MINUTE_MS + 7_000;
                match c {
                    '0' => Some((t, 10.0)),
                    'X' => Some((t, 90.0)),
                    '-' => None,
                    other => panic!("bad point {other}"),
                }
            })
            .collect();
        let src = source(&data);
        for (column, treat) in TREATMENTS.iter().enumerate() {
            let expected = state(f[3 + column]);
            let toml = format!(
                "[[alarm]]\nname = \"t\"\nnamespace = \"Test\"\nmetric = \"m\"\nstatistic = \"Average\"\nperiod = 60\n\
                 evaluation_periods = {n}\ndatapoints_to_alarm = {m}\nthreshold = 50\ncomparison = \">\"\ntreat_missing_data = \"{treat}\"\n"
            );
            for prior in PRIORS {
                cells += 1;
                let mut ev = Evaluator::new(rules(&toml), Settings::default());
                assert_eq!(
                    ev.settings().range_for(3),
                    5,
                    "the default range for N = 3 is the documented 5 points"
                );
                set_state(&mut ev, "t", prior, Some(0));
                let transitions = ev.evaluate(now, &src);
                let got = ev.states()["t"].state;
                let want = expected.unwrap_or(prior);
                let cell = format!(
                    "line {}: {points} N={n} M={m} {treat} from {prior:?}",
                    line_no + 1
                );
                if got != want {
                    failures.push(format!("{cell}: got {got:?}, want {want:?}"));
                    continue;
                }
                if (got != prior) != (transitions.len() == 1) {
                    failures.push(format!(
                        "{cell}: {} transitions for {prior:?} -> {got:?}",
                        transitions.len()
                    ));
                }
                let fills = matches!(*treat, "breaching" | "notBreaching");
                if let (true, Some(t)) = (fills && filled > 0, transitions.first()) {
                    let label = if *treat == "breaching" {
                        "Breaching"
                    } else {
                        "NonBreaching"
                    };
                    let phrase = if filled == 1 {
                        format!("and 1 missing datapoint was treated as [{label}]")
                    } else {
                        format!("and {filled} missing datapoints were treated as [{label}]")
                    };
                    if !t.reason.contains(&phrase) {
                        failures.push(format!("{cell}: reason {:?} lacks {phrase:?}", t.reason));
                    }
                }
            }
        }
    }
    assert_eq!(cells, 11 * 4 * 3, "every row, treatment and prior state");
    assert!(
        failures.is_empty(),
        "{} cells differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

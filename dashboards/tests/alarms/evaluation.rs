//! The evaluator against the real NewStateReason samples of the research notes, and its rules.

use skywatch_dashboards::alarms::evaluate::{decide, replay, Evaluator, Settings, INITIAL_REASON};
use skywatch_dashboards::alarms::model::TreatMissingData;
use skywatch_dashboards::alarms::reason::Point;
use skywatch_dashboards::alarms::source::MemorySource;
use skywatch_dashboards::alarms::{Sample, SampleKind, StateValue};

use crate::common::{rules, set_state, settings, source, value, MINUTE_MS};

fn one_alarm(extra: &str) -> String {
    format!(
        "[[alarm]]\nname = \"t\"\nnamespace = \"Test\"\nmetric = \"m\"\nstatistic = \"Average\"\nperiod = 60\n\
         threshold = 50\ncomparison = \">\"\n{extra}"
    )
}

/// Evaluates once at `now` from `prior`, returns (state, reason of the transition if any).
fn once(toml: &str, points: &[(i64, f64)], now: i64, prior: StateValue) -> (StateValue, Option<String>) {
    let mut ev = Evaluator::new(rules(toml), Settings::default());
    set_state(&mut ev, "t", prior, Some(0));
    let t = ev.evaluate(now, &source(points));
    (ev.states()["t"].state, t.first().map(|t| t.reason.clone()))
}

#[test]
fn reason_matches_the_sao_paulo_sample_exactly() {
    let rules = rules(
        r#"[{"AlarmName":"CORE - DB - USO CPU","MetricName":"CPUUtilization","Namespace":"AWS/RDS","Statistic":"Average",
             "Dimensions":[{"Name":"DBInstanceIdentifier","Value":"wehandle"}],"Period":300,"EvaluationPeriods":1,
             "DatapointsToAlarm":1,"Threshold":20,"ComparisonOperator":"GreaterThanThreshold","TreatMissingData":"missing"}]"#,
    );
    let mut ev = Evaluator::new(rules, settings("sa-east-1", "622547859380"));
    set_state(
        &mut ev,
        "CORE - DB - USO CPU",
        StateValue::Ok,
        Some(1_709_670_645_526),
    );
    let mut src = MemorySource::new();
    let dims = [("DBInstanceIdentifier".to_string(), "wehandle".to_string())];
    src.push(
        "AWS/RDS",
        "CPUUtilization",
        &dims,
        value(1_709_670_300_000 + 60_000, 23.196_333_333_333_335),
    );
    let t = ev.evaluate(1_709_670_664_488, &src);
    assert_eq!(
        t[0].reason,
        "Threshold Crossed: 1 out of the last 1 datapoints [23.196333333333335 (05/03/24 20:25:00)] was greater than \
         the threshold (20.0) (minimum 1 datapoint for OK -> ALARM transition)."
    );
}

#[test]
fn reason_matches_the_waf_sample_with_nineteen_filled_points() {
    let toml = "[[alarm]]\nname = \"t\"\nnamespace = \"Test\"\nmetric = \"m\"\nstatistic = \"Sum\"\nperiod = 300\n\
                evaluation_periods = 20\ndatapoints_to_alarm = 1\nthreshold = 1\ncomparison = \">=\"\ntreat_missing_data = \"notBreaching\"\n";
    let (state, reason) = once(
        toml,
        &[(1_710_591_300_000, 613.0)],
        1_710_591_600_000 + 2_000,
        StateValue::Ok,
    );
    assert_eq!(state, StateValue::Alarm);
    assert_eq!(
        reason.unwrap(),
        "Threshold Crossed: 1 out of the last 20 datapoints [613.0 (16/03/24 12:15:00)] was greater than or equal to \
         the threshold (1.0) and 19 missing datapoints were treated as [NonBreaching] (minimum 1 datapoint for OK -> ALARM transition)."
    );
}

#[test]
fn reason_lists_three_values_newest_first_with_were() {
    let toml = "[[alarm]]\nname = \"t\"\nnamespace = \"Test\"\nmetric = \"m\"\nstatistic = \"Maximum\"\nperiod = 300\n\
                evaluation_periods = 3\ndatapoints_to_alarm = 3\nthreshold = 1\ncomparison = \"GreaterThanOrEqualToThreshold\"\n";
    let t0 = 1_638_799_800_000;
    let points = [(t0, 1.0), (t0 + 300_000, 1.0), (t0 + 600_000, 1.0)];
    let (state, reason) = once(toml, &points, 1_638_800_730_000, StateValue::Ok);
    assert_eq!(state, StateValue::Alarm);
    assert_eq!(
        reason.unwrap(),
        "Threshold Crossed: 3 out of the last 3 datapoints [1.0 (06/12/21 14:20:00), 1.0 (06/12/21 14:15:00), \
         1.0 (06/12/21 14:10:00)] were greater than or equal to the threshold (1.0) (minimum 3 datapoints for OK -> ALARM transition)."
    );
}

#[test]
fn reason_and_reason_data_match_the_eventbridge_doc_sample() {
    // The sample says period 300 with a datapoint at 13:46, which is not on a 5-minute boundary;
    // we align periods to epoch multiples (docs/alarms.md), so this replays it with 60 s.
    let toml = "[[alarm]]\nname = \"t\"\nnamespace = \"Test\"\nmetric = \"m\"\nstatistic = \"Average\"\nperiod = 60\n\
                evaluation_periods = 1\ndatapoints_to_alarm = 1\nthreshold = 50\ncomparison = \">\"\n";
    let mut ev = Evaluator::new(rules(toml), Settings::default());
    set_state(&mut ev, "t", StateValue::Alarm, Some(0));
    let t = ev.evaluate(
        1_569_937_620_000 + 40_985,
        &source(&[(1_569_937_560_000, 0.066_685_190_330_647_2)]),
    );
    assert_eq!(
        t[0].reason,
        "Threshold Crossed: 1 out of the last 1 datapoints [0.0666851903306472 (01/10/19 13:46:00)] was not greater \
         than the threshold (50.0) (minimum 1 datapoint for ALARM -> OK transition)."
    );
    assert!(
        t[0].reason_data.starts_with(
            r#"{"version":"1.0","queryDate":"2019-10-01T13:47:40.985+0000","startDate":"2019-10-01T13:46:00.000+0000","statistic":"Average","period":60,"recentDatapoints":[0.0666851903306472],"threshold":50.0"#
        ),
        "{}",
        t[0].reason_data
    );
    assert!(t[0].reason_data.ends_with(
        r#""evaluatedDatapoints":[{"timestamp":"2019-10-01T13:46:00.000+0000","sampleCount":1.0,"value":0.0666851903306472}]}"#
    ));
}

#[test]
fn reason_uses_the_short_form_when_datapoints_to_alarm_is_unset() {
    let toml =
        "[[alarm]]\nname = \"t\"\nnamespace = \"Test\"\nmetric = \"m\"\nstatistic = \"Sum\"\nperiod = 60\n\
                evaluation_periods = 1\nthreshold = 1\ncomparison = \">=\"\n";
    let (state, reason) = once(
        toml,
        &[(1_710_868_440_000, 0.0)],
        1_710_868_530_000,
        StateValue::Alarm,
    );
    assert_eq!(state, StateValue::Ok);
    assert_eq!(
        reason.unwrap(),
        "Threshold Crossed: 1 datapoint [0.0 (19/03/24 17:14:00)] was not greater than or equal to the threshold (1.0)."
    );
}

#[test]
fn insufficient_data_reason_when_nothing_arrives() {
    let toml = one_alarm("evaluation_periods = 1\n");
    let (state, reason) = once(&toml, &[], 10 * MINUTE_MS, StateValue::Ok);
    assert_eq!(state, StateValue::InsufficientData);
    assert_eq!(
        reason.unwrap(),
        "Insufficient Data: no datapoints were received for 1 period and 1 missing datapoint was treated as [Missing]."
    );
    let toml = one_alarm("evaluation_periods = 2\ntreat_missing_data = \"breaching\"\n");
    let (state, reason) = once(&toml, &[], 10 * MINUTE_MS, StateValue::Ok);
    assert_eq!(state, StateValue::Alarm);
    assert_eq!(
        reason.unwrap(),
        "Threshold Crossed: no datapoints were received for 2 periods and 2 missing datapoints were treated as [Breaching]."
    );
}

fn slots(points: &str) -> Vec<Option<Point>> {
    points
        .chars()
        .enumerate()
        .map(|(i, c)| {
            (c != '-').then_some(Point {
                timestamp_ms: i as i64 * MINUTE_MS,
                value: if c == 'X' { 90.0 } else { 10.0 },
                breaching: c == 'X',
                sample_count: Some(1.0),
            })
        })
        .collect()
}

#[test]
fn m_of_n_counts_breaching_points_that_need_not_be_consecutive() {
    use TreatMissingData::Missing;
    let d = |p: &str, n, m| decide(&slots(p), n, m, Missing).state;
    assert_eq!(d("0X0XX--", 5, 3), Some(StateValue::Alarm));
    assert_eq!(d("0X0X0--", 5, 3), Some(StateValue::Ok));
    assert_eq!(
        d("X0X00X0", 5, 3),
        Some(StateValue::Ok),
        "only the newest 5 real points count"
    );
    assert_eq!(d("XX00000", 5, 1), Some(StateValue::Ok));
    assert_eq!(
        d("0-0-XX-X", 3, 3),
        Some(StateValue::Alarm),
        "the newest N real points, gaps skipped"
    );
}

#[test]
fn premature_transition_needs_the_oldest_breach_m_periods_back() {
    use TreatMissingData::{Ignore, Missing};
    assert_eq!(
        decide(&slots("--X--"), 3, 3, Missing).state,
        Some(StateValue::Alarm)
    );
    assert_eq!(
        decide(&slots("---X-"), 3, 3, Missing).state,
        Some(StateValue::InsufficientData)
    );
    assert_eq!(
        decide(&slots("---XX"), 3, 3, Missing).state,
        Some(StateValue::InsufficientData)
    );
    assert_eq!(
        decide(&slots("---XX"), 3, 2, Missing).state,
        Some(StateValue::Alarm),
        "b >= M"
    );
    assert_eq!(
        decide(&slots("--X-0"), 3, 3, Missing).state,
        Some(StateValue::Ok),
        "a non-breaching point"
    );
    assert_eq!(
        decide(&slots("--X--"), 3, 3, Ignore).state,
        None,
        "ignore keeps the state"
    );
    // Through the evaluator: a single breach that ages into the premature rule.
    let toml = one_alarm("evaluation_periods = 3\ndatapoints_to_alarm = 3\n");
    let now = 1_000 * MINUTE_MS;
    let mut ev = Evaluator::new(rules(&toml), Settings::default());
    let src = source(&[(now - 2 * MINUTE_MS, 99.0)]);
    assert!(
        ev.evaluate(now, &src).is_empty(),
        "age 2 < M: stays INSUFFICIENT_DATA"
    );
    let t = ev.evaluate(now + MINUTE_MS, &src);
    assert_eq!(t[0].new_state, StateValue::Alarm, "age 3 = M");
    assert_eq!(
        t[0].reason,
        format!(
            "Threshold Crossed: 1 out of the last 3 datapoints [99.0 ({})] was greater than the threshold (50.0) \
             (minimum 3 datapoints for INSUFFICIENT_DATA -> ALARM transition).",
            skywatch_dashboards::alarms::reason::reason_time(now - 2 * MINUTE_MS)
        )
    );
}

#[test]
fn starts_insufficient_and_changes_only_on_a_new_state() {
    let toml = one_alarm("evaluation_periods = 1\nalarm_actions = [\"arn:aws:sns:us-east-1:123456789012:a\"]\nok_actions = [\"arn:aws:sns:us-east-1:123456789012:o\"]\n");
    let mut ev = Evaluator::new(rules(&toml), Settings::default());
    assert_eq!(ev.states()["t"].state, StateValue::InsufficientData);
    assert_eq!(ev.states()["t"].reason, INITIAL_REASON);
    let now = 500 * MINUTE_MS;
    let src = source(&[(now - MINUTE_MS, 90.0), (now, 10.0), (now + MINUTE_MS, 20.0)]);
    let t = ev.evaluate(now, &src);
    assert_eq!(
        (t[0].old_state, t[0].new_state),
        (StateValue::InsufficientData, StateValue::Alarm)
    );
    assert_eq!(t[0].actions, ["arn:aws:sns:us-east-1:123456789012:a"]);
    assert_eq!(
        t[0].alarm_arn,
        "arn:aws:cloudwatch:us-east-1:123456789012:alarm:t"
    );
    assert!(
        ev.evaluate(now + 30_000, &src).is_empty(),
        "not due until the next minute"
    );
    let t = ev.evaluate(now + MINUTE_MS, &src);
    assert_eq!(t[0].new_state, StateValue::Ok);
    assert_eq!(t[0].actions, ["arn:aws:sns:us-east-1:123456789012:o"]);
    assert_eq!(t[0].old_reason.split(' ').next(), Some("Threshold"));
    assert!(
        ev.evaluate(now + 2 * MINUTE_MS, &src).is_empty(),
        "OK again: no transition, no action"
    );
}

#[test]
fn no_actions_when_actions_are_disabled() {
    let toml = one_alarm(
        "evaluation_periods = 1\nactions_enabled = false\nalarm_actions = [\"arn:aws:sns:us-east-1:1:a\"]\n",
    );
    let mut ev = Evaluator::new(rules(&toml), Settings::default());
    let now = 500 * MINUTE_MS;
    let t = ev.evaluate(now, &source(&[(now - MINUTE_MS, 90.0)]));
    assert_eq!(t[0].new_state, StateValue::Alarm);
    assert!(t[0].actions.is_empty());
}

#[test]
fn a_restored_snapshot_keeps_states_across_a_restart() {
    let toml = one_alarm("evaluation_periods = 1\n");
    let now = 500 * MINUTE_MS;
    let src = source(&[(now - MINUTE_MS, 90.0)]);
    let mut ev = Evaluator::new(rules(&toml), Settings::default());
    assert_eq!(ev.evaluate(now, &src).len(), 1);
    let saved = serde_json::to_string(&ev.snapshot()).unwrap();
    let mut restarted = Evaluator::new(rules(&toml), Settings::default());
    assert!(restarted.restore(&serde_json::from_str(&saved).unwrap()));
    assert_eq!(restarted.states()["t"].state, StateValue::Alarm);
    assert!(
        restarted
            .evaluate(now + MINUTE_MS, &source(&[(now, 91.0)]))
            .is_empty(),
        "no repeated ALARM"
    );
}

#[test]
fn points_outside_the_range_and_the_period_in_progress_are_not_evaluated() {
    let toml = one_alarm("evaluation_periods = 1\n");
    let now = 500 * MINUTE_MS + 10_000;
    // Range for N = 1 is 3 periods: [now-4m, now-1m). The current minute is still in progress.
    let (state, _) = once(
        &toml,
        &[(now - 4 * MINUTE_MS, 90.0), (now - 5_000, 90.0)],
        now,
        StateValue::Ok,
    );
    assert_eq!(state, StateValue::InsufficientData);
    let mut ev = Evaluator::new(
        rules(&toml),
        Settings {
            completion_delay_ms: 15_000,
            ..Settings::default()
        },
    );
    let src = source(&[(now - 40_000, 90.0)]);
    assert!(
        ev.evaluate(now, &src).is_empty(),
        "the last minute ended 10 s ago: not complete with a 15 s delay"
    );
    let mut ev = Evaluator::new(rules(&toml), Settings::default());
    assert_eq!(
        ev.evaluate(now, &src)[0].new_state,
        StateValue::Alarm,
        "complete without the delay"
    );
}

#[test]
fn dynamodb_alarms_always_behave_as_ignore() {
    let toml = "[[alarm]]\nname = \"t\"\nnamespace = \"AWS/DynamoDB\"\nmetric = \"ThrottledRequests\"\nstatistic = \"Sum\"\nperiod = 60\n\
                evaluation_periods = 1\nthreshold = 1\ncomparison = \">=\"\ntreat_missing_data = \"breaching\"\n";
    let mut ev = Evaluator::new(rules(toml), Settings::default());
    set_state(&mut ev, "t", StateValue::Ok, None);
    assert!(
        ev.evaluate(500 * MINUTE_MS, &MemorySource::new()).is_empty(),
        "no data: keeps OK instead of breaching"
    );
}

#[test]
fn low_sample_percentiles_keep_the_state_with_ignore() {
    let base =
        "[[alarm]]\nname = \"t\"\nnamespace = \"Test\"\nmetric = \"m\"\nstatistic = \"p99\"\nperiod = 60\n\
                evaluation_periods = 1\nthreshold = 50\ncomparison = \">\"\n";
    let now = 500 * MINUTE_MS;
    let few: Vec<(i64, f64)> = (0..10).map(|i| (now - MINUTE_MS + i, 90.0)).collect();
    let ignore = format!("{base}evaluate_low_sample_count_percentile = \"ignore\"\n");
    assert_eq!(once(&ignore, &few, now, StateValue::Ok).0, StateValue::Ok);
    assert_eq!(once(base, &few, now, StateValue::Ok).0, StateValue::Alarm);
    let mut src = MemorySource::new();
    src.push(
        "Test",
        "m",
        &[],
        Sample {
            timestamp_ms: now - MINUTE_MS,
            unit: None,
            kind: SampleKind::Distribution(vec![(10.0, 980.0), (90.0, 20.0)]),
        },
    );
    let mut ev = Evaluator::new(rules(&ignore), Settings::default());
    set_state(&mut ev, "t", StateValue::Ok, None);
    assert_eq!(
        ev.evaluate(now, &src)[0].new_state,
        StateValue::Alarm,
        "1000 samples: evaluated"
    );
}

#[test]
fn unit_filter_keeps_only_samples_of_the_alarm_unit() {
    let toml = one_alarm("evaluation_periods = 1\nunit = \"Percent\"\n");
    let now = 500 * MINUTE_MS;
    let mut src = MemorySource::new();
    src.push(
        "Test",
        "m",
        &[],
        Sample {
            timestamp_ms: now - 1_000 - MINUTE_MS,
            unit: Some("Count".into()),
            kind: SampleKind::Value(99.0),
        },
    );
    let mut ev = Evaluator::new(rules(&toml), Settings::default());
    assert_eq!(
        ev.evaluate(now, &src).len(),
        0,
        "a Count sample does not count for a Percent alarm"
    );
    src.push(
        "Test",
        "m",
        &[],
        Sample {
            timestamp_ms: now - 2_000 - MINUTE_MS,
            unit: Some("Percent".into()),
            kind: SampleKind::Value(99.0),
        },
    );
    let t = ev.evaluate(now + MINUTE_MS, &src);
    assert_eq!(t[0].new_state, StateValue::Alarm, "the Percent sample counts");
}

#[test]
fn metric_math_alarm_evaluates_the_expression_per_period() {
    let toml = r#"
[[alarm]]
name = "error-rate"
evaluation_periods = 2
threshold = 10
comparison = ">="
treat_missing_data = "notBreaching"

[[alarm.metrics]]
id = "errors"
namespace = "App"
metric = "Errors"
statistic = "Sum"
period = 60

[[alarm.metrics]]
id = "requests"
namespace = "App"
metric = "Requests"
statistic = "Sum"
period = 60

[[alarm.metrics]]
id = "rate"
expression = "100 * FILL(errors, 0) / requests"
return_data = true
"#;
    let now = 500 * MINUTE_MS;
    let mut src = MemorySource::new();
    // Requests differ from 100, so the rate differs from the error count: the alarm must
    // watch the expression (return_data), not the first metric.
    for (i, (e, r)) in [(5.0, 100.0), (20.0, 50.0), (15.0, 50.0)].iter().enumerate() {
        let t = now - (3 - i as i64) * MINUTE_MS;
        src.push("App", "Errors", &[], crate::common::value(t, *e));
        src.push("App", "Requests", &[], crate::common::value(t, *r));
    }
    let mut ev = Evaluator::new(rules(toml), Settings::default());
    let t = ev.evaluate(now, &src);
    assert_eq!(t[0].new_state, StateValue::Alarm);
    assert!(
        t[0].reason.starts_with("Threshold Crossed: 2 datapoints [30.0 ("),
        "{}",
        t[0].reason
    );
    assert!(!t[0].reason_data.contains("\"statistic\""));
}

#[test]
fn composite_follows_its_children_after_they_are_evaluated() {
    let toml = format!(
        "{}\n[[alarm]]\nname = \"b\"\nnamespace = \"Test\"\nmetric = \"other\"\nstatistic = \"Average\"\nperiod = 60\n\
         evaluation_periods = 1\nthreshold = 50\ncomparison = \">\"\n\n\
         [[composite]]\nname = \"both\"\nrule = \"ALARM(t) AND NOT OK(b)\"\nalarm_actions = [\"arn:aws:sns:us-east-1:1:c\"]\n",
        one_alarm("evaluation_periods = 1\n")
    );
    let now = 500 * MINUTE_MS;
    let mut ev = Evaluator::new(rules(&toml), Settings::default());
    let t = ev.evaluate(now, &source(&[(now - MINUTE_MS, 90.0)]));
    let names: Vec<(&str, StateValue)> = t.iter().map(|t| (t.alarm_name.as_str(), t.new_state)).collect();
    // b has no data: INSUFFICIENT_DATA, so NOT OK(b) holds.
    assert_eq!(names, [("t", StateValue::Alarm), ("both", StateValue::Alarm)]);
    assert_eq!(
        t[1].reason,
        format!(
            "arn:aws:cloudwatch:us-east-1:123456789012:alarm:t transitioned to ALARM at {}",
            skywatch_dashboards::alarms::reason::aws_time(now)
        )
    );
    assert_eq!(t[1].actions, ["arn:aws:sns:us-east-1:1:c"]);
    let t = ev.evaluate(now + MINUTE_MS, &source(&[(now - MINUTE_MS, 90.0), (now, 10.0)]));
    assert_eq!(
        t.iter()
            .map(|t| (t.alarm_name.as_str(), t.new_state))
            .collect::<Vec<_>>(),
        [("t", StateValue::Ok), ("both", StateValue::Ok)]
    );
}

#[test]
fn replay_ticks_at_the_cadence_and_reports_each_change() {
    let toml = one_alarm("evaluation_periods = 1\nperiod = 10\n").replace("period = 60\n", "");
    let start = 100 * MINUTE_MS;
    let points: Vec<(i64, f64)> = (0..12)
        .map(|i| {
            (
                start + i * 10_000 + 1,
                if (3..6).contains(&i) { 90.0 } else { 10.0 },
            )
        })
        .collect();
    let timeline = replay(
        &rules(&toml),
        &source(&points),
        start,
        start + 2 * MINUTE_MS,
        &Settings::default(),
    );
    let changes: Vec<(String, StateValue)> = timeline.iter().map(|e| (e.time.clone(), e.new_state)).collect();
    assert_eq!(
        changes,
        [
            ("1970-01-01T01:40:10.000Z".to_string(), StateValue::Ok),
            ("1970-01-01T01:40:40.000Z".to_string(), StateValue::Alarm),
            ("1970-01-01T01:41:10.000Z".to_string(), StateValue::Ok),
        ],
        "10 s periods are evaluated every 10 s"
    );
}

//! `alarms check`: every problem at once with its path, and the JSON form's round trip.

use skywatch_dashboards::alarms::{
    parse_json, parse_toml, to_put_composite_alarm_json, to_put_metric_alarm_json, Alarm,
};

fn problems(
    result: Result<skywatch_dashboards::alarms::Rules, skywatch_dashboards::alarms::CheckError>,
) -> Vec<String> {
    result
        .unwrap_err()
        .problems
        .iter()
        .map(|p| format!("{}: {}", p.path, p.message.lines().next().unwrap_or_default()))
        .collect()
}

#[test]
fn toml_check_reports_every_problem_with_its_key_path() {
    let text = r#"
[[alarm]]
name = "cpu"
namespace = "AWS/EC2"
metric = "CPUUtilization"
dimensions = { InstanceId = "i-1" }
statistic = "Average"
period = 45
evaluation_periods = 3
datapoints_to_alarm = 4
threshold = "high"
comparison = "GreaterThanUpperThreshold"
treat_missing_data = "zero"
alarm_actions = ["a", "b", "c", "d", "e", "arn:aws:sns:us-east-1:1:f"]
colour = "red"

[[alarm]]
name = "cpu"
namespace = "AWS/EC2"
metric = "CPUUtilization"
statistic = "tm99"
period = "5m"
evaluation_periods = 300
threshold = 1
comparison = ">="

[[alarm]]
name = "math"
evaluation_periods = 1
threshold = 1
comparison = "<"
metrics = [
  { id = "m1", namespace = "A", metric = "x", statistic = "Sum", period = 60 },
  { id = "e1", expression = "SUM(m1, foo(m2))", return_data = true },
  { id = "e2", expression = "m1 + m3" },
]

[[composite]]
name = "both"
rule = "ALARM(cpu) AND OK(nothing)"

[[composite]]
name = "loop-a"
rule = "ALARM(loop-b)"

[[composite]]
name = "loop-b"
rule = "ALARM(loop-a) OR"
[[composite]]
name = "loop-c"
rule = "ALARM(loop-d)"
[[composite]]
name = "loop-d"
rule = "OK(loop-c)"
"#;
    assert_eq!(
        problems(parse_toml(text)),
        [
            "alarm[0].alarm_actions: 6 actions; AWS allows at most 5",
            "alarm[0].alarm_actions[0]: \"a\" is not an ARN (arn:aws:sns:region:account:topic)",
            "alarm[0].alarm_actions[1]: \"b\" is not an ARN (arn:aws:sns:region:account:topic)",
            "alarm[0].alarm_actions[2]: \"c\" is not an ARN (arn:aws:sns:region:account:topic)",
            "alarm[0].alarm_actions[3]: \"d\" is not an ARN (arn:aws:sns:region:account:topic)",
            "alarm[0].alarm_actions[4]: \"e\" is not an ARN (arn:aws:sns:region:account:topic)",
            "alarm[0].period: the period is 45 s; it must be 10, 20, 30 or a multiple of 60",
            "alarm[0].threshold: expected a number, found a string",
            "alarm[0].comparison: GreaterThanUpperThreshold compares with an anomaly detection band, which skywatch's evaluator does not support",
            "alarm[0].treat_missing_data: expected breaching, notBreaching, ignore or missing, found \"zero\"",
            "alarm[0].datapoints_to_alarm: 4 datapoints to alarm is more than the 3 evaluation periods",
            "alarm[0].colour: unknown key; expected one of: name, description, actions_enabled, ok_actions, alarm_actions, insufficient_data_actions, namespace, metric, dimensions, statistic, period, unit, metrics, evaluation_periods, datapoints_to_alarm, threshold, comparison, treat_missing_data, evaluate_low_sample_count_percentile, tags",
            "alarm[1].statistic: \"tm99\": only percentiles (p0 to p100, such as p99 or p99.9) are evaluated here; trimmed and winsorized statistics are not",
            "alarm[1].evaluation_periods: period × evaluation periods is 90000 s; AWS allows at most 86400 s with a 300 s period",
            "alarm[2].metrics[1].expression: invalid expression",
            "alarm[2].metrics[2].expression: unknown id",
            "composite[2].rule: invalid alarm rule",
            "alarm[1].name: duplicate alarm name \"cpu\" (also alarm[0])",
            "composite[0].rule: unknown alarm",
            "composite[3].rule: composite alarms form a cycle: \"loop-c\" → \"loop-d\" → \"loop-c\"",
        ]
    );
    let err = parse_toml(text).unwrap_err();
    let expression = err
        .problems
        .iter()
        .find(|p| p.path == "alarm[2].metrics[1].expression")
        .unwrap();
    assert_eq!(
        expression.message,
        "invalid expression\n  SUM(m1, foo(m2))\n          ^ unknown function foo; supported: ABS, AVG, FILL, IF, MAX, METRICS, MIN, SUM"
    );
    let unknown = err
        .problems
        .iter()
        .find(|p| p.path == "composite[0].rule")
        .unwrap();
    assert_eq!(unknown.message, "unknown alarm\n  ALARM(cpu) AND OK(nothing)\n                    ^ no alarm named \"nothing\" in this file");
}

#[test]
fn json_check_uses_the_same_path_style_with_api_names() {
    let text = r#"[
  {"AlarmName":"a","Namespace":"N","MetricName":"m","Statistic":"Average","ExtendedStatistic":"p99","Period":60,
   "EvaluationPeriods":0,"Threshold":1,"ComparisonOperator":"GreaterThanThreshold","Dimensions":[{"Name":"x"}],"Unit":"Percents"},
  {"AlarmName":"b","EvaluationPeriods":1,"ThresholdMetricId":"ad1","ComparisonOperator":"LessThanLowerOrGreaterThanUpperThreshold",
   "Metrics":[{"Id":"m1","MetricStat":{"Metric":{"Namespace":"N","MetricName":"m"},"Period":60,"Stat":"Average"}},
              {"Id":"ad1","Expression":"ANOMALY_DETECTION_BAND(m1, 2)"}]},
  {"AlarmName":"c","AlarmRule":"ALARM(a) AND","ActionsSuppressor":"a"},
  {"AlarmName":"d","Namespace":"N","MetricName":"m","Period":60,"EvaluationPeriods":1,"Threshold":1,"ComparisonOperator":">"}
]"#;
    assert_eq!(
        problems(parse_json(text)),
        [
            "[0].Dimensions[0].Value: required",
            "[0].ExtendedStatistic: give Statistic or ExtendedStatistic, not both",
            "[0].Unit: unknown unit \"Percents\" (did you mean Percent?)",
            "[0].EvaluationPeriods: expected a whole number of at least 1, found 0",
            "[1].Metrics[1].Expression: invalid expression",
            "[1].Threshold: anomaly detection alarms (ThresholdMetricId) are not supported by skywatch's evaluator",
            "[1].ComparisonOperator: LessThanLowerOrGreaterThanUpperThreshold compares with an anomaly detection band, which skywatch's evaluator does not support",
            "[1].Metrics: exactly one query must return data (ReturnData true or unset); 2 do — set ReturnData false on the others",
            "[2].AlarmRule: invalid alarm rule",
            "[2].ActionsSuppressor: action suppression is not supported by skywatch's evaluator",
            "[3].Statistic: give Statistic or ExtendedStatistic",
        ]
    );
}

/// Numbers compared as f64 (the model keeps Threshold as a double: 80 comes back as 80.0).
fn normalized(v: &serde_json::Value) -> serde_json::Value {
    match v {
        serde_json::Value::Number(n) => serde_json::json!(n.as_f64()),
        serde_json::Value::Array(items) => serde_json::Value::Array(items.iter().map(normalized).collect()),
        serde_json::Value::Object(map) => {
            serde_json::Value::Object(map.iter().map(|(k, v)| (k.clone(), normalized(v))).collect())
        }
        other => other.clone(),
    }
}

#[test]
fn json_form_round_trips_through_the_model() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/alarms/put_metric_alarm.json");
    let text = std::fs::read_to_string(path).unwrap();
    let input: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    let rules = parse_json(&text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(rules.alarms.len(), input.len());
    let mut rendered_all = Vec::new();
    for (alarm, original) in rules.alarms.iter().zip(&input) {
        let rendered = match alarm {
            Alarm::Metric(m) => to_put_metric_alarm_json(m),
            Alarm::Composite(c) => to_put_composite_alarm_json(c),
        };
        assert_eq!(normalized(&rendered), normalized(original), "{}", alarm.name());
        rendered_all.push(rendered);
    }
    // And the rendering reads back to the same model.
    let again = parse_json(&serde_json::Value::Array(rendered_all).to_string()).unwrap();
    assert_eq!(again, rules);
}

#[test]
fn toml_example_of_the_docs_is_valid_and_means_what_the_json_says() {
    let toml = r#"
[[alarm]]
name = "web-1 memory high"
description = "Memory above 80 % for 2 of the last 3 minutes"
namespace = "CWAgent"
metric = "mem_used_percent"
dimensions = { InstanceId = "i-0123456789abcdef0" }
statistic = "Average"
period = "1m"
evaluation_periods = 3
datapoints_to_alarm = 2
comparison = ">"
threshold = 80
treat_missing_data = "missing"
alarm_actions = ["arn:aws:sns:eu-west-1:123456789012:ops"]
ok_actions = ["arn:aws:sns:eu-west-1:123456789012:ops"]
"#;
    let rules = parse_toml(toml).unwrap();
    let Alarm::Metric(m) = &rules.alarms[0] else {
        panic!()
    };
    let json = to_put_metric_alarm_json(m);
    assert_eq!(
        json.to_string(),
        concat!(
            r#"{"AlarmName":"web-1 memory high","AlarmDescription":"Memory above 80 % for 2 of the last 3 minutes","#,
            r#""OKActions":["arn:aws:sns:eu-west-1:123456789012:ops"],"AlarmActions":["arn:aws:sns:eu-west-1:123456789012:ops"],"#,
            r#""MetricName":"mem_used_percent","Namespace":"CWAgent","Statistic":"Average","#,
            r#""Dimensions":[{"Name":"InstanceId","Value":"i-0123456789abcdef0"}],"Period":60,"EvaluationPeriods":3,"#,
            r#""DatapointsToAlarm":2,"Threshold":80.0,"ComparisonOperator":"GreaterThanThreshold","TreatMissingData":"missing"}"#
        )
    );
}

#[test]
fn the_examples_in_docs_alarms_md_are_valid() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/alarms.md");
    let doc = std::fs::read_to_string(path).unwrap();
    let mut checked = 0;
    for (lang, parse) in [
        ("```toml\n", parse_toml as fn(&str) -> _),
        ("```json\n[", parse_json),
    ] {
        // The first block of rules (a TOML block may also show the agent's [alarms] section).
        let (start, end) = doc
            .match_indices(lang)
            .map(|(at, _)| {
                let start = at + lang.len() - usize::from(lang.ends_with('['));
                (start, start + doc[start..].find("```").unwrap())
            })
            .find(|&(start, end)| !doc[start..end].contains("[alarms]\n"))
            .unwrap();
        let rules = parse(&doc[start..end]).unwrap_or_else(|e| panic!("{lang}{e}"));
        assert!(rules.alarms.len() >= 2);
        checked += 1;
    }
    assert_eq!(checked, 2);
}

//! `skywatch alarms` as a user runs it: a rule file with mistakes (every problem, exit 2), rules
//! in the `put-metric-alarm --cli-input-json` shape pushed to CloudWatch (moto) and described
//! back unchanged, a replay of a datapoints file and of the agent's local store, and a replay
//! that publishes its notifications to SNS (moto, read back from a subscribed SQS queue).

use std::process::Output;
use std::time::Duration;

use serde_json::{json, Value};
use skywatch_tests::aws::{env_vars, sdk_config};
use skywatch_tests::moto;
use skywatch_tests::names::unique_name;

use crate::skywatch::{run as skywatch, text};

/// `skywatch alarms eval RULES --datapoints FILE` and `extra` arguments.
fn eval_file(rules: &std::path::Path, datapoints: &std::path::Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "alarms",
        "eval",
        rules.to_str().unwrap(),
        "--datapoints",
        datapoints.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    skywatch(&args, &[])
}

/// One JSON value per line of `out`'s stdout.
fn json_lines(out: &Output) -> Vec<Value> {
    text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// 12 datapoints 10 s apart: six at 25, then six at 10.
fn datapoints(start_s: i64) -> String {
    (0..12)
        .map(|i| {
            json!({
                "Namespace": "CWAgent", "MetricName": "mem_used_percent",
                "Dimensions": [{"Name": "host", "Value": "web-1"}],
                "Timestamp": start_s + i * 10, "Value": if i < 6 { 25.0 } else { 10.0 }, "Unit": "Percent"
            })
            .to_string()
                + "\n"
        })
        .collect()
}

fn rules(topic: &str) -> String {
    format!(
        r#"
[[alarm]]
name = "memory high"
namespace = "CWAgent"
metric = "mem_used_percent"
dimensions = {{ host = "web-1" }}
statistic = "Average"
period = 10
evaluation_periods = 3
datapoints_to_alarm = 2
comparison = ">"
threshold = 20
alarm_actions = ["{topic}"]
ok_actions = ["{topic}", "arn:aws:lambda:us-east-1:123456789012:function:on-ok"]
"#
    )
}

#[test]
fn check_reports_every_problem_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rules.toml");
    std::fs::write(
        &file,
        r#"
[[alarm]]
name = "a"
namespace = "CWAgent"
metric = "mem_used_percent"
statistic = "Average"
period = 7
evaluation_periods = 3
datapoints_to_alarm = 4
comparison = ">"
threshold = 80

[[composite]]
name = "b"
rule = "ALARM(a) AND OK(nope"
"#,
    )
    .unwrap();
    let out = skywatch(&["alarms", "check", file.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    for needle in [
        "alarm[0].period",
        "alarm[0].datapoints_to_alarm",
        "composite[0].rule",
    ] {
        assert!(stderr.contains(needle), "{needle} not in:\n{stderr}");
    }
    let good = dir.path().join("good.toml");
    std::fs::write(&good, rules("arn:aws:sns:us-east-1:123456789012:ops")).unwrap();
    let out = skywatch(&["alarms", "check", good.to_str().unwrap()], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("ok, 1 metric alarm(s), 0 composite alarm(s)"));
}

#[test]
fn pushed_rules_come_back_from_describe_alarms_as_written() {
    let moto = moto::shared().unwrap();
    let env = env_vars(&moto.endpoint_url());
    let name = unique_name("cpu-high");
    let request = json!([{
        "AlarmName": name,
        "AlarmDescription": "CPU above 80 % for 3 of 5 minutes",
        "ActionsEnabled": true,
        "AlarmActions": ["arn:aws:sns:us-east-1:123456789012:ops"],
        "MetricName": "CPUUtilization",
        "Namespace": "AWS/EC2",
        "Statistic": "Average",
        "Dimensions": [{"Name": "InstanceId", "Value": "i-0123456789abcdef0"}],
        "Period": 60,
        "EvaluationPeriods": 5,
        "DatapointsToAlarm": 3,
        "Threshold": 80.0,
        "ComparisonOperator": "GreaterThanThreshold",
        "TreatMissingData": "notBreaching"
    }]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("alarms.json");
    std::fs::write(&file, request.to_string()).unwrap();
    let out = skywatch(&["alarms", "push", file.to_str().unwrap()], &env);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains(&format!("put {name}")));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let alarm = runtime.block_on(async {
        let client = skywatch_tests::cloudwatch::Client::new(&sdk_config(&moto.endpoint_url()).await);
        let answer = client.describe_alarms().alarm_names(&name).send().await.unwrap();
        answer.metric_alarms()[0].clone()
    });
    assert_eq!(
        alarm.alarm_description(),
        Some("CPU above 80 % for 3 of 5 minutes")
    );
    assert_eq!(alarm.metric_name(), Some("CPUUtilization"));
    assert_eq!(alarm.namespace(), Some("AWS/EC2"));
    assert_eq!(
        alarm
            .statistic()
            .map(skywatch_tests::cloudwatch::types::Statistic::as_str),
        Some("Average")
    );
    assert_eq!(alarm.period(), Some(60));
    assert_eq!(alarm.evaluation_periods(), Some(5));
    assert_eq!(alarm.datapoints_to_alarm(), Some(3));
    assert_eq!(alarm.threshold(), Some(80.0));
    assert_eq!(
        alarm
            .comparison_operator()
            .map(skywatch_tests::cloudwatch::types::ComparisonOperator::as_str),
        Some("GreaterThanThreshold")
    );
    assert_eq!(alarm.treat_missing_data(), Some("notBreaching"));
    assert_eq!(alarm.alarm_actions(), ["arn:aws:sns:us-east-1:123456789012:ops"]);
    let dims = alarm.dimensions();
    assert_eq!(
        (dims[0].name(), dims[0].value()),
        (Some("InstanceId"), Some("i-0123456789abcdef0"))
    );
    // A file with a problem sends nothing.
    std::fs::write(&file, r#"[{"AlarmName": "x", "Threshold": 1}]"#).unwrap();
    let out = skywatch(&["alarms", "push", file.to_str().unwrap()], &env);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
}

#[test]
fn eval_replays_a_datapoints_file_and_the_agents_store_alike() {
    let dir = tempfile::tempdir().unwrap();
    let rules_file = dir.path().join("rules.toml");
    std::fs::write(&rules_file, rules("arn:aws:sns:us-east-1:123456789012:ops")).unwrap();
    let start_s = 1_796_640_000;
    let file = dir.path().join("datapoints.jsonl");
    std::fs::write(&file, datapoints(start_s)).unwrap();
    let out = eval_file(&rules_file, &file, &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let timeline = json_lines(&out);
    let states: Vec<(&str, &str, &str)> = timeline
        .iter()
        .map(|t| {
            (
                t["time"].as_str().unwrap(),
                t["old_state"].as_str().unwrap(),
                t["new_state"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        states,
        [
            ("2026-12-07T10:40:20.000Z", "INSUFFICIENT_DATA", "ALARM"),
            ("2026-12-07T10:41:20.000Z", "ALARM", "OK"),
        ]
    );
    assert_eq!(
        timeline[1]["actions"],
        json!([
            "arn:aws:sns:us-east-1:123456789012:ops",
            "arn:aws:lambda:us-east-1:123456789012:function:on-ok"
        ])
    );

    // The same datapoints in the agent's local store, over the same span (the file's default:
    // its last datapoint plus the evaluation range), give the same timeline.
    let state = dir.path().join("state");
    let store = skywatch_store::LocalMetricStore::open(
        &skywatch_store::metrics_dir(&state),
        skywatch_store::Retention::default(),
    )
    .unwrap();
    let datums: Vec<skywatch_store::Datum> = (0..12)
        .map(|i| skywatch_store::Datum {
            name: "mem_used_percent".into(),
            unit: "Percent".into(),
            dimensions: vec![("host".into(), "web-1".into())],
            value: if i < 6 { 25.0 } else { 10.0 },
            timestamp_ms: (start_s + i * 10) * 1000,
            storage_resolution: 1,
        })
        .collect();
    store.append("CWAgent", &datums).unwrap();
    let from = skywatch_time::rfc3339_ms(start_s * 1000);
    let to = skywatch_time::rfc3339_ms((start_s + 160) * 1000);
    let out = skywatch(
        &[
            "alarms",
            "eval",
            rules_file.to_str().unwrap(),
            "--store",
            state.to_str().unwrap(),
            "--from",
            &from,
            "--to",
            &to,
        ],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let from_store = json_lines(&out);
    assert_eq!(from_store, timeline);

    // As CloudWatch would publish them, and as EventBridge events.
    let out = eval_file(&rules_file, &file, &["--format", "sns"]);
    let first: Value = serde_json::from_str(text(&out.stdout).lines().next().unwrap()).unwrap();
    assert_eq!(
        first["Subject"],
        "ALARM: \"memory high\" in US East (N. Virginia)"
    );
    let message: Value = serde_json::from_str(first["Message"].as_str().unwrap()).unwrap();
    assert_eq!(message["Trigger"]["Statistic"], "AVERAGE");
    let out = eval_file(&rules_file, &file, &["--format", "eventbridge"]);
    let event: Value = serde_json::from_str(text(&out.stdout).lines().next().unwrap()).unwrap();
    assert_eq!(event["detail-type"], "CloudWatch Alarm State Change");
    assert_eq!(event["detail"]["state"]["value"], "ALARM");

    // A malformed datapoint line is named, and nothing is replayed.
    std::fs::write(&file, datapoints(start_s) + "{\"Namespace\": 5}\n").unwrap();
    let out = eval_file(&rules_file, &file, &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("line 13"), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty());
}

#[test]
fn eval_publish_sends_each_change_to_its_topic() {
    let moto = moto::shared().unwrap();
    let env = env_vars(&moto.endpoint_url());
    let tag = unique_name("eval");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let config = runtime.block_on(sdk_config(&moto.endpoint_url()));
    let (topic, queue) = runtime.block_on(async {
        let sns = skywatch_tests::sns::Client::new(&config);
        let sqs = skywatch_tests::sqs::Client::new(&config);
        let topic = sns.create_topic().name(&tag).send().await.unwrap();
        let topic = topic.topic_arn().unwrap().to_string();
        let queue = sqs.create_queue().queue_name(&tag).send().await.unwrap();
        let queue = queue.queue_url().unwrap().to_string();
        let arn = format!("arn:aws:sqs:us-east-1:123456789012:{tag}");
        sns.subscribe()
            .topic_arn(&topic)
            .protocol("sqs")
            .endpoint(arn)
            .attributes("RawMessageDelivery", "true")
            .send()
            .await
            .unwrap();
        (topic, queue)
    });
    let dir = tempfile::tempdir().unwrap();
    let rules_file = dir.path().join("rules.toml");
    std::fs::write(&rules_file, rules(&topic)).unwrap();
    let file = dir.path().join("datapoints.jsonl");
    std::fs::write(&file, datapoints(1_796_640_000)).unwrap();
    let out = skywatch(
        &[
            "alarms",
            "eval",
            rules_file.to_str().unwrap(),
            "--datapoints",
            file.to_str().unwrap(),
            "--publish",
            "--state-dir",
            dir.path().join("state").to_str().unwrap(),
        ],
        &env,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("2 notification(s) published, 0 waiting") && stderr.contains("1 action(s) not SNS"),
        "{stderr}"
    );
    // Raw delivery: the queue holds the messages themselves: ALARM, then OK (the Lambda action
    // of the OK change is not SNS, so it is only counted).
    let mut states: Vec<(String, String, String)> = runtime.block_on(async {
        let sqs = skywatch_tests::sqs::Client::new(&config);
        let seen = std::sync::Mutex::new(Vec::new());
        skywatch_tests::poll::poll_until_async(
            "two messages",
            Duration::from_secs(20),
            Duration::from_millis(100),
            || async {
                let answer = sqs
                    .receive_message()
                    .queue_url(&queue)
                    .max_number_of_messages(10)
                    .send()
                    .await
                    .ok()?;
                for m in answer.messages() {
                    sqs.delete_message()
                        .queue_url(&queue)
                        .receipt_handle(m.receipt_handle().unwrap_or_default())
                        .send()
                        .await
                        .ok()?;
                }
                let mut seen = seen.lock().unwrap();
                for m in answer.messages() {
                    let v: Value = serde_json::from_str(m.body().unwrap_or_default()).unwrap();
                    seen.push((
                        v["StateChangeTime"].as_str().unwrap().to_string(),
                        v["OldStateValue"].as_str().unwrap().to_string(),
                        v["NewStateValue"].as_str().unwrap().to_string(),
                    ));
                }
                (seen.len() >= 2).then_some(())
            },
        )
        .await
        .unwrap();
        seen.into_inner().unwrap()
    });
    states.sort();
    let changes: Vec<(&str, &str)> = states.iter().map(|(_, a, b)| (a.as_str(), b.as_str())).collect();
    assert_eq!(
        changes,
        [("INSUFFICIENT_DATA", "ALARM"), ("ALARM", "OK")],
        "{states:?}"
    );
}

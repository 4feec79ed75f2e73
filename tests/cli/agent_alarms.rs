//! Alarm rules in the running agent, end to end: the agent collects mem_used_percent (from the
//! procfs fixture, about 23.3 %) every second; a rule "above X in 2 of 3 periods of 10 s" with X
//! below that value goes to ALARM, and the notification CloudWatch would send arrives in an SQS
//! queue subscribed to the SNS topic (moto). A restarted agent keeps the state (no second
//! notification); raising X and reloading brings OK and a second notification.

use std::time::Duration;

use serde_json::Value;
use skywatch_tests::aws::{env_vars, sdk_config};
use skywatch_tests::moto;
use skywatch_tests::names::unique_name;
use skywatch_tests::poll::poll_until_async;

use crate::running_agent::Agent;

const ALARM_NAME: &str = "memory above threshold";

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_string()
}

fn rules(tag: &str, topic: &str, threshold: f64) -> String {
    format!(
        r#"
[[alarm]]
name = "{ALARM_NAME}"
description = "mem_used_percent above {threshold} in 2 of 3 periods"
namespace = "CWAgent"
metric = "mem_used_percent"
dimensions = {{ host = "{host}", test = "{tag}" }}
statistic = "Average"
period = 10
evaluation_periods = 3
datapoints_to_alarm = 2
comparison = ">"
threshold = {threshold}
alarm_actions = ["{topic}"]
ok_actions = ["{topic}"]
"#,
        host = hostname()
    )
}

fn agent_config(tag: &str, output: &str) -> String {
    crate::agent::cloudwatch_config(tag, output)
        + "[alarms]\nrules = \"rules.toml\"\naccount_id = \"123456789012\"\n"
}

/// A topic with a queue subscribed to it: (topic ARN, queue URL).
async fn topic_with_queue(config: &skywatch_tests::aws::SdkConfig, name: &str) -> (String, String) {
    let sns = skywatch_tests::sns::Client::new(config);
    let sqs = skywatch_tests::sqs::Client::new(config);
    let topic = sns.create_topic().name(name).send().await.unwrap();
    let topic_arn = topic.topic_arn().unwrap().to_string();
    let queue = sqs.create_queue().queue_name(name).send().await.unwrap();
    let queue_url = queue.queue_url().unwrap().to_string();
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(skywatch_tests::sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap();
    let queue_arn = attributes
        .attributes()
        .and_then(|a| a.get(&skywatch_tests::sqs::types::QueueAttributeName::QueueArn))
        .unwrap()
        .clone();
    sns.subscribe()
        .topic_arn(&topic_arn)
        .protocol("sqs")
        .endpoint(queue_arn)
        .send()
        .await
        .unwrap();
    (topic_arn, queue_url)
}

/// The next SNS envelope in the queue (deleted once read), within `deadline`.
async fn next_notification(
    config: &skywatch_tests::aws::SdkConfig,
    queue_url: &str,
    deadline: Duration,
) -> Result<Value, String> {
    let sqs = skywatch_tests::sqs::Client::new(config);
    poll_until_async(
        "an SNS notification in the queue",
        deadline,
        Duration::from_millis(200),
        || async {
            let answer = sqs
                .receive_message()
                .queue_url(queue_url)
                .max_number_of_messages(1)
                .send()
                .await
                .ok()?;
            let message = answer.messages().first()?.clone();
            sqs.delete_message()
                .queue_url(queue_url)
                .receipt_handle(message.receipt_handle().unwrap_or_default())
                .send()
                .await
                .ok()?;
            serde_json::from_str::<Value>(message.body()?).ok()
        },
    )
    .await
}

fn alarm_message(envelope: &Value) -> Value {
    serde_json::from_str(envelope["Message"].as_str().unwrap()).unwrap()
}

#[test]
fn a_rule_on_the_agents_memory_alarms_and_recovers_through_sns() {
    let moto = moto::shared().unwrap();
    let env = env_vars(&moto.endpoint_url());
    let tag = unique_name("alarm");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let config = runtime.block_on(sdk_config(&moto.endpoint_url()));
    let (topic, queue) = runtime.block_on(topic_with_queue(&config, &tag));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rules.toml"), rules(&tag, &topic, 20.0)).unwrap();

    // Metrics to the local store; the rule alarms within two or three 10 s periods.
    let agent = Agent::start_in(dir.path(), &agent_config(&tag, "local"), &env, &[]);
    let envelope = runtime
        .block_on(next_notification(&config, &queue, Duration::from_secs(90)))
        .unwrap_or_else(|e| panic!("{e}\n{}", agent.log()));
    let message = alarm_message(&envelope);
    assert_eq!(
        envelope["Subject"],
        format!("ALARM: \"{ALARM_NAME}\" in US East (N. Virginia)"),
        "{envelope:#}"
    );
    assert_eq!(envelope["TopicArn"], topic.as_str());
    assert_eq!(message["AlarmName"], ALARM_NAME);
    assert_eq!(message["NewStateValue"], "ALARM", "{message:#}");
    assert_eq!(message["OldStateValue"], "INSUFFICIENT_DATA");
    assert_eq!(message["AWSAccountId"], "123456789012");
    assert_eq!(message["Region"], "US East (N. Virginia)");
    assert_eq!(
        message["AlarmArn"],
        format!("arn:aws:cloudwatch:us-east-1:123456789012:alarm:{ALARM_NAME}")
    );
    let reason = message["NewStateReason"].as_str().unwrap();
    assert!(
        reason.starts_with("Threshold Crossed: ")
            && reason.contains("were greater than the threshold (20.0)")
            && reason.ends_with("(minimum 2 datapoints for INSUFFICIENT_DATA -> ALARM transition)."),
        "{reason}"
    );
    let trigger = &message["Trigger"];
    assert_eq!(trigger["MetricName"], "mem_used_percent");
    assert_eq!(trigger["Namespace"], "CWAgent");
    assert_eq!(trigger["Statistic"], "AVERAGE");
    assert_eq!(trigger["Period"], 10);
    assert_eq!(trigger["EvaluationPeriods"], 3);
    assert_eq!(trigger["DatapointsToAlarm"], 2);
    assert_eq!(trigger["ComparisonOperator"], "GreaterThanThreshold");
    assert_eq!(trigger["Threshold"], 20.0);
    assert!(
        trigger["Dimensions"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!({"value": tag, "name": "test"})),
        "{trigger:#}"
    );
    // Field order as CloudWatch writes it.
    let keys: Vec<&str> = message.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys[..6],
        [
            "AlarmName",
            "AlarmDescription",
            "AWSAccountId",
            "AlarmConfigurationUpdatedTimestamp",
            "NewStateValue",
            "NewStateReason"
        ]
    );
    let (status, log) = agent.stop(Duration::from_secs(20));
    assert!(status.success(), "{log}");
    assert!(
        log.contains(&format!("alarm \"{ALARM_NAME}\": INSUFFICIENT_DATA -> ALARM")),
        "{log}"
    );

    // A restart keeps the state: the next notification is ALARM -> OK, not a second ALARM.
    // This time the metrics go to CloudWatch (moto); the evaluator sees them all the same.
    let agent = Agent::start_in(dir.path(), &agent_config(&tag, "cloudwatch"), &env, &[]);
    // Both runs write to one log: wait for the second start's line (a SIGHUP before the agent
    // handles signals would end it).
    skywatch_tests::poll::poll_until(
        "the second start in the log",
        Duration::from_secs(30),
        Duration::from_millis(50),
        || (agent.log().matches("evaluating 1 alarm rule(s)").count() == 2).then_some(()),
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", agent.log()));
    std::fs::write(dir.path().join("rules.toml"), rules(&tag, &topic, 50.0)).unwrap();
    agent.signal("HUP");
    let envelope = runtime
        .block_on(next_notification(&config, &queue, Duration::from_secs(90)))
        .unwrap_or_else(|e| panic!("{e}\n{}", agent.log()));
    let message = alarm_message(&envelope);
    assert_eq!(message["NewStateValue"], "OK", "{message:#}");
    assert_eq!(message["OldStateValue"], "ALARM", "{message:#}");
    assert_eq!(message["Trigger"]["Threshold"], 50.0);
    let reason = message["NewStateReason"].as_str().unwrap();
    assert!(
        reason.contains("were not greater than the threshold (50.0)"),
        "{reason}"
    );
    assert_eq!(
        envelope["Subject"],
        format!("OK: \"{ALARM_NAME}\" in US East (N. Virginia)")
    );
    let (status, log) = agent.stop(Duration::from_secs(20));
    assert!(status.success(), "{log}");
    assert!(log.contains("rules reloaded: 1 alarm(s), 1 changed"), "{log}");
    assert!(log.contains("1 notification(s) published, 0 waiting"), "{log}");

    // Exactly those two notifications, and the history the agent kept says the same.
    let sqs = skywatch_tests::sqs::Client::new(&config);
    let extra = runtime
        .block_on(
            sqs.receive_message()
                .queue_url(&queue)
                .wait_time_seconds(1)
                .send(),
        )
        .unwrap();
    assert!(extra.messages().is_empty(), "{extra:?}");
    let history = std::fs::read_to_string(dir.path().join("state/alarms/history.jsonl")).unwrap();
    let changes: Vec<(String, String)> = history
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (v["old_state"].to_string(), v["new_state"].to_string())
        })
        .collect();
    assert_eq!(
        changes,
        [
            ("\"INSUFFICIENT_DATA\"".into(), "\"ALARM\"".into()),
            ("\"ALARM\"".into(), "\"OK\"".into())
        ]
    );
    let outbox = std::fs::read_dir(dir.path().join("state/alarms/outbox"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().is_file())
        .count();
    assert_eq!(outbox, 0);
}

#[test]
fn a_notification_sns_cannot_take_waits_in_the_outbox_and_goes_out_after_a_restart() {
    let moto = moto::shared().unwrap();
    let tag = unique_name("outbox");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let config = runtime.block_on(sdk_config(&moto.endpoint_url()));
    let (topic, queue) = runtime.block_on(topic_with_queue(&config, &tag));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rules.toml"), rules(&tag, &topic, 20.0)).unwrap();
    // SNS unreachable: a port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let nowhere = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let agent = Agent::start_in(dir.path(), &agent_config(&tag, "local"), &env_vars(&nowhere), &[]);
    agent.wait_for_log(
        &format!("alarm \"{ALARM_NAME}\": INSUFFICIENT_DATA -> ALARM"),
        Duration::from_secs(90),
    );
    agent.wait_for_log("notifications wait in", Duration::from_secs(30));
    let (status, log) = agent.stop(Duration::from_secs(30));
    assert!(status.success(), "{log}");
    assert!(log.contains("0 notification(s) published, 1 waiting"), "{log}");
    let log_before = log.len();

    // SNS back: the waiting notification is the first thing the next start sends.
    let agent = Agent::start_in(
        dir.path(),
        &agent_config(&tag, "local"),
        &env_vars(&moto.endpoint_url()),
        &[],
    );
    let envelope = runtime
        .block_on(next_notification(&config, &queue, Duration::from_secs(60)))
        .unwrap_or_else(|e| panic!("{e}\n{}", agent.log()));
    let message = alarm_message(&envelope);
    assert_eq!(message["NewStateValue"], "ALARM");
    assert_eq!(message["OldStateValue"], "INSUFFICIENT_DATA");
    let (status, log) = agent.stop(Duration::from_secs(20));
    assert!(status.success(), "{log}");
    // The state came back with it: no second ALARM.
    assert!(
        log[log_before..].contains("0 state change(s), 1 notification(s) published, 0 waiting"),
        "{log}"
    );
}

//! The SNS message and the EventBridge event, against the real sample's field order and quirks.

use skywatch_dashboards::alarms::evaluate::Evaluator;
use skywatch_dashboards::alarms::source::MemorySource;
use skywatch_dashboards::alarms::{eventbridge_event, sns_notification, StateValue};

use crate::common::{rules, set_state, settings, value};

const RULE: &str = r#"[{"AlarmName":"CORE - DB - USO CPU","AlarmDescription":"DESCRIÇÃO DO ALARME",
  "AlarmActions":["arn:aws:sns:sa-east-1:622547859380:monitoriamento"],
  "MetricName":"CPUUtilization","Namespace":"AWS/RDS","Statistic":"Average",
  "Dimensions":[{"Name":"DBInstanceIdentifier","Value":"wehandle"}],"Period":300,"EvaluationPeriods":1,
  "DatapointsToAlarm":1,"Threshold":20,"ComparisonOperator":"GreaterThanThreshold","TreatMissingData":"missing"}]"#;

#[test]
fn sns_message_has_cloudwatch_field_order_and_quirks() {
    let rules = rules(RULE);
    let s = settings("sa-east-1", "622547859380");
    let mut ev = Evaluator::new(rules.clone(), s.clone());
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
        value(1_709_670_360_000, 23.196_333_333_333_335),
    );
    let t = ev.evaluate(1_709_670_664_488, &src).remove(0);
    let n = sns_notification(&rules.alarms[0], &t, &s);
    assert_eq!(
        n.subject,
        "ALARM: \"CORE - DB - USO CPU\" in South America (Sao Paulo)"
    );
    let expected = concat!(
        r#"{"AlarmName":"CORE - DB - USO CPU","AlarmDescription":"DESCRIÇÃO DO ALARME","AWSAccountId":"622547859380","#,
        r#""AlarmConfigurationUpdatedTimestamp":"2024-03-05T20:30:45.526+0000","NewStateValue":"ALARM","#,
        r#""NewStateReason":"Threshold Crossed: 1 out of the last 1 datapoints [23.196333333333335 (05/03/24 20:25:00)] was greater than the threshold (20.0) (minimum 1 datapoint for OK -> ALARM transition).","#,
        r#""StateChangeTime":"2024-03-05T20:31:04.488+0000","Region":"South America (Sao Paulo)","#,
        r#""AlarmArn":"arn:aws:cloudwatch:sa-east-1:622547859380:alarm:CORE - DB - USO CPU","OldStateValue":"OK","#,
        r#""OKActions":[],"AlarmActions":["arn:aws:sns:sa-east-1:622547859380:monitoriamento"],"InsufficientDataActions":[],"#,
        r#""Trigger":{"MetricName":"CPUUtilization","Namespace":"AWS/RDS","StatisticType":"Statistic","Statistic":"AVERAGE","#,
        r#""Unit":null,"Dimensions":[{"value":"wehandle","name":"DBInstanceIdentifier"}],"Period":300,"EvaluationPeriods":1,"#,
        r#""DatapointsToAlarm":1,"ComparisonOperator":"GreaterThanThreshold","Threshold":20.0,"TreatMissingData":"missing","#,
        r#""EvaluateLowSampleCountPercentile":""}}"#
    );
    assert_eq!(n.message, expected);

    let event = eventbridge_event(&rules.alarms[0], &t, &s);
    assert_eq!(event["detail-type"], "CloudWatch Alarm State Change");
    assert_eq!(event["source"], "aws.cloudwatch");
    assert_eq!(event["time"], "2024-03-05T20:31:04Z");
    assert_eq!(event["resources"][0], t.alarm_arn);
    assert_eq!(event["detail"]["state"]["value"], "ALARM");
    assert_eq!(event["detail"]["previousState"]["value"], "OK");
    assert_eq!(
        event["detail"]["configuration"]["metrics"][0]["metricStat"]["metric"]["dimensions"]
            ["DBInstanceIdentifier"],
        "wehandle"
    );
    assert_eq!(
        event["detail"]["configuration"]["metrics"][0]["metricStat"]["stat"],
        "Average"
    );
    assert_eq!(
        event,
        eventbridge_event(&rules.alarms[0], &t, &s),
        "the event id is stable"
    );
}

#[test]
fn sns_trigger_for_percentiles_math_and_unset_options() {
    let rules = rules(
        r#"[
  {"AlarmName":"p","Namespace":"App","MetricName":"Latency","ExtendedStatistic":"p99","Period":60,"EvaluationPeriods":1,
   "Threshold":0,"ComparisonOperator":"LessThanThreshold","Unit":"Milliseconds","EvaluateLowSampleCountPercentile":"evaluate"},
  {"AlarmName":"m","EvaluationPeriods":1,"Threshold":1,"ComparisonOperator":"GreaterThanThreshold","Metrics":[
    {"Id":"e1","Expression":"m1*1","Label":"Expression1","ReturnData":true},
    {"Id":"m1","MetricStat":{"Metric":{"Namespace":"AWS/EC2","MetricName":"NetworkOut","Dimensions":[{"Name":"InstanceId","Value":"TestInstance"}]},"Period":60,"Stat":"Average"},"ReturnData":false}]},
  {"AlarmName":"c","AlarmRule":"ALARM(p) OR ALARM(m)"}
]"#,
    );
    let cfg = settings("eu-west-1", "123456789012");
    let mut ev = Evaluator::new(rules.clone(), cfg.clone());
    let t = ev.evaluate(600_000, &MemorySource::new());
    assert!(t.is_empty(), "no data, missing: stays INSUFFICIENT_DATA");
    set_state(&mut ev, "p", StateValue::Ok, Some(0));
    set_state(&mut ev, "m", StateValue::Ok, Some(0));
    let mut src = MemorySource::new();
    src.push(
        "App",
        "Latency",
        &[],
        skywatch_dashboards::alarms::Sample {
            timestamp_ms: 600_000,
            unit: Some("Milliseconds".into()),
            kind: skywatch_dashboards::alarms::SampleKind::Value(0.0),
        },
    );
    let dims = [("InstanceId".to_string(), "TestInstance".to_string())];
    src.push("AWS/EC2", "NetworkOut", &dims, value(600_000, 5.0));
    let t = ev.evaluate(660_000, &src);
    let msg = |name: &str| -> serde_json::Value {
        let tr = t
            .iter()
            .find(|t| t.alarm_name == name)
            .unwrap_or_else(|| panic!("{name}: {t:?}"));
        let alarm = rules.get(name).unwrap();
        serde_json::from_str(&sns_notification(alarm, tr, &cfg).message).unwrap()
    };
    // p99 of 0 is not < 0: OK, no change; `m` (5 > 1) goes to ALARM and the composite with it.
    assert!(t.iter().all(|t| t.alarm_name != "p"));
    let composite = msg("c");
    assert_eq!(composite["AlarmRule"], "ALARM(p) OR ALARM(m)");
    assert!(composite.get("Trigger").is_none());
    let math = msg("m");
    assert_eq!(math["AlarmDescription"], serde_json::Value::Null);
    assert_eq!(math["Region"], "EU (Ireland)");
    let trigger = serde_json::to_string(&math["Trigger"]).unwrap();
    assert_eq!(
        trigger,
        concat!(
            r#"{"Period":60,"EvaluationPeriods":1,"ComparisonOperator":"GreaterThanThreshold","Threshold":1.0,"TreatMissingData":"missing","#,
            r#""EvaluateLowSampleCountPercentile":"","Metrics":[{"Expression":"m1*1","Id":"e1","Label":"Expression1","ReturnData":true},"#,
            r#"{"Id":"m1","MetricStat":{"Metric":{"Dimensions":[{"value":"TestInstance","name":"InstanceId"}],"MetricName":"NetworkOut","Namespace":"AWS/EC2"},"Period":60,"Stat":"Average"},"ReturnData":false}]}"#
        )
    );
    let mut src2 = MemorySource::new();
    src2.push(
        "App",
        "Latency",
        &[],
        skywatch_dashboards::alarms::Sample {
            timestamp_ms: 660_000,
            unit: Some("Milliseconds".into()),
            kind: skywatch_dashboards::alarms::SampleKind::Value(-5.0),
        },
    );
    let t = ev.evaluate(720_000, &src2);
    let tp = t.iter().find(|t| t.alarm_name == "p").expect("p goes to ALARM");
    let p_msg: serde_json::Value =
        serde_json::from_str(&sns_notification(rules.get("p").unwrap(), tp, &cfg).message).unwrap();
    let trigger = serde_json::to_string(&p_msg["Trigger"]).unwrap();
    assert!(
        trigger.starts_with(r#"{"MetricName":"Latency","Namespace":"App","StatisticType":"ExtendedStatistic","ExtendedStatistic":"p99","Unit":"Milliseconds","Dimensions":[],"Period":60,"EvaluationPeriods":1,"ComparisonOperator""#),
        "{trigger}"
    );
    assert!(
        trigger.ends_with(
            r#""Threshold":0.0,"TreatMissingData":"missing","EvaluateLowSampleCountPercentile":"evaluate"}"#
        ),
        "{trigger}"
    );
}

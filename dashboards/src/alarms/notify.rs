//! Notifications as data: the SNS message CloudWatch publishes for a state change (field order
//! and quirks from real samples, research §2.1–2.2), and the EventBridge "CloudWatch Alarm State
//! Change" event (§2.5). Sending them is the caller's job.

use serde_json::{json, Map, Value};

use super::evaluate::{Settings, Transition};
use super::limits::MAX_SNS_SUBJECT_CHARS;
use super::model::{Alarm, Dimension, MetricAlarm, MetricDataQuery, Stat, Statistic};
use super::reason::aws_time;

/// An SNS Publish's Subject and Message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub subject: String,
    /// The JSON text, compact, in CloudWatch's field order.
    pub message: String,
}

/// The long names CloudWatch writes in `Region` and the Subject, for the commercial regions.
const REGION_NAMES: &[(&str, &str)] = &[
    ("us-east-1", "US East (N. Virginia)"),
    ("us-east-2", "US East (Ohio)"),
    ("us-west-1", "US West (N. California)"),
    ("us-west-2", "US West (Oregon)"),
    ("af-south-1", "Africa (Cape Town)"),
    ("ap-east-1", "Asia Pacific (Hong Kong)"),
    ("ap-east-2", "Asia Pacific (Taipei)"),
    ("ap-south-1", "Asia Pacific (Mumbai)"),
    ("ap-south-2", "Asia Pacific (Hyderabad)"),
    ("ap-southeast-1", "Asia Pacific (Singapore)"),
    ("ap-southeast-2", "Asia Pacific (Sydney)"),
    ("ap-southeast-3", "Asia Pacific (Jakarta)"),
    ("ap-southeast-4", "Asia Pacific (Melbourne)"),
    ("ap-southeast-5", "Asia Pacific (Malaysia)"),
    ("ap-southeast-7", "Asia Pacific (Thailand)"),
    ("ap-northeast-1", "Asia Pacific (Tokyo)"),
    ("ap-northeast-2", "Asia Pacific (Seoul)"),
    ("ap-northeast-3", "Asia Pacific (Osaka)"),
    ("ca-central-1", "Canada (Central)"),
    ("ca-west-1", "Canada West (Calgary)"),
    ("eu-central-1", "EU (Frankfurt)"),
    ("eu-central-2", "EU (Zurich)"),
    ("eu-west-1", "EU (Ireland)"),
    ("eu-west-2", "EU (London)"),
    ("eu-west-3", "EU (Paris)"),
    ("eu-north-1", "EU (Stockholm)"),
    ("eu-south-1", "EU (Milan)"),
    ("eu-south-2", "EU (Spain)"),
    ("il-central-1", "Israel (Tel Aviv)"),
    ("me-south-1", "Middle East (Bahrain)"),
    ("me-central-1", "Middle East (UAE)"),
    ("mx-central-1", "Mexico (Central)"),
    ("sa-east-1", "South America (Sao Paulo)"),
];

/// The long name of a region code; the code itself for a region not in the table.
pub fn region_long_name(region: &str) -> &str {
    REGION_NAMES
        .iter()
        .find(|(code, _)| *code == region)
        .map_or(region, |(_, name)| name)
}

/// `ALARM: "name" in EU (Ireland)`. Past SNS's limit (under 100 characters) the name is cut and `...` put
/// inside the quotes, so the state and region stay readable.
pub fn subject(state: &str, name: &str, region: &str) -> String {
    let long = region_long_name(region);
    let full = format!("{state}: \"{name}\" in {long}");
    if full.chars().count() <= MAX_SNS_SUBJECT_CHARS {
        return full;
    }
    let fixed = format!("{state}: \"...\" in {long}").chars().count();
    let room = MAX_SNS_SUBJECT_CHARS.saturating_sub(fixed);
    let cut: String = name.chars().take(room).collect();
    let s = format!("{state}: \"{cut}...\" in {long}");
    s.chars().take(MAX_SNS_SUBJECT_CHARS).collect()
}

fn sns_dimensions(dims: &[Dimension]) -> Value {
    Value::Array(
        dims.iter()
            .map(|d| json!({"value": d.value, "name": d.name}))
            .collect(),
    )
}

fn upper_statistic(s: Statistic) -> &'static str {
    match s {
        Statistic::SampleCount => "SAMPLE_COUNT",
        Statistic::Average => "AVERAGE",
        Statistic::Sum => "SUM",
        Statistic::Minimum => "MINIMUM",
        Statistic::Maximum => "MAXIMUM",
    }
}

/// A math query as the Trigger lists it (keys in alphabetical order, as in AWS's samples).
fn trigger_query(q: &MetricDataQuery) -> Value {
    let mut m = Map::new();
    if let Some(e) = &q.expression {
        m.insert("Expression".into(), json!(e));
    }
    m.insert("Id".into(), json!(q.id));
    if let Some(l) = &q.label {
        m.insert("Label".into(), json!(l));
    }
    if let Some(s) = &q.metric_stat {
        let mut stat = Map::new();
        stat.insert(
            "Metric".into(),
            json!({"Dimensions": sns_dimensions(&s.dimensions), "MetricName": s.metric_name, "Namespace": s.namespace}),
        );
        stat.insert("Period".into(), json!(s.period));
        stat.insert("Stat".into(), json!(s.stat));
        if let Some(u) = &s.unit {
            stat.insert("Unit".into(), json!(u));
        }
        m.insert("MetricStat".into(), Value::Object(stat));
    }
    m.insert("ReturnData".into(), json!(q.return_data.unwrap_or(true)));
    Value::Object(m)
}

fn trigger(alarm: &MetricAlarm) -> Value {
    let mut t = Map::new();
    if alarm.metrics.is_empty() {
        t.insert("MetricName".into(), json!(alarm.metric_name));
        t.insert("Namespace".into(), json!(alarm.namespace));
        if let Some(Stat::Percentile(_)) = alarm.stat() {
            t.insert("StatisticType".into(), json!("ExtendedStatistic"));
            t.insert("ExtendedStatistic".into(), json!(alarm.extended_statistic));
        } else {
            t.insert("StatisticType".into(), json!("Statistic"));
            t.insert("Statistic".into(), json!(alarm.statistic.map(upper_statistic)));
        }
        t.insert("Unit".into(), json!(alarm.unit));
        t.insert("Dimensions".into(), sns_dimensions(&alarm.dimensions));
    }
    t.insert("Period".into(), json!(alarm.period_secs()));
    t.insert("EvaluationPeriods".into(), json!(alarm.evaluation_periods));
    if let Some(m) = alarm.datapoints_to_alarm {
        t.insert("DatapointsToAlarm".into(), json!(m));
    }
    t.insert(
        "ComparisonOperator".into(),
        json!(alarm.comparison_operator.as_str()),
    );
    t.insert("Threshold".into(), json!(alarm.threshold));
    t.insert(
        "TreatMissingData".into(),
        json!(alarm.treat_missing_data_or_default().as_str()),
    );
    t.insert(
        "EvaluateLowSampleCountPercentile".into(),
        json!(alarm
            .evaluate_low_sample_count_percentile
            .map_or("", |e| e.as_str())),
    );
    if !alarm.metrics.is_empty() {
        t.insert(
            "Metrics".into(),
            Value::Array(alarm.metrics.iter().map(trigger_query).collect()),
        );
    }
    Value::Object(t)
}

/// The SNS Subject and Message CloudWatch publishes for `transition` of `alarm`. A composite
/// alarm's message has no Trigger and carries `AlarmRule` instead (our choice: AWS's composite
/// message is not documented).
pub fn sns_notification(alarm: &Alarm, transition: &Transition, settings: &Settings) -> Notification {
    let mut m = Map::new();
    m.insert("AlarmName".into(), json!(alarm.name()));
    m.insert("AlarmDescription".into(), json!(alarm.description()));
    m.insert("AWSAccountId".into(), json!(settings.account_id));
    m.insert(
        "AlarmConfigurationUpdatedTimestamp".into(),
        json!(aws_time(transition.configuration_updated_ms)),
    );
    m.insert("NewStateValue".into(), json!(transition.new_state.as_str()));
    m.insert("NewStateReason".into(), json!(transition.reason));
    m.insert("StateChangeTime".into(), json!(aws_time(transition.timestamp_ms)));
    m.insert("Region".into(), json!(region_long_name(&settings.region)));
    m.insert("AlarmArn".into(), json!(transition.alarm_arn));
    m.insert("OldStateValue".into(), json!(transition.old_state.as_str()));
    let [ok, alarm_actions, insufficient] = alarm.all_actions();
    m.insert("OKActions".into(), json!(ok));
    m.insert("AlarmActions".into(), json!(alarm_actions));
    m.insert("InsufficientDataActions".into(), json!(insufficient));
    match alarm {
        Alarm::Metric(a) => {
            m.insert("Trigger".into(), trigger(a));
        }
        Alarm::Composite(c) => {
            m.insert("AlarmRule".into(), json!(c.alarm_rule));
        }
    }
    Notification {
        subject: subject(transition.new_state.as_str(), alarm.name(), &settings.region),
        message: Value::Object(m).to_string(),
    }
}

/// A stable event id in UUID form, derived from what identifies the change (FNV-1a, 128 bits).
fn event_id(parts: &[&str]) -> String {
    let mut h: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    for part in parts {
        for b in part.bytes().chain([0]) {
            h ^= u128::from(b);
            h = h.wrapping_mul(0x0000_0000_0100_0000_0000_0000_0000_013b);
        }
    }
    let hex = format!("{h:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

fn event_dimensions(dims: &[Dimension]) -> Value {
    Value::Object(dims.iter().map(|d| (d.name.clone(), json!(d.value))).collect())
}

fn event_metrics(alarm: &MetricAlarm) -> Value {
    if alarm.metrics.is_empty() {
        let stat = alarm
            .statistic
            .map(|s| s.as_str().to_string())
            .or_else(|| alarm.extended_statistic.clone());
        return json!([{
            "id": event_id(&[&alarm.alarm_name, "metric"]),
            "metricStat": {
                "metric": {
                    "namespace": alarm.namespace,
                    "name": alarm.metric_name,
                    "dimensions": event_dimensions(&alarm.dimensions),
                },
                "period": alarm.period_secs(),
                "stat": stat,
            },
            "returnData": true,
        }]);
    }
    Value::Array(
        alarm
            .metrics
            .iter()
            .map(|q| {
                let mut m = Map::new();
                m.insert("id".into(), json!(q.id));
                if let Some(e) = &q.expression {
                    m.insert("expression".into(), json!(e));
                }
                if let Some(l) = &q.label {
                    m.insert("label".into(), json!(l));
                }
                if let Some(s) = &q.metric_stat {
                    m.insert(
                        "metricStat".into(),
                        json!({
                            "metric": {"namespace": s.namespace, "name": s.metric_name, "dimensions": event_dimensions(&s.dimensions)},
                            "period": s.period,
                            "stat": s.stat,
                        }),
                    );
                }
                m.insert("returnData".into(), json!(q.return_data.unwrap_or(true)));
                Value::Object(m)
            })
            .collect(),
    )
}

/// The EventBridge "CloudWatch Alarm State Change" event for `transition`.
pub fn eventbridge_event(alarm: &Alarm, transition: &Transition, settings: &Settings) -> Value {
    let time = skywatch_time::rfc3339_ms(transition.timestamp_ms);
    // EventBridge's `time` has whole seconds.
    let time = format!("{}Z", time.get(..19).unwrap_or(&time));
    let configuration = match alarm {
        Alarm::Metric(a) => json!({"description": a.alarm_description, "metrics": event_metrics(a)}),
        Alarm::Composite(c) => json!({"alarmRule": c.alarm_rule, "description": c.alarm_description}),
    };
    let old_time = transition
        .old_timestamp_ms
        .unwrap_or(transition.configuration_updated_ms);
    json!({
        "version": "0",
        "id": event_id(&[&transition.alarm_arn, &transition.timestamp_ms.to_string(), transition.new_state.as_str()]),
        "detail-type": "CloudWatch Alarm State Change",
        "source": "aws.cloudwatch",
        "account": settings.account_id,
        "time": time,
        "region": settings.region,
        "resources": [transition.alarm_arn],
        "detail": {
            "alarmName": alarm.name(),
            "state": {
                "value": transition.new_state.as_str(),
                "reason": transition.reason,
                "reasonData": transition.reason_data,
                "timestamp": aws_time(transition.timestamp_ms),
            },
            "previousState": {
                "value": transition.old_state.as_str(),
                "reason": transition.old_reason,
                "reasonData": transition.old_reason_data,
                "timestamp": aws_time(old_time),
            },
            "configuration": configuration,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::{region_long_name, subject};

    #[test]
    fn subjects_keep_state_and_region_within_100_characters() {
        assert_eq!(
            subject("ALARM", "bucketbytesAlarm", "eu-west-1"),
            "ALARM: \"bucketbytesAlarm\" in EU (Ireland)"
        );
        let long =
            "AutoAlarm-i-0bb9aaaaaaaaaaaaa-StatusCheckFailed-with-a-very-long-suffix-that-goes-on-and-on";
        let s = subject("INSUFFICIENT_DATA", long, "eu-west-2");
        assert_eq!(s.chars().count(), 99);
        assert!(s.starts_with("INSUFFICIENT_DATA: \"AutoAlarm-i-0bb9"), "{s}");
        assert!(s.ends_with("...\" in EU (London)"), "{s}");
        assert_eq!(region_long_name("sa-east-1"), "South America (Sao Paulo)");
        assert_eq!(region_long_name("xx-test-9"), "xx-test-9");
    }
}

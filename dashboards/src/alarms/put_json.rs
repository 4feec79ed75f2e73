//! Alarms as the CLI input JSON of `aws cloudwatch put-metric-alarm` / `put-composite-alarm`:
//! PutMetricAlarm's field order, optional fields left out when unset (an empty action list
//! counts as unset). This is the shape `skywatch alarms push` sends and DescribeAlarms returns.

use serde_json::{json, Map, Value};

use super::model::{CompositeAlarm, Dimension, MetricAlarm, MetricDataQuery, Tag};

fn dimensions(dims: &[Dimension]) -> Value {
    Value::Array(
        dims.iter()
            .map(|d| json!({"Name": d.name, "Value": d.value}))
            .collect(),
    )
}

fn tags(tags: &[Tag]) -> Value {
    Value::Array(
        tags.iter()
            .map(|t| json!({"Key": t.key, "Value": t.value}))
            .collect(),
    )
}

fn put_common(
    m: &mut Map<String, Value>,
    description: Option<&String>,
    enabled: Option<bool>,
    lists: [(&str, &Vec<String>); 3],
) {
    if let Some(d) = description {
        m.insert("AlarmDescription".into(), json!(d));
    }
    if let Some(e) = enabled {
        m.insert("ActionsEnabled".into(), json!(e));
    }
    for (key, list) in lists {
        if !list.is_empty() {
            m.insert(key.into(), json!(list));
        }
    }
}

/// A metric alarm as PutMetricAlarm's CLI input JSON.
pub fn to_put_metric_alarm_json(alarm: &MetricAlarm) -> Value {
    let mut m = Map::new();
    m.insert("AlarmName".into(), json!(alarm.alarm_name));
    put_common(
        &mut m,
        alarm.alarm_description.as_ref(),
        alarm.actions_enabled,
        [
            ("OKActions", &alarm.ok_actions),
            ("AlarmActions", &alarm.alarm_actions),
            ("InsufficientDataActions", &alarm.insufficient_data_actions),
        ],
    );
    if let Some(v) = &alarm.metric_name {
        m.insert("MetricName".into(), json!(v));
    }
    if let Some(v) = &alarm.namespace {
        m.insert("Namespace".into(), json!(v));
    }
    if let Some(v) = alarm.statistic {
        m.insert("Statistic".into(), json!(v.as_str()));
    }
    if let Some(v) = &alarm.extended_statistic {
        m.insert("ExtendedStatistic".into(), json!(v));
    }
    if !alarm.dimensions.is_empty() {
        m.insert("Dimensions".into(), dimensions(&alarm.dimensions));
    }
    if let Some(v) = alarm.period {
        m.insert("Period".into(), json!(v));
    }
    if let Some(v) = &alarm.unit {
        m.insert("Unit".into(), json!(v));
    }
    m.insert("EvaluationPeriods".into(), json!(alarm.evaluation_periods));
    if let Some(v) = alarm.datapoints_to_alarm {
        m.insert("DatapointsToAlarm".into(), json!(v));
    }
    m.insert("Threshold".into(), json!(alarm.threshold));
    m.insert(
        "ComparisonOperator".into(),
        json!(alarm.comparison_operator.as_str()),
    );
    if let Some(v) = alarm.treat_missing_data {
        m.insert("TreatMissingData".into(), json!(v.as_str()));
    }
    if let Some(v) = alarm.evaluate_low_sample_count_percentile {
        m.insert("EvaluateLowSampleCountPercentile".into(), json!(v.as_str()));
    }
    if !alarm.metrics.is_empty() {
        m.insert(
            "Metrics".into(),
            Value::Array(alarm.metrics.iter().map(query).collect()),
        );
    }
    if !alarm.tags.is_empty() {
        m.insert("Tags".into(), tags(&alarm.tags));
    }
    Value::Object(m)
}

/// One MetricDataQuery in the API's shape.
pub fn query(q: &MetricDataQuery) -> Value {
    let mut m = Map::new();
    m.insert("Id".into(), json!(q.id));
    if let Some(s) = &q.metric_stat {
        let mut metric = Map::new();
        metric.insert("Namespace".into(), json!(s.namespace));
        metric.insert("MetricName".into(), json!(s.metric_name));
        if !s.dimensions.is_empty() {
            metric.insert("Dimensions".into(), dimensions(&s.dimensions));
        }
        let mut stat = Map::new();
        stat.insert("Metric".into(), Value::Object(metric));
        stat.insert("Period".into(), json!(s.period));
        stat.insert("Stat".into(), json!(s.stat));
        if let Some(u) = &s.unit {
            stat.insert("Unit".into(), json!(u));
        }
        m.insert("MetricStat".into(), Value::Object(stat));
    }
    if let Some(e) = &q.expression {
        m.insert("Expression".into(), json!(e));
    }
    if let Some(l) = &q.label {
        m.insert("Label".into(), json!(l));
    }
    if let Some(r) = q.return_data {
        m.insert("ReturnData".into(), json!(r));
    }
    if let Some(p) = q.period {
        m.insert("Period".into(), json!(p));
    }
    if let Some(a) = &q.account_id {
        m.insert("AccountId".into(), json!(a));
    }
    Value::Object(m)
}

/// A composite alarm as PutCompositeAlarm's CLI input JSON.
pub fn to_put_composite_alarm_json(alarm: &CompositeAlarm) -> Value {
    let mut m = Map::new();
    m.insert("AlarmName".into(), json!(alarm.alarm_name));
    put_common(
        &mut m,
        alarm.alarm_description.as_ref(),
        alarm.actions_enabled,
        [
            ("OKActions", &alarm.ok_actions),
            ("AlarmActions", &alarm.alarm_actions),
            ("InsufficientDataActions", &alarm.insufficient_data_actions),
        ],
    );
    m.insert("AlarmRule".into(), json!(alarm.alarm_rule));
    if !alarm.tags.is_empty() {
        m.insert("Tags".into(), tags(&alarm.tags));
    }
    Value::Object(m)
}

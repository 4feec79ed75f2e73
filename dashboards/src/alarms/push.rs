//! `skywatch alarms push`: each rule becomes a PutMetricAlarm (or PutCompositeAlarm) call with
//! the rule's fields as they are, so DescribeAlarms returns what the file says. Metric alarms
//! go first: a composite's rule may only name alarms that exist.

use aws_sdk_cloudwatch::types::{
    ComparisonOperator, Dimension as SdkDimension, Metric, MetricDataQuery as SdkQuery, MetricStat,
    StandardUnit, Statistic, Tag as SdkTag,
};
use aws_sdk_cloudwatch::Client;
use skywatch_aws::{classify, SendError};

use super::model::{Alarm, CompositeAlarm, Dimension, MetricAlarm, MetricDataQuery, Rules, Tag};

/// What happened to one rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pushed {
    pub alarm_name: String,
    /// `None`: CloudWatch took it.
    pub error: Option<String>,
}

/// [`push`] with a client made from `config`.
pub async fn push_with(config: &aws_types::SdkConfig, rules: &Rules) -> Vec<Pushed> {
    push(&Client::new(config), rules).await
}

/// Puts every alarm of `rules`, metric alarms first; one result per alarm, in that order.
/// A failed call does not stop the others.
pub async fn push(client: &Client, rules: &Rules) -> Vec<Pushed> {
    let mut results = Vec::with_capacity(rules.alarms.len());
    let metric = rules.alarms.iter().filter_map(|a| match a {
        Alarm::Metric(m) => Some(m),
        Alarm::Composite(_) => None,
    });
    for alarm in metric {
        let error = put_metric_alarm(client, alarm).await.err().map(|e| e.to_string());
        results.push(Pushed {
            alarm_name: alarm.alarm_name.clone(),
            error,
        });
    }
    let composite = rules.alarms.iter().filter_map(|a| match a {
        Alarm::Composite(c) => Some(c),
        Alarm::Metric(_) => None,
    });
    for alarm in composite {
        let error = put_composite_alarm(client, alarm)
            .await
            .err()
            .map(|e| e.to_string());
        results.push(Pushed {
            alarm_name: alarm.alarm_name.clone(),
            error,
        });
    }
    results
}

async fn put_metric_alarm(client: &Client, a: &MetricAlarm) -> Result<(), SendError> {
    let mut call = client
        .put_metric_alarm()
        .alarm_name(&a.alarm_name)
        .set_alarm_description(a.alarm_description.clone())
        .set_actions_enabled(a.actions_enabled)
        .set_ok_actions(non_empty(&a.ok_actions))
        .set_alarm_actions(non_empty(&a.alarm_actions))
        .set_insufficient_data_actions(non_empty(&a.insufficient_data_actions))
        .set_metric_name(a.metric_name.clone())
        .set_namespace(a.namespace.clone())
        .set_statistic(a.statistic.map(|s| Statistic::from(s.as_str())))
        .set_extended_statistic(a.extended_statistic.clone())
        .set_period(a.period.map(to_i32))
        .set_unit(a.unit.as_deref().map(StandardUnit::from))
        .evaluation_periods(to_i32(a.evaluation_periods))
        .set_datapoints_to_alarm(a.datapoints_to_alarm.map(to_i32))
        .threshold(a.threshold)
        .comparison_operator(ComparisonOperator::from(a.comparison_operator.as_str()))
        .set_treat_missing_data(a.treat_missing_data.map(|t| t.as_str().to_string()))
        .set_evaluate_low_sample_count_percentile(
            a.evaluate_low_sample_count_percentile
                .map(|l| l.as_str().to_string()),
        );
    for d in &a.dimensions {
        call = call.dimensions(dimension(d));
    }
    for q in &a.metrics {
        call = call.metrics(query(q));
    }
    for t in &a.tags {
        call = call.tags(tag(t));
    }
    call.send().await.map(|_| ()).map_err(|e| classify(&e))
}

async fn put_composite_alarm(client: &Client, a: &CompositeAlarm) -> Result<(), SendError> {
    let mut call = client
        .put_composite_alarm()
        .alarm_name(&a.alarm_name)
        .alarm_rule(&a.alarm_rule)
        .set_alarm_description(a.alarm_description.clone())
        .set_actions_enabled(a.actions_enabled)
        .set_ok_actions(non_empty(&a.ok_actions))
        .set_alarm_actions(non_empty(&a.alarm_actions))
        .set_insufficient_data_actions(non_empty(&a.insufficient_data_actions));
    for t in &a.tags {
        call = call.tags(tag(t));
    }
    call.send().await.map(|_| ()).map_err(|e| classify(&e))
}

fn non_empty(actions: &[String]) -> Option<Vec<String>> {
    (!actions.is_empty()).then(|| actions.to_vec())
}

/// Periods and counts are checked small (at most 7 days, 604,800) when the rules are read.
fn to_i32(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

fn dimension(d: &Dimension) -> SdkDimension {
    SdkDimension::builder().name(&d.name).value(&d.value).build()
}

fn tag(t: &Tag) -> SdkTag {
    SdkTag::builder().key(&t.key).value(&t.value).build()
}

fn query(q: &MetricDataQuery) -> SdkQuery {
    let stat = q.metric_stat.as_ref().map(|s| {
        let mut metric = Metric::builder()
            .namespace(&s.namespace)
            .metric_name(&s.metric_name);
        for d in &s.dimensions {
            metric = metric.dimensions(dimension(d));
        }
        MetricStat::builder()
            .metric(metric.build())
            .period(to_i32(s.period))
            .stat(&s.stat)
            .set_unit(s.unit.as_deref().map(StandardUnit::from))
            .build()
    });
    SdkQuery::builder()
        .id(&q.id)
        .set_label(q.label.clone())
        .set_return_data(q.return_data)
        .set_period(q.period.map(to_i32))
        .set_account_id(q.account_id.clone())
        .set_metric_stat(stat)
        .set_expression(q.expression.clone())
        .build()
}

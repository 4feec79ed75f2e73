//! The resolved alarm rules: what a rule file means once checked. Field names follow
//! PutMetricAlarm / PutCompositeAlarm (snake_case), so mapping to the SDK's builders is one line
//! per field; `Option` marks what the request may leave out, and is kept so that the CLI-input
//! JSON we render is the JSON we read.

use serde::{Deserialize, Serialize};

use super::math;
use super::rule::RuleExpr;

/// The alarms of one rule file, in file order. Names are unique.
#[derive(Debug, Clone, PartialEq)]
pub struct Rules {
    pub alarms: Vec<Alarm>,
}

impl Rules {
    pub fn get(&self, name: &str) -> Option<&Alarm> {
        self.alarms.iter().find(|a| a.name() == name)
    }
}

/// One alarm: a metric alarm (one metric or metric math) or a composite alarm.
#[derive(Debug, Clone, PartialEq)]
pub enum Alarm {
    Metric(MetricAlarm),
    Composite(CompositeAlarm),
}

impl Alarm {
    pub fn name(&self) -> &str {
        match self {
            Alarm::Metric(a) => &a.alarm_name,
            Alarm::Composite(a) => &a.alarm_name,
        }
    }

    pub fn description(&self) -> Option<&str> {
        match self {
            Alarm::Metric(a) => a.alarm_description.as_deref(),
            Alarm::Composite(a) => a.alarm_description.as_deref(),
        }
    }

    /// ActionsEnabled, true when unset (AWS's default).
    pub fn actions_enabled(&self) -> bool {
        match self {
            Alarm::Metric(a) => a.actions_enabled,
            Alarm::Composite(a) => a.actions_enabled,
        }
        .unwrap_or(true)
    }

    /// The action ARNs configured for entering `state` (whether or not actions are enabled).
    pub fn actions(&self, state: StateValue) -> &[String] {
        let (ok, alarm, insufficient) = match self {
            Alarm::Metric(a) => (&a.ok_actions, &a.alarm_actions, &a.insufficient_data_actions),
            Alarm::Composite(a) => (&a.ok_actions, &a.alarm_actions, &a.insufficient_data_actions),
        };
        match state {
            StateValue::Ok => ok,
            StateValue::Alarm => alarm,
            StateValue::InsufficientData => insufficient,
        }
    }

    /// `(OKActions, AlarmActions, InsufficientDataActions)`.
    pub fn all_actions(&self) -> [&[String]; 3] {
        [
            self.actions(StateValue::Ok),
            self.actions(StateValue::Alarm),
            self.actions(StateValue::InsufficientData),
        ]
    }
}

/// An alarm's state value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum StateValue {
    #[serde(rename = "OK")]
    Ok,
    #[serde(rename = "ALARM")]
    Alarm,
    #[serde(rename = "INSUFFICIENT_DATA")]
    InsufficientData,
}

impl StateValue {
    pub fn as_str(self) -> &'static str {
        match self {
            StateValue::Ok => "OK",
            StateValue::Alarm => "ALARM",
            StateValue::InsufficientData => "INSUFFICIENT_DATA",
        }
    }
}

/// A metric's dimension.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Dimension {
    pub name: String,
    pub value: String,
}

/// A tag (`Key`, `Value`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

/// The simple statistics (`Statistic`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Statistic {
    SampleCount,
    Average,
    Sum,
    Minimum,
    Maximum,
}

impl Statistic {
    pub const ALL: [Statistic; 5] = [
        Statistic::SampleCount,
        Statistic::Average,
        Statistic::Sum,
        Statistic::Minimum,
        Statistic::Maximum,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Statistic::SampleCount => "SampleCount",
            Statistic::Average => "Average",
            Statistic::Sum => "Sum",
            Statistic::Minimum => "Minimum",
            Statistic::Maximum => "Maximum",
        }
    }

    pub fn parse(text: &str) -> Option<Statistic> {
        Statistic::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// What a period bucket is reduced to: a simple statistic or a percentile (`p99`, `p99.9`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Stat {
    Simple(Statistic),
    /// The percentile in 0..=100.
    Percentile(f64),
}

impl Stat {
    /// `Average`, …, or `pNN` / `pNN.NN` (0 to 100). Other extended statistics (tm, wm, IQM, …)
    /// are not evaluated here.
    pub fn parse(text: &str) -> Option<Stat> {
        if let Some(s) = Statistic::parse(text) {
            return Some(Stat::Simple(s));
        }
        percentile(text).map(Stat::Percentile)
    }
}

/// `p99` → 99.0; `None` for anything that is not `p` and a number from 0 to 100.
pub fn percentile(text: &str) -> Option<f64> {
    let digits = text.strip_prefix('p')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    let p: f64 = digits.parse().ok()?;
    (0.0..=100.0).contains(&p).then_some(p)
}

/// ComparisonOperator (the static-threshold ones; the anomaly-band ones are refused).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ComparisonOperator {
    GreaterThanOrEqualToThreshold,
    GreaterThanThreshold,
    LessThanThreshold,
    LessThanOrEqualToThreshold,
}

impl ComparisonOperator {
    pub const ALL: [ComparisonOperator; 4] = [
        ComparisonOperator::GreaterThanOrEqualToThreshold,
        ComparisonOperator::GreaterThanThreshold,
        ComparisonOperator::LessThanThreshold,
        ComparisonOperator::LessThanOrEqualToThreshold,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ComparisonOperator::GreaterThanOrEqualToThreshold => "GreaterThanOrEqualToThreshold",
            ComparisonOperator::GreaterThanThreshold => "GreaterThanThreshold",
            ComparisonOperator::LessThanThreshold => "LessThanThreshold",
            ComparisonOperator::LessThanOrEqualToThreshold => "LessThanOrEqualToThreshold",
        }
    }

    /// `>`, `>=`, `<`, `<=` as our TOML writes them.
    pub fn symbol(self) -> &'static str {
        match self {
            ComparisonOperator::GreaterThanOrEqualToThreshold => ">=",
            ComparisonOperator::GreaterThanThreshold => ">",
            ComparisonOperator::LessThanThreshold => "<",
            ComparisonOperator::LessThanOrEqualToThreshold => "<=",
        }
    }

    /// The words of NewStateReason: `greater than or equal to`, ….
    pub fn words(self) -> &'static str {
        match self {
            ComparisonOperator::GreaterThanOrEqualToThreshold => "greater than or equal to",
            ComparisonOperator::GreaterThanThreshold => "greater than",
            ComparisonOperator::LessThanThreshold => "less than",
            ComparisonOperator::LessThanOrEqualToThreshold => "less than or equal to",
        }
    }

    pub fn parse(text: &str) -> Option<ComparisonOperator> {
        ComparisonOperator::ALL
            .into_iter()
            .find(|c| c.as_str() == text || c.symbol() == text)
    }

    /// Whether `value` (the left operand) breaches `threshold`.
    pub fn breaches(self, value: f64, threshold: f64) -> bool {
        match self {
            ComparisonOperator::GreaterThanOrEqualToThreshold => value >= threshold,
            ComparisonOperator::GreaterThanThreshold => value > threshold,
            ComparisonOperator::LessThanThreshold => value < threshold,
            ComparisonOperator::LessThanOrEqualToThreshold => value <= threshold,
        }
    }
}

/// TreatMissingData.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TreatMissingData {
    Breaching,
    NotBreaching,
    Ignore,
    Missing,
}

impl TreatMissingData {
    pub const ALL: [TreatMissingData; 4] = [
        TreatMissingData::Missing,
        TreatMissingData::Ignore,
        TreatMissingData::Breaching,
        TreatMissingData::NotBreaching,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TreatMissingData::Breaching => "breaching",
            TreatMissingData::NotBreaching => "notBreaching",
            TreatMissingData::Ignore => "ignore",
            TreatMissingData::Missing => "missing",
        }
    }

    pub fn parse(text: &str) -> Option<TreatMissingData> {
        TreatMissingData::ALL.into_iter().find(|t| t.as_str() == text)
    }
}

/// EvaluateLowSampleCountPercentile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LowSampleCount {
    Evaluate,
    Ignore,
}

impl LowSampleCount {
    pub fn as_str(self) -> &'static str {
        match self {
            LowSampleCount::Evaluate => "evaluate",
            LowSampleCount::Ignore => "ignore",
        }
    }

    pub fn parse(text: &str) -> Option<LowSampleCount> {
        match text {
            "evaluate" => Some(LowSampleCount::Evaluate),
            "ignore" => Some(LowSampleCount::Ignore),
            _ => None,
        }
    }
}

/// A metric alarm, as PutMetricAlarm takes it. Either the single-metric fields
/// (`namespace`, `metric_name`, `dimensions`, `statistic` or `extended_statistic`, `period`,
/// `unit`) are set and `metrics` is empty, or `metrics` holds the metric-math queries and those
/// fields are `None`/empty.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricAlarm {
    pub alarm_name: String,
    pub alarm_description: Option<String>,
    pub actions_enabled: Option<bool>,
    pub ok_actions: Vec<String>,
    pub alarm_actions: Vec<String>,
    pub insufficient_data_actions: Vec<String>,
    pub metric_name: Option<String>,
    pub namespace: Option<String>,
    /// In the order written.
    pub dimensions: Vec<Dimension>,
    pub statistic: Option<Statistic>,
    /// `pNN` as written.
    pub extended_statistic: Option<String>,
    pub period: Option<u32>,
    pub unit: Option<String>,
    pub metrics: Vec<MetricDataQuery>,
    pub evaluation_periods: u32,
    pub datapoints_to_alarm: Option<u32>,
    pub threshold: f64,
    pub comparison_operator: ComparisonOperator,
    pub treat_missing_data: Option<TreatMissingData>,
    pub evaluate_low_sample_count_percentile: Option<LowSampleCount>,
    pub tags: Vec<Tag>,
}

impl MetricAlarm {
    /// M: DatapointsToAlarm, or N when unset.
    pub fn datapoints_to_alarm_or_default(&self) -> u32 {
        self.datapoints_to_alarm.unwrap_or(self.evaluation_periods)
    }

    /// The period every evaluated series uses, in seconds: Period, or the metric-math queries'
    /// (checked to be one period).
    pub fn period_secs(&self) -> u32 {
        self.period
            .or_else(|| {
                self.metrics
                    .iter()
                    .find_map(|q| q.metric_stat.as_ref().map(|s| s.period).or(q.period))
            })
            .unwrap_or(60)
    }

    /// TreatMissingData as evaluated: `missing` when unset.
    pub fn treat_missing_data_or_default(&self) -> TreatMissingData {
        self.treat_missing_data.unwrap_or(TreatMissingData::Missing)
    }

    /// The statistic of a single-metric alarm.
    pub fn stat(&self) -> Option<Stat> {
        match (&self.statistic, &self.extended_statistic) {
            (Some(s), _) => Some(Stat::Simple(*s)),
            (None, Some(p)) => percentile(p).map(Stat::Percentile),
            (None, None) => None,
        }
    }

    /// The query whose series the alarm watches (metric math).
    pub fn returned_query(&self) -> Option<&MetricDataQuery> {
        self.metrics.iter().find(|q| q.return_data.unwrap_or(true))
    }
}

/// One item of `Metrics` (MetricDataQuery): exactly one of `metric_stat` and `expression`.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricDataQuery {
    pub id: String,
    pub label: Option<String>,
    /// `None` means true, as in the API.
    pub return_data: Option<bool>,
    pub period: Option<u32>,
    pub account_id: Option<String>,
    pub metric_stat: Option<MetricStat>,
    pub expression: Option<String>,
    /// `expression`, parsed.
    pub parsed: Option<math::Expr>,
}

/// MetricStat: a metric, its period, statistic and unit.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricStat {
    pub namespace: String,
    pub metric_name: String,
    pub dimensions: Vec<Dimension>,
    pub period: u32,
    /// `Average`, `p99`, … as written.
    pub stat: String,
    pub unit: Option<String>,
}

/// A composite alarm, as PutCompositeAlarm takes it.
#[derive(Debug, Clone, PartialEq)]
pub struct CompositeAlarm {
    pub alarm_name: String,
    pub alarm_description: Option<String>,
    pub actions_enabled: Option<bool>,
    pub ok_actions: Vec<String>,
    pub alarm_actions: Vec<String>,
    pub insufficient_data_actions: Vec<String>,
    /// As written.
    pub alarm_rule: String,
    /// `alarm_rule`, parsed.
    pub rule: RuleExpr,
    pub tags: Vec<Tag>,
}

/// The CloudWatch standard units (StandardUnit).
pub use skywatch_aws::limits::STANDARD_UNITS;

/// `arn:aws:cloudwatch:<region>:<account>:alarm:<name>`.
pub fn alarm_arn(region: &str, account_id: &str, name: &str) -> String {
    format!("arn:aws:cloudwatch:{region}:{account_id}:alarm:{name}")
}

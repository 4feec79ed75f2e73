//! The dashboard body as types. Serializing a [`Dashboard`] gives exactly the JSON PutDashboard
//! takes: AWS's field names, keys in a fixed order (the order of the fields here), unset options
//! left out. The property structs double as the TOML file's tables: they deserialize from our
//! snake_case names and serialize to CloudWatch's camelCase ones.

use serde::ser::{SerializeMap as _, SerializeSeq as _};
use serde::{Deserialize, Serialize, Serializer};

/// A number as a dashboard shows it: whole numbers are written without a fraction (`100`, not
/// `100.0`), so bodies look like the ones people write by hand.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(transparent)]
pub struct Num(pub f64);

impl Serialize for Num {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // Whole numbers within i64's exact range print as integers.
        if self.0.fract() == 0.0 && self.0.abs() < 9.0e15 {
            s.serialize_i64(self.0 as i64)
        } else {
            s.serialize_f64(self.0)
        }
    }
}

/// A whole dashboard body.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Dashboard {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub period_override: Option<PeriodOverride>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub variables: Vec<Variable>,
    pub widgets: Vec<Widget>,
}

impl Dashboard {
    /// The body as a JSON value (keys in the model's order).
    pub fn to_value(&self) -> serde_json::Value {
        // Serializing these types cannot fail: every map key is a string.
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum PeriodOverride {
    Auto,
    Inherit,
}

/// A CloudWatch dashboard variable (the console's drop-downs), not one of our `${var}`s.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all(serialize = "camelCase"), deny_unknown_fields)]
pub struct Variable {
    #[serde(rename = "type")]
    pub kind: VariableKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub property: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_type: Option<VariableInput>,
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_value: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub visible: Option<bool>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<VariableValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub search: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub populate_from: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum VariableKind {
    Property,
    Pattern,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum VariableInput {
    Input,
    Select,
    Radio,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariableValue {
    pub value: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

/// One widget: its place on the grid (unset until [`crate::dashboard::placement`] runs, or
/// left to CloudWatch) and its properties.
#[derive(Debug, Clone, PartialEq)]
pub struct Widget {
    pub x: Option<u64>,
    pub y: Option<u64>,
    pub width: Option<u64>,
    pub height: Option<u64>,
    pub kind: WidgetKind,
}

// A dashboard holds at most 500 widgets: boxing the metric widget would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum WidgetKind {
    Metric(MetricWidget),
    Log(LogWidget),
    Alarm(AlarmWidget),
    Text(TextWidget),
}

impl WidgetKind {
    /// The `type` CloudWatch knows the widget by.
    pub fn type_name(&self) -> &'static str {
        match self {
            WidgetKind::Metric(_) => "metric",
            WidgetKind::Log(_) => "log",
            WidgetKind::Alarm(_) => "alarm",
            WidgetKind::Text(_) => "text",
        }
    }
}

impl Serialize for Widget {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("type", self.kind.type_name())?;
        for (key, value) in [
            ("x", self.x),
            ("y", self.y),
            ("width", self.width),
            ("height", self.height),
        ] {
            if let Some(v) = value {
                map.serialize_entry(key, &v)?;
            }
        }
        match &self.kind {
            WidgetKind::Metric(p) => map.serialize_entry("properties", p)?,
            WidgetKind::Log(p) => map.serialize_entry("properties", p)?,
            WidgetKind::Alarm(p) => map.serialize_entry("properties", p)?,
            WidgetKind::Text(p) => map.serialize_entry("properties", p)?,
        }
        map.end()
    }
}

/// A graph, number, gauge, bar, pie or table of metrics.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricWidget {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<MetricRow>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub view: Option<MetricView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stacked: Option<bool>,
    pub region: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stat: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub period: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub y_axis: Option<YAxis>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub legend: Option<Legend>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub annotations: Option<Annotations>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub live_data: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub set_period_to_time_range: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sparkline: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub single_value_full_precision: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trend: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum MetricView {
    TimeSeries,
    SingleValue,
    Gauge,
    Bar,
    Pie,
    Table,
}

/// One row of `metrics`: `[Namespace, MetricName, DimName, DimValue, …, {options}]`, or a math
/// row `[{"expression": …, "id": …}]` (no tokens, `options.expression` set). Shorthands are
/// expanded before a row becomes one of these.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MetricRow {
    pub tokens: Vec<String>,
    pub options: Option<RenderOptions>,
}

impl MetricRow {
    /// A metric row without options.
    pub fn metric<I: IntoIterator<Item = S>, S: Into<String>>(tokens: I) -> MetricRow {
        MetricRow {
            tokens: tokens.into_iter().map(Into::into).collect(),
            options: None,
        }
    }

    /// A metric math row.
    pub fn expression(expression: &str, id: &str, label: &str) -> MetricRow {
        MetricRow {
            tokens: Vec::new(),
            options: Some(RenderOptions {
                expression: Some(expression.to_string()),
                label: Some(label.to_string()),
                id: Some(id.to_string()),
                ..RenderOptions::default()
            }),
        }
    }

    #[must_use]
    pub fn with(mut self, options: RenderOptions) -> MetricRow {
        self.options = Some(options);
        self
    }
}

impl Serialize for MetricRow {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(None)?;
        for token in &self.tokens {
            seq.serialize_element(token)?;
        }
        if let Some(options) = &self.options {
            seq.serialize_element(options)?;
        }
        seq.end()
    }
}

/// A row's rendering properties (and a math row's expression).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all(serialize = "camelCase"), deny_unknown_fields)]
pub struct RenderOptions {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expression: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub color: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stat: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub period: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub visible: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub y_axis: Option<AxisSide>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum AxisSide {
    Left,
    Right,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct YAxis {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub left: Option<Axis>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub right: Option<Axis>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all(serialize = "camelCase"), deny_unknown_fields)]
pub struct Axis {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<Num>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<Num>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub show_units: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Legend {
    pub position: LegendPosition,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum LegendPosition {
    Bottom,
    Right,
    Hidden,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Annotations {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub horizontal: Vec<Marked<HorizontalMark>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vertical: Vec<Marked<VerticalMark>>,
    /// Alarm ARNs whose thresholds are drawn (the single-alarm graph).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alarms: Vec<String>,
}

/// An annotation is a line (one mark) or a band between two marks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Marked<M> {
    Line(M),
    Band(M, M),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all(serialize = "camelCase"), deny_unknown_fields)]
pub struct HorizontalMark {
    pub value: Num,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub color: Option<String>,
    /// `above`, `below` or `between`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fill: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub visible: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub y_axis: Option<AxisSide>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerticalMark {
    /// An ISO 8601 time.
    pub value: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub color: Option<String>,
    /// `before` or `after`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fill: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub visible: Option<bool>,
}

/// A Logs Insights query's results. `query` is the full text CloudWatch stores, `SOURCE` parts
/// first.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct LogWidget {
    pub query: String,
    pub region: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub view: Option<LogView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stacked: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum LogView {
    Table,
    TimeSeries,
    Bar,
    Pie,
}

/// An alarm status widget.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AlarmWidget {
    pub alarms: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sort_by: Option<AlarmSort>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub states: Option<Vec<AlarmState>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum AlarmSort {
    Default,
    StateUpdatedTimestamp,
    Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AlarmState {
    Alarm,
    Ok,
    InsufficientData,
}

/// Markdown text.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct TextWidget {
    pub markdown: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub background: Option<TextBackground>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum TextBackground {
    Solid,
    Transparent,
}

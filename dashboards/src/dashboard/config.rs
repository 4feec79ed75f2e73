//! Our dashboard file: TOML, as documented in docs/dashboards.md. Read in three steps: `${var}`
//! substitution over every string (key paths kept for errors), deserialization (each
//! `[[widget]]` on its own, so one bad widget does not hide the others' problems), then
//! conversion to the [`Dashboard`] model, which checks what serde cannot (fields that do not
//! belong to the widget's type, rows of `metrics`).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use super::log_query;
use super::model::{
    AlarmSort, AlarmState, AlarmWidget, Annotations, Dashboard, Legend, LogView, LogWidget, MetricRow,
    MetricView, MetricWidget, PeriodOverride, RenderOptions, TextBackground, TextWidget, Variable, Widget,
    WidgetKind, YAxis,
};
use super::problem::Problem;
use super::shorthand;
use super::vars;

/// The whole file as written (after substitution).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    #[serde(default)]
    dashboard: DashboardConfig,
    #[serde(default, rename = "vars")]
    _vars: toml::Table,
    #[serde(default)]
    variable: Vec<Variable>,
    #[serde(default)]
    widget: Vec<toml::Value>,
}

/// `[dashboard]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct DashboardConfig {
    name: Option<String>,
    start: Option<String>,
    end: Option<String>,
    period_override: Option<PeriodOverride>,
    /// The region of every widget that does not name its own.
    region: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum WidgetType {
    Metric,
    Log,
    Alarm,
    Text,
}

/// One `[[widget]]`: every field any widget type has; conversion refuses the ones that do not
/// belong to `type`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WidgetConfig {
    #[serde(rename = "type")]
    kind: WidgetType,
    x: Option<u64>,
    y: Option<u64>,
    width: Option<u64>,
    height: Option<u64>,
    title: Option<String>,
    region: Option<String>,
    view: Option<String>,
    stacked: Option<bool>,
    // metric
    metrics: Option<Vec<toml::Value>>,
    stat: Option<String>,
    period: Option<u64>,
    y_axis: Option<YAxis>,
    legend: Option<Legend>,
    annotations: Option<Annotations>,
    live_data: Option<bool>,
    set_period_to_time_range: Option<bool>,
    sparkline: Option<bool>,
    single_value_full_precision: Option<bool>,
    trend: Option<bool>,
    timezone: Option<String>,
    // log
    log_groups: Option<Vec<String>>,
    query: Option<String>,
    // alarm
    alarms: Option<Vec<String>>,
    sort_by: Option<AlarmSort>,
    states: Option<Vec<AlarmState>>,
    // text
    markdown: Option<String>,
    background: Option<TextBackground>,
}

/// A TOML file read into the model, with the problems found on the way (the model is only
/// usable when there are none).
#[derive(Debug)]
pub struct Read {
    pub name: Option<String>,
    pub dashboard: Dashboard,
    pub problems: Vec<Problem>,
}

/// Reads our TOML `text` with `overrides` (from `--var`) on top of its `[vars]`. `Err` when the
/// file cannot be read into a model at all.
pub fn read(text: &str, overrides: &[(String, String)]) -> Result<Read, Vec<Problem>> {
    let mut table: toml::Table =
        toml::from_str(text).map_err(|e| vec![Problem::at_key("", toml_error(&e))])?;
    let mut problems = Vec::new();
    let mut values = BTreeMap::new();
    if let Some(declared) = table.get("vars") {
        let Some(declared) = declared.as_table() else {
            return Err(vec![Problem::at_key("vars", "[vars] must be a table of strings")]);
        };
        for (name, value) in declared {
            match value.as_str() {
                Some(s) => {
                    values.insert(name.clone(), s.to_string());
                }
                None => problems.push(Problem::at_key(
                    format!("vars.{name}"),
                    "a variable's value must be a string",
                )),
            }
        }
    }
    for (name, value) in overrides {
        // A --var the file never refers to is most likely a misspelt one.
        if !text.contains(&format!("${{{name}}}")) {
            let known: Vec<&str> = values.keys().map(String::as_str).collect();
            problems.push(Problem::at_key(
                format!("--var {name}"),
                format!(
                    "the dashboard has no ${{{name}}}; its variables: {}",
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    }
                ),
            ));
        }
        values.insert(name.clone(), value.clone());
    }
    // An unknown variable is a problem, not the end of the check: its reference stays as
    // written and everything else is still checked, so every problem is reported at once.
    for (key, value) in &mut table {
        if key != "vars" {
            substitute_all(value, key.clone(), &values, &mut problems);
        }
    }
    let file: FileConfig = serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| {
        vec![Problem::at_key(
            e.path().to_string(),
            e.inner().message().to_string(),
        )]
    })?;
    let defaults = &file.dashboard;
    let mut widgets = Vec::with_capacity(file.widget.len());
    for (i, raw) in file.widget.into_iter().enumerate() {
        let key = format!("widget[{i}]");
        match serde_path_to_error::deserialize::<_, WidgetConfig>(raw) {
            Ok(config) => widgets.push(convert_widget(
                i,
                config,
                defaults.region.as_deref(),
                &mut problems,
            )),
            Err(e) => {
                let path = e.path().to_string();
                let key = if path == "." { key } else { format!("{key}.{path}") };
                problems.push(Problem::at_key(key, e.inner().message().to_string()));
                // A stand-in keeps later widgets' indices; it is never rendered (there is a problem).
                widgets.push(Widget {
                    x: None,
                    y: None,
                    width: None,
                    height: None,
                    kind: WidgetKind::Text(TextWidget {
                        markdown: "-".to_string(),
                        background: None,
                    }),
                });
            }
        }
    }
    Ok(Read {
        name: file.dashboard.name.clone(),
        dashboard: Dashboard {
            start: file.dashboard.start,
            end: file.dashboard.end,
            period_override: file.dashboard.period_override,
            variables: file.variable,
            widgets,
        },
        problems,
    })
}

fn toml_error(e: &toml::de::Error) -> String {
    format!("not valid TOML: {}", e.to_string().trim_end())
}

fn substitute_all(
    value: &mut toml::Value,
    key: String,
    vars: &BTreeMap<String, String>,
    problems: &mut Vec<Problem>,
) {
    match value {
        toml::Value::String(s) => match vars::substitute(s, vars) {
            Ok(new) => *s = new,
            Err(message) => problems.push(Problem::at_key(key, message)),
        },
        toml::Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                substitute_all(item, format!("{key}[{i}]"), vars, problems);
            }
        }
        toml::Value::Table(table) => {
            for (k, v) in table.iter_mut() {
                substitute_all(v, format!("{key}.{k}"), vars, problems);
            }
        }
        _ => {}
    }
}

/// The TOML key path for a JSON pointer into a body rendered from our TOML.
pub fn key_for(pointer: &str) -> Option<String> {
    let mut segments = pointer.split('/').skip(1);
    let mut key = match segments.next()? {
        "widgets" => "widget".to_string(),
        "variables" => "variable".to_string(),
        "start" => return Some("dashboard.start".to_string()),
        "end" => return Some("dashboard.end".to_string()),
        "periodOverride" => return Some("dashboard.period_override".to_string()),
        _ => return None,
    };
    for segment in segments {
        if segment == "properties" {
            continue;
        }
        if segment.bytes().all(|b| b.is_ascii_digit()) {
            key.push('[');
            key.push_str(segment);
            key.push(']');
        } else {
            key.push('.');
            key.push_str(&snake_case(segment));
        }
    }
    Some(key)
}

fn snake_case(camel: &str) -> String {
    let mut out = String::with_capacity(camel.len() + 4);
    for c in camel.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

struct Context<'a> {
    index: usize,
    problems: &'a mut Vec<Problem>,
}

impl Context<'_> {
    fn problem(&mut self, field: &str, pointer_tail: &str, message: impl Into<String>) {
        let pointer = format!("/widgets/{}/{pointer_tail}", self.index);
        self.problems.push(Problem {
            pointer,
            key: Some(format!("widget[{}].{field}", self.index)),
            message: message.into(),
        });
    }

    /// A problem with a key that has no place in the body (so no JSON pointer).
    fn key_problem(&mut self, field: &str, message: impl Into<String>) {
        self.problems.push(Problem::at_key(
            format!("widget[{}].{field}", self.index),
            message,
        ));
    }

    /// Refuses fields set on a widget type they do not belong to.
    fn not_for(&mut self, type_name: &str, fields: &[(&str, bool)]) {
        for (field, set) in fields {
            if *set {
                self.key_problem(field, format!("{field} does not apply to a {type_name} widget"));
            }
        }
    }

    fn region(&mut self, region: Option<String>, default: Option<&str>) -> String {
        if let Some(r) = region.or_else(|| default.map(str::to_string)) {
            r
        } else {
            self.problem(
                "region",
                "properties/region",
                "required: region (set it on the widget or as [dashboard] region)",
            );
            String::new()
        }
    }
}

fn convert_widget(
    index: usize,
    w: WidgetConfig,
    default_region: Option<&str>,
    problems: &mut Vec<Problem>,
) -> Widget {
    let mut cx = Context { index, problems };
    if w.x.is_some() != w.y.is_some() {
        cx.key_problem(
            if w.x.is_some() { "y" } else { "x" },
            "give both x and y to place a widget, or neither to place it automatically",
        );
    }
    let metric_only = [
        ("metrics", w.metrics.is_some()),
        ("stat", w.stat.is_some()),
        ("period", w.period.is_some()),
        ("y_axis", w.y_axis.is_some()),
        ("legend", w.legend.is_some()),
        ("annotations", w.annotations.is_some()),
        ("live_data", w.live_data.is_some()),
        ("set_period_to_time_range", w.set_period_to_time_range.is_some()),
        ("sparkline", w.sparkline.is_some()),
        (
            "single_value_full_precision",
            w.single_value_full_precision.is_some(),
        ),
        ("trend", w.trend.is_some()),
        ("timezone", w.timezone.is_some()),
    ];
    let log_only = [
        ("log_groups", w.log_groups.is_some()),
        ("query", w.query.is_some()),
    ];
    let alarm_only = [
        ("alarms", w.alarms.is_some()),
        ("sort_by", w.sort_by.is_some()),
        ("states", w.states.is_some()),
    ];
    let text_only = [
        ("markdown", w.markdown.is_some()),
        ("background", w.background.is_some()),
    ];
    let graph_only = [
        ("region", w.region.is_some()),
        ("view", w.view.is_some()),
        ("stacked", w.stacked.is_some()),
    ];
    let kind = match w.kind {
        WidgetType::Metric => {
            cx.not_for("metric", &log_only);
            cx.not_for("metric", &alarm_only);
            cx.not_for("metric", &text_only);
            let view = w.view.as_deref().and_then(|v| {
                parse_enum::<MetricView>(v).or_else(|| {
                    cx.problem(
                        "view",
                        "properties/view",
                        format!("{v:?} is not a view: timeSeries, singleValue, gauge, bar, pie or table"),
                    );
                    None
                })
            });
            let region = cx.region(w.region, default_region);
            let metrics = convert_rows(&mut cx, w.metrics.unwrap_or_default());
            WidgetKind::Metric(MetricWidget {
                metrics,
                view,
                stacked: w.stacked,
                region,
                stat: w.stat,
                period: w.period,
                title: w.title,
                y_axis: w.y_axis,
                legend: w.legend,
                annotations: w.annotations,
                live_data: w.live_data,
                set_period_to_time_range: w.set_period_to_time_range,
                sparkline: w.sparkline,
                single_value_full_precision: w.single_value_full_precision,
                trend: w.trend,
                timezone: w.timezone,
            })
        }
        WidgetType::Log => {
            cx.not_for("log", &metric_only);
            cx.not_for("log", &alarm_only);
            cx.not_for("log", &text_only);
            let view = w.view.as_deref().and_then(|v| {
                parse_enum::<LogView>(v).or_else(|| {
                    cx.problem(
                        "view",
                        "properties/view",
                        format!("{v:?} is not a log view: table, timeSeries, bar or pie"),
                    );
                    None
                })
            });
            let region = cx.region(w.region, default_region);
            let query = if let Some(q) = w.query {
                log_query::with_sources(&w.log_groups.unwrap_or_default(), &q)
            } else {
                cx.problem(
                    "query",
                    "properties/query",
                    "required: query (a Logs Insights query)",
                );
                String::new()
            };
            WidgetKind::Log(LogWidget {
                query,
                region,
                title: w.title,
                view,
                stacked: w.stacked,
            })
        }
        WidgetType::Alarm => {
            cx.not_for("alarm", &metric_only);
            cx.not_for("alarm", &log_only);
            cx.not_for("alarm", &text_only);
            cx.not_for("alarm", &graph_only);
            WidgetKind::Alarm(AlarmWidget {
                alarms: w.alarms.unwrap_or_default(),
                title: w.title,
                sort_by: w.sort_by,
                states: w.states,
            })
        }
        WidgetType::Text => {
            cx.not_for("text", &metric_only);
            cx.not_for("text", &log_only);
            cx.not_for("text", &alarm_only);
            cx.not_for("text", &graph_only);
            cx.not_for("text", &[("title", w.title.is_some())]);
            WidgetKind::Text(TextWidget {
                markdown: w.markdown.unwrap_or_default(),
                background: w.background,
            })
        }
    };
    Widget {
        x: w.x,
        y: w.y,
        width: w.width,
        height: w.height,
        kind,
    }
}

fn parse_enum<T: serde::de::DeserializeOwned>(text: &str) -> Option<T> {
    serde_json::from_value(Value::String(text.to_string())).ok()
}

/// Rows as written (TOML arrays of strings with an optional trailing table) → expanded, typed
/// rows. A row that cannot be typed is reported and kept as its strings, so indices stay.
fn convert_rows(cx: &mut Context<'_>, rows: Vec<toml::Value>) -> Vec<MetricRow> {
    let json: Vec<Value> = rows
        .into_iter()
        .map(|r| serde_json::to_value(r).unwrap_or(Value::Null))
        .collect();
    let (expanded, errors) = shorthand::expand(&json);
    for e in &errors {
        cx.problem(
            &format!("metrics[{}][{}]", e.row, e.token),
            &format!("properties/metrics/{}/{}", e.row, e.token),
            e.message.clone(),
        );
    }
    let mut out = Vec::with_capacity(expanded.len());
    for (r, row) in expanded.into_iter().enumerate() {
        let Value::Array(items) = row else {
            cx.problem(
                &format!("metrics[{r}]"),
                &format!("properties/metrics/{r}"),
                "a row is an array: [namespace, metric name, dimension name, value, …, {options}] or [{expression = …, id = …}]",
            );
            out.push(MetricRow::default());
            continue;
        };
        let last = items.len().saturating_sub(1);
        let mut row = MetricRow::default();
        for (t, item) in items.into_iter().enumerate() {
            match item {
                Value::String(s) => row.tokens.push(s),
                Value::Object(o) if t == last => {
                    match serde_path_to_error::deserialize::<_, RenderOptions>(Value::Object(o)) {
                        Ok(options) => row.options = Some(options),
                        Err(e) => {
                            let path = e.path().to_string();
                            let tail = if path == "." { String::new() } else { format!(".{path}") };
                            cx.problem(
                                &format!("metrics[{r}][{t}]{tail}"),
                                &format!("properties/metrics/{r}/{t}"),
                                e.inner().to_string(),
                            );
                        }
                    }
                }
                _ => cx.problem(
                    &format!("metrics[{r}][{t}]"),
                    &format!("properties/metrics/{r}/{t}"),
                    "Invalid metric field type, only 'String' type is allowed (an options table may come last)",
                ),
            }
        }
        out.push(row);
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn pointers_map_to_toml_keys() {
        assert_eq!(
            key_for("/widgets/3/properties/metrics/1/4/yAxis").unwrap(),
            "widget[3].metrics[1][4].y_axis"
        );
        assert_eq!(key_for("/widgets/0/width").unwrap(), "widget[0].width");
        assert_eq!(key_for("/periodOverride").unwrap(), "dashboard.period_override");
        assert_eq!(
            key_for("/widgets/2/properties/sortBy").unwrap(),
            "widget[2].sort_by"
        );
    }
}

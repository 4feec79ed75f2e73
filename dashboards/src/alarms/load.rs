//! Reading rule files: our TOML, or the JSON that `aws cloudwatch put-metric-alarm
//! --cli-input-json` takes, into [`Rules`]. One pass checks everything and reports every problem
//! with the path of its key — `alarm[2].threshold` in TOML, `[2].Threshold` in JSON (indices
//! count from 0) — including unknown keys, duplicate names, composite rules naming alarms that
//! are not in the file, and cycles among composites.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use serde_json::{Map, Value};

use super::limits;
use super::math;
use super::model::{
    percentile, Alarm, ComparisonOperator, CompositeAlarm, Dimension, LowSampleCount, MetricAlarm,
    MetricDataQuery, MetricStat, Rules, Statistic, Tag, TreatMissingData, STANDARD_UNITS,
};
use super::rule::{self, child_name};
use super::syntax::SyntaxError;

/// One thing wrong in a rule file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// `alarm[2].threshold` / `[2].Threshold`; empty for the file as a whole.
    pub path: String,
    /// May span lines (a caret under an expression).
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// Every problem found in a rule file, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckError {
    pub problems: Vec<Problem>,
}

impl fmt::Display for CheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        writeln!(
            f,
            "{n} problem{} in the alarm rules:",
            if n == 1 { "" } else { "s" }
        )?;
        for p in &self.problems {
            writeln!(f, "{p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for CheckError {}

/// Which of the two file forms a text is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// Our documented TOML (`[[alarm]]`, `[[composite]]`).
    Toml,
    /// PutMetricAlarm / PutCompositeAlarm requests as CLI input JSON: a list, or one object.
    Json,
}

/// The form of a rule file's text: JSON if it parses as a JSON array or object, else TOML.
pub fn detect_form(text: &str) -> Form {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Array(_) | Value::Object(_)) => Form::Json,
        _ => Form::Toml,
    }
}

/// Reads a rule file in either form (see [`detect_form`]).
pub fn parse_rules(text: &str) -> Result<Rules, CheckError> {
    match detect_form(text) {
        Form::Toml => parse_toml(text),
        Form::Json => parse_json(text),
    }
}

/// Reads our TOML form.
pub fn parse_toml(text: &str) -> Result<Rules, CheckError> {
    let table: toml::Table = toml::from_str(text).map_err(|e| CheckError {
        problems: vec![Problem {
            path: String::new(),
            message: format!("not valid TOML: {}", e.to_string().trim_end()),
        }],
    })?;
    let value = serde_json::to_value(table).map_err(|e| CheckError {
        problems: vec![Problem {
            path: String::new(),
            message: format!("unsupported TOML value: {e}"),
        }],
    })?;
    let mut ctx = Ctx {
        form: Form::Toml,
        problems: Vec::new(),
    };
    let mut items = Vec::new();
    if let Some(mut top) = ctx.object(&value, String::new()) {
        for (section, composite) in [("alarm", false), ("composite", true)] {
            let Some(list) = top.get(section) else { continue };
            let Some(list) = ctx.array(list, &top.path(section)) else {
                continue;
            };
            for (i, item) in list.iter().enumerate() {
                items.push((format!("{section}[{i}]"), item, composite));
            }
        }
        ctx.finish(&top, &["alarm", "composite"]);
    }
    if items.is_empty() && ctx.problems.is_empty() {
        ctx.problem("", "no alarms: add [[alarm]] or [[composite]] tables");
    }
    ctx.read_all(&items)
}

/// Reads the JSON form: a list of PutMetricAlarm / PutCompositeAlarm requests (an object with
/// `AlarmRule` is a composite alarm), or one request object.
pub fn parse_json(text: &str) -> Result<Rules, CheckError> {
    let value: Value = serde_json::from_str(text).map_err(|e| CheckError {
        problems: vec![Problem {
            path: String::new(),
            message: format!("not valid JSON: {e}"),
        }],
    })?;
    let mut ctx = Ctx {
        form: Form::Json,
        problems: Vec::new(),
    };
    let items: Vec<(String, &Value, bool)> = match &value {
        Value::Array(list) => list
            .iter()
            .enumerate()
            .map(|(i, v)| (format!("[{i}]"), v, v.get("AlarmRule").is_some()))
            .collect(),
        Value::Object(map) => vec![(String::new(), &value, map.contains_key("AlarmRule"))],
        _ => {
            ctx.problem(
                "",
                "expected a JSON list of PutMetricAlarm requests, or one request object",
            );
            Vec::new()
        }
    };
    if items.is_empty() && ctx.problems.is_empty() {
        ctx.problem("", "no alarms: the list is empty");
    }
    ctx.read_all(&items)
}

struct Ctx {
    form: Form,
    problems: Vec<Problem>,
}

/// An object being read: which keys were looked at, for the unknown-key check.
struct Obj<'a> {
    path: String,
    map: &'a Map<String, Value>,
    seen: Vec<&'a str>,
}

impl<'a> Obj<'a> {
    fn path(&self, key: &str) -> String {
        join(&self.path, key)
    }

    fn get(&mut self, key: &str) -> Option<&'a Value> {
        let (k, v) = self.map.get_key_value(key)?;
        self.seen.push(k.as_str());
        Some(v)
    }
}

fn join(base: &str, key: &str) -> String {
    if base.is_empty() {
        key.to_string()
    } else {
        format!("{base}.{key}")
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a table",
    }
}

impl Ctx {
    fn k(&self, toml: &'static str, json: &'static str) -> &'static str {
        match self.form {
            Form::Toml => toml,
            Form::Json => json,
        }
    }

    fn problem(&mut self, path: &str, message: impl Into<String>) {
        self.problems.push(Problem {
            path: path.to_string(),
            message: message.into(),
        });
    }

    fn object<'a>(&mut self, v: &'a Value, path: String) -> Option<Obj<'a>> {
        match v {
            Value::Object(map) => Some(Obj {
                path,
                map,
                seen: Vec::new(),
            }),
            other => {
                let message = format!(
                    "expected {}, found {}",
                    self.k("a table", "an object"),
                    type_name(other)
                );
                self.problem(&path, message);
                None
            }
        }
    }

    fn array<'a>(&mut self, v: &'a Value, path: &str) -> Option<&'a Vec<Value>> {
        if let Value::Array(list) = v {
            Some(list)
        } else {
            self.problem(path, format!("expected a list, found {}", type_name(v)));
            None
        }
    }

    /// Reports keys of `obj` that were never looked at.
    fn finish(&mut self, obj: &Obj<'_>, known: &[&str]) {
        for key in obj.map.keys() {
            if !obj.seen.contains(&key.as_str()) && !known.contains(&key.as_str()) {
                let message = match suggest(key, known) {
                    Some(s) => format!("unknown key (did you mean {s}?)"),
                    None => format!("unknown key; expected one of: {}", known.join(", ")),
                };
                self.problem(&obj.path(key), message);
            }
        }
    }

    fn string(&mut self, obj: &mut Obj<'_>, key: &str) -> Option<String> {
        let v = obj.get(key)?;
        match v {
            Value::String(s) => Some(s.clone()),
            other => {
                self.problem(
                    &obj.path(key),
                    format!("expected a string, found {}", type_name(other)),
                );
                None
            }
        }
    }

    fn required_string(&mut self, obj: &mut Obj<'_>, key: &str) -> Option<String> {
        let s = self.string(obj, key);
        if s.is_none() && !obj.map.contains_key(key) {
            self.problem(&obj.path(key), "required");
        }
        s
    }

    fn boolean(&mut self, obj: &mut Obj<'_>, key: &str) -> Option<bool> {
        let v = obj.get(key)?;
        if let Value::Bool(b) = v {
            Some(*b)
        } else {
            self.problem(
                &obj.path(key),
                format!("expected true or false, found {}", type_name(v)),
            );
            None
        }
    }

    fn number(&mut self, obj: &mut Obj<'_>, key: &str) -> Option<f64> {
        let v = obj.get(key)?;
        match v.as_f64() {
            Some(n) if n.is_finite() => Some(n),
            _ => {
                self.problem(
                    &obj.path(key),
                    format!("expected a number, found {}", type_name(v)),
                );
                None
            }
        }
    }

    fn count(&mut self, obj: &mut Obj<'_>, key: &str) -> Option<u32> {
        let v = obj.get(key)?;
        match v.as_u64().and_then(|n| u32::try_from(n).ok()) {
            Some(n) if n >= 1 => Some(n),
            _ => {
                self.problem(
                    &obj.path(key),
                    format!("expected a whole number of at least 1, found {v}"),
                );
                None
            }
        }
    }

    /// A period: whole seconds, or in TOML also a duration such as `"5m"`; 10, 20, 30 or a
    /// multiple of 60.
    fn period(&mut self, obj: &mut Obj<'_>, key: &str) -> Option<u32> {
        let v = obj.get(key)?;
        let path = obj.path(key);
        let secs = match (v, self.form) {
            (Value::String(s), Form::Toml) => match skywatch_time::parse_duration_ms(s) {
                Ok(ms) if ms % 1000 == 0 => u32::try_from(ms / 1000).ok(),
                _ => None,
            },
            _ => v.as_u64().and_then(|n| u32::try_from(n).ok()),
        };
        let Some(secs) = secs else {
            let expected = self.k("seconds (60) or a duration (\"5m\")", "whole seconds");
            self.problem(&path, format!("expected {expected}, found {v}"));
            return None;
        };
        if limits::HIGH_RESOLUTION_PERIODS_SECS.contains(&secs) || (secs > 0 && secs % 60 == 0) {
            Some(secs)
        } else {
            self.problem(
                &path,
                format!("the period is {secs} s; it must be 10, 20, 30 or a multiple of 60"),
            );
            None
        }
    }

    fn string_list(&mut self, obj: &mut Obj<'_>, key: &str) -> Vec<String> {
        let Some(v) = obj.get(key) else { return Vec::new() };
        let path = obj.path(key);
        let Some(list) = self.array(v, &path) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, item) in list.iter().enumerate() {
            match item {
                Value::String(s) => out.push(s.clone()),
                other => self.problem(
                    &format!("{path}[{i}]"),
                    format!("expected a string, found {}", type_name(other)),
                ),
            }
        }
        out
    }

    fn actions(&mut self, obj: &mut Obj<'_>, key: &str) -> Vec<String> {
        let list = self.string_list(obj, key);
        let path = obj.path(key);
        if list.len() > limits::MAX_ACTIONS_PER_STATE {
            self.problem(
                &path,
                format!(
                    "{} actions; AWS allows at most {}",
                    list.len(),
                    limits::MAX_ACTIONS_PER_STATE
                ),
            );
        }
        for (i, arn) in list.iter().enumerate() {
            if !arn.starts_with("arn:") || arn.split(':').count() < 6 {
                self.problem(
                    &format!("{path}[{i}]"),
                    format!("{arn:?} is not an ARN (arn:aws:sns:region:account:topic)"),
                );
            }
        }
        list
    }

    fn name(&mut self, obj: &mut Obj<'_>) -> Option<String> {
        let key = self.k("name", "AlarmName");
        let name = self.required_string(obj, key)?;
        let chars = name.chars().count();
        if chars == 0 || chars > limits::MAX_ALARM_NAME_CHARS {
            self.problem(
                &obj.path(key),
                format!(
                    "an alarm name has 1 to {} characters",
                    limits::MAX_ALARM_NAME_CHARS
                ),
            );
        } else if name.chars().any(char::is_control) {
            self.problem(&obj.path(key), "an alarm name has no control characters");
        }
        Some(name)
    }

    fn description(&mut self, obj: &mut Obj<'_>) -> Option<String> {
        let key = self.k("description", "AlarmDescription");
        let d = self.string(obj, key)?;
        if d.chars().count() > limits::MAX_ALARM_DESCRIPTION_CHARS {
            self.problem(
                &obj.path(key),
                format!("at most {} characters", limits::MAX_ALARM_DESCRIPTION_CHARS),
            );
        }
        Some(d)
    }

    fn tags(&mut self, obj: &mut Obj<'_>) -> Vec<Tag> {
        let key = self.k("tags", "Tags");
        let Some((pairs, path)) = self.name_value_pairs(obj, key, ("Key", "Value")) else {
            return Vec::new();
        };
        if pairs.len() > limits::MAX_TAGS {
            self.problem(
                &path,
                format!("{} tags; AWS allows at most {}", pairs.len(), limits::MAX_TAGS),
            );
        }
        pairs.into_iter().map(|(key, value)| Tag { key, value }).collect()
    }

    /// A table of strings in TOML (`{ name = "value" }`), or a list of
    /// `{"<name_field>": …, "<value_field>": …}` objects in JSON (`Dimensions`, `Tags`); with
    /// the key's path, or `None` when the key is not there.
    fn name_value_pairs(
        &mut self,
        obj: &mut Obj<'_>,
        key: &str,
        (name_field, value_field): (&str, &str),
    ) -> Option<(Vec<(String, String)>, String)> {
        let v = obj.get(key)?;
        let path = obj.path(key);
        let mut pairs = Vec::new();
        match self.form {
            Form::Toml => {
                let Some(t) = self.object(v, path.clone()) else {
                    return Some((pairs, path));
                };
                for (k, v) in t.map {
                    match v {
                        Value::String(s) => pairs.push((k.clone(), s.clone())),
                        other => self.problem(
                            &t.path(k),
                            format!("expected a string, found {}", type_name(other)),
                        ),
                    }
                }
            }
            Form::Json => {
                let Some(list) = self.array(v, &path) else {
                    return Some((pairs, path));
                };
                for (i, item) in list.iter().enumerate() {
                    let Some(mut d) = self.object(item, format!("{path}[{i}]")) else {
                        continue;
                    };
                    let name = self.required_string(&mut d, name_field);
                    let value = self.required_string(&mut d, value_field);
                    self.finish(&d, &[name_field, value_field]);
                    if let (Some(name), Some(value)) = (name, value) {
                        pairs.push((name, value));
                    }
                }
            }
        }
        Some((pairs, path))
    }

    fn dimensions(&mut self, obj: &mut Obj<'_>, key: &str) -> Vec<Dimension> {
        let Some((pairs, path)) = self.name_value_pairs(obj, key, ("Name", "Value")) else {
            return Vec::new();
        };
        let dims: Vec<Dimension> = pairs
            .into_iter()
            .map(|(name, value)| Dimension { name, value })
            .collect();
        if dims.len() > limits::MAX_DIMENSIONS {
            self.problem(
                &path,
                format!(
                    "{} dimensions; AWS allows at most {}",
                    dims.len(),
                    limits::MAX_DIMENSIONS
                ),
            );
        }
        let mut names: Vec<&str> = dims.iter().map(|d| d.name.as_str()).collect();
        names.sort_unstable();
        if let Some(twice) = names.windows(2).find(|w| w[0] == w[1]).map(|w| w[0]) {
            self.problem(&path, format!("dimension {twice:?} is given twice"));
        }
        dims
    }

    fn unit(&mut self, obj: &mut Obj<'_>, key: &str) -> Option<String> {
        let unit = self.string(obj, key)?;
        if !STANDARD_UNITS.contains(&unit.as_str()) {
            let message = match suggest(&unit, &STANDARD_UNITS) {
                Some(s) => format!("unknown unit {unit:?} (did you mean {s}?)"),
                None => format!(
                    "unknown unit {unit:?}; CloudWatch units are {}",
                    STANDARD_UNITS.join(", ")
                ),
            };
            self.problem(&obj.path(key), message);
        }
        Some(unit)
    }

    fn read_all(mut self, items: &[(String, &Value, bool)]) -> Result<Rules, CheckError> {
        let mut alarms = Vec::new();
        let mut paths = Vec::new();
        // Names come from every item, valid or not, so that one broken alarm does not also
        // show up as "unknown" in the composites naming it.
        let name_key = self.k("name", "AlarmName");
        let named: Vec<(&str, &str)> = items
            .iter()
            .filter_map(|(path, value, _)| Some((path.as_str(), value.get(name_key)?.as_str()?)))
            .collect();
        for (path, value, composite) in items {
            let alarm = if *composite {
                self.composite(value, path).map(Alarm::Composite)
            } else {
                self.metric_alarm(value, path).map(Alarm::Metric)
            };
            if let Some(alarm) = alarm {
                alarms.push(alarm);
                paths.push(path.clone());
            }
        }
        self.cross_checks(&alarms, &paths, &named);
        if self.problems.is_empty() {
            Ok(Rules { alarms })
        } else {
            Err(CheckError {
                problems: self.problems,
            })
        }
    }

    fn cross_checks(&mut self, alarms: &[Alarm], paths: &[String], named: &[(&str, &str)]) {
        if alarms.len() > limits::MAX_ALARMS_PER_FILE {
            self.problem(
                "",
                format!(
                    "{} alarms; a rule file holds at most {}",
                    alarms.len(),
                    limits::MAX_ALARMS_PER_FILE
                ),
            );
        }
        let name_key = self.k("name", "AlarmName");
        let rule_key = self.k("rule", "AlarmRule");
        let mut first: HashMap<&str, &str> = HashMap::new();
        for (path, name) in named {
            if let Some(earlier) = first.insert(name, path) {
                let earlier = if earlier.is_empty() {
                    "the first alarm"
                } else {
                    earlier
                };
                self.problem(
                    &join(path, name_key),
                    format!("duplicate alarm name {name:?} (also {earlier})"),
                );
                first.insert(name, earlier);
            }
        }
        // Composite children must be alarms of this file; composites must not form cycles.
        let mut edges: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (alarm, path) in alarms.iter().zip(paths) {
            let Alarm::Composite(c) = alarm else { continue };
            for (reference, offset) in c.rule.references() {
                let name = child_name(reference);
                if !first.contains_key(name) {
                    let e = SyntaxError::new(offset, format!("no alarm named {name:?} in this file"));
                    self.problem(
                        &join(path, rule_key),
                        format!("unknown alarm\n{}", e.render(&c.alarm_rule)),
                    );
                } else if matches!(
                    alarms.iter().find(|a| a.name() == name),
                    Some(Alarm::Composite(_))
                ) {
                    edges.entry(c.alarm_name.as_str()).or_default().push(name);
                }
            }
        }
        for cycle in cycles(&edges) {
            let start = cycle[0];
            let path = alarms
                .iter()
                .zip(paths)
                .find(|(a, _)| a.name() == start)
                .map_or(String::new(), |(_, p)| join(p, rule_key));
            let mut shown: Vec<String> = cycle.iter().map(|n| format!("{n:?}")).collect();
            shown.push(format!("{start:?}"));
            self.problem(
                &path,
                format!("composite alarms form a cycle: {}", shown.join(" → ")),
            );
        }
    }

    fn composite(&mut self, value: &Value, path: &str) -> Option<CompositeAlarm> {
        let mut obj = self.object(value, path.to_string())?;
        let name = self.name(&mut obj);
        let alarm_description = self.description(&mut obj);
        let actions_enabled = self.boolean(&mut obj, self.k("actions_enabled", "ActionsEnabled"));
        let ok_actions = self.actions(&mut obj, self.k("ok_actions", "OKActions"));
        let alarm_actions = self.actions(&mut obj, self.k("alarm_actions", "AlarmActions"));
        let insufficient_data_actions = self.actions(
            &mut obj,
            self.k("insufficient_data_actions", "InsufficientDataActions"),
        );
        let tags = self.tags(&mut obj);
        let rule_key = self.k("rule", "AlarmRule");
        let alarm_rule = self.required_string(&mut obj, rule_key);
        let rule = alarm_rule.as_ref().and_then(|text| match rule::parse(text) {
            Ok(rule) => Some(rule),
            Err(e) => {
                self.problem(
                    &obj.path(rule_key),
                    format!("invalid alarm rule\n{}", e.render(text)),
                );
                None
            }
        });
        if self.form == Form::Json {
            for key in [
                "ActionsSuppressor",
                "ActionsSuppressorWaitPeriod",
                "ActionsSuppressorExtensionPeriod",
            ] {
                if obj.get(key).is_some() {
                    self.problem(
                        &obj.path(key),
                        "action suppression is not supported by skywatch's evaluator",
                    );
                }
            }
        }
        let known = match self.form {
            Form::Toml => &[
                "name",
                "description",
                "actions_enabled",
                "ok_actions",
                "alarm_actions",
                "insufficient_data_actions",
                "rule",
                "tags",
            ][..],
            Form::Json => &[
                "AlarmName",
                "AlarmDescription",
                "ActionsEnabled",
                "OKActions",
                "AlarmActions",
                "InsufficientDataActions",
                "AlarmRule",
                "Tags",
            ][..],
        };
        self.finish(&obj, known);
        if let (Some(name), Some(rule)) = (&name, &rule) {
            if rule.references().iter().any(|(r, _)| child_name(r) == name) {
                self.problem(
                    &obj.path(rule_key),
                    "a composite alarm's rule names the alarm itself",
                );
            }
        }
        Some(CompositeAlarm {
            alarm_name: name?,
            alarm_description,
            actions_enabled,
            ok_actions,
            alarm_actions,
            insufficient_data_actions,
            alarm_rule: alarm_rule?,
            rule: rule?,
            tags,
        })
    }

    #[allow(clippy::too_many_lines)]
    fn metric_alarm(&mut self, value: &Value, path: &str) -> Option<MetricAlarm> {
        let mut obj = self.object(value, path.to_string())?;
        let toml = self.form == Form::Toml;
        let name = self.name(&mut obj);
        let alarm_description = self.description(&mut obj);
        let actions_enabled = self.boolean(&mut obj, self.k("actions_enabled", "ActionsEnabled"));
        let ok_actions = self.actions(&mut obj, self.k("ok_actions", "OKActions"));
        let alarm_actions = self.actions(&mut obj, self.k("alarm_actions", "AlarmActions"));
        let insufficient_data_actions = self.actions(
            &mut obj,
            self.k("insufficient_data_actions", "InsufficientDataActions"),
        );
        let tags = self.tags(&mut obj);

        let namespace_key = self.k("namespace", "Namespace");
        let metric_key = self.k("metric", "MetricName");
        let namespace = self.string(&mut obj, namespace_key);
        let metric_name = self.string(&mut obj, metric_key);
        let dimensions = self.dimensions(&mut obj, self.k("dimensions", "Dimensions"));
        let (statistic, extended_statistic) = self.statistic(&mut obj);
        let period_key = self.k("period", "Period");
        let period = self.period(&mut obj, period_key);
        let unit = self.unit(&mut obj, self.k("unit", "Unit"));
        let metrics_key = self.k("metrics", "Metrics");
        let metrics = self.queries(&mut obj, metrics_key);

        let n_key = self.k("evaluation_periods", "EvaluationPeriods");
        let m_key = self.k("datapoints_to_alarm", "DatapointsToAlarm");
        let evaluation_periods = self.count(&mut obj, n_key);
        if evaluation_periods.is_none() && !obj.map.contains_key(n_key) {
            self.problem(&obj.path(n_key), "required");
        }
        let datapoints_to_alarm = self.count(&mut obj, m_key);
        let threshold_key = self.k("threshold", "Threshold");
        let threshold = self.number(&mut obj, threshold_key);
        if threshold.is_none() && !obj.map.contains_key(threshold_key) {
            let message = if obj.map.contains_key("ThresholdMetricId") {
                "anomaly detection alarms (ThresholdMetricId) are not supported by skywatch's evaluator"
            } else {
                "required"
            };
            self.problem(&obj.path(threshold_key), message);
        }
        if !toml && obj.get("ThresholdMetricId").is_some() && threshold.is_some() {
            self.problem(
                &obj.path("ThresholdMetricId"),
                "anomaly detection alarms are not supported by skywatch's evaluator",
            );
        }
        let comparison_operator = self.comparison(&mut obj);
        let treat_key = self.k("treat_missing_data", "TreatMissingData");
        let treat_missing_data = self.string(&mut obj, treat_key).and_then(|t| {
            let parsed = TreatMissingData::parse(&t);
            if parsed.is_none() {
                self.problem(
                    &obj.path(treat_key),
                    format!("expected breaching, notBreaching, ignore or missing, found {t:?}"),
                );
            }
            parsed
        });
        let low_key = self.k(
            "evaluate_low_sample_count_percentile",
            "EvaluateLowSampleCountPercentile",
        );
        let evaluate_low_sample_count_percentile = self.string(&mut obj, low_key).and_then(|t| {
            let parsed = LowSampleCount::parse(&t);
            if parsed.is_none() {
                self.problem(
                    &obj.path(low_key),
                    format!("expected evaluate or ignore, found {t:?}"),
                );
            }
            parsed
        });

        // Single metric xor metric math.
        let math = obj.map.contains_key(metrics_key);
        if math {
            for (key, present) in [
                (namespace_key, namespace.is_some()),
                (metric_key, metric_name.is_some()),
                (self.k("dimensions", "Dimensions"), !dimensions.is_empty()),
                (
                    self.k("statistic", "Statistic"),
                    statistic.is_some() || (toml && extended_statistic.is_some()),
                ),
                ("ExtendedStatistic", !toml && extended_statistic.is_some()),
                (period_key, period.is_some()),
                (self.k("unit", "Unit"), unit.is_some()),
            ] {
                if present {
                    self.problem(
                        &obj.path(key),
                        format!("not allowed together with {metrics_key} (give it in each metric query)"),
                    );
                }
            }
            self.check_math(&metrics, &obj.path(metrics_key));
        } else {
            for (key, present) in [
                (namespace_key, namespace.is_some()),
                (metric_key, metric_name.is_some()),
            ] {
                if !present && !obj.map.contains_key(key) {
                    self.problem(
                        &obj.path(key),
                        format!("required (or give {metrics_key} for metric math)"),
                    );
                }
            }
            if statistic.is_none() && extended_statistic.is_none() {
                let has_any = ["statistic", "Statistic", "ExtendedStatistic"]
                    .iter()
                    .any(|k| obj.map.contains_key(*k));
                if !has_any {
                    let message = if toml {
                        "required: statistic = \"Average\" (or Sum, Minimum, Maximum, SampleCount, p99)"
                    } else {
                        "give Statistic or ExtendedStatistic"
                    };
                    self.problem(&obj.path(self.k("statistic", "Statistic")), message);
                }
            }
            if period.is_none() && !obj.map.contains_key(period_key) {
                self.problem(&obj.path(period_key), "required");
            }
        }
        let period_secs = if math {
            metrics
                .iter()
                .find_map(|q| q.metric_stat.as_ref().map(|s| s.period))
        } else {
            period
        };
        if let (Some(n), Some(m)) = (evaluation_periods, datapoints_to_alarm) {
            if m > n {
                self.problem(
                    &obj.path(m_key),
                    format!("{m} datapoints to alarm is more than the {n} evaluation periods"),
                );
            }
        }
        if let (Some(n), Some(p)) = (evaluation_periods, period_secs) {
            let total = u64::from(n) * u64::from(p);
            let max = if p < limits::SHORT_PERIOD_BELOW_SECS {
                limits::MAX_EVALUATION_SECS_SHORT_PERIOD
            } else {
                limits::MAX_EVALUATION_SECS
            };
            if total > max {
                self.problem(
                    &obj.path(n_key),
                    format!("period × evaluation periods is {total} s; AWS allows at most {max} s with a {p} s period"),
                );
            }
        }
        let known = match self.form {
            Form::Toml => &[
                "name",
                "description",
                "actions_enabled",
                "ok_actions",
                "alarm_actions",
                "insufficient_data_actions",
                "namespace",
                "metric",
                "dimensions",
                "statistic",
                "period",
                "unit",
                "metrics",
                "evaluation_periods",
                "datapoints_to_alarm",
                "threshold",
                "comparison",
                "treat_missing_data",
                "evaluate_low_sample_count_percentile",
                "tags",
            ][..],
            Form::Json => &[
                "AlarmName",
                "AlarmDescription",
                "ActionsEnabled",
                "OKActions",
                "AlarmActions",
                "InsufficientDataActions",
                "MetricName",
                "Namespace",
                "Statistic",
                "ExtendedStatistic",
                "Dimensions",
                "Period",
                "Unit",
                "EvaluationPeriods",
                "DatapointsToAlarm",
                "Threshold",
                "ComparisonOperator",
                "TreatMissingData",
                "EvaluateLowSampleCountPercentile",
                "Metrics",
                "Tags",
                "ThresholdMetricId",
            ][..],
        };
        self.finish(&obj, known);
        Some(MetricAlarm {
            alarm_name: name?,
            alarm_description,
            actions_enabled,
            ok_actions,
            alarm_actions,
            insufficient_data_actions,
            metric_name,
            namespace,
            dimensions,
            statistic,
            extended_statistic,
            period,
            unit,
            metrics,
            evaluation_periods: evaluation_periods?,
            datapoints_to_alarm,
            threshold: threshold?,
            comparison_operator: comparison_operator?,
            treat_missing_data,
            evaluate_low_sample_count_percentile,
            tags,
        })
    }

    /// `statistic` (TOML: a statistic or `pNN`) / `Statistic` + `ExtendedStatistic` (JSON).
    fn statistic(&mut self, obj: &mut Obj<'_>) -> (Option<Statistic>, Option<String>) {
        let (stat_key, ext_key) = (self.k("statistic", "Statistic"), "ExtendedStatistic");
        let stat = self.string(obj, stat_key);
        let ext = if self.form == Form::Json {
            self.string(obj, ext_key)
        } else {
            None
        };
        let mut statistic = None;
        let mut extended = None;
        if let Some(s) = stat {
            if let Some(parsed) = Statistic::parse(&s) {
                statistic = Some(parsed);
            } else if self.form == Form::Toml && looks_extended(&s) {
                extended = self.extended(&s, &obj.path(stat_key));
            } else {
                self.problem(&obj.path(stat_key), stat_message(&s, self.form));
            }
        }
        if let Some(e) = ext {
            if statistic.is_some() {
                self.problem(
                    &obj.path(ext_key),
                    "give Statistic or ExtendedStatistic, not both",
                );
            }
            extended = self.extended(&e, &obj.path(ext_key));
        }
        (statistic, extended)
    }

    fn extended(&mut self, text: &str, path: &str) -> Option<String> {
        if percentile(text).is_some() {
            return Some(text.to_string());
        }
        let lower = text.to_ascii_lowercase();
        let message = if ["tm", "tc", "ts", "wm", "iqm", "pr("]
            .iter()
            .any(|p| lower.starts_with(p))
        {
            format!("{text:?}: only percentiles (p0 to p100, such as p99 or p99.9) are evaluated here; trimmed and winsorized statistics are not")
        } else {
            format!("{text:?} is not a percentile: write p followed by 0 to 100, such as p99 or p99.9")
        };
        self.problem(path, message);
        None
    }

    fn comparison(&mut self, obj: &mut Obj<'_>) -> Option<ComparisonOperator> {
        let key = self.k("comparison", "ComparisonOperator");
        let Some(text) = self.string(obj, key) else {
            if !obj.map.contains_key(key) {
                self.problem(
                    &obj.path(key),
                    if self.form == Form::Toml {
                        "required: \">\", \">=\", \"<\" or \"<=\""
                    } else {
                        "required"
                    },
                );
            }
            return None;
        };
        let parsed = ComparisonOperator::parse(&text);
        if parsed.is_none() {
            let message = if matches!(
                text.as_str(),
                "LessThanLowerOrGreaterThanUpperThreshold"
                    | "LessThanLowerThreshold"
                    | "GreaterThanUpperThreshold"
            ) {
                format!("{text} compares with an anomaly detection band, which skywatch's evaluator does not support")
            } else {
                format!(
                    "expected >, >=, <, <= or {}, found {text:?}",
                    ComparisonOperator::ALL.map(ComparisonOperator::as_str).join(", ")
                )
            };
            self.problem(&obj.path(key), message);
        }
        parsed
    }

    fn queries(&mut self, obj: &mut Obj<'_>, key: &str) -> Vec<MetricDataQuery> {
        let Some(v) = obj.get(key) else { return Vec::new() };
        let path = obj.path(key);
        let Some(list) = self.array(v, &path) else {
            return Vec::new();
        };
        if list.is_empty() {
            self.problem(&path, "at least one query");
        }
        let mut out = Vec::new();
        for (i, item) in list.iter().enumerate() {
            if let Some(q) = self.query(item, &format!("{path}[{i}]")) {
                out.push(q);
            }
        }
        out
    }

    fn query(&mut self, value: &Value, path: &str) -> Option<MetricDataQuery> {
        let mut obj = self.object(value, path.to_string())?;
        let toml = self.form == Form::Toml;
        let id_key = self.k("id", "Id");
        let id = self.required_string(&mut obj, id_key);
        if let Some(id) = &id {
            let mut chars = id.chars();
            let valid = chars.next().is_some_and(|c| c.is_ascii_lowercase())
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
                && id.len() <= limits::MAX_QUERY_ID_CHARS;
            if !valid {
                self.problem(
                    &obj.path(id_key),
                    format!("{id:?} is not a valid id: a lowercase letter, then letters, digits or _"),
                );
            }
        }
        let label = self.string(&mut obj, self.k("label", "Label"));
        let return_data = self.boolean(&mut obj, self.k("return_data", "ReturnData"));
        let period = self.period(&mut obj, self.k("period", "Period"));
        let account_id = self.string(&mut obj, self.k("account_id", "AccountId"));
        let expr_key = self.k("expression", "Expression");
        let expression = self.string(&mut obj, expr_key);
        let parsed = expression.as_ref().and_then(|text| {
            if text.chars().count() > limits::MAX_EXPRESSION_CHARS {
                self.problem(
                    &obj.path(expr_key),
                    format!("at most {} characters", limits::MAX_EXPRESSION_CHARS),
                );
            }
            match math::parse(text) {
                Ok(e) => Some(e),
                Err(e) => {
                    self.problem(
                        &obj.path(expr_key),
                        format!("invalid expression\n{}", e.render(text)),
                    );
                    None
                }
            }
        });
        let metric_stat = if toml {
            let has_metric = ["namespace", "metric", "dimensions", "statistic", "unit"]
                .iter()
                .any(|k| obj.map.contains_key(*k));
            if has_metric {
                let namespace = self.required_string(&mut obj, "namespace");
                let metric_name = self.required_string(&mut obj, "metric");
                let dimensions = self.dimensions(&mut obj, "dimensions");
                let stat = self.required_string(&mut obj, "statistic");
                let stat = stat.and_then(|s| self.query_stat(s, &obj.path("statistic")));
                let unit = self.unit(&mut obj, "unit");
                if period.is_none() && !obj.map.contains_key("period") {
                    self.problem(&obj.path("period"), "required for a metric query");
                }
                match (namespace, metric_name, stat, period) {
                    (Some(namespace), Some(metric_name), Some(stat), Some(period)) => Some(MetricStat {
                        namespace,
                        metric_name,
                        dimensions,
                        period,
                        stat,
                        unit,
                    }),
                    _ => None,
                }
            } else {
                None
            }
        } else {
            match obj.get("MetricStat") {
                Some(v) => self.metric_stat(v, &obj.path("MetricStat")),
                None => None,
            }
        };
        let has_stat = obj.map.contains_key(self.k("metric", "MetricStat"));
        let has_expr = obj.map.contains_key(expr_key);
        if has_stat == has_expr {
            let message = if toml {
                "give either expression, or namespace + metric + statistic + period"
            } else {
                "give exactly one of MetricStat and Expression"
            };
            self.problem(path, message);
        }
        let (known, period_for_math) = if toml {
            (
                &[
                    "id",
                    "label",
                    "return_data",
                    "period",
                    "account_id",
                    "expression",
                    "namespace",
                    "metric",
                    "dimensions",
                    "statistic",
                    "unit",
                ][..],
                // In TOML the period of a metric query lives on the query itself.
                if metric_stat.is_some() { None } else { period },
            )
        } else {
            (
                &[
                    "Id",
                    "Label",
                    "ReturnData",
                    "Period",
                    "AccountId",
                    "MetricStat",
                    "Expression",
                ][..],
                period,
            )
        };
        self.finish(&obj, known);
        // In our TOML an unset return_data means false (only the watched series says true);
        // made explicit so the model, PutMetricAlarm and the SNS Trigger all mean the same.
        let return_data = match self.form {
            Form::Toml => Some(return_data.unwrap_or(false)),
            Form::Json => return_data,
        };
        Some(MetricDataQuery {
            id: id?,
            label,
            return_data,
            period: period_for_math,
            account_id,
            metric_stat,
            expression,
            parsed,
        })
    }

    fn query_stat(&mut self, s: String, path: &str) -> Option<String> {
        if Statistic::parse(&s).is_some() || (looks_extended(&s) && self.extended(&s, path).is_some()) {
            Some(s)
        } else {
            if !looks_extended(&s) {
                self.problem(path, stat_message(&s, Form::Toml));
            }
            None
        }
    }

    fn metric_stat(&mut self, value: &Value, path: &str) -> Option<MetricStat> {
        let mut obj = self.object(value, path.to_string())?;
        let metric = obj.get("Metric");
        if metric.is_none() {
            self.problem(&obj.path("Metric"), "required");
        }
        let (namespace, metric_name, dimensions) =
            match metric.and_then(|m| self.object(m, join(path, "Metric"))) {
                Some(mut m) => {
                    let namespace = self.required_string(&mut m, "Namespace");
                    let metric_name = self.required_string(&mut m, "MetricName");
                    let dimensions = self.dimensions(&mut m, "Dimensions");
                    self.finish(&m, &["Namespace", "MetricName", "Dimensions"]);
                    (namespace, metric_name, dimensions)
                }
                None => (None, None, Vec::new()),
            };
        let period = self.period(&mut obj, "Period");
        if period.is_none() && !obj.map.contains_key("Period") {
            self.problem(&obj.path("Period"), "required");
        }
        let stat = self.required_string(&mut obj, "Stat");
        let stat = stat.and_then(|s| {
            if Statistic::parse(&s).is_some() {
                Some(s)
            } else if looks_extended(&s) {
                self.extended(&s, &obj.path("Stat"))
            } else {
                self.problem(&obj.path("Stat"), stat_message(&s, Form::Json));
                None
            }
        });
        let unit = self.unit(&mut obj, "Unit");
        self.finish(&obj, &["Metric", "Period", "Stat", "Unit"]);
        Some(MetricStat {
            namespace: namespace?,
            metric_name: metric_name?,
            dimensions,
            period: period?,
            stat: stat?,
            unit,
        })
    }

    /// Exactly one returned series; known ids, no cycles among expressions; one period.
    fn check_math(&mut self, queries: &[MetricDataQuery], path: &str) {
        let return_key = self.k("return_data", "ReturnData");
        let returned: Vec<usize> = queries
            .iter()
            .enumerate()
            .filter(|(_, q)| match self.form {
                Form::Toml => q.return_data == Some(true),
                Form::Json => q.return_data.unwrap_or(true),
            })
            .map(|(i, _)| i)
            .collect();
        if returned.len() != 1 {
            let message = match self.form {
                Form::Toml => format!("exactly one query must have return_data = true; {} do", returned.len()),
                Form::Json => format!(
                    "exactly one query must return data (ReturnData true or unset); {} do — set ReturnData false on the others",
                    returned.len()
                ),
            };
            self.problem(path, message);
        }
        if queries.len() > limits::MAX_QUERIES_IN_MATH_ALARM {
            self.problem(
                path,
                format!(
                    "{} queries; a metric math alarm here has at most {}",
                    queries.len(),
                    limits::MAX_QUERIES_IN_MATH_ALARM
                ),
            );
        }
        let metric_count = queries.iter().filter(|q| q.metric_stat.is_some()).count();
        if metric_count > limits::MAX_METRICS_IN_MATH_ALARM {
            self.problem(
                path,
                format!(
                    "{metric_count} metrics; a metric math alarm uses at most {}",
                    limits::MAX_METRICS_IN_MATH_ALARM
                ),
            );
        }
        let mut ids: HashMap<&str, usize> = HashMap::new();
        for (i, q) in queries.iter().enumerate() {
            if ids.insert(q.id.as_str(), i).is_some() {
                self.problem(
                    &format!("{path}[{i}].{}", self.k("id", "Id")),
                    format!("duplicate id {:?}", q.id),
                );
            }
        }
        let periods: Vec<u32> = queries
            .iter()
            .filter_map(|q| q.metric_stat.as_ref().map(|s| s.period))
            .collect();
        if periods.windows(2).any(|w| w[0] != w[1]) {
            self.problem(
                path,
                "every metric of a metric math alarm must use the same period",
            );
        }
        let expr_key = self.k("expression", "Expression");
        for (i, q) in queries.iter().enumerate() {
            let (Some(expr), Some(text)) = (&q.parsed, &q.expression) else {
                continue;
            };
            for (id, offset) in math::references(expr) {
                let message = if id == q.id {
                    Some("an expression cannot use its own id".to_string())
                } else if !ids.contains_key(id) {
                    Some(format!("no query has the id {id:?}"))
                } else {
                    None
                };
                if let Some(message) = message {
                    let e = SyntaxError::new(offset, message);
                    self.problem(
                        &format!("{path}[{i}].{expr_key}"),
                        format!("unknown id\n{}", e.render(text)),
                    );
                }
            }
            if returned == [i] && math::kind_of(expr) != math::Kind::Series {
                self.problem(
                    &format!("{path}[{i}].{expr_key}"),
                    "the returned expression must give one time series (not a number or an array)",
                );
            }
        }
        if let [i] = returned[..] {
            if queries[i].metric_stat.is_some() && queries.len() > 1 {
                // Allowed by AWS (the alarm watches that metric); nothing to check.
            }
            let _ = return_key;
        }
        // Cycles among expressions.
        let edges: BTreeMap<&str, Vec<&str>> = queries
            .iter()
            .filter_map(|q| {
                let refs = math::references(q.parsed.as_ref()?);
                Some((
                    q.id.as_str(),
                    refs.into_iter()
                        .map(|(r, _)| r)
                        .filter(|r| ids.contains_key(r))
                        .collect(),
                ))
            })
            .collect();
        for cycle in cycles(&edges) {
            let mut shown: Vec<&str> = cycle.clone();
            shown.push(cycle[0]);
            self.problem(
                path,
                format!(
                    "expressions refer to each other in a cycle: {}",
                    shown.join(" → ")
                ),
            );
        }
    }
}

/// Whether a statistic is written like an extended one (`p99`, `tm90`, `IQM`, `PR(10:90)`).
fn looks_extended(s: &str) -> bool {
    let lower = s.to_ascii_lowercase();
    let digits_after = |prefix: &str| {
        lower
            .strip_prefix(prefix)
            .is_some_and(|r| r.starts_with(|c: char| c.is_ascii_digit() || c == '('))
    };
    ["p", "tm", "tc", "ts", "wm", "pr"]
        .iter()
        .any(|p| digits_after(p))
        || lower == "iqm"
}

fn stat_message(s: &str, form: Form) -> String {
    let names = Statistic::ALL.map(Statistic::as_str).join(", ");
    match form {
        Form::Toml => format!("unknown statistic {s:?}; expected {names} or a percentile such as p99"),
        Form::Json => {
            format!("unknown statistic {s:?}; expected {names} (percentiles go in ExtendedStatistic)")
        }
    }
}

/// A known key close to `key` (same letters ignoring case and `_`, or one edit away).
fn suggest(key: &str, known: &[&str]) -> Option<String> {
    let norm = |s: &str| s.to_ascii_lowercase().replace(['_', '-'], "");
    let k = norm(key);
    known
        .iter()
        .find(|c| norm(c) == k || edit_distance(&norm(c), &k) <= 1)
        .map(|c| (*c).to_string())
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = if ca == *cb {
                prev
            } else {
                1 + prev.min(row[j]).min(cur)
            };
            prev = cur;
        }
    }
    row[b.len()]
}

/// One cycle per strongly connected part of a graph that has one, starting at its smallest node
/// (polynomial: a reachability walk from each node, then a shortest way back).
fn cycles<'a>(edges: &BTreeMap<&'a str, Vec<&'a str>>) -> Vec<Vec<&'a str>> {
    let reach = |from: &'a str| -> BTreeMap<&'a str, &'a str> {
        // node -> the node it was first reached from (breadth first, so paths are shortest)
        let mut parent = BTreeMap::new();
        let mut queue = std::collections::VecDeque::from([from]);
        while let Some(n) = queue.pop_front() {
            for next in edges.get(n).into_iter().flatten() {
                if !parent.contains_key(next) {
                    parent.insert(*next, n);
                    queue.push_back(*next);
                }
            }
        }
        parent
    };
    let reached: BTreeMap<&str, BTreeMap<&str, &str>> = edges.keys().map(|n| (*n, reach(n))).collect();
    let mut covered: Vec<&str> = Vec::new();
    let mut found = Vec::new();
    for (node, parents) in &reached {
        if covered.contains(node) || !parents.contains_key(node) {
            continue;
        }
        // The way back: follow parents from `node` to itself.
        let mut cycle = vec![*node];
        let mut at = parents[node];
        while at != *node && cycle.len() <= parents.len() {
            cycle.push(at);
            at = parents[at];
        }
        cycle[1..].reverse();
        // Everything in the same strongly connected part is covered by this report.
        for other in parents.keys() {
            if reached.get(other).is_some_and(|p| p.contains_key(node)) {
                covered.push(other);
            }
        }
        found.push(cycle);
    }
    found
}

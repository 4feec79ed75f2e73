//! PutDashboard's rules checked locally, on the body as JSON — ours after rendering, or a body
//! file as given — so both kinds of input get the same checks. Every problem is reported, each
//! at an AJV-style JSON pointer like the ones PutDashboard answers with. Metrics-array
//! shorthands are expanded (on a copy) before rows are checked.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Map, Value};

use super::limits;
use super::log_query;
use super::placement::Rect;
use super::problem::Problem;
use super::shorthand;

static STAT: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r"^(?:Average|Sum|Minimum|Maximum|SampleCount|IQM|(?:p|tm|tc|ts|wm)\d{1,2}(?:\.\d+)?|p100|(?:PR|TM|TC|TS|WM)\([^()]*\))$").ok()
});
static COLOR: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(r"^#[0-9a-fA-F]{6}$").ok());
static METRIC_ID: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(r"^[a-z][a-zA-Z0-9_]*$").ok());

const ROW_SHAPE: &str =
    "Field \"metrics\" has to be an array of array of strings, with an optional metricRenderer object as last element";
const NOT_A_STRING: &str = "Invalid metric field type, only 'String' type is allowed";
const RENDER_KEYS: [&str; 10] = [
    "expression",
    "label",
    "id",
    "color",
    "stat",
    "period",
    "visible",
    "yAxis",
    "region",
    "accountId",
];

/// Checks a dashboard name against PutDashboard's pattern.
pub fn check_name(name: &str) -> Option<String> {
    let ok = (1..=limits::MAX_NAME_CHARS).contains(&name.chars().count())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    (!ok).then(|| {
        format!(
            "dashboard name {name:?} must be 1-{} characters of A-Z, a-z, 0-9, _ and -",
            limits::MAX_NAME_CHARS
        )
    })
}

/// Whether `stat` is a statistic CloudWatch graphs: the five basic ones or a percentile /
/// trimmed / winsorized form (`p99`, `tm90`, `TM(10%:90%)`, `IQM`).
pub fn is_stat(stat: &str) -> bool {
    STAT.as_ref().is_some_and(|r| r.is_match(stat))
}

/// Whether `period` (seconds) is one CloudWatch accepts.
pub fn is_period(period: u64) -> bool {
    limits::SUB_MINUTE_PERIODS_SECS.contains(&period) || (period > 0 && period.is_multiple_of(60))
}

/// Every problem of `body`.
pub fn check_body(body: &Value) -> Vec<Problem> {
    let mut c = Checker::default();
    let Some(top) = body.as_object() else {
        c.push("", "the dashboard body must be a JSON object");
        return c.problems;
    };
    for key in ["start", "end"] {
        if let Some(v) = top.get(key) {
            if !v.is_string() {
                c.push(
                    format!("/{key}"),
                    "should be a string (ISO 8601 time, or relative like -PT6H)",
                );
            }
        }
    }
    if top.contains_key("end") && !top.contains_key("start") {
        c.push("/end", "end needs start");
    }
    if let Some(v) = top.get("periodOverride") {
        if !matches!(v.as_str(), Some("auto" | "inherit")) {
            c.push("/periodOverride", "should be \"auto\" or \"inherit\"");
        }
    }
    if let Some(vars) = top.get("variables") {
        check_variables(&mut c, vars);
    }
    let Some(widgets) = top.get("widgets") else {
        c.push("/widgets", "required: the widgets array (it may be empty)");
        return c.problems;
    };
    let Some(widgets) = widgets.as_array() else {
        c.push("/widgets", "should be an array");
        return c.problems;
    };
    if widgets.len() > limits::MAX_WIDGETS {
        c.push(
            "/widgets",
            format!(
                "Should NOT have more than {} items (found {})",
                limits::MAX_WIDGETS,
                widgets.len()
            ),
        );
    }
    let mut metrics_total = 0;
    let mut rects: Vec<(usize, Rect)> = Vec::new();
    for (i, widget) in widgets.iter().enumerate() {
        let at = format!("/widgets/{i}");
        if let Some(rect) = check_widget(&mut c, &at, widget, &mut metrics_total) {
            for (j, other) in &rects {
                if rect.overlaps(other) {
                    c.push(
                        at.clone(),
                        format!(
                            "widget {i}{} overlaps widget {j}{} (x {}-{}, y {}-{} against x {}-{}, y {}-{})",
                            title_of(widget),
                            title_of(&widgets[*j]),
                            rect.x,
                            rect.right(),
                            rect.y,
                            rect.bottom(),
                            other.x,
                            other.right(),
                            other.y,
                            other.bottom()
                        ),
                    );
                }
            }
            rects.push((i, rect));
        }
    }
    if metrics_total > limits::MAX_METRICS_PER_DASHBOARD {
        c.push(
            "/widgets",
            format!(
                "the dashboard has {metrics_total} metrics; at most {} are allowed",
                limits::MAX_METRICS_PER_DASHBOARD
            ),
        );
    }
    c.problems
}

fn title_of(widget: &Value) -> String {
    widget
        .pointer("/properties/title")
        .and_then(Value::as_str)
        .map(|t| format!(" ({t:?})"))
        .unwrap_or_default()
}

#[derive(Default)]
struct Checker {
    problems: Vec<Problem>,
}

impl Checker {
    fn push(&mut self, pointer: impl Into<String>, message: impl Into<String>) {
        self.problems.push(Problem::at(pointer, message));
    }

    /// A required non-empty string at `props[key]`.
    fn required_string(&mut self, at: &str, props: &Map<String, Value>, key: &str) {
        match props.get(key) {
            None => self.push(format!("{at}/{key}"), format!("required: {key}")),
            Some(Value::String(s)) if !s.trim().is_empty() => {}
            Some(_) => self.push(format!("{at}/{key}"), "should be a non-empty string"),
        }
    }

    fn one_of(&mut self, at: &str, props: &Map<String, Value>, key: &str, allowed: &[&str]) {
        if let Some(v) = props.get(key) {
            if !v.as_str().is_some_and(|s| allowed.contains(&s)) {
                self.push(
                    format!("{at}/{key}"),
                    format!("should be one of {}", allowed.join(", ")),
                );
            }
        }
    }

    fn boolean(&mut self, at: &str, props: &Map<String, Value>, key: &str) {
        if props.get(key).is_some_and(|v| !v.is_boolean()) {
            self.push(format!("{at}/{key}"), "should be true or false");
        }
    }

    fn period(&mut self, at: &str, props: &Map<String, Value>) {
        if let Some(v) = props.get("period") {
            if !v.as_u64().is_some_and(is_period) {
                self.push(
                    format!("{at}/period"),
                    format!("period must be 1, 5, 10, 30, 60 or a multiple of 60 seconds, found {v}"),
                );
            }
        }
    }

    fn stat(&mut self, at: &str, props: &Map<String, Value>) {
        if let Some(v) = props.get("stat") {
            if !v.as_str().is_some_and(is_stat) {
                self.push(
                    format!("{at}/stat"),
                    format!(
                        "{v} is not a statistic (Average, Sum, Minimum, Maximum, SampleCount, p99, tm90, …)"
                    ),
                );
            }
        }
    }
}

fn grid_number(
    c: &mut Checker,
    at: &str,
    w: &Map<String, Value>,
    key: &str,
    range: (u64, u64),
) -> Option<u64> {
    let v = w.get(key)?;
    match v.as_u64() {
        Some(n) if n >= range.0 && n <= range.1 => Some(n),
        _ => {
            let allowed = if range.1 == u64::MAX {
                format!("a whole number ≥ {}", range.0)
            } else {
                format!("a whole number {}-{}", range.0, range.1)
            };
            c.push(
                format!("{at}/{key}"),
                format!("{key} must be {allowed}, found {v}"),
            );
            None
        }
    }
}

/// Checks one widget; its rectangle when it has an explicit, valid place.
#[allow(clippy::many_single_char_names)] // c, w, x, y: the checker, the widget, its place
fn check_widget(c: &mut Checker, at: &str, widget: &Value, metrics_total: &mut usize) -> Option<Rect> {
    let Some(w) = widget.as_object() else {
        c.push(at, "a widget must be an object");
        return None;
    };
    let x = grid_number(c, at, w, "x", (0, limits::MAX_X));
    let y = grid_number(c, at, w, "y", (0, u64::MAX));
    let width = grid_number(c, at, w, "width", (limits::MIN_WIDTH, limits::MAX_WIDTH));
    let height = grid_number(c, at, w, "height", (limits::MIN_HEIGHT, limits::MAX_HEIGHT));
    let width_ok = width.is_some() || !w.contains_key("width");
    let width = width.unwrap_or(limits::DEFAULT_WIDTH);
    if let Some(x) = x {
        if width_ok && x + width > limits::GRID_COLUMNS {
            c.push(
                format!("{at}/width"),
                format!(
                    "x + width must be at most {} (x {x}, width {width})",
                    limits::GRID_COLUMNS
                ),
            );
        }
    }
    let rect = match (x, y, height.is_some() || !w.contains_key("height"), width_ok) {
        (Some(x), Some(y), true, true) if x + width <= limits::GRID_COLUMNS => Some(Rect {
            x,
            y,
            width,
            height: height.unwrap_or(limits::DEFAULT_HEIGHT),
        }),
        _ => None,
    };
    let props_at = format!("{at}/properties");
    let props = match w.get("properties") {
        Some(Value::Object(p)) => Some(p),
        Some(_) => {
            c.push(&props_at, "properties should be an object");
            None
        }
        None => {
            c.push(&props_at, "required: properties");
            None
        }
    };
    match w.get("type").and_then(Value::as_str) {
        None => c.push(
            format!("{at}/type"),
            "required: type (metric, log, alarm, text, explorer or custom)",
        ),
        Some(kind) => {
            if let Some(props) = props {
                match kind {
                    "metric" => check_metric(c, &props_at, props, metrics_total),
                    "log" => check_log(c, &props_at, props),
                    "alarm" => check_alarm(c, &props_at, props),
                    "text" => {
                        c.required_string(&props_at, props, "markdown");
                        c.one_of(&props_at, props, "background", &["solid", "transparent"]);
                    }
                    // Passed through unchecked: their property lists are not well documented.
                    "explorer" | "custom" => {}
                    other => c.push(
                        format!("{at}/type"),
                        format!(
                            "unknown widget type {other:?} (metric, log, alarm, text, explorer or custom)"
                        ),
                    ),
                }
            }
        }
    }
    rect
}

fn check_metric(c: &mut Checker, at: &str, props: &Map<String, Value>, metrics_total: &mut usize) {
    c.required_string(at, props, "region");
    c.one_of(
        at,
        props,
        "view",
        &["timeSeries", "singleValue", "gauge", "bar", "pie", "table"],
    );
    for key in [
        "stacked",
        "liveData",
        "setPeriodToTimeRange",
        "sparkline",
        "singleValueFullPrecision",
        "trend",
    ] {
        c.boolean(at, props, key);
    }
    c.stat(at, props);
    c.period(at, props);
    if let Some(legend) = props.get("legend") {
        let ok = legend
            .get("position")
            .and_then(Value::as_str)
            .is_some_and(|p| ["bottom", "right", "hidden"].contains(&p));
        if !ok {
            c.push(
                format!("{at}/legend/position"),
                "should be bottom, right or hidden",
            );
        }
    }
    let alarm_annotations = props
        .get("annotations")
        .and_then(|a| a.get("alarms"))
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty());
    match props.get("metrics") {
        None if alarm_annotations => {}
        None => c.push(
            format!("{at}/metrics"),
            "required: metrics (or annotations.alarms)",
        ),
        Some(Value::Array(rows)) => {
            *metrics_total += rows.len();
            if rows.len() > limits::MAX_METRICS_PER_WIDGET {
                c.push(
                    format!("{at}/metrics"),
                    format!(
                        "Should NOT have more than {} items (found {})",
                        limits::MAX_METRICS_PER_WIDGET,
                        rows.len()
                    ),
                );
            }
            check_rows(c, &format!("{at}/metrics"), rows);
        }
        Some(_) => c.push(format!("{at}/metrics"), ROW_SHAPE),
    }
    if props.get("view").and_then(Value::as_str) == Some("gauge") {
        let bound = |k: &str| {
            props
                .get("yAxis")
                .and_then(|y| y.pointer(&format!("/left/{k}")))
                .and_then(Value::as_f64)
        };
        match (bound("min"), bound("max")) {
            (Some(min), Some(max)) if min < max => {}
            (Some(_), Some(_)) => c.push(
                format!("{at}/yAxis/left"),
                "a gauge's yAxis.left.min must be below its max",
            ),
            _ => c.push(
                format!("{at}/yAxis/left"),
                "a gauge needs yAxis.left.min and yAxis.left.max (numbers)",
            ),
        }
    }
    if let Some(annotations) = props.get("annotations") {
        check_annotations(c, &format!("{at}/annotations"), annotations);
    }
}

fn check_rows(c: &mut Checker, at: &str, rows: &[Value]) {
    let (rows, errors) = shorthand::expand(rows);
    for e in &errors {
        c.push(format!("{at}/{}/{}", e.row, e.token), e.message.clone());
    }
    let mut ids: Vec<(&str, usize)> = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        let row_at = format!("{at}/{i}");
        if errors.iter().any(|e| e.row == i) {
            continue;
        }
        let Some(items) = row.as_array().filter(|a| !a.is_empty()) else {
            c.push(row_at, ROW_SHAPE);
            continue;
        };
        let mut tokens = 0;
        let mut options = None;
        let mut shape_ok = true;
        for (j, item) in items.iter().enumerate() {
            match item {
                Value::String(s) => {
                    if s.is_empty() {
                        c.push(format!("{row_at}/{j}"), "should NOT be shorter than 1 characters");
                    }
                    tokens += 1;
                }
                Value::Object(o) if j == items.len() - 1 => options = Some(o),
                _ => {
                    c.push(format!("{row_at}/{j}"), NOT_A_STRING);
                    shape_ok = false;
                }
            }
        }
        if !shape_ok {
            continue;
        }
        let expression = options.and_then(|o| o.get("expression"));
        if tokens == 0 && expression.is_none() {
            c.push(
                row_at.clone(),
                "a row needs a namespace and a metric name, or an expression",
            );
        } else if tokens > 0 && expression.is_some() {
            c.push(
                format!("{row_at}/{tokens}/expression"),
                "a row has either metric tokens or an expression, not both",
            );
        } else if tokens > 0 && (tokens < 2 || tokens % 2 != 0) {
            c.push(
                row_at.clone(),
                format!("a metric row is Namespace, MetricName, then dimension name/value pairs; found {tokens} strings"),
            );
        }
        if let Some(o) = options {
            let o_at = format!("{row_at}/{}", items.len() - 1);
            check_render_options(c, &o_at, o);
            if let Some(id) = o.get("id").and_then(Value::as_str) {
                if let Some((_, first)) = ids.iter().find(|(seen, _)| *seen == id) {
                    c.push(
                        format!("{o_at}/id"),
                        format!("id {id:?} is already used by row {first}"),
                    );
                } else {
                    ids.push((id, i));
                }
            }
        }
    }
}

fn check_render_options(c: &mut Checker, at: &str, o: &Map<String, Value>) {
    for key in o.keys() {
        if !RENDER_KEYS.contains(&key.as_str()) {
            c.push(
                format!("{at}/{key}"),
                format!(
                    "unknown rendering property {key:?} (one of {})",
                    RENDER_KEYS.join(", ")
                ),
            );
        }
    }
    c.stat(at, o);
    c.period(at, o);
    c.boolean(at, o, "visible");
    c.one_of(at, o, "yAxis", &["left", "right"]);
    for key in ["label", "region", "accountId", "expression"] {
        if o.get(key).is_some_and(|v| !v.is_string()) {
            c.push(format!("{at}/{key}"), "should be a string");
        }
    }
    if let Some(color) = o.get("color") {
        if !color
            .as_str()
            .is_some_and(|s| COLOR.as_ref().is_some_and(|r| r.is_match(s)))
        {
            c.push(format!("{at}/color"), "should be a colour like #1f77b4");
        }
    }
    if let Some(id) = o.get("id") {
        if !id
            .as_str()
            .is_some_and(|s| METRIC_ID.as_ref().is_some_and(|r| r.is_match(s)))
        {
            c.push(
                format!("{at}/id"),
                "an id starts with a lowercase letter, then letters, digits and _",
            );
        }
    }
}

fn check_annotations(c: &mut Checker, at: &str, annotations: &Value) {
    for (kind, fills) in [
        ("horizontal", ["above", "below", "between"].as_slice()),
        ("vertical", &["before", "after"]),
    ] {
        let Some(list) = annotations.get(kind).and_then(Value::as_array) else {
            continue;
        };
        for (i, item) in list.iter().enumerate() {
            let marks: Vec<&Value> = match item {
                Value::Array(band) if band.len() == 2 => band.iter().collect(),
                Value::Array(_) => {
                    c.push(
                        format!("{at}/{kind}/{i}"),
                        "a band is an array of exactly 2 marks",
                    );
                    continue;
                }
                other => vec![other],
            };
            for mark in marks {
                let value = mark.get("value");
                let ok = if kind == "horizontal" {
                    value.is_some_and(Value::is_number)
                } else {
                    value.is_some_and(Value::is_string)
                };
                if !ok {
                    let what = if kind == "horizontal" {
                        "a number"
                    } else {
                        "an ISO 8601 time"
                    };
                    c.push(
                        format!("{at}/{kind}/{i}"),
                        format!("an annotation needs a value ({what})"),
                    );
                }
                if let Some(fill) = mark.get("fill") {
                    if !fill.as_str().is_some_and(|f| fills.contains(&f)) {
                        c.push(
                            format!("{at}/{kind}/{i}/fill"),
                            format!("should be one of {}", fills.join(", ")),
                        );
                    }
                }
            }
        }
    }
}

fn check_log(c: &mut Checker, at: &str, props: &Map<String, Value>) {
    c.required_string(at, props, "region");
    c.one_of(at, props, "view", &["table", "timeSeries", "bar", "pie"]);
    c.boolean(at, props, "stacked");
    c.required_string(at, props, "query");
    if let Some(query) = props.get("query").and_then(Value::as_str) {
        if let Err(message) = log_query::check(query) {
            c.push(format!("{at}/query"), message);
        }
    }
}

fn check_alarm(c: &mut Checker, at: &str, props: &Map<String, Value>) {
    match props.get("alarms") {
        None => c.push(format!("{at}/alarms"), "required: alarms (alarm ARNs)"),
        Some(Value::Array(alarms)) => {
            if alarms.is_empty() {
                c.push(format!("{at}/alarms"), "should NOT have fewer than 1 items");
            }
            if alarms.len() > limits::MAX_ALARMS_PER_WIDGET {
                c.push(
                    format!("{at}/alarms"),
                    format!(
                        "Should NOT have more than {} items (found {})",
                        limits::MAX_ALARMS_PER_WIDGET,
                        alarms.len()
                    ),
                );
            }
            for (i, arn) in alarms.iter().enumerate() {
                if !arn
                    .as_str()
                    .is_some_and(|a| a.starts_with("arn:") && a.contains(":alarm:"))
                {
                    c.push(
                        format!("{at}/alarms/{i}"),
                        format!("{arn} is not an alarm ARN (arn:aws:cloudwatch:REGION:ACCOUNT:alarm:NAME)"),
                    );
                }
            }
        }
        Some(_) => c.push(format!("{at}/alarms"), "should be an array of alarm ARNs"),
    }
    c.one_of(
        at,
        props,
        "sortBy",
        &["default", "stateUpdatedTimestamp", "timestamp"],
    );
    if let Some(states) = props.get("states") {
        let ok = states.as_array().is_some_and(|s| {
            s.iter()
                .all(|v| matches!(v.as_str(), Some("ALARM" | "OK" | "INSUFFICIENT_DATA")))
        });
        if !ok {
            c.push(
                format!("{at}/states"),
                "should be a list of ALARM, OK, INSUFFICIENT_DATA",
            );
        }
    }
}

fn check_variables(c: &mut Checker, vars: &Value) {
    let Some(list) = vars.as_array() else {
        c.push("/variables", "should be an array");
        return;
    };
    for (i, v) in list.iter().enumerate() {
        let at = format!("/variables/{i}");
        let Some(o) = v.as_object() else {
            c.push(at, "a variable must be an object");
            continue;
        };
        c.one_of(&at, o, "type", &["property", "pattern"]);
        if !o.contains_key("type") {
            c.push(format!("{at}/type"), "required: type (property or pattern)");
        }
        c.required_string(&at, o, "id");
        c.one_of(&at, o, "inputType", &["input", "select", "radio"]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_and_periods() {
        for ok in [
            "Average",
            "p99",
            "p99.9",
            "tm90",
            "TM(10%:90%)",
            "IQM",
            "SampleCount",
        ] {
            assert!(is_stat(ok), "{ok}");
        }
        for bad in ["average", "p", "Avg", "p999x"] {
            assert!(!is_stat(bad), "{bad}");
        }
        for ok in [1, 5, 10, 30, 60, 120, 300, 86_400] {
            assert!(is_period(ok));
        }
        for bad in [0, 2, 45, 90, 61] {
            assert!(!is_period(bad));
        }
    }

    #[test]
    fn names() {
        assert_eq!(check_name("CloudGram-prod_1"), None);
        assert!(check_name("").is_some());
        assert!(check_name("has space").is_some());
        assert!(check_name(&"a".repeat(256)).is_some());
    }
}

#[cfg(test)]
mod limit_tests {
    use super::*;
    use serde_json::json;

    fn metric(rows: usize) -> Value {
        let metrics: Vec<Value> = (0..rows)
            .map(|i| json!(["AWS/EC2", "CPUUtilization", "InstanceId", format!("i-{i}")]))
            .collect();
        json!({"type": "metric", "properties": {"region": "us-east-1", "metrics": metrics}})
    }

    #[test]
    fn more_than_2500_metrics_in_a_dashboard_is_reported_once() {
        let body = json!({"widgets": (0..6).map(|_| metric(450)).collect::<Vec<_>>()});
        let problems = check_body(&body);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].pointer, "/widgets");
        assert_eq!(
            problems[0].message,
            "the dashboard has 2700 metrics; at most 2500 are allowed"
        );
    }

    #[test]
    fn more_than_500_widgets_is_reported() {
        let widget = json!({"type": "text", "properties": {"markdown": "x"}});
        let body = json!({"widgets": vec![widget; 501]});
        let problems = check_body(&body);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(
            problems[0].message,
            "Should NOT have more than 500 items (found 501)"
        );
    }

    #[test]
    fn an_empty_dashboard_is_valid_and_widgets_are_required() {
        assert!(check_body(&json!({"widgets": []})).is_empty());
        assert_eq!(check_body(&json!({}))[0].pointer, "/widgets");
    }
}

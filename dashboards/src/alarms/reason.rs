//! The texts CloudWatch writes about a state change: NewStateReason (research §2.3's grammar),
//! StateReasonData, and the number and time formats they use.

use serde_json::{json, Map, Value};

use super::model::{MetricAlarm, Stat, StateValue, TreatMissingData};

/// A number as Java's `Double.toString` writes it, which is how CloudWatch prints values and
/// thresholds: `1.0`, `23.196333333333335`, `1.0E7`, `1.0E-4`.
pub fn java_double(x: f64) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    if x.is_infinite() {
        return if x > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        };
    }
    if x == 0.0 {
        return if x.is_sign_negative() {
            "-0.0".into()
        } else {
            "0.0".into()
        };
    }
    let magnitude = x.abs();
    if (1e-3..1e7).contains(&magnitude) {
        let s = format!("{x}");
        if s.contains('.') {
            s
        } else {
            s + ".0"
        }
    } else {
        let s = format!("{x:e}");
        let (mantissa, exponent) = s.split_once('e').unwrap_or((&s, "0"));
        let mantissa = if mantissa.contains('.') {
            mantissa.to_string()
        } else {
            format!("{mantissa}.0")
        };
        format!("{mantissa}E{exponent}")
    }
}

struct Civil {
    year: i64,
    month: u32,
    day: u32,
    hour: i64,
    minute: i64,
    second: i64,
    millis: i64,
}

fn civil(ms: i64) -> Civil {
    let days = ms.div_euclid(86_400_000);
    let in_day = ms.rem_euclid(86_400_000);
    let (year, month, day) = skywatch_time::civil::civil_from_days(days);
    Civil {
        year,
        month,
        day,
        hour: in_day / 3_600_000,
        minute: in_day / 60_000 % 60,
        second: in_day / 1000 % 60,
        millis: in_day % 1000,
    }
}

/// `dd/MM/yy HH:mm:ss` (UTC), as datapoints are dated in NewStateReason.
pub fn reason_time(ms: i64) -> String {
    let c = civil(ms);
    format!(
        "{:02}/{:02}/{:02} {:02}:{:02}:{:02}",
        c.day,
        c.month,
        c.year.rem_euclid(100),
        c.hour,
        c.minute,
        c.second
    )
}

/// `yyyy-MM-dd'T'HH:mm:ss.SSS+0000`, CloudWatch's timestamp format in messages.
pub fn aws_time(ms: i64) -> String {
    let c = civil(ms);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}+0000",
        c.year, c.month, c.day, c.hour, c.minute, c.second, c.millis
    )
}

/// A real datapoint of the evaluation range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// The start of its period.
    pub timestamp_ms: i64,
    pub value: f64,
    pub breaching: bool,
    /// Samples behind it (`None` for metric math).
    pub sample_count: Option<f64>,
}

/// What the evaluation found, for the texts.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The real points evaluated, newest first.
    pub evaluated: Vec<Point>,
    /// Every real point of the range, oldest first.
    pub range_points: Vec<Point>,
    /// The start of the range's first period.
    pub range_start_ms: i64,
    /// Slots filled by TreatMissingData (breaching / notBreaching only).
    pub filled: u32,
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn listed(points: &[&Point]) -> String {
    let items: Vec<String> = points
        .iter()
        .map(|p| format!("{} ({})", java_double(p.value), reason_time(p.timestamp_ms)))
        .collect();
    format!("[{}]", items.join(", "))
}

fn treated(treat: TreatMissingData) -> &'static str {
    match treat {
        TreatMissingData::Breaching => "Breaching",
        TreatMissingData::NotBreaching => "NonBreaching",
        TreatMissingData::Ignore => "Ignore",
        TreatMissingData::Missing => "Missing",
    }
}

fn missing_phrase(j: usize, label: &str) -> String {
    if j == 0 {
        String::new()
    } else if j == 1 {
        format!(" and 1 missing datapoint was treated as [{label}]")
    } else {
        format!(" and {j} missing datapoints were treated as [{label}]")
    }
}

/// NewStateReason for a metric alarm's change from `old` to `new`.
pub fn state_reason(
    alarm: &MetricAlarm,
    treat: TreatMissingData,
    outcome: &Outcome,
    old: StateValue,
    new: StateValue,
) -> String {
    let n = alarm.evaluation_periods as usize;
    let threshold = java_double(alarm.threshold);
    let words = alarm.comparison_operator.words();
    let filled = outcome.filled as usize;
    if outcome.range_points.is_empty() || (outcome.evaluated.is_empty() && filled == n) {
        let head = if new == StateValue::InsufficientData {
            "Insufficient Data"
        } else {
            "Threshold Crossed"
        };
        let label = treated(treat);
        let phrase = missing_phrase(n, label);
        return format!(
            "{head}: no datapoints were received for {}{phrase}.",
            plural(n, "period", "periods")
        );
    }
    if new == StateValue::InsufficientData {
        // Breaching points too recent to decide, and no non-breaching one (our wording: AWS's
        // is not documented).
        let points: Vec<&Point> = outcome.evaluated.iter().collect();
        let verb = if points.len() == 1 { "was" } else { "were" };
        return format!(
            "Insufficient Data: {} {} {verb} {words} the threshold ({threshold}){}.",
            plural(points.len(), "datapoint", "datapoints"),
            listed(&points),
            missing_phrase(n.saturating_sub(points.len()), "Missing"),
        );
    }
    let want_breaching = new == StateValue::Alarm;
    let supporting: Vec<&Point> = outcome
        .evaluated
        .iter()
        .filter(|p| p.breaching == want_breaching)
        .collect();
    let k = supporting.len();
    let verb = if k == 1 { "was" } else { "were" };
    let not = if want_breaching { "" } else { "not " };
    let missing = if matches!(
        treat,
        TreatMissingData::Breaching | TreatMissingData::NotBreaching
    ) {
        missing_phrase(filled, treated(treat))
    } else {
        String::new()
    };
    match alarm.datapoints_to_alarm {
        Some(m) => format!(
            "Threshold Crossed: {k} out of the last {n} datapoints {} {verb} {not}{words} the threshold ({threshold}){missing} (minimum {} for {} -> {} transition).",
            listed(&supporting),
            plural(m as usize, "datapoint", "datapoints"),
            old.as_str(),
            new.as_str(),
        ),
        None => format!(
            "Threshold Crossed: {} {} {verb} {not}{words} the threshold ({threshold}){missing}.",
            plural(k, "datapoint", "datapoints"),
            listed(&supporting),
        ),
    }
}

/// StateReasonData (a JSON text): version, queryDate, startDate, statistic or
/// extendedStatistic (single-metric alarms), unit (when set), period, recentDatapoints (the
/// range's real values, oldest first), threshold, evaluatedDatapoints (newest first).
pub fn state_reason_data(alarm: &MetricAlarm, outcome: &Outcome, now_ms: i64) -> String {
    let mut m = Map::new();
    m.insert("version".into(), json!("1.0"));
    m.insert("queryDate".into(), json!(aws_time(now_ms)));
    let start = outcome
        .evaluated
        .last()
        .map_or(outcome.range_start_ms, |p| p.timestamp_ms);
    m.insert("startDate".into(), json!(aws_time(start)));
    match (alarm.metrics.is_empty(), alarm.stat()) {
        (true, Some(Stat::Simple(s))) => {
            m.insert("statistic".into(), json!(s.as_str()));
        }
        (true, Some(Stat::Percentile(_))) => {
            m.insert("extendedStatistic".into(), json!(alarm.extended_statistic));
        }
        _ => {}
    }
    if let Some(u) = &alarm.unit {
        m.insert("unit".into(), json!(u));
    }
    m.insert("period".into(), json!(alarm.period_secs()));
    m.insert(
        "recentDatapoints".into(),
        Value::Array(outcome.range_points.iter().map(|p| json!(p.value)).collect()),
    );
    m.insert("threshold".into(), json!(alarm.threshold));
    let evaluated: Vec<Value> = outcome
        .evaluated
        .iter()
        .map(|p| {
            let mut e = Map::new();
            e.insert("timestamp".into(), json!(aws_time(p.timestamp_ms)));
            if let Some(c) = p.sample_count {
                e.insert("sampleCount".into(), json!(c));
            }
            e.insert("value".into(), json!(p.value));
            Value::Object(e)
        })
        .collect();
    m.insert("evaluatedDatapoints".into(), Value::Array(evaluated));
    Value::Object(m).to_string()
}

#[cfg(test)]
mod tests {
    use super::{aws_time, java_double, reason_time};

    #[test]
    fn numbers_print_as_java_doubles() {
        assert_eq!(java_double(1.0), "1.0");
        assert_eq!(java_double(20.0), "20.0");
        assert_eq!(java_double(613.0), "613.0");
        assert_eq!(java_double(23.196_333_333_333_335), "23.196333333333335");
        assert_eq!(java_double(0.066_685_190_330_647_2), "0.0666851903306472");
        assert_eq!(java_double(0.0), "0.0");
        assert_eq!(java_double(-2.5), "-2.5");
        assert_eq!(java_double(1e7), "1.0E7");
        assert_eq!(java_double(12_345_678.9), "1.23456789E7");
        assert_eq!(java_double(0.001), "0.001");
        assert_eq!(java_double(0.0001), "1.0E-4");
        assert_eq!(java_double(9_999_999.0), "9999999.0");
    }

    #[test]
    fn times_in_both_formats() {
        // 2024-03-05T20:25:00Z
        assert_eq!(reason_time(1_709_670_300_000), "05/03/24 20:25:00");
        assert_eq!(aws_time(1_709_670_664_488), "2024-03-05T20:31:04.488+0000");
        assert_eq!(aws_time(0), "1970-01-01T00:00:00.000+0000");
    }
}

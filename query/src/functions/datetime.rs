//! Datetime functions (section 4.3) and time periods (section 1.5).
//!
//! Everything is UTC epoch milliseconds. Fixed-length periods (ms … week) align to the epoch, so
//! `5m` boundaries are the multiples of five minutes since 1970-01-01T00:00Z; weeks start on
//! Monday 00:00 UTC; months, quarters and years align to the calendar in UTC, counted from
//! January 1970 (`2mo` boundaries are Jan, Mar, May, …).

use std::fmt::Write as _;

use chrono::format::{parse as chrono_parse, Fixed, Item, Parsed, StrftimeItems};
use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, Utc};

use super::{arg, number, string, text, to_i64, FnContext, ScalarFunction};
use crate::value::{parse_number, Value};

pub(super) const FUNCTIONS: &[ScalarFunction] = &[
    ScalarFunction {
        name: "datefloor",
        min_args: 2,
        max_args: Some(2),
        call: datefloor,
    },
    ScalarFunction {
        name: "dateceil",
        min_args: 2,
        max_args: Some(2),
        call: dateceil,
    },
    ScalarFunction {
        name: "fromMillis",
        min_args: 1,
        max_args: Some(1),
        call: from_millis,
    },
    ScalarFunction {
        name: "toMillis",
        min_args: 1,
        max_args: Some(1),
        call: to_millis,
    },
    ScalarFunction {
        name: "now",
        min_args: 0,
        max_args: Some(0),
        call: now,
    },
    ScalarFunction {
        name: "parseDate",
        min_args: 2,
        max_args: Some(3),
        call: parse_date,
    },
    ScalarFunction {
        name: "formatDate",
        min_args: 2,
        max_args: Some(3),
        call: format_date,
    },
];

// ---- Periods ----

/// A time period such as `5m`: a count of a unit, after the cap rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Period {
    /// How many units; at least 1, at most the unit's cap.
    pub count: u32,
    /// The unit.
    pub unit: PeriodUnit,
}

impl Period {
    /// Its length in ms, if it has a fixed one (not months, quarters or years).
    pub fn fixed_ms(&self) -> Option<i64> {
        self.unit
            .fixed_ms()
            .map(|unit| i64::from(self.count).saturating_mul(unit))
    }
}

/// The unit of a [`Period`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeriodUnit {
    Millisecond,
    Second,
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Quarter,
    Year,
}

impl PeriodUnit {
    /// The documented cap on the count: `ms` ≤ 1000, `s` ≤ 60, `m` ≤ 60, `h` ≤ 24.
    fn cap(self) -> Option<u64> {
        match self {
            PeriodUnit::Millisecond => Some(1000),
            PeriodUnit::Second | PeriodUnit::Minute => Some(60),
            PeriodUnit::Hour => Some(24),
            _ => None,
        }
    }

    /// Length in ms for fixed-length units; `None` for calendar units.
    fn fixed_ms(self) -> Option<i64> {
        match self {
            PeriodUnit::Millisecond => Some(1),
            PeriodUnit::Second => Some(1000),
            PeriodUnit::Minute => Some(60_000),
            PeriodUnit::Hour => Some(3_600_000),
            PeriodUnit::Day => Some(86_400_000),
            PeriodUnit::Week => Some(604_800_000),
            PeriodUnit::Month | PeriodUnit::Quarter | PeriodUnit::Year => None,
        }
    }

    /// Length in months for calendar units.
    fn months(self) -> i64 {
        match self {
            PeriodUnit::Quarter => 3,
            PeriodUnit::Year => 12,
            _ => 1,
        }
    }

    /// The unit a spelling names (lower case, no plural `s`).
    fn from_spelling(unit: &str) -> Option<PeriodUnit> {
        Some(match unit {
            "ms" | "msec" | "millisecond" => PeriodUnit::Millisecond,
            "s" | "sec" | "second" => PeriodUnit::Second,
            "m" | "min" | "minute" => PeriodUnit::Minute,
            "h" | "hr" | "hour" => PeriodUnit::Hour,
            "d" | "day" => PeriodUnit::Day,
            "w" | "week" => PeriodUnit::Week,
            "mo" | "mon" | "month" => PeriodUnit::Month,
            "q" | "qtr" | "quarter" => PeriodUnit::Quarter,
            "y" | "yr" | "year" => PeriodUnit::Year,
            _ => return None,
        })
    }
}

/// Parses a time period (`5m`, `1h`, `2hrs`, `100ms`, `1mo`, `1q`, `1y`): digits then a unit,
/// no space, unit case-insensitive; multi-letter units may take a plural `s`. The count is
/// clamped to the unit's documented cap (`300s` is `60s`). `None` for bad text or a zero count.
// UNSURE: whether the service still clamps silently rather than rejecting; we follow the doc.
pub fn parse_period(text: &str) -> Option<Period> {
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (digits, unit) = text.split_at(split);
    if digits.is_empty() {
        return None;
    }
    let unit = unit.to_ascii_lowercase();
    let unit = PeriodUnit::from_spelling(&unit).or_else(|| {
        // A plural `s` only on multi-letter spellings: `mins`, `hrs`, `mos`, but not `hs`.
        let singular = unit.strip_suffix('s').filter(|u| u.len() > 1)?;
        PeriodUnit::from_spelling(singular)
    })?;
    // The digits are all ASCII digits, so parsing fails only on overflow: a huge count.
    let count = digits.parse::<u64>().unwrap_or(u64::MAX);
    if count == 0 {
        return None;
    }
    let count = unit.cap().map_or(count, |cap| count.min(cap));
    Some(Period {
        count: u32::try_from(count).ok()?,
        unit,
    })
}

/// The start of the period containing `ms` (UTC). Fixed units align to the epoch, weeks to
/// Monday 00:00 UTC, months/quarters/years to the UTC calendar counted from January 1970.
/// Times outside the calendar's range (±262,000 years) are returned unchanged.
pub fn floor_to_period(ms: i64, p: &Period) -> i64 {
    if let Some(unit_ms) = p.unit.fixed_ms() {
        let step = i128::from(p.count) * i128::from(unit_ms);
        let origin = origin_ms(p.unit);
        saturate(origin + (i128::from(ms) - origin).div_euclid(step) * step)
    } else {
        let step = i64::from(p.count) * p.unit.months();
        month_index(ms)
            .and_then(|index| month_start_ms(index.div_euclid(step) * step))
            .unwrap_or(ms)
    }
}

/// The end of the period containing `ms`: the first boundary at or after `ms`. A value already on
/// a boundary stays where it is (so `dateceil` and `datefloor` agree on boundaries).
// UNSURE: the service may move a boundary value up one period; the doc does not say.
pub fn ceil_to_period(ms: i64, p: &Period) -> i64 {
    let floored = floor_to_period(ms, p);
    if floored == ms {
        return ms;
    }
    if let Some(unit_ms) = p.unit.fixed_ms() {
        saturate(i128::from(floored) + i128::from(p.count) * i128::from(unit_ms))
    } else {
        let step = i64::from(p.count) * p.unit.months();
        month_index(floored)
            .and_then(|index| month_start_ms(index.checked_add(step)?))
            .unwrap_or(ms)
    }
}

/// Where fixed-length periods are counted from: the epoch, or for weeks the Monday before it
/// (1969-12-29T00:00Z), so week bins start on Mondays as ISO 8601 weeks do.
fn origin_ms(unit: PeriodUnit) -> i128 {
    if unit == PeriodUnit::Week {
        -3 * 86_400_000
    } else {
        0
    }
}

fn saturate(ms: i128) -> i64 {
    i64::try_from(ms).unwrap_or(if ms < 0 { i64::MIN } else { i64::MAX })
}

/// Months since January 1970 of the UTC month containing `ms`.
fn month_index(ms: i64) -> Option<i64> {
    let t = DateTime::<Utc>::from_timestamp_millis(ms)?;
    Some((i64::from(t.year()) - 1970) * 12 + i64::from(t.month0()))
}

/// Epoch ms of the first instant of month `index` (months since January 1970).
fn month_start_ms(index: i64) -> Option<i64> {
    let year = i32::try_from(1970 + index.div_euclid(12)).ok()?;
    let month = u32::try_from(index.rem_euclid(12) + 1).ok()?;
    let start = NaiveDate::from_ymd_opt(year, month, 1)?.and_hms_opt(0, 0, 0)?;
    Some(start.and_utc().timestamp_millis())
}

// ---- Timestamps in ----

/// The epoch ms a value stands for as a timestamp: timestamps, numbers (epoch ms), and strings
/// that are a number, RFC 3339 / ISO 8601 (`2024-03-01T12:00:00Z`, `…+05:30`), or the display
/// form `2024-03-01 12:00:00.123` (UTC). Booleans, lists and maps are not timestamps.
fn timestamp_ms(value: &Value) -> Option<i64> {
    match value {
        Value::Time(ms) => Some(*ms),
        Value::Num(n) => to_i64(*n),
        Value::Str(s) => match parse_number(s) {
            Some(n) => to_i64(n),
            None => parse_timestamp_text(s.trim()),
        },
        Value::Bool(_) | Value::List(_) | Value::Map(_) => None,
    }
}

fn parse_timestamp_text(s: &str) -> Option<i64> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp_millis());
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%d %H:%M:%S%.f%z"] {
        if let Ok(t) = DateTime::parse_from_str(s, format) {
            return Some(t.timestamp_millis());
        }
    }
    // Without an offset the text is UTC, as the service displays timestamps.
    for format in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, format) {
            return Some(t.and_utc().timestamp_millis());
        }
    }
    let date = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
    Some(date.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis())
}

fn timestamp_arg(args: &[Option<Value>], i: usize) -> Option<i64> {
    timestamp_ms(arg(args, i)?)
}

/// A period argument: text such as `1h` (the evaluator passes a period literal as its text).
fn period_arg(args: &[Option<Value>], i: usize) -> Option<Period> {
    parse_period(text(args, i)?.trim())
}

/// A time-zone argument: `UTC`/`GMT`/`Z` or a fixed offset (`+05:00`, `-0800`, `+05`).
fn offset_arg(args: &[Option<Value>], i: usize) -> Option<FixedOffset> {
    if args.len() <= i {
        return FixedOffset::east_opt(0);
    }
    parse_offset(text(args, i)?.trim())
}

// UNSURE: named zones (`America/New_York`) are not supported: no tz database in the engine.
fn parse_offset(tz: &str) -> Option<FixedOffset> {
    if ["UTC", "GMT", "Z"].iter().any(|u| u.eq_ignore_ascii_case(tz)) {
        return FixedOffset::east_opt(0);
    }
    // `+05`, `+0530` and `+05:30`, as in timestamps.
    FixedOffset::east_opt(i32::try_from(skywatch_time::offset::parse_utc_offset(tz)?).ok()?)
}

// ---- Functions ----

fn datefloor(_: &FnContext, args: &[Option<Value>]) -> Option<Value> {
    let ms = timestamp_arg(args, 0)?;
    Some(Value::Time(floor_to_period(ms, &period_arg(args, 1)?)))
}

fn dateceil(_: &FnContext, args: &[Option<Value>]) -> Option<Value> {
    let ms = timestamp_arg(args, 0)?;
    Some(Value::Time(ceil_to_period(ms, &period_arg(args, 1)?)))
}

fn from_millis(_: &FnContext, args: &[Option<Value>]) -> Option<Value> {
    Some(Value::Time(to_i64(number(args, 0)?)?))
}

fn to_millis(_: &FnContext, args: &[Option<Value>]) -> Option<Value> {
    Value::num(timestamp_arg(args, 0)? as f64)
}

fn now(ctx: &FnContext, _: &[Option<Value>]) -> Option<Value> {
    // UNSURE: whole seconds (floored) rather than a fraction; the doc's `now() * 1000` works either way.
    Value::num(ctx.now_ms.div_euclid(1000) as f64)
}

fn parse_date(_: &FnContext, args: &[Option<Value>]) -> Option<Value> {
    let input = text(args, 0)?;
    let items = java_pattern_items(&text(args, 1)?)?;
    let zone = offset_arg(args, 2)?;
    let mut parsed = Parsed::new();
    chrono_parse(&mut parsed, input.trim(), items.iter()).ok()?;
    // Java's `yy` reads 2000–2099.
    if parsed.year.is_none() && parsed.year_div_100.is_none() && parsed.year_mod_100.is_some() {
        parsed.set_year_div_100(20).ok()?;
    }
    // UNSURE: missing fields default like a lenient parser: year 1970, month/day 1,
    // time 00:00:00.000, AM (Java's parser would reject a pattern without a date).
    if parsed.year.is_none() && parsed.year_div_100.is_none() && parsed.year_mod_100.is_none() {
        parsed.set_year(1970).ok()?;
    }
    if parsed.month.is_none() && parsed.ordinal.is_none() {
        parsed.set_month(1).ok()?;
    }
    if parsed.day.is_none() && parsed.ordinal.is_none() {
        parsed.set_day(1).ok()?;
    }
    if parsed.hour_div_12.is_none() {
        if parsed.hour_mod_12.is_none() {
            parsed.set_hour(0).ok()?;
        } else {
            parsed.set_ampm(false).ok()?;
        }
    }
    if parsed.minute.is_none() {
        parsed.set_minute(0).ok()?;
    }
    if parsed.second.is_none() {
        parsed.set_second(0).ok()?;
    }
    if parsed.nanosecond.is_none() {
        parsed.set_nanosecond(0).ok()?;
    }
    // An offset in the text wins over the time-zone argument.
    if parsed.offset.is_none() {
        parsed.set_offset(i64::from(zone.local_minus_utc())).ok()?;
    }
    Value::num(parsed.to_datetime().ok()?.timestamp_millis() as f64)
}

/// Translates a Java `DateTimeFormatter` pattern into chrono parse items. Supported letters:
/// `y`/`u` (year; `yy` two-digit), `M`/`L` (`M`/`MM` number, `MMM` short name, `MMMM` full
/// name), `d`, `H`, `h`, `m`, `s`, `S` (3, 6 or 9 fraction digits), `a`, `E` (weekday name),
/// `X`/`XX`/`XXX` and `ZZZZZ` (offset or `Z`), `x`/`xx`/`xxx` and `Z`/`ZZ`/`ZZZ` (offset), quoted
/// literals (`'T'`, `''`). `None` for any other letter or an unclosed quote.
fn java_pattern_items(pattern: &str) -> Option<Vec<Item<'static>>> {
    let mut items = Vec::new();
    let mut literal = String::new();
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\'' {
            if chars.peek() == Some(&'\'') {
                chars.next();
                literal.push('\'');
                continue;
            }
            // A quoted literal runs to the next lone quote; `''` inside it is one quote.
            loop {
                match chars.next()? {
                    '\'' if chars.peek() == Some(&'\'') => {
                        chars.next();
                        literal.push('\'');
                    }
                    '\'' => break,
                    other => literal.push(other),
                }
            }
            continue;
        }
        if !c.is_ascii_alphabetic() {
            literal.push(c);
            continue;
        }
        let mut width = 1;
        while chars.peek() == Some(&c) {
            chars.next();
            width += 1;
        }
        if !literal.is_empty() {
            items.push(Item::OwnedLiteral(std::mem::take(&mut literal).into_boxed_str()));
        }
        let fixed = |f: Fixed| Some(vec![Item::Fixed(f)]);
        let strftime = |spec: &'static str| StrftimeItems::new(spec).parse().ok();
        let translated = match (c, width) {
            ('y' | 'u', 2) => strftime("%y"),
            ('y' | 'u', _) => strftime("%Y"),
            ('M' | 'L', 1 | 2) => strftime("%m"),
            ('M' | 'L', 3) => strftime("%b"),
            ('M' | 'L', 4) => strftime("%B"),
            ('d', 1 | 2) => strftime("%d"),
            ('H', 1 | 2) => strftime("%H"),
            ('h', 1 | 2) => strftime("%I"),
            ('m', 1 | 2) => strftime("%M"),
            ('s', 1 | 2) => strftime("%S"),
            ('S', 3) => strftime("%3f"),
            ('S', 6) => strftime("%6f"),
            ('S', 9) => strftime("%9f"),
            ('a', 1) => strftime("%p"),
            ('E', 1..=3) => strftime("%a"),
            ('E', 4) => strftime("%A"),
            ('X', 1..=3) | ('Z', 5) => fixed(Fixed::TimezoneOffsetColonZ),
            ('x', 1..=3) => fixed(Fixed::TimezoneOffsetColon),
            ('Z', 1..=3) => fixed(Fixed::TimezoneOffset),
            _ => None,
        };
        items.extend(translated?);
    }
    if !literal.is_empty() {
        items.push(Item::OwnedLiteral(literal.into_boxed_str()));
    }
    Some(items)
}

fn format_date(_: &FnContext, args: &[Option<Value>]) -> Option<Value> {
    let ms = timestamp_arg(args, 0)?;
    let format = text(args, 1)?;
    let zone = offset_arg(args, 2)?;
    // `parse` rejects unknown or dangling `%` specifiers, which would make formatting fail.
    let items = StrftimeItems::new(&format).parse().ok()?;
    let t = DateTime::<Utc>::from_timestamp_millis(ms)?.with_timezone(&zone);
    let mut out = String::new();
    // Formatting can still fail (a parse-only specifier such as `%#z`): no value, never a panic.
    write!(out, "{}", t.format_with_items(items.iter())).ok()?;
    string(out)
}

#[cfg(test)]
mod tests {
    use super::super::tests::{b, call, call_with, n, s};
    use super::{ceil_to_period, floor_to_period, parse_period, Period, PeriodUnit};
    use crate::functions::FnContext;
    use crate::value::Value;

    fn period(text: &str) -> Period {
        parse_period(text).unwrap_or_else(|| panic!("bad period {text}"))
    }

    fn ms(text: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(text)
            .unwrap()
            .timestamp_millis()
    }

    #[allow(clippy::unnecessary_wraps)] // Arguments are Option<Value>.
    fn time(text: &str) -> Option<Value> {
        Some(Value::Time(ms(text)))
    }

    #[test]
    fn periods_parse_every_documented_spelling() {
        let cases = [
            ("100ms", 100, PeriodUnit::Millisecond),
            ("5msec", 5, PeriodUnit::Millisecond),
            ("5milliseconds", 5, PeriodUnit::Millisecond),
            ("30s", 30, PeriodUnit::Second),
            ("30sec", 30, PeriodUnit::Second),
            ("30secs", 30, PeriodUnit::Second),
            ("1second", 1, PeriodUnit::Second),
            ("5m", 5, PeriodUnit::Minute),
            ("5min", 5, PeriodUnit::Minute),
            ("5mins", 5, PeriodUnit::Minute),
            ("5minutes", 5, PeriodUnit::Minute),
            ("1h", 1, PeriodUnit::Hour),
            ("2hr", 2, PeriodUnit::Hour),
            ("2hrs", 2, PeriodUnit::Hour),
            ("2hours", 2, PeriodUnit::Hour),
            ("1d", 1, PeriodUnit::Day),
            ("3days", 3, PeriodUnit::Day),
            ("1w", 1, PeriodUnit::Week),
            ("2weeks", 2, PeriodUnit::Week),
            ("1mo", 1, PeriodUnit::Month),
            ("1mon", 1, PeriodUnit::Month),
            ("6months", 6, PeriodUnit::Month),
            ("1q", 1, PeriodUnit::Quarter),
            ("1qtr", 1, PeriodUnit::Quarter),
            ("2quarters", 2, PeriodUnit::Quarter),
            ("1y", 1, PeriodUnit::Year),
            ("1yr", 1, PeriodUnit::Year),
            ("10years", 10, PeriodUnit::Year),
        ];
        for (text, count, unit) in cases {
            assert_eq!(parse_period(text), Some(Period { count, unit }), "{text}");
        }
    }

    #[test]
    fn period_units_ignore_case() {
        assert_eq!(
            parse_period("5M"),
            Some(Period {
                count: 5,
                unit: PeriodUnit::Minute
            })
        );
        assert_eq!(
            parse_period("1HRS"),
            Some(Period {
                count: 1,
                unit: PeriodUnit::Hour
            })
        );
        assert_eq!(
            parse_period("1Mo"),
            Some(Period {
                count: 1,
                unit: PeriodUnit::Month
            })
        );
    }

    #[test]
    fn period_counts_are_capped_per_unit() {
        assert_eq!(
            parse_period("300s"),
            Some(Period {
                count: 60,
                unit: PeriodUnit::Second
            })
        );
        assert_eq!(
            parse_period("5000ms"),
            Some(Period {
                count: 1000,
                unit: PeriodUnit::Millisecond
            })
        );
        assert_eq!(
            parse_period("90m"),
            Some(Period {
                count: 60,
                unit: PeriodUnit::Minute
            })
        );
        assert_eq!(
            parse_period("48h"),
            Some(Period {
                count: 24,
                unit: PeriodUnit::Hour
            })
        );
        assert_eq!(
            parse_period("400d"),
            Some(Period {
                count: 400,
                unit: PeriodUnit::Day
            })
        );
        assert_eq!(
            parse_period("99999999999999999999999s"),
            Some(Period {
                count: 60,
                unit: PeriodUnit::Second
            })
        );
        assert_eq!(parse_period("99999999999d"), None);
    }

    #[test]
    fn period_arguments_may_carry_surrounding_spaces() {
        let t = Some(Value::Time(ms("2024-03-01T12:34:56Z")));
        assert_eq!(call("datefloor", &[t, s(" 1h ")]), time("2024-03-01T12:00:00Z"));
        assert_eq!(parse_period(" 1h"), None);
    }

    #[test]
    fn bad_periods_are_rejected() {
        for text in [
            "", "5", "m", "0s", "00m", "5 m", "1.5h", "-5m", "5x", "5hs", "5ss", "+5m",
        ] {
            assert_eq!(parse_period(text), None, "{text:?}");
        }
    }

    #[test]
    fn bin_300s_behaves_as_60s() {
        let t = ms("2024-03-01T12:34:56.789Z");
        assert_eq!(floor_to_period(t, &period("300s")), ms("2024-03-01T12:34:00Z"));
    }

    #[test]
    fn fixed_periods_floor_to_epoch_multiples() {
        let t = ms("2024-03-01T12:34:56.789Z");
        assert_eq!(floor_to_period(t, &period("5m")), ms("2024-03-01T12:30:00Z"));
        assert_eq!(floor_to_period(t, &period("1h")), ms("2024-03-01T12:00:00Z"));
        assert_eq!(
            floor_to_period(t, &period("100ms")),
            ms("2024-03-01T12:34:56.700Z")
        );
        assert_eq!(floor_to_period(t, &period("1d")), ms("2024-03-01T00:00:00Z"));
        assert_eq!(floor_to_period(-1, &period("1s")), -1000);
    }

    #[test]
    fn weeks_start_on_monday_utc() {
        // 2024-03-01 is a Friday; the Monday before is 2024-02-26.
        let t = ms("2024-03-01T12:00:00Z");
        assert_eq!(floor_to_period(t, &period("1w")), ms("2024-02-26T00:00:00Z"));
        assert_eq!(ceil_to_period(t, &period("1w")), ms("2024-03-04T00:00:00Z"));
        assert_eq!(floor_to_period(0, &period("1w")), ms("1969-12-29T00:00:00Z"));
    }

    #[test]
    fn calendar_periods_align_to_months_quarters_and_years() {
        let t = ms("2024-05-17T08:00:00Z");
        assert_eq!(floor_to_period(t, &period("1mo")), ms("2024-05-01T00:00:00Z"));
        assert_eq!(ceil_to_period(t, &period("1mo")), ms("2024-06-01T00:00:00Z"));
        assert_eq!(floor_to_period(t, &period("1q")), ms("2024-04-01T00:00:00Z"));
        assert_eq!(ceil_to_period(t, &period("1q")), ms("2024-07-01T00:00:00Z"));
        assert_eq!(floor_to_period(t, &period("1y")), ms("2024-01-01T00:00:00Z"));
        assert_eq!(ceil_to_period(t, &period("1y")), ms("2025-01-01T00:00:00Z"));
        assert_eq!(floor_to_period(t, &period("2mo")), ms("2024-05-01T00:00:00Z"));
        assert_eq!(floor_to_period(t, &period("10y")), ms("2020-01-01T00:00:00Z"));
        let december = ms("2023-12-31T23:59:59.999Z");
        assert_eq!(
            ceil_to_period(december, &period("1mo")),
            ms("2024-01-01T00:00:00Z")
        );
        let before_epoch = ms("1969-11-15T00:00:00Z");
        assert_eq!(
            floor_to_period(before_epoch, &period("1q")),
            ms("1969-10-01T00:00:00Z")
        );
    }

    #[test]
    fn values_on_a_boundary_stay_for_floor_and_ceil() {
        let boundary = ms("2024-01-01T00:00:00Z"); // A Monday.
        for p in ["1ms", "1h", "5m", "1d", "1w", "1mo", "1q", "1y"] {
            assert_eq!(floor_to_period(boundary, &period(p)), boundary, "{p}");
            assert_eq!(ceil_to_period(boundary, &period(p)), boundary, "{p}");
        }
        assert_eq!(
            ceil_to_period(boundary + 1, &period("1h")),
            ms("2024-01-01T01:00:00Z")
        );
        assert_eq!(
            ceil_to_period(boundary + 1, &period("1y")),
            ms("2025-01-01T00:00:00Z")
        );
        assert_eq!(
            floor_to_period(boundary - 1, &period("1d")),
            ms("2023-12-31T00:00:00Z")
        );
    }

    #[test]
    fn extreme_times_do_not_overflow() {
        assert_eq!(floor_to_period(i64::MIN, &period("7d")), i64::MIN);
        assert_eq!(ceil_to_period(i64::MAX, &period("7d")), i64::MAX);
        assert_eq!(floor_to_period(i64::MAX, &period("1y")), i64::MAX);
        assert_eq!(ceil_to_period(i64::MIN, &period("1mo")), i64::MIN);
        assert_eq!(floor_to_period(i64::MIN, &period("1w")), i64::MIN);
    }

    #[test]
    fn datefloor_and_dateceil_return_timestamps() {
        let t = time("2024-03-01T12:34:56Z");
        assert_eq!(
            call("datefloor", &[t.clone(), s("1h")]),
            time("2024-03-01T12:00:00Z")
        );
        assert_eq!(
            call("dateceil", &[t.clone(), s("10m")]),
            time("2024-03-01T12:40:00Z")
        );
        assert_eq!(call("datefloor", &[t.clone(), s("bogus")]), None);
        assert_eq!(call("datefloor", &[None, s("1h")]), None);
        assert_eq!(call("dateceil", &[t, None]), None);
    }

    #[test]
    fn timestamps_are_read_from_numbers_and_iso_strings() {
        let expected = time("2024-03-01T12:00:00Z");
        for input in [
            n(1_709_294_400_000.0),
            s("1709294400000"),
            s("2024-03-01T12:00:00Z"),
            s("2024-03-01T17:30:00+05:30"),
            s("2024-03-01T12:00:00.000+0000"),
            s("2024-03-01 12:00:00.000"),
            s("2024-03-01 12:00:00"),
            s("2024-03-01T12:00:00"),
        ] {
            assert_eq!(
                call("datefloor", &[input.clone(), s("1s")]),
                expected,
                "{input:?}"
            );
        }
        assert_eq!(
            call("datefloor", &[s("2024-03-01"), s("1d")]),
            time("2024-03-01T00:00:00Z")
        );
        assert_eq!(call("datefloor", &[s("yesterday"), s("1d")]), None);
        assert_eq!(call("datefloor", &[b(true), s("1d")]), None);
    }

    #[test]
    fn from_millis_and_to_millis_round_trip() {
        assert_eq!(
            call("fromMillis", &[n(1_709_294_400_000.0)]),
            Some(Value::Time(1_709_294_400_000))
        );
        assert_eq!(call("fromMillis", &[s("1500.7")]), Some(Value::Time(1500)));
        assert_eq!(call("fromMillis", &[s("soon")]), None);
        assert_eq!(call("fromMillis", &[n(1e300)]), None);
        assert_eq!(
            call("toMillis", &[Some(Value::Time(1_709_294_400_123))]),
            n(1_709_294_400_123.0)
        );
        assert_eq!(
            call("toMillis", &[s("2024-03-01 12:00:00.123")]),
            n(1_709_294_400_123.0)
        );
        assert_eq!(call("toMillis", &[None]), None);
    }

    #[test]
    fn now_is_epoch_seconds_of_the_query_start() {
        assert_eq!(call("now", &[]), n(1_700_000_000.0));
        let ctx = FnContext {
            now_ms: -1,
            query_start_ms: 0,
            query_end_ms: 0,
        };
        assert_eq!(call_with(&ctx, "now", &[]), n(-1.0));
    }

    #[test]
    fn parse_date_reads_java_patterns_as_epoch_ms() {
        let at = |text: &str| n(ms(text) as f64);
        assert_eq!(
            call("parseDate", &[s("2024-03-01"), s("yyyy-MM-dd")]),
            at("2024-03-01T00:00:00Z")
        );
        assert_eq!(
            call(
                "parseDate",
                &[s("2024-03-01T12:34:56.789Z"), s("yyyy-MM-dd'T'HH:mm:ss.SSSXXX")]
            ),
            at("2024-03-01T12:34:56.789Z")
        );
        assert_eq!(
            call(
                "parseDate",
                &[s("2024-03-01T12:34:56+02:00"), s("yyyy-MM-dd'T'HH:mm:ssXXX")]
            ),
            at("2024-03-01T10:34:56Z")
        );
        assert_eq!(
            call(
                "parseDate",
                &[s("01/Mar/2024:12:34:56 +0000"), s("dd/MMM/yyyy:HH:mm:ss Z")]
            ),
            at("2024-03-01T12:34:56Z")
        );
        assert_eq!(
            call("parseDate", &[s("03/01/24 01:05 PM"), s("MM/dd/yy hh:mm a")]),
            at("2024-03-01T13:05:00Z")
        );
        assert_eq!(
            call("parseDate", &[s("Friday, 1 March 2024"), s("EEEE, d MMMM yyyy")]),
            at("2024-03-01T00:00:00Z")
        );
        assert_eq!(
            call("parseDate", &[s("it's 2024"), s("'it''s' yyyy")]),
            at("2024-01-01T00:00:00Z")
        );
    }

    #[test]
    fn parse_date_applies_the_time_zone_argument() {
        let at = |text: &str| n(ms(text) as f64);
        let input = s("2024-03-01 12:00");
        let pattern = s("yyyy-MM-dd HH:mm");
        assert_eq!(
            call("parseDate", &[input.clone(), pattern.clone(), s("UTC")]),
            at("2024-03-01T12:00:00Z")
        );
        assert_eq!(
            call("parseDate", &[input.clone(), pattern.clone(), s("+05:00")]),
            at("2024-03-01T07:00:00Z")
        );
        assert_eq!(
            call("parseDate", &[input.clone(), pattern.clone(), s("-0800")]),
            at("2024-03-01T20:00:00Z")
        );
        assert_eq!(
            call("parseDate", &[input.clone(), pattern.clone(), s("Mars/Olympus")]),
            None
        );
        assert_eq!(call("parseDate", &[input, pattern, None]), None);
        // An offset in the text wins over the argument.
        assert_eq!(
            call(
                "parseDate",
                &[s("2024-03-01 12:00 Z"), s("yyyy-MM-dd HH:mm X"), s("+05:00")]
            ),
            at("2024-03-01T12:00:00Z")
        );
    }

    #[test]
    fn parse_date_reads_compact_and_fractional_patterns() {
        let at = |text: &str| n(ms(text) as f64);
        assert_eq!(
            call("parseDate", &[s("20240301"), s("yyyyMMdd")]),
            at("2024-03-01T00:00:00Z")
        );
        assert_eq!(
            call("parseDate", &[s("20240301123456"), s("yyyyMMddHHmmss")]),
            at("2024-03-01T12:34:56Z")
        );
        assert_eq!(
            call("parseDate", &[s("12:34:56.123456"), s("HH:mm:ss.SSSSSS")]),
            at("1970-01-01T12:34:56.123Z")
        );
        assert_eq!(
            call("parseDate", &[s("99-12-31"), s("yy-MM-dd")]),
            at("2099-12-31T00:00:00Z")
        );
        assert_eq!(
            call("parseDate", &[s("2024-3-1"), s("yyyy-M-d")]),
            at("2024-03-01T00:00:00Z")
        );
        assert_eq!(call("parseDate", &[s("12:00:00.1"), s("HH:mm:ss.S")]), None);
    }

    #[test]
    fn parse_date_rejects_mismatches_and_unknown_letters() {
        assert_eq!(call("parseDate", &[s("2024/03/01"), s("yyyy-MM-dd")]), None);
        assert_eq!(call("parseDate", &[s("2024-13-01"), s("yyyy-MM-dd")]), None);
        assert_eq!(call("parseDate", &[s("2024-03-01"), s("yyyy-MM-dd VV")]), None);
        assert_eq!(call("parseDate", &[s("2024-03-01"), s("yyyy-MM-dd 'open")]), None);
        assert_eq!(call("parseDate", &[None, s("yyyy")]), None);
    }

    #[test]
    fn format_date_uses_strftime_in_utc_or_the_given_offset() {
        let t = time("2024-03-01T12:34:56.789Z");
        assert_eq!(call("formatDate", &[t.clone(), s("%Y-%m-%d")]), s("2024-03-01"));
        assert_eq!(
            call("formatDate", &[t.clone(), s("%H:%M:%S%.3f")]),
            s("12:34:56.789")
        );
        assert_eq!(
            call("strftime", &[t.clone(), s("%Y-%m-%dT%H:%M")]),
            s("2024-03-01T12:34")
        );
        assert_eq!(
            call("formatDate", &[t.clone(), s("%H:%M %z"), s("+05:30")]),
            s("18:04 +0530")
        );
        assert_eq!(call("formatDate", &[n(0.0), s("%Y %b %a")]), s("1970 Jan Thu"));
        assert_eq!(call("formatDate", &[t.clone(), s("100%%")]), s("100%"));
        assert_eq!(call("formatDate", &[t, s("%Y"), s("nowhere")]), None);
    }

    #[test]
    fn format_date_with_bad_specifiers_is_no_value() {
        let t = time("2024-03-01T12:00:00Z");
        for bad in ["%", "%Q", "%Y-%", "%#z", "%E"] {
            assert_eq!(call("formatDate", &[t.clone(), s(bad)]), None, "{bad:?}");
        }
        assert_eq!(call("formatDate", &[Some(Value::Time(i64::MAX)), s("%Y")]), None);
    }
}

//! The time helpers skywatch needs in more than one place, written once.
//!
//! Design decision: where the path is cold (a command-line argument, a store file name, a
//! datum's timestamp) the work is chrono's; where it runs for every log line (a zone offset
//! inside a timestamp, the day number of a date) it is hand-written on bytes, here, and both
//! the query engine's timestamp scanner and the agent's line parser call the same code. What is
//! not here on purpose: the query language's `bin()` periods (calendar units, capped counts —
//! the language's own rules, in the query crate) and the display format of query results.

pub mod civil;
pub mod offset;

/// Milliseconds in each unit a duration may use: `s`, `m`, `h`, `d`, `w` (as `bin()` takes them).
const UNITS_MS: [(&str, i64); 5] = [
    ("s", 1_000),
    ("m", 60_000),
    ("h", 3_600_000),
    ("d", 86_400_000),
    ("w", 7 * 86_400_000),
];

/// Why a text is not a duration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DurationError {
    /// Digits without a unit (`15`).
    NoUnit { digits: String },
    /// A unit that is not `s`, `m`, `h`, `d` or `w`.
    UnknownUnit(String),
    /// More milliseconds than fit.
    TooLarge,
    /// Not digits and a unit at all.
    NotADuration,
}

/// A duration written as digits and a unit — `90s`, `15m`, `2h`, `7d`, `1w` — in milliseconds.
/// No sign, no spaces, no fraction.
pub fn parse_duration_ms(text: &str) -> Result<i64, DurationError> {
    let digits_end = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (digits, unit) = text.split_at(digits_end);
    if digits.is_empty() || !unit.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(DurationError::NotADuration);
    }
    if unit.is_empty() {
        return Err(DurationError::NoUnit {
            digits: digits.to_string(),
        });
    }
    let Some(&(_, unit_ms)) = UNITS_MS.iter().find(|(u, _)| *u == unit) else {
        return Err(DurationError::UnknownUnit(unit.to_string()));
    };
    digits
        .parse::<i64>()
        .ok()
        .and_then(|n| n.checked_mul(unit_ms))
        .ok_or(DurationError::TooLarge)
}

/// A point in time as users type it on a command line (`--start`, `--end`, `--since`):
/// RFC 3339, `now`, or a time ago — `15m`, `-2h`, `7d` (always in the past, with or without the
/// minus sign) — relative to `now_ms`. Returns epoch milliseconds, or a message that says what
/// was expected.
pub fn parse_time_arg(s: &str, now_ms: i64) -> Result<i64, String> {
    const EXPECTED: &str =
        "expected an RFC 3339 time (2024-06-01T10:30:00Z), \"now\", or a time ago such as 15m, -2h, -7d";
    let text = s.trim();
    if text.eq_ignore_ascii_case("now") {
        return Ok(now_ms);
    }
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    match parse_duration_ms(unsigned) {
        Ok(ago) => {
            return now_ms
                .checked_sub(ago)
                .ok_or_else(|| format!("invalid time {s:?}: too far in the past"));
        }
        Err(DurationError::NoUnit { digits }) => {
            return Err(format!(
                "invalid time {s:?}: a time ago needs a unit: {digits}s, {digits}m, {digits}h, {digits}d or {digits}w"
            ));
        }
        Err(DurationError::UnknownUnit(unit)) => {
            return Err(format!(
                "invalid time {s:?}: unknown unit {unit:?} (use s, m, h, d or w)"
            ));
        }
        Err(DurationError::TooLarge) => return Err(format!("invalid time {s:?}: too far in the past")),
        Err(DurationError::NotADuration) => {}
    }
    match chrono::DateTime::parse_from_rfc3339(text) {
        Ok(t) => Ok(t.timestamp_millis()),
        // Four digits and a dash: meant as a date, so say what is wrong with it. (By bytes:
        // the text may hold characters of any width.)
        Err(e)
            if text.len() > 4
                && text.as_bytes()[..4].iter().all(u8::is_ascii_digit)
                && text.as_bytes()[4] == b'-' =>
        {
            Err(format!(
                "invalid time {s:?}: not an RFC 3339 time ({e}); write it like 2024-06-01T10:30:00Z"
            ))
        }
        Err(_) => Err(format!("invalid time {s:?}: {EXPECTED}")),
    }
}

/// `2026-11-28T01:02:03.004Z` for epoch milliseconds (UTC); the epoch itself for a time chrono
/// cannot represent.
pub fn rfc3339_ms(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

/// Parses exactly what [`rfc3339_ms`] writes.
pub fn parse_rfc3339_ms(text: &str) -> Option<i64> {
    chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.3fZ")
        .ok()
        .map(|t| t.and_utc().timestamp_millis())
}

/// Any RFC 3339 time (`2024-06-01T10:30:00+02:00`, fractions of any length) as epoch ms.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.timestamp_millis())
}

/// An RFC 3339 time as [`parse_rfc3339`] reads it, or a bare date (`2024-03-01`, midnight UTC).
pub fn parse_rfc3339_or_date(text: &str) -> Option<i64> {
    let text = text.trim();
    parse_rfc3339(text).or_else(|| {
        let date = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
        Some(date.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis())
    })
}

#[cfg(test)]
mod tests {
    use super::{parse_duration_ms, parse_rfc3339, parse_time_arg, DurationError};

    const NOW_MS: i64 = 1_717_237_800_000; // 2024-06-01T10:30:00Z

    #[test]
    fn time_args_accept_rfc3339_now_and_times_ago() {
        assert_eq!(parse_time_arg("now", NOW_MS), Ok(NOW_MS));
        assert_eq!(parse_time_arg(" NOW ", NOW_MS), Ok(NOW_MS));
        assert_eq!(parse_time_arg("2024-06-01T10:30:00Z", 0), Ok(1_717_237_800_000));
        assert_eq!(
            parse_time_arg("2024-06-01T12:30:00.5+02:00", 0),
            Ok(1_717_237_800_500)
        );
        assert_eq!(parse_time_arg("-2h", NOW_MS), Ok(NOW_MS - 7_200_000));
        assert_eq!(parse_time_arg("15m", NOW_MS), Ok(NOW_MS - 900_000));
        assert_eq!(parse_time_arg("-30s", NOW_MS), Ok(NOW_MS - 30_000));
        assert_eq!(parse_time_arg("-7d", NOW_MS), Ok(NOW_MS - 604_800_000));
        assert_eq!(parse_time_arg("0m", NOW_MS), Ok(NOW_MS));
    }

    #[test]
    fn bad_time_args_say_what_is_expected() {
        let expected =
            "expected an RFC 3339 time (2024-06-01T10:30:00Z), \"now\", or a time ago such as 15m, -2h, -7d";
        assert_eq!(
            parse_time_arg("yesterday", NOW_MS),
            Err(format!("invalid time \"yesterday\": {expected}"))
        );
        assert_eq!(
            parse_time_arg("", NOW_MS),
            Err(format!("invalid time \"\": {expected}"))
        );
        assert_eq!(
            parse_time_arg("+2h", NOW_MS),
            Err(format!("invalid time \"+2h\": {expected}"))
        );
        // `--since 1w` works as `bin(1w)` does (it used to be refused).
        assert_eq!(parse_time_arg("-2w", NOW_MS), Ok(NOW_MS - 1_209_600_000));
        assert_eq!(
            parse_time_arg("-2y", NOW_MS),
            Err("invalid time \"-2y\": unknown unit \"y\" (use s, m, h, d or w)".to_string())
        );
        assert_eq!(
            parse_time_arg("15", NOW_MS),
            Err("invalid time \"15\": a time ago needs a unit: 15s, 15m, 15h, 15d or 15w".to_string())
        );
        assert_eq!(
            parse_time_arg("99999999999999999d", NOW_MS),
            Err("invalid time \"99999999999999999d\": too far in the past".to_string())
        );
        assert_eq!(
            parse_time_arg("2024-13-01T00:00:00Z", NOW_MS),
            Err(
                "invalid time \"2024-13-01T00:00:00Z\": not an RFC 3339 time (input is out of range); \
                 write it like 2024-06-01T10:30:00Z"
                    .to_string()
            )
        );
        assert_eq!(
            parse_time_arg("2024-06-01", NOW_MS),
            Err(
                "invalid time \"2024-06-01\": not an RFC 3339 time (premature end of input); \
                 write it like 2024-06-01T10:30:00Z"
                    .to_string()
            )
        );
    }

    #[test]
    fn durations_take_digits_and_one_unit() {
        assert_eq!(parse_duration_ms("90s"), Ok(90_000));
        assert_eq!(parse_duration_ms("15m"), Ok(900_000));
        assert_eq!(parse_duration_ms("2d"), Ok(172_800_000));
        assert_eq!(
            parse_duration_ms("15"),
            Err(DurationError::NoUnit { digits: "15".into() })
        );
        assert_eq!(parse_duration_ms("1w"), Ok(604_800_000));
        assert_eq!(
            parse_duration_ms("1y"),
            Err(DurationError::UnknownUnit("y".into()))
        );
        assert_eq!(
            parse_duration_ms("99999999999999999d"),
            Err(DurationError::TooLarge)
        );
        for bad in ["", "-2h", "h", "1.5h", " 1h", "1h ", "2€"] {
            assert_eq!(
                parse_duration_ms(bad),
                Err(DurationError::NotADuration),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn time_arguments_with_wide_characters_are_refused_not_a_panic() {
        // Regression: `logq --start 'ab€'` sliced the text at byte 4, inside the euro sign.
        for text in ["ab€", "12€", "-a€", "2024€", "€€€€€"] {
            let err = parse_time_arg(text, 0).unwrap_err();
            assert!(err.starts_with("invalid time"), "{text}: {err}");
        }
        assert_eq!(parse_time_arg("-15m", 1_000_000), Ok(100_000));
        assert_eq!(parse_rfc3339("2024-06-01T10:30:00Z"), Some(1_717_237_800_000));
    }
}

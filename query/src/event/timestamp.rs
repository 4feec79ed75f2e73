//! Event timestamps: from a JSON field's value, from the start of a text line, or with a format
//! the user gave.
//!
//! The common forms (ISO 8601 / RFC 3339, Common Log Format, syslog, epoch numbers) are parsed by
//! hand: they run once per line, and a generic strftime parser costs several times more. chrono
//! is only used for user-given formats. Every function returns `None` on input it does not
//! recognise; none panics.

use chrono::format::{parse_and_remainder, Item, Parsed, StrftimeItems};
use chrono::Datelike;
use skywatch_time::civil::days_from_civil;
use skywatch_time::offset::offset_after_sign;

use crate::value::Value;

/// The flattened JSON fields tried, in order, for `@timestamp`; the first that holds a timestamp
/// ([`parse_timestamp_value`]) wins. A logged `@timestamp` key is flattened to `@@timestamp`
/// like every other `@` key, so that is the name listed here: a caller adds these names to its
/// [`super::Wanted`] set and finds the value among the emitted fields.
pub const TIMESTAMP_KEYS: &[&str] = &["@@timestamp", "timestamp", "time", "ts"];

/// Where the CLF `[` may appear: nginx and apache lines start with the client address (and
/// optionally a virtual host), so the bracket is never far in.
const CLF_SEARCH_BYTES: usize = 256;

/// A JSON field's value (or `--timestamp-field`'s) as epoch milliseconds UTC.
///
/// Accepted, as a string or a number:
/// * ISO 8601 / RFC 3339: `2024-03-01T12:00:00Z`, `2024-03-01T12:00:00.123+02:00`,
///   `2024-03-01 12:00:00,5` — seconds required, `T`, `t` or a space between date and time,
///   fraction with `.` or `,` (digits past milliseconds are truncated), zone `Z`, `±HH:MM`,
///   `±HHMM` or `±HH`, no zone = UTC;
/// * epoch seconds: 10 integer digits, optional fraction (`1709294400.25`);
/// * epoch milliseconds: 13 integer digits (a fraction is truncated).
///
/// Other digit counts are not taken for epoch numbers (they are more often ids or counters), and
/// dates without a time are not timestamps. [`Value::Time`] is returned as it is.
pub fn parse_timestamp_value(v: &Value) -> Option<i64> {
    match v {
        Value::Time(ms) => Some(*ms),
        Value::Num(n) => epoch_from_number(*n),
        Value::Str(s) => parse_timestamp_text(s),
        Value::Bool(_) | Value::List(_) | Value::Map(_) => None,
    }
}

/// [`parse_timestamp_value`] for text: the whole string (surrounding whitespace allowed) must be
/// the timestamp.
pub fn parse_timestamp_text(s: &str) -> Option<i64> {
    let b = s.trim().as_bytes();
    if let Some((ms, end)) = epoch_prefix(b, 0) {
        return (end == b.len()).then_some(ms);
    }
    let iso = parse_iso(b, 0)?;
    (iso.end == b.len()).then_some(iso.ms)
}

fn epoch_from_number(n: f64) -> Option<i64> {
    if !n.is_finite() || n < 0.0 {
        return None;
    }
    if (1e9..1e10).contains(&n) {
        // Round to whole microseconds first: 1709294400.123 is 1709294400.1229999… in binary.
        let micros = (n * 1e6).round() as i64;
        Some(micros.div_euclid(1000))
    } else if (1e12..1e13).contains(&n) {
        Some(n.floor() as i64)
    } else {
        None
    }
}

/// A timestamp at the start of a text line, after optional spaces and tabs, as epoch
/// milliseconds UTC:
/// * ISO 8601 as in [`parse_timestamp_value`] (`2024-03-01 12:00:00,123 INFO …` too);
/// * epoch seconds (10 digits, optional fraction) or milliseconds (13 digits);
/// * syslog `Oct 11 22:14:15` / `Oct  1 22:14:15`, in UTC, in the year `year_hint`;
/// * failing those, CLF `[10/Oct/2000:13:55:36 -0700]` with its `[` in the first 256 bytes.
///
/// A timestamp at the line start must end at a non-alphanumeric byte (or the line end), so
/// `1709294400123abc` is no timestamp.
pub fn leading_timestamp(line: &str, year_hint: i32) -> Option<i64> {
    let b = line.as_bytes();
    let i = skip_blanks(b, 0);
    let at_start = match b.get(i) {
        Some(c) if c.is_ascii_digit() => parse_iso(b, i)
            .map(|iso| (iso.ms, iso.end))
            .or_else(|| epoch_prefix(b, i)),
        Some(c) if c.is_ascii_uppercase() => parse_syslog(b, i, year_hint),
        _ => None,
    };
    if let Some((ms, end)) = at_start {
        if !b.get(end).is_some_and(u8::is_ascii_alphanumeric) {
            return Some(ms);
        }
    }
    find_clf(b)
}

/// Parses `YYYY-MM-DD[T ]HH:MM:SS[.frac][zone]` starting at `i`.
pub(crate) fn parse_iso(b: &[u8], i: usize) -> Option<Iso> {
    let year = digits_at(b, i, 4)?;
    if b.get(i + 4) != Some(&b'-') || b.get(i + 7) != Some(&b'-') {
        return None;
    }
    let month = digits_at(b, i + 5, 2)?;
    let day = digits_at(b, i + 8, 2)?;
    let t_separator = match b.get(i + 10)? {
        b'T' | b't' => true,
        b' ' => false,
        _ => return None,
    };
    let (seconds_of_day, mut j) = parse_hms(b, i + 11)?;
    let (millis, after_fraction) = parse_fraction(b, j, b".,");
    j = after_fraction;
    let mut offset_secs = 0i64;
    let mut zoned = false;
    match b.get(j) {
        Some(b'Z' | b'z') => {
            zoned = true;
            j += 1;
        }
        Some(&sign @ (b'+' | b'-')) => {
            if let Some((offset, end)) = offset_after_sign(b, j + 1) {
                offset_secs = if sign == b'-' { -offset } else { offset };
                zoned = true;
                j = end;
            }
        }
        _ => {}
    }
    let days = days_from_civil(year, month, day)?;
    Some(Iso {
        ms: (days * 86_400 + seconds_of_day - offset_secs) * 1000 + millis,
        end: j,
        t_separator,
        zoned,
    })
}

/// A parsed ISO 8601 timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Iso {
    pub ms: i64,
    /// Index after the timestamp.
    pub end: usize,
    /// Whether date and time were separated by `T` (not a space).
    pub t_separator: bool,
    /// Whether a zone (`Z` or an offset) was given.
    pub zoned: bool,
}

/// `HH:MM:SS` at `i` → (seconds of the day, index after). Second 60 (a leap second) is allowed
/// and counts into the next minute.
fn parse_hms(b: &[u8], i: usize) -> Option<(i64, usize)> {
    let hour = digits_at(b, i, 2)?;
    let minute = digits_at(b, i + 3, 2)?;
    let second = digits_at(b, i + 6, 2)?;
    if b.get(i + 2) != Some(&b':') || b.get(i + 5) != Some(&b':') {
        return None;
    }
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    Some((hour * 3600 + minute * 60 + second, i + 8))
}

/// An optional fraction of a second at `i` (a separator from `separators`, then digits) →
/// (milliseconds, truncated; index after). A separator without a digit is not a fraction.
fn parse_fraction(b: &[u8], i: usize, separators: &[u8]) -> (i64, usize) {
    match b.get(i) {
        Some(c) if separators.contains(c) && b.get(i + 1).is_some_and(u8::is_ascii_digit) => {}
        _ => return (0, i),
    }
    let mut j = i + 1;
    let mut millis = 0i64;
    let mut scale = 100;
    while let Some(&d) = b.get(j).filter(|d| d.is_ascii_digit()) {
        millis += i64::from(d - b'0') * scale;
        scale /= 10;
        j += 1;
    }
    (millis, j)
}

/// Epoch seconds (10 digits, optional `.fraction`) or milliseconds (13 digits, a fraction is
/// skipped) at `i` → (ms, index after).
fn epoch_prefix(b: &[u8], i: usize) -> Option<(i64, usize)> {
    let mut j = i;
    let mut n = 0i64;
    while let Some(&d) = b.get(j).filter(|d| d.is_ascii_digit()) {
        if j - i == 13 {
            return None;
        }
        n = n * 10 + i64::from(d - b'0');
        j += 1;
    }
    match j - i {
        10 => {
            let (millis, end) = parse_fraction(b, j, b".");
            Some((n * 1000 + millis, end))
        }
        13 => {
            let (_, end) = parse_fraction(b, j, b".");
            Some((n, end))
        }
        _ => None,
    }
}

/// Syslog (RFC 3164) `Mmm dd HH:MM:SS`, day space- or zero-padded, at `i` → (ms, index after).
fn parse_syslog(b: &[u8], i: usize, year: i32) -> Option<(i64, usize)> {
    let month = month_number(b.get(i..i + 3)?)?;
    if b.get(i + 3) != Some(&b' ') {
        return None;
    }
    let day = match (b.get(i + 4)?, b.get(i + 5)?) {
        (b' ', d) if d.is_ascii_digit() => i64::from(d - b'0'),
        _ => digits_at(b, i + 4, 2)?,
    };
    if b.get(i + 6) != Some(&b' ') {
        return None;
    }
    let (seconds_of_day, j) = parse_hms(b, i + 7)?;
    let (millis, end) = parse_fraction(b, j, b".");
    let days = days_from_civil(i64::from(year), month, day)?;
    Some(((days * 86_400 + seconds_of_day) * 1000 + millis, end))
}

/// The first CLF timestamp `[dd/Mon/yyyy:HH:MM:SS ±hhmm]` whose `[` is in the first 256 bytes.
fn find_clf(b: &[u8]) -> Option<i64> {
    let head = b.get(..CLF_SEARCH_BYTES.min(b.len()))?;
    memchr::memchr_iter(b'[', head).find_map(|open| {
        let (ms, end) = parse_clf(b, open + 1)?;
        (b.get(end) == Some(&b']')).then_some(ms)
    })
}

/// CLF `dd/Mon/yyyy:HH:MM:SS ±hhmm` (without brackets) at `i` → (ms, index after).
fn parse_clf(b: &[u8], i: usize) -> Option<(i64, usize)> {
    let day = digits_at(b, i, 2)?;
    let month = month_number(b.get(i + 3..i + 6)?)?;
    let year = digits_at(b, i + 7, 4)?;
    if b.get(i + 2) != Some(&b'/') || b.get(i + 6) != Some(&b'/') || b.get(i + 11) != Some(&b':') {
        return None;
    }
    let (seconds_of_day, j) = parse_hms(b, i + 12)?;
    let (millis, j) = parse_fraction(b, j, b".");
    if b.get(j) != Some(&b' ') {
        return None;
    }
    let sign = match b.get(j + 1)? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let hours = digits_at(b, j + 2, 2)?;
    let minutes = digits_at(b, j + 4, 2)?;
    if hours > 23 || minutes > 59 {
        return None;
    }
    let offset = sign * (hours * 3600 + minutes * 60);
    let days = days_from_civil(year, month, day)?;
    Some(((days * 86_400 + seconds_of_day - offset) * 1000 + millis, j + 6))
}

fn month_number(name: &[u8]) -> Option<i64> {
    Some(match name {
        b"Jan" => 1,
        b"Feb" => 2,
        b"Mar" => 3,
        b"Apr" => 4,
        b"May" => 5,
        b"Jun" => 6,
        b"Jul" => 7,
        b"Aug" => 8,
        b"Sep" => 9,
        b"Oct" => 10,
        b"Nov" => 11,
        b"Dec" => 12,
        _ => return None,
    })
}

fn skip_blanks(b: &[u8], mut i: usize) -> usize {
    while let Some(b' ' | b'\t') = b.get(i) {
        i += 1;
    }
    i
}

/// Exactly `n` ASCII digits at `i` as a number.
fn digits_at(b: &[u8], i: usize, n: usize) -> Option<i64> {
    b.get(i..i + n)?.iter().try_fold(0i64, |acc, &d| {
        d.is_ascii_digit().then(|| acc * 10 + i64::from(d - b'0'))
    })
}

/// A user-given strftime format (`--timestamp-format`, e.g. `%d/%b/%Y:%H:%M:%S %z`), in chrono's
/// dialect.
///
/// [`TimestampFormat::parse`] looks for the timestamp at the start of the text (after spaces),
/// then after each `[` in the first 256 bytes (CLF-style lines put it there); text after the
/// timestamp is ignored. Without a zone in the format the time is UTC; without a year, the
/// default year ([`TimestampFormat::with_default_year`], else the current UTC year).
///
/// The CLF format and the ISO 8601 formats `%Y-%m-%dT%H:%M:%S%.fZ`, `%Y-%m-%dT%H:%M:%S%.3fZ`,
/// `%Y-%m-%dT%H:%M:%SZ` and `%+` use the hand-written parsers, which also accept an optional
/// fraction and any zone.
#[derive(Debug, Clone)]
pub struct TimestampFormat {
    kind: FormatKind,
    default_year: i32,
}

#[derive(Debug, Clone)]
enum FormatKind {
    Clf,
    IsoWithZone,
    Strftime(Vec<Item<'static>>),
}

impl TimestampFormat {
    /// Compiles `fmt`; fails if it is not a valid format or cannot describe a full date and time
    /// (checked by formatting a sample time and parsing it back).
    pub fn new(fmt: &str) -> Result<TimestampFormat, String> {
        let kind = match fmt {
            "" => return Err("the timestamp format is empty".to_string()),
            "%d/%b/%Y:%H:%M:%S %z" => FormatKind::Clf,
            "%Y-%m-%dT%H:%M:%S%.fZ" | "%Y-%m-%dT%H:%M:%S%.3fZ" | "%Y-%m-%dT%H:%M:%SZ" | "%+" => {
                FormatKind::IsoWithZone
            }
            _ => FormatKind::Strftime(
                StrftimeItems::new(fmt)
                    .parse_to_owned()
                    .map_err(|e| format!("invalid timestamp format {fmt:?}: {e}"))?,
            ),
        };
        let format = TimestampFormat {
            kind,
            default_year: chrono::Utc::now().year(),
        };
        if let FormatKind::Strftime(items) = &format.kind {
            let sample = chrono::DateTime::from_timestamp(1_700_000_000, 0)
                .ok_or("sample time out of range")?
                .with_year(format.default_year)
                .ok_or("sample time out of range")?;
            let text = sample.format_with_items(items.iter()).to_string();
            if format.parse(&text).is_none() {
                return Err(format!(
                    "timestamp format {fmt:?} does not describe a date and time (it formats a sample as {text:?} and cannot read that back)"
                ));
            }
        }
        Ok(format)
    }

    /// The year for formats without one (syslog-style `%b %d %H:%M:%S`).
    #[must_use]
    pub fn with_default_year(mut self, year: i32) -> TimestampFormat {
        self.default_year = year;
        self
    }

    /// The timestamp in `s` as epoch milliseconds UTC, or `None`.
    pub fn parse(&self, s: &str) -> Option<i64> {
        let b = s.as_bytes();
        if let Some(ms) = self.parse_at(s, skip_blanks(b, 0)) {
            return Some(ms);
        }
        let head = b.get(..CLF_SEARCH_BYTES.min(b.len()))?;
        memchr::memchr_iter(b'[', head).find_map(|open| self.parse_at(s, open + 1))
    }

    /// [`TimestampFormat::parse`] on a value's text.
    pub fn parse_value(&self, v: &Value) -> Option<i64> {
        match v {
            Value::Time(ms) => Some(*ms),
            other => self.parse(&other.as_text()?),
        }
    }

    fn parse_at(&self, s: &str, i: usize) -> Option<i64> {
        let b = s.as_bytes();
        match &self.kind {
            FormatKind::Clf => parse_clf(b, i).map(|(ms, _)| ms),
            FormatKind::IsoWithZone => parse_iso(b, i)
                .filter(|iso| iso.t_separator && iso.zoned)
                .map(|iso| iso.ms),
            FormatKind::Strftime(items) => {
                let mut parsed = Parsed::new();
                parse_and_remainder(&mut parsed, s.get(i..)?, items.iter()).ok()?;
                if parsed.year().is_none()
                    && parsed.year_mod_100().is_none()
                    && parsed.isoyear().is_none()
                    && parsed.timestamp().is_none()
                {
                    parsed.set_year(i64::from(self.default_year)).ok()?;
                }
                if parsed.offset().is_some() {
                    Some(parsed.to_datetime().ok()?.timestamp_millis())
                } else {
                    Some(
                        parsed
                            .to_naive_datetime_with_offset(0)
                            .ok()?
                            .and_utc()
                            .timestamp_millis(),
                    )
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};

    use super::{leading_timestamp, parse_timestamp_value, TimestampFormat, TIMESTAMP_KEYS};
    use crate::value::Value;

    const MAR_1_2024: i64 = 1_709_251_200_000;

    fn text(s: &str) -> Option<i64> {
        parse_timestamp_value(&Value::str(s))
    }

    #[test]
    fn iso_8601_with_zone_fraction_and_offsets() {
        assert_eq!(text("2024-03-01T00:00:00Z"), Some(MAR_1_2024));
        assert_eq!(text("2024-03-01T12:34:56.789Z"), Some(1_709_296_496_789));
        assert_eq!(text("2024-03-01t12:34:56.789z"), Some(1_709_296_496_789));
        assert_eq!(text("2024-03-01T12:34:56.789+02:00"), Some(1_709_289_296_789));
        assert_eq!(text("2024-03-01T12:34:56.789+0200"), Some(1_709_289_296_789));
        assert_eq!(text("2024-03-01T12:34:56.789+02"), Some(1_709_289_296_789));
        assert_eq!(text("2024-03-01T12:34:56-05:30"), Some(1_709_316_296_000));
        assert_eq!(text("2024-03-01T12:34:56,789Z"), Some(1_709_296_496_789));
        assert_eq!(text("2024-03-01T12:34:56.5Z"), Some(1_709_296_496_500));
        assert_eq!(text("2024-03-01T12:34:56.789999999Z"), Some(1_709_296_496_789));
        assert_eq!(text(" 2024-03-01T00:00:00Z\n"), Some(MAR_1_2024));
    }

    #[test]
    fn iso_8601_without_zone_is_utc_and_a_space_may_separate_date_and_time() {
        assert_eq!(text("2024-03-01T12:34:56.789"), Some(1_709_296_496_789));
        assert_eq!(text("2024-03-01 12:34:56.789"), Some(1_709_296_496_789));
        assert_eq!(text("2024-03-01 12:34:56"), Some(1_709_296_496_000));
    }

    #[test]
    fn dates_at_the_edges_of_the_calendar() {
        assert_eq!(text("2024-02-29T23:59:59.999Z"), Some(MAR_1_2024 - 1));
        assert_eq!(text("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(text("1969-12-31T23:59:59Z"), Some(-1000));
        assert_eq!(text("0001-01-01T00:00:00Z"), Some(-62_135_596_800_000));
        assert_eq!(text("9999-12-31T23:59:59.999Z"), Some(253_402_300_799_999));
        // A leap second counts into the next minute.
        assert_eq!(text("2016-12-31T23:59:60Z"), Some(1_483_228_800_000));
    }

    #[test]
    fn impossible_or_partial_dates_are_not_timestamps() {
        for s in [
            "2024-03-01",
            "2024-03-01T12:34Z",
            "2024-13-01T00:00:00Z",
            "2024-00-01T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "2024-04-31T00:00:00Z",
            "2024-03-01T24:00:00Z",
            "2024-03-01T12:60:00Z",
            "2024-03-01T12:00:61Z",
            "2024-03-01T12:00:00+25:00",
            "2024-03-01T12:00:00Zjunk",
            "2024-03-01X12:00:00Z",
            "24-03-01T12:00:00Z",
            "2024/03/01 12:00:00",
            "",
            "now",
        ] {
            assert_eq!(text(s), None, "{s}");
        }
    }

    #[test]
    fn epoch_seconds_and_milliseconds_as_strings_and_numbers() {
        assert_eq!(text("1709251200"), Some(MAR_1_2024));
        assert_eq!(text("1709251200.123"), Some(MAR_1_2024 + 123));
        assert_eq!(text("1709251200.1239"), Some(MAR_1_2024 + 123));
        assert_eq!(text("1709251200123"), Some(MAR_1_2024 + 123));
        assert_eq!(text("1709251200123.9"), Some(MAR_1_2024 + 123));
        assert_eq!(
            parse_timestamp_value(&Value::Num(1_709_251_200.0)),
            Some(MAR_1_2024)
        );
        assert_eq!(
            parse_timestamp_value(&Value::Num(1_709_251_200.123)),
            Some(MAR_1_2024 + 123)
        );
        assert_eq!(
            parse_timestamp_value(&Value::Num(1_709_251_200_123.0)),
            Some(MAR_1_2024 + 123)
        );
        assert_eq!(parse_timestamp_value(&Value::Time(5)), Some(5));
    }

    #[test]
    fn other_digit_counts_and_other_values_are_not_epoch_times() {
        for s in [
            "170925120",
            "17092512001",
            "170925120012",
            "17092512001234",
            "1709251200.",
            "-1709251200",
        ] {
            assert_eq!(text(s), None, "{s}");
        }
        for v in [
            Value::Num(42.0),
            Value::Num(-1_709_251_200.0),
            Value::Num(f64::NAN),
            Value::Num(f64::INFINITY),
            Value::Bool(true),
            Value::List(std::sync::Arc::new(vec![])),
        ] {
            assert_eq!(parse_timestamp_value(&v), None, "{v:?}");
        }
    }

    #[test]
    fn timestamp_keys_are_flattened_names_in_priority_order() {
        assert_eq!(TIMESTAMP_KEYS, &["@@timestamp", "timestamp", "time", "ts"]);
    }

    #[test]
    fn leading_iso_timestamps_in_text_lines() {
        assert_eq!(
            leading_timestamp("2024-03-01T00:00:01.234Z INFO started", 2024),
            Some(MAR_1_2024 + 1234)
        );
        assert_eq!(
            leading_timestamp("2024-03-01 00:00:01,234 INFO [main] python logging", 2024),
            Some(MAR_1_2024 + 1234)
        );
        assert_eq!(
            leading_timestamp(
                " \t2024-03-01T00:00:01.234Z\t8f14e45f-ceea-467f-a8b3-1c2d3e4f5a6b\tINFO\tx",
                2024
            ),
            Some(MAR_1_2024 + 1234)
        );
        assert_eq!(
            leading_timestamp("2024-03-01T00:00:00+01:00: x", 2024),
            Some(MAR_1_2024 - 3_600_000)
        );
        assert_eq!(leading_timestamp("2024-03-01T00:00:00", 2024), Some(MAR_1_2024));
        assert_eq!(leading_timestamp("2024-03-01T00:00:00Zulu", 2024), None);
        assert_eq!(leading_timestamp("2024-02-30T00:00:00Z x", 2024), None);
    }

    #[test]
    fn leading_epoch_numbers_in_text_lines() {
        assert_eq!(leading_timestamp("1709251200 message", 2024), Some(MAR_1_2024));
        assert_eq!(
            leading_timestamp("1709251200.5 message", 2024),
            Some(MAR_1_2024 + 500)
        );
        assert_eq!(
            leading_timestamp("1709251200123,worker=3", 2024),
            Some(MAR_1_2024 + 123)
        );
        assert_eq!(leading_timestamp("1709251200123abc", 2024), None);
        assert_eq!(leading_timestamp("12345 items", 2024), None);
        assert_eq!(leading_timestamp("17092512001234 x", 2024), None);
    }

    #[test]
    fn syslog_timestamps_use_the_year_hint() {
        assert_eq!(
            leading_timestamp("Oct 11 22:14:15 host sshd[42]: ok", 2024),
            Some(1_728_684_855_000)
        );
        assert_eq!(
            leading_timestamp("Oct  1 22:14:15 host x", 2024),
            Some(1_727_820_855_000)
        );
        assert_eq!(
            leading_timestamp("Oct 01 22:14:15 host x", 2024),
            Some(1_727_820_855_000)
        );
        assert_eq!(leading_timestamp("Feb 29 00:00:00 host x", 2023), None);
        assert_eq!(leading_timestamp("Oct 11 2024 host", 2024), None);
        assert_eq!(leading_timestamp("Oct 11 22:14:15host", 2024), None);
        assert_eq!(leading_timestamp("Foo 11 22:14:15 host", 2024), None);
    }

    #[test]
    fn clf_timestamps_near_the_start_of_the_line() {
        let nginx =
            r#"203.0.113.42 - frank [10/Oct/2000:13:55:36 -0700] "GET /a.gif HTTP/1.0" 200 2326 "-" "curl""#;
        assert_eq!(leading_timestamp(nginx, 2024), Some(971_211_336_000));
        assert_eq!(
            leading_timestamp("host [not a time] [10/Oct/2000:20:55:36 +0000] x", 2024),
            Some(971_211_336_000)
        );
        assert_eq!(
            leading_timestamp("[10/Oct/2000:13:55:36.250 -0700]", 2024),
            Some(971_211_336_250)
        );
        let far = format!("{} [10/Oct/2000:13:55:36 -0700]", "x".repeat(260));
        assert_eq!(leading_timestamp(&far, 2024), None);
        assert_eq!(
            leading_timestamp("h - - [10/Oct/2000:13:55:36 -0700 x", 2024),
            None
        );
        assert_eq!(
            leading_timestamp("h - - [10/Foo/2000:13:55:36 -0700]", 2024),
            None
        );
        assert_eq!(
            leading_timestamp("h - - [31/Sep/2000:13:55:36 -0700]", 2024),
            None
        );
    }

    #[test]
    fn lines_without_a_timestamp() {
        for line in [
            "",
            "   ",
            "START RequestId: x",
            "{\"a\":1}",
            "é2024-03-01T00:00:00Z",
            "[",
            "2024-",
        ] {
            assert_eq!(leading_timestamp(line, 2024), None, "{line:?}");
        }
    }

    #[test]
    fn iso_text_round_trips_for_random_times_and_offsets() {
        let mut state = 0x1234_5678_u64;
        for _ in 0..20_000 {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let ms = (state >> 11) as i64 % 253_402_300_800_000 - 62_135_596_800_000;
            let offset_minutes = (state % (2 * 14 * 60 + 1)) as i32 - 14 * 60;
            let zone = chrono::FixedOffset::east_opt(offset_minutes * 60).unwrap();
            let t = DateTime::<Utc>::from_timestamp_millis(ms)
                .unwrap()
                .with_timezone(&zone);
            for form in [
                "%Y-%m-%dT%H:%M:%S%.3f%:z",
                "%Y-%m-%d %H:%M:%S%.3f%z",
                "%Y-%m-%dT%H:%M:%S%.9f%:z",
            ] {
                let s = t.format(form).to_string();
                assert_eq!(text(&s), Some(ms), "{s}");
                assert_eq!(leading_timestamp(&format!("{s} message"), 2024), Some(ms), "{s}");
            }
            let utc = t.with_timezone(&Utc).format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
            assert_eq!(text(&utc), Some(ms), "{utc}");
        }
    }

    #[test]
    fn arbitrary_text_never_panics() {
        const PIECES: &[&str] = &[
            "2024",
            "-",
            "03",
            "01",
            "T",
            " ",
            ":",
            "12",
            "60",
            ".",
            ",",
            "Z",
            "+",
            "99",
            "[",
            "]",
            "/",
            "Oct",
            "1709251200",
            "123",
            "é",
            "\t",
            "9",
        ];
        let format = TimestampFormat::new("%d/%b/%Y:%H:%M:%S %z").unwrap();
        let chrono_format = TimestampFormat::new("%Y-%m-%d %H:%M:%S").unwrap();
        let mut state = 7u64;
        for _ in 0..50_000 {
            let mut s = String::new();
            for _ in 0..(state % 12) {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                s.push_str(PIECES[(state >> 33) as usize % PIECES.len()]);
            }
            state = state.wrapping_add(1);
            let _ = text(&s);
            let _ = leading_timestamp(&s, 2024);
            let _ = format.parse(&s);
            let _ = chrono_format.parse(&s);
        }
    }

    #[test]
    fn clf_format_uses_the_fast_path_and_finds_the_bracket() {
        let format = TimestampFormat::new("%d/%b/%Y:%H:%M:%S %z").unwrap();
        assert_eq!(format.parse("10/Oct/2000:13:55:36 -0700"), Some(971_211_336_000));
        assert_eq!(
            format.parse(r#"203.0.113.42 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1""#),
            Some(971_211_336_000)
        );
        assert_eq!(format.parse("no time here"), None);
    }

    #[test]
    fn iso_formats_use_the_fast_path_but_keep_their_separator_and_zone() {
        let format = TimestampFormat::new("%Y-%m-%dT%H:%M:%S%.fZ").unwrap();
        assert_eq!(
            format.parse("2024-03-01T12:34:56.789Z rest"),
            Some(1_709_296_496_789)
        );
        assert_eq!(format.parse("2024-03-01T12:34:56Z"), Some(1_709_296_496_000));
        assert_eq!(format.parse("2024-03-01 12:34:56.789Z"), None);
        assert_eq!(format.parse("2024-03-01T12:34:56.789"), None);
    }

    #[test]
    fn strftime_formats_with_and_without_zone() {
        let utc = TimestampFormat::new("%Y/%m/%d %H:%M:%S").unwrap();
        assert_eq!(utc.parse("2024/03/01 12:34:56 GET /"), Some(1_709_296_496_000));
        assert_eq!(utc.parse("[2024/03/01 12:34:56] GET /"), Some(1_709_296_496_000));
        assert_eq!(utc.parse("GET / 2024/03/01 12:34:56"), None);
        let zoned = TimestampFormat::new("%d.%m.%Y %H:%M:%S %z").unwrap();
        assert_eq!(
            zoned.parse("01.03.2024 12:34:56 +0200 x"),
            Some(1_709_289_296_000)
        );
        let epoch = TimestampFormat::new("%s").unwrap();
        assert_eq!(epoch.parse("1709251200 x"), Some(MAR_1_2024));
        assert_eq!(epoch.parse_value(&Value::Num(1_709_251_200.0)), Some(MAR_1_2024));
        assert_eq!(epoch.parse_value(&Value::Time(7)), Some(7));
    }

    #[test]
    fn strftime_formats_without_a_year_use_the_default_year() {
        let syslog = TimestampFormat::new("%b %d %H:%M:%S")
            .unwrap()
            .with_default_year(2024);
        assert_eq!(syslog.parse("Oct 11 22:14:15 host x"), Some(1_728_684_855_000));
        let two_digit = TimestampFormat::new("%y%m%d %H:%M:%S")
            .unwrap()
            .with_default_year(1990);
        assert_eq!(two_digit.parse("240301 00:00:00"), Some(MAR_1_2024));
    }

    #[test]
    fn formats_that_cannot_describe_a_time_are_rejected() {
        assert_eq!(
            TimestampFormat::new("").unwrap_err(),
            "the timestamp format is empty"
        );
        assert!(TimestampFormat::new("%Q")
            .unwrap_err()
            .starts_with("invalid timestamp format \"%Q\": "));
        assert_eq!(
            TimestampFormat::new("%H:%M").unwrap_err(),
            "timestamp format \"%H:%M\" does not describe a date and time (it formats a sample as \"22:13\" and cannot read that back)"
        );
        assert!(TimestampFormat::new("%Y").is_err());
    }
}

//! The value model. Logs Insights fields are strings at the API boundary; inside the engine a value
//! keeps the type it was born with (a JSON number, an arithmetic result, a timestamp) and converts
//! lazily: a string that is a number value compares and computes as a number.
//!
//! A missing field (or JSON `null`) is not a value: it is `None` wherever an `Option<Value>` is
//! passed, and it is absent from result rows.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

/// Texts up to this long are kept inside the value.
const INLINE_TEXT_BYTES: usize = 22;

/// A string value's text. Short texts (most field values: levels, ids, methods, status codes)
/// are kept inline, so making, copying and dropping one touches no allocator and no shared
/// counter; longer texts are shared.
#[derive(Clone)]
pub enum ValueText {
    Inline { len: u8, bytes: [u8; INLINE_TEXT_BYTES] },
    Shared(Arc<str>),
}

impl ValueText {
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            ValueText::Inline { len, bytes } => &bytes[..usize::from(*len)],
            ValueText::Shared(s) => s.as_bytes(),
        }
    }

    /// Length in bytes (without reading the text through `str`, which checks it).
    pub fn len(&self) -> usize {
        self.as_bytes().len()
    }

    pub fn is_empty(&self) -> bool {
        self.as_bytes().is_empty()
    }

    pub fn as_str(&self) -> &str {
        match self {
            // Always valid: the bytes are a whole `&str` copied in.
            ValueText::Inline { .. } => std::str::from_utf8(self.as_bytes()).unwrap_or_default(),
            ValueText::Shared(s) => s,
        }
    }
}

impl std::ops::Deref for ValueText {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for ValueText {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl std::borrow::Borrow<str> for ValueText {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq for ValueText {
    fn eq(&self, other: &ValueText) -> bool {
        match (self, other) {
            (ValueText::Shared(a), ValueText::Shared(b)) if Arc::ptr_eq(a, b) => true,
            _ => self.as_bytes() == other.as_bytes(),
        }
    }
}

impl Eq for ValueText {}

impl fmt::Debug for ValueText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for ValueText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&str> for ValueText {
    fn from(s: &str) -> ValueText {
        if s.len() <= INLINE_TEXT_BYTES {
            let mut bytes = [0; INLINE_TEXT_BYTES];
            bytes[..s.len()].copy_from_slice(s.as_bytes());
            ValueText::Inline {
                len: s.len() as u8,
                bytes,
            }
        } else {
            ValueText::Shared(Arc::from(s))
        }
    }
}

impl From<&String> for ValueText {
    fn from(s: &String) -> ValueText {
        ValueText::from(s.as_str())
    }
}

impl From<String> for ValueText {
    fn from(s: String) -> ValueText {
        if s.len() <= INLINE_TEXT_BYTES {
            ValueText::from(s.as_str())
        } else {
            ValueText::Shared(Arc::from(s))
        }
    }
}

impl From<Cow<'_, str>> for ValueText {
    fn from(s: Cow<'_, str>) -> ValueText {
        match s {
            Cow::Borrowed(s) => ValueText::from(s),
            Cow::Owned(s) => ValueText::from(s),
        }
    }
}

impl From<Arc<str>> for ValueText {
    fn from(s: Arc<str>) -> ValueText {
        if s.len() <= INLINE_TEXT_BYTES {
            ValueText::from(&*s)
        } else {
            ValueText::Shared(s)
        }
    }
}

impl From<Box<str>> for ValueText {
    fn from(s: Box<str>) -> ValueText {
        ValueText::from(String::from(s))
    }
}

/// One field value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// Text, as read from the event or computed.
    Str(ValueText),
    /// A number (JSON numbers, arithmetic results, numeric functions).
    Num(f64),
    /// A boolean; shown as `1` or `0`, as the service shows boolean results.
    Bool(bool),
    /// A point in time, epoch milliseconds UTC (`@timestamp`, `bin()`, `fromMillis()`).
    Time(i64),
    /// A list (from `jsonParse`, `split`).
    List(Arc<Vec<Value>>),
    /// A map (from `jsonParse`); keys keep the order they were written in.
    Map(Arc<Vec<(String, Value)>>),
}

impl Value {
    /// A string value.
    pub fn str(s: impl Into<ValueText>) -> Value {
        Value::Str(s.into())
    }

    /// A number value, or `None` for NaN and infinities (which the service never shows).
    pub fn num(n: f64) -> Option<Value> {
        n.is_finite().then_some(Value::Num(n))
    }

    /// The number this value stands for: numbers, booleans (1/0), timestamps (epoch ms), and
    /// strings that are a number value (optional sign, digits, optional fraction, optional
    /// exponent, surrounding spaces allowed). Lists, maps and other strings have none.
    pub fn as_number(&self) -> Option<f64> {
        match self {
            Value::Num(n) => Some(*n),
            Value::Bool(b) => Some(f64::from(u8::from(*b))),
            Value::Time(ms) => Some(*ms as f64),
            Value::Str(s) => parse_number(s),
            Value::List(_) | Value::Map(_) => None,
        }
    }

    /// The integer this value is, exactly: whole numbers, booleans, timestamps, and texts that
    /// are an integer (`-`, digits, spaces around; up to 38 digits) — so integers past 2^53,
    /// kept as written, compare exactly, with each other and with whole doubles.
    pub fn exact_integer(&self) -> Option<i128> {
        match self {
            // Every whole double is exactly an integer (past 2^53 only some integers are doubles,
            // but each double that is whole is one of them).
            Value::Num(n) if n.fract() == 0.0 && n.abs() < 1e38 => Some(*n as i128),
            Value::Str(s) => parse_integer(s),
            Value::Bool(b) => Some(i128::from(*b)),
            Value::Time(ms) => Some(i128::from(*ms)),
            _ => None,
        }
    }

    /// The text this value shows as, or `None` for lists and maps (which string functions treat
    /// as null).
    pub fn as_text(&self) -> Option<Cow<'_, str>> {
        match self {
            Value::Str(s) => Some(Cow::Borrowed(s)),
            Value::List(_) | Value::Map(_) => None,
            other => Some(Cow::Owned(other.to_string())),
        }
    }

    /// Whether the value is true in a condition: booleans as they are, numbers when non-zero,
    /// strings when they are "true" or a non-zero number. Lists and maps are never true.
    pub fn is_truthy(&self) -> bool {
        match self {
            Value::Bool(b) => *b,
            Value::Num(n) => *n != 0.0,
            Value::Time(_) => true,
            Value::Str(s) => s.eq_ignore_ascii_case("true") || parse_number(s).is_some_and(|n| n != 0.0),
            Value::List(_) | Value::Map(_) => false,
        }
    }

    /// The value as JSON, for `jsonStringify` and the JSON output formats: numbers and booleans
    /// as JSON numbers (booleans 1/0), timestamps as their display text.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Str(s) => serde_json::Value::String(s.to_string()),
            Value::Num(n) => number_to_json(*n),
            Value::Bool(b) => serde_json::Value::from(u8::from(*b)),
            Value::Time(_) => serde_json::Value::String(self.to_string()),
            Value::List(items) => serde_json::Value::Array(items.iter().map(Value::to_json).collect()),
            Value::Map(entries) => {
                serde_json::Value::Object(entries.iter().map(|(k, v)| (k.clone(), v.to_json())).collect())
            }
        }
    }

    /// A value from parsed JSON: objects become maps, arrays lists; `null` is no value.
    pub fn from_json(json: &serde_json::Value) -> Option<Value> {
        Some(match json {
            serde_json::Value::Null => return None,
            serde_json::Value::Bool(b) => Value::str(if *b { "true" } else { "false" }),
            // Integers a double cannot hold exactly are kept as written.
            serde_json::Value::Number(n) if beyond_exact_double(n) => Value::str(n.to_string()),
            serde_json::Value::Number(n) => Value::Num(n.as_f64()?),
            serde_json::Value::String(s) => Value::str(s.as_str()),
            serde_json::Value::Array(items) => {
                Value::List(Arc::new(items.iter().filter_map(Value::from_json).collect()))
            }
            serde_json::Value::Object(map) => Value::Map(Arc::new(
                map.iter()
                    .filter_map(|(k, v)| Some((k.clone(), Value::from_json(v)?)))
                    .collect(),
            )),
        })
    }
}

/// Whether a JSON integer is past what a double holds exactly (2^53).
pub fn beyond_exact_double(n: &serde_json::Number) -> bool {
    let limit = MAX_EXACT_DOUBLE as u64;
    n.as_u64().is_some_and(|u| u > limit) || n.as_i64().is_some_and(|i| i.unsigned_abs() > limit)
}

fn number_to_json(n: f64) -> serde_json::Value {
    if n.fract() == 0.0 && n.abs() <= MAX_EXACT_DOUBLE {
        serde_json::Value::from(n as i64)
    } else {
        serde_json::Number::from_f64(n).map_or(serde_json::Value::Null, serde_json::Value::Number)
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Str(s) => f.write_str(s),
            Value::Num(n) => write_number(f, *n),
            Value::Bool(b) => f.write_str(if *b { "1" } else { "0" }),
            Value::Time(ms) => f.write_str(&format_timestamp(*ms)),
            Value::List(_) | Value::Map(_) => write!(f, "{}", self.to_json()),
        }
    }
}

/// Numbers print as integers when they are whole, otherwise in the shortest form that reads back
/// to the same double (`2.5`, `11.180339887498949`).
fn write_number(f: &mut fmt::Formatter<'_>, n: f64) -> fmt::Result {
    if n.fract() == 0.0 && n.abs() <= MAX_EXACT_DOUBLE {
        write!(f, "{}", n as i64)
    } else {
        write!(f, "{n}")
    }
}

/// `YYYY-MM-DD HH:MM:SS.mmm` in UTC, the service's display form for timestamps.
pub fn format_timestamp(ms: i64) -> String {
    match chrono::DateTime::from_timestamp_millis(ms) {
        Some(t) => t.format("%Y-%m-%d %H:%M:%S%.3f").to_string(),
        None => ms.to_string(),
    }
}

/// The largest magnitude up to which every integer is exact in a double (2^53).
pub const MAX_EXACT_DOUBLE: f64 = 9_007_199_254_740_992.0;

/// Parses an integer: optional sign, 1 to 38 digits, spaces around allowed.
pub fn parse_integer(s: &str) -> Option<i128> {
    let t = s.trim();
    let (negative, digits) = match t.as_bytes().first()? {
        b'-' => (true, &t[1..]),
        b'+' => (false, &t[1..]),
        _ => (false, t),
    };
    if digits.is_empty() || digits.len() > 38 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let magnitude = digits.bytes().fold(0i128, |n, d| n * 10 + i128::from(d - b'0'));
    Some(if negative { -magnitude } else { magnitude })
}

/// Orders two values already known to be the numbers `x` and `y`: by the numbers, and where
/// doubles cannot tell them apart, exactly when both are integers (past 2^53).
pub fn cmp_numbers(left: &Value, x: f64, right: &Value, y: f64) -> std::cmp::Ordering {
    // `-0.0` and `0.0` are one number (as group keys are).
    match x.partial_cmp(&y).unwrap_or_else(|| x.total_cmp(&y)) {
        std::cmp::Ordering::Equal => match (left.exact_integer(), right.exact_integer()) {
            (Some(l), Some(r)) => l.cmp(&r),
            _ => std::cmp::Ordering::Equal,
        },
        other => other,
    }
}

/// Parses a *number value*: the whole string (spaces around allowed) is one decimal number.
pub fn parse_number(s: &str) -> Option<f64> {
    // Text that starts and ends with a visible ASCII byte has no spaces to trim (the common
    // case, and trimming Unicode spaces costs a character decode at each end).
    let visible = |b: Option<&u8>| b.is_some_and(u8::is_ascii_graphic);
    let t = if visible(s.as_bytes().first()) && visible(s.as_bytes().last()) {
        s
    } else {
        s.trim()
    };
    let bytes = t.as_bytes();
    let first = *bytes.first()?;
    // Reject what f64::from_str accepts but is not a number in a log ("inf", "NaN", "+").
    if !(first.is_ascii_digit() || first == b'-' || first == b'+' || first == b'.') {
        return None;
    }
    if !bytes.iter().any(u8::is_ascii_digit)
        || bytes
            .iter()
            .any(|b| b.is_ascii_alphabetic() && *b != b'e' && *b != b'E')
    {
        return None;
    }
    t.parse::<f64>().ok().filter(|n| n.is_finite())
}

#[cfg(test)]
mod tests {
    use super::{format_timestamp, parse_number, Value};

    #[test]
    fn whole_numbers_print_without_a_fraction() {
        assert_eq!(Value::Num(200.0).to_string(), "200");
        assert_eq!(Value::Num(2.5).to_string(), "2.5");
        assert_eq!(Value::Num(-0.125).to_string(), "-0.125");
        assert_eq!(
            Value::Num(11.180_339_887_498_949).to_string(),
            "11.180339887498949"
        );
    }

    #[test]
    fn number_values_are_whole_strings_of_digits() {
        assert_eq!(parse_number("42"), Some(42.0));
        assert_eq!(parse_number(" -1.5 "), Some(-1.5));
        assert_eq!(parse_number("1e3"), Some(1000.0));
        assert_eq!(parse_number("12ms"), None);
        assert_eq!(parse_number("inf"), None);
        assert_eq!(parse_number("NaN"), None);
        assert_eq!(parse_number(""), None);
        assert_eq!(parse_number("-"), None);
        // Spaces of every kind around a number, as `str::trim` takes them.
        assert_eq!(parse_number("\u{a0}7\u{2003}"), Some(7.0));
        assert_eq!(parse_number("\u{b}7\t"), Some(7.0));
        assert_eq!(parse_number("7\u{3000}"), Some(7.0));
        assert_eq!(parse_number("\u{1c}7"), None);
    }

    #[test]
    fn timestamps_show_in_utc_with_milliseconds() {
        assert_eq!(format_timestamp(1_583_161_445_000), "2020-03-02 15:04:05.000");
        assert_eq!(
            Value::Time(1_709_251_200_123).to_string(),
            "2024-03-01 00:00:00.123"
        );
    }

    #[test]
    fn booleans_show_as_one_and_zero() {
        assert_eq!(Value::Bool(true).to_string(), "1");
        assert_eq!(Value::Bool(false).as_number(), Some(0.0));
    }
}

#[cfg(test)]
mod text_tests {
    use super::{Value, ValueText};

    #[test]
    fn short_texts_are_inline_long_ones_shared_and_both_compare_by_content() {
        let short = ValueText::from("user-12345");
        assert!(matches!(short, ValueText::Inline { .. }));
        let long = ValueText::from("a message longer than twenty-two bytes");
        assert!(matches!(long, ValueText::Shared(_)));
        assert_eq!(&*short, "user-12345");
        assert_eq!(ValueText::from(String::from("user-12345")), short);
        assert_eq!(ValueText::from(std::sync::Arc::<str>::from("user-12345")), short);
        assert_eq!(long.clone(), long);
        assert_eq!(
            ValueText::from("é".repeat(11).as_str()).as_str(),
            "é".repeat(11),
            "22 bytes of two-byte chars"
        );
        assert_eq!(ValueText::from(""), ValueText::from(String::new()));
        assert!(
            std::mem::size_of::<Value>() <= 32,
            "{}",
            std::mem::size_of::<Value>()
        );
    }
}

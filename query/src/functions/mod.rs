//! The scalar function library: every function of the language that maps one row's arguments to
//! one value (sections 4.2–4.8 of the research note). `bin` and the aggregates are not here: they
//! need the evaluator's row and group state.
//!
//! Each function is a plain `fn(&FnContext, &[Option<Value>]) -> Option<Value>` registered with
//! its arity, so the evaluator can check arity at compile time and call without dispatch on
//! names per row. Functions never panic: a missing, null or unconvertible argument gives `None`
//! (or `false` for the validity predicates), never an error, because the service shows a null
//! rather than failing the query.
//!
//! Casts: integer → `f64` `as` casts are exact up to 2^53 and round to the nearest double past
//! it (epoch ms and lengths stay far below); float → integer casts are range-checked (`to_i64`)
//! or meant to saturate (`to_count`), and say so where they occur.

use std::borrow::Cow;

use crate::value::Value;

mod datetime;
mod general;
mod hash;
pub(crate) mod ip;
mod json;
mod numeric;
mod string;

pub use datetime::{ceil_to_period, floor_to_period, parse_period, Period, PeriodUnit};

/// `query_start_ms` of a query given no start (`logq` without `--start`/`--since`).
pub const NO_START: i64 = i64::MIN;

/// What a function may read besides its arguments.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FnContext {
    /// When the query started running, epoch ms UTC (`now()`).
    pub now_ms: i64,
    /// The start of the queried time window, epoch ms UTC.
    /// [`NO_START`] when the query was given no start.
    pub query_start_ms: i64,
    /// The end of the queried time window, epoch ms UTC.
    pub query_end_ms: i64,
}

/// A function's implementation. Arguments arrive in call order; a missing field is `None`.
pub type ScalarImpl = fn(&FnContext, &[Option<Value>]) -> Option<Value>;

/// One registered scalar function.
#[derive(Debug)]
pub struct ScalarFunction {
    /// Canonical spelling, e.g. `isIpv4InSubnet`.
    pub name: &'static str,
    /// Fewest arguments accepted.
    pub min_args: usize,
    /// Most arguments accepted; `None` = variadic.
    pub max_args: Option<usize>,
    /// The implementation.
    pub call: ScalarImpl,
}

/// Every function, grouped by the module that implements it.
const REGISTRY: &[&[ScalarFunction]] = &[
    numeric::FUNCTIONS,
    datetime::FUNCTIONS,
    general::FUNCTIONS,
    json::FUNCTIONS,
    string::FUNCTIONS,
    ip::FUNCTIONS,
    hash::FUNCTIONS,
];

/// Documented alternative spellings, as (alias, canonical name).
const ALIASES: &[(&str, &str)] = &[("strftime", "formatDate")];

/// Case-insensitive lookup; also accepts documented alternative spellings (strftime = formatDate).
pub fn scalar(name: &str) -> Option<&'static ScalarFunction> {
    let canonical = ALIASES
        .iter()
        .find(|(alias, _)| alias.eq_ignore_ascii_case(name))
        .map_or(name, |(_, canonical)| *canonical);
    REGISTRY
        .iter()
        .flat_map(|module| module.iter())
        .find(|f| f.name.eq_ignore_ascii_case(canonical))
}

/// Every canonical name, for "did you mean" suggestions.
pub fn scalar_names() -> impl Iterator<Item = &'static str> {
    REGISTRY.iter().flat_map(|module| module.iter()).map(|f| f.name)
}

// ---- Argument helpers shared by the function modules ----

/// Argument `i`, or `None` when it is missing (null) or was not passed.
fn arg(args: &[Option<Value>], i: usize) -> Option<&Value> {
    args.get(i).and_then(Option::as_ref)
}

/// Argument `i` as a number (`Value::as_number`).
fn number(args: &[Option<Value>], i: usize) -> Option<f64> {
    arg(args, i)?.as_number()
}

/// Argument `i` as text (`Value::as_text`); lists and maps are null here.
fn text(args: &[Option<Value>], i: usize) -> Option<Cow<'_, str>> {
    arg(args, i)?.as_text()
}

/// A boolean result.
#[allow(clippy::unnecessary_wraps)] // Every function returns Option; this keeps call sites short.
fn boolean(b: bool) -> Option<Value> {
    Some(Value::Bool(b))
}

/// A string result.
#[allow(clippy::unnecessary_wraps)] // As `boolean`.
fn string(s: impl Into<crate::value::ValueText>) -> Option<Value> {
    Some(Value::Str(s.into()))
}

/// Truncates toward zero and converts, or `None` when the result does not fit in an `i64`.
fn to_i64(n: f64) -> Option<i64> {
    let t = n.trunc();
    // -2^63 is exactly representable; 2^63 is the first value out of range. NaN fails both.
    // In range the `as` cast is exact.
    (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0)
        .contains(&t)
        .then_some(t as i64)
}

/// Clamps a count-like argument (a position or length) to `usize`, truncating the fraction.
fn to_count(n: f64) -> usize {
    // `as` from float to int saturates (negative and NaN give 0): exactly the clamp wanted.
    n.trunc() as usize
}

#[cfg(test)]
mod tests {
    use super::{scalar, scalar_names, to_i64, FnContext, ScalarFunction, Value};
    use std::collections::HashSet;

    /// Calls a function by name with literal arguments, checking the registered arity.
    pub(super) fn call(name: &str, args: &[Option<Value>]) -> Option<Value> {
        let ctx = FnContext {
            now_ms: 1_700_000_000_123,
            query_start_ms: 1_699_996_400_000,
            query_end_ms: 1_700_000_000_000,
        };
        call_with(&ctx, name, args)
    }

    pub(super) fn call_with(ctx: &FnContext, name: &str, args: &[Option<Value>]) -> Option<Value> {
        let f: &ScalarFunction = scalar(name).unwrap_or_else(|| panic!("no function {name}"));
        assert!(args.len() >= f.min_args, "{name}: too few arguments");
        assert!(
            f.max_args.is_none_or(|max| args.len() <= max),
            "{name}: too many arguments"
        );
        (f.call)(ctx, args)
    }

    #[allow(clippy::unnecessary_wraps)] // Arguments are Option<Value>.
    pub(super) fn s(text: &str) -> Option<Value> {
        Some(Value::str(text))
    }

    #[allow(clippy::unnecessary_wraps)] // As `s`.
    pub(super) fn n(x: f64) -> Option<Value> {
        Some(Value::Num(x))
    }

    #[allow(clippy::unnecessary_wraps)] // As `s`.
    pub(super) fn b(x: bool) -> Option<Value> {
        Some(Value::Bool(x))
    }

    const EXPECTED: &[&str] = &[
        "abs",
        "ceil",
        "floor",
        "greatest",
        "least",
        "log",
        "sqrt",
        "round",
        "haversine",
        "toNumber",
        "toInt",
        "toLong",
        "toDouble",
        "datefloor",
        "dateceil",
        "fromMillis",
        "toMillis",
        "now",
        "parseDate",
        "formatDate",
        "coalesce",
        "if",
        "case",
        "isNumeric",
        "messageSize",
        "queryStartTime",
        "queryEndTime",
        "queryTimeRange",
        "unmask",
        "ispresent",
        "isempty",
        "isblank",
        "jsonParse",
        "jsonStringify",
        "jsonArraySize",
        "jsonArrayContains",
        "concat",
        "ltrim",
        "rtrim",
        "trim",
        "strlen",
        "toupper",
        "tolower",
        "substr",
        "replace",
        "regexReplace",
        "strcontains",
        "startsWith",
        "endsWith",
        "urlencode",
        "urldecode",
        "base64encode",
        "base64decode",
        "split",
        "hexToAscii",
        "hexToDec",
        "decToHex",
        "isValidIp",
        "isValidIpV4",
        "isValidIpV6",
        "isIpInSubnet",
        "isIpv4InSubnet",
        "isIpv6InSubnet",
        "ipv4ToNumber",
        "isPrivateIP",
        "isPublicIP",
        "isReservedIP",
        "md5",
        "sha256",
    ];

    #[test]
    fn registry_holds_exactly_the_documented_functions() {
        let names: Vec<&str> = scalar_names().collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        let mut expected = EXPECTED.to_vec();
        expected.sort_unstable();
        assert_eq!(sorted, expected);
    }

    #[test]
    fn canonical_names_are_unique_ignoring_case() {
        let lowered: HashSet<String> = scalar_names().map(str::to_ascii_lowercase).collect();
        assert_eq!(lowered.len(), EXPECTED.len());
    }

    #[test]
    fn lookup_ignores_case_and_returns_the_canonical_name() {
        assert_eq!(scalar("ISIPV4INSUBNET").map(|f| f.name), Some("isIpv4InSubnet"));
        assert_eq!(scalar("ToUpper").map(|f| f.name), Some("toupper"));
        assert_eq!(scalar("nosuchfunction").map(|f| f.name), None);
        assert_eq!(scalar("bin").map(|f| f.name), None);
        assert_eq!(scalar("count").map(|f| f.name), None);
    }

    #[test]
    fn strftime_is_an_alias_of_format_date() {
        assert_eq!(scalar("strftime").map(|f| f.name), Some("formatDate"));
        assert_eq!(scalar("STRFTIME").map(|f| f.name), Some("formatDate"));
        assert!(!scalar_names().any(|name| name == "strftime"));
    }

    #[test]
    fn arities_are_consistent() {
        for name in scalar_names() {
            let f = scalar(name).unwrap();
            assert!(f.max_args.is_none_or(|max| max >= f.min_args), "{name}");
        }
        let arity = |name: &str| scalar(name).map(|f| (f.min_args, f.max_args));
        assert_eq!(arity("round"), Some((1, Some(2))));
        assert_eq!(arity("concat"), Some((1, None)));
        assert_eq!(arity("case"), Some((2, Some(21))));
        assert_eq!(arity("now"), Some((0, Some(0))));
        assert_eq!(arity("parseDate"), Some((2, Some(3))));
        assert_eq!(arity("haversine"), Some((4, Some(4))));
    }

    #[test]
    fn every_function_survives_missing_and_odd_arguments() {
        let odd = [
            None,
            s(""),
            s("\u{1F600}"),
            n(-1.5),
            n(1e300),
            b(true),
            Some(Value::Time(i64::MIN)),
            Some(Value::Time(i64::MAX)),
            Some(Value::List(std::sync::Arc::new(vec![]))),
            Some(Value::Map(std::sync::Arc::new(vec![]))),
        ];
        let ctx = FnContext {
            now_ms: i64::MIN,
            query_start_ms: i64::MAX,
            query_end_ms: i64::MIN,
        };
        for name in scalar_names() {
            let f = scalar(name).unwrap();
            let max = f.max_args.unwrap_or(4);
            for len in f.min_args..=max {
                for v in &odd {
                    let args = vec![v.clone(); len];
                    // Must not panic; the result itself is each module's business.
                    let _ = (f.call)(&ctx, &args);
                }
            }
            // Fewer arguments than registered must not panic either.
            let _ = (f.call)(&ctx, &[]);
        }
    }

    #[test]
    fn i64_conversion_truncates_and_rejects_out_of_range() {
        assert_eq!(to_i64(-2.9), Some(-2));
        assert_eq!(to_i64(9.3e18), None);
        assert_eq!(to_i64(-9_223_372_036_854_775_808.0), Some(i64::MIN));
        assert_eq!(to_i64(f64::NAN), None);
    }
}

//! General functions (section 4.4) and the presence tests `ispresent`, `isempty`, `isblank`.

use super::{arg, boolean, text, FnContext, ScalarFunction};
use crate::value::{parse_number, Value};

/// `case` takes at most this many condition/value pairs.
const MAX_CASE_BRANCHES: usize = 10;

pub(super) const FUNCTIONS: &[ScalarFunction] = &[
    ScalarFunction {
        name: "coalesce",
        min_args: 1,
        max_args: None,
        call: coalesce,
    },
    ScalarFunction {
        name: "if",
        min_args: 3,
        max_args: Some(3),
        call: if_,
    },
    ScalarFunction {
        name: "case",
        min_args: 2,
        max_args: Some(2 * MAX_CASE_BRANCHES + 1),
        call: case,
    },
    unary("isNumeric", is_numeric),
    unary("messageSize", message_size),
    nullary("queryStartTime", query_start_time),
    nullary("queryEndTime", query_end_time),
    nullary("queryTimeRange", query_time_range),
    unary("unmask", unmask),
    unary("ispresent", is_present),
    unary("isempty", is_empty),
    unary("isblank", is_blank),
];

const fn unary(name: &'static str, call: super::ScalarImpl) -> ScalarFunction {
    ScalarFunction {
        name,
        min_args: 1,
        max_args: Some(1),
        call,
    }
}

const fn nullary(name: &'static str, call: super::ScalarImpl) -> ScalarFunction {
    ScalarFunction {
        name,
        min_args: 0,
        max_args: Some(0),
        call,
    }
}

fn coalesce(_: &FnContext, args: &[Option<Value>]) -> Option<Value> {
    args.iter().find_map(Clone::clone)
}

fn if_(_: &FnContext, args: &[Option<Value>]) -> Option<Value> {
    let chosen = if arg(args, 0).is_some_and(Value::is_truthy) {
        1
    } else {
        2
    };
    arg(args, chosen).cloned()
}

/// `case(c1, v1, c2, v2, …, [default])`: the value of the first true condition, else the default
/// (an odd argument count), else no value.
fn case(_: &FnContext, args: &[Option<Value>]) -> Option<Value> {
    let mut pairs = args.chunks_exact(2);
    for pair in pairs.by_ref() {
        if let [condition, value] = pair {
            if condition.as_ref().is_some_and(Value::is_truthy) {
                return value.clone();
            }
        }
    }
    pairs.remainder().first().cloned().flatten()
}

/// Whether the value is a number: a number, or a string that is a number value.
// UNSURE: booleans and timestamps count as not numeric (they show as 1/0 and dates); a missing
// field is not numeric (false rather than no value).
fn is_numeric(_: &FnContext, args: &[Option<Value>]) -> Option<Value> {
    boolean(match arg(args, 0) {
        Some(Value::Num(_)) => true,
        Some(Value::Str(s)) => parse_number(s).is_some(),
        _ => false,
    })
}

/// Size in UTF-8 bytes of the value's text (`strlen` counts code points instead).
fn message_size(_: &FnContext, args: &[Option<Value>]) -> Option<Value> {
    Value::num(text(args, 0)?.len() as f64)
}

fn query_start_time(ctx: &FnContext, _: &[Option<Value>]) -> Option<Value> {
    if ctx.query_start_ms == super::NO_START {
        return None;
    }
    Value::num(ctx.query_start_ms as f64)
}

fn query_end_time(ctx: &FnContext, _: &[Option<Value>]) -> Option<Value> {
    Value::num(ctx.query_end_ms as f64)
}

/// The range's length in ms; null without a start (the service always has one; a local query
/// without `--start` reads everything, which has no length to give).
fn query_time_range(ctx: &FnContext, _: &[Option<Value>]) -> Option<Value> {
    if ctx.query_start_ms == super::NO_START {
        return None;
    }
    Value::num(ctx.query_end_ms.saturating_sub(ctx.query_start_ms) as f64)
}

/// `logq` has no data-protection masking, so there is nothing to unmask.
fn unmask(_: &FnContext, args: &[Option<Value>]) -> Option<Value> {
    arg(args, 0).cloned()
}

fn is_present(_: &FnContext, args: &[Option<Value>]) -> Option<Value> {
    boolean(arg(args, 0).is_some())
}

/// True for a missing field or `""`. Lists and maps count as missing (string functions see them
/// as null).
fn is_empty(_: &FnContext, args: &[Option<Value>]) -> Option<Value> {
    boolean(text(args, 0).is_none_or(|t| t.is_empty()))
}

/// True for a missing field, `""`, or whitespace only.
fn is_blank(_: &FnContext, args: &[Option<Value>]) -> Option<Value> {
    boolean(text(args, 0).is_none_or(|t| t.trim().is_empty()))
}

#[cfg(test)]
mod tests {
    use super::super::tests::{b, call, call_with, n, s};
    use crate::functions::FnContext;
    use crate::value::Value;
    use std::sync::Arc;

    #[test]
    fn coalesce_returns_the_first_present_argument() {
        assert_eq!(call("coalesce", &[None, s(""), n(0.0)]), s(""));
        assert_eq!(call("coalesce", &[None, None, n(3.0)]), n(3.0));
        assert_eq!(call("coalesce", &[None, None]), None);
    }

    #[test]
    fn if_chooses_by_truthiness_and_missing_condition_takes_else() {
        assert_eq!(call("if", &[b(true), s("yes"), s("no")]), s("yes"));
        assert_eq!(call("if", &[n(0.0), s("yes"), s("no")]), s("no"));
        assert_eq!(call("if", &[s("true"), s("yes"), s("no")]), s("yes"));
        assert_eq!(call("if", &[s("abc"), s("yes"), s("no")]), s("no"));
        assert_eq!(call("if", &[None, s("yes"), s("no")]), s("no"));
        assert_eq!(call("if", &[b(true), None, s("no")]), None);
    }

    #[test]
    fn case_takes_the_first_true_branch_then_the_default() {
        let args = [b(false), s("a"), n(1.0), s("b"), b(true), s("c"), s("default")];
        assert_eq!(call("case", &args), s("b"));
        assert_eq!(
            call("case", &[b(false), s("a"), None, s("b"), s("default")]),
            s("default")
        );
        assert_eq!(call("case", &[b(false), s("a"), None, s("b")]), None);
        assert_eq!(call("case", &[b(true), None, s("default")]), None);
    }

    #[test]
    fn case_accepts_ten_branches_and_a_default() {
        let mut args: Vec<Option<Value>> = (0..10).flat_map(|i| [b(i == 9), n(f64::from(i))]).collect();
        args.push(s("default"));
        assert_eq!(call("case", &args), n(9.0));
    }

    #[test]
    fn is_numeric_accepts_numbers_and_number_strings() {
        assert_eq!(call("isNumeric", &[n(1.5)]), b(true));
        assert_eq!(call("isNumeric", &[s(" -12.5e3 ")]), b(true));
        assert_eq!(call("isNumeric", &[s("12ms")]), b(false));
        assert_eq!(call("isNumeric", &[b(true)]), b(false));
        assert_eq!(call("isNumeric", &[None]), b(false));
    }

    #[test]
    fn message_size_counts_utf8_bytes() {
        assert_eq!(call("messageSize", &[s("héllo")]), n(6.0));
        assert_eq!(call("messageSize", &[s("\u{1F600}")]), n(4.0));
        assert_eq!(call("messageSize", &[n(200.0)]), n(3.0));
        assert_eq!(call("messageSize", &[None]), None);
    }

    #[test]
    fn query_window_functions_read_the_context() {
        let ctx = FnContext {
            now_ms: 0,
            query_start_ms: 1_000,
            query_end_ms: 61_000,
        };
        assert_eq!(call_with(&ctx, "queryStartTime", &[]), n(1_000.0));
        assert_eq!(call_with(&ctx, "queryEndTime", &[]), n(61_000.0));
        assert_eq!(call_with(&ctx, "queryTimeRange", &[]), n(60_000.0));
        let unbounded = FnContext {
            query_start_ms: super::super::NO_START,
            ..ctx
        };
        assert_eq!(
            call_with(&unbounded, "queryTimeRange", &[]),
            None,
            "no start, no range"
        );
        assert_eq!(call_with(&unbounded, "queryStartTime", &[]), None);
    }

    #[test]
    fn unmask_is_identity() {
        assert_eq!(call("unmask", &[s("a****b")]), s("a****b"));
        assert_eq!(call("unmask", &[None]), None);
    }

    #[test]
    fn ispresent_distinguishes_missing_fields() {
        assert_eq!(call("ispresent", &[s("")]), b(true));
        assert_eq!(call("ispresent", &[n(0.0)]), b(true));
        assert_eq!(call("ispresent", &[None]), b(false));
    }

    #[test]
    fn isempty_is_true_for_missing_and_empty() {
        assert_eq!(call("isempty", &[None]), b(true));
        assert_eq!(call("isempty", &[s("")]), b(true));
        assert_eq!(call("isempty", &[s(" ")]), b(false));
        assert_eq!(call("isempty", &[n(0.0)]), b(false));
        assert_eq!(call("isempty", &[Some(Value::List(Arc::new(vec![])))]), b(true));
    }

    #[test]
    fn isblank_is_true_for_missing_empty_and_whitespace() {
        assert_eq!(call("isblank", &[None]), b(true));
        assert_eq!(call("isblank", &[s("")]), b(true));
        assert_eq!(call("isblank", &[s(" \t\n")]), b(true));
        assert_eq!(call("isblank", &[s(" x ")]), b(false));
    }
}

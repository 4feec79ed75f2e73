//! Evaluating compiled expressions against a row.

use std::cmp::Ordering;

use crate::functions::{floor_to_period, FnContext};
use crate::plan::expr::{CExpr, Matcher};
use crate::syntax::ast::BinaryOp;
use crate::value::Value;

/// What an expression reads: the row, and for stats outputs the aggregate values.
pub struct Scope<'a> {
    pub row: &'a [Option<Value>],
    pub aggregates: &'a [Option<Value>],
    pub functions: &'a FnContext,
    /// The event's line, for the `@message` slot while it is not yet in the row: matching and
    /// parsing read it in place, and only a use as a value copies it.
    pub message: Option<(usize, &'a str)>,
}

impl Scope<'_> {
    /// The text of `expr`, without copying when it is the in-place `@message` or a string.
    pub fn text_of<'s>(&'s self, expr: &CExpr) -> Option<Text<'s>> {
        if let (CExpr::Slot(slot), Some((message_slot, line))) = (expr, self.message) {
            if *slot == message_slot && self.row.get(*slot).is_none_or(Option::is_none) {
                return Some(Text::Line(line));
            }
        }
        match eval(expr, self)? {
            Value::Str(s) => Some(Text::Shared(s)),
            other => other.as_text().map(|t| Text::Owned(t.into_owned())),
        }
    }
}

/// Text read from a row: borrowed from the line, shared with a value, or made for the occasion.
pub enum Text<'s> {
    Line(&'s str),
    Shared(crate::value::ValueText),
    Owned(String),
}

impl std::ops::Deref for Text<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        match self {
            Text::Line(s) => s,
            Text::Shared(s) => s,
            Text::Owned(s) => s,
        }
    }
}

/// The value of `expr`, or `None` when it is null.
pub fn eval(expr: &CExpr, scope: &Scope<'_>) -> Option<Value> {
    match expr {
        CExpr::Slot(slot) => match scope.row.get(*slot) {
            Some(Some(value)) => Some(value.clone()),
            _ => match scope.message {
                Some((message_slot, line)) if message_slot == *slot => Some(Value::str(line)),
                _ => None,
            },
        },
        CExpr::Const(value) => value.clone(),
        CExpr::Aggregate(i) => scope.aggregates.get(*i).cloned().flatten(),
        CExpr::Path(base, keys) => {
            let mut value = eval(base, scope)?;
            for key in keys {
                value = member(&value, key)?;
            }
            Some(value)
        }
        CExpr::Index(base, index) => {
            let base = eval(base, scope)?;
            let index = eval(index, scope)?;
            match (&base, &index) {
                (Value::List(items), _) => {
                    let i = index.as_number()?;
                    if i < 0.0 || i.fract() != 0.0 {
                        return None;
                    }
                    items.get(i as usize).cloned()
                }
                (Value::Map(_), _) => member(&base, &index.as_text()?),
                _ => None,
            }
        }
        CExpr::Neg(inner) => Value::num(-eval(inner, scope)?.as_number()?),
        CExpr::Not(inner) => Some(Value::Bool(!truthy(inner, scope))),
        CExpr::Binary(op, l, r) => binary(*op, l, r, scope),
        CExpr::Like {
            expr,
            matcher,
            negated,
        } => {
            let value = eval(expr, scope)?;
            let text = value.as_text()?;
            let matched = match matcher {
                Matcher::Substring(needle) => text.contains(needle.as_str()),
                Matcher::Regex(re) => re.is_match(&text),
                Matcher::Dynamic(pattern) => {
                    let pattern = eval(pattern, scope)?;
                    text.contains(pattern.as_text()?.as_ref())
                }
            };
            Some(Value::Bool(matched != *negated))
        }
        CExpr::In { expr, list, negated } => {
            let value = eval(expr, scope)?;
            let found = list.iter().any(|item| match eval(item, scope) {
                Some(Value::List(items)) => items.iter().any(|v| equal(&value, v)),
                Some(item) => equal(&value, &item),
                None => false,
            });
            Some(Value::Bool(found != *negated))
        }
        CExpr::InQuery { expr, query, negated } => {
            let found = eval(expr, scope)
                .and_then(|v| v.as_text().map(|t| query.first_column_has(&t)))
                .unwrap_or(false);
            Some(Value::Bool(found != *negated))
        }
        CExpr::Call { function, args } => {
            let values: Vec<Option<Value>> = args.iter().map(|a| eval(a, scope)).collect();
            (function.call)(scope.functions, &values)
        }
        CExpr::Floor {
            time,
            period,
            shift_ms,
        } => {
            let ms = time_ms(&eval(time, scope)?)?;
            Some(Value::Time(floor_to_period(ms, period).saturating_add(*shift_ms)))
        }
    }
}

/// Whether `expr` holds for the row; null is false.
pub fn truthy(expr: &CExpr, scope: &Scope<'_>) -> bool {
    eval(expr, scope).is_some_and(|v| v.is_truthy())
}

fn member(value: &Value, key: &str) -> Option<Value> {
    match value {
        Value::Map(entries) => entries
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone()),
        Value::List(items) => key.parse::<usize>().ok().and_then(|i| items.get(i).cloned()),
        _ => None,
    }
}

/// A value as epoch milliseconds, if it is a time or a number.
pub fn time_ms(value: &Value) -> Option<i64> {
    match value {
        Value::Time(ms) => Some(*ms),
        other => other.as_number().map(|n| n as i64),
    }
}

fn binary(op: BinaryOp, l: &CExpr, r: &CExpr, scope: &Scope<'_>) -> Option<Value> {
    match op {
        BinaryOp::And => return Some(Value::Bool(truthy(l, scope) && truthy(r, scope))),
        BinaryOp::Or => return Some(Value::Bool(truthy(l, scope) || truthy(r, scope))),
        _ => {}
    }
    let left = eval(l, scope);
    let right = eval(r, scope);
    match op {
        BinaryOp::Eq | BinaryOp::Ne | BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge => {
            // Comparisons with null are false, `!=` included.
            let (Some(a), Some(b)) = (left, right) else {
                return Some(Value::Bool(false));
            };
            let result = match op {
                BinaryOp::Eq => equal(&a, &b),
                BinaryOp::Ne => !equal(&a, &b),
                _ => match compare(&a, &b) {
                    Some(ordering) => match op {
                        BinaryOp::Lt => ordering == Ordering::Less,
                        BinaryOp::Le => ordering != Ordering::Greater,
                        BinaryOp::Gt => ordering == Ordering::Greater,
                        _ => ordering != Ordering::Less,
                    },
                    None => false,
                },
            };
            Some(Value::Bool(result))
        }
        _ => arithmetic(op, &left?, &right?),
    }
}

fn arithmetic(op: BinaryOp, a: &Value, b: &Value) -> Option<Value> {
    let x = a.as_number()?;
    let y = b.as_number()?;
    let result = match op {
        BinaryOp::Add => x + y,
        BinaryOp::Sub => x - y,
        BinaryOp::Mul => x * y,
        BinaryOp::Div => {
            if y == 0.0 {
                return None;
            }
            x / y
        }
        BinaryOp::Rem => {
            if y == 0.0 {
                return None;
            }
            x % y
        }
        BinaryOp::Pow => x.powf(y),
        _ => return None,
    };
    // A time plus or minus a number of milliseconds is still a time.
    if let (Value::Time(_), BinaryOp::Add | BinaryOp::Sub, false) = (a, op, matches!(b, Value::Time(_))) {
        return Some(Value::Time(result as i64));
    }
    Value::num(result)
}

/// Equality as the language has it: numerically when both sides are numbers (exactly when
/// both are integers, past 2^53 too), else as text.
pub fn equal(a: &Value, b: &Value) -> bool {
    if let (Some(x), Some(y)) = (a.as_number(), b.as_number()) {
        #[allow(clippy::float_cmp)]
        return x == y && crate::value::cmp_numbers(a, x, b, y).is_eq();
    }
    match (a.as_text(), b.as_text()) {
        (Some(x), Some(y)) => x == y,
        _ => false,
    }
}

/// Ordering for `<`, `>`: numeric when both are numbers, else by text (code points). Lists and
/// maps do not compare.
pub fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    if let (Some(x), Some(y)) = (a.as_number(), b.as_number()) {
        x.partial_cmp(&y)?;
        return Some(crate::value::cmp_numbers(a, x, b, y));
    }
    Some(a.as_text()?.as_ref().cmp(b.as_text()?.as_ref()))
}

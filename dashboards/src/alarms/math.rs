//! Metric math for alarms: the subset of CloudWatch's expression language that an alarm on the
//! agent's metrics needs, parsed with nom and evaluated slot by slot over aligned period buckets.
//!
//! Supported: numbers, metric ids, `+ - * /` with the usual precedence, parentheses, unary minus,
//! comparisons `== != < <= > >=`, `AND`/`&&`, `OR`/`||`, `NOT`/`!`, arrays `[m1, m2]`,
//! `METRICS()` / `METRICS("prefix")`, `SUM AVG MIN MAX` over an array, `ABS(x)`,
//! `FILL(x, value | REPEAT)`, `IF(condition, a[, b])`. Everything else CloudWatch offers
//! (`RATE`, `SEARCH`, `ANOMALY_DETECTION_BAND`, `^`, …) is refused with a caret at its first
//! character. Design decision: every series is a vector over the same slots (the alarm's period
//! buckets), so alignment by timestamp is by index and a missing value is `None`.

use nom::branch::alt;
use nom::bytes::complete::{tag, take_while, take_while1};
use nom::character::complete::{char, digit0, digit1, one_of};
use nom::combinator::{opt, recognize};
use nom::{IResult, Parser};

use super::limits::MAX_NESTING;
use super::syntax::{describe_at, SyntaxError};

/// The functions we evaluate, as users write them.
pub const SUPPORTED_FUNCTIONS: &str = "ABS, AVG, FILL, IF, MAX, METRICS, MIN, SUM";

/// CloudWatch functions we know of but do not evaluate (for a clearer message than "unknown").
const CLOUDWATCH_ONLY_FUNCTIONS: &[&str] = &[
    "ANOMALY_DETECTION_BAND",
    "CEIL",
    "DATAPOINT_COUNT",
    "DATE",
    "DAY",
    "DB_PERF_INSIGHTS",
    "DIFF",
    "DIFF_TIME",
    "EPOCH",
    "FIRST",
    "FLOOR",
    "HOUR",
    "INSIGHT_RULE_METRIC",
    "LAMBDA",
    "LAST",
    "LOG",
    "LOG10",
    "METRIC_COUNT",
    "MINUTE",
    "MONTH",
    "PERIOD",
    "RATE",
    "REMOVE_EMPTY",
    "RUNNING_SUM",
    "SEARCH",
    "SELECT",
    "SERVICE_QUOTA",
    "SLICE",
    "SORT",
    "STDDEV",
    "TIME_SERIES",
    "YEAR",
];

/// A parsed expression. Offsets are byte offsets into the text it was parsed from.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Number(f64),
    /// Another query's id (`m1`, `e1`).
    Id {
        id: String,
        offset: usize,
    },
    Neg(Box<Expr>),
    Not(Box<Expr>),
    Arith(ArithOp, Box<Expr>, Box<Expr>),
    Compare(CompareOp, Box<Expr>, Box<Expr>),
    Logic(LogicOp, Box<Expr>, Box<Expr>),
    Array(Vec<Expr>),
    /// `METRICS()` or `METRICS("prefix")`: every metric (not expression) query, optionally only
    /// those whose id starts with the prefix, in query order.
    Metrics {
        prefix: Option<String>,
    },
    Aggregate(Aggregate, Box<Expr>),
    Abs(Box<Expr>),
    Fill(Box<Expr>, Fill),
    If(Box<Expr>, Box<Expr>, Option<Box<Expr>>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArithOp {
    Add,
    Sub,
    Mul,
    Div,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogicOp {
    And,
    Or,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aggregate {
    Sum,
    Avg,
    Min,
    Max,
}

/// What `FILL` puts in a missing slot.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fill {
    Value(f64),
    /// The newest earlier real value (slots before the first real value stay missing).
    Repeat,
}

/// The shape of a value, known before evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Scalar,
    Series,
    Array,
}

/// A value during evaluation: series are aligned to the same slots.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Scalar(f64),
    Series(Vec<Option<f64>>),
    Array(Vec<Vec<Option<f64>>>),
}

// ---------------------------------------------------------------------------------------------
// Lexer

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Number(f64),
    Word(String),
    Str(String),
    Open,
    Close,
    OpenBracket,
    CloseBracket,
    Comma,
    Plus,
    Minus,
    Star,
    Slash,
    Cmp(CompareOp),
    AndAnd,
    OrOr,
    Bang,
}

fn number(i: &str) -> IResult<&str, &str> {
    let exponent = opt((one_of("eE"), opt(one_of("+-")), digit1));
    alt((
        recognize((digit1, opt((char('.'), digit0)), exponent)),
        recognize((char('.'), digit1, opt((one_of("eE"), opt(one_of("+-")), digit1)))),
    ))
    .parse(i)
}

fn word(i: &str) -> IResult<&str, &str> {
    recognize((
        take_while1(|c: char| c.is_ascii_alphabetic() || c == '_'),
        take_while(|c: char| c.is_ascii_alphanumeric() || c == '_'),
    ))
    .parse(i)
}

fn symbol(i: &str) -> IResult<&str, Tok> {
    alt((
        tag("==").map(|_| Tok::Cmp(CompareOp::Eq)),
        tag("!=").map(|_| Tok::Cmp(CompareOp::Ne)),
        tag("<=").map(|_| Tok::Cmp(CompareOp::Le)),
        tag(">=").map(|_| Tok::Cmp(CompareOp::Ge)),
        tag("&&").map(|_| Tok::AndAnd),
        tag("||").map(|_| Tok::OrOr),
        one_of("<>()[],+-*/!").map(|c| match c {
            '<' => Tok::Cmp(CompareOp::Lt),
            '>' => Tok::Cmp(CompareOp::Gt),
            '(' => Tok::Open,
            ')' => Tok::Close,
            '[' => Tok::OpenBracket,
            ']' => Tok::CloseBracket,
            ',' => Tok::Comma,
            '+' => Tok::Plus,
            '-' => Tok::Minus,
            '*' => Tok::Star,
            '/' => Tok::Slash,
            _ => Tok::Bang,
        }),
    ))
    .parse(i)
}

fn lex(text: &str) -> Result<Vec<(Tok, usize)>, SyntaxError> {
    let mut tokens = Vec::new();
    let mut rest = text;
    loop {
        rest = rest.trim_start();
        let offset = text.len() - rest.len();
        if rest.is_empty() {
            return Ok(tokens);
        }
        if let Ok((after, digits)) = number(rest) {
            let value: f64 = digits
                .parse()
                .map_err(|_| SyntaxError::new(offset, format!("{digits} is not a number")))?;
            if !value.is_finite() {
                return Err(SyntaxError::new(offset, format!("{digits} is too large")));
            }
            tokens.push((Tok::Number(value), offset));
            rest = after;
        } else if let Ok((after, w)) = word(rest) {
            tokens.push((Tok::Word(w.to_string()), offset));
            rest = after;
        } else if let Some(body) = rest.strip_prefix('"') {
            let Some(end) = body.find('"') else {
                return Err(SyntaxError::new(offset, "this string is not closed with \""));
            };
            tokens.push((Tok::Str(body[..end].to_string()), offset));
            rest = &body[end + 1..];
        } else if let Ok((after, tok)) = symbol(rest) {
            tokens.push((tok, offset));
            rest = after;
        } else {
            let hint = match rest.chars().next() {
                Some('^') => " (the ^ power operator is not supported)",
                Some('=') => " (write == to compare)",
                _ => "",
            };
            return Err(SyntaxError::new(
                offset,
                format!("unexpected character {}{hint}", describe_at(text, offset)),
            ));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Parser

struct ExprParser<'a> {
    text: &'a str,
    tokens: Vec<(Tok, usize)>,
    at: usize,
    depth: usize,
}

/// Parses a metric-math expression. The result is statically shaped: [`kind_of`] never fails on
/// it, and a function's arguments have the kinds it takes.
pub fn parse(text: &str) -> Result<Expr, SyntaxError> {
    let tokens = lex(text)?;
    let mut p = ExprParser {
        text,
        tokens,
        at: 0,
        depth: 0,
    };
    if p.tokens.is_empty() {
        return Err(SyntaxError::new(0, "the expression is empty"));
    }
    let (expr, _) = p.expr()?;
    if p.at < p.tokens.len() {
        return Err(p.error_here("expected an operator or the end of the expression"));
    }
    Ok(expr)
}

impl ExprParser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.tokens.get(self.at).map(|(t, _)| t)
    }

    fn offset(&self) -> usize {
        self.tokens.get(self.at).map_or(self.text.len(), |(_, o)| *o)
    }

    fn error_here(&self, what: &str) -> SyntaxError {
        let offset = self.offset();
        SyntaxError::new(offset, format!("{what}, found {}", self.describe(offset)))
    }

    fn describe(&self, offset: usize) -> String {
        match self.tokens.get(self.at) {
            Some((Tok::Word(w), _)) => format!("{w:?}"),
            Some((Tok::Number(_), _)) => "a number".to_string(),
            Some((Tok::Str(_), _)) => "a string".to_string(),
            _ => describe_at(self.text, offset),
        }
    }

    fn is_word(&self, keyword: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(w)) if w.eq_ignore_ascii_case(keyword))
    }

    fn expect(&mut self, tok: &Tok, what: &str) -> Result<(), SyntaxError> {
        if self.peek() == Some(tok) {
            self.at += 1;
            Ok(())
        } else {
            Err(self.error_here(&format!("expected {what}")))
        }
    }

    fn expr(&mut self) -> Result<(Expr, Kind), SyntaxError> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(SyntaxError::new(
                self.offset(),
                format!("the expression nests more than {MAX_NESTING} levels deep"),
            ));
        }
        let result = self.or();
        self.depth -= 1;
        result
    }

    fn or(&mut self) -> Result<(Expr, Kind), SyntaxError> {
        let mut left = self.and()?;
        while self.is_word("OR") || self.peek() == Some(&Tok::OrOr) {
            let offset = self.offset();
            self.at += 1;
            let right = self.and()?;
            let kind = combine(left.1, right.1, offset)?;
            left = (
                Expr::Logic(LogicOp::Or, Box::new(left.0), Box::new(right.0)),
                kind,
            );
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<(Expr, Kind), SyntaxError> {
        let mut left = self.compare()?;
        while self.is_word("AND") || self.peek() == Some(&Tok::AndAnd) {
            let offset = self.offset();
            self.at += 1;
            let right = self.compare()?;
            let kind = combine(left.1, right.1, offset)?;
            left = (
                Expr::Logic(LogicOp::And, Box::new(left.0), Box::new(right.0)),
                kind,
            );
        }
        Ok(left)
    }

    fn compare(&mut self) -> Result<(Expr, Kind), SyntaxError> {
        let left = self.additive()?;
        let Some(Tok::Cmp(op)) = self.peek().cloned() else {
            return Ok(left);
        };
        let offset = self.offset();
        self.at += 1;
        let right = self.additive()?;
        if let Some(Tok::Cmp(_)) = self.peek() {
            return Err(self.error_here("comparisons do not chain; use AND"));
        }
        let kind = combine(left.1, right.1, offset)?;
        Ok((Expr::Compare(op, Box::new(left.0), Box::new(right.0)), kind))
    }

    fn additive(&mut self) -> Result<(Expr, Kind), SyntaxError> {
        let mut left = self.multiplicative()?;
        loop {
            let op = match self.peek() {
                Some(Tok::Plus) => ArithOp::Add,
                Some(Tok::Minus) => ArithOp::Sub,
                _ => return Ok(left),
            };
            let offset = self.offset();
            self.at += 1;
            let right = self.multiplicative()?;
            let kind = combine(left.1, right.1, offset)?;
            left = (Expr::Arith(op, Box::new(left.0), Box::new(right.0)), kind);
        }
    }

    fn multiplicative(&mut self) -> Result<(Expr, Kind), SyntaxError> {
        let mut left = self.unary()?;
        loop {
            let op = match self.peek() {
                Some(Tok::Star) => ArithOp::Mul,
                Some(Tok::Slash) => ArithOp::Div,
                _ => return Ok(left),
            };
            let offset = self.offset();
            self.at += 1;
            let right = self.unary()?;
            let kind = combine(left.1, right.1, offset)?;
            left = (Expr::Arith(op, Box::new(left.0), Box::new(right.0)), kind);
        }
    }

    fn unary(&mut self) -> Result<(Expr, Kind), SyntaxError> {
        if self.peek() == Some(&Tok::Minus) {
            self.at += 1;
            let (inner, kind) = self.nested(Self::unary)?;
            return Ok((Expr::Neg(Box::new(inner)), kind));
        }
        if self.peek() == Some(&Tok::Bang) || self.is_word("NOT") {
            self.at += 1;
            let (inner, kind) = self.nested(Self::unary)?;
            return Ok((Expr::Not(Box::new(inner)), kind));
        }
        self.primary()
    }

    fn nested(
        &mut self,
        f: fn(&mut Self) -> Result<(Expr, Kind), SyntaxError>,
    ) -> Result<(Expr, Kind), SyntaxError> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(SyntaxError::new(
                self.offset(),
                format!("the expression nests more than {MAX_NESTING} levels deep"),
            ));
        }
        let result = f(self);
        self.depth -= 1;
        result
    }

    fn primary(&mut self) -> Result<(Expr, Kind), SyntaxError> {
        let offset = self.offset();
        match self.peek().cloned() {
            Some(Tok::Number(n)) => {
                self.at += 1;
                Ok((Expr::Number(n), Kind::Scalar))
            }
            Some(Tok::Open) => {
                self.at += 1;
                let inner = self.expr()?;
                self.expect(&Tok::Close, "\")\"")?;
                Ok(inner)
            }
            Some(Tok::OpenBracket) => {
                self.at += 1;
                let items = self.list(&Tok::CloseBracket, "\"]\"")?;
                if items.is_empty() {
                    return Err(SyntaxError::new(offset, "an array needs at least one series"));
                }
                let mut exprs = Vec::with_capacity(items.len());
                for (e, kind, at) in items {
                    if kind != Kind::Series {
                        return Err(SyntaxError::new(at, "an array holds time series only"));
                    }
                    exprs.push(e);
                }
                Ok((Expr::Array(exprs), Kind::Array))
            }
            Some(Tok::Word(w)) => {
                self.at += 1;
                if self.peek() == Some(&Tok::Open) {
                    self.at += 1;
                    return self.call(&w, offset);
                }
                if w.eq_ignore_ascii_case("REPEAT") {
                    return Err(SyntaxError::new(offset, "REPEAT is only FILL's second argument"));
                }
                if !w.starts_with(|c: char| c.is_ascii_lowercase()) {
                    return Err(SyntaxError::new(
                        offset,
                        format!("{w:?} is not a metric id: ids start with a lowercase letter"),
                    ));
                }
                Ok((Expr::Id { id: w, offset }, Kind::Series))
            }
            Some(Tok::Str(_)) => Err(SyntaxError::new(offset, "a string is only METRICS()'s argument")),
            None => Err(SyntaxError::new(offset, "the expression ends too early")),
            Some(_) => Err(self.error_here("expected a number, a metric id, a function or \"(\"")),
        }
    }

    /// Comma-separated expressions up to `close` (consumed), each with its kind and offset.
    fn list(&mut self, close: &Tok, what: &str) -> Result<Vec<(Expr, Kind, usize)>, SyntaxError> {
        let mut items = Vec::new();
        if self.peek() == Some(close) {
            self.at += 1;
            return Ok(items);
        }
        loop {
            let at = self.offset();
            if self.is_word("REPEAT") && self.tokens.get(self.at + 1).map(|(t, _)| t) != Some(&Tok::Open) {
                // Only meaningful as FILL's argument; `call` checks where it is.
                self.at += 1;
                items.push((Expr::Number(f64::NAN), Kind::Scalar, at));
            } else {
                let (e, kind) = self.expr()?;
                items.push((e, kind, at));
            }
            match self.peek() {
                Some(Tok::Comma) => self.at += 1,
                Some(t) if t == close => {
                    self.at += 1;
                    return Ok(items);
                }
                _ => return Err(self.error_here(&format!("expected \",\" or {what}"))),
            }
        }
    }

    fn call(&mut self, name: &str, offset: usize) -> Result<(Expr, Kind), SyntaxError> {
        let upper = name.to_ascii_uppercase();
        let known = matches!(
            upper.as_str(),
            "SUM" | "AVG" | "MIN" | "MAX" | "METRICS" | "FILL" | "IF" | "ABS"
        );
        if !known {
            let message = if CLOUDWATCH_ONLY_FUNCTIONS.contains(&upper.as_str()) {
                format!("CloudWatch's {upper} is not supported here; supported: {SUPPORTED_FUNCTIONS}")
            } else {
                format!("unknown function {name}; supported: {SUPPORTED_FUNCTIONS}")
            };
            return Err(SyntaxError::new(offset, message));
        }
        if upper != name {
            return Err(SyntaxError::new(offset, format!("write {upper} in capitals")));
        }
        if upper == "METRICS" {
            let prefix = match self.peek().cloned() {
                Some(Tok::Str(s)) => {
                    self.at += 1;
                    Some(s)
                }
                _ => None,
            };
            self.expect(&Tok::Close, "\")\" (METRICS takes nothing or one string)")?;
            return Ok((Expr::Metrics { prefix }, Kind::Array));
        }
        let close_offset_fallback = self.offset();
        let args = self.nested_list()?;
        let end = self
            .tokens
            .get(self.at - 1)
            .map_or(close_offset_fallback, |(_, o)| *o);
        let is_repeat = |e: &Expr| matches!(e, Expr::Number(n) if n.is_nan());
        for (i, (e, _, at)) in args.iter().enumerate() {
            if is_repeat(e) && !(upper == "FILL" && i == 1) {
                return Err(SyntaxError::new(*at, "REPEAT is only FILL's second argument"));
            }
        }
        let offsets: Vec<usize> = args.iter().map(|a| a.2).collect();
        let arity = |n: std::ops::RangeInclusive<usize>, usage: &str| {
            if n.contains(&offsets.len()) {
                Ok(())
            } else {
                let at = offsets.get(*n.end()).copied().unwrap_or(end);
                Err(SyntaxError::new(at, format!("{upper} takes {usage}")))
            }
        };
        let mut args = args.into_iter();
        let missing = || SyntaxError::new(end, "missing argument");
        match upper.as_str() {
            "SUM" | "AVG" | "MIN" | "MAX" => {
                arity(1..=1, "one argument: an array such as [m1, m2] or METRICS()")?;
                let (e, kind, at) = args.next().ok_or_else(missing)?;
                if kind != Kind::Array {
                    return Err(SyntaxError::new(
                        at,
                        format!(
                            "{upper} of one time series is a single number over the whole time range, \
                             which an alarm cannot watch; write {upper}([m1, m2]) or {upper}(METRICS())"
                        ),
                    ));
                }
                let agg = match upper.as_str() {
                    "SUM" => Aggregate::Sum,
                    "AVG" => Aggregate::Avg,
                    "MIN" => Aggregate::Min,
                    _ => Aggregate::Max,
                };
                Ok((Expr::Aggregate(agg, Box::new(e)), Kind::Series))
            }
            "ABS" => {
                arity(1..=1, "one argument")?;
                let (e, kind, _) = args.next().ok_or_else(missing)?;
                Ok((Expr::Abs(Box::new(e)), kind))
            }
            "FILL" => {
                arity(2..=2, "two arguments: a series and a number or REPEAT")?;
                let (e, kind, at) = args.next().ok_or_else(missing)?;
                if kind == Kind::Scalar {
                    return Err(SyntaxError::new(
                        at,
                        "FILL's first argument is a time series or an array",
                    ));
                }
                let (with, _, at) = args.next().ok_or_else(missing)?;
                let fill = match with {
                    Expr::Number(n) if n.is_nan() => Fill::Repeat,
                    Expr::Number(n) => Fill::Value(n),
                    Expr::Neg(inner) if matches!(*inner, Expr::Number(_)) => match *inner {
                        Expr::Number(n) => Fill::Value(-n),
                        _ => Fill::Repeat,
                    },
                    _ => return Err(SyntaxError::new(
                        at,
                        "FILL's second argument is a number or REPEAT (LINEAR and series are not supported)",
                    )),
                };
                Ok((Expr::Fill(Box::new(e), fill), kind))
            }
            _ => {
                arity(2..=3, "a condition and one or two values: IF(condition, a[, b])")?;
                let (cond, ck, at) = args.next().ok_or_else(missing)?;
                if ck == Kind::Array {
                    return Err(SyntaxError::new(
                        at,
                        "IF's condition is a time series or a number",
                    ));
                }
                let mut values = Vec::new();
                for (e, kind, at) in args {
                    if kind == Kind::Array {
                        return Err(SyntaxError::new(at, "IF's values are time series or numbers"));
                    }
                    values.push(e);
                }
                let mut values = values.into_iter();
                let a = values.next().unwrap_or(Expr::Number(f64::NAN));
                let b = values.next().map(Box::new);
                Ok((Expr::If(Box::new(cond), Box::new(a), b), Kind::Series))
            }
        }
    }

    fn nested_list(&mut self) -> Result<Vec<(Expr, Kind, usize)>, SyntaxError> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(SyntaxError::new(
                self.offset(),
                format!("the expression nests more than {MAX_NESTING} levels deep"),
            ));
        }
        let result = self.list(&Tok::Close, "\")\"");
        self.depth -= 1;
        result
    }
}

/// The kind of `a op b`: scalars broadcast over series and arrays; a series and an array do not
/// combine.
fn combine(a: Kind, b: Kind, offset: usize) -> Result<Kind, SyntaxError> {
    match (a, b) {
        (Kind::Scalar, k) | (k, Kind::Scalar) => Ok(k),
        (Kind::Series, Kind::Series) => Ok(Kind::Series),
        _ => Err(SyntaxError::new(
            offset,
            "an array combines with a number only; reduce it first with SUM, AVG, MIN or MAX",
        )),
    }
}

/// The kind of a parsed expression.
pub fn kind_of(expr: &Expr) -> Kind {
    match expr {
        Expr::Number(_) => Kind::Scalar,
        Expr::Id { .. } | Expr::Aggregate(..) | Expr::If(..) => Kind::Series,
        Expr::Array(_) | Expr::Metrics { .. } => Kind::Array,
        Expr::Neg(e) | Expr::Not(e) | Expr::Abs(e) | Expr::Fill(e, _) => kind_of(e),
        Expr::Arith(_, a, b) | Expr::Compare(_, a, b) | Expr::Logic(_, a, b) => {
            match (kind_of(a), kind_of(b)) {
                (Kind::Scalar, k) | (k, Kind::Scalar) => k,
                (Kind::Array, _) | (_, Kind::Array) => Kind::Array,
                _ => Kind::Series,
            }
        }
    }
}

/// The ids an expression names, with their offsets, in order of appearance.
pub fn references(expr: &Expr) -> Vec<(&str, usize)> {
    let mut out = Vec::new();
    collect_references(expr, &mut out);
    out
}

fn collect_references<'a>(expr: &'a Expr, out: &mut Vec<(&'a str, usize)>) {
    match expr {
        Expr::Id { id, offset } => out.push((id, *offset)),
        Expr::Number(_) | Expr::Metrics { .. } => {}
        Expr::Neg(e) | Expr::Not(e) | Expr::Abs(e) | Expr::Fill(e, _) | Expr::Aggregate(_, e) => {
            collect_references(e, out);
        }
        Expr::Arith(_, a, b) | Expr::Compare(_, a, b) | Expr::Logic(_, a, b) => {
            collect_references(a, out);
            collect_references(b, out);
        }
        Expr::Array(items) => items.iter().for_each(|e| collect_references(e, out)),
        Expr::If(c, a, b) => {
            collect_references(c, out);
            collect_references(a, out);
            if let Some(b) = b {
                collect_references(b, out);
            }
        }
    }
}

/// Whether the expression uses `METRICS()`.
pub fn uses_metrics_function(expr: &Expr) -> bool {
    match expr {
        Expr::Metrics { .. } => true,
        Expr::Number(_) | Expr::Id { .. } => false,
        Expr::Neg(e) | Expr::Not(e) | Expr::Abs(e) | Expr::Fill(e, _) | Expr::Aggregate(_, e) => {
            uses_metrics_function(e)
        }
        Expr::Arith(_, a, b) | Expr::Compare(_, a, b) | Expr::Logic(_, a, b) => {
            uses_metrics_function(a) || uses_metrics_function(b)
        }
        Expr::Array(items) => items.iter().any(uses_metrics_function),
        Expr::If(c, a, b) => {
            uses_metrics_function(c)
                || uses_metrics_function(a)
                || b.as_deref().is_some_and(uses_metrics_function)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Evaluation

/// What an expression can see while it is evaluated.
pub trait Scope {
    /// The series of a query id, aligned to the slots; `None` if the id is unknown.
    fn series(&self, id: &str) -> Option<Vec<Option<f64>>>;
    /// The metric (not expression) queries' series whose id starts with `prefix`, in order.
    fn metrics(&self, prefix: &str) -> Vec<Vec<Option<f64>>>;
    /// How many slots a series has.
    fn slots(&self) -> usize;
}

/// Evaluates a parsed expression. Pointwise: a slot missing in any operand is missing in the
/// result; a non-finite result (`x / 0`) is missing. An unknown id is an empty series.
// Comparisons are exact, as CloudWatch's are.
#[allow(clippy::float_cmp)]
pub fn evaluate(expr: &Expr, scope: &dyn Scope) -> Value {
    let slots = scope.slots();
    match expr {
        Expr::Number(n) => Value::Scalar(*n),
        Expr::Id { id, .. } => Value::Series(scope.series(id).unwrap_or_else(|| vec![None; slots])),
        Expr::Metrics { prefix } => Value::Array(scope.metrics(prefix.as_deref().unwrap_or(""))),
        Expr::Array(items) => Value::Array(
            items
                .iter()
                .map(|e| match evaluate(e, scope) {
                    Value::Series(s) => s,
                    Value::Scalar(n) => vec![Some(n); slots],
                    Value::Array(_) => vec![None; slots],
                })
                .collect(),
        ),
        Expr::Neg(e) => map(evaluate(e, scope), |x| Some(-x)),
        Expr::Not(e) => map(evaluate(e, scope), |x| Some(bool_value(x == 0.0))),
        Expr::Abs(e) => map(evaluate(e, scope), |x| Some(x.abs())),
        Expr::Arith(op, a, b) => zip(evaluate(a, scope), evaluate(b, scope), |x, y| {
            Some(match op {
                ArithOp::Add => x + y,
                ArithOp::Sub => x - y,
                ArithOp::Mul => x * y,
                ArithOp::Div => x / y,
            })
        }),
        Expr::Compare(op, a, b) => zip(evaluate(a, scope), evaluate(b, scope), |x, y| {
            Some(bool_value(match op {
                CompareOp::Eq => x == y,
                CompareOp::Ne => x != y,
                CompareOp::Lt => x < y,
                CompareOp::Le => x <= y,
                CompareOp::Gt => x > y,
                CompareOp::Ge => x >= y,
            }))
        }),
        Expr::Logic(op, a, b) => zip(evaluate(a, scope), evaluate(b, scope), |x, y| {
            Some(bool_value(match op {
                LogicOp::And => x != 0.0 && y != 0.0,
                LogicOp::Or => x != 0.0 || y != 0.0,
            }))
        }),
        Expr::Aggregate(agg, e) => {
            let series = match evaluate(e, scope) {
                Value::Array(series) => series,
                Value::Series(s) => vec![s],
                Value::Scalar(n) => vec![vec![Some(n); slots]],
            };
            Value::Series((0..slots).map(|i| aggregate(*agg, &series, i)).collect())
        }
        Expr::Fill(e, fill) => match evaluate(e, scope) {
            Value::Series(s) => Value::Series(fill_series(s, *fill)),
            Value::Array(items) => Value::Array(items.into_iter().map(|s| fill_series(s, *fill)).collect()),
            scalar @ Value::Scalar(_) => scalar,
        },
        Expr::If(cond, a, b) => {
            let cond = as_series(evaluate(cond, scope), slots);
            let a = as_series(evaluate(a, scope), slots);
            let b = b.as_ref().map(|b| as_series(evaluate(b, scope), slots));
            Value::Series(
                (0..slots)
                    .map(|i| match cond.get(i).copied().flatten() {
                        Some(c) if c != 0.0 => a.get(i).copied().flatten(),
                        Some(_) => b.as_ref().and_then(|b| b.get(i).copied().flatten()),
                        None => None,
                    })
                    .collect(),
            )
        }
    }
}

fn bool_value(b: bool) -> f64 {
    if b {
        1.0
    } else {
        0.0
    }
}

fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

fn as_series(v: Value, slots: usize) -> Vec<Option<f64>> {
    match v {
        Value::Scalar(n) => vec![finite(n); slots],
        Value::Series(s) => s,
        Value::Array(_) => vec![None; slots],
    }
}

fn map(v: Value, f: impl Fn(f64) -> Option<f64> + Copy) -> Value {
    let g = |s: Vec<Option<f64>>| s.into_iter().map(|x| x.and_then(f).and_then(finite)).collect();
    match v {
        Value::Scalar(n) => Value::Scalar(f(n).unwrap_or(f64::NAN)),
        Value::Series(s) => Value::Series(g(s)),
        Value::Array(items) => Value::Array(items.into_iter().map(g).collect()),
    }
}

fn zip(left: Value, right: Value, op: impl Fn(f64, f64) -> Option<f64> + Copy) -> Value {
    let pair = |x: Option<f64>, y: Option<f64>| x.zip(y).and_then(|(x, y)| op(x, y)).and_then(finite);
    match (left, right) {
        (Value::Scalar(x), Value::Scalar(y)) => Value::Scalar(op(x, y).unwrap_or(f64::NAN)),
        (Value::Scalar(x), other) => map(other, move |y| op(x, y)),
        (other, Value::Scalar(y)) => map(other, move |x| op(x, y)),
        (Value::Series(xs), Value::Series(ys)) => {
            Value::Series(xs.into_iter().zip(ys).map(|(x, y)| pair(x, y)).collect())
        }
        // The parser refuses series ∘ array; evaluate it as missing rather than guess.
        (Value::Array(items), _) | (_, Value::Array(items)) => {
            Value::Array(items.iter().map(|s| vec![None; s.len()]).collect())
        }
    }
}

fn aggregate(agg: Aggregate, series: &[Vec<Option<f64>>], slot: usize) -> Option<f64> {
    let mut values = series.iter().filter_map(|s| s.get(slot).copied().flatten());
    let first = values.next()?;
    let (mut sum, mut count, mut min, mut max) = (first, 1.0, first, first);
    for v in values {
        sum += v;
        count += 1.0;
        min = min.min(v);
        max = max.max(v);
    }
    finite(match agg {
        Aggregate::Sum => sum,
        Aggregate::Avg => sum / count,
        Aggregate::Min => min,
        Aggregate::Max => max,
    })
}

fn fill_series(series: Vec<Option<f64>>, fill: Fill) -> Vec<Option<f64>> {
    let mut last = None;
    series
        .into_iter()
        .map(|x| match (x, fill) {
            (Some(v), _) => {
                last = Some(v);
                Some(v)
            }
            (None, Fill::Value(v)) => Some(v),
            (None, Fill::Repeat) => last,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{evaluate, parse, Expr, Scope, Value};
    use std::collections::BTreeMap;

    struct Fixed(BTreeMap<&'static str, Vec<Option<f64>>>);

    impl Scope for Fixed {
        fn series(&self, id: &str) -> Option<Vec<Option<f64>>> {
            self.0.get(id).cloned()
        }
        fn metrics(&self, prefix: &str) -> Vec<Vec<Option<f64>>> {
            self.0
                .iter()
                .filter(|(k, _)| k.starts_with(prefix))
                .map(|(_, v)| v.clone())
                .collect()
        }
        fn slots(&self) -> usize {
            3
        }
    }

    fn scope() -> Fixed {
        Fixed(BTreeMap::from([
            ("m1", vec![Some(1.0), None, Some(3.0)]),
            ("m2", vec![Some(10.0), Some(20.0), None]),
        ]))
    }

    fn eval(text: &str) -> Value {
        evaluate(&parse(text).unwrap(), &scope())
    }

    fn err(text: &str) -> String {
        parse(text).unwrap_err().render(text)
    }

    #[test]
    fn precedence_parentheses_and_unary_minus() {
        assert_eq!(eval("1 + 2 * 3"), Value::Scalar(7.0));
        assert_eq!(eval("(1 + 2) * 3"), Value::Scalar(9.0));
        assert_eq!(eval("-2 * -3 - 1"), Value::Scalar(5.0));
        assert_eq!(eval("10 / 4 / 5"), Value::Scalar(0.5));
        assert_eq!(eval("1e2 + .5"), Value::Scalar(100.5));
    }

    #[test]
    fn series_align_by_slot_and_scalars_broadcast() {
        assert_eq!(eval("m1 + m2"), Value::Series(vec![Some(11.0), None, None]));
        assert_eq!(
            eval("100 * m1 / 2"),
            Value::Series(vec![Some(50.0), None, Some(150.0)])
        );
        assert_eq!(eval("m1 / 0"), Value::Series(vec![None, None, None]));
    }

    #[test]
    fn aggregates_skip_missing_values() {
        assert_eq!(
            eval("SUM([m1, m2])"),
            Value::Series(vec![Some(11.0), Some(20.0), Some(3.0)])
        );
        assert_eq!(
            eval("MAX(METRICS())"),
            Value::Series(vec![Some(10.0), Some(20.0), Some(3.0)])
        );
        assert_eq!(
            eval("AVG(METRICS(\"m1\"))"),
            Value::Series(vec![Some(1.0), None, Some(3.0)])
        );
        assert_eq!(
            eval("MIN([m1, m2 * 0])"),
            Value::Series(vec![Some(0.0), Some(0.0), Some(3.0)])
        );
    }

    #[test]
    fn fill_and_if() {
        assert_eq!(
            eval("FILL(m1, 0)"),
            Value::Series(vec![Some(1.0), Some(0.0), Some(3.0)])
        );
        assert_eq!(
            eval("FILL(m1, -1)"),
            Value::Series(vec![Some(1.0), Some(-1.0), Some(3.0)])
        );
        assert_eq!(
            eval("FILL(m2, REPEAT)"),
            Value::Series(vec![Some(10.0), Some(20.0), Some(20.0)])
        );
        assert_eq!(
            eval("IF(m2 > 15 AND m2 < 100, 1, 0)"),
            Value::Series(vec![Some(0.0), Some(1.0), None])
        );
        assert_eq!(
            eval("IF(m1 >= 3 || m1 == 1, m1)"),
            Value::Series(vec![Some(1.0), None, Some(3.0)])
        );
        assert_eq!(eval("ABS(-m1)"), Value::Series(vec![Some(1.0), None, Some(3.0)]));
    }

    #[test]
    fn errors_point_at_the_offending_character() {
        assert_eq!(
            err("SUM(m1, foo(m2))"),
            "  SUM(m1, foo(m2))\n          ^ unknown function foo; supported: ABS, AVG, FILL, IF, MAX, METRICS, MIN, SUM"
        );
        assert_eq!(
            err("RATE(m1)"),
            "  RATE(m1)\n  ^ CloudWatch's RATE is not supported here; supported: ABS, AVG, FILL, IF, MAX, METRICS, MIN, SUM"
        );
        assert_eq!(
            err("m1 ^ 2"),
            "  m1 ^ 2\n     ^ unexpected character '^' (the ^ power operator is not supported)"
        );
        assert_eq!(err("m1 +"), "  m1 +\n      ^ the expression ends too early");
        assert_eq!(err("(m1"), "  (m1\n     ^ expected \")\", found the end");
        assert_eq!(
            err("m1 m2"),
            "  m1 m2\n     ^ expected an operator or the end of the expression, found \"m2\""
        );
        assert_eq!(
            err("SUM(m1, m2)"),
            "  SUM(m1, m2)\n          ^ SUM takes one argument: an array such as [m1, m2] or METRICS()"
        );
        assert_eq!(
            err("FILL(m1, LINEAR)").lines().nth(1).unwrap(),
            "           ^ \"LINEAR\" is not a metric id: ids start with a lowercase letter"
        );
        assert_eq!(
            err("m1 + REPEAT"),
            "  m1 + REPEAT\n       ^ REPEAT is only FILL's second argument"
        );
        assert_eq!(err("sum([m1])"), "  sum([m1])\n  ^ write SUM in capitals");
        assert!(err("[m1] + m2").contains("an array combines with a number only"));
        assert!(matches!(parse("m1").unwrap(), Expr::Id { .. }));
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let text = "(".repeat(10_000) + "m1" + &")".repeat(10_000);
        assert!(parse(&text).unwrap_err().message.contains("nests more than"));
        let text = "-".repeat(10_000) + "m1";
        assert!(parse(&text).is_err());
    }
}

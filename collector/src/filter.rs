//! The filter expressions of GetTraceSummaries (`FilterExpression`): a useful subset of X-Ray's
//! language, parsed with nom into a small tree and evaluated against one trace.
//!
//! Design decision: whatever the documented language has and this module does not evaluate
//! (`edge()`, `rootcause.*`, `group.*`, `inferred`, `index`, …) is refused when parsing, with an
//! error naming the keyword, instead of being parsed and quietly treated as true or false — a
//! filter that silently matches the wrong traces is worse than one that says it cannot run.
//! Errors are data (a byte position and a message); only `Display` draws the caret.
//!
//! Semantics, X-Ray's where its documentation says, ours where it does not:
//! - plain keywords look at the trace's root segment (`ok`, `error`, `fault`, `responsetime`,
//!   `http.*`, `name`), or at the whole trace (`throttle`, `partial`, `duration`, `user`,
//!   `annotation.KEY`: any segment or subsegment);
//! - inside `service(...) { }` the root keywords, `throttle`, `partial` and `user` look at that
//!   segment instead; `duration` and `annotation.KEY` are refused there (X-Ray does not combine
//!   annotations with `service()`);
//! - a field that is absent matches no comparison, `!=` included, and a typed comparison between
//!   different types (`annotation.k = 5` against `"5"`) does not match.

use std::fmt;

use nom::bytes::complete::take_while1;
use nom::character::complete::{char, digit1};
use nom::combinator::{opt, recognize};
use nom::error::{ErrorKind, ParseError};
use nom::{IResult, Parser};
use serde_json::{Map, Value};

use crate::segment::Document;

/// How deeply `( )`, `!`/`NOT` and `service(...) { }` may nest. Deeper expressions are refused
/// so that neither parsing nor evaluation can overflow the stack.
pub const MAX_NESTING: usize = 64;

/// A parsed filter expression. The empty expression matches every trace.
///
/// `Display` prints a canonical form (lower-case keywords, groups in parentheses) that parses
/// back to the same filter.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    expr: Option<Expr>,
}

/// Why an expression was refused: where (a byte offset into it) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError {
    /// Byte offset into the expression; on a char boundary, at most the expression's length.
    pub position: usize,
    pub message: String,
    /// The expression, kept for `Display`.
    expression: String,
}

impl fmt::Display for FilterError {
    /// The message, then the expression on one line with a caret under the position.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Control characters (newlines, tabs) become one space each so the caret stays aligned.
        let line: String = self
            .expression
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let column = self
            .expression
            .char_indices()
            .take_while(|(at, _)| *at < self.position)
            .count();
        write!(f, "{}\n  {line}\n  {}^", self.message, " ".repeat(column))
    }
}

impl std::error::Error for FilterError {}

/// Parses a filter expression. Empty or white-space-only expressions match everything.
///
/// Fails on syntax errors and on keywords of X-Ray's language that are not supported here, with
/// the byte position of the problem.
pub fn parse(expression: &str) -> Result<Filter, FilterError> {
    let error = |at: &str, message: String| FilterError {
        position: expression.len().saturating_sub(at.len()),
        message,
        expression: expression.to_string(),
    };
    let start = expression.trim_start();
    if start.is_empty() {
        return Ok(Filter { expr: None });
    }
    let outermost = Nesting {
        depth: 0,
        in_service: false,
    };
    match or_expr(start, outermost) {
        Ok((rest, expr)) => {
            let rest = rest.trim_start();
            if rest.is_empty() {
                Ok(Filter { expr: Some(expr) })
            } else if rest.starts_with(')') {
                Err(error(rest, "unmatched ) (no ( before it)".to_string()))
            } else if rest.starts_with('}') {
                Err(error(rest, "unmatched } (no { before it)".to_string()))
            } else {
                Err(error(
                    rest,
                    format!(
                        "expected AND, OR or the end of the expression, found {}",
                        found(rest)
                    ),
                ))
            }
        }
        Err(nom::Err::Error(problem) | nom::Err::Failure(problem)) => Err(error(problem.at, problem.message)),
        Err(nom::Err::Incomplete(_)) => Err(error("", "incomplete expression".to_string())),
    }
}

impl Filter {
    /// Whether `trace` (its segments and independent subsegments) satisfies the filter. An empty
    /// trace matches only the empty filter.
    pub fn matches(&self, trace: &[Document]) -> bool {
        let Some(expr) = &self.expr else {
            return true;
        };
        let Some(root) = root(trace) else {
            return false;
        };
        expr.eval(&Trace { docs: trace, root }, None)
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.expr {
            Some(expr) => expr.fmt(f),
            None => Ok(()),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The tree.

#[derive(Debug, Clone, PartialEq)]
enum Expr {
    Or(Vec<Expr>),
    And(Vec<Expr>),
    Not(Box<Expr>),
    Flag {
        flag: Flag,
        expected: bool,
    },
    Number {
        field: NumberField,
        op: Op,
        value: f64,
    },
    Text {
        field: TextField,
        op: Op,
        value: String,
    },
    AnnotationSet {
        key: String,
    },
    Annotation {
        key: String,
        op: Op,
        value: Literal,
    },
    Service {
        service: Selector,
        inner: Option<Box<Expr>>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flag {
    Ok,
    Error,
    Fault,
    Throttle,
    Partial,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NumberField {
    ResponseTime,
    Duration,
    HttpStatus,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TextField {
    HttpUrl,
    HttpMethod,
    HttpUserAgent,
    HttpClientIp,
    User,
    Name,
}

/// The simple keywords: one place for their spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Keyword {
    Flag(Flag),
    Number(NumberField),
    Text(TextField),
}

impl Keyword {
    const ALL: [Keyword; 14] = [
        Keyword::Flag(Flag::Ok),
        Keyword::Flag(Flag::Error),
        Keyword::Flag(Flag::Fault),
        Keyword::Flag(Flag::Throttle),
        Keyword::Flag(Flag::Partial),
        Keyword::Number(NumberField::ResponseTime),
        Keyword::Number(NumberField::Duration),
        Keyword::Number(NumberField::HttpStatus),
        Keyword::Text(TextField::HttpUrl),
        Keyword::Text(TextField::HttpMethod),
        Keyword::Text(TextField::HttpUserAgent),
        Keyword::Text(TextField::HttpClientIp),
        Keyword::Text(TextField::User),
        Keyword::Text(TextField::Name),
    ];

    fn name(self) -> &'static str {
        match self {
            Keyword::Flag(Flag::Ok) => "ok",
            Keyword::Flag(Flag::Error) => "error",
            Keyword::Flag(Flag::Fault) => "fault",
            Keyword::Flag(Flag::Throttle) => "throttle",
            Keyword::Flag(Flag::Partial) => "partial",
            Keyword::Number(NumberField::ResponseTime) => "responsetime",
            Keyword::Number(NumberField::Duration) => "duration",
            Keyword::Number(NumberField::HttpStatus) => "http.status",
            Keyword::Text(TextField::HttpUrl) => "http.url",
            Keyword::Text(TextField::HttpMethod) => "http.method",
            Keyword::Text(TextField::HttpUserAgent) => "http.useragent",
            Keyword::Text(TextField::HttpClientIp) => "http.clientip",
            Keyword::Text(TextField::User) => "user",
            Keyword::Text(TextField::Name) => "name",
        }
    }

    fn named(word: &str) -> Option<Keyword> {
        Keyword::ALL
            .into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(word))
    }
}

/// Keywords of X-Ray's language that this module refuses by name (besides `rootcause.*` and
/// `group.*`).
const UNSUPPORTED: [&str; 12] = [
    "edge",
    "inferred",
    "first",
    "last",
    "remote",
    "root",
    "index",
    "coverage",
    "message",
    "availabilityzone",
    "instance.id",
    "resource.arn",
];

/// "ok, error, …, annotation.KEY, service(...)", for error messages.
fn supported() -> String {
    let mut names: Vec<&str> = Keyword::ALL.into_iter().map(Keyword::name).collect();
    names.extend(["annotation.KEY", "service(...)"]);
    names.join(", ")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Contains,
    BeginsWith,
    EndsWith,
}

impl Op {
    const ALL: [Op; 9] = [
        Op::Eq,
        Op::Ne,
        Op::Lt,
        Op::Le,
        Op::Gt,
        Op::Ge,
        Op::Contains,
        Op::BeginsWith,
        Op::EndsWith,
    ];
    const FOR_NUMBERS: &'static str = "=, !=, <, <=, > or >=";
    const FOR_STRINGS: &'static str = "=, !=, CONTAINS, BEGINSWITH or ENDSWITH";

    fn symbol(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Contains => "CONTAINS",
            Op::BeginsWith => "BEGINSWITH",
            Op::EndsWith => "ENDSWITH",
        }
    }

    fn for_numbers(self) -> bool {
        matches!(self, Op::Eq | Op::Ne | Op::Lt | Op::Le | Op::Gt | Op::Ge)
    }

    fn for_strings(self) -> bool {
        matches!(
            self,
            Op::Eq | Op::Ne | Op::Contains | Op::BeginsWith | Op::EndsWith
        )
    }

    // `=` on numbers is exact on purpose: the user wrote the number, the SDK sent one.
    #[allow(clippy::float_cmp)]
    fn numbers(self, actual: f64, expected: f64) -> bool {
        match self {
            Op::Eq => actual == expected,
            Op::Ne => actual != expected,
            Op::Lt => actual < expected,
            Op::Le => actual <= expected,
            Op::Gt => actual > expected,
            Op::Ge => actual >= expected,
            Op::Contains | Op::BeginsWith | Op::EndsWith => false,
        }
    }

    fn strings(self, actual: &str, expected: &str) -> bool {
        match self {
            Op::Eq => actual == expected,
            Op::Ne => actual != expected,
            Op::Contains => actual.contains(expected),
            Op::BeginsWith => actual.starts_with(expected),
            Op::EndsWith => actual.ends_with(expected),
            Op::Lt | Op::Le | Op::Gt | Op::Ge => false,
        }
    }
}

/// An annotation's value as written in the filter.
#[derive(Debug, Clone, PartialEq)]
enum Literal {
    Text(String),
    Number(f64),
    Bool(bool),
}

/// Which segments `service(...)` means.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Selector {
    /// `service()`.
    Any,
    /// `service("name")`.
    Name(String),
    /// `service(id(name: "…", type: "…", account.id: "…"))`: every given field must match.
    Id {
        name: Option<String>,
        origin: Option<String>,
        account_id: Option<String>,
    },
}

// ---------------------------------------------------------------------------------------------
// Parsing.

/// Where a parse went wrong: `at` is the rest of the expression from the problem on.
#[derive(Debug)]
struct Problem<'a> {
    at: &'a str,
    message: String,
}

impl<'a> ParseError<&'a str> for Problem<'a> {
    fn from_error_kind(input: &'a str, kind: ErrorKind) -> Self {
        Problem {
            at: input,
            message: format!("unexpected {} ({})", found(input), kind.description()),
        }
    }

    fn append(_: &'a str, _: ErrorKind, other: Self) -> Self {
        other
    }
}

type PResult<'a, T> = IResult<&'a str, T, Problem<'a>>;

fn failure(at: &str, message: impl Into<String>) -> nom::Err<Problem<'_>> {
    nom::Err::Failure(Problem {
        at,
        message: message.into(),
    })
}

fn fail<T>(at: &str, message: impl Into<String>) -> PResult<'_, T> {
    Err(failure(at, message))
}

#[derive(Debug, Clone, Copy)]
struct Nesting {
    depth: usize,
    in_service: bool,
}

impl Nesting {
    fn deeper(self, at: &str) -> Result<Nesting, nom::Err<Problem<'_>>> {
        if self.depth >= MAX_NESTING {
            return Err(failure(at, format!("nested more than {MAX_NESTING} levels deep")));
        }
        Ok(Nesting {
            depth: self.depth + 1,
            ..self
        })
    }
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '.'
}

fn is_operator_char(c: char) -> bool {
    matches!(c, '=' | '!' | '<' | '>')
}

/// A keyword-like word: letters, digits, `_` and `.` (`http.status`, `annotation.k`).
fn word(i: &str) -> PResult<'_, &str> {
    take_while1(is_word_char).parse(i)
}

/// The rest after `expected` (any case), if that is the next word after white space.
fn next_word_is<'a>(i: &'a str, expected: &str) -> Option<&'a str> {
    match word(i.trim_start()) {
        Ok((rest, w)) if w.eq_ignore_ascii_case(expected) => Some(rest),
        _ => None,
    }
}

/// The next token, quoted, for messages: `"responsetime"`, `"=="`, `"("`, `the end of …`.
fn found(i: &str) -> String {
    let i = i.trim_start();
    let Some(first) = i.chars().next() else {
        return "the end of the expression".to_string();
    };
    let end = if is_word_char(first) {
        i.find(|c: char| !is_word_char(c)).unwrap_or(i.len())
    } else if is_operator_char(first) {
        i.find(|c: char| !is_operator_char(c)).unwrap_or(i.len())
    } else {
        first.len_utf8()
    };
    let token = i.get(..end).unwrap_or(i);
    if token.chars().count() > 40 {
        let short: String = token.chars().take(40).collect();
        format!("{short:?}…")
    } else {
        format!("{token:?}")
    }
}

/// `and_expr (OR and_expr)*`: AND binds tighter than OR.
fn or_expr(i: &str, nesting: Nesting) -> PResult<'_, Expr> {
    joined(i, nesting, "OR", and_expr, Expr::Or)
}

fn and_expr(i: &str, nesting: Nesting) -> PResult<'_, Expr> {
    joined(i, nesting, "AND", unary, Expr::And)
}

fn joined<'a>(
    i: &'a str,
    nesting: Nesting,
    operator: &str,
    term: fn(&'a str, Nesting) -> PResult<'a, Expr>,
    build: fn(Vec<Expr>) -> Expr,
) -> PResult<'a, Expr> {
    let (mut rest, first) = term(i, nesting)?;
    let mut terms = vec![first];
    while let Some(after) = next_word_is(rest, operator) {
        let (after, next) = term(after, nesting)?;
        terms.push(next);
        rest = after;
    }
    let expr = if terms.len() == 1 {
        terms.swap_remove(0)
    } else {
        build(terms)
    };
    Ok((rest, expr))
}

/// `!term`, `NOT term` or a primary.
fn unary(i: &str, nesting: Nesting) -> PResult<'_, Expr> {
    let i = i.trim_start();
    let negated = match i.strip_prefix('!') {
        Some(rest) if !rest.starts_with('=') => Some(rest),
        _ => next_word_is(i, "NOT"),
    };
    match negated {
        Some(rest) => {
            let (rest, inner) = unary(rest, nesting.deeper(i)?)?;
            Ok((rest, Expr::Not(Box::new(inner))))
        }
        None => primary(i, nesting),
    }
}

/// `( expr )` or one condition.
fn primary(i: &str, nesting: Nesting) -> PResult<'_, Expr> {
    if let Some(inside) = i.strip_prefix('(') {
        let (rest, expr) = or_expr(inside, nesting.deeper(i)?)?;
        let rest = rest.trim_start();
        return match rest.strip_prefix(')') {
            Some(after) => Ok((after, expr)),
            None if rest.is_empty() => fail(i, "this ( is never closed"),
            None => fail(rest, format!("expected AND, OR or ), found {}", found(rest))),
        };
    }
    let Ok((rest, w)) = word(i) else {
        return fail(i, format!("expected a condition, found {}", found(i)));
    };
    let lower = w.to_ascii_lowercase();
    if lower == "and" || lower == "or" || w.starts_with(|c: char| c.is_ascii_digit()) {
        return fail(i, format!("expected a condition, found {}", found(i)));
    }
    if let Some(keyword) = Keyword::named(&lower) {
        return simple_condition(i, keyword, rest, nesting);
    }
    if lower == "annotation" || lower.starts_with("annotation.") {
        return annotation(i, w, rest, nesting);
    }
    if lower == "service" {
        return service(i, rest, nesting);
    }
    fail(i, unsupported_or_unknown(w))
}

fn unsupported_or_unknown(w: &str) -> String {
    let lower = w.to_ascii_lowercase();
    let head = lower.split('.').next().unwrap_or_default();
    if lower == "id" {
        return "\"id(...)\" names a service and is only valid inside service(...), \
                as in service(id(name: \"checkout\")) { fault }"
            .to_string();
    }
    let shown = if lower == "edge" {
        "edge(...)".to_string()
    } else {
        w.to_string()
    };
    if UNSUPPORTED.contains(&lower.as_str()) || head == "rootcause" || head == "group" || lower == "type" {
        format!("\"{shown}\" is not supported here; supported: {}", supported())
    } else {
        format!("unknown keyword \"{w}\"; supported: {}", supported())
    }
}

/// An operator, if the next token is one; `None` leaves the input as it was.
fn operator(i: &str) -> PResult<'_, Option<Op>> {
    let i = i.trim_start();
    let symbols: PResult<'_, &str> = take_while1(is_operator_char).parse(i);
    if let Ok((rest, symbols)) = symbols {
        // A lone `!` starts the next (negated) condition; the caller reports the missing AND/OR.
        if symbols == "!" {
            return Ok((i, None));
        }
        return match Op::ALL.into_iter().find(|op| op.symbol() == symbols) {
            Some(op) => Ok((rest, Some(op))),
            None => fail(
                i,
                format!(
                    "unknown operator {symbols:?}; operators are =, !=, <, <=, >, >=, \
                     CONTAINS, BEGINSWITH and ENDSWITH"
                ),
            ),
        };
    }
    if let Ok((rest, w)) = word(i) {
        if let Some(op) = Op::ALL
            .into_iter()
            .find(|op| !op.for_numbers() && op.symbol().eq_ignore_ascii_case(w))
        {
            return Ok((rest, Some(op)));
        }
    }
    Ok((i, None))
}

/// `ok`, `!`-less forms of the boolean keywords, and `keyword operator value`.
fn simple_condition<'a>(
    start: &'a str,
    keyword: Keyword,
    rest: &'a str,
    nesting: Nesting,
) -> PResult<'a, Expr> {
    let name = keyword.name();
    if nesting.in_service && keyword == Keyword::Number(NumberField::Duration) {
        return fail(
            start,
            "duration measures the whole trace and cannot be used inside service(...) { }; \
             use responsetime",
        );
    }
    let at_op = rest.trim_start();
    let (after_op, op) = operator(at_op)?;
    let value_at = after_op.trim_start();
    match (keyword, op) {
        (Keyword::Flag(flag), None) => Ok((rest, Expr::Flag { flag, expected: true })),
        (Keyword::Flag(flag), Some(op @ (Op::Eq | Op::Ne))) => {
            let (rest, value) = boolean(value_at, op)?;
            let expected = value == (op == Op::Eq);
            Ok((rest, Expr::Flag { flag, expected }))
        }
        (Keyword::Flag(_), Some(op)) => fail(
            at_op,
            format!(
                "{name} is true or false: compare it with = or !=, not {}",
                op.symbol()
            ),
        ),
        (Keyword::Number(_), None) => fail(
            at_op,
            format!(
                "{name} needs an operator ({}), found {}",
                Op::FOR_NUMBERS,
                found(at_op)
            ),
        ),
        (Keyword::Number(field), Some(op)) if op.for_numbers() => {
            let (rest, value) = number(value_at, op)?;
            Ok((rest, Expr::Number { field, op, value }))
        }
        (Keyword::Number(_), Some(op)) => fail(
            at_op,
            format!(
                "{name} is a number: compare it with {}, not {}",
                Op::FOR_NUMBERS,
                op.symbol()
            ),
        ),
        (Keyword::Text(_), None) => fail(
            at_op,
            format!(
                "{name} needs an operator ({}), found {}",
                Op::FOR_STRINGS,
                found(at_op)
            ),
        ),
        (Keyword::Text(field), Some(op)) if op.for_strings() => {
            if !value_at.starts_with('"') {
                return fail(
                    value_at,
                    format!(
                        "expected a double-quoted string after {}, found {}",
                        op.symbol(),
                        found(value_at)
                    ),
                );
            }
            let (rest, value) = quoted(value_at)?;
            Ok((rest, Expr::Text { field, op, value }))
        }
        (Keyword::Text(_), Some(op)) => fail(
            at_op,
            format!(
                "{name} is a string: compare it with {}, not {}",
                Op::FOR_STRINGS,
                op.symbol()
            ),
        ),
    }
}

/// `annotation.KEY` (set anywhere), or `annotation.KEY operator value` (typed).
fn annotation<'a>(start: &'a str, w: &'a str, rest: &'a str, nesting: Nesting) -> PResult<'a, Expr> {
    const PREFIX: &str = "annotation.";
    let key = w.get(PREFIX.len()..).unwrap_or_default();
    let key_at = start.get(PREFIX.len()..).unwrap_or(start);
    if key.is_empty() {
        return fail(
            if w.len() < PREFIX.len() { rest } else { key_at },
            "expected an annotation key: annotation.KEY",
        );
    }
    if !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return fail(
            key_at,
            format!("annotation key {key:?} may only have letters, digits and _"),
        );
    }
    if nesting.in_service {
        return fail(
            start,
            "annotation.KEY cannot be used inside service(...) { }: annotations are matched \
             across the whole trace",
        );
    }
    let key = key.to_string();
    let at_op = rest.trim_start();
    let (after_op, op) = operator(at_op)?;
    let Some(op) = op else {
        return Ok((rest, Expr::AnnotationSet { key }));
    };
    let value_at = after_op.trim_start();
    let (rest, value) = literal(value_at, op)?;
    let fits = match value {
        Literal::Text(_) => op.for_strings(),
        Literal::Number(_) => op.for_numbers(),
        Literal::Bool(_) => matches!(op, Op::Eq | Op::Ne),
    };
    if !fits {
        let allowed = match value {
            Literal::Text(_) => Op::FOR_STRINGS,
            Literal::Number(_) => Op::FOR_NUMBERS,
            Literal::Bool(_) => "= or !=",
        };
        return fail(
            at_op,
            format!(
                "{} does not compare {}; use {allowed}",
                op.symbol(),
                match value {
                    Literal::Text(_) => "strings",
                    Literal::Number(_) => "numbers",
                    Literal::Bool(_) => "true or false",
                }
            ),
        );
    }
    Ok((rest, Expr::Annotation { key, op, value }))
}

/// `service()`, `service("name")`, `service(id(...))`, each with an optional `{ filter }`.
fn service<'a>(start: &'a str, rest: &'a str, nesting: Nesting) -> PResult<'a, Expr> {
    if nesting.in_service {
        return fail(start, "service(...) cannot be used inside service(...) { }");
    }
    let open = rest.trim_start();
    let Some(args) = open.strip_prefix('(') else {
        return fail(
            open,
            format!(
                "expected ( after service, as in service(\"name\") {{ fault }}, found {}",
                found(open)
            ),
        );
    };
    let args = args.trim_start();
    let (rest, service) = if let Some(after) = args.strip_prefix(')') {
        (after, Selector::Any)
    } else {
        let (after, service) = if args.starts_with('"') {
            let (after, name) = quoted(args)?;
            (after, Selector::Name(name))
        } else if let Some(after) = next_word_is(args, "id") {
            id_selector(after)?
        } else {
            return fail(
                args,
                format!(
                    "expected a quoted service name, id(...) or ), found {}",
                    found(args)
                ),
            );
        };
        let after = after.trim_start();
        match after.strip_prefix(')') {
            Some(after) => (after, service),
            None if after.is_empty() => return fail(open, "this ( is never closed"),
            None => return fail(after, format!("expected ), found {}", found(after))),
        }
    };
    let brace = rest.trim_start();
    let Some(body) = brace.strip_prefix('{') else {
        return Ok((rest, Expr::Service { service, inner: None }));
    };
    let inside = Nesting {
        in_service: true,
        ..nesting.deeper(brace)?
    };
    let (after, inner) = or_expr(body, inside)?;
    let after = after.trim_start();
    match after.strip_prefix('}') {
        Some(after) => Ok((
            after,
            Expr::Service {
                service,
                inner: Some(Box::new(inner)),
            },
        )),
        None if after.is_empty() => fail(brace, "this { is never closed"),
        None => fail(after, format!("expected AND, OR or }}, found {}", found(after))),
    }
}

/// `(name: "…", type: "…", account.id: "…")` after `id`, each field optional but at least one.
fn id_selector(i: &str) -> PResult<'_, Selector> {
    let open = i.trim_start();
    let Some(mut rest) = open.strip_prefix('(') else {
        return fail(open, format!("expected ( after id, found {}", found(open)));
    };
    let (mut name, mut origin, mut account_id) = (None, None, None);
    loop {
        let field_at = rest.trim_start();
        let Ok((after, field)) = word(field_at) else {
            return fail(
                field_at,
                format!(
                    "expected name, type or account.id in id(...), found {}",
                    found(field_at)
                ),
            );
        };
        let slot = match field.to_ascii_lowercase().as_str() {
            "name" => &mut name,
            "type" => &mut origin,
            "account.id" => &mut account_id,
            _ => {
                return fail(
                    field_at,
                    format!("unknown id(...) field {field:?}; id(...) takes name, type and account.id"),
                )
            }
        };
        if slot.is_some() {
            return fail(field_at, format!("{field} is given twice in id(...)"));
        }
        let colon = after.trim_start();
        let Some(after) = colon.strip_prefix(':') else {
            return fail(colon, format!("expected : after {field}, found {}", found(colon)));
        };
        let value_at = after.trim_start();
        if !value_at.starts_with('"') {
            return fail(
                value_at,
                format!(
                    "expected a double-quoted string after {field}:, found {}",
                    found(value_at)
                ),
            );
        }
        let (after, value) = quoted(value_at)?;
        *slot = Some(value);
        let after = after.trim_start();
        if let Some(after) = after.strip_prefix(',') {
            rest = after;
        } else if let Some(after) = after.strip_prefix(')') {
            return Ok((
                after,
                Selector::Id {
                    name,
                    origin,
                    account_id,
                },
            ));
        } else if after.is_empty() {
            return fail(open, "this ( is never closed");
        } else {
            return fail(
                after,
                format!("expected , or ) in id(...), found {}", found(after)),
            );
        }
    }
}

fn boolean(i: &str, after: Op) -> PResult<'_, bool> {
    match word(i) {
        Ok((rest, w)) if w.eq_ignore_ascii_case("true") => Ok((rest, true)),
        Ok((rest, w)) if w.eq_ignore_ascii_case("false") => Ok((rest, false)),
        _ => fail(
            i,
            format!(
                "expected true or false after {}, found {}",
                after.symbol(),
                found(i)
            ),
        ),
    }
}

/// `-?digits(.digits)?`.
fn number(i: &str, after: Op) -> PResult<'_, f64> {
    let text: PResult<'_, &str> = recognize((opt(char('-')), digit1, opt((char('.'), digit1)))).parse(i);
    match text {
        Ok((rest, text)) if !rest.starts_with(is_word_char) => match text.parse::<f64>() {
            Ok(value) if value.is_finite() => Ok((rest, value)),
            _ => fail(i, "number out of range"),
        },
        _ => fail(
            i,
            format!("expected a number after {}, found {}", after.symbol(), found(i)),
        ),
    }
}

/// A double-quoted string; `\"` and `\\` are the only escapes.
fn quoted(i: &str) -> PResult<'_, String> {
    let Some(body) = i.strip_prefix('"') else {
        return fail(i, format!("expected a double-quoted string, found {}", found(i)));
    };
    let mut value = String::new();
    let mut chars = body.char_indices();
    while let Some((at, c)) = chars.next() {
        match c {
            '"' => return Ok((body.get(at + 1..).unwrap_or_default(), value)),
            '\\' => match chars.next() {
                Some((_, escaped @ ('"' | '\\'))) => value.push(escaped),
                Some((_, other)) => {
                    return fail(
                        body.get(at..).unwrap_or(body),
                        format!(
                            "unknown escape \\{} in a string; only \\\" and \\\\ are escapes",
                            other.escape_debug()
                        ),
                    )
                }
                None => break,
            },
            c => value.push(c),
        }
    }
    fail(i, "this string is never closed (no \" after it)")
}

/// An annotation value: a string, a number, true or false.
fn literal(i: &str, after: Op) -> PResult<'_, Literal> {
    if i.starts_with('"') {
        let (rest, text) = quoted(i)?;
        return Ok((rest, Literal::Text(text)));
    }
    if i.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
        let (rest, value) = number(i, after)?;
        return Ok((rest, Literal::Number(value)));
    }
    if let Ok((rest, value)) = boolean(i, after) {
        return Ok((rest, Literal::Bool(value)));
    }
    fail(
        i,
        format!(
            "expected a value after {} (a \"string\", a number, true or false), found {}",
            after.symbol(),
            found(i)
        ),
    )
}

// ---------------------------------------------------------------------------------------------
// Evaluation.

struct Trace<'t> {
    docs: &'t [Document],
    root: &'t Document,
}

/// The segment (not an independent subsegment) with no parent, the earliest if several; else the
/// earliest segment; else the earliest document.
fn root(trace: &[Document]) -> Option<&Document> {
    let earliest = |a: &&Document, b: &&Document| a.start_time.total_cmp(&b.start_time);
    trace
        .iter()
        .filter(|d| !d.independent_subsegment && d.parent_id.is_none())
        .min_by(earliest)
        .or_else(|| {
            trace
                .iter()
                .filter(|d| !d.independent_subsegment)
                .min_by(earliest)
        })
        .or_else(|| trace.iter().min_by(earliest))
}

/// Each document and every subsegment embedded in it, at any depth (an explicit stack, so deep
/// documents cannot overflow the call stack).
struct Parts<'t> {
    stack: Vec<&'t Value>,
}

impl<'t> Iterator for Parts<'t> {
    type Item = &'t Map<String, Value>;

    fn next(&mut self) -> Option<Self::Item> {
        while let Some(value) = self.stack.pop() {
            if let Value::Object(map) = value {
                if let Some(Value::Array(subsegments)) = map.get("subsegments") {
                    self.stack.extend(subsegments.iter());
                }
                return Some(map);
            }
        }
        None
    }
}

fn parts(docs: &[Document]) -> Parts<'_> {
    Parts {
        stack: docs.iter().map(|d| &d.json).collect(),
    }
}

fn flag(part: &Map<String, Value>, name: &str) -> bool {
    part.get(name).and_then(Value::as_bool) == Some(true)
}

fn in_progress(part: &Map<String, Value>) -> bool {
    flag(part, "in_progress") || part.get("end_time").and_then(Value::as_f64).is_none()
}

fn text<'t>(doc: &'t Document, pointer: &str) -> Option<&'t str> {
    doc.json.pointer(pointer).and_then(Value::as_str)
}

impl Expr {
    /// `scope` is the segment of the enclosing `service(...) { }`, if any.
    fn eval(&self, trace: &Trace<'_>, scope: Option<&Document>) -> bool {
        let subject = scope.unwrap_or(trace.root);
        match self {
            Expr::Or(terms) => terms.iter().any(|t| t.eval(trace, scope)),
            Expr::And(terms) => terms.iter().all(|t| t.eval(trace, scope)),
            Expr::Not(inner) => !inner.eval(trace, scope),
            Expr::Flag {
                flag: which,
                expected,
            } => {
                let own = |name| subject.json.as_object().is_some_and(|m| flag(m, name));
                let value = match (which, scope) {
                    (Flag::Ok, _) => !own("error") && !own("fault") && !own("throttle"),
                    (Flag::Error, _) => own("error"),
                    (Flag::Fault, _) => own("fault"),
                    (Flag::Throttle, Some(_)) => own("throttle"),
                    (Flag::Throttle, None) => parts(trace.docs).any(|p| flag(p, "throttle")),
                    (Flag::Partial, Some(segment)) => parts(std::slice::from_ref(segment)).any(in_progress),
                    (Flag::Partial, None) => parts(trace.docs).any(in_progress),
                };
                value == *expected
            }
            Expr::Number { field, op, value } => {
                let actual = match field {
                    NumberField::ResponseTime => subject.end_time.map(|end| end - subject.start_time),
                    NumberField::Duration => duration(trace.docs),
                    NumberField::HttpStatus => subject
                        .json
                        .pointer("/http/response/status")
                        .and_then(Value::as_f64),
                };
                actual.is_some_and(|actual| op.numbers(actual, *value))
            }
            Expr::Text { field, op, value } => {
                let holds = |actual: Option<&str>| actual.is_some_and(|a| op.strings(a, value));
                match field {
                    TextField::HttpUrl => holds(text(subject, "/http/request/url")),
                    TextField::HttpMethod => holds(text(subject, "/http/request/method")),
                    TextField::HttpUserAgent => holds(text(subject, "/http/request/user_agent")),
                    TextField::HttpClientIp => holds(text(subject, "/http/request/client_ip")),
                    TextField::Name => holds(Some(&subject.name)),
                    // "Value of user field on any segment in the trace" (X-Ray's documentation).
                    TextField::User if scope.is_none() => trace
                        .docs
                        .iter()
                        .any(|d| holds(d.json.get("user").and_then(Value::as_str))),
                    TextField::User => holds(subject.json.get("user").and_then(Value::as_str)),
                }
            }
            Expr::AnnotationSet { key } => annotations(trace.docs).any(|a| a.contains_key(key)),
            Expr::Annotation { key, op, value } => annotations(trace.docs)
                .filter_map(|a| a.get(key))
                .any(|actual| annotation_holds(*op, actual, value)),
            Expr::Service { service, inner } => trace
                .docs
                .iter()
                .filter(|d| !d.independent_subsegment && service.selects(d))
                .any(|segment| inner.as_ref().is_none_or(|e| e.eval(trace, Some(segment)))),
        }
    }
}

/// Latest end − earliest start over the trace's documents; `None` while nothing has ended.
fn duration(docs: &[Document]) -> Option<f64> {
    let start = docs.iter().map(|d| d.start_time).min_by(f64::total_cmp)?;
    let end = docs.iter().filter_map(|d| d.end_time).max_by(f64::total_cmp)?;
    Some(end - start)
}

fn annotations(docs: &[Document]) -> impl Iterator<Item = &Map<String, Value>> {
    parts(docs).filter_map(|p| p.get("annotations").and_then(Value::as_object))
}

fn annotation_holds(op: Op, actual: &Value, expected: &Literal) -> bool {
    match (expected, actual) {
        (Literal::Text(expected), Value::String(actual)) => op.strings(actual, expected),
        (Literal::Number(expected), Value::Number(actual)) => actual
            .as_f64()
            .is_some_and(|actual| op.numbers(actual, *expected)),
        (Literal::Bool(expected), Value::Bool(actual)) => match op {
            Op::Eq => actual == expected,
            Op::Ne => actual != expected,
            _ => false,
        },
        _ => false,
    }
}

impl Selector {
    fn selects(&self, segment: &Document) -> bool {
        let is = |wanted: &Option<String>, actual: Option<&str>| {
            wanted.as_deref().is_none_or(|w| actual == Some(w))
        };
        match self {
            Selector::Any => true,
            Selector::Name(name) => segment.name == *name,
            Selector::Id {
                name,
                origin,
                account_id,
            } => {
                is(name, Some(&segment.name))
                    && is(origin, text(segment, "/origin"))
                    && is(account_id, text(segment, "/aws/account_id"))
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The canonical text form.

fn write_quoted(f: &mut fmt::Formatter<'_>, text: &str) -> fmt::Result {
    f.write_str("\"")?;
    for c in text.chars() {
        if matches!(c, '"' | '\\') {
            f.write_str("\\")?;
        }
        write!(f, "{c}")?;
    }
    f.write_str("\"")
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let join = |f: &mut fmt::Formatter<'_>, terms: &[Expr], operator: &str| {
            for (n, term) in terms.iter().enumerate() {
                if n > 0 {
                    write!(f, " {operator} ")?;
                }
                if matches!(term, Expr::Or(_) | Expr::And(_)) {
                    write!(f, "({term})")?;
                } else {
                    write!(f, "{term}")?;
                }
            }
            Ok(())
        };
        match self {
            Expr::Or(terms) => join(f, terms, "OR"),
            Expr::And(terms) => join(f, terms, "AND"),
            // `!` applies to the one condition after it, so only groups need parentheses.
            Expr::Not(inner) => match **inner {
                Expr::Or(_) | Expr::And(_) => write!(f, "!({inner})"),
                _ => write!(f, "!{inner}"),
            },
            Expr::Flag { flag, expected } => {
                f.write_str(Keyword::Flag(*flag).name())?;
                if *expected {
                    Ok(())
                } else {
                    f.write_str(" = false")
                }
            }
            Expr::Number { field, op, value } => {
                write!(f, "{} {} {value}", Keyword::Number(*field).name(), op.symbol())
            }
            Expr::Text { field, op, value } => {
                write!(f, "{} {} ", Keyword::Text(*field).name(), op.symbol())?;
                write_quoted(f, value)
            }
            Expr::AnnotationSet { key } => write!(f, "annotation.{key}"),
            Expr::Annotation { key, op, value } => {
                write!(f, "annotation.{key} {} ", op.symbol())?;
                match value {
                    Literal::Text(text) => write_quoted(f, text),
                    Literal::Number(number) => write!(f, "{number}"),
                    Literal::Bool(value) => write!(f, "{value}"),
                }
            }
            Expr::Service { service, inner } => {
                f.write_str("service(")?;
                match service {
                    Selector::Any => {}
                    Selector::Name(name) => write_quoted(f, name)?,
                    Selector::Id {
                        name,
                        origin,
                        account_id,
                    } => {
                        f.write_str("id(")?;
                        let fields = [("name", name), ("type", origin), ("account.id", account_id)];
                        let mut first = true;
                        for (field, value) in fields {
                            if let Some(value) = value {
                                if !first {
                                    f.write_str(", ")?;
                                }
                                first = false;
                                write!(f, "{field}: ")?;
                                write_quoted(f, value)?;
                            }
                        }
                        f.write_str(")")?;
                    }
                }
                f.write_str(")")?;
                match inner {
                    Some(inner) => write!(f, " {{ {inner} }}"),
                    None => Ok(()),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{parse, Filter, MAX_NESTING};
    use crate::segment::Document;

    const TRACE_ID: &str = "1-6b167cb7-42b5676dae8fc24a2b52f25e";

    /// One segment or independent subsegment, given its fields (the trace id is added).
    fn doc(fields: &str) -> Vec<Document> {
        let text = format!("{{\"trace_id\":\"{TRACE_ID}\",{fields}}}");
        crate::segment::parse(text.as_bytes()).unwrap()
    }

    /// A checkout trace: the root `api` (200 in 2.5 s, user alice, annotations on a subsegment,
    /// a throttled DynamoDB call) and a downstream `backend` segment that faulted (502).
    fn checkout() -> Vec<Document> {
        let mut trace = doc(
            r#""id":"a000000000000001","name":"api","start_time":100,"end_time":102.5,
               "user":"alice","origin":"AWS::ECS::Container",
               "http":{"request":{"method":"GET","url":"https://shop.example.com/api/cart?id=7",
                                  "user_agent":"curl/8.5","client_ip":"203.0.113.9"},
                       "response":{"status":200}},
               "annotations":{"tier":"gold"},
               "subsegments":[{"id":"b000000000000001","name":"DynamoDB","start_time":100.1,"end_time":100.4,
                               "throttle":true,"error":true,
                               "annotations":{"retries":3,"cached":false,"order_id":"817DL6VO"}}]"#,
        );
        trace.extend(doc(
            r#""id":"a000000000000002","name":"backend","parent_id":"b000000000000001",
               "start_time":100.5,"end_time":103,"fault":true,
               "origin":"AWS::EC2::Instance","aws":{"account_id":"123456789012"},
               "user":"svc-backend",
               "http":{"request":{"method":"POST","url":"http://backend.internal/price"},
                       "response":{"status":502}}"#,
        ));
        trace
    }

    fn matches(expression: &str, trace: &[Document]) -> bool {
        parse(expression)
            .unwrap_or_else(|e| panic!("{expression:?} did not parse:\n{e}"))
            .matches(trace)
    }

    fn error_of(expression: &str) -> super::FilterError {
        parse(expression).expect_err(expression)
    }

    #[test]
    fn an_empty_expression_matches_every_trace_even_an_empty_one() {
        for expression in ["", "   ", "\n\t"] {
            let filter = parse(expression).unwrap();
            assert!(filter.matches(&checkout()));
            assert!(filter.matches(&[]));
        }
        assert!(!matches("ok", &[]), "a non-empty filter on no segments");
    }

    #[test]
    fn error_and_fault_come_from_the_root_segment_only() {
        let trace = checkout();
        // The throttled DynamoDB call has error: true, the backend has fault: true; the root neither.
        for (expression, expected) in [
            ("fault", false),
            ("error", false),
            ("!fault", true),
            ("fault = false", true),
            ("fault != true", true),
            ("fault = true", false),
            ("error != false", false),
        ] {
            assert_eq!(matches(expression, &trace), expected, "{expression}");
        }
        let failed = doc(
            r#""id":"a000000000000001","name":"api","start_time":1,"end_time":2,"fault":true,
               "http":{"response":{"status":503}}"#,
        );
        assert!(matches("fault", &failed));
        assert!(matches("FAULT = TRUE", &failed));
        assert!(!matches("ok", &failed));
    }

    #[test]
    fn throttle_is_any_segment_or_subsegment_but_ok_looks_at_the_root() {
        let trace = checkout();
        assert!(matches("throttle", &trace), "the embedded DynamoDB call");
        assert!(matches("ok", &trace), "the root has no error, fault or throttle");
        assert!(!matches("!ok", &trace));
        let calm = doc(r#""id":"a000000000000001","name":"api","start_time":1,"end_time":2"#);
        assert!(!matches("throttle", &calm));
    }

    #[test]
    fn partial_is_any_document_or_subsegment_in_progress() {
        assert!(!matches("partial", &checkout()));
        let mut trace = checkout();
        trace.extend(doc(
            r#""id":"a000000000000003","name":"worker","parent_id":"a000000000000002",
               "start_time":101,"in_progress":true"#,
        ));
        assert!(matches("partial", &trace));
        let nested = doc(
            r#""id":"a000000000000001","name":"api","start_time":1,"end_time":2,
               "subsegments":[{"id":"b000000000000001","name":"s","start_time":1,"in_progress":true}]"#,
        );
        assert!(matches("partial", &nested));
    }

    #[test]
    fn responsetime_is_the_roots_and_duration_spans_the_whole_trace() {
        let trace = checkout();
        for (expression, expected) in [
            ("responsetime = 2.5", true),
            ("responsetime > 2", true),
            ("responsetime >= 2.5", true),
            ("responsetime < 2.5", false),
            ("responsetime <= 2.49", false),
            ("responsetime != 2.5", false),
            ("duration = 3", true),
            ("duration >= 3 AND duration <= 3.0", true),
            ("duration > 3", false),
            ("http.status = 200", true),
            ("http.status >= 500", false),
            ("http.status != 404", true),
            ("responsetime > -1", true),
        ] {
            assert_eq!(matches(expression, &trace), expected, "{expression}");
        }
    }

    #[test]
    fn numbers_on_an_unfinished_root_match_nothing() {
        let open = doc(r#""id":"a000000000000001","name":"api","start_time":1,"in_progress":true"#);
        assert!(!matches("responsetime >= 0", &open));
        assert!(!matches("responsetime != 7", &open));
        assert!(!matches("duration >= 0", &open));
        assert!(!matches("http.status != 200", &open), "no http block");
    }

    #[test]
    fn string_keywords_compare_the_roots_request() {
        let trace = checkout();
        for (expression, expected) in [
            (r#"http.url = "https://shop.example.com/api/cart?id=7""#, true),
            (r#"http.url CONTAINS "/api/""#, true),
            (r#"http.url contains "/price""#, false),
            (r#"http.url BEGINSWITH "https://shop.""#, true),
            (r#"http.url ENDSWITH "id=7""#, true),
            (r#"http.url endswith "ID=7""#, false),
            (r#"http.method = "GET""#, true),
            (r#"http.method != "GET""#, false),
            (r#"http.useragent BEGINSWITH "curl/""#, true),
            (r#"http.clientip = "203.0.113.9""#, true),
            (r#"name = "api""#, true),
            (r#"name = "backend""#, false),
            (r#"user CONTAINS """#, true),
        ] {
            assert_eq!(matches(expression, &trace), expected, "{expression}");
        }
        let bare = doc(r#""id":"a000000000000001","name":"api","start_time":1,"end_time":2"#);
        assert!(
            !matches(r#"http.url != "x""#, &bare),
            "an absent field matches nothing"
        );
        assert!(!matches(r#"user CONTAINS """#, &bare));
    }

    #[test]
    fn user_matches_any_segment_in_the_trace() {
        let trace = checkout();
        assert!(matches(r#"user = "alice""#, &trace));
        assert!(matches(r#"user = "svc-backend""#, &trace));
        assert!(!matches(r#"user = "mallory""#, &trace));
        assert!(!matches(r#"service("api") { user = "svc-backend" }"#, &trace));
    }

    #[test]
    fn string_escapes_are_quote_and_backslash() {
        let trace = doc(
            r#""id":"a000000000000001","name":"api","start_time":1,"end_time":2,
               "http":{"request":{"url":"/a\"b\\c"}}"#,
        );
        assert!(matches(r#"http.url = "/a\"b\\c""#, &trace));
        let error = error_of(r#"http.url = "a\nb""#);
        assert_eq!(error.position, 13);
        assert!(error.message.contains("unknown escape \\n"), "{error}");
    }

    #[test]
    fn annotation_alone_means_set_anywhere_and_bang_means_set_nowhere() {
        let trace = checkout();
        assert!(matches("annotation.tier", &trace), "on the root");
        assert!(matches("annotation.retries", &trace), "on an embedded subsegment");
        assert!(!matches("annotation.missing", &trace));
        assert!(matches("!annotation.missing", &trace));
        assert!(!matches("!annotation.tier", &trace));
    }

    #[test]
    fn annotation_comparisons_are_typed() {
        let trace = checkout();
        for (expression, expected) in [
            (r#"annotation.tier = "gold""#, true),
            (r#"annotation.tier != "gold""#, false),
            (r#"annotation.tier BEGINSWITH "go""#, true),
            (r#"annotation.order_id = "817DL6VO""#, true),
            ("annotation.retries = 3", true),
            ("annotation.retries = 3.0", true),
            ("annotation.retries > 2 AND annotation.retries < 4", true),
            (r#"annotation.retries = "3""#, false),
            ("annotation.retries != 4", true),
            ("annotation.tier != 4", false),
            ("annotation.tier = 5", false),
            ("annotation.cached = false", true),
            ("annotation.cached = true", false),
            ("annotation.cached != true", true),
            (r#"annotation.cached = "false""#, false),
            ("annotation.missing != 1", false),
        ] {
            assert_eq!(matches(expression, &trace), expected, "{expression}");
        }
        assert!(error_of("annotation.cached < true")
            .message
            .contains("does not compare true or false"));
        assert!(error_of(r#"annotation.tier > "a""#)
            .message
            .contains("does not compare strings"));
        assert!(error_of("annotation.retries CONTAINS 3")
            .message
            .contains("does not compare numbers"));
        assert_eq!(error_of("annotation.a-b").position, 12, "`-` is not a value");
        assert_eq!(error_of("annotation.a.b").position, 11);
        assert_eq!(error_of("annotation. = 1").position, 11);
    }

    #[test]
    fn and_binds_tighter_than_or() {
        let trace = checkout();
        // fault is false, ok and throttle are true.
        assert!(
            matches("fault AND ok OR throttle", &trace),
            "(fault AND ok) OR throttle"
        );
        assert!(!matches("fault AND (ok OR throttle)", &trace));
        assert!(
            matches("throttle OR fault AND ok", &trace),
            "throttle OR (fault AND ok)"
        );
        assert!(!matches("(throttle OR fault) AND fault", &trace));
        assert!(!matches("NOT (ok OR fault)", &trace));
        assert!(matches("not (fault) and ok", &trace));
        assert_eq!(
            parse("fault OR error AND throttle OR !(ok or partial)")
                .unwrap()
                .to_string(),
            "fault OR (error AND throttle) OR !(ok OR partial)"
        );
        assert_eq!(
            parse("fault AND error AND throttle").unwrap().to_string(),
            "fault AND error AND throttle"
        );
    }

    #[test]
    fn the_examples_in_xrays_documentation_parse() {
        let trace = checkout();
        for (expression, expected) in [
            ("responsetime > 5", false),
            ("duration >= 5 AND duration <= 8", false),
            (r#"http.url CONTAINS "/api/game/""#, false),
            (r#"service("api.example.com") { fault }"#, false),
            (r#"annotation.gameid = "817DL6VO""#, false),
            (
                r#"service("api.example.com") { fault = true OR responsetime > 2.5 } AND annotation.account = "12345""#,
                false,
            ),
            (
                r#"http.url BEGINSWITH "http://api.example.com/" AND http.url CONTAINS "/v2/" AND !service("api.example.com")"#,
                false,
            ),
            (
                r#"service(id(name: "backend", type: "AWS::EC2::Instance")) { ok }"#,
                false,
            ),
            ("ok AND !partial AND duration < 3", false),
            ("ok AND !partial AND duration <= 3", true),
        ] {
            assert_eq!(matches(expression, &trace), expected, "{expression}");
        }
    }

    #[test]
    fn keywords_and_operators_ignore_case() {
        let trace = checkout();
        assert!(matches(
            r#"HTTP.URL Contains "/api/" and Ok AnD ThRoTtLe"#,
            &trace
        ));
        assert!(matches("ResponseTime > 1 OR fault", &trace));
        assert!(matches(r#"Annotation.tier = "gold""#, &trace));
        assert!(
            !matches(r#"annotation.TIER = "gold""#, &trace),
            "keys keep their case"
        );
    }

    #[test]
    fn service_braces_look_at_that_segment_instead_of_the_root() {
        let trace = checkout();
        for (expression, expected) in [
            (r#"service("backend") { fault }"#, true),
            (
                r#"service("backend") { fault = true OR responsetime > 2.5 }"#,
                true,
            ),
            (r#"service("backend") { responsetime = 2.5 }"#, true),
            (
                r#"service("backend") { http.status = 502 AND http.method = "POST" }"#,
                true,
            ),
            (r#"service("backend") { ok }"#, false),
            (r#"service("backend") { throttle }"#, false),
            (r#"service("api") { fault }"#, false),
            (r#"service("api") { ok AND name = "api" }"#, true),
            (r#"service("api") { throttle }"#, false),
            ("service() { fault }", true),
            ("service() { http.status = 404 }", false),
            (r#"service("backend")"#, true),
            (r#"!service("nowhere")"#, true),
            (r#"service("DynamoDB")"#, false),
            (
                r#"service(id(name: "backend", type: "AWS::EC2::Instance")) { fault }"#,
                true,
            ),
            (
                r#"service(id(type: "AWS::EC2::Instance", account.id: "123456789012"))"#,
                true,
            ),
            (
                r#"service(id(name: "backend", type: "AWS::Lambda::Function"))"#,
                false,
            ),
            (r#"service(id(name: "api"))"#, true),
            (r#"http.url CONTAINS "/api/" AND !service("api") { fault }"#, true),
            (
                r#"service("backend") { fault } AND annotation.tier = "gold""#,
                true,
            ),
        ] {
            assert_eq!(matches(expression, &trace), expected, "{expression}");
        }
    }

    #[test]
    fn independent_subsegments_are_not_services_or_roots() {
        let mut trace = doc(
            r#""id":"b000000000000009","name":"queue","start_time":50,"end_time":60,
               "type":"subsegment","parent_id":"a000000000000001","fault":true"#,
        );
        trace.extend(checkout());
        assert!(
            !matches("fault", &trace),
            "the root is still api, though queue starts earlier"
        );
        assert!(!matches(r#"service("queue")"#, &trace));
        assert!(matches("duration = 53", &trace), "duration counts every document");
    }

    #[test]
    fn the_earliest_parentless_segment_is_the_root() {
        let mut trace =
            doc(r#""id":"a000000000000005","name":"late","start_time":200,"end_time":201,"fault":true"#);
        trace.extend(doc(
            r#""id":"a000000000000006","name":"early","start_time":10,"end_time":11"#,
        ));
        assert!(matches(r#"name = "early" AND !fault"#, &trace));
        let orphans = doc(
            r#""id":"a000000000000007","name":"child","parent_id":"a000000000000001",
               "start_time":5,"end_time":6,"error":true"#,
        );
        assert!(matches(r#"name = "child" AND error"#, &orphans));
    }

    #[test]
    fn the_documented_language_we_do_not_run_is_refused_by_name() {
        for (expression, shown, position) in [
            (r#"edge("a", "b") { fault }"#, "\"edge(...)\"", 0),
            (
                "ok AND rootcause.fault.service { name = \"a\" }",
                "\"rootcause.fault.service\"",
                7,
            ),
            (r#"group.name = "x""#, "\"group.name\"", 0),
            ("group.arn = \"x\"", "\"group.arn\"", 0),
            ("inferred", "\"inferred\"", 0),
            ("(first)", "\"first\"", 1),
            ("last", "\"last\"", 0),
            ("remote", "\"remote\"", 0),
            ("root", "\"root\"", 0),
            ("index > 1", "\"index\"", 0),
            ("coverage < 0.5", "\"coverage\"", 0),
            (r#"message CONTAINS "x""#, "\"message\"", 0),
            (r#"availabilityzone = "us-east-1a""#, "\"availabilityzone\"", 0),
            (r#"instance.id = "i-1""#, "\"instance.id\"", 0),
            (r#"resource.arn = "x""#, "\"resource.arn\"", 0),
            (r#"fault OR type = "AWS::EC2::Instance""#, "\"type\"", 9),
        ] {
            let error = error_of(expression);
            assert_eq!(error.position, position, "{expression}: {error}");
            assert!(
                error.message.starts_with(&format!(
                    "{shown} is not supported here; supported: ok, error, fault,"
                )),
                "{expression}: {error}"
            );
        }
        let error = error_of(r#"id(name: "x")"#);
        assert!(
            error.message.contains("only valid inside service(...)"),
            "{error}"
        );
        let error = error_of("responsetimes > 1");
        assert!(
            error.message.starts_with("unknown keyword \"responsetimes\""),
            "{error}"
        );
    }

    #[test]
    fn service_braces_refuse_what_does_not_apply_to_one_segment() {
        assert_eq!(error_of("service() { duration > 1 }").position, 12);
        assert_eq!(error_of(r#"service() { annotation.a = "b" }"#).position, 12);
        let error = error_of(r#"service("a") { service("b") }"#);
        assert_eq!(error.position, 15);
        assert!(error.message.contains("cannot be used inside"), "{error}");
    }

    #[test]
    fn syntax_errors_point_at_the_problem() {
        for (expression, position, message) in [
            ("(fault", 0, "this ( is never closed"),
            ("fault)", 5, "unmatched )"),
            ("(fault error)", 7, "expected AND, OR or ), found \"error\""),
            (
                "fault error",
                6,
                "expected AND, OR or the end of the expression, found \"error\"",
            ),
            (
                "fault AND",
                9,
                "expected a condition, found the end of the expression",
            ),
            ("fault AND OR ok", 10, "expected a condition, found \"OR\""),
            (
                "responsetime >",
                14,
                "expected a number after >, found the end of the expression",
            ),
            ("responsetime > 5s", 15, "expected a number after >, found \"5s\""),
            ("responsetime == 5", 13, "unknown operator \"==\""),
            ("responsetime 5", 13, "responsetime needs an operator"),
            ("responsetime CONTAINS 5", 13, "responsetime is a number"),
            ("http.url < \"a\"", 9, "http.url is a string"),
            (
                "http.url = abc",
                11,
                "expected a double-quoted string after =, found \"abc\"",
            ),
            ("http.url = \"abc", 11, "this string is never closed"),
            (
                "fault = maybe",
                8,
                "expected true or false after =, found \"maybe\"",
            ),
            ("fault > 1", 6, "fault is true or false"),
            ("service(\"a\") { fault", 13, "this { is never closed"),
            ("service(\"a\" { fault }", 12, "expected ), found \"{\""),
            ("service(\"a\") { }", 15, "expected a condition, found \"}\""),
            ("service", 7, "expected ( after service"),
            ("service(backend)", 8, "expected a quoted service name"),
            ("service(id(nam: \"a\"))", 11, "unknown id(...) field \"nam\""),
            ("service(id(name: \"a\", name: \"b\"))", 22, "name is given twice"),
            ("service(id())", 11, "expected name, type or account.id"),
            ("ok }", 3, "unmatched }"),
            ("= 5", 0, "expected a condition, found \"=\""),
            ("5 < responsetime", 0, "expected a condition, found \"5\""),
            ("responsetime > 1e999", 15, "expected a number"),
            (
                &format!("responsetime > 1{}", "0".repeat(400)),
                15,
                "number out of range",
            ),
            (
                "fault ! error",
                6,
                "expected AND, OR or the end of the expression, found \"!\"",
            ),
        ] {
            let error = error_of(expression);
            assert_eq!(error.position, position, "{expression}: {error}");
            assert!(error.message.starts_with(message), "{expression}: {error}");
        }
    }

    #[test]
    fn an_error_displays_the_expression_with_a_caret_under_the_position() {
        assert_eq!(
            error_of("responsetime >= 5 AND (fault OR error").to_string(),
            "this ( is never closed\n  responsetime >= 5 AND (fault OR error\n                        ^"
        );
        assert_eq!(
            error_of("http.method == \"GET\"").to_string(),
            "unknown operator \"==\"; operators are =, !=, <, <=, >, >=, CONTAINS, BEGINSWITH and ENDSWITH\n  \
             http.method == \"GET\"\n              ^"
        );
        // Columns count characters, not bytes, and a newline is drawn as one space.
        assert_eq!(
            error_of("name = \"é\"\nAND").to_string(),
            "expected a condition, found the end of the expression\n  name = \"é\" AND\n                ^"
        );
    }

    #[test]
    fn nesting_deeper_than_the_limit_is_refused_without_overflowing_the_stack() {
        let trace = checkout();
        let deep = format!("{}ok{}", "(".repeat(MAX_NESTING), ")".repeat(MAX_NESTING));
        assert!(matches(&deep, &trace));
        let error = error_of(&format!(
            "{}ok{}",
            "(".repeat(MAX_NESTING + 1),
            ")".repeat(MAX_NESTING + 1)
        ));
        assert_eq!(error.position, MAX_NESTING);
        assert!(error.message.starts_with("nested more than 64 levels deep"));
        assert!(parse(&"(".repeat(100_000)).is_err());
        assert!(parse(&"!".repeat(100_000)).is_err());
        assert!(parse(&"NOT ".repeat(100_000)).is_err());
        assert!(matches(&format!("{}ok", "!!".repeat(MAX_NESTING / 2)), &trace));
        let wide = vec!["ok"; 10_000].join(" AND ");
        assert!(matches(&wide, &trace), "long AND chains are not nesting");
    }

    #[test]
    fn the_canonical_form_parses_back_to_the_same_filter() {
        let expression = r#"  service( id( type:"AWS::EC2::Instance" ,name :"b\"x" ) ){fault=false or RESPONSETIME>=2.50}
            and !annotation.k and annotation.n<=-3 and not(http.url beginswith "a\\b") and !fault"#;
        let filter = parse(expression).unwrap();
        let canonical = filter.to_string();
        assert_eq!(
            canonical,
            r#"service(id(name: "b\"x", type: "AWS::EC2::Instance")) { fault = false OR responsetime >= 2.5 } AND !annotation.k AND annotation.n <= -3 AND !http.url BEGINSWITH "a\\b" AND !fault"#
        );
        assert_eq!(parse(&canonical).unwrap(), filter);
    }

    /// The grammar's tokens, `|`-separated, for the generator below.
    const TOKENS: &str = "ok|error|fault|throttle|partial|responsetime|duration|http.status|http.url|\
        http.method|user|name|annotation.k|annotation.|annotation|service|id|edge|rootcause.fault.service|\
        group.name|type|AND|OR|NOT|and|!|(|)|{|}|=|!=|<|<=|>|>=|==|CONTAINS|BEGINSWITH|endswith|\"x\"|\"|\\|\
        5|2.5|-1|5.|true|false|,|:|name:|type:|account.id:| |  |\n|\t|\u{0}|é|😀|\"a\\\"b\"";

    #[test]
    fn any_expression_gives_a_filter_or_a_positioned_error_never_a_panic() {
        let mut rng = fastrand::Rng::with_seed(29);
        let trace = checkout();
        let tokens: Vec<&str> = TOKENS.split('|').collect();
        let mut parsed = 0;
        for round in 0..30_000 {
            let mut expression = String::new();
            for _ in 0..rng.usize(0..14) {
                if rng.u8(0..10) == 0 {
                    let bytes: Vec<u8> = (0..rng.usize(1..4)).map(|_| rng.u8(..)).collect();
                    expression.push_str(&String::from_utf8_lossy(&bytes));
                } else {
                    expression.push_str(tokens[rng.usize(0..tokens.len())]);
                    if rng.bool() {
                        expression.push(' ');
                    }
                }
            }
            match parse(&expression) {
                Ok(filter) => {
                    parsed += 1;
                    let _ = filter.matches(&trace);
                    let _ = filter.matches(&[]);
                    let again = parse(&filter.to_string());
                    assert_eq!(
                        again.as_ref(),
                        Ok(&filter),
                        "round {round}: {expression:?} -> {filter}"
                    );
                }
                Err(error) => {
                    assert!(error.position <= expression.len(), "{expression:?}: {error:?}");
                    assert!(
                        expression.is_char_boundary(error.position),
                        "{expression:?}: {error:?}"
                    );
                    assert!(!error.message.is_empty());
                    assert_eq!(error.to_string().lines().count(), 3, "{expression:?}: {error}");
                }
            }
        }
        assert!(
            parsed > 300,
            "the generator should also make valid filters ({parsed})"
        );
    }

    #[test]
    fn a_filter_is_debug_and_clone() {
        let filter: Filter = parse("ok").unwrap();
        let copy = filter.clone();
        assert_eq!(format!("{copy:?}"), format!("{filter:?}"));
    }
}

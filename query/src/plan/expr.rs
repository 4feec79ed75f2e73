//! Compiled expressions: names resolved to slots, functions to implementations, literals to
//! values and regexes compiled once.

use crate::functions::{Period, ScalarFunction};
use crate::plan::Slot;
use crate::syntax::ast::BinaryOp;
use crate::value::Value;

#[derive(Debug)]
pub enum CExpr {
    Slot(Slot),
    Const(Option<Value>),
    /// Keys looked up in a map value (`js.user.name` after `jsonParse(...) as js`).
    Path(Box<CExpr>, Vec<String>),
    Index(Box<CExpr>, Box<CExpr>),
    Neg(Box<CExpr>),
    Not(Box<CExpr>),
    Binary(BinaryOp, Box<CExpr>, Box<CExpr>),
    Like {
        expr: Box<CExpr>,
        matcher: Matcher,
        negated: bool,
    },
    In {
        expr: Box<CExpr>,
        list: Vec<CExpr>,
        negated: bool,
    },
    Call {
        function: &'static ScalarFunction,
        args: Vec<CExpr>,
    },
    /// `bin(period)`: the time in `time` rounded down to the period.
    Floor {
        time: Box<CExpr>,
        period: Period,
    },
    /// The value of the stats stage's aggregate number N (only in stats outputs).
    Aggregate(usize),
}

#[derive(Debug)]
pub enum Matcher {
    /// `like "text"`: case-sensitive substring.
    Substring(String),
    /// `like /re/`, `=~ /re/`: unanchored search.
    Regex(regex::Regex),
    /// `like <expression>`: the expression's text as a substring.
    Dynamic(Box<CExpr>),
}

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
    /// `expr in (subquery)`.
    InQuery {
        expr: Box<CExpr>,
        query: std::sync::Arc<crate::plan::Subquery>,
        negated: bool,
    },
    Call {
        function: &'static ScalarFunction,
        args: Vec<CExpr>,
    },
    /// `bin(period)`: the time in `time` rounded down to the period, then moved by `shift_ms`
    /// (`stats … by bin(5m) offset 1h`).
    Floor {
        time: Box<CExpr>,
        period: Period,
        shift_ms: i64,
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

impl CExpr {
    /// Whether evaluating this expression reads row slot `slot`.
    pub fn reads_slot(&self, slot: crate::plan::Slot) -> bool {
        match self {
            CExpr::Slot(s) => *s == slot,
            CExpr::Const(_) | CExpr::Aggregate(_) => false,
            CExpr::Path(base, _) | CExpr::Neg(base) | CExpr::Not(base) => base.reads_slot(slot),
            CExpr::InQuery { expr, .. } => expr.reads_slot(slot),
            CExpr::Index(a, b) | CExpr::Binary(_, a, b) => a.reads_slot(slot) || b.reads_slot(slot),
            CExpr::Like { expr, matcher, .. } => {
                expr.reads_slot(slot) || matches!(matcher, Matcher::Dynamic(p) if p.reads_slot(slot))
            }
            CExpr::In { expr, list, .. } => expr.reads_slot(slot) || list.iter().any(|e| e.reads_slot(slot)),
            CExpr::Call { args, .. } => args.iter().any(|e| e.reads_slot(slot)),
            CExpr::Floor { time, .. } => time.reads_slot(slot),
        }
    }
}

impl CExpr {
    /// Calls `f` on every subquery this expression holds.
    pub fn for_each_subquery(&self, f: &mut dyn FnMut(&std::sync::Arc<crate::plan::Subquery>)) {
        match self {
            CExpr::InQuery { expr, query, .. } => {
                f(query);
                expr.for_each_subquery(f);
            }
            CExpr::Slot(_) | CExpr::Const(_) | CExpr::Aggregate(_) => {}
            CExpr::Path(base, _) | CExpr::Neg(base) | CExpr::Not(base) => base.for_each_subquery(f),
            CExpr::Index(a, b) | CExpr::Binary(_, a, b) => {
                a.for_each_subquery(f);
                b.for_each_subquery(f);
            }
            CExpr::Like { expr, matcher, .. } => {
                expr.for_each_subquery(f);
                if let Matcher::Dynamic(p) = matcher {
                    p.for_each_subquery(f);
                }
            }
            CExpr::In { expr, list, .. } => {
                expr.for_each_subquery(f);
                for e in list {
                    e.for_each_subquery(f);
                }
            }
            CExpr::Call { args, .. } => {
                for e in args {
                    e.for_each_subquery(f);
                }
            }
            CExpr::Floor { time, .. } => time.for_each_subquery(f),
        }
    }
}

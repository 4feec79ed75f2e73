//! The query as written: commands and expressions with spans. No names are resolved here; the
//! planner checks them.

use crate::syntax::span::Span;

#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub commands: Vec<Command>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Command {
    pub kind: CommandKind,
    /// The whole command, from its word to the last token before the next `|`.
    pub span: Span,
    /// The command word alone.
    pub word_span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum CommandKind {
    Fields(Vec<Projection>),
    Display(Vec<Projection>),
    Filter(Expr),
    Stats(Stats),
    Sort(Vec<SortKey>),
    Limit(u64),
    Parse(Parse),
    Dedup(Vec<Expr>),
    /// A command of the language that logq does not run yet (`unnest`, `join`, …), or a form of a
    /// supported command that it does not run yet (`parse … multi`, `limit any`): the name says which.
    NotSupported(String),
}

impl CommandKind {
    /// The command word, lower case, as messages name it.
    pub fn name(&self) -> &str {
        match self {
            CommandKind::Fields(_) => "fields",
            CommandKind::Display(_) => "display",
            CommandKind::Filter(_) => "filter",
            CommandKind::Stats(_) => "stats",
            CommandKind::Sort(_) => "sort",
            CommandKind::Limit(_) => "limit",
            CommandKind::Parse(_) => "parse",
            CommandKind::Dedup(_) => "dedup",
            CommandKind::NotSupported(name) => name,
        }
    }
}

/// `expr [as alias]` in fields, display, stats and `by`.
#[derive(Debug, Clone, PartialEq)]
pub struct Projection {
    pub expr: Expr,
    pub alias: Option<Name>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Name {
    pub name: String,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Stats {
    pub aggregates: Vec<Projection>,
    pub by: Vec<Projection>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SortKey {
    pub expr: Expr,
    pub descending: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Parse {
    /// The field parsed; `@message` when omitted.
    pub source: Expr,
    pub pattern: ParsePattern,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ParsePattern {
    /// `"text * more *" as a, b`: one alias per `*`.
    Glob {
        pattern: String,
        span: Span,
        aliases: Vec<Name>,
    },
    /// `/(?<a>…)…/`: one field per named group.
    Regex { pattern: String, span: Span },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    /// A field name (dotted names are one name: `requestParameters.userName`).
    Field(String),
    Str(String),
    Num(f64),
    Bool(bool),
    Regex(String),
    /// `5m`, `1h`: only meaningful as a period argument.
    Duration(String),
    /// `*` in `count(*)`.
    Star,
    List(Vec<Expr>),
    Unary(UnaryOp, Box<Expr>),
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
    /// `expr like "text"` / `like /re/` / `=~` (negated for `not like`).
    Like {
        expr: Box<Expr>,
        pattern: Box<Expr>,
        negated: bool,
    },
    /// `expr in [...]` (negated for `not in`).
    In {
        expr: Box<Expr>,
        list: Vec<Expr>,
        negated: bool,
    },
    Call {
        name: String,
        name_span: Span,
        args: Vec<Expr>,
    },
    /// `expr[index]` on a list or map.
    Index(Box<Expr>, Box<Expr>),
    /// `expr.key` on a map, after a call or index (`jsonParse(x).a`, `list[0].b`).
    Member(Box<Expr>, String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryOp {
    Neg,
    Not,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    Pow,
}

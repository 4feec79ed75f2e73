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
    /// `limit any n`: any n rows, in no particular order (no default sort).
    LimitAny(u64),
    /// `unnest field into alias`: one row per element of a list.
    Unnest {
        source: Expr,
        alias: Name,
    },
    /// `expand field`: one row per element of a list, the field taking the element.
    Expand(Expr),
    /// `filterIndex field = value` / `filterIndex field in [...]`: a filter (logq has no indexes).
    FilterIndex(Expr),
    /// `json field=source "a.b" as alias`: one value from a JSON text or map.
    Json {
        source: Expr,
        path: String,
        alias: Name,
    },
    /// `join type=… left=L right=R where L.a = R.b (SOURCE …)`.
    Join(Join),
    /// `appendcols [override=b] [max=n] (subquery)`: the subquery's columns, row by row.
    Appendcols {
        overwrite: bool,
        max: u64,
        query: Box<Query>,
    },
    /// `lookup` / `cidrlookup`: fields from a CSV table.
    Lookup(Lookup),
    /// `pattern <field>`: log templates.
    Pattern(Expr),
    /// `anomaly`, right after `pattern`.
    Anomaly,
    /// `diff [previousDay|previousWeek|previousMonth]`, `logcompare timeshift <period>`: the
    /// templates of the query's window against an earlier one (None: the one just before).
    Diff(Option<(String, Span)>),
    /// `relevantfields [f, …] where <condition>`.
    RelevantFields {
        fields: Vec<Name>,
        condition: Expr,
    },
    /// `SOURCE …`: which log groups the query reads, and perhaps its time range.
    Source(SourceClause),
    /// A command over the whole row sequence (`accum`, `filldown`, `addtotals`, …).
    Rows(RowCommand),
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
            CommandKind::Limit(_) | CommandKind::LimitAny(_) => "limit",
            CommandKind::Parse(_) => "parse",
            CommandKind::Dedup(_) => "dedup",
            CommandKind::Unnest { .. } => "unnest",
            CommandKind::Expand(_) => "expand",
            CommandKind::FilterIndex(_) => "filterIndex",
            CommandKind::Json { .. } => "json",
            CommandKind::Rows(command) => command.name(),
            CommandKind::Source(_) => "SOURCE",
            CommandKind::Join(_) => "join",
            CommandKind::Pattern(_) => "pattern",
            CommandKind::Anomaly => "anomaly",
            CommandKind::Diff(_) => "diff",
            CommandKind::RelevantFields { .. } => "relevantfields",
            CommandKind::Appendcols { .. } => "appendcols",
            CommandKind::Lookup(lookup) if lookup.cidr => "cidrlookup",
            CommandKind::Lookup(_) => "lookup",
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
    /// `… by bin(5m) offset 1h`: the bins are shifted by this period (its text and span).
    pub offset: Option<(String, Span)>,
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
    /// `… multi`: one row per match instead of the first match.
    pub multi: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ParsePattern {
    /// `"text * more *" as a, b`: one alias per `*`.
    Glob {
        pattern: String,
        span: Span,
        aliases: Vec<Name>,
    },
    /// `/(?<a>…)…/`: one field per named group; with `as a, b` the groups in order (named or
    /// not) take the names instead.
    Regex {
        pattern: String,
        span: Span,
        aliases: Vec<Name>,
    },
    /// `logfmt as alias`: a map of the line's `key=value` pairs.
    Logfmt { alias: Name },
    /// `csv as a, b, c`: one field per comma-separated value.
    Csv { aliases: Vec<Name> },
}

/// The row-window commands: each sees the rows in their current order.
#[derive(Debug, Clone, PartialEq)]
pub enum RowCommand {
    /// `accum f [as out]`: running sum.
    Accum { field: Name, alias: Option<Name> },
    /// `autoregress f [as alias] [p=n | p=n-m]`: values of earlier rows.
    Autoregress {
        field: Name,
        alias: Option<Name>,
        lags: (u32, u32),
    },
    /// `filldown [f …]` (names may end in `*`): the last value above fills an empty field.
    Filldown(Vec<Name>),
    /// `fillmissing [with v for f, …]`: rows for the empty bins of the stats before.
    Fillmissing(Vec<(Expr, Name)>),
    /// `addtotals [fieldname=n] [row=b] [col=b] [labelfield=f] [label=s] [f, …]`.
    Addtotals(Addtotals),
    /// `outlier [action=remove|transform] [param=n] [uselower=b] [mark=b] f …`.
    Outlier(Outlier),
    /// `sessionize f, … [maxspan d] [as out]`.
    Sessionize {
        fields: Vec<Expr>,
        maxspan: Option<(String, Span)>,
        alias: Option<Name>,
    },
    /// `countFrequent f, …`: a count per value combination, most frequent first.
    CountFrequent(Vec<Expr>),
}

impl RowCommand {
    pub fn name(&self) -> &'static str {
        match self {
            RowCommand::Accum { .. } => "accum",
            RowCommand::Autoregress { .. } => "autoregress",
            RowCommand::Filldown(_) => "filldown",
            RowCommand::Fillmissing(_) => "fillmissing",
            RowCommand::Addtotals(_) => "addtotals",
            RowCommand::Outlier(_) => "outlier",
            RowCommand::Sessionize { .. } => "sessionize",
            RowCommand::CountFrequent(_) => "countFrequent",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Addtotals {
    pub fieldname: String,
    pub row: bool,
    pub col: bool,
    pub labelfield: Option<String>,
    pub label: String,
    pub fields: Vec<Name>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Outlier {
    pub remove: bool,
    pub param: f64,
    pub uselower: bool,
    pub mark: bool,
    pub fields: Vec<Name>,
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
    /// `expr in (subquery)`: the values of the subquery's first column.
    InQuery {
        expr: Box<Expr>,
        query: Box<Query>,
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

/// What `SOURCE` selects.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SourceClause {
    /// `SOURCE '/group'`, `SOURCE name`: groups by name.
    pub groups: Vec<String>,
    /// `logGroups(namePrefix: [...])`.
    pub name_prefixes: Vec<String>,
    /// `logGroups()` without a name filter, or only account/class filters: every group.
    pub every_group: bool,
    /// `logGroups(accountIdentifiers: [...])`.
    pub accounts: Vec<String>,
    /// `logGroups(class: [...])`.
    pub classes: Vec<String>,
    /// `dataSource([...])`.
    pub data_sources: Vec<String>,
    /// `logGroupTags(...)`, as written.
    pub tags: Option<Span>,
    /// `START=…`, `END=…`: the text and where it is.
    pub start: Option<(String, Span)>,
    pub end: Option<(String, Span)>,
}

/// `lookup table col [as field], … OUTPUT|OUTPUTNEW col [as name], …`, or
/// `cidrlookup table field [as cidrCol] OUTPUT|OUTPUTNEW col [as name], …`.
#[derive(Debug, Clone, PartialEq)]
pub struct Lookup {
    pub table: Name,
    pub cidr: bool,
    /// (table column, event field): a row matches when every pair is equal (for cidrlookup,
    /// one pair: the column of networks, the field holding an address).
    pub matches: Vec<(Name, Name)>,
    /// `OUTPUTNEW`: fill only fields that are empty, and leave them when nothing matches.
    pub new_only: bool,
    /// (table column, field written).
    pub outputs: Vec<(Name, Name)>,
}

/// `join [type=inner|left] left=L right=R where L.a = R.b (SOURCE …)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Join {
    pub left_join: bool,
    pub left: Name,
    pub right: Name,
    /// The key: a field of the rows so far, and a field of the right side's events.
    pub left_key: Name,
    pub right_key: Name,
    /// The right side: `(SOURCE …)`.
    pub right_query: Box<Query>,
    /// The parenthesised right side, for messages.
    pub right_span: Span,
}

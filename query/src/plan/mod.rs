//! The second phase: AST → [`Plan`]. Names are resolved to row slots, functions to their
//! implementations, regexes compiled, and the language's rules checked (command order, what is
//! visible after `stats`, aggregate placement), each failure a [`PlanError`] with its span.

pub mod aggregate;
pub mod expr;
pub mod glob;
mod planner;
pub mod rows;

use std::fmt;

use crate::syntax::span::Span;

pub use expr::CExpr;
pub use planner::plan_query;

/// The query is well formed but cannot run as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanError {
    pub message: String,
    pub span: Span,
}

impl PlanError {
    pub fn new(message: impl Into<String>, span: Span) -> PlanError {
        PlanError {
            message: message.into(),
            span,
        }
    }
}

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for PlanError {}

impl Plan {
    /// The `SOURCE` clauses of its subqueries, join and appendcols (copies).
    pub fn inner_sources(&self) -> Vec<crate::syntax::ast::SourceClause> {
        let mut found = Vec::new();
        for stage in &self.stages {
            match stage {
                Stage::Filter(cond) => {
                    cond.for_each_subquery(&mut |sub| found.extend(sub.plan.source.clone()));
                }
                Stage::Join(join) => found.extend(join.right.plan.source.clone()),
                Stage::Rows(rows) => {
                    if let rows::RowStage::Appendcols(append) = &**rows {
                        found.extend(append.query.plan.source.clone());
                    }
                }
                _ => {}
            }
        }
        found
    }

    /// The result columns that are `by` terms of the last `stats` (the others are its
    /// aggregates, or not from a `stats` at all).
    pub fn group_columns(&self) -> Vec<String> {
        let Some(stats) = self.stages.iter().rev().find_map(|stage| match stage {
            Stage::Stats(stats) => Some(stats),
            _ => None,
        }) else {
            return Vec::new();
        };
        self.columns
            .iter()
            .filter(|c| stats.groups.iter().any(|(slot, _)| *slot == c.slot))
            .map(|c| c.name.clone())
            .collect()
    }
}

/// Row slot index. A row is `Vec<Option<Value>>` with one entry per slot of the plan.
pub type Slot = usize;

/// A runnable query.
#[derive(Debug)]
pub struct Plan {
    /// Slot names, by slot.
    pub slot_names: Vec<String>,
    /// What the reader must put into each row before the first stage.
    pub input: InputFields,
    pub stages: Vec<Stage>,
    /// The result columns, in order.
    pub columns: Vec<Column>,
    /// Rows returned at most (the `limit` in force, or the default).
    pub row_limit: u64,
    /// Whether the query aggregates (result rows are not events).
    pub aggregated: bool,
    /// The log groups and time range the query's `SOURCE` asks for.
    pub source: Option<crate::syntax::ast::SourceClause>,
    /// `diff`/`logcompare`: the earlier window to read too — how far back (`1d`, `1w`, `1mo`,
    /// `7d`), or empty for the window just before the query's.
    pub earlier_window: Option<String>,
}

/// The event fields a query reads.
#[derive(Debug, Default)]
pub struct InputFields {
    /// Slot of `@timestamp`, always present.
    pub timestamp: Slot,
    /// Whether any stage or column reads `@timestamp` (if not, the reader need not find it).
    pub timestamp_needed: bool,
    pub message: Option<Slot>,
    pub log_stream: Option<Slot>,
    pub log: Option<Slot>,
    pub ingestion_time: Option<Slot>,
    pub ptr: Option<Slot>,
    /// Any other field name → slot (JSON keys, discovered fields such as `@duration`).
    pub discovered: Vec<(String, Slot)>,
}

#[derive(Debug)]
pub struct Column {
    pub name: String,
    pub slot: Slot,
}

#[derive(Debug)]
pub enum Stage {
    Filter(CExpr),
    /// Compute values into slots (`fields … as`, `display` expressions).
    Compute(Vec<(Slot, CExpr)>),
    Parse(Box<ParseStage>),
    Stats(aggregate::StatsStage),
    Sort(SortStage),
    Dedup(Vec<CExpr>),
    Limit(u64),
    /// `unnest`, `expand`: one row per element of a list.
    Expand(Box<ExpandStage>),
    /// A row-window command: holds the rows, then hands them on changed.
    Rows(Box<rows::RowStage>),
    /// `lookup`, `cidrlookup`.
    Lookup(Box<LookupStage>),
    /// `join`: each row with the right side's events of the same key.
    Join(Box<JoinStage>),
    /// `pattern`, `diff`, `logcompare`, `anomaly`: templates of the signatures counted before.
    Patterns(Box<rows::Patterns>),
}

/// A query inside the query (`filter f in (…)`, the right side of `join`, `appendcols (…)`),
/// run before the query itself (see `exec::run`). Its rows are kept in the plan: a plan run a
/// second time (over other inputs) reuses them, as it reuses its lookup tables; compile the
/// query again for a fresh run.
#[derive(Debug)]
pub struct Subquery {
    pub plan: Plan,
    /// Its result rows, in its column order, once run.
    pub rows: std::sync::OnceLock<Vec<Vec<Option<crate::value::Value>>>>,
    /// The texts of its first column, for `in` (built on first use).
    pub first_column: std::sync::OnceLock<std::collections::HashSet<String>>,
}

impl Subquery {
    pub fn new(plan: Plan) -> Subquery {
        Subquery {
            plan,
            rows: std::sync::OnceLock::new(),
            first_column: std::sync::OnceLock::new(),
        }
    }

    /// Whether its first column holds `text` (false before it has run).
    pub fn first_column_has(&self, text: &str) -> bool {
        self.first_column
            .get_or_init(|| {
                self.rows
                    .get()
                    .map(|rows| {
                        rows.iter()
                            .filter_map(|r| r.first()?.as_ref()?.as_text().map(std::borrow::Cow::into_owned))
                            .collect()
                    })
                    .unwrap_or_default()
            })
            .contains(text)
    }
}

#[derive(Debug)]
pub struct JoinStage {
    /// `type=left`: a row without a match flows on with the right side's fields empty.
    pub left_join: bool,
    pub left_key: CExpr,
    /// The right side: its events' key and the fields the query reads as `<right>.<field>`.
    pub right: Subquery,
    /// Which column of the right side's result is the key.
    pub right_key_column: usize,
    /// (column of the right side's result, slot).
    pub right_slots: Vec<(usize, Slot)>,
    /// Key text → the right side's rows with it (built when the run starts).
    pub index: std::sync::OnceLock<std::collections::HashMap<String, Vec<usize>>>,
}

#[derive(Debug)]
pub struct LookupStage {
    pub table: String,
    pub cidr: bool,
    /// (table column, the event's value): all must be equal (cidrlookup: one, the address;
    /// an empty column name is the default network column).
    pub keys: Vec<(String, CExpr)>,
    /// `OUTPUTNEW`: fill only empty fields, leave them when nothing matches.
    pub new_only: bool,
    /// (table column, slot written).
    pub outputs: Vec<(String, Slot)>,
    /// The table, loaded when a run starts (see `exec::run`).
    pub loaded: std::sync::OnceLock<std::sync::Arc<crate::input::lookup_table::LookupTable>>,
}

#[derive(Debug)]
pub struct ExpandStage {
    pub source: CExpr,
    /// Read when `source` has no value: the list in the event's JSON (`items` of
    /// `{"items":[…]}`, which the reader flattens to `items.0`, `items.1`).
    pub fallback: Option<CExpr>,
    /// Where each element goes.
    pub slot: Slot,
    /// `expand` keeps a row without the field as it is; `unnest` drops it.
    pub keep_missing: bool,
}

#[derive(Debug)]
pub struct ParseStage {
    pub source: CExpr,
    pub matcher: ParseMatcher,
    /// Capture number (1-based, as regex groups count) → slot, for the captures later stages
    /// or the result read.
    pub captures: Vec<(usize, Slot)>,
    /// `… multi`: one row per match.
    pub multi: bool,
}

#[derive(Debug)]
pub enum ParseMatcher {
    Glob(Box<glob::GlobPattern>),
    Regex(regex::Regex),
    /// `logfmt`: capture 1 is the map of the pairs.
    Logfmt,
    /// `csv`: capture n is the n-th value.
    Csv,
}

#[derive(Debug)]
pub struct SortStage {
    pub keys: Vec<(CExpr, bool)>,
    /// Rows kept at most, when a `limit` follows directly: sort becomes top-k.
    pub keep: Option<u64>,
}

//! Aggregate functions of `stats`: which exist, and the compiled form of a stats command.

use crate::plan::{CExpr, Slot};

/// An aggregate function.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AggKind {
    /// `count(*)` / `count()` (no argument) or `count(f)` (rows where `f` is present).
    Count,
    CountDistinct,
    Sum,
    Avg,
    Min,
    Max,
    /// `pct(f, p)`: nearest-rank percentile p (0–100).
    Pct(f64),
    /// Population standard deviation.
    Stddev,
    Earliest,
    Latest,
    SortsFirst,
    SortsLast,
}

/// The aggregate functions logq runs: (name, kind for one-argument use). `pct` takes a second
/// argument and is handled by name.
pub const AGGREGATES: &[(&str, AggKind)] = &[
    ("count", AggKind::Count),
    ("count_distinct", AggKind::CountDistinct),
    ("countDistinct", AggKind::CountDistinct),
    ("sum", AggKind::Sum),
    ("avg", AggKind::Avg),
    ("min", AggKind::Min),
    ("max", AggKind::Max),
    ("pct", AggKind::Pct(50.0)),
    ("stddev", AggKind::Stddev),
    ("earliest", AggKind::Earliest),
    ("latest", AggKind::Latest),
    ("sortsFirst", AggKind::SortsFirst),
    ("sortsLast", AggKind::SortsLast),
];

/// Aggregate functions of the language that logq does not run yet.
pub const NOT_YET_AGGREGATES: &[&str] = &[
    "rate",
    "countOverTime",
    "count_over_time",
    "sumOverTime",
    "sum_over_time",
    "histogram",
];

/// The aggregate named `name` (case-insensitive), with its canonical spelling.
pub fn aggregate(name: &str) -> Option<(&'static str, AggKind)> {
    AGGREGATES
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .copied()
}

#[derive(Debug)]
pub struct AggSpec {
    pub kind: AggKind,
    /// The per-row argument; `None` for `count(*)`.
    pub arg: Option<CExpr>,
}

#[derive(Debug)]
pub struct StatsStage {
    /// `by` terms: output slot and the per-row expression.
    pub groups: Vec<(Slot, CExpr)>,
    pub aggregates: Vec<AggSpec>,
    /// Output slot and expression over [`CExpr::Aggregate`] values.
    pub outputs: Vec<(Slot, CExpr)>,
    /// Where the rows' `@timestamp` is, for earliest/latest.
    pub timestamp: Option<Slot>,
    /// Every slot the stage writes; output rows hold nothing else.
    pub output_slots: Vec<Slot>,
}

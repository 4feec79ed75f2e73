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
    /// `rate(f, period)`: how much `f` changed per period, from the group's earliest to its
    /// latest value (ms in the period).
    Rate(i64),
    /// `histogram(f, buckets)`: a map of equal-width ranges to counts.
    Histogram(u32),
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
    // The time-series functions: counts and sums per group (per bin with `by bin()`).
    ("countOverTime", AggKind::Count),
    ("count_over_time", AggKind::Count),
    ("sumOverTime", AggKind::Sum),
    ("sum_over_time", AggKind::Sum),
    ("rate", AggKind::Rate(60_000)),
    ("histogram", AggKind::Histogram(10)),
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

//! The compiled row-window commands: each sees every row that reaches it, in order, and hands
//! them on changed (`exec::rows` runs them).

use crate::functions::Period;
use crate::plan::{CExpr, Slot};
use crate::value::Value;

#[derive(Debug)]
pub enum RowStage {
    /// Running sum of `source` into `out`.
    Accum {
        source: Slot,
        out: Slot,
    },
    /// `outs`: (lag, slot) — the value of `source` that many rows above.
    Autoregress {
        source: Slot,
        outs: Vec<(usize, Slot)>,
    },
    /// An empty slot takes the last value above it.
    Filldown(Vec<Slot>),
    /// Rows for the bins the stats before left empty.
    Fillmissing(Fillmissing),
    Addtotals(Addtotals),
    Outlier(Outlier),
    Sessionize(Sessionize),
    /// `appendcols`: the subquery's row n's columns go into row n.
    Appendcols(Box<Appendcols>),
    /// `relevantfields`: how differently each field is spread where the condition holds.
    RelevantFields(Box<RelevantFields>),
}

/// `pattern`, `diff`, `logcompare` (and `anomaly`): templates from the signature counts the
/// hidden stats before made, counted as they come.
#[derive(Debug)]
pub struct Patterns {
    pub signature: Slot,
    pub count: Slot,
    /// `diff`: which window a signature's events were in (`current` or `previous`).
    pub window: Option<Slot>,
    /// `anomaly`: the minute of the events.
    pub minute: Option<Slot>,
    /// What each output column holds.
    pub outputs: Vec<(PatternColumn, Slot)>,
}

/// The columns `pattern`, `diff` and `anomaly` make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatternColumn {
    Pattern,
    Ratio,
    SampleCount,
    Severity,
    PreviousCount,
    DiffCount,
    Description,
    IsAnomaly,
    AnomalyType,
    AnomalyScore,
    AnomalyTime,
}

#[derive(Debug)]
pub struct RelevantFields {
    /// (name shown, slot read).
    pub fields: Vec<(String, Slot)>,
    /// No list: every field of the JSON in this slot (`@message`).
    pub every_field: Option<Slot>,
    /// Where the condition's value is (true: the row is in the condition's set).
    pub condition: Slot,
    /// @fieldName, @relevanceScore, @topRelevanceContributors, @conditionalMedian,
    /// @baselineMedian.
    pub outputs: [Slot; 5],
}

#[derive(Debug)]
pub struct Appendcols {
    pub query: crate::plan::Subquery,
    /// `override=true`: the subquery's value replaces a value the row has.
    pub overwrite: bool,
    /// Subquery rows used at most.
    pub max: usize,
    /// (column of the subquery's result, slot).
    pub slots: Vec<(usize, Slot)>,
}

#[derive(Debug)]
pub struct Fillmissing {
    /// The `bin()` term's slot and period, and how far its labels are shifted (`offset`).
    pub bin: Slot,
    pub period: Period,
    pub shift_ms: i64,
    /// The other `by` terms: a series per combination of their values.
    pub others: Vec<Slot>,
    /// Constants for the new rows (`with 0 for n`); other fields stay empty.
    pub fills: Vec<(Slot, Value)>,
}

#[derive(Debug)]
pub struct Addtotals {
    /// The fields summed (numbers only; others are skipped).
    pub fields: Vec<Slot>,
    /// Where each row's total goes (`row=true`).
    pub total: Option<Slot>,
    /// Whether a last row sums each column (`col=true`).
    pub col: bool,
    /// Where that row's label goes, and the label.
    pub label: Option<(Slot, String)>,
}

#[derive(Debug)]
pub struct Outlier {
    pub fields: Vec<Slot>,
    pub remove: bool,
    pub param: f64,
    pub uselower: bool,
    /// Where a row that had an outlying value is marked (`mark=true`).
    pub mark: Option<Slot>,
}

#[derive(Debug)]
pub struct Sessionize {
    pub keys: Vec<CExpr>,
    pub time: Slot,
    pub maxspan_ms: i64,
    pub out: Slot,
}

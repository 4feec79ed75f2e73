//! Runs a plan's stages over rows as they stream in. Filters, computations, parse, dedup and
//! limit pass rows on one at a time; stats and sort hold what they need (groups; the top rows
//! when a limit follows) and pass their rows on at the end. Memory follows the result, not the
//! input.

use std::collections::{HashMap, HashSet};

use crate::exec::aggregate_state::AggState;
use crate::exec::eval::{eval, truthy, Scope};
use crate::exec::natural_order::cmp_nulls_last;
use crate::functions::FnContext;
use crate::plan::aggregate::StatsStage;
use crate::plan::{Plan, Stage};
use crate::value::Value;

/// A row: one optional value per plan slot.
pub type Row = Vec<Option<Value>>;

/// A group or dedup key, hashable.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum KeyPart {
    Null,
    Text(Box<str>),
    Num(u64),
    Time(i64),
}

fn key_part(value: Option<&Value>) -> KeyPart {
    match value {
        None => KeyPart::Null,
        Some(Value::Num(n)) => KeyPart::Num(if *n == 0.0 { 0 } else { n.to_bits() }),
        Some(Value::Time(ms)) => KeyPart::Time(*ms),
        Some(Value::Str(s)) => KeyPart::Text(Box::from(s.as_ref())),
        Some(other) => KeyPart::Text(other.to_string().into_boxed_str()),
    }
}

struct Groups {
    index: HashMap<Vec<KeyPart>, usize>,
    /// Group values (as first seen) and aggregate states, in order of first appearance.
    groups: Vec<(Vec<Option<Value>>, Vec<AggState>)>,
}

struct Sorted {
    rows: Vec<(Vec<Option<Value>>, u64, Row)>,
    next_seq: u64,
}

enum StageState {
    Stateless,
    Stats(Groups),
    Sort(Sorted),
    Dedup(HashSet<Vec<KeyPart>>),
    Limit(u64),
}

/// The running query.
pub struct Pipeline<'p> {
    plan: &'p Plan,
    functions: FnContext,
    states: Vec<StageState>,
    output: Vec<Row>,
    /// Index of the first stage that holds rows (stats or sort), if any.
    first_blocking: Option<usize>,
    matched: u64,
    done: bool,
}

impl<'p> Pipeline<'p> {
    pub fn new(plan: &'p Plan, functions: FnContext) -> Pipeline<'p> {
        let states = plan
            .stages
            .iter()
            .map(|stage| match stage {
                Stage::Stats(_) => StageState::Stats(Groups {
                    index: HashMap::new(),
                    groups: Vec::new(),
                }),
                Stage::Sort(_) => StageState::Sort(Sorted {
                    rows: Vec::new(),
                    next_seq: 0,
                }),
                Stage::Dedup(_) => StageState::Dedup(HashSet::new()),
                Stage::Limit(_) => StageState::Limit(0),
                _ => StageState::Stateless,
            })
            .collect();
        let first_blocking = plan
            .stages
            .iter()
            .position(|s| matches!(s, Stage::Stats(_) | Stage::Sort(_)));
        Pipeline {
            plan,
            functions,
            states,
            output: Vec::new(),
            first_blocking,
            matched: 0,
            done: false,
        }
    }

    /// A fresh row with every slot empty.
    pub fn empty_row(&self) -> Row {
        vec![None; self.plan.slot_names.len()]
    }

    /// Whether no further input can change the result (a limit was reached with nothing
    /// blocking before it).
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Events that passed the query's filters (before dedup and limit).
    pub fn matched(&self) -> u64 {
        self.matched
    }

    /// Runs one input row through the stages. The row's slots may be changed.
    pub fn push(&mut self, row: &mut Row) {
        if !self.done {
            self.run_from(0, row, true);
        }
    }

    fn run_from(&mut self, start: usize, row: &mut Row, from_input: bool) {
        let plan = self.plan;
        for i in start..plan.stages.len() {
            let scope = Scope {
                row,
                aggregates: &[],
                functions: &self.functions,
            };
            match &plan.stages[i] {
                Stage::Filter(cond) => {
                    if !truthy(cond, &scope) {
                        return;
                    }
                }
                Stage::Compute(items) => {
                    let values: Vec<(usize, Option<Value>)> =
                        items.iter().map(|(slot, e)| (*slot, eval(e, &scope))).collect();
                    for (slot, value) in values {
                        row[slot] = value;
                    }
                }
                Stage::Parse(parse) => {
                    let captured: Option<Vec<(usize, Option<Value>)>> =
                        eval(&parse.source, &scope).and_then(|v| {
                            let text = v.as_text()?;
                            let caps = parse.regex.captures(&text)?;
                            Some(
                                parse
                                    .captures
                                    .iter()
                                    .map(|(group, slot)| {
                                        (*slot, caps.get(*group).map(|m| Value::str(m.as_str())))
                                    })
                                    .collect(),
                            )
                        });
                    // A line the pattern does not match flows on without the fields.
                    for (group_slot, value) in captured.into_iter().flatten() {
                        row[group_slot] = value;
                    }
                }
                Stage::Stats(stats) => {
                    if from_input && self.first_blocking == Some(i) {
                        self.matched += 1;
                    }
                    self.accumulate(i, stats, row);
                    return;
                }
                Stage::Sort(sort) => {
                    if from_input && self.first_blocking == Some(i) {
                        self.matched += 1;
                    }
                    let keys: Vec<Option<Value>> = sort.keys.iter().map(|(e, _)| eval(e, &scope)).collect();
                    let StageState::Sort(sorted) = &mut self.states[i] else {
                        return;
                    };
                    let seq = sorted.next_seq;
                    sorted.next_seq += 1;
                    sorted.rows.push((keys, seq, std::mem::take(row)));
                    if let Some(keep) = sort.keep {
                        let keep = keep.max(1) as usize;
                        if sorted.rows.len() >= keep.saturating_mul(2).max(1024) {
                            truncate_sorted(&mut sorted.rows, &sort.keys, keep);
                        }
                    }
                    return;
                }
                Stage::Dedup(keys) => {
                    let values: Vec<Option<Value>> = keys.iter().map(|e| eval(e, &scope)).collect();
                    // Rows with a null key are never duplicates.
                    if values.iter().all(Option::is_some) {
                        let key: Vec<KeyPart> = values.iter().map(|v| key_part(v.as_ref())).collect();
                        let StageState::Dedup(seen) = &mut self.states[i] else {
                            return;
                        };
                        if !seen.insert(key) {
                            return;
                        }
                    }
                }
                Stage::Limit(n) => {
                    let StageState::Limit(count) = &mut self.states[i] else {
                        return;
                    };
                    if *count >= *n {
                        return;
                    }
                    *count += 1;
                    if *count >= *n && self.first_blocking.is_none_or(|b| b > i) {
                        self.done = true;
                    }
                }
            }
        }
        if from_input && self.first_blocking.is_none() {
            self.matched += 1;
        }
        self.output.push(std::mem::take(row));
    }

    fn accumulate(&mut self, i: usize, stats: &StatsStage, row: &Row) {
        let scope = Scope {
            row,
            aggregates: &[],
            functions: &self.functions,
        };
        let group_values: Vec<Option<Value>> = stats.groups.iter().map(|(_, e)| eval(e, &scope)).collect();
        let key: Vec<KeyPart> = group_values.iter().map(|v| key_part(v.as_ref())).collect();
        let args: Vec<Option<Value>> = stats
            .aggregates
            .iter()
            .map(|a| match &a.arg {
                None => Some(Value::Bool(true)),
                Some(e) => eval(e, &scope),
            })
            .collect();
        let time = stats
            .timestamp
            .and_then(|slot| row.get(slot).cloned().flatten())
            .and_then(|v| crate::exec::eval::time_ms(&v));
        let StageState::Stats(groups) = &mut self.states[i] else {
            return;
        };
        let index = if let Some(&index) = groups.index.get(&key) {
            index
        } else {
            let states = stats.aggregates.iter().map(|a| AggState::new(a.kind)).collect();
            groups.groups.push((group_values, states));
            groups.index.insert(key, groups.groups.len() - 1);
            groups.groups.len() - 1
        };
        for (state, arg) in groups.groups[index].1.iter_mut().zip(args) {
            state.add(arg, time);
        }
    }

    /// Flushes the holding stages in order and returns the result rows.
    pub fn finish(mut self) -> Vec<Row> {
        let plan = self.plan;
        for i in 0..plan.stages.len() {
            let state = std::mem::replace(&mut self.states[i], StageState::Stateless);
            match (&plan.stages[i], state) {
                (Stage::Stats(stats), StageState::Stats(groups)) => {
                    for mut row in self.stats_rows(stats, groups) {
                        self.run_from(i + 1, &mut row, false);
                    }
                }
                (Stage::Sort(sort), StageState::Sort(mut sorted)) => {
                    let keep = sort.keep.map_or(usize::MAX, |k| k as usize);
                    truncate_sorted(&mut sorted.rows, &sort.keys, keep);
                    for (_, _, mut row) in sorted.rows {
                        self.run_from(i + 1, &mut row, false);
                    }
                }
                (_, state) => self.states[i] = state,
            }
        }
        self.output
    }

    fn stats_rows(&self, stats: &StatsStage, groups: Groups) -> Vec<Row> {
        let mut groups = groups.groups;
        if groups.is_empty() && stats.groups.is_empty() {
            // `stats count(*)` over nothing is one row of zeros, not no rows.
            groups.push((
                Vec::new(),
                stats.aggregates.iter().map(|a| AggState::new(a.kind)).collect(),
            ));
        }
        // Groups come out in ascending order of their values (time order for bin()).
        groups.sort_by(|(a, _), (b, _)| {
            a.iter()
                .zip(b)
                .map(|(x, y)| cmp_nulls_last(x.as_ref(), y.as_ref(), false))
                .find(|o| o.is_ne())
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        let mut rows = Vec::with_capacity(groups.len());
        for (values, states) in groups {
            let aggregates: Vec<Option<Value>> = states.into_iter().map(AggState::finish).collect();
            let mut row = self.empty_row();
            for ((slot, _), value) in stats.groups.iter().zip(values) {
                row[*slot] = value;
            }
            let outputs: Vec<(usize, Option<Value>)> = {
                let scope = Scope {
                    row: &row,
                    aggregates: &aggregates,
                    functions: &self.functions,
                };
                stats
                    .outputs
                    .iter()
                    .map(|(slot, e)| (*slot, eval(e, &scope)))
                    .collect()
            };
            for (slot, value) in outputs {
                row[slot] = value;
            }
            rows.push(row);
        }
        rows
    }
}

/// Sorts by the keys (then arrival order) and keeps the first `keep` rows.
fn truncate_sorted(
    rows: &mut Vec<(Vec<Option<Value>>, u64, Row)>,
    keys: &[(crate::plan::CExpr, bool)],
    keep: usize,
) {
    let cmp = |a: &(Vec<Option<Value>>, u64, Row), b: &(Vec<Option<Value>>, u64, Row)| {
        for (i, (_, descending)) in keys.iter().enumerate() {
            let o = cmp_nulls_last(a.0[i].as_ref(), b.0[i].as_ref(), *descending);
            if o.is_ne() {
                return o;
            }
        }
        a.1.cmp(&b.1)
    };
    if keep < rows.len() {
        rows.select_nth_unstable_by(keep, cmp);
        rows.truncate(keep);
    }
    rows.sort_by(cmp);
}

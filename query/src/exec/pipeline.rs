//! Runs a plan's stages over rows as they stream in. Filters, computations, parse, dedup and
//! limit pass rows on one at a time; stats and sort hold what they need (groups; the top rows
//! when a limit follows) and pass their rows on at the end. Memory follows the result, not the
//! input.
//!
//! For parallel runs, each worker runs a pipeline up to the first holding stage; the workers'
//! states of that stage are merged ([`Pipeline::merge`]) and one pipeline finishes the query.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;

use crate::exec::aggregate_state::AggState;
use crate::exec::eval::{eval, truthy, Scope};
use crate::exec::groups::{hash_values, same_key, sort_in_key_order, tie_order, Groups, GroupsPart};
use crate::exec::natural_order::cmp_nulls_last;
use crate::exec::sort_spill;
use crate::exec::{parse_fields, patterns, rows};
use crate::functions::FnContext;
use crate::fx_hash::FxHasher;
use crate::plan::aggregate::StatsStage;
use crate::plan::{CExpr, Plan, SortStage, Stage};
use crate::value::Value;

/// A row: one optional value per plan slot.
pub type Row = Vec<Option<Value>>;

type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// The argument `count(*)` counts for every row.
const PRESENT_FOR_COUNT: Value = Value::Bool(true);

/// Rows held by a sort: sort keys, arrival order, row.
type Held = (Vec<Option<Value>>, u64, Row);

/// The last row a sort with a limit keeps: its sort keys, and its values in the tiebreak slots.
struct Floor {
    keys: Vec<Option<Value>>,
    ties: Vec<Option<Value>>,
}

#[derive(Default)]
struct Sorted {
    rows: Vec<Held>,
    next_seq: u64,
    /// Slots compared (ascending, natural order) between the sort keys and the arrival order:
    /// a stats stage's group slots when it hands its groups over unsorted.
    tiebreak: Vec<usize>,
    /// For a sort with a limit, once that many rows are held: the sort keys of the last row
    /// kept, and its tiebreak values. A row that sorts after them cannot make the cut and is
    /// not held.
    floor: Option<Floor>,
    /// Bytes the rows may take before they spill to disk (a sort without a limit).
    budget: Option<usize>,
    /// About the bytes the held rows take.
    bytes: usize,
    /// Rows spilled to disk, each run sorted.
    runs: Vec<crate::exec::spill::Run>,
    spill_error: Option<std::io::Error>,
    spills: u64,
}

impl Sorted {
    /// Writes the held rows to a run when they take more than the budget.
    fn maybe_spill(&mut self, order: &[(CExpr, bool)]) {
        if self.budget.is_none_or(|b| self.bytes <= b) || self.spill_error.is_some() {
            return;
        }
        if let Err(e) = self.spill(order) {
            self.spill_error = Some(e);
        }
    }

    fn spill(&mut self, order: &[(CExpr, bool)]) -> std::io::Result<()> {
        let descending: Vec<bool> = order.iter().map(|(_, d)| *d).collect();
        let run = sort_spill::spill_rows(&mut self.rows, &descending)?;
        self.bytes = 0;
        self.spills += 1;
        sort_spill::keep_run(&mut self.runs, run, &descending)
    }

    /// Whether `row`, with sort keys `keys`, sorts strictly after the floor.
    fn below_floor(&self, keys: &[Option<Value>], row: &Row, order: &[(CExpr, bool)]) -> bool {
        let Some(Floor {
            keys: floor,
            ties: floor_ties,
        }) = &self.floor
        else {
            return false;
        };
        for (i, (_, descending)) in order.iter().enumerate() {
            match cmp_nulls_last(keys[i].as_ref(), floor[i].as_ref(), *descending) {
                std::cmp::Ordering::Equal => {}
                o => return o.is_gt(),
            }
        }
        // Equal keys: the tiebreak values, as `truncate_sorted` compares them.
        let mine = |slot: usize| row.get(slot).and_then(Option::as_ref);
        let pairs = || self.tiebreak.iter().zip(floor_ties);
        for (&slot, theirs) in pairs() {
            match cmp_nulls_last(mine(slot), theirs.as_ref(), false) {
                std::cmp::Ordering::Equal => {}
                o => return o.is_gt(),
            }
        }
        for (&slot, theirs) in pairs() {
            match tie_order(mine(slot), theirs.as_ref()) {
                std::cmp::Ordering::Equal => {}
                o => return o.is_gt(),
            }
        }
        // Equal in all: the arrival order decides, later.
        false
    }

    /// Keeps the first `keep` rows and notes the floor.
    fn truncate(&mut self, order: &[(CExpr, bool)], keep: usize) {
        truncate_sorted(&mut self.rows, order, &self.tiebreak, keep);
        if self.rows.len() >= keep {
            self.floor = self.rows.last().map(|held| {
                let ties = self
                    .tiebreak
                    .iter()
                    .map(|&slot| value(held, slot).cloned())
                    .collect();
                Floor {
                    keys: held.0.clone(),
                    ties,
                }
            });
        }
    }
}

/// Dedup keys seen, by hash.
#[derive(Default)]
struct Seen {
    index: FxMap<u64, Vec<usize>>,
    keys: Vec<Vec<Option<Value>>>,
    /// About the bytes the keys take, and the most they may (they cannot go to disk: the run
    /// ends with an error past it rather than the process running out of memory).
    bytes: usize,
    budget: Option<usize>,
}

impl Seen {
    /// Whether `key` is new (and remembers it).
    fn insert(&mut self, key: Vec<Option<Value>>) -> bool {
        let hash = hash_values(&key);
        let candidates = self.index.entry(hash).or_default();
        if candidates.iter().any(|&i| same_key(&self.keys[i], &key)) {
            return false;
        }
        self.bytes += crate::exec::sort_spill::held_bytes(&key, &[]) + 32;
        self.keys.push(key);
        candidates.push(self.keys.len() - 1);
        true
    }

    fn over_budget(&self) -> bool {
        self.budget.is_some_and(|b| self.bytes > b)
    }
}

enum StageState {
    Stateless,
    Stats(Box<Groups>),
    Sort(Sorted),
    Dedup(Seen),
    Limit(u64),
    /// The rows a row-window command has been given so far.
    Rows(Vec<Row>),
    /// `pattern`'s templates so far (its rows are counted as they come, not held).
    Patterns(Box<patterns::Miner>),
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
    /// Reused buffer for group values.
    key_buf: Vec<Option<Value>>,
    /// Per stage: a stats stage that only counts rows (they are counted in batches).
    count_only: Vec<bool>,
    /// Reused buffer for computed and parsed fields.
    capture_buf: Vec<(usize, Option<Value>)>,
    /// Reused buffer for a row's sort keys.
    sort_key_buf: Vec<Option<Value>>,
    /// Threads the end of the query may use (as many as read the input).
    threads: usize,
}

/// What a worker's pipeline holds at the end of its share of the input.
pub struct Partial {
    state: StageState,
    matched: u64,
}

impl<'p> Pipeline<'p> {
    pub fn new(plan: &'p Plan, functions: FnContext) -> Pipeline<'p> {
        let states = plan
            .stages
            .iter()
            .map(|stage| match stage {
                Stage::Stats(stats) => StageState::Stats(Box::new(Groups::new(stats))),
                Stage::Sort(_) => StageState::Sort(Sorted::default()),
                Stage::Dedup(_) => StageState::Dedup(Seen::default()),
                Stage::Limit(_) => StageState::Limit(0),
                Stage::Patterns(_) => StageState::Patterns(Box::default()),
                Stage::Rows(_) => StageState::Rows(Vec::new()),
                _ => StageState::Stateless,
            })
            .collect();
        Pipeline {
            plan,
            functions,
            states,
            output: Vec::new(),
            first_blocking: first_blocking(plan),
            matched: 0,
            done: false,
            key_buf: Vec::new(),
            count_only: plan
                .stages
                .iter()
                .map(|s| matches!(s, Stage::Stats(stats) if Groups::counts_only(stats)))
                .collect(),
            capture_buf: Vec::new(),
            sort_key_buf: Vec::new(),
            threads: 1,
        }
    }

    /// Whether workers can each run the stages before the first holding stage and merge: only
    /// per-row stages (filters, computations, parse, unnest/expand, lookup, join) may come
    /// before it (a limit or dedup there needs the whole input in order).
    pub fn parallelizable(plan: &Plan) -> bool {
        match first_blocking(plan) {
            Some(b) => plan.stages[..b].iter().all(|s| {
                matches!(
                    s,
                    Stage::Filter(_)
                        | Stage::Compute(_)
                        | Stage::Parse(_)
                        | Stage::Expand(_)
                        | Stage::Lookup(_)
                        | Stage::Join(_)
                )
            }),
            None => false,
        }
    }

    /// Lets each stats table take about `bytes` before it spills its groups to disk (none: no
    /// limit).
    /// `whole` is all of `--max-memory`: a dedup, which only ever runs once, may take it.
    pub fn set_memory_budget(&mut self, (bytes, whole): (Option<usize>, Option<usize>)) {
        for state in &mut self.states {
            match state {
                StageState::Stats(groups) => groups.set_budget(bytes),
                StageState::Sort(sorted) => sorted.budget = bytes,
                StageState::Dedup(seen) => seen.budget = whole,
                _ => {}
            }
        }
    }

    /// Makes the stats tables spill past their budget only while the tables sharing `pool`
    /// take more than it holds.
    pub fn share_table_budget(&mut self, pool: &std::sync::Arc<crate::exec::groups::TablePool>) {
        for state in &mut self.states {
            if let StageState::Stats(groups) = state {
                groups.share_budget(pool.clone());
            }
        }
    }

    /// A fresh row with every slot empty.
    pub fn empty_row(&self) -> Row {
        vec![None; self.plan.slot_names.len()]
    }

    /// Sets where this pipeline's arrival numbers start, so rows from several workers keep the
    /// input's order when they tie in a sort.
    pub fn set_sequence_base(&mut self, base: u64) {
        for state in &mut self.states {
            if let StageState::Sort(sorted) = state {
                sorted.next_seq = base;
            }
        }
    }

    /// Whether no further input can change the result (a limit was reached with nothing
    /// holding before it).
    pub fn is_done(&self) -> bool {
        self.done
            || self.states.iter().any(|s| match s {
                StageState::Stats(groups) => groups.spill_failed(),
                StageState::Sort(sorted) => sorted.spill_error.is_some(),
                StageState::Dedup(seen) => seen.over_budget(),
                _ => false,
            })
    }

    /// Times its stats tables were written to disk.
    pub fn spills(&self) -> u64 {
        self.states
            .iter()
            .map(|s| match s {
                StageState::Stats(groups) => groups.spills(),
                StageState::Sort(sorted) => sorted.spills,
                _ => 0,
            })
            .sum()
    }

    /// Events that passed the query's filters (before dedup and limit).
    pub fn matched(&self) -> u64 {
        self.matched
    }

    /// Runs one input event through the stages. `line` is the event's text, read in place for
    /// `@message`. The row's slots may be changed or taken.
    pub fn push(&mut self, row: &mut Row, line: &str) {
        if !self.done {
            self.run_from(0, row, Some(line));
        }
    }

    /// The first stage's groups, when it is a stats stage (nothing counted).
    pub fn direct_groups_peek(&self) -> Option<&Groups> {
        match self.states.first()? {
            StageState::Stats(groups) if self.first_blocking == Some(0) => Some(groups),
            _ => None,
        }
    }

    /// For an event read straight into the first stage (a stats stage): counts it as matched
    /// and returns that stage's groups, or `None` if the first stage is not stats.
    pub fn direct_groups(&mut self) -> Option<&mut Groups> {
        if self.first_blocking != Some(0) {
            return None;
        }
        let StageState::Stats(groups) = self.states.first_mut()? else {
            return None;
        };
        self.matched += 1;
        Some(groups)
    }

    fn run_from(&mut self, start: usize, row: &mut Row, line: Option<&str>) {
        let plan = self.plan;
        let from_input = line.is_some();
        let message = match (plan.input.message, line) {
            (Some(slot), Some(line)) => Some((slot, line)),
            _ => None,
        };
        for i in start..plan.stages.len() {
            let scope = Scope {
                row,
                aggregates: &[],
                functions: &self.functions,
                message,
            };
            match &plan.stages[i] {
                Stage::Filter(cond) => {
                    if !truthy(cond, &scope) {
                        return;
                    }
                }
                Stage::Compute(items) => {
                    // Evaluate all before writing any: an item may read a slot another writes.
                    let mut values = std::mem::take(&mut self.capture_buf);
                    values.clear();
                    values.extend(items.iter().map(|(slot, e)| (*slot, eval(e, &scope))));
                    for (slot, value) in values.drain(..) {
                        row[slot] = value;
                    }
                    self.capture_buf = values;
                }
                Stage::Parse(parse) => {
                    if parse.captures.is_empty() {
                        continue;
                    }
                    let Some(text) = scope.text_of(&parse.source) else {
                        // Nothing to parse: the row flows on without the fields.
                        continue;
                    };
                    if parse.multi {
                        let matches = parse_fields::every_match(parse, &text);
                        drop(text);
                        if !matches.is_empty() {
                            // One row per match.
                            for captured in matches {
                                let mut copy = row.clone();
                                for (slot, value) in captured {
                                    copy[slot] = value;
                                }
                                self.run_from(i + 1, &mut copy, line);
                                if self.done {
                                    break;
                                }
                            }
                            return;
                        }
                        continue;
                    }
                    let mut captured = std::mem::take(&mut self.capture_buf);
                    captured.clear();
                    parse_fields::first_match(parse, &text, &mut captured);
                    drop(text);
                    // A line the pattern does not match flows on without the fields.
                    for (slot, value) in captured.drain(..) {
                        row[slot] = value;
                    }
                    self.capture_buf = captured;
                }
                Stage::Expand(expand) => {
                    let value = eval(&expand.source, &scope)
                        .or_else(|| expand.fallback.as_ref().and_then(|f| eval(f, &scope)));
                    let Some(value) = value else {
                        if expand.keep_missing {
                            continue;
                        }
                        return;
                    };
                    for element in parse_fields::elements(value) {
                        let mut copy = row.clone();
                        copy[expand.slot] = Some(element);
                        self.run_from(i + 1, &mut copy, line);
                        if self.done {
                            break;
                        }
                    }
                    return;
                }
                Stage::Join(join) => {
                    let (Some(index), Some(right)) = (join.index.get(), join.right.rows.get()) else {
                        return;
                    };
                    let key = eval(&join.left_key, &scope)
                        .and_then(|v| v.as_text().map(std::borrow::Cow::into_owned));
                    let matches = key.as_deref().and_then(|k| index.get(k));
                    let Some(matches) = matches else {
                        if !join.left_join {
                            return;
                        }
                        // A left join keeps the row, the right side's fields empty.
                        for (_, slot) in &join.right_slots {
                            row[*slot] = None;
                        }
                        continue;
                    };
                    // One row per matching event of the right side.
                    for &r in matches {
                        let mut copy = row.clone();
                        for (column, slot) in &join.right_slots {
                            copy[*slot] = right
                                .get(r)
                                .and_then(|values| values.get(*column).cloned().flatten());
                        }
                        self.run_from(i + 1, &mut copy, line);
                        if self.done {
                            break;
                        }
                    }
                    return;
                }
                Stage::Lookup(lookup) => {
                    // Loaded before the run starts; a run without it has no table to match.
                    let Some(table) = lookup.loaded.get() else {
                        continue;
                    };
                    let found = if lookup.cidr {
                        lookup
                            .keys
                            .first()
                            .and_then(|(_, e)| eval(e, &scope))
                            .and_then(|v| v.as_text().and_then(|t| table.network_row(&t)))
                    } else {
                        let cells: Option<Vec<String>> = lookup
                            .keys
                            .iter()
                            .map(|(_, e)| {
                                eval(e, &scope).and_then(|v| v.as_text().map(std::borrow::Cow::into_owned))
                            })
                            .collect();
                        cells.and_then(|cells| table.exact_row(&cells))
                    };
                    for (k, (_, slot)) in lookup.outputs.iter().enumerate() {
                        match (found, lookup.new_only) {
                            // OUTPUTNEW fills only what is empty, and only from a match.
                            (_, true) if row[*slot].is_some() => {}
                            (None, true) => {}
                            (Some(r), _) => row[*slot] = table.output(r, k).map(Value::str),
                            (None, false) => row[*slot] = None,
                        }
                    }
                }
                Stage::Patterns(counted) => {
                    if let StageState::Patterns(miner) = &mut self.states[i] {
                        miner.add_row(counted, row);
                    }
                    return;
                }
                Stage::Rows(_) => {
                    if let Some((slot, text)) = message {
                        if row[slot].is_none() {
                            row[slot] = Some(Value::str(text));
                        }
                    }
                    if let StageState::Rows(rows) = &mut self.states[i] {
                        rows.push(std::mem::take(row));
                    }
                    return;
                }
                Stage::Stats(stats) => {
                    if from_input && self.first_blocking == Some(i) {
                        self.matched += 1;
                    }
                    self.accumulate(i, stats, row, message);
                    return;
                }
                Stage::Sort(sort) => {
                    if from_input && self.first_blocking == Some(i) {
                        self.matched += 1;
                    }
                    // A row that cannot make the cut gives its keys' buffer back.
                    let mut keys = std::mem::take(&mut self.sort_key_buf);
                    keys.clear();
                    keys.extend(sort.keys.iter().map(|(e, _)| eval(e, &scope)));
                    let StageState::Sort(sorted) = &mut self.states[i] else {
                        return;
                    };
                    let seq = sorted.next_seq;
                    sorted.next_seq += 1;
                    if sorted.below_floor(&keys, row, &sort.keys) {
                        self.sort_key_buf = keys;
                        return;
                    }
                    // A held row outlives the line: copy the message in if it is needed.
                    if let Some((slot, text)) = message {
                        if row[slot].is_none() {
                            row[slot] = Some(Value::str(text));
                        }
                    }
                    if sorted.budget.is_some() && sort.keep.is_none() {
                        sorted.bytes += sort_spill::held_bytes(&keys, row);
                    }
                    sorted.rows.push((keys, seq, std::mem::take(row)));
                    if let Some(keep) = sort.keep {
                        let keep = usize::try_from(keep).unwrap_or(usize::MAX).max(1);
                        if sorted.rows.len() >= keep.saturating_mul(2).max(1024) {
                            sorted.truncate(&sort.keys, keep);
                        }
                    } else {
                        // Every row is held: past the budget they go to disk.
                        sorted.maybe_spill(&sort.keys);
                    }
                    return;
                }
                Stage::Dedup(keys) => {
                    let values: Vec<Option<Value>> = keys.iter().map(|e| eval(e, &scope)).collect();
                    // Rows with a null key are never duplicates.
                    if values.iter().all(Option::is_some) {
                        let StageState::Dedup(seen) = &mut self.states[i] else {
                            return;
                        };
                        // Past the budget it takes no more (the run ends with an error).
                        if seen.over_budget() || !seen.insert(values) {
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
        if let Some((slot, text)) = message {
            if row[slot].is_none() {
                row[slot] = Some(Value::str(text));
            }
        }
        self.output.push(std::mem::take(row));
    }

    fn accumulate(&mut self, i: usize, stats: &StatsStage, row: &Row, message: Option<(usize, &str)>) {
        let scope = Scope {
            row,
            aggregates: &[],
            functions: &self.functions,
            message,
        };
        let mut key = std::mem::take(&mut self.key_buf);
        key.clear();
        key.extend(stats.groups.iter().map(|(_, e)| eval(e, &scope)));
        let time = stats
            .timestamp
            .and_then(|slot| row.get(slot)?.as_ref())
            .and_then(crate::exec::eval::time_ms);
        let StageState::Stats(groups) = &mut self.states[i] else {
            return;
        };
        if self.count_only[i] {
            groups.count_later(&mut key);
            groups.maybe_spill();
            self.key_buf = key;
            return;
        }
        let index = groups.find_or_insert(&mut key);
        for (state, spec) in groups.states_mut(index).iter_mut().zip(&stats.aggregates) {
            // A field argument is read in place; other expressions are evaluated.
            let computed;
            let arg = match &spec.arg {
                None => Some(&PRESENT_FOR_COUNT),
                Some(CExpr::Slot(slot)) if message.is_none_or(|(m, _)| m != *slot) => {
                    row.get(*slot).and_then(Option::as_ref)
                }
                Some(e) => {
                    computed = eval(e, &scope);
                    computed.as_ref()
                }
            };
            state.add(arg, time);
        }
        groups.maybe_spill();
        self.key_buf = key;
    }

    /// This worker's state of the first holding stage, to merge with the others'.
    pub fn into_partial(mut self) -> Partial {
        let state = match self.first_blocking {
            Some(b) => std::mem::replace(&mut self.states[b], StageState::Stateless),
            None => StageState::Stateless,
        };
        Partial {
            state,
            matched: self.matched,
        }
    }

    /// A pipeline holding the merged states of workers' partials, ready to [`finish`](Self::finish);
    /// its stats table spills past `budget` bytes.
    pub fn merge(
        plan: &'p Plan,
        functions: FnContext,
        partials: Vec<Partial>,
        (budget, whole): (Option<usize>, Option<usize>),
    ) -> Pipeline<'p> {
        let mut pipeline = Pipeline::new(plan, functions);
        pipeline.threads = partials.len().max(1);
        pipeline.set_memory_budget((budget, whole));
        let Some(b) = pipeline.first_blocking else {
            return pipeline;
        };
        // The stats tables not merged yet, in bytes: while they live, the merged table may take
        // what of the whole budget they leave (each took at most its share, so merging one in,
        // while it still lives, stays within the whole).
        let mut unmerged: usize = partials
            .iter()
            .map(|p| match &p.state {
                StageState::Stats(groups) => groups.estimated_bytes(),
                _ => 0,
            })
            .sum();
        // Tables merge part by part on as many threads as there were workers.
        let threads = pipeline.threads;
        for partial in partials {
            pipeline.matched += partial.matched;
            match (&plan.stages[b], &mut pipeline.states[b], partial.state) {
                (Stage::Stats(_), StageState::Stats(mine), StageState::Stats(mut theirs)) => {
                    unmerged = unmerged.saturating_sub(theirs.estimated_bytes());
                    // The smaller table goes into the bigger one.
                    if theirs.len() > mine.len() {
                        std::mem::swap(mine, &mut theirs);
                    }
                    let room = whole.map(|w| w.saturating_sub(unmerged).max(budget.unwrap_or(0)));
                    mine.set_budget(room.or(budget));
                    mine.merge(*theirs, threads);
                    mine.maybe_spill();
                }
                (Stage::Sort(sort), StageState::Sort(mine), StageState::Sort(mut theirs)) => {
                    mine.budget = budget;
                    mine.rows.append(&mut theirs.rows);
                    mine.bytes += theirs.bytes;
                    mine.spills += theirs.spills;
                    mine.spill_error = mine.spill_error.take().or(theirs.spill_error.take());
                    let descending: Vec<bool> = sort.keys.iter().map(|(_, d)| *d).collect();
                    for run in std::mem::take(&mut theirs.runs) {
                        if let Err(e) = sort_spill::keep_run(&mut mine.runs, run, &descending) {
                            mine.spill_error = mine.spill_error.take().or(Some(e));
                        }
                    }
                    if let Some(keep) = sort.keep {
                        let keep = usize::try_from(keep).unwrap_or(usize::MAX).max(1);
                        truncate_sorted(&mut mine.rows, &sort.keys, &mine.tiebreak, keep);
                    } else {
                        mine.maybe_spill(&sort.keys);
                    }
                }
                _ => {}
            }
        }
        pipeline
    }

    /// Flushes the holding stages in order and returns the result rows (or why groups spilled
    /// to disk could not be read back, or a dedup outgrew the memory budget).
    pub fn finish(mut self) -> std::io::Result<Vec<Row>> {
        let plan = self.plan;
        for i in 0..plan.stages.len() {
            let state = std::mem::replace(&mut self.states[i], StageState::Stateless);
            match (&plan.stages[i], state) {
                (Stage::Stats(stats), StageState::Stats(groups)) if groups.has_runs() => {
                    // Groups beyond the memory budget: merged from disk in the order the
                    // in-memory path sorts them in, one at a time.
                    let mut next = Vec::new();
                    let mut outputs = Vec::new();
                    groups.merge_spilled(&mut |(mut key, states)| {
                        if self.saturated_after(i) {
                            return;
                        }
                        let finished: Vec<Option<Value>> = states.into_iter().map(AggState::finish).collect();
                        let mut row = self.empty_row();
                        fill_group_row(
                            stats,
                            &self.functions,
                            &mut row,
                            &mut key,
                            &finished,
                            &mut outputs,
                        );
                        next.push(row);
                        if next.len() >= 1024 {
                            for mut row in next.drain(..) {
                                self.run_from(i + 1, &mut row, None);
                            }
                        }
                    })?;
                    for mut row in next {
                        self.run_from(i + 1, &mut row, None);
                    }
                }
                (Stage::Stats(stats), StageState::Stats(mut groups)) => {
                    if let Some(e) = groups.take_spill_error() {
                        return Err(e);
                    }
                    // A top-k sort next needs no ordered groups: it breaks its ties by the group
                    // values instead, which orders its few rows as sorted groups would.
                    let tiebreak = self.top_k_tiebreak(i, stats);
                    let sort_groups = tiebreak.is_none();
                    if let (Some(slots), Some(StageState::Sort(sorted))) =
                        (tiebreak, self.states.get_mut(i + 1))
                    {
                        sorted.tiebreak = slots;
                    }
                    let shared = !sort_groups && self.threads > 1 && groups.is_split();
                    if let Some(Stage::Sort(sort)) = plan.stages.get(i + 1).filter(|_| shared) {
                        // A table split into parts before a top-k sort: each thread picks the
                        // rows that can make the cut from its share of the parts, and the sort
                        // takes only those.
                        let candidates = self.top_k_candidates(stats, sort, *groups);
                        if let Some(StageState::Sort(sorted)) = self.states.get_mut(i + 1) {
                            for (keys, _, row) in candidates {
                                let seq = sorted.next_seq;
                                sorted.next_seq += 1;
                                sorted.rows.push((keys, seq, row));
                            }
                        }
                        continue;
                    }
                    let (mut keys, finished, order) = finished_groups(stats, *groups, sort_groups);
                    let (width, per_group) = (stats.groups.len(), stats.aggregates.len());
                    let mut row = Row::new();
                    let mut outputs = Vec::new();
                    for group in order {
                        if self.saturated_after(i) {
                            break;
                        }
                        // A row the next stages did not keep is emptied and used again.
                        if row.len() == self.plan.slot_names.len() {
                            row.fill(None);
                        } else {
                            row = self.empty_row();
                        }
                        let aggregates = finished
                            .get(group * per_group..(group + 1) * per_group)
                            .unwrap_or_default();
                        let key = keys
                            .get_mut(group * width..(group + 1) * width)
                            .unwrap_or_default();
                        fill_group_row(stats, &self.functions, &mut row, key, aggregates, &mut outputs);
                        self.run_from(i + 1, &mut row, None);
                    }
                }
                (Stage::Sort(sort), StageState::Sort(mut sorted))
                    if !sorted.runs.is_empty() || sorted.spill_error.is_some() =>
                {
                    // Rows past the memory budget: merged from disk in the sort's order.
                    if let Some(e) = sorted.spill_error.take() {
                        return Err(e);
                    }
                    if !sorted.rows.is_empty() {
                        sorted.spill(&sort.keys)?;
                    }
                    let descending: Vec<bool> = sort.keys.iter().map(|(_, d)| *d).collect();
                    let mut next = Vec::new();
                    sort_spill::merge(
                        std::mem::take(&mut sorted.runs),
                        &descending,
                        &mut |(_, _, row)| {
                            if self.saturated_after(i) {
                                return;
                            }
                            next.push(row);
                            if next.len() >= 1024 {
                                for mut row in next.drain(..) {
                                    self.run_from(i + 1, &mut row, None);
                                }
                            }
                        },
                    )?;
                    for mut row in next {
                        self.run_from(i + 1, &mut row, None);
                    }
                }
                (Stage::Sort(sort), StageState::Sort(mut sorted)) => {
                    let keep = sort
                        .keep
                        .map_or(usize::MAX, |k| usize::try_from(k).unwrap_or(usize::MAX));
                    truncate_sorted(&mut sorted.rows, &sort.keys, &sorted.tiebreak, keep);
                    for (_, _, mut row) in sorted.rows {
                        if self.saturated_after(i) {
                            break;
                        }
                        self.run_from(i + 1, &mut row, None);
                    }
                }
                (Stage::Patterns(counted), StageState::Patterns(miner)) => {
                    for mut row in patterns::finish(counted, &miner) {
                        if self.saturated_after(i) {
                            break;
                        }
                        self.run_from(i + 1, &mut row, None);
                    }
                }
                (Stage::Rows(stage), StageState::Rows(held)) => {
                    let width = plan.slot_names.len();
                    for mut row in rows::apply(stage, held, &self.functions)? {
                        if self.saturated_after(i) {
                            break;
                        }
                        // Rows a command adds (appendcols past the last row) hold every slot.
                        if row.len() < width {
                            row.resize(width, None);
                        }
                        self.run_from(i + 1, &mut row, None);
                    }
                }
                (_, state) => self.states[i] = state,
            }
        }
        if let Some(keys) = self.states.iter().find_map(|s| match s {
            StageState::Dedup(seen) if seen.over_budget() => Some(seen.keys.len()),
            _ => None,
        }) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::OutOfMemory,
                format!("dedup had seen {keys} distinct keys, more than --max-memory holds (its keys stay in memory)"),
            ));
        }
        Ok(self.output)
    }

    /// Whether no row handed on from holding stage `i` can reach the result any more: a later
    /// limit is full, with no holding stage between (so a dedup between stops taking keys).
    fn saturated_after(&self, i: usize) -> bool {
        for (stage, state) in self.plan.stages.iter().zip(&self.states).skip(i + 1) {
            match (stage, state) {
                (Stage::Stats(_) | Stage::Sort(_) | Stage::Rows(_) | Stage::Patterns(_), _) => return false,
                (Stage::Limit(n), StageState::Limit(count)) => return count >= n,
                _ => {}
            }
        }
        false
    }

    /// The group slots a top-k sort right after stats stage `i` can break ties by, when the
    /// stats outputs leave them as they are.
    fn top_k_tiebreak(&self, i: usize, stats: &StatsStage) -> Option<Vec<usize>> {
        match self.plan.stages.get(i + 1) {
            Some(Stage::Sort(sort)) if sort.keep.is_some() => {}
            _ => return None,
        }
        let slots: Vec<usize> = stats.groups.iter().map(|(slot, _)| *slot).collect();
        let overwritten = stats.outputs.iter().any(|(slot, _)| slots.contains(slot));
        // Two `by` terms of one name leave only the last in the row: groups could then tie in
        // full, and the sort needs them in key order instead.
        let shared = slots
            .iter()
            .enumerate()
            .any(|(n, slot)| slots[..n].contains(slot));
        (!overwritten && !shared).then_some(slots)
    }

    /// The rows of `groups` that can make the cut of the top-k `sort` that follows stats stage
    /// `stats` (at least those it keeps), found on [`Pipeline::threads`] threads, each over
    /// its share of the table's parts. Rows of distinct groups never tie in full (the tiebreak
    /// compares their values and kinds, one slot per `by` term — see
    /// [`Pipeline::top_k_tiebreak`]), so which rows come from which thread, and in what order,
    /// cannot change the sort's answer.
    fn top_k_candidates(&self, stats: &StatsStage, sort: &SortStage, groups: Groups) -> Vec<Held> {
        let top = TopK {
            stats,
            sort,
            functions: &self.functions,
            tiebreak: stats.groups.iter().map(|(slot, _)| *slot).collect(),
            keep: sort
                .keep
                .map_or(usize::MAX, |k| usize::try_from(k).unwrap_or(usize::MAX))
                .max(1),
            slots: self.plan.slot_names.len(),
        };
        let parts: Vec<(usize, GroupsPart)> = groups.into_parts().into_iter().enumerate().collect();
        let pickers = crate::exec::shared_work::on_threads(
            parts,
            self.threads,
            || top.picker(),
            |picker, (n, part)| top.pick(picker, n, part),
        );
        pickers
            .into_iter()
            .flat_map(|picker| top.finish(picker))
            .collect()
    }
}

/// A top-k sort after a stats stage, as each thread of [`Pipeline::top_k_candidates`] applies
/// it to its share of the groups.
struct TopK<'a> {
    stats: &'a StatsStage,
    sort: &'a SortStage,
    functions: &'a FnContext,
    /// The stats stage's group slots, which break ties.
    tiebreak: Vec<usize>,
    keep: usize,
    /// Slots per row.
    slots: usize,
}

/// What one thread of [`Pipeline::top_k_candidates`] holds: the rows that may make the cut,
/// the parts it is done with, and buffers reused from group to group.
struct Picker {
    sorted: Sorted,
    /// The parts' groups, freed later, off the answer's path (rows take copies of the keys).
    spent: Vec<GroupsPart>,
    row: Row,
    key: Vec<Option<Value>>,
    keys: Vec<Option<Value>>,
    outputs: Vec<(usize, Option<Value>)>,
    finished: Vec<Option<Value>>,
}

impl TopK<'_> {
    fn picker(&self) -> Picker {
        Picker {
            sorted: Sorted {
                tiebreak: self.tiebreak.clone(),
                ..Sorted::default()
            },
            spent: Vec::new(),
            row: Row::new(),
            key: Vec::new(),
            keys: Vec::new(),
            outputs: Vec::new(),
            finished: Vec::new(),
        }
    }

    /// Holds the rows of part `n`'s groups that can make the cut.
    fn pick(&self, picker: &mut Picker, n: usize, mut groups: GroupsPart) {
        let (width, per_group) = (self.stats.groups.len(), self.stats.aggregates.len());
        let order = &self.sort.keys;
        let Picker {
            sorted,
            row,
            key,
            keys,
            outputs,
            finished,
            ..
        } = picker;
        for group in 0..groups.keys.len().checked_div(width).unwrap_or(0) {
            if group % TOUCH_AHEAD == 0 {
                touch_texts(&groups.keys[group * width..], TOUCH_AHEAD * width);
            }
            finished.clear();
            finished.extend(
                groups.states[group * per_group..(group + 1) * per_group]
                    .iter_mut()
                    .map(|state| std::mem::replace(state, AggState::Count(0)).finish()),
            );
            if row.len() == self.slots {
                row.fill(None);
            } else {
                *row = vec![None; self.slots];
            }
            key.clear();
            key.extend_from_slice(&groups.keys[group * width..(group + 1) * width]);
            fill_group_row(self.stats, self.functions, row, key, finished, outputs);
            let scope = Scope {
                row,
                aggregates: &[],
                functions: self.functions,
                message: None,
            };
            keys.clear();
            keys.extend(order.iter().map(|(e, _)| eval(e, &scope)));
            if sorted.below_floor(keys, row, order) {
                continue;
            }
            let seq = ((n as u64) << 32) | group as u64;
            sorted.rows.push((std::mem::take(keys), seq, std::mem::take(row)));
            if sorted.rows.len() >= self.keep.saturating_mul(2).max(1024) {
                sorted.truncate(order, self.keep);
            }
        }
        picker.spent.push(groups);
    }

    /// A thread's candidates, its parts handed to be freed.
    fn finish(&self, mut picker: Picker) -> Vec<Held> {
        picker.sorted.truncate(&self.sort.keys, self.keep);
        drop_in_background(picker.spent);
        picker.sorted.rows
    }
}

/// Drops `value` on a thread of its own: freeing millions of group keys takes a good part of a
/// second that the answer need not wait for. (If no thread can be started, here and now.)
fn drop_in_background<T: Send + 'static>(value: T) {
    // A thread that cannot start drops its closure, and the value with it, here.
    let _started = std::thread::Builder::new()
        .name("logq-free".into())
        .spawn(move || drop(value));
}

/// Groups whose key texts are touched at once, ahead of their rows.
const TOUCH_AHEAD: usize = 32;

/// Reads the first byte of the texts among the first `n` of `values`. The loads do not wait
/// on each other, so their cache misses overlap; each text is then in cache when it is
/// compared (a table's parts hold their groups' texts scattered over the heap).
fn touch_texts(values: &[Option<Value>], n: usize) {
    let touched = values.iter().take(n).fold(0u8, |acc, v| match v {
        Some(Value::Str(text)) => acc ^ text.as_bytes().first().copied().unwrap_or(0),
        _ => acc,
    });
    std::hint::black_box(touched);
}

/// Fills the empty `row` with one group: its `by` values (taken from `key`) and its outputs
/// computed from the finished `aggregates` (`outputs` is scratch space).
fn fill_group_row(
    stats: &StatsStage,
    functions: &FnContext,
    row: &mut Row,
    key: &mut [Option<Value>],
    aggregates: &[Option<Value>],
    outputs: &mut Vec<(usize, Option<Value>)>,
) {
    for (n, (slot, _)) in stats.groups.iter().enumerate() {
        row[*slot] = key.get_mut(n).and_then(Option::take);
    }
    outputs.clear();
    let scope = Scope {
        row,
        aggregates,
        functions,
        message: None,
    };
    outputs.extend(stats.outputs.iter().map(|(slot, e)| (*slot, eval(e, &scope))));
    for (slot, value) in outputs.drain(..) {
        row[slot] = value;
    }
}

/// A stats stage's groups at the end: their key values (`width` per group), their finished
/// aggregates (one per aggregate) and the order to hand them on in — ascending key order when
/// `sort_groups`, else as they are.
fn finished_groups(
    stats: &StatsStage,
    groups: Groups,
    sort_groups: bool,
) -> (Vec<Option<Value>>, Vec<Option<Value>>, Vec<usize>) {
    let width = stats.groups.len();
    let per_group = stats.aggregates.len();
    let (keys, states) = groups.into_flat();
    let mut count = states.len().checked_div(per_group).unwrap_or(0);
    let mut finished: Vec<Option<Value>> = states.into_iter().map(AggState::finish).collect();
    if count == 0 && stats.groups.is_empty() {
        // `stats count(*)` over nothing is one row of zeros, not no rows.
        finished = stats
            .aggregates
            .iter()
            .map(|a| AggState::new(a.kind).finish())
            .collect();
        count = 1;
    }
    let mut order: Vec<usize> = (0..count).collect();
    // Groups come out in ascending order of their values (time order for bin()), as the
    // groups merged from disk do.
    if sort_groups && width > 0 {
        sort_in_key_order(&mut order, &keys, width);
    }
    (keys, finished, order)
}

fn first_blocking(plan: &Plan) -> Option<usize> {
    plan.stages
        .iter()
        .position(|s| matches!(s, Stage::Stats(_) | Stage::Sort(_)))
}

/// A held row's value in `slot`.
fn value(h: &Held, slot: usize) -> Option<&Value> {
    h.2.get(slot).and_then(Option::as_ref)
}

/// Sorts by the keys (then the tiebreak slots, then arrival order) and keeps the first `keep`
/// rows.
fn truncate_sorted(rows: &mut Vec<Held>, keys: &[(CExpr, bool)], tiebreak: &[usize], keep: usize) {
    let cmp = |a: &Held, b: &Held| {
        for (i, (_, descending)) in keys.iter().enumerate() {
            let o = cmp_nulls_last(a.0[i].as_ref(), b.0[i].as_ref(), *descending);
            if o.is_ne() {
                return o;
            }
        }
        // Group values, as stats orders its groups (so every path keeps the same ones).
        for &slot in tiebreak {
            let o = cmp_nulls_last(value(a, slot), value(b, slot), false);
            if o.is_ne() {
                return o;
            }
        }
        for &slot in tiebreak {
            let o = tie_order(value(a, slot), value(b, slot));
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

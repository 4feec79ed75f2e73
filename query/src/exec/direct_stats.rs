//! Stats straight from JSON keys: when a query starts with `stats` whose groups and arguments
//! are plain top-level JSON fields or the event's time (`stats avg(latencyMs), pct(latencyMs,
//! 99) by service`, `stats count(*) by bin(5m)`), each line's few keys (and its time) are read
//! by key into the group key and the aggregates' arguments directly, without filling a row and
//! evaluating expressions over it.
//!
//! It answers exactly as the row path does, or not at all: whenever the key-directed reading
//! declines a line (not a JSON object it can vouch for, or one without a time of its own when
//! times matter), the caller runs the line through the row path.

use crate::event::{KeyFinder, KeyScratch};
use crate::exec::extract::Extractor;
use crate::exec::groups::Groups;
use crate::exec::pipeline::Pipeline;
use crate::functions::{floor_to_period, Period};
use crate::plan::{CExpr, Plan, Stage};
use crate::value::Value;

/// The argument `count(*)` counts for every row (as the row path passes it).
const PRESENT_FOR_COUNT: Value = Value::Bool(true);

/// Where a `by` term or an argument comes from.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Term<'p> {
    /// The value of the finder's key number N.
    Key(usize),
    /// The event's time.
    Time,
    /// The event's time rounded down to a period (`bin()`).
    Bin(&'p Period),
}

/// What [`DirectStats::add`] did with a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direct {
    /// Added to the stats, with the line's own time (if times are read).
    Added(Option<i64>),
    /// Read, but its time is outside the query's range: not added.
    OutOfRange(i64),
    /// Not read: the line takes the row path.
    Declined,
}

pub struct DirectStats<'p> {
    finder: KeyFinder,
    groups: Vec<Term<'p>>,
    /// For each `by` term, whether nothing else reads its key (so its value can be moved out).
    group_takes: Vec<bool>,
    /// Each aggregate's argument (`None`: `count(*)`).
    args: Vec<Option<Term<'p>>>,
    /// Whether every aggregate is `count(*)` (rows are then counted in batches).
    counts_only: bool,
    /// Whether lines' times are read (the query uses them, or a time range applies).
    times: bool,
    range: (Option<i64>, Option<i64>),
    /// The values of the line being read, by finder key.
    values: Vec<Option<Value>>,
    key: Vec<Option<Value>>,
    /// The key finder's buffers.
    scratch: KeyScratch,
}

impl<'p> DirectStats<'p> {
    /// The direct path for `plan`, if its first stage is a stats stage it can serve: every
    /// `by` term and argument a plain top-level JSON field, `@timestamp` or `bin()` of it.
    /// `times`: whether events' times must be read (the plan reads them or `range` applies).
    pub fn for_plan(
        plan: &'p Plan,
        times: bool,
        range: (Option<i64>, Option<i64>),
    ) -> Option<DirectStats<'p>> {
        let Some(Stage::Stats(stats)) = plan.stages.first() else {
            return None;
        };
        let timestamp = plan.input.timestamp;
        let mut names: Vec<&str> = Vec::new();
        let mut term_of = |expr: &'p CExpr| -> Option<Term<'p>> {
            match expr {
                CExpr::Slot(slot) if *slot == timestamp => return Some(Term::Time),
                CExpr::Floor {
                    time,
                    period,
                    shift_ms: 0,
                } if matches!(**time, CExpr::Slot(s) if s == timestamp) => {
                    return Some(Term::Bin(period));
                }
                _ => {}
            }
            let CExpr::Slot(slot) = expr else { return None };
            let name = plan
                .input
                .discovered
                .iter()
                .find(|(_, s)| s == slot)
                .map(|(name, _)| name.as_str())?;
            if let Some(k) = names.iter().position(|n| *n == name) {
                return Some(Term::Key(k));
            }
            names.push(name);
            Some(Term::Key(names.len() - 1))
        };
        let groups = stats
            .groups
            .iter()
            .map(|(_, expr)| term_of(expr))
            .collect::<Option<Vec<Term<'p>>>>()?;
        let args = stats
            .aggregates
            .iter()
            .map(|spec| match &spec.arg {
                None => Some(None),
                // A binned time as an argument is left to the row path.
                Some(expr) => match term_of(expr)? {
                    Term::Bin(_) => None,
                    term => Some(Some(term)),
                },
            })
            .collect::<Option<Vec<Option<Term<'p>>>>>()?;
        let reads_time = groups
            .iter()
            .chain(args.iter().flatten())
            .any(|t| matches!(t, Term::Time | Term::Bin(_)));
        if reads_time && !times {
            return None;
        }
        let finder = KeyFinder::new(names.iter().copied())?;
        let group_takes = groups
            .iter()
            .enumerate()
            .map(|(i, term)| {
                let again = groups.iter().enumerate().any(|(j, t)| j != i && t == term);
                !again && !args.contains(&Some(*term))
            })
            .collect();
        Some(DirectStats {
            values: vec![None; names.len()],
            finder,
            groups,
            group_takes,
            counts_only: Groups::counts_only(stats),
            args,
            times,
            range,
            key: Vec::new(),
            scratch: KeyScratch::default(),
        })
    }

    /// Adds `line` to the pipeline's first stage, or declines it (having changed nothing).
    /// `extractor` reads the line's time, as the row path would.
    pub fn add(&mut self, line: &[u8], extractor: &mut Extractor<'_>, pipeline: &mut Pipeline<'_>) -> Direct {
        let values = &mut self.values;
        if !self
            .finder
            .read_each(line, &mut self.scratch, |k, value| values[k] = value)
        {
            return Direct::Declined;
        }
        let time = if self.times {
            // A line without a time of its own inherits one: the row path knows which.
            let Some(Some(ms)) = extractor.timestamp_by_key(line) else {
                return Direct::Declined;
            };
            let (start, end) = self.range;
            if start.is_some_and(|s| ms < s) || end.is_some_and(|e| ms > e) {
                return Direct::OutOfRange(ms);
            }
            Some(ms)
        } else {
            None
        };
        let Some(groups) = pipeline.direct_groups() else {
            return Direct::Declined;
        };
        self.key.clear();
        for (term, &take) in self.groups.iter().zip(&self.group_takes) {
            let value = match *term {
                Term::Key(k) if take => self.values[k].take(),
                Term::Key(k) => self.values[k].clone(),
                Term::Time => time.map(Value::Time),
                Term::Bin(period) => time.map(|ms| Value::Time(floor_to_period(ms, period))),
            };
            self.key.push(value);
        }
        if self.counts_only {
            groups.count_later(&mut self.key);
            groups.maybe_spill();
            return Direct::Added(time);
        }
        let index = groups.find_or_insert(&mut self.key);
        let time_value = time.map(Value::Time);
        for (state, arg) in groups.states_mut(index).iter_mut().zip(&self.args) {
            let value = match arg {
                None => Some(&PRESENT_FOR_COUNT),
                Some(Term::Key(k)) => self.values[*k].as_ref(),
                Some(Term::Time) => time_value.as_ref(),
                Some(Term::Bin(_)) => None,
            };
            state.add(value, time);
        }
        groups.maybe_spill();
        Direct::Added(time)
    }
}

#[cfg(test)]
mod tests {
    use super::DirectStats;

    fn serves(query: &str) -> bool {
        let plan = crate::compile(query).expect("query compiles");
        DirectStats::for_plan(&plan, plan.input.timestamp_needed, (None, None)).is_some()
    }

    #[test]
    fn serves_stats_of_plain_fields_and_times_only() {
        assert!(serves(
            "stats avg(latencyMs), max(latencyMs), pct(latencyMs, 99) by service"
        ));
        assert!(serves("stats count(*) by userId | sort count(*) desc | limit 10"));
        assert!(serves("stats count(*), sum(a) by b, c, a"));
        assert!(serves("stats count(*)"));
        assert!(serves("stats count(*) by bin(5m)"));
        assert!(serves("stats count(*) by bin(1h), level"));
        assert!(serves("stats earliest(level), max(@timestamp) by service"));
        // Nested or computed fields, the message, or a stage before stats: the row path.
        assert!(!serves("stats count(*) by http.status"));
        assert!(!serves("stats avg(latencyMs / 1000) by service"));
        assert!(!serves("stats count(*) by @message"));
        assert!(!serves("stats count(*) by @logStream"));
        assert!(!serves("filter level = 'ERROR' | stats count(*) by service"));
        assert!(!serves(
            "parse @message \"user=*\" as user | stats count(*) by user"
        ));
        // Times when the reader was told not to read them.
        let plan = crate::compile("stats count(*) by bin(5m)").expect("query compiles");
        assert!(DirectStats::for_plan(&plan, false, (None, None)).is_none());
    }
}

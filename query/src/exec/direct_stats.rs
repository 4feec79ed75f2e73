//! Stats straight from JSON keys: when a query starts with `stats` whose groups and arguments
//! are plain top-level JSON fields (`stats avg(latencyMs), pct(latencyMs, 99) by service`), each
//! line's few keys are read by [`KeyFinder`] into the group key and the aggregates' arguments
//! directly, without filling a row and evaluating expressions over it.
//!
//! It answers exactly as the row path does, or not at all: whenever the key finder declines a
//! line (not a JSON object it can vouch for), the caller runs the line through the row path.

use crate::event::KeyFinder;
use crate::exec::extract::TimestampRule;
use crate::exec::groups::Groups;
use crate::exec::pipeline::Pipeline;
use crate::plan::aggregate::AggKind;
use crate::plan::{CExpr, Plan, Stage};
use crate::value::Value;

/// The argument `count(*)` counts for every row (as the row path passes it).
const PRESENT_FOR_COUNT: Value = Value::Bool(true);

pub struct DirectStats {
    finder: KeyFinder,
    /// For each `by` term, the finder key that is its value...
    group_keys: Vec<usize>,
    /// ...and whether nothing else reads that key (so its value can be moved, not copied).
    group_takes: Vec<bool>,
    /// For each aggregate, the finder key of its argument (`None`: `count(*)`).
    arg_keys: Vec<Option<usize>>,
    /// Whether every aggregate is `count(*)` (rows are then counted in batches).
    counts_only: bool,
    /// The values of the line being read, by finder key.
    values: Vec<Option<Value>>,
    key: Vec<Option<Value>>,
    /// Reused buffer for unescaped strings.
    text: String,
}

impl DirectStats {
    /// The direct path for `plan`, if its first stage is a stats stage it can serve: every
    /// `by` term and argument a plain top-level JSON field, no aggregate that needs times, and
    /// nothing that needs the events' times (a time range, `--timestamp-field`).
    pub fn for_plan(plan: &Plan, needs_times: bool, rule: &TimestampRule) -> Option<DirectStats> {
        let Some(Stage::Stats(stats)) = plan.stages.first() else {
            return None;
        };
        let needs_row_times = stats
            .aggregates
            .iter()
            .any(|a| matches!(a.kind, AggKind::Earliest | AggKind::Latest));
        if needs_times || needs_row_times || plan.input.timestamp_needed || rule.field.is_some() {
            return None;
        }
        let mut names: Vec<&str> = Vec::new();
        let mut key_of = |expr: &CExpr| -> Option<usize> {
            let CExpr::Slot(slot) = expr else { return None };
            let name = plan
                .input
                .discovered
                .iter()
                .find(|(_, s)| s == slot)
                .map(|(name, _)| name.as_str())?;
            if let Some(k) = names.iter().position(|n| *n == name) {
                return Some(k);
            }
            names.push(name);
            Some(names.len() - 1)
        };
        let group_keys = stats
            .groups
            .iter()
            .map(|(_, expr)| key_of(expr))
            .collect::<Option<Vec<usize>>>()?;
        let arg_keys = stats
            .aggregates
            .iter()
            .map(|spec| match &spec.arg {
                None => Some(None),
                Some(expr) => key_of(expr).map(Some),
            })
            .collect::<Option<Vec<Option<usize>>>>()?;
        let finder = KeyFinder::new(names.iter().copied())?;
        let group_takes = group_keys
            .iter()
            .enumerate()
            .map(|(i, k)| {
                let other_groups = group_keys.iter().enumerate().any(|(j, g)| j != i && g == k);
                !other_groups && !arg_keys.contains(&Some(*k))
            })
            .collect();
        Some(DirectStats {
            values: vec![None; names.len()],
            finder,
            group_keys,
            group_takes,
            counts_only: Groups::counts_only(stats),
            arg_keys,
            key: Vec::new(),
            text: String::new(),
        })
    }

    /// Adds `line` to the pipeline's first stage and returns true, or returns false (having
    /// changed nothing) if the line must take the row path.
    pub fn add(&mut self, line: &[u8], pipeline: &mut Pipeline<'_>) -> bool {
        let values = &mut self.values;
        if !self
            .finder
            .read_each(line, &mut self.text, |k, value| values[k] = value)
        {
            return false;
        }
        let Some(groups) = pipeline.direct_groups() else {
            return false;
        };
        self.key.clear();
        for (&k, &take) in self.group_keys.iter().zip(&self.group_takes) {
            let value = if take {
                self.values[k].take()
            } else {
                self.values[k].clone()
            };
            self.key.push(value);
        }
        if self.counts_only {
            groups.count_later(&mut self.key);
            return true;
        }
        let index = groups.find_or_insert(&self.key);
        for (state, arg) in groups.states_mut(index).iter_mut().zip(&self.arg_keys) {
            let value = match arg {
                None => Some(&PRESENT_FOR_COUNT),
                Some(k) => self.values[*k].as_ref(),
            };
            state.add(value, None);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::DirectStats;
    use crate::exec::extract::TimestampRule;

    fn serves(query: &str) -> bool {
        let plan = crate::compile(query).expect("query compiles");
        DirectStats::for_plan(&plan, false, &TimestampRule::default()).is_some()
    }

    #[test]
    fn serves_stats_of_plain_fields_only() {
        assert!(serves(
            "stats avg(latencyMs), max(latencyMs), pct(latencyMs, 99) by service"
        ));
        assert!(serves("stats count(*) by userId | sort count(*) desc | limit 10"));
        assert!(serves("stats count(*), sum(a) by b, c, a"));
        assert!(serves("stats count(*)"));
        // Times, nested or computed fields, the message, or a stage before stats: the row path.
        assert!(!serves("stats count(*) by bin(5m)"));
        assert!(!serves("stats earliest(level) by service"));
        assert!(!serves("stats count(*) by http.status"));
        assert!(!serves("stats avg(latencyMs / 1000) by service"));
        assert!(!serves("stats count(*) by @message"));
        assert!(!serves("filter level = 'ERROR' | stats count(*) by service"));
        assert!(!serves(
            "parse @message \"user=*\" as user | stats count(*) by user"
        ));
        let plan = crate::compile("stats count(*) by service").expect("query compiles");
        assert!(DirectStats::for_plan(&plan, true, &TimestampRule::default()).is_none());
    }
}

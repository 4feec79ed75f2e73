//! Running state of each aggregate function, per group. States merge, so partial aggregates built
//! on several threads combine into one answer.

use std::collections::{HashMap, HashSet};
use std::hash::BuildHasherDefault;

use crate::fx_hash::FxHasher;

type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

use crate::exec::natural_order::natural_cmp;
use crate::plan::aggregate::AggKind;
use crate::value::Value;

#[derive(Debug, Clone)]
pub enum AggState {
    Count(u64),
    Distinct(HashSet<String>),
    Sum {
        sum: f64,
        n: u64,
    },
    Mean {
        sum: f64,
        n: u64,
    },
    /// min and max prefer numbers: text values count only when no value is a number.
    Min(Extreme),
    Max(Extreme),
    /// Exact percentile from a count per distinct value: memory follows the number of distinct
    /// values (small for latencies in whole milliseconds), not the number of events.
    Pct {
        counts: FxMap<u64, u64>,
        p: f64,
    },
    /// Welford's running mean and sum of squared deviations.
    Stddev {
        n: u64,
        mean: f64,
        m2: f64,
    },
    Earliest(Option<(i64, Value)>),
    Latest(Option<(i64, Value)>),
    SortsFirst(Option<Value>),
    SortsLast(Option<Value>),
}

impl AggState {
    pub fn new(kind: AggKind) -> AggState {
        match kind {
            AggKind::Count => AggState::Count(0),
            AggKind::CountDistinct => AggState::Distinct(HashSet::new()),
            AggKind::Sum => AggState::Sum { sum: 0.0, n: 0 },
            AggKind::Avg => AggState::Mean { sum: 0.0, n: 0 },
            AggKind::Min => AggState::Min(Extreme::default()),
            AggKind::Max => AggState::Max(Extreme::default()),
            AggKind::Pct(p) => AggState::Pct {
                counts: FxMap::default(),
                p,
            },
            AggKind::Stddev => AggState::Stddev {
                n: 0,
                mean: 0.0,
                m2: 0.0,
            },
            AggKind::Earliest => AggState::Earliest(None),
            AggKind::Latest => AggState::Latest(None),
            AggKind::SortsFirst => AggState::SortsFirst(None),
            AggKind::SortsLast => AggState::SortsLast(None),
        }
    }

    /// Adds one row's argument value (`None`: the argument is null; for `count(*)` the caller
    /// passes `Some`). `time` is the row's `@timestamp`, for earliest/latest.
    pub fn add(&mut self, value: Option<&Value>, time: Option<i64>) {
        let Some(value) = value else { return };
        match self {
            AggState::Count(n) => *n += 1,
            AggState::Distinct(set) => {
                if let Some(text) = value.as_text() {
                    if !set.contains(text.as_ref()) {
                        set.insert(text.into_owned());
                    }
                }
            }
            AggState::Sum { sum, n } | AggState::Mean { sum, n } => {
                if let Some(x) = value.as_number() {
                    *sum += x;
                    *n += 1;
                }
            }
            AggState::Min(best) => best.add(value, std::cmp::Ordering::Less),
            AggState::Max(best) => best.add(value, std::cmp::Ordering::Greater),
            AggState::Pct { counts, .. } => {
                if let Some(x) = value.as_number() {
                    // -0.0 and 0.0 are one value.
                    let x = if x == 0.0 { 0.0 } else { x };
                    *counts.entry(x.to_bits()).or_insert(0) += 1;
                }
            }
            AggState::Stddev { n, mean, m2 } => {
                if let Some(x) = value.as_number() {
                    *n += 1;
                    let delta = x - *mean;
                    *mean += delta / *n as f64;
                    *m2 += delta * (x - *mean);
                }
            }
            AggState::Earliest(best) => {
                if let Some(t) = time {
                    if best.as_ref().is_none_or(|(bt, _)| t < *bt) {
                        *best = Some((t, value.clone()));
                    }
                }
            }
            AggState::Latest(best) => {
                if let Some(t) = time {
                    if best.as_ref().is_none_or(|(bt, _)| t >= *bt) {
                        *best = Some((t, value.clone()));
                    }
                }
            }
            AggState::SortsFirst(best) => keep_if(best, value, |new, old| natural_cmp(new, old).is_lt()),
            AggState::SortsLast(best) => keep_if(best, value, |new, old| natural_cmp(new, old).is_gt()),
        }
    }

    /// Folds another partial state of the same function into this one.
    pub fn merge(&mut self, other: AggState) {
        match (self, other) {
            (AggState::Count(a), AggState::Count(b)) => *a += b,
            (AggState::Distinct(a), AggState::Distinct(b)) => a.extend(b),
            (AggState::Sum { sum, n }, AggState::Sum { sum: s2, n: n2 })
            | (AggState::Mean { sum, n }, AggState::Mean { sum: s2, n: n2 }) => {
                *sum += s2;
                *n += n2;
            }
            (AggState::Min(a), AggState::Min(b)) => a.merge(b, std::cmp::Ordering::Less),
            (AggState::Max(a), AggState::Max(b)) => a.merge(b, std::cmp::Ordering::Greater),
            (AggState::Pct { counts, .. }, AggState::Pct { counts: more, .. }) => {
                for (value, n) in more {
                    *counts.entry(value).or_insert(0) += n;
                }
            }
            (
                AggState::Stddev { n, mean, m2 },
                AggState::Stddev {
                    n: n2,
                    mean: mean2,
                    m2: m22,
                },
            ) => {
                if n2 == 0 {
                    return;
                }
                let total = *n + n2;
                let delta = mean2 - *mean;
                *m2 += m22 + delta * delta * (*n as f64) * (n2 as f64) / total as f64;
                *mean += delta * n2 as f64 / total as f64;
                *n = total;
            }
            (AggState::Earliest(a), AggState::Earliest(Some((t, v))))
                if a.as_ref().is_none_or(|(at, _)| t < *at) =>
            {
                *a = Some((t, v));
            }
            (AggState::Latest(a), AggState::Latest(Some((t, v))))
                if a.as_ref().is_none_or(|(at, _)| t >= *at) =>
            {
                *a = Some((t, v));
            }
            (AggState::SortsFirst(a), AggState::SortsFirst(Some(b))) => {
                keep_if(a, &b, |new, old| natural_cmp(new, old).is_lt());
            }
            (AggState::SortsLast(a), AggState::SortsLast(Some(b))) => {
                keep_if(a, &b, |new, old| natural_cmp(new, old).is_gt());
            }
            _ => {}
        }
    }

    /// The aggregate's value; `None` where nothing was aggregated (except count, which is 0).
    pub fn finish(self) -> Option<Value> {
        match self {
            AggState::Count(n) => Some(Value::Num(n as f64)),
            AggState::Distinct(set) => Some(Value::Num(set.len() as f64)),
            AggState::Sum { sum, n } => (n > 0).then_some(()).and_then(|()| Value::num(sum)),
            AggState::Mean { sum, n } => (n > 0).then_some(()).and_then(|()| Value::num(sum / n as f64)),
            AggState::Min(e) | AggState::Max(e) => e.number.map(|(_, v)| v).or(e.text),
            AggState::SortsFirst(v) | AggState::SortsLast(v) => v,
            AggState::Pct { counts, p } => {
                let total: u64 = counts.values().sum();
                if total == 0 {
                    return None;
                }
                let mut values: Vec<(f64, u64)> = counts
                    .into_iter()
                    .map(|(bits, n)| (f64::from_bits(bits), n))
                    .collect();
                values.sort_by(|a, b| a.0.total_cmp(&b.0));
                // Nearest rank: the smallest value with at least p% of values at or below it.
                let rank = ((p / 100.0) * total as f64).ceil().max(1.0) as u64;
                let mut seen = 0;
                for (value, n) in &values {
                    seen += n;
                    if seen >= rank {
                        return Value::num(*value);
                    }
                }
                values.last().and_then(|(v, _)| Value::num(*v))
            }
            AggState::Stddev { n, m2, .. } => (n > 0)
                .then_some(())
                .and_then(|()| Value::num((m2 / n as f64).sqrt())),
            AggState::Earliest(v) | AggState::Latest(v) => v.map(|(_, v)| v),
        }
    }
}

fn keep_if(best: &mut Option<Value>, value: &Value, better: impl Fn(&Value, &Value) -> bool) {
    match best {
        Some(old) if !better(value, old) => {}
        _ => *best = Some(value.clone()),
    }
}

/// The running minimum or maximum: the best number (with the value it came from) and the best
/// text by the sort order.
#[derive(Debug, Clone, Default)]
pub struct Extreme {
    number: Option<(f64, Value)>,
    text: Option<Value>,
}

impl Extreme {
    fn add(&mut self, value: &Value, want: std::cmp::Ordering) {
        match value.as_number() {
            Some(x) => {
                if self
                    .number
                    .as_ref()
                    .is_none_or(|(best, _)| x.total_cmp(best) == want)
                {
                    self.number = Some((x, value.clone()));
                }
            }
            None => keep_if(&mut self.text, value, |new, old| natural_cmp(new, old) == want),
        }
    }

    fn merge(&mut self, other: Extreme, want: std::cmp::Ordering) {
        if let Some((_, v)) = other.number {
            self.add(&v, want);
        }
        if let Some(v) = other.text {
            self.add(&v, want);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::AggState;
    use crate::plan::aggregate::AggKind;
    use crate::value::Value;

    fn run(kind: AggKind, values: &[f64]) -> Option<Value> {
        let mut state = AggState::new(kind);
        for v in values {
            state.add(Some(&Value::Num(*v)), None);
        }
        state.finish()
    }

    #[test]
    fn pct_is_nearest_rank() {
        assert_eq!(
            run(AggKind::Pct(50.0), &[40.0, 10.0, 30.0, 20.0]),
            Some(Value::Num(20.0))
        );
        assert_eq!(
            run(AggKind::Pct(99.0), &(1..=100).map(f64::from).collect::<Vec<_>>()),
            Some(Value::Num(99.0))
        );
        assert_eq!(run(AggKind::Pct(0.0), &[5.0, 1.0]), Some(Value::Num(1.0)));
        assert_eq!(run(AggKind::Pct(100.0), &[5.0, 1.0]), Some(Value::Num(5.0)));
    }

    #[test]
    fn stddev_is_the_population_deviation_and_merges() {
        let Some(Value::Num(sd)) = run(AggKind::Stddev, &[10.0, 20.0, 30.0, 40.0]) else {
            panic!()
        };
        assert!((sd - 11.180_339_887_498_949).abs() < 1e-12);
        let mut a = AggState::new(AggKind::Stddev);
        let mut b = AggState::new(AggKind::Stddev);
        a.add(Some(&Value::Num(10.0)), None);
        a.add(Some(&Value::Num(20.0)), None);
        b.add(Some(&Value::Num(30.0)), None);
        b.add(Some(&Value::Num(40.0)), None);
        a.merge(b);
        let Some(Value::Num(merged)) = a.finish() else {
            panic!()
        };
        assert!((merged - sd).abs() < 1e-12);
    }

    #[test]
    fn sum_and_avg_skip_non_numbers_and_are_null_when_empty() {
        let mut s = AggState::new(AggKind::Avg);
        s.add(Some(&Value::str("x")), None);
        s.add(Some(&Value::str("4")), None);
        s.add(Some(&Value::Num(2.0)), None);
        assert_eq!(s.finish(), Some(Value::Num(3.0)));
        assert_eq!(run(AggKind::Sum, &[]), None);
        assert_eq!(run(AggKind::Count, &[]), Some(Value::Num(0.0)));
    }

    #[test]
    fn earliest_and_latest_follow_the_timestamp_not_the_order() {
        let mut e = AggState::new(AggKind::Earliest);
        let mut l = AggState::new(AggKind::Latest);
        for (t, v) in [(20, "b"), (10, "a"), (30, "c")] {
            e.add(Some(&Value::str(v)), Some(t));
            l.add(Some(&Value::str(v)), Some(t));
        }
        assert_eq!(e.finish(), Some(Value::str("a")));
        assert_eq!(l.finish(), Some(Value::str("c")));
    }
}

//! From samples to one value per period: CloudWatch's statistics over buckets aligned to epoch
//! multiples of the period (a 300 s period's buckets start at :00, :05, …).

use serde::{Deserialize, Serialize};

use super::model::{Stat, Statistic};

/// One published value (or set of values) of a metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    pub timestamp_ms: i64,
    /// The CloudWatch unit it was published with, if any.
    pub unit: Option<String>,
    pub kind: SampleKind,
}

/// What a sample holds: PutMetricData's `Value`, `StatisticValues`, or `Values` + `Counts`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum SampleKind {
    Value(f64),
    Stats {
        count: f64,
        sum: f64,
        min: f64,
        max: f64,
    },
    /// `(value, count)` pairs.
    Distribution(Vec<(f64, f64)>),
}

/// The samples of one period.
#[derive(Debug, Clone, PartialEq)]
pub struct Bucket {
    pub sample_count: f64,
    pub sum: f64,
    pub minimum: f64,
    pub maximum: f64,
    /// Every value with its count, while all samples were exact (not `StatisticValues` of more
    /// than one value).
    values: Option<Vec<(f64, f64)>>,
}

impl Bucket {
    fn new() -> Bucket {
        Bucket {
            sample_count: 0.0,
            sum: 0.0,
            minimum: f64::INFINITY,
            maximum: f64::NEG_INFINITY,
            values: Some(Vec::new()),
        }
    }

    fn add_value(&mut self, value: f64, count: f64) {
        if !(value.is_finite() && count.is_finite() && count > 0.0) {
            return;
        }
        self.sample_count += count;
        self.sum += value * count;
        self.minimum = self.minimum.min(value);
        self.maximum = self.maximum.max(value);
        if let Some(values) = &mut self.values {
            values.push((value, count));
        }
    }

    // `min == max` is exact on purpose: only then is every value known.
    #[allow(clippy::float_cmp)]
    fn add(&mut self, kind: &SampleKind) {
        match kind {
            SampleKind::Value(v) => self.add_value(*v, 1.0),
            SampleKind::Distribution(pairs) => {
                for (v, c) in pairs {
                    self.add_value(*v, *c);
                }
            }
            SampleKind::Stats { count, sum, min, max } => {
                let ok =
                    [*count, *sum, *min, *max].iter().all(|x| x.is_finite()) && *count > 0.0 && min <= max;
                if !ok {
                    return;
                }
                if min == max {
                    // Every value was the same: still exact.
                    self.add_value(*min, *count);
                    return;
                }
                self.sample_count += count;
                self.sum += sum;
                self.minimum = self.minimum.min(*min);
                self.maximum = self.maximum.max(*max);
                self.values = None;
            }
        }
    }

    /// The bucket's value for a statistic; `None` for a percentile that the samples cannot
    /// give (aggregated `StatisticValues`, except p0 = Minimum and p100 = Maximum).
    pub fn value(&self, stat: Stat) -> Option<f64> {
        match stat {
            Stat::Simple(Statistic::SampleCount) => Some(self.sample_count),
            Stat::Simple(Statistic::Sum) => Some(self.sum),
            Stat::Simple(Statistic::Average) => Some(self.sum / self.sample_count),
            Stat::Simple(Statistic::Minimum) => Some(self.minimum),
            Stat::Simple(Statistic::Maximum) => Some(self.maximum),
            Stat::Percentile(p) if p <= 0.0 => Some(self.minimum),
            Stat::Percentile(p) if p >= 100.0 => Some(self.maximum),
            Stat::Percentile(p) => {
                let mut values = self.values.clone()?;
                values.sort_by(|a, b| a.0.total_cmp(&b.0));
                // Nearest rank: the smallest value with at least p% of the samples at or below it.
                let rank = (p / 100.0 * self.sample_count).ceil().max(1.0);
                let mut seen = 0.0;
                for (v, c) in &values {
                    seen += c;
                    if seen >= rank {
                        return Some(*v);
                    }
                }
                values.last().map(|(v, _)| *v)
            }
        }
        .filter(|v| v.is_finite())
    }
}

/// CloudWatch's "low sample count" test for a percentile alarm's period: for p in [50, 100],
/// fewer than 10 / (1 − p/100) samples; for p below 50, fewer than 10 / (p/100).
pub fn low_sample_count(percentile: f64, sample_count: f64) -> bool {
    let q = percentile / 100.0;
    let needed = if q >= 0.5 { 10.0 / (1.0 - q) } else { 10.0 / q };
    sample_count < needed
}

/// The start of the period bucket holding `timestamp_ms`.
pub fn bucket_start(timestamp_ms: i64, period_ms: i64) -> i64 {
    timestamp_ms.div_euclid(period_ms) * period_ms
}

/// Groups samples into `slots` consecutive buckets of `period_ms`, the first starting at
/// `first_start_ms` (an epoch multiple of the period). With `unit`, only samples of that unit
/// count. A bucket with no samples is `None`.
pub fn buckets(
    samples: &[Sample],
    unit: Option<&str>,
    period_ms: i64,
    first_start_ms: i64,
    slots: usize,
) -> Vec<Option<Bucket>> {
    let mut out: Vec<Option<Bucket>> = vec![None; slots];
    if period_ms <= 0 {
        return out;
    }
    for s in samples {
        if unit.is_some_and(|u| s.unit.as_deref() != Some(u)) {
            continue;
        }
        let offset = s.timestamp_ms - first_start_ms;
        if offset < 0 {
            continue;
        }
        let Ok(i) = usize::try_from(offset / period_ms) else {
            continue;
        };
        if let Some(slot) = out.get_mut(i) {
            slot.get_or_insert_with(Bucket::new).add(&s.kind);
        }
    }
    // A bucket whose samples were all unusable (NaN, zero counts) has no data.
    for slot in &mut out {
        if slot.as_ref().is_some_and(|b| b.sample_count <= 0.0) {
            *slot = None;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{buckets, low_sample_count, Sample, SampleKind};
    use crate::alarms::model::{Stat, Statistic};

    fn value(t: i64, v: f64) -> Sample {
        Sample {
            timestamp_ms: t,
            unit: Some("Percent".into()),
            kind: SampleKind::Value(v),
        }
    }

    #[test]
    fn buckets_align_to_the_period_and_compute_each_statistic() {
        let samples = vec![
            value(60_000, 1.0),
            value(119_999, 3.0),
            value(120_000, 10.0),
            Sample {
                timestamp_ms: 60_500,
                unit: None,
                kind: SampleKind::Value(100.0),
            },
        ];
        let b = buckets(&samples, Some("Percent"), 60_000, 0, 3);
        assert!(b[0].is_none());
        let first = b[1].as_ref().unwrap();
        assert_eq!(first.value(Stat::Simple(Statistic::Average)), Some(2.0));
        assert_eq!(first.value(Stat::Simple(Statistic::SampleCount)), Some(2.0));
        assert_eq!(first.value(Stat::Simple(Statistic::Maximum)), Some(3.0));
        assert_eq!(
            b[2].as_ref().unwrap().value(Stat::Simple(Statistic::Sum)),
            Some(10.0)
        );
        let all = buckets(&samples, None, 60_000, 0, 3);
        assert_eq!(
            all[1].as_ref().unwrap().value(Stat::Simple(Statistic::Maximum)),
            Some(100.0)
        );
    }

    #[test]
    fn percentiles_are_exact_over_values_and_missing_over_aggregates() {
        let mut samples: Vec<Sample> = (1..=100).map(|i| value(0, f64::from(i))).collect();
        samples.push(Sample {
            timestamp_ms: 0,
            unit: Some("Percent".into()),
            kind: SampleKind::Distribution(vec![(1000.0, 2.0)]),
        });
        let b = buckets(&samples, None, 60_000, 0, 1).remove(0).unwrap();
        assert_eq!(b.value(Stat::Percentile(50.0)), Some(51.0));
        assert_eq!(b.value(Stat::Percentile(99.0)), Some(1000.0));
        assert_eq!(b.value(Stat::Percentile(90.0)), Some(92.0));
        let stats = vec![Sample {
            timestamp_ms: 0,
            unit: None,
            kind: SampleKind::Stats {
                count: 4.0,
                sum: 10.0,
                min: 1.0,
                max: 4.0,
            },
        }];
        let b = buckets(&stats, None, 60_000, 0, 1).remove(0).unwrap();
        assert_eq!(b.value(Stat::Percentile(99.0)), None);
        assert_eq!(b.value(Stat::Percentile(100.0)), Some(4.0));
        assert_eq!(b.value(Stat::Simple(Statistic::Average)), Some(2.5));
    }

    #[test]
    fn low_sample_count_follows_the_documented_bounds() {
        assert!(low_sample_count(99.0, 999.0));
        assert!(!low_sample_count(99.0, 1000.0));
        assert!(low_sample_count(10.0, 99.0));
        assert!(!low_sample_count(10.0, 100.0));
        assert!(!low_sample_count(50.0, 20.0));
    }
}

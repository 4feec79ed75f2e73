//! Running state of each aggregate function, per group. States merge, so partial aggregates built
//! on several threads combine into one answer.

use crate::exec::distinct::Distinct;
use crate::exec::exact_sum::ExactSum;
use crate::exec::natural_order::natural_cmp;
use crate::exec::value_counts::ValueCounts;
use crate::plan::aggregate::AggKind;
use crate::value::Value;

/// One aggregate's state. Rarely used, large states are boxed so a group's states stay small
/// (a probe of a high-cardinality group table touches them for every row).
#[derive(Debug, Clone)]
pub enum AggState {
    Count(u64),
    Distinct(Box<Distinct>),
    /// Exact, so the answer does not depend on the order rows arrive in (threads, pieces).
    Sum(Box<ExactSum>),
    Mean(Box<ExactSum>),
    /// min and max prefer numbers: text values count only when no value is a number.
    Min(Box<Extreme>),
    Max(Box<Extreme>),
    Pct(Box<Percentile>),
    Stddev(Box<Welford>),
    Earliest(Option<Box<(i64, Value)>>),
    Latest(Option<Box<(i64, Value)>>),
    SortsFirst(Option<Value>),
    SortsLast(Option<Value>),
    Rate(Box<Rate>),
    /// The value counts, and how many buckets.
    Histogram(Box<Percentile>, u32),
}

impl AggState {
    pub fn new(kind: AggKind) -> AggState {
        match kind {
            AggKind::Count => AggState::Count(0),
            AggKind::CountDistinct => AggState::Distinct(Box::default()),
            AggKind::Sum => AggState::Sum(Box::default()),
            AggKind::Avg => AggState::Mean(Box::default()),
            AggKind::Min => AggState::Min(Box::default()),
            AggKind::Max => AggState::Max(Box::default()),
            AggKind::Pct(p) => AggState::Pct(Box::new(Percentile::new(p))),
            AggKind::Stddev => AggState::Stddev(Box::default()),
            AggKind::Earliest => AggState::Earliest(None),
            AggKind::Latest => AggState::Latest(None),
            AggKind::SortsFirst => AggState::SortsFirst(None),
            AggKind::SortsLast => AggState::SortsLast(None),
            AggKind::Rate(period_ms) => AggState::Rate(Box::new(Rate {
                period_ms,
                first: None,
                last: None,
            })),
            AggKind::Histogram(buckets) => AggState::Histogram(Box::new(Percentile::new(50.0)), buckets),
        }
    }

    /// Adds one row's argument value (`None`: the argument is null; for `count(*)` the caller
    /// passes `Some`). `time` is the row's `@timestamp`, for earliest/latest.
    pub fn add(&mut self, value: Option<&Value>, time: Option<i64>) {
        let Some(value) = value else { return };
        match self {
            AggState::Count(n) => *n += 1,
            AggState::Distinct(distinct) => {
                if let Some(text) = value.as_text() {
                    distinct.add(&text);
                }
            }
            AggState::Sum(sum) | AggState::Mean(sum) => {
                if let Some(x) = value.as_number() {
                    sum.add(x);
                }
            }
            AggState::Min(best) => best.add(value, std::cmp::Ordering::Less),
            AggState::Max(best) => best.add(value, std::cmp::Ordering::Greater),
            AggState::Pct(pct) => {
                if let Some(x) = value.as_number() {
                    pct.add(x, 1);
                }
            }
            AggState::Stddev(w) => {
                if let Some(x) = value.as_number() {
                    w.add(x);
                }
            }
            AggState::Earliest(best) => {
                if let Some(t) = time {
                    if best.as_ref().is_none_or(|b| t < b.0) {
                        *best = Some(Box::new((t, value.clone())));
                    }
                }
            }
            AggState::Latest(best) => {
                if let Some(t) = time {
                    if best.as_ref().is_none_or(|b| t >= b.0) {
                        *best = Some(Box::new((t, value.clone())));
                    }
                }
            }
            AggState::SortsFirst(best) => keep_if(best, value, |new, old| natural_cmp(new, old).is_lt()),
            AggState::SortsLast(best) => keep_if(best, value, |new, old| natural_cmp(new, old).is_gt()),
            AggState::Rate(rate) => {
                if let (Some(t), Some(x)) = (time, value.as_number()) {
                    rate.add(t, x);
                }
            }
            AggState::Histogram(counts, _) => {
                if let Some(x) = value.as_number() {
                    counts.add(x, 1);
                }
            }
        }
    }

    /// Folds another partial state of the same function into this one.
    pub fn merge(&mut self, other: AggState) {
        match (self, other) {
            (AggState::Count(a), AggState::Count(b)) => *a += b,
            (AggState::Distinct(a), AggState::Distinct(b)) => a.merge(*b),
            (AggState::Sum(a), AggState::Sum(b)) | (AggState::Mean(a), AggState::Mean(b)) => a.merge(&b),
            (AggState::Min(a), AggState::Min(b)) => a.merge(*b, std::cmp::Ordering::Less),
            (AggState::Max(a), AggState::Max(b)) => a.merge(*b, std::cmp::Ordering::Greater),
            (AggState::Pct(a), AggState::Pct(b)) | (AggState::Histogram(a, _), AggState::Histogram(b, _)) => {
                a.merge(*b);
            }
            (AggState::Stddev(a), AggState::Stddev(b)) => a.merge(&b),
            (AggState::Earliest(a), AggState::Earliest(Some(b))) if a.as_ref().is_none_or(|x| b.0 < x.0) => {
                *a = Some(b);
            }
            (AggState::Latest(a), AggState::Latest(Some(b))) if a.as_ref().is_none_or(|x| b.0 >= x.0) => {
                *a = Some(b);
            }
            (AggState::SortsFirst(a), AggState::SortsFirst(Some(b))) => {
                keep_if(a, &b, |new, old| natural_cmp(new, old).is_lt());
            }
            (AggState::SortsLast(a), AggState::SortsLast(Some(b))) => {
                keep_if(a, &b, |new, old| natural_cmp(new, old).is_gt());
            }
            (AggState::Rate(a), AggState::Rate(b)) => {
                for (t, x) in b.first.into_iter().chain(b.last) {
                    a.add(t, x);
                }
            }
            _ => {}
        }
    }

    /// The aggregate's value; `None` where nothing was aggregated (except count, which is 0).
    pub fn finish(self) -> Option<Value> {
        match self {
            AggState::Count(n) => Some(Value::Num(n as f64)),
            AggState::Distinct(distinct) => Some(Value::Num(distinct.count() as f64)),
            AggState::Sum(sum) => (sum.n > 0).then_some(()).and_then(|()| Value::num(sum.value())),
            AggState::Mean(sum) => (sum.n > 0)
                .then_some(())
                .and_then(|()| Value::num(sum.value() / sum.n as f64)),
            AggState::Min(e) | AggState::Max(e) => {
                let Extreme { number, text } = *e;
                number.map(|(_, v)| v).or(text)
            }
            AggState::SortsFirst(v) | AggState::SortsLast(v) => v,
            AggState::Pct(pct) => pct.finish(),
            AggState::Stddev(w) => (w.n > 0)
                .then_some(())
                .and_then(|()| Value::num((w.m2 / w.n as f64).sqrt())),
            AggState::Earliest(v) | AggState::Latest(v) => v.map(|b| b.1),
            AggState::Rate(rate) => rate.finish(),
            AggState::Histogram(counts, buckets) => counts.histogram(buckets),
        }
    }
}

/// An [`ExactSum`] as [`AggState::encode`] wrote it: terms, special sum, partials.
fn decode_sum(input: &mut crate::exec::encoding::Reader<'_>) -> Option<ExactSum> {
    let n = input.u64()?;
    let special = input.f64()?;
    let count = usize::try_from(input.u64()?).ok()?;
    // A few partials at most; a larger count is a corrupt spill file.
    if count > 64 {
        return None;
    }
    let mut partials = Vec::with_capacity(count);
    for _ in 0..count {
        partials.push(input.f64()?);
    }
    Some(ExactSum::from_parts(&partials, special, n))
}

/// Spilling a state to disk and reading it back (see [`crate::exec::spill`]).
impl AggState {
    /// Writes the state.
    pub fn encode(&self, out: &mut Vec<u8>) {
        use crate::exec::encoding::{put_f64, put_u64, put_value};
        let timed = |out: &mut Vec<u8>, best: &Option<Box<(i64, Value)>>| match best {
            Some(b) => {
                out.push(1);
                put_u64(out, b.0 as u64);
                put_value(out, Some(&b.1));
            }
            None => out.push(0),
        };
        match self {
            AggState::Count(n) => put_u64(out, *n),
            AggState::Distinct(d) => d.encode(out),
            AggState::Sum(sum) | AggState::Mean(sum) => {
                put_u64(out, sum.n);
                put_f64(out, sum.special());
                let partials: Vec<f64> = sum.partials().copied().collect();
                put_u64(out, partials.len() as u64);
                for p in partials {
                    put_f64(out, p);
                }
            }
            AggState::Min(e) | AggState::Max(e) => {
                match &e.number {
                    Some((x, v)) => {
                        out.push(1);
                        put_f64(out, *x);
                        put_value(out, Some(v));
                    }
                    None => out.push(0),
                }
                put_value(out, e.text.as_ref());
            }
            AggState::Pct(p) => p.encode(out),
            AggState::Stddev(w) => {
                put_u64(out, w.n);
                put_f64(out, w.mean);
                put_f64(out, w.m2);
            }
            AggState::Earliest(best) | AggState::Latest(best) => timed(out, best),
            AggState::SortsFirst(v) | AggState::SortsLast(v) => put_value(out, v.as_ref()),
            AggState::Rate(rate) => {
                for point in [rate.first, rate.last] {
                    match point {
                        Some((t, x)) => {
                            out.push(1);
                            put_u64(out, t as u64);
                            put_f64(out, x);
                        }
                        None => out.push(0),
                    }
                }
            }
            AggState::Histogram(counts, _) => counts.encode(out),
        }
    }

    /// Reads a state of `kind` that [`AggState::encode`] wrote.
    pub fn decode(kind: AggKind, input: &mut crate::exec::encoding::Reader<'_>) -> Option<AggState> {
        let timed = |input: &mut crate::exec::encoding::Reader<'_>| -> Option<Option<Box<(i64, Value)>>> {
            Some(if input.u8()? == 0 {
                None
            } else {
                let t = input.u64()? as i64;
                Some(Box::new((t, input.value()??)))
            })
        };
        Some(match kind {
            AggKind::Count => AggState::Count(input.u64()?),
            AggKind::CountDistinct => AggState::Distinct(Box::new(Distinct::decode(input)?)),
            AggKind::Sum => AggState::Sum(Box::new(decode_sum(input)?)),
            AggKind::Avg => AggState::Mean(Box::new(decode_sum(input)?)),
            AggKind::Min | AggKind::Max => {
                let number = if input.u8()? == 0 {
                    None
                } else {
                    let x = input.f64()?;
                    Some((x, input.value()??))
                };
                let extreme = Box::new(Extreme {
                    number,
                    text: input.value()?,
                });
                if kind == AggKind::Min {
                    AggState::Min(extreme)
                } else {
                    AggState::Max(extreme)
                }
            }
            AggKind::Rate(period_ms) => {
                let mut point = || -> Option<Option<(i64, f64)>> {
                    Some(if input.u8()? == 0 {
                        None
                    } else {
                        let t = input.u64()? as i64;
                        Some((t, input.f64()?))
                    })
                };
                let first = point()?;
                let last = point()?;
                AggState::Rate(Box::new(Rate {
                    period_ms,
                    first,
                    last,
                }))
            }
            AggKind::Histogram(buckets) => AggState::Histogram(Box::new(Percentile::decode(input)?), buckets),
            AggKind::Pct(_) => AggState::Pct(Box::new(Percentile::decode(input)?)),
            AggKind::Stddev => AggState::Stddev(Box::new(Welford {
                n: input.u64()?,
                mean: input.f64()?,
                m2: input.f64()?,
            })),
            AggKind::Earliest => AggState::Earliest(timed(input)?),
            AggKind::Latest => AggState::Latest(timed(input)?),
            AggKind::SortsFirst => AggState::SortsFirst(input.value()?),
            AggKind::SortsLast => AggState::SortsLast(input.value()?),
        })
    }

    /// Bytes the state holds besides its own size (roughly: what the allocator gave it).
    pub fn heap_bytes(&self) -> usize {
        let value = |v: &Value| match v {
            Value::Str(s) if s.len() > 22 => s.len() + 16,
            Value::List(_) | Value::Map(_) => v.to_string().len() * 2,
            _ => 0,
        };
        match self {
            AggState::Count(_) => 0,
            AggState::Sum(_) | AggState::Mean(_) => 64,
            AggState::Distinct(d) => 64 + d.heap_bytes(),
            AggState::Min(e) | AggState::Max(e) => {
                96 + e.number.as_ref().map_or(0, |(_, v)| value(v)) + e.text.as_ref().map_or(0, value)
            }
            AggState::Pct(p) | AggState::Histogram(p, _) => {
                96 + p.dense.capacity() * 8 + p.sparse.capacity() * 16
            }
            AggState::Stddev(_) => 32,
            AggState::Earliest(b) | AggState::Latest(b) => b.as_ref().map_or(0, |b| 48 + value(&b.1)),
            AggState::SortsFirst(v) | AggState::SortsLast(v) => v.as_ref().map_or(0, value),
            AggState::Rate(_) => 48,
        }
    }
}

/// The earliest and latest (time, value) of a group, for `rate`.
#[derive(Debug, Clone)]
pub struct Rate {
    period_ms: i64,
    first: Option<(i64, f64)>,
    last: Option<(i64, f64)>,
}

impl Rate {
    fn add(&mut self, t: i64, x: f64) {
        // Events at the same time order by value, so the answer does not depend on the order
        // rows arrive in (threads, pieces): the smallest is earliest, the largest latest.
        let before = |(ta, xa): (i64, f64), (tb, xb): (i64, f64)| ta.cmp(&tb).then(xa.total_cmp(&xb)).is_lt();
        if self.first.is_none_or(|first| before((t, x), first)) {
            self.first = Some((t, x));
        }
        if self.last.is_none_or(|last| before(last, (t, x))) {
            self.last = Some((t, x));
        }
    }

    /// (latest − earliest) per period; nothing with fewer than two distinct times.
    fn finish(&self) -> Option<Value> {
        let ((t0, x0), (t1, x1)) = (self.first?, self.last?);
        if t1 <= t0 {
            return None;
        }
        Value::num((x1 - x0) * self.period_ms as f64 / (t1 - t0) as f64)
    }
}

/// Exact percentile from a count per distinct value: memory follows the number of distinct
/// values, not the number of events. Small whole numbers (latencies in milliseconds, status
/// codes) are counted in a dense array indexed by the value, others in a map.
#[derive(Debug, Clone)]
pub struct Percentile {
    p: f64,
    /// `dense[v]`: how many times the whole number `v` was added.
    dense: Vec<u64>,
    /// Counts of other values.
    sparse: ValueCounts,
    added: u64,
}

impl Percentile {
    /// The dense array never grows past this many entries (512 KiB)...
    const DENSE_MAX: usize = 1 << 16;
    /// ...nor past this many entries per value added, so many small groups stay small.
    const DENSE_PER_VALUE: u64 = 8;

    fn new(p: f64) -> Percentile {
        Percentile {
            p,
            dense: Vec::new(),
            sparse: ValueCounts::default(),
            added: 0,
        }
    }

    fn add(&mut self, x: f64, n: u64) {
        self.added += n;
        // A whole number in range (a cast and back, not `fract`, which is a libm call).
        #[allow(clippy::float_cmp)] // exactly whole, not nearly
        let whole = (0.0..Percentile::DENSE_MAX as f64).contains(&x) && (x as usize) as f64 == x;
        if whole {
            let at = x as usize;
            if let Some(count) = self.dense.get_mut(at) {
                *count += n;
                return;
            }
            let room = self.added.saturating_mul(Percentile::DENSE_PER_VALUE).max(64);
            if (at as u64) < room {
                self.dense.resize(at + 1, 0);
                self.dense[at] += n;
                return;
            }
        }
        self.sparse.add(x, n);
    }

    fn merge(&mut self, other: Percentile) {
        for (v, n) in other.dense.into_iter().enumerate() {
            if n > 0 {
                self.add(v as f64, n);
            }
        }
        for (value, n) in other.sparse.sorted() {
            self.add(value, n);
        }
    }

    /// Every value added with its count, in ascending order.
    fn sorted_counts(self) -> Vec<(f64, u64)> {
        let values: Vec<(f64, u64)> = self
            .dense
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(v, n)| (v as f64, *n))
            .collect();
        let sparse = self.sparse.sorted();
        if sparse.is_empty() {
            values
        } else {
            merge_sorted(values, sparse)
        }
    }

    /// `buckets` equal-width ranges from the smallest to the largest value, each with how many
    /// values fall in it (the last range includes the largest value): a map from `"lo..hi"` to
    /// the count, in order. When every value is the same there is one range.
    fn histogram(self, buckets: u32) -> Option<Value> {
        let values = self.sorted_counts();
        let (min, max) = (values.first()?.0, values.last()?.0);
        // All values equal: one range holds them all.
        let buckets = if max > min { buckets.max(1) as usize } else { 1 };
        let width = (max - min) / buckets as f64;
        let mut counts = vec![0u64; buckets];
        for (x, n) in &values {
            let at = if width > 0.0 {
                (((x - min) / width) as usize).min(buckets - 1)
            } else {
                0
            };
            counts[at] += n;
        }
        // Edges to 12 significant digits of the width, so 0.1 + 0.2 shows as 0.3 and an edge at
        // zero as 0, while edges of nearby large values stay apart.
        let decimals = if width > 0.0 {
            (11 - width.log10().floor() as i64).clamp(0, 17) as usize
        } else {
            17
        };
        let edge = |i: usize| {
            let x = if i == buckets { max } else { min + width * i as f64 };
            let rounded = format!("{x:.decimals$}").parse::<f64>().unwrap_or(x);
            Value::Num(rounded)
                .as_text()
                .map(std::borrow::Cow::into_owned)
                .unwrap_or_default()
        };
        let entries = counts
            .iter()
            .enumerate()
            .map(|(i, n)| (format!("{}..{}", edge(i), edge(i + 1)), Value::Num(*n as f64)))
            .collect();
        Some(Value::Map(std::sync::Arc::new(entries)))
    }

    fn encode(&self, out: &mut Vec<u8>) {
        use crate::exec::encoding::{put_f64, put_u64};
        put_f64(out, self.p);
        put_u64(out, self.added);
        put_u64(out, self.dense.len() as u64);
        for &n in &self.dense {
            put_u64(out, n);
        }
        let pairs = self.sparse.pairs();
        put_u64(out, pairs.len() as u64);
        for (value, n) in pairs {
            put_u64(out, value.to_bits());
            put_u64(out, n);
        }
    }

    fn decode(input: &mut crate::exec::encoding::Reader<'_>) -> Option<Percentile> {
        let p = input.f64()?;
        let added = input.u64()?;
        let dense_len = usize::try_from(input.u64()?).ok()?;
        let mut dense = Vec::new();
        for _ in 0..dense_len {
            dense.push(input.u64()?);
        }
        let sparse_len = input.u64()?;
        let mut sparse = ValueCounts::default();
        for _ in 0..sparse_len {
            let bits = input.u64()?;
            sparse.add(f64::from_bits(bits), input.u64()?);
        }
        Some(Percentile {
            p,
            dense,
            sparse,
            added,
        })
    }

    fn finish(self) -> Option<Value> {
        // A whole number may be in both lists (counted in the map before the array reached
        // it); equal values next to each other are all the walk below needs.
        let p = self.p;
        let values = self.sorted_counts();
        let total: u64 = values.iter().map(|(_, n)| n).sum();
        if total == 0 {
            return None;
        }
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
}

/// Two lists sorted by value as one.
fn merge_sorted(a: Vec<(f64, u64)>, b: Vec<(f64, u64)>) -> Vec<(f64, u64)> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut a, mut b) = (a.into_iter().peekable(), b.into_iter().peekable());
    loop {
        let take_a = match (a.peek(), b.peek()) {
            (Some(x), Some(y)) => x.0.total_cmp(&y.0).is_le(),
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => return out,
        };
        out.extend(if take_a { a.next() } else { b.next() });
    }
}

/// Welford's running mean and sum of squared deviations.
#[derive(Debug, Clone, Default)]
pub struct Welford {
    n: u64,
    mean: f64,
    m2: f64,
}

impl Welford {
    fn add(&mut self, x: f64) {
        self.n += 1;
        let delta = x - self.mean;
        self.mean += delta / self.n as f64;
        self.m2 += delta * (x - self.mean);
    }

    fn merge(&mut self, other: &Welford) {
        if other.n == 0 {
            return;
        }
        let total = self.n + other.n;
        let delta = other.mean - self.mean;
        self.m2 += other.m2 + delta * delta * (self.n as f64) * (other.n as f64) / total as f64;
        self.mean += delta * other.n as f64 / total as f64;
        self.n = total;
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
                    .is_none_or(|(best, was)| crate::value::cmp_numbers(value, x, was, *best) == want)
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

#[cfg(test)]
mod percentile_tests {
    use super::{AggState, Percentile};
    use crate::plan::aggregate::AggKind;
    use crate::value::Value;

    /// The percentile the plain definition gives: sort everything, take the nearest rank.
    fn reference(p: f64, values: &[f64]) -> Option<Value> {
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
        sorted
            .get(rank.min(sorted.len()).checked_sub(1)?)
            .and_then(|v| Value::num(*v))
    }

    #[test]
    fn dense_and_sparse_counts_agree_with_sorting() {
        // Whole numbers small and large, negatives, fractions, -0.0: in both the array and the
        // map, and a value first counted in the map before the array grows over it.
        let mut values = vec![5000.0, 5000.0, -0.0, 0.0, 3.5, -7.0, 70_000.0, 1.0];
        values.extend((0..300).map(|i| f64::from(i % 97)));
        values.push(5000.0);
        for p in [0.0, 1.0, 50.0, 90.0, 99.0, 99.9, 100.0] {
            let mut whole = Percentile::new(p);
            let mut left = Percentile::new(p);
            let mut right = Percentile::new(p);
            for (i, v) in values.iter().enumerate() {
                whole.add(*v, 1);
                if i % 3 == 0 {
                    left.add(*v, 1);
                } else {
                    right.add(*v, 1);
                }
            }
            left.merge(right);
            let expected = reference(p, &values);
            assert_eq!(whole.finish(), expected, "p{p}");
            assert_eq!(left.finish(), expected, "merged p{p}");
        }
    }

    #[test]
    fn many_small_groups_keep_small_arrays() {
        let mut pct = Percentile::new(50.0);
        pct.add(60_000.0, 1);
        assert!(
            pct.dense.is_empty(),
            "one value does not allocate 60,000 counters"
        );
        assert_eq!(pct.finish(), Some(Value::Num(60_000.0)));
    }

    #[test]
    fn a_groups_states_stay_small() {
        assert!(std::mem::size_of::<AggState>() <= 32);
        assert!(AggState::new(AggKind::Pct(50.0)).finish().is_none());
    }

    #[test]
    fn every_state_reads_back_from_disk_as_it_was() {
        let kinds = [
            AggKind::Count,
            AggKind::CountDistinct,
            AggKind::Sum,
            AggKind::Avg,
            AggKind::Min,
            AggKind::Max,
            AggKind::Pct(90.0),
            AggKind::Stddev,
            AggKind::Earliest,
            AggKind::Latest,
            AggKind::SortsFirst,
            AggKind::SortsLast,
            AggKind::Rate(60_000),
            AggKind::Histogram(7),
        ];
        let values: Vec<Value> = (0..5000)
            .map(|i| match i % 4 {
                0 => Value::Num(f64::from(i) * 1.5),
                1 => Value::Num(f64::from(i % 300)),
                2 => Value::str(format!("text number {i} that is longer than inline")),
                _ => Value::Num(-0.25 * f64::from(i)),
            })
            .collect();
        for kind in kinds {
            for count in [0, 1, 7, 5000] {
                let mut state = AggState::new(kind);
                for (i, v) in values.iter().take(count).enumerate() {
                    state.add(Some(v), Some(i as i64 * 1000));
                }
                let mut bytes = Vec::new();
                state.encode(&mut bytes);
                let mut reader = crate::exec::encoding::Reader::new(&bytes);
                let back = AggState::decode(kind, &mut reader).expect("reads back");
                assert!(reader.is_empty(), "{kind:?}: all of it read");
                // Read back, it merges and finishes as the original does.
                let mut twice = state.clone();
                twice.merge(back.clone());
                let mut twice_back = back.clone();
                twice_back.merge(state.clone());
                assert_eq!(back.finish(), state.finish(), "{kind:?} of {count}");
                assert_eq!(twice.finish(), twice_back.finish(), "{kind:?} of {count}, merged");
                // Damaged bytes are an error, never a panic.
                for cut in [0, bytes.len() / 2, bytes.len().saturating_sub(1)] {
                    if cut < bytes.len() {
                        let mut reader = crate::exec::encoding::Reader::new(&bytes[..cut]);
                        let _ = AggState::decode(kind, &mut reader);
                    }
                }
            }
        }
    }
}

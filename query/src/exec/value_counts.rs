//! How many times each number was seen, for exact percentiles over values that are not small
//! whole numbers (decimals such as `11.9`, large or negative numbers). A hash map of a million
//! distinct decimals misses the cache on every insert; here values are appended, sorted a chunk
//! at a time while the chunk is in cache, and merged into sorted runs of similar size (so each
//! value is merged O(log n) times, sequentially). Equal values are counted once per run.

/// Values appended before they are sorted into a run, at most...
const CHUNK: usize = 8192;
/// ...and at least (below it, as many as the runs already hold: a group with few distinct values
/// stays small however many rows it has).
const MIN_CHUNK: usize = 64;

/// Counts of numbers, by value. Keys are the numbers' bits mapped so that unsigned order is the
/// numbers' total order (negative numbers before positive ones), and -0.0 is 0.0.
#[derive(Debug, Clone, Default)]
pub struct ValueCounts {
    pending: Vec<(u64, u64)>,
    /// Sorted, each key once; older (larger) runs first.
    runs: Vec<Vec<(u64, u64)>>,
}

fn key_of(x: f64) -> u64 {
    let x = if x == 0.0 { 0.0 } else { x };
    let bits = x.to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | 1 << 63
    }
}

fn value_of(key: u64) -> f64 {
    let bits = if key >> 63 == 1 { key & !(1 << 63) } else { !key };
    f64::from_bits(bits)
}

impl ValueCounts {
    /// Counts `x` `n` more times.
    pub fn add(&mut self, x: f64, n: u64) {
        self.pending.push((key_of(x), n));
        let held: usize = self.runs.iter().map(Vec::len).sum();
        if self.pending.len() >= held.clamp(MIN_CHUNK, CHUNK) {
            self.flush();
        }
    }

    /// Entries held (for memory accounting).
    pub fn capacity(&self) -> usize {
        self.pending.capacity() + self.runs.iter().map(Vec::capacity).sum::<usize>()
    }

    fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        self.pending.sort_unstable_by_key(|&(k, _)| k);
        let run = compact(&self.pending);
        self.pending.clear();
        self.runs.push(run);
        // Size tiers: merge while the newest run is at least half the one before it.
        while self.runs.len() >= 2 {
            let n = self.runs.len();
            if self.runs[n - 1].len() * 2 < self.runs[n - 2].len() {
                break;
            }
            let newer = self.runs.pop().unwrap_or_default();
            let older = self.runs.pop().unwrap_or_default();
            self.runs.push(merge(&older, &newer));
        }
    }

    /// Every value and its count, in increasing order.
    pub fn sorted(mut self) -> Vec<(f64, u64)> {
        self.flush();
        let merged = self
            .runs
            .into_iter()
            .reduce(|a, b| merge(&a, &b))
            .unwrap_or_default();
        merged.into_iter().map(|(k, n)| (value_of(k), n)).collect()
    }

    /// Every value once with its count, in increasing order, without changing the counts (for
    /// spilling).
    pub fn pairs(&self) -> Vec<(f64, u64)> {
        let mut pending = self.pending.clone();
        pending.sort_unstable_by_key(|&(k, _)| k);
        let merged = self
            .runs
            .iter()
            .fold(compact(&pending), |acc, run| merge(&acc, run));
        merged.into_iter().map(|(k, n)| (value_of(k), n)).collect()
    }

    /// How many entries are held (a value may be in several runs).
    pub fn len(&self) -> usize {
        self.pending.len() + self.runs.iter().map(Vec::len).sum::<usize>()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A sorted list with equal keys' counts added together (allocated to its size).
fn compact(sorted: &[(u64, u64)]) -> Vec<(u64, u64)> {
    let distinct = 1 + sorted.windows(2).filter(|w| w[0].0 != w[1].0).count();
    let mut out: Vec<(u64, u64)> = Vec::with_capacity(distinct.min(sorted.len()));
    for &(k, n) in sorted {
        match out.last_mut() {
            Some(last) if last.0 == k => last.1 += n,
            _ => out.push((k, n)),
        }
    }
    out
}

/// Two sorted, compacted lists as one.
fn merge(a: &[(u64, u64)], b: &[(u64, u64)]) -> Vec<(u64, u64)> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        let (ka, na) = a[i];
        let (kb, nb) = b[j];
        match ka.cmp(&kb) {
            std::cmp::Ordering::Less => {
                out.push((ka, na));
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                out.push((kb, nb));
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                out.push((ka, na + nb));
                i += 1;
                j += 1;
            }
        }
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::float_cmp)]
    use super::*;

    #[test]
    fn the_order_of_keys_is_the_order_of_numbers() {
        let values = [
            f64::NEG_INFINITY,
            -1e300,
            -2.5,
            -1e-300,
            0.0,
            1e-300,
            0.1,
            11.9,
            1e300,
            f64::INFINITY,
        ];
        for pair in values.windows(2) {
            assert!(key_of(pair[0]) < key_of(pair[1]), "{pair:?}");
        }
        for v in values {
            assert_eq!(value_of(key_of(v)), v);
        }
        assert_eq!(key_of(-0.0), key_of(0.0));
    }

    #[test]
    fn counts_come_back_sorted_and_summed_whatever_the_order() {
        let mut rng = crate::test_rng::Rng(0x9e37_79b9_7f4a_7c15);
        let values: Vec<f64> = (0..50_000)
            .map(|_| rng.below(30_000) as f64 / 1000.0 - 3.0)
            .collect();
        let mut counts = ValueCounts::default();
        for &v in &values {
            counts.add(v, 1);
        }
        let mut expected: std::collections::BTreeMap<u64, u64> = std::collections::BTreeMap::new();
        for &v in &values {
            *expected.entry(key_of(v)).or_default() += 1;
        }
        let expected: Vec<(f64, u64)> = expected.into_iter().map(|(k, n)| (value_of(k), n)).collect();
        let pairs = counts.pairs();
        assert_eq!(pairs.iter().map(|(_, n)| n).sum::<u64>(), 50_000);
        assert_eq!(pairs, expected);
        assert_eq!(counts.sorted(), expected);
        // Many rows of a few values stay a few entries.
        let mut few = ValueCounts::default();
        for i in 0..100_000 {
            few.add(f64::from(i % 5) + 0.5, 1);
        }
        assert!(few.capacity() < 2 * MIN_CHUNK, "{}", few.capacity());
        assert_eq!(
            few.sorted(),
            (0..5).map(|v| (f64::from(v) + 0.5, 20_000)).collect::<Vec<_>>()
        );
    }
}

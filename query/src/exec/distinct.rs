//! `count_distinct` in bounded memory. CloudWatch documents the function as approximate for high
//! cardinality; so is this one, past [`EXACT_LIMIT`] values: up to there it keeps each value's
//! 64-bit hash (exact but for a hash collision, about one chance in 2^40 at the limit), past it a
//! HyperLogLog sketch of 2^14 one-byte registers (16 KiB), whose standard error is
//! 1.04 / sqrt(2^14) ≈ 0.8 % (within ±2.4 % 99.7 % of the time). Either way a group's state stays
//! under about 40 KiB (2,048 hashes in a set, or the sketch), however many values it sees. Partial states from several threads merge
//! into the state one thread would have built.

use std::collections::HashSet;
use std::hash::BuildHasherDefault;

use crate::fx_hash::FxHasher;

/// Distinct values counted exactly (by their hashes) before the sketch takes over.
pub const EXACT_LIMIT: usize = 2048;
/// log2 of the sketch's register count.
const PRECISION: u32 = 14;
const REGISTERS: usize = 1 << PRECISION;

/// A running distinct count.
#[derive(Debug, Clone)]
pub enum Distinct {
    Exact(HashSet<u64, BuildHasherDefault<FxHasher>>),
    Sketch(Box<[u8; REGISTERS]>),
}

impl Default for Distinct {
    fn default() -> Distinct {
        Distinct::Exact(HashSet::default())
    }
}

impl Distinct {
    /// Counts `text` (a value as it shows).
    pub fn add(&mut self, text: &str) {
        self.add_hash(hash_text(text));
    }

    fn add_hash(&mut self, hash: u64) {
        match self {
            Distinct::Exact(set) => {
                set.insert(hash);
                if set.len() > EXACT_LIMIT {
                    let mut sketch = Box::new([0u8; REGISTERS]);
                    for &h in set.iter() {
                        record(&mut sketch, h);
                    }
                    *self = Distinct::Sketch(sketch);
                }
            }
            Distinct::Sketch(registers) => record(registers, hash),
        }
    }

    /// Folds another partial count in.
    pub fn merge(&mut self, other: Distinct) {
        match other {
            Distinct::Exact(set) => {
                for h in set {
                    self.add_hash(h);
                }
            }
            Distinct::Sketch(theirs) => {
                if let Distinct::Exact(set) = self {
                    let mut sketch = Box::new([0u8; REGISTERS]);
                    for &h in set.iter() {
                        record(&mut sketch, h);
                    }
                    *self = Distinct::Sketch(sketch);
                }
                if let Distinct::Sketch(mine) = self {
                    for (m, t) in mine.iter_mut().zip(theirs.iter()) {
                        *m = (*m).max(*t);
                    }
                }
            }
        }
    }

    /// Its form on disk (see [`crate::exec::spill`]).
    pub fn encode(&self, out: &mut Vec<u8>) {
        use crate::exec::encoding::{put_bytes, put_u64};
        match self {
            Distinct::Exact(set) => {
                out.push(0);
                put_u64(out, set.len() as u64);
                for &h in set {
                    put_u64(out, h);
                }
            }
            Distinct::Sketch(registers) => {
                out.push(1);
                put_bytes(out, &registers[..]);
            }
        }
    }

    /// Reads what [`Distinct::encode`] wrote.
    pub fn decode(input: &mut crate::exec::encoding::Reader<'_>) -> Option<Distinct> {
        match input.u8()? {
            0 => {
                let n = input.u64()?;
                let mut set = HashSet::default();
                for _ in 0..n {
                    set.insert(input.u64()?);
                }
                Some(Distinct::Exact(set))
            }
            1 => {
                let bytes = input.bytes()?;
                let registers: [u8; REGISTERS] = bytes.try_into().ok()?;
                Some(Distinct::Sketch(Box::new(registers)))
            }
            _ => None,
        }
    }

    /// Bytes it holds besides its own size.
    pub fn heap_bytes(&self) -> usize {
        match self {
            // A hash set takes about twice its entries.
            Distinct::Exact(set) => set.capacity() * 16,
            Distinct::Sketch(_) => REGISTERS,
        }
    }

    /// The count: exact up to [`EXACT_LIMIT`], estimated past it.
    pub fn count(&self) -> u64 {
        match self {
            Distinct::Exact(set) => set.len() as u64,
            Distinct::Sketch(registers) => estimate(registers),
        }
    }
}

/// A well-mixed 64-bit hash of `text`: each 8-byte word is folded in and the state fully
/// mixed (FxHash alone mixes only upward: words that differ in their top bytes collide).
fn hash_text(text: &str) -> u64 {
    let bytes = text.as_bytes();
    let mut h: u64 = 0x9e37_79b9_7f4a_7c15 ^ (bytes.len() as u64);
    let mut words = bytes.chunks_exact(8);
    for word in &mut words {
        let mut whole = [0u8; 8];
        whole.copy_from_slice(word);
        h = mix(h ^ u64::from_le_bytes(whole));
    }
    let tail = words.remainder();
    if !tail.is_empty() {
        let mut last = [0u8; 8];
        last[..tail.len()].copy_from_slice(tail);
        h = mix(h ^ u64::from_le_bytes(last));
    }
    mix(h)
}

/// MurmurHash3's 64-bit finaliser: every input bit reaches every output bit.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ (x >> 33)
}

/// The register a hash falls in takes the rank of the rest (the position of its first 1 bit).
fn record(registers: &mut [u8; REGISTERS], hash: u64) {
    let index = (hash >> (64 - PRECISION)) as usize;
    let rest = hash << PRECISION;
    let rank = (rest.leading_zeros() + 1).min(64 - PRECISION + 1) as u8;
    if let Some(r) = registers.get_mut(index) {
        *r = (*r).max(rank);
    }
}

/// HyperLogLog's estimate, with linear counting where it is better (few values).
fn estimate(registers: &[u8; REGISTERS]) -> u64 {
    let m = REGISTERS as f64;
    let alpha = 0.7213 / (1.0 + 1.079 / m);
    let sum: f64 = registers.iter().map(|&r| 2f64.powi(-i32::from(r))).sum();
    let raw = alpha * m * m / sum;
    let zeros = registers.len() - registers.iter().map(|&r| usize::from(r > 0)).sum::<usize>();
    let estimate = if raw <= 2.5 * m && zeros > 0 {
        m * (m / zeros as f64).ln()
    } else {
        raw
    };
    estimate.round() as u64
}

#[cfg(test)]
mod tests {
    use super::{Distinct, EXACT_LIMIT};

    fn count_of(values: impl Iterator<Item = String>) -> u64 {
        let mut d = Distinct::default();
        for v in values {
            d.add(&v);
        }
        d.count()
    }

    #[test]
    fn up_to_the_limit_the_count_is_exact() {
        assert_eq!(
            count_of((0..EXACT_LIMIT).map(|i| format!("user-{i}"))),
            EXACT_LIMIT as u64
        );
        assert_eq!(count_of((0..5000).map(|i| format!("v{}", i % 7))), 7);
    }

    #[test]
    fn past_it_the_estimate_is_within_three_standard_errors_and_memory_stays_put() {
        // Across linear counting's range, the switch to the raw estimate (~41k) and past it.
        for n in [3_000usize, 20_000, 41_000, 50_000, 82_000, 300_000, 2_000_000] {
            let got = count_of((0..n).map(|i| format!("12.8M-lines.log:{i}")));
            let error = (got as f64 - n as f64).abs() / n as f64;
            assert!(
                error < 0.024,
                "{n} distinct: estimated {got} ({:.2} %)",
                error * 100.0
            );
        }
        let mut d = Distinct::default();
        for i in 0..100_000 {
            d.add(&i.to_string());
        }
        assert!(matches!(d, Distinct::Sketch(_)), "a sketch past the limit");
    }

    #[test]
    fn partial_counts_merge_into_the_single_threads_count() {
        for (split, n) in [(100, 1_000), (1_500, 3_000), (10_000, 50_000), (40_000, 50_000)] {
            let mut whole = Distinct::default();
            let (mut a, mut b) = (Distinct::default(), Distinct::default());
            for i in 0..n {
                let v = format!("k{i}");
                whole.add(&v);
                if i < split {
                    a.add(&v);
                } else {
                    b.add(&v);
                }
                // Overlap: some values on both sides.
                if i % 10 == 0 {
                    a.add(&v);
                    b.add(&v);
                }
            }
            let mut merged = a.clone();
            merged.merge(b.clone());
            assert_eq!(merged.count(), whole.count(), "split {split} of {n}");
            b.merge(a);
            assert_eq!(b.count(), whole.count(), "the other way round");
        }
    }
}

//! Sums that do not depend on the order of their terms: `sum` and `avg` give the same last digit
//! whatever the thread count, the way the input is cut into pieces, or which path read a line.
//! A plain `f64` sum rounds at every addition, so two orders of the same decimals
//! (`11.9 + 0.3 + …`) can differ in the last bits. Here each addition is exact: the running sum
//! is kept as a few non-overlapping doubles (Shewchuk's partials, as in Python's `math.fsum`),
//! and the result is the correctly rounded sum of all terms. Most data needs one or two
//! partials, kept inline. One limit: a sum that overflows a double on the way (terms near
//! ±1.8e308) is kept plainly from then on, so it may still depend on the order.

/// Partials kept without an allocation.
const INLINE: usize = 3;

/// An exact running sum of doubles, and how many terms it has.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExactSum {
    inline: [f64; INLINE],
    len: u8,
    /// Partials past the inline ones (rare: terms of very different magnitudes).
    more: Vec<f64>,
    /// Infinities and NaN, and sums that overflow: added plainly (no exact answer exists).
    special: f64,
    pub n: u64,
}

impl ExactSum {
    /// Adds one term.
    pub fn add(&mut self, x: f64) {
        self.n += 1;
        self.add_term(x);
    }

    fn add_term(&mut self, x: f64) {
        if !x.is_finite() {
            self.special += x;
            return;
        }
        if self.more.is_empty() {
            // The usual case: everything on the stack.
            let mut buf = [0.0; INLINE + 1];
            let len = usize::from(self.len);
            buf[..len].copy_from_slice(&self.inline[..len]);
            let kept = self.grow(&mut buf, len, x);
            let inline = kept.min(INLINE);
            self.inline[..inline].copy_from_slice(&buf[..inline]);
            self.len = inline as u8;
            self.more.extend_from_slice(&buf[inline..kept]);
            return;
        }
        let mut partials = self.take_partials();
        let len = partials.len();
        partials.push(0.0);
        let kept = self.grow(&mut partials, len, x);
        partials.truncate(kept);
        self.put_partials(&partials);
    }

    /// Adds `x` to the `len` partials at the front of `buf` (which has room for one more);
    /// returns how many partials there are now.
    fn grow(&mut self, buf: &mut [f64], len: usize, mut x: f64) -> usize {
        let mut kept = 0;
        for i in 0..len {
            let mut y = buf[i];
            if x.abs() < y.abs() {
                std::mem::swap(&mut x, &mut y);
            }
            let hi = x + y;
            if !hi.is_finite() {
                // Overflow: no exact answer; the rest goes to the plain special sum.
                self.special += hi;
                x = 0.0;
                continue;
            }
            let lo = y - (hi - x);
            if lo != 0.0 {
                buf[kept] = lo;
                kept += 1;
            }
            x = hi;
        }
        // Zeros are not kept (a sum of nothing but -0.0 is 0.0, as in `math.fsum`).
        if x != 0.0 {
            buf[kept] = x;
            kept += 1;
        }
        kept
    }

    fn take_partials(&mut self) -> Vec<f64> {
        let mut all = Vec::with_capacity(usize::from(self.len) + self.more.len() + 1);
        all.extend_from_slice(&self.inline[..usize::from(self.len)]);
        all.append(&mut self.more);
        all
    }

    fn put_partials(&mut self, partials: &[f64]) {
        let inline = partials.len().min(INLINE);
        self.inline[..inline].copy_from_slice(&partials[..inline]);
        self.len = inline as u8;
        self.more.clear();
        self.more.extend_from_slice(&partials[inline..]);
    }

    /// Folds another sum in (exactly: its partials are added one by one).
    pub fn merge(&mut self, other: &ExactSum) {
        self.n += other.n;
        self.special += other.special;
        for &p in other.partials() {
            self.add_term(p);
        }
    }

    /// The partials, smallest magnitude first (for spilling and merging).
    pub fn partials(&self) -> impl Iterator<Item = &f64> {
        self.inline[..usize::from(self.len)]
            .iter()
            .chain(self.more.iter())
    }

    /// Rebuilds a sum from [`ExactSum::partials`], its special sum and its term count.
    pub fn from_parts(partials: &[f64], special: f64, n: u64) -> ExactSum {
        let mut sum = ExactSum {
            special,
            n,
            ..ExactSum::default()
        };
        sum.put_partials(partials);
        sum
    }

    pub fn special(&self) -> f64 {
        self.special
    }

    /// The correctly rounded sum (round half to even), as `math.fsum` gives it.
    pub fn value(&self) -> f64 {
        if self.special != 0.0 || self.special.is_nan() {
            return self.special + self.partials().sum::<f64>();
        }
        let partials: Vec<f64> = self.partials().copied().collect();
        let Some((&top, rest)) = partials.split_last() else {
            return 0.0;
        };
        let mut hi = top;
        let mut lo = 0.0;
        let mut i = rest.len();
        while i > 0 {
            i -= 1;
            let x = hi;
            let y = rest[i];
            hi = x + y;
            let yr = hi - x;
            lo = y - yr;
            if lo != 0.0 {
                break;
            }
        }
        // Half-way cases: round to even with the sign of the next partial down.
        if i > 0 && ((lo < 0.0 && rest[i - 1] < 0.0) || (lo > 0.0 && rest[i - 1] > 0.0)) {
            let y = lo * 2.0;
            let x = hi + y;
            let yr = x - hi;
            // Exact comparison on purpose: whether the doubling was exact.
            #[allow(clippy::float_cmp)]
            if y == yr {
                hi = x;
            }
        }
        hi
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::float_cmp)]
    use super::*;

    fn exact(terms: &[f64]) -> f64 {
        let mut s = ExactSum::default();
        for &t in terms {
            s.add(t);
        }
        s.value()
    }

    #[test]
    fn the_order_of_the_terms_does_not_matter() {
        let mut rng = crate::test_rng::Rng(0x2545_f491_4f6c_dd1d);
        let mut next = || rng.next();
        for _ in 0..300 {
            let n = 1 + (next() % 400) as usize;
            let terms: Vec<f64> = (0..n)
                .map(|_| {
                    let cents = (next() % 1_000_000) as f64;
                    let scale = [1.0, 10.0, 100.0, 1000.0][(next() % 4) as usize];
                    let sign = if next() % 5 == 0 { -1.0 } else { 1.0 };
                    sign * cents / scale
                })
                .collect();
            let forward = exact(&terms);
            let mut reversed = terms.clone();
            reversed.reverse();
            assert_eq!(forward.to_bits(), exact(&reversed).to_bits());
            // Cut in two, summed apart and merged either way round.
            let cut = (next() as usize) % terms.len();
            let (mut a, mut b) = (ExactSum::default(), ExactSum::default());
            terms[..cut].iter().for_each(|&t| a.add(t));
            terms[cut..].iter().for_each(|&t| b.add(t));
            let mut ab = a.clone();
            ab.merge(&b);
            b.merge(&a);
            assert_eq!(ab.value().to_bits(), forward.to_bits());
            assert_eq!(b.value().to_bits(), forward.to_bits());
            assert_eq!(ab.n, terms.len() as u64);
        }
    }

    #[test]
    fn it_is_the_correctly_rounded_sum() {
        assert_eq!(exact(&[0.1; 10]), 1.0);
        assert_eq!(exact(&[1e100, 1.0, -1e100]), 1.0);
        assert_eq!(exact(&[1e308, 1e308]), f64::INFINITY);
        assert!(exact(&[f64::INFINITY, f64::NEG_INFINITY]).is_nan());
        assert_eq!(exact(&[]), 0.0);
        assert_eq!(exact(&[-0.0, -0.0]).to_bits(), 0.0_f64.to_bits());
        // Python: math.fsum([1, 1e-16, 1e-16]) == 1.0000000000000002
        assert_eq!(exact(&[1.0, 1e-16, 1e-16]), 1.000_000_000_000_000_2);
        let parts = {
            let mut s = ExactSum::default();
            for t in [1e100, 3.5, -2.25, 1e-30] {
                s.add(t);
            }
            s
        };
        let partials: Vec<f64> = parts.partials().copied().collect();
        let back = ExactSum::from_parts(&partials, parts.special(), parts.n);
        assert_eq!(back.value().to_bits(), parts.value().to_bits());
    }
}

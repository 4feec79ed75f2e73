//! FxHash (rustc's hasher): a multiply and a rotate per word. Used for the query's own field
//! names and for group keys of one local run, where speed matters and there is no remote party
//! to defend against.

use std::hash::Hasher;

#[derive(Debug, Default, Clone, Copy)]
pub struct FxHasher(u64);

const FX_SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    pub fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(FX_SEED);
    }
}

impl Hasher for FxHasher {
    /// Little-endian words, the last one zero-padded. Whole words are one load each and the
    /// tail is assembled byte by byte: no variable-length copy (a `memcpy` call) per word.
    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for word in &mut words {
            let mut whole = [0u8; 8];
            whole.copy_from_slice(word);
            self.add(u64::from_le_bytes(whole));
        }
        let tail = words.remainder();
        if !tail.is_empty() {
            let word = tail
                .iter()
                .rev()
                .fold(0u64, |word, &byte| (word << 8) | u64::from(byte));
            self.add(word);
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    /// The state, mixed so the low bits depend on every input bit: hash tables index buckets by
    /// the low bits, and the bits of whole numbers stored as f64 have all-zero low bits.
    fn finish(&self) -> u64 {
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// The hash of a byte string, terminated so that `ab`+`c` and `a`+`bc` differ in a sequence.
pub fn fx_hash(bytes: &[u8]) -> u64 {
    let mut h = FxHasher::default();
    h.write(bytes);
    h.write_u8(0xff);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::FxHasher;

    #[test]
    fn bytes_hash_as_zero_padded_little_endian_words() {
        let bytes: Vec<u8> = (1..=29).collect();
        for len in 0..bytes.len() {
            let mut fast = FxHasher::default();
            fast.write(&bytes[..len]);
            let mut words = FxHasher::default();
            for chunk in bytes[..len].chunks(8) {
                let mut word = [0u8; 8];
                word[..chunk.len()].copy_from_slice(chunk);
                words.add(u64::from_le_bytes(word));
            }
            assert_eq!(fast.finish(), words.finish(), "{len} bytes");
        }
    }
    use std::collections::HashSet;
    use std::hash::Hasher;

    #[test]
    fn whole_numbers_as_f64_bits_spread_over_the_low_bits() {
        let buckets: HashSet<u64> = (0..1000u32)
            .map(|n| {
                let mut h = FxHasher::default();
                h.write_u64(f64::from(n).to_bits());
                h.finish() & 1023
            })
            .collect();
        assert!(buckets.len() > 500, "{} buckets used", buckets.len());
    }
}

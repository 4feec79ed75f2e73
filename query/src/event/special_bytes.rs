//! Where a JSON string's scan must stop, found for a whole line at once: bit masks of the
//! bytes that end or interrupt a string (`"`, `\` and control bytes), built 64 bytes at a
//! time with SIMD compares. Finding the end of a string is then a lookup in a word instead of
//! a search through its bytes, which matters when a line is walked string by string.

use super::json_fields::scan_escape;

/// Masks for lines up to 8 MiB are kept from line to line; longer ones are freed after use.
const KEEP_WORDS: usize = 1 << 17;

/// A line and its special-byte masks: bit `j` of word `w` is set when byte `64 * w + j` is
/// `"`, `\` or below 0x20. Words are built as far as the scans reach, so a walk that stops
/// early does not pay for the rest of the line.
pub(super) struct SpecialBytes<'a> {
    bytes: &'a [u8],
    words: &'a mut Vec<u64>,
}

impl<'a> SpecialBytes<'a> {
    /// Masks over `bytes`, kept in `words` (reused from line to line).
    pub fn new(bytes: &'a [u8], words: &'a mut Vec<u64>) -> SpecialBytes<'a> {
        // One huge line does not pin its masks' memory.
        if words.capacity() > KEEP_WORDS {
            *words = Vec::new();
        }
        words.clear();
        SpecialBytes { bytes, words }
    }

    /// The first index at or after `i` holding `"`, `\` or a byte below 0x20 (or the line's
    /// length).
    #[inline]
    pub fn next(&mut self, i: usize) -> usize {
        let len = self.bytes.len();
        if i >= len {
            return len;
        }
        let mut word = i / 64;
        let mut mask = self.word(word) & (u64::MAX << (i % 64));
        loop {
            if mask != 0 {
                // Padding past the end is never special, so a set bit is inside the line.
                return word * 64 + mask.trailing_zeros() as usize;
            }
            word += 1;
            if word * 64 >= len {
                return len;
            }
            mask = self.word(word);
        }
    }

    /// Validates a JSON string whose opening quote is just before `i`; returns the index of
    /// the closing quote and whether the string has escapes.
    #[inline]
    pub fn scan_string(&mut self, mut i: usize) -> Option<(usize, bool)> {
        let mut escaped = false;
        loop {
            i = self.next(i);
            match *self.bytes.get(i)? {
                b'"' => return Some((i, escaped)),
                b'\\' => {
                    escaped = true;
                    i = scan_escape(self.bytes, i + 1)?;
                }
                // A raw control character: not allowed in a JSON string.
                _ => return None,
            }
        }
    }

    #[inline]
    fn word(&mut self, word: usize) -> u64 {
        while self.words.len() <= word {
            let start = self.words.len() * 64;
            let whole = self
                .bytes
                .get(start..start + 64)
                .and_then(|b| <&[u8; 64]>::try_from(b).ok());
            let mask = if let Some(block) = whole {
                block_mask_sse2(block)
            } else {
                // The line's last, short block, padded with bytes that are not special.
                let mut block = [b' '; 64];
                let tail = self.bytes.get(start..).unwrap_or_default();
                block[..tail.len()].copy_from_slice(tail);
                block_mask_sse2(&block)
            };
            self.words.push(mask);
        }
        self.words[word]
    }
}

/// [`block_mask`], called where SSE2 is known to be there.
#[inline]
fn block_mask_sse2(block: &[u8; 64]) -> u64 {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    #[allow(unsafe_code)]
    // SAFETY: `block_mask` needs only SSE2, which this build enables for every function
    // (the cfg above), so every CPU that runs this code has it. Rust still asks for `unsafe`
    // to call a `#[target_feature]` function from one that does not name the feature.
    let mask = unsafe { block_mask(block) };
    #[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
    let mask = block_mask_bytewise(block);
    mask
}

/// The special bytes of a 64-byte block, as bits, with SSE2 compares (part of every x86-64
/// CPU).
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[target_feature(enable = "sse2")]
fn block_mask(block: &[u8; 64]) -> u64 {
    use std::arch::x86_64::{
        _mm_cmpeq_epi8, _mm_min_epu8, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8, _mm_set_epi64x,
    };
    let quote = _mm_set1_epi8(b'"' as i8);
    let backslash = _mm_set1_epi8(b'\\' as i8);
    let highest_control = _mm_set1_epi8(0x1f);
    let (chunks, _) = block.as_chunks::<16>();
    let mut mask = 0u64;
    for (n, chunk) in chunks.iter().enumerate() {
        let bits = u128::from_le_bytes(*chunk);
        let v = _mm_set_epi64x((bits >> 64) as i64, bits as i64);
        // A byte is a control byte when the smaller of it and 0x1f is itself.
        let control = _mm_cmpeq_epi8(_mm_min_epu8(v, highest_control), v);
        let special = _mm_or_si128(
            _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)),
            control,
        );
        mask |= u64::from(_mm_movemask_epi8(special) as u16) << (16 * n);
    }
    mask
}

/// The special bytes of a 64-byte block a byte at a time: the definition the SIMD version is
/// tested against, and the version other CPUs run.
#[cfg_attr(all(target_arch = "x86_64", target_feature = "sse2"), allow(dead_code))]
fn block_mask_bytewise(block: &[u8; 64]) -> u64 {
    block
        .iter()
        .enumerate()
        .filter(|&(_, &c)| c == b'"' || c == b'\\' || c < 0x20)
        .fold(0, |mask, (j, _)| mask | 1 << j)
}

#[cfg(test)]
mod tests {
    use super::{block_mask_bytewise, block_mask_sse2, SpecialBytes};
    use crate::test_rng::Rng;

    fn next_bytewise(b: &[u8], i: usize) -> usize {
        (i..b.len())
            .find(|&j| b[j] == b'"' || b[j] == b'\\' || b[j] < 0x20)
            .unwrap_or(b.len())
    }

    #[test]
    fn every_byte_value_is_classified_as_defined() {
        for base in (0..=255u8).step_by(64) {
            let mut block = [0u8; 64];
            for (j, c) in block.iter_mut().enumerate() {
                *c = base.wrapping_add(j as u8);
            }
            assert_eq!(
                block_mask_sse2(&block),
                block_mask_bytewise(&block),
                "bytes from {base}"
            );
        }
    }

    #[test]
    fn finds_specials_across_blocks_and_in_the_short_tail() {
        let mut line = vec![b'a'; 200];
        line[3] = b'"';
        line[64] = b'\\';
        line[150] = b'\t';
        line[199] = b'"';
        let mut words = Vec::new();
        let mut s = SpecialBytes::new(&line, &mut words);
        assert_eq!(s.next(0), 3);
        assert_eq!(s.next(4), 64);
        assert_eq!(s.next(65), 150);
        assert_eq!(s.next(151), 199);
        assert_eq!(s.next(200), 200);
        assert_eq!(s.next(500), 200);
        let plain = [b'x'; 70];
        let mut s = SpecialBytes::new(&plain, &mut words);
        assert_eq!(s.next(0), 70);
        assert_eq!(s.next(69), 70);
    }

    /// Random bytes: mostly from `alphabet`, now and then any byte.
    fn random_bytes(rng: &mut Rng, alphabet: &[u8], max_len: usize) -> Vec<u8> {
        let len = rng.below(max_len + 1);
        (0..len)
            .map(|_| match rng.below(4) {
                0 => rng.below(256) as u8,
                _ => rng.pick(alphabet),
            })
            .collect()
    }

    #[test]
    fn next_matches_a_bytewise_search() {
        let mut rng = Rng(7);
        let alphabet = [
            b'"', b'\\', b'\n', 0, 0x1f, 0x20, 0x7f, 0x80, 0xff, b'a', b'a', b'a',
        ];
        let mut words = Vec::new();
        for _ in 0..3000 {
            let line = random_bytes(&mut rng, &alphabet, 300);
            let mut s = SpecialBytes::new(&line, &mut words);
            for _ in 0..10 {
                let i = rng.below(320);
                assert_eq!(s.next(i), next_bytewise(&line, i), "{line:?} from {i}");
            }
        }
    }

    #[test]
    fn string_scans_match_the_bytewise_scan() {
        let mut rng = Rng(11);
        let alphabet = [
            b'"', b'\\', b'u', b'n', b'0', b'd', b'8', b'\n', b'a', b'a', b'a', 0xc3, 0xa9,
        ];
        let mut words = Vec::new();
        for _ in 0..5000 {
            let mut line = vec![b'"'];
            line.extend(random_bytes(&mut rng, &alphabet, 200));
            let mut s = SpecialBytes::new(&line, &mut words);
            assert_eq!(s.scan_string(1), scan_string_bytewise(&line, 1), "{line:?}");
        }
    }

    /// The string scan a byte at a time.
    fn scan_string_bytewise(b: &[u8], mut i: usize) -> Option<(usize, bool)> {
        let mut escaped = false;
        loop {
            i = next_bytewise(b, i);
            match *b.get(i)? {
                b'"' => return Some((i, escaped)),
                b'\\' => {
                    escaped = true;
                    i = super::scan_escape(b, i + 1)?;
                }
                _ => return None,
            }
        }
    }
}

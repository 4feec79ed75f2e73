//! Appending numbers, ids and addresses to a line buffer without allocating.

use crate::rng::Rng;

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Decimal digits of `n`.
#[inline]
pub fn u64(buf: &mut Vec<u8>, mut n: u64) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    buf.extend_from_slice(&tmp[i..]);
}

#[inline]
pub fn i64(buf: &mut Vec<u8>, n: i64) {
    if n < 0 {
        buf.push(b'-');
    }
    u64(buf, n.unsigned_abs());
}

/// `n` zero-padded to `width` digits.
#[inline]
pub fn padded(buf: &mut Vec<u8>, n: u64, width: usize) {
    let mut tmp = [b'0'; 20];
    let mut i = tmp.len();
    let mut n = n;
    while n > 0 || tmp.len() - i < width {
        i -= 1;
        tmp[i] = b'0' + (n % 10) as u8;
        n /= 10;
    }
    buf.extend_from_slice(&tmp[i..]);
}

/// A fixed-point number: `scaled / 10^decimals`, e.g. `(10225, 2)` → `102.25`.
#[inline]
pub fn fixed(buf: &mut Vec<u8>, scaled: i64, decimals: u32) {
    let div = 10u64.pow(decimals);
    if scaled < 0 {
        buf.push(b'-');
    }
    let s = scaled.unsigned_abs();
    u64(buf, s / div);
    if decimals > 0 {
        buf.push(b'.');
        padded(buf, s % div, decimals as usize);
    }
}

/// The low `digits` nibbles of `value`, lowercase.
#[inline]
pub fn hex(buf: &mut Vec<u8>, value: u64, digits: u32) {
    for i in (0..digits).rev() {
        buf.push(HEX[((value >> (i * 4)) & 0xF) as usize]);
    }
}

/// Like [`hex`] but uppercase.
#[inline]
pub fn hex_upper(buf: &mut Vec<u8>, value: u64, digits: u32) {
    for i in (0..digits).rev() {
        buf.push(HEX[((value >> (i * 4)) & 0xF) as usize].to_ascii_uppercase());
    }
}

/// A random version-4 UUID, lowercase, 36 characters.
#[inline]
pub fn uuid(buf: &mut Vec<u8>, rng: &mut Rng) {
    let a = rng.next_u64();
    let b = rng.next_u64();
    hex(buf, a >> 32, 8);
    buf.push(b'-');
    hex(buf, a >> 16, 4);
    buf.push(b'-');
    hex(buf, 0x4000 | (a & 0x0FFF), 4);
    buf.push(b'-');
    hex(buf, 0x8000 | ((b >> 48) & 0x3FFF), 4);
    buf.push(b'-');
    hex(buf, b, 12);
}

#[inline]
pub fn ipv4(buf: &mut Vec<u8>, octets: [u8; 4]) {
    for (i, o) in octets.iter().enumerate() {
        if i > 0 {
            buf.push(b'.');
        }
        u64(buf, u64::from(*o));
    }
}

/// An address in `2001:db8::/32` (documentation range) with random low groups.
pub fn ipv6_doc(buf: &mut Vec<u8>, rng: &mut Rng) {
    let x = rng.next_u64();
    buf.extend_from_slice(b"2001:db8:");
    hex_trimmed(buf, x & 0xFFFF);
    buf.extend_from_slice(b"::");
    hex_trimmed(buf, (x >> 16) & 0xFFFF);
    buf.push(b':');
    hex_trimmed(buf, (x >> 32) & 0xFFFF);
}

/// Hex without leading zeros (at least one digit), as IPv6 groups are written.
fn hex_trimmed(buf: &mut Vec<u8>, v: u64) {
    let digits = ((64 - v.leading_zeros()).div_ceil(4)).max(1);
    hex(buf, v, digits);
}

/// A random address that looks like a public client: a plausible first
/// octet, random rest.
#[inline]
pub fn public_octets(rng: &mut Rng) -> [u8; 4] {
    const FIRST: [u8; 16] = [
        23, 31, 45, 52, 54, 66, 73, 81, 91, 104, 109, 151, 176, 185, 203, 212,
    ];
    let x = rng.next_u64();
    [
        FIRST[(x & 0xF) as usize],
        (x >> 8) as u8,
        (x >> 16) as u8,
        ((x >> 24) as u8).max(1),
    ]
}

/// [`public_octets`], written.
#[inline]
pub fn public_ipv4(buf: &mut Vec<u8>, rng: &mut Rng) {
    ipv4(buf, public_octets(rng));
}

/// Standard base64 with padding.
pub fn base64(buf: &mut Vec<u8>, data: &[u8]) {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for chunk in data.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= chunk.len() {
                buf.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]);
            } else {
                buf.push(b'=');
            }
        }
    }
}

/// `,"key":` — the separator and key of a JSON member after the first.
#[inline]
pub fn key(buf: &mut Vec<u8>, key: &str) {
    buf.extend_from_slice(b",\"");
    buf.extend_from_slice(key.as_bytes());
    buf.extend_from_slice(b"\":");
}

/// `,"key":"value"`; `value` must need no escaping.
#[inline]
pub fn str_member(buf: &mut Vec<u8>, k: &str, value: &str) {
    key(buf, k);
    buf.push(b'"');
    buf.extend_from_slice(value.as_bytes());
    buf.push(b'"');
}

/// `,"key":123`
#[inline]
pub fn u64_member(buf: &mut Vec<u8>, k: &str, value: u64) {
    key(buf, k);
    u64(buf, value);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(f: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut b = Vec::new();
        f(&mut b);
        String::from_utf8(b).unwrap()
    }

    #[test]
    fn numbers_format_like_display() {
        for n in [0u64, 7, 10, 99, 12_345, u64::MAX] {
            assert_eq!(s(|b| u64(b, n)), n.to_string());
        }
        assert_eq!(s(|b| i64(b, -42)), "-42");
        assert_eq!(s(|b| padded(b, 7, 3)), "007");
        assert_eq!(s(|b| padded(b, 0, 2)), "00");
        assert_eq!(s(|b| fixed(b, 10_225, 2)), "102.25");
        assert_eq!(s(|b| fixed(b, 5, 2)), "0.05");
        assert_eq!(s(|b| fixed(b, -1505, 1)), "-150.5");
        assert_eq!(s(|b| hex(b, 0xabc, 5)), "00abc");
        assert_eq!(s(|b| base64(b, b"user:alice")), "dXNlcjphbGljZQ==");
        assert_eq!(s(|b| base64(b, b"abc")), "YWJj");
        assert_eq!(s(|b| base64(b, b"ab")), "YWI=");
    }

    #[test]
    fn uuid_has_version_and_variant() {
        let mut rng = Rng::new(3);
        let u = s(|b| uuid(b, &mut rng));
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert!(matches!(&u[19..20], "8" | "9" | "a" | "b"));
        assert_eq!(u.matches('-').count(), 4);
    }

    #[test]
    fn ipv6_is_in_the_documentation_prefix() {
        let mut rng = Rng::new(5);
        let a = s(|b| ipv6_doc(b, &mut rng));
        assert!(
            a.starts_with("2001:db8:") && a.parse::<std::net::Ipv6Addr>().is_ok(),
            "{a}"
        );
    }
}

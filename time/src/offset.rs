//! UTC offsets inside timestamps — `+02:00`, `+0200`, `+02`, `-05:30` — read from bytes, for
//! every line that carries one (the query engine's timestamp scanner, the agent's `%z`).

/// Exactly two ASCII digits at `i` as a number.
#[inline]
fn two_digits(b: &[u8], i: usize) -> Option<i64> {
    match b.get(i..i + 2)? {
        [h, l] if h.is_ascii_digit() && l.is_ascii_digit() => {
            Some(i64::from(h - b'0') * 10 + i64::from(l - b'0'))
        }
        _ => None,
    }
}

/// The offset whose hours start at `i` (just after the sign): `HH:MM`, `HHMM` or `HH` →
/// (seconds, index after). Hours above 23 or minutes above 59 are not an offset.
#[inline]
pub fn offset_after_sign(b: &[u8], i: usize) -> Option<(i64, usize)> {
    let hours = two_digits(b, i)?;
    let (minutes, end) = if b.get(i + 2) == Some(&b':') {
        (two_digits(b, i + 3)?, i + 5)
    } else if let Some(minutes) = two_digits(b, i + 2) {
        (minutes, i + 4)
    } else {
        (0, i + 2)
    };
    (hours <= 23 && minutes <= 59).then_some((hours * 3600 + minutes * 60, end))
}

/// A whole offset text — `Z`, `+HH:MM`, `+HHMM`, `+HH` (or `-`) — as seconds east of UTC.
#[inline]
pub fn parse_utc_offset(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    let sign = match b.first()? {
        b'Z' | b'z' if b.len() == 1 => return Some(0),
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let (seconds, end) = offset_after_sign(b, 1)?;
    (end == b.len()).then_some(sign * seconds)
}

#[cfg(test)]
mod tests {
    use super::{offset_after_sign, parse_utc_offset};

    #[test]
    fn offsets_in_every_written_form() {
        assert_eq!(parse_utc_offset("Z"), Some(0));
        assert_eq!(parse_utc_offset("+02:00"), Some(7200));
        assert_eq!(parse_utc_offset("+0200"), Some(7200));
        assert_eq!(parse_utc_offset("+02"), Some(7200));
        assert_eq!(parse_utc_offset("-05:30"), Some(-19_800));
        for bad in [
            "", "+", "+25:00", "+02:60", "02:00", "+02:0", "+02:00x", "Zulu", "+€",
        ] {
            assert_eq!(parse_utc_offset(bad), None, "{bad:?}");
        }
        assert_eq!(offset_after_sign(b"T+0530 rest", 2), Some((19_800, 6)));
    }
}

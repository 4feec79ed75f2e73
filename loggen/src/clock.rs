//! Event time: a clock that moves forward by random gaps, and the timestamp
//! formats the log kinds use (ISO 8601, nginx's `[01/Mar/2024:00:00:01 +0000]`).
//! Civil dates come from `skywatch-time` (Howard Hinnant's algorithms), so no
//! time-zone database or date crate is involved.

use crate::emit;
use crate::rng::Rng;

/// 2024-03-01T00:00:00Z in epoch milliseconds.
pub const DEFAULT_START_MS: i64 = 1_709_251_200_000;

const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

/// A monotonic event clock: each tick adds a uniform gap in `0..=max_gap_ms`,
/// so the mean rate is `2000 / max_gap_ms` events per second.
#[derive(Clone, Debug)]
pub struct Clock {
    now_ms: i64,
    max_gap_ms: u64,
}

impl Clock {
    pub fn new(start_ms: i64, mean_gap_ms: u64) -> Self {
        Clock {
            now_ms: start_ms,
            max_gap_ms: mean_gap_ms * 2,
        }
    }

    #[inline]
    pub fn tick(&mut self, rng: &mut Rng) -> i64 {
        self.now_ms += rng.below(self.max_gap_ms + 1) as i64;
        self.now_ms
    }

    /// Moves the clock to `ms` if that is later.
    pub fn advance_to(&mut self, ms: i64) {
        self.now_ms = self.now_ms.max(ms);
    }
}

pub use skywatch_time::civil::civil_from_days;

struct Parts {
    year: i64,
    month: u32,
    day: u32,
    hour: u64,
    minute: u64,
    second: u64,
    milli: u64,
}

fn parts(ms: i64) -> Parts {
    let days = ms.div_euclid(86_400_000);
    let rem = ms.rem_euclid(86_400_000) as u64;
    let (year, month, day) = civil_from_days(days);
    Parts {
        year,
        month,
        day,
        hour: rem / 3_600_000,
        minute: rem / 60_000 % 60,
        second: rem / 1000 % 60,
        milli: rem % 1000,
    }
}

fn date_time(buf: &mut Vec<u8>, p: &Parts) {
    emit::padded(buf, p.year as u64, 4);
    buf.push(b'-');
    emit::padded(buf, u64::from(p.month), 2);
    buf.push(b'-');
    emit::padded(buf, u64::from(p.day), 2);
    buf.push(b'T');
    emit::padded(buf, p.hour, 2);
    buf.push(b':');
    emit::padded(buf, p.minute, 2);
    buf.push(b':');
    emit::padded(buf, p.second, 2);
}

/// `2024-03-01T00:00:01.123Z`
#[inline]
pub fn iso_ms(buf: &mut Vec<u8>, ms: i64) {
    let p = parts(ms);
    date_time(buf, &p);
    buf.push(b'.');
    emit::padded(buf, p.milli, 3);
    buf.push(b'Z');
}

/// `2024-03-01T00:00:01Z`
pub fn iso_secs(buf: &mut Vec<u8>, ms: i64) {
    date_time(buf, &parts(ms));
    buf.push(b'Z');
}

/// nginx / API Gateway `$time_local` in UTC: `01/Mar/2024:00:00:01 +0000`.
pub fn clf(buf: &mut Vec<u8>, ms: i64) {
    let p = parts(ms);
    emit::padded(buf, u64::from(p.day), 2);
    buf.push(b'/');
    buf.extend_from_slice(MONTHS[p.month as usize - 1]);
    buf.push(b'/');
    emit::padded(buf, p.year as u64, 4);
    buf.push(b':');
    emit::padded(buf, p.hour, 2);
    buf.push(b':');
    emit::padded(buf, p.minute, 2);
    buf.push(b':');
    emit::padded(buf, p.second, 2);
    buf.extend_from_slice(b" +0000");
}

/// Parses an RFC 3339 timestamp (`2024-03-01T00:00:00Z`,
/// `2024-03-01T02:00:00.250+02:00`, a lowercase `t`/`z` or a space separator)
/// or a bare date (`2024-03-01`, midnight UTC) into epoch milliseconds.
pub fn parse_rfc3339_ms(s: &str) -> Option<i64> {
    skywatch_time::parse_rfc3339_or_date(s)
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
    fn formats_the_default_start() {
        assert_eq!(
            s(|b| iso_ms(b, DEFAULT_START_MS + 1123)),
            "2024-03-01T00:00:01.123Z"
        );
        assert_eq!(
            s(|b| iso_secs(b, DEFAULT_START_MS + 1999)),
            "2024-03-01T00:00:01Z"
        );
        assert_eq!(
            s(|b| clf(b, DEFAULT_START_MS - 1000)),
            "29/Feb/2024:23:59:59 +0000"
        );
    }

    #[test]
    fn civil_round_trips_over_centuries() {
        for days in (-800_000..800_000).step_by(97) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(
                skywatch_time::civil::days_from_civil(y, i64::from(m), i64::from(d)),
                Some(days)
            );
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
    }

    #[test]
    fn parses_rfc3339_variants() {
        assert_eq!(parse_rfc3339_ms("2024-03-01T00:00:00Z"), Some(DEFAULT_START_MS));
        assert_eq!(parse_rfc3339_ms("2024-03-01"), Some(DEFAULT_START_MS));
        assert_eq!(
            parse_rfc3339_ms("2024-03-01T02:00:00.25+02:00"),
            Some(DEFAULT_START_MS + 250)
        );
        assert_eq!(
            parse_rfc3339_ms("2024-02-29 23:00:00-01:00"),
            Some(DEFAULT_START_MS)
        );
        for bad in [
            "",
            "2024-13-01",
            "2023-02-29",
            "2024-03-01T00:00:00",
            "2024-03-01T24:00:00Z",
            "x",
        ] {
            assert_eq!(parse_rfc3339_ms(bad), None, "{bad}");
        }
    }
}

//! The CloudWatch agent's `timestamp_format`: strftime-like tokens that become both a regular
//! expression (the first match anywhere in the message is the event's time) and a parser for the
//! matched text. Formats without a year take the current one, or the previous one when that
//! would put the time more than 30 days ahead (December logs read in January). `timezone` is
//! `UTC` or `Local`; a `%z` in the format overrides it.
//!
//! Differences from the CloudWatch agent, where it loses information: `%B` matches every month
//! name (the agent's regex only matches seven-letter ones), and `%z` also accepts `-07:00`.

use chrono::{Datelike, Local, NaiveDate, TimeZone, Utc};
use regex::Regex;

/// How times without an offset are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Zone {
    Utc,
    #[default]
    Local,
}

/// One token of a format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Year4,
    Year2,
    MonthShort,
    MonthLong,
    Month,
    Day,
    WeekdayLong,
    WeekdayShort,
    Hour24,
    Hour12,
    Minute,
    Second,
    AmPm,
    Fraction,
    ZoneName,
    Offset,
}

impl Token {
    fn regex(self) -> &'static str {
        match self {
            Token::Year4 => r"(\d{4})",
            Token::Year2 | Token::Hour24 => r"(\d{2})",
            Token::MonthShort | Token::WeekdayShort | Token::ZoneName => r"([A-Za-z]{3})",
            Token::MonthLong | Token::WeekdayLong => r"([A-Za-z]{3,9})",
            Token::Month | Token::Day => r"\s?(\d{1,2})",
            Token::Hour12 | Token::Minute | Token::Second => r"(\d{1,2})",
            Token::AmPm => r"([AaPp][Mm])",
            Token::Fraction => r"(\d{1,9})",
            Token::Offset => r"([+-]\d{2}:?\d{2}|Z)",
        }
    }
}

/// Why a `timestamp_format` cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatError(pub String);

impl std::fmt::Display for FormatError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for FormatError {}

/// A compiled `timestamp_format` in the CloudWatch agent's dialect (not logq's strftime
/// `TimestampFormat`: other tokens, a first match anywhere in the line, a local-time default).
#[derive(Debug, Clone)]
pub struct AgentTimestampFormat {
    regex: Regex,
    tokens: Vec<Token>,
    zone: Zone,
}

impl AgentTimestampFormat {
    pub fn new(format: &str, zone: Zone) -> Result<AgentTimestampFormat, FormatError> {
        let mut pattern = String::new();
        let mut tokens = Vec::new();
        let mut chars = format.chars().peekable();
        while let Some(c) = chars.next() {
            if c != '%' {
                pattern.push_str(&regex::escape(&c.to_string()));
                continue;
            }
            // `%-m`: the unpadded forms read like the padded ones.
            if chars.peek() == Some(&'-') {
                chars.next();
            }
            let token = match chars.next() {
                Some('Y') => Token::Year4,
                Some('y') => Token::Year2,
                Some('b') => Token::MonthShort,
                Some('B') => Token::MonthLong,
                Some('m') => Token::Month,
                Some('d') => Token::Day,
                Some('A') => Token::WeekdayLong,
                Some('a') => Token::WeekdayShort,
                Some('H') => Token::Hour24,
                Some('I') => Token::Hour12,
                Some('M') => Token::Minute,
                Some('S') => Token::Second,
                Some('p') => Token::AmPm,
                Some('f') => Token::Fraction,
                Some('Z') => Token::ZoneName,
                Some('z') => Token::Offset,
                Some('%') => {
                    pattern.push('%');
                    continue;
                }
                Some(other) => {
                    return Err(FormatError(format!(
                        "timestamp_format {format:?}: %{other} is not a token the CloudWatch agent knows \
                         (%Y %y %b %B %m %d %A %a %H %I %M %S %p %f %Z %z)"
                    )))
                }
                None => {
                    return Err(FormatError(format!(
                        "timestamp_format {format:?} ends with a lone %"
                    )))
                }
            };
            pattern.push_str(token.regex());
            tokens.push(token);
        }
        let has = |wanted: &[Token]| tokens.iter().any(|t| wanted.contains(t));
        if !has(&[Token::Hour24, Token::Hour12]) || !has(&[Token::Day]) {
            return Err(FormatError(format!(
                "timestamp_format {format:?} needs at least a day (%d) and an hour (%H or %I)"
            )));
        }
        let regex =
            Regex::new(&pattern).map_err(|e| FormatError(format!("timestamp_format {format:?}: {e}")))?;
        Ok(AgentTimestampFormat { regex, tokens, zone })
    }

    /// The regular expression a `multi_line_start_pattern` of `{timestamp_format}` stands for.
    pub fn regex(&self) -> &Regex {
        &self.regex
    }

    /// The time (epoch ms) of the first match in `message`, as of `now_ms` for formats without a
    /// year; `None` when nothing matches or the match is not a real time.
    pub fn parse(&self, message: &str, now_ms: i64) -> Option<i64> {
        self.parse_span(message, now_ms).map(|(ms, _)| ms)
    }

    /// The time of the first match, and where the match is in `message`.
    pub fn parse_span(&self, message: &str, now_ms: i64) -> Option<(i64, std::ops::Range<usize>)> {
        let caps = self.regex.captures(message)?;
        let span = caps.get(0)?.range();
        let now = Utc.timestamp_millis_opt(now_ms).single()?;
        let (mut year, mut month, mut day) = (None, None, None);
        let (mut hour, mut minute, mut second, mut nanos) = (0u32, 0u32, 0u32, 0u32);
        let (mut pm, mut twelve, mut offset) = (None, false, None);
        for (i, token) in self.tokens.iter().enumerate() {
            let text = caps.get(i + 1)?.as_str();
            let number = || text.trim().parse::<u32>().ok();
            match token {
                Token::Year4 => year = Some(i32::try_from(number()?).ok()?),
                Token::Year2 => year = Some(2000 + i32::try_from(number()?).ok()?),
                Token::MonthShort | Token::MonthLong => month = Some(month_number(text)?),
                Token::Month => month = Some(number()?),
                Token::Day => day = Some(number()?),
                Token::Hour24 => hour = number()?,
                Token::Hour12 => {
                    hour = number()?;
                    twelve = true;
                }
                Token::Minute => minute = number()?,
                Token::Second => second = number()?,
                Token::AmPm => pm = Some(text.eq_ignore_ascii_case("pm")),
                Token::Fraction => {
                    // Digits of a fraction: "5" is 500 ms, "123456" is 123.456 ms.
                    let digits = format!("{text:0<9}");
                    nanos = digits.get(..9)?.parse().ok()?;
                }
                Token::Offset => offset = Some(parse_offset(text)?),
                Token::WeekdayLong | Token::WeekdayShort | Token::ZoneName => {}
            }
        }
        if twelve {
            if hour == 0 || hour > 12 {
                return None;
            }
            hour %= 12;
            if pm == Some(true) {
                hour += 12;
            }
        }
        let month = month.unwrap_or(now.month());
        let day = day?;
        let naive_at = |year: i32| {
            NaiveDate::from_ymd_opt(year, month, day)?.and_hms_nano_opt(hour, minute, second, nanos)
        };
        let to_ms = |naive: chrono::NaiveDateTime| -> Option<i64> {
            match (offset, self.zone) {
                (Some(seconds), _) => Some(naive.and_utc().timestamp_millis() - i64::from(seconds) * 1000),
                (None, Zone::Utc) => Some(naive.and_utc().timestamp_millis()),
                (None, Zone::Local) => Local
                    .from_local_datetime(&naive)
                    .earliest()
                    .map(|t| t.timestamp_millis()),
            }
        };
        if let Some(year) = year {
            return Some((to_ms(naive_at(year)?)?, span));
        }
        let this_year = to_ms(naive_at(now.year())?)?;
        let ms = if this_year > now_ms + 30 * 86_400_000 {
            to_ms(naive_at(now.year() - 1)?)?
        } else {
            this_year
        };
        Some((ms, span))
    }
}

fn month_number(name: &str) -> Option<u32> {
    const MONTHS: [&str; 12] = [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ];
    let lower = name.to_ascii_lowercase();
    let index = MONTHS.iter().position(|m| {
        if lower.len() == 3 {
            m.starts_with(&lower)
        } else {
            *m == lower
        }
    })?;
    u32::try_from(index + 1).ok()
}

/// `+0200`, `-07:00` or `Z`, as seconds east of UTC.
fn parse_offset(text: &str) -> Option<i32> {
    i32::try_from(skywatch_time::offset::parse_utc_offset(text)?).ok()
}

#[cfg(test)]
mod tests {
    use super::{AgentTimestampFormat, Zone};

    /// 2026-11-28T12:00:00Z.
    const NOW: i64 = 1_795_867_200_000;

    fn utc(format: &str, message: &str) -> Option<i64> {
        AgentTimestampFormat::new(format, Zone::Utc)
            .unwrap()
            .parse(message, NOW)
    }

    #[test]
    fn the_common_formats_read_the_first_match_anywhere() {
        assert_eq!(
            utc("%Y-%m-%d %H:%M:%S.%f", "INFO 2026-11-28 01:02:03.456 started"),
            Some(1_795_827_723_456)
        );
        assert_eq!(
            utc("%Y-%m-%dT%H:%M:%S%z", "at 2026-11-28T03:02:03+0200"),
            Some(1_795_827_723_000)
        );
        assert_eq!(
            utc("%Y-%m-%dT%H:%M:%S%z", "at 2026-11-28T03:02:03+02:00"),
            Some(1_795_827_723_000)
        );
        assert_eq!(
            utc(
                "%d/%b/%Y:%H:%M:%S %z",
                r#"1.2.3.4 - - [28/Nov/2026:01:02:03 +0000] "GET /""#
            ),
            Some(1_795_827_723_000)
        );
        assert_eq!(
            utc("%d %B %Y %I:%M %p", "28 November 2026 1:02 PM"),
            Some(1_795_870_920_000)
        );
        assert_eq!(
            utc("%d %B %Y %I:%M %p", "28 November 2026 12:02 am"),
            Some(1_795_824_120_000)
        );
        assert_eq!(
            utc("%Y-%m-%d %H:%M:%S,%f", "2026-11-28 01:02:03,5"),
            Some(1_795_827_723_500)
        );
        assert_eq!(utc("%Y-%m-%d %H:%M:%S", "no time here"), None);
        assert_eq!(
            utc("%Y-%m-%d %H:%M:%S", "2026-02-30 01:02:03"),
            None,
            "not a real date"
        );
    }

    #[test]
    fn formats_without_a_year_take_this_year_or_last_when_that_is_far_ahead() {
        // syslog style, read on 2026-11-28.
        assert_eq!(
            utc("%b %d %H:%M:%S", "Nov 28 01:02:03 host sshd[1]:"),
            Some(1_795_827_723_000)
        );
        assert_eq!(
            utc("%b %-d %H:%M:%S", "Nov  2 01:02:03 host"),
            Some(1_793_581_323_000)
        );
        // December 31 read in late November: 33 days ahead → last year.
        assert_eq!(utc("%b %d %H:%M:%S", "Dec 31 01:02:03"), Some(1_767_142_923_000));
    }

    #[test]
    fn bad_formats_say_what_is_wrong() {
        let err = AgentTimestampFormat::new("%Y-%Q", Zone::Utc)
            .unwrap_err()
            .to_string();
        assert!(err.contains("%Q is not a token"), "{err}");
        let err = AgentTimestampFormat::new("%Y-%m", Zone::Utc)
            .unwrap_err()
            .to_string();
        assert!(err.contains("needs at least a day"), "{err}");
        assert!(AgentTimestampFormat::new("%H:%M %d%", Zone::Utc)
            .unwrap_err()
            .to_string()
            .contains("lone %"));
    }

    #[test]
    fn special_characters_in_formats_are_literal() {
        assert_eq!(
            utc("[%d.%m.%Y %H:%M:%S]", "x [28.11.2026 01:02:03] y"),
            Some(1_795_827_723_000)
        );
        assert_eq!(
            utc("[%d.%m.%Y %H:%M:%S]", "x 28.11.2026 01:02:03 y"),
            None,
            "brackets must be there"
        );
    }
}

//! From one file's lines to log events, in the order the CloudWatch agent applies its rules:
//! lines are joined into multi-line events; the time is taken from the message with
//! `timestamp_format` (an event whose time cannot be read takes the previous event's, as the
//! CloudWatch agent does, and is counted; with no format, the time it was read); `filters` drop
//! events (which still count as done for the checkpoint: they were read, on purpose not sent);
//! redaction rewrites what is left; overlong messages are split or truncated.

use std::time::Instant;

use super::batch::{fit, LongLines};
use super::filters::{passes, redact, Filter, Redaction};
use super::multiline::{Assembled, Multiline};
use super::reader::Line;
use super::timestamp_format::AgentTimestampFormat;
use super::{AckToken, LogEvent};
use skywatch_aws::limits::MAX_LOG_EVENT_BYTES;

/// What becomes of an assembled event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Built {
    /// To send.
    Send(LogEvent),
    /// Filtered out: nothing to send, but the checkpoint may pass it.
    Skip(AckToken),
}

/// Counts of what the rules did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EventCounts {
    pub events: u64,
    pub filtered: u64,
    /// Events whose time could not be read from the message.
    pub without_timestamp: u64,
    /// Replacements made by redaction rules.
    pub redactions: u64,
    /// Messages split or truncated for length.
    pub cut: u64,
}

/// The rules of one collected file.
#[derive(Debug, Clone)]
pub struct EventRules {
    pub timestamp: Option<AgentTimestampFormat>,
    /// Remove the matched timestamp (and the white space after it) from the message.
    pub trim_timestamp: bool,
    pub filters: Vec<Filter>,
    pub redactions: Vec<Redaction>,
    pub long_lines: LongLines,
}

/// Builds one file's events.
#[derive(Debug)]
pub struct EventBuilder {
    file: u64,
    rules: EventRules,
    multiline: Multiline,
    last_timestamp: Option<i64>,
    pub counts: EventCounts,
}

impl EventBuilder {
    pub fn new(file: u64, rules: EventRules, multiline: Multiline) -> EventBuilder {
        EventBuilder {
            file,
            rules,
            multiline,
            last_timestamp: None,
            counts: EventCounts::default(),
        }
    }

    /// Takes one line; returns what the event it completed (if any) became.
    pub fn push(&mut self, line: Line, now: Instant, now_ms: i64) -> Vec<Built> {
        match self.multiline.push(line, now) {
            Some(done) => self.build(done, now, now_ms),
            None => Vec::new(),
        }
    }

    /// The waiting event, once idle past the timeout (or at once with `force`).
    pub fn flush(&mut self, now: Instant, now_ms: i64, force: bool) -> Vec<Built> {
        match self.multiline.flush(now, force) {
            Some(done) => self.build(done, now, now_ms),
            None => Vec::new(),
        }
    }

    fn build(&mut self, event: Assembled, now: Instant, now_ms: i64) -> Vec<Built> {
        self.counts.events += 1;
        // When the event's first line was read, on the wall clock: its time when it has none
        // of its own.
        let read_ms = now_ms - now.saturating_duration_since(event.first_read).as_millis() as i64;
        let token = AckToken {
            file: self.file,
            end_offset: event.end_offset,
        };
        let mut text = event.text;
        let parsed = self
            .rules
            .timestamp
            .as_ref()
            .map(|format| format.parse_span(&text, read_ms));
        let timestamp_ms = match parsed {
            None => read_ms,
            Some(Some((ms, span))) => {
                self.last_timestamp = Some(ms);
                if self.rules.trim_timestamp {
                    let rest = text[span.end..].trim_start();
                    text = format!("{}{rest}", &text[..span.start]);
                }
                ms
            }
            Some(None) => {
                self.counts.without_timestamp += 1;
                self.last_timestamp.unwrap_or(read_ms)
            }
        };
        let event = Assembled { text, ..event };
        // An empty event (a blank line) is nothing to send: PutLogEvents refuses empty messages.
        if event.text.is_empty() || !passes(&self.rules.filters, &event.text) {
            self.counts.filtered += 1;
            return vec![Built::Skip(token)];
        }
        let message = if self.rules.redactions.is_empty() {
            event.text
        } else {
            let (text, n) = redact(&self.rules.redactions, &event.text);
            self.counts.redactions += n as u64;
            text
        };
        let pieces = fit(
            LogEvent {
                timestamp_ms,
                message,
                token,
            },
            self.rules.long_lines,
            MAX_LOG_EVENT_BYTES,
        );
        if pieces.len() > 1
            || pieces
                .first()
                .is_some_and(|p| p.message.ends_with(super::batch::TRUNCATED_SUFFIX))
        {
            self.counts.cut += 1;
        }
        pieces.into_iter().map(Built::Send).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::{Built, EventBuilder, EventRules};
    use crate::logs::batch::LongLines;
    use crate::logs::filters::{builtin, Filter};
    use crate::logs::multiline::{Multiline, DEFAULT_FLUSH_TIMEOUT, DEFAULT_START_PATTERN};
    use crate::logs::reader::Line;
    use crate::logs::timestamp_format::{AgentTimestampFormat, Zone};
    use regex::Regex;
    use std::time::{Duration, Instant};

    fn line(text: &str, end_offset: u64) -> Line {
        Line::whole(text, end_offset)
    }

    fn builder(filters: Vec<Filter>) -> EventBuilder {
        EventBuilder::new(
            9,
            EventRules {
                timestamp: Some(AgentTimestampFormat::new("%Y-%m-%d %H:%M:%S", Zone::Utc).unwrap()),
                trim_timestamp: false,
                filters,
                redactions: vec![builtin("email").unwrap()],
                long_lines: LongLines::Split,
            },
            Multiline::new(
                Regex::new(DEFAULT_START_PATTERN).unwrap(),
                DEFAULT_FLUSH_TIMEOUT,
                1 << 20,
            ),
        )
    }

    fn sent(built: &[Built]) -> Vec<(i64, &str, u64)> {
        built
            .iter()
            .filter_map(|b| match b {
                Built::Send(e) => Some((e.timestamp_ms, e.message.as_str(), e.token.end_offset)),
                Built::Skip(_) => None,
            })
            .collect()
    }

    #[test]
    fn an_event_without_a_time_format_takes_the_time_its_first_line_was_read() {
        let mut b = builder(Vec::new());
        b.rules.timestamp = None;
        let t = Instant::now();
        let now = 1_795_867_200_000;
        assert!(b.push(line("first", 6), t, now).is_empty());
        // The next line, read 2 s later, completes the first event; the idle timeout completes
        // the second 5 s after that. Each keeps the time its own line was read.
        let first = b.push(line("second", 13), t + Duration::from_secs(2), now + 2_000);
        assert_eq!(sent(&first), vec![(now, "first", 6)]);
        let second = b.flush(t + Duration::from_secs(7), now + 7_000, false);
        assert_eq!(sent(&second), vec![(now + 2_000, "second", 13)]);
    }

    #[test]
    fn events_take_their_time_inherit_it_when_unreadable_and_are_redacted() {
        let mut b = builder(Vec::new());
        let t = Instant::now();
        let now = 1_795_867_200_000;
        assert!(b
            .push(
                line("2026-11-28 01:02:03 ERROR mail jane@example.com", 48),
                t,
                now
            )
            .is_empty());
        assert!(b.push(line("  at frame", 59), t, now).is_empty());
        let first = b.push(line("no time on this one", 79), t, now);
        assert_eq!(
            sent(&first),
            [(
                1_795_827_723_000,
                "2026-11-28 01:02:03 ERROR mail [REDACTED:email]\n  at frame",
                59
            )]
        );
        let second = b.flush(t, now, true);
        assert_eq!(
            sent(&second),
            [(1_795_827_723_000, "no time on this one", 79)],
            "the previous event's time"
        );
        assert_eq!(
            (b.counts.events, b.counts.without_timestamp, b.counts.redactions),
            (2, 1, 1)
        );
    }

    #[test]
    fn filtered_events_are_not_sent_but_can_be_acknowledged() {
        let mut b = builder(vec![Filter::Exclude(Regex::new("healthcheck").unwrap())]);
        let t = Instant::now();
        b.push(line("2026-11-28 01:02:03 GET /healthcheck", 37), t, 0);
        let built = b.push(line("2026-11-28 01:02:04 GET /orders", 69), t, 0);
        assert_eq!(
            built,
            [Built::Skip(crate::logs::AckToken {
                file: 9,
                end_offset: 37
            })]
        );
        assert_eq!(b.counts.filtered, 1);
        assert_eq!(sent(&b.flush(t, 0, true)).len(), 1);
    }

    #[test]
    fn trim_timestamp_takes_the_time_out_of_the_message() {
        let mut b = builder(Vec::new());
        b.rules.trim_timestamp = true;
        let t = Instant::now();
        b.push(line("2026-11-28 01:02:03   ERROR disk full", 37), t, 0);
        let built = b.flush(t, 0, true);
        assert_eq!(sent(&built), [(1_795_827_723_000, "ERROR disk full", 37)]);
        // No timestamp in the line: nothing is trimmed.
        b.push(line("[worker] no time here", 59), t, 0);
        assert_eq!(sent(&b.flush(t, 0, true))[0].1, "[worker] no time here");
    }
}

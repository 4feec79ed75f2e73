//! Cutting one stream's events into PutLogEvents batches that the service accepts whole:
//! at most 1,048,576 bytes counting 26 bytes per event, at most 10,000 events, sorted by time
//! (stably: lines of one second keep their order), spanning at most 24 hours. Messages longer
//! than an event may be are split into several events (or truncated, as configured), on a
//! UTF-8 character boundary. Events outside the service's time window (older than 14 days,
//! more than 2 hours ahead) are set aside and counted before anything is sent.

use super::LogEvent;
use crate::request_split::{split_requests, RequestLimits};
use skywatch_aws::limits::{
    LOG_EVENT_OVERHEAD_BYTES, MAX_LOG_BATCH_BYTES, MAX_LOG_BATCH_SPAN_MS, MAX_LOG_EVENTS_PER_BATCH,
    MAX_LOG_EVENT_AGE_MS, MAX_LOG_EVENT_AHEAD_MS, MAX_LOG_EVENT_BYTES,
};

/// What happens to a message longer than an event may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LongLines {
    /// Several events, each at most the limit, in order (nothing is lost).
    #[default]
    Split,
    /// One event, cut to the limit with [`TRUNCATED_SUFFIX`] at its end.
    Truncate,
}

/// Marks a truncated message (the CloudWatch agent's marker).
pub const TRUNCATED_SUFFIX: &str = "[Truncated...]";

/// The longest prefix of `text` of at most `max` bytes that ends on a character boundary.
fn cut(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// `event` as one or more events of at most `max_bytes` each. Every piece keeps the event's
/// time; only the last keeps its acknowledgement position, so a checkpoint never lands inside
/// a line.
pub fn fit(event: LogEvent, mode: LongLines, max_bytes: usize) -> Vec<LogEvent> {
    let max_bytes = max_bytes.clamp(TRUNCATED_SUFFIX.len() + 4, MAX_LOG_EVENT_BYTES);
    if event.message.len() <= max_bytes {
        return vec![event];
    }
    match mode {
        LongLines::Truncate => {
            let kept = cut(&event.message, max_bytes - TRUNCATED_SUFFIX.len());
            vec![LogEvent {
                message: format!("{kept}{TRUNCATED_SUFFIX}"),
                ..event
            }]
        }
        LongLines::Split => {
            let mut pieces = Vec::new();
            let mut rest = event.message.as_str();
            while !rest.is_empty() {
                let piece = cut(rest, max_bytes);
                // A character longer than the limit cannot happen (max_bytes ≥ 4).
                pieces.push(piece.to_string());
                rest = &rest[piece.len()..];
            }
            let count = pieces.len();
            pieces
                .into_iter()
                .enumerate()
                .map(|(i, message)| LogEvent {
                    timestamp_ms: event.timestamp_ms,
                    message,
                    token: if i + 1 == count {
                        event.token
                    } else {
                        super::AckToken {
                            end_offset: 0,
                            ..event.token
                        }
                    },
                })
                .collect()
        }
    }
}

/// Why an event was not sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum OutOfWindow {
    /// More than 14 days old.
    TooOld,
    /// More than 2 hours ahead.
    TooNew,
}

/// Splits `events` into those the service can take at `now_ms` and those it cannot (with why).
pub fn within_window(events: Vec<LogEvent>, now_ms: i64) -> (Vec<LogEvent>, Vec<(LogEvent, OutOfWindow)>) {
    let mut ok = Vec::with_capacity(events.len());
    let mut out = Vec::new();
    for e in events {
        if e.timestamp_ms < now_ms - MAX_LOG_EVENT_AGE_MS {
            out.push((e, OutOfWindow::TooOld));
        } else if e.timestamp_ms > now_ms + MAX_LOG_EVENT_AHEAD_MS {
            out.push((e, OutOfWindow::TooNew));
        } else {
            ok.push(e);
        }
    }
    (ok, out)
}

/// Bytes an event counts for in a batch.
pub fn event_bytes(e: &LogEvent) -> usize {
    e.message.len() + LOG_EVENT_OVERHEAD_BYTES
}

/// `events` (of one stream, each already [`fit`]) as batches the service accepts whole:
/// sorted by time (stably), each within the byte, count and 24-hour limits, in time order.
pub fn batches(mut events: Vec<LogEvent>) -> Vec<Vec<LogEvent>> {
    events.sort_by_key(|e| e.timestamp_ms);
    let limits = RequestLimits {
        max_items: MAX_LOG_EVENTS_PER_BATCH,
        max_bytes: MAX_LOG_BATCH_BYTES,
    };
    split_requests(events, limits, event_bytes, |first, e| {
        e.timestamp_ms - first.timestamp_ms > MAX_LOG_BATCH_SPAN_MS
    })
}

#[cfg(test)]
mod tests {
    use super::{batches, event_bytes, fit, within_window, LongLines, OutOfWindow, TRUNCATED_SUFFIX};
    use crate::logs::{AckToken, LogEvent};
    use skywatch_aws::limits::{
        MAX_LOG_BATCH_BYTES, MAX_LOG_BATCH_SPAN_MS, MAX_LOG_EVENTS_PER_BATCH, MAX_LOG_EVENT_AGE_MS,
        MAX_LOG_EVENT_AHEAD_MS, MAX_LOG_EVENT_BYTES,
    };

    fn event(timestamp_ms: i64, message: &str, end_offset: u64) -> LogEvent {
        LogEvent {
            timestamp_ms,
            message: message.to_string(),
            token: AckToken { file: 1, end_offset },
        }
    }

    #[test]
    fn batches_keep_to_the_event_count() {
        let events: Vec<LogEvent> = (0..25_000).map(|i| event(1_000, "x", i)).collect();
        let b = batches(events);
        let sizes: Vec<usize> = b.iter().map(Vec::len).collect();
        assert_eq!(sizes, [MAX_LOG_EVENTS_PER_BATCH, MAX_LOG_EVENTS_PER_BATCH, 5_000]);
    }

    #[test]
    fn batches_keep_to_the_bytes_counting_26_per_event() {
        // 1000-byte messages count 1026: 1022 fit in 1,048,576 (1,048,572), 1023 do not.
        let message = "m".repeat(1000);
        let events: Vec<LogEvent> = (0..2_100).map(|i| event(1_000, &message, i)).collect();
        let b = batches(events);
        assert_eq!(b[0].len(), 1022);
        for batch in &b {
            assert!(batch.iter().map(event_bytes).sum::<usize>() <= MAX_LOG_BATCH_BYTES);
        }
        assert_eq!(b.iter().map(Vec::len).sum::<usize>(), 2_100);
    }

    #[test]
    fn batches_are_sorted_stably_and_span_at_most_a_day() {
        let day = MAX_LOG_BATCH_SPAN_MS;
        let events = vec![
            event(5_000, "b", 2),
            event(1_000, "a", 1),
            event(5_000, "c", 3),
            event(1_000 + day, "edge of the day", 4),
            event(1_001 + day, "next day", 5),
        ];
        let b = batches(events);
        let texts: Vec<Vec<&str>> = b
            .iter()
            .map(|x| x.iter().map(|e| e.message.as_str()).collect())
            .collect();
        assert_eq!(
            texts,
            vec![vec!["a", "b", "c", "edge of the day"], vec!["next day"]]
        );
    }

    #[test]
    fn a_long_line_splits_on_character_boundaries_and_only_its_last_piece_acknowledges() {
        let line = "é".repeat(10); // 20 bytes, 2 per character
        let pieces = fit(event(7, &line, 99), LongLines::Split, 17);
        // The limit is raised to the smallest allowed (18); 18 bytes hold nine characters.
        let lengths: Vec<usize> = pieces.iter().map(|p| p.message.len()).collect();
        assert_eq!(lengths, [18, 2]);
        assert_eq!(
            pieces.iter().map(|p| p.message.as_str()).collect::<String>(),
            line
        );
        let line = format!("a{}", "é".repeat(10)); // a boundary falls mid-character at 18
        let pieces = fit(event(7, &line, 99), LongLines::Split, 18);
        let lengths: Vec<usize> = pieces.iter().map(|p| p.message.len()).collect();
        assert_eq!(lengths, [17, 4]);
        assert_eq!(
            pieces.iter().map(|p| p.message.as_str()).collect::<String>(),
            line
        );
        let long = "x".repeat(MAX_LOG_EVENT_BYTES * 2 + 10);
        let pieces = fit(event(7, &long, 99), LongLines::Split, usize::MAX);
        assert_eq!(pieces.len(), 3);
        assert!(pieces
            .iter()
            .all(|p| p.message.len() <= MAX_LOG_EVENT_BYTES && p.timestamp_ms == 7));
        let offsets: Vec<u64> = pieces.iter().map(|p| p.token.end_offset).collect();
        assert_eq!(offsets, [0, 0, 99]);
    }

    #[test]
    fn a_long_line_truncates_with_the_marker_when_asked() {
        let pieces = fit(event(7, &"y".repeat(100), 5), LongLines::Truncate, 40);
        assert_eq!(pieces.len(), 1);
        assert_eq!(pieces[0].message.len(), 40);
        assert!(pieces[0].message.ends_with(TRUNCATED_SUFFIX));
        assert_eq!(pieces[0].token.end_offset, 5);
        let short = fit(event(7, "short", 5), LongLines::Truncate, 40);
        assert_eq!(short[0].message, "short");
    }

    #[test]
    fn events_outside_the_services_window_are_set_aside_with_the_reason() {
        let now = 100 * MAX_LOG_EVENT_AGE_MS;
        let (ok, out) = within_window(
            vec![
                event(now - MAX_LOG_EVENT_AGE_MS - 1, "old", 1),
                event(now - MAX_LOG_EVENT_AGE_MS, "oldest accepted", 2),
                event(now + MAX_LOG_EVENT_AHEAD_MS, "newest accepted", 3),
                event(now + MAX_LOG_EVENT_AHEAD_MS + 1, "ahead", 4),
            ],
            now,
        );
        let kept: Vec<&str> = ok.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(kept, ["oldest accepted", "newest accepted"]);
        let set_aside: Vec<(&str, OutOfWindow)> =
            out.iter().map(|(e, why)| (e.message.as_str(), *why)).collect();
        assert_eq!(
            set_aside,
            [("old", OutOfWindow::TooOld), ("ahead", OutOfWindow::TooNew)]
        );
    }
}

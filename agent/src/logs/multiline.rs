//! Joining lines into events, as the CloudWatch agent does (multi-line is always on): a line
//! that matches the start pattern (default `^[\S]`: not indented) begins an event, other lines
//! join the event before them. An event is complete when the next one starts, when it has been
//! idle for the flush timeout (5 s by default), or when it reaches the size limit.

use std::time::{Duration, Instant};

use regex::Regex;

use super::reader::Line;

/// The CloudWatch agent's default start pattern.
pub const DEFAULT_START_PATTERN: &str = r"^[\S]";
/// How long an event waits for more lines.
pub const DEFAULT_FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// A complete event: its lines joined with `\n`, the offset just past its last line, and when
/// its first line was read (an event without a time of its own takes that one, not the moment
/// the next line or the timeout completed it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assembled {
    pub text: String,
    pub end_offset: u64,
    pub first_read: Instant,
}

/// Assembles one file's lines.
#[derive(Debug)]
pub struct Multiline {
    start: Regex,
    timeout: Duration,
    max_bytes: usize,
    current: Option<(Assembled, Instant)>,
}

impl Multiline {
    pub fn new(start: Regex, timeout: Duration, max_bytes: usize) -> Multiline {
        Multiline {
            start,
            timeout,
            max_bytes,
            current: None,
        }
    }

    /// Takes one line; returns the event it completed, if any.
    pub fn push(&mut self, line: Line, now: Instant) -> Option<Assembled> {
        let starts = if self.start.as_str() == DEFAULT_START_PATTERN {
            // The default pattern without the regex engine: a first character that is not
            // white space (`\S` is Unicode's White_Space, as `char::is_whitespace`).
            line.text.chars().next().is_some_and(|c| !c.is_whitespace())
        } else {
            self.start.is_match(&line.text)
        };
        match &mut self.current {
            Some((event, touched)) if !starts && event.text.len() + 1 + line.text.len() <= self.max_bytes => {
                event.text.push('\n');
                event.text.push_str(&line.text);
                event.end_offset = line.end_offset;
                *touched = now;
                None
            }
            _ => {
                let done = self.current.take().map(|(event, _)| event);
                self.current = Some((
                    Assembled {
                        text: line.text,
                        end_offset: line.end_offset,
                        first_read: now,
                    },
                    now,
                ));
                done
            }
        }
    }

    /// The waiting event, if it has been idle past the timeout (or `force`).
    pub fn flush(&mut self, now: Instant, force: bool) -> Option<Assembled> {
        match &self.current {
            Some((_, touched)) if force || now.duration_since(*touched) >= self.timeout => {
                self.current.take().map(|(event, _)| event)
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Multiline, DEFAULT_START_PATTERN};
    use crate::logs::reader::Line;
    use regex::Regex;
    use std::time::{Duration, Instant};

    fn line(text: &str, end_offset: u64) -> Line {
        Line::whole(text, end_offset)
    }

    #[test]
    fn indented_lines_join_the_event_before_them() {
        let mut m = Multiline::new(
            Regex::new(DEFAULT_START_PATTERN).unwrap(),
            Duration::from_secs(5),
            1 << 20,
        );
        let t = Instant::now();
        assert_eq!(m.push(line("Exception in main", 18), t), None);
        assert_eq!(m.push(line("    at a.b(C.java:1)", 39), t), None);
        let done = m.push(line("next event", 50), t).unwrap();
        assert_eq!(done.text, "Exception in main\n    at a.b(C.java:1)");
        assert_eq!(done.end_offset, 39);
        assert_eq!(
            m.flush(t + Duration::from_secs(4), false),
            None,
            "not idle long enough"
        );
        let last = m.flush(t + Duration::from_secs(5), false).unwrap();
        assert_eq!((last.text.as_str(), last.end_offset), ("next event", 50));
        assert_eq!(m.flush(t, true), None);
    }

    #[test]
    fn a_timestamp_start_pattern_and_the_size_limit() {
        let mut m = Multiline::new(
            Regex::new(r"^\d{4}-\d{2}-\d{2}").unwrap(),
            Duration::from_secs(5),
            20,
        );
        let t = Instant::now();
        assert_eq!(m.push(line("2026-11-28 start", 17), t), None);
        // Joining would pass 20 bytes: the event is complete and the line starts another.
        let done = m.push(line("continued", 27), t).unwrap();
        assert_eq!(done.text, "2026-11-28 start");
        assert_eq!(m.flush(t, true).unwrap().text, "continued");
        // A file starting with continuation lines: they form an event of their own.
        assert_eq!(m.push(line("  orphan", 9), t), None);
        assert_eq!(m.flush(t, true).unwrap().text, "  orphan");
    }

    #[test]
    fn the_default_patterns_shortcut_agrees_with_the_regex() {
        let regex = Regex::new(DEFAULT_START_PATTERN).unwrap();
        for text in [
            "",
            "a",
            " a",
            "\ta",
            "\u{2003}x",
            "\u{a0}x",
            "é",
            "{\"a\":1}",
            "\r",
        ] {
            let mut m = Multiline::new(regex.clone(), Duration::from_secs(5), 1 << 20);
            let t = Instant::now();
            m.push(line("first", 5), t);
            let started = m.push(line(text, 9), t).is_some();
            assert_eq!(started, regex.is_match(text), "{text:?}");
        }
    }
}

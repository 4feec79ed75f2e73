//! Splitting a byte stream into lines with memchr, over one growing buffer: no allocation per
//! line, and a line of any length (bounded by memory) is still one line.

use std::io::{self, Read};

/// The buffer size a reader starts with; it doubles for lines longer than it.
const INITIAL_BUFFER_BYTES: usize = 1 << 20;

/// One line as a [`NextLine`] hands it out.
#[derive(Debug, Clone, Copy)]
pub struct Line<'b> {
    /// The line without its `\n` (and a `\r` before it, and a byte-order mark at its start).
    pub bytes: &'b [u8],
    /// The bytes it took, newline included.
    pub consumed: usize,
    /// Whether the line is known to be valid UTF-8 (checked with the lines around it); false
    /// when not known either way.
    pub known_utf8: bool,
}

/// Something that hands out lines: a reader over a stream, or bytes in memory.
pub trait NextLine {
    /// The next line, or `None` at the end. The last line counts even without a final newline.
    fn next_line(&mut self) -> io::Result<Option<Line<'_>>>;
}

pub struct LineReader<R> {
    reader: R,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    eof: bool,
    /// Whether to check whole blocks of lines for UTF-8 as they are read.
    check_utf8: bool,
    /// The bytes before this offset in `buf` are whole lines known to be valid UTF-8.
    valid_end: usize,
}

impl<R: Read> LineReader<R> {
    pub fn new(reader: R) -> LineReader<R> {
        LineReader::with_capacity(reader, INITIAL_BUFFER_BYTES)
    }

    /// A reader whose buffer starts at `bytes` (it still grows for longer lines).
    pub fn with_capacity(reader: R, bytes: usize) -> LineReader<R> {
        LineReader::with_buffer(reader, vec![0; bytes.max(1)])
    }

    /// A reader that reads into `buf` (another reader's, from [`LineReader::into_buffer`]):
    /// its memory is reused, not allocated and faulted in again.
    pub fn with_buffer(reader: R, mut buf: Vec<u8>) -> LineReader<R> {
        // A buffer grown for one huge line is not kept for the lines after it.
        if buf.is_empty() || buf.len() > 8 * INITIAL_BUFFER_BYTES {
            buf = vec![0; INITIAL_BUFFER_BYTES];
        }
        LineReader {
            reader,
            buf,
            start: 0,
            end: 0,
            eof: false,
            check_utf8: false,
            valid_end: 0,
        }
    }

    /// With `check`, checks the lines for UTF-8 a buffer at a time (one SIMD pass over a
    /// megabyte costs less than a pass per line), so [`Line::known_utf8`] is set for valid lines.
    #[must_use]
    pub fn checking_utf8(mut self, check: bool) -> LineReader<R> {
        self.check_utf8 = check;
        self
    }

    /// The buffer, for the next reader.
    pub fn into_buffer(self) -> Vec<u8> {
        self.buf
    }

    fn refill(&mut self) -> io::Result<()> {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.valid_end = self.valid_end.saturating_sub(self.start);
            self.start = 0;
        }
        if self.end == self.buf.len() {
            let grown = self.buf.len() * 2;
            self.buf.resize(grown, 0);
        }
        loop {
            match self.reader.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(());
                }
                Ok(n) => {
                    self.end += n;
                    self.check_new_lines();
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Checks the whole lines not yet handed out, in one pass.
    fn check_new_lines(&mut self) {
        if !self.check_utf8 {
            return;
        }
        let from = self.valid_end.max(self.start);
        let Some(last) = memchr::memrchr(b'\n', &self.buf[from..self.end]) else {
            return;
        };
        let complete = from + last + 1;
        // Valid text cut after a `\n` (ASCII) leaves valid lines on both sides.
        if simdutf8::basic::from_utf8(&self.buf[from..complete]).is_ok() {
            self.valid_end = complete;
        }
    }
}

impl<R: Read> NextLine for LineReader<R> {
    fn next_line(&mut self) -> io::Result<Option<Line<'_>>> {
        loop {
            if let Some(i) = memchr::memchr(b'\n', &self.buf[self.start..self.end]) {
                let line_start = self.start;
                let line_end = self.start + i;
                self.start = line_end + 1;
                return Ok(Some(Line {
                    bytes: trim_line(&self.buf[line_start..line_end]),
                    consumed: i + 1,
                    known_utf8: self.start <= self.valid_end,
                }));
            }
            if self.eof {
                if self.start == self.end {
                    return Ok(None);
                }
                let (line_start, line_end) = (self.start, self.end);
                self.start = self.end;
                return Ok(Some(Line {
                    bytes: trim_line(&self.buf[line_start..line_end]),
                    consumed: line_end - line_start,
                    known_utf8: false,
                }));
            }
            self.refill()?;
        }
    }
}

/// The lines of bytes already in memory (a chunk of a stream), read in place.
pub struct SliceLines<'b> {
    rest: &'b [u8],
    /// Whether all of `rest` is valid UTF-8 (checked when asked for).
    known_utf8: bool,
}

impl<'b> SliceLines<'b> {
    pub fn new(bytes: &'b [u8]) -> SliceLines<'b> {
        SliceLines {
            rest: bytes,
            known_utf8: false,
        }
    }

    /// With `check`, checks all the lines for UTF-8 in one pass, as
    /// [`LineReader::checking_utf8`] does.
    #[must_use]
    pub fn checking_utf8(mut self, check: bool) -> SliceLines<'b> {
        self.known_utf8 = check && simdutf8::basic::from_utf8(self.rest).is_ok();
        self
    }
}

impl NextLine for SliceLines<'_> {
    fn next_line(&mut self) -> io::Result<Option<Line<'_>>> {
        if self.rest.is_empty() {
            return Ok(None);
        }
        let (bytes, consumed) = match memchr::memchr(b'\n', self.rest) {
            Some(i) => (&self.rest[..i], i + 1),
            None => (self.rest, self.rest.len()),
        };
        self.rest = &self.rest[consumed..];
        Ok(Some(Line {
            bytes: trim_line(bytes),
            consumed,
            known_utf8: self.known_utf8,
        }))
    }
}

/// A line without a `\r` before its newline and without a UTF-8 byte-order mark before its
/// first byte (editors on Windows start files with one; it is no part of the event, and JSON
/// after it must still read as JSON). Every reader goes through here, so every path agrees.
/// A line as every path reads it: without its `\r`, and without a byte-order mark in front.
pub fn trim_line(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::{LineReader, NextLine, SliceLines};

    /// Every line, and whether it was known to be UTF-8, from a reader (checking or not) and
    /// in place: all agree on the lines.
    fn lines_known(input: &[u8]) -> Vec<(Vec<u8>, bool)> {
        let mut reader = LineReader::with_capacity(input, 16).checking_utf8(true);
        let mut out = Vec::new();
        while let Some(line) = reader.next_line().unwrap() {
            out.push((line.bytes.to_vec(), line.known_utf8));
        }
        let mut unchecked = LineReader::new(input);
        let mut again = Vec::new();
        while let Some(line) = unchecked.next_line().unwrap() {
            assert!(!line.known_utf8);
            again.push(line.bytes.to_vec());
        }
        let mut in_place = SliceLines::new(input);
        let mut in_place_lines = Vec::new();
        while let Some(line) = in_place.next_line().unwrap() {
            in_place_lines.push(line.bytes.to_vec());
        }
        let plain: Vec<Vec<u8>> = out.iter().map(|(l, _)| l.clone()).collect();
        assert_eq!(again, plain);
        assert_eq!(in_place_lines, plain);
        out
    }

    fn lines(input: &[u8]) -> Vec<Vec<u8>> {
        lines_known(input).into_iter().map(|(l, _)| l).collect()
    }

    #[test]
    fn lines_of_checked_blocks_are_known_utf8_and_no_invalid_line_is() {
        let mut input = Vec::new();
        for i in 0..200 {
            match i % 37 {
                5 => input.extend_from_slice(b"bad \xff byte"),
                9 => input.extend_from_slice("caf\u{e9} \u{1f600} ok".as_bytes()),
                _ => input.extend_from_slice(format!("line {i}").as_bytes()),
            }
            input.push(b'\n');
        }
        input.extend_from_slice(b"last, unterminated");
        let lines = lines_known(&input);
        assert_eq!(lines.len(), 201);
        for (line, known) in &lines {
            if *known {
                assert!(std::str::from_utf8(line).is_ok());
            }
        }
        // Most valid lines are vouched for by their block.
        let known = lines.iter().filter(|(_, k)| *k).count();
        assert!(known > 100, "{known}");
        let mut chunk = SliceLines::new(b"a\nb\n").checking_utf8(true);
        assert!(chunk.next_line().unwrap().unwrap().known_utf8);
        let mut bad = SliceLines::new(b"a\n\xff\n").checking_utf8(true);
        assert!(!bad.next_line().unwrap().unwrap().known_utf8);
    }

    #[test]
    fn last_line_without_newline_still_counts_and_crlf_is_trimmed() {
        assert_eq!(
            lines(b"a\r\nb\n\nc"),
            vec![b"a".to_vec(), b"b".to_vec(), b"".to_vec(), b"c".to_vec()]
        );
        assert!(lines(b"").is_empty());
    }

    #[test]
    fn a_line_longer_than_the_buffer_is_one_line() {
        let long = vec![b'x'; super::INITIAL_BUFFER_BYTES * 3 + 7];
        let mut input = long.clone();
        input.extend_from_slice(b"\nshort\n");
        assert_eq!(lines(&input), vec![long, b"short".to_vec()]);
    }
}

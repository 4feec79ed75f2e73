//! Splitting a byte stream into lines with memchr, over one growing buffer: no allocation per
//! line, and a line of any length (bounded by memory) is still one line.

use std::io::{self, Read};

/// The buffer size a reader starts with; it doubles for lines longer than it.
const INITIAL_BUFFER_BYTES: usize = 1 << 20;

pub struct LineReader<R> {
    reader: R,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    eof: bool,
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
        if buf.len() < INITIAL_BUFFER_BYTES || buf.len() > 8 * INITIAL_BUFFER_BYTES {
            buf = vec![0; INITIAL_BUFFER_BYTES];
        }
        LineReader {
            reader,
            buf,
            start: 0,
            end: 0,
            eof: false,
        }
    }

    /// The buffer, for the next reader.
    pub fn into_buffer(self) -> Vec<u8> {
        self.buf
    }

    /// The next line without its `\n` (and without a `\r` before it), or `None` at the end. The
    /// last line counts even without a final newline. The second value is the bytes consumed,
    /// newline included.
    pub fn next_line(&mut self) -> io::Result<Option<(&[u8], usize)>> {
        loop {
            if let Some(i) = memchr::memchr(b'\n', &self.buf[self.start..self.end]) {
                let line_start = self.start;
                let line_end = self.start + i;
                self.start = line_end + 1;
                return Ok(Some((trim_cr(&self.buf[line_start..line_end]), i + 1)));
            }
            if self.eof {
                if self.start == self.end {
                    return Ok(None);
                }
                let (line_start, line_end) = (self.start, self.end);
                self.start = self.end;
                return Ok(Some((
                    trim_cr(&self.buf[line_start..line_end]),
                    line_end - line_start,
                )));
            }
            self.refill()?;
        }
    }

    fn refill(&mut self) -> io::Result<()> {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
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
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

/// Something that hands out lines: a reader over a stream, or bytes in memory.
pub trait NextLine {
    /// The next line without its `\n` (and a `\r` before it), and the bytes it took (newline
    /// included); `None` at the end. The last line counts even without a final newline.
    fn next_line(&mut self) -> io::Result<Option<(&[u8], usize)>>;
}

impl<R: Read> NextLine for LineReader<R> {
    fn next_line(&mut self) -> io::Result<Option<(&[u8], usize)>> {
        LineReader::next_line(self)
    }
}

/// The lines of bytes already in memory (a chunk of a stream), read in place.
pub struct SliceLines<'b> {
    rest: &'b [u8],
}

impl<'b> SliceLines<'b> {
    pub fn new(bytes: &'b [u8]) -> SliceLines<'b> {
        SliceLines { rest: bytes }
    }
}

impl NextLine for SliceLines<'_> {
    fn next_line(&mut self) -> io::Result<Option<(&[u8], usize)>> {
        if self.rest.is_empty() {
            return Ok(None);
        }
        let (line, consumed) = match memchr::memchr(b'\n', self.rest) {
            Some(i) => (&self.rest[..i], i + 1),
            None => (self.rest, self.rest.len()),
        };
        self.rest = &self.rest[consumed..];
        Ok(Some((trim_cr(line), consumed)))
    }
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::{LineReader, NextLine, SliceLines};

    fn lines(input: &[u8]) -> Vec<Vec<u8>> {
        let mut reader = LineReader::new(input);
        let mut out = Vec::new();
        while let Some((line, _)) = reader.next_line().unwrap() {
            out.push(line.to_vec());
        }
        // Read in place, the same lines.
        let mut in_place = SliceLines::new(input);
        let mut again = Vec::new();
        while let Some((line, _)) = in_place.next_line().unwrap() {
            again.push(line.to_vec());
        }
        assert_eq!(again, out);
        out
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

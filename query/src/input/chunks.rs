//! Cutting a stream (stdin, a gzip or zstd file) into chunks of whole lines, so that one thread
//! reads and decodes while workers run the query over the chunks.

use std::io::{self, Read};
use std::time::{Duration, Instant};

/// A chunk holds at least this many bytes unless the stream ends first (or trickles).
pub const CHUNK_BYTES: usize = 4 << 20;
/// Bytes asked of the stream at a time.
const READ_STEP: usize = 1 << 20;
/// How long a chunk waits for more of a slow stream before it goes with the lines it has.
const STREAM_PATIENCE: Duration = Duration::from_millis(250);

/// Whole lines of a stream, with where they start in it.
#[derive(Debug)]
pub struct Chunk {
    /// Offset of the first byte in the (decompressed) stream.
    pub offset: u64,
    pub bytes: Vec<u8>,
    /// Up to `lookback` bytes of whole lines just before this chunk (empty for the first), for
    /// the timestamp that its first lines may inherit.
    pub before: Vec<u8>,
}

pub struct Chunker<R> {
    reader: R,
    /// Bytes read after the last complete line handed out.
    carry: Vec<u8>,
    offset: u64,
    lookback: usize,
    /// The tail of the last chunk handed out.
    before: Vec<u8>,
    eof: bool,
    /// A read error, held back until the whole lines read before it are handed out.
    failure: Option<io::Error>,
    /// The size a chunk reaches before it is cut.
    chunk_bytes: usize,
}

impl<R: Read> Chunker<R> {
    /// `lookback`: how many bytes before each chunk to keep with it (0 for none).
    pub fn new(reader: R, lookback: usize) -> Chunker<R> {
        Chunker {
            reader,
            carry: Vec::new(),
            offset: 0,
            lookback,
            before: Vec::new(),
            eof: false,
            failure: None,
            chunk_bytes: CHUNK_BYTES,
        }
    }

    /// Chunks cut once they reach `bytes` (at least 1) instead of [`CHUNK_BYTES`].
    #[must_use]
    pub fn with_chunk_bytes(mut self, bytes: usize) -> Chunker<R> {
        self.chunk_bytes = bytes.max(1);
        self
    }

    /// The next chunk: whole lines (the last line of the stream may lack its newline), or
    /// `None` at the end. A read error (a truncated or corrupt compressed file) comes after the
    /// whole lines read before it; the line it cut short is dropped.
    pub fn next_chunk(&mut self) -> io::Result<Option<Chunk>> {
        if let Some(e) = self.failure.take() {
            return Err(e);
        }
        let mut buf = std::mem::take(&mut self.carry);
        let mut searched = 0;
        let started = Instant::now();
        let cut = loop {
            // A slow stream (a pipe from a producer that trickles) hands over what it has once
            // a read completes after a while (reads are up to 1 MiB), so its lines are counted
            // (and shown in the progress) as they come rather than 4 MiB at a time.
            let waited = started.elapsed() >= STREAM_PATIENCE && memchr::memchr(b'\n', &buf).is_some();
            if buf.len() >= self.chunk_bytes || self.eof || waited {
                if let Some(i) = memchr::memrchr(b'\n', &buf[searched..]) {
                    break searched + i + 1;
                }
                if self.eof {
                    // After a failure the unfinished line is damage, not a last line.
                    break if self.failure.is_some() { 0 } else { buf.len() };
                }
                // One line longer than a chunk: read on until it ends.
                searched = buf.len();
            }
            // Up to a chunk's worth (at least a block more); `read_to_end` grows the buffer as
            // data comes, so a small input costs a small buffer. On an error the bytes read
            // before it are in `buf`.
            let want = self
                .chunk_bytes
                .saturating_sub(buf.len())
                .max(self.chunk_bytes.min(64 << 10))
                .min(READ_STEP) as u64;
            match (&mut self.reader).take(want).read_to_end(&mut buf) {
                Ok(n) => self.eof = (n as u64) < want,
                Err(e) => {
                    self.failure = Some(e);
                    self.eof = true;
                }
            }
        };
        if self.failure.is_some() {
            buf.truncate(cut);
            if buf.is_empty() {
                return match self.failure.take() {
                    Some(e) => Err(e),
                    None => Ok(None),
                };
            }
        }
        if buf.is_empty() {
            return Ok(None);
        }
        self.carry = buf.split_off(cut);
        let before = std::mem::take(&mut self.before);
        if self.lookback > 0 {
            // The whole lines that start within the stream's last `lookback` bytes, across
            // chunks however small: this chunk, with the last window before it when it is short.
            let joined;
            let (data, data_start): (&[u8], u64) = if buf.len() > self.lookback {
                (&buf, self.offset)
            } else {
                joined = [&before[..], &buf[..]].concat();
                (&joined, self.offset - before.len() as u64)
            };
            let stream_end = self.offset + buf.len() as u64;
            let window = stream_end.saturating_sub(self.lookback as u64);
            let w = usize::try_from(window.saturating_sub(data_start)).unwrap_or(0);
            // `data` starts at a line start; past it, a line starts at `w` when the byte before
            // is a newline, else at the next one.
            let start = if w == 0 {
                0
            } else {
                memchr::memchr(b'\n', &data[w - 1..]).map_or(data.len(), |i| w + i)
            };
            self.before = data[start..].to_vec();
        }
        let chunk = Chunk {
            offset: self.offset,
            bytes: buf,
            before,
        };
        self.offset += chunk.bytes.len() as u64;
        Ok(Some(chunk))
    }
}

#[cfg(test)]
mod tests {
    use super::{Chunker, CHUNK_BYTES};
    use std::io::Read;

    fn lines(count: usize, long_every: usize) -> Vec<u8> {
        let mut data = Vec::new();
        for i in 0..count {
            let filler = if i % long_every == 7 {
                CHUNK_BYTES + 10
            } else {
                i % 300
            };
            data.extend_from_slice(format!("{i} {}\n", "x".repeat(filler)).as_bytes());
        }
        data.extend_from_slice(b"last line without newline");
        data
    }

    #[test]
    fn chunks_are_whole_lines_and_cover_every_byte_in_order() {
        let data = lines(60_000, 25_000);
        let mut chunker = Chunker::new(&data[..], 1000);
        let mut joined = Vec::new();
        let mut previous_tail: Vec<u8> = Vec::new();
        while let Some(chunk) = chunker.next_chunk().unwrap() {
            assert_eq!(chunk.offset, joined.len() as u64);
            assert!(
                joined.is_empty() || joined.ends_with(b"\n"),
                "a chunk starts mid-line"
            );
            assert!(chunk.before.len() <= 1000);
            assert!(previous_tail.ends_with(&chunk.before));
            assert!(chunk.before.is_empty() || chunk.before.ends_with(b"\n"));
            previous_tail.clone_from(&chunk.bytes);
            joined.extend_from_slice(&chunk.bytes);
        }
        assert_eq!(joined, data);
    }

    #[test]
    fn read_errors_are_passed_on() {
        struct Failing;
        impl Read for Failing {
            fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
                Err(std::io::Error::other("disk on fire"))
            }
        }
        let err = Chunker::new(Failing, 0).next_chunk().unwrap_err();
        assert_eq!(err.to_string(), "disk on fire");
    }

    #[test]
    fn whole_lines_before_a_read_error_come_first_and_the_cut_line_is_dropped() {
        /// Gives `data`, then fails.
        struct FailsAfter<'a>(&'a [u8]);
        impl Read for FailsAfter<'_> {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                if self.0.is_empty() {
                    return Err(std::io::Error::other("unexpected end of stream"));
                }
                let n = self.0.len().min(buf.len()).min(1000);
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let data = lines(30_000, usize::MAX);
        let whole = data.len() - b"last line without newline".len();
        let mut chunker = Chunker::new(FailsAfter(&data), 0);
        let mut joined = Vec::new();
        let err = loop {
            match chunker.next_chunk() {
                Ok(Some(chunk)) => joined.extend_from_slice(&chunk.bytes),
                Ok(None) => panic!("the failure was lost"),
                Err(e) => break e,
            }
        };
        assert_eq!(err.to_string(), "unexpected end of stream");
        assert_eq!(joined, data[..whole]);
    }
}

//! Reading a log file from an offset into lines, with bounded memory: complete lines come out
//! with the offset just past them (what a checkpoint may advance to once they are accepted); an
//! unterminated last line waits in a buffer until its newline comes or the caller decides it
//! has waited long enough; a line longer than the limit comes out in pieces. Invalid UTF-8 is
//! replaced (U+FFFD) and counted.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

/// Bytes read from the file per call.
const READ_CHUNK_BYTES: usize = 64 << 10;

/// One line (or piece of an overlong one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// Without its `\n` (and a `\r` before it).
    pub text: String,
    /// The file offset just past this line.
    pub end_offset: u64,
    /// A piece of a line longer than the limit (more of it follows).
    pub piece: bool,
}

impl Line {
    /// A whole line ending at `end_offset` (for tests of what comes after the reader).
    #[cfg(test)]
    pub(crate) fn whole(text: &str, end_offset: u64) -> Line {
        Line {
            text: text.into(),
            end_offset,
            piece: false,
        }
    }
}

/// A file being read.
#[derive(Debug)]
pub struct FileReader {
    file: File,
    /// Where the next read starts.
    read_offset: u64,
    /// Bytes read but not yet returned (an unterminated line).
    pending: Vec<u8>,
    max_line_bytes: usize,
    invalid_utf8_lines: u64,
    /// The file's encoding when it is not UTF-8 (an ASCII-compatible one: lines still end at
    /// the byte `\n`).
    encoding: Option<&'static encoding_rs::Encoding>,
}

impl FileReader {
    /// Reads `file` from `offset` on; lines longer than `max_line_bytes` come out in pieces.
    pub fn new(file: File, offset: u64, max_line_bytes: usize) -> FileReader {
        FileReader {
            file,
            read_offset: offset,
            pending: Vec::new(),
            max_line_bytes: max_line_bytes.max(1),
            invalid_utf8_lines: 0,
            encoding: None,
        }
    }

    /// Decodes lines from `encoding` (ASCII-compatible; UTF-8 is the default).
    #[must_use]
    pub fn decoding(mut self, encoding: Option<&'static encoding_rs::Encoding>) -> FileReader {
        self.encoding = encoding.filter(|e| *e != encoding_rs::UTF_8);
        self
    }

    /// The offset of the first byte not yet returned in a line.
    pub fn position(&self) -> u64 {
        self.read_offset - self.pending.len() as u64
    }

    /// The offset of the first byte not read from the file yet.
    pub fn read_offset(&self) -> u64 {
        self.read_offset
    }

    /// Bytes waiting for their newline.
    pub fn pending_bytes(&self) -> usize {
        self.pending.len()
    }

    /// Lines with invalid UTF-8 (or bytes invalid in the file's encoding) so far.
    pub fn invalid_utf8_lines(&self) -> u64 {
        self.invalid_utf8_lines
    }

    /// The open file.
    pub fn file(&self) -> &File {
        &self.file
    }

    /// The open file, the reader done with.
    pub fn into_file(self) -> File {
        self.file
    }

    /// The file's current length (to notice truncation: shorter than [`FileReader::position`]).
    pub fn file_len(&self) -> io::Result<u64> {
        Ok(self.file.metadata()?.len())
    }

    /// Reads what the file has now (up to `budget` bytes) and appends its complete lines to
    /// `out`. Returns the bytes read; 0 means nothing new. An error after some bytes were read
    /// ends the read early without losing them (it comes back at the next call).
    pub fn read_lines(&mut self, out: &mut Vec<Line>, budget: usize) -> io::Result<usize> {
        let mut total = 0;
        let mut chunk = vec![0u8; READ_CHUNK_BYTES.min(budget.max(1))];
        while total < budget {
            let want = chunk.len().min(budget - total);
            let n = match self.file.read_at(&mut chunk[..want], self.read_offset) {
                Ok(n) => n,
                Err(_) if total > 0 => break,
                Err(e) => return Err(e),
            };
            if n == 0 {
                break;
            }
            total += n;
            self.read_offset += n as u64;
            self.take_lines(&chunk[..n], out);
        }
        Ok(total)
    }

    fn take_lines(&mut self, bytes: &[u8], out: &mut Vec<Line>) {
        let mut start = 0;
        // Offset of bytes[0] in the file.
        let base = self.read_offset - bytes.len() as u64;
        for newline in memchr::memchr_iter(b'\n', bytes) {
            self.pending.extend_from_slice(&bytes[start..newline]);
            self.emit_pieces(out, base + newline as u64);
            self.emit_pending(out, base + newline as u64 + 1, false);
            start = newline + 1;
        }
        self.pending.extend_from_slice(&bytes[start..]);
        self.emit_pieces(out, self.read_offset);
    }

    /// Bounded memory: while the waiting line is longer than the limit, its head comes out as
    /// a piece, cut on a character boundary. `pending_end` is the file offset just past it.
    fn emit_pieces(&mut self, out: &mut Vec<Line>, pending_end: u64) {
        while self.pending.len() > self.max_line_bytes {
            let mut cut = self.max_line_bytes;
            // Back off UTF-8 continuation bytes (at most three) so no character is split.
            while cut > 1 && self.max_line_bytes - cut < 3 && (self.pending[cut] & 0xC0) == 0x80 {
                cut -= 1;
            }
            let rest = self.pending.split_off(cut);
            let end_offset = pending_end - rest.len() as u64;
            let piece = std::mem::replace(&mut self.pending, rest);
            self.push(out, piece, end_offset, true);
        }
    }

    fn emit_pending(&mut self, out: &mut Vec<Line>, end_offset: u64, piece: bool) {
        let mut bytes = std::mem::take(&mut self.pending);
        if bytes.last() == Some(&b'\r') {
            bytes.pop();
        }
        self.push(out, bytes, end_offset, piece);
    }

    fn push(&mut self, out: &mut Vec<Line>, bytes: Vec<u8>, end_offset: u64, piece: bool) {
        if let Some(encoding) = self.encoding {
            let (text, malformed) = encoding.decode_without_bom_handling(&bytes);
            if malformed {
                self.invalid_utf8_lines += 1;
            }
            out.push(Line {
                text: text.into_owned(),
                end_offset,
                piece,
            });
            return;
        }
        let text = match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(e) => {
                self.invalid_utf8_lines += 1;
                String::from_utf8_lossy(e.as_bytes()).into_owned()
            }
        };
        out.push(Line {
            text,
            end_offset,
            piece,
        });
    }

    /// The unterminated last line, given up waiting for its newline (the file was rotated away
    /// or stayed quiet past the timeout).
    pub fn take_unterminated(&mut self) -> Option<Line> {
        if self.pending.is_empty() {
            return None;
        }
        let mut out = Vec::new();
        let end = self.read_offset;
        self.emit_pending(&mut out, end, false);
        out.pop()
    }
}

#[cfg(test)]
mod tests {
    use super::{FileReader, Line};
    use std::io::Write;

    #[test]
    fn lines_in_another_encoding_are_decoded() {
        let mut f = tempfile::tempfile().unwrap();
        // "café" and "Größe" in windows-1252, then a Shift_JIS line ("日本").
        f.write_all(b"caf\xe9\nGr\xf6\xdfe\n").unwrap();
        let mut r = FileReader::new(f.try_clone().unwrap(), 0, 1 << 20)
            .decoding(encoding_rs::Encoding::for_label(b"windows-1252"));
        let mut out = Vec::new();
        r.read_lines(&mut out, usize::MAX).unwrap();
        assert_eq!(texts(&out), [("café", 5, false), ("Größe", 11, false)]);
        assert_eq!(r.invalid_utf8_lines(), 0);
        let mut sjis = tempfile::tempfile().unwrap();
        sjis.write_all(b"\x93\xfa\x96\x7b\n").unwrap();
        let mut r =
            FileReader::new(sjis, 0, 1 << 20).decoding(encoding_rs::Encoding::for_label(b"shift_jis"));
        let mut out = Vec::new();
        r.read_lines(&mut out, usize::MAX).unwrap();
        assert_eq!(out[0].text, "日本");
    }

    fn texts(lines: &[Line]) -> Vec<(&str, u64, bool)> {
        lines
            .iter()
            .map(|l| (l.text.as_str(), l.end_offset, l.piece))
            .collect()
    }

    #[test]
    fn complete_lines_come_out_with_their_end_offsets_and_a_partial_line_waits() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.log");
        std::fs::write(&path, "one\r\ntwo\nthr").unwrap();
        let mut r = FileReader::new(std::fs::File::open(&path).unwrap(), 0, 1 << 20);
        let mut out = Vec::new();
        assert_eq!(r.read_lines(&mut out, usize::MAX).unwrap(), 12);
        assert_eq!(texts(&out), [("one", 5, false), ("two", 9, false)]);
        assert_eq!((r.position(), r.pending_bytes()), (9, 3));
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"ee\nfour")
            .unwrap();
        out.clear();
        r.read_lines(&mut out, usize::MAX).unwrap();
        assert_eq!(texts(&out), [("three", 15, false)]);
        assert_eq!(
            r.take_unterminated(),
            Some(Line {
                text: "four".into(),
                end_offset: 19,
                piece: false
            })
        );
        assert_eq!(r.take_unterminated(), None);
        assert_eq!(r.position(), 19);
    }

    #[test]
    fn reading_resumes_at_an_offset_and_respects_the_budget() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.log");
        std::fs::write(&path, "aa\nbb\ncc\n").unwrap();
        let mut r = FileReader::new(std::fs::File::open(&path).unwrap(), 3, 1 << 20);
        let mut out = Vec::new();
        assert_eq!(r.read_lines(&mut out, 3).unwrap(), 3);
        assert_eq!(texts(&out), [("bb", 6, false)]);
        r.read_lines(&mut out, 100).unwrap();
        assert_eq!(texts(&out)[1], ("cc", 9, false));
    }

    #[test]
    fn overlong_lines_come_out_in_pieces_and_invalid_utf8_is_replaced_and_counted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.log");
        let mut bytes = b"0123456789abcdef\n".to_vec();
        bytes.extend_from_slice(b"ok \xff\xfe end\n");
        std::fs::write(&path, &bytes).unwrap();
        let mut r = FileReader::new(std::fs::File::open(&path).unwrap(), 0, 6);
        let mut out = Vec::new();
        r.read_lines(&mut out, usize::MAX).unwrap();
        assert_eq!(
            texts(&out),
            [
                ("012345", 6, true),
                ("6789ab", 12, true),
                ("cdef", 17, false),
                ("ok \u{fffd}\u{fffd} ", 23, true),
                ("end", 27, false),
            ]
        );
        assert_eq!(r.invalid_utf8_lines(), 1);
        // A piece never splits a character: "é" is two bytes.
        std::fs::write(&path, "aaaaaéb\n").unwrap();
        let mut r = FileReader::new(std::fs::File::open(&path).unwrap(), 0, 6);
        let mut out = Vec::new();
        r.read_lines(&mut out, usize::MAX).unwrap();
        assert_eq!(texts(&out), [("aaaaa", 5, true), ("éb", 9, false)]);
        assert_eq!(r.invalid_utf8_lines(), 0);
    }
}

//! Where events come from: files, directories (recursively), glob patterns and stdin, gzip and
//! zstd decompressed transparently (recognised by their magic bytes, not their names), split into
//! lines without loading whole files.

mod catalog;
mod chunks;
pub(crate) mod lines;
pub mod lookup_table;

use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

pub use catalog::{source_notes, Catalog};
pub use chunks::{Chunk, Chunker};
pub use lines::{Line, LineReader, NextLine, SliceLines};

/// One input: a file or stdin, with the names the query sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// `None` for stdin.
    pub path: Option<PathBuf>,
    /// `@logStream`: the file name, or "stdin" (or the stream, in the agent's store).
    pub log_stream: String,
    /// `@log`: the file's directory, or "stdin" (or the log group, in the agent's store).
    pub log: String,
    pub kind: SourceKind,
}

/// What a source holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SourceKind {
    /// Lines of text, each an event (time found in it).
    #[default]
    Lines,
    /// A chunk of the agent's local log store: events with their own times, messages that may
    /// span lines.
    StoredEvents,
}

impl Source {
    /// The name errors and `@ptr` use: the path, or "stdin".
    pub fn name(&self) -> String {
        self.path
            .as_ref()
            .map_or_else(|| "stdin".to_string(), |p| p.display().to_string())
    }
}

impl Source {
    pub fn stdin() -> Source {
        Source {
            path: None,
            log_stream: "stdin".to_string(),
            log: "stdin".to_string(),
            kind: SourceKind::Lines,
        }
    }

    fn file(path: PathBuf) -> Source {
        let log_stream = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        let log = path.parent().map_or_else(
            || ".".to_string(),
            |p| {
                if p.as_os_str().is_empty() {
                    ".".to_string()
                } else {
                    p.display().to_string()
                }
            },
        );
        Source {
            path: Some(path),
            log_stream,
            log,
            kind: SourceKind::Lines,
        }
    }

    /// The size in bytes, when it is a file.
    /// The bytes a scan of this source reads, when known before it starts: the size of a
    /// plain (uncompressed) file, or of the plain file stdin is redirected from. `None` for
    /// pipes, FIFOs and compressed inputs (their decoded size is not known).
    pub fn plain_size(&self) -> Option<u64> {
        use std::os::unix::fs::FileExt;
        let path = self.path.clone().unwrap_or_else(|| PathBuf::from("/dev/stdin"));
        // Looked at before any open: opening a named pipe to size it would take the writer's
        // data (or close its reader under it).
        let meta = std::fs::metadata(&path).ok()?;
        if !meta.is_file() {
            return None;
        }
        let file = std::fs::File::open(&path).ok()?;
        let mut head = [0u8; 4];
        let n = file.read_at(&mut head, 0).ok()?;
        (!is_compressed(&head[..n])).then_some(meta.len())
    }

    /// The size of the file as stored (compressed or not); `None` for stdin.
    pub fn size_bytes(&self) -> Option<u64> {
        self.path
            .as_ref()
            .and_then(|p| std::fs::metadata(p).ok())
            .map(|m| m.len())
    }
}

/// An input that cannot be read.
#[derive(Debug)]
pub struct InputError {
    pub path: String,
    pub reason: String,
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.reason)
    }
}

impl std::error::Error for InputError {}

/// Expands the command line's paths: none or "-" is stdin; a directory is every file below it;
/// a path that does not exist but has glob characters is a glob. Order: as given, and sorted by
/// name within a directory or glob.
pub fn resolve(paths: &[String]) -> Result<Vec<Source>, InputError> {
    if paths.is_empty() {
        return Ok(vec![Source::stdin()]);
    }
    let mut sources = Vec::new();
    for arg in paths {
        if arg == "-" {
            sources.push(Source::stdin());
            continue;
        }
        let path = Path::new(arg);
        if path.is_dir() {
            let mut files = Vec::new();
            walk(path, &mut files).map_err(|e| InputError {
                path: arg.clone(),
                reason: e.to_string(),
            })?;
            files.sort();
            sources.extend(files.into_iter().map(Source::file));
        } else if path.exists() {
            sources.push(Source::file(path.to_path_buf()));
        } else if arg.contains(['*', '?', '[']) {
            let matches = glob::glob(arg).map_err(|e| InputError {
                path: arg.clone(),
                reason: format!("bad glob pattern: {e}"),
            })?;
            let mut files: Vec<PathBuf> = matches.filter_map(Result::ok).filter(|p| p.is_file()).collect();
            if files.is_empty() {
                return Err(InputError {
                    path: arg.clone(),
                    reason: "no file matches this pattern".to_string(),
                });
            }
            files.sort();
            sources.extend(files.into_iter().map(Source::file));
        } else {
            return Err(InputError {
                path: arg.clone(),
                reason: "no such file or directory".to_string(),
            });
        }
    }
    Ok(sources)
}

/// The chunks of log group `group` in the agent's local store at `store` that may hold events
/// between `start_ms` and `end_ms` (chunks outside are skipped by name, unopened). A group with
/// nothing stored is an error that says so.
pub fn resolve_store(
    store: &Path,
    group: &str,
    start_ms: Option<i64>,
    end_ms: Option<i64>,
) -> Result<Vec<Source>, InputError> {
    let failed = |reason: String| InputError {
        path: format!("{} (log group {group})", store.display()),
        reason,
    };
    if !store.join(skywatch_store::logs::encode_name(group)).is_dir() {
        return Err(failed("the store has no such log group".into()));
    }
    let chunks = skywatch_store::logs::chunks_in_range(
        store,
        group,
        start_ms.unwrap_or(i64::MIN),
        end_ms.unwrap_or(i64::MAX),
    )
    .map_err(|e| failed(e.to_string()))?;
    Ok(chunks
        .into_iter()
        .map(|(stream, path)| Source {
            path: Some(path),
            log_stream: stream,
            log: group.to_string(),
            kind: SourceKind::StoredEvents,
        })
        .collect())
}

/// The events of a stored chunk — (epoch ms, message) — and how many of its lines were not
/// events.
pub fn read_stored(source: &Source) -> Result<(Vec<(i64, String)>, u64), InputError> {
    let path = source.path.as_deref().unwrap_or(Path::new(""));
    let (events, malformed) =
        skywatch_store::logs::read_chunk(&source.log_stream, path).map_err(|e| InputError {
            path: source.name(),
            reason: e.to_string(),
        })?;
    Ok((
        events.into_iter().map(|e| (e.timestamp_ms, e.message)).collect(),
        malformed,
    ))
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            walk(&entry.path(), out)?;
        } else if kind.is_file() {
            out.push(entry.path());
        }
    }
    Ok(())
}

/// Opens `source` for reading its (decompressed) bytes.
pub fn open(source: &Source) -> Result<Box<dyn Read + Send>, InputError> {
    let name = source.name();
    let raw: Box<dyn Read + Send> = match &source.path {
        None => Box::new(io::stdin()),
        Some(path) => Box::new(File::open(path).map_err(|e| InputError {
            path: name.clone(),
            reason: e.to_string(),
        })?),
    };
    decompressed(raw).map_err(|e| InputError {
        path: name,
        reason: e.to_string(),
    })
}

const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];
const ZSTD_MAGIC: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];

/// Whether data starting with `head` is gzip or zstd compressed.
/// How much of a file is looked at for a NUL byte (as ripgrep does).
const BINARY_SNIFF_BYTES: usize = 8 << 10;

/// Splits `sources` into the ones to read and the named files that look binary (a NUL byte in
/// their first 8 KiB, compressed files aside: they are looked at decompressed), with why. Log
/// directories hold such files (wtmp, journals); read as text they would only add noise.
pub fn leave_out_binary(sources: Vec<Source>) -> (Vec<Source>, Vec<(String, String)>) {
    let mut kept = Vec::with_capacity(sources.len());
    let mut left_out = Vec::new();
    for source in sources {
        let Some(path) = &source.path else {
            kept.push(source);
            continue;
        };
        // Only regular files, looked at before they are opened: opening a pipe would meet its
        // writer, and reading it would lose what this read takes.
        if !std::fs::metadata(path).is_ok_and(|m| m.is_file()) {
            kept.push(source);
            continue;
        }
        let mut head = vec![0u8; BINARY_SNIFF_BYTES];
        let n = File::open(path).and_then(|mut f| f.read(&mut head)).unwrap_or(0);
        let head = &head[..n];
        if !is_compressed(head) && memchr::memchr(0, head).is_some() {
            left_out.push((
                source.name(),
                format!(
                    "a binary file (a NUL byte in its first {} KiB): skipped",
                    BINARY_SNIFF_BYTES >> 10
                ),
            ));
        } else {
            kept.push(source);
        }
    }
    (kept, left_out)
}

pub fn is_compressed(head: &[u8]) -> bool {
    head.starts_with(GZIP_MAGIC) || head.starts_with(ZSTD_MAGIC)
}

/// Wraps `raw` in a decoder if it starts with gzip or zstd magic bytes.
pub fn decompressed(raw: Box<dyn Read + Send>) -> io::Result<Box<dyn Read + Send>> {
    let mut reader = BufReader::with_capacity(1 << 16, raw);
    // One read is enough to see the magic bytes of a file; a pipe that delivers fewer than four
    // bytes first is read as plain text.
    let head = reader.fill_buf()?;
    let (is_gzip, is_zstd) = (head.starts_with(GZIP_MAGIC), head.starts_with(ZSTD_MAGIC));
    if is_gzip {
        Ok(Box::new(flate2::bufread::MultiGzDecoder::new(reader)))
    } else if is_zstd {
        Ok(Box::new(zstd::stream::read::Decoder::with_buffer(reader)?))
    } else {
        Ok(Box::new(reader))
    }
}

//! The local log store: where the agent's log events go with no AWS, and what logq reads.
//!
//! Layout (docs/local-store.md): `<state dir>/logs/<group>/<stream>/` (names percent-encoded),
//! one zstd-compressed chunk per accepted batch, named `<first ms>-<last ms>-<sequence>.ndjson.zst`
//! so a reader skips every chunk outside its time range without opening it. Inside, one JSON
//! object per event: `{"timestamp":1764291723004,"message":"…"}`.
//!
//! A chunk is written to a temporary name, synced, renamed, and the directory synced: once
//! `append` returns the batch is durable — that is the acknowledgement the file checkpoints wait
//! for. A crash leaves at most a temporary file, which readers ignore and the next start removes.
//!
//! [`LocalLogStore::prune`] keeps the store bounded: chunks whose newest event is older than the
//! age limit go, then the oldest chunks until the store fits its byte limit.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// zstd level for chunks: level 1 compresses about twice as fast as the default 3, for a few
/// per cent more bytes.
const COMPRESSION_LEVEL: i32 = 1;

/// One event read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    pub stream: String,
    pub timestamp_ms: i64,
    pub message: String,
}

/// Appends batches as chunks.
#[derive(Debug)]
pub struct LocalLogStore {
    dir: PathBuf,
    /// The next chunk sequence per stream directory, once looked up.
    next_sequence: Mutex<HashMap<PathBuf, u64>>,
}

/// `name` safe as one path component: bytes other than `A-Za-z0-9._-` become `%XX`.
pub fn encode_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"._-".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    // "." and ".." are not names a directory can have.
    if out == "." || out == ".." {
        out = out.replace('.', "%2E");
    }
    out
}

/// The inverse of [`encode_name`].
pub fn decode_name(encoded: &str) -> Option<String> {
    let bytes = encoded.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = encoded.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

impl LocalLogStore {
    /// The store under `dir` (`<state dir>/logs`); leftover temporary chunks are removed.
    pub fn open(dir: &Path) -> io::Result<LocalLogStore> {
        crate::durable::create_private_dir_all(dir)?;
        for chunk in files_in_streams(dir)? {
            if chunk.extension().is_some_and(|e| e == "tmp") {
                fs::remove_file(&chunk)?;
            }
        }
        Ok(LocalLogStore {
            dir: dir.to_path_buf(),
            next_sequence: Mutex::new(HashMap::new()),
        })
    }

    /// Writes one batch of `group`/`stream` — (epoch ms, message) in time order — as a chunk,
    /// durably.
    pub fn append(&self, group: &str, stream: &str, events: &[(i64, &str)]) -> io::Result<()> {
        let (Some(&(first_ms, _)), Some(&(last_ms, _))) = (events.first(), events.last()) else {
            return Ok(());
        };
        let dir = self.dir.join(encode_name(group)).join(encode_name(stream));
        crate::durable::create_private_dir_all(&dir)?;
        let sequence = self.take_sequence(&dir)?;
        let name = format!("{first_ms}-{last_ms}-{sequence:08}.ndjson.zst");
        let mut body = Vec::with_capacity(events.iter().map(|(_, m)| m.len() + 40).sum());
        for (timestamp, message) in events {
            body.extend_from_slice(b"{\"timestamp\":");
            body.extend_from_slice(timestamp.to_string().as_bytes());
            body.extend_from_slice(b",\"message\":");
            serde_json::to_writer(&mut body, message)?;
            body.extend_from_slice(b"}\n");
        }
        let compressed = zstd::bulk::compress(&body, COMPRESSION_LEVEL)?;
        crate::durable::write_atomically(&dir.join(&name), &compressed)
    }

    /// The next sequence for chunks in `dir`: one more than the highest there when first asked
    /// (chunks deleted by pruning never free a name), then counted up.
    fn take_sequence(&self, dir: &Path) -> io::Result<u64> {
        let mut known = self
            .next_sequence
            .lock()
            .map_err(|_| io::Error::other("the sequence table is poisoned"))?;
        let next = if let Some(n) = known.get(dir) {
            *n
        } else {
            let mut next = 0u64;
            for entry in fs::read_dir(dir)? {
                if let Some((_, _, seq)) = entry?.file_name().to_str().and_then(parse_chunk_name) {
                    next = next.max(seq + 1);
                }
            }
            next
        };
        known.insert(dir.to_path_buf(), next + 1);
        Ok(next)
    }

    /// Removes chunks whose newest event is older than `max_age_ms` before `now_ms`, then the
    /// oldest chunks (by newest event) until the store holds at most `max_bytes`. Returns the
    /// chunks removed.
    pub fn prune(&self, max_bytes: u64, max_age_ms: i64, now_ms: i64) -> io::Result<usize> {
        let mut chunks = Vec::new();
        for path in files_in_streams(&self.dir)? {
            let Some((_, last, _)) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(parse_chunk_name)
            else {
                continue;
            };
            chunks.push((last, fs::metadata(&path)?.len(), path));
        }
        chunks.sort();
        let mut total: u64 = chunks.iter().map(|(_, len, _)| len).sum();
        let mut removed = 0;
        for (last, len, path) in chunks {
            if last >= now_ms.saturating_sub(max_age_ms) && total <= max_bytes {
                break;
            }
            fs::remove_file(&path)?;
            total -= len;
            removed += 1;
        }
        Ok(removed)
    }
}

/// Every file in every stream directory of the store under `dir` (`<group>/<stream>/*`).
fn files_in_streams(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for group in fs::read_dir(dir)? {
        let group = group?.path();
        if !group.is_dir() {
            continue;
        }
        for stream in fs::read_dir(&group)? {
            let stream = stream?.path();
            if !stream.is_dir() {
                continue;
            }
            for file in fs::read_dir(&stream)? {
                files.push(file?.path());
            }
        }
    }
    Ok(files)
}

/// `<first ms>-<last ms>-<sequence>.ndjson.zst` → its three numbers.
fn parse_chunk_name(name: &str) -> Option<(i64, i64, u64)> {
    let stem = name.strip_suffix(".ndjson.zst")?;
    let (rest, sequence) = stem.rsplit_once('-')?;
    let sequence = sequence.parse().ok()?;
    // The first time may be negative (before 1970), so split it off the front.
    // (By `get`: a stray file's name may be empty there or start with a wide character.)
    let split = rest.get(1..)?.find('-')? + 1;
    Some((
        rest[..split].parse().ok()?,
        rest[split + 1..].parse().ok()?,
        sequence,
    ))
}

/// The log groups the store under `store` holds, sorted by name (directories whose names do not
/// decode are not groups).
pub fn groups(store: &Path) -> io::Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in fs::read_dir(store)? {
        let entry = entry?;
        if !entry.file_type()?.is_dir() {
            continue;
        }
        if let Some(name) = entry.file_name().to_str().and_then(decode_name) {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

/// The chunks of `group` (every stream) that may hold events in `[start_ms, end_ms]`, by name.
pub fn chunks_in_range(
    store: &Path,
    group: &str,
    start_ms: i64,
    end_ms: i64,
) -> io::Result<Vec<(String, PathBuf)>> {
    let group_dir = store.join(encode_name(group));
    let mut found = Vec::new();
    let streams = match fs::read_dir(&group_dir) {
        Ok(streams) => streams,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(found),
        Err(e) => return Err(e),
    };
    for stream in streams {
        let stream = stream?;
        let Some(stream_name) = stream.file_name().to_str().and_then(decode_name) else {
            continue;
        };
        for chunk in fs::read_dir(stream.path())? {
            let path = chunk?.path();
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            let Some((first, last, _)) = parse_chunk_name(name) else {
                continue;
            };
            if last >= start_ms && first <= end_ms {
                found.push((stream_name.clone(), path));
            }
        }
    }
    found.sort_by(|a, b| a.1.cmp(&b.1));
    Ok(found)
}

/// The events of one chunk; lines that are not events are counted in the second value.
pub fn read_chunk(stream: &str, path: &Path) -> io::Result<(Vec<StoredEvent>, u64)> {
    let mut compressed = Vec::new();
    File::open(path)?.read_to_end(&mut compressed)?;
    let mut body = Vec::new();
    zstd::stream::copy_decode(&compressed[..], &mut body)?;
    let mut events = Vec::new();
    let mut bad = 0;
    for line in body.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let parsed: Option<StoredEvent> =
            serde_json::from_slice::<serde_json::Value>(line)
                .ok()
                .and_then(|v| {
                    Some(StoredEvent {
                        stream: stream.to_string(),
                        timestamp_ms: v.get("timestamp")?.as_i64()?,
                        message: v.get("message")?.as_str()?.to_string(),
                    })
                });
        match parsed {
            Some(e) => events.push(e),
            None => bad += 1,
        }
    }
    Ok((events, bad))
}

/// `text` as one shell word, for the `logq --store DIR --log-group NAME` commands the tools print
/// for this store (the collector's page, `skywatch up`): as it is when it is plain, else quoted.
pub fn shell_word(text: &str) -> String {
    if !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-".contains(c))
    {
        return text.to_string();
    }
    format!("'{}'", text.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn shell_words_are_quoted_only_when_needed() {
        assert_eq!(super::shell_word("/var/lib/skywatch"), "/var/lib/skywatch");
        assert_eq!(super::shell_word("/tmp/a b"), "'/tmp/a b'");
        assert_eq!(super::shell_word("it's"), r"'it'\''s'");
    }

    use super::{chunks_in_range, decode_name, encode_name, parse_chunk_name, read_chunk, LocalLogStore};

    #[test]
    fn chunk_names_parse_negative_times_too() {
        assert_eq!(
            parse_chunk_name("1000-2000-00000003.ndjson.zst"),
            Some((1000, 2000, 3))
        );
        assert_eq!(parse_chunk_name("-5-7-00000000.ndjson.zst"), Some((-5, 7, 0)));
        assert_eq!(parse_chunk_name("1000-2000-00000003.ndjson.zst.tmp"), None);
        // Regression: stray names that are not chunks are skipped, not a panic.
        for stray in [
            "-1.ndjson.zst",
            "€-1-2.ndjson.zst",
            "é1-2-3.ndjson.zst",
            "--.ndjson.zst",
        ] {
            assert_eq!(parse_chunk_name(stray), None, "{stray}");
        }
        assert_eq!(parse_chunk_name("notes.txt"), None);
    }

    #[test]
    fn pruning_removes_old_chunks_then_the_oldest_until_the_store_fits() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalLogStore::open(dir.path()).unwrap();
        for (stream, at) in [("a", 1_000), ("b", 2_000), ("a", 3_000), ("b", 4_000)] {
            store.append("g", stream, &borrowed(&events(&[at], "x"))).unwrap();
        }
        let count = || {
            chunks_in_range(dir.path(), "g", i64::MIN, i64::MAX)
                .unwrap()
                .len()
        };
        // Older than 2.5 s before "now" = 5 s: the chunks ending at 1 s and 2 s.
        assert_eq!(store.prune(u64::MAX, 2_500, 5_000).unwrap(), 2);
        assert_eq!(count(), 2);
        // A byte limit below one chunk leaves nothing; sequences go on after pruning.
        assert_eq!(store.prune(1, i64::MAX, 5_000).unwrap(), 2);
        assert_eq!(count(), 0);
        store.append("g", "a", &borrowed(&events(&[6_000], "y"))).unwrap();
        let names: Vec<String> = std::fs::read_dir(dir.path().join("g").join("a"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["6000-6000-00000002.ndjson.zst"]);
    }

    /// Events at `at`, with messages that need escaping.
    fn events(at: &[i64], text: &str) -> Vec<(i64, String)> {
        at.iter()
            .map(|t| (*t, format!("{text} at {t} \"quoted\"\nsecond line")))
            .collect()
    }

    fn borrowed(events: &[(i64, String)]) -> Vec<(i64, &str)> {
        events.iter().map(|(t, m)| (*t, m.as_str())).collect()
    }

    #[test]
    fn names_survive_encoding() {
        for name in ["/aws/lambda/api", "web 1:*", "..", "é"] {
            let encoded = encode_name(name);
            assert!(!encoded.contains('/') && encoded != ".." && encoded != ".");
            assert_eq!(decode_name(&encoded).as_deref(), Some(name));
        }
    }

    #[test]
    fn chunks_are_found_by_time_range_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalLogStore::open(dir.path()).unwrap();
        store
            .append("/ec2/app", "i-1", &borrowed(&events(&[1_000, 2_000], "a")))
            .unwrap();
        store
            .append("/ec2/app", "i-1", &borrowed(&events(&[5_000, 6_000], "b")))
            .unwrap();
        store
            .append("/ec2/app", "i-2", &borrowed(&events(&[1_500], "c")))
            .unwrap();
        store
            .append("/ec2/other", "i-1", &borrowed(&events(&[1_000], "d")))
            .unwrap();
        let all = chunks_in_range(dir.path(), "/ec2/app", i64::MIN, i64::MAX).unwrap();
        assert_eq!(all.len(), 3);
        let early = chunks_in_range(dir.path(), "/ec2/app", 0, 2_500).unwrap();
        let streams: Vec<&str> = early.iter().map(|(s, _)| s.as_str()).collect();
        assert_eq!(streams, ["i-1", "i-2"], "the 5–6 s chunk is skipped by name");
        let (read, bad) = read_chunk(&early[0].0, &early[0].1).unwrap();
        assert_eq!(bad, 0);
        assert_eq!(read.len(), 2);
        assert_eq!(read[0].message, "a at 1000 \"quoted\"\nsecond line");
        assert_eq!((read[1].stream.as_str(), read[1].timestamp_ms), ("i-1", 2_000));
        assert!(chunks_in_range(dir.path(), "/nope", 0, 1).unwrap().is_empty());
    }

    #[test]
    fn a_torn_temporary_chunk_is_ignored_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalLogStore::open(dir.path()).unwrap();
        store.append("g", "s", &borrowed(&events(&[1_000], "a"))).unwrap();
        let stream_dir = dir.path().join("g").join("s");
        std::fs::write(stream_dir.join("1-2-00000009.ndjson.zst.tmp"), b"\x28\xb5").unwrap();
        assert_eq!(chunks_in_range(dir.path(), "g", 0, 10_000).unwrap().len(), 1);
        LocalLogStore::open(dir.path()).unwrap();
        assert_eq!(std::fs::read_dir(&stream_dir).unwrap().count(), 1);
    }
}

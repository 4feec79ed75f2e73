//! The local log store: where the agent's log events go with no AWS, and what logq reads. One
//! crate owns the format, so writer and reader cannot drift apart.
//!
//! Layout (docs/local-store.md): `<state dir>/logs/<group>/<stream>/` (names percent-encoded),
//! one zstd-compressed chunk per accepted batch, named `<first ms>-<last ms>-<sequence>.ndjson.zst`
//! so a reader skips every chunk outside its time range without opening it. Inside, one JSON
//! object per event: `{"timestamp":1764291723004,"message":"…"}`.
//!
//! A chunk is written to a temporary name, synced, renamed, and the directory synced: once
//! `append` returns the batch is durable — that is the acknowledgement the file checkpoints wait
//! for. A crash leaves at most a temporary file, which readers ignore and the next start removes.

use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{self, Read, Write as _};
use std::path::{Path, PathBuf};

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
        fs::create_dir_all(dir)?;
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
                for chunk in fs::read_dir(&stream)? {
                    let chunk = chunk?.path();
                    if chunk.extension().is_some_and(|e| e == "tmp") {
                        fs::remove_file(&chunk)?;
                    }
                }
            }
        }
        Ok(LocalLogStore {
            dir: dir.to_path_buf(),
        })
    }

    /// Writes one batch of `group`/`stream` — (epoch ms, message) in time order — as a chunk,
    /// durably.
    pub fn append(&self, group: &str, stream: &str, events: &[(i64, &str)]) -> io::Result<()> {
        let (Some(&(first_ms, _)), Some(&(last_ms, _))) = (events.first(), events.last()) else {
            return Ok(());
        };
        let dir = self.dir.join(encode_name(group)).join(encode_name(stream));
        fs::create_dir_all(&dir)?;
        // One more than the highest sequence there (chunks deleted by retention never free a name).
        let mut sequence = 0u64;
        for entry in fs::read_dir(&dir)? {
            let name = entry?.file_name();
            let seq = name
                .to_str()
                .and_then(|n| n.strip_suffix(".ndjson.zst"))
                .and_then(|stem| stem.rsplit('-').next())
                .and_then(|s| s.parse::<u64>().ok());
            if let Some(seq) = seq {
                sequence = sequence.max(seq + 1);
            }
        }
        let name = format!("{first_ms}-{last_ms}-{sequence:08}.ndjson.zst");
        let mut body = Vec::new();
        for (timestamp, message) in events {
            let line = serde_json::json!({ "timestamp": timestamp, "message": message });
            body.extend_from_slice(line.to_string().as_bytes());
            body.push(b'\n');
        }
        let compressed = zstd::bulk::compress(&body, 3)?;
        let temp = dir.join(format!("{name}.tmp"));
        let mut file = File::create(&temp)?;
        file.write_all(&compressed)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&temp, dir.join(&name))?;
        File::open(&dir)?.sync_all()
    }
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
            let Some(stem) = name.strip_suffix(".ndjson.zst") else {
                continue;
            };
            let mut parts = stem.splitn(3, '-');
            let (Some(Ok(first)), Some(Ok(last))) = (
                parts.next().map(str::parse::<i64>),
                parts.next().map(str::parse::<i64>),
            ) else {
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

#[cfg(test)]
mod tests {
    use super::{chunks_in_range, decode_name, encode_name, read_chunk, LocalLogStore};

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

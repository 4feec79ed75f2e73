//! The on-disk spool: where batches wait during an outage instead of in memory. A FIFO of
//! segment files (one batch each, zstd-compressed JSON), bounded in bytes; when it is full the
//! caller stops reading files (backpressure) — nothing is dropped.
//!
//! The spool is an overflow area, not a source of truth: file checkpoints only ever cover events
//! the backend accepted, so after a restart everything unacknowledged is read again from the
//! files. The spool is therefore emptied when opened (its batches would be duplicates).

use std::collections::VecDeque;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use super::{AckToken, LogEvent};

/// One spooled batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spooled {
    pub id: u64,
    pub group: String,
    pub stream: String,
    pub events: Vec<LogEvent>,
}

/// The spool could not take a batch: it is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpoolFull;

/// A bounded FIFO of batches on disk.
#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
    max_bytes: u64,
    /// (id, bytes on disk), oldest first.
    segments: VecDeque<(u64, u64)>,
    bytes: u64,
    next_id: u64,
}

impl Spool {
    /// Opens the spool in `dir` (emptying it: see the module notes), holding at most
    /// `max_bytes` on disk.
    pub fn open(dir: &Path, max_bytes: u64) -> io::Result<Spool> {
        if dir.exists() {
            fs::remove_dir_all(dir)?;
        }
        skywatch_store::durable::create_private_dir_all(dir)?;
        Ok(Spool {
            dir: dir.to_path_buf(),
            max_bytes,
            segments: VecDeque::new(),
            bytes: 0,
            next_id: 0,
        })
    }

    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    pub fn len(&self) -> usize {
        self.segments.len()
    }

    pub fn is_empty(&self) -> bool {
        self.segments.is_empty()
    }

    /// Whether the caller should stop reading until batches leave.
    pub fn is_full(&self) -> bool {
        self.bytes >= self.max_bytes
    }

    fn path(&self, id: u64) -> PathBuf {
        self.dir.join(format!("{id:016}.json.zst"))
    }

    /// Adds a batch at the back. A batch larger than the whole bound is still taken when the
    /// spool is empty, so one large batch cannot block forever.
    pub fn push(
        &mut self,
        group: &str,
        stream: &str,
        events: &[LogEvent],
    ) -> io::Result<Result<u64, SpoolFull>> {
        if self.is_full() {
            return Ok(Err(SpoolFull));
        }
        let body = serde_json::json!({
            "group": group,
            "stream": stream,
            "events": events.iter().map(|e| serde_json::json!({
                "t": e.timestamp_ms,
                "m": e.message,
                "file": e.token.file,
                "end": e.token.end_offset,
            })).collect::<Vec<_>>(),
        });
        let compressed = zstd::bulk::compress(body.to_string().as_bytes(), 1)?;
        if !self.segments.is_empty() && self.bytes + compressed.len() as u64 > self.max_bytes {
            return Ok(Err(SpoolFull));
        }
        let id = self.next_id;
        self.next_id += 1;
        let mut file = skywatch_store::durable::create_private(&self.path(id))?;
        file.write_all(&compressed)?;
        self.bytes += compressed.len() as u64;
        self.segments.push_back((id, compressed.len() as u64));
        Ok(Ok(id))
    }

    /// The oldest batch, read back (it stays until [`Spool::pop`]).
    pub fn front(&self) -> io::Result<Option<Spooled>> {
        let Some(&(id, _)) = self.segments.front() else {
            return Ok(None);
        };
        let mut compressed = Vec::new();
        File::open(self.path(id))?.read_to_end(&mut compressed)?;
        let mut body = Vec::new();
        zstd::stream::copy_decode(&compressed[..], &mut body)?;
        let bad =
            |what: &str| io::Error::new(io::ErrorKind::InvalidData, format!("spool segment {id}: {what}"));
        let v: serde_json::Value = serde_json::from_slice(&body).map_err(|e| bad(&e.to_string()))?;
        let text = |k: &str| v.get(k).and_then(serde_json::Value::as_str).map(str::to_string);
        let events = v
            .get("events")
            .and_then(serde_json::Value::as_array)
            .ok_or_else(|| bad("no events"))?
            .iter()
            .map(|e| {
                Some(LogEvent {
                    timestamp_ms: e.get("t")?.as_i64()?,
                    message: e.get("m")?.as_str()?.to_string(),
                    token: AckToken {
                        file: e.get("file")?.as_u64()?,
                        end_offset: e.get("end")?.as_u64()?,
                    },
                })
            })
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| bad("an incomplete event"))?;
        Ok(Some(Spooled {
            id,
            group: text("group").ok_or_else(|| bad("no group"))?,
            stream: text("stream").ok_or_else(|| bad("no stream"))?,
            events,
        }))
    }

    /// Removes the oldest batch (after the backend took it).
    /// A segment file that cannot be removed stays on disk until the spool is next opened
    /// (which empties it); it no longer counts.
    pub fn pop(&mut self) {
        if let Some((id, size)) = self.segments.pop_front() {
            let _ = fs::remove_file(self.path(id));
            self.bytes -= size;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Spool, SpoolFull};
    use crate::logs::{AckToken, LogEvent};

    fn batch(n: u64, size: usize) -> Vec<LogEvent> {
        (0..n)
            .map(|i| LogEvent {
                timestamp_ms: 1_000 + i as i64,
                // Incompressible-ish text, so sizes on disk are predictable enough.
                message: (0..size)
                    .map(|j| char::from(b'a' + ((i as usize * 7 + j * 13) % 26) as u8))
                    .collect(),
                token: AckToken {
                    file: 3,
                    end_offset: i + 1,
                },
            })
            .collect()
    }

    #[test]
    fn batches_come_back_in_order_with_their_tokens_and_leave_when_popped() {
        let dir = tempfile::tempdir().unwrap();
        let mut spool = Spool::open(&dir.path().join("spool"), 1 << 20).unwrap();
        let a = batch(3, 20);
        let b = batch(2, 10);
        assert_eq!(spool.push("/g", "s1", &a).unwrap(), Ok(0));
        assert_eq!(spool.push("/g", "s2", &b).unwrap(), Ok(1));
        let front = spool.front().unwrap().unwrap();
        assert_eq!(
            (front.id, front.group.as_str(), front.stream.as_str()),
            (0, "/g", "s1")
        );
        assert_eq!(front.events, a);
        spool.pop();
        assert_eq!(spool.front().unwrap().unwrap().events, b);
        spool.pop();
        assert!(spool.front().unwrap().is_none() && spool.is_empty() && spool.bytes() == 0);
    }

    #[test]
    fn a_full_spool_refuses_instead_of_dropping_and_reopening_empties_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("spool");
        let mut spool = Spool::open(&path, 2_000).unwrap();
        let mut taken = 0;
        while spool.push("/g", "s", &batch(10, 100)).unwrap().is_ok() {
            taken += 1;
            assert!(taken < 100, "never full");
        }
        assert!(taken >= 1);
        assert_eq!(spool.push("/g", "s", &batch(1, 1)).unwrap(), Err(SpoolFull));
        assert!(spool.is_full() || spool.bytes() > 0);
        spool.pop();
        assert_eq!(spool.len(), taken - 1);
        drop(spool);
        let reopened = Spool::open(&path, 2_000).unwrap();
        assert!(reopened.is_empty());
        assert_eq!(std::fs::read_dir(&path).unwrap().count(), 0);
        // One batch bigger than the bound still goes into an empty spool.
        let mut small = Spool::open(&dir.path().join("small"), 10).unwrap();
        assert_eq!(small.push("/g", "s", &batch(5, 200)).unwrap(), Ok(0));
    }
}

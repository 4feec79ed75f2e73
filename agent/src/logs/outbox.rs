//! Batches between the reader and the sender: first in memory (up to a bound), then, while the
//! backend is failing (an outage), in the on-disk [`Spool`]; first in, first out across both.
//! When the memory is full and the backend is merely slower than the reader, or when the spool
//! is full too, a batch is handed back and the reader stops reading until room is made
//! (backpressure) — nothing is dropped.

use std::collections::VecDeque;
use std::io;

use super::spool::Spool;
use super::LogEvent;

/// One PutLogEvents request's worth, for one stream.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Batch {
    pub group: String,
    pub stream: String,
    /// Sorted by time, within every batch limit.
    pub events: Vec<LogEvent>,
}

impl Batch {
    fn bytes(&self) -> usize {
        self.events.iter().map(|e| e.message.len() + 32).sum()
    }
}

/// The queue of batches waiting to be sent.
#[derive(Debug)]
pub struct Outbox {
    memory: VecDeque<Batch>,
    memory_bytes: usize,
    max_memory_bytes: usize,
    spool: Spool,
}

impl Outbox {
    pub fn new(max_memory_bytes: usize, spool: Spool) -> Outbox {
        Outbox {
            memory: VecDeque::new(),
            memory_bytes: 0,
            max_memory_bytes,
            spool,
        }
    }

    /// Queues `batch`, or hands it back when it does not fit: memory full and `spill` off (the
    /// backend is keeping up, only slower), or memory and spool full. A spool that cannot be
    /// written counts as full (the error is returned alongside, to log).
    pub fn push(&mut self, batch: Batch, spill: bool) -> Result<(), (Batch, Option<io::Error>)> {
        let bytes = batch.bytes();
        // While anything is spooled, newer batches queue behind it there.
        if self.spool.is_empty()
            && (self.memory.is_empty() || self.memory_bytes + bytes <= self.max_memory_bytes)
        {
            self.memory_bytes += bytes;
            self.memory.push_back(batch);
            return Ok(());
        }
        if !spill && self.spool.is_empty() {
            return Err((batch, None));
        }
        match self.spool.push(&batch.group, &batch.stream, &batch.events) {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(_full)) => Err((batch, None)),
            Err(e) => Err((batch, Some(e))),
        }
    }

    /// The oldest batch, taken out of the queue. A spooled batch that cannot be read back is
    /// taken out too (the error says so): its events stay unacknowledged, so their files are
    /// read again from their checkpoints at the next start.
    pub fn pop(&mut self) -> io::Result<Option<Batch>> {
        if let Some(batch) = self.memory.pop_front() {
            self.memory_bytes -= batch.bytes();
            return Ok(Some(batch));
        }
        let front = self.spool.front();
        if !self.spool.is_empty() {
            self.spool.pop();
        }
        let Some(spooled) = front? else {
            return Ok(None);
        };
        Ok(Some(Batch {
            group: spooled.group,
            stream: spooled.stream,
            events: spooled.events,
        }))
    }

    /// Batches waiting (in memory and spooled).
    pub fn len(&self) -> usize {
        self.memory.len() + self.spool.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes on disk in the spool.
    pub fn spooled_bytes(&self) -> u64 {
        self.spool.bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::{Batch, Outbox};
    use crate::logs::spool::Spool;
    use crate::logs::{AckToken, LogEvent};

    fn batch(n: u64) -> Batch {
        Batch {
            group: "g".into(),
            stream: "s".into(),
            events: vec![LogEvent {
                timestamp_ms: n as i64,
                message: format!("event {n} {}", "x".repeat(200)),
                token: AckToken {
                    file: 1,
                    end_offset: n + 1,
                },
            }],
        }
    }

    #[test]
    fn batches_overflow_to_the_spool_keep_their_order_and_come_back_when_full() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(&dir.path().join("spool"), 300).unwrap();
        // Room for two batches in memory.
        let mut outbox = Outbox::new(2 * 250, spool);
        // Memory full and the backend healthy: the batch comes back (the reader waits).
        assert!(outbox.push(batch(0), false).is_ok());
        assert!(outbox.push(batch(1), false).is_ok());
        assert_eq!(outbox.push(batch(2), false).unwrap_err().0, batch(2));
        assert_eq!(outbox.spooled_bytes(), 0);
        let mut pushed = 2;
        // An outage: the spool takes what memory cannot, until it is full.
        let refused = loop {
            match outbox.push(batch(pushed), true) {
                Ok(()) => pushed += 1,
                Err((b, error)) => break (b, error),
            }
            assert!(pushed < 50, "never full");
        };
        assert!(refused.1.is_none());
        assert_eq!(refused.0, batch(pushed), "the refused batch comes back whole");
        assert!(pushed >= 3, "memory and then the spool took batches ({pushed})");
        assert!(outbox.spooled_bytes() > 0);
        // Taking one makes room again; order is first in, first out.
        assert_eq!(outbox.pop().unwrap(), Some(batch(0)));
        assert!(outbox.push(refused.0, true).is_ok() || outbox.spooled_bytes() > 0);
        let mut next = 1;
        while let Some(b) = outbox.pop().unwrap() {
            assert_eq!(b, batch(next));
            next += 1;
        }
        assert!(next >= pushed);
        assert!(outbox.is_empty());
    }

    #[test]
    fn a_spooled_batch_that_cannot_be_read_is_taken_out_with_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let spool_dir = dir.path().join("spool");
        let spool = Spool::open(&spool_dir, 1 << 20).unwrap();
        let mut outbox = Outbox::new(250, spool);
        outbox.push(batch(0), true).unwrap();
        outbox.push(batch(1), true).unwrap();
        outbox.push(batch(2), true).unwrap();
        // The first spooled segment (batch 1) goes missing.
        let mut segments: Vec<_> = std::fs::read_dir(&spool_dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        segments.sort();
        std::fs::remove_file(&segments[0]).unwrap();
        assert_eq!(outbox.pop().unwrap(), Some(batch(0)));
        assert!(outbox.pop().is_err(), "the lost segment is an error, once");
        assert_eq!(outbox.pop().unwrap(), Some(batch(2)));
        assert_eq!(outbox.pop().unwrap(), None);
        assert_eq!(outbox.spooled_bytes(), 0);
    }
}

//! Where every document goes in, whatever carried it (a UDP datagram, PutTraceSegments over
//! HTTP, an OTLP span converted): checked, kept in the local store, and queued for X-Ray when
//! forwarding. A refused document is counted by its error code and named in the log the first
//! time each code is met; a kept one that cannot be queued for forwarding is counted as dropped.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use skywatch_runtime::queue::{BoundedQueue, Pushed};
use skywatch_runtime::Journal;

use crate::quick_check::{self, Facts};
use crate::segment::{self, Invalid};
use crate::store::Store;
use crate::telemetry::Counters;

/// Documents waiting to be forwarded.
pub type Spool = BoundedQueue<Arc<[u8]>>;

/// The largest segment document X-Ray takes (64 kB); larger ones are refused on every path.
pub const MAX_DOCUMENT_BYTES: usize = 64_000;

/// Bytes held in a queue, against a limit: what keeps a queue of up-to-64-KiB documents
/// bounded in memory as well as in count.
#[derive(Debug)]
pub struct ByteBudget {
    held: std::sync::atomic::AtomicU64,
    limit: u64,
}

impl ByteBudget {
    pub fn new(limit: u64) -> ByteBudget {
        ByteBudget {
            held: std::sync::atomic::AtomicU64::new(0),
            limit,
        }
    }

    /// Takes `n` bytes if they fit.
    pub fn take(&self, n: usize) -> bool {
        use std::sync::atomic::Ordering;
        let n = n as u64;
        self.held
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
                (held + n <= self.limit).then_some(held + n)
            })
            .is_ok()
    }

    /// Gives `n` bytes back.
    pub fn give(&self, n: usize) {
        use std::sync::atomic::Ordering;
        let n = n as u64;
        let _ = self
            .held
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
                Some(held.saturating_sub(n))
            });
    }
}

/// The way in.
#[derive(Debug)]
pub struct Ingest {
    pub store: Arc<Store>,
    /// Present when forwarding to X-Ray.
    pub spool: Option<Arc<Spool>>,
    /// The spool's bytes (the forwarder gives back what it takes off).
    pub spool_bytes: Arc<ByteBudget>,
    pub counters: Counters,
    journal: Journal,
    /// Reasons already named in the log.
    logged: Mutex<BTreeSet<String>>,
    /// Set at shutdown, after the inputs have drained.
    closed: std::sync::atomic::AtomicBool,
    /// Documents being taken in right now.
    in_flight: std::sync::atomic::AtomicUsize,
}

/// Counts a document out when dropped.
struct InFlight<'a>(&'a std::sync::atomic::AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    }
}

impl Ingest {
    pub fn new(
        store: Arc<Store>,
        spool: Option<Arc<Spool>>,
        spool_bytes: Arc<ByteBudget>,
        counters: Counters,
        journal: Journal,
    ) -> Ingest {
        Ingest {
            store,
            spool,
            spool_bytes,
            counters,
            journal,
            logged: Mutex::new(BTreeSet::new()),
            closed: std::sync::atomic::AtomicBool::new(false),
            in_flight: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    /// Takes one segment document received at `received` (epoch seconds); returns how many
    /// segments it held, or why it was refused (counted and logged here).
    pub fn accept(&self, document: &[u8], received: f64) -> Result<usize, Invalid> {
        use std::sync::atomic::Ordering;
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        let _done = InFlight(&self.in_flight);
        if self.closed.load(Ordering::Acquire) {
            // Past the last flush: not kept, not forwarded, and said so.
            self.counters.dropped.add(&"shutdown", 1);
            return Err(Invalid {
                code: "ServiceUnavailable",
                detail: "the collector is stopping".into(),
            });
        }
        let document = trim(document);
        if document.len() > MAX_DOCUMENT_BYTES {
            let invalid = Invalid {
                code: "DocumentTooLarge",
                detail: format!(
                    "{} bytes, more than X-Ray takes ({MAX_DOCUMENT_BYTES})",
                    document.len()
                ),
            };
            self.reject(invalid.code, &invalid);
            return Err(invalid);
        }
        // One line per document in the store: the bytes as sent when they are one compact
        // object (checked without building a tree), else each document written out again.
        let one_line =
            document.first() == Some(&b'{') && !document.contains(&b'\n') && !document.contains(&b'\r');
        let keep: Vec<(Facts, Arc<[u8]>)> = match one_line.then(|| quick_check::facts(document)).flatten() {
            Some(facts) => vec![(facts, Arc::from(document))],
            None => match segment::parse(document) {
                Ok(docs) if docs.len() == 1 && one_line => {
                    vec![(Facts::from(&docs[0]), Arc::from(document))]
                }
                Ok(docs) => docs
                    .iter()
                    .map(|d| {
                        let bytes = serde_json::to_vec(&d.json).unwrap_or_default();
                        (Facts::from(d), Arc::from(bytes))
                    })
                    .collect(),
                Err(invalid) => {
                    self.reject(invalid.code, &invalid);
                    return Err(invalid);
                }
            },
        };
        let n = keep.len();
        // Each document goes to X-Ray on its own (an array's subsegments too), so an
        // unprocessed one can be matched by its id and sent again.
        let forward: Vec<Arc<[u8]>> = if self.spool.is_some() {
            keep.iter().map(|(_, bytes)| Arc::clone(bytes)).collect()
        } else {
            Vec::new()
        };
        if self.store.keeps() {
            if let Err(e) = self.store.insert(keep, received) {
                // The documents stay in memory; only the copy on disk is missing.
                self.counters.dropped.add(&"store_error", n as u64);
                self.once("store_error", format_args!("cannot write the trace store: {e}"));
            } else {
                self.counters.stored.add(n as u64);
            }
        }
        if let Some(spool) = &self.spool {
            for doc in forward {
                self.spool_one(spool, doc);
            }
        }
        Ok(n)
    }

    fn spool_one(&self, spool: &Spool, doc: Arc<[u8]>) {
        let len = doc.len();
        let full = || {
            self.counters.dropped.add(&"spool_full", 1);
            self.once(
                "spool_full",
                "the forwarding spool is full (X-Ray unreachable or too slow): dropping new documents",
            );
        };
        if !self.spool_bytes.take(len) {
            full();
            return;
        }
        match spool.push(doc) {
            Pushed::Queued => {}
            Pushed::Dropped => {
                self.spool_bytes.give(len);
                full();
            }
            Pushed::Closed => {
                self.spool_bytes.give(len);
                self.counters.dropped.add(&"shutdown", 1);
            }
        }
    }

    /// Takes nothing more (each later document is counted as dropped at shutdown) and waits,
    /// until `deadline`, for the documents being taken in to finish; true when they did.
    pub async fn close(&self, deadline: tokio::time::Instant) -> bool {
        use std::sync::atomic::Ordering;
        self.closed.store(true, Ordering::Release);
        while self.in_flight.load(Ordering::Acquire) > 0 {
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        true
    }

    /// Counts a refused datagram or document under `reason`, naming it in the log once.
    pub fn reject(&self, reason: &str, detail: &dyn std::fmt::Display) {
        self.reject_many(reason, 1, detail);
    }

    /// Counts `n` refused under `reason`, naming the first in the log.
    pub fn reject_many(&self, reason: &str, n: u64, detail: &dyn std::fmt::Display) {
        self.counters.rejected.add(&reason.to_string(), n);
        self.once(
            reason,
            format_args!(
                "refused a document ({detail}); counting further ones as rejected{{reason=\"{reason}\"}}"
            ),
        );
    }

    /// Logs `message` the first time `key` is met.
    pub fn once(&self, key: &str, message: impl std::fmt::Display) {
        let first = self
            .logged
            .lock()
            .is_ok_and(|mut seen| seen.insert(key.to_string()));
        if first {
            self.journal.log(message);
        }
    }

    /// Updates the store's gauges.
    pub fn refresh_gauges(&self) {
        let (_, bytes, traces) = self.store.size();
        self.counters.store_bytes.set(bytes);
        self.counters.store_traces.set(traces);
        let evicted = self.store.evicted();
        self.counters.evicted.set(&"age", evicted.by_age);
        self.counters.evicted.set(&"size", evicted.by_size);
        if let Some(spool) = &self.spool {
            self.counters.spool_documents.set(spool.len() as u64);
        }
    }
}

fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &bytes[start..end]
}

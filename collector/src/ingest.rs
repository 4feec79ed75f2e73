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

/// The way in.
#[derive(Debug)]
pub struct Ingest {
    pub store: Arc<Store>,
    /// Present when forwarding to X-Ray.
    pub spool: Option<Arc<Spool>>,
    pub counters: Counters,
    journal: Journal,
    /// Reasons already named in the log.
    logged: Mutex<BTreeSet<String>>,
}

impl Ingest {
    pub fn new(store: Arc<Store>, spool: Option<Arc<Spool>>, counters: Counters, journal: Journal) -> Ingest {
        Ingest {
            store,
            spool,
            counters,
            journal,
            logged: Mutex::new(BTreeSet::new()),
        }
    }

    /// Takes one segment document received at `received` (epoch seconds); returns how many
    /// segments it held, or why it was refused (counted and logged here).
    pub fn accept(&self, document: &[u8], received: f64) -> Result<usize, Invalid> {
        let document = trim(document);
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
            match spool.push(Arc::from(document)) {
                Pushed::Queued => {}
                Pushed::Dropped => {
                    self.counters.dropped.add(&"spool_full", 1);
                    self.once(
                        "spool_full",
                        "the forwarding spool is full (X-Ray unreachable or too slow): dropping the oldest documents",
                    );
                }
                Pushed::Closed => self.counters.dropped.add(&"shutdown", 1),
            }
        }
        Ok(n)
    }

    /// Counts a refused datagram or document under `reason`, naming it in the log once.
    pub fn reject(&self, reason: &str, detail: &dyn std::fmt::Display) {
        self.counters.rejected.add(&reason.to_string(), 1);
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

//! Log shipping. The reader thread ([`shipper`]) follows each collected file's glob
//! ([`source`], [`tailer`]), turns lines into events ([`events`]: multi-line, time, filters,
//! redaction), gathers them into batches per stream ([`batch`]) and queues them ([`outbox`],
//! spilling to the [`spool`] during an outage); the sender ([`delivery`]) delivers them to
//! CloudWatch Logs or the local store and acknowledges each event back; [`acks`] turns
//! acknowledgements into [`checkpoint`]s.
//!
//! Delivery is acknowledgement-driven: every event carries the position in its file just past
//! it; a checkpoint advances only over events the backend accepted (or rejected for good, with
//! the reason counted).

pub mod acks;
pub mod batch;
pub mod checkpoint;
pub mod delivery;
pub mod events;
pub mod filters;
pub mod fingerprint;
pub mod journal_cursors;
pub mod journal_entry;
pub mod journalctl;
pub mod journald;
pub mod multiline;
pub mod outbox;
pub mod path_problem;
pub mod reader;
pub mod rejection;
pub mod shipper;
pub mod source;
pub mod spool;
pub mod tailer;
pub mod timestamp_format;
pub mod wake;
pub mod window;

/// Where an event came from, so its acceptance can advance that file's checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AckToken {
    /// The file, as the checkpoint store numbers it.
    pub file: u64,
    /// The offset just past the event's last byte.
    pub end_offset: u64,
}

/// One log event on its way to a log stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEvent {
    pub timestamp_ms: i64,
    pub message: String,
    pub token: AckToken,
}

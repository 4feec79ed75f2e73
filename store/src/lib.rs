//! The local store: where logs and metrics go when there is no AWS, and what `logq --store`,
//! `skywatch metrics` and the alarm evaluator read. One crate owns the format of both, its
//! writing, reading and pruning, so writers and readers cannot drift apart — and a reader needs
//! neither the agent nor the AWS SDK.
//!
//! - [`logs`]: zstd chunks per group and stream, named by their time range.
//! - [`metrics`]: an NDJSON file per UTC hour, one line per datum.
//! - [`durable`]: the one way a file is written atomically (temp, fsync, rename, dir fsync).
//!
//! Both are described for users in docs/local-store.md.

pub mod durable;
pub mod logs;
pub mod metrics;

pub use logs::{LocalLogStore, StoredEvent};
pub use metrics::{read_since as read_metrics_since, Datum, LocalMetricStore, Retention, StoredDatum};

/// The local log store inside a state directory (`logq --store` reads it).
pub fn logs_dir(state_dir: &std::path::Path) -> std::path::PathBuf {
    state_dir.join("logs")
}

/// The local metrics store inside a state directory.
pub fn metrics_dir(state_dir: &std::path::Path) -> std::path::PathBuf {
    state_dir.join("metrics")
}

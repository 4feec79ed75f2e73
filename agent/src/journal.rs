//! The agent's own words: one line per happening on stderr (systemd sends it to the journal),
//! and the wall clock in the unit every timestamp of the agent uses.

use std::time::{SystemTime, UNIX_EPOCH};

/// Writes one log line.
pub fn log(message: impl std::fmt::Display) {
    eprintln!("skywatch agent: {message}");
}

/// Milliseconds since the epoch, now.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

//! The agent's own words: one line per happening on stderr (systemd sends it to the journal),
//! through the runtime's [`Journal`](skywatch_runtime::Journal) for the `agent` part.

pub use skywatch_runtime::clock::now_ms;

/// Writes one log line as the agent.
pub fn log(message: impl std::fmt::Display) {
    crate::daemon::JOURNAL.log(message);
}

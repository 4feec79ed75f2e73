//! What every long-running skywatch part runs on — the agent today, the collector and the alarm
//! evaluator next, and `skywatch up`, which runs them all in one process.
//!
//! Design decision: a part does not own the process. It is handed a [`PartContext`] (its
//! [`Journal`], a [`ShutdownSignal`] with a deadline, reload requests, the state directory) by
//! a [`Host`], which turns SIGTERM/SIGINT/SIGHUP into events, speaks systemd's notify protocol
//! and watchdog, and stops the parts one by one in the reverse of the order they started (so
//! a producer such as the collector stops before the consumer it feeds). One process can
//! therefore host several parts, each with its own config section, and each part stays
//! testable without signals.
//!
//! Also here, because every part needs them the same way: [`queue::BoundedQueue`] (a bounded
//! queue whose full-queue policy and drop count are explicit) and the wall [`clock`].

pub mod clock;
pub mod host;
pub mod journal;
pub mod queue;
pub mod shutdown;
pub mod signals;
pub mod state_dir;
pub mod systemd;

pub use host::{Host, HostEvent, PartContext};
pub use journal::Journal;
pub use shutdown::{shutdown_pair, ShutdownHandle, ShutdownSignal};
pub use signals::{SignalEvent, Signals};
pub use state_dir::{resolve as resolve_state_dir, StateLock};

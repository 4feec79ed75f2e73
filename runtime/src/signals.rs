//! SIGTERM, SIGINT and SIGHUP as events: stop (the first two) and reload.

use tokio::signal::unix::{signal, Signal, SignalKind};

/// What a signal asks of the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignalEvent {
    /// SIGTERM (systemd's stop) or SIGINT (Ctrl-C).
    Stop,
    /// SIGHUP: read the configuration again.
    Reload,
}

/// The process's stop and reload signals, listened to from creation on.
#[derive(Debug)]
pub struct Signals {
    term: Signal,
    int: Signal,
    hup: Signal,
}

impl Signals {
    /// Starts listening. Fails only if the runtime cannot install the handlers.
    pub fn new() -> std::io::Result<Signals> {
        Ok(Signals {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
            hup: signal(SignalKind::hangup())?,
        })
    }

    /// The next signal.
    pub async fn next(&mut self) -> SignalEvent {
        tokio::select! {
            _ = self.term.recv() => SignalEvent::Stop,
            _ = self.int.recv() => SignalEvent::Stop,
            _ = self.hup.recv() => SignalEvent::Reload,
        }
    }
}

//! Telling a part to stop, and by when. The handle sets a deadline once; every
//! [`ShutdownSignal`] sees it at once — a sender waiting out a backoff wakes, checks whether its
//! next try still fits before the deadline, and gives up cleanly (saying what it leaves) if not.

use std::time::{Duration, Instant};

use tokio::sync::watch;

/// Sets the deadline.
#[derive(Debug)]
pub struct ShutdownHandle {
    sender: watch::Sender<Option<Instant>>,
}

/// Watches for the deadline. Cheap to clone: give one to every task of a part.
#[derive(Debug, Clone)]
pub struct ShutdownSignal {
    receiver: watch::Receiver<Option<Instant>>,
}

/// A handle and its first signal.
pub fn shutdown_pair() -> (ShutdownHandle, ShutdownSignal) {
    let (sender, receiver) = watch::channel(None);
    (ShutdownHandle { sender }, ShutdownSignal { receiver })
}

impl ShutdownHandle {
    /// Asks to stop, with whatever is in flight finished within `within`.
    pub fn stop(&self, within: Duration) {
        self.stop_by(Instant::now() + within);
    }

    /// Asks to stop by `deadline`. An earlier deadline already set is kept, and then nobody is
    /// woken (a sender waiting out a backoff keeps waiting).
    pub fn stop_by(&self, deadline: Instant) {
        self.sender.send_if_modified(|current| match *current {
            Some(earlier) if earlier <= deadline => false,
            _ => {
                *current = Some(deadline);
                true
            }
        });
    }

    /// Another signal watching this handle.
    pub fn signal(&self) -> ShutdownSignal {
        ShutdownSignal {
            receiver: self.sender.subscribe(),
        }
    }
}

impl ShutdownSignal {
    /// The deadline, once a stop was asked for.
    pub fn deadline(&self) -> Option<Instant> {
        *self.receiver.borrow()
    }

    pub fn is_stopping(&self) -> bool {
        self.deadline().is_some()
    }

    /// How long until the deadline (zero once passed); `None` while not stopping.
    pub fn time_left(&self) -> Option<Duration> {
        self.deadline()
            .map(|deadline| deadline.saturating_duration_since(Instant::now()))
    }

    /// Whether something that takes `wait` from now would end after the deadline.
    pub fn would_pass_deadline(&self, wait: Duration) -> bool {
        self.deadline()
            .is_some_and(|deadline| Instant::now() + wait > deadline)
    }

    /// Returns once a stop is asked for (at once if it already was). Never returns when the
    /// handle is gone without asking.
    pub async fn stopping(&mut self) {
        if self.receiver.wait_for(Option::is_some).await.is_err() {
            std::future::pending::<()>().await;
        }
    }

    /// Sleeps `wait`, or less if a stop (or an earlier deadline) is asked for meanwhile. Once
    /// stopping, it sleeps the whole `wait` again unless the deadline changes.
    pub async fn sleep(&mut self, wait: Duration) {
        let mut changes = self.receiver.clone();
        changes.borrow_and_update();
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            changed = changes.changed() => {
                if changed.is_err() {
                    // The handle is gone without a change: nothing can wake us early.
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::shutdown_pair;

    #[tokio::test]
    async fn a_stop_wakes_a_sleeping_signal_and_keeps_the_earliest_deadline() {
        let (handle, mut signal) = shutdown_pair();
        assert!(!signal.is_stopping());
        let (started_tx, started) = tokio::sync::oneshot::channel();
        let waiter = tokio::spawn(async move {
            // On this single-threaded runtime the test goes on only once the sleep is waiting.
            let _ = started_tx.send(());
            signal.sleep(Duration::from_secs(3600)).await;
            signal
        });
        started.await.unwrap();
        handle.stop(Duration::from_secs(5));
        let signal = tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .expect("woken by the stop")
            .unwrap();
        let first = signal.deadline().unwrap();
        handle.stop(Duration::from_secs(60));
        assert_eq!(
            signal.deadline(),
            Some(first),
            "a later deadline does not extend it"
        );
        let mut stopping = signal.clone();
        let started = std::time::Instant::now();
        stopping.sleep(Duration::from_millis(50)).await;
        assert!(
            started.elapsed() >= Duration::from_millis(50),
            "once stopping, a sleep is whole"
        );
        assert!(signal.would_pass_deadline(Duration::from_secs(10)));
        assert!(!signal.would_pass_deadline(Duration::ZERO));
    }
}

//! Runs long-lived parts in one process: starts each with its context, turns signals into
//! events (SIGTERM/SIGINT stop every part, SIGHUP asks each to reload), tells systemd (READY,
//! RELOADING, STOPPING, watchdog pings), and stops the parts in the reverse of the order they
//! started, each within its own deadline.

use std::future::Future;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use crate::journal::Journal;
use crate::shutdown::{shutdown_pair, ShutdownHandle, ShutdownSignal};
use crate::signals::{SignalEvent, Signals};
use crate::systemd;

/// How long the host waits for every part to say a reload is done before telling systemd it is
/// ready again.
const RELOAD_TIMEOUT: Duration = Duration::from_secs(30);

/// What the host asks of a running part besides stopping.
#[derive(Debug)]
pub enum HostEvent {
    /// Read the configuration again; answer on `done` when through (dropping it counts too).
    Reload { done: oneshot::Sender<()> },
}

/// What a part is handed when it starts.
#[derive(Debug)]
pub struct PartContext {
    pub journal: Journal,
    /// Set when the part must stop, with the deadline for what it has in flight.
    pub shutdown: ShutdownSignal,
    pub events: mpsc::Receiver<HostEvent>,
}

/// Tells the host a part's task ended, when dropped.
struct ExitNotice {
    name: &'static str,
    sender: mpsc::UnboundedSender<&'static str>,
}

impl Drop for ExitNotice {
    fn drop(&mut self) {
        let _ = self.sender.send(self.name);
    }
}

struct Started {
    journal: Journal,
    stop_timeout: Duration,
    shutdown: ShutdownHandle,
    events: mpsc::Sender<HostEvent>,
    task: tokio::task::JoinHandle<Result<(), String>>,
}

/// The parts of one process.
pub struct Host {
    journal: Journal,
    parts: Vec<Started>,
    exited_tx: mpsc::UnboundedSender<&'static str>,
    exited_rx: mpsc::UnboundedReceiver<&'static str>,
}

impl std::fmt::Debug for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<&str> = self.parts.iter().map(|p| p.journal.part()).collect();
        f.debug_struct("Host")
            .field("parts", &parts)
            .finish_non_exhaustive()
    }
}

impl Host {
    /// A host that logs as `journal`.
    pub fn new(journal: Journal) -> Host {
        let (exited_tx, exited_rx) = mpsc::unbounded_channel();
        Host {
            journal,
            parts: Vec::new(),
            exited_tx,
            exited_rx,
        }
    }

    /// Starts a part: `run` gets its context and runs until its shutdown signal says stop (it
    /// must then finish within `stop_timeout`). A part that ends by itself stops the others.
    pub fn start<F, Fut>(&mut self, journal: Journal, stop_timeout: Duration, run: F)
    where
        F: FnOnce(PartContext) -> Fut,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        let (handle, signal) = shutdown_pair();
        let (events_tx, events_rx) = mpsc::channel(4);
        let future = run(PartContext {
            journal,
            shutdown: signal,
            events: events_rx,
        });
        // Sent when the task ends however it ends — a panic unwinds through the guard too, so a
        // part that dies stops the host instead of leaving a process that only pings the
        // watchdog.
        let exited = ExitNotice {
            name: journal.part(),
            sender: self.exited_tx.clone(),
        };
        let task = tokio::spawn(async move {
            let _notice = exited;
            future.await
        });
        self.parts.push(Started {
            journal,
            stop_timeout,
            shutdown: handle,
            events: events_tx,
            task,
        });
    }

    /// Runs until a stop signal or until a part ends by itself, then stops every part in the
    /// reverse of the order they started. Returns each part's error, if any.
    pub async fn run(mut self, mut signals: Signals) -> Vec<(&'static str, String)> {
        systemd::notify("READY=1");
        let watchdog = tokio::spawn(systemd::Watchdog::from_env().run());
        loop {
            tokio::select! {
                event = signals.next() => match event {
                    SignalEvent::Stop => break,
                    SignalEvent::Reload => self.reload().await,
                },
                Some(part) = self.exited_rx.recv() => {
                    self.journal.log(format_args!("{part} ended; stopping"));
                    break;
                }
            }
        }
        systemd::notify("STOPPING=1");
        watchdog.abort();
        let mut errors = Vec::new();
        while let Some(part) = self.parts.pop() {
            part.shutdown.stop(part.stop_timeout);
            let name = part.journal.part();
            match part.task.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => errors.push((name, e)),
                Err(e) => errors.push((name, format!("failed unexpectedly: {e}"))),
            }
        }
        errors
    }

    async fn reload(&mut self) {
        systemd::notify("RELOADING=1");
        let mut waiting = Vec::new();
        for part in &self.parts {
            let (done, answer) = oneshot::channel();
            if part.events.send(HostEvent::Reload { done }).await.is_ok() {
                waiting.push(answer);
            }
        }
        let all = async {
            for answer in waiting {
                let _ = answer.await;
            }
        };
        if tokio::time::timeout(RELOAD_TIMEOUT, all).await.is_err() {
            self.journal.log("a part did not finish reloading in time");
        }
        systemd::notify("READY=1");
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use super::{Host, HostEvent};
    use crate::journal::Journal;

    #[tokio::test]
    async fn parts_stop_in_reverse_order_and_one_ending_stops_the_rest() {
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut host = Host::new(Journal::new("test"));
        for name in ["first", "second"] {
            let order = Arc::clone(&order);
            host.start(
                Journal::new(name),
                Duration::from_secs(5),
                move |mut ctx| async move {
                    ctx.shutdown.stopping().await;
                    order.lock().unwrap().push(name);
                    Ok(())
                },
            );
        }
        host.start(
            Journal::new("short"),
            Duration::from_secs(5),
            |mut ctx| async move {
                // Answers a reload if one came, then ends by itself with an error.
                if let Ok(Some(HostEvent::Reload { done })) =
                    tokio::time::timeout(Duration::from_millis(10), ctx.events.recv()).await
                {
                    let _ = done.send(());
                }
                Err("gave up".to_string())
            },
        );
        let signals = crate::signals::Signals::new().unwrap();
        let errors = tokio::time::timeout(Duration::from_secs(10), host.run(signals))
            .await
            .expect("the host stops when a part ends");
        assert_eq!(errors, [("short", "gave up".to_string())]);
        assert_eq!(*order.lock().unwrap(), ["second", "first"]);
    }

    #[tokio::test]
    async fn a_part_that_panics_stops_the_host_and_is_reported() {
        let mut host = Host::new(Journal::new("test"));
        host.start(
            Journal::new("steady"),
            Duration::from_secs(5),
            |mut ctx| async move {
                ctx.shutdown.stopping().await;
                Ok(())
            },
        );
        host.start(Journal::new("broken"), Duration::from_secs(5), |_| async {
            panic!("a bug in the part");
        });
        let signals = crate::signals::Signals::new().unwrap();
        let errors = tokio::time::timeout(Duration::from_secs(10), host.run(signals))
            .await
            .expect("a panicking part stops the host");
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].0, "broken");
        assert!(errors[0].1.starts_with("failed unexpectedly"), "{errors:?}");
    }
}

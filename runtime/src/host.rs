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
use crate::systemd::{self, Liveness};

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
    /// Beat it from the main loop, at least every `liveness.every()`.
    pub liveness: Liveness,
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
    liveness: Liveness,
    stop_timeout: Duration,
    shutdown: ShutdownHandle,
    events: mpsc::Sender<HostEvent>,
    task: tokio::task::JoinHandle<Result<(), String>>,
}

/// The parts of one process.
pub struct Host {
    journal: Journal,
    /// Half of systemd's `WatchdogSec`, when it set one.
    watchdog: Option<Duration>,
    /// A silent part was named already (once per silence).
    silence_logged: bool,
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
    /// A host that logs as `journal`, pinging systemd's watchdog if it asked for it.
    pub fn new(journal: Journal) -> Host {
        Host::with_watchdog(journal, systemd::watchdog_interval())
    }

    /// A host that pings the watchdog every `watchdog` (none: never).
    pub fn with_watchdog(journal: Journal, watchdog: Option<Duration>) -> Host {
        let (exited_tx, exited_rx) = mpsc::unbounded_channel();
        Host {
            journal,
            watchdog,
            silence_logged: false,
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
        let liveness = Liveness::new(self.watchdog);
        let future = run(PartContext {
            journal,
            shutdown: signal,
            events: events_rx,
            liveness: liveness.clone(),
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
            liveness,
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
        let mut next_ping = self.watchdog.map(|every| tokio::time::Instant::now() + every);
        loop {
            let ping = async {
                match next_ping {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = ping => {
                    self.ping_watchdog();
                    next_ping = self.watchdog.map(|every| tokio::time::Instant::now() + every);
                }
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

    /// Pings systemd's watchdog if every part beat within the watchdog's interval (twice the
    /// ping period); else names the silent part and lets systemd restart the service.
    fn ping_watchdog(&mut self) {
        let Some(every) = self.watchdog else {
            return;
        };
        let silent: Vec<&str> = self
            .parts
            .iter()
            .filter(|p| p.liveness.since_last_beat() > every * 2)
            .map(|p| p.journal.part())
            .collect();
        if silent.is_empty() {
            systemd::notify("WATCHDOG=1");
            self.silence_logged = false;
        } else if !self.silence_logged {
            self.silence_logged = true;
            self.journal.log(format_args!(
                "{} did not check in for {} s: not pinging the watchdog",
                silent.join(", "),
                (every * 2).as_secs()
            ));
        }
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
    async fn the_watchdog_is_pinged_only_while_every_part_beats() {
        // Each test runs in a process of its own under nextest: the variable is ours alone.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify.sock");
        let socket = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
        socket.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        std::env::set_var("NOTIFY_SOCKET", &path);
        let every = Duration::from_millis(20);
        let mut host = Host::with_watchdog(Journal::new("test"), Some(every));
        let (go_silent, silent) = tokio::sync::oneshot::channel::<()>();
        host.start(
            Journal::new("beating"),
            Duration::from_secs(5),
            move |mut ctx| async move {
                let mut silent = silent;
                loop {
                    tokio::select! {
                        () = tokio::time::sleep(every / 2) => ctx.liveness.beat(),
                        _ = &mut silent => break,
                    }
                }
                // Stuck on an await: no more beats.
                ctx.shutdown.stopping().await;
                Ok(())
            },
        );
        let signals = crate::signals::Signals::new().unwrap();
        let run = tokio::spawn(host.run(signals));
        let next = |socket: &std::os::unix::net::UnixDatagram| {
            let mut buf = [0u8; 64];
            let n = socket.recv(&mut buf).unwrap();
            String::from_utf8_lossy(&buf[..n]).into_owned()
        };
        let socket = tokio::task::spawn_blocking(move || {
            assert_eq!(next(&socket), "READY=1");
            for _ in 0..3 {
                assert_eq!(next(&socket), "WATCHDOG=1");
            }
            socket
        })
        .await
        .unwrap();
        go_silent.send(()).unwrap();
        // Pings may still come until the last beat is older than twice the period, then stop.
        socket.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
        let after = tokio::task::spawn_blocking(move || {
            let mut pings = 0;
            let mut buf = [0u8; 64];
            while socket.recv(&mut buf).is_ok() {
                pings += 1;
                assert!(pings < 10, "pings go on while the part is silent");
            }
        });
        after.await.unwrap();
        run.abort();
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

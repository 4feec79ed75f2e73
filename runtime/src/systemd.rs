//! The systemd notification protocol (`Type=notify`): `READY=1` once the parts run,
//! `WATCHDOG=1` pings at half the unit's `WatchdogSec`, `RELOADING=1`/`STOPPING=1`. A datagram
//! to `$NOTIFY_SOCKET`; nothing at all when the variable is unset (not under systemd).

use std::os::unix::net::UnixDatagram;
use std::time::Duration;

/// Sends `state` (`READY=1`, …) to systemd, if it is listening. Failures are ignored: the
/// notification is advisory, and systemd reports a missing READY itself.
pub fn notify(state: &str) {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let Ok(socket) = UnixDatagram::unbound() else {
        return;
    };
    let bytes = path.as_encoded_bytes();
    if let Some(name) = bytes.strip_prefix(b"@") {
        use std::os::linux::net::SocketAddrExt;
        if let Ok(addr) = std::os::unix::net::SocketAddr::from_abstract_name(name) {
            let _ = socket.send_to_addr(state.as_bytes(), &addr);
        }
    } else {
        let _ = socket.send_to(state.as_bytes(), &path);
    }
}

/// How often to ping the watchdog: half of `$WATCHDOG_USEC`, if set for this process.
pub fn watchdog_interval() -> Option<Duration> {
    if let Some(pid) = std::env::var("WATCHDOG_PID")
        .ok()
        .and_then(|p| p.parse::<u32>().ok())
    {
        if pid != std::process::id() {
            return None;
        }
    }
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
    (usec > 0).then(|| Duration::from_micros(usec / 2))
}

/// A part's proof of life for the watchdog: the part calls [`Liveness::beat`] from its main
/// loop, waking at least every [`Liveness::every`]. The host pings systemd only while every part
/// has beaten within the watchdog's interval, so a part stuck on an await (not only a blocked
/// thread) gets the service restarted.
#[derive(Debug, Clone)]
pub struct Liveness {
    every: Option<Duration>,
    last_beat: std::sync::Arc<std::sync::Mutex<std::time::Instant>>,
}

impl Liveness {
    /// A liveness for a part under a watchdog that wants a ping `every` (none: no watchdog).
    pub fn new(every: Option<Duration>) -> Liveness {
        Liveness {
            every,
            last_beat: std::sync::Arc::new(std::sync::Mutex::new(std::time::Instant::now())),
        }
    }

    /// How often the part must beat at least; `None` without a watchdog.
    pub fn every(&self) -> Option<Duration> {
        self.every
    }

    /// The part is alive now.
    pub fn beat(&self) {
        if let Ok(mut last) = self.last_beat.lock() {
            *last = std::time::Instant::now();
        }
    }

    /// How long since the last beat.
    pub fn since_last_beat(&self) -> Duration {
        self.last_beat.lock().map_or(Duration::MAX, |last| last.elapsed())
    }
}

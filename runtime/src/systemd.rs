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

/// Pings systemd's watchdog at half its interval; inert when systemd asked for none.
#[derive(Debug)]
pub struct Watchdog {
    every: Option<Duration>,
}

impl Watchdog {
    pub fn from_env() -> Watchdog {
        Watchdog {
            every: watchdog_interval(),
        }
    }

    /// Pings forever (never returns; without a watchdog it only waits).
    pub async fn run(self) {
        let Some(every) = self.every else {
            return std::future::pending().await;
        };
        let mut ticks = tokio::time::interval(every);
        loop {
            ticks.tick().await;
            notify("WATCHDOG=1");
        }
    }
}

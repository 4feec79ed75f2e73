//! `skywatch agent` under systemd's notify protocol, with a stand-in for systemd: a datagram
//! socket named by `NOTIFY_SOCKET` that records what the agent says (READY, RELOADING, STOPPING)
//! and the watchdog pings a `WATCHDOG_USEC` asks for.

use std::os::unix::net::UnixDatagram;
use std::time::Duration;

use skywatch_tests::poll::poll_until;

use crate::running_agent::Agent;

/// Everything received so far, in order.
fn received(socket: &UnixDatagram, got: &mut Vec<String>) {
    let mut buf = [0u8; 256];
    while let Ok(n) = socket.recv(&mut buf) {
        got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
}

fn wait_for(socket: &UnixDatagram, got: &mut Vec<String>, what: &str, count: usize) {
    poll_until(
        &format!("{count} × {what:?} on the notify socket"),
        Duration::from_secs(15),
        Duration::from_millis(20),
        || {
            received(socket, got);
            (got.iter().filter(|m| *m == what).count() >= count).then_some(())
        },
    )
    .unwrap_or_else(|e| panic!("{e}: got {got:?}"));
}

#[test]
fn ready_watchdog_reload_and_stop_are_told_to_systemd() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&path).unwrap();
    socket.set_nonblocking(true).unwrap();
    let config = "[outputs]\nmetrics = \"local\"\n[metrics.mem]\nmeasurement = [\"used_percent\"]\n";
    let agent = Agent::start(
        config,
        &[
            ("NOTIFY_SOCKET", path.display().to_string()),
            // A ping every 150 ms.
            ("WATCHDOG_USEC", "300000".to_string()),
            ("AWS_EC2_METADATA_DISABLED", "true".to_string()),
        ],
        &[],
    );
    let mut got = Vec::new();
    wait_for(&socket, &mut got, "READY=1", 1);
    wait_for(&socket, &mut got, "WATCHDOG=1", 3);
    agent.signal("HUP");
    wait_for(&socket, &mut got, "RELOADING=1", 1);
    wait_for(&socket, &mut got, "READY=1", 2);
    let reloading = got.iter().position(|m| m == "RELOADING=1").unwrap();
    assert!(
        got[reloading..].iter().any(|m| m == "READY=1"),
        "READY=1 follows RELOADING=1: {got:?}"
    );
    let (status, log) = agent.stop(Duration::from_secs(30));
    assert!(status.success(), "{log}");
    received(&socket, &mut got);
    assert_eq!(got.last().map(String::as_str), Some("STOPPING=1"), "{got:?}");
    assert!(log.contains("reloaded"), "{log}");
}

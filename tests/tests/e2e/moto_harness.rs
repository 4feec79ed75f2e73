//! The moto fixture itself: it starts, answers, stops, and fails clearly.

use std::net::TcpStream;
use std::time::Duration;

use skywatch_tests::moto::{MotoError, MotoServer, MOTO_BIN_ENV};
use skywatch_tests::poll::poll_until;

#[test]
fn own_server_listens_on_loopback_and_stops_when_dropped() {
    let server = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    let addr = server.addr();
    assert!(addr.ip().is_loopback());
    assert!(TcpStream::connect(addr).is_ok());
    assert!(server.endpoint_url().starts_with("http://127.0.0.1:"));
    drop(server);
    poll_until(
        "moto to stop listening",
        Duration::from_secs(15),
        Duration::from_millis(50),
        || TcpStream::connect(addr).is_err().then_some(()),
    )
    .unwrap();
}

#[test]
fn missing_executable_is_a_clear_error() {
    // The variable is read once per start; this test's own value cannot leak into a running start
    // in another test, because every other test uses the shared server, started lazily with the
    // default. Run it through a child process anyway, to keep the environment of this one clean.
    if std::env::var_os("SKYWATCH_TEST_CHILD").is_some() {
        let err = MotoServer::start().unwrap_err();
        assert!(matches!(err, MotoError::Spawn { .. }), "{err:?}");
        let text = err.to_string();
        assert!(
            text.contains("cannot run /nonexistent/moto_server: not found"),
            "{text}"
        );
        assert!(text.contains("pip install 'moto[server]'"), "{text}");
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let status = std::process::Command::new(exe)
        .args([
            "--exact",
            "moto_harness::missing_executable_is_a_clear_error",
            "--nocapture",
        ])
        .env("SKYWATCH_TEST_CHILD", "1")
        .env(MOTO_BIN_ENV, "/nonexistent/moto_server")
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn a_server_that_dies_at_start_is_reported_with_its_log() {
    if std::env::var_os("SKYWATCH_TEST_CHILD").is_some() {
        let err = MotoServer::start().unwrap_err();
        let text = err.to_string();
        assert!(text.contains("exited before it was ready"), "{text}");
        assert!(text.contains("boom: no emulator here"), "{text}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("fake_moto");
    std::fs::write(&fake, "#!/bin/sh\necho 'boom: no emulator here' >&2\nexit 3\n").unwrap();
    let status = std::process::Command::new("chmod")
        .arg("+x")
        .arg(&fake)
        .status()
        .unwrap();
    assert!(status.success());
    let exe = std::env::current_exe().unwrap();
    let status = std::process::Command::new(exe)
        .args([
            "--exact",
            "moto_harness::a_server_that_dies_at_start_is_reported_with_its_log",
            "--nocapture",
        ])
        .env("SKYWATCH_TEST_CHILD", "1")
        .env(MOTO_BIN_ENV, &fake)
        .status()
        .unwrap();
    assert!(status.success());
}

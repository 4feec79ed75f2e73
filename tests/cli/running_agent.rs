//! `skywatch agent` as a child process whose stderr goes to a file the test can read while it
//! runs; procfs comes from a fixture (`SKYWATCH_PROC_ROOT`).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use skywatch_tests::poll::poll_until;

/// The fixture's meminfo: a modern kernel with swap.
pub const PROC_FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/agent/tests/procfs/modern-with-swap");

pub struct Agent {
    child: Child,
    stderr: PathBuf,
    dir: PathBuf,
    /// The directory the agent owns, removed when it is dropped (none: the caller's).
    owned_dir: Option<tempfile::TempDir>,
    pub config: PathBuf,
}

impl Agent {
    /// Starts the agent with `config` in a directory of its own.
    pub fn start(config: &str, env: &[(&str, String)], extra_args: &[&str]) -> Agent {
        let temp = tempfile::tempdir().unwrap();
        let mut agent = Agent::start_in(temp.path(), config, env, extra_args);
        agent.owned_dir = Some(temp);
        agent
    }

    /// Starts the agent with `config` in `dir` (its state in `dir/state`, its stderr appended to
    /// `dir/stderr.log`), so a restarted agent finds what the last one left.
    pub fn start_in(dir: &Path, config: &str, env: &[(&str, String)], extra_args: &[&str]) -> Agent {
        let config_path = dir.join("skywatch.toml");
        std::fs::write(&config_path, config).unwrap();
        let stderr = dir.join("stderr.log");
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&stderr)
            .unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_skywatch"));
        command
            .args(["agent", "--config", config_path.to_str().unwrap()])
            .args(["--state-dir", dir.join("state").to_str().unwrap()])
            .args(extra_args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", dir)
            .env("SKYWATCH_PROC_ROOT", PROC_FIXTURE)
            .stdout(Stdio::null())
            .stderr(log_file);
        for (k, v) in env {
            command.env(k, v);
        }
        Agent {
            child: command.spawn().unwrap(),
            stderr,
            dir: dir.to_path_buf(),
            owned_dir: None,
            config: config_path,
        }
    }

    pub fn state_dir(&self) -> PathBuf {
        self.dir.join("state")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    pub fn wait_for_log(&self, words: &str, timeout: Duration) {
        poll_until(
            &format!("{words:?} in the agent's log"),
            timeout,
            Duration::from_millis(50),
            || self.log().contains(words).then_some(()),
        )
        .unwrap_or_else(|e| panic!("{e}\n--- agent log ---\n{}", self.log()));
    }

    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// SIGKILL: no chance to flush or save anything.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The exit status once the agent exits by itself (`--once`), within `timeout`.
    pub fn wait(&mut self, timeout: Duration) -> (std::process::ExitStatus, String) {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status, self.log());
            }
            assert!(
                Instant::now() < deadline,
                "no exit within {timeout:?}:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGTERM, then the exit status within `timeout`.
    pub fn stop(mut self, timeout: Duration) -> (std::process::ExitStatus, String) {
        self.signal("TERM");
        self.wait(timeout)
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The whole HTTP response to `GET path` from `addr` (the health listener).
pub fn http_get(addr: &str, path: &str) -> String {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

/// A loopback address with a port free right now.
pub fn free_loopback_addr() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().to_string()
}

/// A loopback UDP address with a port free right now.
pub fn free_loopback_udp_addr() -> String {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.local_addr().unwrap().to_string()
}

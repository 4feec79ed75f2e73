//! `moto_server`, the local AWS emulator, as a test fixture.
//!
//! [`MotoServer::start`] runs a server of its own on a free 127.0.0.1 port; [`shared`] starts one per
//! test process and hands out guards. Either way the server is polled until it answers (with a
//! deadline), its log goes to a file, and the log's tail is printed when a test fails while holding
//! it.
//!
//! The server runs under a small shell that kills it when our end of its stdin closes. That end
//! closes when the [`MotoServer`] is dropped *and* when the test process exits for any reason, so a
//! crashed or aborted test run never leaves an emulator behind.

use std::fmt;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The environment variable that names the moto executable (default `moto_server` on `PATH`).
pub const MOTO_BIN_ENV: &str = "SKYWATCH_MOTO_SERVER";
/// How long a fresh server may take to answer before the start fails (it usually takes < 1 s).
pub const READY_TIMEOUT: Duration = Duration::from_secs(20);
/// Lines of the server log printed when a test fails.
const LOG_TAIL_LINES: usize = 60;

/// Why a server could not be started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MotoError {
    /// The executable could not be run at all.
    Spawn { program: String, reason: String },
    /// The server process ended before it answered.
    Exited { status: String, log_tail: String },
    /// The server did not answer within [`READY_TIMEOUT`].
    NotReady { addr: SocketAddr, log_tail: String },
    /// A temporary directory or port could not be had.
    Io(String),
}

impl fmt::Display for MotoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MotoError::Spawn { program, reason } => write!(
                f,
                "cannot run {program}: {reason} (install it with `pip install 'moto[server]'`, or set {MOTO_BIN_ENV})"
            ),
            MotoError::Exited { status, log_tail } => {
                write!(f, "moto_server exited before it was ready ({status}); its log ends:\n{log_tail}")
            }
            MotoError::NotReady { addr, log_tail } => write!(
                f,
                "moto_server on {addr} did not answer within {READY_TIMEOUT:?}; its log ends:\n{log_tail}"
            ),
            MotoError::Io(reason) => write!(f, "cannot prepare moto_server: {reason}"),
        }
    }
}

impl std::error::Error for MotoError {}

/// A running `moto_server`. Dropping it stops the server.
pub struct MotoServer {
    addr: SocketAddr,
    log_path: PathBuf,
    // Closing this pipe is what stops the server (see the module docs).
    lifeline: Option<ChildStdin>,
    supervisor: Option<Child>,
    _dir: tempfile::TempDir,
}

impl fmt::Debug for MotoServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MotoServer")
            .field("addr", &self.addr)
            .field("log", &self.log_path)
            .finish_non_exhaustive()
    }
}

impl MotoServer {
    /// Starts a server of its own on a free loopback port and waits until it answers.
    pub fn start() -> Result<MotoServer, MotoError> {
        let program = std::env::var(MOTO_BIN_ENV).unwrap_or_else(|_| "moto_server".to_string());
        // The free port is found by binding and releasing it; another process could take it in
        // between, so a server that dies at once is retried on a new port.
        let mut last_error = None;
        for _ in 0..3 {
            match Self::start_once(&program) {
                Ok(server) => return Ok(server),
                Err(MotoError::Exited { status, log_tail })
                    if log_tail.contains("Address already in use") =>
                {
                    last_error = Some(MotoError::Exited { status, log_tail });
                }
                Err(other) => return Err(other),
            }
        }
        Err(last_error.unwrap_or_else(|| MotoError::Io("no free port".to_string())))
    }

    fn start_once(program: &str) -> Result<MotoServer, MotoError> {
        let dir = tempfile::Builder::new()
            .prefix("skywatch-moto-")
            .tempdir()
            .map_err(|e| MotoError::Io(format!("temp dir: {e}")))?;
        let port = free_port().map_err(|e| MotoError::Io(format!("free port: {e}")))?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let log_path = dir.path().join("moto.log");
        let log = std::fs::File::create(&log_path).map_err(|e| MotoError::Io(format!("log file: {e}")))?;
        let log_err = log
            .try_clone()
            .map_err(|e| MotoError::Io(format!("log file: {e}")))?;

        // Check the program runs before handing it to the shell, so a missing binary is a clear
        // error rather than a shell message in the log.
        which(program).ok_or_else(|| MotoError::Spawn {
            program: program.to_string(),
            reason: "not found".to_string(),
        })?;

        // $1 program, $2 port. The server is stopped when stdin reaches EOF, and the shell exits
        // with the server's status if the server ends on its own (so an early death is seen).
        // A background job's stdin is /dev/null unless redirected, hence the copy of it on fd 3.
        let script = r#"exec 3<&0
"$1" -H 127.0.0.1 -p "$2" 3<&- & m=$!
{ cat >/dev/null; kill "$m" 2>/dev/null; } <&3 &
exec 3<&-
wait "$m""#;
        let mut supervisor = Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg("sh")
            .arg(program)
            .arg(port.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log_err))
            .spawn()
            .map_err(|e| MotoError::Spawn {
                program: "sh".to_string(),
                reason: e.to_string(),
            })?;
        let lifeline = supervisor.stdin.take();
        let mut server = MotoServer {
            addr,
            log_path,
            lifeline,
            supervisor: Some(supervisor),
            _dir: dir,
        };
        server.wait_ready()?;
        Ok(server)
    }

    fn wait_ready(&mut self) -> Result<(), MotoError> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if answers_http(self.addr) {
                return Ok(());
            }
            if let Some(child) = self.supervisor.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    return Err(MotoError::Exited {
                        status: status.to_string(),
                        log_tail: self.log_tail(),
                    });
                }
            }
            if Instant::now() >= deadline {
                return Err(MotoError::NotReady {
                    addr: self.addr,
                    log_tail: self.log_tail(),
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The socket address the server listens on (always on 127.0.0.1).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port>`, for `AWS_ENDPOINT_URL` or an SDK `endpoint_url`.
    pub fn endpoint_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Where the server's log is written.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The last lines of the server's log.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log_path).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n")
    }

    /// Prints the log's tail to stderr if the current thread is panicking (a test is failing).
    fn report_if_failing(&self) {
        if std::thread::panicking() {
            eprintln!(
                "---- moto_server log ({}), last lines ----\n{}",
                self.log_path.display(),
                self.log_tail()
            );
        }
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        self.report_if_failing();
        // EOF on the lifeline makes the shell kill the server; reap the shell off the test's path.
        drop(self.lifeline.take());
        if let Some(mut child) = self.supervisor.take() {
            std::thread::spawn(move || {
                let deadline = Instant::now() + Duration::from_secs(10);
                while Instant::now() < deadline {
                    if let Ok(Some(_)) = child.try_wait() {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
                let _ = child.kill();
                let _ = child.wait();
            });
        }
    }
}

/// A handle to the process-wide shared server. Holding one in a test means the server's log is
/// printed if that test fails.
#[derive(Debug)]
pub struct SharedMoto {
    server: &'static MotoServer,
}

impl std::ops::Deref for SharedMoto {
    type Target = MotoServer;
    fn deref(&self) -> &MotoServer {
        self.server
    }
}

impl Drop for SharedMoto {
    fn drop(&mut self) {
        self.server.report_if_failing();
    }
}

/// The server shared by every test in this process, started on first use. Tests that share it must
/// use unique resource names ([`crate::names::unique_name`]) and never reset it.
pub fn shared() -> Result<SharedMoto, MotoError> {
    static SHARED: OnceLock<Result<MotoServer, MotoError>> = OnceLock::new();
    match SHARED.get_or_init(MotoServer::start) {
        Ok(server) => Ok(SharedMoto { server }),
        Err(e) => Err(e.clone()),
    }
}

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind(("127.0.0.1", 0))?.local_addr()?.port())
}

/// Whether `GET /moto-api/` on `addr` answers with HTTP 200.
fn answers_http(addr: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    if stream
        .write_all(b"GET /moto-api/ HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.") && &head[9..12] == b"200"
}

/// The path of `program` if it is a path that exists or is found on `PATH`.
fn which(program: &str) -> Option<PathBuf> {
    let candidate = Path::new(program);
    if candidate.components().count() > 1 {
        return candidate.is_file().then(|| candidate.to_path_buf());
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(program))
        .find(|path| path.is_file())
}

//! Running a tool a plugin reads (nvidia-smi, ethtool) without letting it hold up collection:
//! a tool that has not answered within [`TIMEOUT`] is killed and the scrape fails saying so
//! (nvidia-smi is known to hang when a GPU is in a bad state).

use std::io::{self, Read as _};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// How long a tool may take (Telegraf's default for these inputs).
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// `command`'s output, or an error once it has run longer than `timeout` (it is killed).
pub fn output_within(mut command: Command, timeout: Duration) -> io::Result<Output> {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    // Read the pipes on threads of their own so a chatty tool cannot fill them and stall.
    let read = |pipe: Option<Box<dyn io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let stdout = read(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn io::Read + Send>),
    );
    let stderr = read(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn io::Read + Send>),
    );
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("no answer within {} s (killed)", timeout.as_secs()),
            ));
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Ok(Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use std::process::Command;
    use std::time::{Duration, Instant};

    use super::output_within;

    #[test]
    fn a_tool_that_hangs_is_killed_and_one_that_answers_is_read() {
        let mut echo = Command::new("sh");
        echo.args(["-c", "echo hi"]);
        assert_eq!(
            output_within(echo, Duration::from_secs(5)).unwrap().stdout,
            b"hi\n"
        );
        let mut hang = Command::new("sleep");
        hang.arg("30");
        let started = Instant::now();
        let err = output_within(hang, Duration::from_millis(200)).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
        assert!(started.elapsed() < Duration::from_secs(10));
    }
}

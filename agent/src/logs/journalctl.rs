//! journalctl as a child process: the arguments for a journald entry, and a running
//! `journalctl --output=json` whose lines a thread of its own hands over through a bounded
//! queue (when the log reader falls behind, the thread waits, and so does journalctl on its
//! pipe: nothing is dropped). Its error output is read to the end (keeping the start), so it can
//! never block on a full pipe; it runs in a process group of its own, which is killed whole
//! when it is dropped (a wrapper script leaves no journalctl behind).

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread::JoinHandle;

use crate::config::JournaldConfig;

/// Lines buffered between journalctl's reader thread and the log reader (the thread waits when
/// it is full).
const LINE_QUEUE: usize = 4096;
/// What is kept of journalctl's error output for the log.
const STDERR_KEPT: usize = 2048;

/// Where reading starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    /// Past this cursor (the last delivered entry).
    AfterCursor(String),
    /// Entries from this time on (seconds since the epoch): `start_at = "end"` before any was
    /// delivered, or a saved cursor the journal no longer has.
    Since(i64),
    /// The whole journal.
    Beginning,
}

/// journalctl's arguments for `config`, starting at `start`.
pub fn journalctl_args(config: &JournaldConfig, start: &Start, follow: bool) -> Vec<String> {
    let mut args = vec![
        "--output=json".to_string(),
        "--no-pager".to_string(),
        "--quiet".to_string(),
        // Every boot: `--follow` alone reads only the current one, and would skip what came
        // after the cursor before a reboot.
        "--merge".to_string(),
        // Every field whole: without it journalctl prints fields over 4 KiB as null.
        "--all".to_string(),
    ];
    if follow {
        args.push("--follow".into());
        // Everything from the start point, not only the last ten entries.
        args.push("--no-tail".into());
    }
    match start {
        Start::AfterCursor(cursor) => args.push(format!("--after-cursor={cursor}")),
        Start::Since(s) => args.push(format!("--since=@{s}")),
        Start::Beginning => {}
    }
    args.push(format!("--priority={}", config.priority));
    for unit in &config.units {
        args.push(format!("--unit={unit}"));
    }
    for id in &config.identifiers {
        args.push(format!("--identifier={id}"));
    }
    if let Some(dir) = &config.directory {
        args.push(format!("--directory={dir}"));
    }
    for file in &config.files {
        args.push(format!("--file={file}"));
    }
    if let Some(ns) = &config.namespace {
        args.push(format!("--namespace={ns}"));
    }
    if let Some(root) = &config.root_path {
        args.push(format!("--root={root}"));
    }
    // Matches last: FIELD=VALUE of one set must all hold; `+` between sets means "or". Kernel
    // messages are a match too (`--dmesg` would read the current boot only).
    let kernel = "_TRANSPORT=kernel".to_string();
    if config.matches.is_empty() && config.dmesg {
        args.push(kernel.clone());
    }
    for (i, set) in config.matches.iter().enumerate() {
        if i > 0 {
            args.push("+".into());
        }
        for (field, value) in set {
            args.push(format!("{field}={value}"));
        }
        if config.dmesg {
            args.push(kernel.clone());
        }
    }
    args
}

/// A running journalctl.
pub struct Running {
    child: Child,
    pub lines: Receiver<Vec<u8>>,
    stderr: Option<JoinHandle<String>>,
}

impl Running {
    /// Starts `program` with `args`.
    pub fn spawn(program: &str, args: &[String]) -> std::io::Result<Running> {
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()?;
        let (Some(stdout), stderr_pipe) = (child.stdout.take(), child.stderr.take()) else {
            kill(&mut child);
            return Err(std::io::Error::other("journalctl has no output pipe"));
        };
        let (tx, lines) = mpsc::sync_channel(LINE_QUEUE);
        let reader = std::thread::Builder::new()
            .name("skywatch-journald".into())
            .spawn(move || {
                let mut reader = BufReader::new(stdout);
                loop {
                    let mut line = Vec::new();
                    match reader.read_until(b'\n', &mut line) {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {
                            if line.last() == Some(&b'\n') {
                                line.pop();
                            }
                            if tx.send(line).is_err() {
                                break;
                            }
                        }
                    }
                }
            });
        if let Err(e) = reader {
            kill(&mut child);
            return Err(e);
        }
        let stderr = stderr_pipe.and_then(|mut pipe| {
            std::thread::Builder::new()
                .name("skywatch-journald-err".into())
                .spawn(move || {
                    // Read to the end, so journalctl never blocks on (or dies of) a closed
                    // pipe; keep the start.
                    let mut kept = Vec::new();
                    let mut buf = [0u8; 4096];
                    while let Ok(n) = pipe.read(&mut buf) {
                        if n == 0 {
                            break;
                        }
                        let room = STDERR_KEPT.saturating_sub(kept.len());
                        kept.extend_from_slice(&buf[..n.min(room)]);
                    }
                    String::from_utf8_lossy(&kept).trim().to_string()
                })
                .ok()
        });
        Ok(Running { child, lines, stderr })
    }

    /// Waits for journalctl to end (its output has): how it ended and what it said.
    pub fn finish(mut self) -> (std::io::Result<ExitStatus>, String) {
        let status = self.child.wait();
        let said = self
            .stderr
            .take()
            .and_then(|thread| thread.join().ok())
            .unwrap_or_default();
        (status, said)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        kill(&mut self.child);
    }
}

/// Ends journalctl and anything it started (its process group), and reaps it.
fn kill(child: &mut Child) {
    if matches!(child.try_wait(), Ok(Some(_))) {
        return;
    }
    let group = rustix::process::Pid::from_child(child);
    if rustix::process::kill_process_group(group, rustix::process::Signal::KILL).is_err() {
        let _ = child.kill();
    }
    let _ = child.wait();
}

#[cfg(test)]
mod tests {
    use super::{journalctl_args, Running, Start};
    use crate::config::JournaldConfig;
    use std::collections::BTreeMap;

    #[test]
    fn arguments_select_the_entries_read_every_boot_and_resume_where_delivery_got_to() {
        let mut set = BTreeMap::new();
        set.insert("_SYSTEMD_UNIT".to_string(), "ssh.service".to_string());
        let config = JournaldConfig {
            units: vec!["ssh".into(), "kubelet".into()],
            identifiers: vec!["sudo".into()],
            matches: vec![set.clone(), set],
            priority: "warning".into(),
            directory: Some("/var/log/journal".into()),
            dmesg: true,
            journalctl_path: "journalctl".into(),
            ..JournaldConfig::default()
        };
        let args = journalctl_args(&config, &Start::AfterCursor("s=1".into()), true);
        assert_eq!(
            args,
            [
                "--output=json",
                "--no-pager",
                "--quiet",
                "--merge",
                "--all",
                "--follow",
                "--no-tail",
                "--after-cursor=s=1",
                "--priority=warning",
                "--unit=ssh",
                "--unit=kubelet",
                "--identifier=sudo",
                "--directory=/var/log/journal",
                "_SYSTEMD_UNIT=ssh.service",
                "_TRANSPORT=kernel",
                "+",
                "_SYSTEMD_UNIT=ssh.service",
                "_TRANSPORT=kernel",
            ]
        );
        let args = journalctl_args(&config, &Start::Since(1_764_291_723), false);
        assert!(args.contains(&"--since=@1764291723".to_string()));
        assert!(!args.iter().any(|a| a == "--follow" || a == "--dmesg"));
        assert!(!journalctl_args(&config, &Start::Beginning, true)
            .iter()
            .any(|a| a.starts_with("--since") || a.starts_with("--after")));
    }

    #[test]
    fn a_wrapper_and_what_it_started_are_ended_together() {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("pid");
        // A wrapper that does not exec: its child would outlive a kill of the wrapper alone.
        let script = format!("sleep 300 & echo $! > {}; wait", pid_file.display());
        let running = Running::spawn("sh", &["-c".to_string(), script]).unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let pid = loop {
            if let Some(pid) = std::fs::read_to_string(&pid_file)
                .ok()
                .and_then(|t| t.trim().parse::<i32>().ok())
            {
                break pid;
            }
            assert!(std::time::Instant::now() < deadline, "the wrapper never started");
            std::thread::yield_now();
        };
        drop(running);
        let gone = |pid: i32| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .map_or(true, |stat| stat.split(' ').nth(2) == Some("Z"))
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !gone(pid) {
            assert!(
                std::time::Instant::now() < deadline,
                "sleep {pid} outlived its wrapper"
            );
            std::thread::yield_now();
        }
    }

    #[test]
    fn error_output_is_read_to_its_end_and_its_start_kept() {
        // 64 KiB on stderr: more than a pipe holds, so a reader that stopped early would leave
        // it blocked (or dead of SIGPIPE) instead of ending with status 3.
        let script = "head -c 65536 /dev/zero | tr '\\0' x >&2; exit 3".to_string();
        let running = Running::spawn("sh", &["-c".to_string(), script]).unwrap();
        while running.lines.recv().is_ok() {}
        let (status, said) = running.finish();
        assert_eq!(status.unwrap().code(), Some(3));
        assert_eq!(said.len(), 2048);
    }
}

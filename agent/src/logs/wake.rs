//! Waking the log reader when files change: inotify watches on the directories the globs name
//! (writes, creations, renames and deletions there wake it at once), with a timeout as the
//! polling fallback — for file systems without inotify, directories below a `**`, and anything
//! inotify cannot see. The sender wakes it too (an eventfd) when it makes room in the outbox or
//! acknowledges events. No busy loop: with nothing to do the reader sleeps until an event or
//! the timeout.

use std::collections::HashSet;
use std::mem::MaybeUninit;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustix::event::{eventfd, poll, EventfdFlags, PollFd, PollFlags, Timespec};
use rustix::fs::inotify::{self, CreateFlags, WatchFlags};

/// The directory part of a glob before its first wildcard (`/var/log/app/*.log` →
/// `/var/log/app`).
pub fn base_dir(pattern: &str) -> PathBuf {
    let mut dir = PathBuf::new();
    for part in Path::new(pattern).components() {
        let text = part.as_os_str().to_string_lossy();
        if text.contains(['*', '?', '[']) {
            return dir;
        }
        dir.push(part);
    }
    // No wildcard: the file's own directory.
    dir.parent().map(Path::to_path_buf).unwrap_or_default()
}

/// Waits for file changes, a nudge from the sender, or a timeout.
#[derive(Debug)]
pub struct Wake {
    inotify: Option<OwnedFd>,
    nudges: Option<Arc<OwnedFd>>,
    watched: HashSet<PathBuf>,
}

/// Lets another thread wake the waiter.
#[derive(Debug, Clone)]
pub struct Nudge(Option<Arc<OwnedFd>>);

impl Nudge {
    /// Wakes the waiter (or makes its next wait return at once).
    pub fn nudge(&self) {
        if let Some(fd) = &self.0 {
            let _ = rustix::io::write(fd.as_ref(), &1u64.to_ne_bytes());
        }
    }
}

impl Wake {
    /// With inotify when the kernel offers it, else timeouts only.
    pub fn new() -> Wake {
        Wake {
            inotify: inotify::init(CreateFlags::CLOEXEC | CreateFlags::NONBLOCK).ok(),
            nudges: eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)
                .ok()
                .map(Arc::new),
            watched: HashSet::new(),
        }
    }

    /// A handle that wakes this waiter.
    pub fn nudge(&self) -> Nudge {
        Nudge(self.nudges.clone())
    }

    /// Whether inotify is in use.
    pub fn uses_inotify(&self) -> bool {
        self.inotify.is_some()
    }

    /// Watches `dir` (again, if it was created since the last try).
    pub fn watch(&mut self, dir: &Path) {
        let Some(fd) = &self.inotify else { return };
        if self.watched.contains(dir) {
            return;
        }
        let flags = WatchFlags::MODIFY
            | WatchFlags::CLOSE_WRITE
            | WatchFlags::CREATE
            | WatchFlags::MOVED_FROM
            | WatchFlags::MOVED_TO
            | WatchFlags::DELETE
            | WatchFlags::ATTRIB;
        if inotify::add_watch(fd, dir, flags).is_ok() {
            self.watched.insert(dir.to_path_buf());
        }
    }

    /// Sleeps until a watched directory changes, a nudge comes or `timeout` passes; true if
    /// woken by a change in a watched directory.
    pub fn wait(&mut self, timeout: Duration) -> bool {
        let ts = Timespec {
            tv_sec: i64::try_from(timeout.as_secs()).unwrap_or(i64::MAX),
            tv_nsec: i64::from(timeout.subsec_nanos()),
        };
        let mut fds = Vec::with_capacity(2);
        if let Some(fd) = &self.inotify {
            fds.push(PollFd::new(fd, PollFlags::IN));
        }
        if let Some(fd) = &self.nudges {
            fds.push(PollFd::new(fd.as_ref(), PollFlags::IN));
        }
        if fds.is_empty() {
            std::thread::sleep(timeout);
            return false;
        }
        if poll(&mut fds, Some(&ts)).unwrap_or(0) == 0 {
            return false;
        }
        drop(fds);
        if let Some(fd) = &self.nudges {
            let mut count = [0u8; 8];
            let _ = rustix::io::read(fd.as_ref(), &mut count);
        }
        let Some(fd) = &self.inotify else {
            return false;
        };
        // Drain: what changed does not matter, the reader looks at every file.
        let mut buf = [MaybeUninit::<u8>::uninit(); 4096];
        let mut reader = inotify::Reader::new(fd, &mut buf);
        let mut changed = false;
        while reader.next().is_ok() {
            changed = true;
        }
        changed
    }
}

impl Default for Wake {
    fn default() -> Self {
        Wake::new()
    }
}

#[cfg(test)]
mod tests {
    use super::{base_dir, Wake};
    use std::path::PathBuf;
    use std::time::{Duration, Instant};

    #[test]
    fn the_base_dir_is_the_part_before_the_first_wildcard() {
        assert_eq!(base_dir("/var/log/app/*.log"), PathBuf::from("/var/log/app"));
        assert_eq!(base_dir("/var/log/**/*.log"), PathBuf::from("/var/log"));
        assert_eq!(base_dir("/var/log/app.log"), PathBuf::from("/var/log"));
    }

    #[test]
    fn a_write_in_a_watched_directory_wakes_the_waiter_before_the_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let mut wake = Wake::new();
        if !wake.uses_inotify() {
            return;
        }
        wake.watch(dir.path());
        // The event waits in the queue until the waiter looks.
        std::fs::write(dir.path().join("app.log"), "line\n").unwrap();
        let started = Instant::now();
        assert!(wake.wait(Duration::from_secs(20)));
        assert!(started.elapsed() < Duration::from_secs(10));
        // A nudge from another thread ends the wait too, without counting as a change.
        let nudge = wake.nudge();
        std::thread::spawn(move || nudge.nudge()).join().unwrap();
        let started = Instant::now();
        assert!(!wake.wait(Duration::from_secs(20)));
        assert!(started.elapsed() < Duration::from_secs(10));
        // Nothing more happens: the timeout ends the wait.
        let started = Instant::now();
        while wake.wait(Duration::from_millis(100)) {
            assert!(started.elapsed() < Duration::from_secs(10), "events never stop");
        }
    }
}

//! Why a path a `file_path` glob matches (or names) cannot be followed, said once per path: a
//! directory, a named pipe or another non-regular file, a kernel pseudo-file under /proc or
//! /sys (its size says nothing of what it holds, so it would look truncated at every read), a
//! Windows path, or a file this process may not open. The tailer looks again at every discovery,
//! so a file that becomes readable (permissions fixed) is followed from then on.

use std::io;
use std::os::unix::fs::FileTypeExt as _;
use std::path::Path;

/// A path that cannot be followed, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathProblem {
    Directory,
    NamedPipe,
    /// A socket or a device.
    NotARegularFile,
    /// Under /proc or /sys.
    PseudoFile,
    /// Opening it failed (permissions, most often).
    CannotOpen {
        permission: bool,
        error: String,
    },
}

impl PathProblem {
    /// A short name for counting (`permission_denied`, `directory`…).
    pub fn reason(&self) -> &'static str {
        match self {
            PathProblem::Directory => "directory",
            PathProblem::NamedPipe => "named_pipe",
            PathProblem::NotARegularFile => "not_a_regular_file",
            PathProblem::PseudoFile => "pseudo_file",
            PathProblem::CannotOpen { permission: true, .. } => "permission_denied",
            PathProblem::CannotOpen { .. } => "cannot_open",
        }
    }

    /// What to tell the user.
    pub fn describe(&self) -> String {
        match self {
            PathProblem::Directory => {
                "is a directory, not a file: name its files with a glob such as DIR/*.log".into()
            }
            PathProblem::NamedPipe => {
                "is a named pipe: the agent follows regular files only (a pipe has no position to resume from)".into()
            }
            PathProblem::NotARegularFile => "is not a regular file (a socket or a device): not followed".into(),
            PathProblem::PseudoFile => {
                "is a kernel pseudo-file (/proc, /sys): its size is not what it holds, so it cannot be tailed; not followed".into()
            }
            PathProblem::CannotOpen { permission: true, error } => format!(
                "cannot be opened by this process (uid {}): {error}; grant it read access (for the systemd unit's user: setfacl -m u:skywatch:r FILE, or its group); tried again every second",
                rustix::process::geteuid().as_raw()
            ),
            PathProblem::CannotOpen { permission: false, error } => {
                format!("cannot be opened: {error}; tried again every second")
            }
        }
    }
}

/// Whether `path` is under /proc or /sys.
pub fn is_pseudo_file(path: &Path) -> bool {
    path.starts_with("/proc") || path.starts_with("/sys")
}

/// Whether a configured path is written the Windows way (`C:\logs\*.log`, `\\server\share`).
pub fn is_windows_path(path: &str) -> bool {
    let b = path.as_bytes();
    (b.len() >= 3 && b[0].is_ascii_alphabetic() && b[1] == b':' && (b[2] == b'\\' || b[2] == b'/'))
        || path.starts_with("\\\\")
}

/// What stops `path` (a glob match) from being followed, judged without opening it.
pub fn before_opening(path: &Path) -> Option<PathProblem> {
    if is_pseudo_file(path) {
        return Some(PathProblem::PseudoFile);
    }
    let meta = std::fs::metadata(path).ok()?;
    let kind = meta.file_type();
    if kind.is_dir() {
        Some(PathProblem::Directory)
    } else if kind.is_fifo() {
        Some(PathProblem::NamedPipe)
    } else if !kind.is_file() {
        Some(PathProblem::NotARegularFile)
    } else {
        None
    }
}

/// The problem of a failed open.
pub fn open_failed(error: &io::Error) -> PathProblem {
    PathProblem::CannotOpen {
        permission: error.kind() == io::ErrorKind::PermissionDenied,
        error: error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::{before_opening, is_windows_path, PathProblem};

    #[test]
    fn directories_pipes_and_kernel_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(before_opening(dir.path()), Some(PathProblem::Directory));
        let fifo = dir.path().join("pipe");
        rustix::fs::mkfifoat(rustix::fs::CWD, &fifo, rustix::fs::Mode::from_raw_mode(0o600)).unwrap();
        assert_eq!(before_opening(&fifo), Some(PathProblem::NamedPipe));
        assert_eq!(
            before_opening(std::path::Path::new("/proc/self/status")),
            Some(PathProblem::PseudoFile)
        );
        let file = dir.path().join("app.log");
        std::fs::write(&file, "x\n").unwrap();
        assert_eq!(before_opening(&file), None);
        assert!(is_windows_path("C:\\ProgramData\\app\\*.log"));
        assert!(is_windows_path("c:/logs/app.log"));
        assert!(is_windows_path("\\\\server\\share\\a.log"));
        assert!(!is_windows_path("/var/log/*.log"));
    }
}

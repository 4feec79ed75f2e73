//! Where skywatch keeps its state (the local stores, log checkpoints, the spool, traces):
//! `--state-dir`, else the config's `state_dir`, else `/var/lib/skywatch` for root and
//! `$XDG_DATA_HOME/skywatch` (default `~/.local/share/skywatch`) for anyone else. Every part of
//! one installation shares it, so `logq --store` and `skywatch metrics` find what the agent
//! wrote.

use std::path::PathBuf;

pub fn resolve(flag: Option<PathBuf>, configured: Option<PathBuf>) -> PathBuf {
    resolve_for(flag, configured, rustix::process::geteuid().is_root(), |name| {
        std::env::var_os(name)
    })
}

/// [`resolve`] for a user who is root or not, with this environment.
fn resolve_for(
    flag: Option<PathBuf>,
    configured: Option<PathBuf>,
    root: bool,
    env: impl Fn(&str) -> Option<std::ffi::OsString>,
) -> PathBuf {
    if let Some(dir) = flag.or(configured) {
        return dir;
    }
    if root {
        return PathBuf::from("/var/lib/skywatch");
    }
    let data_home = env("XDG_DATA_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| env("HOME").map(|home| PathBuf::from(home).join(".local/share")))
        .unwrap_or_else(|| PathBuf::from("."));
    data_home.join("skywatch")
}

/// The lock one agent holds on its state directory while it runs (`agent.lock`, an advisory
/// `flock`): two agents on one directory would write the same checkpoints, spool and stores. The
/// kernel releases it when the process ends, however it ends. Readers (`logq --store`,
/// `skywatch metrics`) and a separate collector do not take it. The file holds the holder's
/// `pid@host`, for the refusal message.
#[derive(Debug)]
pub struct StateLock {
    _file: Option<std::fs::File>,
    /// Why the directory is not locked after all (it cannot be created or written, or its file
    /// system has no locks, as NFS without a lock daemon): the agent runs on, and says so.
    pub not_locked: Option<String>,
}

/// The lock file's name in the state directory.
pub const LOCK_FILE: &str = "agent.lock";

impl StateLock {
    /// Takes the lock on `dir` (created private, 0750, if missing). Refused only when another
    /// process holds it; any other failure gives an unlocked `StateLock` saying why.
    pub fn acquire(dir: &std::path::Path) -> Result<StateLock, String> {
        let path = dir.join(LOCK_FILE);
        let unlocked = |why: String| {
            Ok(StateLock {
                _file: None,
                not_locked: Some(why),
            })
        };
        let file = match open_lock_file(dir, &path) {
            Ok(file) => file,
            Err(why) => return unlocked(why),
        };
        match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => {
                record_holder(&file);
                Ok(StateLock {
                    _file: Some(file),
                    not_locked: None,
                })
            }
            Err(rustix::io::Errno::WOULDBLOCK) => {
                let holder = std::fs::read_to_string(&path)
                    .ok()
                    .map(|h| h.trim().to_string())
                    .filter(|h| !h.is_empty())
                    .map_or_else(String::new, |h| format!(", process {h}"));
                Err(format!(
                    "another skywatch agent is using the state directory {} (it holds {}{holder}): stop it, or give this one a --state-dir of its own",
                    dir.display(),
                    path.display()
                ))
            }
            Err(e) => unlocked(format!("cannot lock {}: {e}", path.display())),
        }
    }
}

/// Opens (creating) the lock file, the directory first if need be, both private whatever the
/// umask. Run as root in a directory that belongs to another user (the packaged agent's), a new
/// file is given to that user, so the service can still take it.
fn open_lock_file(dir: &std::path::Path, path: &std::path::Path) -> Result<std::fs::File, String> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o750)
            .create(dir)
            .and_then(|()| std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o750)))
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let existed = path.exists();
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o640)
        .open(path)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    if !existed {
        let _ = file.set_permissions(std::fs::Permissions::from_mode(0o640));
        if rustix::process::geteuid().is_root() {
            if let Ok(owner) = std::fs::metadata(dir) {
                let _ = rustix::fs::fchown(
                    &file,
                    Some(rustix::fs::Uid::from_raw(owner.uid())),
                    Some(rustix::fs::Gid::from_raw(owner.gid())),
                );
            }
        }
    }
    Ok(file)
}

/// Writes `pid@host` into the held lock file (best effort: it only serves the message).
fn record_holder(mut file: &std::fs::File) {
    use std::io::Write as _;
    let host = rustix::system::uname().nodename().to_string_lossy().into_owned();
    let _ = file.set_len(0);
    let _ = writeln!(file, "{}@{host}", std::process::id());
}

#[cfg(test)]
mod tests {
    use std::ffi::OsString;
    use std::path::PathBuf;

    use super::{resolve_for, StateLock};

    #[test]
    fn the_default_is_var_lib_for_root_and_xdg_data_home_or_local_share_for_anyone_else() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| OsString::from(v))
            }
        };
        let home = env(&[("HOME", "/home/ana")]);
        // What the README's walk-through says: ~/.local/share/skywatch, or /var/lib/skywatch as root.
        assert_eq!(
            resolve_for(None, None, false, home),
            PathBuf::from("/home/ana/.local/share/skywatch")
        );
        assert_eq!(
            resolve_for(None, None, true, home),
            PathBuf::from("/var/lib/skywatch")
        );
        let xdg = env(&[("HOME", "/home/ana"), ("XDG_DATA_HOME", "/data")]);
        assert_eq!(
            resolve_for(None, None, false, xdg),
            PathBuf::from("/data/skywatch")
        );
        let empty_xdg = env(&[("HOME", "/home/ana"), ("XDG_DATA_HOME", "")]);
        assert_eq!(
            resolve_for(None, None, false, empty_xdg),
            PathBuf::from("/home/ana/.local/share/skywatch")
        );
        // The flag wins over the config, and either over the default.
        assert_eq!(
            resolve_for(Some("/f".into()), Some("/c".into()), true, home),
            PathBuf::from("/f")
        );
        assert_eq!(
            resolve_for(None, Some("/c".into()), false, home),
            PathBuf::from("/c")
        );
    }

    #[test]
    fn a_second_lock_on_one_directory_is_refused_naming_the_holder_until_the_first_is_dropped() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        let first = StateLock::acquire(&state).unwrap();
        assert_eq!(first.not_locked, None);
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(
            (mode(&state), mode(&state.join(super::LOCK_FILE))),
            (0o750, 0o640)
        );
        let second = StateLock::acquire(&state).unwrap_err();
        assert!(
            second.starts_with("another skywatch agent is using the state directory")
                && second.contains(&format!("process {}@", std::process::id())),
            "{second}"
        );
        drop(first);
        assert!(StateLock::acquire(&state).unwrap().not_locked.is_none());
    }

    #[test]
    fn a_directory_that_cannot_be_made_leaves_the_agent_unlocked_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a-file");
        std::fs::write(&file, "").unwrap();
        let lock = StateLock::acquire(&file.join("state")).unwrap();
        assert!(lock.not_locked.unwrap().starts_with("cannot create"));
    }
}

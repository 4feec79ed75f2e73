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
/// `skywatch metrics`) and a separate collector do not take it.
#[derive(Debug)]
pub struct StateLock {
    _file: std::fs::File,
}

/// The lock file's name in the state directory.
pub const LOCK_FILE: &str = "agent.lock";

impl StateLock {
    /// Takes the lock on `dir` (created, private, if missing), or says who holds it.
    pub fn acquire(dir: &std::path::Path) -> Result<StateLock, String> {
        use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o750)
            .create(dir)
            .map_err(|e| format!("cannot create the state directory {}: {e}", dir.display()))?;
        let path = dir.join(LOCK_FILE);
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o640)
            .open(&path)
            .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => Ok(StateLock { _file: file }),
            Err(rustix::io::Errno::WOULDBLOCK) => Err(format!(
                "another skywatch agent is using the state directory {} (it holds {}): stop it, or give this one a --state-dir of its own",
                dir.display(),
                path.display()
            )),
            Err(e) => Err(format!("cannot lock {}: {e}", path.display())),
        }
    }
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
    fn a_second_lock_on_one_directory_is_refused_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        let first = StateLock::acquire(&state).unwrap();
        let second = StateLock::acquire(&state).unwrap_err();
        assert!(
            second.starts_with("another skywatch agent is using the state directory"),
            "{second}"
        );
        drop(first);
        assert!(StateLock::acquire(&state).is_ok());
    }
}

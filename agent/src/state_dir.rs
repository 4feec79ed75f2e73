//! Where the agent keeps its state (the local stores, log checkpoints and the spool):
//! `--state-dir`, else the config's `agent.state_dir`, else `/var/lib/skywatch` for root and
//! `$XDG_DATA_HOME/skywatch` (default `~/.local/share/skywatch`) for anyone else.

use std::path::PathBuf;

pub fn resolve(flag: Option<PathBuf>, configured: Option<PathBuf>) -> PathBuf {
    if let Some(dir) = flag.or(configured) {
        return dir;
    }
    if rustix::process::geteuid().is_root() {
        return PathBuf::from("/var/lib/skywatch");
    }
    let data_home = std::env::var_os("XDG_DATA_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".local/share")))
        .unwrap_or_else(|| PathBuf::from("."));
    data_home.join("skywatch")
}

/// The local metrics store inside a state directory.
pub fn metrics_store(state_dir: &std::path::Path) -> PathBuf {
    state_dir.join("metrics")
}

/// The local log store inside a state directory (`logq --store` reads it).
pub fn logs_store(state_dir: &std::path::Path) -> PathBuf {
    state_dir.join("logs")
}

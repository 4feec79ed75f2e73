//! Where skywatch keeps its state (the local stores, log checkpoints, the spool, traces):
//! `--state-dir`, else the config's `state_dir`, else `/var/lib/skywatch` for root and
//! `$XDG_DATA_HOME/skywatch` (default `~/.local/share/skywatch`) for anyone else. Every part of
//! one installation shares it, so `logq --store` and `skywatch metrics` find what the agent
//! wrote.

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

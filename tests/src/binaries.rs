//! Paths to the workspace's own binaries, for tests that run them as a user would.
//!
//! `cargo test --workspace` builds the root package's binaries into the target directory before any
//! test runs; a test binary lives in `target/<profile>/deps/`, so the binaries are one level up.

use std::path::PathBuf;

/// The path of the workspace binary `name` (`skywatch`, `logq`), or an error saying how to build it.
pub fn binary_path(name: &str) -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot locate the test binary: {e}"))?;
    let profile_dir = exe
        .parent()
        .and_then(std::path::Path::parent)
        .ok_or_else(|| format!("unexpected test binary location {}", exe.display()))?;
    let path = profile_dir.join(name);
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!(
            "{} is not built; run `cargo build --bin {name}` or `cargo test --workspace`",
            path.display()
        ))
    }
}

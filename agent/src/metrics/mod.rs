//! Host metrics: what is measured and how, one source per module. Each source reads procfs
//! under a root directory (`/proc` on a host, a fixture directory in tests).

pub mod collect;
pub mod counters;
pub mod cpu;
pub mod datum;
pub mod disk;
pub mod diskstats;
pub mod meminfo;
pub mod netdev;

use std::path::Path;

pub use meminfo::{Memory, Swap};

/// Why a scrape failed: the file and the reason. A failed scrape is counted and logged by the
/// caller; it never stops the agent.
#[derive(Debug)]
pub struct ScrapeError {
    pub path: String,
    pub reason: String,
}

impl std::fmt::Display for ScrapeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot read {}: {}", self.path, self.reason)
    }
}

impl std::error::Error for ScrapeError {}

/// Memory and swap from `<proc_root>/meminfo` (and `zoneinfo` on kernels without MemAvailable).
pub fn read_memory(proc_root: &Path) -> Result<(Memory, Swap), ScrapeError> {
    let path = proc_root.join("meminfo");
    let failed = |reason: String| ScrapeError {
        path: path.display().to_string(),
        reason,
    };
    let text = std::fs::read_to_string(&path).map_err(|e| failed(e.to_string()))?;
    let fields = meminfo::parse_meminfo(&text).map_err(|e| failed(e.to_string()))?;
    let zoneinfo = if fields.contains_key("MemAvailable") {
        None
    } else {
        std::fs::read_to_string(proc_root.join("zoneinfo")).ok()
    };
    let memory = meminfo::memory(&fields, zoneinfo.as_deref()).map_err(|e| failed(e.to_string()))?;
    Ok((memory, meminfo::swap(&fields)))
}

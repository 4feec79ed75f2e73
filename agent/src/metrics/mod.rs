//! Host metrics: what is measured and how, one source per module. Each source reads procfs
//! under a root directory (`/proc` on a host, a fixture directory in tests).

pub mod collect;
pub mod collectd;
pub mod command;
pub mod counters;
pub mod cpu;
pub mod datum;
pub mod disk;
pub mod diskstats;
pub mod emf;
pub mod emf_listener;
pub mod ethtool;
pub mod meminfo;
pub mod netdev;
pub mod netstat;
pub mod nvidia;
pub mod nvme;
#[cfg(target_os = "linux")]
mod nvme_ioctl;
pub mod nvme_stats;
pub mod portable;
pub mod processes;
pub mod procstat;
pub mod statsd;

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

/// A line of a procfs file that is not in the shape the kernel writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    /// The file, relative to the proc root (`stat`, `net/dev`).
    pub file: &'static str,
    /// 1-based.
    pub line: usize,
    pub text: String,
    /// The shape the line should have.
    pub expected: &'static str,
}

impl std::fmt::Display for LineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} line {} is not {}: {:?}",
            self.file, self.line, self.expected, self.text
        )
    }
}

impl std::error::Error for LineError {}

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

#[cfg(test)]
mod tests {
    use super::LineError;

    #[test]
    fn a_bad_line_names_the_file_the_line_and_the_shape() {
        let e = LineError {
            file: "net/dev",
            line: 4,
            text: "eth0 1 2".into(),
            expected: "`interface: counters`",
        };
        assert_eq!(
            e.to_string(),
            "net/dev line 4 is not `interface: counters`: \"eth0 1 2\""
        );
    }
}

//! Block device counters from procfs `diskstats`, in the CloudWatch agent's diskio field names.
//! Sector counts are in 512-byte units whatever the device's sector size (the kernel's
//! convention), so bytes = sectors × 512.

use std::fmt;

/// Bytes per `diskstats` sector.
const SECTOR_BYTES: u64 = 512;

/// One device's readings: (name, cumulative counters, `iops_in_progress`, a gauge).
pub type DeviceCounters = (String, Vec<(&'static str, u64)>, u64);

/// A `diskstats` line that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskstatsError {
    pub line: usize,
    pub text: String,
}

impl fmt::Display for DiskstatsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "diskstats line {} is not `major minor name counters…`: {:?}",
            self.line, self.text
        )
    }
}

impl std::error::Error for DiskstatsError {}

/// Every device's counters. Fields after the name: reads, reads merged, sectors read, read
/// ms, writes, writes merged, sectors written, write ms, I/Os in progress, I/O ms, weighted ms
/// (later kernels append discard and flush counters, which the schema does not use).
pub fn parse_diskstats(text: &str) -> Result<Vec<DeviceCounters>, DiskstatsError> {
    let mut devices = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let bad = || DiskstatsError {
            line: n + 1,
            text: line.to_string(),
        };
        let mut words = line.split_ascii_whitespace();
        let name = words.nth(2).ok_or_else(bad)?;
        let c: Vec<u64> = words
            .map(str::parse)
            .collect::<Result<_, _>>()
            .map_err(|_| bad())?;
        if c.len() < 11 {
            return Err(bad());
        }
        devices.push((
            name.to_string(),
            vec![
                ("reads", c[0]),
                ("read_bytes", c[2].saturating_mul(SECTOR_BYTES)),
                ("read_time", c[3]),
                ("writes", c[4]),
                ("write_bytes", c[6].saturating_mul(SECTOR_BYTES)),
                ("write_time", c[7]),
                ("io_time", c[9]),
            ],
            c[8],
        ));
    }
    Ok(devices)
}

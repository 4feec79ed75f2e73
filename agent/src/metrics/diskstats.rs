//! Block device counters from procfs `diskstats`, in the CloudWatch agent's diskio field names.
//! Sector counts are in 512-byte units whatever the device's sector size (the kernel's
//! convention), so bytes = sectors × 512.

use super::LineError;

/// Bytes per `diskstats` sector.
const SECTOR_BYTES: u64 = 512;

/// One device's readings: (name, cumulative counters, `iops_in_progress`, a gauge).
pub type DeviceCounters = (String, Vec<(&'static str, u64)>, u64);

/// Every device's counters. Fields after the name: reads, reads merged, sectors read, read
/// ms, writes, writes merged, sectors written, write ms, I/Os in progress, I/O ms, weighted ms
/// (later kernels append discard and flush counters, which the schema does not use).
pub fn parse_diskstats(text: &str) -> Result<Vec<DeviceCounters>, LineError> {
    let mut devices = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let bad = || LineError {
            file: "diskstats",
            line: n + 1,
            text: line.to_string(),
            expected: "`major minor name counters…`",
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

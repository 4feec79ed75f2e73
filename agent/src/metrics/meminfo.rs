//! Memory and swap from procfs `meminfo`, with the formulas of the Amazon CloudWatch Agent
//! (gopsutil v3 on Linux), so `mem_used_percent` and friends match what existing alarms were tuned on.
//!
//! - `cached` = Cached + SReclaimable;
//! - `used` = Total − Free − Buffers − cached (not Total − Available: that is gopsutil v4);
//! - `available` = MemAvailable, or on kernels before 3.14 an estimate from the zone low
//!   watermarks (as the kernel itself computes MemAvailable), or Free + cached without zoneinfo;
//! - swap used = SwapTotal − SwapFree, `swap_used_percent` 0 when there is no swap.
//!
//! Values are in `kB` (× 1024); arithmetic saturates at 0 instead of wrapping.

use std::collections::HashMap;
use std::fmt;

/// The memory measurements, in bytes (percentages in percent).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Memory {
    pub total: u64,
    pub free: u64,
    pub buffered: u64,
    pub cached: u64,
    pub active: u64,
    pub inactive: u64,
    pub shared: u64,
    pub available: u64,
    pub used: u64,
    pub used_percent: f64,
    pub available_percent: f64,
}

/// The swap measurements the CloudWatch agent allows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Swap {
    pub total: u64,
    pub free: u64,
    pub used: u64,
    pub used_percent: f64,
}

/// Why meminfo could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MeminfoError {
    /// A line that is not `Key: value [kB]`.
    Malformed { line: usize, text: String },
    /// A field every kernel has is missing.
    Missing(&'static str),
}

impl fmt::Display for MeminfoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MeminfoError::Malformed { line, text } => {
                write!(f, "meminfo line {line} is not `Key: value`: {text:?}")
            }
            MeminfoError::Missing(key) => write!(f, "meminfo has no {key}"),
        }
    }
}

impl std::error::Error for MeminfoError {}

/// `meminfo` as bytes per key (`kB` values × 1024; unitless values such as `HugePages_Total` as
/// they are).
#[derive(Debug, Clone, Default)]
pub struct Meminfo(HashMap<String, u64>);

impl Meminfo {
    pub fn get(&self, key: &str) -> Option<u64> {
        self.0.get(key).copied()
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }
}

/// Parses `/proc/meminfo`.
pub fn parse_meminfo(text: &str) -> Result<Meminfo, MeminfoError> {
    let mut fields = HashMap::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let malformed = || MeminfoError::Malformed {
            line: i + 1,
            text: line.to_string(),
        };
        let (key, rest) = line.split_once(':').ok_or_else(malformed)?;
        let mut parts = rest.split_whitespace();
        let value: u64 = parts.next().and_then(|v| v.parse().ok()).ok_or_else(malformed)?;
        let value = match parts.next() {
            None => value,
            Some(unit) if unit.eq_ignore_ascii_case("kB") => value.saturating_mul(1024),
            Some(_) => return Err(malformed()),
        };
        fields.insert(key.trim().to_string(), value);
    }
    Ok(Meminfo(fields))
}

/// The memory measurements from parsed meminfo; `zoneinfo` is `/proc/zoneinfo`, used only when
/// the kernel has no `MemAvailable`.
pub fn memory(fields: &Meminfo, zoneinfo: Option<&str>) -> Result<Memory, MeminfoError> {
    let get = |key: &'static str| fields.get(key).ok_or(MeminfoError::Missing(key));
    let optional = |key: &str| fields.get(key).unwrap_or(0);
    let total = get("MemTotal")?;
    let free = get("MemFree")?;
    let buffered = optional("Buffers");
    let cached = optional("Cached").saturating_add(optional("SReclaimable"));
    let can_estimate = ["Active(file)", "Inactive(file)", "SReclaimable"]
        .iter()
        .all(|k| fields.contains_key(k));
    let available = match fields.get("MemAvailable") {
        Some(available) => available,
        None => match zoneinfo.filter(|_| can_estimate) {
            // No readable watermarks count as 0, as gopsutil reads them.
            Some(zoneinfo) => {
                estimate_available(fields, low_watermark_pages(zoneinfo).saturating_mul(PAGE_BYTES))
            }
            None => free.saturating_add(cached),
        },
    };
    let used = total
        .saturating_sub(free)
        .saturating_sub(buffered)
        .saturating_sub(cached);
    Ok(Memory {
        total,
        free,
        buffered,
        cached,
        active: optional("Active"),
        inactive: optional("Inactive"),
        shared: optional("Shmem"),
        available,
        used,
        used_percent: percent(used, total),
        available_percent: percent(available, total),
    })
}

/// The swap measurements from parsed meminfo.
pub fn swap(fields: &Meminfo) -> Swap {
    let total = fields.get("SwapTotal").unwrap_or(0);
    let free = fields.get("SwapFree").unwrap_or(0).min(total);
    let used = total - free;
    Swap {
        total,
        free,
        used,
        used_percent: percent(used, total),
    }
}

/// Linux's page size on EC2's architectures (x86_64, arm64 with 4 KiB pages).
const PAGE_BYTES: u64 = 4096;

fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        100.0 * part as f64 / whole as f64
    }
}

/// The sum of every zone's `low` watermark, in pages (unreadable values count as 0).
fn low_watermark_pages(zoneinfo: &str) -> u64 {
    zoneinfo
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            (words.next()? == "low").then(|| words.next()?.parse::<u64>().ok())?
        })
        .fold(0, u64::saturating_add)
}

/// The kernel's own MemAvailable estimate (mm/page_alloc.c, 3.14), as gopsutil v3 computes it
/// for older kernels: free memory above the low watermarks, plus the page cache and reclaimable
/// slab that can be dropped without going below them.
fn estimate_available(fields: &Meminfo, low: u64) -> u64 {
    let get = |key: &str| fields.get(key).unwrap_or(0);
    let free = get("MemFree");
    let page_cache = get("Active(file)").saturating_add(get("Inactive(file)"));
    let reclaimable = get("SReclaimable");
    let mut available = free.saturating_sub(low);
    available = available.saturating_add(page_cache.saturating_sub((page_cache / 2).min(low)));
    available.saturating_add(reclaimable.saturating_sub((reclaimable / 2).min(low)))
}

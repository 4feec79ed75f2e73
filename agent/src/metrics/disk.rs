//! File system usage per mount point: the mount table from procfs `mounts`, sizes from
//! `statvfs`, with the CloudWatch agent's formulas (those of `df`):
//!
//! - total = blocks × fragment size; free = blocks available to unprivileged users × size;
//! - used = (blocks − free blocks) × size; `used_percent` = used ÷ (used + free) × 100;
//! - inodes_total = files, inodes_free = free files, inodes_used = the difference.

use std::path::Path;

/// One mounted file system, as the mount table lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub device: String,
    pub path: String,
    pub fstype: String,
}

/// Sizes of one file system, in bytes and inodes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Usage {
    pub total: u64,
    pub free: u64,
    pub used: u64,
    pub used_percent: f64,
    pub inodes_total: u64,
    pub inodes_free: u64,
    pub inodes_used: u64,
}

/// Pseudo file systems with no disk behind them, never reported. (The CloudWatch agent leaves
/// this to `ignore_file_system_types`; these can never be what a disk alarm means.)
const PSEUDO: &[&str] = &[
    "proc",
    "sysfs",
    "cgroup",
    "cgroup2",
    "devpts",
    "securityfs",
    "pstore",
    "bpf",
    "debugfs",
    "tracefs",
    "configfs",
    "fusectl",
    "mqueue",
    "hugetlbfs",
    "autofs",
    "binfmt_misc",
    "rpc_pipefs",
    "nsfs",
    "efivarfs",
];

/// The mounts of a `mounts` table (`device path fstype options dump pass`), octal escapes in
/// paths (`\040` for a space) decoded, pseudo file systems left out. Malformed lines are
/// skipped: the table is the kernel's, and one odd line must not hide every disk.
pub fn parse_mounts(text: &str) -> Vec<Mount> {
    text.lines()
        .filter_map(|line| {
            let mut words = line.split_ascii_whitespace();
            let (device, path, fstype) = (words.next()?, words.next()?, words.next()?);
            (!PSEUDO.contains(&fstype)).then(|| Mount {
                device: unescape_octal(device),
                path: unescape_octal(path),
                fstype: fstype.to_string(),
            })
        })
        .collect()
}

/// Decodes the `\ooo` escapes the kernel writes for spaces, tabs, newlines and backslashes.
fn unescape_octal(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let code = bytes
            .get(i + 1..i + 4)
            .filter(|d| bytes[i] == b'\\' && d.iter().all(|b| (b'0'..=b'7').contains(b)))
            .and_then(|d| u8::from_str_radix(std::str::from_utf8(d).ok()?, 8).ok());
        if let Some(b) = code {
            out.push(b);
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The usage figures from `statvfs` numbers.
pub fn usage(
    fragment_size: u64,
    blocks: u64,
    blocks_free: u64,
    blocks_available: u64,
    files: u64,
    files_free: u64,
) -> Usage {
    let total = blocks.saturating_mul(fragment_size);
    let free = blocks_available.saturating_mul(fragment_size);
    let used = blocks.saturating_sub(blocks_free).saturating_mul(fragment_size);
    let denominator = used.saturating_add(free);
    Usage {
        total,
        free,
        used,
        used_percent: if denominator == 0 {
            0.0
        } else {
            100.0 * used as f64 / denominator as f64
        },
        inodes_total: files,
        inodes_free: files_free,
        inodes_used: files.saturating_sub(files_free),
    }
}

/// The usage of the file system mounted at `path`.
pub fn statvfs(path: &Path) -> std::io::Result<Usage> {
    let s = rustix::fs::statvfs(path)?;
    Ok(usage(
        s.f_frsize, s.f_blocks, s.f_bfree, s.f_bavail, s.f_files, s.f_ffree,
    ))
}

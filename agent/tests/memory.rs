//! Memory and swap from procfs shapes of real kernels, against values worked out by hand with
//! the CloudWatch agent's formulas (gopsutil v3).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use skywatch_agent::metrics::read_memory;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/procfs")
        .join(name)
}

const KIB: u64 = 1024;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn modern_kernel_with_swap() {
    let (mem, swap) = read_memory(&fixture("modern-with-swap")).unwrap();
    assert_eq!(mem.total, 2_002_012 * KIB);
    assert_eq!(mem.free, 164_512 * KIB);
    assert_eq!(mem.buffered, 2_704 * KIB);
    // Cached + SReclaimable.
    assert_eq!(mem.cached, (1_299_248 + 69_900) * KIB);
    assert_eq!(mem.active, 473_244 * KIB);
    assert_eq!(mem.inactive, 1_118_460 * KIB);
    assert_eq!(mem.shared, 11_848 * KIB);
    assert_eq!(mem.available, 1_423_480 * KIB);
    // Total − Free − Buffers − Cached(+SReclaimable), not Total − Available.
    assert_eq!(mem.used, 465_648 * KIB);
    assert!(
        close(mem.used_percent, 100.0 * 465_648.0 / 2_002_012.0),
        "{}",
        mem.used_percent
    );
    assert!(close(mem.available_percent, 100.0 * 1_423_480.0 / 2_002_012.0));
    assert_eq!(swap.total, 1_048_572 * KIB);
    assert_eq!(swap.free, 1_038_076 * KIB);
    assert_eq!(swap.used, 10_496 * KIB);
    assert!(close(swap.used_percent, 100.0 * 10_496.0 / 1_048_572.0));
}

#[test]
fn no_swap_is_zero_percent() {
    let (mem, swap) = read_memory(&fixture("no-swap")).unwrap();
    assert_eq!(mem.used, 465_648 * KIB);
    assert_eq!((swap.total, swap.free, swap.used), (0, 0, 0));
    assert!(close(swap.used_percent, 0.0));
}

#[test]
fn old_kernel_estimates_available_from_the_low_watermarks() {
    let (mem, swap) = read_memory(&fixture("old-kernel")).unwrap();
    // Low watermarks: 8 + 1000 + 2000 pages of 4 KiB = 12,032 kB.
    // Free above them: 1,024,000 − 12,032 = 1,011,968 kB; page cache 2,100,000 − 12,032 =
    // 2,087,968 kB; reclaimable slab 150,000 − 12,032 = 137,968 kB.
    assert_eq!(mem.available, 3_237_904 * KIB);
    assert_eq!(mem.used, (4_046_880 - 1_024_000 - 102_400 - 2_198_000) * KIB);
    assert!(close(mem.available_percent, 100.0 * 3_237_904.0 / 4_046_880.0));
    assert_eq!(swap.used, 0);
    assert!(close(swap.used_percent, 0.0));
}

#[test]
fn old_kernel_without_zoneinfo_falls_back_to_free_plus_cached() {
    let (mem, _) = read_memory(&fixture("old-kernel-no-zoneinfo")).unwrap();
    assert_eq!(mem.available, (1_024_000 + 2_048_000 + 150_000) * KIB);
}

#[test]
fn unreadable_or_malformed_meminfo_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let err = read_memory(dir.path()).unwrap_err();
    assert!(err.to_string().contains("meminfo"), "{err}");
    std::fs::write(
        dir.path().join("meminfo"),
        "MemTotal: 100 kB\nthis is not meminfo\n",
    )
    .unwrap();
    let err = read_memory(dir.path()).unwrap_err().to_string();
    assert!(err.contains("line 2"), "{err}");
    std::fs::write(dir.path().join("meminfo"), "MemFree: 100 kB\n").unwrap();
    let err = read_memory(dir.path()).unwrap_err().to_string();
    assert!(err.contains("MemTotal"), "{err}");
}

#[test]
fn inconsistent_values_saturate_instead_of_wrapping() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("meminfo"),
        "MemTotal: 100 kB\nMemFree: 80 kB\nMemAvailable: 90 kB\nBuffers: 10 kB\nCached: 50 kB\nSwapTotal: 10 kB\nSwapFree: 20 kB\n",
    )
    .unwrap();
    let (mem, swap) = read_memory(dir.path()).unwrap();
    assert_eq!(mem.used, 0);
    assert_eq!(swap.used, 0);
}

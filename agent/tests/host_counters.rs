//! cpu, net, diskio and disk sources against procfs text in the shapes real kernels write,
//! with values worked out by hand.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::float_cmp)]

use skywatch_agent::metrics::counters::Deltas;
use skywatch_agent::metrics::cpu::parse_stat;
use skywatch_agent::metrics::disk::{parse_mounts, statvfs, usage, Mount};
use skywatch_agent::metrics::diskstats::parse_diskstats;
use skywatch_agent::metrics::netdev::parse_net_dev;

fn field(fields: &[(&'static str, f64)], name: &str) -> f64 {
    fields.iter().find(|(n, _)| *n == name).unwrap().1
}

#[test]
fn cpu_usage_is_the_share_of_the_interval_and_user_excludes_guest() {
    let first = parse_stat(
        "cpu  1000 100 500 8000 200 0 50 150 300 0\n\
         cpu0 500 50 250 4000 100 0 25 75 150 0\n\
         intr 12345 0 0\nctxt 999\nbtime 1700000000\n",
    )
    .unwrap();
    // Over the interval: user +400 (of which guest +100), nice +0, system +100, idle +400,
    // iowait +50, softirq +25, steal +25: total +1000 ticks.
    let second =
        parse_stat("cpu  1400 100 600 8400 250 0 75 175 400 0\ncpu0 700 50 300 4200 125 0 37 87 200 0\n")
            .unwrap();
    assert_eq!(first[0].0, "cpu-total");
    assert_eq!(first[1].0, "cpu0");
    let usage = second[0].1.usage_since(&first[0].1).unwrap();
    assert_eq!(field(&usage, "usage_user"), 30.0, "(400 − 100 guest) / 1000");
    assert_eq!(field(&usage, "usage_guest"), 10.0);
    assert_eq!(field(&usage, "usage_system"), 10.0);
    assert_eq!(field(&usage, "usage_idle"), 40.0);
    assert_eq!(field(&usage, "usage_iowait"), 5.0);
    assert_eq!(field(&usage, "usage_softirq"), 2.5);
    assert_eq!(field(&usage, "usage_steal"), 2.5);
    assert_eq!(
        field(&usage, "usage_active"),
        60.0,
        "everything but idle, iowait included"
    );
    let parts: f64 = [
        "usage_user",
        "usage_guest",
        "usage_system",
        "usage_idle",
        "usage_iowait",
        "usage_softirq",
        "usage_steal",
        "usage_nice",
        "usage_irq",
    ]
    .iter()
    .map(|f| field(&usage, f))
    .sum();
    assert!((parts - 100.0).abs() < 1e-9, "the shares add up: {parts}");
    let seconds = second[0].1.seconds();
    assert_eq!(field(&seconds, "time_idle"), 84.0);
    assert_eq!(field(&seconds, "time_user"), 14.0);
    // No movement, or counters that went back: no usage.
    assert!(second[0].1.usage_since(&second[0].1).is_none());
    assert!(first[0].1.usage_since(&second[0].1).is_none());
}

#[test]
fn old_kernels_without_steal_and_guest_columns_read_as_zero() {
    let cpus = parse_stat("cpu  10 20 30 40\n").unwrap();
    assert_eq!(cpus[0].1.steal, 0);
    assert_eq!(cpus[0].1.guest_nice, 0);
    let err = parse_stat("cpu  10 20 x 40\n").unwrap_err();
    assert_eq!(err.line, 1);
    assert!(parse_stat("cpu  10 20\n").is_err(), "fewer than four counters");
}

const NET_DEV: &str = "\
Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo: 3776613   22979    0    0    0     0          0         0  3776613   22979    0    0    0     0       0          0
  eth0: 1000000    2000    3    4    0     0          0         7  500000    1500    5    6    0     0       0          0
";

#[test]
fn net_counters_become_deltas_after_the_first_interval() {
    let first = parse_net_dev(NET_DEV).unwrap();
    assert_eq!(first.len(), 2);
    let (name, counters) = &first[1];
    assert_eq!(name, "eth0");
    assert_eq!(
        counters,
        &vec![
            ("bytes_recv", 1_000_000),
            ("packets_recv", 2000),
            ("err_in", 3),
            ("drop_in", 4),
            ("bytes_sent", 500_000),
            ("packets_sent", 1500),
            ("err_out", 5),
            ("drop_out", 6),
        ]
    );
    let mut deltas = Deltas::default();
    for (field, value) in counters {
        assert_eq!(
            deltas.delta(name, field, *value),
            None,
            "the first reading yields nothing"
        );
    }
    let later = NET_DEV.replace("1000000    2000", "1004096    2010");
    let second = parse_net_dev(&later).unwrap();
    let (_, counters) = &second[1];
    assert_eq!(deltas.delta("eth0", "bytes_recv", counters[0].1), Some(4096));
    assert_eq!(deltas.delta("eth0", "packets_recv", counters[1].1), Some(10));
    let err = parse_net_dev(&format!("{NET_DEV}  eth1 1 2 3\n")).unwrap_err();
    assert_eq!(err.line, 5);
}

#[test]
fn diskio_bytes_are_sectors_of_512_and_in_progress_is_a_gauge() {
    // A 4.x kernel's 14 fields and a 5.5+ kernel's 20 (discards and flushes appended).
    let text = "\
 259       0 nvme0n1 1200 30 48000 900 800 20 16000 700 2 1500 1600 0 0 0 0
 259       1 nvme0n1p1 1100 30 47000 880 790 20 15900 690 0 1480 1570 0 0 0 0 10 20
";
    let devices = parse_diskstats(text).unwrap();
    assert_eq!(devices.len(), 2);
    let (name, counters, in_progress) = &devices[0];
    assert_eq!(name, "nvme0n1");
    assert_eq!(*in_progress, 2);
    let get = |f: &str| counters.iter().find(|(n, _)| *n == f).unwrap().1;
    assert_eq!(get("reads"), 1200);
    assert_eq!(get("read_bytes"), 48000 * 512);
    assert_eq!(get("write_bytes"), 16000 * 512);
    assert_eq!(get("read_time"), 900);
    assert_eq!(get("write_time"), 700);
    assert_eq!(get("io_time"), 1500);
    assert!(parse_diskstats(" 8 0 sda 1 2 3\n").is_err());
}

#[test]
fn mounts_skip_pseudo_file_systems_and_decode_escaped_paths() {
    let mounts = parse_mounts(
        "proc /proc proc rw,relatime 0 0\n\
         sysfs /sys sysfs rw 0 0\n\
         /dev/nvme0n1p1 / xfs rw,noatime 0 0\n\
         tmpfs /run tmpfs rw 0 0\n\
         /dev/sdb1 /mnt/my\\040data ext4 rw 0 0\n\
         odd-line\n",
    );
    assert_eq!(
        mounts,
        vec![
            Mount {
                device: "/dev/nvme0n1p1".into(),
                path: "/".into(),
                fstype: "xfs".into()
            },
            Mount {
                device: "tmpfs".into(),
                path: "/run".into(),
                fstype: "tmpfs".into()
            },
            Mount {
                device: "/dev/sdb1".into(),
                path: "/mnt/my data".into(),
                fstype: "ext4".into()
            },
        ]
    );
}

#[test]
fn disk_usage_matches_df() {
    // 4 KiB fragments; 1000 blocks, 300 free of which 250 available to non-root users.
    let u = usage(4096, 1000, 300, 250, 500, 120);
    assert_eq!(u.total, 4_096_000);
    assert_eq!(u.free, 1_024_000, "available to users, not free blocks");
    assert_eq!(u.used, 2_867_200);
    assert!(
        (u.used_percent - 100.0 * 700.0 / 950.0).abs() < 1e-9,
        "used / (used + available), as df"
    );
    assert_eq!((u.inodes_total, u.inodes_free, u.inodes_used), (500, 120, 380));
    assert_eq!(usage(4096, 0, 0, 0, 0, 0).used_percent, 0.0);
    let root = statvfs(std::path::Path::new("/")).unwrap();
    assert!(root.total > 0 && root.used_percent > 0.0 && root.used_percent <= 100.0);
}

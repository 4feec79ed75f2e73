//! Every parser of outside input (procfs files, both config formats, NVMe log pages) takes
//! mangled versions of real input without panicking: each answer is a value or an error that
//! says where.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use skywatch_agent::config::parse;
use skywatch_agent::metrics::cpu::parse_stat;
use skywatch_agent::metrics::disk::parse_mounts;
use skywatch_agent::metrics::diskstats::parse_diskstats;
use skywatch_agent::metrics::meminfo::parse_meminfo;
use skywatch_agent::metrics::netdev::parse_net_dev;
use skywatch_agent::metrics::nvme_stats::{decode, LogPageError, VolumeKind};

const SEEDS: &[&str] = &[
    include_str!("procfs/modern-with-swap/meminfo"),
    "cpu  1845591 39892 214465 867780 23589 0 3241 38686 0 0\ncpu0 827288 16713 101949 543219 6552 0 252 21854 0 0\nintr 1 2\n",
    "Inter-|   Receive |  Transmit\n face |bytes packets errs drop fifo frame compressed multicast|bytes packets errs drop fifo colls carrier compressed\n  eth0: 1000 10 0 0 0 0 0 0 2000 20 0 0 0 0 0 0\n",
    " 259 0 nvme0n1 100 0 800 10 50 0 400 5 0 20 30 0 0 0 0\n",
    "/dev/root / ext4 rw 0 0\n/dev/sdb1 /mnt/my\\040data ext4 rw 0 0\n",
    include_str!("configs/cloudwatch-full.json"),
    "[agent]\nmetrics_collection_interval = 10\n[metrics.mem]\nmeasurement = [\"used_percent\", { name = \"free\", unit = \"Bytes\" }]\n",
];

/// `text` with a few random byte edits: deletions, insertions of interesting bytes, swaps.
fn mangle(text: &str, rng: &mut fastrand::Rng) -> String {
    let mut bytes = text.as_bytes().to_vec();
    let interesting = b"{}[]\":,=\n \t\\-0123456789e.xyz\x00\xff";
    for _ in 0..rng.usize(1..6) {
        if bytes.is_empty() {
            bytes.push(b'x');
        }
        let at = rng.usize(..bytes.len());
        match rng.u8(0..3) {
            0 => {
                let end = (at + rng.usize(1..8)).min(bytes.len());
                bytes.drain(at..end);
            }
            1 => bytes.insert(at, interesting[rng.usize(..interesting.len())]),
            _ => {
                let other = rng.usize(..bytes.len());
                bytes.swap(at, other);
            }
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

#[test]
fn mangled_input_gives_values_or_errors_never_a_panic() {
    let mut rng = fastrand::Rng::with_seed(7);
    for round in 0..3_000 {
        let seed = SEEDS[round % SEEDS.len()];
        let text = mangle(seed, &mut rng);
        if let Ok(fields) = parse_meminfo(&text) {
            let _ = skywatch_agent::metrics::meminfo::memory(&fields, Some(&text));
            let _ = skywatch_agent::metrics::meminfo::swap(&fields);
        }
        if let Ok(cpus) = parse_stat(&text) {
            for (_, times) in &cpus {
                let _ = times.usage_since(&cpus[0].1);
                let _ = times.seconds();
            }
        }
        let _ = parse_net_dev(&text);
        let _ = parse_diskstats(&text);
        let _ = parse_mounts(&text);
        let loaded = parse(&text);
        assert!(
            loaded.config.is_some() == loaded.errors.is_empty(),
            "a config or errors, not both or neither: {text}"
        );
        assert!(loaded.errors.iter().all(|e| !e.message.is_empty()));
    }
}

/// The u64 at `at`, little-endian.
fn u64_at(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap())
}

#[test]
fn any_bytes_as_an_nvme_log_page_give_its_counters_or_an_error_never_a_panic() {
    let mut rng = fastrand::Rng::with_seed(11);
    let ebs = 0x3C23_B510u64.to_le_bytes();
    let instance_store = 0xEC2C_0D7Eu32.to_le_bytes();
    let magics: [&[u8]; 3] = [&ebs, &instance_store, &[]];
    let (mut decoded, mut short, mut foreign) = (0, 0, 0);
    for _ in 0..5_000 {
        // Lengths around each boundary (the magic, the counters, the page) and anywhere.
        let len = match rng.u8(0..4) {
            0 => rng.usize(0..16),
            1 => rng.usize(88..104),
            2 => 4096,
            _ => rng.usize(0..5_000),
        };
        let mut bytes: Vec<u8> = std::iter::repeat_with(|| rng.u8(..)).take(len).collect();
        // Mostly a real magic number (or its start), so that the counters are reached too.
        let magic = magics[rng.usize(..magics.len())];
        let n = magic.len().min(bytes.len());
        bytes[..n].copy_from_slice(&magic[..n]);
        match decode(&bytes) {
            Ok(stats) => {
                decoded += 1;
                assert!(bytes.len() >= 96);
                let expected = if u64_at(&bytes, 0) == 0x3C23_B510 {
                    VolumeKind::Ebs
                } else {
                    VolumeKind::InstanceStore
                };
                assert_eq!(stats.kind, expected);
                assert_eq!(
                    (stats.read_ops, stats.read_time_us, stats.queue_length),
                    (u64_at(&bytes, 8), u64_at(&bytes, 40), u64_at(&bytes, 88))
                );
            }
            Err(LogPageError::Short { len }) => {
                short += 1;
                assert!(len == bytes.len() && len < 96, "{len}");
            }
            Err(LogPageError::UnknownMagic { magic }) => {
                foreign += 1;
                assert_eq!(magic, u64_at(&bytes, 0));
                assert!(magic != 0x3C23_B510 && magic as u32 != 0xEC2C_0D7E);
            }
        }
    }
    assert!(
        decoded > 1_000 && short > 500 && foreign > 500,
        "{decoded} {short} {foreign}"
    );
}

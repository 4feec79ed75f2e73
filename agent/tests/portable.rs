//! Without procfs the collector reads the host through sysinfo. On Linux sysinfo itself reads
//! /proc, so its totals must agree with the procfs source's.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::float_cmp)]

use skywatch_agent::config::{parse, PluginConfig};
use skywatch_agent::metrics::collect::{Collector, Sample};

fn plugins(toml: &str) -> Vec<PluginConfig> {
    parse(toml).config.unwrap().metrics.unwrap().plugins
}

fn value(samples: &[Sample], field: &str) -> f64 {
    samples
        .iter()
        .find(|s| s.field == field)
        .unwrap_or_else(|| panic!("no {field}"))
        .value
}

#[test]
fn without_procfs_the_same_totals_come_through_sysinfo() {
    let empty = tempfile::tempdir().unwrap();
    let config = plugins(
        "[metrics.mem]\nmeasurement = [\"used_percent\"]\n[metrics.swap]\nmeasurement = [\"used_percent\"]\n\
         [metrics.cpu]\nmeasurement = [\"usage_active\"]\nresources = [\"*\"]\n\
         [metrics.disk]\nmeasurement = [\"used_percent\"]\nresources = [\"/\"]\n[metrics.diskio]\nmeasurement = [\"reads\"]\n",
    );
    let mut portable = Collector::new(empty.path());
    let mut procfs = Collector::new("/proc");
    assert!(portable.source().starts_with("sysinfo"), "{}", portable.source());
    assert!(procfs.source().starts_with("procfs"));
    let (mem, swap, cpu, disk, diskio) = (&config[0], &config[1], &config[2], &config[3], &config[4]);

    let a = portable.collect(mem).unwrap();
    let b = procfs.collect(mem).unwrap();
    assert_eq!(
        value(&a, "total"),
        value(&b, "total"),
        "MemTotal × 1024 either way"
    );
    assert!((0.0..=100.0).contains(&value(&a, "used_percent")));
    assert!(
        !a.iter().any(|s| s.field == "cached"),
        "no cache figure without procfs"
    );
    let a = portable.collect(swap).unwrap();
    let b = procfs.collect(swap).unwrap();
    assert_eq!(value(&a, "free"), value(&b, "free"));

    assert!(
        portable.collect(cpu).unwrap().is_empty(),
        "the first reading primes the rates"
    );
    std::thread::sleep(std::time::Duration::from_millis(300));
    let usage = portable.collect(cpu).unwrap();
    let total: Vec<&Sample> = usage.iter().filter(|s| s.tags[0].1 == "cpu-total").collect();
    assert_eq!(total.len(), 2, "usage_active and usage_idle: {usage:?}");
    assert!((value(&usage, "usage_active") + value(&usage, "usage_idle") - 100.0).abs() < 1e-6);
    let cores = std::fs::read_to_string("/proc/stat")
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("cpu") && !l.starts_with("cpu "))
        .count();
    assert_eq!(usage.len(), 2 * (cores + 1), "total and each core");

    let a = portable.collect(disk).unwrap();
    assert_eq!(
        a.iter().find(|s| s.field == "total").unwrap().tags[0],
        ("path".to_string(), "/".to_string())
    );
    let err = portable.collect(diskio).unwrap_err();
    assert!(err.to_string().contains("need procfs"), "{err}");
}

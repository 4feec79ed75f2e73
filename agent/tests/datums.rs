//! From procfs to CloudWatch datums: collection (rates from the second reading on) and the
//! CloudWatch agent's names, units and dimension rules.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::float_cmp)]

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::Path;

use skywatch_agent::config::{parse, Plugin, PluginConfig};
use skywatch_agent::metrics::collect::{Collector, Sample};
use skywatch_agent::metrics::datum::{datums, Datum, DimensionRules};

/// The plugins of a TOML `[metrics]` section.
fn plugins(toml: &str) -> Vec<PluginConfig> {
    let loaded = parse(toml);
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    loaded.config.unwrap().metrics.unwrap().plugins
}

fn write_proc(root: &Path, stat: &str, net: &str, diskstats: &str) {
    std::fs::create_dir_all(root.join("net")).unwrap();
    std::fs::copy(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/procfs/modern-with-swap/meminfo"
        ),
        root.join("meminfo"),
    )
    .unwrap();
    std::fs::write(root.join("stat"), stat).unwrap();
    std::fs::write(root.join("net/dev"), net).unwrap();
    std::fs::write(root.join("diskstats"), diskstats).unwrap();
    std::fs::write(
        root.join("mounts"),
        "proc /proc proc rw 0 0\n/dev/root / ext4 rw 0 0\n",
    )
    .unwrap();
}

const NET_HEADER: &str = "Inter-|   Receive |  Transmit\n face |bytes packets errs drop fifo frame compressed multicast|bytes packets errs drop fifo colls carrier compressed\n";

fn find<'d>(datums: &'d [Datum], name: &str, dims: &[(&str, &str)]) -> &'d Datum {
    datums
        .iter()
        .find(|d| {
            d.name == name
                && d.dimensions.len() == dims.len()
                && dims
                    .iter()
                    .all(|(k, v)| d.dimensions.iter().any(|(dk, dv)| dk == k && dv == v))
        })
        .unwrap_or_else(|| panic!("no {name} {dims:?} in {datums:#?}"))
}

#[test]
fn rates_start_at_the_second_reading_and_datums_carry_names_units_and_dimensions() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write_proc(
        root,
        "cpu  100 0 100 800 0 0 0 0 0 0\ncpu0 50 0 50 400 0 0 0 0 0 0\ncpu1 50 0 50 400 0 0 0 0 0 0\n",
        &format!("{NET_HEADER}    lo: 10 1 0 0 0 0 0 0 10 1 0 0 0 0 0 0\n  eth0: 1000 10 0 0 0 0 0 0 2000 20 0 0 0 0 0 0\n"),
        " 259 0 nvme0n1 100 0 800 10 50 0 400 5 0 20 30 0 0 0 0\n",
    );
    let config = plugins(
        r#"
[metrics.mem]
measurement = ["used_percent", { name = "available", rename = "MemAvailable", unit = "Megabytes" }]
metrics_collection_interval = 10
[metrics.swap]
measurement = ["swap_used_percent"]
[metrics.cpu]
measurement = ["usage_active", "usage_idle"]
resources = ["*"]
[metrics.diskio]
measurement = ["read_bytes", "iops_in_progress"]
[metrics.net]
measurement = ["bytes_sent", "bytes_recv"]
"#,
    );
    let rules = DimensionRules {
        host: Some("web-1".into()),
        ..DimensionRules::default()
    };
    let mut collector = Collector::new(root);
    let mut first = Vec::new();
    for p in &config {
        let samples = collector.collect(p).unwrap();
        first.extend(datums(p, &samples, &rules, p.interval_s.unwrap_or(60), 1_000));
    }
    // Gauges at once; rates (cpu usage, net, diskio) not yet.
    let mut names: Vec<&str> = first.iter().map(|d| d.name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        ["MemAvailable", "mem_used_percent", "swap_used_percent"],
        "{first:#?}"
    );
    let mem = find(&first, "mem_used_percent", &[("host", "web-1")]);
    assert_eq!(
        (mem.unit.as_str(), mem.storage_resolution),
        ("Percent", 1),
        "10 s interval: high resolution"
    );
    let swap = find(&first, "swap_used_percent", &[("host", "web-1")]);
    assert_eq!((swap.unit.as_str(), swap.storage_resolution), ("Percent", 60));
    assert_eq!(
        find(&first, "MemAvailable", &[("host", "web-1")]).unit,
        "Megabytes"
    );

    write_proc(
        root,
        "cpu  150 0 130 920 0 0 0 0 0 0\ncpu0 100 0 60 440 0 0 0 0 0 0\ncpu1 50 0 70 480 0 0 0 0 0 0\n",
        &format!("{NET_HEADER}    lo: 99 9 0 0 0 0 0 0 99 9 0 0 0 0 0 0\n  eth0: 1500 15 0 0 0 0 0 0 2600 26 0 0 0 0 0 0\n"),
        " 259 0 nvme0n1 110 0 808 11 50 0 400 5 3 21 31 0 0 0 0\n",
    );
    let mut second = Vec::new();
    for p in &config {
        let samples = collector.collect(p).unwrap();
        second.extend(datums(p, &samples, &rules, p.interval_s.unwrap_or(60), 2_000));
    }
    // cpu-total: Δtotal 200, Δidle 120 → 40% active; cpu0: Δ 100, idle 40 → 60%.
    let total = find(
        &second,
        "cpu_usage_active",
        &[("host", "web-1"), ("cpu", "cpu-total")],
    );
    assert!(
        (total.value - 40.0).abs() < 1e-9 && total.unit == "Percent",
        "{total:?}"
    );
    assert!(
        (find(&second, "cpu_usage_idle", &[("host", "web-1"), ("cpu", "cpu0")]).value - 40.0).abs() < 1e-9
    );
    assert!(
        (find(&second, "cpu_usage_active", &[("host", "web-1"), ("cpu", "cpu1")]).value - 20.0).abs() < 1e-9
    );
    let sent = find(
        &second,
        "net_bytes_sent",
        &[("host", "web-1"), ("interface", "eth0")],
    );
    assert_eq!((sent.value, sent.unit.as_str()), (600.0, "Bytes"));
    assert_eq!(
        find(
            &second,
            "net_bytes_recv",
            &[("host", "web-1"), ("interface", "eth0")]
        )
        .value,
        500.0
    );
    assert!(
        !second.iter().any(|d| d.dimensions.iter().any(|(_, v)| v == "lo")),
        "loopback only when named"
    );
    let read = find(
        &second,
        "diskio_read_bytes",
        &[("host", "web-1"), ("name", "nvme0n1")],
    );
    assert_eq!((read.value, read.unit.as_str()), (8.0 * 512.0, "Bytes"));
    let in_progress = find(
        &second,
        "diskio_iops_in_progress",
        &[("host", "web-1"), ("name", "nvme0n1")],
    );
    assert_eq!(
        (in_progress.value, in_progress.unit.as_str()),
        (3.0, "Count"),
        "a gauge, not a delta"
    );
    assert!(second.iter().all(|d| d.timestamp_ms == 2_000));
}

#[test]
fn a_missing_source_is_a_scrape_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    // A procfs (it has meminfo) that lacks the file the plugin reads.
    std::fs::write(dir.path().join("meminfo"), "MemTotal: 1 kB\nMemFree: 1 kB\n").unwrap();
    let config = plugins("[metrics.cpu]\nmeasurement = [\"usage_idle\"]\n");
    let err = Collector::new(dir.path()).collect(&config[0]).unwrap_err();
    assert!(err.path.ends_with("stat"), "{err}");
}

fn sample(field: &'static str, value: f64, tags: &[(&str, &str)]) -> Sample {
    Sample {
        field,
        value,
        tags: tags
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect(),
        named: None,
    }
}

#[test]
fn ec2_dimensions_replace_host_and_rollups_follow_aggregation_dimensions() {
    let config = plugins(
        r#"
[metrics.disk]
measurement = ["used_percent"]
drop_original_metrics = ["disk_used_percent"]
append_dimensions = { team = "web" }
[metrics.mem]
measurement = ["used_percent"]
"#,
    );
    let rules = DimensionRules {
        host: None,
        global: BTreeMap::from([
            ("InstanceId".to_string(), "i-0abc".to_string()),
            ("InstanceType".to_string(), "t3.micro".to_string()),
        ]),
        aggregation: vec![
            vec!["InstanceId".into()],
            vec!["InstanceId".into(), "path".into()],
            vec![],
            vec!["Nope".into()],
        ],
    };
    let [mem, disk] = &config[..] else {
        panic!("{config:?}")
    };
    assert_eq!((mem.plugin, disk.plugin), (Plugin::Mem, Plugin::Disk));
    let out = datums(
        disk,
        &[sample(
            "used_percent",
            42.0,
            &[("path", "/"), ("device", "nvme0n1p1"), ("fstype", "xfs")],
        )],
        &rules,
        60,
        0,
    );
    let dims: Vec<Vec<String>> = out
        .iter()
        .map(|d| d.dimensions.iter().map(|(k, v)| format!("{k}={v}")).collect())
        .collect();
    assert_eq!(
        dims,
        vec![
            vec!["InstanceId=i-0abc".to_string()],
            vec!["InstanceId=i-0abc".into(), "path=/".into()],
            vec![],
        ],
        "roll-ups only (drop_original_metrics), a set the datum lacks is skipped"
    );
    let mem = datums(
        mem,
        &[
            sample("used_percent", 1.0, &[]),
            sample("used_percent", f64::NAN, &[]),
        ],
        &rules,
        60,
        0,
    );
    // The [InstanceId] and [] roll-ups, then the original; the NaN sample is dropped.
    assert_eq!(mem.len(), 3, "{mem:#?}");
    assert_eq!(
        mem[0].dimensions,
        [("InstanceId".to_string(), "i-0abc".to_string())]
    );
    assert!(mem[1].dimensions.is_empty());
    let names: Vec<&str> = mem[2].dimensions.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        ["InstanceId", "InstanceType"],
        "no host with EC2 dimensions"
    );
}

#[test]
fn more_than_30_dimensions_keep_host_and_the_first_others_alphabetically() {
    let mut toml =
        String::from("[metrics.mem]\nmeasurement = [\"used_percent\"]\n[metrics.mem.append_dimensions]\n");
    for i in 0..40 {
        writeln!(toml, "d{i:02} = \"v\"").unwrap();
    }
    toml.push_str("empty = \"\"\n");
    let config = plugins(&toml);
    let rules = DimensionRules {
        host: Some("h".into()),
        ..DimensionRules::default()
    };
    let out = datums(&config[0], &[sample("used_percent", 1.0, &[])], &rules, 60, 0);
    let names: Vec<&str> = out[0].dimensions.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names.len(), 30);
    assert!(names.contains(&"host"));
    assert_eq!(names[0], "d00");
    assert_eq!(names[28], "d28");
    assert!(!names.contains(&"d29") && !names.contains(&"empty"));
}

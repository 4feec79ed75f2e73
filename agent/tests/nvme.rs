//! diskio's NVMe metrics of EBS and instance-store volumes, from a fake sysfs and fixture log
//! pages to CloudWatch datums: the CloudWatch agent's names, units, dimensions and delta rules;
//! what is said when there is nothing to read.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::float_cmp)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use skywatch_agent::config::{parse, PluginConfig};
use skywatch_agent::metrics::collect::{Collector, NvmeSource};
use skywatch_agent::metrics::datum::{datums, Datum, DimensionRules};
use skywatch_agent::metrics::nvme::LogPageReader;

const EBS_MAGIC: u64 = 0x3C23_B510;
const INSTANCE_STORE_MAGIC: u32 = 0xEC2C_0D7E;

/// A 4096-byte statistics page as the device writes it: the magic in bytes 0..8, the eleven
/// u64 counters (little-endian) in bytes 8..96, filler where the histograms are.
fn page(magic: &[u8], counters: [u64; 11]) -> Vec<u8> {
    let mut page = vec![0x5A; 4096];
    page[..8].fill(0);
    page[..magic.len()].copy_from_slice(magic);
    for (i, c) in counters.iter().enumerate() {
        page[8 + 8 * i..16 + 8 * i].copy_from_slice(&c.to_le_bytes());
    }
    page
}

fn ebs_page(counters: [u64; 11]) -> Vec<u8> {
    page(&EBS_MAGIC.to_le_bytes(), counters)
}

fn instance_store_page(counters: [u64; 11]) -> Vec<u8> {
    page(&INSTANCE_STORE_MAGIC.to_le_bytes(), counters)
}

/// Log pages by device file; a device without one answers as a missing file does.
#[derive(Debug, Clone, Default)]
struct Pages(Arc<Mutex<HashMap<PathBuf, std::io::Result<Vec<u8>>>>>);

impl Pages {
    fn set(&self, device: &str, page: std::io::Result<Vec<u8>>) {
        self.0.lock().unwrap().insert(PathBuf::from(device), page);
    }
}

impl LogPageReader for Pages {
    fn read(&self, device: &Path) -> std::io::Result<Vec<u8>> {
        match self.0.lock().unwrap().get(device) {
            Some(Ok(page)) => Ok(page.clone()),
            Some(Err(e)) => Err(std::io::Error::new(e.kind(), e.to_string())),
            None => Err(std::io::ErrorKind::NotFound.into()),
        }
    }
}

/// A controller in a fake sysfs, with sysfs's padding.
fn controller(sys: &Path, name: &str, model: &str, serial: &str, namespace: &str) {
    let dir = sys.join("class/nvme").join(name);
    std::fs::create_dir_all(dir.join(namespace)).unwrap();
    std::fs::write(dir.join("model"), format!("{model:<40}\n")).unwrap();
    std::fs::write(dir.join("serial"), format!("{serial:<20}\n")).unwrap();
}

fn diskio(measurements: &[&str]) -> PluginConfig {
    let list: Vec<String> = measurements.iter().map(|m| format!("{m:?}")).collect();
    let loaded = parse(&format!(
        "[metrics.diskio]\nmeasurement = [{}]\n",
        list.join(", ")
    ));
    assert!(
        loaded.errors.is_empty() && loaded.warnings.is_empty(),
        "{loaded:?}"
    );
    loaded.config.unwrap().metrics.unwrap().plugins.remove(0)
}

fn proc_root(dir: &Path, reads: u64) -> PathBuf {
    let root = dir.join("proc");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("meminfo"), "MemTotal: 1 kB\nMemFree: 1 kB\n").unwrap();
    std::fs::write(
        root.join("diskstats"),
        format!(" 259 0 nvme0n1 {reads} 0 800 10 50 0 400 5 0 20 30 0 0 0 0\n"),
    )
    .unwrap();
    root
}

fn find<'d>(datums: &'d [Datum], name: &str) -> &'d Datum {
    datums
        .iter()
        .find(|d| d.name == name)
        .unwrap_or_else(|| panic!("no {name} in {datums:#?}"))
}

const EBS_FIELDS: [&str; 11] = [
    "ebs_total_read_ops",
    "ebs_total_write_ops",
    "ebs_total_read_bytes",
    "ebs_total_write_bytes",
    "ebs_total_read_time",
    "ebs_total_write_time",
    "ebs_volume_performance_exceeded_iops",
    "ebs_volume_performance_exceeded_tp",
    "ebs_ec2_instance_performance_exceeded_iops",
    "ebs_ec2_instance_performance_exceeded_tp",
    "ebs_volume_queue_length",
];

const INSTANCE_STORE_FIELDS: [&str; 9] = [
    "instance_store_total_read_ops",
    "instance_store_total_write_ops",
    "instance_store_total_read_bytes",
    "instance_store_total_write_bytes",
    "instance_store_total_read_time",
    "instance_store_total_write_time",
    "instance_store_performance_exceeded_iops",
    "instance_store_performance_exceeded_tp",
    "instance_store_volume_queue_length",
];

#[test]
fn volume_statistics_become_the_agents_metrics_counters_as_deltas_and_the_queue_as_read() {
    let dir = tempfile::tempdir().unwrap();
    let sys = dir.path().join("sys");
    controller(
        &sys,
        "nvme0",
        "Amazon Elastic Block Store",
        "vol0123456789abcdef0",
        "nvme0n1",
    );
    controller(
        &sys,
        "nvme1",
        "Amazon EC2 NVMe Instance Storage",
        "AWS22A5C4F6E2B7F0A21",
        "nvme1n1",
    );
    controller(&sys, "nvme2", "Some Other SSD", "S123", "nvme2n1");
    let pages = Pages::default();
    pages.set(
        "/dev/nvme0n1",
        Ok(ebs_page([10, 20, 4096, 8192, 500, 700, 1, 2, 3, 4, 6])),
    );
    // The namespace cannot be opened (not in group disk): the controller's file answers.
    pages.set("/dev/nvme1n1", Err(std::io::ErrorKind::PermissionDenied.into()));
    pages.set(
        "/dev/nvme1",
        Ok(instance_store_page([5, 5, 512, 512, 50, 50, 99, 99, 7, 8, 2])),
    );
    let mut collector = Collector::new(proc_root(dir.path(), 100)).with_nvme(NvmeSource {
        sysfs_root: sys.clone(),
        reader: Box::new(pages.clone()),
    });
    let mut measurements: Vec<&str> = vec!["reads"];
    measurements.extend(EBS_FIELDS);
    measurements.extend(INSTANCE_STORE_FIELDS);
    let plugin = diskio(&measurements);
    let rules = DimensionRules {
        host: Some("web-1".into()),
        ..DimensionRules::default()
    };

    let first = datums(&plugin, &collector.collect(&plugin).unwrap(), &rules, 60, 1_000);
    // Counters need a second reading; the queue lengths are gauges, sent at once.
    let mut names: Vec<&str> = first.iter().map(|d| d.name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "diskio_ebs_volume_queue_length",
            "diskio_instance_store_volume_queue_length"
        ]
    );
    assert_eq!(collector.take_notices(), Vec::<String>::new());

    pages.set(
        "/dev/nvme0n1",
        Ok(ebs_page([15, 30, 6144, 9216, 560, 780, 11, 12, 13, 14, 1])),
    );
    pages.set(
        "/dev/nvme1",
        Ok(instance_store_page([
            6, 9, 1024, 4608, 60, 90, 1099, 1099, 17, 18, 0,
        ])),
    );
    std::fs::write(
        dir.path().join("proc/diskstats"),
        " 259 0 nvme0n1 103 0 800 10 50 0 400 5 0 20 30 0 0 0 0\n",
    )
    .unwrap();
    let second = datums(&plugin, &collector.collect(&plugin).unwrap(), &rules, 60, 2_000);

    let volume = [("VolumeId".to_string(), "vol-0123456789abcdef0".to_string())];
    let ebs: Vec<(&str, f64, &str)> = EBS_FIELDS
        .iter()
        .map(|f| {
            let d = find(&second, &format!("diskio_{f}"));
            assert_eq!(d.dimensions, volume, "{f}: VolumeId alone, no host");
            (*f, d.value, d.unit.as_str())
        })
        .collect();
    assert_eq!(
        ebs,
        [
            ("ebs_total_read_ops", 5.0, "None"),
            ("ebs_total_write_ops", 10.0, "None"),
            ("ebs_total_read_bytes", 2048.0, "Bytes"),
            ("ebs_total_write_bytes", 1024.0, "Bytes"),
            ("ebs_total_read_time", 60.0, "Microseconds"),
            ("ebs_total_write_time", 80.0, "Microseconds"),
            ("ebs_volume_performance_exceeded_iops", 10.0, "Microseconds"),
            ("ebs_volume_performance_exceeded_tp", 10.0, "Microseconds"),
            ("ebs_ec2_instance_performance_exceeded_iops", 10.0, "Microseconds"),
            ("ebs_ec2_instance_performance_exceeded_tp", 10.0, "Microseconds"),
            ("ebs_volume_queue_length", 1.0, "None"),
        ]
    );
    let serial = [("SerialId".to_string(), "AWS22A5C4F6E2B7F0A21".to_string())];
    let store: Vec<(&str, f64, &str)> = INSTANCE_STORE_FIELDS
        .iter()
        .map(|f| {
            let d = find(&second, &format!("diskio_{f}"));
            assert_eq!(d.dimensions, serial, "{f}: SerialId alone, no host");
            (*f, d.value, d.unit.as_str())
        })
        .collect();
    assert_eq!(
        store,
        [
            ("instance_store_total_read_ops", 1.0, "None"),
            ("instance_store_total_write_ops", 4.0, "None"),
            ("instance_store_total_read_bytes", 512.0, "Bytes"),
            ("instance_store_total_write_bytes", 4096.0, "Bytes"),
            ("instance_store_total_read_time", 10.0, "Microseconds"),
            ("instance_store_total_write_time", 40.0, "Microseconds"),
            // The device's limits are the page's instance fields (bytes 72..88), not the
            // volume ones that only EBS fills.
            ("instance_store_performance_exceeded_iops", 10.0, "Microseconds"),
            ("instance_store_performance_exceeded_tp", 10.0, "Microseconds"),
            ("instance_store_volume_queue_length", 0.0, "None"),
        ]
    );
    let reads = find(&second, "diskio_reads");
    assert_eq!(
        (reads.value, reads.unit.as_str(), reads.dimensions.len()),
        (3.0, "Count", 2),
        "the diskstats metrics keep `host` and `name`: {reads:?}"
    );
    assert_eq!(second.len(), 1 + EBS_FIELDS.len() + INSTANCE_STORE_FIELDS.len());

    // The global EC2 dimensions join the volume's, as the agent's ec2tagger adds them.
    let with_instance = DimensionRules {
        host: None,
        global: [("InstanceId".to_string(), "i-0abc".to_string())].into(),
        ..DimensionRules::default()
    };
    let samples = collector.collect(&plugin).unwrap();
    let third = datums(&plugin, &samples, &with_instance, 60, 3_000);
    assert_eq!(
        find(&third, "diskio_ebs_total_read_ops").dimensions,
        [
            ("InstanceId".to_string(), "i-0abc".to_string()),
            ("VolumeId".to_string(), "vol-0123456789abcdef0".to_string()),
        ]
    );
    assert_eq!(collector.take_failed_reads(), 0);
}

#[test]
fn only_the_kinds_and_devices_asked_for_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let sys = dir.path().join("sys");
    controller(&sys, "nvme0", "Amazon Elastic Block Store", "vol0aaa", "nvme0n1");
    controller(&sys, "nvme1", "Amazon Elastic Block Store", "vol0bbb", "nvme1n1");
    controller(
        &sys,
        "nvme2",
        "Amazon EC2 NVMe Instance Storage",
        "AWS1",
        "nvme2n1",
    );
    let pages = Pages::default();
    pages.set("/dev/nvme0n1", Ok(ebs_page([0; 11])));
    pages.set("/dev/nvme1n1", Ok(ebs_page([0; 11])));
    pages.set("/dev/nvme2n1", Ok(instance_store_page([0; 11])));
    let mut collector = Collector::new(proc_root(dir.path(), 1)).with_nvme(NvmeSource {
        sysfs_root: sys,
        reader: Box::new(pages),
    });
    let loaded = parse(
        "[metrics.diskio]\nmeasurement = [\"diskio_ebs_volume_queue_length\"]\nresources = [\"nvme1n1\"]\n",
    );
    let plugin = loaded.config.unwrap().metrics.unwrap().plugins.remove(0);
    let samples = collector.collect(&plugin).unwrap();
    let tags: Vec<&[(String, String)]> = samples.iter().map(|s| s.tags.as_slice()).collect();
    assert_eq!(
        tags,
        [&[("VolumeId".to_string(), "vol-0bbb".to_string())][..]],
        "no diskstats (not asked for), no instance store, only nvme1: {samples:?}"
    );
}

/// Fails the test if anything reads a log page.
#[derive(Debug)]
struct NoReads;

impl LogPageReader for NoReads {
    fn read(&self, device: &Path) -> std::io::Result<Vec<u8>> {
        panic!("read {}", device.display())
    }
}

#[test]
fn without_nvme_devices_it_is_said_once_and_the_other_diskio_metrics_still_come() {
    let dir = tempfile::tempdir().unwrap();
    // A machine without NVMe: no /sys/class/nvme at all.
    let sys = dir.path().join("sys");
    std::fs::create_dir_all(&sys).unwrap();
    let mut collector = Collector::new(proc_root(dir.path(), 100)).with_nvme(NvmeSource {
        sysfs_root: sys.clone(),
        reader: Box::new(NoReads),
    });
    let plugin = diskio(&["reads", "ebs_total_read_ops", "ebs_volume_queue_length"]);
    let mut notices = Vec::new();
    let mut reads = Vec::new();
    for n in 0..4 {
        std::fs::write(
            dir.path().join("proc/diskstats"),
            format!(" 259 0 nvme0n1 {} 0 800 10 50 0 400 5 0 20 30 0 0 0 0\n", 100 + n),
        )
        .unwrap();
        let samples = collector.collect(&plugin).unwrap();
        reads.extend(samples.iter().filter(|s| s.field == "reads").map(|s| s.value));
        assert!(
            samples.iter().all(|s| s.tags[0].0 == "name"),
            "diskstats only: {samples:?}"
        );
        notices.extend(collector.take_notices());
        assert_eq!(
            collector.take_failed_reads(),
            0,
            "nothing to read is not a failed read"
        );
    }
    assert_eq!(reads, [1.0, 1.0, 1.0]);
    assert_eq!(
        notices,
        [format!(
            "diskio: no EBS volumes to read NVMe statistics from (cannot list {}: No such file or directory \
             (os error 2)); their metrics are not sent (said once)",
            sys.join("class/nvme").display()
        )]
    );

    // NVMe controllers, but none of them EBS: said once too.
    let sys = dir.path().join("sys2");
    controller(&sys, "nvme0", "Samsung SSD 980", "S1", "nvme0n1");
    let mut collector = Collector::new(proc_root(dir.path(), 100)).with_nvme(NvmeSource {
        sysfs_root: sys.clone(),
        reader: Box::new(NoReads),
    });
    let mut notices = Vec::new();
    for _ in 0..3 {
        collector.collect(&plugin).unwrap();
        notices.extend(collector.take_notices());
    }
    assert_eq!(
        notices,
        [format!(
            "diskio: no EBS volumes found among the NVMe controllers of {} (model \"Amazon Elastic Block Store\" \
             or \"Amazon EC2 NVMe Instance Storage\"); their metrics are not sent (said once)",
            sys.join("class/nvme").display()
        )]
    );
}

#[test]
fn an_unreadable_volume_is_said_once_counted_each_time_and_the_others_still_come() {
    let dir = tempfile::tempdir().unwrap();
    let sys = dir.path().join("sys");
    controller(&sys, "nvme0", "Amazon Elastic Block Store", "vol0aaa", "nvme0n1");
    controller(&sys, "nvme1", "Amazon Elastic Block Store", "vol0bbb", "nvme1n1");
    let pages = Pages::default();
    pages.set("/dev/nvme0n1", Ok(ebs_page([1; 11])));
    // nvme1: nothing answers at first, then a page that is not the statistics.
    let mut collector = Collector::new(proc_root(dir.path(), 1)).with_nvme(NvmeSource {
        sysfs_root: sys,
        reader: Box::new(pages.clone()),
    });
    let plugin = diskio(&["ebs_volume_queue_length"]);
    let mut notices = Vec::new();
    let mut failed = 0;
    let volumes = |samples: &[skywatch_agent::metrics::collect::Sample]| {
        let mut ids: Vec<String> = samples.iter().map(|s| s.tags[0].1.clone()).collect();
        ids.dedup();
        ids
    };
    for _ in 0..3 {
        let samples = collector.collect(&plugin).unwrap();
        assert_eq!(volumes(&samples), ["vol-0aaa"]);
        notices.extend(collector.take_notices());
        failed += collector.take_failed_reads();
    }
    assert_eq!(failed, 3);
    assert_eq!(
        notices,
        ["diskio: cannot read the NVMe statistics of vol-0bbb (nvme1): no device file gave the statistics \
          log page (/dev/nvme1n1: entity not found; /dev/nvme1: entity not found); its metrics are not sent \
          until it can be read (said once)"]
    );

    // Another problem of the same volume is not said again; its recovery is.
    pages.set("/dev/nvme1n1", Ok(vec![0; 4096]));
    collector.collect(&plugin).unwrap();
    assert_eq!(collector.take_notices(), Vec::<String>::new());
    assert_eq!(collector.take_failed_reads(), 1);
    pages.set("/dev/nvme1n1", Ok(ebs_page([2; 11])));
    assert_eq!(
        volumes(&collector.collect(&plugin).unwrap()),
        ["vol-0aaa", "vol-0bbb"]
    );
    assert_eq!(
        collector.take_notices(),
        ["diskio: reading the NVMe statistics of vol-0bbb (nvme1) again"]
    );
    // Failing anew after that is said anew, with what the permission needs.
    pages.set("/dev/nvme1n1", Err(std::io::ErrorKind::PermissionDenied.into()));
    collector.collect(&plugin).unwrap();
    assert_eq!(
        collector.take_notices(),
        ["diskio: cannot read the NVMe statistics of vol-0bbb (nvme1): no device file gave the statistics \
          log page (/dev/nvme1n1: permission denied; /dev/nvme1: entity not found); NVMe admin commands \
          need CAP_SYS_ADMIN (root has it) and read access to the device file; its metrics are not sent \
          until it can be read (said once)"]
    );
}

#[test]
fn an_unknown_ebs_metric_is_an_error_naming_the_valid_ones() {
    let loaded = parse(
        r#"{"metrics": {"metrics_collected": {"diskio": {"measurement": ["ebs_total_read_ops", "diskio_ebs_foo"]}}}}"#,
    );
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let messages: Vec<String> = loaded.errors.iter().map(ToString::to_string).collect();
    assert_eq!(messages.len(), 1, "{messages:?}");
    let e = &loaded.errors[0];
    assert_eq!(e.path, "metrics.metrics_collected.diskio.measurement[1]");
    assert!(
        e.message
            .starts_with("diskio has no metric \"diskio_ebs_foo\" (it has: reads, ")
            && EBS_FIELDS
                .iter()
                .chain(&INSTANCE_STORE_FIELDS)
                .all(|f| e.message.contains(f)),
        "{e}"
    );
}

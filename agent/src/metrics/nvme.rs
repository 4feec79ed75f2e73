//! Amazon EBS and EC2 instance-store volumes attached over NVMe: found in sysfs, their
//! statistics read with the NVMe Get Log Page command (see [`super::nvme_stats`]).
//!
//! Each controller `<sysfs>/class/nvme/nvmeN` is one volume: its `model` says which kind, its
//! `serial` which one (an EBS serial is the volume id without its dash, `vol0123…`). The log
//! page is read through the first of the controller's device files that answers: its
//! namespaces first (`/dev/nvmeNn1`, group `disk` on most distributions), then the controller
//! itself (`/dev/nvmeN`, root only) — as the CloudWatch agent tries each device of a controller.

use std::path::{Path, PathBuf};

use super::nvme_stats::{decode, LogPageError, NvmeStats, VolumeKind, LOG_PAGE_BYTES, LOG_PAGE_ID};

/// The `model` of an EBS volume's controller.
pub const EBS_MODEL: &str = "Amazon Elastic Block Store";
/// The `model` of an instance-store volume's controller.
pub const INSTANCE_STORE_MODEL: &str = "Amazon EC2 NVMe Instance Storage";

/// One EBS or instance-store volume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Volume {
    /// The controller, `nvme0`.
    pub controller: String,
    pub kind: VolumeKind,
    /// EBS: the volume id (`vol-0123…`); instance store: the serial number.
    pub id: String,
    /// The controller's namespaces as block devices (`nvme0n1`), in order.
    pub namespaces: Vec<String>,
}

impl Volume {
    /// The device files to read the log page through, in the order to try them.
    pub fn device_files(&self) -> Vec<PathBuf> {
        let dev = Path::new("/dev");
        self.namespaces
            .iter()
            .chain(std::iter::once(&self.controller))
            .map(|name| dev.join(name))
            .collect()
    }

    /// The CloudWatch agent's dimension for the volume: `VolumeId` or `SerialId`.
    pub fn dimension(&self) -> (&'static str, &str) {
        match self.kind {
            VolumeKind::Ebs => ("VolumeId", &self.id),
            VolumeKind::InstanceStore => ("SerialId", &self.id),
        }
    }
}

/// The EBS and instance-store controllers under `sysfs_root` (`/sys`), in controller order;
/// other NVMe devices are left out. Fails only when `<sysfs_root>/class/nvme` cannot be listed
/// (it is missing where no NVMe driver is loaded).
pub fn find_volumes(sysfs_root: &Path) -> std::io::Result<Vec<Volume>> {
    let class = sysfs_root.join("class/nvme");
    let mut volumes = Vec::new();
    for entry in std::fs::read_dir(&class)?.flatten() {
        let controller = entry.file_name().to_string_lossy().into_owned();
        if controller_number(&controller).is_none() {
            continue;
        }
        let dir = class.join(&controller);
        let attribute = |name: &str| {
            std::fs::read_to_string(dir.join(name))
                .map(|text| text.trim().to_string())
                .unwrap_or_default()
        };
        let kind = match attribute("model").as_str() {
            EBS_MODEL => VolumeKind::Ebs,
            INSTANCE_STORE_MODEL => VolumeKind::InstanceStore,
            _ => continue,
        };
        let serial = attribute("serial");
        if serial.is_empty() {
            continue;
        }
        let id = match kind {
            VolumeKind::Ebs => volume_id(&serial),
            VolumeKind::InstanceStore => serial,
        };
        let mut namespaces: Vec<String> = std::fs::read_dir(&dir)
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|name| is_namespace_of(name, &controller))
                    .collect()
            })
            .unwrap_or_default();
        namespaces.sort_by_key(|name| natural_key(name));
        volumes.push(Volume {
            controller,
            kind,
            id,
            namespaces,
        });
    }
    volumes.sort_by_key(|v| controller_number(&v.controller));
    Ok(volumes)
}

/// `vol0123…` → `vol-0123…` (the serial leaves the dash out); anything else as it is.
fn volume_id(serial: &str) -> String {
    match serial.strip_prefix("vol") {
        Some(rest) if !rest.is_empty() && !rest.starts_with('-') => format!("vol-{rest}"),
        _ => serial.to_string(),
    }
}

/// `nvme12` → 12.
fn controller_number(name: &str) -> Option<u32> {
    name.strip_prefix("nvme")?.parse().ok()
}

/// Whether `name` is a namespace block device of `controller`: `nvme0n1` of `nvme0`. (Under
/// native multipath the controller lists `nvme0c0n1` instead, whose block device may carry
/// another number: the controller's own device file serves then.)
fn is_namespace_of(name: &str, controller: &str) -> bool {
    name.strip_prefix(controller)
        .and_then(|rest| rest.strip_prefix('n'))
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

fn natural_key(name: &str) -> (usize, String) {
    (name.len(), name.to_string())
}

/// The metric fields of `stats` (those of its kind of volume, with the CloudWatch agent's names):
/// the cumulative counters, and the queue length, a gauge.
pub fn fields(stats: &NvmeStats) -> (Vec<(&'static str, u64)>, (&'static str, u64)) {
    match stats.kind {
        VolumeKind::Ebs => (
            vec![
                ("ebs_total_read_ops", stats.read_ops),
                ("ebs_total_write_ops", stats.write_ops),
                ("ebs_total_read_bytes", stats.read_bytes),
                ("ebs_total_write_bytes", stats.write_bytes),
                ("ebs_total_read_time", stats.read_time_us),
                ("ebs_total_write_time", stats.write_time_us),
                (
                    "ebs_volume_performance_exceeded_iops",
                    stats.volume_iops_exceeded_us,
                ),
                (
                    "ebs_volume_performance_exceeded_tp",
                    stats.volume_throughput_exceeded_us,
                ),
                (
                    "ebs_ec2_instance_performance_exceeded_iops",
                    stats.instance_iops_exceeded_us,
                ),
                (
                    "ebs_ec2_instance_performance_exceeded_tp",
                    stats.instance_throughput_exceeded_us,
                ),
            ],
            ("ebs_volume_queue_length", stats.queue_length),
        ),
        // The agent takes the instance's limits (bytes 72..88) as the device's: the volume
        // ones (56..72) do not apply to instance storage.
        VolumeKind::InstanceStore => (
            vec![
                ("instance_store_total_read_ops", stats.read_ops),
                ("instance_store_total_write_ops", stats.write_ops),
                ("instance_store_total_read_bytes", stats.read_bytes),
                ("instance_store_total_write_bytes", stats.write_bytes),
                ("instance_store_total_read_time", stats.read_time_us),
                ("instance_store_total_write_time", stats.write_time_us),
                (
                    "instance_store_performance_exceeded_iops",
                    stats.instance_iops_exceeded_us,
                ),
                (
                    "instance_store_performance_exceeded_tp",
                    stats.instance_throughput_exceeded_us,
                ),
            ],
            ("instance_store_volume_queue_length", stats.queue_length),
        ),
    }
}

/// Reads the statistics log page through a device file. Collection takes it as a parameter so
/// that tests can hand it fixture pages.
pub trait LogPageReader: std::fmt::Debug + Send {
    fn read(&self, device: &Path) -> std::io::Result<Vec<u8>>;
}

/// The NVMe admin passthrough ioctl (Linux only; elsewhere every read fails saying so).
#[derive(Debug, Default, Clone, Copy)]
pub struct AdminIoctl;

impl LogPageReader for AdminIoctl {
    #[cfg(target_os = "linux")]
    fn read(&self, device: &Path) -> std::io::Result<Vec<u8>> {
        super::nvme_ioctl::get_log_page(device, LOG_PAGE_ID, LOG_PAGE_BYTES)
    }

    #[cfg(not(target_os = "linux"))]
    fn read(&self, _device: &Path) -> std::io::Result<Vec<u8>> {
        Err(std::io::Error::new(
            std::io::ErrorKind::Unsupported,
            format!("NVMe log pages ({LOG_PAGE_ID:#04x}, {LOG_PAGE_BYTES} bytes) are read on Linux only"),
        ))
    }
}

/// Why a volume's statistics could not be had.
#[derive(Debug)]
pub enum StatsError {
    /// No device file gave the page: each one tried, with its error.
    Unreadable(Vec<(PathBuf, std::io::Error)>),
    /// A page came, but it is not the statistics.
    NotStatistics(LogPageError),
    /// The page is the other kind of volume's than the controller's model says.
    OtherKind { page: VolumeKind },
}

impl std::fmt::Display for StatsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StatsError::Unreadable(tries) => {
                f.write_str("no device file gave the statistics log page (")?;
                for (i, (path, e)) in tries.iter().enumerate() {
                    let sep = if i == 0 { "" } else { "; " };
                    write!(f, "{sep}{}: {e}", path.display())?;
                }
                f.write_str(")")?;
                if tries
                    .iter()
                    .any(|(_, e)| e.kind() == std::io::ErrorKind::PermissionDenied)
                {
                    f.write_str(
                        "; NVMe admin commands need CAP_SYS_ADMIN (root has it) and read access to the device file",
                    )?;
                }
                Ok(())
            }
            StatsError::NotStatistics(e) => write!(f, "{e}"),
            StatsError::OtherKind { page } => write!(
                f,
                "the log page is {}'s, not what the controller's model says",
                match page {
                    VolumeKind::Ebs => "an EBS volume",
                    VolumeKind::InstanceStore => "an instance-store volume",
                }
            ),
        }
    }
}

impl std::error::Error for StatsError {}

/// The statistics of `volume`, through the first of its device files that answers.
pub fn read_stats(volume: &Volume, reader: &dyn LogPageReader) -> Result<NvmeStats, StatsError> {
    let mut tries = Vec::new();
    for device in volume.device_files() {
        match reader.read(&device) {
            Ok(page) => {
                let stats = decode(&page).map_err(StatsError::NotStatistics)?;
                if stats.kind != volume.kind {
                    return Err(StatsError::OtherKind { page: stats.kind });
                }
                return Ok(stats);
            }
            Err(e) => tries.push((device, e)),
        }
    }
    Err(StatsError::Unreadable(tries))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::path::{Path, PathBuf};

    use super::{find_volumes, read_stats, volume_id, LogPageReader, StatsError, Volume};
    use crate::metrics::nvme_stats::VolumeKind;

    fn controller(root: &Path, name: &str, model: &str, serial: &str, namespaces: &[&str]) {
        let dir = root.join("class/nvme").join(name);
        std::fs::create_dir_all(&dir).unwrap();
        // sysfs pads both to their field widths.
        std::fs::write(dir.join("model"), format!("{model:<40}\n")).unwrap();
        std::fs::write(dir.join("serial"), format!("{serial:<20}\n")).unwrap();
        for ns in namespaces {
            std::fs::create_dir_all(dir.join(ns)).unwrap();
        }
        std::fs::create_dir_all(dir.join("power")).unwrap();
    }

    #[test]
    fn ebs_and_instance_store_controllers_are_found_and_others_left_out() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        controller(
            root,
            "nvme10",
            "Amazon Elastic Block Store",
            "vol0abc",
            &["nvme10n1"],
        );
        controller(
            root,
            "nvme2",
            "Amazon EC2 NVMe Instance Storage",
            "AWS1234567890ABCDEF0",
            &["nvme2n10", "nvme2n2"],
        );
        controller(root, "nvme1", "Samsung SSD 980", "S649NX0", &["nvme1n1"]);
        controller(
            root,
            "nvme3",
            "Amazon Elastic Block Store",
            "vol0def",
            &["nvme3c3n1"],
        );
        std::fs::create_dir_all(root.join("class/nvme/nvme-subsys0")).unwrap();
        let volumes = find_volumes(root).unwrap();
        assert_eq!(
            volumes,
            [
                Volume {
                    controller: "nvme2".into(),
                    kind: VolumeKind::InstanceStore,
                    id: "AWS1234567890ABCDEF0".into(),
                    namespaces: vec!["nvme2n2".into(), "nvme2n10".into()],
                },
                Volume {
                    controller: "nvme3".into(),
                    kind: VolumeKind::Ebs,
                    id: "vol-0def".into(),
                    namespaces: vec![],
                },
                Volume {
                    controller: "nvme10".into(),
                    kind: VolumeKind::Ebs,
                    id: "vol-0abc".into(),
                    namespaces: vec!["nvme10n1".into()],
                },
            ]
        );
        assert_eq!(
            volumes[2].device_files(),
            [PathBuf::from("/dev/nvme10n1"), PathBuf::from("/dev/nvme10")]
        );
        assert_eq!(volumes[0].dimension(), ("SerialId", "AWS1234567890ABCDEF0"));
        assert_eq!(volumes[2].dimension(), ("VolumeId", "vol-0abc"));
    }

    #[test]
    fn no_nvme_class_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(find_volumes(dir.path()).is_err());
    }

    #[test]
    fn a_serial_becomes_a_volume_id_with_its_dash() {
        assert_eq!(volume_id("vol0123456789abcdef0"), "vol-0123456789abcdef0");
        assert_eq!(volume_id("vol-0123"), "vol-0123");
        assert_eq!(volume_id("vol"), "vol");
        assert_eq!(volume_id("AWS123"), "AWS123");
    }

    #[derive(Debug)]
    struct Denied;

    impl LogPageReader for Denied {
        fn read(&self, _: &Path) -> std::io::Result<Vec<u8>> {
            Err(std::io::Error::from(std::io::ErrorKind::PermissionDenied))
        }
    }

    #[test]
    fn every_device_file_is_tried_and_named_when_none_answers() {
        let volume = Volume {
            controller: "nvme0".into(),
            kind: VolumeKind::Ebs,
            id: "vol-0abc".into(),
            namespaces: vec!["nvme0n1".into()],
        };
        let err = read_stats(&volume, &Denied).unwrap_err();
        assert!(matches!(&err, StatsError::Unreadable(tries) if tries.len() == 2));
        assert_eq!(
            err.to_string(),
            "no device file gave the statistics log page (/dev/nvme0n1: permission denied; \
             /dev/nvme0: permission denied); NVMe admin commands need CAP_SYS_ADMIN (root has it) \
             and read access to the device file"
        );
    }
}

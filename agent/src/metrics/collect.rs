//! Reads one plugin's source and turns it into samples: a field, a value and the plugin's own
//! tags (`cpu`, `path`/`device`/`fstype`, `name`, `interface`). Keeps what the rates need
//! between readings (cpu ticks, counters).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use super::counters::Deltas;
use super::cpu::{parse_stat, CpuTimes};
use super::disk::{parse_mounts, statvfs};
use super::diskstats::parse_diskstats;
use super::netdev::parse_net_dev;
use super::netstat::{count_sockets, count_tcp_states, fields as netstat_fields};
use super::nvme::{self, LogPageReader};
use super::nvme_stats::VolumeKind;
use super::portable::Portable;
use super::processes::ProcessCounts;
use super::{collectd, ethtool, procstat, statsd};
use super::{read_memory, ScrapeError};
use crate::config::schema::is_nvme_field;
use crate::config::{Plugin, PluginConfig};

/// One measured value of a plugin.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub field: &'static str,
    pub value: f64,
    /// The plugin's dimensions for this value (`cpu=cpu0`), in a fixed order.
    pub tags: Vec<(String, String)>,
    /// A metric named by whoever sent it (statsd), with its unit: sent as it is, whatever the
    /// plugin's `measurement` says.
    pub named: Option<(String, &'static str)>,
}

/// The readings of every plugin, with the state between them.
#[derive(Debug)]
pub struct Collector {
    proc_root: PathBuf,
    /// Set when there is no procfs: readings come through sysinfo instead.
    portable: Option<Portable>,
    cpu_last: HashMap<String, CpuTimes>,
    net: Deltas,
    diskio: Deltas,
    procstat_cpu: procstat::CpuHistory,
    /// What each statsd listener aggregates, by address.
    statsd: HashMap<String, statsd::Shared>,
    /// What each collectd listener received, by address.
    collectd: HashMap<String, collectd::Shared>,
    nvme: NvmeSource,
    /// The EBS and instance-store counters, by volume.
    nvme_deltas: Deltas,
    /// Problems of the NVMe source already logged (a volume by controller, or none found):
    /// each is said once, and again only after it went away.
    nvme_said: HashSet<String>,
    /// Volumes whose statistics could not be read, since the last [`Collector::take_failed_reads`].
    nvme_failed_reads: u64,
    /// Lines for the agent's log, since the last [`Collector::take_notices`].
    notices: Vec<String>,
}

/// Where the EBS and instance-store volumes are found (`<sysfs_root>/class/nvme`) and how their
/// statistics log page is read.
#[derive(Debug)]
pub struct NvmeSource {
    pub sysfs_root: PathBuf,
    pub reader: Box<dyn LogPageReader>,
}

impl Default for NvmeSource {
    /// `/sys`, and the NVMe admin ioctl.
    fn default() -> NvmeSource {
        NvmeSource {
            sysfs_root: PathBuf::from("/sys"),
            reader: Box::new(nvme::AdminIoctl),
        }
    }
}

impl Collector {
    /// Reads procfs under `proc_root` (`/proc` on a host).
    pub fn new(proc_root: impl Into<PathBuf>) -> Collector {
        let proc_root = proc_root.into();
        let portable = (!proc_root.join("meminfo").exists()).then(Portable::default);
        Collector {
            proc_root,
            portable,
            cpu_last: HashMap::new(),
            net: Deltas::default(),
            diskio: Deltas::default(),
            procstat_cpu: procstat::CpuHistory::default(),
            statsd: HashMap::new(),
            collectd: HashMap::new(),
            nvme: NvmeSource::default(),
            nvme_deltas: Deltas::default(),
            nvme_said: HashSet::new(),
            nvme_failed_reads: 0,
            notices: Vec::new(),
        }
    }

    /// Finds EBS and instance-store volumes and reads their statistics through `nvme` instead
    /// of `/sys` and the NVMe ioctl.
    #[must_use]
    pub fn with_nvme(mut self, nvme: NvmeSource) -> Collector {
        self.nvme = nvme;
        self
    }

    /// What the collections since the last call have to say that did not fail them (a source
    /// of some metrics missing), one log line each; each problem is said once, not every
    /// interval.
    pub fn take_notices(&mut self) -> Vec<String> {
        std::mem::take(&mut self.notices)
    }

    /// How many volume readings failed since the last call (each failure, not only the first,
    /// for a counter).
    pub fn take_failed_reads(&mut self) -> u64 {
        std::mem::take(&mut self.nvme_failed_reads)
    }

    /// The samples of one plugin now. Rates (cpu usage, net and diskio) need an earlier
    /// reading: the first call yields none of them.
    pub fn collect(&mut self, plugin: &PluginConfig) -> Result<Vec<Sample>, ScrapeError> {
        if plugin.plugin == Plugin::Statsd {
            return Ok(self.statsd(plugin));
        }
        if plugin.plugin == Plugin::NvidiaGpu {
            return nvidia_gpu();
        }
        if plugin.plugin == Plugin::Collectd {
            return Ok(self.collectd(plugin));
        }
        if plugin.plugin == Plugin::Ethtool {
            return Collector::ethtool(plugin);
        }
        if let Some(portable) = &mut self.portable {
            return portable.collect(plugin);
        }
        match plugin.plugin {
            Plugin::Mem => {
                let (m, _) = read_memory(&self.proc_root)?;
                Ok(tagged(
                    &[],
                    [
                        ("active", m.active as f64),
                        ("available", m.available as f64),
                        ("available_percent", m.available_percent),
                        ("buffered", m.buffered as f64),
                        ("cached", m.cached as f64),
                        ("free", m.free as f64),
                        ("inactive", m.inactive as f64),
                        ("shared", m.shared as f64),
                        ("total", m.total as f64),
                        ("used", m.used as f64),
                        ("used_percent", m.used_percent),
                    ],
                )
                .collect())
            }
            Plugin::Swap => {
                let (_, s) = read_memory(&self.proc_root)?;
                Ok(tagged(
                    &[],
                    [
                        ("free", s.free as f64),
                        ("used", s.used as f64),
                        ("used_percent", s.used_percent),
                    ],
                )
                .collect())
            }
            Plugin::Cpu => self.cpu(plugin),
            Plugin::Disk => self.disk(plugin),
            Plugin::Diskio => self.diskio(plugin),
            Plugin::Net => self.net(plugin),
            Plugin::Netstat => self.netstat(),
            Plugin::Processes => self.processes(),
            Plugin::Procstat => Ok(self.procstat(plugin)),
            Plugin::Statsd => Ok(self.statsd(plugin)),
            Plugin::NvidiaGpu => nvidia_gpu(),
            Plugin::Collectd => Ok(self.collectd(plugin)),
            Plugin::Ethtool => Collector::ethtool(plugin),
        }
    }

    /// Where readings come from, for the agent's log.
    pub fn source(&self) -> String {
        match self.portable {
            Some(_) => format!("sysinfo (no procfs at {})", self.proc_root.display()),
            None => format!("procfs at {}", self.proc_root.display()),
        }
    }

    fn read(&self, name: &str) -> Result<String, ScrapeError> {
        let path = self.proc_root.join(name);
        std::fs::read_to_string(&path).map_err(|e| scrape_error(&path, e))
    }

    fn cpu(&mut self, plugin: &PluginConfig) -> Result<Vec<Sample>, ScrapeError> {
        let path = self.proc_root.join("stat");
        let text = self.read("stat")?;
        let cpus = parse_stat(&text).map_err(|e| scrape_error(&path, e))?;
        // Cores only when asked for (`*` or by name); the total unless `totalcpu = false`.
        let per_core = plugin.resources.iter().any(|r| r == "*");
        let mut samples = Vec::new();
        for (label, times) in cpus {
            let is_total = label == "cpu-total";
            let wanted = if is_total {
                plugin.totalcpu
            } else {
                per_core || plugin.resources.contains(&label)
            };
            if !wanted {
                continue;
            }
            let tags = vec![("cpu".to_string(), label.clone())];
            let mut fields = times.seconds();
            if let Some(usage) = self.cpu_last.get(&label).and_then(|last| times.usage_since(last)) {
                fields.extend(usage);
            }
            samples.extend(tagged(&tags, fields));
            self.cpu_last.insert(label, times);
        }
        Ok(samples)
    }

    fn disk(&mut self, plugin: &PluginConfig) -> Result<Vec<Sample>, ScrapeError> {
        let text = self.read("mounts")?;
        let mut mounts = parse_mounts(&text);
        // A path mounted over keeps only its last (visible) mount.
        let mut seen = std::collections::HashSet::new();
        mounts.reverse();
        mounts.retain(|m| seen.insert(m.path.clone()));
        mounts.reverse();
        let all = wants_all(&plugin.resources);
        let mut samples = Vec::new();
        for mount in mounts {
            if plugin.ignore_file_system_types.contains(&mount.fstype) {
                continue;
            }
            if !all && !plugin.resources.contains(&mount.path) {
                continue;
            }
            // A mount that cannot be measured (gone, no permission) is left out, not fatal.
            let Ok(usage) = statvfs(Path::new(&mount.path)) else {
                continue;
            };
            let mut tags = vec![("path".to_string(), mount.path.clone())];
            if !plugin.drop_device {
                let device = mount.device.strip_prefix("/dev/").unwrap_or(&mount.device);
                tags.push(("device".to_string(), device.to_string()));
            }
            tags.push(("fstype".to_string(), mount.fstype.clone()));
            let fields = [
                ("free", usage.free as f64),
                ("total", usage.total as f64),
                ("used", usage.used as f64),
                ("used_percent", usage.used_percent),
                ("inodes_free", usage.inodes_free as f64),
                ("inodes_total", usage.inodes_total as f64),
                ("inodes_used", usage.inodes_used as f64),
            ];
            samples.extend(tagged(&tags, fields));
        }
        Ok(samples)
    }

    /// `diskstats` counters by device (when a measurement needs them), then the EBS and
    /// instance-store statistics by volume (when a measurement needs them).
    fn diskio(&mut self, plugin: &PluginConfig) -> Result<Vec<Sample>, ScrapeError> {
        let mut samples = if plugin.measurements.iter().any(|m| !is_nvme_field(&m.field)) {
            self.diskstats(plugin)?
        } else {
            Vec::new()
        };
        samples.extend(self.nvme_volumes(plugin));
        Ok(samples)
    }

    fn diskstats(&mut self, plugin: &PluginConfig) -> Result<Vec<Sample>, ScrapeError> {
        let path = self.proc_root.join("diskstats");
        let text = self.read("diskstats")?;
        let devices = parse_diskstats(&text).map_err(|e| scrape_error(&path, e))?;
        let all = wants_all(&plugin.resources);
        let present: Vec<&str> = devices.iter().map(|(name, _, _)| name.as_str()).collect();
        self.diskio.retain(&present);
        let mut samples = Vec::new();
        for (name, counters, in_progress) in &devices {
            if !all && !plugin.resources.contains(name) {
                continue;
            }
            let tags = vec![("name".to_string(), name.clone())];
            let first = self
                .diskio
                .delta(name, "iops_in_progress", *in_progress)
                .is_none();
            if !first {
                // A gauge, sent as it is, but (as the counters) from the second reading on.
                samples.extend(tagged(&tags, [("iops_in_progress", *in_progress as f64)]));
            }
            samples.extend(tagged(&tags, self.diskio.deltas(name, counters)));
        }
        Ok(samples)
    }

    /// The statistics of the EBS and instance-store volumes the measurements ask for, as the
    /// CloudWatch agent's NVMe receiver sends them: counters as deltas from the second reading
    /// on, the queue length as read, each tagged `VolumeId` (EBS) or `SerialId` (instance
    /// store). A volume that cannot be read is left out, said once, and counted each time.
    fn nvme_volumes(&mut self, plugin: &PluginConfig) -> Vec<Sample> {
        let asks = |prefix: &str| plugin.measurements.iter().any(|m| m.field.starts_with(prefix));
        let (ebs, instance_store) = (asks("ebs_"), asks("instance_store_"));
        if !ebs && !instance_store {
            return Vec::new();
        }
        let what = match (ebs, instance_store) {
            (true, false) => "EBS",
            (false, true) => "instance-store",
            _ => "EBS or instance-store",
        };
        let class = self.nvme.sysfs_root.join("class/nvme");
        let found = match nvme::find_volumes(&self.nvme.sysfs_root) {
            Ok(found) => found,
            Err(e) => {
                self.nvme_deltas.retain(&[]);
                self.say_once(
                    "",
                    format!(
                        "diskio: no {what} volumes to read NVMe statistics from (cannot list {}: {e}); \
                         their metrics are not sent (said once)",
                        class.display()
                    ),
                );
                return Vec::new();
            }
        };
        let all = wants_all(&plugin.resources);
        let volumes: Vec<nvme::Volume> = found
            .into_iter()
            .filter(|v| match v.kind {
                VolumeKind::Ebs => ebs,
                VolumeKind::InstanceStore => instance_store,
            })
            .filter(|v| {
                all || plugin.resources.contains(&v.controller)
                    || v.namespaces.iter().any(|n| plugin.resources.contains(n))
            })
            .collect();
        let present: Vec<&str> = volumes.iter().map(|v| v.id.as_str()).collect();
        self.nvme_deltas.retain(&present);
        // A volume that went away is said again if it comes back and still cannot be read.
        self.nvme_said
            .retain(|key| key.is_empty() || volumes.iter().any(|v| v.controller == *key));
        if volumes.is_empty() {
            self.say_once(
                "",
                format!(
                    "diskio: no {what} volumes found among the NVMe controllers of {} (model {:?} or {:?}{}); \
                     their metrics are not sent (said once)",
                    class.display(),
                    nvme::EBS_MODEL,
                    nvme::INSTANCE_STORE_MODEL,
                    if all { "" } else { ", among the resources" },
                ),
            );
            return Vec::new();
        }
        self.nvme_said.remove("");
        let mut samples = Vec::new();
        for volume in &volumes {
            let (dimension, id) = volume.dimension();
            match nvme::read_stats(volume, self.nvme.reader.as_ref()) {
                Ok(stats) => {
                    if self.nvme_said.remove(&volume.controller) {
                        self.notices.push(format!(
                            "diskio: reading the NVMe statistics of {id} ({}) again",
                            volume.controller
                        ));
                    }
                    let (counters, (queue_field, queue_length)) = nvme::fields(&stats);
                    let tags = vec![(dimension.to_string(), id.to_string())];
                    samples.extend(tagged(&tags, self.nvme_deltas.deltas(id, &counters)));
                    // A gauge: sent as read, from the first reading (the agent's delta step
                    // leaves gauges alone).
                    samples.extend(tagged(&tags, [(queue_field, queue_length as f64)]));
                }
                Err(e) => {
                    self.nvme_failed_reads += 1;
                    let message = format!(
                        "diskio: cannot read the NVMe statistics of {id} ({}): {e}; its metrics are \
                         not sent until it can be read (said once)",
                        volume.controller
                    );
                    let controller = volume.controller.clone();
                    self.say_once(&controller, message);
                }
            }
        }
        samples
    }

    /// Adds `message` to the notices unless the problem `key` was said already.
    fn say_once(&mut self, key: &str, message: String) {
        if self.nvme_said.insert(key.to_string()) {
            self.notices.push(message);
        }
    }

    fn netstat(&self) -> Result<Vec<Sample>, ScrapeError> {
        let mut tcp = [0u64; 12];
        for file in ["net/tcp", "net/tcp6"] {
            // A kernel without IPv6 has no tcp6: nothing to count there.
            let Ok(text) = std::fs::read_to_string(self.proc_root.join(file)) else {
                if file == "net/tcp" {
                    self.read(file)?;
                }
                continue;
            };
            count_tcp_states(file, &text, &mut tcp)
                .map_err(|e| scrape_error(&self.proc_root.join(file), e))?;
        }
        let udp: u64 = ["net/udp", "net/udp6"]
            .iter()
            .filter_map(|file| std::fs::read_to_string(self.proc_root.join(file)).ok())
            .map(|text| count_sockets(&text))
            .sum();
        Ok(tagged(&[], netstat_fields(&tcp, udp)).collect())
    }

    /// Each chosen interface's driver statistics (all interfaces but `lo` by default).
    fn ethtool(plugin: &PluginConfig) -> Result<Vec<Sample>, ScrapeError> {
        // `interface_include` / `interface_exclude` are globs (`eth*`), as in Telegraf.
        let globs = |list: &[String]| -> Vec<glob::Pattern> {
            list.iter().filter_map(|g| glob::Pattern::new(g).ok()).collect()
        };
        let (include, exclude) = (globs(&plugin.resources), globs(&plugin.ethtool_exclude));
        let present: Vec<String> = std::fs::read_dir("/sys/class/net")
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        let interfaces: Vec<String> = present
            .into_iter()
            .filter(|name| {
                // `lo` only when named.
                let included = if include.is_empty() || plugin.resources.iter().any(|r| r == "*") {
                    name != "lo"
                } else {
                    include.iter().any(|p| p.matches(name))
                };
                included && !exclude.iter().any(|p| p.matches(name))
            })
            .chain(
                // Named literally but not in /sys (a test's stand-in, a namespace): asked for.
                plugin
                    .resources
                    .iter()
                    .filter(|r| {
                        !r.contains(['*', '?', '['])
                            && !std::path::Path::new("/sys/class/net").join(r).exists()
                    })
                    .cloned(),
            )
            .collect();
        let mut samples = Vec::new();
        let mut errors = Vec::new();
        for interface in interfaces {
            match ethtool::read(&interface) {
                Ok((driver, stats)) => {
                    let tags = vec![
                        ("driver".to_string(), driver),
                        ("interface".to_string(), interface),
                    ];
                    for (name, value) in stats {
                        if plugin.ethtool_metrics.is_empty() || plugin.ethtool_metrics.contains(&name) {
                            samples.push(Sample {
                                field: "value",
                                value,
                                tags: tags.clone(),
                                named: Some((format!("ethtool_{name}"), "None")),
                            });
                        }
                    }
                }
                Err(e) => errors.push(e),
            }
        }
        if samples.is_empty() && !errors.is_empty() {
            return Err(ScrapeError {
                path: "ethtool".into(),
                reason: errors.join("; "),
            });
        }
        Ok(samples)
    }

    /// Hands the collector what a collectd listener on `address` receives.
    pub fn attach_collectd(&mut self, address: &str, latest: collectd::Shared) {
        self.collectd.insert(address.to_string(), latest);
    }

    fn collectd(&self, plugin: &PluginConfig) -> Vec<Sample> {
        drain(
            &self.collectd,
            plugin.collectd.as_ref().map(|c| c.address.as_str()),
            collectd::Latest::take,
        )
    }

    /// Hands the collector what a statsd listener on `address` aggregates.
    pub fn attach_statsd(&mut self, address: &str, aggregates: statsd::Shared) {
        self.statsd.insert(address.to_string(), aggregates);
    }

    fn statsd(&self, plugin: &PluginConfig) -> Vec<Sample> {
        drain(
            &self.statsd,
            plugin.statsd.as_ref().map(|s| s.address.as_str()),
            statsd::Aggregates::take,
        )
    }

    fn procstat(&mut self, plugin: &PluginConfig) -> Vec<Sample> {
        let Some(selector) = &plugin.procstat else {
            return Vec::new();
        };
        let pids = procstat::find_pids(&self.proc_root, selector);
        // Entries with the same selection keep their cpu readings apart.
        let entry = format!("{:?}|{:?}", plugin.interval_s, plugin.measurements);
        procstat::samples(
            &entry,
            selector,
            pids,
            &self.proc_root,
            &mut self.procstat_cpu,
            std::time::Instant::now(),
        )
    }

    fn processes(&self) -> Result<Vec<Sample>, ScrapeError> {
        let entries = std::fs::read_dir(&self.proc_root).map_err(|e| scrape_error(&self.proc_root, e))?;
        let mut counts = ProcessCounts::default();
        for entry in entries.flatten() {
            let name = entry.file_name();
            if !name
                .to_str()
                .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
            {
                continue;
            }
            // A process that exits between the listing and the read is simply not counted.
            if let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) {
                counts.add(&stat);
            }
        }
        Ok(tagged(&[], counts.fields()).collect())
    }

    fn net(&mut self, plugin: &PluginConfig) -> Result<Vec<Sample>, ScrapeError> {
        let path = self.proc_root.join("net/dev");
        let text = self.read("net/dev")?;
        let interfaces = parse_net_dev(&text).map_err(|e| scrape_error(&path, e))?;
        let present: Vec<&str> = interfaces.iter().map(|(name, _)| name.as_str()).collect();
        self.net.retain(&present);
        let all = wants_all(&plugin.resources);
        let mut samples = Vec::new();
        for (name, counters) in &interfaces {
            // Loopback only when named.
            let wanted = if all {
                name != "lo"
            } else {
                plugin.resources.contains(name)
            };
            if !wanted {
                continue;
            }
            let tags = vec![("interface".to_string(), name.clone())];
            samples.extend(tagged(&tags, self.net.deltas(name, counters)));
        }
        Ok(samples)
    }
}

/// Every GPU's fields, tagged with its index and name.
fn nvidia_gpu() -> Result<Vec<Sample>, ScrapeError> {
    let gpus = super::nvidia::query().map_err(|reason| ScrapeError {
        path: "nvidia-smi".into(),
        reason,
    })?;
    let mut samples = Vec::new();
    for (index, name, fields) in gpus {
        let tags = vec![("index".to_string(), index), ("name".to_string(), name)];
        samples.extend(tagged(&tags, fields));
    }
    Ok(samples)
}

/// What the listener on `address` gathered since the last collection (none without one).
fn drain<T>(
    listeners: &HashMap<String, std::sync::Arc<std::sync::Mutex<T>>>,
    address: Option<&str>,
    take: fn(&mut T) -> Vec<Sample>,
) -> Vec<Sample> {
    address
        .and_then(|a| listeners.get(a))
        .map(|shared| take(&mut shared.lock().unwrap_or_else(std::sync::PoisonError::into_inner)))
        .unwrap_or_default()
}

/// No resources, or `*`: everything.
pub(super) fn wants_all(resources: &[String]) -> bool {
    resources.is_empty() || resources.iter().any(|r| r == "*")
}

/// Samples of `fields`, each with `tags`.
pub(super) fn tagged<'t>(
    tags: &'t [(String, String)],
    fields: impl IntoIterator<Item = (&'static str, f64)> + 't,
) -> impl Iterator<Item = Sample> + 't {
    fields.into_iter().map(move |(field, value)| Sample {
        field,
        value,
        tags: tags.to_vec(),
        named: None,
    })
}

fn scrape_error(path: &Path, reason: impl std::fmt::Display) -> ScrapeError {
    ScrapeError {
        path: path.display().to_string(),
        reason: reason.to_string(),
    }
}

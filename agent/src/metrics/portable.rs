//! Host metrics through the `sysinfo` crate, for systems without procfs (a developer's Mac, a
//! container without /proc). Fewer fields than procfs gives, and one formula differs:
//!
//! - mem: total, free, available, `used` = total − available (procfs's buffers and cache are
//!   not known here, so the CloudWatch agent's formula cannot be applied), and the percentages;
//! - swap: free, used, `used_percent` (0 with no swap);
//! - cpu: `usage_active` and `usage_idle` only (no per-state split), total and per core;
//! - disk: total, free, used, `used_percent` (no inodes);
//! - net: byte, packet and error counts per interval (no drops); diskio is not available.

use sysinfo::{CpuRefreshKind, Disks, MemoryRefreshKind, Networks, RefreshKind, System};

use super::collect::{tagged, wants_all, Sample};
use super::counters::Deltas;
use super::ScrapeError;
use crate::config::{Plugin, PluginConfig};

/// The sysinfo handles and what rates need between readings.
#[derive(Debug)]
pub struct Portable {
    system: System,
    networks: Networks,
    /// cpu usage is measured between two refreshes: the first primes it.
    cpu_primed: bool,
    net: Deltas,
}

impl Default for Portable {
    fn default() -> Portable {
        Portable {
            system: System::new_with_specifics(
                RefreshKind::nothing()
                    .with_memory(MemoryRefreshKind::everything())
                    .with_cpu(CpuRefreshKind::nothing().with_cpu_usage()),
            ),
            networks: Networks::new_with_refreshed_list(),
            cpu_primed: false,
            net: Deltas::default(),
        }
    }
}

fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        100.0 * part as f64 / whole as f64
    }
}

impl Portable {
    pub fn collect(&mut self, plugin: &PluginConfig) -> Result<Vec<Sample>, ScrapeError> {
        match plugin.plugin {
            Plugin::Mem => {
                self.system.refresh_memory();
                let total = self.system.total_memory();
                let available = self.system.available_memory();
                let used = total.saturating_sub(available);
                Ok(tagged(
                    &[],
                    [
                        ("total", total as f64),
                        ("free", self.system.free_memory() as f64),
                        ("available", available as f64),
                        ("available_percent", percent(available, total)),
                        ("used", used as f64),
                        ("used_percent", percent(used, total)),
                    ],
                )
                .collect())
            }
            Plugin::Swap => {
                self.system.refresh_memory();
                let total = self.system.total_swap();
                let free = self.system.free_swap();
                let used = total.saturating_sub(free);
                Ok(tagged(
                    &[],
                    [
                        ("free", free as f64),
                        ("used", used as f64),
                        ("used_percent", percent(used, total)),
                    ],
                )
                .collect())
            }
            Plugin::Cpu => Ok(self.cpu(plugin)),
            Plugin::Disk => Ok(disk(plugin)),
            Plugin::Diskio => Err(ScrapeError {
                path: "diskstats".into(),
                reason: "per-device disk counters need procfs (diskstats)".into(),
            }),
            Plugin::Net => Ok(self.net(plugin)),
            Plugin::Netstat
            | Plugin::Processes
            | Plugin::Procstat
            | Plugin::Statsd
            | Plugin::NvidiaGpu
            | Plugin::Collectd
            | Plugin::Ethtool => Err(ScrapeError {
                path: String::new(),
                reason: format!("{} needs procfs (not available here)", plugin.plugin.name()),
            }),
        }
    }

    fn cpu(&mut self, plugin: &PluginConfig) -> Vec<Sample> {
        self.system.refresh_cpu_usage();
        if !self.cpu_primed {
            self.cpu_primed = true;
            return Vec::new();
        }
        let usage = |active: f32| {
            let active = f64::from(active).clamp(0.0, 100.0);
            [("usage_active", active), ("usage_idle", 100.0 - active)]
        };
        let mut samples = Vec::new();
        if plugin.totalcpu {
            let tags = [("cpu".to_string(), "cpu-total".to_string())];
            samples.extend(tagged(&tags, usage(self.system.global_cpu_usage())));
        }
        let per_core = plugin.resources.iter().any(|r| r == "*");
        for (i, cpu) in self.system.cpus().iter().enumerate() {
            let label = format!("cpu{i}");
            if per_core || plugin.resources.contains(&label) {
                let tags = [("cpu".to_string(), label)];
                samples.extend(tagged(&tags, usage(cpu.cpu_usage())));
            }
        }
        samples
    }

    fn net(&mut self, plugin: &PluginConfig) -> Vec<Sample> {
        self.networks.refresh(true);
        let all = wants_all(&plugin.resources);
        let mut samples = Vec::new();
        for (name, data) in &self.networks {
            let wanted = if all {
                name != "lo" && name != "lo0"
            } else {
                plugin.resources.contains(name)
            };
            if !wanted {
                continue;
            }
            let counters = [
                ("bytes_recv", data.total_received()),
                ("bytes_sent", data.total_transmitted()),
                ("packets_recv", data.total_packets_received()),
                ("packets_sent", data.total_packets_transmitted()),
                ("err_in", data.total_errors_on_received()),
                ("err_out", data.total_errors_on_transmitted()),
            ];
            let tags = [("interface".to_string(), name.clone())];
            samples.extend(tagged(&tags, self.net.deltas(name, &counters)));
        }
        samples
    }
}

fn disk(plugin: &PluginConfig) -> Vec<Sample> {
    let disks = Disks::new_with_refreshed_list();
    let all = wants_all(&plugin.resources);
    let mut samples = Vec::new();
    for d in disks.list() {
        let path = d.mount_point().display().to_string();
        let fstype = d.file_system().to_string_lossy().into_owned();
        if plugin.ignore_file_system_types.contains(&fstype) || (!all && !plugin.resources.contains(&path)) {
            continue;
        }
        let mut tags = vec![("path".to_string(), path)];
        if !plugin.drop_device {
            let device = d.name().to_string_lossy();
            tags.push((
                "device".to_string(),
                device.trim_start_matches("/dev/").to_string(),
            ));
        }
        tags.push(("fstype".to_string(), fstype));
        let total = d.total_space();
        let free = d.available_space();
        let used = total.saturating_sub(free);
        samples.extend(tagged(
            &tags,
            [
                ("total", total as f64),
                ("free", free as f64),
                ("used", used as f64),
                ("used_percent", percent(used, total)),
            ],
        ));
    }
    samples
}

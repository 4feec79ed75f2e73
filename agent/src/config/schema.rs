//! The metrics the CloudWatch agent schema allows per plugin on Linux, and their default units
//! (the agent's `registered_metrics.go` and `default_unit.go`).

/// A host metrics plugin skywatch collects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Plugin {
    Mem,
    Swap,
    Cpu,
    Disk,
    Diskio,
    Net,
    Netstat,
    Processes,
    Procstat,
    Statsd,
    NvidiaGpu,
    Collectd,
    Ethtool,
}

impl Plugin {
    pub const ALL: [Plugin; 13] = [
        Plugin::Mem,
        Plugin::Swap,
        Plugin::Cpu,
        Plugin::Disk,
        Plugin::Diskio,
        Plugin::Net,
        Plugin::Netstat,
        Plugin::Processes,
        Plugin::Procstat,
        Plugin::Statsd,
        Plugin::NvidiaGpu,
        Plugin::Collectd,
        Plugin::Ethtool,
    ];

    /// The plugin's name in configs and the prefix of its metric names.
    pub fn name(self) -> &'static str {
        match self {
            Plugin::Mem => "mem",
            Plugin::Swap => "swap",
            Plugin::Cpu => "cpu",
            Plugin::Disk => "disk",
            Plugin::Diskio => "diskio",
            Plugin::Net => "net",
            Plugin::Netstat => "netstat",
            Plugin::Processes => "processes",
            Plugin::Procstat => "procstat",
            Plugin::Statsd => "statsd",
            Plugin::NvidiaGpu => "nvidia_gpu",
            Plugin::Collectd => "collectd",
            Plugin::Ethtool => "ethtool",
        }
    }

    pub fn from_name(name: &str) -> Option<Plugin> {
        Plugin::ALL.into_iter().find(|p| p.name() == name)
    }

    /// The fields a `measurement` list may name (without the plugin prefix).
    pub fn fields(self) -> &'static [&'static str] {
        match self {
            Plugin::Mem => &[
                "active",
                "available",
                "available_percent",
                "buffered",
                "cached",
                "free",
                "inactive",
                "shared",
                "total",
                "used",
                "used_percent",
            ],
            Plugin::Swap => &["free", "used", "used_percent"],
            Plugin::Cpu => &[
                "time_active",
                "time_guest",
                "time_guest_nice",
                "time_idle",
                "time_iowait",
                "time_irq",
                "time_nice",
                "time_softirq",
                "time_steal",
                "time_system",
                "time_user",
                "usage_active",
                "usage_guest",
                "usage_guest_nice",
                "usage_idle",
                "usage_iowait",
                "usage_irq",
                "usage_nice",
                "usage_softirq",
                "usage_steal",
                "usage_system",
                "usage_user",
            ],
            Plugin::Disk => &[
                "free",
                "total",
                "used",
                "used_percent",
                "inodes_free",
                "inodes_total",
                "inodes_used",
            ],
            Plugin::Diskio => &[
                "reads",
                "writes",
                "read_bytes",
                "write_bytes",
                "read_time",
                "write_time",
                "io_time",
                "iops_in_progress",
                // The NVMe statistics of EBS volumes and instance-store volumes.
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
                "instance_store_total_read_ops",
                "instance_store_total_write_ops",
                "instance_store_total_read_bytes",
                "instance_store_total_write_bytes",
                "instance_store_total_read_time",
                "instance_store_total_write_time",
                "instance_store_performance_exceeded_iops",
                "instance_store_performance_exceeded_tp",
                "instance_store_volume_queue_length",
            ],
            Plugin::Net => &[
                "bytes_sent",
                "bytes_recv",
                "drop_in",
                "drop_out",
                "err_in",
                "err_out",
                "packets_sent",
                "packets_recv",
            ],
            Plugin::Netstat => &[
                "tcp_close",
                "tcp_close_wait",
                "tcp_closing",
                "tcp_established",
                "tcp_fin_wait1",
                "tcp_fin_wait2",
                "tcp_last_ack",
                "tcp_listen",
                "tcp_none",
                "tcp_syn_sent",
                "tcp_syn_recv",
                "tcp_time_wait",
                "udp_socket",
            ],
            Plugin::Processes => &[
                "blocked",
                "dead",
                "idle",
                "paging",
                "running",
                "sleeping",
                "stopped",
                "total",
                "total_threads",
                "wait",
                "zombies",
            ],
            Plugin::Procstat => &[
                "cpu_time",
                "cpu_time_guest",
                "cpu_time_guest_nice",
                "cpu_time_idle",
                "cpu_time_iowait",
                "cpu_time_irq",
                "cpu_time_nice",
                "cpu_time_soft_irq",
                "cpu_time_steal",
                "cpu_time_stolen",
                "cpu_time_system",
                "cpu_time_user",
                "cpu_usage",
                "involuntary_context_switches",
                "memory_data",
                "memory_locked",
                "memory_rss",
                "memory_stack",
                "memory_swap",
                "memory_vms",
                "nice_priority",
                "num_fds",
                "num_threads",
                "pid",
                "pid_count",
                "read_bytes",
                "read_count",
                "realtime_priority",
                "signals_pending",
                "voluntary_context_switches",
                "write_bytes",
                "write_count",
                "rlimit_cpu_time_hard",
                "rlimit_cpu_time_soft",
                "rlimit_file_locks_hard",
                "rlimit_file_locks_soft",
                "rlimit_memory_data_hard",
                "rlimit_memory_data_soft",
                "rlimit_memory_locked_hard",
                "rlimit_memory_locked_soft",
                "rlimit_memory_rss_hard",
                "rlimit_memory_rss_soft",
                "rlimit_memory_stack_hard",
                "rlimit_memory_stack_soft",
                "rlimit_memory_vms_hard",
                "rlimit_memory_vms_soft",
                "rlimit_nice_priority_hard",
                "rlimit_nice_priority_soft",
                "rlimit_num_fds_hard",
                "rlimit_num_fds_soft",
                "rlimit_realtime_priority_hard",
                "rlimit_realtime_priority_soft",
                "rlimit_signals_pending_hard",
                "rlimit_signals_pending_soft",
            ],
            // Named by the clients.
            Plugin::Statsd | Plugin::Collectd | Plugin::Ethtool => &[],
            Plugin::NvidiaGpu => &[
                "fan_speed",
                "memory_total",
                "memory_used",
                "memory_free",
                "power_draw",
                "temperature_gpu",
                "utilization_gpu",
                "utilization_memory",
                "pcie_link_gen_current",
                "pcie_link_width_current",
                "encoder_stats_session_count",
                "encoder_stats_average_fps",
                "encoder_stats_average_latency",
                "clocks_current_graphics",
                "clocks_current_sm",
                "clocks_current_memory",
                "clocks_current_video",
            ],
        }
    }

    /// The unit CloudWatch gets for `field` unless the config names one.
    pub fn default_unit(self, field: &str) -> &'static str {
        match (self, field) {
            (_, f) if f.ends_with("_percent") || f.starts_with("usage_") => "Percent",
            (Plugin::Procstat, "cpu_usage")
            | (Plugin::NvidiaGpu, "fan_speed" | "utilization_gpu" | "utilization_memory") => "Percent",
            (Plugin::Procstat, f)
                if f.starts_with("memory_") || f.starts_with("rlimit_memory_") || f.ends_with("_bytes") =>
            {
                "Bytes"
            }
            (Plugin::Procstat, "cpu_time" | "cpu_time_user" | "cpu_time_system") => "Count",
            (Plugin::NvidiaGpu, f) if f.starts_with("memory_") => "Megabytes",
            (
                Plugin::Procstat
                | Plugin::Cpu
                | Plugin::Statsd
                | Plugin::NvidiaGpu
                | Plugin::Collectd
                | Plugin::Ethtool,
                _,
            ) => "None",
            (Plugin::Disk, f) if f.starts_with("inodes_") => "Count",
            // The CloudWatch agent's NVMe receiver reports OTel units, which its CloudWatch
            // exporter turns into these: "1" (operations, queue length) into None, "By" into
            // Bytes, "us" (the times) into Microseconds.
            (Plugin::Diskio, f) if is_nvme_field(f) => {
                if f.ends_with("_bytes") {
                    "Bytes"
                } else if f.ends_with("_ops") || f.ends_with("_queue_length") {
                    "None"
                } else {
                    "Microseconds"
                }
            }
            (Plugin::Mem | Plugin::Swap | Plugin::Disk, _) => "Bytes",
            (Plugin::Diskio | Plugin::Net, f) if f.ends_with("_bytes") || f.starts_with("bytes_") => "Bytes",
            (Plugin::Diskio, f) if f.ends_with("_time") => "Milliseconds",
            (Plugin::Diskio | Plugin::Net | Plugin::Netstat | Plugin::Processes, _) => "Count",
        }
    }

    /// Whether the plugin takes `resources` (which cpus, mounts, devices, interfaces).
    pub fn has_resources(self) -> bool {
        matches!(self, Plugin::Cpu | Plugin::Disk | Plugin::Diskio | Plugin::Net)
    }
}

/// Whether a diskio field is one of the NVMe statistics of EBS or instance-store volumes (read
/// from the device's log page, not from `diskstats`).
pub fn is_nvme_field(field: &str) -> bool {
    field.starts_with("ebs_") || field.starts_with("instance_store_")
}

/// Plugins of the CloudWatch agent schema that skywatch does not collect yet.
pub const UNSUPPORTED_PLUGINS: &[&str] = &["efa", "jmx", "otlp", "prometheus", "dpdk"];

/// `metrics_collected` objects of the CloudWatch agent on Windows (performance counter objects):
/// Windows-only, so a shared config that names them is read with a warning.
pub const WINDOWS_PLUGINS: &[&str] = &[
    "Memory",
    "LogicalDisk",
    "PhysicalDisk",
    "Processor",
    "Paging File",
    "Network Interface",
    "TCPv4",
    "TCPv6",
    "System",
    "Process",
    "Processor Information",
    "Server",
    "Web Service",
    "ASP.NET",
    "ASP.NET Applications",
    ".NET CLR Memory",
    "SQLServer:General Statistics",
    "Hyper-V Hypervisor",
    "Hyper-V Hypervisor Logical Processor",
];

/// CloudWatch's standard units (`StandardUnit`).
pub const UNITS: &[&str] = &skywatch_aws::limits::STANDARD_UNITS;

/// The `${aws:…}` values global `append_dimensions` may take, by dimension name.
pub const EC2_DIMENSIONS: &[(&str, &str)] = &[
    ("InstanceId", "${aws:InstanceId}"),
    ("ImageId", "${aws:ImageId}"),
    ("InstanceType", "${aws:InstanceType}"),
    ("AutoScalingGroupName", "${aws:AutoScalingGroupName}"),
];

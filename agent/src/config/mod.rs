//! The agent's configuration: our own TOML (docs/config-reference.md) or the Amazon CloudWatch
//! Agent's JSON, recognised by content, read into one model. Reading never stops at the first
//! problem: every error and warning comes back at once, each with its key path.

mod duplicate_keys;
mod paths;
mod read;
pub mod schema;
mod toml_out;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

pub use schema::Plugin;
pub use skywatch_collector::config::CollectorConfig;
pub use toml_out::to_toml;

/// The default global collection interval, seconds.
pub const DEFAULT_INTERVAL_S: u64 = 60;
/// The default longest time a metric waits before it is sent, seconds.
pub const DEFAULT_FORCE_FLUSH_S: u64 = 60;
/// How often an `auto` output on the local store looks again for AWS, seconds.
pub const DEFAULT_AUTO_RECHECK_S: u64 = 60;
/// Where an empty `[health]` table listens: loopback only.
pub const DEFAULT_HEALTH_LISTEN: &str = "127.0.0.1:9468";
/// The default namespace.
pub const DEFAULT_NAMESPACE: &str = "CWAgent";

/// Which file format a config was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// skywatch's own TOML.
    Toml,
    /// The CloudWatch agent's JSON.
    CloudWatchJson,
}

/// Where metrics go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Destination {
    /// CloudWatch when AWS credentials and a region are configured, else the local store.
    #[default]
    Auto,
    CloudWatch,
    Local,
}

impl Destination {
    pub fn name(self) -> &'static str {
        match self {
            Destination::Auto => "auto",
            Destination::CloudWatch => "cloudwatch",
            Destination::Local => "local",
        }
    }
}

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AgentConfig {
    /// Global collection interval, seconds.
    pub interval_s: u64,
    pub region: Option<String>,
    /// Use the services' dual-stack (IPv6) endpoints.
    pub use_dualstack_endpoint: bool,
    /// A role to assume through STS for every call (`agent.credentials.role_arn`).
    pub role_arn: Option<String>,
    /// Leave out the `host` dimension.
    pub omit_hostname: bool,
    /// The user the daemon should run as (the systemd unit sets it; the agent checks it).
    pub run_as_user: Option<String>,
    pub state_dir: Option<PathBuf>,
    /// Where metrics go.
    pub output: Destination,
    /// Where log events go.
    pub logs_output: Destination,
    /// With `auto` fallen back to the local store: how often to look whether AWS can be
    /// reached now, seconds.
    pub auto_recheck_s: u64,
    /// Address of the health listener; none: off.
    pub health_listen: Option<String>,
    pub metrics: Option<MetricsConfig>,
    pub logs: Option<LogsConfig>,
    /// The trace collector run beside the agent; none: no collector.
    pub traces: Option<TracesConfig>,
    /// Alarm rules evaluated on the collected metrics; none: no alarms.
    pub alarms: Option<AlarmsConfig>,
}

/// The `alarms` section (our TOML only): alarm rules the agent evaluates on the metrics it
/// collects, with CloudWatch's semantics, publishing to SNS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlarmsConfig {
    /// Rule files (our TOML, or PutMetricAlarm CLI-input JSON); relative paths are relative to
    /// the config file's directory once loaded.
    pub rule_files: Vec<std::path::PathBuf>,
    /// The region named in ARNs and messages, and where SNS is called; default: the agent's.
    pub region: Option<String>,
    /// The account named in ARNs and messages; default 123456789012.
    pub account_id: Option<String>,
    /// Periods in each evaluation range; default N + max(N / 3, 2).
    pub range_periods: Option<u32>,
    /// Publish notifications to SNS (default true); false: logged and kept in the history only.
    pub publish: bool,
}

/// The `traces` section: the trace collector (`skywatch collector`) the agent runs as a second
/// part, with the collector's own settings.
#[derive(Debug, Clone)]
pub struct TracesConfig {
    /// What the collector is started with, before the agent's defaults
    /// ([`TracesConfig::for_run`]).
    pub collector: CollectorConfig,
    /// The same settings as `[traces]` keys, as read from our TOML or mapped from the CloudWatch
    /// agent's JSON: what `config convert` prints and what equality compares (the collector's
    /// type has neither `Serialize` nor `PartialEq`).
    table: serde_json::Map<String, serde_json::Value>,
}

impl PartialEq for TracesConfig {
    fn eq(&self, other: &TracesConfig) -> bool {
        self.table == other.table
    }
}

impl TracesConfig {
    /// The collector's config for a run of `agent`: forwarding without a region or role of its
    /// own takes the agent's (`agent.region`, `agent.credentials.role_arn`), as the metrics and
    /// logs do. Without either the SDK's chain decides (environment, profile, instance).
    pub fn for_run(&self, agent: &AgentConfig) -> CollectorConfig {
        let mut config = self.collector.clone();
        if let Some(forward) = &mut config.forward {
            if forward.region.is_none() {
                forward.region.clone_from(&agent.region);
            }
            if forward.role_arn.is_none() {
                forward.role_arn.clone_from(&agent.role_arn);
            }
        }
        config
    }
}

/// The default longest time a log event waits before its batch is sent, seconds.
pub const DEFAULT_LOGS_FLUSH_S: u64 = 5;
/// The CloudWatch agent's default log stream name.
pub const DEFAULT_LOG_STREAM: &str = "{instance_id}";

/// The `logs` section.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LogsConfig {
    pub files: Vec<LogFileConfig>,
    /// Journal entries to collect (`logs_collected.journald`, `[[logs.journald]]`).
    pub journald: Vec<JournaldConfig>,
    /// The longest a partial batch waits, seconds.
    pub force_flush_interval_s: u64,
    pub endpoint_override: Option<String>,
    /// Batches held in memory before they go to the spool, bytes.
    pub buffer_bytes: u64,
    /// The most the on-disk spool holds before reading stops, bytes.
    pub spool_bytes: u64,
    /// Where the EMF listener listens (`tcp://…`, `udp://…`); empty: no listener.
    pub emf_listen: Vec<String>,
    /// The role log events are sent as (`logs.credentials.role_arn`), over the agent's.
    pub role_arn: Option<String>,
}

/// One journald entry: which journal entries (journalctl's own selection), where they go, and
/// the same `filters` files have. Read through `journalctl --output=json`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct JournaldConfig {
    /// Systemd units (`ssh` means `ssh.service`); none: every unit.
    pub units: Vec<String>,
    /// `SYSLOG_IDENTIFIER` values.
    pub identifiers: Vec<String>,
    /// Each a set of `FIELD=VALUE` that must all hold; an entry passes if any set does.
    pub matches: Vec<BTreeMap<String, String>>,
    /// The least severe priority taken (`emerg` … `debug`, or 0–7).
    pub priority: String,
    /// A regular expression the message must match.
    pub grep: Option<String>,
    /// Kernel messages only.
    pub dmesg: bool,
    /// Long and unprintable fields too (journalctl `--all`).
    pub all: bool,
    pub directory: Option<String>,
    pub files: Vec<String>,
    pub namespace: Option<String>,
    pub root_path: Option<String>,
    /// Without a cursor yet: the whole journal (else only entries from the first start on).
    pub start_at_beginning: bool,
    pub journalctl_path: String,
    /// With `{placeholders}` still in it.
    pub log_group_name: String,
    /// With `{placeholders}` still in it.
    pub log_stream_name: String,
    pub filters: Vec<(FilterKind, String)>,
    pub retention_in_days: Option<i64>,
    pub log_group_class: Option<String>,
}

/// The journald entry's default priority (as the CloudWatch agent's receiver).
pub const DEFAULT_JOURNALD_PRIORITY: &str = "info";
/// The journald entry's default log group.
pub const DEFAULT_JOURNALD_GROUP: &str = "journald";

/// The default memory for waiting log batches.
pub const DEFAULT_LOGS_BUFFER_BYTES: u64 = 8 << 20;
/// The default bound of the on-disk spool.
pub const DEFAULT_LOGS_SPOOL_BYTES: u64 = 256 << 20;

/// Whether a filter keeps or drops the events its expression matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterKind {
    Include,
    Exclude,
}

/// What happens to a message longer than a log event may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LongLinesMode {
    #[default]
    Split,
    Truncate,
}

/// One collected file (a `collect_list` entry or a `[[logs.files]]` table).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LogFileConfig {
    /// The path or glob as written (the CloudWatch agent's `**` included).
    pub file_path: String,
    /// With `{placeholders}` still in it; the default is the path up to its last dot.
    pub log_group_name: String,
    /// With `{placeholders}` still in it.
    pub log_stream_name: String,
    pub timestamp_format: Option<String>,
    /// `timestamp_format` is in UTC (else local time).
    pub timezone_utc: bool,
    /// A regex, or `{timestamp_format}`; none: the CloudWatch agent's default.
    pub multi_line_start_pattern: Option<String>,
    pub encoding: Option<String>,
    pub filters: Vec<(FilterKind, String)>,
    /// PutRetentionPolicy for the group (none or -1: left as it is).
    pub retention_in_days: Option<i64>,
    pub auto_removal: bool,
    pub publish_multi_logs: bool,
    pub trim_timestamp: bool,
    pub blacklist: Option<String>,
    pub log_group_class: Option<String>,
    /// Built-in redaction rules, by name (the section's and the file's).
    pub redact: Vec<String>,
    /// User redaction rules: name → regex.
    pub redact_patterns: BTreeMap<String, String>,
    pub long_lines: LongLinesMode,
    /// Lines in CloudWatch embedded metric format also become metrics.
    pub emf: bool,
}

/// The `metrics` section.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsConfig {
    pub namespace: String,
    /// Global dimensions (`${aws:…}` values are resolved from the instance metadata).
    pub append_dimensions: BTreeMap<String, String>,
    /// Roll-ups: each datum is also sent with each listed subset of its dimensions.
    pub aggregation_dimensions: Vec<Vec<String>>,
    pub force_flush_interval_s: u64,
    pub endpoint_override: Option<String>,
    /// The role metrics are sent as (`metrics.credentials.role_arn`), over the agent's.
    pub role_arn: Option<String>,
    pub plugins: Vec<PluginConfig>,
}

/// One plugin block of `metrics_collected`.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginConfig {
    pub plugin: Plugin,
    pub measurements: Vec<Measurement>,
    /// Overrides the global interval, seconds.
    pub interval_s: Option<u64>,
    /// cpus, mount points, devices or interfaces; `*` for all; empty: the plugin's default.
    pub resources: Vec<String>,
    pub append_dimensions: BTreeMap<String, String>,
    /// Metric names sent only in their roll-ups.
    pub drop_original_metrics: Vec<String>,
    /// cpu: also the `cpu-total` line (default true).
    pub totalcpu: bool,
    /// disk: file system types to leave out.
    pub ignore_file_system_types: Vec<String>,
    /// disk: leave out the `device` dimension.
    pub drop_device: bool,
    /// procstat: which processes.
    pub procstat: Option<ProcessSelector>,
    /// statsd: where to listen and how names are joined.
    pub statsd: Option<StatsdSettings>,
    /// collectd: where to listen and how values are named.
    pub collectd: Option<CollectdSettings>,
    /// ethtool: interfaces to leave out (`resources` lists those to include) and statistics
    /// to send (`metrics_include`; empty: all).
    pub ethtool_exclude: Vec<String>,
    pub ethtool_metrics: Vec<String>,
}

/// The collectd listener's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectdSettings {
    /// `HOST:PORT` (UDP).
    pub address: String,
    /// Before every metric name (default `collectd_`).
    pub name_prefix: String,
    /// types.db files naming the data sources of multi-value types.
    pub typesdb: Vec<String>,
}

/// The statsd listener's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatsdSettings {
    /// `HOST:PORT` (the CloudWatch agent's `:8125` means every interface).
    pub address: String,
    /// Replaces `.` in metric names.
    pub separator: String,
}

/// How a procstat entry chooses its processes (the first given of `pid_file`, `exe`, `pattern`,
/// as the CloudWatch agent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProcessSelector {
    /// The pid written in this file.
    PidFile(String),
    /// A regex found in the process name (or its executable's path).
    Exe(String),
    /// A regex found in the command line (arguments joined by spaces).
    Pattern(String),
}

impl ProcessSelector {
    /// The dimension naming the selection (`pidfile`, `exe`, `pattern`) and its value.
    pub fn dimension(&self) -> (&'static str, &str) {
        match self {
            ProcessSelector::PidFile(v) => ("pidfile", v),
            ProcessSelector::Exe(v) => ("exe", v),
            ProcessSelector::Pattern(v) => ("pattern", v),
        }
    }
}

/// One `measurement` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Measurement {
    /// The field, without the plugin prefix (`used_percent`).
    pub field: String,
    pub rename: Option<String>,
    pub unit: Option<String>,
}

impl Measurement {
    /// The CloudWatch metric name: the rename, else `<plugin>_<field>` (procstat's
    /// `pid_count` is `procstat_lookup_pid_count`, as the CloudWatch agent sends it).
    pub fn metric_name(&self, plugin: Plugin) -> String {
        if let Some(rename) = &self.rename {
            return rename.clone();
        }
        if plugin == Plugin::Procstat && self.field == "pid_count" {
            return "procstat_lookup_pid_count".to_string();
        }
        // As the CloudWatch agent sends them: Telegraf's measurement name.
        if plugin == Plugin::NvidiaGpu {
            return format!("nvidia_smi_{}", self.field);
        }
        format!("{}_{}", plugin.name(), self.field)
    }
}

/// A problem at a key path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// `metrics.metrics_collected.mem.measurement[2]`; empty for the whole file.
    pub path: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// What reading a config found: the model (when there were no errors), and every problem.
#[derive(Debug)]
pub struct Loaded {
    pub format: Format,
    pub config: Option<AgentConfig>,
    pub errors: Vec<Problem>,
    /// Keys accepted but without effect in skywatch.
    pub warnings: Vec<Problem>,
}

/// The glob a `file_path` stands for (the CloudWatch agent's `**.log` is any depth).
pub fn glob_pattern(file_path: &str) -> String {
    read::normalize_glob(file_path)
}

/// Reads a config from text, recognising the format by content: a JSON object is the
/// CloudWatch agent's, anything else is our TOML.
pub fn parse(text: &str) -> Loaded {
    // Editors on Windows save UTF-8 with a byte-order mark; it says nothing about the content.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let format = if text.trim_start().starts_with('{') {
        Format::CloudWatchJson
    } else {
        Format::Toml
    };
    let tree = match format {
        Format::CloudWatchJson => serde_json::from_str::<serde_json::Value>(text).map_err(|e| Problem {
            path: String::new(),
            message: format!("not valid JSON: {e}"),
        }),
        Format::Toml => toml::from_str::<toml::Table>(text)
            .map_err(|e| Problem {
                path: String::new(),
                message: format!("not valid TOML: {}", e.to_string().trim_end()),
            })
            .and_then(|table| {
                serde_json::to_value(table).map_err(|e| Problem {
                    path: String::new(),
                    message: format!("not valid TOML: {e}"),
                })
            }),
    };
    match tree {
        Ok(tree) => {
            let mut loaded = read::read(&tree, format);
            // JSON parsers keep the last of repeated keys, the CloudWatch agent's too: the
            // config runs as it would there, and the lost value is named.
            if format == Format::CloudWatchJson {
                if let Some(path) = duplicate_keys::first(text) {
                    loaded.warnings.push(Problem {
                        path,
                        message: "this key appears twice in the same object: the last one counts (as in the CloudWatch agent); remove the other".into(),
                    });
                }
            }
            loaded
        }
        Err(problem) => Loaded {
            format,
            config: None,
            errors: vec![problem],
            warnings: Vec::new(),
        },
    }
}

/// Reads a config file, and looks at the log files it names as this user sees them (the
/// warnings of [`paths::check`]).
pub fn load(path: &Path) -> Loaded {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let mut loaded = parse(&text);
            if let Some(config) = &mut loaded.config {
                if let Some(alarms) = &mut config.alarms {
                    // Rule files next to the config are found wherever the agent runs.
                    let base = path.parent().unwrap_or(Path::new("."));
                    for file in &mut alarms.rule_files {
                        if file.is_relative() {
                            *file = base.join(&*file);
                        }
                    }
                    if let Err(problems) =
                        skywatch_dashboards::alarms::daemon::read_rule_files(&alarms.rule_files)
                    {
                        loaded.errors.push(Problem {
                            path: "alarms.rules".into(),
                            message: problems,
                        });
                        loaded.config = None;
                        return loaded;
                    }
                }
            }
            if let Some(config) = &loaded.config {
                // The same verdict for `config check`, a start and a reload: a config that asks
                // for nothing is an error, not a daemon that idles (or a reload that stops
                // collecting).
                if config.metrics.is_none()
                    && config.traces.is_none()
                    && config.logs.as_ref().is_none_or(|l| {
                        l.files.is_empty() && l.journald.is_empty() && l.emf_listen.is_empty()
                    })
                {
                    loaded.errors.push(Problem {
                        path: String::new(),
                        message: "nothing to do: the config collects no metrics, no log files and no traces (add a metrics plugin, a log file, a journald entry or a traces section)".into(),
                    });
                    loaded.config = None;
                    return loaded;
                }
                loaded.warnings.extend(paths::check(config, loaded.format));
            }
            loaded
        }
        Err(e) => Loaded {
            format: Format::Toml,
            config: None,
            errors: vec![Problem {
                path: String::new(),
                message: format!("cannot read {}: {e}", path.display()),
            }],
            warnings: Vec::new(),
        },
    }
}

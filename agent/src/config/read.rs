//! Walks a parsed config tree (JSON, or TOML turned into the same tree), building the model
//! and collecting every problem with its key path.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

mod journald;
mod logs;
mod traces;

pub(super) use logs::normalize_glob;

use super::schema::{Plugin, EC2_DIMENSIONS, UNITS, UNSUPPORTED_PLUGINS, WINDOWS_PLUGINS};
use super::{
    AgentConfig, CollectdSettings, Destination, Format, Loaded, Measurement, MetricsConfig, PluginConfig,
    Problem, ProcessSelector, StatsdSettings, DEFAULT_FORCE_FLUSH_S, DEFAULT_INTERVAL_S, DEFAULT_NAMESPACE,
};

/// The longest interval the CloudWatch agent schema allows, seconds (two days).
const MAX_INTERVAL_S: u64 = 172_800;

/// Keys of the CloudWatch agent's `agent` section that skywatch accepts and ignores, and why.
const AGENT_IGNORED: &[(&str, &str)] = &[
    ("logfile", "skywatch logs to stderr (the journal under systemd)"),
    (
        "debug",
        "skywatch has no debug mode: every event worth knowing is logged to stderr",
    ),
    (
        "aws_sdk_log_level",
        "the AWS SDK's own logging is not exposed; failed calls are logged and counted by kind",
    ),
    ("user_agent", "skywatch sends its own user agent"),
    ("usage_data", "skywatch sends no usage data"),
    ("internal", "no internal metrics mode"),
    ("quiet", "no effect"),
    ("service.name", "entity metadata is not sent"),
    ("deployment.environment", "entity metadata is not sent"),
];

struct Reader {
    format: Format,
    errors: Vec<Problem>,
    warnings: Vec<Problem>,
}

pub(super) fn read(tree: &Value, format: Format) -> Loaded {
    let mut r = Reader {
        format,
        errors: Vec::new(),
        warnings: Vec::new(),
    };
    let config = r.root(tree);
    Loaded {
        format,
        config: r.errors.is_empty().then_some(config),
        errors: r.errors,
        warnings: r.warnings,
    }
}

/// What skywatch offers, or plans, for a part of the CloudWatch agent it does not have.
fn plan_for(key: &str) -> &'static str {
    match key {
        "otlp" => "OTLP metrics are planned; OTLP traces are taken by the traces section (skywatch's collector)",
        "tls" => "the OTLP listener speaks plain HTTP: keep it on loopback, or put a TLS-terminating proxy in front",
        "prometheus" => "planned: scraping Prometheus endpoints into EMF; until then the CloudWatch agent or an OpenTelemetry collector does it",
        "jmx" => "planned: JVM metrics through a JMX or Jolokia endpoint; until then the CloudWatch agent does it",
        "efa" => "planned: EFA counters from /sys/class/infiniband",
        "dpdk" => "planned: DPDK metrics from its telemetry socket",
        "kubernetes" | "ecs" | "application_signals" | "app_signals" => {
            "Container Insights and Application Signals belong to the EKS/ECS agents; not planned for the instance agent"
        }
        "metrics_destinations" => "skywatch sends metrics to CloudWatch or its local store (outputs.metrics); Amazon Managed Prometheus is planned",
        _ => "no plan yet",
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

impl Reader {
    fn error(&mut self, path: &str, message: impl Into<String>) {
        self.errors.push(Problem {
            path: path.to_string(),
            message: message.into(),
        });
    }

    fn warn(&mut self, path: &str, message: impl Into<String>) {
        self.warnings.push(Problem {
            path: path.to_string(),
            message: message.into(),
        });
    }

    fn table_word(&self) -> &'static str {
        match self.format {
            Format::Toml => "a table",
            Format::CloudWatchJson => "an object",
        }
    }

    fn object<'v>(&mut self, value: &'v Value, path: &str) -> Option<&'v Map<String, Value>> {
        let map = value.as_object();
        if map.is_none() {
            let word = self.table_word();
            self.error(path, format!("expected {word}, found {}", kind(value)));
        }
        map
    }

    /// Reports keys of `map` not in `known`: ignored ones as warnings, unsupported ones and
    /// unknown ones as errors.
    fn check_keys(
        &mut self,
        map: &Map<String, Value>,
        path: &str,
        known: &[&str],
        ignored: &[(&str, &str)],
        unsupported: &[&str],
    ) {
        for key in map.keys() {
            let at = join(path, key);
            if known.contains(&key.as_str()) {
                continue;
            }
            if let Some((_, why)) = ignored.iter().find(|(k, _)| k == key) {
                self.warn(&at, format!("ignored: {why}"));
            } else if unsupported.contains(&key.as_str()) {
                self.error(&at, format!("not supported by skywatch yet: {}", plan_for(key)));
            } else {
                let mut names: Vec<&str> = known.to_vec();
                names.sort_unstable();
                self.error(
                    &at,
                    format!("unknown key (expected one of: {})", names.join(", ")),
                );
            }
        }
    }

    fn interval(&mut self, value: &Value, path: &str) -> Option<u64> {
        match value.as_u64() {
            Some(n) if (1..=MAX_INTERVAL_S).contains(&n) => Some(n),
            _ => {
                self.error(
                    path,
                    format!("expected whole seconds from 1 to {MAX_INTERVAL_S}, found {value}"),
                );
                None
            }
        }
    }

    fn string(&mut self, value: &Value, path: &str) -> Option<String> {
        let text = value.as_str().map(str::to_string);
        if text.is_none() {
            self.error(path, format!("expected a string, found {}", kind(value)));
        }
        text
    }

    fn boolean(&mut self, value: &Value, path: &str) -> Option<bool> {
        let b = value.as_bool();
        if b.is_none() {
            self.error(path, format!("expected true or false, found {}", kind(value)));
        }
        b
    }

    fn strings(&mut self, value: &Value, path: &str) -> Vec<String> {
        let Some(items) = value.as_array() else {
            self.error(path, format!("expected a list of strings, found {}", kind(value)));
            return Vec::new();
        };
        items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| self.string(item, &format!("{path}[{i}]")))
            .collect()
    }

    fn string_map(&mut self, value: &Value, path: &str) -> BTreeMap<String, String> {
        let Some(map) = self.object(value, path) else {
            return BTreeMap::new();
        };
        map.iter()
            .filter_map(|(k, v)| Some((k.clone(), self.string(v, &join(path, k))?)))
            .collect()
    }

    fn root(&mut self, tree: &Value) -> AgentConfig {
        let mut config = AgentConfig {
            interval_s: DEFAULT_INTERVAL_S,
            auto_recheck_s: super::DEFAULT_AUTO_RECHECK_S,
            ..AgentConfig::default()
        };
        let Some(root) = self.object(tree, "") else {
            return config;
        };
        let (known, unsupported): (&[&str], &[&str]) = match self.format {
            Format::CloudWatchJson => (&["agent", "metrics", "logs", "traces"], &[]),
            Format::Toml => (
                &[
                    "agent", "outputs", "health", "metrics", "logs", "traces", "alarms",
                ],
                &[],
            ),
        };
        self.check_keys(root, "", known, &[], unsupported);
        if let Some(logs) = root.get("logs") {
            config.logs = self.logs(logs);
        }
        if let Some(agent) = root.get("agent") {
            self.agent(agent, &mut config);
        }
        if let Some(outputs) = root.get("outputs") {
            self.outputs(outputs, &mut config);
        }
        if let Some(health) = root.get("health") {
            self.health(health, &mut config);
        }
        // Plugins inherit the global interval, so the agent section is read first.
        if let Some(metrics) = root.get("metrics") {
            config.metrics = self.metrics(metrics, "metrics");
        }
        if let Some(traces) = root.get("traces") {
            config.traces = self.traces(traces);
        }
        if let Some(alarms) = root.get("alarms") {
            config.alarms = self.alarms(alarms);
        }
        config
    }

    /// Reads `[alarms]`: `rules` (a path or a list of paths), `region`, `account_id`, `publish`.
    fn alarms(&mut self, value: &Value) -> Option<super::AlarmsConfig> {
        let map = self.object(value, "alarms")?;
        self.check_keys(
            map,
            "alarms",
            &["rules", "region", "account_id", "publish"],
            &[],
            &[],
        );
        let rule_files: Vec<std::path::PathBuf> = match map.get("rules") {
            Some(Value::String(one)) => vec![one.into()],
            Some(list @ Value::Array(_)) => self
                .strings(list, "alarms.rules")
                .into_iter()
                .map(Into::into)
                .collect(),
            Some(_) => {
                self.error("alarms.rules", "expected a rule file's path or a list of paths");
                Vec::new()
            }
            None => Vec::new(),
        };
        if rule_files.is_empty() {
            self.error(
                "alarms.rules",
                "name at least one rule file (our TOML or PutMetricAlarm JSON)",
            );
        }
        let region = map.get("region").and_then(|v| self.string(v, "alarms.region"));
        let account_id = map
            .get("account_id")
            .and_then(|v| self.string(v, "alarms.account_id"));
        if let Some(account) = &account_id {
            if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
                self.error(
                    "alarms.account_id",
                    format!("expected 12 digits, found {account:?}"),
                );
            }
        }
        let range_periods = map.get("range_periods").and_then(|v| {
            let periods = v
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .filter(|n| (1..=10_000).contains(n));
            if periods.is_none() {
                self.error(
                    "alarms.range_periods",
                    format!("expected a number of periods from 1 to 10000, found {v}"),
                );
            }
            periods
        });
        let publish = map
            .get("publish")
            .and_then(|v| self.boolean(v, "alarms.publish"))
            .unwrap_or(true);
        Some(super::AlarmsConfig {
            rule_files,
            region,
            account_id,
            range_periods,
            publish,
        })
    }

    fn agent(&mut self, value: &Value, config: &mut AgentConfig) {
        let Some(agent) = self.object(value, "agent") else {
            return;
        };
        let known: &[&str] = match self.format {
            Format::CloudWatchJson => &[
                "metrics_collection_interval",
                "region",
                "omit_hostname",
                "run_as_user",
                "use_dualstack_endpoint",
            ],
            Format::Toml => &[
                "metrics_collection_interval",
                "region",
                "omit_hostname",
                "run_as_user",
                "use_dualstack_endpoint",
                "state_dir",
            ],
        };
        let ignored = match self.format {
            Format::CloudWatchJson => AGENT_IGNORED,
            Format::Toml => &[],
        };
        let mut known = known.to_vec();
        known.push("credentials");
        self.check_keys(agent, "agent", &known, ignored, &[]);
        for (key, v) in agent {
            let path = join("agent", key);
            match key.as_str() {
                "metrics_collection_interval" => {
                    config.interval_s = self.interval(v, &path).unwrap_or(DEFAULT_INTERVAL_S);
                }
                "region" => config.region = self.string(v, &path),
                "credentials" => config.role_arn = self.credentials(v, &path),
                "use_dualstack_endpoint" => match v.as_bool() {
                    Some(on) => config.use_dualstack_endpoint = on,
                    None => self.error(&path, format!("expected true or false, found {v}")),
                },
                "omit_hostname" => config.omit_hostname = self.boolean(v, &path).unwrap_or(false),
                "run_as_user" => config.run_as_user = self.string(v, &path),
                "state_dir" if self.format == Format::Toml => {
                    config.state_dir = self.string(v, &path).map(Into::into);
                }
                _ => {}
            }
        }
    }

    fn outputs(&mut self, value: &Value, config: &mut AgentConfig) {
        let Some(outputs) = self.object(value, "outputs") else {
            return;
        };
        self.check_keys(
            outputs,
            "outputs",
            &["metrics", "logs", "auto_recheck_interval"],
            &[],
            &[],
        );
        for (key, v) in outputs {
            let at = join("outputs", key);
            if key == "auto_recheck_interval" {
                if let Some(s) = self.interval(v, &at) {
                    config.auto_recheck_s = s;
                }
                continue;
            }
            let destination = match v.as_str() {
                Some("auto") => Destination::Auto,
                Some("cloudwatch") => Destination::CloudWatch,
                Some("local") => Destination::Local,
                _ => {
                    self.error(
                        &at,
                        format!("expected \"auto\", \"cloudwatch\" or \"local\", found {v}"),
                    );
                    Destination::Auto
                }
            };
            match key.as_str() {
                "metrics" => config.output = destination,
                "logs" => config.logs_output = destination,
                _ => {}
            }
        }
    }

    fn health(&mut self, value: &Value, config: &mut AgentConfig) {
        let Some(health) = self.object(value, "health") else {
            return;
        };
        self.check_keys(health, "health", &["listen"], &[], &[]);
        // An empty [health] turns the listener on at the default loopback address.
        config.health_listen = Some(super::DEFAULT_HEALTH_LISTEN.to_string());
        if let Some(v) = health.get("listen") {
            config.health_listen = None;
            if let Some(text) = self.string(v, "health.listen") {
                if text.parse::<std::net::SocketAddr>().is_ok() {
                    config.health_listen = Some(text);
                } else {
                    self.error(
                        "health.listen",
                        format!("expected an address and port such as \"127.0.0.1:9468\", found {text:?}"),
                    );
                }
            }
        }
    }

    fn metrics(&mut self, value: &Value, path: &str) -> Option<MetricsConfig> {
        let map = self.object(value, path)?;
        let mut metrics = MetricsConfig {
            namespace: DEFAULT_NAMESPACE.to_string(),
            append_dimensions: BTreeMap::new(),
            aggregation_dimensions: Vec::new(),
            force_flush_interval_s: DEFAULT_FORCE_FLUSH_S,
            endpoint_override: None,
            role_arn: None,
            plugins: Vec::new(),
        };
        let settings = [
            "namespace",
            "append_dimensions",
            "aggregation_dimensions",
            "force_flush_interval",
            "endpoint_override",
            "credentials",
        ];
        let plugins: Vec<(String, String, &Value)> = match self.format {
            Format::CloudWatchJson => {
                let mut known = settings.to_vec();
                known.push("metrics_collected");
                self.check_keys(
                    map,
                    path,
                    &known,
                    &[
                        ("service.name", "entity metadata is not sent"),
                        ("deployment.environment", "entity metadata is not sent"),
                    ],
                    &["metrics_destinations"],
                );
                let at = join(path, "metrics_collected");
                if let Some(collected) = map.get("metrics_collected") {
                    self.object(collected, &at)
                        .map(|m| m.iter().map(|(k, v)| (join(&at, k), k.clone(), v)).collect())
                        .unwrap_or_default()
                } else {
                    self.error(&at, "required: the plugins to collect");
                    Vec::new()
                }
            }
            // Our TOML puts the plugin tables right in [metrics]: [metrics.mem], [metrics.cpu].
            Format::Toml => {
                let mut plugins = Vec::new();
                for (key, v) in map {
                    if settings.contains(&key.as_str()) {
                        continue;
                    }
                    let at = join(path, key);
                    if Plugin::from_name(key).is_some() {
                        plugins.push((at, key.clone(), v));
                    } else if UNSUPPORTED_PLUGINS.contains(&key.as_str()) {
                        self.error(
                            &at,
                            format!("this plugin is not supported by skywatch yet: {}", plan_for(key)),
                        );
                    } else {
                        self.error(
                            &at,
                            format!(
                                "unknown key (expected a plugin: {}, or one of: {})",
                                plugin_names(),
                                settings.join(", ")
                            ),
                        );
                    }
                }
                plugins
            }
        };
        for (key, v) in map {
            let at = join(path, key);
            match key.as_str() {
                "namespace" => {
                    if let Some(ns) = self.string(v, &at) {
                        if ns.is_empty() || ns.len() > 255 || ns.starts_with(':') {
                            self.error(
                                &at,
                                "a namespace is 1 to 255 characters and does not start with ':'",
                            );
                        } else if ns.starts_with("AWS/") {
                            self.error(
                                &at,
                                "namespaces starting with \"AWS/\" are reserved for AWS services",
                            );
                        } else {
                            metrics.namespace = ns;
                        }
                    }
                }
                "append_dimensions" => metrics.append_dimensions = self.global_dimensions(v, &at),
                "aggregation_dimensions" => {
                    metrics.aggregation_dimensions = self.aggregation_dimensions(v, &at);
                }
                "force_flush_interval" => {
                    metrics.force_flush_interval_s = self.interval(v, &at).unwrap_or(DEFAULT_FORCE_FLUSH_S);
                }
                "endpoint_override" => metrics.endpoint_override = self.string(v, &at),
                "credentials" => metrics.role_arn = self.credentials(v, &at),
                _ => {}
            }
        }
        for (at, name, v) in plugins {
            match Plugin::from_name(&name) {
                // procstat is a list: one entry per selection.
                Some(Plugin::Procstat) => match v.as_array() {
                    Some(entries) => {
                        for (i, entry) in entries.iter().enumerate() {
                            if let Some(p) = self.plugin(Plugin::Procstat, entry, &format!("{at}[{i}]")) {
                                metrics.plugins.push(p);
                            }
                        }
                    }
                    None => self.error(
                        &at,
                        format!("expected a list of procstat entries, found {}", kind(v)),
                    ),
                },
                Some(plugin) => {
                    if let Some(p) = self.plugin(plugin, v, &at) {
                        metrics.plugins.push(p);
                    }
                }
                None if UNSUPPORTED_PLUGINS.contains(&name.as_str()) => {
                    self.error(
                        &at,
                        format!(
                            "this plugin is not supported by skywatch yet: {}",
                            plan_for(name.as_str())
                        ),
                    );
                }
                // Windows performance counter objects: the known names, and any name with a
                // space, ':' or '$' (`SQLServer:Buffer Manager`, `MSSQL$SQL1:Locks`), which no
                // Linux plugin has.
                None if WINDOWS_PLUGINS.contains(&name.as_str()) || name.contains([' ', ':', '$']) => {
                    self.warn(
                        &at,
                        "a Windows performance counter object: Windows-only, ignored on Linux",
                    );
                }
                None if self.format == Format::CloudWatchJson => {
                    self.error(
                        &at,
                        format!("unknown plugin (expected one of: {})", plugin_names()),
                    );
                }
                None => {}
            }
        }
        metrics.plugins.sort_by_key(|p| p.plugin);
        Some(metrics)
    }

    /// A `credentials` section: `role_arn`, the role to assume through STS (refreshed before
    /// its credentials expire).
    pub(super) fn credentials(&mut self, value: &Value, path: &str) -> Option<String> {
        let map = self.object(value, path)?;
        self.check_keys(map, path, &["role_arn"], &[], &[]);
        let at = join(path, "role_arn");
        let arn = self.string(map.get("role_arn")?, &at)?;
        if !arn.starts_with("arn:") || arn.split(':').count() < 6 {
            // STS will refuse it, and the calls are retried and counted; said here first.
            self.warn(
                &at,
                format!("does not look like a role ARN (arn:aws:iam::ACCOUNT:role/NAME): {arn:?}; STS will refuse it"),
            );
        }
        Some(arn)
    }

    /// Global `append_dimensions`: the CloudWatch agent honours only the four EC2 pairs.
    fn global_dimensions(&mut self, value: &Value, path: &str) -> BTreeMap<String, String> {
        let all = self.string_map(value, path);
        let mut kept = BTreeMap::new();
        for (k, v) in all {
            if EC2_DIMENSIONS
                .iter()
                .any(|(name, placeholder)| *name == k && *placeholder == v)
            {
                kept.insert(k, v);
            } else {
                self.warn(
                    &join(path, &k),
                    "ignored: the global append_dimensions take only InstanceId, ImageId, InstanceType and \
                     AutoScalingGroupName with their ${aws:…} values (put other dimensions on a plugin)",
                );
            }
        }
        kept
    }

    fn aggregation_dimensions(&mut self, value: &Value, path: &str) -> Vec<Vec<String>> {
        let Some(sets) = value.as_array() else {
            self.error(
                path,
                format!(
                    "expected a list of lists of dimension names, found {}",
                    kind(value)
                ),
            );
            return Vec::new();
        };
        sets.iter()
            .enumerate()
            .map(|(i, set)| self.strings(set, &format!("{path}[{i}]")))
            .collect()
    }

    fn plugin(&mut self, plugin: Plugin, value: &Value, path: &str) -> Option<PluginConfig> {
        let map = self.object(value, path)?;
        let mut known = vec![
            "measurement",
            "metrics_collection_interval",
            "append_dimensions",
            "drop_original_metrics",
        ];
        if plugin.has_resources() {
            known.push("resources");
        }
        match plugin {
            Plugin::Cpu => known.push("totalcpu"),
            Plugin::Disk => known.extend(["ignore_file_system_types", "drop_device"]),
            Plugin::Procstat => known.extend(["pid_file", "exe", "pattern"]),
            Plugin::Ethtool => {
                known.retain(|k| *k != "measurement");
                known.extend(["interface_include", "interface_exclude", "metrics_include"]);
            }
            Plugin::Collectd => {
                known.retain(|k| *k != "measurement");
                known.extend([
                    "service_address",
                    "name_prefix",
                    "collectd_security_level",
                    "collectd_auth_file",
                    "collectd_typesdb",
                    "metrics_aggregation_interval",
                ]);
            }
            Plugin::Statsd => {
                known.retain(|k| *k != "measurement");
                known.extend([
                    "service_address",
                    "metrics_aggregation_interval",
                    "metric_separator",
                    "allowed_pending_messages",
                ]);
            }
            _ => {}
        }
        self.check_keys(map, path, &known, &[], &[]);
        let mut config = PluginConfig {
            plugin,
            measurements: Vec::new(),
            interval_s: None,
            resources: Vec::new(),
            append_dimensions: BTreeMap::new(),
            drop_original_metrics: Vec::new(),
            totalcpu: true,
            ignore_file_system_types: Vec::new(),
            drop_device: false,
            procstat: None,
            statsd: None,
            collectd: None,
            ethtool_exclude: Vec::new(),
            ethtool_metrics: Vec::new(),
        };
        for (key, v) in map {
            let at = join(path, key);
            match key.as_str() {
                "measurement" => config.measurements = self.measurements(plugin, v, &at),
                "metrics_collection_interval" => config.interval_s = self.interval(v, &at),
                "resources" => config.resources = self.strings(v, &at),
                "append_dimensions" => config.append_dimensions = self.string_map(v, &at),
                "drop_original_metrics" => config.drop_original_metrics = self.strings(v, &at),
                "totalcpu" => config.totalcpu = self.boolean(v, &at).unwrap_or(true),
                "ignore_file_system_types" => config.ignore_file_system_types = self.strings(v, &at),
                "drop_device" => config.drop_device = self.boolean(v, &at).unwrap_or(false),
                _ => {}
            }
        }
        if plugin == Plugin::Procstat {
            // As the CloudWatch agent: pid_file, else exe, else pattern.
            let text = |key: &str| map.get(key).and_then(Value::as_str).map(str::to_string);
            config.procstat = text("pid_file")
                .map(ProcessSelector::PidFile)
                .or_else(|| text("exe").map(ProcessSelector::Exe))
                .or_else(|| text("pattern").map(ProcessSelector::Pattern));
            match &config.procstat {
                None => self.error(path, "procstat needs pid_file, exe or pattern (a string)"),
                Some(ProcessSelector::Exe(re) | ProcessSelector::Pattern(re)) => {
                    if let Err(e) = regex::Regex::new(re) {
                        self.error(path, format!("not a valid regex: {e}"));
                    }
                }
                Some(ProcessSelector::PidFile(_)) => {}
            }
        }
        if plugin == Plugin::Ethtool {
            for (key, v) in map {
                let at = join(path, key);
                match key.as_str() {
                    "interface_include" => config.resources = self.strings(v, &at),
                    "interface_exclude" => config.ethtool_exclude = self.strings(v, &at),
                    "metrics_include" => config.ethtool_metrics = self.strings(v, &at),
                    _ => {}
                }
            }
            return Some(config);
        }
        if plugin == Plugin::Collectd {
            let text = |key: &str| map.get(key).and_then(Value::as_str).map(str::to_string);
            let address = text("service_address")
                .unwrap_or_else(|| format!("udp://{}", crate::metrics::collectd::DEFAULT_ADDRESS));
            // `udp://:25826`: every interface, as written (as statsd's `:8125`).
            let address = match address.strip_prefix("udp://").map(|a| {
                if a.starts_with(':') {
                    format!("0.0.0.0{a}")
                } else {
                    a.to_string()
                }
            }) {
                Some(a) if a.parse::<std::net::SocketAddr>().is_ok() => a,
                _ => {
                    self.error(
                        &join(path, "service_address"),
                        format!("expected \"udp://HOST:PORT\" (an IP address), found {address:?}"),
                    );
                    String::new()
                }
            };
            match text("collectd_security_level").as_deref() {
                None | Some("none") => {}
                Some(level @ ("sign" | "encrypt")) => self.warn(
                    &join(path, "collectd_security_level"),
                    format!("{level:?} is not supported yet: signed and encrypted packets are counted and not read; set collectd's SecurityLevel to None"),
                ),
                Some(other) => self.error(
                    &join(path, "collectd_security_level"),
                    format!("expected \"none\", \"sign\" or \"encrypt\", found {other:?}"),
                ),
            }
            let typesdb = match map.get("collectd_typesdb") {
                Some(v) => self.strings(v, &join(path, "collectd_typesdb")),
                None => vec!["/usr/share/collectd/types.db".to_string()],
            };
            config.collectd = Some(CollectdSettings {
                address,
                name_prefix: text("name_prefix").unwrap_or_else(|| "collectd_".to_string()),
                typesdb,
            });
            return Some(config);
        }
        if plugin == Plugin::Statsd {
            let text = |key: &str| map.get(key).and_then(Value::as_str).map(str::to_string);
            let address = match text("service_address") {
                // The CloudWatch agent's `:8125`: every interface, as written.
                Some(a) if a.starts_with(':') => format!("0.0.0.0{a}"),
                Some(a) => a,
                None => crate::metrics::statsd::DEFAULT_ADDRESS.to_string(),
            };
            if address.parse::<std::net::SocketAddr>().is_err() {
                self.error(
                    &join(path, "service_address"),
                    format!("expected HOST:PORT (an IP address), found {address:?}"),
                );
            }
            config.statsd = Some(StatsdSettings {
                address,
                separator: text("metric_separator").unwrap_or_else(|| "_".to_string()),
            });
            return Some(config);
        }
        if !map.contains_key("measurement") {
            self.error(
                &join(path, "measurement"),
                format!(
                    "required: the {} metrics to send ({})",
                    plugin.name(),
                    plugin.fields().join(", ")
                ),
            );
        }
        Some(config)
    }

    fn measurements(&mut self, plugin: Plugin, value: &Value, path: &str) -> Vec<Measurement> {
        let Some(items) = value.as_array() else {
            self.error(
                path,
                format!("expected a list of metric names, found {}", kind(value)),
            );
            return Vec::new();
        };
        if items.is_empty() {
            self.error(path, "an empty list sends nothing; name at least one metric");
        }
        let mut out: Vec<Measurement> = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let at = format!("{path}[{i}]");
            let entry = match item {
                Value::String(name) => self.field(plugin, name, &at).map(|field| Measurement {
                    field,
                    rename: None,
                    unit: None,
                }),
                Value::Object(map) => {
                    self.check_keys(map, &at, &["name", "rename", "unit"], &[], &[]);
                    let name_at = join(&at, "name");
                    let field = if let Some(v) = map.get("name") {
                        self.string(v, &name_at)
                            .and_then(|name| self.field(plugin, &name, &name_at))
                    } else {
                        self.error(&name_at, "required: the metric to send");
                        None
                    };
                    let rename = map
                        .get("rename")
                        .and_then(|v| self.string(v, &join(&at, "rename")));
                    let unit = map.get("unit").and_then(|v| self.string(v, &join(&at, "unit")));
                    if let Some(u) = &unit {
                        if !UNITS.contains(&u.as_str()) {
                            self.error(
                                &join(&at, "unit"),
                                format!("unknown unit {u:?} (CloudWatch's units: {})", UNITS.join(", ")),
                            );
                        }
                    }
                    field.map(|field| Measurement { field, rename, unit })
                }
                other => {
                    self.error(
                        &at,
                        format!(
                            "expected a metric name or {}, found {}",
                            self.table_word(),
                            kind(other)
                        ),
                    );
                    None
                }
            };
            if let Some(m) = entry {
                if out.iter().any(|o| o.field == m.field && o.rename == m.rename) {
                    self.error(&at, format!("{} is listed twice", m.metric_name(plugin)));
                } else {
                    out.push(m);
                }
            }
        }
        out
    }

    /// A measurement name, with or without the plugin prefix, as the field it names.
    fn field(&mut self, plugin: Plugin, name: &str, path: &str) -> Option<String> {
        let prefix = format!("{}_", plugin.name());
        let field = name.strip_prefix(&prefix).unwrap_or(name);
        if plugin.fields().contains(&field) {
            return Some(field.to_string());
        }
        // `swap_total` and friends exist in Telegraf but the schema does not allow them.
        self.error(
            path,
            format!(
                "{} has no metric {name:?} (it has: {})",
                plugin.name(),
                plugin.fields().join(", ")
            ),
        );
        None
    }
}

fn plugin_names() -> String {
    Plugin::ALL
        .iter()
        .map(|p| p.name())
        .collect::<Vec<_>>()
        .join(", ")
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a table",
    }
}

//! The model written as our TOML: what `skywatch config convert` prints. Reading the output
//! back gives the same model.

use toml::{Table, Value};

use super::{
    AgentConfig, Destination, FilterKind, JournaldConfig, LogFileConfig, LogsConfig, LongLinesMode,
    DEFAULT_FORCE_FLUSH_S, DEFAULT_INTERVAL_S, DEFAULT_JOURNALD_PRIORITY, DEFAULT_LOGS_BUFFER_BYTES,
    DEFAULT_LOGS_FLUSH_S, DEFAULT_LOGS_SPOOL_BYTES, DEFAULT_NAMESPACE,
};

fn strings(items: &[String]) -> Value {
    Value::Array(items.iter().map(|s| Value::String(s.clone())).collect())
}

fn string_table(map: &std::collections::BTreeMap<String, String>) -> Value {
    Value::Table(
        map.iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect(),
    )
}

fn bytes(n: u64) -> Value {
    Value::Integer(i64::try_from(n).unwrap_or(i64::MAX))
}

fn seconds(n: u64) -> Value {
    Value::Integer(i64::try_from(n).unwrap_or(i64::MAX))
}

/// `config` as TOML text, leaving out settings at their defaults.
pub fn to_toml(config: &AgentConfig) -> String {
    let mut root = Table::new();
    let mut agent = Table::new();
    if config.interval_s != DEFAULT_INTERVAL_S {
        agent.insert("metrics_collection_interval".into(), seconds(config.interval_s));
    }
    if let Some(arn) = &config.role_arn {
        agent.insert("credentials".into(), Value::Table(role(arn)));
    }
    if config.use_dualstack_endpoint {
        agent.insert("use_dualstack_endpoint".into(), Value::Boolean(true));
    }
    if let Some(region) = &config.region {
        agent.insert("region".into(), Value::String(region.clone()));
    }
    if config.omit_hostname {
        agent.insert("omit_hostname".into(), Value::Boolean(true));
    }
    if let Some(user) = &config.run_as_user {
        agent.insert("run_as_user".into(), Value::String(user.clone()));
    }
    if let Some(dir) = &config.state_dir {
        agent.insert("state_dir".into(), Value::String(dir.display().to_string()));
    }
    if !agent.is_empty() {
        root.insert("agent".into(), Value::Table(agent));
    }
    let mut outputs = Table::new();
    if config.output != Destination::Auto {
        outputs.insert("metrics".into(), Value::String(config.output.name().into()));
    }
    if config.logs_output != Destination::Auto {
        outputs.insert("logs".into(), Value::String(config.logs_output.name().into()));
    }
    if config.auto_recheck_s != super::DEFAULT_AUTO_RECHECK_S {
        outputs.insert(
            "auto_recheck_interval".into(),
            Value::Integer(i64::try_from(config.auto_recheck_s).unwrap_or(i64::MAX)),
        );
    }
    if !outputs.is_empty() {
        root.insert("outputs".into(), Value::Table(outputs));
    }
    if let Some(listen) = &config.health_listen {
        let mut health = Table::new();
        health.insert("listen".into(), Value::String(listen.clone()));
        root.insert("health".into(), Value::Table(health));
    }
    if let Some(m) = &config.metrics {
        let mut metrics = Table::new();
        if m.namespace != DEFAULT_NAMESPACE {
            metrics.insert("namespace".into(), Value::String(m.namespace.clone()));
        }
        if !m.append_dimensions.is_empty() {
            metrics.insert("append_dimensions".into(), string_table(&m.append_dimensions));
        }
        if !m.aggregation_dimensions.is_empty() {
            metrics.insert(
                "aggregation_dimensions".into(),
                Value::Array(m.aggregation_dimensions.iter().map(|set| strings(set)).collect()),
            );
        }
        if m.force_flush_interval_s != DEFAULT_FORCE_FLUSH_S {
            metrics.insert("force_flush_interval".into(), seconds(m.force_flush_interval_s));
        }
        if let Some(endpoint) = &m.endpoint_override {
            metrics.insert("endpoint_override".into(), Value::String(endpoint.clone()));
        }
        if let Some(arn) = &m.role_arn {
            metrics.insert("credentials".into(), Value::Table(role(arn)));
        }
        for p in &m.plugins {
            let mut plugin = Table::new();
            let measurement = p
                .measurements
                .iter()
                .map(|ms| {
                    if ms.rename.is_none() && ms.unit.is_none() {
                        return Value::String(ms.field.clone());
                    }
                    let mut entry = Table::new();
                    entry.insert("name".into(), Value::String(ms.field.clone()));
                    if let Some(rename) = &ms.rename {
                        entry.insert("rename".into(), Value::String(rename.clone()));
                    }
                    if let Some(unit) = &ms.unit {
                        entry.insert("unit".into(), Value::String(unit.clone()));
                    }
                    Value::Table(entry)
                })
                .collect();
            plugin.insert("measurement".into(), Value::Array(measurement));
            if let Some(interval) = p.interval_s {
                plugin.insert("metrics_collection_interval".into(), seconds(interval));
            }
            if !p.resources.is_empty() {
                plugin.insert("resources".into(), strings(&p.resources));
            }
            if !p.append_dimensions.is_empty() {
                plugin.insert("append_dimensions".into(), string_table(&p.append_dimensions));
            }
            if !p.drop_original_metrics.is_empty() {
                plugin.insert("drop_original_metrics".into(), strings(&p.drop_original_metrics));
            }
            if !p.totalcpu {
                plugin.insert("totalcpu".into(), Value::Boolean(false));
            }
            if !p.ignore_file_system_types.is_empty() {
                plugin.insert(
                    "ignore_file_system_types".into(),
                    strings(&p.ignore_file_system_types),
                );
            }
            if p.drop_device {
                plugin.insert("drop_device".into(), Value::Boolean(true));
            }
            if let Some(statsd) = &p.statsd {
                plugin.remove("measurement");
                plugin.insert("service_address".into(), Value::String(statsd.address.clone()));
                if statsd.separator != "_" {
                    plugin.insert("metric_separator".into(), Value::String(statsd.separator.clone()));
                }
            }
            if p.plugin == super::Plugin::Ethtool {
                plugin.remove("measurement");
                plugin.remove("resources");
                if !p.resources.is_empty() {
                    plugin.insert("interface_include".into(), strings(&p.resources));
                }
                if !p.ethtool_exclude.is_empty() {
                    plugin.insert("interface_exclude".into(), strings(&p.ethtool_exclude));
                }
                if !p.ethtool_metrics.is_empty() {
                    plugin.insert("metrics_include".into(), strings(&p.ethtool_metrics));
                }
            }
            if let Some(collectd) = &p.collectd {
                plugin.remove("measurement");
                plugin.insert(
                    "service_address".into(),
                    Value::String(format!("udp://{}", collectd.address)),
                );
                plugin.insert("name_prefix".into(), Value::String(collectd.name_prefix.clone()));
                plugin.insert("collectd_typesdb".into(), strings(&collectd.typesdb));
            }
            if let Some(selector) = &p.procstat {
                let (key, value) = match selector {
                    super::ProcessSelector::PidFile(v) => ("pid_file", v),
                    super::ProcessSelector::Exe(v) => ("exe", v),
                    super::ProcessSelector::Pattern(v) => ("pattern", v),
                };
                plugin.insert(key.into(), Value::String(value.clone()));
                // A list of tables: [[metrics.procstat]].
                if let Value::Array(entries) = metrics
                    .entry(p.plugin.name())
                    .or_insert_with(|| Value::Array(Vec::new()))
                {
                    entries.push(Value::Table(plugin));
                }
                continue;
            }
            metrics.insert(p.plugin.name().into(), Value::Table(plugin));
        }
        root.insert("metrics".into(), Value::Table(metrics));
    }
    if let Some(logs) = &config.logs {
        root.insert("logs".into(), Value::Table(logs_table(logs)));
    }
    if let Some(traces) = &config.traces {
        // The collector's keys as read (our TOML) or mapped (the CloudWatch agent's JSON).
        if let Ok(table) = Value::try_from(&traces.table) {
            root.insert("traces".into(), table);
        }
    }
    if let Some(alarms) = &config.alarms {
        let mut table = Table::new();
        let files = alarms
            .rule_files
            .iter()
            .map(|p| Value::String(p.display().to_string()))
            .collect();
        table.insert("rules".into(), Value::Array(files));
        if let Some(region) = &alarms.region {
            table.insert("region".into(), Value::String(region.clone()));
        }
        if let Some(account) = &alarms.account_id {
            table.insert("account_id".into(), Value::String(account.clone()));
        }
        if let Some(periods) = alarms.range_periods {
            table.insert("range_periods".into(), Value::Integer(i64::from(periods)));
        }
        if !alarms.publish {
            table.insert("publish".into(), Value::Boolean(false));
        }
        root.insert("alarms".into(), Value::Table(table));
    }
    toml::to_string(&root).unwrap_or_default()
}

fn logs_table(logs: &LogsConfig) -> Table {
    let mut table = Table::new();
    if logs.force_flush_interval_s != DEFAULT_LOGS_FLUSH_S {
        table.insert(
            "force_flush_interval".into(),
            seconds(logs.force_flush_interval_s),
        );
    }
    if let Some(endpoint) = &logs.endpoint_override {
        table.insert("endpoint_override".into(), Value::String(endpoint.clone()));
    }
    if logs.buffer_bytes != DEFAULT_LOGS_BUFFER_BYTES {
        table.insert("buffer_bytes".into(), bytes(logs.buffer_bytes));
    }
    if logs.spool_bytes != DEFAULT_LOGS_SPOOL_BYTES {
        table.insert("spool_bytes".into(), bytes(logs.spool_bytes));
    }
    if let Some(arn) = &logs.role_arn {
        table.insert("credentials".into(), Value::Table(role(arn)));
    }
    if !logs.emf_listen.is_empty() {
        table.insert("emf_listen".into(), strings(&logs.emf_listen));
    }
    let files = logs.files.iter().map(|f| Value::Table(file_table(f))).collect();
    table.insert("files".into(), Value::Array(files));
    if !logs.journald.is_empty() {
        let entries = logs
            .journald
            .iter()
            .map(|j| Value::Table(journald_table(j)))
            .collect();
        table.insert("journald".into(), Value::Array(entries));
    }
    table
}

fn journald_table(j: &JournaldConfig) -> Table {
    let mut t = Table::new();
    let text = |s: &str| Value::String(s.to_string());
    for (key, list) in [
        ("units", &j.units),
        ("identifiers", &j.identifiers),
        ("files", &j.files),
    ] {
        if !list.is_empty() {
            t.insert(key.into(), strings(list));
        }
    }
    if !j.matches.is_empty() {
        let sets = j.matches.iter().map(string_table).collect();
        t.insert("matches".into(), Value::Array(sets));
    }
    if j.priority != DEFAULT_JOURNALD_PRIORITY {
        t.insert("priority".into(), text(&j.priority));
    }
    for (key, value) in [
        ("grep", &j.grep),
        ("directory", &j.directory),
        ("namespace", &j.namespace),
        ("root_path", &j.root_path),
        ("log_group_class", &j.log_group_class),
    ] {
        if let Some(v) = value {
            t.insert(key.into(), text(v));
        }
    }
    for (key, on) in [("dmesg", j.dmesg), ("all", j.all)] {
        if on {
            t.insert(key.into(), Value::Boolean(true));
        }
    }
    if j.start_at_beginning {
        t.insert("start_at".into(), text("beginning"));
    }
    if j.journalctl_path != "journalctl" {
        t.insert("journalctl_path".into(), text(&j.journalctl_path));
    }
    t.insert("log_group_name".into(), text(&j.log_group_name));
    t.insert("log_stream_name".into(), text(&j.log_stream_name));
    if !j.filters.is_empty() {
        t.insert("filters".into(), filters_array(&j.filters));
    }
    if let Some(days) = j.retention_in_days {
        t.insert("retention_in_days".into(), Value::Integer(days));
    }
    t
}

fn filters_array(filters: &[(FilterKind, String)]) -> Value {
    let filters = filters
        .iter()
        .map(|(kind, expression)| {
            let mut filter = Table::new();
            let kind = match kind {
                FilterKind::Include => "include",
                FilterKind::Exclude => "exclude",
            };
            filter.insert("type".into(), Value::String(kind.into()));
            filter.insert("expression".into(), Value::String(expression.clone()));
            Value::Table(filter)
        })
        .collect();
    Value::Array(filters)
}

fn file_table(f: &LogFileConfig) -> Table {
    let mut t = Table::new();
    let text = |s: &str| Value::String(s.to_string());
    t.insert("file_path".into(), text(&f.file_path));
    t.insert("log_group_name".into(), text(&f.log_group_name));
    t.insert("log_stream_name".into(), text(&f.log_stream_name));
    if let Some(format) = &f.timestamp_format {
        t.insert("timestamp_format".into(), text(format));
    }
    if f.timezone_utc {
        t.insert("timezone".into(), text("UTC"));
    }
    if let Some(pattern) = &f.multi_line_start_pattern {
        t.insert("multi_line_start_pattern".into(), text(pattern));
    }
    if let Some(encoding) = &f.encoding {
        t.insert("encoding".into(), text(encoding));
    }
    if !f.filters.is_empty() {
        t.insert("filters".into(), filters_array(&f.filters));
    }
    if let Some(days) = f.retention_in_days {
        t.insert("retention_in_days".into(), Value::Integer(days));
    }
    for (key, on) in [
        ("auto_removal", f.auto_removal),
        ("publish_multi_logs", f.publish_multi_logs),
        ("trim_timestamp", f.trim_timestamp),
        ("emf", f.emf),
    ] {
        if on {
            t.insert(key.into(), Value::Boolean(true));
        }
    }
    if let Some(blacklist) = &f.blacklist {
        t.insert("blacklist".into(), text(blacklist));
    }
    if let Some(class) = &f.log_group_class {
        t.insert("log_group_class".into(), text(class));
    }
    if !f.redact.is_empty() {
        t.insert("redact".into(), strings(&f.redact));
    }
    if !f.redact_patterns.is_empty() {
        t.insert("redact_patterns".into(), string_table(&f.redact_patterns));
    }
    if f.long_lines == LongLinesMode::Truncate {
        t.insert("long_lines".into(), text("truncate"));
    }
    t
}

/// A `credentials` table.
fn role(arn: &str) -> Table {
    let mut table = Table::new();
    table.insert("role_arn".into(), Value::String(arn.to_string()));
    table
}

//! The model written as our TOML: what `skywatch config convert` prints. Reading the output
//! back gives the same model.

use toml::{Table, Value};

use super::{AgentConfig, MetricsOutput, DEFAULT_FORCE_FLUSH_S, DEFAULT_INTERVAL_S, DEFAULT_NAMESPACE};

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
    if config.output != MetricsOutput::Auto {
        let mut outputs = Table::new();
        outputs.insert("metrics".into(), Value::String(config.output.name().into()));
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
            metrics.insert(p.plugin.name().into(), Value::Table(plugin));
        }
        root.insert("metrics".into(), Value::Table(metrics));
    }
    toml::to_string(&root).unwrap_or_default()
}

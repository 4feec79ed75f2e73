//! Samples become CloudWatch datums with the CloudWatch agent's names, units and dimensions:
//!
//! - name `<plugin>_<field>` (or the measurement's rename), unit the measurement's or the
//!   plugin's default;
//! - dimensions: the plugin's tags, the plugin's `append_dimensions`, the global EC2
//!   dimensions, and `host` unless `omit_hostname` or any global EC2 dimension is set (never on
//!   diskio's NVMe metrics: the agent's NVMe receiver is not a Telegraf input, which is what
//!   adds `host` there);
//! - more than 30 dimensions keep `host` and the first others alphabetically; empty values
//!   are left out;
//! - each `aggregation_dimensions` set the datum has all of (and fewer than all its
//!   dimensions) adds a roll-up datum with only those; `drop_original_metrics` keeps only the
//!   roll-ups;
//! - `StorageResolution` 1 when the plugin's interval is under 60 s, else 60;
//! - NaN and infinite values are dropped (CloudWatch rejects them).

use std::collections::BTreeMap;

use super::collect::Sample;
use crate::config::schema::is_nvme_field;
use crate::config::{Plugin, PluginConfig};
use skywatch_aws::limits::MAX_DIMENSIONS;

pub use skywatch_store::Datum;

/// What every datum's dimensions come from, beyond its plugin.
#[derive(Debug, Clone, Default)]
pub struct DimensionRules {
    /// `host`'s value, or `None` when it is left out.
    pub host: Option<String>,
    /// The global dimensions, resolved (`InstanceId = i-0abc…`).
    pub global: BTreeMap<String, String>,
    pub aggregation: Vec<Vec<String>>,
}

/// The datums of one plugin's samples, collected at `timestamp_ms` with interval `interval_s`.
pub fn datums(
    plugin: &PluginConfig,
    samples: &[Sample],
    rules: &DimensionRules,
    interval_s: u64,
    timestamp_ms: i64,
) -> Vec<Datum> {
    let storage_resolution = if interval_s < 60 { 1 } else { 60 };
    let mut out = Vec::new();
    for sample in samples {
        if !sample.value.is_finite() {
            continue;
        }
        if let Some((name, unit)) = &sample.named {
            out.push(Datum {
                name: name.clone(),
                unit: (*unit).to_string(),
                dimensions: dimensions(sample, plugin, rules),
                value: sample.value,
                timestamp_ms,
                storage_resolution,
            });
            continue;
        }
        for measurement in plugin.measurements.iter().filter(|m| m.field == sample.field) {
            let name = measurement.metric_name(plugin.plugin);
            let unit = measurement
                .unit
                .clone()
                .unwrap_or_else(|| plugin.plugin.default_unit(sample.field).to_string());
            let dimensions = dimensions(sample, plugin, rules);
            let datum = |dimensions: Vec<(String, String)>| Datum {
                name: name.clone(),
                unit: unit.clone(),
                dimensions,
                value: sample.value,
                timestamp_ms,
                storage_resolution,
            };
            for set in &rules.aggregation {
                if set.len() >= dimensions.len() {
                    continue;
                }
                let rolled: Option<Vec<(String, String)>> = set
                    .iter()
                    .map(|key| dimensions.iter().find(|(k, _)| k == key).cloned())
                    .collect();
                if let Some(mut rolled) = rolled {
                    rolled.sort();
                    rolled.dedup();
                    out.push(datum(rolled));
                }
            }
            // Listed by metric name (`cpu_usage_idle`) or, as the CloudWatch agent's own samples
            // do for some plugins, by field (`utilization_gpu`).
            let dropped = plugin
                .drop_original_metrics
                .iter()
                .any(|d| *d == name || *d == measurement.field);
            if !dropped {
                out.push(datum(dimensions));
            }
        }
    }
    out
}

fn dimensions(sample: &Sample, plugin: &PluginConfig, rules: &DimensionRules) -> Vec<(String, String)> {
    let mut all: BTreeMap<String, String> = BTreeMap::new();
    let nvme = plugin.plugin == Plugin::Diskio && sample.named.is_none() && is_nvme_field(sample.field);
    if let Some(host) = rules.host.as_ref().filter(|_| !nvme) {
        all.insert("host".into(), host.clone());
    }
    all.extend(rules.global.iter().map(|(k, v)| (k.clone(), v.clone())));
    all.extend(
        plugin
            .append_dimensions
            .iter()
            .map(|(k, v)| (k.clone(), v.clone())),
    );
    all.extend(sample.tags.iter().cloned());
    all.retain(|_, v| !v.is_empty());
    if all.len() > MAX_DIMENSIONS {
        // `host` first, then the others alphabetically (the map's order).
        let host = all.remove_entry("host");
        let keep = MAX_DIMENSIONS - usize::from(host.is_some());
        let mut kept: BTreeMap<String, String> = all.into_iter().take(keep).collect();
        kept.extend(host);
        all = kept;
    }
    all.into_iter().collect()
}

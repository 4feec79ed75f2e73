//! The metrics side of the running agent: which plugins run when, their samples as datums with
//! the configured dimensions, and EMF documents from log files as datums.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use skywatch_aws::InstanceFacts;
use skywatch_runtime::clock::now_ms;

use super::JOURNAL;
use crate::config::{self, AgentConfig, MetricsConfig, PluginConfig};
use crate::metrics::collect::Collector;
use crate::metrics::datum::{datums, Datum, DimensionRules};
use crate::metrics::emf;
use crate::placeholders::resolve_placeholders;
use crate::telemetry::{LogOutcome, Telemetry};

/// This host's name, for the `host` dimension and the log names' placeholders (and the rules
/// `skywatch up` writes, which must name the same host).
pub fn hostname() -> String {
    rustix::system::uname().nodename().to_string_lossy().into_owned()
}

/// The dimension rules for `config`, given what the instance metadata said.
pub(super) fn dimension_rules(
    config: &AgentConfig,
    metrics: &MetricsConfig,
    facts: Option<&InstanceFacts>,
) -> DimensionRules {
    let mut global = BTreeMap::new();
    if let Some(facts) = facts {
        for (name, placeholder) in &metrics.append_dimensions {
            match facts.placeholder(placeholder) {
                Some(value) if !value.is_empty() => {
                    global.insert(name.clone(), value);
                }
                _ => JOURNAL.log(format_args!(
                    "{name}: {placeholder} has no value on this instance; left out"
                )),
            }
        }
    } else if !metrics.append_dimensions.is_empty() {
        JOURNAL.log("the EC2 append_dimensions are left out (no instance metadata); sending the host dimension instead");
    }
    // As the CloudWatch agent: EC2 dimensions replace `host`.
    let host = (!config.omit_hostname && global.is_empty()).then(hostname);
    DimensionRules {
        host,
        global,
        aggregation: metrics.aggregation_dimensions.clone(),
    }
}

/// Resolves `${aws:…}` values in the plugins' own `append_dimensions` (as the CloudWatch agent
/// does since its PR #1892); dimensions without a value are left out and logged.
pub(super) fn resolve_plugin_dimensions(metrics: &mut MetricsConfig, facts: Option<&InstanceFacts>) {
    for plugin in &mut metrics.plugins {
        let (resolved, missing) = resolve_placeholders(&plugin.append_dimensions, facts);
        for name in missing {
            JOURNAL.log(format_args!(
                "{}: dimension {name} has no value here; left out",
                plugin.plugin.name()
            ));
        }
        plugin.append_dimensions = resolved;
    }
}

/// A plugin and when it runs next.
pub(super) struct Scheduled {
    pub plugin: PluginConfig,
    pub interval: Duration,
    pub next: Instant,
}

pub(super) fn schedule(config: &AgentConfig, metrics: &MetricsConfig, start: Instant) -> Vec<Scheduled> {
    metrics
        .plugins
        .iter()
        .map(|p| Scheduled {
            plugin: p.clone(),
            interval: Duration::from_secs(p.interval_s.unwrap_or(config.interval_s).max(1)),
            next: start,
        })
        .collect()
}

/// Reads plugins and turns their samples into datums.
pub(super) struct Collection {
    pub collector: Collector,
    pub rules: DimensionRules,
    pub telemetry: std::sync::Arc<Telemetry>,
}

impl Collection {
    /// Collects one plugin and returns its datums.
    pub(super) fn collect(&mut self, scheduled: &Scheduled, global_interval: u64) -> Vec<Datum> {
        let plugin = &scheduled.plugin;
        let result = self.collector.collect(plugin);
        // A part of a plugin's source that could not be read (an EBS volume's statistics) is
        // counted each time and said once; the rest of the plugin's datums still go.
        for _ in 0..self.collector.take_failed_reads() {
            self.telemetry.scrape_error("diskio_nvme");
        }
        for notice in self.collector.take_notices() {
            JOURNAL.log(notice);
        }
        match result {
            Ok(samples) => {
                let interval = plugin.interval_s.unwrap_or(global_interval);
                let out = datums(plugin, &samples, &self.rules, interval, now_ms());
                self.telemetry.datums_collected.add(out.len() as u64);
                out
            }
            Err(e) => {
                self.telemetry.scrape_error(plugin.plugin.name());
                JOURNAL.log(format_args!("{} scrape failed: {e}", plugin.plugin.name()));
                Vec::new()
            }
        }
    }
}

/// EMF documents (event time, message) as datums by namespace; invalid documents are counted
/// and the first of each power of two logged.
pub(super) fn emf_datums(docs: Vec<(i64, String)>, telemetry: &Telemetry) -> Vec<(String, Vec<Datum>)> {
    let mut by_namespace: Vec<(String, Vec<Datum>)> = Vec::new();
    for (event_ms, message) in docs {
        match emf::parse(&message, event_ms) {
            Ok(datums) => {
                telemetry.log_events(LogOutcome::EmfDocuments, 1);
                telemetry.datums_collected.add(datums.len() as u64);
                for d in datums {
                    match by_namespace.iter_mut().find(|(ns, _)| *ns == d.namespace) {
                        Some((_, list)) => list.push(d.datum),
                        None => by_namespace.push((d.namespace, vec![d.datum])),
                    }
                }
            }
            Err(e) => {
                telemetry.log_events(LogOutcome::EmfInvalid, 1);
                let n = telemetry.log_event_count(LogOutcome::EmfInvalid);
                if n.is_power_of_two() {
                    JOURNAL.log(format_args!("not a valid EMF document ({e}); {n} so far"));
                }
            }
        }
    }
    by_namespace
}

/// The configuration of an agent that collects no metrics.
pub(super) fn no_metrics() -> MetricsConfig {
    MetricsConfig {
        namespace: config::DEFAULT_NAMESPACE.to_string(),
        append_dimensions: BTreeMap::new(),
        aggregation_dimensions: Vec::new(),
        force_flush_interval_s: config::DEFAULT_FORCE_FLUSH_S,
        endpoint_override: None,
        role_arn: None,
        plugins: Vec::new(),
    }
}

//! Reading the config at start and again on SIGHUP: errors refuse it (the running config is
//! kept), warnings are logged, and what a reload cannot change is said.

use std::path::Path;

use skywatch_aws::InstanceFacts;

use super::collection::{dimension_rules, no_metrics, resolve_plugin_dimensions};
use super::{AgentError, JOURNAL};
use crate::config::{self, AgentConfig, MetricsConfig};
use crate::metrics::datum::DimensionRules;

/// Reads the config file; errors refuse it, warnings are logged.
pub(super) fn load_config(path: &Path) -> Result<AgentConfig, AgentError> {
    let loaded = config::load(path);
    for w in &loaded.warnings {
        JOURNAL.log(format_args!("{}: warning: {w}", path.display()));
    }
    match loaded.config {
        Some(config) if loaded.errors.is_empty() => Ok(config),
        _ => Err(AgentError::Config(loaded.errors)),
    }
}

/// Reads the config again for SIGHUP: the new config, its metrics and dimension rules, or
/// `None` (and every reason logged) when it cannot be used.
pub(super) fn reload(
    path: &Path,
    running: &AgentConfig,
    facts: Option<&InstanceFacts>,
) -> Option<(AgentConfig, MetricsConfig, DimensionRules)> {
    let config = match load_config(path) {
        Ok(config) => config,
        Err(e) => {
            JOURNAL.log(format_args!("reload refused: {e}"));
            return None;
        }
    };
    let mut metrics = config.metrics.clone().unwrap_or_else(no_metrics);
    if config.logs != running.logs || config.logs_output != running.logs_output {
        JOURNAL.log("changes to log files and journald entries take effect at the next start");
    }
    if config.alarms != running.alarms {
        JOURNAL.log("changes to the [alarms] section take effect at the next start (the rule files themselves are read again now)");
    }
    resolve_plugin_dimensions(&mut metrics, facts);
    let running_metrics = running.metrics.as_ref();
    if config.output != running.output
        || config.region != running.region
        || running_metrics.map(|m| (&m.namespace, &m.endpoint_override))
            != Some((&metrics.namespace, &metrics.endpoint_override))
    {
        JOURNAL.log("outputs, region, namespace and endpoint changes take effect at the next start");
    }
    let rules = dimension_rules(&config, &metrics, facts);
    JOURNAL.log(format_args!("reloaded {}", path.display()));
    Some((config, metrics, rules))
}

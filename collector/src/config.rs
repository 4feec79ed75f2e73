//! The collector's configuration: what the user wrote ([`CollectorConfig`], TOML, every key
//! checked) and what a run uses ([`Settings`]). Local by default — loopback listeners, traces
//! kept in the store directory, nothing sent anywhere; forwarding to X-Ray only when the
//! `[forward]` table is present.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::sampling::{validate_rules, SamplingRuleConfig};
use crate::store::{StoreSettings, GENERATION_BYTES};

/// The daemon's address, for UDP and TCP alike.
pub const DEFAULT_ADDRESS: &str = "127.0.0.1:2000";
/// Bytes of documents the store keeps by default: a laptop's worth of development traces.
pub const DEFAULT_STORE_MB: u64 = 256;
/// How long the store keeps documents by default.
pub const DEFAULT_STORE_HOURS: u64 = 24;
/// Documents waiting for the store by default (the UDP reader drops the oldest beyond it).
pub const DEFAULT_QUEUE_DOCUMENTS: usize = 50_000;
/// Documents waiting for X-Ray by default (the spool drops new ones beyond it).
pub const DEFAULT_SPOOL_DOCUMENTS: usize = 100_000;
/// Bytes of documents waiting for the store by default.
pub const DEFAULT_QUEUE_MB: u64 = 64;
/// Bytes of documents waiting for X-Ray by default.
pub const DEFAULT_SPOOL_MB: u64 = 128;
/// The largest size limit taken (MiB), so byte counts cannot overflow.
const MAX_MB: u64 = 1 << 30;

/// The config file as written.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectorConfig {
    /// `host:port` for the daemon protocol's UDP datagrams; `""` turns it off.
    pub udp: Option<String>,
    /// `host:port` for the HTTP listener (sampling, X-Ray API, OTLP, health); `""` turns it off.
    pub http: Option<String>,
    /// A second `host:port` serving the same routes, for OTLP exporters' default
    /// (`127.0.0.1:4318`); off unless set.
    pub otlp_http: Option<String>,
    /// Where traces are kept; default: `<state dir>/traces`.
    pub store_dir: Option<PathBuf>,
    /// The agent's local log store, where the web page looks for a trace's log lines;
    /// default: `<state dir>/logs` (the agent's, with the same state directory).
    pub logs_store: Option<PathBuf>,
    /// The store's size limit in MiB (0: keep nothing locally, only forward).
    pub store_max_mb: Option<u64>,
    /// How long traces are kept, in hours.
    pub store_max_age_hours: Option<u64>,
    /// Documents waiting for the store before new ones are dropped.
    pub queue_documents: Option<usize>,
    /// MiB of documents waiting for the store before new ones are dropped.
    pub queue_max_mb: Option<u64>,
    /// Serve the X-Ray read API (service graph, summaries, traces) on an `http` address that is
    /// not loopback. Off: trace data stays readable from this machine only.
    pub read_api_public: Option<bool>,
    /// Publish per-service numbers each minute (namespace skywatch/Traces) to the local metrics
    /// store, or, inside the agent, wherever its metrics go. Default true.
    pub trace_metrics: Option<bool>,
    pub forward: Option<ForwardConfig>,
    /// Sampling rules served to SDKs when not forwarding (X-Ray's field names).
    #[serde(default)]
    pub sampling_rules: Vec<SamplingRuleConfig>,
}

/// `[forward]`: send everything to X-Ray too.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForwardConfig {
    /// Default: the SDK chain (AWS_REGION, profile, instance).
    pub region: Option<String>,
    /// A role to assume for X-Ray calls.
    pub role_arn: Option<String>,
    /// Documents held while X-Ray is unreachable before new ones are dropped.
    pub spool_documents: Option<usize>,
    /// MiB of documents held while X-Ray is unreachable.
    pub spool_max_mb: Option<u64>,
    /// How often the daemon's telemetry record goes to PutTelemetryRecords (default 60).
    pub telemetry_interval_secs: Option<u64>,
}

/// What a run uses.
#[derive(Debug, Clone)]
pub struct Settings {
    pub udp: Option<SocketAddr>,
    pub http: Option<SocketAddr>,
    /// A second listener with the same routes (OTLP's usual port).
    pub otlp_http: Option<SocketAddr>,
    pub store: StoreSettings,
    pub queue_documents: usize,
    pub queue_bytes: u64,
    pub read_api_public: bool,
    /// The local log store the page reads a trace's lines from.
    pub logs_dir: PathBuf,
    /// Where per-service metrics go when the collector runs on its own (the local metrics
    /// store); `None`: not published (inside the agent they go to its metric output instead).
    pub metrics_dir: Option<PathBuf>,
    pub forward: Option<Forward>,
    pub sampling_rules: Vec<SamplingRuleConfig>,
}

#[derive(Debug, Clone)]
pub struct Forward {
    pub region: Option<String>,
    pub role_arn: Option<String>,
    pub spool_documents: usize,
    pub spool_bytes: u64,
    pub telemetry_interval: Duration,
}

/// Reads and checks a config file; every problem at once, each naming its key.
pub fn load(path: &Path) -> Result<CollectorConfig, Vec<String>> {
    let text =
        std::fs::read_to_string(path).map_err(|e| vec![format!("cannot read {}: {e}", path.display())])?;
    let config: CollectorConfig = toml::from_str(&text)
        .map_err(|e| vec![format!("{}: {}", path.display(), e.to_string().trim_end())])?;
    Ok(config)
}

fn address(key: &str, value: Option<&str>, problems: &mut Vec<String>) -> Option<SocketAddr> {
    match value {
        Some("") => None,
        None => DEFAULT_ADDRESS.parse().ok(),
        Some(text) => {
            let parsed = text.parse().ok();
            if parsed.is_none() {
                problems.push(format!(
                    "{key}: {text:?} is not host:port (an IP address and a port)"
                ));
            }
            parsed
        }
    }
}

impl CollectorConfig {
    /// The settings of a run, `state_dir` giving the default store directory.
    pub fn resolve(&self, state_dir: &Path) -> Result<Settings, Vec<String>> {
        let mut problems = Vec::new();
        let udp = address("udp", self.udp.as_deref(), &mut problems);
        let http = address("http", self.http.as_deref(), &mut problems);
        let otlp_http = match self.otlp_http.as_deref() {
            None | Some("") => None,
            Some(text) => address("otlp_http", Some(text), &mut problems),
        };
        for rule in validate_rules(&self.sampling_rules) {
            problems.push(format!("sampling_rules: {rule}"));
        }
        if self.queue_documents == Some(0) {
            problems.push("queue_documents: must be at least 1".into());
        }
        let forward = self.forward.as_ref().map(|f| Forward {
            region: f.region.clone(),
            role_arn: f.role_arn.clone(),
            spool_documents: f.spool_documents.unwrap_or(DEFAULT_SPOOL_DOCUMENTS).max(1),
            spool_bytes: f.spool_max_mb.unwrap_or(DEFAULT_SPOOL_MB).clamp(1, MAX_MB) << 20,
            telemetry_interval: f
                .telemetry_interval_secs
                .map_or(crate::forward::TELEMETRY_EVERY, |s| Duration::from_secs(s.max(1))),
        });
        let max_mb = self.store_max_mb.unwrap_or(DEFAULT_STORE_MB);
        for (key, value) in [
            ("store_max_mb", Some(max_mb)),
            ("queue_max_mb", self.queue_max_mb),
            (
                "forward.spool_max_mb",
                self.forward.as_ref().and_then(|f| f.spool_max_mb),
            ),
        ] {
            if value.is_some_and(|v| v > MAX_MB) {
                problems.push(format!("{key}: at most {MAX_MB}"));
            }
        }
        let max_hours = 24 * 366 * 10;
        if self.store_max_age_hours.is_some_and(|h| h == 0 || h > max_hours) {
            problems.push(format!("store_max_age_hours: 1 to {max_hours}"));
        }
        if max_mb == 0 && forward.is_none() {
            problems.push(
                "store_max_mb: 0 keeps nothing, and with no [forward] every trace would be lost".into(),
            );
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Settings {
            udp,
            http,
            otlp_http,
            store: StoreSettings {
                dir: Some(self.store_dir.clone().unwrap_or_else(|| state_dir.join("traces"))),
                max_bytes: max_mb << 20,
                max_age: Duration::from_secs(self.store_max_age_hours.unwrap_or(DEFAULT_STORE_HOURS) * 3600),
                generation_bytes: GENERATION_BYTES,
            },
            queue_documents: self.queue_documents.unwrap_or(DEFAULT_QUEUE_DOCUMENTS),
            queue_bytes: self.queue_max_mb.unwrap_or(DEFAULT_QUEUE_MB).clamp(1, MAX_MB) << 20,
            read_api_public: self.read_api_public.unwrap_or(false),
            metrics_dir: self
                .trace_metrics
                .unwrap_or(true)
                .then(|| skywatch_store::metrics_dir(state_dir)),
            logs_dir: self
                .logs_store
                .clone()
                .unwrap_or_else(|| skywatch_store::logs_dir(state_dir)),
            forward,
            sampling_rules: self.sampling_rules.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::CollectorConfig;

    #[test]
    fn the_defaults_are_local_and_on_loopback() {
        let settings = CollectorConfig::default()
            .resolve(std::path::Path::new("/s"))
            .unwrap();
        assert_eq!(settings.udp.unwrap().to_string(), "127.0.0.1:2000");
        assert_eq!(settings.http.unwrap().to_string(), "127.0.0.1:2000");
        assert!(settings.forward.is_none());
        assert_eq!(settings.store.dir.unwrap(), std::path::Path::new("/s/traces"));
    }

    #[test]
    fn the_packaged_config_loads() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../packaging/collector.toml");
        let settings = super::load(&path)
            .unwrap()
            .resolve(std::path::Path::new("/s"))
            .unwrap();
        assert_eq!(settings.http.unwrap().to_string(), "127.0.0.1:2000");
        assert!(settings.forward.is_none());
    }

    #[test]
    fn every_problem_is_named_with_its_key() {
        let config: CollectorConfig = toml::from_str(
            "udp = \"localhost\"\nstore_max_mb = 0\n[[sampling_rules]]\nRuleName = \"r\"\nPriority = 0\nFixedRate = 2.0\nReservoirSize = 1\n",
        )
        .unwrap();
        let problems = config.resolve(std::path::Path::new("/s")).unwrap_err();
        assert!(problems[0].starts_with("udp: \"localhost\""), "{problems:?}");
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("sampling_rules: ") && p.contains("Priority")),
            "{problems:?}"
        );
        assert!(
            problems.iter().any(|p| p.starts_with("store_max_mb")),
            "{problems:?}"
        );
        let unknown = toml::from_str::<CollectorConfig>("udpp = \"x\"")
            .unwrap_err()
            .to_string();
        assert!(unknown.contains("udpp"), "{unknown}");
    }
}

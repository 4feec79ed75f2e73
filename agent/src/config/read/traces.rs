//! The `traces` section: the trace collector (`skywatch collector`) run by the agent. Our TOML's
//! `[traces]` takes the collector's own keys and is read with the collector's own type, so the
//! two never drift. The CloudWatch agent's `traces` section (the X-Ray daemon's UDP and TCP
//! endpoints, an OTLP receiver, everything sent to X-Ray) is mapped onto those keys, and each
//! key without a counterpart is named with the reason.

use std::net::SocketAddr;
use std::path::Path;

use serde_json::{Map, Value};
use skywatch_collector::config::{CollectorConfig, DEFAULT_ADDRESS};

use super::{join, Reader};
use crate::config::{Format, TracesConfig};

/// Where the CloudWatch agent listens for OTLP/HTTP unless told otherwise.
const DEFAULT_OTLP_HTTP: &str = "127.0.0.1:4318";

/// Keys of the CloudWatch agent's `traces` section accepted without effect, and why.
const IGNORED: &[(&str, &str)] = &[
    (
        "concurrency",
        "the collector sends up to 8 batches to X-Ray at once (fixed)",
    ),
    (
        "buffer_size_mb",
        "what waits for X-Ray is bounded by the collector's own limits ([traces.forward] in skywatch TOML), and what they drop is counted",
    ),
    (
        "local_mode",
        "the instance metadata is asked for the region only when none is configured, and briefly (AWS_EC2_METADATA_DISABLED=true turns it off)",
    ),
    ("insecure", "X-Ray's TLS certificate is always verified"),
    (
        "proxy_override",
        "X-Ray is called directly; there is no proxy setting",
    ),
    (
        "endpoint_override",
        "set AWS_ENDPOINT_URL_XRAY in the service's environment instead",
    ),
    (
        "resource_arn",
        "telemetry records are sent without a resource ARN",
    ),
    (
        "transit_spans_in_otlp_format",
        "documents are sent to X-Ray as segment documents (PutTraceSegments)",
    ),
];

/// Keys of an OTLP receiver accepted without effect, and why.
const OTLP_IGNORED: &[(&str, &str)] = &[
    ("service.name", "entity metadata is not sent"),
    ("deployment.environment", "entity metadata is not sent"),
];

impl Reader {
    /// Reads the `traces` section.
    pub(super) fn traces(&mut self, value: &Value) -> Option<TracesConfig> {
        let map = self.object(value, "traces")?;
        let table = match self.format {
            Format::Toml => map.clone(),
            Format::CloudWatchJson => {
                let errors = self.errors.len();
                let table = self.cloudwatch_traces(map)?;
                // Said once, at the JSON key: not again at the collector key it maps to.
                if self.errors.len() > errors {
                    return None;
                }
                table
            }
        };
        self.collector_table(table)
    }

    /// Collector keys read with the collector's type, then checked as its start checks them.
    fn collector_table(&mut self, table: Map<String, Value>) -> Option<TracesConfig> {
        let collector: CollectorConfig = match serde_path_to_error::deserialize(Value::Object(table.clone()))
        {
            Ok(collector) => collector,
            Err(e) => {
                let at = e.path().to_string();
                let path = if at == "." {
                    "traces".to_string()
                } else {
                    join("traces", &at)
                };
                self.error(&path, e.into_inner().to_string());
                return None;
            }
        };
        // The state directory only names the default store directory, which is not looked at.
        if let Err(problems) = collector.resolve(Path::new("")) {
            // Each problem starts with the collector's key: `udp: "x" is not host:port`.
            for problem in problems {
                match problem.split_once(": ") {
                    Some((key, why)) if !key.contains(' ') => self.error(&join("traces", key), why),
                    _ => self.error("traces", problem),
                }
            }
            return None;
        }
        Some(TracesConfig { collector, table })
    }

    /// The CloudWatch agent's `traces` as collector keys: `xray.bind_address` is the daemon
    /// protocol's UDP address, `xray.tcp_proxy.bind_address` the HTTP listener (sampling and the
    /// X-Ray API), `otlp.http_endpoint` the OTLP/HTTP listener; and everything goes to X-Ray, as
    /// with the CloudWatch agent (kept in the local store too).
    fn cloudwatch_traces(&mut self, map: &Map<String, Value>) -> Option<Map<String, Value>> {
        self.check_keys(
            map,
            "traces",
            &["traces_collected", "region_override", "credentials"],
            IGNORED,
            &[],
        );
        let mut forward = Map::new();
        if let Some(v) = map.get("region_override") {
            if let Some(region) = self.string(v, "traces.region_override") {
                forward.insert("region".into(), Value::String(region));
            }
        }
        if let Some(v) = map.get("credentials") {
            if let Some(arn) = self.credentials(v, "traces.credentials") {
                forward.insert("role_arn".into(), Value::String(arn));
            }
        }
        let at = "traces.traces_collected";
        let Some(collected) = map.get("traces_collected") else {
            self.error(at, "required: the receivers to run (xray, otlp)");
            return None;
        };
        let collected = self.object(collected, at)?;
        self.check_keys(
            collected,
            at,
            &["xray", "otlp"],
            &[],
            &["app_signals", "application_signals"],
        );
        let (xray, otlp) = (collected.get("xray"), collected.get("otlp"));
        if xray.is_none() && otlp.is_none() {
            self.error(
                at,
                "no receiver: add xray (the X-Ray daemon's UDP and TCP endpoints) or otlp (OTLP/HTTP)",
            );
            return None;
        }
        // Without `xray`, no daemon endpoints: the collector's listeners are off.
        let (mut udp, mut http) = (String::new(), String::new());
        if let Some(xray) = xray {
            let xray_at = join(at, "xray");
            let xray = self.object(xray, &xray_at)?;
            self.check_keys(xray, &xray_at, &["bind_address", "tcp_proxy"], &[], &[]);
            udp = self.bind_address(
                xray.get("bind_address"),
                &join(&xray_at, "bind_address"),
                DEFAULT_ADDRESS,
            );
            let proxy_at = join(&xray_at, "tcp_proxy");
            http = match xray.get("tcp_proxy") {
                Some(proxy) => {
                    let proxy = self.object(proxy, &proxy_at)?;
                    self.check_keys(proxy, &proxy_at, &["bind_address"], &[], &[]);
                    self.bind_address(
                        proxy.get("bind_address"),
                        &join(&proxy_at, "bind_address"),
                        DEFAULT_ADDRESS,
                    )
                }
                None => DEFAULT_ADDRESS.to_string(),
            };
        }
        let otlp_http = match otlp {
            Some(otlp) => Some(self.otlp(otlp, &join(at, "otlp"))?),
            None => None,
        };
        let mut table = Map::new();
        table.insert("udp".into(), Value::String(udp));
        // The HTTP listener serves OTLP too: an OTLP address equal to it needs no second one.
        if let Some(otlp_http) = otlp_http.filter(|a| *a != http) {
            table.insert("otlp_http".into(), Value::String(otlp_http));
        }
        table.insert("http".into(), Value::String(http));
        table.insert("forward".into(), Value::Object(forward));
        Some(table)
    }

    /// An OTLP receiver (one, or a list of one): its OTLP/HTTP address.
    fn otlp(&mut self, value: &Value, path: &str) -> Option<String> {
        let (entry, at) = match value {
            Value::Array(entries) => {
                if entries.len() > 1 {
                    self.error(
                        &format!("{path}[1]"),
                        "the collector takes OTLP/HTTP on one address: list one receiver",
                    );
                }
                let Some(first) = entries.first() else {
                    self.error(path, "an empty list runs no receiver; list one");
                    return None;
                };
                (first, format!("{path}[0]"))
            }
            other => (other, path.to_string()),
        };
        let map = self.object(entry, &at)?;
        self.check_keys(
            map,
            &at,
            &["http_endpoint", "grpc_endpoint"],
            OTLP_IGNORED,
            &["tls"],
        );
        // The CloudWatch agent listens for OTLP/gRPC too, on 127.0.0.1:4317 unless told.
        match map.get("grpc_endpoint") {
            Some(_) => self.warn(
                &join(&at, "grpc_endpoint"),
                "OTLP/gRPC is not served: point the exporter at http_endpoint (OTLP/HTTP, the same data)",
            ),
            None => self.warn(
                &at,
                "OTLP/gRPC (the CloudWatch agent's 127.0.0.1:4317) is not served: point exporters at http_endpoint (OTLP/HTTP, the same data)",
            ),
        }
        Some(self.bind_address(
            map.get("http_endpoint"),
            &join(&at, "http_endpoint"),
            DEFAULT_OTLP_HTTP,
        ))
    }

    /// An address to listen on (`default` when the key is absent); the CloudWatch agent's
    /// `:2000` means every interface.
    fn bind_address(&mut self, value: Option<&Value>, path: &str, default: &str) -> String {
        let Some(value) = value else {
            return default.to_string();
        };
        let Some(text) = self.string(value, path) else {
            return String::new();
        };
        let text = if text.starts_with(':') {
            format!("0.0.0.0{text}")
        } else {
            text
        };
        if text.parse::<SocketAddr>().is_err() {
            self.error(
                path,
                format!("expected an IP address and port such as \"{default}\", found {text:?}"),
            );
        }
        text
    }
}

//! A dashboard from a service graph (GetServiceGraph's `Services`, from a file or a running
//! collector): per service a row with requests, latency p50/p99 and fault/error/throttle rates,
//! and an alarm status widget on top.
//!
//! X-Ray publishes no per-service CloudWatch metrics, so the graphs read the namespace
//! [`NAMESPACE`], which our collector publishes each minute (collector/src/trace_metrics.rs):
//! dimensions `Service` and `Type` (left out when the node has no type), metrics `Requests`,
//! `Faults`, `Errors`, `Throttles` (counts, graphed with Sum) and `LatencyP50`, `LatencyP99`
//! (milliseconds per minute, graphed with Maximum). Client nodes are left out (they are the callers, not services);
//! instrumented services (State "active") come first, nodes inferred from their callers'
//! subsegments (AWS resources, remote hosts, databases) follow as a second group.

use serde_json::Value;

use super::limits::MAX_ALARMS_PER_WIDGET;
use super::model::{
    AlarmWidget, Dashboard, MetricRow, MetricWidget, RenderOptions, TextWidget, Widget, WidgetKind,
};
use super::problem::{Problem, Problems};

/// Where the collector publishes per-service trace metrics.
pub const NAMESPACE: &str = "skywatch/Traces";

/// What `generate` needs besides the graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerateOptions {
    pub region: String,
    /// For alarm ARNs named by convention (`arn:aws:cloudwatch:REGION:ACCOUNT:alarm:SERVICE-faults`).
    pub account: Option<String>,
    /// Alarm ARNs for the status widget; when empty, one per instrumented service by convention.
    pub alarms: Vec<String>,
}

impl GenerateOptions {
    /// From `--var region=…` (default us-east-1) and `--var account=…`; other names are refused.
    pub fn from_vars(vars: &[(String, String)], alarms: Vec<String>) -> Result<GenerateOptions, Problems> {
        let mut options = GenerateOptions {
            region: "us-east-1".to_string(),
            account: None,
            alarms,
        };
        let mut problems = Vec::new();
        for (name, value) in vars {
            match name.as_str() {
                "region" => options.region.clone_from(value),
                "account" => options.account = Some(value.clone()),
                other => problems.push(Problem::at(
                    "",
                    format!("--var {other}: generate knows the variables region and account"),
                )),
            }
        }
        if problems.is_empty() {
            Ok(options)
        } else {
            Err(Problems(problems))
        }
    }
}

/// One node of the graph worth a row.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Service {
    name: String,
    kind: String,
}

impl Service {
    fn label(&self) -> String {
        if self.kind.is_empty() {
            self.name.clone()
        } else {
            format!("{} ({})", self.name, self.kind)
        }
    }

    fn metric(&self, name: &str) -> MetricRow {
        let mut tokens = vec![
            NAMESPACE.to_string(),
            name.to_string(),
            "Service".to_string(),
            self.name.clone(),
        ];
        if !self.kind.is_empty() {
            tokens.extend(["Type".to_string(), self.kind.clone()]);
        }
        MetricRow {
            tokens,
            options: None,
        }
    }
}

/// The instrumented services and the inferred nodes of `graph`, each sorted by name and type.
fn services(graph: &Value) -> Result<(Vec<Service>, Vec<Service>), Problems> {
    let Some(list) = graph.get("Services").and_then(Value::as_array) else {
        return Err(Problems(vec![Problem::at(
            "/Services",
            "a service graph is a JSON object with a Services array (GetServiceGraph's answer)",
        )]));
    };
    let mut active = Vec::new();
    let mut inferred = Vec::new();
    for node in list {
        let name = node.get("Name").and_then(Value::as_str).unwrap_or_default();
        let kind = node.get("Type").and_then(Value::as_str).unwrap_or_default();
        if kind == "client" || name.is_empty() {
            continue;
        }
        let service = Service {
            name: name.to_string(),
            kind: kind.to_string(),
        };
        if node.get("State").and_then(Value::as_str) == Some("unknown") {
            inferred.push(service);
        } else {
            active.push(service);
        }
    }
    for group in [&mut active, &mut inferred] {
        group.sort();
        group.dedup();
    }
    Ok((active, inferred))
}

fn sized(kind: WidgetKind, width: u64, height: u64) -> Widget {
    Widget {
        x: None,
        y: None,
        width: Some(width),
        height: Some(height),
        kind,
    }
}

fn text(markdown: String, height: u64) -> Widget {
    sized(
        WidgetKind::Text(TextWidget {
            markdown,
            background: None,
        }),
        24,
        height,
    )
}

fn hidden(row: MetricRow, id: &str) -> MetricRow {
    row.with(RenderOptions {
        id: Some(id.to_string()),
        visible: Some(false),
        ..RenderOptions::default()
    })
}

fn service_row(service: &Service, region: &str) -> [Widget; 3] {
    let label = service.label();
    let graph = |title: String, metrics: Vec<MetricRow>, stat: &str| {
        sized(
            WidgetKind::Metric(MetricWidget {
                metrics,
                region: region.to_string(),
                stat: Some(stat.to_string()),
                period: Some(60),
                title: Some(title),
                ..MetricWidget::default()
            }),
            8,
            6,
        )
    };
    let requests = graph(
        format!("{label}: requests"),
        vec![service.metric("Requests")],
        "Sum",
    );
    let latency = graph(
        format!("{label}: latency (ms)"),
        // The collector publishes each minute's p50 and p99; over a longer period the graph
        // shows the worst minute's.
        vec![
            service.metric("LatencyP50").with(RenderOptions {
                label: Some("p50".to_string()),
                ..RenderOptions::default()
            }),
            service.metric("LatencyP99").with(RenderOptions {
                label: Some("p99".to_string()),
                ..RenderOptions::default()
            }),
        ],
        "Maximum",
    );
    let rates = graph(
        format!("{label}: faults, errors, throttles (%)"),
        vec![
            MetricRow::expression("100 * faults / requests", "fault_rate", "fault %"),
            MetricRow::expression("100 * errors / requests", "error_rate", "error %"),
            MetricRow::expression("100 * throttles / requests", "throttle_rate", "throttle %"),
            hidden(service.metric("Faults"), "faults"),
            hidden(service.metric("Errors"), "errors"),
            hidden(service.metric("Throttles"), "throttles"),
            hidden(service.metric("Requests"), "requests"),
        ],
        "Sum",
    );
    [requests, latency, rates]
}

/// The dashboard for `graph`.
pub fn generate(graph: &Value, options: &GenerateOptions) -> Result<Dashboard, Problems> {
    let (active, inferred) = services(graph)?;
    let mut widgets = vec![text(
        format!(
            "# Service map\n{} instrumented services, {} downstream nodes. Graphs read `{NAMESPACE}`, which the skywatch collector publishes (Service and Type dimensions).",
            active.len(),
            inferred.len()
        ),
        2,
    )];
    let alarms = if options.alarms.is_empty() && !active.is_empty() {
        let Some(account) = &options.account else {
            return Err(Problems(vec![Problem::at(
                "",
                "unknown variable ${account}: the alarm widget names one alarm per service (<service>-faults) in that account; give --var account=ID, or --alarm ARN",
            )]));
        };
        active
            .iter()
            .map(|s| {
                format!(
                    "arn:aws:cloudwatch:{}:{account}:alarm:{}-faults",
                    options.region, s.name
                )
            })
            .collect::<Vec<_>>()
    } else {
        options.alarms.clone()
    };
    let mut alarms = alarms;
    alarms.dedup();
    for (i, chunk) in alarms.chunks(MAX_ALARMS_PER_WIDGET).enumerate() {
        let title = if i == 0 {
            "Alarms".to_string()
        } else {
            format!("Alarms ({})", i + 1)
        };
        widgets.push(sized(
            WidgetKind::Alarm(AlarmWidget {
                alarms: chunk.to_vec(),
                title: Some(title),
                sort_by: None,
                states: None,
            }),
            24,
            3,
        ));
    }
    for (heading, group) in [
        ("## Instrumented services", &active),
        ("## Downstream (seen by their callers)", &inferred),
    ] {
        if group.is_empty() {
            continue;
        }
        widgets.push(text(heading.to_string(), 1));
        for service in group {
            widgets.extend(service_row(service, &options.region));
        }
    }
    Ok(Dashboard {
        widgets,
        ..Dashboard::default()
    })
}

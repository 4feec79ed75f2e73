//! The collector's own numbers, served on `/metrics`: what it received (by source), stored,
//! forwarded, and every document it did not keep or deliver, by reason. The daemon's telemetry
//! record (PutTelemetryRecords) is built from the same counters.

use skywatch_telemetry::{Counter, Desc, Family, Gauge, Registry};

pub const RECEIVED: Desc = Desc::counters_by(
    "skywatch_collector_received_total",
    "Datagrams, segment documents and spans received, by source (udp, tcp, otlp).",
    "source",
);
pub const REJECTED: Desc = Desc::counters_by(
    "skywatch_collector_rejected_total",
    "Datagrams and documents refused as malformed, by reason (the header problem or the segment error code).",
    "reason",
);
pub const DROPPED: Desc = Desc::counters_by(
    "skywatch_collector_dropped_total",
    "Well-formed documents lost, by reason (queue_full, spool_full, shutdown, store_error).",
    "reason",
);
pub const STORED: Desc = Desc::counter(
    "skywatch_collector_stored_total",
    "Segments and independent subsegments kept in the local store.",
);
pub const EVICTED: Desc = Desc::counters_by(
    "skywatch_collector_evicted_total",
    "Documents the local store let go to stay within its limits, by reason (age, size).",
    "reason",
);
pub const STORE_BYTES: Desc = Desc::gauge(
    "skywatch_collector_store_bytes",
    "Bytes of documents in the local store.",
);
pub const STORE_TRACES: Desc = Desc::gauge("skywatch_collector_store_traces", "Traces in the local store.");
pub const FORWARDED: Desc = Desc::counter(
    "skywatch_collector_forwarded_total",
    "Documents X-Ray accepted (PutTraceSegments).",
);
pub const FORWARD_REFUSED: Desc = Desc::counters_by(
    "skywatch_collector_forward_refused_total",
    "Documents X-Ray refused and that were not retried, by error code.",
    "code",
);
pub const FORWARD_ERRORS: Desc = Desc::counters_by(
    "skywatch_collector_forward_errors_total",
    "Failed PutTraceSegments attempts, by class (throttled, server, network, auth, final).",
    "class",
);
pub const FORWARD_NETWORK_ERRORS: Desc = Desc::counters_by(
    "skywatch_collector_forward_network_errors_total",
    "Failed PutTraceSegments attempts that never got an answer, by kind (timeout, refused, unknown_host, other).",
    "kind",
);
pub const SPOOL_DOCUMENTS: Desc = Desc::gauge(
    "skywatch_collector_spool_documents",
    "Documents waiting to be forwarded to X-Ray.",
);
pub const METRICS_PUBLISHED: Desc = Desc::counter(
    "skywatch_collector_trace_metrics_published_total",
    "Per-service datums (skywatch/Traces) handed to the metrics store or the agent.",
);
pub const METRICS_UNPUBLISHED: Desc = Desc::counter(
    "skywatch_collector_trace_metrics_unpublished_total",
    "Per-service datums (skywatch/Traces) that could not be written or handed over.",
);

/// Every handle the collector's parts count with.
#[derive(Debug, Clone)]
pub struct Counters {
    pub received: Family<&'static str>,
    pub rejected: Family<String>,
    pub dropped: Family<&'static str>,
    pub stored: Counter,
    pub evicted: Family<&'static str>,
    pub store_bytes: Gauge,
    pub store_traces: Gauge,
    pub forwarded: Counter,
    pub forward_refused: Family<String>,
    pub forward_errors: Family<&'static str>,
    pub forward_network_errors: Family<&'static str>,
    pub spool_documents: Gauge,
    pub metrics_published: Counter,
    pub metrics_unpublished: Counter,
}

impl Counters {
    pub fn register(registry: &Registry) -> Counters {
        Counters {
            received: registry.family(RECEIVED),
            rejected: registry.family(REJECTED),
            dropped: registry.family(DROPPED),
            stored: registry.counter(STORED),
            evicted: registry.family(EVICTED),
            store_bytes: registry.gauge(STORE_BYTES),
            store_traces: registry.gauge(STORE_TRACES),
            forwarded: registry.counter(FORWARDED),
            forward_refused: registry.family(FORWARD_REFUSED),
            forward_errors: registry.family(FORWARD_ERRORS),
            forward_network_errors: registry.family(FORWARD_NETWORK_ERRORS),
            spool_documents: registry.gauge(SPOOL_DOCUMENTS),
            metrics_published: registry.counter(METRICS_PUBLISHED),
            metrics_unpublished: registry.counter(METRICS_UNPUBLISHED),
        }
    }

    /// Every document lost or refused so far, by reason, for the shutdown report.
    pub fn losses(&self) -> Vec<String> {
        let mut out = Vec::new();
        let rows = [
            ("rejected", self.rejected.total()),
            ("dropped", self.dropped.total()),
            ("refused by X-Ray", self.forward_refused.total()),
        ];
        for (what, n) in rows {
            if n > 0 {
                out.push(format!("{n} {what}"));
            }
        }
        out
    }
}

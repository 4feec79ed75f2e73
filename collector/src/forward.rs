//! Forwarding to X-Ray, when configured: documents leave the spool in batches of at most
//! [`BATCH_DOCUMENTS`] for PutTraceSegments, up to [`CONCURRENT_SENDS`] batches at a time.
//! Unlike the daemon, nothing is dropped in silence: throttling, 5xx and network errors are
//! retried with backoff (the batch stays in hand meanwhile, and the spool — bounded, refusing
//! new documents with a counter when full — absorbs what keeps arriving); UnprocessedTraceSegments are sent
//! again when their error is transient and counted by code when not; what is still unsent at
//! the stop deadline is counted and reported. Every 60 s the daemon's telemetry record goes to
//! PutTelemetryRecords, as the X-Ray console expects.

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_xray::types::{BackendConnectionErrors, TelemetryRecord};
use skywatch_aws::{classify, ErrorClass, SendError};
use skywatch_delivery::{Outcome, Policy, Receipt, Retrying, Step, Subject};
use skywatch_runtime::{Journal, ShutdownSignal};
use tokio::sync::Semaphore;

use crate::ingest::{ByteBudget, Spool};
use crate::telemetry::Counters;

/// Documents per PutTraceSegments call (the limit X-Ray's exporters and the daemon keep to).
pub const BATCH_DOCUMENTS: usize = 50;
/// Batches in flight at once (the daemon's default concurrency).
pub const CONCURRENT_SENDS: usize = 8;
/// A partial batch waits at most this long for more documents (the daemon's idle flush).
pub const BATCH_WAIT: Duration = Duration::from_secs(1);
/// How often a telemetry record is sent by default (the daemon's period).
pub const TELEMETRY_EVERY: Duration = Duration::from_secs(60);

const POLICY: Policy = Policy::refusals_are_final();

/// Sends the spool's documents until shutdown, then what is left until the deadline.
pub async fn run(
    client: aws_sdk_xray::Client,
    spool: Arc<Spool>,
    spool_bytes: Arc<ByteBudget>,
    counters: Counters,
    journal: Journal,
    mut shutdown: ShutdownSignal,
) {
    let pop = || {
        let doc = spool.try_pop();
        if let Some(doc) = &doc {
            spool_bytes.give(doc.len());
        }
        doc
    };
    let slots = Arc::new(Semaphore::new(CONCURRENT_SENDS));
    let mut sends = tokio::task::JoinSet::new();
    loop {
        let first = tokio::select! {
            doc = spool.pop() => {
                if let Some(doc) = &doc {
                    spool_bytes.give(doc.len());
                }
                doc
            }
            () = shutdown.stopping() => pop(),
        };
        let Some(first) = first else {
            break;
        };
        let mut batch = vec![first];
        let wait_until = tokio::time::Instant::now() + BATCH_WAIT;
        while batch.len() < BATCH_DOCUMENTS {
            if let Some(doc) = pop() {
                batch.push(doc);
                continue;
            }
            if shutdown.is_stopping() {
                break;
            }
            match tokio::time::timeout_at(wait_until, spool.pop()).await {
                Ok(Some(doc)) => {
                    spool_bytes.give(doc.len());
                    batch.push(doc);
                }
                _ => break,
            }
        }
        let Ok(slot) = Arc::clone(&slots).acquire_owned().await else {
            break;
        };
        let (client, counters, journal, shutdown) =
            (client.clone(), counters.clone(), journal, shutdown.clone());
        sends.spawn(async move {
            send(&client, batch, &counters, &journal, &shutdown).await;
            drop(slot);
        });
        while sends.try_join_next().is_some() {}
    }
    while sends.join_next().await.is_some() {}
    let left = spool.len() as u64;
    if left > 0 {
        counters.dropped.add(&"shutdown", left);
        journal.log(format_args!(
            "stop deadline: {left} documents were not forwarded to X-Ray"
        ));
    }
}

/// One batch, until X-Ray has taken or refused every document or the deadline passes.
async fn send(
    client: &aws_sdk_xray::Client,
    mut pending: Vec<Arc<[u8]>>,
    counters: &Counters,
    journal: &Journal,
    shutdown: &ShutdownSignal,
) {
    let subject = Subject {
        what: format!("a batch of {} segment documents", pending.len()),
        from: "PutTraceSegments".into(),
        service: "X-Ray",
        items: "segment document(s)",
    };
    let mut retrying = Retrying::new(&subject, &POLICY, journal, shutdown);
    let outcome = loop {
        if !retrying.may_attempt() {
            break retrying.deadline_passed();
        }
        let Some(result) = retrying.attempt(put(client, &pending)).await else {
            break retrying.deadline_passed();
        };
        let result = result.map(|unprocessed| {
            let (retry, refused, accepted) = sort_unprocessed(&pending, &unprocessed);
            counters.forwarded.add(accepted);
            for (code, n) in &refused {
                counters.forward_refused.add(code, *n);
            }
            pending = retry;
            Receipt {
                accepted,
                refused,
                unprocessed: pending.len() as u64,
            }
        });
        let on_failure = |e: &SendError| {
            counters.forward_errors.add(&e.class().name(), 1);
            if e.class() == ErrorClass::Network {
                counters.forward_network_errors.add(&network_kind(e), 1);
            }
        };
        if let Step::Done(outcome) = retrying.after(result, on_failure).await {
            break outcome;
        }
    };
    match outcome {
        Outcome::Delivered { .. } => {}
        Outcome::Refused(e) => {
            counters
                .forward_refused
                .add(&e.kind().to_string(), pending.len() as u64);
            journal.log(format_args!(
                "X-Ray refused {} segment documents ({}): {}",
                pending.len(),
                e.kind(),
                e.message()
            ));
        }
        Outcome::DeadlinePassed { .. } => {
            counters.dropped.add(&"shutdown", pending.len() as u64);
            journal.log(format_args!(
                "stop deadline: {} segment documents were not forwarded to X-Ray",
                pending.len()
            ));
        }
    }
}

/// X-Ray's answer for documents it did not take: (id, error code).
type Unprocessed = Vec<(Option<String>, String)>;
/// Documents to send again, (error code, count) of those refused for good, and how many
/// were accepted.
type Sorted = (Vec<Arc<[u8]>>, Vec<(String, u64)>, u64);

async fn put(client: &aws_sdk_xray::Client, docs: &[Arc<[u8]>]) -> Result<Unprocessed, SendError> {
    let documents: Vec<String> = docs
        .iter()
        .map(|d| String::from_utf8_lossy(d).into_owned())
        .collect();
    let output = client
        .put_trace_segments()
        .set_trace_segment_documents(Some(documents))
        .send()
        .await
        .map_err(|e| classify(&e))?;
    Ok(output
        .unprocessed_trace_segments()
        .iter()
        .map(|u| {
            (
                u.id().map(str::to_string),
                u.error_code().unwrap_or("Unknown").to_string(),
            )
        })
        .collect())
}

/// Splits X-Ray's unprocessed documents into those to send again (their error is transient)
/// and those refused for good, counted by code, and says how many were accepted. Each entry
/// is matched to one document by id (the latest unmatched one: a batch may hold an in-progress
/// copy and then the complete one); an entry that matches none is counted as refused and taken
/// off the accepted count.
fn sort_unprocessed(pending: &[Arc<[u8]>], unprocessed: &Unprocessed) -> Sorted {
    let ids: Vec<Option<String>> = pending.iter().map(|d| document_id(d)).collect();
    let mut used = vec![false; pending.len()];
    let mut retry = Vec::new();
    let mut refused: Vec<(String, u64)> = Vec::new();
    let mut unmatched = 0usize;
    let mut refuse = |code: &str| match refused.iter_mut().find(|(c, _)| c == code) {
        Some((_, n)) => *n += 1,
        None => refused.push((code.to_string(), 1)),
    };
    for (id, code) in unprocessed {
        let index = id.as_deref().and_then(|id| {
            (0..pending.len())
                .rev()
                .find(|&i| !used[i] && ids[i].as_deref() == Some(id))
        });
        if let Some(i) = index {
            used[i] = true;
            if is_transient(code) {
                retry.push(Arc::clone(&pending[i]));
                continue;
            }
        } else {
            unmatched += 1;
        }
        refuse(code);
    }
    let taken = used.iter().filter(|u| **u).count() + unmatched;
    let accepted = pending.len().saturating_sub(taken) as u64;
    (retry, refused, accepted)
}

fn document_id(doc: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Id {
        id: Option<String>,
    }
    serde_json::from_slice::<Id>(doc).ok()?.id
}

/// Whether an UnprocessedTraceSegment's error code says "try again".
fn is_transient(code: &str) -> bool {
    if let Ok(status) = code.parse::<u16>() {
        return status == 429 || status >= 500;
    }
    let lower = code.to_ascii_lowercase();
    ["throttl", "unavailable", "internal", "timeout"]
        .iter()
        .any(|word| lower.contains(word))
}

/// What kind of network failure `error` was, as the daemon's telemetry record splits them.
fn network_kind(error: &SendError) -> &'static str {
    let message = error.message().to_ascii_lowercase();
    if error.kind() == "timeout" || message.contains("timed out") || message.contains("timeout") {
        "timeout"
    } else if message.contains("connection refused") {
        "refused"
    } else if message.contains("dns") || message.contains("lookup") || message.contains("resolve") {
        "unknown_host"
    } else {
        "other"
    }
}

/// The daemon's counters as of the last record, to send differences.
#[derive(Debug, Default, Clone, Copy)]
struct Sent {
    received: u64,
    forwarded: u64,
    spilled: u64,
    rejected: u64,
    timeouts: u64,
    refused: u64,
    http_4xx: u64,
    http_5xx: u64,
    unknown_host: u64,
    other: u64,
}

impl Sent {
    fn now(counters: &Counters) -> Sent {
        let errors = |class: ErrorClass| counters.forward_errors.get(&class.name());
        Sent {
            received: counters.received.get(&"udp")
                + counters.received.get(&"tcp")
                + counters.received.get(&"otlp"),
            forwarded: counters.forwarded.get(),
            spilled: counters.dropped.total(),
            rejected: counters.rejected.total() + counters.forward_refused.total(),
            timeouts: counters.forward_network_errors.get(&"timeout"),
            refused: counters.forward_network_errors.get(&"refused"),
            http_4xx: errors(ErrorClass::Auth) + errors(ErrorClass::Final),
            http_5xx: errors(ErrorClass::Server) + errors(ErrorClass::Throttled),
            unknown_host: counters.forward_network_errors.get(&"unknown_host"),
            other: counters.forward_network_errors.get(&"other"),
        }
    }
}

/// Sends a telemetry record every `every` ([`TELEMETRY_EVERY`] by default) once a segment has
/// been received; a failed record is logged once and its counts go with the next one.
pub async fn telemetry(
    every: Duration,
    client: aws_sdk_xray::Client,
    counters: Counters,
    journal: Journal,
    mut shutdown: ShutdownSignal,
) {
    let mut last = Sent::default();
    let mut failing = false;
    loop {
        shutdown.sleep(every).await;
        if shutdown.is_stopping() {
            return;
        }
        let now = Sent::now(&counters);
        if now.received == last.received && last.received == 0 {
            continue;
        }
        let diff = |a: u64, b: u64| i32::try_from(a.saturating_sub(b)).unwrap_or(i32::MAX);
        let record = TelemetryRecord::builder()
            .timestamp(aws_sdk_xray::primitives::DateTime::from_millis(
                skywatch_runtime::clock::now_ms(),
            ))
            .segments_received_count(diff(now.received, last.received))
            .segments_sent_count(diff(now.forwarded, last.forwarded))
            .segments_spillover_count(diff(now.spilled, last.spilled))
            .segments_rejected_count(diff(now.rejected, last.rejected))
            .backend_connection_errors(
                BackendConnectionErrors::builder()
                    .timeout_count(diff(now.timeouts, last.timeouts))
                    .connection_refused_count(diff(now.refused, last.refused))
                    .http_code4_xx_count(diff(now.http_4xx, last.http_4xx))
                    .http_code5_xx_count(diff(now.http_5xx, last.http_5xx))
                    .unknown_host_count(diff(now.unknown_host, last.unknown_host))
                    .other_count(diff(now.other, last.other))
                    .build(),
            );
        let Ok(record) = record.build() else {
            continue;
        };
        let call = client
            .put_telemetry_records()
            .telemetry_records(record)
            .hostname(hostname())
            .send();
        // A stop does not wait for a record.
        let sent = tokio::select! {
            sent = call => sent,
            () = shutdown.stopping() => return,
        };
        match sent {
            Ok(_) => {
                last = now;
                if failing {
                    journal.log("PutTelemetryRecords works again");
                }
                failing = false;
            }
            Err(e) => {
                if !failing {
                    journal.log(format_args!("PutTelemetryRecords failed: {}", classify(&e)));
                }
                failing = true;
            }
        }
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().chars().take(255).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::{is_transient, sort_unprocessed};

    #[test]
    fn transient_unprocessed_documents_go_again_and_the_rest_are_counted_by_code() {
        let docs: Vec<Arc<[u8]>> = ["a1", "b2", "c3"]
            .iter()
            .map(|id| Arc::from(format!(r#"{{"id":"{id}","name":"x"}}"#).into_bytes()))
            .collect();
        let unprocessed = vec![
            (Some("a1".to_string()), "ThrottlingException".to_string()),
            (Some("b2".to_string()), "MissingParam".to_string()),
            (None, "MissingParam".to_string()),
        ];
        let (retry, refused, accepted) = sort_unprocessed(&docs, &unprocessed);
        assert_eq!(retry.len(), 1);
        assert_eq!(&*retry[0], &*docs[0]);
        assert_eq!(refused, vec![("MissingParam".to_string(), 2)]);
        assert_eq!(accepted, 0);
        assert!(is_transient("500") && is_transient("429") && !is_transient("400"));
        assert!(!is_transient("InvalidTraceId"));
    }

    #[test]
    fn two_copies_of_one_id_and_more_entries_than_documents_never_underflow() {
        let copy =
            |end: &str| -> Arc<[u8]> { Arc::from(format!(r#"{{"id":"a1","name":"x",{end}}}"#).into_bytes()) };
        let docs = vec![copy(r#""in_progress":true"#), copy(r#""end_time":2"#)];
        // One entry for the id: the later (complete) copy is sent again.
        let one = vec![(Some("a1".to_string()), "ThrottlingException".to_string())];
        let (retry, refused, accepted) = sort_unprocessed(&docs, &one);
        assert_eq!(&*retry[0], &*docs[1]);
        assert!(refused.is_empty());
        assert_eq!(accepted, 1);
        // More entries than documents, some with no id: counted, nothing overflows.
        let many: Vec<(Option<String>, String)> = (0..5)
            .map(|i| {
                (
                    if i % 2 == 0 { Some("a1".to_string()) } else { None },
                    "400".to_string(),
                )
            })
            .collect();
        let (retry, refused, accepted) = sort_unprocessed(&docs, &many);
        assert!(retry.is_empty());
        assert_eq!(refused, vec![("400".to_string(), 5)]);
        assert_eq!(accepted, 0);
    }
}

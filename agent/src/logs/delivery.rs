//! The sending side of log shipping: takes batches from the [`Outbox`] oldest first and delivers
//! each to CloudWatch Logs or the local store, retrying throttling, server and network errors
//! with backoff and jitter for as long as it takes (until the stop deadline, when a stopping
//! agent leaves the rest to be read again at the next start). Every event of a delivered batch
//! is acknowledged back to the reader — accepted, or refused for good with the reason counted
//! and logged.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use skywatch_aws::{ErrorClass, SendError};
use skywatch_delivery::{Outcome, Policy, Receipt, Retrying, Step, Subject, DEFAULT_BACKOFF};
use skywatch_runtime::ShutdownSignal;
use skywatch_store::LocalLogStore;
use tokio::sync::{watch, Notify};

use super::outbox::{Batch, Outbox};
use super::wake::Nudge;
use super::AckToken;
use crate::daemon::JOURNAL;
use crate::journal::{log, now_ms};
use crate::sinks::cloudwatch_logs::CloudWatchLogsSink;
use crate::telemetry::{LogOutcome, Telemetry};

/// The local log store's bounds: events older than this go (CloudWatch Logs refuses events
/// older than 14 days too)...
pub const STORE_MAX_AGE: Duration = Duration::from_secs(14 * 24 * 3600);
/// ...and then the oldest chunks while the store is larger than this.
pub const STORE_MAX_BYTES: u64 = 1 << 30;
/// How often the local log store is pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// Error kinds that say the batch itself can never be taken: its events are counted as
/// rejected and acknowledged. Every other error — throttling, server errors, permissions,
/// credentials, a group being created concurrently — is retried until it goes away.
const FINAL_KINDS: &[&str] = &["InvalidParameterException", "DataAlreadyAcceptedException"];

const POLICY: Policy = Policy {
    backoff: DEFAULT_BACKOFF,
    is_final: |e| matches!(e, SendError::Rejected { kind, .. } if FINAL_KINDS.contains(&kind.as_str())),
};

/// Where log events go.
pub enum LogTarget {
    CloudWatch {
        sink: CloudWatchLogsSink,
        /// Groups and their retention (days) to set once.
        retention: Vec<(String, i32)>,
    },
    Local(Arc<LocalLogStore>),
}

/// `auto` on the local store: CloudWatch Logs once AWS can be reached.
pub struct Upgrade {
    pub reachable: watch::Receiver<Option<aws_config::SdkConfig>>,
    pub endpoint_override: Option<String>,
    /// `log_group_class` of groups the agent creates.
    pub classes: Vec<(String, String)>,
    /// Groups and their retention (days) to set once.
    pub retention: Vec<(String, i32)>,
    pub status: crate::daemon::OutputStatus,
    /// Told when the events go to CloudWatch Logs (the reader then applies its window and
    /// leaves EMF lines to it).
    pub on_cloudwatch: Option<Arc<AtomicBool>>,
}

/// The CloudWatch Logs target.
pub fn cloudwatch_target(
    sdk: &aws_config::SdkConfig,
    endpoint_override: Option<&str>,
    classes: &[(String, String)],
    retention: Vec<(String, i32)>,
) -> LogTarget {
    let mut sink = CloudWatchLogsSink::new(sdk, endpoint_override);
    for (group, class) in classes {
        sink.set_group_class(group, class);
    }
    LogTarget::CloudWatch { sink, retention }
}

/// What the sender shares with the reader.
#[derive(Clone)]
pub struct Shared {
    pub outbox: Arc<Mutex<Outbox>>,
    /// Wakes the sender when a batch is queued (or the reader is done).
    pub queued: Arc<Notify>,
    /// The reader has queued its last batch.
    pub closed: Arc<AtomicBool>,
    pub acks: mpsc::Sender<Vec<AckToken>>,
    /// Wakes the reader (room in the outbox, acknowledgements to apply).
    pub nudge: Nudge,
    /// Set while deliveries fail: the reader may then spill batches to the spool.
    pub stalled: Arc<AtomicBool>,
    pub telemetry: Arc<Telemetry>,
    /// When stopping: give up what is not delivered by its deadline.
    pub shutdown: ShutdownSignal,
}

/// Sends until the reader is done and the outbox is empty (or the stop deadline passes).
pub async fn run(mut target: LogTarget, shared: Shared, mut upgrade: Option<Upgrade>) {
    let mut retention_done: HashSet<String> = HashSet::new();
    let mut next_prune = Instant::now();
    let mut shutdown = shared.shutdown.clone();
    loop {
        // Read before looking at the queue: a batch queued after an empty look is then seen
        // at the next look.
        let closed = shared.closed.load(Ordering::Acquire);
        let next = {
            // A reader that panicked holding the outbox leaves its batches whole: keep sending.
            let mut outbox = shared.outbox.lock().unwrap_or_else(PoisonError::into_inner);
            let next = outbox.pop();
            shared.telemetry.log_batches_queued.set(outbox.len() as u64);
            shared.telemetry.log_spool_bytes.set(outbox.spooled_bytes());
            next
        };
        if let Some(sdk) = upgrade.as_ref().and_then(|u| u.reachable.borrow().clone()) {
            if let Some(u) = upgrade.take() {
                let region = sdk.region().map_or("(no region)", |r| r.as_ref()).to_string();
                log(format_args!(
                    "AWS can be reached now: log events go to CloudWatch Logs in {region} from here on (those already in the local store stay there)"
                ));
                u.status.set("logs", format!("CloudWatch Logs in {region}"));
                if let Some(flag) = &u.on_cloudwatch {
                    flag.store(true, Ordering::Release);
                }
                target = cloudwatch_target(&sdk, u.endpoint_override.as_deref(), &u.classes, u.retention);
            }
        }
        let batch = match next {
            Ok(Some(batch)) => {
                shared.nudge.nudge();
                batch
            }
            Ok(None) => {
                if closed {
                    return;
                }
                tokio::select! {
                    () = shared.queued.notified() => {}
                    // Wake at a stop too, to see whether the reader is done.
                    () = shutdown.sleep(Duration::from_secs(1)) => {}
                }
                continue;
            }
            Err(e) => {
                log(format_args!(
                    "a spooled batch cannot be read back ({e}): its files are read again from their checkpoints at the next start"
                ));
                shared.telemetry.api_error("spool_unreadable");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        match &mut target {
            LogTarget::CloudWatch { sink, retention } => {
                set_retention(sink, retention, &batch.group, &mut retention_done).await;
            }
            LogTarget::Local(store) => {
                if Instant::now() >= next_prune {
                    prune(store);
                    next_prune = Instant::now() + PRUNE_EVERY;
                }
            }
        }
        if !deliver(&target, batch, &shared).await {
            // Stop deadline: what is left is read again from the files at the next start.
            return;
        }
    }
}

fn prune(store: &LocalLogStore) {
    let max_age_ms = i64::try_from(STORE_MAX_AGE.as_millis()).unwrap_or(i64::MAX);
    match store.prune(STORE_MAX_BYTES, max_age_ms, now_ms()) {
        Ok(0) => {}
        Ok(n) => log(format_args!("local log store: {n} old chunk(s) removed")),
        Err(e) => log(format_args!("cannot prune the local log store: {e}")),
    }
}

async fn set_retention(
    sink: &mut CloudWatchLogsSink,
    retention: &[(String, i32)],
    group: &str,
    done: &mut HashSet<String>,
) {
    if done.contains(group) {
        return;
    }
    let Some((_, days)) = retention.iter().find(|(g, _)| g == group) else {
        done.insert(group.to_string());
        return;
    };
    match sink.ensure_retention(group, *days).await {
        Ok(()) => {
            done.insert(group.to_string());
            log(format_args!("log group {group}: retention set to {days} days"));
        }
        // Tried again with the group's next batch.
        Err(e) => log(format_args!("log group {group}: cannot set the retention: {e}")),
    }
}

/// Delivers one batch, retrying as long as needed; false if the stop deadline came first.
async fn deliver(target: &LogTarget, mut batch: Batch, shared: &Shared) -> bool {
    let n = batch.events.len() as u64;
    let subject = Subject {
        what: format!("{}/{}: delivery", batch.group, batch.stream),
        from: format!("{}/{}", batch.group, batch.stream),
        service: "CloudWatch Logs",
        items: "event(s)",
    };
    let telemetry = &shared.telemetry;
    let on_failure = |e: &SendError| {
        // Counted per attempt.
        telemetry.api_error(e.kind());
        if !(POLICY.is_final)(e) {
            // Deliveries fail: the reader may now spill batches to the spool.
            shared.stalled.store(true, Ordering::Release);
        }
    };
    let mut retrying = Retrying::new(&subject, &POLICY, &JOURNAL, &shared.shutdown);
    let outcome = loop {
        if !retrying.may_attempt() {
            break retrying.deadline_passed();
        }
        let attempt = send_once(target, &mut batch, telemetry);
        let Some(result) = retrying.attempt(attempt).await else {
            break retrying.deadline_passed();
        };
        // The local store's write task panicked and took the batch with it: its files are read
        // again from their checkpoints at the next start (nothing acknowledged).
        let Some(result) = result else {
            log("writing a batch to the local store failed unexpectedly");
            return true;
        };
        if let Step::Done(outcome) = retrying.after(result, on_failure).await {
            break outcome;
        }
    };
    match outcome {
        Outcome::Delivered { .. } => {
            acknowledge(&batch, shared);
            true
        }
        Outcome::Refused(e) => {
            telemetry.log_events(LogOutcome::Rejected, n);
            log(format_args!(
                "{}/{}: PutLogEvents refused {n} event(s) for good ({}): {}",
                batch.group,
                batch.stream,
                e.kind(),
                e.message()
            ));
            acknowledge(&batch, shared);
            true
        }
        Outcome::DeadlinePassed { .. } => {
            // (The batch may have gone to a write cut short: name it by the subject.)
            log(format_args!(
                "stop timeout: {n} event(s) of {} not delivered; they are read again at the next start",
                subject.from
            ));
            false
        }
    }
}

/// One attempt at delivering `batch`, counting what the backend took or refused; `None` if
/// the local store's write task panicked (the batch went with it).
async fn send_once(
    target: &LogTarget,
    batch: &mut Batch,
    telemetry: &Telemetry,
) -> Option<Result<Receipt, SendError>> {
    let n = batch.events.len() as u64;
    match target {
        LogTarget::CloudWatch { sink, .. } => {
            let info = match sink.put(&batch.group, &batch.stream, &batch.events).await {
                Ok(info) => info,
                Err(e) => return Some(Err(e)),
            };
            let outcome = info.outcome(batch.events.len());
            telemetry.log_events(LogOutcome::Sent, outcome.accepted as u64);
            let mut refused = Vec::new();
            for (reason, count) in [
                (LogOutcome::TooOld, outcome.too_old),
                (LogOutcome::Expired, outcome.expired),
                (LogOutcome::TooNew, outcome.too_new),
            ] {
                telemetry.log_events(reason, count as u64);
                refused.push((reason.name().to_string(), count as u64));
            }
            Some(Ok(Receipt {
                accepted: outcome.accepted as u64,
                refused,
                unprocessed: 0,
            }))
        }
        LogTarget::Local(store) => {
            // Compressing and syncing a chunk blocks: off the runtime's thread (the batch goes
            // along and comes back).
            let store = Arc::clone(store);
            let taken = std::mem::take(batch);
            let joined = tokio::task::spawn_blocking(move || {
                let events: Vec<(i64, &str)> = taken
                    .events
                    .iter()
                    .map(|e| (e.timestamp_ms, e.message.as_str()))
                    .collect();
                let written = store.append(&taken.group, &taken.stream, &events);
                (taken, written)
            })
            .await;
            let (taken, written) = joined.ok()?;
            *batch = taken;
            Some(
                written
                    .map(|()| {
                        telemetry.log_events(LogOutcome::Stored, n);
                        Receipt::all(n)
                    })
                    .map_err(|e| SendError::retry(ErrorClass::Server, "store_error", e.to_string())),
            )
        }
    }
}

fn acknowledge(batch: &Batch, shared: &Shared) {
    shared.stalled.store(false, Ordering::Release);
    let tokens = batch.events.iter().map(|e| e.token).collect();
    let _ = shared.acks.send(tokens);
    shared.nudge.nudge();
}

//! Where the agent's datums go: CloudWatch (a bounded buffer flushed every
//! `force_flush_interval` by a sending task that retries through the shared delivery loop), the
//! local metrics store (written at once), or nowhere when no metrics are collected.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use skywatch_aws::limits::MAX_DATUMS_PER_PUT;
use skywatch_aws::{SdkSettings, SendError};
use skywatch_delivery::{Outcome, Policy, Receipt, Subject};
use skywatch_runtime::clock::now_ms;
use skywatch_runtime::{shutdown_pair, ShutdownHandle, ShutdownSignal};
use skywatch_store::{LocalMetricStore, Retention};
use tokio::sync::{mpsc, oneshot};

use super::auto_output::{watch_for_aws, OutputStatus, Reachable};
use super::{AgentError, JOURNAL};
use crate::config::{AgentConfig, Destination, MetricsConfig};
use crate::metrics::datum::Datum;
use crate::sinks::buffer::{MetricBuffer, OutDatum};
use crate::sinks::cloudwatch::CloudWatchSink;
use crate::telemetry::{DropReason, Telemetry};

/// Datums the buffer holds before it drops the oldest: 100 requests' worth.
const BUFFER_CAPACITY: usize = 100 * MAX_DATUMS_PER_PUT;
const POLICY: Policy = Policy::refusals_are_final();

/// A request to send everything buffered; `done` answers when it is through.
struct Flush {
    done: Option<oneshot::Sender<()>>,
}

enum Sink {
    CloudWatch {
        buffer: Arc<Mutex<MetricBuffer>>,
        flushes: mpsc::Sender<Flush>,
        sender: tokio::task::JoinHandle<()>,
        shutdown: ShutdownHandle,
    },
    Local(LocalMetricStore),
    /// No metrics are collected (a config with logs only).
    Nowhere,
}

/// The datums' destination for this run.
pub(super) struct MetricOutput {
    sink: Sink,
    telemetry: Arc<Telemetry>,
    status: OutputStatus,
    /// `auto` on the local store: CloudWatch once AWS can be reached.
    upgrade: Option<Upgrade>,
    /// Where the alarm evaluator sees every datum, whatever the destination.
    tap: Option<skywatch_dashboards::alarms::daemon::Window>,
}

struct Upgrade {
    reachable: Reachable,
    namespace: String,
    endpoint_override: Option<String>,
}

/// The buffer even if a thread panicked while holding it: its datums are still there to send,
/// and dropping them because of an unrelated panic would lose them silently.
fn lock(buffer: &Mutex<MetricBuffer>) -> MutexGuard<'_, MetricBuffer> {
    buffer.lock().unwrap_or_else(PoisonError::into_inner)
}

impl MetricOutput {
    /// Chooses the output: the local store when configured or, with `auto`, when AWS cannot
    /// be reached; CloudWatch otherwise.
    pub(super) async fn open(
        config: &AgentConfig,
        metrics: &MetricsConfig,
        instance_region: Option<String>,
        state_dir: &std::path::Path,
        emf_wanted: bool,
        telemetry: Arc<Telemetry>,
        status: OutputStatus,
    ) -> Result<MetricOutput, AgentError> {
        let settings = SdkSettings {
            region: config.region.clone(),
            dual_stack: config.use_dualstack_endpoint,
            role_arn: metrics.role_arn.clone().or_else(|| config.role_arn.clone()),
            instance_region,
            ..SdkSettings::default()
        };
        let mut upgrade = None;
        let sink = if metrics.plugins.is_empty() && !emf_wanted {
            status.set("metrics", "none (no metrics plugins, no EMF files)".into());
            Sink::Nowhere
        } else {
            let local = || {
                let dir = skywatch_store::metrics_dir(state_dir);
                LocalMetricStore::open(&dir, Retention::default())
                    .map(Sink::Local)
                    .map_err(|e| {
                        AgentError::Startup(format!("cannot open the local store {}: {e}", dir.display()))
                    })
            };
            if config.output == Destination::Local {
                status.set(
                    "metrics",
                    format!(
                        "local store in {}",
                        skywatch_store::metrics_dir(state_dir).display()
                    ),
                );
                local()?
            } else {
                let sdk = skywatch_aws::sdk_config(settings.clone()).await;
                let reachable = match config.output {
                    Destination::Auto => skywatch_aws::can_reach_aws(&sdk).await,
                    _ => Ok(()),
                };
                if let Err(why) = reachable {
                    let dir = skywatch_store::metrics_dir(state_dir);
                    JOURNAL.log(format_args!(
                        "{why}: metrics go to the local store in {} (`skywatch metrics` shows them); looking for AWS again every {} s",
                        dir.display(),
                        config.auto_recheck_s
                    ));
                    status.set(
                        "metrics",
                        format!("local store in {} (auto: {why})", dir.display()),
                    );
                    upgrade = Some(Upgrade {
                        reachable: watch_for_aws(settings, Duration::from_secs(config.auto_recheck_s)),
                        namespace: metrics.namespace.clone(),
                        endpoint_override: metrics.endpoint_override.clone(),
                    });
                    local()?
                } else {
                    cloudwatch_sink(
                        &sdk,
                        &metrics.namespace,
                        metrics.endpoint_override.as_deref(),
                        &telemetry,
                        &status,
                    )
                }
            }
        };
        if let Sink::Local(store) = &sink {
            if let Err(e) = store.prune(now_ms()) {
                JOURNAL.log(format_args!("cannot prune the local store: {e}"));
            }
        }
        Ok(MetricOutput {
            sink,
            telemetry,
            status,
            upgrade,
            tap: None,
        })
    }

    /// `auto` on the local store: switches to CloudWatch once AWS can be reached.
    pub(super) fn upgrade_if_reachable(&mut self) {
        let Some(upgrade) = &self.upgrade else {
            return;
        };
        let Some(sdk) = upgrade.reachable.borrow().clone() else {
            return;
        };
        JOURNAL.log("AWS can be reached now: metrics go to CloudWatch from here on (those already in the local store stay there)");
        self.sink = cloudwatch_sink(
            &sdk,
            &upgrade.namespace,
            upgrade.endpoint_override.as_deref(),
            &self.telemetry,
            &self.status,
        );
        self.upgrade = None;
    }

    /// Shows every datum delivered from now on to the alarm evaluator too.
    pub(super) fn tap(&mut self, window: skywatch_dashboards::alarms::daemon::Window) {
        self.tap = Some(window);
    }

    /// Hands datums of `namespace` to the output.
    pub(super) fn deliver(&self, namespace: &str, datums: Vec<Datum>) {
        if let Some(tap) = &self.tap {
            tap.record(namespace, &datums);
        }
        let telemetry = &self.telemetry;
        match &self.sink {
            Sink::Local(store) => match store.append(namespace, &datums) {
                Ok(()) => telemetry.datums_stored.add(datums.len() as u64),
                Err(e) => {
                    telemetry.dropped(DropReason::StoreError, datums.len() as u64);
                    JOURNAL.log(format_args!("cannot write the local store: {e}"));
                }
            },
            Sink::CloudWatch { buffer, .. } => {
                let mut b = lock(buffer);
                for d in datums {
                    b.push_in(namespace, d);
                }
                telemetry.queue_depth.set(b.len() as u64);
                telemetry.set_dropped(DropReason::QueueFull, b.dropped());
                telemetry.set_dropped(DropReason::InvalidValue, b.rejected_values());
            }
            Sink::Nowhere => {
                // Not reached: without metrics plugins or EMF files nothing is collected (a
                // reload that adds plugins takes effect at the next start). Counted all the same.
                telemetry.dropped(DropReason::NoOutput, datums.len() as u64);
            }
        }
    }

    /// Whether the run has no metric output (a config with logs only).
    pub(super) fn is_nowhere(&self) -> bool {
        matches!(self.sink, Sink::Nowhere)
    }

    /// Sends what is buffered now and waits until the sender is through with it (within the
    /// sender's deadline, if one is set).
    pub(super) async fn flush_and_wait(&self) {
        if let Sink::CloudWatch { flushes, .. } = &self.sink {
            let (done_tx, done_rx) = oneshot::channel();
            if flushes.send(Flush { done: Some(done_tx) }).await.is_ok() {
                let _ = done_rx.await;
            }
        }
    }

    /// Datums waiting to be sent.
    pub(super) fn queued(&self) -> usize {
        match &self.sink {
            Sink::CloudWatch { buffer, .. } => lock(buffer).len(),
            _ => 0,
        }
    }

    /// The periodic flush: asks the sender to send what is buffered (or prunes the store).
    pub(super) fn flush_soon(&self) {
        match &self.sink {
            Sink::CloudWatch { flushes, .. } => {
                let _ = flushes.try_send(Flush { done: None });
            }
            Sink::Local(store) => {
                if let Err(e) = store.prune(now_ms()) {
                    JOURNAL.log(format_args!("cannot prune the local store: {e}"));
                }
            }
            Sink::Nowhere => {}
        }
    }

    /// Tells the sender to keep its retries within `deadline` from now on.
    pub(super) fn stop_by(&self, deadline: Instant) {
        if let Sink::CloudWatch { shutdown, .. } = &self.sink {
            shutdown.stop_by(deadline);
        }
    }

    /// Sends what is buffered by `deadline`, waits for it, and counts what is left as dropped
    /// at shutdown.
    pub(super) async fn finish(self, deadline: Instant) {
        let Sink::CloudWatch {
            buffer,
            flushes,
            sender,
            shutdown,
        } = self.sink
        else {
            return;
        };
        shutdown.stop_by(deadline);
        let (done_tx, done_rx) = oneshot::channel();
        if flushes.send(Flush { done: Some(done_tx) }).await.is_ok() {
            let _ = done_rx.await;
        }
        drop(flushes);
        let _ = sender.await;
        let left: u64 = lock(&buffer)
            .take_requests()
            .iter()
            .flatten()
            .map(OutDatum::sample_count)
            .sum();
        self.telemetry.dropped(DropReason::Shutdown, left);
    }
}

/// The CloudWatch sink with its buffer and sending task.
fn cloudwatch_sink(
    sdk: &aws_config::SdkConfig,
    namespace: &str,
    endpoint_override: Option<&str>,
    telemetry: &Arc<Telemetry>,
    status: &OutputStatus,
) -> Sink {
    let sink = CloudWatchSink::new(sdk, namespace, endpoint_override);
    let what = format!(
        "CloudWatch, namespace {} in {}",
        sink.namespace(),
        sdk.region().map_or("(no region)", |r| r.as_ref())
    );
    JOURNAL.log(format_args!("sending to {what}"));
    status.set("metrics", what);
    let buffer = Arc::new(Mutex::new(MetricBuffer::new(BUFFER_CAPACITY, namespace)));
    let (flushes, flush_rx) = mpsc::channel(4);
    let (shutdown, signal) = shutdown_pair();
    let sender = tokio::spawn(send_loop(
        sink,
        Arc::clone(&buffer),
        Arc::clone(telemetry),
        flush_rx,
        signal,
    ));
    Sink::CloudWatch {
        buffer,
        flushes,
        sender,
        shutdown,
    }
}

/// The sending task: on each flush, takes everything buffered and sends it request by request,
/// each until it is accepted, refused, or the stop deadline passes.
async fn send_loop(
    sink: CloudWatchSink,
    buffer: Arc<Mutex<MetricBuffer>>,
    telemetry: Arc<Telemetry>,
    mut flushes: mpsc::Receiver<Flush>,
    shutdown: ShutdownSignal,
) {
    while let Some(flush) = flushes.recv().await {
        let requests = {
            let mut b = lock(&buffer);
            let requests = b.take_requests();
            telemetry.queue_depth.set(0);
            requests
        };
        for request in requests {
            send_one(&sink, &request, &telemetry, &shutdown).await;
        }
        if let Some(done) = flush.done {
            let _ = done.send(());
        }
    }
}

async fn send_one(
    sink: &CloudWatchSink,
    request: &[OutDatum],
    telemetry: &Telemetry,
    shutdown: &ShutdownSignal,
) {
    let samples: u64 = request.iter().map(OutDatum::sample_count).sum();
    let subject = Subject {
        what: "PutMetricData".into(),
        from: "PutMetricData".into(),
        service: "CloudWatch",
        items: "datum(s)",
    };
    let outcome = skywatch_delivery::until_accepted(
        &subject,
        &POLICY,
        &JOURNAL,
        shutdown,
        |e: &SendError| telemetry.api_error(e.kind()),
        || async { sink.put(request).await.map(|()| Receipt::all(samples)) },
    )
    .await;
    match outcome {
        Outcome::Delivered { .. } => {
            telemetry.datums_sent.add(samples);
            telemetry.requests_sent.add(1);
        }
        Outcome::Refused(e) => {
            telemetry.dropped(DropReason::Rejected, samples);
            JOURNAL.log(format_args!(
                "PutMetricData rejected ({}): {}; {samples} datums dropped",
                e.kind(),
                e.message()
            ));
        }
        Outcome::DeadlinePassed { .. } => {
            telemetry.dropped(DropReason::Shutdown, samples);
            JOURNAL.log(format_args!("stop timeout: {samples} datums not sent"));
        }
    }
}

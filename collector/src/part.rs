//! The collector as a running part: listeners bound first (so a caller learns the ports, and a
//! port in use fails at start), then served under a [`PartContext`] until it says stop.
//!
//! Stopping goes from the inputs to the outputs: the UDP reader reads what the socket still
//! holds and stops, the HTTP listener answers the requests in hand and stops, what the receive
//! queue holds goes into the store, ingest closes (anything still arriving is counted as
//! dropped at shutdown) and the store is flushed, the spool closes and the forwarder sends what
//! it holds until the deadline, and every loss is reported.

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use std::path::PathBuf;

use skywatch_runtime::queue::{BoundedQueue, WhenFull};
use skywatch_runtime::{shutdown_pair, Journal, PartContext};
use skywatch_telemetry::Registry;
use tokio::net::TcpListener;

use crate::config::Settings;
use crate::ingest::{ByteBudget, Ingest, Spool};
use crate::routes::{self, Sampling};
use crate::sampling::Sampler;
use crate::sampling_proxy::SamplingProxy;
use crate::store::{Loaded, Store};
use crate::telemetry::Counters;
use crate::udp;

/// How often the store's gauges are refreshed and its limits applied.
const HOUSEKEEPING_EVERY: Duration = Duration::from_secs(5);

/// A collector with its listeners bound.
pub struct Collector {
    settings: Settings,
    udp: Option<UdpSocket>,
    http: Option<TcpListener>,
    otlp_http: Option<TcpListener>,
    store: Arc<Store>,
    loaded: Loaded,
    registry: Registry,
    counters: Counters,
    metrics: MetricsSink,
}

/// Where the per-service metrics (`skywatch/Traces`) go each minute.
enum MetricsSink {
    /// The local metrics store (the collector on its own).
    Store(PathBuf),
    /// The agent's metric output (the collector inside the agent).
    Agent(tokio::sync::mpsc::Sender<(String, Vec<skywatch_store::Datum>)>),
    Off,
}

impl std::fmt::Debug for Collector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Collector")
            .field("udp", &self.udp_address())
            .field("http", &self.http_address())
            .finish_non_exhaustive()
    }
}

fn now() -> f64 {
    skywatch_runtime::clock::now_ms() as f64 / 1000.0
}

impl Collector {
    /// Opens the store and binds the listeners the settings name.
    pub async fn bind(settings: Settings, registry: Registry) -> Result<Collector, String> {
        let (store, loaded) = Store::open(settings.store.clone(), now()).map_err(|e| {
            let dir = settings
                .store
                .dir
                .as_deref()
                .map_or_else(String::new, |d| d.display().to_string());
            format!("cannot open the trace store {dir}: {e}")
        })?;
        let udp = match settings.udp {
            Some(address) => {
                Some(udp::bind(address).map_err(|e| format!("cannot listen on udp {address}: {e}"))?)
            }
            None => None,
        };
        let http = match settings.http {
            Some(address) => Some(
                TcpListener::bind(address)
                    .await
                    .map_err(|e| format!("cannot listen on tcp {address}: {e}"))?,
            ),
            None => None,
        };
        let otlp_http = match settings.otlp_http {
            Some(address) => Some(
                TcpListener::bind(address)
                    .await
                    .map_err(|e| format!("cannot listen on tcp {address} (OTLP): {e}"))?,
            ),
            None => None,
        };
        let counters = Counters::register(&registry);
        let metrics = settings
            .metrics_dir
            .clone()
            .map_or(MetricsSink::Off, MetricsSink::Store);
        Ok(Collector {
            metrics,
            settings,
            udp,
            http,
            otlp_http,
            store: Arc::new(store),
            loaded,
            registry,
            counters,
        })
    }

    /// Hands the per-service metrics to the agent (wherever its metrics go) instead of the local
    /// store, unless they are off.
    pub fn send_metrics_to(
        &mut self,
        sender: tokio::sync::mpsc::Sender<(String, Vec<skywatch_store::Datum>)>,
    ) {
        if !matches!(self.metrics, MetricsSink::Off) {
            self.metrics = MetricsSink::Agent(sender);
        }
    }

    pub fn udp_address(&self) -> Option<SocketAddr> {
        self.udp.as_ref().and_then(|s| s.local_addr().ok())
    }

    pub fn http_address(&self) -> Option<SocketAddr> {
        self.http.as_ref().and_then(|s| s.local_addr().ok())
    }

    /// Serves until the context says stop.
    pub async fn serve(self, mut ctx: PartContext) -> Result<(), String> {
        let journal = ctx.journal;
        let Collector {
            settings,
            udp,
            http,
            otlp_http,
            store,
            loaded,
            registry,
            counters,
            metrics,
        } = self;
        let mut publisher = MetricsPublisher::new(metrics, now(), counters.clone());
        if loaded.documents > 0 || loaded.unreadable_lines > 0 {
            journal.log(format_args!(
                "trace store: {} documents read back{}",
                loaded.documents,
                if loaded.unreadable_lines > 0 {
                    format!(", {} unreadable lines skipped", loaded.unreadable_lines)
                } else {
                    String::new()
                }
            ));
        }
        let udp_address = udp.as_ref().and_then(|s| s.local_addr().ok());
        let http_address = http.as_ref().and_then(|s| s.local_addr().ok());
        let client = match &settings.forward {
            Some(forward) => {
                let sdk = skywatch_aws::sdk_config(skywatch_aws::SdkSettings {
                    region: forward.region.clone(),
                    region_from_imds: true,
                    role_arn: forward.role_arn.clone(),
                    ..skywatch_aws::SdkSettings::default()
                })
                .await;
                if let Err(e) = skywatch_aws::can_reach_aws(&sdk).await {
                    journal.log(format_args!(
                        "forwarding to X-Ray is configured but {e}; documents wait in the spool"
                    ));
                }
                Some(aws_sdk_xray::Client::new(&sdk))
            }
            None => None,
        };
        let spool: Option<Arc<Spool>> = settings
            .forward
            .as_ref()
            .map(|f| Arc::new(BoundedQueue::new(f.spool_documents, WhenFull::DropNewest)));
        let spool_bytes = Arc::new(ByteBudget::new(
            settings.forward.as_ref().map_or(0, |f| f.spool_bytes),
        ));
        let ingest = Arc::new(Ingest::new(
            Arc::clone(&store),
            spool.clone(),
            Arc::clone(&spool_bytes),
            counters.clone(),
            journal,
        ));
        let sampling = match &client {
            Some(client) => Sampling::Proxied(SamplingProxy::new(client.clone())),
            None => Sampling::Local(
                Sampler::new(&settings.sampling_rules, SystemTime::now())
                    .map_err(|problems| format!("sampling rules: {}", problems.join("; ")))?,
            ),
        };

        // Forwarding, with its own stop: it goes last, after the inputs have drained.
        let (forward_stop, forward_signal) = shutdown_pair();
        let mut background = Vec::new();
        if let (Some(client), Some(spool)) = (&client, &spool) {
            background.push(tokio::spawn(crate::forward::run(
                client.clone(),
                Arc::clone(spool),
                Arc::clone(&spool_bytes),
                counters.clone(),
                journal,
                forward_signal.clone(),
            )));
            let every = settings
                .forward
                .as_ref()
                .map_or(crate::forward::TELEMETRY_EVERY, |f| f.telemetry_interval);
            background.push(tokio::spawn(crate::forward::telemetry(
                every,
                client.clone(),
                counters.clone(),
                journal,
                forward_signal.clone(),
            )));
        }

        // Datagrams: a reading thread, a bounded queue, and the ingest task.
        let handoff = udp::Handoff {
            queue: Arc::new(BoundedQueue::new(settings.queue_documents, WhenFull::DropNewest)),
            budget: Arc::new(ByteBudget::new(settings.queue_bytes)),
            ingest: Arc::clone(&ingest),
        };
        let stop_reading = Arc::new(AtomicBool::new(false));
        let reader = match udp {
            Some(socket) => Some(
                udp::spawn(socket, handoff.clone(), Arc::clone(&stop_reading))
                    .map_err(|e| format!("cannot start the UDP reader: {e}"))?,
            ),
            None => None,
        };
        let queue = Arc::clone(&handoff.queue);
        let ingesting = tokio::spawn(ingest_loop(handoff));

        let (http_stop, http_signal) = shutdown_pair();
        let otlp_address = otlp_http.as_ref().and_then(|s| s.local_addr().ok());
        let public: Vec<String> = [http_address, otlp_address]
            .into_iter()
            .flatten()
            .filter(|a| !a.ip().is_loopback())
            .map(|a| a.to_string())
            .collect();
        let read_api = if settings.read_api_public {
            routes::ReadApi::Public
        } else if public.is_empty() {
            routes::ReadApi::Loopback
        } else {
            routes::ReadApi::Withheld
        };
        if read_api == routes::ReadApi::Withheld {
            journal.log(format_args!(
                "the X-Ray read API is not served: {} is not loopback (read_api_public = true serves it)",
                public.join(", ")
            ));
        }
        let router = routes::add(
            skywatch_http::Router::new(registry.clone()),
            Arc::clone(&ingest),
            Arc::new(sampling),
            read_api,
            settings.logs_dir.clone(),
        );
        let servers: Vec<_> = [http, otlp_http]
            .into_iter()
            .flatten()
            .map(|listener| {
                tokio::spawn(skywatch_http::serve(
                    listener,
                    router.clone(),
                    http_signal.clone(),
                ))
            })
            .collect();
        journal.log(format_args!(
            "collecting: udp {}, http {}{}, store {}, {}",
            udp_address.map_or("off".into(), |a| a.to_string()),
            http_address.map_or("off".into(), |a| a.to_string()),
            otlp_address.map_or(String::new(), |a| format!(", otlp http {a}")),
            settings
                .store
                .dir
                .as_deref()
                .filter(|_| store.keeps())
                .map_or("off".into(), |d| d.display().to_string()),
            if client.is_some() {
                "forwarding to X-Ray"
            } else {
                "local only (not forwarding)"
            }
        ));

        loop {
            ctx.liveness.beat();
            tokio::select! {
                () = ctx.shutdown.stopping() => break,
                event = ctx.events.recv() => {
                    // The collector reads its config at start only; say so instead of
                    // pretending to reload.
                    if let Some(skywatch_runtime::HostEvent::Reload { done }) = event {
                        journal.log("reload asked: the collector's settings apply at start; restart it to change them");
                        let _ = done.send(());
                    }
                }
                () = tokio::time::sleep(HOUSEKEEPING_EVERY) => {
                    // Documents from HTTP clients reach the disk here when no datagram flushes.
                    if let Err(e) = store.prune(now()).and_then(|()| store.flush()) {
                        ingest.once("store_write", format_args!("cannot write the trace store: {e}"));
                    }
                    ingest.refresh_gauges();
                    publisher.publish_due(&store, now(), journal);
                }
            }
        }

        // Inputs first.
        let left = || ctx.shutdown.time_left().unwrap_or(Duration::from_secs(5));
        stop_reading.store(true, Ordering::Relaxed);
        http_stop.stop(left().min(Duration::from_secs(2)));
        if let Some(reader) = reader {
            let _ = tokio::task::spawn_blocking(move || reader.join()).await;
        }
        for server in servers {
            let _ = server.await;
        }
        queue.close();
        let _ = ingesting.await;
        // A request whose connection was cut at the drain deadline may still be taking its
        // documents in (off the async workers): wait for it, then take nothing more.
        let until = tokio::time::Instant::now() + left().min(Duration::from_secs(2));
        if !ingest.close(until).await {
            journal.log("documents were still being taken in at the stop deadline");
        }
        if let Err(e) = store.flush() {
            journal.log(format_args!("cannot write the trace store: {e}"));
        }
        // Then what waits for X-Ray, within what is left of the deadline.
        if let Some(spool) = &spool {
            spool.close();
        }
        forward_stop.stop(left());
        for task in background {
            let _ = task.await;
        }
        ingest.refresh_gauges();
        let losses = counters.losses();
        let (documents, _, traces) = store.size();
        journal.log(format_args!(
            "stopped: {} received, {} stored ({traces} traces, {documents} documents kept), {} forwarded{}",
            counters.received.total(),
            counters.stored.get(),
            counters.forwarded.get(),
            if losses.is_empty() {
                String::new()
            } else {
                format!("; {}", losses.join(", "))
            }
        ));
        Ok(())
    }
}

/// Takes documents off the receive queue into the store until it is closed and empty.
async fn ingest_loop(handoff: udp::Handoff) {
    let udp::Handoff {
        queue,
        budget,
        ingest,
    } = handoff;
    let mut since_flush = 0usize;
    loop {
        let next = if let Some(item) = queue.try_pop() {
            Some(item)
        } else {
            if since_flush > 0 {
                since_flush = 0;
                if let Err(e) = ingest.store.flush() {
                    ingest.once("store_flush", format_args!("cannot write the trace store: {e}"));
                }
            }
            queue.pop().await
        };
        let Some((document, received)) = next else {
            return;
        };
        budget.give(document.len());
        // Refused documents are counted and logged inside.
        let _ = ingest.accept(&document, received);
        since_flush += 1;
        if since_flush.is_multiple_of(1024) {
            tokio::task::yield_now().await;
        }
    }
}

/// Runs a collector alone in a process under `journal`'s name.
pub fn journal() -> Journal {
    Journal::new("collector")
}

/// Publishes each minute's per-service numbers once the minute has settled.
struct MetricsPublisher {
    sink: MetricsSink,
    /// The next minute to publish (seconds, a multiple of 60).
    next_minute: i64,
    /// The store, opened at the first write.
    store: Option<skywatch_store::LocalMetricStore>,
    failing: bool,
    counters: Counters,
}

impl MetricsPublisher {
    fn new(sink: MetricsSink, now: f64, counters: Counters) -> MetricsPublisher {
        MetricsPublisher {
            sink,
            next_minute: (now as i64).div_euclid(60) * 60,
            store: None,
            failing: false,
            counters,
        }
    }

    fn publish_due(&mut self, store: &Store, now: f64, journal: Journal) {
        if matches!(self.sink, MetricsSink::Off) {
            return;
        }
        // After a long pause (a suspended machine), only the last hour is caught up.
        let now_s = now as i64;
        self.next_minute = self.next_minute.max((now_s - 3600).div_euclid(60) * 60);
        while now_s >= self.next_minute + 60 + crate::trace_metrics::SETTLE_SECS {
            let datums = crate::trace_metrics::minute_datums(store, self.next_minute);
            self.next_minute += 60;
            if datums.is_empty() {
                continue;
            }
            let count = datums.len() as u64;
            let sent = match &self.sink {
                MetricsSink::Off => Ok(()),
                MetricsSink::Agent(sender) => sender
                    .try_send((crate::trace_metrics::NAMESPACE.to_string(), datums))
                    .map_err(|e| format!("the agent's metric output is not taking them: {e}")),
                MetricsSink::Store(dir) => {
                    if self.store.is_none() {
                        match skywatch_store::LocalMetricStore::open(
                            dir,
                            skywatch_store::Retention::default(),
                        ) {
                            Ok(opened) => self.store = Some(opened),
                            Err(e) => {
                                self.counters.metrics_unpublished.add(count);
                                self.report(
                                    journal,
                                    &format!("cannot open the metrics store {}: {e}", dir.display()),
                                );
                                continue;
                            }
                        }
                    }
                    self.store
                        .as_ref()
                        .map_or(Ok(()), |s| s.append(crate::trace_metrics::NAMESPACE, &datums))
                        .map_err(|e| format!("cannot write the metrics store {}: {e}", dir.display()))
                }
            };
            match sent {
                Ok(()) => {
                    self.counters.metrics_published.add(count);
                    if self.failing {
                        journal.log("per-service metrics are published again");
                        self.failing = false;
                    }
                }
                Err(message) => {
                    self.counters.metrics_unpublished.add(count);
                    self.report(journal, &message);
                }
            }
        }
    }

    /// Names a failure once until publishing works again.
    fn report(&mut self, journal: Journal, message: &str) {
        if !self.failing {
            journal.log(format_args!(
                "per-service metrics ({}) not published: {message}",
                crate::trace_metrics::NAMESPACE
            ));
            self.failing = true;
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::float_cmp)]
    use super::*;
    use crate::quick_check::Facts;
    use crate::segment::parse;
    use crate::store::StoreSettings;

    #[test]
    fn each_settled_minute_is_published_once_to_the_local_store() {
        let store = Store::open(StoreSettings::in_memory(Duration::from_secs(1 << 30)), 0.0)
            .unwrap()
            .0;
        let minute = 1_796_640_000_i64;
        for (i, at) in [(1, minute + 5), (2, minute + 65)] {
            let doc = format!(
                r#"{{"id":"{i:016x}","trace_id":"1-6b168000-{i:024x}","name":"web","start_time":{at},"end_time":{at}.25}}"#
            )
            .into_bytes();
            let parsed = parse(&doc).unwrap().remove(0);
            store
                .insert(vec![(Facts::from(&parsed), Arc::from(doc))], 1.0)
                .unwrap();
        }
        let dir = tempfile::tempdir().unwrap();
        let registry = Registry::new();
        let counters = Counters::register(&registry);
        let mut publisher = MetricsPublisher::new(
            MetricsSink::Store(dir.path().to_path_buf()),
            minute as f64 + 1.0,
            counters.clone(),
        );
        let journal = Journal::new("test");
        // Not settled yet: nothing.
        publisher.publish_due(&store, (minute + 60 + 10) as f64, journal);
        assert_eq!(counters.metrics_published.get(), 0);
        // The first minute settles; the second not yet.
        publisher.publish_due(&store, (minute + 60 + 20) as f64, journal);
        publisher.publish_due(&store, (minute + 60 + 30) as f64, journal);
        let read = skywatch_store::read_metrics_since(dir.path(), 0).unwrap();
        let requests: Vec<(i64, f64)> = read
            .datums
            .iter()
            .filter(|d| d.namespace == "skywatch/Traces" && d.datum.name == "Requests")
            .map(|d| (d.datum.timestamp_ms, d.datum.value))
            .collect();
        assert_eq!(requests, [(minute * 1000, 1.0)]);
        // Both, each once.
        publisher.publish_due(&store, (minute + 120 + 20) as f64, journal);
        let read = skywatch_store::read_metrics_since(dir.path(), 0).unwrap();
        let minutes: Vec<i64> = read
            .datums
            .iter()
            .filter(|d| d.datum.name == "Requests")
            .map(|d| d.datum.timestamp_ms / 1000)
            .collect();
        assert_eq!(minutes, [minute, minute + 60]);
        let latency = read.datums.iter().find(|d| d.datum.name == "LatencyP99").unwrap();
        assert_eq!(latency.datum.value, 250.0);
        assert_eq!(latency.datum.unit, "Milliseconds");
        assert_eq!(counters.metrics_unpublished.get(), 0);
    }
}

//! Starting and stopping log shipping: the sources of the `logs` section (names resolved, each
//! given its checkpoints), the target (CloudWatch Logs, or the local store when there is no
//! AWS), the reader thread and the sending task.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use skywatch_runtime::{shutdown_pair, ShutdownHandle};
use skywatch_store::LocalLogStore;
use tokio::sync::Notify;

use skywatch_aws::{InstanceFacts, SdkSettings};

use super::auto_output::{watch_for_aws, OutputStatus};
use super::collection::hostname;
use super::{AgentError, EmfQueue};
use crate::config::{glob_pattern, AgentConfig, Destination, JournaldConfig, LogFileConfig, LogsConfig};
use crate::journal::log;
use crate::logs::checkpoint::{Checkpoint, CheckpointError, CheckpointStore};
use crate::logs::delivery::{self, cloudwatch_target, LogTarget, Shared, Upgrade};
use crate::logs::journal_cursors::{CursorStore, JournalCursor};
use crate::logs::journald::{JournalSource, JournalStart};
use crate::logs::outbox::Outbox;
use crate::logs::shipper::{Inputs, Links, Settings, Shipper, ShipperReport};
use crate::logs::source::Source;
use crate::logs::spool::Spool;
use crate::logs::wake::Wake;
use crate::placeholders::resolve_log_name;
use crate::telemetry::Telemetry;

/// Each source numbers its files from `(index + 1) << SOURCE_NUMBER_SHIFT`.
const SOURCE_NUMBER_SHIFT: u32 = 40;

/// Log shipping at work.
pub struct LogsRunning {
    stop: Arc<AtomicBool>,
    shutdown: ShutdownHandle,
    reader: std::thread::JoinHandle<ShipperReport>,
}

/// Options that shape the run.
pub struct LogsStart<'a> {
    pub config: &'a AgentConfig,
    pub logs: &'a LogsConfig,
    pub facts: Option<&'a InstanceFacts>,
    pub state_dir: &'a Path,
    pub telemetry: Arc<Telemetry>,
    pub status: OutputStatus,
    /// Where EMF documents of files with `emf` on go (when the logs do not go to CloudWatch
    /// Logs, which extracts them itself).
    pub emf: Option<Arc<EmfQueue>>,
    /// Read what the files have, deliver it and stop (`--once`).
    pub once: bool,
    pub stop_timeout: Duration,
}

/// Starts log shipping.
pub async fn start(options: LogsStart<'_>) -> Result<LogsRunning, AgentError> {
    let LogsStart {
        config,
        logs,
        facts,
        state_dir,
        telemetry,
        status,
        emf: emf_queue,
        once,
        stop_timeout,
    } = options;
    let startup = |what: String| AgentError::Startup(what);
    skywatch_store::durable::create_private_dir_all(state_dir).map_err(|e| {
        startup(format!(
            "cannot create the state directory {}: {e}",
            state_dir.display()
        ))
    })?;
    let store = CheckpointStore::new(state_dir);
    let saved = match store.load() {
        Ok(saved) => saved,
        Err(e @ (CheckpointError::NewerVersion { .. } | CheckpointError::Io { .. })) => {
            return Err(startup(format!("cannot use the checkpoints: {e}")));
        }
        Err(e @ CheckpointError::Malformed { .. }) => {
            // Kept for a look; reading starts over (duplicates, never a loss).
            let aside = store.path().with_extension("json.unreadable");
            let _ = std::fs::rename(store.path(), &aside);
            log(format_args!(
                "{e}; moved to {}: files are read from the beginning",
                aside.display()
            ));
            Vec::new()
        }
    };
    let mut by_source: HashMap<String, Vec<Checkpoint>> = HashMap::new();
    for c in saved {
        by_source.entry(c.source.clone()).or_default().push(c);
    }
    let host = hostname();
    let mut sources = Vec::new();
    let mut retention = Vec::new();
    let mut classes = Vec::new();
    let mut any_emf = false;
    for (i, file) in logs.files.iter().enumerate() {
        let region = config.region.as_deref();
        let group = resolve_log_name(&file.log_group_name, facts, &host, region);
        let stream = resolve_log_name(&file.log_stream_name, facts, &host, region);
        // The checkpoints' key: the glob, as always; an entry naming a glob an earlier entry
        // names gets its own, by where it ships (`glob#group/stream`, and the entry's number
        // only if that too is the same), so each follows the file once, resumes where it was
        // instead of starting over at every restart, and keeps its place when entries move.
        let pattern = glob_pattern(&file.file_path);
        let earlier: Vec<&LogFileConfig> = logs.files[..i]
            .iter()
            .filter(|f| glob_pattern(&f.file_path) == pattern)
            .collect();
        let key = if earlier.is_empty() {
            pattern
        } else {
            let same_target = earlier
                .iter()
                .filter(|f| {
                    f.log_group_name == file.log_group_name && f.log_stream_name == file.log_stream_name
                })
                .count();
            let key = format!("{pattern}#{}/{}", file.log_group_name, file.log_stream_name);
            if same_target > 0 {
                format!("{key}#{}", same_target + 1)
            } else {
                key
            }
        };
        let saved = by_source.remove(&key).unwrap_or_default();
        let first = (i as u64 + 1) << SOURCE_NUMBER_SHIFT;
        let source = Source::new(file, key, group.clone(), stream.clone(), first, saved)
            .map_err(|e| startup(e.to_string()))?;
        if let Some(days) = source.retention_in_days {
            retention.push((group.clone(), days));
        }
        if let Some(class) = &file.log_group_class {
            classes.push((group.clone(), class.clone()));
        }
        any_emf |= source.emf;
        log(format_args!("shipping {} to {group}/{stream}", file.file_path));
        sources.push(source);
    }
    let cursors = CursorStore::new(state_dir);
    let mut saved_cursors = match cursors.load() {
        Ok(saved) => saved,
        Err(e @ (CheckpointError::NewerVersion { .. } | CheckpointError::Io { .. })) => {
            return Err(startup(format!("cannot use the journald cursors: {e}")));
        }
        Err(e @ CheckpointError::Malformed { .. }) => {
            let aside = cursors.path().with_extension("json.unreadable");
            let _ = std::fs::rename(cursors.path(), &aside);
            log(format_args!(
                "{e}; moved to {}: journald entries start as on a first start",
                aside.display()
            ));
            Vec::new()
        }
    };
    let mut journals = Vec::new();
    for (i, entry) in logs.journald.iter().enumerate() {
        let region = config.region.as_deref();
        let group = resolve_log_name(&entry.log_group_name, facts, &host, region);
        let stream = resolve_log_name(&entry.log_stream_name, facts, &host, region);
        let key = journald_key(&logs.journald, i);
        let saved = saved_cursors
            .iter()
            .position(|c| c.source == key)
            .map(|at| saved_cursors.swap_remove(at));
        let number = (logs.files.len() as u64 + i as u64 + 1) << SOURCE_NUMBER_SHIFT;
        let source = JournalSource::new(
            entry,
            key.clone(),
            (group.clone(), stream.clone()),
            number,
            JournalStart {
                saved: saved.clone(),
                once,
                now_s: now_s(),
            },
        )
        .map_err(startup)?;
        if let Some(days) = source.retention_in_days {
            retention.push((group.clone(), days));
        }
        if let Some(class) = &entry.log_group_class {
            classes.push((group.clone(), class.clone()));
        }
        let from = match saved {
            Some(JournalCursor { cursor: Some(_), .. }) => "from its saved cursor",
            Some(JournalCursor { since_s: Some(_), .. }) => "from the time of its first start",
            _ if entry.start_at_beginning => "from the beginning of the journal",
            _ => "from now on",
        };
        log(format_args!(
            "shipping the journal ({key}) to {group}/{stream}, {from}"
        ));
        journals.push(source);
    }
    let (target, upgrade) =
        choose_target(config, logs, facts, state_dir, retention, classes, &status).await?;
    let to_cloudwatch = matches!(target, LogTarget::CloudWatch { .. });
    let on_cloudwatch = Arc::new(AtomicBool::new(to_cloudwatch));
    let upgrade = upgrade.map(|u| Upgrade {
        on_cloudwatch: Some(Arc::clone(&on_cloudwatch)),
        ..u
    });
    let spool = Spool::open(&state_dir.join("spool"), logs.spool_bytes)
        .map_err(|e| startup(format!("cannot open the spool in {}: {e}", state_dir.display())))?;
    let outbox = Arc::new(Mutex::new(Outbox::new(
        usize::try_from(logs.buffer_bytes).unwrap_or(usize::MAX),
        spool,
    )));
    let queued = Arc::new(Notify::new());
    let closed = Arc::new(AtomicBool::new(false));
    let sender_done = Arc::new(AtomicBool::new(false));
    let stalled = Arc::new(AtomicBool::new(false));
    let wake = Wake::new();
    let (acks_tx, acks_rx) = mpsc::channel();
    let (shutdown, shutdown_signal) = shutdown_pair();
    let shared = Shared {
        outbox: Arc::clone(&outbox),
        queued: Arc::clone(&queued),
        closed: Arc::clone(&closed),
        acks: acks_tx,
        nudge: wake.nudge(),
        stalled: Arc::clone(&stalled),
        telemetry: Arc::clone(&telemetry),
        shutdown: shutdown_signal,
    };
    let done = Arc::clone(&sender_done);
    let wake_reader = Arc::clone(&queued);
    tokio::spawn(async move {
        delivery::run(target, shared, upgrade).await;
        done.store(true, Ordering::Release);
        wake_reader.notify_one();
    });
    if any_emf && to_cloudwatch {
        log("EMF lines go to CloudWatch Logs, which extracts their metrics: the agent does not send them twice");
    }
    // Kept even when starting on CloudWatch Logs is impossible to change (fixed targets); an
    // `auto` output that starts local forwards EMF until it moves.
    let emf = emf_queue.filter(|_| any_emf);
    let shipper = Shipper::new(
        Inputs {
            files: sources,
            checkpoints: store,
            journals,
            cursors,
        },
        Settings {
            force_flush: Duration::from_secs(logs.force_flush_interval_s.max(1)),
            emf,
            to_cloudwatch: Arc::clone(&on_cloudwatch),
        },
        telemetry,
        Links {
            outbox,
            queued,
            closed,
            sender_done,
            stalled,
            acks: acks_rx,
        },
        wake,
    );
    let stop = Arc::new(AtomicBool::new(false));
    let reader_stop = Arc::clone(&stop);
    let reader = std::thread::Builder::new()
        .name("skywatch-logs".into())
        .spawn(move || shipper.run(&reader_stop, once, stop_timeout))
        .map_err(|e| startup(format!("cannot start the log reader: {e}")))?;
    Ok(LogsRunning {
        stop,
        shutdown,
        reader,
    })
}

/// The name journald entry `i`'s cursor is saved under: what it selects and where it ships
/// (so it keeps its place when entries move), numbered when an earlier entry is the same.
fn journald_key(entries: &[JournaldConfig], i: usize) -> String {
    let describe = |e: &JournaldConfig| {
        let mut what = Vec::new();
        for (name, place) in [
            ("directory", &e.directory),
            ("namespace", &e.namespace),
            ("root", &e.root_path),
        ] {
            if let Some(place) = place {
                what.push(format!("{name}={place}"));
            }
        }
        if !e.files.is_empty() {
            what.push(format!("files={}", e.files.join(",")));
        }
        if !e.units.is_empty() {
            what.push(format!("units={}", e.units.join(",")));
        }
        if !e.identifiers.is_empty() {
            what.push(format!("identifiers={}", e.identifiers.join(",")));
        }
        if e.dmesg {
            what.push("dmesg".to_string());
        }
        for set in &e.matches {
            let terms: Vec<String> = set.iter().map(|(k, v)| format!("{k}={v}")).collect();
            what.push(format!("match={}", terms.join(",")));
        }
        if what.is_empty() {
            what.push("all".to_string());
        }
        format!("{}#{}/{}", what.join(";"), e.log_group_name, e.log_stream_name)
    };
    let this = describe(&entries[i]);
    let same = entries[..i].iter().filter(|e| describe(e) == this).count();
    if same == 0 {
        this
    } else {
        format!("{this}#{}", same + 1)
    }
}

fn now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

impl LogsRunning {
    /// `--once`: lets the reader read everything there is and stop by itself, once what it
    /// read is delivered (or the stop timeout after the last read has passed).
    pub async fn drain(self) -> ShipperReport {
        join_reader(self.reader).await
    }

    /// Stops reading, delivers what was read within `timeout`, saves the checkpoints.
    pub async fn stop(self, timeout: Duration) -> ShipperReport {
        self.shutdown.stop(timeout);
        self.stop.store(true, Ordering::Release);
        join_reader(self.reader).await
    }
}

/// The reader's report once its thread ends; a reader that panicked has delivered nothing it
/// had not acknowledged (its files are read again), which the report cannot count.
async fn join_reader(reader: std::thread::JoinHandle<ShipperReport>) -> ShipperReport {
    if let Ok(Ok(report)) = tokio::task::spawn_blocking(move || reader.join()).await {
        report
    } else {
        log("the log reader failed unexpectedly: files are read again from their checkpoints at the next start");
        ShipperReport {
            failed: true,
            ..ShipperReport::default()
        }
    }
}

async fn choose_target(
    config: &AgentConfig,
    logs: &LogsConfig,
    facts: Option<&InstanceFacts>,
    state_dir: &Path,
    retention: Vec<(String, i32)>,
    classes: Vec<(String, String)>,
    status: &OutputStatus,
) -> Result<(LogTarget, Option<Upgrade>), AgentError> {
    let dir = skywatch_store::logs_dir(state_dir);
    let local = || {
        LocalLogStore::open(&dir)
            .map(|s| LogTarget::Local(Arc::new(s)))
            .map_err(|e| {
                AgentError::Startup(format!("cannot open the local log store {}: {e}", dir.display()))
            })
    };
    let reads_it = format!("`logq --store {} --log-group NAME` reads them", dir.display());
    if config.logs_output == Destination::Local {
        log(format_args!(
            "log events go to the local store in {} ({reads_it})",
            dir.display()
        ));
        status.set("logs", format!("local store in {}", dir.display()));
        return Ok((local()?, None));
    }
    let settings = SdkSettings {
        region: config.region.clone(),
        dual_stack: config.use_dualstack_endpoint,
        role_arn: logs.role_arn.clone().or_else(|| config.role_arn.clone()),
        instance_region: facts.map(|f| f.region.clone()),
        ..SdkSettings::default()
    };
    let sdk = skywatch_aws::sdk_config(settings.clone()).await;
    if config.logs_output == Destination::Auto {
        if let Err(why) = skywatch_aws::can_reach_aws(&sdk).await {
            log(format_args!(
                "{why}: log events go to the local store in {} ({reads_it}); looking for AWS again every {} s",
                dir.display(),
                config.auto_recheck_s
            ));
            status.set("logs", format!("local store in {} (auto: {why})", dir.display()));
            let upgrade = Upgrade {
                reachable: watch_for_aws(settings, Duration::from_secs(config.auto_recheck_s)),
                endpoint_override: logs.endpoint_override.clone(),
                classes,
                retention,
                status: status.clone(),
                on_cloudwatch: None,
            };
            return Ok((local()?, Some(upgrade)));
        }
    }
    let target = cloudwatch_target(&sdk, logs.endpoint_override.as_deref(), &classes, retention);
    status.set(
        "logs",
        format!(
            "CloudWatch Logs in {}",
            sdk.region().map_or("(no region)", |r| r.as_ref())
        ),
    );
    log(format_args!(
        "sending log events to CloudWatch Logs in {}",
        sdk.region().map_or("(no region)", |r| r.as_ref())
    ));
    Ok((target, None))
}

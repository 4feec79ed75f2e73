//! `skywatch alarms`: check, push and evaluate alarm rules. Flags in, library calls, exit codes
//! out: 0 ok, 1 a runtime failure (AWS, network, files, notifications left undelivered), 2 bad
//! input.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand, ValueEnum};
use skywatch_dashboards::alarms::publish::{Counters, Notifier, Outbox};
use skywatch_dashboards::alarms::{
    self, eventbridge_event, replay_transitions, sns_notification, Alarm, DatapointsFile, MetricSource,
    Rules, Settings, StoreSource, TimelineEntry,
};

const EXIT_FAILED: u8 = 1;
const EXIT_BAD_INPUT: u8 = 2;

/// The longest replay, in evaluation ticks (about four years of one-minute alarms).
const MAX_REPLAY_EVALUATIONS: i64 = 2_000_000;

#[derive(Debug, Subcommand)]
pub enum AlarmsCommand {
    /// Check a rule file (our TOML, or a JSON list of PutMetricAlarm requests as
    /// `aws cloudwatch put-metric-alarm --cli-input-json` takes them): every problem with its
    /// path (exit 2).
    Check {
        /// The rule file.
        file: PathBuf,
    },
    /// PutMetricAlarm / PutCompositeAlarm for every rule (metric alarms first).
    Push {
        /// The rule file.
        file: PathBuf,
    },
    /// Replay datapoints through the rules with CloudWatch's semantics and print each state
    /// change as a JSON line; --publish sends the notifications to the actions' SNS topics.
    Eval(EvalArgs),
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// The rule file.
    file: PathBuf,
    /// JSON lines, each a PutMetricData MetricDatum plus "Namespace".
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "store",
        conflicts_with = "store"
    )]
    datapoints: Option<PathBuf>,
    /// The agent's local metrics store: its state directory, or the metrics directory in it.
    #[arg(long, value_name = "DIR")]
    store: Option<PathBuf>,
    /// Where the replay starts: RFC 3339, or a time ago (3h). Default: the first datapoint (a
    /// file), 3 hours ago (the store).
    #[arg(long, value_name = "TIME")]
    from: Option<String>,
    /// Where it ends. Default: the last datapoint plus the longest evaluation range (a file),
    /// now (the store).
    #[arg(long, value_name = "TIME")]
    to: Option<String>,
    /// What to print per state change.
    #[arg(long, value_enum, default_value_t = Output::Timeline)]
    format: Output,
    /// The region named in ARNs and messages.
    #[arg(long, default_value = "us-east-1")]
    region: String,
    /// The account named in ARNs and messages.
    #[arg(long, default_value = "123456789012")]
    account: String,
    /// Periods in each evaluation range (CloudWatch does not document it). Default:
    /// N + max(N / 3, 2).
    #[arg(long, value_name = "PERIODS")]
    range_periods: Option<u32>,
    /// Send each change's notification to its SNS actions (region and credentials from the SDK
    /// chain; AWS_ENDPOINT_URL works). Undelivered ones stay in the outbox for the next run.
    #[arg(long)]
    publish: bool,
    /// With --publish: how long to keep trying, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 30, requires = "publish")]
    publish_timeout: u64,
    /// Where the outbox lives (<state dir>/alarms/eval-outbox).
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Output {
    /// {"time","alarm","old_state","new_state","reason","reason_data","actions"}
    Timeline,
    /// The SNS Subject and Message CloudWatch would publish.
    Sns,
    /// The EventBridge "CloudWatch Alarm State Change" event.
    Eventbridge,
}

pub fn run(command: AlarmsCommand) -> ExitCode {
    match command {
        AlarmsCommand::Check { file } => check(&file),
        AlarmsCommand::Push { file } => push(&file),
        AlarmsCommand::Eval(args) => eval(&args),
    }
}

/// The rules of `file`, or the exit code after saying why not.
fn load(file: &Path) -> Result<Rules, ExitCode> {
    let text = std::fs::read_to_string(file).map_err(|e| {
        eprintln!("{}: cannot read: {e}", file.display());
        ExitCode::from(EXIT_FAILED)
    })?;
    alarms::parse_rules(&text).map_err(|error| {
        eprint!("{}: {error}", file.display());
        if !error.to_string().ends_with('\n') {
            eprintln!();
        }
        ExitCode::from(EXIT_BAD_INPUT)
    })
}

fn check(file: &Path) -> ExitCode {
    match load(file) {
        Ok(rules) => {
            let composite = rules
                .alarms
                .iter()
                .filter(|a| matches!(a, Alarm::Composite(_)))
                .count();
            println!(
                "{}: ok, {} metric alarm(s), {composite} composite alarm(s)",
                file.display(),
                rules.alarms.len() - composite
            );
            ExitCode::SUCCESS
        }
        Err(code) => code,
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("skywatch alarms: cannot start the async runtime: {e}");
            ExitCode::from(EXIT_FAILED)
        })
}

/// The SDK's standard chains (region, credentials, AWS_ENDPOINT_URL), with its own retries.
fn sdk_settings() -> skywatch_aws::SdkSettings {
    skywatch_aws::SdkSettings {
        retries: skywatch_aws::Retries::Standard,
        ..skywatch_aws::SdkSettings::default()
    }
}

fn push(file: &Path) -> ExitCode {
    let rules = match load(file) {
        Ok(rules) => rules,
        Err(code) => return code,
    };
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let results = rt.block_on(async {
        let config = skywatch_aws::sdk_config(sdk_settings()).await;
        alarms::push::push_with(&config, &rules).await
    });
    let mut failed = 0;
    for result in &results {
        match &result.error {
            None => println!("put {}", result.alarm_name),
            Some(e) => {
                failed += 1;
                eprintln!("{}: {e}", result.alarm_name);
            }
        }
    }
    if failed > 0 {
        eprintln!(
            "skywatch alarms push: {failed} of {} alarm(s) not put",
            results.len()
        );
        return ExitCode::from(EXIT_FAILED);
    }
    ExitCode::SUCCESS
}

/// Where the replay reads its datapoints from.
enum Source {
    File(DatapointsFile),
    Store(StoreSource),
}

impl Source {
    fn as_dyn(&self) -> &dyn MetricSource {
        match self {
            Source::File(f) => f,
            Source::Store(s) => s,
        }
    }

    fn time_range(&self) -> Option<(i64, i64)> {
        match self {
            Source::File(f) => f.time_range(),
            Source::Store(s) => s.time_range(),
        }
    }
}

fn eval(args: &EvalArgs) -> ExitCode {
    let rules = match load(&args.file) {
        Ok(rules) => rules,
        Err(code) => return code,
    };
    let settings = Settings {
        region: args.region.clone(),
        account_id: args.account.clone(),
        range_periods: args.range_periods,
        ..Settings::default()
    };
    let now_ms = chrono::Utc::now().timestamp_millis();
    let time = |flag: &str, text: &Option<String>| -> Result<Option<i64>, ExitCode> {
        text.as_deref()
            .map(|t| skywatch_time::parse_time_arg(t, now_ms))
            .transpose()
            .map_err(|e| {
                eprintln!("skywatch alarms eval: {flag}: {e}");
                ExitCode::from(EXIT_BAD_INPUT)
            })
    };
    let (from, to) = match (time("--from", &args.from), time("--to", &args.to)) {
        (Ok(from), Ok(to)) => (from, to),
        (Err(code), _) | (_, Err(code)) => return code,
    };
    let source = if let Some(path) = &args.datapoints {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) => {
                eprintln!("{}: cannot read: {e}", path.display());
                return ExitCode::from(EXIT_FAILED);
            }
        };
        match DatapointsFile::parse(&text) {
            Ok(file) => Source::File(file),
            Err(e) => {
                eprintln!("{}: {e}", path.display());
                return ExitCode::from(EXIT_BAD_INPUT);
            }
        }
    } else {
        let dir = args.store.clone().unwrap_or_default();
        let metrics = if dir.join("metrics").is_dir() {
            skywatch_store::metrics_dir(&dir)
        } else {
            dir
        };
        let since = from.unwrap_or(now_ms - 3 * 3_600_000) - settings.longest_range_ms(&rules, 0);
        match StoreSource::read(&metrics, since) {
            Ok(store) => {
                if store.malformed_lines() > 0 {
                    eprintln!(
                        "skywatch alarms eval: skipped {} unreadable line(s) in {}",
                        store.malformed_lines(),
                        metrics.display()
                    );
                }
                Source::Store(store)
            }
            Err(e) => {
                eprintln!("skywatch alarms eval: cannot read {}: {e}", metrics.display());
                return ExitCode::from(EXIT_FAILED);
            }
        }
    };
    let (from, to) = match (&source, source.time_range()) {
        (Source::File(_), Some((first, last))) => (
            from.unwrap_or(first),
            to.unwrap_or(last + settings.longest_range_ms(&rules, 0)),
        ),
        (Source::File(_), None) => (from.unwrap_or(now_ms), to.unwrap_or(now_ms)),
        (Source::Store(_), _) => (from.unwrap_or(now_ms - 3 * 3_600_000), to.unwrap_or(now_ms)),
    };
    if to < from {
        eprintln!("skywatch alarms eval: --to is before --from");
        return ExitCode::from(EXIT_BAD_INPUT);
    }
    let cadence_ms = rules
        .alarms
        .iter()
        .filter_map(|a| match a {
            Alarm::Metric(m) => Some(settings.cadence_for(m.period_secs())),
            Alarm::Composite(_) => None,
        })
        .min()
        .unwrap_or(60_000)
        .max(1);
    if (to - from) / cadence_ms > MAX_REPLAY_EVALUATIONS {
        eprintln!(
            "skywatch alarms eval: {} to {} is more than {MAX_REPLAY_EVALUATIONS} evaluations; narrow it with --from and --to",
            skywatch_time::rfc3339_ms(from),
            skywatch_time::rfc3339_ms(to)
        );
        return ExitCode::from(EXIT_BAD_INPUT);
    }
    let transitions = replay_transitions(&rules, source.as_dyn(), from, to, &settings);
    for t in &transitions {
        let Some(alarm) = rules.get(&t.alarm_name) else {
            continue;
        };
        let line = match args.format {
            Output::Timeline => serde_json::to_string(&TimelineEntry::from(t)),
            Output::Sns => {
                let n = sns_notification(alarm, t, &settings);
                serde_json::to_string(&serde_json::json!({"Subject": n.subject, "Message": n.message}))
            }
            Output::Eventbridge => serde_json::to_string(&eventbridge_event(alarm, t, &settings)),
        };
        match line {
            Ok(line) => println!("{line}"),
            Err(e) => eprintln!(
                "skywatch alarms eval: cannot print a change of {}: {e}",
                t.alarm_name
            ),
        }
    }
    if !args.publish {
        return ExitCode::SUCCESS;
    }
    publish(args, &rules, &settings, &transitions)
}

fn publish(
    args: &EvalArgs,
    rules: &Rules,
    settings: &Settings,
    transitions: &[alarms::Transition],
) -> ExitCode {
    let state_dir = skywatch_runtime::resolve_state_dir(args.state_dir.clone(), None);
    // An outbox of its own: the agent's is the agent's to deliver.
    let dir = state_dir.join("alarms").join("eval-outbox");
    let outbox = match Outbox::open(&dir) {
        Ok(outbox) => outbox,
        Err(e) => {
            eprintln!(
                "skywatch alarms eval: cannot open the outbox {}: {e}",
                dir.display()
            );
            return ExitCode::from(EXIT_FAILED);
        }
    };
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let registry = skywatch_telemetry::Registry::new();
    let counters = Counters::register(&registry);
    let round = rt.block_on(async {
        let config = skywatch_aws::sdk_config(sdk_settings()).await;
        let notifier = Notifier::with_config(
            outbox,
            &config,
            counters.clone(),
            skywatch_runtime::Journal::new("alarms"),
        );
        for t in transitions {
            let Some(alarm) = rules.get(&t.alarm_name) else {
                continue;
            };
            let n = sns_notification(alarm, t, settings);
            notifier.queue(t, &n.subject, &n.message)?;
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(args.publish_timeout);
        notifier.deliver_until(deadline).await
    });
    match round {
        Ok(round) => {
            eprintln!(
                "skywatch alarms eval: {} notification(s) published, {} waiting in {}, {} undeliverable, {} action(s) not SNS",
                counters.published.get(),
                round.waiting,
                dir.display(),
                counters.undeliverable.get(),
                counters.not_run.total()
            );
            if round.waiting > 0 || counters.undeliverable.get() > 0 {
                return ExitCode::from(EXIT_FAILED);
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("skywatch alarms eval: the outbox {}: {e}", dir.display());
            ExitCode::from(EXIT_FAILED)
        }
    }
}

//! `skywatch`: the agent, collector, dashboards and alarms behind one command. This binary only
//! parses flags and hands over to the libraries; each library owns its part.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use skywatch_agent::{ConfigFormat as Format, Loaded};

mod alarms;
mod completions;
mod dashboard;
mod up;

/// Observability for web developers on AWS: ship host metrics and logs, collect traces, keep
/// dashboards and alarms in git. Everything works locally first; AWS is configuration.
#[derive(Debug, Parser)]
#[command(name = "skywatch", version, about, long_about = None, propagate_version = true)]
pub(crate) struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the agent daemon: host metrics and log files to CloudWatch or the local store (with
    /// [traces] and [alarms] sections, the collector and the alarm evaluator too).
    Agent(AgentArgs),
    /// Print the metrics the agent keeps in the local store.
    Metrics(MetricsArgs),
    /// Run the trace collector: an X-Ray daemon drop-in that also accepts OTLP, keeps traces
    /// locally and serves the X-Ray API on loopback.
    Collector(CollectorArgs),
    /// Print the service graph from a running collector.
    Servicemap(ServicemapArgs),
    /// Render or push CloudWatch dashboards defined as code.
    #[command(subcommand)]
    Dashboard(dashboard::DashboardCommand),
    /// Check, push or evaluate alarm rules defined as code.
    #[command(subcommand)]
    Alarms(alarms::AlarmsCommand),
    /// Check or convert agent configuration (ours or the CloudWatch agent's JSON).
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Run the whole stack in one process: the agent (host metrics, log files), the trace
    /// collector and its web page, and the alarm evaluator; all local unless AWS is configured.
    Up(up::UpArgs),
    /// Print a shell completion script for skywatch or logq.
    Completions(completions::CompletionsArgs),
    /// Write man pages for skywatch (each subcommand) and logq into a directory.
    Man(completions::ManArgs),
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Report every problem of a config file at once, each with its key path; exit 2 if any.
    /// FILE is our TOML or the CloudWatch agent's JSON (recognised by content).
    Check {
        /// The config file.
        file: PathBuf,
    },
    /// Print a CloudWatch agent JSON config (or our TOML) as our TOML.
    Convert {
        /// The config file.
        file: PathBuf,
    },
}

#[derive(Debug, clap::Args)]
struct AgentArgs {
    /// The config: our TOML or the CloudWatch agent's JSON.
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// Collect once (rates over one second), publish, exit: for cron, tests, debugging. Exits 1
    /// when anything read was not delivered.
    #[arg(long)]
    once: bool,
    /// With --once: how long to keep trying to deliver, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 30, requires = "once")]
    once_timeout: u64,
    /// Where the agent keeps its state (default: /var/lib/skywatch as root, else
    /// $XDG_DATA_HOME/skywatch).
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
struct MetricsArgs {
    /// How far back: 90s, 15m, 1h, 2d.
    #[arg(long, default_value = "1h")]
    since: String,
    /// Only metrics of this name.
    #[arg(long)]
    name: Option<String>,
    /// One JSON object per line instead of a table.
    #[arg(long)]
    json: bool,
    /// The agent's state directory (as given to `skywatch agent`).
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
struct CollectorArgs {
    /// Where daemon-protocol datagrams come in ("" turns UDP off). Default 127.0.0.1:2000.
    #[arg(long, value_name = "HOST:PORT")]
    udp: Option<String>,
    /// The HTTP listener: sampling, the X-Ray API, OTLP /v1/traces, /healthz, /metrics ("" turns
    /// it off). Default 127.0.0.1:2000.
    #[arg(long, value_name = "HOST:PORT")]
    http: Option<String>,
    /// The collector's TOML config (listeners, store limits, [forward], sampling_rules).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Where traces are kept (default: <state dir>/traces).
    #[arg(long, value_name = "DIR")]
    store: Option<PathBuf>,
    /// The state directory (default: /var/lib/skywatch as root, else $XDG_DATA_HOME/skywatch).
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
struct ServicemapArgs {
    /// How far back: 90s, 15m, 1h, 2d.
    #[arg(long, default_value = "15m")]
    since: String,
    /// table, json, dot (Graphviz) or mermaid.
    #[arg(long, default_value = "table")]
    format: skywatch_collector::servicemap::Format,
    /// The collector's HTTP listener.
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:2000")]
    collector: String,
}

/// Exit code for a config with errors.
const EXIT_BAD_CONFIG: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Config(ConfigCommand::Check { file }) => config_check(&file),
        Command::Config(ConfigCommand::Convert { file }) => config_convert(&file),
        Command::Agent(args) => agent(args),
        Command::Metrics(args) => metrics(&args),
        Command::Collector(args) => collector(args),
        Command::Servicemap(args) => servicemap(&args),
        Command::Dashboard(command) => dashboard::run(command),
        Command::Alarms(command) => alarms::run(command),
        Command::Up(args) => up::run(args),
        Command::Completions(args) => completions::completions(&args),
        Command::Man(args) => completions::man(&args),
    }
}

/// Prints a config's problems to stderr, errors first; true if there were errors.
fn report(file: &std::path::Path, loaded: &Loaded) -> bool {
    for e in &loaded.errors {
        eprintln!("{}: error: {e}", file.display());
    }
    for w in &loaded.warnings {
        eprintln!("{}: warning: {w}", file.display());
    }
    !loaded.errors.is_empty()
}

fn config_check(file: &std::path::Path) -> ExitCode {
    let loaded = skywatch_agent::load_config(file);
    if report(file, &loaded) {
        let n = loaded.errors.len();
        eprintln!("{}: {n} error{}", file.display(), if n == 1 { "" } else { "s" });
        return ExitCode::from(EXIT_BAD_CONFIG);
    }
    let format = match loaded.format {
        Format::Toml => "skywatch TOML",
        Format::CloudWatchJson => "CloudWatch agent JSON",
    };
    println!("{}: ok ({format})", file.display());
    ExitCode::SUCCESS
}

fn config_convert(file: &std::path::Path) -> ExitCode {
    let loaded = skywatch_agent::load_config(file);
    if report(file, &loaded) {
        return ExitCode::from(EXIT_BAD_CONFIG);
    }
    let Some(model) = &loaded.config else {
        return ExitCode::from(EXIT_BAD_CONFIG);
    };
    println!("# Converted by `skywatch config convert` from {}", file.display());
    for w in &loaded.warnings {
        println!("# dropped {w}");
    }
    print!("{}", skywatch_agent::to_toml(model));
    ExitCode::SUCCESS
}

fn agent(args: AgentArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("skywatch agent: cannot start: {e}");
            return ExitCode::from(1);
        }
    };
    let options = skywatch_agent::Options {
        config_path: args.config,
        once: args.once,
        once_timeout: std::time::Duration::from_secs(args.once_timeout),
        state_dir: args.state_dir,
        proc_root: proc_root(),
        on_ready: None,
        held_lock: None,
    };
    match runtime.block_on(skywatch_agent::run(options)) {
        Ok(outcome) if args.once && outcome.log_reader_failed => {
            eprintln!("skywatch agent: the log reader failed; what it read is read again at the next run");
            ExitCode::from(1)
        }
        Ok(outcome) if args.once && outcome.journals_failed > 0 => {
            eprintln!(
                "skywatch agent: journalctl failed for {} journald entr{} (named above); the journal is read from the saved cursor at the next run",
                outcome.journals_failed,
                if outcome.journals_failed == 1 { "y" } else { "ies" }
            );
            ExitCode::from(1)
        }
        Ok(outcome) if args.once && outcome.log_events_undelivered > 0 => {
            eprintln!(
                "skywatch agent: {} log event(s) were read but not delivered; they are read again from the checkpoints at the next run",
                outcome.log_events_undelivered
            );
            ExitCode::from(1)
        }
        Ok(outcome)
            if args.once && (outcome.dropped > 0 || outcome.sent + outcome.stored < outcome.collected) =>
        {
            eprintln!(
                "skywatch agent: {} of {} datums were not delivered",
                outcome.collected - (outcome.sent + outcome.stored).min(outcome.collected),
                outcome.collected
            );
            ExitCode::from(1)
        }
        Ok(_) => ExitCode::SUCCESS,
        Err(e @ skywatch_agent::AgentError::Config(_)) => {
            eprintln!("skywatch agent: {e}");
            ExitCode::from(EXIT_BAD_CONFIG)
        }
        Err(e) => {
            eprintln!("skywatch agent: {e}");
            ExitCode::from(1)
        }
    }
}

/// Where procfs is: `/proc`, or the fixture tests point the agent at.
fn proc_root() -> PathBuf {
    std::env::var_os("SKYWATCH_PROC_ROOT").map_or_else(|| PathBuf::from("/proc"), PathBuf::from)
}

fn metrics(args: &MetricsArgs) -> ExitCode {
    use skywatch_store::read_metrics_since as read_since;
    use skywatch_time::rfc3339_ms;
    let Ok(window_ms) = skywatch_time::parse_duration_ms(&args.since) else {
        eprintln!(
            "skywatch metrics: --since {:?} is not a duration such as 90s, 15m, 1h or 2d",
            args.since
        );
        return ExitCode::from(EXIT_BAD_CONFIG);
    };
    let state_dir = skywatch_runtime::resolve_state_dir(args.state_dir.clone(), None);
    let dir = skywatch_store::metrics_dir(&state_dir);
    let now_ms = chrono::Utc::now().timestamp_millis();
    let result = match read_since(&dir, now_ms - window_ms) {
        Ok(result) => result,
        Err(e) => {
            eprintln!("skywatch metrics: cannot read {}: {e}", dir.display());
            return ExitCode::from(1);
        }
    };
    if result.malformed_lines > 0 {
        eprintln!(
            "skywatch metrics: skipped {} unreadable line(s) in {}",
            result.malformed_lines,
            dir.display()
        );
    }
    let rows: Vec<_> = result
        .datums
        .iter()
        .filter(|s| args.name.as_ref().is_none_or(|n| *n == s.datum.name))
        .collect();
    if args.json {
        for s in rows {
            let dims: serde_json::Map<String, serde_json::Value> = s
                .datum
                .dimensions
                .iter()
                .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                .collect();
            println!(
                "{}",
                serde_json::json!({
                    "timestamp": rfc3339_ms(s.datum.timestamp_ms),
                    "namespace": s.namespace,
                    "name": s.datum.name,
                    "value": s.datum.value,
                    "unit": s.datum.unit,
                    "dimensions": dims,
                })
            );
        }
        return ExitCode::SUCCESS;
    }
    if rows.is_empty() {
        eprintln!(
            "skywatch metrics: nothing in {} for the last {}",
            dir.display(),
            args.since
        );
        return ExitCode::SUCCESS;
    }
    let table: Vec<[String; 5]> = rows
        .iter()
        .map(|s| {
            let dims: Vec<String> = s
                .datum
                .dimensions
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            [
                rfc3339_ms(s.datum.timestamp_ms),
                s.datum.name.clone(),
                format!("{}", s.datum.value),
                s.datum.unit.clone(),
                dims.join(","),
            ]
        })
        .collect();
    let header = ["timestamp", "name", "value", "unit", "dimensions"];
    let mut widths = header.map(str::len);
    for row in &table {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let print_row = |cells: [&str; 5]| {
        let line: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        println!("{}", line.join("  ").trim_end());
    };
    print_row(header);
    for row in &table {
        print_row([&row[0], &row[1], &row[2], &row[3], &row[4]]);
    }
    ExitCode::SUCCESS
}

fn collector(args: CollectorArgs) -> ExitCode {
    let mut config = match &args.config {
        Some(file) => match skywatch_collector::config::load(file) {
            Ok(config) => config,
            Err(problems) => {
                for p in problems {
                    eprintln!("skywatch collector: {p}");
                }
                return ExitCode::from(EXIT_BAD_CONFIG);
            }
        },
        None => skywatch_collector::config::CollectorConfig::default(),
    };
    // Flags win over the file.
    if args.udp.is_some() {
        config.udp = args.udp;
    }
    if args.http.is_some() {
        config.http = args.http;
    }
    if args.store.is_some() {
        config.store_dir = args.store;
    }
    let state_dir = skywatch_runtime::resolve_state_dir(args.state_dir, None);
    let settings = match config.resolve(&state_dir) {
        Ok(settings) => settings,
        Err(problems) => {
            for p in problems {
                eprintln!("skywatch collector: {p}");
            }
            return ExitCode::from(EXIT_BAD_CONFIG);
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("skywatch collector: cannot start: {e}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(async move {
        let journal = skywatch_collector::part::journal();
        let registry = skywatch_telemetry::Registry::new();
        let collector = skywatch_collector::part::Collector::bind(settings, registry).await?;
        let signals =
            skywatch_runtime::Signals::new().map_err(|e| format!("cannot listen for signals: {e}"))?;
        let mut host = skywatch_runtime::Host::new(journal);
        host.start(journal, std::time::Duration::from_secs(10), move |ctx| {
            collector.serve(ctx)
        });
        let errors = host.run(signals).await;
        if errors.is_empty() {
            Ok(())
        } else {
            let errors: Vec<String> = errors.iter().map(|(part, e)| format!("{part}: {e}")).collect();
            Err(errors.join("; "))
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("skywatch collector: {e}");
            ExitCode::from(1)
        }
    }
}

fn servicemap(args: &ServicemapArgs) -> ExitCode {
    let Ok(window_ms) = skywatch_time::parse_duration_ms(&args.since) else {
        eprintln!(
            "skywatch servicemap: --since {:?} is not a duration such as 90s, 15m, 1h or 2d",
            args.since
        );
        return ExitCode::from(EXIT_BAD_CONFIG);
    };
    let end = chrono::Utc::now().timestamp_millis() as f64 / 1000.0;
    let start = end - window_ms as f64 / 1000.0;
    let fetched = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
        .and_then(|rt| rt.block_on(skywatch_collector::servicemap::fetch(&args.collector, start, end)));
    match fetched {
        Ok(graph) => {
            print!("{}", skywatch_collector::servicemap::render(&graph, args.format));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("skywatch servicemap: {e}");
            ExitCode::from(1)
        }
    }
}

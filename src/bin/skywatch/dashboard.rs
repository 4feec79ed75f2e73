//! `skywatch dashboard`: render, check, push and generate CloudWatch dashboards. Flags in,
//! library calls, exit codes out: 0 ok, 1 a runtime failure (AWS, network, files), 2 bad input.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use skywatch_dashboards::dashboard::{self, generate, presets, push, vars, Rendered};

const EXIT_FAILED: u8 = 1;
const EXIT_BAD_INPUT: u8 = 2;

#[derive(Debug, Subcommand)]
pub enum DashboardCommand {
    /// Print the CloudWatch dashboard body JSON of a dashboard file (our TOML, or a body JSON
    /// file as it is) or a preset. Every problem is reported at once (exit 2).
    Render {
        #[command(flatten)]
        source: SourceArgs,
        /// One line instead of indented JSON.
        #[arg(long)]
        compact: bool,
    },
    /// Check a dashboard file against PutDashboard's rules; every problem with its path (exit 2).
    Check {
        /// Our TOML, or a CloudWatch dashboard body (JSON).
        file: PathBuf,
        /// Set a ${NAME} variable (overrides [vars]); repeatable.
        #[arg(long = "var", value_name = "NAME=VALUE")]
        vars: Vec<String>,
    },
    /// Check locally, then PutDashboard; prints CloudWatch's validation messages.
    Push {
        #[command(flatten)]
        source: SourceArgs,
        /// The dashboard's name (default: [dashboard] name in the file).
        #[arg(long)]
        name: Option<String>,
    },
    /// A dashboard from a service graph: per service requests, latency p50/p99 and fault/error
    /// rates (namespace skywatch/Traces), with an alarm status widget.
    Generate(GenerateArgs),
    /// List the presets.
    Presets,
}

#[derive(Debug, Args)]
pub struct SourceArgs {
    /// Our TOML, or a CloudWatch dashboard body (JSON), recognised by content.
    #[arg(required_unless_present = "preset", conflicts_with = "preset")]
    file: Option<PathBuf>,
    /// A built-in dashboard (see `skywatch dashboard presets`).
    #[arg(long, value_name = "NAME")]
    preset: Option<String>,
    /// Set a ${NAME} variable (overrides [vars]); repeatable.
    #[arg(long = "var", value_name = "NAME=VALUE")]
    vars: Vec<String>,
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// A running skywatch collector's HTTP listener to ask for its service graph: HOST:PORT or
    /// http://HOST:PORT/.
    #[arg(
        long,
        value_name = "HOST:PORT",
        required_unless_present = "graph",
        conflicts_with = "graph"
    )]
    collector: Option<String>,
    /// How far back the collector's graph reaches: 90s, 15m, 1h, 2d.
    #[arg(long, default_value = "1h", requires = "collector")]
    since: String,
    /// A GetServiceGraph answer (JSON with a Services array).
    #[arg(long, value_name = "FILE")]
    graph: Option<PathBuf>,
    /// region (default us-east-1) and account (for alarm ARNs named by convention).
    #[arg(long = "var", value_name = "NAME=VALUE")]
    vars: Vec<String>,
    /// An alarm ARN for the status widget; repeatable. Default: <service>-faults per service.
    #[arg(long = "alarm", value_name = "ARN")]
    alarms: Vec<String>,
    /// Push the dashboard under this name instead of printing it.
    #[arg(long, requires = "push")]
    name: Option<String>,
    /// PutDashboard (needs --name).
    #[arg(long, requires = "name")]
    push: bool,
    /// One line instead of indented JSON.
    #[arg(long)]
    compact: bool,
}

pub fn run(command: DashboardCommand) -> ExitCode {
    match command {
        DashboardCommand::Render { source, compact } => match load(&source) {
            Ok(rendered) => {
                print_body(&rendered, compact);
                ExitCode::SUCCESS
            }
            Err(code) => code,
        },
        DashboardCommand::Check { file, vars } => {
            let source = SourceArgs {
                file: Some(file.clone()),
                preset: None,
                vars,
            };
            match load(&source) {
                Ok(_) => {
                    println!("{}: ok", file.display());
                    ExitCode::SUCCESS
                }
                Err(code) => code,
            }
        }
        DashboardCommand::Push { source, name } => {
            let rendered = match load(&source) {
                Ok(r) => r,
                Err(code) => return code,
            };
            let Some(name) = name.or_else(|| rendered.name.clone()) else {
                eprintln!("skywatch dashboard push: give --name NAME (or [dashboard] name in the file)");
                return ExitCode::from(EXIT_BAD_INPUT);
            };
            put(&name, &rendered)
        }
        DashboardCommand::Generate(args) => generate_command(args),
        DashboardCommand::Presets => {
            for p in presets::ALL {
                println!("{:<12} {}", p.name, p.description);
            }
            ExitCode::SUCCESS
        }
    }
}

fn print_body(rendered: &Rendered, compact: bool) {
    if compact {
        println!("{}", rendered.compact());
    } else {
        print!("{}", rendered.pretty());
    }
}

fn parse_vars(args: &[String]) -> Result<Vec<(String, String)>, ExitCode> {
    args.iter()
        .map(|a| vars::parse_assignment(a))
        .collect::<Result<_, _>>()
        .map_err(|e| {
            eprintln!("skywatch dashboard: {e}");
            ExitCode::from(EXIT_BAD_INPUT)
        })
}

fn load(source: &SourceArgs) -> Result<Rendered, ExitCode> {
    let overrides = parse_vars(&source.vars)?;
    if let Some(name) = &source.preset {
        return dashboard::load_preset(name, &overrides).map_err(|e| {
            eprint!("skywatch dashboard: preset {name}: {e}");
            if matches!(e, dashboard::PresetError::Unknown(_)) {
                eprintln!();
            }
            ExitCode::from(EXIT_BAD_INPUT)
        });
    }
    let Some(file) = &source.file else {
        eprintln!("skywatch dashboard: give a FILE or --preset NAME");
        return Err(ExitCode::from(EXIT_BAD_INPUT));
    };
    let text = std::fs::read_to_string(file).map_err(|e| {
        eprintln!("skywatch dashboard: cannot read {}: {e}", file.display());
        ExitCode::from(EXIT_FAILED)
    })?;
    dashboard::load(&text, &overrides).map_err(|problems| {
        eprint!("{}: {problems}", file.display());
        ExitCode::from(EXIT_BAD_INPUT)
    })
}

fn runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("skywatch dashboard: cannot start the async runtime: {e}");
            ExitCode::from(EXIT_FAILED)
        })
}

fn put(name: &str, rendered: &Rendered) -> ExitCode {
    if let Some(message) = dashboard::validate::check_name(name) {
        eprintln!("skywatch dashboard push: {message}");
        return ExitCode::from(EXIT_BAD_INPUT);
    }
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let body = rendered.body_for_push();
    let result = rt.block_on(async {
        let config = skywatch_aws::sdk_config(skywatch_aws::SdkSettings {
            retries: skywatch_aws::Retries::Standard,
            ..skywatch_aws::SdkSettings::default()
        })
        .await;
        push::put_dashboard(&config, name, &body).await
    });
    match result {
        Ok(messages) => {
            for m in &messages {
                println!("{m}");
            }
            println!("pushed dashboard {name}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("skywatch dashboard push: {e}");
            ExitCode::from(EXIT_FAILED)
        }
    }
}

fn generate_command(args: GenerateArgs) -> ExitCode {
    let overrides = match parse_vars(&args.vars) {
        Ok(v) => v,
        Err(code) => return code,
    };
    let options = match generate::GenerateOptions::from_vars(&overrides, args.alarms) {
        Ok(o) => o,
        Err(problems) => {
            eprint!("skywatch dashboard generate: {problems}");
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    };
    let graph = if let Some(file) = &args.graph {
        let text = match std::fs::read_to_string(file) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("skywatch dashboard generate: cannot read {}: {e}", file.display());
                return ExitCode::from(EXIT_FAILED);
            }
        };
        match serde_json::from_str(&text) {
            Ok(g) => g,
            Err(e) => {
                eprintln!("skywatch dashboard generate: {} is not JSON: {e}", file.display());
                return ExitCode::from(EXIT_BAD_INPUT);
            }
        }
    } else {
        // HOST:PORT, or a URL as a browser shows it (http://127.0.0.1:2000/).
        let given = args.collector.unwrap_or_default();
        let address = given
            .strip_prefix("http://")
            .unwrap_or(&given)
            .trim_end_matches('/')
            .to_string();
        let Ok(window_ms) = skywatch_time::parse_duration_ms(&args.since) else {
            eprintln!(
                "skywatch dashboard generate: --since {:?} is not a duration such as 90s, 15m, 1h or 2d",
                args.since
            );
            return ExitCode::from(EXIT_BAD_INPUT);
        };
        let end = chrono::Utc::now().timestamp_millis() as f64 / 1000.0;
        let start = end - window_ms as f64 / 1000.0;
        let rt = match runtime() {
            Ok(rt) => rt,
            Err(code) => return code,
        };
        match rt.block_on(skywatch_collector::servicemap::fetch(&address, start, end)) {
            Ok(g) => g,
            Err(e) => {
                eprintln!("skywatch dashboard generate: {e}");
                return ExitCode::from(EXIT_FAILED);
            }
        }
    };
    let rendered = match generate::generate(&graph, &options).and_then(dashboard::render_model) {
        Ok(r) => r,
        Err(problems) => {
            eprint!("skywatch dashboard generate: {problems}");
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    };
    if let (true, Some(name)) = (args.push, args.name) {
        return put(&name, &rendered);
    }
    print_body(&rendered, args.compact);
    ExitCode::SUCCESS
}

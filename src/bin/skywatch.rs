//! `skywatch`: the agent, collector, dashboards and alarms behind one command. This binary only
//! parses flags and hands over to the libraries; each library owns its part.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use skywatch_agent::config::{self, Format, Loaded};

/// Observability for web developers on AWS: ship host metrics and logs, collect traces, keep
/// dashboards and alarms in git. Everything works locally first; AWS is configuration.
#[derive(Debug, Parser)]
#[command(name = "skywatch", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the agent daemon: host metrics and log files to CloudWatch or the local store.
    Agent,
    /// Run the trace collector: an X-Ray daemon drop-in that also accepts OTLP.
    Collector,
    /// Render or push CloudWatch dashboards defined as code.
    Dashboard,
    /// Evaluate or push alarm rules defined as code.
    Alarms,
    /// Check or convert agent configuration (ours or the CloudWatch agent's JSON).
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Start the whole local stack (agent, collector, web page) with no AWS needed.
    Up,
}

impl Command {
    fn name(&self) -> &'static str {
        match self {
            Command::Agent => "agent",
            Command::Collector => "collector",
            Command::Dashboard => "dashboard",
            Command::Alarms => "alarms",
            Command::Config(_) => "config",
            Command::Up => "up",
        }
    }
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

/// Exit code for a config with errors.
const EXIT_BAD_CONFIG: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Config(ConfigCommand::Check { file }) => config_check(&file),
        Command::Config(ConfigCommand::Convert { file }) => config_convert(&file),
        other => {
            eprintln!("skywatch {}: not implemented yet", other.name());
            ExitCode::from(1)
        }
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
    let loaded = config::load(file);
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
    let loaded = config::load(file);
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
    print!("{}", config::to_toml(model));
    ExitCode::SUCCESS
}

//! `skywatch`: the agent, collector, dashboards and alarms behind one command. This binary only
//! parses flags and hands over to the libraries; each library owns its part.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

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
    Config,
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
            Command::Config => "config",
            Command::Up => "up",
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    eprintln!("skywatch {}: not implemented yet", cli.command.name());
    ExitCode::from(1)
}

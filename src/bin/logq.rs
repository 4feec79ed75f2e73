//! `logq`: CloudWatch Logs Insights queries over local files.

use std::process::ExitCode;

use clap::Parser;

/// Run CloudWatch Logs Insights queries over local log files, stdin and the agent's local store.
#[derive(Debug, Parser)]
#[command(name = "logq", version, about, long_about = None)]
struct Cli {
    /// The query, in the Logs Insights language.
    query: String,
    /// Files, directories or globs to read; none or "-" reads stdin.
    paths: Vec<String>,
}

fn main() -> ExitCode {
    let _cli = Cli::parse();
    eprintln!("logq: not implemented yet");
    ExitCode::from(1)
}

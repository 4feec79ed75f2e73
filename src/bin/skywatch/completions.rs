//! Shell completions and man pages, generated from the clap definitions of both binaries (logq's
//! command line is its own file, `src/bin/logq/cli.rs`, shared here), so they cannot drift
//! from the flags. The .deb ships what these write (`packaging/build-deb.sh`).

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::CommandFactory;

#[path = "../logq/cli.rs"]
#[allow(dead_code)] // logq's fields are read by logq, not here.
mod logq_cli;

/// Which binary.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Binary {
    Skywatch,
    Logq,
}

#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell.
    shell: clap_complete::Shell,
    /// The command to complete.
    #[arg(long = "for", value_name = "COMMAND", default_value = "skywatch")]
    binary: Binary,
}

#[derive(Debug, clap::Args)]
pub struct ManArgs {
    /// The directory to write skywatch.1, skywatch-<command>.1 and logq.1 into (created).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
}

fn command(binary: Binary) -> clap::Command {
    match binary {
        Binary::Skywatch => crate::Cli::command(),
        Binary::Logq => logq_cli::Cli::command(),
    }
}

pub fn completions(args: &CompletionsArgs) -> ExitCode {
    let mut cmd = command(args.binary);
    let name = cmd.get_name().to_string();
    // Into memory first: clap_complete panics when its writer fails (a closed stdout).
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, name, &mut script);
    let mut out = std::io::stdout().lock();
    match out.write_all(&script).and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("skywatch completions: cannot write: {e}");
            ExitCode::from(1)
        }
    }
}

pub fn man(args: &ManArgs) -> ExitCode {
    let written = std::fs::create_dir_all(&args.out).and_then(|()| {
        clap_mangen::generate_to(command(Binary::Skywatch), &args.out)?;
        clap_mangen::generate_to(command(Binary::Logq), &args.out)
    });
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("skywatch man: cannot write into {}: {e}", args.out.display());
            ExitCode::from(1)
        }
    }
}

//! `skywatch alarms`: check, push and evaluate alarm rules.

use std::process::ExitCode;

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum AlarmsCommand {}

pub fn run(command: AlarmsCommand) -> ExitCode {
    match command {}
}

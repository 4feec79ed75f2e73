//! `skywatch dashboard`: render, push and generate CloudWatch dashboards.

use std::process::ExitCode;

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum DashboardCommand {}

pub fn run(command: DashboardCommand) -> ExitCode {
    match command {}
}

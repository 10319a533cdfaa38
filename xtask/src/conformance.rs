//! `cargo xtask conformance up|run|compare|down` (being written).

use anyhow::Result;
use clap::Subcommand;
use std::process::ExitCode;

/// Conformance commands.
#[derive(Subcommand)]
pub enum ConformanceCmd {}

/// Run a conformance command.
pub fn run(cmd: ConformanceCmd) -> Result<ExitCode> {
    match cmd {}
}

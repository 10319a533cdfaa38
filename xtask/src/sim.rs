//! `cargo xtask sim serve` (being written).

use anyhow::Result;
use clap::Subcommand;
use std::process::ExitCode;

/// Simulator commands.
#[derive(Subcommand)]
pub enum SimCmd {}

/// Run a simulator command.
pub fn run(cmd: SimCmd) -> Result<ExitCode> {
    match cmd {}
}

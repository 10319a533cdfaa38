//! `cargo xtask`: the project's command line. Parses flags into an enum (clap derive) and calls the
//! library crates; no logic lives here beyond wiring and printing.

mod scenario;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// The CAPI simulation and conformance harness.
#[derive(Parser)]
#[command(name = "cargo xtask", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run, list and check scenarios against the simulator.
    #[command(subcommand)]
    Scenario(scenario::ScenarioCmd),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Scenario(cmd) => scenario::run(cmd),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

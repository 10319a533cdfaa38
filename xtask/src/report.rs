//! `cargo xtask report merge`: join the results of sharded runs (JSON lines of run reports) into one
//! set of reports (JSON lines, JUnit, summary).

use anyhow::{Context, Result};
use capi_reports::write::write_atomic;
use clap::Subcommand;
use std::path::PathBuf;
use std::process::ExitCode;

/// Report commands.
#[derive(Subcommand)]
pub enum ReportCmd {
    /// Merge JSON-lines reports (files, or directories holding swarm.jsonl / reports.jsonl).
    Merge {
        /// Inputs.
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        /// Output directory.
        #[arg(long, default_value = "reports/out/merged")]
        out: PathBuf,
    },
}

/// Run a report command.
pub fn run(cmd: ReportCmd) -> Result<ExitCode> {
    match cmd {
        ReportCmd::Merge { inputs, out } => merge(&inputs, &out),
    }
}

fn merge(inputs: &[PathBuf], out: &std::path::Path) -> Result<ExitCode> {
    let mut files = Vec::new();
    for i in inputs {
        if i.is_dir() {
            for name in ["swarm.jsonl", "reports.jsonl"] {
                let p = i.join(name);
                if p.is_file() {
                    files.push(p);
                }
            }
        } else {
            files.push(i.clone());
        }
    }
    let merged = capi_reports::merge::merge_files(&files).context("cannot merge")?;
    for bad in &merged.malformed {
        eprintln!("warning: {bad}");
    }
    let mut reports = merged.reports;
    reports.sort_by(|a, b| (a.scenario.as_str(), a.seed).cmp(&(b.scenario.as_str(), b.seed)));
    reports.dedup_by(|a, b| a.scenario == b.scenario && a.seed == b.seed && a.file == b.file);
    std::fs::create_dir_all(out)?;
    let jsonl: String = reports.iter().map(|r| serde_json::to_string(r).map(|s| s + "\n")).collect::<Result<_, _>>()?;
    write_atomic(&out.join("reports.jsonl"), jsonl.as_bytes())?;
    write_atomic(&out.join("summary.md"), capi_reports::summary::markdown("Merged results", &reports).as_bytes())?;
    // One test case per run (the seed is in the name when a scenario appears more than once).
    let xml = capi_reports::junit::render_reports("merged", &reports);
    write_atomic(&out.join("junit.xml"), xml.as_bytes())?;
    let failing = reports.iter().filter(|r| !r.passed).count();
    outln!("merged {} runs from {} files: {failing} failing; written to {}", reports.len(), files.len(), out.display());
    Ok(if failing > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

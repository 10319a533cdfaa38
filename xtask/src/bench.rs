//! `cargo xtask bench`: the fleet benchmark. For each size, the release build of the simulator's
//! `fleet_bench` example runs the fleet-lifecycle scenario (N quick-start clusters created, upgraded and
//! deleted) in its own process, so each size's peak RSS is its own; the results are written as JSON
//! and a markdown table (`bench.json`, `bench.md`) and printed. A size that fails or is interrupted
//! still leaves the sizes measured before it in the reports.

use anyhow::{bail, Context, Result};
use capi_reports::write::write_atomic;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Duration;

/// `bench` flags.
#[derive(Args)]
pub struct BenchArgs {
    /// Fleet sizes, comma-separated.
    #[arg(long, default_value = "100", value_delimiter = ',')]
    pub clusters: Vec<u64>,
    /// Seed of every run.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Workers per controller, as CAPI's and CAPD's `--*-concurrency` flags set them (default 10, theirs).
    /// A fleet of a thousand clusters outgrows 10 Machine-controller workers; operators raise them.
    #[arg(long, default_value_t = 10)]
    pub concurrency: u32,
    /// Where to write bench.json and bench.md.
    #[arg(long, default_value = "reports/bench")]
    pub out: PathBuf,
    /// Another fleet scenario (it must honour FLEET_SIZE).
    #[arg(long)]
    pub scenario: Option<PathBuf>,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Build the release runner and return its path.
fn build_runner(quiet: bool) -> Result<PathBuf> {
    if !quiet {
        eprintln!("building the release runner (cargo build --release -p capi-sim --example fleet_bench)…");
    }
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "--release", "-p", "capi-sim", "--example", "fleet_bench", "--message-format=json"])
        .current_dir(workspace_root())
        .stderr(if quiet { Stdio::null() } else { Stdio::inherit() })
        .output()
        .context("cannot run cargo")?;
    if !out.status.success() {
        bail!("building the benchmark runner failed");
    }
    // The last compiler-artifact line for the example names the executable.
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["reason"] == "compiler-artifact" && v["target"]["name"] == "fleet_bench")
        .filter_map(|v| v["executable"].as_str().map(PathBuf::from))
        .last()
        .context("cargo did not report the fleet_bench executable")
}

/// Run one size, following its progress lines.
fn run_size(runner: &Path, args: &BenchArgs, clusters: u64, bar: &ProgressBar) -> Result<Value> {
    let mut cmd = Command::new(runner);
    cmd.args(["--clusters", &clusters.to_string(), "--seed", &args.seed.to_string(), "--concurrency", &args.concurrency.to_string()]);
    if let Some(s) = &args.scenario {
        cmd.arg("--scenario").arg(s);
    }
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().context("cannot start the benchmark runner")?;
    let stderr = child.stderr.take().context("stderr")?;
    let mut other = Vec::new();
    for line in BufReader::new(stderr).lines().map_while(Result::ok) {
        let parts: Vec<&str> = line.split_whitespace().collect();
        if let ["progress", step, steps, sim_ms, _wall] = parts.as_slice() {
            let sim_s = sim_ms.parse::<u64>().unwrap_or(0) / 1000;
            bar.set_message(format!("{clusters} clusters: step {step}/{steps}, simulated {}m{:02}s", sim_s / 60, sim_s % 60));
        } else {
            other.push(line);
        }
    }
    let out = child.wait_with_output().context("benchmark runner")?;
    let text = String::from_utf8_lossy(&out.stdout);
    let Some(v) = text.lines().rev().find_map(|l| serde_json::from_str::<Value>(l).ok()) else {
        bail!("the {clusters}-cluster run printed no result ({}): {}", out.status, other.join("\n"));
    };
    Ok(v)
}

fn human_duration(s: f64) -> String {
    let s = s.max(0.0);
    if s < 1.0 {
        format!("{:.1} ms", s * 1000.0)
    } else if s < 120.0 {
        format!("{s:.1} s")
    } else if s < 7200.0 {
        format!("{:.0} min {:02.0} s", (s / 60.0).floor(), s % 60.0)
    } else {
        format!("{:.1} h", s / 3600.0)
    }
}

/// The markdown report.
pub fn markdown(results: &[Value], machine: &Value) -> String {
    let mut md = String::from("# Fleet benchmark\n\n");
    md.push_str(&format!(
        "fleet-lifecycle scenario (quick-start clusters, 3 control-plane + 3 workers each: create → Available → upgrade → delete), seed {}, {} workers per controller, {} cores, {}.\n\n",
        results.first().and_then(|r| r["seed"].as_u64()).unwrap_or(1),
        results.first().and_then(|r| r["concurrency"].as_u64()).unwrap_or(10),
        machine["cores"],
        machine["os"].as_str().unwrap_or("")
    ));
    md.push_str("| clusters | passed | wall | simulated | sim s / wall s | reconciles | reconciles/s | µs/reconcile | events/s | peak RSS | bytes/cluster |\n");
    md.push_str("|---:|:---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for r in results {
        md.push_str(&format!(
            "| {} | {} | {} | {} | {:.0} | {} | {:.0} | {:.0} | {:.0} | {:.0} MiB | {:.0} KiB |\n",
            r["clusters"],
            if r["passed"].as_bool() == Some(true) { "yes" } else { "NO" },
            human_duration(r["wall_s"].as_f64().unwrap_or(0.0)),
            human_duration(r["sim_s"].as_f64().unwrap_or(0.0)),
            r["sim_s_per_wall_s"].as_f64().unwrap_or(0.0),
            r["reconciles"],
            r["reconciles_per_s"].as_f64().unwrap_or(0.0),
            r["wall_us_per_reconcile"].as_f64().unwrap_or(0.0),
            r["events_per_s"].as_f64().unwrap_or(0.0),
            r["peak_rss_bytes"].as_f64().unwrap_or(0.0) / 1048576.0,
            r["bytes_per_cluster"].as_f64().unwrap_or(0.0) / 1024.0,
        ));
    }
    md.push('\n');
    for r in results {
        let sim = r["sim_s"].as_f64().unwrap_or(0.0);
        let wall = r["wall_s"].as_f64().unwrap_or(0.0).max(1e-9);
        md.push_str(&format!(
            "- {} clusters: {} of CAPD time (timing profile `{}`, the real CAPD/KinD durations) simulated in {}: **{:.0}× faster than real**.\n",
            r["clusters"],
            human_duration(sim),
            r["timing_profile"].as_str().unwrap_or("?"),
            human_duration(wall),
            sim / wall
        ));
        if let Some(f) = r["failure"].as_str() {
            md.push_str(&format!("  - failed: {f}\n"));
        }
    }
    if let [first, .., last] = results {
        let (a, b) = (first["wall_us_per_reconcile"].as_f64().unwrap_or(0.0), last["wall_us_per_reconcile"].as_f64().unwrap_or(0.0));
        if a > 0.0 {
            md.push_str(&format!(
                "- Cost per reconcile from {} to {} clusters: {:.2}× (the target is at most 2×).\n",
                first["clusters"],
                last["clusters"],
                b / a
            ));
        }
    }
    md
}

fn write_reports(out: &Path, results: &[Value], machine: &Value) -> Result<()> {
    let json = json!({ "machine": machine, "results": results });
    write_atomic(&out.join("bench.json"), serde_json::to_string_pretty(&json)?.as_bytes())?;
    write_atomic(&out.join("bench.md"), markdown(results, machine).as_bytes())?;
    Ok(())
}

/// `cargo xtask bench`.
pub fn run(args: BenchArgs) -> Result<ExitCode> {
    if args.clusters.is_empty() || args.clusters.contains(&0) {
        bail!("--clusters needs sizes of at least 1, e.g. --clusters 100,1000");
    }
    let runner = build_runner(args.quiet)?;
    let machine = json!({
        "cores": std::thread::available_parallelism().map_or(1, |n| n.get()),
        "os": format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
    });
    let bar = if args.quiet { ProgressBar::hidden() } else { ProgressBar::new(args.clusters.len() as u64) };
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {pos}/{len} sizes  {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    let mut results = Vec::new();
    let mut all_passed = true;
    for &n in &args.clusters {
        bar.set_message(format!("{n} clusters: starting"));
        match run_size(&runner, &args, n, &bar) {
            Ok(v) => {
                all_passed &= v["passed"].as_bool() == Some(true);
                results.push(v);
            }
            Err(e) => {
                bar.suspend(|| eprintln!("error: {e:#}"));
                all_passed = false;
            }
        }
        write_reports(&args.out, &results, &machine)?;
        bar.inc(1);
    }
    bar.finish_and_clear();
    println!("{}", markdown(&results, &machine));
    println!("written: {}, {}", args.out.join("bench.json").display(), args.out.join("bench.md").display());
    Ok(if all_passed { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_markdown_table_has_a_row_per_size_and_the_speedup_line() {
        let r = |n: u64, us: f64| {
            json!({"clusters": n, "seed": 1, "passed": true, "wall_s": 2.0, "sim_s": 600.0, "sim_s_per_wall_s": 300.0, "reconciles": 1000,
                   "reconciles_per_s": 500.0, "wall_us_per_reconcile": us, "events_per_s": 2000.0, "peak_rss_bytes": 10485760,
                   "bytes_per_cluster": 204800, "timing_profile": "large-docker-host", "failure": null})
        };
        let md = markdown(&[r(100, 100.0), r(1000, 150.0)], &json!({"cores": 2, "os": "linux x86_64"}));
        assert!(md.contains("| 100 | yes | 2.0 s | 10 min 00 s | 300 | 1000 | 500 | 100 | 2000 | 10 MiB | 200 KiB |"), "{md}");
        assert!(md.contains("**300× faster than real**"), "{md}");
        assert!(md.contains("from 100 to 1000 clusters: 1.50×"), "{md}");
    }
}

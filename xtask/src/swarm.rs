//! `cargo xtask scenario swarm|replay`: many seeds of one scenario, each with its own random fault
//! mix, on every core; failures grouped by invariant with their replay commands; reports written as
//! results arrive (and on Ctrl-C).

use anyhow::{bail, Context, Result};
use capi_reports::junit::{Swarm, SwarmSeed};
use capi_reports::write::write_atomic;
use capi_scenarios::report::RunReport;
use capi_sim::backend::SimBackend;
use capi_sim::engine::trace::TraceMode;
use capi_sim::mutants::{Mutant, Mutants};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

/// `scenario swarm` flags.
#[derive(Args)]
pub struct SwarmArgs {
    /// The scenario.
    pub path: PathBuf,
    /// Seed range: `A..B` (B excluded) or `A..=B`.
    #[arg(long, default_value = "0..1000")]
    pub seeds: String,
    /// Worker threads (default: every core).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Fault profile (default: the scenario's `fault-profile`, else `default`).
    #[arg(long)]
    pub profile: Option<String>,
    /// Run only shard `i/N` of the seeds (0-based). `JOB_COMPLETION_INDEX` is used as `i` when set
    /// (Kubernetes Indexed Jobs) with `--shards N`.
    #[arg(long)]
    pub shard: Option<String>,
    /// Number of shards when the index comes from `JOB_COMPLETION_INDEX`.
    #[arg(long)]
    pub shards: Option<u64>,
    /// Switch on a known-wrong controller variant.
    #[arg(long = "mutant")]
    pub mutants: Vec<String>,
    /// Where to write swarm.jsonl, failing reports, JUnit and the summary.
    #[arg(long, default_value = "reports/out/swarm")]
    pub out: PathBuf,
    /// Set a variable (repeatable).
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,
    /// No progress bar (CI logs).
    #[arg(long)]
    pub quiet: bool,
    /// Where `fixtures/` is (found by walking up from the scenario by default).
    #[arg(long)]
    pub fixtures: Option<PathBuf>,
}

/// `scenario replay` flags.
#[derive(Args)]
pub struct ReplayArgs {
    /// The scenario.
    pub path: PathBuf,
    /// The seed.
    #[arg(long)]
    pub seed: u64,
    /// Fault profile of the swarm run (default: the scenario's, else `default`).
    #[arg(long)]
    pub profile: Option<String>,
    /// Mutants of the swarm run.
    #[arg(long = "mutant")]
    pub mutants: Vec<String>,
    /// Write the event trace as JSON lines.
    #[arg(long)]
    pub trace: Option<PathBuf>,
    /// Write the timeline page (HTML) here, and its picture beside it (the same name ending in .svg).
    #[arg(long)]
    pub timeline: Option<PathBuf>,
    /// Set a variable (repeatable).
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,
    /// Where `fixtures/` is (found by walking up from the scenario by default).
    #[arg(long)]
    pub fixtures: Option<PathBuf>,
}

/// Parse `A..B` / `A..=B`.
pub fn parse_seeds(s: &str) -> Result<(u64, u64)> {
    let (a, b, inclusive) = if let Some((a, b)) = s.split_once("..=") {
        (a, b, true)
    } else if let Some((a, b)) = s.split_once("..") {
        (a, b, false)
    } else {
        bail!("--seeds {s}: expected A..B or A..=B");
    };
    let a: u64 = a.trim().parse().with_context(|| format!("--seeds {s}: bad start"))?;
    let b: u64 = b.trim().parse().with_context(|| format!("--seeds {s}: bad end"))?;
    let end = if inclusive { b + 1 } else { b };
    if end <= a {
        bail!("--seeds {s}: empty range");
    }
    Ok((a, end))
}

/// The shard `(index, count)`: `--shard i/N`, or `JOB_COMPLETION_INDEX` with `--shards N`.
pub fn parse_shard(shard: Option<&str>, shards: Option<u64>) -> Result<(u64, u64)> {
    if let Some(s) = shard {
        let (i, n) = s.split_once('/').with_context(|| format!("--shard {s}: expected i/N"))?;
        let (i, n): (u64, u64) = (i.trim().parse()?, n.trim().parse()?);
        if n == 0 || i >= n {
            bail!("--shard {s}: need 0 <= i < N");
        }
        return Ok((i, n));
    }
    if let (Ok(i), Some(n)) = (std::env::var("JOB_COMPLETION_INDEX"), shards) {
        let i: u64 = i.trim().parse().context("JOB_COMPLETION_INDEX is not a number")?;
        if n == 0 || i >= n {
            bail!("JOB_COMPLETION_INDEX={i} is outside --shards {n}");
        }
        return Ok((i, n));
    }
    Ok((0, 1))
}

/// The mutants named on the command line.
pub fn parse_mutants(names: &[String]) -> Result<Mutants> {
    names.iter().map(|m| m.parse::<Mutant>().map_err(anyhow::Error::msg)).collect()
}

pub use capi_sim::swarm::run_seed;

/// The replay command of a failing seed: every flag that changes the run (variables, fixtures,
/// mutants) goes with it, so the line reproduces the seed exactly.
pub fn replay_command(file: &str, seed: u64, profile: &str, extra: &ReplayFlags<'_>) -> String {
    let mut s = format!("cargo xtask scenario replay {} --seed {seed} --profile {}", shell_word(file), shell_word(profile));
    for v in extra.vars {
        s.push_str(&format!(" --var {}", shell_word(v)));
    }
    if let Some(f) = extra.fixtures {
        s.push_str(&format!(" --fixtures {}", shell_word(&f.display().to_string())));
    }
    for m in extra.mutants {
        s.push_str(&format!(" --mutant {}", shell_word(m)));
    }
    s
}

/// The flags of a run that a replay line must repeat.
pub struct ReplayFlags<'a> {
    /// `--var NAME=VALUE`, as given.
    pub vars: &'a [String],
    /// `--fixtures`.
    pub fixtures: Option<&'a std::path::Path>,
    /// `--mutant`.
    pub mutants: &'a [String],
}

impl<'a> ReplayFlags<'a> {
    /// The flags of a swarm run.
    pub fn of(args: &'a SwarmArgs) -> Self {
        ReplayFlags { vars: &args.vars, fixtures: args.fixtures.as_deref(), mutants: &args.mutants }
    }
}

/// A word as a POSIX shell reads it back: bare when it is plain, single-quoted otherwise.
pub fn shell_word(w: &str) -> String {
    let plain = !w.is_empty() && w.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
    if plain {
        w.to_string()
    } else {
        format!("'{}'", w.replace('\'', "'\\''"))
    }
}

/// Strip a report down to what a swarm keeps per seed.
fn compact(mut r: RunReport) -> RunReport {
    r.objects.clear();
    r.containers.clear();
    r.timeline = None;
    r.describe = None;
    r
}

/// Run a swarm.
pub fn swarm(args: &SwarmArgs) -> Result<ExitCode> {
    let vars = crate::scenario::parse_vars(&args.vars)?;
    let scenario = Arc::new(
        capi_scenarios::load(&args.path, &capi_scenarios::LoadOptions { vars, fixtures_dir: args.fixtures.clone() })
            .map_err(|e| anyhow::anyhow!("{e}"))?,
    );
    let (start, end) = parse_seeds(&args.seeds)?;
    let (shard, shards) = parse_shard(args.shard.as_deref(), args.shards)?;
    let seeds: Vec<u64> = (start..end).filter(|s| (s - start) % shards == shard).collect();
    let profile = args.profile.clone().or_else(|| scenario.fault_profile.clone()).unwrap_or_else(|| "default".into());
    capi_sim::faults::profile::profile(&profile).map_err(anyhow::Error::msg)?;
    let mutants = parse_mutants(&args.mutants)?;
    let jobs = args.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())).max(1);
    std::fs::create_dir_all(&args.out).with_context(|| format!("cannot create {}", args.out.display()))?;
    let jsonl_path = args.out.join("swarm.jsonl");
    let mut jsonl =
        std::io::BufWriter::new(std::fs::File::create(&jsonl_path).with_context(|| format!("cannot create {}", jsonl_path.display()))?);

    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        let _ = ctrlc::set_handler(move || stop.store(true, Ordering::SeqCst));
    }
    let next = Arc::new(AtomicU64::new(0));
    let seeds = Arc::new(seeds);
    let (tx, rx) = mpsc::channel::<(u64, RunReport, Duration)>();
    let mut handles = Vec::new();
    for _ in 0..jobs {
        let (tx, next, seeds, stop, scenario, mutants, profile) =
            (tx.clone(), next.clone(), seeds.clone(), stop.clone(), scenario.clone(), mutants.clone(), profile.clone());
        handles.push(std::thread::spawn(move || loop {
            if stop.load(Ordering::SeqCst) {
                break;
            }
            let i = next.fetch_add(1, Ordering::SeqCst) as usize;
            let Some(&seed) = seeds.get(i) else { break };
            let t = Instant::now();
            let (report, _) = run_seed(&scenario, seed, Some(&profile), &mutants, Vec::new(), TraceMode::Hash, false);
            if tx.send((seed, compact(report), t.elapsed())).is_err() {
                break;
            }
        }));
    }
    drop(tx);
    let bar = if args.quiet { ProgressBar::hidden() } else { ProgressBar::new(seeds.len() as u64) };
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} seeds · {per_sec} · {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let started = Instant::now();
    let mut results: Vec<SwarmSeed> = Vec::new();
    let mut failing: BTreeMap<String, Vec<(u64, String)>> = BTreeMap::new();
    let file = args.path.display().to_string();
    let mut failures = 0usize;
    let write_reports = |results: &[SwarmSeed],
                         failing: &BTreeMap<String, Vec<(u64, String)>>,
                         done: usize,
                         elapsed: Duration|
     -> Result<()> {
        let sw = Swarm { scenario: scenario.name.clone(), file: file.clone(), seeds: results.to_vec() };
        write_atomic(&args.out.join("junit.xml"), capi_reports::junit::swarm(&format!("swarm {}", scenario.name), &sw).as_bytes())?;
        let mut md = format!(
            "# Swarm of {} ({})\n\nprofile `{profile}`, seeds `{}` shard {shard}/{shards}, {done} runs in {:.1}s ({:.1} runs/s), {} failing\n\n",
            scenario.name,
            file,
            args.seeds,
            elapsed.as_secs_f64(),
            done as f64 / elapsed.as_secs_f64().max(1e-9),
            failing.values().map(Vec::len).sum::<usize>()
        );
        for (inv, seeds) in failing {
            md.push_str(&format!("## {inv} — {} seeds\n\n", seeds.len()));
            for (seed, msg) in seeds.iter().take(20) {
                md.push_str(&format!("- seed {seed}: {msg}\n  `{}`\n", replay_command(&file, *seed, &profile, &ReplayFlags::of(args))));
            }
            md.push('\n');
        }
        write_atomic(&args.out.join("summary.md"), md.as_bytes())?;
        Ok(())
    };
    for (seed, report, wall) in rx {
        writeln!(jsonl, "{}", serde_json::to_string(&report)?)?;
        let mut s = SwarmSeed::from_report(&report, Some(wall));
        s.replay_command = replay_command(&file, seed, &profile, &ReplayFlags::of(args));
        if !report.passed {
            failures += 1;
            let key = report
                .violations
                .first()
                .map(|v| v.invariant.clone())
                .or_else(|| report.error.as_ref().map(|_| "error".to_string()))
                .unwrap_or_else(|| "failed".into());
            let msg = report.violations.first().map(|v| v.message.clone()).or(report.error.clone()).unwrap_or_default();
            failing.entry(key).or_default().push((seed, msg));
            write_atomic(&args.out.join(format!("seed-{seed}.json")), serde_json::to_string_pretty(&report)?.as_bytes())?;
        }
        results.push(s);
        bar.inc(1);
        bar.set_message(format!("{failures} failing"));
        if results.len().rem_euclid(200) == 0 {
            jsonl.flush()?;
            write_reports(&results, &failing, results.len(), started.elapsed())?;
        }
    }
    for h in handles {
        let _ = h.join();
    }
    bar.finish_and_clear();
    jsonl.flush()?;
    results.sort_by_key(|s| s.seed);
    let elapsed = started.elapsed();
    write_reports(&results, &failing, results.len(), elapsed)?;
    let interrupted = stop.load(Ordering::SeqCst);
    outln!(
        "swarm {}: {} of {} seeds run in {:.1}s ({:.1} runs/s, {jobs} jobs), {failures} failing{}",
        scenario.name,
        results.len(),
        seeds.len(),
        elapsed.as_secs_f64(),
        results.len() as f64 / elapsed.as_secs_f64().max(1e-9),
        if interrupted { " (interrupted)" } else { "" }
    );
    for (inv, seeds) in &failing {
        outln!("  {inv}: {} seeds", seeds.len());
        for (seed, msg) in seeds.iter().take(3) {
            outln!("    seed {seed}: {msg}");
            outln!("      {}", replay_command(&file, *seed, &profile, &ReplayFlags::of(args)));
        }
    }
    outln!("reports: {}", args.out.display());
    Ok(if interrupted {
        ExitCode::from(130)
    } else if failures > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Replay one seed exactly.
pub fn replay(args: &ReplayArgs) -> Result<ExitCode> {
    let vars = crate::scenario::parse_vars(&args.vars)?;
    let scenario = capi_scenarios::load(&args.path, &capi_scenarios::LoadOptions { vars, fixtures_dir: args.fixtures.clone() })
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let profile = args.profile.clone().or_else(|| scenario.fault_profile.clone()).unwrap_or_else(|| "default".into());
    let mutants = parse_mutants(&args.mutants)?;
    let trace = if args.trace.is_some() { TraceMode::Full } else { TraceMode::Hash };
    let t = Instant::now();
    let (report, backend) = run_seed(&scenario, args.seed, Some(&profile), &mutants, Vec::new(), trace, args.timeline.is_some());
    write_trace_and_timeline(&report, &backend, args.trace.as_deref(), args.timeline.as_deref())?;
    print_seed(&report, t.elapsed());
    Ok(if report.passed { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// Write a run's trace (JSON lines) and timeline (HTML, and the SVG beside it) when asked for.
pub fn write_trace_and_timeline(report: &RunReport, backend: &SimBackend, trace: Option<&Path>, timeline: Option<&Path>) -> Result<()> {
    if let (Some(p), Some(sim)) = (trace, backend.sim()) {
        let mut out = std::io::BufWriter::new(std::fs::File::create(p).with_context(|| format!("cannot create {}", p.display()))?);
        for i in 0..sim.trace.lines().len() {
            writeln!(out, "{}", sim.trace.json_line(&report.scenario, i))?;
        }
        out.flush()?;
    }
    if let (Some(p), Some(t)) = (timeline, &report.timeline) {
        capi_reports::write::write_timeline_files(p, t, &capi_reports::timeline::report_title(report))?;
    }
    Ok(())
}

/// Print a seed's outcome.
pub fn print_seed(report: &RunReport, wall: Duration) {
    outln!(
        "{} seed {}: {}, {} faults, trace {}, {} simulated in {:.2}s",
        report.scenario,
        report.seed,
        if report.passed { "passed" } else { "FAILED" },
        report.faults.len(),
        report.trace_hash.as_deref().unwrap_or("-"),
        capi_scenarios::DurationMs(report.sim_time_ms / 1000 * 1000),
        wall.as_secs_f64()
    );
    for f in &report.faults {
        outln!(
            "  fault t={}s {} on {}{}",
            f.at_ms / 1000,
            f.kind,
            f.target,
            f.healed_at_ms.map(|h| format!(" (healed t={}s)", h / 1000)).unwrap_or_default()
        );
    }
    for v in &report.violations {
        outln!("  violation {} at t={}s (event #{}): {}", v.invariant, v.at_ms / 1000, v.event_index, v.message);
    }
    if let Some(e) = &report.error {
        outln!("  error: {e}");
    }
}

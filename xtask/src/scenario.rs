//! `cargo xtask scenario run|list|check`: scenarios against the simulator.

use anyhow::{bail, Context, Result};
use capi_scenarios::report::{RunReport, StepStatus};
use capi_scenarios::runner::{self, RunOptions};
use capi_scenarios::{LoadOptions, Scenario};
use capi_sim::backend::{SimBackend, SimOptions};
use capi_sim::engine::trace::TraceMode;
use capi_sim::mutants::Mutant;
use clap::{Args, Subcommand};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

/// Scenario commands.
#[derive(Subcommand)]
pub enum ScenarioCmd {
    /// Run scenarios (files or directories of *.yaml) and exit non-zero if any fails.
    Run(RunArgs),
    /// List the scenario library: name and the first sentence of each description.
    List(ListArgs),
    /// Parse and check scenarios without running them (schema, variables, manifests, timing, faults, kinds).
    Check(CheckArgs),
    /// Print the JSON Schema of the scenario language (committed as scenarios/schema/scenario.schema.json).
    Schema,
    /// Run many seeds of a scenario, each with its own random fault mix.
    Swarm(crate::swarm::SwarmArgs),
    /// Reproduce one swarm seed exactly (same trace hash).
    Replay(crate::swarm::ReplayArgs),
    /// Minimize a failing seed's fault schedule and write it as a scenario.
    Shrink(crate::shrink::ShrinkArgs),
    /// Print a flavor's manifests as `clusterctl generate cluster` renders them (to `kubectl apply`).
    Render(crate::render::RenderArgs),
}

/// `scenario list` flags.
#[derive(Args)]
pub struct ListArgs {
    /// Directory or files to list (default: scenarios/library).
    pub paths: Vec<PathBuf>,
    /// Output: `table` (default) or `json` (one array of {name, file, description, summary, steps}).
    #[arg(short = 'o', long = "output", default_value = "table", value_parser = ["table", "json"])]
    pub output: String,
    /// Set a variable (repeatable), as for `run`.
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,
    /// Where `fixtures/` is (found by walking up from the scenario by default).
    #[arg(long)]
    pub fixtures: Option<PathBuf>,
}

/// `scenario check` flags.
#[derive(Args)]
pub struct CheckArgs {
    /// Files or directories.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Set a variable (repeatable), as for `run`.
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,
    /// Where `fixtures/` is (found by walking up from the scenario by default).
    #[arg(long)]
    pub fixtures: Option<PathBuf>,
}

/// `scenario run` flags.
#[derive(Args)]
pub struct RunArgs {
    /// Scenario files or directories.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Seed (overrides the scenario's `seed:`); also read from CAPI_SIM_SEED.
    #[arg(long, env = "CAPI_SIM_SEED")]
    pub seed: Option<u64>,
    /// Print one JSON object per scenario instead of the human summary.
    #[arg(long)]
    pub json: bool,
    /// Write the event trace as JSON lines to this file.
    #[arg(long)]
    pub trace: Option<PathBuf>,
    /// Print `clusterctl describe cluster --show-conditions all` for every Cluster at the end.
    #[arg(long)]
    pub describe: bool,
    /// Set a variable (repeatable): --var KUBERNETES_VERSION=v1.35.0.
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,
    /// Where `fixtures/` is (found by walking up from the scenario by default).
    #[arg(long)]
    pub fixtures: Option<PathBuf>,
    /// Switch on a known-wrong controller variant (testing the harness itself).
    #[arg(long = "mutant")]
    pub mutants: Vec<String>,
    /// Write reports here: reports.jsonl, junit.xml, summary.md and a timeline picture per run.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Inject random faults from this profile and end with the liveness phase.
    #[arg(long)]
    pub profile: Option<String>,
    /// Workers per controller in the simulator, as CAPI's and CAPD's `--*-concurrency` flags set them
    /// (default: each controller's default in the modelled release, 1-100).
    #[arg(long)]
    pub concurrency: Option<u32>,
    /// Stop after this much wall time (`90s`, `30m`, `1h 30m`): the run ends with its reports written
    /// and marked interrupted, and exits non-zero, as on SIGINT/SIGTERM.
    #[arg(long, value_parser = crate::stop::parse_limit)]
    pub wall_limit: Option<std::time::Duration>,
}

/// Run a scenario command.
pub fn run(cmd: ScenarioCmd) -> Result<ExitCode> {
    match cmd {
        ScenarioCmd::Run(args) => run_scenarios(&args),
        ScenarioCmd::List(args) => list(&args),
        ScenarioCmd::Check(args) => check(&args),
        ScenarioCmd::Schema => {
            outln!("{}", capi_scenarios::schema::scenario_schema_json().trim_end());
            Ok(ExitCode::SUCCESS)
        }
        ScenarioCmd::Swarm(a) => crate::swarm::swarm(&a),
        ScenarioCmd::Replay(a) => crate::swarm::replay(&a),
        ScenarioCmd::Shrink(a) => crate::shrink::shrink(&a),
        ScenarioCmd::Render(a) => crate::render::run(&a),
    }
}

/// Expand directories into their `*.yaml` files (sorted).
pub fn expand(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(p)
                .with_context(|| format!("cannot read directory {}", p.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.extension().is_some_and(|x| x == "yaml" || x == "yml"))
                .collect();
            files.sort();
            out.extend(files);
        } else if p.is_file() {
            out.push(p.clone());
        } else {
            bail!("{}: no such file or directory", p.display());
        }
    }
    Ok(out)
}

/// Parse `NAME=VALUE` flags.
pub fn parse_vars(vars: &[String]) -> Result<capi_scenarios::vars::Vars> {
    let mut out = capi_scenarios::vars::Vars::new();
    for v in vars {
        let (k, val) = v.split_once('=').with_context(|| format!("--var {v}: expected NAME=VALUE"))?;
        out.insert(k.to_string(), val.to_string());
    }
    Ok(out)
}

fn load(path: &Path, vars: &capi_scenarios::vars::Vars, fixtures: Option<&Path>) -> Result<Scenario, capi_scenarios::ScenarioError> {
    capi_scenarios::load(path, &LoadOptions { vars: vars.clone(), fixtures_dir: fixtures.map(Path::to_path_buf) })
}

fn run_scenarios(args: &RunArgs) -> Result<ExitCode> {
    let files = expand(&args.paths)?;
    let vars = parse_vars(&args.vars)?;
    let mutants: capi_sim::mutants::Mutants =
        args.mutants.iter().map(|m| m.parse::<Mutant>().map_err(anyhow::Error::msg)).collect::<Result<_>>()?;
    let mut trace_out = match &args.trace {
        Some(p) => Some(std::io::BufWriter::new(std::fs::File::create(p).with_context(|| format!("cannot create {}", p.display()))?)),
        None => None,
    };
    let mut sink = match &args.out {
        Some(dir) => Some(capi_reports::write::ReportSink::create(dir.clone(), "scenario run")?),
        None => None,
    };
    if let Some(s) = sink.as_mut() {
        s.expect_runs(files.len());
        s.flush()?;
    }
    let stop = crate::stop::install(args.wall_limit);
    let batch_started = Instant::now();
    let mut tally = Tally::new(files.len());
    for file in &files {
        if stop.is_stopped() {
            break;
        }
        let scenario = match load(file, &vars, args.fixtures.as_deref()) {
            Ok(s) => s,
            Err(e) => {
                tally.failed += 1;
                if args.json {
                    outln!("{}", serde_json::json!({"scenario": file.display().to_string(), "passed": false, "error": e.to_string()}));
                } else {
                    eprintln!("✗ {e}");
                }
                // In the reports too: a file that does not load is an error case in JUnit, not a
                // scenario that silently went missing.
                if let Some(s) = sink.as_mut() {
                    let report = RunReport {
                        scenario: file.file_stem().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
                        file: file.display().to_string(),
                        backend: "sim".into(),
                        error: Some(e.to_string()),
                        ..RunReport::default()
                    };
                    s.push(report, None)?;
                    s.flush()?;
                }
                continue;
            }
        };
        let opts = SimOptions {
            trace: if trace_out.is_some() { TraceMode::Full } else { TraceMode::Hash },
            mutants: mutants.clone(),
            fixtures_dir: args.fixtures.clone(),
            timeline: sink.is_some(),
            fault_profile: args.profile.clone(),
            concurrency: args.concurrency,
            ..Default::default()
        };
        let mut backend = SimBackend::new(opts);
        let started = Instant::now();
        let run_opts = RunOptions {
            seed: args.seed,
            describe: args.describe,
            liveness: args.profile.is_some(),
            stop: Some(stop.clone()),
            ..Default::default()
        };
        let mut report = pollster::block_on(runner::run(&mut backend, &scenario, &run_opts));
        let wall = started.elapsed();
        report.wall_time_ms = Some(wall.as_millis() as u64);
        if let (Some(out), Some(sim)) = (trace_out.as_mut(), backend.sim()) {
            for i in 0..sim.trace.lines().len() {
                writeln!(out, "{}", sim.trace.json_line(&scenario.name, i))?;
            }
        }
        tally.count(&report);
        if args.json {
            outln!("{}", serde_json::to_string(&report)?);
        } else {
            print_human(&report, wall.as_secs_f64());
        }
        if let Some(s) = sink.as_mut() {
            s.push(report, Some(wall))?;
            s.flush()?;
        }
    }
    let interrupted = stop.reason();
    if let (Some(s), Some(why)) = (sink.as_mut(), &interrupted) {
        s.interrupt(why)?;
    }
    if let Some(s) = sink {
        let files = s.finish()?;
        if !args.json {
            outln!("reports: {}", files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>().join(", "));
        }
    }
    if let Some(mut out) = trace_out {
        out.flush()?;
    }
    let line = tally.line(interrupted.as_deref(), batch_started.elapsed());
    if args.json {
        if let Some(why) = &interrupted {
            outln!(
                "{}",
                serde_json::json!({"interrupted": why, "scenarios": files.len(), "passed": tally.passed, "failed": tally.failed,
                    "interrupted_runs": tally.interrupted, "not_run": tally.not_run()})
            );
        }
        eprintln!("{line}");
    } else {
        outln!("{line}");
    }
    Ok(if interrupted.is_some() {
        ExitCode::from(crate::stop::INTERRUPTED_EXIT)
    } else if tally.failed + tally.interrupted > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// What a run of scenarios came to, for its last line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Scenarios the run was given.
    pub total: usize,
    /// Runs that passed.
    pub passed: usize,
    /// Runs that failed (a failed step, a violated invariant, a file that does not load).
    pub failed: usize,
    /// Runs cut short by a signal or a wall-time limit.
    pub interrupted: usize,
}

impl Tally {
    /// A tally of `total` scenarios, none run yet.
    pub fn new(total: usize) -> Self {
        Tally { total, ..Tally::default() }
    }

    /// Count one report.
    pub fn count(&mut self, report: &RunReport) {
        if report.passed {
            self.passed += 1;
        } else if report.interrupted.is_some() {
            self.interrupted += 1;
        } else {
            self.failed += 1;
        }
    }

    /// Scenarios never started (the run stopped first).
    pub fn not_run(&self) -> usize {
        self.total.saturating_sub(self.passed + self.failed + self.interrupted)
    }

    /// The last line of the run: the verdict, every count, and the whole run's wall time, e.g.
    /// `FAILED: 20 scenarios: 18 passed, 2 failed, 0 interrupted, 0 not run in 14.2s wall time`.
    pub fn line(&self, stopped: Option<&str>, wall: std::time::Duration) -> String {
        let counts = format!(
            "{} {}: {} passed, {} failed, {} interrupted, {} not run in {} wall time",
            self.total,
            if self.total == 1 { "scenario" } else { "scenarios" },
            self.passed,
            self.failed,
            self.interrupted,
            self.not_run(),
            wall_text(wall)
        );
        match stopped {
            Some(why) => format!("INTERRUPTED ({why}): {counts}"),
            None if self.failed > 0 || self.interrupted > 0 || self.not_run() > 0 => format!("FAILED: {counts}"),
            None => format!("PASSED: {counts}"),
        }
    }
}

/// A wall time for people: `0.8s`, `14.2s`, `3m 05s`, `1h 02m`.
pub fn wall_text(d: std::time::Duration) -> String {
    let s = d.as_secs_f64();
    if s < 60.0 {
        format!("{s:.1}s")
    } else if s < 3600.0 {
        format!("{}m {:02}s", d.as_secs() / 60, d.as_secs() % 60)
    } else {
        format!("{}h {:02}m", d.as_secs() / 3600, (d.as_secs() % 3600) / 60)
    }
}

fn fmt_ms(ms: u64) -> String {
    capi_scenarios::DurationMs(ms / 1000 * 1000).to_string()
}

fn print_human(r: &RunReport, wall_s: f64) {
    outln!("▶ {} ({}) seed={}", r.scenario, r.file, r.seed);
    for s in &r.steps {
        let mark = match s.status {
            StepStatus::Passed => "✓",
            StepStatus::Failed => "✗",
            StepStatus::Skipped => "·",
            StepStatus::Interrupted => "⏹",
        };
        let took = if s.took_ms > 0 { format!(" (+{})", fmt_ms(s.took_ms)) } else { String::new() };
        let msg = s.message.lines().next().unwrap_or("");
        outln!("  {mark} [{}] {:<10} line {:<4} t={}{took}  {msg}", s.index, s.kind, s.line, fmt_ms(s.at_ms));
        if s.kind == "clusterctl" && s.status == StepStatus::Passed && s.message.lines().count() > 1 {
            for l in s.message.lines() {
                outln!("      {l}");
            }
        }
    }
    for v in &r.violations {
        outln!("  ! violation {} at t={} (event #{}): {}", v.invariant, fmt_ms(v.at_ms), v.event_index, v.message);
    }
    if let Some(e) = &r.error {
        outln!("  ! {e}");
    }
    if let Some(why) = &r.interrupted {
        outln!("  ! {why}");
    }
    if let Some(d) = &r.describe {
        outln!();
        for l in d.lines() {
            outln!("  {l}");
        }
    }
    outln!(
        "  {} — {} simulated in {:.2}s wall, {} reconciles, {} events, trace {}",
        if r.passed {
            "PASSED"
        } else if r.interrupted.is_some() {
            "INTERRUPTED"
        } else {
            "FAILED"
        },
        fmt_ms(r.sim_time_ms),
        wall_s,
        r.reconciles,
        r.events,
        r.trace_hash.as_deref().unwrap_or("-")
    );
    if !r.passed {
        outln!("  replay: cargo xtask scenario run {} --seed {}", r.file, r.seed);
    }
}

fn list(args: &ListArgs) -> Result<ExitCode> {
    let paths = if args.paths.is_empty() { vec![PathBuf::from("scenarios/library")] } else { args.paths.clone() };
    let files = expand(&paths)?;
    let vars = parse_vars(&args.vars)?;
    let mut rows = Vec::new();
    let mut bad = 0;
    for f in files {
        let row = match load(&f, &vars, args.fixtures.as_deref()) {
            Ok(s) => serde_json::json!({
                "name": s.name,
                "file": f.display().to_string(),
                "summary": first_sentence(&s.description),
                "description": s.description.trim(),
                "steps": s.steps.len(),
            }),
            Err(e) => {
                bad += 1;
                serde_json::json!({
                    "name": f.file_stem().unwrap_or_default().to_string_lossy(),
                    "file": f.display().to_string(),
                    "error": e.to_string(),
                })
            }
        };
        rows.push(row);
    }
    if args.output == "json" {
        outln!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        let width = rows.iter().filter_map(|r| r["name"].as_str()).map(str::len).max().unwrap_or(0).clamp(4, 40);
        for r in &rows {
            let name = r["name"].as_str().unwrap_or("");
            match r["error"].as_str() {
                Some(e) => outln!("{name:<width$}  (invalid: {e})"),
                None => outln!("{name:<width$}  {}", r["summary"].as_str().unwrap_or("")),
            }
        }
    }
    Ok(if bad > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

/// The first sentence of a description, on one line: up to the first `. ` (or the end).
pub fn first_sentence(text: &str) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match flat.find(". ") {
        Some(i) => flat[..=i].to_string(),
        None => flat,
    }
}

fn check(args: &CheckArgs) -> Result<ExitCode> {
    let files = expand(&args.paths)?;
    let vars = parse_vars(&args.vars)?;
    let mut bad = 0;
    for f in files {
        match load(&f, &vars, args.fixtures.as_deref()) {
            Ok(s) => {
                let fixtures = args.fixtures.clone().or_else(|| capi_scenarios::parse::find_fixtures(&f));
                let problems = capi_sim::check::check(&s, fixtures.as_deref());
                if problems.is_empty() {
                    outln!("ok   {} ({} steps)", f.display(), s.steps.len());
                } else {
                    bad += 1;
                    for p in problems {
                        outln!("FAIL {p}");
                    }
                }
            }
            Err(e) => {
                bad += 1;
                outln!("FAIL {e}");
            }
        }
    }
    Ok(if bad > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

//! One size of the fleet benchmark, run inside this process: `cargo xtask bench` starts its own
//! binary again as `xtask bench --run-one --clusters N [--seed S] [--concurrency W] [--scenario FILE]`
//! for each size, so that each size's peak RSS is its own and no cargo is needed at bench time.
//! It runs the fleet-lifecycle scenario (create → Available → upgrade → delete of N quick-start
//! clusters) with tracing off and prints one JSON line with the measurements on stdout. Progress goes
//! to stderr as `start <timing_profile> <baseline_rss>` first, `progress <step> <steps> <sim_ms>
//! <wall_s> <line> <kind>` after each step and `tick <sim_ms> <reconciles> <events> <wall_s>
//! <peak_rss>` during waits, which the parent ([`super`]) follows.
//!
//! The wall clock is read here only to time the run from outside; the simulation never sees it.

use super::BenchArgs;
use anyhow::{Context, Result};
use capi_scenarios::runner::{self, RunOptions};
use capi_sim::backend::{ProgressHook, SimBackend, SimOptions};
use capi_sim::engine::trace::TraceMode;
use serde_json::json;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// A `/proc/self/status` field in bytes (Linux); 0 elsewhere.
fn proc_status_bytes(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with(field)).and_then(|l| l.split_whitespace().nth(1).and_then(|kb| kb.parse::<u64>().ok()))
        })
        .map_or(0, |kb| kb * 1024)
}

/// The fleet scenario of the benchmark, in the source tree this binary was built from.
pub fn default_scenario() -> PathBuf {
    super::workspace_root().join("scenarios/library/fleet-lifecycle.yaml")
}

/// Run one size (the first of `--clusters`) and print its JSON line.
pub fn run(args: &BenchArgs) -> Result<ExitCode> {
    let clusters = *args.clusters.first().context("--run-one needs --clusters N")?;
    let seed = args.seed;
    // `None`: every controller runs its default workers in the modelled release (`--*-concurrency`).
    let concurrency = args.concurrency;
    let path = args.scenario.clone().unwrap_or_else(default_scenario);
    let mut load = capi_scenarios::LoadOptions::default();
    load.vars.insert("FLEET_SIZE".into(), clusters.to_string());
    let scenario = capi_scenarios::load(&path, &load).map_err(|e| anyhow::anyhow!("{e}"))?;
    let timing = scenario.timing.clone().unwrap_or_else(|| "capd-default".into());
    let baseline_rss = proc_status_bytes("VmRSS:");
    eprintln!("start {timing} {baseline_rss}");
    let started = Instant::now(); // determinism-ok: the bench times the run from outside; the simulation never reads it

    // Counts as of the last tick: every 10 simulated seconds of a wait and at its end. They go to
    // stderr as `tick` lines, so that a run stopped before its end (a time limit, the OOM killer)
    // still leaves its rate measured so far.
    let counts = Arc::new(Mutex::new((0u64, 0u64)));
    let progress = {
        let counts = counts.clone();
        ProgressHook {
            every_ms: 10_000,
            f: Arc::new(move |sim: &capi_sim::engine::Sim| {
                let (reconciles, events) = (sim.reconciles(), sim.events());
                if let Ok(mut c) = counts.lock() {
                    *c = (reconciles, events);
                }
                let wall = started.elapsed().as_secs_f64();
                eprintln!("tick {} {reconciles} {events} {wall:.3} {}", sim.now(), proc_status_bytes("VmHWM:"));
            }),
        }
    };
    // A fleet of N clusters handles about 12,000 events per cluster: the default budget (meant to stop
    // runaway scenarios) would cut a fleet of thousands short.
    let max_events = clusters.saturating_mul(100_000).max(SimOptions::default().max_events);
    let mut backend =
        SimBackend::new(SimOptions { trace: TraceMode::Off, concurrency, max_events, progress: Some(progress), ..Default::default() });
    let steps = scenario.steps.len();
    let step_walls = Arc::new(Mutex::new(Vec::new()));
    let hook = {
        let step_walls = step_walls.clone();
        runner::StepHook(Arc::new(move |s: &capi_scenarios::report::StepReport| {
            let wall = started.elapsed().as_secs_f64();
            eprintln!("progress {} {steps} {} {wall:.3} {} {}", s.index + 1, s.at_ms + s.took_ms, s.line, s.kind);
            let (reconciles, events) = counts.lock().map(|c| *c).unwrap_or_default();
            if let Ok(mut w) = step_walls.lock() {
                w.push(json!({ "step": s.index, "kind": s.kind, "line": s.line, "sim_end_s": (s.at_ms + s.took_ms) as f64 / 1000.0,
                               "wall_end_s": wall, "reconciles_end": reconciles, "events_end": events }));
            }
        }))
    };
    let opts = RunOptions { seed: Some(seed), on_step: Some(hook), ..Default::default() };
    let report = pollster::block_on(runner::run(&mut backend, &scenario, &opts));
    let wall = started.elapsed().as_secs_f64();
    let steps_json = step_walls.lock().map(|w| w.clone()).unwrap_or_default();
    let peak_rss = proc_status_bytes("VmHWM:");
    let failed = report.steps.iter().find(|s| !s.passed).map(|s| format!("step {} ({}, line {}): {}", s.index, s.kind, s.line, s.message));
    let sim_s = report.sim_time_ms as f64 / 1000.0;
    // Per controller: how much work it did and how many errors and requeues, to see which one a fleet
    // saturates, with the workers it ran.
    let controllers: Vec<serde_json::Value> = backend
        .sim()
        .map(|sim| {
            sim.mgmt
                .iter()
                .flat_map(|m| &m.managers)
                .flat_map(|g| g.controllers.iter().map(move |c| (g.name, c)))
                .map(|(manager, c)| {
                    json!({"manager": manager, "controller": c.reconciler.name(), "workers": c.workers, "reconciles": c.stats.reconciles,
                           "errors": c.stats.errors, "requeues": c.stats.requeues, "queued_at_end": c.queue.ready_len()})
                })
                .collect()
        })
        .unwrap_or_default();
    let out = json!({
        "scenario": scenario.name,
        "clusters": clusters,
        "seed": seed,
        "concurrency": concurrency,
        "release": capi_sim::controllers::flags::RELEASE,
        "timing_profile": timing,
        "passed": report.passed,
        "failure": failed.or(report.error.clone()),
        "wall_s": wall,
        "sim_s": sim_s,
        "reconciles": report.reconciles,
        "events": report.events,
        "reconciles_per_s": report.reconciles as f64 / wall,
        "events_per_s": report.events as f64 / wall,
        "sim_s_per_wall_s": sim_s / wall,
        "wall_us_per_reconcile": wall * 1e6 / report.reconciles.max(1) as f64,
        "peak_rss_bytes": peak_rss,
        "baseline_rss_bytes": baseline_rss,
        "bytes_per_cluster": peak_rss.saturating_sub(baseline_rss) / clusters.max(1),
        "steps": steps_json,
        "controllers": controllers,
    });
    outln!("{out}");
    Ok(ExitCode::SUCCESS)
}

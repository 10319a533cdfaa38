//! Running one scenario file against a real (or served) management cluster with the shared runner:
//! load, prepare, run, collect, tear down — and clean up when interrupted (Ctrl-C), timed out or
//! panicking. This is what `cargo xtask conformance run` and the end-to-end test call.

use super::{KubeBackend, KubeOptions};
use capi_scenarios::report::RunReport;
use capi_scenarios::runner::{self, RunOptions};
use capi_scenarios::{LoadOptions, Scenario};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How to run a scenario.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// The backend's options.
    pub kube: KubeOptions,
    /// Variables (override the scenario's `vars:`).
    pub vars: capi_scenarios::vars::Vars,
    /// Where `fixtures/` is (found by walking up from the scenario when `None`).
    pub fixtures: Option<PathBuf>,
    /// Seed (the scenario's when `None`; it only names the run on a real cluster).
    pub seed: Option<u64>,
    /// `clusterctl describe` every Cluster at the end.
    pub describe: bool,
    /// Run the liveness phase (heal faults, then wait for the scenario's goal).
    pub liveness: bool,
    /// Stop the run after this much wall time (cleanup included afterwards).
    pub wall_limit: Option<Duration>,
    /// Keep the scenario's Clusters and containers at the end (a successful run only; aborted runs
    /// are always cleaned up).
    pub keep: bool,
    /// Stop at Ctrl-C (and clean up).
    pub handle_ctrl_c: bool,
}

impl RunConfig {
    /// Defaults around backend options.
    pub fn new(kube: KubeOptions) -> Self {
        RunConfig {
            kube,
            vars: Default::default(),
            fixtures: None,
            seed: None,
            describe: false,
            liveness: false,
            wall_limit: None,
            keep: false,
            handle_ctrl_c: true,
        }
    }
}

/// A report for a run that never started or was cut short.
fn failed_report(path: &Path, scenario: Option<&Scenario>, error: String) -> RunReport {
    RunReport {
        scenario: scenario
            .map_or_else(|| path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default(), |s| s.name.clone()),
        file: path.display().to_string(),
        backend: "kube".into(),
        seed: scenario.map_or(0, |s| s.seed),
        passed: false,
        trace_hash: None,
        sim_time_ms: 0,
        reconciles: 0,
        events: 0,
        steps: Vec::new(),
        objects: Vec::new(),
        containers: Vec::new(),
        violations: Vec::new(),
        faults: Vec::new(),
        error: Some(error),
        describe: None,
        timeline: None,
    }
}

/// Why a run stopped early.
enum Stop {
    Interrupted,
    WallLimit(Duration),
}

async fn ctrl_c(enabled: bool) {
    if !enabled || tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}

async fn wall(limit: Option<Duration>) {
    match limit {
        Some(d) => tokio::time::sleep(d).await,
        None => std::future::pending::<()>().await,
    }
}

/// Run one scenario file (async). Never panics on bad input: every failure is in the report.
pub async fn run_scenario_async(path: &Path, cfg: &RunConfig) -> RunReport {
    let scenario = match capi_scenarios::load(path, &LoadOptions { vars: cfg.vars.clone(), fixtures_dir: cfg.fixtures.clone() }) {
        Ok(s) => s,
        Err(e) => return failed_report(path, None, e.to_string()),
    };
    let mut backend = KubeBackend::new(cfg.kube.clone());
    let opts = RunOptions { seed: cfg.seed, describe: cfg.describe, liveness: cfg.liveness, swarm: false, on_step: None };
    let outcome = {
        let run = runner::run(&mut backend, &scenario, &opts);
        tokio::select! {
            r = run => Ok(r),
            _ = ctrl_c(cfg.handle_ctrl_c) => Err(Stop::Interrupted),
            _ = wall(cfg.wall_limit) => Err(Stop::WallLimit(cfg.wall_limit.unwrap_or_default())),
        }
    };
    match outcome {
        Ok(mut report) => {
            if cfg.keep {
                backend.keep();
            } else {
                let cleaned = backend.teardown().await;
                if !cleaned.errors.is_empty() || !cleaned.clusters_left.is_empty() {
                    let note = format!("teardown: {cleaned}");
                    report.error = Some(match report.error.take() {
                        Some(e) => format!("{e}; {note}"),
                        None => note,
                    });
                }
            }
            report
        }
        Err(stop) => {
            let cleaned = backend.teardown().await;
            let why = match stop {
                Stop::Interrupted => "interrupted (Ctrl-C)".to_string(),
                Stop::WallLimit(d) => format!("stopped after the wall-time limit of {}s", d.as_secs()),
            };
            failed_report(path, Some(&scenario), format!("{why}; cleanup: {cleaned}"))
        }
    }
}

/// Run one scenario file on a runtime of its own (on a fresh thread, so that it may be called from
/// inside another runtime too).
pub fn run_scenario_with(path: &Path, cfg: &RunConfig) -> RunReport {
    let path_buf = path.to_path_buf();
    let cfg = cfg.clone();
    let worker = std::thread::Builder::new().name("capi-harness-run".into()).spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build();
        match rt {
            Ok(rt) => rt.block_on(run_scenario_async(&path_buf, &cfg)),
            Err(e) => failed_report(&path_buf, None, format!("cannot start a runtime: {e}")),
        }
    });
    match worker {
        Ok(h) => {
            h.join().unwrap_or_else(|_| failed_report(path, None, "the run panicked (its Clusters and containers were cleaned up)".into()))
        }
        Err(e) => failed_report(path, None, format!("cannot start the run thread: {e}")),
    }
}

/// Run one scenario against the management cluster of `kubeconfig`, with scenario time running
/// `time_factor` times faster than wall time (1.0 for a real KinD; the served simulator's speed-up
/// against `cargo xtask sim serve`). The end-to-end test's entry point.
pub fn run_scenario(path: &Path, kubeconfig: &Path, time_factor: f64) -> RunReport {
    let mut kube = KubeOptions::new(kubeconfig);
    kube.time_factor = time_factor;
    let mut cfg = RunConfig::new(kube);
    cfg.handle_ctrl_c = false;
    run_scenario_with(path, &cfg)
}

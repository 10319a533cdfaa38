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
    /// Raised to stop the run early (the command's signal handler and wall-time limit); the run
    /// ends with the steps done so far, marked interrupted, and cleans up.
    pub stop: Option<capi_scenarios::StopSignal>,
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
            stop: None,
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
        error: Some(error),
        ..RunReport::default()
    }
}

async fn ctrl_c(enabled: bool) {
    if !enabled || tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// How long a stopped run may take to wind down by itself (its waits and sleeps return at once; an
/// API call may not) before it is cut off, keeping the steps it had finished.
const WIND_DOWN: Duration = Duration::from_secs(60);

/// Resolves `WIND_DOWN` after `stop` is raised.
async fn cut_off(stop: &capi_scenarios::StopSignal) {
    while !stop.is_stopped() {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(WIND_DOWN).await;
}

/// Run one scenario file (async). Never panics on bad input: every failure is in the report. When
/// stopped (Ctrl-C, the wall-time limit, the caller's stop signal) the report keeps the steps done so
/// far and is marked interrupted, and the scenario's objects and containers are cleaned up.
pub async fn run_scenario_async(path: &Path, cfg: &RunConfig) -> RunReport {
    let scenario = match capi_scenarios::load(path, &LoadOptions { vars: cfg.vars.clone(), fixtures_dir: cfg.fixtures.clone() }) {
        Ok(s) => s,
        Err(e) => return failed_report(path, None, e.to_string()),
    };
    // This run's own signal: raised by the caller's, or by this run's wall-time limit alone.
    let stop = cfg.stop.as_ref().map_or_else(capi_scenarios::StopSignal::new, capi_scenarios::StopSignal::child);
    if let Some(limit) = cfg.wall_limit {
        stop.after(limit);
    }
    // The steps as they finish, so that a run cut off in the middle of an API call keeps them.
    let done = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let hook = {
        let done = done.clone();
        runner::StepHook(std::sync::Arc::new(move |s: &capi_scenarios::report::StepReport| {
            done.lock().unwrap_or_else(|p| p.into_inner()).push(s.clone());
        }))
    };
    let mut backend = KubeBackend::new(cfg.kube.clone());
    let opts = RunOptions {
        seed: cfg.seed,
        describe: cfg.describe,
        liveness: cfg.liveness,
        swarm: false,
        on_step: Some(hook),
        stop: Some(stop.clone()),
    };
    let outcome = {
        let run = runner::run(&mut backend, &scenario, &opts);
        let signal = async {
            ctrl_c(cfg.handle_ctrl_c).await;
            stop.stop("interrupted (Ctrl-C)");
            std::future::pending::<()>().await
        };
        tokio::select! {
            r = run => Some(r),
            _ = signal => None,
            _ = cut_off(&stop) => None,
        }
    };
    let mut report = match outcome {
        Some(report) => report,
        None => {
            let mut r = failed_report(path, Some(&scenario), "the run did not wind down in time after it was stopped".into());
            r.steps = std::mem::take(&mut *done.lock().unwrap_or_else(|p| p.into_inner()));
            r.interrupted = stop.reason();
            r
        }
    };
    if cfg.keep && report.interrupted.is_none() {
        backend.keep();
    } else {
        let cleaned = backend.teardown().await;
        if !cleaned.errors.is_empty() || !cleaned.clusters_left.is_empty() || report.interrupted.is_some() {
            let note = format!("teardown: {cleaned}");
            report.error = Some(match report.error.take() {
                Some(e) => format!("{e}; {note}"),
                None => note,
            });
        }
    }
    report
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

//! Shared setup of the simulator benches: a converged fleet of quick-start clusters to measure on.
#![allow(dead_code)] // each bench uses part of it

use capi_scenarios::runner::{self, RunOptions};
use capi_sim::backend::{SimBackend, SimOptions};
use capi_sim::engine::trace::TraceMode;
use capi_sim::engine::Sim;
use std::path::PathBuf;

/// The workspace's scenario library.
pub fn library(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scenarios/library").join(file)
}

/// A scenario with variables set.
pub fn scenario(file: &str, vars: &[(&str, &str)]) -> capi_scenarios::Scenario {
    let mut opts = capi_scenarios::LoadOptions::default();
    for (k, v) in vars {
        opts.vars.insert(k.to_string(), v.to_string());
    }
    capi_scenarios::load(&library(file), &opts).expect("library scenario loads")
}

/// Run a scenario with tracing off; panics if it fails (the benches measure passing runs).
pub fn run(s: &capi_scenarios::Scenario) -> SimBackend {
    let mut backend = SimBackend::new(SimOptions { trace: TraceMode::Off, ..Default::default() });
    let report = pollster::block_on(runner::run(&mut backend, s, &RunOptions::default()));
    assert!(report.passed, "{} failed: {:?}", s.name, report.steps.iter().find(|s| !s.passed));
    backend
}

/// A simulation holding `clusters` converged quick-start clusters (3 control-plane machines and 3
/// workers each): a realistic cache for one reconcile.
pub fn converged_fleet(clusters: usize) -> SimBackend {
    run(&scenario("fleet.yaml", &[("FLEET_SIZE", &clusters.to_string())]))
}

/// The simulation inside a backend.
pub fn sim(backend: &mut SimBackend) -> &mut Sim {
    backend.sim_mut().expect("the run created a simulation")
}

//! Integration tests of the simulator: determinism, the store's cascade semantics through the engine,
//! and the scenario library end to end (normalized outcomes snapshotted with insta).

mod cascade;
mod concurrency;
mod describe;
mod determinism;
mod json_map;
mod language;
mod library;
mod mutants;
mod schema_facts;
mod timeline;
mod validation;

use capi_scenarios::report::RunReport;
use capi_scenarios::runner::{self, RunOptions};
use capi_sim::backend::{SimBackend, SimOptions};
use capi_sim::engine::trace::TraceMode;
use std::path::{Path, PathBuf};

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_path_buf()
}

/// Run a library scenario with a seed; returns the report and the backend (for the trace).
pub fn run(file: &str, seed: Option<u64>, trace: TraceMode) -> (RunReport, SimBackend) {
    run_with(file, seed, trace, &[])
}

/// Run a library scenario with variables overridden.
pub fn run_with(file: &str, seed: Option<u64>, trace: TraceMode, vars: &[(&str, &str)]) -> (RunReport, SimBackend) {
    let path = root().join("scenarios/library").join(file);
    let mut opts = capi_scenarios::LoadOptions::default();
    for (k, v) in vars {
        opts.vars.insert(k.to_string(), v.to_string());
    }
    let scenario = capi_scenarios::load(&path, &opts).unwrap_or_else(|e| panic!("{e}"));
    let mut backend = SimBackend::new(SimOptions { trace, ..Default::default() });
    let report = pollster::block_on(runner::run(&mut backend, &scenario, &RunOptions { seed, ..Default::default() }));
    (report, backend)
}

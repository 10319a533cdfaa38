//! Behaviours restated from Cluster API's own tests: each test's doc comment names the upstream
//! repository path and Go test (and table entry) it restates, in our words and code, never copied.
//! Upstream is kubernetes-sigs/cluster-api at ae7ff047db (v1beta2), and v1.13.5 for the `Docker*`
//! kinds of CAPD. Run with `cargo test -p capi-sim --test upstream`.
//!
//! Tests are either scenarios (YAML steps through the simulator, [`scenario`]) or store-level tests
//! that set objects up and run the controllers for a while ([`capi_sim::testing`]).

mod cabpk;
mod capd;
mod cluster;
mod clusterctl;
mod crs;
mod events;
mod kcp;
mod kcp_adoption;
mod machine;
mod machine_node;
mod machinedeployment;
mod machinepool;
mod machineset;
mod managers;
mod mhc;
mod owner_references;
mod ssa;
mod topology;
mod webhooks;

use capi_scenarios::report::RunReport;
use capi_scenarios::runner::{self, RunOptions};
use capi_sim::backend::{SimBackend, SimOptions};
use std::path::{Path, PathBuf};

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_path_buf()
}

/// Load a scenario written inline (as if it were a file of `scenarios/library/`, so relative paths
/// such as `../../fixtures/...` resolve) and run it with its seed. Panics on a load error.
pub fn scenario(yaml: &str) -> (RunReport, SimBackend) {
    scenario_with(yaml, SimOptions::default())
}

/// [`scenario`] with the given backend options (a full trace, say).
pub fn scenario_with(yaml: &str, sim_options: SimOptions) -> (RunReport, SimBackend) {
    let path = root().join("scenarios/library/upstream-inline.yaml");
    let opts = capi_scenarios::LoadOptions { fixtures_dir: Some(root().join("fixtures")), ..Default::default() };
    let scenario = capi_scenarios::parse::load_text(yaml, &path, &opts).unwrap_or_else(|e| panic!("{e}"));
    let mut backend = SimBackend::new(sim_options);
    let report = pollster::block_on(runner::run(&mut backend, &scenario, &RunOptions::default()));
    (report, backend)
}

/// Assert a scenario passed, printing every failed step's message when it did not.
pub fn assert_passed(report: &RunReport) {
    if !report.passed {
        let mut msg = String::new();
        for s in &report.steps {
            msg.push_str(&format!("#{} {} line {} {:?}: {}\n", s.index, s.kind, s.line, s.status, s.message));
        }
        for v in &report.violations {
            msg.push_str(&format!("violation {}: {}\n", v.invariant, v.message));
        }
        if let Some(e) = &report.error {
            msg.push_str(&format!("error: {e}\n"));
        }
        panic!("scenario {} did not pass:\n{msg}", report.scenario);
    }
}

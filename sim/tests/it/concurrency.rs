//! The controllers' worker count (`--*-concurrency`): the modelled release's defaults unless asked,
//! and a real limit on how much of a fleet is reconciled at once.

use crate::root;
use capi_scenarios::report::RunReport;
use capi_scenarios::runner::{self, RunOptions};
use capi_sim::backend::{SimBackend, SimOptions};
use capi_sim::engine::trace::TraceMode;

/// A fleet large enough that one worker per controller is the bottleneck: with a handful of
/// clusters the controllers are mostly idle, and which run is faster is decided by timing draws.
fn fleet(concurrency: Option<u32>) -> RunReport {
    let mut opts = capi_scenarios::LoadOptions::default();
    opts.vars.insert("FLEET_SIZE".into(), "12".into());
    let scenario = capi_scenarios::load(&root().join("scenarios/library/fleet.yaml"), &opts).unwrap_or_else(|e| panic!("{e}"));
    let mut backend = SimBackend::new(SimOptions { trace: TraceMode::Hash, concurrency, ..Default::default() });
    pollster::block_on(runner::run(&mut backend, &scenario, &RunOptions::default()))
}

fn first_wait_ms(r: &RunReport) -> u64 {
    r.steps.iter().find(|s| s.kind == "wait").map(|s| s.took_ms).expect("the fleet scenario waits")
}

#[test]
fn the_default_is_the_releases_workers_and_one_worker_is_slower() {
    let default = fleet(None);
    let one = fleet(Some(1));
    assert!(default.passed && one.passed, "{:?}", one.steps.iter().find(|s| !s.passed));
    assert_ne!(default.trace_hash, one.trace_hash, "no flag means the release's --*-concurrency defaults, not 1");
    assert!(
        first_wait_ms(&one) > first_wait_ms(&default),
        "one worker per controller should make the fleet slower to become Available ({} ms vs {} ms)",
        first_wait_ms(&one),
        first_wait_ms(&default)
    );
}

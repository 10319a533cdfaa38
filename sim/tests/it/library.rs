//! Every scenario of the library runs and passes; its normalized outcome is snapshotted (the snapshot
//! is the reviewed record of what CAPI does in that scenario).

use crate::run_with;
use capi_sim::engine::trace::TraceMode;

fn check(file: &str) {
    check_with(file, &[]);
}

fn check_with(file: &str, vars: &[(&str, &str)]) {
    let (report, _) = run_with(file, None, TraceMode::Hash, vars);
    let failed: Vec<String> = report
        .steps
        .iter()
        .filter(|s| !s.passed)
        .map(|s| format!("step {} ({}, line {}): {:?} {}", s.index, s.kind, s.line, s.status, s.message))
        .collect();
    assert!(report.passed, "{file} failed:\n{}\nviolations: {:?}\nerror: {:?}", failed.join("\n"), report.violations, report.error);
    let outcome = report.outcome().normalized();
    insta::with_settings!({ description => format!("scenarios/library/{file} (seed {})", report.seed), omit_expression => true }, {
        insta::assert_yaml_snapshot!(file.trim_end_matches(".yaml"), outcome);
    });
}

macro_rules! library {
    ($($name:ident => $file:literal),* $(,)?) => { $( #[test] fn $name() { check($file); } )* };
}

library! {
    clusterclass_gate_off => "clusterclass-gate-off.yaml",
    clusterclass_missing => "clusterclass-missing.yaml",
    clusterctl_move => "clusterctl-move.yaml",
    clusterctl_move_blocked => "clusterctl-move-blocked.yaml",
    core_cascade => "core-cascade.yaml",
    delete_cascade => "delete-cascade.yaml",
    delete_container_by_hand => "delete-container-by-hand.yaml",
    delete_machine_directly => "delete-machine-directly.yaml",
    development_flavor => "development-flavor.yaml",
    docker_out_of_memory => "docker-out-of-memory.yaml",
    md_ondelete => "md-ondelete.yaml",
    mhc_remediation => "mhc-remediation.yaml",
    ms_delete_policy => "ms-delete-policy.yaml",
    name_conflict => "name-conflict.yaml",
    no_cni => "no-cni.yaml",
    pause => "pause.yaml",
    quickstart => "quickstart.yaml",
    quickstart_upgrade => "quickstart-upgrade.yaml",
    scale => "scale.yaml",
}

/// The fleet at a size the test suite can afford (the scenario defaults to 100 clusters).
#[test]
fn fleet() {
    check_with("fleet.yaml", &[("FLEET_SIZE", "3")]);
}

/// The benchmark workload at two clusters: create, upgrade and delete end with nothing left (the
/// scenario defaults to 100 clusters; `cargo xtask bench` runs it at every size).
#[test]
fn fleet_lifecycle() {
    check_with("fleet-lifecycle.yaml", &[("FLEET_SIZE", "2")]);
}

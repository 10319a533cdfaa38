//! Proof that the harness finds real bugs: known-wrong controller variants (mutants) are caught by the
//! invariants, the scenarios' own expectations or the liveness check, shrinking reduces a swarm failure
//! to a few faults, and the unmutated controllers pass the same runs.

use crate::root;
use capi_scenarios::model::{FaultSpec, Step};
use capi_scenarios::report::{RunReport, StepStatus};
use capi_scenarios::{LoadOptions, Scenario};
use capi_sim::engine::trace::TraceMode;
use capi_sim::mutants::{Mutant, Mutants};
use capi_sim::swarm::{run_seed, shrink};

fn scenario_with(file: &str, vars: &[(&str, &str)]) -> Scenario {
    let opts = LoadOptions { vars: vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(), ..Default::default() };
    capi_scenarios::load(&root().join("scenarios/library").join(file), &opts).unwrap()
}

fn scenario(file: &str) -> Scenario {
    scenario_with(file, &[])
}

fn run(s: &Scenario, seed: u64, profile: &str, mutants: &[Mutant], faults: Vec<FaultSpec>) -> RunReport {
    let mutants: Mutants = mutants.iter().copied().collect();
    run_seed(s, seed, Some(profile), &mutants, faults, TraceMode::Off, false).0
}

fn broke(r: &RunReport, invariant: &str) -> bool {
    r.violations.iter().any(|v| v.invariant == invariant)
}

fn clean(r: &RunReport) -> bool {
    r.passed && r.violations.is_empty()
}

/// The mutant breaks `invariant` in seed 0 of a fault-free run; the unmutated controllers pass it.
fn assert_found(s: &Scenario, mutant: Mutant, invariant: &str) {
    let r = run(s, 0, "none", &[mutant], Vec::new());
    assert!(broke(&r, invariant), "{mutant} not caught by {invariant}: {:?}", r.violations);
    let r = run(s, 0, "none", &[], Vec::new());
    assert!(clean(&r), "the unmutated controllers fail: {:?} {:?}", r.violations, r.error);
}

#[test]
fn kcp_deleting_before_the_replacement_is_ready_is_found() {
    assert_found(&scenario("quickstart-upgrade.yaml"), Mutant::KcpDeleteBeforeReady, "kcp-rollout-replacement-ready");
}

#[test]
fn md_ignoring_max_unavailable_is_found() {
    assert_found(&scenario("quickstart-upgrade.yaml"), Mutant::MdIgnoreMaxUnavailable, "md-max-unavailable");
}

#[test]
fn a_leaking_docker_machine_deletion_is_found() {
    assert_found(&scenario("delete-cascade.yaml"), Mutant::DockerMachineLeaksContainer, "container-per-infra-machine");
}

#[test]
fn workers_upgraded_before_the_control_plane_fail_the_scenario() {
    // The scenario's own expectation ("the MachineDeployment keeps the old version while KCP rolls
    // out") catches it.
    let r = run(&scenario("quickstart-upgrade.yaml"), 0, "none", &[Mutant::TopologyWorkersFirst], Vec::new());
    let failed = r.steps.iter().find(|st| st.status == StepStatus::Failed);
    assert!(failed.is_some_and(|st| st.kind == "expect" && st.message.contains("v1.34.3")), "{:?}", r.steps);
}

#[test]
fn workers_upgraded_before_the_control_plane_break_the_version_skew_policy() {
    // Without that expectation and without MachineSet preflight checks (which hold new workers back
    // while the control plane upgrades), the version-skew invariant catches the workers joining old
    // API servers.
    let mut s = scenario_with("quickstart-upgrade.yaml", &[("EXP_MACHINE_SET_PREFLIGHT_CHECKS", "false")]);
    let before = s.steps.len();
    s.steps.retain(|e| !matches!(&e.step, Step::Expect(x) if format!("{x:?}").contains("ClusterUpgrading")));
    assert_eq!(s.steps.len() + 1, before);
    assert_found(&s, Mutant::TopologyWorkersFirst, "version-skew");
}

fn join_failure() -> Vec<FaultSpec> {
    vec![serde_yaml::from_str("kind: kubeadm-join-fail\ntarget: { cluster: dev }\nduration: 4m").unwrap()]
}

#[test]
fn a_docker_machine_that_gives_up_after_a_failed_join_never_converges() {
    // The development flavor has no MachineHealthCheck to replace the stuck Machine.
    let s = scenario("development-flavor.yaml");
    let r = run(&s, 0, "none", &[Mutant::CapdNoBootstrapRetry], join_failure());
    assert!(broke(&r, "liveness/no-convergence"), "{:?} {:?}", r.violations, r.steps.iter().map(|s| s.status).collect::<Vec<_>>());
    let r = run(&s, 0, "none", &[], join_failure());
    assert!(clean(&r), "the unmutated controllers repeat the bootstrap and converge: {:?}", r.violations);
}

#[test]
fn the_swarm_finds_the_mutant_and_shrinking_reduces_the_failure_to_a_few_faults() {
    let s = scenario("development-flavor.yaml");
    let mutants: Mutants = [Mutant::CapdNoBootstrapRetry].into_iter().collect();
    // A seed of the infrastructure profile that fails only because of the mutant.
    let seed = (0..16)
        .find(|&seed| {
            !clean(&run(&s, seed, "infrastructure", &[Mutant::CapdNoBootstrapRetry], Vec::new()))
                && clean(&run(&s, seed, "infrastructure", &[], Vec::new()))
        })
        .expect("the swarm finds the mutant within 16 seeds");
    let shrunk = shrink(&s, seed, "infrastructure", &mutants).expect("shrinks");
    assert_eq!(shrunk.invariant, "liveness/no-convergence");
    assert!(shrunk.minimal.len() <= 2, "from {} faults to {:?}", shrunk.original.len(), shrunk.minimal);
    assert!(shrunk.minimal.len() < shrunk.original.len(), "{:?}", shrunk.original);
    // What remains is a failed kubeadm run: the bootstrap the mutant does not repeat.
    use capi_scenarios::model::FaultKind;
    assert!(
        shrunk.minimal.iter().any(|f| matches!(f.kind, FaultKind::KubeadmJoinFail | FaultKind::KubeadmInitFail)),
        "{:?}",
        shrunk.minimal
    );
    // The minimal schedule alone reproduces the failure, deterministically.
    let (a, _) = run_seed(&s, seed, None, &mutants, shrunk.minimal.clone(), TraceMode::Hash, false);
    let (b, _) = run_seed(&s, seed, None, &mutants, shrunk.minimal.clone(), TraceMode::Hash, false);
    assert!(broke(&a, &shrunk.invariant));
    assert_eq!(a.trace_hash, b.trace_hash);
}

//! Which Machines a MachineHealthCheck finds unhealthy and when it looks again, restated from
//! `TestHealthCheckTargets` (`core/reconcilers/machinehealthcheck/machinehealthcheck_targets_test.go`).

use capi_sim::controllers::conditions::{self, Cond, Status};
use capi_sim::controllers::machinehealthcheck::{needs_remediation, Check, NodeSeen};
use capi_sim::kinds::Kind;
use capi_sim::object::Object;
use capi_sim::world::objects::NodeCond;
use capi_sim::world::workload::Status as NodeStatus;
use rstest::rstest;
use serde_json::json;

/// Now, in simulated ms (well past every timestamp below).
const NOW: u64 = 10_000_000;
const S: u64 = 1000;

/// The test's MHC: Ready Unknown/False for 5m on the Node, EtcdPodHealthy Unknown/False for 5m on
/// the Machine.
fn targets_mhc() -> Object {
    let mut o = Object::new(Kind::MachineHealthCheck, "test-mhc", "test-mhc");
    o.set(
        "/spec/checks/unhealthyNodeConditions",
        json!([{"type": "Ready", "status": "Unknown", "timeoutSeconds": 300}, {"type": "Ready", "status": "False", "timeoutSeconds": 300}]),
    );
    o.set(
        "/spec/checks/unhealthyMachineConditions",
        json!([{"type": "EtcdPodHealthy", "status": "Unknown", "timeoutSeconds": 300}, {"type": "EtcdPodHealthy", "status": "False", "timeoutSeconds": 300}]),
    );
    o
}

/// The test's Cluster: infrastructure ready and control plane initialized an hour ago.
fn targets_cluster() -> Object {
    let mut c = Object::new(Kind::Cluster, "test-mhc", "test-cluster");
    let t = NOW - 3600 * S;
    conditions::set(
        &mut c,
        [Cond::t("InfrastructureReady", "Ready").since(t), Cond::t("ControlPlaneInitialized", "Initialized").since(t)],
        t,
    );
    c
}

/// A Machine created `age_s` ago, with a nodeRef to `node1`.
fn targets_machine(age_s: u64) -> Object {
    let mut m = Object::new(Kind::Machine, "test-mhc", "machine1");
    m.meta.creation_ms = NOW - age_s * S;
    m.set("/status/nodeRef/name", json!("node1"));
    m
}

fn ready(status: NodeStatus, reason: &'static str, since_s_ago: u64) -> NodeCond<'static> {
    NodeCond { type_: "Ready", status, reason, message: "", since_ms: NOW - since_s_ago * S, heartbeat_ms: NOW }
}

fn check(m: &Object, node: &NodeSeen<'_>, startup_s: u64) -> Check {
    needs_remediation(&targets_mhc(), &targets_cluster(), m, node, NOW, startup_s * S)
}

fn failed(reason: &str, message: &str) -> Check {
    Check {
        needs_remediation: true,
        reason: Box::leak(reason.to_string().into_boxed_str()),
        message: message.to_string(),
        next_check_ms: 0,
    }
}

fn pending(next_s: u64) -> Check {
    Check { needs_remediation: false, reason: "", message: String::new(), next_check_ms: next_s * S }
}

/// TestHealthCheckTargets, "when the node has not yet started for shorter than the timeout": a Machine
/// created 400s ago without a Node is rechecked when the 10m startup timeout runs out (+1s).
#[test]
fn node_not_yet_started_within_the_timeout_is_rechecked() {
    let mut m = targets_machine(400);
    m.remove("/status/nodeRef");
    assert_eq!(check(&m, &NodeSeen::NotSet, 600), pending(600 - 400 + 1));
}

/// TestHealthCheckTargets, "when the node has not yet started for shorter than the timeout, and infra
/// is ready": the timeout counts from the Machine's InfrastructureReady transition (50s ago), not from
/// its creation (100s ago).
#[test]
fn node_startup_timeout_counts_from_machine_infrastructure_ready() {
    let mut m = targets_machine(100);
    m.remove("/status/nodeRef");
    conditions::set(&mut m, [Cond::t("InfrastructureReady", "Ready").since(NOW - 50 * S)], NOW);
    assert_eq!(check(&m, &NodeSeen::NotSet, 600), pending(600 - 50 + 1));
}

/// TestHealthCheckTargets, "when the node has not yet started for longer than the timeout": reason
/// NodeStartupTimeout, the 10m timeout printed as Go prints a time.Duration.
#[test]
fn node_not_yet_started_past_the_timeout() {
    let mut m = targets_machine(1200);
    m.remove("/status/nodeRef");
    assert_eq!(
        check(&m, &NodeSeen::NotSet, 600),
        failed("NodeStartupTimeout", "Health check failed:\n  * Node failed to report startup in 10m0s")
    );
}

/// TestHealthCheckTargets, "when the node has gone away", and "health check with empty unhealthy
/// conditions and missing node": a nodeRef to a Node the workload cluster no longer has.
#[rstest]
#[case::with_checks(true)]
#[case::with_empty_unhealthy_conditions(false)]
fn node_gone_away(#[case] with_checks: bool) {
    let m = targets_machine(1200);
    let mut mhc = targets_mhc();
    if !with_checks {
        mhc.set("/spec/checks/unhealthyNodeConditions", json!([]));
        mhc.set("/spec/checks/unhealthyMachineConditions", json!([]));
    }
    let c = needs_remediation(&mhc, &targets_cluster(), &m, &NodeSeen::Missing("node1"), NOW, 600 * S);
    assert_eq!(c, failed("NodeDeleted", "Health check failed:\n  * Node node1 has been deleted"));
}

/// TestHealthCheckTargets, "when the node has been in an unknown state for shorter than the timeout"
/// (200s of 5m: recheck in 101s) and "... for longer than the timeout" (400s: UnhealthyNode, with the
/// Node condition's reason in the message).
#[rstest]
#[case::shorter(200, pending(101))]
#[case::longer(
    400,
    failed(
        "UnhealthyNode",
        "Health check failed:\n  * Condition Ready on Node is reporting status Unknown with reason NodeStatusUnknown for more than 5m0s"
    )
)]
fn node_unknown(#[case] since_s: u64, #[case] want: Check) {
    let conds = [ready(NodeStatus::Unknown, "NodeStatusUnknown", since_s)];
    assert_eq!(check(&targets_machine(1200), &NodeSeen::Found(&conds), 600), want);
}

/// TestHealthCheckTargets, "when the machine condition has been unhealthy for shorter than the
/// timeout" (200s: recheck in 101s) and "... for longer than the timeout" (400s: UnhealthyMachine).
#[rstest]
#[case::shorter(200, pending(101))]
#[case::longer(
    400,
    failed(
        "UnhealthyMachine",
        "Health check failed:\n  * Condition EtcdPodHealthy on Machine is reporting status False with reason Failed for more than 5m0s"
    )
)]
fn machine_condition_unhealthy(#[case] since_s: u64, #[case] want: Check) {
    let mut m = targets_machine(1200);
    conditions::set(&mut m, [Cond::f("EtcdPodHealthy", "Failed", "").since(NOW - since_s * S)], NOW);
    let conds = [ready(NodeStatus::True, "KubeletReady", 1000)];
    assert_eq!(check(&m, &NodeSeen::Found(&conds), 600), want);
}

/// TestHealthCheckTargets, "when the node is healthy" and "health check with empty unhealthy
/// conditions and node": nothing to do, nothing pending.
#[rstest]
#[case::with_checks(true)]
#[case::with_empty_unhealthy_conditions(false)]
fn healthy_node(#[case] with_checks: bool) {
    let mut mhc = targets_mhc();
    if !with_checks {
        mhc.set("/spec/checks/unhealthyNodeConditions", json!([]));
    }
    let conds = [ready(NodeStatus::True, "KubeletReady", 1000)];
    let c = needs_remediation(&mhc, &targets_cluster(), &targets_machine(1200), &NodeSeen::Found(&conds), NOW, 600 * S);
    assert_eq!(c, pending(0));
}

/// TestHealthCheckTargets, "when the node has not started for a long time but the startup timeout is
/// disabled": nodeStartupTimeoutSeconds 0, no way to know when to look again.
#[test]
fn startup_timeout_disabled() {
    let mut m = targets_machine(1200);
    m.remove("/status/nodeRef");
    assert_eq!(check(&m, &NodeSeen::NotSet, 0), pending(0));
}

/// TestHealthCheckTargets, "when the machine is manually marked for remediation": the
/// remediate-machine annotation wins over a healthy Node.
#[test]
fn remediate_machine_annotation() {
    let mut m = targets_machine(1200);
    m.meta.annotations.insert("cluster.x-k8s.io/remediate-machine".into(), String::new());
    let conds = [ready(NodeStatus::True, "KubeletReady", 1000)];
    assert_eq!(
        check(&m, &NodeSeen::Found(&conds), 600),
        failed("HasRemediateAnnotation", "Health check failed: marked for remediation via cluster.x-k8s.io/remediate-machine annotation")
    );
}

/// `needsRemediation` ("Machine conditions are always evaluated first ... error messages are
/// merged"): a failing Machine condition and a failing Node condition give one bullet list, Machine
/// first, with reason UnhealthyMachine.
#[test]
fn machine_and_node_failures_are_merged() {
    let mut m = targets_machine(1200);
    conditions::set(&mut m, [Cond::f("EtcdPodHealthy", "Failed", "").since(NOW - 400 * S)], NOW);
    let conds = [ready(NodeStatus::False, "KubeletNotReady", 3600)];
    assert_eq!(
        check(&m, &NodeSeen::Found(&conds), 600),
        failed(
            "UnhealthyMachine",
            "Health check failed:\n  * Condition EtcdPodHealthy on Machine is reporting status False with reason Failed for more than 5m0s\n  * Condition Ready on Node is reporting status False with reason KubeletNotReady for more than 5m0s"
        )
    );
}

/// `needsRemediation`: before the control plane is initialized only control-plane Machines are judged
/// (so the first one can be remediated); nothing is judged before the cluster infrastructure is ready.
#[rstest]
#[case::worker_before_cp_initialized(false, true, false, pending(0))]
#[case::control_plane_before_cp_initialized(
    true,
    true,
    false,
    failed("NodeStartupTimeout", "Health check failed:\n  * Node failed to report startup in 10m0s")
)]
#[case::control_plane_before_infrastructure_ready(true, false, false, pending(0))]
fn nothing_is_penalized_before_the_cluster_is_ready(#[case] cp: bool, #[case] infra: bool, #[case] initialized: bool, #[case] want: Check) {
    let mut cluster = Object::new(Kind::Cluster, "test-mhc", "test-cluster");
    let t = NOW - 3600 * S;
    let st = |b| if b { Status::True } else { Status::False };
    conditions::set(
        &mut cluster,
        [
            Cond::new("InfrastructureReady", st(infra), "R", "").since(t),
            Cond::new("ControlPlaneInitialized", st(initialized), "R", "").since(t),
        ],
        t,
    );
    let mut m = targets_machine(1200);
    m.remove("/status/nodeRef");
    if cp {
        m.meta.labels.insert("cluster.x-k8s.io/control-plane".into(), String::new());
    }
    assert_eq!(needs_remediation(&targets_mhc(), &cluster, &m, &NodeSeen::NotSet, NOW, 600 * S), want);
}

/// `nodeChecks` reads every condition the Node has, not only Ready: the e2e remediation specs mark a
/// Node with `e2e.remediation.condition` False (`test/framework/machinehealthcheck_helpers.go:
/// DiscoverMachineHealthChecksAndWaitForRemediation`).
#[test]
fn any_node_condition_type_counts() {
    let mut mhc = targets_mhc();
    mhc.set(
        "/spec/checks/unhealthyNodeConditions",
        json!([{"type": "e2e.remediation.condition", "status": "False", "timeoutSeconds": 10}]),
    );
    let conds = [
        ready(NodeStatus::True, "KubeletReady", 1000),
        NodeCond {
            type_: "e2e.remediation.condition",
            status: NodeStatus::False,
            reason: "",
            message: "",
            since_ms: NOW - 11 * S,
            heartbeat_ms: NOW,
        },
    ];
    let c = needs_remediation(&mhc, &targets_cluster(), &targets_machine(1200), &NodeSeen::Found(&conds), NOW, 600 * S);
    assert_eq!(c, failed("UnhealthyNode", "Health check failed:\n  * Condition e2e.remediation.condition on Node is reporting status False with reason  for more than 10s"));
}

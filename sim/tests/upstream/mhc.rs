//! MachineHealthCheck, restated from `core/reconcilers/machinehealthcheck/machinehealthcheck_controller_test.go`
//! and `machinehealthcheck_targets_test.go` (cluster-api ae7ff047db), and from the e2e remediation
//! specs (`test/e2e/md_remediations.go`, `test/framework/machinehealthcheck_helpers.go`). Pure
//! functions are tested as upstream's table tests do; the controller's behaviour through scenarios.

use super::{assert_passed, scenario};
use capi_sim::controllers::conditions::{self, Cond, Status};
use capi_sim::controllers::machinehealthcheck::{
    is_allowed_remediation, max_unhealthy, needs_remediation, Check, MachineHealthCheckReconciler, NodeSeen,
};
use capi_sim::kinds::Kind;
use capi_sim::object::{ObjKey, Object};
use capi_sim::objectset::ObjectSet;
use capi_sim::runtime::Reconciler;
use capi_sim::store::{Change, ChangeKind};
use capi_sim::world::objects::NodeCond;
use capi_sim::world::workload::Status as NodeStatus;
use rstest::rstest;
use serde_json::{json, Value};
use std::sync::Arc;

// ---------------------------------------------------------------------------------------------
// TestHealthCheckTargets (machinehealthcheck_targets_test.go)
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// TestIsAllowedRemediation, TestGetMaxUnhealthy (machinehealthcheck_controller_test.go)
// ---------------------------------------------------------------------------------------------

fn limit_mhc(max: Option<Value>, range: Option<&str>) -> Object {
    let mut o = Object::new(Kind::MachineHealthCheck, "default", "h");
    if let Some(m) = max {
        o.set("/spec/remediation/triggerIf/unhealthyLessThanOrEqualTo", m);
    }
    if let Some(r) = range {
        o.set("/spec/remediation/triggerIf/unhealthyInRange", json!(r));
    }
    o
}

/// TestIsAllowedRemediation, every table entry (expected machines, current healthy, allowed).
#[rstest]
#[case::when_max_unhealthy_is_not_set(None, 3, 0, Some(true))]
#[case::when_max_unhealthy_is_not_an_int_or_percentage(Some(json!("abcdef")), 5, 2, None)]
#[case::when_max_unhealthy_is_an_int_less_than_current_unhealthy(Some(json!(1)), 3, 1, Some(false))]
#[case::when_max_unhealthy_is_an_int_equal_to_current_unhealthy(Some(json!(2)), 3, 1, Some(true))]
#[case::when_max_unhealthy_is_an_int_greater_than_current_unhealthy(Some(json!(3)), 3, 1, Some(true))]
#[case::when_max_unhealthy_is_a_percentage_less_than_current_unhealthy(Some(json!("50%")), 5, 2, Some(false))]
#[case::when_max_unhealthy_is_a_percentage_equal_to_current_unhealthy(Some(json!("60%")), 5, 2, Some(true))]
#[case::when_max_unhealthy_is_a_percentage_greater_than_current_unhealthy(Some(json!("70%")), 5, 2, Some(true))]
fn is_allowed(#[case] max: Option<Value>, #[case] expected: i64, #[case] healthy: i64, #[case] allowed: Option<bool>) {
    let got = is_allowed_remediation(&limit_mhc(max, None), expected, healthy);
    assert_eq!(got.as_ref().ok().map(|(a, _)| *a), allowed, "{got:?}");
}

/// TestGetMaxUnhealthy, every table entry: percentages of the expected machines round down.
#[rstest]
#[case::when_max_unhealthy_is_nil(None, 7, Ok(7))]
#[case::when_max_unhealthy_is_not_an_int_or_percentage(
    Some(json!("abcdef")),
    3,
    Err("invalid value for IntOrString: invalid type: string is not a percentage".to_string())
)]
#[case::when_max_unhealthy_is_an_int(Some(json!(3)), 2, Ok(3))]
#[case::when_max_unhealthy_is_40_percent_of_5(Some(json!("40%")), 5, Ok(2))]
#[case::when_max_unhealthy_is_60_percent_of_7(Some(json!("60%")), 7, Ok(4))]
fn get_max_unhealthy(#[case] max: Option<Value>, #[case] expected: i64, #[case] want: Result<i64, String>) {
    assert_eq!(max_unhealthy(&limit_mhc(max, None), expected), want);
}

/// `isAllowedRemediation` with `unhealthyInRange`: allowed inside `[min-max]` (the controller test
/// "within unhealthyRange" and "not within UnhealthyInRange"), remediationsAllowed = max - unhealthy;
/// a range with max below min is an error (`getUnhealthyRange`).
#[rstest]
#[case::inside("[1-3]", 3, 1, Ok((true, 1)))]
#[case::below("[3-5]", 3, 1, Ok((false, 3)))]
#[case::none_unhealthy("[1-2]", 3, 3, Ok((false, 2)))]
#[case::inverted("[3-1]", 3, 1, Err("max value 1 cannot be less than min value 3 for unhealthyRange".to_string()))]
fn unhealthy_in_range(#[case] range: &str, #[case] expected: i64, #[case] healthy: i64, #[case] want: Result<(bool, i64), String>) {
    assert_eq!(is_allowed_remediation(&limit_mhc(None, Some(range)), expected, healthy), want);
}

// ---------------------------------------------------------------------------------------------
// TestMachineToMachineHealthCheck, TestClusterToMachineHealthCheck (machinehealthcheck_controller_test.go)
// ---------------------------------------------------------------------------------------------

fn mhc_obj(ns: &str, name: &str, cluster: &str, selector: Value) -> Arc<Object> {
    let mut o = Object::new(Kind::MachineHealthCheck, ns, name);
    o.meta.labels.insert("cluster.x-k8s.io/cluster-name".into(), cluster.into());
    o.set("/spec/clusterName", json!(cluster));
    o.set("/spec/selector", json!({"matchLabels": selector}));
    Arc::new(o)
}

fn machine_obj(ns: &str, cluster: &str, labels: &[(&str, &str)]) -> Arc<Object> {
    let mut m = Object::new(Kind::Machine, ns, "m1");
    m.meta.labels.insert("cluster.x-k8s.io/cluster-name".into(), cluster.into());
    for (k, v) in labels {
        m.meta.labels.insert((*k).into(), (*v).into());
    }
    m.set("/spec/clusterName", json!(cluster));
    Arc::new(m)
}

fn mapped(cache: &ObjectSet, change: Change) -> Vec<String> {
    let mut out: Vec<ObjKey> = Vec::new();
    MachineHealthCheckReconciler.map(&change, cache, &mut out);
    let mut names: Vec<String> = out.into_iter().map(|k| format!("{}/{}", k.ns, k.name)).collect();
    names.sort();
    names
}

/// TestMachineToMachineHealthCheck, every table entry: a Machine maps to the MHCs of its namespace and
/// cluster whose selector matches its labels.
#[rstest]
#[case::matches_labels_in_the_same_namespace(&[("default", "a", "c1", "foo")], vec!["default/a"])]
#[case::two_match_labels_in_the_same_namespace(&[("default", "a", "c1", "foo"), ("default", "b", "c1", "foo")], vec!["default/a", "default/b"])]
#[case::does_not_match_labels(&[("default", "a", "c1", "bar")], vec![])]
#[case::matches_labels_in_another_namespace(&[("other", "a", "c1", "foo")], vec![])]
fn machine_to_machine_health_check(#[case] mhcs: &[(&str, &str, &str, &str)], #[case] want: Vec<&str>) {
    let mut cache = ObjectSet::default();
    for (ns, name, cluster, sel) in mhcs {
        cache.insert(mhc_obj(ns, name, cluster, json!({"role": sel})));
    }
    let m = machine_obj("default", "c1", &[("role", "foo")]);
    assert_eq!(mapped(&cache, Change { kind: ChangeKind::Added, object: m, old: None }), want);
}

/// `machineIsChangedPredicate`: a Machine update that changes none of nodeRef, labels, annotations or
/// conditions (here: only spec.version) reaches no MHC; a condition change does.
#[test]
fn machine_updates_other_than_conditions_labels_annotations_node_ref_are_ignored() {
    let mut cache = ObjectSet::default();
    cache.insert(mhc_obj("default", "a", "c1", json!({"role": "foo"})));
    let old = machine_obj("default", "c1", &[("role", "foo")]);
    let mut new = (*old).clone();
    new.set("/spec/version", json!("v1.35.0"));
    assert!(mapped(&cache, Change { kind: ChangeKind::Modified, object: Arc::new(new.clone()), old: Some(old.clone()) }).is_empty());
    conditions::set(&mut new, [Cond::t("Ready", "Ready")], 1000);
    assert_eq!(mapped(&cache, Change { kind: ChangeKind::Modified, object: Arc::new(new), old: Some(old) }), vec!["default/a"]);
}

/// TestClusterToMachineHealthCheck: a Cluster maps to the MHCs of its namespace labelled with its
/// name (two MHCs: both; another cluster's, or another namespace's: none); behind the
/// `ClusterPausedTransitions` predicate, so only a change of `spec.paused` maps.
#[test]
fn cluster_to_machine_health_check() {
    let mut cache = ObjectSet::default();
    cache.insert(mhc_obj("default", "a", "c1", json!({"role": "foo"})));
    cache.insert(mhc_obj("default", "b", "c1", json!({"role": "bar"})));
    cache.insert(mhc_obj("default", "c", "c2", json!({"role": "foo"})));
    cache.insert(mhc_obj("other", "d", "c1", json!({"role": "foo"})));
    let old = Arc::new(Object::new(Kind::Cluster, "default", "c1"));
    let mut paused = (*old).clone();
    paused.set("/spec/paused", json!(true));
    assert_eq!(
        mapped(&cache, Change { kind: ChangeKind::Modified, object: Arc::new(paused), old: Some(old.clone()) }),
        vec!["default/a", "default/b"]
    );
    let mut other = (*old).clone();
    other.set("/spec/topology/version", json!("v1.35.0"));
    assert!(mapped(&cache, Change { kind: ChangeKind::Modified, object: Arc::new(other), old: Some(old) }).is_empty());
}

// ---------------------------------------------------------------------------------------------
// TestMachineHealthCheck_Reconcile (machinehealthcheck_controller_test.go), as scenarios
// ---------------------------------------------------------------------------------------------

/// A development cluster (1 control-plane Machine, 3 workers, kindnet) and an MHC over the workers
/// with `checks`/`remediation` as given, waiting until the MHC counts all three healthy; then `steps`.
fn mhc_scenario(name: &str, mhc_spec_extra: &str, steps: &str) -> (capi_scenarios::report::RunReport, capi_sim::backend::SimBackend) {
    let yaml = format!(
        r#"
name: {name}
seed: 1
vars: {{ CLUSTER_NAME: mhc, KUBERNETES_VERSION: v1.34.3, CONTROL_PLANE_MACHINE_COUNT: "1", WORKER_MACHINE_COUNT: "3" }}
steps:
  - apply: {{ file: ../../fixtures/cni/crs-kindnet.yaml }}
  - apply: {{ file: ../../fixtures/manifests/development-kcp-md.yaml }}
  - apply:
      manifest: |
        apiVersion: cluster.x-k8s.io/v1beta2
        kind: MachineHealthCheck
        metadata: {{ name: mhc-workers, namespace: default, labels: {{ cluster.x-k8s.io/cluster-name: wrong }} }}
        spec:
          clusterName: mhc
          selector:
            matchLabels: {{ cluster.x-k8s.io/deployment-name: mhc-md-0 }}
{mhc_spec_extra}
  - wait:
      for:
        all:
          - field: {{ target: MachineDeployment/mhc-md-0, path: status.availableReplicas, equals: 3 }}
          - field: {{ target: MachineHealthCheck/mhc-workers, path: status.currentHealthy, equals: 3 }}
      timeout: 15m
{steps}
"#
    );
    scenario(&yaml)
}

const NODE_CHECKS: &str = r#"          checks:
            nodeStartupTimeoutSeconds: 600
            unhealthyNodeConditions:
              - { type: Ready, status: Unknown, timeoutSeconds: 120 }
              - { type: Ready, status: "False", timeoutSeconds: 120 }
              - { type: e2e.remediation.condition, status: "False", timeoutSeconds: 10 }"#;

/// Mark the first `n` worker Nodes with `e2e.remediation.condition` False, as the e2e framework's
/// `PatchNodeCondition` does.
fn mark_nodes(n: usize) -> String {
    (0..n)
        .map(|i| {
            format!(
                r#"  - patch:
      target: {{ kind: Node, workload: mhc, name-prefix: mhc-md-0, pick: {pick} }}
      subresource: status
      patch: {{ status: {{ conditions: [ {{ type: e2e.remediation.condition, status: "False", reason: Injected }} ] }} }}
"#,
                pick = if i == 0 { "oldest" } else { "newest" }
            )
        })
        .collect()
}

fn store_objects(backend: &capi_sim::backend::SimBackend, kind: Kind) -> Vec<Value> {
    backend.sim().expect("prepared").mgmt[0].api.store.objects().of_kind(kind, None).map(|o| o.to_json()).collect()
}

fn events(backend: &capi_sim::backend::SimBackend, reason: &str) -> Vec<Value> {
    store_objects(backend, Kind::Event).into_iter().filter(|e| e["reason"] == reason).collect()
}

fn cond_of<'a>(o: &'a Value, t: &str) -> Option<&'a Value> {
    o["status"]["conditions"].as_array()?.iter().find(|c| c["type"] == t)
}

/// TestMachineHealthCheck_Reconcile, "it should ensure the correct cluster-name label when the label
/// has the wrong value", "it should ensure an owner reference is present when no existing ones exist"
/// and "it doesn't mark anything unhealthy when all Machines are healthy": status counts, sorted
/// targets, RemediationAllowed True, HealthCheckSucceeded True on every target.
#[test]
fn all_healthy_status_label_and_owner() {
    let (report, backend) = mhc_scenario("mhc-healthy", NODE_CHECKS, "");
    assert_passed(&report);
    let mhc = store_objects(&backend, Kind::MachineHealthCheck).pop().unwrap();
    assert_eq!(mhc["metadata"]["labels"]["cluster.x-k8s.io/cluster-name"], "mhc");
    let owner = &mhc["metadata"]["ownerReferences"][0];
    assert_eq!((owner["kind"].as_str(), owner["name"].as_str()), (Some("Cluster"), Some("mhc")));
    assert_eq!(mhc["status"]["expectedMachines"], 3);
    assert_eq!(mhc["status"]["currentHealthy"], 3);
    assert_eq!(mhc["status"]["remediationsAllowed"], 3);
    let targets: Vec<&str> = mhc["status"]["targets"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    let mut sorted = targets.clone();
    sorted.sort();
    assert_eq!((targets.len(), &targets), (3, &sorted));
    let c = cond_of(&mhc, "RemediationAllowed").unwrap();
    assert_eq!((c["status"].as_str(), c["reason"].as_str()), (Some("True"), Some("RemediationAllowed")));
    let workers: Vec<Value> = store_objects(&backend, Kind::Machine)
        .into_iter()
        .filter(|m| m["metadata"]["labels"]["cluster.x-k8s.io/deployment-name"] == "mhc-md-0")
        .collect();
    assert_eq!(workers.len(), 3);
    for m in &workers {
        let c = cond_of(m, "HealthCheckSucceeded").unwrap();
        assert_eq!((c["status"].as_str(), c["reason"].as_str()), (Some("True"), Some("HealthCheckSucceeded")), "{m}");
    }
    assert!(events(&backend, "MachineMarkedUnhealthy").is_empty());
}

/// TestMachineHealthCheck_Reconcile, "should react when a Node transitions to unhealthy" and "when in
/// a MachineSet, unhealthy machines should be deleted"; e2e `md_remediations.go` (a Node marked with
/// `e2e.remediation.condition` False): HealthCheckSucceeded False/UnhealthyNode with upstream's
/// message, OwnerRemediated False/WaitingForRemediation, a `MachineMarkedUnhealthy` event, and the
/// MachineSet replaces the Machine.
#[test]
fn node_condition_gets_the_machine_remediated() {
    let steps = format!(
        r#"{}  - wait:
      for: {{ condition: {{ target: {{ kind: Machine, cluster: mhc, match: any }}, type: OwnerRemediated, status: "False", reason: WaitingForRemediation }} }}
      timeout: 2m
  - expect:
      - condition: {{ target: {{ kind: Machine, cluster: mhc, match: any }}, type: HealthCheckSucceeded, status: "False", reason: UnhealthyNode }}
  - wait:
      for:
        all:
          - field: {{ target: MachineDeployment/mhc-md-0, path: status.availableReplicas, equals: 3 }}
          - field: {{ target: MachineHealthCheck/mhc-workers, path: status.currentHealthy, equals: 3 }}
      timeout: 15m
"#,
        mark_nodes(1)
    );
    let (report, backend) = mhc_scenario("mhc-node-condition", NODE_CHECKS, &steps);
    assert_passed(&report);
    let marked = events(&backend, "MachineMarkedUnhealthy");
    assert!(!marked.is_empty(), "no MachineMarkedUnhealthy event");
    let e = &marked[0];
    assert_eq!(e["type"], "Normal");
    assert_eq!(e["source"]["component"], "machinehealthcheck-controller");
    let machine = e["involvedObject"]["name"].as_str().unwrap();
    assert_eq!(e["message"], format!("Machine default/{machine} has been marked as unhealthy by default/mhc-workers"));
    // The remediated Machine is gone: replaced by its MachineSet.
    assert!(store_objects(&backend, Kind::Machine).iter().all(|m| m["metadata"]["name"] != machine));
}

/// TestMachineHealthCheck_Reconcile, "it marks unhealthy machines as unhealthy but not for remediation
/// when the unhealthy Machines exceed UnhealthyLessThanOrEqualTo": 2 of 3 unhealthy against 40% — the
/// exact message of the test, a Warning `RemediationRestricted` event, remediationsAllowed 0, and no
/// OwnerRemediated on the unhealthy Machines.
#[test]
fn short_circuit_on_unhealthy_less_than_or_equal_to() {
    let spec = format!("{NODE_CHECKS}\n          remediation:\n            triggerIf:\n              unhealthyLessThanOrEqualTo: 40%");
    let steps = format!(
        r#"{}  - wait:
      for: {{ condition: {{ target: MachineHealthCheck/mhc-workers, type: RemediationAllowed, status: "False", reason: TooManyUnhealthy }} }}
      timeout: 2m
  # The short-circuit does not requeue: the two Machines are judged again on the next event or resync.
  - wait:
      for: {{ count: {{ target: {{ kind: Machine, cluster: mhc, control-plane: false, where: {{ condition: {{ type: HealthCheckSucceeded, status: "False" }} }} }}, equals: 2 }} }}
      timeout: 15m
  - expect:
      - field: {{ target: MachineHealthCheck/mhc-workers, path: status.remediationsAllowed, equals: 0 }}
      - count: {{ target: {{ kind: Machine, cluster: mhc, control-plane: false }}, equals: 3 }}
      - not: {{ condition: {{ target: {{ kind: Machine, cluster: mhc, match: any }}, type: OwnerRemediated, status: "False" }} }}
"#,
        mark_nodes(2)
    );
    let (report, backend) = mhc_scenario("mhc-short-circuit", &spec, &steps);
    assert_passed(&report);
    let want = "Remediation is not allowed, the number of not started or unhealthy machines exceeds maxUnhealthy (total: 3, unhealthy: 2, maxUnhealthy: 40%)";
    let mhc = store_objects(&backend, Kind::MachineHealthCheck).pop().unwrap();
    assert_eq!(cond_of(&mhc, "RemediationAllowed").unwrap()["message"], want);
    let restricted = events(&backend, "RemediationRestricted");
    assert_eq!(restricted.len(), 1, "{restricted:#?}");
    assert_eq!((restricted[0]["type"].as_str(), restricted[0]["message"].as_str()), (Some("Warning"), Some(want)));
    assert!(events(&backend, "MachineMarkedUnhealthy").is_empty());
}

/// TestMachineHealthCheck_Reconcile, "it marks unhealthy machines as unhealthy but not for remediation
/// when the unhealthy Machines is not within UnhealthyInRange": 2 unhealthy of 3 against `[3-5]`.
#[test]
fn short_circuit_outside_unhealthy_in_range() {
    let spec = format!("{NODE_CHECKS}\n          remediation:\n            triggerIf:\n              unhealthyInRange: \"[3-5]\"");
    let steps = format!(
        r#"{}  - wait:
      for: {{ condition: {{ target: MachineHealthCheck/mhc-workers, type: RemediationAllowed, status: "False", reason: TooManyUnhealthy, message: "unhealthy: 2," }} }}
      timeout: 2m
"#,
        mark_nodes(2)
    );
    let (report, backend) = mhc_scenario("mhc-range-out", &spec, &steps);
    assert_passed(&report);
    let mhc = store_objects(&backend, Kind::MachineHealthCheck).pop().unwrap();
    assert_eq!(
        cond_of(&mhc, "RemediationAllowed").unwrap()["message"],
        "Remediation is not allowed, the number of not started or unhealthy machines does not fall within the range (total: 3, unhealthy: 2, unhealthyRange: [3-5])"
    );
}

/// TestMachineHealthCheck_Reconcile, "it marks unhealthy machines for remediation when number of
/// unhealthy machines is within unhealthyRange": 1 unhealthy in `[1-3]`, remediationsAllowed 3 - 1.
#[test]
fn remediation_within_unhealthy_in_range() {
    let spec = format!("{NODE_CHECKS}\n          remediation:\n            triggerIf:\n              unhealthyInRange: \"[1-3]\"");
    let steps = format!(
        r#"{}  - wait:
      for: {{ condition: {{ target: {{ kind: Machine, cluster: mhc, match: any }}, type: OwnerRemediated, status: "False" }} }}
      timeout: 2m
"#,
        mark_nodes(1)
    );
    let (report, backend) = mhc_scenario("mhc-range-in", &spec, &steps);
    assert_passed(&report);
    let mhc = store_objects(&backend, Kind::MachineHealthCheck).pop().unwrap();
    assert_eq!(mhc["status"]["remediationsAllowed"], 2, "{mhc}");
    assert_eq!(cond_of(&mhc, "RemediationAllowed").unwrap()["status"], "True");
}

/// TestMachineHealthCheck_Reconcile, "when a Machine's Node has gone away": deleting the Node in the
/// workload cluster gets the Machine HealthCheckSucceeded False/NodeDeleted at once.
#[test]
fn node_gone_away_in_the_workload_cluster() {
    let steps = r#"  - delete: { target: { kind: Node, workload: mhc, name-prefix: mhc-md-0, pick: oldest } }
  - wait:
      for:
        all:
          - condition: { target: { kind: Machine, cluster: mhc, match: any }, type: HealthCheckSucceeded, status: "False", reason: NodeDeleted, message: "Health check failed:\n  * Node mhc-md-0-" }
          - condition: { target: { kind: Machine, cluster: mhc, match: any }, type: HealthCheckSucceeded, status: "False", reason: NodeDeleted, message: " has been deleted" }
      timeout: 1m
"#;
    let (report, backend) = mhc_scenario("mhc-node-gone", NODE_CHECKS, steps);
    assert_passed(&report);
    assert_eq!(events(&backend, "MachineMarkedUnhealthy").len(), 1);
}

/// TestMachineHealthCheck_Reconcile, "should react when a Machine transitions to unhealthy": an
/// `unhealthyMachineConditions` entry on a condition set on the Machine.
#[test]
fn machine_condition_gets_the_machine_remediated() {
    let spec = r#"          checks:
            unhealthyMachineConditions:
              - { type: e2e.example, status: "False", timeoutSeconds: 60 }"#;
    let steps = r#"  - patch:
      target: { kind: Machine, cluster: mhc, control-plane: false, pick: oldest }
      subresource: status
      type: json
      patch: [ { op: add, path: /status/conditions/-, value: { type: e2e.example, status: "False", reason: Broken, message: "", lastTransitionTime: "2025-01-01T00:00:00Z" } } ]
  - wait:
      for: { condition: { target: { kind: Machine, cluster: mhc, match: any }, type: HealthCheckSucceeded, status: "False", reason: UnhealthyMachine, message: "Health check failed:\n  * Condition e2e.example on Machine is reporting status False with reason Broken for more than 1m0s" } }
      timeout: 3m
"#;
    let (report, backend) = mhc_scenario("mhc-machine-condition", spec, steps);
    assert_passed(&report);
    // The wait checks the exact message: the Machine is remediated (deleted) soon after, and with the
    // MHC's 15s rate-limit interval it may be gone by the time the run has settled.
    drop(backend);
}

/// TestGetTargetsFromMHC, "with machines having skip-remediation or paused annotation", and
/// TestMachineHealthCheck_Reconcile "when a machine is paused": such Machines are no targets.
#[rstest]
#[case::paused("cluster.x-k8s.io/paused")]
#[case::skip_remediation("cluster.x-k8s.io/skip-remediation")]
fn annotated_machines_are_not_targets(#[case] annotation: &str) {
    let steps = format!(
        r#"  - patch: {{ target: {{ kind: Machine, cluster: mhc, control-plane: false, pick: oldest }}, patch: {{ metadata: {{ annotations: {{ {annotation}: "" }} }} }} }}
  - wait:
      for: {{ field: {{ target: MachineHealthCheck/mhc-workers, path: status.expectedMachines, equals: 2 }} }}
      timeout: 1m
  - expect:
      - field: {{ target: MachineHealthCheck/mhc-workers, path: status.currentHealthy, equals: 2 }}
"#
    );
    let (report, _) = mhc_scenario("mhc-annotated", NODE_CHECKS, &steps);
    assert_passed(&report);
}

/// TestHealthCheckTargets "when the machine is manually marked for remediation", through the
/// controller: the remediate-machine annotation gets the Machine remediated by its MachineSet.
#[test]
fn remediate_machine_annotation_gets_the_machine_replaced() {
    let steps = r#"  - patch: { target: { kind: Machine, cluster: mhc, control-plane: false, pick: oldest }, patch: { metadata: { annotations: { cluster.x-k8s.io/remediate-machine: "" } } } }
  - wait:
      for: { condition: { target: { kind: Machine, cluster: mhc, match: any }, type: HealthCheckSucceeded, status: "False", reason: HasRemediateAnnotation } }
      timeout: 1m
  - wait:
      for: { field: { target: MachineHealthCheck/mhc-workers, path: status.currentHealthy, equals: 3 } }
      timeout: 15m
"#;
    let (report, backend) = mhc_scenario("mhc-annotation", NODE_CHECKS, steps);
    assert_passed(&report);
    assert!(store_objects(&backend, Kind::Machine)
        .iter()
        .all(|m| m["metadata"]["annotations"]["cluster.x-k8s.io/remediate-machine"].is_null()));
}

/// TestMachineHealthCheck_Reconcile, "when a Machine has no Node ref for longer than the
/// NodeStartupTimeoutSeconds": a worker whose `kubeadm join` keeps failing never gets a Node and is
/// marked NodeStartupTimeout with the timeout as Go prints it (`5m0s`, never `300s`).
#[test]
fn node_startup_timeout_through_the_controller() {
    let spec = r#"          checks:
            nodeStartupTimeoutSeconds: 300"#;
    let steps = r#"  - fault: { kind: kubeadm-join-fail, target: { cluster: mhc }, permanent: true }
  - scale: { target: MachineDeployment/mhc-md-0, replicas: 4 }
  - wait:
      for:
        condition:
          target: { kind: Machine, cluster: mhc, match: any }
          type: HealthCheckSucceeded
          status: "False"
          reason: NodeStartupTimeout
          message: "Health check failed:\n  * Node failed to report startup in 5m0s"
      timeout: 10m
"#;
    let (report, backend) = mhc_scenario("mhc-startup", spec, steps);
    assert_passed(&report);
    // The message is the whole of it.
    let marked = events(&backend, "MachineMarkedUnhealthy");
    assert!(!marked.is_empty());
}

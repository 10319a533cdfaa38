//! The MachineDeployment controller as upstream's tests pin it: `RollingOut`, aggregated Machine
//! conditions (`core/reconcilers/machinedeployment/machinedeployment_status_test.go`) and the events
//! of `machinedeployment_controller.go` / `machinedeployment_sync.go`.

use super::machine::{cond, csrm, events_about, run_until};
use capi_sim::controllers::conditions::{self, Cond, Status};
use capi_sim::controllers::machinedeployment::status::rolling_out;
use capi_sim::controllers::mdutil;
use capi_sim::engine::Sim;
use capi_sim::kinds::Kind;
use capi_sim::object::{ObjKey, Object};
use capi_sim::testing::{apply_yaml, get, list, run_for};
use rstest::rstest;
use serde_json::{json, Value};
use std::sync::Arc;

fn machine(name: &str, c: Option<Cond>) -> Object {
    let mut o = Object::new(Kind::Machine, "default", name);
    if let Some(c) = c {
        conditions::set(&mut o, [c], 0);
    }
    o
}

fn up_to_date(status: Status, reason: &str, message: &str) -> Option<Cond> {
    Some(Cond::new("UpToDate", status, reason, message))
}

/// `machinedeployment_status_test.go: Test_setRollingOutCondition`, every table entry: reasons of
/// the not up-to-date Machines deduplicated, version first.
#[rstest]
#[case::no_machines(vec![], ("False", "NotRollingOut", ""))]
#[case::all_machines_are_up_to_date(
    vec![machine("machine-1", up_to_date(Status::True, "UpToDate", "")), machine("machine-2", up_to_date(Status::True, "UpToDate", ""))],
    ("False", "NotRollingOut", "")
)]
#[case::one_up_to_date_two_not_one_unknown(
    vec![
        machine("machine-1", up_to_date(Status::True, "UpToDate", "")),
        machine("machine-2", up_to_date(Status::Unknown, "InternalError", "")),
        machine("machine-4", up_to_date(Status::False, "NotUpToDate", "* Failure domain failure-domain1, failure-domain2 required\n* InfrastructureMachine is not up-to-date")),
        machine("machine-3", up_to_date(Status::False, "NotUpToDate", "* Version v1.25.0, v1.26.0 required")),
    ],
    ("True", "RollingOut", "Rolling out 2 not up-to-date replicas\n* Version v1.25.0, v1.26.0 required\n* Failure domain failure-domain1, failure-domain2 required\n* InfrastructureMachine is not up-to-date")
)]
fn rolling_out_as_upstream(#[case] machines: Vec<Object>, #[case] want: (&str, &str, &str)) {
    let refs: Vec<&Object> = machines.iter().collect();
    let got = rolling_out(&refs);
    assert_eq!((got.status.as_str(), got.reason.as_str(), got.message.as_str()), want);
}

/// `machinedeployment_status_test.go: Test_setMachinesReadyCondition` ("one ready, one has nothing
/// reported", and more than three message groups: the rest counted as `And N Machines with other
/// issues`).
#[test]
fn machines_ready_counts_groups_beyond_three() {
    let ms: Vec<Object> = (1..=5)
        .map(|i| machine(&format!("machine-{i}"), Some(Cond::f("Ready", "NotReady", format!("message {i}")))))
        .chain([machine("machine-6", None)])
        .collect();
    let refs: Vec<&Object> = ms.iter().collect();
    let got = mdutil::machines_ready_condition(&refs);
    assert_eq!(
        (got.status.as_str(), got.reason.as_str(), got.message.as_str()),
        (
            "False",
            "NotReady",
            "* Machine machine-1: message 1\n* Machine machine-2: message 2\n* Machine machine-3: message 3\nAnd 2 Machines with other issues\nAnd 1 Machine with status unknown"
        )
    );
}

/// `util/conditions/merge_strategies_test.go: TestAggregateMessages` as used by the
/// MachineDeployment: more than three Machines with one message are `... (N more)`, and a
/// multi-line message is indented under its group.
#[test]
fn machines_ready_groups_many_machines_and_indents_lists() {
    let ms: Vec<Object> = (1..=5)
        .map(|i| machine(&format!("m{i}"), Some(Cond::f("Ready", "NotReady", "* NodeHealthy: Node not ready\n* Deleting: in progress"))))
        .collect();
    let refs: Vec<&Object> = ms.iter().collect();
    let got = mdutil::machines_ready_condition(&refs);
    assert_eq!(got.message, "* Machines m1, m2, m3, ... (2 more):\n  * NodeHealthy: Node not ready\n  * Deleting: in progress");
}

/// `util/conditions/merge_strategies_test.go: TestAggregateMessages` ("control plane machines
/// first"): a message reported by a control-plane Machine comes first, and within a group the
/// control-plane Machines are named first.
#[test]
fn control_plane_machines_go_first() {
    let mut cp = machine("z-cp", Some(Cond::f("Ready", "NotReady", "b")));
    cp.meta.labels.insert("cluster.x-k8s.io/control-plane".into(), String::new());
    let w1 = machine("a-w1", Some(Cond::f("Ready", "NotReady", "a")));
    let w2 = machine("a-w2", Some(Cond::f("Ready", "NotReady", "a")));
    let w3 = machine("a-w3", Some(Cond::f("Ready", "NotReady", "b")));
    let got = mdutil::machines_ready_condition(&[&w1, &w2, &w3, &cp]);
    assert_eq!(got.message, "* Machines z-cp, a-w3: b\n* Machines a-w1, a-w2: a");
}

/// A MachineDeployment without a control plane (its Machines never get a Node), as
/// `machinedeployment_controller_test.go` sets them up with envtest.
const FIXTURE: &str = r#"
apiVersion: cluster.x-k8s.io/v1beta2
kind: Cluster
metadata: {name: c1, namespace: default}
spec:
  infrastructureRef: {apiGroup: infrastructure.cluster.x-k8s.io, kind: DockerCluster, name: c1}
---
apiVersion: infrastructure.cluster.x-k8s.io/v1beta2
kind: DockerCluster
metadata: {name: c1, namespace: default}
spec: {}
---
apiVersion: bootstrap.cluster.x-k8s.io/v1beta2
kind: KubeadmConfigTemplate
metadata: {name: workers, namespace: default}
spec: {template: {spec: {joinConfiguration: {nodeRegistration: {kubeletExtraArgs: [{name: eviction-hard, value: "nodefs.available<0%"}]}}}}}
---
apiVersion: infrastructure.cluster.x-k8s.io/v1beta2
kind: DockerMachineTemplate
metadata: {name: workers, namespace: default}
spec: {template: {spec: {}}}
---
apiVersion: cluster.x-k8s.io/v1beta2
kind: MachineDeployment
metadata: {name: md-0, namespace: default}
spec:
  clusterName: c1
  replicas: 3
  template:
    spec:
      clusterName: c1
      version: v1.34.0
      bootstrap:
        configRef: {apiGroup: bootstrap.cluster.x-k8s.io, kind: KubeadmConfigTemplate, name: workers}
      infrastructureRef: {apiGroup: infrastructure.cluster.x-k8s.io, kind: DockerMachineTemplate, name: workers}
"#;

fn start() -> Sim {
    let mut sim = capi_sim::testing::sim(7);
    apply_yaml(&mut sim, FIXTURE);
    run_for(&mut sim, 30_000);
    sim
}

fn machine_sets(sim: &Sim) -> Vec<Arc<Object>> {
    let mut v = list(sim, Kind::MachineSet);
    v.sort_by_key(|m| (m.meta.creation_ms, m.name().to_string()));
    v
}

fn patch_md(sim: &mut Sim, p: Value) {
    let key = ObjKey::new(Kind::MachineDeployment, "default", "md-0");
    sim.patch(0, &key, &capi_sim::store::api::Patch::Merge(p), capi_sim::store::Subresource::Main).expect("patched");
}

/// `machinedeployment_controller.go: createOrUpdateMachineSetsAndSyncMachineDeploymentRevision`
/// records `SuccessfulCreate` (`Created MachineSet %s with %d replicas`, the MachineSet as
/// `namespace/name`) when it creates the MachineSet; `machinedeployment_controller_test.go:
/// TestMachineDeploymentReconciler` (one MachineSet with the MachineDeployment's replicas).
#[test]
fn creating_a_machine_set_is_recorded() {
    let sim = start();
    let mss = machine_sets(&sim);
    assert_eq!(mss.len(), 1);
    assert_eq!(mss[0].i64_at("/spec/replicas"), Some(3));
    let events = events_about(&sim, "MachineDeployment", "md-0");
    assert_eq!(
        events,
        vec![("Normal".into(), "SuccessfulCreate".into(), format!("Created MachineSet default/{} with 3 replicas", mss[0].name()))]
    );
    // Its own SuccessfulCreate events, one per Machine.
    let created = events_about(&sim, "MachineSet", mss[0].name()).into_iter().filter(|e| e.1 == "SuccessfulCreate").count();
    assert_eq!(created, 3);
}

/// `machinedeployment_controller.go` (`SuccessfulScale`: `Scaled down MachineSet %v: %d -> %d`
/// with the MachineSet's bare name) and `machinedeployment_status_test.go:
/// Test_setScalingDownCondition` ("scaling down": `Scaling down from 3 to 1 replicas`).
#[test]
fn scaling_down_is_recorded_with_upstreams_text() {
    let mut sim = start();
    patch_md(&mut sim, json!({"spec": {"replicas": 1}}));
    let ms = machine_sets(&sim).remove(0);
    let mut scaling_down = None;
    assert!(run_until(&mut sim, 5 * 60_000, |s| {
        let md = get(s, Kind::MachineDeployment, "default", "md-0").expect("md");
        if let Some(c) = cond(&md, "ScalingDown").filter(|c| c.0 == "True") {
            scaling_down.get_or_insert(c);
        }
        md.i64_at("/status/replicas") == Some(1)
    }));
    let events = events_about(&sim, "MachineDeployment", "md-0");
    assert!(
        events.contains(&("Normal".into(), "SuccessfulScale".into(), format!("Scaled down MachineSet {}: 3 -> 1", ms.name()))),
        "{events:?}"
    );
    assert_eq!(scaling_down, csrm("True", "ScalingDown", "Scaling down from 3 to 1 replicas"));
}

/// `machinedeployment_controller.go` on a template change (a rollout): a second MachineSet is
/// created (`Created MachineSet ... with 1 replicas`, maxSurge 1) and the MachineDeployment's
/// `RollingOut` condition names what is not up to date (`Test_setRollingOutCondition`).
#[test]
fn a_template_change_creates_a_new_machine_set_and_reports_rolling_out() {
    let mut sim = start();
    patch_md(&mut sim, json!({"spec": {"template": {"spec": {"version": "v1.34.1"}}}}));
    assert!(run_until(&mut sim, 5 * 60_000, |s| list(s, Kind::MachineSet).len() == 2));
    run_for(&mut sim, 30_000);
    let mss = machine_sets(&sim);
    let events = events_about(&sim, "MachineDeployment", "md-0");
    assert!(
        events.contains(&(
            "Normal".into(),
            "SuccessfulCreate".into(),
            format!("Created MachineSet default/{} with 1 replicas", mss[1].name())
        )),
        "{events:?}"
    );
    let md = get(&sim, Kind::MachineDeployment, "default", "md-0").expect("md");
    let (s, r, m) = cond(&md, "RollingOut").expect("RollingOut");
    assert_eq!((s.as_str(), r.as_str()), ("True", "RollingOut"));
    assert!(m.starts_with("Rolling out 3 not up-to-date replicas\n* Version v1.34.0, v1.34.1 required"), "{m}");
}

/// `machinedeployment_status_test.go: Test_setScalingUpCondition` ("scaling up and
/// bootstrapConfig object not found": `... is blocked because KubeadmConfigTemplate does not exist`).
#[test]
fn a_missing_bootstrap_template_blocks_scaling_up() {
    let mut sim = start();
    sim.delete(0, &ObjKey::new(Kind::KubeadmConfigTemplate, "default", "workers"), capi_scenarios::model::Propagation::Background)
        .expect("deleted");
    patch_md(&mut sim, json!({"spec": {"replicas": 4}}));
    assert!(run_until(&mut sim, 2 * 60_000, |s| {
        get(s, Kind::MachineDeployment, "default", "md-0")
            .and_then(|md| cond(&md, "ScalingUp"))
            .is_some_and(|c| c.2.contains("KubeadmConfigTemplate does not exist"))
    }));
    let md = get(&sim, Kind::MachineDeployment, "default", "md-0").expect("md");
    assert_eq!(
        cond(&md, "ScalingUp"),
        csrm("True", "ScalingUp", "Scaling up from 3 to 4 replicas is blocked because KubeadmConfigTemplate does not exist")
    );
}

/// `machinedeployment_sync_test.go: TestScaleMachineSet` and `machinedeployment_sync.go:
/// scaleMachineSet`: a paused MachineDeployment only scales, recorded as `Scaled MachineSet
/// <namespace>/<name>: A -> B`; no new MachineSet for a template change while paused.
#[test]
fn a_paused_machine_deployment_only_scales() {
    let mut sim = start();
    patch_md(&mut sim, json!({"spec": {"paused": true}}));
    run_for(&mut sim, 10_000);
    patch_md(&mut sim, json!({"spec": {"replicas": 2, "template": {"spec": {"version": "v1.34.1"}}}}));
    run_for(&mut sim, 60_000);
    let mss = machine_sets(&sim);
    assert_eq!(mss.len(), 1, "no rollout while paused");
    assert_eq!(mss[0].i64_at("/spec/replicas"), Some(2));
    let events = events_about(&sim, "MachineDeployment", "md-0");
    assert!(
        events.contains(&("Normal".into(), "SuccessfulScale".into(), format!("Scaled MachineSet default/{}: 3 -> 2", mss[0].name()))),
        "{events:?}"
    );
}

//! `clusterctl move`: `cmd/clusterctl/client/cluster/mover_test.go` restated over the simulator's
//! `clusterctl` module (preconditions on objects, and whole moves between two simulated management
//! clusters).

use super::{assert_passed, root};
use capi_scenarios::runner::{self, RunOptions};
use capi_sim::backend::{SimBackend, SimOptions};
use capi_sim::clusterctl;
use capi_sim::controllers::conditions::{self, Cond, Status};
use capi_sim::kinds::Kind;
use capi_sim::object::{ObjKey, Object};
use rstest::rstest;
use serde_json::json;
use std::sync::Arc;

fn cluster(name: &str, infra: bool, cp_ref: bool, cp_initialized: bool, condition: Option<Status>) -> Arc<Object> {
    let mut c = Object::new(Kind::Cluster, "ns1", name);
    c.set("/status/initialization/infrastructureProvisioned", json!(infra));
    if cp_ref {
        c.set("/spec/controlPlaneRef", json!({"apiGroup": "controlplane.cluster.x-k8s.io", "kind": "KubeadmControlPlane", "name": "cp"}));
    }
    c.set("/status/initialization/controlPlaneInitialized", json!(cp_initialized));
    if let Some(s) = condition {
        conditions::set(&mut c, [Cond::new("ControlPlaneInitialized", s, "R", "")], 0);
    }
    Arc::new(c)
}

fn machine(name: &str, node: bool) -> Arc<Object> {
    let mut m = Object::new(Kind::Machine, "ns1", name);
    if node {
        m.set("/status/nodeRef", json!({"name": name}));
    }
    Arc::new(m)
}

const PREFIX: &str = "failed to get object graph: failed to check for provisioned infrastructure: ";

/// `mover_test.go: Test_objectMover_checkProvisioningCompleted` ("Blocks with a cluster without
/// InfrastructureReady", "Blocks with a cluster without ControlPlaneInitialized", "Blocks with a
/// cluster with ControlPlaneInitialized=False", "Blocks with a cluster without ControlPlaneReady",
/// "Blocks with a Machine Without NodeRef", "Pass"), with the messages as clusterctl prints them (the
/// typed object's kind is cleared by the client: `"/, Kind="`).
#[rstest]
#[case::without_infrastructure(
    cluster("cluster1", false, false, false, Some(Status::True)),
    None,
    Some("cannot start the move operation while \"/, Kind=\" ns1/cluster1 is still provisioning the infrastructure")
)]
#[case::without_cp_initialized_condition(
    cluster("cluster1", true, false, false, None),
    None,
    Some("cannot start the move operation while the control plane for \"/, Kind=\" ns1/cluster1 is not yet initialized")
)]
#[case::cp_initialized_false(
    cluster("cluster1", true, false, false, Some(Status::False)),
    None,
    Some("cannot start the move operation while the control plane for \"/, Kind=\" ns1/cluster1 is not yet initialized")
)]
#[case::without_control_plane_ready(
    cluster("cluster1", true, true, false, Some(Status::True)),
    None,
    Some("cannot start the move operation while the control plane for \"/, Kind=\" ns1/cluster1 is not yet initialized")
)]
#[case::machine_without_node(
    cluster("cluster1", true, true, true, Some(Status::True)),
    Some(machine("machine1", false)),
    Some("cannot start the move operation while \"/, Kind=\" ns1/machine1 is still provisioning the node")
)]
#[case::pass(cluster("cluster1", true, true, true, Some(Status::True)), Some(machine("machine1", true)), None)]
fn check_provisioning_completed(#[case] c: Arc<Object>, #[case] m: Option<Arc<Object>>, #[case] err: Option<&str>) {
    let machines: Vec<Arc<Object>> = m.into_iter().collect();
    let got = clusterctl::check_provisioning_completed(&[c], &machines);
    assert_eq!(got, err.map_or(Ok(()), |e| Err(format!("{PREFIX}{e}"))));
}

/// `mover.go: checkProvisioningCompleted` aggregates every failure (`kerrors.NewAggregate`: several in
/// brackets, comma-separated), Clusters first, then Machines.
#[test]
fn provisioning_failures_are_aggregated() {
    let got = clusterctl::check_provisioning_completed(
        &[cluster("a", false, false, false, None), cluster("b", true, false, false, None)],
        &[machine("m1", false), machine("m2", true)],
    );
    assert_eq!(
        got,
        Err(format!(
            "{PREFIX}[cannot start the move operation while \"/, Kind=\" ns1/a is still provisioning the infrastructure, cannot start the move operation while the control plane for \"/, Kind=\" ns1/b is not yet initialized, cannot start the move operation while \"/, Kind=\" ns1/m1 is still provisioning the node]"
        ))
    );
}

/// `mover_test.go: Test_objectMover_toDirectory` ("Cluster is paused", "ClusterClass is paused") and
/// `mover.go: checkClustersNotPaused` / `checkClusterClassesNotPaused`: a paused Cluster (spec or
/// annotation) or an annotated ClusterClass stops the move before anything is touched.
#[test]
fn paused_clusters_and_classes_block_the_move() {
    let mut a = (*cluster("a", true, false, true, Some(Status::True))).clone();
    a.set("/spec/paused", json!(true));
    let mut b = (*cluster("b", true, false, true, Some(Status::True))).clone();
    b.meta.annotations.insert("cluster.x-k8s.io/paused".into(), String::new());
    assert_eq!(
        clusterctl::check_not_paused(&[Arc::new(a), Arc::new(b)], &[]),
        Err("cannot start operation while the following Clusters are paused: ns1/a, ns1/b".to_string())
    );
    let mut cc = Object::new(Kind::ClusterClass, "ns1", "class");
    cc.meta.annotations.insert("cluster.x-k8s.io/paused".into(), String::new());
    assert_eq!(
        clusterctl::check_not_paused(&[cluster("c", true, false, true, None)], &[Arc::new(cc)]),
        Err("cannot start operation while the following ClusterClasses are paused: ns1/class".to_string())
    );
}

/// `mover.go: move` (`waitForMoveUnblockedBackoff`): 5s, growing by 1.5, ten attempts.
#[test]
fn block_move_backoff() {
    assert_eq!(clusterctl::BLOCK_MOVE_ATTEMPTS, 10);
    let waits: Vec<u64> = (0..9).map(clusterctl::block_move_delay_ms).collect();
    assert_eq!(waits, [5_000, 7_500, 11_250, 16_875, 25_312, 37_968, 56_953, 85_429, 128_144]);
}

/// A quick-start cluster Available in `bootstrap`, with `permanent` as the second management cluster.
fn provisioned() -> SimBackend {
    let yaml = r#"
name: move-fixture
vars: { CLUSTER_TOPOLOGY: "true", CLUSTER_NAME: mv, KUBERNETES_VERSION: v1.34.3, CONTROL_PLANE_MACHINE_COUNT: "1", WORKER_MACHINE_COUNT: "1" }
management:
  - name: bootstrap
  - name: permanent
steps:
  - apply: { flavor: development, management: bootstrap }
  - apply: { file: ../../fixtures/cni/crs-kindnet.yaml, management: bootstrap }
  - patch: { target: { kind: Cluster, name: mv, management: bootstrap }, type: merge, patch: { metadata: { labels: { cni: kindnet } } } }
  - wait:
      for:
        all:
          - condition: { target: { kind: Cluster, name: mv, management: bootstrap }, type: Available, status: "True" }
          - condition: { target: { kind: Machine, cluster: mv, management: bootstrap }, type: Ready, status: "True" }
      timeout: 20m
"#;
    let path = root().join("scenarios/library/upstream-inline.yaml");
    let opts = capi_scenarios::LoadOptions { fixtures_dir: Some(root().join("fixtures")), ..Default::default() };
    let scenario = capi_scenarios::parse::load_text(yaml, &path, &opts).unwrap_or_else(|e| panic!("{e}"));
    let mut backend = SimBackend::new(SimOptions::default());
    let report = pollster::block_on(runner::run(&mut backend, &scenario, &RunOptions::default()));
    assert_passed(&report);
    backend
}

fn annotate(backend: &mut SimBackend, m: usize, key: &ObjKey, ann: &str) {
    let sim = backend.sim_mut().expect("prepared");
    let mut o = (**sim.mgmt[m].api.store.get(key).expect("object")).clone();
    o.meta.annotations.insert(ann.into(), "anything".into());
    sim.update(m, o, capi_sim::store::Subresource::Main, None, false).expect("annotated");
}

/// `mover_test.go: TestWaitReadyForMove` ("moving blocked cluster should fail") with `mover.go: move`:
/// a Cluster carrying `clusterctl.cluster.x-k8s.io/block-move` makes the move give up after ten
/// attempts; the source stays paused (Cluster `spec.paused`, ClusterClass annotated) and nothing is
/// created in the target.
#[test]
fn a_blocked_move_gives_up_and_leaves_the_source_paused() {
    let mut backend = provisioned();
    let ck = ObjKey::new(Kind::Cluster, "default", "mv");
    annotate(&mut backend, 0, &ck, "clusterctl.cluster.x-k8s.io/block-move");
    let sim = backend.sim_mut().expect("prepared");
    let start = sim.now();
    let err = clusterctl::move_objects(sim, 0, 1, "default").expect_err("blocked");
    assert_eq!(
        err,
        "error waiting for resources to be ready to move: action failed after 10 attempts: resource is not ready to move: cluster.x-k8s.io/v1beta2, Kind=Cluster/default/mv"
    );
    let waited = sim.now() - start;
    assert_eq!(waited, (0..9).map(clusterctl::block_move_delay_ms).sum::<u64>());
    let c = sim.mgmt[0].api.store.get(&ck).expect("still in the source");
    assert!(c.bool_at("/spec/paused"), "the source Cluster stays paused");
    let cc = sim.mgmt[0].api.store.get(&ObjKey::new(Kind::ClusterClass, "default", "quick-start")).expect("class");
    assert!(cc.meta.annotations.contains_key("cluster.x-k8s.io/paused"));
    assert!(sim.mgmt[1].api.store.get(&ck).is_none(), "nothing in the target");
    // A second attempt now fails on the pause clusterctl itself left behind.
    let again = clusterctl::move_objects(sim, 0, 1, "default").expect_err("paused");
    assert_eq!(again, "cannot start operation while the following Clusters are paused: default/mv");
}

/// `mover_test.go: Test_objectMover_move` (a provisioned Cluster moves): the clusterctl-move library
/// scenario (pause, create owner-first, delete from the source, unpause) passes.
#[test]
fn the_library_move_scenario_passes() {
    let path = root().join("scenarios/library/clusterctl-move.yaml");
    let scenario = capi_scenarios::load(&path, &capi_scenarios::LoadOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    let mut backend = SimBackend::new(SimOptions::default());
    let report = pollster::block_on(runner::run(&mut backend, &scenario, &RunOptions::default()));
    assert_passed(&report);
}

fn unannotate(backend: &mut SimBackend, m: usize, key: &ObjKey, ann: &str) {
    let sim = backend.sim_mut().expect("prepared");
    let mut o = (**sim.mgmt[m].api.store.get(key).expect("object")).clone();
    o.meta.annotations.remove(ann);
    sim.update(m, o, capi_sim::store::Subresource::Main, None, false).expect("unannotated");
}

/// `mover_test.go: TestWaitReadyForMove` ("moving blocked cluster that is eventually unblocked should
/// succeed"): a move started in the background pauses the source and waits while the Cluster carries
/// `block-move`; the clock and the controllers go on meanwhile, and once the annotation is removed
/// the move proceeds at its next look and ends with the objects in the target.
#[test]
fn a_background_move_waits_for_block_move_and_proceeds_once_it_is_removed() {
    use capi_scenarios::predicate::AsyncStatus;
    let mut backend = provisioned();
    let ck = ObjKey::new(Kind::Cluster, "default", "mv");
    annotate(&mut backend, 0, &ck, "clusterctl.cluster.x-k8s.io/block-move");
    let sim = backend.sim_mut().expect("prepared");
    let msg = clusterctl::background::start(sim, "pivot", 0, 1, "default").expect("started");
    assert_eq!(msg, "clusterctl move of namespace default started in the background as `pivot`");
    assert_eq!(sim.async_step("pivot"), Some(AsyncStatus::Running));
    assert_eq!(sim.async_step("other"), None);
    let t = sim.now() + 20_000;
    sim.run_until(t);
    assert_eq!(sim.async_step("pivot"), Some(AsyncStatus::Running), "still blocked after 20s");
    assert!(sim.mgmt[0].api.store.get(&ck).expect("in the source").bool_at("/spec/paused"), "the source is paused while it waits");
    assert!(sim.mgmt[1].api.store.get(&ck).is_none(), "nothing in the target yet");
    unannotate(&mut backend, 0, &ck, "clusterctl.cluster.x-k8s.io/block-move");
    let sim = backend.sim_mut().expect("prepared");
    let unblocked = sim.now();
    let deadline = unblocked + 10 * 60_000;
    assert!(sim.run_while_not(deadline, |s| s.async_step("pivot") != Some(AsyncStatus::Running)), "the move ends");
    match sim.async_step("pivot") {
        Some(AsyncStatus::Done(Ok(m))) => assert!(m.starts_with("moved "), "{m}"),
        other => panic!("the move should succeed: {other:?}"),
    }
    // The next look comes at the backoff's next step (at most 128s after the removal), then 2s to settle.
    assert!(sim.now() - unblocked <= 128_144 + clusterctl::SETTLE_MS, "took {} ms", sim.now() - unblocked);
    assert!(sim.mgmt[0].api.store.get(&ck).is_none(), "gone from the source");
    assert!(sim.mgmt[1].api.store.get(&ck).is_some(), "in the target");
}

/// `mover_test.go: TestWaitReadyForMove` ("moving blocked cluster should fail") in the background:
/// the move gives up after the same ten attempts and time as in the foreground, with the same error,
/// which the `finished` predicate reports.
#[test]
fn a_background_move_that_stays_blocked_fails_as_the_foreground_one_does() {
    use capi_scenarios::predicate::AsyncStatus;
    let mut backend = provisioned();
    let ck = ObjKey::new(Kind::Cluster, "default", "mv");
    annotate(&mut backend, 0, &ck, "clusterctl.cluster.x-k8s.io/block-move");
    let sim = backend.sim_mut().expect("prepared");
    let start = sim.now();
    clusterctl::background::start(sim, "move", 0, 1, "default").expect("started");
    assert!(sim.run_while_not(start + 60 * 60_000, |s| s.async_step("move") != Some(AsyncStatus::Running)));
    assert_eq!(sim.now() - start, (0..9).map(clusterctl::block_move_delay_ms).sum::<u64>());
    assert_eq!(
        sim.async_step("move"),
        Some(AsyncStatus::Done(Err(
            "error waiting for resources to be ready to move: action failed after 10 attempts: resource is not ready to move: cluster.x-k8s.io/v1beta2, Kind=Cluster/default/mv".into()
        )))
    );
    assert!(sim.mgmt[0].api.store.get(&ck).expect("still in the source").bool_at("/spec/paused"));
}

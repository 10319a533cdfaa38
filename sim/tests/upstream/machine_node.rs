//! What the Machine controller writes onto Nodes and into `status.certificatesExpiryDate`, as
//! upstream's tests pin it: `core/reconcilers/machine/machine_controller_noderef_test.go`
//! (`TestReconcileNode` "node found, should propagate taints", `TestNodeLabelSync`, `TestPatchNode`'s
//! outdated-revision cases), `machine_controller_phases_test.go: TestReconcileCertificateExpiry`,
//! and the e2e specs that read Nodes (`test/e2e/kcp_md_rollout.go` taints, `test/e2e/node_drain.go`
//! node labels).

use super::machine::{run_until, up_plain, up_with, workload_apply};
use capi_sim::backend::SimOptions;
use capi_sim::engine::trace::TraceMode;
use capi_sim::engine::Sim;
use capi_sim::kinds::Kind;
use capi_sim::object::Object;
use capi_sim::store::api::Patch;
use capi_sim::store::Subresource;
use capi_sim::testing::{get, list, run_for};
use serde_json::{json, Value};
use std::sync::Arc;

/// A topology Cluster `name` (1 control-plane Machine, 2 workers) up and Available, with the
/// given extra variables (feature gates) and the full trace kept.
fn up(name: &str, extra_vars: &str) -> capi_sim::backend::SimBackend {
    up_with(name, 2, extra_vars, full_trace())
}

fn full_trace() -> SimOptions {
    SimOptions { trace: TraceMode::Full, ..SimOptions::default() }
}

/// [`up_plain`] with the full trace kept.
fn up_plain_traced(name: &str) -> capi_sim::backend::SimBackend {
    up_plain(name, full_trace())
}

fn patch_md(sim: &mut Sim, name: &str, patch: Value) {
    let key = capi_sim::object::ObjKey::new(Kind::MachineDeployment, "default", name);
    sim.patch(0, &key, &Patch::Merge(patch), Subresource::Main).unwrap_or_else(|e| panic!("patch: {e:?}"));
}

/// The workload cluster's Nodes as its API shows them, by name.
fn nodes(sim: &Sim, cluster: &str) -> Vec<Value> {
    let wl = sim.world.workload(cluster).expect("workload answers");
    wl.nodes.values().map(|n| capi_sim::world::objects::node_json(n, None, sim.now())).collect()
}

fn worker_nodes(sim: &Sim, cluster: &str) -> Vec<Value> {
    nodes(sim, cluster).into_iter().filter(|n| n["metadata"]["labels"].get("node-role.kubernetes.io/control-plane").is_none()).collect()
}

fn taint_keys(n: &Value) -> Vec<String> {
    n["spec"]["taints"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|t| format!("{}={}:{}", t["key"].as_str().unwrap(), t["value"].as_str().unwrap_or(""), t["effect"].as_str().unwrap()))
                .collect()
        })
        .unwrap_or_default()
}

fn patch_cluster(sim: &mut Sim, name: &str, ops: Value) {
    let key = capi_sim::object::ObjKey::new(Kind::Cluster, "default", name);
    patch_json(sim, &key, ops);
}

fn patch_json(sim: &mut Sim, key: &capi_sim::object::ObjKey, ops: Value) {
    sim.patch(0, key, &Patch::Json(ops), Subresource::Main).unwrap_or_else(|e| panic!("patch: {e:?}"));
}

fn machines(sim: &Sim, cluster: &str) -> Vec<Arc<Object>> {
    list(sim, Kind::Machine).into_iter().filter(|m| m.str_at("/spec/clusterName") == Some(cluster)).collect()
}

/// `TestPatchNode` / `GetManagedAnnotations`: every Node names its Machine, the Machine's Cluster
/// and namespace and its controller owner, and carries the two tracking annotations.
#[test]
fn nodes_carry_the_machine_bookkeeping_annotations() {
    let mut backend = up("nsync", "");
    let sim = backend.sim_mut().unwrap();
    for m in machines(sim, "nsync") {
        let node = m.str_at("/status/nodeRef/name").expect("node ref").to_string();
        let n = nodes(sim, "nsync").into_iter().find(|n| n["metadata"]["name"] == node.as_str()).expect("node");
        let a = &n["metadata"]["annotations"];
        assert_eq!(a["cluster.x-k8s.io/machine"], m.name());
        assert_eq!(a["cluster.x-k8s.io/cluster-name"], "nsync");
        assert_eq!(a["cluster.x-k8s.io/cluster-namespace"], "default");
        let owner = m.controller_ref().expect("owned");
        assert_eq!(a["cluster.x-k8s.io/owner-kind"], owner.kind.as_str());
        assert_eq!(a["cluster.x-k8s.io/owner-name"], owner.name.as_str());
        assert_eq!(a["cluster.x-k8s.io/annotations-from-machine"], "");
        assert!(a.get("cluster.x-k8s.io/taints-from-machine").is_none(), "the taint gate is off: {a}");
        assert!(!taint_keys(&n).iter().any(|t| t.starts_with("node.cluster.x-k8s.io/uninitialized")), "{n}");
    }
}

/// `TestNodeLabelSync` and `test/e2e/node_drain.go`: a label in the `node.cluster.x-k8s.io` domain
/// set on the topology reaches the Machines in place and from there the Nodes, tracked in
/// `labels-from-machine`; other labels do not; removing it from the topology removes it from the
/// Nodes.
#[test]
fn managed_labels_reach_the_nodes_and_leave_again() {
    let mut backend = up_plain_traced("nlabel");
    let sim = backend.sim_mut().unwrap();
    // As `node_drain.go` does: a Deployment that runs only where the synced label is; applied
    // before the label exists, its Pods wait.
    workload_apply(
        sim,
        "nlabel",
        vec![json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "pinned", "namespace": "default"},
            "spec": {"replicas": 4, "selector": {"matchLabels": {"app": "pinned"}},
                "template": {"metadata": {"labels": {"app": "pinned"}},
                    "spec": {"nodeSelector": {"owner.node.cluster.x-k8s.io": "md-0"}, "containers": [{"name": "c", "image": "busybox"}]}}}})],
    );
    let pinned = |s: &Sim| -> Vec<String> {
        s.world
            .workload("nlabel")
            .unwrap()
            .pods
            .values()
            .filter(|p| p.deployment.as_deref() == Some("pinned"))
            .map(|p| p.node.clone())
            .collect()
    };
    assert_eq!(pinned(sim), vec![String::new(); 4], "no Node carries the label yet");
    patch_md(
        sim,
        "nlabel-md-0",
        json!({"spec": {"template": {"metadata": {"labels": {"owner.node.cluster.x-k8s.io": "md-0", "plain": "x"},
            "annotations": {"team.node.cluster.x-k8s.io/owner": "a"}}}}}),
    );
    let synced = run_until(sim, 120_000, |s| {
        worker_nodes(s, "nlabel").iter().all(|n| n["metadata"]["labels"]["owner.node.cluster.x-k8s.io"] == "md-0")
    });
    assert!(synced, "{:#?}", worker_nodes(sim, "nlabel"));
    for n in worker_nodes(sim, "nlabel") {
        assert!(n["metadata"]["labels"].get("plain").is_none(), "{n}");
        assert_eq!(n["metadata"]["annotations"]["cluster.x-k8s.io/labels-from-machine"], "owner.node.cluster.x-k8s.io");
        assert_eq!(n["metadata"]["annotations"]["team.node.cluster.x-k8s.io/owner"], "a");
        assert_eq!(n["metadata"]["annotations"]["cluster.x-k8s.io/annotations-from-machine"], "team.node.cluster.x-k8s.io/owner");
    }
    // The waiting Pods run now, on the labelled workers only.
    let workers: Vec<String> = worker_nodes(sim, "nlabel").iter().map(|n| n["metadata"]["name"].as_str().unwrap().to_string()).collect();
    assert!(pinned(sim).iter().all(|n| workers.contains(n)), "{:?} not on {workers:?}", pinned(sim));
    // The control-plane Node has none of it.
    let cp: Vec<Value> = nodes(sim, "nlabel")
        .into_iter()
        .filter(|n| n["metadata"]["labels"].get("node-role.kubernetes.io/control-plane").is_some())
        .collect();
    assert!(cp.iter().all(|n| n["metadata"]["labels"].get("owner.node.cluster.x-k8s.io").is_none()));

    // A label put on a Machine by hand reaches its Node, and leaves it with the Machine's.
    let cp_machine = machines(sim, "nlabel").into_iter().find(|m| m.label("cluster.x-k8s.io/control-plane").is_some()).expect("cp");
    let cp_node = cp_machine.str_at("/status/nodeRef/name").unwrap().to_string();
    let node_of = |s: &Sim| nodes(s, "nlabel").into_iter().find(|n| n["metadata"]["name"] == cp_node.as_str()).unwrap();
    let mkey = cp_machine.key();
    sim.patch(0, &mkey, &Patch::Merge(json!({"metadata": {"labels": {"node-role.kubernetes.io/infra": ""}}})), Subresource::Main).unwrap();
    assert!(run_until(sim, 60_000, |s| node_of(s)["metadata"]["labels"].get("node-role.kubernetes.io/infra").is_some()));
    assert_eq!(node_of(sim)["metadata"]["annotations"]["cluster.x-k8s.io/labels-from-machine"], "node-role.kubernetes.io/infra");
    sim.patch(0, &mkey, &Patch::Merge(json!({"metadata": {"labels": {"node-role.kubernetes.io/infra": null}}})), Subresource::Main)
        .unwrap();
    assert!(
        run_until(sim, 60_000, |s| node_of(s)["metadata"]["labels"].get("node-role.kubernetes.io/infra").is_none()),
        "{}",
        node_of(sim)
    );
    assert_eq!(node_of(sim)["metadata"]["annotations"]["cluster.x-k8s.io/labels-from-machine"], "");
}

/// `TestReconcileNode` "node found, should propagate taints" and `test/e2e/kcp_md_rollout.go`:
/// with `MachineTaintPropagation` on, `Always` and `OnInitialization` taints reach the Nodes;
/// taints added later in place: `Always` ones reach the Nodes, `OnInitialization` ones do not;
/// an `Always` taint dropped from the Machine leaves the Node, an `OnInitialization` one stays.
#[test]
fn machine_taints_propagate_as_the_gate_says() {
    let mut backend = up("ntaint", r#", EXP_MACHINE_TAINT_PROPAGATION: "true""#);
    let sim = backend.sim_mut().unwrap();
    let taint = |k: &str, p: &str| json!({"key": k, "value": format!("{k}-value"), "effect": "PreferNoSchedule", "propagation": p});
    patch_cluster(
        sim,
        "ntaint",
        json!([{"op": "add", "path": "/spec/topology/workers/machineDeployments/0/taints",
                "value": [taint("first-always", "Always")]}]),
    );
    assert!(run_until(sim, 120_000, |s| worker_nodes(s, "ntaint")
        .iter()
        .all(|n| taint_keys(n).contains(&"first-always=first-always-value:PreferNoSchedule".to_string()))));
    for n in worker_nodes(sim, "ntaint") {
        assert_eq!(n["metadata"]["annotations"]["cluster.x-k8s.io/taints-from-machine"], "first-always:PreferNoSchedule");
    }
    // Added in place later: the OnInitialization taint never reaches Nodes that were initialized.
    patch_cluster(
        sim,
        "ntaint",
        json!([{"op": "replace", "path": "/spec/topology/workers/machineDeployments/0/taints",
                "value": [taint("second-always", "Always"), taint("late-on-init", "OnInitialization")]}]),
    );
    assert!(run_until(sim, 120_000, |s| worker_nodes(s, "ntaint")
        .iter()
        .all(|n| taint_keys(n).contains(&"second-always=second-always-value:PreferNoSchedule".to_string()))));
    run_for(sim, 30_000);
    for n in worker_nodes(sim, "ntaint") {
        let keys = taint_keys(&n);
        assert!(!keys.iter().any(|k| k.starts_with("first-always")), "dropped Always taint stays: {keys:?}");
        assert!(!keys.iter().any(|k| k.starts_with("late-on-init")), "OnInitialization taint added late: {keys:?}");
        assert_eq!(n["metadata"]["annotations"]["cluster.x-k8s.io/taints-from-machine"], "second-always:PreferNoSchedule");
    }
}

/// `TestPatchNode` ("Ensure NodeOutdatedRevisionTaint to be set if a node is associated to an
/// outdated machineset"): during a MachineDeployment rollout the Nodes of the old MachineSet carry
/// `node.cluster.x-k8s.io/outdated-revision:PreferNoSchedule`, the new ones do not.
#[test]
fn old_machine_set_nodes_are_tainted_outdated_during_a_rollout() {
    let mut backend = up_plain_traced("nroll");
    let sim = backend.sim_mut().unwrap();
    let before: Vec<String> = worker_nodes(sim, "nroll").iter().map(|n| n["metadata"]["name"].as_str().unwrap().to_string()).collect();
    // A rollout through `rollout.after` (10s from now, after the MachineSet was created): every
    // Machine is replaced.
    let after = capi_sim::object::timestamp(sim.now() + 10_000);
    patch_md(sim, "nroll-md-0", json!({"spec": {"rollout": {"after": after}}}));
    // The MachineDeployment acts on an expired rolloutAfter at its next reconcile (at the latest the
    // 10m resync: upstream does not requeue for it).
    let tainted = run_until(sim, 900_000, |s| {
        worker_nodes(s, "nroll").iter().any(|n| taint_keys(n).iter().any(|k| k.starts_with("node.cluster.x-k8s.io/outdated-revision")))
    });
    let sets: Vec<String> = list(sim, Kind::MachineSet)
        .iter()
        .map(|m| {
            format!(
                "{} rev={:?} replicas={:?}",
                m.name(),
                m.annotation("machinedeployment.clusters.x-k8s.io/revision"),
                m.at("/spec/replicas")
            )
        })
        .collect();
    let md = get(sim, Kind::MachineDeployment, "default", "nroll-md-0").unwrap();
    assert!(
        tainted,
        "no old Node was tainted: md {:?} sets {sets:?} nodes {:?}",
        md.annotation("machinedeployment.clusters.x-k8s.io/revision"),
        worker_nodes(sim, "nroll").iter().map(|n| (n["metadata"]["name"].clone(), taint_keys(n))).collect::<Vec<_>>()
    );
    for n in worker_nodes(sim, "nroll") {
        let name = n["metadata"]["name"].as_str().unwrap();
        let outdated = taint_keys(&n).contains(&"node.cluster.x-k8s.io/outdated-revision=:PreferNoSchedule".to_string());
        assert_eq!(outdated, before.iter().any(|b| b == name), "{name}: {n}");
    }
}

/// `TestReconcileCertificateExpiry`: a control-plane Machine takes its expiry from its bootstrap
/// config's annotation (set by KCP), and its own annotation takes precedence; worker Machines get
/// none.
#[test]
fn control_plane_machines_report_their_certificates_expiry() {
    let mut backend = up("ncert", "");
    let sim = backend.sim_mut().unwrap();
    let cp = machines(sim, "ncert").into_iter().find(|m| m.label("cluster.x-k8s.io/control-plane").is_some()).expect("cp machine");
    let cfg_name = cp.str_at("/spec/bootstrap/configRef/name").unwrap().to_string();
    let cfg = get(sim, Kind::KubeadmConfig, "default", &cfg_name).expect("config");
    let from_config = cfg.annotation("machine.cluster.x-k8s.io/certificates-expiry").expect("KCP annotates the config").to_string();
    let cp = get(sim, Kind::Machine, "default", cp.name()).unwrap();
    assert_eq!(cp.str_at("/status/certificatesExpiryDate"), Some(from_config.as_str()));
    for w in machines(sim, "ncert").iter().filter(|m| m.label("cluster.x-k8s.io/control-plane").is_none()) {
        assert_eq!(w.at("/status/certificatesExpiryDate"), None, "{}", w.name());
    }
    // The Machine's own annotation wins, printed in UTC.
    let key = cp.key();
    patch_json(
        sim,
        &key,
        json!([{"op": "add", "path": "/metadata/annotations/machine.cluster.x-k8s.io~1certificates-expiry", "value": "2030-02-02T02:00:00+02:00"}]),
    );
    assert!(run_until(sim, 60_000, |s| get(s, Kind::Machine, "default", cp.name()).unwrap().str_at("/status/certificatesExpiryDate")
        == Some("2030-02-02T00:00:00Z")));
}

/// `reconcileCertificateExpiry`'s error for an annotation that is not RFC 3339, with Go's text.
#[test]
fn an_unparsable_expiry_annotation_fails_the_reconcile_with_gos_text() {
    let mut backend = up("nbad", "");
    let sim = backend.sim_mut().unwrap();
    let cp = machines(sim, "nbad").into_iter().find(|m| m.label("cluster.x-k8s.io/control-plane").is_some()).expect("cp machine");
    patch_json(
        sim,
        &cp.key(),
        json!([{"op": "add", "path": "/metadata/annotations/machine.cluster.x-k8s.io~1certificates-expiry", "value": "2030-02-02"}]),
    );
    run_for(sim, 30_000);
    let want = format!(
        r#"failed to reconcile certificates expiry: failed to parse expiry date from annotation on default/{}: parsing time "2030-02-02" as "2006-01-02T15:04:05Z07:00": cannot parse "" as "T""#,
        cp.name()
    );
    assert!(sim.trace.lines().iter().any(|l| l.contains(&want)), "no reconcile error `{want}` in the trace");
}

//! Server-side apply as CAPI's controllers use it, in a running cluster: what a template drops goes
//! from the objects made from it, what others set stays theirs. Restates
//! `core/reconcilers/machineset/machineset_controller_test.go: TestMachineSetReconciler_syncMachines`
//! (dropped/modified/preserved labels and annotations on Machines, InfrastructureMachines and
//! BootstrapConfigs; `capi-machineset` / `capi-machineset-metadata` / `manager` managedFields),
//! `controlplane/kubeadm/reconcilers/kubeadmcontrolplane/kubeadmcontrolplane_controller_test.go:
//! TestKubeadmControlPlaneReconciler_syncMachines` (the same for KCP) and the metadata checks of
//! `test/e2e/clusterclass_rollout.go` (`assertMachineDeployments`, `assertMachineSets`,
//! `assertMachineSetsMachines`: labels and annotations follow the template, removals included).

use super::machine::{run_until, up_plain, up_with};
use capi_sim::backend::SimOptions;
use capi_sim::engine::Sim;
use capi_sim::kinds::Kind;
use capi_sim::object::{ObjKey, Object};
use capi_sim::store::api::Patch;
use capi_sim::store::managed::Operation;
use capi_sim::store::Subresource;
use capi_sim::testing::list;
use serde_json::{json, Value};
use std::sync::Arc;

fn patch(sim: &mut Sim, kind: Kind, name: &str, p: Value) {
    let key = ObjKey::new(kind, "default", name);
    sim.patch(0, &key, &Patch::Merge(p), Subresource::Main).unwrap_or_else(|e| panic!("patch {kind} {name}: {e:?}"));
}

/// The objects of `kind` that belong to Machines of `cluster` (worker or control plane).
fn of(sim: &Sim, kind: Kind, cluster: &str, control_plane: bool) -> Vec<Arc<Object>> {
    list(sim, kind)
        .into_iter()
        .filter(|o| o.label("cluster.x-k8s.io/cluster-name") == Some(cluster))
        .filter(|o| o.label("cluster.x-k8s.io/control-plane").is_some() == control_plane)
        .filter(|o| !o.deleting())
        .collect()
}

/// Machines, DockerMachines and KubeadmConfigs of the cluster's workers (or control plane).
fn family(sim: &Sim, cluster: &str, control_plane: bool) -> Vec<Arc<Object>> {
    [Kind::Machine, Kind::DockerMachine, Kind::KubeadmConfig].into_iter().flat_map(|k| of(sim, k, cluster, control_plane)).collect()
}

fn all_have(sim: &Sim, cluster: &str, cp: bool, label: &str, annotation: &str, present: bool) -> bool {
    let f = family(sim, cluster, cp);
    f.len() >= 3 && f.iter().all(|o| (o.label(label).is_some() == present) && (o.annotation(annotation).is_some() == present))
}

fn owners(o: &Object) -> Vec<(String, Operation)> {
    o.meta.managed.as_deref().map_or(&[][..], |v| v.as_slice()).iter().map(|e| (e.manager.to_string(), e.operation)).collect()
}

fn owns(o: &Object, manager: &str, op: Operation, path: &str) -> bool {
    o.meta
        .managed
        .as_deref()
        .map_or(&[][..], |v| v.as_slice())
        .iter()
        .any(|e| &*e.manager == manager && e.operation == op && e.fields.iter().any(|f| &**f == path))
}

/// `TestMachineSetReconciler_syncMachines`: a label and an annotation added to the
/// MachineDeployment's template reach the worker Machines, DockerMachines and KubeadmConfigs; when
/// the template drops them they go again; a label a user put on a Machine stays; the managers own
/// what upstream's managedFields assertions say.
#[test]
fn labels_dropped_from_a_machine_deployment_template_leave_its_machines() {
    let mut backend = up_plain("ssa-md", SimOptions::default());
    let sim = backend.sim_mut().unwrap();
    patch(
        sim,
        Kind::MachineDeployment,
        "ssa-md-md-0",
        json!({"spec": {"template": {"metadata": {"labels": {"dropped-label": "v"}, "annotations": {"dropped-annotation": "v"}}}}}),
    );
    assert!(run_until(sim, 120_000, |s| all_have(s, "ssa-md", false, "dropped-label", "dropped-annotation", true)));

    let m = of(sim, Kind::Machine, "ssa-md", false).remove(0);
    assert!(owns(&m, "capi-machineset", Operation::Apply, "/metadata/labels/dropped-label"), "{:?}", owners(&m));
    assert!(owns(&m, "capi-machineset", Operation::Apply, "/spec/clusterName"), "{:?}", owners(&m));
    let dm = of(sim, Kind::DockerMachine, "ssa-md", false).remove(0);
    assert!(owns(&dm, "capi-machineset-metadata", Operation::Apply, "/metadata/labels/dropped-label"), "{:?}", owners(&dm));
    assert!(!owns(&dm, "capi-machineset", Operation::Apply, "/metadata/labels/dropped-label"), "given up after creation");

    // A user's label on one Machine is the user's.
    let user_machine = m.name().to_string();
    sim.patch(0, &m.key(), &Patch::Merge(json!({"metadata": {"labels": {"user-label": "mine"}}})), Subresource::Main).unwrap();

    patch(
        sim,
        Kind::MachineDeployment,
        "ssa-md-md-0",
        json!({"spec": {"template": {"metadata": {"labels": {"dropped-label": null}, "annotations": {"dropped-annotation": null}}}}}),
    );
    let gone = run_until(sim, 120_000, |s| all_have(s, "ssa-md", false, "dropped-label", "dropped-annotation", false));
    let left: Vec<String> = family(sim, "ssa-md", false)
        .iter()
        .filter(|o| o.label("dropped-label").is_some() || o.annotation("dropped-annotation").is_some())
        .map(|o| format!("{} {}", o.kind, o.name()))
        .collect();
    assert!(gone, "still labelled: {left:?}");
    let ms = of(sim, Kind::MachineSet, "ssa-md", false);
    assert!(ms.iter().all(|ms| ms.at("/spec/template/metadata/labels/dropped-label").is_none() && ms.label("dropped-label").is_none()));
    let m = of(sim, Kind::Machine, "ssa-md", false).into_iter().find(|m| m.name() == user_machine).expect("same Machine (in place)");
    assert_eq!(m.label("user-label"), Some("mine"));
    assert_eq!(m.label("cluster.x-k8s.io/cluster-name"), Some("ssa-md"), "the Machine controller's label stays");
}

/// `TestKubeadmControlPlaneReconciler_syncMachines`: KCP's `spec.machineTemplate.metadata` reaches
/// its Machines, DockerMachines and KubeadmConfigs in place, and what it drops leaves them.
#[test]
fn labels_dropped_from_the_control_plane_template_leave_its_machines() {
    let mut backend = up_plain("ssa-cp", SimOptions::default());
    let sim = backend.sim_mut().unwrap();
    let kcp = list(sim, Kind::KubeadmControlPlane).into_iter().find(|k| k.name().starts_with("ssa-cp")).expect("kcp");
    let name = kcp.name().to_string();
    patch(
        sim,
        Kind::KubeadmControlPlane,
        &name,
        json!({"spec": {"machineTemplate": {"metadata": {"labels": {"dropped-label": "v"}, "annotations": {"dropped-annotation": "v"}}}}}),
    );
    assert!(run_until(sim, 120_000, |s| all_have(s, "ssa-cp", true, "dropped-label", "dropped-annotation", true)));
    let m = of(sim, Kind::Machine, "ssa-cp", true).remove(0);
    assert!(owns(&m, "capi-kubeadmcontrolplane", Operation::Apply, "/metadata/labels/dropped-label"), "{:?}", owners(&m));
    let cfg = of(sim, Kind::KubeadmConfig, "ssa-cp", true).remove(0);
    assert!(owns(&cfg, "capi-kubeadmcontrolplane-metadata", Operation::Apply, "/metadata/labels/dropped-label"), "{:?}", owners(&cfg));
    let rollouts = list(sim, Kind::Machine).len();

    patch(
        sim,
        Kind::KubeadmControlPlane,
        &name,
        json!({"spec": {"machineTemplate": {"metadata": {"labels": {"dropped-label": null}, "annotations": {"dropped-annotation": null}}}}}),
    );
    assert!(run_until(sim, 120_000, |s| all_have(s, "ssa-cp", true, "dropped-label", "dropped-annotation", false)));
    assert_eq!(list(sim, Kind::Machine).len(), rollouts, "metadata changes are in place: no new Machine");
}

/// `test/e2e/clusterclass_rollout.go`: a label set through the topology
/// (`spec.topology.workers.machineDeployments[].metadata`) reaches the MachineDeployment, its
/// MachineSets and Machines; removing it from the topology removes it everywhere, because the
/// topology, the MachineDeployment and the MachineSet all apply what they want.
#[test]
fn a_label_removed_from_the_topology_leaves_the_whole_chain() {
    let mut backend = up_with("ssa-topo", 1, "", SimOptions::default());
    let sim = backend.sim_mut().unwrap();
    let key = ObjKey::new(Kind::Cluster, "default", "ssa-topo");
    let set =
        json!([{"op": "add", "path": "/spec/topology/workers/machineDeployments/0/metadata", "value": {"labels": {"topo-label": "v"}}}]);
    sim.patch(0, &key, &Patch::Json(set), Subresource::Main).unwrap();
    let chain = |s: &Sim| -> Vec<Arc<Object>> {
        [Kind::MachineDeployment, Kind::MachineSet, Kind::Machine]
            .into_iter()
            .flat_map(|k| of(s, k, "ssa-topo", false))
            .filter(|o| o.kind != Kind::MachineSet || o.i64_at("/spec/replicas").unwrap_or(0) > 0)
            .collect()
    };
    assert!(run_until(sim, 120_000, |s| {
        let c = chain(s);
        c.len() >= 3 && c.iter().all(|o| o.label("topo-label") == Some("v"))
    }));
    let md = of(sim, Kind::MachineDeployment, "ssa-topo", false).remove(0);
    assert!(owns(&md, "capi-topology", Operation::Apply, "/metadata/labels/topo-label"), "{:?}", owners(&md));
    let unset = json!([{"op": "remove", "path": "/spec/topology/workers/machineDeployments/0/metadata"}]);
    sim.patch(0, &key, &Patch::Json(unset), Subresource::Main).unwrap();
    let gone = run_until(sim, 120_000, |s| chain(s).iter().all(|o| o.label("topo-label").is_none()));
    let left: Vec<String> =
        chain(sim).iter().filter(|o| o.label("topo-label").is_some()).map(|o| format!("{} {}", o.kind, o.name())).collect();
    assert!(gone, "still labelled: {left:?}");
}

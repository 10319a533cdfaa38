//! ClusterResourceSet: `core/reconcilers/clusterresourceset/clusterresourceset_controller_test.go`
//! (`TestClusterResourceSetReconciler` subtests) restated over the simulator, store-level and through
//! scenarios.

use super::{assert_passed, scenario};
use capi_sim::controllers::conditions::{self, Status};
use capi_sim::kinds::Kind;
use capi_sim::object::{ObjKey, Object};
use capi_sim::testing::{apply_yaml, get, run_for, sim};
use serde_json::Value;
use std::sync::Arc;

const CLUSTER: &str = r#"
apiVersion: cluster.x-k8s.io/v1beta2
kind: Cluster
metadata: { name: c1, namespace: default, labels: { foo: bar } }
spec:
  infrastructureRef: { apiGroup: infrastructure.cluster.x-k8s.io, kind: DockerCluster, name: c1 }
"#;

fn crs(name: &str, resources: &str) -> String {
    format!(
        r#"
apiVersion: addons.cluster.x-k8s.io/v1beta2
kind: ClusterResourceSet
metadata: {{ name: {name}, namespace: default }}
spec:
  clusterSelector: {{ matchLabels: {{ foo: bar }} }}
  resources: {resources}
"#
    )
}

fn binding(s: &capi_sim::engine::Sim) -> Option<Arc<Object>> {
    get(s, Kind::ClusterResourceSetBinding, "default", "c1")
}

fn entries(b: &Object) -> Vec<Value> {
    b.at("/spec/bindings").and_then(Value::as_array).cloned().unwrap_or_default()
}

/// `TestClusterResourceSetReconciler` "Should add finalizer after reconcile": the finalizer
/// `addons.cluster.x-k8s.io` first, then `Paused` False `NotPaused` (`EnsurePausedCondition` without a
/// Cluster).
#[test]
fn finalizer_and_paused_condition() {
    let mut s = sim(1);
    apply_yaml(&mut s, &crs("crs1", "[{ name: cm1, kind: ConfigMap }]"));
    run_for(&mut s, 5_000);
    let c = get(&s, Kind::ClusterResourceSet, "default", "crs1").expect("crs");
    assert!(c.has_finalizer("addons.cluster.x-k8s.io"));
    let p = conditions::get(&c, "Paused").expect("Paused");
    assert_eq!((p.status, p.reason), (Status::False, "NotPaused"));
    // No Cluster selected: ResourcesApplied is not set at all.
    assert!(conditions::get(&c, "ResourcesApplied").is_none());
}

/// `TestClusterResourceSetReconciler` "Should reconcile a ClusterResourceSet when a ConfigMap resource
/// is created that is part of ClusterResourceSet resources": while the ConfigMap is missing the
/// binding exists with this CRS's entry and no resources; once created the ConfigMap is owned by the
/// CRS. The workload cluster is not connected here, so `ResourcesApplied` is False `InternalError`.
#[test]
fn a_missing_configmap_is_picked_up_once_created() {
    let mut s = sim(1);
    apply_yaml(&mut s, CLUSTER);
    apply_yaml(&mut s, &crs("crs1", "[{ name: cm1, kind: ConfigMap }]"));
    run_for(&mut s, 10_000);
    let b = binding(&s).expect("binding created for the selected Cluster");
    let e = entries(&b);
    assert_eq!(e.len(), 1);
    assert_eq!(e[0]["clusterResourceSetName"], "crs1");
    assert_eq!(e[0]["resources"].as_array().map_or(0, Vec::len), 0);
    let c = get(&s, Kind::ClusterResourceSet, "default", "crs1").expect("crs");
    let ra = conditions::get(&c, "ResourcesApplied").expect("set");
    assert_eq!((ra.status, ra.reason, ra.message), (Status::False, "InternalError", "Please check controller logs for errors"));
    apply_yaml(&mut s, "apiVersion: v1\nkind: ConfigMap\nmetadata: { name: cm1, namespace: default }\ndata: {}\n");
    run_for(&mut s, 10_000);
    let cm = get(&s, Kind::ConfigMap, "default", "cm1").expect("cm");
    assert_eq!(cm.meta.owner_references.len(), 1);
    assert_eq!(cm.meta.owner_references[0].kind, "ClusterResourceSet");
    assert_eq!(&*cm.meta.owner_references[0].name, "crs1");
}

/// `clusterresourceset_controller.go: ApplyClusterResourceSet` (`ErrSecretTypeNotSupported`): a Secret
/// not of type `addons.cluster.x-k8s.io/resource-set` sets `WrongSecretType` with upstream's message.
#[test]
fn a_secret_of_the_wrong_type_is_refused() {
    let mut s = sim(1);
    apply_yaml(&mut s, CLUSTER);
    apply_yaml(&mut s, "apiVersion: v1\nkind: Secret\nmetadata: { name: s1, namespace: default }\ntype: Opaque\ndata: {}\n");
    apply_yaml(&mut s, &crs("crs1", "[{ name: s1, kind: Secret }]"));
    run_for(&mut s, 10_000);
    let c = get(&s, Kind::ClusterResourceSet, "default", "crs1").expect("crs");
    let ra = conditions::get(&c, "ResourcesApplied").expect("set");
    assert_eq!((ra.status, ra.reason, ra.message), (Status::False, "WrongSecretType", "Secret type of resource s1 is not supported"));
}

/// `TestClusterResourceSetReconciler` "Should delete ClusterResourceSet from the bindings list when
/// ClusterResourceSet is deleted": two CRSs share the Cluster's binding (two entries, two owner
/// references); deleting one drops its entry and owner reference; deleting the other deletes the
/// binding.
#[test]
fn deleting_a_crs_removes_it_from_the_binding() {
    let mut s = sim(1);
    apply_yaml(&mut s, CLUSTER);
    apply_yaml(&mut s, "apiVersion: v1\nkind: ConfigMap\nmetadata: { name: cm1, namespace: default }\ndata: {}\n");
    apply_yaml(&mut s, &crs("crs1", "[{ name: cm1, kind: ConfigMap }]"));
    apply_yaml(&mut s, &crs("crs2", "[{ name: cm1, kind: ConfigMap }]"));
    run_for(&mut s, 10_000);
    let b = binding(&s).expect("binding");
    assert_eq!((entries(&b).len(), b.meta.owner_references.len()), (2, 2));
    s.delete(0, &ObjKey::new(Kind::ClusterResourceSet, "default", "crs1"), capi_scenarios::model::Propagation::Background)
        .expect("deleted");
    run_for(&mut s, 10_000);
    let b = binding(&s).expect("binding");
    assert_eq!((entries(&b).len(), b.meta.owner_references.len()), (1, 1));
    assert_eq!(entries(&b)[0]["clusterResourceSetName"], "crs2");
    assert!(get(&s, Kind::ClusterResourceSet, "default", "crs1").is_none(), "the finalizer was removed");
    s.delete(0, &ObjKey::new(Kind::ClusterResourceSet, "default", "crs2"), capi_scenarios::model::Propagation::Background)
        .expect("deleted");
    run_for(&mut s, 10_000);
    assert!(binding(&s).is_none(), "an empty binding is deleted");
}

/// `TestClusterResourceSetReconciler` "Should reconcile a ClusterResourceSet with multiple resources
/// when a cluster with matching label exists" (and the CAPI e2e CNI install): once the workload
/// cluster is reachable, every resource is applied, recorded `applied: true` with its hash, and
/// `ResourcesApplied` is True `Applied`.
#[test]
fn resources_are_applied_once_the_workload_cluster_is_reachable() {
    let (report, backend) = scenario(
        r#"
name: crs-applied
vars: { CLUSTER_TOPOLOGY: "true", CLUSTER_NAME: crs, KUBERNETES_VERSION: v1.34.3, CONTROL_PLANE_MACHINE_COUNT: "1", WORKER_MACHINE_COUNT: "0" }
steps:
  - apply: { file: ../../fixtures/cni/crs-kindnet.yaml }
  - apply: { flavor: development }
  - patch: { target: Cluster/crs, type: merge, patch: { metadata: { labels: { cni: kindnet } } } }
  - wait: { for: { condition: { target: ClusterResourceSet/cni-kindnet, type: ResourcesApplied, status: "True", reason: Applied } }, timeout: 20m }
"#,
    );
    assert_passed(&report);
    let s = backend.sim().expect("prepared");
    let b = get(s, Kind::ClusterResourceSetBinding, "default", "crs").expect("binding");
    let e = entries(&b);
    assert_eq!(e.len(), 1);
    let r = &e[0]["resources"][0];
    assert_eq!((r["kind"].as_str(), r["name"].as_str(), r["applied"].as_bool()), (Some("ConfigMap"), Some("cni-kindnet"), Some(true)));
    assert!(r["hash"].as_str().is_some_and(|h| !h.is_empty()));
    assert_eq!(&*b.meta.owner_references[0].name, "cni-kindnet");
}

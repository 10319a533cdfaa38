//! Managed topologies and ClusterClass: `core/reconcilers/topology/cluster/status_test.go`
//! (`TopologyReconciled`), `reconcile_state.go` events, and
//! `core/reconcilers/clusterclass/clusterclass_controller_status_test.go`, restated through scenarios.

use super::{assert_passed, scenario};
use capi_sim::backend::SimBackend;
use capi_sim::controllers::conditions::{self, Status};
use capi_sim::kinds::Kind;
use capi_sim::object::ObjKey;
use serde_json::Value;

const QUICKSTART: &str = r#"
vars: { CLUSTER_TOPOLOGY: "true", CLUSTER_NAME: topo, KUBERNETES_VERSION: v1.34.3, CONTROL_PLANE_MACHINE_COUNT: "1", WORKER_MACHINE_COUNT: "1" }
steps:
  - apply: { file: ../../fixtures/cni/crs-kindnet.yaml }
  - apply: { flavor: development }
  - patch: { target: Cluster/topo, type: merge, patch: { metadata: { labels: { cni: kindnet } } } }
  - wait: { for: { condition: { target: Cluster/topo, type: Available, status: "True" } }, timeout: 20m }
"#;

fn run(name: &str, extra_steps: &str) -> SimBackend {
    let (report, backend) = scenario(&format!("name: {name}{QUICKSTART}{extra_steps}"));
    assert_passed(&report);
    backend
}

/// Events as (involved kind, involved name, source component, reason, message).
fn events(backend: &SimBackend) -> Vec<(String, String, String, String, String)> {
    let sim = backend.sim().expect("prepared");
    sim.mgmt[0]
        .api
        .store
        .objects()
        .of_kind(Kind::Event, None)
        .map(|o| o.to_json())
        .map(|e| {
            let s = |v: &Value| v.as_str().unwrap_or("").to_string();
            (
                s(&e["involvedObject"]["kind"]),
                s(&e["involvedObject"]["name"]),
                s(&e["source"]["component"]),
                s(&e["reason"]),
                s(&e["message"]),
            )
        })
        .collect()
}

/// `status_test.go: TestComputeTopologyReconciledCondition` ("should set the condition to true if
/// cluster is not upgrading"): a reconciled topology is True `ReconcileSucceeded` (no message).
#[test]
fn a_reconciled_topology_is_true() {
    let backend = run("topology-ok", "");
    let sim = backend.sim().expect("prepared");
    let c = sim.mgmt[0].api.store.get(&ObjKey::new(Kind::Cluster, "default", "topo")).expect("cluster");
    let tr = conditions::get(c, "TopologyReconciled").expect("set");
    assert_eq!((tr.status, tr.reason, tr.message), (Status::True, "ReconcileSucceeded", ""));
}

/// `status_test.go: TestComputeTopologyReconciledCondition` ("should set the TopologyReconciled
/// condition to false if the cluster is paused"): `Paused` with `Cluster spec.paused is set to true`,
/// and the annotation's message after a comma when both pause it.
#[test]
fn a_paused_cluster_reports_why() {
    run(
        "topology-paused",
        r#"
  - patch: { target: Cluster/topo, type: merge, patch: { spec: { paused: true }, metadata: { annotations: { cluster.x-k8s.io/paused: "" } } } }
  - wait: { for: { condition: { target: Cluster/topo, type: TopologyReconciled, status: "False", reason: Paused, message: "Cluster spec.paused is set to true, Cluster has the cluster.x-k8s.io/paused annotation" } }, timeout: 1m }
  - wait: { for: { condition: { target: Cluster/topo, type: Paused, status: "True", reason: Paused, message: "Cluster spec.paused is set to true, Cluster has the cluster.x-k8s.io/paused annotation" } }, timeout: 1m }
"#,
    );
}

/// `status_test.go: TestComputeTopologyReconciledCondition` ("should set the condition to false if
/// the cluster is upgrading"): `ClusterUpgrading`, `Cluster is upgrading to <version>` with the
/// control plane's bullet; the Cluster's `Available` keeps True and shows it as information
/// (`cluster_controller_status.go: clusterConditionCustomMergeStrategy`).
#[test]
fn an_upgrade_reports_cluster_upgrading() {
    run(
        "topology-upgrading",
        r#"
  - patch: { target: Cluster/topo, type: merge, patch: { spec: { topology: { version: v1.35.0 } } } }
  - wait: { for: { condition: { target: Cluster/topo, type: TopologyReconciled, status: "False", reason: ClusterUpgrading } }, timeout: 2m }
  - expect:
      - condition: { target: Cluster/topo, type: Available, status: "True" }
"#,
    );
}

/// `reconcile_state.go` (`createEventReason` `TopologyCreate`, `updateEventReason` `TopologyUpdate`):
/// the topology controller records `Created <Kind> "<ns>/<name>"` about the Cluster for every object it
/// creates, `Updated Cluster "<ns>/<name>"` when it sets the references, and `Created
/// MachineHealthCheck "<ns>/<name>"` about the MachineHealthCheck itself, from the
/// `topology/cluster-controller` recorder.
#[test]
fn the_topology_controller_records_what_it_creates() {
    let backend = run("topology-events", "");
    let ev = events(&backend);
    let created: Vec<&(String, String, String, String, String)> =
        ev.iter().filter(|e| e.3 == "TopologyCreate" && e.0 == "Cluster" && e.1 == "topo").collect();
    for kind in ["DockerCluster", "KubeadmControlPlane", "DockerMachineTemplate", "KubeadmConfigTemplate", "MachineDeployment"] {
        assert!(
            created.iter().any(|e| e.4.starts_with(&format!("Created {kind} \"default/topo-")) && e.4.ends_with('"')),
            "no TopologyCreate for {kind} in {created:#?}"
        );
    }
    assert!(created.iter().all(|e| e.2 == "topology/cluster-controller"));
    assert!(ev.iter().any(|e| e.0 == "Cluster" && e.3 == "TopologyUpdate" && e.4 == "Updated Cluster \"default/topo\""), "{ev:#?}");
    assert!(
        ev.iter().any(|e| e.0 == "MachineHealthCheck"
            && e.3 == "TopologyCreate"
            && e.4 == format!("Created MachineHealthCheck \"default/{}\"", e.1)),
        "{ev:#?}"
    );
}

/// `reconcile_state.go: updateMachineDeployment` (`logMachineDeploymentVersionChange`) and
/// `reconcileReferencedObject` (`logUnstructuredVersionChange`): an upgrade records `Updated
/// KubeadmControlPlane "<ns>/<name>" with version change from v1.34.3 to v1.35.0`, then the same for the
/// MachineDeployment.
#[test]
fn an_upgrade_records_the_version_changes() {
    let backend = run(
        "topology-upgrade-events",
        r#"
  - patch: { target: Cluster/topo, type: merge, patch: { spec: { topology: { version: v1.35.0 } } } }
  - wait: { for: { field: { target: { kind: MachineDeployment, cluster: topo }, path: spec.template.spec.version, equals: v1.35.0 } }, timeout: 30m }
"#,
    );
    let ev = events(&backend);
    let updates: Vec<&String> = ev.iter().filter(|e| e.3 == "TopologyUpdate").map(|e| &e.4).collect();
    for kind in ["KubeadmControlPlane", "MachineDeployment"] {
        assert!(
            updates.iter().any(|m| m.starts_with(&format!("Updated {kind} \"default/topo-"))
                && m.ends_with(" with version change from v1.34.3 to v1.35.0")),
            "no version-change update for {kind} in {updates:#?}"
        );
    }
}

/// `clusterclass_controller_status_test.go: TestSetRefVersionsUpToDateCondition` ("no outdated
/// references") and `TestSetVariablesReconciledCondition` ("variables reconciled"): the quick-start
/// ClusterClass is `RefVersionsUpToDate` and `VariablesReady`, `Paused` False, observed generation
/// current.
#[test]
fn the_cluster_class_reports_ready() {
    let backend = run("topology-class", "");
    let sim = backend.sim().expect("prepared");
    let cc = sim.mgmt[0].api.store.get(&ObjKey::new(Kind::ClusterClass, "default", "quick-start")).expect("class");
    let get = |t: &str| conditions::get(cc, t).map(|c| (c.status, c.reason.to_string()));
    assert_eq!(get("RefVersionsUpToDate"), Some((Status::True, "RefVersionsUpToDate".into())));
    assert_eq!(get("VariablesReady"), Some((Status::True, "VariablesReady".into())));
    assert_eq!(get("Paused"), Some((Status::False, "NotPaused".into())));
    assert_eq!(cc.i64_at("/status/observedGeneration"), Some(cc.meta.generation));
}

//! The MachinePool controller as upstream's tests pin it: node references
//! (`core/reconcilers/machinepool/machinepool_controller_noderef_test.go`) and phases
//! (`machinepool_controller_phases_test.go`).

use capi_sim::controllers::machinepool::{aggregate_versions, node_references, reconcile_phase, NodeInfo};
use capi_sim::kinds::Kind;
use capi_sim::object::Object;
use rstest::rstest;
use serde_json::json;
use std::collections::BTreeMap;

/// The Nodes of `TestMachinePoolGetNodeReference`, by providerID: Ready since 0 unless said.
fn nodes() -> BTreeMap<String, NodeInfo> {
    let node = |name: &str, ready: bool| NodeInfo { name: name.into(), ready, ready_since_ms: 0, kubelet_version: "v1.34.3".into() };
    let mut m = BTreeMap::new();
    m.insert("aws://us-east-1/id-node-1".to_string(), node("node-1", true));
    m.insert("aws://us-west-2/id-node-2".to_string(), node("node-2", true));
    m.insert("aws://us-west-2/id-node-3".to_string(), node("node-3", false));
    m.insert("gce://us-central1/gce-id-node-2".to_string(), node("gce-node-2", true));
    m.insert("azure://westus2/id-node-4".to_string(), node("azure-node-4", true));
    m.insert("azure://westus2/id-nodepool1/0".to_string(), node("azure-nodepool1-0", true));
    m.insert("azure://westus2/id-nodepool2/0".to_string(), node("azure-nodepool2-0", true));
    m
}

/// `machinepool_controller_noderef_test.go: TestMachinePoolGetNodeReference`, the table entries
/// (names, ready, available); `no node found` gives no references (upstream: `errNoAvailableNodes`).
#[rstest]
#[case::valid_aws_node(&["aws://us-east-1/id-node-1"], 0, &["node-1"], 1, 1)]
#[case::valid_aws_node_2(&["aws://us-west-2/id-node-2"], 0, &["node-2"], 1, 1)]
#[case::node_ready_false(&["aws://us-west-2/id-node-3"], 0, &["node-3"], 0, 0)]
#[case::valid_gce_node(&["gce://us-central1/gce-id-node-2"], 0, &["gce-node-2"], 1, 1)]
#[case::valid_azure_node(&["azure://westus2/id-node-4"], 0, &["azure-node-4"], 1, 1)]
#[case::azure_and_aws(&["aws://us-east-1/id-node-1", "azure://westus2/id-node-4"], 0, &["node-1", "azure-node-4"], 2, 2)]
#[case::no_node_found(&["aws:///id-node-100"], 0, &[], 0, 0)]
#[case::no_provider_id(&[], 0, &[], 0, 0)]
#[case::non_unique_instance_id(&["azure://westus2/id-nodepool1/0"], 0, &["azure-nodepool1-0"], 1, 1)]
#[case::same_instance_ids(&["azure://westus2/id-nodepool1/0", "azure://westus2/id-nodepool2/0"], 0, &["azure-nodepool1-0", "azure-nodepool2-0"], 2, 2)]
#[case::min_ready_seconds_not_passed(&["aws://us-east-1/id-node-1"], 20_000, &["node-1"], 1, 0)]
fn node_references_as_upstream(
    #[case] pids: &[&str],
    #[case] min_ready_ms: u64,
    #[case] names: &[&str],
    #[case] ready: usize,
    #[case] available: usize,
) {
    let pids: Vec<String> = pids.iter().map(|s| s.to_string()).collect();
    // "now" is 10s after the Nodes turned Ready: under a 20s minReadySeconds.
    let (refs, r, a) = node_references(&pids, min_ready_ms, &nodes(), 10_000);
    assert_eq!((refs.iter().map(String::as_str).collect::<Vec<_>>(), r, a), (names.to_vec(), ready, available));
}

/// A MachinePool with `spec.replicas` and status fields.
fn pool(replicas: Option<i64>, status: serde_json::Value) -> Object {
    let mut o = Object::new(Kind::MachinePool, "default", "mp");
    if let Some(r) = replicas {
        o.set("/spec/replicas", json!(r));
    }
    for (k, v) in status.as_object().expect("object") {
        o.set(&format!("/status/{k}"), v.clone());
    }
    o
}

/// `machinepool_controller_phases_test.go: TestReconcileMachinePoolPhases` ("Should set
/// OwnerReference and cluster name label on external objects" → Pending, "Should set
/// `Provisioning` when bootstrap is ready", "Should set `Running` when bootstrap, infra, and
/// ready replicas equals spec replicas", "Should set `ScalingUp` ...", "Should set `ScalingDown`
/// ...", "Should set `Deleting` when MachinePool is being deleted") and `reconcilePhase`'s
/// `Provisioned` and external-autoscaler `Scaling`.
#[rstest]
#[case::pending(Some(1), json!({}), false, false, "Pending")]
#[case::provisioning(Some(1), json!({"initialization": {"bootstrapDataSecretCreated": true}}), false, false, "Provisioning")]
#[case::provisioned(Some(1), json!({"initialization": {"bootstrapDataSecretCreated": true}, "nodeRefs": [{"name": "n"}]}), false, false, "Provisioned")]
#[case::running(Some(1), json!({"initialization": {"bootstrapDataSecretCreated": true, "infrastructureProvisioned": true}, "deprecated": {"v1beta1": {"readyReplicas": 1}}}), false, false, "Running")]
#[case::scaling_up(Some(2), json!({"initialization": {"bootstrapDataSecretCreated": true, "infrastructureProvisioned": true}, "deprecated": {"v1beta1": {"readyReplicas": 1}}}), false, false, "ScalingUp")]
#[case::scaling_down(Some(1), json!({"initialization": {"bootstrapDataSecretCreated": true, "infrastructureProvisioned": true}, "deprecated": {"v1beta1": {"readyReplicas": 2}}}), false, false, "ScalingDown")]
#[case::scaling_autoscaled(Some(2), json!({"initialization": {"bootstrapDataSecretCreated": true, "infrastructureProvisioned": true}, "deprecated": {"v1beta1": {"readyReplicas": 1}}}), true, false, "Scaling")]
#[case::deleting(Some(1), json!({"initialization": {"bootstrapDataSecretCreated": true, "infrastructureProvisioned": true}, "deprecated": {"v1beta1": {"readyReplicas": 1}}}), false, true, "Deleting")]
fn phases_as_upstream(
    #[case] replicas: Option<i64>,
    #[case] status: serde_json::Value,
    #[case] autoscaled: bool,
    #[case] deleting: bool,
    #[case] want: &str,
) {
    let mut mp = pool(replicas, status);
    if autoscaled {
        mp.meta.annotations.insert("cluster.x-k8s.io/replicas-managed-by".into(), "".into());
    }
    if deleting {
        mp.meta.deletion_ms = Some(1);
    }
    reconcile_phase(&mut mp);
    assert_eq!(mp.str_at("/status/phase"), Some(want));
}

/// `machinepool_controller_status_test.go` (`status.versions` aggregated from the Machines'
/// kubelet versions, in version order, empty ones skipped; none: unset).
#[test]
fn versions_aggregate_in_version_order() {
    let got = aggregate_versions(vec!["v1.34.3".into(), "v1.33.1".into(), "".into(), "v1.34.3".into()]);
    assert_eq!(got, json!([{"version": "v1.33.1", "replicas": 1}, {"version": "v1.34.3", "replicas": 2}]));
    assert_eq!(aggregate_versions(vec![]), serde_json::Value::Null);
}

//! Unit tests of the MachinePool controller: node references, phases, desired Machines.

use super::phases::desired_machine;
use super::*;
use rstest::rstest;
use std::collections::BTreeMap;

fn node(name: &str, ready: bool, since: u64) -> NodeInfo {
    NodeInfo { name: name.into(), ready, ready_since_ms: since, kubelet_version: "v1.34.3".into() }
}

#[rstest]
// Every providerID has a ready Node.
#[case(&["p1", "p2"], 0, 10_000, (vec!["n1", "n2"], 2, 2))]
// minReadySeconds not yet over for the second Node.
#[case(&["p1", "p2"], 5_000, 10_000, (vec!["n1", "n2"], 2, 1))]
// A providerID without a Node, an empty one, and a Node not ready.
#[case(&["p1", "", "p3", "px"], 0, 10_000, (vec!["n1", "n3"], 1, 1))]
fn node_reference_counting(#[case] pids: &[&str], #[case] min_ready: u64, #[case] now: u64, #[case] want: (Vec<&str>, usize, usize)) {
    let nodes = BTreeMap::from([
        ("p1".to_string(), node("n1", true, 1_000)),
        ("p2".to_string(), node("n2", true, 8_000)),
        ("p3".to_string(), node("n3", false, 1_000)),
    ]);
    let pids: Vec<String> = pids.iter().map(|p| p.to_string()).collect();
    let (refs, ready, available) = node_references(&pids, min_ready, &nodes, now);
    assert_eq!((refs.iter().map(String::as_str).collect::<Vec<_>>(), ready, available), want);
}

#[rstest]
#[case(json!({}), "Pending")]
#[case(json!({"initialization": {"bootstrapDataSecretCreated": true}}), "Provisioning")]
#[case(json!({"initialization": {"bootstrapDataSecretCreated": true, "infrastructureProvisioned": true}, "deprecated": {"v1beta1": {"readyReplicas": 1}}}), "ScalingUp")]
#[case(json!({"initialization": {"infrastructureProvisioned": true}, "nodeRefs": [{"name": "n"}], "deprecated": {"v1beta1": {"readyReplicas": 3}}}), "Running")]
#[case(json!({"initialization": {"infrastructureProvisioned": true}, "deprecated": {"v1beta1": {"readyReplicas": 4}}}), "ScalingDown")]
fn phases(#[case] status: Value, #[case] want: &str) {
    let mut mp = Object::new(Kind::MachinePool, "default", "mp");
    mp.set("/spec/replicas", json!(3));
    mp.set("/status", status);
    reconcile_phase(&mut mp);
    assert_eq!(mp.str_at("/status/phase"), Some(want));
}

#[test]
fn versions_aggregate_in_version_order() {
    let v = aggregate_versions(vec!["v1.34.3".into(), "v1.33.1".into(), "v1.34.3".into(), String::new()]);
    assert_eq!(v, json!([{"version": "v1.33.1", "replicas": 1}, {"version": "v1.34.3", "replicas": 2}]));
    assert_eq!(aggregate_versions(vec![]), Value::Null);
}

#[test]
fn pool_machines_follow_the_infra_machine() {
    let mut mp = Object::new(Kind::MachinePool, "default", "mp-0");
    mp.meta.uid = "u-mp".into();
    mp.set("/spec/clusterName", json!("c1"));
    mp.set("/spec/template/metadata/labels", json!({"team": "a"}));
    let dm = Object::new(Kind::DockerMachine, "default", "worker-abc123");
    let m = desired_machine(&mp, &dm, Some(&node("c1-worker-abc123", true, 0)));
    assert_eq!(m.name(), "worker-abc123");
    assert_eq!(m.controller_ref().map(|r| r.name.as_str()), Some("mp-0"));
    assert_eq!(m.label(keys::POOL_NAME), Some("mp-0"));
    assert_eq!(m.label("team"), Some("a"));
    assert_eq!(m.str_at("/spec/bootstrap/dataSecretName"), Some(""));
    assert_eq!(m.str_at("/spec/infrastructureRef/kind"), Some("DockerMachine"));
    assert_eq!(m.str_at("/spec/version"), Some("v1.34.3"));
}

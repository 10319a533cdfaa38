//! Engine-level tests of the MachineSet controller on its own: a stand-alone MachineSet (no
//! MachineDeployment) in the MachineDeployment tests' fixture.

use crate::controllers::common::keys;
use crate::controllers::conditions;
use crate::controllers::machinedeployment::tests::{machines_of, patch};
use crate::engine::{Sim, SimConfig};
use crate::features::FeatureGates;
use crate::kinds::Kind;
use crate::testing::{apply_yaml, get, run_for};
use serde_json::json;

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
spec:
  template:
    spec:
      joinConfiguration:
        nodeRegistration:
          kubeletExtraArgs: [{name: eviction-hard, value: "nodefs.available<0%"}]
---
apiVersion: infrastructure.cluster.x-k8s.io/v1beta2
kind: DockerMachineTemplate
metadata: {name: workers, namespace: default}
spec:
  template:
    spec: {}
---
apiVersion: cluster.x-k8s.io/v1beta2
kind: MachineSet
metadata: {name: ms-0, namespace: default}
spec:
  clusterName: c1
  replicas: 3
  deletion: {order: Oldest}
  template:
    spec:
      clusterName: c1
      version: v1.34.0
      bootstrap:
        configRef: {apiGroup: bootstrap.cluster.x-k8s.io, kind: KubeadmConfigTemplate, name: workers}
      infrastructureRef: {apiGroup: infrastructure.cluster.x-k8s.io, kind: DockerMachineTemplate, name: workers}
"#;

fn start() -> Sim {
    let mut sim = Sim::new(SimConfig { seed: 11, ..Default::default() });
    sim.add_management("mgmt", FeatureGates::default());
    apply_yaml(&mut sim, FIXTURE);
    run_for(&mut sim, 20_000);
    sim
}

#[test]
fn stand_alone_machineset_is_owned_by_its_cluster_and_creates_machines() {
    let sim = start();
    let ms = get(&sim, Kind::MachineSet, "default", "ms-0").unwrap();
    assert!(ms.owner_of_kind("Cluster").is_some_and(|r| !r.controller));
    assert_eq!(ms.label(keys::CLUSTER_NAME), Some("c1"));
    assert_eq!(ms.at("/spec/selector/matchLabels").and_then(|m| m.get(keys::SET_NAME)), Some(&json!("ms-0")));
    assert_eq!(ms.at("/spec/selector/matchLabels").and_then(|m| m.get(keys::CLUSTER_NAME)), Some(&json!("c1")));
    let machines = machines_of(&sim, "ms-0");
    assert_eq!(machines.len(), 3);
    for m in &machines {
        assert!(m.label(keys::DEPLOYMENT_NAME).is_none());
        assert!(get(&sim, Kind::KubeadmConfig, "default", m.name()).is_some());
        assert!(get(&sim, Kind::DockerMachine, "default", m.name()).is_some());
    }
    let ms = get(&sim, Kind::MachineSet, "default", "ms-0").unwrap();
    assert_eq!(ms.i64_at("/status/replicas"), Some(3));
    assert_eq!(ms.i64_at("/status/readyReplicas"), Some(0));
    assert_eq!(conditions::get(&ms, "ScalingUp").map(|c| (c.status, c.reason)), Some((conditions::Status::False, "NotScalingUp")));
    assert_eq!(conditions::get(&ms, "Deleting").map(|c| c.status), Some(conditions::Status::False));
    assert_eq!(ms.i64_at("/status/observedGeneration"), Some(ms.meta.generation));
}

#[test]
fn scale_down_honours_the_delete_machine_annotation_then_age() {
    let mut sim = start();
    let mut machines = machines_of(&sim, "ms-0");
    machines.sort_by(|a, b| crate::controllers::common::older_first(a, b));
    // Mark the last one; with order Oldest it still goes first. The others have no Node, so they are
    // equally unhealthy (priority 50, above any age score) and go by name.
    let marked = machines[2].name().to_string();
    patch(&mut sim, Kind::Machine, &marked, json!({"metadata": {"annotations": {"cluster.x-k8s.io/delete-machine": "yes"}}}));
    run_for(&mut sim, 2_000);
    patch(&mut sim, Kind::MachineSet, "ms-0", json!({"spec": {"replicas": 1}}));
    run_for(&mut sim, 5_000);
    let now = machines_of(&sim, "ms-0");
    let deleting: Vec<&str> = now.iter().filter(|m| m.deleting()).map(|m| m.name()).collect();
    let gone: Vec<&str> = machines.iter().map(|m| m.name()).filter(|n| now.iter().all(|m| m.name() != *n)).collect();
    let mut out: Vec<&str> = deleting.into_iter().chain(gone).collect();
    out.sort();
    let mut want = vec![marked.as_str(), machines[0].name()];
    want.sort();
    assert_eq!(out, want, "the annotated Machine, then the first by name");
}

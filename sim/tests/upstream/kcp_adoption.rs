//! KubeadmControlPlane adopting stand-alone control-plane Machines, as upstream's e2e spec
//! `test/e2e/kcp_adoption.go` ("Should adopt up-to-date control plane Machines without
//! modification") checks it: a Cluster first brought up by a Machine with its own KubeadmConfig (CABPK
//! generates the cluster certificates, owned by that config), then given a KubeadmControlPlane,
//! which takes the Machine and the certificates over without replacing anything; the bootstrap data
//! Secret stays with its config. Source: `controlplane/kubeadm/reconcilers/kubeadmcontrolplane/
//! kubeadmcontrolplane_controller.go` (`adoptMachines`, `adoptOwnedSecrets`),
//! `bootstrap/kubeadm/reconcilers/kubeadmconfig/kubeadmconfig_controller.go`
//! (`handleClusterNotInitialized`: `LookupOrGenerateCached` owned by the config).
//!
//! Kubernetes v1.36, as the e2e runs a release at or past it: below 1.36 KCP's desired config gains
//! the `ControlPlaneKubeletLocalMode` feature gate (`desiredstate.DefaultFeatureGates`), which a
//! hand-written config lacks, and KCP rolls the adopted Machine out (upstream and here alike).

use super::{assert_passed, scenario};
use capi_sim::kinds::Kind;
use capi_sim::object::Object;
use capi_sim::testing::list;
use std::sync::Arc;

const STEP1: &str = r#"
apiVersion: bootstrap.cluster.x-k8s.io/v1beta2
kind: KubeadmConfig
metadata: {name: adopt-control-plane-0, namespace: default, labels: {cluster.x-k8s.io/control-plane: ""}}
spec:
  clusterConfiguration:
    apiServer: {certSANs: [localhost, 127.0.0.1]}
---
apiVersion: cluster.x-k8s.io/v1beta2
kind: Cluster
metadata: {name: adopt, namespace: default, labels: {cni: kindnet}}
spec:
  clusterNetwork: {pods: {cidrBlocks: [192.168.0.0/16]}, services: {cidrBlocks: [10.128.0.0/12]}, serviceDomain: cluster.local}
  infrastructureRef: {apiGroup: infrastructure.cluster.x-k8s.io, kind: DockerCluster, name: adopt}
---
apiVersion: cluster.x-k8s.io/v1beta2
kind: Machine
metadata: {name: adopt-control-plane-0, namespace: default, labels: {cluster.x-k8s.io/control-plane: ""}}
spec:
  clusterName: adopt
  version: v1.36.1
  bootstrap:
    configRef: {apiGroup: bootstrap.cluster.x-k8s.io, kind: KubeadmConfig, name: adopt-control-plane-0}
  infrastructureRef: {apiGroup: infrastructure.cluster.x-k8s.io, kind: DockerMachine, name: adopt-control-plane-0}
---
apiVersion: infrastructure.cluster.x-k8s.io/v1beta2
kind: DockerCluster
metadata: {name: adopt, namespace: default}
---
apiVersion: infrastructure.cluster.x-k8s.io/v1beta2
kind: DockerMachine
metadata: {name: adopt-control-plane-0, namespace: default, labels: {cluster.x-k8s.io/control-plane: ""}}
spec: {}
"#;

const STEP2: &str = r#"
apiVersion: cluster.x-k8s.io/v1beta2
kind: Cluster
metadata: {name: adopt, namespace: default, labels: {cni: kindnet}}
spec:
  clusterNetwork: {pods: {cidrBlocks: [192.168.0.0/16]}, services: {cidrBlocks: [10.128.0.0/12]}, serviceDomain: cluster.local}
  controlPlaneRef: {apiGroup: controlplane.cluster.x-k8s.io, kind: KubeadmControlPlane, name: adopt-control-plane}
  infrastructureRef: {apiGroup: infrastructure.cluster.x-k8s.io, kind: DockerCluster, name: adopt}
---
apiVersion: controlplane.cluster.x-k8s.io/v1beta2
kind: KubeadmControlPlane
metadata: {name: adopt-control-plane, namespace: default}
spec:
  replicas: 1
  version: v1.36.1
  kubeadmConfigSpec:
    clusterConfiguration:
      apiServer: {certSANs: [localhost, 127.0.0.1]}
  machineTemplate:
    spec:
      infrastructureRef: {apiGroup: infrastructure.cluster.x-k8s.io, kind: DockerMachineTemplate, name: adopt-control-plane}
---
apiVersion: infrastructure.cluster.x-k8s.io/v1beta2
kind: DockerMachineTemplate
metadata: {name: adopt-control-plane, namespace: default}
spec:
  template:
    spec: {}
"#;

fn controller(o: &Object) -> Option<String> {
    o.controller_ref().map(|r| format!("{}/{}", r.kind, r.name))
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("        {l}")).collect::<Vec<_>>().join("\n")
}

#[test]
fn kcp_adopts_the_machine_and_the_certificates_without_replacing_them() {
    let (report, mut backend) = scenario(&format!(
        r#"
name: kcp-adoption
steps:
  - apply: {{ file: ../../fixtures/cni/crs-kindnet.yaml }}
  - apply:
      manifest: |
{}
  - wait:
      for: {{ condition: {{ target: Machine/adopt-control-plane-0, type: Ready, status: "True" }} }}
      timeout: 15m
  - expect:
      - field: {{ target: Secret/adopt-ca, path: "metadata.ownerReferences[0].kind", equals: KubeadmConfig }}
      - field: {{ target: Secret/adopt-ca, path: "metadata.ownerReferences[0].controller", equals: true }}
  - apply:
      manifest: |
{}
  - wait:
      for:
        all:
          - field: {{ target: Machine/adopt-control-plane-0, path: "metadata.ownerReferences[kind=KubeadmControlPlane].controller", equals: true }}
          - field: {{ target: KubeadmControlPlane/adopt-control-plane, path: status.upToDateReplicas, equals: 1 }}
          - field: {{ target: KubeadmControlPlane/adopt-control-plane, path: status.readyReplicas, equals: 1 }}
      timeout: 15m
"#,
        indent(STEP1),
        indent(STEP2)
    ));
    assert_passed(&report);
    let sim = backend.sim_mut().unwrap();
    let machines: Vec<Arc<Object>> = list(sim, Kind::Machine);
    let kcp = list(sim, Kind::KubeadmControlPlane).into_iter().next().expect("kcp");
    // Stable ownership: the one Machine is the adopted one, older than the KubeadmControlPlane.
    assert_eq!(machines.len(), 1, "{:?}", machines.iter().map(|m| m.name().to_string()).collect::<Vec<_>>());
    assert_eq!(controller(&machines[0]).as_deref(), Some("KubeadmControlPlane/adopt-control-plane"));
    assert!(machines[0].meta.creation_ms < kcp.meta.creation_ms);
    // The PKI material moved to KCP; the bootstrap data stays with its config; the kubeconfig is
    // not looked at.
    let cfg = list(sim, Kind::KubeadmConfig).into_iter().find(|c| c.name() == "adopt-control-plane-0").expect("config");
    let data = cfg.str_at("/status/dataSecretName").expect("bootstrap data").to_string();
    let secrets: Vec<Arc<Object>> =
        list(sim, Kind::Secret).into_iter().filter(|s| s.label("cluster.x-k8s.io/cluster-name") == Some("adopt")).collect();
    for s in &secrets {
        let want = if s.name().ends_with("-kubeconfig") {
            continue;
        } else if s.name() == data {
            "KubeadmConfig/adopt-control-plane-0"
        } else {
            "KubeadmControlPlane/adopt-control-plane"
        };
        assert_eq!(controller(s).as_deref(), Some(want), "{}", s.name());
    }
    for p in ["ca", "etcd", "sa", "proxy"] {
        assert!(secrets.iter().any(|s| s.name() == format!("adopt-{p}")), "adopt-{p} exists");
    }
}

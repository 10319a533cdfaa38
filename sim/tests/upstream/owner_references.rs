//! The owner references every object of a Cluster carries once it is up, as CAPI's e2e specs assert
//! them after provisioning (`test/e2e/quick_start.go` with `framework.ValidateOwnerReferencesOnUpdate`
//! and `AssertOwnerReferences`; the rules are `test/framework/ownerreference_helpers.go`:
//! `CoreOwnerReferenceAssertion`, `ExpOwnerReferenceAssertions`, `KubernetesReferenceAssertions`,
//! `KubeadmBootstrapOwnerReferenceAssertions`, `KubeadmControlPlaneOwnerReferenceAssertions`,
//! `DockerInfraOwnerReferenceAssertions` of v1.13.5). Each object's owners are compared as upstream's
//! `HasExactOwners` does: the sorted `apiVersion/kind/controller` of every reference.

use super::{assert_passed, scenario};
use capi_sim::kinds::Kind;
use capi_sim::object::Object;
use std::collections::BTreeMap;

const CORE: &str = "cluster.x-k8s.io/v1beta2";
const KCP: &str = "controlplane.cluster.x-k8s.io/v1beta2";
const CABPK: &str = "bootstrap.cluster.x-k8s.io/v1beta2";
const ADDONS: &str = "addons.cluster.x-k8s.io/v1beta2";

fn r(api_version: &str, kind: &str, controller: bool) -> String {
    format!("{api_version}/{kind}/{controller}")
}

/// The owner sets an object of this kind may have (any one of them), per upstream's tables.
fn allowed(kind: &str, topology: bool, infra: &str) -> Option<Vec<Vec<String>>> {
    let cluster_owner = r(CORE, "Cluster", false);
    let cluster_ref = if topology { r(CORE, "Cluster", true) } else { cluster_owner.clone() };
    let class_owner = r(CORE, "ClusterClass", false);
    let one = |v: String| vec![vec![v]];
    Some(match kind {
        "ClusterClass" | "Cluster" | "ClusterResourceSet" => vec![vec![]],
        "MachineDeployment" | "MachineHealthCheck" | "MachinePool" => one(cluster_owner),
        "MachineSet" => one(r(CORE, "MachineDeployment", true)),
        "Machine" => vec![vec![r(CORE, "MachineSet", true)], vec![r(CORE, "MachinePool", true)], vec![r(KCP, "KubeadmControlPlane", true)]],
        "ClusterResourceSetBinding" => vec![vec![r(ADDONS, "ClusterResourceSet", false)], vec![r(ADDONS, "ClusterResourceSet", false); 2]],
        "Secret" => vec![vec![r(KCP, "KubeadmControlPlane", true)], vec![r(CABPK, "KubeadmConfig", true)]],
        "ConfigMap" => one(r(ADDONS, "ClusterResourceSet", false)),
        "KubeadmControlPlane" => one(cluster_ref),
        "KubeadmControlPlaneTemplate" | "DockerClusterTemplate" | "DockerMachinePoolTemplate" => one(class_owner),
        "KubeadmConfig" => vec![vec![r(CORE, "Machine", true)], vec![r(CORE, "MachinePool", true), cluster_owner]],
        "KubeadmConfigTemplate" | "DockerMachineTemplate" => vec![vec![cluster_owner], vec![class_owner]],
        "DockerMachine" => vec![vec![r(CORE, "Machine", true)], vec![r(CORE, "Machine", true), r(infra, "DockerMachinePool", false)]],
        "DockerCluster" => one(cluster_ref),
        "DockerMachinePool" => vec![vec![r(CORE, "MachinePool", true), cluster_owner]],
        _ => return None,
    })
}

fn owners(o: &Object) -> Vec<String> {
    let mut v: Vec<String> = o.meta.owner_references.iter().map(|x| r(&x.api_version, &x.kind, x.controller)).collect();
    v.sort();
    v
}

/// Every object of the namespace that clusterctl's move graph holds (the kinds of the tables, plus the
/// Secrets of the Cluster and the ConfigMaps a ClusterResourceSet applies) against the tables.
fn check(yaml: &str, topology: bool) {
    let (report, backend) = scenario(yaml);
    assert_passed(&report);
    let sim = backend.sim().unwrap();
    let store = &sim.mgmt[0].api.store;
    let mut problems = BTreeMap::new();
    let mut seen = 0;
    for o in store.objects().iter() {
        let kind = o.kind.name();
        let in_graph = match o.kind {
            Kind::Secret => o.label("cluster.x-k8s.io/cluster-name").is_some(),
            Kind::ConfigMap => o.meta.owner_references.iter().any(|x| x.kind == "ClusterResourceSet"),
            _ => true,
        };
        if !in_graph {
            continue;
        }
        let infra =
            o.meta.owner_references.iter().find(|x| x.kind == "DockerMachinePool").map(|x| x.api_version.clone()).unwrap_or_default();
        let Some(sets) = allowed(kind, topology, &infra) else { continue };
        seen += 1;
        let mut sets: Vec<Vec<String>> = sets;
        for s in &mut sets {
            s.sort();
        }
        let got = owners(o);
        if !sets.contains(&got) {
            problems.insert(format!("{kind} {}", o.name()), format!("wanted one of {sets:?}, actual {got:?}"));
        }
    }
    assert!(seen > 20, "only {seen} objects looked at");
    assert!(problems.is_empty(), "unexpected ownerReferences:\n{problems:#?}");
}

fn up(flavor: &str) -> String {
    format!(
        r#"
name: owners
vars: {{ CLUSTER_TOPOLOGY: "true", EXP_MACHINE_POOL: "true", CLUSTER_NAME: owners, KUBERNETES_VERSION: v1.34.3, CONTROL_PLANE_MACHINE_COUNT: "1", WORKER_MACHINE_COUNT: "2" }}
steps:
  - apply: {{ flavor: {flavor} }}
  - apply: {{ file: ../../fixtures/cni/crs-kindnet.yaml }}
  - patch: {{ target: Cluster/owners, type: merge, patch: {{ metadata: {{ labels: {{ cni: kindnet }} }} }} }}
  - wait:
      for: {{ condition: {{ target: Cluster/owners, type: Available, status: "True" }} }}
      timeout: 15m
  - wait:
      for:
        all:
          - count: {{ target: {{ kind: Machine, cluster: owners }}, equals: 3 }}
          - condition: {{ target: {{ kind: Machine, cluster: owners }}, type: Ready, status: "True" }}
      timeout: 15m
"#
    )
}

/// `quick_start.go` "Should create a workload cluster" with a managed topology
/// (`ValidateOwnerReferencesOnUpdate` with `topologyManaged = true`).
#[test]
fn a_topology_cluster_has_upstreams_owner_graph() {
    check(&up("development"), true);
}

/// The same with MachinePools (`development-mp`): pool Machines, DockerMachines and KubeadmConfigs.
#[test]
fn a_machine_pool_cluster_has_upstreams_owner_graph() {
    check(&up("development-mp"), true);
}

/// Without a topology (`topologyManaged = false`): KCP and the DockerCluster are owned, not
/// controlled, by the Cluster; the templates by the Cluster.
#[test]
fn a_plain_cluster_has_upstreams_owner_graph() {
    check(
        r#"
name: owners-plain
vars: { CLUSTER_NAME: owners, KUBERNETES_VERSION: v1.34.3, CONTROL_PLANE_MACHINE_COUNT: "1", WORKER_MACHINE_COUNT: "2" }
steps:
  - apply: { file: ../../fixtures/cni/crs-kindnet.yaml }
  - apply: { file: ../../fixtures/manifests/development-kcp-md.yaml }
  - wait:
      for: { condition: { target: Cluster/owners, type: Available, status: "True" } }
      timeout: 15m
"#,
        false,
    );
}

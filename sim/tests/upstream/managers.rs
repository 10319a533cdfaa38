//! The controller managers as CAPI v1.13.5 ships them: the defaults of the `--*-concurrency` flags
//! (`main.go`, `controlplane/kubeadm/main.go`, `bootstrap/kubeadm/main.go`,
//! `test/infrastructure/docker/main.go` of release-1.13) and of `--kube-api-qps`/`--kube-api-burst`.
//! Upstream has no unit tests for flag defaults; each test names the flag definitions it restates.

use capi_sim::controllers::flags;
use capi_sim::engine::{Sim, SimConfig};
use capi_sim::features::FeatureGates;
use rstest::rstest;
use std::collections::BTreeMap;

/// Workers per (manager, controller) of a management cluster set up as `clusterctl init` does (with
/// ClusterTopology and MachinePool on).
fn workers(concurrency: Option<u32>) -> BTreeMap<(String, String), u32> {
    let mut sim = Sim::new(SimConfig { concurrency, ..Default::default() });
    sim.add_management("mgmt", FeatureGates { cluster_topology: true, machine_pool: true, ..Default::default() });
    sim.mgmt[0]
        .managers
        .iter()
        .flat_map(|m| m.controllers.iter().map(move |c| ((m.name.to_string(), c.reconciler.name().to_string()), c.workers)))
        .collect()
}

/// release-1.13 `main.go` (`--cluster-concurrency` 50, `--clusterclass-concurrency` 10,
/// `--clustertopology-concurrency` 50, `--machine-concurrency` 100, `--machineset-concurrency` 50,
/// `--machinedeployment-concurrency` 50, `--machinepool-concurrency` 50,
/// `--clusterresourceset-concurrency` 10 for both ClusterResourceSet controllers,
/// `--machinehealthcheck-concurrency` 50, the topology MachineDeployment/MachineSet controllers at a
/// fixed 25); `bootstrap/kubeadm/main.go` (`--kubeadmconfig-concurrency` 100);
/// `controlplane/kubeadm/main.go` (`--kubeadmcontrolplane-concurrency` 100).
#[rstest]
#[case("capi", "cluster", 50)]
#[case("capi", "clusterclass", 10)]
#[case("capi", "topology/cluster", 50)]
#[case("capi", "topology/machinedeployment", 25)]
#[case("capi", "topology/machineset", 25)]
#[case("capi", "machine", 100)]
#[case("capi", "machineset", 50)]
#[case("capi", "machinedeployment", 50)]
#[case("capi", "machinepool", 50)]
#[case("capi", "machinehealthcheck", 50)]
#[case("capi", "clusterresourceset", 10)]
#[case("capi", "clusterresourcesetbinding", 10)]
#[case("kubeadm-bootstrap", "kubeadmconfig", 100)]
#[case("kubeadm-control-plane", "kubeadmcontrolplane", 100)]
fn core_kcp_and_cabpk_workers(#[case] manager: &str, #[case] controller: &str, #[case] want: u32) {
    let w = workers(None);
    assert_eq!(w.get(&(manager.to_string(), controller.to_string())), Some(&want), "{manager}/{controller} in {w:?}");
}

/// release-1.13 `test/infrastructure/docker/main.go`: `--concurrency` (100) for DockerMachine and
/// DockerMachinePool (and their Dev* twins); DockerCluster and DockerMachineTemplate are set up with
/// `controller.Options{}`, so controller-runtime's default of one worker.
#[rstest]
#[case("dockermachine", 100)]
#[case("dockermachinepool", 100)]
#[case("devmachine", 100)]
#[case("dockercluster", 1)]
#[case("devcluster", 1)]
#[case("dockermachinetemplate", 1)]
fn capd_workers(#[case] controller: &str, #[case] want: u32) {
    let w = workers(None);
    assert_eq!(w.get(&("capd".to_string(), controller.to_string())), Some(&want), "{controller} in {w:?}");
}

/// `--*-concurrency` set explicitly (the simulator's `--concurrency`) applies to every controller.
#[test]
fn an_explicit_concurrency_applies_to_every_controller() {
    let w = workers(Some(7));
    assert!(w.len() > 15, "{w:?}");
    assert!(w.values().all(|&n| n == 7), "{w:?}");
}

/// Every manager's `--kube-api-qps` (100) and `--kube-api-burst` (200) since v1.13, and the release
/// the bench report names.
#[test]
fn client_rate_limits_and_release() {
    assert_eq!((flags::KUBE_API_QPS, flags::KUBE_API_BURST), (100, 200));
    assert_eq!(flags::RELEASE, "CAPI v1.13.5");
    assert_eq!(flags::flag_of("machine"), Some("--machine-concurrency"));
    assert_eq!(flags::flag_of("dockercluster"), None);
}

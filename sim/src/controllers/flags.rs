//! The controller managers as the modelled release ships them: the default of every
//! `--*-concurrency` flag (workers per controller, `MaxConcurrentReconciles`), the client's
//! `--kube-api-qps` / `--kube-api-burst`, and the feature gates that shape the work queues.
//! Sources (CAPI v1.13.5): `main.go` (core: `--cluster-concurrency` 50, `--clusterclass-concurrency`
//! 10, `--clustertopology-concurrency` 50, `--machine-concurrency` 100, `--machineset-concurrency`
//! 50, `--machinedeployment-concurrency` 50, `--machinepool-concurrency` 50,
//! `--clusterresourceset-concurrency` 10 (also the binding controller), `--machinehealthcheck-concurrency`
//! 50, the topology MachineDeployment/MachineSet controllers fixed at 25),
//! `controlplane/kubeadm/main.go` (`--kubeadmcontrolplane-concurrency` 100),
//! `bootstrap/kubeadm/main.go` (`--kubeadmconfig-concurrency` 100),
//! `test/infrastructure/docker/main.go` (`--concurrency` 100 for DockerMachine, DevMachine and both
//! machine pools; DockerCluster, DevCluster and the machine-template controllers get
//! `controller.Options{}`, so controller-runtime's default of 1 worker); every manager
//! `--kube-api-qps` 100 and `--kube-api-burst` 200; `feature/feature.go` (`PriorityQueue` and
//! `ReconcilerRateLimiting` beta, on by default); the rate-limit interval of CAPI's controller
//! builder (`util/controller/builder.go`, 1s) and the MachineHealthCheck controller's own
//! (`internal/controllers/machinehealthcheck/machinehealthcheck_controller.go: SetupWithManager`,
//! `WithRateLimitInterval(15s)`). The engine applies them all: `runtime::workqueue` (queues and
//! rate limits), `runtime::ratelimit` (the client's token buckets).

/// The release whose flags are modelled (`crate::release`, the one place versions are named).
pub const RELEASE: &str = crate::release::RELEASE;

/// `--kube-api-qps` of every manager.
pub const KUBE_API_QPS: u32 = 100;
/// `--kube-api-burst` of every manager.
pub const KUBE_API_BURST: u32 = 200;

/// The rate-limit interval of a controller (`WithRateLimitInterval`; intervals under 1s are ignored).
pub fn rate_limit_interval_ms(controller: &str) -> u64 {
    let asked = match controller {
        "machinehealthcheck" => 15_000,
        _ => 0,
    };
    asked.max(crate::runtime::ratelimit::DEFAULT_INTERVAL_MS)
}

/// Workers of a controller (by the simulator's controller name) as the release's flags default them.
pub fn default_workers(controller: &str) -> u32 {
    match controller {
        "cluster" => 50,
        "clusterclass" => 10,
        "topology/cluster" => 50,
        "topology/machinedeployment" | "topology/machineset" => 25,
        "machine" => 100,
        "machineset" | "machinedeployment" | "machinepool" | "machinehealthcheck" => 50,
        "clusterresourceset" | "clusterresourcesetbinding" => 10,
        "kubeadmconfig" | "kubeadmcontrolplane" => 100,
        "dockermachine" | "devmachine" | "dockermachinepool" | "devmachinepool" => 100,
        // controller.Options{}: controller-runtime's default.
        "dockercluster" | "devcluster" | "dockermachinetemplate" | "devmachinetemplate" => 1,
        _ => 1,
    }
}

/// The flag that sets a controller's workers (for reports), or `None` when none does.
pub fn flag_of(controller: &str) -> Option<&'static str> {
    Some(match controller {
        "cluster" => "--cluster-concurrency",
        "clusterclass" => "--clusterclass-concurrency",
        "topology/cluster" => "--clustertopology-concurrency",
        "machine" => "--machine-concurrency",
        "machineset" => "--machineset-concurrency",
        "machinedeployment" => "--machinedeployment-concurrency",
        "machinepool" => "--machinepool-concurrency",
        "machinehealthcheck" => "--machinehealthcheck-concurrency",
        "clusterresourceset" | "clusterresourcesetbinding" => "--clusterresourceset-concurrency",
        "kubeadmconfig" => "--kubeadmconfig-concurrency",
        "kubeadmcontrolplane" => "--kubeadmcontrolplane-concurrency",
        "dockermachine" | "devmachine" | "dockermachinepool" | "devmachinepool" => "--concurrency",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_registered_controller_has_a_release_default() {
        let gates = crate::features::FeatureGates::default();
        for (_, ctrls) in super::super::managers(&gates) {
            for c in ctrls {
                let w = default_workers(c.name());
                assert!(w >= 1, "{}", c.name());
                // A flag always sets more than controller-runtime's default of one worker.
                if flag_of(c.name()).is_some() {
                    assert!(w > 1, "{}", c.name());
                }
            }
        }
    }
}

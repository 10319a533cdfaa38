//! Feature gates of a management cluster, as `clusterctl init` sets them from its variables
//! (`CLUSTER_TOPOLOGY`, `EXP_MACHINE_POOL`, ...). Defaults follow CAPI's `feature/feature.go`
//! (`defaultClusterAPIFeatureGates`) at the modelled release; the variable names are those of the
//! managers' `--feature-gates` flags in `core/config/manager/manager.yaml`,
//! `controlplane/kubeadm/config/manager/manager.yaml` and `bootstrap/kubeadm/config/manager/manager.yaml`.
//!
//! Where each gate is checked (admission; the controllers say where they read them):
//! - `ClusterTopology`: Cluster `spec.topology` (`webhooks/cluster.rs`), ClusterClass
//!   (`webhooks/clusterclass.rs`), KubeadmControlPlaneTemplate (`webhooks/kcp_template.rs`),
//!   Docker/DevClusterTemplate create (`webhooks/capd.rs`).
//! - `MachinePool`: every MachinePool write (`webhooks/machinepool.rs`).
//! - `MachineSetPreflightChecks`: the skip-preflight-checks annotation of MachineSets and
//!   MachineDeployments (`webhooks/machinedeployment.rs`).
//! - `MachineTaintPropagation`: `taints` of Machines, MachineSets, MachineDeployments and
//!   MachinePools (`webhooks/meta.rs: machine_taint_errors`).
//! - `KubeadmBootstrapFormatIgnition`: `spec.format: ignition` of a KubeadmConfig (`webhooks/cabpk.rs`).
//! - `RuntimeSDK`: external patches of a ClusterClass (`webhooks/clusterclass.rs`).
//! - `PriorityQueue`, `ReconcilerRateLimiting`: every controller's work queue
//!   (`runtime/workqueue.rs`); the second without the first stops every manager at start-up
//!   (`engine/managers.rs`).
//!
//! Simplification: one set of gates per management cluster; upstream gives each manager its own
//! flag, with the same variables and defaults (CABPK's lacks `ClusterTopology`, which it does not read).

use std::collections::BTreeMap;

/// The gates the simulated controllers and webhooks look at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeatureGates {
    /// `ClusterTopology` (ClusterClass and managed topologies). Alpha, default off: the quick-start
    /// tells users to `export CLUSTER_TOPOLOGY=true` before `clusterctl init`.
    pub cluster_topology: bool,
    /// `MachinePool`. Beta, default on.
    pub machine_pool: bool,
    /// `MachineSetPreflightChecks`. Beta, default on.
    pub machine_set_preflight_checks: bool,
    /// `RuntimeSDK`. Alpha, default off.
    pub runtime_sdk: bool,
    /// `KubeadmBootstrapFormatIgnition`. Alpha, default off.
    pub kubeadm_bootstrap_format_ignition: bool,
    /// `InPlaceUpdates`. Alpha, default off.
    pub in_place_updates: bool,
    /// `MachineTaintPropagation`. Alpha, default off.
    pub machine_taint_propagation: bool,
    /// `MachineWaitForVolumeDetachConsiderVolumeAttachments`. GA, default on.
    pub machine_wait_for_volume_detach_consider_volume_attachments: bool,
    /// `PriorityQueue`. GA, default on.
    pub priority_queue: bool,
    /// `ReconcilerRateLimiting`. GA, default on.
    pub reconciler_rate_limiting: bool,
}

impl Default for FeatureGates {
    fn default() -> Self {
        FeatureGates {
            cluster_topology: false,
            machine_pool: true,
            machine_set_preflight_checks: true,
            runtime_sdk: false,
            kubeadm_bootstrap_format_ignition: false,
            in_place_updates: false,
            machine_taint_propagation: false,
            machine_wait_for_volume_detach_consider_volume_attachments: true,
            priority_queue: true,
            reconciler_rate_limiting: true,
        }
    }
}

/// Go's `strconv.ParseBool`, which `--feature-gates` uses; anything else leaves the default.
fn parse_bool(v: &str) -> Option<bool> {
    match v.trim() {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

impl FeatureGates {
    /// Gates from `clusterctl init` variables.
    pub fn from_init_vars<'a>(vars: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let mut g = FeatureGates::default();
        for (k, v) in vars {
            let Some(on) = parse_bool(v) else { continue };
            match k {
                "CLUSTER_TOPOLOGY" => g.cluster_topology = on,
                "EXP_MACHINE_POOL" => g.machine_pool = on,
                "EXP_MACHINE_SET_PREFLIGHT_CHECKS" => g.machine_set_preflight_checks = on,
                "EXP_RUNTIME_SDK" => g.runtime_sdk = on,
                "EXP_KUBEADM_BOOTSTRAP_FORMAT_IGNITION" => g.kubeadm_bootstrap_format_ignition = on,
                "EXP_IN_PLACE_UPDATES" => g.in_place_updates = on,
                "EXP_MACHINE_TAINT_PROPAGATION" => g.machine_taint_propagation = on,
                "EXP_MACHINE_WAITFORVOLUMEDETACH_CONSIDER_VOLUMEATTACHMENTS" => {
                    g.machine_wait_for_volume_detach_consider_volume_attachments = on
                }
                "EXP_PRIORITY_QUEUE" => g.priority_queue = on,
                "EXP_RECONCILER_RATE_LIMITING" => g.reconciler_rate_limiting = on,
                _ => {}
            }
        }
        g
    }

    /// The gates as `--feature-gates` would list them.
    pub fn describe(&self) -> BTreeMap<&'static str, bool> {
        BTreeMap::from([
            ("ClusterTopology", self.cluster_topology),
            ("InPlaceUpdates", self.in_place_updates),
            ("KubeadmBootstrapFormatIgnition", self.kubeadm_bootstrap_format_ignition),
            ("MachinePool", self.machine_pool),
            ("MachineSetPreflightChecks", self.machine_set_preflight_checks),
            ("MachineTaintPropagation", self.machine_taint_propagation),
            ("MachineWaitForVolumeDetachConsiderVolumeAttachments", self.machine_wait_for_volume_detach_consider_volume_attachments),
            ("PriorityQueue", self.priority_queue),
            ("ReconcilerRateLimiting", self.reconciler_rate_limiting),
            ("RuntimeSDK", self.runtime_sdk),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_feature_go_and_vars_parse_as_go_bools() {
        let d = FeatureGates::default().describe();
        let on: Vec<&str> = d.iter().filter(|(_, v)| **v).map(|(k, _)| *k).collect();
        assert_eq!(
            on,
            [
                "MachinePool",
                "MachineSetPreflightChecks",
                "MachineWaitForVolumeDetachConsiderVolumeAttachments",
                "PriorityQueue",
                "ReconcilerRateLimiting"
            ]
        );
        let g = FeatureGates::from_init_vars([("CLUSTER_TOPOLOGY", "T"), ("EXP_MACHINE_POOL", "0"), ("EXP_RUNTIME_SDK", "yes")]);
        assert!(g.cluster_topology && !g.machine_pool && !g.runtime_sdk);
    }
}

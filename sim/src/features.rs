//! Feature gates of a management cluster, as `clusterctl init` sets them from its variables
//! (`CLUSTER_TOPOLOGY`, `EXP_MACHINE_POOL`, ...). Defaults follow CAPI's `feature/feature.go`.

use std::collections::BTreeMap;

/// The gates the simulated controllers and webhooks look at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeatureGates {
    /// `ClusterTopology` (ClusterClass and managed topologies). Default off: the quick-start tells
    /// users to `export CLUSTER_TOPOLOGY=true` before `clusterctl init`.
    pub cluster_topology: bool,
    /// `MachinePool`. Default on.
    pub machine_pool: bool,
    /// `MachineSetPreflightChecks`. Default on.
    pub machine_set_preflight_checks: bool,
}

impl Default for FeatureGates {
    fn default() -> Self {
        FeatureGates { cluster_topology: false, machine_pool: true, machine_set_preflight_checks: true }
    }
}

fn truthy(v: &str) -> bool {
    matches!(v.trim().to_ascii_lowercase().as_str(), "true" | "1" | "yes")
}

impl FeatureGates {
    /// Gates from `clusterctl init` variables.
    pub fn from_init_vars<'a>(vars: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let mut g = FeatureGates::default();
        for (k, v) in vars {
            match k {
                "CLUSTER_TOPOLOGY" => g.cluster_topology = truthy(v),
                "EXP_MACHINE_POOL" => g.machine_pool = truthy(v),
                "EXP_MACHINE_SET_PREFLIGHT_CHECKS" => g.machine_set_preflight_checks = truthy(v),
                _ => {}
            }
        }
        g
    }

    /// The gates as `--feature-gates` would list them.
    pub fn describe(&self) -> BTreeMap<&'static str, bool> {
        BTreeMap::from([
            ("ClusterTopology", self.cluster_topology),
            ("MachinePool", self.machine_pool),
            ("MachineSetPreflightChecks", self.machine_set_preflight_checks),
        ])
    }
}

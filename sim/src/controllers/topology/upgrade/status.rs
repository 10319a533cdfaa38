//! What upgrades show in `TopologyReconciled`: whether anything is still in progress, and the reason
//! and bullet message while upgrading (`ClusterUpgrading`, `MachineDeploymentsUpgradeDeferred`,
//! `MachinePoolsUpgradeDeferred`).
//! Source: `core/reconcilers/topology/cluster/status.go` (`reconcileTopologyReconciledCondition`,
//! `computeNameList`).

use super::tracker::{Tracker, WorkerTracker};

fn name_list(kind: &str, plural: &str, names: &[String]) -> String {
    let mut names = names.to_vec();
    names.sort();
    match names.len() {
        1 => format!("{kind} {}", names[0]),
        n if n <= 3 => format!("{plural} {}", names.join(", ")),
        n => format!("{plural} {}, ... ({} more)", names[..3].join(", "), n - 3),
    }
}

fn pending_versions(plan: &[String], version: &str) -> String {
    let rest: Vec<&String> = plan.iter().filter(|v| *v != version).collect();
    if rest.is_empty() {
        String::new()
    } else {
        format!(" ({} pending)", rest.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "))
    }
}

/// Whether anything upgrade-related is still in progress (`TopologyReconciled` is then False).
pub fn in_progress(t: &Tracker) -> bool {
    let busy = |w: &WorkerTracker| {
        !w.pending_upgrade.is_empty() || !w.upgrading.is_empty() || !w.deferred.is_empty() || !w.pending_create.is_empty()
    };
    t.cp.pending_upgrade || t.cp.starting || t.cp.upgrading || busy(&t.mds) || busy(&t.mps)
}

/// The reason and bullet message of `TopologyReconciled` while upgrading (`ClusterUpgrading`, or
/// `MachineDeploymentsUpgradeDeferred` / `MachinePoolsUpgradeDeferred` when only held workers remain).
pub fn upgrading_condition(t: &Tracker, topology_version: &str, cp_version: &str, cp_kind: &str) -> (String, String) {
    let mut msg = format!("Cluster is upgrading to {topology_version}");
    let mut reason = "ClusterUpgrading".to_string();
    if t.cp.starting || t.cp.upgrading {
        msg += &format!("\n  * {cp_kind} upgrading to version {cp_version}{}", pending_versions(&t.cp.plan, cp_version));
    } else if !t.cp.plan.is_empty() {
        msg += &format!("\n  * {cp_kind} pending upgrade to version {}", t.cp.plan.join(", "));
    }
    let cp_busy = t.cp.starting || t.cp.upgrading;
    for (w, kind, plural, deferred_text, deferred_reason) in [
        (
            &t.mds,
            "MachineDeployment",
            "MachineDeployments",
            "deferred using defer-upgrade or hold-upgrade-sequence annotations",
            "MachineDeploymentsUpgradeDeferred",
        ),
        (
            &t.mps,
            "MachinePool",
            "MachinePools",
            "deferred using topology.cluster.x-k8s.io/defer-upgrade or hold-upgrade-sequence annotations",
            "MachinePoolsUpgradeDeferred",
        ),
    ] {
        let (upgrading, pending, deferred) = w.dedup();
        if !upgrading.is_empty() {
            msg += &format!(
                "\n  * {} upgrading to version {cp_version}{}",
                name_list(kind, plural, &upgrading),
                pending_versions(&w.plan, cp_version)
            );
        }
        if !pending.is_empty() && !w.plan.is_empty() {
            msg += &format!("\n  * {} pending upgrade to version {}", name_list(kind, plural, &pending), w.plan.join(", "));
        }
        if !deferred.is_empty() {
            msg += &format!("\n  * {} upgrade to version {cp_version} {deferred_text}", name_list(kind, plural, &deferred));
            if !cp_busy && w.upgrading.is_empty() && pending.is_empty() && reason != "MachineDeploymentsUpgradeDeferred" {
                reason = deferred_reason.to_string();
            }
        }
        if !w.pending_create.is_empty() {
            let names: Vec<String> = w.pending_create.iter().cloned().collect();
            msg += &format!("\n  * {} creation deferred while control plane upgrade is in progress", name_list(kind, plural, &names));
        }
    }
    (reason, msg)
}

//! Version upgrades of a managed topology: the upgrade plan, the tracker of what is provisioning,
//! upgrading, pending, deferred, and the decisions "which version does the control plane / each
//! MachineDeployment / MachinePool get now" (control plane first, workers afterwards, a bounded number
//! at a time), plus the `ClusterUpgrading` message of `TopologyReconciled`.
//! Sources: `exp/topology/desiredstate/upgrade_plan.go`, `exp/topology/desiredstate/desired_state.go`
//! (`computeControlPlaneVersion`, `computeMachineDeploymentVersion`, `computeMachinePoolVersion`,
//! `isMachineDeploymentDeferred`), `exp/topology/scope/upgradetracker.go`,
//! `internal/contract/controlplane.go` (`IsProvisioning`, `IsUpgrading`),
//! `core/reconcilers/topology/cluster/status.go`.
//!
//! Simplifications: no RuntimeSDK lifecycle hooks and no upgrade-plan extension; plans supplied by
//! ClusterClass `kubernetesVersions` are trusted (the webhook checks them), so only the parts of
//! `DefaultAndValidateUpgradePlans` that compute the workers' plan are modelled.
//!
//! This file holds the version decisions (control plane, each worker pool, deferral) and the
//! control plane's and Machines' upgrade state; `plan.rs` the upgrade plan, `tracker.rs` the
//! tracker, `status.rs` the condition's part, `version.rs` version parsing and comparison.

use crate::controllers::common::keys;
use crate::object::Object;
use crate::object::Ptr;
use serde_json::Value;

mod plan;
mod status;
mod tracker;
mod version;

pub use plan::{compute_plan, plan_from_versions, plan_one_minor};
pub use status::{in_progress, upgrading_condition};
pub use tracker::{CpTracker, Tracker, WorkerTracker, UPGRADE_CONCURRENCY};
pub use version::{compare, parse, v_string};

/// Annotation on a MachineDeployment/MachinePool topology: do not upgrade it.
pub const DEFER_UPGRADE: &str = "topology.cluster.x-k8s.io/defer-upgrade";
/// Annotation on a MachineDeployment/MachinePool topology: hold it and every later one.
pub const HOLD_UPGRADE_SEQUENCE: &str = "topology.cluster.x-k8s.io/hold-upgrade-sequence";
/// Cluster annotation recording the current upgrade step.
pub const UPGRADE_STEP: &str = "topology.internal.cluster.x-k8s.io/upgrade-step";

/// The control plane's reported versions (`status.versions[].version`, else `status.version`).
pub fn status_versions(cp: &Object) -> Vec<String> {
    let list: Vec<String> = cp
        .at("/status/versions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| v.get("version").and_then(Value::as_str))
        .filter(|v| !v.is_empty())
        .map(str::to_string)
        .collect();
    if !list.is_empty() {
        return list;
    }
    cp.str_at("/status/version").filter(|v| !v.is_empty()).map(|v| vec![v.to_string()]).unwrap_or_default()
}

/// `IsProvisioning`: no version reported yet.
pub fn cp_provisioning(cp: &Object) -> bool {
    status_versions(cp).is_empty()
}

/// `IsUpgrading`: the spec version is newer than a reported version.
pub fn cp_upgrading(cp: &Object) -> Result<bool, String> {
    let spec = cp.str_at("/spec/version").unwrap_or("");
    let spec_v = parse(spec)
        .ok_or_else(|| format!("failed to check if control plane is upgrading: failed to parse control plane spec version {spec}"))?;
    for sv in status_versions(cp) {
        let v = parse(&sv)
            .ok_or_else(|| format!("failed to check if control plane is upgrading: failed to parse control plane status version {sv}"))?;
        if compare(&spec_v, &v) >= 1 {
            return Ok(true);
        }
    }
    Ok(false)
}

/// What the control plane's version decision needs to know about the current control plane.
#[derive(Clone, Debug)]
pub struct CurrentCp {
    /// `spec.version`.
    pub version: String,
    /// `IsProvisioning`.
    pub provisioning: bool,
    /// `IsUpgrading`.
    pub upgrading: bool,
}

/// `computeControlPlaneVersion`: the version the control plane gets now.
pub fn control_plane_version(t: &mut Tracker, topology_version: &str, current: Option<&CurrentCp>) -> Result<String, String> {
    let Some(cur) = current else { return Ok(topology_version.to_string()) };
    t.cp.pending_upgrade = cur.version != topology_version;
    if cur.provisioning {
        t.cp.provisioning = true;
        return Ok(cur.version.clone());
    }
    if cur.upgrading {
        t.cp.upgrading = true;
        return Ok(cur.version.clone());
    }
    if t.mds.plan.first() == Some(&cur.version) || t.mps.plan.first() == Some(&cur.version) {
        t.cp.waiting_for_workers = true;
        return Ok(cur.version.clone());
    }
    if !t.mds.upgrading.is_empty() || !t.mps.upgrading.is_empty() {
        return Ok(cur.version.clone());
    }
    if !t.cp.pending_upgrade {
        return Ok(cur.version.clone());
    }
    let Some(next) = t.cp.plan.first().cloned() else {
        return Err(
            "cannot compute the control plane version if the control plane is pending upgrade and the upgrade plan is not set".into()
        );
    };
    t.cp.starting = true;
    t.cp.pending_upgrade = false;
    Ok(next)
}

/// Whether a worker topology's upgrade is deferred: its own defer/hold annotation, or a hold
/// annotation on any worker topology before it in the list (`isMachineDeploymentDeferred`).
pub fn is_deferred(list: &[Value], name: &str) -> bool {
    let has = |w: &Value, k: &str| w.ptr("/metadata/annotations").and_then(|a| a.get(k)).is_some();
    if let Some(me) = list.iter().find(|w| w.get("name").and_then(Value::as_str) == Some(name)) {
        if has(me, DEFER_UPGRADE) || has(me, HOLD_UPGRADE_SEQUENCE) {
            return true;
        }
    }
    for w in list {
        if has(w, HOLD_UPGRADE_SEQUENCE) {
            return true;
        }
        if w.get("name").and_then(Value::as_str) == Some(name) {
            return false;
        }
    }
    false
}

/// `computeMachineDeploymentVersion` / `computeMachinePoolVersion`: the version a worker pool gets now.
/// `current` is `(object name, spec.template.spec.version)` of the existing object. With
/// `workers_first` (the `TopologyWorkersFirst` mutant) the wait for a stable control plane is skipped,
/// so workers move together with the control plane.
pub fn worker_version(
    t: &mut Tracker,
    pools: bool,
    topology_version: &str,
    topology_list: &[Value],
    topology_name: &str,
    current: Option<(&str, &str)>,
    workers_first: bool,
) -> Result<String, String> {
    let cp_stable = t.cp.stable();
    let cp_stable_or_waiting = t.cp.stable_or_waiting();
    let w = if pools { &mut t.mps } else { &mut t.mds };
    let Some((name, version)) = current else {
        if !cp_stable {
            w.pending_create.insert(topology_name.to_string());
        }
        return Ok(topology_version.to_string());
    };
    if version == topology_version {
        return Ok(version.to_string());
    }
    if is_deferred(topology_list, topology_name) {
        w.deferred.insert(name.to_string());
        w.pending_upgrade.insert(name.to_string());
        return Ok(version.to_string());
    }
    if w.concurrency_reached() {
        w.pending_upgrade.insert(name.to_string());
        return Ok(version.to_string());
    }
    if !cp_stable_or_waiting && !workers_first {
        w.pending_upgrade.insert(name.to_string());
        return Ok(version.to_string());
    }
    let Some(next) = w.plan.first().cloned() else {
        let what = if pools { "machine pool" } else { "machine deployment" };
        return Err(format!("cannot compute the {what} version if the {what} is pending upgrade and the upgrade plan is not set"));
    };
    if next == version {
        w.pending_upgrade.insert(name.to_string());
        return Ok(version.to_string());
    }
    w.upgrading.insert(name.to_string());
    Ok(next)
}

/// Whether a MachineDeployment is upgrading: one of its Machines has another version, or a kubelet
/// reporting another version (`IsMachineDeploymentUpgrading`).
pub fn machines_upgrading<'a>(md_version: &str, machines: impl Iterator<Item = &'a Object>) -> Result<bool, String> {
    if md_version.is_empty() {
        return Ok(false);
    }
    for m in machines {
        let v = m.str_at("/spec/version").unwrap_or("");
        if v.is_empty() {
            return Err(format!("Machine {} has no version", m.name()));
        }
        if v != md_version {
            return Ok(true);
        }
        if m.str_at("/status/nodeInfo/kubeletVersion").is_some_and(|k| !k.is_empty() && k != md_version) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Whether the object carries the topology-owned label.
pub fn topology_owned(o: &Object) -> bool {
    o.label(keys::TOPOLOGY_OWNED).is_some()
}

#[cfg(test)]
mod tests;

//! KCP's etcd work: moving leadership away from a Machine that is about to go, removing etcd
//! members that no Machine accounts for, and the `kcp-cleanup` pre-terminate hook (when the Machine
//! controller has drained a deleting control-plane Machine and waits on the hook, KCP checks that the
//! rest stays healthy, forwards leadership, removes the member and then the hook annotation).
//! Source: `controlplane/kubeadm/reconcilers/kubeadmcontrolplane/kubeadmcontrolplane_controller.go`
//! (`reconcileEtcdMembers`, `reconcilePreTerminateHook`, `forwardEtcdLeadership`).

use super::preflight::{target_components_healthy, target_etcd_healthy};
use super::scope::{cond, node_name, oldest_deletion_first, ControlPlane};
use super::selection::leadership_candidates;
use super::DELETE_REQUEUE_MS;
use crate::controllers::common::{self, keys};
use crate::controllers::conditions::{self, Status};
use crate::object::Object;
use crate::runtime::{Action, Ctx, ReconcileError};

/// `forwardEtcdLeadership`: if the leaving Machine's member leads, hand leadership to the best candidate.
pub fn forward_leadership(ctx: &mut Ctx<'_>, cp: &ControlPlane, leaving: &str) -> Result<(), ReconcileError> {
    let Some(leader) = cp.etcd_leader.clone() else {
        return Err("unable to move etcd leadership, failed to detect etcd leader".into());
    };
    let Some(node) = cp.machine(leaving).and_then(node_name).map(str::to_string) else { return Ok(()) };
    if node != leader {
        return Ok(());
    }
    let all = cp.all();
    let candidates = leadership_candidates(&all, leaving);
    if candidates.is_empty() {
        return Err("unable to move etcd leadership, no candidate machines for etcd leadership found".into());
    }
    let cluster = cp.cluster_name().to_string();
    for m in candidates {
        let Some(to) = node_name(m) else { continue };
        match ctx.world.move_etcd_leader(&cluster, to) {
            Ok(()) => {
                ctx.note(format!("Moved etcd leadership from {leaving} to {}", m.name()));
                return Ok(());
            }
            Err(e) => ctx.note(format!("Failed to move etcd leadership to {}: {e}", m.name())),
        }
    }
    Err("failed to move etcd leadership".into())
}

/// `reconcileEtcdMembers`: remove (one at a time) etcd members without a Machine, when that is safe.
pub fn reconcile_members(ctx: &mut Ctx<'_>, cp: &ControlPlane) -> Result<Option<Action>, ReconcileError> {
    if !cp.etcd_managed() || cp.machines.is_empty() {
        return Ok(None);
    }
    let Some(members) = cp.etcd_members.clone().filter(|m| !m.is_empty()) else { return Ok(None) };
    if let Some(e) = &cp.node_list_error {
        return Err(format!("unable to reconcile etcd members: {e}").into());
    }
    if conditions::is_true(&cp.kcp, cond::ETCD_CLUSTER_HEALTHY) {
        return Ok(None);
    }
    let provisioning = cp.machines.iter().any(|m| node_name(m).is_none());
    let expected: Vec<&str> = cp.machines.iter().filter_map(node_name).collect();
    let mut unexpected: Vec<String> = members.into_iter().filter(|n| !expected.contains(&n.as_str())).collect();
    unexpected.sort();
    if unexpected.is_empty() || provisioning {
        return Ok(None);
    }
    let victim = unexpected[0].clone();
    if !target_etcd_healthy(cp, false, Some(&victim)) {
        return Err(format!(
            "etcd member {victim} does not have a corresponding Machine, it must be removed from the cluster but this operation can lead to quorum loss. Please check the etcd status"
        )
        .into());
    }
    let cluster = cp.cluster_name().to_string();
    ctx.world
        .remove_etcd_member(&cluster, &victim)
        .map_err(|e| format!("failed to remove etcd member {victim}. Please check the etcd status: {e}"))?;
    ctx.note(format!("Etcd member without a corresponding Machine removed from the cluster: {victim}"));
    Ok(Some(Action::requeue(1_000)))
}

/// Whether a Machine has pre-terminate hooks other than KCP's.
fn has_other_pre_terminate_hooks(m: &Object) -> bool {
    m.meta.annotations.keys().any(|k| k.starts_with(keys::PRE_TERMINATE_HOOK) && k != keys::KCP_CLEANUP_HOOK)
}

/// Remove the `kcp-cleanup` annotation from a Machine.
pub fn remove_hook(ctx: &mut Ctx<'_>, m: &Object) -> Result<(), ReconcileError> {
    if !m.meta.annotations.contains_key(keys::KCP_CLEANUP_HOOK) {
        return Ok(());
    }
    match ctx.patch(&m.key(), |o| {
        o.meta.annotations.remove(keys::KCP_CLEANUP_HOOK);
    }) {
        Ok(_) => Ok(()),
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => Err(format!("failed to remove pre-terminate hook from control plane Machine {}: {}", m.name(), e.message).into()),
    }
}

/// `reconcilePreTerminateHook`.
pub fn reconcile_pre_terminate_hook(ctx: &mut Ctx<'_>, cp: &ControlPlane) -> Result<Option<Action>, ReconcileError> {
    let mut deleting: Vec<&Object> = cp.deleting();
    if deleting.is_empty() {
        return Ok(None);
    }
    // Wait for a deleting Machine whose hook is already gone before handling the next one.
    if deleting.iter().any(|m| !m.meta.annotations.contains_key(keys::KCP_CLEANUP_HOOK)) {
        return Ok(Some(Action::requeue(DELETE_REQUEUE_MS)));
    }
    deleting.sort_by(|a, b| oldest_deletion_first(a, b));
    let m = deleting[0].clone();
    let version = common::parse_version(cp.version()).ok_or_else(|| format!("failed to parse Kubernetes version {:?}", cp.version()))?;
    if (version.major, version.minor) >= (1, 31) && has_other_pre_terminate_hooks(&m) {
        return Ok(Some(Action::requeue(DELETE_REQUEUE_MS)));
    }
    let waiting = conditions::get(&m, cond::DELETING).is_some_and(|c| c.status == Status::True && c.reason == "WaitingForPreTerminateHook");
    if !waiting {
        return Ok(Some(Action::requeue(DELETE_REQUEUE_MS)));
    }
    if cp.machines.len() <= 1 {
        remove_hook(ctx, &m)?;
        return Ok(Some(Action::requeue(DELETE_REQUEUE_MS)));
    }
    if !target_components_healthy(cp, false, Some(m.name())) {
        ctx.note(format!(
            "Cannot delete control plane Machine {} when there are no control plane Machines with all Kubernetes control plane components in healthy state. Please check Kubernetes control plane component status",
            m.name()
        ));
        return Ok(Some(Action::requeue(DELETE_REQUEUE_MS)));
    }
    if !cp.etcd_managed() {
        remove_hook(ctx, &m)?;
        return Ok(Some(Action::requeue(DELETE_REQUEUE_MS)));
    }
    if let Some(e) = &cp.node_list_error {
        return Err(format!("unable to remove pre-terminate hook: {e}").into());
    }
    let members = cp.etcd_members.clone().unwrap_or_default();
    if members.is_empty() {
        return Err("unable to remove pre-terminate hook, etcd member list is empty".into());
    }
    let member = cp.etcd_member_name(&m);
    if member.is_empty() {
        remove_hook(ctx, &m)?;
        return Ok(Some(Action::requeue(DELETE_REQUEUE_MS)));
    }
    if !target_etcd_healthy(cp, false, Some(&member)) {
        ctx.note(format!(
            "Cannot delete control plane Machine {}, the operation can lead to etcd quorum loss. Please check the etcd status",
            m.name()
        ));
        return Ok(Some(Action::requeue(DELETE_REQUEUE_MS)));
    }
    let cluster = cp.cluster_name().to_string();
    if let Err(e) = ctx.world.workload(&cluster) {
        return Err(format!(
            "failed to remove etcd member for deleting Machine {}: failed to create client to workload cluster: {e}",
            m.name()
        )
        .into());
    }
    forward_leadership(ctx, cp, m.name())?;
    if members.contains(&member) {
        ctx.world
            .remove_etcd_member(&cluster, &member)
            .map_err(|e| format!("failed to remove etcd member for deleting Machine {}/{}: {e}", m.namespace(), m.name()))?;
        ctx.note(format!("Removed etcd member {member} of deleting Machine {}", m.name()));
    }
    remove_hook(ctx, &m)?;
    Ok(Some(Action::requeue(DELETE_REQUEUE_MS)))
}

//! KCP deletion: wait until the Cluster has no worker Machines and no MachinePools, then strip the
//! `kcp-cleanup` hooks and delete every control-plane Machine at once (no etcd work, no
//! serialization), requeueing every 30s until they are gone; then drop the finalizer. The Secrets it
//! controls go by garbage collection.
//! Source: `controlplane/kubeadm/reconcilers/kubeadmcontrolplane/kubeadmcontrolplane_controller.go` (`reconcileDelete`).
//!
//! CAPI waits on worker Machines and MachinePools only (not on MachineDeployments/MachineSets
//! without Machines); so does this.

use super::etcd::remove_hook;
use super::health;
use super::scope::{ControlPlane, FINALIZER};
use super::workload;
use super::DELETE_REQUEUE_MS;
use crate::controllers::common::keys;
use crate::kinds::Kind;
use crate::object::Object;
use crate::runtime::{Action, Ctx, ReconcileError};

/// `objectsPendingDeleteNames`.
pub fn pending_names(workers: &[&Object], pools: &[&Object], machine_pool_gate: bool) -> Vec<String> {
    let mut out = Vec::new();
    if machine_pool_gate && !pools.is_empty() {
        let mut names: Vec<&str> = pools.iter().map(|p| p.name()).collect();
        names.sort();
        out.push(format!("MachinePools: {}", list5(&names)));
    }
    if !workers.is_empty() {
        let mut names: Vec<&str> = workers.iter().map(|m| m.name()).collect();
        names.sort();
        out.push(format!("Machines: {}", list5(&names)));
    }
    out
}

fn list5(names: &[&str]) -> String {
    if names.len() > 5 {
        format!("{}, ... ({} more)", names[..5].join(", "), names.len() - 5)
    } else {
        names.join(", ")
    }
}

/// `reconcileDelete`.
pub fn reconcile(ctx: &mut Ctx<'_>, cp: &mut ControlPlane) -> Result<Action, ReconcileError> {
    if cp.machines.is_empty() {
        cp.deleting_reason = "DeletionCompleted".into();
        cp.deleting_message = "Deletion completed".into();
        ctx.remove_finalizer(&cp.kcp, FINALIZER)?;
        cp.kcp.meta.finalizers.retain(|f| f != FINALIZER);
        return Ok(Action::DONE);
    }
    // Conditions are refreshed best effort while deleting.
    let cluster = cp.cluster_name().to_string();
    let view = workload::read(&*ctx.world, &cluster);
    let _ = health::reconcile(cp, view.as_ref().map_err(String::as_str), ctx.now);
    super::patch_machines(ctx, cp)?;
    let ns = cp.kcp.namespace().to_string();
    let cache = ctx.cache;
    let all: Vec<&Object> = cache.in_cluster_ns(Kind::Machine, &ns, &cluster).map(|a| &**a).collect();
    let workers: Vec<&Object> = all.iter().copied().filter(|m| m.label(keys::CONTROL_PLANE).is_none()).collect();
    let gate = ctx.gates().machine_pool;
    let pools: Vec<&Object> = if gate { cache.in_cluster_ns(Kind::MachinePool, &ns, &cluster).map(|a| &**a).collect() } else { Vec::new() };
    let owned_cp = cp.machines.len();
    if all.len() != owned_cp || !pools.is_empty() {
        cp.deleting_reason = "WaitingForWorkersDeletion".into();
        let names: Vec<String> = pending_names(&workers, &pools, gate).into_iter().map(|n| format!("* {n}")).collect();
        cp.deleting_message = format!("KubeadmControlPlane deletion blocked because following objects still exist:\n{}", names.join("\n"));
        ctx.note("Waiting for worker nodes to be deleted first");
        return Ok(Action::requeue(DELETE_REQUEUE_MS));
    }
    let mut errors = Vec::new();
    let machines: Vec<Object> = cp.machines.clone();
    for m in &machines {
        // KCP is going away with every etcd member, so there is no leadership to forward.
        if let Err(e) = remove_hook(ctx, m) {
            errors.push(e.0);
            continue;
        }
        if m.deleting() {
            continue;
        }
        match ctx.delete(&m.key()) {
            Ok(_) => ctx.note(format!("Deleting Machine {} (KubeadmControlPlane deleted)", m.name())),
            Err(e) if e.is_not_found() => {}
            Err(e) => errors.push(format!("failed to delete control plane Machine {}: {}", m.name(), e.message)),
        }
    }
    if !errors.is_empty() {
        cp.deleting_reason = "InternalError".into();
        cp.deleting_message = "Please check controller logs for errors".into();
        // `kubeadmcontrolplane_controller.go: reconcileDelete`.
        let agg = super::preflight::go_aggregate(&errors);
        let msg = format!("Failed to delete control plane Machines for cluster {}/{cluster} control plane: {agg}", cp.cluster.namespace());
        ctx.event_warning(&cp.kcp, "FailedDelete", msg);
        return Err(ReconcileError(agg));
    }
    let n = machines.len();
    let mut message = if n == 1 { "Deleting 1 Machine".to_string() } else { format!("Deleting {n} Machines") };
    if let Some(stale) = super::status::stale_machines(cp, ctx.now) {
        message.push_str(&format!(" and {stale}"));
    }
    cp.deleting_reason = "WaitingForMachineDeletion".into();
    cp.deleting_message = message;
    Ok(Action::requeue(DELETE_REQUEUE_MS))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_names_list_pools_then_machines() {
        let w: Vec<Object> = (1..=7).map(|i| Object::new(Kind::Machine, "default", &format!("w{i}"))).collect();
        let p = Object::new(Kind::MachinePool, "default", "mp");
        let wr: Vec<&Object> = w.iter().collect();
        let got = pending_names(&wr, &[&p], true);
        assert_eq!(got, vec!["MachinePools: mp".to_string(), "Machines: w1, w2, w3, w4, w5, ... (2 more)".to_string()]);
        assert_eq!(pending_names(&wr[..1], &[&p], false), vec!["Machines: w1".to_string()]);
    }
}

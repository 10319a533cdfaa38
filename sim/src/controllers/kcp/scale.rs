//! Creating and deleting control-plane Machines: the first Machine (kubeadm init, no preflight), more
//! Machines (kubeadm join, serialized by the preflight checks) and scale-down (preflight without the
//! victim, etcd leadership moved away, then the Machine deleted; the etcd member goes in the
//! pre-terminate hook). A new Machine is three objects created in order — infrastructure machine,
//! KubeadmConfig, Machine — and the earlier ones are deleted again if a later create fails.
//! Sources: `controlplane/kubeadm/reconcilers/kubeadmcontrolplane/{scale.go,helpers.go}`.

use super::consistency::Wrote;
use super::desired;
use super::etcd::forward_leadership;
use super::preflight::{self, Preflight};
use super::scope::{ControlPlane, REMEDIATION_IN_PROGRESS};
use super::selection;
use super::workload;
use crate::controllers::common;
use crate::object::Object;
use crate::runtime::{Action, Ctx, ReconcileError};
use serde_json::json;

/// The failure domain for a new Machine (`NextFailureDomainForScaleUp`).
pub fn next_failure_domain(cp: &ControlPlane) -> String {
    let fds = cp.failure_domains();
    let all = cp.all();
    let priority: Vec<&Object> = cp.up_to_date().into_iter().filter(|m| !m.deleting()).collect();
    selection::pick_fewest(&fds, &all, &priority).unwrap_or_default()
}

/// Create the first Machine (init config).
pub fn initialize(ctx: &mut Ctx<'_>, cp: &mut ControlPlane) -> Result<Action, ReconcileError> {
    let fd = next_failure_domain(cp);
    let name = create_machine(ctx, cp, false, &fd).map_err(|e| {
        // `scale.go: initializeControlPlane`.
        let msg = format!(
            "Failed to create initial control plane Machine for cluster {}/{} control plane: {e}",
            cp.cluster.namespace(),
            cp.cluster.name()
        );
        ctx.event_warning(&cp.kcp, "FailedInitialization", msg);
        e
    })?;
    ctx.note(format!("Machine {name} created (init)"));
    Ok(Action::DONE)
}

/// Run preflight and log why it waits. A failed health check (`checkHealthiness`, or the checks
/// while a remediation is in progress) records the `ControlPlaneUnhealthy` Warning event with the
/// aggregated errors (`preflight.go: preflightChecks`).
pub fn run_preflight(ctx: &mut Ctx<'_>, cp: &mut ControlPlane, scale_up: bool, exclude: Option<&str>, skip_health: bool) -> Option<Action> {
    let gate = ctx.gates().cluster_topology;
    match preflight::checks(cp, gate, scale_up, exclude, skip_health) {
        Preflight::Pass => None,
        Preflight::Wait { requeue_ms, reasons, health } => {
            // scale.go: preflightChecks defers the next reconcile by 5s on every wait.
            let at = ctx.now + 5_000;
            ctx.defer_next_reconcile(&cp.kcp, at);
            if health {
                let msg = format!(
                    "Waiting for control plane to pass preflight checks to continue reconciliation: {}",
                    preflight::go_aggregate(&reasons)
                );
                ctx.event_warning(&cp.kcp, "ControlPlaneUnhealthy", msg);
            } else {
                ctx.note(reasons.join("; "));
            }
            Some(Action::requeue(requeue_ms))
        }
    }
}

/// Add a joining Machine once the control plane is stable.
pub fn scale_up(ctx: &mut Ctx<'_>, cp: &mut ControlPlane) -> Result<Action, ReconcileError> {
    if let Some(wait) = run_preflight(ctx, cp, true, None, false) {
        return Ok(wait);
    }
    let fd = next_failure_domain(cp);
    let name = create_machine(ctx, cp, true, &fd).map_err(|e| {
        // `scale.go: scaleUpControlPlane`.
        let msg =
            format!("Failed to create additional control plane Machine for cluster {}/{}: {e}", cp.cluster.namespace(), cp.cluster.name());
        ctx.event_warning(&cp.kcp, "FailedScaleUp", msg);
        e
    })?;
    ctx.note(format!("Machine {name} created (scale up)"));
    Ok(Action::DONE)
}

/// Delete `victim` once the rest of the control plane is stable. `skip_health` is the
/// `KcpDeleteBeforeReady` mutant's shortcut.
pub fn scale_down(ctx: &mut Ctx<'_>, cp: &mut ControlPlane, victim: Option<String>, skip_health: bool) -> Result<Action, ReconcileError> {
    if let Some(wait) = run_preflight(ctx, cp, false, victim.as_deref(), skip_health) {
        return Ok(wait);
    }
    let cluster = cp.cluster_name().to_string();
    if let Err(e) = ctx.world.workload(&cluster) {
        ctx.note(format!("workload cluster {cluster}: {e}"));
        let err = workload::connection_error(cp.cluster.namespace(), &cluster);
        return Err(ReconcileError(format!("failed to create client to workload cluster: {err}")));
    }
    let Some(victim) = victim else {
        return Err("failed to pick control plane Machine to delete".into());
    };
    if cp.etcd_managed() {
        // No etcd operation without the list of Nodes.
        if let Some(e) = &cp.node_list_error {
            return Err(format!("unable to forward etcd leadership: {e}").into());
        }
        forward_leadership(ctx, cp, &victim)?;
    }
    let key = cp.machine(&victim).map(Object::key).ok_or("failed to pick control plane Machine to delete")?;
    match ctx.delete(&key) {
        Ok(_) => cp.wrote.push(Wrote::Deleted(key.clone())),
        Err(e) if e.is_not_found() => {}
        Err(e) => {
            // `scale.go: scaleDownControlPlane`.
            let msg = format!(
                "Failed to delete control plane Machine {victim} for cluster {}/{} control plane: {}",
                cp.cluster.namespace(),
                cp.cluster.name(),
                e.message
            );
            ctx.event_warning(&cp.kcp, "FailedScaleDown", msg);
            return Err(e.into());
        }
    }
    ctx.note(format!("Machine {victim} deleting (scale down)"));
    Ok(Action::DONE)
}

/// `cloneConfigsAndGenerateMachine`: infrastructure machine, KubeadmConfig, Machine. Returns the name.
pub fn create_machine(ctx: &mut Ctx<'_>, cp: &mut ControlPlane, join: bool, failure_domain: &str) -> Result<String, ReconcileError> {
    let random = ctx.suffix();
    let name = desired::machine_name(&cp.kcp, cp.cluster_name(), &random).map_err(|e| format!("failed to create Machine: {e}"))?;
    let ns = cp.kcp.namespace().to_string();
    let tref = cp.kcp.at("/spec/machineTemplate/spec/infrastructureRef").cloned().unwrap_or(json!({}));
    let tkey = common::ref_key(&tref, &ns)
        .ok_or("failed to create Machine: failed to create InfraMachine: spec.machineTemplate.spec.infrastructureRef is incomplete")?;
    let Some(template) = ctx.get(&tkey).cloned() else {
        return Err(ReconcileError(format!(
            "failed to create Machine: failed to create InfraMachine: failed to compute desired InfraMachine: {}",
            crate::store::ApiError::not_found(tkey.kind, &tkey.name).message
        )));
    };
    let infra = desired::infra_machine(&cp.kcp, &cp.cluster, &template, &name).map_err(|e| format!("failed to create Machine: {e}"))?;
    let infra_key = infra.key();
    let infra_ref = common::contract_ref(&infra);
    create_owned(ctx, infra).map_err(|e| format!("failed to create Machine: failed to create InfraMachine: {}", e.message))?;
    let config = desired::kubeadm_config(&cp.kcp, &cp.cluster, &name, join);
    let config_key = config.key();
    let config_ref = common::contract_ref(&config);
    if let Err(e) = create_owned(ctx, config) {
        cleanup(ctx, &[&infra_key]);
        return Err(format!("failed to create Machine: failed to create KubeadmConfig: {}", e.message).into());
    }
    let machine = desired::machine(&cp.kcp, &cp.cluster, &name, failure_domain, infra_ref, config_ref);
    let machine_key = machine.key();
    if let Err(e) = ctx.apply(super::MANAGER, machine) {
        cleanup(ctx, &[&infra_key, &config_key]);
        return Err(format!("failed to create Machine: {}", e.message).into());
    }
    cp.wrote.push(Wrote::Created(machine_key));
    // The replacement of a remediated Machine exists now: the remediation is complete.
    cp.kcp.meta.annotations.remove(REMEDIATION_IN_PROGRESS);
    Ok(name)
}

/// `createInfraMachine` / `createKubeadmConfig`: applied whole by `capi-kubeadmcontrolplane`, which
/// then gives up its labels and annotations (`ssa.RemoveManagedFieldsForLabelsAndAnnotations`) for
/// `capi-kubeadmcontrolplane-metadata` to own from the next `syncMachines` on.
fn create_owned(ctx: &mut Ctx<'_>, o: crate::object::Object) -> Result<(), crate::store::ApiError> {
    let created = ctx.apply(super::MANAGER, o)?;
    ctx.disown(&created.key(), super::MANAGER, &["/metadata/labels", "/metadata/annotations"])
}

fn cleanup(ctx: &mut Ctx<'_>, keys: &[&crate::object::ObjKey]) {
    for k in keys {
        if let Err(e) = ctx.delete(k) {
            if !e.is_not_found() {
                ctx.note(format!("failed to cleanup generated resources after error: {}", e.message));
            }
        }
    }
}

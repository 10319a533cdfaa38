//! `syncMachines`: the in-place propagation of KCP fields to existing Machines (labels and
//! annotations from `spec.machineTemplate.metadata`, readiness gates, deletion timeouts, taints; for
//! deleting Machines only the deletion timeouts), and of labels and annotations to their
//! infrastructure machines and KubeadmConfigs.
//! Source: `controlplane/kubeadm/reconcilers/kubeadmcontrolplane/kubeadmcontrolplane_controller.go`
//! (`syncMachines`, `updateMachine`), `helpers.go` (`updateLabelsAndAnnotations`).
//!
//! Like upstream, the Machines are server-side applied by `capi-kubeadmcontrolplane` and the labels
//! and annotations of infrastructure machines and KubeadmConfigs by
//! `capi-kubeadmcontrolplane-metadata`, so what the template drops goes from them too; deleting
//! Machines get a merge patch.

use super::desired;
use super::scope::ControlPlane;
use crate::object::Object;
use crate::runtime::{Ctx, ReconcileError};
use std::sync::Arc;

/// Propagate in-place mutable fields. A Machine that disappeared meanwhile ends the reconcile
/// quietly (`Ok(false)`): the deletion event brings the next one.
pub fn sync_machines(ctx: &mut Ctx<'_>, cp: &mut ControlPlane) -> Result<bool, ReconcileError> {
    let cluster = cp.cluster_name().to_string();
    let names: Vec<String> = cp.machines.iter().map(|m| m.name().to_string()).collect();
    for name in names {
        let Some(m) = cp.machine(&name).cloned() else { continue };
        let updated = if m.deleting() {
            // `syncMachines`: a deleting Machine gets a merge patch of its deletion timeouts.
            let want = desired::synced_deleting_machine(&cp.kcp, &m);
            (want != m).then(|| {
                ctx.patch(&m.key(), move |o| match want.at("/spec/deletion") {
                    Some(v) => o.set("/spec/deletion", v.clone()),
                    None => {
                        o.remove("/spec/deletion");
                    }
                })
            })
        } else {
            // `updateMachine`: the desired Machine, applied by `capi-kubeadmcontrolplane`.
            Some(ctx.apply(super::MANAGER, desired::existing_machine(&cp.kcp, &cp.cluster, &m)))
        };
        match updated {
            None => {}
            Some(Ok(updated)) => {
                if let Some(slot) = cp.machine_mut(&name) {
                    // Keep the in-memory conditions; take the new metadata and spec.
                    slot.meta = updated.meta.clone();
                    if let Some(spec) = updated.body.get("spec") {
                        slot.body.insert("spec".into(), spec.clone());
                    }
                }
            }
            Some(Err(e)) if e.is_not_found() => return Ok(false),
            Some(Err(e)) => return Err(format!("failed to sync Machines: failed to update Machine: {}: {}", name, e.message).into()),
        }
        if m.deleting() {
            continue;
        }
        let infra = cp.infra.get(&name).cloned();
        let config = cp.configs.get(&name).cloned();
        for o in [infra, config].into_iter().flatten() {
            if !sync_labels_and_annotations(ctx, cp, &cluster, &o)? {
                return Ok(false);
            }
        }
    }
    Ok(true)
}

fn sync_labels_and_annotations(ctx: &mut Ctx<'_>, cp: &ControlPlane, cluster: &str, o: &Arc<Object>) -> Result<bool, ReconcileError> {
    let labels = desired::labels(&cp.kcp, cluster);
    let annotations = desired::annotations(&cp.kcp);
    let mut config = Object::new(o.kind, o.namespace(), o.name());
    config.meta.uid = o.meta.uid.clone();
    config.meta.labels = labels.into();
    config.meta.annotations = annotations.into();
    // `updateLabelsAndAnnotations`: applied by `capi-kubeadmcontrolplane-metadata`.
    match ctx.apply(super::METADATA_MANAGER, config) {
        Ok(_) => Ok(true),
        Err(e) if e.is_not_found() => Ok(false),
        Err(e) => Err(format!("failed to sync Machines: failed to update {} {}: {}", o.kind, o.name(), e.message).into()),
    }
}

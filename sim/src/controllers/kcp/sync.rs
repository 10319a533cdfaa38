//! `syncMachines`: the in-place propagation of KCP fields to existing Machines (labels and
//! annotations from `spec.machineTemplate.metadata`, readiness gates, deletion timeouts, taints; for
//! deleting Machines only the deletion timeouts), and of labels and annotations to their
//! infrastructure machines and KubeadmConfigs.
//! Source: `controlplane/kubeadm/reconcilers/kubeadmcontrolplane/kubeadmcontrolplane_controller.go`
//! (`syncMachines`, `updateMachine`), `helpers.go` (`updateLabelsAndAnnotations`).
//!
//! Simplification: CAPI applies these with server-side apply and so also removes labels or
//! annotations that were dropped from the template; without managed fields this only adds and updates.

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
        let want =
            if m.deleting() { desired::synced_deleting_machine(&cp.kcp, &m) } else { desired::synced_machine(&cp.kcp, &cluster, &m) };
        if want != m {
            let w = want.clone();
            let deleting = m.deleting();
            match ctx.patch(&m.key(), move |o| {
                // Only the fields KCP manages are written, so concurrent writers keep theirs.
                if !deleting {
                    o.meta.labels.extend(w.meta.labels.to_inner());
                    o.meta.annotations.extend(w.meta.annotations.to_inner());
                }
                let fields: &[&str] = if deleting { &["deletion"] } else { &["readinessGates", "deletion", "taints"] };
                for f in fields {
                    let p = format!("/spec/{f}");
                    match w.at(&p) {
                        Some(v) => o.set(&p, v.clone()),
                        None => {
                            o.remove(&p);
                        }
                    }
                }
            }) {
                Ok(updated) => {
                    if let Some(slot) = cp.machine_mut(&name) {
                        // Keep the in-memory conditions; take the new metadata and spec.
                        slot.meta = updated.meta.clone();
                        if let Some(spec) = updated.body.get("spec") {
                            slot.body.insert("spec".into(), spec.clone());
                        }
                    }
                }
                Err(e) if e.is_not_found() => return Ok(false),
                Err(e) => return Err(format!("failed to sync Machines: failed to update Machine: {}: {}", name, e.message).into()),
            }
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
    let missing =
        labels.iter().any(|(k, v)| o.label(k) != Some(v.as_str())) || annotations.iter().any(|(k, v)| o.annotation(k) != Some(v.as_str()));
    if !missing {
        return Ok(true);
    }
    match ctx.patch(&o.key(), |x| {
        x.meta.labels.extend(labels);
        x.meta.annotations.extend(annotations);
    }) {
        Ok(_) => Ok(true),
        Err(e) if e.is_not_found() => Ok(false),
        Err(e) => Err(format!("failed to sync Machines: failed to update {} {}: {}", o.kind, o.name(), e.message).into()),
    }
}

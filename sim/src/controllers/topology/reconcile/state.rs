//! Writing the desired state of the cluster-wide objects, in `reconcileState`'s order: the cluster
//! shim (so a half-created topology stays garbage-collectable), the infrastructure cluster, the
//! control plane (its MachineHealthCheck, machine template rotation and the deletion of a rotated-away
//! template), the Cluster's references and upgrade annotation, then the workers.
//! Source: `core/reconcilers/topology/cluster/reconcile_state.go` (`reconcileState`,
//! `reconcileClusterShim`, `reconcileInfrastructureCluster`, `reconcileControlPlane`,
//! `reconcileCluster`).

use super::objects::{event, kobj, reconcile_mhc, reconcile_object, reconcile_template};
use super::scope::Scope;
use super::workers::{reconcile_machine_deployments, reconcile_machine_pools};
use crate::controllers::common::{self, keys};
use crate::controllers::topology::desired::{self, Desired};
use crate::controllers::topology::state::{Blueprint, Current};
use crate::controllers::topology::upgrade::{self, Tracker};
use crate::kinds::Kind;
use crate::object::{ObjKey, Object, OwnerRef};
use crate::runtime::Ctx;
use serde_json::json;

fn has_owner_named(o: &Object, kind: &str, name: &str) -> bool {
    o.meta.owner_references.iter().any(|r| r.kind == kind && r.name == name)
}

/// `reconcileState`.
pub(super) fn reconcile_state(
    ctx: &mut Ctx<'_>,
    cluster: &Object,
    bp: &Blueprint,
    cur: &Current,
    mut d: Desired,
    s: &mut Scope,
) -> Result<(), String> {
    // The cluster shim keeps a half-created topology garbage-collectable.
    let shim_name = format!("{}-shim", cluster.name());
    let shim_key = ObjKey::new(Kind::Secret, cluster.namespace(), &shim_name);
    if cur.infra.is_none() || cur.cp.is_none() {
        let shim = match ctx.get(&shim_key).cloned() {
            Some(s) => s,
            None => {
                let mut obj = Object::new(Kind::Secret, cluster.namespace(), &shim_name);
                common::set_owner(&mut obj, cluster, false);
                obj.set("/type", json!("cluster.x-k8s.io/secret"));
                match ctx.create(obj) {
                    Ok(o) => o,
                    Err(e) if e.is_already_exists() => {
                        ctx.live(&shim_key).ok_or_else(|| format!("failed to read the cluster shim object: {e}"))?
                    }
                    Err(e) => return Err(format!("failed to create the cluster shim object: {e}")),
                }
            }
        };
        for o in [&mut d.infra, &mut d.cp] {
            if !o.meta.owner_references.iter().any(|r| r.uid == shim.meta.uid) {
                o.meta.owner_references.push(OwnerRef::to(&shim, false));
            }
        }
    }
    if let (Some(infra), Some(cp)) = (&cur.infra, &cur.cp) {
        let cluster_owns_all = has_owner_named(infra, "Cluster", cluster.name()) && has_owner_named(cp, "Cluster", cluster.name());
        let shim_owns_one = has_owner_named(infra, "Secret", &shim_name) || has_owner_named(cp, "Secret", &shim_name);
        if cluster_owns_all && shim_owns_one {
            match ctx.delete(&shim_key) {
                Ok(_) => {}
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(format!("failed to delete the cluster shim object: {e}")),
            }
        }
    }

    let created_infra = reconcile_object(ctx, cluster, cur.infra.as_ref(), &d.infra)?;
    let cp_result = reconcile_control_plane(ctx, cluster, bp, cur, &mut d, &s.tracker);
    let mut errs = Vec::new();
    let mut set_cp_ref = true;
    if let Err(e) = &cp_result {
        if !created_infra {
            return Err(e.clone());
        }
        if cluster.str_at("/spec/controlPlaneRef/name").is_none_or(str::is_empty) {
            set_cp_ref = false;
        }
        errs.push(e.clone());
    }
    if let Err(e) = reconcile_cluster(ctx, cluster, &d, set_cp_ref, s) {
        errs.push(e);
    }
    if !errs.is_empty() {
        return Err(crate::controllers::topology::field::aggregate(&errs));
    }
    reconcile_machine_deployments(ctx, cluster, cur, d.mds, s)?;
    reconcile_machine_pools(ctx, cluster, cur, d.mps, s)
}

/// `reconcileControlPlane`: MHC, machine template (with rotation), the control plane object, and the
/// deletion of a rotated-away machine template. Returns whether the control plane was created.
fn reconcile_control_plane(
    ctx: &mut Ctx<'_>,
    cluster: &Object,
    bp: &Blueprint,
    cur: &Current,
    d: &mut Desired,
    t: &Tracker,
) -> Result<bool, String> {
    if d.cp_mhc.is_some() || cur.cp_mhc.is_some() {
        reconcile_mhc(ctx, cluster, cur.cp_mhc.as_ref(), d.cp_mhc.as_ref())?;
    }
    if t.cp.pending_upgrade {
        return Ok(false);
    }
    let mut created_template: Option<ObjKey> = None;
    if bp.cp_machine.is_some() {
        if let Some(m) = d.cp_machine.as_mut() {
            if reconcile_template(ctx, cluster, cur.cp_machine.as_ref(), m, &format!("{}-", cluster.name()))? {
                created_template = Some(m.key());
            }
            let r = desired::contract_ref(m.kind, m.name());
            d.cp.set("/spec/machineTemplate/spec/infrastructureRef", r);
        }
    }
    let created = match reconcile_object(ctx, cluster, cur.cp.as_ref(), &d.cp) {
        Ok(c) => c,
        Err(e) => {
            if let Some(k) = created_template {
                if ctx.delete(&k).is_err() {
                    ctx.note(format!("WARNING! Failed to cleanup {k} for control plane while handling creation or update error"));
                }
            }
            return Err(e);
        }
    };
    if let (Some(old), Some(new)) = (&cur.cp_machine, &d.cp_machine) {
        if old.name() != new.name() {
            match ctx.delete(&old.key()) {
                Ok(_) => {}
                Err(e) if e.is_not_found() => {}
                Err(e) => {
                    return Err(format!(
                        "failed to delete old {} {}/{} of {} {}/{}: {e}",
                        old.kind,
                        old.namespace(),
                        old.name(),
                        d.cp.kind,
                        d.cp.namespace(),
                        d.cp.name()
                    ))
                }
            }
        }
    }
    Ok(created)
}

/// `reconcileCluster`: topology labels, the references and the upgrade-step annotation.
fn reconcile_cluster(ctx: &mut Ctx<'_>, cluster: &Object, d: &Desired, set_cp_ref: bool, s: &mut Scope) -> Result<(), String> {
    let mut want = cluster.clone();
    want.meta.labels.insert(keys::CLUSTER_NAME.into(), cluster.name().to_string());
    want.meta.labels.insert(keys::TOPOLOGY_OWNED.into(), String::new());
    match &d.upgrade_step {
        Some(v) => {
            want.meta.annotations.insert(upgrade::UPGRADE_STEP.into(), v.clone());
        }
        None => {
            want.meta.annotations.remove(upgrade::UPGRADE_STEP);
        }
    }
    want.set("/spec/infrastructureRef", d.infra_ref.clone());
    if set_cp_ref {
        want.set("/spec/controlPlaneRef", d.cp_ref.clone());
    }
    let same = want.meta.labels == cluster.meta.labels
        && want.meta.annotations == cluster.meta.annotations
        && want.at("/spec/infrastructureRef") == cluster.at("/spec/infrastructureRef")
        && want.at("/spec/controlPlaneRef") == cluster.at("/spec/controlPlaneRef");
    if same {
        return Ok(());
    }
    let (labels, annotations) = (want.meta.labels.to_inner(), want.meta.annotations.to_inner());
    let infra_ref = d.infra_ref.clone();
    let cp_ref = set_cp_ref.then(|| d.cp_ref.clone());
    let patched = ctx
        .patch(&cluster.key(), |o| {
            o.meta.labels.extend(labels);
            if annotations.contains_key(upgrade::UPGRADE_STEP) {
                o.meta.annotations.extend(annotations);
            } else {
                o.meta.annotations.remove(upgrade::UPGRADE_STEP);
            }
            o.set("/spec/infrastructureRef", infra_ref);
            if let Some(r) = cp_ref {
                o.set("/spec/controlPlaneRef", r);
            }
        })
        .map_err(|e| format!("failed to patch Cluster {}/{}: {e}", cluster.namespace(), cluster.name()))?;
    event(ctx, cluster, "TopologyUpdate", format!("Updated Cluster {}", kobj(cluster)));
    s.writes.push((patched.key(), patched.meta.resource_version));
    Ok(())
}

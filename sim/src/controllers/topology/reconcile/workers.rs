//! Writing the desired MachineDeployments and MachinePools of a managed topology: create the new
//! ones, update (with template rotation) the existing ones, delete the ones the topology dropped.
//! Source: `core/reconcilers/topology/cluster/reconcile_state.go` (`reconcileMachineDeployments`,
//! `createMachineDeployment`, `updateMachineDeployment`, `deleteMachineDeployment`,
//! `reconcileMachinePools`, `createMachinePool`, `updateMachinePool`, `deleteMachinePool`).

use super::apply::{applied, patch_applied};
use super::objects::{create, event, kobj, reconcile_mhc, reconcile_object, reconcile_template};
use super::scope::Scope;
use crate::controllers::common::keys;
use crate::controllers::topology::desired::{self, DesiredMd, DesiredMp};
use crate::controllers::topology::state::{Current, MdState, MpState};
use crate::controllers::topology::upgrade;
use crate::kinds::Kind;
use crate::object::Object;
use crate::runtime::Ctx;

pub(super) fn reconcile_machine_deployments(
    ctx: &mut Ctx<'_>,
    cluster: &Object,
    cur: &Current,
    desired: Vec<(String, DesiredMd)>,
    s: &mut Scope,
) -> Result<(), String> {
    let to_create: Vec<&String> = desired.iter().map(|(n, _)| n).filter(|n| !cur.mds.contains_key(*n)).collect();
    let live: Vec<String> = if to_create.is_empty() {
        Vec::new()
    } else {
        ctx.live_in_cluster(Kind::MachineDeployment, cluster.namespace(), cluster.name())
            .iter()
            .filter(|m| upgrade::topology_owned(m))
            .filter_map(|m| m.label(keys::TOPOLOGY_DEPLOYMENT_NAME).map(str::to_string))
            .collect()
    };
    for (topo, mut d) in desired.iter().cloned() {
        match cur.mds.get(&topo) {
            None => {
                if live.contains(&topo) {
                    ctx.note(format!("skipping creation of MachineDeployment for topology {topo}: it already exists (stale cache)"));
                    continue;
                }
                create_md(ctx, cluster, &topo, &mut d, s)?;
            }
            Some(c) => update_md(ctx, cluster, &topo, c, &mut d, s)?,
        }
    }
    for (topo, c) in &cur.mds {
        if desired.iter().any(|(n, _)| n == topo) {
            continue;
        }
        if let Some(m) = &c.mhc {
            reconcile_mhc(ctx, cluster, Some(m), None)?;
        }
        if !c.md.deleting() {
            match ctx.delete(&c.md.key()) {
                Ok(_) => {}
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(format!("failed to delete MachineDeployment {}/{}: {e}", c.md.namespace(), c.md.name())),
            }
            event(ctx, cluster, "TopologyDelete", format!("Deleted MachineDeployment {}", kobj(&c.md)));
        }
    }
    Ok(())
}

fn create_md(ctx: &mut Ctx<'_>, cluster: &Object, topo: &str, d: &mut DesiredMd, s: &mut Scope) -> Result<(), String> {
    if s.tracker.mds.pending_create.contains(topo) {
        return Ok(());
    }
    reconcile_template(ctx, cluster, None, &mut d.infra, "").map_err(|e| format!("failed to create MachineDeployment: {e}"))?;
    if let Err(e) = reconcile_template(ctx, cluster, None, &mut d.bootstrap, "") {
        let _ = ctx.delete(&d.infra.key());
        return Err(format!("failed to create MachineDeployment: {e}"));
    }
    let created = match create(ctx, cluster, d.md.clone()) {
        Ok(o) => o,
        Err(e) => {
            let _ = ctx.delete(&d.infra.key());
            let _ = ctx.delete(&d.bootstrap.key());
            return Err(e);
        }
    };
    s.writes.push((created.key(), created.meta.resource_version));
    if let Some(m) = &d.mhc {
        reconcile_mhc(ctx, cluster, None, Some(m))?;
    }
    Ok(())
}

fn update_md(ctx: &mut Ctx<'_>, cluster: &Object, topo: &str, c: &MdState, d: &mut DesiredMd, s: &mut Scope) -> Result<(), String> {
    if d.mhc.is_some() || c.mhc.is_some() {
        reconcile_mhc(ctx, cluster, c.mhc.as_ref(), d.mhc.as_ref())?;
    }
    if c.md.deleting() || s.tracker.mds.pending_upgrade.contains(c.md.name()) {
        return Ok(());
    }
    let what = format!("MachineDeployment {}/{}", c.md.namespace(), c.md.name());
    let quoted = format!("MachineDeployment {}", kobj(&c.md));
    let prefix = format!("{}-{topo}-", cluster.name());
    let created_infra = reconcile_template(ctx, cluster, c.infra.as_ref(), &mut d.infra, &prefix)
        .map_err(|e| format!("failed to reconcile {what}: {e}"))?;
    d.md.set("/spec/template/spec/infrastructureRef", desired::contract_ref(d.infra.kind, d.infra.name()));
    let created_bootstrap = match reconcile_template(ctx, cluster, c.bootstrap.as_ref(), &mut d.bootstrap, &prefix) {
        Ok(b) => b,
        Err(e) => {
            if created_infra {
                let _ = ctx.delete(&d.infra.key());
            }
            return Err(format!("failed to reconcile {what}: {e}"));
        }
    };
    d.md.set("/spec/template/spec/bootstrap/configRef", desired::contract_ref(d.bootstrap.kind, d.bootstrap.name()));
    let new = applied(&c.md, &d.md);
    if new == *c.md {
        return Ok(());
    }
    let version_change = match (c.md.str_at("/spec/template/spec/version"), d.md.str_at("/spec/template/spec/version")) {
        (Some(a), Some(b)) if !a.is_empty() && !b.is_empty() && a != b => format!(" with version change from {a} to {b}"),
        _ => String::new(),
    };
    let patched = patch_applied(ctx, &c.md.key(), &d.md);
    match patched {
        Ok(p) => {
            s.writes.push((p.key(), p.meta.resource_version));
            event(ctx, cluster, "TopologyUpdate", format!("Updated {quoted}{version_change}"));
            Ok(())
        }
        Err(e) => {
            if created_infra {
                let _ = ctx.delete(&d.infra.key());
            }
            if created_bootstrap {
                let _ = ctx.delete(&d.bootstrap.key());
            }
            Err(format!("failed to patch {what}: {e}"))
        }
    }
}

pub(super) fn reconcile_machine_pools(
    ctx: &mut Ctx<'_>,
    cluster: &Object,
    cur: &Current,
    desired: Vec<(String, DesiredMp)>,
    s: &mut Scope,
) -> Result<(), String> {
    let creating = desired.iter().any(|(n, _)| !cur.mps.contains_key(n));
    let live: Vec<String> = if creating {
        ctx.live_in_cluster(Kind::MachinePool, cluster.namespace(), cluster.name())
            .iter()
            .filter(|m| upgrade::topology_owned(m))
            .filter_map(|m| m.label(keys::TOPOLOGY_POOL_NAME).map(str::to_string))
            .collect()
    } else {
        Vec::new()
    };
    for (topo, d) in &desired {
        match cur.mps.get(topo) {
            None => {
                if live.contains(topo) || s.tracker.mps.pending_create.contains(topo) {
                    continue;
                }
                let created_infra =
                    reconcile_object(ctx, cluster, None, &d.infra).map_err(|e| format!("failed to create MachinePool: {e}"))?;
                if let Err(e) = reconcile_object(ctx, cluster, None, &d.bootstrap) {
                    if created_infra {
                        let _ = ctx.delete(&d.infra.key());
                    }
                    return Err(format!("failed to create MachinePool: {e}"));
                }
                match create(ctx, cluster, d.mp.clone()) {
                    Ok(o) => s.writes.push((o.key(), o.meta.resource_version)),
                    Err(e) => {
                        let _ = ctx.delete(&d.infra.key());
                        let _ = ctx.delete(&d.bootstrap.key());
                        return Err(e);
                    }
                }
            }
            Some(c) => update_mp(ctx, cluster, c, d, s)?,
        }
    }
    for (topo, c) in &cur.mps {
        if desired.iter().any(|(n, _)| n == topo) || c.mp.deleting() {
            continue;
        }
        match ctx.delete(&c.mp.key()) {
            Ok(_) => {}
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(format!("failed to delete MachinePool {}/{}: {e}", c.mp.namespace(), c.mp.name())),
        }
        event(ctx, cluster, "TopologyDelete", format!("Deleted MachinePool {}", kobj(&c.mp)));
    }
    Ok(())
}

fn update_mp(ctx: &mut Ctx<'_>, cluster: &Object, c: &MpState, d: &DesiredMp, s: &mut Scope) -> Result<(), String> {
    if s.tracker.mps.pending_upgrade.contains(c.mp.name()) {
        return Ok(());
    }
    let what = format!("MachinePool {}/{}", c.mp.namespace(), c.mp.name());
    reconcile_object(ctx, cluster, Some(&c.infra), &d.infra).map_err(|e| format!("failed to reconcile {what}: {e}"))?;
    reconcile_object(ctx, cluster, Some(&c.bootstrap), &d.bootstrap).map_err(|e| format!("failed to reconcile {what}: {e}"))?;
    let new = applied(&c.mp, &d.mp);
    if new == *c.mp {
        return Ok(());
    }
    let version_change = match (c.mp.str_at("/spec/template/spec/version"), d.mp.str_at("/spec/template/spec/version")) {
        (Some(a), Some(b)) if !a.is_empty() && !b.is_empty() && a != b => format!(" with version change from {a} to {b}"),
        _ => String::new(),
    };
    let p = patch_applied(ctx, &c.mp.key(), &d.mp).map_err(|e| format!("failed to patch {what}: {e}"))?;
    s.writes.push((p.key(), p.meta.resource_version));
    event(ctx, cluster, "TopologyUpdate", format!("Updated MachinePool {}{version_change}", kobj(&c.mp)));
    Ok(())
}

//! The two small topology controllers that clean up per-cluster template copies: a topology-owned
//! MachineDeployment or MachineSet carries a finalizer, and on deletion the bootstrap and
//! infrastructure templates it references are deleted unless another (not deleting) MachineSet of the
//! same MachineDeployment, or the MachineDeployment itself, still uses them. The MachineDeployment's
//! MachineHealthCheck goes with it.
//! Sources: `core/reconcilers/topology/machinedeployment/machinedeployment_controller.go`,
//! `core/reconcilers/topology/machineset/{machineset_controller.go,util.go}`.

use crate::controllers::common::{self, keys};
use crate::kinds::Kind;
use crate::object::{ObjKey, Object};
use crate::objectset::ObjectSet;
use crate::runtime::{Action, Ctx, ReconcileError, ReconcileResult, Reconciler};
use crate::store::Change;
use serde_json::Value;
use std::collections::BTreeSet;
use std::sync::Arc;

/// Finalizer of topology-owned MachineDeployments.
pub const MD_FINALIZER: &str = "machinedeployment.topology.cluster.x-k8s.io";
/// Finalizer of topology-owned MachineSets.
pub const MS_FINALIZER: &str = "machineset.topology.cluster.x-k8s.io";

const WATCHES: &[Kind] = &[
    Kind::Cluster,
    Kind::MachineSet,
    Kind::MachineDeployment,
    Kind::MachineHealthCheck,
    Kind::KubeadmConfigTemplate,
    Kind::DockerMachineTemplate,
    Kind::DevMachineTemplate,
];

/// `templateRefID` of the two template references of a machine template spec.
fn template_refs(o: &Object) -> Vec<(String, String)> {
    ["/spec/template/spec/bootstrap/configRef", "/spec/template/spec/infrastructureRef"]
        .iter()
        .filter_map(|p| o.at(p))
        .filter_map(|r| {
            let kind = r.get("kind").and_then(Value::as_str)?;
            let name = r.get("name").and_then(Value::as_str).filter(|n| !n.is_empty())?;
            Some((kind.to_string(), name.to_string()))
        })
        .collect()
}

/// `CalculateTemplatesInUse`: templates referenced by not-deleting MachineSets and by the
/// MachineDeployment (unless it is gone or deleting).
pub fn templates_in_use<'a>(md: Option<&Object>, machine_sets: impl Iterator<Item = &'a Object>) -> BTreeSet<(String, String)> {
    let mut used = BTreeSet::new();
    for ms in machine_sets.filter(|ms| !ms.deleting()) {
        used.extend(template_refs(ms));
    }
    if let Some(md) = md.filter(|m| !m.deleting()) {
        used.extend(template_refs(md));
    }
    used
}

/// `DeleteTemplateIfUnused` for both templates of `o`.
fn delete_unused(ctx: &mut Ctx<'_>, o: &Object, used: &BTreeSet<(String, String)>) -> Result<(), ReconcileError> {
    for (kind, name) in template_refs(o) {
        if used.contains(&(kind.clone(), name.clone())) {
            continue;
        }
        let Some(k) = Kind::from_name(&kind) else { continue };
        let key = ObjKey::new(k, o.namespace(), &name);
        ctx.note(format!("deleting unused {kind} {}/{name}", o.namespace()));
        match ctx.delete(&key) {
            Ok(_) => {}
            Err(e) if e.is_not_found() => {}
            Err(e) => {
                return Err(
                    format!("failed to delete {kind} {}/{name} for {} {}/{}: {e}", o.namespace(), o.kind, o.namespace(), o.name()).into()
                )
            }
        }
    }
    Ok(())
}

/// MachineSets of a MachineDeployment by an uncached read, as CAPI lists them with its APIReader.
fn machine_sets_of(ctx: &Ctx<'_>, ns: &str, cluster: &str, md: &str) -> Vec<Arc<Object>> {
    ctx.live_in_cluster(Kind::MachineSet, ns, cluster).into_iter().filter(|ms| ms.label(keys::DEPLOYMENT_NAME) == Some(md)).collect()
}

fn map_cluster(change: &Change, cache: &ObjectSet, kind: Kind, out: &mut Vec<ObjKey>) {
    let c = &change.object;
    if c.at("/spec/topology").is_none_or(Value::is_null) || c.bool_at("/spec/paused") {
        return;
    }
    out.extend(cache.in_cluster_ns(kind, c.namespace(), c.name()).map(|o| o.key()));
}

/// The preamble both controllers share: topology-owned only, the Cluster must exist, finalizer first,
/// nothing while paused. `Some(action)` means stop.
fn preamble(ctx: &mut Ctx<'_>, o: &Object, finalizer: &str) -> Result<Option<Action>, ReconcileError> {
    if o.label(keys::TOPOLOGY_OWNED).is_none() {
        ctx.note(format!("reconciliation is skipped because the {} does not have the {} label", o.kind, keys::TOPOLOGY_OWNED));
        return Ok(Some(Action::DONE));
    }
    let cluster_name = o.str_at("/spec/clusterName").unwrap_or("");
    let Some(cluster) = ctx.get_parts(Kind::Cluster, o.namespace(), cluster_name).cloned() else {
        return Err(format!("failed to get Cluster/{cluster_name}: clusters.cluster.x-k8s.io \"{cluster_name}\" not found").into());
    };
    if !o.deleting() && !o.has_finalizer(finalizer) {
        ctx.add_finalizer(o, finalizer)?;
        return Ok(Some(Action::DONE));
    }
    if common::is_paused(Some(&cluster), o) {
        ctx.note("reconciliation is paused for this object");
        return Ok(Some(Action::DONE));
    }
    Ok(None)
}

/// `topology/machinedeployment`.
pub struct MachineDeploymentTopologyReconciler;

impl Reconciler for MachineDeploymentTopologyReconciler {
    fn name(&self) -> &'static str {
        "topology/machinedeployment"
    }
    fn kind(&self) -> Kind {
        Kind::MachineDeployment
    }
    fn watches(&self) -> &[Kind] {
        WATCHES
    }
    fn map(&self, change: &Change, cache: &ObjectSet, out: &mut Vec<ObjKey>) {
        if change.object.kind == Kind::Cluster {
            map_cluster(change, cache, Kind::MachineDeployment, out);
        }
    }
    fn reconcile(&self, ctx: &mut Ctx<'_>, key: &ObjKey) -> ReconcileResult {
        let Some(md) = ctx.get(key).cloned() else { return Ok(Action::DONE) };
        if let Some(stop) = preamble(ctx, &md, MD_FINALIZER)? {
            return Ok(stop);
        }
        if !md.deleting() {
            return Ok(Action::DONE);
        }
        let cluster = md.str_at("/spec/clusterName").unwrap_or("").to_string();
        let sets = machine_sets_of(ctx, md.namespace(), &cluster, md.name());
        let used = templates_in_use(Some(&md), sets.iter().map(|m| &**m));
        delete_unused(ctx, &md, &used)?;
        match ctx.delete(&ObjKey::new(Kind::MachineHealthCheck, md.namespace(), md.name())) {
            Ok(_) => {}
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(format!("failed to delete MachineHealthCheck {}/{}: {e}", md.namespace(), md.name()).into()),
        }
        ctx.remove_finalizer(&md, MD_FINALIZER)?;
        Ok(Action::DONE)
    }
}

/// `topology/machineset`.
pub struct MachineSetTopologyReconciler;

impl Reconciler for MachineSetTopologyReconciler {
    fn name(&self) -> &'static str {
        "topology/machineset"
    }
    fn kind(&self) -> Kind {
        Kind::MachineSet
    }
    fn watches(&self) -> &[Kind] {
        WATCHES
    }
    fn map(&self, change: &Change, cache: &ObjectSet, out: &mut Vec<ObjKey>) {
        if change.object.kind == Kind::Cluster {
            map_cluster(change, cache, Kind::MachineSet, out);
        }
    }
    fn reconcile(&self, ctx: &mut Ctx<'_>, key: &ObjKey) -> ReconcileResult {
        let Some(ms) = ctx.get(key).cloned() else { return Ok(Action::DONE) };
        if let Some(stop) = preamble(ctx, &ms, MS_FINALIZER)? {
            return Ok(stop);
        }
        if !ms.deleting() {
            return Ok(Action::DONE);
        }
        let Some(md_name) = ms
            .meta
            .owner_references
            .iter()
            .find(|r| r.kind == "MachineDeployment" && Kind::group_of(&r.api_version) == "cluster.x-k8s.io")
            .map(|r| r.name.clone())
        else {
            return Err(format!("could not calculate MachineDeployment name for MachineSet {}/{}", ms.namespace(), ms.name()).into());
        };
        let cluster = ms.str_at("/spec/clusterName").unwrap_or("").to_string();
        let sets = machine_sets_of(ctx, ms.namespace(), &cluster, &md_name);
        let md = ctx.get_parts(Kind::MachineDeployment, ms.namespace(), &md_name).cloned();
        let used = templates_in_use(md.as_deref(), sets.iter().map(|m| &**m));
        delete_unused(ctx, &ms, &used)?;
        ctx.remove_finalizer(&ms, MS_FINALIZER)?;
        Ok(Action::DONE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn with_refs(kind: Kind, name: &str, bootstrap: &str, infra: &str, deleting: bool) -> Object {
        let mut o = Object::new(kind, "ns", name);
        o.set(
            "/spec/template/spec/bootstrap/configRef",
            json!({"apiGroup": "bootstrap.cluster.x-k8s.io", "kind": "KubeadmConfigTemplate", "name": bootstrap}),
        );
        o.set(
            "/spec/template/spec/infrastructureRef",
            json!({"apiGroup": "infrastructure.cluster.x-k8s.io", "kind": "DevMachineTemplate", "name": infra}),
        );
        if deleting {
            o.meta.deletion_ms = Some(1);
        }
        o
    }

    #[test]
    fn templates_in_use_ignore_deleting_owners() {
        let md = with_refs(Kind::MachineDeployment, "md", "b2", "i2", false);
        let old = with_refs(Kind::MachineSet, "ms-old", "b1", "i1", true);
        let new = with_refs(Kind::MachineSet, "ms-new", "b2", "i2", false);
        let used = templates_in_use(Some(&md), [&old, &new].into_iter());
        assert!(used.contains(&("DevMachineTemplate".to_string(), "i2".to_string())));
        assert!(!used.contains(&("DevMachineTemplate".to_string(), "i1".to_string())));
        let mut deleting_md = md.clone();
        deleting_md.meta.deletion_ms = Some(1);
        assert!(templates_in_use(Some(&deleting_md), std::iter::empty()).is_empty());
    }
}

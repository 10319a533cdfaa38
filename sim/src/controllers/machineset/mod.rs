//! The MachineSet controller: finalizer, paused, cluster-name label and selector, ownership of the
//! referenced templates, adoption of orphan Machines, remediation of Machines the MHC hands over,
//! propagation of in-place fields to Machines, the Machines' `UpToDate` condition, `syncReplicas`
//! (create Machines with their KubeadmConfig and infra machine, or delete by priority), status, and
//! deletion (delete every Machine, drop the finalizer when none is left).
//! Source: `core/reconcilers/machineset/{machineset_controller.go,machineset_controller_status.go}`.
//!
//! Simplifications: no in-place updates / Machine moves (gate `InPlaceUpdates` off), no v1beta1
//! deprecated status, no ClusterCache watch (the v1beta2 status reads only Machine conditions).
//! Server-side-apply field ownership is approximated: labels and annotations the MachineSet wants are
//! added or overwritten, others are left alone; in-place spec fields are only propagated when the
//! MachineSet template sets them. Setting `UpToDate` on Machines is the MachineSet's job here (CAPI's
//! Machine controller computes it from the owning MachineSet and MachineDeployment the same way).

pub mod consistency;
mod create;
pub mod deletion_order;
pub mod preflight;
mod remediation;
mod status;
mod sync;

pub use create::render_name;
pub use sync::machine_up_to_date;

use super::common::{self, keys, preamble};
use crate::kinds::Kind;
use crate::object::{ObjKey, Object};
use crate::objectset::ObjectSet;
use crate::runtime::{Action, Ctx, ReconcileError, ReconcileResult, Reconciler};
use crate::store::{Change, ChangeKind, Deleted};
use capi_scenarios::LabelSelector;
use serde_json::Value;
use std::sync::Arc;

/// The MachineSet finalizer.
pub const FINALIZER: &str = "cluster.x-k8s.io/machineset";
/// The field manager of the MachineSet's server-side applies (`machineSetManagerName`).
pub const MANAGER: &str = "capi-machineset";
/// The field manager of the labels and annotations it syncs to infrastructure machines and
/// bootstrap configs (`machineSetMetadataManagerName`).
pub const METADATA_MANAGER: &str = "capi-machineset-metadata";
/// Requeue while not every replica is ready (`shouldRequeueForReplicaCountersRefresh`).
pub const REPLICAS_REQUEUE_MS: u64 = 15_000;

/// The controllers of this module.
pub fn controllers() -> Vec<Box<dyn Reconciler>> {
    vec![Box::new(MachineSetReconciler::default())]
}

/// The MachineSet controller.
#[derive(Default)]
pub struct MachineSetReconciler {
    guard: consistency::Guard,
}

/// Kinds watched; templates, infra machines, bootstrap configs and the control plane are listed so the
/// manager caches them (CAPI reads them through its cache; they enqueue nothing).
const WATCHES: &[Kind] = &[
    Kind::Machine,
    Kind::MachineDeployment,
    Kind::Cluster,
    Kind::KubeadmConfigTemplate,
    Kind::DockerMachineTemplate,
    Kind::DevMachineTemplate,
    Kind::KubeadmConfig,
    Kind::DockerMachine,
    Kind::DevMachine,
    Kind::KubeadmControlPlane,
];

/// The label selector of an object at a pointer.
pub fn selector_at(obj: &Object, pointer: &str) -> Result<LabelSelector, String> {
    match obj.at(pointer) {
        None | Some(Value::Null) => Ok(LabelSelector::default()),
        Some(v) => serde_json::from_value(v.clone()).map_err(|e| format!("invalid label selector: {e}")),
    }
}

/// Whether a Cluster change flips `spec.paused` (`predicates.ClusterPausedTransitions`).
pub fn paused_transition(change: &Change) -> bool {
    change.kind == ChangeKind::Modified
        && change.old.as_ref().is_some_and(|old| old.bool_at("/spec/paused") != change.object.bool_at("/spec/paused"))
}

impl Reconciler for MachineSetReconciler {
    fn name(&self) -> &'static str {
        "machineset"
    }
    fn kind(&self) -> Kind {
        Kind::MachineSet
    }
    fn watches(&self) -> &[Kind] {
        WATCHES
    }
    fn map(&self, change: &Change, cache: &ObjectSet, out: &mut Vec<ObjKey>) {
        let o = &change.object;
        match o.kind {
            Kind::Machine => match o.controller_ref() {
                Some(r) if r.kind == "MachineSet" => out.push(ObjKey::new(Kind::MachineSet, o.namespace(), &r.name)),
                Some(_) => {}
                // An orphan: every MachineSet whose selector matches may adopt it.
                None if !o.meta.labels.is_empty() => {
                    // MachineSets of the Machine's cluster (adoption requires the same cluster).
                    let cluster = o.str_at("/spec/clusterName").or_else(|| o.label(keys::CLUSTER_NAME)).unwrap_or("");
                    for ms in cache.in_cluster_ns(Kind::MachineSet, o.namespace(), cluster) {
                        if selector_at(ms, "/spec/selector").is_ok_and(|s| s.matches(|k| o.label(k))) {
                            out.push(ms.key());
                        }
                    }
                }
                None => {}
            },
            Kind::MachineDeployment => {
                let cluster = o.str_at("/spec/clusterName").or_else(|| o.label(keys::CLUSTER_NAME)).unwrap_or("");
                for ms in cache.in_cluster_ns(Kind::MachineSet, o.namespace(), cluster) {
                    if ms.label(keys::DEPLOYMENT_NAME) == Some(o.name()) {
                        out.push(ms.key());
                    }
                }
            }
            Kind::Cluster if paused_transition(change) => {
                out.extend(cache.in_cluster_ns(Kind::MachineSet, o.namespace(), o.name()).map(|m| m.key()));
            }
            _ => {}
        }
    }
    fn reconcile(&self, ctx: &mut Ctx<'_>, key: &ObjKey) -> ReconcileResult {
        let Some(orig) = ctx.get(key).cloned() else {
            self.guard.clear(key);
            return Ok(Action::DONE);
        };
        if !self.guard.ready(ctx.cache, &orig, ctx.now) {
            ctx.note("cache stale, requeueing until it shows this controller's writes");
            return Ok(Action::requeue(consistency::STALE_CACHE_REQUEUE_MS));
        }
        let cluster_name = orig.str_at("/spec/clusterName").unwrap_or("");
        let Some(cluster) = ctx.get_parts(Kind::Cluster, orig.namespace(), cluster_name).cloned() else {
            return Err(ReconcileError(format!(
                "failed to get Cluster {}/{cluster_name}: clusters.cluster.x-k8s.io \"{cluster_name}\" not found",
                orig.namespace()
            )));
        };
        if let Some(stop) = preamble(ctx, &orig, Some(&cluster), Some(FINALIZER))? {
            return Ok(stop);
        }
        let mut s = Scope {
            ms: (*orig).clone(),
            cluster,
            md: None,
            machines: Vec::new(),
            bootstrap_not_found: false,
            infra_not_found: false,
            adopted: false,
            preflight_msgs: Vec::new(),
            remove_finalizer: false,
        };
        let result = self.phases(ctx, &mut s);
        // Deferred: status, then the object itself (labels, owner, finalizer), whatever happened above.
        let computed = status::compute(ctx, &s);
        let observed = result.is_ok().then_some(orig.meta.generation);
        let now = ctx.now;
        let status_result = match ctx.patch_status(key, |o| status::apply(o, &computed, observed, now)) {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(ReconcileError::from(e)),
        };
        let main_result = patch_main(ctx, &s);
        let action = result?;
        status_result?;
        main_result?;
        if orig.deleting() {
            return Ok(action);
        }
        Ok(action.min(status::requeue(&s, &computed)))
    }
}

/// What one reconcile works with.
pub(crate) struct Scope {
    /// The MachineSet, with the in-memory changes of this reconcile (labels, owner, selector).
    pub ms: Object,
    /// Its Cluster.
    pub cluster: Arc<Object>,
    /// The owning MachineDeployment (for MachineSets created by one).
    pub md: Option<Arc<Object>>,
    /// Its Machines (including deleting ones).
    pub machines: Vec<Arc<Object>>,
    /// The bootstrap template does not exist.
    pub bootstrap_not_found: bool,
    /// The infrastructure template does not exist.
    pub infra_not_found: bool,
    /// Machines were listed and adopted.
    pub adopted: bool,
    /// Failed preflight checks of a scale up.
    pub preflight_msgs: Vec<String>,
    /// Deletion finished: drop the finalizer.
    pub remove_finalizer: bool,
}

/// Whether a MachineSet was created by a MachineDeployment (`isDeploymentChild`).
pub fn is_deployment_child(ms: &Object) -> bool {
    ms.label(keys::DEPLOYMENT_NAME).is_some()
}

/// Whether the MachineSet is the MachineDeployment's current revision (`isCurrentMachineSet`).
pub fn is_current(ms: &Object, md: Option<&Object>) -> bool {
    md.is_some_and(|md| md.annotation(keys::REVISION) == ms.annotation(keys::REVISION))
}

impl MachineSetReconciler {
    fn phases(&self, ctx: &mut Ctx<'_>, s: &mut Scope) -> ReconcileResult {
        if is_deployment_child(&s.ms) {
            let name = s.ms.label(keys::DEPLOYMENT_NAME).unwrap_or("").to_string();
            if name.is_empty() {
                return Err(format!("no owner MachineDeployment found for MachineSet {}/{}", s.ms.namespace(), s.ms.name()).into());
            }
            match ctx.get_parts(Kind::MachineDeployment, s.ms.namespace(), &name) {
                Some(md) => s.md = Some(md.clone()),
                None => {
                    return Err(format!(
                        "failed to retrieve owner MachineDeployment for MachineSet {}/{}: machinedeployments.cluster.x-k8s.io \"{name}\" not found",
                        s.ms.namespace(),
                        s.ms.name()
                    )
                    .into())
                }
            }
        }
        owner_and_labels(s);
        s.infra_not_found = template_ref(ctx, s, "/spec/template/spec/infrastructureRef", "infrastructure")?;
        if has_ref(&s.ms, "/spec/template/spec/bootstrap/configRef") {
            s.bootstrap_not_found = template_ref(ctx, s, "/spec/template/spec/bootstrap/configRef", "bootstrapConfig")?;
        }
        get_and_adopt(ctx, s)?;
        if s.ms.deleting() {
            return reconcile_delete(ctx, s);
        }
        let mut action = remediation::reconcile(ctx, s)?;
        sync::sync_machines(ctx, s)?;
        action = action.min(self.sync_replicas(ctx, s)?);
        Ok(action)
    }

    /// `syncReplicas`: the difference counts every Machine, deleting ones included, so a Machine deleted
    /// by a user is replaced only once its object is gone.
    fn sync_replicas(&self, ctx: &mut Ctx<'_>, s: &mut Scope) -> ReconcileResult {
        cleanup_orphans(ctx, s)?;
        let Some(replicas) = s.ms.i64_at("/spec/replicas") else {
            return Err(format!("the Replicas field in Spec for MachineSet {} is nil, this should not be allowed", s.ms.name()).into());
        };
        let diff = s.machines.len() as i64 - replicas;
        if diff < 0 {
            if s.ms.annotation(keys::DISABLE_MACHINE_CREATE) == Some("true") {
                ctx.note("automatic creation of new machines disabled for MachineSet");
                return Ok(Action::DONE);
            }
            return create::create_machines(ctx, &self.guard, s, (-diff) as usize);
        }
        if diff > 0 {
            return self.delete_machines(ctx, s, diff as usize);
        }
        Ok(Action::DONE)
    }

    fn delete_machines(&self, ctx: &mut Ctx<'_>, s: &mut Scope, n: usize) -> ReconcileResult {
        let order = deletion_order::Order::parse(s.ms.str_at("/spec/deletion/order"))?;
        let victims = deletion_order::to_delete(&s.machines, n, order, ctx.now);
        let mut errs = Vec::new();
        for (i, m) in victims.iter().enumerate() {
            if m.deleting() {
                ctx.note(format!("waiting for Machine {} to be deleted (scale down, deleting {} of {n})", m.name(), i + 1));
                continue;
            }
            match ctx.delete(&m.key()) {
                Ok(Deleted::Pending(o)) => {
                    self.guard.wrote(&s.ms, Kind::Machine, o.meta.resource_version, ctx.now);
                    // `machineset_controller.go: syncReplicas`.
                    ctx.event_normal(&s.ms, "SuccessfulDelete", format!("Deleted Machine {:?}", m.name()));
                }
                Ok(Deleted::Removed(_)) => ctx.event_normal(&s.ms, "SuccessfulDelete", format!("Deleted Machine {:?}", m.name())),
                Err(e) if e.is_not_found() => {}
                Err(e) => errs.push(e.message),
            }
        }
        if errs.is_empty() {
            Ok(Action::DONE)
        } else {
            Err(ReconcileError(errs.join("; ")))
        }
    }
}

fn has_ref(obj: &Object, pointer: &str) -> bool {
    obj.at(pointer).and_then(|r| r.get("name")).and_then(Value::as_str).is_some_and(|n| !n.is_empty())
}

/// `reconcileMachineSetOwnerAndLabels` (in memory; written by [`patch_main`]).
fn owner_and_labels(s: &mut Scope) {
    let cluster_name = s.ms.str_at("/spec/clusterName").unwrap_or("").to_string();
    s.ms.meta.labels.insert(keys::CLUSTER_NAME.into(), cluster_name.clone());
    if should_adopt(&s.ms) {
        common::set_owner(&mut s.ms, &s.cluster, false);
    }
    insert_entry(&mut s.ms, "/spec/selector/matchLabels", keys::CLUSTER_NAME, &cluster_name);
    insert_entry(&mut s.ms, "/spec/template/metadata/labels", keys::CLUSTER_NAME, &cluster_name);
}

/// Insert `key: value` into the string map at `map_ptr` (label keys contain `/`, which a JSON pointer
/// cannot address directly).
pub(crate) fn insert_entry(obj: &mut Object, map_ptr: &str, key: &str, value: &str) {
    let mut m = obj.at(map_ptr).and_then(Value::as_object).cloned().unwrap_or_default();
    m.insert(key.to_string(), Value::String(value.to_string()));
    obj.set(map_ptr, Value::Object(m));
}

/// `util.HasExactOwnerRef`: an owner reference to `owner` with this controller flag (apiVersion, kind,
/// name, uid; blockOwnerDeletion does not matter).
pub(crate) fn has_exact_owner_ref(obj: &Object, owner: &Object, controller: bool) -> bool {
    obj.meta.owner_references.iter().any(|r| {
        r.api_version == owner.kind.api_version()
            && r.kind == owner.kind.name()
            && r.name == owner.name()
            && r.uid == owner.meta.uid
            && r.controller == controller
    })
}

/// A string map (labels, annotations) in the body.
pub(crate) fn string_map(obj: &Object, map_ptr: &str) -> std::collections::BTreeMap<String, String> {
    obj.at(map_ptr)
        .and_then(Value::as_object)
        .map(|m| m.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string()))).collect())
        .unwrap_or_default()
}

/// A stand-alone MachineSet (no MachineDeployment) becomes owned by its Cluster.
fn should_adopt(ms: &Object) -> bool {
    let owned = ms
        .meta
        .owner_references
        .iter()
        .any(|r| r.api_version == Kind::Cluster.api_version() && (r.kind == "MachineDeployment" || r.kind == "Cluster"));
    !owned && !is_deployment_child(ms)
}

/// Write the in-memory changes to the object (CAPI's patch helper).
fn patch_main(ctx: &mut Ctx<'_>, s: &Scope) -> Result<(), ReconcileError> {
    let want = s.ms.clone();
    let cluster = s.cluster.clone();
    let remove_finalizer = s.remove_finalizer;
    let r = ctx.patch(&want.key(), |o| {
        for (k, v) in &want.meta.labels {
            if k == keys::CLUSTER_NAME {
                o.meta.labels.insert(k.clone(), v.clone());
            }
        }
        if should_adopt(o) && common::has_owner(&want, &cluster) {
            common::set_owner(o, &cluster, false);
        }
        if let Some(sel) = want.at("/spec/selector").cloned() {
            o.set("/spec/selector", sel);
        }
        if let Some(l) = want.at("/spec/template/metadata/labels").cloned() {
            o.set("/spec/template/metadata/labels", l);
        }
        if remove_finalizer {
            o.meta.finalizers.retain(|f| f != FINALIZER);
        }
    });
    match r {
        Ok(_) => Ok(()),
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// `reconcileExternalTemplateReference`: the template gets a plain owner reference to the Cluster;
/// returns whether it is missing (an error unless the MachineSet is deleting or not the current one).
fn template_ref(ctx: &mut Ctx<'_>, s: &Scope, pointer: &str, what: &str) -> Result<bool, ReconcileError> {
    let Some(r) = s.ms.at(pointer) else { return Ok(false) };
    let kind_name = r.get("kind").and_then(Value::as_str).unwrap_or("");
    if !kind_name.ends_with("Template") {
        return Ok(false);
    }
    let name = r.get("name").and_then(Value::as_str).unwrap_or("");
    let found = common::ref_key(r, s.ms.namespace()).and_then(|k| ctx.get(&k).cloned());
    let Some(t) = found else {
        if s.ms.deleting() || (s.md.is_some() && !is_current(&s.ms, s.md.as_deref())) {
            return Ok(true);
        }
        return Err(ReconcileError(format!(
            "failed to reconcile {what}: failed to get {kind_name} {}/{name}: {} \"{name}\" not found",
            s.ms.namespace(),
            Kind::from_name(kind_name).map(crate::store::error::resource_name).unwrap_or_else(|| kind_name.to_lowercase())
        )));
    };
    if !has_exact_owner_ref(&t, &s.cluster, false) {
        let cluster = s.cluster.clone();
        ctx.patch(&t.key(), |o| {
            common::set_owner(o, &cluster, false);
        })?;
    }
    Ok(false)
}

/// `getAndAdoptMachinesForMachineSet`: Machines matching the selector that nobody else controls;
/// orphans get this MachineSet as controller. Deleting Machines are kept.
fn get_and_adopt(ctx: &mut Ctx<'_>, s: &mut Scope) -> Result<(), ReconcileError> {
    let sel =
        selector_at(&s.ms, "/spec/selector").map_err(|e| format!("failed to convert MachineSet {:?} label selector: {e}", s.ms.name()))?;
    let listed: Vec<Arc<Object>> = ctx.cache.select(Kind::Machine, Some(s.ms.namespace()), &sel).into_iter().cloned().collect();
    let mut machines = Vec::new();
    for m in listed {
        match m.controller_ref() {
            Some(r) if r.uid != s.ms.meta.uid => continue,
            Some(_) => machines.push(m),
            None => {
                let ms = s.ms.clone();
                match ctx.patch(&m.key(), |o| {
                    common::set_owner(o, &ms, true);
                }) {
                    Ok(adopted) => {
                        // `machineset_controller.go: getAndAdoptMachinesForMachineSet`.
                        ctx.event_normal(&s.ms, "SuccessfulAdopt", format!("Adopted Machine {:?}", m.name()));
                        machines.push(adopted);
                    }
                    Err(e) => ctx.event_warning(&s.ms, "FailedAdopt", format!("Failed to adopt Machine {:?}: {}", m.name(), e.message)),
                }
            }
        }
    }
    s.machines = machines;
    s.adopted = true;
    Ok(())
}

/// `reconcileDelete`: delete every Machine; the finalizer goes once none is left.
fn reconcile_delete(ctx: &mut Ctx<'_>, s: &mut Scope) -> ReconcileResult {
    if s.machines.is_empty() {
        s.remove_finalizer = true;
        return Ok(Action::DONE);
    }
    for m in &s.machines {
        if !m.deleting() {
            match ctx.delete(&m.key()) {
                Ok(_) => ctx.note(format!("deleting Machine {} (MachineSet deleted)", m.name())),
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(format!("failed to delete Machine {}/{}: {}", m.namespace(), m.name(), e.message).into()),
            }
        }
    }
    Ok(Action::DONE)
}

/// `cleanupOrphanedBootstrapConfigsInfraMachines`: infra machines and bootstrap configs this MachineSet
/// created whose Machine was never created (or is gone) are deleted.
fn cleanup_orphans(ctx: &mut Ctx<'_>, s: &Scope) -> Result<(), ReconcileError> {
    let sel = selector_at(&s.ms, "/spec/selector")?;
    let mut errs = Vec::new();
    for (template_ptr, machine_ptr) in [
        ("/spec/template/spec/infrastructureRef", "/spec/infrastructureRef/name"),
        ("/spec/template/spec/bootstrap/configRef", "/spec/bootstrap/configRef/name"),
    ] {
        if !has_ref(&s.ms, template_ptr) {
            continue;
        }
        let kind_name = s.ms.at(template_ptr).and_then(|r| r.get("kind")).and_then(Value::as_str).unwrap_or("");
        let Some(kind) = Kind::from_name(kind_name.strip_suffix("Template").unwrap_or(kind_name)) else { continue };
        let referenced: Vec<&str> = s.machines.iter().filter_map(|m| m.str_at(machine_ptr)).collect();
        // Listed by the selector (through the cluster index when it names the cluster).
        let orphans: Vec<ObjKey> = ctx
            .cache
            .select(kind, Some(s.ms.namespace()), &sel)
            .into_iter()
            .filter(|o| o.meta.owner_references.iter().any(|r| r.kind == "MachineSet" && r.name == s.ms.name() && r.uid == s.ms.meta.uid))
            .filter(|o| !referenced.contains(&o.name()) && !o.deleting())
            .map(|o| o.key())
            .collect();
        for k in orphans {
            match ctx.delete(&k) {
                Ok(_) => ctx.note(format!("deleted orphaned {} {}", k.kind, k.name)),
                Err(e) if e.is_not_found() => {}
                Err(e) => errs.push(format!("failed to delete {} {}/{}: {}", k.kind, k.ns, k.name, e.message)),
            }
        }
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(ReconcileError(format!("failed to cleanup orphaned objects: {}", errs.join("; "))))
    }
}

#[cfg(test)]
mod tests;

//! The MachineDeployment controller: finalizer, paused, cluster-name label, plain owner reference to
//! the Cluster and on the referenced templates, adoption of MachineSets, the rollout by strategy
//! (RollingUpdate, OnDelete; `spec.paused` only scales), cleanup of old empty MachineSets, status, and
//! deletion (delete the MachineSets, drop the finalizer once they are gone).
//! Source: `core/reconcilers/machinedeployment/machinedeployment_controller.go`; the rollout lives in
//! [`rollout`], the arithmetic in [`crate::controllers::mdutil`], the status in [`status`].
//!
//! Simplifications: no in-place updates (gate `InPlaceUpdates` off), no v1beta1 deprecated status;
//! server-side apply is approximated as in the MachineSet controller (see its module doc).

pub mod rollout;
pub mod status;

use super::common::{self, keys, preamble};
use super::machineset::consistency::{Guard, STALE_CACHE_REQUEUE_MS};
use super::machineset::{has_exact_owner_ref, paused_transition, selector_at};
use crate::kinds::Kind;
use crate::object::{ObjKey, Object};
use crate::objectset::ObjectSet;
use crate::runtime::{map_controller_owner, Action, Ctx, ReconcileError, ReconcileResult, Reconciler};
use crate::store::{Change, Deleted};
use rollout::Mode;
use serde_json::Value;
use std::sync::Arc;

/// The MachineDeployment finalizer.
pub const FINALIZER: &str = "cluster.x-k8s.io/machinedeployment";

/// The controllers of this module.
pub fn controllers() -> Vec<Box<dyn Reconciler>> {
    vec![Box::new(MachineDeploymentReconciler::default())]
}

/// The MachineDeployment controller.
#[derive(Default)]
pub struct MachineDeploymentReconciler {
    guard: Guard,
}

/// Kinds watched; templates and Machines are listed so the manager caches them (they enqueue nothing:
/// CAPI's MachineDeployment controller reacts to its MachineSets, not to Machines).
const WATCHES: &[Kind] =
    &[Kind::MachineSet, Kind::Cluster, Kind::Machine, Kind::KubeadmConfigTemplate, Kind::DockerMachineTemplate, Kind::DevMachineTemplate];

impl Reconciler for MachineDeploymentReconciler {
    fn name(&self) -> &'static str {
        "machinedeployment"
    }
    fn kind(&self) -> Kind {
        Kind::MachineDeployment
    }
    fn watches(&self) -> &[Kind] {
        WATCHES
    }
    fn map(&self, change: &Change, cache: &ObjectSet, out: &mut Vec<ObjKey>) {
        let o = &change.object;
        match o.kind {
            Kind::MachineSet => {
                if o.controller_ref().is_some() {
                    map_controller_owner(change, Kind::MachineDeployment, out);
                } else if !o.meta.labels.is_empty() {
                    // An orphan: every MachineDeployment whose (non-empty) selector matches may adopt it.
                    let cluster = o.str_at("/spec/clusterName").or_else(|| o.label(keys::CLUSTER_NAME)).unwrap_or("");
                    for md in cache.in_cluster_ns(Kind::MachineDeployment, o.namespace(), cluster) {
                        if selector_at(md, "/spec/selector").is_ok_and(|s| !s.is_empty() && s.matches(|k| o.label(k))) {
                            out.push(md.key());
                        }
                    }
                }
            }
            Kind::Cluster if paused_transition(change) => {
                out.extend(cache.in_cluster_ns(Kind::MachineDeployment, o.namespace(), o.name()).map(|m| m.key()));
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
            return Ok(Action::requeue(STALE_CACHE_REQUEUE_MS));
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
        let sel = selector_at(&orig, "/spec/selector").map_err(|e| format!("failed to convert label selector to a map: {e}"))?;
        let machines: Vec<Arc<Object>> = ctx.cache.select(Kind::Machine, Some(orig.namespace()), &sel).into_iter().cloned().collect();
        let mut s = Scope {
            md: (*orig).clone(),
            cluster,
            mss: Vec::new(),
            machines,
            bootstrap_not_found: false,
            bootstrap_exists: false,
            infra_not_found: false,
            infra_exists: false,
            adopted: false,
            remove_finalizer: false,
        };
        let result = if orig.deleting() { self.reconcile_delete(ctx, &mut s) } else { self.reconcile_normal(ctx, &mut s) };
        // Deferred: status, then the object itself, whatever happened above.
        let computed = status::compute(&s, ctx.now);
        let observed = result.is_ok().then_some(orig.meta.generation);
        let now = ctx.now;
        let status_result = match ctx.patch_status(key, |o| status::apply(o, &computed, observed, now)) {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(ReconcileError::from(e)),
        };
        let main_result = patch_main(ctx, &orig, &s);
        result?;
        status_result?;
        main_result?;
        Ok(Action::DONE)
    }
}

/// What one reconcile works with.
pub struct Scope {
    /// The MachineDeployment with this reconcile's in-memory changes (label, owner, revision).
    pub md: Object,
    /// Its Cluster.
    pub cluster: Arc<Object>,
    /// The MachineSets it controls.
    pub mss: Vec<Arc<Object>>,
    /// The Machines its selector matches.
    pub machines: Vec<Arc<Object>>,
    /// The bootstrap template does not exist.
    pub bootstrap_not_found: bool,
    /// The bootstrap template exists.
    pub bootstrap_exists: bool,
    /// The infrastructure template does not exist.
    pub infra_not_found: bool,
    /// The infrastructure template exists.
    pub infra_exists: bool,
    /// MachineSets were listed and adopted.
    pub adopted: bool,
    /// Deletion finished.
    pub remove_finalizer: bool,
}

impl MachineDeploymentReconciler {
    fn reconcile_normal(&self, ctx: &mut Ctx<'_>, s: &mut Scope) -> Result<(), ReconcileError> {
        let cluster_name = s.md.str_at("/spec/clusterName").unwrap_or("").to_string();
        s.md.meta.labels.insert(keys::CLUSTER_NAME.into(), cluster_name);
        let cluster = s.cluster.clone();
        common::set_owner(&mut s.md, &cluster, false);
        templates_and_owner(ctx, s)?;
        get_and_adopt(ctx, s)?;
        // MachineSets created before the deployment-name label existed (or whose label a user removed).
        for i in 0..s.mss.len() {
            let ms = s.mss[i].clone();
            if ms.label(keys::DEPLOYMENT_NAME) == Some(s.md.name()) {
                continue;
            }
            let name = s.md.name().to_string();
            let patched = ctx
                .patch(&ms.key(), |o| {
                    o.meta.labels.insert(keys::DEPLOYMENT_NAME.into(), name.clone());
                })
                .map_err(|e| format!("failed to apply {} label to MachineSet {:?}: {}", keys::DEPLOYMENT_NAME, ms.name(), e.message))?;
            s.mss[i] = patched;
        }
        let has_bootstrap = s.md.at("/spec/template/spec/bootstrap/configRef/name").and_then(Value::as_str).is_some_and(|n| !n.is_empty());
        let template_exists = s.infra_exists && (!has_bootstrap || s.bootstrap_exists);
        let mode = if s.md.bool_at("/spec/paused") {
            Mode::Paused
        } else {
            match s.md.str_at("/spec/rollout/strategy/type").unwrap_or("") {
                "RollingUpdate" => Mode::Rolling,
                "OnDelete" => Mode::OnDelete,
                other => return Err(format!("unexpected deployment strategy type: {other}").into()),
            }
        };
        let out = rollout::rollout(ctx, &self.guard, s, mode, template_exists)?;
        if mode != Mode::Paused && rollout::deployment_complete(&s.md, &out) {
            rollout::cleanup(ctx, &self.guard, &s.md, &out)?;
        }
        Ok(())
    }

    fn reconcile_delete(&self, ctx: &mut Ctx<'_>, s: &mut Scope) -> Result<(), ReconcileError> {
        get_and_adopt(ctx, s)?;
        if s.mss.is_empty() {
            self.guard.clear(&s.md.key());
            s.remove_finalizer = true;
            return Ok(());
        }
        for ms in &s.mss {
            if ms.deleting() {
                continue;
            }
            match ctx.delete(&ms.key()) {
                Ok(Deleted::Pending(_)) | Ok(Deleted::Removed(_)) => {
                    ctx.note(format!("MachineSet {}/{} deleting (MachineDeployment deleting)", ms.namespace(), ms.name()))
                }
                Err(e) if e.is_not_found() => {}
                Err(e) => {
                    return Err(format!(
                        "failed to delete MachineSet {}/{} (MachineDeployment deleting): {}",
                        ms.namespace(),
                        ms.name(),
                        e.message
                    )
                    .into())
                }
            }
        }
        Ok(())
    }
}

/// `getTemplatesAndSetOwner`: the referenced templates get a plain owner reference to the Cluster; a
/// missing one is remembered (it blocks creating a MachineSet and shows in `ScalingUp`).
fn templates_and_owner(ctx: &mut Ctx<'_>, s: &mut Scope) -> Result<(), ReconcileError> {
    for (ptr, bootstrap) in [("/spec/template/spec/infrastructureRef", false), ("/spec/template/spec/bootstrap/configRef", true)] {
        let Some(r) = s.md.at(ptr).cloned() else { continue };
        if bootstrap && r.get("name").and_then(Value::as_str).is_none_or(str::is_empty) {
            continue;
        }
        let kind = r.get("kind").and_then(Value::as_str).unwrap_or("");
        let found = if !kind.ends_with("Template") {
            // Not a template: nothing to own; it counts as existing.
            true
        } else {
            match common::ref_key(&r, s.md.namespace()).and_then(|k| ctx.get(&k).cloned()) {
                None => false,
                Some(t) => {
                    if !has_exact_owner_ref(&t, &s.cluster, false) {
                        let cluster = s.cluster.clone();
                        ctx.patch(&t.key(), |o| {
                            common::set_owner(o, &cluster, false);
                        })?;
                    }
                    true
                }
            }
        };
        match (bootstrap, found) {
            (false, true) => s.infra_exists = true,
            (false, false) => s.infra_not_found = true,
            (true, true) => s.bootstrap_exists = true,
            (true, false) => s.bootstrap_not_found = true,
        }
    }
    Ok(())
}

/// `getAndAdoptMachineSetsForDeployment`: MachineSets matching the selector or controlled by this
/// MachineDeployment; orphans are adopted, MachineSets controlled by others skipped.
fn get_and_adopt(ctx: &mut Ctx<'_>, s: &mut Scope) -> Result<(), ReconcileError> {
    let sel = selector_at(&s.md, "/spec/selector")
        .map_err(|e| format!("failed to get MachineSets: failed to compute label selector from MachineDeployment.spec.selector: {e}"))?;
    if sel.is_empty() {
        return Err("failed to get MachineSets: label selector computed from MachineDeployment.spec.selector is empty".into());
    }
    let uid = s.md.meta.uid.clone();
    // The MachineSets the selector matches (through the cluster index when it names the cluster)
    // and those this MachineDeployment controls, in key order, as a namespace list would give them.
    let mut candidates: Vec<Arc<Object>> = ctx.cache.select(Kind::MachineSet, Some(s.md.namespace()), &sel).into_iter().cloned().collect();
    candidates.extend(ctx.cache.owned_by(&uid).filter(|o| o.kind == Kind::MachineSet && o.namespace() == s.md.namespace()).cloned());
    candidates.sort_by_key(|o| o.key());
    candidates.dedup_by_key(|o| o.key());
    let mut out = Vec::new();
    for ms in candidates {
        let controlled = ms.controller_ref().is_some_and(|r| r.uid == uid);
        if !sel.matches(|k| ms.label(k)) && !controlled {
            continue;
        }
        let ms = if ms.controller_ref().is_none() {
            let md = s.md.clone();
            match ctx.patch(&ms.key(), |o| {
                common::set_owner(o, &md, true);
            }) {
                Ok(o) => {
                    // `machinedeployment_controller.go: getAndAdoptMachineSetsForDeployment`.
                    ctx.event_normal(&s.md, "SuccessfulAdopt", format!("Adopted MachineSet {:?}", ms.name()));
                    o
                }
                Err(e) => {
                    ctx.event_warning(&s.md, "FailedAdopt", format!("Failed to adopt MachineSet {:?}: {}", ms.name(), e.message));
                    continue;
                }
            }
        } else {
            ms
        };
        if ms.controller_ref().is_some_and(|r| r.uid == uid) {
            out.push(ms);
        }
    }
    s.mss = out;
    s.adopted = true;
    Ok(())
}

/// Write the in-memory changes (label, owner reference, revision annotation, finalizer).
fn patch_main(ctx: &mut Ctx<'_>, orig: &Object, s: &Scope) -> Result<(), ReconcileError> {
    let want = s.md.clone();
    let cluster = s.cluster.clone();
    let remove_finalizer = s.remove_finalizer;
    let r = ctx.patch(&orig.key(), |o| {
        if let Some(v) = want.label(keys::CLUSTER_NAME) {
            o.meta.labels.insert(keys::CLUSTER_NAME.into(), v.to_string());
        }
        if common::has_owner(&want, &cluster) {
            common::set_owner(o, &cluster, false);
        }
        if let Some(rev) = want.annotation(keys::REVISION) {
            o.meta.annotations.insert(keys::REVISION.into(), rev.to_string());
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

#[cfg(test)]
pub(crate) mod tests;

//! The ClusterResourceSet controller: applies the ConfigMaps and Secrets a CRS lists to every
//! matching workload cluster (once reachable), records what it applied in a ClusterResourceSetBinding
//! named like the Cluster, and re-applies changed resources with the `Reconcile` strategy.
//! This is how CAPI's e2e installs a CNI. The ClusterResourceSetBinding controller deletes a binding
//! once its Cluster is gone or being deleted. `ResourcesApplied` is set as upstream does, per Cluster
//! (the last one set wins; none without a selected Cluster): `Applied`, `NotApplied` ("Failed to
//! apply ClusterResourceSet resources to Cluster"), `WrongSecretType` ("Secret type of resource <name>
//! is not supported"), `InternalError` ("Please check controller logs for errors") for a missing
//! resource (skipped, not an error) or an unconnected workload cluster
//! ("error getting client: connection to the workload cluster is down").
//!
//! Simplifications: resources are applied with create-or-update semantics by the world model; the
//! 100ms requeue on a binding conflict is not modelled (the simulated API has no such race).
//! Source: `core/reconcilers/clusterresourceset/{clusterresourceset_controller.go,clusterresourceset_helpers.go}`,
//! `internal/controllers/clusterresourcesetbinding/clusterresourcesetbinding_controller.go`.

use super::common;
use super::conditions::{self, Cond};
use crate::kinds::Kind;
use crate::object::{ObjKey, Object};
use crate::objectset::ObjectSet;
use crate::runtime::{map_owners, Action, Ctx, ReconcileError, ReconcileResult, Reconciler};
use crate::store::Change;
use crate::world::Notice;
use capi_scenarios::LabelSelector;
use serde_json::{json, Value};
use std::sync::Arc;

/// The CRS finalizer.
pub const FINALIZER: &str = "addons.cluster.x-k8s.io";

/// The controllers of this module.
pub fn controllers() -> Vec<Box<dyn Reconciler>> {
    vec![Box::new(ClusterResourceSetReconciler), Box::new(ClusterResourceSetBindingReconciler)]
}

/// The ClusterResourceSetBinding controller: a binding whose Cluster (`spec.clusterName`) no longer
/// exists or is being deleted is deleted. Simplification: the RuntimeSDK `BeforeClusterDelete` hook
/// that can hold the deletion back is not modelled (RuntimeSDK is off by default).
pub struct ClusterResourceSetBindingReconciler;

impl Reconciler for ClusterResourceSetBindingReconciler {
    fn name(&self) -> &'static str {
        "clusterresourcesetbinding"
    }
    fn kind(&self) -> Kind {
        Kind::ClusterResourceSetBinding
    }
    fn watches(&self) -> &[Kind] {
        &[Kind::Cluster]
    }
    fn map(&self, change: &Change, _cache: &ObjectSet, out: &mut Vec<ObjKey>) {
        // `clusterToClusterResourceSetBinding`: the binding is named like its Cluster.
        let o = &change.object;
        out.push(ObjKey::new(Kind::ClusterResourceSetBinding, o.namespace(), o.name()));
    }
    fn reconcile(&self, ctx: &mut Ctx<'_>, key: &ObjKey) -> ReconcileResult {
        let Some(binding) = ctx.get(key).cloned() else { return Ok(Action::DONE) };
        if binding.deleting() {
            return Ok(Action::DONE);
        }
        let cluster_name = binding.str_at("/spec/clusterName").unwrap_or(binding.name()).to_string();
        let gone = ctx.get_parts(Kind::Cluster, binding.namespace(), &cluster_name).is_none_or(|c| c.deleting());
        if gone {
            ctx.delete(key)?;
        }
        Ok(Action::DONE)
    }
}

/// The ClusterResourceSet controller.
pub struct ClusterResourceSetReconciler;

const WATCHES: &[Kind] = &[Kind::Cluster, Kind::ConfigMap, Kind::Secret, Kind::ClusterResourceSetBinding];

impl Reconciler for ClusterResourceSetReconciler {
    fn name(&self) -> &'static str {
        "clusterresourceset"
    }
    fn kind(&self) -> Kind {
        Kind::ClusterResourceSet
    }
    fn watches(&self) -> &[Kind] {
        WATCHES
    }
    fn map(&self, change: &Change, cache: &ObjectSet, out: &mut Vec<ObjKey>) {
        let o = &change.object;
        match o.kind {
            Kind::Cluster => {
                out.extend(cache.of_kind(Kind::ClusterResourceSet, Some(o.namespace())).filter(|crs| selects(crs, o)).map(|c| c.key()));
            }
            Kind::ClusterResourceSetBinding => {}
            _ => {
                map_owners(change, Kind::ClusterResourceSet, out);
                // A resource a CRS names but does not own yet.
                for crs in cache.of_kind(Kind::ClusterResourceSet, Some(o.namespace())) {
                    if resources(crs).iter().any(|(k, n)| *k == o.kind && n == o.name()) {
                        out.push(crs.key());
                    }
                }
            }
        }
    }
    fn map_notice(&self, notice: &Notice, cache: &ObjectSet, out: &mut Vec<ObjKey>) {
        if let Notice::Connection(c) = notice {
            for cluster in cache.in_cluster(Kind::Cluster, c) {
                out.extend(
                    cache.of_kind(Kind::ClusterResourceSet, Some(cluster.namespace())).filter(|crs| selects(crs, cluster)).map(|x| x.key()),
                );
            }
        }
    }
    fn reconcile(&self, ctx: &mut Ctx<'_>, key: &ObjKey) -> ReconcileResult {
        let Some(crs) = ctx.get(key).cloned() else { return Ok(Action::DONE) };
        // Finalizer first, then `EnsurePausedCondition` (no Cluster: only the paused annotation).
        if let Some(stop) = common::preamble(ctx, &crs, None, Some(FINALIZER))? {
            return Ok(stop);
        }
        let sel = selector(&crs);
        let mut clusters: Vec<Arc<Object>> =
            ctx.cache.of_kind(Kind::Cluster, Some(crs.namespace())).filter(|c| !c.deleting() && selected(&sel, c)).cloned().collect();
        clusters.sort_by(|a, b| a.name().cmp(b.name()));
        if crs.deleting() {
            return delete(ctx, &crs, &clusters);
        }
        let mut errors = Vec::new();
        // The last condition set wins (each Cluster's apply sets its own), as the deferred patch
        // writes what the reconcile left in memory; with no Cluster selected nothing is set.
        let mut cond: Option<Cond> = None;
        // Each resource's objects and hash, computed once per reconcile (the cache does not change
        // during a reconcile), not once per Cluster.
        let mut parsed = Parsed::new();
        for cluster in &clusters {
            if let Err(e) = apply_to(ctx, &crs, cluster, &mut parsed, &mut cond) {
                errors.push(e.0);
            }
        }
        let now = ctx.now;
        let ok = errors.is_empty();
        ctx.patch_status(key, |o| {
            if let Some(c) = cond {
                conditions::set(o, [c], now);
            }
            // `patch.WithStatusObservedGeneration` only after a successful reconcile.
            if ok {
                let g = o.meta.generation;
                o.set("/status/observedGeneration", json!(g));
            }
        })?;
        match errors.len() {
            0 => Ok(Action::DONE),
            1 => Err(ReconcileError(errors.remove(0))),
            _ => Err(ReconcileError(format!("[{}]", errors.join(", ")))),
        }
    }
}

/// A CRS's cluster selector.
fn selector(crs: &Object) -> LabelSelector {
    crs.at("/spec/clusterSelector").and_then(|s| serde_json::from_value(s.clone()).ok()).unwrap_or_default()
}

/// Whether a CRS selects a Cluster.
fn selects(crs: &Object, cluster: &Object) -> bool {
    selected(&selector(crs), cluster)
}

/// Whether a CRS's cluster selector picks a Cluster (an empty selector selects nothing).
fn selected(sel: &LabelSelector, cluster: &Object) -> bool {
    !sel.is_empty() && sel.matches(|k| cluster.label(k))
}

/// Resources' objects and content hashes by resource, or why they could not be read.
type Parsed = std::collections::BTreeMap<ObjKey, Result<(Vec<Value>, String), String>>;

/// The resources a CRS lists, as (kind, name).
fn resources(crs: &Object) -> Vec<(Kind, String)> {
    crs.at("/spec/resources")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|r| {
                    let kind = match r.get("kind").and_then(Value::as_str)? {
                        "Secret" => Kind::Secret,
                        _ => Kind::ConfigMap,
                    };
                    Some((kind, r.get("name")?.as_str()?.to_string()))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The objects a ConfigMap or Secret carries (each data value is a YAML document stream).
fn payload(obj: &Object) -> Result<Vec<Value>, String> {
    let mut out = Vec::new();
    let data = obj.at("/data").and_then(Value::as_object).cloned().unwrap_or_default();
    for (k, v) in data {
        let text = match (obj.kind, v.as_str()) {
            (Kind::Secret, Some(s)) => common::unb64(s),
            (_, Some(s)) => s.to_string(),
            _ => continue,
        };
        for doc in serde_yaml::Deserializer::from_str(&text) {
            let v: Value = serde::Deserialize::deserialize(doc).map_err(|e| format!("{} {}: key {k}: {e}", obj.kind, obj.name()))?;
            if !v.is_null() {
                out.push(v);
            }
        }
    }
    Ok(out)
}

/// A short, stable content hash (for the `Reconcile` strategy).
fn hash(values: &[Value]) -> String {
    let text: String = values.iter().map(|v| v.to_string()).collect();
    format!("sha256:{:016x}", xxhash_rust::xxh3::xxh3_64(text.as_bytes()))
}

/// `addons.cluster.x-k8s.io/resource-set`: the only Secret type a CRS applies.
pub const SECRET_TYPE: &str = "addons.cluster.x-k8s.io/resource-set";

/// `ApplyClusterResourceSet`: own every resource, get (or create) the Cluster's binding, then apply
/// what needs applying (`ApplyOnce`: never applied; `Reconcile`: the hash changed), recording each in
/// the binding. Sets `ResourcesApplied` as upstream does at each step.
fn apply_to(ctx: &mut Ctx<'_>, crs: &Object, cluster: &Object, parsed: &mut Parsed, cond: &mut Option<Cond>) -> Result<(), ReconcileError> {
    const T: &str = "ResourcesApplied";
    let ns = crs.namespace();
    let mut errs: Vec<String> = Vec::new();
    let mut found: Vec<(Kind, String, Arc<Object>)> = Vec::new();
    for (kind, name) in resources(crs) {
        let Some(obj) = ctx.get_parts(kind, ns, &name).cloned() else {
            // A missing resource is skipped, not an error.
            *cond = Some(Cond::f(T, "InternalError", "Please check controller logs for errors"));
            continue;
        };
        if kind == Kind::Secret && obj.str_at("/type") != Some(SECRET_TYPE) {
            *cond = Some(Cond::f(T, "WrongSecretType", format!("Secret type of resource {name} is not supported")));
            errs.push("unsupported secret type".into());
            continue;
        }
        if !common::has_owner(&obj, crs) {
            let c = crs.clone();
            ctx.patch(&obj.key(), |o| {
                common::set_owner(o, &c, false);
            })?;
        }
        found.push((kind, name, obj));
    }
    if !errs.is_empty() {
        return Err(ReconcileError(aggregate(&errs)));
    }
    // getOrCreateClusterResourceSetBinding.
    let binding_key = ObjKey::new(Kind::ClusterResourceSetBinding, ns, cluster.name());
    let binding = match ctx.get(&binding_key).cloned() {
        Some(b) => b,
        None => {
            let mut b = Object::new(Kind::ClusterResourceSetBinding, ns, cluster.name());
            common::set_owner(&mut b, crs, false);
            b.set("/spec/clusterName", json!(cluster.name()));
            match ctx.create(b) {
                Ok(w) => w,
                Err(e) if e.is_already_exists() => match ctx.live(&binding_key) {
                    Some(b) => b,
                    None => return Err(e.into()),
                },
                Err(e) => return Err(e.into()),
            }
        }
    };
    let mut entries: Vec<Value> = binding
        .at("/spec/bindings")
        .and_then(Value::as_array)
        .and_then(|l| l.iter().find(|b| b.get("clusterResourceSetName").and_then(Value::as_str) == Some(crs.name())))
        .and_then(|b| b.get("resources"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    // ClusterCache.GetClient: connected once the infrastructure is provisioned, the kubeconfig exists
    // and the workload API answers.
    let connected = cluster.bool_at("/status/initialization/infrastructureProvisioned")
        && ctx.get_parts(Kind::Secret, ns, &format!("{}-kubeconfig", cluster.name())).is_some()
        && ctx.world.api_reachable(cluster.name()).is_ok();
    let result = if !connected {
        *cond = Some(Cond::f(T, "InternalError", "Please check controller logs for errors"));
        Err(ReconcileError("error getting client: connection to the workload cluster is down".into()))
    } else {
        let strategy = crs.str_at("/spec/strategy").unwrap_or("ApplyOnce").to_string();
        for (kind, name, obj) in &found {
            let entry = parsed.entry(obj.key()).or_insert_with(|| {
                payload(obj).map(|objects| {
                    let h = hash(&objects);
                    (objects, h)
                })
            });
            let (objects, h) = match entry {
                Ok((o, h)) => (o.clone(), h.clone()),
                Err(e) => {
                    errs.push(e.clone());
                    continue;
                }
            };
            let pos = entries.iter().position(|r| {
                r.get("kind").and_then(Value::as_str) == Some(kind.name()) && r.get("name").and_then(Value::as_str) == Some(name.as_str())
            });
            let prior = pos.map(|i| &entries[i]);
            let applied_before = prior.is_some_and(|r| r.get("applied").and_then(Value::as_bool) == Some(true));
            let needs = match strategy.as_str() {
                "Reconcile" => !applied_before || prior.and_then(|r| r.get("hash")).and_then(Value::as_str) != Some(h.as_str()),
                _ => !applied_before,
            };
            if !needs {
                continue;
            }
            let now = ctx.now;
            let ok = match ctx.world.apply_to_workload(cluster.name(), objects, now) {
                Ok(_) => {
                    ctx.note(format!("applied {kind} {name} to cluster {}", cluster.name()));
                    true
                }
                Err(e) => {
                    *cond = Some(Cond::f(T, "NotApplied", "Failed to apply ClusterResourceSet resources to Cluster"));
                    errs.push(format!("failed to apply {kind} {name}: {e}"));
                    false
                }
            };
            let rec =
                json!({"kind": kind.name(), "name": name, "applied": ok, "hash": h, "lastAppliedTime": crate::object::timestamp(now)});
            match pos {
                Some(i) => entries[i] = rec,
                None => entries.push(rec),
            }
        }
        if errs.is_empty() {
            *cond = Some(Cond::t(T, "Applied"));
            Ok(())
        } else {
            Err(ReconcileError(aggregate(&errs)))
        }
    };
    // The deferred patch of the binding: the owner reference and this CRS's entry.
    let c = crs.clone();
    ctx.patch(&binding.key(), |o| {
        common::set_owner(o, &c, false);
        let mut list = o.at("/spec/bindings").and_then(Value::as_array).cloned().unwrap_or_default();
        let entry = json!({"clusterResourceSetName": c.name(), "resources": entries});
        match list.iter().position(|x| x.get("clusterResourceSetName").and_then(Value::as_str) == Some(c.name())) {
            Some(i) => list[i] = entry,
            None => list.push(entry),
        }
        o.set("/spec/bindings", Value::Array(list));
    })?;
    result
}

/// `kerrors.NewAggregate(errs).Error()`.
fn aggregate(errs: &[String]) -> String {
    match errs {
        [one] => one.clone(),
        _ => format!("[{}]", errs.join(", ")),
    }
}

/// `reconcileDelete`: drop this CRS from the binding of every selected Cluster (deleting a binding
/// left empty); a Cluster without a binding ends the loop early, as upstream returns there.
fn delete(ctx: &mut Ctx<'_>, crs: &Arc<Object>, clusters: &[Arc<Object>]) -> ReconcileResult {
    for cluster in clusters {
        let key = ObjKey::new(Kind::ClusterResourceSetBinding, cluster.namespace(), cluster.name());
        let Some(b) = ctx.get(&key).cloned() else {
            break;
        };
        let name = crs.name().to_string();
        let mut list = b.at("/spec/bindings").and_then(Value::as_array).cloned().unwrap_or_default();
        list.retain(|x| x.get("clusterResourceSetName").and_then(Value::as_str) != Some(name.as_str()));
        if list.is_empty() {
            // A failed delete is only logged.
            let _ = ctx.delete(&key);
        } else {
            ctx.patch(&key, |o| {
                o.set("/spec/bindings", Value::Array(list));
                o.meta.owner_references.retain(|r| !(r.kind == "ClusterResourceSet" && r.name == name));
            })?;
        }
    }
    ctx.remove_finalizer(crs, FINALIZER)?;
    Ok(Action::DONE)
}

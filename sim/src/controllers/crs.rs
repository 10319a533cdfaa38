//! The ClusterResourceSet controller: applies the ConfigMaps and Secrets a CRS lists to every
//! matching workload cluster (once reachable), records what it applied in a ClusterResourceSetBinding
//! named like the Cluster, and re-applies changed resources with the `Reconcile` strategy.
//! This is how CAPI's e2e installs a CNI. The ClusterResourceSetBinding controller deletes a binding
//! once its Cluster is gone or being deleted.
//! Source: `core/reconcilers/clusterresourceset/{clusterresourceset_controller.go,clusterresourceset_helpers.go}`,
//! `internal/controllers/clusterresourcesetbinding/clusterresourcesetbinding_controller.go`.

use super::common::{self, keys};
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
        if crs.deleting() {
            return delete(ctx, &crs);
        }
        if !crs.has_finalizer(FINALIZER) {
            ctx.add_finalizer(&crs, FINALIZER)?;
            return Ok(Action::DONE);
        }
        let sel = selector(&crs);
        let clusters: Vec<Arc<Object>> =
            ctx.cache.of_kind(Kind::Cluster, Some(crs.namespace())).filter(|c| !c.deleting() && selected(&sel, c)).cloned().collect();
        let mut errors = Vec::new();
        let mut applied_any = false;
        // Each resource's objects and hash, computed once per reconcile (the cache does not change
        // during a reconcile), not once per Cluster.
        let mut parsed = Parsed::new();
        for cluster in &clusters {
            match apply_to(ctx, &crs, cluster, &mut parsed) {
                Ok(a) => applied_any |= a,
                Err(e) => errors.push(format!("* Cluster {}: {e}", cluster.name())),
            }
        }
        let now = ctx.now;
        let cond = if errors.is_empty() {
            Cond::t("ResourcesApplied", "Applied")
        } else {
            Cond::f("ResourcesApplied", "NotApplied", errors.join("\n"))
        };
        ctx.patch_status(key, |o| {
            conditions::set(o, [cond], now);
            let g = o.meta.generation;
            o.set("/status/observedGeneration", json!(g));
        })?;
        if !errors.is_empty() {
            return Err(ReconcileError(errors.join("; ")));
        }
        let _ = applied_any;
        Ok(Action::DONE)
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

/// Apply a CRS's resources to one cluster; returns whether anything was applied.
fn apply_to(ctx: &mut Ctx<'_>, crs: &Object, cluster: &Object, parsed: &mut Parsed) -> Result<bool, ReconcileError> {
    let ns = crs.namespace();
    // ClusterCache connects only once the infrastructure is provisioned and the kubeconfig exists.
    if !cluster.bool_at("/status/initialization/infrastructureProvisioned")
        || ctx.get_parts(Kind::Secret, ns, &format!("{}-kubeconfig", cluster.name())).is_none()
    {
        return Err("waiting for the workload cluster to be reachable".into());
    }
    let binding_key = ObjKey::new(Kind::ClusterResourceSetBinding, ns, cluster.name());
    let binding = ctx.get(&binding_key).cloned();
    let strategy = crs.str_at("/spec/strategy").unwrap_or("ApplyOnce").to_string();
    let recorded = |kind: Kind, name: &str| -> Option<String> {
        binding
            .as_ref()?
            .at("/spec/bindings")?
            .as_array()?
            .iter()
            .find(|b| b.get("clusterResourceSetName").and_then(Value::as_str) == Some(crs.name()))?
            .get("resources")?
            .as_array()?
            .iter()
            .find(|r| {
                r.get("kind").and_then(Value::as_str) == Some(kind.name())
                    && r.get("name").and_then(Value::as_str) == Some(name)
                    && r.get("applied").and_then(Value::as_bool) == Some(true)
            })?
            .get("hash")
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let mut applied = Vec::new();
    let mut changed = false;
    for (kind, name) in resources(crs) {
        let Some(obj) = ctx.get_parts(kind, ns, &name).cloned() else {
            return Err(ReconcileError(format!("{kind} {ns}/{name} not found")));
        };
        if !common::has_owner(&obj, crs) {
            let c = crs.clone();
            ctx.patch(&obj.key(), |o| {
                common::set_owner(o, &c, false);
            })?;
        }
        let entry = parsed.entry(obj.key()).or_insert_with(|| {
            payload(&obj).map(|objects| {
                let h = hash(&objects);
                (objects, h)
            })
        });
        let (objects, h) = entry.as_ref().map_err(|e| ReconcileError(e.clone()))?;
        let h = h.clone();
        let prior = recorded(kind, &name);
        let needed = match (strategy.as_str(), &prior) {
            (_, None) => true,
            ("Reconcile", Some(p)) => *p != h,
            _ => false,
        };
        if needed {
            let now = ctx.now;
            ctx.world
                .apply_to_workload(cluster.name(), objects.clone(), now)
                .map_err(|e| ReconcileError(format!("failed to apply {kind} {name}: {e}")))?;
            ctx.note(format!("applied {kind} {name} to cluster {}", cluster.name()));
            changed = true;
        }
        applied.push(
            json!({"kind": kind.name(), "name": name, "applied": true, "hash": h, "lastAppliedTime": crate::object::timestamp(ctx.now)}),
        );
    }
    if changed || binding.is_none() {
        let entry = json!({"clusterResourceSetName": crs.name(), "resources": applied});
        match binding {
            None => {
                let mut b = Object::new(Kind::ClusterResourceSetBinding, ns, cluster.name());
                b.meta.labels.insert(keys::CLUSTER_NAME.into(), cluster.name().to_string());
                common::set_owner(&mut b, crs, false);
                b.set("/spec/clusterName", json!(cluster.name()));
                b.set("/spec/bindings", json!([entry]));
                match ctx.create(b) {
                    Ok(_) => {}
                    Err(e) if e.is_already_exists() => {}
                    Err(e) => return Err(e.into()),
                }
            }
            Some(b) => {
                let c = crs.clone();
                ctx.patch(&b.key(), |o| {
                    common::set_owner(o, &c, false);
                    let mut list = o.at("/spec/bindings").and_then(Value::as_array).cloned().unwrap_or_default();
                    list.retain(|x| x.get("clusterResourceSetName").and_then(Value::as_str) != Some(c.name()));
                    list.push(entry);
                    o.set("/spec/bindings", Value::Array(list));
                })?;
            }
        }
    }
    Ok(changed)
}

/// Deletion: drop this CRS from every binding, then the finalizer.
fn delete(ctx: &mut Ctx<'_>, crs: &Arc<Object>) -> ReconcileResult {
    let bindings: Vec<Arc<Object>> =
        ctx.cache.owned_by(&crs.meta.uid).filter(|o| o.kind == Kind::ClusterResourceSetBinding).cloned().collect();
    for b in bindings {
        let name = crs.name().to_string();
        let uid = crs.meta.uid.clone();
        ctx.patch(&b.key(), |o| {
            let mut list = o.at("/spec/bindings").and_then(Value::as_array).cloned().unwrap_or_default();
            list.retain(|x| x.get("clusterResourceSetName").and_then(Value::as_str) != Some(name.as_str()));
            o.set("/spec/bindings", Value::Array(list));
            o.meta.owner_references.retain(|r| r.uid != uid);
        })?;
    }
    ctx.remove_finalizer(crs, FINALIZER)?;
    Ok(Action::DONE)
}

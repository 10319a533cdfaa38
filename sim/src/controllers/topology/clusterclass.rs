//! The ClusterClass controller: makes the ClusterClass a (non-controller) owner of every template it
//! references, reports whether those references use the current API version (`RefVersionsUpToDate`),
//! publishes the variable definitions (`status.variables`, `VariablesReady`), and bumps
//! `status.observedGeneration` only after a reconcile without errors — the topology controller and
//! the Cluster webhook wait for that.
//! Sources: `core/reconcilers/clusterclass/clusterclass_controller.go`,
//! `core/reconcilers/clusterclass/clusterclass_controller_status.go`.
//!
//! Simplification: there are no RuntimeSDK extensions, so variables come only from `spec.variables`.

use super::variables;
use crate::controllers::common::{self, preamble};
use crate::controllers::conditions::{self, Cond};
use crate::kinds::Kind;
use crate::object::Ptr;
use crate::object::{ObjKey, Object, OwnerRef};
use crate::runtime::{Action, Ctx, ReconcileError, ReconcileResult, Reconciler};
use crate::store::error::resource_name;
use serde_json::{json, Value};

/// Kinds a ClusterClass references (read from the cache).
const WATCHES: &[Kind] = &[
    Kind::DockerClusterTemplate,
    Kind::DevClusterTemplate,
    Kind::KubeadmControlPlaneTemplate,
    Kind::DockerMachineTemplate,
    Kind::DevMachineTemplate,
    Kind::KubeadmConfigTemplate,
    Kind::DockerMachinePoolTemplate,
    Kind::DevMachinePoolTemplate,
];

/// The ClusterClass controller.
pub struct ClusterClassReconciler;

/// Every template reference of a ClusterClass, in CAPI's order, without duplicates.
pub fn template_refs(cc: &Object) -> Vec<Value> {
    let mut refs: Vec<Value> = Vec::new();
    let mut push = |r: Option<&Value>| {
        if let Some(r) = r.filter(|r| r.get("name").and_then(Value::as_str).is_some_and(|n| !n.is_empty())) {
            if !refs.contains(r) {
                refs.push(r.clone());
            }
        }
    };
    push(cc.at("/spec/infrastructure/templateRef"));
    push(cc.at("/spec/controlPlane/templateRef"));
    push(cc.at("/spec/controlPlane/machineInfrastructure/templateRef"));
    for list in ["machineDeployments", "machinePools"] {
        for w in cc.at(&format!("/spec/workers/{list}")).and_then(Value::as_array).into_iter().flatten() {
            push(w.ptr("/bootstrap/templateRef"));
            push(w.ptr("/infrastructure/templateRef"));
        }
    }
    refs
}

fn gvk_string(r: &Value) -> String {
    let av = r.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let kind = r.get("kind").and_then(Value::as_str).unwrap_or("");
    format!("{av}, Kind={kind}")
}

fn version_of(api_version: &str) -> &str {
    api_version.rsplit_once('/').map_or(api_version, |(_, v)| v)
}

impl ClusterClassReconciler {
    /// `reconcileExternalReferences`: ownership of the templates and the outdated-reference list.
    fn external_references(&self, ctx: &mut Ctx<'_>, cc: &Object) -> Result<Vec<String>, String> {
        let ns = cc.namespace().to_string();
        let mut errs = Vec::new();
        let mut outdated = Vec::new();
        for r in template_refs(cc) {
            let kind = r.get("kind").and_then(Value::as_str).unwrap_or("");
            let name = r.get("name").and_then(Value::as_str).unwrap_or("");
            let Some(key) = common::ref_key(&r, &ns) else {
                errs.push(format!(
                    "failed to get the external object for the ClusterClass. refGroupVersionKind: {}, refName: {name}, refNamespace: {ns}: no matches for kind {kind:?}",
                    gvk_string(&r)
                ));
                continue;
            };
            let Some(obj) = ctx.get(&key).cloned() else {
                errs.push(format!(
                    "Could not find external object for the ClusterClass. refGroupVersionKind: {}, refName: {name}, refNamespace: {ns}: failed to retrieve {kind} {ns}/{name}: {} \"{name}\" not found",
                    gvk_string(&r),
                    resource_name(key.kind)
                ));
                continue;
            };
            let want = OwnerRef::to(cc, false);
            let has_exact = obj
                .meta
                .owner_references
                .iter()
                .any(|o| o.api_version == want.api_version && o.kind == want.kind && o.name == want.name && o.uid == want.uid);
            if !has_exact {
                let owner = cc.clone();
                if let Err(e) = ctx.patch(&key, |o| {
                    common::set_owner(o, &owner, false);
                }) {
                    errs.push(format!("failed to set ClusterClass owner reference for {kind} {ns}/{name}: {e}"));
                    continue;
                }
            }
            let av = r.get("apiVersion").and_then(Value::as_str).unwrap_or("");
            let latest = key.kind.api_version();
            if version_of(av) != version_of(latest) {
                outdated.push(format!("* {kind} {name}: current: {}, latest: {}", version_of(av), version_of(latest)));
            }
        }
        if errs.is_empty() {
            Ok(outdated)
        } else {
            Err(super::field::aggregate(&errs))
        }
    }
}

impl Reconciler for ClusterClassReconciler {
    fn name(&self) -> &'static str {
        "clusterclass"
    }
    fn kind(&self) -> Kind {
        Kind::ClusterClass
    }
    fn watches(&self) -> &[Kind] {
        WATCHES
    }
    fn reconcile(&self, ctx: &mut Ctx<'_>, key: &ObjKey) -> ReconcileResult {
        let Some(cc) = ctx.get(key).cloned() else { return Ok(Action::DONE) };
        if let Some(stop) = preamble(ctx, &cc, None, None)? {
            return Ok(stop);
        }
        if cc.deleting() {
            return Ok(Action::DONE);
        }
        let refs = self.external_references(ctx, &cc);
        let spec_vars: Vec<Value> = cc.at("/spec/variables").and_then(Value::as_array).cloned().unwrap_or_default();
        let status_vars = variables::status_variables(&spec_vars);
        let ref_cond = match &refs {
            Err(_) => Cond::u("RefVersionsUpToDate", "InternalError", "Please check controller logs for errors"),
            Ok(outdated) if !outdated.is_empty() => {
                let mut msg = vec!["The following templateRefs are not using the latest apiVersion:".to_string()];
                msg.extend(outdated.iter().cloned());
                Cond::f("RefVersionsUpToDate", "RefVersionsNotUpToDate", msg.join("\n"))
            }
            Ok(_) => Cond::t("RefVersionsUpToDate", "RefVersionsUpToDate"),
        };
        let vars_cond = Cond::t("VariablesReady", "VariablesReady");
        let ok = refs.is_ok();
        let now = ctx.now;
        ctx.patch_status(key, |o| {
            o.set("/status/variables", Value::Array(status_vars));
            conditions::set(o, [ref_cond, vars_cond], now);
            if ok {
                let g = o.meta.generation;
                o.set("/status/observedGeneration", json!(g));
            }
        })?;
        match refs {
            Ok(_) => Ok(Action::DONE),
            Err(e) => Err(ReconcileError(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refs_are_deduplicated_in_order() {
        let v: Value =
            serde_yaml::Deserializer::from_str(include_str!("../../../../fixtures/providers/docker/v1.15/clusterclass-quick-start.yaml"))
                .map(|d| <Value as serde::Deserialize>::deserialize(d).unwrap())
                .next()
                .unwrap();
        let cc = Object::from_json(&v).unwrap();
        let names: Vec<String> = template_refs(&cc).iter().map(|r| r["kind"].as_str().unwrap().to_string()).collect();
        // The bootstrap template is shared by the MD and MP classes and listed once.
        assert_eq!(
            names,
            [
                "DevClusterTemplate",
                "KubeadmControlPlaneTemplate",
                "DevMachineTemplate",
                "KubeadmConfigTemplate",
                "DevMachineTemplate",
                "DevMachinePoolTemplate"
            ]
        );
    }
}

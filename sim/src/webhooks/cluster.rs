//! CAPI's Cluster admission webhooks, served by `capi-controller-manager`: defaulting (topology
//! version prefix, variable defaulting) and validation (references, CIDRs, the managed topology:
//! feature gate, class, version rules in `cluster_version.rs`, variables, worker topologies). The
//! ClusterClass webhook and the checks of a Cluster against its class are in `clusterclass.rs`.
//! Source: `core/webhooks/admission/cluster.go`.
//!
//! Simplifications:
//! - CAPI's defaulting webhook can deny a request (variables that fail validation, an empty class
//!   name); here the mutating part cannot fail, so a second webhook named like the mutating one
//!   (`default.cluster.cluster.x-k8s.io`) re-checks what defaulting would have rejected and denies
//!   with the same message.
//! - The webhook does not poll for the ClusterClass for 2s: it answers from what the API server holds
//!   at admission time.
//! - Not modelled: topology metadata/taint/rollout validation, CEL rules, MachinePool node versions in
//!   the "version cannot be changed" check (the webhook has no workload-cluster access here), most of
//!   the patch and naming-template checks beyond parsing and references.

use crate::controllers::conditions::{self, Status};
use crate::controllers::topology::field::{go_quote, invalid_message, FPath, FieldError};
use crate::controllers::topology::{upgrade, variables};
use crate::features::FeatureGates;
use crate::kinds::Kind;
use crate::object::{ObjKey, Object};
use crate::store::api::{AdmissionRequest, Operation, Webhook};
use crate::store::Store;
use serde_json::Value;
use std::sync::Arc;

/// The webhooks of this module.
pub fn webhooks() -> Vec<Box<dyn Webhook>> {
    vec![Box::new(ClusterDefaulting), Box::new(ClusterValidation), Box::new(ClusterClassValidation)]
}

use super::cluster_version::version_update_error;
use super::clusterclass::autoscaler_errors;
pub use super::clusterclass::{classes_compatible, validate_cluster_for_class, ClusterClassValidation};

/// The Cluster's mutating webhook (`default.cluster.cluster.x-k8s.io`).
pub struct ClusterDefaulting;
/// The Cluster's validating webhook (`validation.cluster.cluster.x-k8s.io`).
pub struct ClusterValidation;

pub(crate) const GATE_OFF: &str = "can be set only if the ClusterTopology feature flag is enabled";
pub(crate) const AUTOSCALER_MIN: &str = "cluster.x-k8s.io/cluster-api-autoscaler-node-group-min-size";
pub(crate) const AUTOSCALER_MAX: &str = "cluster.x-k8s.io/cluster-api-autoscaler-node-group-max-size";
const UNSAFE_CLASS: &str = "unsafe.topology.cluster.x-k8s.io/disable-update-class-name-check";
const UNSAFE_VERSION: &str = "unsafe.topology.cluster.x-k8s.io/disable-update-version-check";

/// The topology when `Topology.IsDefined` (not the zero value).
pub(crate) fn topology(c: &Object) -> Option<&Value> {
    c.at("/spec/topology").filter(|t| !t.is_null() && t.as_object().is_none_or(|m| !m.is_empty()))
}

pub(crate) fn class_name(c: &Object) -> &str {
    c.str_at("/spec/topology/classRef/name").unwrap_or("")
}

pub(crate) fn class_key(c: &Object) -> ObjKey {
    crate::controllers::topology::reconcile::class_key(c)
}

/// `clusterClassIsReconciled`: generation observed and `VariablesReady` not False.
pub fn class_reconciled(cc: &Object) -> bool {
    cc.meta.generation == cc.i64_at("/status/observedGeneration").unwrap_or(0)
        && conditions::get(cc, "VariablesReady").is_some_and(|c| c.status != Status::False)
}

pub(crate) fn status_variables(cc: &Object) -> Vec<Value> {
    cc.at("/status/variables").and_then(Value::as_array).cloned().unwrap_or_default()
}

/// `IsDefined` of `ContractVersionedObjectReference` / `ClusterClassTemplateReference`: any of kind,
/// name, apiGroup or apiVersion set.
pub(crate) fn ref_defined(v: Option<&Value>) -> bool {
    ["kind", "name", "apiGroup", "apiVersion"]
        .iter()
        .any(|f| v.and_then(|r| r.get(*f)).and_then(Value::as_str).is_some_and(|n| !n.is_empty()))
}

impl Webhook for ClusterDefaulting {
    fn kind(&self) -> Kind {
        Kind::Cluster
    }
    fn name(&self) -> &'static str {
        "default.cluster.cluster.x-k8s.io"
    }
    fn manager(&self) -> &'static str {
        "capi"
    }
    fn default(&self, _op: Operation, obj: &mut Object, store: &Store, _gates: &FeatureGates) {
        if topology(obj).is_none() {
            return;
        }
        let v = obj.str_at("/spec/topology/version").unwrap_or("").to_string();
        if !v.starts_with('v') {
            obj.set("/spec/topology/version", Value::String(format!("v{v}")));
        }
        if class_name(obj).is_empty() {
            return;
        }
        let Some(cc) = store.get(&class_key(obj)).cloned() else { return };
        if !class_reconciled(&cc) {
            return;
        }
        let mut topo = obj.at("/spec/topology").cloned().unwrap_or(Value::Null);
        if variables::default_and_validate(&mut topo, &status_variables(&cc)).is_empty() {
            obj.set("/spec/topology", topo);
        }
    }
    fn validate(&self, req: &AdmissionRequest<'_>) -> Result<Vec<String>, String> {
        // What CAPI's defaulting webhook would have rejected.
        let c = req.object;
        if req.op == Operation::Delete || topology(c).is_none() {
            return Ok(Vec::new());
        }
        if class_name(c).is_empty() {
            let e = FieldError::required(FPath::new(&["spec", "topology", "classRef", "name"]), "cannot be empty");
            return Err(invalid_message(Kind::Cluster, c.name(), &[e]));
        }
        let Some(cc) = req.store.get(&class_key(c)) else { return Ok(Vec::new()) };
        if !class_reconciled(cc) {
            return Ok(Vec::new());
        }
        let mut topo = c.at("/spec/topology").cloned().unwrap_or(Value::Null);
        let errs = variables::default_and_validate(&mut topo, &status_variables(cc));
        if errs.is_empty() {
            Ok(Vec::new())
        } else {
            Err(invalid_message(Kind::Cluster, c.name(), &errs))
        }
    }
}

/// `validation.IsValidLabelValue`.
pub fn label_value_errors(v: &str) -> Vec<String> {
    super::meta::label_value_errors(v)
}

/// Go's `net.ParseCIDR` acceptance.
fn valid_cidr(s: &str) -> bool {
    let Some((ip, bits)) = s.split_once('/') else { return false };
    let Ok(bits) = bits.parse::<u8>() else { return false };
    if let Ok(v4) = ip.parse::<std::net::Ipv4Addr>() {
        let _ = v4;
        return bits <= 32;
    }
    ip.parse::<std::net::Ipv6Addr>().is_ok() && bits <= 128
}

/// `semver.Parse` (strict: major.minor.patch).
pub(crate) fn strict_semver(v: &str) -> Option<semver::Version> {
    semver::Version::parse(v).ok()
}

/// blang/semver's `String()`, which CAPI prints with `%q`.
pub(crate) fn semver_text(v: &semver::Version) -> String {
    v.to_string()
}

/// `version.Compare(a, b, WithoutPreReleases())`.
pub(crate) fn compare_without_pre(a: &semver::Version, b: &semver::Version) -> std::cmp::Ordering {
    (a.major, a.minor, a.patch).cmp(&(b.major, b.minor, b.patch))
}

pub(crate) fn machine_selector_match(m: &Object, selector: &Value) -> bool {
    selector.as_object().is_none_or(|sel| sel.iter().all(|(k, v)| m.label(k) == v.as_str()))
}

impl ClusterValidation {
    fn validate_topology(
        &self,
        req: &AdmissionRequest<'_>,
        old: Option<&Object>,
        new: &Object,
        warnings: &mut Vec<String>,
    ) -> Vec<FieldError> {
        let path = FPath::new(&["spec", "topology"]);
        if !req.gates.cluster_topology {
            return vec![FieldError::forbidden(path, GATE_OFF)];
        }
        let mut errs = Vec::new();
        if class_name(new).is_empty() {
            errs.push(FieldError::required(path.child("class"), "classRef.name cannot be empty"));
            return errs;
        }
        let version = new.str_at("/spec/topology/version").unwrap_or("").to_string();
        if !version.starts_with('v') {
            errs.push(FieldError::invalid(path.child("version"), &version, "must start with v"));
        }
        if strict_semver(version.strip_prefix('v').unwrap_or(&version)).is_none() {
            errs.push(FieldError::invalid(path.child("version"), &version, "version must be a valid semantic version"));
        }
        if let Some(c) = new.annotation(upgrade::UPGRADE_CONCURRENCY) {
            let p = FPath::new(&["metadata", "annotations", upgrade::UPGRADE_CONCURRENCY]);
            match c.parse::<i64>() {
                Err(_) => errs.push(FieldError::invalid(
                    p,
                    c,
                    format!("could not parse the value of the annotation: strconv.Atoi: parsing {}: invalid syntax", go_quote(c)),
                )),
                Ok(n) if n < 1 => errs.push(FieldError::invalid(p, c, "value cannot be less than 1")),
                Ok(_) => {}
            }
        }
        // The ClusterClass: missing or unreconciled ones are warnings, not errors.
        let ck = class_key(new);
        let class_ref = format!("{}/{}", ck.ns, ck.name);
        let cc: Option<Arc<Object>> = match req.store.get(&ck) {
            None => {
                warnings.push(format!(
                    "Cluster refers to ClusterClass {class_ref}, but this ClusterClass does not exist. Cluster topology has not been fully validated. The ClusterClass must be created to reconcile the Cluster"
                ));
                None
            }
            Some(cc) => {
                if !class_reconciled(cc) {
                    warnings.push(format!(
                        "Cluster refers to ClusterClass {class_ref}, but this ClusterClass hasn't been successfully reconciled. Cluster topology has not been fully validated. Please take a look at the ClusterClass status"
                    ));
                }
                Some(cc.clone())
            }
        };
        if let Some(cc) = &cc {
            errs.extend(validate_cluster_for_class(new, cc));
        }
        errs.extend(autoscaler_errors(new, cc.as_deref()));

        let Some(old) = old else { return errs };
        let Some(cc) = cc else {
            errs.push(FieldError::internal(path.child("class"), format!("ClusterClass {class_ref} not found")));
            return errs;
        };
        if topology(old).is_none() || class_name(old).is_empty() {
            if new.annotation(UNSAFE_CLASS).is_some() {
                return errs;
            }
            errs.push(FieldError::forbidden(path.child("class"), "classRef cannot be set on an existing Cluster"));
            return errs;
        }
        let old_version = old.str_at("/spec/topology/version").unwrap_or("");
        let in_v = upgrade::parse(&version);
        if in_v.is_none() {
            errs.push(FieldError::invalid(path.child("version"), &version, "version must be a valid semantic version"));
        }
        let old_v = upgrade::parse(old_version);
        if old_v.is_none() {
            errs.push(FieldError::invalid(path.child("version"), old_version, "old version must be a valid semantic version"));
        }
        if new.annotation(UNSAFE_VERSION).is_some() {
            warnings.push(format!("Skipping version validation for Cluster because annotation {} is set.", go_quote(UNSAFE_VERSION)));
        } else {
            let ceiling = cc.at("/spec/kubernetesVersions").and_then(Value::as_array).is_none_or(|v| v.is_empty())
                && cc.str_at("/spec/upgrade/external/generateUpgradePlanExtension").is_none_or(str::is_empty);
            let zero = semver::Version::new(0, 0, 0);
            if let Some(e) = version_update_error(
                req.store,
                &path.child("version"),
                &version,
                in_v.unwrap_or(zero.clone()),
                old_v.unwrap_or(zero),
                old,
                ceiling,
            ) {
                errs.push(e);
            }
        }
        let old_ck = class_key(old);
        if old_ck != ck {
            match req.store.get(&old_ck) {
                None => errs.push(FieldError::forbidden(
                    path.child("class"),
                    format!(
                        "valid ClusterClass with name {} could not be retrieved, change from class {} to class {} cannot be validated. Error: clusterclasses.cluster.x-k8s.io {} not found",
                        go_quote(&format!("{}/{}", old_ck.ns, old_ck.name)),
                        go_quote(&format!("{}/{}", old_ck.ns, old_ck.name)),
                        go_quote(&class_ref),
                        go_quote(&old_ck.name)
                    ),
                )),
                Some(old_cc) => errs.extend(classes_compatible(old_cc, &cc)),
            }
        }
        errs
    }
}

impl Webhook for ClusterValidation {
    fn kind(&self) -> Kind {
        Kind::Cluster
    }
    fn name(&self) -> &'static str {
        "validation.cluster.cluster.x-k8s.io"
    }
    fn manager(&self) -> &'static str {
        "capi"
    }
    fn validate(&self, req: &AdmissionRequest<'_>) -> Result<Vec<String>, String> {
        if req.op == Operation::Delete {
            return Ok(Vec::new());
        }
        let new = req.object;
        let old = if req.op == Operation::Update { req.old } else { None };
        let mut errs = Vec::new();
        let mut warnings = Vec::new();
        for e in label_value_errors(new.name()) {
            errs.push(FieldError::invalid(FPath::new(&["metadata", "name"]), new.name(), format!("must be a valid label value {e}")));
        }
        let spec = FPath::new(&["spec"]);
        let infra_set = ref_defined(new.at("/spec/infrastructureRef"));
        let cp_set = ref_defined(new.at("/spec/controlPlaneRef"));
        if !infra_set && old.is_some_and(|o| ref_defined(o.at("/spec/infrastructureRef"))) {
            errs.push(FieldError::forbidden(spec.child("infrastructureRef"), "cannot be removed"));
        }
        if !cp_set && !infra_set && topology(new).is_none() {
            errs.push(FieldError::forbidden(
                spec.clone(),
                "one of spec.controlPlaneRef, spec.infrastructureRef or spec.topology must be set",
            ));
        }
        if !cp_set && old.is_some_and(|o| ref_defined(o.at("/spec/controlPlaneRef"))) {
            errs.push(FieldError::forbidden(spec.child("controlPlaneRef"), "cannot be removed"));
        }
        for which in ["pods", "services"] {
            for (i, cidr) in
                new.at(&format!("/spec/clusterNetwork/{which}/cidrBlocks")).and_then(Value::as_array).into_iter().flatten().enumerate()
            {
                let s = cidr.as_str().unwrap_or("");
                if !valid_cidr(s) {
                    errs.push(FieldError::invalid(
                        FPath::new(&["spec", "clusterNetwork", which, "cidrBlocks"]).index(i),
                        s,
                        format!("invalid CIDR address: {s}"),
                    ));
                }
            }
        }
        if topology(new).is_some() {
            errs.extend(self.validate_topology(req, old, new, &mut warnings));
        }
        if old.is_some_and(|o| topology(o).is_some()) && topology(new).is_none() {
            errs.push(FieldError::forbidden(FPath::new(&["spec", "topology"]), "cannot be removed from an existing Cluster"));
        }
        if errs.is_empty() {
            Ok(warnings)
        } else {
            Err(invalid_message(Kind::Cluster, new.name(), &errs))
        }
    }
}

#[cfg(test)]
#[path = "cluster_tests.rs"]
mod tests;

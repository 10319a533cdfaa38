//! CAPI's Cluster and ClusterClass admission webhooks, served by `capi-controller-manager`:
//! Cluster defaulting (topology version prefix, variable defaulting) and validation (references,
//! CIDRs, the managed topology: feature gate, class, version rules, variables, worker topologies),
//! ClusterClass validation (templates, classes, health checks, naming, variables, patches, versions,
//! compatibility with the Clusters using it) and the ClusterClass delete guard.
//! Sources: `core/webhooks/admission/cluster.go`, `core/webhooks/admission/clusterclass.go`,
//! `core/webhooks/admission/patch_validation.go`, `internal/topology/check/compatibility.go`.
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
use crate::controllers::topology::{gotmpl, upgrade, variables};
use crate::features::FeatureGates;
use crate::kinds::Kind;
use crate::object::Ptr;
use crate::object::{ObjKey, Object};
use crate::store::api::{AdmissionRequest, Operation, Webhook};
use crate::store::Store;
use serde_json::Value;
use std::collections::BTreeSet;
use std::sync::Arc;

/// The webhooks of this module.
pub fn webhooks() -> Vec<Box<dyn Webhook>> {
    vec![Box::new(ClusterDefaulting), Box::new(ClusterValidation), Box::new(ClusterClassValidation)]
}

/// The Cluster's mutating webhook (`default.cluster.cluster.x-k8s.io`).
pub struct ClusterDefaulting;
/// The Cluster's validating webhook (`validation.cluster.cluster.x-k8s.io`).
pub struct ClusterValidation;
/// The ClusterClass's validating webhook (`validation.clusterclass.cluster.x-k8s.io`).
pub struct ClusterClassValidation;

const GATE_OFF: &str = "can be set only if the ClusterTopology feature flag is enabled";
const AUTOSCALER_MIN: &str = "cluster.x-k8s.io/cluster-api-autoscaler-node-group-min-size";
const AUTOSCALER_MAX: &str = "cluster.x-k8s.io/cluster-api-autoscaler-node-group-max-size";
const UNSAFE_CLASS: &str = "unsafe.topology.cluster.x-k8s.io/disable-update-class-name-check";
const UNSAFE_VERSION: &str = "unsafe.topology.cluster.x-k8s.io/disable-update-version-check";

fn topology(c: &Object) -> Option<&Value> {
    c.at("/spec/topology").filter(|t| !t.is_null())
}

fn class_name(c: &Object) -> &str {
    c.str_at("/spec/topology/classRef/name").unwrap_or("")
}

fn class_key(c: &Object) -> ObjKey {
    crate::controllers::topology::reconcile::class_key(c)
}

/// `clusterClassIsReconciled`: generation observed and `VariablesReady` not False.
pub fn class_reconciled(cc: &Object) -> bool {
    cc.meta.generation == cc.i64_at("/status/observedGeneration").unwrap_or(0)
        && conditions::get(cc, "VariablesReady").is_some_and(|c| c.status != Status::False)
}

fn status_variables(cc: &Object) -> Vec<Value> {
    cc.at("/status/variables").and_then(Value::as_array).cloned().unwrap_or_default()
}

fn ref_defined(v: Option<&Value>) -> bool {
    v.and_then(|r| r.get("name")).and_then(Value::as_str).is_some_and(|n| !n.is_empty())
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
    let mut errs = Vec::new();
    if v.len() > 63 {
        errs.push("must be no more than 63 characters".to_string());
    }
    let ok_chars = v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.');
    let ends = v.is_empty() || (v.starts_with(|c: char| c.is_ascii_alphanumeric()) && v.ends_with(|c: char| c.is_ascii_alphanumeric()));
    if !ok_chars || !ends {
        errs.push("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')".to_string());
    }
    errs
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
fn strict_semver(v: &str) -> Option<semver::Version> {
    semver::Version::parse(v).ok()
}

/// blang/semver's `String()`, which CAPI prints with `%q`.
fn semver_text(v: &semver::Version) -> String {
    v.to_string()
}

/// `version.Compare(a, b, WithoutPreReleases())`.
fn compare_without_pre(a: &semver::Version, b: &semver::Version) -> std::cmp::Ordering {
    (a.major, a.minor, a.patch).cmp(&(b.major, b.minor, b.patch))
}

fn machine_selector_match(m: &Object, selector: &Value) -> bool {
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

/// `validateTopologyVersionUpdate`.
fn version_update_error(
    store: &Store,
    path: &FPath,
    value: &str,
    new_v: semver::Version,
    old_v: semver::Version,
    old: &Object,
    ceiling: bool,
) -> Option<FieldError> {
    if semver_text(&new_v) == semver_text(&old_v) {
        return None;
    }
    let zero = semver::Version::new(0, 0, 0);
    if new_v != zero && old_v != zero && compare_without_pre(&new_v, &old_v) == std::cmp::Ordering::Less {
        return Some(FieldError::invalid(
            path.clone(),
            value,
            format!("version cannot be decreased from {} to {}", go_quote(&semver_text(&old_v)), go_quote(&semver_text(&new_v))),
        ));
    }
    if ceiling {
        let ceil = semver::Version::new(old_v.major, old_v.minor.saturating_add(2), 0);
        if compare_without_pre(&new_v, &ceil) != std::cmp::Ordering::Less {
            return Some(FieldError::invalid(
                path.clone(),
                value,
                format!("version cannot be increased from {} to {}", go_quote(&semver_text(&old_v)), go_quote(&semver_text(&new_v))),
            ));
        }
    }
    let mut problems: Vec<String> = Vec::new();
    if let Some(e) = control_plane_version_problem(store, old, &old_v) {
        problems.push(e);
    }
    if let Some(e) = workers_version_problem(store, old, &old_v, Kind::MachineDeployment) {
        problems.push(e);
    }
    if let Some(e) = workers_version_problem(store, old, &old_v, Kind::MachinePool) {
        problems.push(e);
    }
    if problems.is_empty() {
        return None;
    }
    Some(FieldError::invalid(
        path.clone(),
        value,
        format!("version cannot be changed: {}", crate::controllers::topology::field::aggregate(&problems)),
    ))
}

/// `validateTopologyControlPlaneVersion`.
fn control_plane_version_problem(store: &Store, old: &Object, old_v: &semver::Version) -> Option<String> {
    let r = old.at("/spec/controlPlaneRef").filter(|r| ref_defined(Some(r)));
    let Some(key) = r.and_then(|r| crate::controllers::common::ref_key(r, old.namespace())) else {
        return Some("failed to check if control plane is upgrading: failed to get control plane object: cannot get object - object reference not set".into());
    };
    let Some(cp) = store.get(&key) else {
        return Some(format!(
            "failed to check if control plane is upgrading: failed to get control plane object: failed to retrieve {} {}/{}: {} \"{}\" not found",
            key.kind,
            key.ns,
            key.name,
            crate::store::error::resource_name(key.kind),
            key.name
        ));
    };
    let spec = cp.str_at("/spec/version").unwrap_or("");
    let Some(cp_v) = upgrade::parse(spec) else {
        return Some(format!("failed to check if control plane is upgrading: failed to parse control plane version {spec}"));
    };
    if semver_text(&cp_v) != semver_text(old_v) {
        return Some(format!(
            "Cluster.spec.topology.version {} was not propagated to control plane yet (control plane version {})",
            semver_text(old_v),
            semver_text(&cp_v)
        ));
    }
    if upgrade::cp_provisioning(cp) {
        return Some("control plane is currently provisioning".into());
    }
    match upgrade::cp_upgrading(cp) {
        Ok(true) => Some("control plane is still completing a previous upgrade".into()),
        Ok(false) => None,
        Err(e) => Some(e),
    }
}

/// `validateTopologyMachineDeploymentVersions` / `validateTopologyMachinePoolVersions`.
fn workers_version_problem(store: &Store, old: &Object, old_v: &semver::Version, kind: Kind) -> Option<String> {
    let ns = old.namespace();
    let mut names = Vec::new();
    for w in store.objects().in_cluster_ns(kind, ns, old.name()).filter(|w| upgrade::topology_owned(w)) {
        let v = w.str_at("/spec/template/spec/version").unwrap_or("");
        let Some(sv) = upgrade::parse(v) else {
            return Some(format!("failed to check if {kind} {} is upgrading: failed to parse version {v}", w.name()));
        };
        if semver_text(&sv) != semver_text(old_v) {
            names.push(w.name().to_string());
            continue;
        }
        if kind == Kind::MachineDeployment {
            let selector = w.at("/spec/selector/matchLabels").cloned().unwrap_or(Value::Null);
            let machines =
                store.objects().in_cluster_ns(Kind::Machine, ns, old.name()).filter(|m| machine_selector_match(m, &selector)).map(|m| &**m);
            match upgrade::machines_upgrading(v, machines) {
                Ok(true) => names.push(w.name().to_string()),
                Ok(false) => {}
                Err(e) => return Some(format!("failed to check if MachineDeployment {} is upgrading: {e}", w.name())),
            }
        }
    }
    if names.is_empty() {
        None
    } else {
        let what = if kind == Kind::MachineDeployment { "MachineDeployments" } else { "MachinePools" };
        Some(format!("there are still {what} completing a previous upgrade: [{}]", names.join(", ")))
    }
}

/// `ValidateClusterForClusterClass`.
pub fn validate_cluster_for_class(c: &Object, cc: &Object) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let version = c.str_at("/spec/topology/version").unwrap_or("");
    if let Some(versions) = cc.at("/spec/kubernetesVersions").and_then(Value::as_array).filter(|v| !v.is_empty()) {
        if !versions.iter().any(|v| v.as_str() == Some(version)) {
            errs.push(FieldError::invalid(
                FPath::new(&["spec", "topology", "version"]),
                version,
                "version must match one of the versions defined in the ClusterClass",
            ));
        }
    }
    for (list, class_list, what) in
        [("machineDeployments", "machineDeployments", "MachineDeployment"), ("machinePools", "machinePools", "MachinePool")]
    {
        let classes: BTreeSet<&str> = cc
            .at(&format!("/spec/workers/{class_list}"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|w| w.get("class").and_then(Value::as_str))
            .collect();
        let mut names = BTreeSet::new();
        for (i, w) in c.at(&format!("/spec/topology/workers/{list}")).and_then(Value::as_array).into_iter().flatten().enumerate() {
            let p = FPath::new(&["spec", "topology", "workers", list]).index(i);
            let class = w.get("class").and_then(Value::as_str).unwrap_or("");
            if !classes.contains(class) {
                errs.push(FieldError::invalid(
                    p.child("class"),
                    class,
                    format!("{what}Class with name {} does not exist in ClusterClass {}", go_quote(class), go_quote(cc.name())),
                ));
            }
            let name = w.get("name").and_then(Value::as_str).unwrap_or("");
            if name.is_empty() {
                errs.push(FieldError::required(p.child("name"), "name must not be empty"));
                continue;
            }
            if !names.insert(name.to_string()) {
                errs.push(FieldError::invalid(
                    p.child("name"),
                    name,
                    format!("name must be unique. {what} with name {} is defined more than once", go_quote(name)),
                ));
            }
        }
    }
    errs.extend(topology_health_check_errors(c, cc));
    errs
}

fn health_check_defined(hc: Option<&Value>) -> bool {
    let non_empty = |k: &str| hc.and_then(|h| h.get(k)).is_some_and(|v| v.as_object().is_some_and(|m| !m.is_empty()));
    non_empty("checks") || non_empty("remediation")
}

fn node_startup_timeout_errors(path: &FPath, hc: Option<&Value>) -> Vec<FieldError> {
    match hc.and_then(|h| h.ptr("/checks/nodeStartupTimeoutSeconds")).and_then(Value::as_i64) {
        Some(t) if t != 0 && t < 30 => {
            vec![FieldError::invalid_raw(path.child("checks").child("nodeStartupTimeoutSeconds"), t, "must be at least 30s")]
        }
        _ => Vec::new(),
    }
}

/// `validateMachineHealthChecks` of a Cluster topology against its class.
fn topology_health_check_errors(c: &Object, cc: &Object) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let p = FPath::new(&["spec", "topology", "controlPlane", "healthCheck"]);
    let topo_hc = c.at("/spec/topology/controlPlane/healthCheck");
    if health_check_defined(topo_hc) {
        if !ref_defined(cc.at("/spec/controlPlane/machineInfrastructure/templateRef")) {
            errs.push(FieldError::forbidden(
                p.clone(),
                "can be only set if spec.controlPlane.machineInfrastructure is set in ClusterClass",
            ));
        }
        errs.extend(node_startup_timeout_errors(&p, topo_hc));
    }
    if topo_hc.and_then(|h| h.get("enabled")).and_then(Value::as_bool) == Some(true)
        && !health_check_defined(topo_hc)
        && !health_check_defined(cc.at("/spec/controlPlane/healthCheck"))
    {
        errs.push(FieldError::forbidden(
            p.child("enable"),
            "cannot be set to true as healthCheck definition is not available in the Cluster topology or the ClusterClass",
        ));
    }
    for md in c.at("/spec/topology/workers/machineDeployments").and_then(Value::as_array).into_iter().flatten() {
        let name = md.get("name").and_then(Value::as_str).unwrap_or("");
        let p = FPath::new(&["spec", "topology", "workers", "machineDeployments"]).key(name).child("healthCheck");
        let hc = md.get("healthCheck");
        if health_check_defined(hc) {
            errs.extend(node_startup_timeout_errors(&p, hc));
        }
        let class = md.get("class").and_then(Value::as_str).unwrap_or("");
        let class_def = cc
            .at("/spec/workers/machineDeployments")
            .and_then(Value::as_array)
            .and_then(|l| l.iter().find(|w| w.get("class").and_then(Value::as_str) == Some(class)));
        if let Some(cd) = class_def {
            if hc.and_then(|h| h.get("enabled")).and_then(Value::as_bool) == Some(true)
                && !health_check_defined(hc)
                && !health_check_defined(cd.get("healthCheck"))
            {
                errs.push(FieldError::forbidden(
                    p.child("enable"),
                    "cannot be set to true as healthCheck definition is not available in the Cluster topology or the ClusterClass",
                ));
            }
        }
    }
    errs
}

/// `validateAutoscalerAnnotationsForCluster`.
fn autoscaler_errors(c: &Object, cc: Option<&Object>) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let has_autoscaler =
        |m: Option<&Value>| m.and_then(Value::as_object).is_some_and(|a| a.contains_key(AUTOSCALER_MIN) || a.contains_key(AUTOSCALER_MAX));
    for md in c.at("/spec/topology/workers/machineDeployments").and_then(Value::as_array).into_iter().flatten() {
        let Some(replicas) = md.get("replicas").filter(|r| !r.is_null()) else { continue };
        let name = md.get("name").and_then(Value::as_str).unwrap_or("");
        let p = FPath::new(&["spec", "topology", "workers", "machineDeployments"]).key(name).child("replicas");
        if has_autoscaler(md.ptr("/metadata/annotations")) {
            errs.push(FieldError::invalid_raw(
                p.clone(),
                replicas,
                format!(
                    "cannot be set for cluster {} in namespace {} if the same MachineDeploymentTopology has autoscaler annotations",
                    go_quote(c.name()),
                    go_quote(c.namespace())
                ),
            ));
        }
        let class = md.get("class").and_then(Value::as_str).unwrap_or("");
        let class_def = cc
            .and_then(|cc| cc.at("/spec/workers/machineDeployments"))
            .and_then(Value::as_array)
            .and_then(|l| l.iter().find(|w| w.get("class").and_then(Value::as_str) == Some(class)));
        if class_def.is_some_and(|d| has_autoscaler(d.ptr("/metadata/annotations"))) {
            errs.push(FieldError::invalid_raw(
                p,
                replicas,
                format!(
                    "cannot be set for cluster {} in namespace {} if the source class {} of this MachineDeploymentTopology has autoscaler annotations",
                    go_quote(c.name()),
                    go_quote(c.namespace()),
                    go_quote(class)
                ),
            ));
        }
    }
    errs
}

fn group_of_ref(r: Option<&Value>) -> String {
    Kind::group_of(r.and_then(|r| r.get("apiVersion")).and_then(Value::as_str).unwrap_or("")).to_string()
}

fn kind_of_ref(r: Option<&Value>) -> String {
    r.and_then(|r| r.get("kind")).and_then(Value::as_str).unwrap_or("").to_string()
}

/// `ClusterClassTemplateAreCompatible`.
fn template_refs_compatible(cur: Option<&Value>, new: Option<&Value>, path: &FPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let (cg, ng) = (group_of_ref(cur), group_of_ref(new));
    if cg != ng {
        errs.push(FieldError::forbidden(
            path.child("apiVersion"),
            format!(
                "group of apiVersion cannot be changed from {} to {} to prevent incompatible changes in the Clusters",
                go_quote(&cg),
                go_quote(&ng)
            ),
        ));
    }
    let (ck, nk) = (kind_of_ref(cur), kind_of_ref(new));
    if ck != nk {
        errs.push(FieldError::forbidden(
            path.child("kind"),
            format!("kind cannot be changed from {} to {} to prevent incompatible changes in the Clusters", go_quote(&ck), go_quote(&nk)),
        ));
    }
    errs
}

/// `ClusterClassesAreCompatible`.
pub fn classes_compatible(cur: &Object, new: &Object) -> Vec<FieldError> {
    let mut errs = Vec::new();
    errs.extend(template_refs_compatible(
        cur.at("/spec/infrastructure/templateRef"),
        new.at("/spec/infrastructure/templateRef"),
        &FPath::new(&["spec", "infrastructure", "templateRef"]),
    ));
    errs.extend(template_refs_compatible(
        cur.at("/spec/controlPlane/templateRef"),
        new.at("/spec/controlPlane/templateRef"),
        &FPath::new(&["spec", "controlPlane", "templateRef"]),
    ));
    let (cm, nm) =
        (cur.at("/spec/controlPlane/machineInfrastructure/templateRef"), new.at("/spec/controlPlane/machineInfrastructure/templateRef"));
    if ref_defined(cm) || ref_defined(nm) {
        errs.extend(template_refs_compatible(cm, nm, &FPath::new(&["spec", "controlPlane", "machineInfrastructure", "templateRef"])));
    }
    for list in ["machineDeployments", "machinePools"] {
        let old_list: Vec<Value> = cur.at(&format!("/spec/workers/{list}")).and_then(Value::as_array).cloned().unwrap_or_default();
        for (i, w) in new.at(&format!("/spec/workers/{list}")).and_then(Value::as_array).into_iter().flatten().enumerate() {
            if let Some(o) = old_list.iter().find(|o| o.get("class") == w.get("class")) {
                errs.extend(template_refs_compatible(
                    o.ptr("/infrastructure/templateRef"),
                    w.ptr("/infrastructure/templateRef"),
                    &FPath::new(&["spec", "workers", list]).index(i).child("infrastructure").child("templateRef"),
                ));
            }
        }
    }
    errs
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

/// `ClusterClassTemplateIsValid`.
fn template_ref_errors(r: Option<&Value>, prefix: &FPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let name = r.and_then(|r| r.get("name")).and_then(Value::as_str).unwrap_or("");
    if name.is_empty() {
        errs.push(FieldError::required(prefix.child("ref").child("name"), "template name must be defined"));
    }
    let kind = kind_of_ref(r);
    if kind.len() <= "Template".len() || !kind.ends_with("Template") {
        errs.push(FieldError::invalid(prefix.child("ref").child("kind"), &kind, "template kind must be of form \"<name>Template\""));
    }
    let av = r.and_then(|r| r.get("apiVersion")).and_then(Value::as_str).unwrap_or("");
    if av.matches('/').count() > 1 {
        errs.push(FieldError::invalid(
            prefix.child("ref").child("apiVersion"),
            av,
            format!("template apiVersion must be a valid Kubernetes apiVersion: unexpected GroupVersion string: {av}"),
        ));
    } else if av.is_empty() {
        errs.push(FieldError::required(prefix.child("ref").child("apiVersion"), "template apiVersion must be defined"));
    }
    errs
}

/// Clusters using a ClusterClass (CAPI's `ClusterClassRef` index).
fn clusters_using(store: &Store, cc: &Object) -> Vec<Arc<Object>> {
    store.objects().of_kind(Kind::Cluster, None).filter(|c| topology(c).is_some() && class_key(c) == cc.key()).cloned().collect()
}

/// `validatePatches` (subset): names, definitions, `enabledIf`, selectors, operations, values.
fn patch_errors(cc: &Object, gates: &FeatureGates) -> Vec<FieldError> {
    let _ = gates;
    let mut errs = Vec::new();
    let defined_vars: BTreeSet<&str> = cc
        .at("/spec/variables")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| v.get("name").and_then(Value::as_str))
        .collect();
    let mut names = BTreeSet::new();
    for p in cc.at("/spec/patches").and_then(Value::as_array).into_iter().flatten() {
        let name = p.get("name").and_then(Value::as_str).unwrap_or("");
        let path = FPath::new(&["spec", "patches"]).key(name);
        if name.is_empty() {
            errs.push(FieldError::required(path.child("name"), "patch name must be defined"));
        }
        if name == variables::FROM_INLINE {
            errs.push(FieldError::required(
                path.child("name"),
                format!("{} can not be used as the name of a patch", go_quote(variables::FROM_INLINE)),
            ));
        }
        if !names.insert(name) {
            errs.push(FieldError::invalid(
                path.child("name"),
                name,
                format!("patch names must be unique. Patch with name {} is defined more than once", go_quote(name)),
            ));
        }
        let defs = p.get("definitions").and_then(Value::as_array).filter(|d| !d.is_empty());
        match (defs.is_some(), p.get("external").is_some()) {
            (false, false) => errs.push(FieldError::required(path.clone(), "one of definitions or external must be defined")),
            (true, true) => errs.push(FieldError::invalid(path.clone(), "", "only one of definitions or external can be defined")),
            (false, true) => errs.push(FieldError::forbidden(
                path.child("external"),
                "patch.external can be used only if the RuntimeSDK feature flag is enabled",
            )),
            _ => {}
        }
        if let Some(e) = p.get("enabledIf").and_then(Value::as_str).filter(|e| !e.is_empty()) {
            if let Err(err) = gotmpl::check(e) {
                errs.push(FieldError::invalid(path.child("enabledIf"), e, format!("template can not be parsed: {err}")));
            }
        }
        for (i, d) in defs.into_iter().flatten().enumerate() {
            let dp = path.child("definitions").index(i);
            let mr = d.ptr("/selector/matchResources").cloned().unwrap_or(Value::Null);
            let any_selector = mr.get("infrastructureCluster").and_then(Value::as_bool).unwrap_or(false)
                || mr.get("controlPlane").and_then(Value::as_bool).unwrap_or(false)
                || mr.ptr("/machineDeploymentClass/names").and_then(Value::as_array).is_some_and(|n| !n.is_empty())
                || mr.ptr("/machinePoolClass/names").and_then(Value::as_array).is_some_and(|n| !n.is_empty());
            if !any_selector {
                errs.push(FieldError::invalid(
                    dp.child("selector"),
                    d.get("selector").map(|s| s.to_string()).unwrap_or_default(),
                    "no selector enabled",
                ));
            }
            for (j, jp) in d.get("jsonPatches").and_then(Value::as_array).into_iter().flatten().enumerate() {
                let pp = dp.child("jsonPatches").index(j);
                let op = jp.get("op").and_then(Value::as_str).unwrap_or("");
                let pretty = jp.to_string();
                if !["add", "replace", "remove"].contains(&op) {
                    errs.push(FieldError::not_supported(
                        pp.child("op"),
                        pretty.clone(),
                        &["add".into(), "remove".into(), "replace".into()],
                    ));
                }
                if !jp.get("path").and_then(Value::as_str).unwrap_or("").starts_with("/spec") {
                    errs.push(FieldError::invalid(pp.child("path"), pretty.clone(), "jsonPatch path must start with \"/spec\""));
                }
                if op == "remove" {
                    continue;
                }
                match (jp.get("value"), jp.get("valueFrom")) {
                    (None, None) => {
                        errs.push(FieldError::invalid(pp.clone(), pretty.clone(), "jsonPatch must define one of value or valueFrom"))
                    }
                    (Some(_), Some(_)) => {
                        errs.push(FieldError::invalid(pp.clone(), pretty.clone(), "jsonPatch can not define both value and valueFrom"))
                    }
                    (None, Some(f)) => {
                        let var = f.get("variable").and_then(Value::as_str).unwrap_or("");
                        let tpl = f.get("template").and_then(Value::as_str).unwrap_or("");
                        match (var.is_empty(), tpl.is_empty()) {
                            (true, true) => errs.push(FieldError::invalid(
                                pp.child("valueFrom"),
                                f.to_string(),
                                "valueFrom must set either template or variable",
                            )),
                            (false, false) => errs.push(FieldError::invalid(
                                pp.child("valueFrom"),
                                f.to_string(),
                                "valueFrom can not set both template and variable",
                            )),
                            (true, false) => {
                                if let Err(e) = gotmpl::check(tpl) {
                                    errs.push(FieldError::invalid(
                                        pp.child("valueFrom").child("template"),
                                        tpl,
                                        format!("template can not be parsed: {e}"),
                                    ));
                                }
                            }
                            (false, true) => {
                                let root = var.split(['.', '[']).next().unwrap_or("");
                                if root == variables::BUILTIN {
                                    if !var.starts_with("builtin.") {
                                        errs.push(FieldError::invalid(
                                            pp.child("valueFrom").child("variable"),
                                            var,
                                            "not a defined builtin variable",
                                        ));
                                    }
                                } else if !defined_vars.contains(root) {
                                    errs.push(FieldError::invalid(
                                        pp.child("valueFrom").child("variable"),
                                        var,
                                        format!("variable with name {var} cannot be found"),
                                    ));
                                }
                            }
                        }
                    }
                    (Some(_), None) => {}
                }
            }
        }
    }
    errs
}

impl Webhook for ClusterClassValidation {
    fn kind(&self) -> Kind {
        Kind::ClusterClass
    }
    fn name(&self) -> &'static str {
        "validation.clusterclass.cluster.x-k8s.io"
    }
    fn manager(&self) -> &'static str {
        "capi"
    }
    fn validate(&self, req: &AdmissionRequest<'_>) -> Result<Vec<String>, String> {
        let cc = req.object;
        if req.op == Operation::Delete {
            let users = clusters_using(req.store, cc);
            if users.is_empty() {
                return Ok(Vec::new());
            }
            let mut list: Vec<String> = users.iter().take(3).map(|c| format!("{}/{}", c.namespace(), c.name())).collect();
            if users.len() > 3 {
                list.push(format!("... ({} more)", users.len() - 3));
            }
            return Err(format!(
                "ClusterClass.cluster.x-k8s.io {} is forbidden: ClusterClass cannot be deleted because it is used by Cluster(s): {}",
                go_quote(cc.name()),
                list.join(", ")
            ));
        }
        if !req.gates.cluster_topology {
            return Err(FieldError::forbidden(FPath::new(&["spec"]), GATE_OFF).to_string());
        }
        let mut errs = Vec::new();
        errs.extend(template_ref_errors(cc.at("/spec/infrastructure/templateRef"), &FPath::new(&["spec", "infrastructure"])));
        errs.extend(template_ref_errors(cc.at("/spec/controlPlane/templateRef"), &FPath::new(&["spec", "controlPlane"])));
        if ref_defined(cc.at("/spec/controlPlane/machineInfrastructure/templateRef")) {
            errs.extend(template_ref_errors(
                cc.at("/spec/controlPlane/machineInfrastructure/templateRef"),
                &FPath::new(&["spec", "controlPlane", "machineInfrastructure"]),
            ));
        }
        for (list, what) in [("machineDeployments", "MachineDeployment"), ("machinePools", "MachinePool")] {
            let mut seen = BTreeSet::new();
            for (i, w) in cc.at(&format!("/spec/workers/{list}")).and_then(Value::as_array).into_iter().flatten().enumerate() {
                let p = FPath::new(&["spec", "workers", list]).index(i);
                errs.extend(template_ref_errors(w.ptr("/bootstrap/templateRef"), &p.child("template").child("bootstrap")));
                errs.extend(template_ref_errors(w.ptr("/infrastructure/templateRef"), &p.child("template").child("infrastructure")));
                let class = w.get("class").and_then(Value::as_str).unwrap_or("");
                if !seen.insert(class.to_string()) {
                    errs.push(FieldError::invalid(
                        p.child("class"),
                        class,
                        format!("{what} class must be unique. {what} with class {} is defined more than once", go_quote(class)),
                    ));
                }
            }
        }
        let cp_hc = cc.at("/spec/controlPlane/healthCheck");
        if health_check_defined(cp_hc) {
            let p = FPath::new(&["spec", "controlPlane", "healthCheck"]);
            errs.extend(node_startup_timeout_errors(&p, cp_hc));
            if !ref_defined(cc.at("/spec/controlPlane/machineInfrastructure/templateRef")) {
                errs.push(FieldError::forbidden(p, "can be only set if spec.controlPlane.machineInfrastructure is set"));
            }
        }
        for w in cc.at("/spec/workers/machineDeployments").and_then(Value::as_array).into_iter().flatten() {
            let hc = w.get("healthCheck");
            if health_check_defined(hc) {
                let class = w.get("class").and_then(Value::as_str).unwrap_or("");
                errs.extend(node_startup_timeout_errors(
                    &FPath::new(&["spec", "workers", "machineDeployments"]).key(class).child("healthCheck"),
                    hc,
                ));
            }
        }
        for (pointer, path) in [
            ("/spec/infrastructure/naming/template", FPath::new(&["spec", "infrastructure", "naming", "template"])),
            ("/spec/controlPlane/naming/template", FPath::new(&["spec", "controlPlane", "naming", "template"])),
        ] {
            if let Some(t) = cc.str_at(pointer).filter(|t| !t.is_empty()) {
                if let Err(e) = gotmpl::check(t) {
                    errs.push(FieldError::invalid(path, t, format!("invalid name template: {e}")));
                }
            }
        }
        let vars: Vec<Value> = cc.at("/spec/variables").and_then(Value::as_array).cloned().unwrap_or_default();
        errs.extend(variables::validate_class_variables(&vars, &FPath::new(&["spec", "variables"])));
        errs.extend(patch_errors(cc, req.gates));
        let mut previous: Option<semver::Version> = None;
        for (i, v) in cc.at("/spec/kubernetesVersions").and_then(Value::as_array).into_iter().flatten().enumerate() {
            let s = v.as_str().unwrap_or("");
            let p = FPath::new(&["spec", "kubernetesVersion"]).index(i);
            let Some(sv) = upgrade::parse(s) else {
                errs.push(FieldError::invalid(p, s, "version must be a valid semantic version"));
                continue;
            };
            if let Some(prev) = &previous {
                if upgrade::compare(&sv, prev) <= 0 {
                    errs.push(FieldError::invalid(p.clone(), s, format!("version must be greater than v{prev}")));
                }
                if prev.minor != sv.minor && prev.minor.saturating_add(1) != sv.minor {
                    errs.push(FieldError::invalid(
                        p,
                        s,
                        format!("expecting a version with minor {} or {}, found version {sv}", prev.minor, prev.minor.saturating_add(1)),
                    ));
                }
            }
            previous = Some(sv);
        }
        if let (Operation::Update, Some(old)) = (req.op, req.old) {
            errs.extend(classes_compatible(old, cc));
            let users = clusters_using(req.store, old);
            if let Some(versions) = cc.at("/spec/kubernetesVersions").and_then(Value::as_array).filter(|v| !v.is_empty()) {
                for c in &users {
                    let v = c.str_at("/spec/topology/version").unwrap_or("");
                    if !versions.iter().any(|x| x.as_str() == Some(v)) {
                        errs.push(FieldError::forbidden(
                            FPath::new(&["spec", "kubernetesVersions"]),
                            format!("Kubernetes Version {v} is used by Cluster {} but not set in ClusterClass", go_quote(c.name())),
                        ));
                    }
                }
            }
            for (list, what) in [("machineDeployments", "MachineDeploymentClass"), ("machinePools", "MachinePoolClass")] {
                let now: BTreeSet<&str> = cc
                    .at(&format!("/spec/workers/{list}"))
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|w| w.get("class").and_then(Value::as_str))
                    .collect();
                let removed: BTreeSet<&str> = old
                    .at(&format!("/spec/workers/{list}"))
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|w| w.get("class").and_then(Value::as_str))
                    .filter(|c| !now.contains(c))
                    .collect();
                for c in &users {
                    for w in c.at(&format!("/spec/topology/workers/{list}")).and_then(Value::as_array).into_iter().flatten() {
                        let class = w.get("class").and_then(Value::as_str).unwrap_or("");
                        if removed.contains(class) {
                            errs.push(FieldError::forbidden(
                                FPath::new(&["spec", "workers", list]),
                                format!(
                                    "{what} {} cannot be deleted because it is used by Cluster {}",
                                    go_quote(class),
                                    go_quote(c.name())
                                ),
                            ));
                        }
                    }
                }
            }
            for c in &users {
                errs.extend(autoscaler_errors(c, Some(cc)));
            }
        }
        if errs.is_empty() {
            Ok(Vec::new())
        } else {
            Err(invalid_message(Kind::ClusterClass, cc.name(), &errs))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controllers::conditions::Cond;
    use crate::store::api::ApiServer;
    use crate::store::api::WriteOptions;
    use rstest::rstest;
    use serde_json::json;

    fn gates(on: bool) -> FeatureGates {
        FeatureGates { cluster_topology: on, ..Default::default() }
    }

    fn server(on: bool) -> ApiServer {
        ApiServer::new(Store::new(7), gates(on), webhooks())
    }

    fn opts() -> WriteOptions {
        WriteOptions { now: 0, dry_run: false }
    }

    fn cluster(name: &str, version: &str) -> Object {
        Object::from_json(&json!({"apiVersion": "cluster.x-k8s.io/v1beta2", "kind": "Cluster",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"topology": {"classRef": {"name": "quick-start"}, "version": version,
                "controlPlane": {"replicas": 1},
                "workers": {"machineDeployments": [{"class": "default-worker", "name": "md-0", "replicas": 1}]}}}}))
        .unwrap()
    }

    /// A reconciled ClusterClass with one required variable.
    fn reconciled_class(api: &mut ApiServer) {
        let mut cc = Object::from_json(&json!({"apiVersion": "cluster.x-k8s.io/v1beta2", "kind": "ClusterClass",
            "metadata": {"name": "quick-start", "namespace": "default"},
            "spec": {"infrastructure": {"templateRef": {"apiVersion": "infrastructure.cluster.x-k8s.io/v1beta2", "kind": "DevClusterTemplate", "name": "qs"}},
                "controlPlane": {"templateRef": {"apiVersion": "controlplane.cluster.x-k8s.io/v1beta2", "kind": "KubeadmControlPlaneTemplate", "name": "qs"}},
                "workers": {"machineDeployments": [{"class": "default-worker",
                    "bootstrap": {"templateRef": {"apiVersion": "bootstrap.cluster.x-k8s.io/v1beta2", "kind": "KubeadmConfigTemplate", "name": "w"}},
                    "infrastructure": {"templateRef": {"apiVersion": "infrastructure.cluster.x-k8s.io/v1beta2", "kind": "DevMachineTemplate", "name": "w"}}}]},
                "variables": [{"name": "etcdImageTag", "required": true, "schema": {"openAPIV3Schema": {"type": "string", "default": ""}}},
                              {"name": "cpu", "schema": {"openAPIV3Schema": {"type": "integer"}}}]}}))
        .unwrap();
        cc = (*api.create(cc, opts()).unwrap().object).clone();
        let vars = variables::status_variables(cc.at("/spec/variables").unwrap().as_array().unwrap());
        cc.set("/status/variables", Value::Array(vars));
        cc.set("/status/observedGeneration", json!(1));
        conditions::set(&mut cc, [Cond::t("VariablesReady", "VariablesReady")], 0);
        api.update(cc, crate::store::Subresource::Status, None, opts()).unwrap();
    }

    #[test]
    fn create_with_missing_class_warns() {
        let mut api = server(true);
        let w = api.create(cluster("c1", "v1.34.0"), opts()).unwrap();
        assert_eq!(
            w.warnings,
            ["Cluster refers to ClusterClass default/quick-start, but this ClusterClass does not exist. Cluster topology has not been fully validated. The ClusterClass must be created to reconcile the Cluster"]
        );
    }

    #[test]
    fn update_with_missing_class_is_denied() {
        let mut api = server(true);
        let created = api.create(cluster("c1", "v1.34.0"), opts()).unwrap().object;
        let mut changed = (*created).clone();
        changed.meta.labels.insert("x".into(), "y".into());
        let e = api.update(changed, crate::store::Subresource::Main, None, opts()).unwrap_err();
        assert_eq!(
            e.message,
            "admission webhook \"validation.cluster.cluster.x-k8s.io\" denied the request: Cluster.cluster.x-k8s.io \"c1\" is invalid: spec.topology.class: Internal error: ClusterClass default/quick-start not found"
        );
    }

    #[rstest]
    #[case(Kind::Cluster)]
    #[case(Kind::ClusterClass)]
    fn feature_gate_off_denies(#[case] kind: Kind) {
        let mut api = server(false);
        let e = if kind == Kind::Cluster {
            api.create(cluster("c1", "v1.34.0"), opts()).unwrap_err()
        } else {
            let cc = Object::from_json(&json!({"apiVersion": "cluster.x-k8s.io/v1beta2", "kind": "ClusterClass",
                "metadata": {"name": "qs", "namespace": "default"}, "spec": {}}))
            .unwrap();
            api.create(cc, opts()).unwrap_err()
        };
        let want = if kind == Kind::Cluster {
            "admission webhook \"validation.cluster.cluster.x-k8s.io\" denied the request: Cluster.cluster.x-k8s.io \"c1\" is invalid: spec.topology: Forbidden: can be set only if the ClusterTopology feature flag is enabled"
        } else {
            "admission webhook \"validation.clusterclass.cluster.x-k8s.io\" denied the request: spec: Forbidden: can be set only if the ClusterTopology feature flag is enabled"
        };
        assert_eq!(e.message, want);
    }

    #[test]
    fn defaulting_prefixes_the_version_and_fills_variables() {
        let mut api = server(true);
        reconciled_class(&mut api);
        let w = api.create(cluster("c1", "1.34.0"), opts()).unwrap();
        assert!(w.warnings.is_empty(), "{:?}", w.warnings);
        assert_eq!(w.object.str_at("/spec/topology/version"), Some("v1.34.0"));
        assert_eq!(w.object.at("/spec/topology/variables"), Some(&json!([{"name": "etcdImageTag", "value": ""}])));
    }

    #[test]
    fn invalid_variables_are_denied_by_the_defaulting_webhook() {
        let mut api = server(true);
        reconciled_class(&mut api);
        let mut c = cluster("c1", "v1.34.0");
        c.set("/spec/topology/variables", json!([{"name": "cpu", "value": "two"}]));
        let e = api.create(c, opts()).unwrap_err();
        assert_eq!(
            e.message,
            "admission webhook \"default.cluster.cluster.x-k8s.io\" denied the request: Cluster.cluster.x-k8s.io \"c1\" is invalid: spec.topology.variables[cpu].value: Invalid value: \"\\\"two\\\"\": must be of type integer: \"string\""
        );
    }

    fn with_cp(api: &mut ApiServer, spec: &str, versions: &[&str]) -> Arc<Object> {
        let mut cp = Object::new(Kind::KubeadmControlPlane, "default", "c1-cp");
        cp.set("/spec/version", json!(spec));
        let cp = api.create(cp, opts()).unwrap().object;
        if !versions.is_empty() {
            let mut st = (*cp).clone();
            st.set("/status/versions", Value::Array(versions.iter().map(|v| json!({"version": v})).collect()));
            api.update(st, crate::store::Subresource::Status, None, opts()).unwrap();
        }
        let mut c = cluster("c1", "v1.34.0");
        c.set(
            "/spec/controlPlaneRef",
            json!({"apiGroup": "controlplane.cluster.x-k8s.io", "kind": "KubeadmControlPlane", "name": "c1-cp"}),
        );
        api.create(c, opts()).unwrap().object
    }

    #[rstest]
    #[case("v1.35.0", &["v1.34.0"], "v1.34.0", None)]
    #[case("v1.33.0", &["v1.34.0"], "v1.34.0", Some("spec.topology.version: Invalid value: \"v1.33.0\": version cannot be decreased from \"1.34.0\" to \"1.33.0\""))]
    #[case("v1.36.0", &["v1.34.0"], "v1.34.0", Some("spec.topology.version: Invalid value: \"v1.36.0\": version cannot be increased from \"1.34.0\" to \"1.36.0\""))]
    #[case("v1.35.0", &[], "v1.34.0", Some("spec.topology.version: Invalid value: \"v1.35.0\": version cannot be changed: control plane is currently provisioning"))]
    #[case("v1.35.0", &["v1.33.0"], "v1.34.0", Some("spec.topology.version: Invalid value: \"v1.35.0\": version cannot be changed: control plane is still completing a previous upgrade"))]
    #[case("v1.35.0", &["v1.33.0"], "v1.33.0", Some("spec.topology.version: Invalid value: \"v1.35.0\": version cannot be changed: Cluster.spec.topology.version 1.34.0 was not propagated to control plane yet (control plane version 1.33.0)"))]
    #[case("1.35", &["v1.34.0"], "v1.34.0", Some("spec.topology.version: Invalid value: \"v1.35\": version must be a valid semantic version"))]
    fn version_rules(#[case] new_version: &str, #[case] cp_status: &[&str], #[case] cp_spec: &str, #[case] want: Option<&str>) {
        let mut api = server(true);
        reconciled_class(&mut api);
        let c = with_cp(&mut api, cp_spec, cp_status);
        let mut changed = (*c).clone();
        changed.set("/spec/topology/version", json!(new_version));
        let got = api.update(changed, crate::store::Subresource::Main, None, opts());
        match want {
            None => {
                got.unwrap();
            }
            Some(w) => {
                let msg = got.unwrap_err().message;
                assert!(msg.ends_with(&format!("Cluster.cluster.x-k8s.io \"c1\" is invalid: {w}")), "{msg}");
            }
        }
    }

    #[test]
    fn topology_cannot_be_removed_nor_class_added() {
        let mut api = server(true);
        reconciled_class(&mut api);
        let c = with_cp(&mut api, "v1.34.0", &["v1.34.0"]);
        let mut removed = (*c).clone();
        removed.remove("/spec/topology");
        let msg = api.update(removed, crate::store::Subresource::Main, None, opts()).unwrap_err().message;
        assert!(msg.ends_with("spec.topology: Forbidden: cannot be removed from an existing Cluster"), "{msg}");

        let mut plain = Object::new(Kind::Cluster, "default", "plain");
        plain.set(
            "/spec/controlPlaneRef",
            json!({"apiGroup": "controlplane.cluster.x-k8s.io", "kind": "KubeadmControlPlane", "name": "c1-cp"}),
        );
        let plain = api.create(plain, opts()).unwrap().object;
        let mut added = (*plain).clone();
        added.set("/spec/topology", json!({"classRef": {"name": "quick-start"}, "version": "v1.34.0"}));
        let msg = api.update(added, crate::store::Subresource::Main, None, opts()).unwrap_err().message;
        assert!(msg.ends_with("spec.topology.class: Forbidden: classRef cannot be set on an existing Cluster"), "{msg}");
    }

    #[test]
    fn class_in_use_cannot_be_deleted() {
        let mut api = server(true);
        reconciled_class(&mut api);
        api.create(cluster("c1", "v1.34.0"), opts()).unwrap();
        let e = api
            .delete(&ObjKey::new(Kind::ClusterClass, "default", "quick-start"), capi_scenarios::model::Propagation::Background, opts())
            .unwrap_err();
        assert_eq!(
            e.message,
            "admission webhook \"validation.clusterclass.cluster.x-k8s.io\" denied the request: ClusterClass.cluster.x-k8s.io \"quick-start\" is forbidden: ClusterClass cannot be deleted because it is used by Cluster(s): default/c1"
        );
    }

    #[rstest]
    #[case("my-cluster", 0)]
    #[case("My_Cluster.1", 0)]
    #[case("-bad", 1)]
    #[case("a-very-long-name-that-goes-on-and-on-and-on-well-past-sixty-three-chars", 1)]
    fn label_values(#[case] v: &str, #[case] n: usize) {
        assert_eq!(label_value_errors(v).len(), n);
    }

    #[test]
    fn class_validation_reports_template_and_variable_errors() {
        let mut api = server(true);
        let cc = Object::from_json(&json!({"apiVersion": "cluster.x-k8s.io/v1beta2", "kind": "ClusterClass",
            "metadata": {"name": "bad", "namespace": "default"},
            "spec": {"infrastructure": {"templateRef": {"apiVersion": "infrastructure.cluster.x-k8s.io/v1beta2", "kind": "DevCluster", "name": "x"}},
                "controlPlane": {"templateRef": {"apiVersion": "controlplane.cluster.x-k8s.io/v1beta2", "kind": "KubeadmControlPlaneTemplate", "name": "cp"}},
                "variables": [{"name": "builtin", "schema": {"openAPIV3Schema": {"type": "string"}}}]}}))
        .unwrap();
        let msg = api.create(cc, opts()).unwrap_err().message;
        assert!(
            msg.contains("spec.infrastructure.ref.kind: Invalid value: \"DevCluster\": template kind must be of form \"<name>Template\""),
            "{msg}"
        );
        assert!(msg.contains("\"builtin\" is a reserved variable name"), "{msg}");
    }
}

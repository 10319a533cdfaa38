//! CAPI's ClusterClass admission webhook (`validation.clusterclass.cluster.x-k8s.io`, served by
//! `capi-controller-manager`): templates, worker classes, health checks, naming templates,
//! variables, patches, Kubernetes versions, compatibility with the previous version of the class and
//! with the Clusters using it, and the delete guard; plus the checks of a Cluster's topology against
//! its class that the Cluster webhook runs (`ValidateClusterForClusterClass`, autoscaler
//! annotations). Sources: `core/webhooks/admission/clusterclass.go`, `core/webhooks/admission/
//! patch_validation.go`, `core/webhooks/admission/cluster.go`, `internal/topology/check/compatibility.go`.
//!
//! Simplifications: most of the patch and naming-template checks beyond parsing and references are
//! not modelled; the Clusters using a class are found by a scan of the Clusters (CAPI uses an index).

use super::cluster::{class_key, ref_defined, topology, AUTOSCALER_MAX, AUTOSCALER_MIN, GATE_OFF};
use crate::controllers::topology::field::{go_quote, invalid_message, FPath, FieldError};
use crate::controllers::topology::{gotmpl, upgrade, variables};
use crate::features::FeatureGates;
use crate::kinds::Kind;
use crate::object::Object;
use crate::object::Ptr;
use crate::store::api::{AdmissionRequest, Operation, Webhook};
use crate::store::Store;
use serde_json::Value;
use std::collections::BTreeSet;
use std::sync::Arc;

/// The ClusterClass's validating webhook (`validation.clusterclass.cluster.x-k8s.io`).
pub struct ClusterClassValidation;

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
pub(crate) fn autoscaler_errors(c: &Object, cc: Option<&Object>) -> Vec<FieldError> {
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
            _ => {}
        }
        // `validatePatch`: external patches need the RuntimeSDK gate.
        if p.get("external").is_some() && !gates.runtime_sdk {
            errs.push(FieldError::forbidden(
                path.child("external"),
                "patch.external can be used only if the RuntimeSDK feature flag is enabled",
            ));
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

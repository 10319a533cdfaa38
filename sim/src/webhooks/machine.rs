//! Machine and MachineHealthCheck admission webhooks (CAPI core, served by capi-controller-manager).
//! Machine: defaults the cluster-name label, a `v` on the version and `nodeDeletionTimeoutSeconds`
//! 10; validates the bootstrap (configRef or dataSecretName, except for MachinePool Machines),
//! clusterName immutability, the version and the taints (`MachineTaintPropagation`).
//! MachineHealthCheck: defaults the cluster-name label and `nodeStartupTimeoutSeconds` 600;
//! validates the selector (not empty, no other cluster), clusterName immutability, the startup
//! timeout (0 or at least 30s) and `unhealthyLessThanOrEqualTo`.
//! Source: `core/webhooks/admission/{machine.go,machinehealthcheck.go}`.
//!
//! Simplification: `metav1.LabelSelectorAsSelector` is restated for keys, values and operators
//! (`webhooks/meta.rs: selector_error`), not for the value counts each operator needs.

use super::meta::{go_label_selector, machine_taint_errors, selector_error};
use crate::controllers::common::keys;
use crate::controllers::mdutil::scaled_value;
use crate::controllers::topology::field::{invalid_message, FPath, FieldError};
use crate::features::FeatureGates;
use crate::kinds::Kind;
use crate::object::Object;
use crate::object::Ptr;
use crate::store::api::{AdmissionRequest, Operation, Webhook};
use crate::store::Store;
use serde_json::{json, Value};

/// The webhooks of this module.
pub fn webhooks() -> Vec<Box<dyn Webhook>> {
    vec![Box::new(MachineWebhook), Box::new(MachineHealthCheckWebhook)]
}

/// `apierrors.NewInvalid` of the object's kind, or no denial.
pub(crate) fn invalid(obj: &Object, errors: Vec<FieldError>) -> Result<Vec<String>, String> {
    if errors.is_empty() {
        return Ok(vec![]);
    }
    Err(invalid_message(obj.kind, obj.name(), &errors))
}

/// The cluster-name label from `spec.clusterName` (CAPI sets it even when empty).
pub(crate) fn default_cluster_label(o: &mut Object) {
    let c = o.str_at("/spec/clusterName").unwrap_or("").to_string();
    if o.label(keys::CLUSTER_NAME) != Some(c.as_str()) {
        o.meta.labels.insert(keys::CLUSTER_NAME.into(), c);
    }
}

/// A `v` prefix on a non-empty version at `pointer`.
pub(crate) fn default_version_prefix(o: &mut Object, pointer: &str) {
    if let Some(v) = o.str_at(pointer).filter(|v| !v.is_empty() && !v.starts_with('v')).map(|v| format!("v{v}")) {
        o.set(pointer, json!(v));
    }
}

/// `ContractVersionedObjectReference.IsDefined`.
pub(crate) fn ref_is_defined(o: &Object, pointer: &str) -> bool {
    ["kind", "name", "apiGroup"].iter().any(|f| o.str_at(&format!("{pointer}/{f}")).is_some_and(|v| !v.is_empty()))
}

/// The version checks every Machine-bearing webhook runs: `must start with v`, then a semver check
/// (both can be reported).
pub(crate) fn version_errors(o: &Object, pointer: &str, path: FPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if let Some(v) = o.str_at(pointer).filter(|v| !v.is_empty()) {
        if !v.starts_with('v') {
            errs.push(FieldError::invalid(path.clone(), v, "must start with v"));
        }
        if semver::Version::parse(v.strip_prefix('v').unwrap_or(v)).is_err() {
            errs.push(FieldError::invalid(path, v, "must be a valid semantic version"));
        }
    }
    errs
}

/// `clusterName` may not change on update.
pub(crate) fn cluster_name_immutable(old: Option<&Object>, new: &Object) -> Option<FieldError> {
    let old = old?;
    (old.str_at("/spec/clusterName").unwrap_or("") != new.str_at("/spec/clusterName").unwrap_or(""))
        .then(|| FieldError::forbidden(FPath::new(&["spec", "clusterName"]), "field is immutable"))
}

/// The Machine webhook.
pub struct MachineWebhook;

impl Webhook for MachineWebhook {
    fn kind(&self) -> Kind {
        Kind::Machine
    }
    fn name(&self) -> &'static str {
        "validation.machine.cluster.x-k8s.io"
    }
    fn manager(&self) -> &'static str {
        "capi"
    }
    fn default(&self, _op: Operation, m: &mut Object, _store: &Store, _gates: &FeatureGates) {
        default_cluster_label(m);
        default_version_prefix(m, "/spec/version");
        if m.at("/spec/deletion/nodeDeletionTimeoutSeconds").is_none_or(Value::is_null) {
            m.set("/spec/deletion/nodeDeletionTimeoutSeconds", json!(10));
        }
    }
    fn validate(&self, req: &AdmissionRequest<'_>) -> Result<Vec<String>, String> {
        if req.op == Operation::Delete {
            return Ok(vec![]);
        }
        let m = req.object;
        let spec = FPath::new(&["spec"]);
        let mut errs = Vec::new();
        // MachinePool Machines have no bootstrap of their own (`labels.IsMachinePoolOwned`).
        if !ref_is_defined(m, "/spec/bootstrap/configRef")
            && m.at("/spec/bootstrap/dataSecretName").is_none_or(Value::is_null)
            && m.label(keys::POOL_NAME).is_none()
        {
            errs.push(FieldError::required(
                spec.child("bootstrap"),
                "expected either spec.bootstrap.dataSecretName or spec.bootstrap.configRef to be populated",
            ));
        }
        errs.extend(cluster_name_immutable(req.old.filter(|_| req.op == Operation::Update), m));
        errs.extend(version_errors(m, "/spec/version", spec.child("version")));
        let cp = m.label(keys::CONTROL_PLANE).is_some();
        errs.extend(machine_taint_errors(m, "/spec/taints", &spec.child("taints"), req.gates, cp));
        invalid(m, errs)
    }
}

/// The MachineHealthCheck webhook.
pub struct MachineHealthCheckWebhook;

impl Webhook for MachineHealthCheckWebhook {
    fn kind(&self) -> Kind {
        Kind::MachineHealthCheck
    }
    fn name(&self) -> &'static str {
        "validation.machinehealthcheck.cluster.x-k8s.io"
    }
    fn manager(&self) -> &'static str {
        "capi"
    }
    fn default(&self, _op: Operation, m: &mut Object, _store: &Store, _gates: &FeatureGates) {
        default_cluster_label(m);
        if m.at("/spec/checks/nodeStartupTimeoutSeconds").is_none_or(Value::is_null) {
            m.set("/spec/checks/nodeStartupTimeoutSeconds", json!(600));
        }
    }
    fn validate(&self, req: &AdmissionRequest<'_>) -> Result<Vec<String>, String> {
        if req.op == Operation::Delete {
            return Ok(vec![]);
        }
        let m = req.object;
        let spec = FPath::new(&["spec"]);
        let mut errs = Vec::new();
        let sel = m.at("/spec/selector");
        let parse_error = selector_error(sel);
        if let Some(e) = &parse_error {
            errs.push(FieldError::invalid_raw(spec.child("selector"), go_label_selector(sel), e.clone()));
        }
        let empty = parse_error.is_none()
            && sel.is_none_or(|s| {
                s.get("matchLabels").and_then(Value::as_object).is_none_or(|x| x.is_empty())
                    && s.get("matchExpressions").and_then(Value::as_array).is_none_or(|x| x.is_empty())
            });
        if empty {
            errs.push(FieldError::required(spec.child("selector"), "selector must not be empty"));
        }
        if let Some(c) = sel.and_then(|s| s.ptr("/matchLabels/cluster.x-k8s.io~1cluster-name")).and_then(Value::as_str) {
            if c != m.str_at("/spec/clusterName").unwrap_or("") {
                errs.push(FieldError::invalid_raw(
                    spec.child("selector"),
                    go_label_selector(sel),
                    "cannot specify a cluster selector other than the one specified by ClusterName",
                ));
            }
        }
        errs.extend(cluster_name_immutable(req.old.filter(|_| req.op == Operation::Update), m));
        // `validateMachineHealthCheckNodeStartupTimeoutSeconds`: 0 disables the check.
        if let Some(t) = m.i64_at("/spec/checks/nodeStartupTimeoutSeconds") {
            if t != 0 && t < 30 {
                errs.push(FieldError::invalid_raw(spec.child("checks").child("nodeStartupTimeoutSeconds"), t, "must be at least 30s"));
            }
        }
        // `validateMachineHealthCheckUnhealthyLessThanOrEqualTo`: the value printed with `IntOrString.String()`.
        if let Some(v) = m.at("/spec/remediation/triggerIf/unhealthyLessThanOrEqualTo").filter(|v| !v.is_null()) {
            if let Err(e) = scaled_value(Some(v), 0, false) {
                let shown = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                errs.push(FieldError::invalid(
                    spec.child("remediation").child("triggerIf").child("unhealthyLessThanOrEqualTo"),
                    shown,
                    format!("must be either an int or a percentage: {e}"),
                ));
            }
        }
        invalid(m, errs)
    }
}

//! CABPK's admission webhooks (served by the `kubeadm-bootstrap` manager): KubeadmConfig
//! (`validation.kubeadmconfig.bootstrap.cluster.x-k8s.io`) and KubeadmConfigTemplate
//! (`default.`/`validation.kubeadmconfigtemplate.bootstrap.cluster.x-k8s.io`), and the
//! KubeadmConfigSpec validation KCP shares (`Validate(spec, isKCP, path)`): files (one content
//! source, secret name and key, unique paths), users (one password source, secret name and key),
//! the `KubeadmBootstrapFormatIgnition` gate and what Ignition cannot do, disk layout percentages,
//! the join discovery kubeconfig user, and for KCP equal control-plane health-check timeouts.
//! Sources: `bootstrap/kubeadm/webhooks/admission/{kubeadmconfig.go,kubeadmconfigtemplate.go}`.
//!
//! Simplifications: a Go struct printed by `field.Invalid` (a file, a user, a kubeconfig user) is
//! its JSON with keys sorted (Go marshals a struct's fields in declaration order); the template's dry-run defaulting of old defaults
//! (`ApplyPreviousKubeadmConfigDefaults`) is not modelled (the simulator's topology controller does
//! not compare those fields).

use super::machine::invalid;
use super::meta::template_metadata_errors;
use crate::controllers::topology::field::{go_quote, FPath, FieldError};
use crate::features::FeatureGates;
use crate::kinds::Kind;
use crate::object::{Object, Ptr};
use crate::store::api::{AdmissionRequest, Operation, Webhook};
use serde_json::Value;

/// The manager serving CABPK's webhooks.
const MANAGER: &str = "kubeadm-bootstrap";
const CANNOT_USE_WITH_IGNITION: &str = "not supported when spec.format is set to: \"ignition\"";
const IGNITION_GATE_OFF: &str = "can be set only if the KubeadmBootstrapFormatIgnition feature gate is enabled";
const MISSING_SECRET_NAME: &str = "secret file source must specify non-empty secret name";
const MISSING_SECRET_KEY: &str = "secret file source must specify non-empty secret key";

/// The webhooks of this module.
pub fn webhooks() -> Vec<Box<dyn Webhook>> {
    vec![Box::new(KubeadmConfigWebhook), Box::new(KubeadmConfigTemplateWebhook)]
}

/// The KubeadmConfig validating webhook.
pub struct KubeadmConfigWebhook;
/// The KubeadmConfigTemplate webhook pair.
pub struct KubeadmConfigTemplateWebhook;

fn items<'a>(spec: &'a Value, key: &str) -> impl Iterator<Item = (usize, &'a Value)> {
    spec.get(key).and_then(Value::as_array).into_iter().flatten().enumerate()
}

fn str_of<'a>(v: &'a Value, ptr: &str) -> &'a str {
    v.ptr(ptr).and_then(Value::as_str).unwrap_or("")
}

/// A struct with any non-zero field (`IsDefined` of CAPI's v1beta2 structs).
fn defined(v: Option<&Value>) -> bool {
    v.is_some_and(|v| v.as_object().is_some_and(|m| m.values().any(|x| !x.is_null() && x.as_object().is_none_or(|o| !o.is_empty()))))
}

/// `Validate(c, isKCP, pathPrefix)` of a KubeadmConfigSpec.
pub fn validate_spec(spec: &Value, is_kcp: bool, path: &FPath, gates: &FeatureGates) -> Vec<FieldError> {
    let mut errs = Vec::new();
    // validateFiles
    let mut known = std::collections::BTreeSet::new();
    for (i, f) in items(spec, "files") {
        let p = path.child("files").index(i);
        let from = f.get("contentFrom");
        if !str_of(f, "/content").is_empty() && defined(from) {
            errs.push(FieldError::invalid_raw(p.clone(), f, "only one of content or contentFrom may be specified for a single file"));
        }
        if defined(from) {
            if str_of(f, "/contentFrom/secret/name").is_empty() {
                errs.push(FieldError::required(p.child("contentFrom").child("secret").child("name"), MISSING_SECRET_NAME));
            }
            if str_of(f, "/contentFrom/secret/key").is_empty() {
                errs.push(FieldError::required(p.child("contentFrom").child("secret").child("key"), MISSING_SECRET_KEY));
            }
        }
        if !known.insert(str_of(f, "/path")) {
            errs.push(FieldError::invalid_raw(p.child("path"), f, "path property must be unique among all files"));
        }
    }
    // validateUsers
    for (i, u) in items(spec, "users") {
        let p = path.child("users").index(i);
        let from = u.get("passwdFrom");
        if !str_of(u, "/passwd").is_empty() && defined(from) {
            errs.push(FieldError::invalid_raw(p.clone(), u, "only one of passwd or passwdFrom may be specified for a single user"));
        }
        if defined(from) {
            if str_of(u, "/passwdFrom/secret/name").is_empty() {
                errs.push(FieldError::required(p.child("passwdFrom").child("secret").child("name"), MISSING_SECRET_NAME));
            }
            if str_of(u, "/passwdFrom/secret/key").is_empty() {
                errs.push(FieldError::required(p.child("passwdFrom").child("secret").child("key"), MISSING_SECRET_KEY));
            }
        }
    }
    errs.extend(ignition_errors(spec, path, gates));
    // validateDiskSetup
    for (i, part) in spec.ptr("/diskSetup/partitions").and_then(Value::as_array).into_iter().flatten().enumerate() {
        let layout = part.get("diskLayout").and_then(Value::as_array).map_or(&[][..], Vec::as_slice);
        let total: i64 = layout.iter().map(|l| l.get("percentage").and_then(Value::as_i64).unwrap_or(0)).sum();
        if !layout.is_empty() && total > 100 {
            errs.push(FieldError::invalid_raw(
                path.child("diskSetup").child("partitions").index(i).child("diskLayout"),
                total,
                "the sum of all partition percentages must not be greater than 100",
            ));
        }
    }
    // The join discovery kubeconfig user: authProvider or exec, not both.
    if defined(spec.get("joinConfiguration")) {
        let user = spec.ptr("/joinConfiguration/discovery/file/kubeConfig/user");
        if defined(user.and_then(|u| u.get("authProvider"))) && defined(user.and_then(|u| u.get("exec"))) {
            errs.push(FieldError::invalid_raw(
                path.child("joinConfiguration").child("discovery").child("file").child("kubeconfig").child("user"),
                user.map(Value::to_string).unwrap_or_default(),
                "only one of authProvider or exec must be defined",
            ));
        }
    }
    if is_kcp {
        let t = |c: &str| {
            spec.ptr(&format!("/{c}/timeouts/controlPlaneComponentHealthCheckSeconds"))
                .and_then(Value::as_i64)
                .map_or("unset".to_string(), |n| n.to_string())
        };
        let (init, join) = (t("initConfiguration"), t("joinConfiguration"));
        if init != join {
            let msg = format!(
                "controlPlaneComponentHealthCheckSeconds must be set to the same value both in initConfiguration.timeouts ({init}) and in joinConfiguration.timeouts ({join})"
            );
            for (c, v) in [("initConfiguration", &init), ("joinConfiguration", &join)] {
                errs.push(FieldError::invalid(
                    path.child(c).child("timeouts").child("controlPlaneComponentHealthCheckSeconds"),
                    v.as_str(),
                    msg.clone(),
                ));
            }
        }
    }
    errs
}

/// `validateIgnition`.
fn ignition_errors(spec: &Value, path: &FPath, gates: &FeatureGates) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let format = str_of(spec, "/format");
    let ignition = defined(spec.get("ignition"));
    if !gates.kubeadm_bootstrap_format_ignition {
        if format == "ignition" {
            errs.push(FieldError::forbidden(path.child("format"), IGNITION_GATE_OFF));
        }
        if ignition {
            errs.push(FieldError::forbidden(path.child("ignition"), IGNITION_GATE_OFF));
        }
        return errs;
    }
    if format != "ignition" {
        if ignition {
            errs.push(FieldError::invalid(path.child("format"), format, "must be set to \"ignition\" if spec.ignition is set"));
        }
        return errs;
    }
    for (i, u) in items(spec, "users") {
        if u.get("inactive").and_then(Value::as_bool) == Some(true) {
            errs.push(FieldError::forbidden(path.child("users").index(i).child("inactive"), CANNOT_USE_WITH_IGNITION));
        }
    }
    for (i, f) in items(spec, "files") {
        if matches!(str_of(f, "/encoding"), "gzip" | "gzip+base64") {
            errs.push(FieldError::forbidden(path.child("files").index(i).child("encoding"), CANNOT_USE_WITH_IGNITION));
        }
    }
    if spec.get("bootCommands").is_some_and(|b| !b.is_null()) {
        errs.push(FieldError::forbidden(path.child("bootCommands"), CANNOT_USE_WITH_IGNITION));
    }
    for (i, p) in spec.ptr("/diskSetup/partitions").and_then(Value::as_array).into_iter().flatten().enumerate() {
        let t = str_of(p, "/tableType");
        if !t.is_empty() && t != "gpt" {
            errs.push(FieldError::invalid(
                path.child("diskSetup").child("partitions").index(i).child("tableType"),
                t,
                format!("only partition type {} is supported when spec.format is set to {}", go_quote("gpt"), go_quote("ignition")),
            ));
        }
    }
    for (i, fs) in spec.ptr("/diskSetup/filesystems").and_then(Value::as_array).into_iter().flatten().enumerate() {
        let p = path.child("diskSetup").child("filesystems").index(i);
        if !str_of(fs, "/replaceFS").is_empty() {
            errs.push(FieldError::forbidden(p.child("replaceFS"), CANNOT_USE_WITH_IGNITION));
        }
        if !str_of(fs, "/partition").is_empty() {
            errs.push(FieldError::forbidden(p.child("partition"), CANNOT_USE_WITH_IGNITION));
        }
    }
    errs
}

impl Webhook for KubeadmConfigWebhook {
    fn kind(&self) -> Kind {
        Kind::KubeadmConfig
    }
    fn name(&self) -> &'static str {
        "validation.kubeadmconfig.bootstrap.cluster.x-k8s.io"
    }
    fn manager(&self) -> &'static str {
        MANAGER
    }
    fn validate(&self, req: &AdmissionRequest<'_>) -> Result<Vec<String>, String> {
        if req.op == Operation::Delete {
            return Ok(vec![]);
        }
        let o = req.object;
        let spec = o.at("/spec").cloned().unwrap_or(Value::Null);
        invalid(o, validate_spec(&spec, false, &FPath::new(&["spec"]), req.gates))
    }
}

impl Webhook for KubeadmConfigTemplateWebhook {
    fn kind(&self) -> Kind {
        Kind::KubeadmConfigTemplate
    }
    fn name(&self) -> &'static str {
        "validation.kubeadmconfigtemplate.bootstrap.cluster.x-k8s.io"
    }
    fn manager(&self) -> &'static str {
        MANAGER
    }
    fn validate(&self, req: &AdmissionRequest<'_>) -> Result<Vec<String>, String> {
        if req.op == Operation::Delete {
            return Ok(vec![]);
        }
        let o: &Object = req.object;
        let spec = o.at("/spec/template/spec").cloned().unwrap_or(Value::Null);
        let mut errs = validate_spec(&spec, false, &FPath::new(&["spec", "template", "spec"]), req.gates);
        errs.extend(template_metadata_errors(o, "/spec/template/metadata", &FPath::new(&["spec", "template", "metadata"])));
        invalid(o, errs)
    }
}

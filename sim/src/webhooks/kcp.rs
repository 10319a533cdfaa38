//! The KubeadmControlPlane admission webhook (served by the `kubeadm-control-plane` manager).
//! Defaulting: `replicas` 1, a `v` prefix on `version`, rollout strategy `RollingUpdate` with
//! `maxSurge` 1. Validation: replicas > 0 and odd with stacked etcd, a complete infrastructure
//! reference, a semantic version, `maxSurge` 0 or 1 (0 needs ≥ 3 replicas), certificate validity
//! bounds, the machine naming template, local vs external etcd; on update also the immutable fields
//! (everything outside the allowed paths) and no skipped minor version. Denials are rendered like
//! `apierrors.NewInvalid` with `field.Error`s, including CAPI's quirk of qualifying the kind with
//! the core group (`KubeadmControlPlane.cluster.x-k8s.io`).
//! Source: `controlplane/kubeadm/webhooks/admission/kubeadmcontrolplane.go`.
//!
//! Simplifications: the CoreDNS image-tag / migration checks, taint and metadata validation and
//! the KubeadmConfigSpec validation shared with CABPK are not modelled. Go's `omitempty` is
//! approximated by ignoring empty values when diffing old and new objects.

use crate::features::FeatureGates;
use crate::kinds::Kind;
use crate::object::Object;
use crate::store::api::{AdmissionRequest, Operation, Webhook};
use crate::store::Store;
use serde_json::{json, Map, Value};

/// The webhooks of this module.
pub fn webhooks() -> Vec<Box<dyn Webhook>> {
    vec![Box::new(KcpWebhook)]
}

/// `DefaultCACertificatesExpiryDays`.
const DEFAULT_CA_CERTIFICATE_DAYS: i64 = 3650;

/// The KubeadmControlPlane webhook pair.
pub struct KcpWebhook;

/// One `field.Error`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FieldError {
    /// `Required value`.
    Required(String, String),
    /// `Forbidden`.
    Forbidden(String, String),
    /// `Invalid value` with the rendered bad value.
    Invalid(String, String, String),
    /// `Internal error`.
    Internal(String, String),
}

impl FieldError {
    /// As `field.Error.Error()` prints it.
    pub fn render(&self) -> String {
        let (path, body, detail) = match self {
            FieldError::Required(p, d) => (p, "Required value".to_string(), d),
            FieldError::Forbidden(p, d) => (p, "Forbidden".to_string(), d),
            FieldError::Invalid(p, v, d) => (p, format!("Invalid value: {v}"), d),
            FieldError::Internal(p, d) => (p, "Internal error".to_string(), d),
        };
        if detail.is_empty() {
            format!("{path}: {body}")
        } else {
            format!("{path}: {body}: {detail}")
        }
    }
}

/// A Go `%q` of a string (close enough: JSON string escaping).
fn quoted(s: &str) -> String {
    Value::String(s.to_string()).to_string()
}

/// `apierrors.NewInvalid(...).Error()` for a list of field errors (deduplicated, in order).
pub fn invalid(name: &str, errs: &[FieldError]) -> String {
    let mut msgs: Vec<String> = Vec::new();
    for e in errs {
        let r = e.render();
        if !msgs.contains(&r) {
            msgs.push(r);
        }
    }
    let agg = if msgs.len() == 1 { msgs[0].clone() } else { format!("[{}]", msgs.join(", ")) };
    format!("KubeadmControlPlane.cluster.x-k8s.io {} is invalid: {agg}", quoted(name))
}

impl Webhook for KcpWebhook {
    fn kind(&self) -> Kind {
        Kind::KubeadmControlPlane
    }
    fn name(&self) -> &'static str {
        "validation.kubeadmcontrolplane.controlplane.cluster.x-k8s.io"
    }
    fn manager(&self) -> &'static str {
        "kubeadm-control-plane"
    }
    fn default(&self, _op: Operation, obj: &mut Object, _store: &Store, _gates: &FeatureGates) {
        default_kcp(obj);
    }
    fn validate(&self, req: &AdmissionRequest<'_>) -> Result<Vec<String>, String> {
        let errs = match req.op {
            Operation::Create => {
                let mut e = validate_spec(req.object);
                e.extend(validate_cluster_configuration(None, req.object));
                e
            }
            Operation::Update => {
                let mut e = validate_spec(req.object);
                if let Some(old) = req.old {
                    e.extend(immutable_fields(old, req.object));
                    e.extend(validate_version_update(old, req.object));
                    e.extend(validate_cluster_configuration(Some(old), req.object));
                }
                e
            }
            Operation::Delete => Vec::new(),
        };
        if errs.is_empty() {
            Ok(Vec::new())
        } else {
            Err(invalid(req.object.name(), &errs))
        }
    }
}

/// The defaulting webhook.
pub fn default_kcp(obj: &mut Object) {
    if obj.at("/spec/replicas").is_none_or(Value::is_null) {
        obj.set("/spec/replicas", json!(1));
    }
    let v = obj.str_at("/spec/version").unwrap_or("").to_string();
    if !v.starts_with('v') {
        obj.set("/spec/version", json!(format!("v{v}")));
    }
    obj.set("/spec/rollout/strategy/type", json!("RollingUpdate"));
    if obj.at("/spec/rollout/strategy/rollingUpdate/maxSurge").is_none_or(Value::is_null) {
        obj.set("/spec/rollout/strategy/rollingUpdate/maxSurge", json!(1));
    }
}

fn external_etcd(obj: &Object) -> bool {
    obj.at("/spec/kubeadmConfigSpec/clusterConfiguration/etcd/external").is_some_and(|e| e.as_object().is_some_and(|m| !m.is_empty()))
}

fn local_etcd(obj: &Object) -> bool {
    obj.at("/spec/kubeadmConfigSpec/clusterConfiguration/etcd/local").is_some_and(|e| e.as_object().is_some_and(|m| !m.is_empty()))
}

/// `intstr.IntValue`.
fn int_value(v: &Value) -> i64 {
    match v {
        Value::Number(n) => n.as_i64().unwrap_or(0),
        Value::String(s) => s.trim().parse().unwrap_or(0),
        _ => 0,
    }
}

/// `validateKubeadmControlPlaneSpec`.
pub fn validate_spec(obj: &Object) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let replicas = obj.i64_at("/spec/replicas");
    match replicas {
        None => errs.push(FieldError::Required("spec.replicas".into(), "is required".into())),
        Some(r) if r <= 0 => errs.push(FieldError::Forbidden("spec.replicas".into(), "cannot be less than or equal to 0".into())),
        _ => {}
    }
    if !external_etcd(obj) && replicas.is_some_and(|r| r % 2 == 0) {
        errs.push(FieldError::Forbidden("spec.replicas".into(), "cannot be an even number when etcd is stacked".into()));
    }
    for f in ["apiGroup", "kind", "name"] {
        let v = obj.str_at(&format!("/spec/machineTemplate/spec/infrastructureRef/{f}")).unwrap_or("");
        if v.is_empty() {
            errs.push(FieldError::Invalid(format!("spec.machineTemplate.infrastructure.{f}"), quoted(v), "cannot be empty".into()));
        }
    }
    let version = obj.str_at("/spec/version").unwrap_or("");
    if !version.starts_with('v') {
        errs.push(FieldError::Invalid("spec.version".into(), quoted(version), "must start with v".into()));
    }
    if semver::Version::parse(version.strip_prefix('v').unwrap_or(version)).is_err() {
        errs.push(FieldError::Invalid("spec.version".into(), quoted(version), "must be a valid semantic version".into()));
    }
    errs.extend(validate_rollout(obj, replicas));
    if let Some(t) = obj.str_at("/spec/machineNaming/template").filter(|t| !t.is_empty()) {
        if !t.contains("{{ .random }}") {
            errs.push(FieldError::Invalid(
                "spec.machineNaming.template".into(),
                quoted(t),
                "invalid template, {{ .random }} is missing".into(),
            ));
        }
    }
    errs
}

/// `validateRolloutAndCertValidityFields`.
fn validate_rollout(obj: &Object, replicas: Option<i64>) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let strategy = obj.at("/spec/rollout/strategy").filter(|s| s.as_object().is_some_and(|m| !m.is_empty()));
    if strategy.is_none() {
        return errs;
    }
    if obj.str_at("/spec/rollout/strategy/type") != Some("RollingUpdate") {
        errs.push(FieldError::Required("spec.rollout.strategy.type".into(), "only RollingUpdate is supported".into()));
    }
    if let Some(ms) = obj.at("/spec/rollout/strategy/rollingUpdate/maxSurge").filter(|v| !v.is_null()) {
        let v = int_value(ms);
        if v == 0 && replicas.is_some_and(|r| r < 3) {
            errs.push(FieldError::Required(
                "spec.rollout.strategy.rollingUpdate".into(),
                "when KubeadmControlPlane is configured to scale-in, replica count needs to be at least 3".into(),
            ));
        }
        if v != 0 && v != 1 {
            errs.push(FieldError::Required("spec.rollout.strategy.rollingUpdate.maxSurge".into(), "value must be 1 or 0".into()));
        }
    }
    let cc = "/spec/kubeadmConfigSpec/clusterConfiguration";
    let validity = obj.i64_at(&format!("{cc}/certificateValidityPeriodDays")).unwrap_or(0);
    if validity != 0 {
        let ca = obj.i64_at(&format!("{cc}/caCertificateValidityPeriodDays")).unwrap_or(0);
        let path = "spec.kubeadmConfigSpec.clusterConfiguration.certificateValidityPeriodDays".to_string();
        if ca != 0 {
            if validity > ca {
                errs.push(FieldError::Invalid(
                    path,
                    validity.to_string(),
                    format!("must be less than or equal to caCertificateValidityPeriodDays ({ca})"),
                ));
            }
        } else if validity > DEFAULT_CA_CERTIFICATE_DAYS {
            errs.push(FieldError::Invalid(
                path,
                validity.to_string(),
                format!(
                    "must be less than or equal to the default value of caCertificateValidityPeriodDays ({DEFAULT_CA_CERTIFICATE_DAYS})"
                ),
            ));
        }
        let before = obj.i64_at("/spec/rollout/before/certificatesExpiryDays").unwrap_or(0);
        if before != 0 && before >= validity {
            errs.push(FieldError::Invalid(
                "spec.rollout.before.certificatesExpiryDays".into(),
                before.to_string(),
                format!("must be less than certificateValidityPeriodDays ({validity})"),
            ));
        }
    }
    errs
}

/// `validateClusterConfiguration` (etcd parts).
fn validate_cluster_configuration(old: Option<&Object>, new: &Object) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if local_etcd(new) && external_etcd(new) {
        errs.push(FieldError::Forbidden(
            "spec.kubeadmConfigSpec.clusterConfiguration.etcd.local".into(),
            "cannot have both external and local etcd".into(),
        ));
    }
    if let Some(old) = old {
        if external_etcd(old) != external_etcd(new) {
            errs.push(FieldError::Forbidden(
                "spec.kubeadmConfigSpec.clusterConfiguration.etcd.external".into(),
                "cannot change between external and local etcd".into(),
            ));
        }
    }
    errs
}

/// `validateVersion`: no update that reaches two minors above the current version.
fn validate_version_update(old: &Object, new: &Object) -> Vec<FieldError> {
    let from_s = old.str_at("/spec/version").unwrap_or("");
    let to_s = new.str_at("/spec/version").unwrap_or("");
    let Some(from) = crate::controllers::common::parse_version(from_s) else {
        return vec![FieldError::Internal(
            "spec.version".into(),
            format!("failed to parse current kubeadmcontrolplane version: {from_s}: Invalid character(s) found in major number"),
        )];
    };
    let Some(to) = crate::controllers::common::parse_version(to_s) else {
        return vec![FieldError::Internal(
            "spec.version".into(),
            format!("failed to parse updated kubeadmcontrolplane version: {to_s}: Invalid character(s) found in major number"),
        )];
    };
    if (to.major, to.minor, to.patch) >= (from.major, from.minor + 2, 0) {
        return vec![FieldError::Forbidden("spec.version".into(), format!("cannot update Kubernetes version from {from_s} to {to_s}"))];
    }
    Vec::new()
}

const SPEC: &str = "spec";
const KCS: &str = "kubeadmConfigSpec";
const CC: &str = "clusterConfiguration";
const IC: &str = "initConfiguration";
const JC: &str = "joinConfiguration";

/// The paths an update may change (`*` allows everything below).
fn allowed_paths() -> Vec<Vec<&'static str>> {
    let mut v: Vec<Vec<&'static str>> = vec![vec!["metadata", "*"]];
    for p in [
        vec!["etcd"],
        vec!["etcd", "*"],
        vec!["etcd", "local"],
        vec!["etcd", "local", "*"],
        vec!["etcd", "external", "*"],
        vec!["dns"],
        vec!["dns", "*"],
        vec!["imageRepository"],
        vec!["featureGates"],
        vec!["featureGates", "*"],
        vec!["apiServer"],
        vec!["apiServer", "*"],
        vec!["controllerManager"],
        vec!["controllerManager", "*"],
        vec!["scheduler"],
        vec!["scheduler", "*"],
        vec!["certificateValidityPeriodDays"],
        vec!["encryptionAlgorithm"],
    ] {
        let mut full = vec![SPEC, KCS, CC];
        full.extend(p);
        v.push(full);
    }
    for p in [
        vec!["nodeRegistration"],
        vec!["nodeRegistration", "*"],
        vec!["patches", "directory"],
        vec!["patches"],
        vec!["skipPhases"],
        vec!["bootstrapTokens"],
        vec!["localAPIEndpoint"],
        vec!["localAPIEndpoint", "*"],
        vec!["timeouts"],
        vec!["timeouts", "*"],
    ] {
        let mut full = vec![SPEC, KCS, IC];
        full.extend(p);
        v.push(full);
    }
    for p in [
        vec!["nodeRegistration"],
        vec!["nodeRegistration", "*"],
        vec!["patches", "directory"],
        vec!["patches"],
        vec!["skipPhases"],
        vec!["caCertPath"],
        vec!["controlPlane"],
        vec!["controlPlane", "*"],
        vec!["discovery"],
        vec!["discovery", "*"],
        vec!["timeouts"],
        vec!["timeouts", "*"],
    ] {
        let mut full = vec![SPEC, KCS, JC];
        full.extend(p);
        v.push(full);
    }
    for p in [
        vec!["bootCommands"],
        vec!["preKubeadmCommands"],
        vec!["postKubeadmCommands"],
        vec!["files"],
        vec!["verbosity"],
        vec!["users"],
        vec!["ntp"],
        vec!["ntp", "*"],
        vec!["ignition"],
        vec!["ignition", "*"],
        vec!["diskSetup"],
        vec!["diskSetup", "*"],
        vec!["format"],
        vec!["mounts"],
    ] {
        let mut full = vec![SPEC, KCS];
        full.extend(p);
        v.push(full);
    }
    for p in [
        vec!["machineTemplate", "metadata"],
        vec!["machineTemplate", "metadata", "*"],
        vec!["machineTemplate", "spec"],
        vec!["machineTemplate", "spec", "*"],
        vec!["replicas"],
        vec!["version"],
        vec!["remediation"],
        vec!["remediation", "*"],
        vec!["machineNaming"],
        vec!["machineNaming", "*"],
        vec!["rollout"],
        vec!["rollout", "*"],
    ] {
        let mut full = vec![SPEC];
        full.extend(p);
        v.push(full);
    }
    v
}

/// `pathsMatch`.
fn paths_match(allowed: &[&str], path: &[String]) -> bool {
    if allowed.is_empty() || path.is_empty() {
        return false;
    }
    let mut i = 0;
    for (j, seg) in path.iter().enumerate() {
        i = j;
        if j > allowed.len() - 1 {
            return false;
        }
        if allowed[j] == "*" {
            return true;
        }
        if seg != allowed[j] {
            return false;
        }
    }
    i >= allowed.len() - 1
}

/// Drop empty values (Go's `omitempty`).
fn prune(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for x in m.values_mut() {
                prune(x);
            }
            m.retain(|_, x| {
                !matches!(x, Value::Null) && !x.as_object().is_some_and(Map::is_empty) && !x.as_array().is_some_and(Vec::is_empty)
            });
        }
        Value::Array(a) => a.iter_mut().for_each(prune),
        _ => {}
    }
}

/// RFC 7386 merge patch from `old` to `new` (`None` = no change).
fn merge_patch(old: &Value, new: &Value) -> Option<Value> {
    match (old, new) {
        (Value::Object(o), Value::Object(n)) => {
            let mut p = Map::new();
            for k in o.keys().filter(|k| !n.contains_key(*k)) {
                p.insert(k.clone(), Value::Null);
            }
            for (k, nv) in n {
                match o.get(k) {
                    None => {
                        p.insert(k.clone(), nv.clone());
                    }
                    Some(ov) => {
                        if let Some(d) = merge_patch(ov, nv) {
                            p.insert(k.clone(), d);
                        }
                    }
                }
            }
            (!p.is_empty()).then_some(Value::Object(p))
        }
        _ => (old != new).then(|| new.clone()),
    }
}

/// `paths`: leaf paths of a merge patch (maps are descended, everything else is a leaf).
fn patch_paths(prefix: &mut Vec<String>, v: &Map<String, Value>, out: &mut Vec<Vec<String>>) {
    for (k, x) in v {
        prefix.push(k.clone());
        match x {
            Value::Object(m) => patch_paths(prefix, m, out),
            _ => out.push(prefix.clone()),
        }
        prefix.pop();
    }
}

/// The Forbidden errors for changed paths outside the allowed list (sorted for determinism).
fn immutable_fields(old: &Object, new: &Object) -> Vec<FieldError> {
    let (mut o, mut n) = (old.to_json(), new.to_json());
    for v in [&mut o, &mut n] {
        if let Some(m) = v.as_object_mut() {
            m.remove("status");
        }
        prune(v);
    }
    let Some(Value::Object(p)) = merge_patch(&o, &n) else { return Vec::new() };
    let mut paths = Vec::new();
    patch_paths(&mut Vec::new(), &p, &mut paths);
    paths.sort();
    let allowed = allowed_paths();
    paths
        .into_iter()
        .filter(|path| !allowed.iter().any(|a| paths_match(a, path)))
        .map(|path| FieldError::Forbidden(path.join("."), "cannot be modified".into()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::api::{AdmissionRequest, Operation};
    use rstest::rstest;

    fn kcp(spec: Value) -> Object {
        let mut o = Object::from_json(&json!({
            "apiVersion": "controlplane.cluster.x-k8s.io/v1beta2", "kind": "KubeadmControlPlane",
            "metadata": {"name": "cp", "namespace": "default"},
            "spec": {
                "version": "v1.30.0",
                "machineTemplate": {"spec": {"infrastructureRef": {"apiGroup": "infrastructure.cluster.x-k8s.io", "kind": "DockerMachineTemplate", "name": "t"}}},
                "kubeadmConfigSpec": {"clusterConfiguration": {"certificatesDir": "/etc/kubernetes/pki"}}
            }
        }))
        .unwrap();
        if let (Some(m), Value::Object(extra)) = (o.body.get_mut("spec").and_then(Value::as_object_mut), spec) {
            for (k, v) in extra {
                m.insert(k, v);
            }
        }
        default_kcp(&mut o);
        o
    }

    fn check(op: Operation, obj: &Object, old: Option<&Object>) -> Result<Vec<String>, String> {
        let store = Store::new(1);
        let gates = FeatureGates::default();
        KcpWebhook.validate(&AdmissionRequest { op, object: obj, old, store: &store, gates: &gates })
    }

    #[test]
    fn defaults_replicas_version_and_rollout() {
        let mut o = Object::new(Kind::KubeadmControlPlane, "default", "cp");
        o.set("/spec/version", json!("1.30.0"));
        default_kcp(&mut o);
        assert_eq!(o.i64_at("/spec/replicas"), Some(1));
        assert_eq!(o.str_at("/spec/version"), Some("v1.30.0"));
        assert_eq!(o.str_at("/spec/rollout/strategy/type"), Some("RollingUpdate"));
        assert_eq!(o.i64_at("/spec/rollout/strategy/rollingUpdate/maxSurge"), Some(1));
    }

    #[rstest]
    #[case::ok(json!({"replicas": 3}), None)]
    #[case::zero(json!({"replicas": 0}), Some(r#"KubeadmControlPlane.cluster.x-k8s.io "cp" is invalid: [spec.replicas: Forbidden: cannot be less than or equal to 0, spec.replicas: Forbidden: cannot be an even number when etcd is stacked]"#))]
    #[case::even(json!({"replicas": 2}), Some(r#"KubeadmControlPlane.cluster.x-k8s.io "cp" is invalid: spec.replicas: Forbidden: cannot be an even number when etcd is stacked"#))]
    #[case::even_external_etcd(json!({"replicas": 2, "kubeadmConfigSpec": {"clusterConfiguration": {"etcd": {"external": {"endpoints": ["https://e:2379"]}}}}}), None)]
    #[case::surge0_small(json!({"replicas": 1, "rollout": {"strategy": {"rollingUpdate": {"maxSurge": 0}}}}), Some(r#"KubeadmControlPlane.cluster.x-k8s.io "cp" is invalid: spec.rollout.strategy.rollingUpdate: Required value: when KubeadmControlPlane is configured to scale-in, replica count needs to be at least 3"#))]
    #[case::surge0_three(json!({"replicas": 3, "rollout": {"strategy": {"rollingUpdate": {"maxSurge": 0}}}}), None)]
    #[case::surge2(json!({"replicas": 3, "rollout": {"strategy": {"rollingUpdate": {"maxSurge": 2}}}}), Some(r#"KubeadmControlPlane.cluster.x-k8s.io "cp" is invalid: spec.rollout.strategy.rollingUpdate.maxSurge: Required value: value must be 1 or 0"#))]
    #[case::bad_version(json!({"replicas": 1, "version": "v1.30"}), Some(r#"KubeadmControlPlane.cluster.x-k8s.io "cp" is invalid: spec.version: Invalid value: "v1.30": must be a valid semantic version"#))]
    #[case::no_infra_name(json!({"replicas": 1, "machineTemplate": {"spec": {"infrastructureRef": {"apiGroup": "infrastructure.cluster.x-k8s.io", "kind": "DockerMachineTemplate"}}}}), Some(r#"KubeadmControlPlane.cluster.x-k8s.io "cp" is invalid: spec.machineTemplate.infrastructure.name: Invalid value: "": cannot be empty"#))]
    #[case::both_etcd(json!({"replicas": 1, "kubeadmConfigSpec": {"clusterConfiguration": {"etcd": {"local": {"dataDir": "/x"}, "external": {"endpoints": ["e"]}}}}}), Some(r#"KubeadmControlPlane.cluster.x-k8s.io "cp" is invalid: spec.kubeadmConfigSpec.clusterConfiguration.etcd.local: Forbidden: cannot have both external and local etcd"#))]
    #[case::naming(json!({"replicas": 1, "machineNaming": {"template": "{{ .kubeadmControlPlane.name }}"}}), Some(r#"KubeadmControlPlane.cluster.x-k8s.io "cp" is invalid: spec.machineNaming.template: Invalid value: "{{ .kubeadmControlPlane.name }}": invalid template, {{ .random }} is missing"#))]
    fn create_answers(#[case] spec: Value, #[case] want: Option<&str>) {
        let got = check(Operation::Create, &kcp(spec), None);
        assert_eq!(got.err().as_deref(), want);
    }

    #[rstest]
    #[case::scale(json!({"replicas": 5}), None)]
    #[case::next_minor(json!({"version": "v1.31.4"}), None)]
    #[case::skip_minor(json!({"version": "v1.32.0"}), Some(r#"KubeadmControlPlane.cluster.x-k8s.io "cp" is invalid: spec.version: Forbidden: cannot update Kubernetes version from v1.30.0 to v1.32.0"#))]
    #[case::downgrade(json!({"version": "v1.29.0"}), None)]
    #[case::api_server_args(json!({"kubeadmConfigSpec": {"clusterConfiguration": {"certificatesDir": "/etc/kubernetes/pki", "apiServer": {"extraArgs": [{"name": "v", "value": "2"}]}}}}), None)]
    #[case::certificates_dir(json!({"kubeadmConfigSpec": {"clusterConfiguration": {"certificatesDir": "/other"}}}), Some(r#"KubeadmControlPlane.cluster.x-k8s.io "cp" is invalid: spec.kubeadmConfigSpec.clusterConfiguration.certificatesDir: Forbidden: cannot be modified"#))]
    #[case::machine_template(json!({"machineTemplate": {"spec": {"infrastructureRef": {"apiGroup": "infrastructure.cluster.x-k8s.io", "kind": "DockerMachineTemplate", "name": "t2"}}}}), None)]
    #[case::to_external_etcd(json!({"kubeadmConfigSpec": {"clusterConfiguration": {"certificatesDir": "/etc/kubernetes/pki", "etcd": {"external": {"endpoints": ["e"]}}}}}), Some(r#"KubeadmControlPlane.cluster.x-k8s.io "cp" is invalid: spec.kubeadmConfigSpec.clusterConfiguration.etcd.external: Forbidden: cannot change between external and local etcd"#))]
    fn update_answers(#[case] spec: Value, #[case] want: Option<&str>) {
        let old = kcp(json!({"replicas": 3}));
        let mut new = kcp(json!({"replicas": 3}));
        if let (Some(m), Value::Object(extra)) = (new.body.get_mut("spec").and_then(Value::as_object_mut), spec) {
            for (k, v) in extra {
                m.insert(k, v);
            }
        }
        default_kcp(&mut new);
        let got = check(Operation::Update, &new, Some(&old));
        assert_eq!(got.err().as_deref(), want);
    }

    #[rstest]
    #[case(&["spec", "replicas"], &["spec", "replicas"], true)]
    #[case(&["spec", "rollout", "*"], &["spec", "rollout", "after"], true)]
    #[case(&["spec", "kubeadmConfigSpec", "clusterConfiguration", "etcd"], &["spec", "kubeadmConfigSpec"], false)]
    #[case(&["spec", "kubeadmConfigSpec", "files"], &["spec", "kubeadmConfigSpec", "files", "x"], false)]
    fn allowed_path_matching(#[case] allowed: &[&str], #[case] path: &[&str], #[case] ok: bool) {
        let p: Vec<String> = path.iter().map(|s| s.to_string()).collect();
        assert_eq!(paths_match(allowed, &p), ok);
    }
}

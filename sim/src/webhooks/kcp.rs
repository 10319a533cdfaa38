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
//! Also: the machine template's taints and metadata, image tags, the KubeadmConfigSpec validation
//! shared with CABPK (`webhooks/cabpk.rs`, with KCP's timeout rule), and the `/scale` webhook
//! (`validation-scale.kubeadmcontrolplane...`: replicas > 0, odd with stacked etcd). The immutable
//! paths of an update are in `kcp_update.rs`.
//! Sources: `controlplane/kubeadm/webhooks/admission/{kubeadmcontrolplane.go,kubeadmcontrolplane_scale.go}`.
//!
//! Simplifications: CoreDNS upgrades are checked for parseable tags only, not against CoreDNS's
//! migration table (`migration.ValidUpMigration`); the naming template understands the three
//! variables KCP documents; blang/semver's parse errors are restated for the numeric parts only.

use super::cabpk;
use super::kcp_update::immutable_fields;
use super::meta::{dns1123_subdomain_errors, machine_taint_errors, semver_parse_tolerant, template_metadata_errors};
use crate::controllers::topology::field::{aggregate, go_quote, FPath, FieldError};
use crate::features::FeatureGates;
use crate::kinds::Kind;
use crate::object::Object;
use crate::store::api::{AdmissionRequest, Operation, Webhook};
use crate::store::Store;
use serde_json::{json, Value};

/// The webhooks of this module.
pub fn webhooks() -> Vec<Box<dyn Webhook>> {
    vec![Box::new(KcpWebhook)]
}

/// `DefaultCACertificatesExpiryDays`.
const DEFAULT_CA_CERTIFICATE_DAYS: i64 = 3650;

/// The KubeadmControlPlane webhook pair.
pub struct KcpWebhook;

/// `field.Required` at a dotted path.
pub(crate) fn req(p: String, d: String) -> FieldError {
    FieldError::required(FPath::new(&[p.as_str()]), d)
}
/// `field.Forbidden` at a dotted path.
pub(crate) fn forb(p: String, d: String) -> FieldError {
    FieldError::forbidden(FPath::new(&[p.as_str()]), d)
}
/// `field.Invalid` at a dotted path, with the value already rendered.
pub(crate) fn inv(p: String, v: String, d: String) -> FieldError {
    FieldError::invalid_raw(FPath::new(&[p.as_str()]), v, d)
}
/// `field.InternalError` at a dotted path.
fn internal(p: String, d: String) -> FieldError {
    FieldError::internal(FPath::new(&[p.as_str()]), d)
}

/// A Go `%q` of a string.
pub(crate) fn quoted(s: &str) -> String {
    go_quote(s)
}

/// `apierrors.NewInvalid(...).Error()` for a list of field errors (deduplicated, in order), with
/// CAPI's quirk of qualifying the kind with the core group.
pub fn invalid(name: &str, errs: &[FieldError]) -> String {
    format!("KubeadmControlPlane.cluster.x-k8s.io {} is invalid: {}", go_quote(name), aggregate(errs))
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
        let new = req.object;
        let kcs = new.at("/spec/kubeadmConfigSpec").cloned().unwrap_or(Value::Null);
        let kcs_path = FPath::new(&["spec", "kubeadmConfigSpec"]);
        let errs = match (req.op, req.old) {
            (Operation::Create, _) => {
                let mut e = validate_spec(new, req.gates);
                e.extend(validate_cluster_configuration(None, new, SPEC));
                e.extend(cabpk::validate_spec(&kcs, true, &kcs_path, req.gates));
                e
            }
            (Operation::Update, Some(old)) => {
                let mut e = validate_spec(new, req.gates);
                e.extend(immutable_fields(old, new));
                e.extend(validate_version_update(old, new));
                e.extend(validate_cluster_configuration(Some(old), new, SPEC));
                e.extend(validate_coredns_update(old, new));
                e.extend(cabpk::validate_spec(&kcs, true, &kcs_path, req.gates));
                e
            }
            _ => Vec::new(),
        };
        if errs.is_empty() {
            Ok(Vec::new())
        } else {
            Err(invalid(new.name(), &errs))
        }
    }
    fn scale_name(&self) -> Option<&'static str> {
        Some("validation-scale.kubeadmcontrolplane.controlplane.cluster.x-k8s.io")
    }
    /// `ScaleValidator.Handle` (`kubeadmcontrolplane_scale.go`): denials are plain messages.
    fn validate_scale(&self, obj: &Object, replicas: i64) -> Result<(), String> {
        if replicas <= 0 {
            return Err("replicas should be greater than zero".into());
        }
        if !external_etcd(obj, SPEC) && replicas % 2 == 0 {
            return Err("replicas cannot be an even number when etcd is stacked".into());
        }
        Ok(())
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

/// The pointer of the KCP spec (`/spec`; `/spec/template/spec` in a KubeadmControlPlaneTemplate).
pub(crate) const SPEC: &str = "/spec";

/// The field path of a spec pointer (`/spec/template/spec` → `spec.template.spec`).
pub(crate) fn path_of(base: &str, rest: &str) -> String {
    format!("{}{rest}", base.trim_start_matches('/').replace('/', "."))
}

pub(crate) fn external_etcd(obj: &Object, base: &str) -> bool {
    obj.at(&format!("{base}/kubeadmConfigSpec/clusterConfiguration/etcd/external"))
        .is_some_and(|e| e.as_object().is_some_and(|m| !m.is_empty()))
}

fn local_etcd(obj: &Object, base: &str) -> bool {
    obj.at(&format!("{base}/kubeadmConfigSpec/clusterConfiguration/etcd/local"))
        .is_some_and(|e| e.as_object().is_some_and(|m| !m.is_empty()))
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
pub fn validate_spec(obj: &Object, gates: &FeatureGates) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let replicas = obj.i64_at("/spec/replicas");
    match replicas {
        None => errs.push(req("spec.replicas".into(), "is required".into())),
        Some(r) if r <= 0 => errs.push(forb("spec.replicas".into(), "cannot be less than or equal to 0".into())),
        _ => {}
    }
    if !external_etcd(obj, SPEC) && replicas.is_some_and(|r| r % 2 == 0) {
        errs.push(forb("spec.replicas".into(), "cannot be an even number when etcd is stacked".into()));
    }
    for f in ["apiGroup", "kind", "name"] {
        let v = obj.str_at(&format!("/spec/machineTemplate/spec/infrastructureRef/{f}")).unwrap_or("");
        if v.is_empty() {
            errs.push(inv(format!("spec.machineTemplate.infrastructure.{f}"), quoted(v), "cannot be empty".into()));
        }
    }
    errs.extend(machine_template_errors(obj, SPEC, gates));
    let version = obj.str_at("/spec/version").unwrap_or("");
    if !version.starts_with('v') {
        errs.push(inv("spec.version".into(), quoted(version), "must start with v".into()));
    }
    if semver::Version::parse(version.strip_prefix('v').unwrap_or(version)).is_err() {
        errs.push(inv("spec.version".into(), quoted(version), "must be a valid semantic version".into()));
    }
    errs.extend(validate_rollout(obj, SPEC, replicas));
    errs.extend(naming_errors(obj, SPEC));
    errs
}

/// The machine template's taints and metadata (`ValidateMachineTaints`, `ObjectMeta.Validate`).
pub(crate) fn machine_template_errors(obj: &Object, base: &str, gates: &FeatureGates) -> Vec<FieldError> {
    let mt = FPath::new(&[&path_of(base, ".machineTemplate")]);
    let mut errs =
        machine_taint_errors(obj, &format!("{base}/machineTemplate/spec/taints"), &mt.child("spec").child("taints"), gates, true);
    errs.extend(template_metadata_errors(obj, &format!("{base}/machineTemplate/metadata"), &mt.child("metadata")));
    errs
}

/// `validateNaming` (KCP's machine names: `{{ .cluster.name }}`, `{{ .kubeadmControlPlane.name }}`,
/// `{{ .random }}`).
pub(crate) fn naming_errors(obj: &Object, base: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let Some(t) = obj.str_at(&format!("{base}/machineNaming/template")).filter(|t| !t.is_empty()) else { return errs };
    let p = path_of(base, ".machineNaming.template");
    if !t.contains("{{ .random }}") {
        errs.push(inv(p.clone(), quoted(t), "invalid template, {{ .random }} is missing".into()));
    }
    let name = t
        .replace("{{ .cluster.name }}", "cluster")
        .replace("{{ .kubeadmControlPlane.name }}", "kubeadmcontrolplane")
        .replace("{{ .random }}", "abcde");
    if name.contains("{{") {
        errs.push(inv(p, quoted(t), format!("invalid template: unsupported template {}", quoted(t))));
    } else {
        for e in dns1123_subdomain_errors(&name) {
            errs.push(inv(
                p.clone(),
                quoted(t),
                format!("invalid template, generated names would not be valid Kubernetes object names: {e}"),
            ));
        }
    }
    errs
}

/// `validateRolloutAndCertValidityFields` (`replicas` is `None` for a template).
pub(crate) fn validate_rollout(obj: &Object, base: &str, replicas: Option<i64>) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let strategy = obj.at(&format!("{base}/rollout/strategy")).filter(|s| s.as_object().is_some_and(|m| !m.is_empty()));
    if strategy.is_none() {
        return errs;
    }
    if obj.str_at(&format!("{base}/rollout/strategy/type")) != Some("RollingUpdate") {
        errs.push(req(path_of(base, ".rollout.strategy.type"), "only RollingUpdate is supported".into()));
    }
    if let Some(ms) = obj.at(&format!("{base}/rollout/strategy/rollingUpdate/maxSurge")).filter(|v| !v.is_null()) {
        let v = int_value(ms);
        if v == 0 && replicas.is_some_and(|r| r < 3) {
            errs.push(req(
                path_of(base, ".rollout.strategy.rollingUpdate"),
                "when KubeadmControlPlane is configured to scale-in, replica count needs to be at least 3".into(),
            ));
        }
        if v != 0 && v != 1 {
            errs.push(req(path_of(base, ".rollout.strategy.rollingUpdate.maxSurge"), "value must be 1 or 0".into()));
        }
    }
    let cc = format!("{base}/kubeadmConfigSpec/clusterConfiguration");
    let validity = obj.i64_at(&format!("{cc}/certificateValidityPeriodDays")).unwrap_or(0);
    if validity != 0 {
        let ca = obj.i64_at(&format!("{cc}/caCertificateValidityPeriodDays")).unwrap_or(0);
        let path = path_of(base, ".kubeadmConfigSpec.clusterConfiguration.certificateValidityPeriodDays");
        if ca != 0 {
            if validity > ca {
                errs.push(inv(path, validity.to_string(), format!("must be less than or equal to caCertificateValidityPeriodDays ({ca})")));
            }
        } else if validity > DEFAULT_CA_CERTIFICATE_DAYS {
            errs.push(inv(
                path,
                validity.to_string(),
                format!(
                    "must be less than or equal to the default value of caCertificateValidityPeriodDays ({DEFAULT_CA_CERTIFICATE_DAYS})"
                ),
            ));
        }
        let before = obj.i64_at(&format!("{base}/rollout/before/certificatesExpiryDays")).unwrap_or(0);
        if before != 0 && before >= validity {
            errs.push(inv(
                path_of(base, ".rollout.before.certificatesExpiryDays"),
                before.to_string(),
                format!("must be less than certificateValidityPeriodDays ({validity})"),
            ));
        }
    }
    errs
}

/// `container.ImageTagIsValid`: no character outside `[-a-zA-Z0-9_.]`.
fn image_tag_valid(tag: &str) -> bool {
    tag.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// `validateClusterConfiguration`: image tags, local vs external etcd (and, on update, no switch).
pub(crate) fn validate_cluster_configuration(old: Option<&Object>, new: &Object, base: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let cc = format!("{base}/kubeadmConfigSpec/clusterConfiguration");
    let dns_tag = new.str_at(&format!("{cc}/dns/imageTag")).unwrap_or("");
    if !image_tag_valid(dns_tag) {
        errs.push(forb(path_of(base, ".kubeadmConfigSpec.clusterConfiguration.dns.imageTag"), format!("tag {dns_tag} is invalid")));
    }
    if !dns_tag.is_empty() {
        if let Err(e) = parse_tolerant_image_tag(dns_tag) {
            // CAPI builds this path without the prefix.
            errs.push(inv("dns.imageTag".into(), quoted(dns_tag), format!("failed to parse CoreDNS version: {e}")));
        }
    }
    let etcd_tag = new.str_at(&format!("{cc}/etcd/local/imageTag")).unwrap_or("");
    if local_etcd(new, base) && !image_tag_valid(etcd_tag) {
        errs.push(forb(path_of(base, ".kubeadmConfigSpec.clusterConfiguration.etcd.local.imageTag"), format!("tag {etcd_tag} is invalid")));
    }
    if local_etcd(new, base) && external_etcd(new, base) {
        errs.push(forb(
            path_of(base, ".kubeadmConfigSpec.clusterConfiguration.etcd.local"),
            "cannot have both external and local etcd".into(),
        ));
    }
    if let Some(old) = old {
        if external_etcd(old, base) != external_etcd(new, base) {
            errs.push(forb(
                path_of(base, ".kubeadmConfigSpec.clusterConfiguration.etcd.external"),
                "cannot change between external and local etcd".into(),
            ));
        }
    }
    errs
}

/// `validateCoreDNSVersion` (the parse checks; CoreDNS's migration table is not modelled).
fn validate_coredns_update(old: &Object, new: &Object) -> Vec<FieldError> {
    let ptr = "/spec/kubeadmConfigSpec/clusterConfiguration/dns/imageTag";
    let (from, to) = (old.str_at(ptr).unwrap_or(""), new.str_at(ptr).unwrap_or(""));
    if from.is_empty() || to.is_empty() {
        return Vec::new();
    }
    let path = "spec.kubeadmConfigSpec.clusterConfiguration.dns.imageTag".to_string();
    if let Err(e) = parse_tolerant_image_tag(from) {
        return vec![inv(path, quoted(from), format!("failed to parse current CoreDNS version: {e}"))];
    }
    if let Err(e) = parse_tolerant_image_tag(to) {
        return vec![inv(path, quoted(to), format!("failed to parse target CoreDNS version: {e}"))];
    }
    Vec::new()
}

/// `version.ParseTolerantImageTag`: `_` stands for `+`.
fn parse_tolerant_image_tag(tag: &str) -> Result<semver::Version, String> {
    semver_parse_tolerant(&tag.replace('_', "+"))
}

/// `validateVersion`: no update that reaches two minors above the current version.
fn validate_version_update(old: &Object, new: &Object) -> Vec<FieldError> {
    let from_s = old.str_at("/spec/version").unwrap_or("");
    let to_s = new.str_at("/spec/version").unwrap_or("");
    let from = match semver_parse_tolerant(from_s) {
        Ok(v) => v,
        Err(e) => {
            return vec![internal("spec.version".into(), format!("failed to parse current kubeadmcontrolplane version: {from_s}: {e}"))]
        }
    };
    let to = match semver_parse_tolerant(to_s) {
        Ok(v) => v,
        Err(e) => {
            return vec![internal("spec.version".into(), format!("failed to parse updated kubeadmcontrolplane version: {to_s}: {e}"))]
        }
    };
    if (to.major, to.minor, to.patch) >= (from.major, from.minor + 2, 0) {
        return vec![forb("spec.version".into(), format!("cannot update Kubernetes version from {from_s} to {to_s}"))];
    }
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::api::{AdmissionRequest, Operation};
    use crate::webhooks::kcp_update::paths_match;
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
        KcpWebhook.validate(&AdmissionRequest { op, object: obj, old, store: &store, gates: &gates, dry_run: false })
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

//! The MachineDeployment and MachineSet admission webhooks (served by capi-controller-manager).
//! Defaulting: cluster-name label; `spec.replicas` (kept if set, else from the autoscaler min/max
//! annotations, else 1); MachineDeployment strategy `RollingUpdate` with maxSurge 1 / maxUnavailable 0;
//! an empty selector selects `deployment-name` (MD) / `set-name` (MS) and the template gets that label;
//! cluster-name in selector and template labels (MD); a `v` prefix on the version.
//! Unparsable autoscaler annotations make the mutating webhook deny the request.
//! Validation, in upstream's order: name usable as a label value (MD), bootstrap configRef or
//! dataSecretName, selector matches the template labels, skip-preflight-check names
//! (`MachineSetPreflightChecks`), clusterName immutable and equal to the template's, maxSurge /
//! maxUnavailable / maxInFlight int or percent (not both 0), version `v`-prefixed semver,
//! machineNaming template with `{{ .random }}` rendering a DNS subdomain, taints
//! (`MachineTaintPropagation`), the template metadata.
//! Source: `core/webhooks/admission/{machinedeployment.go,machineset.go}`.
//!
//! `spec.deletion.order` is not written by the webhooks: empty means Random, as in CAPI.
//!
//! The strategy type and deletion order enums are CRD schema checks, answered by the API server
//! before this webhook (`store/schema.rs`), as upstream.
//!
//! Simplification: a MachineSet name longer than 63 characters is not hashed into its `set-name`
//! label (`format.MustFormatValue`).

use super::machine::{cluster_name_immutable, default_version_prefix, invalid, ref_is_defined, version_errors};
use super::meta::{
    dns1123_subdomain_errors, go_label_selector, go_string_map, label_value_errors, machine_taint_errors, selector_error,
    template_metadata_errors,
};
use crate::controllers::common::keys;
use crate::controllers::machineset::preflight::{CHECKS, SKIP_ANNOTATION};
use crate::controllers::machineset::{insert_entry, selector_at, string_map};
use crate::controllers::mdutil::scaled_value;
use crate::controllers::topology::field::{go_quote, FPath, FieldError};
use crate::features::FeatureGates;
use crate::kinds::Kind;
use crate::object::Object;
use crate::store::api::{AdmissionRequest, Operation, Webhook};
use crate::store::Store;
use serde_json::Value;

/// The autoscaler's min-size annotation.
pub const AUTOSCALER_MIN: &str = "cluster.x-k8s.io/cluster-api-autoscaler-node-group-min-size";
/// The autoscaler's max-size annotation.
pub const AUTOSCALER_MAX: &str = "cluster.x-k8s.io/cluster-api-autoscaler-node-group-max-size";

/// The webhooks of this module.
pub fn webhooks() -> Vec<Box<dyn Webhook>> {
    vec![Box::new(MachineDeploymentWebhook), Box::new(MachineSetWebhook)]
}

/// MachineDeployment defaulting and validation.
pub struct MachineDeploymentWebhook;
/// MachineSet defaulting and validation.
pub struct MachineSetWebhook;

/// `calculateMachineDeploymentReplicas` / `calculateMachineSetReplicas`: `Err` when the autoscaler
/// annotations do not parse (the request is then refused).
pub fn default_replicas(obj: &Object, old: Option<&Object>) -> Result<i64, String> {
    if let Some(r) = obj.i64_at("/spec/replicas") {
        return Ok(r);
    }
    if let (Some(min), Some(max)) = (obj.annotation(AUTOSCALER_MIN), obj.annotation(AUTOSCALER_MAX)) {
        // `strconv.ParseInt(v, 10, 32)`, its error wrapped by `pkgerrors.Wrapf`.
        let parse = |v: &str, k: &str| {
            let why = match v.parse::<i64>() {
                Ok(n) if i32::try_from(n).is_ok() => return Ok(n),
                Ok(_) => "value out of range",
                Err(e) if matches!(e.kind(), std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow) => {
                    "value out of range"
                }
                Err(_) => "invalid syntax",
            };
            Err(format!(
                "failed to caculate {} replicas value: could not parse the value of the {} annotation: strconv.ParseInt: parsing {}: {why}",
                obj.kind,
                go_quote(k),
                go_quote(v)
            ))
        };
        let (min, max) = (parse(min, AUTOSCALER_MIN)?, parse(max, AUTOSCALER_MAX)?);
        return Ok(match old.and_then(|o| o.i64_at("/spec/replicas")) {
            None => min,
            Some(r) if r < min => min,
            Some(r) if r > max => max,
            Some(r) => r,
        });
    }
    Ok(1)
}

fn with_v(o: &mut Object) {
    default_version_prefix(o, "/spec/template/spec/version");
}

/// The mutating webhooks' denial: autoscaler annotations that do not parse.
fn check_replicas(op: Operation, o: &Object, store: &Store) -> Result<(), String> {
    let old = if op == Operation::Update { store.get(&o.key()).cloned() } else { None };
    default_replicas(o, old.as_deref()).map(|_| ())
}

fn ensure_map(o: &mut Object, ptr: &str) {
    if !o.at(ptr).is_some_and(Value::is_object) {
        o.set(ptr, Value::Object(Default::default()));
    }
}

fn selector_is_empty(o: &Object) -> bool {
    let empty = |p: &str| {
        o.at(p).is_none_or(|v| v.as_object().is_some_and(|m| m.is_empty()) || v.as_array().is_some_and(|a| a.is_empty()) || v.is_null())
    };
    empty("/spec/selector/matchLabels") && empty("/spec/selector/matchExpressions")
}

impl Webhook for MachineDeploymentWebhook {
    fn kind(&self) -> Kind {
        Kind::MachineDeployment
    }
    fn name(&self) -> &'static str {
        "validation.machinedeployment.cluster.x-k8s.io"
    }
    fn manager(&self) -> &'static str {
        "capi"
    }
    fn check_default(&self, op: Operation, o: &Object, store: &Store, _gates: &FeatureGates) -> Result<(), String> {
        check_replicas(op, o, store)
    }
    fn default(&self, op: Operation, o: &mut Object, store: &Store, _gates: &FeatureGates) {
        let cluster = o.str_at("/spec/clusterName").unwrap_or("").to_string();
        o.meta.labels.insert(keys::CLUSTER_NAME.into(), cluster.clone());
        let old = if op == Operation::Update { store.get(&o.key()).cloned() } else { None };
        if let Ok(r) = default_replicas(o, old.as_deref()) {
            o.set("/spec/replicas", Value::from(r));
        }
        ensure_map(o, "/spec/selector/matchLabels");
        if o.str_at("/spec/rollout/strategy/type").is_none_or(str::is_empty) {
            o.set("/spec/rollout/strategy/type", Value::String("RollingUpdate".into()));
        }
        ensure_map(o, "/spec/template/metadata/labels");
        if o.str_at("/spec/rollout/strategy/type") == Some("RollingUpdate") {
            if o.at("/spec/rollout/strategy/rollingUpdate/maxSurge").is_none_or(Value::is_null) {
                o.set("/spec/rollout/strategy/rollingUpdate/maxSurge", Value::from(1));
            }
            if o.at("/spec/rollout/strategy/rollingUpdate/maxUnavailable").is_none_or(Value::is_null) {
                o.set("/spec/rollout/strategy/rollingUpdate/maxUnavailable", Value::from(0));
            }
        }
        if selector_is_empty(o) {
            let name = o.name().to_string();
            insert_entry(o, "/spec/selector/matchLabels", keys::DEPLOYMENT_NAME, &name);
            insert_entry(o, "/spec/template/metadata/labels", keys::DEPLOYMENT_NAME, &name);
        }
        insert_entry(o, "/spec/selector/matchLabels", keys::CLUSTER_NAME, &cluster);
        insert_entry(o, "/spec/template/metadata/labels", keys::CLUSTER_NAME, &cluster);
        with_v(o);
    }
    fn validate(&self, req: &AdmissionRequest<'_>) -> Result<Vec<String>, String> {
        if req.op == Operation::Delete {
            return Ok(Vec::new());
        }
        let o = req.object;
        let spec = FPath::new(&["spec"]);
        let mut errs = Vec::new();
        for e in label_value_errors(o.name()) {
            errs.push(FieldError::invalid(FPath::new(&["metadata", "name"]), o.name(), format!("must be a valid label value: {e}")));
        }
        let old = if req.op == Operation::Update { req.old } else { None };
        bootstrap_errors(o, &mut errs);
        selector_errors(o, &mut errs);
        preflight_errors(o, req.gates, &mut errs);
        cluster_name_errors(o, old, &mut errs);
        // `validateRolloutStrategy`: the values are printed as `IntOrString.String()`.
        let rolling = spec.child("rollout").child("strategy").child("rollingUpdate");
        let surge = o.at("/spec/rollout/strategy/rollingUpdate/maxSurge").filter(|v| !v.is_null());
        let unavailable = o.at("/spec/rollout/strategy/rollingUpdate/maxUnavailable").filter(|v| !v.is_null());
        for (v, field) in [(unavailable, "maxUnavailable"), (surge, "maxSurge")] {
            errs.extend(int_or_percent_error(v, rolling.child(field)));
        }
        if surge.is_some_and(|v| v.as_i64() == Some(0)) && unavailable.is_some_and(|v| v.as_i64() == Some(0)) {
            errs.push(FieldError::invalid(rolling, "0", "maxUnavailable and maxSurge cannot both be 0"));
        }
        // `validateRemediationMaxInFlight`.
        errs.extend(int_or_percent_error(
            o.at("/spec/remediation/maxInFlight").filter(|v| !v.is_null()),
            spec.child("remediation").child("maxInFlight"),
        ));
        errs.extend(version_errors(o, "/spec/template/spec/version", FPath::new(&["spec", "template", "spec", "version"])));
        naming_errors(o, &mut errs);
        taint_errors(o, req.gates, &mut errs);
        errs.extend(template_metadata_errors(o, "/spec/template/metadata", &FPath::new(&["spec", "template", "metadata"])));
        invalid(o, errs)
    }
}

impl Webhook for MachineSetWebhook {
    fn kind(&self) -> Kind {
        Kind::MachineSet
    }
    fn name(&self) -> &'static str {
        "validation.machineset.cluster.x-k8s.io"
    }
    fn manager(&self) -> &'static str {
        "capi"
    }
    fn check_default(&self, op: Operation, o: &Object, store: &Store, _gates: &FeatureGates) -> Result<(), String> {
        check_replicas(op, o, store)
    }
    fn default(&self, op: Operation, o: &mut Object, store: &Store, _gates: &FeatureGates) {
        let cluster = o.str_at("/spec/clusterName").unwrap_or("").to_string();
        o.meta.labels.insert(keys::CLUSTER_NAME.into(), cluster);
        let old = if op == Operation::Update { store.get(&o.key()).cloned() } else { None };
        if let Ok(r) = default_replicas(o, old.as_deref()) {
            o.set("/spec/replicas", Value::from(r));
        }
        ensure_map(o, "/spec/selector/matchLabels");
        ensure_map(o, "/spec/template/metadata/labels");
        if selector_is_empty(o) {
            let name = o.name().to_string();
            insert_entry(o, "/spec/selector/matchLabels", keys::SET_NAME, &name);
            insert_entry(o, "/spec/template/metadata/labels", keys::SET_NAME, &name);
        }
        with_v(o);
    }
    fn validate(&self, req: &AdmissionRequest<'_>) -> Result<Vec<String>, String> {
        if req.op == Operation::Delete {
            return Ok(Vec::new());
        }
        let o = req.object;
        let mut errs = Vec::new();
        let old = if req.op == Operation::Update { req.old } else { None };
        bootstrap_errors(o, &mut errs);
        selector_errors(o, &mut errs);
        preflight_errors(o, req.gates, &mut errs);
        cluster_name_errors(o, old, &mut errs);
        errs.extend(version_errors(o, "/spec/template/spec/version", FPath::new(&["spec", "template", "spec", "version"])));
        taint_errors(o, req.gates, &mut errs);
        naming_errors(o, &mut errs);
        errs.extend(template_metadata_errors(o, "/spec/template/metadata", &FPath::new(&["spec", "template", "metadata"])));
        invalid(o, errs)
    }
}

/// `intstr.GetScaledValueFromIntOrPercent` as a validation, the value printed with `String()`.
fn int_or_percent_error(v: Option<&Value>, path: FPath) -> Option<FieldError> {
    let v = v?;
    let e = scaled_value(Some(v), 0, false).err()?;
    let shown = match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    Some(FieldError::invalid(path, shown, format!("must be either an int or a percentage: {e}")))
}

fn bootstrap_errors(o: &Object, errs: &mut Vec<FieldError>) {
    if !ref_is_defined(o, "/spec/template/spec/bootstrap/configRef")
        && o.at("/spec/template/spec/bootstrap/dataSecretName").is_none_or(Value::is_null)
    {
        errs.push(FieldError::required(
            FPath::new(&["spec", "template", "spec", "bootstrap"]),
            "expected either spec.template.spec.bootstrap.dataSecretName or spec.template.spec.bootstrap.configRef to be populated",
        ));
    }
}

/// The selector parses and matches the template labels: a MachineDeployment answers `Forbidden`,
/// a MachineSet `Invalid` with the labels as the value.
fn selector_errors(o: &Object, errs: &mut Vec<FieldError>) {
    let parsed = match selector_error(o.at("/spec/selector")) {
        Some(e) => Err(e),
        None => selector_at(o, "/spec/selector"),
    };
    match parsed {
        Err(e) => errs.push(FieldError::invalid_raw(FPath::new(&["spec", "selector"]), go_label_selector(o.at("/spec/selector")), e)),
        Ok(sel) => {
            let labels = string_map(o, "/spec/template/metadata/labels");
            if !sel.matches_map(&labels) {
                let path = FPath::new(&["spec", "template", "metadata", "labels"]);
                let detail = format!("must match spec.selector {}", go_quote(&sel.to_string()));
                errs.push(if o.kind == Kind::MachineDeployment {
                    FieldError::forbidden(path, detail)
                } else {
                    FieldError::invalid_raw(path, go_string_map(o.at("/spec/template/metadata/labels")), detail)
                });
            }
        }
    }
}

/// `validateSkippedMachineSetPreflightChecks` (only with the `MachineSetPreflightChecks` gate).
fn preflight_errors(o: &Object, gates: &FeatureGates, errs: &mut Vec<FieldError>) {
    if !gates.machine_set_preflight_checks {
        return;
    }
    let Some(skip) = o.annotation(SKIP_ANNOTATION).filter(|s| !s.is_empty()) else { return };
    let invalid: Vec<String> = skip.split(',').map(str::trim).filter(|c| !CHECKS.contains(c)).map(go_quote).collect();
    if !invalid.is_empty() {
        errs.push(FieldError::invalid_raw(
            FPath::new(&["metadata", "annotations", SKIP_ANNOTATION]),
            format!("[]v1beta2.MachineSetPreflightCheck{{{}}}", invalid.join(", ")),
            format!("skipped preflight check(s) must be among: [{}]", CHECKS.join(" ")),
        ));
    }
}

fn cluster_name_errors(o: &Object, old: Option<&Object>, errs: &mut Vec<FieldError>) {
    errs.extend(cluster_name_immutable(old, o));
    let cluster = o.str_at("/spec/clusterName").unwrap_or("");
    if o.str_at("/spec/template/spec/clusterName").unwrap_or("") != cluster {
        errs.push(FieldError::invalid(
            FPath::new(&["spec", "clusterName"]),
            cluster,
            "spec.clusterName and spec.template.spec.clusterName must be set to the same value",
        ));
    }
}

/// `validateMDMachineNaming` / `validateMSMachineNaming`.
fn naming_errors(o: &Object, errs: &mut Vec<FieldError>) {
    let Some(t) = o.str_at("/spec/machineNaming/template").filter(|t| !t.is_empty()) else { return };
    let path = FPath::new(&["spec", "machineNaming", "template"]);
    if !t.contains("{{ .random }}") {
        errs.push(FieldError::invalid(path.clone(), t, "invalid template, {{ .random }} is missing"));
    }
    match crate::controllers::machineset::render_name(t, "machineset", "cluster", || "abcde".to_string()) {
        Err(e) => errs.push(FieldError::invalid(path, t, format!("invalid template: {e}"))),
        Ok(name) => {
            for e in dns1123_subdomain_errors(&name) {
                errs.push(FieldError::invalid(
                    path.clone(),
                    t,
                    format!("invalid template, generated names would not be valid Kubernetes object names: {e}"),
                ));
            }
        }
    }
}

fn taint_errors(o: &Object, gates: &FeatureGates, errs: &mut Vec<FieldError>) {
    errs.extend(machine_taint_errors(o, "/spec/template/spec/taints", &FPath::new(&["spec", "template", "spec", "taints"]), gates, false));
}

/// `validation.IsValidLabelValue` as one message (the first problem).
pub fn label_value(v: &str) -> Result<(), String> {
    match label_value_errors(v).into_iter().next() {
        None => Ok(()),
        Some(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::FeatureGates;
    use rstest::rstest;
    use serde_json::json;

    fn md(spec: Value) -> Object {
        Object::from_json(&json!({
            "apiVersion": "cluster.x-k8s.io/v1beta2", "kind": "MachineDeployment",
            "metadata": {"name": "md-0", "namespace": "default"},
            "spec": spec
        }))
        .unwrap()
    }

    fn base_spec() -> Value {
        json!({
            "clusterName": "c1",
            "template": {"spec": {"clusterName": "c1", "version": "1.34.0",
                "bootstrap": {"configRef": {"apiGroup": "bootstrap.cluster.x-k8s.io", "kind": "KubeadmConfigTemplate", "name": "t"}},
                "infrastructureRef": {"apiGroup": "infrastructure.cluster.x-k8s.io", "kind": "DockerMachineTemplate", "name": "d"}}}
        })
    }

    fn defaulted(spec: Value) -> Object {
        let mut o = md(spec);
        MachineDeploymentWebhook.default(Operation::Create, &mut o, &Store::new(1), &FeatureGates::default());
        o
    }

    fn validate(o: &Object) -> Result<Vec<String>, String> {
        let store = Store::new(1);
        let gates = FeatureGates::default();
        MachineDeploymentWebhook.validate(&AdmissionRequest {
            op: Operation::Create,
            object: o,
            old: None,
            store: &store,
            gates: &gates,
            dry_run: false,
        })
    }

    #[test]
    fn md_defaults() {
        let o = defaulted(base_spec());
        assert_eq!(o.i64_at("/spec/replicas"), Some(1));
        assert_eq!(o.str_at("/spec/rollout/strategy/type"), Some("RollingUpdate"));
        assert_eq!(o.at("/spec/rollout/strategy/rollingUpdate/maxSurge"), Some(&json!(1)));
        assert_eq!(o.at("/spec/rollout/strategy/rollingUpdate/maxUnavailable"), Some(&json!(0)));
        assert_eq!(o.str_at("/spec/template/spec/version"), Some("v1.34.0"));
        assert_eq!(o.label(keys::CLUSTER_NAME), Some("c1"));
        let sel = string_map(&o, "/spec/selector/matchLabels");
        assert_eq!(sel.get(keys::DEPLOYMENT_NAME).map(String::as_str), Some("md-0"));
        assert_eq!(sel.get(keys::CLUSTER_NAME).map(String::as_str), Some("c1"));
        let tl = string_map(&o, "/spec/template/metadata/labels");
        assert_eq!(tl.get(keys::DEPLOYMENT_NAME).map(String::as_str), Some("md-0"));
        assert_eq!(tl.get(keys::CLUSTER_NAME).map(String::as_str), Some("c1"));
        assert!(o.at("/spec/deletion/order").is_none(), "empty order means Random; nothing is written");
        assert_eq!(validate(&o), Ok(vec![]));
    }

    #[test]
    fn md_defaults_keep_user_choices() {
        let mut spec = base_spec();
        spec["replicas"] = json!(0);
        spec["selector"] = json!({"matchLabels": {"pool": "a"}});
        spec["template"]["metadata"] = json!({"labels": {"pool": "a"}});
        spec["rollout"] = json!({"strategy": {"type": "OnDelete"}});
        let o = defaulted(spec);
        assert_eq!(o.i64_at("/spec/replicas"), Some(0));
        assert!(o.at("/spec/rollout/strategy/rollingUpdate").is_none());
        assert!(!string_map(&o, "/spec/selector/matchLabels").contains_key(keys::DEPLOYMENT_NAME));
        assert_eq!(validate(&o), Ok(vec![]));
    }

    #[rstest]
    #[case(None, None, 1)]
    #[case(Some("2"), Some("5"), 2)]
    fn md_replicas_from_autoscaler(#[case] min: Option<&str>, #[case] max: Option<&str>, #[case] want: i64) {
        let mut o = md(base_spec());
        if let (Some(a), Some(b)) = (min, max) {
            o.meta.annotations.insert(AUTOSCALER_MIN.into(), a.into());
            o.meta.annotations.insert(AUTOSCALER_MAX.into(), b.into());
        }
        assert_eq!(default_replicas(&o, None), Ok(want));
        let mut old = o.clone();
        old.set("/spec/replicas", json!(9));
        if min.is_some() {
            assert_eq!(default_replicas(&o, Some(&old)), Ok(5), "above max → max");
        }
    }

    #[rstest]
    #[case(json!({"rollout": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}}}}), "maxUnavailable and maxSurge cannot both be 0")]
    #[case(json!({"rollout": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "1", "maxUnavailable": 0}}}}), "must be either an int or a percentage")]
    #[case(json!({"remediation": {"maxInFlight": "x"}}), "spec.remediation.maxInFlight")]
    #[case(json!({"machineNaming": {"template": "{{ .machineSet.name }}"}}), "{{ .random }} is missing")]
    #[case(json!({"template": {"spec": {"clusterName": "other"}}}), "must be set to the same value")]
    #[case(json!({"template": {"spec": {"version": "v1.x"}}}), "must be a valid semantic version")]
    #[case(json!({"template": {"spec": {"bootstrap": null}}}), "spec.template.spec.bootstrap: Required value")]
    #[case(json!({"selector": {"matchLabels": {"pool": "b"}}}), "must match spec.selector")]
    fn md_validation_refuses(#[case] patch: Value, #[case] want: &str) {
        let mut spec = base_spec();
        json_patch::merge(&mut spec, &patch);
        let o = defaulted(spec);
        let err = validate(&o).unwrap_err();
        assert!(err.contains(want), "{err}");
        assert!(err.starts_with("MachineDeployment.cluster.x-k8s.io \"md-0\" is invalid: "), "{err}");
    }

    #[test]
    fn md_cluster_name_is_immutable_and_name_a_label_value() {
        let o = defaulted(base_spec());
        let mut new = o.clone();
        new.set("/spec/clusterName", json!("c2"));
        new.set("/spec/template/spec/clusterName", json!("c2"));
        let store = Store::new(1);
        let gates = FeatureGates::default();
        let r = MachineDeploymentWebhook.validate(&AdmissionRequest {
            op: Operation::Update,
            object: &new,
            old: Some(&o),
            store: &store,
            gates: &gates,
            dry_run: false,
        });
        assert!(r.unwrap_err().contains("spec.clusterName: Forbidden: field is immutable"));
        let mut bad = o.clone();
        bad.meta.name = "md.".into();
        assert!(validate(&bad).unwrap_err().contains("must be a valid label value"));
    }

    #[test]
    fn ms_defaults_and_validation() {
        let mut o = Object::from_json(&json!({
            "apiVersion": "cluster.x-k8s.io/v1beta2", "kind": "MachineSet",
            "metadata": {"name": "ms-0", "namespace": "default"},
            "spec": base_spec()
        }))
        .unwrap();
        MachineSetWebhook.default(Operation::Create, &mut o, &Store::new(1), &FeatureGates::default());
        assert_eq!(o.i64_at("/spec/replicas"), Some(1));
        assert_eq!(string_map(&o, "/spec/selector/matchLabels").get(keys::SET_NAME).map(String::as_str), Some("ms-0"));
        assert_eq!(o.str_at("/spec/template/spec/version"), Some("v1.34.0"));
        let store = Store::new(1);
        let gates = FeatureGates::default();
        let req = AdmissionRequest { op: Operation::Create, object: &o, old: None, store: &store, gates: &gates, dry_run: false };
        assert_eq!(MachineSetWebhook.validate(&req), Ok(vec![]));
        let mut bad = o.clone();
        bad.meta.annotations.insert(SKIP_ANNOTATION.into(), "All,Nope".into());
        let req = AdmissionRequest { op: Operation::Create, object: &bad, old: None, store: &store, gates: &gates, dry_run: false };
        assert!(MachineSetWebhook.validate(&req).unwrap_err().contains("skipped preflight check(s) must be among"));
    }

    #[test]
    fn label_values() {
        assert!(label_value("md-0").is_ok());
        assert!(label_value("-md").is_err());
        assert!(label_value(&"a".repeat(64)).is_err());
    }
}

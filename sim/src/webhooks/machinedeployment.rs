//! The MachineDeployment and MachineSet admission webhooks (served by capi-controller-manager).
//! Defaulting: cluster-name label; `spec.replicas` (kept if set, else from the autoscaler min/max
//! annotations, else 1); MachineDeployment strategy `RollingUpdate` with maxSurge 1 / maxUnavailable 0;
//! an empty selector selects `deployment-name` (MD) / `set-name` (MS) and the template gets that label;
//! cluster-name in selector and template labels (MD); a `v` prefix on the version.
//! Validation: name usable as a label value (MD), bootstrap configRef or dataSecretName, selector
//! matches the template labels, clusterName immutable and equal to the template's, maxSurge /
//! maxUnavailable / maxInFlight int or percent (not both 0), strategy and deletion order enums,
//! version `v`-prefixed semver, machineNaming template with `{{ .random }}`, skip-preflight-check names.
//! Source: `core/webhooks/admission/{machinedeployment.go,machineset.go}`; the enums are CRD schema
//! checks (`api/core/v1beta2/machinedeployment_types.go`, `machineset_types.go`).
//!
//! `spec.deletion.order` is not written by the webhooks: empty means Random, as in CAPI.

use crate::controllers::common::keys;
use crate::controllers::machineset::preflight::{CHECKS, SKIP_ANNOTATION};
use crate::controllers::machineset::{insert_entry, selector_at, string_map};
use crate::controllers::mdutil::scaled_value;
use crate::features::FeatureGates;
use crate::kinds::Kind;
use crate::object::Object;
use crate::store::api::{AdmissionRequest, Operation, Webhook};
use crate::store::error::qualified_kind;
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
        let parse = |v: &str, k: &str| {
            v.parse::<i32>()
                .map(i64::from)
                .map_err(|_| format!("failed to caculate {} replicas value: could not parse the value of the {k:?} annotation", obj.kind))
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
    if let Some(v) = o.str_at("/spec/template/spec/version").filter(|v| !v.is_empty() && !v.starts_with('v')).map(|v| format!("v{v}")) {
        o.set("/spec/template/spec/version", Value::String(v));
    }
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
    fn default(&self, op: Operation, o: &mut Object, store: &Store, _gates: &FeatureGates) {
        let cluster = o.str_at("/spec/clusterName").unwrap_or("").to_string();
        o.meta.labels.insert(keys::CLUSTER_NAME.into(), cluster.clone());
        let old = if op == Operation::Update { store.get(&o.key()).cloned() } else { None };
        // An unparsable autoscaler annotation leaves replicas unset; validation refuses the request.
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
        let mut errs = Vec::new();
        if let Err(e) = label_value(o.name()) {
            errs.push(format!("metadata.name: Invalid value: {:?}: must be a valid label value: {e}", o.name()));
        }
        let old = if req.op == Operation::Update { req.old } else { None };
        common_checks(o, old, req.gates, &mut errs);
        let strategy = o.str_at("/spec/rollout/strategy/type").unwrap_or("");
        if !matches!(strategy, "RollingUpdate" | "OnDelete") {
            errs.push(format!(
                "spec.rollout.strategy.type: Unsupported value: {strategy:?}: supported values: \"RollingUpdate\", \"OnDelete\""
            ));
        }
        let surge = o.at("/spec/rollout/strategy/rollingUpdate/maxSurge").filter(|v| !v.is_null());
        let unavailable = o.at("/spec/rollout/strategy/rollingUpdate/maxUnavailable").filter(|v| !v.is_null());
        for (v, field) in [(unavailable, "maxUnavailable"), (surge, "maxSurge")] {
            if let Some(v) = v {
                if let Err(e) = scaled_value(Some(v), 0, false) {
                    errs.push(format!(
                        "spec.rollout.strategy.rollingUpdate.{field}: Invalid value: {:?}: must be either an int or a percentage: {e}",
                        int_or_string(v)
                    ));
                }
            }
        }
        if surge.and_then(Value::as_i64) == Some(0) && unavailable.and_then(Value::as_i64) == Some(0) {
            errs.push("spec.rollout.strategy.rollingUpdate: Invalid value: \"0\": maxUnavailable and maxSurge cannot both be 0".into());
        }
        if let Some(v) = o.at("/spec/remediation/maxInFlight").filter(|v| !v.is_null()) {
            if let Err(e) = scaled_value(Some(v), 0, false) {
                errs.push(format!(
                    "spec.remediation.maxInFlight: Invalid value: {:?}: must be either an int or a percentage: {e}",
                    int_or_string(v)
                ));
            }
        }
        finish(o, errs)
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
        common_checks(o, old, req.gates, &mut errs);
        finish(o, errs)
    }
}

fn int_or_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Checks both kinds share.
fn common_checks(o: &Object, old: Option<&Object>, gates: &FeatureGates, errs: &mut Vec<String>) {
    if o.at("/spec/replicas").is_none_or(Value::is_null) {
        // Defaulting could not set it: the autoscaler annotations did not parse.
        if let Err(e) = default_replicas(o, old) {
            errs.push(format!("spec.replicas: Invalid value: {e}"));
        }
    } else if o.i64_at("/spec/replicas").is_none_or(|r| r < 0) {
        errs.push(format!(
            "spec.replicas: Invalid value: {}: must be a non-negative integer",
            o.at("/spec/replicas").cloned().unwrap_or_default()
        ));
    }
    let has_config_ref = o.str_at("/spec/template/spec/bootstrap/configRef/name").is_some_and(|n| !n.is_empty());
    let has_secret = o.at("/spec/template/spec/bootstrap/dataSecretName").is_some_and(|v| !v.is_null());
    if !has_config_ref && !has_secret {
        errs.push("spec.template.spec.bootstrap: Required value: expected either spec.template.spec.bootstrap.dataSecretName or spec.template.spec.bootstrap.configRef to be populated".into());
    }
    match selector_at(o, "/spec/selector") {
        Err(e) => errs.push(format!("spec.selector: Invalid value: {e}")),
        Ok(sel) => {
            let labels = string_map(o, "/spec/template/metadata/labels");
            if !sel.matches_map(&labels) {
                let what = if o.kind == Kind::MachineDeployment { "Forbidden" } else { "Invalid value" };
                errs.push(format!("spec.template.metadata.labels: {what}: must match spec.selector \"{sel}\""));
            }
        }
    }
    if gates.machine_set_preflight_checks {
        if let Some(skip) = o.annotation(SKIP_ANNOTATION).filter(|s| !s.is_empty()) {
            let invalid: Vec<&str> = skip.split(',').map(str::trim).filter(|c| !CHECKS.contains(c)).collect();
            if !invalid.is_empty() {
                errs.push(format!(
                    "metadata.annotations.{SKIP_ANNOTATION}: Invalid value: [{}]: skipped preflight check(s) must be among: [{}]",
                    invalid.join(" "),
                    CHECKS.join(" ")
                ));
            }
        }
    }
    let cluster = o.str_at("/spec/clusterName").unwrap_or("");
    if let Some(old) = old {
        if old.str_at("/spec/clusterName").unwrap_or("") != cluster {
            errs.push("spec.clusterName: Forbidden: field is immutable".into());
        }
    }
    if o.str_at("/spec/template/spec/clusterName").unwrap_or("") != cluster {
        errs.push(format!(
            "spec.clusterName: Invalid value: {cluster:?}: spec.clusterName and spec.template.spec.clusterName must be set to the same value"
        ));
    }
    if let Some(v) = o.str_at("/spec/template/spec/version").filter(|v| !v.is_empty()) {
        if !v.starts_with('v') {
            errs.push(format!("spec.template.spec.version: Invalid value: {v:?}: must start with v"));
        }
        if semver::Version::parse(v.trim_start_matches('v')).is_err() {
            errs.push(format!("spec.template.spec.version: Invalid value: {v:?}: must be a valid semantic version"));
        }
    }
    if let Some(order) = o.str_at("/spec/deletion/order") {
        if !matches!(order, "Random" | "Newest" | "Oldest") {
            errs.push(format!("spec.deletion.order: Unsupported value: {order:?}: supported values: \"Random\", \"Newest\", \"Oldest\""));
        }
    }
    if let Some(t) = o.str_at("/spec/machineNaming/template").filter(|t| !t.is_empty()) {
        if !t.contains("{{ .random }}") {
            errs.push(format!("spec.machineNaming.template: Invalid value: {t:?}: invalid template, {{{{ .random }}}} is missing"));
        } else {
            match crate::controllers::machineset::render_name(t, "machineset", "cluster", || "abcde".to_string()) {
                Err(e) => errs.push(format!("spec.machineNaming.template: Invalid value: {t:?}: invalid template: {e}")),
                Ok(name) if !dns_subdomain(&name) => errs.push(format!(
                    "spec.machineNaming.template: Invalid value: {t:?}: invalid template, generated names would not be valid Kubernetes object names"
                )),
                Ok(_) => {}
            }
        }
    }
    for (ptr, field) in [("/spec/template/metadata/labels", "labels"), ("/spec/template/metadata/annotations", "annotations")] {
        if o.at(ptr).is_some_and(|v| !v.is_null() && !v.as_object().is_some_and(|m| m.values().all(Value::is_string))) {
            errs.push(format!("spec.template.metadata.{field}: Invalid value: must be a map of strings"));
        }
    }
}

fn finish(o: &Object, errs: Vec<String>) -> Result<Vec<String>, String> {
    match errs.len() {
        0 => Ok(Vec::new()),
        1 => Err(format!("{} {:?} is invalid: {}", qualified_kind(o.kind), o.name(), errs[0])),
        _ => Err(format!("{} {:?} is invalid: [{}]", qualified_kind(o.kind), o.name(), errs.join(", "))),
    }
}

/// `validation.IsValidLabelValue`.
pub fn label_value(v: &str) -> Result<(), String> {
    if v.len() > 63 {
        return Err("must be no more than 63 characters".into());
    }
    let ok_char = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.';
    let alnum = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    if !v.is_empty() && (!v.chars().all(ok_char) || !alnum(v.chars().next()) || !alnum(v.chars().last())) {
        return Err("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')".into());
    }
    Ok(())
}

fn dns_subdomain(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= 253
        && v.split('.').all(|p| {
            !p.is_empty()
                && p.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && !p.starts_with('-')
                && !p.ends_with('-')
        })
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
        MachineDeploymentWebhook.validate(&AdmissionRequest { op: Operation::Create, object: o, old: None, store: &store, gates: &gates })
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
    #[case(json!({"rollout": {"strategy": {"type": "Recreate"}}}), "spec.rollout.strategy.type: Unsupported value")]
    #[case(json!({"remediation": {"maxInFlight": "x"}}), "spec.remediation.maxInFlight")]
    #[case(json!({"deletion": {"order": "Smallest"}}), "spec.deletion.order: Unsupported value")]
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
        let req = AdmissionRequest { op: Operation::Create, object: &o, old: None, store: &store, gates: &gates };
        assert_eq!(MachineSetWebhook.validate(&req), Ok(vec![]));
        let mut bad = o.clone();
        bad.meta.annotations.insert(SKIP_ANNOTATION.into(), "All,Nope".into());
        let req = AdmissionRequest { op: Operation::Create, object: &bad, old: None, store: &store, gates: &gates };
        assert!(MachineSetWebhook.validate(&req).unwrap_err().contains("skipped preflight check(s) must be among"));
    }

    #[test]
    fn label_values() {
        assert!(label_value("md-0").is_ok());
        assert!(label_value("-md").is_err());
        assert!(label_value(&"a".repeat(64)).is_err());
    }
}

//! The objects a topology stamps out of templates: `templateToObject`, `templateToTemplate` (with the
//! topology labels and cloned-from annotations), the MachineHealthCheck as the webhook defaults it,
//! v1beta2 contract references, and the label/annotation map helpers they use.
//! Source: `exp/topology/desiredstate/desired_state.go` (`templateToObject`, `templateToTemplate`,
//! `computeMachineHealthCheck`), `util.MergeMap`.

use crate::apply::LAST_APPLIED;
use crate::controllers::common::{keys, set_owner};
use crate::kinds::Kind;
use crate::object::Object;
use crate::object::Ptr;
use crate::store::error::qualified_kind;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// `DefaultNodeStartupTimeoutSeconds` of the MachineHealthCheck webhook.
pub const DEFAULT_NODE_STARTUP_TIMEOUT_SECONDS: i64 = 600;

/// Labels/annotations from a JSON map.
pub fn str_map(v: Option<&Value>) -> BTreeMap<String, String> {
    v.and_then(Value::as_object)
        .map(|m| m.iter().filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string()))).collect())
        .unwrap_or_default()
}

/// `util.MergeMap`: keys of the first map win.
pub fn merge_first_wins(first: &BTreeMap<String, String>, second: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut out = second.clone();
    for (k, v) in first {
        out.insert(k.clone(), v.clone());
    }
    out
}

pub(super) fn map_json(m: &BTreeMap<String, String>) -> Value {
    Value::Object(m.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect())
}

/// A v1beta2 contract reference.
pub fn contract_ref(kind: Kind, name: &str) -> Value {
    json!({"apiGroup": kind.info().group, "kind": kind.name(), "name": name})
}

pub(super) fn cloned_from(annotations: &mut BTreeMap<String, String>, template: &Object) {
    annotations.insert(keys::CLONED_FROM_NAME.into(), template.name().to_string());
    annotations.insert(keys::CLONED_FROM_GROUPKIND.into(), qualified_kind(template.kind));
}

/// `templateToObject`: the object a template stamps out (its `spec.template`), named `name`, with the
/// cluster and topology labels and the cloned-from annotations.
pub fn template_to_object(
    template: &Object,
    patched: &Value,
    cluster: &Object,
    name: &str,
    labels: &BTreeMap<String, String>,
    annotations: &BTreeMap<String, String>,
) -> Result<Object, String> {
    let kind = template.kind.template_target().ok_or_else(|| format!("{} is not a template kind", template.kind))?;
    let mut o = Object::new(kind, cluster.namespace(), name);
    let mut l = str_map(patched.ptr("/spec/template/metadata/labels"));
    l.extend(labels.iter().map(|(k, v)| (k.clone(), v.clone())));
    l.insert(keys::CLUSTER_NAME.into(), cluster.name().to_string());
    l.insert(keys::TOPOLOGY_OWNED.into(), String::new());
    let mut a = str_map(patched.ptr("/spec/template/metadata/annotations"));
    a.extend(annotations.iter().map(|(k, v)| (k.clone(), v.clone())));
    cloned_from(&mut a, template);
    o.meta.labels = l.into();
    o.meta.annotations = a.into();
    o.set("/spec", patched.ptr("/spec/template/spec").cloned().unwrap_or_else(|| json!({})));
    Ok(o)
}

/// `templateToTemplate`: a per-cluster copy of a template, owned by the Cluster.
pub fn template_to_template(template: &Object, patched: &Value, cluster: &Object, name: &str, extra_labels: &[(&str, &str)]) -> Object {
    let mut o = Object::new(template.kind, cluster.namespace(), name);
    let mut l = str_map(patched.ptr("/metadata/labels"));
    l.insert(keys::CLUSTER_NAME.into(), cluster.name().to_string());
    l.insert(keys::TOPOLOGY_OWNED.into(), String::new());
    for (k, v) in extra_labels {
        l.insert(k.to_string(), v.to_string());
    }
    let mut a = str_map(patched.ptr("/metadata/annotations"));
    cloned_from(&mut a, template);
    a.remove(LAST_APPLIED);
    o.meta.labels = l.into();
    o.meta.annotations = a.into();
    set_owner(&mut o, cluster, false);
    o.set("/spec", patched.get("spec").cloned().unwrap_or_else(|| json!({})));
    o
}

/// Whether a health check definition (`checks` / `remediation`) is set.
pub(super) fn health_check_defined(hc: Option<&Value>) -> bool {
    let non_empty = |k: &str| hc.and_then(|h| h.get(k)).is_some_and(|v| v.as_object().is_some_and(|m| !m.is_empty()));
    non_empty("checks") || non_empty("remediation")
}

/// `computeMachineHealthCheck`: an MHC named like its target, owned by the Cluster, defaulted as the
/// MHC webhook defaults it.
pub fn machine_health_check(name: &str, cluster: &Object, selector: Value, hc: &Value) -> Object {
    let mut o = Object::new(Kind::MachineHealthCheck, cluster.namespace(), name);
    o.meta.labels.insert(keys::TOPOLOGY_OWNED.into(), String::new());
    o.meta.labels.insert(keys::CLUSTER_NAME.into(), cluster.name().to_string());
    set_owner(&mut o, cluster, false);
    let mut checks = hc.get("checks").filter(|c| c.is_object()).cloned().unwrap_or_else(|| json!({}));
    if checks.get("nodeStartupTimeoutSeconds").is_none() {
        checks["nodeStartupTimeoutSeconds"] = json!(DEFAULT_NODE_STARTUP_TIMEOUT_SECONDS);
    }
    o.set("/spec/clusterName", json!(cluster.name()));
    o.set("/spec/selector", selector);
    o.set("/spec/checks", checks);
    let mut remediation = Map::new();
    for k in ["triggerIf", "templateRef"] {
        if let Some(v) = hc.ptr(&format!("/remediation/{k}")).filter(|v| v.as_object().is_some_and(|m| !m.is_empty())) {
            remediation.insert(k.to_string(), v.clone());
        }
    }
    if !remediation.is_empty() {
        o.set("/spec/remediation", Value::Object(remediation));
    }
    o
}

pub(super) fn first_defined<'a>(topology: Option<&'a Value>, class: Option<&'a Value>) -> Option<&'a Value> {
    topology.filter(|v| !v.is_null()).or(class.filter(|v| !v.is_null()))
}

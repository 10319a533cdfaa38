//! The objects KCP creates for a control-plane Machine, computed from the KCP: the infrastructure
//! machine (a clone of the machine template), the KubeadmConfig (init for the first Machine, join with
//! `controlPlane` for the others) and the Machine itself, plus the labels and annotations `syncMachines`
//! keeps in place.
//! Source: `controlplane/kubeadm/pkg/desiredstate/desired_state.go`, `controllers/external/util.go` (`GenerateTemplate`).
//!
//! Simplification: `spec.machineNaming.template` understands the three variables KCP documents
//! (`.cluster.name`, `.kubeadmControlPlane.name`, `.random`) by plain substitution instead of Go templates.

use super::scope::{self, cond, REMEDIATION_FOR, REMEDIATION_IN_PROGRESS};
use crate::controllers::common::{self, keys};
use crate::kinds::Kind;
use crate::object::Ptr;
use crate::object::{Object, OwnerRef};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// The default Machine name template.
pub const DEFAULT_NAME_TEMPLATE: &str = "{{ .kubeadmControlPlane.name }}-{{ .random }}";
/// The Machine webhook's default `spec.deletion.nodeDeletionTimeoutSeconds`.
pub const DEFAULT_NODE_DELETION_TIMEOUT_S: i64 = 10;
/// kubeadm's feature gate KCP turns on for 1.31 ≤ version < 1.36.
pub const KUBELET_LOCAL_MODE: &str = "ControlPlaneKubeletLocalMode";

/// The Machine name from `spec.machineNaming.template` (default `<kcp>-<random>`).
pub fn machine_name(kcp: &Object, cluster: &str, random: &str) -> Result<String, String> {
    let template = kcp.str_at("/spec/machineNaming/template").filter(|t| !t.is_empty()).unwrap_or(DEFAULT_NAME_TEMPLATE);
    if !template.contains("{{ .random }}") {
        return Err(
            "failed to compute desired Machine: cannot generate Machine name: {{ .random }} is missing in machineNaming.template".into()
        );
    }
    let name = template
        .replace("{{ .cluster.name }}", cluster)
        .replace("{{ .kubeadmControlPlane.name }}", kcp.name())
        .replace("{{ .random }}", random);
    if name.contains("{{") {
        return Err(format!("failed to compute desired Machine: failed to generate Machine name: unsupported template {template:?}"));
    }
    Ok(name)
}

/// Labels on control-plane Machines (and their infra machines / configs): the template's, then the three forced ones.
pub fn labels(kcp: &Object, cluster: &str) -> BTreeMap<String, String> {
    let mut l = string_map(kcp.at("/spec/machineTemplate/metadata/labels"));
    l.insert(keys::CLUSTER_NAME.into(), cluster.to_string());
    l.insert(keys::CONTROL_PLANE.into(), String::new());
    l.insert(keys::CONTROL_PLANE_NAME.into(), label_value(kcp.name()));
    l
}

/// Annotations from the machine template.
pub fn annotations(kcp: &Object) -> BTreeMap<String, String> {
    string_map(kcp.at("/spec/machineTemplate/metadata/annotations"))
}

/// Annotations KCP wants on a Machine (template ones, remediation data, the pre-terminate hook).
pub fn machine_annotations(kcp: &Object, existing: Option<&Object>) -> BTreeMap<String, String> {
    let mut a = annotations(kcp);
    match existing {
        None => {
            if let Some(v) = kcp.annotation(REMEDIATION_IN_PROGRESS) {
                a.insert(REMEDIATION_FOR.into(), v.to_string());
            }
        }
        Some(m) => {
            if let Some(v) = m.annotation(REMEDIATION_FOR) {
                a.insert(REMEDIATION_FOR.into(), v.to_string());
            }
        }
    }
    a.insert(keys::KCP_CLEANUP_HOOK.into(), String::new());
    a
}

/// A label value: names longer than 63 characters become a hash (`format.MustFormatValue`).
fn label_value(v: &str) -> String {
    if v.len() <= 63 {
        return v.to_string();
    }
    let h = xxhash_rust::xxh3::xxh3_64(v.as_bytes());
    format!("hash_{h:016x}_z")
}

fn string_map(v: Option<&Value>) -> BTreeMap<String, String> {
    v.and_then(Value::as_object)
        .map(|m| m.iter().filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string()))).collect())
        .unwrap_or_default()
}

/// Readiness gates KCP enforces on its Machines, then the template's (deduplicated).
pub fn readiness_gates(kcp: &Object) -> Vec<Value> {
    let mut types: Vec<String> =
        [cond::NODE_LABELS, cond::API_SERVER, cond::CONTROLLER_MANAGER, cond::SCHEDULER].iter().map(|s| s.to_string()).collect();
    if scope::etcd_managed(kcp) {
        types.push(cond::ETCD_POD.into());
        types.push(cond::ETCD_MEMBER.into());
    }
    let mut gates: Vec<Value> = Vec::new();
    for t in &types {
        gates.push(json!({"conditionType": t}));
    }
    for g in kcp.at("/spec/machineTemplate/spec/readinessGates").and_then(Value::as_array).into_iter().flatten() {
        if let Some(t) = g.get("conditionType").and_then(Value::as_str) {
            if !types.iter().any(|x| x == t) {
                types.push(t.to_string());
                gates.push(g.clone());
            }
        }
    }
    gates
}

/// `spec.deletion` and `spec.taints` KCP propagates to its Machines in place.
fn in_place_spec(kcp: &Object, spec: &mut Map<String, Value>) {
    let mut deletion = Map::new();
    for k in ["nodeDrainTimeoutSeconds", "nodeVolumeDetachTimeoutSeconds", "nodeDeletionTimeoutSeconds"] {
        if let Some(v) = kcp.at(&format!("/spec/machineTemplate/spec/deletion/{k}")).filter(|v| !v.is_null()) {
            deletion.insert(k.into(), v.clone());
        }
    }
    // `DefaultMachineNodeDeletionTimeoutSeconds`: KCP defaults what the Machine webhook would, so
    // syncing never fights the webhook.
    deletion.entry("nodeDeletionTimeoutSeconds").or_insert(json!(DEFAULT_NODE_DELETION_TIMEOUT_S));
    spec.insert("deletion".into(), Value::Object(deletion));
    if let Some(t) = kcp.at("/spec/machineTemplate/spec/taints").filter(|t| t.as_array().is_some_and(|a| !a.is_empty())) {
        spec.insert("taints".into(), t.clone());
    }
}

/// A new control-plane Machine.
pub fn machine(kcp: &Object, cluster: &Object, name: &str, failure_domain: &str, infra_ref: Value, config_ref: Value) -> Object {
    let mut m = Object::new(Kind::Machine, kcp.namespace(), name);
    m.meta.labels = labels(kcp, cluster.name()).into();
    m.meta.annotations = machine_annotations(kcp, None).into();
    m.meta.owner_references.push(OwnerRef::to(kcp, true));
    let mut spec = Map::new();
    spec.insert("clusterName".into(), json!(cluster.name()));
    spec.insert("version".into(), json!(kcp.str_at("/spec/version").unwrap_or("")));
    spec.insert("bootstrap".into(), json!({"configRef": config_ref}));
    spec.insert("infrastructureRef".into(), infra_ref);
    if !failure_domain.is_empty() {
        spec.insert("failureDomain".into(), json!(failure_domain));
    }
    spec.insert("readinessGates".into(), Value::Array(readiness_gates(kcp)));
    in_place_spec(kcp, &mut spec);
    m.body.insert("spec".into(), Value::Object(spec));
    m
}

/// `ComputeDesiredMachine` for an existing Machine: the Machine KCP wants, with the existing one's
/// name, uid, version, failure domain and references (which syncing never changes).
pub fn existing_machine(kcp: &Object, cluster: &Object, existing: &Object) -> Object {
    let infra_ref = existing.at("/spec/infrastructureRef").cloned().unwrap_or_else(|| json!({}));
    let config_ref = existing.at("/spec/bootstrap/configRef").cloned().unwrap_or(Value::Null);
    let fd = existing.str_at("/spec/failureDomain").unwrap_or("");
    let mut m = machine(kcp, cluster, existing.name(), fd, infra_ref, config_ref);
    m.meta.uid = existing.meta.uid.clone();
    m.meta.annotations = machine_annotations(kcp, Some(existing)).into();
    for p in ["/spec/version", "/spec/bootstrap/configRef"] {
        match existing.at(p) {
            Some(v) => m.set(p, v.clone()),
            None => {
                m.remove(p);
            }
        }
    }
    if m.at("/spec/bootstrap").is_some_and(|b| b.as_object().is_some_and(|o| o.is_empty())) {
        m.remove("/spec/bootstrap");
    }
    m
}

/// The in-place mutable parts of an existing Machine as KCP wants them: `(labels, annotations,
/// readinessGates, deletion, taints)` merged over the Machine. Returns the updated copy.
pub fn synced_machine(kcp: &Object, cluster: &str, existing: &Object) -> Object {
    let mut m = existing.clone();
    for (k, v) in labels(kcp, cluster) {
        m.meta.labels.insert(k, v);
    }
    for (k, v) in machine_annotations(kcp, Some(existing)) {
        m.meta.annotations.insert(k, v);
    }
    m.set("/spec/readinessGates", Value::Array(readiness_gates(kcp)));
    let mut spec = Map::new();
    in_place_spec(kcp, &mut spec);
    match spec.remove("deletion") {
        Some(d) => m.set("/spec/deletion", d),
        None => {
            m.remove("/spec/deletion");
        }
    }
    match spec.remove("taints") {
        Some(t) => m.set("/spec/taints", t),
        None => {
            m.remove("/spec/taints");
        }
    }
    m
}

/// The fields of a deleting Machine KCP still syncs (only what matters for tearing it down).
pub fn synced_deleting_machine(kcp: &Object, existing: &Object) -> Object {
    let mut m = existing.clone();
    let mut spec = Map::new();
    in_place_spec(kcp, &mut spec);
    match spec.remove("deletion") {
        Some(d) => m.set("/spec/deletion", d),
        None => {
            m.remove("/spec/deletion");
        }
    }
    m
}

/// The KubeadmConfig spec for a control-plane Machine: the KCP's `kubeadmConfigSpec` without the
/// unused half (init for the first Machine, join with `controlPlane` for the others), with the
/// kubelet-local-mode feature gate defaulted as KCP does.
pub fn config_spec(kcp: &Object, join: bool) -> Value {
    let mut spec = kcp.at("/spec/kubeadmConfigSpec").cloned().filter(Value::is_object).unwrap_or_else(|| json!({}));
    let m = spec.as_object_mut().expect("checked object");
    if join {
        m.remove("initConfiguration");
        let jc = m.entry("joinConfiguration").or_insert_with(|| json!({}));
        if !jc.is_object() {
            *jc = json!({});
        }
        let jc = jc.as_object_mut().expect("object");
        if jc.get("controlPlane").is_none_or(Value::is_null) {
            jc.insert("controlPlane".into(), json!({}));
        }
    } else {
        m.remove("joinConfiguration");
    }
    default_feature_gates(&mut spec, kcp.str_at("/spec/version").unwrap_or(""));
    spec
}

/// `DefaultFeatureGates`: `ControlPlaneKubeletLocalMode: true` for 1.31 ≤ version < 1.36 unless set.
pub fn default_feature_gates(spec: &mut Value, version: &str) {
    let Some(v) = common::parse_version(version) else { return };
    let v = (v.major, v.minor);
    if !((1, 31)..(1, 36)).contains(&v) {
        return;
    }
    let Some(m) = spec.as_object_mut() else { return };
    let cc = m.entry("clusterConfiguration").or_insert_with(|| json!({}));
    if !cc.is_object() {
        *cc = json!({});
    }
    let fg = cc.as_object_mut().expect("object").entry("featureGates").or_insert_with(|| json!({}));
    if !fg.is_object() {
        *fg = json!({});
    }
    fg.as_object_mut().expect("object").entry(KUBELET_LOCAL_MODE).or_insert(json!(true));
}

/// A new KubeadmConfig (same name as its Machine, non-controller ownerRef to the KCP).
pub fn kubeadm_config(kcp: &Object, cluster: &Object, name: &str, join: bool) -> Object {
    let mut c = Object::new(Kind::KubeadmConfig, kcp.namespace(), name);
    c.meta.labels = labels(kcp, cluster.name()).into();
    c.meta.annotations = annotations(kcp).into();
    c.meta.owner_references.push(non_controller_ref(kcp));
    c.body.insert("spec".into(), config_spec(kcp, join));
    c
}

/// A new infrastructure machine cloned from the machine template's `spec.template`.
pub fn infra_machine(kcp: &Object, cluster: &Object, template: &Object, name: &str) -> Result<Object, String> {
    let kind =
        template.kind.template_target().filter(|k| k.is_infra_machine()).ok_or_else(|| {
            format!("failed to compute desired InfraMachine: {} is not an infrastructure machine template", template.kind)
        })?;
    let mut o = Object::new(kind, kcp.namespace(), name);
    let tmpl = template.at("/spec/template");
    for (k, v) in string_map(tmpl.and_then(|t| t.ptr("/metadata/labels"))) {
        o.meta.labels.insert(k, v);
    }
    for (k, v) in string_map(tmpl.and_then(|t| t.ptr("/metadata/annotations"))) {
        o.meta.annotations.insert(k, v);
    }
    for (k, v) in annotations(kcp) {
        o.meta.annotations.insert(k, v);
    }
    o.meta.annotations.insert(keys::CLONED_FROM_NAME.into(), template.name().to_string());
    o.meta.annotations.insert(keys::CLONED_FROM_GROUPKIND.into(), group_kind(template));
    for (k, v) in labels(kcp, cluster.name()) {
        o.meta.labels.insert(k, v);
    }
    o.meta.labels.insert(keys::CLUSTER_NAME.into(), cluster.name().to_string());
    o.meta.owner_references.push(non_controller_ref(kcp));
    let spec = tmpl.and_then(|t| t.get("spec")).cloned().filter(Value::is_object).unwrap_or_else(|| json!({}));
    o.body.insert("spec".into(), spec);
    Ok(o)
}

/// `Kind.group` of an object (what `cloned-from-groupkind` records).
pub fn group_kind(o: &Object) -> String {
    format!("{}.{}", o.kind.name(), o.kind.info().group)
}

/// A plain (non-controller, no blockOwnerDeletion) owner reference.
pub fn non_controller_ref(owner: &Object) -> OwnerRef {
    let mut r = OwnerRef::to(owner, false);
    r.block_owner_deletion = false;
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn kcp(version: &str) -> Object {
        let mut k = Object::new(Kind::KubeadmControlPlane, "default", "cp");
        k.meta.uid = "uid-kcp".into();
        k.set("/spec/version", json!(version));
        k.set(
            "/spec/kubeadmConfigSpec",
            json!({"clusterConfiguration": {"apiServer": {"certSANs": ["localhost"]}}, "initConfiguration": {"nodeRegistration": {}}, "joinConfiguration": {"nodeRegistration": {}}}),
        );
        k
    }

    #[test]
    fn init_config_has_no_join_and_join_config_has_control_plane() {
        let k = kcp("v1.30.0");
        let init = config_spec(&k, false);
        assert!(init.get("joinConfiguration").is_none());
        assert!(init.get("initConfiguration").is_some());
        let join = config_spec(&k, true);
        assert!(join.get("initConfiguration").is_none());
        assert_eq!(join.ptr("/joinConfiguration/controlPlane"), Some(&json!({})));
    }

    #[rstest]
    #[case("v1.30.5", false)]
    #[case("v1.31.0", true)]
    #[case("v1.35.2", true)]
    #[case("v1.36.0", false)]
    fn kubelet_local_mode_gate_follows_the_version(#[case] version: &str, #[case] set: bool) {
        let spec = config_spec(&kcp(version), true);
        assert_eq!(spec.ptr("/clusterConfiguration/featureGates/ControlPlaneKubeletLocalMode").is_some(), set);
    }

    #[rstest]
    #[case(None, "cp-abcde")]
    #[case(Some("{{ .cluster.name }}-cp-{{ .random }}"), "c1-cp-abcde")]
    fn machine_names_follow_the_template(#[case] template: Option<&str>, #[case] want: &str) {
        let mut k = kcp("v1.30.0");
        if let Some(t) = template {
            k.set("/spec/machineNaming/template", json!(t));
        }
        assert_eq!(machine_name(&k, "c1", "abcde").unwrap(), want);
    }

    #[test]
    fn machine_carries_hook_labels_and_gates() {
        let k = kcp("v1.30.0");
        let c = Object::new(Kind::Cluster, "default", "c1");
        let m = machine(&k, &c, "cp-abcde", "fd1", json!({"kind": "DockerMachine"}), json!({"kind": "KubeadmConfig"}));
        assert_eq!(m.annotation(keys::KCP_CLEANUP_HOOK), Some(""));
        assert_eq!(m.label(keys::CONTROL_PLANE_NAME), Some("cp"));
        assert_eq!(m.str_at("/spec/failureDomain"), Some("fd1"));
        assert_eq!(m.at("/spec/readinessGates").and_then(Value::as_array).map(Vec::len), Some(6));
        assert!(m.controller_ref().is_some_and(|r| r.kind == "KubeadmControlPlane"));
    }
}

//! MachineSet templates and identity: the rollout-relevant fields of a Machine template, the
//! `machine-template-hash`, the up-to-date comparison (version, bootstrap, infrastructureRef, failure
//! domain), `rolloutAfter`, the new-vs-old MachineSet classification, revision annotations and the
//! annotations a MachineDeployment passes to its MachineSets.
//! Source: `core/reconcilers/machinedeployment/mdutil/util.go`.
//!
//! Simplification: the hash is FNV-32a over the canonical JSON of the rollout-relevant fields (CAPI
//! hashes a spew dump of the Go struct, so the numbers differ but the rule — equal rollout fields give
//! equal hashes — is the same).

use super::intstr::Rollout;
use crate::object::Ptr;
use crate::object::{parse_timestamp, Object};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

/// `MachineTemplateDeepCopyRolloutFields`: the template without metadata and without the fields
/// propagated in place (they never cause a rollout).
pub fn rollout_fields(template: &Value) -> Value {
    let mut t = template.clone();
    if let Some(m) = t.as_object_mut() {
        m.remove("metadata");
        if let Some(spec) = m.get_mut("spec").and_then(Value::as_object_mut) {
            for k in ["clusterName", "providerID", "minReadySeconds", "readinessGates", "taints"] {
                spec.remove(k);
            }
            if let Some(d) = spec.get_mut("deletion").and_then(Value::as_object_mut) {
                for k in ["nodeDrainTimeoutSeconds", "nodeVolumeDetachTimeoutSeconds", "nodeDeletionTimeoutSeconds"] {
                    d.remove(k);
                }
                if d.is_empty() {
                    spec.remove("deletion");
                }
            }
        }
    }
    t
}

fn canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(m) => {
            let sorted: BTreeMap<&String, &Value> = m.iter().collect();
            out.push('{');
            for (i, (k, v)) in sorted.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                canonical(v, out);
            }
            out.push('}');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(x, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// The machine-template hash used in the `machine-template-hash` label: FNV-32a over the canonical
/// JSON of the rollout-relevant fields (key order does not matter).
pub fn template_hash(template: &Value) -> u32 {
    let mut text = String::new();
    canonical(&rollout_fields(template), &mut text);
    let mut h: u32 = 0x811c_9dc5;
    for b in text.bytes() {
        h ^= b as u32;
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// The result of comparing a MachineSet's template with the MachineDeployment's.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UpToDate {
    /// Whether they match on every rollout-relevant field.
    pub up_to_date: bool,
    /// Messages for logs (`spec.version v1.33.0, v1.34.0 required`).
    pub log_messages: Vec<String>,
    /// Messages for the Machine `UpToDate` condition (`Version v1.33.0, v1.34.0 required`).
    pub condition_messages: Vec<String>,
}

fn s<'a>(v: &'a Value, p: &str) -> &'a str {
    v.ptr(p).and_then(Value::as_str).unwrap_or("")
}

fn ref_eq(a: &Value, b: &Value, p: &str) -> bool {
    fn field<'a>(r: Option<&'a Value>, k: &str) -> &'a str {
        r.and_then(|r| r.get(k)).and_then(Value::as_str).unwrap_or("")
    }
    let (ra, rb) = (a.ptr(p), b.ptr(p));
    ["apiGroup", "kind", "name"].iter().all(|k| field(ra, k) == field(rb, k))
}

/// `MachineTemplateUpToDate`: version, bootstrap, infrastructureRef and failureDomain decide.
pub fn template_up_to_date(current: &Value, desired: &Value) -> UpToDate {
    let mut r = UpToDate::default();
    let (cv, dv) = (s(current, "/spec/version"), s(desired, "/spec/version"));
    if cv != dv {
        r.log_messages.push(format!("spec.version {cv}, {dv} required"));
        r.condition_messages.push(format!("Version {cv}, {dv} required"));
    }
    let bootstrap_eq = ref_eq(current, desired, "/spec/bootstrap/configRef")
        && current.ptr("/spec/bootstrap/dataSecretName").and_then(Value::as_str)
            == desired.ptr("/spec/bootstrap/dataSecretName").and_then(Value::as_str);
    let has_config_ref =
        !s(current, "/spec/bootstrap/configRef/name").is_empty() || !s(current, "/spec/bootstrap/configRef/kind").is_empty();
    if !bootstrap_eq {
        if has_config_ref {
            let ck = s(current, "/spec/bootstrap/configRef/kind");
            r.log_messages.push(format!(
                "spec.bootstrap.configRef {ck} {}, {} {} required",
                s(current, "/spec/bootstrap/configRef/name"),
                s(desired, "/spec/bootstrap/configRef/kind"),
                s(desired, "/spec/bootstrap/configRef/name")
            ));
            r.condition_messages.push(format!("{} is not up-to-date", ck.strip_suffix("Template").unwrap_or(ck)));
        } else {
            let name = |v: &Value| v.ptr("/spec/bootstrap/dataSecretName").and_then(Value::as_str).unwrap_or("nil").to_string();
            let m = format!("spec.bootstrap.dataSecretName {}, {} required", name(current), name(desired));
            r.log_messages.push(m.clone());
            r.condition_messages.push(m);
        }
    }
    if !ref_eq(current, desired, "/spec/infrastructureRef") {
        let ck = s(current, "/spec/infrastructureRef/kind");
        r.log_messages.push(format!(
            "spec.infrastructureRef {ck} {}, {} {} required",
            s(current, "/spec/infrastructureRef/name"),
            s(desired, "/spec/infrastructureRef/kind"),
            s(desired, "/spec/infrastructureRef/name")
        ));
        r.condition_messages.push(format!("{} is not up-to-date", ck.strip_suffix("Template").unwrap_or(ck)));
    }
    let (cf, df) = (s(current, "/spec/failureDomain"), s(desired, "/spec/failureDomain"));
    if cf != df {
        r.log_messages.push(format!("spec.failureDomain {cf}, {df} required"));
        r.condition_messages.push(format!("Failure domain {cf}, {df} required"));
    }
    r.up_to_date = r.log_messages.is_empty();
    r
}

/// `spec.rollout.after` of a MachineDeployment (ms), if set and valid.
pub fn rollout_after(md: &Object) -> Option<u64> {
    md.str_at("/spec/rollout/after").and_then(parse_timestamp)
}

/// Whether a MachineSet's Machines must be replaced because `rolloutAfter` has expired.
pub fn rollout_after_expired(md: &Object, ms: &Object, now: u64) -> bool {
    rollout_after(md).is_some_and(|after| after < now && ms.meta.creation_ms < after)
}

/// New vs old MachineSets of a MachineDeployment.
#[derive(Clone, Debug, Default)]
pub struct Classified {
    /// The MachineSet matching the MachineDeployment's template.
    pub new: Option<Arc<Object>>,
    /// Every other MachineSet, in `MachineSetsByDecreasingReplicas` order.
    pub old: Vec<Arc<Object>>,
    /// Why a new MachineSet is needed (when `new` is `None`).
    pub create_reason: String,
}

/// `MachineSetsByDecreasingReplicas`: more replicas first, then older, then name.
pub fn by_decreasing_replicas(a: &Object, b: &Object) -> std::cmp::Ordering {
    match (a.i64_at("/spec/replicas"), b.i64_at("/spec/replicas")) {
        (None, None) => std::cmp::Ordering::Equal,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (Some(_), None) => std::cmp::Ordering::Less,
        (Some(x), Some(y)) => y.cmp(&x).then_with(|| crate::controllers::common::older_first(a, b)),
    }
}

/// `FindNewAndOldMachineSets`: the MachineSet whose template matches (ignoring in-place fields) is the
/// new one; with several candidates the one with most replicas wins; an expired `rolloutAfter` needs a
/// MachineSet created after it.
pub fn find_new_and_old(md: &Object, mss: &[Arc<Object>], now: u64) -> Classified {
    if mss.is_empty() {
        return Classified { create_reason: "no MachineSets exist for the MachineDeployment".into(), ..Default::default() };
    }
    let desired = md.at("/spec/template").cloned().unwrap_or(Value::Null);
    let mut sorted: Vec<Arc<Object>> = mss.to_vec();
    sorted.sort_by(|a, b| by_decreasing_replicas(a, b));
    let mut candidates = Vec::new();
    let mut out = Classified::default();
    let mut diffs = Vec::new();
    for ms in sorted {
        let current = ms.at("/spec/template").cloned().unwrap_or(Value::Null);
        let r = template_up_to_date(&current, &desired);
        if r.up_to_date {
            candidates.push(ms);
        } else {
            diffs.push(format!("MachineSet {} needs rollout: {}", ms.name(), r.log_messages.join(", ")));
            out.old.push(ms);
        }
    }
    if candidates.is_empty() {
        out.create_reason = format!("couldn't find MachineSet matching MachineDeployment spec template: {}", diffs.join("; "));
        return out;
    }
    match rollout_after(md) {
        Some(after) if now >= after => {
            for ms in candidates {
                if out.new.is_none() && ms.meta.creation_ms >= after {
                    out.new = Some(ms);
                } else {
                    out.old.push(ms);
                }
            }
            if out.new.is_none() {
                out.create_reason = format!(
                    "spec.rollout.after on MachineDeployment set to {}, no MachineSet has been created afterwards",
                    md.str_at("/spec/rollout/after").unwrap_or("")
                );
            }
        }
        _ => {
            let mut it = candidates.into_iter();
            out.new = it.next();
            out.old.extend(it);
        }
    }
    out
}

// ----- Revisions -----

/// The revision annotation of a MachineSet (0 when absent).
pub fn revision(ms: &Object) -> Result<i64, String> {
    match ms.annotation(crate::controllers::common::keys::REVISION) {
        None => Ok(0),
        Some(v) => v.parse().map_err(|_| format!("failed to parse revision {v:?} of MachineSet {}", ms.name())),
    }
}

/// The deprecated revision-history annotation.
pub const REVISION_HISTORY: &str = "machinedeployment.clusters.x-k8s.io/revision-history";

/// `ComputeRevisionAnnotations`: the new MachineSet's revision is the highest old revision + 1, never
/// lower than its current one; a changed revision is appended to the history annotation.
pub fn compute_revision_annotations(current_new: Option<&Object>, old: &[&Object]) -> Result<(BTreeMap<String, String>, String), String> {
    let max_old = old.iter().filter_map(|o| revision(o).ok()).max().unwrap_or(0).max(0);
    let next = max_old + 1;
    let mut rev = next.to_string();
    let mut out = BTreeMap::new();
    if let Some(ms) = current_new {
        let current = ms.annotation(crate::controllers::common::keys::REVISION);
        if let Some(c) = current {
            let ci: i64 = c.parse().map_err(|_| format!("failed to parse current revision on MachineSet {}", ms.name()))?;
            if next < ci {
                rev = c.to_string();
            }
        }
        let history = ms.annotation(REVISION_HISTORY);
        if let Some(h) = history {
            out.insert(REVISION_HISTORY.to_string(), h.to_string());
        }
        if let Some(c) = current.filter(|c| *c != rev) {
            let h = match history.filter(|h| !h.is_empty()) {
                Some(h) => format!("{h},{c}"),
                None => c.to_string(),
            };
            out.insert(REVISION_HISTORY.to_string(), h);
        }
    }
    out.insert(crate::controllers::common::keys::REVISION.to_string(), rev.clone());
    Ok((out, rev))
}

/// Annotations never copied from a MachineDeployment to its MachineSets.
const SKIP_ANNOTATIONS: &[&str] = &[
    "kubectl.kubernetes.io/last-applied-configuration",
    crate::controllers::common::keys::REVISION,
    REVISION_HISTORY,
    crate::controllers::common::keys::DESIRED_REPLICAS,
    crate::controllers::common::keys::MAX_REPLICAS,
    "cluster.x-k8s.io/conversion-data",
];

/// `MachineSetAnnotationsFromMachineDeployment`: the MD's annotations (minus bookkeeping ones) plus
/// desired-replicas and max-replicas.
pub fn ms_annotations_from_md(md: &Object, rollout: &Rollout) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> =
        md.meta.annotations.iter().filter(|(k, _)| !SKIP_ANNOTATIONS.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect();
    out.insert(crate::controllers::common::keys::DESIRED_REPLICAS.into(), rollout.desired().to_string());
    out.insert(crate::controllers::common::keys::MAX_REPLICAS.into(), (rollout.desired() + rollout.max_surge()).to_string());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn template(version: &str, min_ready: i64) -> Value {
        json!({
            "metadata": {"labels": {"a": "b"}},
            "spec": {
                "clusterName": "c", "version": version, "minReadySeconds": min_ready,
                "bootstrap": {"configRef": {"apiGroup": "bootstrap.cluster.x-k8s.io", "kind": "KubeadmConfigTemplate", "name": "t"}},
                "infrastructureRef": {"apiGroup": "infrastructure.cluster.x-k8s.io", "kind": "DockerMachineTemplate", "name": "d"},
                "deletion": {"nodeDrainTimeoutSeconds": 10}
            }
        })
    }

    #[test]
    fn hash_is_stable_and_ignores_in_place_fields() {
        let a = template("v1.34.0", 0);
        let b = template("v1.34.0", 30);
        // Same content, different key order.
        let c: Value = serde_json::from_str(
            &serde_json::to_string(&json!({
                "spec": {
                    "infrastructureRef": {"name": "d", "kind": "DockerMachineTemplate", "apiGroup": "infrastructure.cluster.x-k8s.io"},
                    "bootstrap": {"configRef": {"name": "t", "kind": "KubeadmConfigTemplate", "apiGroup": "bootstrap.cluster.x-k8s.io"}},
                    "version": "v1.34.0", "clusterName": "other"
                }
            }))
            .unwrap(),
        )
        .unwrap();
        assert_eq!(template_hash(&a), template_hash(&b));
        assert_eq!(template_hash(&a), template_hash(&c));
        assert_ne!(template_hash(&a), template_hash(&template("v1.35.0", 0)));
        assert_eq!(template_hash(&a), template_hash(&a.clone()));
    }

    #[test]
    fn up_to_date_compares_rollout_fields_only() {
        let r = template_up_to_date(&template("v1.33.0", 0), &template("v1.34.0", 5));
        assert!(!r.up_to_date);
        assert_eq!(r.condition_messages, vec!["Version v1.33.0, v1.34.0 required".to_string()]);
        assert!(template_up_to_date(&template("v1.34.0", 0), &template("v1.34.0", 99)).up_to_date);
        let mut other = template("v1.34.0", 0);
        other["spec"]["infrastructureRef"]["name"] = json!("d2");
        let r = template_up_to_date(&template("v1.34.0", 0), &other);
        assert_eq!(r.condition_messages, vec!["DockerMachine is not up-to-date".to_string()]);
    }

    #[test]
    fn revisions_grow_and_keep_history() {
        let mut old = Object::new(crate::kinds::Kind::MachineSet, "default", "old");
        old.meta.annotations.insert(crate::controllers::common::keys::REVISION.into(), "3".into());
        let (ann, rev) = compute_revision_annotations(None, &[&old]).unwrap();
        assert_eq!(rev, "4");
        assert_eq!(ann.get(crate::controllers::common::keys::REVISION).map(String::as_str), Some("4"));
        let mut cur = Object::new(crate::kinds::Kind::MachineSet, "default", "cur");
        cur.meta.annotations.insert(crate::controllers::common::keys::REVISION.into(), "2".into());
        let (ann, rev) = compute_revision_annotations(Some(&cur), &[&old]).unwrap();
        assert_eq!(rev, "4");
        assert_eq!(ann.get(REVISION_HISTORY).map(String::as_str), Some("2"));
    }
}

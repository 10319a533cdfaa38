//! Whether a control-plane Machine is up to date with its KCP, and why not: certificates expiring
//! (`rollout.before`), `rollout.after` passed, another Kubernetes version, a KubeadmConfig that
//! differs from the KCP's `kubeadmConfigSpec`, or an infrastructure machine cloned from another template.
//! The reasons are the messages KCP puts on the Machine's `UpToDate` condition.
//! Source: `controlplane/kubeadm/pkg/filters.go` (`UpToDate`, `matchesKubeadmConfig`, `PrepareKubeadmConfigsForDiff`).
//!
//! Simplification: KubeadmConfig specs are compared as JSON after dropping what CAPI ignores
//! (discovery, `controlPlaneEndpoint`, DNS, component health-check timeouts) and empty values,
//! instead of applying the kubeadm API's previous defaults field by field.

use super::desired;
use super::scope::time_at;
use crate::controllers::common::keys;
use crate::object::Object;
use crate::object::Ptr;
use serde_json::{json, Value};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Why a Machine is outdated (empty = up to date), as `UpToDate` condition messages.
pub fn reasons(
    kcp: &Object,
    machine: &Object,
    infra: Option<&Object>,
    config: Option<&Object>,
    memo: Option<&ConfigMatchMemo>,
    now: u64,
) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(days) = kcp.i64_at("/spec/rollout/before/certificatesExpiryDays").filter(|d| *d > 0) {
        if let Some(expiry) = time_at(machine, "/status/certificatesExpiryDate") {
            if now + (days as u64) * 86_400_000 > expiry {
                out.push("Certificates will expire soon".to_string());
            }
        }
    }
    if let Some(after) = time_at(kcp, "/spec/rollout/after") {
        let created = machine.meta.creation_ms / 1000 * 1000;
        if created < after && after < now {
            out.push("KubeadmControlPlane spec.rolloutAfter expired".to_string());
        }
    }
    let want = kcp.str_at("/spec/version").unwrap_or("");
    let have = machine.str_at("/spec/version").unwrap_or("");
    if want != have {
        out.push(format!("Version {have}, {want} required"));
    }
    if machine.at("/spec/bootstrap/configRef/name").is_some() {
        if let Some(cfg) = config {
            if !memo.map_or_else(|| config_matches(kcp, cfg), |m| m.matches(kcp, cfg)) {
                out.push("KubeadmConfig is not up-to-date".to_string());
            }
        }
    }
    if let Some(im) = infra {
        if !infra_matches(kcp, im) {
            let kind = machine.str_at("/spec/infrastructureRef/kind").unwrap_or(im.kind.name());
            out.push(format!("{kind} is not up-to-date"));
        }
    }
    out
}

/// Whether the infrastructure machine was cloned from the KCP's current template (missing
/// annotations never count as a mismatch).
pub fn infra_matches(kcp: &Object, infra: &Object) -> bool {
    let (Some(name), Some(gk)) = (infra.annotation(keys::CLONED_FROM_NAME), infra.annotation(keys::CLONED_FROM_GROUPKIND)) else {
        return true;
    };
    let r = kcp.at("/spec/machineTemplate/spec/infrastructureRef");
    let want_name = r.and_then(|r| r.get("name")).and_then(Value::as_str).unwrap_or("");
    let want_kind = r.and_then(|r| r.get("kind")).and_then(Value::as_str).unwrap_or("");
    let want_group = r.and_then(|r| r.get("apiGroup")).and_then(Value::as_str).unwrap_or("");
    name == want_name && gk == format!("{want_kind}.{want_group}")
}

/// Answers of [`config_matches`] by KubeadmConfig uid. The answer is a function of the KCP's spec and
/// the config's, so it stands while the KCP's generation and the config's resourceVersion stay the
/// same; the comparison (normalising both specs) is most of what a KCP reconcile's scope costs. One
/// entry per KubeadmConfig seen (about 100 bytes).
#[derive(Debug, Default)]
pub struct ConfigMatchMemo(RefCell<BTreeMap<Arc<str>, ConfigMatch>>);

/// One remembered answer: (KCP uid, KCP generation, config resourceVersion, matches).
type ConfigMatch = (Arc<str>, i64, u64, bool);

impl ConfigMatchMemo {
    /// [`config_matches`], remembered.
    pub fn matches(&self, kcp: &Object, config: &Object) -> bool {
        let (uid, generation, rv) = (&config.meta.uid, kcp.meta.generation, config.meta.resource_version);
        if uid.is_empty() || kcp.meta.uid.is_empty() || rv == 0 {
            return config_matches(kcp, config);
        }
        if let Some((kcp_uid, g, r, answer)) = self.0.borrow().get(uid) {
            if *kcp_uid == kcp.meta.uid && *g == generation && *r == rv {
                return *answer;
            }
        }
        let answer = config_matches(kcp, config);
        self.0.borrow_mut().insert(uid.clone(), (kcp.meta.uid.clone(), generation, rv, answer));
        answer
    }
}

/// Whether a KubeadmConfig matches the KCP's `kubeadmConfigSpec`: first as a join config (an init
/// config is converted to join), then, for init configs, against the init variant.
pub fn config_matches(kcp: &Object, config: &Object) -> bool {
    let current = config.at("/spec").cloned().unwrap_or_else(|| json!({}));
    let is_init = current.ptr("/joinConfiguration/controlPlane").is_none_or(Value::is_null);
    let desired_join = desired::config_spec(kcp, true);
    let current_join = if is_init { init_to_join(&current, &desired_join) } else { current.clone() };
    if normalize(&current_join, &desired_join) == normalize(&desired_join, &desired_join) {
        return true;
    }
    if is_init {
        let desired_init = desired::config_spec(kcp, false);
        return normalize(&current, &desired_init) == normalize(&desired_init, &desired_init);
    }
    false
}

/// Move an init configuration's node settings into a join configuration, as CAPI does before diffing.
fn init_to_join(spec: &Value, desired: &Value) -> Value {
    let mut s = spec.clone();
    let Some(m) = s.as_object_mut() else { return s };
    let init = m.remove("initConfiguration").unwrap_or_else(|| json!({}));
    let mut join = serde_json::Map::new();
    for k in ["timeouts", "patches", "skipPhases", "nodeRegistration"] {
        if let Some(v) = init.get(k) {
            join.insert(k.into(), v.clone());
        }
    }
    let mut cp = serde_json::Map::new();
    if let Some(v) = init.get("localAPIEndpoint") {
        cp.insert("localAPIEndpoint".into(), v.clone());
    }
    join.insert("controlPlane".into(), Value::Object(cp));
    if let Some(v) = desired.ptr("/joinConfiguration/caCertPath") {
        join.insert("caCertPath".into(), v.clone());
    }
    m.insert("joinConfiguration".into(), Value::Object(join));
    s
}

/// Drop what CAPI ignores when comparing, then every empty value.
fn normalize(spec: &Value, desired: &Value) -> Value {
    let mut s = spec.clone();
    if let Some(m) = s.as_object_mut() {
        if let Some(cc) = m.get_mut("clusterConfiguration").and_then(Value::as_object_mut) {
            cc.remove("controlPlaneEndpoint");
            cc.remove("dns");
            if let Some(d) = desired.ptr("/clusterConfiguration/dns") {
                cc.insert("dns".into(), d.clone());
            }
        }
        if let Some(jc) = m.get_mut("joinConfiguration").and_then(Value::as_object_mut) {
            jc.remove("discovery");
            if let Some(t) = jc.get_mut("timeouts").and_then(Value::as_object_mut) {
                t.remove("controlPlaneComponentHealthCheckSeconds");
            }
        }
        if let Some(ic) = m.get_mut("initConfiguration").and_then(Value::as_object_mut) {
            if let Some(t) = ic.get_mut("timeouts").and_then(Value::as_object_mut) {
                t.remove("controlPlaneComponentHealthCheckSeconds");
            }
        }
    }
    drop_empty(&mut s);
    s
}

/// Remove nulls, empty maps and empty lists (recursively), except the `controlPlane` marker of a
/// join configuration (its presence is what makes a config a join config).
pub fn drop_empty(v: &mut Value) {
    if let Value::Object(m) = v {
        for (_, x) in m.iter_mut() {
            drop_empty(x);
        }
        m.retain(|k, x| k == "controlPlane" || !is_empty(x));
    } else if let Value::Array(a) = v {
        for x in a.iter_mut() {
            drop_empty(x);
        }
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::Kind;
    use rstest::rstest;

    fn kcp() -> Object {
        let mut k = Object::new(Kind::KubeadmControlPlane, "default", "cp");
        k.set("/spec/version", json!("v1.30.0"));
        k.set(
            "/spec/machineTemplate/spec/infrastructureRef",
            json!({"apiGroup": "infrastructure.cluster.x-k8s.io", "kind": "DockerMachineTemplate", "name": "t1"}),
        );
        k.set("/spec/kubeadmConfigSpec", json!({"clusterConfiguration": {"apiServer": {"certSANs": ["a"]}}, "initConfiguration": {"nodeRegistration": {"name": "x"}}, "joinConfiguration": {"nodeRegistration": {"name": "x"}}}));
        k
    }

    fn machine(version: &str) -> Object {
        let mut m = Object::new(Kind::Machine, "default", "m");
        m.set("/spec/version", json!(version));
        m.set("/spec/bootstrap/configRef/name", json!("m"));
        m.set("/spec/infrastructureRef/kind", json!("DockerMachine"));
        m
    }

    fn config(join: bool, k: &Object) -> Object {
        let mut c = Object::new(Kind::KubeadmConfig, "default", "m");
        let mut spec = desired::config_spec(k, join);
        if join {
            spec["joinConfiguration"]["discovery"] = json!({"bootstrapToken": {"token": "abc"}});
        }
        spec["clusterConfiguration"]["controlPlaneEndpoint"] = json!("1.2.3.4:6443");
        c.body.insert("spec".into(), spec);
        c
    }

    /// The memo answers as `config_matches` does, and asks again when the KCP's spec (its generation)
    /// or the config (its resourceVersion) changed.
    #[test]
    fn remembered_config_matches_follow_kcp_generation_and_config_version() {
        let memo = ConfigMatchMemo::default();
        let mut k = kcp();
        (k.meta.uid, k.meta.generation) = ("kcp-uid".into(), 1);
        let mut c = config(true, &k);
        (c.meta.uid, c.meta.resource_version) = ("cfg-uid".into(), 10);
        assert!(memo.matches(&k, &c) && config_matches(&k, &c));
        // The KCP's spec changes: a new generation, a new answer.
        k.set("/spec/kubeadmConfigSpec/clusterConfiguration/apiServer/certSANs", json!(["b"]));
        assert!(memo.matches(&k, &c), "same generation: the remembered answer");
        k.meta.generation = 2;
        assert!(!memo.matches(&k, &c) && !config_matches(&k, &c));
        // The config is rewritten to match: a new resourceVersion, a new answer.
        let mut c2 = config(true, &k);
        (c2.meta.uid, c2.meta.resource_version) = ("cfg-uid".into(), 11);
        assert!(memo.matches(&k, &c2));
    }

    fn infra(template: &str) -> Object {
        let mut i = Object::new(Kind::DockerMachine, "default", "m");
        i.meta.annotations.insert(keys::CLONED_FROM_NAME.into(), template.into());
        i.meta.annotations.insert(keys::CLONED_FROM_GROUPKIND.into(), "DockerMachineTemplate.infrastructure.cluster.x-k8s.io".into());
        i
    }

    #[rstest]
    #[case::up_to_date_init("v1.30.0", false, "t1", vec![])]
    #[case::up_to_date_join("v1.30.0", true, "t1", vec![])]
    #[case::version("v1.29.0", true, "t1", vec!["Version v1.29.0, v1.30.0 required"])]
    #[case::template_rotated("v1.30.0", true, "t0", vec!["DockerMachine is not up-to-date"])]
    fn outdated_reasons(#[case] version: &str, #[case] join: bool, #[case] template: &str, #[case] want: Vec<&str>) {
        let k = kcp();
        let got = reasons(&k, &machine(version), Some(&infra(template)), Some(&config(join, &k)), None, 0);
        assert_eq!(got, want);
    }

    #[test]
    fn changed_kubeadm_config_spec_is_outdated() {
        let k = kcp();
        let c = config(true, &k);
        let mut k2 = k.clone();
        k2.set("/spec/kubeadmConfigSpec/clusterConfiguration/apiServer/certSANs", json!(["a", "b"]));
        assert!(config_matches(&k, &c));
        assert!(!config_matches(&k2, &c));
    }

    #[test]
    fn rollout_after_outdates_older_machines_once_passed() {
        let mut k = kcp();
        k.set("/spec/rollout/after", json!(crate::object::timestamp(60_000)));
        let m = machine("v1.30.0");
        assert!(reasons(&k, &m, None, None, None, 30_000).is_empty());
        assert_eq!(reasons(&k, &m, None, None, None, 61_000), vec!["KubeadmControlPlane spec.rolloutAfter expired"]);
    }
}

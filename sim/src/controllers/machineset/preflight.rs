//! MachineSet preflight checks (feature gate `MachineSetPreflightChecks`, default on), run before
//! creating Machines ("Scale up") and before remediating ("Machine remediation"):
//! `ControlPlaneIsStable` (the control plane is neither provisioning nor upgrading, and for topology
//! clusters it already runs the topology version), `KubernetesVersionSkew` (worker minor ≤ control plane
//! minor, at most 3 behind), `KubeadmVersionSkew` (kubeadm workers join only the same minor) and
//! `ControlPlaneVersionSkew` (topology clusters: worker version equals control plane version). Checks
//! can be skipped with the `machineset.cluster.x-k8s.io/skip-preflight-checks` annotation on the
//! MachineSet (or its bootstrap template). The control plane is read through the cache.
//! Source: `core/reconcilers/machineset/machineset_preflight.go`, `internal/contract/controlplane.go`.

use crate::controllers::common::{self, parse_version};
use crate::object::Object;
use crate::runtime::Ctx;
use semver::Version;
use serde_json::Value;
use std::collections::BTreeSet;

/// `preflightFailedRequeueAfter`.
pub const PREFLIGHT_FAILED_REQUEUE_MS: u64 = 15_000;
/// The skip annotation.
pub const SKIP_ANNOTATION: &str = "machineset.cluster.x-k8s.io/skip-preflight-checks";
/// The checks the `--machineset-preflight-checks` flag knows (all enabled by default).
pub const CHECKS: &[&str] = &["All", "ControlPlaneIsStable", "ControlPlaneVersionSkew", "KubeadmVersionSkew", "KubernetesVersionSkew"];

/// The checks skipped for a MachineSet.
fn skipped(ctx: &Ctx<'_>, ms: &Object) -> Result<BTreeSet<String>, String> {
    let mut skip = ms.annotation(SKIP_ANNOTATION).unwrap_or("").to_string();
    if skip.is_empty() {
        if let Some(r) = ms.at("/spec/template/spec/bootstrap/configRef").filter(|r| r.get("name").is_some()) {
            let key = common::ref_key(r, ms.namespace())
                .ok_or_else(|| format!("failed to read {SKIP_ANNOTATION} annotation: invalid bootstrap configRef"))?;
            let t = ctx.get(&key).ok_or_else(|| {
                format!(
                    "failed to read {SKIP_ANNOTATION} annotation: {} \"{}\" not found",
                    crate::store::error::resource_name(key.kind),
                    key.name
                )
            })?;
            skip = t.annotation(SKIP_ANNOTATION).unwrap_or("").to_string();
        }
    }
    Ok(skip.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect())
}

fn should_run(skipped: &BTreeSet<String>, check: &str) -> bool {
    !skipped.contains("All") && !skipped.contains(check)
}

/// The control plane's current (minimum) status version: `status.versions[0]`, else `status.version`.
fn current_status_version(cp: &Object) -> Option<String> {
    if let Some(first) = cp.at("/status/versions").and_then(Value::as_array).and_then(|a| a.first()) {
        return Some(first.get("version").and_then(Value::as_str).unwrap_or("").to_string());
    }
    cp.str_at("/status/version").map(str::to_string)
}

/// `ControlPlane().IsProvisioning`: no status version yet.
pub fn is_provisioning(cp: &Object) -> bool {
    current_status_version(cp).is_none_or(|v| v.is_empty())
}

/// `ControlPlane().IsUpgrading`: some status version is behind `spec.version`.
pub fn is_upgrading(cp: &Object) -> Result<bool, String> {
    let spec = cp.str_at("/spec/version").unwrap_or("");
    let sv = parse_version(spec).ok_or_else(|| format!("failed to parse control plane spec version {spec:?}"))?;
    if let Some(list) = cp.at("/status/versions").and_then(Value::as_array).filter(|a| !a.is_empty()) {
        for e in list {
            let v = e.get("version").and_then(Value::as_str).unwrap_or("");
            let st = parse_version(v).ok_or_else(|| format!("failed to parse control plane status version {v:?}"))?;
            if sv > st {
                return Ok(true);
            }
        }
        return Ok(false);
    }
    match cp.str_at("/status/version").filter(|v| !v.is_empty()) {
        None => Ok(false),
        Some(v) => Ok(sv > parse_version(v).ok_or_else(|| format!("failed to parse control plane status version {v:?}"))?),
    }
}

fn stable_check(ctx: &Ctx<'_>, cp: &Object, cluster: &Object, cp_version: &str) -> Result<Option<String>, String> {
    let cp_ref = format!("{}/{}", cp.namespace(), cp.name());
    let topology = cluster.at("/spec/topology").is_some_and(|t| !t.is_null());
    if ctx.gates().cluster_topology && topology {
        let step = cluster.annotation("topology.internal.cluster.x-k8s.io/upgrade-step").filter(|v| !v.is_empty());
        let topology_version = cluster.str_at("/spec/topology/version").unwrap_or("");
        if topology_version != cp_version && step != Some(cp_version) {
            let v = step.unwrap_or(topology_version);
            return Ok(Some(format!(
                "{} {cp_ref} has a pending version upgrade to {v} (\"ControlPlaneIsStable\" preflight check failed)",
                cp.kind
            )));
        }
    }
    if is_provisioning(cp) {
        return Ok(Some(format!("{} {cp_ref} is provisioning (\"ControlPlaneIsStable\" preflight check failed)", cp.kind)));
    }
    let upgrading = is_upgrading(cp).map_err(|e| {
        format!("failed to perform \"ControlPlaneIsStable\" preflight check: failed to check if the {} {cp_ref} is upgrading: {e}", cp.kind)
    })?;
    if upgrading {
        return Ok(Some(format!("{} {cp_ref} is upgrading (\"ControlPlaneIsStable\" preflight check failed)", cp.kind)));
    }
    Ok(None)
}

/// `kubernetesVersionPreflightCheck`.
pub fn kubernetes_skew(cp: &Version, ms: &Version) -> Option<String> {
    if ms.minor > cp.minor {
        return Some(format!("MachineSet version ({ms}) and ControlPlane version ({cp}) do not conform to the kubernetes version skew policy as MachineSet version is higher than ControlPlane version (\"KubernetesVersionSkew\" preflight check failed)"));
    }
    if cp.minor >= 3 && ms.minor < cp.minor - 3 {
        return Some(format!("MachineSet version ({ms}) and ControlPlane version ({cp}) do not conform to the kubernetes version skew policy as MachineSet version is more than 3 minor versions older than the ControlPlane version (\"KubernetesVersionSkew\" preflight check failed)"));
    }
    None
}

/// `kubeadmVersionPreflightCheck`.
pub fn kubeadm_skew(cp: &Version, ms_version: &Version, ms: &Object) -> Option<String> {
    let kind = ms.str_at("/spec/template/spec/bootstrap/configRef/kind").unwrap_or("");
    let group = ms.str_at("/spec/template/spec/bootstrap/configRef/apiGroup").unwrap_or("");
    if kind == "KubeadmConfigTemplate" && group == "bootstrap.cluster.x-k8s.io" && cp.minor != ms_version.minor {
        return Some(format!("MachineSet version ({ms_version}) and ControlPlane version ({cp}) do not conform to kubeadm version skew policy as kubeadm only supports joining with the same major+minor version as the control plane (\"KubeadmVersionSkew\" preflight check failed)"));
    }
    None
}

/// `runPreflightChecks`: the messages of failed checks (empty = go ahead), or an error.
pub fn run(ctx: &Ctx<'_>, cluster: &Object, ms: &Object, action: &str) -> Result<Vec<String>, String> {
    if !ctx.gates().machine_set_preflight_checks {
        return Ok(Vec::new());
    }
    let skipped = skipped(ctx, ms)?;
    if skipped.contains("All") {
        return Ok(Vec::new());
    }
    let Some(cp_ref) = cluster.at("/spec/controlPlaneRef").filter(|r| r.get("name").and_then(Value::as_str).is_some_and(|n| !n.is_empty()))
    else {
        return Ok(Vec::new());
    };
    let fail = |what: String| format!("failed to perform {action:?}: failed to perform preflight checks: {what}");
    let key = common::ref_key(cp_ref, cluster.namespace()).ok_or_else(|| fail("invalid controlPlaneRef".into()))?;
    let cp = ctx.get(&key).ok_or_else(|| {
        fail(format!(
            "failed to get ControlPlane {}/{}: {} \"{}\" not found",
            key.ns,
            key.name,
            crate::store::error::resource_name(key.kind),
            key.name
        ))
    })?;
    let Some(cp_version) = cp.str_at("/spec/version") else { return Ok(Vec::new()) };
    let cp_semver = parse_version(cp_version)
        .ok_or_else(|| fail(format!("failed to parse version {cp_version:?} of ControlPlane {}/{}", cp.namespace(), cp.name())))?;
    let mut msgs = Vec::new();
    if should_run(&skipped, "ControlPlaneIsStable") {
        if let Some(m) = stable_check(ctx, cp, cluster, cp_version).map_err(fail)? {
            msgs.push(m);
        }
    }
    if let Some(ms_version) = ms.str_at("/spec/template/spec/version").filter(|v| !v.is_empty()) {
        let ms_semver = parse_version(ms_version)
            .ok_or_else(|| fail(format!("failed to parse version {ms_version:?} of MachineSet {}/{}", ms.namespace(), ms.name())))?;
        if should_run(&skipped, "KubernetesVersionSkew") {
            msgs.extend(kubernetes_skew(&cp_semver, &ms_semver));
        }
        if should_run(&skipped, "KubeadmVersionSkew") {
            msgs.extend(kubeadm_skew(&cp_semver, &ms_semver, ms));
        }
        let topology = cluster.at("/spec/topology").is_some_and(|t| !t.is_null());
        if should_run(&skipped, "ControlPlaneVersionSkew") && ctx.gates().cluster_topology && topology && cp_version != ms_version {
            msgs.push(format!("MachineSet version ({ms_version}) is not yet the same as the ControlPlane version ({cp_version}), waiting for version to be propagated to the MachineSet (\"ControlPlaneVersionSkew\" preflight check failed)"));
        }
    }
    Ok(msgs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::Kind;
    use rstest::rstest;
    use serde_json::json;

    fn v(s: &str) -> Version {
        parse_version(s).unwrap()
    }

    #[rstest]
    #[case("v1.34.0", "v1.34.2", false)]
    #[case("v1.34.0", "v1.35.0", true)]
    #[case("v1.34.0", "v1.31.0", false)]
    #[case("v1.34.0", "v1.30.0", true)]
    fn kubernetes_version_skew(#[case] cp: &str, #[case] ms: &str, #[case] fails: bool) {
        assert_eq!(kubernetes_skew(&v(cp), &v(ms)).is_some(), fails);
    }

    #[test]
    fn kubeadm_skew_needs_same_minor_for_kubeadm_workers() {
        let mut ms = Object::new(Kind::MachineSet, "default", "ms");
        ms.set(
            "/spec/template/spec/bootstrap/configRef",
            json!({"apiGroup": "bootstrap.cluster.x-k8s.io", "kind": "KubeadmConfigTemplate", "name": "t"}),
        );
        assert!(kubeadm_skew(&v("v1.34.0"), &v("v1.33.0"), &ms).is_some());
        assert!(kubeadm_skew(&v("v1.34.0"), &v("v1.34.1"), &ms).is_none());
    }

    #[rstest]
    #[case(json!({"spec": {"version": "v1.34.0"}}), true, false)]
    #[case(json!({"spec": {"version": "v1.34.0"}, "status": {"version": "v1.33.0"}}), false, true)]
    #[case(json!({"spec": {"version": "v1.34.0"}, "status": {"versions": [{"version": "v1.33.0", "replicas": 1}, {"version": "v1.34.0", "replicas": 2}]}}), false, true)]
    #[case(json!({"spec": {"version": "v1.34.0"}, "status": {"versions": [{"version": "v1.34.0", "replicas": 3}]}}), false, false)]
    fn control_plane_state(#[case] body: Value, #[case] provisioning: bool, #[case] upgrading: bool) {
        let mut cp = Object::new(Kind::KubeadmControlPlane, "default", "cp");
        for (k, val) in body.as_object().unwrap() {
            cp.body.insert(k.clone(), val.clone());
        }
        assert_eq!(is_provisioning(&cp), provisioning);
        assert_eq!(is_upgrading(&cp).unwrap(), upgrading);
    }
}

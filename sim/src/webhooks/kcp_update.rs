//! The immutable fields of a KubeadmControlPlane update (`ValidateUpdate` of
//! `controlplane/kubeadm/webhooks/admission/kubeadmcontrolplane.go`): a JSON merge patch from the old
//! to the new object, each changed leaf path checked against the list of paths that may change
//! (`allowed`, `pathsMatch`, `paths`), each other path `Forbidden: cannot be modified`.
//!
//! Simplification: Go's `omitempty` is approximated by ignoring empty values when diffing.

use super::kcp::forb;
use crate::controllers::topology::field::FieldError;
use crate::object::Object;
use serde_json::{Map, Value};

const SPEC: &str = "spec";
const KCS: &str = "kubeadmConfigSpec";
const CC: &str = "clusterConfiguration";
const IC: &str = "initConfiguration";
const JC: &str = "joinConfiguration";

/// The paths an update may change (`*` allows everything below).
fn allowed_paths() -> Vec<Vec<&'static str>> {
    let mut v: Vec<Vec<&'static str>> = vec![vec!["metadata", "*"]];
    // Each path of `paths` below `prefix`, in the order given.
    let mut under = |prefix: &[&'static str], paths: &[&[&'static str]]| {
        for p in paths {
            let mut full = prefix.to_vec();
            full.extend_from_slice(p);
            v.push(full);
        }
    };
    under(
        &[SPEC, KCS, CC],
        &[
            &["etcd"],
            &["etcd", "*"],
            &["etcd", "local"],
            &["etcd", "local", "*"],
            &["etcd", "external", "*"],
            &["dns"],
            &["dns", "*"],
            &["imageRepository"],
            &["featureGates"],
            &["featureGates", "*"],
            &["apiServer"],
            &["apiServer", "*"],
            &["controllerManager"],
            &["controllerManager", "*"],
            &["scheduler"],
            &["scheduler", "*"],
            &["certificateValidityPeriodDays"],
            &["encryptionAlgorithm"],
        ],
    );
    under(
        &[SPEC, KCS, IC],
        &[
            &["nodeRegistration"],
            &["nodeRegistration", "*"],
            &["patches", "directory"],
            &["patches"],
            &["skipPhases"],
            &["bootstrapTokens"],
            &["localAPIEndpoint"],
            &["localAPIEndpoint", "*"],
            &["timeouts"],
            &["timeouts", "*"],
        ],
    );
    under(
        &[SPEC, KCS, JC],
        &[
            &["nodeRegistration"],
            &["nodeRegistration", "*"],
            &["patches", "directory"],
            &["patches"],
            &["skipPhases"],
            &["caCertPath"],
            &["controlPlane"],
            &["controlPlane", "*"],
            &["discovery"],
            &["discovery", "*"],
            &["timeouts"],
            &["timeouts", "*"],
        ],
    );
    under(
        &[SPEC, KCS],
        &[
            &["bootCommands"],
            &["preKubeadmCommands"],
            &["postKubeadmCommands"],
            &["files"],
            &["verbosity"],
            &["users"],
            &["ntp"],
            &["ntp", "*"],
            &["ignition"],
            &["ignition", "*"],
            &["diskSetup"],
            &["diskSetup", "*"],
            &["format"],
            &["mounts"],
        ],
    );
    under(
        &[SPEC],
        &[
            &["machineTemplate", "metadata"],
            &["machineTemplate", "metadata", "*"],
            &["machineTemplate", "spec"],
            &["machineTemplate", "spec", "*"],
            &["replicas"],
            &["version"],
            &["remediation"],
            &["remediation", "*"],
            &["machineNaming"],
            &["machineNaming", "*"],
            &["rollout"],
            &["rollout", "*"],
        ],
    );
    v
}

/// `pathsMatch`.
pub(crate) fn paths_match(allowed: &[&str], path: &[String]) -> bool {
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
pub(crate) fn immutable_fields(old: &Object, new: &Object) -> Vec<FieldError> {
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
        .map(|path| forb(path.join("."), "cannot be modified".into()))
        .collect()
}

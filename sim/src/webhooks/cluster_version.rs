//! The version rules of CAPI's Cluster validation webhook for a managed topology: a version change
//! may not go down, may not skip a minor (unless the ClusterClass lists versions or an upgrade-plan
//! extension), and may not start while the control plane or the workers are still provisioning or
//! upgrading. Source: `core/webhooks/admission/cluster.go` (`validateTopologyVersionUpdate` and the
//! functions it calls).

use super::cluster::{compare_without_pre, machine_selector_match, ref_defined, semver_text};
use crate::controllers::topology::field::{go_quote, FPath, FieldError};
use crate::controllers::topology::upgrade;
use crate::kinds::Kind;
use crate::object::Object;
use crate::store::Store;
use serde_json::Value;

/// `validateTopologyVersionUpdate`.
pub(crate) fn version_update_error(
    store: &Store,
    path: &FPath,
    value: &str,
    new_v: semver::Version,
    old_v: semver::Version,
    old: &Object,
    ceiling: bool,
) -> Option<FieldError> {
    if semver_text(&new_v) == semver_text(&old_v) {
        return None;
    }
    let zero = semver::Version::new(0, 0, 0);
    if new_v != zero && old_v != zero && compare_without_pre(&new_v, &old_v) == std::cmp::Ordering::Less {
        return Some(FieldError::invalid(
            path.clone(),
            value,
            format!("version cannot be decreased from {} to {}", go_quote(&semver_text(&old_v)), go_quote(&semver_text(&new_v))),
        ));
    }
    if ceiling {
        let ceil = semver::Version::new(old_v.major, old_v.minor.saturating_add(2), 0);
        if compare_without_pre(&new_v, &ceil) != std::cmp::Ordering::Less {
            return Some(FieldError::invalid(
                path.clone(),
                value,
                format!("version cannot be increased from {} to {}", go_quote(&semver_text(&old_v)), go_quote(&semver_text(&new_v))),
            ));
        }
    }
    let mut problems: Vec<String> = Vec::new();
    if let Some(e) = control_plane_version_problem(store, old, &old_v) {
        problems.push(e);
    }
    if let Some(e) = workers_version_problem(store, old, &old_v, Kind::MachineDeployment) {
        problems.push(e);
    }
    if let Some(e) = workers_version_problem(store, old, &old_v, Kind::MachinePool) {
        problems.push(e);
    }
    if problems.is_empty() {
        return None;
    }
    Some(FieldError::invalid(
        path.clone(),
        value,
        format!("version cannot be changed: {}", crate::controllers::topology::field::aggregate(&problems)),
    ))
}

/// `validateTopologyControlPlaneVersion`.
fn control_plane_version_problem(store: &Store, old: &Object, old_v: &semver::Version) -> Option<String> {
    let r = old.at("/spec/controlPlaneRef").filter(|r| ref_defined(Some(r)));
    let Some(key) = r.and_then(|r| crate::controllers::common::ref_key(r, old.namespace())) else {
        return Some("failed to check if control plane is upgrading: failed to get control plane object: cannot get object - object reference not set".into());
    };
    let Some(cp) = store.get(&key) else {
        return Some(format!(
            "failed to check if control plane is upgrading: failed to get control plane object: failed to retrieve {} {}/{}: {} \"{}\" not found",
            key.kind,
            key.ns,
            key.name,
            crate::store::error::resource_name(key.kind),
            key.name
        ));
    };
    let spec = cp.str_at("/spec/version").unwrap_or("");
    let Some(cp_v) = upgrade::parse(spec) else {
        return Some(format!("failed to check if control plane is upgrading: failed to parse control plane version {spec}"));
    };
    if semver_text(&cp_v) != semver_text(old_v) {
        return Some(format!(
            "Cluster.spec.topology.version {} was not propagated to control plane yet (control plane version {})",
            semver_text(old_v),
            semver_text(&cp_v)
        ));
    }
    if upgrade::cp_provisioning(cp) {
        return Some("control plane is currently provisioning".into());
    }
    match upgrade::cp_upgrading(cp) {
        Ok(true) => Some("control plane is still completing a previous upgrade".into()),
        Ok(false) => None,
        Err(e) => Some(e),
    }
}

/// `validateTopologyMachineDeploymentVersions` / `validateTopologyMachinePoolVersions`.
fn workers_version_problem(store: &Store, old: &Object, old_v: &semver::Version, kind: Kind) -> Option<String> {
    let ns = old.namespace();
    let mut names = Vec::new();
    for w in store.objects().in_cluster_ns(kind, ns, old.name()).filter(|w| upgrade::topology_owned(w)) {
        let v = w.str_at("/spec/template/spec/version").unwrap_or("");
        let Some(sv) = upgrade::parse(v) else {
            return Some(format!("failed to check if {kind} {} is upgrading: failed to parse version {v}", w.name()));
        };
        if semver_text(&sv) != semver_text(old_v) {
            names.push(w.name().to_string());
            continue;
        }
        if kind == Kind::MachineDeployment {
            let selector = w.at("/spec/selector/matchLabels").cloned().unwrap_or(Value::Null);
            let machines =
                store.objects().in_cluster_ns(Kind::Machine, ns, old.name()).filter(|m| machine_selector_match(m, &selector)).map(|m| &**m);
            match upgrade::machines_upgrading(v, machines) {
                Ok(true) => names.push(w.name().to_string()),
                Ok(false) => {}
                Err(e) => return Some(format!("failed to check if MachineDeployment {} is upgrading: {e}", w.name())),
            }
        }
    }
    if names.is_empty() {
        None
    } else {
        let what = if kind == Kind::MachineDeployment { "MachineDeployments" } else { "MachinePools" };
        Some(format!("there are still {what} completing a previous upgrade: [{}]", names.join(", ")))
    }
}

//! What the Machine controller writes onto its Machine's Node on every reconcile (`patchNode`):
//! CAPI's bookkeeping annotations and the Machine's `*.node.cluster.x-k8s.io` annotations, the
//! managed labels (`node-role.kubernetes.io/*`, `node-restriction.kubernetes.io`,
//! `node.cluster.x-k8s.io` domains), each tracked in an annotation so that what the Machine stops
//! carrying is removed again; the uninitialized taint dropped; the Machine's taints propagated
//! (`OnInitialization` once, `Always` kept in sync; gate `MachineTaintPropagation`); and the
//! outdated-revision taint on the Nodes of a MachineDeployment's old MachineSets.
//!
//! Source: `core/reconcilers/machine/machine_controller_noderef.go` (`reconcileNode`, `patchNode`,
//! `propagateMachineTaintsToNode`, `ensureNodeTaintWithValue`, `shouldNodeHaveOutdatedTaint`),
//! `util/labels/helpers.go: GetManagedLabels`, `util/annotations/helpers.go: GetManagedAnnotations`,
//! `core/reconcilers/machinedeployment/mdutil/util.go: Revision`.
//!
//! Simplification: the manager's `--additional-sync-machine-labels` / `-annotations` regexes are
//! not modelled (none by default), so only the default domains are synced.

use super::super::common::keys;
use crate::object::Object;
use crate::world::workload::{Node, Taint, UNINITIALIZED_TAINT};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// `clusterv1.LabelsFromMachineAnnotation`.
pub const LABELS_FROM_MACHINE: &str = "cluster.x-k8s.io/labels-from-machine";
/// `clusterv1.AnnotationsFromMachineAnnotation`.
pub const ANNOTATIONS_FROM_MACHINE: &str = "cluster.x-k8s.io/annotations-from-machine";
/// `clusterv1.TaintsFromMachineAnnotation`.
pub const TAINTS_FROM_MACHINE: &str = "cluster.x-k8s.io/taints-from-machine";
/// `clusterv1.InterruptibleLabel`.
pub const INTERRUPTIBLE_LABEL: &str = "cluster.x-k8s.io/interruptible";
/// `clusterv1.NodeOutdatedRevisionTaint` (effect PreferNoSchedule).
pub const OUTDATED_REVISION_TAINT: &str = "node.cluster.x-k8s.io/outdated-revision";
/// `clusterv1.ClusterNameAnnotation`.
const CLUSTER_NAME_ANNOTATION: &str = "cluster.x-k8s.io/cluster-name";
/// `CommonNodeAnnotations`: always managed, never listed in the tracking annotation.
const COMMON_NODE_ANNOTATIONS: [&str; 5] =
    [CLUSTER_NAME_ANNOTATION, keys::NODE_CLUSTER_NAMESPACE, keys::NODE_MACHINE, keys::NODE_OWNER_KIND, keys::NODE_OWNER_NAME];

/// Whether a label or annotation key is in `domain` or one of its subdomains (the part before `/`).
fn in_domain(key: &str, domain: &str) -> bool {
    let d = key.split('/').next().unwrap_or("");
    d == domain || d.strip_suffix(domain).is_some_and(|p| p.ends_with('.'))
}

/// `GetManagedLabels`: the Machine's labels CAPI keeps on the Node.
pub fn managed_labels<'a>(labels: impl IntoIterator<Item = (&'a String, &'a String)>) -> BTreeMap<String, String> {
    labels
        .into_iter()
        .filter(|(k, _)| {
            k.split('/').next() == Some("node-role.kubernetes.io")
                || in_domain(k, "node-restriction.kubernetes.io")
                || in_domain(k, "node.cluster.x-k8s.io")
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// `GetManagedAnnotations`: CAPI's bookkeeping annotations and the Machine's annotations in the
/// `node.cluster.x-k8s.io` domain.
pub fn managed_annotations(m: &Object) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    out.insert(CLUSTER_NAME_ANNOTATION.to_string(), m.str_at("/spec/clusterName").unwrap_or("").to_string());
    out.insert(keys::NODE_CLUSTER_NAMESPACE.to_string(), m.namespace().to_string());
    out.insert(keys::NODE_MACHINE.to_string(), m.name().to_string());
    if let Some(owner) = m.controller_ref() {
        out.insert(keys::NODE_OWNER_KIND.to_string(), owner.kind.clone());
        out.insert(keys::NODE_OWNER_NAME.to_string(), owner.name.clone());
    }
    for (k, v) in &m.meta.annotations {
        if in_domain(k, "node.cluster.x-k8s.io") {
            out.insert(k.clone(), v.clone());
        }
    }
    out
}

/// A Machine's `spec.taints` item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MachineTaint {
    /// `key`.
    pub key: String,
    /// `value`.
    pub value: String,
    /// `effect`.
    pub effect: String,
    /// `propagation`: `Always` or `OnInitialization`.
    pub propagation: String,
}

/// The Machine's `spec.taints`.
pub fn machine_taints(m: &Object) -> Vec<MachineTaint> {
    let s = |t: &Value, k: &str| t.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    m.at("/spec/taints")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|t| MachineTaint { key: s(t, "key"), value: s(t, "value"), effect: s(t, "effect"), propagation: s(t, "propagation") })
                .collect()
        })
        .unwrap_or_default()
}

/// `mdutil.Revision`: the revision annotation as a number (0 when absent), or strconv's error.
pub fn revision(o: &Object) -> Result<i64, String> {
    match o.annotation(keys::REVISION) {
        None => Ok(0),
        Some(v) => v.parse::<i64>().map_err(|e| {
            let why = match e.kind() {
                std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow => "value out of range",
                _ => "invalid syntax",
            };
            format!("strconv.ParseInt: parsing {}: {why}", crate::controllers::topology::field::go_quote(v))
        }),
    }
}

/// `shouldNodeHaveOutdatedTaint`: the Machine's MachineSet is older than its MachineDeployment.
pub fn outdated(ms: Option<&Object>, md: Option<&Object>) -> Result<bool, String> {
    let (Some(ms), Some(md)) = (ms, md) else { return Ok(false) };
    Ok(revision(ms)? < revision(md)?)
}

/// What the Machine asks of its Node.
pub struct Desired<'a> {
    /// [`managed_labels`], plus the interruptible label.
    pub labels: BTreeMap<String, String>,
    /// [`managed_annotations`].
    pub annotations: BTreeMap<String, String>,
    /// The Machine's taints, when `MachineTaintPropagation` is on.
    pub taints: Option<&'a [MachineTaint]>,
    /// [`outdated`].
    pub outdated: bool,
}

/// The tracking annotation's list (`strings.Split`, an empty value meaning none).
fn tracked(node: &Node, annotation: &str) -> Vec<String> {
    match node.annotations.get(annotation).map(String::as_str) {
        None | Some("") => Vec::new(),
        Some(v) => v.split(',').map(str::to_string).collect(),
    }
}

/// `taints.RemoveNodeTaint`: drop every taint with this key and effect.
fn remove_taint(node: &mut Node, key: &str, effect: &str) -> bool {
    let before = node.taints.len();
    node.taints.retain(|t| !(t.key == key && t.effect == effect));
    node.taints.len() != before
}

/// `taints.EnsureNodeTaint`: add the taint unless one with its key and effect is there.
fn ensure_taint(node: &mut Node, key: &str, effect: &str) -> bool {
    if node.taints.iter().any(|t| t.key == key && t.effect == effect) {
        return false;
    }
    node.taints.push(Taint { key: key.to_string(), value: String::new(), effect: effect.to_string() });
    true
}

/// `ensureNodeTaintWithValue`: the taint with this key and effect carries this value.
fn ensure_taint_with_value(node: &mut Node, t: &MachineTaint) -> bool {
    let want = Taint { key: t.key.clone(), value: t.value.clone(), effect: t.effect.clone() };
    match node.taints.iter_mut().find(|c| c.key == t.key && c.effect == t.effect) {
        Some(c) if c.value != t.value => {
            *c = want;
            true
        }
        Some(_) => false,
        None => {
            node.taints.push(want);
            true
        }
    }
}

/// `propagateMachineTaintsToNode`: `OnInitialization` taints only while the tracking annotation is
/// absent, `Always` taints kept (and those the Machine dropped removed); the annotation lists the
/// `Always` taints as sorted `key:effect`.
fn propagate_taints(node: &mut Node, taints: &[MachineTaint]) -> Result<bool, String> {
    let mut changed = false;
    let old = node.annotations.get(TAINTS_FROM_MACHINE).cloned();
    let initialized = old.is_some();
    let owned: BTreeSet<String> =
        old.as_deref().filter(|v| !v.is_empty()).map(|v| v.split(',').map(str::to_string).collect()).unwrap_or_default();
    let mut new_owned = BTreeSet::new();
    let mut on_init = BTreeSet::new();
    for t in taints {
        match t.propagation.as_str() {
            "Always" => {
                new_owned.insert(format!("{}:{}", t.key, t.effect));
            }
            "OnInitialization" => {
                on_init.insert(format!("{}:{}", t.key, t.effect));
            }
            _ => {}
        }
        if t.propagation == "OnInitialization" && initialized {
            continue;
        }
        changed |= ensure_taint_with_value(node, t);
    }
    for gone in owned.iter().filter(|k| !new_owned.contains(*k) && !on_init.contains(*k)) {
        if gone.is_empty() {
            continue;
        }
        let parts: Vec<&str> = gone.split(':').collect();
        let [key, effect] = parts[..] else {
            return Err(format!("invalid taint format: {}", crate::controllers::topology::field::go_quote(gone)));
        };
        changed |= remove_taint(node, key, effect);
    }
    let annotation = new_owned.into_iter().collect::<Vec<_>>().join(",");
    if !initialized || old.as_deref() != Some(annotation.as_str()) {
        node.annotations.insert(TAINTS_FROM_MACHINE.to_string(), annotation);
        changed = true;
    }
    Ok(changed)
}

/// `patchNode` over a copy of the Node: whether upstream would send the patch (changes to the two
/// tracking annotations alone do not count, as upstream ignores what `AddAnnotations` reports), or
/// the error it returns.
pub fn patch_node(node: &mut Node, d: &Desired<'_>) -> Result<bool, String> {
    // Annotations, with those the Machine set before and no longer carries removed.
    let mut changed_annotations = false;
    let mut previous = tracked(node, ANNOTATIONS_FROM_MACHINE);
    previous.extend(COMMON_NODE_ANNOTATIONS.iter().map(|s| s.to_string()));
    for (k, v) in &d.annotations {
        if node.annotations.get(k) != Some(v) {
            node.annotations.insert(k.clone(), v.clone());
            changed_annotations = true;
        }
    }
    for k in previous.iter().filter(|k| k.as_str() != ANNOTATIONS_FROM_MACHINE) {
        if !d.annotations.contains_key(k) {
            // Upstream counts a change even when the key was already absent.
            node.annotations.remove(k);
            changed_annotations = true;
        }
    }
    // Labels, the same way.
    let mut changed_labels = false;
    let previous = tracked(node, LABELS_FROM_MACHINE);
    for (k, v) in &d.labels {
        if node.labels.get(k) != Some(v) {
            node.labels.insert(k.clone(), v.clone());
            changed_labels = true;
        }
    }
    for k in &previous {
        if !d.labels.contains_key(k) {
            node.labels.remove(k);
            changed_labels = true;
        }
    }
    // The tracking annotations (sorted lists; the common annotations are not listed).
    let annotations_list: Vec<&str> = d.annotations.keys().map(String::as_str).filter(|k| !COMMON_NODE_ANNOTATIONS.contains(k)).collect();
    let labels_list: Vec<&str> = d.labels.keys().map(String::as_str).collect();
    node.annotations.insert(LABELS_FROM_MACHINE.to_string(), labels_list.join(","));
    node.annotations.insert(ANNOTATIONS_FROM_MACHINE.to_string(), annotations_list.join(","));
    // Taints.
    let mut changed_taints = remove_taint(node, UNINITIALIZED_TAINT, "NoSchedule");
    let propagated = match d.taints {
        Some(t) => propagate_taints(node, t).map_err(|e| format!("failed to propagate Machine taints to Node {}: {e}", node.name))?,
        None => false,
    };
    changed_taints |= if d.outdated {
        ensure_taint(node, OUTDATED_REVISION_TAINT, "PreferNoSchedule")
    } else {
        remove_taint(node, OUTDATED_REVISION_TAINT, "PreferNoSchedule")
    };
    Ok(changed_annotations || changed_labels || changed_taints || propagated)
}

#[cfg(test)]
#[path = "node_sync_tests.rs"]
mod tests;

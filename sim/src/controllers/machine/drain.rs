//! Node drain as the Machine controller runs it (`core/reconcilers/machine/drain/{drain.go,filters.go}`
//! and `machine_controller.go: drainNode`): cordon; list the Node's Pods; filter them (deleted long
//! ago on an unreachable Node, DaemonSet, mirror, local storage, unreplicated, the
//! `cluster.x-k8s.io/drain` label, MachineDrainRules by name); evict those of the lowest drain order
//! now (sorted by `namespace/name`), later orders after; wait for `WaitCompleted` Pods; and the
//! `Deleting` condition message listing what is left (`EvictionResult.ConditionMessage`).
//!
//! Simplification: the 10s eviction timeout never expires (evictions answer at once).

use crate::controllers::mdutil::list_to_string;
use crate::kinds::Kind;
use crate::object::{timestamp, Object};
use crate::runtime::Ctx;
use crate::world::pods::{EvictError, Pod, MIRROR_ANNOTATION};
use crate::world::workload::Status as NodeStatus;
use capi_scenarios::LabelSelector;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// `clusterv1.PodDrainLabel`.
pub const POD_DRAIN_LABEL: &str = "cluster.x-k8s.io/drain";

/// What a Pod's filters decided (`PodDeleteStatus`).
#[derive(Clone, Debug, PartialEq, Eq)]
enum Behavior {
    Drain(i32),
    Skip,
    WaitCompleted(i32),
    Error(String),
}

/// How a drain went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing left to evict or wait for.
    Completed,
    /// Still Pods to go: the condition message.
    NotCompleted(String),
}

fn selector(v: Option<&Value>) -> Option<LabelSelector> {
    v.filter(|v| !v.is_null()).map(|v| serde_json::from_value(v.clone()).unwrap_or_default())
}

/// `matchesSelector`: no selector or an empty one matches everything.
fn matches(sel: &Option<LabelSelector>, labels: &BTreeMap<String, String>) -> bool {
    sel.as_ref().is_none_or(|s| s.is_empty() || s.matches_map(labels))
}

fn labels_of(o: &Object) -> BTreeMap<String, String> {
    o.meta.labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// `getMatchingMachineDrainRules`: the rules of the Machine's namespace that select it and its
/// Cluster, by name.
fn matching_rules(ctx: &Ctx<'_>, m: &Object, cluster: &Object) -> Vec<Value> {
    let (ml, cl) = (labels_of(m), labels_of(cluster));
    let mut rules: Vec<(String, Value)> = ctx
        .cache
        .of_kind(Kind::MachineDrainRule, Some(m.namespace()))
        .filter(|r| {
            let machines = r.at("/spec/machines").and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[]);
            machines.is_empty()
                || machines.iter().any(|s| matches(&selector(s.get("selector")), &ml) && matches(&selector(s.get("clusterSelector")), &cl))
        })
        .map(|r| (r.name().to_string(), r.to_json()))
        .collect();
    rules.sort_by(|a, b| a.0.cmp(&b.0));
    rules.into_iter().map(|(_, v)| v).collect()
}

/// The filters of `GetPodsForEviction`, in order.
fn filter(
    pod: &Pod,
    rules: &[Value],
    namespaces: &BTreeMap<String, BTreeMap<String, String>>,
    daemonsets: &BTreeSet<String>,
    skip_deleted_ms: Option<(u64, u64)>,
) -> Behavior {
    let done = pod.phase == "Succeeded" || pod.phase == "Failed";
    // skipDeletedFilter
    if let (Some((timeout, now)), Some(d)) = (skip_deleted_ms, pod.deletion_ms) {
        if (now.saturating_sub(d)) / 1000 > timeout / 1000 {
            return Behavior::Skip;
        }
    }
    // daemonSetFilter (a DaemonSet that exists: skip; orphaned: drain, with a warning)
    if let Some((_, ds)) = pod.controller.as_ref().filter(|(k, _)| k == "DaemonSet" && !done) {
        if daemonsets.contains(&format!("DaemonSet/{}/{ds}", pod.namespace)) {
            return Behavior::Skip;
        }
    }
    // mirrorPodFilter
    if pod.annotations.contains_key(MIRROR_ANNOTATION) {
        return Behavior::Skip;
    }
    // drainLabelFilter
    if let Some(v) = pod.labels.get(POD_DRAIN_LABEL) {
        if v.eq_ignore_ascii_case("Skip") {
            return Behavior::Skip;
        }
        if v.replacen('-', "", 1).eq_ignore_ascii_case("WaitCompleted") {
            return Behavior::WaitCompleted(0);
        }
    }
    // machineDrainRulesFilter
    let Some(ns_labels) = namespaces.get(&pod.namespace) else { return Behavior::Error("Pod Namespace does not exist".into()) };
    for r in rules {
        let pods = r.pointer("/spec/pods").and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[]);
        let applies = pods.is_empty()
            || pods
                .iter()
                .any(|s| matches(&selector(s.get("selector")), &pod.labels) && matches(&selector(s.get("namespaceSelector")), ns_labels));
        if !applies {
            continue;
        }
        let order = r.pointer("/spec/drain/order").and_then(Value::as_i64).unwrap_or(0) as i32;
        let name = r.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("");
        return match r.pointer("/spec/drain/behavior").and_then(Value::as_str).unwrap_or("") {
            "Drain" => Behavior::Drain(order),
            "Skip" => Behavior::Skip,
            "WaitCompleted" => Behavior::WaitCompleted(0),
            other => Behavior::Error(format!("MachineDrainRule {name:?} has unknown spec.drain.behavior: {other:?}")),
        };
    }
    Behavior::Drain(0)
}

/// `PodListToString(pods, 3)`.
fn pod_list(pods: &[String]) -> String {
    list_to_string(pods, 3)
}

/// Cordon the Node and evict what may go now. `Err` is a drain error (the caller records
/// `FailedDrainNode`).
pub fn drain(ctx: &mut Ctx<'_>, m: &Object, cluster: &Object, node: &str, started_ms: u64) -> Result<Outcome, String> {
    let cname = cluster.name().to_string();
    let (unreachable, pods, namespaces, daemonsets) = {
        let wl = match ctx.world.workload(&cname) {
            Ok(wl) => wl,
            // Still connected: the Node comes from the cache and the cordon patch fails; else
            // `ClusterCache.GetClient` answers `ErrClusterNotConnected`.
            Err(e) if ctx.world.health_checking_state(&cname, ctx.now).connected() => {
                return Err(format!("failed to cordon Node {node}: failed to cordon Node: {e}"))
            }
            Err(_) => return Err(format!("failed to drain Node {node}: connection to the workload cluster is down")),
        };
        let Some(n) = wl.nodes.get(node) else { return Ok(Outcome::Completed) };
        let mut namespaces: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            namespaces.insert(ns.into(), BTreeMap::new());
        }
        for (k, v) in wl.resources.iter().filter(|(k, _)| k.starts_with("Namespace/")) {
            let name = v.pointer("/metadata/name").and_then(Value::as_str).unwrap_or(k).to_string();
            let labels = v
                .pointer("/metadata/labels")
                .and_then(Value::as_object)
                .map(|l| l.iter().filter_map(|(a, b)| Some((a.clone(), b.as_str()?.to_string()))).collect())
                .unwrap_or_default();
            namespaces.insert(name, labels);
        }
        for (name, labels) in namespaces.iter_mut() {
            labels.insert("kubernetes.io/metadata.name".into(), name.clone());
        }
        let daemonsets: BTreeSet<String> = wl.resources.keys().filter(|k| k.starts_with("DaemonSet/")).cloned().collect();
        (n.ready == NodeStatus::Unknown, wl.pods_on(node).into_iter().cloned().collect::<Vec<Pod>>(), namespaces, daemonsets)
    };
    ctx.world.cordon_node(&cname, node).map_err(|e| format!("failed to cordon Node {node}: failed to cordon Node: {e}"))?;
    let rules = matching_rules(ctx, m, cluster);
    let skip = unreachable.then_some((1000, ctx.now));
    let mut list: Vec<(Pod, Behavior)> =
        pods.into_iter().map(|p| (p.clone(), filter(&p, &rules, &namespaces, &daemonsets, skip))).collect();
    let errors: Vec<String> = {
        let mut by_msg: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (p, b) in &list {
            if let Behavior::Error(e) = b {
                by_msg.entry(e.clone()).or_default().push(p.kobj());
            }
        }
        by_msg.into_iter().map(|(m, pods)| format!("Pods with error {m:?}: {}", pods.join(", "))).collect()
    };
    if !errors.is_empty() {
        let joined = if errors.len() == 1 { errors[0].clone() } else { format!("[{}]", errors.join(", ")) };
        return Err(format!("failed to get Pods for eviction: {joined}"));
    }
    list.retain(|(_, b)| !matches!(b, Behavior::Skip));
    if list.is_empty() {
        return Ok(Outcome::Completed);
    }
    list.sort_by_key(|(p, _)| p.kobj());
    let min_order = list
        .iter()
        .filter_map(|(_, b)| match b {
            Behavior::Drain(o) | Behavior::WaitCompleted(o) => Some(*o),
            _ => None,
        })
        .min()
        .unwrap_or(i32::MAX);
    let mut deleting = Vec::new();
    let mut failed: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut later = Vec::new();
    let mut wait_now = Vec::new();
    let mut wait_later = Vec::new();
    let grace = unreachable.then_some(1000);
    for (p, b) in &list {
        match b {
            Behavior::Drain(_) if p.deletion_ms.is_some() => deleting.push(p.kobj()),
            Behavior::Drain(o) if *o == min_order => match ctx.world.evict_pod(&cname, &p.namespace, &p.name, ctx.now, grace) {
                Ok(()) => deleting.push(p.kobj()),
                Err(EvictError::NotFound) => {}
                Err(EvictError::TooManyRequests(e)) | Err(EvictError::Internal(e)) => failed.entry(e).or_default().push(p.kobj()),
            },
            Behavior::Drain(_) => later.push(p.kobj()),
            Behavior::WaitCompleted(o) if *o == min_order => wait_now.push(p.kobj()),
            Behavior::WaitCompleted(_) => wait_later.push(p.kobj()),
            _ => {}
        }
    }
    if deleting.is_empty() && failed.is_empty() && later.is_empty() && wait_now.is_empty() && wait_later.is_empty() {
        return Ok(Outcome::Completed);
    }
    Ok(Outcome::NotCompleted(condition_message(started_ms, &deleting, &failed, &wait_now, &later, &wait_later)))
}

/// `EvictionResult.ConditionMessage`.
fn condition_message(
    started_ms: u64,
    deleting: &[String],
    failed: &BTreeMap<String, Vec<String>>,
    wait_now: &[String],
    later: &[String],
    wait_later: &[String],
) -> String {
    let kind = |n: usize| if n > 1 { "Pods" } else { "Pod" };
    let mut msg = format!("Drain not completed yet (started at {}):", timestamp(started_ms));
    if !deleting.is_empty() {
        msg.push_str(&format!(
            "\n* {} {}: deletionTimestamp set, but still not removed from the Node",
            kind(deleting.len()),
            pod_list(deleting)
        ));
    }
    let messages: Vec<&String> = failed.keys().collect();
    for f in messages.iter().take(5) {
        let pods = &failed[*f];
        let mut text = f.replace(
            "Cannot evict pod as it would violate the pod's disruption budget.",
            "cannot evict pod as it would violate the pod's disruption budget.",
        );
        if !text.starts_with("cannot evict pod as it would violate the pod's disruption budget.") {
            text = format!("failed to evict Pod, {text}");
        }
        msg.push_str(&format!("\n* {} {}: {text}", kind(pods.len()), pod_list(pods)));
    }
    if messages.len() > 5 {
        let count: usize = messages[5..].iter().map(|f| failed[*f].len()).sum();
        if count == 1 {
            msg.push_str("\n* 1 Pod with other issues");
        } else {
            msg.push_str(&format!("\n* {count} Pods with other issues"));
        }
    }
    if !wait_now.is_empty() {
        msg.push_str(&format!("\n* {} {}: waiting for completion", kind(wait_now.len()), pod_list(wait_now)));
    }
    if !later.is_empty() {
        msg.push_str(&format!(
            "\nAfter above Pods have been removed from the Node, the following Pods will be evicted: {}",
            pod_list(later)
        ));
    }
    if !wait_later.is_empty() {
        msg.push_str(&format!(
            "\nAfter above Pods have been removed from the Node, waiting for the following Pods to complete without eviction: {}",
            pod_list(wait_later)
        ));
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `drain/drain_test.go: TestEvictionResult_ConditionMessage` (deleting, PDB-blocked and other
    /// failures, waiting, later orders).
    #[test]
    fn condition_message_lists_what_is_left() {
        let mut failed = BTreeMap::new();
        failed.insert(
            "Cannot evict pod as it would violate the pod's disruption budget. The disruption budget pdb needs 1 healthy pods and has 1 currently".to_string(),
            vec!["ns/p3".to_string()],
        );
        failed.insert("some other error".to_string(), vec!["ns/p4".to_string(), "ns/p5".to_string()]);
        let got = condition_message(0, &["ns/p1".into(), "ns/p2".into()], &failed, &["ns/w".into()], &["ns/l".into()], &["ns/wl".into()]);
        assert_eq!(
            got,
            format!(
                "Drain not completed yet (started at {}):\n\
                 * Pods ns/p1, ns/p2: deletionTimestamp set, but still not removed from the Node\n\
                 * Pod ns/p3: cannot evict pod as it would violate the pod's disruption budget. The disruption budget pdb needs 1 healthy pods and has 1 currently\n\
                 * Pods ns/p4, ns/p5: failed to evict Pod, some other error\n\
                 * Pod ns/w: waiting for completion\n\
                 After above Pods have been removed from the Node, the following Pods will be evicted: ns/l\n\
                 After above Pods have been removed from the Node, waiting for the following Pods to complete without eviction: ns/wl",
                timestamp(0)
            )
        );
    }

    /// `drain/drain_test.go: TestEvictionResult_ConditionMessage` (more than five failure messages).
    #[test]
    fn more_than_five_failures_are_counted() {
        let mut failed = BTreeMap::new();
        for i in 0..7 {
            failed.insert(format!("error {i}"), vec![format!("ns/p{i}")]);
        }
        let got = condition_message(0, &[], &failed, &[], &[], &[]);
        assert!(got.ends_with("* Pod ns/p4: failed to evict Pod, error 4\n* 2 Pods with other issues"), "{got}");
    }
}

//! The MachinePool's node references: which Nodes back the providerIDs of the pool (ready and
//! available counts), `status.nodeRefs`, and the Nodes' annotations and uninitialized taint.
//! Source: `core/reconcilers/machinepool/machinepool_controller_noderef.go` (`reconcileNodeRefs`,
//! `getNodeReferences`, `patchNodes`).

use super::phases::cluster_client_error;
use super::scope::{NodeInfo, Scope};
use crate::capd::v1beta1;
use crate::controllers::common::keys;
use crate::object::Object;
use crate::runtime::{Action, Ctx, ReconcileError, ReconcileResult};
use crate::world::workload::UNINITIALIZED_TAINT;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Requeue while not all replicas are ready.
pub const REPLICAS_READY_REQUEUE_MS: u64 = 30_000;

/// `spec.providerIDList`.
pub(super) fn provider_ids(mp: &Object) -> Vec<String> {
    mp.at("/spec/providerIDList").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).map(str::to_string).collect()
}

/// The Node names of `status.nodeRefs`.
pub(super) fn node_ref_names(mp: &Object) -> Vec<String> {
    mp.at("/status/nodeRefs")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|r| r.get("name").and_then(Value::as_str).map(str::to_string))
        .collect()
}

/// Node references for the providerIDs (`getNodeReferences`): (names, ready, available).
pub fn node_references(
    provider_ids: &[String],
    min_ready_ms: u64,
    nodes: &BTreeMap<String, NodeInfo>,
    now: u64,
) -> (Vec<String>, usize, usize) {
    let mut refs = Vec::new();
    let (mut ready, mut available) = (0, 0);
    for pid in provider_ids.iter().filter(|p| !p.is_empty()) {
        if let Some(n) = nodes.get(pid) {
            if n.ready {
                ready += 1;
                if min_ready_ms == 0 || n.ready_since_ms + min_ready_ms < now {
                    available += 1;
                }
            }
            refs.push(n.name.clone());
        }
    }
    (refs, ready, available)
}

pub(super) fn reconcile_node_refs(ctx: &mut Ctx<'_>, cluster: &Object, mp: &mut Object, s: &Scope) -> ReconcileResult {
    let now = ctx.now;
    if mp.deleting() {
        return Ok(Action::DONE);
    }
    let replicas = mp.i64_at("/status/replicas").unwrap_or(0);
    let ready_replicas = mp.i64_at("/status/deprecated/v1beta1/readyReplicas").unwrap_or(0);
    let node_refs = node_ref_names(mp);
    if replicas == ready_replicas && node_refs.len() as i64 == ready_replicas {
        if let Some(nodes) = &s.nodes {
            if node_refs.iter().all(|r| nodes.values().any(|n| n.name == *r)) {
                v1beta1::mark_true(mp, "ReplicasReady", now);
                return Ok(Action::DONE);
            }
        }
    }
    let pids = provider_ids(mp);
    if pids.is_empty() && mp.i64_at("/spec/replicas").is_none_or(|r| r != 0) {
        return Ok(Action::DONE);
    }
    let cname = cluster.name().to_string();
    if let Err(e) = ctx.world.workload(&cname) {
        return Err(cluster_client_error(&e));
    }
    // Nodes of the old references whose providerID left the list go.
    let retired: Vec<String> = ctx
        .world
        .workload(&cname)
        .map(|wl| {
            node_refs
                .iter()
                .filter(|r| wl.nodes.get(*r).and_then(|n| n.provider_id.as_ref()).is_some_and(|p| !pids.contains(p)))
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    for n in retired {
        ctx.world.delete_node(&cname, &n).map_err(|e| ReconcileError(format!("failed to delete Node: {e}")))?;
    }
    let Some(nodes) = &s.nodes else { return Err(ReconcileError("failed to get Node references".into())) };
    let min_ready_ms = mp.i64_at("/spec/template/spec/minReadySeconds").unwrap_or(0).max(0) as u64 * 1000;
    let (refs, ready, available) = node_references(&pids, min_ready_ms, nodes, now);
    if refs.is_empty() && !pids.is_empty() {
        ctx.note("Cannot assign NodeRefs to MachinePool, no matching Nodes");
        return Ok(Action::DONE);
    }
    mp.set("/status/deprecated/v1beta1/readyReplicas", json!(ready));
    mp.set("/status/deprecated/v1beta1/availableReplicas", json!(available));
    mp.set("/status/deprecated/v1beta1/unavailableReplicas", json!(replicas - available as i64));
    mp.set("/status/nodeRefs", Value::Array(refs.iter().map(|n| json!({"apiVersion": "v1", "kind": "Node", "name": n})).collect()));
    // `machinepool_controller_noderef.go: reconcileNodeRefs` records the references as Go's `%+v` prints
    // a `[]corev1.ObjectReference` (Node UIDs are not modelled: empty).
    let printed: Vec<String> =
        refs.iter().map(|n| format!("{{Kind:Node Namespace: Name:{n} UID: APIVersion:v1 ResourceVersion: FieldPath:}}")).collect();
    ctx.event_normal(mp, "SuccessfulSetNodeRefs", format!("[{}]", printed.join(" ")));
    // The Nodes learn their pool; the uninitialized taint goes.
    let (ns, name) = (mp.namespace().to_string(), mp.name().to_string());
    for n in &refs {
        let (c, ns, name) = (cname.clone(), ns.clone(), name.clone());
        let changed = ctx.world.workload(&cname).ok().and_then(|wl| wl.nodes.get(n)).is_some_and(|node| {
            node.annotations.get(keys::NODE_OWNER_KIND).map(String::as_str) != Some("MachinePool")
                || node.annotations.get(keys::NODE_OWNER_NAME) != Some(&name)
                || node.taints.iter().any(|t| t.key == UNINITIALIZED_TAINT)
        });
        if changed {
            ctx.world
                .patch_node(&cname, n, |node| {
                    node.annotations.insert("cluster.x-k8s.io/cluster-name".into(), c);
                    node.annotations.insert(keys::NODE_CLUSTER_NAMESPACE.into(), ns);
                    node.annotations.insert(keys::NODE_OWNER_KIND.into(), "MachinePool".into());
                    node.annotations.insert(keys::NODE_OWNER_NAME.into(), name);
                    node.taints.retain(|t| t.key != UNINITIALIZED_TAINT);
                })
                .map_err(ReconcileError)?;
        }
    }
    if replicas != ready as i64 || refs.len() != ready {
        v1beta1::mark_false(mp, "ReplicasReady", "WaitingForReplicasReady", "Info", "", now);
        return Ok(Action::requeue(REPLICAS_READY_REQUEUE_MS));
    }
    v1beta1::mark_true(mp, "ReplicasReady", now);
    Ok(Action::DONE)
}

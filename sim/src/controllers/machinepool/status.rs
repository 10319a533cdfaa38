//! What the MachinePool's status shows: the replica counters (from the pool's Machines when the
//! provider has them, else from the infra pool), the versions, and the phase.
//! Sources: `core/reconcilers/machinepool/machinepool_controller_status.go` (`updateStatus`,
//! `setReplicas`, `versionsFromNodeRefs`), `machinepool_controller_phases.go` (`reconcilePhase`).

use super::noderef::node_ref_names;
use super::scope::Scope;
use crate::controllers::common;
use crate::controllers::conditions;
use crate::object::Object;
use serde_json::{json, Value};
use std::sync::Arc;

/// Replica counters (`setReplicas`): from the pool's Machines when the provider has them, else from
/// the infra pool.
pub(super) fn update_status(mp: &mut Object, s: &Scope) {
    let Some(infra) = &s.infra else { return };
    let has_machines = infra.str_at("/status/infrastructureMachineKind").is_some_and(|k| !k.is_empty());
    if !has_machines {
        let replicas = mp.at("/status/replicas").cloned().unwrap_or(Value::Null);
        let desired = mp.at("/spec/replicas").cloned().unwrap_or(Value::Null);
        for p in ["/status/readyReplicas", "/status/availableReplicas"] {
            set_or_remove(mp, p, replicas.clone());
        }
        set_or_remove(mp, "/status/upToDateReplicas", desired);
        let versions = {
            let refs = node_ref_names(mp);
            let nodes = s.nodes.as_ref();
            let vs: Vec<String> = refs
                .iter()
                .filter_map(|r| nodes.and_then(|n| n.values().find(|x| x.name == *r)).map(|n| n.kubelet_version.clone()))
                .collect();
            aggregate_versions(vs)
        };
        set_or_remove(mp, "/status/versions", versions);
        return;
    }
    let count = |t: &str| s.machines.iter().filter(|m| conditions::is_true(m, t)).count();
    mp.set("/status/readyReplicas", json!(count("Ready")));
    mp.set("/status/availableReplicas", json!(count("Available")));
    mp.set("/status/upToDateReplicas", json!(count("UpToDate")));
    let mut sorted: Vec<&Arc<Object>> = s.machines.iter().collect();
    sorted.sort_by(|a, b| common::older_first(a, b));
    let vs: Vec<String> = sorted
        .iter()
        .map(|m| {
            m.str_at("/status/nodeInfo/kubeletVersion").filter(|v| !v.is_empty()).or(m.str_at("/spec/version")).unwrap_or("").to_string()
        })
        .collect();
    set_or_remove(mp, "/status/versions", aggregate_versions(vs));
}

fn set_or_remove(o: &mut Object, p: &str, v: Value) {
    if v.is_null() {
        o.remove(p);
    } else {
        o.set(p, v);
    }
}

/// `[{version, replicas}]` in version order (empty versions skipped); `null` when there are none.
pub fn aggregate_versions(versions: Vec<String>) -> Value {
    let mut counts: Vec<(String, i64)> = Vec::new();
    for v in versions.into_iter().filter(|v| !v.is_empty()) {
        match counts.iter_mut().find(|(x, _)| *x == v) {
            Some((_, n)) => *n += 1,
            None => counts.push((v, 1)),
        }
    }
    if counts.is_empty() {
        return Value::Null;
    }
    counts.sort_by(|(a, _), (b, _)| match (common::parse_version(a), common::parse_version(b)) {
        (Some(x), Some(y)) => x.cmp(&y),
        _ => std::cmp::Ordering::Equal,
    });
    Value::Array(counts.into_iter().map(|(v, n)| json!({"version": v, "replicas": n})).collect())
}

/// `reconcilePhase` (later rules win).
pub fn reconcile_phase(mp: &mut Object) {
    let mut phase = mp.str_at("/status/phase").unwrap_or("").to_string();
    if phase.is_empty() {
        phase = "Pending".into();
    }
    let boot = mp.bool_at("/status/initialization/bootstrapDataSecretCreated");
    let infra = mp.bool_at("/status/initialization/infrastructureProvisioned");
    if boot && !infra {
        phase = "Provisioning".into();
    }
    if mp.at("/status/nodeRefs").and_then(Value::as_array).is_some_and(|a| !a.is_empty()) {
        phase = "Provisioned".into();
    }
    let ready = mp.i64_at("/status/deprecated/v1beta1/readyReplicas").unwrap_or(0);
    let autoscaled = mp.annotation("cluster.x-k8s.io/replicas-managed-by").is_some();
    if let (true, Some(desired)) = (infra, mp.i64_at("/spec/replicas")) {
        if desired == ready {
            phase = "Running".into();
        } else if autoscaled {
            phase = "Scaling".into();
        } else if desired > ready {
            phase = "ScalingUp".into();
        } else {
            phase = "ScalingDown".into();
        }
    }
    if mp.deleting() {
        phase = "Deleting".into();
    }
    mp.set("/status/phase", json!(phase));
}

//! Resolving a fault's target to what exists at the moment it starts: clusters (by name, or the
//! `index`-th in name order), their node / load-balancer containers, nodes, etcd members, managers.
//! Resolution uses no randomness, so a recorded fault replays on the same objects.

use crate::engine::Sim;
use capi_scenarios::model::FaultTarget;
use capi_scenarios::predicate::{KIND_CLUSTER_LABEL, KIND_ROLE_LABEL};
use std::collections::BTreeSet;

/// Pick from a sorted list: `index` (modulo the length) and `count` following items; every item when
/// neither is given.
fn pick<T: Clone>(items: Vec<T>, index: Option<usize>, count: Option<usize>) -> Vec<T> {
    if items.is_empty() {
        return items;
    }
    match (index, count) {
        (None, None) => items,
        (i, c) => {
            let start = i.unwrap_or(0) % items.len();
            let n = c.unwrap_or(1).min(items.len());
            (0..n).map(|k| items[(start + k) % items.len()].clone()).collect()
        }
    }
}

/// Workload clusters the target names (the ones with CAPD containers).
pub fn clusters(sim: &Sim, t: &FaultTarget) -> Vec<String> {
    if let Some(c) = &t.cluster {
        return vec![c.clone()];
    }
    let all: BTreeSet<String> = sim.world.docker.containers().filter_map(|c| c.labels.get(KIND_CLUSTER_LABEL).cloned()).collect();
    let all: Vec<String> = all.into_iter().collect();
    // The cluster index and the machine index are the same number: one pick per fault.
    pick(all, t.index, Some(1).filter(|_| t.index.is_some()))
}

fn containers_with_role(sim: &Sim, t: &FaultTarget, lb: bool) -> Vec<String> {
    let cs = clusters(sim, t);
    let names: Vec<String> = sim
        .world
        .docker
        .containers()
        .filter(|c| c.labels.get(KIND_CLUSTER_LABEL).is_some_and(|x| cs.contains(x)))
        .filter(|c| {
            let role = c.labels.get(KIND_ROLE_LABEL).map(String::as_str);
            if lb {
                role == Some("external-load-balancer")
            } else {
                match t.control_plane {
                    Some(true) => role == Some("control-plane"),
                    Some(false) => role == Some("worker"),
                    None => matches!(role, Some("control-plane" | "worker")),
                }
            }
        })
        .filter(|c| t.name.as_ref().is_none_or(|n| &c.name == n))
        .filter(|c| t.name_prefix.as_ref().is_none_or(|p| c.name.starts_with(p.as_str())))
        .map(|c| c.name.clone())
        .collect();
    pick(names, t.index, t.count)
}

/// Node containers.
pub fn node_containers(sim: &Sim, t: &FaultTarget) -> Vec<String> {
    containers_with_role(sim, t, false)
}

/// Load-balancer containers.
pub fn lb_containers(sim: &Sim, t: &FaultTarget) -> Vec<String> {
    containers_with_role(sim, t, true)
}

/// Nodes (cluster, node name) of the targeted containers that registered.
pub fn nodes(sim: &Sim, t: &FaultTarget) -> Vec<(String, String)> {
    node_containers(sim, t)
        .into_iter()
        .filter_map(|n| {
            let c = sim.world.docker.get(&n)?.labels.get(KIND_CLUSTER_LABEL)?.clone();
            sim.world.workloads.get(&c)?.nodes.contains_key(&n).then_some((c, n))
        })
        .collect()
}

/// etcd members (cluster, member) of targeted control-plane containers.
pub fn etcd_members(sim: &Sim, t: &FaultTarget) -> Vec<(String, String)> {
    let t = FaultTarget { control_plane: Some(true), ..t.clone() };
    node_containers(sim, &t)
        .into_iter()
        .filter_map(|n| {
            let c = sim.world.docker.get(&n)?.labels.get(KIND_CLUSTER_LABEL)?.clone();
            sim.world.workloads.get(&c)?.etcd.contains_key(&n).then_some((c, n))
        })
        .collect()
}

/// Management clusters.
pub fn managements(sim: &Sim, t: &FaultTarget) -> Vec<usize> {
    match &t.management {
        Some(name) => sim.management_index(Some(name)).into_iter().collect(),
        None => (0..sim.mgmt.len()).collect(),
    }
}

/// Controller managers (management index, manager index).
pub fn managers(sim: &Sim, t: &FaultTarget) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    for m in managements(sim, t) {
        let all: Vec<(usize, usize)> = (0..sim.mgmt[m].managers.len()).map(|g| (m, g)).collect();
        match &t.manager {
            Some(name) => out.extend(all.into_iter().filter(|(m, g)| sim.mgmt[*m].managers[*g].name == name)),
            None => out.extend(pick(all, t.index, Some(1).filter(|_| t.index.is_some()))),
        }
    }
    out
}

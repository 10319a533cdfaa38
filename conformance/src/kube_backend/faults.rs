//! Faults a real Docker host can inject on the scenario's CAPD containers, with the simulator's
//! timing semantics: at once, `after` a delay, or `when` a predicate first holds; healed after their
//! `duration` or when the liveness phase starts.
//!
//! | fault | real action | heal |
//! |---|---|---|
//! | `container-kill` | `docker kill` (SIGKILL) of node containers | none (a killed node stays dead) |
//! | `container-oom` | as `container-kill`: the engine cannot OOM-kill on demand; a real OOM kill would let the restart policy restart the node once, a kill does not | none |
//! | `container-pause` | `docker pause` of node containers | `docker unpause` after `duration` |
//! | `lb-kill` | `docker kill` of the load-balancer container | `docker start` after `duration`, if given |
//! | anything else | `BackendError::Unsupported` | |
//!
//! Targets are chosen the way the simulator chooses them (clusters by name, or the `index`-th in
//! name order; then role, name, prefix, `index` and `count` over the containers in name order), from
//! the containers the safety policy lets the backend see. Triggers and heals are checked whenever the
//! backend runs (every step, and every tick of `wait` and `sleep`), not in the background.

use capi_scenarios::model::{FaultKind, FaultSpec, FaultTarget};
use capi_scenarios::predicate::{ContainerInfo, KIND_CLUSTER_LABEL, KIND_ROLE_LABEL};
use capi_scenarios::report::FaultRecord;
use std::collections::BTreeSet;

/// The scenario-language name of a fault kind (`container-kill`).
pub fn kind_name(k: FaultKind) -> String {
    serde_json::to_value(k).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_else(|| format!("{k:?}"))
}

/// Whether a real host can inject this fault.
pub fn injectable(k: FaultKind) -> bool {
    matches!(k, FaultKind::ContainerKill | FaultKind::ContainerOom | FaultKind::ContainerPause | FaultKind::LbKill)
}

/// Pick from a sorted list: `index` (modulo the length) and `count` following items; every item when
/// neither is given.
fn pick<T: Clone>(items: Vec<T>, index: Option<usize>, count: Option<usize>) -> Vec<T> {
    if items.is_empty() || (index.is_none() && count.is_none()) {
        return items;
    }
    let start = index.unwrap_or(0) % items.len();
    let n = count.unwrap_or(1).min(items.len());
    (0..n).map(|k| items[(start + k) % items.len()].clone()).collect()
}

/// The containers a fault hits: node containers, or load-balancer containers when `lb`.
pub fn targets(containers: &[ContainerInfo], t: &FaultTarget, lb: bool) -> Vec<String> {
    let clusters: Vec<String> = match &t.cluster {
        Some(c) => vec![c.clone()],
        None => {
            let all: BTreeSet<String> = containers.iter().filter_map(|c| c.labels.get(KIND_CLUSTER_LABEL).cloned()).collect();
            pick(all.into_iter().collect(), t.index, Some(1).filter(|_| t.index.is_some()))
        }
    };
    let mut names: Vec<String> = containers
        .iter()
        .filter(|c| c.labels.get(KIND_CLUSTER_LABEL).is_some_and(|x| clusters.contains(x)))
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
    names.sort();
    pick(names, t.index, t.count)
}

/// How to undo an injected fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Undo {
    /// `docker unpause`.
    Unpause(String),
    /// `docker start`.
    Start(String),
}

/// A fault waiting for its time or its trigger.
#[derive(Debug, Clone)]
pub struct Pending {
    /// The spec.
    pub spec: FaultSpec,
    /// When to start, in backend time (`None` while its trigger has not held).
    pub due_ms: Option<u64>,
}

/// A fault that is in effect and will heal.
#[derive(Debug, Clone)]
pub struct Active {
    /// Index into the records.
    pub record: usize,
    /// What to undo.
    pub undo: Vec<Undo>,
    /// When to heal, in backend time (`None`: at the liveness phase).
    pub heal_at_ms: Option<u64>,
}

/// The fault bookkeeping of a run.
#[derive(Debug, Default)]
pub struct FaultBook {
    /// Waiting faults.
    pub pending: Vec<Pending>,
    /// Faults in effect.
    pub active: Vec<Active>,
    /// Every fault started, as the report shows them.
    pub records: Vec<FaultRecord>,
}

impl FaultBook {
    /// Faults due at `now_ms` (their trigger has held and their delay passed), removed from pending.
    pub fn take_due(&mut self, now_ms: u64) -> Vec<FaultSpec> {
        let (due, keep): (Vec<Pending>, Vec<Pending>) =
            std::mem::take(&mut self.pending).into_iter().partition(|p| p.due_ms.is_some_and(|d| d <= now_ms));
        self.pending = keep;
        due.into_iter().map(|p| p.spec).collect()
    }

    /// Faults in effect whose duration is over, removed from active.
    pub fn take_healable(&mut self, now_ms: u64) -> Vec<Active> {
        let (heal, keep): (Vec<Active>, Vec<Active>) =
            std::mem::take(&mut self.active).into_iter().partition(|a| a.heal_at_ms.is_some_and(|h| h <= now_ms));
        self.active = keep;
        heal
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn c(name: &str, cluster: &str, role: &str) -> ContainerInfo {
        let mut labels = BTreeMap::new();
        labels.insert(KIND_CLUSTER_LABEL.to_string(), cluster.to_string());
        labels.insert(KIND_ROLE_LABEL.to_string(), role.to_string());
        ContainerInfo { name: name.into(), image: String::new(), state: "running".into(), labels }
    }

    #[test]
    fn targets_follow_the_simulators_rules() {
        let all = vec![
            c("a-lb", "a", "external-load-balancer"),
            c("a-cp-2", "a", "control-plane"),
            c("a-cp-1", "a", "control-plane"),
            c("a-md-1", "a", "worker"),
            c("b-cp-1", "b", "control-plane"),
        ];
        let t = |f: fn(&mut FaultTarget)| {
            let mut t = FaultTarget::default();
            f(&mut t);
            t
        };
        assert_eq!(targets(&all, &t(|t| t.cluster = Some("a".into())), false), vec!["a-cp-1", "a-cp-2", "a-md-1"]);
        assert_eq!(targets(&all, &t(|t| t.cluster = Some("a".into())), true), vec!["a-lb"]);
        assert_eq!(
            targets(
                &all,
                &t(|t| {
                    t.cluster = Some("a".into());
                    t.control_plane = Some(true);
                    t.index = Some(3);
                }),
                false
            ),
            vec!["a-cp-2"]
        );
        // Without a cluster, `index` picks the cluster too.
        assert_eq!(targets(&all, &t(|t| t.index = Some(1)), false), vec!["b-cp-1"]);
        assert_eq!(kind_name(FaultKind::ContainerKill), "container-kill");
        assert!(!injectable(FaultKind::Partition));
    }
}

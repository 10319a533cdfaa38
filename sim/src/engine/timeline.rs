//! Records what the timeline picture shows, over simulated time: each Machine's phases (one row per
//! Machine), each workload-cluster node's `Ready` status and etcd membership (one lane per node: a
//! member added, unhealthy, lost, removed), and each workload cluster's etcd health as
//! `healthy/total` members (so a quorum loss shows).
//!
//! A side channel: the engine hands it committed changes and, after each world event, the workload
//! clusters that event touched; it only reads them and never feeds back into the simulation or its
//! trace, so recording changes no trace hash. Iteration is over `BTreeMap`s only (deterministic).

use crate::kinds::Kind;
use crate::store::{Change, ChangeKind};
use crate::world::workload::WorkloadCluster;
use capi_scenarios::report::{EtcdLane, NodeLane, Span, Timeline, TimelineMark, TimelineRow};
use std::collections::BTreeMap;

/// The recorder.
#[derive(Default)]
pub struct TimelineRecorder {
    timeline: Timeline,
    rows: BTreeMap<String, usize>,
    /// Node lanes by (cluster, node).
    nodes: BTreeMap<(String, String), usize>,
    /// etcd lanes by cluster.
    etcd: BTreeMap<String, usize>,
}

/// Close the open span of `spans` at `now` unless it already shows `phase`, and open one for it
/// (`None`: only close).
fn set_phase(spans: &mut Vec<Span>, phase: Option<&str>, now: u64) {
    let open = spans.last().filter(|s| s.end_ms.is_none());
    if open.map(|s| s.phase.as_str()) == phase {
        return;
    }
    if let Some(last) = spans.last_mut() {
        last.end_ms.get_or_insert(now);
    }
    if let Some(p) = phase {
        spans.push(Span { start_ms: now, end_ms: None, phase: p.to_string() });
    }
}

impl TimelineRecorder {
    /// Observe a committed change.
    pub fn observe(&mut self, change: &Change, now: u64) {
        let o = &change.object;
        if o.kind != Kind::Machine {
            return;
        }
        let key = format!("{}/{}", o.namespace(), o.name());
        let idx = match self.rows.get(&key) {
            Some(i) => *i,
            None => {
                let cluster = o.label("cluster.x-k8s.io/cluster-name").or_else(|| o.str_at("/spec/clusterName")).unwrap_or("").to_string();
                self.timeline.rows.push(TimelineRow {
                    name: o.name().to_string(),
                    // The node it will get: CAPD names the container, and so the node, after the Machine
                    // (the Machine's nodeRef, once set, says for sure).
                    node: Some(crate::capd::naming::container_name(&cluster, o.name())),
                    cluster,
                    role: if o.label("cluster.x-k8s.io/control-plane").is_some() { "control-plane".into() } else { "worker".into() },
                    spans: Vec::new(),
                });
                self.rows.insert(key.clone(), self.timeline.rows.len() - 1);
                self.timeline.rows.len() - 1
            }
        };
        let row = &mut self.timeline.rows[idx];
        if change.kind == ChangeKind::Deleted {
            if let Some(last) = row.spans.last_mut() {
                last.end_ms.get_or_insert(now);
            }
            self.rows.remove(&key);
            return;
        }
        if let Some(node) = o.str_at("/status/nodeRef/name").filter(|n| row.node.as_deref() != Some(*n)) {
            row.node = Some(node.to_string());
        }
        let phase = o.str_at("/status/phase").unwrap_or("Pending").to_string();
        if row.spans.last().is_none_or(|s| s.phase != phase || s.end_ms.is_some()) {
            if let Some(last) = row.spans.last_mut() {
                last.end_ms.get_or_insert(now);
            }
            row.spans.push(Span { start_ms: now, end_ms: None, phase });
        }
    }

    /// Observe a workload cluster after a world event touched it (`None`: it is gone): its nodes'
    /// `Ready`, its etcd members, and its etcd health.
    pub fn observe_workload(&mut self, cluster: &str, wl: Option<&WorkloadCluster>, now: u64) {
        // The cluster's lanes seen before, to close those of nodes and members that are gone.
        let known: Vec<(String, usize)> = self
            .nodes
            .range((cluster.to_string(), String::new())..)
            .take_while(|((c, _), _)| c == cluster)
            .map(|((_, n), i)| (n.clone(), *i))
            .collect();
        for (node, i) in &known {
            let lane = &mut self.timeline.nodes[*i];
            let ready = wl.and_then(|w| w.nodes.get(node)).map(|n| n.ready.as_str());
            set_phase(&mut lane.ready, ready, now);
            set_phase(&mut lane.etcd, wl.and_then(|w| w.etcd.get(node)).map(member_state), now);
        }
        if let Some(wl) = wl {
            let names = wl.nodes.keys().chain(wl.etcd.keys());
            for name in names {
                let key = (cluster.to_string(), name.clone());
                if self.nodes.contains_key(&key) {
                    continue;
                }
                let mut lane = NodeLane { cluster: cluster.to_string(), node: name.clone(), ..Default::default() };
                set_phase(&mut lane.ready, wl.nodes.get(name).map(|n| n.ready.as_str()), now);
                set_phase(&mut lane.etcd, wl.etcd.get(name).map(member_state), now);
                self.timeline.nodes.push(lane);
                self.nodes.insert(key, self.timeline.nodes.len() - 1);
            }
        }
        let health = wl.filter(|w| !w.etcd.is_empty()).map(|w| {
            let (healthy, total) = w.etcd_health();
            format!("{healthy}/{total}")
        });
        match self.etcd.get(cluster) {
            Some(&i) => set_phase(&mut self.timeline.etcd[i].spans, health.as_deref(), now),
            None if health.is_some() => {
                let mut lane = EtcdLane { cluster: cluster.to_string(), spans: Vec::new() };
                set_phase(&mut lane.spans, health.as_deref(), now);
                self.timeline.etcd.push(lane);
                self.etcd.insert(cluster.to_string(), self.timeline.etcd.len() - 1);
            }
            None => {}
        }
    }

    /// Mark a point in time.
    pub fn mark(&mut self, at_ms: u64, kind: &str, label: String) {
        self.timeline.marks.push(TimelineMark { at_ms, kind: kind.to_string(), label });
    }

    /// The timeline up to `end_ms`.
    pub fn finish(&self, end_ms: u64) -> Timeline {
        let mut t = self.timeline.clone();
        t.end_ms = end_ms;
        t
    }
}

/// An etcd member's state as a lane shows it.
fn member_state(m: &crate::world::workload::EtcdMember) -> &'static str {
    if m.lost {
        "lost"
    } else if m.healthy {
        "healthy"
    } else {
        "unhealthy"
    }
}

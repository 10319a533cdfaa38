//! Invariants checked after every event, in one place (never inside controllers). Each names the
//! CAPI or Kubernetes rule it enforces and where it comes from. They read what changed (with the
//! actor that changed it) and the world; they never write. A violation is recorded once per
//! invariant and subject, with the event index and simulated time.
//!
//! The liveness check ("after the last fault the run converges") is done by the scenario runner's
//! liveness phase and reported as `liveness/no-convergence`.

mod rules;

use crate::engine::Sim;
use crate::store::Change;
use capi_scenarios::report::Violation;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// A dependent whose owner is gone: (management, dependent uid, removed owner uid).
type GcPending = (usize, Arc<str>, Arc<str>);

/// The invariant checkers and what they found.
#[derive(Default)]
pub struct Invariants {
    /// Violations found so far.
    pub violations: Vec<Violation>,
    /// Switch the checks off (benchmarks).
    pub disabled: bool,
    reported: BTreeSet<(String, String)>,
    last_rv: BTreeMap<usize, u64>,
    /// Dependents whose owners are gone, by the deadline by which GC must have acted:
    /// (management, dependent uid, removed owner uid).
    gc_pending: BTreeMap<u64, Vec<GcPending>>,
    /// providerID → Machine (namespace/name) per management cluster.
    provider_ids: BTreeMap<(usize, String), String>,
}

/// How long the garbage collector may take before a dependent of a removed owner must be deleting.
pub const GC_BOUND_MS: u64 = 60_000;

impl Invariants {
    /// Record a violation (once per invariant and subject).
    pub(crate) fn violate(&mut self, sim: &Sim, invariant: &str, subject: &str, message: String) {
        if self.reported.insert((invariant.to_string(), subject.to_string())) {
            self.violations.push(Violation { invariant: invariant.to_string(), message, event_index: sim.events(), at_ms: sim.now() });
        }
    }

    /// A committed change, with the actor that made it.
    pub fn observe(&mut self, sim: &Sim, m: usize, actor: &str, ch: &Change) {
        if self.disabled {
            return;
        }
        rules::resource_version_monotonic(self, sim, m, ch);
        rules::provider_ids_unique(self, sim, m, ch);
        rules::kcp_rollout_keeps_healthy_machines(self, sim, m, actor, ch);
        rules::md_rollout_bounds(self, sim, m, actor, ch);
        rules::no_container_outlives_its_machine(self, sim, ch);
        rules::no_container_leak_after_cluster_deletion(self, sim, ch);
        rules::track_gc(self, sim, m, ch);
    }

    /// The world changed (clusters noticed).
    pub fn observe_world(&mut self, sim: &Sim, clusters: &[String], etcd_removals: &[crate::world::EtcdRemoval]) {
        if self.disabled {
            return;
        }
        for c in clusters {
            rules::single_kubeadm_init(self, sim, c);
            rules::version_skew(self, sim, c);
        }
        for r in etcd_removals {
            rules::etcd_quorum_kept(self, sim, r);
        }
    }

    /// After every event: time-based checks.
    pub fn check(&mut self, sim: &Sim) {
        if self.disabled {
            return;
        }
        rules::gc_deadlines(self, sim);
    }
}

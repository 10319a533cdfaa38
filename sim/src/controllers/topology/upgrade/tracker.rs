//! The upgrade tracker: what one reconcile found out about the control plane (pending, starting,
//! upgrading) and the MachineDeployments and MachinePools (pending create or upgrade, deferred,
//! upgrading, the plan), with the Cluster's upgrade concurrency.
//! Source: `exp/topology/scope/upgradetracker.go` (`UpgradeTracker`, `ControlPlaneUpgradeTracker`,
//! `WorkerUpgradeTracker`).

use crate::object::Object;
use std::collections::BTreeSet;

/// Cluster annotation: how many MachineDeployments (and MachinePools) may upgrade at once.
pub const UPGRADE_CONCURRENCY: &str = "topology.cluster.x-k8s.io/upgrade-concurrency";

/// Control plane progress.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CpTracker {
    /// Its version differs from the topology version.
    pub pending_upgrade: bool,
    /// It waits for workers to catch up before the next step.
    pub waiting_for_workers: bool,
    /// The versions it still has to go through.
    pub plan: Vec<String>,
    /// Being created (no version reported yet).
    pub provisioning: bool,
    /// Still rolling out a previous version.
    pub upgrading: bool,
    /// Picking up a new version in this reconcile.
    pub starting: bool,
}

impl CpTracker {
    /// `IsControlPlaneStable`.
    pub fn stable(&self) -> bool {
        !(self.provisioning || self.upgrading || self.starting || self.pending_upgrade)
    }
    /// `IsControlPlaneStableOrWaitingForWorkersUpgrade`.
    pub fn stable_or_waiting(&self) -> bool {
        !(self.provisioning || self.upgrading || self.starting || (self.pending_upgrade && !self.waiting_for_workers))
    }
}

/// MachineDeployment (or MachinePool) progress.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkerTracker {
    /// Topology names whose creation waits for the control plane.
    pub pending_create: BTreeSet<String>,
    /// Object names waiting to upgrade.
    pub pending_upgrade: BTreeSet<String>,
    /// The versions workers still have to go through.
    pub plan: Vec<String>,
    /// Object names held by defer/hold annotations.
    pub deferred: BTreeSet<String>,
    /// Object names upgrading now.
    pub upgrading: BTreeSet<String>,
    /// How many may upgrade at once.
    pub max_concurrency: usize,
}

impl WorkerTracker {
    fn new(max: usize) -> Self {
        WorkerTracker {
            pending_create: BTreeSet::new(),
            pending_upgrade: BTreeSet::new(),
            plan: Vec::new(),
            deferred: BTreeSet::new(),
            upgrading: BTreeSet::new(),
            max_concurrency: max.max(1),
        }
    }
    /// `UpgradeConcurrencyReached`.
    pub fn concurrency_reached(&self) -> bool {
        self.upgrading.len() >= self.max_concurrency
    }
    /// Names for the condition: upgrading; pending (not upgrading nor deferred); deferred (not upgrading).
    pub fn dedup(&self) -> (Vec<String>, Vec<String>, Vec<String>) {
        let upgrading: Vec<String> = self.upgrading.iter().cloned().collect();
        let deferred: Vec<String> = self.deferred.iter().filter(|n| !self.upgrading.contains(*n)).cloned().collect();
        let pending: Vec<String> =
            self.pending_upgrade.iter().filter(|n| !self.upgrading.contains(*n) && !self.deferred.contains(*n)).cloned().collect();
        (upgrading, pending, deferred)
    }
}

/// Everything the upgrade decisions of one reconcile found out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tracker {
    /// Control plane.
    pub cp: CpTracker,
    /// MachineDeployments.
    pub mds: WorkerTracker,
    /// MachinePools.
    pub mps: WorkerTracker,
    /// The oldest worker version.
    pub min_workers_version: String,
    /// The plan was computed.
    pub plan_computed: bool,
}

impl Tracker {
    /// A tracker with the Cluster's upgrade concurrency (annotation, default 1).
    pub fn new(cluster: &Object) -> Tracker {
        let max = cluster.annotation(UPGRADE_CONCURRENCY).and_then(|c| c.parse::<usize>().ok()).unwrap_or(1);
        Tracker {
            cp: CpTracker::default(),
            mds: WorkerTracker::new(max),
            mps: WorkerTracker::new(max),
            min_workers_version: String::new(),
            plan_computed: false,
        }
    }
}

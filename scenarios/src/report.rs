//! The record of one scenario run: per-step results plus what the backend reports (trace hash,
//! counters, violations, faults, final objects and containers). This is what `--json` prints and what
//! the report writers turn into JUnit, summaries and timelines.

use crate::outcome::{EventSummary, ObjectSummary, Outcome};
use crate::predicate::ContainerInfo;
use serde::{Deserialize, Serialize};

/// One scenario run.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RunReport {
    /// Scenario name.
    pub scenario: String,
    /// Scenario file.
    pub file: String,
    /// Backend name.
    pub backend: String,
    /// Seed used.
    pub seed: u64,
    /// All steps passed and no invariant was violated.
    pub passed: bool,
    /// Hash of the full event trace (simulator).
    #[serde(default)]
    pub trace_hash: Option<String>,
    /// Backend time at the end: simulated time on the simulator, the scenario's clock (wall time
    /// times `--time-factor`) on a real cluster.
    pub sim_time_ms: u64,
    /// Wall-clock time the run took, when the caller measured it (the CLI does; the runner does not
    /// read the clock). Reports' `time` is this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wall_time_ms: Option<u64>,
    /// Reconciles run.
    pub reconciles: u64,
    /// Events processed.
    pub events: u64,
    /// Step results, in order (skipped steps after a failure included).
    pub steps: Vec<StepReport>,
    /// Final objects.
    pub objects: Vec<ObjectSummary>,
    /// Final containers.
    pub containers: Vec<ContainerInfo>,
    /// Kubernetes Events about the scenario's objects, oldest first (outcome schema 2: the outcome's
    /// `events`; this report's `events` counts the backend's processed events).
    #[serde(default)]
    pub recorded_events: Vec<EventSummary>,
    /// The schema of the outcome this report carries (`objects`, `containers`, `events`): 2.
    #[serde(default)]
    pub schema: u32,
    /// Invariant violations.
    pub violations: Vec<Violation>,
    /// Faults injected.
    #[serde(default)]
    pub faults: Vec<FaultRecord>,
    /// An error that ended the run outside any step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Why the run was stopped before its end (a signal, a wall-time limit); such a run never passes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interrupted: Option<String>,
    /// `clusterctl describe` output when requested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub describe: Option<String>,
    /// Machine phases over time, faults and violations, for the timeline picture.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeline: Option<Timeline>,
}

impl RunReport {
    /// The final state as an [`Outcome`].
    pub fn outcome(&self) -> Outcome {
        Outcome {
            schema: if self.schema == 0 { 1 } else { self.schema },
            objects: self.objects.clone(),
            containers: self.containers.clone(),
            events: self.recorded_events.clone(),
        }
    }

    /// The first failed (or interrupted) step, if any.
    pub fn first_failure(&self) -> Option<&StepReport> {
        self.steps.iter().find(|s| matches!(s.status, StepStatus::Failed | StepStatus::Interrupted))
    }
}

/// One step's result.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct StepReport {
    /// 0-based index.
    pub index: usize,
    /// Line in the scenario file.
    pub line: usize,
    /// Step keyword (`apply`, `wait`, ...).
    pub kind: String,
    /// Passed (false for failed and skipped steps).
    pub passed: bool,
    /// Passed, failed or skipped.
    pub status: StepStatus,
    /// Backend time when the step started.
    pub at_ms: u64,
    /// Backend time the step took.
    pub took_ms: u64,
    /// What happened.
    pub message: String,
}

/// Step status.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum StepStatus {
    /// Did what it should.
    Passed,
    /// Did not.
    Failed,
    /// Not run because an earlier step failed or the run was stopped.
    Skipped,
    /// Cut short because the run was stopped (a signal, a wall-time limit) while it ran.
    Interrupted,
}

/// An invariant that did not hold.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct Violation {
    /// Invariant name.
    pub invariant: String,
    /// What was wrong.
    pub message: String,
    /// Index of the event after which it was found.
    pub event_index: u64,
    /// Simulated time.
    pub at_ms: u64,
}

/// A fault as it happened.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FaultRecord {
    /// Fault kind, as in the scenario language.
    pub kind: String,
    /// What it hit.
    pub target: String,
    /// When it started.
    pub at_ms: u64,
    /// When it healed, if it lasts.
    #[serde(default)]
    pub healed_at_ms: Option<u64>,
    /// The fault spec, so the fault can be replayed.
    #[serde(default)]
    pub spec: Option<crate::model::FaultSpec>,
}

/// What happened over time, for a timeline picture: one row per Machine (phases as spans), marks for
/// steps, faults and violations.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Timeline {
    /// End of the run.
    pub end_ms: u64,
    /// One row per Machine, in order of first appearance.
    pub rows: Vec<TimelineRow>,
    /// Points in time worth marking.
    pub marks: Vec<TimelineMark>,
    /// Each workload-cluster node's `Ready` status and etcd membership, in order of first appearance.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<NodeLane>,
    /// Each workload cluster's etcd health over time, in order of first appearance.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub etcd: Vec<EtcdLane>,
}

/// One workload-cluster node over time.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct NodeLane {
    /// Cluster name.
    pub cluster: String,
    /// Node name (= the etcd member's name on a control-plane node).
    pub node: String,
    /// The Node's `Ready` status (`True`, `False`, `Unknown`); no span while there is no Node.
    pub ready: Vec<Span>,
    /// Its etcd member (`healthy`, `unhealthy`, `lost`); no span while it is not a member (before it
    /// is added, after it is removed).
    pub etcd: Vec<Span>,
}

/// One workload cluster's etcd over time.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct EtcdLane {
    /// Cluster name.
    pub cluster: String,
    /// Healthy members over members (`2/3`); quorum is lost when healthy ≤ total / 2.
    pub spans: Vec<Span>,
}

/// One Machine's phases.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct TimelineRow {
    /// Machine name.
    pub name: String,
    /// Cluster name.
    pub cluster: String,
    /// `control-plane` or `worker`.
    pub role: String,
    /// Phases, in order; the last one may be open.
    pub spans: Vec<Span>,
    /// The name of its Node (its `nodeRef`, or the name CAPD will give it), to draw the node's lane
    /// in the Machine's row.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
}

/// A phase held over a time range.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Span {
    /// Start.
    pub start_ms: u64,
    /// End (`None` while it lasts to the end of the run).
    pub end_ms: Option<u64>,
    /// Phase (`Pending`, `Provisioning`, `Provisioned`, `Running`, `Deleting`, `Deleted`...).
    pub phase: String,
}

/// A marked point in time.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TimelineMark {
    /// When.
    pub at_ms: u64,
    /// `step`, `fault`, `heal` or `violation`.
    pub kind: String,
    /// What.
    pub label: String,
}

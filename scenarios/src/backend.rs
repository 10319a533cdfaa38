//! The one interface a scenario runs against. The simulator implements it over virtual time; the
//! conformance backend over a real API server and Docker engine in real time. Steps never know which.

#![allow(async_fn_in_trait)]

use crate::manifest::ManifestObject;
use crate::model::{FaultSpec, MoveSpec, PatchType, Propagation, Scenario};
use crate::outcome::Outcome;
use crate::predicate::{Eval, Predicate};
use crate::report::{FaultRecord, Violation};
use crate::target::Target;
use serde::Serialize;
use serde_json::Value;
use std::fmt;

/// One object a step acts on.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct ObjectRef {
    /// Kind.
    pub kind: String,
    /// Namespace (empty for cluster-scoped kinds).
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Management cluster (the first when `None`).
    pub management: Option<String>,
    /// The workload cluster the object lives in (`None`: the management cluster).
    pub workload: Option<String>,
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.kind, self.name)?;
        if let Some(w) = &self.workload {
            write!(f, " in workload cluster {w}")?;
        }
        Ok(())
    }
}

impl ObjectRef {
    /// The reference to an object a target selected.
    pub fn of(target: &Target, r: &dyn crate::predicate::Resource) -> Self {
        ObjectRef {
            kind: r.kind().to_string(),
            namespace: r.namespace().to_string(),
            name: r.name().to_string(),
            management: target.management.clone(),
            workload: target.workload.clone(),
        }
    }
}

/// Where an `apply` goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApplyTarget {
    /// A management cluster (the first when `None`).
    Management(Option<String>),
    /// The API server of a workload cluster, reached with its kubeconfig.
    Workload(String),
}

/// What `apply` did to one object (as `kubectl apply` prints it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Applied {
    /// Kind.
    pub kind: String,
    /// Name.
    pub name: String,
    /// `created`, `configured` or `unchanged`.
    pub action: ApplyAction,
    /// Admission warnings.
    pub warnings: Vec<String>,
}

/// The three answers of `kubectl apply`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ApplyAction {
    /// New object.
    Created,
    /// Changed.
    Configured,
    /// Nothing to change.
    Unchanged,
}

/// A failed backend operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackendError {
    /// The API server answered with an error `Status` (denials by admission webhooks included).
    #[error("{reason} ({code}): {message}")]
    Api {
        /// HTTP code.
        code: u16,
        /// `Status.reason` (`NotFound`, `Conflict`, `Invalid`, `Forbidden`...).
        reason: String,
        /// `Status.message`.
        message: String,
    },
    /// The backend cannot do this (e.g. a fault the real world cannot inject).
    #[error("not supported by this backend: {0}")]
    Unsupported(String),
    /// Anything else (I/O, connection, bad step argument).
    #[error("{0}")]
    Other(String),
}

impl BackendError {
    /// A `404 NotFound`.
    pub fn not_found(what: impl fmt::Display) -> Self {
        BackendError::Api { code: 404, reason: "NotFound".into(), message: format!("{what} not found") }
    }
    /// Whether the API server refused the request (admission denial, validation, not found...): what
    /// `expect: denied` matches.
    pub fn is_denial(&self) -> bool {
        matches!(self, BackendError::Api { code: 400..=499, .. })
    }
    /// The message.
    pub fn message(&self) -> String {
        match self {
            BackendError::Api { message, .. } => message.clone(),
            other => other.to_string(),
        }
    }
}

/// The result of a `wait`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WaitResult {
    /// The last evaluation (holds = met before the deadline).
    pub eval: Eval,
    /// How long it took, in the backend's time.
    pub elapsed_ms: u64,
}

/// What a run leaves besides step results, collected by [`Backend::finish`].
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunFacts {
    /// Hash of the full event trace (simulator only).
    pub trace_hash: Option<String>,
    /// Time from the first step to the end of the run, in the backend's time.
    pub sim_time_ms: u64,
    /// Reconciles run (simulator only).
    pub reconciles: u64,
    /// Events processed (simulator only).
    pub events: u64,
    /// Invariant violations found.
    pub violations: Vec<Violation>,
    /// Faults injected, with when they started and healed.
    pub faults: Vec<FaultRecord>,
    /// The final state.
    pub outcome: Outcome,
    /// Machine phases over time (when the backend records them).
    pub timeline: Option<crate::report::Timeline>,
}

/// A world a scenario can run against.
pub trait Backend {
    /// Short name (`sim`, `kube`).
    fn name(&self) -> &str;
    /// Backend time since the run began, in milliseconds.
    fn now_ms(&self) -> u64;
    /// Poll this flag inside long operations (waits, sleeps) and return early once it is raised; the
    /// runner then reports the run as interrupted. Backends that cannot be interrupted ignore it.
    fn set_stop(&mut self, _stop: crate::stop::StopFlag) {}
    /// Predicates that must hold after every event of the run, with the labels reports use; a backend
    /// reports each one that breaks as a violation (`scenario-invariant`) from [`Backend::finish`].
    fn set_invariants(&mut self, _invariants: Vec<(String, Predicate)>) {}
    /// Set up for a scenario (management clusters and their feature gates, the seed).
    async fn prepare(&mut self, scenario: &Scenario, seed: u64) -> Result<(), BackendError>;
    /// Create or update objects, in order.
    async fn apply(&mut self, objects: &[ManifestObject], target: &ApplyTarget) -> Result<Vec<Applied>, BackendError>;
    /// Patch one object; returns admission warnings.
    async fn patch(
        &mut self,
        object: &ObjectRef,
        patch_type: PatchType,
        patch: &Value,
        subresource: Option<&str>,
    ) -> Result<Vec<String>, BackendError>;
    /// Delete one object.
    async fn delete(&mut self, object: &ObjectRef, propagation: Propagation) -> Result<(), BackendError>;
    /// Read one object as JSON.
    async fn get(&mut self, object: &ObjectRef) -> Result<Option<Value>, BackendError>;
    /// The objects a target names, in name order.
    async fn resolve(&mut self, target: &Target) -> Result<Vec<ObjectRef>, BackendError>;
    /// Evaluate a predicate now.
    async fn check(&mut self, predicate: &Predicate) -> Result<Eval, BackendError>;
    /// Wait until a predicate holds or `timeout_ms` passes.
    async fn wait(&mut self, predicate: &Predicate, timeout_ms: u64) -> Result<WaitResult, BackendError>;
    /// Let time pass.
    async fn sleep(&mut self, ms: u64) -> Result<(), BackendError>;
    /// Inject (or schedule) a fault; returns a description.
    async fn fault(&mut self, spec: &FaultSpec) -> Result<String, BackendError>;
    /// `clusterctl describe cluster --show-conditions all`.
    async fn describe(&mut self, cluster: &ObjectRef) -> Result<String, BackendError>;
    /// `clusterctl get kubeconfig`.
    async fn get_kubeconfig(&mut self, cluster: &ObjectRef) -> Result<String, BackendError>;
    /// `clusterctl move`.
    async fn move_objects(&mut self, spec: &MoveSpec) -> Result<String, BackendError>;
    /// A user's `docker run` / `docker rm -f` on the Docker host.
    async fn docker(&mut self, step: &crate::model::DockerStep) -> Result<String, BackendError>;
    /// Start the liveness phase: stop injecting faults and heal the active ones; returns how many
    /// faults had been injected during the run.
    async fn heal_faults(&mut self) -> Result<usize, BackendError>;
    /// End the run and collect what it left.
    async fn finish(&mut self) -> Result<RunFacts, BackendError>;
}

//! The controller-runtime model: controller managers with a shared informer cache fed by watch events
//! after a delay (so reads are stale as in controller-runtime), per-controller work queues, and
//! reconcilers that are plain functions of (what the cache shows, the key) → writes through the API.
//! Work queues are controller-runtime's priority queue or client-go's FIFO queue with CAPI's reconciler
//! rate limiting (`workqueue`, `priorityqueue`, `fifo`, `ratelimit`); each manager's client waits for
//! its token buckets (`--kube-api-qps`/`--kube-api-burst`) before an API call.

pub mod ctx;
pub mod fifo;
pub mod manager;
pub mod priorityqueue;
pub mod ratelimit;
pub mod workqueue;

pub use ctx::Ctx;
pub use manager::{ControllerSlot, ControllerStats, Delivery, Manager};

use crate::kinds::Kind;
use crate::object::ObjKey;
use crate::objectset::ObjectSet;
use crate::store::{ApiError, Change};
use crate::world::Notice;
use std::fmt;

/// What a successful reconcile asks for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Action {
    /// Reconcile again after this long.
    pub requeue_after_ms: Option<u64>,
}

impl Action {
    /// Done; wait for the next event.
    pub const DONE: Action = Action { requeue_after_ms: None };

    /// Reconcile again after `ms`.
    pub fn requeue(ms: u64) -> Action {
        Action { requeue_after_ms: Some(ms) }
    }

    /// The earlier of two requeues (CAPI aggregates sub-phase results this way).
    pub fn min(self, other: Action) -> Action {
        match (self.requeue_after_ms, other.requeue_after_ms) {
            (Some(a), Some(b)) => Action::requeue(a.min(b)),
            (a, b) => Action { requeue_after_ms: a.or(b) },
        }
    }
}

/// A failed reconcile (the key is requeued with backoff).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReconcileError(pub String);

impl fmt::Display for ReconcileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<ApiError> for ReconcileError {
    fn from(e: ApiError) -> Self {
        ReconcileError(e.message)
    }
}

impl From<String> for ReconcileError {
    fn from(e: String) -> Self {
        ReconcileError(e)
    }
}

impl From<&str> for ReconcileError {
    fn from(e: &str) -> Self {
        ReconcileError(e.to_string())
    }
}

impl From<crate::world::docker::DockerError> for ReconcileError {
    fn from(e: crate::world::docker::DockerError) -> Self {
        ReconcileError(e.to_string())
    }
}

/// The result of a reconcile.
pub type ReconcileResult = Result<Action, ReconcileError>;

/// A controller: the kind it reconciles, what else it watches, and its reconcile function.
pub trait Reconciler {
    /// Name in traces and stats (`machine`, `kubeadmcontrolplane`...).
    fn name(&self) -> &'static str;
    /// The kind it reconciles (its `For`).
    fn kind(&self) -> Kind;
    /// Other kinds whose changes may enqueue keys (mapped by [`Reconciler::map`]).
    fn watches(&self) -> &[Kind] {
        &[]
    }
    /// Map a change of a watched kind to keys to reconcile.
    fn map(&self, _change: &Change, _cache: &ObjectSet, _out: &mut Vec<ObjKey>) {}
    /// Map a world notice (workload cluster or container change, async task done) to keys.
    fn map_notice(&self, _notice: &Notice, _cache: &ObjectSet, _out: &mut Vec<ObjKey>) {}
    /// Reconcile one object.
    fn reconcile(&self, ctx: &mut Ctx<'_>, key: &ObjKey) -> ReconcileResult;
}

/// Mapper: the controller owner of `kind` (controller-runtime's `Owns`).
pub fn map_controller_owner(change: &Change, kind: Kind, out: &mut Vec<ObjKey>) {
    let o = &change.object;
    if let Some(r) = o.controller_ref() {
        if r.kind == kind.name() {
            out.push(ObjKey::new(kind, o.namespace(), &r.name));
        }
    }
}

/// Mapper: every owner of `kind` (not only the controller).
pub fn map_owners(change: &Change, kind: Kind, out: &mut Vec<ObjKey>) {
    let o = &change.object;
    for r in &o.meta.owner_references {
        if r.kind == kind.name() {
            out.push(ObjKey::new(kind, o.namespace(), &r.name));
        }
    }
}

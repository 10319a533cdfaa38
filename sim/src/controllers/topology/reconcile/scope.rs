//! What one topology reconcile learns as it goes (the upgrade tracker, the ClusterClass, the defaulted
//! topology, the control plane's desired version and kind, the resourceVersions of its writes), for
//! the `TopologyReconciled` condition and the consistency check.
//! Restates the parts of `exp/topology/scope` (`Scope`, `UpgradeTracker`) this model keeps.

use crate::controllers::topology::upgrade::Tracker;
use crate::object::{ObjKey, Object};
use serde_json::Value;
use std::sync::Arc;

/// What one reconcile learned, for the condition.
pub(super) struct Scope {
    pub(super) tracker: Tracker,
    pub(super) class: Option<Arc<Object>>,
    pub(super) defaulted_topology: Option<Arc<Value>>,
    pub(super) desired_cp_version: String,
    pub(super) cp_kind: String,
    pub(super) writes: Vec<(ObjKey, u64)>,
}

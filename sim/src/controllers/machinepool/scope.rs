//! What one MachinePool reconcile gathers for the deferred status update (the infra pool, the pool's
//! Machines, the workload cluster's Nodes by providerID), and a Node as the pool sees it.
//! Source: `core/reconcilers/machinepool/machinepool_controller_scope.go` (`scope`).

use crate::object::Object;
use std::collections::BTreeMap;
use std::sync::Arc;

/// A Node of the workload cluster as the pool sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeInfo {
    /// Name.
    pub name: String,
    /// `Ready` True.
    pub ready: bool,
    /// Since when `Ready` has its status.
    pub ready_since_ms: u64,
    /// kubelet version.
    pub kubelet_version: String,
}

/// What one reconcile gathers for the deferred status update.
#[derive(Default)]
pub(super) struct Scope {
    pub(super) infra: Option<Arc<Object>>,
    pub(super) machines: Vec<Arc<Object>>,
    /// Nodes by providerID (when the workload cluster answered).
    pub(super) nodes: Option<BTreeMap<String, NodeInfo>>,
}

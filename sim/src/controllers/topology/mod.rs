//! ClusterClass and managed topologies (the `ClusterTopology` feature gate): the ClusterClass
//! controller, the topology controller that turns `Cluster.spec.topology` into an infrastructure
//! cluster, a control plane, MachineDeployments, MachinePools and MachineHealthChecks, and the two
//! controllers that clean up per-cluster template copies.
//!
//! Modules: [`field`] (Kubernetes field errors), [`schema`] and [`variables`] (variable schemas,
//! defaulting, validation), [`gotmpl`] (Go templates with sprig functions), [`patches`] (the inline
//! patch engine), [`upgrade`] (upgrade plan and ordering), [`state`] (blueprint and current state),
//! [`desired`] (desired state), [`reconcile`] (the topology controller), [`clusterclass`],
//! [`cleanup`].

pub mod cleanup;
pub mod clusterclass;
pub mod desired;
pub mod field;
pub mod gotmpl;
pub mod patches;
pub mod reconcile;
pub mod schema;
pub mod state;
pub mod upgrade;
pub mod variables;

#[cfg(test)]
mod tests;

use crate::runtime::Reconciler;

/// The controllers of this module (registered only when the ClusterTopology gate is on, as in CAPI's
/// `main.go`).
pub fn controllers() -> Vec<Box<dyn Reconciler>> {
    vec![
        Box::new(clusterclass::ClusterClassReconciler),
        Box::new(reconcile::TopologyReconciler::default()),
        Box::new(cleanup::MachineDeploymentTopologyReconciler),
        Box::new(cleanup::MachineSetTopologyReconciler),
    ]
}

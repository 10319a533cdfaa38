//! What KCP reads from a workload cluster in one reconcile, taken as a snapshot through the
//! workload API (so an unreachable cluster fails the read as a real client would): whether kubeadm
//! init ran (the `kubeadm-config` ConfigMap exists), the control-plane Nodes with their labels,
//! taints, `Ready` status and static pods, and the etcd member list with its leader.
//! Source: `controlplane/kubeadm/pkg/workload_cluster.go`, `workload_cluster_conditions.go`, `workload_cluster_etcd.go`.

use super::scope::CONTROL_PLANE_NODE_LABEL;
use crate::world::workload::Status as NodeStatus;
use crate::world::{StaticPods, World};
use std::collections::BTreeMap;

/// The taint the node lifecycle controller puts on unreachable Nodes.
pub const UNREACHABLE_TAINT: &str = "node.kubernetes.io/unreachable";

/// One Node as KCP sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeView {
    /// Name.
    pub name: String,
    /// Carries `node-role.kubernetes.io/control-plane`.
    pub control_plane_label: bool,
    /// Carries the `node-role.kubernetes.io/control-plane:NoSchedule` taint.
    pub control_plane_taint: bool,
    /// Carries the `node.kubernetes.io/unreachable:NoExecute` taint.
    pub unreachable: bool,
    /// `Ready` condition.
    pub ready: NodeStatus,
    /// Creation time.
    pub created_ms: u64,
    /// The static control-plane pods (when the API answered for them).
    pub pods: Option<StaticPods>,
    /// `spec.providerID`.
    pub provider_id: Option<String>,
}

/// One read of a workload cluster.
#[derive(Clone, Debug, PartialEq)]
pub struct WorkloadView {
    /// `kubeadm init` ran.
    pub initialized: bool,
    /// Nodes by name.
    pub nodes: BTreeMap<String, NodeView>,
    /// etcd members by name → whether the member answers (its etcd pod serves: the member's
    /// container runs and its data is intact). Every member is listed, answering or not, as etcd's
    /// `MemberList` lists them.
    pub etcd: BTreeMap<String, bool>,
    /// Whether the members that answer are a quorum (linearizable reads such as `MemberList` need it).
    pub etcd_quorum: bool,
    /// The etcd leader as a member's `Status` reports it (none without quorum).
    pub leader: Option<String>,
    /// `kubernetesVersion` in the kubeadm-config ConfigMap.
    pub version: String,
}

/// Read a workload cluster (fails like a client when the API is unreachable).
pub fn read(world: &World, cluster: &str) -> Result<WorkloadView, String> {
    let wl = world.workload(cluster)?;
    let mut nodes = BTreeMap::new();
    for n in wl.nodes.values() {
        let pods = world.static_pods(cluster, &n.name).ok();
        nodes.insert(
            n.name.clone(),
            NodeView {
                name: n.name.clone(),
                control_plane_label: n.labels.contains_key(CONTROL_PLANE_NODE_LABEL),
                control_plane_taint: n.taints.iter().any(|t| t.key == CONTROL_PLANE_NODE_LABEL && t.effect == "NoSchedule"),
                unreachable: n.taints.iter().any(|t| t.key == UNREACHABLE_TAINT && t.effect == "NoExecute"),
                ready: n.ready,
                created_ms: n.registered_ms,
                pods,
                provider_id: n.provider_id.clone(),
            },
        );
    }
    Ok(WorkloadView {
        initialized: wl.initialized,
        nodes,
        etcd: wl.etcd.values().map(|m| (m.name.clone(), m.healthy)).collect(),
        etcd_quorum: wl.etcd_quorum(),
        leader: wl.etcd_leader.clone().filter(|_| wl.etcd_quorum()),
        version: wl.version.clone(),
    })
}

/// The error KCP reports when it cannot get a workload client (`RemoteClusterConnectionError`
/// wrapping the ClusterCache's `ErrClusterNotConnected`); the cause goes to the trace.
pub fn connection_error(ns: &str, cluster: &str) -> String {
    format!("{ns}/{cluster}: connection to the workload cluster is down")
}

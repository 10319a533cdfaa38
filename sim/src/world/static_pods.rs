//! The control plane's static Pods as KCP reads them (`kube-system/<component>-<node>`): the status of
//! the API server, controller manager, scheduler and etcd Pods of one node.
//! Restates what `controlplane/kubeadm/internal/workload_cluster_conditions.go` reads.

use super::docker;
use super::World;
use docker::Bootstrap;

/// Status of a control-plane static pod as KCP reads it (`kube-system/<component>-<node>`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PodStatus {
    /// Running and ready.
    Running,
    /// The Node exists but the pod is not there yet.
    Provisioning,
    /// The pod failed (its container is gone).
    Failed,
    /// The pod runs but its container restarts after failing (an etcd member whose data is lost:
    /// the etcd process exits at once), `CrashLoopBackOff` with a non-zero last exit code.
    CrashLoopBackOff,
    /// No such pod (no Node).
    DoesNotExist,
}

/// The four control-plane static pods of a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StaticPods {
    /// kube-apiserver.
    pub api_server: PodStatus,
    /// kube-controller-manager.
    pub controller_manager: PodStatus,
    /// kube-scheduler.
    pub scheduler: PodStatus,
    /// etcd.
    pub etcd: PodStatus,
}

impl World {
    /// The control-plane static pods of a node, read through the workload API. Static pods keep
    /// running when only the kubelet stops; they fail when the container dies.
    pub fn static_pods(&self, cluster: &str, node: &str) -> Result<StaticPods, String> {
        let wl = self.workload(cluster)?;
        let status = match wl.nodes.get(node) {
            None => PodStatus::DoesNotExist,
            Some(n) if !n.control_plane => PodStatus::DoesNotExist,
            Some(_) => match self.docker.get(node) {
                Some(c) if c.running() && c.bootstrap == Bootstrap::Succeeded => PodStatus::Running,
                Some(c) if c.running() => PodStatus::Provisioning,
                _ => PodStatus::Failed,
            },
        };
        let etcd = match (status, wl.etcd.get(node)) {
            (PodStatus::Running, Some(m)) if m.lost => PodStatus::CrashLoopBackOff,
            (PodStatus::Running, Some(m)) if !m.healthy => PodStatus::Failed,
            (s, _) => s,
        };
        Ok(StaticPods { api_server: status, controller_manager: status, scheduler: status, etcd })
    }
}

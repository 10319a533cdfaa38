//! Workload clusters as the management cluster sees them through the load balancer: nodes (Ready only
//! once a CNI runs on them), etcd members, the control-plane static pods, resources applied by
//! ClusterResourceSets or users, bootstrap tokens, and evictable pods for drain.
//!
//! Kubernetes behaviour modelled here (not CAPI): a Node registers NotReady with reason
//! `KubeletNotReady` until the CNI is up on it; a Node whose kubelet stops posting status turns
//! `Unknown` after the node-monitor grace period (40s); static pods keep running when only the kubelet
//! stops; the API server needs etcd quorum to answer.

use crate::object::Ptr;
use serde_json::Value;
use std::collections::BTreeMap;

/// `True` / `False` / `Unknown`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// True.
    True,
    /// False.
    False,
    /// Unknown.
    Unknown,
}

impl Status {
    /// As written in conditions.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::True => "True",
            Status::False => "False",
            Status::Unknown => "Unknown",
        }
    }
}

/// A taint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Taint {
    /// Key.
    pub key: String,
    /// Value (`""` when none).
    pub value: String,
    /// Effect.
    pub effect: String,
}

/// The taint kubeadm puts on control-plane nodes.
pub const CONTROL_PLANE_TAINT: &str = "node-role.kubernetes.io/control-plane";
/// The taint CABPK adds to worker join configurations; the Machine controller removes it.
pub const UNINITIALIZED_TAINT: &str = "node.cluster.x-k8s.io/uninitialized";

/// A Node.
#[derive(Clone, Debug)]
pub struct Node {
    /// Name (= container name).
    pub name: String,
    /// `spec.providerID` (set by CAPD; kind nodes register without one).
    pub provider_id: Option<String>,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Annotations.
    pub annotations: BTreeMap<String, String>,
    /// Taints.
    pub taints: Vec<Taint>,
    /// Cordoned.
    pub unschedulable: bool,
    /// `Ready` condition status.
    pub ready: Status,
    /// Its reason.
    pub ready_reason: String,
    /// Its message.
    pub ready_message: String,
    /// Its lastTransitionTime.
    pub ready_since_ms: u64,
    /// kubelet version.
    pub kubelet_version: String,
    /// Control-plane node.
    pub control_plane: bool,
    /// Registration time.
    pub registered_ms: u64,
    /// When the kubelet stopped posting status (container gone or kubelet stopped).
    pub kubelet_down_since: Option<u64>,
    /// When the CNI became ready on this node.
    pub cni_ready_at: Option<u64>,
    /// Conditions besides Ready and the kubelet's pressure conditions, as a user or a node problem
    /// detector sets them (`kubectl patch node --subresource status`), by type.
    pub extra_conditions: BTreeMap<String, NodeCondition>,
}

/// A Node condition set from outside the kubelet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeCondition {
    /// Status.
    pub status: Status,
    /// Reason.
    pub reason: String,
    /// Message.
    pub message: String,
    /// lastTransitionTime.
    pub since_ms: u64,
}

/// An etcd member (stacked etcd: one per control-plane node).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EtcdMember {
    /// Member name (= node name).
    pub name: String,
    /// Whether it answers.
    pub healthy: bool,
    /// Lost for good (its data is gone).
    pub lost: bool,
}

/// A CNI installation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cni {
    /// What was recognised (`kindnet`, `calico-node`...).
    pub name: String,
    /// When it was applied.
    pub installed_ms: u64,
    /// Crashed (CNI-crash fault).
    pub crashed: bool,
}

/// One workload cluster.
#[derive(Clone, Debug, Default)]
pub struct WorkloadCluster {
    /// Cluster name (the CAPD `io.x-k8s.kind.cluster` label).
    pub name: String,
    /// `kubeadm init` ran (the `kubeadm-config` ConfigMap exists).
    pub initialized: bool,
    /// How many times `kubeadm init` ran (more than one is a split brain).
    pub inits: u32,
    /// Kubernetes version from kubeadm's ClusterConfiguration.
    pub version: String,
    /// Nodes by name.
    pub nodes: BTreeMap<String, Node>,
    /// etcd members by name.
    pub etcd: BTreeMap<String, EtcdMember>,
    /// etcd leader.
    pub etcd_leader: Option<String>,
    /// The CNI, once applied.
    pub cni: Option<Cni>,
    /// Resources applied to the cluster (`Kind/namespace/name` → object).
    pub resources: BTreeMap<String, Value>,
    /// Bootstrap tokens created for joins.
    pub bootstrap_tokens: u32,
    /// kubelet stopped on these nodes by a fault.
    pub kubelet_stopped: BTreeMap<String, u64>,
    /// Pods by (namespace, name) (`super::pods`).
    pub pods: BTreeMap<(String, String), super::pods::Pod>,
    /// PodDisruptionBudgets by (namespace, name).
    pub pdbs: BTreeMap<(String, String), super::pods::Pdb>,
}

/// DaemonSets whose presence means "a CNI is installed".
pub const CNI_DAEMONSETS: &[&str] = &["kindnet", "calico-node", "cilium", "kube-flannel-ds", "weave-net", "antrea-agent"];

impl WorkloadCluster {
    /// A new, empty workload cluster.
    pub fn new(name: &str) -> Self {
        WorkloadCluster { name: name.to_string(), ..Default::default() }
    }

    /// Healthy etcd members and the total.
    pub fn etcd_health(&self) -> (usize, usize) {
        (self.etcd.values().filter(|m| m.healthy).count(), self.etcd.len())
    }

    /// Whether etcd has quorum.
    pub fn etcd_quorum(&self) -> bool {
        let (healthy, total) = self.etcd_health();
        total > 0 && healthy > total / 2
    }

    /// The Node with a provider ID.
    pub fn node_by_provider_id(&self, provider_id: &str) -> Option<&Node> {
        self.nodes.values().find(|n| n.provider_id.as_deref() == Some(provider_id))
    }

    /// Apply a resource; returns the name of a CNI it installs, if it is one.
    pub fn apply_resource(&mut self, obj: Value, now: u64) -> Option<String> {
        let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("").to_string();
        let ns = obj.ptr("/metadata/namespace").and_then(Value::as_str).unwrap_or("default").to_string();
        let name = obj.ptr("/metadata/name").and_then(Value::as_str).unwrap_or("").to_string();
        self.apply_workload_object(&obj, now);
        let key = format!("{kind}/{ns}/{name}");
        // The API server sets `creationTimestamp` on create and keeps it on every update.
        let created = match self.resources.get(&key).and_then(|old| old.ptr("/metadata/creationTimestamp")) {
            Some(t) => t.clone(),
            None => Value::String(crate::object::timestamp(now)),
        };
        let mut obj = obj;
        if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
            m.insert("creationTimestamp".into(), created);
        }
        self.resources.insert(key, obj);
        if kind == "DaemonSet" && CNI_DAEMONSETS.contains(&name.as_str()) && self.cni.as_ref().is_none_or(|c| c.crashed) {
            self.cni = Some(Cni { name: name.clone(), installed_ms: now, crashed: false });
            return Some(name);
        }
        None
    }

    /// Recompute every node's `Ready` condition at `now`. Returns the nodes whose condition changed and the next
    /// time a condition will change by itself (grace periods, CNI rollouts).
    pub fn refresh_nodes(&mut self, now: u64, grace_ms: u64) -> (Vec<String>, Option<u64>) {
        let mut changed = Vec::new();
        let mut next: Option<u64> = None;
        let mut soonest = |t: u64| next = Some(next.map_or(t, |n: u64| n.min(t)));
        let cni_up = self.cni.as_ref().is_some_and(|c| !c.crashed);
        for node in self.nodes.values_mut() {
            let (status, reason, message) = if let Some(down) = node.kubelet_down_since {
                if now >= down + grace_ms {
                    (Status::Unknown, "NodeStatusUnknown", "Kubelet stopped posting node status.")
                } else {
                    soonest(down + grace_ms);
                    continue;
                }
            } else if cni_up && node.cni_ready_at.is_some_and(|t| now >= t) {
                (Status::True, "KubeletReady", "kubelet is posting ready status")
            } else {
                if let Some(t) = node.cni_ready_at.filter(|_| cni_up) {
                    soonest(t);
                }
                (
                    Status::False,
                    "KubeletNotReady",
                    "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized",
                )
            };
            if node.ready != status || node.ready_reason != reason {
                node.ready = status;
                node.ready_reason = reason.to_string();
                node.ready_message = message.to_string();
                node.ready_since_ms = now;
                changed.push(node.name.clone());
            }
        }
        (changed, next)
    }
}

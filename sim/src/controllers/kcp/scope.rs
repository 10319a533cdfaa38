//! The control-plane scope one KCP reconcile works on (CAPI's `pkg.ControlPlane`): the KCP and its
//! Cluster, the owned Machines as in-memory copies (KCP sets conditions on them and patches them back),
//! their infrastructure machines and KubeadmConfigs, which Machines are outdated, what etcd reported,
//! and what the preflight checks found. Plus the names of the keys and conditions KCP uses.
//! Source: `controlplane/kubeadm/pkg/control_plane.go`, `api/controlplane/kubeadm/v1beta2/kubeadm_control_plane_types.go`.

use super::consistency::Wrote;
use super::uptodate;
use crate::controllers::common::keys;
use crate::controllers::conditions::{self, Cond};
use crate::object::{parse_timestamp, Object};
use serde_json::Value;
use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::sync::Arc;

/// KCP's finalizer.
pub const FINALIZER: &str = "kubeadm.controlplane.cluster.x-k8s.io";
/// KCP annotation tracking a remediation whose replacement Machine is not created yet.
pub const REMEDIATION_IN_PROGRESS: &str = "controlplane.cluster.x-k8s.io/remediation-in-progress";
/// Machine annotation carrying the remediation data of the Machine it replaces.
pub const REMEDIATION_FOR: &str = "controlplane.cluster.x-k8s.io/remediation-for";
/// KubeadmConfig annotation with the API server certificate expiry.
pub const CERTIFICATES_EXPIRY: &str = "machine.cluster.x-k8s.io/certificates-expiry";
/// Cluster annotation with the version of the current topology upgrade step.
pub const UPGRADE_STEP: &str = "topology.internal.cluster.x-k8s.io/upgrade-step";
/// The label kubeadm puts on control-plane Nodes (and the taint key).
pub const CONTROL_PLANE_NODE_LABEL: &str = "node-role.kubernetes.io/control-plane";

/// Condition types on the KCP and on its Machines.
pub mod cond {
    /// KCP Available.
    pub const AVAILABLE: &str = "Available";
    /// KCP Initialized.
    pub const INITIALIZED: &str = "Initialized";
    /// KCP CertificatesAvailable.
    pub const CERTIFICATES_AVAILABLE: &str = "CertificatesAvailable";
    /// KCP EtcdClusterHealthy.
    pub const ETCD_CLUSTER_HEALTHY: &str = "EtcdClusterHealthy";
    /// KCP ControlPlaneComponentsHealthy.
    pub const COMPONENTS_HEALTHY: &str = "ControlPlaneComponentsHealthy";
    /// KCP MachinesReady.
    pub const MACHINES_READY: &str = "MachinesReady";
    /// KCP MachinesUpToDate.
    pub const MACHINES_UP_TO_DATE: &str = "MachinesUpToDate";
    /// KCP RollingOut.
    pub const ROLLING_OUT: &str = "RollingOut";
    /// KCP ScalingUp.
    pub const SCALING_UP: &str = "ScalingUp";
    /// KCP ScalingDown.
    pub const SCALING_DOWN: &str = "ScalingDown";
    /// KCP Remediating.
    pub const REMEDIATING: &str = "Remediating";
    /// KCP / Machine Deleting.
    pub const DELETING: &str = "Deleting";
    /// Machine APIServerPodHealthy.
    pub const API_SERVER: &str = "APIServerPodHealthy";
    /// Machine ControllerManagerPodHealthy.
    pub const CONTROLLER_MANAGER: &str = "ControllerManagerPodHealthy";
    /// Machine SchedulerPodHealthy.
    pub const SCHEDULER: &str = "SchedulerPodHealthy";
    /// Machine EtcdPodHealthy.
    pub const ETCD_POD: &str = "EtcdPodHealthy";
    /// Machine EtcdMemberHealthy.
    pub const ETCD_MEMBER: &str = "EtcdMemberHealthy";
    /// Machine NodeKubeadmLabelsAndTaintsSet.
    pub const NODE_LABELS: &str = "NodeKubeadmLabelsAndTaintsSet";
    /// Machine UpToDate.
    pub const UP_TO_DATE: &str = "UpToDate";
    /// Machine Ready.
    pub const READY: &str = "Ready";
    /// Machine HealthCheckSucceeded (MHC).
    pub const HEALTH_CHECK_SUCCEEDED: &str = "HealthCheckSucceeded";
    /// Machine OwnerRemediated (MHC sets it, the owner remediates).
    pub const OWNER_REMEDIATED: &str = "OwnerRemediated";
}

/// The Machine conditions KCP owns (patched back after each reconcile).
pub const OWNED_MACHINE_CONDITIONS: &[&str] =
    &[cond::UP_TO_DATE, cond::NODE_LABELS, cond::API_SERVER, cond::CONTROLLER_MANAGER, cond::SCHEDULER, cond::ETCD_POD, cond::ETCD_MEMBER];

/// What the preflight checks found (surfaced in ScalingUp / ScalingDown messages).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PreflightResults {
    /// A Machine is being deleted.
    pub has_deleting_machine: bool,
    /// Certificates are missing (scale up only).
    pub certificate_missing: bool,
    /// Control-plane components are not all healthy.
    pub components_not_healthy: bool,
    /// The etcd cluster is not fully healthy.
    pub etcd_not_healthy: bool,
    /// `Cluster.spec.topology.version` differs from the KCP version.
    pub topology_version_mismatch: bool,
}

/// The scope of one reconcile.
pub struct ControlPlane {
    /// The KCP as this reconcile changes it (annotations, status); written back at the end.
    pub kcp: Object,
    /// The owning Cluster.
    pub cluster: Arc<Object>,
    /// Owned control-plane Machines (in-memory copies, name order).
    pub machines: Vec<Object>,
    /// The Machines as read at the start (what the patches diff against).
    pub originals: BTreeMap<String, Arc<Object>>,
    /// Infrastructure machines by Machine name.
    pub infra: BTreeMap<String, Arc<Object>>,
    /// KubeadmConfigs by Machine name.
    pub configs: BTreeMap<String, Arc<Object>>,
    /// Outdated Machines with the reasons (UpToDate condition messages).
    pub outdated: BTreeMap<String, Vec<String>>,
    /// etcd member names as etcd reported them (`None` = could not be read).
    pub etcd_members: Option<Vec<String>>,
    /// The etcd leader.
    pub etcd_leader: Option<String>,
    /// Whether etcd members and Machines/Nodes match (for Available).
    pub members_match: bool,
    /// Nodes referenced by the Machines: name → registration time.
    pub nodes: BTreeMap<String, u64>,
    /// The workload cluster's Nodes by `spec.providerID` (as read this reconcile).
    pub nodes_by_provider_id: BTreeMap<String, String>,
    /// The workload cluster could not be read this reconcile.
    pub node_list_error: Option<String>,
    /// Preflight findings.
    pub preflight: PreflightResults,
    /// The infrastructure machine template does not exist.
    pub template_not_found: bool,
    /// Reason for the Deleting condition.
    pub deleting_reason: String,
    /// Message for the Deleting condition.
    pub deleting_message: String,
    /// Machine writes the next reconcile must see in the cache first.
    pub wrote: Vec<Wrote>,
}

impl ControlPlane {
    /// A scope over owned Machines; outdated Machines are computed at once (as `NewControlPlane` does).
    pub fn new(
        kcp: &Object,
        cluster: Arc<Object>,
        mut machines: Vec<Arc<Object>>,
        infra: BTreeMap<String, Arc<Object>>,
        configs: BTreeMap<String, Arc<Object>>,
        memo: Option<&uptodate::ConfigMatchMemo>,
        now: u64,
    ) -> ControlPlane {
        machines.sort_by(|a, b| a.name().cmp(b.name()));
        // The originals share the cache's copies; only the working copies are cloned.
        let originals = machines.iter().map(|m| (m.name().to_string(), Arc::clone(m))).collect();
        let machines: Vec<Object> = machines.iter().map(|m| (**m).clone()).collect();
        let mut outdated = BTreeMap::new();
        for m in &machines {
            let reasons = uptodate::reasons(kcp, m, infra.get(m.name()).map(|a| &**a), configs.get(m.name()).map(|a| &**a), memo, now);
            if !reasons.is_empty() {
                outdated.insert(m.name().to_string(), reasons);
            }
        }
        ControlPlane {
            kcp: kcp.clone(),
            cluster,
            machines,
            originals,
            infra,
            configs,
            outdated,
            etcd_members: None,
            etcd_leader: None,
            members_match: true,
            nodes: BTreeMap::new(),
            nodes_by_provider_id: BTreeMap::new(),
            node_list_error: None,
            preflight: PreflightResults::default(),
            template_not_found: false,
            deleting_reason: String::new(),
            deleting_message: String::new(),
            wrote: Vec::new(),
        }
    }

    /// Whether KCP manages a stacked etcd (no external etcd configured).
    pub fn etcd_managed(&self) -> bool {
        etcd_managed(&self.kcp)
    }

    /// One Machine.
    pub fn machine(&self, name: &str) -> Option<&Object> {
        self.machines.iter().find(|m| m.name() == name)
    }

    /// One Machine, mutable.
    pub fn machine_mut(&mut self, name: &str) -> Option<&mut Object> {
        self.machines.iter_mut().find(|m| m.name() == name)
    }

    /// All Machines as references.
    pub fn all(&self) -> Vec<&Object> {
        self.machines.iter().collect()
    }

    /// Machines being deleted.
    pub fn deleting(&self) -> Vec<&Object> {
        self.machines.iter().filter(|m| m.deleting()).collect()
    }

    /// Whether any Machine is being deleted.
    pub fn has_deleting(&self) -> bool {
        self.machines.iter().any(|m| m.deleting())
    }

    /// Whether a Machine is up to date.
    pub fn is_up_to_date(&self, name: &str) -> bool {
        !self.outdated.contains_key(name)
    }

    /// Up-to-date Machines.
    pub fn up_to_date(&self) -> Vec<&Object> {
        self.machines.iter().filter(|m| self.is_up_to_date(m.name())).collect()
    }

    /// Outdated Machines that are not being deleted (`MachinesNeedingRollout`).
    pub fn needing_rollout(&self) -> Vec<&Object> {
        self.machines.iter().filter(|m| !m.deleting() && !self.is_up_to_date(m.name())).collect()
    }

    /// Failure domains for control-plane Machines (`Cluster.status.failureDomains[].controlPlane`), name order.
    pub fn failure_domains(&self) -> Vec<String> {
        failure_domains(&self.cluster)
    }

    /// The component conditions checked on every Machine.
    pub fn component_conditions(&self) -> Vec<&'static str> {
        component_conditions(self.etcd_managed())
    }

    /// Machines MHC marked unhealthy (whoever remediates them).
    pub fn unhealthy(&self) -> Vec<&Object> {
        self.machines.iter().filter(|m| conditions::is_false(m, cond::HEALTH_CHECK_SUCCEEDED)).collect()
    }

    /// Machines KCP has to remediate.
    pub fn to_be_remediated(&self) -> Vec<&Object> {
        self.machines.iter().filter(|m| to_be_remediated(m)).collect()
    }

    /// A Machine not marked unhealthy that has no Node yet.
    pub fn has_healthy_machine_still_provisioning(&self) -> bool {
        self.machines.iter().any(|m| !conditions::is_false(m, cond::HEALTH_CHECK_SUCCEEDED) && !has_node(m))
    }

    /// `spec.replicas` (the webhook defaults it to 1).
    pub fn desired_replicas(&self) -> i64 {
        self.kcp.i64_at("/spec/replicas").unwrap_or(1)
    }

    /// `status.initialization.controlPlaneInitialized`.
    pub fn initialized(&self) -> bool {
        self.kcp.bool_at("/status/initialization/controlPlaneInitialized")
    }

    /// `spec.version`.
    pub fn version(&self) -> &str {
        self.kcp.str_at("/spec/version").unwrap_or("")
    }

    /// `tryGetEtcdMemberName`: the etcd member of a Machine is named like its Node: `status.nodeRef`,
    /// else the workload cluster's Node with the Machine's (or its infrastructure machine's) providerID
    /// ("" when there is none, or the workload cluster could not be read).
    /// Source: `reconcilers/kubeadmcontrolplane/remediation.go` (`tryGetEtcdMemberName`).
    pub fn etcd_member_name(&self, m: &Object) -> String {
        if let Some(n) = node_name(m) {
            return n.to_string();
        }
        let pid = Some(provider_id(m))
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .or_else(|| self.infra.get(m.name()).and_then(|i| i.str_at("/spec/providerID")).filter(|p| !p.is_empty()).map(str::to_string));
        pid.and_then(|p| self.nodes_by_provider_id.get(&p).cloned()).unwrap_or_default()
    }

    /// The Cluster name.
    pub fn cluster_name(&self) -> &str {
        self.cluster.name()
    }
}

/// Whether a KCP manages a stacked etcd.
pub fn etcd_managed(kcp: &Object) -> bool {
    kcp.at("/spec/kubeadmConfigSpec/clusterConfiguration/etcd/external").is_none_or(|e| e.as_object().is_none_or(|m| m.is_empty()))
}

/// The component conditions KCP requires on every Machine.
pub fn component_conditions(etcd_managed: bool) -> Vec<&'static str> {
    let mut v = vec![cond::API_SERVER, cond::CONTROLLER_MANAGER, cond::SCHEDULER];
    if etcd_managed {
        v.push(cond::ETCD_POD);
        v.push(cond::ETCD_MEMBER);
    }
    v
}

/// Control-plane failure domains of a Cluster (name order; CAPI's order comes from a Go map).
pub fn failure_domains(cluster: &Object) -> Vec<String> {
    let mut v: Vec<String> = cluster
        .at("/status/failureDomains")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|fd| fd.get("controlPlane").and_then(Value::as_bool).unwrap_or(false))
        .filter_map(|fd| fd.get("name").and_then(Value::as_str).map(str::to_string))
        .collect();
    v.sort();
    v.dedup();
    v
}

/// `status.nodeRef.name`.
pub fn node_name(m: &Object) -> Option<&str> {
    m.str_at("/status/nodeRef/name").filter(|n| !n.is_empty())
}

/// Whether a Machine has a Node.
pub fn has_node(m: &Object) -> bool {
    node_name(m).is_some()
}

/// `spec.failureDomain` ("" when unset).
pub fn failure_domain(m: &Object) -> &str {
    m.str_at("/spec/failureDomain").unwrap_or("")
}

/// `spec.providerID` ("" when unset).
pub fn provider_id(m: &Object) -> &str {
    m.str_at("/spec/providerID").unwrap_or("")
}

/// Whether MHC marked a Machine unhealthy and left its remediation to the owner.
pub fn to_be_remediated(m: &Object) -> bool {
    conditions::is_false(m, cond::HEALTH_CHECK_SUCCEEDED) && conditions::is_false(m, cond::OWNER_REMEDIATED)
}

/// Creation time as Kubernetes serializes it (whole seconds).
pub fn created_s(m: &Object) -> u64 {
    m.meta.creation_ms / 1000
}

/// CAPI's "oldest first": creation timestamp (seconds), then name.
pub fn oldest_first(a: &Object, b: &Object) -> Ordering {
    created_s(a).cmp(&created_s(b)).then_with(|| a.name().cmp(b.name()))
}

/// Deletion order: oldest deletionTimestamp first, then name (Machines not deleting go last).
pub fn oldest_deletion_first(a: &Object, b: &Object) -> Ordering {
    match (a.meta.deletion_ms, b.meta.deletion_ms) {
        (Some(x), Some(y)) => (x / 1000).cmp(&(y / 1000)).then_with(|| a.name().cmp(b.name())),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => a.name().cmp(b.name()),
    }
}

/// Conditions of `current` (of the given types, or all) that differ from `original`: what CAPI's
/// patch helper writes. Its `NewPatch` (util/conditions/v1beta2/patch.go) compares conditions with
/// `reflect.DeepEqual`, so a condition whose `observedGeneration` moved is written although its status,
/// reason and message did not change.
pub fn changed_conditions(original: &Object, current: &Object, types: Option<&[&str]>) -> Vec<Cond> {
    conditions::list(current)
        .iter()
        .filter_map(|c| Some((c.get("type").and_then(serde_json::Value::as_str)?, c)))
        .filter(|(t, _)| types.is_none_or(|ts| ts.contains(t)))
        .filter(|(t, c)| {
            conditions::list(original).iter().find(|b| b.get("type").and_then(serde_json::Value::as_str) == Some(*t)) != Some(*c)
        })
        .filter_map(|(t, _)| {
            let now = conditions::get(current, t)?;
            Some(Cond::new(t, now.status, now.reason, now.message))
        })
        .collect()
}

/// Whether every listed condition is True on a Machine.
pub fn all_true(m: &Object, types: &[&str]) -> bool {
    types.iter().all(|t| conditions::is_true(m, t))
}

/// Whether a Machine carries an annotation key.
pub fn has_annotation(m: &Object, key: &str) -> bool {
    m.meta.annotations.contains_key(key)
}

/// Whether a Machine is marked for deletion by the user.
pub fn has_delete_annotation(m: &Object) -> bool {
    has_annotation(m, keys::DELETE_MACHINE)
}

/// A timestamp field as simulated ms.
pub fn time_at(o: &Object, pointer: &str) -> Option<u64> {
    o.str_at(pointer).and_then(parse_timestamp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::Kind;
    use serde_json::json;

    #[test]
    fn failure_domains_keep_only_control_plane_ones_in_name_order() {
        let mut c = Object::new(Kind::Cluster, "default", "c");
        c.set(
            "/status/failureDomains",
            json!([{"name": "fd3", "controlPlane": true}, {"name": "fd1", "controlPlane": true}, {"name": "w", "controlPlane": false}]),
        );
        assert_eq!(failure_domains(&c), vec!["fd1".to_string(), "fd3".to_string()]);
    }

    #[test]
    fn external_etcd_is_not_managed() {
        let mut kcp = Object::new(Kind::KubeadmControlPlane, "default", "k");
        assert!(etcd_managed(&kcp));
        kcp.set("/spec/kubeadmConfigSpec/clusterConfiguration/etcd/external", json!({"endpoints": ["https://e:2379"]}));
        assert!(!etcd_managed(&kcp));
        assert_eq!(component_conditions(false).len(), 3);
        assert_eq!(component_conditions(true).len(), 5);
    }

    /// As CAPI's v1beta2 `NewPatch` (reflect.DeepEqual): a condition set again after the object's
    /// generation moved carries the new observedGeneration and is written, although its status, reason
    /// and message are the same; conditions set again unchanged are not, nor are types not asked for.
    #[test]
    fn changed_conditions_include_a_moved_observed_generation() {
        let mut original = Object::new(Kind::Machine, "default", "m");
        original.meta.generation = 1;
        conditions::set(&mut original, [Cond::t("EtcdMemberHealthy", "Healthy"), Cond::t("APIServerPodHealthy", "Running")], 0);
        let mut same = original.clone();
        conditions::set(&mut same, [Cond::t("EtcdMemberHealthy", "Healthy")], 5);
        assert!(changed_conditions(&original, &same, None).is_empty());
        let mut moved = original.clone();
        moved.meta.generation = 2;
        conditions::set(&mut moved, [Cond::t("EtcdMemberHealthy", "Healthy")], 5);
        let changed: Vec<String> = changed_conditions(&original, &moved, None).into_iter().map(|c| c.type_).collect();
        assert_eq!(changed, vec!["EtcdMemberHealthy".to_string()]);
        assert!(changed_conditions(&original, &moved, Some(&["APIServerPodHealthy"])).is_empty());
    }
}

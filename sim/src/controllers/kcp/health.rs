//! The conditions KCP derives from the workload cluster: on each Machine `UpToDate`,
//! `NodeKubeadmLabelsAndTaintsSet`, the static-pod conditions (`APIServerPodHealthy`,
//! `ControllerManagerPodHealthy`, `SchedulerPodHealthy`, `EtcdPodHealthy`) and `EtcdMemberHealthy`; on
//! the KCP their roll-ups `ControlPlaneComponentsHealthy` and `EtcdClusterHealthy`. Also records the
//! etcd member list, leader and whether members match Machines, for the later phases.
//! Sources: `controlplane/kubeadm/reconcilers/kubeadmcontrolplane/kubeadmcontrolplane_controller.go`
//! (`reconcileControlPlaneAndMachinesConditions`, `reconcileMachineUpToDateCondition`, `setConditionsToUnknown`),
//! `controlplane/kubeadm/pkg/workload_cluster_conditions.go`.
//!
//! etcd is read the way `getCurrentEtcdMembersAndAlarms` reads it: a client for the first Node (last
//! known healthy first) whose etcd pod answers, the member list through it (linearizable: it needs
//! quorum), the leader its `Status` names. A member etcd lists without alarms is `EtcdMemberHealthy`,
//! whether or not its own pod answers, exactly as upstream: a lost or stopped member shows in
//! `EtcdPodHealthy` and the Node's conditions.
//!
//! Simplifications: the ClusterCache health-probe bookkeeping is read from the Cluster's
//! `RemoteConnectionProbe` condition (its last transition to False stands for the last successful
//! probe); etcd alarms and learners do not exist in the simulated etcd; the client errors are the
//! ones etcd gives for the modelled failures (`context deadline exceeded`), the same for every Node.

use super::aggregate;
use super::scope::{self, cond, has_node, node_name, provider_id, ControlPlane};
use super::workload::{NodeView, WorkloadView};
use crate::controllers::conditions::{self, Cond, Status};
use crate::object::{timestamp, Object};
use crate::world::workload::Status as NodeStatus;
use crate::world::PodStatus;

/// `--remote-conditions-grace-period` default.
pub const REMOTE_CONDITIONS_GRACE_MS: u64 = 5 * 60 * 1000;

/// Set the Machines' `UpToDate` condition from the outdated set (and the kubelet version).
pub fn reconcile_up_to_date(cp: &mut ControlPlane, now: u64) {
    let outdated = cp.outdated.clone();
    for m in cp.machines.iter_mut() {
        let c = if let Some(reasons) = outdated.get(m.name()) {
            let msg = reasons.iter().map(|r| format!("* {r}")).collect::<Vec<_>>().join("\n");
            Cond::f(cond::UP_TO_DATE, "NotUpToDate", msg)
        } else {
            let kubelet = m.str_at("/status/nodeInfo/kubeletVersion").unwrap_or("").to_string();
            let version = m.str_at("/spec/version").unwrap_or("").to_string();
            if !kubelet.is_empty() && kubelet != version {
                Cond::f(cond::UP_TO_DATE, "Updating", format!("* Node.status.nodeInfo.kubeletVersion {kubelet}, {version} required"))
            } else {
                Cond::t(cond::UP_TO_DATE, "UpToDate")
            }
        };
        conditions::set(m, [c], now);
    }
}

/// Set every health condition to Unknown with the given reasons (only those not yet set on the KCP
/// unless `overwrite`).
pub fn set_unknown(cp: &mut ControlPlane, overwrite: bool, kcp_reason: &str, machine_reason: &str, message: &str, now: u64) {
    let etcd_set = conditions::get(&cp.kcp, cond::ETCD_CLUSTER_HEALTHY).is_some();
    let comp_set = conditions::get(&cp.kcp, cond::COMPONENTS_HEALTHY).is_some();
    let managed = cp.etcd_managed();
    if overwrite || !etcd_set {
        conditions::set(&mut cp.kcp, [Cond::u(cond::ETCD_CLUSTER_HEALTHY, kcp_reason, message)], now);
        if managed {
            for m in cp.machines.iter_mut() {
                conditions::set(m, [Cond::u(cond::ETCD_MEMBER, machine_reason, message)], now);
            }
        }
    }
    if overwrite || !comp_set {
        conditions::set(&mut cp.kcp, [Cond::u(cond::COMPONENTS_HEALTHY, kcp_reason, message)], now);
        let mut types = vec![cond::NODE_LABELS, cond::API_SERVER, cond::CONTROLLER_MANAGER, cond::SCHEDULER];
        if managed {
            types.push(cond::ETCD_POD);
        }
        for m in cp.machines.iter_mut() {
            conditions::set(m, types.iter().map(|t| Cond::u(t, machine_reason, message)), now);
        }
    }
}

/// `reconcileControlPlaneAndMachinesConditions`: `view` is the workload read (when it was possible
/// to try); an error return means the workload cluster could not be inspected.
pub fn reconcile(cp: &mut ControlPlane, view: Result<&WorkloadView, &str>, now: u64) -> Result<(), String> {
    reconcile_up_to_date(cp, now);
    let initialized_cond = conditions::get(&cp.kcp, cond::INITIALIZED).filter(|c| c.status == Status::True).map(|c| c.since_ms());
    let Some(initialized_since) = initialized_cond.filter(|_| cp.initialized()) else {
        set_unknown(cp, true, "InspectionFailed", "InspectionFailed", "Waiting for Cluster control plane to be initialized", now);
        return Ok(());
    };
    let view = match view {
        Ok(v) => v,
        Err(e) => {
            let probe = conditions::get(&cp.cluster, "RemoteConnectionProbe").filter(|c| c.status == Status::False).map(|c| c.since_ms());
            let last_success = probe.unwrap_or(now);
            let message = probe.map(|t| format!("Last successful probe at {}", timestamp(t))).unwrap_or_default();
            let overwrite = now.saturating_sub(last_success.max(initialized_since)) > REMOTE_CONDITIONS_GRACE_MS;
            set_unknown(cp, overwrite, "ConnectionDown", "ConnectionDown", &message, now);
            cp.node_list_error = Some(e.to_string());
            return Err(format!("cannot get client for the workload cluster: {e}"));
        }
    };
    cp.nodes_by_provider_id = view.nodes.values().filter_map(|n| Some((n.provider_id.clone()?, n.name.clone()))).collect();
    update_static_pod_conditions(cp, view, now);
    if cp.etcd_managed() {
        update_etcd_conditions(cp, view, now);
    }
    Ok(())
}

fn waiting_message(m: &Object) -> String {
    let pid = provider_id(m);
    if !pid.is_empty() {
        format!("Waiting for a Node with spec.providerID {pid} to exist")
    } else {
        format!("Waiting for {} to report spec.providerID", m.str_at("/spec/infrastructureRef/kind").unwrap_or(""))
    }
}

fn pod_condition(t: &str, node: &NodeView, status: Option<PodStatus>) -> Cond {
    if node.ready == NodeStatus::Unknown {
        return Cond::u(t, "InspectionFailed", "Node Ready condition is Unknown, Pod data might be stale");
    }
    match status {
        Some(PodStatus::Running) => Cond::t(t, "Running"),
        Some(PodStatus::Provisioning) => Cond::f(t, "Provisioning", ""),
        Some(PodStatus::Failed) => Cond::f(t, "Failed", "All the containers have been terminated"),
        // A running pod whose container waits after exiting non-zero: the waiting reasons.
        Some(PodStatus::CrashLoopBackOff) => Cond::f(t, "Failed", "CrashLoopBackOff"),
        Some(PodStatus::DoesNotExist) => Cond::f(t, "DoesNotExist", "Pod does not exist"),
        None => Cond::u(t, "InspectionFailed", "Please check controller logs for errors"),
    }
}

fn node_condition(cp: &ControlPlane, m: &Object, node: &NodeView) -> Cond {
    let node_name = node_name(m).unwrap_or("");
    let mut msg = String::new();
    if !node.control_plane_label {
        msg = format!("Node {node_name} does not have the {} label", scope::CONTROL_PLANE_NODE_LABEL);
    }
    if should_have_default_taint(cp, m) && !node.control_plane_taint {
        if msg.is_empty() {
            msg = format!("Node {node_name} does not have the {}:NoSchedule taint", scope::CONTROL_PLANE_NODE_LABEL);
        } else {
            msg.push_str(&format!(" and the {}:NoSchedule taint", scope::CONTROL_PLANE_NODE_LABEL));
        }
    }
    if msg.is_empty() {
        Cond::t(cond::NODE_LABELS, "Set")
    } else {
        Cond::f(cond::NODE_LABELS, "NotSet", msg)
    }
}

/// `DefaultTaintIsMissing`'s first half: kubeadm adds the control-plane taint unless the config lists taints without it.
fn should_have_default_taint(cp: &ControlPlane, m: &Object) -> bool {
    let has = |v: &serde_json::Value| {
        v.as_array().is_some_and(|a| {
            a.iter().any(|t| {
                t.get("key").and_then(serde_json::Value::as_str) == Some(scope::CONTROL_PLANE_NODE_LABEL)
                    && t.get("effect").and_then(serde_json::Value::as_str) == Some("NoSchedule")
            })
        })
    };
    if m.at("/spec/taints").is_some_and(has) {
        return true;
    }
    let Some(cfg) = cp.configs.get(m.name()) else { return false };
    let join = cfg.at("/spec/joinConfiguration/controlPlane").is_some_and(|c| !c.is_null());
    let taints = if join {
        cfg.at("/spec/joinConfiguration/nodeRegistration/taints")
    } else {
        cfg.at("/spec/initConfiguration/nodeRegistration/taints")
    };
    match taints {
        None | Some(serde_json::Value::Null) => true,
        Some(t) => has(t),
    }
}

/// `UpdateStaticPodConditions`.
fn update_static_pod_conditions(cp: &mut ControlPlane, view: &WorkloadView, now: u64) {
    let managed = cp.etcd_managed();
    let mut pod_types = vec![cond::API_SERVER, cond::CONTROLLER_MANAGER, cond::SCHEDULER];
    if managed {
        pod_types.push(cond::ETCD_POD);
    }
    let mut has_provisioning = false;
    let mut updates: Vec<(String, Vec<Cond>)> = Vec::new();
    for m in &cp.machines {
        let node = node_name(m).and_then(|n| view.nodes.get(n));
        if let Some(n) = node {
            cp.nodes.insert(n.name.clone(), n.created_ms);
        }
        let mut conds = Vec::new();
        if m.deleting() {
            conds.push(match node {
                Some(n) => node_condition(cp, m, n),
                None => Cond::f(cond::NODE_LABELS, "Deleting", "Machine is deleting"),
            });
            conds.extend(pod_types.iter().map(|t| Cond::f(t, "Deleting", "Machine is deleting")));
        } else if !has_node(m) {
            has_provisioning = true;
            let msg = waiting_message(m);
            conds.push(Cond::u(cond::NODE_LABELS, "InspectionFailed", msg.clone()));
            conds.extend(pod_types.iter().map(|t| Cond::u(t, "InspectionFailed", msg.clone())));
        } else if let Some(n) = node {
            if n.unreachable {
                let msg = format!("Node {} is unreachable", n.name);
                conds.push(Cond::u(cond::NODE_LABELS, "InspectionFailed", msg.clone()));
                conds.extend(pod_types.iter().map(|t| Cond::u(t, "InspectionFailed", msg.clone())));
            } else {
                let pods = n.pods;
                conds.push(pod_condition(cond::API_SERVER, n, pods.map(|p| p.api_server)));
                conds.push(pod_condition(cond::CONTROLLER_MANAGER, n, pods.map(|p| p.controller_manager)));
                conds.push(pod_condition(cond::SCHEDULER, n, pods.map(|p| p.scheduler)));
                if managed {
                    conds.push(pod_condition(cond::ETCD_POD, n, pods.map(|p| p.etcd)));
                }
                conds.push(node_condition(cp, m, n));
            }
        } else {
            let msg = format!("Node {} does not exist", node_name(m).unwrap_or(""));
            conds.push(Cond::u(cond::NODE_LABELS, "InspectionFailed", msg.clone()));
            conds.extend(pod_types.iter().map(|t| Cond::u(t, "InspectionFailed", msg.clone())));
        }
        updates.push((m.name().to_string(), conds));
    }
    for (name, conds) in updates {
        if let Some(m) = cp.machine_mut(&name) {
            conditions::set(m, conds, now);
        }
    }
    let mut kcp_errors = Vec::new();
    if !has_provisioning {
        for n in view.nodes.values().filter(|n| n.control_plane_label) {
            if !cp.machines.iter().any(|m| node_name(m) == Some(n.name.as_str())) {
                kcp_errors.push(format!("Control plane Node {} does not have a corresponding Machine", n.name));
            }
        }
    }
    let c = aggregate::roll_up(
        &cp.all(),
        &pod_types,
        &kcp_errors,
        cond::COMPONENTS_HEALTHY,
        ("Healthy", "NotHealthy", "HealthUnknown"),
        "control plane",
    );
    conditions::set(&mut cp.kcp, [c], now);
}

/// The error `EtcdClientGenerator.forFirstAvailableNode` wraps for an etcd pod that does not answer:
/// `NewClient`'s first call (`Status` on the member) runs into the call timeout. KCP's message keeps
/// the innermost error (`unwrapAll`), the aggregate of one such error per Node, which Kubernetes'
/// aggregate prints once when they are all the same.
pub const ETCD_STATUS_TIMEOUT: &str = "failed to get etcd status: context deadline exceeded";
/// `MemberList` is linearizable: without quorum it runs into the call timeout.
pub const ETCD_MEMBERS_TIMEOUT: &str = "context deadline exceeded";

/// `getNodeNamesSortedByLastKnownEtcdHealth`: the Nodes of the given Machines, those whose Machine
/// last reported `EtcdMemberHealthy` True first. (Upstream takes the rest in a Go map's order; here in
/// name order.)
pub fn nodes_by_last_known_etcd_health(cp: &ControlPlane, machines: &[&str], view: &WorkloadView) -> Vec<String> {
    let mut out: Vec<(bool, String)> = cp
        .machines
        .iter()
        .filter(|m| machines.contains(&m.name()))
        .filter_map(|m| {
            let n = node_name(m)?;
            view.nodes.contains_key(n).then(|| (!conditions::is_true(m, cond::ETCD_MEMBER), n.to_string()))
        })
        .collect();
    out.sort();
    out.into_iter().map(|(_, n)| n).collect()
}

/// What `getCurrentEtcdMembersAndAlarms` gets from the workload cluster's etcd: a client for the
/// first Node whose etcd pod answers, then the member list (needs quorum) and the leader its
/// `Status` names. `Err((message, set))`: the Machines' `EtcdMemberHealthy` becomes Unknown with the
/// message when `set` (a failed leader lookup sets nothing).
pub fn read_etcd(view: &WorkloadView, nodes: &[String]) -> Result<(Vec<String>, String), (String, bool)> {
    if !nodes.iter().any(|n| view.etcd.get(n).copied().unwrap_or(false)) {
        // `could not establish a connection to etcd members hosted on ...` wraps the aggregate;
        // the condition shows the aggregate.
        return Err((format!("Failed to connect to etcd: {ETCD_STATUS_TIMEOUT}"), true));
    }
    if !view.etcd_quorum {
        return Err((format!("Failed to get etcd members: {ETCD_MEMBERS_TIMEOUT}"), true));
    }
    let Some(leader) = view.leader.clone() else { return Err(("failed to get etcd leader".into(), false)) };
    Ok((view.etcd.keys().cloned().collect(), leader))
}

/// `updateManagedEtcdConditions`. A member etcd lists, that is no learner and reports no alarm, is
/// healthy as far as `EtcdMemberHealthy` goes (as upstream: a member whose pod is down shows in
/// `EtcdPodHealthy` and in the Node's conditions, not here); the simulated etcd has neither learners
/// nor alarms.
fn update_etcd_conditions(cp: &mut ControlPlane, view: &WorkloadView, now: u64) {
    let mut updates: Vec<(String, Cond)> = Vec::new();
    for m in &cp.machines {
        if !has_node(m) {
            updates.push((m.name().to_string(), Cond::u(cond::ETCD_MEMBER, "InspectionFailed", waiting_message(m))));
        }
    }
    for m in &cp.machines {
        if m.deleting() {
            updates.push((m.name().to_string(), Cond::f(cond::ETCD_MEMBER, "Deleting", "Machine is deleting")));
        }
    }
    let active: Vec<String> = cp.machines.iter().filter(|m| has_node(m) && !m.deleting()).map(|m| m.name().to_string()).collect();
    let active_refs: Vec<&str> = active.iter().map(String::as_str).collect();
    let nodes = nodes_by_last_known_etcd_health(cp, &active_refs, view);
    let mut members: Option<Vec<String>> = None;
    let mut leader = None;
    if !nodes.is_empty() {
        match read_etcd(view, &nodes) {
            Err((msg, set)) => {
                if set {
                    for name in &active {
                        updates.push((name.clone(), Cond::u(cond::ETCD_MEMBER, "InspectionFailed", msg.clone())));
                    }
                }
            }
            Ok((list, l)) => {
                for name in &active {
                    let m = cp.machine(name).expect("active Machine");
                    let n = node_name(m).unwrap_or("");
                    let c = if list.iter().any(|x| x == n) {
                        Cond::t(cond::ETCD_MEMBER, "Healthy")
                    } else {
                        // `etcdutil.MemberNames` printed with %s: `[a b c]`.
                        Cond::f(
                            cond::ETCD_MEMBER,
                            "NotHealthy",
                            format!(
                                "Etcd reports the cluster is composed by [{}], but the etcd member hosted on Machine {name} ({n}) is not included",
                                list.join(" "),
                            ),
                        )
                    };
                    updates.push((name.clone(), c));
                }
                members = Some(list);
                leader = Some(l);
            }
        }
    }
    for (name, c) in updates {
        if let Some(m) = cp.machine_mut(&name) {
            conditions::set(m, [c], now);
        }
    }
    cp.etcd_members = members;
    cp.etcd_leader = leader;
    let (matching, kcp_errors, extra) = compare_machines_and_members(cp, now);
    for (name, c) in extra {
        if let Some(m) = cp.machine_mut(&name) {
            conditions::set(m, [c], now);
        }
    }
    cp.members_match = matching;
    let c = aggregate::roll_up(
        &cp.all(),
        &[cond::ETCD_MEMBER],
        &kcp_errors,
        cond::ETCD_CLUSTER_HEALTHY,
        ("Healthy", "NotHealthy", "HealthUnknown"),
        "etcd member",
    );
    conditions::set(&mut cp.kcp, [c], now);
}

/// `compareMachinesAndMembers`: whether the member list matches the Machines, KCP-level errors, and
/// Machine conditions to set for Machines without a member.
fn compare_machines_and_members(cp: &ControlPlane, now: u64) -> (bool, Vec<String>, Vec<(String, Cond)>) {
    let mut matching = true;
    let mut errors = Vec::new();
    let mut extra = Vec::new();
    let Some(members) = &cp.etcd_members else {
        if cp.machines.iter().any(has_node) {
            matching = false;
        }
        return (matching, errors, extra);
    };
    for m in cp.machines.iter().filter(|m| has_node(m)) {
        let n = node_name(m).unwrap_or("");
        if !members.iter().any(|x| x == n) {
            extra.push((
                m.name().to_string(),
                Cond::f(cond::ETCD_MEMBER, "NotHealthy", format!("Etcd doesn't have an etcd member for Node {n}")),
            ));
            if !m.deleting() && cp.nodes.get(n).is_some_and(|created| now.saturating_sub(*created) > 120_000) {
                matching = false;
            }
        }
    }
    let has_provisioning = cp.machines.iter().any(|m| !has_node(m));
    for member in members {
        if !cp.machines.iter().any(|m| node_name(m) == Some(member.as_str())) {
            errors.push(format!("Etcd member {member} does not have a corresponding Machine"));
            if !has_provisioning {
                matching = false;
            }
        }
    }
    (matching, errors, extra)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::Kind;
    use crate::world::StaticPods;
    use serde_json::json;
    use std::collections::BTreeMap;
    use std::sync::Arc;

    fn machine(name: &str, node: bool) -> Object {
        let mut m = Object::new(Kind::Machine, "default", name);
        m.set("/spec/version", json!("v1.30.0"));
        m.set("/spec/providerID", json!(format!("docker:////{name}")));
        if node {
            m.set("/status/nodeRef/name", json!(name));
        }
        m
    }

    fn scope(machines: Vec<Object>) -> ControlPlane {
        let mut kcp = Object::new(Kind::KubeadmControlPlane, "default", "cp");
        kcp.set("/spec/version", json!("v1.30.0"));
        kcp.set("/status/initialization/controlPlaneInitialized", json!(true));
        conditions::set(&mut kcp, [Cond::t(cond::INITIALIZED, "Initialized")], 0);
        let cluster = Arc::new(Object::new(Kind::Cluster, "default", "c"));
        ControlPlane::new(&kcp, cluster, machines.into_iter().map(Arc::new).collect(), BTreeMap::new(), BTreeMap::new(), None, 0)
    }

    fn node(name: &str, pods: PodStatus) -> NodeView {
        NodeView {
            name: name.into(),
            control_plane_label: true,
            control_plane_taint: true,
            unreachable: false,
            ready: NodeStatus::False,
            created_ms: 0,
            pods: Some(StaticPods { api_server: pods, controller_manager: pods, scheduler: pods, etcd: pods }),
            provider_id: None,
        }
    }

    fn view(nodes: Vec<NodeView>, etcd: &[&str]) -> WorkloadView {
        WorkloadView {
            initialized: true,
            nodes: nodes.into_iter().map(|n| (n.name.clone(), n)).collect(),
            etcd: etcd.iter().map(|n| (n.to_string(), true)).collect(),
            etcd_quorum: !etcd.is_empty(),
            leader: etcd.first().map(|s| s.to_string()),
            version: "v1.30.0".into(),
        }
    }

    #[test]
    fn running_pods_and_listed_members_are_healthy_without_node_ready() {
        let mut cp = scope(vec![machine("m1", true), machine("m2", false)]);
        reconcile(&mut cp, Ok(&view(vec![node("m1", PodStatus::Running)], &["m1"])), 1000).unwrap();
        let m1 = cp.machine("m1").unwrap();
        for t in [cond::API_SERVER, cond::ETCD_POD, cond::ETCD_MEMBER, cond::NODE_LABELS] {
            assert!(conditions::is_true(m1, t), "{t}");
        }
        let m2 = cp.machine("m2").unwrap();
        assert_eq!(conditions::get(m2, cond::API_SERVER).unwrap().reason, "InspectionFailed");
        // m2 has a providerID, so its Unknown counts.
        assert_eq!(conditions::get(&cp.kcp, cond::COMPONENTS_HEALTHY).unwrap().status, Status::Unknown);
        assert_eq!(cp.etcd_members, Some(vec!["m1".to_string()]));
        assert_eq!(cp.etcd_leader.as_deref(), Some("m1"));
    }

    #[test]
    fn missing_pod_makes_components_unhealthy() {
        let mut cp = scope(vec![machine("m1", true)]);
        reconcile(&mut cp, Ok(&view(vec![node("m1", PodStatus::DoesNotExist)], &["m1"])), 1000).unwrap();
        let c = conditions::get(&cp.kcp, cond::COMPONENTS_HEALTHY).unwrap();
        assert_eq!((c.status, c.reason), (Status::False, "NotHealthy"));
        assert_eq!(c.message, "* Machine m1:\n  * Control plane components: Pod does not exist");
    }

    #[test]
    fn unreachable_cluster_is_an_error_and_conditions_go_connection_down_when_unset() {
        let mut cp = scope(vec![machine("m1", true)]);
        let err = reconcile(&mut cp, Err("i/o timeout"), 1000).unwrap_err();
        assert!(err.contains("i/o timeout"));
        assert_eq!(conditions::get(&cp.kcp, cond::ETCD_CLUSTER_HEALTHY).unwrap().reason, "ConnectionDown");
    }

    #[test]
    fn not_initialized_means_inspection_failed() {
        let mut cp = scope(vec![machine("m1", false)]);
        cp.kcp.set("/status/initialization/controlPlaneInitialized", json!(false));
        reconcile(&mut cp, Err("not used"), 1000).unwrap();
        let c = conditions::get(&cp.kcp, cond::COMPONENTS_HEALTHY).unwrap();
        assert_eq!(
            (c.status, c.reason, c.message),
            (Status::Unknown, "InspectionFailed", "Waiting for Cluster control plane to be initialized")
        );
    }

    #[test]
    fn outdated_machine_is_not_up_to_date() {
        let mut m = machine("m1", true);
        m.set("/spec/version", json!("v1.29.0"));
        let mut cp = scope(vec![m]);
        reconcile_up_to_date(&mut cp, 0);
        let c = conditions::get(cp.machine("m1").unwrap(), cond::UP_TO_DATE).unwrap();
        assert_eq!((c.status, c.reason, c.message), (Status::False, "NotUpToDate", "* Version v1.29.0, v1.30.0 required"));
    }
}

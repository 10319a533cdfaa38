//! The KCP status computed at the end of every reconcile: selector, `versions` (and the deprecated
//! minimum `version`), `initialization.controlPlaneInitialized` (sticky, from the workload cluster's
//! kubeadm-config), replica counters from the Machines' `Ready`/`Available`/`UpToDate` conditions,
//! `lastRemediation`, and the conditions `Initialized`, `RollingOut`, `ScalingUp`, `ScalingDown`,
//! `MachinesReady`, `MachinesUpToDate`, `Remediating`, `Deleting` and `Available` (which does not
//! need Node `Ready`: static pods run before a CNI exists).
//! Source: `controlplane/kubeadm/reconcilers/kubeadmcontrolplane/status.go`, `internal/util/version/version.go`.

use super::aggregate;
use super::remediation;
use super::scope::{self, cond, has_node, node_name, provider_id, ControlPlane, PreflightResults, UPGRADE_STEP};
use crate::controllers::common::keys;
use crate::controllers::conditions::{self, Cond, Status};
use crate::object::Object;
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// `status.selector` for a cluster's control-plane Machines.
pub fn selector(cluster: &str) -> String {
    format!("{}={cluster},{}", keys::CLUSTER_NAME, keys::CONTROL_PLANE)
}

/// `VersionsFromMachines`: kubelet version when known, else spec version; ascending semver.
pub fn versions(machines: &[&Object]) -> Vec<(String, i64)> {
    let mut sorted: Vec<&Object> = machines.to_vec();
    sorted.sort_by(|a, b| scope::oldest_first(a, b));
    let mut out: Vec<(String, i64)> = Vec::new();
    for m in sorted {
        let v = m.str_at("/status/nodeInfo/kubeletVersion").filter(|v| !v.is_empty()).or_else(|| m.str_at("/spec/version")).unwrap_or("");
        if v.is_empty() {
            continue;
        }
        match out.iter_mut().find(|(x, _)| x == v) {
            Some(e) => e.1 += 1,
            None => out.push((v.to_string(), 1)),
        }
    }
    out.sort_by(|a, b| match (crate::controllers::common::parse_version(&a.0), crate::controllers::common::parse_version(&b.0)) {
        (Some(x), Some(y)) => x.cmp_precedence(&y).then_with(|| a.0.cmp(&b.0)),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.0.cmp(&b.0),
    });
    out
}

/// Whether the workload cluster must be asked about initialization (`setControlPlaneInitialized`
/// skips a lone Machine that is deleting or being remediated).
pub fn needs_init_probe(cp: &ControlPlane) -> bool {
    if cp.initialized() {
        return false;
    }
    if cp.machines.len() == 1 {
        let m = &cp.machines[0];
        if scope::to_be_remediated(m) || m.deleting() {
            return false;
        }
    }
    true
}

/// Compute the status into `cp.kcp` (`workload_initialized` = the kubeadm-config exists, when probed).
pub fn update(cp: &mut ControlPlane, workload_initialized: Option<bool>, now: u64) {
    let all: Vec<&Object> = cp.machines.iter().collect();
    let vs = versions(&all);
    let deleting = cp.kcp.deleting();
    let sel = selector(cp.cluster_name());
    let (mut ready, mut available, mut up_to_date) = (0, 0, 0);
    for m in &cp.machines {
        ready += i64::from(conditions::is_true(m, cond::READY));
        available += i64::from(conditions::is_true(m, "Available"));
        up_to_date += i64::from(conditions::is_true(m, cond::UP_TO_DATE));
    }
    let replicas = cp.machines.len() as i64;
    let last = remediation::last_remediation(cp);
    // Field by field, check-before-write: an unchanged status keeps sharing the cached body.
    let k = &mut cp.kcp;
    k.set("/status/selector", json!(sel));
    if vs.is_empty() {
        k.remove("/status/versions");
    } else {
        k.set("/status/versions", Value::Array(vs.iter().map(|(v, n)| json!({"version": v, "replicas": n})).collect()));
        k.set("/status/version", json!(vs[0].0));
    }
    k.set("/status/replicas", json!(replicas));
    k.set("/status/readyReplicas", json!(ready));
    k.set("/status/availableReplicas", json!(available));
    k.set("/status/upToDateReplicas", json!(up_to_date));
    if let Some(d) = &last {
        k.set("/status/lastRemediation", d.to_status());
    }
    if workload_initialized == Some(true) && !cp.initialized() {
        cp.kcp.set("/status/initialization/controlPlaneInitialized", json!(true));
    }
    let initialized = cp.initialized();
    let mut conds =
        vec![if initialized { Cond::t(cond::INITIALIZED, "Initialized") } else { Cond::f(cond::INITIALIZED, "NotInitialized", "") }];
    conds.push(rolling_out(&all));
    let desired = cp.kcp.i64_at("/spec/replicas").map(|r| if deleting { 0 } else { r });
    conds.push(scaling_up(cp, desired));
    conds.push(scaling_down(cp, desired, now));
    conds.push(if all.is_empty() {
        Cond::t(cond::MACHINES_READY, "NoReplicas")
    } else {
        aggregate::aggregate(&all, cond::READY, cond::MACHINES_READY, ("NotReady", "ReadyUnknown", "Ready"))
    });
    let considered: Vec<&Object> = all
        .iter()
        .copied()
        .filter(|m| conditions::get(m, cond::UP_TO_DATE).is_some() || now.saturating_sub(m.meta.creation_ms) > 10_000)
        .collect();
    conds.push(if considered.is_empty() {
        Cond::t(cond::MACHINES_UP_TO_DATE, "NoReplicas")
    } else {
        aggregate::aggregate(&considered, cond::UP_TO_DATE, cond::MACHINES_UP_TO_DATE, ("NotUpToDate", "UpToDateUnknown", "UpToDate"))
    });
    conds.push(remediating(cp));
    conds.push(if deleting {
        Cond::new(cond::DELETING, Status::True, &cp.deleting_reason, cp.deleting_message.clone())
    } else {
        Cond::f(cond::DELETING, "NotDeleting", "")
    });
    conditions::set(&mut cp.kcp, conds, now);
    // Available reads Initialized's transition time, so it goes after the others.
    let a = available_condition(cp, now);
    conditions::set(&mut cp.kcp, [a], now);
}

fn rolling_out(machines: &[&Object]) -> Cond {
    let mut n = 0;
    let mut reasons = BTreeSet::new();
    for m in machines {
        let Some(c) = conditions::get(m, cond::UP_TO_DATE).filter(|c| c.status == Status::False) else { continue };
        n += 1;
        if !c.message.is_empty() {
            reasons.extend(c.message.split('\n').map(str::to_string));
        }
    }
    if n == 0 {
        return Cond::f(cond::ROLLING_OUT, "NotRollingOut", "");
    }
    let mut reasons: Vec<String> = reasons.into_iter().collect();
    reasons.sort_by(|a, b| (!a.starts_with("* Version")).cmp(&!b.starts_with("* Version")).then_with(|| a.cmp(b)));
    let mut msg = format!("Rolling out {n} not up-to-date replicas");
    if !reasons.is_empty() {
        msg.push('\n');
        msg.push_str(&reasons.join("\n"));
    }
    Cond::new(cond::ROLLING_OUT, Status::True, "RollingOut", msg)
}

/// `getPreflightMessages`.
fn preflight_messages(cluster: &Object, p: PreflightResults) -> Vec<String> {
    let mut v = Vec::new();
    if p.topology_version_mismatch {
        let topo = cluster.str_at("/spec/topology/version").unwrap_or("");
        let target = cluster.annotation(UPGRADE_STEP).filter(|s| !s.is_empty()).unwrap_or(topo);
        v.push(format!("* waiting for a version upgrade to {target} to be propagated"));
    }
    if p.has_deleting_machine {
        v.push("* waiting for a control plane Machine to complete deletion".into());
    }
    if p.certificate_missing {
        v.push("* cluster certificates are missing or unknown".into());
    }
    if p.components_not_healthy {
        v.push("* waiting for control plane components to become healthy".into());
    }
    if p.etcd_not_healthy {
        v.push("* waiting for etcd cluster to become healthy".into());
    }
    v
}

fn scaling_up(cp: &ControlPlane, desired: Option<i64>) -> Cond {
    let Some(desired) = desired else {
        return Cond::u(cond::SCALING_UP, "WaitingForReplicasSet", "Waiting for spec.replicas set");
    };
    let current = cp.machines.len() as i64;
    let missing = if cp.template_not_found {
        format!("{} does not exist", cp.kcp.str_at("/spec/machineTemplate/spec/infrastructureRef/kind").unwrap_or(""))
    } else {
        String::new()
    };
    if current >= desired {
        let msg = if missing.is_empty() { String::new() } else { format!("Scaling up would be blocked because {missing}") };
        return Cond::f(cond::SCALING_UP, "NotScalingUp", msg);
    }
    let mut msg = format!("Scaling up from {current} to {desired} replicas");
    let mut extra = preflight_messages(&cp.cluster, cp.preflight);
    if !missing.is_empty() {
        extra.push(format!("* {missing}"));
    }
    if !extra.is_empty() {
        msg.push_str(&format!(" is blocked because:\n{}", extra.join("\n")));
    }
    Cond::new(cond::SCALING_UP, Status::True, "ScalingUp", msg)
}

fn scaling_down(cp: &ControlPlane, desired: Option<i64>, now: u64) -> Cond {
    let Some(desired) = desired else {
        return Cond::u(cond::SCALING_DOWN, "WaitingForReplicasSet", "Waiting for spec.replicas set");
    };
    let current = cp.machines.len() as i64;
    if current <= desired {
        return Cond::f(cond::SCALING_DOWN, "NotScalingDown", "");
    }
    let mut msg = format!("Scaling down from {current} to {desired} replicas");
    let mut extra = preflight_messages(&cp.cluster, cp.preflight);
    if let Some(s) = stale_machines(cp, now) {
        extra.push(format!("* {s}"));
    }
    if !extra.is_empty() {
        msg.push_str(&format!(" is blocked because:\n{}", extra.join("\n")));
    }
    Cond::new(cond::SCALING_DOWN, Status::True, "ScalingDown", msg)
}

/// `aggregateStaleMachines` (without the drain-delay reasons).
pub fn stale_machines(cp: &ControlPlane, now: u64) -> Option<String> {
    let mut names: Vec<&str> =
        cp.machines.iter().filter(|m| m.meta.deletion_ms.is_some_and(|d| now.saturating_sub(d) > 15 * 60_000)).map(|m| m.name()).collect();
    if names.is_empty() {
        return None;
    }
    names.sort();
    let list = if names.len() > 3 { format!("{}, ... ({} more)", names[..3].join(", "), names.len() - 3) } else { names.join(", ") };
    let (noun, verb) = if names.len() == 1 { ("Machine", "is") } else { ("Machines", "are") };
    Some(format!("{noun} {list} {verb} in deletion since more than 15m"))
}

fn remediating(cp: &ControlPlane) -> Cond {
    let to_remediate = cp.to_be_remediated();
    if to_remediate.is_empty() {
        let mut names: Vec<&str> = cp.unhealthy().iter().map(|m| m.name()).collect();
        names.sort();
        let msg = match names.len() {
            0 => String::new(),
            n => {
                let list = if n > 3 { format!("{}, ... ({} more)", names[..3].join(", "), n - 3) } else { names.join(", ") };
                let (noun, verb) = if n == 1 { ("Machine", "is") } else { ("Machines", "are") };
                format!("{noun} {list} {verb} not healthy (not to be remediated by KubeadmControlPlane)")
            }
        };
        return Cond::f(cond::REMEDIATING, "NotRemediating", msg);
    }
    let agg = aggregate::aggregate(
        &to_remediate,
        cond::OWNER_REMEDIATED,
        cond::REMEDIATING,
        ("IssuesReported", "UnknownReported", "InfoReported"),
    );
    Cond::new(cond::REMEDIATING, Status::True, "Remediating", agg.message)
}

/// `shouldSurfaceWhenAvailableTrue`: an issue counts only after it has lasted more than 10s.
fn surfaces(m: &Object, types: &[&str], now: u64) -> bool {
    types
        .iter()
        .filter_map(|t| conditions::get(m, t))
        .filter(|c| c.status != Status::True)
        .map(|c| c.since_ms())
        .min()
        .is_some_and(|t| now.saturating_sub(t) > 10_000)
}

/// `setAvailableCondition`.
pub fn available_condition(cp: &ControlPlane, now: u64) -> Cond {
    if !cp.initialized() {
        return Cond::f(cond::AVAILABLE, "NotAvailable", "Control plane not yet initialized");
    }
    let managed = cp.etcd_managed();
    if managed {
        if cp.etcd_members.is_none() {
            let recent = conditions::get(&cp.kcp, cond::INITIALIZED)
                .is_some_and(|c| c.status == Status::True && now.saturating_sub(c.since_ms()) < 120_000);
            return if recent {
                Cond::f(cond::AVAILABLE, "NotAvailable", "Waiting for etcd to report the list of members")
            } else {
                Cond::u(cond::AVAILABLE, "InspectionFailed", "Failed to get etcd members")
            };
        }
        if !cp.members_match {
            return Cond::f(cond::AVAILABLE, "NotAvailable", "The list of etcd members does not match the list of Machines and Nodes");
        }
    }
    let components = [cond::API_SERVER, cond::CONTROLLER_MANAGER, cond::SCHEDULER];
    let with_etcd = [cond::API_SERVER, cond::CONTROLLER_MANAGER, cond::SCHEDULER, cond::ETCD_MEMBER, cond::ETCD_POD];
    let types: &[&str] = if managed { &with_etcd } else { &components };
    let (mut k8s_healthy, mut k8s_bad, mut k8s_pending) = (0usize, 0usize, 0usize);
    for m in cp.machines.iter().filter(|m| !provider_id(m).is_empty()) {
        if scope::all_true(m, types) {
            k8s_healthy += 1;
        } else if surfaces(m, types, now) {
            k8s_bad += 1;
        } else {
            k8s_pending += 1;
        }
    }
    let members = cp.etcd_members.clone().unwrap_or_default();
    let (mut voting, mut etcd_healthy, mut etcd_bad, mut etcd_pending) = (0usize, 0usize, 0usize, 0usize);
    if managed {
        let mut provisioning: Vec<&Object> = cp.machines.iter().filter(|m| !has_node(m)).collect();
        for member in &members {
            voting += 1;
            let machine = cp.machines.iter().find(|m| node_name(m) == Some(member.as_str())).or_else(|| {
                if provisioning.len() == 1 {
                    provisioning.pop()
                } else {
                    None
                }
            });
            match machine {
                None => etcd_bad += 1,
                Some(m) if conditions::is_true(m, cond::ETCD_MEMBER) => etcd_healthy += 1,
                Some(m) if surfaces(m, &[cond::ETCD_MEMBER], now) => etcd_bad += 1,
                Some(_) => etcd_pending += 1,
            }
        }
    }
    let quorum = voting / 2 + 1;
    let certs = conditions::is_true(&cp.kcp, cond::CERTIFICATES_AVAILABLE);
    let deleting = cp.kcp.deleting();
    if !deleting && (!managed || etcd_healthy >= quorum) && k8s_healthy >= 1 && certs {
        let mut msgs = Vec::new();
        if managed && etcd_bad > 0 {
            let h = etcd_healthy + etcd_pending;
            msgs.push(if h == 1 {
                format!("* 1 of {} etcd members is healthy, at least {quorum} healthy member required for etcd quorum", members.len())
            } else {
                format!("* {h} of {} etcd members are healthy, at least {quorum} healthy member required for etcd quorum", members.len())
            });
        }
        if k8s_bad > 0 {
            let h = k8s_healthy + k8s_pending;
            msgs.push(if h == 1 {
                format!("* 1 of {} Machines has healthy control plane components, at least 1 required", cp.machines.len())
            } else {
                format!("* {h} of {} Machines have healthy control plane components, at least 1 required", cp.machines.len())
            });
        }
        return Cond::new(cond::AVAILABLE, Status::True, "Available", msgs.join("\n"));
    }
    let mut msgs = Vec::new();
    if deleting {
        msgs.push("* Control plane metadata.deletionTimestamp is set".to_string());
    }
    if !certs {
        msgs.push("* Control plane certificates are not available".to_string());
    }
    if managed && etcd_healthy < quorum {
        msgs.push(match etcd_healthy {
            0 => format!("* There are no healthy etcd member, at least {quorum} healthy member required for etcd quorum"),
            1 => format!("* 1 of {} etcd members is healthy, at least {quorum} healthy member required for etcd quorum", members.len()),
            h => format!("* {h} of {} etcd members are healthy, at least {quorum} healthy member required for etcd quorum", members.len()),
        });
    }
    if k8s_healthy < 1 {
        msgs.push("* There are no Machines with healthy control plane components, at least 1 required".to_string());
    }
    Cond::new(cond::AVAILABLE, Status::False, "NotAvailable", msgs.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::Kind;
    use std::collections::BTreeMap;
    use std::sync::Arc;

    fn machine(name: &str, created_s: u64, spec: &str, kubelet: Option<&str>) -> Object {
        let mut m = Object::new(Kind::Machine, "default", name);
        m.meta.creation_ms = created_s * 1000;
        m.set("/spec/version", json!(spec));
        m.set("/spec/providerID", json!(format!("docker:////{name}")));
        m.set("/status/nodeRef/name", json!(name));
        if let Some(k) = kubelet {
            m.set("/status/nodeInfo/kubeletVersion", json!(k));
        }
        m
    }

    #[test]
    fn versions_prefer_kubelet_and_sort_ascending() {
        let a = machine("a", 1, "v1.31.0", Some("v1.31.0"));
        let b = machine("b", 2, "v1.31.0", Some("v1.30.2"));
        let c = machine("c", 3, "v1.31.0", None);
        let got = versions(&[&a, &b, &c]);
        assert_eq!(got, vec![("v1.30.2".to_string(), 1), ("v1.31.0".to_string(), 2)]);
    }

    #[test]
    fn selector_names_cluster_and_control_plane() {
        assert_eq!(selector("c1"), "cluster.x-k8s.io/cluster-name=c1,cluster.x-k8s.io/control-plane");
    }

    fn healthy(mut m: Object) -> Object {
        let all = [cond::API_SERVER, cond::CONTROLLER_MANAGER, cond::SCHEDULER, cond::ETCD_POD, cond::ETCD_MEMBER];
        conditions::set(&mut m, all.iter().map(|t| Cond::t(t, "Running")), 0);
        m
    }

    fn cp(machines: Vec<Object>) -> ControlPlane {
        let mut kcp = Object::new(Kind::KubeadmControlPlane, "default", "cp");
        kcp.set("/spec/version", json!("v1.31.0"));
        kcp.set("/spec/replicas", json!(3));
        conditions::set(&mut kcp, [Cond::t(cond::CERTIFICATES_AVAILABLE, "Available")], 0);
        let mut c = ControlPlane::new(
            &kcp,
            Arc::new(Object::new(Kind::Cluster, "default", "c")),
            machines.into_iter().map(Arc::new).collect(),
            BTreeMap::new(),
            BTreeMap::new(),
            None,
            0,
        );
        c.etcd_members = Some(c.machines.iter().map(|m| m.name().to_string()).collect());
        c
    }

    #[test]
    fn available_needs_no_node_ready() {
        let mut c = cp(vec![healthy(machine("a", 1, "v1.31.0", None))]);
        update(&mut c, Some(true), 100_000);
        assert!(c.initialized());
        let a = conditions::get(&c.kcp, cond::AVAILABLE).unwrap();
        assert_eq!((a.status, a.reason), (Status::True, "Available"));
        assert_eq!(c.kcp.i64_at("/status/readyReplicas"), Some(0));
        let up = conditions::get(&c.kcp, cond::SCALING_UP).unwrap();
        assert_eq!(up.message, "Scaling up from 1 to 3 replicas");
    }

    #[test]
    fn not_initialized_is_not_available() {
        let mut c = cp(vec![healthy(machine("a", 1, "v1.31.0", None))]);
        update(&mut c, Some(false), 100_000);
        let a = conditions::get(&c.kcp, cond::AVAILABLE).unwrap();
        assert_eq!((a.status, a.message), (Status::False, "Control plane not yet initialized"));
        assert_eq!(conditions::get(&c.kcp, cond::INITIALIZED).unwrap().reason, "NotInitialized");
    }

    #[test]
    fn etcd_without_quorum_is_not_available() {
        let mut bad = machine("b", 1, "v1.31.0", None);
        conditions::set(&mut bad, [Cond::f(cond::ETCD_MEMBER, "NotHealthy", "x")], 0);
        let mut bad2 = machine("c", 1, "v1.31.0", None);
        conditions::set(&mut bad2, [Cond::f(cond::ETCD_MEMBER, "NotHealthy", "x")], 0);
        let mut c = cp(vec![healthy(machine("a", 1, "v1.31.0", None)), bad, bad2]);
        c.kcp.set("/status/initialization/controlPlaneInitialized", json!(true));
        update(&mut c, None, 100_000);
        let a = conditions::get(&c.kcp, cond::AVAILABLE).unwrap();
        assert_eq!(a.status, Status::False);
        assert!(a.message.contains("1 of 3 etcd members is healthy, at least 2 healthy member required"), "{}", a.message);
    }
}

//! The checks that keep KCP doing one thing at a time: before a scale up or scale down the topology
//! version must have been propagated, certificates must exist (scale up), no Machine may be
//! deleting, and every Machine (but the one about to go) must have a Node with all component
//! conditions True. Plus the "target state" checks used by remediation and the pre-terminate hook:
//! at least one healthy set of control-plane components remains, and etcd keeps quorum.
//! Source: `controlplane/kubeadm/reconcilers/kubeadmcontrolplane/{preflight.go,remediation.go}`.

use super::scope::{cond, has_node, node_name, ControlPlane, UPGRADE_STEP};
use super::DELETE_REQUEUE_MS;
use crate::controllers::conditions::{self, Status};
use crate::object::Object;

/// `preflightFailedRequeueAfter`.
pub const PREFLIGHT_REQUEUE_MS: u64 = 15_000;

/// The outcome of the preflight checks: go on, or wait (requeue after, with the reasons to log).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Preflight {
    /// Proceed.
    Pass,
    /// Wait and requeue.
    Wait {
        /// Requeue after this long.
        requeue_ms: u64,
        /// Why.
        reasons: Vec<String>,
        /// The health checks failed (the `ControlPlaneUnhealthy` event is recorded).
        health: bool,
    },
}

/// The version KCP waits for when the topology version differs from its own (`None` = no mismatch).
pub fn topology_version_mismatch(cp: &ControlPlane, topology_gate: bool) -> Option<String> {
    if !topology_gate || cp.cluster.at("/spec/topology").is_none_or(|t| t.is_null()) {
        return None;
    }
    let topo = cp.cluster.str_at("/spec/topology/version").unwrap_or("");
    let step = cp.cluster.annotation(UPGRADE_STEP).filter(|v| !v.is_empty());
    if topo != cp.version() && step != Some(cp.version()) {
        return Some(step.unwrap_or(topo).to_string());
    }
    None
}

/// `preflightChecks`. `exclude` is the Machine about to be deleted; `skip_health` switches off the
/// health check (only the `KcpDeleteBeforeReady` mutant does that).
pub fn checks(cp: &mut ControlPlane, topology_gate: bool, scale_up: bool, exclude: Option<&str>, skip_health: bool) -> Preflight {
    cp.preflight = Default::default();
    if cp.machines.is_empty() {
        return Preflight::Pass;
    }
    if let Some(v) = topology_version_mismatch(cp, topology_gate) {
        cp.preflight.topology_version_mismatch = true;
        return Preflight::Wait {
            requeue_ms: PREFLIGHT_REQUEUE_MS,
            reasons: vec![format!("Waiting for a version upgrade to {v} to be propagated")],
            health: false,
        };
    }
    if scale_up && !conditions::is_true(&cp.kcp, cond::CERTIFICATES_AVAILABLE) {
        cp.preflight.certificate_missing = true;
        return Preflight::Wait {
            requeue_ms: PREFLIGHT_REQUEUE_MS,
            reasons: vec!["Certificates are missing or unknown, can't join a new machine".into()],
            health: false,
        };
    }
    if cp.has_deleting() {
        cp.preflight.has_deleting_machine = true;
        let names: Vec<&str> = cp.deleting().iter().map(|m| m.name()).collect();
        return Preflight::Wait {
            requeue_ms: DELETE_REQUEUE_MS,
            reasons: vec![format!("Waiting for machines to be deleted: {}", names.join(", "))],
            health: false,
        };
    }
    if skip_health {
        return Preflight::Pass;
    }
    let mut errors = check_healthiness(cp, exclude);
    if !errors.is_empty() && scale_up && cp.kcp.annotation(super::scope::REMEDIATION_IN_PROGRESS).is_some() {
        errors = check_healthiness_while_remediating(cp);
    }
    if errors.is_empty() {
        Preflight::Pass
    } else {
        Preflight::Wait { requeue_ms: PREFLIGHT_REQUEUE_MS, reasons: errors, health: true }
    }
}

/// How Kubernetes' `utilerrors.NewAggregate(errs).Error()` prints: one error as it is, more as
/// `[a, b]`, each distinct message once.
pub fn go_aggregate(errors: &[String]) -> String {
    let mut seen: Vec<&str> = Vec::new();
    for e in errors {
        if !seen.contains(&e.as_str()) {
            seen.push(e);
        }
    }
    match (errors.len(), seen.len()) {
        (0, _) => String::new(),
        (1, _) | (_, 1) => seen[0].to_string(),
        _ => format!("[{}]", seen.join(", ")),
    }
}

/// `checkHealthiness`: every Machine but `exclude` has a Node and all component conditions True.
fn check_healthiness(cp: &mut ControlPlane, exclude: Option<&str>) -> Vec<String> {
    let managed = cp.etcd_managed();
    let types = cp.component_conditions();
    let mut errors = Vec::new();
    for m in cp.machines.iter().filter(|m| Some(m.name()) != exclude) {
        if !has_node(m) {
            errors.push(format!("Machine {} does not have a corresponding Node yet (Machine.status.nodeRef not set)", m.name()));
            cp.preflight.components_not_healthy = true;
            if managed {
                cp.preflight.etcd_not_healthy = true;
            }
            continue;
        }
        for t in &types {
            if let Some(e) = condition_error(m, t) {
                if *t == cond::ETCD_MEMBER {
                    cp.preflight.etcd_not_healthy = true;
                } else {
                    cp.preflight.components_not_healthy = true;
                }
                errors.push(e);
            }
        }
    }
    errors
}

/// `preflightCheckCondition`.
fn condition_error(m: &Object, t: &str) -> Option<String> {
    match conditions::get(m, t) {
        None => Some(format!("Machine {} does not have {t} condition", m.name())),
        Some(c) if c.status == Status::False => Some(format!("Machine {} reports {t} condition is false ({})", m.name(), c.message)),
        Some(c) if c.status == Status::Unknown => Some(format!("Machine {} reports {t} condition is unknown ({})", m.name(), c.message)),
        _ => None,
    }
}

/// `checkHealthinessWhileRemediationInProgress`: adding a replacement keeps one healthy set of
/// components and etcd quorum (assuming the new member is unhealthy).
fn check_healthiness_while_remediating(cp: &mut ControlPlane) -> Vec<String> {
    cp.preflight.components_not_healthy = false;
    cp.preflight.etcd_not_healthy = false;
    let mut errors = Vec::new();
    if !target_components_healthy(cp, true, None) {
        cp.preflight.components_not_healthy = true;
        errors.push("cannot add a new control plane Machine when there are no control plane Machines with all Kubernetes control plane components in healthy state. Please check Kubernetes control plane component status".into());
    }
    if cp.etcd_managed() {
        if cp.etcd_members.as_ref().is_none_or(Vec::is_empty) {
            errors.push("cannot check etcd cluster health before scale up, etcd member list is empty".into());
        } else if !target_etcd_healthy(cp, true, None) {
            errors.push("adding a new control plane Machine can lead to etcd quorum loss. Please check the etcd status".into());
            cp.preflight.etcd_not_healthy = true;
        }
    }
    errors
}

/// `targetKubernetesControlPlaneComponentsHealthy`: after adding one Machine (assumed unhealthy
/// unless it is the first) and/or removing `delete`, at least one Machine has all components healthy.
pub fn target_components_healthy(cp: &ControlPlane, add: bool, delete: Option<&str>) -> bool {
    let mut healthy = usize::from(add && cp.machines.is_empty());
    let mut types = vec![cond::API_SERVER, cond::CONTROLLER_MANAGER, cond::SCHEDULER];
    if cp.etcd_managed() {
        types.push(cond::ETCD_POD);
    }
    for m in cp.machines.iter().filter(|m| Some(m.name()) != delete) {
        if types.iter().all(|t| conditions::is_true(m, t)) {
            healthy += 1;
        }
    }
    healthy >= 1
}

/// `targetEtcdClusterHealthy`: after adding a member (assumed unhealthy when there are more than
/// one) and/or removing `delete`, healthy voting members still reach quorum.
pub fn target_etcd_healthy(cp: &ControlPlane, add: bool, delete: Option<&str>) -> bool {
    let members = cp.etcd_members.clone().unwrap_or_default();
    let mut voting = 0usize;
    let mut unhealthy = 0usize;
    if add {
        voting += 1;
        if members.len() > 1 {
            unhealthy += 1;
        }
    }
    for member in members.iter().filter(|n| Some(n.as_str()) != delete) {
        voting += 1;
        let machine = cp.machines.iter().find(|m| node_name(m) == Some(member.as_str()));
        // A member without a Machine has no alarms in the simulated etcd, so it counts as healthy.
        if machine.is_some_and(|m| !conditions::is_true(m, cond::ETCD_MEMBER)) {
            unhealthy += 1;
        }
    }
    let quorum = voting / 2 + 1;
    voting.saturating_sub(unhealthy) >= quorum
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controllers::conditions::Cond;
    use crate::kinds::Kind;
    use rstest::rstest;
    use serde_json::json;
    use std::collections::BTreeMap;
    use std::sync::Arc;

    #[derive(Clone, Copy, Debug)]
    enum M {
        Healthy,
        NoNode,
        ApiUnknown,
        EtcdFalse,
        Deleting,
    }

    fn machine(i: usize, s: M) -> Object {
        let name = format!("m{i}");
        let mut o = Object::new(Kind::Machine, "default", &name);
        o.set("/spec/version", json!("v1.30.0"));
        if !matches!(s, M::NoNode) {
            o.set("/status/nodeRef/name", json!(name));
        }
        let all = [cond::API_SERVER, cond::CONTROLLER_MANAGER, cond::SCHEDULER, cond::ETCD_POD, cond::ETCD_MEMBER];
        conditions::set(&mut o, all.iter().map(|t| Cond::t(t, "Running")), 0);
        match s {
            M::ApiUnknown => conditions::set(&mut o, [Cond::u(cond::API_SERVER, "InspectionFailed", "x")], 0),
            M::EtcdFalse => conditions::set(&mut o, [Cond::f(cond::ETCD_MEMBER, "NotHealthy", "x")], 0),
            M::Deleting => o.meta.deletion_ms = Some(1),
            _ => {}
        }
        o
    }

    fn scope(ms: &[M], topology: Option<(&str, Option<&str>)>, certs: bool) -> ControlPlane {
        let mut kcp = Object::new(Kind::KubeadmControlPlane, "default", "cp");
        kcp.set("/spec/version", json!("v1.30.0"));
        if certs {
            conditions::set(&mut kcp, [Cond::t(cond::CERTIFICATES_AVAILABLE, "Available")], 0);
        }
        let mut cluster = Object::new(Kind::Cluster, "default", "c");
        if let Some((v, step)) = topology {
            cluster.set("/spec/topology/version", json!(v));
            if let Some(s) = step {
                cluster.meta.annotations.insert(UPGRADE_STEP.into(), s.into());
            }
        }
        let machines: Vec<Object> = ms.iter().enumerate().map(|(i, s)| machine(i + 1, *s)).collect();
        let mut cp = ControlPlane::new(
            &kcp,
            Arc::new(cluster),
            machines.into_iter().map(Arc::new).collect(),
            BTreeMap::new(),
            BTreeMap::new(),
            None,
            0,
        );
        cp.etcd_members = Some((1..=ms.len()).map(|i| format!("m{i}")).collect());
        cp
    }

    #[rstest]
    #[case::no_machines(&[], None, true, true, None, true)]
    #[case::all_healthy(&[M::Healthy, M::Healthy], None, true, true, None, true)]
    #[case::topology_mismatch(&[M::Healthy], Some(("v1.31.0", None)), true, true, None, false)]
    #[case::topology_step_matches(&[M::Healthy], Some(("v1.32.0", Some("v1.30.0"))), true, true, None, true)]
    #[case::topology_same(&[M::Healthy], Some(("v1.30.0", None)), true, true, None, true)]
    #[case::certs_missing_blocks_scale_up(&[M::Healthy], None, false, true, None, false)]
    #[case::certs_missing_ok_for_scale_down(&[M::Healthy], None, false, false, None, true)]
    #[case::deleting_machine(&[M::Healthy, M::Deleting], None, true, false, None, false)]
    #[case::no_node(&[M::Healthy, M::NoNode], None, true, true, None, false)]
    #[case::unknown_component(&[M::Healthy, M::ApiUnknown], None, true, true, None, false)]
    #[case::unhealthy_etcd(&[M::Healthy, M::EtcdFalse], None, true, true, None, false)]
    #[case::victim_excluded(&[M::Healthy, M::EtcdFalse], None, true, false, Some("m2"), true)]
    fn preflight_outcomes(
        #[case] ms: &[M],
        #[case] topology: Option<(&str, Option<&str>)>,
        #[case] certs: bool,
        #[case] scale_up: bool,
        #[case] exclude: Option<&str>,
        #[case] pass: bool,
    ) {
        let mut cp = scope(ms, topology, certs);
        let got = checks(&mut cp, true, scale_up, exclude, false);
        assert_eq!(got == Preflight::Pass, pass, "{got:?}");
    }

    #[test]
    fn deleting_machine_waits_thirty_seconds_and_is_surfaced() {
        let mut cp = scope(&[M::Healthy, M::Deleting], None, true);
        let got = checks(&mut cp, true, false, None, false);
        assert!(matches!(got, Preflight::Wait { requeue_ms: 30_000, health: false, .. }));
        assert!(cp.preflight.has_deleting_machine);
    }

    #[test]
    fn topology_check_needs_the_gate() {
        let mut cp = scope(&[M::Healthy], Some(("v1.31.0", None)), true);
        assert_eq!(checks(&mut cp, false, true, None, false), Preflight::Pass);
    }

    #[test]
    fn skipping_health_still_waits_for_deletions() {
        let mut cp = scope(&[M::NoNode, M::Healthy], None, true);
        assert_eq!(checks(&mut cp, true, false, None, true), Preflight::Pass);
        let mut cp = scope(&[M::NoNode, M::Deleting], None, true);
        assert_ne!(checks(&mut cp, true, false, None, true), Preflight::Pass);
    }

    #[rstest]
    #[case::three_healthy_remove_one(&[M::Healthy, M::Healthy, M::Healthy], false, Some("m1"), true)]
    #[case::three_one_bad_remove_healthy(&[M::Healthy, M::Healthy, M::EtcdFalse], false, Some("m1"), false)]
    #[case::three_one_bad_remove_bad(&[M::Healthy, M::Healthy, M::EtcdFalse], false, Some("m3"), true)]
    #[case::add_to_one(&[M::Healthy], true, None, true)]
    #[case::add_to_two_with_one_bad(&[M::Healthy, M::EtcdFalse], true, None, false)]
    fn etcd_quorum_projection(#[case] ms: &[M], #[case] add: bool, #[case] delete: Option<&str>, #[case] ok: bool) {
        let cp = scope(ms, None, true);
        assert_eq!(target_etcd_healthy(&cp, add, delete), ok);
    }
}

//! The MachineHealthCheck controller: finds unhealthy Machines (Node conditions held too long, no Node
//! within nodeStartupTimeout, Node deleted, Machine conditions, the remediate annotation), applies the
//! `unhealthyLessThanOrEqualTo` / `unhealthyInRange` short-circuit, and marks Machines with
//! `HealthCheckSucceeded` and `OwnerRemediated` for their owner (MachineSet or KCP) to remediate.
//! The MHC never deletes Machines itself.
//! Source: `core/reconcilers/machinehealthcheck/{machinehealthcheck_controller.go,machinehealthcheck_targets.go}`.
//!
//! Simplification: external remediation templates (`remediation.templateRef`) are not modelled.

use super::common::{self, keys, preamble};
use super::conditions::{self, Cond, Status};
use crate::kinds::Kind;
use crate::object::{ObjKey, Object};
use crate::objectset::ObjectSet;
use crate::runtime::{Action, Ctx, ReconcileError, ReconcileResult, Reconciler};
use crate::store::Change;
use crate::world::workload::Status as NodeStatus;
use crate::world::Notice;
use capi_scenarios::LabelSelector;
use serde_json::{json, Value};
use std::sync::Arc;

/// Default `nodeStartupTimeoutSeconds`.
pub const DEFAULT_NODE_STARTUP_TIMEOUT_S: i64 = 600;

/// The controllers of this module.
pub fn controllers() -> Vec<Box<dyn Reconciler>> {
    vec![Box::new(MachineHealthCheckReconciler)]
}

/// The MachineHealthCheck controller.
pub struct MachineHealthCheckReconciler;

const WATCHES: &[Kind] = &[Kind::Machine, Kind::Cluster];

impl Reconciler for MachineHealthCheckReconciler {
    fn name(&self) -> &'static str {
        "machinehealthcheck"
    }
    fn kind(&self) -> Kind {
        Kind::MachineHealthCheck
    }
    fn watches(&self) -> &[Kind] {
        WATCHES
    }
    fn map(&self, change: &Change, cache: &ObjectSet, out: &mut Vec<ObjKey>) {
        let o = &change.object;
        // CAPI's Cluster watch passes only `ClusterPausedTransitions`; the cluster's health reaches
        // the MHCs through the ClusterCache source (here: connection and Node notices, below).
        if o.kind == Kind::Cluster && !crate::capd::lookup::paused_transition(change) {
            return;
        }
        let cluster = if o.kind == Kind::Cluster { Some(o.name()) } else { common::cluster_name(o) };
        if let Some(c) = cluster {
            out.extend(
                cache
                    .in_cluster_ns(Kind::MachineHealthCheck, o.namespace(), c)
                    .filter(|h| h.str_at("/spec/clusterName") == Some(c))
                    .map(|h| h.key()),
            );
        }
    }
    /// The ClusterCache source (connection changes) and the Node watch; CAPI maps a Node to the MHCs
    /// selecting its Machine, here to the cluster's MHCs.
    fn map_notice(&self, notice: &Notice, cache: &ObjectSet, out: &mut Vec<ObjKey>) {
        if let Notice::Connection(c) | Notice::Node { cluster: c, .. } = notice {
            out.extend(cache.in_cluster(Kind::MachineHealthCheck, c).filter(|h| h.str_at("/spec/clusterName") == Some(c)).map(|h| h.key()));
        }
    }
    fn reconcile(&self, ctx: &mut Ctx<'_>, key: &ObjKey) -> ReconcileResult {
        let Some(mhc) = ctx.get(key).cloned() else { return Ok(Action::DONE) };
        let cluster_name = mhc.str_at("/spec/clusterName").unwrap_or("").to_string();
        let Some(cluster) = ctx.get_parts(Kind::Cluster, mhc.namespace(), &cluster_name).cloned() else {
            return Err(ReconcileError(format!("failed to get Cluster {}/{cluster_name}", mhc.namespace())));
        };
        if let Some(stop) = preamble(ctx, &mhc, Some(&cluster), None)? {
            return Ok(stop);
        }
        if mhc.deleting() {
            return Ok(Action::DONE);
        }
        if !common::has_owner(&mhc, &cluster) || mhc.label(keys::CLUSTER_NAME) != Some(cluster_name.as_str()) {
            let c = cluster.clone();
            ctx.patch(key, |o| {
                common::set_owner(o, &c, false);
                o.meta.labels.insert(keys::CLUSTER_NAME.into(), c.name().to_string());
            })?;
        }
        let targets = targets(ctx, &mhc, &cluster_name);
        // Nothing is evaluated before the cluster infrastructure is ready.
        if !conditions::is_true(&cluster, "InfrastructureReady") {
            return Ok(Action::DONE);
        }
        let cp_initialized = conditions::is_true(&cluster, "ControlPlaneInitialized");
        let workload_nodes = if cp_initialized {
            match ctx.world.workload(&cluster_name) {
                Ok(wl) => Some(
                    wl.nodes.iter().map(|(k, n)| (k.clone(), (n.ready, n.ready_since_ms))).collect::<std::collections::BTreeMap<_, _>>(),
                ),
                Err(e) => return Err(ReconcileError(format!("error getting the workload cluster client: {e}"))),
            }
        } else {
            None
        };
        let now = ctx.now;
        let mut next_check: Option<u64> = None;
        let mut verdicts = Vec::new();
        for m in &targets {
            let v = judge(&mhc, &cluster, m, workload_nodes.as_ref(), now);
            if let Some(t) = v.recheck_at {
                next_check = Some(next_check.map_or(t, |n: u64| n.min(t)));
            }
            verdicts.push((m.clone(), v));
        }
        let expected = targets.len();
        let healthy = verdicts.iter().filter(|(_, v)| v.healthy).count();
        let unhealthy = expected - healthy;
        let allowed = remediation_allowed(&mhc, expected, unhealthy);
        for (m, v) in &verdicts {
            if m.deleting() {
                continue;
            }
            let mut conds = Vec::new();
            if v.healthy {
                conds.push(Cond::t("HealthCheckSucceeded", "HealthCheckSucceeded"));
            } else if let Some((reason, msg)) = &v.unhealthy {
                conds.push(Cond::f("HealthCheckSucceeded", reason, msg.clone()));
                let owner_remediated = conditions::get(m, "OwnerRemediated");
                if allowed && owner_remediated.as_ref().is_none_or(|c| c.status == Status::True) {
                    conds.push(Cond::f("OwnerRemediated", "WaitingForRemediation", "Waiting for remediation"));
                    ctx.note(format!("event MachineMarkedUnhealthy {}: {reason}", m.name()));
                }
            } else {
                continue;
            }
            let needs = conds.iter().any(|c| conditions::get(m, &c.type_).is_none_or(|x| x.status != c.status || x.reason != c.reason));
            if needs {
                ctx.patch_status(&m.key(), |o| conditions::set(o, conds, now))?;
            }
        }
        let remediations_allowed =
            if allowed { max_unhealthy(&mhc, expected).map_or(expected, |mx| mx.saturating_sub(unhealthy)) } else { 0 };
        let target_names: Vec<&str> = targets.iter().map(|t| t.name()).collect();
        let allowed_cond = if allowed {
            Cond::t("RemediationAllowed", "RemediationAllowed")
        } else {
            ctx.note("event RemediationRestricted");
            Cond::f("RemediationAllowed", "TooManyUnhealthy", format!("Remediation is not allowed, the number of not started or unhealthy machines exceeds maxUnhealthy (total: {expected}, unhealthy: {unhealthy}, maxUnhealthy: {})", describe_max(&mhc)))
        };
        let tn: Vec<String> = target_names.iter().map(|s| s.to_string()).collect();
        ctx.patch_status(key, |o| {
            o.set("/status/expectedMachines", json!(expected));
            o.set("/status/currentHealthy", json!(healthy));
            o.set("/status/remediationsAllowed", json!(remediations_allowed));
            o.set("/status/targets", json!(tn));
            conditions::set(o, [allowed_cond], now);
            let g = o.meta.generation;
            o.set("/status/observedGeneration", json!(g));
        })?;
        Ok(match next_check {
            Some(t) if t > now => Action::requeue(t - now),
            Some(_) => Action::requeue(1000),
            None => Action::DONE,
        })
    }
}

/// Machines the MHC watches: matching the selector and the cluster, without the paused or
/// skip-remediation annotation.
fn targets(ctx: &Ctx<'_>, mhc: &Object, cluster: &str) -> Vec<Arc<Object>> {
    let sel: LabelSelector = mhc.at("/spec/selector").and_then(|s| serde_json::from_value(s.clone()).ok()).unwrap_or_default();
    ctx.cache
        .in_cluster_ns(Kind::Machine, mhc.namespace(), cluster)
        .filter(|m| sel.matches(|k| m.label(k)))
        .filter(|m| !m.meta.annotations.contains_key(keys::PAUSED) && !m.meta.annotations.contains_key(keys::SKIP_REMEDIATION))
        .cloned()
        .collect()
}

/// The verdict on one Machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Healthy (and has a Node).
    pub healthy: bool,
    /// Why unhealthy: (reason, message).
    pub unhealthy: Option<(String, String)>,
    /// When to look again.
    pub recheck_at: Option<u64>,
}

/// `needsRemediation` for one Machine. `nodes` maps node name → (Ready status, since) when the
/// workload cluster can be read (control plane initialized).
pub fn judge(
    mhc: &Object,
    cluster: &Object,
    m: &Object,
    nodes: Option<&std::collections::BTreeMap<String, (NodeStatus, u64)>>,
    now: u64,
) -> Verdict {
    let bad = |reason: &str, msg: String| Verdict { healthy: false, unhealthy: Some((reason.to_string(), msg)), recheck_at: None };
    if m.meta.annotations.contains_key(keys::REMEDIATE_MACHINE) {
        return bad("HasRemediateAnnotation", "Marked for remediation via cluster.x-k8s.io/remediate-machine annotation".into());
    }
    let is_cp = m.label(keys::CONTROL_PLANE).is_some();
    let cp_initialized = conditions::is_true(cluster, "ControlPlaneInitialized");
    if !is_cp && !cp_initialized {
        return Verdict { healthy: false, unhealthy: None, recheck_at: None };
    }
    let mut recheck: Option<u64> = None;
    let mut soon = |t: u64| recheck = Some(recheck.map_or(t, |r: u64| r.min(t)));
    // Machine conditions.
    for c in mhc.at("/spec/checks/unhealthyMachineConditions").and_then(Value::as_array).into_iter().flatten() {
        let (Some(t), Some(st)) = (c.get("type").and_then(Value::as_str), c.get("status").and_then(Value::as_str)) else { continue };
        let timeout = c.get("timeoutSeconds").and_then(Value::as_i64).unwrap_or(0).max(0) as u64 * 1000;
        if let Some(cur) = conditions::get(m, t) {
            if cur.status.as_str() == st {
                if now >= cur.since_ms() + timeout {
                    return bad(
                        "UnhealthyMachine",
                        format!(
                            "Health check failed: Condition {t} on Machine {} reports Status {st} for more than {}s",
                            m.name(),
                            timeout / 1000
                        ),
                    );
                }
                soon(cur.since_ms() + timeout + 1000);
            }
        }
    }
    let node_name = m.str_at("/status/nodeRef/name");
    let Some(nodes) = nodes else { return Verdict { healthy: false, unhealthy: None, recheck_at: recheck } };
    match node_name {
        Some(n) => match nodes.get(n) {
            None => bad("NodeDeleted", format!("Health check failed: Node {n} has been deleted")),
            Some((ready, since)) => {
                for c in mhc.at("/spec/checks/unhealthyNodeConditions").and_then(Value::as_array).into_iter().flatten() {
                    let (Some(t), Some(st)) = (c.get("type").and_then(Value::as_str), c.get("status").and_then(Value::as_str)) else {
                        continue;
                    };
                    // Only the Ready condition is modelled on simulated Nodes.
                    if t != "Ready" || ready.as_str() != st {
                        continue;
                    }
                    let timeout = c.get("timeoutSeconds").and_then(Value::as_i64).unwrap_or(0).max(0) as u64 * 1000;
                    if now >= since + timeout {
                        return bad(
                            "UnhealthyNode",
                            format!("Health check failed: Condition {t} on Node {n} reports Status {st} for more than {}s", timeout / 1000),
                        );
                    }
                    soon(since + timeout + 1000);
                }
                Verdict { healthy: !m.deleting(), unhealthy: None, recheck_at: recheck }
            }
        },
        None => {
            let timeout = mhc.i64_at("/spec/checks/nodeStartupTimeoutSeconds").unwrap_or(DEFAULT_NODE_STARTUP_TIMEOUT_S);
            if timeout <= 0 {
                return Verdict { healthy: false, unhealthy: None, recheck_at: recheck };
            }
            let mut start = m.meta.creation_ms;
            for (obj, t) in [(cluster, "InfrastructureReady"), (cluster, "ControlPlaneInitialized"), (m, "InfrastructureReady")] {
                if let Some(c) = conditions::get(obj, t).filter(|c| c.status == Status::True) {
                    start = start.max(c.since_ms());
                }
            }
            let deadline = start + timeout as u64 * 1000;
            if now >= deadline {
                return bad("NodeStartupTimeout", format!("Health check failed: Node failed to report startup in {}s", timeout));
            }
            soon(deadline + 1000);
            Verdict { healthy: false, unhealthy: None, recheck_at: recheck }
        }
    }
}

/// `unhealthyLessThanOrEqualTo` scaled to `expected` (percent rounds down); `None` when unset (100%).
fn max_unhealthy(mhc: &Object, expected: usize) -> Option<usize> {
    let v = mhc.at("/spec/remediation/triggerIf/unhealthyLessThanOrEqualTo")?;
    Some(match v {
        Value::Number(n) => n.as_u64().unwrap_or(0) as usize,
        Value::String(s) => match s.strip_suffix('%') {
            Some(p) => p.trim().parse::<usize>().map(|p| expected * p / 100).unwrap_or(expected),
            None => s.trim().parse().unwrap_or(expected),
        },
        _ => expected,
    })
}

fn describe_max(mhc: &Object) -> String {
    match mhc.at("/spec/remediation/triggerIf/unhealthyLessThanOrEqualTo") {
        Some(Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
        None => "100%".into(),
    }
}

/// The short-circuit: may the MHC mark Machines for remediation?
pub fn remediation_allowed(mhc: &Object, expected: usize, unhealthy: usize) -> bool {
    if let Some(range) = mhc.str_at("/spec/remediation/triggerIf/unhealthyInRange") {
        let inner = range.trim().trim_start_matches('[').trim_end_matches(']');
        if let Some((a, b)) = inner.split_once('-') {
            if let (Ok(a), Ok(b)) = (a.trim().parse::<usize>(), b.trim().parse::<usize>()) {
                return unhealthy >= a && unhealthy <= b;
            }
        }
        return false;
    }
    max_unhealthy(mhc, expected).is_none_or(|mx| unhealthy <= mx)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn mhc(max: Option<Value>, range: Option<&str>) -> Object {
        let mut o = Object::new(Kind::MachineHealthCheck, "default", "h");
        if let Some(m) = max {
            o.set("/spec/remediation/triggerIf/unhealthyLessThanOrEqualTo", m);
        }
        if let Some(r) = range {
            o.set("/spec/remediation/triggerIf/unhealthyInRange", json!(r));
        }
        o
    }

    #[rstest]
    #[case::default_is_100_percent(None, None, 3, 3, true)]
    #[case::percent_rounds_down(Some(json!("40%")), None, 5, 2, true)]
    #[case::percent_exceeded(Some(json!("40%")), None, 5, 3, false)]
    #[case::absolute(Some(json!(1)), None, 3, 2, false)]
    #[case::range_inside(None, Some("[1-2]"), 3, 2, true)]
    #[case::range_outside(None, Some("[1-2]"), 3, 3, false)]
    #[case::range_zero(None, Some("[1-2]"), 3, 0, false)]
    fn short_circuit(
        #[case] max: Option<Value>,
        #[case] range: Option<&str>,
        #[case] expected: usize,
        #[case] unhealthy: usize,
        #[case] allowed: bool,
    ) {
        assert_eq!(remediation_allowed(&mhc(max, range), expected, unhealthy), allowed);
    }

    fn cluster() -> Object {
        let mut c = Object::new(Kind::Cluster, "default", "c");
        conditions::set(&mut c, [Cond::t("InfrastructureReady", "Ready"), Cond::t("ControlPlaneInitialized", "Initialized")], 10_000);
        c
    }

    fn node_mhc() -> Object {
        let mut o = mhc(None, None);
        o.set("/spec/checks/unhealthyNodeConditions", json!([{"type": "Ready", "status": "False", "timeoutSeconds": 300}, {"type": "Ready", "status": "Unknown", "timeoutSeconds": 300}]));
        o.set("/spec/checks/nodeStartupTimeoutSeconds", json!(600));
        o
    }

    #[rstest]
    #[case::ready_node_is_healthy(Some(NodeStatus::True), 0, 1_000_000, true, None)]
    #[case::not_ready_within_timeout_counts_healthy(Some(NodeStatus::False), 100_000, 300_000, true, None)]
    #[case::not_ready_past_timeout(Some(NodeStatus::False), 100_000, 400_001, false, Some("UnhealthyNode"))]
    #[case::unknown_past_timeout(Some(NodeStatus::Unknown), 0, 300_000, false, Some("UnhealthyNode"))]
    #[case::node_deleted(None, 0, 20_000, false, Some("NodeDeleted"))]
    fn node_checks(
        #[case] node: Option<NodeStatus>,
        #[case] since: u64,
        #[case] now: u64,
        #[case] healthy: bool,
        #[case] reason: Option<&str>,
    ) {
        let mut m = Object::new(Kind::Machine, "default", "m");
        m.set("/status/nodeRef/name", json!("n"));
        let nodes: std::collections::BTreeMap<String, (NodeStatus, u64)> =
            node.map(|s| ("n".to_string(), (s, since))).into_iter().collect();
        let v = judge(&node_mhc(), &cluster(), &m, Some(&nodes), now);
        assert_eq!(v.healthy, healthy, "{v:?}");
        assert_eq!(v.unhealthy.map(|u| u.0), reason.map(str::to_string));
    }

    #[test]
    fn node_startup_timeout_counts_from_the_latest_readiness() {
        let mut m = Object::new(Kind::Machine, "default", "m");
        m.meta.creation_ms = 0;
        let nodes = std::collections::BTreeMap::new();
        // ControlPlaneInitialized at 10s, so the deadline is 610s.
        assert_eq!(judge(&node_mhc(), &cluster(), &m, Some(&nodes), 609_000).unhealthy, None);
        assert_eq!(judge(&node_mhc(), &cluster(), &m, Some(&nodes), 610_000).unhealthy.map(|u| u.0), Some("NodeStartupTimeout".into()));
    }
}

//! The MachineHealthCheck controller, rule for rule as upstream's
//! `core/reconcilers/machinehealthcheck/{machinehealthcheck_controller.go,machinehealthcheck_targets.go}`:
//!
//! - **targets** (`getTargetsFromMHC`, `getMachinesFromMHC`, `shouldSkipRemediation`): Machines in the
//!   MHC's namespace matching `spec.selector` plus the `cluster.x-k8s.io/cluster-name` label of
//!   `spec.clusterName`, without the `cluster.x-k8s.io/paused` or `cluster.x-k8s.io/skip-remediation`
//!   annotation; deleting Machines are targets too. `status.targets` is sorted.
//! - **health** (`needsRemediation`, `machineChecks`, `nodeChecks`): the remediate-machine annotation
//!   first; nothing else is judged before `ControlPlaneInitialized` (except control-plane Machines) and
//!   `InfrastructureReady` on the Cluster; then every `unhealthyMachineConditions` entry, then the Node:
//!   deleted (nodeRef set, Node not found), not there yet (`nodeStartupTimeoutSeconds`, default 600,
//!   0 disables it, counted from the latest of the Machine's creation, the Cluster's
//!   `ControlPlaneInitialized` and `InfrastructureReady` and the Machine's `InfrastructureReady`
//!   transitions), or every `unhealthyNodeConditions` entry against all the Node's conditions. A
//!   condition is unhealthy once `lastTransitionTime + timeout` is before now; otherwise the MHC
//!   requeues for `timeout - elapsed + 1s`. Messages are one bullet list: `Health check failed:` then
//!   `  * ...` per failed check (machine checks first), durations as Go prints them.
//! - **counts** (`healthCheckTargets`, `isAllowedRemediation`): a target is healthy only when it needs no
//!   remediation, has nothing pending, is not deleting and has a Node; `unhealthy = expected - healthy`
//!   (so Machines still starting count as unhealthy); `unhealthyInRange` `[a-b]` or
//!   `unhealthyLessThanOrEqualTo` (int, or percent of expected rounded down; default `100%`).
//! - **short-circuit**: `RemediationAllowed` False/`TooManyUnhealthy` with upstream's message, a Warning
//!   `RemediationRestricted` event when some target needs remediation, `remediationsAllowed` 0, the
//!   Machines get `HealthCheckSucceeded` only, and no requeue.
//! - **remediation**: `RemediationAllowed` True; each unhealthy Machine not being deleted gets
//!   `OwnerRemediated` False/`WaitingForRemediation` (when absent or True), and every unhealthy Machine a
//!   Normal `MachineMarkedUnhealthy` event (`Machine ns/m has been marked as unhealthy by ns/mhc`), on
//!   every reconcile (the recorder counts repeats). The MHC never deletes Machines itself.
//!
//! Simplifications (also in docs/fidelity.md): external remediation templates (`remediation.templateRef`)
//! are not modelled; the deprecated v1beta1 conditions (`status.deprecated.v1beta1.conditions`) are
//! not written (the simulator models v1beta2 conditions only); the Node watch maps a Node to every MHC
//! of its cluster (upstream: to the MHCs selecting the Node's Machine, on condition changes only).

use super::common::{self, keys, preamble};
use super::conditions::{self, Cond, Status};
use crate::godur::go_duration_ms;
use crate::kinds::Kind;
use crate::object::{ObjKey, Object};
use crate::objectset::ObjectSet;
use crate::runtime::{Action, Ctx, ReconcileError, ReconcileResult, Reconciler};
use crate::store::{Change, ChangeKind};
use crate::world::objects::{node_conditions, NodeCond};
use crate::world::Notice;
use capi_scenarios::LabelSelector;
use serde_json::{json, Value};
use std::sync::Arc;

/// `clusterv1.DefaultNodeStartupTimeoutSeconds`.
pub const DEFAULT_NODE_STARTUP_TIMEOUT_S: i64 = 600;
/// `EventRemediationRestricted`.
pub const EVENT_REMEDIATION_RESTRICTED: &str = "RemediationRestricted";
/// `EventMachineMarkedUnhealthy`.
pub const EVENT_MACHINE_MARKED_UNHEALTHY: &str = "MachineMarkedUnhealthy";

/// The controllers of this module.
pub fn controllers() -> Vec<Box<dyn Reconciler>> {
    vec![Box::new(MachineHealthCheckReconciler)]
}

/// The MachineHealthCheck controller.
pub struct MachineHealthCheckReconciler;

const WATCHES: &[Kind] = &[Kind::Machine, Kind::Cluster];

/// `machineIsChangedPredicate`: a Machine update matters only when its nodeRef name, labels,
/// annotations or conditions change; creates and deletes always do.
fn machine_is_changed(change: &Change) -> bool {
    let (Some(old), ChangeKind::Modified) = (&change.old, change.kind) else { return true };
    let new = &change.object;
    old.str_at("/status/nodeRef/name") != new.str_at("/status/nodeRef/name")
        || old.meta.labels != new.meta.labels
        || old.meta.annotations != new.meta.annotations
        || old.at("/status/conditions") != new.at("/status/conditions")
}

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
        match o.kind {
            // `clusterToMachineHealthCheck` behind `ClusterPausedTransitions`: the cluster's health
            // reaches the MHCs through the ClusterCache source (connection and Node notices, below).
            Kind::Cluster if crate::capd::lookup::paused_transition(change) => {
                out.extend(cache.in_cluster_ns(Kind::MachineHealthCheck, o.namespace(), o.name()).map(|h| h.key()));
            }
            // `machineToMachineHealthCheck`: the MHCs of the Machine's cluster whose selector matches.
            Kind::Machine => {
                if !machine_is_changed(change) {
                    return;
                }
                let Some(c) = o.str_at("/spec/clusterName") else { return };
                out.extend(
                    cache
                        .in_cluster_ns(Kind::MachineHealthCheck, o.namespace(), c)
                        .filter(|h| selector(h).matches(|k| o.label(k)))
                        .map(|h| h.key()),
                );
            }
            _ => {}
        }
    }
    /// The ClusterCache source (connection changes) and the Node watch.
    fn map_notice(&self, notice: &Notice, cache: &ObjectSet, out: &mut Vec<ObjKey>) {
        if let Notice::Connection(c) | Notice::Node { cluster: c, .. } = notice {
            out.extend(cache.in_cluster(Kind::MachineHealthCheck, c).filter(|h| h.str_at("/spec/clusterName") == Some(c)).map(|h| h.key()));
        }
    }
    fn reconcile(&self, ctx: &mut Ctx<'_>, key: &ObjKey) -> ReconcileResult {
        let Some(mhc) = ctx.get(key).cloned() else { return Ok(Action::DONE) };
        let cluster_name = mhc.str_at("/spec/clusterName").unwrap_or("").to_string();
        let Some(cluster) = ctx.get_parts(Kind::Cluster, mhc.namespace(), &cluster_name).cloned() else {
            return Err(ReconcileError(format!(
                "failed to get Cluster/{cluster_name}: clusters.cluster.x-k8s.io \"{cluster_name}\" not found"
            )));
        };
        if let Some(stop) = preamble(ctx, &mhc, Some(&cluster), None)? {
            return Ok(stop);
        }
        // `Reconcile`: the cluster-name label; `reconcile`: the owner reference to the Cluster.
        if !common::has_owner(&mhc, &cluster) || mhc.label(keys::CLUSTER_NAME) != Some(cluster_name.as_str()) {
            let c = cluster.clone();
            let name = cluster_name.clone();
            ctx.patch(key, |o| {
                common::set_owner(o, &c, false);
                o.meta.labels.insert(keys::CLUSTER_NAME.into(), name);
            })?;
        }
        reconcile_targets(ctx, key, &mhc, &cluster)
    }
}

/// The MHC's `spec.selector`.
fn selector(mhc: &Object) -> LabelSelector {
    mhc.at("/spec/selector").and_then(|s| serde_json::from_value(s.clone()).ok()).unwrap_or_default()
}

/// `reconcile` after the preamble: targets, their health, the counts and the remediation decision.
fn reconcile_targets(ctx: &mut Ctx<'_>, key: &ObjKey, mhc: &Object, cluster: &Object) -> ReconcileResult {
    let now = ctx.now;
    let cluster_name = cluster.name().to_string();
    let cp_initialized = conditions::is_true(cluster, "ControlPlaneInitialized");
    // The remote client exists only once the control plane is initialized (`ClusterCache.GetClient`).
    if cp_initialized {
        if let Err(e) = ctx.world.workload(&cluster_name) {
            return Err(ReconcileError(format!("error getting client: {e}")));
        }
    }
    let targets = targets(ctx, mhc, &cluster_name);
    let startup_ms = mhc.i64_at("/spec/checks/nodeStartupTimeoutSeconds").unwrap_or(DEFAULT_NODE_STARTUP_TIMEOUT_S).max(0) as u64 * 1000;
    // `healthCheckTargets`.
    let mut healthy: Vec<Arc<Object>> = Vec::new();
    let mut unhealthy: Vec<(Arc<Object>, Check)> = Vec::new();
    let mut next_checks: Vec<u64> = Vec::new();
    for m in &targets {
        let check = {
            let wl = if cp_initialized { ctx.world.workload(&cluster_name).ok() } else { None };
            let node_name = m.str_at("/status/nodeRef/name").filter(|n| !n.is_empty());
            let found = node_name.and_then(|n| wl.and_then(|w| w.nodes.get(n)));
            let conds = found.map(|n| node_conditions(n, now));
            let seen = match (wl, node_name, &conds) {
                (Some(_), Some(_), Some(c)) => NodeSeen::Found(c),
                (Some(_), Some(n), None) => NodeSeen::Missing(n),
                _ => NodeSeen::NotSet,
            };
            let has_node = matches!(seen, NodeSeen::Found(_));
            (needs_remediation(mhc, cluster, m, &seen, now, startup_ms), has_node)
        };
        let (check, has_node) = check;
        if check.needs_remediation {
            unhealthy.push((m.clone(), check));
        } else if check.next_check_ms > 0 {
            next_checks.push(check.next_check_ms);
        } else if !m.deleting() && has_node {
            healthy.push(m.clone());
        }
    }
    let expected = targets.len() as i64;
    let current_healthy = healthy.len() as i64;
    let mut names: Vec<String> = targets.iter().map(|t| t.name().to_string()).collect();
    names.sort();
    let status_counts = |o: &mut Object| {
        o.set("/status/expectedMachines", json!(expected));
        o.set("/status/targets", json!(names));
        o.set("/status/currentHealthy", json!(current_healthy));
    };
    let (allowed, count) = match is_allowed_remediation(mhc, expected, current_healthy) {
        Ok(v) => v,
        Err(e) => {
            // The deferred patch still writes what was computed, without observedGeneration.
            ctx.patch_status(key, status_counts)?;
            return Err(ReconcileError(format!("error checking if remediation is allowed: {e}")));
        }
    };
    let unhealthy_count = expected - current_healthy;
    let range = mhc.str_at("/spec/remediation/triggerIf/unhealthyInRange").unwrap_or("");
    let healthy_cond = Cond::t("HealthCheckSucceeded", "HealthCheckSucceeded");
    if !allowed {
        // `reconcile`: the short-circuit.
        let message = if range.is_empty() {
            format!(
                "Remediation is not allowed, the number of not started or unhealthy machines exceeds maxUnhealthy (total: {expected}, unhealthy: {unhealthy_count}, maxUnhealthy: {})",
                max_unhealthy_text(mhc)
            )
        } else {
            format!(
                "Remediation is not allowed, the number of not started or unhealthy machines does not fall within the range (total: {expected}, unhealthy: {unhealthy_count}, unhealthyRange: {range})"
            )
        };
        let written = ctx.patch_status(key, |o| {
            status_counts(o);
            o.set("/status/remediationsAllowed", json!(0));
            conditions::set(o, [Cond::f("RemediationAllowed", "TooManyUnhealthy", message.clone())], now);
            let g = o.meta.generation;
            o.set("/status/observedGeneration", json!(g));
        })?;
        // No event when no target needs remediation, not to mislead.
        if !unhealthy.is_empty() {
            ctx.event_warning(&written, EVENT_REMEDIATION_RESTRICTED, message);
        }
        for m in &healthy {
            ctx.patch_status(&m.key(), |o| conditions::set(o, [healthy_cond.clone()], now))?;
        }
        for (m, check) in &unhealthy {
            let cond = check.condition();
            ctx.patch_status(&m.key(), |o| conditions::set(o, [cond], now))?;
        }
        return Ok(Action::DONE);
    }
    let written = ctx.patch_status(key, |o| {
        status_counts(o);
        o.set("/status/remediationsAllowed", json!(count));
        conditions::set(o, [Cond::t("RemediationAllowed", "RemediationAllowed")], now);
        let g = o.meta.generation;
        o.set("/status/observedGeneration", json!(g));
    })?;
    // `patchUnhealthyTargets`.
    let paused_cluster = cluster.bool_at("/spec/paused");
    for (m, check) in &unhealthy {
        let mut conds = vec![check.condition()];
        let paused = paused_cluster || m.meta.annotations.contains_key(keys::PAUSED);
        // Only the OwnerRemediated condition's absence or completion (True) starts a remediation; one
        // in progress belongs to the owner.
        if !paused && !m.deleting() && conditions::get(m, "OwnerRemediated").is_none_or(|c| c.status == Status::True) {
            conds.push(Cond::f("OwnerRemediated", "WaitingForRemediation", "Waiting for remediation"));
        }
        match ctx.patch_status(&m.key(), |o| conditions::set(o, conds, now)) {
            Ok(_) => ctx.event_normal(
                m,
                EVENT_MACHINE_MARKED_UNHEALTHY,
                format!(
                    "Machine {}/{} has been marked as unhealthy by {}/{}",
                    m.namespace(),
                    m.name(),
                    written.namespace(),
                    written.name()
                ),
            ),
            Err(e) => {
                return Err(ReconcileError(format!(
                    "failed to patch unhealthy machine status for machine: {}/{}: {e}",
                    m.namespace(),
                    m.name()
                )))
            }
        }
    }
    // `patchHealthyTargets`.
    for m in &healthy {
        ctx.patch_status(&m.key(), |o| conditions::set(o, [healthy_cond.clone()], now))?;
    }
    Ok(match next_checks.iter().min() {
        Some(&t) if t > 0 => Action::requeue(t),
        _ => Action::DONE,
    })
}

/// `getMachinesFromMHC` + `shouldSkipRemediation`.
fn targets(ctx: &Ctx<'_>, mhc: &Object, cluster: &str) -> Vec<Arc<Object>> {
    let sel = selector(mhc);
    ctx.cache
        .in_cluster_ns(Kind::Machine, mhc.namespace(), cluster)
        .filter(|m| m.label(keys::CLUSTER_NAME) == Some(cluster) && sel.matches(|k| m.label(k)))
        .filter(|m| !m.meta.annotations.contains_key(keys::PAUSED) && !m.meta.annotations.contains_key(keys::SKIP_REMEDIATION))
        .cloned()
        .collect()
}

/// What the MHC knows of a target's Node (`healthCheckTarget.Node` / `nodeMissing`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeSeen<'a> {
    /// No Node: no nodeRef yet, or no remote client (control plane not initialized).
    NotSet,
    /// The Machine has a nodeRef to this Node, but the workload cluster has no such Node.
    Missing(&'a str),
    /// The Node, by its conditions.
    Found(&'a [NodeCond<'a>]),
}

/// The outcome of `needsRemediation` for one target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    /// Remediation is needed.
    pub needs_remediation: bool,
    /// `HealthCheckSucceeded`'s reason when it is needed.
    pub reason: &'static str,
    /// Its message.
    pub message: String,
    /// When nothing is needed yet: look again after this many ms (0: nothing pending).
    pub next_check_ms: u64,
}

impl Check {
    fn pending(next_check_ms: u64) -> Check {
        Check { needs_remediation: false, reason: "", message: String::new(), next_check_ms }
    }
    fn failed(reason: &'static str, message: String) -> Check {
        Check { needs_remediation: true, reason, message, next_check_ms: 0 }
    }
    /// The `HealthCheckSucceeded` condition an unhealthy target gets.
    pub fn condition(&self) -> Cond {
        Cond::f("HealthCheckSucceeded", self.reason, self.message.clone())
    }
}

/// A metav1.Time as the API stores it: whole seconds.
fn seconds(ms: u64) -> u64 {
    ms / 1000 * 1000
}

/// `lastTransitionTime + timeout` is before now (`Time.Add(timeout).Before(now)`).
fn expired(since_ms: u64, timeout_ms: u64, now: u64) -> bool {
    since_ms + timeout_ms < now
}

/// `timeout - (now - since) + 1s`, when positive.
fn next_check(since_ms: u64, timeout_ms: u64, now: u64) -> u64 {
    (since_ms + timeout_ms + 1000).saturating_sub(now)
}

/// The timeout of one check entry (`timeoutSeconds`, 0 when absent).
fn timeout_of(c: &Value) -> u64 {
    c.get("timeoutSeconds").and_then(Value::as_i64).unwrap_or(0).max(0) as u64 * 1000
}

/// `healthCheckTarget.needsRemediation`. `node_startup_ms` 0 disables the node startup timeout.
pub fn needs_remediation(mhc: &Object, cluster: &Object, m: &Object, node: &NodeSeen<'_>, now: u64, node_startup_ms: u64) -> Check {
    if m.meta.annotations.contains_key(keys::REMEDIATE_MACHINE) {
        return Check::failed(
            "HasRemediateAnnotation",
            "Health check failed: marked for remediation via cluster.x-k8s.io/remediate-machine annotation".to_string(),
        );
    }
    // Nothing is penalized before the control plane is initialized (except control-plane Machines, so
    // that the first one can be remediated), nor before the cluster infrastructure is ready; the
    // Cluster's update brings the next reconcile.
    if !conditions::is_true(cluster, "ControlPlaneInitialized") && m.label(keys::CONTROL_PLANE).is_none() {
        return Check::pending(0);
    }
    if !conditions::is_true(cluster, "InfrastructureReady") {
        return Check::pending(0);
    }
    let (machine_messages, next_machine) = machine_checks(mhc, m, now);
    let (node_reason, node_messages, next_node) = node_checks(mhc, cluster, m, node, now, node_startup_ms);
    if machine_messages.is_empty() && node_messages.is_empty() {
        let next = [next_machine, next_node].into_iter().filter(|&t| t > 0).min().unwrap_or(0);
        return Check::pending(next);
    }
    let reason = if machine_messages.is_empty() { node_reason } else { "UnhealthyMachine" };
    let all: Vec<String> = machine_messages.into_iter().chain(node_messages).collect();
    let mut message = String::from("Health check failed:\n");
    message.push_str(&all.iter().map(|m| format!("  * {m}")).collect::<Vec<_>>().join("\n"));
    Check::failed(reason, message)
}

/// `machineChecks`: every `unhealthyMachineConditions` entry.
fn machine_checks(mhc: &Object, m: &Object, now: u64) -> (Vec<String>, u64) {
    let mut messages = Vec::new();
    let mut next = Vec::new();
    for c in mhc.at("/spec/checks/unhealthyMachineConditions").and_then(Value::as_array).into_iter().flatten() {
        let (Some(t), Some(st)) = (c.get("type").and_then(Value::as_str), c.get("status").and_then(Value::as_str)) else { continue };
        let Some(cur) = conditions::get(m, t).filter(|cur| cur.status.as_str() == st) else { continue };
        let timeout = timeout_of(c);
        let since = cur.since_ms();
        if expired(since, timeout, now) {
            messages.push(format!(
                "Condition {t} on Machine is reporting status {st} with reason {} for more than {}",
                cur.reason,
                go_duration_ms(timeout as i64)
            ));
            continue;
        }
        next.push(next_check(since, timeout, now));
    }
    if !messages.is_empty() {
        return (messages, 0);
    }
    (messages, next.into_iter().filter(|&t| t > 0).min().unwrap_or(0))
}

/// `nodeChecks`: the Node deleted, not there yet, or its conditions. Returns (reason, messages, next).
fn node_checks(
    mhc: &Object,
    cluster: &Object,
    m: &Object,
    node: &NodeSeen<'_>,
    now: u64,
    node_startup_ms: u64,
) -> (&'static str, Vec<String>, u64) {
    let conds = match node {
        NodeSeen::Missing(name) => return ("NodeDeleted", vec![format!("Node {name} has been deleted")], 0),
        NodeSeen::NotSet => {
            if node_startup_ms == 0 {
                return ("", Vec::new(), 0);
            }
            // The latest of the Machine's creation and the readiness transitions that are True.
            let mut start = seconds(m.meta.creation_ms);
            for (obj, t) in [(cluster, "ControlPlaneInitialized"), (cluster, "InfrastructureReady"), (m, "InfrastructureReady")] {
                if let Some(c) = conditions::get(obj, t).filter(|c| c.status == Status::True) {
                    start = start.max(c.since_ms());
                }
            }
            if expired(start, node_startup_ms, now) {
                return (
                    "NodeStartupTimeout",
                    vec![format!("Node failed to report startup in {}", go_duration_ms(node_startup_ms as i64))],
                    0,
                );
            }
            // `timeout - elapsed + 1s`, even when not positive (upstream keeps it as is).
            return ("", Vec::new(), next_check(start, node_startup_ms, now));
        }
        NodeSeen::Found(conds) => conds,
    };
    let mut messages = Vec::new();
    let mut next = Vec::new();
    for c in mhc.at("/spec/checks/unhealthyNodeConditions").and_then(Value::as_array).into_iter().flatten() {
        let (Some(t), Some(st)) = (c.get("type").and_then(Value::as_str), c.get("status").and_then(Value::as_str)) else { continue };
        let Some(cur) = conds.iter().find(|x| x.type_ == t).filter(|x| x.status.as_str() == st) else { continue };
        let timeout = timeout_of(c);
        let since = seconds(cur.since_ms);
        if expired(since, timeout, now) {
            messages.push(format!(
                "Condition {t} on Node is reporting status {st} with reason {} for more than {}",
                cur.reason,
                go_duration_ms(timeout as i64)
            ));
            continue;
        }
        next.push(next_check(since, timeout, now));
    }
    if !messages.is_empty() {
        return ("UnhealthyNode", messages, 0);
    }
    ("", messages, next.into_iter().filter(|&t| t > 0).min().unwrap_or(0))
}

/// `getMaxUnhealthy`: `unhealthyLessThanOrEqualTo` (default `100%`) scaled to `expected`, a percent
/// rounded down (`intstr.GetScaledValueFromIntOrPercent(..., false)`).
pub fn max_unhealthy(mhc: &Object, expected: i64) -> Result<i64, String> {
    match mhc.at("/spec/remediation/triggerIf/unhealthyLessThanOrEqualTo") {
        None | Some(Value::Null) => Ok(expected),
        Some(Value::Number(n)) => Ok(n.as_i64().unwrap_or(0)),
        Some(Value::String(s)) => {
            let Some(p) = s.strip_suffix('%') else {
                return Err("invalid value for IntOrString: invalid type: string is not a percentage".to_string());
            };
            let p: i64 = p.parse().map_err(|_| {
                format!("invalid value for IntOrString: invalid value \"{s}\": strconv.Atoi: parsing \"{p}\": invalid syntax")
            })?;
            Ok((p * expected).div_euclid(100))
        }
        Some(_) => Err("invalid value for IntOrString: invalid type: neither int nor percentage".to_string()),
    }
}

/// `ptr.Deref(unhealthyLessThanOrEqualTo, "100%").String()`.
fn max_unhealthy_text(mhc: &Object) -> String {
    match mhc.at("/spec/remediation/triggerIf/unhealthyLessThanOrEqualTo") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => "100%".into(),
    }
}

/// `getUnhealthyRange`: `[min-max]`.
pub fn unhealthy_range(range: &str) -> Result<(i64, i64), String> {
    let inner = range.get(1..range.len().saturating_sub(1)).unwrap_or("");
    let mut parts = inner.split('-');
    let parse = |p: Option<&str>| -> Result<i64, String> {
        let p = p.unwrap_or("");
        p.parse::<u32>().map(i64::from).map_err(|_| format!("strconv.ParseUint: parsing \"{p}\": invalid syntax"))
    };
    let (min, max) = (parse(parts.next())?, parse(parts.next())?);
    if max < min {
        return Err(format!("max value {max} cannot be less than min value {min} for unhealthyRange"));
    }
    Ok((min, max))
}

/// `isAllowedRemediation`: (allowed, remediationsAllowed) from `expected` and `healthy` targets.
pub fn is_allowed_remediation(mhc: &Object, expected: i64, healthy: i64) -> Result<(bool, i64), String> {
    let unhealthy = expected - healthy;
    match mhc.str_at("/spec/remediation/triggerIf/unhealthyInRange").filter(|r| !r.is_empty()) {
        Some(range) => {
            let (min, max) = unhealthy_range(range)?;
            Ok((unhealthy >= min && unhealthy <= max, max - unhealthy))
        }
        None => {
            let max = max_unhealthy(mhc, expected)?;
            Ok((unhealthy <= max, max - unhealthy))
        }
    }
}

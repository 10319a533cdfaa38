//! The Machine's v1beta2 status as `updateStatus` computes it: `BootstrapConfigReady` and
//! `InfrastructureReady` (mirrored from the referenced objects with upstream's fallbacks),
//! `NodeReady` and `NodeHealthy` (from the Node, or why it cannot be read: connection state with the
//! remote-conditions grace period), `Deleting`, `Updating`, `Ready` (a summary with upstream's merge
//! priorities and the deleting override), `Available` (minReadySeconds) and the phase.
//! Source: `core/reconcilers/machine/machine_controller_status.go`.
//!
//! Simplifications: while the ClusterCache is still connected but the workload API does not answer,
//! upstream reads the Node from its informer cache; we keep the Node conditions last computed from
//! it, which is what a stale cache yields. `Updating` is always `NotUpdating` (in-place updates are
//! off). `UpToDate` is left to the MachineSet (which sets it for its Machines as this controller
//! would); standalone Machines get none, as upstream.

use super::{NodeView, Scope};
use crate::controllers::conditions::{self, Cond, Status};
use crate::controllers::merge::{self, Item, Priority, Reasons};
use crate::object::{timestamp, Object};
use crate::runtime::{Action, Ctx};
use crate::world::workload::Status as NodeStatus;
use serde_json::{json, Value};

/// `--remote-conditions-grace-period` (default 5m, `core/main.go`).
pub const REMOTE_CONDITIONS_GRACE_MS: u64 = 5 * 60_000;

/// What [`compute`] decided.
pub(super) struct StatusUpdate {
    pub phase: &'static str,
    pub conditions: Vec<Cond>,
    /// When to reconcile again (minReadySeconds, the end of the remote-conditions grace period).
    pub requeue: Action,
}

fn kind_of(m: &Object, pointer: &str) -> String {
    m.str_at(pointer).unwrap_or("").to_string()
}

/// `setBootstrapReadyCondition`.
fn bootstrap_ready(m: &Object, s: &Scope) -> Cond {
    const T: &str = "BootstrapConfigReady";
    if m.at("/spec/bootstrap/configRef").is_none() {
        return Cond::t(T, "DataSecretProvided");
    }
    let kind = kind_of(m, "/spec/bootstrap/configRef/kind");
    if let Some(b) = &s.bootstrap {
        let created = m.bool_at("/status/initialization/bootstrapDataSecretCreated");
        return mirror(b, T, created, ("Ready", "NotReady"), format!("{kind} status.initialization.dataSecretCreated is {created}"));
    }
    if m.deleting() && m.bool_at("/status/initialization/bootstrapDataSecretCreated") {
        return Cond::f(T, "ObjectDeleted", format!("{kind} has been deleted"));
    }
    Cond::f(T, "ObjectDoesNotExist", format!("{kind} does not exist"))
}

/// `setInfrastructureReadyCondition`.
fn infrastructure_ready(m: &Object, s: &Scope) -> Cond {
    const T: &str = "InfrastructureReady";
    let kind = kind_of(m, "/spec/infrastructureRef/kind");
    let provisioned = m.bool_at("/status/initialization/infrastructureProvisioned");
    if let Some(i) = &s.infra {
        return mirror(i, T, provisioned, ("Ready", "NotReady"), format!("{kind} status.initialization.provisioned is {provisioned}"));
    }
    match (m.deleting(), provisioned) {
        (true, true) => Cond::f(T, "ObjectDeleted", format!("{kind} has been deleted")),
        (false, true) => Cond::f(T, "ObjectDeleted", format!("{kind} has been deleted while the Machine still exists")),
        _ => Cond::f(T, "ObjectDoesNotExist", format!("{kind} does not exist")),
    }
}

/// `conditions.NewMirrorConditionFromUnstructured` of the `Ready` condition with a fallback, and the
/// v1beta1 `NoReasonReported` True reason replaced.
fn mirror(src: &Object, type_: &str, fallback: bool, reasons: (&str, &str), fallback_msg: String) -> Cond {
    match conditions::get(src, "Ready") {
        Some(c) => {
            let reason =
                if c.status == Status::True && (c.reason.is_empty() || c.reason == "NoReasonReported") { reasons.0 } else { c.reason };
            Cond::new(type_, c.status, reason, c.message.to_string()).since(c.since_ms())
        }
        None if fallback => Cond::t(type_, reasons.0),
        None => Cond::f(type_, reasons.1, fallback_msg),
    }
}

/// `summarizeNodeConditions`: Ready, MemoryPressure, DiskPressure, PIDPressure.
fn summarize_node(conds: &[(String, NodeStatus, String)]) -> (Status, &'static str, String) {
    let mut false_n = 0;
    let mut unknown_n = 0;
    let mut count = 0;
    let mut distinct: Vec<String> = Vec::new();
    let mut messages = Vec::new();
    for t in ["Ready", "MemoryPressure", "DiskPressure", "PIDPressure"] {
        let Some((_, status, message)) = conds.iter().rev().find(|(ct, _, _)| ct == t) else {
            messages.push(format!("* Node.{t}: Condition not yet reported"));
            unknown_n += 1;
            continue;
        };
        let bad = if t == "Ready" { *status != NodeStatus::True } else { *status != NodeStatus::False };
        if !bad {
            continue;
        }
        let m = if message.is_empty() { format!("Condition is {}", status.as_str()) } else { message.clone() };
        count += 1;
        if !distinct.contains(&m) {
            distinct.push(m.clone());
        }
        messages.push(format!("* Node.{t}: {m}"));
        if *status == NodeStatus::Unknown {
            unknown_n += 1;
        } else {
            false_n += 1;
        }
    }
    if count > 1 && distinct.len() == 1 {
        messages = vec![format!("* Node.AllConditions: {}", distinct[0])];
    }
    let message = messages.join("\n");
    if false_n > 0 {
        return (Status::False, "NodeNotHealthy", message);
    }
    if unknown_n > 0 {
        return (Status::Unknown, "NodeHealthyUnknown", message);
    }
    (Status::True, "NodeHealthy", String::new())
}

fn both(status: Status, reason: &str, message: impl Into<String>) -> Vec<Cond> {
    let message = message.into();
    vec![Cond::new("NodeReady", status, reason, message.clone()), Cond::new("NodeHealthy", status, reason, message)]
}

/// `lastProbeSuccessMessage`.
fn last_probe_message(last: Option<u64>) -> String {
    last.map_or(String::new(), |t| format!("Last successful probe at {}", timestamp(t)))
}

/// `setNodeHealthyAndReadyConditions`; `None` keeps the conditions as they are. The action wakes the
/// Machine when the grace period runs out (`clustercache.WatchForProbeFailure`).
fn node_conditions(ctx: &Ctx<'_>, m: &Object, cluster: &Object, s: &Scope) -> (Option<Vec<Cond>>, Action) {
    if !cluster.bool_at("/status/initialization/infrastructureProvisioned") {
        return (
            Some(both(
                Status::Unknown,
                "InspectionFailed",
                "Waiting for Cluster status.initialization.infrastructureProvisioned to be true",
            )),
            Action::DONE,
        );
    }
    let Some(cp_init) = conditions::get(cluster, "ControlPlaneInitialized").filter(|c| c.status == Status::True) else {
        return (Some(both(Status::Unknown, "InspectionFailed", "Waiting for Cluster control plane to be initialized")), Action::DONE);
    };
    let has_both = conditions::get(m, "NodeReady").is_some() && conditions::get(m, "NodeHealthy").is_some();
    let hcs = ctx.world.health_checking_state(cluster.name(), ctx.now);
    if hcs.last_probe_success_ms.is_none() && hcs.consecutive_failures < crate::world::cluster_cache::FAILURE_THRESHOLD {
        if has_both {
            return (None, Action::DONE);
        }
        return (Some(both(Status::Unknown, "ConnectionDown", "Remote connection not established yet")), Action::DONE);
    }
    let from = hcs.last_probe_success_ms.unwrap_or(0).max(cp_init.since_ms());
    let unreachable = matches!(s.node, NodeView::Unreachable);
    if unreachable && ctx.now > from + REMOTE_CONDITIONS_GRACE_MS {
        return (Some(both(Status::Unknown, "ConnectionDown", last_probe_message(hcs.last_probe_success_ms))), Action::DONE);
    }
    let wake = if unreachable { Action::requeue(from + REMOTE_CONDITIONS_GRACE_MS + 1 - ctx.now) } else { Action::DONE };
    match &s.node {
        NodeView::Unreachable if has_both => (None, wake),
        NodeView::Unreachable => (Some(both(Status::Unknown, "ConnectionDown", last_probe_message(hcs.last_probe_success_ms))), wake),
        NodeView::Found { conds, ready, .. } => {
            let node_ready = match ready {
                Some((st, msg, since)) => {
                    let message = if *st != NodeStatus::True && !msg.is_empty() { format!("* Node.Ready: {msg}") } else { String::new() };
                    let reason = match st {
                        NodeStatus::True => "NodeReady",
                        NodeStatus::False => "NodeNotReady",
                        NodeStatus::Unknown => "NodeReadyUnknown",
                    };
                    Cond::new("NodeReady", Status::parse(st.as_str()), reason, message).since(*since)
                }
                None => Cond::u("NodeReady", "NodeReadyUnknown", "* Node.Ready: Condition not yet reported"),
            };
            let (st, reason, message) = summarize_node(conds);
            (Some(vec![node_ready, Cond::new("NodeHealthy", st, reason, message)]), Action::DONE)
        }
        NodeView::Missing | NodeView::NotChecked => {
            let node_ref = m.str_at("/status/nodeRef/name").filter(|n| !n.is_empty());
            let conds = match (m.deleting(), node_ref) {
                (true, Some(n)) => both(Status::False, "NodeDeleted", format!("Node {n} has been deleted")),
                (true, None) => both(Status::Unknown, "NodeDoesNotExist", "Node does not exist"),
                (false, Some(n)) => both(Status::False, "NodeDeleted", format!("Node {n} has been deleted while the Machine still exists")),
                (false, None) => match m.str_at("/spec/providerID").filter(|p| !p.is_empty()) {
                    Some(p) => both(Status::Unknown, "InspectionFailed", format!("Waiting for a Node with spec.providerID {p} to exist")),
                    None => both(
                        Status::Unknown,
                        "InspectionFailed",
                        format!("Waiting for {} to report spec.providerID", kind_of(m, "/spec/infrastructureRef/kind")),
                    ),
                },
            };
            (Some(conds), Action::DONE)
        }
    }
}

/// `transformControlPlaneAndEtcdConditions`: control-plane component readiness gates with one
/// message become one `* Control plane components:` line.
fn transform_control_plane(messages: Vec<String>) -> Vec<String> {
    let is_cp = |c: &str| {
        c.starts_with("* APIServer") || c.starts_with("* ControllerManager") || c.starts_with("* Scheduler") || c == "* EtcdPodHealthy"
    };
    let mut out = Vec::new();
    let mut count = 0;
    let mut cp_msg: Option<String> = None;
    for m in &messages {
        let Some(sep) = m.find(':') else {
            out.push(m.clone());
            continue;
        };
        let (c, msg) = (&m[..sep], &m[sep + 1..]);
        if !is_cp(c) {
            out.push(m.clone());
            continue;
        }
        match &cp_msg {
            None => {
                cp_msg = Some(msg.to_string());
                out.push(format!("* Control plane components:{msg}"));
                count += 1;
            }
            Some(first) if first != msg => return messages,
            Some(_) => count += 1,
        }
    }
    if count == 1 {
        return messages;
    }
    out
}

/// `calculateDeletingConditionForSummary`.
fn deleting_for_summary(m: &Object, deleting: &Cond, now: u64) -> String {
    let mut msg = format!("Machine deletion in progress, stage: {}", deleting.reason);
    let since = m.meta.deletion_ms.unwrap_or(now);
    if now.saturating_sub(since) > 15 * 60_000 {
        msg = format!("Machine deletion in progress since more than 15m, stage: {}", deleting.reason);
        let drain_start = m.str_at("/status/deletion/nodeDrainStartTime").and_then(crate::object::parse_timestamp);
        if deleting.reason == "DrainingNode" && drain_start.is_some_and(|t| now.saturating_sub(t) > 5 * 60_000) {
            let mut delay = Vec::new();
            for (needle, why) in [
                ("cannot evict pod as it would violate the pod's disruption budget.", "PodDisruptionBudgets"),
                ("deletionTimestamp set, but still not removed from the Node", "Pods not terminating"),
                ("failed to evict Pod", "Pod eviction errors"),
                ("waiting for completion", "Pods not completed yet"),
            ] {
                if deleting.message.contains(needle) {
                    delay.push(why);
                }
            }
            if !delay.is_empty() {
                msg.push_str(&format!(", delay likely due to {}", delay.join(", ")));
            }
        }
    }
    msg
}

/// `setReadyCondition`.
fn ready(m: &Object, conds: &[Cond], now: u64) -> Cond {
    const FIXED: [&str; 6] = ["Deleting", "Updating", "BootstrapConfigReady", "InfrastructureReady", "NodeHealthy", "HealthCheckSucceeded"];
    let mut order: Vec<&str> = FIXED.to_vec();
    let mut negative: Vec<&str> = vec!["Deleting", "Updating"];
    for g in m.at("/spec/readinessGates").and_then(Value::as_array).into_iter().flatten() {
        if let Some(t) = g.get("conditionType").and_then(Value::as_str) {
            order.push(t);
            if g.get("polarity").and_then(Value::as_str) == Some("Negative") {
                negative.push(t);
            }
        }
    }
    let deleting = m.deleting();
    // A condition set in this reconcile, else the stored one (kind and name are the Machine's).
    let found = |t: &str| -> Option<(Status, &str, &str, u64)> {
        conds
            .iter()
            .find(|c| c.type_ == t)
            .map(|c| (c.status, c.reason.as_str(), c.message.as_str(), c.since_ms.unwrap_or(now)))
            .or_else(|| conditions::get(m, t).map(|c| (c.status, c.reason, c.message, c.since_ms())))
    };
    // `calculateDeletingConditionForSummary`.
    let deleting_message = if deleting {
        found("Deleting").map(|(status, reason, message, _)| deleting_for_summary(m, &Cond::new("Deleting", status, reason, message), now))
    } else {
        None
    };
    let mut items = Vec::with_capacity(order.len());
    for &t in &order {
        let item = |status, reason, message, since_ms| Item {
            kind: "Machine",
            name: m.name(),
            cp_machine: false,
            type_: t,
            status,
            reason,
            message,
            since_ms,
        };
        match found(t) {
            Some((_, _, _, since)) if t == "Deleting" && deleting => {
                items.push(item(Status::True, "Deleting", deleting_message.as_deref().unwrap_or(""), since));
            }
            Some((status, reason, message, since)) => items.push(item(status, reason, message, since)),
            None if t == "HealthCheckSucceeded" => {}
            None => items.push(item(Status::Unknown, "NotYetReported", "Condition not yet reported", now)),
        }
    }
    let priority = move |i: &Item<'_>| {
        if deleting {
            let info = match i.type_ {
                "BootstrapConfigReady" => matches!(i.reason, "ObjectDeleted" | "ObjectDoesNotExist"),
                "InfrastructureReady" => matches!(i.reason, "ObjectDeleted" | "ObjectDoesNotExist"),
                "NodeHealthy" => matches!(i.reason, "NodeDeleted" | "NodeDoesNotExist"),
                _ => false,
            };
            if info {
                return Priority::Info;
            }
        }
        merge::default_priority(&negative, i)
    };
    let (status, reason, message) = merge::summary_items(
        items,
        &order,
        &priority,
        Reasons { issue: "NotReady", unknown: "ReadyUnknown", info: "Ready" },
        Some(&transform_control_plane),
    );
    Cond::new("Ready", status, reason, message)
}

/// Every condition this controller owns, the phase, and when to come back.
pub(super) fn compute(ctx: &Ctx<'_>, m: &Object, cluster: &Object, s: &Scope) -> StatusUpdate {
    let now = ctx.now;
    let mut conds = vec![bootstrap_ready(m, s), infrastructure_ready(m, s)];
    let (node, mut requeue) = node_conditions(ctx, m, cluster, s);
    conds.extend(node.into_iter().flatten());
    // `setDeletingCondition` reads the Machine as the reconcile read it: one deleted while this
    // reconcile ran (`reconcileDelete` did not run, so no deleting reason) still reads NotDeleting.
    conds.push(if m.deleting() && !s.deleting_reason.is_empty() {
        Cond::new("Deleting", Status::True, &s.deleting_reason, s.deleting_message.clone())
    } else {
        Cond::f("Deleting", "NotDeleting", "")
    });
    conds.push(Cond::f("Updating", "NotUpdating", ""));
    let ready = ready(m, &conds, now);
    // `setAvailableCondition`: Ready for minReadySeconds.
    let min_ready_ms = m.i64_at("/spec/minReadySeconds").unwrap_or(0).max(0) as u64 * 1000;
    let ready_since = conditions::get(m, "Ready").filter(|c| c.status == Status::True).map_or(now, |c| c.since_ms());
    let available = if ready.status != Status::True {
        Cond::f("Available", "NotReady", "")
    } else if now >= ready_since + min_ready_ms {
        Cond::t("Available", "Available")
    } else {
        requeue = requeue.min(Action::requeue(ready_since + min_ready_ms - now));
        Cond::f("Available", "WaitingForMinReadySeconds", "")
    };
    conds.push(ready);
    conds.push(available);
    // `setMachinePhaseAndLastUpdated`: the phase stays what it was (Pending when unset) unless a
    // rule below sets it; later rules win.
    let provisioned = m.bool_at("/status/initialization/infrastructureProvisioned");
    let mut phase = match m.str_at("/status/phase") {
        Some("Provisioning") => "Provisioning",
        Some("Provisioned") => "Provisioned",
        Some("Running") => "Running",
        Some("Updating") => "Updating",
        Some("Deleting") => "Deleting",
        Some("Failed") => "Failed",
        Some("Unknown") => "Unknown",
        _ => "Pending",
    };
    if m.bool_at("/status/initialization/bootstrapDataSecretCreated") && !provisioned {
        phase = "Provisioning";
    }
    if m.str_at("/spec/providerID").is_some_and(|p| !p.is_empty()) {
        phase = "Provisioned";
    }
    if m.str_at("/status/nodeRef/name").is_some() && provisioned {
        phase = "Running";
    }
    if m.deleting() {
        phase = "Deleting";
    }
    StatusUpdate { phase, conditions: conds, requeue }
}

/// Write what [`compute`] decided (`lastUpdated` moves with the phase).
pub(super) fn apply(o: &mut Object, st: StatusUpdate, now: u64) {
    if o.str_at("/status/phase") != Some(st.phase) {
        o.set("/status/lastUpdated", json!(timestamp(now)));
    }
    o.set("/status/phase", json!(st.phase));
    conditions::set(o, st.conditions, now);
    let g = o.meta.generation;
    o.set("/status/observedGeneration", json!(g));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(t: &str, s: NodeStatus, m: &str) -> (String, NodeStatus, String) {
        (t.to_string(), s, m.to_string())
    }

    /// `machine_controller_status_test.go: TestSummarizeNodeConditions` (all healthy, one pressure,
    /// the same message everywhere becomes `Node.AllConditions`).
    #[test]
    fn node_conditions_summarize_as_upstream() {
        let ok = [
            c("Ready", NodeStatus::True, ""),
            c("MemoryPressure", NodeStatus::False, ""),
            c("DiskPressure", NodeStatus::False, ""),
            c("PIDPressure", NodeStatus::False, ""),
        ];
        assert_eq!(summarize_node(&ok), (Status::True, "NodeHealthy", String::new()));
        let mut disk = ok.clone();
        disk[2] = c("DiskPressure", NodeStatus::True, "disk is full");
        assert_eq!(summarize_node(&disk), (Status::False, "NodeNotHealthy", "* Node.DiskPressure: disk is full".into()));
        let stopped = "Kubelet stopped posting node status.";
        let all = [
            c("Ready", NodeStatus::Unknown, stopped),
            c("MemoryPressure", NodeStatus::Unknown, stopped),
            c("DiskPressure", NodeStatus::Unknown, stopped),
            c("PIDPressure", NodeStatus::Unknown, stopped),
        ];
        assert_eq!(summarize_node(&all), (Status::Unknown, "NodeHealthyUnknown", format!("* Node.AllConditions: {stopped}")));
        assert_eq!(
            summarize_node(&ok[..1]),
            (
                Status::Unknown,
                "NodeHealthyUnknown",
                "* Node.MemoryPressure: Condition not yet reported\n* Node.DiskPressure: Condition not yet reported\n* Node.PIDPressure: Condition not yet reported".into()
            )
        );
    }

    /// `machine_controller_status_test.go: TestTransformControlPlaneAndEtcdConditions`.
    #[test]
    fn control_plane_gates_group_when_they_agree() {
        let same = vec!["* APIServerPodHealthy: foo".to_string(), "* ControllerManagerPodHealthy: foo".into(), "* Other: bar".into()];
        assert_eq!(transform_control_plane(same), vec!["* Control plane components: foo".to_string(), "* Other: bar".into()]);
        let differ = vec!["* APIServerPodHealthy: foo".to_string(), "* SchedulerPodHealthy: bar".into()];
        assert_eq!(transform_control_plane(differ.clone()), differ);
        let one = vec!["* APIServerPodHealthy: foo".to_string()];
        assert_eq!(transform_control_plane(one.clone()), one);
    }
}

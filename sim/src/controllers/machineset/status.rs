//! MachineSet status: `replicas` (every Machine, deleting ones included), `readyReplicas`,
//! `availableReplicas`, `upToDateReplicas` (from the Machines' `Ready`, `Available`, `UpToDate`
//! conditions), `versions`, `selector`, `observedGeneration` (only after an error-free reconcile) and the
//! conditions `ScalingUp`, `ScalingDown`, `MachinesReady`, `MachinesUpToDate`, `Remediating`,
//! `Deleting`; plus the requeue while replicas are not all ready.
//! Source: `core/reconcilers/machineset/machineset_controller_status.go`,
//! `core/reconcilers/machineset/machineset_controller.go` (`shouldRequeueForReplicaCountersRefresh`).

use super::{selector_at, Scope, REPLICAS_REQUEUE_MS};
use crate::controllers::conditions::{self, Cond, Status};
use crate::controllers::mdutil;
use crate::object::Object;
use crate::runtime::{Action, Ctx};
use serde_json::{json, Value};

/// The status one reconcile computed.
pub(super) struct Computed {
    counters: Option<Counters>,
    versions: Option<Vec<(String, i64)>>,
    selector: String,
    conds: Vec<Cond>,
}

#[derive(Clone, Copy)]
struct Counters {
    replicas: i64,
    ready: i64,
    available: i64,
    up_to_date: i64,
}

fn missing_refs(s: &Scope) -> String {
    let mut missing = Vec::new();
    if s.bootstrap_not_found {
        missing.push(s.ms.str_at("/spec/template/spec/bootstrap/configRef/kind").unwrap_or("").to_string());
    }
    if s.infra_not_found {
        missing.push(s.ms.str_at("/spec/template/spec/infrastructureRef/kind").unwrap_or("").to_string());
    }
    match missing.len() {
        0 => String::new(),
        1 => format!("{} does not exist", missing[0]),
        _ => format!("{} do not exist", missing.join(" and ")),
    }
}

fn internal_error(t: &str) -> Cond {
    Cond::u(t, "InternalError", "Please check controller logs for errors")
}

pub(super) fn compute(ctx: &Ctx<'_>, s: &Scope) -> Computed {
    let now = ctx.now;
    let machines: Vec<&Object> = s.machines.iter().map(|m| &**m).collect();
    let selector = selector_at(&s.ms, "/spec/selector").map(|sel| sel.to_string()).unwrap_or_default();
    let spec = s.ms.i64_at("/spec/replicas");
    let deleting = s.ms.deleting();
    let mut conds = Vec::new();
    if !s.adopted {
        for t in ["ScalingUp", "ScalingDown", "MachinesReady", "MachinesUpToDate", "Remediating", "Deleting"] {
            conds.push(internal_error(t));
        }
        return Computed { counters: None, versions: None, selector, conds };
    }
    let count = |t: &str| machines.iter().filter(|m| conditions::is_true(m, t)).count() as i64;
    let counters =
        Counters { replicas: machines.len() as i64, ready: count("Ready"), available: count("Available"), up_to_date: count("UpToDate") };
    let current = machines.len() as i64;
    match spec {
        None => {
            conds.push(Cond::u("ScalingUp", "WaitingForReplicasSet", "Waiting for spec.replicas set"));
            conds.push(Cond::u("ScalingDown", "WaitingForReplicasSet", "Waiting for spec.replicas set"));
        }
        Some(spec) => {
            let desired = if deleting { 0 } else { spec };
            let missing = missing_refs(s);
            if current >= desired {
                let msg =
                    if !deleting && !missing.is_empty() { format!("Scaling up would be blocked because {missing}") } else { String::new() };
                conds.push(Cond::f("ScalingUp", "NotScalingUp", msg));
            } else {
                let mut msg = format!("Scaling up from {current} to {desired} replicas");
                if !missing.is_empty() || !s.preflight_msgs.is_empty() {
                    let mut list: Vec<String> = s.preflight_msgs.iter().map(|m| format!("* {m}")).collect();
                    if !missing.is_empty() {
                        list.push(format!("* {missing}"));
                    }
                    msg.push_str(&format!(" is blocked because:\n{}", list.join("\n")));
                }
                conds.push(Cond::new("ScalingUp", Status::True, "ScalingUp", msg));
            }
            if current > desired {
                let mut msg = format!("Scaling down from {current} to {desired} replicas");
                let stale = mdutil::stale_machines_message(&machines, now);
                if !stale.is_empty() {
                    msg.push_str(&format!("\n* {stale}"));
                }
                conds.push(Cond::new("ScalingDown", Status::True, "ScalingDown", msg));
            } else {
                conds.push(Cond::f("ScalingDown", "NotScalingDown", ""));
            }
        }
    }
    conds.push(mdutil::machines_ready_condition(&machines));
    conds.push(mdutil::machines_up_to_date_condition(&machines, now));
    conds.push(mdutil::remediating_condition(&machines, "MachineSet"));
    conds.push(if !deleting {
        Cond::f("Deleting", "NotDeleting", "")
    } else {
        let mut msg = match machines.len() {
            0 => String::new(),
            1 => "Deleting 1 Machine".to_string(),
            n => format!("Deleting {n} Machines"),
        };
        let stale = mdutil::stale_machines_message(&machines, now);
        if !msg.is_empty() && !stale.is_empty() {
            msg.push_str(&format!("\n* {stale}"));
        }
        if msg.is_empty() {
            msg = "Deletion completed".into();
        }
        Cond::new("Deleting", Status::True, "Deleting", msg)
    });
    let versions = Some(mdutil::versions_from_machines(&machines));
    Computed { counters: Some(counters), versions, selector, conds }
}

pub(super) fn apply(o: &mut Object, c: &Computed, observed: Option<i64>, now: u64) {
    o.set("/status/selector", Value::String(c.selector.clone()));
    if let Some(n) = c.counters {
        o.set("/status/replicas", json!(n.replicas));
        o.set("/status/readyReplicas", json!(n.ready));
        o.set("/status/availableReplicas", json!(n.available));
        o.set("/status/upToDateReplicas", json!(n.up_to_date));
    }
    match &c.versions {
        Some(v) if v.is_empty() => {
            o.remove("/status/versions");
        }
        Some(v) => o.set("/status/versions", mdutil::versions_json(v)),
        None => {}
    }
    conditions::set(o, c.conds.clone(), now);
    if let Some(g) = observed {
        o.set("/status/observedGeneration", json!(g));
    }
}

/// `shouldRequeueForReplicaCountersRefresh`.
pub(super) fn requeue(s: &Scope, c: &Computed) -> Action {
    let replicas = s.ms.i64_at("/spec/replicas").unwrap_or(0);
    let min_ready = s.ms.i64_at("/spec/template/spec/minReadySeconds").unwrap_or(0);
    let (ready, available) = match c.counters {
        Some(n) => (n.ready, n.available),
        None => (s.ms.i64_at("/status/readyReplicas").unwrap_or(0), s.ms.i64_at("/status/availableReplicas").unwrap_or(0)),
    };
    if min_ready > 0 && ready == replicas && available != replicas {
        return Action::requeue(min_ready as u64 * 1000);
    }
    if ready != replicas {
        return Action::requeue(REPLICAS_REQUEUE_MS);
    }
    Action::DONE
}

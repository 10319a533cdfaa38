//! MachineDeployment status: replica counters summed over its MachineSets (unset while no MachineSet
//! reports them), `versions`, `selector`, `phase` (ScalingUp / ScalingDown / Running / Unknown), and the
//! conditions `Available` (availableReplicas ≥ replicas − maxUnavailable), `RollingOut`, `ScalingUp`,
//! `ScalingDown`, `MachinesReady`, `MachinesUpToDate`, `Remediating`, `Deleting`.
//! Source: `core/reconcilers/machinedeployment/machinedeployment_status.go`.

use super::Scope;
use crate::controllers::conditions::{self, Cond, Status};
use crate::controllers::machineset::selector_at;
use crate::controllers::mdutil::{self, Rollout};
use crate::object::Object;
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// The status one reconcile computed.
pub(super) struct Computed {
    counters: Option<[Option<i64>; 4]>,
    versions: Option<Vec<(String, i64)>>,
    selector: String,
    phase: &'static str,
    conds: Vec<Cond>,
}

fn sum(mss: &[&Object], p: &str) -> Option<i64> {
    mss.iter().filter_map(|m| m.i64_at(p)).fold(None, |acc, v| Some(acc.unwrap_or(0) + v))
}

fn missing_refs(s: &Scope) -> String {
    let mut missing = Vec::new();
    if s.bootstrap_not_found {
        missing.push(s.md.str_at("/spec/template/spec/bootstrap/configRef/kind").unwrap_or("").to_string());
    }
    if s.infra_not_found {
        missing.push(s.md.str_at("/spec/template/spec/infrastructureRef/kind").unwrap_or("").to_string());
    }
    match missing.len() {
        0 => String::new(),
        1 => format!("because {} does not exist", missing[0]),
        _ => format!("because {} do not exist", missing.join(" and ")),
    }
}

fn int_or_string(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => "<nil>".into(),
        Some(other) => other.to_string(),
    }
}

/// `setRollingOutCondition`: Machines whose `UpToDate` is False, with the reasons (version first).
pub fn rolling_out(machines: &[&Object]) -> Cond {
    let mut n = 0;
    let mut reasons = BTreeSet::new();
    for m in machines {
        if let Some(c) = conditions::get(m, "UpToDate").filter(|c| c.status == Status::False) {
            n += 1;
            reasons.extend(c.message.split('\n').filter(|l| !l.is_empty()).map(str::to_string));
        }
    }
    if n == 0 {
        return Cond::f("RollingOut", "NotRollingOut", "");
    }
    let mut msg = format!("Rolling out {n} not up-to-date replicas");
    if !reasons.is_empty() {
        let mut list: Vec<String> = reasons.into_iter().collect();
        list.sort_by(|a, b| (!a.starts_with("* Version")).cmp(&!b.starts_with("* Version")).then_with(|| a.cmp(b)));
        msg.push_str(&format!("\n{}", list.join("\n")));
    }
    Cond::new("RollingOut", Status::True, "RollingOut", msg)
}

pub(super) fn compute(s: &Scope, now: u64) -> Computed {
    let md = &s.md;
    let selector = selector_at(md, "/spec/selector").map(|sel| sel.to_string()).unwrap_or_default();
    let mss: Vec<&Object> = s.mss.iter().map(|m| &**m).collect();
    let machines: Vec<&Object> = s.machines.iter().map(|m| &**m).collect();
    let spec = md.i64_at("/spec/replicas");
    let deleting = md.deleting();
    let counters = s.adopted.then(|| {
        [
            sum(&mss, "/status/replicas"),
            sum(&mss, "/status/readyReplicas"),
            sum(&mss, "/status/availableReplicas"),
            sum(&mss, "/status/upToDateReplicas"),
        ]
    });
    let versions = s.adopted.then(|| mdutil::aggregate_versions(mss.iter().map(|m| mdutil::versions_of(m))));
    let current = sum(&mss, "/status/replicas").unwrap_or(0);
    let phase = match spec {
        _ if !s.adopted => "Unknown",
        None => "Unknown",
        Some(_) if deleting => "ScalingDown",
        Some(d) if d == current => "Running",
        Some(d) if d < current => "ScalingDown",
        Some(_) => "ScalingUp",
    };
    let mut conds = Vec::new();
    let internal = |t: &str| Cond::u(t, "InternalError", "Please check controller logs for errors");
    // Available.
    let available = match counters {
        Some(c) => c[2],
        None => md.i64_at("/status/availableReplicas"),
    };
    conds.push(match (s.adopted, spec, available) {
        (false, _, _) => internal("Available"),
        (_, None, _) => Cond::u("Available", "WaitingForReplicasSet", "Waiting for spec.replicas set"),
        (_, _, None) => Cond::u("Available", "WaitingForAvailableReplicasSet", "Waiting for status.availableReplicas set"),
        (_, Some(replicas), Some(avail)) => {
            let rollout = Rollout::of(md);
            let min_needed = replicas - rollout.max_unavailable();
            if avail >= min_needed {
                Cond::t("Available", "Available")
            } else {
                let mut msg = format!("{avail} available replicas, at least {min_needed} required");
                if rollout.is_rolling() {
                    msg.push_str(&format!(
                        " (spec.strategy.rollout.maxUnavailable is {}, spec.replicas is {replicas})",
                        int_or_string(rollout.max_unavailable.as_ref())
                    ));
                }
                if deleting {
                    msg = "Deletion in progress".into();
                }
                Cond::f("Available", "NotAvailable", msg)
            }
        }
    });
    conds.push(rolling_out(&machines));
    // ScalingUp / ScalingDown.
    match (s.adopted, spec) {
        (false, _) => {
            conds.push(internal("ScalingUp"));
            conds.push(internal("ScalingDown"));
        }
        (_, None) => {
            conds.push(Cond::u("ScalingUp", "WaitingForReplicasSet", "Waiting for spec.replicas set"));
            conds.push(Cond::u("ScalingDown", "WaitingForReplicasSet", "Waiting for spec.replicas set"));
        }
        (_, Some(replicas)) => {
            let desired = if deleting { 0 } else { replicas };
            let missing = missing_refs(s);
            conds.push(if current >= desired {
                let msg = if !deleting && !missing.is_empty() { format!("Scaling up would be blocked {missing}") } else { String::new() };
                Cond::f("ScalingUp", "NotScalingUp", msg)
            } else {
                let mut msg = format!("Scaling up from {current} to {desired} replicas");
                if !missing.is_empty() {
                    msg.push_str(&format!(" is blocked {missing}"));
                }
                Cond::new("ScalingUp", Status::True, "ScalingUp", msg)
            });
            conds.push(if current > desired {
                let mut msg = format!("Scaling down from {current} to {desired} replicas");
                let stale = mdutil::stale_machines_message(&machines, now);
                if !stale.is_empty() {
                    msg.push_str(&format!("\n* {stale}"));
                }
                Cond::new("ScalingDown", Status::True, "ScalingDown", msg)
            } else {
                Cond::f("ScalingDown", "NotScalingDown", "")
            });
        }
    }
    conds.push(mdutil::machines_ready_condition(&machines));
    conds.push(mdutil::machines_up_to_date_condition(&machines, now));
    conds.push(mdutil::remediating_condition(&machines, "MachineDeployment/MachineSet"));
    conds.push(if !s.adopted {
        internal("Deleting")
    } else if !deleting {
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
        if machines.is_empty() && !mss.is_empty() {
            msg = format!("Deleting {} MachineSets", mss.len());
        }
        if msg.is_empty() {
            msg = "Deletion completed".into();
        }
        Cond::new("Deleting", Status::True, "Deleting", msg)
    });
    Computed { counters, versions, selector, phase, conds }
}

pub(super) fn apply(o: &mut Object, c: &Computed, observed: Option<i64>, now: u64) {
    o.set("/status/selector", Value::String(c.selector.clone()));
    if let Some(counters) = c.counters {
        for (p, v) in
            ["/status/replicas", "/status/readyReplicas", "/status/availableReplicas", "/status/upToDateReplicas"].iter().zip(counters)
        {
            match v {
                Some(v) => o.set(p, json!(v)),
                None => {
                    o.remove(p);
                }
            }
        }
    }
    match &c.versions {
        Some(v) if v.is_empty() => {
            o.remove("/status/versions");
        }
        Some(v) => o.set("/status/versions", mdutil::versions_json(v)),
        None => {}
    }
    o.set("/status/phase", Value::String(c.phase.to_string()));
    conditions::set(o, c.conds.clone(), now);
    if let Some(g) = observed {
        o.set("/status/observedGeneration", json!(g));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::Kind;

    #[test]
    fn rolling_out_lists_version_first() {
        let mk = |n: &str, msg: &str| {
            let mut o = Object::new(Kind::Machine, "default", n);
            conditions::set(&mut o, [Cond::f("UpToDate", "NotUpToDate", msg)], 0);
            o
        };
        let a = mk("a", "* DockerMachine is not up-to-date\n* Version v1.33.0, v1.34.0 required");
        let b = mk("b", "* Version v1.33.0, v1.34.0 required");
        let c = rolling_out(&[&a, &b]);
        assert_eq!(c.status, Status::True);
        assert_eq!(
            c.message,
            "Rolling out 2 not up-to-date replicas\n* Version v1.33.0, v1.34.0 required\n* DockerMachine is not up-to-date"
        );
        assert_eq!(rolling_out(&[]).status, Status::False);
    }
}

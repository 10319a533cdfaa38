//! MachineSet remediation of Machines the MachineHealthCheck hands over (`HealthCheckSucceeded` False
//! and `OwnerRemediated` False): only the MachineDeployment's current MachineSet remediates (others mark
//! `CannotBeRemediated`), at most `spec.remediation.maxInFlight` of the MachineDeployment at a time
//! (Machines already deleting with reason `MachineDeleting` count), newest first (the
//! `remediate-machine` annotation first), after the preflight checks; remediation marks
//! `OwnerRemediated` False `MachineDeleting` and deletes the Machine — `syncReplicas` creates the
//! replacement. Healthy Machines lose a stale `OwnerRemediated`.
//! Source: `core/reconcilers/machineset/machineset_controller.go` (`reconcileUnhealthyMachines`).

use super::{is_deployment_child, preflight, Scope};
use crate::controllers::common::keys;
use crate::controllers::conditions::{self, Cond, Status};
use crate::controllers::mdutil;
use crate::object::Object;
use crate::runtime::{Action, Ctx, ReconcileError, ReconcileResult};
use serde_json::Value;
use std::sync::Arc;

/// `OwnerRemediated` reason while the remediation deletes the Machine.
pub const MACHINE_DELETING: &str = "MachineDeleting";
/// `OwnerRemediated` reason when remediation must wait.
pub const DEFERRED: &str = "RemediationDeferred";
/// `OwnerRemediated` reason for Machines of an old MachineSet.
pub const CANNOT_BE_REMEDIATED: &str = "CannotBeRemediated";

fn patch_condition(ctx: &mut Ctx<'_>, machines: &[Arc<Object>], cond: &Cond) -> Result<(), ReconcileError> {
    let mut errs = Vec::new();
    let now = ctx.now;
    for m in machines {
        let c = cond.clone();
        match ctx.patch_status(&m.key(), |o| conditions::set(o, [c], now)) {
            Ok(_) => {}
            Err(e) if e.is_not_found() => {}
            Err(e) => errs.push(e.message),
        }
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(ReconcileError(format!("failed to patch Machines: {}", errs.join("; "))))
    }
}

/// Remediate-annotation first, then newest, then name (`sortMachinesToRemediate`).
pub fn sort_to_remediate(v: &mut [Arc<Object>]) {
    v.sort_by(|a, b| {
        let ra = a.meta.annotations.contains_key(keys::REMEDIATE_MACHINE);
        let rb = b.meta.annotations.contains_key(keys::REMEDIATE_MACHINE);
        rb.cmp(&ra).then_with(|| b.meta.creation_ms.cmp(&a.meta.creation_ms)).then_with(|| a.name().cmp(b.name()))
    });
}

fn int_or_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `reconcileUnhealthyMachines`.
pub(super) fn reconcile(ctx: &mut Ctx<'_>, s: &mut Scope) -> ReconcileResult {
    // Healthy again: drop OwnerRemediated.
    let mut errs = Vec::new();
    for m in &s.machines {
        if !m.deleting() && conditions::is_true(m, "HealthCheckSucceeded") && conditions::is_false(m, "OwnerRemediated") {
            if let Err(e) = ctx.patch_status(&m.key(), |o| conditions::remove(o, "OwnerRemediated")) {
                errs.push(e.message);
            }
        }
    }
    if !errs.is_empty() {
        return Err(format!("failed to remove OwnerRemediated condition from healhty Machines: {}", errs.join("; ")).into());
    }
    let mut to_remediate: Vec<Arc<Object>> =
        s.machines.iter().filter(|m| mdutil::is_unhealthy_and_owner_remediated(m) && !m.deleting()).cloned().collect();
    if to_remediate.is_empty() {
        return Ok(Action::DONE);
    }
    let mut max_in_flight = i64::MAX;
    let mut max_in_flight_text = String::new();
    if is_deployment_child(&s.ms) {
        let Some(md) = s.md.clone() else { return Ok(Action::DONE) };
        if md.annotation(keys::REVISION) != s.ms.annotation(keys::REVISION) {
            let c = Cond::f(
                "OwnerRemediated",
                CANNOT_BE_REMEDIATED,
                "Machine won't be remediated because it is pending removal due to rollout",
            );
            patch_condition(ctx, &to_remediate, &c)?;
            return Ok(Action::DONE);
        }
        if let Some(v) = md.at("/spec/remediation/maxInFlight").filter(|v| !v.is_null()) {
            let replicas = md.i64_at("/spec/replicas").unwrap_or(1);
            max_in_flight = mdutil::scaled_value(Some(v), replicas, true)
                .map_err(|e| format!("failed to calculate maxInFlight to remediate machines: {e}"))?;
            max_in_flight_text = int_or_string(v);
        }
    }
    // Remediations still in flight use up tokens.
    for m in &s.machines {
        if m.deleting() && conditions::get(m, "OwnerRemediated").is_some_and(|c| c.status == Status::False && c.reason == MACHINE_DELETING)
        {
            max_in_flight -= 1;
        }
    }
    let deferred_msg = format!(
        "Waiting because there are already too many remediations in progress (spec.strategy.remediation.maxInFlight is {max_in_flight_text})"
    );
    if max_in_flight <= 0 {
        ctx.note("remediation: maximum in flight reached");
        patch_condition(ctx, &to_remediate, &Cond::f("OwnerRemediated", DEFERRED, deferred_msg))?;
        return Ok(Action::DONE);
    }
    sort_to_remediate(&mut to_remediate);
    if to_remediate.len() as i64 > max_in_flight {
        let deferred = to_remediate.split_off(max_in_flight as usize);
        patch_condition(ctx, &deferred, &Cond::f("OwnerRemediated", DEFERRED, deferred_msg))?;
    }
    let preflight = preflight::run(ctx, &s.cluster, &s.ms, "Machine remediation");
    let msgs = match &preflight {
        Ok(m) => m.clone(),
        Err(e) => vec![e.clone()],
    };
    if !msgs.is_empty() {
        let text = msgs.iter().map(|m| format!("* {m}")).collect::<Vec<_>>().join("\n");
        patch_condition(ctx, &to_remediate, &Cond::f("OwnerRemediated", DEFERRED, text))?;
        return match preflight {
            Err(e) => Err(ReconcileError(e)),
            Ok(_) => Ok(Action::requeue(preflight::PREFLIGHT_FAILED_REQUEUE_MS)),
        };
    }
    // Mark first, then delete, so a retried reconcile still finds the reason.
    patch_condition(ctx, &to_remediate, &Cond::f("OwnerRemediated", MACHINE_DELETING, "Machine is deleting"))?;
    let mut errs = Vec::new();
    for m in &to_remediate {
        match ctx.delete(&m.key()) {
            Ok(_) => ctx.note(format!("deleting Machine {} (remediating unhealthy Machine)", m.name())),
            Err(e) if e.is_not_found() => {}
            Err(e) => errs.push(format!("failed to delete Machine {}/{}: {}", m.namespace(), m.name(), e.message)),
        }
    }
    if errs.is_empty() {
        Ok(Action::DONE)
    } else {
        Err(ReconcileError(format!("failed to delete unhealthy Machines: {}", errs.join("; "))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::Kind;

    #[test]
    fn remediation_order_is_annotation_then_newest() {
        let mk = |n: &str, created: u64, ann: bool| {
            let mut o = Object::new(Kind::Machine, "default", n);
            o.meta.creation_ms = created;
            if ann {
                o.meta.annotations.insert(keys::REMEDIATE_MACHINE.into(), "".into());
            }
            Arc::new(o)
        };
        let mut v = vec![mk("old", 1, false), mk("new", 9, false), mk("ann", 0, true), mk("new2", 9, false)];
        sort_to_remediate(&mut v);
        let names: Vec<&str> = v.iter().map(|m| m.name()).collect();
        assert_eq!(names, vec!["ann", "new", "new2", "old"]);
    }
}

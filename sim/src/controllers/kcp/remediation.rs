//! Remediation of unhealthy control-plane Machines (those MHC marked `HealthCheckSucceeded` False
//! and left to their owner with `OwnerRemediated` False): one at a time (tracked by the
//! `remediation-in-progress` annotation on the KCP until the replacement exists), within the retry
//! limits, and — once the control plane is initialized — only when it is safe (more than one Machine,
//! none provisioning or deleting, etcd readable, components and quorum kept). The replacement comes
//! from the normal scale-up and inherits the data as `remediation-for`.
//! Source: `controlplane/kubeadm/reconcilers/kubeadmcontrolplane/remediation.go`.

use super::consistency::Wrote;
use super::etcd::forward_leadership;
use super::preflight::{target_components_healthy, target_etcd_healthy, topology_version_mismatch};
use super::scope::{cond, ControlPlane, REMEDIATION_FOR, REMEDIATION_IN_PROGRESS};
use super::selection::remediation_order;
use crate::controllers::conditions::{self, Cond};
use crate::object::{parse_timestamp, timestamp, Object};
use crate::runtime::{Action, Ctx, ReconcileError};
use serde_json::{json, Value};

/// `DefaultMinHealthyPeriodSeconds`.
pub const DEFAULT_MIN_HEALTHY_PERIOD_S: u64 = 3600;

/// The JSON stored in the remediation annotations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemediationData {
    /// The Machine remediated last.
    pub machine: String,
    /// When (simulated ms, whole seconds).
    pub timestamp_ms: u64,
    /// Retries so far for the same failure.
    pub retry_count: i64,
}

impl RemediationData {
    /// Parse an annotation value.
    pub fn parse(v: &str) -> Result<RemediationData, String> {
        let j: Value =
            serde_json::from_str(v).map_err(|e| format!("failed to unmarshal value {v} for RemediationInProgress annotation: {e}"))?;
        Ok(RemediationData {
            machine: j.get("machine").and_then(Value::as_str).unwrap_or("").to_string(),
            timestamp_ms: j.get("timestamp").and_then(Value::as_str).and_then(parse_timestamp).unwrap_or(0),
            retry_count: j.get("retryCount").and_then(Value::as_i64).unwrap_or(0),
        })
    }

    /// The annotation value (Go's field order).
    pub fn marshal(&self) -> String {
        format!(
            "{{\"machine\":{},\"timestamp\":{},\"retryCount\":{}}}",
            Value::String(self.machine.clone()),
            Value::String(timestamp(self.timestamp_ms)),
            self.retry_count
        )
    }

    /// `status.lastRemediation`.
    pub fn to_status(&self) -> Value {
        json!({"machine": self.machine, "time": timestamp(self.timestamp_ms), "retryCount": self.retry_count})
    }
}

/// The outcome of `checkRetryLimits`: remediate with this data, or why not (reason, message).
pub fn check_retry_limits(kcp: &Object, m: &Object, now: u64) -> Result<RemediationData, (&'static str, String)> {
    let mut data = RemediationData { machine: m.name().to_string(), timestamp_ms: now / 1000 * 1000, retry_count: 0 };
    let Some(last) = m.annotation(REMEDIATION_FOR).and_then(|v| RemediationData::parse(v).ok()) else {
        return Ok(data);
    };
    let min_healthy =
        kcp.i64_at("/spec/remediation/minHealthyPeriodSeconds").map_or(DEFAULT_MIN_HEALTHY_PERIOD_S, |s| s.max(0) as u64) * 1000;
    let retry_period = kcp.i64_at("/spec/remediation/retryPeriodSeconds").unwrap_or(0).max(0) as u64 * 1000;
    let last_time = if last.timestamp_ms == 0 { now.saturating_sub(2 * min_healthy.max(retry_period)) } else { last.timestamp_ms };
    if last_time + min_healthy <= now {
        // The previous remediation is old: this is a new failure, not a retry.
        return Ok(data);
    }
    data.retry_count = last.retry_count;
    if last_time + retry_period > now {
        // `%s` of a `time.Duration`: Go's duration format (`10m0s`).
        let period = crate::godur::go_duration_ms(retry_period as i64);
        return Err((
            "RemediationDeferred",
            format!("KubeadmControlPlane can't remediate this machine because the operation already failed in the latest {period} (RetryPeriodSeconds)"),
        ));
    }
    if let Some(max) = kcp.i64_at("/spec/remediation/maxRetry") {
        if data.retry_count >= max {
            return Err((
                "CannotBeRemediated",
                format!("KubeadmControlPlane can't remediate this machine because the operation already failed {max} times (MaxRetry)"),
            ));
        }
    }
    data.retry_count += 1;
    Ok(data)
}

fn set_owner_remediated(ctx: &mut Ctx<'_>, cp: &mut ControlPlane, name: &str, reason: &str, message: &str) -> Result<(), ReconcileError> {
    let now = ctx.now;
    let c = Cond::f(cond::OWNER_REMEDIATED, reason, message);
    if let Some(m) = cp.machine_mut(name) {
        conditions::set(m, [c.clone()], now);
        let key = m.key();
        match ctx.patch_status(&key, |o| conditions::set(o, [c], now)) {
            Ok(_) => {}
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(format!("failed to patch control plane Machine {name}: {}", e.message).into()),
        }
    }
    Ok(())
}

/// `reconcileUnhealthyMachines`. `Some(action)` stops the reconcile.
pub fn reconcile(ctx: &mut Ctx<'_>, cp: &mut ControlPlane) -> Result<Option<Action>, ReconcileError> {
    let now = ctx.now;
    // Healthy-again Machines lose a stale OwnerRemediated.
    let stale: Vec<String> = cp
        .machines
        .iter()
        .filter(|m| {
            !m.deleting() && conditions::is_true(m, cond::HEALTH_CHECK_SUCCEEDED) && conditions::is_false(m, cond::OWNER_REMEDIATED)
        })
        .map(|m| m.name().to_string())
        .collect();
    for name in stale {
        if let Some(m) = cp.machine_mut(&name) {
            conditions::remove(m, cond::OWNER_REMEDIATED);
            let key = m.key();
            match ctx.patch_status(&key, |o| conditions::remove(o, cond::OWNER_REMEDIATED)) {
                Ok(_) => {}
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    // A stale in-progress annotation (its replacement exists) is dropped.
    if let Some(v) = cp.kcp.annotation(REMEDIATION_IN_PROGRESS).map(str::to_string) {
        let data = RemediationData::parse(&v).map_err(ReconcileError)?;
        if cp.machines.iter().any(|m| m.meta.creation_ms / 1000 * 1000 > data.timestamp_ms) {
            cp.kcp.meta.annotations.remove(REMEDIATION_IN_PROGRESS);
        }
    }
    let managed = cp.etcd_managed();
    let mut candidates: Vec<&Object> = cp.to_be_remediated();
    if candidates.is_empty() {
        return Ok(None);
    }
    candidates.sort_by(|a, b| remediation_order(a, b, managed));
    let target = candidates[0].clone();
    if target.deleting() {
        return Ok(None);
    }
    if cp.kcp.annotation(REMEDIATION_IN_PROGRESS).is_some() {
        ctx.note("Another remediation is already in progress. Skipping remediation.");
        return Ok(None);
    }
    let name = target.name().to_string();
    if let Some(v) = topology_version_mismatch(cp, ctx.gates().cluster_topology) {
        let msg = format!(
            "KubeadmControlPlane can't remediate while waiting for a version upgrade to {v} to be propagated from Cluster.spec.topology"
        );
        set_owner_remediated(ctx, cp, &name, "RemediationDeferred", &msg)?;
        return Ok(None);
    }
    let data = match check_retry_limits(&cp.kcp, &target, now) {
        Ok(d) => d,
        Err((reason, msg)) => {
            set_owner_remediated(ctx, cp, &name, reason, &msg)?;
            return Ok(None);
        }
    };
    if cp.initialized() {
        let blocked: Option<(&str, &str)> = if cp.machines.len() <= 1 {
            Some(("CannotBeRemediated", "KubeadmControlPlane can't remediate if current replicas are less or equal to 1"))
        } else if cp.has_healthy_machine_still_provisioning() {
            Some((
                "RemediationDeferred",
                "KubeadmControlPlane waiting for control plane Machine provisioning to complete before triggering remediation",
            ))
        } else if cp.has_deleting() {
            Some((
                "RemediationDeferred",
                "KubeadmControlPlane waiting for control plane Machine deletion to complete before triggering remediation",
            ))
        } else if cp.etcd_members.as_ref().is_none_or(Vec::is_empty) || cp.node_list_error.is_some() {
            Some(("RemediationDeferred", "Failed to check etcd cluster health before remediation"))
        } else if !can_safely_remediate(cp, &target) {
            Some((
                "CannotBeRemediated",
                "KubeadmControlPlane can't remediate this Machine because this could result in loosing Kubernetes control plane components or in etcd quorum loss",
            ))
        } else {
            None
        };
        if let Some((reason, msg)) = blocked {
            ctx.note(format!("A control plane machine needs remediation, but: {msg}. Skipping remediation"));
            set_owner_remediated(ctx, cp, &name, reason, msg)?;
            return Ok(None);
        }
        if managed {
            if let Err(e) = forward_leadership(ctx, cp, &name) {
                set_owner_remediated(ctx, cp, &name, "CannotBeRemediated", &e.0)?;
                return Err(e);
            }
        }
    }
    match ctx.delete(&target.key()) {
        Ok(_) => cp.wrote.push(Wrote::Deleted(target.key())),
        Err(e) if e.is_not_found() => {}
        Err(e) => {
            set_owner_remediated(ctx, cp, &name, "InternalError", "Please check controller logs for errors")?;
            return Err(format!("failed to delete unhealthy machine {name}: {}", e.message).into());
        }
    }
    ctx.note(format!("Deleting Machine {name} (remediating unhealthy Machine)"));
    set_owner_remediated(ctx, cp, &name, "MachineDeleting", "Machine is deleting")?;
    cp.kcp.meta.annotations.insert(REMEDIATION_IN_PROGRESS.into(), data.marshal());
    Ok(Some(Action::requeue(1)))
}

/// `canSafelyRemediateMachine`.
fn can_safely_remediate(cp: &ControlPlane, m: &Object) -> bool {
    if !target_components_healthy(cp, false, Some(m.name())) {
        return false;
    }
    if !cp.etcd_managed() {
        return true;
    }
    // An unknown member name (no Node yet): remediation goes on, as user intent; the pre-terminate
    // hook checks again.
    let member = cp.etcd_member_name(m);
    if member.is_empty() {
        return true;
    }
    if cp.etcd_members.as_ref().is_none_or(Vec::is_empty) {
        return false;
    }
    target_etcd_healthy(cp, false, Some(&member))
}

/// The remediation to show in `status.lastRemediation`: the one in progress, else the newest
/// `remediation-for` on a Machine.
pub fn last_remediation(cp: &ControlPlane) -> Option<RemediationData> {
    if let Some(v) = cp.kcp.annotation(REMEDIATION_IN_PROGRESS) {
        return RemediationData::parse(v).ok();
    }
    cp.machines.iter().filter_map(|m| m.annotation(REMEDIATION_FOR).and_then(|v| RemediationData::parse(v).ok())).fold(
        None,
        |best: Option<RemediationData>, d| match best {
            Some(b) if b.timestamp_ms >= d.timestamp_ms => Some(b),
            _ => Some(d),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::Kind;
    use rstest::rstest;

    fn kcp(max_retry: Option<i64>, retry_period: Option<i64>) -> Object {
        let mut k = Object::new(Kind::KubeadmControlPlane, "default", "cp");
        if let Some(m) = max_retry {
            k.set("/spec/remediation/maxRetry", json!(m));
        }
        if let Some(p) = retry_period {
            k.set("/spec/remediation/retryPeriodSeconds", json!(p));
        }
        k
    }

    fn machine(last: Option<(u64, i64)>) -> Object {
        let mut m = Object::new(Kind::Machine, "default", "m2");
        if let Some((t, n)) = last {
            let d = RemediationData { machine: "m1".into(), timestamp_ms: t, retry_count: n };
            m.meta.annotations.insert(REMEDIATION_FOR.into(), d.marshal());
        }
        m
    }

    const H: u64 = 3_600_000;

    #[rstest]
    #[case::first_failure(None, None, None, 10 * H, Ok(0))]
    #[case::old_failure_restarts_count(None, None, Some((H, 3)), 10 * H, Ok(0))]
    #[case::retry_within_min_healthy(None, None, Some((10 * H - 60_000, 1)), 10 * H, Ok(2))]
    #[case::retry_period_not_passed(None, Some(600), Some((10 * H - 60_000, 1)), 10 * H, Err("RemediationDeferred"))]
    #[case::max_retry_reached(Some(2), None, Some((10 * H - 60_000, 2)), 10 * H, Err("CannotBeRemediated"))]
    #[case::max_retry_not_reached(Some(3), None, Some((10 * H - 60_000, 2)), 10 * H, Ok(3))]
    fn retry_limits(
        #[case] max_retry: Option<i64>,
        #[case] retry_period: Option<i64>,
        #[case] last: Option<(u64, i64)>,
        #[case] now: u64,
        #[case] want: Result<i64, &str>,
    ) {
        let got = check_retry_limits(&kcp(max_retry, retry_period), &machine(last), now).map(|d| d.retry_count).map_err(|e| e.0);
        assert_eq!(got, want);
    }

    #[test]
    fn remediation_data_round_trips() {
        let d = RemediationData { machine: "m".into(), timestamp_ms: 61_000, retry_count: 2 };
        assert_eq!(d.marshal(), r#"{"machine":"m","timestamp":"2026-01-01T00:01:01Z","retryCount":2}"#);
        assert_eq!(RemediationData::parse(&d.marshal()).unwrap(), d);
    }
}

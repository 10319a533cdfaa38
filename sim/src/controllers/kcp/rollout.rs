//! Rolling out outdated control-plane Machines: with `maxSurge` 1 (default) a new Machine is added
//! first and then one outdated Machine removed; with `maxSurge` 0 (replicas ≥ 3) an outdated Machine is
//! removed first. Before each step KCP writes the new Kubernetes version into the workload cluster's
//! kubeadm-config.
//! Sources: `controlplane/kubeadm/reconcilers/kubeadmcontrolplane/update.go`, `scale.go`.
//!
//! Mutant `KcpDeleteBeforeReady`: the rollout's scale-down skips the health preflight, so the
//! outdated Machine goes before its replacement is healthy.

use super::scale;
use super::scope::ControlPlane;
use super::selection;
use super::workload;
use crate::mutants::Mutant;
use crate::object::Object;
use crate::runtime::{Action, Ctx, ReconcileError};
use serde_json::Value;

/// One rollout step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Create a Machine with the new spec.
    ScaleUp,
    /// Delete an outdated Machine.
    ScaleDown,
}

/// `maxSurge` as Kubernetes' `intstr.IntValue` reads it (default 1; strings are parsed, junk is 0).
pub fn max_surge(kcp: &Object) -> i64 {
    match kcp.at("/spec/rollout/strategy/rollingUpdate/maxSurge") {
        None | Some(Value::Null) => 1,
        Some(Value::Number(n)) => n.as_i64().unwrap_or(0),
        Some(Value::String(s)) => s.trim().parse().unwrap_or(0),
        Some(_) => 0,
    }
}

/// `rollingUpdate`'s decision: below `replicas + maxSurge` Machines scale up, else scale down.
pub fn step(current: usize, desired: i64, max_surge: i64) -> Step {
    if (current as i64) < desired + max_surge {
        Step::ScaleUp
    } else {
        Step::ScaleDown
    }
}

/// `updateControlPlane`.
pub fn update(ctx: &mut Ctx<'_>, cp: &mut ControlPlane) -> Result<Action, ReconcileError> {
    let cluster = cp.cluster_name().to_string();
    let version = cp.version().to_string();
    // `UpdateClusterConfiguration`: the kubeadm-config ConfigMap carries the target version.
    match ctx.world.workload(&cluster) {
        Ok(wl) if wl.version == version => {}
        Ok(_) => {
            let wl = ctx.world.workload_mut(&cluster).map_err(|e| format!("failed to update control plane: {e}"))?;
            wl.version = version;
        }
        Err(e) => {
            ctx.note(format!("workload cluster {cluster}: {e}"));
            let err = workload::connection_error(cp.cluster.namespace(), &cluster);
            return Err(format!("failed to update control plane: {err}").into());
        }
    }
    let strategy = cp.kcp.str_at("/spec/rollout/strategy/type").unwrap_or("RollingUpdate");
    if strategy != "RollingUpdate" {
        ctx.note("RolloutStrategy type is not set to RollingUpdate, unable to determine the strategy for rolling out machines");
        return Ok(Action::DONE);
    }
    match step(cp.machines.len(), cp.desired_replicas(), max_surge(&cp.kcp)) {
        Step::ScaleUp => scale::scale_up(ctx, cp).map_err(|e| format!("failed to update control plane: {e}").into()),
        Step::ScaleDown => {
            let fds = cp.failure_domains();
            let all = cp.all();
            let outdated = cp.needing_rollout();
            let victim = selection::select_for_scale_down(&fds, &all, &outdated, cp.etcd_managed())
                .map(|m| m.name().to_string())
                .ok_or("failed to update control plane: failed to select next Machine for rollout")?;
            let skip_health = ctx.mutant(Mutant::KcpDeleteBeforeReady);
            scale::scale_down(ctx, cp, Some(victim), skip_health).map_err(|e| format!("failed to update control plane: {e}").into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::Kind;
    use rstest::rstest;
    use serde_json::json;

    #[rstest]
    // maxSurge 1, three replicas: +1 (4) → -1 (3) → ...
    #[case::surge1_start(3, 3, 1, Step::ScaleUp)]
    #[case::surge1_surged(4, 3, 1, Step::ScaleDown)]
    #[case::surge1_one_replica(1, 1, 1, Step::ScaleUp)]
    #[case::surge1_one_replica_surged(2, 1, 1, Step::ScaleDown)]
    // maxSurge 0: -1 (2) → +1 (3) → ...
    #[case::surge0_start(3, 3, 0, Step::ScaleDown)]
    #[case::surge0_after_delete(2, 3, 0, Step::ScaleUp)]
    #[case::surge0_five(5, 5, 0, Step::ScaleDown)]
    fn rollout_step(#[case] current: usize, #[case] desired: i64, #[case] surge: i64, #[case] want: Step) {
        assert_eq!(step(current, desired, surge), want);
    }

    #[rstest]
    #[case(None, 1)]
    #[case(Some(json!(0)), 0)]
    #[case(Some(json!(1)), 1)]
    #[case(Some(json!("1")), 1)]
    #[case(Some(json!("50%")), 0)]
    fn max_surge_reads_like_intstr(#[case] v: Option<Value>, #[case] want: i64) {
        let mut k = Object::new(Kind::KubeadmControlPlane, "default", "cp");
        if let Some(v) = v {
            k.set("/spec/rollout/strategy/rollingUpdate/maxSurge", v);
        }
        assert_eq!(max_surge(&k), want);
    }

    /// A 3-replica rollout with maxSurge 1 alternates +1/-1 and never goes above 4 Machines.
    #[test]
    fn surge_one_rollout_sequence() {
        let (mut current, mut outdated) = (3usize, 3usize);
        let mut trace = Vec::new();
        while outdated > 0 {
            match step(current, 3, 1) {
                Step::ScaleUp => current += 1,
                Step::ScaleDown => {
                    current -= 1;
                    outdated -= 1;
                }
            }
            assert!(current <= 4);
            trace.push(current);
        }
        assert_eq!(trace, vec![4, 3, 4, 3, 4, 3]);
    }
}

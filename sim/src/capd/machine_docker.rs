//! The release-1.13 `DockerMachine` flow: the container is created and waited for (multi-user target)
//! inside the reconcile, the load balancer is configured once (`status.loadBalancerConfigured`), the
//! bootstrap runs synchronously (the worker blocks until kubeadm finishes; a failure is reported as
//! `BootstrapExecSucceeded` False and retried — "Repeating bootstrap"), and only then, once the control
//! plane is initialized and the Node exists, the Node gets its providerID and the DockerMachine
//! `spec.providerID` + `status.initialization.provisioned`. Afterwards only the container's existence
//! is checked. Source: release-1.13 `internal/controllers/backends/docker/dockermachine_backend.go`.
//!
//! Simplifications: the worker blocks for the whole bootstrap, at most `spec.bootstrapTimeout` (CAPD's
//! 5s deletion watcher that cancels a running bootstrap is not modelled: a deletion is handled once
//! the exec returns; a timed-out exec is not reported as failed, the result comes with the container
//! notice when kubeadm ends); `preLoadImages` loads instantly.

use super::container::{self, decide, ContainerDecision};
use super::lb;
use super::lookup;
use super::machine::{data_and_version, set, set_failure_domain, Scope, BOOTSTRAP_EXEC_SUCCEEDED, CONTAINER_PROVISIONED};
use super::naming::provider_id;
use crate::controllers::conditions::{self, Cond};
use crate::object::Object;
use crate::runtime::{Action, Ctx, ReconcileError, ReconcileResult};
use crate::world::docker::{Bootstrap, Role};
use serde_json::json;

/// The default `spec.bootstrapTimeout`.
pub const DEFAULT_BOOTSTRAP_TIMEOUT_MS: u64 = 5 * 60 * 1000;
/// The message of a failed bootstrap exec.
const EXEC_FAILED: &str = "Failed to exec DockerMachine bootstrap";
/// The taint a node managed by an external cloud provider registers with.
pub const CLOUD_PROVIDER_TAINT: &str = "node.cloudprovider.kubernetes.io/uninitialized";

/// `spec.bootstrapTimeout` (a duration like `5m`, `90s`, `1h30m`) in ms.
pub fn bootstrap_timeout_ms(dm: &Object, backend: &str) -> u64 {
    dm.str_at(&format!("{backend}/bootstrapTimeout")).and_then(parse_duration_ms).unwrap_or(DEFAULT_BOOTSTRAP_TIMEOUT_MS)
}

/// A Go `time.Duration` string (`1h2m3s`, `500ms`, `1.5m`) in ms.
pub fn parse_duration_ms(s: &str) -> Option<u64> {
    let mut rest = s.trim();
    if rest.is_empty() {
        return None;
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let n = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let value: f64 = rest[..n].parse().ok()?;
        rest = &rest[n..];
        let u = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let unit = match &rest[..u] {
            "h" => 3_600_000.0,
            "m" => 60_000.0,
            "s" => 1_000.0,
            "ms" => 1.0,
            "us" | "µs" => 0.001,
            "ns" => 0.000_001,
            _ => return None,
        };
        rest = &rest[u..];
        total += value * unit;
    }
    Some(total as u64)
}

pub(super) fn reconcile_normal(ctx: &mut Ctx<'_>, s: &Scope, dm: &mut Object) -> ReconcileResult {
    let now = ctx.now;
    let backend = s.shape.machine_backend();
    let found = lookup::container(ctx.world, &s.cluster_name, &s.container)
        .map_err(|e| ReconcileError(format!("failed to create helper for managing the externalMachine: {e}")))?;
    lb::find(ctx, &s.cluster_name)
        .map_err(|e| ReconcileError(format!("failed to create helper for managing the externalLoadBalancer: {e}")))?;
    if !s.cluster.bool_at("/status/initialization/infrastructureProvisioned") {
        ctx.note("Waiting for DockerCluster Controller to create cluster infrastructure");
        set(dm, Cond::f(CONTAINER_PROVISIONED, "WaitingForClusterInfrastructureReady", ""), now);
        return Ok(Action::DONE);
    }
    let Some((data_secret, _version)) = data_and_version(ctx, s, dm)? else { return Ok(Action::DONE) };
    // A deleting control-plane Machine: divert traffic away from its container at once.
    if s.control_plane && s.machine.deleting() && !dm.deleting() {
        let ann = s.shape.weight_annotation();
        if !dm.meta.annotations.contains_key(ann) {
            lb::reconfigure(ctx, &s.cluster, &s.infra_cluster, s.shape)?;
        }
        dm.meta.annotations.insert(ann.to_string(), "0".to_string());
    }
    let pid_set = dm.str_at("/spec/providerID").is_some_and(|p| !p.is_empty());
    if pid_set {
        // Already provisioned (also what restores the status after a move).
        dm.set("/status/initialization/provisioned", json!(true));
        set_failure_domain(dm, &s.machine);
        match (decide(s.shape, true, found.as_ref().map(|c| c.is_up())), &found) {
            (ContainerDecision::Keep, Some(c)) => {
                set(dm, Cond::t(CONTAINER_PROVISIONED, "Provisioned"), now);
                if conditions::get(dm, BOOTSTRAP_EXEC_SUCCEEDED).is_none() {
                    set(dm, Cond::t(BOOTSTRAP_EXEC_SUCCEEDED, "Succeeded"), now);
                }
                dm.set("/status/addresses", container::addresses(c));
            }
            _ => {
                set(dm, Cond::f(CONTAINER_PROVISIONED, "NotProvisioned", format!("Container {} does not exist anymore", s.container)), now)
            }
        }
        return Ok(Action::DONE);
    }
    let Some(data_secret) = data_secret else {
        if !s.control_plane && !s.cp_initialized() {
            ctx.note("Waiting for the control plane to be initialized");
            set(dm, Cond::f(CONTAINER_PROVISIONED, "WaitingForControlPlaneInitialized", ""), now);
        } else {
            ctx.note("Waiting for the Bootstrap provider controller to set bootstrap data");
            set(dm, Cond::f(CONTAINER_PROVISIONED, "WaitingForBootstrapData", ""), now);
        }
        return Ok(Action::DONE);
    };
    let role = if s.control_plane { Role::ControlPlane } else { Role::Worker };
    // CAPD's `IsRunning`: Docker lists the container as `Up` (running or paused).
    let mut running = found.as_ref().map(|c| c.is_up());
    if decide(s.shape, false, running) == ContainerDecision::Recreate {
        container::remove(ctx, &s.container).map_err(|e| ReconcileError(format!("Failed to delete not running DockerMachine: {e}")))?;
        running = None;
    }
    if running.is_none() {
        let custom = dm.str_at(&format!("{backend}/customImage")).unwrap_or("").to_string();
        let fd = s.machine.str_at("/spec/failureDomain").unwrap_or("").to_string();
        let mversion = s.machine.str_at("/spec/version").unwrap_or("").to_string();
        container::create(
            ctx,
            &container::NodeSpec {
                cluster: &s.cluster_name,
                name: &s.container,
                role,
                version: &mversion,
                custom_image: &custom,
                failure_domain: &fd,
                extra_labels: &[],
            },
        )
        .map_err(|e| ReconcileError(format!("failed to create worker DockerMachine: {e}")))?;
        // `Create` waits for systemd's multi-user target (and crictl) before returning.
        if let Some(c) = ctx.world.docker.get(&s.container) {
            let wait = c.booted_at.saturating_sub(now);
            ctx.spend(wait);
        }
    }
    // Control-plane machines: configure the load balancer once.
    if s.control_plane && !dm.bool_at("/status/loadBalancerConfigured") {
        lb::reconfigure(ctx, &s.cluster, &s.infra_cluster, s.shape)?;
        dm.set("/status/loadBalancerConfigured", json!(true));
    }
    let mut requeue = false;
    if !conditions::is_true(dm, CONTAINER_PROVISIONED) {
        set(dm, Cond::t(CONTAINER_PROVISIONED, "Provisioned"), now);
        requeue = true;
    }
    if conditions::get(dm, BOOTSTRAP_EXEC_SUCCEEDED).is_none() {
        set(dm, Cond::f(BOOTSTRAP_EXEC_SUCCEEDED, "NotSucceeded", ""), now);
        requeue = true;
    }
    if requeue {
        return Ok(Action::requeue(1_000));
    }
    if !dm.bool_at(&format!("{backend}/bootstrapped")) {
        if let Some(action) = bootstrap(ctx, s, dm, &data_secret)? {
            return Ok(action);
        }
        dm.set(&format!("{backend}/bootstrapped"), json!(true));
    }
    set(dm, Cond::t(BOOTSTRAP_EXEC_SUCCEEDED, "Succeeded"), now);
    let Some(c) = ctx.world.docker.get(&s.container).cloned() else {
        ctx.note(format!("Failed to set the machine address: container {} does not exist", s.container));
        return Ok(Action::requeue(5_000));
    };
    dm.set("/status/addresses", container::addresses(&c));
    // Without an initialized control plane there is no API server to patch the Node through.
    if s.has_cp_ref() && !s.cp_initialized() {
        return Ok(Action::requeue(5_000));
    }
    let node_exists = match ctx.world.workload(&s.cluster_name) {
        Err(e) => return Err(ReconcileError(format!("failed to generate workload cluster client: {e}"))),
        Ok(wl) => wl.nodes.contains_key(&s.container),
    };
    // `CloudProviderNodePatch` checks `IsRunning` (`Up`, so a paused container passes).
    if !c.is_up() {
        return Err(ReconcileError(format!(
            "failed to patch the Kubernetes node with the machine providerID: unable to complete Docker Cloud Provider tasks: container with name \"{}\" is not running",
            s.container
        )));
    }
    // Likely a Node not registered yet: try again shortly (a read, so no write is noticed).
    if !node_exists {
        ctx.note(format!(
            "Failed to patch the Kubernetes node with the machine providerID: unable to complete Docker Cloud Provider tasks: failed to retrieve node: nodes \"{}\" not found",
            s.container
        ));
        return Ok(Action::requeue(5_000));
    }
    let pid = provider_id(&s.container);
    let p = pid.clone();
    if let Err(e) = ctx.world.patch_node(&s.cluster_name, &s.container, |n| {
        n.provider_id = Some(p);
        n.taints.retain(|t| t.key != CLOUD_PROVIDER_TAINT);
    }) {
        ctx.note(format!("Failed to patch the Kubernetes node with the machine providerID: {e}"));
        return Ok(Action::requeue(5_000));
    }
    dm.set("/spec/providerID", json!(pid));
    dm.set("/status/initialization/provisioned", json!(true));
    set_failure_domain(dm, &s.machine);
    Ok(Action::DONE)
}

/// The synchronous bootstrap. `Ok(None)`: it succeeded; `Ok(Some(action))`: the exec ran (the worker
/// waited for it) and the reconcile ends, the container notice brings the result.
fn bootstrap(ctx: &mut Ctx<'_>, s: &Scope, dm: &mut Object, secret: &str) -> Result<Option<Action>, ReconcileError> {
    let now = ctx.now;
    let timeout = bootstrap_timeout_ms(dm, s.shape.machine_backend());
    let Some(c) = ctx.world.docker.get(&s.container).cloned() else {
        return Err(ReconcileError(format!(
            "failed to check for existence of bootstrap success file at /run/cluster-api/bootstrap-success.complete: container {} does not exist",
            s.container
        )));
    };
    let repeat = match &c.bootstrap {
        Bootstrap::Succeeded => return Ok(None),
        Bootstrap::Running { done_at } => {
            // A bootstrap exec is still running (e.g. started before a controller restart): wait for it.
            let started = ctx.world.bootstrap_started_at(&s.container).unwrap_or(now);
            let wait = done_at.saturating_sub(now).min((started + timeout).saturating_sub(now));
            ctx.spend(wait);
            return Ok(Some(Action::DONE));
        }
        Bootstrap::Failed(msg) => Some(msg.clone()),
        Bootstrap::NotStarted => None,
    };
    let data = container::bootstrap_data(ctx, dm.namespace(), secret).map_err(ReconcileError)?;
    // `WaitForMultiUserTarget` execs into the container: the daemon refuses an exec into a paused or
    // stopped one.
    if let Some(refusal) = c.exec_refusal() {
        let e = format!("Error response from daemon: {refusal}");
        set(dm, Cond::f(BOOTSTRAP_EXEC_SUCCEEDED, "WaitingForMultiUserTarget", format!("Waiting for multi-user target: {e}")), now);
        return Err(ReconcileError(format!("waiting for multi-user target: {e}")));
    }
    ctx.spend(c.booted_at.saturating_sub(now));
    if let (Some(msg), true) = (&repeat, ctx.mutant(crate::mutants::Mutant::CapdNoBootstrapRetry)) {
        set(dm, Cond::f(BOOTSTRAP_EXEC_SUCCEEDED, "NotSucceeded", EXEC_FAILED), now);
        ctx.note(format!("giving up after: {msg} (mutant capd-no-bootstrap-retry)"));
        return Ok(Some(Action::DONE));
    }
    if let Some(msg) = &repeat {
        // The previous exec failed: report it, then run the bootstrap again ("Repeating bootstrap").
        set(dm, Cond::f(BOOTSTRAP_EXEC_SUCCEEDED, "NotSucceeded", EXEC_FAILED), now);
        ctx.note(format!("Repeating bootstrap after: {msg}"));
    }
    if let Err(e) = ctx.world.exec_bootstrap(&s.container, &data, now) {
        set(dm, Cond::f(BOOTSTRAP_EXEC_SUCCEEDED, "NotSucceeded", EXEC_FAILED), now);
        return Err(ReconcileError(format!("failed to exec DockerMachine bootstrap: {e}")));
    }
    // The worker blocks on the exec (bounded by the bootstrap timeout).
    if let Some(Bootstrap::Running { done_at }) = ctx.world.docker.get(&s.container).map(|c| c.bootstrap.clone()) {
        ctx.spend(done_at.saturating_sub(now).min(timeout));
    }
    match repeat {
        Some(msg) => Err(ReconcileError(format!("failed to exec DockerMachine bootstrap: {msg}"))),
        None => Ok(Some(Action::DONE)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("5m", Some(300_000))]
    #[case("1h30m", Some(5_400_000))]
    #[case("90s", Some(90_000))]
    #[case("1.5m", Some(90_000))]
    #[case("250ms", Some(250))]
    #[case("", None)]
    #[case("5 minutes", None)]
    fn durations(#[case] text: &str, #[case] want: Option<u64>) {
        assert_eq!(parse_duration_ms(text), want);
    }
}

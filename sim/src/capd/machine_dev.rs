//! The main-branch `DevMachine` flow (docker backend): container (`ContainerProvisioned`), load
//! balancer (weight annotation), `CGroupsReady` and `PreLoadedImagesReady` as asynchronous tasks, then
//! `spec.providerID` + `status.initialization.provisioned` **before** the bootstrap, the bootstrap as an
//! asynchronous task (`BootstrapCompleted`; a failed command is terminal), and the node step (the
//! Node's providerID once the control plane is initialized).
//! Source: main `test/infrastructure/docker/reconcilers/backends/docker/dockermachine_backend.go`,
//! `taskmanager.go`.
//!
//! Simplifications: CAPD's in-memory task manager is replaced by the container's state in the world
//! (booted → the cgroups task completed; `bootstrap` Running/Succeeded/Failed → the bootstrap task), so
//! a controller restart does not lose a task (CAPD would find the "started" sentinel and report the
//! bootstrap as completed). A stopped container fails the cgroups task, which is retried after 5s.
//! `preLoadImages` loads instantly. Task timeouts (30s cgroups, `spec.backend.docker.bootstrapTimeout`
//! bootstrap) are woken by a requeue where CAPD's task sends an event.

use super::container::{self, decide, ContainerDecision};
use super::lb;
use super::lookup;
use super::machine::{
    data_and_version, set, set_failure_domain, Scope, BOOTSTRAP_COMPLETED, CGROUPS_READY, CONTAINER_PROVISIONED, PRELOADED_IMAGES_READY,
};
use super::machine_docker::{bootstrap_timeout_ms, CLOUD_PROVIDER_TAINT};
use super::naming::provider_id;
use crate::controllers::conditions::{self, Cond};
use crate::object::Object;
use crate::runtime::{Action, Ctx, ReconcileError, ReconcileResult};
use crate::world::docker::{Bootstrap, Role};
use serde_json::json;

/// How long a failed task waits before it is retried.
const TASK_RETRY_MS: u64 = 5_000;

pub(super) fn reconcile_normal(ctx: &mut Ctx<'_>, s: &Scope, dm: &mut Object) -> ReconcileResult {
    let found = lookup::container(ctx.world, &s.cluster_name, &s.container)
        .map_err(|e| ReconcileError(format!("failed to create helper for managing the externalMachine: {e}")))?;
    lb::find(ctx, &s.cluster_name)
        .map_err(|e| ReconcileError(format!("failed to create helper for managing the externalLoadBalancer: {e}")))?;
    let Some((data_secret, _version)) = data_and_version(ctx, s, dm)? else { return Ok(Action::DONE) };
    // Wake-ups standing in for the events CAPD's async tasks send.
    let mut wake = Action::DONE;
    // CAPD's `IsRunning`: Docker lists the container as `Up` (running or paused).
    reconcile_container(ctx, s, dm, data_secret.is_some(), found.as_ref().map(|c| c.is_up()))?;
    if s.control_plane {
        reconcile_lb(ctx, s, dm)?;
    }
    wake = wake.min(reconcile_cgroups(ctx, s, dm));
    reconcile_preloaded_images(ctx, s, dm);
    if [CONTAINER_PROVISIONED, CGROUPS_READY, PRELOADED_IMAGES_READY].iter().all(|t| conditions::is_true(dm, t)) {
        dm.set("/spec/providerID", json!(provider_id(&s.container)));
        dm.set("/status/initialization/provisioned", json!(true));
    }
    wake = wake.min(reconcile_bootstrap(ctx, s, dm, data_secret.as_deref())?);
    if let Some(a) = reconcile_node(ctx, s, dm)? {
        return Ok(a.min(wake));
    }
    Ok(wake)
}

fn reconcile_container(
    ctx: &mut Ctx<'_>,
    s: &Scope,
    dm: &mut Object,
    data_secret: bool,
    running: Option<bool>,
) -> Result<(), ReconcileError> {
    let now = ctx.now;
    let pid_set = dm.str_at("/spec/providerID").is_some_and(|p| !p.is_empty());
    if pid_set && decide(s.shape, true, running) == ContainerDecision::Lost {
        set(dm, Cond::f(CONTAINER_PROVISIONED, "NotProvisioned", format!("Container {} is not running anymore", s.container)), now);
        return Ok(());
    }
    if conditions::is_true(dm, CONTAINER_PROVISIONED) {
        return Ok(());
    }
    if !s.cluster.bool_at("/status/initialization/infrastructureProvisioned") {
        ctx.note("Waiting for DockerCluster Controller to create cluster infrastructure");
        set(dm, Cond::f(CONTAINER_PROVISIONED, "WaitingForClusterInfrastructureReady", ""), now);
        return Ok(());
    }
    if !data_secret {
        if !s.control_plane && !s.cp_initialized() {
            ctx.note("Waiting for the control plane to be initialized");
            set(dm, Cond::f(CONTAINER_PROVISIONED, "WaitingForControlPlaneInitialized", ""), now);
        } else {
            ctx.note("Waiting for the Bootstrap provider controller to set bootstrap data");
            set(dm, Cond::f(CONTAINER_PROVISIONED, "WaitingForBootstrapData", ""), now);
        }
        return Ok(());
    }
    let mut running = running;
    if decide(s.shape, false, running) == ContainerDecision::Recreate {
        // Best effort: a container that failed to come up is deleted and created again.
        container::remove(ctx, &s.container).map_err(|e| ReconcileError(format!("Failed to delete not running DockerMachine: {e}")))?;
        running = None;
    }
    if running.is_none() {
        let role = if s.control_plane { Role::ControlPlane } else { Role::Worker };
        let custom = dm.str_at(&format!("{}/customImage", s.shape.machine_backend())).unwrap_or("").to_string();
        let fd = s.machine.str_at("/spec/failureDomain").unwrap_or("").to_string();
        let version = s.machine.str_at("/spec/version").unwrap_or("").to_string();
        ctx.note("Creating container");
        container::create(
            ctx,
            &container::NodeSpec {
                cluster: &s.cluster_name,
                name: &s.container,
                role,
                version: &version,
                custom_image: &custom,
                failure_domain: &fd,
                extra_labels: &[],
            },
        )
        .map_err(|e| ReconcileError(format!("failed to create worker DockerMachine: {e}")))?;
        set(dm, Cond::f(CONTAINER_PROVISIONED, "NotProvisioned", format!("Creating container {}", s.container)), now);
        return Ok(());
    }
    set(dm, Cond::t(CONTAINER_PROVISIONED, "Provisioned"), now);
    if let Some(c) = ctx.world.docker.get(&s.container) {
        dm.set("/status/addresses", container::addresses(c));
    }
    set_failure_domain(dm, &s.machine);
    Ok(())
}

/// The annotation tracks what the load balancer knows: absent → not yet a backend; "100" → a
/// backend; "0" → drained because the Machine is deleting.
fn reconcile_lb(ctx: &mut Ctx<'_>, s: &Scope, dm: &mut Object) -> Result<(), ReconcileError> {
    if !conditions::is_true(dm, CONTAINER_PROVISIONED) {
        return Ok(());
    }
    let ann = s.shape.weight_annotation();
    if dm.annotation(ann).unwrap_or("").is_empty() {
        lb::reconfigure(ctx, &s.cluster, &s.infra_cluster, s.shape)?;
        dm.meta.annotations.insert(ann.to_string(), "100".to_string());
    }
    if s.machine.deleting() && !dm.deleting() {
        if dm.annotation(ann) == Some("100") {
            lb::reconfigure(ctx, &s.cluster, &s.infra_cluster, s.shape)?;
        }
        dm.meta.annotations.insert(ann.to_string(), "0".to_string());
    }
    Ok(())
}

/// `CGroupsReady`: the container reached systemd's multi-user target (the world's boot).
fn reconcile_cgroups(ctx: &mut Ctx<'_>, s: &Scope, dm: &mut Object) -> Action {
    let now = ctx.now;
    if conditions::is_true(dm, CGROUPS_READY) {
        return Action::DONE;
    }
    if dm.str_at("/spec/providerID").is_some_and(|p| !p.is_empty()) {
        set(dm, Cond::t(CGROUPS_READY, "Ready"), now);
        return Action::DONE;
    }
    if !conditions::is_true(dm, CONTAINER_PROVISIONED) {
        set(dm, Cond::f(CGROUPS_READY, "WaitingForContainer", ""), now);
        return Action::DONE;
    }
    let started = conditions::get(dm, CGROUPS_READY).is_some_and(|c| c.reason == "NotReady" && !c.message.contains(" failed: "));
    match ctx.world.docker.get(&s.container) {
        Some(c) if c.ready(now) => {
            set(dm, Cond::t(CGROUPS_READY, "Ready"), now);
            Action::DONE
        }
        Some(c) if c.running() => {
            let msg = if started { "Waiting for cgroups ready (1 of 1)" } else { "Starting (0 of 1)" };
            set(dm, Cond::f(CGROUPS_READY, "NotReady", msg), now);
            // The boot notice wakes the controller.
            Action::DONE
        }
        // The task's exec is refused (paused or stopped container), or the container is gone.
        found => {
            let refusal = found.and_then(|c| c.exec_refusal()).unwrap_or_else(|| format!("No such container: {}", s.container));
            let msg = format!("Waiting for cgroups ready failed: Error response from daemon: {refusal}");
            set(dm, Cond::f(CGROUPS_READY, "NotReady", msg), now);
            Action::requeue(TASK_RETRY_MS)
        }
    }
}

fn reconcile_preloaded_images(ctx: &mut Ctx<'_>, s: &Scope, dm: &mut Object) {
    let now = ctx.now;
    if conditions::is_true(dm, PRELOADED_IMAGES_READY) {
        return;
    }
    if dm.str_at("/spec/providerID").is_some_and(|p| !p.is_empty()) {
        set(dm, Cond::t(PRELOADED_IMAGES_READY, "Ready"), now);
        return;
    }
    if !conditions::is_true(dm, CONTAINER_PROVISIONED) {
        set(dm, Cond::f(PRELOADED_IMAGES_READY, "WaitingForContainer", ""), now);
        return;
    }
    if !conditions::is_true(dm, CGROUPS_READY) {
        set(dm, Cond::f(PRELOADED_IMAGES_READY, "WaitingForCGroups", ""), now);
        return;
    }
    let images = dm.at(&format!("{}/preLoadImages", s.shape.machine_backend())).and_then(|v| v.as_array()).map_or(0, Vec::len);
    if images > 0 {
        ctx.note(format!("Pre-loading {images} images (instantaneous in the simulator)"));
    }
    set(dm, Cond::t(PRELOADED_IMAGES_READY, "Ready"), now);
}

/// `BootstrapCompleted`: the bootstrap commands run in the container (the world's bootstrap).
/// Returns a wake-up for the bootstrap timeout.
fn reconcile_bootstrap(ctx: &mut Ctx<'_>, s: &Scope, dm: &mut Object, secret: Option<&str>) -> Result<Action, ReconcileError> {
    let now = ctx.now;
    if let Some(c) = conditions::get(dm, BOOTSTRAP_COMPLETED) {
        // Completed, failed (terminal) or timed out (the task keeps its error): nothing more to do.
        if c.status == conditions::Status::True || c.reason == "Failed" || c.reason == "NotCompleted" {
            return Ok(Action::DONE);
        }
    }
    if s.machine.str_at("/status/nodeRef/name").is_some_and(|n| !n.is_empty()) {
        set(dm, Cond::t(BOOTSTRAP_COMPLETED, "Completed"), now);
        return Ok(Action::DONE);
    }
    for (t, reason) in [
        (CONTAINER_PROVISIONED, "WaitingForContainer"),
        (CGROUPS_READY, "WaitingForCGroups"),
        (PRELOADED_IMAGES_READY, "WaitingForPreloadedImages"),
    ] {
        if !conditions::is_true(dm, t) {
            set(dm, Cond::f(BOOTSTRAP_COMPLETED, reason, ""), now);
            return Ok(Action::DONE);
        }
    }
    let internal = |dm: &mut Object, e: String| {
        set(dm, Cond::f(BOOTSTRAP_COMPLETED, "InternalError", "Please check controller logs for errors"), now);
        ReconcileError(e)
    };
    let timeout = bootstrap_timeout_ms(dm, s.shape.machine_backend());
    let state = ctx.world.docker.get(&s.container).map(|c| c.bootstrap.clone());
    // The commands are derived from the data each time (CAPD keeps them in its task).
    let commands = match secret {
        Some(name) => {
            match container::bootstrap_data(ctx, dm.namespace(), name).and_then(|d| container::bootstrap_summary(&d).map(|c| (d, c))) {
                Ok(x) => Some(x),
                Err(e) if state.as_ref().is_none_or(|b| *b == Bootstrap::NotStarted) => return Err(internal(dm, e)),
                Err(_) => None,
            }
        }
        None => None,
    };
    let n = commands.as_ref().map_or(1, |(_, (len, _))| (*len).max(1));
    let last = match &commands {
        Some((_, (len, last))) if *len > 0 => last.as_str(),
        _ => "/bin/sh -c kubeadm",
    };
    let op = format!("Running boostrap command [ {last} ]");
    match state {
        None | Some(Bootstrap::NotStarted) => {
            let Some((data, _)) = commands else {
                return Err(internal(dm, "bootstrap data secret name is not set".to_string()));
            };
            if let Err(e) = ctx.world.exec_bootstrap(&s.container, &data, now) {
                // The first `docker exec` fails: a command failure, terminal.
                let msg = format!("{op}\nERROR: {e}\nSTDOUT: \nSTDERR: {e}");
                set(dm, Cond::f(BOOTSTRAP_COMPLETED, "Failed", msg), now);
                return Ok(Action::DONE);
            }
            set(dm, Cond::f(BOOTSTRAP_COMPLETED, "NotReady", format!("Starting (0 of {n})")), now);
            Ok(Action::requeue(timeout))
        }
        Some(Bootstrap::Running { .. }) => {
            let started = ctx.world.bootstrap_started_at(&s.container).unwrap_or(now);
            if now >= started + timeout {
                set(dm, Cond::f(BOOTSTRAP_COMPLETED, "NotCompleted", format!("{op} failed: context deadline exceeded")), now);
                return Ok(Action::DONE);
            }
            set(dm, Cond::f(BOOTSTRAP_COMPLETED, "NotReady", format!("{op} ({n} of {n})")), now);
            Ok(Action::requeue(started + timeout - now))
        }
        Some(Bootstrap::Succeeded) => {
            set(dm, Cond::t(BOOTSTRAP_COMPLETED, "Completed"), now);
            Ok(Action::DONE)
        }
        Some(Bootstrap::Failed(e)) => {
            let msg = format!("{op}\nERROR: exit status 1\nSTDOUT: \nSTDERR: {e}");
            set(dm, Cond::f(BOOTSTRAP_COMPLETED, "Failed", msg), now);
            Ok(Action::DONE)
        }
    }
}

/// The node step: what a cloud provider would do (the Node's providerID).
fn reconcile_node(ctx: &mut Ctx<'_>, s: &Scope, dm: &Object) -> Result<Option<Action>, ReconcileError> {
    if !conditions::is_true(dm, CONTAINER_PROVISIONED) {
        return Ok(None);
    }
    // Without an initialized control plane there is no API server to ask.
    if s.has_cp_ref() && !s.cp_initialized() {
        return Ok(Some(Action::requeue(5_000)));
    }
    let pid = provider_id(&s.container);
    let node = match ctx.world.workload(&s.cluster_name) {
        Err(e) => return Err(ReconcileError(format!("failed to generate workload cluster client: {e}"))),
        Ok(wl) => wl.nodes.get(&s.container).map(|n| (n.provider_id.is_some(), n.taints.iter().any(|t| t.key == CLOUD_PROVIDER_TAINT))),
    };
    let Some((has_pid, tainted)) = node else {
        return Err(ReconcileError(format!("failed to get node: nodes \"{}\" not found", s.container)));
    };
    if has_pid && !tainted {
        return Ok(None);
    }
    ctx.world
        .patch_node(&s.cluster_name, &s.container, |n| {
            if n.provider_id.is_none() {
                n.provider_id = Some(pid);
            }
            n.taints.retain(|t| t.key != CLOUD_PROVIDER_TAINT);
        })
        .map_err(ReconcileError)?;
    Ok(None)
}

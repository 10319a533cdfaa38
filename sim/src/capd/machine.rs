//! The infra machine controllers (`DockerMachine` and `DevMachine`): the parts both flows share —
//! watches and mappers, the preamble (owner Machine, Cluster, infra cluster, finalizer, paused, in the
//! order each release uses), the scope of one reconcile, the `Ready` summary, and deletion (remove
//! the container, rewrite the load balancer for control-plane machines, drop the finalizer).
//! The normal flows live in [`super::machine_docker`] (release-1.13) and [`super::machine_dev`] (main).
//! Sources: release-1.13 `internal/controllers/dockermachine_controller.go`, main
//! `reconcilers/devmachine_reconciler.go`, `backends/docker/dockermachine_backend.go` (`ReconcileDelete`).
//!
//! Watches: the infra machine; Machines (`MachineToInfrastructureMapFunc`); the infra cluster (→ the
//! cluster's Machines' names); Clusters (pause transitions, infrastructure provisioned); container
//! notices (the world's stand-in for CAPD's async task events and `WaitForMultiUserTarget`); workload
//! notices for machines that bootstrapped but whose Node is not linked yet (deviation: the world
//! registers Nodes after kubeadm returns, not during the join, so these stand in for the task event
//! that would have found the Node). Secrets,
//! ConfigMaps and MachinePools are watched only so that the cache holds them (CAPD reads them through
//! its cached client).

use super::container;
use super::lb;
use super::lookup::{self, cluster_from_metadata, is_control_plane, is_pool_owned, owner};
use super::naming::container_name;
use super::patch;
use super::shape::{Shape, MACHINE_FINALIZER};
use crate::controllers::common::{preamble, ref_key};
use crate::controllers::conditions::{self, Cond, Status};
use crate::kinds::Kind;
use crate::mutants::Mutant;
use crate::object::{ObjKey, Object};
use crate::objectset::ObjectSet;
use crate::runtime::{Action, Ctx, ReconcileError, ReconcileResult, Reconciler};
use crate::store::Change;
use crate::world::Notice;
use serde_json::json;
use std::sync::Arc;

/// `ContainerProvisioned`.
pub const CONTAINER_PROVISIONED: &str = "ContainerProvisioned";
/// `BootstrapExecSucceeded` (release-1.13 flow).
pub const BOOTSTRAP_EXEC_SUCCEEDED: &str = "BootstrapExecSucceeded";
/// `CGroupsReady` (main flow).
pub const CGROUPS_READY: &str = "CGroupsReady";
/// `PreLoadedImagesReady` (main flow).
pub const PRELOADED_IMAGES_READY: &str = "PreLoadedImagesReady";
/// `BootstrapCompleted` (main flow).
pub const BOOTSTRAP_COMPLETED: &str = "BootstrapCompleted";

/// The infra machine controller of one shape.
pub struct InfraMachineReconciler {
    /// The shape (and so the flow).
    pub shape: Shape,
}

const DOCKER_WATCHES: &[Kind] = &[Kind::Machine, Kind::Cluster, Kind::DockerCluster, Kind::MachinePool, Kind::Secret, Kind::ConfigMap];
const DEV_WATCHES: &[Kind] = &[Kind::Machine, Kind::Cluster, Kind::DevCluster, Kind::MachinePool, Kind::Secret, Kind::ConfigMap];

/// What one reconcile of an infra machine works with.
pub(super) struct Scope {
    pub shape: Shape,
    pub machine: Arc<Object>,
    pub cluster: Arc<Object>,
    pub infra_cluster: Arc<Object>,
    pub cluster_name: String,
    /// The container (and Node) name.
    pub container: String,
    pub control_plane: bool,
    pub pool_owned: bool,
}

impl Scope {
    /// Whether the Cluster's `ControlPlaneInitialized` condition is True.
    pub fn cp_initialized(&self) -> bool {
        conditions::is_true(&self.cluster, "ControlPlaneInitialized")
    }
    /// Whether the Cluster has a control plane provider.
    pub fn has_cp_ref(&self) -> bool {
        self.cluster.at("/spec/controlPlaneRef").and_then(|r| r.get("name")).and_then(|n| n.as_str()).is_some_and(|n| !n.is_empty())
    }
}

impl Reconciler for InfraMachineReconciler {
    fn name(&self) -> &'static str {
        match self.shape {
            Shape::Docker => "dockermachine",
            Shape::Dev => "devmachine",
        }
    }
    fn kind(&self) -> Kind {
        self.shape.machine_kind()
    }
    fn watches(&self) -> &[Kind] {
        match self.shape {
            Shape::Docker => DOCKER_WATCHES,
            Shape::Dev => DEV_WATCHES,
        }
    }
    fn map(&self, change: &Change, cache: &ObjectSet, out: &mut Vec<ObjKey>) {
        let o = &change.object;
        let mk = self.shape.machine_kind();
        match o.kind {
            Kind::Machine => {
                if let Some(r) = o.at("/spec/infrastructureRef") {
                    if r.get("kind").and_then(|k| k.as_str()) == Some(mk.name()) {
                        if let Some(k) = ref_key(r, o.namespace()) {
                            out.push(k);
                        }
                    }
                }
            }
            k if k == self.shape.cluster_kind() => {
                // The infra cluster's owner Cluster → its Machines (keys named after the Machines).
                if let Some(c) = o.owner_of_kind("Cluster") {
                    out.extend(
                        cache
                            .in_cluster_ns(Kind::Machine, o.namespace(), &c.name)
                            .filter(|m| m.str_at("/spec/infrastructureRef/name").is_some_and(|n| !n.is_empty()))
                            .map(|m| ObjKey::new(mk, m.namespace(), m.name())),
                    );
                }
            }
            Kind::Cluster if lookup::paused_transition(change) || lookup::infra_provisioned_transition(change) => {
                out.extend(cache.in_cluster_ns(mk, o.namespace(), o.name()).map(|m| m.key()));
            }
            _ => {}
        }
    }
    fn map_notice(&self, notice: &Notice, cache: &ObjectSet, out: &mut Vec<ObjKey>) {
        match notice {
            Notice::Container { cluster, name } => out.extend(
                cache
                    .in_cluster(self.shape.machine_kind(), cluster)
                    .filter(|dm| container_name(cluster, dm.name()) == *name)
                    .map(|dm| dm.key()),
            ),
            // Infra machines waiting for their Node: in the world the kubelet registers the Node
            // after kubeadm returns (in reality during the join, before CAPD's bootstrap task ends),
            // so workload notices stand in for the task event that would find the Node.
            n => {
                if let Some(cluster) = n.workload_cluster() {
                    out.extend(
                        cache
                            .in_cluster(self.shape.machine_kind(), cluster)
                            .filter(|dm| !dm.deleting() && waiting_for_node(self.shape, dm, cache))
                            .map(|dm| dm.key()),
                    )
                }
            }
        }
    }
    fn reconcile(&self, ctx: &mut Ctx<'_>, key: &ObjKey) -> ReconcileResult {
        let Some(dm) = ctx.get(key).cloned() else { return Ok(Action::DONE) };
        let shape = self.shape;
        // release-1.13 adds the finalizer before anything else; main only once the owners are known.
        if shape == Shape::Docker && !dm.deleting() && !dm.has_finalizer(MACHINE_FINALIZER) {
            ctx.add_finalizer(&dm, MACHINE_FINALIZER)?;
            return Ok(Action::DONE);
        }
        let Some(machine) = owner(ctx, &dm, Kind::Machine)?.cloned() else {
            // Without an owner there is nothing to clean up: let a deletion go through.
            if dm.deleting() && dm.has_finalizer(MACHINE_FINALIZER) {
                ctx.remove_finalizer(&dm, MACHINE_FINALIZER)?;
            } else {
                ctx.note(format!("Waiting for Machine Controller to set OwnerRef on {}", dm.kind));
            }
            return Ok(Action::DONE);
        };
        let cluster = cluster_from_metadata(ctx, &machine)?.clone();
        let infra_name = cluster.str_at("/spec/infrastructureRef/name").unwrap_or("").to_string();
        let infra_cluster = match shape {
            Shape::Docker => {
                let Some(ic) = ctx.get_parts(shape.cluster_kind(), dm.namespace(), &infra_name).cloned() else {
                    ctx.note("DockerCluster is not available yet");
                    return Ok(Action::DONE);
                };
                if let Some(stop) = preamble(ctx, &dm, Some(&cluster), None)? {
                    return Ok(stop);
                }
                if infra_name.is_empty() {
                    ctx.note("Cluster infrastructureRef is not available yet");
                    return Ok(Action::DONE);
                }
                ic
            }
            Shape::Dev => {
                if let Some(stop) = preamble(ctx, &dm, Some(&cluster), Some(MACHINE_FINALIZER))? {
                    return Ok(stop);
                }
                if infra_name.is_empty() {
                    ctx.note("Cluster infrastructureRef is not available yet");
                    return Ok(Action::DONE);
                }
                let Some(ic) = ctx.get_parts(shape.cluster_kind(), dm.namespace(), &infra_name).cloned() else {
                    ctx.note("DevCluster is not available yet");
                    return Ok(Action::DONE);
                };
                if !shape.has_docker_backend(&dm, shape.machine_backend()) {
                    return Err("DockerBackendReconciler can't be called for DevMachines without a Docker backend".into());
                }
                if !shape.has_docker_backend(&ic, shape.cluster_backend()) {
                    return Err("DockerBackendReconciler can't be called for DevCluster without a Docker backend".into());
                }
                ic
            }
        };
        let pool_owned = is_pool_owned(&dm);
        // Pool machines are named after their container; the others after their Machine.
        let base = if pool_owned { dm.name() } else { machine.name() };
        let scope = Scope {
            shape,
            control_plane: is_control_plane(&machine),
            container: container_name(cluster.name(), base),
            cluster_name: cluster.name().to_string(),
            machine,
            cluster,
            infra_cluster,
            pool_owned,
        };
        let mut after = (*dm).clone();
        let result = if dm.deleting() {
            reconcile_delete(ctx, &scope, &mut after)
        } else {
            match shape {
                Shape::Docker => super::machine_docker::reconcile_normal(ctx, &scope, &mut after),
                Shape::Dev => super::machine_dev::reconcile_normal(ctx, &scope, &mut after),
            }
        };
        set_ready(&mut after, shape, ctx.now);
        let patched = patch::patch(ctx, &dm, &after);
        match (result, patched) {
            (Err(e), _) => Err(e),
            (Ok(_), Err(e)) => Err(e),
            (Ok(a), Ok(())) => Ok(a),
        }
    }
}

/// Whether an infra machine has bootstrapped but its Node is not linked yet (v1.13: no providerID;
/// main: the owner Machine has no nodeRef).
fn waiting_for_node(shape: Shape, dm: &Object, cache: &ObjectSet) -> bool {
    match shape {
        Shape::Docker => conditions::is_true(dm, BOOTSTRAP_EXEC_SUCCEEDED) && dm.str_at("/spec/providerID").is_none_or(str::is_empty),
        Shape::Dev => {
            conditions::is_true(dm, BOOTSTRAP_COMPLETED)
                && dm
                    .owner_of_kind("Machine")
                    .and_then(|r| cache.get_parts(Kind::Machine, dm.namespace(), &r.name))
                    .is_none_or(|m| m.str_at("/status/nodeRef/name").is_none_or(str::is_empty))
        }
    }
}

/// The `Ready` summary of an infra machine.
fn set_ready(dm: &mut Object, shape: Shape, now: u64) {
    let types: &[&str] = match shape {
        Shape::Docker => &[CONTAINER_PROVISIONED, BOOTSTRAP_EXEC_SUCCEEDED],
        Shape::Dev => &[CGROUPS_READY, CONTAINER_PROVISIONED, PRELOADED_IMAGES_READY, BOOTSTRAP_COMPLETED],
    };
    let (st, msg) = conditions::summary_of(dm, types, &[]);
    let reason = match st {
        Status::True => "Ready",
        Status::False => "NotReady",
        Status::Unknown => "ReadyUnknown",
    };
    conditions::set(dm, [Cond::new("Ready", st, reason, msg)], now);
}

/// The bootstrap data Secret name (set or not) and the Kubernetes version of a machine: from the
/// MachinePool template for pool machines, else from the Machine. `None`: wait (no pool yet).
pub(super) fn data_and_version(ctx: &mut Ctx<'_>, s: &Scope, dm: &Object) -> Result<Option<(Option<String>, String)>, ReconcileError> {
    if s.pool_owned {
        let mp = lookup::pool_by_labels(ctx.cache, dm)
            .map_err(|e| ReconcileError(format!("failed to get machine pool for DockerMachine {}/{}: {e}", dm.namespace(), dm.name())))?;
        let Some(mp) = mp else {
            ctx.note("No MachinePool matching labels found, returning without error");
            return Ok(None);
        };
        let secret = mp.str_at("/spec/template/spec/bootstrap/dataSecretName").map(str::to_string);
        return Ok(Some((secret, mp.str_at("/spec/template/spec/version").unwrap_or("").to_string())));
    }
    let secret = s.machine.str_at("/spec/bootstrap/dataSecretName").map(str::to_string);
    Ok(Some((secret, s.machine.str_at("/spec/version").unwrap_or("").to_string())))
}

/// Copy the Machine's failure domain into the infra machine's status.
pub(super) fn set_failure_domain(dm: &mut Object, machine: &Object) {
    match machine.str_at("/spec/failureDomain").filter(|f| !f.is_empty()) {
        Some(fd) => dm.set("/status/failureDomain", json!(fd)),
        None => {
            dm.remove("/status/failureDomain");
        }
    }
}

/// Set one condition.
pub(super) fn set(dm: &mut Object, c: Cond, now: u64) {
    conditions::set(dm, [c], now);
}

/// Deletion (single pass in both flows): remove the container, rewrite the load balancer for a
/// control-plane machine, drop the finalizer. CAPD's attempt to mark `ContainerProvisioned` as
/// `Deleting` sets it on the in-memory infra cluster instead of the machine, so nothing shows.
fn reconcile_delete(ctx: &mut Ctx<'_>, s: &Scope, dm: &mut Object) -> ReconcileResult {
    let found = lookup::container(ctx.world, &s.cluster_name, &s.container)
        .map_err(|e| ReconcileError(format!("failed to create helper for managing the externalMachine: {e}")))?;
    lb::find(ctx, &s.cluster_name)
        .map_err(|e| ReconcileError(format!("failed to create helper for managing the externalLoadBalancer: {e}")))?;
    if let Some(c) = found {
        if ctx.mutant(Mutant::DockerMachineLeaksContainer) {
            ctx.note(format!("mutant: container {} left behind", c.name));
        } else {
            container::remove(ctx, &c.name).map_err(|e| ReconcileError(format!("failed to delete DockerMachine: {e}")))?;
        }
    }
    if s.control_plane {
        lb::reconfigure(ctx, &s.cluster, &s.infra_cluster, s.shape)?;
    }
    dm.meta.finalizers.retain(|f| f != MACHINE_FINALIZER);
    Ok(Action::DONE)
}

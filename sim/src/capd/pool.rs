//! The infra machine pool controllers (`DockerMachinePool` of release-1.13, `DevMachinePool` of main):
//! one `worker-<rand6>` container per MachinePool replica (labelled with the pool), one infra machine
//! (`DockerMachine`/`DevMachine`, named after the container's machine part, labels cluster-name and
//! pool-name, owner reference to the pool) per container, scale-down by deleting the Machines (that
//! CAPI's MachinePool controller created) of outdated then excess ready instances, and the contract
//! fields `spec.providerIDList`, `status.replicas`, `status.ready`, `status.infrastructureMachineKind`.
//! Deletion: delete the instances' Machines, wait for the infra machines to go, remove leftover
//! containers, drop the finalizer.
//! Sources: release-1.13 `internal/controllers/dockermachinepool_controller{,_phases}.go`, main
//! `reconcilers/devmachinepool_reconciler.go`, `backends/docker/dockermachinepool_backend.go`.
//!
//! Simplifications: the v1.13 `Resized`/`ReplicasReady` v1beta1 conditions are computed from the
//! infra machines' v1beta2 `Ready` (the simulator's infra machines carry no v1beta1 conditions); the
//! `Dev*` pool only reports the v1beta2 `ReplicasReady`/`Ready` as main does. Containers are created
//! one after another inside the reconcile (v1.13 also waits for each to boot, as its `Create` does).

use super::container;
use super::lookup::{self, cluster_from_metadata, owner};
use super::naming::{label_value, machine_from_container_name, node_image, provider_id, random_string};
use super::patch;
use super::shape::{Shape, POOL_FINALIZER};
use super::v1beta1;
use crate::controllers::common::{is_paused, keys, set_owner};
use crate::controllers::conditions::{self, Cond, Status};
use crate::engine::rng::between;
use crate::kinds::Kind;
use crate::object::{ObjKey, Object};
use crate::objectset::ObjectSet;
use crate::runtime::{Action, Ctx, ReconcileError, ReconcileResult, Reconciler};
use crate::store::Change;
use crate::world::docker::Role;
use serde_json::{json, Value};
use std::sync::Arc;

/// The infra machine pool controller of one shape.
pub struct InfraMachinePoolReconciler {
    /// The shape.
    pub shape: Shape,
}

const DOCKER_WATCHES: &[Kind] = &[Kind::MachinePool, Kind::DockerMachine, Kind::Cluster, Kind::Machine];
const DEV_WATCHES: &[Kind] = &[Kind::MachinePool, Kind::DevMachine, Kind::Cluster, Kind::Machine];

impl Reconciler for InfraMachinePoolReconciler {
    fn name(&self) -> &'static str {
        match self.shape {
            Shape::Docker => "dockermachinepool",
            Shape::Dev => "devmachinepool",
        }
    }
    fn kind(&self) -> Kind {
        self.shape.pool_kind()
    }
    fn watches(&self) -> &[Kind] {
        match self.shape {
            Shape::Docker => DOCKER_WATCHES,
            Shape::Dev => DEV_WATCHES,
        }
    }
    fn map(&self, change: &Change, cache: &ObjectSet, out: &mut Vec<ObjKey>) {
        let o = &change.object;
        let pk = self.shape.pool_kind();
        match o.kind {
            // `MachinePoolToInfrastructureMapFunc`.
            Kind::MachinePool => {
                if let Some(r) = o.at("/spec/template/spec/infrastructureRef") {
                    if r.get("kind").and_then(Value::as_str) == Some(pk.name()) {
                        if let Some(k) = crate::controllers::common::ref_key(r, o.namespace()) {
                            out.push(k);
                        }
                    }
                }
            }
            k if k == self.shape.machine_kind() => {
                for r in o.meta.owner_references.iter().filter(|r| r.kind == pk.name()) {
                    out.push(ObjKey::new(pk, o.namespace(), &r.name));
                }
            }
            Kind::Cluster => {
                let hit = match self.shape {
                    Shape::Docker => lookup::unpaused_and_provisioned(change),
                    Shape::Dev => lookup::paused_transition(change) || lookup::infra_provisioned_transition(change),
                };
                if hit {
                    out.extend(cache.in_cluster_ns(pk, o.namespace(), o.name()).map(|p| p.key()));
                }
            }
            _ => {}
        }
    }
    fn reconcile(&self, ctx: &mut Ctx<'_>, key: &ObjKey) -> ReconcileResult {
        let Some(pool) = ctx.get(key).cloned() else { return Ok(Action::DONE) };
        let shape = self.shape;
        let Some(mp) = owner(ctx, &pool, Kind::MachinePool)?.cloned() else {
            if pool.deleting() && pool.has_finalizer(POOL_FINALIZER) {
                ctx.remove_finalizer(&pool, POOL_FINALIZER)?;
            } else {
                ctx.note(format!("Waiting for MachinePool Controller to set OwnerRef on {}", pool.kind));
            }
            return Ok(Action::DONE);
        };
        let cluster = cluster_from_metadata(ctx, &mp)?.clone();
        if is_paused(Some(&cluster), &pool) {
            ctx.note("Reconciliation is paused for this object");
            return Ok(Action::DONE);
        }
        if !shape.has_docker_backend(&pool, shape.pool_backend()) {
            return Err("DockerMachinePoolBackEndReconciler can't be called for DevMachinePools without a Docker backend".into());
        }
        let mut after = (*pool).clone();
        let result = if pool.deleting() {
            reconcile_delete(ctx, shape, &cluster, &mp, &mut after)
        } else {
            let machine_kind = shape.machine_kind().name();
            let mut changed = false;
            if !after.has_finalizer(POOL_FINALIZER) {
                after.meta.finalizers.push(POOL_FINALIZER.to_string());
                changed = true;
            }
            if after.str_at("/status/infrastructureMachineKind") != Some(machine_kind) {
                after.set("/status/infrastructureMachineKind", json!(machine_kind));
                changed = true;
            }
            if changed {
                Ok(Action::DONE)
            } else {
                reconcile_normal(ctx, shape, &cluster, &mp, &mut after)
            }
        };
        match shape {
            Shape::Docker => v1beta1::set_summary(&mut after, &["ReplicasReady"], ctx.now),
            Shape::Dev => {
                let (st, msg) = conditions::summary_of(&after, &["ReplicasReady"], &[]);
                let reason = match st {
                    Status::True => "Ready",
                    Status::False => "NotReady",
                    Status::Unknown => "ReadyUnknown",
                };
                conditions::set(&mut after, [Cond::new("Ready", st, reason, msg)], ctx.now);
            }
        }
        let patched = patch::patch(ctx, &pool, &after);
        match (result, patched) {
            (Err(e), _) | (Ok(_), Err(e)) => Err(e),
            (Ok(a), Ok(())) => Ok(a),
        }
    }
}

/// The infra machines of a pool (labels cluster-name and pool-name = the MachinePool's name), by name.
fn infra_machines(cache: &ObjectSet, shape: Shape, cluster: &str, mp: &Object) -> Vec<Arc<Object>> {
    cache
        .in_cluster_ns(shape.machine_kind(), mp.namespace(), cluster)
        .filter(|m| m.label(keys::POOL_NAME) == Some(mp.name()))
        .cloned()
        .collect()
}

/// The image the pool's instances must run (`isMachineMatchingInfrastructureSpec`).
fn expected_image(shape: Shape, mp: &Object, pool: &Object) -> Result<String, String> {
    let version = mp.str_at("/spec/template/spec/version").unwrap_or("");
    let custom = pool.str_at(&format!("{}/customImage", shape.pool_backend())).unwrap_or("");
    node_image(version, custom)
}

fn reconcile_normal(ctx: &mut Ctx<'_>, shape: Shape, cluster: &Object, mp: &Object, pool: &mut Object) -> ReconcileResult {
    let now = ctx.now;
    if mp.at("/spec/template/spec/bootstrap/dataSecretName").is_none() {
        ctx.note("Waiting for the Bootstrap provider controller to set bootstrap data");
        return Ok(Action::DONE);
    }
    let replicas = mp.i64_at("/spec/replicas").unwrap_or(1).max(0) as usize;
    let cname = cluster.name().to_string();
    let pool_label = shape.pool_container_label();
    let pool_name = pool.name().to_string();
    let image = expected_image(shape, mp, pool).map_err(ReconcileError)?;
    // Containers: create the missing replicas.
    let listed = lookup::containers(ctx.world, &cname, &[(pool_label, &pool_name)]);
    let matching = listed.iter().filter(|c| c.image == image).count();
    for _ in matching..replicas {
        let name = format!("worker-{}", random_string(ctx, 6));
        let cont = super::naming::container_name(&cname, &name);
        if let Some(c) = lookup::container(ctx.world, &cname, &cont).map_err(ReconcileError)? {
            // `Exists() && !IsRunning()`: not listed as `Up` (a paused container is).
            if !c.is_up() {
                container::remove(ctx, &cont).map_err(|e| ReconcileError(format!("Failed to delete not running DockerMachine: {e}")))?;
            }
        }
        let fds: Vec<String> = mp
            .at("/spec/failureDomains")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect();
        let fd = if fds.is_empty() { String::new() } else { fds[between(ctx.rng(), 0, fds.len() as u64 - 1) as usize].clone() };
        let version = mp.str_at("/spec/template/spec/version").unwrap_or("").to_string();
        let custom = pool.str_at(&format!("{}/customImage", shape.pool_backend())).unwrap_or("").to_string();
        ctx.note(format!("Creating container {cont} for machinePool"));
        container::create(
            ctx,
            &container::NodeSpec {
                cluster: &cname,
                name: &cont,
                role: Role::Worker,
                version: &version,
                custom_image: &custom,
                failure_domain: &fd,
                extra_labels: &[(pool_label, &pool_name)],
            },
        )
        .map_err(|e| {
            ReconcileError(format!("failed to create a new docker machine: failed to create docker machine with name {name}: {e}"))
        })?;
        if shape == Shape::Docker {
            // release-1.13's `Create` waits for the multi-user target.
            if let Some(c) = ctx.world.docker.get(&cont) {
                let wait = c.booted_at.saturating_sub(now);
                ctx.spend(wait);
            }
        }
    }
    // Infra machines: one per container.
    let containers = lookup::containers(ctx.world, &cname, &[(pool_label, &pool_name)]);
    let mut machines: Vec<Object> = infra_machines(ctx.cache, shape, &cname, mp).iter().map(|m| (**m).clone()).collect();
    for c in &containers {
        let name = machine_from_container_name(&cname, &c.name);
        match machines.iter_mut().find(|m| m.name() == name) {
            Some(existing) => {
                let mut desired = existing.clone();
                desired.meta.labels.insert(keys::CLUSTER_NAME.into(), cname.clone());
                desired.meta.labels.insert(keys::POOL_NAME.into(), label_value(mp.name()));
                set_owner(&mut desired, pool, false);
                if desired != *existing {
                    patch::patch(ctx, existing, &desired)?;
                    *existing = desired;
                }
            }
            None => {
                let obj = desired_infra_machine(shape, &name, &cname, mp, pool);
                match ctx.create(obj.clone()) {
                    Ok(created) => machines.push((*created).clone()),
                    Err(e) if e.is_already_exists() => machines.push(obj),
                    Err(e) => return Err(ReconcileError(format!("failed to create a new docker machine: {e}"))),
                }
            }
        }
    }
    // Infra machines whose container is gone: delete their Machine.
    let cont_names: Vec<String> = containers.iter().map(|c| machine_from_container_name(&cname, &c.name)).collect();
    for m in machines.iter().filter(|m| !cont_names.iter().any(|n| n == m.name())) {
        ctx.note(format!("Deleting {} {} with no underlying infrastructure", m.kind, m.name()));
        delete_owner_machine(ctx, m)?;
    }
    machines.retain(|m| cont_names.iter().any(|n| n == m.name()));
    // Scale down: outdated instances first, then excess ready ones; annotated Machines first.
    let mut ordered: Vec<(bool, Object)> = machines.iter().map(|m| (delete_annotated(ctx, m), m.clone())).collect();
    ordered.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.name().cmp(b.1.name())));
    let ready = |m: &Object| m.bool_at("/status/initialization/provisioned");
    let total_ready = ordered.iter().filter(|(_, m)| ready(m)).count();
    let image_of =
        |m: &Object| containers.iter().find(|c| machine_from_container_name(&cname, &c.name) == m.name()).map(|c| c.image.clone());
    let outdated: Vec<&Object> = ordered.iter().map(|(_, m)| m).filter(|m| image_of(m).as_deref() != Some(image.as_str())).collect();
    let ready_matching: Vec<&Object> =
        ordered.iter().map(|(_, m)| m).filter(|m| image_of(m).as_deref() == Some(image.as_str()) && ready(m)).collect();
    let mut over = total_ready as i64 - replicas as i64;
    for m in outdated.into_iter().chain(ready_matching.iter().copied()) {
        if over <= 0 {
            break;
        }
        ctx.note(format!("Deleting {} {} (outdated or excess replica)", m.kind, m.name()));
        delete_owner_machine(ctx, m)?;
        over -= 1;
    }
    // Contract fields.
    let listed = infra_machines(ctx.cache, shape, &cname, mp);
    let mut pids: Vec<String> =
        listed.iter().filter_map(|m| m.str_at("/spec/providerID").filter(|p| !p.is_empty()).map(str::to_string)).collect();
    pids.sort();
    pool.set("/spec/providerIDList", json!(pids));
    pool.set("/status/replicas", json!(listed.len()));
    if pool.str_at("/spec/providerID").unwrap_or("").is_empty() {
        pool.set("/spec/providerID", json!(provider_id(&format!("{cname}-dmp-{pool_name}"))));
    }
    if pids.len() == replicas && listed.len() == replicas {
        pool.set("/status/ready", json!(true));
        match shape {
            Shape::Docker => v1beta1::mark_true(pool, "ReplicasReady", now),
            Shape::Dev => conditions::set(pool, [Cond::t("ReplicasReady", "Ready")], now),
        }
        return Ok(Action::DONE);
    }
    if shape == Shape::Docker {
        update_v1beta1_status(pool, &listed, ready_matching.len(), replicas, now);
    }
    Ok(Action::DONE)
}

/// release-1.13's `updateStatus`: `Resized` from the ready count, `ReplicasReady` aggregated from the
/// instances.
fn update_v1beta1_status(pool: &mut Object, machines: &[Arc<Object>], ready: usize, desired: usize, now: u64) {
    if ready < desired {
        let msg = format!("Scaling up MachinePool to {desired} replicas (actual {ready})");
        v1beta1::mark_false(pool, "Resized", "ScalingUp", "Warning", &msg, now);
    } else if ready > desired {
        let msg = format!("Scaling down MachinePool to {desired} replicas (actual {ready})");
        v1beta1::mark_false(pool, "Resized", "ScalingDown", "Warning", &msg, now);
    } else {
        if machines.len() == ready {
            v1beta1::mark_true(pool, "Resized", now);
        }
        v1beta1::mark_true(pool, "MachinesCreated", now);
    }
    let not_ready: Vec<&Arc<Object>> = machines.iter().filter(|m| !conditions::is_true(m, "Ready")).collect();
    match not_ready.first() {
        None if !machines.is_empty() => v1beta1::mark_true(pool, "ReplicasReady", now),
        None => {}
        Some(m) => {
            let msg = format!("{} of {} completed", machines.len() - not_ready.len(), machines.len());
            let reason = conditions::get(m, "Ready").map_or("NotReady".to_string(), |c| c.reason.to_string());
            v1beta1::mark_false(pool, "ReplicasReady", &reason, "Info", &msg, now);
        }
    }
}

/// The infra machine of a pool instance (`computeDesiredDockerMachine`).
fn desired_infra_machine(shape: Shape, name: &str, cluster: &str, mp: &Object, pool: &Object) -> Object {
    let mut m = Object::new(shape.machine_kind(), pool.namespace(), name);
    m.meta.labels.insert(keys::CLUSTER_NAME.into(), cluster.to_string());
    m.meta.labels.insert(keys::POOL_NAME.into(), label_value(mp.name()));
    set_owner(&mut m, pool, false);
    let src = shape.pool_backend();
    let dst = shape.machine_backend();
    for field in ["customImage", "preLoadImages", "extraMounts"] {
        if let Some(v) = pool.at(&format!("{src}/{field}")).filter(|v| !v.is_null()) {
            m.set(&format!("{dst}/{field}"), v.clone());
        }
    }
    if shape == Shape::Dev && m.at(dst).is_none() {
        m.set(dst, json!({}));
    }
    m
}

/// Whether the instance's Machine carries `cluster.x-k8s.io/delete-machine` (propagated to the
/// infra machine so that scale-down prefers it).
fn delete_annotated(ctx: &Ctx<'_>, m: &Object) -> bool {
    m.annotation(keys::DELETE_MACHINE).is_some()
        || owner(ctx, m, Kind::Machine).ok().flatten().is_some_and(|machine| machine.annotation(keys::DELETE_MACHINE).is_some())
}

/// `deleteMachinePoolMachine`: delete the Machine owning an infra machine (nothing without one).
fn delete_owner_machine(ctx: &mut Ctx<'_>, m: &Object) -> Result<(), ReconcileError> {
    let machine = owner(ctx, m, Kind::Machine)
        .map_err(|e| ReconcileError(format!("error getting owner Machine for {} {}/{}: {e}", m.kind, m.namespace(), m.name())))?
        .cloned();
    let Some(machine) = machine else {
        ctx.note(format!("No owner Machine exists for {} {}", m.kind, m.name()));
        return Ok(());
    };
    match ctx.delete(&machine.key()) {
        Ok(_) => Ok(()),
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => Err(ReconcileError(format!("failed to delete Machine {}/{}: {e}", machine.namespace(), machine.name()))),
    }
}

fn reconcile_delete(ctx: &mut Ctx<'_>, shape: Shape, cluster: &Object, mp: &Object, pool: &mut Object) -> ReconcileResult {
    let machines = infra_machines(ctx.cache, shape, cluster.name(), mp);
    if !machines.is_empty() {
        ctx.note(format!("{} still has dependent {}s, deleting them first and requeuing", pool.kind, shape.machine_kind()));
        let mut errs = Vec::new();
        for m in machines.iter().filter(|m| !m.deleting()) {
            if let Err(e) = delete_owner_machine(ctx, m) {
                errs.push(format!(
                    "error deleting {} {}/{}: failed to delete {} {}: {e}",
                    pool.kind,
                    pool.namespace(),
                    pool.name(),
                    m.kind,
                    m.name()
                ));
            }
        }
        if !errs.is_empty() {
            return Err(ReconcileError(errs.join(", ")));
        }
        return Ok(Action::DONE);
    }
    let label = shape.pool_container_label();
    for c in lookup::containers(ctx.world, cluster.name(), &[(label, pool.name())]) {
        ctx.note(format!("Deleting Docker container {}", c.name));
        container::remove(ctx, &c.name).map_err(|e| ReconcileError(format!("failed to delete machine {}: {e}", c.name)))?;
    }
    pool.meta.finalizers.retain(|f| f != POOL_FINALIZER);
    Ok(Action::DONE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_instances_copy_the_template_into_the_shape() {
        let mut mp = Object::new(Kind::MachinePool, "default", "mp-0");
        mp.meta.uid = "u-mp".into();
        let mut dmp = Object::new(Kind::DockerMachinePool, "default", "c1-mp-0");
        dmp.meta.uid = "u-dmp".into();
        dmp.set("/spec/template/customImage", json!("kindest/node:v1.34.3"));
        let m = desired_infra_machine(Shape::Docker, "worker-abc123", "c1", &mp, &dmp);
        assert_eq!(m.kind, Kind::DockerMachine);
        assert_eq!(m.str_at("/spec/customImage"), Some("kindest/node:v1.34.3"));
        assert_eq!(m.label(keys::POOL_NAME), Some("mp-0"));
        assert_eq!(m.owner_of_kind("DockerMachinePool").map(|r| r.controller), Some(false));
        let mut devp = Object::new(Kind::DevMachinePool, "default", "c1-mp-0");
        devp.set("/spec/backend/docker", json!({}));
        let d = desired_infra_machine(Shape::Dev, "worker-abc123", "c1", &mp, &devp);
        assert_eq!(d.at("/spec/backend/docker"), Some(&json!({})));
    }
}

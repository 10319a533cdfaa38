//! The MachinePool controller (CAPI core, MachinePool feature gate): finalizer, paused, owner and
//! labels, the bootstrap config (controller owner, data secret name copied into
//! `spec.template.spec.bootstrap.dataSecretName`), the infra machine pool (controller owner,
//! `status.ready` → `infrastructureProvisioned`, `spec.providerIDList`, `status.replicas`), a Machine for
//! each infra machine of the pool when the provider reports `status.infrastructureMachineKind` (CAPD
//! does: MachinePool Machines named after the infra machine, controlled by the pool, with
//! `bootstrap.dataSecretName: ""`), node references and the Nodes' annotations and uninitialized
//! taint, `UpToDate` on its Machines, the replica counters, the phase, and deletion (delete the
//! bootstrap config and infra pool, wait for them to go, then drop the finalizer).
//! Sources: `core/reconcilers/machinepool/{machinepool_controller.go,machinepool_controller_phases.go,
//! machinepool_controller_noderef.go,machinepool_controller_status.go,machinepool_controller_scope.go}`.
//!
//! Like CAPI, the MachinePool reports no v1beta2 conditions besides `Paused` (its status code says
//! "TODO: in future add setting conditions here"): `BootstrapReady`, `InfrastructureReady`,
//! `ReplicasReady` and `Ready` are v1beta1 conditions under `status.deprecated.v1beta1`. The Cluster's
//! `WorkersAvailable` therefore sees no `Available` condition on MachinePools, as in CAPI.
//!
//! Simplifications: the Nodes of the simulated workload clusters have no UIDs, so node references
//! carry names only and are validated by name; SSA of the pool's Machines is a plain create or a patch
//! of the fields the controller owns; the node watch maps any Node notice of the cluster to all its
//! MachinePools (CAPI maps a Node to the pool listing its providerID).
//!
//! This file holds the reconciler, its scope, the Machines of the pool and deletion; `phases.rs` the
//! bootstrap and infrastructure phases and the pool's Machines, `noderef.rs` the node references,
//! `status.rs` the replica counters and the phase, `scope.rs` what a reconcile gathers.

use super::common::{self, keys, preamble, ref_key};
use super::conditions::{self, Cond};
use crate::capd::naming::label_value;
use crate::capd::patch;
use crate::capd::v1beta1;
use crate::kinds::Kind;
use crate::object::{ObjKey, Object, OwnerRef};
use crate::objectset::ObjectSet;
use crate::runtime::{map_controller_owner, Action, Ctx, ReconcileError, ReconcileResult, Reconciler};
use crate::store::Change;
use crate::world::Notice;
use serde_json::{json, Value};
use std::sync::Arc;

mod noderef;
mod phases;
mod scope;
mod status;

use noderef::{node_ref_names, provider_ids, reconcile_node_refs};
pub use noderef::{node_references, REPLICAS_READY_REQUEUE_MS};
use phases::{cluster_client_error, reconcile_bootstrap, reconcile_infrastructure};
pub use scope::NodeInfo;
use scope::Scope;
use status::update_status;
pub use status::{aggregate_versions, reconcile_phase};

/// The MachinePool finalizer.
pub const FINALIZER: &str = "machinepool.cluster.x-k8s.io";

/// The controllers of this module.
pub fn controllers() -> Vec<Box<dyn Reconciler>> {
    vec![Box::new(MachinePoolReconciler)]
}

/// The MachinePool controller.
pub struct MachinePoolReconciler;

const WATCHES: &[Kind] = &[
    Kind::Cluster,
    Kind::KubeadmConfig,
    Kind::DockerMachinePool,
    Kind::DevMachinePool,
    Kind::DockerMachine,
    Kind::DevMachine,
    Kind::Machine,
];

impl Reconciler for MachinePoolReconciler {
    fn name(&self) -> &'static str {
        "machinepool"
    }
    fn kind(&self) -> Kind {
        Kind::MachinePool
    }
    fn watches(&self) -> &[Kind] {
        WATCHES
    }
    fn map(&self, change: &Change, cache: &ObjectSet, out: &mut Vec<ObjKey>) {
        let o = &change.object;
        match o.kind {
            Kind::Cluster if crate::capd::lookup::paused_transition(change) => {
                out.extend(pools_of(cache, o.namespace(), o.name()).map(|p| p.key()));
            }
            Kind::KubeadmConfig | Kind::DockerMachinePool | Kind::DevMachinePool => map_controller_owner(change, Kind::MachinePool, out),
            // `infraMachineToMachinePoolMapper`.
            Kind::DockerMachine | Kind::DevMachine if crate::capd::lookup::is_pool_owned(o) => {
                if let Ok(Some(mp)) = crate::capd::lookup::pool_by_labels(cache, o) {
                    out.push(mp.key());
                }
            }
            _ => {}
        }
    }
    fn map_notice(&self, notice: &Notice, cache: &ObjectSet, out: &mut Vec<ObjKey>) {
        // The ClusterCache cluster source (connection changes) and, once the control plane is
        // initialized, the node watch: both map a workload cluster to its MachinePools
        // (`machinepool_controller.go`: `WatchesRawSource(r.ClusterCache.GetClusterSource(...))`).
        if let Notice::Connection(cluster) | Notice::Node { cluster, .. } = notice {
            out.extend(
                cache
                    .in_cluster(Kind::MachinePool, cluster)
                    .filter(|mp| mp.str_at("/spec/clusterName") == Some(cluster))
                    .map(|mp| mp.key()),
            );
        }
    }
    fn reconcile(&self, ctx: &mut Ctx<'_>, key: &ObjKey) -> ReconcileResult {
        let Some(mp) = ctx.get(key).cloned() else { return Ok(Action::DONE) };
        let cname = mp.str_at("/spec/clusterName").unwrap_or("").to_string();
        let Some(cluster) = ctx.get_parts(Kind::Cluster, mp.namespace(), &cname).cloned() else {
            return Err(ReconcileError(format!(
                "failed to get cluster {cname:?} for machinepool {:?} in namespace {:?}: failed to get Cluster {}/{cname}: clusters.cluster.x-k8s.io \"{cname}\" not found",
                mp.name(),
                mp.namespace(),
                mp.namespace()
            )));
        };
        if let Some(stop) = preamble(ctx, &mp, Some(&cluster), Some(FINALIZER))? {
            return Ok(stop);
        }
        let mut after = (*mp).clone();
        let mut s = Scope::default();
        // Owner and labels run in both modes.
        after.meta.labels.insert(keys::CLUSTER_NAME.into(), cname.clone());
        if !common::has_owner(&after, &cluster) {
            after.meta.owner_references.push(OwnerRef::to(&cluster, false));
        }
        let phases: Vec<ReconcileResult> = if mp.deleting() {
            vec![reconcile_delete(ctx, &cluster, &mut after)]
        } else {
            vec![
                reconcile_bootstrap(ctx, &mut after).map_err(|e| wrap("failed to reconcile bootstrap config", e)),
                reconcile_infrastructure(ctx, &cluster, &mut after, &mut s).map_err(|e| wrap("failed to reconcile infrastructure", e)),
                get_machines(ctx, &cluster, &after, &mut s),
                reconcile_node_refs(ctx, &cluster, &mut after, &s).map_err(|e| wrap("failed to reconcile nodeRefs", e)),
                set_machines_up_to_date(ctx, &s).map_err(|e| wrap("failed to set machines up to date", e)),
            ]
        };
        // `doReconcile`: every phase runs; errors are aggregated, results kept only without errors.
        let errs: Vec<String> = phases.iter().filter_map(|r| r.as_ref().err().map(|e| e.0.clone())).collect();
        let result = if errs.is_empty() {
            Ok(phases.into_iter().filter_map(Result::ok).fold(Action::DONE, Action::min))
        } else {
            Err(ReconcileError(if errs.len() == 1 { errs[0].clone() } else { format!("[{}]", errs.join(", ")) }))
        };
        // Deferred: status, phase, v1beta1 summary, observedGeneration (only without errors).
        update_status(&mut after, &s);
        reconcile_phase(&mut after);
        v1beta1::set_summary(&mut after, &["BootstrapReady", "InfrastructureReady", "ReplicasReady"], ctx.now);
        if result.is_ok() {
            let g = after.meta.generation;
            after.set("/status/observedGeneration", json!(g));
        }
        let patched = patch::patch(ctx, &mp, &after);
        match (result, patched) {
            (Err(e), _) | (Ok(_), Err(e)) => Err(e),
            (Ok(a), Ok(())) => Ok(a),
        }
    }
}

fn wrap(msg: &str, e: ReconcileError) -> ReconcileError {
    ReconcileError(format!("{msg}: {}", e.0))
}

fn pools_of<'a>(cache: &'a ObjectSet, ns: &'a str, cluster: &'a str) -> impl Iterator<Item = &'a Arc<Object>> + 'a {
    cache.of_kind(Kind::MachinePool, Some(ns)).filter(move |mp| mp.str_at("/spec/clusterName") == Some(cluster))
}

fn get_machines(ctx: &Ctx<'_>, cluster: &Object, mp: &Object, s: &mut Scope) -> ReconcileResult {
    let pool = label_value(mp.name());
    s.machines = ctx
        .cache
        .in_cluster_ns(Kind::Machine, mp.namespace(), cluster.name())
        .filter(|m| m.label(keys::POOL_NAME) == Some(pool.as_str()))
        .filter(|m| m.controller_ref().is_none_or(|r| r.uid == mp.meta.uid))
        .cloned()
        .collect();
    Ok(Action::DONE)
}

fn set_machines_up_to_date(ctx: &mut Ctx<'_>, s: &Scope) -> ReconcileResult {
    let now = ctx.now;
    let mut errs = Vec::new();
    for m in &s.machines {
        let want =
            if m.deleting() { Cond::f("UpToDate", "NotUpToDate", "Machine is being deleted") } else { Cond::t("UpToDate", "UpToDate") };
        let cur = conditions::get(m, "UpToDate");
        if cur.is_some_and(|c| c.status == want.status && c.reason == want.reason && c.message == want.message) {
            continue;
        }
        if let Err(e) = ctx.patch_status(&m.key(), |o| conditions::set(o, [want], now)) {
            if !e.is_not_found() {
                errs.push(e.message);
            }
        }
    }
    if errs.is_empty() {
        Ok(Action::DONE)
    } else {
        Err(ReconcileError(errs.join(", ")))
    }
}

fn reconcile_delete(ctx: &mut Ctx<'_>, cluster: &Object, mp: &mut Object) -> ReconcileResult {
    // The bootstrap config and the infra pool go first.
    let mut existing = Vec::new();
    for p in ["/spec/template/spec/bootstrap/configRef", "/spec/template/spec/infrastructureRef"] {
        if let Some(k) = mp.at(p).and_then(|r| ref_key(r, mp.namespace())) {
            if let Some(o) = ctx.get(&k) {
                existing.push(o.key());
            }
        }
    }
    for k in &existing {
        match ctx.delete(k) {
            Ok(_) => {}
            Err(e) if e.is_not_found() => {}
            Err(e) => {
                return Err(ReconcileError(format!(
                    "failed deleting external references: failed to delete {} {:?} for MachinePool {:?} in namespace {:?}: {e}",
                    k.kind,
                    k.name.to_string(),
                    mp.name(),
                    mp.namespace()
                )))
            }
        }
    }
    if !existing.is_empty() {
        return Ok(Action::DONE);
    }
    // Then the Nodes that left the providerID list (unless the node deletion timeout passed).
    let timeout = mp.i64_at("/spec/template/spec/deletion/nodeDeletionTimeoutSeconds").unwrap_or(0).max(0) as u64;
    let passed = timeout != 0 && mp.meta.deletion_ms.is_some_and(|d| d + timeout * 1000 < ctx.now);
    let has_refs = mp.at("/status/nodeRefs").and_then(Value::as_array).is_some_and(|a| !a.is_empty());
    if !passed && has_refs {
        let pids = provider_ids(mp);
        let refs = node_ref_names(mp);
        let cname = cluster.name().to_string();
        let retired: Vec<String> = match ctx.world.workload(&cname) {
            Err(e) => return Err(ReconcileError(format!("failed deleting nodes: {}", cluster_client_error(&e).0))),
            Ok(wl) => refs
                .into_iter()
                .filter(|r| wl.nodes.get(r).and_then(|n| n.provider_id.as_ref()).is_some_and(|p| !pids.contains(p)))
                .collect(),
        };
        for n in retired {
            ctx.world.delete_node(&cname, &n).map_err(|e| ReconcileError(format!("failed deleting nodes: failed to delete Node: {e}")))?;
        }
    }
    mp.meta.finalizers.retain(|f| f != FINALIZER);
    Ok(Action::DONE)
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod engine_tests;

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

use super::common::{self, keys, preamble, ref_key};
use super::conditions::{self, Cond, Status};
use crate::capd::naming::label_value;
use crate::capd::patch;
use crate::capd::v1beta1;
use crate::kinds::Kind;
use crate::object::{ObjKey, Object, OwnerRef};
use crate::objectset::ObjectSet;
use crate::runtime::{map_controller_owner, Action, Ctx, ReconcileError, ReconcileResult, Reconciler};
use crate::store::Change;
use crate::world::workload::{Status as NodeStatus, UNINITIALIZED_TAINT};
use crate::world::Notice;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The MachinePool finalizer.
pub const FINALIZER: &str = "machinepool.cluster.x-k8s.io";
/// Requeue while not all replicas are ready.
pub const REPLICAS_READY_REQUEUE_MS: u64 = 30_000;

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

/// A Node of the workload cluster as the pool sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeInfo {
    /// Name.
    pub name: String,
    /// `Ready` True.
    pub ready: bool,
    /// Since when `Ready` has its status.
    pub ready_since_ms: u64,
    /// kubelet version.
    pub kubelet_version: String,
}

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

/// What one reconcile gathers for the deferred status update.
#[derive(Default)]
struct Scope {
    infra: Option<Arc<Object>>,
    machines: Vec<Arc<Object>>,
    /// Nodes by providerID (when the workload cluster answered).
    nodes: Option<BTreeMap<String, NodeInfo>>,
}

/// `reconcileExternal`: the referenced object, made controlled by the pool and labelled.
fn reconcile_external(ctx: &mut Ctx<'_>, mp: &Object, r: &Value) -> Result<Arc<Object>, ReconcileError> {
    let kind = r.get("kind").and_then(Value::as_str).unwrap_or("");
    let name = r.get("name").and_then(Value::as_str).unwrap_or("");
    let missing = || {
        ReconcileError(format!(
            "could not find {kind} {}/{name} for MachinePool {}/{}, requeuing: {} \"{name}\" not found",
            mp.namespace(),
            mp.namespace(),
            mp.name(),
            Kind::from_name(kind).map_or(kind.to_lowercase(), crate::store::error::resource_name)
        ))
    };
    let key = ref_key(r, mp.namespace()).ok_or_else(missing)?;
    let obj = ctx.get(&key).cloned().ok_or_else(missing)?;
    if let Some(c) = obj.controller_ref().filter(|c| c.uid != mp.meta.uid) {
        return Err(ReconcileError(format!(
            "Object {}/{} is already owned by another {} controller {}",
            obj.namespace(),
            obj.name(),
            c.kind,
            c.name
        )));
    }
    let cname = mp.str_at("/spec/clusterName").unwrap_or("").to_string();
    let mut probe = (*obj).clone();
    let changed = common::set_owner(&mut probe, mp, true);
    if changed || obj.label(keys::CLUSTER_NAME) != Some(cname.as_str()) {
        let owner = mp.clone();
        ctx.patch(&key, |o| {
            common::set_owner(o, &owner, true);
            o.meta.labels.insert(keys::CLUSTER_NAME.into(), cname);
        })?;
    }
    Ok(obj)
}

/// `SetMirror` of a v1beta1 `Ready` condition with the contract fallback.
fn mirror(to: &mut Object, target: &str, from: &Object, fallback: bool, fallback_reason: &str, now: u64) {
    let src = v1beta1::list(from).into_iter().find(|c| c.get("type").and_then(Value::as_str) == Some("Ready"));
    match src {
        Some(c) => {
            let s = |k: &str| c.get(k).and_then(Value::as_str).unwrap_or("").to_string();
            let sev: v1beta1::Severity = match s("severity").as_str() {
                "Error" => "Error",
                "Warning" => "Warning",
                "Info" => "Info",
                _ => "",
            };
            v1beta1::set(to, target, Status::parse(&s("status")), &s("reason"), sev, &s("message"), now);
        }
        None if fallback => v1beta1::mark_true(to, target, now),
        None => v1beta1::mark_false(to, target, fallback_reason, "Info", "", now),
    }
}

fn reconcile_bootstrap(ctx: &mut Ctx<'_>, mp: &mut Object) -> ReconcileResult {
    let now = ctx.now;
    if let Some(r) = mp.at("/spec/template/spec/bootstrap/configRef").filter(|r| r.get("name").is_some()).cloned() {
        let config = reconcile_external(ctx, mp, &r)?;
        if config.deleting() {
            return Ok(Action::DONE);
        }
        let created = config.bool_at("/status/initialization/dataSecretCreated");
        mirror(mp, "BootstrapReady", &config, created, "WaitingForDataSecret", now);
        if !created {
            ctx.note(format!("Waiting for bootstrap provider to generate data secret and report status.ready {}", config.name()));
            mp.set("/status/initialization/bootstrapDataSecretCreated", json!(false));
            return Ok(Action::DONE);
        }
        let Some(secret) = config.str_at("/status/dataSecretName").map(str::to_string) else {
            return Err(ReconcileError(format!(
                "retrieved empty dataSecretName from bootstrap provider for MachinePool {:?} in namespace {:?}",
                mp.name(),
                mp.namespace()
            )));
        };
        mp.set("/spec/template/spec/bootstrap/dataSecretName", json!(secret));
        mp.set("/status/initialization/bootstrapDataSecretCreated", json!(true));
        return Ok(Action::DONE);
    }
    if mp.str_at("/spec/template/spec/bootstrap/dataSecretName").is_some() {
        mp.set("/status/initialization/bootstrapDataSecretCreated", json!(true));
        v1beta1::mark_true(mp, "BootstrapReady", now);
        return Ok(Action::DONE);
    }
    Err(ReconcileError(format!(
        "neither .spec.bootstrap.configRef nor .spec.bootstrap.dataSecretName are set for MachinePool {:?} in namespace {:?}",
        mp.name(),
        mp.namespace()
    )))
}

/// The Nodes of a workload cluster by providerID, read through its API.
fn node_map(ctx: &Ctx<'_>, cluster: &str) -> Result<BTreeMap<String, NodeInfo>, String> {
    let wl = ctx.world.workload(cluster)?;
    Ok(wl
        .nodes
        .values()
        .filter_map(|n| {
            let pid = n.provider_id.clone()?;
            Some((
                pid,
                NodeInfo {
                    name: n.name.clone(),
                    ready: n.ready == NodeStatus::True,
                    ready_since_ms: n.ready_since_ms,
                    kubelet_version: n.kubelet_version.clone(),
                },
            ))
        })
        .collect())
}

fn cluster_client_error(e: &str) -> ReconcileError {
    ReconcileError(format!("connection to the workload cluster is down: {e}"))
}

fn reconcile_infrastructure(ctx: &mut Ctx<'_>, cluster: &Object, mp: &mut Object, s: &mut Scope) -> ReconcileResult {
    let now = ctx.now;
    let r = mp.at("/spec/template/spec/infrastructureRef").cloned().unwrap_or(Value::Null);
    let infra = match reconcile_external(ctx, mp, &r) {
        Ok(i) => i,
        Err(e) => {
            if e.0.starts_with("could not find") {
                let kind = r.get("kind").and_then(Value::as_str).unwrap_or("");
                let name = r.get("name").and_then(Value::as_str).unwrap_or("");
                if mp.bool_at("/status/initialization/infrastructureProvisioned") {
                    mp.set("/status/deprecated/v1beta1/failureReason", json!("InvalidConfiguration"));
                    mp.set(
                        "/status/deprecated/v1beta1/failureMessage",
                        json!(format!(
                            "MachinePool infrastructure resource {kind} {}/{name} has been deleted after being ready",
                            mp.namespace()
                        )),
                    );
                }
                let msg = format!("could not find infra reference of kind {kind} with name {name}");
                v1beta1::mark_false(mp, "InfrastructureReady", "IncorrectExternalRef", "Error", &msg, now);
            }
            return Err(e);
        }
    };
    s.infra = Some(infra.clone());
    if infra.deleting() {
        return Ok(Action::DONE);
    }
    let ready = infra.bool_at("/status/ready");
    mp.set("/status/initialization/infrastructureProvisioned", json!(ready));
    mirror(mp, "InfrastructureReady", &infra, ready, "WaitingForInfrastructure", now);
    let nodes = node_map(ctx, cluster.name()).map_err(|e| cluster_client_error(&e))?;
    s.nodes = Some(nodes);
    reconcile_machines(ctx, mp, &infra, s)
        .map_err(|e| ReconcileError(format!("failed to reconcile Machines for MachinePool {}/{}: {}", mp.namespace(), mp.name(), e.0)))?;
    if !ready {
        ctx.note(format!("Infrastructure provider is not yet ready {} {}", infra.kind, infra.name()));
        return Ok(Action::DONE);
    }
    let pids: Vec<Value> = infra.at("/spec/providerIDList").and_then(Value::as_array).cloned().unwrap_or_default();
    if let Some(replicas) = infra.i64_at("/status/replicas") {
        mp.set("/status/replicas", json!(replicas));
    }
    if pids.is_empty() && mp.i64_at("/status/replicas").unwrap_or(0) != 0 {
        ctx.note("Retrieved empty spec.providerIDList from infrastructure provider but status.replicas is not zero.");
        return Ok(Action::DONE);
    }
    if mp.at("/spec/providerIDList").and_then(Value::as_array).cloned().unwrap_or_default() != pids {
        mp.set("/spec/providerIDList", Value::Array(pids));
        mp.set("/status/deprecated/v1beta1/readyReplicas", json!(0));
        mp.set("/status/deprecated/v1beta1/availableReplicas", json!(0));
        let replicas = mp.i64_at("/status/replicas").unwrap_or(0);
        mp.set("/status/deprecated/v1beta1/unavailableReplicas", json!(replicas));
    }
    Ok(Action::DONE)
}

/// Machines for the pool's infra machines (`reconcileMachines`, `createOrUpdateMachines`).
fn reconcile_machines(ctx: &mut Ctx<'_>, mp: &Object, infra: &Object, s: &Scope) -> Result<(), ReconcileError> {
    let Some(kind_name) = infra.str_at("/status/infrastructureMachineKind").filter(|k| !k.is_empty()) else {
        return Ok(());
    };
    let Some(kind) = Kind::from_name(kind_name) else {
        return Err(ReconcileError(format!("failed to list infra machines: no matches for kind {kind_name:?}")));
    };
    let cname = mp.str_at("/spec/clusterName").unwrap_or("").to_string();
    let pool = label_value(mp.name());
    let infra_machines: Vec<Arc<Object>> = ctx
        .cache
        .in_cluster_ns(kind, mp.namespace(), &cname)
        .filter(|m| m.label(keys::POOL_NAME) == Some(pool.as_str()))
        .cloned()
        .collect();
    let machines: Vec<Arc<Object>> = ctx
        .cache
        .in_cluster_ns(Kind::Machine, mp.namespace(), &cname)
        .filter(|m| m.label(keys::POOL_NAME) == Some(pool.as_str()))
        .cloned()
        .collect();
    let mut errs = Vec::new();
    for im in &infra_machines {
        let node = im.str_at("/spec/providerID").and_then(|p| s.nodes.as_ref().and_then(|n| n.get(p)));
        let desired = desired_machine(mp, im, node);
        let existing = machines.iter().find(|m| m.str_at("/spec/infrastructureRef/name") == Some(im.name()));
        match existing {
            Some(m) => {
                let mut want = (**m).clone();
                want.meta.labels.extend(desired.meta.labels.to_inner());
                want.meta.annotations.extend(desired.meta.annotations.to_inner());
                if !want.meta.owner_references.iter().any(|r| r.uid == mp.meta.uid && r.controller) {
                    common::set_owner(&mut want, mp, true);
                }
                for p in ["/spec/clusterName", "/spec/bootstrap/dataSecretName", "/spec/infrastructureRef", "/spec/version"] {
                    if let Some(v) = desired.at(p) {
                        want.set(p, v.clone());
                    }
                }
                if want != **m {
                    if let Err(e) = patch::patch(ctx, m, &want) {
                        errs.push(format!("failed to update Machine {}/{}: {}", m.namespace(), m.name(), e.0));
                    }
                }
            }
            None => {
                ctx.note(format!("Creating new Machine for infraMachine {}", im.name()));
                match ctx.create(desired) {
                    Ok(_) => {}
                    Err(e) if e.is_already_exists() => {}
                    Err(e) => errs.push(format!(
                        "failed to create new Machine for infraMachine {:?} in namespace {:?}: {e}",
                        im.name(),
                        im.namespace()
                    )),
                }
            }
        }
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(ReconcileError(errs.join(", ")))
    }
}

/// `computeDesiredMachine`.
fn desired_machine(mp: &Object, infra_machine: &Object, node: Option<&NodeInfo>) -> Object {
    let mut m = Object::new(Kind::Machine, mp.namespace(), infra_machine.name());
    m.meta.owner_references.push(OwnerRef::to(mp, true));
    if let Some(labels) = mp.at("/spec/template/metadata/labels").and_then(Value::as_object) {
        for (k, v) in labels {
            m.meta.labels.insert(k.clone(), v.as_str().unwrap_or("").to_string());
        }
    }
    if let Some(ann) = mp.at("/spec/template/metadata/annotations").and_then(Value::as_object) {
        for (k, v) in ann {
            m.meta.annotations.insert(k.clone(), v.as_str().unwrap_or("").to_string());
        }
    }
    let cname = mp.str_at("/spec/clusterName").unwrap_or("");
    m.meta.labels.insert(keys::POOL_NAME.into(), label_value(mp.name()));
    m.meta.labels.insert(keys::CLUSTER_NAME.into(), cname.to_string());
    m.set("/spec/clusterName", json!(cname));
    m.set("/spec/bootstrap/dataSecretName", json!(""));
    m.set(
        "/spec/infrastructureRef",
        json!({"apiGroup": infra_machine.kind.info().group, "kind": infra_machine.kind.name(), "name": infra_machine.name()}),
    );
    if let Some(n) = node.filter(|n| !n.kubelet_version.is_empty()) {
        m.set("/spec/version", json!(n.kubelet_version));
    }
    m
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

/// Node references for the providerIDs (`getNodeReferences`): (names, ready, available).
pub fn node_references(
    provider_ids: &[String],
    min_ready_ms: u64,
    nodes: &BTreeMap<String, NodeInfo>,
    now: u64,
) -> (Vec<String>, usize, usize) {
    let mut refs = Vec::new();
    let (mut ready, mut available) = (0, 0);
    for pid in provider_ids.iter().filter(|p| !p.is_empty()) {
        if let Some(n) = nodes.get(pid) {
            if n.ready {
                ready += 1;
                if min_ready_ms == 0 || n.ready_since_ms + min_ready_ms < now {
                    available += 1;
                }
            }
            refs.push(n.name.clone());
        }
    }
    (refs, ready, available)
}

fn reconcile_node_refs(ctx: &mut Ctx<'_>, cluster: &Object, mp: &mut Object, s: &Scope) -> ReconcileResult {
    let now = ctx.now;
    if mp.deleting() {
        return Ok(Action::DONE);
    }
    let replicas = mp.i64_at("/status/replicas").unwrap_or(0);
    let ready_replicas = mp.i64_at("/status/deprecated/v1beta1/readyReplicas").unwrap_or(0);
    let node_refs: Vec<String> = mp
        .at("/status/nodeRefs")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|r| r.get("name").and_then(Value::as_str).map(str::to_string)).collect())
        .unwrap_or_default();
    if replicas == ready_replicas && node_refs.len() as i64 == ready_replicas {
        if let Some(nodes) = &s.nodes {
            if node_refs.iter().all(|r| nodes.values().any(|n| n.name == *r)) {
                v1beta1::mark_true(mp, "ReplicasReady", now);
                return Ok(Action::DONE);
            }
        }
    }
    let pids: Vec<String> = mp
        .at("/spec/providerIDList")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect();
    if pids.is_empty() && mp.i64_at("/spec/replicas").is_none_or(|r| r != 0) {
        return Ok(Action::DONE);
    }
    let cname = cluster.name().to_string();
    if let Err(e) = ctx.world.workload(&cname) {
        return Err(cluster_client_error(&e));
    }
    // Nodes of the old references whose providerID left the list go.
    let retired: Vec<String> = ctx
        .world
        .workload(&cname)
        .map(|wl| {
            node_refs
                .iter()
                .filter(|r| wl.nodes.get(*r).and_then(|n| n.provider_id.as_ref()).is_some_and(|p| !pids.contains(p)))
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    for n in retired {
        ctx.world.delete_node(&cname, &n).map_err(|e| ReconcileError(format!("failed to delete Node: {e}")))?;
    }
    let Some(nodes) = &s.nodes else { return Err(ReconcileError("failed to get Node references".into())) };
    let min_ready_ms = mp.i64_at("/spec/template/spec/minReadySeconds").unwrap_or(0).max(0) as u64 * 1000;
    let (refs, ready, available) = node_references(&pids, min_ready_ms, nodes, now);
    if refs.is_empty() && !pids.is_empty() {
        ctx.note("Cannot assign NodeRefs to MachinePool, no matching Nodes");
        return Ok(Action::DONE);
    }
    mp.set("/status/deprecated/v1beta1/readyReplicas", json!(ready));
    mp.set("/status/deprecated/v1beta1/availableReplicas", json!(available));
    mp.set("/status/deprecated/v1beta1/unavailableReplicas", json!(replicas - available as i64));
    mp.set("/status/nodeRefs", Value::Array(refs.iter().map(|n| json!({"apiVersion": "v1", "kind": "Node", "name": n})).collect()));
    // `machinepool_controller_noderef.go: reconcileNodeRefs` records the references as Go's `%+v` prints
    // a `[]corev1.ObjectReference` (Node UIDs are not modelled: empty).
    let printed: Vec<String> =
        refs.iter().map(|n| format!("{{Kind:Node Namespace: Name:{n} UID: APIVersion:v1 ResourceVersion: FieldPath:}}")).collect();
    ctx.event_normal(mp, "SuccessfulSetNodeRefs", format!("[{}]", printed.join(" ")));
    // The Nodes learn their pool; the uninitialized taint goes.
    let (ns, name) = (mp.namespace().to_string(), mp.name().to_string());
    for n in &refs {
        let (c, ns, name) = (cname.clone(), ns.clone(), name.clone());
        let changed = ctx.world.workload(&cname).ok().and_then(|wl| wl.nodes.get(n)).is_some_and(|node| {
            node.annotations.get(keys::NODE_OWNER_KIND).map(String::as_str) != Some("MachinePool")
                || node.annotations.get(keys::NODE_OWNER_NAME) != Some(&name)
                || node.taints.iter().any(|t| t.key == UNINITIALIZED_TAINT)
        });
        if changed {
            ctx.world
                .patch_node(&cname, n, |node| {
                    node.annotations.insert("cluster.x-k8s.io/cluster-name".into(), c);
                    node.annotations.insert(keys::NODE_CLUSTER_NAMESPACE.into(), ns);
                    node.annotations.insert(keys::NODE_OWNER_KIND.into(), "MachinePool".into());
                    node.annotations.insert(keys::NODE_OWNER_NAME.into(), name);
                    node.taints.retain(|t| t.key != UNINITIALIZED_TAINT);
                })
                .map_err(ReconcileError)?;
        }
    }
    if replicas != ready as i64 || refs.len() != ready {
        v1beta1::mark_false(mp, "ReplicasReady", "WaitingForReplicasReady", "Info", "", now);
        return Ok(Action::requeue(REPLICAS_READY_REQUEUE_MS));
    }
    v1beta1::mark_true(mp, "ReplicasReady", now);
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

/// Replica counters (`setReplicas`): from the pool's Machines when the provider has them, else from
/// the infra pool.
fn update_status(mp: &mut Object, s: &Scope) {
    let Some(infra) = &s.infra else { return };
    let has_machines = infra.str_at("/status/infrastructureMachineKind").is_some_and(|k| !k.is_empty());
    if !has_machines {
        let replicas = mp.at("/status/replicas").cloned().unwrap_or(Value::Null);
        let desired = mp.at("/spec/replicas").cloned().unwrap_or(Value::Null);
        for p in ["/status/readyReplicas", "/status/availableReplicas"] {
            set_or_remove(mp, p, replicas.clone());
        }
        set_or_remove(mp, "/status/upToDateReplicas", desired);
        let versions = {
            let refs: Vec<String> = mp
                .at("/status/nodeRefs")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|r| r.get("name").and_then(Value::as_str).map(str::to_string))
                .collect();
            let nodes = s.nodes.as_ref();
            let vs: Vec<String> = refs
                .iter()
                .filter_map(|r| nodes.and_then(|n| n.values().find(|x| x.name == *r)).map(|n| n.kubelet_version.clone()))
                .collect();
            aggregate_versions(vs)
        };
        set_or_remove(mp, "/status/versions", versions);
        return;
    }
    let count = |t: &str| s.machines.iter().filter(|m| conditions::is_true(m, t)).count();
    mp.set("/status/readyReplicas", json!(count("Ready")));
    mp.set("/status/availableReplicas", json!(count("Available")));
    mp.set("/status/upToDateReplicas", json!(count("UpToDate")));
    let mut sorted: Vec<&Arc<Object>> = s.machines.iter().collect();
    sorted.sort_by(|a, b| common::older_first(a, b));
    let vs: Vec<String> = sorted
        .iter()
        .map(|m| {
            m.str_at("/status/nodeInfo/kubeletVersion").filter(|v| !v.is_empty()).or(m.str_at("/spec/version")).unwrap_or("").to_string()
        })
        .collect();
    set_or_remove(mp, "/status/versions", aggregate_versions(vs));
}

fn set_or_remove(o: &mut Object, p: &str, v: Value) {
    if v.is_null() {
        o.remove(p);
    } else {
        o.set(p, v);
    }
}

/// `[{version, replicas}]` in version order (empty versions skipped); `null` when there are none.
pub fn aggregate_versions(versions: Vec<String>) -> Value {
    let mut counts: Vec<(String, i64)> = Vec::new();
    for v in versions.into_iter().filter(|v| !v.is_empty()) {
        match counts.iter_mut().find(|(x, _)| *x == v) {
            Some((_, n)) => *n += 1,
            None => counts.push((v, 1)),
        }
    }
    if counts.is_empty() {
        return Value::Null;
    }
    counts.sort_by(|(a, _), (b, _)| match (common::parse_version(a), common::parse_version(b)) {
        (Some(x), Some(y)) => x.cmp(&y),
        _ => std::cmp::Ordering::Equal,
    });
    Value::Array(counts.into_iter().map(|(v, n)| json!({"version": v, "replicas": n})).collect())
}

/// `reconcilePhase` (later rules win).
pub fn reconcile_phase(mp: &mut Object) {
    let mut phase = mp.str_at("/status/phase").unwrap_or("").to_string();
    if phase.is_empty() {
        phase = "Pending".into();
    }
    let boot = mp.bool_at("/status/initialization/bootstrapDataSecretCreated");
    let infra = mp.bool_at("/status/initialization/infrastructureProvisioned");
    if boot && !infra {
        phase = "Provisioning".into();
    }
    if mp.at("/status/nodeRefs").and_then(Value::as_array).is_some_and(|a| !a.is_empty()) {
        phase = "Provisioned".into();
    }
    let ready = mp.i64_at("/status/deprecated/v1beta1/readyReplicas").unwrap_or(0);
    let autoscaled = mp.annotation("cluster.x-k8s.io/replicas-managed-by").is_some();
    if let (true, Some(desired)) = (infra, mp.i64_at("/spec/replicas")) {
        if desired == ready {
            phase = "Running".into();
        } else if autoscaled {
            phase = "Scaling".into();
        } else if desired > ready {
            phase = "ScalingUp".into();
        } else {
            phase = "ScalingDown".into();
        }
    }
    if mp.deleting() {
        phase = "Deleting".into();
    }
    mp.set("/status/phase", json!(phase));
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
        let pids: Vec<String> = mp
            .at("/spec/providerIDList")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect();
        let refs: Vec<String> = mp
            .at("/status/nodeRefs")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|r| r.get("name").and_then(Value::as_str).map(str::to_string))
            .collect();
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
mod tests {
    use super::*;
    use rstest::rstest;

    fn node(name: &str, ready: bool, since: u64) -> NodeInfo {
        NodeInfo { name: name.into(), ready, ready_since_ms: since, kubelet_version: "v1.34.3".into() }
    }

    #[rstest]
    // Every providerID has a ready Node.
    #[case(&["p1", "p2"], 0, 10_000, (vec!["n1", "n2"], 2, 2))]
    // minReadySeconds not yet over for the second Node.
    #[case(&["p1", "p2"], 5_000, 10_000, (vec!["n1", "n2"], 2, 1))]
    // A providerID without a Node, an empty one, and a Node not ready.
    #[case(&["p1", "", "p3", "px"], 0, 10_000, (vec!["n1", "n3"], 1, 1))]
    fn node_reference_counting(#[case] pids: &[&str], #[case] min_ready: u64, #[case] now: u64, #[case] want: (Vec<&str>, usize, usize)) {
        let nodes = BTreeMap::from([
            ("p1".to_string(), node("n1", true, 1_000)),
            ("p2".to_string(), node("n2", true, 8_000)),
            ("p3".to_string(), node("n3", false, 1_000)),
        ]);
        let pids: Vec<String> = pids.iter().map(|p| p.to_string()).collect();
        let (refs, ready, available) = node_references(&pids, min_ready, &nodes, now);
        assert_eq!((refs.iter().map(String::as_str).collect::<Vec<_>>(), ready, available), want);
    }

    #[rstest]
    #[case(json!({}), "Pending")]
    #[case(json!({"initialization": {"bootstrapDataSecretCreated": true}}), "Provisioning")]
    #[case(json!({"initialization": {"bootstrapDataSecretCreated": true, "infrastructureProvisioned": true}, "deprecated": {"v1beta1": {"readyReplicas": 1}}}), "ScalingUp")]
    #[case(json!({"initialization": {"infrastructureProvisioned": true}, "nodeRefs": [{"name": "n"}], "deprecated": {"v1beta1": {"readyReplicas": 3}}}), "Running")]
    #[case(json!({"initialization": {"infrastructureProvisioned": true}, "deprecated": {"v1beta1": {"readyReplicas": 4}}}), "ScalingDown")]
    fn phases(#[case] status: Value, #[case] want: &str) {
        let mut mp = Object::new(Kind::MachinePool, "default", "mp");
        mp.set("/spec/replicas", json!(3));
        mp.set("/status", status);
        reconcile_phase(&mut mp);
        assert_eq!(mp.str_at("/status/phase"), Some(want));
    }

    #[test]
    fn versions_aggregate_in_version_order() {
        let v = aggregate_versions(vec!["v1.34.3".into(), "v1.33.1".into(), "v1.34.3".into(), String::new()]);
        assert_eq!(v, json!([{"version": "v1.33.1", "replicas": 1}, {"version": "v1.34.3", "replicas": 2}]));
        assert_eq!(aggregate_versions(vec![]), Value::Null);
    }

    #[test]
    fn pool_machines_follow_the_infra_machine() {
        let mut mp = Object::new(Kind::MachinePool, "default", "mp-0");
        mp.meta.uid = "u-mp".into();
        mp.set("/spec/clusterName", json!("c1"));
        mp.set("/spec/template/metadata/labels", json!({"team": "a"}));
        let dm = Object::new(Kind::DockerMachine, "default", "worker-abc123");
        let m = desired_machine(&mp, &dm, Some(&node("c1-worker-abc123", true, 0)));
        assert_eq!(m.name(), "worker-abc123");
        assert_eq!(m.controller_ref().map(|r| r.name.as_str()), Some("mp-0"));
        assert_eq!(m.label(keys::POOL_NAME), Some("mp-0"));
        assert_eq!(m.label("team"), Some("a"));
        assert_eq!(m.str_at("/spec/bootstrap/dataSecretName"), Some(""));
        assert_eq!(m.str_at("/spec/infrastructureRef/kind"), Some("DockerMachine"));
        assert_eq!(m.str_at("/spec/version"), Some("v1.34.3"));
    }
}

#[cfg(test)]
mod engine_tests {
    //! A MachinePool of CAPD instances in both shapes, end to end without ClusterClass: a Cluster with
    //! one hand-made control-plane Machine (init data), and a pool with join data written by the test.

    use crate::capd::Shape;
    use crate::controllers::common::b64;
    use crate::controllers::conditions;
    use crate::kinds::Kind;
    use crate::testing::{self, apply_yaml, get, list, run_for};
    use crate::world::bootstrap::{render, BootKind, BootstrapInput};
    use serde_json::json;

    fn data(kind: BootKind) -> String {
        b64(&render(&BootstrapInput {
            kind,
            cluster: "c1",
            version: "v1.34.3",
            endpoint: "172.18.0.2:6443",
            token: "abcdef.0123456789abcdef",
            taints: &[],
            spec: &json!({}),
        }))
    }

    fn setup(shape: Shape) -> crate::Sim {
        let mut sim = testing::sim(3);
        let (ck, mk, pk) = (shape.cluster_kind(), shape.machine_kind(), shape.pool_kind());
        let (cspec, pspec) = match shape {
            Shape::Docker => ("{}", "{template: {}}"),
            Shape::Dev => ("{backend: {docker: {}}}", "{backend: {docker: {}}}"),
        };
        apply_yaml(
            &mut sim,
            &format!(
                r#"
apiVersion: cluster.x-k8s.io/v1beta2
kind: Cluster
metadata: {{name: c1, namespace: default}}
spec: {{infrastructureRef: {{apiGroup: infrastructure.cluster.x-k8s.io, kind: {ck}, name: c1}}}}
---
apiVersion: infrastructure.cluster.x-k8s.io/v1beta2
kind: {ck}
metadata: {{name: c1, namespace: default}}
spec: {cspec}
---
apiVersion: v1
kind: Secret
metadata: {{name: c1-cp, namespace: default}}
data: {{value: "{init}"}}
---
apiVersion: v1
kind: Secret
metadata: {{name: mp-0-join, namespace: default}}
data: {{value: "{join}"}}
---
apiVersion: cluster.x-k8s.io/v1beta2
kind: Machine
metadata: {{name: c1-cp, namespace: default, labels: {{cluster.x-k8s.io/cluster-name: c1, cluster.x-k8s.io/control-plane: ""}}}}
spec:
  clusterName: c1
  version: v1.34.3
  bootstrap: {{dataSecretName: c1-cp}}
  infrastructureRef: {{apiGroup: infrastructure.cluster.x-k8s.io, kind: {mk}, name: c1-cp}}
---
apiVersion: infrastructure.cluster.x-k8s.io/v1beta2
kind: {mk}
metadata: {{name: c1-cp, namespace: default, labels: {{cluster.x-k8s.io/cluster-name: c1}}}}
spec: {cspec}
---
apiVersion: cluster.x-k8s.io/v1beta2
kind: MachinePool
metadata: {{name: mp-0, namespace: default}}
spec:
  clusterName: c1
  replicas: 2
  template:
    spec:
      clusterName: c1
      version: v1.34.3
      bootstrap: {{dataSecretName: mp-0-join}}
      infrastructureRef: {{apiGroup: infrastructure.cluster.x-k8s.io, kind: {pk}, name: mp-0}}
---
apiVersion: infrastructure.cluster.x-k8s.io/v1beta2
kind: {pk}
metadata: {{name: mp-0, namespace: default}}
spec: {pspec}
"#,
                init = data(BootKind::Init),
                join = data(BootKind::JoinWorker),
            ),
        );
        sim
    }

    #[test]
    fn machine_pool_instances_come_up_in_both_shapes() {
        for shape in Shape::ALL {
            let mut sim = setup(shape);
            run_for(&mut sim, 400_000);
            let pool = get(&sim, shape.pool_kind(), "default", "mp-0").unwrap();
            assert_eq!(pool.str_at("/status/infrastructureMachineKind"), Some(shape.machine_kind().name()), "{shape:?}");
            assert!(pool.bool_at("/status/ready"), "{shape:?}: {pool:?}");
            assert_eq!(pool.at("/spec/providerIDList").and_then(|v| v.as_array()).map(Vec::len), Some(2), "{shape:?}");
            // Two containers labelled with the pool, running their join.
            let label = shape.pool_container_label();
            let containers: Vec<_> = sim.world.docker.list(&[(label, "mp-0")]).into_iter().cloned().collect();
            assert_eq!(containers.len(), 2, "{shape:?}");
            assert!(containers
                .iter()
                .all(|c| c.name.starts_with("c1-worker-") && c.labels.get("io.x-k8s.kind.role").map(String::as_str) == Some("worker")));
            // One Machine per infra machine, controlled by the pool.
            let machines: Vec<_> =
                list(&sim, Kind::Machine).into_iter().filter(|m| m.label("cluster.x-k8s.io/pool-name") == Some("mp-0")).collect();
            assert_eq!(machines.len(), 2, "{shape:?}");
            for m in &machines {
                assert_eq!(m.controller_ref().map(|r| r.kind.as_str()), Some("MachinePool"));
                assert!(conditions::is_true(m, "UpToDate"), "{shape:?}");
                let im = get(&sim, shape.machine_kind(), "default", m.name()).unwrap();
                assert!(im.str_at("/spec/providerID").is_some(), "{shape:?}: {} has no providerID", im.name());
            }
            let mp = get(&sim, Kind::MachinePool, "default", "mp-0").unwrap();
            assert_eq!(mp.i64_at("/status/replicas"), Some(2), "{shape:?}");
            assert_eq!(mp.at("/spec/providerIDList").and_then(|v| v.as_array()).map(Vec::len), Some(2), "{shape:?}");
            assert_eq!(mp.at("/status/nodeRefs").and_then(|v| v.as_array()).map(Vec::len), Some(2), "{shape:?}: {mp:?}");
            assert!(mp.bool_at("/status/initialization/infrastructureProvisioned"));
            assert!(mp.bool_at("/status/initialization/bootstrapDataSecretCreated"));
            // Without a CNI the Nodes stay NotReady: the pool scales up towards ready replicas.
            assert_eq!(mp.str_at("/status/phase"), Some("ScalingUp"), "{shape:?}");
            let nodes = &sim.world.workloads["c1"].nodes;
            for c in &containers {
                let n = &nodes[&c.name];
                assert_eq!(n.annotations.get("cluster.x-k8s.io/owner-kind").map(String::as_str), Some("MachinePool"));
            }
            // Scale down to one: one instance goes with its Machine and container.
            let mut scaled = mp.to_json();
            scaled["spec"]["replicas"] = json!(1);
            crate::testing::apply_yaml(
                &mut sim,
                &serde_yaml::to_string(&json!({
                "apiVersion": "cluster.x-k8s.io/v1beta2", "kind": "MachinePool",
                "metadata": {"name": "mp-0", "namespace": "default"}, "spec": scaled["spec"].clone()}))
                .unwrap(),
            );
            run_for(&mut sim, 120_000);
            let left: Vec<_> = sim.world.docker.list(&[(label, "mp-0")]).into_iter().cloned().collect();
            assert_eq!(left.len(), 1, "{shape:?}");
        }
    }
}

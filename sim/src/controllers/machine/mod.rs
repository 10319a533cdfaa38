//! The Machine controller: ownership of the bootstrap and infrastructure objects, bootstrap data,
//! provider ID, the Node (nodeRef, nodeInfo, and the labels, annotations and taints of
//! [`node_sync`]), the certificates' expiry, phases and conditions, and deletion (pre-drain hooks, cordon and drain with the drain timeout, pre-terminate
//! hooks, infrastructure, bootstrap, Node).
//! Source: `core/reconcilers/machine/{machine_controller.go,machine_controller_phases.go,
//! machine_controller_noderef.go,machine_controller_status.go}`.
//!
//! Status in [`status`], drain in [`drain`].
//!
//! Simplifications: volume-detach waits are not modelled (the simulated nodes have no volumes, so
//! the wait ends at once and `NodeVolumesDetached` is recorded); `UpToDate` is left to the owners
//! (KCP and MachineSet set it; upstream's Machine controller computes the same for MachineDeployment
//! Machines); in-place updates are not modelled (the feature gate is off by default).

mod certs;
mod drain;
mod node_sync;
mod status;

use super::common::{self, keys, preamble, Phases};
use crate::kinds::Kind;
use crate::object::{timestamp, ObjKey, Object};
use crate::objectset::ObjectSet;
use crate::runtime::{Action, Ctx, ReconcileError, ReconcileResult, Reconciler};
use crate::store::Change;
use crate::world::workload::Status as NodeStatus;
use crate::world::Notice;
use serde_json::json;
use std::sync::Arc;

/// The Machine finalizer.
pub const FINALIZER: &str = "machine.cluster.x-k8s.io";
/// Requeue while a referenced object is missing.
pub const EXTERNAL_READY_WAIT_MS: u64 = 30_000;
/// `drainRetryInterval`.
pub const DRAIN_RETRY_MS: u64 = 20_000;
/// Default `nodeDeletionTimeoutSeconds`.
pub const DEFAULT_NODE_DELETION_TIMEOUT_S: u64 = 10;

/// The controllers of this module.
pub fn controllers() -> Vec<Box<dyn crate::runtime::Reconciler>> {
    vec![Box::new(MachineReconciler)]
}

/// The Machine controller.
pub struct MachineReconciler;

/// MachineDrainRules are read through the cache, not watched (changes map to no Machine).
/// MachineSets and MachineDeployments map to their Machines (`msToMachines`, `mdToMachines`).
const WATCHES: &[Kind] = &[
    Kind::Cluster,
    Kind::KubeadmConfig,
    Kind::DockerMachine,
    Kind::DevMachine,
    Kind::MachineDrainRule,
    Kind::MachineSet,
    Kind::MachineDeployment,
];

impl Reconciler for MachineReconciler {
    fn name(&self) -> &'static str {
        "machine"
    }
    fn kind(&self) -> Kind {
        Kind::Machine
    }
    fn watches(&self) -> &[Kind] {
        WATCHES
    }
    fn map(&self, change: &Change, cache: &ObjectSet, out: &mut Vec<ObjKey>) {
        let o = &change.object;
        match o.kind {
            Kind::MachineDrainRule => {}
            // `util.MachineSetToObjectsMapper` / `MachineDeploymentToObjectsMapper`: every Machine
            // carrying the set-name (deployment-name) label, on any change.
            Kind::MachineSet | Kind::MachineDeployment => {
                let label = if o.kind == Kind::MachineSet { keys::SET_NAME } else { keys::DEPLOYMENT_NAME };
                let cluster = o.str_at("/spec/clusterName").unwrap_or("");
                out.extend(
                    cache
                        .in_cluster_ns(Kind::Machine, o.namespace(), cluster)
                        .filter(|m| m.label(label) == Some(o.name()))
                        .map(|m| m.key()),
                )
            }
            // CAPI's Cluster watch passes `ResourceIsChanged` and `ClusterControlPlaneInitialized`
            // only: the update that initializes the control plane (`machine_controller.go`).
            Kind::Cluster => {
                if crate::capd::lookup::control_plane_initialized_transition(change) {
                    out.extend(cache.in_cluster_ns(Kind::Machine, o.namespace(), o.name()).map(|m| m.key()))
                }
            }
            _ => match o.controller_ref().filter(|r| r.kind == "Machine") {
                Some(r) => out.push(ObjKey::new(Kind::Machine, o.namespace(), &r.name)),
                // Before the Machine owns it, bootstrap and infrastructure objects carry its name.
                None => out.push(ObjKey::new(Kind::Machine, o.namespace(), o.name())),
            },
        }
    }
    /// CAPI's Machine controller watches the workload cluster's Nodes through the ClusterCache and
    /// maps each Node to its one Machine (`nodeToMachine`: by `status.nodeRef.name`, else by
    /// `spec.providerID`), and hears of connection changes and probe failures through the
    /// ClusterCache source, which it maps to every Machine of the Cluster (`clusterToMachines`).
    /// Nothing else in a workload cluster wakes it. Source:
    /// `internal/controllers/machine/machine_controller.go` (`SetupWithManager`, `watchClusterNodes`,
    /// `nodeToMachine`).
    fn map_notice(&self, notice: &Notice, cache: &ObjectSet, out: &mut Vec<ObjKey>) {
        match notice {
            Notice::Connection(cluster) => out.extend(cache.in_cluster(Kind::Machine, cluster).map(|m| m.key())),
            Notice::Node { cluster, node, provider_id } => {
                // Exactly one match counts, as in CAPI.
                let only = |field: &str, value: &str| {
                    let mut it = cache.in_cluster(Kind::Machine, cluster).filter(|m| m.str_at(field) == Some(value));
                    it.next().filter(|_| it.next().is_none()).map(|m| m.key())
                };
                let by_provider_id = || only("/spec/providerID", provider_id.as_deref().filter(|id| !id.is_empty())?);
                out.extend(only("/status/nodeRef/name", node).or_else(by_provider_id));
            }
            Notice::Workload(_) | Notice::Container { .. } => {}
        }
    }
    fn reconcile(&self, ctx: &mut Ctx<'_>, key: &ObjKey) -> ReconcileResult {
        let Some(machine) = ctx.get(key).cloned() else { return Ok(Action::DONE) };
        let cluster_name = machine.str_at("/spec/clusterName").unwrap_or("").to_string();
        let Some(cluster) = ctx.get_parts(Kind::Cluster, machine.namespace(), &cluster_name).cloned() else {
            if machine.deleting() {
                // Nothing can be done through a Cluster that is gone: let the Machine go.
                ctx.remove_finalizer(&machine, FINALIZER)?;
                return Ok(Action::DONE);
            }
            return Err(ReconcileError(format!("failed to get Cluster {}/{cluster_name}: not found", machine.namespace())));
        };
        if let Some(stop) = preamble(ctx, &machine, Some(&cluster), Some(FINALIZER))? {
            return Ok(stop);
        }
        let mut s = Scope::read(ctx, &machine);
        // `Reconcile`: the owning MachineSet and its MachineDeployment are read before any phase;
        // one that cannot be read fails the reconcile before anything is written.
        (s.ms, s.md) = owners(ctx, &machine)?;
        // `reconcile`: the phases every reconcile runs (`alwaysReconcile`), then `reconcileDelete`
        // for a deleting Machine (`reconcileInPlaceUpdate` is behind the InPlaceUpdates gate, off),
        // each phase run even after another failed (`doReconcile`).
        let deleting = machine.deleting();
        let mut phases = Phases::default();
        phases.run(reconcile_owner_and_labels(ctx, &machine, &cluster));
        phases.run(reconcile_bootstrap(ctx, &machine, &cluster, &s));
        phases.run(reconcile_infrastructure(ctx, &machine, &cluster, &s));
        phases.run(reconcile_node(ctx, &machine, &cluster, &mut s).map(|()| Action::DONE));
        phases.run(certs::reconcile_certificate_expiry(ctx, &machine, s.bootstrap.as_deref()));
        if deleting {
            phases.run(reconcile_delete(ctx, &machine, &cluster, &mut s));
        }
        let result = phases.finish();
        let Some(live) = ctx.current(key) else { return result };
        let update = status::compute(ctx, &live, &cluster, &s);
        let extra = update.requeue;
        let now = ctx.now;
        ctx.patch_status(key, |o| status::apply(o, update, now))?;
        match result {
            Ok(a) => Ok(a.min(extra)),
            Err(e) => Err(e),
        }
    }
}

/// What one reconcile reads.
struct Scope {
    bootstrap: Option<Arc<Object>>,
    infra: Option<Arc<Object>>,
    /// The MachineSet owning the Machine, and the MachineDeployment owning that.
    ms: Option<Arc<Object>>,
    md: Option<Arc<Object>>,
    node: NodeView,
    deleting_reason: String,
    deleting_message: String,
}

/// The Node as the Machine controller saw it.
#[derive(Clone, Debug, Default)]
enum NodeView {
    /// Not looked at (no providerID, cluster not ready).
    #[default]
    NotChecked,
    /// The workload API did not answer.
    Unreachable,
    /// No Node with the providerID.
    Missing,
    /// The Node: its name, `Ready` (status, message, lastTransitionTime), every condition (type,
    /// status, message) in the order the API shows them, and the kubelet version.
    Found { name: String, ready: Option<(NodeStatus, String, u64)>, conds: Vec<(String, NodeStatus, String)>, kubelet_version: String },
}

impl Scope {
    fn read(ctx: &Ctx<'_>, m: &Object) -> Scope {
        let ns = m.namespace();
        let bkey = m.at("/spec/bootstrap/configRef").and_then(|r| common::ref_key(r, ns));
        let ikey = m.at("/spec/infrastructureRef").and_then(|r| common::ref_key(r, ns));
        let bootstrap = bkey.as_ref().and_then(|k| ctx.get(k)).cloned();
        let infra = ikey.as_ref().and_then(|k| ctx.get(k)).cloned();
        Scope {
            bootstrap,
            infra,
            ms: None,
            md: None,
            node: NodeView::NotChecked,
            deleting_reason: String::new(),
            deleting_message: String::new(),
        }
    }
}

/// `getOwnerMachineSet` (the first owner reference of kind MachineSet in CAPI's group) and
/// `getOwnerMachineDeployment` (by the MachineSet's deployment-name label).
/// The owning MachineSet and its MachineDeployment, as far as there are.
type Owners = (Option<Arc<Object>>, Option<Arc<Object>>);

fn owners(ctx: &Ctx<'_>, m: &Object) -> Result<Owners, ReconcileError> {
    let Some(r) =
        m.meta.owner_references.iter().find(|r| r.kind == "MachineSet" && r.api_version.split('/').next() == Some("cluster.x-k8s.io"))
    else {
        return Ok((None, None));
    };
    let Some(ms) = ctx.get_parts(Kind::MachineSet, m.namespace(), &r.name).cloned() else {
        return Err(ReconcileError(format!(
            "failed to retrieve owner MachineSet for Machine {}/{}: machinesets.cluster.x-k8s.io {:?} not found",
            m.namespace(),
            m.name(),
            r.name
        )));
    };
    let md_name = ms.label(keys::DEPLOYMENT_NAME).unwrap_or("");
    if md_name.is_empty() {
        return Ok((Some(ms), None));
    }
    match ctx.get_parts(Kind::MachineDeployment, m.namespace(), md_name).cloned() {
        Some(md) => Ok((Some(ms), Some(md))),
        None => Err(ReconcileError(format!(
            "failed to retrieve owner MachineDeployment for MachineSet {}/{}: machinedeployments.cluster.x-k8s.io {md_name:?} not found",
            ms.namespace(),
            ms.name()
        ))),
    }
}

/// Make the Machine the only controller owner of its bootstrap / infrastructure object, and label it.
fn ensure_owned(ctx: &mut Ctx<'_>, obj: &Arc<Object>, machine: &Object, cluster_name: &str) -> Result<(), ReconcileError> {
    let exact = obj.meta.owner_references.iter().any(|r| r.uid == machine.meta.uid && r.controller);
    let on_create = obj.meta.owner_references.iter().any(|r| matches!(r.kind.as_str(), "MachineSet" | "KubeadmControlPlane"));
    if exact && !on_create && obj.label(keys::CLUSTER_NAME) == Some(cluster_name) {
        return Ok(());
    }
    let m = machine.clone();
    let c = cluster_name.to_string();
    ctx.patch(&obj.key(), |o| {
        // The MachineSet / control-plane owner set at creation goes once the Machine exists.
        o.meta.owner_references.retain(|r| !matches!(r.kind.as_str(), "MachineSet" | "KubeadmControlPlane"));
        for r in o.meta.owner_references.iter_mut() {
            r.controller = false;
        }
        common::set_owner(o, &m, true);
        o.meta.labels.insert(keys::CLUSTER_NAME.into(), c);
    })?;
    Ok(())
}

/// `reconcileMachineOwnerAndLabels`: a stand-alone Machine is owned by its Cluster, and every
/// Machine carries the cluster-name label.
fn reconcile_owner_and_labels(ctx: &mut Ctx<'_>, m: &Arc<Object>, cluster: &Arc<Object>) -> ReconcileResult {
    let cluster_name = cluster.name().to_string();
    if m.label(keys::CLUSTER_NAME) != Some(cluster_name.as_str()) || m.controller_ref().is_none() && !common::has_owner(m, cluster) {
        let c = cluster.clone();
        ctx.patch(&m.key(), |o| {
            o.meta.labels.insert(keys::CLUSTER_NAME.into(), cluster_name);
            if o.controller_ref().is_none() {
                common::set_owner(o, &c, false);
            }
        })?;
    }
    Ok(Action::DONE)
}

/// `reconcileBootstrap` (`machine_controller_phases.go`): nothing without a `configRef` (a data
/// secret the user provides is never marked created); a missing config is waited for (tolerated
/// while deleting); a config being deleted is left alone; else the data secret name is copied once
/// the config reports it created.
fn reconcile_bootstrap(ctx: &mut Ctx<'_>, m: &Arc<Object>, cluster: &Object, s: &Scope) -> ReconcileResult {
    if m.at("/spec/bootstrap/configRef").is_none() {
        return Ok(Action::DONE);
    }
    let Some(b) = &s.bootstrap else {
        return Ok(if m.deleting() { Action::DONE } else { Action::requeue(EXTERNAL_READY_WAIT_MS) });
    };
    let key = m.key();
    ensure_owned(ctx, b, m, cluster.name())?;
    if m.str_at("/spec/bootstrap/dataSecretName").is_some() {
        if !m.bool_at("/status/initialization/bootstrapDataSecretCreated") {
            ctx.patch_status(&key, |o| o.set("/status/initialization/bootstrapDataSecretCreated", json!(true)))?;
        }
        return Ok(Action::DONE);
    }
    if b.deleting() || !b.bool_at("/status/initialization/dataSecretCreated") {
        return Ok(Action::DONE);
    }
    let Some(secret) = b.str_at("/status/dataSecretName").filter(|n| !n.is_empty()).map(str::to_string) else {
        return Err(ReconcileError(format!("got empty status.dataSecretName field from {} {}/{}", b.kind.name(), b.namespace(), b.name())));
    };
    ctx.patch(&key, |o| o.set("/spec/bootstrap/dataSecretName", json!(secret)))?;
    ctx.patch_status(&key, |o| o.set("/status/initialization/bootstrapDataSecretCreated", json!(true)))?;
    Ok(Action::DONE)
}

/// `reconcileInfrastructure` (`machine_controller_phases.go`): a missing infrastructure machine is
/// waited for (tolerated while deleting, an error once it had been provisioned); one being deleted
/// is left alone; once provisioned (or once the Machine was), its providerID, addresses and failure
/// domain are copied, waiting for the providerID with `DeferNextReconcileForObject` (5s).
fn reconcile_infrastructure(ctx: &mut Ctx<'_>, m: &Arc<Object>, cluster: &Object, s: &Scope) -> ReconcileResult {
    let key = m.key();
    let was_provisioned = m.bool_at("/status/initialization/infrastructureProvisioned");
    let Some(i) = &s.infra else {
        if m.deleting() {
            return Ok(Action::DONE);
        }
        if was_provisioned {
            let (ns, kind) = (m.namespace(), m.str_at("/spec/infrastructureRef/kind").unwrap_or(""));
            let name = m.str_at("/spec/infrastructureRef/name").unwrap_or("");
            return Err(ReconcileError(format!("could not find {kind} {ns}/{name} for Machine {ns}/{}", m.name())));
        }
        return Ok(Action::requeue(EXTERNAL_READY_WAIT_MS));
    };
    ensure_owned(ctx, i, m, cluster.name())?;
    if i.deleting() || !i.bool_at("/status/initialization/provisioned") && !was_provisioned {
        return Ok(Action::DONE);
    }
    let Some(pid) = i.str_at("/spec/providerID").filter(|p| !p.is_empty()).map(str::to_string) else {
        // Provisioning infrastructure takes some time: slow down.
        let at = ctx.now + 5_000;
        ctx.defer_next_reconcile(m, at);
        return Ok(Action::DONE);
    };
    let addresses = i.at("/status/addresses").cloned();
    let fd = i.str_at("/spec/failureDomain").or_else(|| i.str_at("/status/failureDomain")).map(str::to_string);
    if m.str_at("/spec/providerID") != Some(pid.as_str()) || (fd.is_some() && m.str_at("/spec/failureDomain").is_none()) {
        ctx.patch(&key, |o| {
            o.set("/spec/providerID", json!(pid));
            if let Some(f) = fd {
                if o.str_at("/spec/failureDomain").is_none() {
                    o.set("/spec/failureDomain", json!(f));
                }
            }
        })?;
    }
    ctx.patch_status(&key, |o| {
        o.set("/status/initialization/infrastructureProvisioned", json!(true));
        if let Some(a) = addresses {
            o.set("/status/addresses", a);
        }
    })?;
    Ok(Action::DONE)
}

/// `reconcileNode` (for running and deleting Machines alike): find the Node by providerID once the
/// control plane is initialized, set `status.nodeRef` and `status.nodeInfo`, then `patchNode`
/// ([`node_sync`]).
fn reconcile_node(ctx: &mut Ctx<'_>, m: &Arc<Object>, cluster: &Arc<Object>, s: &mut Scope) -> Result<(), ReconcileError> {
    let key = m.key();
    let cluster_name = cluster.name().to_string();
    let Some(pid) = ctx.current(&key).and_then(|o| o.str_at("/spec/providerID").filter(|p| !p.is_empty()).map(str::to_string)) else {
        return Ok(());
    };
    // The ClusterCache connects once the Cluster's infrastructure is provisioned and its kubeconfig
    // exists (`clustercache/cluster_cache.go`), not only after the control plane is initialized:
    // stand-alone control-plane Machines get their nodeRef that way, which then initializes it.
    let can_connect = cluster.bool_at("/status/initialization/infrastructureProvisioned")
        && ctx.get_parts(Kind::Secret, cluster.namespace(), &format!("{cluster_name}-kubeconfig")).is_some();
    if !can_connect {
        return Ok(());
    }
    s.node = look_up_node(ctx, &cluster_name, &pid);
    if let NodeView::Found { name, kubelet_version, .. } = &s.node {
        let (name, kv) = (name.clone(), kubelet_version.clone());
        if m.str_at("/status/nodeRef/name").is_none() {
            // `machine_controller_noderef.go: reconcileNode`.
            ctx.event_normal(m, "SuccessfulSetNodeRef", name.clone());
        }
        ctx.patch_status(&key, |o| {
            o.set("/status/nodeRef", json!({"name": name}));
            // `machine_controller_noderef.go: reconcileNode` copies the Node's whole `NodeSystemInfo`.
            o.set("/status/nodeInfo", crate::world::objects::node_info(&name, &kv));
        })?;
        sync_node(ctx, m, &cluster_name, &name, s)?;
    }
    Ok(())
}

/// `reconcileNode`'s managed labels and annotations, the interruptible label, then `patchNode`;
/// the Node is written only when upstream would patch it and the patch changes something.
fn sync_node(ctx: &mut Ctx<'_>, m: &Object, cluster: &str, node: &str, s: &Scope) -> Result<(), ReconcileError> {
    let Some(current) = ctx.world.workload(cluster).ok().and_then(|wl| wl.nodes.get(node)).cloned() else {
        return Ok(());
    };
    let mut labels = node_sync::managed_labels(m.meta.labels.iter());
    // The infrastructure provider may report an interruptible instance.
    let interruptible = s.infra.as_ref().is_some_and(|i| i.bool_at("/status/interruptible"));
    if interruptible {
        labels.insert(node_sync::INTERRUPTIBLE_LABEL.to_string(), String::new());
    }
    let had_interruptible = current.labels.contains_key(node_sync::INTERRUPTIBLE_LABEL);
    let taints = node_sync::machine_taints(m);
    let outdated = node_sync::outdated(s.ms.as_deref(), s.md.as_deref())
        .map_err(|e| ReconcileError(format!("failed to reconcile Node {node}: failed to check if Node {node} is outdated: {e}")))?;
    let desired = node_sync::Desired {
        labels,
        annotations: node_sync::managed_annotations(m),
        taints: ctx.gates().machine_taint_propagation.then_some(&taints[..]),
        outdated,
    };
    let mut next = current.clone();
    let patch = node_sync::patch_node(&mut next, &desired).map_err(|e| ReconcileError(format!("failed to reconcile Node {node}: {e}")))?;
    if patch && (next.labels != current.labels || next.annotations != current.annotations || next.taints != current.taints) {
        ctx.world
            .patch_node(cluster, node, |n| {
                n.labels = next.labels;
                n.annotations = next.annotations;
                n.taints = next.taints;
            })
            .map_err(ReconcileError)?;
        // Pods waiting for a Node with these labels can now be scheduled.
        let now = ctx.now;
        ctx.world.schedule_pending_pods(cluster, now);
    }
    if !had_interruptible && interruptible {
        ctx.event_normal(m, "SuccessfulSetInterruptibleNodeLabel", node.to_string());
    }
    Ok(())
}

fn look_up_node(ctx: &Ctx<'_>, cluster: &str, provider_id: &str) -> NodeView {
    match ctx.world.workload(cluster) {
        Err(_) => NodeView::Unreachable,
        Ok(wl) => match wl.node_by_provider_id(provider_id) {
            None => NodeView::Missing,
            Some(n) => {
                // As `world::objects::node_json` shows them: Ready, the kubelet's pressure conditions
                // (Unknown once it stops posting), then conditions set from outside.
                let posting = n.ready != NodeStatus::Unknown;
                let mut conds = vec![("Ready".to_string(), n.ready, n.ready_message.clone())];
                for t in ["MemoryPressure", "DiskPressure", "PIDPressure"] {
                    let (st, msg) = if posting {
                        (NodeStatus::False, String::new())
                    } else {
                        (NodeStatus::Unknown, "Kubelet stopped posting node status.".to_string())
                    };
                    conds.push((t.to_string(), st, msg));
                }
                for (t, c) in &n.extra_conditions {
                    conds.push((t.clone(), c.status, c.message.clone()));
                }
                NodeView::Found {
                    name: n.name.clone(),
                    ready: Some((n.ready, n.ready_message.clone(), n.ready_since_ms)),
                    conds,
                    kubelet_version: n.kubelet_version.clone(),
                }
            }
        },
    }
}

/// Whether Node-level work (drain, Node deletion) is allowed (`isDeleteNodeAllowed`).
fn node_work_allowed(ctx: &Ctx<'_>, m: &Object, cluster: &Object) -> Result<(), &'static str> {
    if cluster.deleting() {
        return Err("the Cluster is being deleted");
    }
    if m.str_at("/status/nodeRef/name").is_none() {
        return Err("the Machine has no nodeRef");
    }
    if let Some(cp) = cluster.at("/spec/controlPlaneRef").and_then(|r| common::ref_key(r, cluster.namespace())) {
        if ctx.get(&cp).is_some_and(|o| o.deleting()) {
            return Err("the control plane is being deleted");
        }
    }
    let active_cp = ctx
        .cache
        .in_cluster_ns(Kind::Machine, cluster.namespace(), cluster.name())
        .filter(|x| !x.deleting() && x.label(keys::CONTROL_PLANE).is_some())
        .count();
    if active_cp == 0 {
        return Err("no control plane Machine would remain");
    }
    Ok(())
}

fn has_hook(m: &Object, prefix: &str) -> Vec<String> {
    m.meta.annotations.keys().filter(|k| k.starts_with(prefix)).cloned().collect()
}

fn reconcile_delete(ctx: &mut Ctx<'_>, m: &Arc<Object>, cluster: &Arc<Object>, s: &mut Scope) -> ReconcileResult {
    // `machine_controller.go: reconcileDelete`, step by step, after the phases every reconcile runs.
    let key = m.key();
    let m = &ctx.current(&key).unwrap_or_else(|| m.clone());
    s.deleting_reason = "Deleting".into();
    s.deleting_message = "Deletion started".into();
    let node_allowed = node_work_allowed(ctx, m, cluster);
    let node_name = m.str_at("/status/nodeRef/name").map(str::to_string);
    if node_allowed.is_ok() {
        let node = node_name.clone().unwrap_or_default();
        let hooks = has_hook(m, keys::PRE_DRAIN_HOOK);
        if !hooks.is_empty() {
            s.deleting_reason = "WaitingForPreDrainHook".into();
            s.deleting_message = format!("Waiting for pre-drain hooks to succeed (hooks: {})", hooks.join(","));
            if m.at("/status/deletion/waitForPreDrainHookStartTime").is_none() {
                let now = ctx.now;
                ctx.patch_status(&key, |o| o.set("/status/deletion/waitForPreDrainHookStartTime", json!(timestamp(now))))?;
            }
            return Ok(Action::DONE);
        }
        if drain_allowed(m, s, ctx.now) {
            let start = match m.str_at("/status/deletion/nodeDrainStartTime").and_then(crate::object::parse_timestamp) {
                Some(t) => t,
                None => {
                    let now = ctx.now;
                    ctx.patch_status(&key, |o| o.set("/status/deletion/nodeDrainStartTime", json!(timestamp(now))))?;
                    now
                }
            };
            s.deleting_reason = "DrainingNode".into();
            s.deleting_message = format!("Drain not completed yet (started at {}):", timestamp(start));
            match drain::drain(ctx, m, cluster, &node, start) {
                Err(e) => {
                    s.deleting_message = "Error draining Node, please check controller logs for errors".into();
                    ctx.event_warning(m, "FailedDrainNode", format!("error draining Machine's node {node:?}: {e}"));
                    return Err(ReconcileError(e));
                }
                Ok(drain::Outcome::NotCompleted(message)) => {
                    // machine_controller.go: drainNode slows down, drain is a slow process.
                    let at = ctx.now + DRAIN_RETRY_MS;
                    ctx.defer_next_reconcile(m, at);
                    s.deleting_message = message;
                    return Ok(Action::requeue(DRAIN_RETRY_MS));
                }
                Ok(drain::Outcome::Completed) => {
                    ctx.event_normal(m, "SuccessfulDrainNode", format!("success draining Machine's node {node:?}"));
                }
            }
        }
        // `isNodeVolumeDetachingAllowed` then `shouldWaitForNodeVolumes`: no volumes here, the wait
        // ends at once.
        if volume_detach_allowed(m, s, ctx.now) {
            if m.at("/status/deletion/waitForNodeVolumeDetachStartTime").is_none() {
                let now = ctx.now;
                ctx.patch_status(&key, |o| o.set("/status/deletion/waitForNodeVolumeDetachStartTime", json!(timestamp(now))))?;
            }
            if ctx.world.workload(cluster.name()).is_ok() {
                ctx.event_normal(m, "NodeVolumesDetached", format!("success waiting for node volumes detaching Machine's node {node:?}"));
            }
        }
    }
    let hooks = has_hook(m, keys::PRE_TERMINATE_HOOK);
    if !hooks.is_empty() {
        s.deleting_reason = "WaitingForPreTerminateHook".into();
        s.deleting_message = format!("Waiting for pre-terminate hooks to succeed (hooks: {})", hooks.join(","));
        if m.at("/status/deletion/waitForPreTerminateHookStartTime").is_none() {
            let now = ctx.now;
            ctx.patch_status(&key, |o| o.set("/status/deletion/waitForPreTerminateHookStartTime", json!(timestamp(now))))?;
        }
        return Ok(Action::DONE);
    }
    if let Some(i) = &s.infra {
        if !i.deleting() {
            ctx.delete(&i.key())?;
        }
        s.deleting_reason = "WaitingForInfrastructureDeletion".into();
        s.deleting_message = format!("Waiting for {} to be deleted", m.str_at("/spec/infrastructureRef/kind").unwrap_or(""));
        return Ok(Action::DONE);
    }
    if let Some(b) = &s.bootstrap {
        if !b.deleting() {
            ctx.delete(&b.key())?;
        }
        s.deleting_reason = "WaitingForBootstrapDeletion".into();
        s.deleting_message = format!("Waiting for {} to be deleted", m.str_at("/spec/bootstrap/configRef/kind").unwrap_or(""));
        return Ok(Action::DONE);
    }
    if let (Ok(()), Some(node)) = (node_allowed, &node_name) {
        if let Err(e) = ctx.world.delete_node(cluster.name(), node) {
            ctx.event_warning(m, "FailedDeleteNode", format!("error deleting Machine's Node: {e}"));
            let timeout_s = m.i64_at("/spec/deletion/nodeDeletionTimeoutSeconds").unwrap_or(DEFAULT_NODE_DELETION_TIMEOUT_S as i64);
            let deleting_since = m.meta.deletion_ms.unwrap_or(ctx.now);
            if timeout_s <= 0 || ctx.now < deleting_since + timeout_s as u64 * 1000 {
                s.deleting_reason = "DeletingNode".into();
                s.deleting_message = "Error deleting Node, please check controller logs for errors".into();
                return Err(ReconcileError(format!("failed to delete Node {node}: {e}")));
            }
            ctx.note(format!("giving up deleting Node {node} after nodeDeletionTimeoutSeconds: {e}"));
        }
    }
    s.deleting_reason = "DeletionCompleted".into();
    s.deleting_message = "Deletion completed".into();
    ctx.remove_finalizer(m, FINALIZER)?;
    Ok(Action::DONE)
}

/// `isNodeDrainAllowed`: not with the exclude annotation, once the pre-terminate hook wait started,
/// without an infrastructure machine or once its deletion started, or after `nodeDrainTimeoutSeconds`.
fn drain_allowed(m: &Object, s: &Scope, now: u64) -> bool {
    if m.meta.annotations.contains_key(keys::EXCLUDE_DRAIN) || m.at("/status/deletion/waitForPreTerminateHookStartTime").is_some() {
        return false;
    }
    if s.infra.as_ref().is_none_or(|i| i.deleting()) {
        return false;
    }
    !timeout_exceeded(m, "/spec/deletion/nodeDrainTimeoutSeconds", "/status/deletion/nodeDrainStartTime", now)
}

/// `isNodeVolumeDetachingAllowed`.
fn volume_detach_allowed(m: &Object, s: &Scope, now: u64) -> bool {
    if m.meta.annotations.contains_key("machine.cluster.x-k8s.io/exclude-wait-for-node-volume-detach")
        || m.at("/status/deletion/waitForPreTerminateHookStartTime").is_some()
    {
        return false;
    }
    if s.infra.as_ref().is_none_or(|i| i.deleting()) {
        return false;
    }
    !timeout_exceeded(m, "/spec/deletion/nodeVolumeDetachTimeoutSeconds", "/status/deletion/waitForNodeVolumeDetachStartTime", now)
}

/// `nodeDrainTimeoutExceeded` / `nodeVolumeDetachTimeoutExceeded`.
fn timeout_exceeded(m: &Object, timeout: &str, start: &str, now: u64) -> bool {
    match (m.i64_at(timeout).filter(|t| *t > 0), m.str_at(start).and_then(crate::object::parse_timestamp)) {
        (Some(t), Some(s)) => now >= s + t as u64 * 1000,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    /// Two Machines of cluster `c`: `linked` has a nodeRef, `unlinked` only a providerID.
    fn cache() -> ObjectSet {
        let mut set = ObjectSet::default();
        let mut linked = Object::new(Kind::Machine, "default", "linked");
        linked.meta.labels.insert(keys::CLUSTER_NAME.into(), "c".into());
        linked.set("/spec/providerID", json!("docker:////c-node-1"));
        linked.set("/status/nodeRef/name", json!("c-node-1"));
        let mut unlinked = Object::new(Kind::Machine, "default", "unlinked");
        unlinked.meta.labels.insert(keys::CLUSTER_NAME.into(), "c".into());
        unlinked.set("/spec/providerID", json!("docker:////c-node-2"));
        set.insert(Arc::new(linked));
        set.insert(Arc::new(unlinked));
        set
    }

    fn node(name: &str, provider_id: Option<&str>) -> Notice {
        Notice::Node { cluster: "c".into(), node: name.into(), provider_id: provider_id.map(str::to_string) }
    }

    #[rstest]
    #[case::node_by_node_ref(node("c-node-1", None), &["linked"])]
    #[case::node_by_provider_id(node("c-node-2", Some("docker:////c-node-2")), &["unlinked"])]
    #[case::node_without_provider_id_not_linked(node("c-node-2", None), &[])]
    #[case::unknown_node(node("c-node-3", Some("docker:////c-node-3")), &[])]
    #[case::connection_wakes_all(Notice::Connection("c".into()), &["linked", "unlinked"])]
    #[case::other_cluster(Notice::Connection("d".into()), &[])]
    #[case::etcd_or_tokens_wake_none(Notice::Workload("c".into()), &[])]
    #[case::containers_wake_none(Notice::Container { cluster: "c".into(), name: "c-node-1".into() }, &[])]
    fn a_workload_notice_wakes_the_machines_capi_maps_it_to(#[case] notice: Notice, #[case] want: &[&str]) {
        let mut out = Vec::new();
        MachineReconciler.map_notice(&notice, &cache(), &mut out);
        let mut got: Vec<&str> = out.iter().map(|k| &*k.name).collect();
        got.sort();
        assert_eq!(got, want);
    }
}

//! The Cluster controller: infrastructure and control-plane readiness, the endpoint, phases, the
//! v1beta2 conditions, replica counters, the kubeconfig without a control-plane provider, and the
//! deletion order (workers, then control plane, then infrastructure).
//! Source: `core/reconcilers/cluster/{cluster_controller.go,cluster_controller_phases.go,cluster_controller_status.go}`.
//!
//! The status (conditions, phase, replica counters) is computed in `cluster_status.rs`.
//!
//! Simplifications: the RuntimeSDK `BeforeClusterDelete` hook is not modelled (RuntimeSDK is off by
//! default); `failureReason`/`failureMessage` of the deprecated v1beta1 status are not copied; see
//! `cluster_status.rs` for the ClusterCache probe.

use super::cluster_status as status;
use super::common::{self, keys, preamble, Phases};
use super::conditions;
use crate::kinds::Kind;
use crate::object::{ObjKey, Object};
use crate::objectset::ObjectSet;
use crate::runtime::{map_owners, Action, Ctx, ReconcileError, ReconcileResult, Reconciler};
use crate::store::Change;
use crate::world::Notice;
use serde_json::{json, Value};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The Cluster finalizer.
pub const FINALIZER: &str = "cluster.cluster.x-k8s.io";
/// `externalReadyWait`: requeue while a referenced object does not exist.
pub const EXTERNAL_READY_WAIT_MS: u64 = 30_000;
/// `deleteRequeueAfter`.
pub const DELETE_REQUEUE_MS: u64 = 5_000;

/// The Cluster controller. Its only memory is what its last status update read and wrote, per
/// Cluster ([`StatusMemo`]), so that a reconcile whose inputs are the very same objects skips
/// recomputing a status that would write nothing.
#[derive(Default)]
pub struct ClusterReconciler {
    memo: RefCell<BTreeMap<ObjKey, StatusMemo>>,
}

// CAPI's Cluster controller watches its Machines through `controlPlaneMachineToCluster` (control-plane
// Machines only), its MachineDeployments and MachinePools, and the infrastructure cluster and control
// plane through the external tracker; worker Machines reach it through their MachineDeployment's status.
const WATCHES: &[Kind] =
    &[Kind::DockerCluster, Kind::DevCluster, Kind::KubeadmControlPlane, Kind::Machine, Kind::MachineDeployment, Kind::MachinePool];

impl Reconciler for ClusterReconciler {
    fn name(&self) -> &'static str {
        "cluster"
    }
    fn kind(&self) -> Kind {
        Kind::Cluster
    }
    fn watches(&self) -> &[Kind] {
        WATCHES
    }
    fn map(&self, change: &Change, _cache: &ObjectSet, out: &mut Vec<ObjKey>) {
        let o = &change.object;
        match o.kind {
            Kind::DockerCluster | Kind::DevCluster | Kind::KubeadmControlPlane => map_owners(change, Kind::Cluster, out),
            Kind::Machine if o.label(keys::CONTROL_PLANE).is_none() => {}
            _ => {
                if let Some(c) = common::cluster_name(o) {
                    out.push(ObjKey::new(Kind::Cluster, o.namespace(), c));
                }
            }
        }
    }
    fn map_notice(&self, notice: &Notice, cache: &ObjectSet, out: &mut Vec<ObjKey>) {
        if let Notice::Connection(cluster) = notice {
            // ClusterCache probe results.
            out.extend(cache.in_cluster(Kind::Cluster, cluster).map(|c| c.key()));
        }
    }
    fn reconcile(&self, ctx: &mut Ctx<'_>, key: &ObjKey) -> ReconcileResult {
        let Some(cluster) = ctx.get(key).cloned() else {
            self.memo.borrow_mut().remove(key);
            return Ok(Action::DONE);
        };
        if let Some(stop) = preamble(ctx, &cluster, Some(&cluster), Some(FINALIZER))? {
            return Ok(stop);
        }
        let topology = cluster.at("/spec/topology").is_some_and(|t| !t.is_null());
        let mut class = None;
        if topology {
            let name = cluster.str_at("/spec/topology/classRef/name").unwrap_or("");
            let ns = cluster.str_at("/spec/topology/classRef/namespace").unwrap_or(cluster.namespace());
            match ctx.get_parts(Kind::ClusterClass, ns, name) {
                Some(c) => class = Some(c.clone()),
                // cluster_controller.go: Reconcile, before the deferred status update is set up.
                None => {
                    return Err(ReconcileError(format!(
                        "failed to get ClusterClass {ns}/{name}: clusterclasses.cluster.x-k8s.io \"{name}\" not found"
                    )))
                }
            }
        }
        let mut s = Scope::read(ctx, &cluster);
        let result = self.phases(ctx, &cluster, &mut s, topology);
        // The deferred status update runs whatever happened above (unless the Cluster is gone).
        let Some(live) = ctx.live(key) else {
            self.memo.borrow_mut().remove(key);
            return result;
        };
        let probe = probe(ctx, &live);
        let observed = result.is_ok();
        let memo = StatusMemo::new(&live, s, class, probe, observed, ctx.now);
        let unchanged = self.memo.borrow().get(key).is_some_and(|m| m.same(&memo));
        if unchanged && !cfg!(debug_assertions) {
            // The same objects as the last update read, and the Cluster as that update left it: the
            // status would come out the same and write nothing (`patch_status` would find no change).
            return result;
        }
        {
            let inputs = status::Inputs {
                infra: memo.infra.as_deref(),
                infra_not_found: memo.infra_not_found,
                cp: memo.cp.as_deref(),
                cp_not_found: memo.cp_not_found,
                class: memo.class.as_deref(),
                mds: &memo.mds,
                mps: &memo.mps,
                mss: &memo.mss,
                machines: &memo.machines,
                deleting: (&memo.deleting.0, &memo.deleting.1),
                probe,
                now: ctx.now,
            };
            let update = status::compute(&live, &inputs);
            let now = ctx.now;
            if unchanged {
                // Debug builds (the tests) check the memo's claim instead of trusting it.
                let mut again = (*live).clone();
                apply_status(&mut again, update, now, observed);
                assert!(again == *live, "cluster {key}: an unchanged status memo would have written {again:?}");
                return result;
            }
            let phase = update.phase.clone();
            let written = match ctx.patch_status(key, |o| apply_status(o, update, now, observed)) {
                Ok(w) => w,
                Err(e) => {
                    self.memo.borrow_mut().remove(key);
                    return Err(e.into());
                }
            };
            // cluster_controller_status.go: updateStatus records the phase it moved to.
            if live.str_at("/status/phase") != Some(phase.as_str()) {
                ctx.event_normal(&written, &phase, format!("Cluster {} is {phase}", cluster.name()));
            }
            self.memo.borrow_mut().insert(key.clone(), StatusMemo { cluster: written, ..memo });
        }
        result
    }
}

/// ClusterCache's view of the workload cluster: not connected before the infrastructure is
/// provisioned and the kubeconfig exists, nor until the first successful probe.
fn probe(ctx: &Ctx<'_>, cluster: &Object) -> status::Probe {
    let can_connect = cluster.bool_at("/status/initialization/infrastructureProvisioned")
        && ctx.get_parts(Kind::Secret, cluster.namespace(), &format!("{}-kubeconfig", cluster.name())).is_some();
    if !can_connect {
        return status::Probe::NotYet;
    }
    let connected_before = conditions::get(cluster, "RemoteConnectionProbe")
        .is_some_and(|c| c.status == conditions::Status::True || c.message.starts_with("Remote connection probe failed"));
    match ctx.world.api_reachable(cluster.name()) {
        Ok(()) => status::Probe::Succeeded,
        Err(_) if connected_before => status::Probe::Failed,
        Err(_) => status::Probe::NotYet,
    }
}

/// What a status update read: the Cluster (after the update: the object it wrote, or found needing
/// no write), the referenced and descendant objects (held, so that pointer equality means the same
/// object version), the reconcile's outcome, and what of the clock the status depends on (whether
/// each Machine is older than the `UpToDate` settling time; the time itself when a failed probe
/// may print it). Equal memos make equal updates, and an update applied twice writes nothing the
/// second time.
struct StatusMemo {
    cluster: Arc<Object>,
    infra: Option<Arc<Object>>,
    infra_not_found: bool,
    cp: Option<Arc<Object>>,
    cp_not_found: bool,
    class: Option<Arc<Object>>,
    machines: Vec<Arc<Object>>,
    mds: Vec<Arc<Object>>,
    mps: Vec<Arc<Object>>,
    mss: Vec<Arc<Object>>,
    deleting: (String, String),
    probe: status::Probe,
    observed: bool,
    settled: Vec<bool>,
    failed_at: Option<u64>,
}

impl StatusMemo {
    fn new(live: &Arc<Object>, s: Scope, class: Option<Arc<Object>>, probe: status::Probe, observed: bool, now: u64) -> StatusMemo {
        StatusMemo {
            cluster: live.clone(),
            settled: s.machines.iter().map(|m| status::settled_by_age(m, now)).collect(),
            infra: s.infra,
            infra_not_found: s.infra_not_found,
            cp: s.cp,
            cp_not_found: s.cp_not_found,
            class,
            machines: s.machines,
            mds: s.mds,
            mps: s.mps,
            mss: s.mss,
            deleting: (s.deleting_reason, s.deleting_message),
            probe,
            observed,
            failed_at: (probe == status::Probe::Failed).then_some(now),
        }
    }

    fn same(&self, o: &StatusMemo) -> bool {
        let one = |a: &Option<Arc<Object>>, b: &Option<Arc<Object>>| match (a, b) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            (None, None) => true,
            _ => false,
        };
        let all = |a: &[Arc<Object>], b: &[Arc<Object>]| a.len() == b.len() && a.iter().zip(b).all(|(a, b)| Arc::ptr_eq(a, b));
        Arc::ptr_eq(&self.cluster, &o.cluster)
            && one(&self.infra, &o.infra)
            && one(&self.cp, &o.cp)
            && one(&self.class, &o.class)
            && self.infra_not_found == o.infra_not_found
            && self.cp_not_found == o.cp_not_found
            && all(&self.machines, &o.machines)
            && all(&self.mds, &o.mds)
            && all(&self.mps, &o.mps)
            && all(&self.mss, &o.mss)
            && self.deleting == o.deleting
            && self.probe == o.probe
            && self.observed == o.observed
            && self.settled == o.settled
            && self.failed_at == o.failed_at
    }
}

/// What one reconcile reads.
struct Scope {
    infra: Option<Arc<Object>>,
    infra_not_found: bool,
    cp: Option<Arc<Object>>,
    cp_not_found: bool,
    machines: Vec<Arc<Object>>,
    mds: Vec<Arc<Object>>,
    mps: Vec<Arc<Object>>,
    mss: Vec<Arc<Object>>,
    deleting_reason: String,
    deleting_message: String,
}

impl Scope {
    fn read(ctx: &Ctx<'_>, cluster: &Object) -> Scope {
        let ns = cluster.namespace();
        let list = |k: Kind| -> Vec<Arc<Object>> {
            let mut v: Vec<Arc<Object>> = ctx.cache.in_cluster_ns(k, ns, cluster.name()).cloned().collect();
            v.sort_by(|a, b| a.name().cmp(b.name()));
            v
        };
        Scope {
            infra: None,
            infra_not_found: false,
            cp: None,
            cp_not_found: false,
            machines: list(Kind::Machine),
            mds: list(Kind::MachineDeployment),
            mps: list(Kind::MachinePool),
            mss: list(Kind::MachineSet),
            deleting_reason: String::new(),
            deleting_message: String::new(),
        }
    }
}

impl ClusterReconciler {
    fn phases(&self, ctx: &mut Ctx<'_>, cluster: &Arc<Object>, s: &mut Scope, topology: bool) -> ReconcileResult {
        if !cluster.deleting()
            && topology
            && (!status::defined(cluster, "/spec/infrastructureRef") || !status::defined(cluster, "/spec/controlPlaneRef"))
        {
            ctx.note("Waiting for the topology to be generated");
            return Ok(Action::DONE);
        }
        let mut phases = Phases::default();
        phases.run(self.reconcile_infrastructure(ctx, cluster, s, topology));
        phases.run(self.reconcile_control_plane(ctx, cluster, s, topology));
        if cluster.deleting() {
            phases.run(self.reconcile_delete(ctx, cluster, s));
        } else {
            phases.run(self.reconcile_kubeconfig(ctx, cluster));
        }
        phases.finish()
    }

    /// `reconcileInfrastructure` (cluster_controller_phases.go).
    fn reconcile_infrastructure(&self, ctx: &mut Ctx<'_>, cluster: &Arc<Object>, s: &mut Scope, topology: bool) -> ReconcileResult {
        let key = cluster.key();
        let was = cluster.bool_at("/status/initialization/infrastructureProvisioned");
        let Some(r) = cluster.at("/spec/infrastructureRef").filter(|_| status::defined(cluster, "/spec/infrastructureRef")) else {
            if !cluster.deleting() && !was {
                ctx.patch_status(&key, |o| o.set("/status/initialization/infrastructureProvisioned", json!(true)))?;
            }
            return Ok(Action::DONE);
        };
        let kind = r.get("kind").and_then(Value::as_str).unwrap_or("").to_string();
        let Some(infra) = common::ref_key(r, cluster.namespace()).and_then(|k| ctx.get(&k)).cloned() else {
            s.infra_not_found = true;
            if cluster.deleting() {
                return Ok(Action::DONE);
            }
            if was {
                return Err(ReconcileError(format!("{kind} has been deleted after being provisioned")));
            }
            ctx.note(format!("Could not find {kind}, requeuing"));
            return Ok(Action::requeue(EXTERNAL_READY_WAIT_MS));
        };
        s.infra = Some(infra.clone());
        ensure_owned(ctx, &infra, cluster, topology)?;
        if infra.deleting() {
            return Ok(Action::DONE);
        }
        let provisioned = infra.bool_at("/status/initialization/provisioned");
        if !provisioned && !was {
            return Ok(Action::DONE);
        }
        if !endpoint_valid(cluster) {
            if let Some(ep) = infra
                .at("/spec/controlPlaneEndpoint")
                .cloned()
                .filter(|e| e.get("host").and_then(Value::as_str).is_some_and(|h| !h.is_empty()))
            {
                ctx.patch(&key, |o| o.set("/spec/controlPlaneEndpoint", ep))?;
            }
        }
        // `reconcileInfrastructure` copies the infrastructure's failure domains; none leaves the
        // field unset (it is `omitempty` with `MinItems=1`, so `[]` is never written).
        let fds = infra.at("/status/failureDomains").filter(|f| f.as_array().is_some_and(|a| !a.is_empty())).cloned();
        ctx.patch_status(&key, |o| {
            o.set("/status/initialization/infrastructureProvisioned", json!(true));
            match fds {
                Some(fds) => o.set("/status/failureDomains", fds),
                None => {
                    o.remove("/status/failureDomains");
                }
            }
        })?;
        if !was {
            // cluster_controller_phases.go: reconcileInfrastructure.
            ctx.event_normal(cluster, "InfrastructureReady", format!("Cluster {} InfrastructureProvisioned is now True", cluster.name()));
        }
        Ok(Action::DONE)
    }

    /// `reconcileControlPlane` (cluster_controller_phases.go).
    fn reconcile_control_plane(&self, ctx: &mut Ctx<'_>, cluster: &Arc<Object>, s: &mut Scope, topology: bool) -> ReconcileResult {
        let key = cluster.key();
        let Some(r) = cluster.at("/spec/controlPlaneRef").filter(|_| status::defined(cluster, "/spec/controlPlaneRef")) else {
            return Ok(Action::DONE);
        };
        let kind = r.get("kind").and_then(Value::as_str).unwrap_or("").to_string();
        let was = cluster.bool_at("/status/initialization/controlPlaneInitialized");
        let Some(cp) = common::ref_key(r, cluster.namespace()).and_then(|k| ctx.get(&k)).cloned() else {
            s.cp_not_found = true;
            if cluster.deleting() {
                return Ok(Action::DONE);
            }
            if was {
                return Err(ReconcileError(format!("{kind} has been deleted after being initialized")));
            }
            ctx.note(format!("Could not find {kind}, requeuing"));
            return Ok(Action::requeue(EXTERNAL_READY_WAIT_MS));
        };
        s.cp = Some(cp.clone());
        ensure_owned(ctx, &cp, cluster, topology)?;
        if cp.deleting() {
            return Ok(Action::DONE);
        }
        let initialized = cp.bool_at("/status/initialization/controlPlaneInitialized");
        if !initialized && !was {
            return Ok(Action::DONE);
        }
        if !endpoint_valid(cluster) {
            if let Some(ep) = cp
                .at("/spec/controlPlaneEndpoint")
                .cloned()
                .filter(|e| e.get("host").and_then(Value::as_str).is_some_and(|h| !h.is_empty()))
            {
                ctx.patch(&key, |o| o.set("/spec/controlPlaneEndpoint", ep))?;
            }
        }
        if !was {
            ctx.patch_status(&key, |o| o.set("/status/initialization/controlPlaneInitialized", json!(true)))?;
            // cluster_controller_phases.go: reconcileControlPlane.
            ctx.event_normal(cluster, "ControlPlaneInitialized", format!("Cluster {} ControlPlaneInitialized is now True", cluster.name()));
        }
        Ok(Action::DONE)
    }

    /// `reconcileKubeconfig`: without a control-plane provider the Cluster controller writes it.
    fn reconcile_kubeconfig(&self, ctx: &mut Ctx<'_>, cluster: &Arc<Object>) -> ReconcileResult {
        let Some(cluster) = ctx.live(&cluster.key()) else { return Ok(Action::DONE) };
        if !endpoint_valid(&cluster) || status::defined(&cluster, "/spec/controlPlaneRef") {
            return Ok(Action::DONE);
        }
        let ns = cluster.namespace().to_string();
        if ctx.get_parts(Kind::Secret, &ns, &format!("{}-kubeconfig", cluster.name())).is_some() {
            return Ok(Action::DONE);
        }
        if ctx.get_parts(Kind::Secret, &ns, &format!("{}-ca", cluster.name())).is_none() {
            ctx.note("Could not find secret for cluster, requeuing");
            return Ok(Action::requeue(EXTERNAL_READY_WAIT_MS));
        }
        match ctx.create(kubeconfig_secret(&cluster, None)) {
            Ok(_) => Ok(Action::DONE),
            Err(e) if e.is_already_exists() => Ok(Action::DONE),
            Err(e) => Err(e.into()),
        }
    }

    /// `reconcileDelete` (cluster_controller.go): the Cluster's own descendants first (MachinePools,
    /// MachineDeployments, MachineSets, worker Machines, and control-plane Machines without a
    /// control-plane object), then the control plane, then the infrastructure.
    fn reconcile_delete(&self, ctx: &mut Ctx<'_>, cluster: &Arc<Object>, s: &mut Scope) -> ReconcileResult {
        let has_cp_ref = status::defined(cluster, "/spec/controlPlaneRef");
        let is_cp = |m: &Object| m.label(keys::CONTROL_PLANE).is_some();
        let owned = |o: &Object| o.meta.owner_references.iter().any(|r| r.kind == "Cluster" && r.name == cluster.name());
        let workers: Vec<&Arc<Object>> = s.machines.iter().filter(|m| !is_cp(m)).collect();
        let cp_machines: Vec<&Arc<Object>> = s.machines.iter().filter(|m| is_cp(m)).collect();
        // filterOwnedDescendants.
        let mut children: Vec<&Arc<Object>> = Vec::new();
        children.extend(s.mps.iter());
        children.extend(s.mds.iter());
        children.extend(s.mss.iter());
        children.extend(workers.iter().copied());
        if !has_cp_ref {
            children.extend(cp_machines.iter().copied());
        }
        let mut errs = Vec::new();
        for c in children.into_iter().filter(|c| owned(c) && !c.deleting()) {
            if let Err(e) = ctx.delete(&c.key()) {
                if !e.is_not_found() {
                    errs.push(format!(
                        "error deleting cluster {}/{}: failed to delete {} {}: {}",
                        cluster.namespace(),
                        cluster.name(),
                        c.kind.name(),
                        c.name(),
                        e.message
                    ));
                }
            }
        }
        if !errs.is_empty() {
            s.deleting_reason = "InternalError".into();
            s.deleting_message = status::CHECK_LOGS.into();
            return Err(ReconcileError(errs.join(", ")));
        }
        // objectsPendingDeleteNames.
        let names = |v: &[&Arc<Object>]| -> Vec<String> {
            let mut n: Vec<String> = v.iter().map(|o| o.name().to_string()).collect();
            n.sort();
            n
        };
        let mut pending: Vec<String> = Vec::new();
        let mut add = |label: &str, list: Vec<String>| {
            if !list.is_empty() {
                pending.push(format!("* {label}: {}", list_to_string(&list, 5)));
            }
        };
        if !has_cp_ref {
            add("Control plane Machines", names(&cp_machines));
        }
        add("MachineDeployments", names(&s.mds.iter().collect::<Vec<_>>()));
        add("MachineSets", names(&s.mss.iter().collect::<Vec<_>>()));
        add("MachinePools", names(&s.mps.iter().collect::<Vec<_>>()));
        add("Worker Machines", names(&workers));
        if !pending.is_empty() {
            s.deleting_reason = "WaitingForWorkersDeletion".into();
            s.deleting_message = pending.join("\n");
            return Ok(Action::requeue(DELETE_REQUEUE_MS));
        }
        if has_cp_ref {
            if let Some(cp) = &s.cp {
                if !cp.deleting() {
                    if let Err(e) = ctx.delete(&cp.key()) {
                        if !e.is_not_found() {
                            s.deleting_reason = "InternalError".into();
                            s.deleting_message = status::CHECK_LOGS.into();
                            return Err(e.into());
                        }
                    }
                }
                s.deleting_reason = "WaitingForControlPlaneDeletion".into();
                s.deleting_message = format!("Waiting for {} to be deleted", cp.kind.name());
                return Ok(Action::DONE);
            }
        }
        if status::defined(cluster, "/spec/infrastructureRef") {
            if let Some(infra) = &s.infra {
                if !infra.deleting() {
                    if let Err(e) = ctx.delete(&infra.key()) {
                        if !e.is_not_found() {
                            s.deleting_reason = "InternalError".into();
                            s.deleting_message = status::CHECK_LOGS.into();
                            return Err(e.into());
                        }
                    }
                }
                s.deleting_reason = "WaitingForInfrastructureDeletion".into();
                s.deleting_message = format!("Waiting for {} to be deleted", infra.kind.name());
                return Ok(Action::DONE);
            }
        }
        s.deleting_reason = "DeletionCompleted".into();
        s.deleting_message = "Deletion completed".into();
        ctx.remove_finalizer(cluster, FINALIZER)?;
        // cluster_controller.go: reconcileDelete, once the finalizer is gone.
        ctx.event_normal(cluster, "Deleted", format!("Cluster {} has been deleted", cluster.name()));
        Ok(Action::DONE)
    }
}

/// `clog.ListToString(names, n)`.
fn list_to_string(names: &[String], n: usize) -> String {
    super::mdutil::status::list_to_string(names, n)
}

fn endpoint_valid(cluster: &Object) -> bool {
    cluster.str_at("/spec/controlPlaneEndpoint/host").is_some_and(|h| !h.is_empty())
        && cluster.i64_at("/spec/controlPlaneEndpoint/port").is_some_and(|p| p != 0)
}

/// Ownership of the referenced infrastructure / control-plane object: an owner reference to the
/// Cluster (controller only for topology clusters) and the cluster-name label.
fn ensure_owned(ctx: &mut Ctx<'_>, obj: &Arc<Object>, cluster: &Object, controller: bool) -> Result<(), ReconcileError> {
    let label_ok = obj.label(keys::CLUSTER_NAME) == Some(cluster.name());
    let mut probe = (**obj).clone();
    let changed = common::set_owner(&mut probe, cluster, controller);
    if changed || !label_ok {
        let c = cluster.clone();
        ctx.patch(&obj.key(), |o| {
            common::set_owner(o, &c, controller);
            o.meta.labels.insert(keys::CLUSTER_NAME.into(), c.name().to_string());
        })?;
    }
    Ok(())
}

/// The `<cluster>-kubeconfig` Secret (key `value`, type `cluster.x-k8s.io/secret`).
pub fn kubeconfig_secret(cluster: &Object, owner: Option<&Object>) -> Object {
    let name = cluster.name();
    let host = cluster.str_at("/spec/controlPlaneEndpoint/host").unwrap_or("");
    let port = cluster.i64_at("/spec/controlPlaneEndpoint/port").unwrap_or(6443);
    let kubeconfig = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    certificate-authority-data: <redacted>\n    server: https://{host}:{port}\n  name: {name}\ncontexts:\n- context:\n    cluster: {name}\n    user: {name}-admin\n  name: {name}-admin@{name}\ncurrent-context: {name}-admin@{name}\npreferences: {{}}\nusers:\n- name: {name}-admin\n  user:\n    client-certificate-data: <redacted>\n    client-key-data: <redacted>\n"
    );
    let mut s = Object::new(Kind::Secret, cluster.namespace(), &format!("{name}-kubeconfig"));
    s.meta.labels.insert(keys::CLUSTER_NAME.into(), name.to_string());
    if let Some(o) = owner {
        common::set_owner(&mut s, o, true);
    }
    s.set("/type", json!("cluster.x-k8s.io/secret"));
    s.set("/data/value", json!(common::b64(&kubeconfig)));
    s
}

fn apply_status(o: &mut Object, st: status::StatusUpdate, now: u64, observed: bool) {
    if o.str_at("/status/phase") != Some(st.phase.as_str()) {
        o.set("/status/phase", json!(st.phase));
    }
    conditions::set(o, st.conditions, now);
    // Field by field: the topology controller owns other fields of these structs (upgradePlan).
    for (section, value) in [("/status/controlPlane/", st.control_plane), ("/status/workers/", st.workers)] {
        if let Value::Object(fields) = value {
            let mut p = String::with_capacity(40);
            for (k, v) in fields {
                p.clear();
                p.push_str(section);
                p.push_str(&k);
                if v.is_null() {
                    o.remove(&p);
                } else {
                    o.set(&p, v);
                }
            }
        }
    }
    // `patch.WithStatusObservedGeneration` only when the reconcile succeeded.
    if observed {
        let g = o.meta.generation;
        o.set("/status/observedGeneration", json!(g));
    }
}

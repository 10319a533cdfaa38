//! The Cluster controller: infrastructure and control-plane readiness, the endpoint, phases, the
//! v1beta2 conditions, replica counters, the kubeconfig without a control-plane provider, and the
//! deletion order (workers, then control plane, then infrastructure).
//! Source: `core/reconcilers/cluster/{cluster_controller.go,cluster_controller_phases.go,cluster_controller_status.go}`.
//!
//! Simplification: `RemoteConnectionProbe` follows reachability at once (the ClusterCache's 50s
//! grace period before reporting a failed probe is not modelled).

use super::common::{self, keys, preamble};
use super::conditions::{self, Cond, Status};
use crate::kinds::Kind;
use crate::object::{ObjKey, Object};
use crate::objectset::ObjectSet;
use crate::runtime::{map_owners, Action, Ctx, ReconcileError, ReconcileResult, Reconciler};
use crate::store::Change;
use crate::world::Notice;
use serde_json::{json, Value};
use std::sync::Arc;

/// The Cluster finalizer.
pub const FINALIZER: &str = "cluster.cluster.x-k8s.io";
/// `externalReadyWait`: requeue while a referenced object does not exist.
pub const EXTERNAL_READY_WAIT_MS: u64 = 30_000;
/// `deleteRequeueAfter`.
pub const DELETE_REQUEUE_MS: u64 = 5_000;

/// The Cluster controller.
pub struct ClusterReconciler;

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
        let Some(cluster) = ctx.get(key).cloned() else { return Ok(Action::DONE) };
        if let Some(stop) = preamble(ctx, &cluster, Some(&cluster), Some(FINALIZER))? {
            return Ok(stop);
        }
        let topology = cluster.at("/spec/topology").is_some_and(|t| !t.is_null());
        if topology {
            let class = cluster.str_at("/spec/topology/classRef/name").unwrap_or("");
            let class_ns = cluster.str_at("/spec/topology/classRef/namespace").unwrap_or(cluster.namespace());
            if ctx.get_parts(Kind::ClusterClass, class_ns, class).is_none() {
                return Err(ReconcileError(format!(
                    "failed to get ClusterClass {class_ns}/{class}: clusterclasses.cluster.x-k8s.io \"{class}\" not found"
                )));
            }
        }
        let mut s = Scope::read(ctx, &cluster);
        let result = if cluster.deleting() {
            self.reconcile_delete(ctx, &cluster, &mut s)
        } else {
            self.reconcile_normal(ctx, &cluster, &mut s, topology)
        };
        // The deferred status update runs whatever happened above (unless the Cluster is gone).
        if ctx.live(key).is_some() {
            let s2 = Scope::read(ctx, &cluster);
            let status = compute_status(ctx, &cluster, &s2, &s, topology);
            let now = ctx.now;
            let phase = status.phase.clone();
            let written = ctx.patch_status(key, |o| apply_status(o, status, now))?;
            // cluster_controller_status.go: updateStatus records the phase it moved to.
            if cluster.str_at("/status/phase") != Some(phase.as_str()) {
                ctx.event_normal(&written, &phase, format!("Cluster {} is {phase}", cluster.name()));
            }
        }
        result
    }
}

/// What one reconcile reads.
struct Scope {
    infra: Option<Arc<Object>>,
    infra_missing: bool,
    cp: Option<Arc<Object>>,
    cp_missing: bool,
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
        let infra_key = cluster.at("/spec/infrastructureRef").and_then(|r| common::ref_key(r, ns));
        let cp_key = cluster.at("/spec/controlPlaneRef").and_then(|r| common::ref_key(r, ns));
        let infra = infra_key.as_ref().and_then(|k| ctx.get(k)).cloned();
        let cp = cp_key.as_ref().and_then(|k| ctx.get(k)).cloned();
        let list = |k: Kind| -> Vec<Arc<Object>> { ctx.cache.in_cluster_ns(k, ns, cluster.name()).cloned().collect() };
        Scope {
            infra_missing: infra_key.is_some() && infra.is_none(),
            infra,
            cp_missing: cp_key.is_some() && cp.is_none(),
            cp,
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
    fn reconcile_normal(&self, ctx: &mut Ctx<'_>, cluster: &Arc<Object>, s: &mut Scope, topology: bool) -> ReconcileResult {
        let key = cluster.key();
        let ns = cluster.namespace().to_string();
        if topology && (cluster.at("/spec/infrastructureRef").is_none() || cluster.at("/spec/controlPlaneRef").is_none()) {
            ctx.note("waiting for the topology controller to set infrastructureRef and controlPlaneRef");
            return Ok(Action::DONE);
        }
        let mut action = Action::DONE;
        // reconcileInfrastructure
        match (&s.infra, cluster.at("/spec/infrastructureRef")) {
            (_, None) => {
                if !cluster.bool_at("/status/initialization/infrastructureProvisioned") {
                    ctx.patch_status(&key, |o| o.set("/status/initialization/infrastructureProvisioned", json!(true)))?;
                }
            }
            (None, Some(_)) => {
                if cluster.bool_at("/status/initialization/infrastructureProvisioned") {
                    return Err("the infrastructure cluster disappeared after it had been provisioned".into());
                }
                action = action.min(Action::requeue(EXTERNAL_READY_WAIT_MS));
            }
            (Some(infra), Some(_)) => {
                ensure_owned(ctx, infra, cluster, topology)?;
                let provisioned = infra.bool_at("/status/initialization/provisioned");
                if provisioned {
                    let endpoint_valid = endpoint_valid(cluster);
                    let infra_ep = infra.at("/spec/controlPlaneEndpoint").cloned();
                    if !endpoint_valid {
                        if let Some(ep) = infra_ep.filter(|e| e.get("host").and_then(Value::as_str).is_some_and(|h| !h.is_empty())) {
                            ctx.patch(&key, |o| o.set("/spec/controlPlaneEndpoint", ep))?;
                        }
                    }
                    let fds = infra.at("/status/failureDomains").cloned();
                    let was = cluster.bool_at("/status/initialization/infrastructureProvisioned");
                    ctx.patch_status(&key, |o| {
                        o.set("/status/initialization/infrastructureProvisioned", json!(true));
                        if let Some(f) = fds {
                            o.set("/status/failureDomains", f);
                        }
                    })?;
                    if !was {
                        // cluster_controller_phases.go: reconcileInfrastructure.
                        ctx.event_normal(
                            cluster,
                            "InfrastructureReady",
                            format!("Cluster {} InfrastructureProvisioned is now True", cluster.name()),
                        );
                    }
                }
            }
        }
        // reconcileControlPlane
        match (&s.cp, cluster.at("/spec/controlPlaneRef")) {
            (None, Some(_)) => action = action.min(Action::requeue(EXTERNAL_READY_WAIT_MS)),
            (Some(cp), Some(_)) => {
                ensure_owned(ctx, cp, cluster, topology)?;
                if cp.bool_at("/status/initialization/controlPlaneInitialized")
                    && !cluster.bool_at("/status/initialization/controlPlaneInitialized")
                {
                    ctx.patch_status(&key, |o| o.set("/status/initialization/controlPlaneInitialized", json!(true)))?;
                    // cluster_controller_phases.go: reconcileControlPlane.
                    ctx.event_normal(
                        cluster,
                        "ControlPlaneInitialized",
                        format!("Cluster {} ControlPlaneInitialized is now True", cluster.name()),
                    );
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
            }
            (_, None) => {
                // Without a control-plane provider the Cluster controller writes the kubeconfig.
                if endpoint_valid(cluster) {
                    let secret = format!("{}-kubeconfig", cluster.name());
                    if ctx.get_parts(Kind::Secret, &ns, &secret).is_none() {
                        if ctx.get_parts(Kind::Secret, &ns, &format!("{}-ca", cluster.name())).is_none() {
                            action = action.min(Action::requeue(EXTERNAL_READY_WAIT_MS));
                        } else {
                            let obj = kubeconfig_secret(cluster, None);
                            match ctx.create(obj) {
                                Ok(_) => {}
                                Err(e) if e.is_already_exists() => {}
                                Err(e) => return Err(e.into()),
                            }
                        }
                    }
                }
            }
        }
        let _ = s;
        Ok(action)
    }

    fn reconcile_delete(&self, ctx: &mut Ctx<'_>, cluster: &Arc<Object>, s: &mut Scope) -> ReconcileResult {
        let has_cp_ref = cluster.at("/spec/controlPlaneRef").is_some();
        // Direct descendants: MDs, MPs, Cluster-owned MSs, standalone worker Machines.
        let mut children: Vec<Arc<Object>> = Vec::new();
        children.extend(s.mds.iter().cloned());
        children.extend(s.mps.iter().cloned());
        children.extend(s.mss.iter().filter(|m| m.owner_of_kind("MachineDeployment").is_none()).cloned());
        children.extend(
            s.machines
                .iter()
                .filter(|m| m.controller_ref().is_none_or(|r| r.kind == "Cluster"))
                .filter(|m| !has_cp_ref || m.label(keys::CONTROL_PLANE).is_none())
                .cloned(),
        );
        for c in &children {
            if !c.deleting() {
                ctx.delete(&c.key())?;
            }
        }
        let pending: Vec<String> = s
            .mds
            .iter()
            .chain(&s.mps)
            .chain(&s.mss)
            .chain(s.machines.iter().filter(|m| !has_cp_ref || m.label(keys::CONTROL_PLANE).is_none()))
            .map(|o| format!("* {} {}", o.kind, o.name()))
            .collect();
        if !pending.is_empty() {
            s.deleting_reason = "WaitingForWorkersDeletion".into();
            s.deleting_message = pending.iter().take(10).cloned().collect::<Vec<_>>().join("\n");
            return Ok(Action::requeue(DELETE_REQUEUE_MS));
        }
        if let Some(cp) = &s.cp {
            if !cp.deleting() {
                ctx.delete(&cp.key())?;
            }
            s.deleting_reason = "WaitingForControlPlaneDeletion".into();
            s.deleting_message = format!("* {} {} is being deleted", cp.kind, cp.name());
            return Ok(Action::DONE);
        }
        if let Some(infra) = &s.infra {
            if !infra.deleting() {
                ctx.delete(&infra.key())?;
            }
            s.deleting_reason = "WaitingForInfrastructureDeletion".into();
            s.deleting_message = format!("* {} {} is being deleted", infra.kind, infra.name());
            return Ok(Action::DONE);
        }
        s.deleting_reason = "DeletionCompleted".into();
        ctx.remove_finalizer(cluster, FINALIZER)?;
        // cluster_controller.go: reconcileDelete, once the finalizer is gone.
        ctx.event_normal(cluster, "Deleted", format!("Cluster {} has been deleted", cluster.name()));
        Ok(Action::DONE)
    }
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

/// The status the reconcile computes.
struct StatusUpdate {
    phase: String,
    conditions: Vec<Cond>,
    control_plane: Option<Value>,
    workers: Value,
}

fn compute_status(ctx: &Ctx<'_>, cluster: &Object, s: &Scope, first: &Scope, topology: bool) -> StatusUpdate {
    let live = ctx.live(&cluster.key()).unwrap_or_else(|| Arc::new(cluster.clone()));
    let cluster = &*live;
    // Phase (later rules win).
    let mut phase = cluster.str_at("/status/phase").unwrap_or("").to_string();
    if phase.is_empty() {
        phase = "Pending".into();
    }
    if cluster.at("/spec/infrastructureRef").is_some() || cluster.at("/spec/controlPlaneRef").is_some() {
        phase = "Provisioning".into();
    }
    if cluster.bool_at("/status/initialization/infrastructureProvisioned") && endpoint_valid(cluster) {
        phase = "Provisioned".into();
    }
    if cluster.deleting() {
        phase = "Deleting".into();
    }
    let mut conds = Vec::new();
    // InfrastructureReady.
    let infra_ready = match (&s.infra, s.infra_missing, cluster.at("/spec/infrastructureRef").is_some()) {
        (Some(i), _, _) => mirror(i, "Ready", "InfrastructureReady", i.bool_at("/status/initialization/provisioned"), "Ready", "NotReady"),
        (None, true, _) if cluster.deleting() => Cond::f("InfrastructureReady", "InfrastructureDeleted", "Infrastructure has been deleted"),
        (None, true, _) => Cond::f("InfrastructureReady", "InfrastructureDoesNotExist", "Infrastructure does not exist"),
        (None, _, false) if topology => {
            Cond::f("InfrastructureReady", "InfrastructureDoesNotExist", "Waiting for cluster topology to be reconciled")
        }
        (None, _, _) => Cond::t("InfrastructureReady", "InfrastructureReady"),
    };
    conds.push(infra_ready);
    // ControlPlaneInitialized (sticky), ControlPlaneAvailable.
    let cp_machines: Vec<&Arc<Object>> = s.machines.iter().filter(|m| m.label(keys::CONTROL_PLANE).is_some()).collect();
    let workers: Vec<&Arc<Object>> = s.machines.iter().filter(|m| m.label(keys::CONTROL_PLANE).is_none()).collect();
    let initialized = cluster.bool_at("/status/initialization/controlPlaneInitialized")
        || s.cp.as_ref().is_some_and(|cp| cp.bool_at("/status/initialization/controlPlaneInitialized"))
        || (cluster.at("/spec/controlPlaneRef").is_none() && cp_machines.iter().any(|m| m.at("/status/nodeRef").is_some()));
    conds.push(if initialized {
        Cond::t("ControlPlaneInitialized", "Initialized")
    } else if s.cp_missing {
        Cond::f("ControlPlaneInitialized", "ControlPlaneDoesNotExist", "Control plane does not exist")
    } else {
        Cond::f("ControlPlaneInitialized", "NotInitialized", "Control plane not yet initialized")
    });
    conds.push(match (&s.cp, s.cp_missing) {
        (Some(cp), _) => mirror(
            cp,
            "Available",
            "ControlPlaneAvailable",
            cp.bool_at("/status/initialization/controlPlaneInitialized"),
            "Available",
            "NotAvailable",
        ),
        (None, true) if cluster.deleting() => Cond::f("ControlPlaneAvailable", "ControlPlaneDeleted", "Control plane has been deleted"),
        (None, true) => Cond::f("ControlPlaneAvailable", "ControlPlaneDoesNotExist", "Control plane does not exist"),
        (None, false) if topology && cluster.at("/spec/controlPlaneRef").is_none() => {
            Cond::f("ControlPlaneAvailable", "ControlPlaneDoesNotExist", "Waiting for cluster topology to be reconciled")
        }
        (None, false) => Cond::t("ControlPlaneAvailable", "Available"),
    });
    // WorkersAvailable.
    let pools: Vec<&Arc<Object>> = s.mds.iter().chain(&s.mps).collect();
    conds.push(if pools.is_empty() {
        Cond::t("WorkersAvailable", "NoWorkers")
    } else {
        aggregate(&pools, "Available", "WorkersAvailable", false, ("Available", "NotAvailable", "AvailableUnknown"))
    });
    // Machines Ready / UpToDate.
    conds.push(machines_cond(
        &cp_machines,
        "Ready",
        "ControlPlaneMachinesReady",
        ("Ready", "NotReady", "ReadyUnknown", "NoReplicas"),
        ctx.now,
        false,
    ));
    conds.push(machines_cond(
        &workers,
        "Ready",
        "WorkerMachinesReady",
        ("Ready", "NotReady", "ReadyUnknown", "NoReplicas"),
        ctx.now,
        false,
    ));
    conds.push(machines_cond(
        &cp_machines,
        "UpToDate",
        "ControlPlaneMachinesUpToDate",
        ("UpToDate", "NotUpToDate", "UpToDateUnknown", "NoReplicas"),
        ctx.now,
        true,
    ));
    conds.push(machines_cond(
        &workers,
        "UpToDate",
        "WorkerMachinesUpToDate",
        ("UpToDate", "NotUpToDate", "UpToDateUnknown", "NoReplicas"),
        ctx.now,
        true,
    ));
    // RemoteConnectionProbe (ClusterCache).
    let connect_ok = cluster.bool_at("/status/initialization/infrastructureProvisioned")
        && ctx.get_parts(Kind::Secret, cluster.namespace(), &format!("{}-kubeconfig", cluster.name())).is_some();
    let probe = if !connect_ok {
        Cond::f("RemoteConnectionProbe", "ProbeFailed", "Remote connection not established yet")
    } else {
        match ctx.world.api_reachable(cluster.name()) {
            Ok(()) => Cond::t("RemoteConnectionProbe", "ProbeSucceeded"),
            Err(e) => Cond::f("RemoteConnectionProbe", "ProbeFailed", format!("Remote connection probe failed: {e}")),
        }
    };
    conds.push(probe);
    // Negative-polarity aggregates.
    let children: Vec<&Arc<Object>> = s.cp.iter().chain(s.mds.iter()).collect();
    for (t, reason_true, reason_false) in [
        ("RollingOut", "RollingOut", "NotRollingOut"),
        ("ScalingUp", "ScalingUp", "NotScalingUp"),
        ("ScalingDown", "ScalingDown", "NotScalingDown"),
        ("Remediating", "Remediating", "NotRemediating"),
    ] {
        let active: Vec<String> =
            children.iter().filter(|c| conditions::is_true(c, t)).map(|c| format!("* {} {}", c.kind, c.name())).collect();
        conds.push(if active.is_empty() {
            Cond::f(t, reason_false, "")
        } else {
            Cond::new(t, Status::True, reason_true, active.join("\n"))
        });
    }
    // Deleting.
    let (dr, dm) = if cluster.deleting() {
        let r = if first.deleting_reason.is_empty() { "Deleting".to_string() } else { first.deleting_reason.clone() };
        (r, first.deleting_message.clone())
    } else {
        (String::new(), String::new())
    };
    conds.push(if cluster.deleting() { Cond::new("Deleting", Status::True, &dr, dm) } else { Cond::f("Deleting", "NotDeleting", "") });
    // Available: summary.
    let get = |t: &str| conds.iter().find(|c| c.type_ == t).cloned();
    let mut items: Vec<(Status, bool, String)> = Vec::new();
    for t in ["RemoteConnectionProbe", "InfrastructureReady", "ControlPlaneAvailable", "WorkersAvailable"] {
        if let Some(c) = get(t) {
            items.push((c.status, false, format!("* {t}: {}", if c.message.is_empty() { &c.reason } else { &c.message })));
        }
    }
    if let Some(c) = get("Deleting") {
        items.push((c.status, true, "* Deleting: the Cluster is being deleted".into()));
    }
    if topology {
        if let Some(tr) = conditions::get(cluster, "TopologyReconciled") {
            if tr.status != Status::True && matches!(tr.reason, "ReconcileFailed" | "ClusterClassNotReconciled") {
                items.push((tr.status, false, format!("* TopologyReconciled: {}", tr.message)));
            }
        }
    }
    for gate in cluster.at("/spec/availabilityGates").and_then(Value::as_array).into_iter().flatten() {
        if let Some(t) = gate.get("conditionType").and_then(Value::as_str) {
            let st = conditions::get(cluster, t).map_or(Status::Unknown, |c| c.status);
            items.push((st, false, format!("* {t}")));
        }
    }
    let (st, msg) = conditions::summarize(&items);
    let reason = match st {
        Status::True => "Available",
        Status::False => "NotAvailable",
        Status::Unknown => "AvailableUnknown",
    };
    conds.push(Cond::new("Available", st, reason, msg));
    // Replica counters.
    let control_plane = s.cp.as_ref().map(|cp| {
        json!({
            "desiredReplicas": cp.i64_at("/spec/replicas").unwrap_or(0),
            "replicas": cp.i64_at("/status/replicas").unwrap_or(0),
            "readyReplicas": cp.i64_at("/status/readyReplicas").unwrap_or(0),
            "availableReplicas": cp.i64_at("/status/availableReplicas").unwrap_or(0),
            "upToDateReplicas": cp.i64_at("/status/upToDateReplicas").unwrap_or(0),
        })
    });
    let sum = |p: &str| -> i64 { pools.iter().map(|o| o.i64_at(p).unwrap_or(0)).sum() };
    let workers_json = json!({
        "desiredReplicas": sum("/spec/replicas"),
        "replicas": sum("/status/replicas"),
        "readyReplicas": sum("/status/readyReplicas"),
        "availableReplicas": sum("/status/availableReplicas"),
        "upToDateReplicas": sum("/status/upToDateReplicas"),
    });
    StatusUpdate { phase, conditions: conds, control_plane, workers: workers_json }
}

fn apply_status(o: &mut Object, st: StatusUpdate, now: u64) {
    if o.str_at("/status/phase") != Some(st.phase.as_str()) {
        o.set("/status/phase", json!(st.phase));
    }
    conditions::set(o, st.conditions, now);
    // Field by field: the topology controller owns other fields of these structs (upgradePlan).
    for (section, value) in [("controlPlane", st.control_plane), ("workers", Some(st.workers))] {
        if let Some(Value::Object(fields)) = value {
            for (k, v) in fields {
                o.set(&format!("/status/{section}/{k}"), v);
            }
        }
    }
    let g = o.meta.generation;
    o.set("/status/observedGeneration", json!(g));
}

/// Mirror a condition of another object, with the contract fallback when it does not report one.
fn mirror(src: &Object, src_type: &str, type_: &str, fallback: bool, ok: &str, not_ok: &str) -> Cond {
    match conditions::get(src, src_type) {
        Some(c) => {
            let reason = if c.reason.is_empty() {
                if c.status == Status::True {
                    ok
                } else {
                    not_ok
                }
            } else {
                c.reason
            };
            Cond::new(type_, c.status, reason, c.message.to_string())
        }
        None => {
            if fallback {
                Cond::t(type_, ok)
            } else {
                Cond::f(type_, not_ok, format!("{} status.initialization not yet reported as ready", src.kind))
            }
        }
    }
}

/// Aggregate a condition over objects.
fn aggregate(objs: &[&Arc<Object>], src_type: &str, type_: &str, _neg: bool, reasons: (&str, &str, &str)) -> Cond {
    let mut bad = Vec::new();
    let mut unknown = Vec::new();
    for o in objs {
        match conditions::get(o, src_type).map(|c| c.status) {
            Some(Status::True) => {}
            Some(Status::False) => bad.push(format!("* {} {}: not {src_type}", o.kind, o.name())),
            _ => unknown.push(format!("* {} {}: {src_type} unknown", o.kind, o.name())),
        }
    }
    if !bad.is_empty() {
        Cond::new(type_, Status::False, reasons.1, bad.join("\n"))
    } else if !unknown.is_empty() {
        Cond::new(type_, Status::Unknown, reasons.2, unknown.join("\n"))
    } else {
        Cond::t(type_, reasons.0)
    }
}

/// Aggregate a Machine condition (`*MachinesReady`, `*MachinesUpToDate`).
fn machines_cond(
    machines: &[&Arc<Object>],
    src_type: &str,
    type_: &str,
    reasons: (&str, &str, &str, &str),
    now: u64,
    skip_young: bool,
) -> Cond {
    let considered: Vec<&Arc<Object>> = machines
        .iter()
        .copied()
        // Machines younger than 10s without the condition are skipped for UpToDate.
        .filter(|m| !(skip_young && conditions::get(m, src_type).is_none() && now.saturating_sub(m.meta.creation_ms) < 10_000))
        .collect();
    if considered.is_empty() {
        return Cond::t(type_, reasons.3);
    }
    aggregate(&considered, src_type, type_, false, (reasons.0, reasons.1, reasons.2))
}

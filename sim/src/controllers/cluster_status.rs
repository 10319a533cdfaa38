//! The Cluster's status as CAPI's `updateStatus` computes it after every reconcile: the phase, the
//! control-plane and worker replica counters, and the v1beta2 conditions (`RemoteConnectionProbe`,
//! `InfrastructureReady`, `ControlPlaneAvailable`, `ControlPlaneInitialized`, `WorkersAvailable`,
//! `ControlPlaneMachinesReady`, `WorkerMachinesReady`, `ControlPlaneMachinesUpToDate`,
//! `WorkerMachinesUpToDate`, `RollingOut`, `ScalingUp`, `ScalingDown`, `Remediating`, `Deleting`,
//! `Available`), in that order, with upstream's reasons and messages.
//! Source: `core/reconcilers/cluster/cluster_controller_status.go`.
//!
//! Simplifications: `RemoteConnectionProbe` follows the workload API's reachability at once (the
//! ClusterCache's probe every 10s, its failure threshold of 5 and the 50s
//! `--remote-connection-grace-period` are not modelled); a failed probe after a success reports the
//! time of the reconcile that saw it fail as "last succeeded" when the condition was True until then.
//! Getting objects never fails in the simulator, so the `InternalError` branches that follow a failed
//! read are not reachable, except `InfrastructureReady`'s for a Cluster without `infrastructureRef`
//! and topology, which upstream reports that way too.

use super::common::keys;
use super::conditions::{self, Cond, Status};
use super::merge::{self, Item, Priority};
use crate::object::{timestamp, Object};
use serde_json::{json, Value};
use std::sync::Arc;

/// `cluster.x-k8s.io/pool-name`: Machines of a MachinePool.
const POOL_NAME: &str = "cluster.x-k8s.io/pool-name";
/// Internal-error message of every v1beta2 condition.
pub const CHECK_LOGS: &str = "Please check controller logs for errors";
/// `TopologyReconciled`.
const TOPOLOGY_RECONCILED: &str = "TopologyReconciled";

/// What the workload cluster's connection looks like (ClusterCache's health checking state).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Probe {
    /// Not connected yet (no kubeconfig, infrastructure not provisioned).
    NotYet,
    /// The last probe succeeded.
    Succeeded,
    /// The probe failed.
    Failed,
}

/// What `updateStatus` reads.
pub struct Inputs<'a> {
    /// The infrastructure cluster, when found.
    pub infra: Option<&'a Object>,
    /// `infraClusterIsNotFound`.
    pub infra_not_found: bool,
    /// The control plane, when found.
    pub cp: Option<&'a Object>,
    /// `controlPlaneIsNotFound`.
    pub cp_not_found: bool,
    /// The ClusterClass of a topology Cluster.
    pub class: Option<&'a Object>,
    /// Descendants (cluster-name label).
    pub mds: &'a [Arc<Object>],
    /// MachinePools.
    pub mps: &'a [Arc<Object>],
    /// MachineSets.
    pub mss: &'a [Arc<Object>],
    /// Machines.
    pub machines: &'a [Arc<Object>],
    /// `s.deletingReason` / `s.deletingMessage`.
    pub deleting: (&'a str, &'a str),
    /// ClusterCache's view.
    pub probe: Probe,
    /// Now (ms).
    pub now: u64,
}

/// The status `updateStatus` writes.
pub struct StatusUpdate {
    /// `status.phase`.
    pub phase: String,
    /// Conditions, in the order they are set.
    pub conditions: Vec<Cond>,
    /// `status.controlPlane` (None: leave as is).
    pub control_plane: Value,
    /// `status.workers`.
    pub workers: Value,
}

/// `setPhase`: later rules win.
pub fn phase(cluster: &Object) -> String {
    let mut phase = cluster.str_at("/status/phase").unwrap_or("").to_string();
    if phase.is_empty() {
        phase = "Pending".into();
    }
    if defined(cluster, "/spec/infrastructureRef") || defined(cluster, "/spec/controlPlaneRef") {
        phase = "Provisioning".into();
    }
    if cluster.bool_at("/status/initialization/infrastructureProvisioned") && endpoint_valid(cluster) {
        phase = "Provisioned".into();
    }
    if cluster.deleting() {
        phase = "Deleting".into();
    }
    phase
}

/// `ContractVersionedObjectReference.IsDefined`: a reference with a name.
pub fn defined(cluster: &Object, pointer: &str) -> bool {
    cluster.at(pointer).and_then(|r| r.get("name")).and_then(Value::as_str).is_some_and(|n| !n.is_empty())
}

/// `APIEndpoint.IsValid`.
pub fn endpoint_valid(cluster: &Object) -> bool {
    cluster.str_at("/spec/controlPlaneEndpoint/host").is_some_and(|h| !h.is_empty())
        && cluster.i64_at("/spec/controlPlaneEndpoint/port").is_some_and(|p| p != 0)
}

fn kind_of(cluster: &Object, pointer: &str) -> String {
    cluster.str_at(&format!("{pointer}/kind")).unwrap_or("").to_string()
}

/// `updateStatus`.
pub fn compute(cluster: &Object, i: &Inputs<'_>) -> StatusUpdate {
    let topology = cluster.at("/spec/topology").is_some_and(|t| !t.is_null());
    let is_cp = |m: &Object| m.label(keys::CONTROL_PLANE).is_some() && m.label(keys::CLUSTER_NAME) == Some(cluster.name());
    let cp_machines: Vec<&Object> = i.machines.iter().map(|m| &**m).filter(|m| is_cp(m)).collect();
    let workers: Vec<&Object> = i.machines.iter().map(|m| &**m).filter(|m| !is_cp(m) && m.label(POOL_NAME).is_none()).collect();
    let to_remediate: Vec<&Object> = i
        .machines
        .iter()
        .map(|m| &**m)
        .filter(|m| m.label(POOL_NAME).is_none())
        .filter(|m| conditions::is_false(m, "HealthCheckSucceeded") && conditions::is_false(m, "OwnerRemediated"))
        .collect();
    let unhealthy: Vec<&Object> = i
        .machines
        .iter()
        .map(|m| &**m)
        .filter(|m| m.label(POOL_NAME).is_none() && conditions::is_false(m, "HealthCheckSucceeded"))
        .collect();
    let mut conds = Vec::with_capacity(16);
    conds.extend(remote_connection_probe(cluster, i.probe, i.now));
    conds.push(infrastructure_ready(cluster, i, topology));
    conds.push(control_plane_available(cluster, i, topology));
    conds.extend(control_plane_initialized(cluster, i, topology, &cp_machines));
    // MachinePools are left out until they report `Available`, as upstream passes an empty list.
    let mds: Vec<&Object> = i.mds.iter().map(|m| &**m).collect();
    conds.push(workers_available(&[], &mds));
    let machines_cond = |ms: &[&Object], type_: &str, src: &str, r: (&str, &str, &str, &str)| {
        if ms.is_empty() {
            Cond::t(type_, r.3)
        } else {
            merge::aggregate(ms, src, type_, false, (r.0, r.1, r.2))
        }
    };
    let ready = ("NotReady", "ReadyUnknown", "Ready", "NoReplicas");
    let up_to_date = ("NotUpToDate", "UpToDateUnknown", "UpToDate", "NoReplicas");
    conds.push(machines_cond(&cp_machines, "ControlPlaneMachinesReady", "Ready", ready));
    conds.push(machines_cond(&workers, "WorkerMachinesReady", "Ready", ready));
    // Only Machines with an UpToDate condition or older than 10s, so the condition does not flicker
    // while a new Machine gets its first one.
    let settled = |m: &&Object| conditions::get(m, "UpToDate").is_some() || settled_by_age(m, i.now);
    let cp_settled: Vec<&Object> = cp_machines.iter().copied().filter(settled).collect();
    let workers_settled: Vec<&Object> = workers.iter().copied().filter(settled).collect();
    conds.push(machines_cond(&cp_settled, "ControlPlaneMachinesUpToDate", "UpToDate", up_to_date));
    conds.push(machines_cond(&workers_settled, "WorkerMachinesUpToDate", "UpToDate", up_to_date));
    let cluster_owned_ms: Vec<&Object> = i.mss.iter().map(|m| &**m).filter(|m| owned_by_cluster(m, cluster)).collect();
    conds.push(negative_aggregate(i.cp, i.mds, &[], "RollingOut", ("RollingOut", "RollingOutUnknown", "NotRollingOut")));
    conds.push(negative_aggregate(i.cp, i.mds, &cluster_owned_ms, "ScalingUp", ("ScalingUp", "ScalingUpUnknown", "NotScalingUp")));
    conds.push(negative_aggregate(i.cp, i.mds, &cluster_owned_ms, "ScalingDown", ("ScalingDown", "ScalingDownUnknown", "NotScalingDown")));
    conds.push(remediating(&to_remediate, &unhealthy));
    conds.push(if cluster.deleting() {
        Cond::new("Deleting", Status::True, i.deleting.0, i.deleting.1)
    } else {
        Cond::f("Deleting", "NotDeleting", "")
    });
    conds.push(available(cluster, &conds, i.class, topology));
    StatusUpdate {
        phase: phase(cluster),
        conditions: conds,
        control_plane: control_plane_replicas(cluster, i, topology, &cp_machines),
        workers: workers_replicas(cluster, i, &workers),
    }
}

/// Whether a Machine is old enough (10s) to count in the `UpToDate` aggregates without reporting
/// the condition yet.
pub fn settled_by_age(m: &Object, now: u64) -> bool {
    now.saturating_sub(m.meta.creation_ms) > 10_000
}

/// `util.IsOwnedByObject(obj, cluster)`.
fn owned_by_cluster(obj: &Object, cluster: &Object) -> bool {
    obj.meta.owner_references.iter().any(|r| r.kind == "Cluster" && r.name == cluster.name())
}

/// `setRemoteConnectionProbeCondition` (None: leave the condition as it is).
fn remote_connection_probe(cluster: &Object, probe: Probe, now: u64) -> Option<Cond> {
    const T: &str = "RemoteConnectionProbe";
    let current = conditions::get(cluster, T);
    match probe {
        // ClusterCache did not try to connect often enough yet: set only when absent.
        Probe::NotYet => current.is_none().then(|| Cond::f(T, "ProbeFailed", "Remote connection not established yet")),
        Probe::Succeeded => Some(Cond::t(T, "ProbeSucceeded")),
        Probe::Failed => {
            let last = match &current {
                Some(c) if c.status == Status::True => Some(timestamp(now)),
                Some(c) => c.message.strip_prefix("Remote connection probe failed, probe last succeeded at ").map(str::to_string),
                None => None,
            };
            Some(match last {
                Some(t) => Cond::f(T, "ProbeFailed", format!("Remote connection probe failed, probe last succeeded at {t}")),
                None => Cond::f(T, "ProbeFailed", "Remote connection probe failed"),
            })
        }
    }
}

/// `setInfrastructureReadyCondition`.
fn infrastructure_ready(cluster: &Object, i: &Inputs<'_>, topology: bool) -> Cond {
    const T: &str = "InfrastructureReady";
    let kind = kind_of(cluster, "/spec/infrastructureRef");
    let provisioned = cluster.bool_at("/status/initialization/infrastructureProvisioned");
    if !defined(cluster, "/spec/infrastructureRef") && topology {
        let msg = if cluster.deleting() { "" } else { "Waiting for cluster topology to be reconciled" };
        return Cond::f(T, "ObjectDoesNotExist", msg);
    }
    if let Some(infra) = i.infra {
        let fallback = if provisioned {
            Cond::t(T, "Ready")
        } else {
            Cond::f(T, "NotReady", format!("{kind} status.initialization.provisioned is false"))
        };
        let mut c = merge::mirror(infra, "Ready", T, fallback);
        // A v1beta1 condition without a reason.
        if c.reason == merge::NO_REASON_REPORTED && c.status == Status::True {
            c.reason = "Ready".into();
        }
        return c;
    }
    if !i.infra_not_found {
        return Cond::u(T, "InternalError", CHECK_LOGS);
    }
    if cluster.deleting() {
        if provisioned {
            return Cond::f(T, "ObjectDeleted", format!("{kind} has been deleted"));
        }
        return Cond::f(T, "ObjectDoesNotExist", format!("{kind} does not exist"));
    }
    if provisioned {
        return Cond::f(T, "ObjectDeleted", format!("{kind} has been deleted while the cluster still exists"));
    }
    Cond::f(T, "ObjectDoesNotExist", format!("{kind} does not exist"))
}

/// `setControlPlaneAvailableCondition`.
fn control_plane_available(cluster: &Object, i: &Inputs<'_>, topology: bool) -> Cond {
    const T: &str = "ControlPlaneAvailable";
    let kind = kind_of(cluster, "/spec/controlPlaneRef");
    let initialized = cluster.bool_at("/status/initialization/controlPlaneInitialized");
    if !defined(cluster, "/spec/controlPlaneRef") && topology {
        let msg = if cluster.deleting() { "" } else { "Waiting for cluster topology to be reconciled" };
        return Cond::f(T, "ObjectDoesNotExist", msg);
    }
    if let Some(cp) = i.cp {
        let fallback = if initialized {
            Cond::t(T, "Available")
        } else {
            Cond::f(T, "NotAvailable", format!("{kind} status.initialization.controlPlaneInitialized is false"))
        };
        let mut c = merge::mirror(cp, "Available", T, fallback);
        if c.reason == merge::NO_REASON_REPORTED && c.status == Status::True {
            c.reason = "Available".into();
        }
        return c;
    }
    if !i.cp_not_found {
        return Cond::u(T, "InternalError", CHECK_LOGS);
    }
    if cluster.deleting() {
        if initialized {
            return Cond::f(T, "ObjectDeleted", format!("{kind} has been deleted"));
        }
        return Cond::f(T, "ObjectDoesNotExist", format!("{kind} does not exist"));
    }
    if initialized {
        return Cond::f(T, "ObjectDeleted", format!("{kind} has been deleted while the cluster still exists"));
    }
    Cond::f(T, "ObjectDoesNotExist", format!("{kind} does not exist"))
}

/// `setControlPlaneInitializedCondition` (None: already True, left alone).
fn control_plane_initialized(cluster: &Object, i: &Inputs<'_>, topology: bool, cp_machines: &[&Object]) -> Option<Cond> {
    const T: &str = "ControlPlaneInitialized";
    if conditions::is_true(cluster, T) {
        return None;
    }
    let has_ref = defined(cluster, "/spec/controlPlaneRef");
    if !has_ref && topology {
        let msg = if cluster.deleting() { "" } else { "Waiting for cluster topology to be reconciled" };
        return Some(Cond::u(T, "ObjectDoesNotExist", msg));
    }
    if has_ref {
        let Some(cp) = i.cp else {
            if !i.cp_not_found {
                return Some(Cond::u(T, "InternalError", CHECK_LOGS));
            }
            return Some(Cond::u(T, "ObjectDoesNotExist", format!("{} does not exist", kind_of(cluster, "/spec/controlPlaneRef"))));
        };
        if cp.bool_at("/status/initialization/controlPlaneInitialized") {
            return Some(Cond::t(T, "Initialized"));
        }
        return Some(Cond::f(T, "NotInitialized", "Control plane not yet initialized"));
    }
    if cp_machines.iter().any(|m| m.at("/status/nodeRef").is_some_and(|n| !n.is_null())) {
        return Some(Cond::t(T, "Initialized"));
    }
    Some(Cond::f(T, "NotInitialized", "Waiting for the first control plane machine to have status.nodeRef set"))
}

/// `setWorkersAvailableCondition`: `Available` of the MachinePools and MachineDeployments.
pub fn workers_available(mps: &[&Object], mds: &[&Object]) -> Cond {
    if mps.is_empty() && mds.is_empty() {
        return Cond::t("WorkersAvailable", "NoWorkers");
    }
    let objs: Vec<&Object> = mps.iter().chain(mds.iter()).copied().collect();
    merge::aggregate(&objs, "Available", "WorkersAvailable", false, ("NotAvailable", "AvailableUnknown", "Available"))
}

/// `setRollingOutCondition` / `setScalingUpCondition` / `setScalingDownCondition`: the control plane
/// (only when it reports the condition), MachineDeployments and Cluster-owned MachineSets,
/// aggregated with negative polarity.
fn negative_aggregate(cp: Option<&Object>, mds: &[Arc<Object>], mss: &[&Object], type_: &str, reasons: (&str, &str, &str)) -> Cond {
    let mut objs: Vec<&Object> = Vec::new();
    if let Some(cp) = cp.filter(|cp| conditions::get(cp, type_).is_some()) {
        objs.push(cp);
    }
    objs.extend(mds.iter().map(|m| &**m));
    objs.extend(mss.iter().copied());
    if objs.is_empty() {
        return Cond::f(type_, reasons.2, "");
    }
    merge::aggregate(&objs, type_, type_, true, reasons)
}

/// `setRemediatingCondition`.
fn remediating(to_remediate: &[&Object], unhealthy: &[&Object]) -> Cond {
    if to_remediate.is_empty() {
        return Cond::f("Remediating", "NotRemediating", unhealthy_message(unhealthy));
    }
    let c = merge::aggregate(to_remediate, "OwnerRemediated", "Remediating", false, ("IssuesReported", "UnknownReported", "InfoReported"));
    Cond::new("Remediating", Status::True, "Remediating", c.message)
}

/// `aggregateUnhealthyMachines`: `Machine(s) a, b, c, ... (N more) is/are not healthy (not to be remediated)`.
fn unhealthy_message(machines: &[&Object]) -> String {
    if machines.is_empty() {
        return String::new();
    }
    let mut names: Vec<String> = machines.iter().map(|m| m.name().to_string()).collect();
    names.sort();
    let plural = names.len() > 1;
    format!(
        "Machine{} {} {} not healthy (not to be remediated)",
        if plural { "s" } else { "" },
        super::mdutil::status::list_to_string(&names, 3),
        if plural { "are" } else { "is" }
    )
}

/// `setAvailableCondition`: the summary of `Deleting` (negative), `RemoteConnectionProbe`,
/// `InfrastructureReady`, `ControlPlaneAvailable`, `WorkersAvailable`, `TopologyReconciled` (ignored
/// when missing without a topology) and the availability gates (the Cluster's, else its class's).
pub fn available(cluster: &Object, conds: &[Cond], class: Option<&Object>, topology: bool) -> Cond {
    let mut types_ref: Vec<&str> =
        vec!["Deleting", "RemoteConnectionProbe", "InfrastructureReady", "ControlPlaneAvailable", "WorkersAvailable", TOPOLOGY_RECONCILED];
    let mut negative_ref = vec!["Deleting"];
    let gates = cluster.at("/spec/availabilityGates").or_else(|| class.and_then(|c| c.at("/spec/availabilityGates")));
    for g in gates.and_then(Value::as_array).into_iter().flatten() {
        if let Some(t) = g.get("conditionType").and_then(Value::as_str) {
            types_ref.push(t);
            if g.get("polarity").and_then(Value::as_str) == Some("Negative") {
                negative_ref.push(t);
            }
        }
    }
    let deleting = cluster.deleting();
    // clusterConditionCustomMergeStrategy.
    let priority = |c: &Item<'_>| -> Priority {
        if deleting {
            if c.type_ == "InfrastructureReady" && matches!(c.reason, "ObjectDeleted" | "ObjectDoesNotExist") {
                return Priority::Info;
            }
            if c.type_ == "ControlPlaneAvailable" && matches!(c.reason, "ObjectDeleted" | "ObjectDoesNotExist") {
                return Priority::Info;
            }
        }
        if c.type_ == TOPOLOGY_RECONCILED
            && c.status == Status::False
            && c.reason != "ReconcileFailed"
            && c.reason != "ClusterClassNotReconciled"
        {
            return Priority::Info;
        }
        merge::default_priority(&negative_ref, c)
    };
    let ignore: &[&str] = if topology { &[] } else { &[TOPOLOGY_RECONCILED] };
    merge::summary(cluster, conds, "Available", &types_ref, ignore, &priority, ("NotAvailable", "AvailableUnknown", "Available"))
}

fn int(v: Option<i64>) -> Value {
    v.map_or(Value::Null, |n| json!(n))
}

/// `setControlPlaneReplicas`.
fn control_plane_replicas(cluster: &Object, i: &Inputs<'_>, topology: bool, cp_machines: &[&Object]) -> Value {
    if defined(cluster, "/spec/controlPlaneRef") || topology {
        let Some(cp) = i.cp else {
            return json!({"replicas": null, "readyReplicas": null, "availableReplicas": null, "upToDateReplicas": null, "desiredReplicas": null, "versions": null});
        };
        let mut v = json!({
            "desiredReplicas": int(cp.i64_at("/spec/replicas")),
            "replicas": int(cp.i64_at("/status/replicas")),
            "readyReplicas": int(cp.i64_at("/status/readyReplicas")),
            "availableReplicas": int(cp.i64_at("/status/availableReplicas")),
            "upToDateReplicas": int(cp.i64_at("/status/upToDateReplicas")),
        });
        v["versions"] = cp.at("/status/versions").cloned().unwrap_or(Value::Null);
        return v;
    }
    let count = |f: &dyn Fn(&Object) -> bool| -> Option<i64> {
        let n = cp_machines.iter().filter(|m| f(m)).count() as i64;
        (n > 0).then_some(n)
    };
    let replicas = count(&|_| true);
    json!({
        "desiredReplicas": int(replicas),
        "replicas": int(replicas),
        "readyReplicas": int(count(&|m| conditions::is_true(m, "Ready"))),
        "availableReplicas": int(count(&|m| conditions::is_true(m, "Available"))),
        "upToDateReplicas": int(count(&|m| conditions::is_true(m, "UpToDate"))),
    })
}

/// `setWorkersReplicas`: MachinePools, MachineDeployments, Cluster-owned MachineSets and stand-alone
/// worker Machines (a field stays unset when nothing reports it).
fn workers_replicas(cluster: &Object, i: &Inputs<'_>, workers: &[&Object]) -> Value {
    let mut sums: [Option<i64>; 5] = [None; 5];
    let add = |s: &mut Option<i64>, v: Option<i64>| {
        if let Some(v) = v {
            *s = Some(s.unwrap_or(0) + v);
        }
    };
    let pools = i.mps.iter().chain(i.mds.iter()).map(|o| &**o).chain(i.mss.iter().map(|o| &**o).filter(|m| owned_by_cluster(m, cluster)));
    for o in pools {
        for (k, p) in
            ["/spec/replicas", "/status/replicas", "/status/readyReplicas", "/status/availableReplicas", "/status/upToDateReplicas"]
                .iter()
                .enumerate()
        {
            add(&mut sums[k], o.i64_at(p));
        }
    }
    for m in workers.iter().filter(|m| owned_by_cluster(m, cluster)) {
        add(&mut sums[0], Some(1));
        add(&mut sums[1], Some(1));
        for (k, t) in [(2, "Ready"), (3, "Available"), (4, "UpToDate")] {
            if conditions::is_true(m, t) {
                add(&mut sums[k], Some(1));
            }
        }
    }
    json!({
        "desiredReplicas": int(sums[0]),
        "replicas": int(sums[1]),
        "readyReplicas": int(sums[2]),
        "availableReplicas": int(sums[3]),
        "upToDateReplicas": int(sums[4]),
    })
}

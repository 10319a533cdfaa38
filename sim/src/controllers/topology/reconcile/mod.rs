//! The topology controller (`topology/cluster`): for a Cluster with `spec.topology` it reads the
//! ClusterClass blueprint and the current generated objects, computes the desired state and writes
//! the difference — cluster shim, infrastructure cluster, control plane (with its machine template and
//! MachineHealthCheck), the Cluster's references, MachineDeployments and MachinePools — then reports
//! `TopologyReconciled`.
//! Sources: `core/reconcilers/topology/cluster/{cluster_controller.go,reconcile_state.go,status.go}`,
//! `internal/topology/check/compatibility.go`, `util/controller/consistency.go`.
//!
//! Every object it creates or updates is server-side applied by `capi-topology` (`apply.rs`), so a
//! field the topology stops setting leaves the object unless another manager owns it.
//!
//! Simplifications: `status.controlPlane.upgradePlan` / `status.workers.upgradePlan` are not
//! written; no RuntimeSDK hooks.
//!
//! This file holds the reconciler (watches, the consistency check, the deferred patch) and the
//! reconcile proper; `scope.rs` what a reconcile learns, `apply.rs` the topology's server-side apply, `objects.rs` the create/patch/rotate of one object, `state.rs` the writes of the
//! cluster-wide objects, `workers.rs` those of MachineDeployments and MachinePools, `condition.rs`
//! `TopologyReconciled`.

use super::desired;
use super::field::{invalid_message, FieldError};
use super::patches;
use super::state::{Blueprint, Current};
use super::upgrade::{self, Tracker};
use super::variables;
use crate::controllers::common;
use crate::controllers::conditions;
use crate::kinds::Kind;
use crate::object::Ptr;
use crate::object::{ObjKey, Object};
use crate::objectset::ObjectSet;
use crate::runtime::{Action, Ctx, ReconcileError, ReconcileResult, Reconciler};
use crate::store::Change;
use crate::world::Notice;
use serde_json::{json, Value};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::Arc;

mod apply;
mod condition;
mod objects;
mod scope;
mod state;
mod workers;

pub use apply::{applied, merge_json};
use condition::topology_condition;
pub use condition::TOPOLOGY_RECONCILED;
use scope::Scope;
use state::reconcile_state;

/// `requeueDurationStaleCache`: how soon a reconcile is retried while the cache lags behind our writes.
pub const STALE_CACHE_REQUEUE_MS: u64 = 100;

const WATCHES: &[Kind] = &[
    Kind::ClusterClass,
    Kind::MachineDeployment,
    Kind::MachinePool,
    Kind::KubeadmControlPlane,
    Kind::DockerCluster,
    Kind::DevCluster,
    // Read from the cache only.
    Kind::DockerClusterTemplate,
    Kind::DevClusterTemplate,
    Kind::KubeadmControlPlaneTemplate,
    Kind::DockerMachineTemplate,
    Kind::DevMachineTemplate,
    Kind::KubeadmConfigTemplate,
    Kind::DockerMachinePoolTemplate,
    Kind::DevMachinePoolTemplate,
    Kind::DockerMachinePool,
    Kind::DevMachinePool,
    Kind::KubeadmConfig,
    Kind::MachineHealthCheck,
    Kind::Machine,
    Kind::Secret,
];

/// The topology controller. It remembers, per Cluster, the resourceVersions of its own writes so a
/// reconcile never acts on a cache that has not seen them yet (CAPI's consistency store).
///
/// It also keeps two memos of pure functions, which go with the simulation: the patch engine's
/// (`patches::Memo`) and the defaulted and validated topology variables of each Cluster
/// ([`VariablesMemo`]).
#[derive(Default)]
pub struct TopologyReconciler {
    written: RefCell<BTreeMap<ObjKey, BTreeMap<ObjKey, u64>>>,
    patches: patches::Memo,
    variables: VariablesMemo,
}

/// `variables::default_and_validate` of each Cluster's `spec.topology` against its ClusterClass's
/// `status.variables`, by Cluster, kept with what fixes its inputs: the Cluster's uid and generation
/// (any spec change moves it) and the ClusterClass's uid and resourceVersion.
#[derive(Default)]
struct VariablesMemo(RefCell<BTreeMap<ObjKey, VariablesEntry>>);

/// One Cluster's entry: (uid, generation, class version) → (defaulted topology, errors).
type VariablesEntry = ((Arc<str>, i64, patches::Version), (Arc<Value>, Vec<FieldError>));

impl VariablesMemo {
    /// The defaulted topology and the errors, from the memo when the inputs are those it holds.
    fn default_and_validate(&self, cluster: &Object, class: &Object, status_vars: &[Value]) -> (Arc<Value>, Vec<FieldError>) {
        let compute = || {
            let mut topo = cluster.at("/spec/topology").cloned().unwrap_or_else(|| json!({}));
            let errs = variables::default_and_validate(&mut topo, status_vars);
            (Arc::new(topo), errs)
        };
        let (Some(class_version), false) = (patches::Version::of(class), cluster.meta.uid.is_empty()) else { return compute() };
        let inputs = (cluster.meta.uid.clone(), cluster.meta.generation, class_version);
        let key = cluster.key();
        if let Some((k, v)) = self.0.borrow().get(&key) {
            if *k == inputs {
                return v.clone();
            }
        }
        let v = compute();
        self.0.borrow_mut().insert(key, (inputs, v.clone()));
        v
    }

    /// Forget a Cluster that is gone.
    fn forget(&self, key: &ObjKey) {
        self.0.borrow_mut().remove(key);
    }
}

fn has_topology(c: &Object) -> bool {
    c.at("/spec/topology").is_some_and(|t| !t.is_null())
}

/// The ClusterClass a Cluster refers to (`GetClassKey`).
pub fn class_key(c: &Object) -> ObjKey {
    let name = c.str_at("/spec/topology/classRef/name").unwrap_or("");
    let ns = c.str_at("/spec/topology/classRef/namespace").filter(|n| !n.is_empty()).unwrap_or(c.namespace());
    ObjKey::new(Kind::ClusterClass, ns, name)
}

impl Reconciler for TopologyReconciler {
    fn name(&self) -> &'static str {
        "topology/cluster"
    }
    fn kind(&self) -> Kind {
        Kind::Cluster
    }
    fn watches(&self) -> &[Kind] {
        WATCHES
    }
    fn map(&self, change: &Change, cache: &ObjectSet, out: &mut Vec<ObjKey>) {
        let o = &change.object;
        match o.kind {
            Kind::ClusterClass => {
                for c in cache.of_kind(Kind::Cluster, None).filter(|c| has_topology(c)) {
                    let k = class_key(c);
                    if *k.name == *o.name() && *k.ns == *o.namespace() {
                        out.push(c.key());
                    }
                }
            }
            Kind::MachineDeployment | Kind::MachinePool if upgrade::topology_owned(o) => {
                if let Some(c) = o.str_at("/spec/clusterName").filter(|c| !c.is_empty()) {
                    out.push(ObjKey::new(Kind::Cluster, o.namespace(), c));
                }
            }
            Kind::KubeadmControlPlane | Kind::DockerCluster | Kind::DevCluster if upgrade::topology_owned(o) => {
                crate::runtime::map_owners(change, Kind::Cluster, out);
            }
            _ => {}
        }
    }
    fn map_notice(&self, notice: &Notice, cache: &ObjectSet, out: &mut Vec<ObjKey>) {
        if let Notice::Connection(name) = notice {
            out.extend(cache.in_cluster(Kind::Cluster, name).filter(|c| has_topology(c)).map(|c| c.key()));
        }
    }
    fn reconcile(&self, ctx: &mut Ctx<'_>, key: &ObjKey) -> ReconcileResult {
        let Some(cluster) = ctx.get(key).cloned() else {
            self.written.borrow_mut().remove(key);
            self.variables.forget(key);
            return Ok(Action::DONE);
        };
        if !has_topology(&cluster) {
            return Ok(Action::DONE);
        }
        if self.cache_stale(ctx, key) {
            ctx.note("cache stale, reconcile requeued until the cache is up-to-date");
            return Ok(Action::requeue(STALE_CACHE_REQUEUE_MS));
        }
        let mut s = Scope {
            tracker: Tracker::new(&cluster),
            class: None,
            defaulted_topology: None,
            desired_cp_version: String::new(),
            cp_kind: String::new(),
            writes: Vec::new(),
        };
        let paused = common::is_paused(Some(&cluster), &cluster);
        let result = if paused || cluster.deleting() { Ok(()) } else { reconcile_topology(ctx, self, &cluster, &mut s) };
        if !s.writes.is_empty() {
            let mut w = self.written.borrow_mut();
            let entry = w.entry(key.clone()).or_default();
            for (k, rv) in s.writes.drain(..) {
                let e = entry.entry(k).or_insert(0);
                *e = (*e).max(rv);
            }
        }
        // The deferred patch: defaulted variables and the condition.
        let cond = topology_condition(&cluster, &s, result.as_ref().err());
        if let Some(topo) = s.defaulted_topology.take() {
            let cached = cluster.at("/spec/topology").cloned().unwrap_or(Value::Null);
            if cached != *topo && ctx.live(key).is_some() {
                ctx.patch(key, |o| {
                    if let Some(live) = o.body.get_mut("spec").and_then(|s| s.get_mut("topology")) {
                        persist_defaults(live, &cached, &topo);
                    }
                })?;
            }
        }
        if ctx.live(key).is_some() {
            let now = ctx.now;
            ctx.patch_status(key, |o| conditions::set(o, [cond], now))?;
        }
        result.map(|_| Action::DONE).map_err(ReconcileError)
    }
}

impl TopologyReconciler {
    /// Whether the cache has not yet seen a write of an earlier reconcile of this Cluster.
    fn cache_stale(&self, ctx: &Ctx<'_>, key: &ObjKey) -> bool {
        let mut w = self.written.borrow_mut();
        let Some(entry) = w.get(key) else { return false };
        let stale = entry.iter().any(|(k, rv)| match ctx.get(k) {
            Some(o) => o.meta.resource_version < *rv,
            None => ctx.live(k).is_some(),
        });
        if !stale {
            w.remove(key);
        }
        stale
    }
}

/// Write the variables defaulting changed into the live topology, and nothing else: like CAPI's patch
/// helper, only what this reconcile changed is sent, so concurrent edits (a version bump) survive.
/// Overrides of MachineDeployment/MachinePool topologies are matched by name.
fn persist_defaults(live: &mut Value, cached: &Value, defaulted: &Value) {
    if cached.get("variables") != defaulted.get("variables") {
        if let (Some(v), Some(m)) = (defaulted.get("variables"), live.as_object_mut()) {
            m.insert("variables".into(), v.clone());
        }
    }
    let cp = "/controlPlane/variables/overrides";
    if cached.ptr(cp) != defaulted.ptr(cp) {
        if let Some(v) = defaulted.ptr(cp) {
            super::patches::set_pointer(live, cp, Some(v.clone()));
        }
    }
    for list in ["machineDeployments", "machinePools"] {
        let items = |t: &Value| t.ptr(&format!("/workers/{list}")).and_then(Value::as_array).cloned().unwrap_or_default();
        let cached_items = items(cached);
        for d in items(defaulted) {
            let name = d.get("name").cloned();
            let c = cached_items.iter().find(|c| c.get("name") == name.as_ref());
            let (Some(c), Some(v)) = (c, d.ptr("/variables/overrides")) else { continue };
            if c.ptr("/variables/overrides") == Some(v) {
                continue;
            }
            let target = live
                .pointer_mut(&format!("/workers/{list}"))
                .and_then(Value::as_array_mut)
                .and_then(|l| l.iter_mut().find(|w| w.get("name") == name.as_ref()));
            if let Some(w) = target {
                super::patches::set_pointer(w, "/variables/overrides", Some(v.clone()));
            }
        }
    }
}

/// The reconcile proper (`reconcile`); errors carry CAPI's wrapped messages.
fn reconcile_topology(ctx: &mut Ctx<'_>, memos: &TopologyReconciler, cluster: &Arc<Object>, s: &mut Scope) -> Result<(), String> {
    let ck = class_key(cluster);
    let Some(class) = ctx.get(&ck).cloned() else {
        return Err(format!(
            "failed to retrieve ClusterClass {}/{}: clusterclasses.cluster.x-k8s.io \"{}\" not found",
            ck.ns, ck.name, ck.name
        ));
    };
    s.class = Some(class.clone());
    if conditions::get(&class, "VariablesReady").is_none_or(|c| c.status == conditions::Status::False) {
        return Err(
            "ClusterClass is not successfully reconciled: status of VariablesReady condition on ClusterClass must be \"True\"".into()
        );
    }
    let observed = class.i64_at("/status/observedGeneration").unwrap_or(0);
    if class.meta.generation != observed {
        return Err(format!(
            "ClusterClass is not successfully reconciled: ClusterClass.status.observedGeneration must be {}, but is {observed}",
            class.meta.generation
        ));
    }
    let status_vars: &[Value] = class.at("/status/variables").and_then(Value::as_array).map_or(&[], Vec::as_slice);
    let (topo, errs) = memos.variables.default_and_validate(cluster, &class, status_vars);
    s.defaulted_topology = Some(topo.clone());
    if !errs.is_empty() {
        return Err(invalid_message(Kind::Cluster, cluster.name(), &errs));
    }
    let mut working = (**cluster).clone();
    working.set("/spec/topology", (*topo).clone());
    let bp = Blueprint::read(ctx, &class).map_err(|e| format!("error reading the ClusterClass: {e}"))?;
    let cur = Current::read(ctx, &working).map_err(|e| format!("error reading current state of the Cluster topology: {e}"))?;
    let d = desired::generate(ctx, &memos.patches, &working, &bp, &cur, &mut s.tracker)
        .map_err(|e| format!("error computing the desired state of the Cluster topology: {e}"))?;
    s.desired_cp_version = d.cp.str_at("/spec/version").unwrap_or("").to_string();
    s.cp_kind = cur.cp.as_ref().map(|c| c.kind.name().to_string()).unwrap_or_else(|| d.cp.kind.name().to_string());
    reconcile_state(ctx, &working, &bp, &cur, d, s).map_err(|e| format!("error reconciling the Cluster topology: {e}"))
}

#[cfg(test)]
mod tests;

//! The topology controller (`topology/cluster`): for a Cluster with `spec.topology` it reads the
//! ClusterClass blueprint and the current generated objects, computes the desired state and writes
//! the difference — cluster shim, infrastructure cluster, control plane (with its machine template and
//! MachineHealthCheck), the Cluster's references, MachineDeployments and MachinePools — then reports
//! `TopologyReconciled`.
//! Sources: `core/reconcilers/topology/cluster/{cluster_controller.go,reconcile_state.go,status.go}`,
//! `internal/topology/check/compatibility.go`, `util/controller/consistency.go`.
//!
//! Simplifications: server-side apply is modelled as "the desired fields are merged over the current
//! object" (fields the topology stops setting are not removed, managed fields are not tracked);
//! `status.controlPlane.upgradePlan` / `status.workers.upgradePlan` are not written; no RuntimeSDK hooks.

use super::desired::{self, Desired, DesiredMd, DesiredMp};
use super::field::{invalid_message, FieldError};
use super::patches;
use super::state::{Blueprint, Current, MdState, MpState};
use super::upgrade::{self, Tracker};
use super::variables;
use crate::controllers::common::{self, keys};
use crate::controllers::conditions::{self, Cond};
use crate::kinds::Kind;
use crate::object::Ptr;
use crate::object::{ObjKey, Object, OwnerRef};
use crate::objectset::ObjectSet;
use crate::runtime::{Action, Ctx, ReconcileError, ReconcileResult, Reconciler};
use crate::store::error::qualified_kind;
use crate::store::{ApiError, Change};
use crate::world::Notice;
use serde_json::{json, Value};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The `TopologyReconciled` condition type.
pub const TOPOLOGY_RECONCILED: &str = "TopologyReconciled";
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

/// What one reconcile learned, for the condition.
struct Scope {
    tracker: Tracker,
    class: Option<Arc<Object>>,
    defaulted_topology: Option<Arc<Value>>,
    desired_cp_version: String,
    cp_kind: String,
    writes: Vec<(ObjKey, u64)>,
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

/// `TopologyReconciled` as `reconcileTopologyReconciledCondition` computes it.
fn topology_condition(cluster: &Object, s: &Scope, err: Option<&String>) -> Cond {
    let spec_paused = cluster.bool_at("/spec/paused");
    let annotated = cluster.meta.annotations.contains_key(keys::PAUSED);
    if spec_paused || annotated {
        let mut msgs = Vec::new();
        if spec_paused {
            msgs.push("Cluster spec.paused is set to true");
        }
        if annotated {
            msgs.push("Cluster has the cluster.x-k8s.io/paused annotation");
        }
        return Cond::f(TOPOLOGY_RECONCILED, "Paused", msgs.join(", "));
    }
    if let Some(e) = err {
        return Cond::f(TOPOLOGY_RECONCILED, "ReconcileFailed", e.clone());
    }
    if cluster.deleting() {
        return Cond::f(TOPOLOGY_RECONCILED, "Deleting", "Cluster is deleting");
    }
    if let Some(cc) = &s.class {
        if cc.meta.generation != cc.i64_at("/status/observedGeneration").unwrap_or(0) {
            return Cond::f(
                TOPOLOGY_RECONCILED,
                "ClusterClassNotReconciled",
                "ClusterClass not reconciled. If this condition persists please check ClusterClass status. A ClusterClass is reconciled if.status.observedGeneration == .metadata.generation is true. If this is not the case either ClusterClass reconciliation failed or the ClusterClass is paused",
            );
        }
    }
    let refs_set = |p: &str| cluster.str_at(p).is_some_and(|n| !n.is_empty());
    if !refs_set("/spec/infrastructureRef/name") && !refs_set("/spec/controlPlaneRef/name") {
        return Cond::t(TOPOLOGY_RECONCILED, "ReconcileSucceeded");
    }
    if upgrade::in_progress(&s.tracker) {
        let version = cluster.str_at("/spec/topology/version").unwrap_or("");
        let (reason, msg) = upgrade::upgrading_condition(&s.tracker, version, &s.desired_cp_version, &s.cp_kind);
        return Cond::f(TOPOLOGY_RECONCILED, &reason, msg);
    }
    Cond::t(TOPOLOGY_RECONCILED, "ReconcileSucceeded")
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

/// Deep merge: objects merge key by key, anything else takes the desired value (server-side apply of
/// the fields the topology controller sets).
pub fn merge_json(current: &Value, desired: &Value) -> Value {
    let mut out = current.clone();
    merge_into(&mut out, desired);
    out
}

/// [`merge_json`] in place.
fn merge_into(current: &mut Value, desired: &Value) {
    match (current, desired) {
        (Value::Object(c), Value::Object(d)) => {
            for (k, v) in d {
                match c.get_mut(k) {
                    Some(cv) => merge_into(cv, v),
                    None => {
                        c.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (c, d) => *c = d.clone(),
    }
}

/// Whether [`merge_json`] of `desired` into `current` gives `current` back (read-only: most
/// reconciles find the topology as it should be, and then nothing is copied).
fn merge_is_noop(current: &Value, desired: &Value) -> bool {
    match (current, desired) {
        (Value::Object(c), Value::Object(d)) => d.iter().all(|(k, v)| c.get(k).is_some_and(|cv| merge_is_noop(cv, v))),
        (c, d) => c == d,
    }
}

/// Insert the entries of `from` that `into` lacks or holds with another value.
fn extend_changed(into: &mut crate::object::StrMap, from: &crate::object::StrMap) {
    for (k, v) in from {
        if into.get(k) != Some(v) {
            into.insert(k.clone(), v.clone());
        }
    }
}

/// `current` with the desired body (not status), labels and annotations applied. Only the top-level
/// fields that the merge changes are written, so an up-to-date object keeps sharing its body.
pub fn applied(current: &Object, desired: &Object) -> Object {
    let mut o = current.clone();
    for (k, v) in &desired.body {
        if k == "status" {
            continue;
        }
        match current.body.get(k) {
            Some(cv) if merge_is_noop(cv, v) => {}
            Some(_) => {
                if let Some(ov) = o.body.get_mut(k) {
                    merge_into(ov, v);
                }
            }
            None => {
                o.body.insert(k.clone(), v.clone());
            }
        }
    }
    extend_changed(&mut o.meta.labels, &desired.meta.labels);
    extend_changed(&mut o.meta.annotations, &desired.meta.annotations);
    o
}

/// Patch the desired fields (body, labels, annotations) onto the object as the API server holds it,
/// so fields written by others since the cache was filled are kept (as server-side apply keeps them).
fn patch_applied(ctx: &mut Ctx<'_>, key: &ObjKey, desired: &Object) -> Result<Arc<Object>, ApiError> {
    let d = desired.clone();
    ctx.patch(key, |o| *o = applied(o, &d))
}

/// `r.recorder.Eventf(obj, Normal, reason, ...)` (reconcile_state.go: `TopologyCreate`,
/// `TopologyUpdate`, `TopologyDelete`).
fn event(ctx: &mut Ctx<'_>, on: &Object, reason: &str, msg: String) {
    ctx.event_normal(on, reason, msg);
}

/// `klog.KObj(o)` printed with `%q`.
fn kobj(o: &Object) -> String {
    format!("\"{}/{}\"", o.namespace(), o.name())
}

/// `createErrorWithoutObjectName`: generated names are kept out of the message so it stays stable.
fn create_error(kind: Kind, e: &ApiError) -> String {
    match e.message.split_once(" is invalid: ") {
        Some((_, causes)) => format!("failed to create {}: {causes}", qualified_kind(kind)),
        None => format!("failed to create {}", qualified_kind(kind)),
    }
}

fn create(ctx: &mut Ctx<'_>, cluster: &Object, obj: Object) -> Result<Arc<Object>, String> {
    let kind = obj.kind;
    let what = format!("{kind} {}", kobj(&obj));
    let created = ctx.create(obj).map_err(|e| create_error(kind, &e))?;
    event(ctx, cluster, "TopologyCreate", format!("Created {what}"));
    Ok(created)
}

/// `reconcileReferencedObject`: create, or patch the desired fields in. Returns whether it created.
fn reconcile_object(ctx: &mut Ctx<'_>, cluster: &Object, current: Option<&Arc<Object>>, desired: &Object) -> Result<bool, String> {
    let Some(cur) = current else {
        create(ctx, cluster, desired.clone())?;
        return Ok(true);
    };
    if cur.name() != desired.name() {
        return Err(format!(
            "metadata.name: Forbidden: metadata.name of {}/{} cannot be changed from {:?} to {:?} to prevent incompatible changes in the Cluster",
            qualified_kind(cur.kind),
            cur.name(),
            cur.name(),
            desired.name()
        ));
    }
    if cur.kind != desired.kind {
        return Err(format!("metadata.kind: Forbidden: apiVersion.kind of {}/{} cannot be changed", qualified_kind(cur.kind), cur.name()));
    }
    let new = applied(cur, desired);
    if new == **cur {
        return Ok(false);
    }
    let version_change = match (cur.str_at("/spec/version"), new.str_at("/spec/version")) {
        (Some(a), Some(b)) if a != b && cur.kind == Kind::KubeadmControlPlane => format!(" with version change from {a} to {b}"),
        _ => String::new(),
    };
    patch_applied(ctx, &cur.key(), desired).map_err(|e| format!("failed to patch {} {}/{}: {e}", cur.kind, cur.namespace(), cur.name()))?;
    event(ctx, cluster, "TopologyUpdate", format!("Updated {} {}{version_change}", cur.kind, kobj(cur)));
    Ok(false)
}

/// `reconcileReferencedTemplate`: create, patch metadata, or — when the spec changed — rotate: create
/// the desired template under a new name (`prefix` + random) and let the caller switch the reference.
/// Returns whether a template was created.
fn reconcile_template(
    ctx: &mut Ctx<'_>,
    cluster: &Object,
    current: Option<&Arc<Object>>,
    desired: &mut Object,
    prefix: &str,
) -> Result<bool, String> {
    let Some(cur) = current else {
        create(ctx, cluster, desired.clone())?;
        return Ok(true);
    };
    if cur.kind != desired.kind {
        return Err(format!(
            "metadata.kind: Forbidden: apiVersion.kind of {}/{} cannot be changed from {:?} to {:?} to prevent incompatible changes in the Cluster",
            qualified_kind(cur.kind),
            cur.name(),
            cur.kind.name(),
            desired.kind.name()
        ));
    }
    let new = applied(cur, desired);
    if new == **cur {
        return Ok(false);
    }
    if new.body.get("spec") == cur.body.get("spec") {
        patch_applied(ctx, &cur.key(), desired)
            .map_err(|e| format!("failed to patch {} {}/{}: {e}", cur.kind, cur.namespace(), cur.name()))?;
        event(ctx, cluster, "TopologyUpdate", format!("Updated {} {} (metadata changes)", cur.kind, kobj(cur)));
        return Ok(false);
    }
    let new_name = desired::simple_name(ctx, prefix);
    desired.meta.name = new_name.as_str().into();
    let kind = desired.kind;
    ctx.create(desired.clone()).map_err(|e| create_error(kind, &e))?;
    event(
        ctx,
        cluster,
        "TopologyCreate",
        format!("Created {} {} as a replacement for {:?} (template rotation)", desired.kind, kobj(desired), cur.name()),
    );
    Ok(true)
}

/// `reconcileMachineHealthCheck`.
fn reconcile_mhc(ctx: &mut Ctx<'_>, cluster: &Object, current: Option<&Arc<Object>>, desired: Option<&Object>) -> Result<(), String> {
    match (current, desired) {
        (None, None) => Ok(()),
        (None, Some(d)) => {
            let what = format!("{}/{}", d.namespace(), d.name());
            let created = ctx.create(d.clone()).map_err(|e| format!("failed to create MachineHealthCheck {what}: {e}"))?;
            event(ctx, &created, "TopologyCreate", format!("Created MachineHealthCheck {}", kobj(d)));
            let _ = cluster;
            Ok(())
        }
        (Some(c), None) => {
            match ctx.delete(&c.key()) {
                Ok(_) => {}
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(format!("failed to delete MachineHealthCheck {}/{}: {e}", c.namespace(), c.name())),
            }
            event(ctx, c, "TopologyDelete", format!("Deleted MachineHealthCheck {}", kobj(c)));
            Ok(())
        }
        (Some(c), Some(d)) => {
            let new = applied(c, d);
            if new == **c {
                return Ok(());
            }
            patch_applied(ctx, &c.key(), d)
                .map_err(|e| format!("failed to patch MachineHealthCheck {}/{}: {e}", c.namespace(), c.name()))?;
            event(ctx, c, "TopologyUpdate", format!("Updated MachineHealthCheck {}", kobj(c)));
            Ok(())
        }
    }
}

fn has_owner_named(o: &Object, kind: &str, name: &str) -> bool {
    o.meta.owner_references.iter().any(|r| r.kind == kind && r.name == name)
}

/// `reconcileState`.
fn reconcile_state(
    ctx: &mut Ctx<'_>,
    cluster: &Object,
    bp: &Blueprint,
    cur: &Current,
    mut d: Desired,
    s: &mut Scope,
) -> Result<(), String> {
    // The cluster shim keeps a half-created topology garbage-collectable.
    let shim_name = format!("{}-shim", cluster.name());
    let shim_key = ObjKey::new(Kind::Secret, cluster.namespace(), &shim_name);
    if cur.infra.is_none() || cur.cp.is_none() {
        let shim = match ctx.get(&shim_key).cloned() {
            Some(s) => s,
            None => {
                let mut obj = Object::new(Kind::Secret, cluster.namespace(), &shim_name);
                common::set_owner(&mut obj, cluster, false);
                obj.set("/type", json!("cluster.x-k8s.io/secret"));
                match ctx.create(obj) {
                    Ok(o) => o,
                    Err(e) if e.is_already_exists() => {
                        ctx.live(&shim_key).ok_or_else(|| format!("failed to read the cluster shim object: {e}"))?
                    }
                    Err(e) => return Err(format!("failed to create the cluster shim object: {e}")),
                }
            }
        };
        for o in [&mut d.infra, &mut d.cp] {
            if !o.meta.owner_references.iter().any(|r| r.uid == shim.meta.uid) {
                o.meta.owner_references.push(OwnerRef::to(&shim, false));
            }
        }
    }
    if let (Some(infra), Some(cp)) = (&cur.infra, &cur.cp) {
        let cluster_owns_all = has_owner_named(infra, "Cluster", cluster.name()) && has_owner_named(cp, "Cluster", cluster.name());
        let shim_owns_one = has_owner_named(infra, "Secret", &shim_name) || has_owner_named(cp, "Secret", &shim_name);
        if cluster_owns_all && shim_owns_one {
            match ctx.delete(&shim_key) {
                Ok(_) => {}
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(format!("failed to delete the cluster shim object: {e}")),
            }
        }
    }

    let created_infra = reconcile_object(ctx, cluster, cur.infra.as_ref(), &d.infra)?;
    let cp_result = reconcile_control_plane(ctx, cluster, bp, cur, &mut d, &s.tracker);
    let mut errs = Vec::new();
    let mut set_cp_ref = true;
    if let Err(e) = &cp_result {
        if !created_infra {
            return Err(e.clone());
        }
        if cluster.str_at("/spec/controlPlaneRef/name").is_none_or(str::is_empty) {
            set_cp_ref = false;
        }
        errs.push(e.clone());
    }
    if let Err(e) = reconcile_cluster(ctx, cluster, &d, set_cp_ref, s) {
        errs.push(e);
    }
    if !errs.is_empty() {
        return Err(super::field::aggregate(&errs));
    }
    reconcile_machine_deployments(ctx, cluster, cur, d.mds, s)?;
    reconcile_machine_pools(ctx, cluster, cur, d.mps, s)
}

/// `reconcileControlPlane`: MHC, machine template (with rotation), the control plane object, and the
/// deletion of a rotated-away machine template. Returns whether the control plane was created.
fn reconcile_control_plane(
    ctx: &mut Ctx<'_>,
    cluster: &Object,
    bp: &Blueprint,
    cur: &Current,
    d: &mut Desired,
    t: &Tracker,
) -> Result<bool, String> {
    if d.cp_mhc.is_some() || cur.cp_mhc.is_some() {
        reconcile_mhc(ctx, cluster, cur.cp_mhc.as_ref(), d.cp_mhc.as_ref())?;
    }
    if t.cp.pending_upgrade {
        return Ok(false);
    }
    let mut created_template: Option<ObjKey> = None;
    if bp.cp_machine.is_some() {
        if let Some(m) = d.cp_machine.as_mut() {
            if reconcile_template(ctx, cluster, cur.cp_machine.as_ref(), m, &format!("{}-", cluster.name()))? {
                created_template = Some(m.key());
            }
            let r = desired::contract_ref(m.kind, m.name());
            d.cp.set("/spec/machineTemplate/spec/infrastructureRef", r);
        }
    }
    let created = match reconcile_object(ctx, cluster, cur.cp.as_ref(), &d.cp) {
        Ok(c) => c,
        Err(e) => {
            if let Some(k) = created_template {
                if ctx.delete(&k).is_err() {
                    ctx.note(format!("WARNING! Failed to cleanup {k} for control plane while handling creation or update error"));
                }
            }
            return Err(e);
        }
    };
    if let (Some(old), Some(new)) = (&cur.cp_machine, &d.cp_machine) {
        if old.name() != new.name() {
            match ctx.delete(&old.key()) {
                Ok(_) => {}
                Err(e) if e.is_not_found() => {}
                Err(e) => {
                    return Err(format!(
                        "failed to delete old {} {}/{} of {} {}/{}: {e}",
                        old.kind,
                        old.namespace(),
                        old.name(),
                        d.cp.kind,
                        d.cp.namespace(),
                        d.cp.name()
                    ))
                }
            }
        }
    }
    Ok(created)
}

/// `reconcileCluster`: topology labels, the references and the upgrade-step annotation.
fn reconcile_cluster(ctx: &mut Ctx<'_>, cluster: &Object, d: &Desired, set_cp_ref: bool, s: &mut Scope) -> Result<(), String> {
    let mut want = cluster.clone();
    want.meta.labels.insert(keys::CLUSTER_NAME.into(), cluster.name().to_string());
    want.meta.labels.insert(keys::TOPOLOGY_OWNED.into(), String::new());
    match &d.upgrade_step {
        Some(v) => {
            want.meta.annotations.insert(upgrade::UPGRADE_STEP.into(), v.clone());
        }
        None => {
            want.meta.annotations.remove(upgrade::UPGRADE_STEP);
        }
    }
    want.set("/spec/infrastructureRef", d.infra_ref.clone());
    if set_cp_ref {
        want.set("/spec/controlPlaneRef", d.cp_ref.clone());
    }
    let same = want.meta.labels == cluster.meta.labels
        && want.meta.annotations == cluster.meta.annotations
        && want.at("/spec/infrastructureRef") == cluster.at("/spec/infrastructureRef")
        && want.at("/spec/controlPlaneRef") == cluster.at("/spec/controlPlaneRef");
    if same {
        return Ok(());
    }
    let (labels, annotations) = (want.meta.labels.to_inner(), want.meta.annotations.to_inner());
    let infra_ref = d.infra_ref.clone();
    let cp_ref = set_cp_ref.then(|| d.cp_ref.clone());
    let patched = ctx
        .patch(&cluster.key(), |o| {
            o.meta.labels.extend(labels);
            if annotations.contains_key(upgrade::UPGRADE_STEP) {
                o.meta.annotations.extend(annotations);
            } else {
                o.meta.annotations.remove(upgrade::UPGRADE_STEP);
            }
            o.set("/spec/infrastructureRef", infra_ref);
            if let Some(r) = cp_ref {
                o.set("/spec/controlPlaneRef", r);
            }
        })
        .map_err(|e| format!("failed to patch Cluster {}/{}: {e}", cluster.namespace(), cluster.name()))?;
    event(ctx, cluster, "TopologyUpdate", format!("Updated Cluster {}", kobj(cluster)));
    s.writes.push((patched.key(), patched.meta.resource_version));
    Ok(())
}

fn reconcile_machine_deployments(
    ctx: &mut Ctx<'_>,
    cluster: &Object,
    cur: &Current,
    desired: Vec<(String, DesiredMd)>,
    s: &mut Scope,
) -> Result<(), String> {
    let to_create: Vec<&String> = desired.iter().map(|(n, _)| n).filter(|n| !cur.mds.contains_key(*n)).collect();
    let live: Vec<String> = if to_create.is_empty() {
        Vec::new()
    } else {
        ctx.live_in_cluster(Kind::MachineDeployment, cluster.namespace(), cluster.name())
            .iter()
            .filter(|m| upgrade::topology_owned(m))
            .filter_map(|m| m.label(keys::TOPOLOGY_DEPLOYMENT_NAME).map(str::to_string))
            .collect()
    };
    for (topo, mut d) in desired.iter().cloned() {
        match cur.mds.get(&topo) {
            None => {
                if live.contains(&topo) {
                    ctx.note(format!("skipping creation of MachineDeployment for topology {topo}: it already exists (stale cache)"));
                    continue;
                }
                create_md(ctx, cluster, &topo, &mut d, s)?;
            }
            Some(c) => update_md(ctx, cluster, &topo, c, &mut d, s)?,
        }
    }
    for (topo, c) in &cur.mds {
        if desired.iter().any(|(n, _)| n == topo) {
            continue;
        }
        if let Some(m) = &c.mhc {
            reconcile_mhc(ctx, cluster, Some(m), None)?;
        }
        if !c.md.deleting() {
            match ctx.delete(&c.md.key()) {
                Ok(_) => {}
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(format!("failed to delete MachineDeployment {}/{}: {e}", c.md.namespace(), c.md.name())),
            }
            event(ctx, cluster, "TopologyDelete", format!("Deleted MachineDeployment {}", kobj(&c.md)));
        }
    }
    Ok(())
}

fn create_md(ctx: &mut Ctx<'_>, cluster: &Object, topo: &str, d: &mut DesiredMd, s: &mut Scope) -> Result<(), String> {
    if s.tracker.mds.pending_create.contains(topo) {
        return Ok(());
    }
    reconcile_template(ctx, cluster, None, &mut d.infra, "").map_err(|e| format!("failed to create MachineDeployment: {e}"))?;
    if let Err(e) = reconcile_template(ctx, cluster, None, &mut d.bootstrap, "") {
        let _ = ctx.delete(&d.infra.key());
        return Err(format!("failed to create MachineDeployment: {e}"));
    }
    let created = match create(ctx, cluster, d.md.clone()) {
        Ok(o) => o,
        Err(e) => {
            let _ = ctx.delete(&d.infra.key());
            let _ = ctx.delete(&d.bootstrap.key());
            return Err(e);
        }
    };
    s.writes.push((created.key(), created.meta.resource_version));
    if let Some(m) = &d.mhc {
        reconcile_mhc(ctx, cluster, None, Some(m))?;
    }
    Ok(())
}

fn update_md(ctx: &mut Ctx<'_>, cluster: &Object, topo: &str, c: &MdState, d: &mut DesiredMd, s: &mut Scope) -> Result<(), String> {
    if d.mhc.is_some() || c.mhc.is_some() {
        reconcile_mhc(ctx, cluster, c.mhc.as_ref(), d.mhc.as_ref())?;
    }
    if c.md.deleting() || s.tracker.mds.pending_upgrade.contains(c.md.name()) {
        return Ok(());
    }
    let what = format!("MachineDeployment {}/{}", c.md.namespace(), c.md.name());
    let quoted = format!("MachineDeployment {}", kobj(&c.md));
    let prefix = format!("{}-{topo}-", cluster.name());
    let created_infra = reconcile_template(ctx, cluster, c.infra.as_ref(), &mut d.infra, &prefix)
        .map_err(|e| format!("failed to reconcile {what}: {e}"))?;
    d.md.set("/spec/template/spec/infrastructureRef", desired::contract_ref(d.infra.kind, d.infra.name()));
    let created_bootstrap = match reconcile_template(ctx, cluster, c.bootstrap.as_ref(), &mut d.bootstrap, &prefix) {
        Ok(b) => b,
        Err(e) => {
            if created_infra {
                let _ = ctx.delete(&d.infra.key());
            }
            return Err(format!("failed to reconcile {what}: {e}"));
        }
    };
    d.md.set("/spec/template/spec/bootstrap/configRef", desired::contract_ref(d.bootstrap.kind, d.bootstrap.name()));
    let new = applied(&c.md, &d.md);
    if new == *c.md {
        return Ok(());
    }
    let version_change = match (c.md.str_at("/spec/template/spec/version"), d.md.str_at("/spec/template/spec/version")) {
        (Some(a), Some(b)) if !a.is_empty() && !b.is_empty() && a != b => format!(" with version change from {a} to {b}"),
        _ => String::new(),
    };
    let patched = patch_applied(ctx, &c.md.key(), &d.md);
    match patched {
        Ok(p) => {
            s.writes.push((p.key(), p.meta.resource_version));
            event(ctx, cluster, "TopologyUpdate", format!("Updated {quoted}{version_change}"));
            Ok(())
        }
        Err(e) => {
            if created_infra {
                let _ = ctx.delete(&d.infra.key());
            }
            if created_bootstrap {
                let _ = ctx.delete(&d.bootstrap.key());
            }
            Err(format!("failed to patch {what}: {e}"))
        }
    }
}

fn reconcile_machine_pools(
    ctx: &mut Ctx<'_>,
    cluster: &Object,
    cur: &Current,
    desired: Vec<(String, DesiredMp)>,
    s: &mut Scope,
) -> Result<(), String> {
    let creating = desired.iter().any(|(n, _)| !cur.mps.contains_key(n));
    let live: Vec<String> = if creating {
        ctx.live_in_cluster(Kind::MachinePool, cluster.namespace(), cluster.name())
            .iter()
            .filter(|m| upgrade::topology_owned(m))
            .filter_map(|m| m.label(keys::TOPOLOGY_POOL_NAME).map(str::to_string))
            .collect()
    } else {
        Vec::new()
    };
    for (topo, d) in &desired {
        match cur.mps.get(topo) {
            None => {
                if live.contains(topo) || s.tracker.mps.pending_create.contains(topo) {
                    continue;
                }
                let created_infra =
                    reconcile_object(ctx, cluster, None, &d.infra).map_err(|e| format!("failed to create MachinePool: {e}"))?;
                if let Err(e) = reconcile_object(ctx, cluster, None, &d.bootstrap) {
                    if created_infra {
                        let _ = ctx.delete(&d.infra.key());
                    }
                    return Err(format!("failed to create MachinePool: {e}"));
                }
                match create(ctx, cluster, d.mp.clone()) {
                    Ok(o) => s.writes.push((o.key(), o.meta.resource_version)),
                    Err(e) => {
                        let _ = ctx.delete(&d.infra.key());
                        let _ = ctx.delete(&d.bootstrap.key());
                        return Err(e);
                    }
                }
            }
            Some(c) => update_mp(ctx, cluster, c, d, s)?,
        }
    }
    for (topo, c) in &cur.mps {
        if desired.iter().any(|(n, _)| n == topo) || c.mp.deleting() {
            continue;
        }
        match ctx.delete(&c.mp.key()) {
            Ok(_) => {}
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(format!("failed to delete MachinePool {}/{}: {e}", c.mp.namespace(), c.mp.name())),
        }
        event(ctx, cluster, "TopologyDelete", format!("Deleted MachinePool {}", kobj(&c.mp)));
    }
    Ok(())
}

fn update_mp(ctx: &mut Ctx<'_>, cluster: &Object, c: &MpState, d: &DesiredMp, s: &mut Scope) -> Result<(), String> {
    if s.tracker.mps.pending_upgrade.contains(c.mp.name()) {
        return Ok(());
    }
    let what = format!("MachinePool {}/{}", c.mp.namespace(), c.mp.name());
    reconcile_object(ctx, cluster, Some(&c.infra), &d.infra).map_err(|e| format!("failed to reconcile {what}: {e}"))?;
    reconcile_object(ctx, cluster, Some(&c.bootstrap), &d.bootstrap).map_err(|e| format!("failed to reconcile {what}: {e}"))?;
    let new = applied(&c.mp, &d.mp);
    if new == *c.mp {
        return Ok(());
    }
    let version_change = match (c.mp.str_at("/spec/template/spec/version"), d.mp.str_at("/spec/template/spec/version")) {
        (Some(a), Some(b)) if !a.is_empty() && !b.is_empty() && a != b => format!(" with version change from {a} to {b}"),
        _ => String::new(),
    };
    let p = patch_applied(ctx, &c.mp.key(), &d.mp).map_err(|e| format!("failed to patch {what}: {e}"))?;
    s.writes.push((p.key(), p.meta.resource_version));
    event(ctx, cluster, "TopologyUpdate", format!("Updated MachinePool {}{version_change}", kobj(&c.mp)));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case(json!({"a": 1, "b": {"c": 2}}), json!({"b": {"d": 3}}), json!({"a": 1, "b": {"c": 2, "d": 3}}))]
    #[case(json!({"l": [1, 2]}), json!({"l": [3]}), json!({"l": [3]}))]
    #[case(json!({"v": "v1.34.0"}), json!({"v": "v1.35.0"}), json!({"v": "v1.35.0"}))]
    fn merge_applies_desired_fields(#[case] cur: Value, #[case] want_fields: Value, #[case] result: Value) {
        assert_eq!(merge_json(&cur, &want_fields), result);
    }

    #[rstest]
    #[case(json!({"a": 1, "b": {"c": 2}}), json!({"b": {"c": 2}}), true)]
    #[case(json!({"a": 1, "b": {"c": 2}}), json!({"b": {}}), true)]
    #[case(json!({"a": 1, "b": {"c": 2}}), json!({"b": {"d": 3}}), false)]
    #[case(json!({"a": 1}), json!({"a": 1.0}), false)]
    #[case(json!({"l": [{"x": 1, "y": 2}]}), json!({"l": [{"x": 1}]}), false)]
    #[case(json!({"a": {"b": 1}}), json!({"a": null}), false)]
    #[case(json!({"a": null}), json!({"a": {}}), false)]
    fn a_merge_is_a_no_op_exactly_when_it_changes_nothing(#[case] cur: Value, #[case] desired: Value, #[case] noop: bool) {
        assert_eq!(merge_is_noop(&cur, &desired), noop);
        assert_eq!(merge_json(&cur, &desired) == cur, noop);
    }

    #[test]
    fn applying_an_up_to_date_object_keeps_its_body_shared() {
        let mut cur = Object::new(Kind::MachineDeployment, "default", "md");
        cur.body.insert("spec".into(), json!({"replicas": 3, "template": {"spec": {"version": "v1.34.0"}}}));
        cur.meta.labels.insert("a".into(), "1".into());
        let mut desired = cur.clone();
        desired.body.insert("spec".into(), json!({"template": {"spec": {"version": "v1.34.0"}}}));
        let same = applied(&cur, &desired);
        assert!(same.body.shares(&cur.body), "an up-to-date object must not be copied");
        assert_eq!(same, cur);
        desired.body.insert("spec".into(), json!({"template": {"spec": {"version": "v1.35.0"}}}));
        desired.meta.labels.insert("b".into(), "2".into());
        let changed = applied(&cur, &desired);
        assert_eq!(changed.at("/spec/template/spec/version"), Some(&json!("v1.35.0")));
        assert_eq!(changed.at("/spec/replicas"), Some(&json!(3)));
        assert_eq!(changed.meta.labels.len(), 2);
    }

    #[test]
    fn persisting_defaults_keeps_concurrent_edits() {
        let cached = json!({"version": "v1.34.0", "variables": [{"name": "a"}],
            "workers": {"machineDeployments": [{"name": "md-0", "variables": {"overrides": [{"name": "x"}]}}, {"name": "md-1"}]}});
        let defaulted = json!({"version": "v1.34.0", "variables": [{"name": "a", "value": 1}],
            "workers": {"machineDeployments": [{"name": "md-0", "variables": {"overrides": [{"name": "x", "value": 2}]}}, {"name": "md-1"}]}});
        // Meanwhile the user bumped the version and reordered the MachineDeployments.
        let mut live = json!({"version": "v1.35.0", "variables": [{"name": "a"}],
            "workers": {"machineDeployments": [{"name": "md-1"}, {"name": "md-0", "variables": {"overrides": [{"name": "x"}]}}]}});
        persist_defaults(&mut live, &cached, &defaulted);
        assert_eq!(live["version"], "v1.35.0");
        assert_eq!(live["variables"], json!([{"name": "a", "value": 1}]));
        assert_eq!(live["workers"]["machineDeployments"][1]["variables"]["overrides"], json!([{"name": "x", "value": 2}]));
        assert_eq!(live["workers"]["machineDeployments"][0], json!({"name": "md-1"}));
    }

    #[test]
    fn create_errors_drop_generated_names() {
        let e = ApiError::denied(
            "validation.kubeadmcontrolplane.controlplane.cluster.x-k8s.io",
            "KubeadmControlPlane.controlplane.cluster.x-k8s.io \"c1-x7k2p\" is invalid: spec.version: Invalid value: \"1.2\": must start with v",
        );
        assert_eq!(
            create_error(Kind::KubeadmControlPlane, &e),
            "failed to create KubeadmControlPlane.controlplane.cluster.x-k8s.io: spec.version: Invalid value: \"1.2\": must start with v"
        );
    }

    /// The variables memo answers for the inputs it holds and computes anew when the Cluster's spec
    /// (its generation), the ClusterClass (its resourceVersion) or the Cluster itself (its uid) changes.
    #[test]
    fn the_variables_memo_follows_the_cluster_generation_and_the_class_version() {
        let status =
            variables::status_variables(&[json!({"name": "replicas", "schema": {"openAPIV3Schema": {"type": "integer", "minimum": 1}}})]);
        let mut class = Object::new(Kind::ClusterClass, "default", "cc");
        class.meta.uid = "class-uid".into();
        class.meta.resource_version = 7;
        let cluster = |uid: &str, generation: i64, replicas: i64| {
            let mut c = Object::new(Kind::Cluster, "default", "c");
            c.meta.uid = uid.into();
            c.meta.generation = generation;
            c.set("/spec/topology", json!({"variables": [{"name": "replicas", "value": replicas}]}));
            c
        };
        let memo = VariablesMemo::default();
        let valid = |r: (Arc<Value>, Vec<FieldError>)| r.1.is_empty();
        assert!(valid(memo.default_and_validate(&cluster("u1", 1, 3), &class, &status)));
        // Same inputs as far as the memo can tell: the held answer (a spec that changed without a new
        // generation cannot be stored).
        assert!(valid(memo.default_and_validate(&cluster("u1", 1, 0), &class, &status)));
        assert!(!valid(memo.default_and_validate(&cluster("u1", 2, 0), &class, &status)), "a new generation is validated");
        assert!(valid(memo.default_and_validate(&cluster("u2", 2, 3), &class, &status)), "a new Cluster of the same name");
        class.meta.resource_version = 8;
        assert!(!valid(memo.default_and_validate(&cluster("u2", 2, 0), &class, &status)), "a new ClusterClass version");
        memo.forget(&cluster("u2", 2, 0).key());
        assert!(memo.0.borrow().is_empty());
    }
}

//! `clusterctl move`: pause the Clusters (and ClusterClasses) of a namespace in the source management
//! cluster, re-create every object of the namespace in the target in owner-first order (new uids,
//! owner references rebuilt, status left to the target's controllers), delete them from the source
//! (annotated `delete-for-move`, finalizers stripped), then unpause in the target.
//! Source: `cmd/clusterctl/client/cluster/{mover.go,objectgraph.go}`.
//!
//! Preconditions as upstream checks them, with its messages: every Cluster provisioned and its
//! control plane initialized, every Machine with a Node (`checkProvisioningCompleted`, all failures
//! aggregated); no Cluster or ClusterClass paused (`checkClustersNotPaused`,
//! `checkClusterClassesNotPaused`). Objects carrying `clusterctl.cluster.x-k8s.io/block-move` when the
//! move starts are waited for (10 attempts, 5s growing by 1.5); a move that gives up leaves the source
//! Clusters paused and the ClusterClasses annotated paused, and nothing in the target.
//!
//! Simplifications: every namespaced object of the namespace is moved (clusterctl discovers the set
//! from provider CRDs, owner references and the `<cluster>-*` Secrets; in a namespace holding only
//! CAPI clusters this is the same set); the target's provider inventory is not checked; the backoff has
//! no jitter; objects of one move group are created one after another.

use crate::controllers::common::keys;
use crate::controllers::conditions;
use crate::engine::Sim;
use crate::kinds::Kind;
use crate::object::{ObjKey, Object};
use crate::store::api::Patch;
use crate::store::Subresource;
use capi_scenarios::model::Propagation;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

fn kind_rank(k: Kind) -> u8 {
    match k {
        Kind::ClusterClass => 0,
        k if k.template_target().is_some() => 1,
        Kind::Cluster => 2,
        _ => 3,
    }
}

/// The objects to move, owners first (ties: kind rank, kind, name).
fn move_order(objects: &[Arc<Object>]) -> Vec<Arc<Object>> {
    let uids: BTreeSet<&str> = objects.iter().map(|o| &*o.meta.uid).collect();
    let mut done: BTreeSet<String> = BTreeSet::new();
    let mut order = Vec::new();
    let mut pending: Vec<&Arc<Object>> = objects.iter().collect();
    pending.sort_by(|a, b| (kind_rank(a.kind), a.kind, a.name()).cmp(&(kind_rank(b.kind), b.kind, b.name())));
    while !pending.is_empty() {
        let (ready, rest): (Vec<&Arc<Object>>, Vec<&Arc<Object>>) =
            pending.into_iter().partition(|o| o.meta.owner_references.iter().all(|r| !uids.contains(&*r.uid) || done.contains(&*r.uid)));
        if ready.is_empty() {
            // An ownership cycle: move the rest as they are.
            order.extend(rest.into_iter().cloned());
            break;
        }
        for o in &ready {
            done.insert(o.meta.uid.to_string());
        }
        order.extend(ready.into_iter().cloned());
        pending = rest;
    }
    order
}

/// `schema.GroupVersionKind.String()` of a typed object read back through controller-runtime's client,
/// which clears its TypeMeta: clusterctl's preflight messages print `"/, Kind="`.
const CLEARED_GVK: &str = "\"/, Kind=\"";

/// `kerrors.NewAggregate(errs).Error()`: one error as it is, several in brackets.
fn aggregate(errs: &[String]) -> String {
    match errs {
        [one] => one.clone(),
        _ => format!("[{}]", errs.join(", ")),
    }
}

/// `checkProvisioningCompleted`: every Cluster's infrastructure provisioned and control plane
/// initialized (the `ControlPlaneInitialized` condition True, and `status.initialization` too when
/// it has a control-plane object), every Machine with a `nodeRef`. All failures, aggregated.
pub fn check_provisioning_completed(clusters: &[Arc<Object>], machines: &[Arc<Object>]) -> Result<(), String> {
    let mut errs = Vec::new();
    for c in clusters {
        let id = format!("{CLEARED_GVK} {}/{}", c.namespace(), c.name());
        if !c.bool_at("/status/initialization/infrastructureProvisioned") {
            errs.push(format!("cannot start the move operation while {id} is still provisioning the infrastructure"));
            continue;
        }
        let cp_ref = c.str_at("/spec/controlPlaneRef/name").is_some_and(|n| !n.is_empty());
        if !conditions::is_true(c, "ControlPlaneInitialized") || (cp_ref && !c.bool_at("/status/initialization/controlPlaneInitialized")) {
            errs.push(format!("cannot start the move operation while the control plane for {id} is not yet initialized"));
        }
    }
    for m in machines {
        if m.str_at("/status/nodeRef/name").is_none_or(str::is_empty) {
            errs.push(format!(
                "cannot start the move operation while {CLEARED_GVK} {}/{} is still provisioning the node",
                m.namespace(),
                m.name()
            ));
        }
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(format!("failed to get object graph: failed to check for provisioned infrastructure: {}", aggregate(&errs)))
    }
}

/// `checkClustersNotPaused` / `checkClusterClassesNotPaused`.
pub fn check_not_paused(clusters: &[Arc<Object>], classes: &[Arc<Object>]) -> Result<(), String> {
    let paused = |v: &[Arc<Object>], spec: bool| -> Vec<String> {
        v.iter()
            .filter(|o| (spec && o.bool_at("/spec/paused")) || o.meta.annotations.contains_key(keys::PAUSED))
            .map(|o| format!("{}/{}", o.namespace(), o.name()))
            .collect()
    };
    let c = paused(clusters, true);
    if !c.is_empty() {
        return Err(format!("cannot start operation while the following Clusters are paused: {}", c.join(", ")));
    }
    let cc = paused(classes, false);
    if !cc.is_empty() {
        return Err(format!("cannot start operation while the following ClusterClasses are paused: {}", cc.join(", ")));
    }
    Ok(())
}

/// `waitReadyForMove`'s backoff: 5s, growing by 1.5, 10 attempts (jitter left out).
pub const BLOCK_MOVE_ATTEMPTS: u32 = 10;

/// The wait before attempt `i + 1` of `waitReadyForMove` (ms).
pub fn block_move_delay_ms(i: u32) -> u64 {
    (5_000.0 * 1.5f64.powi(i as i32)) as u64
}

/// The wait between the end of `waitReadyForMove` and the copy, in which the paused source's
/// controllers finish what they were doing.
pub const SETTLE_MS: u64 = 2_000;

/// A move past its preflight, with the source paused: what it moves and where its wait for
/// `block-move` objects is.
pub(crate) struct MovePlan {
    from: usize,
    to: usize,
    ns: String,
    clusters: Vec<Arc<Object>>,
    classes: Vec<ObjKey>,
    blocking: Vec<Arc<Object>>,
    /// The blocking object being waited for, and the attempts spent on it.
    next: usize,
    attempt: u32,
}

/// Where `waitReadyForMove` is.
pub(crate) enum Progress {
    /// Nothing blocks the move any more.
    Ready,
    /// Look again after this many ms.
    WaitMs(u64),
    /// It gave up (the source stays paused, nothing is created in the target).
    Failed(String),
}

/// Move the Cluster API objects of a namespace from management cluster `from` to `to`, as
/// `objectMover.Move` does: preflight (provisioning completed, nothing paused), pause the Clusters
/// and ClusterClasses in the source, wait while an object carries `clusterctl.cluster.x-k8s.io/block-move`
/// (then give up, leaving the source paused), create everything in the target owners first, delete
/// it from the source, unpause in the target. The clock runs while it waits.
pub fn move_objects(sim: &mut Sim, from: usize, to: usize, ns: &str) -> Result<String, String> {
    let mut plan = begin(sim, from, to, ns)?;
    loop {
        match plan.poll(sim) {
            Progress::Ready => break,
            Progress::WaitMs(d) => {
                let t = sim.now() + d;
                sim.run_until(t);
            }
            Progress::Failed(e) => return Err(e),
        }
    }
    let t = sim.now() + SETTLE_MS;
    sim.run_until(t);
    complete(sim, &plan)
}

/// The move up to its wait for `block-move` objects: discovery, preflight, pausing the source.
pub(crate) fn begin(sim: &mut Sim, from: usize, to: usize, ns: &str) -> Result<MovePlan, String> {
    if from == to {
        return Err("the source and the target management cluster are the same".into());
    }
    let store = &sim.mgmt[from].api.store;
    let mut clusters: Vec<Arc<Object>> = store.objects().of_kind(Kind::Cluster, Some(ns)).cloned().collect();
    clusters.sort_by(|a, b| a.name().cmp(b.name()));
    if clusters.is_empty() {
        return Err(format!("no Cluster in namespace {ns} to move"));
    }
    let mut machines: Vec<Arc<Object>> = store.objects().of_kind(Kind::Machine, Some(ns)).cloned().collect();
    machines.sort_by(|a, b| a.name().cmp(b.name()));
    let mut class_objs: Vec<Arc<Object>> = store.objects().of_kind(Kind::ClusterClass, Some(ns)).cloned().collect();
    class_objs.sort_by(|a, b| a.name().cmp(b.name()));
    // getObjectGraph: discovery (which objects block the move is decided here), then the preflight.
    let mut blocking: Vec<Arc<Object>> =
        store.objects().iter().filter(|o| &*o.meta.namespace == ns && o.meta.annotations.contains_key(keys::BLOCK_MOVE)).cloned().collect();
    blocking.sort_by(|a, b| (a.kind.name(), a.name()).cmp(&(b.kind.name(), b.name())));
    check_provisioning_completed(&clusters, &machines)?;
    check_not_paused(&clusters, &class_objs)?;
    // Pause the source.
    for c in &clusters {
        sim.patch(from, &c.key(), &Patch::Merge(json!({"spec": {"paused": true}})), Subresource::Main)
            .map_err(|e| format!("error setting Cluster.Spec.Paused=true: {}", e.message))?;
    }
    let classes: Vec<ObjKey> = class_objs.iter().map(|c| c.key()).collect();
    for k in &classes {
        sim.patch(from, k, &Patch::Merge(json!({"metadata": {"annotations": {keys::PAUSED: ""}}})), Subresource::Main)
            .map_err(|e| format!("error pausing ClusterClasses: error updating ClusterClass {}/{}: {}", k.ns, k.name, e.message))?;
    }
    Ok(MovePlan { from, to, ns: ns.to_string(), clusters, classes, blocking, next: 0, attempt: 0 })
}

impl MovePlan {
    /// One look of `waitReadyForMove`: each blocking object in turn, with its own backoff.
    pub(crate) fn poll(&mut self, sim: &Sim) -> Progress {
        while let Some(b) = self.blocking.get(self.next) {
            let key = b.key();
            self.attempt += 1;
            let blocked = sim.mgmt[self.from].api.store.get(&key).is_some_and(|o| o.meta.annotations.contains_key(keys::BLOCK_MOVE));
            if !blocked {
                self.next += 1;
                self.attempt = 0;
                continue;
            }
            if self.attempt >= BLOCK_MOVE_ATTEMPTS {
                return Progress::Failed(format!(
                    "error waiting for resources to be ready to move: action failed after {} attempts: resource is not ready to move: {}, Kind={}/{}/{}",
                    self.attempt,
                    b.kind.api_version(),
                    b.kind.name(),
                    key.ns,
                    key.name
                ));
            }
            return Progress::WaitMs(block_move_delay_ms(self.attempt - 1));
        }
        Progress::Ready
    }
}

/// The move after its wait: copy the namespace to the target owners first, delete it from the
/// source, unpause in the target.
pub(crate) fn complete(sim: &mut Sim, plan: &MovePlan) -> Result<String, String> {
    let MovePlan { from, to, ref ns, ref clusters, ref classes, .. } = *plan;
    let ns = ns.as_str();
    // Snapshot the namespace after pausing.
    let objects: Vec<Arc<Object>> = sim.mgmt[from]
        .api
        .store
        .objects()
        .iter()
        .filter(|o| &*o.meta.namespace == ns && o.kind.info().namespaced && o.kind != Kind::Event)
        .cloned()
        .collect();
    let order = move_order(&objects);
    // The namespace in the target.
    if ns != "default" && sim.mgmt[to].api.store.get(&ObjKey::new(Kind::Namespace, "", ns)).is_none() {
        sim.create(to, Object::new(Kind::Namespace, "", ns), false).map_err(|e| e.message)?;
    }
    let mut new_uids: BTreeMap<String, Arc<str>> = BTreeMap::new();
    let mut created = 0;
    for o in &order {
        let mut n = (**o).clone();
        n.meta.resource_version = 0;
        n.meta.deletion_ms = None;
        n.meta.owner_references = o
            .meta
            .owner_references
            .iter()
            .filter_map(|r| new_uids.get(&*r.uid).map(|u| crate::object::OwnerRef { uid: u.clone(), ..r.clone() }))
            .collect();
        n.meta.uid = "".into();
        let id = format!("\"{}, Kind={}\" {}/{}", o.kind.api_version(), o.kind.name(), o.namespace(), o.name());
        let w = match sim.create(to, n.clone(), false) {
            Ok(w) => w,
            // createTargetObject: an object that already exists in the target is updated.
            Err(e) if e.is_already_exists() => {
                let cur = sim.mgmt[to].api.store.get(&o.key()).cloned().ok_or_else(|| format!("error reading {id}: {}", e.message))?;
                let mut upd = n;
                upd.meta.uid = cur.meta.uid.clone();
                upd.meta.resource_version = cur.meta.resource_version;
                sim.update(to, upd, Subresource::Main, None, false).map_err(|e| format!("error updating {id}: {}", e.message))?
            }
            Err(e) => return Err(format!("error creating {id}: {}", e.message)),
        };
        new_uids.insert(o.meta.uid.to_string(), w.object.meta.uid.clone());
        created += 1;
    }
    // Delete from the source, dependents first.
    for o in order.iter().rev() {
        let key = o.key();
        let Some(cur) = sim.mgmt[from].api.store.get(&key).cloned() else { continue };
        let mut marked = (*cur).clone();
        marked.meta.annotations.insert(keys::DELETE_FOR_MOVE.into(), String::new());
        let _ = sim.update(from, marked, Subresource::Main, None, false);
        let _ = sim.delete(from, &key, Propagation::Background);
        if let Some(cur) = sim.mgmt[from].api.store.get(&key).cloned() {
            let mut bare = (*cur).clone();
            bare.meta.finalizers.clear();
            let _ = sim.update(from, bare, Subresource::Main, None, false);
        }
    }
    // Unpause in the target: ClusterClasses first, then the Clusters.
    for k in classes {
        let _ = sim.patch(
            to,
            k,
            &Patch::Json(json!([{"op": "remove", "path": format!("/metadata/annotations/{}", keys::PAUSED.replace('/', "~1"))}])),
            Subresource::Main,
        );
    }
    for c in clusters {
        sim.patch(to, &c.key(), &Patch::Merge(json!({"spec": {"paused": null}})), Subresource::Main)
            .map_err(|e| format!("error setting Cluster.Spec.Paused=false: {}", e.message))?;
    }
    let (fname, tname) = (sim.mgmt[from].name.clone(), sim.mgmt[to].name.clone());
    sim.record("clusterctl", format_args!("moved {created} objects of namespace {ns} from {fname} to {tname}"));
    Ok(format!("moved {created} objects ({} clusters) of namespace {ns} from {fname} to {tname}", clusters.len()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::OwnerRef;

    #[test]
    fn owners_come_before_their_dependents() {
        let mut cluster = Object::new(Kind::Cluster, "default", "c");
        cluster.meta.uid = "u-c".into();
        let mut kcp = Object::new(Kind::KubeadmControlPlane, "default", "k");
        kcp.meta.uid = "u-k".into();
        kcp.meta.owner_references.push(OwnerRef::to(&cluster, true));
        let mut m = Object::new(Kind::Machine, "default", "a-machine");
        m.meta.uid = "u-m".into();
        m.meta.owner_references.push(OwnerRef::to(&kcp, true));
        let mut cc = Object::new(Kind::ClusterClass, "default", "z-class");
        cc.meta.uid = "u-cc".into();
        let order = move_order(&[Arc::new(m), Arc::new(kcp), Arc::new(cluster), Arc::new(cc)]);
        let names: Vec<&str> = order.iter().map(|o| o.name()).collect();
        assert_eq!(names, vec!["z-class", "c", "k", "a-machine"]);
    }
}

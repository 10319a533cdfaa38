//! `clusterctl move`: pause the Clusters (and ClusterClasses) of a namespace in the source management
//! cluster, re-create every object of the namespace in the target in owner-first order (new uids,
//! owner references rebuilt, status left to the target's controllers), delete them from the source
//! (annotated `delete-for-move`, finalizers stripped), then unpause in the target.
//! Source: `cmd/clusterctl/client/cluster/{mover.go,objectgraph.go}`.
//!
//! Simplification: every namespaced object of the namespace is moved (clusterctl discovers the set
//! from provider CRDs, owner references and the `<cluster>-*` Secrets; in a namespace holding only
//! CAPI clusters this is the same set).

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

/// Move the Cluster API objects of a namespace from management cluster `from` to `to`.
pub fn move_objects(sim: &mut Sim, from: usize, to: usize, ns: &str) -> Result<String, String> {
    if from == to {
        return Err("the source and the target management cluster are the same".into());
    }
    let store = &sim.mgmt[from].api.store;
    let clusters: Vec<Arc<Object>> = store.objects().of_kind(Kind::Cluster, Some(ns)).cloned().collect();
    if clusters.is_empty() {
        return Err(format!("no Cluster in namespace {ns} to move"));
    }
    // Preconditions (`checkProvisioningCompleted`): infrastructure ready, control plane initialized,
    // every Machine with a Node; nothing paused already.
    for c in &clusters {
        if !c.bool_at("/status/initialization/infrastructureProvisioned") {
            return Err(format!("cannot start the move operation while {} is still provisioning the infrastructure", c.name()));
        }
        if c.at("/spec/controlPlaneRef").is_some() && !conditions::is_true(c, "ControlPlaneInitialized") {
            return Err(format!("cannot start the move operation while the control plane for {} is not yet initialized", c.name()));
        }
        if c.bool_at("/spec/paused") {
            return Err(format!("cannot start the move operation while Cluster {} is paused", c.name()));
        }
    }
    for m in store.objects().of_kind(Kind::Machine, Some(ns)) {
        if m.at("/status/nodeRef").is_none() {
            return Err(format!("cannot start the move operation while Machine {} is still provisioning the node", m.name()));
        }
    }
    // Pause the source.
    for c in &clusters {
        sim.patch(from, &c.key(), &Patch::Merge(json!({"spec": {"paused": true}})), Subresource::Main).map_err(|e| e.message)?;
    }
    let classes: Vec<ObjKey> = sim.mgmt[from].api.store.objects().of_kind(Kind::ClusterClass, Some(ns)).map(|c| c.key()).collect();
    for k in &classes {
        sim.patch(from, k, &Patch::Merge(json!({"metadata": {"annotations": {keys::PAUSED: ""}}})), Subresource::Main)
            .map_err(|e| e.message)?;
    }
    // clusterctl waits while anything carries the block-move annotation (backoff from 5s).
    let mut waited = 0;
    loop {
        let blocked = sim.mgmt[from]
            .api
            .store
            .objects()
            .iter()
            .any(|o| &*o.meta.namespace == ns && o.meta.annotations.contains_key(keys::BLOCK_MOVE));
        if !blocked || waited >= 10 {
            break;
        }
        let t = sim.now() + 5_000;
        sim.run_until(t);
        waited += 1;
    }
    let t = sim.now() + 2_000;
    sim.run_until(t);
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
        let w = sim.create(to, n, false).map_err(|e| format!("error creating {} in the target: {}", o.key(), e.message))?;
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
    for k in &classes {
        let _ = sim.patch(
            to,
            k,
            &Patch::Json(json!([{"op": "remove", "path": format!("/metadata/annotations/{}", keys::PAUSED.replace('/', "~1"))}])),
            Subresource::Main,
        );
    }
    for c in &clusters {
        sim.patch(to, &c.key(), &Patch::Merge(json!({"spec": {"paused": null}})), Subresource::Main).map_err(|e| e.message)?;
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

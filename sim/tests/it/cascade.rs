//! Deletion propagation through the engine (the garbage collector runs as simulated work):
//! background cascade, foreground cascade waiting for blocking dependents, orphaning.

use capi_scenarios::model::Propagation;
use capi_sim::kinds::Kind;
use capi_sim::object::{ObjKey, Object, OwnerRef};
use capi_sim::testing::{self, get, run_for};
use serde_json::json;

fn configmap(sim: &mut capi_sim::Sim, name: &str, owner: Option<&Object>, block: bool, finalizer: Option<&str>) -> Object {
    let mut o = Object::new(Kind::ConfigMap, "default", name);
    o.set("/data/x", json!("1"));
    if let Some(owner) = owner {
        let mut r = OwnerRef::to(owner, false);
        r.block_owner_deletion = block;
        o.meta.owner_references.push(r);
    }
    if let Some(f) = finalizer {
        o.meta.finalizers.push(f.into());
    }
    (*sim.create(0, o, false).unwrap().object).clone()
}

fn key(name: &str) -> ObjKey {
    ObjKey::new(Kind::ConfigMap, "default", name)
}

#[test]
fn background_deletion_removes_dependents_after_the_owner() {
    let mut sim = testing::sim(1);
    let owner = configmap(&mut sim, "owner", None, false, None);
    let child = configmap(&mut sim, "child", Some(&owner), false, None);
    let _grandchild = configmap(&mut sim, "grandchild", Some(&child), false, None);
    sim.delete(0, &key("owner"), Propagation::Background).unwrap();
    assert!(get(&sim, Kind::ConfigMap, "default", "owner").is_none(), "the owner goes at once");
    assert!(get(&sim, Kind::ConfigMap, "default", "child").is_some(), "dependents go later, by the GC");
    run_for(&mut sim, 5_000);
    assert!(get(&sim, Kind::ConfigMap, "default", "child").is_none());
    assert!(get(&sim, Kind::ConfigMap, "default", "grandchild").is_none());
}

#[test]
fn foreground_deletion_waits_for_blocking_dependents() {
    let mut sim = testing::sim(1);
    let owner = configmap(&mut sim, "owner", None, false, None);
    configmap(&mut sim, "blocker", Some(&owner), true, Some("example.com/hold"));
    sim.delete(0, &key("owner"), Propagation::Foreground).unwrap();
    run_for(&mut sim, 5_000);
    let o = get(&sim, Kind::ConfigMap, "default", "owner").expect("owner waits for its blocking dependent");
    assert!(o.has_finalizer("foregroundDeletion"));
    let b = get(&sim, Kind::ConfigMap, "default", "blocker").unwrap();
    assert!(b.deleting(), "the GC deleted the dependent");
    let mut released = (*b).clone();
    released.meta.finalizers.clear();
    sim.update(0, released, capi_sim::store::Subresource::Main, None, false).unwrap();
    run_for(&mut sim, 5_000);
    assert!(get(&sim, Kind::ConfigMap, "default", "owner").is_none(), "the owner goes once nothing blocks it");
}

#[test]
fn orphan_deletion_keeps_dependents_without_the_owner_reference() {
    let mut sim = testing::sim(1);
    let owner = configmap(&mut sim, "owner", None, false, None);
    configmap(&mut sim, "child", Some(&owner), false, None);
    sim.delete(0, &key("owner"), Propagation::Orphan).unwrap();
    run_for(&mut sim, 5_000);
    assert!(get(&sim, Kind::ConfigMap, "default", "owner").is_none());
    let c = get(&sim, Kind::ConfigMap, "default", "child").expect("orphaned, not deleted");
    assert!(c.meta.owner_references.is_empty());
}

#[test]
fn a_dependent_with_another_live_owner_survives() {
    let mut sim = testing::sim(1);
    let a = configmap(&mut sim, "a", None, false, None);
    let b = configmap(&mut sim, "b", None, false, None);
    let mut shared = Object::new(Kind::ConfigMap, "default", "shared");
    shared.meta.owner_references.push(OwnerRef::to(&a, false));
    shared.meta.owner_references.push(OwnerRef::to(&b, false));
    sim.create(0, shared, false).unwrap();
    sim.delete(0, &key("a"), Propagation::Background).unwrap();
    run_for(&mut sim, 5_000);
    let s = get(&sim, Kind::ConfigMap, "default", "shared").expect("b still owns it");
    assert_eq!(s.meta.owner_references.len(), 1, "the dangling reference is removed");
}

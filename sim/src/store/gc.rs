//! The garbage collector and namespace controller of the simulated API server, run by the engine as
//! ordinary simulated work: dependents of a removed owner are deleted (background), foreground
//! deletion waits for `blockOwnerDeletion` dependents, orphan deletion strips owner references, and
//! a deleted Namespace is emptied before it goes. Follows kube-controller-manager's garbagecollector
//! (`classifyReferences`: solid, dangling, waitingForDependentsDeletion).

use super::api::{ApiServer, WriteOptions};
use super::{Change, ChangeKind, Subresource, FOREGROUND_FINALIZER, ORPHAN_FINALIZER};
use crate::kinds::Kind;
use crate::object::{ObjKey, Object};
use capi_scenarios::model::Propagation;
use std::sync::Arc;

/// A unit of garbage-collection work.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum GcWork {
    /// Look at the dependents of the owner with this uid.
    Dependents(Arc<str>),
    /// Re-check a foreground-deleting owner: drop `foregroundDeletion` once nothing blocks it.
    Owner(ObjKey),
    /// Empty a terminating namespace, then let it go.
    Namespace(Arc<str>),
}

/// Work a committed change calls for.
pub fn triggers(change: &Change, api: &ApiServer, out: &mut Vec<GcWork>) {
    let store = &api.store;
    let obj = &change.object;
    match change.kind {
        ChangeKind::Deleted => {
            if store.objects().owned_by(&obj.meta.uid).next().is_some() {
                out.push(GcWork::Dependents(obj.meta.uid.clone()));
            }
            for r in &obj.meta.owner_references {
                if let Some(owner) = store.objects().by_uid(&r.uid) {
                    if owner.deleting() && owner.has_finalizer(FOREGROUND_FINALIZER) {
                        out.push(GcWork::Owner(owner.key()));
                    }
                }
            }
            if !obj.meta.namespace.is_empty() {
                if let Some(ns) = store.objects().get_parts(Kind::Namespace, "", &obj.meta.namespace) {
                    if ns.deleting() {
                        out.push(GcWork::Namespace(obj.meta.namespace.clone()));
                    }
                }
            }
        }
        ChangeKind::Added | ChangeKind::Modified => {
            let was = |f: &str| change.old.as_ref().is_some_and(|o| o.deleting() && o.has_finalizer(f));
            if obj.deleting() {
                if obj.has_finalizer(FOREGROUND_FINALIZER) && !was(FOREGROUND_FINALIZER) {
                    out.push(GcWork::Dependents(obj.meta.uid.clone()));
                    out.push(GcWork::Owner(obj.key()));
                }
                if obj.has_finalizer(ORPHAN_FINALIZER) && !was(ORPHAN_FINALIZER) {
                    out.push(GcWork::Dependents(obj.meta.uid.clone()));
                }
                if obj.kind == Kind::Namespace && obj.has_finalizer("kubernetes") && !was("kubernetes") {
                    out.push(GcWork::Namespace(obj.meta.name.clone()));
                }
            }
        }
    }
}

/// Do one unit of work; returns follow-up work and a note for the trace.
pub fn process(api: &mut ApiServer, work: &GcWork, now: u64) -> (Vec<GcWork>, Vec<String>) {
    let opts = WriteOptions::at(now);
    let mut follow = Vec::new();
    let mut notes = Vec::new();
    match work {
        GcWork::Dependents(uid) => {
            let owner = api.store.objects().by_uid(uid).cloned();
            let dependents: Vec<Arc<Object>> = api.store.objects().owned_by(uid).cloned().collect();
            match owner {
                Some(o) if o.deleting() && o.has_finalizer(ORPHAN_FINALIZER) => {
                    for d in dependents {
                        let mut n = (*d).clone();
                        n.meta.owner_references.retain(|r| &r.uid != uid);
                        if api.update(n, Subresource::Main, None, opts).is_ok() {
                            notes.push(format!("orphaned {}", d.key()));
                        }
                    }
                    let mut n = (*o).clone();
                    n.meta.finalizers.retain(|f| f != ORPHAN_FINALIZER);
                    if api.update(n, Subresource::Main, None, opts).is_ok() {
                        notes.push(format!("removed finalizer orphan from {}", o.key()));
                    }
                }
                Some(o) if o.deleting() && o.has_finalizer(FOREGROUND_FINALIZER) => {
                    for d in dependents.iter().filter(|d| !d.deleting()) {
                        let policy = if api.store.objects().owned_by(&d.meta.uid).next().is_some() {
                            Propagation::Foreground
                        } else {
                            Propagation::Background
                        };
                        if api.delete(&d.key(), policy, opts).is_ok() {
                            notes.push(format!("deleted dependent {} ({policy:?})", d.key()));
                        }
                    }
                    follow.push(GcWork::Owner(o.key()));
                }
                Some(_) => {}
                None => {
                    for d in dependents {
                        attempt_to_delete(api, &d, opts, &mut notes);
                    }
                }
            }
        }
        GcWork::Owner(key) => {
            if let Some(o) = api.store.get(key).cloned() {
                if o.deleting() && o.has_finalizer(FOREGROUND_FINALIZER) {
                    let blocked = api
                        .store
                        .objects()
                        .owned_by(&o.meta.uid)
                        .any(|d| d.meta.owner_references.iter().any(|r| r.uid == o.meta.uid && r.block_owner_deletion));
                    if !blocked {
                        let mut n = (*o).clone();
                        n.meta.finalizers.retain(|f| f != FOREGROUND_FINALIZER);
                        if api.update(n, Subresource::Main, None, opts).is_ok() {
                            notes.push(format!("removed finalizer foregroundDeletion from {key}"));
                        }
                    }
                }
            }
        }
        GcWork::Namespace(ns) => {
            let Some(nso) = api.store.objects().get_parts(Kind::Namespace, "", ns).cloned() else {
                return (follow, notes);
            };
            if !nso.deleting() {
                return (follow, notes);
            }
            let keys: Vec<ObjKey> = Kind::all()
                .filter(|k| k.info().namespaced)
                .flat_map(|k| api.store.objects().of_kind(k, Some(ns)).map(|o| o.key()).collect::<Vec<_>>())
                .collect();
            for k in &keys {
                let deleting = api.store.get(k).is_some_and(|o| o.deleting());
                if !deleting && api.delete(k, Propagation::Background, opts).is_ok() {
                    notes.push(format!("namespace {ns} terminating: deleted {k}"));
                }
            }
            if !api.store.namespace_has_objects(ns) {
                let mut n = (*nso).clone();
                n.meta.finalizers.retain(|f| f != "kubernetes");
                if api.update(n, Subresource::Main, None, opts).is_ok() {
                    notes.push(format!("namespace {ns} emptied"));
                }
            }
        }
    }
    (follow, notes)
}

/// `attemptToDeleteItem` for a dependent whose owner is gone.
fn attempt_to_delete(api: &mut ApiServer, dep: &Arc<Object>, opts: WriteOptions, notes: &mut Vec<String>) {
    let Some(dep) = api.store.get(&dep.key()).cloned() else { return };
    if dep.deleting() {
        return;
    }
    let mut solid = 0;
    let mut dangling = Vec::new();
    let mut waiting = 0;
    for r in &dep.meta.owner_references {
        match api.store.objects().by_uid(&r.uid) {
            None => dangling.push(r.uid.clone()),
            Some(o) if o.deleting() && o.has_finalizer(FOREGROUND_FINALIZER) => waiting += 1,
            Some(_) => solid += 1,
        }
    }
    if solid > 0 {
        if !dangling.is_empty() {
            let mut n = (*dep).clone();
            n.meta.owner_references.retain(|r| !dangling.contains(&r.uid));
            if api.update(n, Subresource::Main, None, opts).is_ok() {
                notes.push(format!("removed dangling owner references from {}", dep.key()));
            }
        }
        return;
    }
    let has_dependents = api.store.objects().owned_by(&dep.meta.uid).next().is_some();
    let policy = if waiting > 0 && has_dependents { Propagation::Foreground } else { Propagation::Background };
    if api.delete(&dep.key(), policy, opts).is_ok() {
        notes.push(format!("deleted {} (owner gone)", dep.key()));
    }
}

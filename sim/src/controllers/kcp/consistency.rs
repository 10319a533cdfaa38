//! CAPI's guard against acting on a cache that has not yet seen the controller's own writes
//! (`DeferNextReconcileUntilCacheUpToDate` and the consistency store of the reconciler wrapper): after
//! KCP creates or deletes a Machine, the next reconcile of that KCP is requeued (100ms) until the
//! informer cache shows the write. Without it a reconcile woken by another event within one watch
//! delay would see the old Machine list and, for example, create a second Machine.
//! Sources: `util/controller/{controller.go,consistency.go}`, `controlplane/kubeadm/reconcilers/kubeadmcontrolplane/{helpers.go,scale.go,remediation.go}`.
//!
//! Simplification: CAPI compares resourceVersions of the informer; here each expected write is
//! checked on the object itself (a created Machine is in the cache, or already gone from the API; a
//! deleted Machine is gone from the cache or shows its deletionTimestamp). The record lives in the
//! controller's memory, as in CAPI, and like CAPI's it is not persisted anywhere.

use crate::object::ObjKey;
use crate::objectset::ObjectSet;
use std::collections::BTreeMap;
use std::sync::Arc;

/// `requeueDurationStaleCache`.
pub const STALE_CACHE_REQUEUE_MS: u64 = 100;

/// A write the cache has to show before the next reconcile.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Wrote {
    /// A Machine was created.
    Created(ObjKey),
    /// A Machine was deleted.
    Deleted(ObjKey),
}

/// Expected writes per reconciled object (keyed by its key and uid).
#[derive(Default, Debug)]
pub struct ConsistencyStore {
    writes: BTreeMap<ObjKey, (Arc<str>, Vec<Wrote>)>,
}

impl ConsistencyStore {
    /// Record writes made while reconciling `owner`.
    pub fn wrote(&mut self, owner: &ObjKey, uid: &Arc<str>, writes: Vec<Wrote>) {
        if writes.is_empty() {
            return;
        }
        let e = self.writes.entry(owner.clone()).or_insert_with(|| (uid.clone(), Vec::new()));
        if e.0 != *uid {
            *e = (uid.clone(), Vec::new());
        }
        e.1.extend(writes);
    }

    /// Forget an owner (deleted, or a new object with the same name).
    pub fn clear(&mut self, owner: &ObjKey) {
        self.writes.remove(owner);
    }

    /// Whether the cache shows every recorded write for `owner` (satisfied ones are dropped);
    /// `exists` is an uncached read, so that a Machine deleted right after its creation does not
    /// block forever.
    pub fn ready(&mut self, owner: &ObjKey, uid: &Arc<str>, cache: &ObjectSet, exists: impl Fn(&ObjKey) -> bool) -> bool {
        let Some(e) = self.writes.get_mut(owner) else { return true };
        if e.0 != *uid {
            self.writes.remove(owner);
            return true;
        }
        e.1.retain(|w| match w {
            Wrote::Created(k) => cache.get(k).is_none() && exists(k),
            Wrote::Deleted(k) => cache.get(k).is_some_and(|o| !o.deleting()),
        });
        let ready = e.1.is_empty();
        if ready {
            self.writes.remove(owner);
        }
        ready
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::Kind;
    use crate::object::Object;

    #[test]
    fn waits_until_the_cache_shows_the_write() {
        let owner = ObjKey::new(Kind::KubeadmControlPlane, "default", "cp");
        let uid: Arc<str> = "u1".into();
        let m = ObjKey::new(Kind::Machine, "default", "m1");
        let mut store = ConsistencyStore::default();
        store.wrote(&owner, &uid, vec![Wrote::Created(m.clone())]);
        let exists = |_: &ObjKey| true;
        let mut obj = Object::new(Kind::Machine, "default", "m1");
        obj.meta.uid = "um".into();
        let mut cache = ObjectSet::default();
        assert!(!store.ready(&owner, &uid, &cache, exists));
        // Gone from the API before the cache saw it: nothing to wait for.
        assert!(store.ready(&owner, &uid, &cache, |_: &ObjKey| false));
        store.wrote(&owner, &uid, vec![Wrote::Created(m.clone())]);
        cache.insert(Arc::new(obj.clone()));
        assert!(store.ready(&owner, &uid, &cache, exists));
        // A deletion is seen once the cached Machine is deleting (or gone).
        store.wrote(&owner, &uid, vec![Wrote::Deleted(m.clone())]);
        assert!(!store.ready(&owner, &uid, &cache, exists));
        obj.meta.deletion_ms = Some(5);
        cache.insert(Arc::new(obj));
        assert!(store.ready(&owner, &uid, &cache, exists));
        // Another uid (the KCP was recreated) starts fresh.
        store.wrote(&owner, &uid, vec![Wrote::Deleted(ObjKey::new(Kind::Machine, "default", "x"))]);
        assert!(store.ready(&owner, &"u2".into(), &cache, exists));
    }
}

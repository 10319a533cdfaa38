//! CAPI's cache-consistency guard (`DeferNextReconcileUntilCacheUpToDate`): after a controller creates
//! or deletes objects it remembers the resourceVersions it wrote, and the next reconcile of the same
//! owner waits (requeue 100ms) until the informer cache has caught up with them, so a stale cache never
//! makes the MachineDeployment create a second MachineSet or the MachineSet a second batch of Machines.
//! Source: `util/controller/consistency.go`, `util/controller/controller.go`.
//!
//! The informer's "last synced resourceVersion" of a kind is approximated by the highest
//! resourceVersion among cached objects of that kind (watch events are delivered in order, so seeing a
//! later write of the kind means the earlier one was seen). Watch bookmarks, which make the real value
//! advance even when nothing of the kind changes, are approximated by giving up after
//! [`GIVE_UP_AFTER_MS`]. The memory is the controller process's: it lives in the reconciler.

use crate::kinds::Kind;
use crate::object::{ObjKey, Object};
use crate::objectset::ObjectSet;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::Arc;

/// `requeueDurationStaleCache`.
pub const STALE_CACHE_REQUEUE_MS: u64 = 100;
/// After this long a record is dropped even if the cache never showed a newer resourceVersion.
pub const GIVE_UP_AFTER_MS: u64 = 30_000;

#[derive(Default)]
struct Record {
    uid: Arc<str>,
    /// Per kind: (highest resourceVersion written, when).
    written: BTreeMap<Kind, (u64, u64)>,
}

/// Written resourceVersions per owner.
#[derive(Default)]
pub struct Guard {
    records: RefCell<BTreeMap<ObjKey, Record>>,
}

impl Guard {
    /// Remember that reconciling `owner` wrote an object of `kind` at `rv`.
    pub fn wrote(&self, owner: &Object, kind: Kind, rv: u64, now: u64) {
        let mut records = self.records.borrow_mut();
        let r = records.entry(owner.key()).or_default();
        if r.uid != owner.meta.uid {
            *r = Record { uid: owner.meta.uid.clone(), written: BTreeMap::new() };
        }
        let e = r.written.entry(kind).or_insert((0, now));
        if rv > e.0 {
            *e = (rv, now);
        }
    }

    /// Whether the cache has caught up with everything written for `owner` (the record is dropped
    /// when it has).
    pub fn ready(&self, cache: &ObjectSet, owner: &Object, now: u64) -> bool {
        let mut records = self.records.borrow_mut();
        let key = owner.key();
        let Some(r) = records.get_mut(&key) else { return true };
        if r.uid != owner.meta.uid {
            records.remove(&key);
            return true;
        }
        r.written.retain(|kind, (rv, at)| {
            let seen = cache.seen_resource_version(*kind);
            seen < *rv && now.saturating_sub(*at) < GIVE_UP_AFTER_MS
        });
        if r.written.is_empty() {
            records.remove(&key);
            true
        } else {
            false
        }
    }

    /// Forget an owner (it is gone).
    pub fn clear(&self, owner: &ObjKey) {
        self.records.borrow_mut().remove(owner);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(kind: Kind, name: &str, rv: u64) -> Arc<Object> {
        let mut o = Object::new(kind, "default", name);
        o.meta.uid = format!("u-{name}").into();
        o.meta.resource_version = rv;
        Arc::new(o)
    }

    #[test]
    fn waits_until_the_cache_shows_the_write() {
        let g = Guard::default();
        let ms = obj(Kind::MachineSet, "ms", 5);
        let mut cache = ObjectSet::default();
        cache.insert(obj(Kind::Machine, "old", 3));
        g.wrote(&ms, Kind::Machine, 7, 1000);
        assert!(!g.ready(&cache, &ms, 1001));
        cache.insert(obj(Kind::Machine, "new", 7));
        assert!(g.ready(&cache, &ms, 1002));
        // Dropped once ready.
        cache.remove(&ObjKey::new(Kind::Machine, "default", "new"));
        assert!(g.ready(&cache, &ms, 1003));
    }

    #[test]
    fn gives_up_eventually() {
        let g = Guard::default();
        let ms = obj(Kind::MachineSet, "ms", 5);
        g.wrote(&ms, Kind::Machine, 7, 0);
        let cache = ObjectSet::default();
        assert!(!g.ready(&cache, &ms, GIVE_UP_AFTER_MS - 1));
        assert!(g.ready(&cache, &ms, GIVE_UP_AFTER_MS));
    }
}

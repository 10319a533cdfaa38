//! An indexed set of objects, used both by the API store and by every informer cache, so that the
//! lookups controllers make (by owner, by cluster, by kind) never scan the whole set.

use crate::kinds::Kind;
use crate::object::{shared_namespace, ObjKey, Object};
use capi_scenarios::LabelSelector;
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;
use std::sync::Arc;

/// The label CAPI sets on every object of a cluster.
pub const CLUSTER_NAME_LABEL: &str = "cluster.x-k8s.io/cluster-name";

/// Objects by key, with secondary indexes.
///
/// The owner and cluster indexes are flat sets of (hash of the owner uid or cluster name, key)
/// rather than a set per owner or cluster: most owners have one to three dependents, and a B-tree
/// allocates a whole node (about 500 bytes) even for one key. A lookup reads the range of its hash
/// and keeps the objects that really name the owner or cluster, so a hash collision costs a filtered
/// entry, never a wrong answer; within one owner or cluster the order is the key order, as before.
#[derive(Default, Clone)]
pub struct ObjectSet {
    objects: BTreeMap<ObjKey, Arc<Object>>,
    /// Set in informer caches, which keep no `by_uid`: only the store's set is looked up by uid (the
    /// garbage collector and the invariants); controllers look up by key, owner and cluster.
    without_uid_index: bool,
    by_uid: BTreeMap<Arc<str>, ObjKey>,
    by_owner: BTreeSet<(u64, ObjKey)>,
    by_cluster: BTreeSet<(Kind, u64, ObjKey)>,
    /// The highest resourceVersion seen per kind (inserts and removals), i.e. how far this set has
    /// observed each kind's watch stream.
    seen_rv: BTreeMap<Kind, u64>,
}

impl ObjectSet {
    /// A set for an informer cache: no uid index (a lookup by uid scans, correct but slow).
    pub fn cache() -> Self {
        ObjectSet { without_uid_index: true, ..Default::default() }
    }

    /// Number of objects.
    pub fn len(&self) -> usize {
        self.objects.len()
    }

    /// Whether empty.
    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }

    /// The highest resourceVersion observed for a kind.
    pub fn seen_resource_version(&self, kind: Kind) -> u64 {
        self.seen_rv.get(&kind).copied().unwrap_or(0)
    }

    fn observe_rv(&mut self, kind: Kind, rv: u64) {
        let e = self.seen_rv.entry(kind).or_insert(0);
        *e = (*e).max(rv);
    }

    /// Insert or replace; returns the previous version.
    pub fn insert(&mut self, obj: Arc<Object>) -> Option<Arc<Object>> {
        let key = obj.key();
        self.observe_rv(key.kind, obj.meta.resource_version);
        let old = self.objects.insert(key.clone(), obj.clone());
        if let Some(o) = &old {
            self.unindex(&key, o);
        }
        self.index(&key, &obj);
        old
    }

    /// Remove an object (a watch DELETED event carrying the final resourceVersion).
    pub fn remove_observed(&mut self, obj: &Object) -> Option<Arc<Object>> {
        self.observe_rv(obj.kind, obj.meta.resource_version);
        self.remove(&obj.key())
    }

    /// Remove by key; returns the removed object.
    pub fn remove(&mut self, key: &ObjKey) -> Option<Arc<Object>> {
        let old = self.objects.remove(key)?;
        self.unindex(key, &old);
        Some(old)
    }

    fn index(&mut self, key: &ObjKey, obj: &Object) {
        if !obj.meta.uid.is_empty() && !self.without_uid_index {
            self.by_uid.insert(obj.meta.uid.clone(), key.clone());
        }
        for o in &obj.meta.owner_references {
            self.by_owner.insert((hash(&o.uid), key.clone()));
        }
        if let Some(c) = cluster_key(obj) {
            self.by_cluster.insert((key.kind, hash(c), key.clone()));
        }
    }

    fn unindex(&mut self, key: &ObjKey, obj: &Object) {
        if !obj.meta.uid.is_empty() && self.by_uid.get(&obj.meta.uid) == Some(key) {
            self.by_uid.remove(&obj.meta.uid);
        }
        // Entries are removed by value: two owner references with the same uid (or uids with the
        // same hash) share one entry, and removing it twice is harmless.
        for o in &obj.meta.owner_references {
            self.by_owner.remove(&(hash(&o.uid), key.clone()));
        }
        if let Some(c) = cluster_key(obj) {
            self.by_cluster.remove(&(key.kind, hash(c), key.clone()));
        }
    }

    /// One object.
    pub fn get(&self, key: &ObjKey) -> Option<&Arc<Object>> {
        self.objects.get(key)
    }

    /// One object by parts.
    pub fn get_parts(&self, kind: Kind, ns: &str, name: &str) -> Option<&Arc<Object>> {
        self.objects.get(&ObjKey::new(kind, ns, name))
    }

    /// One object by uid (a scan in an informer cache's set, see [`ObjectSet::cache`]).
    pub fn by_uid(&self, uid: &str) -> Option<&Arc<Object>> {
        if self.without_uid_index {
            return self.objects.values().find(|o| &*o.meta.uid == uid);
        }
        self.by_uid.get(uid).and_then(|k| self.objects.get(k))
    }

    /// Every object, in key order.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<Object>> {
        self.objects.values()
    }

    /// Objects of a kind (in one namespace, or all), in key order.
    pub fn of_kind<'a>(&'a self, kind: Kind, ns: Option<&str>) -> impl Iterator<Item = &'a Arc<Object>> + 'a {
        let (lo, hi) = match ns {
            Some(ns) => (
                Bound::Included(ObjKey { kind, ns: shared_namespace(ns), name: "".into() }),
                Bound::Excluded(ObjKey { kind, ns: format!("{ns}\u{0}").into(), name: "".into() }),
            ),
            None => (
                Bound::Included(ObjKey { kind, ns: "".into(), name: "".into() }),
                match next_kind(kind) {
                    Some(k) => Bound::Excluded(ObjKey { kind: k, ns: "".into(), name: "".into() }),
                    None => Bound::Unbounded,
                },
            ),
        };
        self.objects.range((lo, hi)).map(|(_, v)| v)
    }

    /// Objects that list `uid` among their owners.
    pub fn owned_by<'a, 'u>(&'a self, uid: &'u str) -> impl Iterator<Item = &'a Arc<Object>> + use<'a, 'u> {
        let h = hash(uid);
        self.by_owner
            .range((h, ObjKey::min())..)
            .take_while(move |(x, _)| *x == h)
            .filter_map(move |(_, k)| self.objects.get(k))
            .filter(move |o| o.meta.owner_references.iter().any(|r| &*r.uid == uid))
    }

    /// Objects of a kind carrying `cluster.x-k8s.io/cluster-name=<cluster>` (any namespace); for the
    /// Cluster kind, the Clusters of that name.
    pub fn in_cluster<'a, 'c>(&'a self, kind: Kind, cluster: &'c str) -> impl Iterator<Item = &'a Arc<Object>> + use<'a, 'c> {
        let h = hash(cluster);
        self.by_cluster
            .range((kind, h, ObjKey::min())..)
            .take_while(move |(k, x, _)| *k == kind && *x == h)
            .filter_map(move |(_, _, k)| self.objects.get(k))
            .filter(move |o| cluster_key(o) == Some(cluster))
    }

    /// Objects of a kind in a namespace of a cluster.
    pub fn in_cluster_ns<'a, 'c>(
        &'a self,
        kind: Kind,
        ns: &'c str,
        cluster: &'c str,
    ) -> impl Iterator<Item = &'a Arc<Object>> + use<'a, 'c> {
        self.in_cluster(kind, cluster).filter(move |o| &*o.meta.namespace == ns)
    }

    /// Objects of a kind matching a selector, in key order (the cluster index is used when the
    /// selector names a cluster).
    pub fn select(&self, kind: Kind, ns: Option<&str>, sel: &LabelSelector) -> Vec<&Arc<Object>> {
        let matches = |o: &&Arc<Object>| ns.is_none_or(|n| &*o.meta.namespace == n) && sel.matches(|k| o.label(k));
        match sel.match_labels.get(CLUSTER_NAME_LABEL) {
            Some(c) => {
                let mut v: Vec<&Arc<Object>> = self.in_cluster(kind, c).filter(matches).collect();
                v.sort_by_key(|a| a.key());
                v
            }
            None => self.of_kind(kind, ns).filter(matches).collect(),
        }
    }
}

/// The cluster an object is indexed under: a Cluster under its own name, anything else under its
/// cluster-name label.
fn cluster_key(obj: &Object) -> Option<&str> {
    if obj.kind == Kind::Cluster {
        Some(obj.name())
    } else {
        obj.label(CLUSTER_NAME_LABEL)
    }
}

/// The index hash of an owner uid or a cluster name (XXH3: stable across runs and platforms, so the
/// index's layout never depends on the process).
fn hash(s: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64(s.as_bytes())
}

fn next_kind(k: Kind) -> Option<Kind> {
    Kind::all().find(|x| (*x as usize) == (k as usize) + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::OwnerRef;

    fn obj(kind: Kind, ns: &str, name: &str, uid: &str) -> Object {
        let mut o = Object::new(kind, ns, name);
        o.meta.uid = uid.into();
        o
    }

    #[test]
    fn indexes_follow_updates() {
        let mut set = ObjectSet::default();
        let owner = obj(Kind::MachineSet, "default", "ms", "u-ms");
        let mut m = obj(Kind::Machine, "default", "m1", "u-m1");
        m.meta.labels.insert(CLUSTER_NAME_LABEL.into(), "c1".into());
        m.meta.owner_references.push(OwnerRef::to(&owner, true));
        set.insert(Arc::new(owner));
        set.insert(Arc::new(m.clone()));
        set.insert(Arc::new(obj(Kind::Machine, "other", "m2", "u-m2")));
        assert_eq!(set.owned_by("u-ms").count(), 1);
        assert_eq!(set.in_cluster(Kind::Machine, "c1").count(), 1);
        assert_eq!(set.of_kind(Kind::Machine, None).count(), 2);
        assert_eq!(set.of_kind(Kind::Machine, Some("default")).count(), 1);
        m.meta.labels.clear();
        m.meta.owner_references.clear();
        set.insert(Arc::new(m));
        assert_eq!(set.owned_by("u-ms").count(), 0);
        assert_eq!(set.in_cluster(Kind::Machine, "c1").count(), 0);
        set.remove(&ObjKey::new(Kind::Machine, "default", "m1"));
        assert!(set.by_uid("u-m1").is_none());
    }

    #[test]
    fn an_owner_named_twice_is_one_entry_and_leaves_no_trace() {
        let mut set = ObjectSet::default();
        let owner = obj(Kind::MachineSet, "default", "ms", "u-ms");
        let mut m = obj(Kind::Machine, "default", "m1", "u-m1");
        m.meta.owner_references.push(OwnerRef::to(&owner, true));
        m.meta.owner_references.push(OwnerRef::to(&owner, false));
        set.insert(Arc::new(m.clone()));
        assert_eq!(set.owned_by("u-ms").count(), 1);
        assert_eq!(set.owned_by("u-other").count(), 0);
        set.remove(&m.key());
        assert_eq!(set.owned_by("u-ms").count(), 0);
        assert!(set.by_owner.is_empty() && set.by_cluster.is_empty() && set.by_uid.is_empty());
    }

    #[test]
    fn cluster_lookups_keep_kinds_and_clusters_apart() {
        let mut set = ObjectSet::default();
        for (kind, name, cluster) in [(Kind::Machine, "a", "c1"), (Kind::Machine, "b", "c2"), (Kind::MachineSet, "c", "c1")] {
            let mut o = obj(kind, "default", name, name);
            o.meta.labels.insert(CLUSTER_NAME_LABEL.into(), cluster.into());
            set.insert(Arc::new(o));
        }
        set.insert(Arc::new(obj(Kind::Cluster, "default", "c1", "u-c1")));
        let names = |k, c| set.in_cluster(k, c).map(|o| o.name().to_string()).collect::<Vec<_>>();
        assert_eq!(names(Kind::Machine, "c1"), ["a"]);
        assert_eq!(names(Kind::Machine, "c2"), ["b"]);
        assert_eq!(names(Kind::MachineSet, "c1"), ["c"]);
        assert_eq!(names(Kind::Cluster, "c1"), ["c1"]);
        assert!(names(Kind::Machine, "c3").is_empty());
    }

    #[test]
    fn a_cache_finds_by_uid_without_an_index() {
        let mut set = ObjectSet::cache();
        set.insert(Arc::new(obj(Kind::Machine, "default", "m1", "u-m1")));
        set.insert(Arc::new(obj(Kind::Machine, "default", "m2", "u-m2")));
        assert!(set.by_uid.is_empty());
        assert_eq!(set.by_uid("u-m2").map(|o| o.name().to_string()).as_deref(), Some("m2"));
        assert!(set.by_uid("u-m3").is_none());
    }
}

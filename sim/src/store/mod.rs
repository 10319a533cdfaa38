//! The simulated API server's storage: objects with Kubernetes write semantics (uids from the seed, a
//! global resourceVersion, generation bumped on spec change only, finalizers and deletionTimestamp,
//! status subresource) and a change log that feeds watches, informers and the garbage collector.
//!
//! Admission and patch decoding live in [`api`]; the API server's own validation (names, labels,
//! annotations, decoding, immortal namespaces) in [`validate`]; custom resources' structural
//! schemas (pruning, validation) in [`schema`]; the garbage collector in [`gc`].

pub mod api;
pub mod error;
pub mod gc;
pub mod managed;
pub mod schema;
pub mod validate;

pub use error::ApiError;

use crate::kinds::Kind;
use crate::object::{ObjKey, Object};
use crate::objectset::ObjectSet;
use capi_scenarios::model::Propagation;
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use std::sync::Arc;

/// The finalizer the API server adds for foreground cascading deletion.
pub const FOREGROUND_FINALIZER: &str = "foregroundDeletion";
/// The finalizer the API server adds for orphan deletion.
pub const ORPHAN_FINALIZER: &str = "orphan";

/// Namespaces every API server starts with.
pub const INITIAL_NAMESPACES: &[&str] = &["default", "kube-node-lease", "kube-public", "kube-system"];

/// What a watch sees.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ChangeKind {
    /// Created.
    Added,
    /// Updated (including deletionTimestamp being set).
    Modified,
    /// Gone.
    Deleted,
}

impl ChangeKind {
    /// The watch event type.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Added => "ADDED",
            ChangeKind::Modified => "MODIFIED",
            ChangeKind::Deleted => "DELETED",
        }
    }
}

/// One committed write.
#[derive(Clone, Debug)]
pub struct Change {
    /// Kind of event.
    pub kind: ChangeKind,
    /// The object after the write (the last state for `Deleted`, with a new resourceVersion).
    pub object: Arc<Object>,
    /// The object before the write.
    pub old: Option<Arc<Object>>,
}

/// Which part of an object a write targets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subresource {
    /// The object; its status is kept as stored.
    Main,
    /// `/status`: only the status changes.
    Status,
}

/// Result of a delete.
#[derive(Clone, Debug)]
pub enum Deleted {
    /// Removed at once.
    Removed(Arc<Object>),
    /// deletionTimestamp set; finalizers pending.
    Pending(Arc<Object>),
}

impl Deleted {
    /// The object.
    pub fn object(&self) -> &Arc<Object> {
        match self {
            Deleted::Removed(o) | Deleted::Pending(o) => o,
        }
    }
}

/// Object storage with API-server semantics.
pub struct Store {
    set: ObjectSet,
    rv: u64,
    uids: ChaCha8Rng,
    changes: Vec<Change>,
}

impl Store {
    /// An empty store with the initial namespaces; uids come from `uid_seed`.
    pub fn new(uid_seed: u64) -> Self {
        let mut s = Store { set: ObjectSet::default(), rv: 0, uids: ChaCha8Rng::seed_from_u64(uid_seed), changes: Vec::new() };
        for ns in INITIAL_NAMESPACES {
            let mut o = Object::new(Kind::Namespace, "", ns);
            o.set("/status/phase", serde_json::Value::String("Active".into()));
            s.create(o, 0).expect("initial namespaces");
        }
        s.changes.clear();
        s
    }

    /// The objects.
    pub fn objects(&self) -> &ObjectSet {
        &self.set
    }

    /// One object.
    pub fn get(&self, key: &ObjKey) -> Option<&Arc<Object>> {
        self.set.get(key)
    }

    /// The current resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.rv
    }

    /// Changes committed since the last call.
    pub fn take_changes(&mut self) -> Vec<Change> {
        std::mem::take(&mut self.changes)
    }

    /// Whether changes are pending.
    pub fn has_changes(&self) -> bool {
        !self.changes.is_empty()
    }

    fn new_uid(&mut self) -> Arc<str> {
        let a = self.uids.next_u64();
        let b = self.uids.next_u64();
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            (a >> 32) as u32,
            (a >> 16) as u16,
            (a & 0xfff) as u16,
            ((b >> 48) as u16 & 0x3fff) | 0x8000,
            b & 0xffff_ffff_ffff
        )
        .into()
    }

    /// A name from `generateName`: the prefix and five characters of Kubernetes' name alphabet.
    pub fn generate_name(&mut self, prefix: &str) -> String {
        let alphabet = capi_scenarios::outcome::NAME_SUFFIX_ALPHABET.as_bytes();
        let mut s = prefix.to_string();
        for _ in 0..5 {
            s.push(alphabet[(self.uids.next_u32() as usize) % alphabet.len()] as char);
        }
        s
    }

    fn check_scope(&self, obj: &Object) -> Result<(), ApiError> {
        let info = obj.kind.info();
        if info.namespaced {
            if obj.meta.namespace.is_empty() {
                return Err(ApiError::bad_request(format!("{} {} must have a namespace", obj.kind, obj.meta.name)));
            }
            if self.set.get_parts(Kind::Namespace, "", &obj.meta.namespace).is_none() {
                return Err(ApiError::namespace_not_found(&obj.meta.namespace));
            }
        } else if !obj.meta.namespace.is_empty() {
            return Err(ApiError::bad_request(format!("{} is cluster-scoped; metadata.namespace must be empty", obj.kind)));
        }
        Ok(())
    }

    /// Validate a create without committing it: returns the object as it would be stored.
    pub fn prepare_create(&mut self, mut obj: Object, now: u64) -> Result<Object, ApiError> {
        if obj.meta.name.is_empty() {
            match obj.meta.generate_name.clone() {
                Some(p) if !p.is_empty() => obj.meta.name = self.generate_name(&p).into(),
                _ => return Err(ApiError::invalid(obj.kind, "", "metadata.name: Required value: name or generateName is required")),
            }
        }
        self.check_scope(&obj)?;
        if obj.kind.info().status_subresource && obj.kind != Kind::Namespace {
            obj.body.remove("status");
        }
        validate::together(&obj, validate::create(&obj), schema::validate(&obj, None))?;
        if self.set.get(&obj.key()).is_some() {
            return Err(ApiError::already_exists(obj.kind, &obj.meta.name));
        }
        obj.meta.uid = self.new_uid();
        obj.meta.generation = 1;
        obj.meta.creation_ms = now;
        obj.meta.deletion_ms = None;
        Ok(obj)
    }

    /// Create.
    pub fn create(&mut self, obj: Object, now: u64) -> Result<Arc<Object>, ApiError> {
        let obj = self.prepare_create(obj, now)?;
        Ok(self.commit_create(obj))
    }

    /// Store an object returned by [`Store::prepare_create`].
    pub fn commit_create(&mut self, mut obj: Object) -> Arc<Object> {
        self.rv += 1;
        obj.meta.resource_version = self.rv;
        let obj = Arc::new(obj);
        self.set.insert(obj.clone());
        self.changes.push(Change { kind: ChangeKind::Added, object: obj.clone(), old: None });
        obj
    }

    /// The object an update would store, or `None` if it changes nothing.
    pub fn prepare_update(
        &self,
        obj: Object,
        sub: Subresource,
        precondition_rv: Option<u64>,
    ) -> Result<(Arc<Object>, Option<Object>), ApiError> {
        let key = obj.key();
        let cur = self.set.get(&key).ok_or_else(|| ApiError::not_found(key.kind, &key.name))?.clone();
        if let Some(rv) = precondition_rv {
            if rv != cur.meta.resource_version {
                return Err(ApiError::conflict(key.kind, &key.name));
            }
        }
        let mut new = match sub {
            Subresource::Main => {
                let mut n = obj;
                if key.kind.info().status_subresource && n.body.get("status") != cur.body.get("status") {
                    match cur.body.get("status") {
                        Some(s) => {
                            n.body.insert("status".into(), s.clone());
                        }
                        None => {
                            n.body.remove("status");
                        }
                    }
                }
                n
            }
            Subresource::Status => {
                // Only the status is written: the rest is the current object's. The written body is
                // usually the current one with a new status, so it is kept and whatever else it changed
                // is put back (nothing, as a rule), rather than copying the current body.
                let mut body = obj.body;
                if body.shares(&cur.body) {
                    return Ok((cur, None));
                }
                let restore: Vec<&String> =
                    cur.body.keys().filter(|k| *k != "status" && body.get(k.as_str()) != cur.body.get(k.as_str())).collect();
                let extra: Vec<String> = body.keys().filter(|k| *k != "status" && !cur.body.contains_key(k.as_str())).cloned().collect();
                for k in restore {
                    body.insert(k.clone(), cur.body[k.as_str()].clone());
                }
                for k in extra {
                    body.remove(&k);
                }
                Object { kind: cur.kind, meta: cur.meta.clone(), body }
            }
        };
        // Server-owned metadata.
        new.meta.uid = cur.meta.uid.clone();
        new.meta.creation_ms = cur.meta.creation_ms;
        new.meta.deletion_ms = cur.meta.deletion_ms;
        new.meta.resource_version = cur.meta.resource_version;
        new.meta.generation = cur.meta.generation;
        new.meta.generate_name = cur.meta.generate_name.clone();
        if cur.deleting() {
            let added: Vec<&String> = new.meta.finalizers.iter().filter(|f| !cur.meta.finalizers.contains(f)).collect();
            if !added.is_empty() {
                return Err(ApiError::invalid(
                    key.kind,
                    &key.name,
                    format!("metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers {added:?}"),
                ));
            }
        }
        if new == *cur {
            return Ok((cur, None));
        }
        validate::together(&new, validate::update(&new, &cur), schema::validate(&new, Some(&cur)))?;
        if sub == Subresource::Main && spec_changed(&cur, &new) {
            new.meta.generation += 1;
        }
        Ok((cur, Some(new)))
    }

    /// Update (optionally with a resourceVersion precondition). A no-op returns the stored object and
    /// commits nothing. Removing the last finalizer of a deleting object removes it.
    pub fn update(&mut self, obj: Object, sub: Subresource, precondition_rv: Option<u64>) -> Result<Arc<Object>, ApiError> {
        let (cur, new) = self.prepare_update(obj, sub, precondition_rv)?;
        let Some(mut new) = new else { return Ok(cur) };
        self.rv += 1;
        new.meta.resource_version = self.rv;
        let new = Arc::new(new);
        if new.deleting() && new.meta.finalizers.is_empty() {
            self.set.remove(&new.key());
            self.changes.push(Change { kind: ChangeKind::Deleted, object: new.clone(), old: Some(cur) });
        } else {
            self.set.insert(new.clone());
            self.changes.push(Change { kind: ChangeKind::Modified, object: new.clone(), old: Some(cur) });
        }
        Ok(new)
    }

    /// Delete: removes at once without finalizers; otherwise sets deletionTimestamp. Foreground and
    /// orphan propagation add the API server's finalizers, which the garbage collector removes.
    pub fn delete(
        &mut self,
        key: &ObjKey,
        propagation: Propagation,
        precondition_uid: Option<&str>,
        now: u64,
    ) -> Result<Deleted, ApiError> {
        let cur = self.set.get(key).ok_or_else(|| ApiError::not_found(key.kind, &key.name))?.clone();
        if let Some(uid) = precondition_uid {
            if uid != &*cur.meta.uid {
                return Err(ApiError::conflict(key.kind, &key.name));
            }
        }
        let mut new = (*cur).clone();
        let extra = match propagation {
            Propagation::Foreground => Some(FOREGROUND_FINALIZER),
            Propagation::Orphan => Some(ORPHAN_FINALIZER),
            Propagation::Background => None,
        };
        // A Namespace is emptied by the namespace controller (the garbage collector here) first.
        let ns_finalizer = key.kind == Kind::Namespace && self.namespace_has_objects(&key.name);
        if cur.deleting() {
            return Ok(Deleted::Pending(cur));
        }
        if let Some(f) = extra {
            if !new.has_finalizer(f) {
                new.meta.finalizers.push(f.to_string());
            }
        }
        if ns_finalizer && !new.has_finalizer("kubernetes") {
            new.meta.finalizers.push("kubernetes".into());
        }
        self.rv += 1;
        new.meta.resource_version = self.rv;
        if new.meta.finalizers.is_empty() {
            let new = Arc::new(new);
            self.set.remove(key);
            self.changes.push(Change { kind: ChangeKind::Deleted, object: new.clone(), old: Some(cur) });
            Ok(Deleted::Removed(new))
        } else {
            new.meta.deletion_ms = Some(now);
            if key.kind == Kind::Namespace {
                new.set("/status/phase", serde_json::Value::String("Terminating".into()));
            }
            let new = Arc::new(new);
            self.set.insert(new.clone());
            self.changes.push(Change { kind: ChangeKind::Modified, object: new.clone(), old: Some(cur) });
            Ok(Deleted::Pending(new))
        }
    }

    /// Whether any namespaced object lives in `ns`.
    pub fn namespace_has_objects(&self, ns: &str) -> bool {
        Kind::all().filter(|k| k.info().namespaced).any(|k| self.set.of_kind(k, Some(ns)).next().is_some())
    }
}

/// Whether anything but metadata and status differs (what bumps `metadata.generation`).
fn spec_changed(a: &Object, b: &Object) -> bool {
    let not_status = |(k, _): &(&String, &serde_json::Value)| k.as_str() != "status";
    a.body.iter().filter(not_status).ne(b.body.iter().filter(not_status))
}

#[cfg(test)]
mod tests;

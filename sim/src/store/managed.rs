//! Field ownership (`metadata.managedFields`) and server-side apply, as the API server keeps them
//! (`k8s.io/apimachinery/pkg/util/managedfields`, `sigs.k8s.io/structured-merge-diff`).
//!
//! Every write records who owns which fields:
//! - a create or an update (`Update` operation) gives its field manager the fields it set or
//!   changed, and takes them away from every other manager (an update never conflicts);
//! - an apply (`Apply` operation) merges its configuration into the object; the applier then owns
//!   exactly the fields of its configuration; a field it applied before and leaves out now is
//!   removed from the object unless another manager still owns it; a field it changes that
//!   another manager owns is a conflict (409, upstream's `Apply failed with N conflict(s)` text),
//!   unless the apply forces ownership (`force=true`, `client.ForceOwnership`, which every CAPI
//!   controller sets), in which case the other managers lose the field. Fields applied with the
//!   value they already have stay shared.
//!
//! A path is a leaf of the object: a scalar, a list or an empty map. `metadata.labels` and
//! `metadata.annotations` entries are fields of their maps, `metadata.finalizers` is a set of
//! values (`[="name"]`) and `metadata.ownerReferences` a map of items keyed by uid
//! (`[uid="..."]`), as their schemas declare.
//!
//! Simplifications (also in `docs/fidelity.md`):
//! - Lists other than finalizers and ownerReferences are atomic: the last writer owns the whole
//!   list. CAPI's `+listType=map` lists (conditions, taints, readinessGates) are keyed upstream;
//!   none of the simulated appliers shares such a list with another writer.
//! - `status` is not tracked (no simulated writer applies status), nor are Events.
//! - Fields a mutating webhook adds to a request are owned by nobody (upstream attributes them to
//!   the request's manager); nobody removes them by apply, as upstream's appliers never do.
//! - A map emptied by an apply's removal is dropped with its last field.

use crate::object::Object;
use serde_json::{Map, Value};
use std::sync::Arc;

/// What kind of write made a managedFields entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Operation {
    /// Server-side apply.
    Apply,
    /// Create, update or patch.
    Update,
}

impl Operation {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Apply => "Apply",
            Operation::Update => "Update",
        }
    }
}

/// One managedFields entry.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// The field manager.
    pub manager: Arc<str>,
    /// How it wrote.
    pub operation: Operation,
    /// When its fields last changed (simulated ms).
    pub time_ms: u64,
    /// The leaf paths it owns, sorted.
    pub fields: Vec<Box<str>>,
    /// An order-independent fingerprint of `fields` ([`fields_print`]), so that "does this manager
    /// own exactly this configuration's fields" needs no path built.
    pub print: u64,
}

/// An object's managedFields (shared between an object and its clones).
pub type ManagedFields = Option<Arc<Vec<Entry>>>;

/// A field manager's identity in a write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Manager<'a> {
    /// Its name (`fieldManager`).
    pub name: &'a str,
    /// Whether an apply takes fields others own (`force`).
    pub force: bool,
}

/// One conflict of an apply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conflict {
    /// The other manager, as upstream prints it (`"manager" using group/version at time`).
    pub manager: String,
    /// The field, as `fieldpath.Path` prints it (`.spec.replicas`).
    pub field: String,
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// One more segment of a path's hash (FNV-1a over its bytes and a separator).
fn hash_seg(mut h: u64, bytes: impl Iterator<Item = u8>) -> u64 {
    for b in bytes {
        h = (h ^ u64::from(b)).wrapping_mul(FNV_PRIME);
    }
    (h ^ 0xff).wrapping_mul(FNV_PRIME)
}

/// A leaf's contribution to a fingerprint (splitmix64's finalizer over its path hash).
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The bytes of an escaped segment, unescaped (`~1` → `/`, `~0` → `~`).
fn unescaped(s: &str) -> impl Iterator<Item = u8> + '_ {
    let b = s.as_bytes();
    let mut i = 0;
    std::iter::from_fn(move || {
        let c = *b.get(i)?;
        if c == b'~' && i + 1 < b.len() {
            i += 2;
            return Some(if b[i - 1] == b'1' { b'/' } else { b'~' });
        }
        i += 1;
        Some(c)
    })
}

/// The fingerprint of a set of paths: the wrapping sum of their leaves' mixed hashes.
pub fn fields_print(fields: &[Box<str>]) -> u64 {
    fields.iter().fold(0u64, |acc, p| {
        let h = p.split('/').skip(1).fold(FNV_OFFSET, |h, s| hash_seg(h, unescaped(s)));
        acc.wrapping_add(mix(h))
    })
}

/// The number of leaves of an object and their fingerprint, as [`fields_print`] of [`diff`]'s
/// paths would give them, without building a path.
fn config_print(o: &Object) -> (usize, u64) {
    fn value(v: &Value, h: u64, acc: &mut (usize, u64)) {
        match v {
            Value::Object(m) if !m.is_empty() => {
                for (k, x) in m {
                    value(x, hash_seg(h, k.bytes()), acc);
                }
            }
            _ => {
                acc.0 += 1;
                acc.1 = acc.1.wrapping_add(mix(h));
            }
        }
    }
    let mut acc = (0usize, 0u64);
    let leaf = |h: u64, acc: &mut (usize, u64)| {
        acc.0 += 1;
        acc.1 = acc.1.wrapping_add(mix(h));
    };
    let md = hash_seg(FNV_OFFSET, "metadata".bytes());
    let labels = hash_seg(md, "labels".bytes());
    for (k, _) in o.meta.labels.iter() {
        leaf(hash_seg(labels, k.bytes()), &mut acc);
    }
    let annotations = hash_seg(md, "annotations".bytes());
    for (k, _) in o.meta.annotations.iter() {
        leaf(hash_seg(annotations, k.bytes()), &mut acc);
    }
    let finalizers = hash_seg(md, "finalizers".bytes());
    for f in &o.meta.finalizers {
        leaf(hash_seg(finalizers, item_text(f).bytes()), &mut acc);
    }
    let owners = hash_seg(md, "ownerReferences".bytes());
    for r in &o.meta.owner_references {
        leaf(hash_seg(owners, owner_text(&r.uid).bytes()), &mut acc);
    }
    for (k, v) in o.body.iter().filter(|(k, _)| *k != "status") {
        value(v, hash_seg(FNV_OFFSET, k.bytes()), &mut acc);
    }
    acc
}

/// Entries as stored: empty ones dropped, fingerprints up to date.
fn finish(mut entries: Vec<Entry>) -> ManagedFields {
    entries.retain(|e| !e.fields.is_empty());
    for e in entries.iter_mut() {
        e.print = fields_print(&e.fields);
    }
    (!entries.is_empty()).then(|| Arc::new(entries))
}

/// Whether one path is the other or lies under it.
fn overlaps(a: &str, b: &str) -> bool {
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    long.starts_with(short) && (long.len() == short.len() || long.as_bytes()[short.len()] == b'/')
}

/// Whether `path` is `base` or lies under it.
fn under(path: &str, base: &str) -> bool {
    path.starts_with(base) && (path.len() == base.len() || path.as_bytes()[base.len()] == b'/')
}

/// A JSON-pointer segment (`~` and `/` escaped).
fn seg(out: &mut String, name: &str) {
    out.push('/');
    if !name.bytes().any(|b| b == b'~' || b == b'/') {
        out.push_str(name);
        return;
    }
    for c in name.chars() {
        match c {
            '~' => out.push_str("~0"),
            '/' => out.push_str("~1"),
            c => out.push(c),
        }
    }
}

fn unseg(s: &str) -> String {
    s.replace("~1", "/").replace("~0", "~")
}

fn path(prefix: &str, name: &str) -> String {
    let mut p = String::with_capacity(prefix.len() + name.len() + 1);
    p.push_str(prefix);
    seg(&mut p, name);
    p
}

/// A finalizer as an item of the set (`[="name"]`).
fn item_text(name: &str) -> String {
    format!("[={}]", Value::String(name.into()))
}

/// An owner reference as an item keyed by uid (`[uid="..."]`).
fn owner_text(uid: &str) -> String {
    format!("[uid={}]", Value::String(uid.into()))
}

/// The path segment of a set item (escaped like any segment: finalizers hold `/`).
fn set_item(name: &str) -> String {
    path("", &item_text(name))
}

fn owner_item(uid: &str) -> String {
    path("", &owner_text(uid))
}

/// The leaves of a value under `prefix`.
fn leaves(v: &Value, prefix: &str, out: &mut Vec<String>) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, x) in m {
                leaves(x, &path(prefix, k), out);
            }
        }
        _ => out.push(prefix.to_string()),
    }
}

/// Changed (set or modified) and removed leaves between two values at `prefix`.
fn diff_value(old: Option<&Value>, new: Option<&Value>, prefix: &str, changed: &mut Vec<String>, removed: &mut Vec<String>) {
    match (old, new) {
        (Some(a), Some(b)) if a == b => {}
        (Some(Value::Object(a)), Some(Value::Object(b))) if !a.is_empty() && !b.is_empty() => {
            for (k, x) in a {
                if !b.contains_key(k) {
                    diff_value(Some(x), None, &path(prefix, k), changed, removed);
                }
            }
            for (k, y) in b {
                diff_value(a.get(k), Some(y), &path(prefix, k), changed, removed);
            }
        }
        (_, Some(b)) => leaves(b, prefix, changed),
        (Some(_), None) => removed.push(prefix.to_string()),
        (None, None) => {}
    }
}

fn diff_strings<'a>(
    old: impl Iterator<Item = (&'a String, &'a String)> + Clone,
    new: impl Iterator<Item = (&'a String, &'a String)> + Clone,
    prefix: &str,
    changed: &mut Vec<String>,
    removed: &mut Vec<String>,
) {
    for (k, v) in new.clone() {
        if old.clone().find(|(k2, _)| *k2 == k).is_none_or(|(_, v2)| v2 != v) {
            changed.push(path(prefix, k));
        }
    }
    for (k, _) in old {
        if new.clone().all(|(k2, _)| k2 != k) {
            removed.push(path(prefix, k));
        }
    }
}

/// The leaves a write changed (set or modified) and removed, `status` and server-set metadata
/// left out.
pub fn diff(old: Option<&Object>, new: &Object) -> (Vec<String>, Vec<String>) {
    let (mut changed, mut removed) = (Vec::new(), Vec::new());
    let empty = Object::new(new.kind, new.namespace(), new.name());
    let old = old.unwrap_or(&empty);
    let (om, nm) = (&old.meta, &new.meta);
    if !om.labels.shares(&nm.labels) {
        diff_strings(om.labels.iter(), nm.labels.iter(), "/metadata/labels", &mut changed, &mut removed);
    }
    if !om.annotations.shares(&nm.annotations) {
        diff_strings(om.annotations.iter(), nm.annotations.iter(), "/metadata/annotations", &mut changed, &mut removed);
    }
    for f in &nm.finalizers {
        if !om.finalizers.contains(f) {
            changed.push(format!("/metadata/finalizers{}", set_item(f)));
        }
    }
    for f in &om.finalizers {
        if !nm.finalizers.contains(f) {
            removed.push(format!("/metadata/finalizers{}", set_item(f)));
        }
    }
    for r in &nm.owner_references {
        if om.owner_references.iter().find(|o| o.uid == r.uid) != Some(r) {
            changed.push(format!("/metadata/ownerReferences{}", owner_item(&r.uid)));
        }
    }
    for r in &om.owner_references {
        if nm.owner_references.iter().all(|o| o.uid != r.uid) {
            removed.push(format!("/metadata/ownerReferences{}", owner_item(&r.uid)));
        }
    }
    if !old.body.shares(&new.body) {
        for (k, v) in old.body.iter() {
            if k != "status" && !new.body.contains_key(k) {
                diff_value(Some(v), None, &path("", k), &mut changed, &mut removed);
            }
        }
        for (k, v) in new.body.iter() {
            if k != "status" {
                diff_value(old.body.get(k), Some(v), &path("", k), &mut changed, &mut removed);
            }
        }
    }
    (changed, removed)
}

fn entry_mut<'a>(entries: &'a mut Vec<Entry>, manager: &str, op: Operation, now: u64) -> &'a mut Entry {
    let i = match entries.iter().position(|e| &*e.manager == manager && e.operation == op) {
        Some(i) => i,
        None => {
            entries.push(Entry { manager: manager.into(), operation: op, time_ms: now, fields: Vec::new(), print: 0 });
            entries.len() - 1
        }
    };
    &mut entries[i]
}

fn sorted(mut v: Vec<String>) -> Vec<Box<str>> {
    v.sort();
    v.dedup();
    v.into_iter().map(String::into_boxed_str).collect()
}

/// The managedFields after `manager` created `new` (an `Update` entry owning all of it).
pub fn on_create(new: &Object, manager: &str, now: u64) -> ManagedFields {
    if !tracked(new) {
        return None;
    }
    let (changed, _) = diff(None, new);
    if changed.is_empty() {
        return None;
    }
    finish(vec![Entry { manager: manager.into(), operation: Operation::Update, time_ms: now, fields: sorted(changed), print: 0 }])
}

/// The managedFields after `manager` updated `old` to `new`: the fields it changed are its own,
/// and no longer anyone else's; removed fields are nobody's.
pub fn on_update(old: &Object, new: &Object, manager: &str, now: u64) -> ManagedFields {
    if !tracked(new) {
        return old.meta.managed.clone();
    }
    let (changed, removed) = diff(Some(old), new);
    if changed.is_empty() && removed.is_empty() {
        return old.meta.managed.clone();
    }
    let mut entries: Vec<Entry> = old.meta.managed.as_deref().cloned().unwrap_or_default();
    for e in entries.iter_mut() {
        e.fields.retain(|f| !changed.iter().chain(&removed).any(|c| overlaps(f, c)));
    }
    if !changed.is_empty() {
        let e = entry_mut(&mut entries, manager, Operation::Update, now);
        e.time_ms = now;
        let mut all: Vec<String> = e.fields.iter().map(|f| f.to_string()).collect();
        all.extend(changed);
        e.fields = sorted(all);
    }
    finish(entries)
}

fn tracked(o: &Object) -> bool {
    o.kind != crate::kinds::Kind::Event
}

/// `config` merged into `cur`: maps merge key by key, lists and scalars are replaced, finalizers
/// are a set, owner references are keyed by uid.
fn merge(cur: &Object, config: &Object) -> Object {
    let mut out = cur.clone();
    for (k, v) in config.meta.labels.iter() {
        if out.meta.labels.get(k) != Some(v) {
            out.meta.labels.insert(k.clone(), v.clone());
        }
    }
    for (k, v) in config.meta.annotations.iter() {
        if out.meta.annotations.get(k) != Some(v) {
            out.meta.annotations.insert(k.clone(), v.clone());
        }
    }
    for f in &config.meta.finalizers {
        if !out.meta.finalizers.contains(f) {
            out.meta.finalizers.push(f.clone());
        }
    }
    for r in &config.meta.owner_references {
        match out.meta.owner_references.iter_mut().find(|o| o.uid == r.uid) {
            Some(o) => *o = r.clone(),
            None => out.meta.owner_references.push(r.clone()),
        }
    }
    for (k, v) in config.body.iter() {
        if k == "status" {
            continue;
        }
        match cur.body.get(k) {
            Some(c) if merged_is(c, v) => {}
            _ => {
                let mut nv = cur.body.get(k).cloned().unwrap_or(Value::Null);
                merge_value(&mut nv, v);
                out.body.insert(k.clone(), nv);
            }
        }
    }
    out
}

fn merge_value(cur: &mut Value, config: &Value) {
    match (cur, config) {
        (Value::Object(c), Value::Object(d)) if !d.is_empty() => {
            for (k, v) in d {
                match c.get_mut(k) {
                    Some(cv) => merge_value(cv, v),
                    None => {
                        c.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (Value::Object(_), Value::Object(_)) => {}
        (c, d) => *c = d.clone(),
    }
}

/// Whether merging `config` into `cur` gives `cur` back.
fn merged_is(cur: &Value, config: &Value) -> bool {
    match (cur, config) {
        (Value::Object(c), Value::Object(d)) => d.iter().all(|(k, v)| c.get(k).is_some_and(|cv| merged_is(cv, v))),
        (c, d) => c == d,
    }
}

/// Remove one leaf from an object; maps left empty by it go too.
fn remove_path(o: &mut Object, p: &str) {
    let parts: Vec<&str> = p.split('/').skip(1).collect();
    match parts.as_slice() {
        ["metadata", "labels", k] => {
            o.meta.labels.remove(&unseg(k));
        }
        ["metadata", "annotations", k] => {
            o.meta.annotations.remove(&unseg(k));
        }
        ["metadata", "finalizers", item] => {
            let item = unseg(item);
            let name: Option<String> = item.strip_prefix("[=").and_then(|s| s.strip_suffix(']')).and_then(|s| serde_json::from_str(s).ok());
            if let Some(name) = name {
                o.meta.finalizers.retain(|f| *f != name);
            }
        }
        ["metadata", "ownerReferences", item] => {
            let item = unseg(item);
            let uid: Option<String> =
                item.strip_prefix("[uid=").and_then(|s| s.strip_suffix(']')).and_then(|s| serde_json::from_str(s).ok());
            if let Some(uid) = uid {
                o.meta.owner_references.retain(|r| *r.uid != *uid);
            }
        }
        ["metadata", ..] | [] => {}
        [top, rest @ ..] => {
            let top = unseg(top);
            if rest.is_empty() {
                o.body.remove(&top);
                return;
            }
            let Some(v) = o.body.get(&top) else { return };
            let mut v = v.clone();
            let keys: Vec<String> = rest.iter().map(|s| unseg(s)).collect();
            remove_in(&mut v, &keys);
            if v.as_object().is_some_and(Map::is_empty) {
                o.body.remove(&top);
            } else {
                o.body.insert(top, v);
            }
        }
    }
}

fn remove_in(v: &mut Value, keys: &[String]) {
    let Some(m) = v.as_object_mut() else { return };
    match keys {
        [k] => {
            m.remove(k);
        }
        [k, rest @ ..] => {
            if let Some(child) = m.get_mut(k) {
                remove_in(child, rest);
                if child.as_object().is_some_and(Map::is_empty) {
                    m.remove(k);
                }
            }
        }
        [] => {}
    }
}

/// Whether `manager`'s forced apply of `config` would leave `cur` exactly as it is (object and
/// managedFields): it owns exactly the configuration's fields already and merging changes no value.
/// Read-only, and builds no path: controllers apply their desired state on every reconcile, and
/// almost always it is already there.
pub fn apply_is_noop(cur: &Object, config: &Object, manager: &str) -> bool {
    let Some(entry) =
        cur.meta.managed.as_deref().and_then(|es| es.iter().find(|e| &*e.manager == manager && e.operation == Operation::Apply))
    else {
        return false;
    };
    let (cm, om) = (&config.meta, &cur.meta);
    let same_values = cm.labels.iter().all(|(k, v)| om.labels.get(k) == Some(v))
        && cm.annotations.iter().all(|(k, v)| om.annotations.get(k) == Some(v))
        && cm.finalizers.iter().all(|f| om.finalizers.contains(f))
        && cm.owner_references.iter().all(|r| om.owner_references.iter().any(|o| o == r))
        && config.body.iter().filter(|(k, _)| *k != "status").all(|(k, v)| cur.body.get(k).is_some_and(|c| merged_is(c, v)));
    if !same_values {
        return false;
    }
    // The same set of fields: the same number and the same fingerprint.
    let (n, print) = config_print(config);
    n == entry.fields.len() && print == entry.print
}

/// Server-side apply of `config` by `manager` onto `cur`: the object to store (its managedFields
/// set), or the conflicts that stop it.
pub fn apply(cur: &Object, config: &Object, manager: Manager<'_>, now: u64) -> Result<Object, Vec<Conflict>> {
    let (config_fields, _) = diff(None, config);
    let mut out = merge(cur, config);
    let (changed, _) = diff(Some(cur), &out);
    let entries: Vec<Entry> = cur.meta.managed.as_deref().cloned().unwrap_or_default();
    let mine = |e: &Entry| &*e.manager == manager.name && e.operation == Operation::Apply;
    if !manager.force {
        let mut conflicts = Vec::new();
        for e in entries.iter().filter(|e| !mine(e)) {
            for c in &changed {
                if e.fields.iter().any(|f| overlaps(f, c)) {
                    conflicts.push(Conflict { manager: display_manager(e, cur.kind.api_version()), field: display_path(c) });
                }
            }
        }
        if !conflicts.is_empty() {
            return Err(conflicts);
        }
    }
    // Fields this manager applied before and leaves out now go, unless someone else owns them.
    let before: &[Box<str>] = entries.iter().find(|e| mine(e)).map(|e| e.fields.as_slice()).unwrap_or(&[]);
    let mut removed = Vec::new();
    for p in before {
        // Still applied (or something under it is): it stays. An empty map applied above it does
        // not keep it.
        if config_fields.iter().any(|c| under(c, p)) {
            continue;
        }
        if entries.iter().filter(|e| !mine(e)).any(|e| e.fields.iter().any(|f| overlaps(f, p))) {
            continue;
        }
        remove_path(&mut out, p);
        removed.push(p.to_string());
    }
    let mut next: Vec<Entry> = entries;
    for e in next.iter_mut().filter(|e| !mine(e)) {
        e.fields.retain(|f| !changed.iter().any(|c| overlaps(f, c)));
    }
    let fields = sorted(config_fields);
    let e = entry_mut(&mut next, manager.name, Operation::Apply, now);
    if e.fields != fields {
        e.time_ms = now;
        e.fields = fields;
    }
    out.meta.managed = finish(next);
    Ok(out)
}

/// The creation of `config` by an apply: the applier owns its configuration.
pub fn apply_create(mut obj: Object, manager: &str, now: u64) -> Object {
    let (fields, _) = diff(None, &obj);
    obj.meta.managed = if tracked(&obj) {
        finish(vec![Entry { manager: manager.into(), operation: Operation::Apply, time_ms: now, fields: sorted(fields), print: 0 }])
    } else {
        None
    };
    obj
}

/// Drop what `manager`'s `operation` entry owns under any of `prefixes` (what CAPI's
/// `ssa.RemoveManagedFieldsForLabelsAndAnnotations` does with a JSON patch of managedFields).
pub fn disown(managed: &ManagedFields, manager: &str, operation: Operation, prefixes: &[&str]) -> ManagedFields {
    let entries = managed.as_deref()?;
    let mut next = entries.clone();
    for e in next.iter_mut().filter(|e| &*e.manager == manager && e.operation == operation) {
        e.fields.retain(|f| !prefixes.iter().any(|p| overlaps(f, p)));
    }
    finish(next)
}

#[path = "managed_wire.rs"]
mod wire;
use wire::display_manager;
pub use wire::{conflict_message, display_path, to_wire};

#[cfg(test)]
#[path = "managed_tests.rs"]
mod tests;

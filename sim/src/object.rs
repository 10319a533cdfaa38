//! API objects as the simulated API server stores them: typed metadata (what the server and the
//! indexes use) plus the rest of the object as JSON (spec, status, data...).

use crate::kinds::Kind;
pub use crate::shared::Shared;
use litemap::LiteMap;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

/// Simulated time zero is this instant (UTC), so timestamps read like real ones.
pub const SIM_EPOCH_UNIX_SECS: u64 = 1_767_225_600; // 2026-01-01T00:00:00Z

/// RFC 3339 text for a simulated time (whole seconds, like Kubernetes' `metav1.Time`).
pub fn timestamp(ms: u64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(SIM_EPOCH_UNIX_SECS + ms / 1000);
    humantime::format_rfc3339_seconds(t).to_string()
}

/// Simulated time of an RFC 3339 text (`None` if it is not one, or before the epoch).
pub fn parse_timestamp(text: &str) -> Option<u64> {
    let t = humantime::parse_rfc3339_weak(text).ok()?;
    let secs = t.duration_since(std::time::UNIX_EPOCH).ok()?.as_millis() as u64;
    secs.checked_sub(SIM_EPOCH_UNIX_SECS * 1000)
}

/// Identity of an object: kind, namespace, name. Ordered so that a kind's objects are contiguous.
// `PartialEq` is `Ord`'s equality, which compares the same three fields (names shared by pointer
// first, then by bytes), so the derived `Hash` agrees with it.
#[allow(clippy::derived_hash_with_manual_eq)]
#[derive(Clone, Eq, Hash)]
pub struct ObjKey {
    /// Kind.
    pub kind: Kind,
    /// Namespace ("" for cluster-scoped kinds).
    pub ns: Arc<str>,
    /// Name.
    pub name: Arc<str>,
}

/// A namespace's name as a shared string. Every object and key of one namespace holds the same
/// `Arc` (per thread, for the first 256 namespaces it meets), so a key comparison (each step of a
/// B-tree lookup in the store and the caches) settles the namespace by pointer and reads no string
/// (at 10,000 clusters, another allocation to fetch from memory). Only identity is shared: the text
/// and every comparison are the same as with an `Arc` of its own.
pub fn shared_namespace(ns: &str) -> Arc<str> {
    const MAX_SHARED: usize = 256;
    thread_local! {
        static NAMESPACES: std::cell::RefCell<Vec<Arc<str>>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    NAMESPACES
        .try_with(|table| {
            let mut table = table.borrow_mut();
            if let Some(a) = table.iter().find(|a| &***a == ns) {
                return a.clone();
            }
            let a: Arc<str> = ns.into();
            if table.len() < MAX_SHARED {
                table.push(a.clone());
            }
            a
        })
        .unwrap_or_else(|_| ns.into())
}

/// Two names that may be one allocation: keys cloned from the same object share their `Arc`s, and
/// then the bytes need no comparison.
fn cmp_shared(a: &Arc<str>, b: &Arc<str>) -> std::cmp::Ordering {
    if Arc::ptr_eq(a, b) {
        std::cmp::Ordering::Equal
    } else {
        a.cmp(b)
    }
}

impl Ord for ObjKey {
    /// Kind, then namespace, then name.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.kind.cmp(&other.kind).then_with(|| cmp_shared(&self.ns, &other.ns)).then_with(|| cmp_shared(&self.name, &other.name))
    }
}

impl PartialOrd for ObjKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for ObjKey {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl ObjKey {
    /// A key.
    pub fn new(kind: Kind, ns: &str, name: &str) -> Self {
        ObjKey { kind, ns: shared_namespace(ns), name: name.into() }
    }

    /// The smallest key (the first kind, empty namespace and name): the start of range scans.
    pub fn min() -> Self {
        static MIN: std::sync::LazyLock<ObjKey> = std::sync::LazyLock::new(|| {
            let kind = Kind::all().min().expect("the kind table is not empty");
            ObjKey { kind, ns: shared_namespace(""), name: "".into() }
        });
        MIN.clone()
    }
}

impl fmt::Debug for ObjKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for ObjKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.ns.is_empty() {
            write!(f, "{}/{}", self.kind, self.name)
        } else {
            write!(f, "{}/{}/{}", self.kind, self.ns, self.name)
        }
    }
}

/// `Value::pointer` without its allocations: the same RFC 6901 reading (`~1` is `/`, `~0` is `~`,
/// array indexes without sign or leading zeros), but a segment is unescaped only when it has a `~`.
/// Objects are read by pointer on every reconcile, so this is on the hot path.
pub fn pointer<'v>(v: &'v Value, path: &str) -> Option<&'v Value> {
    if path.is_empty() {
        return Some(v);
    }
    let mut rest = path.strip_prefix('/')?;
    let mut target = v;
    loop {
        // Segments are short: a byte loop beats the general `split` searcher here.
        let (token, next) = match rest.bytes().position(|b| b == b'/') {
            Some(i) => (&rest[..i], Some(&rest[i + 1..])),
            None => (rest, None),
        };
        let unescaped;
        let token = if token.bytes().any(|b| b == b'~') {
            unescaped = token.replace("~1", "/").replace("~0", "~");
            unescaped.as_str()
        } else {
            token
        };
        target = match target {
            Value::Object(m) => m.get(token)?,
            Value::Array(a) => {
                if token.starts_with('+') || (token.starts_with('0') && token.len() != 1) {
                    return None;
                }
                a.get(token.parse::<usize>().ok()?)?
            }
            _ => return None,
        };
        match next {
            Some(n) => rest = n,
            None => return Some(target),
        }
    }
}

/// [`pointer`] as a method of JSON values (`v.ptr("/spec/replicas")`), in place of serde_json's
/// allocating `Value::pointer`.
pub trait Ptr {
    /// The value at an RFC 6901 JSON pointer.
    fn ptr(&self, path: &str) -> Option<&Value>;
}

impl Ptr for Value {
    fn ptr(&self, path: &str) -> Option<&Value> {
        pointer(self, path)
    }
}

/// `metadata.ownerReferences[]`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct OwnerRef {
    /// apiVersion of the owner.
    pub api_version: String,
    /// Kind of the owner.
    pub kind: String,
    /// Name of the owner.
    pub name: String,
    /// uid of the owner.
    pub uid: Arc<str>,
    /// Whether the owner is the managing controller.
    pub controller: bool,
    /// Whether foreground deletion of the owner waits for this object.
    pub block_owner_deletion: bool,
}

impl OwnerRef {
    /// A reference to `owner`.
    pub fn to(owner: &Object, controller: bool) -> Self {
        OwnerRef {
            api_version: owner.kind.api_version().to_string(),
            kind: owner.kind.name().to_string(),
            name: owner.meta.name.to_string(),
            uid: owner.meta.uid.clone(),
            controller,
            block_owner_deletion: controller,
        }
    }
}

/// Object metadata, typed.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Meta {
    /// name.
    pub name: Arc<str>,
    /// namespace.
    pub namespace: Arc<str>,
    /// generateName.
    pub generate_name: Option<String>,
    /// uid.
    pub uid: Arc<str>,
    /// resourceVersion (a global counter).
    pub resource_version: u64,
    /// generation (bumped when anything but metadata and status changes).
    pub generation: i64,
    /// creationTimestamp, simulated ms.
    pub creation_ms: u64,
    /// deletionTimestamp, simulated ms.
    pub deletion_ms: Option<u64>,
    /// labels.
    pub labels: StringMap,
    /// annotations.
    pub annotations: StringMap,
    /// ownerReferences.
    pub owner_references: Vec<OwnerRef>,
    /// finalizers.
    pub finalizers: Vec<String>,
    /// managedFields: who owns which fields (kept by the API server, [`crate::store::managed`]).
    pub managed: crate::store::managed::ManagedFields,
}

/// One API object.
#[derive(Clone, Debug, PartialEq)]
pub struct Object {
    /// Kind (apiVersion follows from it).
    pub kind: Kind,
    /// Metadata.
    pub meta: Meta,
    /// Everything else: `spec`, `status`, `data`, `type`...
    pub body: Body,
}

/// An object's body. Reconciles clone objects to edit and compare them (the patch helper's pattern),
/// and most of those edits change nothing; the check-before-write setters ([`Object::set`],
/// [`Object::remove`], `conditions::set`) keep such no-op edits from copying it at all.
pub type Body = Shared<Map<String, Value>>;

/// Labels and annotations: cloning an object to edit it copies no metadata maps. A sorted vector
/// (`LiteMap`), not a B-tree: an object carries a handful of labels and annotations, and a B-tree
/// allocates an 11-slot node (about 540 bytes) for even one of them.
pub type StringMap = Shared<StrMap>;

/// The map inside a [`StringMap`].
pub type StrMap = LiteMap<String, String>;

/// A value of a label or annotation map. The maps are small and their keys share long prefixes
/// (`cluster.x-k8s.io/...`), so a scan that compares lengths before bytes beats a binary search,
/// each step of which compares the prefix again.
fn find_small<'a>(m: &'a StrMap, key: &str) -> Option<&'a str> {
    if m.len() <= 16 {
        m.iter().find(|(k, _)| k.as_str() == key).map(|(_, v)| v.as_str())
    } else {
        m.get(key).map(String::as_str)
    }
}

impl Object {
    /// A new object with only a name and namespace.
    pub fn new(kind: Kind, namespace: &str, name: &str) -> Self {
        Object {
            kind,
            meta: Meta { name: name.into(), namespace: shared_namespace(namespace), ..Default::default() },
            body: Body::default(),
        }
    }

    /// The key.
    pub fn key(&self) -> ObjKey {
        ObjKey { kind: self.kind, ns: self.meta.namespace.clone(), name: self.meta.name.clone() }
    }

    /// Name.
    pub fn name(&self) -> &str {
        &self.meta.name
    }

    /// Namespace.
    pub fn namespace(&self) -> &str {
        &self.meta.namespace
    }

    /// A label.
    pub fn label(&self, key: &str) -> Option<&str> {
        find_small(&self.meta.labels, key)
    }

    /// An annotation.
    pub fn annotation(&self, key: &str) -> Option<&str> {
        find_small(&self.meta.annotations, key)
    }

    /// Whether deletion has started.
    pub fn deleting(&self) -> bool {
        self.meta.deletion_ms.is_some()
    }

    /// Whether it carries a finalizer.
    pub fn has_finalizer(&self, f: &str) -> bool {
        self.meta.finalizers.iter().any(|x| x == f)
    }

    /// The controller owner reference.
    pub fn controller_ref(&self) -> Option<&OwnerRef> {
        self.meta.owner_references.iter().find(|o| o.controller)
    }

    /// An owner reference of a kind.
    pub fn owner_of_kind(&self, kind: &str) -> Option<&OwnerRef> {
        self.meta.owner_references.iter().find(|o| o.kind == kind)
    }

    /// A value by JSON pointer into the body (`/spec/replicas`).
    pub fn at(&self, pointer: &str) -> Option<&Value> {
        let rest = pointer.strip_prefix('/')?;
        let (first, tail) = match rest.bytes().position(|b| b == b'/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        let v = self.body.get(first)?;
        if tail.is_empty() {
            Some(v)
        } else {
            self::pointer(v, tail)
        }
    }

    /// A string by pointer.
    pub fn str_at(&self, pointer: &str) -> Option<&str> {
        self.at(pointer).and_then(Value::as_str)
    }

    /// An integer by pointer.
    pub fn i64_at(&self, pointer: &str) -> Option<i64> {
        self.at(pointer).and_then(Value::as_i64)
    }

    /// A boolean by pointer (false when absent).
    pub fn bool_at(&self, pointer: &str) -> bool {
        self.at(pointer).and_then(Value::as_bool).unwrap_or(false)
    }

    /// The value at `pointer` read the way [`Object::set`] and [`Object::remove`] walk it: through maps
    /// only, with segments taken literally.
    fn map_path(&self, pointer: &str) -> Option<&Value> {
        let mut segments = pointer.trim_start_matches('/').split('/');
        let mut v = self.body.get(segments.next()?)?;
        for seg in segments {
            v = v.as_object()?.get(seg)?;
        }
        Some(v)
    }

    /// Set a value by pointer, creating intermediate maps. Setting the value already there writes
    /// nothing (so a shared body stays shared).
    pub fn set(&mut self, pointer: &str, value: Value) {
        if self.map_path(pointer) == Some(&value) {
            return;
        }
        let segments: Vec<&str> = pointer.trim_start_matches('/').split('/').collect();
        let (last, parents) = segments.split_last().expect("non-empty pointer");
        let mut map: &mut Map<String, Value> = &mut self.body;
        for seg in parents {
            let entry = map.entry(seg.to_string()).or_insert_with(|| Value::Object(Map::new()));
            if !entry.is_object() {
                *entry = Value::Object(Map::new());
            }
            map = entry.as_object_mut().expect("just made an object");
        }
        map.insert(last.to_string(), value);
    }

    /// Remove a value by pointer.
    pub fn remove(&mut self, pointer: &str) -> Option<Value> {
        self.map_path(pointer)?;
        let segments: Vec<&str> = pointer.trim_start_matches('/').split('/').collect();
        let (last, parents) = segments.split_last()?;
        let mut map: &mut Map<String, Value> = &mut self.body;
        for seg in parents {
            map = map.get_mut(*seg)?.as_object_mut()?;
        }
        map.remove(*last)
    }

    /// The `status` map, created if absent.
    pub fn status_mut(&mut self) -> &mut Map<String, Value> {
        let v = self.body.entry("status").or_insert_with(|| Value::Object(Map::new()));
        if !v.is_object() {
            *v = Value::Object(Map::new());
        }
        v.as_object_mut().expect("object")
    }

    /// The whole object as Kubernetes JSON.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("apiVersion".into(), Value::String(self.kind.api_version().into()));
        m.insert("kind".into(), Value::String(self.kind.name().into()));
        m.insert("metadata".into(), self.meta_json());
        for (k, v) in &self.body {
            m.insert(k.clone(), v.clone());
        }
        Value::Object(m)
    }

    /// `metadata` as JSON.
    pub fn meta_json(&self) -> Value {
        let mt = &self.meta;
        let mut m = Map::new();
        m.insert("name".into(), Value::String(mt.name.to_string()));
        if !mt.namespace.is_empty() {
            m.insert("namespace".into(), Value::String(mt.namespace.to_string()));
        }
        if let Some(g) = &mt.generate_name {
            m.insert("generateName".into(), Value::String(g.clone()));
        }
        if !mt.uid.is_empty() {
            m.insert("uid".into(), Value::String(mt.uid.to_string()));
        }
        if mt.resource_version > 0 {
            m.insert("resourceVersion".into(), Value::String(mt.resource_version.to_string()));
        }
        if mt.generation > 0 {
            m.insert("generation".into(), Value::from(mt.generation));
        }
        if !mt.uid.is_empty() {
            m.insert("creationTimestamp".into(), Value::String(timestamp(mt.creation_ms)));
        }
        if let Some(d) = mt.deletion_ms {
            m.insert("deletionTimestamp".into(), Value::String(timestamp(d)));
            m.insert("deletionGracePeriodSeconds".into(), Value::from(0));
        }
        if !mt.labels.is_empty() {
            m.insert("labels".into(), Value::Object(mt.labels.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect()));
        }
        if !mt.annotations.is_empty() {
            m.insert(
                "annotations".into(),
                Value::Object(mt.annotations.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect()),
            );
        }
        if !mt.owner_references.is_empty() {
            let refs = mt
                .owner_references
                .iter()
                .map(|o| {
                    let mut r = Map::new();
                    r.insert("apiVersion".into(), Value::String(o.api_version.clone()));
                    r.insert("kind".into(), Value::String(o.kind.clone()));
                    r.insert("name".into(), Value::String(o.name.clone()));
                    r.insert("uid".into(), Value::String(o.uid.to_string()));
                    if o.controller {
                        r.insert("controller".into(), Value::Bool(true));
                    }
                    if o.block_owner_deletion {
                        r.insert("blockOwnerDeletion".into(), Value::Bool(true));
                    }
                    Value::Object(r)
                })
                .collect();
            m.insert("ownerReferences".into(), Value::Array(refs));
        }
        if !mt.finalizers.is_empty() {
            m.insert("finalizers".into(), Value::Array(mt.finalizers.iter().map(|f| Value::String(f.clone())).collect()));
        }
        Value::Object(m)
    }

    /// Parse Kubernetes JSON. Server-set metadata (uid, resourceVersion, timestamps) is read when
    /// present so a round trip keeps it; the store decides what to honour.
    pub fn from_json(value: &Value) -> Result<Object, String> {
        let obj = value.as_object().ok_or("an object must be a JSON map")?;
        let api_version = obj.get("apiVersion").and_then(Value::as_str).ok_or("missing `apiVersion`")?;
        let kind_name = obj.get("kind").and_then(Value::as_str).ok_or("missing `kind`")?;
        let kind = Kind::resolve(api_version, kind_name)?;
        let md = obj.get("metadata").and_then(Value::as_object).ok_or("missing `metadata`")?;
        let s = |k: &str| md.get(k).and_then(Value::as_str);
        let string_map = |k: &str| -> Result<BTreeMap<String, String>, String> {
            match md.get(k) {
                None | Some(Value::Null) => Ok(BTreeMap::new()),
                Some(Value::Object(m)) => m
                    .iter()
                    .map(|(k2, v)| match v {
                        Value::String(s) => Ok((k2.clone(), s.clone())),
                        other => Err(format!("metadata.{k}.{k2} must be a string, got {other}")),
                    })
                    .collect(),
                Some(other) => Err(format!("metadata.{k} must be a map, got {other}")),
            }
        };
        let mut owner_references = Vec::new();
        if let Some(refs) = md.get("ownerReferences").and_then(Value::as_array) {
            for r in refs {
                let g = |k: &str| r.get(k).and_then(Value::as_str).map(str::to_string);
                owner_references.push(OwnerRef {
                    api_version: g("apiVersion").ok_or("ownerReferences[].apiVersion is required")?,
                    kind: g("kind").ok_or("ownerReferences[].kind is required")?,
                    name: g("name").ok_or("ownerReferences[].name is required")?,
                    uid: g("uid").ok_or("ownerReferences[].uid is required")?.into(),
                    controller: r.get("controller").and_then(Value::as_bool).unwrap_or(false),
                    block_owner_deletion: r.get("blockOwnerDeletion").and_then(Value::as_bool).unwrap_or(false),
                });
            }
        }
        let finalizers = match md.get("finalizers") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) => {
                a.iter().map(|f| f.as_str().map(str::to_string).ok_or("finalizers must be strings")).collect::<Result<_, _>>()?
            }
            Some(_) => return Err("metadata.finalizers must be a list".into()),
        };
        let meta = Meta {
            name: s("name").unwrap_or("").into(),
            namespace: shared_namespace(s("namespace").unwrap_or("")),
            generate_name: s("generateName").map(str::to_string),
            uid: s("uid").unwrap_or("").into(),
            resource_version: s("resourceVersion").and_then(|r| r.parse().ok()).unwrap_or(0),
            generation: md.get("generation").and_then(Value::as_i64).unwrap_or(0),
            creation_ms: s("creationTimestamp").and_then(parse_timestamp).unwrap_or(0),
            deletion_ms: s("deletionTimestamp").and_then(parse_timestamp),
            labels: string_map("labels")?.into(),
            annotations: string_map("annotations")?.into(),
            owner_references,
            finalizers,
            managed: None,
        };
        let body: Map<String, Value> = obj
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "apiVersion" | "kind" | "metadata"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Ok(Object { kind, meta, body: body.into() })
    }
}

impl capi_scenarios::predicate::Resource for Object {
    fn api_version(&self) -> &str {
        self.kind.api_version()
    }
    fn kind(&self) -> &str {
        self.kind.name()
    }
    fn namespace(&self) -> &str {
        &self.meta.namespace
    }
    fn name(&self) -> &str {
        &self.meta.name
    }
    fn label(&self, key: &str) -> Option<&str> {
        self.meta.labels.get(key).map(String::as_str)
    }
    fn field(&self, path: &capi_scenarios::target::FieldPath) -> Option<std::borrow::Cow<'_, Value>> {
        use capi_scenarios::target::{lookup, Segment};
        if path.is_json_path() {
            // A JSONPath reads the object as clients see it.
            return path.lookup(&self.to_json()).map(|v| std::borrow::Cow::Owned(v.into_owned()));
        }
        let segs = path.segments();
        match segs.first() {
            Some(Segment::Key(k)) if k == "metadata" => {
                let meta = self.meta_json();
                lookup(&meta, &segs[1..]).cloned().map(std::borrow::Cow::Owned)
            }
            Some(Segment::Key(k)) if k == "apiVersion" => Some(std::borrow::Cow::Owned(Value::String(self.kind.api_version().into()))),
            Some(Segment::Key(k)) if k == "kind" => Some(std::borrow::Cow::Owned(Value::String(self.kind.name().into()))),
            Some(Segment::Key(k)) => lookup(self.body.get(k.as_str())?, &segs[1..]).map(std::borrow::Cow::Borrowed),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_shared_until_one_clone_writes() {
        let mut a = Object::new(Kind::Machine, "default", "m");
        a.meta.labels.insert("x".into(), "1".into());
        let mut b = a.clone();
        assert!(a.meta.labels.shares(&b.meta.labels), "a clone shares its labels");
        b.meta.labels.insert("y".into(), "2".into());
        assert!(!a.meta.labels.shares(&b.meta.labels));
        assert_eq!(a.meta.labels.len(), 1, "the original is untouched");
        assert_eq!(b.meta.labels.get("y").map(String::as_str), Some("2"));
        assert_ne!(a, b);
    }

    #[test]
    fn clones_share_the_body_until_a_write_changes_it() {
        let mut a = Object::new(Kind::Machine, "default", "m");
        a.set("/status/phase", serde_json::json!("Running"));
        a.set("/spec/clusterName", serde_json::json!("c"));
        use crate::controllers::conditions::{self, Cond};
        conditions::set(&mut a, [Cond::t("Ready", "Ok")], 0);
        let mut b = a.clone();
        assert!(b.body.shares(&a.body));
        // Writing what is already there, or removing what is absent, changes nothing and copies nothing.
        b.set("/status/phase", serde_json::json!("Running"));
        assert_eq!(b.remove("/status/absent"), None);
        conditions::set(&mut b, [Cond::t("Ready", "Ok")], 60_000);
        assert!(b.body.shares(&a.body));
        // A real write copies once and leaves the original as it was.
        b.set("/status/phase", serde_json::json!("Deleting"));
        assert!(!b.body.shares(&a.body));
        assert_eq!(a.str_at("/status/phase"), Some("Running"));
        assert_eq!(b.str_at("/status/phase"), Some("Deleting"));
        assert_eq!(b.str_at("/spec/clusterName"), Some("c"));
    }

    #[test]
    fn pointer_reads_like_serde_json() {
        let v = serde_json::json!({"a": {"b/c": [1, {"d~e": true}], "": 2, "0": "zero"}, "n": null});
        for p in
            ["", "/a", "/a/b~1c", "/a/b~1c/0", "/a/b~1c/1/d~0e", "/a/", "/a/0", "/a/b~1c/01", "/a/b~1c/+1", "/a/b~1c/9", "/n/x", "a", "/x"]
        {
            assert_eq!(pointer(&v, p), v.pointer(p), "{p}");
        }
    }

    #[test]
    fn json_round_trip_keeps_metadata() {
        let v = serde_json::json!({
            "apiVersion": "cluster.x-k8s.io/v1beta2", "kind": "Machine",
            "metadata": {"name": "m", "namespace": "default", "uid": "u1", "resourceVersion": "7", "generation": 2,
                "creationTimestamp": "2026-01-01T00:01:00Z", "labels": {"a": "b"}, "finalizers": ["f"],
                "ownerReferences": [{"apiVersion": "cluster.x-k8s.io/v1beta2", "kind": "MachineSet", "name": "ms", "uid": "u0", "controller": true, "blockOwnerDeletion": true}]},
            "spec": {"clusterName": "c"}
        });
        let o = Object::from_json(&v).unwrap();
        assert_eq!(o.meta.creation_ms, 60_000);
        assert_eq!(o.to_json(), v);
        assert_eq!(o.str_at("/spec/clusterName"), Some("c"));
    }

    #[test]
    fn string_maps_behave_as_the_btree_maps_they_replace() {
        let pairs = [("b", "1"), ("a", "2"), ("c", "3"), ("a", "4"), ("b", "5")].map(|(k, v)| (k.to_string(), v.to_string()));
        let tree: BTreeMap<String, String> = pairs.iter().cloned().collect();
        let collected: StringMap = pairs.iter().cloned().collect();
        let mut extended = StringMap::default();
        extended.extend(pairs.iter().cloned());
        let converted = StringMap::from(tree.clone());
        for m in [&collected, &extended, &converted] {
            assert_eq!(m.iter().collect::<Vec<_>>(), tree.iter().collect::<Vec<_>>());
        }
    }

    #[test]
    fn keys_and_objects_of_one_namespace_share_its_name_and_still_order_by_text() {
        let parsed =
            Object::from_json(&serde_json::json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "ns-a"}}))
                .unwrap();
        let made = Object::new(Kind::Secret, "ns-a", "t");
        let key = ObjKey::new(Kind::Secret, "ns-a", "u");
        assert!(Arc::ptr_eq(&parsed.meta.namespace, &made.meta.namespace) && Arc::ptr_eq(&made.key().ns, &key.ns));
        let other = ObjKey::new(Kind::Secret, "ns-0", "a");
        assert!(other < key && key > parsed.key() && parsed.key() > other);
    }
}

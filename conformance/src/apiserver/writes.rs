//! Writes on the simulator thread: create (POST), update (PUT, with the resourceVersion a custom
//! resource requires), and patch (merge, JSON, server-side apply with upsert; strategic merge only
//! for built-in kinds), each checked against the request path first, as the API server does.

use super::core::Core;
use super::handlers::{decode, Reply};
use super::route::{Params, ResourcePath, Sub};
use super::status::Failure;
use capi_sim::store::api::{Patch, WriteOptions};
use capi_sim::store::{ApiError, Subresource};
use capi_sim::{Kind, ObjKey, Object};
use serde_json::{json, Map, Value};

/// 404 for one object.
pub fn not_found(kind: Kind, name: &str) -> Failure {
    Failure::from(ApiError::not_found(kind, name)).with_object(kind, name)
}

/// An API error about one object, with the details real servers attach.
pub fn api_failure(e: ApiError, kind: Kind, name: &str) -> Failure {
    // A create in a missing namespace is about the namespace, not the object.
    let missing_namespace = e.message.strip_prefix("namespaces \"").and_then(|m| m.strip_suffix("\" not found")).map(str::to_string);
    match missing_namespace {
        Some(ns) if e.code == 404 => Failure::from(e).with_object(Kind::Namespace, &ns),
        _ => Failure::from(e).with_object(kind, name),
    }
}

/// A `<Kind>List`.
pub fn list_json(kind: Kind, items: Vec<Value>, rv: Option<u64>) -> Value {
    let mut meta = Map::new();
    if let Some(rv) = rv {
        meta.insert("resourceVersion".into(), Value::String(rv.to_string()));
    }
    json!({"apiVersion": kind.api_version(), "kind": format!("{}List", kind.name()), "metadata": meta, "items": items})
}

/// Check a body against the request path and fill what the path implies (apiVersion, kind,
/// namespace, name), as the API server does before decoding.
pub fn conform_body(v: &mut Value, kind: Kind, namespace: Option<&str>, name: Option<&str>) -> Result<(), Failure> {
    let Some(obj) = v.as_object_mut() else { return Err(Failure::bad_request("the request body must be a JSON object")) };
    let want_av = kind.api_version();
    match obj.get("apiVersion").and_then(Value::as_str) {
        None | Some("") => {
            obj.insert("apiVersion".into(), Value::String(want_av.into()));
        }
        Some(av) if av != want_av => {
            return Err(Failure::bad_request(format!(
                "the API version in the data ({av}) does not match the expected API version ({want_av})"
            )))
        }
        Some(_) => {}
    }
    match obj.get("kind").and_then(Value::as_str) {
        None | Some("") => {
            obj.insert("kind".into(), Value::String(kind.name().into()));
        }
        Some(k) if k != kind.name() => {
            return Err(Failure::bad_request(format!("the kind in the data ({k}) does not match the expected kind ({})", kind.name())))
        }
        Some(_) => {}
    }
    let meta = obj.entry("metadata").or_insert_with(|| json!({}));
    let Some(meta) = meta.as_object_mut() else { return Err(Failure::bad_request("metadata must be a JSON object")) };
    if kind.info().namespaced {
        if let Some(ns) = namespace {
            match meta.get("namespace").and_then(Value::as_str) {
                None | Some("") => {
                    meta.insert("namespace".into(), Value::String(ns.into()));
                }
                Some(b) if b != ns => {
                    return Err(Failure::bad_request(format!(
                        "the namespace of the provided object ({b}) does not match the namespace sent on the request ({ns})"
                    )))
                }
                Some(_) => {}
            }
        }
    } else {
        meta.remove("namespace");
    }
    if let Some(name) = name {
        match meta.get("name").and_then(Value::as_str) {
            None | Some("") => {
                meta.insert("name".into(), Value::String(name.into()));
            }
            Some(b) if b != name => {
                return Err(Failure::bad_request(format!("the name of the object ({b}) does not match the name on the URL ({name})")))
            }
            Some(_) => {}
        }
    }
    Ok(())
}

fn parse_object(v: &Value, kind: Kind, name: &str) -> Result<Object, Failure> {
    Object::from_json(v).map_err(|e| Failure::bad_request(e).with_object(kind, name))
}

pub fn create(core: &mut Core, rp: &ResourcePath, mut v: Value, opts: WriteOptions) -> Result<Reply, Failure> {
    let kind = rp.kind;
    conform_body(&mut v, kind, rp.namespace.as_deref(), None)?;
    let mut obj = parse_object(&v, kind, "")?;
    // Server-owned metadata a client may not set on create.
    obj.meta.resource_version = 0;
    obj.meta.uid = "".into();
    obj.meta.deletion_ms = None;
    let name = obj.meta.name.to_string();
    let m = core.m;
    let w = core.sim.create_as(m, obj, opts).map_err(|e| api_failure(e, kind, &name))?;
    Ok(Reply::written(201, w))
}

fn subresource(rp: &ResourcePath) -> Subresource {
    match rp.sub {
        Sub::Status => Subresource::Status,
        Sub::Main | Sub::Scale => Subresource::Main,
    }
}

pub fn update(core: &mut Core, rp: &ResourcePath, mut v: Value, opts: WriteOptions) -> Result<Reply, Failure> {
    let kind = rp.kind;
    let name = rp.name.clone().unwrap_or_default();
    conform_body(&mut v, kind, rp.namespace.as_deref(), Some(&name))?;
    let rv = match v.pointer("/metadata/resourceVersion") {
        Some(Value::String(s)) if !s.is_empty() => s.parse::<u64>().map_err(|_| {
            Failure::invalid(
                kind,
                &name,
                "metadata.resourceVersion",
                "FieldValueInvalid",
                &format!("Invalid value: \"{s}\": must be a number"),
            )
        })?,
        _ => {
            return Err(Failure::invalid(
                kind,
                &name,
                "metadata.resourceVersion",
                "FieldValueInvalid",
                "Invalid value: 0x0: must be specified for an update",
            ))
        }
    };
    let obj = parse_object(&v, kind, &name)?;
    let m = core.m;
    let w = core.sim.update_as(m, obj, subresource(rp), Some(rv), opts).map_err(|e| api_failure(e, kind, &name))?;
    Ok(Reply::written(200, w))
}

/// A decoded PATCH body.
pub enum PatchBody {
    Merge(Value),
    Json(Value),
    Apply(Value),
}

pub fn decode_patch(kind: Kind, content_type: &str, bytes: &[u8]) -> Result<PatchBody, Failure> {
    let media = content_type.split(';').next().unwrap_or("").trim();
    match media {
        "application/merge-patch+json" => Ok(PatchBody::Merge(decode(bytes, media)?)),
        "application/json-patch+json" => Ok(PatchBody::Json(decode(bytes, media)?)),
        // The body is JSON even though the media type says YAML (kubectl and kube-rs send JSON).
        "application/apply-patch+yaml" => Ok(PatchBody::Apply(decode(bytes, media)?)),
        // Built-in kinds accept strategic merge; for them (ConfigMap, Secret, Namespace) it behaves
        // like a merge patch. Custom resources answer 415, as on a real cluster.
        "application/strategic-merge-patch+json" if kind.info().group.is_empty() => Ok(PatchBody::Merge(decode(bytes, media)?)),
        _ => Err(Failure::unsupported_media_type(kind)),
    }
}

pub fn patch_object(core: &mut Core, rp: &ResourcePath, body: PatchBody, params: &Params) -> Result<Reply, Failure> {
    let kind = rp.kind;
    let name = rp.name.clone().unwrap_or_default();
    let ns = rp.namespace.clone().unwrap_or_default();
    let key = ObjKey::new(kind, &ns, &name);
    let sub = subresource(rp);
    let existed = core.store().get(&key).is_some();
    let patch = match body {
        PatchBody::Merge(v) => Patch::Merge(v),
        PatchBody::Json(v) => {
            if !v.is_array() {
                return Err(Failure::bad_request("a JSON patch must be a JSON array of operations"));
            }
            Patch::Json(v)
        }
        PatchBody::Apply(mut v) => {
            if params.field_manager.as_deref().is_none_or(str::is_empty) {
                return Err(Failure {
                    details: Some(json!({"group": "meta.k8s.io", "kind": "PatchOptions", "causes": [
                        {"reason": "FieldValueRequired", "message": "Required value: is required for apply patch", "field": "fieldManager"}]})),
                    ..Failure::new(
                        422,
                        "Invalid",
                        "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch",
                    )
                });
            }
            conform_body(&mut v, kind, rp.namespace.as_deref(), Some(&name))?;
            Patch::Apply(v)
        }
    };
    if !existed && (sub == Subresource::Status || !matches!(patch, Patch::Apply(_))) {
        return Err(not_found(kind, &name));
    }
    let m = core.m;
    let opts = params.write_options("PatchOptions")?;
    let w = if opts.dry_run {
        let opts = WriteOptions { now: core.now(), ..opts };
        core.sim.mgmt[m].api.patch(&key, &patch, sub, opts)
    } else {
        core.sim.patch_as(m, &key, &patch, sub, opts)
    }
    .map_err(|e| api_failure(e, kind, &name))?;
    Ok(Reply::written(if existed { 200 } else { 201 }, w))
}

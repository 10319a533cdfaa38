//! The `/scale` subresource of the kinds Cluster API gives one (MachineDeployment, MachineSet,
//! KubeadmControlPlane, MachinePool): an `autoscaling/v1 Scale` view of `.spec.replicas`,
//! `.status.replicas` and `.status.selector`, so `kubectl scale` works. A write goes through
//! `Sim::scale`: only the kind's `/scale` webhooks are called (KCP's
//! `validation-scale.kubeadmcontrolplane...`; CAPI's object webhooks are registered for the main
//! resource, which a `/scale` request does not match), then `.spec.replicas` is updated (with the
//! Scale's resourceVersion as a precondition) and the controllers see an ordinary update.

use super::core::Core;
use super::handlers::{decode, read_body, reply_response, App, Reply};
use super::route::{Params, ResourcePath};
use super::status::Failure;
use super::writes::{api_failure, not_found};
use axum::body::Body;
use axum::http::Method;
use axum::response::Response;
use capi_sim::{Kind, ObjKey, Object};
use serde_json::{json, Value};
use std::sync::Arc;

/// Verbs of a `/scale` subresource.
pub const SCALE_VERBS: &[&str] = &["get", "patch", "update"];

/// Whether a kind has a `/scale` subresource (CAPI's `+kubebuilder:subresource:scale` markers).
pub fn has_scale(kind: Kind) -> bool {
    matches!(kind, Kind::MachineDeployment | Kind::MachineSet | Kind::KubeadmControlPlane | Kind::MachinePool)
}

/// The `Scale` view of an object.
pub fn scale_of(o: &Object) -> Value {
    let mut meta = json!({
        "name": &*o.meta.name, "uid": &*o.meta.uid, "resourceVersion": o.meta.resource_version.to_string(),
        "creationTimestamp": capi_sim::object::timestamp(o.meta.creation_ms),
    });
    if !o.meta.namespace.is_empty() {
        meta["namespace"] = json!(&*o.meta.namespace);
    }
    let mut status = json!({"replicas": o.i64_at("/status/replicas").unwrap_or(0)});
    // MachinePool's scale marker has no selectorpath (`api/core/v1beta2/machinepool_types.go`).
    if let Some(sel) = o.str_at("/status/selector").filter(|_| o.kind != Kind::MachinePool) {
        status["selector"] = json!(sel);
    }
    json!({
        "kind": "Scale", "apiVersion": "autoscaling/v1", "metadata": meta,
        "spec": {"replicas": o.i64_at("/spec/replicas").unwrap_or(0)}, "status": status,
    })
}

/// How a write describes the new Scale.
enum Change {
    /// PUT of a whole Scale.
    Replace(Value),
    /// PATCH (merge or JSON) of the Scale.
    Merge(Value),
    Json(Value),
}

/// Serve `GET|PUT|PATCH …/{name}/scale`.
pub async fn handle(
    app: &Arc<App>,
    method: Method,
    rp: ResourcePath,
    params: &Params,
    content_type: &str,
    body: Body,
) -> Result<Response, Failure> {
    let change = match method {
        Method::GET | Method::HEAD => None,
        Method::PUT => Some(Change::Replace(decode(&read_body(body).await?, content_type)?)),
        Method::PATCH => {
            let bytes = read_body(body).await?;
            let media = content_type.split(';').next().unwrap_or("").trim();
            Some(match media {
                // Scale is a built-in type: strategic merge behaves like a merge patch on it.
                "application/merge-patch+json" | "application/strategic-merge-patch+json" => Change::Merge(decode(&bytes, media)?),
                "application/json-patch+json" => Change::Json(decode(&bytes, media)?),
                _ => return Err(Failure::unsupported_media_type(rp.kind)),
            })
        }
        m => return Err(Failure::method_not_allowed(m.as_str())),
    };
    let dry_run = params.dry_run;
    let r = app.sim.call(move |core| scale(core, &rp, change, dry_run)).await??;
    Ok(reply_response(r))
}

fn replicas_of(kind: Kind, name: &str, scale: &Value) -> Result<i64, Failure> {
    match scale.pointer("/spec/replicas").and_then(Value::as_i64) {
        Some(n) if n >= 0 => Ok(n),
        _ => Err(Failure::invalid(kind, name, "spec.replicas", "FieldValueInvalid", "Invalid value: must be a non-negative integer")),
    }
}

fn scale(core: &mut Core, rp: &ResourcePath, change: Option<Change>, dry_run: bool) -> Result<Reply, Failure> {
    let (kind, name) = (rp.kind, rp.name.clone().unwrap_or_default());
    let key = ObjKey::new(kind, rp.namespace.as_deref().unwrap_or(""), &name);
    let cur = core.store().get(&key).cloned().ok_or_else(|| not_found(kind, &name))?;
    let current = scale_of(&cur);
    let (desired, precondition) = match change {
        None => return Ok(Reply::ok(current)),
        Some(Change::Replace(v)) => {
            let rv = v.pointer("/metadata/resourceVersion").and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string);
            (v, rv)
        }
        Some(Change::Merge(p)) => {
            if !p.is_object() {
                return Err(Failure::bad_request("a merge patch must be a JSON object"));
            }
            let mut v = current.clone();
            json_patch::merge(&mut v, &p);
            (v, None)
        }
        Some(Change::Json(p)) => {
            let ops: json_patch::Patch = serde_json::from_value(p).map_err(|e| Failure::bad_request(format!("invalid JSON patch: {e}")))?;
            let mut v = current.clone();
            json_patch::patch(&mut v, &ops).map_err(|e| {
                Failure::invalid(kind, &name, "spec", "FieldValueInvalid", &format!("the JSON patch cannot be applied: {e}"))
            })?;
            (v, None)
        }
    };
    let replicas = replicas_of(kind, &name, &desired)?;
    let precondition = match precondition {
        Some(rv) => Some(rv.parse::<u64>().map_err(|_| Failure::bad_request("metadata.resourceVersion must be a number"))?),
        None => None,
    };
    let m = core.m;
    let w = core.sim.scale(m, &key, replicas, precondition, dry_run).map_err(|e| api_failure(e, kind, &name))?;
    Ok(Reply { code: 200, body: scale_of(&w.object), warnings: w.warnings })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_view() {
        let mut o = Object::new(Kind::MachineDeployment, "default", "md");
        o.set("/spec/replicas", json!(3));
        o.set("/status/replicas", json!(2));
        o.set("/status/selector", json!("a=b"));
        let s = scale_of(&o);
        assert_eq!(
            (s["spec"]["replicas"].as_i64(), s["status"]["replicas"].as_i64(), s["status"]["selector"].as_str()),
            (Some(3), Some(2), Some("a=b"))
        );
        assert!(has_scale(Kind::KubeadmControlPlane) && !has_scale(Kind::Cluster));
        assert!(replicas_of(Kind::MachineDeployment, "md", &json!({"spec": {"replicas": -1}})).is_err());
    }
}

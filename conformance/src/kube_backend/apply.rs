//! One manifest object applied as `kubectl apply --server-side --force-conflicts` does it (a create
//! for `generateName`), with retries, the created/configured/unchanged verdict and kubectl's
//! `error when applying` wording.

use super::kube_transport::transport_error;
use super::retry::{with_retries, Idempotence, Retried, RetryPolicy};
use super::{backend_error, Conn, FIELD_MANAGER};
use capi_scenarios::backend::{Applied, ApplyAction, BackendError};
use capi_scenarios::manifest::ManifestObject;
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use serde_json::Value;

/// The answer of a retried operation, as a backend result.
pub(super) fn answer<T>(r: Retried<T>) -> Result<Option<T>, BackendError> {
    r.result.map_err(backend_error)
}

fn rv(o: &DynamicObject) -> Option<String> {
    o.metadata.resource_version.clone()
}

/// Server-side apply one object through `conn`; `register` is called with the resolved kind before
/// the write (the cleanup guard learns about Clusters that way).
pub(super) async fn apply_object(
    conn: &Conn,
    r: &super::resources::Resolved,
    o: &ManifestObject,
    policy: &RetryPolicy,
) -> Result<Applied, BackendError> {
    let mut value = o.value.clone();
    let ns = if r.namespaced { o.namespace().unwrap_or("default").to_string() } else { String::new() };
    if r.namespaced {
        if let Some(meta) = value.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.insert("namespace".into(), Value::String(ns.clone()));
        }
    }
    let api: Api<DynamicObject> = r.api(&conn.clients.writer, &ns);
    let api = &api;
    conn.clients.warnings.drain();
    let name = o.name().to_string();
    if name.is_empty() {
        // generateName: server-side apply needs a name, so this is a create.
        let obj: DynamicObject = serde_json::from_value(value).map_err(|e| BackendError::Other(format!("invalid object: {e}")))?;
        let obj = &obj;
        let pp = PostParams { dry_run: false, field_manager: Some(FIELD_MANAGER.into()) };
        let pp = &pp;
        let created =
            answer(with_retries(policy, Idempotence::Create, |_| async move { api.create(pp, obj).await.map_err(transport_error) }).await)?;
        return Ok(Applied {
            kind: o.kind().into(),
            name: created.and_then(|c| c.metadata.name).unwrap_or_default(),
            action: ApplyAction::Created,
            warnings: conn.clients.warnings.drain(),
        });
    }
    let name = name.as_str();
    let before =
        answer(with_retries(policy, Idempotence::Idempotent, |_| async move { api.get_opt(name).await.map_err(transport_error) }).await)?
            .flatten();
    let pp = PatchParams::apply(FIELD_MANAGER).force();
    let (pp, value) = (&pp, &value);
    let after = answer(
        with_retries(policy, Idempotence::Idempotent, |_| async move {
            api.patch(name, pp, &Patch::Apply(value)).await.map_err(transport_error)
        })
        .await,
    )?;
    let action = match (&before, &after) {
        (None, _) => ApplyAction::Created,
        (Some(b), Some(a)) if rv(b) == rv(a) => ApplyAction::Unchanged,
        _ => ApplyAction::Configured,
    };
    Ok(Applied { kind: o.kind().into(), name: name.to_string(), action, warnings: conn.clients.warnings.drain() })
}

pub(super) fn decorate(e: BackendError, o: &ManifestObject) -> BackendError {
    match e {
        BackendError::Api { code, reason, message } => {
            BackendError::Api { code, reason, message: format!("error when applying {}/{} ({}): {message}", o.kind(), o.name(), o.origin) }
        }
        BackendError::Other(m) => BackendError::Other(format!("error when applying {}/{} ({}): {m}", o.kind(), o.name(), o.origin)),
        other => other,
    }
}

//! Custom resources against their kind's structural schema ([`crate::types::schema`]), as the
//! API server's custom-resource handler treats every write
//! (`apiextensions-apiserver/pkg/registry/customresource`):
//!
//! - **Pruning**: fields the schema does not declare are dropped when the body is decoded
//!   (`apiextensions-apiserver/pkg/apiserver/schema/pruning: PruneWithOptions`). What the client
//!   asked for decides what it hears of them (`fieldValidation`, `apiserver/pkg/endpoints/handlers:
//!   fieldValidation`): `Ignore` says nothing, `Warn` (the server's default) answers a warning
//!   `unknown field "<path>"` per field, `Strict` refuses the write with 400 `<Kind> in version
//!   "<v>" cannot be handled as a <Kind>: strict decoding error: unknown field "<path>", ...`.
//! - **Validation** (422 Invalid, `apiextensions-apiserver/pkg/registry/customresource/validator.go`
//!   over kube-openapi): types, enums, required fields, lengths, bounds, item and property counts,
//!   patterns, with kube-openapi's messages, then the CRDs' CEL rules ([`crate::types::check`]).
//!
//! On update only what differs from the stored object is pruned and validated: what was stored was
//! pruned when it was written, and an unchanged field is not validated again, as the API server's
//! validation ratcheting does (`CRDValidationRatcheting`, on by default since Kubernetes 1.30).
//!
//! Null fields are dropped with the unknown ones (none is nullable:
//! `structuraldefaulting.PruneNonNullableNullsWithoutDefaults`), silently.
//!
//! Simplifications (docs/fidelity.md): `format` and schema defaults are not applied, CEL rules are
//! restated one by one (`check::cel_rule`); `metadata` is checked by
//! [`super::validate`], not by the schema.

use super::error::{ApiError, Cause};
use crate::kinds::Kind;
use crate::object::Object;
use crate::types::{check, schema};
use serde_json::Value;

/// How the API server answers fields the schema does not declare (`?fieldValidation=`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FieldValidation {
    /// Drop them silently.
    Ignore,
    /// Drop them and warn (the server's default).
    #[default]
    Warn,
    /// Refuse the write (kubectl's default since 1.27: `--validate=strict`).
    Strict,
}

impl FieldValidation {
    /// Parse the query parameter (`Ignore`, `Warn`, `Strict`); `None` for anything else.
    pub fn parse(text: &str) -> Option<FieldValidation> {
        match text {
            "Ignore" => Some(FieldValidation::Ignore),
            "Warn" | "" => Some(FieldValidation::Warn),
            "Strict" => Some(FieldValidation::Strict),
            _ => None,
        }
    }
}

/// The root keys that are not the schema's business: `metadata` (validated on its own) and the
/// type meta the object model keeps apart from the body.
fn outside_schema(key: &str) -> bool {
    matches!(key, "metadata" | "apiVersion" | "kind")
}

/// The compiled schema of a custom kind with properties (`None` for the built-in kinds).
fn root(kind: Kind) -> Option<&'static check::Node> {
    schema::compiled(kind).filter(|n| n.has_properties())
}

/// Prune the fields of `obj`'s body its kind's schema does not declare, where the body differs from
/// `old`'s, and answer as `mode` asks: `Ok` with the warnings to send, or the 400 of `Strict`.
pub fn prune(obj: &mut Object, old: Option<&Object>, mode: FieldValidation) -> Result<Vec<String>, ApiError> {
    let Some(root) = root(obj.kind) else { return Ok(Vec::new()) };
    let mut unknown = Vec::new();
    let mut nulls = false;
    for (k, v) in obj.body.iter() {
        if outside_schema(k) {
            continue;
        }
        let before = old.and_then(|o| o.body.get(k.as_str()));
        match root.property(k) {
            Some(_) if v.is_null() => nulls = true,
            Some(p) => nulls |= p.unknown_changed(v, before, k, &mut unknown),
            None => unknown.push(k.clone()),
        }
    }
    if unknown.is_empty() && !nulls {
        return Ok(Vec::new());
    }
    if mode == FieldValidation::Strict && !unknown.is_empty() {
        let kind = obj.kind;
        let version = kind.api_version().rsplit('/').next().unwrap_or_default();
        let list: Vec<String> = unknown.iter().map(|p| format!("unknown field {p:?}")).collect();
        return Err(ApiError::bad_request(format!(
            "{k} in version {version:?} cannot be handled as a {k}: strict decoding error: {}",
            list.join(", "),
            k = kind.name()
        )));
    }
    let body = &mut *obj.body;
    body.retain(|k, v| outside_schema(k) || root.property(k).is_some() && !v.is_null());
    for (k, v) in body.iter_mut() {
        if let Some(p) = root.property(k) {
            let unknown_below = || unknown.iter().any(|u| u.strip_prefix(k.as_str()).is_some_and(|rest| rest.starts_with(['.', '['])));
            let changed = || old.is_none_or(|o| o.body.get(k.as_str()) != Some(&*v));
            if unknown_below() || nulls && changed() {
                p.prune(v);
            }
        }
    }
    Ok(match mode {
        FieldValidation::Ignore => Vec::new(),
        _ => unknown.iter().map(|p| format!("unknown field {p:?}")).collect(),
    })
}

/// Validate `obj`'s body against its kind's schema where it differs from `old`'s: `Err` is the API
/// server's 422 with every field error.
pub fn validate(obj: &Object, old: Option<&Object>) -> Result<(), ApiError> {
    let Some(root) = root(obj.kind) else { return Ok(()) };
    let mut errors = Vec::new();
    for r in root.required().iter().map(String::as_str).filter(|r| !outside_schema(r)) {
        if obj.body.get(r).is_none_or(Value::is_null) && (old.is_none() || old.is_some_and(|o| o.body.get(r) != obj.body.get(r))) {
            errors.push(check::FieldError { reason: "FieldValueRequired", field: r.to_string(), message: "Required value".into() });
        }
    }
    for (k, v) in obj.body.iter() {
        if let Some(p) = root.property(k) {
            p.validate_changed(v, old.and_then(|o| o.body.get(k.as_str())), k, &mut errors);
        }
    }
    if errors.is_empty() {
        return Ok(());
    }
    let causes = errors.into_iter().map(|e| Cause { reason: e.reason, field: e.field, message: e.message }).collect();
    Err(ApiError::invalid_fields(obj.kind, &obj.meta.name, causes))
}

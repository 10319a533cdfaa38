//! What the API server itself refuses, before and apart from any webhook: the one place every write
//! (scenario steps, the served API, controllers) is checked, with the codes and messages a real
//! Kubernetes API server answers.
//!
//! - **Decoding** (400 BadRequest): a built-in kind's body must decode into its Go type; a
//!   ConfigMap's `data` must be a map of strings, a Secret's `data` a map of base64 strings
//!   (`apiserver/pkg/endpoints/handlers/create.go: transformDecodeError` around encoding/json's
//!   `UnmarshalTypeError`).
//! - **Structural schema** (422 Invalid): a custom resource's `spec` and `status` must be objects
//!   (`apiextensions-apiserver/pkg/apiserver/validation: kubeOpenAPIResultToFieldErrors`, kube-openapi's
//!   `InvalidType`: `spec in body must be of type object: "string"`).
//! - **Object metadata** (422 Invalid, `apimachinery/pkg/api/validation/objectmeta.go:
//!   ValidateObjectMetaAccessor`): names (Namespaces: DNS-1123 labels, `ValidateNamespaceName`;
//!   everything else here, ConfigMaps, Secrets, Events and every custom resource: DNS-1123
//!   subdomains, `NameIsDNSSubdomain`), `generateName` with its trailing dash masked, label keys and
//!   values (`meta/v1/validation: ValidateLabels`), annotation keys and their 256 KiB total
//!   (`ValidateAnnotations`), finalizer names (`ValidateFinalizers`).
//! - **ConfigMap and Secret data** (`pkg/apis/core/validation/validation.go: ValidateConfigMap`,
//!   `ValidateSecret`): keys (`IsConfigMapKey`) and the 1 MiB total.
//! - **Immortal namespaces** (403 Forbidden, `plugin/pkg/admission/namespace/lifecycle/admission.go:
//!   Lifecycle.Admit`): `default`, `kube-system` and `kube-public` may not be deleted.
//!
//! Simplifications: maps are validated in key order (Go ranges over them in random order, so a real
//! server lists several errors in any order); a patch whose result does not decode answers as a
//! create would (400), where the real server answers 422 `patch: Invalid value: "<object>"`
//! (echoing the whole object, Secret data included); the type-specific Secret rules
//! (`kubernetes.io/tls` keys and the like) are not checked. Custom resources' schemas below
//! `spec`/`status` are [`super::schema`]'s. On update only what changed is validated again (what did not change was valid when
//! written), which keeps the check off the controllers' hot path.

use super::error::{ApiError, Cause};
use crate::kinds::Kind;
use crate::object::Object;
use base64::Engine as _;
use capi_scenarios::k8svalid::{self, go_quote};
use serde_json::Value;

/// Namespaces the API server never deletes (`Lifecycle.immortalNamespaces`).
pub const IMMORTAL_NAMESPACES: &[&str] = &["default", "kube-system", "kube-public"];

fn invalid(field: impl Into<String>, value: &str, detail: &str) -> Cause {
    Cause { reason: "FieldValueInvalid", field: field.into(), message: format!("Invalid value: {}: {detail}", go_quote(value)) }
}

fn too_long(field: impl Into<String>, max: usize) -> Cause {
    Cause { reason: "FieldValueTooLong", field: field.into(), message: format!("Too long: may not be more than {max} bytes") }
}

/// `maskTrailingDash`: a generateName may end in `-` (the random suffix follows).
fn mask_trailing_dash(name: &str) -> String {
    if name.len() > 1 && name.ends_with('-') {
        format!("{}a", &name[..name.len() - 2])
    } else {
        name.to_string()
    }
}

fn name_rule(kind: Kind, name: &str) -> Vec<String> {
    if kind == Kind::Namespace {
        k8svalid::dns1123_label(name)
    } else {
        k8svalid::dns1123_subdomain(name)
    }
}

fn labels(obj: &Object, out: &mut Vec<Cause>) {
    for (k, v) in obj.meta.labels.iter() {
        out.extend(k8svalid::qualified_name(k).iter().map(|m| invalid("metadata.labels", k, m)));
        out.extend(k8svalid::label_value(v).iter().map(|m| invalid("metadata.labels", v, m)));
    }
}

fn annotations(obj: &Object, out: &mut Vec<Cause>) {
    let mut total = 0usize;
    for (k, v) in obj.meta.annotations.iter() {
        // "The rule is QualifiedName except that case doesn't matter".
        out.extend(k8svalid::qualified_name(&k.to_lowercase()).iter().map(|m| invalid("metadata.annotations", k, m)));
        total += k.len() + v.len();
    }
    if total > k8svalid::TOTAL_ANNOTATION_SIZE {
        out.push(too_long("metadata.annotations", k8svalid::TOTAL_ANNOTATION_SIZE));
    }
}

fn finalizers(obj: &Object, out: &mut Vec<Cause>) {
    for f in &obj.meta.finalizers {
        out.extend(k8svalid::qualified_name(f).iter().map(|m| invalid("metadata.finalizers", f, m)));
    }
}

/// `ValidateConfigMap` / `ValidateSecret`: data keys and the total size.
fn data_keys(obj: &Object, out: &mut Vec<Cause>) {
    let mut total = 0usize;
    let fields: &[&str] = if obj.kind == Kind::ConfigMap { &["data", "binaryData"] } else { &["data", "stringData"] };
    for field in fields {
        if let Some(Value::Object(m)) = obj.body.get(*field) {
            for (k, v) in m {
                total += v.as_str().map_or(0, str::len);
                let path = format!("{}[{k}]", if *field == "stringData" { "data" } else { field });
                out.extend(k8svalid::config_map_key(k).iter().map(|msg| invalid(path.clone(), k, msg)));
            }
        }
    }
    if obj.kind == Kind::ConfigMap {
        if let (Some(Value::Object(d)), Some(Value::Object(b))) = (obj.body.get("data"), obj.body.get("binaryData")) {
            for k in d.keys().filter(|k| b.contains_key(k.as_str())) {
                out.push(invalid(format!("data[{k}]"), k, "duplicate of key present in binaryData"));
            }
        }
    }
    if total > k8svalid::MAX_SECRET_SIZE {
        out.push(too_long("", k8svalid::MAX_SECRET_SIZE));
    }
}

/// encoding/json's name of a JSON value's type in `UnmarshalTypeError`.
fn json_type(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "string",
        Value::Number(_) => "number",
        Value::Bool(_) => "bool",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
        Value::Null => "null",
    }
}

/// kube-openapi's name of a JSON value's type (`InvalidType`).
fn schema_type(v: &Value) -> &'static str {
    match v {
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::Bool(_) => "boolean",
        other => json_type(other),
    }
}

/// Check that a built-in kind's body decodes into its Go type, and a custom resource's top-level
/// fields have their schema types. Runs before defaulting and admission, as decoding does.
pub fn decode(obj: &Object) -> Result<(), ApiError> {
    let cannot = |err: String| {
        let k = obj.kind.name();
        ApiError::bad_request(format!("{k} in version \"v1\" cannot be handled as a {k}: {err}"))
    };
    let string_map = |field: &str, elem: &str, base64: bool| -> Result<(), ApiError> {
        let k = obj.kind.name();
        match obj.body.get(field) {
            None | Some(Value::Null) => Ok(()),
            Some(Value::Object(m)) => {
                for v in m.values() {
                    match v {
                        Value::String(s) if base64 => {
                            if let Err(e) = base64::engine::general_purpose::STANDARD.decode(s) {
                                return Err(cannot(base64_error(e)));
                            }
                        }
                        Value::String(_) | Value::Null => {}
                        other => {
                            return Err(cannot(format!(
                                "json: cannot unmarshal {} into Go struct field {k}.{field} of type {elem}",
                                json_type(other)
                            )))
                        }
                    }
                }
                Ok(())
            }
            Some(other) => Err(cannot(format!(
                "json: cannot unmarshal {} into Go struct field {k}.{field} of type map[string]{elem}",
                json_type(other)
            ))),
        }
    };
    match obj.kind {
        Kind::ConfigMap => {
            string_map("data", "string", false)?;
            string_map("binaryData", "[]uint8", true)
        }
        Kind::Secret => {
            string_map("data", "[]uint8", true)?;
            string_map("stringData", "string", false)?;
            match obj.body.get("type") {
                None | Some(Value::Null | Value::String(_)) => Ok(()),
                Some(other) => Err(cannot(format!(
                    "json: cannot unmarshal {} into Go struct field Secret.type of type v1.SecretType",
                    json_type(other)
                ))),
            }
        }
        Kind::Namespace | Kind::Event => Ok(()),
        kind => {
            let mut causes = Vec::new();
            for field in ["spec", "status"] {
                if let Some(v) = obj.body.get(field) {
                    if !v.is_object() && !v.is_null() {
                        let t = schema_type(v);
                        causes.push(Cause {
                            reason: "FieldValueTypeInvalid",
                            field: field.to_string(),
                            message: format!("Invalid value: \"{t}\": {field} in body must be of type object: \"{t}\""),
                        });
                    }
                }
            }
            if causes.is_empty() {
                Ok(())
            } else {
                Err(ApiError::invalid_fields(kind, &obj.meta.name, causes))
            }
        }
    }
}

/// Go's `base64.CorruptInputError` text for the first bad byte.
fn base64_error(e: base64::DecodeError) -> String {
    let at = match e {
        base64::DecodeError::InvalidByte(i, _) | base64::DecodeError::InvalidLastSymbol(i, _) => i,
        base64::DecodeError::InvalidLength(n) => n,
        base64::DecodeError::InvalidPadding => 0,
    };
    format!("illegal base64 data at input byte {at}")
}

/// Validate a create (after defaulting and name generation): `Err` is the API server's 422.
pub fn create(obj: &Object) -> Result<(), ApiError> {
    let mut causes = Vec::new();
    if let Some(g) = obj.meta.generate_name.as_deref().filter(|g| !g.is_empty()) {
        causes.extend(name_rule(obj.kind, &mask_trailing_dash(g)).iter().map(|m| invalid("metadata.generateName", g, m)));
    }
    if obj.meta.name.is_empty() {
        causes.push(Cause {
            reason: "FieldValueRequired",
            field: "metadata.name".into(),
            message: "Required value: name or generateName is required".into(),
        });
    } else {
        causes.extend(name_rule(obj.kind, &obj.meta.name).iter().map(|m| invalid("metadata.name", &obj.meta.name, m)));
    }
    labels(obj, &mut causes);
    annotations(obj, &mut causes);
    finalizers(obj, &mut causes);
    if matches!(obj.kind, Kind::ConfigMap | Kind::Secret) {
        data_keys(obj, &mut causes);
    }
    done(obj, causes)
}

/// Validate an update: only what changed since `old` (see the module doc).
pub fn update(obj: &Object, old: &Object) -> Result<(), ApiError> {
    let mut causes = Vec::new();
    if !obj.meta.labels.shares(&old.meta.labels) && obj.meta.labels != old.meta.labels {
        labels(obj, &mut causes);
    }
    if !obj.meta.annotations.shares(&old.meta.annotations) && obj.meta.annotations != old.meta.annotations {
        annotations(obj, &mut causes);
    }
    if obj.meta.finalizers != old.meta.finalizers {
        finalizers(obj, &mut causes);
    }
    if matches!(obj.kind, Kind::ConfigMap | Kind::Secret) && !obj.body.shares(&old.body) {
        data_keys(obj, &mut causes);
    }
    done(obj, causes)
}

fn done(obj: &Object, causes: Vec<Cause>) -> Result<(), ApiError> {
    if causes.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid_fields(obj.kind, &obj.meta.name, causes))
    }
}

/// The object metadata's errors and the schema's as one 422, as the API server lists them together
/// (`customresource/strategy.go: Validate` appends the schema's field errors to `ObjectMeta`'s).
pub fn together(obj: &Object, meta: Result<(), ApiError>, schema: Result<(), ApiError>) -> Result<(), ApiError> {
    match (meta, schema) {
        (Ok(()), Ok(())) => Ok(()),
        (Err(e), Ok(())) | (Ok(()), Err(e)) => Err(e),
        (Err(a), Err(b)) => Err(ApiError::invalid_fields(obj.kind, &obj.meta.name, a.causes.into_iter().chain(b.causes).collect())),
    }
}

/// Refuse deleting an immortal namespace (403).
pub fn delete(kind: Kind, name: &str) -> Result<(), ApiError> {
    if kind == Kind::Namespace && IMMORTAL_NAMESPACES.contains(&name) {
        return Err(ApiError::forbidden(kind, name, "this namespace may not be deleted"));
    }
    Ok(())
}

//! A value against a structural schema of [`super::schema`], as the API server checks a custom
//! resource (`apiextensions-apiserver`'s pruning and kube-openapi's validation): the fields the
//! schema does not know (pruned, unless `x-kubernetes-preserve-unknown-fields`), and the errors in
//! types, enums, required fields, lengths, bounds and item counts, each with its field path and
//! kube-openapi's wording. Patterns and CEL rules are not checked.

use serde_json::{Map, Value};

/// One field error: the field error type (`FieldValueRequired`...), the path (`spec.topology.version`)
/// and the message without the path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// `FieldValueRequired`, `FieldValueTypeInvalid`, `FieldValueNotSupported`, `FieldValueInvalid`,
    /// `FieldValueTooLong`, `FieldValueTooMany`.
    pub reason: &'static str,
    /// The field path.
    pub field: String,
    /// The message (`Required value`, `Unsupported value: "x": supported values: "a", "b"`).
    pub message: String,
}

/// The paths of the fields of `value` that `schema` does not know (what pruning removes), in order.
pub fn unknown_fields(schema: &Value, value: &Value) -> Vec<String> {
    let mut out = Vec::new();
    unknown(schema, value, None, "", &mut out);
    out
}

/// The paths of the fields of `value` that `schema` does not know, looking only where `value`
/// differs from `old` (what was stored before was pruned when it was written), under `path`.
pub fn unknown_fields_changed(schema: &Value, value: &Value, old: Option<&Value>, path: &str, out: &mut Vec<String>) {
    unknown(schema, value, old, path, out);
}

/// Remove the fields `schema` does not know from `value`; returns whether anything was removed.
pub fn prune(schema: &Value, value: &mut Value) -> bool {
    let Some(s) = schema.as_object() else { return false };
    if preserves(s) {
        return false;
    }
    let mut changed = false;
    match value {
        Value::Object(m) => {
            if let Some(Value::Object(props)) = s.get("properties") {
                let before = m.len();
                m.retain(|k, _| props.contains_key(k.as_str()));
                changed |= m.len() != before;
                for (k, v) in m.iter_mut() {
                    changed |= prune(&props[k.as_str()], v);
                }
            } else if let Some(ap @ Value::Object(_)) = s.get("additionalProperties") {
                for (_, v) in m.iter_mut() {
                    changed |= prune(ap, v);
                }
            }
        }
        Value::Array(a) => {
            if let Some(items) = s.get("items") {
                for v in a.iter_mut() {
                    changed |= prune(items, v);
                }
            }
        }
        _ => {}
    }
    changed
}

fn preserves(s: &Map<String, Value>) -> bool {
    s.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true))
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// The child of `old` under a key, when `old` is an object.
fn old_field<'a>(old: Option<&'a Value>, key: &str) -> Option<&'a Value> {
    old.and_then(|o| o.as_object()).and_then(|m| m.get(key))
}

/// The item of `old` at an index, when `old` is an array.
fn old_item(old: Option<&Value>, i: usize) -> Option<&Value> {
    old.and_then(Value::as_array).and_then(|a| a.get(i))
}

fn unknown(schema: &Value, value: &Value, old: Option<&Value>, path: &str, out: &mut Vec<String>) {
    let Some(s) = schema.as_object() else { return };
    if preserves(s) || old == Some(value) {
        return;
    }
    match value {
        Value::Object(m) => {
            if let Some(Value::Object(props)) = s.get("properties") {
                for (k, v) in m {
                    match props.get(k.as_str()) {
                        Some(p) => unknown(p, v, old_field(old, k), &join(path, k), out),
                        None => out.push(join(path, k)),
                    }
                }
            } else if let Some(ap @ Value::Object(_)) = s.get("additionalProperties") {
                for (k, v) in m {
                    unknown(ap, v, old_field(old, k), &join(path, k), out);
                }
            }
        }
        Value::Array(a) => {
            if let Some(items) = s.get("items") {
                for (i, v) in a.iter().enumerate() {
                    unknown(items, v, old_item(old, i), &format!("{path}[{i}]"), out);
                }
            }
        }
        _ => {}
    }
}

/// kube-openapi's name of a JSON value's type.
fn type_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn quote(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    }
}

/// The errors of `value` against `schema` (after pruning, as the API server validates), in path order.
pub fn validate(schema: &Value, value: &Value) -> Vec<FieldError> {
    let mut out = Vec::new();
    check(schema, value, None, "", &mut out);
    out
}

/// The errors of `value` under `path`, looking only where it differs from `old`: an unchanged
/// field is not validated again, as the API server's validation ratcheting (Kubernetes 1.30+,
/// `CRDValidationRatcheting`) lets an unchanged invalid value stand.
pub fn validate_changed(schema: &Value, value: &Value, old: Option<&Value>, path: &str, out: &mut Vec<FieldError>) {
    check(schema, value, old, path, out);
}

fn err(out: &mut Vec<FieldError>, reason: &'static str, field: &str, message: String) {
    out.push(FieldError { reason, field: field.to_string(), message });
}

fn check(schema: &Value, value: &Value, old: Option<&Value>, path: &str, out: &mut Vec<FieldError>) {
    let Some(s) = schema.as_object() else { return };
    if old == Some(value) {
        return;
    }
    let int_or_string = s.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true));
    let actual = type_of(value);
    if value.is_null() {
        // A null is dropped for fields that are not nullable (the API server prunes nulls it may).
        return;
    }
    if int_or_string {
        if !matches!(actual, "integer" | "string") {
            err(
                out,
                "FieldValueTypeInvalid",
                path,
                format!("Invalid value: \"{actual}\": {path} in body must be of type integer,string: \"{actual}\""),
            );
        }
        return;
    }
    if let Some(want) = s.get("type").and_then(Value::as_str) {
        let ok = want == actual || (want == "number" && actual == "integer");
        if !ok {
            err(
                out,
                "FieldValueTypeInvalid",
                path,
                format!("Invalid value: \"{actual}\": {path} in body must be of type {want}: \"{actual}\""),
            );
            return;
        }
    }
    if let Some(Value::Array(allowed)) = s.get("enum") {
        if !allowed.contains(value) {
            let list: Vec<String> = allowed.iter().map(quote).collect();
            err(out, "FieldValueNotSupported", path, format!("Unsupported value: {}: supported values: {}", quote(value), list.join(", ")));
        }
    }
    let num = |k: &str| s.get(k).and_then(Value::as_i64);
    match value {
        Value::String(text) => {
            let len = text.chars().count() as i64;
            if let Some(max) = num("maxLength").filter(|m| len > *m) {
                err(out, "FieldValueTooLong", path, format!("Too long: may not be more than {max} bytes"));
            }
            if let Some(min) = num("minLength").filter(|m| len < *m) {
                err(
                    out,
                    "FieldValueInvalid",
                    path,
                    format!("Invalid value: {}: {path} in body should be at least {min} chars long", quote(value)),
                );
            }
        }
        Value::Number(n) => {
            if let (Some(min), Some(x)) = (num("minimum"), n.as_f64()) {
                if x < min as f64 {
                    err(
                        out,
                        "FieldValueInvalid",
                        path,
                        format!("Invalid value: {n}: {path} in body should be greater than or equal to {min}"),
                    );
                }
            }
            if let (Some(max), Some(x)) = (num("maximum"), n.as_f64()) {
                if x > max as f64 {
                    err(
                        out,
                        "FieldValueInvalid",
                        path,
                        format!("Invalid value: {n}: {path} in body should be less than or equal to {max}"),
                    );
                }
            }
        }
        Value::Array(a) => {
            if let Some(max) = num("maxItems").filter(|m| a.len() as i64 > *m) {
                err(out, "FieldValueTooMany", path, format!("Too many: {}: must have at most {max} items", a.len()));
            }
            if let Some(min) = num("minItems").filter(|m| (a.len() as i64) < *m) {
                err(out, "FieldValueInvalid", path, format!("Invalid value: {}: {path} in body should have at least {min} items", a.len()));
            }
            if let Some(items) = s.get("items") {
                for (i, v) in a.iter().enumerate() {
                    check(items, v, old_item(old, i), &format!("{path}[{i}]"), out);
                }
            }
        }
        Value::Object(m) => {
            if let Some(Value::Array(req)) = s.get("required") {
                for r in req.iter().filter_map(Value::as_str) {
                    if m.get(r).is_none_or(Value::is_null) {
                        err(out, "FieldValueRequired", &join(path, r), "Required value".into());
                    }
                }
            }
            if let Some(min) = num("minProperties").filter(|n| (m.len() as i64) < *n) {
                err(
                    out,
                    "FieldValueInvalid",
                    path,
                    format!("Invalid value: {}: {path} in body should have at least {min} properties", m.len()),
                );
            }
            if let Some(Value::Object(props)) = s.get("properties") {
                for (k, v) in m {
                    if let Some(p) = props.get(k.as_str()) {
                        check(p, v, old_field(old, k), &join(path, k), out);
                    }
                }
            } else if let Some(ap @ Value::Object(_)) = s.get("additionalProperties") {
                for (k, v) in m {
                    check(ap, v, old_field(old, k), &join(path, k), out);
                }
            }
        }
        _ => {}
    }
}

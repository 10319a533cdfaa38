//! A value against a structural schema of [`super::schema`], as the API server checks a custom
//! resource (`apiextensions-apiserver`'s pruning and kube-openapi's validation): the fields the
//! schema does not know (pruned, unless `x-kubernetes-preserve-unknown-fields`), and the errors in
//! types, enums, required fields, lengths, bounds and item counts, each with its field path and
//! kube-openapi's wording: types, enums, required fields, lengths, bounds, item and property
//! counts, `pattern` (RE2 syntax, which the `regex` crate shares), and the CEL rules
//! (`x-kubernetes-validations`) that Cluster API's CRDs carry, each restated ([`cel_rule`]).
//! Simplification: `format` is not checked, and a CEL rule not in [`cel_rule`]'s table passes.

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
    validate_changed(schema, value, None, "", &mut out);
    out
}

/// The errors of `value` under `path`, looking only where it differs from `old`: an unchanged
/// field is not validated again, as the API server's validation ratcheting (Kubernetes 1.30+,
/// `CRDValidationRatcheting`) lets an unchanged invalid value stand.
pub fn validate_changed(schema: &Value, value: &Value, old: Option<&Value>, path: &str, out: &mut Vec<FieldError>) {
    // The CEL rules run after the OpenAPI schema, so their errors come last.
    let mut cel = Vec::new();
    check(schema, value, old, path, out, &mut cel);
    out.extend(cel);
}

fn err(out: &mut Vec<FieldError>, reason: &'static str, field: &str, message: String) {
    out.push(FieldError { reason, field: field.to_string(), message });
}

fn check(schema: &Value, value: &Value, old: Option<&Value>, path: &str, out: &mut Vec<FieldError>, cel: &mut Vec<FieldError>) {
    let Some(s) = schema.as_object() else { return };
    if old == Some(value) {
        return;
    }
    if !value.is_null() {
        cel_rules(s, value, path, cel);
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
            if let Some(p) = s.get("pattern").and_then(Value::as_str) {
                if pattern_fails(p, text) {
                    err(out, "FieldValueInvalid", path, format!("Invalid value: {}: {path} in body should match '{p}'", quote(value)));
                }
            }
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
                    check(items, v, old_item(old, i), &format!("{path}[{i}]"), out, cel);
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
                        check(p, v, old_field(old, k), &join(path, k), out, cel);
                    }
                }
            } else if let Some(ap @ Value::Object(_)) = s.get("additionalProperties") {
                for (k, v) in m {
                    check(ap, v, old_field(old, k), &join(path, k), out, cel);
                }
            }
        }
        _ => {}
    }
}

/// Whether `text` fails the schema's `pattern` (a pattern that does not compile checks nothing).
/// Compiled patterns are kept per thread.
fn pattern_fails(pattern: &str, text: &str) -> bool {
    thread_local! {
        static COMPILED: std::cell::RefCell<std::collections::BTreeMap<String, Option<regex::Regex>>> = const { std::cell::RefCell::new(std::collections::BTreeMap::new()) };
    }
    COMPILED.with(|c| {
        let mut c = c.borrow_mut();
        let re = c.entry(pattern.to_string()).or_insert_with(|| regex::Regex::new(pattern).ok());
        re.as_ref().is_some_and(|re| !re.is_match(text))
    })
}

/// The `x-kubernetes-validations` of a node, each answered as the API server's CEL validator
/// answers a failed rule: `<path>: Invalid value: "<schema type>": <message>`
/// (`apiextensions-apiserver/pkg/apiserver/schema/cel/validation.go`).
fn cel_rules(s: &Map<String, Value>, value: &Value, path: &str, out: &mut Vec<FieldError>) {
    let Some(Value::Array(rules)) = s.get("x-kubernetes-validations") else { return };
    let type_name = s.get("type").and_then(Value::as_str).unwrap_or("object");
    for r in rules {
        let rule = r.get("rule").and_then(Value::as_str).unwrap_or("");
        if cel_rule(rule, value) == Some(false) {
            let message = r.get("message").and_then(Value::as_str).map(str::to_string).unwrap_or_else(|| format!("failed rule: {rule}"));
            err(out, "FieldValueInvalid", path, format!("Invalid value: \"{type_name}\": {message}"));
        }
    }
}

/// The CEL rules Cluster API's v1beta2 CRDs use, restated: whether `value` passes `rule` (`None`
/// for a rule not in this table).
pub fn cel_rule(rule: &str, value: &Value) -> Option<bool> {
    let items = || value.as_array().map(Vec::as_slice).unwrap_or(&[]);
    match rule {
        // Entries unique (`MachineDrainRule` machines and pods).
        "self.all(x, self.exists_one(y, x == y))" => {
            let list = items();
            Some(list.iter().enumerate().all(|(i, x)| !list[..i].contains(x)))
        }
        // Names unique (kubeadm `extraArgs`, `kubeletExtraArgs`).
        "self.all(x, self.exists_one(y, x.name == y.name))" => {
            let names: Vec<Option<&Value>> = items().iter().map(|x| x.get("name")).collect();
            Some(names.iter().enumerate().all(|(i, n)| !names[..i].contains(n)))
        }
        _ => {
            // `!(self in ['A','B'])` (MachineHealthCheck unhealthy Machine condition types).
            if let Some(list) = rule.strip_prefix("!(self in [").and_then(|r| r.strip_suffix("])")) {
                let text = value.as_str()?;
                return Some(!list.split(',').map(|x| x.trim().trim_matches('\'')).any(|x| x == text));
            }
            // `self.matches('<RE2>')` (KubeadmConfig partition types).
            if let Some(re) = rule.strip_prefix("self.matches('").and_then(|r| r.strip_suffix("')")) {
                return Some(!pattern_fails(re, value.as_str()?));
            }
            None
        }
    }
}

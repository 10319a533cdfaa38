//! A value against a structural schema of [`super::schema`], as the API server checks a custom
//! resource (`apiextensions-apiserver`'s pruning and kube-openapi's validation): the fields the
//! schema does not know (pruned, unless `x-kubernetes-preserve-unknown-fields`), and the errors in
//! types, enums, required fields, lengths, bounds, item and property counts and `pattern` (RE2
//! syntax, which the `regex` crate shares), each with its field path and kube-openapi's wording,
//! then the CEL rules (`x-kubernetes-validations`) that Cluster API's CRDs carry, each restated
//! ([`cel_rule`]).
//!
//! A schema is compiled once into a [`Node`] tree (its keywords read into fields, its patterns
//! compiled on first use), so a write's walk reads fields instead of looking keywords up in JSON
//! maps.
//!
//! Simplification: `format` is not checked, and a CEL rule not in [`cel_rule`]'s table passes.

use serde_json::{Map, Value};
use std::collections::BTreeMap;

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

/// One node of a compiled structural schema.
#[derive(Debug, Default)]
pub struct Node {
    /// `type` (absent for free-form and int-or-string nodes).
    ty: Option<String>,
    int_or_string: bool,
    preserve_unknown: bool,
    enum_values: Option<Vec<Value>>,
    /// `pattern`, compiled when a value first meets it (a schema has thousands of patterns, most of
    /// which a run never meets).
    pattern: Option<(String, std::sync::OnceLock<Option<regex::Regex>>)>,
    min_length: Option<i64>,
    max_length: Option<i64>,
    minimum: Option<i64>,
    maximum: Option<i64>,
    min_items: Option<i64>,
    max_items: Option<i64>,
    min_properties: Option<i64>,
    required: Vec<String>,
    properties: Option<BTreeMap<String, Node>>,
    additional: Option<Box<Node>>,
    items: Option<Box<Node>>,
    /// `x-kubernetes-validations`: rule and message.
    cel: Vec<(String, Option<String>)>,
}

impl Node {
    /// Compile a structural schema.
    pub fn compile(schema: &Value) -> Node {
        let Some(s) = schema.as_object() else { return Node::default() };
        let num = |k: &str| s.get(k).and_then(Value::as_i64);
        let sub = |k: &str| s.get(k).filter(|v| v.is_object()).map(|v| Box::new(Node::compile(v)));
        Node {
            ty: s.get("type").and_then(Value::as_str).map(str::to_string),
            int_or_string: s.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true)),
            preserve_unknown: s.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true)),
            enum_values: s.get("enum").and_then(Value::as_array).cloned(),
            pattern: s.get("pattern").and_then(Value::as_str).map(|p| (p.to_string(), std::sync::OnceLock::new())),
            min_length: num("minLength"),
            max_length: num("maxLength"),
            minimum: num("minimum"),
            maximum: num("maximum"),
            min_items: num("minItems"),
            max_items: num("maxItems"),
            min_properties: num("minProperties"),
            required: s
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
            properties: s
                .get("properties")
                .and_then(Value::as_object)
                .map(|p| p.iter().map(|(k, v)| (k.clone(), Node::compile(v))).collect()),
            additional: sub("additionalProperties"),
            items: sub("items"),
            cel: s
                .get("x-kubernetes-validations")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|r| {
                    let text = |k: &str| r.get(k).and_then(Value::as_str).map(str::to_string);
                    (text("rule").unwrap_or_default(), text("message"))
                })
                .collect(),
        }
    }

    /// The schema of a property (`None` when the node declares no such property).
    pub fn property(&self, key: &str) -> Option<&Node> {
        self.properties.as_ref()?.get(key)
    }

    /// Whether the node declares properties (an object whose unknown fields are pruned).
    pub fn has_properties(&self) -> bool {
        self.properties.is_some()
    }

    /// The properties the node requires.
    pub fn required(&self) -> &[String] {
        &self.required
    }

    /// The paths of the fields of `value` this schema does not know, looking only where `value`
    /// differs from `old` (what was stored before was pruned when it was written), under `path`.
    /// Returns whether a field is null (no field here is nullable, and the API server drops a
    /// non-nullable null without a default: `structuraldefaulting.PruneNonNullableNullsWithoutDefaults`).
    pub fn unknown_changed(&self, value: &Value, old: Option<&Value>, path: &str, out: &mut Vec<String>) -> bool {
        self.unknown(value, old, &P::Root(path), out)
    }

    /// Remove the fields this schema does not know, and the null fields, from `value`; returns
    /// whether anything was removed.
    pub fn prune(&self, value: &mut Value) -> bool {
        if self.preserve_unknown {
            return false;
        }
        let mut changed = false;
        match value {
            Value::Object(m) => {
                if let Some(props) = &self.properties {
                    let before = m.len();
                    m.retain(|k, v| props.contains_key(k.as_str()) && !v.is_null());
                    changed |= m.len() != before;
                    for (k, v) in m.iter_mut() {
                        changed |= props[k.as_str()].prune(v);
                    }
                } else if let Some(ap) = &self.additional {
                    let before = m.len();
                    m.retain(|_, v| !v.is_null());
                    changed |= m.len() != before;
                    for (_, v) in m.iter_mut() {
                        changed |= ap.prune(v);
                    }
                }
            }
            Value::Array(a) => {
                if let Some(items) = &self.items {
                    for v in a.iter_mut() {
                        changed |= items.prune(v);
                    }
                }
            }
            _ => {}
        }
        changed
    }

    /// The errors of `value` under `path`, looking only where it differs from `old`: an unchanged
    /// field is not validated again, as the API server's validation ratcheting (Kubernetes 1.30+,
    /// `CRDValidationRatcheting`) lets an unchanged invalid value stand. The CEL rules run after the
    /// OpenAPI schema, so their errors come last.
    pub fn validate_changed(&self, value: &Value, old: Option<&Value>, path: &str, out: &mut Vec<FieldError>) {
        let mut cel = Vec::new();
        self.check(value, old, &P::Root(path), out, &mut cel);
        out.extend(cel);
    }

    fn unknown(&self, value: &Value, old: Option<&Value>, path: &P<'_>, out: &mut Vec<String>) -> bool {
        if self.preserve_unknown || old == Some(value) {
            return false;
        }
        let mut nulls = false;
        match value {
            Value::Object(m) => {
                if let Some(props) = &self.properties {
                    for (k, v) in m {
                        match props.get(k.as_str()) {
                            Some(_) if v.is_null() => nulls = true,
                            Some(p) => nulls |= p.unknown(v, old_field(old, k), &P::Key(path, k), out),
                            None => out.push(P::Key(path, k).render()),
                        }
                    }
                } else if let Some(ap) = &self.additional {
                    for (k, v) in m {
                        nulls |= v.is_null() || ap.unknown(v, old_field(old, k), &P::Key(path, k), out);
                    }
                }
            }
            Value::Array(a) => {
                if let Some(items) = &self.items {
                    for (i, v) in a.iter().enumerate() {
                        nulls |= items.unknown(v, old_item(old, i), &P::Index(path, i), out);
                    }
                }
            }
            _ => {}
        }
        nulls
    }

    fn check(&self, value: &Value, old: Option<&Value>, path: &P<'_>, out: &mut Vec<FieldError>, cel: &mut Vec<FieldError>) {
        // A null is dropped for fields that are not nullable (the API server prunes nulls it may).
        if value.is_null() || old == Some(value) {
            return;
        }
        self.cel_rules(value, path, cel);
        let actual = type_of(value);
        if self.int_or_string {
            if !matches!(actual, "integer" | "string") {
                err(out, "FieldValueTypeInvalid", path, |path| {
                    format!("Invalid value: \"{actual}\": {path} in body must be of type integer,string: \"{actual}\"")
                });
            }
            return;
        }
        if let Some(want) = self.ty.as_deref() {
            if !(want == actual || (want == "number" && actual == "integer")) {
                err(out, "FieldValueTypeInvalid", path, |path| {
                    format!("Invalid value: \"{actual}\": {path} in body must be of type {want}: \"{actual}\"")
                });
                return;
            }
        }
        if let Some(allowed) = &self.enum_values {
            if !allowed.contains(value) {
                let list: Vec<String> = allowed.iter().map(quote).collect();
                err(out, "FieldValueNotSupported", path, |_| {
                    format!("Unsupported value: {}: supported values: {}", quote(value), list.join(", "))
                });
            }
        }
        match value {
            Value::String(text) => self.check_string(value, text, path, out),
            Value::Number(n) => {
                let x = n.as_f64();
                if let (Some(min), Some(x)) = (self.minimum, x) {
                    if x < min as f64 {
                        err(out, "FieldValueInvalid", path, |path| {
                            format!("Invalid value: {n}: {path} in body should be greater than or equal to {min}")
                        });
                    }
                }
                if let (Some(max), Some(x)) = (self.maximum, x) {
                    if x > max as f64 {
                        err(out, "FieldValueInvalid", path, |path| {
                            format!("Invalid value: {n}: {path} in body should be less than or equal to {max}")
                        });
                    }
                }
            }
            Value::Array(a) => {
                let len = a.len() as i64;
                if let Some(max) = self.max_items.filter(|m| len > *m) {
                    err(out, "FieldValueTooMany", path, |_| format!("Too many: {len}: must have at most {max} items"));
                }
                if let Some(min) = self.min_items.filter(|m| len < *m) {
                    err(out, "FieldValueInvalid", path, |path| {
                        format!("Invalid value: {len}: {path} in body should have at least {min} items")
                    });
                }
                if let Some(items) = &self.items {
                    for (i, v) in a.iter().enumerate() {
                        items.check(v, old_item(old, i), &P::Index(path, i), out, cel);
                    }
                }
            }
            Value::Object(m) => {
                for r in &self.required {
                    if m.get(r.as_str()).is_none_or(Value::is_null) {
                        err(out, "FieldValueRequired", &P::Key(path, r), |_| "Required value".into());
                    }
                }
                let len = m.len() as i64;
                if let Some(min) = self.min_properties.filter(|n| len < *n) {
                    err(out, "FieldValueInvalid", path, |path| {
                        format!("Invalid value: {len}: {path} in body should have at least {min} properties")
                    });
                }
                if let Some(props) = &self.properties {
                    for (k, v) in m {
                        if let Some(p) = props.get(k.as_str()) {
                            p.check(v, old_field(old, k), &P::Key(path, k), out, cel);
                        }
                    }
                } else if let Some(ap) = &self.additional {
                    for (k, v) in m {
                        ap.check(v, old_field(old, k), &P::Key(path, k), out, cel);
                    }
                }
            }
            _ => {}
        }
    }

    fn check_string(&self, value: &Value, text: &str, path: &P<'_>, out: &mut Vec<FieldError>) {
        if let Some((p, re)) = &self.pattern {
            if re.get_or_init(|| regex::Regex::new(p).ok()).as_ref().is_some_and(|re| !re.is_match(text)) {
                err(out, "FieldValueInvalid", path, |path| format!("Invalid value: {}: {path} in body should match '{p}'", quote(value)));
            }
        }
        if self.max_length.is_none() && self.min_length.is_none() {
            return;
        }
        let len = text.chars().count() as i64;
        if let Some(max) = self.max_length.filter(|m| len > *m) {
            err(out, "FieldValueTooLong", path, |_| format!("Too long: may not be more than {max} bytes"));
        }
        if let Some(min) = self.min_length.filter(|m| len < *m) {
            err(out, "FieldValueInvalid", path, |path| {
                format!("Invalid value: {}: {path} in body should be at least {min} chars long", quote(value))
            });
        }
    }

    /// The `x-kubernetes-validations` of the node, each answered as the API server's CEL validator
    /// answers a failed rule: `<path>: Invalid value: "<schema type>": <message>`
    /// (`apiextensions-apiserver/pkg/apiserver/schema/cel/validation.go`).
    fn cel_rules(&self, value: &Value, path: &P<'_>, out: &mut Vec<FieldError>) {
        for (rule, message) in &self.cel {
            if cel_rule(rule, value) == Some(false) {
                let type_name = self.ty.as_deref().unwrap_or("object");
                let message = message.clone().unwrap_or_else(|| format!("failed rule: {rule}"));
                err(out, "FieldValueInvalid", path, |_| format!("Invalid value: \"{type_name}\": {message}"));
            }
        }
    }
}

/// A field path, rendered only when an error or an unknown field names it: building every path on
/// the walk cost more than the checks themselves.
#[derive(Clone, Copy)]
enum P<'a> {
    Root(&'a str),
    Key(&'a P<'a>, &'a str),
    Index(&'a P<'a>, usize),
}

impl P<'_> {
    fn render(&self) -> String {
        let mut s = String::new();
        self.write(&mut s);
        s
    }

    fn write(&self, s: &mut String) {
        match self {
            P::Root(r) => s.push_str(r),
            P::Key(parent, k) => {
                parent.write(s);
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(k);
            }
            P::Index(parent, i) => {
                parent.write(s);
                s.push('[');
                s.push_str(&i.to_string());
                s.push(']');
            }
        }
    }
}

/// Record an error at `path`; `message` gets the rendered path (kube-openapi repeats it inside).
fn err(out: &mut Vec<FieldError>, reason: &'static str, path: &P<'_>, message: impl FnOnce(&str) -> String) {
    let field = path.render();
    let message = message(&field);
    out.push(FieldError { reason, field, message });
}

/// The child of `old` under a key, when `old` is an object.
fn old_field<'a>(old: Option<&'a Value>, key: &str) -> Option<&'a Value> {
    old.and_then(|o| o.as_object()).and_then(|m: &Map<String, Value>| m.get(key))
}

/// The item of `old` at an index, when `old` is an array.
fn old_item(old: Option<&Value>, i: usize) -> Option<&Value> {
    old.and_then(Value::as_array).and_then(|a| a.get(i))
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
                return Some(regex::Regex::new(re).ok()?.is_match(value.as_str()?));
            }
            None
        }
    }
}

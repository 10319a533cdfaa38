//! The OpenAPI v3 schema subset ClusterClass variables use: validation of a value (types, `enum`,
//! bounds, lengths, item counts, `required`, unknown fields) with the messages the Kubernetes schema
//! validator gives, and structural defaulting (`default` at any level, applied recursively).
//! Sources: `internal/topology/variables/cluster_variable_validation.go`,
//! `internal/topology/variables/cluster_variable_defaulting.go`, and the apiextensions validator they call.
//!
//! Simplifications: `pattern`, `format`, `uniqueItems`, `oneOf/anyOf/allOf/not` and CEL
//! (`x-kubernetes-validations`) are not checked.

use super::field::{FPath, FieldError};
use serde_json::{Map, Value};

/// The variable types a ClusterClass may declare.
pub const VALID_TYPES: &[&str] = &["array", "boolean", "integer", "number", "object", "string"];

/// The JSON type name of a value, as the validator reports it.
pub fn type_name(v: &Value) -> &'static str {
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

fn type_ok(want: &str, v: &Value) -> bool {
    match want {
        "" => true,
        "number" => v.is_number(),
        other => type_name(v) == other,
    }
}

/// Validation of one value against a schema.
pub struct Validator<'a> {
    /// Field path of the value (`spec.topology.variables[x].value`).
    pub path: FPath,
    /// The whole variable as JSON text (every error shows it as the bad value).
    pub raw: &'a str,
    /// Errors found.
    pub errs: Vec<FieldError>,
    /// Unknown fields found (relative dotted paths).
    pub unknown: Vec<String>,
}

impl<'a> Validator<'a> {
    /// A validator for a value at `path`.
    pub fn new(path: FPath, raw: &'a str) -> Self {
        Validator { path, raw, errs: Vec::new(), unknown: Vec::new() }
    }

    fn detail(rel: &str, msg: &str) -> String {
        if rel.is_empty() {
            msg.to_string()
        } else {
            format!("{rel} in body {msg}")
        }
    }

    fn at(&self, rel: &str) -> FPath {
        if rel.is_empty() {
            self.path.clone()
        } else {
            rel.split('.').fold(self.path.clone(), |p, seg| p.child(seg))
        }
    }

    /// Validate `v` (found at relative path `rel`) against `schema`.
    pub fn validate(&mut self, v: &Value, schema: &Value, rel: &str) {
        let Some(s) = schema.as_object() else { return };
        let ty = s.get("type").and_then(Value::as_str).unwrap_or("");
        if v.is_null() && s.get("nullable").and_then(Value::as_bool).unwrap_or(false) {
            return;
        }
        if !type_ok(ty, v) {
            let msg = format!("must be of type {ty}: {}", super::field::go_quote(type_name(v)));
            self.errs.push(FieldError::invalid(self.at(rel), self.raw, Self::detail(rel, &msg)));
            return;
        }
        if let Some(options) = s.get("enum").and_then(Value::as_array) {
            if !options.contains(v) {
                let supported: Vec<String> =
                    options.iter().map(|o| o.as_str().map(str::to_string).unwrap_or_else(|| o.to_string())).collect();
                self.errs.push(FieldError::not_supported(self.at(rel), self.raw, &supported));
            }
        }
        match v {
            Value::Number(n) => self.bounds(n.as_f64().unwrap_or(0.0), s, rel),
            Value::String(text) => {
                let len = text.chars().count() as u64;
                if let Some(max) = s.get("maxLength").and_then(Value::as_u64) {
                    if len > max {
                        self.errs.push(FieldError::too_long(self.at(rel), max as usize));
                    }
                }
                if let Some(min) = s.get("minLength").and_then(Value::as_u64) {
                    if len < min {
                        let msg = format!("should be at least {min} chars long");
                        self.errs.push(FieldError::invalid(self.at(rel), self.raw, Self::detail(rel, &msg)));
                    }
                }
            }
            Value::Array(items) => {
                if let Some(min) = s.get("minItems").and_then(Value::as_u64) {
                    if (items.len() as u64) < min {
                        let msg = format!("should have at least {min} items");
                        self.errs.push(FieldError::invalid(self.at(rel), self.raw, Self::detail(rel, &msg)));
                    }
                }
                if let Some(max) = s.get("maxItems").and_then(Value::as_u64) {
                    if (items.len() as u64) > max {
                        let msg = format!("should have at most {max} items");
                        self.errs.push(FieldError::invalid(self.at(rel), self.raw, Self::detail(rel, &msg)));
                    }
                }
                if let Some(item_schema) = s.get("items") {
                    for (i, item) in items.iter().enumerate() {
                        let r = if rel.is_empty() { i.to_string() } else { format!("{rel}.{i}") };
                        self.validate(item, item_schema, &r);
                    }
                }
            }
            Value::Object(m) => self.object(m, s, rel),
            _ => {}
        }
    }

    fn bounds(&mut self, n: f64, s: &Map<String, Value>, rel: &str) {
        let flag = |k: &str| s.get(k).and_then(Value::as_bool).unwrap_or(false);
        if let Some(min) = s.get("minimum").and_then(Value::as_f64) {
            let (bad, msg) = if flag("exclusiveMinimum") {
                (n <= min, format!("should be greater than {}", num_text(&s["minimum"])))
            } else {
                (n < min, format!("should be greater than or equal to {}", num_text(&s["minimum"])))
            };
            if bad {
                self.errs.push(FieldError::invalid(self.at(rel), self.raw, Self::detail(rel, &msg)));
            }
        }
        if let Some(max) = s.get("maximum").and_then(Value::as_f64) {
            let (bad, msg) = if flag("exclusiveMaximum") {
                (n >= max, format!("should be less than {}", num_text(&s["maximum"])))
            } else {
                (n > max, format!("should be less than or equal to {}", num_text(&s["maximum"])))
            };
            if bad {
                self.errs.push(FieldError::invalid(self.at(rel), self.raw, Self::detail(rel, &msg)));
            }
        }
    }

    fn object(&mut self, m: &Map<String, Value>, s: &Map<String, Value>, rel: &str) {
        let props = s.get("properties").and_then(Value::as_object);
        let join = |k: &str| if rel.is_empty() { k.to_string() } else { format!("{rel}.{k}") };
        for req in s.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str) {
            if !m.contains_key(req) {
                self.errs.push(FieldError::required(self.at(&join(req)), ""));
            }
        }
        let preserve = s.get("x-kubernetes-preserve-unknown-fields").and_then(Value::as_bool).unwrap_or(false);
        let additional = s.get("additionalProperties");
        for (k, v) in m {
            match (props.and_then(|p| p.get(k)), additional) {
                (Some(ps), _) => self.validate(v, ps, &join(k)),
                (None, Some(a)) if a.is_object() => self.validate(v, a, &join(k)),
                (None, Some(Value::Bool(true))) => {}
                (None, _) if preserve => {}
                (None, _) => self.unknown.push(join(k)),
            }
        }
    }
}

fn num_text(v: &Value) -> String {
    match v.as_f64() {
        Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", f as i64),
        Some(f) => f.to_string(),
        None => v.to_string(),
    }
}

/// Structural defaulting: fill missing (or null, when not nullable) properties with their `default`,
/// recursively, as the API server defaults custom resources.
pub fn apply_defaults(v: &mut Value, schema: &Value) {
    let Some(s) = schema.as_object() else { return };
    match v {
        Value::Object(m) => {
            if let Some(props) = s.get("properties").and_then(Value::as_object) {
                for (k, ps) in props {
                    let Some(d) = ps.get("default") else { continue };
                    let nullable = ps.get("nullable").and_then(Value::as_bool).unwrap_or(false);
                    let missing = match m.get(k) {
                        None => true,
                        Some(Value::Null) => !nullable,
                        Some(_) => false,
                    };
                    if missing {
                        m.insert(k.clone(), d.clone());
                    }
                }
            }
            let additional = s.get("additionalProperties").filter(|a| a.is_object());
            for (k, child) in m.iter_mut() {
                match s.get("properties").and_then(|p| p.get(k)) {
                    Some(ps) => apply_defaults(child, ps),
                    None => {
                        if let Some(a) = additional {
                            apply_defaults(child, a);
                        }
                    }
                }
            }
        }
        Value::Array(items) => {
            if let Some(is) = s.get("items") {
                for item in items {
                    apply_defaults(item, is);
                }
            }
        }
        _ => {}
    }
}

/// The defaulted value of a variable: `None` when the variable is absent and the schema has no
/// top-level default (or when `create` is false and the variable is absent).
pub fn default_value(current: Option<&Value>, schema: &Value, create: bool) -> Option<Value> {
    let mut v = match current {
        Some(v) if !v.is_null() => v.clone(),
        Some(_) => schema.get("default").cloned().unwrap_or(Value::Null),
        None => {
            if !create {
                return None;
            }
            schema.get("default")?.clone()
        }
    };
    apply_defaults(&mut v, schema);
    Some(v)
}

/// Sanity checks of a variable schema as the ClusterClass webhook does them: known types, and defaults
/// and examples that validate against their schema.
pub fn check_schema(schema: &Value, path: &FPath, errs: &mut Vec<FieldError>) {
    let Some(s) = schema.as_object() else {
        return;
    };
    if let Some(ty) = s.get("type").and_then(Value::as_str) {
        if !ty.is_empty() && !VALID_TYPES.contains(&ty) {
            let supported: Vec<String> = VALID_TYPES.iter().map(|t| t.to_string()).collect();
            errs.push(FieldError::not_supported(path.child("type"), ty, &supported));
            return;
        }
    }
    for (key, what) in [("default", "default"), ("example", "example")] {
        if let Some(d) = s.get(key) {
            let raw = d.to_string();
            let mut v = Validator::new(path.child(what), &raw);
            v.validate(d, schema, "");
            errs.extend(v.errs);
        }
    }
    if let Some(props) = s.get("properties").and_then(Value::as_object) {
        if s.get("additionalProperties").is_some_and(Value::is_object) {
            errs.push(FieldError::forbidden(path.clone(), "additionalProperties and properties are mutually exclusive"));
        }
        for (k, p) in props {
            check_schema(p, &path.child("properties").key(k), errs);
        }
    }
    if let Some(items) = s.get("items") {
        check_schema(items, &path.child("items"), errs);
    }
    if let Some(a) = s.get("additionalProperties").filter(|a| a.is_object()) {
        check_schema(a, &path.child("additionalProperties"), errs);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use serde_json::json;

    fn errors(value: Value, schema: Value) -> Vec<String> {
        let raw = value.to_string();
        let mut v = Validator::new(FPath::new(&["spec", "topology"]).child("variables").key("v").child("value"), &raw);
        v.validate(&value, &schema, "");
        let mut out: Vec<String> = v.errs.iter().map(|e| e.to_string()).collect();
        out.extend(v.unknown.iter().map(|u| format!("unknown {u}")));
        out
    }

    #[rstest]
    #[case(json!(1), json!({"type": "string"}), vec!["spec.topology.variables[v].value: Invalid value: \"1\": must be of type string: \"integer\""])]
    #[case(json!("1"), json!({"type": "integer"}), vec!["spec.topology.variables[v].value: Invalid value: \"\\\"1\\\"\": must be of type integer: \"string\""])]
    #[case(json!(2.5), json!({"type": "number"}), vec![])]
    #[case(json!(99), json!({"type": "integer", "maximum": 10}), vec!["spec.topology.variables[v].value: Invalid value: \"99\": should be less than or equal to 10"])]
    #[case(json!(0), json!({"type": "integer", "minimum": 1}), vec!["spec.topology.variables[v].value: Invalid value: \"0\": should be greater than or equal to 1"])]
    #[case(json!({"enabled": "not-a-bool"}), json!({"type": "object", "properties": {"enabled": {"type": "boolean"}}}),
        vec!["spec.topology.variables[v].value.enabled: Invalid value: \"{\\\"enabled\\\":\\\"not-a-bool\\\"}\": enabled in body must be of type boolean: \"string\""])]
    #[case(json!("x"), json!({"type": "string", "enum": ["a", "b"]}), vec!["spec.topology.variables[v].value: Unsupported value: \"\\\"x\\\"\": supported values: \"a\", \"b\""])]
    #[case(json!(["a"]), json!({"type": "array", "minItems": 2, "items": {"type": "string"}}), vec!["spec.topology.variables[v].value: Invalid value: \"[\\\"a\\\"]\": should have at least 2 items"])]
    #[case(json!({"a": 1}), json!({"type": "object", "properties": {"b": {"type": "integer"}}}), vec!["unknown a"])]
    #[case(json!({}), json!({"type": "object", "required": ["b"], "properties": {"b": {"type": "integer"}}}), vec!["spec.topology.variables[v].value.b: Required value"])]
    #[case(json!(true), json!({"type": "boolean"}), vec![])]
    fn validates_like_the_api_server(#[case] value: Value, #[case] schema: Value, #[case] want: Vec<&str>) {
        assert_eq!(errors(value, schema), want);
    }

    #[rstest]
    // Absent variable with a top-level default gets it.
    #[case(None, json!({"type": "string", "default": ""}), true, Some(json!("")))]
    // Absent variable without a top-level default stays absent, even when properties have defaults.
    #[case(None, json!({"type": "object", "properties": {"enabled": {"type": "boolean", "default": true}}}), true, None)]
    // Present object gets nested defaults.
    #[case(Some(json!({"enforce": "restricted"})), json!({"type": "object", "properties": {
        "enabled": {"type": "boolean", "default": true}, "enforce": {"type": "string", "default": "baseline"}}}), true,
        Some(json!({"enabled": true, "enforce": "restricted"})))]
    // Machine overrides are never created.
    #[case(None, json!({"type": "string", "default": "x"}), false, None)]
    // Defaults of defaults are applied.
    #[case(None, json!({"type": "object", "default": {}, "properties": {"a": {"type": "integer", "default": 3}}}), true, Some(json!({"a": 3})))]
    fn defaults_structurally(#[case] current: Option<Value>, #[case] schema: Value, #[case] create: bool, #[case] want: Option<Value>) {
        assert_eq!(default_value(current.as_ref(), &schema, create), want);
    }

    #[test]
    fn schema_checks_types_and_defaults() {
        let mut errs = Vec::new();
        check_schema(&json!({"type": "strin"}), &FPath::new(&["s"]), &mut errs);
        check_schema(&json!({"type": "integer", "default": "x"}), &FPath::new(&["t"]), &mut errs);
        let texts: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
        assert_eq!(texts[0], "s.type: Unsupported value: \"strin\": supported values: \"array\", \"boolean\", \"integer\", \"number\", \"object\", \"string\"");
        assert_eq!(texts[1], "t.default: Invalid value: \"\\\"x\\\"\": must be of type integer: \"string\"");
    }
}

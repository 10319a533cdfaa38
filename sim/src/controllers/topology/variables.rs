//! ClusterClass variables: the definitions the ClusterClass controller publishes in
//! `status.variables`, and the defaulting and validation of a Cluster's topology variables against
//! them (done by the Cluster webhook and again by the topology controller before computing the
//! desired state).
//! Sources: `core/reconcilers/clusterclass/clusterclass_controller.go` (`reconcileVariables`),
//! `internal/topology/variables/{cluster_variable_defaulting.go,cluster_variable_validation.go,
//! clusterclass_variable_validation.go,utils.go}`, `core/webhooks/admission/cluster.go`
//! (`DefaultAndValidateVariables`, `DefaultVariables`).
//!
//! Simplification: only inline variables exist (no RuntimeSDK discovery), so every definition comes
//! `from: inline` and definitions never conflict.

use super::field::{FPath, FieldError};
use super::schema::{self, Validator};
use crate::object::Ptr;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// `clusterv1.VariableDefinitionFromInline`.
pub const FROM_INLINE: &str = "inline";
/// The reserved builtin variable name.
pub const BUILTIN: &str = "builtin";

/// `status.variables` for a ClusterClass's `spec.variables`, sorted by name.
pub fn status_variables(spec_variables: &[Value]) -> Vec<Value> {
    let mut by_name: BTreeMap<String, Value> = BTreeMap::new();
    for v in spec_variables {
        let Some(name) = v.get("name").and_then(Value::as_str) else { continue };
        let mut def = serde_json::Map::new();
        def.insert("from".into(), json!(FROM_INLINE));
        if let Some(r) = v.get("required") {
            def.insert("required".into(), r.clone());
        }
        if let Some(m) = v.get("deprecatedV1Beta1Metadata") {
            def.insert("deprecatedV1Beta1Metadata".into(), m.clone());
        }
        if let Some(s) = v.get("schema") {
            def.insert("schema".into(), s.clone());
        }
        by_name.insert(name.to_string(), json!({"name": name, "definitionsConflict": false, "definitions": [Value::Object(def)]}));
    }
    by_name.into_values().collect()
}

/// One definition as the defaulting and validation code uses it.
#[derive(Clone, Debug)]
pub struct Definition {
    /// Name.
    pub name: String,
    /// `required`.
    pub required: bool,
    /// `schema.openAPIV3Schema`.
    pub schema: Value,
}

/// Index the status definitions by name (`newDefinitionsIndex`): every variable needs a definition and
/// none may conflict.
pub fn definitions_index(path: &FPath, status: &[Value]) -> Result<BTreeMap<String, Definition>, Vec<FieldError>> {
    let mut out = BTreeMap::new();
    let mut problems = Vec::new();
    for d in status {
        let name = d.get("name").and_then(Value::as_str).unwrap_or("").to_string();
        let defs = d.get("definitions").and_then(Value::as_array).cloned().unwrap_or_default();
        if defs.is_empty() {
            problems.push(format!("variable {} has no definitions", super::field::go_quote(&name)));
        }
        if d.get("definitionsConflict").and_then(Value::as_bool).unwrap_or(false) {
            problems.push(format!("variable {} has conflicting definitions", super::field::go_quote(&name)));
        }
        if let Some(first) = defs.first() {
            out.insert(
                name.clone(),
                Definition {
                    name,
                    required: first.get("required").and_then(Value::as_bool).unwrap_or(false),
                    schema: first.ptr("/schema/openAPIV3Schema").cloned().unwrap_or_else(|| json!({})),
                },
            );
        }
    }
    if problems.is_empty() {
        return Ok(out);
    }
    let names: Vec<String> = status.iter().map(|d| format!("Name: {}", d.get("name").and_then(Value::as_str).unwrap_or(""))).collect();
    Err(vec![FieldError::invalid(
        path.clone(),
        format!("[{}]", names.join(",")),
        format!("variable definitions in the ClusterClass not valid: {}", super::field::aggregate(&problems)),
    )])
}

fn name_of(v: &Value) -> &str {
    v.get("name").and_then(Value::as_str).unwrap_or("")
}

/// The raw JSON text of a variable's value (what error messages show).
fn raw_of(v: &Value) -> String {
    v.get("value").map(|x| x.to_string()).unwrap_or_default()
}

/// Values by name; a variable set twice is an error.
fn values_index<'a>(path: &FPath, values: &'a [Value]) -> Result<BTreeMap<&'a str, &'a Value>, Vec<FieldError>> {
    let mut out = BTreeMap::new();
    let mut errs = Vec::new();
    for v in values {
        if out.insert(name_of(v), v).is_some() {
            errs.push(FieldError::invalid(
                path.key(name_of(v)),
                raw_of(v),
                format!("variable {} is set more than once", super::field::go_quote(name_of(v))),
            ));
        }
    }
    if errs.is_empty() {
        Ok(out)
    } else {
        Err(errs)
    }
}

/// Default a list of variables (`defaultClusterVariables`). With `create`, variables that are not set
/// but whose schema has a top-level default are added (cluster-wide variables); without it only the
/// given ones are defaulted (control-plane and machine overrides).
pub fn default_variables(values: &[Value], status: &[Value], create: bool, path: &FPath) -> Result<Vec<Value>, Vec<FieldError>> {
    let index = values_index(path, values)?;
    let defs = definitions_index(path, status)?;
    let mut all: Vec<(String, Option<&Value>)> = values.iter().map(|v| (name_of(v).to_string(), Some(v))).collect();
    for name in defs.keys() {
        if !index.contains_key(name.as_str()) {
            all.push((name.clone(), None));
        }
    }
    let mut errs = Vec::new();
    let mut out = Vec::new();
    for (name, current) in all {
        let Some(def) = defs.get(&name) else {
            errs.push(FieldError::invalid(path.key(&name), current.map(raw_of).unwrap_or_default(), "variable is not defined"));
            continue;
        };
        let cur_value = current.and_then(|c| c.get("value"));
        let present = current.is_some();
        let defaulted = if present {
            schema::default_value(Some(cur_value.unwrap_or(&Value::Null)), &def.schema, create)
        } else {
            schema::default_value(None, &def.schema, create)
        };
        if let Some(v) = defaulted {
            let mut entry = current.cloned().unwrap_or_else(|| json!({"name": name}));
            // A variable without a value stays without one.
            if let (false, Some(m)) = (v.is_null() && cur_value.is_none(), entry.as_object_mut()) {
                m.insert("value".into(), v);
            }
            out.push(entry);
        } else if let Some(c) = current {
            out.push(c.clone());
        }
    }
    if errs.is_empty() {
        Ok(out)
    } else {
        Err(errs)
    }
}

/// Validate a list of variables (`validateClusterVariables`); `validate_required` only for the
/// cluster-wide list.
pub fn validate_variables(values: &[Value], status: &[Value], validate_required: bool, path: &FPath) -> Vec<FieldError> {
    let index = match values_index(path, values) {
        Ok(i) => i,
        Err(e) => return e,
    };
    let defs = match definitions_index(path, status) {
        Ok(d) => d,
        Err(e) => return e,
    };
    let mut errs = Vec::new();
    if validate_required {
        for (name, def) in &defs {
            if def.required && !index.contains_key(name.as_str()) {
                errs.push(FieldError::required(path.clone(), format!("required variable {} must be set", super::field::go_quote(name))));
            }
        }
    }
    for v in values {
        let name = name_of(v);
        let p = path.key(name);
        let Some(def) = defs.get(name) else {
            errs.push(FieldError::invalid(p, raw_of(v), "variable is not defined"));
            continue;
        };
        errs.extend(validate_value(v, def, &p));
    }
    errs
}

/// Validate one variable value against its definition (`ValidateClusterVariable`).
pub fn validate_value(v: &Value, def: &Definition, path: &FPath) -> Vec<FieldError> {
    let raw = raw_of(v);
    let value = v.get("value").cloned().unwrap_or(Value::Null);
    let mut val = Validator::new(path.child("value"), &raw);
    val.validate(&value, &def.schema, "");
    if !val.errs.is_empty() {
        return val.errs;
    }
    if !val.unknown.is_empty() {
        return vec![FieldError::invalid(
            path.clone(),
            raw.clone(),
            format!(
                "failed validation: {} field(s) are not specified in the variable schema of variable {}",
                super::field::go_quote(&val.unknown.join(",")),
                super::field::go_quote(&def.name)
            ),
        )];
    }
    Vec::new()
}

fn topology_lists(topology: &Value) -> Vec<(FPath, String)> {
    // (field path of the overrides, JSON pointer of the overrides) for CP, MDs and MPs.
    let mut out = vec![(
        FPath::new(&["spec", "topology", "controlPlane", "variables", "overrides"]),
        "/controlPlane/variables/overrides".to_string(),
    )];
    for (list, key) in [("machineDeployments", "machineDeployments"), ("machinePools", "machinePools")] {
        for (i, w) in topology.ptr(&format!("/workers/{list}")).and_then(Value::as_array).into_iter().flatten().enumerate() {
            let name = w.get("name").and_then(Value::as_str).unwrap_or("");
            out.push((
                FPath::new(&["spec", "topology", "workers", key]).key(name).child("variables").child("overrides"),
                format!("/workers/{list}/{i}/variables/overrides"),
            ));
        }
    }
    out
}

/// Default and validate every variable list of a Cluster topology against a ClusterClass's
/// `status.variables` (`DefaultAndValidateVariables`), defaulting `topology` in place.
pub fn default_and_validate(topology: &mut Value, status: &[Value]) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if !topology.is_object() {
        return vec![FieldError::invalid(FPath::new(&["spec", "topology"]), topology.to_string(), "must be an object")];
    }
    let cluster_path = FPath::new(&["spec", "topology", "variables"]);
    let values: Vec<Value> = topology.get("variables").and_then(Value::as_array).cloned().unwrap_or_default();
    match default_variables(&values, status, true, &cluster_path) {
        Ok(d) => {
            if !d.is_empty() || topology.get("variables").is_some() {
                topology["variables"] = Value::Array(d);
            }
        }
        Err(e) => errs.extend(e),
    }
    let overrides = topology_lists(topology);
    for (path, pointer) in &overrides {
        let list: Vec<Value> = topology.ptr(pointer).and_then(Value::as_array).cloned().unwrap_or_default();
        if list.is_empty() {
            continue;
        }
        match default_variables(&list, status, false, path) {
            Ok(d) => {
                if let Some(slot) = topology.pointer_mut(pointer) {
                    *slot = Value::Array(d);
                }
            }
            Err(e) => errs.extend(e),
        }
    }
    let values: Vec<Value> = topology.get("variables").and_then(Value::as_array).cloned().unwrap_or_default();
    errs.extend(validate_variables(&values, status, true, &cluster_path));
    for (path, pointer) in &overrides {
        let list: Vec<Value> = topology.ptr(pointer).and_then(Value::as_array).cloned().unwrap_or_default();
        if !list.is_empty() {
            errs.extend(validate_variables(&list, status, false, path));
        }
    }
    errs
}

/// Validate a ClusterClass's `spec.variables` (`ValidateClusterClassVariables`): unique, well-formed
/// names and sane schemas.
pub fn validate_class_variables(vars: &[Value], path: &FPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    for v in vars {
        let name = name_of(v);
        if seen.contains(&name) {
            errs.push(FieldError::invalid(
                path.key(name).child("name"),
                name,
                format!("variable name must be unique. Variable with name {} is defined more than once", super::field::go_quote(name)),
            ));
        }
        seen.push(name);
    }
    for v in vars {
        let name = name_of(v);
        let p = path.key(name);
        if name.is_empty() {
            errs.push(FieldError::required(p.child("name"), "variable name must be defined"));
        }
        if name == BUILTIN {
            errs.push(FieldError::invalid(
                p.child("name"),
                name,
                format!("{} is a reserved variable name", super::field::go_quote(BUILTIN)),
            ));
        }
        if name.contains('.') {
            errs.push(FieldError::invalid(p.child("name"), name, "variable name cannot contain \".\""));
        }
        let schema = v.ptr("/schema/openAPIV3Schema").cloned().unwrap_or_else(|| json!({}));
        schema::check_schema(&schema, &p.child("schema").child("openAPIV3Schema"), &mut errs);
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn quick_start_status() -> Vec<Value> {
        status_variables(&[
            json!({"name": "imageRepository", "required": true, "schema": {"openAPIV3Schema": {"type": "string", "default": ""}}}),
            json!({"name": "etcdImageTag", "required": true, "schema": {"openAPIV3Schema": {"type": "string", "default": ""}}}),
            json!({"name": "podSecurityStandard", "required": false, "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                "enabled": {"type": "boolean", "default": true},
                "enforce": {"type": "string", "default": "baseline"},
                "audit": {"type": "string", "default": "restricted"},
                "warn": {"type": "string", "default": "restricted"}}}}}),
            json!({"name": "replicas", "schema": {"openAPIV3Schema": {"type": "integer", "minimum": 1}}}),
        ])
    }

    #[test]
    fn status_is_sorted_and_inline() {
        let s = quick_start_status();
        let names: Vec<&str> = s.iter().map(name_of).collect();
        assert_eq!(names, ["etcdImageTag", "imageRepository", "podSecurityStandard", "replicas"]);
        assert_eq!(s[0]["definitions"][0]["from"], "inline");
        assert_eq!(s[0]["definitionsConflict"], false);
    }

    #[rstest]
    // Required variables with a default are created by defaulting.
    #[case(json!({}), json!([{"name": "etcdImageTag", "value": ""}, {"name": "imageRepository", "value": ""}]))]
    // Nested defaults fill a partial object, set values are kept.
    #[case(json!({"variables": [{"name": "podSecurityStandard", "value": {"enforce": "privileged"}}]}),
        json!([{"name": "podSecurityStandard", "value": {"enabled": true, "enforce": "privileged", "audit": "restricted", "warn": "restricted"}},
               {"name": "etcdImageTag", "value": ""}, {"name": "imageRepository", "value": ""}]))]
    fn defaults_cluster_variables(#[case] mut topology: Value, #[case] want: Value) {
        let errs = default_and_validate(&mut topology, &quick_start_status());
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(topology["variables"], want);
    }

    #[rstest]
    #[case(json!([{"name": "replicas", "value": 0}]), "spec.topology.variables[replicas].value: Invalid value: \"0\": should be greater than or equal to 1")]
    #[case(json!([{"name": "nope", "value": 1}]), "spec.topology.variables[nope]: Invalid value: \"1\": variable is not defined")]
    #[case(json!([{"name": "replicas", "value": 2}, {"name": "replicas", "value": 3}]), "spec.topology.variables[replicas]: Invalid value: \"3\": variable \"replicas\" is set more than once")]
    #[case(json!([{"name": "podSecurityStandard", "value": {"bogus": 1}}]),
        "spec.topology.variables[podSecurityStandard]: Invalid value: \"{\\\"bogus\\\":1}\": failed validation: \"bogus\" field(s) are not specified in the variable schema of variable \"podSecurityStandard\"")]
    fn validation_errors(#[case] values: Value, #[case] want: &str) {
        let values = values.as_array().unwrap().clone();
        let errs = validate_variables(&values, &quick_start_status(), false, &FPath::new(&["spec", "topology", "variables"]));
        assert_eq!(errs.first().map(|e| e.to_string()).as_deref(), Some(want));
    }

    #[test]
    fn required_is_enforced_when_not_defaulted() {
        let status = status_variables(&[json!({"name": "cpu", "required": true, "schema": {"openAPIV3Schema": {"type": "integer"}}})]);
        let errs = validate_variables(&[], &status, true, &FPath::new(&["spec", "topology", "variables"]));
        assert_eq!(errs[0].to_string(), "spec.topology.variables: Required value: required variable \"cpu\" must be set");
        // Overrides do not check `required`.
        assert!(validate_variables(&[], &status, false, &FPath::new(&["x"])).is_empty());
    }

    #[test]
    fn class_variables_are_checked() {
        let errs = validate_class_variables(
            &[
                json!({"name": "builtin", "schema": {"openAPIV3Schema": {"type": "string"}}}),
                json!({"name": "a.b", "schema": {"openAPIV3Schema": {"type": "string"}}}),
                json!({"name": "a.b", "schema": {"openAPIV3Schema": {"type": "bad"}}}),
            ],
            &FPath::new(&["spec", "variables"]),
        );
        let texts: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
        assert!(texts[0].contains("variable name must be unique"), "{texts:?}");
        assert!(texts
            .iter()
            .any(|t| t == "spec.variables[builtin].name: Invalid value: \"builtin\": \"builtin\" is a reserved variable name"));
        assert!(texts.iter().any(|t| t.contains("cannot contain")));
        assert!(texts.iter().any(|t| t.starts_with("spec.variables[a.b].schema.openAPIV3Schema.type: Unsupported value")));
    }
}

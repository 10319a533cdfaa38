//! The JSON Schema of the scenario language, generated from the model types (`schemars`), so that
//! editors (YAML language servers) complete and check scenarios as they are written. The committed
//! copy is `scenarios/schema/scenario.schema.json`; `cargo xtask scenario schema` prints it and a
//! test keeps the copy equal to what the code generates.
//!
//! Types whose YAML form is hand-parsed (targets, field paths, durations, `expect:` lists and the
//! single-key step and predicate maps of [`crate::keyed_enum`]) describe that form here by hand.
//! The schema describes a file after `${VAR}` substitution: a `${VAR}` in a numeric field is a
//! string until then, so editors may flag it while the loader accepts it.

use crate::duration::DurationMs;
use crate::model::ExpectStep;
use crate::predicate::ObjectCheck;
use crate::predicate::Predicate;
use crate::target::{FieldPath, Pick, Quantifier, Target};
use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde_json::Value;
use std::borrow::Cow;
use std::collections::BTreeMap;

/// Where the schema is committed, relative to the repository root.
pub const SCHEMA_PATH: &str = "scenarios/schema/scenario.schema.json";

/// The scenario language's JSON Schema (draft 2020-12), pretty-printed with a trailing newline.
pub fn scenario_schema_json() -> String {
    let schema = schemars::schema_for!(crate::parse::RawScenario);
    let mut text = serde_json::to_string_pretty(&schema).expect("a schema serializes");
    text.push('\n');
    text
}

/// A variable's value: a string, number or boolean.
pub struct Scalar;

impl JsonSchema for Scalar {
    fn schema_name() -> Cow<'static, str> {
        "Scalar".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "description": "A string, number or boolean.", "type": ["string", "number", "boolean"] })
    }
}

/// `status:` of a condition check.
pub fn condition_status(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "description": "\"True\", \"False\" or \"Unknown\" (YAML booleans are read as True/False).",
        "anyOf": [ { "enum": ["True", "False", "Unknown"] }, { "type": "boolean" } ]
    })
}

impl JsonSchema for DurationMs {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A duration with units, as `90s`, `30m`, `1h 30m` or `500ms` (a bare number is refused; at most 100 years).",
            "type": "string",
            "pattern": "^\\s*[0-9.]+\\s*[a-zµ]+(\\s*[0-9.]+\\s*[a-zµ]+)*\\s*$"
        })
    }
}

impl JsonSchema for FieldPath {
    fn schema_name() -> Cow<'static, str> {
        "FieldPath".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A dotted path (`status.phase`, `spec.replicas`, `metadata.labels.app`) or, starting with `$`, an RFC 9535 JSONPath (`$.metadata.annotations['cluster.x-k8s.io/paused']`).",
            "type": "string",
            "minLength": 1
        })
    }
}

impl JsonSchema for ExpectStep {
    fn schema_name() -> Cow<'static, str> {
        "Expectation".into()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let one = generator.subschema_for::<Predicate>();
        json_schema!({
            "description": "A predicate, or a list of predicates that must all hold.",
            "anyOf": [ one, { "type": "array", "items": one } ]
        })
    }
}

impl JsonSchema for Target {
    fn schema_name() -> Cow<'static, str> {
        "Target".into()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let labels = generator.subschema_for::<BTreeMap<String, String>>();
        let pick = generator.subschema_for::<Pick>();
        let quantifier = generator.subschema_for::<Quantifier>();
        let check = generator.subschema_for::<ObjectCheck>();
        let string = |d: &str| serde_json::json!({ "type": "string", "description": d });
        let properties: serde_json::Map<String, Value> = [
            ("kind", string("Kubernetes kind, e.g. `Cluster`, `Machine`, `KubeadmControlPlane`.")),
            ("name", string("Exact name.")),
            ("namespace", string("Namespace (`default` when omitted).")),
            ("cluster", string("Shortcut for the `cluster.x-k8s.io/cluster-name` label.")),
            (
                "control-plane",
                serde_json::json!({ "type": "boolean", "description": "`true`: control-plane objects only; `false`: none of them." }),
            ),
            ("selector", labels.to_value()),
            ("name-prefix", string("The name starts with this.")),
            ("pick", pick.to_value()),
            ("match", quantifier.to_value()),
            ("management", string("Management cluster (the first when omitted).")),
            ("workload", string("Objects inside this workload cluster instead of the management cluster's.")),
            ("where", check.to_value()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        json_schema!({
            "description": "Objects: `Kind/name`, `Kind` (every object of the kind), or a map.",
            "anyOf": [
                { "type": "string", "pattern": "^\\s*[A-Z][A-Za-z0-9]*(/[^/]+)?\\s*$" },
                { "type": "object", "properties": properties, "required": ["kind"], "additionalProperties": false }
            ]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The single keys of a keyed enum's schema, in order.
    fn keys_of(schema: &Value, def: &str) -> Vec<String> {
        schema["$defs"][def]["oneOf"]
            .as_array()
            .unwrap_or_else(|| panic!("no $defs.{def}.oneOf in the schema"))
            .iter()
            .map(|alt| alt["required"][0].as_str().unwrap_or("").to_string())
            .collect()
    }

    #[test]
    fn the_schema_names_every_step_and_predicate() {
        let schema: Value = serde_json::from_str(&scenario_schema_json()).expect("JSON");
        let steps = ["apply", "patch", "delete", "scale", "wait", "expect", "check", "never", "sleep", "fault", "clusterctl", "docker"];
        assert_eq!(keys_of(&schema, "Step"), steps);
        let predicates =
            ["exists", "gone", "field", "condition", "phase", "count", "containers", "all", "any", "not", "finished", "denied", "warned"];
        assert_eq!(keys_of(&schema, "Predicate"), predicates);
        assert_eq!(keys_of(&schema, "ClusterctlStep"), ["describe", "get-kubeconfig", "move"]);
        assert_eq!(schema["additionalProperties"], Value::Bool(false), "unknown top-level keys are refused");
        assert_eq!(schema["required"], serde_json::json!(["steps"]));
    }
}

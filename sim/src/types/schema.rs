//! The structural OpenAPI v3 schema of every served Cluster API kind, generated from the types of
//! [`crate::types`] by `schemars` and made structural as the API server requires of a
//! CustomResourceDefinition's `openAPIV3Schema`: every subschema inlined (no `$ref`), a `type` on
//! every node except free-form (`x-kubernetes-preserve-unknown-fields`) and int-or-string ones,
//! `metadata` as `type: object` (the API server owns its rules), no `nullable`, defaults or titles.
//!
//! The served API publishes these in `/openapi/v2`, `/openapi/v3` and as CRDs;
//! `sim/tests/it/schema_facts.rs` keeps them true to upstream's field names and types.

use super::{addons, bootstrap, capd_dev, capd_docker, controlplane, core};
use crate::kinds::Kind;
use schemars::generate::SchemaSettings;
use schemars::JsonSchema;
use serde_json::{json, Map, Value};
use std::sync::OnceLock;

/// The structural schema of a type (the root object of a kind, or any part of one).
pub fn structural_of<T: JsonSchema>() -> Value {
    let mut settings = SchemaSettings::openapi3();
    settings.inline_subschemas = true;
    settings.meta_schema = None;
    let generator = settings.into_generator();
    let mut v = generator.into_root_schema_for::<T>().to_value();
    make_structural(&mut v);
    v
}

/// Turn schemars' OpenAPI 3 output into a structural schema (see the module doc).
fn make_structural(v: &mut Value) {
    let Value::Object(m) = v else { return };
    for k in ["$schema", "title", "default", "examples", "example", "nullable", "$defs", "definitions", "description"] {
        m.remove(k);
    }
    // `Option<T>` of a type whose schema has subschemas or no `type` of its own comes as
    // `anyOf: [T, null]` (the null as `enum: [null]` after schemars' OpenAPI 3 transforms): keep T.
    for k in ["anyOf", "oneOf"] {
        if let Some(Value::Array(subs)) = m.get(k) {
            let is_null = |s: &&Value| {
                s.get("type") == Some(&json!("null")) || s.get("const") == Some(&Value::Null) || s.get("enum") == Some(&json!([null]))
            };
            let kept: Vec<&Value> = subs.iter().filter(|s| !is_null(s)).collect();
            if kept.len() == 1 && kept.len() < subs.len() {
                if let Value::Object(inner) = kept[0].clone() {
                    m.remove(k);
                    for (ik, iv) in inner {
                        m.entry(ik).or_insert(iv);
                    }
                }
            }
        }
    }
    if let Some(Value::Array(e)) = m.get_mut("enum") {
        e.retain(|x| !x.is_null());
    }
    if let Some(Value::Array(types)) = m.get("type") {
        let t = types.iter().find(|t| *t != "null").cloned();
        match t {
            Some(t) => m.insert("type".into(), t),
            None => m.remove("type"),
        };
    }
    if let Some(Value::Object(props)) = m.get_mut("properties") {
        for p in props.values_mut() {
            make_structural(p);
        }
    }
    for k in ["items", "additionalProperties", "not"] {
        if let Some(sub @ Value::Object(_)) = m.get_mut(k) {
            make_structural(sub);
        }
    }
    for k in ["anyOf", "allOf", "oneOf"] {
        if let Some(Value::Array(subs)) = m.get_mut(k) {
            for s in subs.iter_mut() {
                make_structural(s);
            }
        }
    }
    // An object schema with no properties and no additionalProperties (an empty Go struct) stays
    // an object; an `{}` left by a free-form value keeps its preserve-unknown-fields marker.
    if m.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true)) {
        m.remove("type");
    }
}

/// The root schema of a kind with `metadata` as `type: object`, as a CRD states it.
fn root<T: JsonSchema>() -> Value {
    let mut v = structural_of::<T>();
    if let Some(Value::Object(props)) = v.get_mut("properties") {
        props.insert("metadata".into(), json!({"type": "object"}));
        props.insert("apiVersion".into(), json!({"type": "string"}));
        props.insert("kind".into(), json!({"type": "string"}));
    }
    v
}

/// Calls `$f!(Kind, Type)` for every served custom kind and its Rust type.
macro_rules! custom_kinds {
    ($m:ident, $($arg:tt)*) => {
        $m!($($arg)*;
            Cluster => core::Cluster, ClusterClass => core::ClusterClass, Machine => core::Machine,
            MachineSet => core::MachineSet, MachineDeployment => core::MachineDeployment,
            MachineHealthCheck => core::MachineHealthCheck, MachinePool => core::MachinePool,
            MachineDrainRule => core::MachineDrainRule,
            ClusterResourceSet => addons::ClusterResourceSet, ClusterResourceSetBinding => addons::ClusterResourceSetBinding,
            KubeadmConfig => bootstrap::KubeadmConfig, KubeadmConfigTemplate => bootstrap::KubeadmConfigTemplate,
            KubeadmControlPlane => controlplane::KubeadmControlPlane,
            KubeadmControlPlaneTemplate => controlplane::KubeadmControlPlaneTemplate,
            DockerCluster => capd_docker::DockerCluster, DockerClusterTemplate => capd_docker::DockerClusterTemplate,
            DockerMachine => capd_docker::DockerMachine, DockerMachineTemplate => capd_docker::DockerMachineTemplate,
            DockerMachinePool => capd_docker::DockerMachinePool, DockerMachinePoolTemplate => capd_docker::DockerMachinePoolTemplate,
            DevCluster => capd_dev::DevCluster, DevClusterTemplate => capd_dev::DevClusterTemplate,
            DevMachine => capd_dev::DevMachine, DevMachineTemplate => capd_dev::DevMachineTemplate,
            DevMachinePool => capd_dev::DevMachinePool, DevMachinePoolTemplate => capd_dev::DevMachinePoolTemplate
        )
    };
}

macro_rules! generate_match {
    ($kind:expr; $($k:ident => $t:ty),*) => {
        match $kind {
            $(Kind::$k => Some(root::<$t>()),)*
            Kind::Namespace | Kind::ConfigMap | Kind::Secret | Kind::Event => None,
        }
    };
}

macro_rules! roundtrip_match {
    ($kind:expr, $v:expr; $($k:ident => $t:ty),*) => {
        match $kind {
            $(Kind::$k => Some(serde_json::from_value::<$t>($v.clone()).and_then(serde_json::to_value)),)*
            Kind::Namespace | Kind::ConfigMap | Kind::Secret | Kind::Event => None,
        }
    };
}

fn generate(kind: Kind) -> Option<Value> {
    custom_kinds!(generate_match, kind)
}

/// Decode an object of a custom kind into its Rust type and encode it again (`None` for the core
/// kinds): what the types keep of it. An error names what does not decode (a missing required
/// field, a wrong type, a value outside an enum).
pub fn roundtrip(kind: Kind, object: &Value) -> Option<Result<Value, serde_json::Error>> {
    custom_kinds!(roundtrip_match, kind, object)
}

/// The structural schema of a served custom kind (`None` for the built-in core kinds), generated
/// once per process (a pure function of the types).
pub fn of(kind: Kind) -> Option<&'static Value> {
    static SCHEMAS: OnceLock<Vec<Option<Value>>> = OnceLock::new();
    SCHEMAS.get_or_init(|| Kind::all().map(generate).collect())[kind as usize].as_ref()
}

/// The structural schema of a served custom kind compiled for checking writes
/// ([`super::check::Node`]), once per process.
pub fn compiled(kind: Kind) -> Option<&'static super::check::Node> {
    static NODES: OnceLock<Vec<Option<super::check::Node>>> = OnceLock::new();
    NODES.get_or_init(|| Kind::all().map(|k| of(k).map(super::check::Node::compile)).collect())[kind as usize].as_ref()
}

/// The schema of `metav1.ObjectMeta` as OpenAPI documents refer to it.
pub fn object_meta() -> Value {
    structural_of::<super::meta::Metadata>()
}

/// Whether a kind is served as a custom resource (has a generated schema).
pub fn is_custom(kind: Kind) -> bool {
    of(kind).is_some()
}

/// The `/scale` subresource of a kind as its CRD declares it (`+kubebuilder:subresource:scale`):
/// spec replicas path, status replicas path, label selector path.
pub fn scale_paths(kind: Kind) -> Option<(&'static str, &'static str, Option<&'static str>)> {
    match kind {
        Kind::MachineDeployment | Kind::MachineSet | Kind::KubeadmControlPlane => {
            Some((".spec.replicas", ".status.replicas", Some(".status.selector")))
        }
        Kind::MachinePool => Some((".spec.replicas", ".status.replicas", None)),
        _ => None,
    }
}

/// Every node of a schema that breaks the structural rules (a `$ref`, a node without `type` that is
/// neither free-form nor int-or-string), as JSON paths; empty when the schema is structural.
pub fn structural_errors(schema: &Value) -> Vec<String> {
    let mut out = Vec::new();
    walk_errors(schema, "", &mut out);
    out
}

fn walk_errors(v: &Value, path: &str, out: &mut Vec<String>) {
    let Value::Object(m) = v else {
        out.push(format!("{path}: not an object schema"));
        return;
    };
    if m.contains_key("$ref") {
        out.push(format!("{path}: $ref"));
    }
    let free = m.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
    let int_or_string = m.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true));
    if !m.contains_key("type") && !free && !int_or_string {
        out.push(format!("{path}: no type in {v}"));
    }
    if let Some(Value::Object(props)) = m.get("properties") {
        for (k, p) in props {
            walk_errors(p, &format!("{path}.{k}"), out);
        }
    }
    if let Some(items) = m.get("items") {
        walk_errors(items, &format!("{path}[]"), out);
    }
    if let Some(ap @ Value::Object(_)) = m.get("additionalProperties") {
        walk_errors(ap, &format!("{path}{{}}"), out);
    }
}

/// The `path type [required]` lines of a schema: every field with its JSON type (`object`, `array`,
/// `string`, `integer`, `number`, `boolean`, `int-or-string`, `any`) and whether its parent requires
/// it; list items as `path[]`, map values as `path{}`.
pub fn field_lines(schema: &Value) -> Vec<String> {
    let mut out = Vec::new();
    lines(schema, "", &mut out);
    out
}

fn type_name(m: &Map<String, Value>) -> &str {
    if m.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true)) {
        return "int-or-string";
    }
    match m.get("type").and_then(Value::as_str) {
        Some(t) => t,
        None => "any",
    }
}

fn lines(v: &Value, path: &str, out: &mut Vec<String>) {
    let Value::Object(m) = v else { return };
    let required = |k: &str| m.get("required").and_then(Value::as_array).is_some_and(|r| r.iter().any(|x| x == k));
    if let Some(Value::Object(props)) = m.get("properties") {
        for (k, p) in props {
            let Value::Object(pm) = p else { continue };
            let sub = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
            let req = if required(k) { " required" } else { "" };
            out.push(format!("{sub} {}{req}", type_name(pm)));
            lines(p, &sub, out);
        }
    }
    if let Some(items @ Value::Object(im)) = m.get("items") {
        let sub = format!("{path}[]");
        out.push(format!("{sub} {}", type_name(im)));
        lines(items, &sub, out);
    }
    if let Some(ap @ Value::Object(am)) = m.get("additionalProperties") {
        let sub = format!("{path}{{}}");
        out.push(format!("{sub} {}", type_name(am)));
        lines(ap, &sub, out);
    }
}

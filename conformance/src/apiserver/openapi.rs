//! OpenAPI as kubectl and clients read it, with the schemas of every served Cluster API kind
//! (`capi_sim::types::schema`, generated from the simulator's own Rust types):
//!
//! - `/openapi/v3`: an index of group-version documents; each document has a PATCH operation per kind
//!   carrying `x-kubernetes-group-version-kind` and a `fieldValidation` parameter (kubectl's
//!   `QueryParamVerifierV3` then delegates validation to the server), and `components.schemas` with
//!   each kind's schema (named as the API server names a CRD's, `io.x-k8s.cluster.v1beta2.Cluster`),
//!   its list, and the `ObjectMeta`/`ListMeta` they refer to. `kubectl explain` reads these.
//! - `/openapi/v2`: the same schemas as one Swagger 2.0 document (`definitions`), in JSON only (the
//!   protobuf encoding kubectl asks for first is not served; kubectl uses v3 when it is served).
//!
//! Custom resources do not advertise strategic merge, so kubectl's client-side apply sends merge
//! patches, as against real CRDs. The built-in core kinds have operations but no schemas.

use super::discovery::groups_in_order;
use capi_sim::kinds::{KindInfo, KINDS};
use capi_sim::types::schema;
use serde_json::{json, Map, Value};
use std::hash::{Hash, Hasher};
use std::sync::OnceLock;

/// The index path of a group-version (`api/v1`, `apis/cluster.x-k8s.io/v1beta2`).
fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// A stable hash of a document, so kubectl's HTTP cache key changes when the document does.
pub fn hash(doc: &Value) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    doc.to_string().hash(&mut h);
    format!("{:016X}", h.finish())
}

/// The definition name the API server gives a CRD's kind: the group's reversed domain, the version
/// and the kind (`cluster.x-k8s.io` → `io.x-k8s.cluster.v1beta2.Cluster`).
pub fn definition_name(k: &KindInfo) -> String {
    definition_name_of(k.group, k.version, k.name)
}

fn definition_name_of(group: &str, version: &str, name: &str) -> String {
    let mut parts: Vec<&str> = group.split('.').collect();
    parts.reverse();
    format!("{}.{version}.{name}", parts.join("."))
}

const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";
const LIST_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta";

fn list_meta_schema() -> Value {
    json!({"type": "object", "properties": {
        "continue": {"type": "string"}, "remainingItemCount": {"type": "integer", "format": "int64"},
        "resourceVersion": {"type": "string"}, "selfLink": {"type": "string"},
    }})
}

/// The schemas of a group-version's custom kinds (and their lists), with `metadata` pointing at
/// `ObjectMeta` through `ref_prefix` (`#/components/schemas/` or `#/definitions/`).
fn schemas(group: &str, version: &str, ref_prefix: &str, out: &mut Map<String, Value>) {
    let mut any = false;
    for k in KINDS.iter().filter(|k| k.group == group && k.version == version) {
        let Some(s) = schema::of(k.kind) else { continue };
        any = true;
        let gvk = json!([{"group": k.group, "version": k.version, "kind": k.name}]);
        let mut s = s.clone();
        s["properties"]["metadata"] = json!({"$ref": format!("{ref_prefix}{OBJECT_META}")});
        s["x-kubernetes-group-version-kind"] = gvk;
        let name = definition_name(k);
        let list_gvk = json!([{"group": k.group, "version": k.version, "kind": format!("{}List", k.name)}]);
        let list = json!({
            "type": "object", "required": ["items"],
            "properties": {
                "apiVersion": {"type": "string"}, "kind": {"type": "string"},
                "items": {"type": "array", "items": {"$ref": format!("{ref_prefix}{name}")}},
                "metadata": {"$ref": format!("{ref_prefix}{LIST_META}")},
            },
            "x-kubernetes-group-version-kind": list_gvk,
        });
        out.insert(name.clone(), s);
        out.insert(format!("{name}List"), list);
    }
    if any {
        out.insert(OBJECT_META.into(), schema::object_meta());
        out.insert(LIST_META.into(), list_meta_schema());
    }
}

/// `GET /openapi/v3`.
pub fn index() -> Value {
    let mut paths = Map::new();
    for g in groups_in_order() {
        let Some(v) = super::discovery::group_version(g) else { continue };
        let p = gv_path(g, v);
        let url = format!("/openapi/v3/{p}?hash={}", hash(cached(g, v)));
        paths.insert(p, json!({"serverRelativeURL": url}));
    }
    json!({"paths": paths})
}

/// `GET /openapi/v3/api/v1` or `/openapi/v3/apis/{group}/{version}`.
pub fn document(group: &str, version: &str) -> Value {
    cached(group, version).clone()
}

/// A group-version's document, built once per process (it depends on the kind table and the types
/// only).
fn cached(group: &str, version: &str) -> &'static Value {
    static DOCS: OnceLock<Vec<((&'static str, &'static str), Value)>> = OnceLock::new();
    static EMPTY: OnceLock<Value> = OnceLock::new();
    let docs = DOCS.get_or_init(|| {
        let mut out: Vec<((&'static str, &'static str), Value)> = Vec::new();
        for k in KINDS {
            if !out.iter().any(|((g, v), _)| *g == k.group && *v == k.version) {
                out.push(((k.group, k.version), build_document(k.group, k.version)));
            }
        }
        out
    });
    docs.iter()
        .find(|((g, v), _)| *g == group && *v == version)
        .map(|(_, d)| d)
        .unwrap_or_else(|| EMPTY.get_or_init(|| build_document("", "")))
}

fn build_document(group: &str, version: &str) -> Value {
    let mut paths = Map::new();
    for k in KINDS.iter().filter(|k| k.group == group && k.version == version) {
        let gvk = json!({"group": k.group, "version": k.version, "kind": k.name});
        let mut media = Map::new();
        media.insert("application/json-patch+json".into(), json!({}));
        media.insert("application/merge-patch+json".into(), json!({}));
        media.insert("application/apply-patch+yaml".into(), json!({}));
        if group.is_empty() {
            // Built-in kinds take strategic merge patches.
            media.insert("application/strategic-merge-patch+json".into(), json!({}));
        }
        let patch = json!({
            "x-kubernetes-group-version-kind": gvk,
            "x-kubernetes-action": "patch",
            "parameters": [
                {"name": "dryRun", "in": "query", "schema": {"type": "string"}},
                {"name": "fieldManager", "in": "query", "schema": {"type": "string"}},
                {"name": "fieldValidation", "in": "query", "schema": {"type": "string"}},
                {"name": "force", "in": "query", "schema": {"type": "boolean"}},
            ],
            "requestBody": {"content": media},
            "responses": {"200": {"description": "OK"}, "201": {"description": "Created"}},
        });
        let prefix = format!("/{}", gv_path(group, version));
        let item = if k.namespaced {
            format!("{prefix}/namespaces/{{namespace}}/{}/{{name}}", k.plural)
        } else {
            format!("{prefix}/{}/{{name}}", k.plural)
        };
        paths.insert(item, json!({"patch": patch}));
    }
    let mut components = Map::new();
    schemas(group, version, "#/components/schemas/", &mut components);
    json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": format!("v1.{}.0", super::discovery::SERVED_MINOR)},
        "paths": paths,
        "components": {"schemas": components},
    })
}

/// Swagger 2.0 has no `anyOf`: an int-or-string node becomes `type: string, format: int-or-string`,
/// as the API server publishes CRD schemas in v2.
fn to_v2(v: &mut Value) {
    match v {
        Value::Object(m) => {
            if m.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true)) {
                m.remove("anyOf");
                m.insert("type".into(), json!("string"));
                m.insert("format".into(), json!("int-or-string"));
            }
            for k in ["anyOf", "oneOf", "allOf", "not"] {
                m.remove(k);
            }
            for (_, sub) in m.iter_mut() {
                to_v2(sub);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(to_v2),
        _ => {}
    }
}

/// `GET /openapi/v2`: every custom kind's schema as a Swagger 2.0 document (built once).
pub fn v2() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| {
        let mut defs = Map::new();
        for g in groups_in_order() {
            if let Some(v) = super::discovery::group_version(g) {
                schemas(g, v, "#/definitions/", &mut defs);
            }
        }
        let mut defs = Value::Object(defs);
        to_v2(&mut defs);
        json!({
            "swagger": "2.0",
            "info": {"title": "Kubernetes", "version": format!("v1.{}.0", super::discovery::SERVED_MINOR)},
            "paths": {},
            "definitions": defs,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patch_ops_carry_gvk_and_field_validation() {
        let d = document("cluster.x-k8s.io", "v1beta2");
        let op = &d["paths"]["/apis/cluster.x-k8s.io/v1beta2/namespaces/{namespace}/clusters/{name}"]["patch"];
        assert_eq!(op["x-kubernetes-group-version-kind"]["kind"], "Cluster");
        assert!(op["parameters"].as_array().unwrap().iter().any(|p| p["name"] == "fieldValidation"));
        assert!(op["requestBody"]["content"].get("application/strategic-merge-patch+json").is_none());
        let i = index();
        assert!(i["paths"]["apis/cluster.x-k8s.io/v1beta2"]["serverRelativeURL"].as_str().unwrap().contains("?hash="));
        assert!(document("", "v1")["paths"].get("/api/v1/namespaces/{name}").is_some());
    }

    #[test]
    fn documents_hold_every_custom_kind_schema() {
        for k in KINDS.iter().filter(|k| !k.group.is_empty()) {
            let name = definition_name(k);
            let d = document(k.group, k.version);
            let s = &d["components"]["schemas"][&name];
            assert_eq!(s["x-kubernetes-group-version-kind"][0]["kind"], k.name, "{name}");
            assert_eq!(s["properties"]["metadata"]["$ref"], format!("#/components/schemas/{OBJECT_META}"));
            assert_eq!(v2()["definitions"][&name]["x-kubernetes-group-version-kind"][0]["kind"], k.name, "{name}");
        }
        assert_eq!(definition_name(capi_sim::Kind::Cluster.info()), "io.x-k8s.cluster.v1beta2.Cluster");
        assert_eq!(definition_name(capi_sim::Kind::DevMachine.info()), "io.x-k8s.cluster.infrastructure.v1beta2.DevMachine");
        let topo = &document("cluster.x-k8s.io", "v1beta2")["components"]["schemas"]["io.x-k8s.cluster.v1beta2.Cluster"]["properties"]
            ["spec"]["properties"]["topology"];
        assert_eq!(topo["properties"]["classRef"]["type"], "object");
        assert!(!v2().to_string().contains("anyOf"));
    }
}

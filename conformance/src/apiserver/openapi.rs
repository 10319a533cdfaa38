//! The minimal OpenAPI v3 that makes plain `kubectl apply/create` work: an index of group-version
//! documents, each with a PATCH operation per kind carrying `x-kubernetes-group-version-kind` and a
//! `fieldValidation` parameter (kubectl's `QueryParamVerifierV3` then delegates validation to the
//! server). No schemas (`kubectl explain` is not served). Custom resources do not advertise
//! strategic merge, so kubectl's client-side apply sends merge patches, as against real CRDs.

use super::discovery::groups_in_order;
use capi_sim::kinds::KINDS;
use serde_json::{json, Map, Value};
use std::hash::{Hash, Hasher};

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

/// `GET /openapi/v3`.
pub fn index() -> Value {
    let mut paths = Map::new();
    for g in groups_in_order() {
        let Some(v) = super::discovery::group_version(g) else { continue };
        let p = gv_path(g, v);
        let url = format!("/openapi/v3/{p}?hash={}", hash(&document(g, v)));
        paths.insert(p, json!({"serverRelativeURL": url}));
    }
    json!({"paths": paths})
}

/// `GET /openapi/v3/api/v1` or `/openapi/v3/apis/{group}/{version}`.
pub fn document(group: &str, version: &str) -> Value {
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
    json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": format!("v1.{}.0", super::discovery::SERVED_MINOR)},
        "paths": paths,
        "components": {"schemas": {}},
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
}

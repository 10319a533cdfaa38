//! The OpenAPI v3 of the workload endpoints (`/workloads/NS/CLUSTER/openapi/v3`), so plain `kubectl
//! apply` and `kubectl create -f` against a workload cluster work without `--validate=false`:
//! kubectl's `QueryParamVerifierV3` finds, for the applied kind, a PATCH operation carrying
//! `x-kubernetes-group-version-kind` and a `fieldValidation` parameter, and then leaves validation to
//! the server. No schemas are served (`kubectl explain` is not), and the PATCH operations do not
//! advertise strategic merge, so kubectl's client-side apply computes its strategic merge patch from
//! the built-in types it compiles in, as it does for any kind whose OpenAPI lacks the patch strategy.
//!
//! The index's URLs are rooted at `/openapi/v3`: client-go keeps the kubeconfig's path prefix
//! (`/workloads/NS/CLUSTER`) for such URLs.

use super::workload::WlKind;
use serde_json::{json, Map, Value};
use std::hash::{Hash, Hasher};

/// The index key of a group-version (`api/v1`, `apis/apps/v1`).
fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

fn hash(doc: &Value) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    doc.to_string().hash(&mut h);
    format!("{:016X}", h.finish())
}

/// `GET …/openapi/v3`.
pub fn index(kinds: &[WlKind]) -> Value {
    let mut paths = Map::new();
    for k in kinds {
        let p = gv_path(k.group, k.version);
        if paths.contains_key(&p) {
            continue;
        }
        let url = format!("/openapi/v3/{p}?hash={}", hash(&document(kinds, k.group, k.version)));
        paths.insert(p, json!({"serverRelativeURL": url}));
    }
    json!({"paths": paths})
}

/// `GET …/openapi/v3/api/v1` or `…/openapi/v3/apis/{group}/{version}`.
pub fn document(kinds: &[WlKind], group: &str, version: &str) -> Value {
    let mut paths = Map::new();
    for k in kinds.iter().filter(|k| k.group == group && k.version == version) {
        let patch = json!({
            "x-kubernetes-group-version-kind": {"group": k.group, "version": k.version, "kind": k.kind},
            "x-kubernetes-action": "patch",
            "parameters": [
                {"name": "dryRun", "in": "query", "schema": {"type": "string"}},
                {"name": "fieldManager", "in": "query", "schema": {"type": "string"}},
                {"name": "fieldValidation", "in": "query", "schema": {"type": "string"}},
                {"name": "force", "in": "query", "schema": {"type": "boolean"}},
            ],
            "requestBody": {"content": {"application/json-patch+json": {}, "application/merge-patch+json": {}, "application/apply-patch+yaml": {}}},
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
    fn every_kind_has_a_patch_operation_with_field_validation() {
        let kinds = super::super::workload::KINDS;
        let i = index(kinds);
        let url = i["paths"]["apis/apps/v1"]["serverRelativeURL"].as_str().unwrap();
        assert!(url.starts_with("/openapi/v3/apis/apps/v1?hash="), "{url}");
        let d = document(kinds, "", "v1");
        let op = &d["paths"]["/api/v1/namespaces/{namespace}/configmaps/{name}"]["patch"];
        assert_eq!(op["x-kubernetes-group-version-kind"]["kind"], "ConfigMap");
        assert!(op["parameters"].as_array().unwrap().iter().any(|p| p["name"] == "fieldValidation"));
        assert!(d["paths"].get("/api/v1/nodes/{name}").is_some());
        assert!(document(kinds, "apps", "v1")["paths"].get("/apis/apps/v1/namespaces/{namespace}/daemonsets/{name}").is_some());
    }
}

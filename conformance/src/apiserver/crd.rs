//! Every served Cluster API kind as a `CustomResourceDefinition` (`apiextensions.k8s.io/v1`), as a
//! management cluster with the providers installed lists them: `kubectl get crds`,
//! `kubectl get crd clusters.cluster.x-k8s.io -o yaml`. Read-only (get, list); each CRD's schema is
//! the kind's generated structural schema (`capi_sim::types::schema`), its names, scope and
//! subresources come from the kind table, and `v1beta2` is the one served and stored version (the
//! simulator serves no other).

use super::status::Failure;
use capi_sim::kinds::{KindInfo, KINDS};
use capi_sim::types::schema;
use serde_json::{json, Value};

/// The group and version CRDs are served in.
pub const GROUP: &str = "apiextensions.k8s.io";
/// The served version.
pub const VERSION: &str = "v1";
/// The resource name.
pub const PLURAL: &str = "customresourcedefinitions";

/// When every CRD was "created" (a fixed time: the served CRDs exist from the start).
const CREATED: &str = "2026-01-01T00:00:00Z";

fn names(k: &KindInfo) -> Value {
    let mut n = json!({
        "kind": k.name, "listKind": format!("{}List", k.name), "plural": k.plural, "singular": k.singular,
        "categories": ["cluster-api"],
    });
    if !k.short_names.is_empty() {
        n["shortNames"] = json!(k.short_names);
    }
    n
}

/// The CRD of a served custom kind (`None` for the built-in core kinds).
pub fn crd(k: &KindInfo) -> Option<Value> {
    let schema = schema::of(k.kind)?;
    let name = format!("{}.{}", k.plural, k.group);
    let mut subresources = serde_json::Map::new();
    if k.status_subresource {
        subresources.insert("status".into(), json!({}));
    }
    if let Some((spec, status, selector)) = schema::scale_paths(k.kind) {
        let mut scale = json!({"specReplicasPath": spec, "statusReplicasPath": status});
        if let Some(sel) = selector {
            scale["labelSelectorPath"] = json!(sel);
        }
        subresources.insert("scale".into(), scale);
    }
    let mut version = json!({
        "name": k.version, "served": true, "storage": true,
        "schema": {"openAPIV3Schema": schema},
    });
    if !subresources.is_empty() {
        version["subresources"] = Value::Object(subresources);
    }
    // A stable uid from the name, so that clients see the same object on every read.
    let hex = format!("{}{}", super::openapi::hash(&json!(name)), super::openapi::hash(&json!(k.name))).to_lowercase();
    let uid = format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32]);
    let conditions = json!([
        {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found", "lastTransitionTime": CREATED},
        {"type": "Established", "status": "True", "reason": "InitialNamesAccepted", "message": "the initial names have been accepted", "lastTransitionTime": CREATED},
    ]);
    Some(json!({
        "apiVersion": format!("{GROUP}/{VERSION}"),
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": name, "uid": uid, "resourceVersion": "1", "generation": 1, "creationTimestamp": CREATED,
            "labels": {"cluster.x-k8s.io/provider": provider(k)},
        },
        "spec": {
            "group": k.group, "names": names(k), "scope": if k.namespaced { "Namespaced" } else { "Cluster" },
            "versions": [version], "conversion": {"strategy": "None"},
        },
        "status": {"acceptedNames": names(k), "conditions": conditions, "storedVersions": [k.version]},
    }))
}

/// The provider label clusterctl puts on a provider's CRDs.
fn provider(k: &KindInfo) -> &'static str {
    match k.group {
        "bootstrap.cluster.x-k8s.io" => "bootstrap-kubeadm",
        "controlplane.cluster.x-k8s.io" => "control-plane-kubeadm",
        "infrastructure.cluster.x-k8s.io" => "infrastructure-docker",
        _ => "cluster-api",
    }
}

/// Every CRD, in kind-table order.
pub fn all() -> Vec<Value> {
    KINDS.iter().filter_map(crd).collect()
}

/// `GET .../customresourcedefinitions` (as a list, or as a `Table` when asked) or
/// `GET .../customresourcedefinitions/{name}`.
pub fn get(name: Option<&str>, table: bool) -> Result<Value, Failure> {
    match name {
        Some(n) => all()
            .into_iter()
            .find(|c| c["metadata"]["name"] == n)
            .ok_or_else(|| Failure::new(404, "NotFound", format!("customresourcedefinitions.apiextensions.k8s.io \"{n}\" not found"))),
        None if table => Ok(as_table(all())),
        None => Ok(json!({
            "apiVersion": format!("{GROUP}/{VERSION}"), "kind": "CustomResourceDefinitionList",
            "metadata": {"resourceVersion": "1"}, "items": all(),
        })),
    }
}

/// The `meta.k8s.io/v1 Table` the API server prints CRDs as (NAME, CREATED AT).
fn as_table(items: Vec<Value>) -> Value {
    let rows: Vec<Value> = items
        .into_iter()
        .map(|c| {
            let name = c["metadata"]["name"].clone();
            let meta = json!({"name": name, "creationTimestamp": CREATED, "resourceVersion": "1"});
            json!({"cells": [name, CREATED], "object": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": meta}})
        })
        .collect();
    json!({
        "kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {"resourceVersion": "1"},
        "columnDefinitions": [
            {"name": "Name", "type": "string", "format": "name", "description": "Name must be unique within a namespace.", "priority": 0},
            {"name": "Created At", "type": "date", "format": "", "description": "When the CustomResourceDefinition was created.", "priority": 0},
        ],
        "rows": rows,
    })
}

/// The discovery entry of the resource (legacy `APIResourceList`).
pub fn resource_list() -> Value {
    json!({
        "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": format!("{GROUP}/{VERSION}"),
        "resources": [
            {"name": PLURAL, "singularName": "customresourcedefinition", "namespaced": false,
             "kind": "CustomResourceDefinition", "verbs": ["get", "list"], "shortNames": ["crd", "crds"],
             "categories": ["api-extensions"]},
        ],
    })
}

/// The aggregated-discovery item of the group.
pub fn aggregated_item() -> Value {
    let gvk = json!({"group": GROUP, "version": VERSION, "kind": "CustomResourceDefinition"});
    json!({
        "metadata": {"name": GROUP},
        "versions": [{"version": VERSION, "freshness": "Current", "resources": [{
            "resource": PLURAL, "responseKind": gvk, "scope": "Cluster", "singularResource": "customresourcedefinition",
            "verbs": ["get", "list"], "shortNames": ["crd", "crds"], "categories": ["api-extensions"],
        }]}],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_custom_kind_has_a_crd_with_its_schema_and_subresources() {
        let crds = all();
        assert_eq!(crds.len(), KINDS.iter().filter(|k| !k.group.is_empty()).count());
        let md = get(Some("machinedeployments.cluster.x-k8s.io"), false).unwrap();
        let v = &md["spec"]["versions"][0];
        assert_eq!((v["name"].as_str(), v["served"].as_bool(), v["storage"].as_bool()), (Some("v1beta2"), Some(true), Some(true)));
        assert_eq!(v["subresources"]["scale"]["labelSelectorPath"], ".status.selector");
        assert!(v["subresources"].get("status").is_some());
        assert_eq!(v["schema"]["openAPIV3Schema"]["properties"]["spec"]["type"], "object");
        assert_eq!(md["spec"]["names"]["shortNames"][0], "md");
        assert_eq!(md["spec"]["scope"], "Namespaced");
        assert!(get(Some("nope.cluster.x-k8s.io"), false).is_err());
        assert_eq!(get(None, true).unwrap()["rows"].as_array().unwrap().len(), crds.len());
    }
}

//! Discovery documents, all derived from the simulator's kind table ([`KINDS`]): `/version`, the
//! legacy `/api`, `/api/v1`, `/apis`, `/apis/{g}`, `/apis/{g}/{v}`, and the aggregated
//! `APIGroupDiscoveryList` answers for `/api` and `/apis` that kubectl asks for first. The
//! `apiextensions.k8s.io` group (the CRDs of [`super::crd`], read-only) is listed after the kind
//! table's groups.

use super::crd;
use super::scale::{has_scale, SCALE_VERBS};
use capi_sim::kinds::{KindInfo, KINDS};
use serde_json::{json, Value};

/// The Kubernetes version the server claims (kubectl's dispatcher picks kubectl 1.32 from it).
pub const SERVED_MINOR: &str = "32";

/// Verbs of every served resource.
pub const VERBS: &[&str] = &["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];
/// Verbs of a `/status` subresource.
pub const STATUS_VERBS: &[&str] = &["get", "patch", "update"];

/// `GET /version`.
pub fn version() -> Value {
    json!({
        "major": "1", "minor": SERVED_MINOR, "gitVersion": format!("v1.{SERVED_MINOR}.0"),
        "gitCommit": "capi-sim", "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.23.0", "compiler": "gc", "platform": "linux/amd64",
    })
}

/// Served group names, in kind-table order (core `""` first).
pub fn groups_in_order() -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for k in KINDS {
        if !out.contains(&k.group) {
            out.push(k.group);
        }
    }
    out
}

/// The served version of a group.
pub fn group_version(group: &str) -> Option<&'static str> {
    KINDS.iter().find(|k| k.group == group).map(|k| k.version)
}

fn kinds_of<'a>(group: &'a str, version: &'a str) -> impl Iterator<Item = &'static KindInfo> + 'a {
    KINDS.iter().filter(move |k| k.group == group && k.version == version)
}

/// `kubectl get cluster-api` lists every Cluster API kind, as the CRDs' `categories` say.
fn categories(k: &KindInfo) -> Vec<&'static str> {
    if k.group.is_empty() {
        vec![]
    } else {
        vec!["cluster-api"]
    }
}

/// `GET /api` (legacy).
pub fn core_versions(server: &str) -> Value {
    json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server}]})
}

/// `GET /apis` (legacy).
pub fn groups() -> Value {
    let mut groups: Vec<Value> = groups_in_order().into_iter().filter(|g| !g.is_empty()).map(group).collect();
    groups.push(group(crd::GROUP));
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `GET /apis/{group}`.
pub fn group(name: &str) -> Value {
    let v = if name == crd::GROUP { crd::VERSION } else { group_version(name).unwrap_or("v1") };
    let gv = json!({"groupVersion": format!("{name}/{v}"), "version": v});
    json!({"kind": "APIGroup", "apiVersion": "v1", "name": name, "versions": [gv.clone()], "preferredVersion": gv})
}

/// `GET /api/v1` and `GET /apis/{group}/{version}`.
pub fn resources(group: &str, version: &str) -> Value {
    if group == crd::GROUP && version == crd::VERSION {
        return crd::resource_list();
    }
    let mut list = Vec::new();
    for k in kinds_of(group, version) {
        let mut r = json!({
            "name": k.plural, "singularName": k.singular, "namespaced": k.namespaced, "kind": k.name, "verbs": VERBS,
        });
        if !k.short_names.is_empty() {
            r["shortNames"] = json!(k.short_names);
        }
        let cats = categories(k);
        if !cats.is_empty() {
            r["categories"] = json!(cats);
        }
        list.push(r);
        if k.status_subresource {
            list.push(json!({
                "name": format!("{}/status", k.plural), "singularName": "", "namespaced": k.namespaced, "kind": k.name, "verbs": STATUS_VERBS,
            }));
        }
        if has_scale(k.kind) {
            list.push(json!({
                "name": format!("{}/scale", k.plural), "singularName": "", "namespaced": k.namespaced,
                "group": "autoscaling", "version": "v1", "kind": "Scale", "verbs": SCALE_VERBS,
            }));
        }
    }
    let gv = if group.is_empty() { version.to_string() } else { format!("{group}/{version}") };
    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": list})
}

/// The aggregated answer for `/api` (`core`) or `/apis`, in discovery version `v2` or `v2beta1`.
pub fn aggregated(core: bool, discovery_version: &str) -> Value {
    let mut items: Vec<Value> = groups_in_order()
        .into_iter()
        .filter(|g| g.is_empty() == core)
        .map(|g| {
            let v = group_version(g).unwrap_or("v1");
            let resources: Vec<Value> = kinds_of(g, v)
                .map(|k| {
                    let gvk = json!({"group": k.group, "version": k.version, "kind": k.name});
                    let mut r = json!({
                        "resource": k.plural, "responseKind": gvk, "scope": if k.namespaced { "Namespaced" } else { "Cluster" },
                        "singularResource": k.singular, "verbs": VERBS,
                    });
                    if !k.short_names.is_empty() {
                        r["shortNames"] = json!(k.short_names);
                    }
                    let cats = categories(k);
                    if !cats.is_empty() {
                        r["categories"] = json!(cats);
                    }
                    let mut subs = Vec::new();
                    if k.status_subresource {
                        subs.push(json!({"subresource": "status", "responseKind": gvk, "verbs": STATUS_VERBS}));
                    }
                    if has_scale(k.kind) {
                        let scale = json!({"group": "autoscaling", "version": "v1", "kind": "Scale"});
                        subs.push(json!({"subresource": "scale", "responseKind": scale, "verbs": SCALE_VERBS}));
                    }
                    if !subs.is_empty() {
                        r["subresources"] = Value::Array(subs);
                    }
                    r
                })
                .collect();
            json!({"metadata": {"name": g}, "versions": [{"version": v, "resources": resources, "freshness": "Current"}]})
        })
        .collect();
    if !core {
        items.push(crd::aggregated_item());
    }
    json!({"kind": "APIGroupDiscoveryList", "apiVersion": format!("apidiscovery.k8s.io/{discovery_version}"), "metadata": {}, "items": items})
}

/// The Content-Type of an aggregated answer.
pub fn aggregated_content_type(discovery_version: &str) -> String {
    format!("application/json;g=apidiscovery.k8s.io;v={discovery_version};as=APIGroupDiscoveryList")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_come_from_the_kind_table() {
        let g = groups();
        let names: Vec<&str> = g["groups"].as_array().unwrap().iter().map(|g| g["name"].as_str().unwrap()).collect();
        assert!(names.contains(&"cluster.x-k8s.io") && !names.contains(&""));
        let r = resources("cluster.x-k8s.io", "v1beta2");
        let res = r["resources"].as_array().unwrap();
        assert!(res.iter().any(|r| r["name"] == "clusters/status"));
        assert!(res.iter().any(|r| r["name"] == "machines" && r["shortNames"][0] == "ma"));
        assert!(res.iter().any(|r| r["name"] == "machinedeployments/scale" && r["kind"] == "Scale"));
        let core = aggregated(true, "v2");
        assert_eq!(core["items"][0]["metadata"]["name"], "");
        assert_eq!(core["items"][0]["versions"][0]["version"], "v1");
        let apis = aggregated(false, "v2");
        assert!(apis["items"].as_array().unwrap().iter().all(|i| i["metadata"]["name"] != ""));
        assert!(apis["items"].as_array().unwrap().iter().any(|i| i["metadata"]["name"] == "apiextensions.k8s.io"));
        assert!(names.contains(&"apiextensions.k8s.io"));
        assert_eq!(resources("apiextensions.k8s.io", "v1")["resources"][0]["name"], "customresourcedefinitions");
    }
}

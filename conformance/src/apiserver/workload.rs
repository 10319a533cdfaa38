//! The simulated workload clusters, served under `/workloads/{namespace}/{cluster}/` next to the
//! management cluster: enough of a Kubernetes API for `kubectl apply` and the conformance backend's
//! `apply: { workload: ... }` steps (version, discovery of the common built-in kinds, get, list,
//! create, update, merge patch and server-side apply). Writes go to the simulator exactly as the
//! simulator backend applies into a workload cluster, so applying a CNI's DaemonSet starts its
//! rollout on the nodes. While the simulated workload API server cannot be reached (no control plane
//! yet, load balancer down, etcd without quorum, a partition), every request answers 503 with the
//! simulator's reason, as a client of a real one would see its connection fail. A path that names
//! no existing Cluster answers 404.
//!
//! A Cluster's kubeconfig Secret (`<cluster>-kubeconfig`, type `cluster.x-k8s.io/secret`) is shown by
//! the served API with its `value` pointing at this endpoint ([`present`]): the simulator's own
//! kubeconfig names the load balancer's simulated address, which nothing outside the simulation can
//! reach. The stored Secret is unchanged; only what clients read is.

use super::handlers::{decode, read_body, App};
use super::status::{json_response, Failure};
use axum::body::Body;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use base64::Engine as _;
use serde_json::{json, Map, Value};
use std::sync::Arc;

/// The path prefix of the workload endpoints.
pub const PREFIX: &str = "/workloads/";

/// The server URL of a workload cluster's endpoint.
pub fn server_url(server: &str, namespace: &str, cluster: &str) -> String {
    format!("{server}{PREFIX}{namespace}/{cluster}")
}

/// A workload cluster's kubeconfig as `clusterctl get kubeconfig` prints it, pointing at the served
/// endpoint (the served simulator's `https://` address, its authority and token).
pub fn kubeconfig(server: &str, creds: &super::kubeconfig::Credentials, namespace: &str, cluster: &str) -> String {
    let url = server_url(server, namespace, cluster);
    let (token, ca) = (&creds.token, creds.ca_data());
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    server: {url}\n    certificate-authority-data: {ca}\n  name: {cluster}\ncontexts:\n- context:\n    cluster: {cluster}\n    user: {cluster}-admin\n  name: {cluster}-admin@{cluster}\ncurrent-context: {cluster}-admin@{cluster}\npreferences: {{}}\nusers:\n- name: {cluster}-admin\n  user:\n    token: {token}\n"
    )
}

/// Show a stored object as the served API presents it: a Cluster's kubeconfig Secret gets a `value`
/// pointing at the served workload endpoint; everything else is unchanged.
pub fn present(v: &mut Value, server: &str, creds: &super::kubeconfig::Credentials) {
    let s = |p: &str| v.pointer(p).and_then(Value::as_str);
    if s("/kind") != Some("Secret") || s("/type") != Some("cluster.x-k8s.io/secret") {
        return;
    }
    let (Some(name), Some(cluster)) = (s("/metadata/name"), s("/metadata/labels/cluster.x-k8s.io~1cluster-name")) else { return };
    if name != format!("{cluster}-kubeconfig") || v.pointer("/data/value").is_none() {
        return;
    }
    let namespace = s("/metadata/namespace").unwrap_or("default").to_string();
    let text = kubeconfig(server, creds, &namespace, cluster);
    v["data"]["value"] = Value::String(base64::engine::general_purpose::STANDARD.encode(text));
}

/// A built-in kind the workload endpoints serve.
pub struct WlKind {
    /// API group ("" for core).
    pub group: &'static str,
    /// Version.
    pub version: &'static str,
    /// Kind.
    pub kind: &'static str,
    /// Resource name.
    pub plural: &'static str,
    /// Namespaced or cluster-scoped.
    pub namespaced: bool,
    /// Short names, as kube-apiserver's discovery lists them (`kubectl get ns`).
    pub short_names: &'static [&'static str],
    /// Categories (`kubectl get all` lists the kinds in `all`).
    pub categories: &'static [&'static str],
}

const fn k(group: &'static str, version: &'static str, kind: &'static str, plural: &'static str, namespaced: bool) -> WlKind {
    WlKind { group, version, kind, plural, namespaced, short_names: &[], categories: &[] }
}

impl WlKind {
    const fn short(mut self, short_names: &'static [&'static str]) -> WlKind {
        self.short_names = short_names;
        self
    }

    const fn in_all(mut self) -> WlKind {
        self.categories = &["all"];
        self
    }

    fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
}

/// What CNI and add-on manifests are made of.
pub const KINDS: &[WlKind] = &[
    // Short names and categories: each kind's REST storage in kube-apiserver (`ShortNames()`,
    // `Categories()` of `pkg/registry/<group>/<kind>/storage/storage.go`).
    k("", "v1", "Node", "nodes", false).short(&["no"]),
    k("", "v1", "Event", "events", true).short(&["ev"]),
    k("", "v1", "ConfigMap", "configmaps", true).short(&["cm"]),
    k("", "v1", "Secret", "secrets", true),
    k("", "v1", "ServiceAccount", "serviceaccounts", true).short(&["sa"]),
    k("", "v1", "Service", "services", true).short(&["svc"]).in_all(),
    k("", "v1", "Pod", "pods", true).short(&["po"]).in_all(),
    k("", "v1", "Namespace", "namespaces", false).short(&["ns"]),
    k("apps", "v1", "DaemonSet", "daemonsets", true).short(&["ds"]).in_all(),
    k("apps", "v1", "Deployment", "deployments", true).short(&["deploy"]).in_all(),
    k("apps", "v1", "StatefulSet", "statefulsets", true).short(&["sts"]).in_all(),
    k("batch", "v1", "Job", "jobs", true).in_all(),
    k("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", false),
    k("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", false),
    k("rbac.authorization.k8s.io", "v1", "Role", "roles", true),
    k("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", true),
    k("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", true).short(&["pdb"]),
    k("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", true).short(&["netpol"]),
    k("storage.k8s.io", "v1", "StorageClass", "storageclasses", false).short(&["sc"]),
    k("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", false).short(&["crd", "crds"]),
];

fn groups() -> Vec<&'static str> {
    let mut g: Vec<&str> = KINDS.iter().map(|k| k.group).filter(|g| !g.is_empty()).collect();
    g.dedup();
    g
}

fn group_version(group: &str) -> Option<&'static str> {
    KINDS.iter().find(|k| k.group == group).map(|k| k.version)
}

fn resource_list(group: &str, version: &str) -> Value {
    let verbs = ["create", "delete", "get", "list", "patch", "update"];
    let mut resources = Vec::new();
    for k in KINDS.iter().filter(|k| k.group == group && k.version == version) {
        let mut r = json!({"name": k.plural, "singularName": k.kind.to_ascii_lowercase(), "namespaced": k.namespaced, "kind": k.kind, "verbs": verbs});
        if !k.short_names.is_empty() {
            r["shortNames"] = json!(k.short_names);
        }
        if !k.categories.is_empty() {
            r["categories"] = json!(k.categories);
        }
        resources.push(r);
        // `kubectl scale` finds the Scale's group and version here (`scale.NewDiscoveryScaleKindResolver`).
        if matches!(k.plural, "deployments" | "statefulsets") {
            resources.push(json!({"name": format!("{}/scale", k.plural), "singularName": "", "namespaced": true,
                "group": "autoscaling", "version": "v1", "kind": "Scale", "verbs": ["get", "patch", "update"]}));
        }
    }
    let gv = if group.is_empty() { version.to_string() } else { format!("{group}/{version}") };
    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources})
}

fn group_json(g: &str) -> Value {
    let v = group_version(g).unwrap_or("v1");
    let gv = json!({"groupVersion": format!("{g}/{v}"), "version": v});
    json!({"name": g, "versions": [gv.clone()], "preferredVersion": gv})
}

/// What a workload path addresses.
enum WlRoute {
    Version,
    Health,
    CoreVersions,
    Groups,
    Group(String),
    Resources(String, String),
    OpenApiIndex,
    OpenApiDoc(String, String),
    /// A collection (`name` None) or an object, in a namespace (namespaced kinds); `status`: its
    /// status subresource.
    Resource {
        kind: &'static WlKind,
        namespace: Option<String>,
        name: Option<String>,
        status: bool,
    },
    /// The `scale` subresource of a Deployment or StatefulSet (`autoscaling/v1 Scale`).
    Scale {
        kind: &'static WlKind,
        namespace: String,
        name: String,
    },
}

fn resource_route(group: &str, version: &str, rest: &[&str]) -> Result<WlRoute, Failure> {
    let find =
        |plural: &str| KINDS.iter().find(|k| k.group == group && k.version == version && k.plural == plural).ok_or_else(Failure::no_route);
    if let ["namespaces", ns, plural @ ("deployments" | "statefulsets"), name, "scale"] = rest {
        return Ok(WlRoute::Scale { kind: find(plural)?, namespace: ns.to_string(), name: name.to_string() });
    }
    let (kind, namespace, name, status) = match rest {
        ["namespaces", ns, plural] => (find(plural)?, Some(ns.to_string()), None, false),
        ["namespaces", ns, plural, name] => (find(plural)?, Some(ns.to_string()), Some(name.to_string()), false),
        ["namespaces", ns, plural, name, "status"] => (find(plural)?, Some(ns.to_string()), Some(name.to_string()), true),
        [plural] => (find(plural)?, None, None, false),
        [plural, name] => (find(plural)?, None, Some(name.to_string()), false),
        [plural, name, "status"] => (find(plural)?, None, Some(name.to_string()), true),
        _ => return Err(Failure::no_route()),
    };
    if !kind.namespaced && namespace.is_some() {
        return Err(Failure::no_route());
    }
    Ok(WlRoute::Resource { kind, namespace, name, status })
}

fn parse(rest: &[&str]) -> Result<WlRoute, Failure> {
    match rest {
        ["version"] => Ok(WlRoute::Version),
        ["healthz" | "livez" | "readyz", ..] => Ok(WlRoute::Health),
        ["api"] => Ok(WlRoute::CoreVersions),
        ["api", "v1"] => Ok(WlRoute::Resources(String::new(), "v1".into())),
        ["api", "v1", more @ ..] => resource_route("", "v1", more),
        ["apis"] => Ok(WlRoute::Groups),
        ["apis", g] if group_version(g).is_some() => Ok(WlRoute::Group(g.to_string())),
        ["apis", g, v] if group_version(g) == Some(*v) => Ok(WlRoute::Resources(g.to_string(), v.to_string())),
        ["apis", g, v, more @ ..] => resource_route(g, v, more),
        ["openapi", "v3"] => Ok(WlRoute::OpenApiIndex),
        ["openapi", "v3", "api", "v1"] => Ok(WlRoute::OpenApiDoc(String::new(), "v1".into())),
        ["openapi", "v3", "apis", g, v] if group_version(g) == Some(*v) => Ok(WlRoute::OpenApiDoc(g.to_string(), v.to_string())),
        _ => Err(Failure::no_route()),
    }
}

/// The namespace under which the rendered views keep an object: "" for cluster-scoped kinds.
fn view_namespace(kind: &WlKind, namespace: Option<&str>) -> String {
    if kind.namespaced {
        namespace.unwrap_or("default").to_string()
    } else {
        String::new()
    }
}

/// The simulator's key of a workload resource (cluster-scoped kinds are kept under `default`, as
/// the simulator's `kubectl apply` keys them).
fn key(kind: &WlKind, namespace: Option<&str>, name: &str) -> String {
    format!("{}/{}/{name}", kind.kind, namespace.unwrap_or("default"))
}

fn unreachable(message: String) -> Failure {
    Failure::new(503, "ServiceUnavailable", message)
}

fn not_found(kind: &WlKind, name: &str) -> Failure {
    let group = if kind.group.is_empty() { String::new() } else { format!(".{}", kind.group) };
    Failure {
        details: Some(json!({"name": name, "group": kind.group, "kind": kind.plural})),
        ..Failure::new(404, "NotFound", format!("{}{group} \"{name}\" not found", kind.plural))
    }
}

/// Fill in what the path implies and check the rest, as the API server does.
fn conform(v: &mut Value, kind: &WlKind, namespace: Option<&str>, name: Option<&str>) -> Result<String, Failure> {
    let Some(obj) = v.as_object_mut() else { return Err(Failure::bad_request("the request body must be a JSON object")) };
    let av = kind.api_version();
    match obj.get("apiVersion").and_then(Value::as_str) {
        None | Some("") => {
            obj.insert("apiVersion".into(), Value::String(av));
        }
        Some(a) if a != av => {
            return Err(Failure::bad_request(format!("the API version in the data ({a}) does not match the expected API version ({av})")))
        }
        Some(_) => {}
    }
    match obj.get("kind").and_then(Value::as_str) {
        None | Some("") => {
            obj.insert("kind".into(), Value::String(kind.kind.into()));
        }
        Some(k) if k != kind.kind => {
            return Err(Failure::bad_request(format!("the kind in the data ({k}) does not match the expected kind ({})", kind.kind)))
        }
        Some(_) => {}
    }
    let meta = obj.entry("metadata").or_insert_with(|| Value::Object(Map::new()));
    let Some(meta) = meta.as_object_mut() else { return Err(Failure::bad_request("metadata must be an object")) };
    let body_name = meta.get("name").and_then(Value::as_str).unwrap_or("").to_string();
    let name = match (name, body_name.as_str()) {
        (Some(n), "") => n.to_string(),
        (Some(n), b) if b != n => {
            return Err(Failure::bad_request(format!("the name of the object ({b}) does not match the name on the URL ({n})")))
        }
        (_, "") => {
            return Err(Failure::new(
                422,
                "Invalid",
                format!("{} \"\" is invalid: metadata.name: Required value: name is required", kind.kind),
            ))
        }
        (_, b) => b.to_string(),
    };
    meta.insert("name".into(), Value::String(name.clone()));
    if kind.namespaced {
        let ns = namespace.unwrap_or("default");
        match meta.get("namespace").and_then(Value::as_str) {
            Some(b) if !b.is_empty() && b != ns => {
                return Err(Failure::bad_request(format!(
                    "the namespace of the provided object does not match the namespace sent on the request ({b} != {ns})"
                )))
            }
            _ => {
                meta.insert("namespace".into(), Value::String(ns.to_string()));
            }
        }
    } else {
        meta.remove("namespace");
    }
    Ok(name)
}

/// The object without what the server sets (to tell a change from a re-apply).
fn content(v: &Value) -> Value {
    let mut c = v.clone();
    if let Some(m) = c.get_mut("metadata").and_then(Value::as_object_mut) {
        for f in ["resourceVersion", "uid", "generation", "creationTimestamp", "managedFields"] {
            m.remove(f);
        }
    }
    c
}

/// A write to one resource.
enum Write {
    Create(Value),
    Update(Value),
    Merge(Value),
    Apply(Value),
}

/// Run a write on the simulator thread; returns the HTTP code and the stored object.
fn write(
    core: &mut super::core::Core,
    cluster: &str,
    kind: &'static WlKind,
    namespace: Option<&str>,
    name: Option<&str>,
    w: Write,
    dry_run: bool,
) -> Result<(u16, Value), Failure> {
    let world = &core.sim.world;
    let wl = world.workload(cluster).map_err(unreachable)?;
    let rv_next = wl
        .resources
        .values()
        .filter_map(|o| o.pointer("/metadata/resourceVersion").and_then(Value::as_str).and_then(|s| s.parse::<u64>().ok()))
        .max()
        .unwrap_or(0)
        + 1;
    let lookup = |name: &str| wl.resources.get(&key(kind, namespace, name)).cloned();
    let (mut obj, existing) = match w {
        Write::Create(mut v) => {
            let n = conform(&mut v, kind, namespace, None)?;
            if lookup(&n).is_some() {
                let group = if kind.group.is_empty() { String::new() } else { format!(".{}", kind.group) };
                return Err(Failure::new(409, "AlreadyExists", format!("{}{group} \"{n}\" already exists", kind.plural)));
            }
            (v, None)
        }
        Write::Update(mut v) => {
            let n = conform(&mut v, kind, namespace, name)?;
            let old = lookup(&n).ok_or_else(|| not_found(kind, &n))?;
            (v, Some(old))
        }
        Write::Merge(patch) => {
            let n = name.unwrap_or_default();
            let old = lookup(n).ok_or_else(|| not_found(kind, n))?;
            let mut v = old.clone();
            json_patch::merge(&mut v, &patch);
            conform(&mut v, kind, namespace, name)?;
            (v, Some(old))
        }
        Write::Apply(mut v) => {
            let n = conform(&mut v, kind, namespace, name)?;
            // One field manager writes these objects: the applied configuration is the object.
            (v, lookup(&n))
        }
    };
    let unchanged = existing.as_ref().is_some_and(|o| content(o) == content(&obj));
    let rv = match (&existing, unchanged) {
        (Some(o), true) => o.pointer("/metadata/resourceVersion").and_then(Value::as_str).unwrap_or("1").to_string(),
        _ => rv_next.to_string(),
    };
    let uid = existing.as_ref().and_then(|o| o.pointer("/metadata/uid").cloned()).unwrap_or_else(|| json!(format!("{cluster}-{rv}")));
    obj["metadata"]["resourceVersion"] = json!(rv);
    obj["metadata"]["uid"] = uid;
    if !dry_run {
        core.sim.apply_to_workload(cluster, vec![obj.clone()]).map_err(unreachable)?;
    }
    Ok((if existing.is_some() { 200 } else { 201 }, obj))
}

/// An object's `autoscaling/v1 Scale` (`pkg/registry/apps/deployment/storage/storage.go: scaleFromDeployment`):
/// `spec.replicas`, and the status' replicas and label selector.
fn scale_of(v: &Value) -> Value {
    let selector = v
        .pointer("/spec/selector/matchLabels")
        .and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or(""))).collect::<Vec<_>>().join(","));
    json!({"apiVersion": "autoscaling/v1", "kind": "Scale",
        "metadata": {"name": v.pointer("/metadata/name"), "namespace": v.pointer("/metadata/namespace"),
            "resourceVersion": v.pointer("/metadata/resourceVersion"), "uid": v.pointer("/metadata/uid"),
            "creationTimestamp": v.pointer("/metadata/creationTimestamp")},
        "spec": {"replicas": v.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1)},
        "status": {"replicas": v.pointer("/status/replicas").and_then(Value::as_i64).unwrap_or(0), "selector": selector.unwrap_or_default()}})
}

/// `kubectl scale deployment|statefulset`: read the Scale, or write its `spec.replicas` into the object
/// (merge patch or update of the Scale), as the apps storage's scale REST does.
#[allow(clippy::too_many_arguments)]
async fn scale(
    app: &Arc<App>,
    method: Method,
    cluster: &str,
    kind: &'static WlKind,
    namespace: String,
    name: String,
    content_type: &str,
    body: Body,
    dry_run: bool,
) -> Result<Response, Failure> {
    let (c, ns, n) = (cluster.to_string(), namespace.clone(), name.clone());
    let current = app
        .sim
        .call(move |core| {
            let now = core.sim.now();
            core.sim.world.refresh_views(now);
            core.sim.world.workload_objects(&c).map(|o| o.value(kind.kind, &ns, &n).cloned())
        })
        .await?
        .map_err(unreachable)?
        .ok_or_else(|| not_found(kind, &name))?;
    if method == Method::GET || method == Method::HEAD {
        return Ok(json_response(StatusCode::OK, &scale_of(&current)));
    }
    let bytes = read_body(body).await?;
    let media = content_type.split(';').next().unwrap_or("").trim().to_string();
    let mut wanted = scale_of(&current);
    match (&method, media.as_str()) {
        (&Method::PUT, _) => wanted = decode(&bytes, &media)?,
        (&Method::PATCH, "application/merge-patch+json" | "application/strategic-merge-patch+json") => {
            json_patch::merge(&mut wanted, &decode(&bytes, &media)?)
        }
        (&Method::PATCH, _) => {
            return Err(Failure::new(415, "UnsupportedMediaType", format!("the body of the request was in an unknown format - accepted media types include: application/merge-patch+json, application/strategic-merge-patch+json ({media})")))
        }
        (m, _) => return Err(Failure::method_not_allowed(m.as_str())),
    }
    // `pkg/apis/autoscaling/validation/validation.go: ValidateScale` (`isNegativeErrorMsg`), returned by
    // the scale REST's `errors.NewInvalid(autoscaling.Kind("Scale"), ...)`.
    let replicas = wanted.pointer("/spec/replicas").and_then(Value::as_i64).filter(|r| *r >= 0).ok_or_else(|| {
        Failure::new(
            422,
            "Invalid",
            format!(
                "Scale.autoscaling \"{name}\" is invalid: spec.replicas: Invalid value: {}: must be greater than or equal to 0",
                wanted.pointer("/spec/replicas").unwrap_or(&Value::Null)
            ),
        )
    })?;
    let c = cluster.to_string();
    let w = Write::Merge(json!({"spec": {"replicas": replicas}}));
    let (_, obj) = app.sim.call(move |core| write(core, &c, kind, Some(&namespace), Some(&name), w, dry_run)).await??;
    Ok(json_response(StatusCode::OK, &scale_of(&obj)))
}

/// Answer a request under [`PREFIX`]; `path` is what follows it (`{namespace}/{cluster}/...`).
pub async fn handle(
    app: &Arc<App>,
    method: Method,
    path: &str,
    query: &str,
    content_type: &str,
    accept: super::route::Accept,
    body: Body,
) -> Result<Response, Failure> {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let [namespace, cluster, rest @ ..] = segs.as_slice() else { return Err(Failure::no_route()) };
    let cluster = cluster.to_string();
    let route = parse(rest)?;
    // A path naming no Cluster is not found (404), not an unreachable workload API (503).
    let cluster_key = capi_sim::ObjKey::new(capi_sim::Kind::Cluster, namespace, &cluster);
    if !app.sim.call(move |core| core.store().get(&cluster_key).is_some()).await? {
        return Err(super::writes::not_found(capi_sim::Kind::Cluster, &cluster));
    }
    let dry_run = query.split('&').any(|p| p == "dryRun=All");
    let json = |v: Value| json_response(StatusCode::OK, &v);
    let read_only = method == Method::GET || method == Method::HEAD;
    // Nothing answers while the simulated API server cannot be reached.
    let c = cluster.clone();
    app.sim.call(move |core| core.sim.world.api_reachable(&c)).await?.map_err(unreachable)?;
    match route {
        WlRoute::Health if read_only => Ok(json_response(StatusCode::OK, &json!("ok"))),
        WlRoute::Version if read_only => Ok(json(super::discovery::version())),
        WlRoute::CoreVersions if read_only => Ok(json(
            json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": app.server_url.trim_start_matches("https://")}]}),
        )),
        WlRoute::Groups if read_only => Ok(json(
            json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups().into_iter().map(group_json).collect::<Vec<_>>()}),
        )),
        WlRoute::Group(g) if read_only => Ok(json(group_json(&g))),
        WlRoute::Resources(g, v) if read_only => Ok(json(resource_list(&g, &v))),
        WlRoute::OpenApiIndex if read_only => Ok(json(super::workload_openapi::index(KINDS))),
        WlRoute::OpenApiDoc(g, v) if read_only => Ok(json(super::workload_openapi::document(KINDS, &g, &v))),
        WlRoute::Scale { kind, namespace, name } => scale(app, method, &cluster, kind, namespace, name, content_type, body, dry_run).await,
        WlRoute::Resource { kind, namespace, name, status } => {
            let m = method.clone();
            match (name, m) {
                (None, m) if m == Method::GET || m == Method::HEAD => {
                    let ns = namespace.clone();
                    let (items, now) = app
                        .sim
                        .call(move |core| {
                            let now = core.sim.now();
                            core.sim.world.refresh_views(now);
                            let items = core.sim.world.workload_objects(&cluster).map(|objects| {
                                objects
                                    .iter()
                                    .filter(|o| o.get("kind").and_then(Value::as_str) == Some(kind.kind))
                                    .filter(|o| ns.is_none() || o.pointer("/metadata/namespace").and_then(Value::as_str) == ns.as_deref())
                                    .cloned()
                                    .collect::<Vec<_>>()
                            });
                            (items, now)
                        })
                        .await?;
                    let items = items.map_err(unreachable)?;
                    if accept.table {
                        return Ok(json(super::workload_table::table(kind.kind, &items, now)));
                    }
                    Ok(json(
                        json!({"apiVersion": kind.api_version(), "kind": format!("{}List", kind.kind), "metadata": {}, "items": items}),
                    ))
                }
                (Some(name), m) if m == Method::GET || m == Method::HEAD => {
                    let ns = view_namespace(kind, namespace.as_deref());
                    let n = name.clone();
                    let (found, now) = app
                        .sim
                        .call(move |core| {
                            let now = core.sim.now();
                            core.sim.world.refresh_views(now);
                            (core.sim.world.workload_objects(&cluster).map(|o| o.value(kind.kind, &ns, &n).cloned()), now)
                        })
                        .await?;
                    let found = found.map_err(unreachable)?.ok_or_else(|| not_found(kind, &name))?;
                    Ok(json(if accept.table { super::workload_table::table(kind.kind, [&found], now) } else { found }))
                }
                (Some(name), m) if m == Method::DELETE => {
                    let ns = view_namespace(kind, namespace.as_deref());
                    let n = name.clone();
                    let found = app
                        .sim
                        .call(move |core| {
                            let found = core.sim.world.delete_workload_object(&cluster, kind.kind, &ns, &n);
                            core.sim.after_world_pub();
                            found
                        })
                        .await?
                        .map_err(unreachable)?;
                    match found {
                        true => Ok(json(json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                            "details": {"name": name, "kind": kind.plural}}))),
                        false => Err(not_found(kind, &name)),
                    }
                }
                (Some(name), m) if m == Method::PATCH && (status || kind.kind == "Node") => {
                    let bytes = read_body(body).await?;
                    let media = content_type.split(';').next().unwrap_or("").trim().to_string();
                    if !matches!(media.as_str(), "application/merge-patch+json" | "application/strategic-merge-patch+json") {
                        return Err(Failure::new(415, "UnsupportedMediaType", format!("the body of the request was in an unknown format - accepted media types include: application/merge-patch+json, application/strategic-merge-patch+json ({media})")));
                    }
                    let patch = decode(&bytes, &media)?;
                    let ns = view_namespace(kind, namespace.as_deref());
                    let n = name.clone();
                    let out = app
                        .sim
                        .call(move |core| -> Result<Option<Value>, String> {
                            let now = core.sim.now();
                            core.sim.world.refresh_views(now);
                            let Some(mut after) = core.sim.world.workload_objects(&cluster)?.value(kind.kind, &ns, &n).cloned() else {
                                return Ok(None);
                            };
                            json_patch::merge(&mut after, &patch);
                            if dry_run {
                                return Ok(Some(after));
                            }
                            core.sim.world.patch_workload_object(&cluster, after, status, now)?;
                            core.sim.after_world_pub();
                            core.sim.world.refresh_views(now);
                            Ok(core.sim.world.workload_objects(&cluster)?.value(kind.kind, &ns, &n).cloned())
                        })
                        .await?
                        .map_err(|e| Failure::new(422, "Invalid", e))?;
                    out.map(json).ok_or_else(|| not_found(kind, &name))
                }
                (name, m) => {
                    let bytes = read_body(body).await?;
                    let media = content_type.split(';').next().unwrap_or("").trim().to_string();
                    let w = match (&name, &m) {
                        (None, &Method::POST) => Write::Create(decode(&bytes, &media)?),
                        (Some(_), &Method::PUT) => Write::Update(decode(&bytes, &media)?),
                        (Some(_), &Method::PATCH) => match media.as_str() {
                            "application/apply-patch+yaml" => Write::Apply(decode(&bytes, &media)?),
                            "application/merge-patch+json" | "application/strategic-merge-patch+json" => Write::Merge(decode(&bytes, &media)?),
                            _ => return Err(Failure::new(415, "UnsupportedMediaType", format!("the body of the request was in an unknown format - accepted media types include: application/merge-patch+json, application/apply-patch+yaml ({media})"))),
                        },
                        (_, m) => return Err(Failure::method_not_allowed(m.as_str())),
                    };
                    let (code, obj) =
                        app.sim.call(move |core| write(core, &cluster, kind, namespace.as_deref(), name.as_deref(), w, dry_run)).await??;
                    Ok(json_response(StatusCode::from_u16(code).unwrap_or(StatusCode::OK), &obj))
                }
            }
        }
        _ => Err(Failure::method_not_allowed(method.as_str())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubeconfig_secret_points_at_the_served_workload() {
        let value = base64::engine::general_purpose::STANDARD.encode("server: https://172.18.0.3:6443");
        let mut secret = json!({
            "apiVersion": "v1", "kind": "Secret", "type": "cluster.x-k8s.io/secret",
            "metadata": {"name": "c1-kubeconfig", "namespace": "ns1", "labels": {"cluster.x-k8s.io/cluster-name": "c1"}},
            "data": {"value": value},
        });
        let creds = crate::apiserver::kubeconfig::Credentials { token: "t0k3n".into(), ca_pem: "PEM".into() };
        present(&mut secret, "https://127.0.0.1:1234", &creds);
        let text = base64::engine::general_purpose::STANDARD.decode(secret["data"]["value"].as_str().unwrap()).unwrap();
        let kc: serde_yaml::Value = serde_yaml::from_slice(&text).unwrap();
        assert_eq!(kc["clusters"][0]["cluster"]["server"].as_str(), Some("https://127.0.0.1:1234/workloads/ns1/c1"));
        assert_eq!(kc["users"][0]["user"]["token"].as_str(), Some("t0k3n"), "the served token reaches the workload endpoints");
        // Other Secrets are left alone.
        let mut other = json!({"kind": "Secret", "type": "Opaque", "metadata": {"name": "c1-kubeconfig"}, "data": {"value": "eA=="}});
        present(&mut other, "https://127.0.0.1:1234", &creds);
        assert_eq!(other["data"]["value"], "eA==");
    }

    /// `kubectl get ns`, `get pdb`, `get all` resolve through discovery's short names and categories.
    #[test]
    fn discovery_lists_short_names_and_the_all_category() {
        let core = resource_list("", "v1");
        let find = |list: &Value, name: &str| list["resources"].as_array().unwrap().iter().find(|r| r["name"] == name).cloned().unwrap();
        assert_eq!(find(&core, "namespaces")["shortNames"], json!(["ns"]));
        assert_eq!(find(&core, "pods")["categories"], json!(["all"]));
        assert!(find(&core, "secrets").get("shortNames").is_none(), "Secrets have no short name");
        assert_eq!(find(&resource_list("policy", "v1"), "poddisruptionbudgets")["shortNames"], json!(["pdb"]));
        assert_eq!(find(&resource_list("apps", "v1"), "deployments")["shortNames"], json!(["deploy"]));
    }

    #[test]
    fn routes() {
        assert!(matches!(
            parse(&["apis", "apps", "v1", "namespaces", "kube-system", "daemonsets", "kindnet"]),
            Ok(WlRoute::Resource { name: Some(_), .. })
        ));
        assert!(matches!(parse(&["apis", "rbac.authorization.k8s.io", "v1", "clusterroles"]), Ok(WlRoute::Resource { name: None, .. })));
        assert!(parse(&["apis", "rbac.authorization.k8s.io", "v1", "namespaces", "x", "clusterroles"]).is_err());
        assert!(parse(&["apis", "cluster.x-k8s.io", "v1beta2", "clusters"]).is_err());
        assert!(matches!(parse(&["api", "v1"]), Ok(WlRoute::Resources(..))));
        assert!(matches!(parse(&["apis", "apps", "v1", "namespaces", "d", "deployments", "web", "scale"]), Ok(WlRoute::Scale { .. })));
        assert!(parse(&["apis", "apps", "v1", "namespaces", "d", "daemonsets", "web", "scale"]).is_err(), "DaemonSets have no scale");
    }
}

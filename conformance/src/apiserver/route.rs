//! Request decoding: the URL path as a [`Route`] (discovery, OpenAPI, or a resource path with kind,
//! namespace, name and subresource), the query string as [`Params`] (tolerating kube-rs' leading `&`
//! and trailing `?`), and what the `Accept` header asks for.

use super::crd;
use super::status::Failure;
use capi_sim::kinds::KINDS;
use capi_sim::store::api::WriteOptions;
use capi_sim::store::schema::FieldValidation;
use capi_sim::Kind;

/// What a path addresses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// `/version`.
    Version,
    /// `/api`.
    CoreVersions,
    /// `/api/v1`.
    CoreResources,
    /// `/apis`.
    Groups,
    /// `/apis/{group}`.
    Group(String),
    /// `/apis/{group}/{version}`.
    GroupResources(String, String),
    /// `/openapi/v3`.
    OpenApiIndex,
    /// `/openapi/v3/api/v1` or `/openapi/v3/apis/{group}/{version}` (the group-version, "" for core).
    OpenApiDoc(String, String),
    /// `/openapi/v2`.
    OpenApiV2,
    /// `/apis/apiextensions.k8s.io/v1/customresourcedefinitions[/{name}]` (read-only).
    Crd(Option<String>),
    /// A collection, an object or its status.
    Resource(ResourcePath),
    /// `/healthz`, `/livez`, `/readyz`.
    Health,
}

/// A resource path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourcePath {
    /// The kind served at the path.
    pub kind: Kind,
    /// The namespace in the path (`None`: cluster-scoped kind, or all namespaces).
    pub namespace: Option<String>,
    /// The object name (`None`: the collection).
    pub name: Option<String>,
    /// The subresource addressed.
    pub sub: Sub,
}

/// Which part of an object a path addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sub {
    /// The object itself.
    Main,
    /// `/status`.
    Status,
    /// `/scale` (an `autoscaling/v1 Scale` view of the replicas).
    Scale,
}

/// The kind a group, version and plural name serve.
pub fn kind_of(group: &str, version: &str, plural: &str) -> Option<Kind> {
    KINDS.iter().find(|k| k.group == group && k.version == version && k.plural == plural).map(|k| k.kind)
}

/// Decode a path; `Err` is the 404 the server answers.
pub fn parse(path: &str) -> Result<Route, Failure> {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match segs.as_slice() {
        ["version"] => Ok(Route::Version),
        ["healthz" | "livez" | "readyz", ..] => Ok(Route::Health),
        ["api"] => Ok(Route::CoreVersions),
        ["api", "v1"] => Ok(Route::CoreResources),
        ["api", "v1", rest @ ..] => resource("", "v1", rest),
        ["apis"] => Ok(Route::Groups),
        ["apis", g] if served_group(g) || *g == crd::GROUP => Ok(Route::Group(g.to_string())),
        ["apis", g, v] if served_group_version(g, v) || (*g == crd::GROUP && *v == crd::VERSION) => {
            Ok(Route::GroupResources(g.to_string(), v.to_string()))
        }
        ["apis", crd::GROUP, crd::VERSION, crd::PLURAL] => Ok(Route::Crd(None)),
        ["apis", crd::GROUP, crd::VERSION, crd::PLURAL, name] => Ok(Route::Crd(Some(name.to_string()))),
        ["apis", g, v, rest @ ..] => resource(g, v, rest),
        ["openapi", "v2"] => Ok(Route::OpenApiV2),
        ["openapi", "v3"] => Ok(Route::OpenApiIndex),
        ["openapi", "v3", "api", "v1"] => Ok(Route::OpenApiDoc(String::new(), "v1".into())),
        ["openapi", "v3", "apis", g, v] if served_group_version(g, v) => Ok(Route::OpenApiDoc(g.to_string(), v.to_string())),
        _ => Err(Failure::no_route()),
    }
}

/// Whether a group is served.
pub fn served_group(group: &str) -> bool {
    !group.is_empty() && KINDS.iter().any(|k| k.group == group)
}

fn served_group_version(group: &str, version: &str) -> bool {
    KINDS.iter().any(|k| !k.group.is_empty() && k.group == group && k.version == version)
}

fn resource(group: &str, version: &str, rest: &[&str]) -> Result<Route, Failure> {
    let kind = |plural: &str| kind_of(group, version, plural).ok_or_else(Failure::no_route);
    let path = |kind: Kind, namespace: Option<&str>, name: Option<&str>, sub: Sub| -> Result<Route, Failure> {
        let info = kind.info();
        if (sub == Sub::Status && !info.status_subresource) || (sub == Sub::Scale && !super::scale::has_scale(kind)) {
            return Err(Failure::no_route());
        }
        // An object path must match the kind's scope; a namespaced kind's collection may be listed
        // across all namespaces.
        if (namespace.is_some() && !info.namespaced) || (name.is_some() && namespace.is_none() && info.namespaced) {
            return Err(Failure::no_route());
        }
        Ok(Route::Resource(ResourcePath { kind, namespace: namespace.map(str::to_string), name: name.map(str::to_string), sub }))
    };
    match rest {
        // The core group's namespaces are both a resource and the path prefix of namespaced ones.
        ["namespaces", ns, plural, tail @ ..] if kind_of(group, version, plural).is_some_and(|k| k.info().namespaced) => {
            let k = kind(plural)?;
            match tail {
                [] => path(k, Some(ns), None, Sub::Main),
                [name] => path(k, Some(ns), Some(name), Sub::Main),
                [name, "status"] => path(k, Some(ns), Some(name), Sub::Status),
                [name, "scale"] => path(k, Some(ns), Some(name), Sub::Scale),
                _ => Err(Failure::no_route()),
            }
        }
        [plural] => path(kind(plural)?, None, None, Sub::Main),
        [plural, name] => path(kind(plural)?, None, Some(name), Sub::Main),
        [plural, name, "status"] => path(kind(plural)?, None, Some(name), Sub::Status),
        _ => Err(Failure::no_route()),
    }
}

/// The query parameters the server reads.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Params {
    /// `watch=true|1`.
    pub watch: bool,
    /// `resourceVersion`.
    pub resource_version: Option<String>,
    /// `timeoutSeconds`.
    pub timeout_seconds: Option<u64>,
    /// `allowWatchBookmarks=true`.
    pub bookmarks: bool,
    /// `sendInitialEvents=true`.
    pub send_initial_events: bool,
    /// `labelSelector`.
    pub label_selector: Option<String>,
    /// `fieldSelector`.
    pub field_selector: Option<String>,
    /// `dryRun=All`.
    pub dry_run: bool,
    /// `fieldManager`.
    pub field_manager: Option<String>,
    /// The field manager of a write without `fieldManager`: the request's User-Agent up to its
    /// first `/`, as the API server's `managerOrUserAgent` names it (not a query parameter).
    pub user_agent_manager: Option<String>,
    /// `force=true`: a server-side apply takes the fields other managers own.
    pub force: bool,
    /// `fieldValidation` (`Warn` when absent, as the API server defaults it).
    pub field_validation: FieldValidation,
    /// A `fieldValidation` value that is none of the directives (refused by the write it came with).
    pub field_validation_invalid: Option<String>,
    /// `propagationPolicy`.
    pub propagation_policy: Option<String>,
    /// `orphanDependents=true`.
    pub orphan_dependents: bool,
}

fn truthy(v: &str) -> bool {
    matches!(v, "true" | "1" | "True" | "TRUE")
}

impl Params {
    /// The write options the query asks for (the simulator's clock sets the time), or the 422 the
    /// API server answers for a `fieldValidation` it does not know, naming the request's options
    /// kind (`CreateOptions`, `UpdateOptions`, `PatchOptions`): apimachinery
    /// `meta/v1/validation: ValidateFieldValidation` (`field.NotSupported` over the sorted allowed
    /// values, the empty one included) under `errors.NewInvalid`.
    pub fn write_options(&self, options_kind: &str) -> Result<WriteOptions<'_>, Failure> {
        if let Some(v) = &self.field_validation_invalid {
            let detail = format!("Unsupported value: {v:?}: supported values: \"\", \"Ignore\", \"Strict\", \"Warn\"");
            return Err(Failure {
                details: Some(serde_json::json!({"group": "meta.k8s.io", "kind": options_kind, "causes": [
                    {"reason": "FieldValueNotSupported", "message": detail, "field": "fieldValidation"}]})),
                ..Failure::new(422, "Invalid", format!("{options_kind}.meta.k8s.io \"\" is invalid: fieldValidation: {detail}"))
            });
        }
        let manager = [&self.field_manager, &self.user_agent_manager]
            .into_iter()
            .find_map(|m| m.as_deref().filter(|m| !m.is_empty()))
            .unwrap_or(capi_sim::store::api::UNKNOWN_MANAGER);
        Ok(WriteOptions {
            dry_run: self.dry_run,
            field_validation: self.field_validation,
            force: self.force,
            ..WriteOptions::at(0).by(manager)
        })
    }

    /// Decode a query string. Unknown parameters (`limit`, `timeout`,
    /// `continue`, `resourceVersionMatch`...) are accepted and ignored; empty pairs are skipped, so
    /// `?&limit=500` and a bare `?` work.
    pub fn parse(query: &str) -> Result<Params, Failure> {
        let mut p = Params::default();
        for (k, v) in form_urlencoded::parse(query.as_bytes()) {
            match k.as_ref() {
                "watch" => p.watch = truthy(&v),
                "resourceVersion" => p.resource_version = Some(v.into_owned()),
                "timeoutSeconds" => {
                    p.timeout_seconds = Some(
                        v.parse()
                            .map_err(|_| Failure::bad_request(format!("timeoutSeconds: invalid value \"{v}\": must be an integer")))?,
                    )
                }
                "allowWatchBookmarks" => p.bookmarks = truthy(&v),
                "sendInitialEvents" => p.send_initial_events = truthy(&v),
                "labelSelector" => p.label_selector = Some(v.into_owned()),
                "fieldSelector" => p.field_selector = Some(v.into_owned()),
                "dryRun" => match v.as_ref() {
                    "All" => p.dry_run = true,
                    "" => {}
                    other => {
                        return Err(Failure::bad_request(format!("dryRun: Unsupported value: \"{other}\": supported values: \"All\"")))
                    }
                },
                "fieldManager" => p.field_manager = Some(v.into_owned()),
                "force" => p.force = truthy(&v),
                // Checked by the write it comes with (`write_options`).
                "fieldValidation" => match FieldValidation::parse(&v) {
                    Some(f) => p.field_validation = f,
                    None => p.field_validation_invalid = Some(v.into_owned()),
                },
                "propagationPolicy" => p.propagation_policy = Some(v.into_owned()),
                "orphanDependents" => p.orphan_dependents = truthy(&v),
                _ => {}
            }
        }
        Ok(p)
    }
}

/// What the `Accept` header asks for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Accept {
    /// `as=Table` (meta.k8s.io Table).
    pub table: bool,
    /// `as=APIGroupDiscoveryList`, with the version to answer (`v2` or `v2beta1`).
    pub aggregated: Option<&'static str>,
}

impl Accept {
    /// Decode an Accept header (absent: plain JSON).
    pub fn parse(header: Option<&str>) -> Accept {
        let mut a = Accept::default();
        for media in header.unwrap_or("").split(',') {
            let params: Vec<(&str, &str)> =
                media.split(';').skip(1).filter_map(|p| p.split_once('=')).map(|(k, v)| (k.trim(), v.trim())).collect();
            let get = |key: &str| params.iter().find(|(k, _)| *k == key).map(|(_, v)| *v);
            match get("as") {
                Some("Table") => a.table = true,
                Some("APIGroupDiscoveryList") if a.aggregated.is_none() => {
                    a.aggregated = match get("v") {
                        Some("v2") => Some("v2"),
                        Some("v2beta1") => Some("v2beta1"),
                        _ => None,
                    }
                }
                _ => {}
            }
        }
        a
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        let r = |p: &str| parse(p).ok();
        assert_eq!(r("/apis/cluster.x-k8s.io/v1beta2"), Some(Route::GroupResources("cluster.x-k8s.io".into(), "v1beta2".into())));
        let Some(Route::Resource(rp)) = r("/apis/cluster.x-k8s.io/v1beta2/namespaces/default/clusters/c1/status") else { panic!() };
        assert_eq!(
            (rp.kind, rp.namespace.as_deref(), rp.name.as_deref(), rp.sub),
            (Kind::Cluster, Some("default"), Some("c1"), Sub::Status)
        );
        let Some(Route::Resource(rp)) = r("/apis/cluster.x-k8s.io/v1beta2/clusters") else { panic!() };
        assert_eq!((rp.namespace, rp.name), (None, None));
        let Some(Route::Resource(rp)) = r("/api/v1/namespaces/kube-system") else { panic!() };
        assert_eq!((rp.kind, rp.name.as_deref()), (Kind::Namespace, Some("kube-system")));
        let Some(Route::Resource(rp)) = r("/api/v1/namespaces/kube-system/status") else { panic!() };
        assert_eq!(rp.sub, Sub::Status);
        let Some(Route::Resource(rp)) = r("/apis/cluster.x-k8s.io/v1beta2/namespaces/d/machinedeployments/md/scale") else { panic!() };
        assert_eq!((rp.kind, rp.sub), (Kind::MachineDeployment, Sub::Scale));
        assert!(r("/apis/cluster.x-k8s.io/v1beta2/namespaces/d/clusters/c/scale").is_none());
        let Some(Route::Resource(rp)) = r("/api/v1/namespaces/default/configmaps/x") else { panic!() };
        assert_eq!((rp.kind, rp.namespace.as_deref()), (Kind::ConfigMap, Some("default")));
        assert!(r("/apis/cluster.x-k8s.io/v1beta1/clusters").is_none());
        assert!(r("/apis/cluster.x-k8s.io/v1beta2/clusters/c1").is_none(), "namespaced object without namespace");
        assert!(r("/api/v1/namespaces/default/configmaps/x/status").is_none(), "no status subresource");
    }

    #[test]
    fn kube_rs_query_quirks() {
        let p = Params::parse("&limit=500&watch=true&resourceVersion=12&allowWatchBookmarks=true").unwrap();
        assert!(p.watch && p.bookmarks);
        assert_eq!(p.resource_version.as_deref(), Some("12"));
        assert_eq!(Params::parse("").unwrap(), Params::default());
        assert!(Params::parse("timeoutSeconds=x").is_err());
        let p = Params::parse("fieldSelector=metadata.name%3Dc2").unwrap();
        assert_eq!(p.field_selector.as_deref(), Some("metadata.name=c2"));
    }

    #[test]
    fn accept() {
        let a = Accept::parse(Some("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"));
        assert_eq!(a.aggregated, Some("v2"));
        assert!(Accept::parse(Some("application/json;as=Table;v=v1;g=meta.k8s.io,application/json")).table);
        assert_eq!(Accept::parse(None), Accept::default());
    }
}

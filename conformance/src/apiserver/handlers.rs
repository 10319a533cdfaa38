//! The HTTP handler: decodes a request (route, query, headers, body), answers discovery, OpenAPI,
//! gets and lists, starts watches, and hands writes to [`super::writes`], [`super::delete`] and
//! [`super::scale`], which run on the simulator thread as user operations. Answers are Kubernetes
//! JSON (or a Table). Every failure, including a malformed request, is a `Status` answer; nothing
//! here panics on client input.

use super::core::{Pulse, SimHandle};
use super::delete::{delete, delete_collection, delete_options};
use super::history::History;
use super::route::{self, Accept, Params, ResourcePath, Route, Sub};
use super::selectors::Filter;
use super::status::{json_response, Failure};
use super::writes::{create, decode_patch, list_json, not_found, patch_object, update};
use super::{discovery, openapi, scale, table, watch, workload};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use capi_sim::store::api::Written;
use capi_sim::{ObjKey, Object};
use serde_json::Value;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::watch as tokio_watch;

/// The largest request body accepted.
pub const MAX_BODY_BYTES: usize = 32 << 20;

/// Watch stream settings.
#[derive(Clone, Copy, Debug)]
pub struct WatchSettings {
    /// How often a stream that asked for bookmarks gets one.
    pub bookmark_interval: Duration,
    /// How long a stream lasts without `timeoutSeconds`.
    pub default_timeout: Duration,
}

/// What every request handler shares.
pub struct App {
    /// The simulator thread.
    pub sim: SimHandle,
    /// The watch history.
    pub history: Arc<RwLock<History>>,
    /// Wakes watch streams.
    pub pulse: tokio_watch::Receiver<Pulse>,
    /// Simulated time as last published (for ages in watch Tables).
    pub now_ms: Arc<AtomicU64>,
    /// `https://ADDR`, for `/api`.
    pub server_url: String,
    /// Watch settings.
    pub watch: WatchSettings,
    /// Who may send requests (token, Host, Origin, media types).
    pub guard: super::auth::Guard,
    /// What clients need to reach the server (written into workload kubeconfig Secrets).
    pub credentials: super::kubeconfig::Credentials,
}

impl App {
    /// An object as clients read it (see [`workload::present`]).
    pub fn present(&self, o: &Object) -> Value {
        let mut v = with_managed_fields(o);
        workload::present(&mut v, &self.server_url, &self.credentials);
        v
    }
}

/// A successful answer computed on the simulator thread.
pub struct Reply {
    /// HTTP code.
    pub code: u16,
    /// Body.
    pub body: Value,
    /// Admission warnings (`Warning` headers).
    pub warnings: Vec<String>,
}

impl Reply {
    /// 200 with a body.
    pub fn ok(body: Value) -> Reply {
        Reply { code: 200, body, warnings: vec![] }
    }

    /// A committed (or dry-run) write.
    pub fn written(code: u16, w: Written) -> Reply {
        Reply { code, body: with_managed_fields(&w.object), warnings: w.warnings }
    }
}

/// An object as the API server answers it: with `metadata.managedFields` (kubectl hides them unless
/// `--show-managed-fields`).
pub fn with_managed_fields(o: &Object) -> Value {
    let mut v = o.to_json();
    if let (Some(mf), Some(md)) = (capi_sim::store::managed::to_wire(&o.meta.managed, o.kind.api_version()), v.get_mut("metadata")) {
        if let Some(md) = md.as_object_mut() {
            md.insert("managedFields".into(), mf);
        }
    }
    v
}

/// The axum handler for every path.
pub async fn handle(State(app): State<Arc<App>>, req: Request) -> Response {
    match dispatch(&app, req).await {
        Ok(r) => r,
        Err(f) => f.into_response(),
    }
}

pub fn reply_response(r: Reply) -> Response {
    let mut resp = json_response(StatusCode::from_u16(r.code).unwrap_or(StatusCode::OK), &r.body);
    for w in r.warnings {
        // `apimachinery/pkg/util/net/http.go: NewWarningHeader`: the text as a quoted string, its
        // quotes and backslashes escaped (kubectl prints `Warning: unknown field "spec.x"`).
        let mut text = String::with_capacity(w.len());
        for c in w.chars() {
            match c {
                '"' | '\\' => {
                    text.push('\\');
                    text.push(c);
                }
                c if c.is_ascii_graphic() || c == ' ' => text.push(c),
                _ => text.push(' '),
            }
        }
        if let Ok(v) = HeaderValue::from_str(&format!("299 - \"{text}\"")) {
            resp.headers_mut().append(header::WARNING, v);
        }
    }
    resp
}

fn header_str(req: &axum::http::request::Parts, name: header::HeaderName) -> Option<&str> {
    req.headers.get(name).and_then(|v| v.to_str().ok())
}

fn only_get(method: &Method) -> Result<(), Failure> {
    if method == Method::GET || method == Method::HEAD {
        Ok(())
    } else {
        Err(Failure::method_not_allowed(method.as_str()))
    }
}

async fn dispatch(app: &Arc<App>, req: Request) -> Result<Response, Failure> {
    let (parts, body) = req.into_parts();
    app.guard.check(&parts)?;
    if let Some(rest) = parts.uri.path().strip_prefix(workload::PREFIX) {
        let content_type = header_str(&parts, header::CONTENT_TYPE).unwrap_or("").to_string();
        let accept = Accept::parse(header_str(&parts, header::ACCEPT));
        return workload::handle(app, parts.method.clone(), rest, parts.uri.query().unwrap_or(""), &content_type, accept, body).await;
    }
    let accept = Accept::parse(header_str(&parts, header::ACCEPT));
    let route = route::parse(parts.uri.path())?;
    let mut params = Params::parse(parts.uri.query().unwrap_or(""))?;
    // `managerOrUserAgent`: a write without a manager is named after its client.
    params.user_agent_manager = header_str(&parts, header::USER_AGENT)
        .and_then(|u| u.split('/').next())
        .filter(|u| !u.is_empty())
        .map(|u| u.chars().take(128).collect());
    let method = parts.method.clone();
    let json = |v: Value| json_response(StatusCode::OK, &v);
    let aggregated = |v: Value, dv: &str| {
        let mut r = json(v);
        if let Ok(ct) = HeaderValue::from_str(&discovery::aggregated_content_type(dv)) {
            r.headers_mut().insert(header::CONTENT_TYPE, ct);
        }
        r
    };
    match route {
        Route::Health => {
            only_get(&method)?;
            Ok((StatusCode::OK, "ok").into_response())
        }
        Route::Version => {
            only_get(&method)?;
            Ok(json(discovery::version()))
        }
        Route::CoreVersions => {
            only_get(&method)?;
            Ok(match accept.aggregated {
                Some(dv) => aggregated(discovery::aggregated(true, dv), dv),
                None => json(discovery::core_versions(&app.server_url)),
            })
        }
        Route::Groups => {
            only_get(&method)?;
            Ok(match accept.aggregated {
                Some(dv) => aggregated(discovery::aggregated(false, dv), dv),
                None => json(discovery::groups()),
            })
        }
        Route::Group(g) => {
            only_get(&method)?;
            Ok(json(discovery::group(&g)))
        }
        Route::CoreResources => {
            only_get(&method)?;
            Ok(json(discovery::resources("", "v1")))
        }
        Route::GroupResources(g, v) => {
            only_get(&method)?;
            Ok(json(discovery::resources(&g, &v)))
        }
        Route::OpenApiIndex => {
            only_get(&method)?;
            Ok(json(openapi::index()))
        }
        Route::OpenApiDoc(g, v) => {
            only_get(&method)?;
            Ok(json(openapi::document(&g, &v)))
        }
        Route::OpenApiV2 => {
            only_get(&method)?;
            Ok(json_response(StatusCode::OK, openapi::v2()))
        }
        Route::Crd(name) => {
            only_get(&method)?;
            Ok(json(super::crd::get(name.as_deref(), accept.table)?))
        }
        Route::Resource(rp) => {
            let content_type = header_str(&parts, header::CONTENT_TYPE).unwrap_or("").to_string();
            resource(app, method, rp, params, accept, &content_type, body).await
        }
    }
}

pub async fn read_body(body: Body) -> Result<Vec<u8>, Failure> {
    axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map(|b| b.to_vec())
        .map_err(|e| Failure::new(413, "RequestEntityTooLarge", format!("the request body could not be read: {e}")))
}

/// Decode a JSON (or, when the media type says so, YAML) body.
pub fn decode(bytes: &[u8], content_type: &str) -> Result<Value, Failure> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(Failure::bad_request("the request body is empty"));
    }
    if super::protobuf::is_protobuf(content_type) {
        return super::protobuf::decode(bytes);
    }
    if content_type.contains("protobuf") {
        return Err(Failure::new(415, "UnsupportedMediaType", format!("the body of the request was in an unknown format - accepted media types include: application/json, application/yaml ({content_type})")));
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(v) => Ok(v),
        Err(e) if content_type.contains("yaml") => serde_yaml::from_slice::<Value>(bytes)
            .map_err(|ye| Failure::bad_request(format!("the request body is neither JSON ({e}) nor YAML ({ye})"))),
        Err(e) => Err(Failure::bad_request(format!("couldn't decode the request body as JSON: {e}"))),
    }
}

async fn resource(
    app: &Arc<App>,
    method: Method,
    rp: ResourcePath,
    params: Params,
    accept: Accept,
    content_type: &str,
    body: Body,
) -> Result<Response, Failure> {
    let kind = rp.kind;
    let ns = rp.namespace.clone();
    let all_namespaces = kind.info().namespaced && ns.is_none();
    if rp.sub == Sub::Scale {
        return scale::handle(app, method, rp, &params, content_type, body).await;
    }
    match (rp.name.clone(), method.clone()) {
        (None, m) if m == Method::GET || m == Method::HEAD => {
            let filter = Filter::new(kind, ns, params.label_selector.as_deref(), params.field_selector.as_deref())?;
            if params.watch {
                return watch::serve(app, filter, &params, accept).await;
            }
            list(app, filter, accept).await
        }
        (None, Method::POST) if !all_namespaces => {
            let v = decode(&read_body(body).await?, content_type)?;
            params.write_options("CreateOptions")?;
            let r = app.sim.call(move |core| create(core, &rp, v, params.write_options("CreateOptions")?)).await??;
            Ok(reply_response(r))
        }
        (None, Method::DELETE) => {
            let filter = Filter::new(kind, ns, params.label_selector.as_deref(), params.field_selector.as_deref())?;
            let opts = delete_options(&read_body(body).await?, &params)?;
            let r = app.sim.call(move |core| delete_collection(core, &filter, &opts)).await??;
            Ok(reply_response(r))
        }
        (Some(name), m) if m == Method::GET || m == Method::HEAD => {
            if params.watch {
                let field = format!("metadata.name={name}");
                let filter = Filter::new(kind, ns, params.label_selector.as_deref(), Some(&field))?;
                return watch::serve(app, filter, &params, accept).await;
            }
            let key = ObjKey::new(kind, ns.as_deref().unwrap_or(""), &name);
            let (obj, now) = app
                .sim
                .call(move |core| {
                    let o = core.store().get(&key).cloned().ok_or_else(|| not_found(kind, &name));
                    (o, core.now())
                })
                .await?;
            let obj = obj?;
            Ok(if accept.table {
                json_response(StatusCode::OK, &table::table(kind, [&*obj], now, None))
            } else {
                json_response(StatusCode::OK, &app.present(&obj))
            })
        }
        (Some(_), Method::PUT) => {
            let v = decode(&read_body(body).await?, content_type)?;
            params.write_options("UpdateOptions")?;
            let r = app.sim.call(move |core| update(core, &rp, v, params.write_options("UpdateOptions")?)).await??;
            Ok(reply_response(r))
        }
        (Some(_), Method::PATCH) => {
            let bytes = read_body(body).await?;
            let patch = decode_patch(kind, content_type, &bytes)?;
            let r = app.sim.call(move |core| patch_object(core, &rp, patch, &params)).await??;
            Ok(reply_response(r))
        }
        (Some(_), Method::DELETE) if rp.sub == Sub::Main => {
            let opts = delete_options(&read_body(body).await?, &params)?;
            let r = app.sim.call(move |core| delete(core, &rp, &opts)).await??;
            Ok(reply_response(r))
        }
        (_, m) => Err(Failure::method_not_allowed(m.as_str())),
    }
}

async fn list(app: &Arc<App>, filter: Filter, accept: Accept) -> Result<Response, Failure> {
    let kind = filter.kind;
    let (objects, rv, now) = app
        .sim
        .call(move |core| {
            let ns = filter.namespace.as_deref();
            let objects: Vec<Arc<Object>> = core.store().objects().of_kind(kind, ns).filter(|o| filter.matches(o)).cloned().collect();
            (objects, core.store().resource_version(), core.now())
        })
        .await?;
    if accept.table {
        return Ok(json_response(StatusCode::OK, &table::table(kind, objects.iter().map(|o| &**o), now, Some(rv))));
    }
    Ok(json_response(StatusCode::OK, &list_json(kind, objects.iter().map(|o| app.present(o)).collect(), Some(rv))))
}

/// Simulated time as last published.
pub fn sim_now(app: &App) -> u64 {
    app.now_ms.load(Ordering::Relaxed)
}

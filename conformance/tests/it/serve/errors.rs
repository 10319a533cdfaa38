//! Raw HTTP against the served simulator: the exact `Status` shapes clients parse (404, 409
//! AlreadyExists and Conflict, 410 in a watch stream, 415, 422, 400), kube-rs' URL quirks, the
//! discovery content types, and watch resumption.

use super::serve;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A response: status code, headers (lower-case names), body (de-chunked).
pub(super) struct Resp {
    pub(super) code: u16,
    headers: Vec<(String, String)>,
    pub(super) body: String,
}

impl Resp {
    pub(super) fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
    pub(super) fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

fn dechunk(mut raw: &str) -> String {
    let mut out = String::new();
    loop {
        let Some((size, rest)) = raw.split_once("\r\n") else { return out };
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else { return out };
        if n == 0 || rest.len() < n {
            out.push_str(&rest[..n.min(rest.len())]);
            return out;
        }
        out.push_str(&rest[..n]);
        raw = rest[n..].trim_start_matches("\r\n");
    }
}

/// Where requests go, the authority to trust, and the bearer token they carry (`None`: no
/// `Authorization` header).
#[derive(Clone, Copy)]
pub(super) struct Api<'a> {
    addr: SocketAddr,
    ca_pem: &'a str,
    token: Option<&'a str>,
}

impl<'a> Api<'a> {
    pub(super) fn of(s: &'a super::Served) -> Self {
        Api { addr: s.server.addr(), ca_pem: s.server.ca_pem(), token: Some(s.server.token()) }
    }
}

/// A TLS connection to the server, trusting only its serving authority.
async fn connect(api: Api<'_>) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    use rustls::pki_types::pem::PemObject as _;
    let mut roots = rustls::RootCertStore::empty();
    roots.add(rustls::pki_types::CertificateDer::from_pem_slice(api.ca_pem.as_bytes()).unwrap()).unwrap();
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(api.addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    tokio_rustls::TlsConnector::from(std::sync::Arc::new(config)).connect(name, tcp).await.unwrap()
}

/// One request on a fresh connection (`Connection: close`); reads until the server closes or
/// `limit` passes (watch streams).
pub(super) async fn http(api: Api<'_>, method: &str, path: &str, headers: &[(&str, &str)], body: &str, limit: Duration) -> Resp {
    http_bytes(api, method, path, headers, body.as_bytes(), limit).await
}

/// [`http`] with a binary body (protobuf).
pub(super) async fn http_bytes(api: Api<'_>, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8], limit: Duration) -> Resp {
    let addr = api.addr;
    let mut s = connect(api).await;
    let has_host = headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host"));
    let mut req = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    if !has_host {
        req.push_str(&format!("Host: {addr}\r\n"));
    }
    if let Some(t) = api.token {
        req.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    let mut bytes = req.into_bytes();
    bytes.extend_from_slice(body);
    s.write_all(&bytes).await.unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(limit, s.read_to_end(&mut buf)).await;
    let text = String::from_utf8_lossy(&buf).to_string();
    let (head, rest) = text.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no HTTP answer: {text:?}"));
    let mut lines = head.lines();
    let code = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let headers: Vec<(String, String)> =
        lines.filter_map(|l| l.split_once(':')).map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string())).collect();
    let chunked = headers.iter().any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"));
    let body = if chunked { dechunk(rest) } else { rest.to_string() };
    Resp { code, headers, body }
}

pub(super) const SEC: Duration = Duration::from_secs(5);
const CLUSTERS: &str = "/apis/cluster.x-k8s.io/v1beta2/namespaces/default/clusters";
const CMS: &str = "/api/v1/namespaces/default/configmaps";
const JSON: (&str, &str) = ("Content-Type", "application/json");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_errors_are_shaped_like_the_api_server() {
    let s = serve(|o| o.speed = 0.0).await;
    let a = Api::of(&s);

    let r = http(a, "GET", &format!("{CLUSTERS}/nope"), &[], "", SEC).await;
    assert_eq!(r.code, 404);
    assert_eq!(
        r.json(),
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "reason": "NotFound", "code": 404,
            "message": "clusters.cluster.x-k8s.io \"nope\" not found",
            "details": {"name": "nope", "group": "cluster.x-k8s.io", "kind": "clusters"}})
    );
    let r = http(a, "GET", "/apis/nothing.example.com/v1/things", &[], "", SEC).await;
    assert_eq!((r.code, r.json()["reason"].clone()), (404, json!("NotFound")));
    assert_eq!(r.json()["message"], "the server could not find the requested resource");

    let cm = r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":{"a":"1"}}"#;
    let r = http(a, "POST", CMS, &[JSON], cm, SEC).await;
    assert_eq!(r.code, 201, "{}", r.body);
    let first = r.json();
    let r = http(a, "POST", CMS, &[JSON], cm, SEC).await;
    assert_eq!((r.code, r.json()["reason"].clone()), (409, json!("AlreadyExists")));
    assert_eq!(r.json()["message"], "configmaps \"c\" already exists");

    let mut update = first.clone();
    update["data"]["a"] = json!("2");
    let r = http(a, "PUT", &format!("{CMS}/c"), &[JSON], &update.to_string(), SEC).await;
    assert_eq!(r.code, 200, "{}", r.body);
    // The same resourceVersion again is now stale.
    let r = http(a, "PUT", &format!("{CMS}/c"), &[JSON], &update.to_string(), SEC).await;
    assert_eq!(r.code, 409);
    assert_eq!(r.json()["reason"], "Conflict");
    assert_eq!(
        r.json()["message"],
        "Operation cannot be fulfilled on configmaps \"c\": the object has been modified; please apply your changes to the latest version and try again"
    );
    update["metadata"].as_object_mut().unwrap().remove("resourceVersion");
    let r = http(a, "PUT", &format!("{CMS}/c"), &[JSON], &update.to_string(), SEC).await;
    assert_eq!((r.code, r.json()["reason"].clone()), (422, json!("Invalid")));
    assert!(r.json()["message"]
        .as_str()
        .unwrap()
        .contains("metadata.resourceVersion: Invalid value: 0x0: must be specified for an update"));

    let r = http(a, "PATCH", &format!("{CLUSTERS}/c1"), &[("Content-Type", "application/strategic-merge-patch+json")], "{}", SEC).await;
    assert_eq!((r.code, r.json()["reason"].clone(), r.json()["code"].clone()), (415, json!("UnsupportedMediaType"), json!(415)));
    let r = http(a, "POST", CMS, &[JSON], "{not json", SEC).await;
    assert_eq!((r.code, r.json()["reason"].clone()), (400, json!("BadRequest")));
    let r = http(a, "PATCH", &format!("{CMS}/c"), &[("Content-Type", "application/apply-patch+yaml")], cm, SEC).await;
    assert_eq!((r.code, r.json()["reason"].clone()), (422, json!("Invalid")), "apply needs a fieldManager");
    let r = http(
        a,
        "PATCH",
        &format!("{CMS}/c?fieldManager=t"),
        &[("Content-Type", "application/json-patch+json")],
        r#"[{"op":"test","path":"/data/a","value":"9"}]"#,
        SEC,
    )
    .await;
    assert_eq!(r.code, 422, "a failed JSON patch test: {}", r.body);
    let r = http(a, "DELETE", &format!("{CMS}/c"), &[JSON], r#"{"preconditions":{"uid":"not-the-uid"}}"#, SEC).await;
    assert_eq!((r.code, r.json()["reason"].clone()), (409, json!("Conflict")));
    let r = http(a, "DELETE", &format!("{CMS}/c"), &[JSON], r#"{"propagationPolicy":"Sideways"}"#, SEC).await;
    assert_eq!(r.code, 422);
    let r = http(a, "POST", "/api/v1/configmaps", &[JSON], cm, SEC).await;
    assert_eq!(r.code, 405, "no create across all namespaces");
    let r = http(a, "GET", &format!("{CMS}?watch=true&resourceVersion=abc"), &[], "", SEC).await;
    assert_eq!(r.code, 400);
    s.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn url_quirks_discovery_and_watch_resumption() {
    let s = serve(|o| {
        o.speed = 0.0;
        o.history_limit = 3;
    })
    .await;
    let a = Api::of(&s);

    // kube-rs quirks: a leading `&`, a bare `?`, no Accept header.
    let r = http(a, "GET", "/apis/cluster.x-k8s.io/v1beta2/clusters?&limit=500", &[], "", SEC).await;
    assert_eq!(r.code, 200);
    assert_eq!(r.json()["kind"], "ClusterList");
    let list_rv: u64 = r.json()["metadata"]["resourceVersion"].as_str().unwrap().parse().unwrap();
    assert_eq!(http(a, "GET", "/api/v1/namespaces?", &[], "", SEC).await.json()["items"].as_array().unwrap().len(), 4);
    assert_eq!(http(a, "GET", "/version?timeout=5s", &[], "", SEC).await.json()["minor"], "32");

    let aggregated = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json";
    let r = http(a, "GET", "/apis", &[("Accept", aggregated)], "", SEC).await;
    assert_eq!(r.header("content-type"), Some("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"));
    assert_eq!(r.json()["kind"], "APIGroupDiscoveryList");
    assert_eq!(http(a, "GET", "/apis", &[], "", SEC).await.json()["kind"], "APIGroupList");
    assert_eq!(http(a, "GET", "/api", &[], "", SEC).await.json()["versions"], json!(["v1"]));
    let idx = http(a, "GET", "/openapi/v3", &[], "", SEC).await.json();
    let url = idx["paths"]["apis/cluster.x-k8s.io/v1beta2"]["serverRelativeURL"].as_str().unwrap().to_string();
    let doc = http(a, "GET", &url, &[], "", SEC).await.json();
    assert_eq!(
        doc["paths"]["/apis/cluster.x-k8s.io/v1beta2/namespaces/{namespace}/clusters/{name}"]["patch"]["x-kubernetes-group-version-kind"]
            ["kind"],
        "Cluster"
    );
    let v2 = http(a, "GET", "/openapi/v2", &[], "", SEC).await;
    assert_eq!(v2.code, 200, "the Swagger 2.0 document is served");
    assert_eq!(v2.json()["swagger"], "2.0");

    // Watch from the list's resourceVersion: the events after it, one JSON line each.
    for i in 0..2 {
        let body = format!(r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"w{i}","labels":{{"n":"{i}"}}}}}}"#);
        assert_eq!(http(a, "POST", CMS, &[JSON], &body, SEC).await.code, 201);
    }
    let path = format!("{CMS}?watch=1&resourceVersion={list_rv}&timeoutSeconds=1&labelSelector=n%3D1");
    let r = http(a, "GET", &path, &[], "", Duration::from_secs(4)).await;
    assert_eq!(r.code, 200);
    let events: Vec<Value> = r.body.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(events.len(), 1, "{}", r.body);
    assert_eq!((events[0]["type"].as_str(), events[0]["object"]["metadata"]["name"].as_str()), (Some("ADDED"), Some("w1")));

    // resourceVersion=0 replays the current objects; sendInitialEvents ends with the marker bookmark.
    let r = http(a, "GET", &format!("{CMS}?watch=true&resourceVersion=0&timeoutSeconds=1"), &[], "", Duration::from_secs(4)).await;
    assert_eq!(r.body.lines().count(), 2);
    let path =
        format!("{CMS}?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&timeoutSeconds=1");
    let r = http(a, "GET", &path, &[], "", Duration::from_secs(4)).await;
    let last: Value = serde_json::from_str(r.body.lines().last().unwrap()).unwrap();
    assert_eq!(last["type"], "BOOKMARK");
    assert_eq!(last["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"], "true");

    // With a history of 3 events, more writes drop the list's resourceVersion: 410 in the stream.
    for i in 2..6 {
        let body = format!(r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"w{i}"}}}}"#);
        assert_eq!(http(a, "POST", CMS, &[JSON], &body, SEC).await.code, 201);
    }
    let r = http(a, "GET", &format!("{CMS}?watch=true&resourceVersion={list_rv}"), &[], "", Duration::from_secs(4)).await;
    assert_eq!(r.code, 200, "410 goes in the stream, not in the HTTP status");
    let ev: Value = serde_json::from_str(r.body.lines().next().unwrap()).unwrap();
    assert_eq!(
        (ev["type"].as_str(), ev["object"]["code"].as_i64(), ev["object"]["reason"].as_str()),
        (Some("ERROR"), Some(410), Some("Expired"))
    );
    // The newest list resourceVersion is always watchable.
    let rv = http(a, "GET", CMS, &[], "", SEC).await.json()["metadata"]["resourceVersion"].as_str().unwrap().to_string();
    let r = http(a, "GET", &format!("{CMS}?watch=true&resourceVersion={rv}&timeoutSeconds=1"), &[], "", Duration::from_secs(4)).await;
    assert_eq!((r.code, r.body.as_str()), (200, ""));

    // Table output with server-rendered ages.
    let r = http(a, "GET", CMS, &[("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io,application/json")], "", SEC).await;
    assert_eq!(r.json()["kind"], "Table");
    assert_eq!(r.json()["rows"].as_array().unwrap().len(), 6);
    s.server.shutdown().await.unwrap();
}

/// The served API is not open to whoever reaches the port: a token from the kubeconfig, no browser
/// (Origin) requests, no foreign Host names (DNS rebinding), and only the API server's media types.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strangers_and_browsers_are_refused() {
    let s = serve(|o| o.speed = 0.0).await;
    let ok = Api::of(&s);
    let anonymous = Api { token: None, ..ok };
    let wrong = Api { token: Some("not-the-token"), ..ok };
    let cm = r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"pwned"}}"#;

    let r = http(anonymous, "POST", CMS, &[JSON], cm, SEC).await;
    assert_eq!((r.code, r.json()["reason"].clone()), (401, json!("Unauthorized")), "{}", r.body);
    assert_eq!(http(wrong, "GET", CMS, &[], "", SEC).await.code, 401);
    assert_eq!(http(anonymous, "GET", "/workloads/default/c1/api/v1/nodes", &[], "", SEC).await.code, 401);
    // What a web page can send: a "simple" text/plain POST with its Origin, even with a guessed token.
    let r = http(ok, "POST", CMS, &[("Content-Type", "text/plain"), ("Origin", "http://evil.example")], cm, SEC).await;
    assert_eq!(r.code, 403, "{}", r.body);
    // A DNS-rebinding page reaches the port under its own name.
    assert_eq!(http(ok, "GET", CMS, &[("Host", "evil.example:6443")], "", SEC).await.code, 403);
    // With the token, a body the API server does not decode is refused before it is read.
    assert_eq!(http(ok, "POST", CMS, &[("Content-Type", "text/plain")], cm, SEC).await.code, 415);
    // Nothing got in.
    let list = http(ok, "GET", CMS, &[], "", SEC).await.json();
    assert!(list["items"].as_array().unwrap().iter().all(|i| i["metadata"]["name"] != "pwned"), "{list}");
    // Health and version stay public, as on a real API server.
    assert_eq!(http(anonymous, "GET", "/readyz", &[], "", SEC).await.code, 200);
    assert_eq!(http(anonymous, "GET", "/version", &[], "", SEC).await.code, 200);
    // Plain HTTP gets no answer: the server speaks TLS only.
    let mut plain = tokio::net::TcpStream::connect(ok.addr).await.unwrap();
    plain.write_all(format!("GET {CMS} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n", ok.addr).as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(SEC, plain.read_to_end(&mut buf)).await;
    assert!(!String::from_utf8_lossy(&buf).contains("ConfigMapList"), "plain HTTP must not be served");
    // The token is the one in the kubeconfig written for the user, and it changes with every start.
    let text = std::fs::read_to_string(&s.kubeconfig).unwrap();
    assert!(text.contains(&format!("token: {}", s.server.token())), "{text}");
    let other = serve(|o| o.speed = 0.0).await;
    assert_ne!(other.server.token(), s.server.token());
}

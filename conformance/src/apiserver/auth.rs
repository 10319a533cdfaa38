//! Who may talk to the served simulator, checked before anything else of a request is read.
//!
//! `sim serve` answers on loopback by default, but loopback is reachable from every web page the
//! user's browser opens, and with `--docker` a write starts real containers. So, in this order:
//!
//! 1. A request carrying an `Origin` header is refused (403): browsers send it on every cross-site
//!    write (and on `fetch`), kubectl, kube-rs and client-go never do.
//! 2. The `Host` header must name an IP address, `localhost`, or a name the operator allowed
//!    (`--allow-host`): a DNS-rebinding page reaches the port under its own domain name (403).
//! 3. A bearer token is required (401 otherwise): a fresh random one per start, written into the
//!    kubeconfig `sim serve` writes (and into the workload kubeconfig Secrets it serves). The
//!    comparison takes the same time whatever the token.
//! 4. A body-carrying write must use a media type the real API server accepts for it (415 otherwise):
//!    JSON or YAML for create and update, and Kubernetes protobuf
//!    (`application/vnd.kubernetes.protobuf`, what client-go's typed clients send) for create and
//!    update of the built-in kinds [`super::protobuf`] decodes (other kinds are refused there, 415
//!    too); the four patch types for PATCH.
//!
//! As on a real API server, `/healthz`, `/livez`, `/readyz` and `/version` answer without a token
//! (the `system:public-info-viewer` role of anonymous users); they reveal nothing of the simulation.

use super::status::Failure;
use axum::http::{header, Method};
use subtle::ConstantTimeEq;

/// What a request must show.
#[derive(Clone, Debug)]
pub struct Guard {
    token: String,
    allowed_hosts: Vec<String>,
}

/// Paths anonymous clients may read.
const PUBLIC_PATHS: &[&str] = &["/healthz", "/livez", "/readyz", "/version"];

impl Guard {
    /// A guard for `token`, also accepting `Host` names in `allowed_hosts` (lower case, no port).
    pub fn new(token: String, allowed_hosts: Vec<String>) -> Self {
        Guard { token, allowed_hosts: allowed_hosts.into_iter().map(|h| h.to_ascii_lowercase()).collect() }
    }

    /// The bearer token clients must send.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// Check a request's headers; `Err` is the answer to send instead.
    pub fn check(&self, parts: &axum::http::request::Parts) -> Result<(), Failure> {
        if parts.headers.contains_key(header::ORIGIN) {
            return Err(Failure::new(
                403,
                "Forbidden",
                "requests from web browsers (with an Origin header) are refused by the served simulator",
            ));
        }
        if let Some(host) = parts.headers.get(header::HOST) {
            let host = host.to_str().unwrap_or("");
            if !self.host_allowed(host) {
                return Err(Failure::new(
                    403,
                    "Forbidden",
                    format!("the Host {host:?} is not an address of this server (allow a name with --allow-host)"),
                ));
            }
        }
        let path = parts.uri.path();
        let public = (parts.method == Method::GET || parts.method == Method::HEAD)
            && PUBLIC_PATHS.iter().any(|p| path == *p || path.strip_prefix(p).is_some_and(|rest| rest.starts_with('/')));
        if !public && !self.token_matches(parts) {
            return Err(Failure::new(401, "Unauthorized", "Unauthorized"));
        }
        check_media_type(&parts.method, parts.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()))
    }

    fn token_matches(&self, parts: &axum::http::request::Parts) -> bool {
        let Some(value) = parts.headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) else { return false };
        let Some((scheme, token)) = value.trim().split_once(' ') else { return false };
        scheme.eq_ignore_ascii_case("bearer") && bool::from(token.trim().as_bytes().ct_eq(self.token.as_bytes()))
    }

    /// Whether a `Host` header value names this server: an IP literal, `localhost`, or an allowed name.
    pub fn host_allowed(&self, host: &str) -> bool {
        let name = strip_port(host.trim()).to_ascii_lowercase();
        name.parse::<std::net::IpAddr>().is_ok()
            || name == "localhost"
            || name.ends_with(".localhost")
            || self.allowed_hosts.contains(&name)
    }
}

/// `host:port`, `[v6]:port`, `[v6]` or `host` → the host part (brackets removed).
fn strip_port(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or("");
    }
    match host.rsplit_once(':') {
        // A bare IPv6 address has several colons and no brackets: keep it whole.
        Some((h, port)) if !h.contains(':') && port.chars().all(|c| c.is_ascii_digit()) => h,
        _ => host,
    }
}

/// Media types the real API server decodes for create/update bodies of the kinds served here.
const BODY_TYPES: &[&str] = &["application/json", "application/yaml", super::protobuf::MEDIA_TYPE];
/// Patch media types (RFC 6902, RFC 7386, strategic merge, server-side apply).
const PATCH_TYPES: &[&str] = &[
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
    "application/apply-patch+cbor",
];

/// 415 unless a write's `Content-Type` is one the API server accepts for its verb. Requests without a
/// body-carrying verb are not checked; a write without a `Content-Type` is treated as JSON, as
/// kube-apiserver does.
pub fn check_media_type(method: &Method, content_type: Option<&str>) -> Result<(), Failure> {
    let accepted: &[&str] = match *method {
        Method::POST | Method::PUT => BODY_TYPES,
        Method::PATCH => PATCH_TYPES,
        _ => return Ok(()),
    };
    let Some(ct) = content_type else { return Ok(()) };
    let media = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if accepted.contains(&media.as_str()) {
        return Ok(());
    }
    Err(Failure::new(
        415,
        "UnsupportedMediaType",
        format!("the body of the request was in an unknown format - accepted media types include: {}", accepted.join(", ")),
    ))
}

/// A fresh random token (32 bytes from the operating system, hex): one per server start.
pub fn new_token() -> Result<String, String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| format!("no randomness for the serving token: {e}"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;
    use rstest::rstest;

    fn parts(method: &str, path: &str, headers: &[(&str, &str)]) -> axum::http::request::Parts {
        let mut b = Request::builder().method(method).uri(path);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).unwrap().into_parts().0
    }

    const TOKEN: &str = "0123456789abcdef";

    #[rstest]
    #[case::token("GET", "/api/v1/namespaces", &[("authorization", "Bearer 0123456789abcdef")], None)]
    #[case::scheme_in_any_case("GET", "/apis", &[("authorization", "bearer 0123456789abcdef")], None)]
    #[case::no_token("GET", "/api/v1/namespaces", &[], Some(401))]
    #[case::wrong_token("GET", "/api/v1/namespaces", &[("authorization", "Bearer 0123456789abcdeX")], Some(401))]
    #[case::prefix_of_the_token("GET", "/api", &[("authorization", "Bearer 0123")], Some(401))]
    #[case::basic_auth("GET", "/api", &[("authorization", "Basic 0123456789abcdef")], Some(401))]
    #[case::health_is_public("GET", "/healthz", &[], None)]
    #[case::readyz_subpath_is_public("GET", "/readyz/ping", &[], None)]
    #[case::version_is_public("GET", "/version", &[], None)]
    #[case::public_paths_are_read_only("POST", "/version", &[], Some(401))]
    #[case::lookalike_path_is_not_public("GET", "/healthzzz", &[], Some(401))]
    #[case::workloads_need_the_token("GET", "/workloads/default/c1/api/v1/nodes", &[], Some(401))]
    #[case::browser_origin("POST", "/api/v1/namespaces", &[("authorization", "Bearer 0123456789abcdef"), ("origin", "http://evil.example")], Some(403))]
    #[case::browser_origin_even_on_health("GET", "/healthz", &[("origin", "null")], Some(403))]
    #[case::rebinding_host("GET", "/api", &[("authorization", "Bearer 0123456789abcdef"), ("host", "evil.example:6443")], Some(403))]
    #[case::loopback_host("GET", "/api", &[("authorization", "Bearer 0123456789abcdef"), ("host", "127.0.0.1:6443")], None)]
    #[case::v6_host("GET", "/api", &[("authorization", "Bearer 0123456789abcdef"), ("host", "[::1]:6443")], None)]
    #[case::localhost("GET", "/api", &[("authorization", "Bearer 0123456789abcdef"), ("host", "localhost:6443")], None)]
    #[case::allowed_name("GET", "/api", &[("authorization", "Bearer 0123456789abcdef"), ("host", "sim.internal:6443")], None)]
    #[case::text_plain_post("POST", "/api/v1/namespaces", &[("authorization", "Bearer 0123456789abcdef"), ("content-type", "text/plain")], Some(415))]
    #[case::form_post("POST", "/api/v1/namespaces", &[("authorization", "Bearer 0123456789abcdef"), ("content-type", "application/x-www-form-urlencoded")], Some(415))]
    #[case::json_post("POST", "/api/v1/namespaces", &[("authorization", "Bearer 0123456789abcdef"), ("content-type", "application/json; charset=utf-8")], None)]
    #[case::yaml_put("PUT", "/api/v1/namespaces/x", &[("authorization", "Bearer 0123456789abcdef"), ("content-type", "application/yaml")], None)]
    #[case::merge_patch("PATCH", "/api/v1/namespaces/x", &[("authorization", "Bearer 0123456789abcdef"), ("content-type", "application/merge-patch+json")], None)]
    #[case::json_is_not_a_patch_type("PATCH", "/api/v1/namespaces/x", &[("authorization", "Bearer 0123456789abcdef"), ("content-type", "application/json")], Some(415))]
    #[case::protobuf_post("POST", "/api/v1/namespaces", &[("authorization", "Bearer 0123456789abcdef"), ("content-type", "application/vnd.kubernetes.protobuf")], None)]
    #[case::protobuf_is_not_a_patch_type("PATCH", "/api/v1/namespaces/x", &[("authorization", "Bearer 0123456789abcdef"), ("content-type", "application/vnd.kubernetes.protobuf")], Some(415))]
    #[case::no_content_type_is_json("POST", "/api/v1/namespaces", &[("authorization", "Bearer 0123456789abcdef")], None)]
    fn requests_are_checked(#[case] method: &str, #[case] path: &str, #[case] headers: &[(&str, &str)], #[case] refused: Option<u16>) {
        let guard = Guard::new(TOKEN.into(), vec!["Sim.Internal".into()]);
        let got = guard.check(&parts(method, path, headers)).err().map(|f| f.code);
        assert_eq!(got, refused, "{method} {path} {headers:?}");
    }

    #[test]
    fn tokens_are_fresh_and_long() {
        let (a, b) = (new_token().unwrap(), new_token().unwrap());
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
    }

    #[rstest]
    #[case("127.0.0.1:6443", "127.0.0.1")]
    #[case("[::1]:80", "::1")]
    #[case("::1", "::1")]
    #[case("example.com", "example.com")]
    fn ports_are_stripped(#[case] host: &str, #[case] name: &str) {
        assert_eq!(strip_port(host), name);
    }
}

//! Kubernetes clients from kubeconfig files, with admission warnings captured.
//!
//! kube-rs does not expose the `Warning` response headers that admission webhooks and deprecations
//! produce, so the writer client carries a small tower layer ([`WarningLayer`]) that copies every
//! `Warning: 299 - "message"` header into a shared [`WarningSink`]. Writes are made one at a time
//! (the backend's methods take `&mut self`), so draining the sink after a write gives that write's
//! warnings. Watches use a client without the layer.

use http::{Request, Response};
use kube::client::ClientBuilder;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tower::{Layer, Service};

/// Why a client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The kubeconfig could not be read or used.
    #[error("kubeconfig {path}: {message}")]
    Kubeconfig {
        /// The file (or what the kubeconfig came from).
        path: String,
        /// What was wrong.
        message: String,
    },
    /// The client could not be built (TLS, proxy...).
    #[error("cannot build a client for {server}: {message}")]
    Build {
        /// The API server URL.
        server: String,
        /// What was wrong.
        message: String,
    },
}

/// Warnings collected from responses.
#[derive(Debug, Clone, Default)]
pub struct WarningSink {
    inner: Arc<Mutex<Vec<String>>>,
}

impl WarningSink {
    /// Take every warning collected so far.
    pub fn drain(&self) -> Vec<String> {
        std::mem::take(&mut *self.inner.lock().unwrap_or_else(|p| p.into_inner()))
    }
    fn push(&self, w: String) {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).push(w);
    }
}

/// Parse one `Warning` header value (`299 - "text"`, RFC 7234 §5.5) into its text.
pub fn parse_warning(value: &str) -> String {
    let v = value.trim();
    let rest = v.splitn(3, ' ').nth(2).unwrap_or(v).trim();
    let text = rest.strip_prefix('"').map_or(rest, |r| match r.rfind('"') {
        Some(end) => &r[..end],
        None => r,
    });
    text.replace("\\\"", "\"").replace("\\\\", "\\")
}

/// Tower layer copying `Warning` headers into a [`WarningSink`].
#[derive(Debug, Clone)]
pub struct WarningLayer {
    sink: WarningSink,
}

impl WarningLayer {
    /// A layer writing into `sink`.
    pub fn new(sink: WarningSink) -> Self {
        WarningLayer { sink }
    }
}

impl<S> Layer<S> for WarningLayer {
    type Service = WarningService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        WarningService { inner, sink: self.sink.clone() }
    }
}

/// The service of [`WarningLayer`].
#[derive(Debug, Clone)]
pub struct WarningService<S> {
    inner: S,
    sink: WarningSink,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for WarningService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let fut = self.inner.call(req);
        let sink = self.sink.clone();
        Box::pin(async move {
            let resp = fut.await?;
            for v in resp.headers().get_all(http::header::WARNING) {
                if let Ok(s) = v.to_str() {
                    sink.push(parse_warning(s));
                }
            }
            Ok(resp)
        })
    }
}

/// Clients of one API server: `reader` for lists and watches, `writer` (with warning capture) for
/// writes.
#[derive(Clone)]
pub struct Clients {
    /// Lists, gets, watches.
    pub reader: Client,
    /// Writes; its warnings go to `warnings`.
    pub writer: Client,
    /// Warnings of the writer.
    pub warnings: WarningSink,
    /// The API server URL (for messages).
    pub server: String,
}

/// Load a kubeconfig file (and a context, the current one when `None`).
pub async fn config_from_file(path: &Path, context: Option<&str>) -> Result<Config, ClientError> {
    let err = |message: String| ClientError::Kubeconfig { path: path.display().to_string(), message };
    let kc = Kubeconfig::read_from(path).map_err(|e| err(e.to_string()))?;
    let opts = KubeConfigOptions { context: context.map(str::to_string), ..Default::default() };
    Config::from_custom_kubeconfig(kc, &opts).await.map_err(|e| err(e.to_string()))
}

/// Load a kubeconfig from YAML text (a workload cluster's, from its Secret).
pub async fn config_from_yaml(what: &str, yaml: &str) -> Result<Config, ClientError> {
    let err = |message: String| ClientError::Kubeconfig { path: what.to_string(), message };
    let kc = Kubeconfig::from_yaml(yaml).map_err(|e| err(e.to_string()))?;
    Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default()).await.map_err(|e| err(e.to_string()))
}

/// Build the reader and writer clients of one API server.
pub fn clients(config: Config) -> Result<Clients, ClientError> {
    let server = config.cluster_url.to_string();
    let build = |e: kube::Error| ClientError::Build { server: server.clone(), message: e.to_string() };
    let reader = Client::try_from(config.clone()).map_err(build)?;
    let warnings = WarningSink::default();
    let writer = ClientBuilder::try_from(config).map_err(build)?.with_layer(&WarningLayer::new(warnings.clone())).build();
    Ok(Clients { reader, writer, warnings, server })
}

/// The name of the KinD cluster a kubeconfig context points at (`kind-NAME` → `NAME`), to protect
/// its node container.
pub fn kind_cluster_of(path: &Path, context: Option<&str>) -> Option<String> {
    let kc = Kubeconfig::read_from(path).ok()?;
    let ctx = context.map(str::to_string).or(kc.current_context.clone())?;
    ctx.strip_prefix("kind-").map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warning_headers_are_unquoted() {
        assert_eq!(parse_warning(r#"299 - "spec.foo is deprecated""#), "spec.foo is deprecated");
        assert_eq!(parse_warning(r#"299 - "say \"hi\"""#), r#"say "hi""#);
        assert_eq!(parse_warning("plain"), "plain");
    }
}

//! HTTPS for the served simulator. client-go (kubectl) sends a bearer token only over TLS, so the
//! token that guards the server ([`super::auth`]) needs it: every start makes a fresh certificate
//! authority and a server certificate it signs, for the listen address, loopback and `localhost`
//! (and the operator's `--allow-host` names); the kubeconfig trusts exactly that authority
//! (`certificate-authority-data`). Nothing is written to disk but the kubeconfig.

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType, IsCa, KeyPair, KeyUsagePurpose};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt as _;

/// A fresh authority and the server's certificate.
pub struct Identity {
    /// The authority's certificate (PEM), for clients to trust.
    pub ca_pem: String,
    /// The TLS configuration serving the server certificate.
    pub config: Arc<ServerConfig>,
}

/// Make an authority and a server certificate valid for `addr`'s IP, loopback, `localhost` and
/// `names`.
pub fn identity(addr: SocketAddr, names: &[String]) -> Result<Identity, String> {
    let err = |what: &str, e: &dyn std::fmt::Display| format!("cannot make the serving {what}: {e}");
    let ca_key = KeyPair::generate().map_err(|e| err("authority key", &e))?;
    let mut ca_params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "capi-sim serving CA");
    ca_params.distinguished_name = dn;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    let ca = CertifiedIssuer::self_signed(ca_params, ca_key).map_err(|e| err("authority", &e))?;

    let mut sans: Vec<String> = vec!["localhost".into(), "127.0.0.1".into(), "::1".into()];
    if !addr.ip().is_unspecified() {
        sans.push(addr.ip().to_string());
    }
    sans.extend(names.iter().cloned());
    sans.sort();
    sans.dedup();
    let mut params = CertificateParams::new(sans).map_err(|e| err("server certificate names", &e))?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "capi-sim");
    params.distinguished_name = dn;
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let key = KeyPair::generate().map_err(|e| err("server key", &e))?;
    let cert = params.signed_by(&key, &ca).map_err(|e| err("server certificate", &e))?;

    let chain: Vec<CertificateDer<'static>> = vec![cert.der().clone()];
    let private = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| err("TLS configuration", &e))?
        .with_no_client_auth()
        .with_single_cert(chain, private)
        .map_err(|e| err("TLS configuration", &e))?;
    // HTTP/2 as the real API server offers it (kubectl and kube-rs use it for watches), and 1.1.
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Identity { ca_pem: ca.pem(), config: Arc::new(config) })
}

/// Serve `router` over TLS on `listener` until `shutdown` resolves; then stop accepting and end
/// every open connection.
pub async fn serve(listener: TcpListener, config: Arc<ServerConfig>, router: Router, shutdown: impl std::future::Future<Output = ()>) {
    let acceptor = TlsAcceptor::from(config);
    let mut connections = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let (tcp, _) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(_) => {
                    // Out of file descriptors and the like: wait a little rather than spin.
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            // Reap finished connections so the set does not grow with the server's lifetime.
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
        };
        let acceptor = acceptor.clone();
        let router = router.clone();
        connections.spawn(async move {
            // A client that fails the handshake (plain HTTP, an untrusted certificate) just goes.
            let Ok(Ok(tls)) = tokio::time::timeout(std::time::Duration::from_secs(10), acceptor.accept(tcp)).await else { return };
            let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                router.clone().oneshot(req.map(axum::body::Body::new))
            });
            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection_with_upgrades(TokioIo::new(tls), service)
                .await;
        });
    }
    connections.abort_all();
    while connections.join_next().await.is_some() {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_start_has_its_own_authority() {
        let a = identity("127.0.0.1:6443".parse().unwrap(), &[]).unwrap();
        let b = identity("127.0.0.1:6443".parse().unwrap(), &["sim.internal".into()]).unwrap();
        assert!(a.ca_pem.starts_with("-----BEGIN CERTIFICATE-----"), "{}", a.ca_pem);
        assert_ne!(a.ca_pem, b.ca_pem);
    }
}

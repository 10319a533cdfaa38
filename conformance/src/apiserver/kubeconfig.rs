//! The kubeconfig for the served simulator: one cluster, context and user named `capi-sim`, with an
//! `https://` server on loopback, the authority its certificate was signed by ([`super::tls`]) and
//! the bearer token the server requires ([`super::auth`]), both fresh per start. The file is written
//! readable by its owner only.

use base64::Engine as _;
use std::net::SocketAddr;
use std::path::Path;

/// The name of the cluster, context and user.
pub const NAME: &str = "capi-sim";

/// What a client needs to reach the served simulator: the authority to trust and the token to send.
#[derive(Clone, Debug)]
pub struct Credentials {
    /// The bearer token.
    pub token: String,
    /// The serving authority's certificate (PEM).
    pub ca_pem: String,
}

impl Credentials {
    /// `certificate-authority-data`: the authority's PEM, base64.
    pub fn ca_data(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(&self.ca_pem)
    }
}

/// The kubeconfig text for a server address.
pub fn render(addr: SocketAddr, creds: &Credentials) -> String {
    let (token, ca) = (&creds.token, creds.ca_data());
    format!(
        "apiVersion: v1\n\
         kind: Config\n\
         clusters:\n\
         - name: {NAME}\n  cluster:\n    server: https://{addr}\n    certificate-authority-data: {ca}\n\
         contexts:\n\
         - name: {NAME}\n  context:\n    cluster: {NAME}\n    user: {NAME}\n    namespace: default\n\
         current-context: {NAME}\n\
         users:\n\
         - name: {NAME}\n  user:\n    token: {token}\n\
         preferences: {{}}\n"
    )
}

/// Write the kubeconfig (creating parent directories), readable by the owner only.
pub fn write(path: &Path, addr: SocketAddr, creds: &Credentials) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    // Created 0600 before the token is written into it, so no other user can ever read it.
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    std::io::Write::write_all(&mut file, render(addr, creds).as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_as_yaml_with_the_server() {
        let creds = Credentials { token: "t0k3n".into(), ca_pem: "PEM".into() };
        let text = render("127.0.0.1:6443".parse().unwrap(), &creds);
        let v: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
        assert_eq!(v["clusters"][0]["cluster"]["server"].as_str(), Some("https://127.0.0.1:6443"));
        assert_eq!(v["clusters"][0]["cluster"]["certificate-authority-data"].as_str(), Some("UEVN"));
        assert_eq!(v["current-context"].as_str(), Some(NAME));
        assert_eq!(v["contexts"][0]["context"]["user"].as_str(), Some(NAME));
        assert_eq!(v["users"][0]["user"]["token"].as_str(), Some("t0k3n"));
    }
}

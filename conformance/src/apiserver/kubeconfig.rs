//! The kubeconfig for the served simulator: one cluster, context and user named `capi-sim`, with a
//! plain `http://` server on loopback (kubectl and kube-rs accept it; the token is ignored).

use std::net::SocketAddr;
use std::path::Path;

/// The name of the cluster, context and user.
pub const NAME: &str = "capi-sim";

/// The kubeconfig text for a server address.
pub fn render(addr: SocketAddr) -> String {
    format!(
        "apiVersion: v1\n\
         kind: Config\n\
         clusters:\n\
         - name: {NAME}\n  cluster:\n    server: http://{addr}\n\
         contexts:\n\
         - name: {NAME}\n  context:\n    cluster: {NAME}\n    user: {NAME}\n    namespace: default\n\
         current-context: {NAME}\n\
         users:\n\
         - name: {NAME}\n  user:\n    token: {NAME}\n\
         preferences: {{}}\n"
    )
}

/// Write the kubeconfig (creating parent directories), readable by the owner only.
pub fn write(path: &Path, addr: SocketAddr) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, render(addr))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_as_yaml_with_the_server() {
        let text = render("127.0.0.1:6443".parse().unwrap());
        let v: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
        assert_eq!(v["clusters"][0]["cluster"]["server"].as_str(), Some("http://127.0.0.1:6443"));
        assert_eq!(v["current-context"].as_str(), Some(NAME));
        assert_eq!(v["contexts"][0]["context"]["user"].as_str(), Some(NAME));
    }
}

//! Reaching a workload cluster from the harness: its kubeconfig Secret, read inside the scenario's
//! scope, and a connection through it (falling back to the load balancer's published port, as CAPD's
//! quick-start tells Docker Desktop users).

use super::kube_transport::transport_error;
use super::{backend_error, client, Conn, Run};
use capi_scenarios::backend::BackendError;
use kube::api::Api;
use std::collections::BTreeMap;
use std::time::Duration;

pub(super) fn refuse(what: &str) -> BackendError {
    BackendError::Other(format!("refusing to touch {what}: it is outside the scenario's namespaces"))
}
impl Run {
    /// The Secret `<cluster>-kubeconfig`, key `value`.
    pub(super) async fn kubeconfig_of(&mut self, m: usize, namespace: &str, cluster: &str) -> Result<String, BackendError> {
        if !self.scope.allows("Secret", namespace, "") {
            return Err(refuse(&format!("namespace {namespace}")));
        }
        let conn = self.conn(m)?;
        let api: Api<k8s_openapi::api::core::v1::Secret> = Api::namespaced(conn.clients.reader.clone(), namespace);
        let name = format!("{cluster}-kubeconfig");
        let secret = api
            .get_opt(&name)
            .await
            .map_err(|e| backend_error(transport_error(e)))?
            .ok_or_else(|| BackendError::not_found(format!("secret \"{name}\"")))?;
        let bytes = secret
            .data
            .and_then(|d| d.get("value").cloned())
            .ok_or_else(|| BackendError::Other(format!("secret {name} has no `value` key")))?;
        String::from_utf8(bytes.0).map_err(|_| BackendError::Other(format!("secret {name}: `value` is not UTF-8")))
    }

    /// A connection to a workload cluster, through its kubeconfig Secret. When the API server address
    /// in it cannot be reached from here (Docker Desktop), the load balancer's published port on
    /// 127.0.0.1 is used instead, as CAPD's quick-start tells macOS users to do.
    pub(super) async fn workload(&mut self, cluster: &str) -> Result<&mut Conn, BackendError> {
        if !self.workloads.contains_key(cluster) {
            let ns = self.scope.applied_clusters.iter().find(|(_, n)| n == cluster).map_or("default".to_string(), |(ns, _)| ns.clone());
            let yaml = self.kubeconfig_of(0, &ns, cluster).await?;
            let what = format!("Secret {ns}/{cluster}-kubeconfig");
            let mut config = client::config_from_yaml(&what, &yaml).await.map_err(|e| BackendError::Other(e.to_string()))?;
            config.connect_timeout = Some(Duration::from_secs(10));
            let mut clients = client::clients(config.clone()).map_err(|e| BackendError::Other(e.to_string()))?;
            let reachable = matches!(tokio::time::timeout(Duration::from_secs(15), clients.reader.apiserver_version()).await, Ok(Ok(_)));
            if !reachable {
                if let Some(d) = &self.docker {
                    if let Ok(Some(port)) = d.published_port(&format!("{cluster}-lb"), "6443/tcp").await {
                        if let Ok(url) = format!("https://127.0.0.1:{port}").parse() {
                            config.cluster_url = url;
                            clients = client::clients(config).map_err(|e| BackendError::Other(e.to_string()))?;
                        }
                    }
                }
            }
            let kinds = super::resources::Kinds::new(clients.reader.clone());
            self.workloads.insert(cluster.to_string(), Conn { clients, kinds, watches: BTreeMap::new() });
        }
        self.workloads.get_mut(cluster).ok_or_else(|| BackendError::Other(format!("workload cluster {cluster} vanished")))
    }
}

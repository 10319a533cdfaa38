//! Objects inside a workload cluster (`workload: CLUSTER` targets): predicates read them from fresh
//! lists through the cluster's kubeconfig Secret, and `patch`/`delete`/`get` act on them there. Only
//! the scenario's own clusters are reachable; inside them every object is the scenario's.
//!
//! Workload collections are not watched: a `wait` on them sees each state its polls find (once per
//! second and on every management-cluster change), not every state the cluster passes through.

use super::kube_transport::KubeCollection;
use super::snapshot::{KindObjects, Snapshot};
use super::watch::WatchTransport;
use super::{scope, Conn, Run};
use capi_scenarios::backend::{BackendError, ObjectRef};
use capi_scenarios::predicate::Predicate;
use kube::api::{Api, DynamicObject};
use std::collections::{BTreeMap, BTreeSet};

impl Run {
    /// The connection behind which an object lives, and whether that is a workload cluster's.
    pub(super) async fn conn_of(&mut self, object: &ObjectRef) -> Result<(&mut Conn, bool), BackendError> {
        match &object.workload {
            Some(cluster) => {
                if !self.scope.owns_workload(cluster) {
                    return Err(BackendError::Other(format!(
                        "refusing to touch {object}: `{cluster}` is not a cluster the scenario creates"
                    )));
                }
                Ok((self.workload(cluster).await?, true))
            }
            None => {
                let m = self.mgmt_index(object.management.as_deref())?;
                Ok((self.conn(m)?, false))
            }
        }
    }

    /// Read what a predicate's `workload:` targets need into `snap.workloads`, from fresh lists.
    /// A cluster that cannot be reached, or a kind it does not serve, becomes an error its
    /// predicates report.
    pub(super) async fn workload_views(&mut self, p: &Predicate, snap: &mut Snapshot) {
        let mut targets = Vec::new();
        scope::predicate_targets(p, &mut targets);
        // cluster → kind → namespaces
        let mut wanted: BTreeMap<String, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
        for t in &targets {
            if let Some(w) = &t.workload {
                wanted.entry(w.clone()).or_default().entry(t.kind.clone()).or_default().insert(t.namespace().to_string());
            }
        }
        for (cluster, kinds) in wanted {
            let mut view = snap.workloads.remove(&cluster).unwrap_or_default();
            let conn = match self.scope.owns_workload(&cluster) {
                false => Err(format!("`{cluster}` is not a cluster the scenario creates")),
                true => self.workload(&cluster).await.map_err(|e| format!("cannot reach the workload cluster `{cluster}`: {e}")),
            };
            match conn {
                Err(e) => {
                    for kind in kinds.into_keys() {
                        view.kinds.insert(kind, Err(e.clone()));
                    }
                }
                Ok(conn) => {
                    for (kind, namespaces) in kinds {
                        let objects = list_kind(conn, &cluster, &kind, namespaces, &mut view.cluster_scoped).await;
                        view.kinds.insert(kind, objects);
                    }
                }
            }
            snap.workloads.insert(cluster, view);
        }
    }
}

/// Every object of `kind` in `namespaces` (all of them, for a cluster-scoped kind) of one workload cluster.
async fn list_kind(conn: &mut Conn, cluster: &str, kind: &str, namespaces: BTreeSet<String>, scoped: &mut BTreeSet<String>) -> KindObjects {
    let r = conn.kinds.by_name(kind).await?;
    let scopes: Vec<String> = if r.namespaced {
        namespaces.into_iter().collect()
    } else {
        scoped.insert(kind.to_string());
        vec![String::new()]
    };
    let mut all = BTreeMap::new();
    for ns in scopes {
        let api: Api<DynamicObject> = r.api(&conn.clients.reader, &ns);
        let list = KubeCollection::new(api, None)
            .list()
            .await
            .map_err(|e| format!("cannot list {kind} in the workload cluster `{cluster}`: {e}"))?;
        all.extend(list.items.into_iter().map(|v| (super::key_of(&v), v)));
    }
    Ok(all)
}

//! What a run reads from its management clusters besides waits: the leftover check before it starts,
//! one Cluster's objects for the describe tree (as `clusterctl describe cluster` gathers them), every
//! object of the scenario's namespaces for the outcome, and the fingerprint of such a listing.

use super::kube_transport::transport_error;
use super::scope::INITIAL_NAMESPACES;
use super::{backend_error, Run};
use capi_scenarios::backend::{BackendError, ObjectRef};
use capi_scenarios::predicate::KIND_CLUSTER_LABEL;
use capi_scenarios::target::CLUSTER_NAME_LABEL;
use kube::api::{Api, DynamicObject, ListParams};
use serde_json::Value;

impl Run {
    /// Refuse to start on leftovers of an earlier run (or the user's own objects of the same name).
    pub(super) async fn check_leftovers(&mut self) -> Result<(), BackendError> {
        if self.scope.applied_clusters.is_empty() {
            return Ok(());
        }
        let applied = self.scope.applied_clusters.clone();
        if let Ok(conn) = self.conn(0) {
            if let Ok(r) = conn.kinds.by_name("Cluster").await {
                for (ns, name) in &applied {
                    let api: Api<DynamicObject> = Api::namespaced_with(conn.clients.reader.clone(), ns, &r.ar);
                    if let Ok(Some(_)) = api.get_opt(name).await {
                        return Err(BackendError::Other(format!(
                            "refusing to start: Cluster {ns}/{name} already exists on the management cluster (a leftover of an earlier run, or someone else's); delete it first"
                        )));
                    }
                }
                self.guard.set_cluster_resource(r.ar);
            }
        }
        if let Some(d) = &self.docker {
            let names: Vec<&String> = applied.iter().map(|(_, n)| n).collect();
            if let Ok(found) = d.list().await {
                let left: Vec<String> = found
                    .into_iter()
                    .filter(|c| c.labels.get(KIND_CLUSTER_LABEL).is_some_and(|x| names.contains(&x)))
                    .map(|c| c.name)
                    .collect();
                if !left.is_empty() {
                    return Err(BackendError::Other(format!(
                        "refusing to start: containers of the scenario's clusters already exist ({}); remove them first",
                        left.join(", ")
                    )));
                }
            }
        }
        Ok(())
    }

    /// The objects of one Cluster for the describe tree.
    pub(super) async fn describe_objects(
        &mut self,
        m: usize,
        cluster: &ObjectRef,
    ) -> Result<super::describe::ClusterObjects, BackendError> {
        let ns = cluster.namespace.clone();
        let conn = self.conn(m)?;
        let mut fetch = Vec::new();
        let r = conn.kinds.by_name("Cluster").await.map_err(BackendError::Other)?;
        let api: Api<DynamicObject> = Api::namespaced_with(conn.clients.reader.clone(), &ns, &r.ar);
        let c = api
            .get_opt(&cluster.name)
            .await
            .map_err(|e| backend_error(transport_error(e)))?
            .ok_or_else(|| BackendError::not_found(cluster))?;
        let cv = serde_json::to_value(&c).unwrap_or(Value::Null);
        let mut out = super::describe::ClusterObjects { cluster: cv.clone(), ..Default::default() };
        for (field, slot) in [("/spec/infrastructureRef", 0), ("/spec/controlPlaneRef", 1)] {
            if let Some(kind) = cv.pointer(&format!("{field}/kind")).and_then(Value::as_str) {
                let name = cv.pointer(&format!("{field}/name")).and_then(Value::as_str).unwrap_or("").to_string();
                fetch.push((slot, kind.to_string(), name));
            }
        }
        for (slot, kind, name) in fetch {
            if let Ok(r) = conn.kinds.by_name(&kind).await {
                let api: Api<DynamicObject> = Api::namespaced_with(conn.clients.reader.clone(), &ns, &r.ar);
                if let Ok(Some(o)) = api.get_opt(&name).await {
                    let v = serde_json::to_value(&o).unwrap_or(Value::Null);
                    if slot == 0 {
                        out.infrastructure = Some(v);
                    } else {
                        out.control_plane = Some(v);
                    }
                }
            }
        }
        let selector = format!("{CLUSTER_NAME_LABEL}={}", cluster.name);
        for kind in ["MachineDeployment", "MachineSet", "MachinePool", "Machine"] {
            if let Ok(r) = conn.kinds.by_name(kind).await {
                let api: Api<DynamicObject> = Api::namespaced_with(conn.clients.reader.clone(), &ns, &r.ar);
                if let Ok(l) = api.list(&ListParams::default().labels(&selector)).await {
                    // List items may come without their kind; the tree reads it.
                    let vs = l.items.iter().filter_map(|o| serde_json::to_value(o).ok()).map(|mut v| {
                        if v.get("kind").is_none_or(Value::is_null) {
                            v["kind"] = Value::String(kind.to_string());
                        }
                        v
                    });
                    match kind {
                        "Machine" => out.machines.extend(vs),
                        "MachineSet" => out.machine_sets.extend(vs),
                        "MachinePool" => out.machine_pools.extend(vs),
                        _ => out.machine_deployments.extend(vs),
                    }
                }
            }
        }
        Ok(out)
    }

    /// Every object of the scenario's namespaces (and the Namespaces it made), by management cluster,
    /// as JSON: what an outcome is made of.
    pub(super) async fn outcome_objects(&mut self) -> Vec<(String, Value)> {
        let mut objects = Vec::new();
        let scope = self.scope.clone();
        for mi in 0..self.managements.len() {
            let name = self.managements[mi].name.clone();
            let Some(conn) = self.managements[mi].conn.as_mut() else { continue };
            for kind in capi_sim::kinds::Kind::all() {
                let Some(r) = conn.kinds.catalogue(kind).await else { continue };
                if r.namespaced {
                    for ns in &scope.namespaces {
                        let api: Api<DynamicObject> = Api::namespaced_with(conn.clients.reader.clone(), ns, &r.ar);
                        // A kind this client may not list (RBAC) is left out, not fatal.
                        let Ok(list) = api.list(&ListParams::default()).await else { continue };
                        for o in list.items {
                            if let Ok(v) = serde_json::to_value(&o) {
                                objects.push((name.clone(), v));
                            }
                        }
                    }
                } else if r.ar.kind == "Namespace" {
                    let api: Api<DynamicObject> = Api::all_with(conn.clients.reader.clone(), &r.ar);
                    let names: std::collections::BTreeSet<&String> = scope.namespaces.iter().chain(&scope.namespace_objects).collect();
                    for n in names.into_iter().filter(|n| !INITIAL_NAMESPACES.contains(&n.as_str())) {
                        if let Ok(Some(o)) = api.get_opt(n).await {
                            if let Ok(v) = serde_json::to_value(&o) {
                                objects.push((name.clone(), v));
                            }
                        }
                    }
                }
            }
        }
        objects
    }
}

/// What changes when anything in a listing changes: every object's identity and resourceVersion.
pub(super) fn fingerprint(objects: &[(String, Value)]) -> std::collections::BTreeSet<(String, String, String, String, String)> {
    let s = |v: &Value, p: &str| v.pointer(p).and_then(Value::as_str).unwrap_or("").to_string();
    objects
        .iter()
        .map(|(m, v)| (m.clone(), s(v, "/kind"), s(v, "/metadata/namespace"), s(v, "/metadata/name"), s(v, "/metadata/resourceVersion")))
        .collect()
}

//! `clusterctl describe cluster NAME --show-conditions all` over the simulated management cluster:
//! gathers the Cluster's objects from the store as the API would list them and prints them with
//! [`super::tree`] (the object tree, its counters and grouping, shared with the conformance backend).
//! Source: `cmd/clusterctl/client/tree/discovery.go`, `cmd/clusterctl/cmd/describe_cluster.go`.

use super::tree::{self, ClusterObjects, Options};
use crate::controllers::common;
use crate::kinds::Kind;
use crate::object::{ObjKey, Object, SIM_EPOCH_UNIX_SECS};
use crate::store::Store;
use serde_json::Value;

/// The objects `clusterctl describe cluster` reads for one Cluster.
pub fn cluster_objects(store: &Store, cluster_key: &ObjKey) -> Result<ClusterObjects, String> {
    let cluster = store.get(cluster_key).ok_or_else(|| format!("clusters.cluster.x-k8s.io \"{}\" not found", cluster_key.name))?;
    let ns = cluster.namespace();
    let name = cluster.name();
    let by_ref = |r: Option<&Value>| r.and_then(|r| common::ref_key(r, ns)).and_then(|k| store.get(&k));
    let list = |kind: Kind| -> Vec<Value> { store.objects().in_cluster_ns(kind, ns, name).map(|o| o.to_json()).collect() };
    let mut out = ClusterObjects {
        cluster: cluster.to_json(),
        infrastructure: by_ref(cluster.at("/spec/infrastructureRef")).map(|o| o.to_json()),
        control_plane: by_ref(cluster.at("/spec/controlPlaneRef")).map(|o| o.to_json()),
        machine_deployments: list(Kind::MachineDeployment),
        machine_sets: list(Kind::MachineSet),
        machine_pools: list(Kind::MachinePool),
        machines: list(Kind::Machine),
        referenced: Vec::new(),
    };
    let mut referenced: Vec<&std::sync::Arc<Object>> = Vec::new();
    for m in store.objects().in_cluster_ns(Kind::Machine, ns, name) {
        referenced.extend(by_ref(m.at("/spec/infrastructureRef")));
        referenced.extend(by_ref(m.at("/spec/bootstrap/configRef")));
    }
    for p in store.objects().in_cluster_ns(Kind::MachinePool, ns, name) {
        referenced.extend(by_ref(p.at("/spec/template/spec/infrastructureRef")));
        referenced.extend(by_ref(p.at("/spec/template/spec/bootstrap/configRef")));
    }
    out.referenced = referenced.into_iter().map(|o| o.to_json()).collect();
    Ok(out)
}

/// Render the tree at simulated time `now` (ms).
pub fn describe(store: &Store, cluster_key: &ObjKey, now: u64) -> Result<String, String> {
    let objects = cluster_objects(store, cluster_key)?;
    Ok(tree::render(&objects, &Options::show_all(SIM_EPOCH_UNIX_SECS * 1000 + now)))
}

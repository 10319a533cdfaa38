//! The builtin variables the patches see about the Cluster (`builtin.cluster.*`, with its metadata
//! and network), and the `metadata` builtin shared with the control plane and workers.
//! Source: `core/reconcilers/topology/cluster/patches/variables/variables.go` (`Global`, `Cluster`).

use crate::apply::LAST_APPLIED;
use crate::object::Object;
use crate::object::Ptr;
use serde_json::{json, Map, Value};

/// `builtin.*.metadata`: none when there are neither labels nor annotations; otherwise the labels
/// and the annotations but kubectl's last-applied one, each only when there is one. Both maps come
/// in key order.
pub(super) fn metadata_builtin<'a>(
    labels: impl IntoIterator<Item = (&'a String, &'a String)>,
    annotations: impl IntoIterator<Item = (&'a String, &'a String)>,
) -> Option<Value> {
    let mut annotations = annotations.into_iter().peekable();
    let had_annotations = annotations.peek().is_some();
    let labels: Map<String, Value> = labels.into_iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
    if labels.is_empty() && !had_annotations {
        return None;
    }
    let annotations: Map<String, Value> =
        annotations.filter(|(k, _)| *k != LAST_APPLIED).map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
    let mut m = Map::new();
    if !labels.is_empty() {
        m.insert("labels".into(), Value::Object(labels));
    }
    if !annotations.is_empty() {
        m.insert("annotations".into(), Value::Object(annotations));
    }
    Some(Value::Object(m))
}

/// The cluster-wide builtin variables (`builtin.cluster.*`).
pub fn cluster_builtins(cluster: &Object) -> Value {
    let topo = cluster.at("/spec/topology").cloned().unwrap_or(Value::Null);
    let class = topo.ptr("/classRef/name").and_then(Value::as_str).unwrap_or("");
    let class_ns = topo.ptr("/classRef/namespace").and_then(Value::as_str).filter(|s| !s.is_empty()).unwrap_or(cluster.namespace());
    let mut c = json!({
        "name": cluster.name(),
        "namespace": cluster.namespace(),
        "uid": &*cluster.meta.uid,
        "topology": {"version": topo.get("version").cloned().unwrap_or(json!("")), "class": class, "classNamespace": class_ns,
            "classRef": {"name": class, "namespace": class_ns}},
    });
    if let Some(m) = metadata_builtin(&*cluster.meta.labels, &*cluster.meta.annotations) {
        c["metadata"] = m;
    }
    let mut network = Map::new();
    if let Some(d) = cluster.str_at("/spec/clusterNetwork/serviceDomain").filter(|d| !d.is_empty()) {
        network.insert("serviceDomain".into(), json!(d));
    }
    if let Some(s) = cluster.at("/spec/clusterNetwork/services/cidrBlocks") {
        network.insert("services".into(), s.clone());
    }
    if let Some(p) = cluster.at("/spec/clusterNetwork/pods/cidrBlocks") {
        network.insert("pods".into(), p.clone());
    }
    if !network.is_empty() {
        c["network"] = Value::Object(network);
    }
    json!({"cluster": c})
}

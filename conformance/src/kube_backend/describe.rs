//! A `clusterctl describe cluster`-like tree rendered from the objects themselves, for when
//! `clusterctl` is not on PATH: Cluster → ClusterInfrastructure → ControlPlane (and its Machines) →
//! Workers (MachineDeployments and their Machines). Each row shows replicas, the `Available` (or, for
//! Machines, `Ready`) condition and its reason, like clusterctl's v1beta2 columns.

use capi_scenarios::target::CONTROL_PLANE_LABEL;
use serde_json::Value;

/// The objects of one Cluster that the tree shows.
#[derive(Debug, Clone, Default)]
pub struct ClusterObjects {
    /// The Cluster.
    pub cluster: Value,
    /// Its infrastructure cluster, if found.
    pub infrastructure: Option<Value>,
    /// Its control plane, if found.
    pub control_plane: Option<Value>,
    /// MachineDeployments of the cluster.
    pub machine_deployments: Vec<Value>,
    /// Machines of the cluster.
    pub machines: Vec<Value>,
}

fn s<'a>(v: &'a Value, p: &str) -> &'a str {
    v.pointer(p).and_then(Value::as_str).unwrap_or("")
}

fn condition(v: &Value, type_: &str) -> (String, String) {
    let found = v
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|a| a.iter().find(|c| c.get("type").and_then(Value::as_str) == Some(type_)));
    match found {
        Some(c) => (s(c, "/status").to_string(), s(c, "/reason").to_string()),
        None => (String::new(), String::new()),
    }
}

fn replicas(v: &Value) -> String {
    let desired = v.pointer("/spec/replicas").and_then(Value::as_i64);
    let current = v.pointer("/status/replicas").and_then(Value::as_i64);
    match (current, desired) {
        (Some(c), Some(d)) => format!("{c}/{d}"),
        (None, Some(d)) => format!("0/{d}"),
        _ => String::new(),
    }
}

struct Row {
    name: String,
    replicas: String,
    status: String,
    reason: String,
}

fn row(prefix: &str, label: &str, v: &Value, cond: &str) -> Row {
    let (status, reason) = condition(v, cond);
    Row { name: format!("{prefix}{label}{}/{}", s(v, "/kind"), s(v, "/metadata/name")), replicas: replicas(v), status, reason }
}

fn belongs_to(m: &Value, owner_kind: &str, owner_name: &str) -> bool {
    m.pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .is_some_and(|refs| refs.iter().any(|r| s(r, "/kind") == owner_kind && s(r, "/name") == owner_name))
}

/// Render the tree.
pub fn render(objects: &ClusterObjects) -> String {
    let mut rows = vec![row("", "", &objects.cluster, "Available")];
    if let Some(infra) = &objects.infrastructure {
        rows.push(row("├─", "ClusterInfrastructure - ", infra, "Ready"));
    }
    let is_cp = |m: &Value| m.pointer("/metadata/labels").and_then(|l| l.get(CONTROL_PLANE_LABEL)).is_some();
    // The caller passes the Cluster's Machines (selected by the cluster-name label).
    let mut machines: Vec<&Value> = objects.machines.iter().collect();
    machines.sort_by(|a, b| s(a, "/metadata/name").cmp(s(b, "/metadata/name")));
    if let Some(cp) = &objects.control_plane {
        rows.push(row("├─", "ControlPlane - ", cp, "Available"));
        let cps: Vec<&&Value> = machines.iter().filter(|m| is_cp(m)).collect();
        for (i, m) in cps.iter().enumerate() {
            let branch = if i + 1 == cps.len() { "│ └─" } else { "│ ├─" };
            rows.push(row(branch, "", m, "Ready"));
        }
    }
    rows.push(Row { name: "└─Workers".into(), replicas: String::new(), status: String::new(), reason: String::new() });
    let mut mds: Vec<&Value> = objects.machine_deployments.iter().collect();
    mds.sort_by(|a, b| s(a, "/metadata/name").cmp(s(b, "/metadata/name")));
    for (i, md) in mds.iter().enumerate() {
        let last_md = i + 1 == mds.len();
        rows.push(row(if last_md { "  └─" } else { "  ├─" }, "", md, "Available"));
        let md_name = s(md, "/metadata/name");
        let owned: Vec<&&Value> = machines
            .iter()
            .filter(|m| !is_cp(m))
            .filter(|m| {
                m.pointer("/metadata/labels").and_then(|l| l.get("cluster.x-k8s.io/deployment-name")).and_then(Value::as_str)
                    == Some(md_name)
                    || belongs_to(m, "MachineDeployment", md_name)
            })
            .collect();
        for (j, m) in owned.iter().enumerate() {
            let stem = if last_md { "    " } else { "  │ " };
            let branch = if j + 1 == owned.len() { "└─" } else { "├─" };
            rows.push(row(&format!("{stem}{branch}"), "", m, "Ready"));
        }
    }
    let width = rows.iter().map(|r| r.name.chars().count()).max().unwrap_or(4).max(4);
    let mut out = format!("{:<width$}  {:<8}  {:<9}  {}\n", "NAME", "REPLICAS", "AVAILABLE", "REASON");
    for r in rows {
        let pad = width - r.name.chars().count();
        out.push_str(format!("{}{}  {:<8}  {:<9}  {}", r.name, " ".repeat(pad), r.replicas, r.status, r.reason).trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renders_a_tree() {
        let objects = ClusterObjects {
            cluster: json!({"kind": "Cluster", "metadata": {"name": "c1"}, "status": {"conditions": [{"type": "Available", "status": "True", "reason": "Available"}]}}),
            infrastructure: Some(json!({"kind": "DockerCluster", "metadata": {"name": "c1-x"}})),
            control_plane: Some(
                json!({"kind": "KubeadmControlPlane", "metadata": {"name": "c1-y"}, "spec": {"replicas": 1}, "status": {"replicas": 1}}),
            ),
            machine_deployments: vec![json!({"kind": "MachineDeployment", "metadata": {"name": "c1-md-0"}, "spec": {"replicas": 1}})],
            machines: vec![
                json!({"kind": "Machine", "metadata": {"name": "c1-y-a", "labels": {"cluster.x-k8s.io/control-plane": ""}}}),
                json!({"kind": "Machine", "metadata": {"name": "c1-md-0-b", "labels": {"cluster.x-k8s.io/deployment-name": "c1-md-0"}}}),
            ],
        };
        let text = render(&objects);
        assert!(text.contains("Cluster/c1"), "{text}");
        assert!(text.contains("│ └─Machine/c1-y-a"), "{text}");
        assert!(text.contains("    └─Machine/c1-md-0-b"), "{text}");
        let cp = text.lines().find(|l| l.contains("ControlPlane - KubeadmControlPlane/c1-y")).unwrap();
        assert!(cp.ends_with("1/1"), "{text}");
        assert!(text.lines().next().unwrap().starts_with("NAME"), "{text}");
    }
}

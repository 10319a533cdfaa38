//! `clusterctl describe cluster NAME --show-conditions all` rendered from the objects themselves, for
//! when `clusterctl` is not on PATH. The tree, its counters and grouping are the simulator's
//! (`capi_sim::clusterctl::tree`, restated from clusterctl v1.13.5), so both backends print the same
//! table for the same objects; ages are counted to the wall clock, as clusterctl counts them.

pub use capi_sim::clusterctl::tree::ClusterObjects;
use capi_sim::clusterctl::tree::{self, Options};

/// Render the tree as of now.
pub fn render(objects: &ClusterObjects) -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
    tree::render(objects, &Options::show_all(now))
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
            machine_deployments: vec![
                json!({"kind": "MachineDeployment", "metadata": {"name": "c1-md-0", "uid": "md"}, "spec": {"replicas": 1}}),
            ],
            machine_sets: vec![json!({"kind": "MachineSet", "metadata": {"name": "c1-md-0-s", "uid": "ms",
                "ownerReferences": [{"kind": "MachineDeployment", "name": "c1-md-0", "uid": "md", "controller": true}]}})],
            machines: vec![
                json!({"kind": "Machine", "metadata": {"name": "c1-y-a", "labels": {"cluster.x-k8s.io/control-plane": ""}}}),
                json!({"kind": "Machine", "metadata": {"name": "c1-md-0-b",
                    "ownerReferences": [{"kind": "MachineSet", "name": "c1-md-0-s", "uid": "ms", "controller": true}]}}),
            ],
            ..Default::default()
        };
        let text = render(&objects);
        assert!(text.contains("Cluster/c1"), "{text}");
        assert!(text.contains("│ └─Machine/c1-y-a"), "{text}");
        assert!(text.contains("    └─Machine/c1-md-0-b"), "{text}");
        let cp = text.lines().find(|l| l.contains("ControlPlane - KubeadmControlPlane/c1-y")).unwrap();
        assert!(cp.split_whitespace().any(|c| c == "1/1"), "{text}");
        assert!(text.lines().next().unwrap().starts_with("NAME"), "{text}");
    }
}

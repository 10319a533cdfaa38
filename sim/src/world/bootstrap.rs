//! Bootstrap data: the cloud-config CABPK writes into the bootstrap Secret and that CAPD executes in
//! the node container. The writer (used by the KubeadmConfig controller) and the reader (what the node
//! understands: which kubeadm command, which version, which taints) share this module so that the
//! format is defined once. The shape follows CABPK's `cloudinit` templates: `write_files` with
//! `/run/kubeadm/kubeadm.yaml` (init) or `/run/kubeadm/kubeadm-join-config.yaml` (join) after the
//! user's `files`, and `runcmd` with the user's `preKubeadmCommands`, `kubeadm init|join --config ...`
//! followed by the success sentinel `/run/cluster-api/bootstrap-success.complete`, then the user's
//! `postKubeadmCommands` (`bootstrap/kubeadm/pkg/cloudinit/{controlplane_init,controlplane_join,node}.go`).
//! What each command does when the node runs it is [`super::cloudinit`]'s.

use super::cloudinit::{classify, Step};
use crate::object::Ptr;
use serde_json::{json, Value};

/// Where CABPK writes the kubeadm configuration for `kubeadm init`.
pub const INIT_CONFIG_PATH: &str = "/run/kubeadm/kubeadm.yaml";
/// Where CABPK writes it for `kubeadm join` (`standardJoinCommand`).
pub const JOIN_CONFIG_PATH: &str = "/run/kubeadm/kubeadm-join-config.yaml";

/// What the node will run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum BootKind {
    /// `kubeadm init`.
    Init,
    /// `kubeadm join` with a `controlPlane` section.
    JoinControlPlane,
    /// `kubeadm join` of a worker.
    JoinWorker,
}

/// The parts of the bootstrap data the world acts on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BootstrapPlan {
    /// init / join.
    pub kind: BootKind,
    /// `kubernetesVersion` of the ClusterConfiguration (init) or empty (join).
    pub version: String,
    /// Taints in `nodeRegistration.taints` (`key:effect`).
    pub taints: Vec<(String, String)>,
    /// The API server endpoint the join discovers through.
    pub endpoint: String,
    /// The `runcmd` entries in order, as the node runs them (one is [`Step::Kubeadm`]).
    pub steps: Vec<Step>,
}

/// Inputs of the writer.
#[derive(Clone, Debug)]
pub struct BootstrapInput<'a> {
    /// init / join.
    pub kind: BootKind,
    /// Cluster name.
    pub cluster: &'a str,
    /// Kubernetes version.
    pub version: &'a str,
    /// `host:port` of the control plane endpoint.
    pub endpoint: &'a str,
    /// Bootstrap token for joins.
    pub token: &'a str,
    /// Taints to register with (`key`, `effect`).
    pub taints: &'a [(String, String)],
    /// The user's kubeadmConfigSpec (ClusterConfiguration, nodeRegistration...), copied in.
    pub spec: &'a Value,
}

/// Write the cloud-config.
pub fn render(input: &BootstrapInput<'_>) -> String {
    let taints: Vec<Value> = input.taints.iter().map(|(k, e)| json!({"key": k, "effect": e})).collect();
    let node_registration = json!({"taints": taints, "kubeletExtraArgs": input.spec.ptr("/initConfiguration/nodeRegistration/kubeletExtraArgs").cloned().unwrap_or(json!([]))});
    let mut docs: Vec<Value> = Vec::new();
    match input.kind {
        BootKind::Init => {
            let mut cc = input.spec.get("clusterConfiguration").cloned().unwrap_or(json!({}));
            if let Some(m) = cc.as_object_mut() {
                m.insert("apiVersion".into(), json!("kubeadm.k8s.io/v1beta4"));
                m.insert("kind".into(), json!("ClusterConfiguration"));
                m.insert("clusterName".into(), json!(input.cluster));
                m.insert("controlPlaneEndpoint".into(), json!(input.endpoint));
                m.insert("kubernetesVersion".into(), json!(input.version));
            }
            docs.push(cc);
            docs.push(json!({"apiVersion": "kubeadm.k8s.io/v1beta4", "kind": "InitConfiguration", "nodeRegistration": node_registration}));
        }
        BootKind::JoinControlPlane | BootKind::JoinWorker => {
            let mut join = json!({
                "apiVersion": "kubeadm.k8s.io/v1beta4", "kind": "JoinConfiguration",
                "discovery": {"bootstrapToken": {"apiServerEndpoint": input.endpoint, "token": input.token, "caCertHashes": ["sha256:<ca-hash>"]}},
                "nodeRegistration": node_registration,
            });
            if input.kind == BootKind::JoinControlPlane {
                join["controlPlane"] = json!({"localAPIEndpoint": {}});
            }
            docs.push(join);
        }
    }
    let kubeadm_yaml: String = docs.iter().map(|d| format!("---\n{}", serde_yaml::to_string(d).unwrap_or_default())).collect();
    let (command, path) = match input.kind {
        BootKind::Init => ("kubeadm init --config /run/kubeadm/kubeadm.yaml ", INIT_CONFIG_PATH),
        _ => ("kubeadm join --config /run/kubeadm/kubeadm-join-config.yaml ", JOIN_CONFIG_PATH),
    };
    // The user's files first (`AdditionalFiles`), then kubeadm's configuration and the placeholder.
    let mut files: Vec<Value> = input
        .spec
        .get("files")
        .and_then(Value::as_array)
        .map(|fs| {
            fs.iter()
                .filter_map(|f| {
                    let mut o = serde_json::Map::new();
                    o.insert("path".into(), f.get("path")?.clone());
                    for k in ["owner", "permissions", "encoding", "append"] {
                        if let Some(v) = f.get(k) {
                            o.insert(k.into(), v.clone());
                        }
                    }
                    o.insert("content".into(), f.get("content").cloned().unwrap_or(json!("")));
                    Some(Value::Object(o))
                })
                .collect()
        })
        .unwrap_or_default();
    files.push(json!({"path": path, "owner": "root:root", "permissions": "0640", "content": kubeadm_yaml}));
    files.push(json!({"path": "/run/cluster-api/placeholder", "owner": "root:root", "permissions": "0640", "content": "This placeholder file is used to create the /run/cluster-api sub directory in a way that is compatible with both Linux and Windows (mkdir -p /run/cluster-api does not work with Windows)"}));
    let commands = |k: &str| -> Vec<Value> { input.spec.get(k).and_then(Value::as_array).cloned().unwrap_or_default() };
    let mut runcmd = commands("preKubeadmCommands");
    runcmd.push(json!(format!("{command} && echo success > /run/cluster-api/bootstrap-success.complete")));
    runcmd.extend(commands("postKubeadmCommands"));
    let cloud = json!({"write_files": files, "runcmd": runcmd});
    format!("## template: jinja\n#cloud-config\n\n{}", serde_yaml::to_string(&cloud).unwrap_or_default())
}

impl BootstrapPlan {
    /// Read bootstrap data the way the node would execute it.
    pub fn parse(data: &str) -> Result<BootstrapPlan, String> {
        let cloud: Value = serde_yaml::from_str(data).map_err(|e| format!("failed to decode machine's bootstrap data: {e}"))?;
        let runcmd: Vec<&str> =
            cloud.get("runcmd").and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
        let init = runcmd.iter().any(|c| c.contains("kubeadm init"));
        let join = runcmd.iter().any(|c| c.contains("kubeadm join"));
        if !init && !join {
            return Err("bootstrap data runs neither `kubeadm init` nor `kubeadm join`".into());
        }
        let files: Vec<(String, String)> = cloud
            .get("write_files")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|f| {
                Some((f.get("path")?.as_str()?.to_string(), f.get("content").and_then(Value::as_str).unwrap_or("").to_string()))
            })
            .collect();
        let content = files.iter().find(|(p, _)| p == INIT_CONFIG_PATH || p == JOIN_CONFIG_PATH).map_or("", |(_, c)| c.as_str());
        let steps: Vec<Step> = runcmd.iter().map(|c| classify(c, &files)).collect();
        let mut version = String::new();
        let mut taints = Vec::new();
        let mut control_plane = false;
        let mut endpoint = String::new();
        for doc in serde_yaml::Deserializer::from_str(content) {
            let Ok(v) = <Value as serde::Deserialize>::deserialize(doc) else { continue };
            match v.get("kind").and_then(Value::as_str) {
                Some("ClusterConfiguration") => {
                    version = v.get("kubernetesVersion").and_then(Value::as_str).unwrap_or("").to_string();
                    endpoint = v.get("controlPlaneEndpoint").and_then(Value::as_str).unwrap_or("").to_string();
                }
                Some("JoinConfiguration") => {
                    control_plane = v.get("controlPlane").is_some_and(|c| !c.is_null());
                    endpoint = v.ptr("/discovery/bootstrapToken/apiServerEndpoint").and_then(Value::as_str).unwrap_or("").to_string();
                }
                _ => {}
            }
            if let Some(ts) = v.ptr("/nodeRegistration/taints").and_then(Value::as_array) {
                taints = ts
                    .iter()
                    .filter_map(|t| {
                        Some((
                            t.get("key")?.as_str()?.to_string(),
                            t.get("effect").and_then(Value::as_str).unwrap_or("NoSchedule").to_string(),
                        ))
                    })
                    .collect();
            }
        }
        let kind = if init {
            BootKind::Init
        } else if control_plane {
            BootKind::JoinControlPlane
        } else {
            BootKind::JoinWorker
        };
        Ok(BootstrapPlan { kind, version, taints, endpoint, steps })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_written_is_what_the_node_runs() {
        let taints = vec![("node.cluster.x-k8s.io/uninitialized".to_string(), "NoSchedule".to_string())];
        for kind in [BootKind::Init, BootKind::JoinControlPlane, BootKind::JoinWorker] {
            let data = render(&BootstrapInput {
                kind,
                cluster: "c",
                version: "v1.34.3",
                endpoint: "172.18.0.2:6443",
                token: "abcdef.0123456789abcdef",
                taints: &taints,
                spec: &json!({}),
            });
            let plan = BootstrapPlan::parse(&data).unwrap();
            assert_eq!(plan.kind, kind);
            assert_eq!(plan.taints, taints);
            assert_eq!(plan.endpoint, "172.18.0.2:6443");
        }
    }
}

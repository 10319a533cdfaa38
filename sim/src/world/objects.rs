//! A workload cluster's API objects as its API server shows them: Nodes (conditions, addresses,
//! provider ID, kubelet version, taints), the control-plane static Pods in `kube-system`, the
//! `kube-system` and `default` Namespaces, and every resource applied to it (CNI manifests,
//! ClusterResourceSet payloads, what users apply). Scenario predicates read them (`workload:` targets)
//! and users patch or delete them ([`World::patch_workload_object`], [`World::delete_workload_object`]).
//!
//! The typed model in [`super::workload`] stays the source of truth for behaviour; the JSON here is
//! rendered from it on demand, only for clusters that changed since the last rendering
//! ([`World::refresh_views`]), so a simulation that never reads a workload cluster pays nothing.
//!
//! Pods are the control-plane static Pods and the Pods of the drain model (`super::pods`), with
//! PodDisruptionBudgets' status computed from them.

use super::pods::Pod;
use super::workload::{Node, Status, WorkloadCluster};
use super::{PodStatus, World};
use crate::object::timestamp;
use capi_scenarios::predicate::{ClusterView, Resource};
use capi_scenarios::LabelSelector;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// Kinds a workload cluster serves that are cluster-scoped.
const CLUSTER_SCOPED: &[&str] =
    &["Node", "Namespace", "ClusterRole", "ClusterRoleBinding", "StorageClass", "CustomResourceDefinition", "PersistentVolume"];

/// The rendered objects of one workload cluster, by (kind, namespace, name); cluster-scoped kinds
/// have an empty namespace.
#[derive(Clone, Debug, Default)]
pub struct WorkloadObjects {
    objects: BTreeMap<(String, String, String), Value>,
}

fn scoped(kind: &str, ns: &str) -> String {
    if CLUSTER_SCOPED.contains(&kind) {
        String::new()
    } else {
        ns.to_string()
    }
}

impl ClusterView for WorkloadObjects {
    fn get(&self, kind: &str, namespace: &str, name: &str) -> Result<Option<&dyn Resource>, String> {
        Ok(self.objects.get(&(kind.to_string(), scoped(kind, namespace), name.to_string())).map(|v| v as &dyn Resource))
    }
    fn list(&self, kind: &str, namespace: Option<&str>, selector: &LabelSelector) -> Result<Vec<&dyn Resource>, String> {
        let ns = namespace.map(|n| scoped(kind, n));
        Ok(self
            .objects
            .iter()
            .filter(|((k, n, _), _)| k == kind && ns.as_ref().is_none_or(|w| w == n))
            .map(|(_, v)| v as &dyn Resource)
            .filter(|r| selector.matches(|k| r.label(k)))
            .collect())
    }
}

impl WorkloadObjects {
    /// One object as JSON.
    pub fn value(&self, kind: &str, namespace: &str, name: &str) -> Option<&Value> {
        self.objects.get(&(kind.to_string(), scoped(kind, namespace), name.to_string()))
    }

    /// Every object.
    pub fn iter(&self) -> impl Iterator<Item = &Value> {
        self.objects.values()
    }
}

fn status_str(s: Status) -> &'static str {
    s.as_str()
}

/// A Node condition as the workload API shows it (`node.status.conditions[]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeCond<'a> {
    /// Type.
    pub type_: &'a str,
    /// Status.
    pub status: Status,
    /// Reason.
    pub reason: &'a str,
    /// Message.
    pub message: &'a str,
    /// lastTransitionTime (simulated ms; serialized to whole seconds).
    pub since_ms: u64,
    /// lastHeartbeatTime.
    pub heartbeat_ms: u64,
}

/// Every condition of a Node, in the order the API shows them: `Ready`, the kubelet's pressure
/// conditions (`pkg/kubelet/nodestatus/setters.go`; healthy while the kubelet posts; once it stops,
/// the node lifecycle controller turns them `Unknown` together with `Ready`, at the same time), then
/// conditions set from outside the kubelet.
pub fn node_conditions(n: &Node, now: u64) -> Vec<NodeCond<'_>> {
    let mut out = Vec::with_capacity(4 + n.extra_conditions.len());
    out.push(NodeCond {
        type_: "Ready",
        status: n.ready,
        reason: &n.ready_reason,
        message: &n.ready_message,
        since_ms: n.ready_since_ms,
        heartbeat_ms: if n.ready == Status::Unknown { n.ready_since_ms } else { now },
    });
    let reporting = n.ready != Status::Unknown;
    for (t, reason_ok, msg_ok) in [
        ("MemoryPressure", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
        ("DiskPressure", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
        ("PIDPressure", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
    ] {
        out.push(if reporting {
            NodeCond {
                type_: t,
                status: Status::False,
                reason: reason_ok,
                message: msg_ok,
                since_ms: n.registered_ms,
                heartbeat_ms: n.registered_ms,
            }
        } else {
            NodeCond {
                type_: t,
                status: Status::Unknown,
                reason: "NodeStatusUnknown",
                message: "Kubelet stopped posting node status.",
                since_ms: n.ready_since_ms,
                heartbeat_ms: n.registered_ms,
            }
        });
    }
    for (t, c) in &n.extra_conditions {
        out.push(NodeCond {
            type_: t,
            status: c.status,
            reason: &c.reason,
            message: &c.message,
            since_ms: c.since_ms,
            heartbeat_ms: c.since_ms,
        });
    }
    out
}

/// A Node as the workload API server shows it.
pub fn node_json(n: &Node, ip: Option<&str>, now: u64) -> Value {
    let conditions: Vec<Value> = node_conditions(n, now)
        .iter()
        .map(|c| {
            json!({"type": c.type_, "status": status_str(c.status), "reason": c.reason, "message": c.message,
                "lastHeartbeatTime": timestamp(c.heartbeat_ms), "lastTransitionTime": timestamp(c.since_ms)})
        })
        .collect();
    let mut spec = Map::new();
    if let Some(p) = &n.provider_id {
        spec.insert("providerID".into(), json!(p));
    }
    if !n.taints.is_empty() {
        spec.insert(
            "taints".into(),
            Value::Array(
                n.taints
                    .iter()
                    .map(|t| {
                        let mut j = json!({"key": t.key, "effect": t.effect});
                        if !t.value.is_empty() {
                            j["value"] = json!(t.value);
                        }
                        j
                    })
                    .collect(),
            ),
        );
    }
    if n.unschedulable {
        spec.insert("unschedulable".into(), json!(true));
    }
    let mut addresses = Vec::new();
    if let Some(ip) = ip.filter(|i| !i.is_empty()) {
        addresses.push(json!({"type": "InternalIP", "address": ip}));
    }
    addresses.push(json!({"type": "Hostname", "address": n.name}));
    json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": n.name, "labels": n.labels, "annotations": n.annotations, "creationTimestamp": timestamp(n.registered_ms)},
        "spec": spec,
        "status": {
            "conditions": conditions,
            "addresses": addresses,
            "nodeInfo": node_info(&n.name, &n.kubelet_version),
        },
    })
}

/// FNV-1a (64 bits) of a text: the simulated nodes' identifiers are a pure function of their names.
fn fnv64(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// A UUID-shaped identifier derived from a text (`8-4-4-4-12` hex digits).
fn uuid_of(text: &str) -> String {
    let (a, b) = (fnv64(text), fnv64(&format!("{text}/2")));
    format!("{:08x}-{:04x}-{:04x}-{:04x}-{:012x}", a >> 32, (a >> 16) & 0xffff, a & 0xffff, b >> 48, b & 0xffff_ffff_ffff)
}

/// A Node's `status.nodeInfo` as a kind node's kubelet reports it: every field of `NodeSystemInfo`
/// (they are all required), the identifiers derived from the node's name.
pub fn node_info(name: &str, kubelet_version: &str) -> Value {
    json!({
        "machineID": format!("{:016x}{:016x}", fnv64(name), fnv64(&format!("{name}/machine-id"))),
        "systemUUID": uuid_of(&format!("{name}/system-uuid")),
        "bootID": uuid_of(&format!("{name}/boot-id")),
        "kernelVersion": "6.1.0", "osImage": "Debian GNU/Linux 12 (bookworm)",
        "containerRuntimeVersion": "containerd://2.1.1",
        "kubeletVersion": kubelet_version, "kubeProxyVersion": kubelet_version,
        "operatingSystem": "linux", "architecture": "amd64",
    })
}

/// A control-plane static Pod (`<component>-<node>` in `kube-system`, as kubeadm names them): one
/// container, host networking (its IP is the node's), the container's readiness and restarts.
fn static_pod_json(component: &str, node: &str, ip: Option<&str>, status: PodStatus, since_ms: u64) -> Value {
    let (phase, ready) = match status {
        PodStatus::Running => ("Running", true),
        PodStatus::Provisioning => ("Pending", false),
        PodStatus::CrashLoopBackOff => ("Running", false),
        _ => ("Failed", false),
    };
    let mut container = json!({"name": component, "ready": ready, "restartCount": 0, "started": ready});
    if status == PodStatus::CrashLoopBackOff {
        container["restartCount"] = json!(5);
        container["state"] = json!({"waiting": {"reason": "CrashLoopBackOff"}});
        container["lastState"] = json!({"terminated": {"exitCode": 1, "reason": "Error"}});
    } else if phase == "Running" {
        container["state"] = json!({"running": {"startedAt": timestamp(since_ms)}});
    }
    let mut status_json = json!({"phase": phase, "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}],
        "containerStatuses": [container]});
    if let Some(ip) = ip.filter(|i| !i.is_empty()) {
        status_json["hostIP"] = json!(ip);
        status_json["podIP"] = json!(ip);
        status_json["podIPs"] = json!([{"ip": ip}]);
    }
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": format!("{component}-{node}"), "namespace": "kube-system",
            "labels": {"component": component, "tier": "control-plane"}, "creationTimestamp": timestamp(since_ms),
            "annotations": mirror_annotations(component, node, since_ms)},
        "spec": {"nodeName": node, "priorityClassName": "system-node-critical", "hostNetwork": true,
            "containers": [{"name": component}]},
        "status": status_json,
    })
}

/// The kubelet's annotations of a static Pod's mirror (`pkg/kubelet/types/pod_update.go`:
/// `ConfigSourceAnnotationKey`, `ConfigMirrorAnnotationKey`, `ConfigHashAnnotationKey`,
/// `ConfigFirstSeenAnnotationKey`): `kubectl drain` and CAPI's drain recognise a mirror Pod by
/// `kubernetes.io/config.mirror` and leave it alone. The hash stands for the manifest's hash (an
/// FNV-1a of the Pod's name, stable per Pod); the kubelet's owner reference to its Node is not
/// written, as Node UIDs are not modelled.
fn mirror_annotations(component: &str, node: &str, since_ms: u64) -> Value {
    let hash =
        format!("{component}-{node}").bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    let hash = format!("{hash:016x}");
    json!({
        "kubernetes.io/config.hash": hash,
        (super::pods::MIRROR_ANNOTATION): hash,
        "kubernetes.io/config.seen": timestamp(since_ms),
        "kubernetes.io/config.source": "file",
    })
}

/// A Pod of the drain model (`super::pods`).
fn pod_json(p: &Pod) -> Value {
    let mut meta = json!({"name": p.name, "namespace": p.namespace, "labels": p.labels, "annotations": p.annotations,
        "creationTimestamp": timestamp(p.created_ms)});
    if let Some((kind, name)) = &p.controller {
        meta["ownerReferences"] = json!([{"apiVersion": if kind == "ReplicaSet" || kind == "DaemonSet" { "apps/v1" } else { "v1" },
            "kind": kind, "name": name, "controller": true}]);
    }
    if let Some(d) = p.deletion_ms {
        meta["deletionTimestamp"] = json!(timestamp(d));
    }
    let mut spec = json!({});
    if !p.node.is_empty() {
        spec["nodeName"] = json!(p.node);
    }
    if !p.node_selector.is_empty() {
        spec["nodeSelector"] = json!(p.node_selector);
    }
    let phase = if p.node.is_empty() { "Pending" } else { p.phase.as_str() };
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec, "status": {"phase": phase}})
}

/// Render one workload cluster.
pub fn render(world: &World, wl: &WorkloadCluster, now: u64) -> WorkloadObjects {
    let mut out = WorkloadObjects::default();
    let mut put = |v: Value| {
        let s = |p: &str| v.pointer(p).and_then(Value::as_str).unwrap_or("").to_string();
        let (kind, ns, name) = (s("/kind"), s("/metadata/namespace"), s("/metadata/name"));
        out.objects.insert((kind.clone(), scoped(&kind, &ns), name), v);
    };
    // kubeadm init creates the built-in Namespaces as its first Node registers.
    let born = wl.nodes.values().map(|n| n.registered_ms).min();
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        let mut meta = json!({"name": ns});
        if let Some(t) = born {
            meta["creationTimestamp"] = json!(timestamp(t));
        }
        put(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": meta, "status": {"phase": "Active"}}));
    }
    for r in wl.resources.values() {
        let mut v = r.clone();
        let kind = v.get("kind").and_then(Value::as_str).unwrap_or("").to_string();
        if CLUSTER_SCOPED.contains(&kind.as_str()) {
            if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
                m.remove("namespace");
            }
        } else if v.pointer("/metadata/namespace").is_none() {
            if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
                m.insert("namespace".into(), json!("default"));
            }
        }
        put(v);
    }
    for p in wl.pods.values() {
        put(pod_json(p));
    }
    for b in wl.pdbs.values() {
        if let Some(mut v) = wl.resources.get(&format!("PodDisruptionBudget/{}/{}", b.namespace, b.name)).cloned() {
            let (desired, current, allowed) = wl.pdb_status(b);
            if let Some(m) = v.as_object_mut() {
                m.insert(
                    "status".into(),
                    json!({"desiredHealthy": desired, "currentHealthy": current, "disruptionsAllowed": allowed,
                        "expectedPods": wl.pods.values().filter(|p| p.namespace == b.namespace && b.selector.matches_map(&p.labels)).count()}),
                );
            }
            put(v);
        }
    }
    for n in wl.nodes.values() {
        let ip = world.docker.get(&n.name).map(|c| c.ip.as_str());
        put(node_json(n, ip, now));
        if n.control_plane {
            if let Ok(pods) = world.static_pods(&wl.name, &n.name) {
                for (component, status) in [
                    ("kube-apiserver", pods.api_server),
                    ("kube-controller-manager", pods.controller_manager),
                    ("kube-scheduler", pods.scheduler),
                    ("etcd", pods.etcd),
                ] {
                    if status != PodStatus::DoesNotExist {
                        put(static_pod_json(component, &n.name, ip, status, n.registered_ms));
                    }
                }
            }
        }
    }
    out
}

impl World {
    /// Bring the rendered objects of every workload cluster that changed up to date (see the module
    /// doc); call before reading [`World::workload_objects`].
    pub fn refresh_views(&mut self, now: u64) {
        for c in std::mem::take(&mut self.dirty_views) {
            match self.workloads.get(&c) {
                Some(wl) => {
                    let rendered = render(self, wl, now);
                    self.views.insert(c, rendered);
                }
                None => {
                    self.views.remove(&c);
                }
            }
        }
    }

    /// Change an object of a workload cluster as its API server would, given the object as it looks
    /// after the patch (`after`, computed by the caller from [`World::workload_objects`]): a Node's
    /// labels, annotations, taints, `unschedulable` and (`status` subresource) conditions other than
    /// the kubelet's; any applied resource wholesale. Static Pods cannot be changed (kubelet mirror
    /// pods are recreated).
    pub fn patch_workload_object(&mut self, cluster: &str, after: Value, status: bool, now: u64) -> Result<(), String> {
        self.api_reachable(cluster)?;
        let s = |p: &str| after.pointer(p).and_then(Value::as_str).unwrap_or("").to_string();
        let (kind, name) = (s("/kind"), s("/metadata/name"));
        match kind.as_str() {
            "Node" => {
                let strings = |p: &str| -> BTreeMap<String, String> {
                    after
                        .pointer(p)
                        .and_then(Value::as_object)
                        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string())).collect())
                        .unwrap_or_default()
                };
                let (labels, annotations) = (strings("/metadata/labels"), strings("/metadata/annotations"));
                let taints: Vec<super::workload::Taint> = after
                    .pointer("/spec/taints")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .map(|t| super::workload::Taint {
                                key: t.get("key").and_then(Value::as_str).unwrap_or("").to_string(),
                                value: t.get("value").and_then(Value::as_str).unwrap_or("").to_string(),
                                effect: t.get("effect").and_then(Value::as_str).unwrap_or("").to_string(),
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let unschedulable = after.pointer("/spec/unschedulable").and_then(Value::as_bool).unwrap_or(false);
                let kubelet_owned = ["Ready", "MemoryPressure", "DiskPressure", "PIDPressure"];
                let extra: BTreeMap<String, super::workload::NodeCondition> = after
                    .pointer("/status/conditions")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(|c| {
                                let t = c.get("type")?.as_str()?;
                                if kubelet_owned.contains(&t) {
                                    return None;
                                }
                                let g = |k: &str| c.get(k).and_then(Value::as_str).unwrap_or("").to_string();
                                let status = match g("status").as_str() {
                                    "True" => Status::True,
                                    "False" => Status::False,
                                    _ => Status::Unknown,
                                };
                                Some((
                                    t.to_string(),
                                    super::workload::NodeCondition { status, reason: g("reason"), message: g("message"), since_ms: now },
                                ))
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                self.patch_node(cluster, &name, |n| {
                    if status {
                        for (t, mut c) in extra {
                            if let Some(old) = n.extra_conditions.get(&t).filter(|o| o.status == c.status) {
                                c.since_ms = old.since_ms;
                            }
                            n.extra_conditions.insert(t, c);
                        }
                    } else {
                        n.labels = labels;
                        n.annotations = annotations;
                        n.taints = taints;
                        n.unschedulable = unschedulable;
                    }
                })?;
                // Condition changes are Node changes too (the MachineHealthCheck watches Nodes).
                self.notice_node_now(cluster, &name);
                // New labels or fewer taints may let waiting Pods run.
                self.schedule_pending_pods(cluster, now);
            }
            "Pod" if s("/metadata/namespace") == "kube-system" => {
                return Err(format!("pods \"{name}\" is a static pod of the kubelet and cannot be changed"));
            }
            _ => {
                self.apply_to_workload(cluster, vec![after], now)?;
            }
        }
        self.dirty_views.insert(cluster.to_string());
        Ok(())
    }

    /// Delete an object of a workload cluster: a Node (as `kubectl delete node`), or an applied
    /// resource. Returns whether it existed.
    pub fn delete_workload_object(&mut self, cluster: &str, kind: &str, namespace: &str, name: &str) -> Result<bool, String> {
        self.api_reachable(cluster)?;
        let found = match kind {
            "Node" => self.delete_node(cluster, name)?,
            _ => {
                let wl = self.workload_mut(cluster)?;
                let ns = if namespace.is_empty() { "default" } else { namespace };
                let modelled = wl.delete_workload_object(kind, ns, name);
                let removed = wl.resources.remove(&format!("{kind}/{ns}/{name}")).is_some() || modelled;
                self.notice_workload(cluster);
                removed
            }
        };
        self.dirty_views.insert(cluster.to_string());
        Ok(found)
    }

    /// A workload cluster's objects as last rendered by [`World::refresh_views`].
    pub fn workload_objects(&self, cluster: &str) -> Result<&WorkloadObjects, String> {
        self.api_reachable(cluster)?;
        self.views.get(cluster).ok_or_else(|| format!("no workload cluster `{cluster}`"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::workload::{NodeCondition, Taint};

    #[test]
    fn nodes_render_as_the_api_server_shows_them() {
        let mut n = Node {
            name: "c-md-0-x".into(),
            provider_id: Some("docker:////c-md-0-x".into()),
            labels: BTreeMap::from([("kubernetes.io/hostname".to_string(), "c-md-0-x".to_string())]),
            annotations: BTreeMap::new(),
            taints: vec![Taint { key: "node.cluster.x-k8s.io/uninitialized".into(), value: String::new(), effect: "NoSchedule".into() }],
            unschedulable: true,
            ready: Status::True,
            ready_reason: "KubeletReady".into(),
            ready_message: "kubelet is posting ready status".into(),
            ready_since_ms: 60_000,
            kubelet_version: "v1.34.3".into(),
            control_plane: false,
            registered_ms: 50_000,
            kubelet_down_since: None,
            cni_ready_at: None,
            extra_conditions: BTreeMap::new(),
        };
        n.extra_conditions.insert(
            "e2e.remediation.condition".into(),
            NodeCondition { status: Status::False, reason: "Test".into(), message: String::new(), since_ms: 70_000 },
        );
        let v = node_json(&n, Some("172.18.0.5"), 80_000);
        assert_eq!(v["spec"]["providerID"], "docker:////c-md-0-x");
        assert_eq!(v["spec"]["unschedulable"], true);
        assert_eq!(v["status"]["nodeInfo"]["kubeletVersion"], "v1.34.3");
        assert_eq!(v["status"]["addresses"][0], json!({"type": "InternalIP", "address": "172.18.0.5"}));
        let types: Vec<&str> = v["status"]["conditions"].as_array().unwrap().iter().map(|c| c["type"].as_str().unwrap()).collect();
        assert_eq!(types, ["Ready", "MemoryPressure", "DiskPressure", "PIDPressure", "e2e.remediation.condition"]);
        assert_eq!(v["status"]["conditions"][0]["lastTransitionTime"], timestamp(60_000));
    }
}

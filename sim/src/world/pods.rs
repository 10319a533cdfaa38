//! Workload Pods, PodDisruptionBudgets and the eviction subresource, as far as CAPI's drain sees
//! them (`core/reconcilers/machine/drain`): Pods bound to Nodes with labels, annotations (the
//! mirror-Pod annotation), a controller (`ReplicaSet` of a Deployment, `DaemonSet`, none), phase,
//! `emptyDir` volumes and a deletionTimestamp; PDBs with `minAvailable`/`maxUnavailable`; eviction
//! answering 429 while a PDB allows no disruption, with the API server's message
//! (`pkg/registry/core/pod/storage/eviction.go`).
//!
//! Where Pods come from: every worker Node registers with two Pods of a `workload` Deployment in
//! `default` (the simulator's stand-in for what runs on a worker); Pods applied to the workload cluster
//! (`kind: Pod` with `spec.nodeName`) and the replicas of applied Deployments (spread over Ready,
//! schedulable Nodes whose taints they tolerate, fewest Pods first, a replacement created when one is
//! evicted). Simplifications (docs/fidelity): DaemonSet Pods of the CNI and kube-proxy are not objects
//! (the drain skips them anyway) and applied DaemonSets create no Pods; a Deployment's Pods are named
//! `<name>-<node>-<n>` without ReplicaSet hashes and are Running at once; a PDB's expected count is
//! the number of Pods it selects; Pods of a deleted Node go with it (no Pod garbage-collection delay).

use super::workload::{Status, WorkloadCluster};
use capi_scenarios::LabelSelector;
use serde_json::Value;
use std::collections::BTreeMap;

/// `kubernetes.io/config.mirror`: a static Pod's mirror.
pub const MIRROR_ANNOTATION: &str = "kubernetes.io/config.mirror";

/// A Pod.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pod {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// `spec.nodeName` (empty: not scheduled).
    pub node: String,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Annotations.
    pub annotations: BTreeMap<String, String>,
    /// Controller owner (kind, name).
    pub controller: Option<(String, String)>,
    /// `status.phase`.
    pub phase: String,
    /// Has an `emptyDir` volume.
    pub local_storage: bool,
    /// `metadata.deletionTimestamp`.
    pub deletion_ms: Option<u64>,
    /// When the kubelet will have removed it (after the grace period).
    pub gone_at: Option<u64>,
    /// The Deployment that owns its ReplicaSet (replaced when it goes).
    pub deployment: Option<String>,
    /// Tolerations (keys; `None` key = tolerates everything).
    pub tolerations: Vec<Option<String>>,
    /// `spec.nodeSelector`: labels a Node must carry to run it.
    pub node_selector: BTreeMap<String, String>,
    /// Creation time.
    pub created_ms: u64,
}

impl Pod {
    /// `namespace/name`, as `klog.KObj` prints it.
    pub fn kobj(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
    fn healthy(&self) -> bool {
        self.deletion_ms.is_none() && self.phase == "Running" && !self.node.is_empty()
    }
}

/// A PodDisruptionBudget.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pdb {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// `spec.selector`.
    pub selector: LabelSelector,
    /// `spec.minAvailable`.
    pub min_available: Option<Value>,
    /// `spec.maxUnavailable`.
    pub max_unavailable: Option<Value>,
}

/// An int-or-percent of `total` (percent rounded up, as the disruption controller does).
fn int_or_percent(v: &Value, total: i64) -> i64 {
    match v {
        Value::Number(n) => n.as_i64().unwrap_or(0),
        Value::String(s) => match s.strip_suffix('%').and_then(|p| p.parse::<i64>().ok()) {
            Some(p) => (p * total + 99) / 100,
            None => s.parse().unwrap_or(0),
        },
        _ => 0,
    }
}

/// Why an eviction was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EvictError {
    /// 404.
    NotFound,
    /// 429 with the Status message and causes joined as CAPI's drain joins them (`"%s %v"`).
    TooManyRequests(String),
    /// 500 (more than one PDB).
    Internal(String),
}

impl WorkloadCluster {
    /// Pods bound to a Node, by `namespace/name`.
    pub fn pods_on(&self, node: &str) -> Vec<&Pod> {
        self.pods.values().filter(|p| p.node == node).collect()
    }

    /// The PDBs selecting a Pod.
    fn pdbs_of(&self, pod: &Pod) -> Vec<&Pdb> {
        self.pdbs.values().filter(|b| b.namespace == pod.namespace && b.selector.matches_map(&pod.labels)).collect()
    }

    /// A PDB's status: (desiredHealthy, currentHealthy, disruptionsAllowed).
    pub fn pdb_status(&self, pdb: &Pdb) -> (i64, i64, i64) {
        let selected: Vec<&Pod> =
            self.pods.values().filter(|p| p.namespace == pdb.namespace && pdb.selector.matches_map(&p.labels)).collect();
        let expected = selected.len() as i64;
        let healthy = selected.iter().filter(|p| p.healthy()).count() as i64;
        let desired = match (&pdb.min_available, &pdb.max_unavailable) {
            (Some(v), _) => int_or_percent(v, expected),
            (None, Some(v)) => (expected - int_or_percent(v, expected)).max(0),
            (None, None) => expected,
        };
        (desired, healthy, (healthy - desired).max(0))
    }

    /// The eviction subresource: refuses while a PDB allows no disruption; else sets the
    /// deletionTimestamp (the kubelet removes the Pod after `grace_ms`). A Pod already deleting is
    /// accepted again without change.
    pub fn evict(&mut self, namespace: &str, name: &str, now: u64, grace_ms: u64) -> Result<bool, EvictError> {
        let key = (namespace.to_string(), name.to_string());
        let pod = self.pods.get(&key).ok_or(EvictError::NotFound)?;
        if pod.deletion_ms.is_some() {
            return Ok(false);
        }
        let pdbs = self.pdbs_of(pod);
        if pdbs.len() > 1 {
            return Err(EvictError::Internal(
                "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.".into(),
            ));
        }
        if let Some(pdb) = pdbs.first() {
            let (desired, current, allowed) = self.pdb_status(pdb);
            // A Pod that is not healthy does not count against the budget (IfHealthyBudget).
            if allowed == 0 && pod.healthy() {
                return Err(EvictError::TooManyRequests(format!(
                    "Cannot evict pod as it would violate the pod's disruption budget. The disruption budget {} needs {desired} healthy pods and has {current} currently",
                    pdb.name
                )));
            }
        }
        if let Some(p) = self.pods.get_mut(&key) {
            p.deletion_ms = Some(now);
            p.gone_at = Some(now + grace_ms);
        }
        Ok(true)
    }

    /// Remove the Pods whose termination finished by `now` (replacing a Deployment's); returns
    /// whether anything changed and the next time something will.
    pub fn reap_pods(&mut self, now: u64) -> (bool, Option<u64>) {
        let done: Vec<(String, String)> =
            self.pods.iter().filter(|(_, p)| p.gone_at.is_some_and(|t| t <= now)).map(|(k, _)| k.clone()).collect();
        let changed = !done.is_empty();
        for k in done {
            if let Some(p) = self.pods.remove(&k) {
                if let Some(d) = p.deployment.clone() {
                    self.schedule_replica(&d, &p, now);
                }
            }
        }
        let next = self.pods.values().filter_map(|p| p.gone_at).min();
        (changed, next)
    }

    /// A Node the scheduler would pick for a Pod: Ready, schedulable, its `nodeSelector` matched,
    /// `NoSchedule`/`NoExecute` taints tolerated; then the fewest untolerated `PreferNoSchedule`
    /// taints (kube-scheduler's TaintToleration score: what steers Pods away from Nodes CAPI marks
    /// `node.cluster.x-k8s.io/outdated-revision`), then the fewest Pods.
    fn pick_node(&self, pod: &Pod) -> Option<String> {
        let tolerates = |key: &str| pod.tolerations.iter().any(|t| t.as_deref().is_none_or(|k| k == key));
        self.nodes
            .values()
            .filter(|n| n.ready == Status::True && !n.unschedulable)
            .filter(|n| pod.node_selector.iter().all(|(k, v)| n.labels.get(k) == Some(v)))
            .filter(|n| n.taints.iter().filter(|t| t.effect != "PreferNoSchedule").all(|t| tolerates(&t.key)))
            .min_by_key(|n| {
                let preferred_not = n.taints.iter().filter(|t| t.effect == "PreferNoSchedule" && !tolerates(&t.key)).count();
                (preferred_not, self.pods.values().filter(|p| p.node == n.name).count(), n.name.clone())
            })
            .map(|n| n.name.clone())
    }

    fn schedule_replica(&mut self, deployment: &str, template: &Pod, now: u64) {
        let node = self.pick_node(template).unwrap_or_default();
        let mut i = 0;
        let name = loop {
            let candidate = format!("{deployment}-{}-{i}", if node.is_empty() { "pending" } else { &node });
            if !self.pods.contains_key(&(template.namespace.clone(), candidate.clone())) {
                break candidate;
            }
            i += 1;
        };
        let pod = Pod {
            name: name.clone(),
            node,
            deletion_ms: None,
            gone_at: None,
            phase: "Running".into(),
            created_ms: now,
            ..template.clone()
        };
        self.pods.insert((template.namespace.clone(), name), pod);
    }

    /// Bind Pods still pending (no Node fitted when they were created) to a Node now; whether any moved.
    pub fn schedule_pending(&mut self, now: u64) -> bool {
        let pending: Vec<(String, String)> =
            self.pods.iter().filter(|(_, p)| p.node.is_empty() && p.deployment.is_some()).map(|(k, _)| k.clone()).collect();
        let mut moved = false;
        for k in pending {
            let Some(p) = self.pods.get(&k) else { continue };
            if self.pick_node(p).is_none() {
                continue;
            }
            let Some(p) = self.pods.remove(&k) else { continue };
            let d = p.deployment.clone().unwrap_or_default();
            self.schedule_replica(&d, &p, now);
            moved = true;
        }
        moved
    }

    /// The stand-in workload of a worker Node: two Pods of the `default/workload` Deployment.
    pub fn add_default_pods(&mut self, node: &str, now: u64) {
        for i in 0..2 {
            let name = format!("workload-{node}-{i}");
            let mut labels = BTreeMap::new();
            labels.insert("app".to_string(), "workload".to_string());
            self.pods.insert(
                ("default".into(), name.clone()),
                Pod {
                    namespace: "default".into(),
                    name,
                    node: node.to_string(),
                    labels,
                    annotations: BTreeMap::new(),
                    controller: Some(("ReplicaSet".into(), "workload".into())),
                    phase: "Running".into(),
                    local_storage: false,
                    deletion_ms: None,
                    gone_at: None,
                    deployment: None,
                    tolerations: Vec::new(),
                    node_selector: BTreeMap::new(),
                    created_ms: now,
                },
            );
        }
    }

    /// A Node is gone: its Pods go with it (the Pod GC), Deployment Pods are replaced.
    pub fn drop_pods_of(&mut self, node: &str, now: u64) {
        let keys: Vec<(String, String)> = self.pods.iter().filter(|(_, p)| p.node == node).map(|(k, _)| k.clone()).collect();
        for k in keys {
            if let Some(p) = self.pods.remove(&k) {
                if let Some(d) = &p.deployment {
                    if p.deletion_ms.is_none() {
                        self.schedule_replica(d, &p, now);
                    }
                }
            }
        }
    }

    /// Apply a Pod, a Deployment or a PodDisruptionBudget (other kinds: nothing here).
    pub fn apply_workload_object(&mut self, obj: &Value, now: u64) {
        let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
        let ns = obj.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("default").to_string();
        let name = obj.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("").to_string();
        let map = |p: &str| -> BTreeMap<String, String> {
            obj.pointer(p)
                .and_then(Value::as_object)
                .map(|m| m.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string()))).collect())
                .unwrap_or_default()
        };
        let tolerations = |spec: Option<&Value>| -> Vec<Option<String>> {
            spec.and_then(|s| s.get("tolerations"))
                .and_then(Value::as_array)
                .map(|a| a.iter().map(|t| t.get("key").and_then(Value::as_str).map(str::to_string)).collect())
                .unwrap_or_default()
        };
        let local = |spec: Option<&Value>| {
            spec.and_then(|s| s.get("volumes")).and_then(Value::as_array).is_some_and(|v| v.iter().any(|v| v.get("emptyDir").is_some()))
        };
        match kind {
            "Pod" => {
                let controller = obj.pointer("/metadata/ownerReferences").and_then(Value::as_array).and_then(|refs| {
                    refs.iter()
                        .find(|r| r.get("controller").and_then(Value::as_bool) == Some(true))
                        .map(|r| (r["kind"].as_str().unwrap_or("").to_string(), r["name"].as_str().unwrap_or("").to_string()))
                });
                let pod = Pod {
                    namespace: ns.clone(),
                    name: name.clone(),
                    node: obj.pointer("/spec/nodeName").and_then(Value::as_str).unwrap_or("").to_string(),
                    labels: map("/metadata/labels"),
                    annotations: map("/metadata/annotations"),
                    controller,
                    phase: obj.pointer("/status/phase").and_then(Value::as_str).unwrap_or("Running").to_string(),
                    local_storage: local(obj.get("spec")),
                    deletion_ms: None,
                    gone_at: None,
                    deployment: None,
                    tolerations: tolerations(obj.get("spec")),
                    node_selector: map("/spec/nodeSelector"),
                    created_ms: now,
                };
                self.pods.insert((ns, name), pod);
            }
            "Deployment" => {
                let replicas = obj.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1).max(0) as usize;
                let have = self.pods.values().filter(|p| p.namespace == ns && p.deployment.as_deref() == Some(&name)).count();
                let spec = obj.pointer("/spec/template/spec");
                let template = Pod {
                    namespace: ns.clone(),
                    name: String::new(),
                    node: String::new(),
                    labels: map("/spec/template/metadata/labels"),
                    annotations: map("/spec/template/metadata/annotations"),
                    controller: Some(("ReplicaSet".into(), name.clone())),
                    phase: "Running".into(),
                    local_storage: local(spec),
                    deletion_ms: None,
                    gone_at: None,
                    deployment: Some(name.clone()),
                    tolerations: tolerations(spec),
                    node_selector: map("/spec/template/spec/nodeSelector"),
                    created_ms: now,
                };
                for _ in have..replicas {
                    self.schedule_replica(&name, &template, now);
                }
            }
            "PodDisruptionBudget" => {
                let selector: LabelSelector =
                    obj.pointer("/spec/selector").and_then(|s| serde_json::from_value(s.clone()).ok()).unwrap_or_default();
                let pdb = Pdb {
                    namespace: ns.clone(),
                    name: name.clone(),
                    selector,
                    min_available: obj.pointer("/spec/minAvailable").cloned(),
                    max_unavailable: obj.pointer("/spec/maxUnavailable").cloned(),
                };
                self.pdbs.insert((ns, name), pdb);
            }
            _ => {}
        }
    }

    /// Delete a Pod, Deployment or PDB applied before (a `delete` of a workload object).
    pub fn delete_workload_object(&mut self, kind: &str, namespace: &str, name: &str) -> bool {
        match kind {
            "Pod" => self.pods.remove(&(namespace.to_string(), name.to_string())).is_some(),
            "Deployment" => {
                let before = self.pods.len();
                self.pods.retain(|_, p| !(p.namespace == namespace && p.deployment.as_deref() == Some(name)));
                before != self.pods.len()
            }
            "PodDisruptionBudget" => self.pdbs.remove(&(namespace.to_string(), name.to_string())).is_some(),
            _ => false,
        }
    }
}

//! The Machine controller as upstream's tests pin it: conditions and their exact messages
//! (`core/reconcilers/machine/machine_controller_status_test.go`), events, drain
//! (`core/reconcilers/machine/drain/drain_test.go`, `machine_controller_test.go`) and the
//! remote-connection grace period.

use super::{assert_passed, scenario_with};
use capi_scenarios::model::Propagation;
use capi_sim::backend::SimBackend;
use capi_sim::backend::SimOptions;
use capi_sim::engine::Sim;
use capi_sim::kinds::Kind;
use capi_sim::object::Object;
use capi_sim::testing::{apply_yaml, get, run_for};
use serde_json::{json, Value};
use std::sync::Arc;

/// A condition of an object: (status, reason, message).
pub fn cond(o: &Object, t: &str) -> Option<(String, String, String)> {
    let list = o.at("/status/conditions")?.as_array()?;
    let c = list.iter().find(|c| c["type"] == t)?;
    let s = |k: &str| c[k].as_str().unwrap_or("").to_string();
    Some((s("status"), s("reason"), s("message")))
}

/// `(status, reason, message)` as string slices, for comparisons.
pub fn csrm<'a>(s: &'a str, r: &'a str, m: &'a str) -> Option<(String, String, String)> {
    Some((s.to_string(), r.to_string(), m.to_string()))
}

/// Events about an object, oldest first: (type, reason, message).
pub fn events_about(sim: &Sim, kind: &str, name: &str) -> Vec<(String, String, String)> {
    let mut out: Vec<(String, String, String, String)> = sim.mgmt[0]
        .api
        .store
        .objects()
        .of_kind(Kind::Event, None)
        .map(|o| o.to_json())
        .filter(|e| e["involvedObject"]["kind"] == kind && e["involvedObject"]["name"] == name)
        .map(|e| {
            let s = |k: &str| e[k].as_str().unwrap_or("").to_string();
            (s("firstTimestamp"), s("type"), s("reason"), s("message"))
        })
        .collect();
    out.sort();
    out.into_iter().map(|(_, t, r, m)| (t, r, m)).collect()
}

/// A development-flavor Cluster `name` (1 control-plane Machine, `workers` workers, kindnet) up and
/// Available; the simulation goes on from there.
pub fn up(name: &str, workers: u32) -> SimBackend {
    up_with(name, workers, "", SimOptions::default())
}

/// A Cluster `name` without a topology (KubeadmControlPlane with 1 Machine, MachineDeployment
/// `<name>-md-0` with 2), up and Available: its MachineDeployment is patched directly.
pub fn up_plain(name: &str, options: SimOptions) -> SimBackend {
    up_scenario(
        name,
        r#"CONTROL_PLANE_MACHINE_COUNT: "1", WORKER_MACHINE_COUNT: "2""#,
        "  - apply: { file: ../../fixtures/cni/crs-kindnet.yaml }\n  - apply: { file: ../../fixtures/manifests/development-kcp-md.yaml }\n",
        options,
    )
}

/// [`up`] with more scenario variables (`, KEY: "value"`: feature gates) and backend options.
pub fn up_with(name: &str, workers: u32, extra_vars: &str, options: SimOptions) -> SimBackend {
    up_scenario(
        name,
        &format!(r#"CLUSTER_TOPOLOGY: "true", CONTROL_PLANE_MACHINE_COUNT: "1", WORKER_MACHINE_COUNT: "{workers}"{extra_vars}"#),
        &format!(
            "  - apply: {{ flavor: development }}\n  - apply: {{ file: ../../fixtures/cni/crs-kindnet.yaml }}\n  \
             - patch: {{ target: Cluster/{name}, type: merge, patch: {{ metadata: {{ labels: {{ cni: kindnet }} }} }} }}\n"
        ),
        options,
    )
}

/// Run `steps` for Cluster `name` (Kubernetes v1.34.3, with `vars`) and wait until it is Available.
fn up_scenario(name: &str, vars: &str, steps: &str, options: SimOptions) -> SimBackend {
    let yaml = format!(
        "name: up\nvars: {{ CLUSTER_NAME: {name}, KUBERNETES_VERSION: v1.34.3, {vars} }}\nsteps:\n{steps}  - wait:\n      \
         for: {{ condition: {{ target: Cluster/{name}, type: Available, status: \"True\" }} }}\n      timeout: 15m\n"
    );
    let (report, backend) = scenario_with(&yaml, options);
    assert_passed(&report);
    backend
}

/// Worker Machines of a Cluster, by name.
pub fn workers(sim: &Sim, cluster: &str) -> Vec<Arc<Object>> {
    let mut v: Vec<Arc<Object>> = sim.mgmt[0]
        .api
        .store
        .objects()
        .of_kind(Kind::Machine, None)
        .filter(|m| m.label("cluster.x-k8s.io/cluster-name") == Some(cluster) && m.label("cluster.x-k8s.io/control-plane").is_none())
        .cloned()
        .collect();
    v.sort_by(|a, b| a.name().cmp(b.name()));
    v
}

/// Run until `check` holds (at most `ms`); whether it did.
pub fn run_until(sim: &mut Sim, ms: u64, mut check: impl FnMut(&Sim) -> bool) -> bool {
    let deadline = sim.now() + ms;
    sim.run_while_not(deadline, |s| check(s))
}

/// Apply objects to a workload cluster as a user would (`kubectl apply` through its kubeconfig).
pub fn workload_apply(sim: &mut Sim, cluster: &str, objects: Vec<Value>) {
    let now = sim.now();
    sim.world.apply_to_workload(cluster, objects, now).expect("workload answers");
    sim.after_world_pub();
}

fn delete(sim: &mut Sim, m: &Object) {
    sim.delete(0, &m.key(), Propagation::Background).expect("deleted");
}

fn live(sim: &Sim, m: &Object) -> Option<Arc<Object>> {
    get(sim, Kind::Machine, m.namespace(), m.name())
}

/// A standalone Machine in a Cluster whose infrastructure never comes: its bootstrap and
/// infrastructure objects do not exist.
const STANDALONE: &str = r#"
apiVersion: cluster.x-k8s.io/v1beta2
kind: Cluster
metadata: {name: c1, namespace: default}
spec:
  infrastructureRef: {apiGroup: infrastructure.cluster.x-k8s.io, kind: DockerCluster, name: missing}
---
apiVersion: cluster.x-k8s.io/v1beta2
kind: Machine
metadata: {name: m1, namespace: default}
spec:
  clusterName: c1
  bootstrap:
    configRef: {apiGroup: bootstrap.cluster.x-k8s.io, kind: KubeadmConfig, name: m1}
  infrastructureRef: {apiGroup: infrastructure.cluster.x-k8s.io, kind: DockerMachine, name: m1}
"#;

fn standalone() -> (Sim, Arc<Object>) {
    let mut sim = capi_sim::testing::sim(1);
    apply_yaml(&mut sim, STANDALONE);
    run_for(&mut sim, 60_000);
    let m = get(&sim, Kind::Machine, "default", "m1").expect("machine");
    (sim, m)
}

/// `machine_controller_status_test.go: TestSetBootstrapReadyCondition` ("bootstrap config that
/// does not exist") and `TestSetInfrastructureReadyCondition` ("infra machine that does not exist").
#[test]
fn missing_bootstrap_and_infrastructure_objects_are_reported_by_kind() {
    let (_, m) = standalone();
    assert_eq!(cond(&m, "BootstrapConfigReady"), csrm("False", "ObjectDoesNotExist", "KubeadmConfig does not exist"));
    assert_eq!(cond(&m, "InfrastructureReady"), csrm("False", "ObjectDoesNotExist", "DockerMachine does not exist"));
}

/// `machine_controller_status_test.go: TestSetNodeHealthyAndReadyConditions` ("Cluster status.
/// initialization.infrastructureProvisioned is false").
#[test]
fn node_conditions_wait_for_the_cluster_infrastructure() {
    let (_, m) = standalone();
    let want = csrm("Unknown", "InspectionFailed", "Waiting for Cluster status.initialization.infrastructureProvisioned to be true");
    assert_eq!(cond(&m, "NodeReady"), want);
    assert_eq!(cond(&m, "NodeHealthy"), want);
}

/// `machine_controller_status_test.go: TestSetReadyCondition` (issues listed in the order of the
/// readiness gates, Deleting and Updating left out while False, HealthCheckSucceeded tolerated
/// when missing).
#[test]
fn ready_summarizes_in_upstream_order() {
    let (_, m) = standalone();
    assert_eq!(
        cond(&m, "Ready"),
        csrm(
            "False",
            "NotReady",
            "* BootstrapConfigReady: KubeadmConfig does not exist\n* InfrastructureReady: DockerMachine does not exist\n* NodeHealthy: Waiting for Cluster status.initialization.infrastructureProvisioned to be true"
        )
    );
}

/// `machine_controller_status_test.go: TestSetAvailableCondition` ("Ready condition false": no
/// message), `TestSetDeletingCondition` ("deletionTimestamp not set"), `TestSetUpdatingCondition`.
#[test]
fn available_deleting_and_updating_of_a_pending_machine() {
    let (_, m) = standalone();
    assert_eq!(cond(&m, "Available"), csrm("False", "NotReady", ""));
    assert_eq!(cond(&m, "Deleting"), csrm("False", "NotDeleting", ""));
    assert_eq!(cond(&m, "Updating"), csrm("False", "NotUpdating", ""));
}

/// `machine_controller_status_test.go: TestSetUpToDateCondition` ("machine without an owning
/// MachineSet or MachineDeployment": no UpToDate condition) and `TestSetMachinePhaseAndLastUpdated`
/// ("machine is pending", lastUpdated set).
#[test]
fn a_standalone_machine_has_no_up_to_date_condition_and_is_pending() {
    let (_, m) = standalone();
    assert_eq!(cond(&m, "UpToDate"), None);
    assert_eq!(m.str_at("/status/phase"), Some("Pending"));
    assert!(m.str_at("/status/lastUpdated").is_some());
}

/// `machine_controller_status_test.go: TestSetBootstrapReadyCondition` ("Use status.
/// BoostrapReady flag as a fallback Ready condition from bootstrap config is missing") and the
/// InfrastructureReady equivalent: objects that exist but report no Ready condition.
#[test]
fn objects_without_ready_fall_back_to_the_contract_fields() {
    let mut sim = capi_sim::testing::sim(1);
    apply_yaml(&mut sim, STANDALONE);
    // Objects CAPD and CABPK are not going to reconcile: no Cluster infrastructure.
    apply_yaml(
        &mut sim,
        r#"
apiVersion: bootstrap.cluster.x-k8s.io/v1beta2
kind: KubeadmConfig
metadata: {name: m1, namespace: default}
---
apiVersion: infrastructure.cluster.x-k8s.io/v1beta2
kind: DockerMachine
metadata: {name: m1, namespace: default}
spec: {}
"#,
    );
    run_for(&mut sim, 60_000);
    let m = get(&sim, Kind::Machine, "default", "m1").expect("machine");
    let b = cond(&m, "BootstrapConfigReady").expect("set");
    let i = cond(&m, "InfrastructureReady").expect("set");
    // Either mirrored from the provider's Ready, or the fallback with upstream's message.
    if b.1 == "NotReady" && b.2.starts_with("KubeadmConfig status") {
        assert_eq!(b.2, "KubeadmConfig status.initialization.dataSecretCreated is false");
    }
    if i.1 == "NotReady" && i.2.starts_with("DockerMachine status") {
        assert_eq!(i.2, "DockerMachine status.initialization.provisioned is false");
    }
    assert_eq!(b.0, "False", "{b:?}");
    assert_eq!(i.0, "False", "{i:?}");
}

/// `machine_controller_status_test.go: TestSetNodeHealthyAndReadyConditions` ("all conditions
/// true": NodeReady and NodeHealthy True without message), `TestSetReadyCondition` (all True →
/// Ready True, reason Ready, no message), `TestSetAvailableCondition` (minReadySeconds 0) and
/// `machine_controller_noderef_test.go: TestReconcileNode` (`SuccessfulSetNodeRef` with the Node name).
#[test]
fn a_running_worker_is_ready_available_and_recorded_its_node() {
    let backend = up("mr", 1);
    let sim = backend.sim().expect("sim");
    let m = workers(sim, "mr").pop().expect("a worker");
    assert_eq!(cond(&m, "NodeReady"), csrm("True", "NodeReady", ""));
    assert_eq!(cond(&m, "NodeHealthy"), csrm("True", "NodeHealthy", ""));
    assert_eq!(cond(&m, "Ready"), csrm("True", "Ready", ""));
    assert_eq!(cond(&m, "Available"), csrm("True", "Available", ""));
    assert_eq!(m.str_at("/status/phase"), Some("Running"));
    let node = m.str_at("/status/nodeRef/name").expect("nodeRef").to_string();
    let events = events_about(sim, "Machine", m.name());
    assert!(events.contains(&("Normal".into(), "SuccessfulSetNodeRef".into(), node)), "{events:?}");
}

/// `machine_controller_status_test.go: TestSetNodeHealthyAndReadyConditions` ("Node ready
/// unknown", "all conditions unknown": one `Node.AllConditions` line) with the kubelet stopped.
#[test]
fn a_stopped_kubelet_reports_all_conditions_unknown_once() {
    let mut backend = up("mk", 1);
    let sim = backend.sim_mut().expect("sim");
    let m = workers(sim, "mk").pop().expect("a worker");
    let node = m.str_at("/status/nodeRef/name").expect("nodeRef").to_string();
    let now = sim.now();
    assert!(sim.world.set_kubelet("mk", &node, false, now));
    sim.after_world_pub();
    assert!(run_until(sim, 5 * 60_000, |s| live(s, &m).and_then(|m| cond(&m, "NodeHealthy")).is_some_and(|c| c.0 == "Unknown")));
    let m = live(sim, &m).expect("machine");
    let stopped = "Kubelet stopped posting node status.";
    assert_eq!(cond(&m, "NodeReady"), csrm("Unknown", "NodeReadyUnknown", &format!("* Node.Ready: {stopped}")));
    assert_eq!(cond(&m, "NodeHealthy"), csrm("Unknown", "NodeHealthyUnknown", &format!("* Node.AllConditions: {stopped}")));
    assert_eq!(
        cond(&m, "Ready"),
        csrm("Unknown", "ReadyUnknown", &format!("* NodeHealthy: * Node.AllConditions: {stopped}").replace(": * ", ":\n  * "))
    );
}

/// `machine_controller_status_test.go: TestSetNodeHealthyAndReadyConditions` ("connection down,
/// preserve conditions as they have been set before", then "connection down, after the grace period
/// set conditions to Unknown" with `Last successful probe at ...`).
#[test]
fn a_short_outage_keeps_node_conditions_and_a_long_one_reports_connection_down() {
    let mut backend = up("mc", 2);
    let sim = backend.sim_mut().expect("sim");
    let ws = workers(sim, "mc");
    sim.world.partitioned.insert("mc".into());
    sim.world.notice_workload("mc");
    sim.after_world_pub();
    // Two minutes in: still the last known state, for every Machine.
    run_for(sim, 120_000);
    for m in &ws {
        let m = live(sim, m).expect("machine");
        assert_eq!(cond(&m, "NodeReady"), csrm("True", "NodeReady", ""), "{}", m.name());
        assert_eq!(cond(&m, "Ready").map(|c| c.0), Some("True".into()));
    }
    // After the 5m grace period: ConnectionDown with the last successful probe.
    run_for(sim, 4 * 60_000);
    for m in &ws {
        let m = live(sim, m).expect("machine");
        let (s, r, msg) = cond(&m, "NodeReady").expect("set");
        assert_eq!((s.as_str(), r.as_str()), ("Unknown", "ConnectionDown"));
        assert!(msg.starts_with("Last successful probe at ") && msg.ends_with('Z'), "{msg}");
        assert_eq!(cond(&m, "NodeHealthy").map(|c| c.1), Some("ConnectionDown".into()));
    }
    // Back: the Node's state again.
    sim.world.partitioned.remove("mc");
    sim.world.notice_workload("mc");
    sim.after_world_pub();
    assert!(run_until(sim, 120_000, |s| ws
        .iter()
        .all(|m| live(s, m).and_then(|m| cond(&m, "NodeReady")) == csrm("True", "NodeReady", ""))));
}

/// `machine_controller_test.go: TestReconcileDeleteExternal`-adjacent flow and `drainNode`: a
/// worker's deletion drains its Node (`SuccessfulDrainNode` with the node name quoted as `%q`),
/// waits for volumes (`NodeVolumesDetached`), and the Deleting condition ends `DeletionCompleted`.
#[test]
fn deleting_a_worker_drains_it_and_records_the_events() {
    let mut backend = up("md", 1);
    let sim = backend.sim_mut().expect("sim");
    let m = workers(sim, "md").pop().expect("a worker");
    let node = m.str_at("/status/nodeRef/name").expect("nodeRef").to_string();
    delete(sim, &m);
    let mut stages = Vec::new();
    assert!(run_until(sim, 10 * 60_000, |s| {
        match live(s, &m) {
            Some(o) => {
                if let Some((_, r, msg)) = cond(&o, "Deleting") {
                    if stages.last().map(|(x, _): &(String, String)| x != &r).unwrap_or(true) {
                        stages.push((r, msg));
                    }
                }
                false
            }
            None => true,
        }
    }));
    let reasons: Vec<&str> = stages.iter().map(|(r, _)| r.as_str()).collect();
    assert!(reasons.contains(&"DrainingNode"), "{stages:?}");
    assert!(reasons.contains(&"WaitingForInfrastructureDeletion"), "{stages:?}");
    let drain = &stages.iter().find(|(r, _)| r == "DrainingNode").expect("draining").1;
    assert!(drain.starts_with("Drain not completed yet (started at "), "{drain}");
    let infra = &stages.iter().find(|(r, _)| r == "WaitingForInfrastructureDeletion").expect("infra").1;
    assert_eq!(infra, "Waiting for DockerMachine to be deleted");
    let events = events_about(sim, "Machine", m.name());
    assert!(
        events.contains(&("Normal".into(), "SuccessfulDrainNode".into(), format!("success draining Machine's node {node:?}"))),
        "{events:?}"
    );
    assert!(
        events.contains(&(
            "Normal".into(),
            "NodeVolumesDetached".into(),
            format!("success waiting for node volumes detaching Machine's node {node:?}")
        )),
        "{events:?}"
    );
}

/// `drain/drain_test.go: TestEvictPods` ("EvictPods when a Pod eviction fails with 429 because of
/// a PDB") and `EvictionResult.ConditionMessage`: the Deleting message names the Pods blocked by the
/// budget, with the API server's text; deleting the budget lets the drain finish.
#[test]
fn a_pod_disruption_budget_blocks_the_drain_with_upstreams_message() {
    let mut backend = up("mp", 1);
    let sim = backend.sim_mut().expect("sim");
    let m = workers(sim, "mp").pop().expect("a worker");
    let node = m.str_at("/status/nodeRef/name").expect("nodeRef").to_string();
    workload_apply(
        sim,
        "mp",
        vec![json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "all", "namespace": "default"},
            "spec": {"selector": {"matchLabels": {"app": "workload"}}, "maxUnavailable": 0}})],
    );
    delete(sim, &m);
    let blocked = "cannot evict pod as it would violate the pod's disruption budget. The disruption budget all needs 2 healthy pods and has 2 currently";
    assert!(run_until(sim, 5 * 60_000, |s| live(s, &m).and_then(|o| cond(&o, "Deleting")).is_some_and(|c| c.2.contains(blocked))));
    let (_, reason, msg) = cond(&live(sim, &m).expect("machine"), "Deleting").expect("deleting");
    assert_eq!(reason, "DrainingNode");
    let lines: Vec<&str> = msg.lines().collect();
    assert!(lines[0].starts_with("Drain not completed yet (started at ") && lines[0].ends_with("):"), "{msg}");
    assert_eq!(lines[1], format!("* Pods default/workload-{node}-0, default/workload-{node}-1: {blocked}"));
    // The Ready summary shows the stage only.
    let ready = cond(&live(sim, &m).expect("machine"), "Ready").expect("ready");
    assert_eq!(ready, ("False".into(), "NotReady".into(), "* Deleting: Machine deletion in progress, stage: DrainingNode".into()));
    // Still blocked after a while; then the budget goes and so does the Machine.
    run_for(sim, 120_000);
    assert!(live(sim, &m).is_some());
    sim.world.delete_workload_object("mp", "PodDisruptionBudget", "default", "all").expect("deleted");
    sim.after_world_pub();
    assert!(run_until(sim, 10 * 60_000, |s| live(s, &m).is_none()));
}

/// `machine_controller_test.go: TestIsNodeDrainedAllowed` ("Node draining timeout is over"): after
/// `nodeDrainTimeoutSeconds` the drain is given up and deletion goes on despite the budget.
#[test]
fn the_drain_timeout_ends_a_blocked_drain() {
    let mut backend = up("mt", 1);
    let sim = backend.sim_mut().expect("sim");
    let m = workers(sim, "mt").pop().expect("a worker");
    workload_apply(
        sim,
        "mt",
        vec![json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "all", "namespace": "default"},
            "spec": {"selector": {"matchLabels": {"app": "workload"}}, "minAvailable": "100%"}})],
    );
    // The timeout comes down from the Cluster topology to the MachineDeployment, MachineSet and Machine.
    let cluster = get(sim, Kind::Cluster, "default", "mt").expect("cluster");
    let mut mds = cluster.at("/spec/topology/workers/machineDeployments").cloned().expect("topology");
    for md in mds.as_array_mut().expect("list") {
        md["deletion"] = json!({"nodeDrainTimeoutSeconds": 60});
    }
    let p = capi_sim::store::api::Patch::Merge(json!({"spec": {"topology": {"workers": {"machineDeployments": mds}}}}));
    sim.patch(0, &cluster.key(), &p, capi_sim::store::Subresource::Main).expect("patched");
    assert!(run_until(sim, 60_000, |s| live(s, &m).and_then(|o| o.i64_at("/spec/deletion/nodeDrainTimeoutSeconds")) == Some(60)));
    delete(sim, &m);
    run_for(sim, 50_000);
    assert!(live(sim, &m).is_some(), "still draining before the timeout");
    assert!(run_until(sim, 5 * 60_000, |s| live(s, &m).is_none()), "gone after the timeout");
    let events = events_about(sim, "Machine", m.name());
    assert!(!events.iter().any(|e| e.1 == "SuccessfulDrainNode"), "{events:?}");
}

/// `drain/drain_test.go: TestGetPodsForEviction` (MachineDrainRule with behavior `Skip`, and the
/// `cluster.x-k8s.io/drain: skip` Pod label) and `TestEvictPods` (drain order: the lowest order
/// first, `After above Pods have been removed from the Node, the following Pods will be evicted`).
#[test]
fn machine_drain_rules_skip_and_order_pods() {
    let mut backend = up("mo", 1);
    let sim = backend.sim_mut().expect("sim");
    let m = workers(sim, "mo").pop().expect("a worker");
    let node = m.str_at("/status/nodeRef/name").expect("nodeRef").to_string();
    let pod = |name: &str, labels: Value| {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default", "labels": labels,
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "controller": true, "uid": "x"}]},
            "spec": {"nodeName": node}})
    };
    workload_apply(
        sim,
        "mo",
        vec![
            pod("late", json!({"tier": "late"})),
            pod("skipped-by-label", json!({"cluster.x-k8s.io/drain": "skip"})),
            pod("skipped-by-rule", json!({"tier": "keep"})),
        ],
    );
    apply_yaml(
        sim,
        r#"
apiVersion: cluster.x-k8s.io/v1beta2
kind: MachineDrainRule
metadata: {name: keep, namespace: default}
spec:
  drain: {behavior: Skip}
  pods: [{selector: {matchLabels: {tier: keep}}}]
---
apiVersion: cluster.x-k8s.io/v1beta2
kind: MachineDrainRule
metadata: {name: late, namespace: default}
spec:
  drain: {behavior: Drain, order: 10}
  pods: [{selector: {matchLabels: {tier: late}}}]
"#,
    );
    run_for(sim, 5_000);
    delete(sim, &m);
    let mut first = String::new();
    assert!(run_until(sim, 5 * 60_000, |s| {
        let c = live(s, &m).and_then(|o| cond(&o, "Deleting"));
        if let Some((_, _, msg)) = c.filter(|c| c.1 == "DrainingNode" && c.2.contains('\n')) {
            first = msg;
            return true;
        }
        false
    }));
    assert!(
        first.ends_with(&format!(
            "\n* Pods default/workload-{node}-0, default/workload-{node}-1: deletionTimestamp set, but still not removed from the Node\nAfter above Pods have been removed from the Node, the following Pods will be evicted: default/late"
        )),
        "{first}"
    );
    assert!(!first.contains("skipped"), "{first}");
    // The later order goes once the first is gone; the skipped Pods are never evicted.
    assert!(run_until(sim, 5 * 60_000, |s| live(s, &m)
        .and_then(|o| cond(&o, "Deleting"))
        .is_some_and(|c| c.2.ends_with("\n* Pod default/late: deletionTimestamp set, but still not removed from the Node"))));
    let wl = &sim.world.workloads["mo"];
    for name in ["skipped-by-rule", "skipped-by-label"] {
        assert!(wl.pods[&("default".to_string(), name.to_string())].deletion_ms.is_none(), "{name} evicted");
    }
    assert!(run_until(sim, 10 * 60_000, |s| live(s, &m).is_none()), "drained and gone");
}

/// `drain/drain_test.go: TestEvictPods` ("WaitCompleted": Pods labelled `cluster.x-k8s.io/drain:
/// wait-completed` are not evicted; the drain waits for them).
#[test]
fn wait_completed_pods_are_waited_for_not_evicted() {
    let mut backend = up("mw", 1);
    let sim = backend.sim_mut().expect("sim");
    let m = workers(sim, "mw").pop().expect("a worker");
    let node = m.str_at("/status/nodeRef/name").expect("nodeRef").to_string();
    workload_apply(
        sim,
        "mw",
        vec![json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "job", "namespace": "default",
            "labels": {"cluster.x-k8s.io/drain": "wait-completed"}}, "spec": {"nodeName": node}})],
    );
    delete(sim, &m);
    assert!(run_until(sim, 5 * 60_000, |s| live(s, &m)
        .and_then(|o| cond(&o, "Deleting"))
        .is_some_and(|c| c.2.ends_with("\n* Pod default/job: waiting for completion") && !c.2.contains("workload-"))));
    run_for(sim, 120_000);
    assert!(live(sim, &m).is_some(), "waiting for the Pod to complete");
    assert!(sim.world.workloads["mw"].pods[&("default".to_string(), "job".to_string())].deletion_ms.is_none(), "never evicted");
}

/// `machine_controller_test.go: TestReconcileDeleteExternal` / pre-drain hooks: a
/// `pre-drain.delete.hook.machine.cluster.x-k8s.io/*` annotation holds the deletion with upstream's
/// message, hooks sorted and comma-joined.
#[test]
fn pre_drain_hooks_hold_the_deletion() {
    let mut backend = up("mh", 1);
    let sim = backend.sim_mut().expect("sim");
    let m = workers(sim, "mh").pop().expect("a worker");
    let p = capi_sim::store::api::Patch::Merge(json!({"metadata": {"annotations": {
        "pre-drain.delete.hook.machine.cluster.x-k8s.io/b": "", "pre-drain.delete.hook.machine.cluster.x-k8s.io/a": ""}}}));
    sim.patch(0, &m.key(), &p, capi_sim::store::Subresource::Main).expect("patched");
    run_for(sim, 5_000);
    delete(sim, &m);
    run_for(sim, 60_000);
    let o = live(sim, &m).expect("held");
    assert_eq!(
        cond(&o, "Deleting"),
        csrm(
            "True",
            "WaitingForPreDrainHook",
            "Waiting for pre-drain hooks to succeed (hooks: pre-drain.delete.hook.machine.cluster.x-k8s.io/a,pre-drain.delete.hook.machine.cluster.x-k8s.io/b)"
        )
    );
    assert_eq!(o.str_at("/status/phase"), Some("Deleting"));
    assert!(o.str_at("/status/deletion/waitForPreDrainHookStartTime").is_some());
    assert!(o.str_at("/status/deletion/nodeDrainStartTime").is_none(), "no drain before the hooks are gone");
}

/// `drain/drain_test.go: TestGetPodsForEviction` ("DaemonSet Pods are skipped", "orphaned
/// DaemonSet Pods are drained", "mirror Pods are skipped") and `filters_test.go`.
#[test]
fn daemon_set_and_mirror_pods_are_skipped_orphans_are_drained() {
    let mut backend = up("mds", 1);
    let sim = backend.sim_mut().expect("sim");
    let m = workers(sim, "mds").pop().expect("a worker");
    let node = m.str_at("/status/nodeRef/name").expect("nodeRef").to_string();
    let owned = |name: &str, ds: &str| {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default",
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "DaemonSet", "name": ds, "controller": true, "uid": "x"}]},
            "spec": {"nodeName": node}})
    };
    workload_apply(
        sim,
        "mds",
        vec![
            json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent", "namespace": "default"},
                "spec": {"selector": {"matchLabels": {"app": "agent"}}, "template": {"metadata": {"labels": {"app": "agent"}}, "spec": {}}}}),
            owned("agent-x", "agent"),
            owned("orphan-x", "gone"),
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "static-x", "namespace": "default",
                "annotations": {"kubernetes.io/config.mirror": "abc"}}, "spec": {"nodeName": node}}),
        ],
    );
    delete(sim, &m);
    let mut first = String::new();
    assert!(run_until(sim, 5 * 60_000, |s| {
        match live(s, &m).and_then(|o| cond(&o, "Deleting")).filter(|c| c.1 == "DrainingNode" && c.2.contains('\n')) {
            Some(c) => {
                first = c.2;
                true
            }
            None => false,
        }
    }));
    assert!(
        first.ends_with(&format!(
            "\n* Pods default/orphan-x, default/workload-{node}-0, default/workload-{node}-1: deletionTimestamp set, but still not removed from the Node"
        )),
        "{first}"
    );
    let pods = &sim.world.workloads["mds"].pods;
    for name in ["agent-x", "static-x"] {
        assert!(pods[&("default".to_string(), name.to_string())].deletion_ms.is_none(), "{name} evicted");
    }
}

/// `machine_controller.go: reconcileDelete` (`FailedDrainNode`, "Error draining Node, please check
/// controller logs for errors") with the workload cluster unreachable for longer than the
/// ClusterCache keeps the connection: `connection to the workload cluster is down`.
#[test]
fn a_drain_without_connection_fails_with_upstreams_event() {
    let mut backend = up("mf", 1);
    let sim = backend.sim_mut().expect("sim");
    let m = workers(sim, "mf").pop().expect("a worker");
    let node = m.str_at("/status/nodeRef/name").expect("nodeRef").to_string();
    sim.world.partitioned.insert("mf".into());
    sim.world.notice_workload("mf");
    sim.after_world_pub();
    run_for(sim, 70_000);
    delete(sim, &m);
    run_for(sim, 60_000);
    let o = live(sim, &m).expect("still there");
    assert_eq!(cond(&o, "Deleting"), csrm("True", "DrainingNode", "Error draining Node, please check controller logs for errors"));
    let events = events_about(sim, "Machine", m.name());
    assert!(
        events.contains(&(
            "Warning".into(),
            "FailedDrainNode".into(),
            format!("error draining Machine's node {node:?}: failed to drain Node {node}: connection to the workload cluster is down")
        )),
        "{events:?}"
    );
}

/// `machine_controller_status_test.go: TestSetNodeHealthyAndReadyConditions` ("machine with
/// status.nodeRef, node deleted": False `NodeDeleted` "Node ... has been deleted while the Machine
/// still exists") and `TestSetReadyCondition` (the NodeHealthy issue in the summary).
#[test]
fn a_node_deleted_under_a_running_machine_is_reported() {
    let mut backend = up("mn", 1);
    let sim = backend.sim_mut().expect("sim");
    let m = workers(sim, "mn").pop().expect("a worker");
    let node = m.str_at("/status/nodeRef/name").expect("nodeRef").to_string();
    assert!(sim.world.delete_workload_object("mn", "Node", "", &node).expect("answers"));
    sim.after_world_pub();
    let msg = format!("Node {node} has been deleted while the Machine still exists");
    assert!(run_until(sim, 60_000, |s| live(s, &m).and_then(|o| cond(&o, "NodeHealthy")) == csrm("False", "NodeDeleted", &msg)));
    let o = live(sim, &m).expect("machine");
    assert_eq!(cond(&o, "NodeReady"), csrm("False", "NodeDeleted", &msg));
    assert_eq!(cond(&o, "Ready"), csrm("False", "NotReady", &format!("* NodeHealthy: {msg}")));
    assert_eq!(cond(&o, "Available"), csrm("False", "NotReady", ""));
}

//! Events the controllers record, as upstream records them: each test names the `recorder.Eventf`
//! call sites it restates (upstream's unit tests use fake recorders and rarely assert on events).

use super::{assert_passed, scenario};
use capi_sim::kinds::Kind;
use serde_json::Value;

/// Events about one object, oldest first, as (type, reason, message, count).
fn events_about(backend: &capi_sim::backend::SimBackend, kind: &str, name: &str) -> Vec<(String, String, String, i64)> {
    let sim = backend.sim().expect("prepared");
    let mut out: Vec<(String, String, String, String, i64)> = sim.mgmt[0]
        .api
        .store
        .objects()
        .of_kind(Kind::Event, None)
        .map(|o| o.to_json())
        .filter(|e| e["involvedObject"]["kind"] == kind && e["involvedObject"]["name"] == name)
        .map(|e| {
            let s = |k: &str| e[k].as_str().unwrap_or("").to_string();
            (s("firstTimestamp"), s("type"), s("reason"), s("message"), e["count"].as_i64().unwrap_or(0))
        })
        .collect();
    out.sort();
    out.into_iter().map(|(_, t, r, m, c)| (t, r, m, c)).collect()
}

/// `core/reconcilers/cluster/cluster_controller_status.go: updateStatus` records `Cluster %s is %s`
/// with the new phase as reason whenever the phase changes; `cluster_controller_phases.go:
/// reconcileInfrastructure` and `reconcileControlPlane` record `InfrastructureReady` and
/// `ControlPlaneInitialized` once; `cluster_controller.go: reconcileDelete` records `Deleted`. All
/// are Normal events of the `cluster-controller` recorder about the Cluster.
#[test]
fn the_cluster_controller_records_phases_and_milestones() {
    let (report, backend) = scenario(
        r#"
name: cluster-events
vars: { CLUSTER_TOPOLOGY: "true", CLUSTER_NAME: ev, KUBERNETES_VERSION: v1.34.3, CONTROL_PLANE_MACHINE_COUNT: "1", WORKER_MACHINE_COUNT: "0" }
steps:
  - apply: { flavor: development }
  - wait: { for: { condition: { target: Cluster/ev, type: ControlPlaneInitialized, status: "True" } }, timeout: 15m }
"#,
    );
    assert_passed(&report);
    // The topology controller's `TopologyCreate`/`TopologyUpdate` events are about the Cluster too.
    let events: Vec<_> = events_about(&backend, "Cluster", "ev").into_iter().filter(|e| !e.1.starts_with("Topology")).collect();
    let reasons: Vec<&str> = events.iter().map(|e| e.1.as_str()).collect();
    for want in ["Provisioning", "InfrastructureReady", "Provisioned", "ControlPlaneInitialized"] {
        assert!(reasons.contains(&want), "no {want} event in {events:#?}");
    }
    for (type_, reason, message, count) in &events {
        assert_eq!(type_, "Normal");
        assert_eq!(*count, 1, "{reason} recorded once");
        match reason.as_str() {
            "InfrastructureReady" => assert_eq!(message, "Cluster ev InfrastructureProvisioned is now True"),
            "ControlPlaneInitialized" => assert_eq!(message, "Cluster ev ControlPlaneInitialized is now True"),
            phase => assert_eq!(message, &format!("Cluster ev is {phase}")),
        }
    }
    let sim = backend.sim().expect("prepared");
    let any = sim.mgmt[0]
        .api
        .store
        .objects()
        .of_kind(Kind::Event, None)
        .map(|o| o.to_json())
        .find(|e| e["involvedObject"]["kind"] == "Cluster" && !e["reason"].as_str().unwrap_or("").starts_with("Topology"))
        .expect("an event");
    assert_eq!(any["source"]["component"], "cluster-controller");
    assert_eq!(any["involvedObject"]["apiVersion"], "cluster.x-k8s.io/v1beta2");
    assert!(any["metadata"]["name"].as_str().is_some_and(|n| n.starts_with("ev.")), "{any}");
    assert_eq!(any["metadata"]["namespace"], Value::from("default"));
}

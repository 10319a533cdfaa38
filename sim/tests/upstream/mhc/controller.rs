//! The MachineHealthCheck controller end to end through scenarios, restated from
//! `TestMachineHealthCheck_Reconcile` (`machinehealthcheck_controller_test.go`) and the e2e
//! remediation specs (`test/e2e/md_remediations.go`).

use crate::{assert_passed, scenario};
use capi_sim::kinds::Kind;
use rstest::rstest;
use serde_json::Value;

/// A development cluster (1 control-plane Machine, 3 workers, kindnet) and an MHC over the workers
/// with `checks`/`remediation` as given, waiting until the MHC counts all three healthy; then `steps`.
fn mhc_scenario(name: &str, mhc_spec_extra: &str, steps: &str) -> (capi_scenarios::report::RunReport, capi_sim::backend::SimBackend) {
    let yaml = format!(
        r#"
name: {name}
seed: 1
vars: {{ CLUSTER_NAME: mhc, KUBERNETES_VERSION: v1.34.3, CONTROL_PLANE_MACHINE_COUNT: "1", WORKER_MACHINE_COUNT: "3" }}
steps:
  - apply: {{ file: ../../fixtures/cni/crs-kindnet.yaml }}
  - apply: {{ file: ../../fixtures/manifests/development-kcp-md.yaml }}
  - apply:
      manifest: |
        apiVersion: cluster.x-k8s.io/v1beta2
        kind: MachineHealthCheck
        metadata: {{ name: mhc-workers, namespace: default, labels: {{ cluster.x-k8s.io/cluster-name: wrong }} }}
        spec:
          clusterName: mhc
          selector:
            matchLabels: {{ cluster.x-k8s.io/deployment-name: mhc-md-0 }}
{mhc_spec_extra}
  - wait:
      for:
        all:
          - field: {{ target: MachineDeployment/mhc-md-0, path: status.availableReplicas, equals: 3 }}
          - field: {{ target: MachineHealthCheck/mhc-workers, path: status.currentHealthy, equals: 3 }}
      timeout: 15m
{steps}
"#
    );
    scenario(&yaml)
}

const NODE_CHECKS: &str = r#"          checks:
            nodeStartupTimeoutSeconds: 600
            unhealthyNodeConditions:
              - { type: Ready, status: Unknown, timeoutSeconds: 120 }
              - { type: Ready, status: "False", timeoutSeconds: 120 }
              - { type: e2e.remediation.condition, status: "False", timeoutSeconds: 10 }"#;

/// Mark the first `n` worker Nodes with `e2e.remediation.condition` False, as the e2e framework's
/// `PatchNodeCondition` does.
fn mark_nodes(n: usize) -> String {
    (0..n)
        .map(|i| {
            format!(
                r#"  - patch:
      target: {{ kind: Node, workload: mhc, name-prefix: mhc-md-0, pick: {pick} }}
      subresource: status
      patch: {{ status: {{ conditions: [ {{ type: e2e.remediation.condition, status: "False", reason: Injected }} ] }} }}
"#,
                pick = if i == 0 { "oldest" } else { "newest" }
            )
        })
        .collect()
}

fn store_objects(backend: &capi_sim::backend::SimBackend, kind: Kind) -> Vec<Value> {
    backend.sim().expect("prepared").mgmt[0].api.store.objects().of_kind(kind, None).map(|o| o.to_json()).collect()
}

fn events(backend: &capi_sim::backend::SimBackend, reason: &str) -> Vec<Value> {
    store_objects(backend, Kind::Event).into_iter().filter(|e| e["reason"] == reason).collect()
}

fn cond_of<'a>(o: &'a Value, t: &str) -> Option<&'a Value> {
    o["status"]["conditions"].as_array()?.iter().find(|c| c["type"] == t)
}

/// TestMachineHealthCheck_Reconcile, "it should ensure the correct cluster-name label when the label
/// has the wrong value", "it should ensure an owner reference is present when no existing ones exist"
/// and "it doesn't mark anything unhealthy when all Machines are healthy": status counts, sorted
/// targets, RemediationAllowed True, HealthCheckSucceeded True on every target.
#[test]
fn all_healthy_status_label_and_owner() {
    let (report, backend) = mhc_scenario("mhc-healthy", NODE_CHECKS, "");
    assert_passed(&report);
    let mhc = store_objects(&backend, Kind::MachineHealthCheck).pop().unwrap();
    assert_eq!(mhc["metadata"]["labels"]["cluster.x-k8s.io/cluster-name"], "mhc");
    let owner = &mhc["metadata"]["ownerReferences"][0];
    assert_eq!((owner["kind"].as_str(), owner["name"].as_str()), (Some("Cluster"), Some("mhc")));
    assert_eq!(mhc["status"]["expectedMachines"], 3);
    assert_eq!(mhc["status"]["currentHealthy"], 3);
    assert_eq!(mhc["status"]["remediationsAllowed"], 3);
    let targets: Vec<&str> = mhc["status"]["targets"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    let mut sorted = targets.clone();
    sorted.sort();
    assert_eq!((targets.len(), &targets), (3, &sorted));
    let c = cond_of(&mhc, "RemediationAllowed").unwrap();
    assert_eq!((c["status"].as_str(), c["reason"].as_str()), (Some("True"), Some("RemediationAllowed")));
    let workers: Vec<Value> = store_objects(&backend, Kind::Machine)
        .into_iter()
        .filter(|m| m["metadata"]["labels"]["cluster.x-k8s.io/deployment-name"] == "mhc-md-0")
        .collect();
    assert_eq!(workers.len(), 3);
    for m in &workers {
        let c = cond_of(m, "HealthCheckSucceeded").unwrap();
        assert_eq!((c["status"].as_str(), c["reason"].as_str()), (Some("True"), Some("HealthCheckSucceeded")), "{m}");
    }
    assert!(events(&backend, "MachineMarkedUnhealthy").is_empty());
}

/// TestMachineHealthCheck_Reconcile, "should react when a Node transitions to unhealthy" and "when in
/// a MachineSet, unhealthy machines should be deleted"; e2e `md_remediations.go` (a Node marked with
/// `e2e.remediation.condition` False): HealthCheckSucceeded False/UnhealthyNode with upstream's
/// message, OwnerRemediated False/WaitingForRemediation, a `MachineMarkedUnhealthy` event, and the
/// MachineSet replaces the Machine.
#[test]
fn node_condition_gets_the_machine_remediated() {
    let steps = format!(
        r#"{}  - wait:
      for: {{ condition: {{ target: {{ kind: Machine, cluster: mhc, match: any }}, type: OwnerRemediated, status: "False", reason: WaitingForRemediation }} }}
      timeout: 2m
  - expect:
      - condition: {{ target: {{ kind: Machine, cluster: mhc, match: any }}, type: HealthCheckSucceeded, status: "False", reason: UnhealthyNode }}
  - wait:
      for:
        all:
          - field: {{ target: MachineDeployment/mhc-md-0, path: status.availableReplicas, equals: 3 }}
          - field: {{ target: MachineHealthCheck/mhc-workers, path: status.currentHealthy, equals: 3 }}
      timeout: 15m
"#,
        mark_nodes(1)
    );
    let (report, backend) = mhc_scenario("mhc-node-condition", NODE_CHECKS, &steps);
    assert_passed(&report);
    let marked = events(&backend, "MachineMarkedUnhealthy");
    assert!(!marked.is_empty(), "no MachineMarkedUnhealthy event");
    let e = &marked[0];
    assert_eq!(e["type"], "Normal");
    assert_eq!(e["source"]["component"], "machinehealthcheck-controller");
    let machine = e["involvedObject"]["name"].as_str().unwrap();
    assert_eq!(e["message"], format!("Machine default/{machine} has been marked as unhealthy by default/mhc-workers"));
    // The remediated Machine is gone: replaced by its MachineSet.
    assert!(store_objects(&backend, Kind::Machine).iter().all(|m| m["metadata"]["name"] != machine));
}

/// TestMachineHealthCheck_Reconcile, "it marks unhealthy machines as unhealthy but not for remediation
/// when the unhealthy Machines exceed UnhealthyLessThanOrEqualTo": 2 of 3 unhealthy against 40% — the
/// exact message of the test, a Warning `RemediationRestricted` event, remediationsAllowed 0, and no
/// OwnerRemediated on the unhealthy Machines.
#[test]
fn short_circuit_on_unhealthy_less_than_or_equal_to() {
    let spec = format!("{NODE_CHECKS}\n          remediation:\n            triggerIf:\n              unhealthyLessThanOrEqualTo: 40%");
    let steps = format!(
        r#"{}  - wait:
      for: {{ condition: {{ target: MachineHealthCheck/mhc-workers, type: RemediationAllowed, status: "False", reason: TooManyUnhealthy }} }}
      timeout: 2m
  # The short-circuit does not requeue: the two Machines are judged again on the next event or resync.
  - wait:
      for: {{ count: {{ target: {{ kind: Machine, cluster: mhc, control-plane: false, where: {{ condition: {{ type: HealthCheckSucceeded, status: "False" }} }} }}, equals: 2 }} }}
      timeout: 15m
  - expect:
      - field: {{ target: MachineHealthCheck/mhc-workers, path: status.remediationsAllowed, equals: 0 }}
      - count: {{ target: {{ kind: Machine, cluster: mhc, control-plane: false }}, equals: 3 }}
      - not: {{ condition: {{ target: {{ kind: Machine, cluster: mhc, match: any }}, type: OwnerRemediated, status: "False" }} }}
"#,
        mark_nodes(2)
    );
    let (report, backend) = mhc_scenario("mhc-short-circuit", &spec, &steps);
    assert_passed(&report);
    let want = "Remediation is not allowed, the number of not started or unhealthy machines exceeds maxUnhealthy (total: 3, unhealthy: 2, maxUnhealthy: 40%)";
    let mhc = store_objects(&backend, Kind::MachineHealthCheck).pop().unwrap();
    assert_eq!(cond_of(&mhc, "RemediationAllowed").unwrap()["message"], want);
    let restricted = events(&backend, "RemediationRestricted");
    assert_eq!(restricted.len(), 1, "{restricted:#?}");
    assert_eq!((restricted[0]["type"].as_str(), restricted[0]["message"].as_str()), (Some("Warning"), Some(want)));
    assert!(events(&backend, "MachineMarkedUnhealthy").is_empty());
}

/// TestMachineHealthCheck_Reconcile, "it marks unhealthy machines as unhealthy but not for remediation
/// when the unhealthy Machines is not within UnhealthyInRange": 2 unhealthy of 3 against `[3-5]`.
#[test]
fn short_circuit_outside_unhealthy_in_range() {
    let spec = format!("{NODE_CHECKS}\n          remediation:\n            triggerIf:\n              unhealthyInRange: \"[3-5]\"");
    let steps = format!(
        r#"{}  - wait:
      for: {{ condition: {{ target: MachineHealthCheck/mhc-workers, type: RemediationAllowed, status: "False", reason: TooManyUnhealthy, message: "unhealthy: 2," }} }}
      timeout: 2m
"#,
        mark_nodes(2)
    );
    let (report, backend) = mhc_scenario("mhc-range-out", &spec, &steps);
    assert_passed(&report);
    let mhc = store_objects(&backend, Kind::MachineHealthCheck).pop().unwrap();
    assert_eq!(
        cond_of(&mhc, "RemediationAllowed").unwrap()["message"],
        "Remediation is not allowed, the number of not started or unhealthy machines does not fall within the range (total: 3, unhealthy: 2, unhealthyRange: [3-5])"
    );
}

/// TestMachineHealthCheck_Reconcile, "it marks unhealthy machines for remediation when number of
/// unhealthy machines is within unhealthyRange": 1 unhealthy in `[1-3]`, remediationsAllowed 3 - 1.
#[test]
fn remediation_within_unhealthy_in_range() {
    let spec = format!("{NODE_CHECKS}\n          remediation:\n            triggerIf:\n              unhealthyInRange: \"[1-3]\"");
    let steps = format!(
        r#"{}  - wait:
      for: {{ condition: {{ target: {{ kind: Machine, cluster: mhc, match: any }}, type: OwnerRemediated, status: "False" }} }}
      timeout: 2m
"#,
        mark_nodes(1)
    );
    let (report, backend) = mhc_scenario("mhc-range-in", &spec, &steps);
    assert_passed(&report);
    let mhc = store_objects(&backend, Kind::MachineHealthCheck).pop().unwrap();
    assert_eq!(mhc["status"]["remediationsAllowed"], 2, "{mhc}");
    assert_eq!(cond_of(&mhc, "RemediationAllowed").unwrap()["status"], "True");
}

/// TestMachineHealthCheck_Reconcile, "when a Machine's Node has gone away": deleting the Node in the
/// workload cluster gets the Machine HealthCheckSucceeded False/NodeDeleted at once.
#[test]
fn node_gone_away_in_the_workload_cluster() {
    let steps = r#"  - delete: { target: { kind: Node, workload: mhc, name-prefix: mhc-md-0, pick: oldest } }
  - wait:
      for:
        all:
          - condition: { target: { kind: Machine, cluster: mhc, match: any }, type: HealthCheckSucceeded, status: "False", reason: NodeDeleted, message: "Health check failed:\n  * Node mhc-md-0-" }
          - condition: { target: { kind: Machine, cluster: mhc, match: any }, type: HealthCheckSucceeded, status: "False", reason: NodeDeleted, message: " has been deleted" }
      timeout: 1m
"#;
    let (report, backend) = mhc_scenario("mhc-node-gone", NODE_CHECKS, steps);
    assert_passed(&report);
    assert_eq!(events(&backend, "MachineMarkedUnhealthy").len(), 1);
}

/// TestMachineHealthCheck_Reconcile, "should react when a Machine transitions to unhealthy": an
/// `unhealthyMachineConditions` entry on a condition set on the Machine.
#[test]
fn machine_condition_gets_the_machine_remediated() {
    let spec = r#"          checks:
            unhealthyMachineConditions:
              - { type: e2e.example, status: "False", timeoutSeconds: 60 }"#;
    let steps = r#"  - patch:
      target: { kind: Machine, cluster: mhc, control-plane: false, pick: oldest }
      subresource: status
      type: json
      patch: [ { op: add, path: /status/conditions/-, value: { type: e2e.example, status: "False", reason: Broken, message: "", lastTransitionTime: "2025-01-01T00:00:00Z" } } ]
  - wait:
      for: { condition: { target: { kind: Machine, cluster: mhc, match: any }, type: HealthCheckSucceeded, status: "False", reason: UnhealthyMachine, message: "Health check failed:\n  * Condition e2e.example on Machine is reporting status False with reason Broken for more than 1m0s" } }
      timeout: 3m
"#;
    let (report, backend) = mhc_scenario("mhc-machine-condition", spec, steps);
    assert_passed(&report);
    // The wait checks the exact message: the Machine is remediated (deleted) soon after, and with the
    // MHC's 15s rate-limit interval it may be gone by the time the run has settled.
    drop(backend);
}

/// TestGetTargetsFromMHC, "with machines having skip-remediation or paused annotation", and
/// TestMachineHealthCheck_Reconcile "when a machine is paused": such Machines are no targets.
#[rstest]
#[case::paused("cluster.x-k8s.io/paused")]
#[case::skip_remediation("cluster.x-k8s.io/skip-remediation")]
fn annotated_machines_are_not_targets(#[case] annotation: &str) {
    let steps = format!(
        r#"  - patch: {{ target: {{ kind: Machine, cluster: mhc, control-plane: false, pick: oldest }}, patch: {{ metadata: {{ annotations: {{ {annotation}: "" }} }} }} }}
  - wait:
      for: {{ field: {{ target: MachineHealthCheck/mhc-workers, path: status.expectedMachines, equals: 2 }} }}
      timeout: 1m
  - expect:
      - field: {{ target: MachineHealthCheck/mhc-workers, path: status.currentHealthy, equals: 2 }}
"#
    );
    let (report, _) = mhc_scenario("mhc-annotated", NODE_CHECKS, &steps);
    assert_passed(&report);
}

/// TestHealthCheckTargets "when the machine is manually marked for remediation", through the
/// controller: the remediate-machine annotation gets the Machine remediated by its MachineSet.
#[test]
fn remediate_machine_annotation_gets_the_machine_replaced() {
    let steps = r#"  - patch: { target: { kind: Machine, cluster: mhc, control-plane: false, pick: oldest }, patch: { metadata: { annotations: { cluster.x-k8s.io/remediate-machine: "" } } } }
  - wait:
      for: { condition: { target: { kind: Machine, cluster: mhc, match: any }, type: HealthCheckSucceeded, status: "False", reason: HasRemediateAnnotation } }
      timeout: 1m
  - wait:
      for: { field: { target: MachineHealthCheck/mhc-workers, path: status.currentHealthy, equals: 3 } }
      timeout: 15m
"#;
    let (report, backend) = mhc_scenario("mhc-annotation", NODE_CHECKS, steps);
    assert_passed(&report);
    assert!(store_objects(&backend, Kind::Machine)
        .iter()
        .all(|m| m["metadata"]["annotations"]["cluster.x-k8s.io/remediate-machine"].is_null()));
}

/// TestMachineHealthCheck_Reconcile, "when a Machine has no Node ref for longer than the
/// NodeStartupTimeoutSeconds": a worker whose `kubeadm join` keeps failing never gets a Node and is
/// marked NodeStartupTimeout with the timeout as Go prints it (`5m0s`, never `300s`).
#[test]
fn node_startup_timeout_through_the_controller() {
    let spec = r#"          checks:
            nodeStartupTimeoutSeconds: 300"#;
    let steps = r#"  - fault: { kind: kubeadm-join-fail, target: { cluster: mhc }, permanent: true }
  - scale: { target: MachineDeployment/mhc-md-0, replicas: 4 }
  - wait:
      for:
        condition:
          target: { kind: Machine, cluster: mhc, match: any }
          type: HealthCheckSucceeded
          status: "False"
          reason: NodeStartupTimeout
          message: "Health check failed:\n  * Node failed to report startup in 5m0s"
      timeout: 10m
"#;
    let (report, backend) = mhc_scenario("mhc-startup", spec, steps);
    assert_passed(&report);
    // The message is the whole of it.
    let marked = events(&backend, "MachineMarkedUnhealthy");
    assert!(!marked.is_empty());
}

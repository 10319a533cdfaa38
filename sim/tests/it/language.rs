//! The scenario language end to end on the simulator: JSONPath field paths, `where:` filters,
//! `pick: oldest|newest`, and targets inside workload clusters (read, patch, delete).

use capi_scenarios::runner::{self, RunOptions};
use capi_sim::backend::{SimBackend, SimOptions};

fn run(yaml: &str) -> capi_scenarios::report::RunReport {
    let path = crate::root().join("scenarios/library/language-inline.yaml");
    let opts = capi_scenarios::LoadOptions { fixtures_dir: Some(crate::root().join("fixtures")), ..Default::default() };
    let scenario = capi_scenarios::parse::load_text(yaml, &path, &opts).unwrap_or_else(|e| panic!("{e}"));
    let mut backend = SimBackend::new(SimOptions::default());
    pollster::block_on(runner::run(&mut backend, &scenario, &RunOptions::default()))
}

fn assert_passed(r: &capi_scenarios::report::RunReport) {
    let steps: Vec<String> = r.steps.iter().map(|s| format!("#{} line {} {:?}: {}", s.index, s.line, s.status, s.message)).collect();
    assert!(r.passed, "{}\n{:?}", steps.join("\n"), r.error);
}

const CLUSTER: &str = r#"
vars: { CLUSTER_TOPOLOGY: "true", CLUSTER_NAME: lang, KUBERNETES_VERSION: v1.34.3, CONTROL_PLANE_MACHINE_COUNT: "1", WORKER_MACHINE_COUNT: "2" }
steps:
  - apply: { flavor: development }
  - wait: { for: { condition: { target: Cluster/lang, type: ControlPlaneInitialized, status: "True" } }, timeout: 10m }
  - apply: { workload: lang, file: ../../fixtures/cni/kindnet.yaml }
  - wait: { for: { field: { target: { kind: MachineDeployment, cluster: lang }, path: status.availableReplicas, equals: 2 } }, timeout: 20m }
"#;

#[test]
fn json_paths_read_keys_with_dots_and_filter_lists() {
    let r = run(&format!(
        "{CLUSTER}{}",
        r#"
  - patch: { target: Cluster/lang, patch: { metadata: { annotations: { "cluster.x-k8s.io/paused": "" } } } }
  - wait: { for: { field: { target: Cluster/lang, path: "$.status.conditions[?@.type=='Paused'].status", equals: "True" } }, timeout: 1m }
  - expect:
      - field: { target: Cluster/lang, path: "$.metadata.annotations['cluster.x-k8s.io/paused']", equals: "" }
      - field: { target: Cluster/lang, path: "$.status.conditions[?@.type=='Paused'].status", equals: "True" }
      - field: { target: Cluster/lang, path: "$.metadata.labels['no.such/label']", exists: false }
      - field: { target: { kind: Machine, cluster: lang }, path: "$.status.conditions[?@.type=='Ready'].status", equals: "True" }
"#
    ));
    assert_passed(&r);
}

#[test]
fn where_filters_and_picks_by_creation() {
    let r = run(&format!(
        "{CLUSTER}{}",
        r#"
  # The newest worker goes; while it is being deleted, exactly one Machine has a deletionTimestamp.
  - delete: { target: { kind: Machine, cluster: lang, control-plane: false, pick: newest } }
  - wait: { for: { phase: { target: { kind: Machine, cluster: lang, where: { field: { path: metadata.deletionTimestamp, exists: true } } }, is: Deleting } }, timeout: 1m }
  - expect:
      - count: { target: { kind: Machine, cluster: lang, where: { field: { path: metadata.deletionTimestamp, exists: true } } }, equals: 1 }
      - count: { target: { kind: Machine, cluster: lang, where: { not: { field: { path: metadata.deletionTimestamp, exists: true } } } }, equals: 2 }
      - phase: { target: { kind: Machine, cluster: lang, control-plane: false, pick: newest }, is: Deleting }
      - phase: { target: { kind: Machine, cluster: lang, control-plane: false, pick: oldest }, is: Running }
      - condition: { target: { kind: Machine, cluster: lang, where: { condition: { type: Deleting, status: "True" } } }, type: Ready, status: "False" }
"#
    ));
    assert_passed(&r);
}

#[test]
fn workload_objects_can_be_read_patched_and_deleted() {
    let r = run(&format!(
        "{CLUSTER}{}",
        r#"
  - wait: { for: { condition: { target: { kind: Node, workload: lang }, type: Ready, status: "True" } }, timeout: 10m }
  - expect:
      - count: { target: { kind: Node, workload: lang }, equals: 3 }
      - count: { target: { kind: Pod, namespace: kube-system, workload: lang, selector: { tier: control-plane } }, equals: 4 }
      - field: { target: { kind: Node, workload: lang, pick: first }, path: "$.status.nodeInfo.kubeletVersion", equals: v1.34.3 }
      - field: { target: { kind: Node, workload: lang, pick: first }, path: spec.providerID, exists: true }
      - exists: { kind: DaemonSet, namespace: kube-system, name: kindnet, workload: lang }
  # A node problem detector (or a user) sets a condition through the status subresource.
  - patch:
      target: { kind: Node, workload: lang, control-plane: false, pick: first }
      subresource: status
      patch: { status: { conditions: [ { type: e2e.remediation.condition, status: "False", reason: Injected } ] } }
  - expect:
      - condition: { target: { kind: Node, workload: lang, control-plane: false, pick: first }, type: e2e.remediation.condition, status: "False", reason: Injected }
      - condition: { target: { kind: Node, workload: lang, control-plane: false, pick: first }, type: Ready, status: "True" }
  - patch: { target: { kind: Node, workload: lang, control-plane: false, pick: first }, patch: { metadata: { labels: { team: a } } } }
  - expect: { count: { target: { kind: Node, workload: lang, selector: { team: a } }, equals: 1 } }
  - delete: { target: { kind: DaemonSet, namespace: kube-system, name: kindnet, workload: lang } }
  - expect: { gone: { kind: DaemonSet, namespace: kube-system, name: kindnet, workload: lang } }
"#
    ));
    assert_passed(&r);
}

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

#[test]
fn checks_report_every_failure_and_let_the_run_go_on() {
    let r = run(&format!(
        "{CLUSTER}{}",
        r#"
  - check:
      - count: { target: { kind: Machine, cluster: lang }, equals: 99 }
      - phase: { target: Cluster/lang, is: Provisioned }
      - condition: { target: Cluster/lang, type: NoSuchCondition, status: "True" }
  - expect: { exists: Cluster/lang }
"#
    ));
    assert!(!r.passed, "a failed check fails the run");
    let check = r.steps.iter().find(|s| s.kind == "check").unwrap();
    assert!(!check.passed);
    let lines: Vec<&str> = check.message.lines().collect();
    assert_eq!(lines.len(), 2, "{}", check.message);
    assert!(lines[0].starts_with("check 1 of 3: ") && lines[1].starts_with("check 3 of 3: "), "{}", check.message);
    let last = r.steps.last().unwrap();
    assert!(last.passed, "the step after a failed check still runs: {last:?}");
}

#[test]
fn never_fails_at_the_first_moment_its_predicate_holds() {
    let r = run(&format!(
        "{CLUSTER}{}",
        r#"
  - never: { for: { count: { target: { kind: Machine, cluster: lang }, at-least: 4 } }, within: 2m }
  - scale: { target: Cluster/lang, machine-deployment: md-0, replicas: 3 }
  - never: { for: { count: { target: { kind: Machine, cluster: lang }, at-least: 4 } }, within: 10m }
"#
    ));
    assert!(!r.passed);
    let nevers: Vec<_> = r.steps.iter().filter(|s| s.kind == "never").collect();
    assert!(nevers[0].passed, "{:?}", nevers[0]);
    assert!(!nevers[1].passed && nevers[1].message.starts_with("held after "), "{:?}", nevers[1]);
    assert!(nevers[1].took_ms < 600_000, "it fails when it first holds, not at the window's end");
}

#[test]
fn scenario_invariants_are_checked_after_every_change() {
    let r = run(&format!(
        "invariants:\n  - count: {{ target: {{ kind: Machine, cluster: lang }}, at-most: 3 }}\n  - not: {{ exists: ConfigMap/never-there }}\n{}{}",
        CLUSTER.trim_start(),
        r#"
  - scale: { target: Cluster/lang, machine-deployment: md-0, replicas: 3 }
  - wait: { for: { count: { target: { kind: Machine, cluster: lang }, equals: 4 } }, timeout: 5m }
"#
    ));
    assert!(!r.passed);
    assert_eq!(r.violations.len(), 1, "{:?}", r.violations);
    let v = &r.violations[0];
    assert_eq!(v.invariant, "scenario-invariant");
    assert!(v.message.starts_with("invariant #1 (line 2) does not hold: "), "{}", v.message);
}

#[test]
fn the_trace_says_what_each_write_changed() {
    let path = crate::root().join("scenarios/library/language-inline.yaml");
    let opts = capi_scenarios::LoadOptions { fixtures_dir: Some(crate::root().join("fixtures")), ..Default::default() };
    let scenario = capi_scenarios::parse::load_text(CLUSTER, &path, &opts).unwrap();
    let mut backend = SimBackend::new(SimOptions { trace: capi_sim::engine::trace::TraceMode::Full, ..Default::default() });
    let report = pollster::block_on(runner::run(&mut backend, &scenario, &RunOptions::default()));
    assert!(report.passed);
    let sim = backend.sim().unwrap();
    let lines: Vec<serde_json::Value> =
        (0..sim.trace.lines().len()).map(|i| serde_json::from_str(&sim.trace.json_line("s", i)).unwrap()).collect();
    let phase_change = lines
        .iter()
        .find(|l| {
            l["op"] == "MODIFIED"
                && l["kind"] == "Machine"
                && l["changed"].as_array().is_some_and(|c| c.iter().any(|p| p == "/status/phase"))
        })
        .expect("a Machine phase change with its changed paths");
    assert!(phase_change["rv"].as_u64().is_some() && phase_change["t_ms"].as_u64().is_some());
    assert!(lines.iter().any(|l| l["op"] == "event" && l["type"] == "Normal"), "events are in the trace with their type");
    // The structured fields are additive: the text column is still there.
    assert!(lines.iter().all(|l| l["what"].is_string()));
}

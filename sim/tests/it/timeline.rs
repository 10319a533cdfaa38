//! The timeline recorder: Node Ready and etcd membership per node and etcd health per cluster are
//! recorded from the world, so a quorum loss shows; and recording is a side channel that leaves the
//! trace hash as it is.

use crate::root;
use capi_scenarios::report::{RunReport, Span};
use capi_scenarios::runner::{self, RunOptions};
use capi_sim::backend::{SimBackend, SimOptions};
use capi_sim::engine::trace::TraceMode;

/// A development cluster (3 control-plane Machines, 2 workers) that becomes Ready, then loses two
/// control-plane containers at once: etcd is left with one healthy member of three.
fn run(timeline: bool) -> RunReport {
    let dir = std::env::temp_dir().join(format!("capi-timeline-{}-{timeline}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("quorum-loss.yaml");
    let fixtures = root().join("fixtures");
    let text = format!(
        r#"name: quorum-loss
seed: 1
vars: {{ CLUSTER_NAME: dev, KUBERNETES_VERSION: v1.34.3, CONTROL_PLANE_MACHINE_COUNT: "3", WORKER_MACHINE_COUNT: "2" }}
steps:
  - apply: {{ file: {fixtures}/cni/crs-kindnet.yaml }}
  - apply: {{ file: {fixtures}/manifests/development-kcp-md.yaml }}
  - wait:
      for: {{ field: {{ target: KubeadmControlPlane/dev-control-plane, path: status.readyReplicas, equals: 3 }} }}
      timeout: 15m
  - fault: {{ kind: container-kill, target: {{ cluster: dev, control-plane: true, index: 0, count: 2 }} }}
  - sleep: 2m
"#,
        fixtures = fixtures.display()
    );
    std::fs::write(&file, text).expect("scenario");
    let scenario = capi_scenarios::load(&file, &Default::default()).unwrap_or_else(|e| panic!("{e}"));
    let mut backend = SimBackend::new(SimOptions { trace: TraceMode::Hash, timeline, ..Default::default() });
    let report = pollster::block_on(runner::run(&mut backend, &scenario, &RunOptions::default()));
    let _ = std::fs::remove_dir_all(&dir);
    report
}

fn phases(spans: &[Span]) -> Vec<&str> {
    spans.iter().map(|s| s.phase.as_str()).collect()
}

#[test]
fn nodes_and_etcd_are_recorded_and_a_quorum_loss_shows_without_changing_the_trace() {
    let with = run(true);
    let without = run(false);
    assert!(with.passed, "{:?}", with.steps.iter().find(|s| !s.passed));
    assert_eq!(with.trace_hash, without.trace_hash, "recording the timeline must not change the trace");
    assert!(without.timeline.is_none());
    let t = with.timeline.expect("a timeline");
    // Five nodes, each NotReady until the CNI runs, then Ready; three of them etcd members.
    assert_eq!(t.nodes.len(), 5, "{:?}", t.nodes.iter().map(|n| &n.node).collect::<Vec<_>>());
    for n in &t.nodes {
        assert_eq!(phases(&n.ready)[..2], ["False", "True"], "{}: {:?}", n.node, n.ready);
    }
    let members: Vec<_> = t.nodes.iter().filter(|n| !n.etcd.is_empty()).collect();
    assert_eq!(members.len(), 3);
    let killed: Vec<_> = members.iter().filter(|n| phases(&n.etcd).contains(&"unhealthy")).collect();
    assert_eq!(killed.len(), 2, "{members:?}");
    for n in &killed {
        // Killed: the member stops answering and the kubelet stops posting (Unknown after the grace period).
        assert_eq!(phases(&n.etcd), ["healthy", "unhealthy"], "{}", n.node);
        assert_eq!(n.ready.last().map(|s| s.phase.as_str()), Some("Unknown"), "{}: {:?}", n.node, n.ready);
    }
    // The cluster's etcd: grows to 3/3 as members join, then 1/3 (quorum lost) at the fault.
    assert_eq!(t.etcd.len(), 1);
    let health = phases(&t.etcd[0].spans);
    assert_eq!(health.first(), Some(&"1/1"));
    assert!(health.contains(&"3/3"), "{health:?}");
    assert_eq!(health.last(), Some(&"1/3"), "{health:?}");
    let fault = t.marks.iter().find(|m| m.kind == "fault").expect("the fault is marked");
    assert_eq!(t.etcd[0].spans.last().map(|s| s.start_ms), Some(fault.at_ms), "quorum is lost when the containers die");
    // Each Machine row names its node, and every node belongs to one.
    for n in &t.nodes {
        assert!(t.rows.iter().any(|r| r.node.as_deref() == Some(n.node.as_str())), "{} has no Machine", n.node);
    }
}

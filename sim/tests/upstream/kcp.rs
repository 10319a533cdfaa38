//! KubeadmControlPlane: `controlplane/kubeadm/{pkg,reconcilers/kubeadmcontrolplane}/*_test.go`.
//! Unit-level restatements drive KCP's own functions (`capi_sim::controllers::kcp::*`) over a
//! control-plane scope built here; scenario tests run the whole simulator.

use super::{assert_passed, scenario};
use capi_sim::controllers::conditions::{self, Cond, Status};
use capi_sim::controllers::kcp::health;
use capi_sim::controllers::kcp::preflight::{self, Preflight};
use capi_sim::controllers::kcp::remediation;
use capi_sim::controllers::kcp::scope::{cond, ControlPlane};
use capi_sim::controllers::kcp::workload::{NodeView, WorkloadView};
use capi_sim::kinds::Kind;
use capi_sim::object::Object;
use capi_sim::world::workload::Status as NodeStatus;
use capi_sim::world::{PodStatus, StaticPods};
use rstest::rstest;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The state of a Machine in a test control plane.
#[derive(Clone, Copy, Debug, PartialEq)]
enum M {
    /// Node, all component and etcd conditions True.
    Healthy,
    /// Node, `EtcdMemberHealthy` False.
    EtcdUnhealthy,
    /// Node, `APIServerPodHealthy` False.
    ApiUnhealthy,
    /// No Node yet, providerID set.
    Provisioning,
    /// Being deleted.
    Deleting,
}

fn machine(name: &str, s: M) -> Object {
    let mut m = Object::new(Kind::Machine, "default", name);
    m.set("/spec/version", json!("v1.34.3"));
    m.set("/spec/providerID", json!(format!("docker:////{name}")));
    m.set("/spec/infrastructureRef", json!({"apiGroup": "infrastructure.cluster.x-k8s.io", "kind": "DockerMachine", "name": name}));
    if s != M::Provisioning {
        m.set("/status/nodeRef/name", json!(name));
    }
    let all = [cond::API_SERVER, cond::CONTROLLER_MANAGER, cond::SCHEDULER, cond::ETCD_POD, cond::ETCD_MEMBER];
    conditions::set(&mut m, all.iter().map(|t| Cond::t(t, "Running")), 0);
    match s {
        M::EtcdUnhealthy => conditions::set(&mut m, [Cond::f(cond::ETCD_MEMBER, "NotHealthy", "x")], 0),
        M::ApiUnhealthy => conditions::set(&mut m, [Cond::f(cond::API_SERVER, "Failed", "All the containers have been terminated")], 0),
        M::Deleting => m.meta.deletion_ms = Some(1_000),
        _ => {}
    }
    m
}

/// A control plane of Machines `m1..`; `members`: the etcd member names (None: every Machine's).
fn control_plane(ms: &[M], members: Option<&[&str]>) -> ControlPlane {
    let mut kcp = Object::new(Kind::KubeadmControlPlane, "default", "cp");
    kcp.set("/spec/version", json!("v1.34.3"));
    kcp.set("/spec/replicas", json!(ms.len()));
    kcp.set("/status/initialization/controlPlaneInitialized", json!(true));
    conditions::set(&mut kcp, [Cond::t(cond::INITIALIZED, "Initialized"), Cond::t(cond::CERTIFICATES_AVAILABLE, "Available")], 0);
    let machines: Vec<Arc<Object>> = ms.iter().enumerate().map(|(i, s)| Arc::new(machine(&format!("m{}", i + 1), *s))).collect();
    let mut cp =
        ControlPlane::new(&kcp, Arc::new(Object::new(Kind::Cluster, "default", "c")), machines, BTreeMap::new(), BTreeMap::new(), None, 0);
    cp.etcd_members = Some(match members {
        Some(ns) => ns.iter().map(|s| s.to_string()).collect(),
        None => (1..=ms.len()).map(|i| format!("m{i}")).collect(),
    });
    cp
}

fn node(name: &str, pods: PodStatus, ready: NodeStatus) -> NodeView {
    NodeView {
        name: name.into(),
        control_plane_label: true,
        control_plane_taint: true,
        unreachable: false,
        ready,
        created_ms: 0,
        pods: Some(StaticPods {
            api_server: PodStatus::Running,
            controller_manager: PodStatus::Running,
            scheduler: PodStatus::Running,
            etcd: pods,
        }),
        provider_id: Some(format!("docker:////{name}")),
    }
}

/// A workload view: Nodes for `nodes`, etcd members `(name, answers)`, quorum as etcd would have it.
fn view(nodes: &[&str], members: &[(&str, bool)]) -> WorkloadView {
    let answering = members.iter().filter(|(_, a)| *a).count();
    let quorum = !members.is_empty() && answering > members.len() / 2;
    WorkloadView {
        initialized: true,
        nodes: nodes.iter().map(|n| (n.to_string(), node(n, PodStatus::Running, NodeStatus::True))).collect(),
        etcd: members.iter().map(|(n, a)| (n.to_string(), *a)).collect(),
        etcd_quorum: quorum,
        leader: members.iter().find(|(_, a)| *a).filter(|_| quorum).map(|(n, _)| n.to_string()),
        version: "v1.34.3".into(),
    }
}

fn get(o: &Object, t: &str) -> (Status, String, String) {
    let c = conditions::get(o, t).unwrap_or_else(|| panic!("no {t} condition"));
    (c.status, c.reason.to_string(), c.message.to_string())
}

/// Reconcile the health conditions of a fresh control plane of Machines (conditions reset) at 10 min.
fn inspect(ms: &[M], v: &WorkloadView) -> ControlPlane {
    let mut cp = control_plane(ms, None);
    for m in cp.machines.iter_mut() {
        conditions::remove(m, cond::ETCD_MEMBER);
    }
    health::reconcile(&mut cp, Ok(v), 600_000).expect("inspection");
    cp
}

/// `pkg/workload_cluster_conditions_test.go: TestUpdateManagedEtcdConditions` "healthy etcd members
/// should report true": every member listed, no alarms → `EtcdMemberHealthy` True `Healthy` on each
/// Machine and `EtcdClusterHealthy` True on the KCP.
#[test]
fn listed_members_are_healthy() {
    let cp = inspect(&[M::Healthy, M::Healthy], &view(&["m1", "m2"], &[("m1", true), ("m2", true)]));
    for m in &cp.machines {
        assert_eq!(get(m, cond::ETCD_MEMBER), (Status::True, "Healthy".into(), String::new()));
    }
    assert_eq!(get(&cp.kcp, cond::ETCD_CLUSTER_HEALTHY), (Status::True, "Healthy".into(), String::new()));
    assert_eq!(cp.etcd_members, Some(vec!["m1".to_string(), "m2".to_string()]));
}

/// `TestUpdateManagedEtcdConditions` "failure creating the etcd client should report unknown
/// condition": no etcd pod answers → every Machine Unknown `InspectionFailed` "Failed to connect to
/// etcd: <err>", aggregated on the KCP as `HealthUnknown` with the `* Machine` bullets.
#[test]
fn no_etcd_pod_answers_is_unknown() {
    let cp = inspect(&[M::Healthy], &view(&["m1"], &[("m1", false)]));
    let want = "Failed to connect to etcd: failed to get etcd status: context deadline exceeded";
    assert_eq!(get(&cp.machines[0], cond::ETCD_MEMBER), (Status::Unknown, "InspectionFailed".into(), want.into()));
    assert_eq!(
        get(&cp.kcp, cond::ETCD_CLUSTER_HEALTHY),
        (Status::Unknown, "HealthUnknown".into(), format!("* Machine m1:\n  * EtcdMemberHealthy: {want}"))
    );
    assert_eq!(cp.etcd_members, None);
}

/// `TestUpdateManagedEtcdConditions` "failure listing members should report false condition in
/// v1beta1, unknown in v1beta2": a pod answers but `MemberList` (linearizable) finds no quorum →
/// "Failed to get etcd members: <err>".
#[test]
fn member_list_without_quorum_is_unknown() {
    let cp = inspect(&[M::Healthy, M::Healthy, M::Healthy], &view(&["m1", "m2", "m3"], &[("m1", true), ("m2", false), ("m3", false)]));
    for m in &cp.machines {
        assert_eq!(
            get(m, cond::ETCD_MEMBER),
            (Status::Unknown, "InspectionFailed".into(), "Failed to get etcd members: context deadline exceeded".into())
        );
    }
}

/// `TestUpdateManagedEtcdConditions` "a machine without a member should report false condition":
/// the Machine whose Node has no member gets "Etcd doesn't have an etcd member for Node n2"
/// (`compareMachinesAndMembers` overrides the first message) and the KCP aggregates it.
#[test]
fn a_machine_without_a_member_is_not_healthy() {
    let cp = inspect(&[M::Healthy, M::Healthy], &view(&["m1", "m2"], &[("m1", true)]));
    assert_eq!(get(&cp.machines[0], cond::ETCD_MEMBER).0, Status::True);
    assert_eq!(
        get(&cp.machines[1], cond::ETCD_MEMBER),
        (Status::False, "NotHealthy".into(), "Etcd doesn't have an etcd member for Node m2".into())
    );
    assert_eq!(
        get(&cp.kcp, cond::ETCD_CLUSTER_HEALTHY),
        (Status::False, "NotHealthy".into(), "* Machine m2:\n  * EtcdMemberHealthy: Etcd doesn't have an etcd member for Node m2".into())
    );
}

/// `TestCompareMachinesAndMembers` / `TestUpdateManagedEtcdConditions` "etcd members without a name
/// when there are no provisioning machines should be reported": a member without a Machine is a
/// KCP-level error bullet, and the members no longer match the Machines.
#[test]
fn a_member_without_a_machine_is_a_kcp_error() {
    let cp = inspect(&[M::Healthy, M::Healthy], &view(&["m1", "m2"], &[("m1", true), ("m2", true), ("m3", true)]));
    assert_eq!(
        get(&cp.kcp, cond::ETCD_CLUSTER_HEALTHY),
        (Status::False, "NotHealthy".into(), "* Etcd member m3 does not have a corresponding Machine".into())
    );
    assert!(!cp.members_match);
}

/// `TestUpdateManagedEtcdConditions` "If there are provisioning machines, a node without machine
/// should be ignored in v1beta1, reported in v1beta2 (with providerID)" and the deleting branch:
/// provisioning Machines wait for their Node, deleting ones report `Deleting`.
#[test]
fn provisioning_and_deleting_machines() {
    let cp = inspect(&[M::Healthy, M::Provisioning, M::Deleting], &view(&["m1", "m3"], &[("m1", true), ("m3", true)]));
    assert_eq!(
        get(&cp.machines[1], cond::ETCD_MEMBER),
        (Status::Unknown, "InspectionFailed".into(), "Waiting for a Node with spec.providerID docker:////m2 to exist".into())
    );
    assert_eq!(get(&cp.machines[2], cond::ETCD_MEMBER), (Status::False, "Deleting".into(), "Machine is deleting".into()));
}

/// `TestUpdateManagedEtcdConditions`: a member whose pod is down but that etcd still lists (and that
/// has no alarm) stays `EtcdMemberHealthy` True: KCP connects through the first Node that answers
/// (`forFirstAvailableNode`, last known healthy first) and reads the list from there.
#[test]
fn a_listed_member_that_does_not_answer_is_still_listed_healthy() {
    let cp = inspect(&[M::Healthy, M::Healthy, M::Healthy], &view(&["m1", "m2", "m3"], &[("m1", false), ("m2", true), ("m3", true)]));
    for m in &cp.machines {
        assert_eq!(get(m, cond::ETCD_MEMBER).0, Status::True, "{}", m.name());
    }
    assert_eq!(cp.etcd_leader.as_deref(), Some("m2"));
}

/// `getNodeNamesSortedByLastKnownEtcdHealth` (exercised by `TestUpdateManagedEtcdConditions`):
/// Nodes of Machines whose member was last healthy come first.
#[test]
fn nodes_are_tried_last_known_healthy_first() {
    let cp = control_plane(&[M::EtcdUnhealthy, M::Healthy, M::EtcdUnhealthy], None);
    let v = view(&["m1", "m2", "m3"], &[("m1", true), ("m2", true), ("m3", true)]);
    let order = health::nodes_by_last_known_etcd_health(&cp, &["m1", "m2", "m3"], &v);
    assert_eq!(order, vec!["m2", "m1", "m3"]);
}

/// `TestUpdateStaticPodCondition`: "if node Ready is unknown, assume pod status is stale", "running
/// pod with ContainerStatus Waiting but with exit code != 0 should report PodCondition=False,
/// PodFailed" (an etcd whose data is lost crash-loops), "if gets pod return a NotFound error should
/// report PodCondition=False, PodMissing".
#[rstest]
#[case::node_ready_unknown(
    PodStatus::Running,
    NodeStatus::Unknown,
    Status::Unknown,
    "InspectionFailed",
    "Node Ready condition is Unknown, Pod data might be stale"
)]
#[case::crash_loop(PodStatus::CrashLoopBackOff, NodeStatus::True, Status::False, "Failed", "CrashLoopBackOff")]
#[case::missing(PodStatus::DoesNotExist, NodeStatus::True, Status::False, "DoesNotExist", "Pod does not exist")]
#[case::terminated(PodStatus::Failed, NodeStatus::True, Status::False, "Failed", "All the containers have been terminated")]
#[case::running(PodStatus::Running, NodeStatus::True, Status::True, "Running", "")]
fn etcd_pod_condition(
    #[case] pod: PodStatus,
    #[case] ready: NodeStatus,
    #[case] status: Status,
    #[case] reason: &str,
    #[case] message: &str,
) {
    let mut v = view(&["m1"], &[("m1", true)]);
    v.nodes.insert("m1".into(), node("m1", pod, ready));
    let cp = inspect(&[M::Healthy], &v);
    assert_eq!(get(&cp.machines[0], cond::ETCD_POD), (status, reason.to_string(), message.to_string()));
}

/// `reconcilers/kubeadmcontrolplane/remediation_test.go: TestTargetEtcdClusterHealthy` (each
/// `t.Run`): can the etcd cluster lose this member (or gain one, assumed unhealthy beyond two) and
/// keep quorum, counting members by their Machine's `EtcdMemberHealthy`.
#[rstest]
#[case::one_machine(&[M::Healthy], None, false, Some("m1"), false)]
#[case::two_machines_no_other_failure(&[M::Healthy, M::Healthy], None, false, Some("m1"), true)]
#[case::two_machines_remediated_member_missing(&[M::Healthy, M::Healthy], Some(&["m2"][..]), false, Some("m1"), true)]
#[case::two_machines_one_other_failure(&[M::Healthy, M::EtcdUnhealthy], None, false, Some("m1"), false)]
#[case::three_machines_no_other_failure(&[M::Healthy, M::Healthy, M::Healthy], None, false, Some("m1"), true)]
#[case::three_machines_remediated_member_missing(&[M::Healthy, M::Healthy, M::Healthy], Some(&["m2", "m3"][..]), false, Some("m1"), true)]
#[case::three_machines_one_other_failure(&[M::Healthy, M::EtcdUnhealthy, M::Healthy], None, false, Some("m1"), false)]
#[case::three_machines_other_member_missing(&[M::Healthy, M::EtcdUnhealthy, M::Healthy], Some(&["m1", "m3"][..]), false, Some("m1"), true)]
#[case::five_machines_one_other_failure(&[M::Healthy, M::EtcdUnhealthy, M::Healthy, M::Healthy, M::Healthy], None, false, Some("m1"), true)]
#[case::five_machines_two_other_failures(&[M::Healthy, M::EtcdUnhealthy, M::EtcdUnhealthy, M::Healthy, M::Healthy], None, false, Some("m1"), false)]
#[case::add_to_one(&[M::Healthy], None, true, None, true)]
#[case::add_to_two_with_one_failure(&[M::Healthy, M::EtcdUnhealthy], None, true, None, false)]
#[case::add_to_three(&[M::Healthy, M::Healthy, M::Healthy], None, true, None, true)]
fn target_etcd_cluster_healthy(
    #[case] ms: &[M],
    #[case] members: Option<&[&str]>,
    #[case] add: bool,
    #[case] remove: Option<&str>,
    #[case] want: bool,
) {
    let cp = control_plane(ms, members);
    assert_eq!(preflight::target_etcd_healthy(&cp, add, remove), want);
}

/// `remediation_test.go: TestTargetK8sControlPlaneHealthy`: at least one Machine must keep all its
/// control plane components (and the etcd pod) healthy; a new Machine counts only when it is the first.
#[rstest]
#[case::remove_the_only_healthy(&[M::Healthy, M::ApiUnhealthy], false, Some("m1"), false)]
#[case::remove_an_unhealthy(&[M::Healthy, M::ApiUnhealthy], false, Some("m2"), true)]
#[case::add_to_none(&[], true, None, true)]
#[case::add_to_unhealthy(&[M::ApiUnhealthy], true, None, false)]
fn target_components_healthy(#[case] ms: &[M], #[case] add: bool, #[case] remove: Option<&str>, #[case] want: bool) {
    let cp = control_plane(ms, None);
    assert_eq!(preflight::target_components_healthy(&cp, add, remove), want);
}

/// `remediation_test.go: TestTryGetEtcdMemberName`: "Return status.NodeRef.Name if set", "Lookup
/// node name when ProviderID is set, but node ref not", "Provider ID set on the machine but node
/// cannot be found".
#[test]
fn etcd_member_name_of_a_machine() {
    let mut cp = control_plane(&[M::Healthy, M::Provisioning], None);
    assert_eq!(cp.etcd_member_name(&cp.machines[0].clone()), "m1");
    let m2 = cp.machines[1].clone();
    assert_eq!(cp.etcd_member_name(&m2), "");
    cp.nodes_by_provider_id.insert("docker:////m2".into(), "node-of-m2".into());
    assert_eq!(cp.etcd_member_name(&m2), "node-of-m2");
}

/// `preflight_test.go: TestPreflightChecks`: "control plane with an unhealthy machine condition
/// should requeue" (the etcd member of another Machine is not healthy: etcdClusterNotHealthy) and
/// "control plane with an healthy machine and an healthy kcp condition should pass"; the victim of a
/// scale down is excluded.
#[rstest]
#[case::healthy(&[M::Healthy, M::Healthy], None, true, false, false)]
#[case::etcd_member_unhealthy(&[M::Healthy, M::EtcdUnhealthy], None, false, false, true)]
#[case::component_unhealthy(&[M::Healthy, M::ApiUnhealthy], None, false, true, false)]
#[case::no_node(&[M::Healthy, M::Provisioning], None, false, true, true)]
#[case::victim_excluded(&[M::Healthy, M::EtcdUnhealthy], Some("m2"), true, false, false)]
fn preflight_health(#[case] ms: &[M], #[case] exclude: Option<&str>, #[case] pass: bool, #[case] components: bool, #[case] etcd: bool) {
    let mut cp = control_plane(ms, None);
    let got = preflight::checks(&mut cp, false, false, exclude, false);
    assert_eq!(got == Preflight::Pass, pass, "{got:?}");
    assert_eq!((cp.preflight.components_not_healthy, cp.preflight.etcd_not_healthy), (components, etcd));
    if let Preflight::Wait { requeue_ms, health, .. } = got {
        assert_eq!((requeue_ms, health), (preflight::PREFLIGHT_REQUEUE_MS, true));
    }
}

/// `preflight_test.go: TestPreflightCheckCondition`: "missing condition should return error", "false
/// condition should return error", "unknown condition should return error": the texts of the
/// preflight errors, aggregated as Kubernetes' `NewAggregate` prints them.
#[test]
fn preflight_error_texts() {
    let mut cp = control_plane(&[M::Healthy, M::EtcdUnhealthy], None);
    conditions::remove(&mut cp.machines[0], cond::SCHEDULER);
    conditions::set(&mut cp.machines[0], [Cond::u(cond::CONTROLLER_MANAGER, "InspectionFailed", "Node m1 is unreachable")], 0);
    let Preflight::Wait { reasons, .. } = preflight::checks(&mut cp, false, false, None, false) else { panic!("passes") };
    assert_eq!(
        reasons,
        vec![
            "Machine m1 reports ControllerManagerPodHealthy condition is unknown (Node m1 is unreachable)".to_string(),
            "Machine m1 does not have SchedulerPodHealthy condition".to_string(),
            "Machine m2 reports EtcdMemberHealthy condition is false (x)".to_string(),
        ]
    );
    assert_eq!(preflight::go_aggregate(&reasons[2..]), "Machine m2 reports EtcdMemberHealthy condition is false (x)");
    assert_eq!(preflight::go_aggregate(&[reasons[0].clone(), reasons[0].clone()]), reasons[0]);
    assert!(preflight::go_aggregate(&reasons).starts_with("[Machine m1 reports") && preflight::go_aggregate(&reasons).ends_with("(x)]"));
}

/// `preflight_test.go: TestPreflightChecks` "requeue control plane where target etcd cluster will be
/// unhealthy when scaling up after remediation": with a remediation in progress the scale up only
/// needs the target cluster to keep quorum, which two unhealthy members of three do not.
#[test]
fn scale_up_after_remediation_needs_a_quorum_after_the_add() {
    let mut cp = control_plane(&[M::Healthy, M::EtcdUnhealthy, M::EtcdUnhealthy], None);
    cp.kcp.meta.annotations.insert("controlplane.cluster.x-k8s.io/remediation-in-progress".into(), "{}".into());
    let Preflight::Wait { reasons, .. } = preflight::checks(&mut cp, false, true, None, false) else { panic!("passes") };
    assert_eq!(reasons, vec!["adding a new control plane Machine can lead to etcd quorum loss. Please check the etcd status".to_string()]);
    assert!(cp.preflight.etcd_not_healthy && !cp.preflight.components_not_healthy);
    let mut ok = control_plane(&[M::Healthy, M::Healthy, M::Healthy], None);
    ok.kcp.meta.annotations.insert("controlplane.cluster.x-k8s.io/remediation-in-progress".into(), "{}".into());
    assert_eq!(preflight::checks(&mut ok, false, true, None, false), Preflight::Pass);
}

/// `remediation_test.go: TestReconcileUnhealthyMachines` "Remediation deferred: retry period not yet
/// expired": the message prints `RetryPeriodSeconds` as a Go `time.Duration`.
#[rstest]
#[case(600, "10m0s")]
#[case(90, "1m30s")]
#[case(7200, "2h0m0s")]
fn retry_period_message_uses_go_durations(#[case] seconds: i64, #[case] text: &str) {
    let mut kcp = Object::new(Kind::KubeadmControlPlane, "default", "cp");
    kcp.set("/spec/remediation/retryPeriodSeconds", json!(seconds));
    let mut m = Object::new(Kind::Machine, "default", "m2");
    let last = remediation::RemediationData { machine: "m1".into(), timestamp_ms: 3_600_000, retry_count: 1 };
    m.meta.annotations.insert("controlplane.cluster.x-k8s.io/remediation-for".into(), last.marshal());
    let (reason, msg) = remediation::check_retry_limits(&kcp, &m, 3_600_000 + 30_000).unwrap_err();
    assert_eq!(reason, "RemediationDeferred");
    assert_eq!(
        msg,
        format!("KubeadmControlPlane can't remediate this machine because the operation already failed in the latest {text} (RetryPeriodSeconds)")
    );
}

/// The etcd-member-loss fault, end to end (`TestUpdateStaticPodCondition` "running pod with
/// ContainerStatus Waiting but with exit code != 0"; `preflight_test.go: TestPreflightChecks`
/// "control plane with an unhealthy machine condition should requeue"; `remediation_test.go:
/// TestReconcileUnhealthyMachines` "Remediation deletes unhealthy machine"): the lost member's etcd
/// pod crash-loops and the KCP's `ControlPlaneComponentsHealthy` turns False; an upgrade's rollout
/// cannot add its first new Machine (the scale-up preflight fails on that Machine alone, so
/// `ControlPlaneUnhealthy` carries one unbracketed error) until the quick-start ClusterClass's
/// MachineHealthCheck marks the Machine and KCP remediates exactly that one: its member is removed
/// in the pre-terminate hook and the etcd cluster keeps quorum throughout.
#[test]
fn a_lost_etcd_member_blocks_the_rollout_until_remediated() {
    let (report, backend) = scenario(
        r#"
name: kcp-etcd-member-loss
vars: { CLUSTER_TOPOLOGY: "true", CLUSTER_NAME: el, KUBERNETES_VERSION: v1.34.3, CONTROL_PLANE_MACHINE_COUNT: "3", WORKER_MACHINE_COUNT: "0" }
steps:
  - apply: { flavor: development }
  - wait:
      for:
        all:
          - condition: { target: { kind: KubeadmControlPlane, cluster: el }, type: Available, status: "True" }
          - condition: { target: { kind: KubeadmControlPlane, cluster: el }, type: EtcdClusterHealthy, status: "True" }
          - condition: { target: { kind: KubeadmControlPlane, cluster: el }, type: ControlPlaneComponentsHealthy, status: "True" }
          - count: { target: { kind: Machine, cluster: el, where: { field: { path: status.nodeRef.name, exists: true } } }, equals: 3 }
      timeout: 30m
  - wait: { for: { condition: { target: { kind: KubeadmControlPlane, cluster: el }, type: ControlPlaneComponentsHealthy, status: "True" } }, timeout: 15m }
  - fault: { kind: etcd-member-loss, target: { cluster: el, index: 0, count: 1 } }
  - wait: { for: { condition: { target: { kind: KubeadmControlPlane, cluster: el }, type: ControlPlaneComponentsHealthy, status: "False" } }, timeout: 15m }
  - patch: { target: Cluster/el, type: merge, patch: { spec: { topology: { version: v1.35.0 } } } }
  - wait: { for: { condition: { target: { kind: KubeadmControlPlane, cluster: el }, type: RollingOut, status: "True" } }, timeout: 5m }
  - sleep: 10m
  - expect: { count: { target: { kind: Machine, cluster: el }, equals: 3 } }
"#,
    );
    assert_passed(&report);
    let sim = backend.sim().expect("prepared");
    let store = &sim.mgmt[0].api.store;
    let prefix = "Waiting for control plane to pass preflight checks to continue reconciliation: Machine ";
    let suffix = " reports EtcdPodHealthy condition is false (CrashLoopBackOff)";
    let events: Vec<serde_json::Value> = store.objects().of_kind(Kind::Event, None).map(|o| o.to_json()).collect();
    let blocked = events
        .iter()
        .find(|e| e["reason"] == "ControlPlaneUnhealthy" && e["message"].as_str().is_some_and(|m| m.ends_with(suffix)))
        .expect("the rollout's scale-up was blocked by the crash-looping etcd pod");
    assert_eq!(blocked["type"], "Warning");
    assert_eq!(blocked["involvedObject"]["kind"], "KubeadmControlPlane");
    let lost =
        blocked["message"].as_str().unwrap().strip_prefix(prefix).and_then(|m| m.strip_suffix(suffix)).expect("one Machine").to_string();
    assert!(!lost.contains(' '), "one error, no aggregate brackets: {lost}");
    // Remediated: that Machine is gone, with its etcd member; the others never lost theirs.
    assert!(store.objects().of_kind(Kind::Machine, None).all(|m| m.name() != lost));
    let wl = sim.world.workloads.get("el").expect("workload cluster");
    assert!(!wl.etcd.contains_key(&lost), "{:?}", wl.etcd);
    assert!(wl.etcd.values().all(|m| m.healthy && !m.lost), "{:?}", wl.etcd);
    assert!(report.violations.is_empty(), "{:?}", report.violations);
}

/// `pkg/workload_cluster_etcd_test.go: TestRemoveEtcdMember` "returns an error if the client errors
/// removing the etcd member", through `kubeadmcontrolplane_controller.go: reconcilePreTerminateHook`:
/// with one control-plane container dead (its member still listed, so `targetEtcdClusterHealthy`
/// lets the hook go on), deleting another control-plane Machine by hand reaches etcd, which refuses
/// to remove a member that answers when the members left that answer would not be a quorum. The
/// Machine waits on KCP's pre-terminate hook and etcd keeps its quorum.
#[test]
fn etcd_refuses_a_removal_that_would_cost_quorum() {
    let (report, backend) = scenario(
        r#"
name: kcp-etcd-strict-reconfig
vars: { CLUSTER_TOPOLOGY: "true", CLUSTER_NAME: sr, KUBERNETES_VERSION: v1.34.3, CONTROL_PLANE_MACHINE_COUNT: "3", WORKER_MACHINE_COUNT: "0" }
steps:
  - apply: { flavor: development }
  - wait:
      for:
        all:
          - count: { target: { kind: Machine, cluster: sr, where: { field: { path: status.nodeRef.name, exists: true } } }, equals: 3 }
          - condition: { target: { kind: KubeadmControlPlane, cluster: sr }, type: EtcdClusterHealthy, status: "True" }
      timeout: 30m
  - fault: { kind: container-kill, target: { cluster: sr, control-plane: true, index: 0, count: 1 } }
  - sleep: 1m
  - delete: { target: { kind: Machine, cluster: sr, control-plane: true, pick: last } }
  - sleep: 3m
  - expect: { count: { target: { kind: Machine, cluster: sr }, equals: 3 } }
"#,
    );
    assert_passed(&report);
    assert!(report.violations.iter().all(|v| v.invariant != "etcd-quorum"), "{:?}", report.violations);
    let sim = backend.sim().expect("prepared");
    let wl = sim.world.workloads.get("sr").expect("workload cluster");
    assert_eq!(wl.etcd.len(), 3, "no member was removed: {:?}", wl.etcd);
    assert_eq!(wl.etcd.values().filter(|m| m.healthy).count(), 2);
    let deleting: Vec<&Object> =
        sim.mgmt[0].api.store.objects().of_kind(Kind::Machine, None).filter(|m| m.deleting()).map(|m| &**m).collect();
    assert_eq!(deleting.len(), 1);
    assert!(deleting[0].meta.annotations.contains_key("pre-terminate.delete.hook.machine.cluster.x-k8s.io/kcp-cleanup"));
}

//! The Cluster controller's status (`core/reconcilers/cluster/cluster_controller_status_test.go`),
//! its deletion (`cluster_controller_test.go`), and CAPI's v1beta2 condition helpers
//! (`util/conditions/{aggregate_test.go,summary_test.go,merge_strategies_test.go,setter_test.go}`),
//! restated over the simulator's `cluster_status` and `merge` modules and through scenarios.

use super::{assert_passed, scenario};
use capi_sim::controllers::cluster_status::{self as status, Inputs, Probe};
use capi_sim::controllers::conditions::{self, Cond, Status};
use capi_sim::controllers::merge;
use capi_sim::kinds::Kind;
use capi_sim::object::Object;
use rstest::rstest;
use serde_json::json;
use std::sync::Arc;

/// A condition on an object (written at time 0).
fn with(mut o: Object, t: &str, s: Status, reason: &str, msg: &str) -> Object {
    conditions::set(&mut o, [Cond::new(t, s, reason, msg)], 0);
    o
}

/// `fakeCluster`: a Cluster in `default`, optionally with references (kinds as upstream's fakes name them).
fn cluster(infra_ref: bool, cp_ref: bool) -> Object {
    let mut c = Object::new(Kind::Cluster, "default", "c");
    if infra_ref {
        c.set("/spec/infrastructureRef", json!({"apiGroup": "infrastructure.cluster.x-k8s.io", "kind": "FakeInfraCluster", "name": "i1"}));
    }
    if cp_ref {
        c.set("/spec/controlPlaneRef", json!({"apiGroup": "controlplane.cluster.x-k8s.io", "kind": "FakeControlPlane", "name": "cp1"}));
    }
    c
}

fn machine(name: &str, cp: bool) -> Object {
    let mut m = Object::new(Kind::Machine, "default", name);
    m.meta.labels.insert("cluster.x-k8s.io/cluster-name".into(), "c".into());
    if cp {
        m.meta.labels.insert("cluster.x-k8s.io/control-plane".into(), String::new());
    }
    m
}

/// What `updateStatus` reads, owned.
struct Fixture {
    infra: Option<Object>,
    infra_not_found: bool,
    cp: Option<Object>,
    cp_not_found: bool,
    mds: Vec<Arc<Object>>,
    mss: Vec<Arc<Object>>,
    machines: Vec<Arc<Object>>,
    deleting: (String, String),
    probe: Probe,
}

impl Default for Fixture {
    fn default() -> Self {
        Fixture {
            infra: None,
            infra_not_found: false,
            cp: None,
            cp_not_found: false,
            mds: vec![],
            mss: vec![],
            machines: vec![],
            deleting: (String::new(), String::new()),
            probe: Probe::NotYet,
        }
    }
}

impl Fixture {
    fn cond(&self, cluster: &Object, t: &str) -> Option<Cond> {
        let i = Inputs {
            infra: self.infra.as_ref(),
            infra_not_found: self.infra_not_found,
            cp: self.cp.as_ref(),
            cp_not_found: self.cp_not_found,
            class: None,
            mds: &self.mds,
            mps: &[],
            mss: &self.mss,
            machines: &self.machines,
            deleting: (&self.deleting.0, &self.deleting.1),
            probe: self.probe,
            now: 60_000,
        };
        status::compute(cluster, &i).conditions.into_iter().find(|c| c.type_ == t)
    }
}

fn triple(c: &Cond) -> (Status, &str, &str) {
    (c.status, c.reason.as_str(), c.message.as_str())
}

/// `cluster_controller_status_test.go: TestSetPhases`: Pending without references, Provisioning with
/// one, Provisioned once the infrastructure is provisioned and the endpoint valid, Deleting last.
#[rstest]
#[case::pending(false, false, false, "Pending")]
#[case::provisioning(true, false, false, "Provisioning")]
#[case::provisioned(true, true, false, "Provisioned")]
#[case::deleting(true, true, true, "Deleting")]
fn phases(#[case] infra_ref: bool, #[case] provisioned: bool, #[case] deleting: bool, #[case] want: &str) {
    let mut c = cluster(infra_ref, false);
    if provisioned {
        c.set("/status/initialization/infrastructureProvisioned", json!(true));
        c.set("/spec/controlPlaneEndpoint", json!({"host": "1.2.3.4", "port": 6443}));
    }
    if deleting {
        c.meta.deletion_ms = Some(1);
    }
    assert_eq!(status::phase(&c), want);
}

/// `cluster_controller_status_test.go: TestSetInfrastructureReadyCondition` (every table entry that a
/// read without errors can reach).
#[rstest]
#[case::topology_not_yet_reconciled("topology", Status::False, "ObjectDoesNotExist", "Waiting for cluster topology to be reconciled")]
#[case::topology_not_yet_reconciled_deleted("topology-deleted", Status::False, "ObjectDoesNotExist", "")]
#[case::mirror_ready("mirror-false", Status::False, "SomeReason", "some message")]
#[case::mirror_ready_true_reason_fixed_up("mirror-true", Status::True, "Ready", "some message")]
#[case::fallback_not_provisioned("fallback", Status::False, "NotReady", "FakeInfraCluster status.initialization.provisioned is false")]
#[case::fallback_provisioned("fallback-provisioned", Status::True, "Ready", "")]
#[case::failed_to_get("no-ref", Status::Unknown, "InternalError", "Please check controller logs for errors")]
#[case::ready_infra_gone_while_deleting("gone-deleting-provisioned", Status::False, "ObjectDeleted", "FakeInfraCluster has been deleted")]
#[case::infra_gone_while_deleting("gone-deleting", Status::False, "ObjectDoesNotExist", "FakeInfraCluster does not exist")]
#[case::infra_gone_after_provisioning(
    "gone-provisioned",
    Status::False,
    "ObjectDeleted",
    "FakeInfraCluster has been deleted while the cluster still exists"
)]
#[case::infra_not_found("gone", Status::False, "ObjectDoesNotExist", "FakeInfraCluster does not exist")]
fn infrastructure_ready(#[case] case: &str, #[case] s: Status, #[case] reason: &str, #[case] msg: &str) {
    let mut c = cluster(!case.starts_with("topology") && case != "no-ref", false);
    let mut f = Fixture::default();
    if case.starts_with("topology") {
        c.set("/spec/topology", json!({"classRef": {"name": "class"}, "version": "v1.34.3"}));
    }
    if case.contains("deleted") || case.contains("deleting") {
        c.meta.deletion_ms = Some(1);
    }
    if case.contains("provisioned") {
        c.set("/status/initialization/infrastructureProvisioned", json!(true));
    }
    let infra = Object::new(Kind::DockerCluster, "default", "i1");
    match case {
        "mirror-false" => f.infra = Some(with(infra, "Ready", Status::False, "SomeReason", "some message")),
        // A v1beta1-style condition without a reason.
        "mirror-true" => f.infra = Some(with(infra, "Ready", Status::True, "", "some message")),
        "fallback" | "fallback-provisioned" => f.infra = Some(infra),
        c if c.starts_with("gone") => f.infra_not_found = true,
        _ => {}
    }
    let got = f.cond(&c, "InfrastructureReady").expect("set");
    assert_eq!(triple(&got), (s, reason, msg), "{case}");
}

/// `cluster_controller_status_test.go: TestSetControlPlaneAvailableCondition`: mirror of the
/// control plane's `Available`, the `controlPlaneInitialized` fallback, and the missing object.
#[rstest]
#[case::mirror("mirror", Status::False, "SomeReason", "some message")]
#[case::fallback("fallback", Status::False, "NotAvailable", "FakeControlPlane status.initialization.controlPlaneInitialized is false")]
#[case::gone_after_init(
    "gone-initialized",
    Status::False,
    "ObjectDeleted",
    "FakeControlPlane has been deleted while the cluster still exists"
)]
#[case::gone("gone", Status::False, "ObjectDoesNotExist", "FakeControlPlane does not exist")]
fn control_plane_available(#[case] case: &str, #[case] s: Status, #[case] reason: &str, #[case] msg: &str) {
    let mut c = cluster(true, true);
    let mut f = Fixture::default();
    let cp = Object::new(Kind::KubeadmControlPlane, "default", "cp1");
    match case {
        "mirror" => f.cp = Some(with(cp, "Available", Status::False, "SomeReason", "some message")),
        "fallback" => f.cp = Some(cp),
        _ => f.cp_not_found = true,
    }
    if case == "gone-initialized" {
        c.set("/status/initialization/controlPlaneInitialized", json!(true));
    }
    let got = f.cond(&c, "ControlPlaneAvailable").expect("set");
    assert_eq!(triple(&got), (s, reason, msg), "{case}");
}

/// `cluster_controller_status_test.go: TestSetControlPlaneInitialized`: Unknown while the topology has
/// not set the reference or the control plane does not exist, from the control plane's
/// `status.initialization`, or from the first stand-alone control-plane Machine with a Node; never
/// touched again once True.
#[rstest]
#[case::topology("topology", Some((Status::Unknown, "ObjectDoesNotExist", "Waiting for cluster topology to be reconciled")))]
#[case::cp_missing("cp-missing", Some((Status::Unknown, "ObjectDoesNotExist", "FakeControlPlane does not exist")))]
#[case::cp_not_initialized("cp", Some((Status::False, "NotInitialized", "Control plane not yet initialized")))]
#[case::cp_initialized("cp-initialized", Some((Status::True, "Initialized", "")))]
#[case::machines_without_node(
    "machines",
    Some((Status::False, "NotInitialized", "Waiting for the first control plane machine to have status.nodeRef set"))
)]
#[case::machine_with_node("machines-node", Some((Status::True, "Initialized", "")))]
#[case::already_true("already-true", None)]
fn control_plane_initialized(#[case] case: &str, #[case] want: Option<(Status, &str, &str)>) {
    let mut c = cluster(true, case.starts_with("cp"));
    let mut f = Fixture::default();
    match case {
        "topology" => {
            c = cluster(false, false);
            c.set("/spec/topology", json!({"classRef": {"name": "class"}, "version": "v1.34.3"}));
        }
        "cp-missing" => f.cp_not_found = true,
        "cp" => f.cp = Some(Object::new(Kind::KubeadmControlPlane, "default", "cp1")),
        "cp-initialized" => {
            let mut cp = Object::new(Kind::KubeadmControlPlane, "default", "cp1");
            cp.set("/status/initialization/controlPlaneInitialized", json!(true));
            f.cp = Some(cp);
        }
        "machines" => f.machines = vec![Arc::new(machine("m1", true))],
        "machines-node" => {
            let mut m = machine("m1", true);
            m.set("/status/nodeRef", json!({"name": "n1"}));
            f.machines = vec![Arc::new(m), Arc::new(machine("m2", true))];
        }
        _ => c = with(c, "ControlPlaneInitialized", Status::True, "Initialized", ""),
    }
    let got = f.cond(&c, "ControlPlaneInitialized");
    assert_eq!(got.as_ref().map(triple), want, "{case}");
}

fn pool(kind: Kind, name: &str, available: Option<&str>) -> Object {
    let o = Object::new(kind, "default", name);
    match available {
        Some(m) => with(o, "Available", Status::False, "Foo", m),
        None => o,
    }
}

/// `cluster_controller_status_test.go: TestSetWorkersAvailableCondition`: NoWorkers; MachinePools and
/// MachineDeployments not reporting (`Condition Available not yet reported`); reporting, grouped by
/// kind in kind order.
#[test]
fn workers_available() {
    assert_eq!(triple(&status::workers_available(&[], &[])), (Status::True, "NoWorkers", ""));
    let (mp, md) = (pool(Kind::MachinePool, "mp1", None), pool(Kind::MachineDeployment, "md1", None));
    let got = status::workers_available(&[&mp], &[&md]);
    assert_eq!(
        triple(&got),
        (
            Status::Unknown,
            "AvailableUnknown",
            "* MachineDeployment md1: Condition Available not yet reported\n* MachinePool mp1: Condition Available not yet reported"
        )
    );
    let mp = pool(
        Kind::MachinePool,
        "mp1",
        Some("2 available replicas, at least 3 required (spec.strategy.rollout.maxUnavailable is 1, spec.replicas is 4)"),
    );
    let md = pool(
        Kind::MachineDeployment,
        "md1",
        Some("3 available replicas, at least 4 required (spec.strategy.rollout.maxUnavailable is 1, spec.replicas is 5)"),
    );
    let got = status::workers_available(&[&mp], &[&md]);
    assert_eq!(
        triple(&got),
        (
            Status::False,
            "NotAvailable",
            "* MachineDeployment md1: 3 available replicas, at least 4 required (spec.strategy.rollout.maxUnavailable is 1, spec.replicas is 5)\n* MachinePool mp1: 2 available replicas, at least 3 required (spec.strategy.rollout.maxUnavailable is 1, spec.replicas is 4)"
        )
    );
}

/// `cluster_controller_status_test.go: TestSetControlPlaneMachinesReadyCondition` ("no machines",
/// "all machines are ready", "one ready, one has nothing reported", "one ready, one reporting not
/// ready, one reporting unknown, one reporting deleting"): issues before unknown, each group by name.
#[test]
fn control_plane_machines_ready() {
    let c = cluster(true, false);
    let mut f = Fixture::default();
    assert_eq!(triple(&f.cond(&c, "ControlPlaneMachinesReady").unwrap()), (Status::True, "NoReplicas", ""));
    let ready = |n: &str| Arc::new(with(machine(n, true), "Ready", Status::True, "Ready", ""));
    f.machines = vec![ready("machine-1"), ready("machine-2")];
    assert_eq!(triple(&f.cond(&c, "ControlPlaneMachinesReady").unwrap()), (Status::True, "Ready", ""));
    f.machines = vec![ready("machine-1"), Arc::new(machine("machine-2", true))];
    assert_eq!(
        triple(&f.cond(&c, "ControlPlaneMachinesReady").unwrap()),
        (Status::Unknown, "ReadyUnknown", "* Machine machine-2: Condition Ready not yet reported")
    );
    f.machines = vec![
        ready("machine-1"),
        Arc::new(with(machine("machine-2", true), "Ready", Status::False, "SomeReason", "HealthCheckSucceeded: Some message")),
        Arc::new(with(machine("machine-3", true), "Ready", Status::Unknown, "SomeUnknownReason", "Some unknown message")),
        Arc::new(with(
            machine("machine-4", true),
            "Ready",
            Status::False,
            "Deleting",
            "Deleting: Machine deletion in progress, stage: DrainingNode",
        )),
    ];
    assert_eq!(
        triple(&f.cond(&c, "ControlPlaneMachinesReady").unwrap()),
        (
            Status::False,
            "NotReady",
            "* Machine machine-2: HealthCheckSucceeded: Some message\n* Machine machine-4: Deleting: Machine deletion in progress, stage: DrainingNode\n* Machine machine-3: Some unknown message"
        )
    );
}

/// `cluster_controller_status_test.go: TestSetWorkerMachinesUpToDateCondition`: a Machine without
/// `UpToDate` younger than 10s is left out (NoReplicas); older ones count as not yet reported.
#[test]
fn worker_machines_up_to_date_skips_new_machines() {
    let c = cluster(true, false);
    let mut young = machine("m1", false);
    young.meta.creation_ms = 55_000;
    let mut f = Fixture { machines: vec![Arc::new(young)], ..Default::default() };
    assert_eq!(triple(&f.cond(&c, "WorkerMachinesUpToDate").unwrap()), (Status::True, "NoReplicas", ""));
    f.machines = vec![Arc::new(machine("m1", false))];
    assert_eq!(
        triple(&f.cond(&c, "WorkerMachinesUpToDate").unwrap()),
        (Status::Unknown, "UpToDateUnknown", "* Machine m1: Condition UpToDate not yet reported")
    );
    f.machines =
        vec![Arc::new(with(machine("m1", false), "UpToDate", Status::False, "NotUpToDate", "* Version v1.34.3, v1.35.0 required"))];
    assert_eq!(
        triple(&f.cond(&c, "WorkerMachinesUpToDate").unwrap()),
        (Status::False, "NotUpToDate", "* Machine m1:\n  * Version v1.34.3, v1.35.0 required")
    );
}

/// `cluster_controller_status_test.go: TestSetRollingOutCondition` and `TestSetScalingUpCondition`:
/// negative polarity; the control plane counts only when it reports the condition; Cluster-owned
/// MachineSets count for scaling, never for rolling out.
#[test]
fn rolling_out_and_scaling_up() {
    let c = cluster(true, true);
    let mut f = Fixture { cp: Some(Object::new(Kind::KubeadmControlPlane, "default", "cp1")), ..Default::default() };
    assert_eq!(triple(&f.cond(&c, "RollingOut").unwrap()), (Status::False, "NotRollingOut", ""));
    f.cp = Some(with(
        Object::new(Kind::KubeadmControlPlane, "default", "cp1"),
        "RollingOut",
        Status::True,
        "RollingOut",
        "Rolling out 3 not up-to-date replicas",
    ));
    f.mds = vec![
        Arc::new(with(Object::new(Kind::MachineDeployment, "default", "md1"), "RollingOut", Status::False, "NotRollingOut", "")),
        Arc::new(with(
            Object::new(Kind::MachineDeployment, "default", "md2"),
            "RollingOut",
            Status::True,
            "RollingOut",
            "Rolling out 1 not up-to-date replicas",
        )),
    ];
    assert_eq!(
        triple(&f.cond(&c, "RollingOut").unwrap()),
        (
            Status::True,
            "RollingOut",
            "* KubeadmControlPlane cp1: Rolling out 3 not up-to-date replicas\n* MachineDeployment md2: Rolling out 1 not up-to-date replicas"
        )
    );
    let mut ms =
        with(Object::new(Kind::MachineSet, "default", "ms1"), "ScalingUp", Status::True, "ScalingUp", "Scaling up from 0 to 1 replicas");
    ms.meta.owner_references.push(capi_sim::object::OwnerRef::to(&c, false));
    f.mss = vec![Arc::new(ms)];
    f.mds.clear();
    assert_eq!(triple(&f.cond(&c, "ScalingUp").unwrap()), (Status::True, "ScalingUp", "* MachineSet ms1: Scaling up from 0 to 1 replicas"));
    assert_eq!(triple(&f.cond(&c, "RollingOut").unwrap()).0, Status::True, "the control plane alone");
}

/// `cluster_controller_status_test.go: TestSetRemediatingCondition`: Machines to be remediated
/// aggregate their `OwnerRemediated` message; unhealthy ones nobody remediates are named.
#[rstest]
#[case::without_unhealthy(&[("m1", None, None), ("m2", None, None)], (Status::False, "NotRemediating", ""))]
#[case::to_be_remediated(&[("m1", Some(true), None), ("m2", Some(false), None), ("m3", Some(false), Some("Machine is deleting"))], (Status::True, "Remediating", "* Machine m3: Machine is deleting"))]
#[case::one_unhealthy(&[("m1", Some(true), None), ("m2", Some(false), None), ("m3", Some(true), None)], (Status::False, "NotRemediating", "Machine m2 is not healthy (not to be remediated)"))]
#[case::two_unhealthy(&[("m1", Some(false), None), ("m2", Some(false), None), ("m3", Some(true), None)], (Status::False, "NotRemediating", "Machines m1, m2 are not healthy (not to be remediated)"))]
fn remediating(#[case] machines: &[(&str, Option<bool>, Option<&str>)], #[case] want: (Status, &str, &str)) {
    let c = cluster(true, false);
    let f = Fixture {
        machines: machines
            .iter()
            .map(|(n, healthy, remediated)| {
                let mut m = machine(n, false);
                if let Some(h) = healthy {
                    m = with(m, "HealthCheckSucceeded", Status::from_bool(*h), "X", "");
                }
                if let Some(msg) = remediated {
                    m = with(m, "OwnerRemediated", Status::False, "MachineDeleting", msg);
                }
                Arc::new(m)
            })
            .collect(),
        ..Default::default()
    };
    assert_eq!(triple(&f.cond(&c, "Remediating").unwrap()), want);
}

/// `cluster_controller_status_test.go: TestDeletingCondition`: NotDeleting, else the reason and
/// message the deletion left.
#[test]
fn deleting() {
    let mut c = cluster(true, false);
    let mut f = Fixture::default();
    assert_eq!(triple(&f.cond(&c, "Deleting").unwrap()), (Status::False, "NotDeleting", ""));
    c.meta.deletion_ms = Some(1);
    let msg = "* Control plane Machines: cp1, cp2, cp3\n* MachineDeployments: md1, md2\n* MachineSets: ms1, ms2\n* Worker Machines: w1, w2, w3, w4, w5, ... (3 more)";
    f.deleting = ("WaitingForWorkersDeletion".into(), msg.into());
    assert_eq!(triple(&f.cond(&c, "Deleting").unwrap()), (Status::True, "WaitingForWorkersDeletion", msg));
}

/// The Cluster's conditions all True but `extra` (set on the Cluster, read by the summary).
fn available_with(topology: bool, deleting: Option<(&str, &str)>, extra: &[(&str, Status, &str, &str)]) -> Object {
    let mut c = cluster(true, true);
    if topology {
        c.set("/spec/topology", json!({"classRef": {"name": "class"}, "version": "v1.34.3"}));
    }
    for t in ["InfrastructureReady", "ControlPlaneAvailable", "WorkersAvailable", "RemoteConnectionProbe"] {
        c = with(c, t, Status::True, "Foo", "");
    }
    c = match deleting {
        Some((r, m)) => with(c, "Deleting", Status::True, r, m),
        None => with(c, "Deleting", Status::False, "Foo", ""),
    };
    for (t, s, r, m) in extra {
        c = with(c, t, *s, r, m);
    }
    c
}

/// `cluster_controller_status_test.go: TestSetAvailableCondition` ("Takes into account all the
/// required conditions", "TopologyReconciled is ignored when the cluster is not using CC", "Handles
/// multiline conditions", "TopologyReconciled is required when the cluster is using CC", "Takes into
/// account Availability gates when defined on the cluster", "... on the cluster class", "Surfaces
/// message from TopologyReconciled for reason that doesn't affect availability (no other issues)",
/// "Tolerates InfraCluster and ControlPlane do not exists while the cluster is deleting").
#[test]
fn available() {
    let none = cluster(false, false);
    assert_eq!(
        triple(&status::available(&none, &[], None, false)),
        (
            Status::Unknown,
            "AvailableUnknown",
            "* Deleting: Condition not yet reported\n* RemoteConnectionProbe: Condition not yet reported\n* InfrastructureReady: Condition not yet reported\n* ControlPlaneAvailable: Condition not yet reported\n* WorkersAvailable: Condition not yet reported"
        )
    );
    assert_eq!(triple(&status::available(&available_with(false, None, &[]), &[], None, false)), (Status::True, "Available", ""));
    let multi = "* Control plane Machines: cp1, cp2, cp3\n* MachineDeployments: md1, md2";
    assert_eq!(
        triple(&status::available(&available_with(false, Some(("WaitingForWorkersDeletion", multi)), &[]), &[], None, false)),
        (Status::False, "NotAvailable", "* Deleting:\n  * Control plane Machines: cp1, cp2, cp3\n  * MachineDeployments: md1, md2")
    );
    assert_eq!(
        triple(&status::available(&available_with(true, None, &[]), &[], None, true)),
        (Status::Unknown, "AvailableUnknown", "* TopologyReconciled: Condition not yet reported")
    );
    let gates =
        [("MyGate", Status::False, "SomeReason", "Some message"), ("MyNegativeGate", Status::True, "SomeReason", "Some other message")];
    let mut c = available_with(false, None, &gates);
    c.set("/spec/availabilityGates", json!([{"conditionType": "MyGate"}, {"conditionType": "MyNegativeGate", "polarity": "Negative"}]));
    let want = (Status::False, "NotAvailable", "* MyGate: Some message\n* MyNegativeGate: Some other message");
    assert_eq!(triple(&status::available(&c, &[], None, false)), want);
    let mut class = Object::new(Kind::ClusterClass, "default", "class");
    class.set("/spec/availabilityGates", json!([{"conditionType": "MyGate"}, {"conditionType": "MyNegativeGate", "polarity": "Negative"}]));
    let c = available_with(false, None, &gates);
    assert_eq!(triple(&status::available(&c, &[], Some(&class), false)), want);
    let upgrading = "Cluster is upgrading to v1.22.0\n  * MachineDeployment md1 upgrading to version v1.22.0";
    let c = available_with(true, None, &[("TopologyReconciled", Status::False, "ClusterUpgrading", upgrading)]);
    assert_eq!(
        triple(&status::available(&c, &[], None, true)),
        (
            Status::True,
            "Available",
            "* TopologyReconciled:\n  * Cluster is upgrading to v1.22.0\n      * MachineDeployment md1 upgrading to version v1.22.0"
        )
    );
    let mut c = available_with(
        false,
        Some(("WaitingForBeforeDeleteHook", "Some message")),
        &[("InfrastructureReady", Status::False, "ObjectDeleted", ""), ("ControlPlaneAvailable", Status::False, "ObjectDeleted", "")],
    );
    c.meta.deletion_ms = Some(1);
    assert_eq!(triple(&status::available(&c, &[], None, false)), (Status::False, "NotAvailable", "* Deleting: Some message"));
}

/// `cluster_controller_status_test.go: TestSetRemoteConnectionProbeCondition`: "Remote connection not
/// established yet" only while the condition is absent; True on success; after a success, a failure
/// names when the probe last succeeded.
#[test]
fn remote_connection_probe() {
    let c = cluster(true, false);
    let f = Fixture::default();
    assert_eq!(
        triple(&f.cond(&c, "RemoteConnectionProbe").unwrap()),
        (Status::False, "ProbeFailed", "Remote connection not established yet")
    );
    let set = with(c.clone(), "RemoteConnectionProbe", Status::True, "ProbeSucceeded", "");
    assert!(f.cond(&set, "RemoteConnectionProbe").is_none(), "left alone while ClusterCache has not connected");
    let ok = Fixture { probe: Probe::Succeeded, ..Default::default() };
    assert_eq!(triple(&ok.cond(&c, "RemoteConnectionProbe").unwrap()), (Status::True, "ProbeSucceeded", ""));
    let failed = Fixture { probe: Probe::Failed, ..Default::default() };
    let got = failed.cond(&set, "RemoteConnectionProbe").unwrap();
    assert_eq!((got.status, got.reason.as_str()), (Status::False, "ProbeFailed"));
    assert!(got.message.starts_with("Remote connection probe failed, probe last succeeded at 20"), "{}", got.message);
}

/// `util/conditions/setter_test.go: TestSetAll` / `sort.go: defaultSortLessFunc`: `Available` and
/// `Ready` first, then CAPI's order, other types by name, `Paused` and `Deleting` last — whatever the
/// order they were set in.
#[test]
fn conditions_are_kept_in_capis_order() {
    let mut o = Object::new(Kind::Cluster, "default", "c");
    let types = ["Deleting", "Paused", "Zeta", "Alpha", "WorkersAvailable", "RemoteConnectionProbe", "Available", "TopologyReconciled"];
    conditions::set(&mut o, types.iter().map(|t| Cond::t(t, "R")), 0);
    let got: Vec<String> = conditions::list(&o).iter().map(|c| c["type"].as_str().unwrap_or("").to_string()).collect();
    assert_eq!(
        got,
        ["Available", "RemoteConnectionProbe", "WorkersAvailable", "TopologyReconciled", "Alpha", "Zeta", "Paused", "Deleting"]
    );
}

/// `util/conditions/aggregate_test.go: TestAggregate` ("One issue", "Same issue from up to three
/// objects", "Same issue from more than three objects", "Up to three different issue messages", "More
/// than three different issue messages", "At least 3 issue messages and unknown message", "More than 3
/// issue messages and unknown message", "unknown messages"): objects are `obj0`, `obj1`, ... in order.
#[rstest]
#[case::one_issue(&[(F, "Message-1"), (T, "Message-99")], (Status::False, "* Phase3Obj obj0: Message-1"))]
#[case::same_issue_three(&[(F, "Message-1"), (F, "Message-1"), (F, "Message-1"), (T, "Message-99")], (Status::False, "* Phase3Objs obj0, obj1, obj2: Message-1"))]
#[case::same_issue_more(&[(F, "Message-1"), (F, "Message-1"), (F, "Message-1"), (F, "Message-1"), (F, "Message-1"), (T, "Message-99")], (Status::False, "* Phase3Objs obj0, obj1, obj2, ... (2 more): Message-1"))]
#[case::three_messages(&[(F, "Message-1"), (F, "Message-2"), (F, "Message-2"), (F, "Message-1"), (F, "Message-1"), (F, "Message-3"), (T, "Message-99")], (Status::False, "* Phase3Objs obj0, obj3, obj4: Message-1\n* Phase3Objs obj1, obj2: Message-2\n* Phase3Obj obj5: Message-3"))]
#[case::more_messages(&[(F, "Message-1"), (F, "Message-2"), (F, "Message-4"), (F, "Message-5"), (F, "Message-1"), (F, "Message-3"), (T, "Message-99")], (Status::False, "* Phase3Objs obj0, obj4: Message-1\n* Phase3Obj obj1: Message-2\n* Phase3Obj obj2: Message-4\nAnd 2 Phase3Objs with other issues"))]
#[case::issues_and_unknown(&[(F, "Message-1"), (F, "Message-2"), (U, "Message-3"), (F, "Message-4"), (T, "Message-99")], (Status::False, "* Phase3Obj obj0: Message-1\n* Phase3Obj obj1: Message-2\n* Phase3Obj obj3: Message-4\nAnd 1 Phase3Obj with status unknown"))]
#[case::more_issues_and_unknown(&[(F, "Message-1"), (F, "Message-2"), (U, "Message-3"), (F, "Message-4"), (F, "Message-5"), (F, "Message-6"), (T, "Message-99")], (Status::False, "* Phase3Obj obj0: Message-1\n* Phase3Obj obj1: Message-2\n* Phase3Obj obj3: Message-4\nAnd 2 Phase3Objs with other issues\nAnd 1 Phase3Obj with status unknown"))]
#[case::unknown(&[(U, "Message-1"), (U, "Message-2"), (U, "Message-4"), (U, "Message-5"), (U, "Message-1"), (U, "Message-3"), (T, "Message-99")], (Status::Unknown, "* Phase3Objs obj0, obj4: Message-1\n* Phase3Obj obj1: Message-2\n* Phase3Obj obj2: Message-4\nAnd 2 Phase3Objs with status unknown"))]
fn aggregate_messages(#[case] objs: &[(Status, &str)], #[case] want: (Status, &str)) {
    let names: Vec<String> = (0..objs.len()).map(|i| format!("obj{i}")).collect();
    let items: Vec<merge::Item<'_>> = objs
        .iter()
        .zip(&names)
        .map(|((s, m), name)| merge::Item {
            kind: "Phase3Obj",
            name,
            cp_machine: false,
            type_: "Available",
            status: *s,
            reason: "Reason",
            message: m,
            since_ms: 0,
        })
        .collect();
    let p = |i: &merge::Item<'_>| merge::default_priority(&[], i);
    let (s, _, m) = merge::merge(merge::Op::Aggregate, items, &["Available"], &p, true, merge::GENERIC, None);
    assert_eq!((s, m.as_str()), want);
}

const T: Status = Status::True;
const F: Status = Status::False;
const U: Status = Status::Unknown;

/// `util/conditions/merge_strategies_test.go: TestAggregateMessages` ("Control plane machines always
/// goes before other machines"): a message reported by a control-plane Machine goes first, and its
/// control-plane Machines before the others.
#[test]
fn control_plane_machine_messages_go_first() {
    let m = |n: &str, cp: bool, msg: &str| {
        let mut o = machine(n, cp);
        o = with(o, "A", Status::False, "Reason", msg);
        o
    };
    let objs = [
        m("machine01", false, "Message-1"),
        m("machine02", false, "Message-1"),
        m("machine03", true, "Message-2"),
        m("machine04", false, "Message-2"),
    ];
    let refs: Vec<&Object> = objs.iter().collect();
    let got = merge::aggregate(&refs, "A", "A", false, ("IssuesReported", "UnknownReported", "InfoReported"));
    assert_eq!(got.message, "* Machines machine03, machine04: Message-2\n* Machines machine01, machine02: Message-1");
}

/// `util/conditions/summary_test.go: TestSummary` ("One issue", "One issue without message", "More
/// than one issue", "More than one issue, some with multiline messages", "More than one issue and one
/// unknown condition", "One unknown (no issues)", "Default missing conditions to unknown"), over the
/// types `A`, `B`, `!C` (negative polarity) and, for the multi-line case, `D`.
#[rstest]
#[case::one_issue(&[("B", T, "Reason-B", "Message-B"), ("A", T, "Reason-A", "Message-A"), ("!C", T, "Reason-!C", "Message-!C")], (F, "IssuesReported", "* !C: Message-!C"))]
#[case::one_issue_without_message(&[("B", T, "Reason-B", ""), ("A", T, "Reason-A", ""), ("!C", T, "Reason-!C", "")], (F, "IssuesReported", "* !C: Reason-!C"))]
#[case::more_issues(&[("B", F, "Reason-B", "Message-B"), ("A", T, "Reason-A", "Message-A"), ("!C", T, "Reason-!C", "Message-!C")], (F, "IssuesReported", "* B: Message-B\n* !C: Message-!C"))]
#[case::multiline(&[("B", F, "Reason-B", "Message-B"), ("A", T, "Reason-A", "Message-A"), ("!C", T, "Reason-!C", "* Message-!C1\n* Message-!C2"), ("D", F, "Reason-D", "Message-D\n* More message-D")], (F, "IssuesReported", "* B: Message-B\n* !C:\n  * Message-!C1\n  * Message-!C2\n* D:\n  * Message-D\n    * More message-D"))]
#[case::issues_and_unknown(&[("B", F, "Reason-B", "Message-B"), ("A", U, "Reason-A", "Message-A"), ("!C", T, "Reason-!C", "Message-!C")], (F, "IssuesReported", "* A: Message-A\n* B: Message-B\n* !C: Message-!C"))]
#[case::one_unknown(&[("B", T, "Reason-B", "Message-B"), ("A", T, "Reason-A", "Message-A"), ("!C", U, "Reason-!C", "Message-!C")], (U, "UnknownReported", "* !C: Message-!C"))]
#[case::missing(&[("A", T, "Reason-A", "Message-A")], (U, "UnknownReported", "* B: Condition not yet reported\n* !C: Condition not yet reported"))]
fn summary(#[case] conds: &[(&str, Status, &str, &str)], #[case] want: (Status, &str, &str)) {
    let mut o = Object::new(Kind::Machine, "default", "m");
    for (t, s, r, m) in conds {
        o = with(o, t, *s, r, m);
    }
    let mut types = vec!["A", "B", "!C"];
    if conds.iter().any(|c| c.0 == "D") {
        types.push("D");
    }
    let p = |i: &merge::Item| merge::default_priority(&["!C"], i);
    let got = merge::summary(&o, &[], "Available", &types, &[], &p, ("IssuesReported", "UnknownReported", "InfoReported"));
    assert_eq!(triple(&got), want);
}

/// `cluster_controller_test.go: TestClusterReconciler` (deletion) and `cluster_controller_status.go`:
/// a deleting Cluster waits for its MachineDeployments (`WaitingForWorkersDeletion`, `* MachineDeployments:
/// ...`), then for the control plane (`Waiting for KubeadmControlPlane to be deleted`), then for the
/// infrastructure, and records `Deleted` when it lets go.
#[test]
fn deletion_waits_for_workers_then_control_plane_then_infrastructure() {
    let (report, backend) = scenario(
        r#"
name: cluster-deletion-order
vars: { CLUSTER_TOPOLOGY: "true", CLUSTER_NAME: del, KUBERNETES_VERSION: v1.34.3, CONTROL_PLANE_MACHINE_COUNT: "1", WORKER_MACHINE_COUNT: "1" }
steps:
  - apply: { file: ../../fixtures/cni/crs-kindnet.yaml }
  - apply: { flavor: development }
  - patch: { target: Cluster/del, type: merge, patch: { metadata: { labels: { cni: kindnet } } } }
  - wait: { for: { condition: { target: Cluster/del, type: Available, status: "True" } }, timeout: 20m }
  - delete: { target: Cluster/del }
  - wait: { for: { condition: { target: Cluster/del, type: Deleting, status: "True", reason: WaitingForWorkersDeletion } }, timeout: 1m }
  - wait: { for: { condition: { target: Cluster/del, type: Deleting, status: "True", reason: WaitingForControlPlaneDeletion, message: "Waiting for KubeadmControlPlane to be deleted" } }, timeout: 10m }
  - wait: { for: { gone: { kind: Cluster, name: del } }, timeout: 10m }
"#,
    );
    assert_passed(&report);
    let sim = backend.sim().expect("prepared");
    let deleted = sim.mgmt[0]
        .api
        .store
        .objects()
        .of_kind(Kind::Event, None)
        .map(|o| o.to_json())
        .any(|e| e["reason"] == "Deleted" && e["message"] == "Cluster del has been deleted");
    assert!(deleted, "the Deleted event");
}

/// `cluster_controller_status_test.go` (the order `updateStatus` sets conditions in) with
/// `util/conditions/sort.go`: a provisioned quick-start Cluster lists its conditions in CAPI's order.
#[test]
fn a_provisioned_cluster_lists_its_conditions_in_order() {
    let (report, backend) = scenario(
        r#"
name: cluster-condition-order
vars: { CLUSTER_TOPOLOGY: "true", CLUSTER_NAME: ord, KUBERNETES_VERSION: v1.34.3, CONTROL_PLANE_MACHINE_COUNT: "1", WORKER_MACHINE_COUNT: "1" }
steps:
  - apply: { file: ../../fixtures/cni/crs-kindnet.yaml }
  - apply: { flavor: development }
  - patch: { target: Cluster/ord, type: merge, patch: { metadata: { labels: { cni: kindnet } } } }
  - wait: { for: { condition: { target: Cluster/ord, type: Available, status: "True" } }, timeout: 20m }
"#,
    );
    assert_passed(&report);
    let sim = backend.sim().expect("prepared");
    let c = sim.mgmt[0].api.store.get(&capi_sim::object::ObjKey::new(Kind::Cluster, "default", "ord")).expect("cluster");
    let got: Vec<String> = conditions::list(c).iter().map(|c| c["type"].as_str().unwrap_or("").to_string()).collect();
    assert_eq!(
        got,
        [
            "Available",
            "RemoteConnectionProbe",
            "InfrastructureReady",
            "ControlPlaneInitialized",
            "ControlPlaneAvailable",
            "WorkersAvailable",
            "TopologyReconciled",
            "RollingOut",
            "Remediating",
            "ScalingDown",
            "ScalingUp",
            "ControlPlaneMachinesReady",
            "WorkerMachinesReady",
            "ControlPlaneMachinesUpToDate",
            "WorkerMachinesUpToDate",
            "Paused",
            "Deleting"
        ]
    );
}

//! The MachineSet controller as upstream's tests pin it: the aggregated conditions
//! (`core/reconcilers/machineset/machineset_controller_status_test.go`) and its events
//! (`machineset_controller.go: syncReplicas`).

use super::machine::{cond, csrm, events_about, run_until, up, workers};
use capi_sim::controllers::conditions::{self, Cond, Status};
use capi_sim::controllers::{mdutil, merge};
use capi_sim::kinds::Kind;
use capi_sim::object::Object;
use capi_sim::testing::get;
use rstest::rstest;
use serde_json::json;

/// `fakeMachine(name, withCondition(...))`: a Machine with one condition (or none).
fn machine(name: &str, c: Option<Cond>) -> Object {
    let mut o = Object::new(Kind::Machine, "default", name);
    if let Some(c) = c {
        conditions::set(&mut o, [c], 0);
    }
    o
}

fn ready(status: Status, reason: &str, message: &str) -> Option<Cond> {
    Some(Cond::new("Ready", status, reason, message))
}

/// `machineset_controller_status_test.go: Test_setMachinesReadyCondition`, every table entry but
/// the internal error.
#[rstest]
#[case::no_machines(vec![], ("True", "NoReplicas", ""))]
#[case::one_machine_is_ready(vec![machine("machine-1", ready(Status::True, "Ready", ""))], ("True", "Ready", ""))]
#[case::all_machines_are_ready(
    vec![machine("machine-1", ready(Status::True, "Ready", "")), machine("machine-2", ready(Status::True, "Ready", ""))],
    ("True", "Ready", "")
)]
#[case::one_ready_one_has_nothing_reported(
    vec![machine("machine-1", ready(Status::True, "Ready", "")), machine("machine-2", None)],
    ("Unknown", "ReadyUnknown", "* Machine machine-2: Condition Ready not yet reported")
)]
#[case::one_ready_one_not_ready_one_unknown_one_deleting(
    vec![
        machine("machine-1", ready(Status::True, "Ready", "")),
        machine("machine-2", ready(Status::False, "SomeReason", "HealthCheckSucceeded: Some message")),
        machine("machine-3", ready(Status::Unknown, "SomeUnknownReason", "Some unknown message")),
        machine("machine-4", ready(Status::False, "Deleting", "Deleting: Machine deletion in progress, stage: DrainingNode")),
    ],
    ("False", "NotReady", "* Machine machine-2: HealthCheckSucceeded: Some message\n* Machine machine-4: Deleting: Machine deletion in progress, stage: DrainingNode\n* Machine machine-3: Some unknown message")
)]
fn machines_ready_aggregates_as_upstream(#[case] machines: Vec<Object>, #[case] want: (&str, &str, &str)) {
    let refs: Vec<&Object> = machines.iter().collect();
    let got = mdutil::machines_ready_condition(&refs);
    assert_eq!((got.status.as_str(), got.reason.as_str(), got.message.as_str()), want);
}

fn up_to_date(status: Status, reason: &str, message: &str) -> Option<Cond> {
    Some(Cond::new("UpToDate", status, reason, message))
}

/// `machineset_controller_status_test.go: Test_setMachinesUpToDateCondition` (one up-to-date, one
/// unknown, one not up-to-date, a Machine without the condition and a new one that is skipped, and
/// the mixed table entry with the `... (N more)`-free grouping).
#[rstest]
#[case::one_up_to_date(vec![machine("up-to-date-1", up_to_date(Status::True, "some-reason-1", ""))], ("True", "UpToDate", ""))]
#[case::one_unknown(
    vec![machine("unknown-1", up_to_date(Status::Unknown, "some-unknown-reason-1", "some unknown message"))],
    ("Unknown", "UpToDateUnknown", "* Machine unknown-1: some unknown message")
)]
#[case::one_not_up_to_date(
    vec![machine("not-up-to-date-machine-1", up_to_date(Status::False, "some-not-up-to-date-reason", "some not up-to-date message"))],
    ("False", "NotUpToDate", "* Machine not-up-to-date-machine-1: some not up-to-date message")
)]
#[case::two_not_up_to_date_two_up_to_date_two_not_reported(
    vec![
        machine("up-to-date-1", up_to_date(Status::True, "TestUpToDate", "")),
        machine("up-to-date-2", up_to_date(Status::True, "TestUpToDate", "")),
        machine("not-up-to-date-machine-1", up_to_date(Status::False, "TestNotUpToDate", "This is not up-to-date message")),
        machine("not-up-to-date-machine-2", up_to_date(Status::False, "TestNotUpToDate", "This is not up-to-date message")),
        machine("no-condition-machine-1", None),
        machine("no-condition-machine-2", None),
    ],
    ("False", "NotUpToDate", "* Machines not-up-to-date-machine-1, not-up-to-date-machine-2: This is not up-to-date message\n* Machines no-condition-machine-1, no-condition-machine-2: Condition UpToDate not yet reported")
)]
fn machines_up_to_date_aggregates_as_upstream(#[case] machines: Vec<Object>, #[case] want: (&str, &str, &str)) {
    let refs: Vec<&Object> = machines.iter().collect();
    // Every Machine is older than 10s at 60s.
    let got = mdutil::machines_up_to_date_condition(&refs, 60_000);
    assert_eq!((got.status.as_str(), got.reason.as_str(), got.message.as_str()), want);
}

/// `machineset_controller_status_test.go: Test_setMachinesUpToDateCondition` ("One machine without
/// up-to-date condition, one new Machines without up-to-date condition": the new one is ignored).
#[test]
fn new_machines_without_up_to_date_are_ignored() {
    let old = machine("no-condition-machine-1", None);
    let mut new = machine("no-condition-machine-2-new", None);
    new.meta.creation_ms = 55_000;
    let got = mdutil::machines_up_to_date_condition(&[&old, &new], 60_000);
    assert_eq!(
        (got.status, got.reason.as_str(), got.message.as_str()),
        (Status::Unknown, "UpToDateUnknown", "* Machine no-condition-machine-1: Condition UpToDate not yet reported")
    );
}

const DRAINING_MANY: &str = "Drain not completed yet (started at 2024-10-09T16:13:59Z):\n\
* Pods pod-2-deletionTimestamp-set-1, pod-3-to-trigger-eviction-successfully-1: deletionTimestamp set, but still not removed from the Node\n\
* Pod pod-5-to-trigger-eviction-pdb-violated-1: cannot evict pod as it would violate the pod's disruption budget. The disruption budget pod-5-pdb needs 20 healthy pods and has 20 currently\n\
* Pod pod-6-to-trigger-eviction-some-other-error: failed to evict Pod, some other error 1\n\
After above Pods have been removed from the Node, the following Pods will be evicted: pod-7-eviction-later, pod-8-eviction-later";

/// `fakeMachine` with `withDeletionTimestamp` (now) or `withStaleDeletionTimestamp` (16m ago),
/// optionally draining since `drain_ago_ms` with a Deleting message.
fn deleting(name: &str, stale: bool, drain: Option<(u64, &str)>) -> Object {
    let now = 3_600_000;
    let mut o = machine(name, None);
    o.meta.deletion_ms = Some(if stale { now - 16 * 60_000 } else { now });
    if let Some((ago, msg)) = drain {
        o.set("/status/deletion/nodeDrainStartTime", json!(capi_sim::object::timestamp(now - ago)));
        conditions::set(&mut o, [Cond::new("Deleting", Status::True, "DrainingNode", msg)], 0);
    }
    o
}

/// `machineset_controller_status_test.go: Test_aggregateStaleMachines`, every table entry.
#[rstest]
#[case::no_machines(vec![], "")]
#[case::no_deleting_machines(vec![machine("m1", None), machine("m2", None), machine("m3", None)], "")]
#[case::deleting_not_yet_stale(vec![deleting("m1", false, None), deleting("m2", false, None), machine("m3", None)], "")]
#[case::stale_machine_not_draining(vec![deleting("m1", false, None), deleting("m2", true, None), machine("m3", None)], "Machine m2 is in deletion since more than 15m")]
#[case::stale_machines_not_draining(vec![deleting("m1", true, None), deleting("m2", true, None), machine("m3", None)], "Machines m1, m2 are in deletion since more than 15m")]
#[case::draining_since_less_than_5m(
    vec![deleting("m1", true, Some((60_000, DRAINING_MANY))), deleting("m2", true, Some((60_000, DRAINING_MANY))), machine("m3", None)],
    "Machines m1, m2 are in deletion since more than 15m"
)]
#[case::draining_since_more_than_5m(
    vec![deleting("m1", true, Some((6 * 60_000, DRAINING_MANY))), deleting("m2", true, Some((6 * 60_000, DRAINING_MANY))), machine("m3", None)],
    "Machines m1, m2 are in deletion since more than 15m, delay likely due to PodDisruptionBudgets, Pods not terminating, Pod eviction errors"
)]
fn stale_machines_as_upstream(#[case] machines: Vec<Object>, #[case] want: &str) {
    let refs: Vec<&Object> = machines.iter().collect();
    assert_eq!(mdutil::stale_machines_message(&refs, 3_600_000), want);
}

/// `machineset_controller_status_test.go: Test_setRemediatingCondition` ("With machines to be
/// remediated by MS", "With one unhealthy machine not to be remediated by MS").
#[test]
fn remediating_lists_machines_to_remediate_or_unhealthy_ones() {
    let mut m1 = machine("m1", None);
    conditions::set(
        &mut m1,
        [
            Cond::f("HealthCheckSucceeded", "UnhealthyNode", "Node failed"),
            Cond::f("OwnerRemediated", "WaitingForRemediation", "Waiting for remediation"),
        ],
        0,
    );
    let mut m2 = machine("m2", None);
    conditions::set(&mut m2, [Cond::f("HealthCheckSucceeded", "UnhealthyNode", "Node failed")], 0);
    let m3 = machine("m3", None);
    let got = mdutil::remediating_condition(&[&m1, &m2, &m3], "MachineSet");
    assert_eq!(
        (got.status, got.reason.as_str(), got.message.as_str()),
        (Status::True, "Remediating", "* Machine m1: Waiting for remediation")
    );
    let got = mdutil::remediating_condition(&[&m2, &m3], "MachineSet");
    assert_eq!(
        (got.status, got.reason.as_str(), got.message.as_str()),
        (Status::False, "NotRemediating", "Machine m2 is not healthy (not to be remediated by MachineSet)")
    );
}

/// `machineset_controller.go: syncReplicas` records `SuccessfulCreate` (`Created Machine %q`) for
/// every Machine it creates and `SuccessfulDelete` (`Deleted Machine %q`) when it scales down;
/// `machineset_controller_status_test.go: Test_setReplicas` (counters from the Machines'
/// conditions) and `Test_setScalingDownCondition` after the scale-down.
#[test]
fn scaling_records_create_and_delete_events_and_counts_replicas() {
    let mut backend = up("ms", 2);
    let sim = backend.sim_mut().expect("sim");
    let ms = sim.mgmt[0]
        .api
        .store
        .objects()
        .of_kind(Kind::MachineSet, None)
        .find(|m| m.label("cluster.x-k8s.io/cluster-name") == Some("ms"))
        .cloned()
        .expect("ms");
    let names: Vec<String> = workers(sim, "ms").iter().map(|m| m.name().to_string()).collect();
    let events = events_about(sim, "MachineSet", ms.name());
    for n in &names {
        assert!(events.contains(&("Normal".into(), "SuccessfulCreate".into(), format!("Created Machine {n:?}"))), "{events:?}");
    }
    let ms = get(sim, Kind::MachineSet, "default", ms.name()).expect("ms");
    for (p, want) in
        [("/status/replicas", 2), ("/status/readyReplicas", 2), ("/status/availableReplicas", 2), ("/status/upToDateReplicas", 2)]
    {
        assert_eq!(ms.i64_at(p), Some(want), "{p}");
    }
    assert_eq!(cond(&ms, "ScalingUp"), csrm("False", "NotScalingUp", ""));
    assert_eq!(cond(&ms, "ScalingDown"), csrm("False", "NotScalingDown", ""));
    assert_eq!(cond(&ms, "MachinesReady"), csrm("True", "Ready", ""));
    assert_eq!(cond(&ms, "Deleting"), csrm("False", "NotDeleting", ""));
    // Scale the Cluster's workers down to one.
    let cluster = get(sim, Kind::Cluster, "default", "ms").expect("cluster");
    let mut mds = cluster.at("/spec/topology/workers/machineDeployments").cloned().expect("topology");
    mds[0]["replicas"] = json!(1);
    let p = capi_sim::store::api::Patch::Merge(json!({"spec": {"topology": {"workers": {"machineDeployments": mds}}}}));
    sim.patch(0, &cluster.key(), &p, capi_sim::store::Subresource::Main).expect("patched");
    let key = ms.key();
    let mut saw_scaling_down = None;
    assert!(run_until(sim, 10 * 60_000, |s| {
        let o = s.mgmt[0].api.store.get(&key).cloned().expect("ms");
        if let Some(c) = cond(&o, "ScalingDown").filter(|c| c.0 == "True") {
            saw_scaling_down = Some(c);
        }
        o.i64_at("/status/replicas") == Some(1)
    }));
    assert_eq!(saw_scaling_down, csrm("True", "ScalingDown", "Scaling down from 2 to 1 replicas"));
    let events = events_about(sim, "MachineSet", ms.name());
    let deleted: Vec<&(String, String, String)> = events.iter().filter(|e| e.1 == "SuccessfulDelete").collect();
    assert_eq!(deleted.len(), 1, "{events:?}");
    assert!(names.iter().any(|n| deleted[0].2 == format!("Deleted Machine {n:?}")), "{deleted:?}");
}

fn item<'a>(kind: &'a str, name: &'a str, cp: bool, type_: &'a str, status: Status, reason: &'a str, message: &'a str) -> merge::Item<'a> {
    merge::Item { kind, name, cp_machine: cp, type_, status, reason, message, since_ms: 0 }
}

fn aggregate_of(items: &[merge::Item<'_>]) -> String {
    merge::aggregate_items(items.to_vec(), &|i| merge::default_priority(&[], i), merge::GENERIC, true).2
}

/// `util/conditions/merge_strategies_test.go: TestAggregateMessages` ("Groups by kind, return max 3
/// messages, aggregate objects, count others"), the aggregation behind `MachinesReady`.
#[test]
fn aggregate_groups_by_kind_and_counts_others() {
    let md = |n: &'static str, m: &'static str| item("MachineDeployment", n, false, "A", Status::False, "", m);
    let items = vec![
        md("obj02", "Message-1"),
        md("obj01", "Message-1"),
        md("obj04", "* Message-2"),
        md("obj03", "* Message-2"),
        md("obj06", "* Message-3A\n* Message-3B"),
        md("obj05", "Message-1"),
        md("obj08", "Message-1"),
        md("obj07", "Message-4"),
        md("obj09", "Message-1"),
        md("obj10", "Message-5"),
        item("MachineSet", "obj11", false, "A", Status::False, "", "Message-1"),
        item("MachineSet", "obj12", false, "A", Status::False, "", "Message-1"),
    ];
    assert_eq!(
        aggregate_of(&items),
        "* MachineDeployments obj01, obj02, obj05, ... (2 more): Message-1\n\
         * MachineDeployments obj03, obj04:\n  * Message-2\n\
         * MachineDeployment obj06:\n  * Message-3A\n  * Message-3B\n\
         And 2 MachineDeployments with other issues\n\
         And 2 MachineSets with other issues"
    );
}

/// `util/conditions/merge_strategies_test.go: TestAggregateMessages` ("Issue messages goes before
/// unknown").
#[test]
fn aggregate_puts_issues_before_unknown() {
    let md = |n: &'static str, s: Status, m: &'static str| item("MachineDeployment", n, false, "A", s, "", m);
    let items = vec![
        md("obj02", Status::Unknown, "Message-1"),
        md("obj01", Status::Unknown, "Message-1"),
        md("obj04", Status::False, "* Message-2"),
        md("obj03", Status::False, "* Message-2"),
        md("obj06", Status::False, "* Message-3A\n* Message-3B"),
        md("obj05", Status::Unknown, "Message-1"),
        md("obj08", Status::Unknown, "Message-1"),
        md("obj07", Status::False, "Message-4\n* More Message-4"),
        md("obj09", Status::Unknown, "Message-1"),
        md("obj10", Status::False, "Message-5"),
    ];
    assert_eq!(
        aggregate_of(&items),
        "* MachineDeployments obj03, obj04:\n  * Message-2\n\
         * MachineDeployment obj06:\n  * Message-3A\n  * Message-3B\n\
         * MachineDeployment obj07:\n  * Message-4\n    * More Message-4\n\
         And 1 MachineDeployment with other issues\n\
         And 5 MachineDeployments with status unknown"
    );
}

/// `util/conditions/merge_strategies_test.go: TestAggregateMessages` ("Control plane machines
/// always goes before other machines").
#[test]
fn aggregate_puts_control_plane_machines_first() {
    let items = vec![
        item("Machine", "obj02", true, "A", Status::Unknown, "", "* Message-1"),
        item("Machine", "obj01", false, "A", Status::Unknown, "", "* Message-1"),
        item("Machine", "obj04", false, "A", Status::False, "", "* Message-2"),
        item("Machine", "obj03", false, "A", Status::False, "", "* Message-2"),
        item("Machine", "obj06", false, "A", Status::False, "", "* Message-3A\n* Message-3B"),
        item("Machine", "obj05", false, "A", Status::False, "", "* Message-2"),
    ];
    assert_eq!(
        aggregate_of(&items),
        "* Machines obj02, obj01:\n  * Message-1\n\
         * Machines obj03, obj04, obj05:\n  * Message-2\n\
         * Machine obj06:\n  * Message-3A\n  * Message-3B"
    );
}

/// `util/conditions/merge_strategies_test.go: TestSummaryMessages`, all three cases (info dropped
/// unless True, reasons for messageless issues, multi-line nesting).
#[test]
fn summary_messages_as_upstream() {
    let c = |t: &'static str, s: Status, r: &'static str, m: &'static str| item("MachineDeployment", "obj01", false, t, s, r, m);
    let order = ["A", "B", "C", "D", "E"];
    let prio = |i: &merge::Item<'_>| merge::default_priority(&[], i);
    let (_, _, m) = merge::summary_items(
        vec![
            c("A", Status::False, "Reason-A", "Message-A"),
            c("B", Status::False, "Reason-B", "Message-B"),
            c("C", Status::True, "Reason-C", "Message-C"),
            c("D", Status::False, "Reason-D", ""),
        ],
        &order,
        &prio,
        merge::GENERIC,
        None,
    );
    assert_eq!(m, "* A: Message-A\n* B: Message-B\n* D: Reason-D");
    let (s, r, m) = merge::summary_items(
        vec![
            c("A", Status::True, "Reason-A", "Message-A"),
            c("B", Status::True, "Reason-B", "Message-B"),
            c("C", Status::True, "Reason-C", ""),
        ],
        &order,
        &prio,
        merge::GENERIC,
        None,
    );
    assert_eq!((s, r, m.as_str()), (Status::True, "InfoReported", "* A: Message-A\n* B: Message-B"));
    let (_, _, m) = merge::summary_items(
        vec![
            c("A", Status::True, "Reason-A", "Message-A"),
            c("B", Status::True, "Reason-B", "* Message-B"),
            c("C", Status::True, "Reason-C", "* Message-C1\n* Message-C2"),
            c("D", Status::True, "Reason-D", "Message-D\n* More Message-D"),
            c("E", Status::True, "Reason-E", "* Message-E1\n  * More Message-E1\n* Message-E2"),
        ],
        &order,
        &prio,
        merge::GENERIC,
        None,
    );
    assert_eq!(
        m,
        "* A: Message-A\n* B:\n  * Message-B\n* C:\n  * Message-C1\n  * Message-C2\n* D:\n  * Message-D\n    * More Message-D\n* E:\n  * Message-E1\n    * More Message-E1\n  * Message-E2"
    );
}

//! What each row of `clusterctl describe cluster` counts, and how Machines are placed and grouped
//! (restating `internal/util/tree/tree.go` and `cmd/clusterctl/client/tree/tree.go`).

use super::*;
use rstest::rstest;
use serde_json::json;

const T0: &str = "2026-01-01T00:00:00Z";
/// 2026-01-01T00:10:00Z in Unix ms.
const NOW: u64 = 1_767_225_600_000 + 600_000;

fn conds(list: &[(&str, &str, &str)]) -> Value {
    Value::Array(list.iter().map(|(t, s, r)| json!({"type": t, "status": s, "reason": r, "lastTransitionTime": T0})).collect())
}

fn ready_machine(name: &str, owner: (&str, &str)) -> Value {
    machine(name, owner, &[("Available", "True", "Available"), ("Ready", "True", "Ready"), ("UpToDate", "True", "UpToDate")])
}

fn machine(name: &str, owner: (&str, &str), c: &[(&str, &str, &str)]) -> Value {
    let mut m = json!({"kind": "Machine", "metadata": {"name": name, "uid": format!("uid-{name}"),
        "ownerReferences": [{"kind": owner.0, "name": owner.1, "uid": format!("uid-{}", owner.1), "controller": true}]},
        "status": {"conditions": conds(c)}});
    if owner.0 == "KubeadmControlPlane" {
        m["metadata"]["labels"] = json!({"cluster.x-k8s.io/control-plane": ""});
    }
    m
}

/// A quick-start-shaped cluster: 3 control-plane machines, one MachineDeployment of 3, all ready.
fn quickstart() -> ClusterObjects {
    let counts = json!({"desiredReplicas": 3, "replicas": 3, "availableReplicas": 3, "readyReplicas": 3, "upToDateReplicas": 3});
    ClusterObjects {
        cluster: json!({"kind": "Cluster", "metadata": {"name": "c"},
            "status": {"controlPlane": counts, "workers": counts, "conditions": conds(&[("Available", "True", "Available")])}}),
        infrastructure: Some(json!({"kind": "DockerCluster", "metadata": {"name": "c-x"},
            "status": {"conditions": conds(&[("Ready", "True", "Ready")])}})),
        control_plane: Some(json!({"kind": "KubeadmControlPlane", "metadata": {"name": "c-cp", "uid": "uid-c-cp"},
            "spec": {"replicas": 3},
            "status": {"replicas": 3, "availableReplicas": 3, "readyReplicas": 3, "upToDateReplicas": 3,
                "conditions": conds(&[("Available", "True", "Available")])}})),
        machine_deployments: vec![json!({"kind": "MachineDeployment", "metadata": {"name": "c-md", "uid": "uid-c-md"},
            "spec": {"replicas": 3},
            "status": {"replicas": 3, "availableReplicas": 3, "readyReplicas": 3, "upToDateReplicas": 3,
                "conditions": conds(&[("Available", "True", "Available")])}})],
        machine_sets: vec![json!({"kind": "MachineSet", "metadata": {"name": "c-ms", "uid": "uid-c-ms",
            "ownerReferences": [{"kind": "MachineDeployment", "name": "c-md", "uid": "uid-c-md", "controller": true}]}})],
        machines: ["a", "b", "c"]
            .iter()
            .map(|n| ready_machine(&format!("c-cp-{n}"), ("KubeadmControlPlane", "c-cp")))
            .chain(["x", "y", "z"].iter().map(|n| ready_machine(&format!("c-md-{n}"), ("MachineSet", "c-ms"))))
            .collect(),
        ..Default::default()
    }
}

fn table(o: &ClusterObjects, show: ShowConditions) -> Vec<Row> {
    rows(o, &Options { show_conditions: show, grouping: true, echo: false, now_unix_ms: NOW })
}

fn row<'a>(rows: &'a [Row], name_ends: &str) -> &'a Row {
    rows.iter().find(|r| r.name.ends_with(name_ends)).unwrap_or_else(|| panic!("no row {name_ends}: {rows:#?}"))
}

fn counts(r: &Row) -> [&str; 4] {
    [r.replicas.as_str(), r.available.as_str(), r.ready.as_str(), r.up_to_date.as_str()]
}

#[test]
fn the_cluster_row_adds_up_the_control_plane_and_the_workers() {
    let rows = table(&quickstart(), ShowConditions::None);
    let names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "Cluster/c",
            "├─ClusterInfrastructure - DockerCluster/c-x",
            "├─ControlPlane - KubeadmControlPlane/c-cp",
            "│ └─3 Machines...",
            "└─Workers",
            "  └─MachineDeployment/c-md",
            "    └─3 Machines...",
        ]
    );
    assert_eq!(counts(&rows[0]), ["6/6", "6", "6", "6"]);
    assert_eq!(counts(&rows[2]), ["3/3", "3", "3", "3"]);
    assert_eq!(counts(&rows[3]), ["", "3", "3", "3"], "a group counts its Machines' conditions");
    assert_eq!(counts(&rows[5]), ["3/3", "3", "3", "3"]);
    assert_eq!(counts(&rows[1]), ["", "", "", ""], "the infrastructure cluster has no counters");
    assert_eq!((rows[0].status.as_str(), rows[0].reason.as_str(), rows[0].since.as_str()), ("True", "Available", "10m"));
    assert_eq!(rows[3].message, "See c-cp-a, c-cp-b, ...");
}

#[test]
fn machines_with_different_conditions_are_not_grouped_and_count_one_each() {
    let mut o = quickstart();
    // One worker is Ready but not yet Available (still within minReadySeconds).
    o.machines[5] = machine(
        "c-md-z",
        ("MachineSet", "c-ms"),
        &[("Available", "False", "NotAvailable"), ("Ready", "True", "Ready"), ("UpToDate", "True", "UpToDate")],
    );
    let rows = table(&o, ShowConditions::None);
    let group = row(&rows, "    ├─2 Machines...");
    assert_eq!(counts(group), ["", "2", "2", "2"]);
    assert_eq!(group.message, "See c-md-x, c-md-y");
    let single = row(&rows, "    └─Machine/c-md-z");
    assert_eq!(counts(single), ["1", "0", "1", "1"]);
    assert_eq!((single.status.as_str(), single.reason.as_str()), ("True", "Ready"));
}

#[test]
fn without_grouping_every_machine_has_its_row() {
    let rows = rows(&quickstart(), &Options { show_conditions: ShowConditions::None, grouping: false, echo: false, now_unix_ms: NOW });
    assert_eq!(rows.iter().filter(|r| r.name.contains("Machine/")).count(), 6);
    assert!(rows.iter().filter(|r| r.name.contains("Machine/")).all(|r| counts(r) == ["1", "1", "1", "1"]));
}

#[rstest]
#[case::nothing_set(json!({}), ["", "", "", ""])]
#[case::control_plane_only(json!({"controlPlane": {"desiredReplicas": 3, "replicas": 1, "readyReplicas": 0}}), ["1/3", "", "0", ""])]
#[case::workers_add(json!({"controlPlane": {"desiredReplicas": 1, "replicas": 1, "availableReplicas": 1},
    "workers": {"desiredReplicas": 2, "replicas": 2, "availableReplicas": 1}}), ["3/3", "2", "", ""])]
fn cluster_counters_are_shown_only_when_set(#[case] status: Value, #[case] want: [&str; 4]) {
    let o = ClusterObjects { cluster: json!({"kind": "Cluster", "metadata": {"name": "c"}, "status": status}), ..Default::default() };
    let rows = table(&o, ShowConditions::None);
    assert_eq!(counts(&rows[0]), want);
}

#[test]
fn a_machine_pool_row_has_no_counters_and_its_machines_count_one_each() {
    let o = ClusterObjects {
        cluster: json!({"kind": "Cluster", "metadata": {"name": "c"}}),
        machine_pools: vec![json!({"kind": "MachinePool", "metadata": {"name": "c-mp", "uid": "uid-c-mp"}, "spec": {"replicas": 2},
            "status": {"replicas": 2, "readyReplicas": 2}})],
        machines: vec![
            ready_machine("c-mp-a", ("MachinePool", "c-mp")),
            machine("c-mp-b", ("MachinePool", "c-mp"), &[("Ready", "False", "NotReady")]),
        ],
        ..Default::default()
    };
    let rows = table(&o, ShowConditions::None);
    assert_eq!(counts(row(&rows, "MachinePool/c-mp")), ["", "", "", ""]);
    assert_eq!(counts(row(&rows, "Machine/c-mp-a")), ["1", "1", "1", "1"]);
    assert_eq!(counts(row(&rows, "Machine/c-mp-b")), ["1", "0", "0", "0"]);
}

#[test]
fn machines_nobody_controls_are_under_other() {
    let mut o = quickstart();
    o.machines.push(ready_machine("stray", ("MachineSet", "gone")));
    let rows = table(&o, ShowConditions::None);
    let names: Vec<&str> = rows.iter().skip(4).map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["└─Workers", "  ├─MachineDeployment/c-md", "  │ └─3 Machines...", "  └─Other", "    └─Machine/stray"]);
}

#[test]
fn infrastructure_machines_are_shown_only_when_they_say_something_new() {
    let mut o = quickstart();
    o.machines.truncate(1);
    o.machines[0] = machine("c-cp-a", ("KubeadmControlPlane", "c-cp"), &[("Ready", "False", "NotReady")]);
    o.machines[0]["spec"] = json!({"infrastructureRef": {"kind": "DockerMachine", "name": "dm"},
        "bootstrap": {"configRef": {"kind": "KubeadmConfig", "name": "kc"}}});
    o.referenced = vec![
        json!({"kind": "DockerMachine", "metadata": {"name": "dm"}, "status": {"conditions": conds(&[("Ready", "False", "ContainerNotRunning")])}}),
        json!({"kind": "KubeadmConfig", "metadata": {"name": "kc"}, "status": {"conditions": conds(&[("Ready", "True", "Ready")])}}),
    ];
    let rows = table(&o, ShowConditions::None);
    let names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names[3..], ["  └─Machine/c-cp-a", "    └─MachineInfrastructure - DockerMachine/dm"], "{names:#?}");
    assert!(!names.iter().any(|n| n.contains("KubeadmConfig")), "a Ready bootstrap config is an echo: {names:#?}");
}

#[test]
fn show_conditions_all_moves_each_condition_to_its_own_row() {
    let rows = table(&quickstart(), ShowConditions::All);
    assert_eq!(rows[0].name, "Cluster/c");
    assert_eq!(rows[0].status, "", "the object's own row keeps only the counters");
    assert_eq!(counts(&rows[0]), ["6/6", "6", "6", "6"]);
    assert_eq!(rows[1].name, format!("│ {}└─Available", " ".repeat(10)));
    assert_eq!((rows[1].status.as_str(), rows[1].reason.as_str(), rows[1].since.as_str()), ("True", "Available", "10m"));
    let group = row(&rows, "3 Machines...");
    assert_eq!(group.status, "True", "groups keep their Ready condition");
}

#[test]
fn deleting_objects_are_marked_and_sorted_first() {
    let mut o = quickstart();
    o.machines[0]["metadata"]["deletionTimestamp"] = json!(T0);
    o.machines[0]["status"]["conditions"] = conds(&[("Ready", "False", "Deleting")]);
    let rows = table(&o, ShowConditions::None);
    assert_eq!(rows[3].name, "│ ├─!! DELETED !! Machine/c-cp-a");
    assert_eq!(rows[4].name, "│ └─2 Machines...");
}

#[rstest]
#[case(0, "0s")]
#[case(45_000, "45s")]
#[case(119_000, "119s")]
#[case(200_000, "3m20s")]
#[case(300_000, "5m")]
#[case(30 * 60_000, "30m")]
#[case(5 * 3_600_000 + 60_000, "5h1m")]
#[case(20 * 3_600_000, "20h")]
#[case(50 * 3_600_000, "2d2h")]
#[case(30 * 86_400_000, "30d")]
fn ages_as_apimachinery_writes_them(#[case] ago_ms: u64, #[case] want: &str) {
    assert_eq!(human_duration(NOW, Some(NOW - ago_ms)), want);
}

#[test]
fn long_messages_wrap_at_100_columns_keeping_bullet_indents() {
    let words = "word ".repeat(30);
    let wrapped = format_paragraph(&format!("* {}", words.trim()), 100);
    let lines: Vec<&str> = wrapped.lines().collect();
    assert_eq!(lines.len(), 2, "{wrapped}");
    assert!(lines.iter().all(|l| l.len() < 100), "{wrapped}");
    assert!(lines[1].starts_with("  word"), "continuation under the bullet: {wrapped}");
    assert_eq!(format_paragraph("a\n  * b", 100), "a\n  * b");
}

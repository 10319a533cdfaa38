//! Tests of the upgrade plan, the control plane state, ordering, concurrency, defer/hold and messages.

use super::*;
use crate::kinds::Kind;
use rstest::rstest;
use serde_json::json;

fn kcp(spec: &str, versions: &[&str]) -> Object {
    let mut o = Object::new(Kind::KubeadmControlPlane, "default", "c1-cp");
    o.set("/spec/version", json!(spec));
    if !versions.is_empty() {
        o.set("/status/versions", Value::Array(versions.iter().map(|v| json!({"version": v, "replicas": 1})).collect()));
    }
    o
}

#[rstest]
#[case(kcp("v1.34.0", &[]), true, false)]
#[case(kcp("v1.34.0", &["v1.34.0"]), false, false)]
#[case(kcp("v1.35.0", &["v1.34.0", "v1.35.0"]), false, true)]
#[case(kcp("v1.35.0", &["v1.35.0"]), false, false)]
fn control_plane_state(#[case] cp: Object, #[case] provisioning: bool, #[case] upgrading: bool) {
    assert_eq!(cp_provisioning(&cp), provisioning);
    assert_eq!(cp_upgrading(&cp).unwrap(), upgrading);
}

#[test]
fn deprecated_status_version_is_used_without_versions() {
    let mut cp = kcp("v1.35.0", &[]);
    cp.set("/status/version", json!("v1.34.0"));
    assert!(!cp_provisioning(&cp));
    assert!(cp_upgrading(&cp).unwrap());
}

#[rstest]
#[case("v1.35.0", "v1.34.0", Ok(vec!["v1.35.0"]))]
#[case("v1.34.0", "v1.34.0", Ok(vec![]))]
#[case("v1.36.0", "v1.34.0", Err("cannot compute an upgrade plan from v1.34.0 to v1.36.0"))]
fn one_minor_plans(#[case] desired: &str, #[case] cp: &str, #[case] want: Result<Vec<&str>, &str>) {
    let got = plan_one_minor(desired, cp);
    assert_eq!(got, want.map(|v| v.into_iter().map(String::from).collect()).map_err(String::from));
}

#[test]
fn chained_plans_take_the_last_patch_of_each_minor() {
    let versions: Vec<String> = ["v1.33.0", "v1.33.4", "v1.34.0", "v1.34.2", "v1.35.0", "v1.35.1"].iter().map(|s| s.to_string()).collect();
    assert_eq!(plan_from_versions(&versions, "v1.35.1", "v1.33.0").unwrap(), vec!["v1.34.2", "v1.35.1"]);
    assert_eq!(plan_from_versions(&versions, "v1.33.4", "v1.33.0").unwrap(), vec!["v1.33.4"]);
}

fn cluster(concurrency: Option<&str>) -> Object {
    let mut c = Object::new(Kind::Cluster, "default", "c1");
    if let Some(v) = concurrency {
        c.meta.annotations.insert(UPGRADE_CONCURRENCY.into(), v.into());
    }
    c
}

fn mds(names: &[&str]) -> Vec<Value> {
    names.iter().map(|n| json!({"name": n, "class": "default-worker"})).collect()
}

/// One reconcile's decisions for a CP and two MDs: returns (cp version, md versions, tracker).
fn decide(
    cp: Option<CurrentCp>,
    md_current: &[(&str, &str)],
    topology: &str,
    concurrency: Option<&str>,
    workers_first: bool,
) -> (String, Vec<String>, Tracker) {
    decide_with(cp, md_current, topology, concurrency, workers_first, &[], &mds(&["md-0", "md-1"]))
}

fn decide_with(
    cp: Option<CurrentCp>,
    md_current: &[(&str, &str)],
    topology: &str,
    concurrency: Option<&str>,
    workers_first: bool,
    upgrading: &[&str],
    list: &[Value],
) -> (String, Vec<String>, Tracker) {
    let mut t = Tracker::new(&cluster(concurrency));
    let versions: Vec<String> = md_current.iter().map(|(_, v)| v.to_string()).collect();
    compute_plan(&mut t, topology, cp.as_ref().map(|c| c.version.as_str()), &versions, &[], &[]).unwrap();
    for u in upgrading {
        t.mds.upgrading.insert(u.to_string());
    }
    let cpv = control_plane_version(&mut t, topology, cp.as_ref()).unwrap();
    let mut out = Vec::new();
    for (i, w) in list.iter().enumerate() {
        let name = w["name"].as_str().unwrap();
        let cur = md_current.get(i).map(|(n, v)| (*n, *v));
        out.push(worker_version(&mut t, false, topology, list, name, cur, workers_first).unwrap());
    }
    (cpv, out, t)
}

fn stable(v: &str) -> Option<CurrentCp> {
    Some(CurrentCp { version: v.into(), provisioning: false, upgrading: false })
}

#[rstest]
// Version bump with a stable control plane: the control plane starts, workers wait.
#[case(stable("v1.34.0"), &[("md0", "v1.34.0"), ("md1", "v1.34.0")], false, "v1.35.0", &["v1.34.0", "v1.34.0"])]
// Mutant: workers move together with the control plane (concurrency still applies).
#[case(stable("v1.34.0"), &[("md0", "v1.34.0"), ("md1", "v1.34.0")], true, "v1.35.0", &["v1.35.0", "v1.34.0"])]
// Control plane still rolling out: nothing moves.
#[case(Some(CurrentCp { version: "v1.35.0".into(), provisioning: false, upgrading: true }), &[("md0", "v1.34.0"), ("md1", "v1.34.0")], false, "v1.35.0", &["v1.34.0", "v1.34.0"])]
// Control plane done: the first MachineDeployment upgrades, the second waits (concurrency 1).
#[case(stable("v1.35.0"), &[("md0", "v1.34.0"), ("md1", "v1.34.0")], false, "v1.35.0", &["v1.35.0", "v1.34.0"])]
// Provisioning control plane: the version stays, workers are created later.
#[case(Some(CurrentCp { version: "v1.34.0".into(), provisioning: true, upgrading: false }), &[], false, "v1.34.0", &["v1.35.0", "v1.35.0"])]
fn upgrade_ordering(
    #[case] cp: Option<CurrentCp>,
    #[case] md: &[(&str, &str)],
    #[case] workers_first: bool,
    #[case] want_cp: &str,
    #[case] want_md: &[&str],
) {
    let (cpv, mdv, _) = decide(cp, md, "v1.35.0", None, workers_first);
    assert_eq!(cpv, want_cp);
    assert_eq!(mdv, want_md);
}

#[test]
fn concurrency_annotation_allows_parallel_workers() {
    let (_, mdv, _) = decide(stable("v1.35.0"), &[("md0", "v1.34.0"), ("md1", "v1.34.0")], "v1.35.0", Some("2"), false);
    assert_eq!(mdv, ["v1.35.0", "v1.35.0"]);
}

#[test]
fn an_upgrading_machine_deployment_holds_the_next_and_the_control_plane() {
    // md0 is still rolling out v1.35.0 (Machines behind); the next bump of the topology waits.
    let (cpv, mdv, t) = decide_with(
        stable("v1.35.0"),
        &[("md0", "v1.35.0"), ("md1", "v1.34.0")],
        "v1.35.0",
        None,
        false,
        &["md0"],
        &mds(&["md-0", "md-1"]),
    );
    assert_eq!(cpv, "v1.35.0");
    assert_eq!(mdv, ["v1.35.0", "v1.34.0"]);
    assert!(t.mds.pending_upgrade.contains("md1"));
    let (reason, msg) = upgrading_condition(&t, "v1.35.0", &cpv, "KubeadmControlPlane");
    assert_eq!(reason, "ClusterUpgrading");
    assert_eq!(
        msg,
        "Cluster is upgrading to v1.35.0\n  * MachineDeployment md0 upgrading to version v1.35.0\n  * MachineDeployment md1 pending upgrade to version v1.35.0"
    );
}

#[rstest]
#[case(json!([{"name": "md-0", "metadata": {"annotations": {DEFER_UPGRADE: ""}}}, {"name": "md-1"}]), "md-0", true)]
#[case(json!([{"name": "md-0", "metadata": {"annotations": {DEFER_UPGRADE: ""}}}, {"name": "md-1"}]), "md-1", false)]
#[case(json!([{"name": "md-0", "metadata": {"annotations": {HOLD_UPGRADE_SEQUENCE: ""}}}, {"name": "md-1"}]), "md-1", true)]
#[case(json!([{"name": "md-0"}, {"name": "md-1", "metadata": {"annotations": {HOLD_UPGRADE_SEQUENCE: ""}}}]), "md-0", false)]
fn defer_and_hold(#[case] list: Value, #[case] name: &str, #[case] want: bool) {
    assert_eq!(is_deferred(list.as_array().unwrap(), name), want);
}

#[test]
fn deferred_workers_report_their_reason() {
    let list = json!([{"name": "md-0", "metadata": {"annotations": {DEFER_UPGRADE: ""}}}]);
    let (cpv, _, t) = decide_with(stable("v1.35.0"), &[("md0", "v1.34.0")], "v1.35.0", None, false, &[], list.as_array().unwrap());
    let (reason, msg) = upgrading_condition(&t, "v1.35.0", &cpv, "KubeadmControlPlane");
    assert_eq!(reason, "MachineDeploymentsUpgradeDeferred");
    assert!(
        msg.ends_with("MachineDeployment md0 upgrade to version v1.35.0 deferred using defer-upgrade or hold-upgrade-sequence annotations"),
        "{msg}"
    );
}

#[test]
fn starting_message_lists_the_control_plane() {
    let (cpv, _, t) = decide(stable("v1.34.0"), &[("md0", "v1.34.0"), ("md1", "v1.34.0")], "v1.35.0", None, false);
    assert!(in_progress(&t));
    let (_, msg) = upgrading_condition(&t, "v1.35.0", &cpv, "KubeadmControlPlane");
    assert_eq!(
        msg,
        "Cluster is upgrading to v1.35.0\n  * KubeadmControlPlane upgrading to version v1.35.0\n  * MachineDeployments md0, md1 pending upgrade to version v1.35.0"
    );
}

#[test]
fn workers_plan_has_a_step_every_third_minor() {
    let mut t = Tracker::new(&cluster(None));
    let versions: Vec<String> = ["v1.30.0", "v1.31.0", "v1.32.0", "v1.33.0", "v1.34.0"].iter().map(|s| s.to_string()).collect();
    compute_plan(&mut t, "v1.34.0", Some("v1.30.0"), &["v1.30.0".to_string()], &[], &versions).unwrap();
    assert_eq!(t.cp.plan, ["v1.31.0", "v1.32.0", "v1.33.0", "v1.34.0"]);
    assert_eq!(t.mds.plan, ["v1.33.0", "v1.34.0"]);
}

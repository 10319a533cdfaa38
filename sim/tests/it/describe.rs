//! `clusterctl describe cluster` over library scenarios at their end: the counters add up between
//! rows. The Cluster row is the control plane's plus the workers' (MachineDeployments and
//! MachinePools), and a control plane's or MachineDeployment's counters are what its Machines'
//! rows count (replicas, `Available`, `Ready`, `UpToDate`), as upstream's controllers compute them
//! and `clusterctl` shows them.

use crate::run;
use capi_sim::clusterctl::tree::{self, Options, Row, ShowConditions};
use capi_sim::engine::trace::TraceMode;
use capi_sim::kinds::Kind;
use capi_sim::object::SIM_EPOCH_UNIX_SECS;
use rstest::rstest;
use serde_json::Value;

/// The tree depth of a row: its prefix is two characters per level.
fn depth(r: &Row) -> usize {
    r.name.chars().take_while(|c| matches!(c, '├' | '└' | '─' | '│' | ' ')).count() / 2
}

fn n(cell: &str) -> i64 {
    cell.parse().unwrap_or(0)
}

/// `current/desired` as numbers.
fn replicas(cell: &str) -> (i64, i64) {
    cell.split_once('/').map_or((0, 0), |(c, d)| (n(c), n(d)))
}

/// The rows directly under row `i`.
fn children(rows: &[Row], i: usize) -> Vec<&Row> {
    let d = depth(&rows[i]);
    rows[i + 1..].iter().take_while(|r| depth(r) > d).filter(|r| depth(r) == d + 1).collect()
}

fn is_machines(r: &Row) -> bool {
    r.name.contains("Machine/") || r.name.ends_with("Machines...")
}

/// How many Machines a Machine row or group row stands for.
fn machines_in(r: &Row) -> i64 {
    let name = r.name.trim_start_matches(['├', '└', '─', '│', ' ']);
    if name.ends_with("Machines...") {
        n(name.split(' ').next().unwrap_or("0"))
    } else {
        1
    }
}

/// Every counter of a row that holds Machines (a control plane, a MachineDeployment) against what
/// its Machines' rows count.
fn check_owner(file: &str, rows: &[Row], i: usize) {
    let owner = &rows[i];
    let ms: Vec<&Row> = children(rows, i).into_iter().filter(|r| is_machines(r)).collect();
    let sum = |f: fn(&Row) -> &str| ms.iter().map(|r| n(f(r))).sum::<i64>();
    let count: i64 = ms.iter().map(|r| machines_in(r)).sum();
    let table = tree_text(rows);
    assert_eq!(replicas(&owner.replicas).0, count, "{file}: {} replicas vs its Machines\n{table}", owner.name);
    assert_eq!(n(&owner.available), sum(|r| &r.available), "{file}: {} AVAILABLE vs its Machines\n{table}", owner.name);
    assert_eq!(n(&owner.ready), sum(|r| &r.ready), "{file}: {} READY vs its Machines\n{table}", owner.name);
    assert_eq!(n(&owner.up_to_date), sum(|r| &r.up_to_date), "{file}: {} UP TO DATE vs its Machines\n{table}", owner.name);
}

fn tree_text(rows: &[Row]) -> String {
    rows.iter().map(|r| format!("{} | {} | {} | {} | {}\n", r.name, r.replicas, r.available, r.ready, r.up_to_date)).collect()
}

#[rstest]
#[case("quickstart.yaml")]
#[case("quickstart-upgrade.yaml")]
#[case("development-flavor.yaml")]
#[case("scale.yaml")]
#[case("md-ondelete.yaml")]
#[case("mhc-remediation.yaml")]
#[case("ms-delete-policy.yaml")]
#[case("no-cni.yaml")]
fn describe_counters_add_up(#[case] file: &str) {
    let (report, backend) = run(file, None, TraceMode::Hash);
    assert!(report.passed, "{file}: {:?}", report.steps.iter().find(|s| !s.passed));
    let sim = backend.sim().expect("the simulation");
    let store = &sim.mgmt[0].api.store;
    let clusters: Vec<_> = store.objects().iter().filter(|o| o.kind == Kind::Cluster).map(|o| o.key()).collect();
    assert!(!clusters.is_empty(), "{file} ends with a Cluster to describe");
    let opts =
        Options { show_conditions: ShowConditions::None, grouping: true, echo: false, now_unix_ms: SIM_EPOCH_UNIX_SECS * 1000 + sim.now() };
    for key in clusters {
        let objects = capi_sim::clusterctl::cluster_objects(store, &key).expect("the Cluster's objects");
        let rows = tree::rows(&objects, &opts);
        let table = tree_text(&rows);
        let mut parts = (0i64, 0i64, 0i64, 0i64, 0i64);
        for (i, r) in rows.iter().enumerate() {
            if r.name.contains("ControlPlane - ") || r.name.contains("MachineDeployment/") {
                check_owner(file, &rows, i);
                let (c, d) = replicas(&r.replicas);
                parts = (parts.0 + c, parts.1 + d, parts.2 + n(&r.available), parts.3 + n(&r.ready), parts.4 + n(&r.up_to_date));
            }
        }
        // MachinePool rows show no counters (clusterctl has none for them): add their status.
        for mp in &objects.machine_pools {
            let g = |p: &str| mp.pointer(p).and_then(Value::as_i64).unwrap_or(0);
            parts = (
                parts.0 + g("/status/replicas"),
                parts.1 + g("/spec/replicas"),
                parts.2 + g("/status/availableReplicas"),
                parts.3 + g("/status/readyReplicas"),
                parts.4 + g("/status/upToDateReplicas"),
            );
        }
        let c = &rows[0];
        let (cur, want) = replicas(&c.replicas);
        assert_eq!((cur, want), (parts.0, parts.1), "{file}: Cluster replicas vs its control plane and workers\n{table}");
        assert_eq!(
            (n(&c.available), n(&c.ready), n(&c.up_to_date)),
            (parts.2, parts.3, parts.4),
            "{file}: Cluster AVAILABLE/READY/UP TO DATE vs its control plane and workers\n{table}"
        );
    }
}

/// The end-of-run `--describe` is taken once the run has settled: its Cluster row agrees with the
/// rows below it (it used to be taken at the instant the last step ended, a reconcile before the
/// Cluster controller had copied the control plane's counters).
#[test]
fn the_run_describe_of_the_quickstart_adds_up() {
    let path = crate::root().join("scenarios/library/quickstart.yaml");
    let scenario = capi_scenarios::load(&path, &Default::default()).unwrap_or_else(|e| panic!("{e}"));
    let mut backend = capi_sim::backend::SimBackend::new(Default::default());
    let opts = capi_scenarios::runner::RunOptions { describe: true, ..Default::default() };
    let report = pollster::block_on(capi_scenarios::runner::run(&mut backend, &scenario, &opts));
    let text = report.describe.expect("described");
    let cells = |prefix: &str| -> Vec<String> {
        let line = text.lines().find(|l| l.starts_with(prefix)).unwrap_or_else(|| panic!("no {prefix} row:\n{text}"));
        line.split_whitespace().skip(1).take(4).map(str::to_string).collect()
    };
    assert_eq!(cells("Cluster/"), ["6/6", "6", "6", "6"], "{text}");
}

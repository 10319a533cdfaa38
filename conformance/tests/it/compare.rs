//! Comparing simulator and real outcomes: allowed differences (from the one table) are reported but
//! do not fail; real ones do; generated names are matched as multisets; every outcome file format
//! loads. The rendered reports are insta snapshots, so the wording people read is reviewed.
//!
//! With `CAPI_CONFORMANCE_REAL_OUTCOMES=<dir>` (a `conformance run --out` directory or outcome JSON
//! files), each recorded real outcome is compared with a fresh simulation of its scenario, and the
//! normalized real outcome is snapshotted per scenario.

use capi_conformance::compare::{self, load_outcomes};
use capi_scenarios::outcome::{ConditionSummary, ObjectSummary, Outcome, ReplicaCounts};
use capi_scenarios::predicate::ContainerInfo;
use capi_scenarios::report::RunReport;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn obj(kind: &str, name: &str) -> ObjectSummary {
    ObjectSummary {
        management: "mgmt".into(),
        api_version: if kind == "Secret" || kind == "ConfigMap" { "v1".into() } else { "cluster.x-k8s.io/v1beta2".into() },
        kind: kind.into(),
        namespace: "default".into(),
        name: name.into(),
        phase: None,
        conditions: Vec::new(),
        replicas: None,
        status_replicas: None,
        version: None,
        deleting: false,
        metadata: None,
        spec: None,
        status: None,
        fields: Default::default(),
    }
}

fn cond(t: &str, s: &str, r: &str) -> ConditionSummary {
    ConditionSummary { type_: t.into(), status: s.into(), reason: r.into() }
}

fn machine(name: &str, ready: &str) -> ObjectSummary {
    ObjectSummary {
        phase: Some("Running".into()),
        conditions: vec![cond("Ready", ready, if ready == "True" { "Ready" } else { "NotReady" })],
        version: Some("v1.34.3".into()),
        ..obj("Machine", name)
    }
}

fn container(name: &str, role: &str, image: &str) -> ContainerInfo {
    let mut labels = BTreeMap::new();
    labels.insert("io.x-k8s.kind.cluster".to_string(), "c1".to_string());
    labels.insert("io.x-k8s.kind.role".to_string(), role.to_string());
    ContainerInfo { name: name.into(), image: image.into(), state: "running".into(), labels }
}

fn base() -> Outcome {
    let cluster = ObjectSummary {
        phase: Some("Provisioned".into()),
        conditions: vec![cond("Available", "True", "Available"), cond("RemoteConnectionProbe", "True", "ProbeSucceeded")],
        replicas: Some(3),
        version: Some("v1.34.3".into()),
        ..obj("Cluster", "c1")
    };
    let kcp = ObjectSummary {
        replicas: Some(3),
        status_replicas: Some(ReplicaCounts { replicas: 3, ready_replicas: 3, available_replicas: 3, up_to_date_replicas: 3 }),
        api_version: "controlplane.cluster.x-k8s.io/v1beta2".into(),
        ..obj("KubeadmControlPlane", "c1-x7b2k")
    };
    Outcome {
        schema: 2,
        events: Vec::new(),
        objects: vec![
            cluster,
            kcp,
            machine("c1-x7b2k-4bdvn", "True"),
            machine("c1-x7b2k-9zzqp", "True"),
            machine("c1-x7b2k-zzqpl", "True"),
            obj("Secret", "c1-kubeconfig"),
        ],
        containers: vec![
            container("c1-lb", "external-load-balancer", "kindest/haproxy:v20230606-42a2262b"),
            container("c1-x7b2k-4bdvn", "control-plane", "kindest/node:v1.34.3"),
            container("c1-x7b2k-9zzqp", "control-plane", "kindest/node:v1.34.3"),
            container("c1-x7b2k-zzqpl", "control-plane", "kindest/node:v1.34.3"),
        ],
    }
}

/// The same cluster as a real run names it: other random suffixes everywhere.
fn renamed(o: &Outcome) -> Outcome {
    let swap = |n: &str| n.replace("x7b2k", "q9wvt").replace("4bdvn", "hk2mz").replace("9zzqp", "r5p8x").replace("zzqpl", "tt6cb");
    Outcome {
        objects: o.objects.iter().map(|x| ObjectSummary { name: swap(&x.name), ..x.clone() }).collect(),
        containers: o.containers.iter().map(|c| ContainerInfo { name: swap(&c.name), ..c.clone() }).collect(),
        ..o.clone()
    }
}

#[test]
fn identical_runs_with_other_generated_names_are_conformant() {
    let sim = base();
    let c = compare::compare("quickstart", &sim, &renamed(&sim));
    assert!(c.findings.is_empty(), "{}", c.render());
    assert!(c.is_conformant());
}

#[test]
fn allowed_differences_are_reported_but_do_not_fail() {
    let sim = base();
    let mut real = renamed(&sim);
    real.objects.push(obj("ConfigMap", "kube-root-ca.crt"));
    real.objects.push(obj("Secret", "c1-webhook-service-cert"));
    // Not True on both sides, another pending reason: timing.
    let mut sim = sim;
    sim.objects[0].conditions[0] = cond("Available", "False", "NotAvailable");
    real.objects[0].conditions[0] = cond("Available", "False", "WaitingForWorkers");
    real.containers[1].image = "sha256:0123456789abcdef".into();
    let c = compare::compare("quickstart", &sim, &real);
    assert!(c.is_conformant(), "{}", c.render());
    assert_eq!(c.allowed_differences().count(), 4);
    insta::assert_snapshot!("compare_allowed", c.render());
}

#[test]
fn behavioural_differences_fail_with_a_readable_diff() {
    let sim = base();
    let mut real = renamed(&sim);
    // One control-plane Machine (and its container) never came up, another is not Ready.
    real.objects.retain(|o| o.name != "c1-q9wvt-tt6cb");
    real.containers.retain(|c| c.name != "c1-q9wvt-tt6cb");
    let m = real.objects.iter_mut().find(|o| o.name == "c1-q9wvt-r5p8x").unwrap();
    *m = machine("c1-q9wvt-r5p8x", "False");
    let kcp = real.objects.iter_mut().find(|o| o.kind == "KubeadmControlPlane").unwrap();
    kcp.status_replicas = Some(ReplicaCounts { replicas: 2, ready_replicas: 1, available_replicas: 1, up_to_date_replicas: 2 });
    real.objects[0].phase = Some("Provisioning".into());
    real.containers[0].state = "exited".into();
    let c = compare::compare("quickstart", &sim, &real);
    assert!(!c.is_conformant());
    insta::assert_snapshot!("compare_real_differences", c.render());
}

/// Which controller adds its finalizer first is a race real clusters decide either way; a missing
/// or extra finalizer is still a difference.
#[test]
fn finalizers_compare_as_a_set() {
    use capi_scenarios::outcome::MetaSummary;
    let with = |f: &[&str]| {
        let mut o = base();
        o.objects[1].metadata = Some(MetaSummary { finalizers: f.iter().map(|s| s.to_string()).collect(), ..Default::default() });
        o
    };
    let sim = with(&["cluster.x-k8s.io/machineset", "machineset.topology.cluster.x-k8s.io"]);
    let c = compare::compare("quickstart", &sim, &renamed(&with(&["machineset.topology.cluster.x-k8s.io", "cluster.x-k8s.io/machineset"])));
    assert!(c.is_conformant(), "{}", c.render());
    let c = compare::compare("quickstart", &sim, &renamed(&with(&["cluster.x-k8s.io/machineset"])));
    assert!(!c.is_conformant(), "a missing finalizer must fail");
}

#[test]
fn the_report_prints_the_allowed_difference_table() {
    let c = compare::compare("quickstart", &base(), &base());
    let report = compare::render_report(&[c], &["fleet".into()], &[]);
    for rule in compare::allowed::ALLOWED {
        assert!(report.contains(&format!("`{}`", rule.id)), "rule {} missing from:\n{report}", rule.id);
    }
    assert!(report.contains("1 of 1 scenario(s) conformant"), "{report}");
    assert!(report.contains("Scenarios with no real outcome: fleet"), "{report}");
}

fn report_of(name: &str, outcome: Outcome) -> RunReport {
    RunReport {
        scenario: name.into(),
        file: format!("scenarios/library/{name}.yaml"),
        backend: "kube".into(),
        seed: 1,
        passed: true,
        objects: outcome.objects,
        containers: outcome.containers,
        recorded_events: outcome.events,
        schema: outcome.schema,
        ..RunReport::default()
    }
}

#[test]
fn outcomes_load_from_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let one = report_of("quickstart", base());
    let two = report_of("scale", Outcome::default());
    let json = dir.path().join("run.json");
    std::fs::write(&json, serde_json::to_string(&one).unwrap()).unwrap();
    let jsonl = dir.path().join("sub").join("reports.jsonl");
    std::fs::create_dir_all(jsonl.parent().unwrap()).unwrap();
    std::fs::write(&jsonl, format!("{}\n\n{}\n", serde_json::to_string(&one).unwrap(), serde_json::to_string(&two).unwrap())).unwrap();
    let bare = dir.path().join("bare").join("pause.real.json");
    std::fs::create_dir_all(bare.parent().unwrap()).unwrap();
    std::fs::write(&bare, serde_json::to_string(&base()).unwrap()).unwrap();

    let a = load_outcomes(&json).unwrap();
    assert_eq!((a.len(), a[0].scenario.as_str(), a[0].passed), (1, "quickstart", Some(true)));
    assert_eq!(a[0].file.as_deref(), Some(Path::new("scenarios/library/quickstart.yaml")));
    let b = load_outcomes(jsonl.parent().unwrap()).unwrap();
    assert_eq!(b.iter().map(|n| n.scenario.as_str()).collect::<Vec<_>>(), ["quickstart", "scale"]);
    let c = load_outcomes(bare.parent().unwrap()).unwrap();
    assert_eq!((c[0].scenario.as_str(), c[0].passed, c[0].outcome.objects.len()), ("pause", None, 6));

    let bad = dir.path().join("bad.jsonl");
    std::fs::write(&bad, format!("{}\n{{\"scenario\": 3}}\n", serde_json::to_string(&two).unwrap())).unwrap();
    let e = load_outcomes(&bad).unwrap_err().to_string();
    assert!(e.contains("bad.jsonl:2:"), "{e}");
    let empty = tempfile::tempdir().unwrap();
    assert!(load_outcomes(empty.path()).unwrap_err().to_string().contains("no reports.jsonl"));
}

fn library() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/library")
}

fn simulate(file: &Path) -> RunReport {
    let scenario = capi_scenarios::load(file, &Default::default()).unwrap();
    let mut backend = capi_sim::backend::SimBackend::new(Default::default());
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    rt.block_on(capi_scenarios::runner::run(&mut backend, &scenario, &Default::default()))
}

#[test]
fn a_simulated_outcome_round_trips_through_its_report_file() {
    let report = simulate(&library().join("core-cascade.yaml"));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("core-cascade.json");
    std::fs::write(&path, serde_json::to_string(&report).unwrap()).unwrap();
    let loaded = load_outcomes(&path).unwrap();
    let c = compare::compare(&report.scenario, &report.outcome(), &loaded[0].outcome);
    assert!(c.findings.is_empty(), "{}", c.render());
}

#[test]
fn recorded_real_outcomes_match_the_simulator() {
    let Some(dir) = std::env::var_os("CAPI_CONFORMANCE_REAL_OUTCOMES") else {
        eprintln!("skipped: set CAPI_CONFORMANCE_REAL_OUTCOMES to a `conformance run --out` directory to compare recorded real outcomes");
        return;
    };
    let real = load_outcomes(Path::new(&dir)).unwrap();
    let mut failures = Vec::new();
    for r in real {
        let file = r.file.clone().unwrap_or_else(|| library().join(format!("{}.yaml", r.scenario)));
        let file = if file.is_file() { file } else { library().join(file.file_name().unwrap_or_default()) };
        let sim = simulate(&file);
        insta::with_settings!({ description => format!("normalized real outcome of {}", file.display()), omit_expression => true }, {
            insta::assert_yaml_snapshot!(format!("real-{}", r.scenario), r.outcome.normalized());
        });
        let c = compare::compare(&r.scenario, &sim.outcome(), &r.outcome);
        if !c.is_conformant() {
            failures.push(c.render());
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

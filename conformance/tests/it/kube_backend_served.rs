//! The conformance backend against the served simulator (`cargo xtask sim serve`, started in-process
//! on a loopback port at a high speed): a scenario runs through the shared runner exactly as it would
//! against KinD, with the time factor equal to the server's speed. Docker stays off here (the served
//! simulator's containers are simulated), so only scenarios without container steps run.

use crate::serve::serve;
use capi_conformance::kube_backend::{run_scenario_async, DockerMode, KubeOptions, RunConfig};
use std::path::Path;
use std::time::Duration;

// Moderate: at 300x a 1m timeout is 200 ms of wall time, which a loaded 2-core machine can miss.
const SPEED: f64 = 60.0;

fn library(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/library").join(name)
}

async fn run(file: &str) -> capi_scenarios::report::RunReport {
    let served = serve(|o| o.speed = SPEED).await;
    let mut kube = KubeOptions::new(&served.kubeconfig);
    kube.time_factor = SPEED;
    kube.docker = DockerMode::Off;
    kube.cleanup_wait = Duration::from_secs(5);
    let mut cfg = RunConfig::new(kube);
    cfg.handle_ctrl_c = false;
    cfg.wall_limit = Some(Duration::from_secs(120));
    let report = run_scenario_async(&library(file), &cfg).await;
    for s in &report.steps {
        eprintln!("[{}] {:?} {} line {}: {}", s.index, s.status, s.kind, s.line, s.message.lines().next().unwrap_or(""));
    }
    eprintln!("error: {:?}", report.error);
    report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn core_cascade_passes_against_the_served_simulator() {
    let report = run("core-cascade.yaml").await;
    assert!(report.passed, "{:?}", report.error);
    assert!(report.objects.iter().any(|o| o.kind == "Namespace" && o.name == "team-a") || report.objects.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_passes_against_the_served_simulator() {
    let report = run("pause.yaml").await;
    assert!(report.passed, "{:?}", report.error);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn md_ondelete_passes_against_the_served_simulator() {
    let report = run("md-ondelete.yaml").await;
    assert!(report.passed, "{:?}", report.error);
}

/// `workload:` targets through the conformance backend: Nodes read inside the workload cluster,
/// a ConfigMap applied, patched and deleted there (and not in the management cluster).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workload_targets_read_and_write_inside_the_workload_cluster() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/data/workload-objects.yaml");
    let report = run(file.to_str().expect("utf-8 path")).await;
    assert!(report.passed, "{:?}", report.error);
    assert!(report.steps.len() >= 11, "every step ran: {}", report.steps.len());
}

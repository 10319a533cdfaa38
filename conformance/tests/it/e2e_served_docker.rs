//! End to end: library scenarios through the conformance backend against the served simulator with
//! its Docker mirror on (real containers on this machine's Docker Engine, from busybox stand-in
//! images under CAPD's image names), compared with the same scenario run directly in the simulator
//! (same seed, same vars, same timing profile, same `clusterctl init` variables). The normalized
//! outcomes must not differ beyond the documented allowed differences (`compare::allowed`).
//!
//! Every run also checks the safety contract: two decoy containers (one without labels, one labelled
//! for another cluster) are up before the run and still running after it, and no container labelled
//! for one of the scenario's clusters is left once the backend has torn down; the served simulator's
//! own containers are gone after its shutdown. [`aborted_run_leaves_no_container_behind`] cuts a run
//! short (wall-time limit, and a dropped run future) and checks the same.
//!
//! The scenarios: every library scenario that the served API can run, i.e. all but
//! - `clusterctl-move.yaml`, `clusterctl-move-blocked.yaml` (two management clusters and the `clusterctl` binary; the served API is
//!   one management cluster),
//! - `name-conflict.yaml` (its `docker run` creates a real stray container the simulated Docker host
//!   cannot see, so the served CAPD would not meet the name conflict; the mirror imports nothing),
//! - `fleet.yaml` (covered by the others; its clusters are quick-starts).
//!
//! Scenarios that `apply` into a workload cluster (`quickstart.yaml`, `quickstart-upgrade.yaml`,
//! `delete-cascade.yaml`) run because the served API serves each simulated workload cluster under
//! `/workloads/NAMESPACE/CLUSTER` (see `apiserver::workload`).
//!
//! The tests hold one lock so they run one at a time: the mirrored containers carry the scenarios'
//! cluster names, and a 2-core machine keeps up with one served simulator at 60×. Each skips with a
//! printed reason when Docker is unreachable or `busybox-static` is not installed.

use crate::serve::serve;
use bollard::models::ContainerCreateBody;
use bollard::query_parameters::{
    CreateContainerOptions, InspectContainerOptions, ListContainersOptions, RemoveContainerOptions, StartContainerOptions,
};
use bollard::Docker;
use capi_conformance::apiserver::docker_mirror::INSTANCE_LABEL;
use capi_conformance::apiserver::{images, ServeOptions};
use capi_conformance::compare;
use capi_conformance::kube_backend::scope::ScenarioScope;
use capi_conformance::kube_backend::{run_scenario_async, DockerMode, KubeOptions, RunConfig};
use capi_scenarios::predicate::KIND_CLUSTER_LABEL;
use capi_scenarios::report::RunReport;
use capi_scenarios::runner::{self, RunOptions};
use capi_scenarios::{LoadOptions, Scenario};
use capi_sim::backend::{SimBackend, SimOptions};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Simulated seconds per wall second, on the server and in the backend's clock.
const SPEED: f64 = 60.0;

/// One served simulator with real containers at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn library(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/library").join(name)
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

/// Docker with the stand-in images, or why the test is skipped.
async fn docker_with_images() -> Result<Docker, String> {
    let docker = images::connect().await?;
    images::find_static_busybox()?;
    let mut wanted: Vec<&str> = images::CAPD_IMAGES.to_vec();
    wanted.push(DECOY_IMAGE);
    images::ensure_images(&docker, &wanted).await?;
    Ok(docker)
}

/// The image decoys run (a stand-in image the test imports; never pulled).
const DECOY_IMAGE: &str = "kindest/node:v1.34.3";

/// Containers (running or not) carrying `label` (`key=value`), by name.
async fn containers_with(docker: &Docker, label: &str) -> Vec<String> {
    let filters = HashMap::from([("label".to_string(), vec![label.to_string()])]);
    let list = docker
        .list_containers(Some(ListContainersOptions { all: true, filters: Some(filters), ..Default::default() }))
        .await
        .expect("docker ps");
    list.into_iter().filter_map(|c| Some(c.names?.first()?.trim_start_matches('/').to_string())).collect()
}

/// The test's decoys: removed by id when dropped (also on panic).
struct Decoys {
    ids: Vec<(String, String)>,
}

impl Decoys {
    /// One unlabelled container and one labelled for a cluster that is not the scenario's.
    async fn up(docker: &Docker, tag: &str) -> Decoys {
        let mut d = Decoys { ids: Vec::new() };
        let other = format!("decoy-other-{tag}");
        for (name, labels) in [
            (format!("capi-e2e-decoy-plain-{tag}"), vec![]),
            (format!("{other}-control-plane"), vec![(KIND_CLUSTER_LABEL, other.as_str()), ("io.x-k8s.kind.role", "control-plane")]),
        ] {
            let body = ContainerCreateBody {
                image: Some(DECOY_IMAGE.into()),
                cmd: Some(vec!["sleep".into(), "1000000000".into()]),
                labels: Some(labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()),
                ..Default::default()
            };
            let opts = CreateContainerOptions { name: Some(name.clone()), ..Default::default() };
            let id = docker.create_container(Some(opts), body).await.expect("decoy created").id;
            d.ids.push((name, id.clone()));
            docker.start_container(&id, None::<StartContainerOptions>).await.expect("decoy started");
        }
        d
    }

    /// Every decoy still exists and runs.
    async fn assert_alive(&self, docker: &Docker) {
        for (name, id) in &self.ids {
            let c =
                docker.inspect_container(id, None::<InspectContainerOptions>).await.unwrap_or_else(|e| panic!("decoy {name} is gone: {e}"));
            assert_eq!(c.state.and_then(|s| s.running), Some(true), "decoy {name} still runs");
        }
    }
}

impl Drop for Decoys {
    fn drop(&mut self) {
        let ids: Vec<String> = std::mem::take(&mut self.ids).into_iter().map(|(_, id)| id).collect();
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            rt.block_on(async {
                let Ok(docker) = images::connect().await else { return };
                for id in ids {
                    let _ = docker.remove_container(&id, Some(RemoveContainerOptions { force: true, ..Default::default() })).await;
                }
            })
        })
        .join();
    }
}

fn load(file: &str, vars: &[(&str, &str)]) -> (Scenario, capi_scenarios::vars::Vars) {
    let mut v = capi_scenarios::vars::Vars::new();
    for (k, x) in vars {
        v.insert(k.to_string(), x.to_string());
    }
    let scenario = capi_scenarios::load(&library(file), &LoadOptions { vars: v.clone(), fixtures_dir: Some(fixtures()) })
        .unwrap_or_else(|e| panic!("{e}"));
    (scenario, v)
}

/// The served simulator as the scenario's first management cluster: its seed, timing profile and
/// `clusterctl init` variables (the management's `init-vars`, else the scenario's vars), with the
/// Docker mirror on.
fn served_like(scenario: &Scenario, o: &mut ServeOptions) {
    o.speed = SPEED;
    o.docker = true;
    o.verbose = std::env::var_os("CAPI_E2E_VERBOSE").is_some();
    o.seed = scenario.seed;
    if let Some(t) = &scenario.timing {
        o.timing = capi_sim::backend::load_timing(t, &scenario.path, Some(&fixtures())).expect("timing profile");
    }
    let vars: Vec<(String, String)> = match scenario.management.first().and_then(|m| m.init_vars.clone()) {
        Some(v) => v.into_iter().collect(),
        None => scenario.vars.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
    };
    o.init_vars = vars;
}

fn print_steps(label: &str, report: &RunReport) {
    for s in &report.steps {
        eprintln!(
            "[{label} {}] {:?} {} line {} at {}s: {}",
            s.index,
            s.status,
            s.kind,
            s.line,
            s.at_ms / 1000,
            s.message.lines().next().unwrap_or("")
        );
    }
    if let Some(e) = &report.error {
        eprintln!("[{label}] error: {e}");
    }
}

/// The whole check for one scenario.
async fn e2e(file: &str, vars: &[(&str, &str)]) {
    let _one_at_a_time = SERIAL.lock().await;
    let test = format!("e2e_served_docker {file}");
    let docker = match docker_with_images().await {
        Ok(d) => d,
        Err(e) => {
            eprintln!("SKIPPED {test}: {e}");
            return;
        }
    };
    let started = Instant::now();
    let (scenario, vars) = load(file, vars);
    let clusters = ScenarioScope::of(&scenario).clusters;
    assert!(!clusters.is_empty() || file == "core-cascade.yaml", "{file} names its clusters");
    for c in &clusters {
        let left = containers_with(&docker, &format!("{KIND_CLUSTER_LABEL}={c}")).await;
        assert!(left.is_empty(), "containers of cluster {c} exist before the run (a leftover?): {left:?}");
    }
    let decoys = Decoys::up(&docker, &format!("{}-{}", std::process::id(), scenario.name)).await;

    // Through the conformance backend, against the served simulator and real Docker.
    let served = serve(|o| served_like(&scenario, o)).await;
    let instance = served.server.instance().to_string();
    let mut kube = KubeOptions::new(&served.kubeconfig);
    kube.time_factor = SPEED;
    kube.docker = DockerMode::Required;
    kube.cleanup_wait = Duration::from_secs(30);
    // 100 ms of wall time is 6 simulated seconds: container states are read about as often as the
    // simulated CAPD looks at them.
    kube.container_poll = Duration::from_millis(100);
    let mut cfg = RunConfig::new(kube);
    cfg.vars = vars;
    cfg.fixtures = Some(fixtures());
    cfg.handle_ctrl_c = false;
    cfg.wall_limit = Some(Duration::from_secs(120));
    let real = run_scenario_async(&scenario.path, &cfg).await;
    let real_wall = started.elapsed();
    print_steps("served", &real);

    // Torn down: nothing of the scenario's clusters is left; the decoys survived.
    for c in &clusters {
        let left = containers_with(&docker, &format!("{KIND_CLUSTER_LABEL}={c}")).await;
        assert!(left.is_empty(), "containers of cluster {c} left after the run: {left:?}");
    }
    decoys.assert_alive(&docker).await;
    let shut = served.server.shutdown().await.expect("clean shutdown");
    assert!(containers_with(&docker, &format!("{INSTANCE_LABEL}={instance}")).await.is_empty(), "the served simulator left containers");
    decoys.assert_alive(&docker).await;
    drop(decoys);

    // Directly in the simulator.
    let mut sim = SimBackend::new(SimOptions { fixtures_dir: Some(fixtures()), ..SimOptions::default() });
    let direct = runner::run(&mut sim, &scenario, &RunOptions { seed: Some(scenario.seed), ..RunOptions::default() }).await;
    print_steps("direct", &direct);

    let cmp = compare::compare(&scenario.name, &direct.outcome(), &real.outcome());
    eprintln!("{}", cmp.render());
    eprintln!(
        "{file}: served run {:.1}s wall ({}s simulated), {} real container(s) removed at shutdown, whole test {:.1}s",
        real_wall.as_secs_f64(),
        real.sim_time_ms / 1000,
        shut.containers_removed,
        started.elapsed().as_secs_f64()
    );
    assert!(direct.passed, "{file} passes in the simulator: {:?}", direct.error);
    assert!(real.passed, "{file} passes through the served API with real containers: {:?}", real.error);
    assert!(cmp.is_conformant(), "{file}: outcomes differ:\n{}", cmp.render());
}

macro_rules! e2e_tests {
    ($($name:ident => $file:literal $(, $k:literal = $v:literal)*;)*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                e2e($file, &[$(($k, $v)),*]).await;
            }
        )*
    };
}

e2e_tests! {
    clusterclass_gate_off => "clusterclass-gate-off.yaml";
    clusterclass_missing => "clusterclass-missing.yaml";
    core_cascade => "core-cascade.yaml";
    delete_container_by_hand => "delete-container-by-hand.yaml";
    delete_machine_directly => "delete-machine-directly.yaml";
    development_flavor => "development-flavor.yaml";
    docker_out_of_memory => "docker-out-of-memory.yaml";
    md_ondelete => "md-ondelete.yaml";
    mhc_remediation => "mhc-remediation.yaml";
    ms_delete_policy => "ms-delete-policy.yaml";
    no_cni => "no-cni.yaml";
    pause => "pause.yaml";
    quickstart => "quickstart.yaml";
    quickstart_upgrade => "quickstart-upgrade.yaml";
    delete_cascade => "delete-cascade.yaml";
    scale => "scale.yaml";
}

/// A run cut short by its wall-time limit, and one whose future is dropped mid-run (as a panic or an
/// outer timeout would), leave no container of the scenario behind; the decoys survive both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aborted_run_leaves_no_container_behind() {
    let _one_at_a_time = SERIAL.lock().await;
    let docker = match docker_with_images().await {
        Ok(d) => d,
        Err(e) => {
            eprintln!("SKIPPED aborted_run_leaves_no_container_behind: {e}");
            return;
        }
    };
    let (scenario, _) = load("development-flavor.yaml", &[]);
    let decoys = Decoys::up(&docker, &format!("{}-aborted", std::process::id())).await;
    let label = format!("{KIND_CLUSTER_LABEL}=dev");
    for drop_future in [false, true] {
        let served = serve(|o| served_like(&scenario, o)).await;
        let mut kube = KubeOptions::new(&served.kubeconfig);
        kube.time_factor = SPEED;
        kube.docker = DockerMode::Required;
        kube.cleanup_wait = Duration::from_secs(30);
        let mut cfg = RunConfig::new(kube);
        cfg.fixtures = Some(fixtures());
        cfg.handle_ctrl_c = false;
        // Long enough for CAPD to have started containers (about 4 simulated minutes).
        let cut = Duration::from_secs(4);
        if drop_future {
            let run = run_scenario_async(&scenario.path, &cfg);
            assert!(tokio::time::timeout(cut, run).await.is_err(), "the run was cut short");
        } else {
            cfg.wall_limit = Some(cut);
            let report = run_scenario_async(&scenario.path, &cfg).await;
            // Stopped by the limit: marked interrupted, never passed, the steps done so far kept.
            let why = report.interrupted.clone().unwrap_or_default();
            assert!(why.contains("wall-time limit"), "{why} / {:?}", report.error);
            assert!(!report.passed);
            assert!(report.steps.iter().any(|s| s.passed), "the steps done before the limit are kept: {:?}", report.steps);
            assert!(report
                .steps
                .iter()
                .any(|s| s.message.starts_with("not run: ") || s.status == capi_scenarios::report::StepStatus::Interrupted));
        }
        let left = containers_with(&docker, &label).await;
        assert!(left.is_empty(), "aborted run (future dropped: {drop_future}) left containers: {left:?}");
        decoys.assert_alive(&docker).await;
        served.server.shutdown().await.expect("clean shutdown");
    }
    decoys.assert_alive(&docker).await;
}

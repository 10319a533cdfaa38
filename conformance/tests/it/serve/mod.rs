//! Tests of the served simulator (`cargo xtask sim serve`): each test starts its own server on an
//! ephemeral loopback port with a high speed factor, then drives it with real kubectl
//! ([`kubectl`]), the kube-rs client and watcher ([`kube_client`]), raw HTTP for the exact `Status`
//! shapes and URL quirks ([`errors`]), built-in kinds, events and workload clusters as kubectl
//! shows them ([`builtin`]), Kubernetes' official Python client ([`python`]), and real Docker
//! containers ([`docker`]). Tests that need a tool this machine lacks print why and return early.

mod builtin;
mod docker;
mod errors;
mod explain;
mod kube_client;
mod kubectl;
mod python;
mod validation;

use capi_conformance::apiserver::{self, ServeOptions, ServerHandle};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tempfile::TempDir;

/// A started server with a kubeconfig and a kubectl cache directory in a temp dir.
pub struct Served {
    pub server: ServerHandle,
    pub dir: TempDir,
    pub kubeconfig: PathBuf,
}

/// Start a server with test settings (loopback, high speed) adjusted by `tweak`.
pub async fn serve(tweak: impl FnOnce(&mut ServeOptions)) -> Served {
    let mut opts = ServeOptions { speed: 300.0, ..ServeOptions::default() };
    tweak(&mut opts);
    let server = apiserver::start(opts).await.expect("the server starts");
    let dir = tempfile::tempdir().expect("temp dir");
    let kubeconfig = dir.path().join("kubeconfig");
    server.write_kubeconfig(&kubeconfig).expect("kubeconfig written");
    Served { server, dir, kubeconfig }
}

/// The repository's `fixtures/`.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("fixtures")
}

/// Whether kubectl runs here; prints why a test is skipped when not.
pub fn have_kubectl(test: &str) -> bool {
    match std::process::Command::new("kubectl").arg("version").arg("--client").stdout(Stdio::null()).stderr(Stdio::null()).status() {
        Ok(s) if s.success() => true,
        _ => {
            eprintln!("SKIPPED {test}: kubectl is not installed");
            false
        }
    }
}

/// `clusterctl generate cluster NAME --flavor development` of a provider version, with its ClusterClass,
/// as one multi-document YAML text.
pub fn quick_start_yaml(name: &str, provider_version: &str, control_plane: u32, workers: u32) -> String {
    let mut vars = capi_scenarios::vars::Vars::new();
    vars.insert("CLUSTER_NAME".into(), name.into());
    vars.insert("NAMESPACE".into(), "default".into());
    vars.insert("KUBERNETES_VERSION".into(), "v1.34.3".into());
    vars.insert("CONTROL_PLANE_MACHINE_COUNT".into(), control_plane.to_string());
    vars.insert("WORKER_MACHINE_COUNT".into(), workers.to_string());
    let here = capi_scenarios::Location::new("serve-test", 1, 1);
    let objects = capi_scenarios::parse::generate_cluster(Some(&fixtures()), provider_version, "development", &vars, &here)
        .expect("the development flavor renders");
    objects.iter().map(|o| serde_yaml::to_string(&o.value).expect("yaml")).collect::<Vec<_>>().join("---\n")
}

/// What a command printed and how it ended.
#[derive(Debug)]
pub struct Run {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

/// Run kubectl against the served simulator (own kubeconfig and cache dir), with a time limit.
pub async fn kubectl(s: &Served, args: &[&str]) -> Run {
    let out = tokio::time::timeout(Duration::from_secs(120), kubectl_command(s, args).output())
        .await
        .unwrap_or_else(|_| panic!("kubectl {args:?} did not finish in 120s"))
        .expect("kubectl runs");
    let run = Run {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into(),
        stderr: String::from_utf8_lossy(&out.stderr).into(),
    };
    eprintln!("$ kubectl {}\n{}{}", args.join(" "), run.stdout, run.stderr);
    run
}

/// A kubectl command (for long-running ones such as `get -w`).
pub fn kubectl_command(s: &Served, args: &[&str]) -> tokio::process::Command {
    let mut c = tokio::process::Command::new("kubectl");
    c.arg("--kubeconfig").arg(&s.kubeconfig).arg("--cache-dir").arg(s.dir.path().join("cache")).args(args);
    c.env("KUBECACHEDIR", s.dir.path().join("cache")).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
    c
}

/// A kube-rs client for the served simulator.
pub async fn kube_client(s: &Served) -> kube::Client {
    let kc = kube::config::Kubeconfig::read_from(&s.kubeconfig).expect("kubeconfig parses");
    let cfg = kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default()).await.expect("config");
    kube::Client::try_from(cfg).expect("client")
}

/// Poll `check` every 50 ms until it returns `Some` or `limit` passes.
pub async fn eventually<T, F: std::future::Future<Output = Option<T>>>(limit: Duration, what: &str, mut check: impl FnMut() -> F) -> T {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out after {limit:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

//! The quick-start path without KinD, as a user runs it: `cargo xtask scenario render --flavor
//! development --var ...` prints the manifests, `kubectl apply -f` sends them to `cargo xtask sim
//! serve`, and the Cluster becomes Provisioned. Skipped (and says why) without kubectl.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_path_buf()
}

fn xtask() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_xtask"));
    c.current_dir(root()).env_remove("CAPI_SIM_SEED");
    c
}

/// Kills the served simulator when the test ends, however it ends.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn rendered_flavor_applies_to_the_served_simulator() {
    if !Command::new("kubectl")
        .args(["version", "--client"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
    {
        eprintln!("SKIPPED rendered_flavor_applies_to_the_served_simulator: kubectl is not installed");
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let out = xtask()
        .args(["scenario", "render", "--flavor", "development"])
        .args(["--var", "CLUSTER_NAME=r1", "--var", "KUBERNETES_VERSION=v1.34.3", "--var", "WORKER_MACHINE_COUNT=1"])
        .output()
        .expect("xtask runs");
    assert!(out.status.success(), "render failed: {}", String::from_utf8_lossy(&out.stderr));
    let manifests = dir.path().join("r1.yaml");
    std::fs::write(&manifests, &out.stdout).unwrap();

    // Missing variables are all named, as clusterctl names them.
    let out = xtask().args(["scenario", "render", "--flavor", "development"]).output().expect("xtask runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("value for variables [CLUSTER_NAME, KUBERNETES_VERSION] is not set"), "{err}");

    let kubeconfig = dir.path().join("sim.kubeconfig");
    let _served = Child(
        xtask()
            .args(["sim", "serve", "--addr", "127.0.0.1:0", "--speed", "300", "--kubeconfig"])
            .arg(&kubeconfig)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("sim serve starts"),
    );
    let kubectl = |args: &[&str]| {
        let out = Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .arg("--cache-dir")
            .arg(dir.path().join("cache"))
            .args(args)
            .output()
            .expect("kubectl runs");
        let (o, e) = (String::from_utf8_lossy(&out.stdout).to_string(), String::from_utf8_lossy(&out.stderr).to_string());
        eprintln!("$ kubectl {}\n{o}{e}", args.join(" "));
        (out.status.success(), o, e)
    };
    let start = Instant::now();
    while !kubeconfig.exists() {
        assert!(start.elapsed() < Duration::from_secs(60), "sim serve wrote no kubeconfig in 60 s");
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(200));
    let (ok, stdout, stderr) = kubectl(&["apply", "-f", manifests.to_str().unwrap()]);
    assert!(ok, "apply failed: {stderr}");
    assert!(!stderr.contains("does not exist"), "the ClusterClass is applied before the Cluster: {stderr}");
    assert!(
        stdout.contains("clusterclass.cluster.x-k8s.io/quick-start created") && stdout.contains("cluster.cluster.x-k8s.io/r1 created"),
        "{stdout}"
    );
    let (ok, _, stderr) = kubectl(&["wait", "--for=jsonpath={.status.phase}=Provisioned", "cluster/r1", "--timeout=120s"]);
    assert!(ok, "the Cluster did not become Provisioned: {stderr}");
}

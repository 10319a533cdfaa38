//! A client nobody here wrote: Kubernetes' official Python client (`kubernetes`, Debian's
//! `python3-kubernetes`) drives Clusters through CustomObjectsApi against the served simulator —
//! create, list, watch, patch, get, delete — by running `conformance/tests/python/client.py`.
//! Skipped (and says why) when python3 or the module is missing.

use super::{quick_start_yaml, serve};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

/// The first Python that imports `kubernetes` (`CAPI_PYTHON`, Debian's `/usr/bin/python3`, `python3`
/// on PATH), or why there is none.
fn python() -> Result<String, String> {
    let mut candidates: Vec<String> = std::env::var("CAPI_PYTHON").into_iter().collect();
    candidates.extend(["/usr/bin/python3".to_string(), "python3".to_string()]);
    let mut why = Vec::new();
    for p in candidates {
        match std::process::Command::new(&p).args(["-c", "import kubernetes"]).stdout(Stdio::null()).stderr(Stdio::null()).status() {
            Ok(s) if s.success() => return Ok(p),
            Ok(_) => why.push(format!("{p} lacks the kubernetes module")),
            Err(e) => why.push(format!("{p}: {e}")),
        }
    }
    Err(format!("{} (install Debian's python3-kubernetes)", why.join("; ")))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_kubernetes_client_drives_clusters() {
    let python = match python() {
        Ok(p) => p,
        Err(why) => {
            eprintln!("SKIPPED python_kubernetes_client_drives_clusters: {why}");
            return;
        }
    };
    let s = serve(|o| o.speed = 300.0).await;
    let docs: Vec<serde_json::Value> =
        quick_start_yaml("py1", "v1.13", 1, 1).split("---\n").map(|d| serde_yaml::from_str(d).expect("rendered YAML")).collect();
    let objects = s.dir.path().join("objects.json");
    std::fs::write(&objects, serde_json::to_string(&docs).unwrap()).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join("python").join("client.py");
    let out = tokio::time::timeout(
        Duration::from_secs(240),
        tokio::process::Command::new(&python)
            .arg(&script)
            .arg(&s.kubeconfig)
            .arg(&objects)
            .arg("py1")
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the Python client finishes within 240 s")
    .expect("python runs");
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    eprintln!("{stdout}{stderr}");
    assert!(out.status.success(), "the Python client failed:\n{stdout}\n{stderr}");
    for step in [
        "ok: created Cluster py1",
        "ok: listed clusters",
        "ok: watched phases",
        "Provisioned",
        "ok: patched label",
        "ok: a missing cluster is 404",
        "ok: deleted py1",
    ] {
        assert!(stdout.contains(step), "missing `{step}` in:\n{stdout}");
    }
    s.server.shutdown().await.unwrap();
}

//! The built `xtask` binary end to end (`cargo xtask scenario run`): a planted secret reaches none of
//! the artefacts a run writes (stdout, stderr, JSON outcome, trace, JUnit, summary, timeline), and
//! a run stopped by SIGTERM or by `--wall-limit` exits 130 with its reports marked interrupted and
//! its completed steps kept.

use base64::Engine as _;
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

/// A fresh directory under the target dir's temp space, removed first if a run left it.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("capi-xtask-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// Every file under `dir`, recursively.
fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("readable").flatten() {
        let p = e.path();
        if p.is_dir() {
            files(&p, out);
        } else {
            out.push(p);
        }
    }
}

const PASSWORD: &str = "planted-password-5b0e7c1d93";
const TOKEN: &str = "planted-token-5b0e7c1d93";
const KEY_BODY: &str = "PLANTEDKEYMATERIAL5b0e7c1d93";
const USER_TOKEN: &str = "planted-kubeconfig-token-5b0e7c1d93";

fn kubeconfig() -> String {
    let pem = format!("-----BEGIN RSA PRIVATE KEY-----\n{KEY_BODY}\n-----END RSA PRIVATE KEY-----\n");
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    server: https://10.0.0.1:6443\n  name: c1\ncontexts:\n- context:\n    cluster: c1\n    user: c1-admin\n  name: c1-admin@c1\ncurrent-context: c1-admin@c1\nusers:\n- name: c1-admin\n  user:\n    client-key-data: {}\n    token: {USER_TOKEN}\n",
        b64(&pem)
    )
}

/// A scenario with a Secret holding planted values and a kubeconfig Secret with a client key, a
/// soft check and a hard expect that fail on the Secret (so their messages would show its data),
/// and a `clusterctl get-kubeconfig` step (whose message is the kubeconfig).
fn marker_scenario(dir: &Path) -> PathBuf {
    let text = format!(
        r#"name: secret-marker
description: planted secrets must reach no artefact
steps:
  - apply:
      manifest: |
        apiVersion: v1
        kind: Secret
        metadata: {{ name: planted, namespace: default }}
        type: Opaque
        stringData: {{ password: {PASSWORD} }}
        data: {{ token: {token} }}
        ---
        apiVersion: v1
        kind: Secret
        metadata:
          name: c1-kubeconfig
          namespace: default
          labels: {{ cluster.x-k8s.io/cluster-name: c1 }}
        type: cluster.x-k8s.io/secret
        data: {{ value: {kc} }}
        ---
        apiVersion: cluster.x-k8s.io/v1beta2
        kind: Cluster
        metadata: {{ name: c1, namespace: default }}
        spec: {{ infrastructureRef: {{ apiGroup: infrastructure.cluster.x-k8s.io, kind: DockerCluster, name: c1 }} }}
  - clusterctl: {{ get-kubeconfig: Cluster/c1 }}
  - check:
      - field: {{ target: Secret/planted, path: data.token, equals: not-the-token }}
      - field: {{ target: Secret/planted, path: stringData.password, equals: not-the-password }}
      - field: {{ target: Secret/c1-kubeconfig, path: data.value, equals: not-the-kubeconfig }}
  - expect:
      field: {{ target: Secret/planted, path: data.token, equals: {PASSWORD} }}
"#,
        token = b64(TOKEN),
        kc = b64(&kubeconfig()),
    );
    let path = dir.join("secret-marker.yaml");
    std::fs::write(&path, text).expect("scenario written");
    path
}

/// The planted values in every form a leak could take: as written, base64-encoded as stored, and
/// the client key's and the kubeconfig's base64.
fn needles() -> Vec<String> {
    let pem = format!("-----BEGIN RSA PRIVATE KEY-----\n{KEY_BODY}\n-----END RSA PRIVATE KEY-----\n");
    vec![
        PASSWORD.into(),
        TOKEN.into(),
        KEY_BODY.into(),
        USER_TOKEN.into(),
        b64(PASSWORD),
        b64(TOKEN),
        b64(&pem),
        b64(&kubeconfig()),
        "5b0e7c1d93".into(),
    ]
}

#[test]
fn a_planted_secret_reaches_no_artefact() {
    let dir = scratch("marker");
    let scenario = marker_scenario(&dir);
    let mut written = Vec::new();
    for (i, json) in [false, true].into_iter().enumerate() {
        let out = dir.join(format!("out-{i}"));
        let trace = dir.join(format!("trace-{i}.jsonl"));
        let mut cmd = xtask();
        cmd.args(["scenario", "run"]).arg(&scenario).arg("--out").arg(&out).arg("--trace").arg(&trace).arg("--describe");
        if json {
            cmd.arg("--json");
        }
        let o = cmd.output().expect("xtask runs");
        assert_eq!(o.status.code(), Some(1), "the run fails (check and expect): {}", String::from_utf8_lossy(&o.stderr));
        std::fs::write(dir.join(format!("stdout-{i}")), &o.stdout).unwrap();
        std::fs::write(dir.join(format!("stderr-{i}")), &o.stderr).unwrap();
        let stdout = String::from_utf8_lossy(&o.stdout);
        assert!(stdout.contains("redacted"), "the failing steps' messages show markers instead: {stdout}");
    }
    files(&dir, &mut written);
    written.retain(|p| p != &scenario);
    let names: Vec<String> = written.iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
    for want in ["junit.xml", "summary.md", "reports.jsonl", "trace-0.jsonl", "stdout-1"] {
        assert!(names.iter().any(|n| n == want), "{want} was written: {names:?}");
    }
    assert!(names.iter().any(|n| n.ends_with(".html") || n.ends_with(".svg")), "a timeline was written: {names:?}");
    for f in &written {
        let bytes = std::fs::read(f).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        for n in needles() {
            assert!(!text.contains(&n), "{} contains the planted value {n:?}", f.display());
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The fleet scenario with enough clusters to run for a while in a test build.
fn long_run(dir: &Path, extra: &[&str]) -> Command {
    let mut cmd = xtask();
    cmd.args(["scenario", "run", "scenarios/library/fleet.yaml", "--var", "FLEET_SIZE=400", "--out"])
        .arg(dir.join("out"))
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

fn assert_interrupted(dir: &Path, o: &std::process::Output, why: &str) {
    let stdout = String::from_utf8_lossy(&o.stdout);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(130), "exit code\nstdout: {stdout}\nstderr: {stderr}");
    let last = stdout.lines().last().unwrap_or("");
    assert!(last.starts_with("INTERRUPTED (") && last.contains(why), "summary line: {last}");
    let junit = std::fs::read_to_string(dir.join("out/junit.xml")).expect("junit.xml written");
    assert!(junit.contains("<error"), "{junit}");
    assert!(!junit.contains("failures=\"0\" errors=\"0\""), "{junit}");
    let jsonl = std::fs::read_to_string(dir.join("out/reports.jsonl")).expect("reports.jsonl written");
    let report: serde_json::Value = serde_json::from_str(jsonl.lines().next().expect("one report")).expect("JSON");
    assert_eq!(report["passed"], false);
    assert!(report["interrupted"].as_str().is_some_and(|s| s.contains(why)), "{report}");
    let steps = report["steps"].as_array().expect("steps kept");
    assert!(steps.iter().any(|s| s["status"] == "passed"), "completed steps kept: {steps:?}");
    assert!(steps.iter().any(|s| s["status"] == "interrupted"), "the running step says interrupted: {steps:?}");
}

#[test]
fn sigterm_mid_run_leaves_interrupted_reports() {
    let dir = scratch("sigterm");
    let child = long_run(&dir, &[]).spawn().expect("xtask starts");
    // Let the first steps complete and the long wait start.
    std::thread::sleep(Duration::from_secs(4));
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill runs");
    assert!(status.success());
    let started = Instant::now();
    let o = child.wait_with_output().expect("xtask ends");
    assert!(started.elapsed() < Duration::from_secs(60), "it stops promptly after SIGTERM");
    assert_interrupted(&dir, &o, "SIGTERM");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_wall_limit_ends_the_run_the_same_way() {
    let dir = scratch("wall");
    let o = long_run(&dir, &["--wall-limit", "4s"]).output().expect("xtask runs");
    assert_interrupted(&dir, &o, "wall-time limit of 4s");
    let _ = std::fs::remove_dir_all(&dir);
}

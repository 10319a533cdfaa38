//! Real kubectl against the served simulator: apply of a quick-start (Namespace, ConfigMap,
//! ClusterClass and a generated Cluster), get with printer columns, wait, merge/JSON/strategic
//! patches, scale, `get -w` while simulated time passes, delete that waits for finalizers, server
//! dry-run and server-side apply (with field ownership: conflicts, `--force-conflicts`, removal of
//! dropped fields, `--show-managed-fields`), and field validation as kubectl asks for it.

use super::{have_kubectl, kubectl, kubectl_command, quick_start_yaml, serve};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};

const EXTRA: &str = r#"apiVersion: v1
kind: Namespace
metadata:
  name: team-a
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: team-a
data:
  color: blue
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_drives_a_quick_start() {
    if !have_kubectl("kubectl_drives_a_quick_start") {
        return;
    }
    let s = serve(|o| o.speed = 300.0).await;
    let manifest = s.dir.path().join("quick-start.yaml");
    std::fs::write(&manifest, format!("{EXTRA}---\n{}", quick_start_yaml("qs1", "v1.13", 1, 1))).unwrap();
    let m = manifest.to_str().unwrap();

    let r = kubectl(&s, &["apply", "-f", m]).await;
    assert!(r.ok, "apply failed: {}", r.stderr);
    for line in [
        "namespace/team-a created",
        "configmap/settings created",
        "clusterclass.cluster.x-k8s.io/quick-start created",
        "cluster.cluster.x-k8s.io/qs1 created",
    ] {
        assert!(r.stdout.contains(line), "missing `{line}`");
    }

    let r = kubectl(&s, &["wait", "--for=condition=ControlPlaneInitialized", "cluster/qs1", "--timeout=60s"]).await;
    assert!(r.ok && r.stdout.contains("condition met"), "{}", r.stderr);

    // Printer columns come from the server's Table; machines exist in the cluster's namespace.
    let r = kubectl(&s, &["get", "clusters,machines", "-A"]).await;
    assert!(r.ok, "{}", r.stderr);
    assert!(r.stdout.contains("cluster.cluster.x-k8s.io/qs1") && r.stdout.contains("machine.cluster.x-k8s.io/qs1-"), "{}", r.stdout);
    assert!(r.stdout.contains("PHASE") && r.stdout.contains("VERSION") && r.stdout.contains("v1.34.3"));
    let r = kubectl(&s, &["get", "cm", "settings", "-n", "team-a", "-o", "jsonpath={.data.color}"]).await;
    assert_eq!(r.stdout, "blue");

    // A second apply changes nothing.
    let r = kubectl(&s, &["apply", "-f", m]).await;
    assert!(r.ok && r.stdout.contains("cluster.cluster.x-k8s.io/qs1 unchanged"), "{}", r.stdout);

    let r = kubectl(&s, &["patch", "cluster", "qs1", "--type", "merge", "-p", r#"{"metadata":{"labels":{"team":"a"}}}"#]).await;
    assert!(r.ok && r.stdout.contains("patched"), "{}", r.stderr);
    let r = kubectl(&s, &["get", "cluster", "qs1", "-o", "jsonpath={.metadata.labels.team}"]).await;
    assert_eq!(r.stdout, "a");
    // kubectl's default patch type is strategic merge, which custom resources refuse (415).
    let r = kubectl(&s, &["patch", "cluster", "qs1", "-p", r#"{"metadata":{"labels":{"team":"b"}}}"#]).await;
    assert!(!r.ok && r.stderr.contains("application/strategic-merge-patch+json is not supported"), "{}", r.stderr);

    // `get -w` prints rows as the simulated MachineDeployment scales out.
    let mut watch = kubectl_command(&s, &["get", "machines", "-w", "--no-headers"]).spawn().unwrap();
    let mut lines = BufReader::new(watch.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(Duration::from_secs(20), lines.next_line()).await.expect("initial rows").unwrap();
    assert!(first.is_some_and(|l| l.starts_with("qs1-")));
    let scale = r#"[{"op":"replace","path":"/spec/topology/workers/machineDeployments/0/replicas","value":2}]"#;
    let r = kubectl(&s, &["patch", "cluster", "qs1", "--type", "json", "-p", scale]).await;
    assert!(r.ok, "{}", r.stderr);
    // The scale subresource (what the topology now asks for anyway).
    let r = kubectl(&s, &["scale", "machinedeployment", "-l", "cluster.x-k8s.io/cluster-name=qs1", "--replicas=2"]).await;
    assert!(r.ok && r.stdout.contains("scaled"), "{}", r.stderr);
    let mut seen = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while seen < 5 {
        match tokio::time::timeout_at(deadline, lines.next_line()).await {
            Ok(Ok(Some(line))) => {
                assert!(line.starts_with("qs1-"), "unexpected watch line {line}");
                seen += 1;
            }
            other => panic!("the watch stopped printing after {seen} lines: {other:?}"),
        }
    }
    watch.kill().await.unwrap();

    // delete waits until the Cluster is gone (its finalizers drive the teardown).
    let r = kubectl(&s, &["delete", "cluster", "qs1", "--timeout=90s"]).await;
    assert!(r.ok && r.stdout.contains("\"qs1\" deleted"), "{}", r.stderr);
    let r = kubectl(&s, &["get", "cluster", "qs1"]).await;
    assert!(!r.ok && r.stderr.contains(r#"Error from server (NotFound): clusters.cluster.x-k8s.io "qs1" not found"#), "{}", r.stderr);
    let r = kubectl(&s, &["get", "machines", "-A", "-o", "name"]).await;
    assert_eq!(r.stdout.trim(), "", "machines are gone with their cluster");
    s.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_delete_waits_for_finalizers_and_dry_run_persists_nothing() {
    if !have_kubectl("kubectl_delete_waits_for_finalizers_and_dry_run_persists_nothing") {
        return;
    }
    let s = serve(|o| o.speed = 1.0).await;
    let held = s.dir.path().join("held.yaml");
    std::fs::write(&held, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: held\n  finalizers: [example.com/hold]\ndata: {}\n")
        .unwrap();
    let r = kubectl(&s, &["create", "-f", held.to_str().unwrap()]).await;
    assert!(r.ok, "{}", r.stderr);

    let mut delete = kubectl_command(&s, &["delete", "configmap", "held", "--timeout=60s"]).spawn().unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(delete.try_wait().unwrap().is_none(), "delete must wait while the finalizer is there");
    let r = kubectl(&s, &["get", "cm", "held", "-o", "jsonpath={.metadata.deletionTimestamp}"]).await;
    assert!(!r.stdout.is_empty(), "deletionTimestamp is set");
    let r = kubectl(&s, &["patch", "cm", "held", "--type", "json", "-p", r#"[{"op":"remove","path":"/metadata/finalizers"}]"#]).await;
    assert!(r.ok, "{}", r.stderr);
    let status = tokio::time::timeout(Duration::from_secs(20), delete.wait()).await.expect("delete returns").unwrap();
    assert!(status.success());

    let dry = s.dir.path().join("dry.yaml");
    std::fs::write(&dry, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: dry\ndata: {a: b}\n").unwrap();
    let r = kubectl(&s, &["create", "--dry-run=server", "-f", dry.to_str().unwrap()]).await;
    assert!(r.ok && r.stdout.contains("created (server dry run)"), "{}", r.stderr);
    let r = kubectl(&s, &["get", "cm", "dry"]).await;
    assert!(!r.ok && r.stderr.contains("NotFound"));

    // Server-side apply creates, then updates.
    let r = kubectl(&s, &["apply", "--server-side", "-f", dry.to_str().unwrap()]).await;
    assert!(r.ok && r.stdout.contains("serverside-applied"), "{}", r.stderr);
    let r = kubectl(&s, &["get", "cm", "dry", "-o", "jsonpath={.data.a}"]).await;
    assert_eq!(r.stdout, "b");

    let r = kubectl(&s, &["api-resources", "--api-group=cluster.x-k8s.io", "-o", "name"]).await;
    assert!(r.stdout.lines().any(|l| l == "clusters.cluster.x-k8s.io"), "{}", r.stdout);
    let r = kubectl(&s, &["get", "cluster-api", "-A"]).await;
    assert!(r.ok, "the cluster-api category resolves: {}", r.stderr);
    s.server.shutdown().await.unwrap();
}

/// kubectl's default `--validate=strict` sends `fieldValidation=Strict`: a misspelt field of a
/// Cluster API kind is refused as a real API server refuses it, `--validate=warn` stores the object
/// pruned with kubectl's `Warning:` line, and a value outside the schema is a 422.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_field_validation_follows_the_schema() {
    if !have_kubectl("kubectl_field_validation_follows_the_schema") {
        return;
    }
    let s = serve(|o| o.speed = 1.0).await;
    let crs = |name: &str, kind: &str, extra: &str| {
        format!(
            "apiVersion: addons.cluster.x-k8s.io/v1beta2\nkind: ClusterResourceSet\nmetadata: {{name: {name}, namespace: default}}\n\
             spec:\n  clusterSelector: {{matchLabels: {{cni: calico}}}}\n  resources: [{{name: cni, kind: {kind}}}]\n{extra}"
        )
    };
    let file = s.dir.path().join("crs.yaml");
    std::fs::write(&file, crs("crs", "ConfigMap", "  colour: blue\n")).unwrap();
    let f = file.to_str().unwrap();
    let r = kubectl(&s, &["apply", "-f", f]).await;
    assert!(!r.ok, "strict by default: {}", r.stdout);
    assert!(
        r.stderr.contains(
            "ClusterResourceSet in version \"v1beta2\" cannot be handled as a ClusterResourceSet: strict decoding error: unknown field \"spec.colour\""
        ),
        "{}",
        r.stderr
    );
    let r = kubectl(&s, &["apply", "--validate=warn", "-f", f]).await;
    assert!(r.ok && r.stderr.contains("Warning: unknown field \"spec.colour\""), "{}\n{}", r.stdout, r.stderr);
    let r = kubectl(&s, &["get", "clusterresourceset", "crs", "-o", "jsonpath={.spec}"]).await;
    assert!(r.ok && !r.stdout.contains("colour") && r.stdout.contains("cni"), "{}", r.stdout);
    std::fs::write(&file, crs("crs2", "Pod", "")).unwrap();
    let r = kubectl(&s, &["apply", "-f", f]).await;
    assert!(
        r.stderr.contains("spec.resources[0].kind: Unsupported value: \"Pod\": supported values: \"Secret\", \"ConfigMap\""),
        "{}",
        r.stderr
    );
    s.server.shutdown().await.unwrap();
}

/// `kubectl apply --server-side` keeps field ownership as a real API server does: a field another
/// manager changed is a 409 with upstream's conflict text, `--force-conflicts` takes it, a field the
/// file drops is removed, and `--show-managed-fields` lists the managers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_server_side_apply_keeps_field_ownership() {
    if !have_kubectl("kubectl_server_side_apply_keeps_field_ownership") {
        return;
    }
    let s = serve(|o| o.speed = 1.0).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cm.yaml");
    let write = |data: &str| {
        std::fs::write(&file, format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: owned, namespace: default}}\ndata: {{{data}}}\n"))
            .unwrap()
    };
    write("a: one, b: two");
    let r = kubectl(&s, &["apply", "--server-side", "-f", file.to_str().unwrap()]).await;
    assert!(r.ok, "{}", r.stderr);
    // Someone else changes a: the field is theirs now.
    let r = kubectl(&s, &["patch", "cm", "owned", "--type=merge", "-p", r#"{"data":{"a":"edited"}}"#]).await;
    assert!(r.ok, "{}", r.stderr);
    write("a: one, b: two");
    let r = kubectl(&s, &["apply", "--server-side", "-f", file.to_str().unwrap()]).await;
    assert!(!r.ok, "a conflict: {}", r.stdout);
    assert!(r.stderr.contains("Apply failed with 1 conflict: conflict with \"kubectl-patch\""), "{}", r.stderr);
    assert!(r.stderr.contains(".data.a"), "{}", r.stderr);
    let r = kubectl(&s, &["apply", "--server-side", "--force-conflicts", "-f", file.to_str().unwrap()]).await;
    assert!(r.ok, "{}", r.stderr);
    let r = kubectl(&s, &["get", "cm", "owned", "-o", "jsonpath={.data.a}"]).await;
    assert_eq!(r.stdout, "one");
    // The file drops b: it goes, as it was only the applier's.
    write("a: one");
    let r = kubectl(&s, &["apply", "--server-side", "-f", file.to_str().unwrap()]).await;
    assert!(r.ok, "{}", r.stderr);
    let r = kubectl(&s, &["get", "cm", "owned", "-o", "json"]).await;
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["data"], serde_json::json!({"a": "one"}));
    assert!(v["metadata"].get("managedFields").is_none(), "kubectl hides managedFields by default");
    let r = kubectl(&s, &["get", "cm", "owned", "-o", "json", "--show-managed-fields"]).await;
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let managers: Vec<&str> = v["metadata"]["managedFields"].as_array().unwrap().iter().map(|e| e["manager"].as_str().unwrap()).collect();
    assert_eq!(managers, vec!["kubectl"], "{}", v["metadata"]["managedFields"]);
    s.server.shutdown().await.unwrap();
}

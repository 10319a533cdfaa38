//! What a user of a real management cluster does with built-in kinds, against the served simulator:
//! protobuf bodies (`kubectl create configmap|namespace|secret` send
//! `application/vnd.kubernetes.protobuf`), `kubectl get events` with the API server's columns and
//! `--field-selector involvedObject.*`, the Events section of `kubectl describe`, and a workload
//! cluster reached through its kubeconfig Secret (`create deployment`, `scale`, `get all`, `get nodes -o wide`, `get pods -n kube-system -o
//! wide`, namespaces, configmaps, `create` and plain `apply`).

use super::errors::{http_bytes, Api, SEC};
use super::{eventually, have_kubectl, kubectl, quick_start_yaml, serve, Run, Served};
use base64::Engine as _;
use capi_conformance::apiserver::protobuf::envelope;
use k8s_pb::api::core::v1 as core;
use k8s_pb::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use prost::Message;
use std::path::PathBuf;
use std::time::Duration;

const PB: (&str, &str) = ("Content-Type", "application/vnd.kubernetes.protobuf");
/// What client-go's typed clients accept.
const PB_ACCEPT: (&str, &str) = ("Accept", "application/vnd.kubernetes.protobuf, application/json");

fn meta(name: &str) -> Option<ObjectMeta> {
    Some(ObjectMeta { name: Some(name.into()), ..Default::default() })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protobuf_bodies_of_core_kinds_are_decoded_and_answered_in_json() {
    let s = serve(|o| o.speed = 0.0).await;
    let a = Api::of(&s);
    let cm = core::ConfigMap { metadata: meta("pb"), data: [("a".to_string(), "b".to_string())].into(), ..Default::default() };
    let body = envelope("v1", "ConfigMap", cm.encode_to_vec());
    let r = http_bytes(a, "POST", "/api/v1/namespaces/default/configmaps", &[PB, PB_ACCEPT], &body, SEC).await;
    assert_eq!(r.code, 201, "{}", r.body);
    let v = r.json();
    assert_eq!((v["kind"].as_str(), v["data"]["a"].as_str()), (Some("ConfigMap"), Some("b")));
    assert!(v["metadata"]["uid"].is_string() && v["metadata"]["resourceVersion"].is_string(), "{v}");

    let ns = core::Namespace { metadata: meta("pb-ns"), ..Default::default() };
    let r = http_bytes(a, "POST", "/api/v1/namespaces", &[PB, PB_ACCEPT], &envelope("v1", "Namespace", ns.encode_to_vec()), SEC).await;
    assert_eq!((r.code, r.json()["metadata"]["name"].as_str().map(str::to_string)), (201, Some("pb-ns".into())), "{}", r.body);

    let secret = core::Secret { metadata: meta("pb-secret"), data: [("k".to_string(), b"v".to_vec())].into(), ..Default::default() };
    let body = envelope("v1", "Secret", secret.encode_to_vec());
    let r = http_bytes(a, "POST", "/api/v1/namespaces/pb-ns/secrets", &[PB, PB_ACCEPT], &body, SEC).await;
    assert_eq!((r.code, r.json()["data"]["k"].as_str().map(str::to_string)), (201, Some("dg==".into())), "{}", r.body);

    // A kind the decoder does not know, protobuf as a patch, and a body without the envelope.
    let r = http_bytes(a, "POST", "/api/v1/namespaces/default/configmaps", &[PB], &envelope("apps/v1", "StatefulSet", vec![]), SEC).await;
    assert_eq!((r.code, r.json()["reason"].as_str().map(str::to_string)), (415, Some("UnsupportedMediaType".into())), "{}", r.body);
    let r = http_bytes(a, "PATCH", "/api/v1/namespaces/default/configmaps/pb", &[PB], &body, SEC).await;
    assert_eq!(r.code, 415, "{}", r.body);
    let r = http_bytes(a, "POST", "/api/v1/namespaces/default/configmaps", &[PB], b"{}", SEC).await;
    assert_eq!((r.code, r.json()["reason"].as_str().map(str::to_string)), (400, Some("BadRequest".into())), "{}", r.body);
    s.server.shutdown().await.unwrap();
}

/// A served simulator with a quick-start Cluster `qs1` (1 control plane, 1 worker) applied.
async fn with_cluster() -> Served {
    let s = serve(|o| o.speed = 300.0).await;
    let manifest = s.dir.path().join("quick-start.yaml");
    std::fs::write(&manifest, quick_start_yaml("qs1", "v1.13", 1, 1)).unwrap();
    let r = kubectl(&s, &["apply", "-f", manifest.to_str().unwrap()]).await;
    assert!(r.ok, "apply failed: {}", r.stderr);
    s
}

async fn until(s: &Served, args: &[&str], what: &str, ok: impl Fn(&Run) -> bool) -> Run {
    eventually(Duration::from_secs(90), what, || async {
        let r = kubectl(s, args).await;
        ok(&r).then_some(r)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_creates_core_kinds_and_shows_events() {
    if !have_kubectl("kubectl_creates_core_kinds_and_shows_events") {
        return;
    }
    let s = with_cluster().await;
    // Typed `kubectl create` subcommands send protobuf.
    let r = kubectl(&s, &["create", "configmap", "x", "--from-literal=a=b"]).await;
    assert!(r.ok && r.stdout.contains("configmap/x created"), "{}", r.stderr);
    let r = kubectl(&s, &["get", "configmap", "x", "-o", "jsonpath={.data.a}"]).await;
    assert_eq!(r.stdout, "b");
    let r = kubectl(&s, &["create", "namespace", "y"]).await;
    assert!(r.ok && r.stdout.contains("namespace/y created"), "{}", r.stderr);
    let r = kubectl(&s, &["create", "secret", "generic", "z", "-n", "y", "--from-literal=password=hunter2"]).await;
    assert!(r.ok && r.stdout.contains("secret/z created"), "{}", r.stderr);
    let r = kubectl(&s, &["get", "secret", "z", "-n", "y", "-o", "jsonpath={.data.password}"]).await;
    assert_eq!(base64::engine::general_purpose::STANDARD.decode(r.stdout.trim()).unwrap(), b"hunter2");

    // Events, with the API server's columns.
    let r = until(&s, &["get", "events"], "the ControlPlaneInitialized event", |r| r.stdout.contains("ControlPlaneInitialized")).await;
    let header: Vec<&str> = r.stdout.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"], "{}", r.stdout);
    let row = r.stdout.lines().find(|l| l.contains("ControlPlaneInitialized")).unwrap();
    assert!(
        row.contains("Normal") && row.contains("cluster/qs1") && row.contains("Cluster qs1 ControlPlaneInitialized is now True"),
        "{row}"
    );

    // The selectors `kubectl describe` uses.
    let r = kubectl(&s, &["get", "events", "--field-selector", "involvedObject.name=qs1,involvedObject.kind=Cluster", "-o", "name"]).await;
    assert!(r.ok && !r.stdout.trim().is_empty(), "{}", r.stderr);
    let machine_events = kubectl(&s, &["get", "events", "--field-selector", "involvedObject.kind=Machine", "-o", "name"]).await;
    let cluster_events = r.stdout.lines().collect::<Vec<_>>();
    assert!(machine_events.stdout.lines().all(|l| !cluster_events.contains(&l)), "the selectors separate the objects' events");
    let r = kubectl(&s, &["get", "events", "--field-selector", "involvedObject.name=nothing-has-this-name"]).await;
    assert!(r.ok && r.stderr.contains("No resources found"), "{}", r.stderr);

    let r = kubectl(&s, &["describe", "cluster", "qs1"]).await;
    let events = r.stdout.split("Events:").nth(1).unwrap_or_else(|| panic!("no Events section: {}", r.stdout));
    assert!(events.contains("ControlPlaneInitialized") && events.contains("Normal"), "{events}");
    let r = until(&s, &["get", "machines", "-o", "name"], "machines", |r| r.ok && !r.stdout.trim().is_empty()).await;
    let machines: Vec<String> = r.stdout.lines().map(|l| l.trim().to_string()).collect();
    let described = eventually(Duration::from_secs(90), "a Machine's SuccessfulSetNodeRef event in describe", || async {
        for m in &machines {
            let r = kubectl(&s, &["describe", m]).await;
            if r.stdout.split("Events:").nth(1).is_some_and(|e| e.contains("SuccessfulSetNodeRef")) {
                return Some(r);
            }
        }
        None
    })
    .await;
    assert!(described.ok);
    s.server.shutdown().await.unwrap();
}

/// The workload kubeconfig of `qs1`, from its Secret.
async fn workload_kubeconfig(s: &Served) -> PathBuf {
    let r = until(s, &["get", "secret", "qs1-kubeconfig", "-o", "jsonpath={.data.value}"], "the kubeconfig Secret", |r| {
        r.ok && !r.stdout.is_empty()
    })
    .await;
    let text = base64::engine::general_purpose::STANDARD.decode(r.stdout.trim()).unwrap();
    let path = s.dir.path().join("qs1.kubeconfig");
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_reaches_a_workload_cluster() {
    if !have_kubectl("kubectl_reaches_a_workload_cluster") {
        return;
    }
    let s = with_cluster().await;
    let wl = workload_kubeconfig(&s).await;
    let wl = wl.to_str().unwrap();
    let on_wl = |args: &[&str]| [&["--kubeconfig", wl][..], args].concat().iter().map(|a| a.to_string()).collect::<Vec<_>>();
    let run = |args: Vec<String>| {
        let s = &s;
        async move { kubectl(s, &args.iter().map(String::as_str).collect::<Vec<_>>()).await }
    };
    // Two nodes (NotReady: the quick-start installs no CNI, as on KinD before one is applied).
    let nodes = eventually(Duration::from_secs(90), "two nodes", || async {
        let r = run(on_wl(&["get", "nodes", "-o", "wide"])).await;
        (r.ok && r.stdout.lines().skip(1).filter(|l| l.contains("Ready ")).count() == 2).then_some(r)
    })
    .await;
    let header: Vec<&str> = nodes.stdout.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        ["NAME", "STATUS", "ROLES", "AGE", "VERSION", "INTERNAL-IP", "EXTERNAL-IP", "OS-IMAGE", "KERNEL-VERSION", "CONTAINER-RUNTIME"]
    );
    let cp = nodes.stdout.lines().find(|l| l.contains("control-plane")).unwrap_or_else(|| panic!("{}", nodes.stdout));
    assert!(cp.contains("v1.34.3") && cp.contains("containerd://") && cp.contains("<none>"), "{cp}");
    let ip = cp.split_whitespace().nth(5).unwrap();
    assert!(ip.parse::<std::net::Ipv4Addr>().is_ok(), "INTERNAL-IP is an address: {cp}");
    let r = run(on_wl(&["get", "nodes", "-o", "jsonpath={.items[*].spec.providerID}"])).await;
    assert!(r.stdout.contains("docker:////qs1-"), "{}", r.stdout);

    let r = run(on_wl(&["get", "pods", "-n", "kube-system", "-o", "wide"])).await;
    assert!(r.ok, "{}", r.stderr);
    let header: Vec<&str> = r.stdout.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(&header[..6], ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP"]);
    let apiserver = r.stdout.lines().find(|l| l.starts_with("kube-apiserver-qs1-")).unwrap_or_else(|| panic!("{}", r.stdout));
    assert!(apiserver.contains("1/1") && apiserver.contains("Running") && apiserver.contains(ip), "{apiserver}");

    let r = run(on_wl(&["get", "namespaces"])).await;
    assert!(r.stdout.contains("kube-system") && r.stdout.contains("Active"), "{}", r.stdout);
    // Typed create (protobuf) and a plain apply (OpenAPI-checked by kubectl, no --validate=false).
    let r = run(on_wl(&["create", "configmap", "wl-settings", "--from-literal=color=blue"])).await;
    assert!(r.ok && r.stdout.contains("configmap/wl-settings created"), "{}", r.stderr);
    let manifest = s.dir.path().join("wl.yaml");
    std::fs::write(&manifest, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\n  namespace: kube-system\ndata:\n  a: b\n")
        .unwrap();
    let r = run(on_wl(&["apply", "-f", manifest.to_str().unwrap()])).await;
    assert!(r.ok && r.stdout.contains("configmap/applied created"), "{}", r.stderr);
    let r = run(on_wl(&["apply", "-f", manifest.to_str().unwrap()])).await;
    assert!(r.ok && r.stdout.contains("configmap/applied unchanged"), "{}{}", r.stdout, r.stderr);
    let r = run(on_wl(&["get", "configmaps", "-A"])).await;
    assert!(r.stdout.contains("wl-settings") && r.stdout.contains("applied"), "{}", r.stdout);

    // The workload kinds `kubectl create` sends as protobuf, `kubectl scale` through discovery's
    // `deployments/scale`, short names, the `all` category, and ages set by the server.
    for (args, created) in [
        (&["create", "deployment", "web", "--image=nginx", "--replicas=2", "--port=80"][..], "deployment.apps/web created"),
        (&["create", "service", "clusterip", "web", "--tcp=80:80"][..], "service/web created"),
        (
            &["create", "poddisruptionbudget", "web", "--selector=app=web", "--min-available=1"][..],
            "poddisruptionbudget.policy/web created",
        ),
        (&["create", "job", "once", "--image=busybox", "--", "echo", "hi"][..], "job.batch/once created"),
    ] {
        let r = run(on_wl(args)).await;
        assert!(r.ok && r.stdout.contains(created), "{args:?}: {}{}", r.stdout, r.stderr);
    }
    let r = run(on_wl(&["scale", "deployment", "web", "--replicas=3"])).await;
    assert!(r.ok && r.stdout.contains("deployment.apps/web scaled"), "{}{}", r.stdout, r.stderr);
    let r = run(on_wl(&["get", "deploy", "web", "-o", "jsonpath={.spec.replicas}/{.spec.template.spec.containers[0].image}"])).await;
    assert_eq!(r.stdout, "3/nginx", "{}", r.stderr);
    let r = run(on_wl(&["get", "pdb", "web", "-o", "jsonpath={.spec.minAvailable}"])).await;
    assert_eq!(r.stdout, "1", "{}", r.stderr);
    let r = run(on_wl(&["get", "ns"])).await;
    assert!(r.ok && !r.stdout.contains("<unknown>"), "namespaces have an age: {}{}", r.stdout, r.stderr);
    let r = run(on_wl(&["get", "all", "-n", "default"])).await;
    for shown in ["service/web", "deployment.apps/web", "job.batch/once"] {
        assert!(r.stdout.contains(shown), "get all shows {shown}: {}{}", r.stdout, r.stderr);
    }
    assert!(!r.stdout.contains("<unknown>"), "created objects have an age: {}", r.stdout);
    // Static Pods are mirror Pods, which kubectl drain leaves alone.
    let r = run(on_wl(&["get", "pods", "-n", "kube-system", "-o", "jsonpath={.items[0].metadata.annotations}"])).await;
    assert!(r.stdout.contains("kubernetes.io/config.mirror"), "{}", r.stdout);
    s.server.shutdown().await.unwrap();
}

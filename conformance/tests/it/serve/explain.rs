//! Real kubectl reads the served schemas: `kubectl explain` of Cluster API kinds (OpenAPI v3 from
//! the simulator's own types), `kubectl get crds` and a CRD with its schema, and the OpenAPI v2
//! document (`kubectl get --raw /openapi/v2`).

use super::{have_kubectl, kubectl, serve};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_explains_capi_kinds_and_lists_crds() {
    if !have_kubectl("kubectl_explains_capi_kinds_and_lists_crds") {
        return;
    }
    let s = serve(|_| {}).await;

    let r = kubectl(&s, &["explain", "cluster.spec.topology"]).await;
    assert!(r.ok, "{}", r.stderr);
    assert!(r.stdout.contains("GROUP:      cluster.x-k8s.io") && r.stdout.contains("KIND:       Cluster"), "{}", r.stdout);
    for field in ["classRef\t<Object> -required-", "version\t<string> -required-", "controlPlane\t<Object>", "variables\t<[]Object>"] {
        assert!(r.stdout.contains(field), "no {field:?} in:\n{}", r.stdout);
    }
    let r = kubectl(&s, &["explain", "kubeadmcontrolplane.spec"]).await;
    assert!(r.ok, "{}", r.stderr);
    for field in
        ["kubeadmConfigSpec\t<Object>", "machineTemplate\t<Object> -required-", "version\t<string> -required-", "replicas\t<integer>"]
    {
        assert!(r.stdout.contains(field), "no {field:?} in:\n{}", r.stdout);
    }
    let r = kubectl(&s, &["explain", "devmachine.spec.backend.docker", "--recursive"]).await;
    assert!(r.ok && r.stdout.contains("extraMounts"), "{}{}", r.stdout, r.stderr);

    let r = kubectl(&s, &["get", "crds"]).await;
    assert!(r.ok, "{}", r.stderr);
    for crd in [
        "clusters.cluster.x-k8s.io",
        "kubeadmcontrolplanes.controlplane.cluster.x-k8s.io",
        "dockermachines.infrastructure.cluster.x-k8s.io",
    ] {
        assert!(r.stdout.contains(crd), "no {crd} in:\n{}", r.stdout);
    }
    let r = kubectl(&s, &["get", "crd", "clusters.cluster.x-k8s.io", "-o", "json"]).await;
    assert!(r.ok, "{}", r.stderr);
    let crd: Value = serde_json::from_str(&r.stdout).expect("a CRD as JSON");
    let v = &crd["spec"]["versions"][0];
    assert_eq!(v["name"], "v1beta2");
    assert_eq!(v["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["topology"]["required"][0], "classRef");
    assert!(v["subresources"].get("status").is_some());
    assert_eq!(crd["spec"]["names"]["shortNames"][0], "cl");

    let r = kubectl(&s, &["get", "--raw", "/openapi/v2"]).await;
    assert!(r.ok, "{}", r.stderr);
    let doc: Value = serde_json::from_str(&r.stdout).expect("OpenAPI v2 as JSON");
    assert_eq!(doc["definitions"]["io.x-k8s.cluster.v1beta2.Cluster"]["x-kubernetes-group-version-kind"][0]["kind"], "Cluster");
}

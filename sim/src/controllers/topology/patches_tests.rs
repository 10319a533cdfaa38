//! Tests of the patch engine: the quick-start patches, variable paths, errors and the memo.

use super::*;
use rstest::rstest;

fn qs_patches(dev: bool) -> Vec<Value> {
    let file = if dev {
        include_str!("../../../../fixtures/providers/docker/v1.15/clusterclass-quick-start.yaml")
    } else {
        include_str!("../../../../fixtures/providers/docker/v1.13/clusterclass-quick-start.yaml")
    };
    let class: Value = serde_yaml::Deserializer::from_str(file)
        .map(|d| <Value as serde::Deserialize>::deserialize(d).unwrap())
        .find(|v| v["kind"] == "ClusterClass")
        .unwrap();
    class["spec"]["patches"].as_array().unwrap().clone()
}

fn qs_status(dev: bool) -> Vec<Value> {
    let file = if dev {
        include_str!("../../../../fixtures/providers/docker/v1.15/clusterclass-quick-start.yaml")
    } else {
        include_str!("../../../../fixtures/providers/docker/v1.13/clusterclass-quick-start.yaml")
    };
    let class: Value = serde_yaml::Deserializer::from_str(file)
        .map(|d| <Value as serde::Deserialize>::deserialize(d).unwrap())
        .find(|v| v["kind"] == "ClusterClass")
        .unwrap();
    super::super::variables::status_variables(class["spec"]["variables"].as_array().unwrap())
}

fn kcp_template() -> Value {
    json!({"apiVersion": "controlplane.cluster.x-k8s.io/v1beta2", "kind": "KubeadmControlPlaneTemplate",
        "metadata": {"name": "quick-start-control-plane"},
        "spec": {"template": {"spec": {"kubeadmConfigSpec": {"clusterConfiguration": {"apiServer": {"certSANs": ["localhost"]}}}}}}})
}

fn machine_template(dev: bool) -> Value {
    if dev {
        json!({"apiVersion": "infrastructure.cluster.x-k8s.io/v1beta2", "kind": "DevMachineTemplate", "metadata": {"name": "t"},
            "spec": {"template": {"spec": {"backend": {"docker": {"extraMounts": []}}}}}})
    } else {
        json!({"apiVersion": "infrastructure.cluster.x-k8s.io/v1beta2", "kind": "DockerMachineTemplate", "metadata": {"name": "t"},
            "spec": {"template": {"spec": {"extraMounts": []}}}})
    }
}

fn items(dev: bool) -> Vec<Item> {
    vec![
        Item {
            holder: Holder::ControlPlane,
            template: std::sync::Arc::new(kcp_template()),
            source: None,
            builtin: json!({"controlPlane": {"version": "v1.34.0", "name": "c1-abcde"}}),
            overrides: vec![],
        },
        Item {
            holder: Holder::ControlPlaneMachine,
            template: std::sync::Arc::new(machine_template(dev)),
            source: None,
            builtin: json!({"controlPlane": {"version": "v1.34.0+k3s1", "name": "c1-abcde"}}),
            overrides: vec![],
        },
        Item {
            holder: Holder::MdInfra("md-0".into()),
            template: std::sync::Arc::new(machine_template(dev)),
            source: None,
            builtin: json!({"machineDeployment": {"version": "v1.33.1", "class": "default-worker", "name": "c1-md-0-xyz", "topologyName": "md-0"}}),
            overrides: vec![],
        },
        Item {
            holder: Holder::MdInfra("md-1".into()),
            template: std::sync::Arc::new(machine_template(dev)),
            source: None,
            builtin: json!({"machineDeployment": {"version": "v1.33.1", "class": "other", "name": "c1-md-1-xyz", "topologyName": "md-1"}}),
            overrides: vec![],
        },
    ]
}

fn run(dev: bool, vars: Value) -> Vec<Item> {
    let mut its = items(dev);
    apply(
        &Memo::default(),
        None,
        &qs_patches(dev),
        &qs_status(dev),
        vars.as_array().unwrap(),
        &json!({"cluster": {"name": "c1", "namespace": "default"}}),
        &mut its,
    )
    .unwrap();
    its
}

fn default_vars(pss_enabled: bool, etcd: &str) -> Value {
    json!([{"name": "imageRepository", "value": ""}, {"name": "etcdImageTag", "value": etcd}, {"name": "coreDNSImageTag", "value": ""},
        {"name": "podSecurityStandard", "value": {"enabled": pss_enabled, "enforce": "baseline", "audit": "restricted", "warn": "restricted"}}])
}

#[rstest]
#[case(false, "/spec/template/spec/customImage")]
#[case(true, "/spec/template/spec/backend/docker/customImage")]
fn custom_image_follows_builtin_versions(#[case] dev: bool, #[case] pointer: &str) {
    let its = run(dev, default_vars(true, ""));
    assert_eq!(its[1].template.ptr(pointer), Some(&json!("kindest/node:v1.34.0_k3s1")));
    assert_eq!(its[2].template.ptr(pointer), Some(&json!("kindest/node:v1.33.1")));
    // Class "other" is not selected by the patch.
    assert_eq!(its[3].template.ptr(pointer), None);
}

#[rstest]
#[case(true, "", true, false)]
#[case(false, "", false, false)]
#[case(true, "3.5.3-0", true, true)]
fn enabled_if_switches_patches(#[case] pss: bool, #[case] etcd: &str, #[case] want_pss: bool, #[case] want_etcd: bool) {
    let its = run(false, default_vars(pss, etcd));
    let spec = &its[0].template["spec"]["template"]["spec"]["kubeadmConfigSpec"];
    assert_eq!(spec.get("files").is_some(), want_pss);
    assert_eq!(spec["clusterConfiguration"]["apiServer"].get("extraArgs").is_some(), want_pss);
    assert_eq!(spec["clusterConfiguration"].get("etcd").is_some(), want_etcd);
    if want_etcd {
        assert_eq!(spec["clusterConfiguration"]["etcd"], json!({"local": {"imageTag": "3.5.3-0"}}));
    }
    if want_pss {
        let content = spec["files"][0]["content"].as_str().unwrap();
        assert!(content.contains("apiVersion: pod-security.admission.config.k8s.io/v1\n"), "{content}");
        assert!(content.contains("enforce: \"baseline\""), "{content}");
        assert_eq!(spec["files"][0]["path"], "/etc/kubernetes/kube-apiserver-admission-pss.yaml");
    }
}

#[test]
fn overrides_win_over_cluster_variables() {
    let patches = vec![json!({"name": "p", "definitions": [{"selector": {"apiVersion": "controlplane.cluster.x-k8s.io/v1beta2",
        "kind": "KubeadmControlPlaneTemplate", "matchResources": {"controlPlane": true}},
        "jsonPatches": [{"op": "add", "path": "/spec/template/spec/kubeadmConfigSpec/clusterConfiguration/imageRepository",
            "valueFrom": {"variable": "repo"}}]}]})];
    let status = super::super::variables::status_variables(&[json!({"name": "repo", "schema": {"openAPIV3Schema": {"type": "string"}}})]);
    let mut its = vec![Item {
        holder: Holder::ControlPlane,
        template: std::sync::Arc::new(kcp_template()),
        source: None,
        builtin: json!({"controlPlane": {"version": "v1.34.0"}}),
        overrides: vec![json!({"name": "repo", "value": "cp.io"})],
    }];
    apply(&Memo::default(), None, &patches, &status, &[json!({"name": "repo", "value": "global.io"})], &json!({}), &mut its).unwrap();
    assert_eq!(its[0].template["spec"]["template"]["spec"]["kubeadmConfigSpec"]["clusterConfiguration"]["imageRepository"], "cp.io");
}

/// The KubeadmControlPlaneTemplate as the control plane's item, without builtins or overrides.
fn kcp_item() -> Item {
    Item {
        holder: Holder::ControlPlane,
        template: std::sync::Arc::new(kcp_template()),
        source: None,
        builtin: json!({}),
        overrides: vec![],
    }
}

/// The memo trusts a stored ClusterClass's uid and resourceVersion to name its content. That holds
/// within one simulation only: two simulations (one after another on a thread, as a swarm runs
/// seeds) can give different classes the same uid and resourceVersion, so each has its own memo.
#[test]
fn the_patch_memo_belongs_to_one_simulation() {
    let patches = |value: &str| {
        vec![json!({"name": "p", "definitions": [{"selector": {"apiVersion": "controlplane.cluster.x-k8s.io/v1beta2",
            "kind": "KubeadmControlPlaneTemplate", "matchResources": {"controlPlane": true}},
            "jsonPatches": [{"op": "add", "path": "/spec/template/spec/kubeadmConfigSpec/clusterConfiguration/imageRepository",
                "value": value}]}]})]
    };
    let class = Version { uid: "same-uid".into(), resource_version: 7 };
    let repo = |memo: &Memo, value: &str| {
        let mut its = vec![kcp_item()];
        apply(memo, Some(&class), &patches(value), &[], &[], &json!({"cluster": {"name": "c", "uid": "c-uid"}}), &mut its).unwrap();
        its[0].template["spec"]["template"]["spec"]["kubeadmConfigSpec"]["clusterConfiguration"]["imageRepository"].clone()
    };
    let first = Memo::default();
    assert_eq!(repo(&first, "a.io"), "a.io");
    assert_eq!(repo(&first, "b.io"), "a.io", "within a simulation, the version names the content");
    assert_eq!(repo(&Memo::default(), "b.io"), "b.io", "another simulation starts with its own memo");
}

/// Templates are converted to JSON once per stored version; a new resourceVersion is read anew,
/// and an object never stored is always converted.
#[test]
fn template_json_is_kept_per_stored_version() {
    let memo = Memo::default();
    let mut t = crate::object::Object::new(crate::kinds::Kind::DockerMachineTemplate, "default", "t");
    t.set("/spec/template/spec/extraMounts", json!([]));
    assert!(memo.template_json(&t)["spec"]["template"]["spec"]["extraMounts"].is_array(), "not stored: converted");
    t.meta.uid = "t-uid".into();
    t.meta.resource_version = 1;
    let first = memo.template_json(&t);
    assert!(std::sync::Arc::ptr_eq(&first, &memo.template_json(&t)), "the same version is converted once");
    t.set("/spec/template/spec/extraMounts", json!([{"hostPath": "/x"}]));
    t.meta.resource_version = 2;
    assert_eq!(memo.template_json(&t)["spec"]["template"]["spec"]["extraMounts"][0]["hostPath"], "/x");
}

#[rstest]
#[case("builtin.controlPlane.version", Ok(json!("v1")))]
#[case("list[1]", Ok(json!(2)))]
#[case("obj.a[0].b", Ok(json!("x")))]
#[case("nope", Err("variable \"nope\" does not exist".to_string()))]
#[case("obj.zz", Err("variable \"obj.zz\" does not exist: failed to lookup segment \"zz\"".to_string()))]
fn variable_paths(#[case] path: &str, #[case] want: Result<Value, String>) {
    let vars = json!({"builtin": {"controlPlane": {"version": "v1"}}, "list": [1, 2], "obj": {"a": [{"b": "x"}]}});
    assert_eq!(variable_value(&vars, path), want);
}

#[test]
fn patch_errors_name_the_patch() {
    let patches = vec![json!({"name": "broken", "definitions": [{"selector": {"apiVersion": "controlplane.cluster.x-k8s.io/v1beta2",
        "kind": "KubeadmControlPlaneTemplate", "matchResources": {"controlPlane": true}},
        "jsonPatches": [{"op": "replace", "path": "/spec/template/spec/missing/x", "value": 1}]}]})];
    let mut its = vec![kcp_item()];
    let err = apply(&Memo::default(), None, &patches, &[], &[], &json!({}), &mut its).unwrap_err();
    assert!(
        err.starts_with("failed to apply patches for patch \"broken\": failed to apply patch: error applying json patch (RFC6902)"),
        "{err}"
    );
}

#[rstest]
#[case("*", "default-worker", true)]
#[case("default-*", "default-worker", true)]
#[case("*-worker", "default-worker", true)]
#[case("other", "default-worker", false)]
fn class_name_wildcards(#[case] pattern: &str, #[case] class: &str, #[case] want: bool) {
    assert_eq!(name_matches(pattern, class), want);
}

//! Unit tests of the Cluster and ClusterClass webhooks (through an `ApiServer`, as the API server
//! would call them).

use super::*;
use crate::controllers::conditions::Cond;
use crate::store::api::ApiServer;
use crate::store::api::WriteOptions;
use rstest::rstest;
use serde_json::json;

fn gates(on: bool) -> FeatureGates {
    FeatureGates { cluster_topology: on, ..Default::default() }
}

fn server(on: bool) -> ApiServer {
    ApiServer::new(Store::new(7), gates(on), webhooks())
}

fn opts() -> WriteOptions<'static> {
    WriteOptions::at(0)
}

fn cluster(name: &str, version: &str) -> Object {
    Object::from_json(&json!({"apiVersion": "cluster.x-k8s.io/v1beta2", "kind": "Cluster",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"topology": {"classRef": {"name": "quick-start"}, "version": version,
            "controlPlane": {"replicas": 1},
            "workers": {"machineDeployments": [{"class": "default-worker", "name": "md-0", "replicas": 1}]}}}}))
    .unwrap()
}

/// A reconciled ClusterClass with one required variable.
fn reconciled_class(api: &mut ApiServer) {
    let mut cc = Object::from_json(&json!({"apiVersion": "cluster.x-k8s.io/v1beta2", "kind": "ClusterClass",
        "metadata": {"name": "quick-start", "namespace": "default"},
        "spec": {"infrastructure": {"templateRef": {"apiVersion": "infrastructure.cluster.x-k8s.io/v1beta2", "kind": "DevClusterTemplate", "name": "qs"}},
            "controlPlane": {"templateRef": {"apiVersion": "controlplane.cluster.x-k8s.io/v1beta2", "kind": "KubeadmControlPlaneTemplate", "name": "qs"}},
            "workers": {"machineDeployments": [{"class": "default-worker",
                "bootstrap": {"templateRef": {"apiVersion": "bootstrap.cluster.x-k8s.io/v1beta2", "kind": "KubeadmConfigTemplate", "name": "w"}},
                "infrastructure": {"templateRef": {"apiVersion": "infrastructure.cluster.x-k8s.io/v1beta2", "kind": "DevMachineTemplate", "name": "w"}}}]},
            "variables": [{"name": "etcdImageTag", "required": true, "schema": {"openAPIV3Schema": {"type": "string", "default": ""}}},
                          {"name": "cpu", "required": false, "schema": {"openAPIV3Schema": {"type": "integer"}}}]}}))
    .unwrap();
    cc = (*api.create(cc, opts()).unwrap().object).clone();
    let vars = variables::status_variables(cc.at("/spec/variables").unwrap().as_array().unwrap());
    cc.set("/status/variables", Value::Array(vars));
    cc.set("/status/observedGeneration", json!(1));
    conditions::set(&mut cc, [Cond::t("VariablesReady", "VariablesReady")], 0);
    api.update(cc, crate::store::Subresource::Status, None, opts()).unwrap();
}

#[test]
fn create_with_missing_class_warns() {
    let mut api = server(true);
    let w = api.create(cluster("c1", "v1.34.0"), opts()).unwrap();
    assert_eq!(
        w.warnings,
        ["Cluster refers to ClusterClass default/quick-start, but this ClusterClass does not exist. Cluster topology has not been fully validated. The ClusterClass must be created to reconcile the Cluster"]
    );
}

#[test]
fn update_with_missing_class_is_denied() {
    let mut api = server(true);
    let created = api.create(cluster("c1", "v1.34.0"), opts()).unwrap().object;
    let mut changed = (*created).clone();
    changed.meta.labels.insert("x".into(), "y".into());
    let e = api.update(changed, crate::store::Subresource::Main, None, opts()).unwrap_err();
    assert_eq!(
        e.message,
        "admission webhook \"validation.cluster.cluster.x-k8s.io\" denied the request: Cluster.cluster.x-k8s.io \"c1\" is invalid: spec.topology.class: Internal error: ClusterClass default/quick-start not found"
    );
}

#[rstest]
#[case(Kind::Cluster)]
#[case(Kind::ClusterClass)]
fn feature_gate_off_denies(#[case] kind: Kind) {
    let mut api = server(false);
    let e = if kind == Kind::Cluster {
        api.create(cluster("c1", "v1.34.0"), opts()).unwrap_err()
    } else {
        let cc = Object::from_json(&json!({"apiVersion": "cluster.x-k8s.io/v1beta2", "kind": "ClusterClass",
            "metadata": {"name": "qs", "namespace": "default"},
            "spec": {"infrastructure": {"templateRef": {"apiVersion": "infrastructure.cluster.x-k8s.io/v1beta2", "kind": "DevClusterTemplate", "name": "qs"}},
                "controlPlane": {"templateRef": {"apiVersion": "controlplane.cluster.x-k8s.io/v1beta2", "kind": "KubeadmControlPlaneTemplate", "name": "qs"}}}}))
        .unwrap();
        api.create(cc, opts()).unwrap_err()
    };
    let want = if kind == Kind::Cluster {
        "admission webhook \"validation.cluster.cluster.x-k8s.io\" denied the request: Cluster.cluster.x-k8s.io \"c1\" is invalid: spec.topology: Forbidden: can be set only if the ClusterTopology feature flag is enabled"
    } else {
        "admission webhook \"validation.clusterclass.cluster.x-k8s.io\" denied the request: spec: Forbidden: can be set only if the ClusterTopology feature flag is enabled"
    };
    assert_eq!(e.message, want);
}

#[test]
fn defaulting_prefixes_the_version_and_fills_variables() {
    let mut api = server(true);
    reconciled_class(&mut api);
    let w = api.create(cluster("c1", "1.34.0"), opts()).unwrap();
    assert!(w.warnings.is_empty(), "{:?}", w.warnings);
    assert_eq!(w.object.str_at("/spec/topology/version"), Some("v1.34.0"));
    assert_eq!(w.object.at("/spec/topology/variables"), Some(&json!([{"name": "etcdImageTag", "value": ""}])));
}

#[test]
fn invalid_variables_are_denied_by_the_defaulting_webhook() {
    let mut api = server(true);
    reconciled_class(&mut api);
    let mut c = cluster("c1", "v1.34.0");
    c.set("/spec/topology/variables", json!([{"name": "cpu", "value": "two"}]));
    let e = api.create(c, opts()).unwrap_err();
    assert_eq!(
        e.message,
        "admission webhook \"default.cluster.cluster.x-k8s.io\" denied the request: Cluster.cluster.x-k8s.io \"c1\" is invalid: spec.topology.variables[cpu].value: Invalid value: \"\\\"two\\\"\": must be of type integer: \"string\""
    );
}

fn with_cp(api: &mut ApiServer, spec: &str, versions: &[&str]) -> Arc<Object> {
    let mut cp = Object::new(Kind::KubeadmControlPlane, "default", "c1-cp");
    cp.set("/spec/version", json!(spec));
    cp.set(
        "/spec/machineTemplate",
        json!({"spec": {"infrastructureRef": {"apiGroup": "infrastructure.cluster.x-k8s.io", "kind": "DevMachineTemplate", "name": "cp"}}}),
    );
    let cp = api.create(cp, opts()).unwrap().object;
    if !versions.is_empty() {
        let mut st = (*cp).clone();
        st.set("/status/versions", Value::Array(versions.iter().map(|v| json!({"version": v})).collect()));
        api.update(st, crate::store::Subresource::Status, None, opts()).unwrap();
    }
    let mut c = cluster("c1", "v1.34.0");
    c.set("/spec/controlPlaneRef", json!({"apiGroup": "controlplane.cluster.x-k8s.io", "kind": "KubeadmControlPlane", "name": "c1-cp"}));
    api.create(c, opts()).unwrap().object
}

#[rstest]
#[case("v1.35.0", &["v1.34.0"], "v1.34.0", None)]
#[case("v1.33.0", &["v1.34.0"], "v1.34.0", Some("spec.topology.version: Invalid value: \"v1.33.0\": version cannot be decreased from \"1.34.0\" to \"1.33.0\""))]
#[case("v1.36.0", &["v1.34.0"], "v1.34.0", Some("spec.topology.version: Invalid value: \"v1.36.0\": version cannot be increased from \"1.34.0\" to \"1.36.0\""))]
#[case("v1.35.0", &[], "v1.34.0", Some("spec.topology.version: Invalid value: \"v1.35.0\": version cannot be changed: control plane is currently provisioning"))]
#[case("v1.35.0", &["v1.33.0"], "v1.34.0", Some("spec.topology.version: Invalid value: \"v1.35.0\": version cannot be changed: control plane is still completing a previous upgrade"))]
#[case("v1.35.0", &["v1.33.0"], "v1.33.0", Some("spec.topology.version: Invalid value: \"v1.35.0\": version cannot be changed: Cluster.spec.topology.version 1.34.0 was not propagated to control plane yet (control plane version 1.33.0)"))]
#[case("1.35", &["v1.34.0"], "v1.34.0", Some("spec.topology.version: Invalid value: \"v1.35\": version must be a valid semantic version"))]
fn version_rules(#[case] new_version: &str, #[case] cp_status: &[&str], #[case] cp_spec: &str, #[case] want: Option<&str>) {
    let mut api = server(true);
    reconciled_class(&mut api);
    let c = with_cp(&mut api, cp_spec, cp_status);
    let mut changed = (*c).clone();
    changed.set("/spec/topology/version", json!(new_version));
    let got = api.update(changed, crate::store::Subresource::Main, None, opts());
    match want {
        None => {
            got.unwrap();
        }
        Some(w) => {
            let msg = got.unwrap_err().message;
            assert!(msg.ends_with(&format!("Cluster.cluster.x-k8s.io \"c1\" is invalid: {w}")), "{msg}");
        }
    }
}

#[test]
fn topology_cannot_be_removed_nor_class_added() {
    let mut api = server(true);
    reconciled_class(&mut api);
    let c = with_cp(&mut api, "v1.34.0", &["v1.34.0"]);
    let mut removed = (*c).clone();
    removed.remove("/spec/topology");
    let msg = api.update(removed, crate::store::Subresource::Main, None, opts()).unwrap_err().message;
    assert!(msg.ends_with("spec.topology: Forbidden: cannot be removed from an existing Cluster"), "{msg}");

    let mut plain = Object::new(Kind::Cluster, "default", "plain");
    plain
        .set("/spec/controlPlaneRef", json!({"apiGroup": "controlplane.cluster.x-k8s.io", "kind": "KubeadmControlPlane", "name": "c1-cp"}));
    let plain = api.create(plain, opts()).unwrap().object;
    let mut added = (*plain).clone();
    added.set("/spec/topology", json!({"classRef": {"name": "quick-start"}, "version": "v1.34.0"}));
    let msg = api.update(added, crate::store::Subresource::Main, None, opts()).unwrap_err().message;
    assert!(msg.ends_with("spec.topology.class: Forbidden: classRef cannot be set on an existing Cluster"), "{msg}");
}

#[test]
fn class_in_use_cannot_be_deleted() {
    let mut api = server(true);
    reconciled_class(&mut api);
    api.create(cluster("c1", "v1.34.0"), opts()).unwrap();
    let e = api
        .delete(&ObjKey::new(Kind::ClusterClass, "default", "quick-start"), capi_scenarios::model::Propagation::Background, opts())
        .unwrap_err();
    assert_eq!(
        e.message,
        "admission webhook \"validation.clusterclass.cluster.x-k8s.io\" denied the request: ClusterClass.cluster.x-k8s.io \"quick-start\" is forbidden: ClusterClass cannot be deleted because it is used by Cluster(s): default/c1"
    );
}

#[rstest]
#[case("my-cluster", 0)]
#[case("My_Cluster.1", 0)]
#[case("-bad", 1)]
#[case("a-very-long-name-that-goes-on-and-on-and-on-well-past-sixty-three-chars", 1)]
fn label_values(#[case] v: &str, #[case] n: usize) {
    assert_eq!(label_value_errors(v).len(), n);
}

#[test]
fn class_validation_reports_template_and_variable_errors() {
    let mut api = server(true);
    let cc = Object::from_json(&json!({"apiVersion": "cluster.x-k8s.io/v1beta2", "kind": "ClusterClass",
        "metadata": {"name": "bad", "namespace": "default"},
        "spec": {"infrastructure": {"templateRef": {"apiVersion": "infrastructure.cluster.x-k8s.io/v1beta2", "kind": "DevCluster", "name": "x"}},
            "controlPlane": {"templateRef": {"apiVersion": "controlplane.cluster.x-k8s.io/v1beta2", "kind": "KubeadmControlPlaneTemplate", "name": "cp"}},
            "variables": [{"name": "builtin", "required": false, "schema": {"openAPIV3Schema": {"type": "string"}}}]}}))
    .unwrap();
    let msg = api.create(cc, opts()).unwrap_err().message;
    assert!(
        msg.contains("spec.infrastructure.ref.kind: Invalid value: \"DevCluster\": template kind must be of form \"<name>Template\""),
        "{msg}"
    );
    assert!(msg.contains("\"builtin\" is a reserved variable name"), "{msg}");
}

//! Tests of the topology controller's apply model, defaults persistence, create errors and memo.

use super::objects::create_error;
use super::*;
use crate::store::ApiError;
use rstest::rstest;

#[rstest]
#[case(json!({"a": 1, "b": {"c": 2}}), json!({"b": {"d": 3}}), json!({"a": 1, "b": {"c": 2, "d": 3}}))]
#[case(json!({"l": [1, 2]}), json!({"l": [3]}), json!({"l": [3]}))]
#[case(json!({"v": "v1.34.0"}), json!({"v": "v1.35.0"}), json!({"v": "v1.35.0"}))]
fn merge_applies_desired_fields(#[case] cur: Value, #[case] want_fields: Value, #[case] result: Value) {
    assert_eq!(merge_json(&cur, &want_fields), result);
}

#[rstest]
#[case(json!({"a": 1, "b": {"c": 2}}), json!({"b": {"c": 2}}), true)]
#[case(json!({"a": 1, "b": {"c": 2}}), json!({"b": {}}), true)]
#[case(json!({"a": 1, "b": {"c": 2}}), json!({"b": {"d": 3}}), false)]
#[case(json!({"a": 1}), json!({"a": 1.0}), false)]
#[case(json!({"l": [{"x": 1, "y": 2}]}), json!({"l": [{"x": 1}]}), false)]
#[case(json!({"a": {"b": 1}}), json!({"a": null}), false)]
#[case(json!({"a": null}), json!({"a": {}}), false)]
fn a_merge_is_a_no_op_exactly_when_it_changes_nothing(#[case] cur: Value, #[case] desired: Value, #[case] noop: bool) {
    assert_eq!(merge_json(&cur, &desired) == cur, noop);
}

#[test]
fn applying_an_up_to_date_object_keeps_its_body_shared() {
    let mut cur = Object::new(Kind::MachineDeployment, "default", "md");
    cur.body.insert("spec".into(), json!({"replicas": 3, "template": {"spec": {"version": "v1.34.0"}}}));
    cur.meta.labels.insert("a".into(), "1".into());
    let mut desired = cur.clone();
    desired.body.insert("spec".into(), json!({"template": {"spec": {"version": "v1.34.0"}}}));
    // The topology applied it before: it owns what it sets.
    let cur = applied(&cur, &desired);
    let same = applied(&cur, &desired);
    assert!(same.body.shares(&cur.body), "an up-to-date object must not be copied");
    assert_eq!(same, cur);
    desired.body.insert("spec".into(), json!({"template": {"spec": {"version": "v1.35.0"}}}));
    desired.meta.labels.insert("b".into(), "2".into());
    let changed = applied(&cur, &desired);
    assert_eq!(changed.at("/spec/template/spec/version"), Some(&json!("v1.35.0")));
    assert_eq!(changed.at("/spec/replicas"), Some(&json!(3)));
    assert_eq!(changed.meta.labels.len(), 2);
    // A label the topology stops setting goes; one it never set stays.
    let mut fewer = desired.clone();
    fewer.meta.labels.remove("b");
    fewer.meta.labels.remove("a");
    let dropped = applied(&changed, &fewer);
    assert_eq!(dropped.meta.labels.len(), 0, "both were the topology's: {:?}", dropped.meta.labels);
    assert_eq!(dropped.at("/spec/replicas"), Some(&json!(3)), "never applied by the topology");
}

#[test]
fn persisting_defaults_keeps_concurrent_edits() {
    let cached = json!({"version": "v1.34.0", "variables": [{"name": "a"}],
        "workers": {"machineDeployments": [{"name": "md-0", "variables": {"overrides": [{"name": "x"}]}}, {"name": "md-1"}]}});
    let defaulted = json!({"version": "v1.34.0", "variables": [{"name": "a", "value": 1}],
        "workers": {"machineDeployments": [{"name": "md-0", "variables": {"overrides": [{"name": "x", "value": 2}]}}, {"name": "md-1"}]}});
    // Meanwhile the user bumped the version and reordered the MachineDeployments.
    let mut live = json!({"version": "v1.35.0", "variables": [{"name": "a"}],
        "workers": {"machineDeployments": [{"name": "md-1"}, {"name": "md-0", "variables": {"overrides": [{"name": "x"}]}}]}});
    persist_defaults(&mut live, &cached, &defaulted);
    assert_eq!(live["version"], "v1.35.0");
    assert_eq!(live["variables"], json!([{"name": "a", "value": 1}]));
    assert_eq!(live["workers"]["machineDeployments"][1]["variables"]["overrides"], json!([{"name": "x", "value": 2}]));
    assert_eq!(live["workers"]["machineDeployments"][0], json!({"name": "md-1"}));
}

#[test]
fn create_errors_drop_generated_names() {
    let e = ApiError::denied(
        "validation.kubeadmcontrolplane.controlplane.cluster.x-k8s.io",
        "KubeadmControlPlane.controlplane.cluster.x-k8s.io \"c1-x7k2p\" is invalid: spec.version: Invalid value: \"1.2\": must start with v",
    );
    assert_eq!(
        create_error(Kind::KubeadmControlPlane, &e),
        "failed to create KubeadmControlPlane.controlplane.cluster.x-k8s.io: spec.version: Invalid value: \"1.2\": must start with v"
    );
}

/// The variables memo answers for the inputs it holds and computes anew when the Cluster's spec
/// (its generation), the ClusterClass (its resourceVersion) or the Cluster itself (its uid) changes.
#[test]
fn the_variables_memo_follows_the_cluster_generation_and_the_class_version() {
    let status =
        variables::status_variables(&[json!({"name": "replicas", "schema": {"openAPIV3Schema": {"type": "integer", "minimum": 1}}})]);
    let mut class = Object::new(Kind::ClusterClass, "default", "cc");
    class.meta.uid = "class-uid".into();
    class.meta.resource_version = 7;
    let cluster = |uid: &str, generation: i64, replicas: i64| {
        let mut c = Object::new(Kind::Cluster, "default", "c");
        c.meta.uid = uid.into();
        c.meta.generation = generation;
        c.set("/spec/topology", json!({"variables": [{"name": "replicas", "value": replicas}]}));
        c
    };
    let memo = VariablesMemo::default();
    let valid = |r: (Arc<Value>, Vec<FieldError>)| r.1.is_empty();
    assert!(valid(memo.default_and_validate(&cluster("u1", 1, 3), &class, &status)));
    // Same inputs as far as the memo can tell: the held answer (a spec that changed without a new
    // generation cannot be stored).
    assert!(valid(memo.default_and_validate(&cluster("u1", 1, 0), &class, &status)));
    assert!(!valid(memo.default_and_validate(&cluster("u1", 2, 0), &class, &status)), "a new generation is validated");
    assert!(valid(memo.default_and_validate(&cluster("u2", 2, 3), &class, &status)), "a new Cluster of the same name");
    class.meta.resource_version = 8;
    assert!(!valid(memo.default_and_validate(&cluster("u2", 2, 0), &class, &status)), "a new ClusterClass version");
    memo.forget(&cluster("u2", 2, 0).key());
    assert!(memo.0.borrow().is_empty());
}

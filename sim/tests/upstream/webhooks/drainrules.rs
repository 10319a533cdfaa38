//! The MachineDrainRule webhook and CRD rules, restated from
//! `core/webhooks/admission/test/machinedrainrules_test.go: Test_validate` (envtest: every case is
//! created through the API server, so the CRD's CEL uniqueness rules answer before the webhook).

use super::{server, OPTS};
use capi_sim::features::FeatureGates;
use capi_sim::object::Object;
use rstest::rstest;
use serde_json::{json, Value};

const PREFIX: &str = r#"admission webhook "validation.machinedrainrule.cluster.x-k8s.io" denied the request: MachineDrainRule.cluster.x-k8s.io "mdr" is invalid: "#;

fn mdr(spec: Value) -> Object {
    Object::from_json(&json!({"apiVersion": "cluster.x-k8s.io/v1beta2", "kind": "MachineDrainRule",
        "metadata": {"name": "mdr", "namespace": "default"}, "spec": spec}))
    .expect("a MachineDrainRule")
}

fn invalid_selector() -> Value {
    json!({"matchExpressions": [{"key": "", "operator": "Invalid-Operator"}]})
}

/// Each entry of `Test_validate`, with the message upstream expects (a substring, as upstream's
/// `ContainSubstring`; the valid rule must be created).
#[rstest]
#[case::valid(json!({"drain": {"behavior": "Drain", "order": 5},
    "pods": [{"selector": {"matchLabels": {"app": "prometheus"}}, "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}],
    "machines": [{"selector": {"matchLabels": {"os": "linux"}}, "clusterSelector": {"matchLabels": {"stage": "production"}}}]}), None)]
#[case::order_with_skip(json!({"drain": {"behavior": "Skip", "order": 5}}),
    Some(format!(r#"{PREFIX}spec.drain.order: Invalid value: 5: order must not be set if drain behavior is "Skip" or "WaitCompleted""#)))]
#[case::order_with_wait_completed(json!({"drain": {"behavior": "WaitCompleted", "order": 5}}),
    Some(format!(r#"{PREFIX}spec.drain.order: Invalid value: 5: order must not be set if drain behavior is "Skip" or "WaitCompleted""#)))]
#[case::invalid_selectors(json!({"drain": {"behavior": "Skip"},
    "machines": [{"selector": invalid_selector(), "clusterSelector": invalid_selector()}],
    "pods": [{"selector": invalid_selector(), "namespaceSelector": invalid_selector()}]}),
    Some(format!("{PREFIX}[\
spec.machines[0].selector: Invalid value: {{\"matchExpressions\":[{{\"key\":\"\",\"operator\":\"Invalid-Operator\"}}]}}: \"Invalid-Operator\" is not a valid label selector operator, \
spec.machines[0].clusterSelector: Invalid value: {{\"matchExpressions\":[{{\"key\":\"\",\"operator\":\"Invalid-Operator\"}}]}}: \"Invalid-Operator\" is not a valid label selector operator, \
spec.pods[0].selector: Invalid value: {{\"matchExpressions\":[{{\"key\":\"\",\"operator\":\"Invalid-Operator\"}}]}}: \"Invalid-Operator\" is not a valid label selector operator, \
spec.pods[0].namespaceSelector: Invalid value: {{\"matchExpressions\":[{{\"key\":\"\",\"operator\":\"Invalid-Operator\"}}]}}: \"Invalid-Operator\" is not a valid label selector operator]")))]
#[case::machines_not_unique(json!({"drain": {"behavior": "Skip"}, "machines": [
    {"selector": {"matchLabels": {"os": "linux"}}, "clusterSelector": {"matchLabels": {"stage": "production"}}},
    {"selector": {"matchLabels": {"os": "linux"}}, "clusterSelector": {"matchLabels": {"stage": "production"}}}]}),
    Some(r#"MachineDrainRule.cluster.x-k8s.io "mdr" is invalid: spec.machines: Invalid value: "array": entries in machines must be unique"#.to_string()))]
#[case::pods_not_unique(json!({"drain": {"behavior": "Skip"}, "pods": [
    {"selector": {"matchLabels": {"app": "does-not-match"}}, "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}},
    {"selector": {"matchLabels": {"app": "does-not-match"}}, "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}]}),
    Some(r#"MachineDrainRule.cluster.x-k8s.io "mdr" is invalid: spec.pods: Invalid value: "array": entries in pods must be unique"#.to_string()))]
fn machine_drain_rule_validation(#[case] spec: Value, #[case] want: Option<String>) {
    let mut api = server(FeatureGates::default());
    let got = api.create(mdr(spec), OPTS);
    match want {
        None => assert!(got.is_ok(), "{got:?}"),
        Some(w) => assert_eq!(got.expect_err("denied").message, w),
    }
}

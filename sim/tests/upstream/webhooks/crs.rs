//! The ClusterResourceSet and ClusterResourceSetBinding webhooks, restated from
//! `core/webhooks/admission/clusterresourceset*_webhook_test.go`.

use super::{check, expect, obj, server, OPTS};
use capi_sim::features::FeatureGates;
use capi_sim::object::Object;
use rstest::rstest;
use serde_json::{json, Value};

fn crs(selector: Value, strategy: Option<&str>) -> Object {
    let mut spec = json!({"clusterSelector": selector, "resources": [{"name": "cni", "kind": "ConfigMap"}]});
    if let Some(s) = strategy {
        spec["strategy"] = json!(s);
    }
    obj(
        json!({"apiVersion": "addons.cluster.x-k8s.io/v1beta2", "kind": "ClusterResourceSet", "metadata": {"name": "crs", "namespace": "default"}, "spec": spec}),
    )
}

/// `core/webhooks/admission/clusterresourceset_test.go`: `TestClusterResourceSetLabelSelectorAsSelectorValidation`,
/// `TestClusterResourceSetStrategyImmutable`, `TestClusterResourceSetClusterSelectorImmutable`,
/// `TestClusterResourceSetSelectorNotEmptyValidation`.
#[rstest]
#[case::valid_selector(json!({"matchLabels": {"foo": "bar"}}), None, None, None)]
#[case::invalid_selector(json!({"matchLabels": {"-123-foo": "bar"}}), None, None, Some(r#"ClusterResourceSet.addons.cluster.x-k8s.io "crs" is invalid: spec.clusterSelector: Invalid value: {"matchLabels":{"-123-foo":"bar"}}"#))]
#[case::strategy_unchanged(json!({"matchLabels": {"foo": "bar"}}), Some("ApplyOnce"), Some(("ApplyOnce", json!({"matchLabels": {"foo": "bar"}}))), None)]
#[case::strategy_set_from_empty(json!({"matchLabels": {"foo": "bar"}}), Some("ApplyOnce"), Some(("", json!({"matchLabels": {"foo": "bar"}}))), None)]
#[case::strategy_changed(json!({"matchLabels": {"foo": "bar"}}), Some("Reconcile"), Some(("ApplyOnce", json!({"matchLabels": {"foo": "bar"}}))), Some(r#"spec.strategy: Invalid value: "Reconcile": field is immutable"#))]
#[case::selector_changed(json!({"matchLabels": {"foo": "baz"}}), Some("ApplyOnce"), Some(("ApplyOnce", json!({"matchLabels": {"foo": "bar"}}))), Some(r#"spec.clusterSelector: Invalid value: {"matchLabels":{"foo":"baz"}}: field is immutable"#))]
#[case::selector_empty(json!({}), None, None, Some("spec.clusterSelector: Invalid value: {}: selector must not be empty"))]
fn crs_validation(#[case] selector: Value, #[case] strategy: Option<&str>, #[case] old: Option<(&str, Value)>, #[case] want: Option<&str>) {
    let new = crs(selector, strategy);
    let old = old.map(|(s, sel)| crs(sel, Some(s).filter(|s| !s.is_empty())));
    expect(check(&new, old.as_ref(), &FeatureGates::default()), want);
}

/// `core/webhooks/admission/clusterresourceset_test.go: TestClusterResourcesetDefault` (strategy
/// `ApplyOnce`) and `clusterresourcesetbinding_test.go: TestClusterResourceSetBindingClusterNameImmutable`.
#[rstest]
#[case::binding_same_name("foo", "foo", None)]
#[case::binding_name_set_from_empty("", "foo", None)]
#[case::binding_name_changed(
    "foo",
    "bar",
    Some(
        r#"ClusterResourceSetBinding.addons.cluster.x-k8s.io "b" is invalid: spec.clusterName: Invalid value: "bar": field is immutable"#
    )
)]
fn crs_default_and_binding(#[case] old: &str, #[case] new: &str, #[case] want: Option<&str>) {
    let mut api = server(FeatureGates::default());
    let c = api.create(crs(json!({"matchLabels": {"foo": "bar"}}), None), OPTS).expect("admitted").object;
    assert_eq!(c.str_at("/spec/strategy"), Some("ApplyOnce"));
    let b = |c: &str| {
        obj(json!({"apiVersion": "addons.cluster.x-k8s.io/v1beta2", "kind": "ClusterResourceSetBinding",
            "metadata": {"name": "b", "namespace": "default"}, "spec": {"clusterName": c}}))
    };
    expect(check(&b(new), Some(&b(old)), &FeatureGates::default()), want);
}

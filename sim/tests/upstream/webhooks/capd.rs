//! CAPD's webhooks (DevClusterTemplate, DevMachineTemplate), restated from
//! `test/infrastructure/docker/webhooks/admission/*_test.go`.

use super::{check, expect, gates, obj, webhook};
use capi_sim::features::FeatureGates;
use capi_sim::kinds::Kind;
use capi_sim::store::api::{AdmissionRequest, Operation};
use capi_sim::store::Store;
use rstest::rstest;
use serde_json::{json, Value};

/// `test/infrastructure/docker/webhooks/admission/devclustertemplate_test.go`:
/// `TestDevClusterTemplateValidationFeatureGateEnabled`, `...FeatureGateDisabled`,
/// `TestDevClusterTemplateValidationMetadata` (main's Dev* kinds; release-1.13's Docker* kinds share
/// the rules: `dockerclustertemplate_test.go`).
#[rstest]
#[case::gate_enabled(true, json!({}), None)]
#[case::gate_disabled(false, json!({}), Some("spec: Forbidden: can be set only if the ClusterTopology feature flag is enabled"))]
#[case::invalid_labels_and_annotations(true, json!({"labels": {"foo": "$invalid-key", "bar": format!("{}too-long-value", "a".repeat(64)), "/invalid-key": "foo"}, "annotations": {"/invalid-key": "foo"}}), Some("spec.template.metadata.annotations: Invalid value: \"/invalid-key\": prefix part must be non-empty"))]
fn dev_cluster_template(
    #[case] gate: bool,
    #[case] metadata: Value,
    #[case] want: Option<&str>,
    #[values(Kind::DevClusterTemplate, Kind::DockerClusterTemplate)] kind: Kind,
) {
    let t = obj(
        json!({"apiVersion": kind.api_version(), "kind": kind.name(), "metadata": {"name": "dockerclustertemplate-test", "namespace": "default"},
        "spec": {"template": {"metadata": metadata, "spec": {}}}}),
    );
    expect(check(&t, None, &gates(|g| g.cluster_topology = gate)), want);
}

/// `test/infrastructure/docker/webhooks/admission/devmachinetemplate_test.go: TestDevMachineTemplateInvalid`
/// (each entry): `spec.template.spec` is immutable except for the topology controller's dry runs.
#[rstest]
#[case::no_modification(false, false, false, None)]
#[case::modification(
    true,
    false,
    false,
    Some("DevMachineTemplate spec.template.spec field is immutable. Please create a new resource instead.")
)]
#[case::modification_annotation_no_dry_run(true, true, false, Some("field is immutable"))]
#[case::modification_dry_run_no_annotation(true, false, true, Some("field is immutable"))]
#[case::modification_dry_run_with_annotation(true, true, true, None)]
fn dev_machine_template_immutable(#[case] changed: bool, #[case] annotation: bool, #[case] dry_run: bool, #[case] want: Option<&str>) {
    let t = |mounts: Value| {
        obj(
            json!({"apiVersion": Kind::DevMachineTemplate.api_version(), "kind": "DevMachineTemplate", "metadata": {"name": "t", "namespace": "default"},
            "spec": {"template": {"spec": {"backend": {"docker": {"extraMounts": mounts}}}}}}),
        )
    };
    let old = t(json!([]));
    let mut new =
        t(if changed { json!([{"containerPath": "/var/run/docker.sock", "hostPath": "/var/run/docker.sock"}]) } else { json!([]) });
    if annotation {
        new.meta.annotations.insert("topology.cluster.x-k8s.io/dry-run".into(), String::new());
    }
    let store = Store::new(1);
    let g = FeatureGates::default();
    let req = AdmissionRequest { op: Operation::Update, object: &new, old: Some(&old), store: &store, gates: &g, dry_run };
    expect(webhook(Kind::DevMachineTemplate).validate(&req), want);
}

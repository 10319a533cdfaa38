//! The Cluster and ClusterClass webhooks and the feature gates they read, restated from
//! `core/webhooks/admission/{cluster,clusterclass}_webhook_test.go` and `feature/feature.go`.

use super::{check, expect, gates, obj};
use capi_sim::features::FeatureGates;
use capi_sim::object::Object;
use rstest::rstest;
use serde_json::{json, Value};

/// `feature/feature.go: defaultClusterAPIFeatureGates` at the modelled release, and where the
/// webhooks read the gates: ClusterTopology (Cluster topology, ClusterClass), MachinePool,
/// RuntimeSDK (external patches of a ClusterClass).
#[test]
fn feature_gate_defaults_and_checks() {
    let d = FeatureGates::default().describe();
    for (gate, on) in [
        ("ClusterTopology", false),
        ("MachinePool", true),
        ("MachineSetPreflightChecks", true),
        ("RuntimeSDK", false),
        ("KubeadmBootstrapFormatIgnition", false),
        ("InPlaceUpdates", false),
        ("MachineTaintPropagation", false),
        ("PriorityQueue", true),
        ("ReconcilerRateLimiting", true),
        ("MachineWaitForVolumeDetachConsiderVolumeAttachments", true),
    ] {
        assert_eq!(d.get(gate), Some(&on), "{gate}");
    }
    let cc = obj(
        json!({"apiVersion": "cluster.x-k8s.io/v1beta2", "kind": "ClusterClass", "metadata": {"name": "cc", "namespace": "default"},
        "spec": {"infrastructure": {"templateRef": {"apiVersion": "infrastructure.cluster.x-k8s.io/v1beta2", "kind": "DevClusterTemplate", "name": "i"}},
            "controlPlane": {"templateRef": {"apiVersion": "controlplane.cluster.x-k8s.io/v1beta2", "kind": "KubeadmControlPlaneTemplate", "name": "c"}},
            "patches": [{"name": "ext", "external": {"generatePatchesExtension": "gen"}}]}}),
    );
    let on = gates(|g| g.cluster_topology = true);
    expect(
        check(&cc, None, &on),
        Some(r#"spec.patches[ext].external: Forbidden: patch.external can be used only if the RuntimeSDK feature flag is enabled"#),
    );
    expect(
        check(
            &cc,
            None,
            &gates(|g| {
                g.cluster_topology = true;
                g.runtime_sdk = true;
            }),
        ),
        None,
    );
    let g = FeatureGates::from_init_vars([("EXP_MACHINE_TAINT_PROPAGATION", "true"), ("EXP_KUBEADM_BOOTSTRAP_FORMAT_IGNITION", "true")]);
    assert!(g.machine_taint_propagation && g.kubeadm_bootstrap_format_ignition);
}

// ----- Cluster -----

fn cluster(name: &str, infra: bool, cp: bool, network: Value) -> Object {
    let mut spec = json!({"clusterNetwork": network});
    if infra {
        spec["infrastructureRef"] =
            json!({"apiGroup": "infrastructure.cluster.x-k8s.io", "kind": "GenericInfrastructureCluster", "name": "infra1"});
    }
    if cp {
        spec["controlPlaneRef"] = json!({"apiGroup": "controlplane.cluster.x-k8s.io", "kind": "GenericControlPlane", "name": "cp1"});
    }
    obj(
        json!({"apiVersion": "cluster.x-k8s.io/v1beta2", "kind": "Cluster", "metadata": {"name": name, "namespace": "default"}, "spec": spec}),
    )
}

/// `core/webhooks/admission/cluster_test.go: TestClusterValidation` (each entry named; the
/// ClusterTopology gate is off, as there).
#[rstest]
#[case::namespaces_match("cluster1", true, true, json!({}), None)]
#[case::none_of_the_refs_set("cluster1", false, false, json!({}), Some("spec: Forbidden: one of spec.controlPlaneRef, spec.infrastructureRef or spec.topology must be set"))]
#[case::undefined_cidr_ranges("cluster1", false, true, json!({"pods": {"cidrBlocks": []}, "services": {"cidrBlocks": []}}), None)]
#[case::valid_ipv4_cidr_ranges("cluster1", false, true, json!({"pods": {"cidrBlocks": ["10.10.10.10/24"]}, "services": {"cidrBlocks": ["10.10.10.10/24"]}}), None)]
#[case::valid_ipv6_cidr_ranges("cluster1", false, true, json!({"pods": {"cidrBlocks": ["2004::1234:abcd:ffff:c0a8:101/64"]}}), None)]
#[case::valid_dualstack_cidr_ranges("cluster1", false, true, json!({"pods": {"cidrBlocks": ["2004::1234:abcd:ffff:c0a8:101/64", "10.10.10.10/24"]}}), None)]
#[case::many_pod_cidr_ranges("cluster1", false, true, json!({"pods": {"cidrBlocks": ["10.10.10.10/24", "11.11.11.11/24", "12.12.12.12/24"]}}), None)]
#[case::invalid_service_cidr_ranges("cluster1", false, true, json!({"services": {"cidrBlocks": ["10.10.10.10", "11.11.11.11"]}}), Some(r#"[spec.clusterNetwork.services.cidrBlocks[0]: Invalid value: "10.10.10.10": invalid CIDR address: 10.10.10.10, spec.clusterNetwork.services.cidrBlocks[1]: Invalid value: "11.11.11.11": invalid CIDR address: 11.11.11.11]"#))]
#[case::invalid_pod_cidr_ranges("cluster1", false, true, json!({"pods": {"cidrBlocks": ["10.10.10.10", "11.11.11.11"]}}), Some(r#"[spec.clusterNetwork.pods.cidrBlocks[0]: Invalid value: "10.10.10.10": invalid CIDR address: 10.10.10.10, spec.clusterNetwork.pods.cidrBlocks[1]: Invalid value: "11.11.11.11": invalid CIDR address: 11.11.11.11]"#))]
#[case::name_under_63_characters("short-name", false, true, json!({}), None)]
#[case::name_with_underscore_dash_dot("thisNameContains.A_Non-Alphanumeric", false, true, json!({}), None)]
#[case::name_longer_than_63_characters("thisNameIsReallyMuchLongerThanTheMaximumLengthOfSixtyThreeCharacters", false, true, json!({}), Some("must be a valid label value must be no more than 63 bytes"))]
#[case::name_starts_with_non_alphanumeric("-thisNameStartsWithANonAlphanumeric", false, true, json!({}), Some("must be a valid label value a valid label must be an empty string or consist of alphanumeric characters"))]
#[case::name_ends_with_non_alphanumeric("thisNameEndsWithANonAlphanumeric.", false, true, json!({}), Some("must be a valid label value a valid label must be an empty string or consist of alphanumeric characters"))]
#[case::name_with_invalid_characters("thisNameContainsInvalid!@NonAlphanumerics", false, true, json!({}), Some("must be a valid label value a valid label must be an empty string or consist of alphanumeric characters"))]
fn cluster_validation(#[case] name: &str, #[case] infra: bool, #[case] cp: bool, #[case] network: Value, #[case] want: Option<&str>) {
    expect(check(&cluster(name, infra, cp, network), None, &FeatureGates::default()), want);
}

/// `core/webhooks/admission/cluster_test.go: TestClusterValidation`: "error when controlPlaneRef gets
/// unset", "error when infrastructureRef gets unset", "fails if topology is set but feature flag is
/// disabled".
#[test]
fn cluster_refs_cannot_be_removed_and_topology_needs_the_gate() {
    let g = FeatureGates::default();
    let bare = cluster("cluster1", false, false, json!({}));
    expect(
        check(&bare, Some(&cluster("cluster1", false, true, json!({}))), &g),
        Some("spec: Forbidden: one of spec.controlPlaneRef, spec.infrastructureRef or spec.topology must be set, spec.controlPlaneRef: Forbidden: cannot be removed"),
    );
    expect(
        check(&bare, Some(&cluster("cluster1", true, false, json!({}))), &g),
        Some("spec.infrastructureRef: Forbidden: cannot be removed, spec: Forbidden: one of spec.controlPlaneRef, spec.infrastructureRef or spec.topology must be set"),
    );
    let mut topo = cluster("cluster1", true, true, json!({}));
    topo.set("/spec/topology", json!({"classRef": {"name": "class"}, "version": "v1.32.0"}));
    expect(check(&topo, None, &g), Some("spec.topology: Forbidden: can be set only if the ClusterTopology feature flag is enabled"));
}

// ----- ClusterClass -----

fn tref(kind: &str, name: &str) -> Value {
    json!({"apiVersion": "group.test.io/foo", "kind": kind, "name": name})
}

/// Upstream's valid ClusterClass of `TestClusterClassValidation` ("create pass"), with `patch` merged.
fn class(patch: Value) -> Object {
    let mut v = json!({"apiVersion": "cluster.x-k8s.io/v1beta2", "kind": "ClusterClass", "metadata": {"name": "class1", "namespace": "default"},
        "spec": {"infrastructure": {"templateRef": tref("barTemplate", "infra1")},
            "controlPlane": {"templateRef": tref("barTemplate", "cp1"), "machineInfrastructure": {"templateRef": tref("barTemplate", "cp-infra1")}},
            "workers": {"machineDeployments": [{"class": "aa", "bootstrap": {"templateRef": tref("barTemplate", "bootstrap1")}, "infrastructure": {"templateRef": tref("barTemplate", "infra1")}}]}}});
    json_patch::merge(&mut v, &patch);
    obj(v)
}

/// `core/webhooks/admission/clusterclass_test.go: TestClusterClassValidation` (create entries named,
/// and the compatibility entries of updates) and `TestClusterClassValidationFeatureGated`.
#[rstest]
#[case::create_pass(json!({}), None, None)]
#[case::infrastructure_cluster_empty_name(json!({"spec": {"infrastructure": {"templateRef": {"name": ""}}}}), None, Some("spec.infrastructure.ref.name: Required value: template name must be defined"))]
#[case::control_plane_empty_name(json!({"spec": {"controlPlane": {"templateRef": {"name": ""}}}}), None, Some("spec.controlPlane.ref.name: Required value: template name must be defined"))]
#[case::control_plane_machine_infrastructure_empty_name(json!({"spec": {"controlPlane": {"machineInfrastructure": {"templateRef": {"name": ""}}}}}), None, Some("spec.controlPlane.machineInfrastructure.ref.name: Required value: template name must be defined"))]
#[case::bad_template_in_infrastructure_cluster(json!({"spec": {"infrastructure": {"templateRef": {"kind": "bar"}}}}), None, Some(r#"spec.infrastructure.ref.kind: Invalid value: "bar": template kind must be of form "<name>Template""#))]
#[case::bad_api_version_in_control_plane(json!({"spec": {"controlPlane": {"templateRef": {"apiVersion": "group/test.io/v1/foo"}}}}), None, Some(r#"spec.controlPlane.ref.apiVersion: Invalid value: "group/test.io/v1/foo": template apiVersion must be a valid Kubernetes apiVersion: unexpected GroupVersion string: group/test.io/v1/foo"#))]
#[case::duplicated_machine_deployment_classes(json!({"spec": {"workers": {"machineDeployments": [
    {"class": "aa", "bootstrap": {"templateRef": tref("barTemplate", "b")}, "infrastructure": {"templateRef": tref("barTemplate", "i")}},
    {"class": "aa", "bootstrap": {"templateRef": tref("barTemplate", "b")}, "infrastructure": {"templateRef": tref("barTemplate", "i")}}]}}}), None,
    Some(r#"spec.workers.machineDeployments[1].class: Invalid value: "aa": MachineDeployment class must be unique. MachineDeployment with class "aa" is defined more than once"#))]
#[case::control_plane_health_check_with_machine_infrastructure(json!({"spec": {"controlPlane": {"healthCheck": {"checks": {"nodeStartupTimeoutSeconds": 60}}}}}), None, None)]
#[case::control_plane_health_check_without_machine_infrastructure(json!({"spec": {"controlPlane": {"machineInfrastructure": null, "healthCheck": {"checks": {"nodeStartupTimeoutSeconds": 60}}}}}), None, Some("spec.controlPlane.healthCheck: Forbidden: can be only set if spec.controlPlane.machineInfrastructure is set"))]
#[case::machine_deployment_health_check_startup_too_short(json!({"spec": {"workers": {"machineDeployments": [{"class": "aa", "bootstrap": {"templateRef": tref("barTemplate", "b")}, "infrastructure": {"templateRef": tref("barTemplate", "i")}, "healthCheck": {"checks": {"nodeStartupTimeoutSeconds": 10}}}]}}}), None, Some("spec.workers.machineDeployments[aa].healthCheck.checks.nodeStartupTimeoutSeconds: Invalid value: 10: must be at least 30s"))]
#[case::update_no_changes(json!({}), Some(json!({})), None)]
#[case::update_infrastructure_compatible(json!({"spec": {"infrastructure": {"templateRef": {"apiVersion": "group.test.io/another-foo", "name": "another-baz"}}}}), Some(json!({})), None)]
#[case::update_infrastructure_incompatible(json!({"spec": {"infrastructure": {"templateRef": {"kind": "another-barTemplate"}}}}), Some(json!({})), Some(r#"spec.infrastructure.templateRef.kind: Forbidden: kind cannot be changed from "barTemplate" to "another-barTemplate" to prevent incompatible changes in the Clusters"#))]
#[case::update_control_plane_incompatible(json!({"spec": {"controlPlane": {"templateRef": {"kind": "another-barTemplate"}}}}), Some(json!({})), Some("spec.controlPlane.templateRef.kind: Forbidden: kind cannot be changed"))]
#[case::update_machine_deployment_incompatible(json!({"spec": {"workers": {"machineDeployments": [{"class": "aa", "bootstrap": {"templateRef": tref("barTemplate", "bootstrap1")}, "infrastructure": {"templateRef": tref("another-barTemplate", "infra1")}}]}}}), Some(json!({})), Some("spec.workers.machineDeployments[0].infrastructure.templateRef.kind: Forbidden: kind cannot be changed"))]
fn clusterclass_validation(#[case] patch: Value, #[case] old: Option<Value>, #[case] want: Option<&str>) {
    let on = gates(|g| g.cluster_topology = true);
    let new = class(patch);
    let old = old.map(class);
    expect(check(&new, old.as_ref(), &on), want);
    // `TestClusterClassValidationFeatureGated`: without the gate every create and update is refused.
    assert_eq!(
        check(&new, old.as_ref(), &FeatureGates::default()),
        Err("spec: Forbidden: can be set only if the ClusterTopology feature flag is enabled".to_string())
    );
}

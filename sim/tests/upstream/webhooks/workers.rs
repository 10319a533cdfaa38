//! The Machine, MachineHealthCheck, MachineDeployment, MachineSet and MachinePool webhooks, restated
//! from `core/webhooks/admission/{machine,machinehealthcheck,machinedeployment,machineset,machinepool}_webhook_test.go`.

use super::{check, expect, gates, md, obj, server, with_kind, MAX, MIN, OPTS};
use capi_sim::features::FeatureGates;
use capi_sim::kinds::Kind;
use capi_sim::object::Object;
use capi_sim::store::Subresource;
use rstest::rstest;
use serde_json::{json, Value};

fn machine(spec: Value) -> Object {
    obj(
        json!({"apiVersion": "cluster.x-k8s.io/v1beta2", "kind": "Machine", "metadata": {"name": "m", "namespace": "default"}, "spec": spec}),
    )
}

/// `core/webhooks/admission/machine_test.go`: `TestMachineBootstrapValidation`,
/// `TestMachineVersionValidation` and `TestMachineClusterNameImmutable` (each entry named), plus
/// the MachinePool exemption of `validate` (`labels.IsMachinePoolOwned`).
#[rstest]
#[case::bootstrap_configref_and_data_nil(json!({"bootstrap": {}}), None, Some(r#"Machine.cluster.x-k8s.io "m" is invalid: spec.bootstrap: Required value: expected either spec.bootstrap.dataSecretName or spec.bootstrap.configRef to be populated"#))]
#[case::bootstrap_data_secret_name_set(json!({"bootstrap": {"dataSecretName": "test"}}), None, None)]
#[case::bootstrap_data_secret_name_empty(json!({"bootstrap": {"dataSecretName": ""}}), None, None)]
#[case::bootstrap_config_ref_set(json!({"bootstrap": {"configRef": {"name": "bootstrap1"}}}), None, None)]
#[case::version_with_v(json!({"bootstrap": {"dataSecretName": "test"}, "version": "v1.17.2"}), None, None)]
#[case::version_without_v(json!({"bootstrap": {"dataSecretName": "test"}, "version": "1.17.2"}), None, Some(r#"spec.version: Invalid value: "1.17.2": must start with v"#))]
#[case::version_plus_plus(json!({"bootstrap": {"dataSecretName": "test"}, "version": "v1.17.2++"}), None, Some(r#"spec.version: Invalid value: "v1.17.2++": must be a valid semantic version"#))]
#[case::version_v1(json!({"bootstrap": {"dataSecretName": "test"}, "version": "v1"}), None, Some(r#"spec.version: Invalid value: "v1": must be a valid semantic version"#))]
#[case::version_wrong(json!({"bootstrap": {"dataSecretName": "test"}, "version": "wrong_version"}), None, Some(r#"Machine.cluster.x-k8s.io "m" is invalid: [spec.version: Invalid value: "wrong_version": must start with v, spec.version: Invalid value: "wrong_version": must be a valid semantic version]"#))]
#[case::cluster_name_unchanged(json!({"clusterName": "foo", "bootstrap": {"configRef": {"name": "bootstrap1"}}}), Some("foo"), None)]
#[case::cluster_name_changed(json!({"clusterName": "bar", "bootstrap": {"configRef": {"name": "bootstrap1"}}}), Some("foo"), Some("spec.clusterName: Forbidden: field is immutable"))]
fn machine_validation(#[case] spec: Value, #[case] old_cluster: Option<&str>, #[case] want: Option<&str>) {
    let new = machine(spec.clone());
    let old = old_cluster.map(|c| {
        let mut s = spec.clone();
        s["clusterName"] = json!(c);
        machine(s)
    });
    expect(check(&new, old.as_ref(), &FeatureGates::default()), want);
    if old.is_none() {
        // Upstream runs every create case as an update onto itself too.
        expect(check(&new, Some(&new), &FeatureGates::default()), want);
    }
}

/// `validate` of `core/webhooks/admission/machine.go`: MachinePool Machines need no bootstrap.
#[test]
fn machine_pool_machines_need_no_bootstrap() {
    let mut m = machine(json!({"bootstrap": {}}));
    m.meta.labels.insert("cluster.x-k8s.io/pool-name".into(), "mp".into());
    expect(check(&m, None, &FeatureGates::default()), None);
}

/// `core/webhooks/admission/machine_test.go: TestMachineDefault`: the cluster-name label, a `v` on
/// the version and `nodeDeletionTimeoutSeconds` 10, through the API server.
#[test]
fn machine_default() {
    let mut api = server(FeatureGates::default());
    let m = machine(
        json!({"clusterName": "test-cluster", "bootstrap": {"configRef": {"apiGroup": "bootstrap.cluster.x-k8s.io", "kind": "KubeadmConfig", "name": "b"}},
        "infrastructureRef": {"apiGroup": "infrastructure.cluster.x-k8s.io", "kind": "DockerMachine", "name": "i"}, "version": "1.17.5"}),
    );
    let w = api.create(m, OPTS).expect("admitted").object;
    assert_eq!(w.label("cluster.x-k8s.io/cluster-name"), Some("test-cluster"));
    assert_eq!(w.str_at("/spec/version"), Some("v1.17.5"));
    assert_eq!(w.i64_at("/spec/deletion/nodeDeletionTimeoutSeconds"), Some(10));
}

/// `internal/util/taints: ValidateMachineTaints` as `machine.go: validate` calls it (and
/// `validateMachineTaintsForWorkers`), with and without the `MachineTaintPropagation` gate.
#[rstest]
#[case::gate_off(
    false,
    "example.com/x",
    Some("spec.taints: Forbidden: taints are not allowed to be set when the feature gate MachineTaintPropagation is disabled")
)]
#[case::allowed_key(true, "example.com/x", None)]
#[case::reserved_uninitialized(
    true,
    "node.cluster.x-k8s.io/uninitialized",
    Some(r#"spec.taints[0].key: Invalid value: "node.cluster.x-k8s.io/uninitialized": taint key is not allowed"#)
)]
#[case::node_kubernetes_io(
    true,
    "node.kubernetes.io/not-ready",
    Some("taint key must not have the prefix node.kubernetes.io/, except for node.kubernetes.io/out-of-service")
)]
#[case::out_of_service(true, "node.kubernetes.io/out-of-service", None)]
#[case::master(true, "node-role.kubernetes.io/master", Some("taint is deprecated since 1.24 and should not be used anymore"))]
#[case::control_plane_on_worker(true, "node-role.kubernetes.io/control-plane", Some("taint is not allowed for worker Machines"))]
fn machine_taints(#[case] gate: bool, #[case] key: &str, #[case] want: Option<&str>) {
    let m = machine(json!({"bootstrap": {"dataSecretName": "x"}, "taints": [{"key": key, "effect": "NoSchedule"}]}));
    expect(check(&m, None, &gates(|g| g.machine_taint_propagation = gate)), want);
}

// ----- MachineHealthCheck -----

/// A MachineHealthCheck; empty `checks` and `remediation` are left out, as Go's `omitzero` leaves
/// them out of what upstream's tests send (a `{}` there is below the schema's `MinProperties=1`).
fn mhc(cluster: &str, selector: Value, checks: Value, remediation: Value) -> Object {
    let mut spec = json!({"clusterName": cluster, "selector": selector});
    for (k, v) in [("checks", checks), ("remediation", remediation)] {
        if v.as_object().is_none_or(|m| !m.is_empty()) {
            spec[k] = v;
        }
    }
    obj(json!({"apiVersion": "cluster.x-k8s.io/v1beta2", "kind": "MachineHealthCheck", "metadata": {"name": "mhc", "namespace": "default"},
        "spec": spec}))
}

/// `core/webhooks/admission/machinehealthcheck_test.go`: `TestMachineHealthCheckLabelSelectorAsSelectorValidation`,
/// `TestMachineHealthCheckNodeStartupTimeout`, `TestMachineHealthCheckMaxUnhealthy`,
/// `TestMachineHealthCheckSelectorValidation` and `TestMachineHealthCheckClusterNameSelectorValidation`.
#[rstest]
#[case::valid_selector(json!({"matchLabels": {"foo": "bar"}}), json!({}), json!({}), None)]
#[case::invalid_selector(json!({"matchLabels": {"-123-foo": "bar"}}), json!({}), json!({}), Some(r#"spec.selector: Invalid value: {"matchLabels":{"-123-foo":"bar"}}: key: Invalid value: "-123-foo": name part must consist of alphanumeric characters"#))]
#[case::startup_timeout_unset(json!({"matchLabels": {"foo": "bar"}}), json!({}), json!({}), None)]
#[case::startup_timeout_one_minute(json!({"matchLabels": {"foo": "bar"}}), json!({"nodeStartupTimeoutSeconds": 60}), json!({}), None)]
#[case::startup_timeout_30s(json!({"matchLabels": {"foo": "bar"}}), json!({"nodeStartupTimeoutSeconds": 30}), json!({}), None)]
#[case::startup_timeout_29s(json!({"matchLabels": {"foo": "bar"}}), json!({"nodeStartupTimeoutSeconds": 29}), json!({}), Some(r#"MachineHealthCheck.cluster.x-k8s.io "mhc" is invalid: spec.checks.nodeStartupTimeoutSeconds: Invalid value: 29: must be at least 30s"#))]
#[case::startup_timeout_negative(json!({"matchLabels": {"foo": "bar"}}), json!({"nodeStartupTimeoutSeconds": -60}), json!({}), Some("spec.checks.nodeStartupTimeoutSeconds: Invalid value: -60: must be at least 30s"))]
#[case::startup_timeout_disabled(json!({"matchLabels": {"foo": "bar"}}), json!({"nodeStartupTimeoutSeconds": 0}), json!({}), None)]
#[case::max_unhealthy_integer(json!({"matchLabels": {"foo": "bar"}}), json!({}), json!({"triggerIf": {"unhealthyLessThanOrEqualTo": 10}}), None)]
#[case::max_unhealthy_percentage(json!({"matchLabels": {"foo": "bar"}}), json!({}), json!({"triggerIf": {"unhealthyLessThanOrEqualTo": "10%"}}), None)]
#[case::max_unhealthy_random_string(json!({"matchLabels": {"foo": "bar"}}), json!({}), json!({"triggerIf": {"unhealthyLessThanOrEqualTo": "abcdef"}}), Some(r#"spec.remediation.triggerIf.unhealthyLessThanOrEqualTo: Invalid value: "abcdef": must be either an int or a percentage: invalid value for IntOrString: invalid type: string is not a percentage"#))]
#[case::max_unhealthy_stringified_integer(json!({"matchLabels": {"foo": "bar"}}), json!({}), json!({"triggerIf": {"unhealthyLessThanOrEqualTo": "10"}}), Some("must be either an int or a percentage"))]
#[case::empty_selector(json!({}), json!({}), json!({}), Some("spec.selector: Required value: selector must not be empty"))]
#[case::other_cluster_selector(json!({"matchLabels": {"cluster.x-k8s.io/cluster-name": "bar"}}), json!({}), json!({}), Some(r#"spec.selector: Invalid value: {"matchLabels":{"cluster.x-k8s.io/cluster-name":"bar"}}: cannot specify a cluster selector other than the one specified by ClusterName"#))]
#[case::same_cluster_selector(json!({"matchLabels": {"cluster.x-k8s.io/cluster-name": "foo"}}), json!({}), json!({}), None)]
fn mhc_validation(#[case] selector: Value, #[case] checks: Value, #[case] remediation: Value, #[case] want: Option<&str>) {
    let m = mhc("foo", selector, checks, remediation);
    expect(check(&m, None, &FeatureGates::default()), want);
    expect(check(&m, Some(&m), &FeatureGates::default()), want);
}

/// `core/webhooks/admission/machinehealthcheck_test.go: TestMachineHealthCheckClusterNameImmutable`
/// and `TestMachineHealthCheckDefault` (the label and the 600s startup timeout, through the API server).
#[test]
fn mhc_cluster_name_immutable_and_defaults() {
    let old = mhc("foo", json!({"matchLabels": {"foo": "bar"}}), json!({}), json!({}));
    let new = mhc("bar", json!({"matchLabels": {"foo": "bar"}}), json!({}), json!({}));
    expect(check(&new, Some(&old), &FeatureGates::default()), Some("spec.clusterName: Forbidden: field is immutable"));
    expect(check(&old, Some(&old), &FeatureGates::default()), None);
    let mut api = server(FeatureGates::default());
    let w = api.create(old, OPTS).expect("admitted").object;
    assert_eq!(w.label("cluster.x-k8s.io/cluster-name"), Some("foo"));
    assert_eq!(w.i64_at("/spec/checks/nodeStartupTimeoutSeconds"), Some(600));
}

// ----- MachineDeployment, MachineSet, MachinePool -----

/// `core/webhooks/admission/machinedeployment_test.go: TestMachineDeploymentValidation` (each entry
/// named; `selector`/`labels` are the entry's selector and template labels).
#[rstest]
#[case::name_under_63_characters("short-name", json!({}), None)]
#[case::name_with_underscore_dash_dot("thisNameContains.A_Non-Alphanumeric", json!({}), None)]
#[case::name_more_than_63_characters("thisNameIsReallyMuchLongerThanTheMaximumLengthOfSixtyThreeCharacters", json!({}), Some(r#"metadata.name: Invalid value: "thisNameIsReallyMuchLongerThanTheMaximumLengthOfSixtyThreeCharacters": must be a valid label value: must be no more than 63 bytes"#))]
#[case::name_starts_with_non_alphanumeric("-thisNameStartsWithANonAlphanumeric", json!({}), Some("must be a valid label value: a valid label must be an empty string"))]
#[case::name_ends_with_non_alphanumeric("thisNameEndsWithANonAlphanumeric.", json!({}), Some("must be a valid label value"))]
#[case::name_with_invalid_characters("thisNameContainsInvalid!@NonAlphanumerics", json!({}), Some("must be a valid label value"))]
#[case::selector_mismatch("md", json!({"selector": {"matchLabels": {"foo": "bar"}}, "template": {"metadata": {"labels": {"foo": "baz"}}}}), Some(r#"spec.template.metadata.labels: Forbidden: must match spec.selector "foo=bar""#))]
#[case::selector_missing_labels("md", json!({"selector": {"matchLabels": {"foo": "bar"}}, "template": {"metadata": {"labels": {"": ""}}}}), Some("must match spec.selector"))]
#[case::selector_not_all_match("md", json!({"selector": {"matchLabels": {"foo": "bar", "hello": "world"}}, "template": {"metadata": {"labels": {"foo": "bar"}}}}), Some(r#"must match spec.selector "foo=bar,hello=world""#))]
#[case::selector_match("md", json!({"selector": {"matchLabels": {"foo": "bar"}}, "template": {"metadata": {"labels": {"foo": "bar"}}}}), None)]
#[case::invalid_selector("md", json!({"selector": {"matchLabels": {"-123-foo": "bar"}}, "template": {"metadata": {"labels": {"-123-foo": "bar"}}}}), Some(r#"spec.selector: Invalid value: {"matchLabels":{"-123-foo":"bar"}}"#))]
#[case::invalid_max_surge("md", json!({"rollout": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "1"}}}}), Some(r#"spec.rollout.strategy.rollingUpdate.maxSurge: Invalid value: "1": must be either an int or a percentage: invalid value for IntOrString: invalid type: string is not a percentage"#))]
#[case::invalid_max_unavailable("md", json!({"rollout": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "0", "maxSurge": 1}}}}), Some(r#"spec.rollout.strategy.rollingUpdate.maxUnavailable: Invalid value: "0": must be either an int or a percentage"#))]
#[case::invalid_remediation_max_in_flight("md", json!({"remediation": {"maxInFlight": "1"}}), Some(r#"spec.remediation.maxInFlight: Invalid value: "1": must be either an int or a percentage"#))]
#[case::valid_percentage_max_in_flight("md", json!({"remediation": {"maxInFlight": "20%"}}), None)]
#[case::valid_int_max_in_flight("md", json!({"remediation": {"maxInFlight": 5}}), None)]
#[case::valid_percentage_surge_and_unavailable("md", json!({"rollout": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "0%", "maxSurge": "1%"}}}}), None)]
#[case::both_zero("md", json!({"rollout": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 0}}}}), Some(r#"spec.rollout.strategy.rollingUpdate: Invalid value: "0": maxUnavailable and maxSurge cannot both be 0"#))]
#[case::naming_without_random("md", json!({"machineNaming": {"template": "{{ .machineSet.name }}"}}), Some(r#"spec.machineNaming.template: Invalid value: "{{ .machineSet.name }}": invalid template, {{ .random }} is missing"#))]
#[case::naming_with_random("md", json!({"machineNaming": {"template": "{{ .machineSet.name }}-{{ .random }}"}}), None)]
#[case::naming_not_dns("md", json!({"machineNaming": {"template": "{{ .random }}-UPPER"}}), Some("invalid template, generated names would not be valid Kubernetes object names: a lowercase RFC 1123 subdomain must consist of"))]
fn md_validation(#[case] name: &str, #[case] spec: Value, #[case] want: Option<&str>) {
    let o = md(name, spec);
    expect(check(&o, None, &FeatureGates::default()), want);
    expect(check(&o, Some(&o), &FeatureGates::default()), want);
}

/// `core/webhooks/admission/machinedeployment_test.go` and `machineset_test.go`:
/// `TestMachineDeploymentVersionValidation` / `TestMachineSetVersionValidation`,
/// `TestMachineDeploymentClusterNamesEqual` / `TestMachineSetClusterNamesEqual`,
/// `TestMachineDeploymentBootstrapValidation` / `TestMachineSetBootstrapValidation`, for both kinds.
#[rstest]
#[case::version_with_v(json!({"template": {"spec": {"version": "v1.17.2"}}}), None)]
#[case::version_without_v(json!({"template": {"spec": {"version": "1.17.2"}}}), Some(r#"spec.template.spec.version: Invalid value: "1.17.2": must start with v"#))]
#[case::version_plus_plus(json!({"template": {"spec": {"version": "v1.17.2++"}}}), Some("must be a valid semantic version"))]
#[case::cluster_names_differ(json!({"template": {"spec": {"clusterName": "other"}}}), Some(r#"spec.clusterName: Invalid value: "c": spec.clusterName and spec.template.spec.clusterName must be set to the same value"#))]
#[case::bootstrap_missing(json!({"template": {"spec": {"bootstrap": null}}}), Some("spec.template.spec.bootstrap: Required value: expected either spec.template.spec.bootstrap.dataSecretName or spec.template.spec.bootstrap.configRef to be populated"))]
#[case::bootstrap_data_secret_name(json!({"template": {"spec": {"bootstrap": {"configRef": null, "dataSecretName": "test"}}}}), None)]
fn md_and_ms_shared_rules(
    #[case] spec: Value,
    #[case] want: Option<&str>,
    #[values(Kind::MachineDeployment, Kind::MachineSet)] kind: Kind,
) {
    let o = with_kind(md("md", spec), kind);
    expect(check(&o, None, &FeatureGates::default()), want);
}

/// `TestMachineDeploymentClusterNameImmutable` / `TestMachineSetClusterNameImmutable` /
/// `TestMachinePoolClusterNameImmutable`.
#[rstest]
fn cluster_name_immutable(
    #[values(Kind::MachineDeployment, Kind::MachineSet, Kind::MachinePool)] kind: Kind,
    #[values(true, false)] changed: bool,
) {
    let old = with_kind(md("md", json!({})), kind);
    let new_cluster = if changed { "c2" } else { "c" };
    let new = with_kind(md("md", json!({"clusterName": new_cluster, "template": {"spec": {"clusterName": new_cluster}}})), kind);
    expect(check(&new, Some(&old), &FeatureGates::default()), changed.then_some("spec.clusterName: Forbidden: field is immutable"));
}

/// `TestCalculateMachineDeploymentReplicas`, `TestCalculateMachineSetReplicas` and
/// `TestCalculateMachinePoolReplicas` (each entry), through the API server's defaulting: an
/// unparsable annotation makes the mutating webhook deny the request.
#[rstest]
#[case::replicas_set_keep(Some(5), None, None, None, Ok(5))]
#[case::no_replicas_no_annotations(None, None, None, None, Ok(1))]
#[case::only_min_annotation(None, Some("3"), None, None, Ok(1))]
#[case::only_max_annotation(None, None, Some("7"), None, Ok(1))]
#[case::min_invalid(None, Some("abc"), Some("7"), None, Err(r#"replicas value: could not parse the value of the "cluster.x-k8s.io/cluster-api-autoscaler-node-group-min-size" annotation: strconv.ParseInt: parsing "abc": invalid syntax"#))]
#[case::max_invalid(
    None,
    Some("3"),
    Some("abc"),
    None,
    Err(r#"could not parse the value of the "cluster.x-k8s.io/cluster-api-autoscaler-node-group-max-size" annotation"#)
)]
#[case::new_object_min_size(None, Some("3"), Some("7"), None, Ok(3))]
#[case::old_below_min(None, Some("3"), Some("7"), Some(1), Ok(3))]
#[case::old_above_max(None, Some("3"), Some("7"), Some(15), Ok(7))]
#[case::old_between(None, Some("3"), Some("7"), Some(4), Ok(4))]
fn replicas_defaulting(
    #[case] replicas: Option<i64>,
    #[case] min: Option<&str>,
    #[case] max: Option<&str>,
    #[case] old: Option<i64>,
    #[case] want: Result<i64, &str>,
    #[values(Kind::MachineDeployment, Kind::MachineSet, Kind::MachinePool)] kind: Kind,
) {
    let mut api = server(FeatureGates::default());
    let mut o = with_kind(md("md", json!({})), kind);
    if let Some(old) = old {
        o.set("/spec/replicas", json!(old));
        o = (*api.create(o, OPTS).expect("old admitted").object).clone();
        o.remove("/spec/replicas");
    }
    if let Some(r) = replicas {
        o.set("/spec/replicas", json!(r));
    }
    for (k, v) in [(MIN, min), (MAX, max)] {
        if let Some(v) = v {
            o.meta.annotations.insert(k.into(), v.into());
        }
    }
    let got = if old.is_some() { api.update(o, Subresource::Main, None, OPTS) } else { api.create(o, OPTS) };
    match want {
        Ok(n) => assert_eq!(got.expect("admitted").object.i64_at("/spec/replicas"), Some(n)),
        Err(text) => {
            let e = got.expect_err("denied").message;
            let hook = kind.name().to_lowercase();
            assert!(
                e.starts_with(&format!(
                    "admission webhook \"default.{hook}.cluster.x-k8s.io\" denied the request: failed to caculate {} ",
                    kind.name()
                )),
                "{e}"
            );
            assert!(e.contains(text), "{e}");
        }
    }
}

/// `core/webhooks/admission/machineset_test.go`: `TestMachineSetLabelSelectorMatchValidation`,
/// `TestValidateSkippedMachineSetPreflightChecks`, `TestMachineSetTemplateMetadataValidation`,
/// `TestMachineSetMachineNamingValidation`.
#[rstest]
#[case::selector_mismatch(json!({"selector": {"matchLabels": {"foo": "bar"}}, "template": {"metadata": {"labels": {"foo": "baz"}}}}), None, Some(r#"spec.template.metadata.labels: Invalid value: {"foo":"baz"}: must match spec.selector "foo=bar""#))]
#[case::selector_match(json!({"selector": {"matchLabels": {"foo": "bar"}}, "template": {"metadata": {"labels": {"foo": "bar"}}}}), None, None)]
#[case::skip_all(json!({}), Some("All"), None)]
#[case::skip_known_checks(json!({}), Some("KubeadmVersionSkew,KubernetesVersionSkew,ControlPlaneIsStable,ControlPlaneVersionSkew"), None)]
#[case::skip_unknown_check(json!({}), Some("KubeadmVersionSkew,Foo"), Some(r#"metadata.annotations.machineset.cluster.x-k8s.io/skip-preflight-checks: Invalid value: []v1beta2.MachineSetPreflightCheck{"Foo"}: skipped preflight check(s) must be among: [All ControlPlaneIsStable ControlPlaneVersionSkew KubeadmVersionSkew KubernetesVersionSkew]"#))]
#[case::invalid_template_metadata(json!({"template": {"metadata": {"labels": {"foo": "$invalid-key"}}}}), None, Some(r#"spec.template.metadata.labels: Invalid value: "$invalid-key": a valid label must be an empty string"#))]
#[case::invalid_template_annotation(json!({"template": {"metadata": {"annotations": {"/invalid-key": "foo"}}}}), None, Some(r#"spec.template.metadata.annotations: Invalid value: "/invalid-key": prefix part must be non-empty"#))]
#[case::naming_without_random(json!({"machineNaming": {"template": "{{ .machineSet.name }}"}}), None, Some("invalid template, {{ .random }} is missing"))]
#[case::naming_with_random(json!({"machineNaming": {"template": "{{ .machineSet.name }}-{{ .random }}"}}), None, None)]
fn ms_validation(#[case] spec: Value, #[case] skip: Option<&str>, #[case] want: Option<&str>) {
    let mut o = with_kind(md("ms", spec), Kind::MachineSet);
    if let Some(s) = skip {
        o.meta.annotations.insert("machineset.cluster.x-k8s.io/skip-preflight-checks".into(), s.into());
    }
    expect(check(&o, None, &FeatureGates::default()), want);
    // Without the MachineSetPreflightChecks gate the annotation is not checked.
    if skip.is_some() {
        expect(check(&o, None, &gates(|g| g.machine_set_preflight_checks = false)), None);
    }
}

/// `core/webhooks/admission/machinepool_test.go`: `TestMachinePoolBootstrapValidation`,
/// `TestMachinePoolClusterNamesEqual`, `TestMachinePoolVersionValidation`,
/// `TestMachinePoolMetadataValidation`, and `validate`'s gate and taint rules.
#[rstest]
#[case::valid(json!({}), true, None)]
#[case::bootstrap_missing(json!({"template": {"spec": {"bootstrap": null}}}), true, Some("spec.template.spec.bootstrap: Required value"))]
#[case::cluster_names_differ(json!({"template": {"spec": {"clusterName": "x"}}}), true, Some("spec.clusterName and spec.template.spec.clusterName must be set to the same value"))]
#[case::version_without_v(json!({"template": {"spec": {"version": "1.20.0"}}}), true, Some(r#"spec.template.spec.version: Invalid value: "1.20.0": must start with v"#))]
#[case::invalid_metadata(json!({"template": {"metadata": {"labels": {"foo": "$invalid-key"}}}}), true, Some("spec.template.metadata.labels: Invalid value"))]
#[case::taints(json!({"template": {"spec": {"taints": [{"key": "a", "effect": "NoSchedule"}]}}}), true, Some(r#"MachinePool.cluster.x-k8s.io "mp" is invalid: [spec.taints: Forbidden: taints feature for MachinePools is not yet implemented, spec.taints: Forbidden: taints are not allowed to be set when the feature gate MachineTaintPropagation is disabled]"#))]
#[case::gate_off(json!({}), false, Some("spec: Forbidden: can be set only if the MachinePool feature flag is enabled"))]
fn machinepool_validation(#[case] spec: Value, #[case] gate: bool, #[case] want: Option<&str>) {
    let o = with_kind(md("mp", spec), Kind::MachinePool);
    let got = check(&o, None, &gates(|g| g.machine_pool = gate));
    if !gate {
        assert_eq!(got, Err("spec: Forbidden: can be set only if the MachinePool feature flag is enabled".to_string()));
    }
    expect(got, want);
}

/// `core/webhooks/admission/machinedeployment_test.go: TestMachineDeploymentDefault` and
/// `machineset_test.go: TestMachineSetDefault`, through the API server.
#[test]
fn md_and_ms_defaults() {
    let mut api = server(FeatureGates::default());
    let d = api.create(md("md", json!({"template": {"spec": {"version": "1.19.10"}}})), OPTS).expect("admitted").object;
    assert_eq!(d.str_at("/spec/template/spec/version"), Some("v1.19.10"));
    assert_eq!(d.i64_at("/spec/replicas"), Some(1));
    assert_eq!(d.str_at("/spec/rollout/strategy/type"), Some("RollingUpdate"));
    assert_eq!(d.at("/spec/rollout/strategy/rollingUpdate"), Some(&json!({"maxSurge": 1, "maxUnavailable": 0})));
    assert_eq!(
        d.at("/spec/selector/matchLabels"),
        Some(&json!({"cluster.x-k8s.io/cluster-name": "c", "cluster.x-k8s.io/deployment-name": "md"}))
    );
    let s = api
        .create(with_kind(md("ms", json!({"template": {"spec": {"version": "1.19.10"}}})), Kind::MachineSet), OPTS)
        .expect("admitted")
        .object;
    assert_eq!(s.str_at("/spec/template/spec/version"), Some("v1.19.10"));
    assert_eq!(s.at("/spec/selector/matchLabels"), Some(&json!({"cluster.x-k8s.io/set-name": "ms"})));
    assert_eq!(s.label("cluster.x-k8s.io/cluster-name"), Some("c"));
}

//! Admission webhooks of CAPI, KCP, CABPK and CAPD, restated from upstream's webhook unit tests
//! (`core/webhooks/admission/*_test.go`, `controlplane/kubeadm/webhooks/admission/*_test.go`,
//! `bootstrap/kubeadm/webhooks/admission/*_test.go`, `test/infrastructure/docker/webhooks/admission/*_test.go`).
//! Upstream's tests call `ValidateCreate`/`ValidateUpdate` on undefaulted objects; [`check`] does the
//! same with the simulator's webhook for the kind. Defaulting and the `/scale` subresource go
//! through the simulated API server ([`server`]). Where upstream only asserts that an error occurs,
//! the expected text is the one upstream's code builds (`field.Error` rendered by `apierrors.NewInvalid`).

use capi_sim::features::FeatureGates;
use capi_sim::kinds::Kind;
use capi_sim::object::Object;
use capi_sim::store::api::{AdmissionRequest, ApiServer, Operation, Webhook, WriteOptions};
use capi_sim::store::{Store, Subresource};
use capi_sim::webhooks;
use rstest::rstest;
use serde_json::{json, Value};

const MIN: &str = "cluster.x-k8s.io/cluster-api-autoscaler-node-group-min-size";
const MAX: &str = "cluster.x-k8s.io/cluster-api-autoscaler-node-group-max-size";

fn obj(v: Value) -> Object {
    Object::from_json(&v).expect("a valid object")
}

/// The validating webhook of a kind.
fn webhook(kind: Kind) -> Box<dyn Webhook> {
    webhooks::all().into_iter().find(|w| w.kind() == kind && w.name().starts_with("validation.")).expect("a webhook")
}

/// `ValidateCreate` (no `old`) or `ValidateUpdate` of the kind's validating webhook.
fn check(new: &Object, old: Option<&Object>, gates: &FeatureGates) -> Result<Vec<String>, String> {
    let store = Store::new(1);
    let op = if old.is_some() { Operation::Update } else { Operation::Create };
    webhook(new.kind).validate(&AdmissionRequest { op, object: new, old, store: &store, gates, dry_run: false })
}

/// The default gates with `f` applied.
fn gates(f: impl FnOnce(&mut FeatureGates)) -> FeatureGates {
    let mut g = FeatureGates::default();
    f(&mut g);
    g
}

/// An API server with every webhook.
fn server(g: FeatureGates) -> ApiServer {
    ApiServer::new(Store::new(7), g, webhooks::all())
}

const OPTS: WriteOptions = WriteOptions { now: 0, dry_run: false };

/// Assert an answer: `None` = allowed; `Some(text)` = denied with a message containing `text`.
fn expect(got: Result<Vec<String>, String>, want: Option<&str>) {
    match (got, want) {
        (Ok(_), None) => {}
        (Err(e), Some(w)) => assert!(e.contains(w), "denied with\n  {e}\nexpected it to contain\n  {w}"),
        (Ok(w), Some(want)) => panic!("allowed (warnings {w:?}), expected a denial containing {want:?}"),
        (Err(e), None) => panic!("denied: {e}"),
    }
}

// ----- Machine -----

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
    let m = machine(json!({"clusterName": "test-cluster", "bootstrap": {"configRef": {"name": "b"}}, "version": "1.17.5"}));
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

fn mhc(cluster: &str, selector: Value, checks: Value, remediation: Value) -> Object {
    obj(json!({"apiVersion": "cluster.x-k8s.io/v1beta2", "kind": "MachineHealthCheck", "metadata": {"name": "mhc", "namespace": "default"},
        "spec": {"clusterName": cluster, "selector": selector, "checks": checks, "remediation": remediation}}))
}

/// `core/webhooks/admission/machinehealthcheck_test.go`: `TestMachineHealthCheckLabelSelectorAsSelectorValidation`,
/// `TestMachineHealthCheckNodeStartupTimeout`, `TestMachineHealthCheckMaxUnhealthy`,
/// `TestMachineHealthCheckSelectorValidation` and `TestMachineHealthCheckClusterNameSelectorValidation`.
#[rstest]
#[case::valid_selector(json!({"matchLabels": {"foo": "bar"}}), json!({}), json!({}), None)]
#[case::invalid_selector(json!({"matchLabels": {"-123-foo": "bar"}}), json!({}), json!({}), Some(r#"spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"-123-foo":"bar"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: key: Invalid value: "-123-foo": name part must consist of alphanumeric characters"#))]
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
#[case::other_cluster_selector(json!({"matchLabels": {"cluster.x-k8s.io/cluster-name": "bar"}}), json!({}), json!({}), Some(r#"spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"cluster.x-k8s.io/cluster-name":"bar"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: cannot specify a cluster selector other than the one specified by ClusterName"#))]
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

fn md(name: &str, spec: Value) -> Object {
    let mut base = json!({"clusterName": "c", "template": {"spec": {"clusterName": "c", "bootstrap": {"configRef": {"name": "b"}}}}});
    json_patch::merge(&mut base, &spec);
    obj(
        json!({"apiVersion": "cluster.x-k8s.io/v1beta2", "kind": "MachineDeployment", "metadata": {"name": name, "namespace": "default"}, "spec": base}),
    )
}

fn with_kind(mut o: Object, kind: Kind) -> Object {
    let mut v = o.to_json();
    v["kind"] = json!(kind.name());
    o = obj(v);
    o
}

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
#[case::invalid_selector("md", json!({"selector": {"matchLabels": {"-123-foo": "bar"}}, "template": {"metadata": {"labels": {"-123-foo": "bar"}}}}), Some(r#"spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"-123-foo":"bar"}"#))]
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
#[case::selector_mismatch(json!({"selector": {"matchLabels": {"foo": "bar"}}, "template": {"metadata": {"labels": {"foo": "baz"}}}}), None, Some(r#"spec.template.metadata.labels: Invalid value: map[string]string{"foo":"baz"}: must match spec.selector "foo=bar""#))]
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

// ----- ClusterResourceSet -----

fn crs(selector: Value, strategy: Option<&str>) -> Object {
    let mut spec = json!({"clusterSelector": selector});
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
#[case::invalid_selector(json!({"matchLabels": {"-123-foo": "bar"}}), None, None, Some(r#"ClusterResourceSet.addons.cluster.x-k8s.io "crs" is invalid: spec.clusterSelector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"-123-foo":"bar"}"#))]
#[case::strategy_unchanged(json!({"matchLabels": {"foo": "bar"}}), Some("ApplyOnce"), Some(("ApplyOnce", json!({"matchLabels": {"foo": "bar"}}))), None)]
#[case::strategy_set_from_empty(json!({"matchLabels": {"foo": "bar"}}), Some("ApplyOnce"), Some(("", json!({"matchLabels": {"foo": "bar"}}))), None)]
#[case::strategy_changed(json!({"matchLabels": {"foo": "bar"}}), Some("Reconcile"), Some(("ApplyOnce", json!({"matchLabels": {"foo": "bar"}}))), Some(r#"spec.strategy: Invalid value: "Reconcile": field is immutable"#))]
#[case::selector_changed(json!({"matchLabels": {"foo": "baz"}}), Some("ApplyOnce"), Some(("ApplyOnce", json!({"matchLabels": {"foo": "bar"}}))), Some(r#"spec.clusterSelector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"foo":"baz"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable"#))]
#[case::selector_empty(json!({}), None, None, Some("spec.clusterSelector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: selector must not be empty"))]
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

// ----- CABPK -----

fn kubeadm_config(spec: Value) -> Object {
    obj(
        json!({"apiVersion": "bootstrap.cluster.x-k8s.io/v1beta2", "kind": "KubeadmConfig", "metadata": {"name": "baz", "namespace": "default"}, "spec": spec}),
    )
}

/// `bootstrap/kubeadm/webhooks/admission/kubeadmconfig_test.go: TestKubeadmConfigValidate` (each
/// entry named; `ignition` = the entry's `enableIgnitionFeature`).
#[rstest]
#[case::valid_content(json!({"files": [{"path": "/a", "content": "foo"}]}), false, None)]
#[case::valid_content_from(json!({"files": [{"path": "/a", "contentFrom": {"secret": {"name": "foo", "key": "bar"}}}]}), false, None)]
#[case::invalid_content_and_content_from(json!({"files": [{"path": "/a", "content": "foo", "contentFrom": {"secret": {"name": "foo", "key": "bar"}}}]}), false, Some("spec.files[0]: Invalid value: "))]
#[case::invalid_content_from_without_name(json!({"files": [{"path": "/a", "contentFrom": {"secret": {"key": "bar"}}}]}), false, Some("spec.files[0].contentFrom.secret.name: Required value: secret file source must specify non-empty secret name"))]
#[case::invalid_content_from_without_key(json!({"files": [{"path": "/a", "contentFrom": {"secret": {"name": "foo"}}}]}), false, Some("spec.files[0].contentFrom.secret.key: Required value: secret file source must specify non-empty secret key"))]
#[case::invalid_duplicate_file_path(json!({"files": [{"content": "foo"}, {"content": "bar"}]}), false, Some("spec.files[1].path: Invalid value: "))]
#[case::valid_passwd(json!({"users": [{"name": "u", "passwd": "foo"}]}), false, None)]
#[case::valid_passwd_from(json!({"users": [{"name": "u", "passwdFrom": {"secret": {"name": "foo", "key": "bar"}}}]}), false, None)]
#[case::invalid_passwd_and_passwd_from(json!({"users": [{"name": "u", "passwd": "foo", "passwdFrom": {"secret": {"name": "foo", "key": "bar"}}}]}), false, Some("only one of passwd or passwdFrom may be specified for a single user"))]
#[case::invalid_passwd_from_without_name(json!({"users": [{"name": "u", "passwdFrom": {"secret": {"key": "bar"}}}]}), false, Some("spec.users[0].passwdFrom.secret.name: Required value"))]
#[case::invalid_passwd_from_without_key(json!({"users": [{"name": "u", "passwdFrom": {"secret": {"name": "foo"}}}]}), false, Some("spec.users[0].passwdFrom.secret.key: Required value"))]
#[case::ignition_set_format_not_ignition(json!({"ignition": {"containerLinuxConfig": {"additionalConfig": "config"}}}), true, Some(r#"spec.format: Invalid value: "": must be set to "ignition" if spec.ignition is set"#))]
#[case::ignition_not_set_format_ignition(json!({"format": "ignition"}), true, None)]
#[case::format_ignition_user_inactive(json!({"format": "ignition", "users": [{"name": "u", "inactive": true}]}), true, Some(r#"spec.users[0].inactive: Forbidden: not supported when spec.format is set to: "ignition""#))]
#[case::format_ignition_non_gpt_partition(json!({"format": "ignition", "diskSetup": {"partitions": [{"device": "/dev/disk/scsi1/lun0", "tableType": "MS-DOS"}]}}), true, Some(r#"spec.diskSetup.partitions[0].tableType: Invalid value: "MS-DOS": only partition type "gpt" is supported when spec.format is set to "ignition""#))]
#[case::gate_disabled_format_ignition(json!({"format": "ignition"}), false, Some("spec.format: Forbidden: can be set only if the KubeadmBootstrapFormatIgnition feature gate is enabled"))]
#[case::gate_disabled_ignition_field_set(json!({"format": "ignition", "ignition": {"containerLinuxConfig": {"additionalConfig": "config"}}}), false, Some("spec.ignition: Forbidden: can be set only if the KubeadmBootstrapFormatIgnition feature gate is enabled"))]
#[case::replace_fs_with_ignition(json!({"format": "ignition", "diskSetup": {"filesystems": [{"device": "/dev/disk/azure/scsi1/lun0", "extraOpts": ["-E", "lazy_itable_init=1,lazy_journal_init=1"], "filesystem": "ext4", "label": "etcd_disk", "replaceFS": "ntfs"}]}}), true, Some(r#"spec.diskSetup.filesystems[0].replaceFS: Forbidden: not supported when spec.format is set to: "ignition""#))]
#[case::filesystem_partition_with_ignition(json!({"format": "ignition", "diskSetup": {"filesystems": [{"device": "/dev/disk/azure/scsi1/lun0", "filesystem": "ext4", "label": "etcd_disk", "partition": "1"}]}}), true, Some("spec.diskSetup.filesystems[0].partition: Forbidden"))]
#[case::file_encoding_gzip_with_ignition(json!({"format": "ignition", "files": [{"path": "/etc/foo", "content": "foo", "encoding": "gzip"}]}), true, Some("spec.files[0].encoding: Forbidden"))]
#[case::file_encoding_gzip_base64_with_ignition(json!({"format": "ignition", "files": [{"path": "/etc/foo", "content": "foo", "encoding": "gzip+base64"}]}), true, Some("spec.files[0].encoding: Forbidden"))]
#[case::boot_commands_with_ignition(json!({"format": "ignition", "bootCommands": ["echo $(date)", "echo 'hello BootCommands!'"]}), true, Some(r#"spec.bootCommands: Forbidden: not supported when spec.format is set to: "ignition""#))]
#[case::boot_commands_with_cloud_config(json!({"format": "cloud-config", "bootCommands": ["echo $(date)", "echo 'hello BootCommands!'"]}), false, None)]
#[case::health_check_seconds_join_not_defined(json!({"initConfiguration": {"timeouts": {"controlPlaneComponentHealthCheckSeconds": 10}}}), false, None)]
#[case::valid_disk_layout(json!({"diskSetup": {"partitions": [{"device": "disk", "layout": true, "diskLayout": [{"percentage": 30}, {"percentage": 70}]}]}}), false, None)]
#[case::invalid_disk_layout_over_100(json!({"diskSetup": {"partitions": [{"device": "disk", "layout": true, "diskLayout": [{"percentage": 60}, {"percentage": 50}]}]}}), false, Some(r#"KubeadmConfig.bootstrap.cluster.x-k8s.io "baz" is invalid: spec.diskSetup.partitions[0].diskLayout: Invalid value: 110: the sum of all partition percentages must not be greater than 100"#))]
#[case::valid_disk_layout_under_100(json!({"diskSetup": {"partitions": [{"device": "disk", "layout": true, "diskLayout": [{"percentage": 30}, {"percentage": 20}]}]}}), false, None)]
fn kubeadm_config_validate(#[case] spec: Value, #[case] ignition: bool, #[case] want: Option<&str>) {
    let g = gates(|g| g.kubeadm_bootstrap_format_ignition = ignition);
    let c = kubeadm_config(spec.clone());
    expect(check(&c, None, &g), want);
    expect(check(&c, Some(&c), &g), want);
    // `kubeadmconfigtemplate_test.go: TestKubeadmConfigTemplateValidation` runs the same rules on
    // `spec.template.spec`.
    let t = obj(json!({"apiVersion": "bootstrap.cluster.x-k8s.io/v1beta2", "kind": "KubeadmConfigTemplate",
        "metadata": {"name": "baz", "namespace": "default"}, "spec": {"template": {"spec": spec}}}));
    expect(check(&t, None, &g), want.map(|w| if w.starts_with("spec.") { w.trim_start_matches("spec.") } else { "is invalid" }));
}

/// `bootstrap/kubeadm/webhooks/admission/kubeadmconfigtemplate_test.go: TestKubeadmConfigTemplateValidation`:
/// invalid template metadata.
#[test]
fn kubeadm_config_template_metadata() {
    let t = obj(json!({"apiVersion": "bootstrap.cluster.x-k8s.io/v1beta2", "kind": "KubeadmConfigTemplate",
        "metadata": {"name": "t", "namespace": "default"},
        "spec": {"template": {"metadata": {"labels": {"foo": "$invalid-key"}, "annotations": {"/invalid-key": "foo"}}, "spec": {}}}}));
    expect(
        check(&t, None, &FeatureGates::default()),
        Some(
            r#"KubeadmConfigTemplate.bootstrap.cluster.x-k8s.io "t" is invalid: [spec.template.metadata.labels: Invalid value: "$invalid-key": a valid label must be an empty string"#,
        ),
    );
}

// ----- KubeadmControlPlane -----

/// Upstream's `valid` KubeadmControlPlane of `TestKubeadmControlPlaneValidateCreate`, with `patch` merged.
fn kcp(patch: Value) -> Object {
    let mut v = json!({"apiVersion": "controlplane.cluster.x-k8s.io/v1beta2", "kind": "KubeadmControlPlane",
        "metadata": {"name": "test", "namespace": "default"},
        "spec": {"machineTemplate": {"spec": {"infrastructureRef": {"apiGroup": "test", "kind": "UnknownInfraMachine", "name": "infraTemplate"}}},
            "kubeadmConfigSpec": {"clusterConfiguration": {}}, "replicas": 1, "version": "v1.19.0",
            "rollout": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}}});
    json_patch::merge(&mut v, &patch);
    obj(v)
}

/// `controlplane/kubeadm/webhooks/admission/kubeadmcontrolplane_test.go: TestKubeadmControlPlaneValidateCreate`
/// (each entry named).
#[rstest]
#[case::valid_config(json!({}), false, None)]
#[case::replicas_nil(json!({"spec": {"replicas": null}}), false, Some(r#"KubeadmControlPlane.cluster.x-k8s.io "test" is invalid: spec.replicas: Required value: is required"#))]
#[case::replicas_zero(json!({"spec": {"replicas": 0}}), false, Some(r#"KubeadmControlPlane.cluster.x-k8s.io "test" is invalid: [spec.replicas: Forbidden: cannot be less than or equal to 0, spec.replicas: Forbidden: cannot be an even number when etcd is stacked]"#))]
#[case::replicas_even(json!({"spec": {"replicas": 2}}), false, Some("spec.replicas: Forbidden: cannot be an even number when etcd is stacked"))]
#[case::even_replicas_external_etcd(json!({"spec": {"replicas": 2, "kubeadmConfigSpec": {"clusterConfiguration": {"etcd": {"external": {"endpoints": ["1.2.3.4"]}}}}}}), false, None)]
#[case::valid_version_with_v(json!({"spec": {"version": "v1.16.6"}}), false, None)]
#[case::version_without_v(json!({"spec": {"version": "1.16.6"}}), false, Some(r#"spec.version: Invalid value: "1.16.6": must start with v"#))]
#[case::version_vv(json!({"spec": {"version": "vv1.16.6"}}), false, Some(r#"spec.version: Invalid value: "vv1.16.6": must be a valid semantic version"#))]
#[case::version_v1(json!({"spec": {"version": "v1"}}), false, Some(r#"spec.version: Invalid value: "v1": must be a valid semantic version"#))]
#[case::invalid_coredns_version(json!({"spec": {"kubeadmConfigSpec": {"clusterConfiguration": {"dns": {"imageTag": "1-7"}}}}}), false, Some(r#"dns.imageTag: Invalid value: "1-7": failed to parse CoreDNS version: Short version cannot contain PreRelease/Build meta data"#))]
#[case::max_surge_not_one(json!({"spec": {"rollout": {"strategy": {"rollingUpdate": {"maxSurge": 3}}}}}), false, Some("spec.rollout.strategy.rollingUpdate.maxSurge: Required value: value must be 1 or 0"))]
#[case::max_surge_string(json!({"spec": {"rollout": {"strategy": {"rollingUpdate": {"maxSurge": "1"}}}}}), false, None)]
#[case::invalid_ignition_configuration(json!({"spec": {"kubeadmConfigSpec": {"ignition": {"containerLinuxConfig": {"additionalConfig": "config"}}}}}), true, Some(r#"spec.kubeadmConfigSpec.format: Invalid value: "": must be set to "ignition" if spec.ignition is set"#))]
#[case::valid_ignition_configuration(json!({"spec": {"kubeadmConfigSpec": {"format": "ignition", "ignition": {}}}}), true, None)]
#[case::invalid_metadata(json!({"spec": {"machineTemplate": {"metadata": {"labels": {"foo": "$invalid-key"}, "annotations": {"/invalid-key": "foo"}}}}}), false, Some(r#"[spec.machineTemplate.metadata.labels: Invalid value: "$invalid-key": a valid label must be an empty string"#))]
#[case::invalid_health_check_seconds(json!({"spec": {"kubeadmConfigSpec": {"initConfiguration": {"timeouts": {"controlPlaneComponentHealthCheckSeconds": 10}}}}}), false, Some(r#"spec.kubeadmConfigSpec.initConfiguration.timeouts.controlPlaneComponentHealthCheckSeconds: Invalid value: "10": controlPlaneComponentHealthCheckSeconds must be set to the same value both in initConfiguration.timeouts (10) and in joinConfiguration.timeouts (unset)"#))]
#[case::valid_health_check_seconds(json!({"spec": {"kubeadmConfigSpec": {"initConfiguration": {"timeouts": {"controlPlaneComponentHealthCheckSeconds": 10}}, "joinConfiguration": {"timeouts": {"controlPlaneComponentHealthCheckSeconds": 10}}}}}), false, None)]
#[case::certificate_validity_over_ca(json!({"spec": {"kubeadmConfigSpec": {"clusterConfiguration": {"certificateValidityPeriodDays": 350, "caCertificateValidityPeriodDays": 300}}}}), false, Some("spec.kubeadmConfigSpec.clusterConfiguration.certificateValidityPeriodDays: Invalid value: 350: must be less than or equal to caCertificateValidityPeriodDays (300)"))]
#[case::certificate_validity_over_default(json!({"spec": {"kubeadmConfigSpec": {"clusterConfiguration": {"certificateValidityPeriodDays": 3651}}}}), false, Some("must be less than or equal to the default value of caCertificateValidityPeriodDays (3650)"))]
#[case::rollout_before_over_validity(json!({"spec": {"rollout": {"before": {"certificatesExpiryDays": 8}}, "kubeadmConfigSpec": {"clusterConfiguration": {"certificateValidityPeriodDays": 7}}}}), false, Some("spec.rollout.before.certificatesExpiryDays: Invalid value: 8: must be less than certificateValidityPeriodDays (7)"))]
fn kcp_validate_create(#[case] patch: Value, #[case] ignition: bool, #[case] want: Option<&str>) {
    expect(check(&kcp(patch), None, &gates(|g| g.kubeadm_bootstrap_format_ignition = ignition)), want);
}

/// `controlplane/kubeadm/webhooks/admission/kubeadmcontrolplane_test.go: TestKubeadmControlPlaneValidateUpdate`
/// (entries named) and `TestValidateVersion`.
#[rstest]
#[case::valid_update(json!({"spec": {"replicas": 5}}), None)]
#[case::mutate_init_node_registration(json!({"spec": {"kubeadmConfigSpec": {"initConfiguration": {"nodeRegistration": {"name": "x"}}}}}), None)]
#[case::mutate_join_node_registration(json!({"spec": {"kubeadmConfigSpec": {"joinConfiguration": {"nodeRegistration": {"name": "x"}}}}}), None)]
#[case::mutate_cluster_configuration_certificates_dir(json!({"spec": {"kubeadmConfigSpec": {"clusterConfiguration": {"certificatesDir": "a new certificates directory"}}}}), Some("spec.kubeadmConfigSpec.clusterConfiguration.certificatesDir: Forbidden: cannot be modified"))]
#[case::format_cloud_config_to_ignition(json!({"spec": {"kubeadmConfigSpec": {"format": "ignition"}}}), Some("spec.kubeadmConfigSpec.format: Forbidden: can be set only if the KubeadmBootstrapFormatIgnition feature gate is enabled"))]
#[case::scale_to_zero(json!({"spec": {"replicas": 0}}), Some("spec.replicas: Forbidden: cannot be less than or equal to 0"))]
#[case::scale_to_even(json!({"spec": {"replicas": 2}}), Some("spec.replicas: Forbidden: cannot be an even number when etcd is stacked"))]
#[case::local_etcd_image_tag(json!({"spec": {"kubeadmConfigSpec": {"clusterConfiguration": {"etcd": {"local": {"imageTag": "v9.1.1"}}}}}}), None)]
#[case::local_etcd_build_tag(json!({"spec": {"kubeadmConfigSpec": {"clusterConfiguration": {"etcd": {"local": {"imageTag": "v9.1.1_validBuild1"}}}}}}), None)]
#[case::invalid_etcd_image_tag(json!({"spec": {"kubeadmConfigSpec": {"clusterConfiguration": {"etcd": {"local": {"imageTag": "v9.1.1+invalidBuild1"}}}}}}), Some("spec.kubeadmConfigSpec.clusterConfiguration.etcd.local.imageTag: Forbidden: tag v9.1.1+invalidBuild1 is invalid"))]
#[case::control_plane_endpoint(json!({"spec": {"kubeadmConfigSpec": {"clusterConfiguration": {"controlPlaneEndpoint": "some control plane endpoint"}}}}), Some("spec.kubeadmConfigSpec.clusterConfiguration.controlPlaneEndpoint: Forbidden: cannot be modified"))]
#[case::api_server(json!({"spec": {"kubeadmConfigSpec": {"clusterConfiguration": {"apiServer": {"certSANs": ["foo"]}}}}}), None)]
#[case::dns_valid_custom_version(json!({"spec": {"kubeadmConfigSpec": {"clusterConfiguration": {"dns": {"imageRepository": "gcr.io/capi-test", "imageTag": "v1.6.6_foobar.1"}}}}}), None)]
#[case::dns_invalid_tag(json!({"spec": {"kubeadmConfigSpec": {"clusterConfiguration": {"dns": {"imageRepository": "gcr.io/capi-test", "imageTag": "v0.20.0+invalidBuild1"}}}}}), Some("spec.kubeadmConfigSpec.clusterConfiguration.dns.imageTag: Forbidden: tag v0.20.0+invalidBuild1 is invalid"))]
#[case::image_repository(json!({"spec": {"kubeadmConfigSpec": {"clusterConfiguration": {"imageRepository": "a new image repository"}}}}), None)]
#[case::external_etcd(json!({"spec": {"kubeadmConfigSpec": {"clusterConfiguration": {"etcd": {"external": {"endpoints": ["1.2.3.4"]}}}}}}), Some("spec.kubeadmConfigSpec.clusterConfiguration.etcd.external: Forbidden: cannot change between external and local etcd"))]
#[case::version_next_minor(json!({"spec": {"version": "v1.17.0"}}), None)]
#[case::version_skips_a_minor(json!({"spec": {"version": "v1.18.0"}}), Some("spec.version: Forbidden: cannot update Kubernetes version from v1.16.6 to v1.18.0"))]
fn kcp_validate_update(#[case] patch: Value, #[case] want: Option<&str>) {
    let before = kcp(json!({"spec": {"version": "v1.16.6", "kubeadmConfigSpec": {"format": "cloud-config",
        "clusterConfiguration": {"dns": {"imageRepository": "registry.k8s.io/coredns", "imageTag": "1.6.5"}}}}}));
    let mut after = before.to_json();
    json_patch::merge(&mut after, &patch);
    expect(check(&obj(after), Some(&before), &FeatureGates::default()), want);
}

/// `controlplane/kubeadm/webhooks/admission/kubeadmcontrolplane_scale_test.go: TestKubeadmControlPlaneValidateScale`
/// (each entry), through the API server's `/scale`: only the scale webhook answers, with its
/// plain messages.
#[rstest]
#[case::scale_to_zero(false, 0, Some("replicas should be greater than zero"))]
#[case::scale_to_negative(false, -1, Some("replicas should be greater than zero"))]
#[case::even_with_managed_etcd(false, 2, Some("replicas cannot be an even number when etcd is stacked"))]
#[case::odd_with_managed_etcd(false, 3, None)]
#[case::even_with_external_etcd(true, 2, None)]
#[case::odd_with_external_etcd(true, 3, None)]
fn kcp_scale(#[case] external: bool, #[case] replicas: i64, #[case] want: Option<&str>) {
    let mut api = server(FeatureGates::default());
    let mut k = kcp(json!({}));
    if external {
        k.set("/spec/kubeadmConfigSpec/clusterConfiguration/etcd/external", json!({"endpoints": ["1.2.3.4"]}));
    }
    let key = api.create(k, OPTS).expect("admitted").object.key();
    let got = api.scale(&key, replicas, None, OPTS);
    match want {
        None => assert_eq!(got.expect("scaled").object.i64_at("/spec/replicas"), Some(replicas)),
        Some(w) => assert_eq!(
            got.expect_err("denied").message,
            format!("admission webhook \"validation-scale.kubeadmcontrolplane.controlplane.cluster.x-k8s.io\" denied the request: {w}")
        ),
    }
}

/// The `/scale` subresource of MachineDeployments, MachineSets and MachinePools has no webhook
/// (`+kubebuilder:subresource:scale` markers in `api/core/v1beta2/*_types.go`; CAPI registers its
/// object webhooks for the main resource only): a scale writes `spec.replicas` and bumps the generation.
#[rstest]
fn scale_without_scale_webhook(#[values(Kind::MachineDeployment, Kind::MachineSet, Kind::MachinePool)] kind: Kind) {
    let mut api = server(FeatureGates::default());
    let created = api.create(with_kind(md("md", json!({"replicas": 1})), kind), OPTS).expect("admitted").object;
    let scaled = api.scale(&created.key(), 4, Some(created.meta.resource_version), OPTS).expect("scaled").object;
    assert_eq!(scaled.i64_at("/spec/replicas"), Some(4));
    assert_eq!(scaled.meta.generation, created.meta.generation + 1);
    let stale = api.scale(&created.key(), 5, Some(created.meta.resource_version), OPTS).expect_err("stale resourceVersion");
    assert_eq!(stale.code, 409);
}

/// `controlplane/kubeadm/webhooks/admission/kubeadmcontrolplane_test.go: TestKubeadmControlPlaneDefault`:
/// replicas 1, a `v` on the version, `RollingUpdate` with maxSurge 1.
#[test]
fn kcp_default() {
    let mut api = server(FeatureGates::default());
    let k = kcp(json!({"spec": {"replicas": null, "version": "1.18.3", "rollout": null}}));
    let w = api.create(k, OPTS).expect("admitted").object;
    assert_eq!(w.str_at("/spec/version"), Some("v1.18.3"));
    assert_eq!(w.i64_at("/spec/replicas"), Some(1));
    assert_eq!(w.at("/spec/rollout/strategy"), Some(&json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}})));
}

fn kcp_template(spec: Value) -> Object {
    obj(json!({"apiVersion": "controlplane.cluster.x-k8s.io/v1beta2", "kind": "KubeadmControlPlaneTemplate",
        "metadata": {"name": "kubeadmcontrolplanetemplate-test", "namespace": "default"}, "spec": {"template": spec}}))
}

/// `controlplane/kubeadm/webhooks/admission/kubeadmcontrolplanetemplate_test.go`:
/// `TestKubeadmControlPlaneTemplateValidationFeatureGateEnabled`, `...FeatureGateDisabled`,
/// `TestKubeadmControlPlaneTemplateValidationMetadata`, `TestKubeadmControlPlaneTemplateUpdateValidation`.
#[rstest]
#[case::gate_enabled(true, json!({"spec": {"kubeadmConfigSpec": {}}}), None, None)]
#[case::gate_disabled(false, json!({"spec": {"kubeadmConfigSpec": {}}}), None, Some("spec: Forbidden: can be set only if the ClusterTopology feature flag is enabled"))]
#[case::invalid_metadata(true, json!({"metadata": {"labels": {"foo": "$invalid-key"}}, "spec": {}}), None, Some(r#"KubeadmControlPlaneTemplate.cluster.x-k8s.io "kubeadmcontrolplanetemplate-test" is invalid: spec.template.metadata.labels: Invalid value: "$invalid-key""#))]
#[case::invalid_machine_template_metadata(true, json!({"spec": {"machineTemplate": {"metadata": {"annotations": {"/invalid-key": "foo"}}}}}), None, Some(r#"spec.template.spec.machineTemplate.metadata.annotations: Invalid value: "/invalid-key": prefix part must be non-empty"#))]
#[case::update_unchanged(true, json!({"spec": {"kubeadmConfigSpec": {"format": "cloud-config"}}}), Some(json!({"spec": {"kubeadmConfigSpec": {"format": "cloud-config"}}})), None)]
#[case::update_changed(true, json!({"spec": {"kubeadmConfigSpec": {"format": "cloud-config", "preKubeadmCommands": ["x"]}}}), Some(json!({"spec": {"kubeadmConfigSpec": {"format": "cloud-config"}}})), Some("KubeadmControlPlaneTemplate spec.template.spec field is immutable"))]
#[case::update_drops_old_default_strategy(true, json!({"spec": {}}), Some(json!({"spec": {"rollout": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}}})), None)]
fn kcp_template_validation(#[case] gate: bool, #[case] template: Value, #[case] old: Option<Value>, #[case] want: Option<&str>) {
    let new = kcp_template(template);
    let old = old.map(kcp_template);
    expect(check(&new, old.as_ref(), &gates(|g| g.cluster_topology = gate)), want);
}

// ----- CAPD -----

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

// ----- Feature gates -----

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

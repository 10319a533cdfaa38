//! The simulator's store refuses what a real API server refuses, with the same code, reason and
//! message (`sim::store::validate`): names, labels, annotations, finalizers, data keys, decoding,
//! custom resources' structural schemas (types, enums, required fields, bounds, pruning of unknown
//! fields with `fieldValidation`) and the immortal namespaces, through the store's user writes
//! (apply, patch, delete) and through scenario steps (`expect: denied`).

use capi_sim::kinds::Kind;
use capi_sim::object::ObjKey;
use capi_sim::store::api::{Patch, WriteOptions};
use capi_sim::store::schema::FieldValidation;
use capi_sim::store::Subresource;
use capi_sim::testing;
use rstest::rstest;
use serde_json::{json, Value};

const SUBDOMAIN: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

fn apply(v: Value) -> Result<(), (u16, &'static str, String)> {
    let mut sim = testing::sim(1);
    sim.apply(0, &v).map(|_| ()).map_err(|e| (e.code, e.reason, e.message))
}

fn cm(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "default"}, "data": {"k": "v"}})
}

/// Object names, per kind: DNS-1123 subdomains for ConfigMaps, Secrets and every custom resource,
/// DNS-1123 labels for Namespaces (apimachinery `api/validation/objectmeta.go:
/// ValidateObjectMetaAccessor` with `NameIsDNSSubdomain` / `ValidateNamespaceName`).
#[rstest]
#[case::traversal(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "../../etc", "namespace": "default"}}),
    format!("ConfigMap \"../../etc\" is invalid: metadata.name: Invalid value: \"../../etc\": {SUBDOMAIN}"))]
#[case::slash(json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "a/b", "namespace": "default"}}),
    format!("Secret \"a/b\" is invalid: metadata.name: Invalid value: \"a/b\": {SUBDOMAIN}"))]
#[case::upper_crd(json!({"apiVersion": "cluster.x-k8s.io/v1beta2", "kind": "Cluster", "metadata": {"name": "UPPER", "namespace": "default"}, "spec": {"paused": true}}),
    format!("Cluster.cluster.x-k8s.io \"UPPER\" is invalid: metadata.name: Invalid value: \"UPPER\": {SUBDOMAIN}"))]
#[case::namespace_upper(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "UPPER"}}),
    format!("Namespace \"UPPER\" is invalid: metadata.name: Invalid value: \"UPPER\": {LABEL}"))]
#[case::namespace_dots(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a.b"}}),
    "Namespace \"a.b\" is invalid: metadata.name: Invalid value: \"a.b\": must not contain dots".to_string())]
#[case::too_long(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a".repeat(254), "namespace": "default"}}),
    format!("ConfigMap \"{0}\" is invalid: metadata.name: Invalid value: \"{0}\": must be no more than 253 characters", "a".repeat(254)))]
fn names_that_are_not_dns_1123_are_invalid(#[case] obj: Value, #[case] want: String) {
    assert_eq!(apply(obj), Err((422, "Invalid", want)));
}

/// Label keys and values, annotation keys and size, finalizer names (apimachinery
/// `meta/v1/validation: ValidateLabels`, `api/validation/objectmeta.go: ValidateAnnotations`,
/// `ValidateFinalizers`).
#[rstest]
#[case::label_key(json!({"labels": {"bad key": "v"}}), "metadata.labels: Invalid value: \"bad key\": name part must consist of alphanumeric characters")]
#[case::label_prefix(json!({"labels": {"Example.com/x": "v"}}), "metadata.labels: Invalid value: \"Example.com/x\": prefix part a lowercase RFC 1123 subdomain")]
#[case::label_value(json!({"labels": {"k": "-v"}}), "metadata.labels: Invalid value: \"-v\": a valid label must be an empty string or consist of")]
#[case::label_value_long(json!({"labels": {"k": "v".repeat(64)}}), "Invalid value: \"vvvv")]
#[case::annotation_key(json!({"annotations": {"a/b/c": "v"}}), "metadata.annotations: Invalid value: \"a/b/c\": a qualified name must consist of")]
#[case::annotation_size(json!({"annotations": {"big": "x".repeat(256 << 10)}}), "metadata.annotations: Too long: may not be more than 262144 bytes")]
#[case::finalizer(json!({"finalizers": ["not a finalizer"]}), "metadata.finalizers: Invalid value: \"not a finalizer\": name part must consist of")]
fn labels_annotations_and_finalizers_are_validated(#[case] meta: Value, #[case] want: &str) {
    let mut v = cm("c1");
    for (k, val) in meta.as_object().unwrap() {
        v["metadata"][k] = val.clone();
    }
    let (code, reason, msg) = apply(v).unwrap_err();
    assert_eq!((code, reason), (422, "Invalid"), "{msg}");
    assert!(msg.starts_with("ConfigMap \"c1\" is invalid: ") && msg.contains(want), "{msg}");
}

/// Annotation keys are validated in lower case ("case doesn't matter"), and valid metadata passes.
#[test]
fn valid_metadata_passes() {
    let mut v = cm("c1");
    v["metadata"]["labels"] = json!({"cluster.x-k8s.io/cluster-name": "c1", "Empty": "", "v": "v1.34.3"});
    v["metadata"]["annotations"] = json!({"Example.COM/Mixed": "x", "kubectl.kubernetes.io/last-applied-configuration": "{}"});
    v["metadata"]["finalizers"] = json!(["example.com/keep"]);
    assert_eq!(apply(v), Ok(()));
}

/// Several errors are reported together, as `errors.NewInvalid` aggregates them.
#[test]
fn several_errors_aggregate() {
    let v = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "UP", "namespace": "default", "labels": {"k": "-v"}}});
    let (_, _, msg) = apply(v).unwrap_err();
    assert!(msg.starts_with("ConfigMap \"UP\" is invalid: [metadata.name: Invalid value: \"UP\": ") && msg.ends_with(")]"), "{msg}");
    assert!(msg.contains(", metadata.labels: Invalid value: \"-v\": "), "{msg}");
}

/// Wrong structural types: built-in kinds fail to decode (400, create.go `transformDecodeError`);
/// custom resources fail their schema (422, kube-openapi `InvalidType`).
#[rstest]
#[case::cm_data_string(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "default"}, "data": "notamap"}),
    400, "BadRequest", "ConfigMap in version \"v1\" cannot be handled as a ConfigMap: json: cannot unmarshal string into Go struct field ConfigMap.data of type map[string]string")]
#[case::cm_data_value(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "default"}, "data": {"k": 5}}),
    400, "BadRequest", "ConfigMap in version \"v1\" cannot be handled as a ConfigMap: json: cannot unmarshal number into Go struct field ConfigMap.data of type string")]
#[case::secret_data_string(json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "default"}, "data": "notamap"}),
    400, "BadRequest", "Secret in version \"v1\" cannot be handled as a Secret: json: cannot unmarshal string into Go struct field Secret.data of type map[string][]uint8")]
#[case::secret_not_base64(json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "default"}, "data": {"k": "not base64!"}}),
    400, "BadRequest", "Secret in version \"v1\" cannot be handled as a Secret: illegal base64 data at input byte 3")]
#[case::secret_string_data(json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "default"}, "stringData": ["x"]}),
    400, "BadRequest", "Secret in version \"v1\" cannot be handled as a Secret: json: cannot unmarshal array into Go struct field Secret.stringData of type map[string]string")]
#[case::crd_spec(json!({"apiVersion": "cluster.x-k8s.io/v1beta2", "kind": "Cluster", "metadata": {"name": "c", "namespace": "default"}, "spec": "notamap"}),
    422, "Invalid", "Cluster.cluster.x-k8s.io \"c\" is invalid: spec: Invalid value: \"string\": spec in body must be of type object: \"string\"")]
#[case::crd_spec_number(json!({"apiVersion": "cluster.x-k8s.io/v1beta2", "kind": "MachineDeployment", "metadata": {"name": "m", "namespace": "default"}, "spec": 3}),
    422, "Invalid", "MachineDeployment.cluster.x-k8s.io \"m\" is invalid: spec: Invalid value: \"integer\": spec in body must be of type object: \"integer\"")]
#[case::cm_key(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "default"}, "data": {"../x": "v"}}),
    422, "Invalid", "ConfigMap \"c\" is invalid: [data[../x]: Invalid value: \"../x\": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+'), data[../x]: Invalid value: \"../x\": must not start with '..']")]
fn wrong_types_are_refused(#[case] obj: Value, #[case] code: u16, #[case] reason: &str, #[case] want: &str) {
    let (c, r, m) = apply(obj).unwrap_err();
    assert_eq!((c, r, m.as_str()), (code, reason, want));
}

/// A merge patch that turns a ConfigMap's data into a string is refused as well, and the stored
/// object is unchanged.
#[test]
fn patches_are_validated_too() {
    let mut sim = testing::sim(1);
    sim.apply(0, &cm("c1")).unwrap();
    let key = ObjKey::new(Kind::ConfigMap, "default", "c1");
    let e = sim.patch(0, &key, &Patch::Merge(json!({"data": "notamap"})), Subresource::Main).unwrap_err();
    assert_eq!(e.code, 400, "{e}");
    let e = sim.patch(0, &key, &Patch::Merge(json!({"metadata": {"labels": {"k": "bad value"}}})), Subresource::Main).unwrap_err();
    assert_eq!((e.code, e.reason), (422, "Invalid"), "{e}");
    assert_eq!(testing::get(&sim, Kind::ConfigMap, "default", "c1").unwrap().body["data"], json!({"k": "v"}));
}

/// `default`, `kube-system` and `kube-public` may not be deleted (NamespaceLifecycle admission,
/// `plugin/pkg/admission/namespace/lifecycle/admission.go: Lifecycle.Admit`); other namespaces may.
#[rstest]
#[case("default", true)]
#[case("kube-system", true)]
#[case("kube-public", true)]
#[case("kube-node-lease", false)]
fn immortal_namespaces(#[case] ns: &str, #[case] refused: bool) {
    let mut sim = testing::sim(1);
    let r = sim.delete(0, &ObjKey::new(Kind::Namespace, "", ns), capi_scenarios::model::Propagation::Background);
    match r {
        Err(e) if refused => {
            assert_eq!(
                (e.code, e.reason, e.message),
                (403, "Forbidden", format!("namespaces \"{ns}\" is forbidden: this namespace may not be deleted"))
            )
        }
        Ok(_) if !refused => {}
        other => panic!("{ns}: {other:?}"),
    }
    assert_eq!(testing::get(&sim, Kind::Namespace, "", ns).is_some(), refused, "{ns} is kept only when refused");
}

/// The same refusals reach scenario steps: `expect: denied` sees the API server's message.
#[test]
fn scenario_steps_see_the_refusals() {
    let yaml = r#"
name: validation-steps
steps:
  - expect:
      - denied:
          apply:
            manifest: |
              apiVersion: v1
              kind: ConfigMap
              metadata: { name: "../../etc", namespace: default }
          message: 'ConfigMap "../../etc" is invalid: metadata.name: Invalid value: "../../etc": a lowercase RFC 1123 subdomain'
      - denied:
          apply:
            manifest: |
              apiVersion: v1
              kind: ConfigMap
              metadata: { name: c1, namespace: default }
              data: notamap
          message: 'cannot unmarshal string into Go struct field ConfigMap.data of type map[string]string'
      - denied:
          delete: { target: Namespace/kube-system }
          message: 'namespaces "kube-system" is forbidden: this namespace may not be deleted'
"#;
    let path = super::root().join("scenarios/library/validation-inline.yaml");
    let scenario = capi_scenarios::parse::load_text(yaml, &path, &Default::default()).unwrap_or_else(|e| panic!("{e}"));
    let mut backend = capi_sim::backend::SimBackend::new(Default::default());
    let report = pollster::block_on(capi_scenarios::runner::run(&mut backend, &scenario, &Default::default()));
    assert!(report.passed, "{:#?}", report.steps);
}

fn crs(spec: Value) -> Value {
    json!({"apiVersion": "addons.cluster.x-k8s.io/v1beta2", "kind": "ClusterResourceSet",
        "metadata": {"name": "crs", "namespace": "default"}, "spec": spec})
}

fn crs_spec() -> Value {
    json!({"clusterSelector": {"matchLabels": {"cni": "calico"}}, "resources": [{"name": "cni", "kind": "ConfigMap"}]})
}

/// A custom resource is validated against its kind's structural schema, with kube-openapi's
/// messages, and the metadata's errors and the schema's come in one answer
/// (`apiextensions-apiserver/pkg/registry/customresource/validator.go`, `strategy.go: Validate`).
#[rstest]
#[case::enum_value(json!({"strategy": "Sometimes"}),
    "ClusterResourceSet.addons.cluster.x-k8s.io \"crs\" is invalid: spec.strategy: Unsupported value: \"Sometimes\": supported values: \"ApplyOnce\", \"Reconcile\"")]
#[case::required(json!({"resources": null}), "ClusterResourceSet.addons.cluster.x-k8s.io \"crs\" is invalid: spec.resources: Required value")]
#[case::min_items(json!({"resources": []}),
    "ClusterResourceSet.addons.cluster.x-k8s.io \"crs\" is invalid: spec.resources: Invalid value: 0: spec.resources in body should have at least 1 items")]
#[case::item_enum_and_length(json!({"resources": [{"name": "", "kind": "Pod"}]}),
    "ClusterResourceSet.addons.cluster.x-k8s.io \"crs\" is invalid: [spec.resources[0].kind: Unsupported value: \"Pod\": supported values: \"Secret\", \"ConfigMap\", spec.resources[0].name: Invalid value: \"\": spec.resources[0].name in body should be at least 1 chars long]")]
#[case::wrong_type(json!({"clusterSelector": {"matchLabels": "cni"}}),
    "ClusterResourceSet.addons.cluster.x-k8s.io \"crs\" is invalid: spec.clusterSelector.matchLabels: Invalid value: \"string\": spec.clusterSelector.matchLabels in body must be of type object: \"string\"")]
fn custom_resources_follow_their_schema(#[case] change: Value, #[case] want: &str) {
    let mut spec = crs_spec();
    for (k, v) in change.as_object().unwrap() {
        match v {
            Value::Null => {
                spec.as_object_mut().unwrap().remove(k);
            }
            v => spec[k] = v.clone(),
        }
    }
    assert_eq!(apply(crs(spec)), Err((422, "Invalid", want.to_string())));
}

/// Bad metadata and a bad spec are answered together, metadata first.
#[test]
fn metadata_and_schema_errors_come_together() {
    let mut v = crs(json!({"clusterSelector": {}}));
    v["metadata"]["name"] = json!("UP");
    let (code, _, msg) = apply(v).unwrap_err();
    assert_eq!(code, 422);
    assert!(
        msg.starts_with("ClusterResourceSet.addons.cluster.x-k8s.io \"UP\" is invalid: [metadata.name: Invalid value: \"UP\""),
        "{msg}"
    );
    assert!(msg.ends_with(", spec.resources: Required value]"), "{msg}");
}

/// Fields the schema does not declare are pruned; the server's default (`Warn`) says so per field,
/// `Strict` refuses the write with 400 and stores nothing, `Ignore` is silent
/// (`apiserver/pkg/endpoints/handlers/rest.go: fieldValidation`, apiextensions' pruning).
#[rstest]
#[case::warn(FieldValidation::Warn)]
#[case::strict(FieldValidation::Strict)]
#[case::ignore(FieldValidation::Ignore)]
fn unknown_fields_are_pruned_warned_or_refused(#[case] mode: FieldValidation) {
    let mut sim = testing::sim(1);
    let mut v = crs(crs_spec());
    v["spec"]["colour"] = json!("blue");
    v["extra"] = json!(1);
    let obj = capi_sim::Object::from_json(&v).unwrap();
    let r = sim.create_as(0, obj, WriteOptions { field_validation: mode, ..WriteOptions::at(0) });
    let key = ("default", "crs");
    match mode {
        FieldValidation::Strict => {
            let e = r.unwrap_err();
            assert_eq!((e.code, e.reason), (400, "BadRequest"));
            assert_eq!(
                e.message,
                "ClusterResourceSet in version \"v1beta2\" cannot be handled as a ClusterResourceSet: strict decoding error: unknown field \"extra\", unknown field \"spec.colour\""
            );
            assert!(testing::get(&sim, Kind::ClusterResourceSet, key.0, key.1).is_none());
        }
        _ => {
            let w = r.unwrap();
            let want: &[&str] =
                if mode == FieldValidation::Warn { &["unknown field \"extra\"", "unknown field \"spec.colour\""] } else { &[] };
            assert_eq!(w.warnings, want);
            let stored = testing::get(&sim, Kind::ClusterResourceSet, key.0, key.1).unwrap();
            assert!(stored.body.get("extra").is_none() && stored.body["spec"].get("colour").is_none(), "{:?}", stored.body);
            assert_eq!(stored.body["spec"]["resources"], crs_spec()["resources"]);
        }
    }
}

/// An update adds unknown fields only where it changes something, and they are pruned there; a
/// patch that only adds an unknown field changes nothing.
#[test]
fn updates_are_pruned_too() {
    let mut sim = testing::sim(1);
    sim.apply(0, &crs(crs_spec())).unwrap();
    let key = ObjKey::new(Kind::ClusterResourceSet, "default", "crs");
    let rv = testing::get(&sim, Kind::ClusterResourceSet, "default", "crs").unwrap().meta.resource_version;
    let w = sim.patch(0, &key, &Patch::Merge(json!({"spec": {"colour": "blue"}})), Subresource::Main).unwrap();
    assert_eq!(w.warnings, ["unknown field \"spec.colour\""]);
    assert!(!w.changed);
    assert_eq!(w.object.meta.resource_version, rv);
    let e = sim.patch(0, &key, &Patch::Merge(json!({"spec": {"strategy": "Never"}})), Subresource::Main).unwrap_err();
    assert_eq!(e.code, 422, "{e}");
}

const CONDITION_TYPE: &str =
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$";

/// `pattern` and the CRDs' CEL rules (`+kubebuilder:validation:XValidation`): a pattern error reads
/// as kube-openapi's `should match`, a failed rule as the CEL validator's `Invalid value: "<type>":
/// <message>`, after every OpenAPI error.
#[rstest]
#[case::cel_reserved_condition(json!({"apiVersion": "cluster.x-k8s.io/v1beta2", "kind": "MachineHealthCheck", "metadata": {"name": "mhc", "namespace": "default"},
    "spec": {"clusterName": "c", "selector": {"matchLabels": {"a": "b"}}, "checks": {"unhealthyMachineConditions": [{"type": "Ready", "status": "False", "timeoutSeconds": 300}]}}}),
    "MachineHealthCheck.cluster.x-k8s.io \"mhc\" is invalid: spec.checks.unhealthyMachineConditions[0].type: Invalid value: \"string\": type must not be one of: Ready, Available, HealthCheckSucceeded, OwnerRemediated, ExternallyRemediated".to_string())]
#[case::pattern(json!({"apiVersion": "cluster.x-k8s.io/v1beta2", "kind": "MachineHealthCheck", "metadata": {"name": "mhc", "namespace": "default"},
    "spec": {"clusterName": "c", "selector": {"matchLabels": {"a": "b"}}, "checks": {"unhealthyMachineConditions": [{"type": "not a type!", "status": "False", "timeoutSeconds": 300}]}}}),
    format!("MachineHealthCheck.cluster.x-k8s.io \"mhc\" is invalid: spec.checks.unhealthyMachineConditions[0].type: Invalid value: \"not a type!\": spec.checks.unhealthyMachineConditions[0].type in body should match '{CONDITION_TYPE}'"))]
#[case::cel_unique_names(json!({"apiVersion": "bootstrap.cluster.x-k8s.io/v1beta2", "kind": "KubeadmConfig", "metadata": {"name": "kc", "namespace": "default"},
    "spec": {"joinConfiguration": {"nodeRegistration": {"kubeletExtraArgs": [{"name": "v", "value": "1"}, {"name": "v", "value": "2"}]}}}}),
    "KubeadmConfig.bootstrap.cluster.x-k8s.io \"kc\" is invalid: spec.joinConfiguration.nodeRegistration.kubeletExtraArgs: Invalid value: \"array\": kubeletExtraArgs name must be unique".to_string())]
#[case::cel_after_openapi(json!({"apiVersion": "bootstrap.cluster.x-k8s.io/v1beta2", "kind": "KubeadmConfig", "metadata": {"name": "kc", "namespace": "default"},
    "spec": {"format": "zip", "joinConfiguration": {"nodeRegistration": {"kubeletExtraArgs": [{"name": "v", "value": "1"}, {"name": "v", "value": "2"}]}}}}),
    "KubeadmConfig.bootstrap.cluster.x-k8s.io \"kc\" is invalid: [spec.format: Unsupported value: \"zip\": supported values: \"cloud-config\", \"ignition\", spec.joinConfiguration.nodeRegistration.kubeletExtraArgs: Invalid value: \"array\": kubeletExtraArgs name must be unique]".to_string())]
#[case::md_strategy_enum(md_with(json!({"rollout": {"strategy": {"type": "Recreate"}}})),
    "MachineDeployment.cluster.x-k8s.io \"md\" is invalid: spec.rollout.strategy.type: Unsupported value: \"Recreate\": supported values: \"RollingUpdate\", \"OnDelete\"".to_string())]
#[case::md_deletion_order_enum(md_with(json!({"deletion": {"order": "Smallest"}})),
    "MachineDeployment.cluster.x-k8s.io \"md\" is invalid: spec.deletion.order: Unsupported value: \"Smallest\": supported values: \"Random\", \"Newest\", \"Oldest\"".to_string())]
fn patterns_and_cel_rules(#[case] obj: Value, #[case] want: String) {
    assert_eq!(apply(obj), Err((422, "Invalid", want)));
}

/// A MachineDeployment with what its schema requires, `spec` merged over it. The strategy type and
/// the deletion order are enums of the CRD (`machinedeployment_types.go`, `machineset_types.go`):
/// the API server answers them, without a webhook prefix.
fn md_with(spec: Value) -> Value {
    let mut v = json!({"apiVersion": "cluster.x-k8s.io/v1beta2", "kind": "MachineDeployment", "metadata": {"name": "md", "namespace": "default"},
        "spec": {"clusterName": "c", "selector": {"matchLabels": {"md": "md"}},
            "template": {"metadata": {"labels": {"md": "md"}}, "spec": {"clusterName": "c", "bootstrap": {"dataSecretName": "s"},
                "infrastructureRef": {"apiGroup": "infrastructure.cluster.x-k8s.io", "kind": "DockerMachineTemplate", "name": "md"}}}}});
    json_patch::merge(&mut v["spec"], &spec);
    v
}

/// A null field is dropped without a word, as the API server drops a non-nullable null that has no
/// default (`structuraldefaulting.PruneNonNullableNullsWithoutDefaults`), and is not an unknown field.
#[test]
fn null_fields_are_dropped_silently() {
    let mut sim = testing::sim(1);
    let mut v = crs(crs_spec());
    v["spec"]["clusterSelector"]["matchExpressions"] = Value::Null;
    let obj = capi_sim::Object::from_json(&v).unwrap();
    let w = sim.create_as(0, obj, WriteOptions { field_validation: FieldValidation::Strict, ..WriteOptions::at(0) }).unwrap();
    assert!(w.warnings.is_empty(), "{:?}", w.warnings);
    let stored = testing::get(&sim, Kind::ClusterResourceSet, "default", "crs").unwrap();
    assert_eq!(stored.body["spec"]["clusterSelector"], json!({"matchLabels": {"cni": "calico"}}));
}

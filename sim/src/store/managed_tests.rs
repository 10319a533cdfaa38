//! Field ownership and server-side apply through the API server, as a client sees them. The cases
//! restate the behaviours of `k8s.io/apimachinery/pkg/util/managedfields` and
//! `structured-merge-diff`'s `merge/*_test.go` (apply removes what the applier dropped unless
//! shared; an update takes ownership; a forced apply takes fields; an unforced one conflicts).

use super::super::api::{ApiServer, Patch, WriteOptions};
use super::super::{Store, Subresource};
use super::*;
use crate::features::FeatureGates;
use crate::kinds::Kind;
use crate::object::ObjKey;
use rstest::rstest;
use serde_json::json;

fn api() -> ApiServer {
    ApiServer::new(Store::new(1), FeatureGates::default(), vec![])
}

fn cm_config(labels: serde_json::Value, data: serde_json::Value) -> Object {
    Object::from_json(&json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "cm", "namespace": "default", "labels": labels}, "data": data}))
    .unwrap()
}

fn key() -> ObjKey {
    ObjKey::new(Kind::ConfigMap, "default", "cm")
}

fn apply(api: &mut ApiServer, manager: &str, force: bool, config: Object) -> Result<Arc<Object>, crate::store::ApiError> {
    let opts = WriteOptions { force, ..WriteOptions::at(1_000).by(manager) };
    api.apply(config, opts).map(|w| w.object)
}

fn owners(o: &Object) -> Vec<(String, &'static str, Vec<String>)> {
    o.meta
        .managed
        .as_deref()
        .map_or(&[][..], |v| v.as_slice())
        .iter()
        .map(|e| (e.manager.to_string(), e.operation.as_str(), e.fields.iter().map(|f| f.to_string()).collect()))
        .collect()
}

#[test]
fn a_create_gives_its_manager_every_field_it_set() {
    let mut api = api();
    let mut o = cm_config(json!({"a": "1"}), json!({"k": "v"}));
    o.meta.finalizers.push("f".into());
    let w = api.create(o, WriteOptions::at(0).by("kubectl-create")).unwrap();
    assert_eq!(
        owners(&w.object),
        vec![(
            "kubectl-create".into(),
            "Update",
            vec!["/data/k".into(), "/metadata/finalizers/[=\"f\"]".into(), "/metadata/labels/a".into()]
        )]
    );
}

#[test]
fn an_apply_removes_what_its_manager_applied_before_and_leaves_out_now() {
    let mut api = api();
    apply(&mut api, "capi-machineset", true, cm_config(json!({"a": "1", "b": "2"}), json!({"k": "v", "x": "y"}))).unwrap();
    let o = apply(&mut api, "capi-machineset", true, cm_config(json!({"a": "1"}), json!({"k": "v"}))).unwrap();
    assert_eq!(o.label("b"), None, "label dropped from the configuration is removed");
    assert_eq!(o.at("/data/x"), None, "field dropped from the configuration is removed");
    assert_eq!(o.label("a"), Some("1"));
    assert_eq!(owners(&o), vec![("capi-machineset".into(), "Apply", vec!["/data/k".into(), "/metadata/labels/a".into()])]);
}

#[test]
fn fields_another_manager_set_survive_an_apply_that_does_not_mention_them() {
    let mut api = api();
    apply(&mut api, "capi-machineset", true, cm_config(json!({"a": "1"}), json!({"k": "v"}))).unwrap();
    // A user labels the object (an update).
    api.patch(
        &key(),
        &Patch::Merge(json!({"metadata": {"labels": {"user": "x"}}})),
        Subresource::Main,
        WriteOptions::at(5).by("kubectl-label"),
    )
    .unwrap();
    let o = apply(&mut api, "capi-machineset", true, cm_config(json!({}), json!({"k": "v"}))).unwrap();
    assert_eq!(o.label("user"), Some("x"), "the user's label is the user's");
    assert_eq!(o.label("a"), None, "the applier's own label goes");
}

#[test]
fn a_field_shared_with_another_owner_stays_when_the_applier_drops_it() {
    let mut api = api();
    // kubectl created the object with label a=1; the controller applies the same value: both own it.
    api.create(cm_config(json!({"a": "1"}), json!({"k": "v"})), WriteOptions::at(0).by("kubectl-create")).unwrap();
    let o = apply(&mut api, "ctrl", false, cm_config(json!({"a": "1"}), json!({}))).unwrap();
    assert_eq!(owners(&o).len(), 2, "{:?}", owners(&o));
    let o = apply(&mut api, "ctrl", false, cm_config(json!({}), json!({}))).unwrap();
    assert_eq!(o.label("a"), Some("1"), "still owned by kubectl-create");
}

#[test]
fn an_update_takes_a_field_from_the_applier() {
    let mut api = api();
    apply(&mut api, "ctrl", true, cm_config(json!({"a": "1"}), json!({}))).unwrap();
    api.patch(
        &key(),
        &Patch::Merge(json!({"metadata": {"labels": {"a": "2"}}})),
        Subresource::Main,
        WriteOptions::at(5).by("kubectl-edit"),
    )
    .unwrap();
    let o = api.store.get(&key()).unwrap().clone();
    assert_eq!(
        owners(&o),
        vec![("ctrl".into(), "Apply", vec!["/data".into()]), ("kubectl-edit".into(), "Update", vec!["/metadata/labels/a".into()])]
    );
    // The applier no longer owns it, so dropping it from its configuration keeps the user's value.
    let o = apply(&mut api, "ctrl", true, cm_config(json!({}), json!({}))).unwrap();
    assert_eq!(o.label("a"), Some("2"));
}

#[rstest]
#[case::unforced_conflicts(false)]
#[case::forced_takes_the_field(true)]
fn an_apply_that_changes_a_field_another_manager_owns(#[case] force: bool) {
    let mut api = api();
    api.create(cm_config(json!({}), json!({"k": "v"})), WriteOptions::at(0).by("manager")).unwrap();
    let r = apply(&mut api, "kubectl", force, cm_config(json!({}), json!({"k": "w"})));
    if force {
        let o = r.unwrap();
        assert_eq!(o.at("/data/k"), Some(&json!("w")));
        assert_eq!(owners(&o), vec![("kubectl".into(), "Apply", vec!["/data/k".into()])], "the other manager lost it");
    } else {
        let e = r.unwrap_err();
        assert_eq!((e.code, e.reason), (409, "Conflict"));
        assert_eq!(e.message, "Apply failed with 1 conflict: conflict with \"manager\" using v1 at 2026-01-01T00:00:00Z: .data.k");
        assert_eq!(e.causes[0].reason, "FieldManagerConflict");
        assert_eq!(e.causes[0].field, ".data.k");
        assert_eq!(api.store.get(&key()).unwrap().at("/data/k"), Some(&json!("v")), "nothing written");
    }
}

#[test]
fn an_apply_of_the_value_already_there_does_not_conflict() {
    let mut api = api();
    api.create(cm_config(json!({}), json!({"k": "v"})), WriteOptions::at(0).by("manager")).unwrap();
    assert!(apply(&mut api, "kubectl", false, cm_config(json!({}), json!({"k": "v"}))).is_ok());
}

#[test]
fn several_conflicts_are_grouped_by_manager_in_sorted_order() {
    let c = |m: &str, f: &str| Conflict { manager: format!("{m:?}"), field: f.into() };
    let msg = conflict_message(&[c("b", ".spec.x"), c("a", ".spec.y"), c("b", ".spec.z")]);
    assert_eq!(msg, "Apply failed with 3 conflicts: conflicts with \"a\":\n- .spec.y\nconflicts with \"b\":\n- .spec.x\n- .spec.z");
}

#[test]
fn a_map_emptied_by_an_apply_goes_with_its_last_field() {
    let mut api = api();
    let m = |spec: serde_json::Value| {
        Object::from_json(&json!({"apiVersion": "cluster.x-k8s.io/v1beta2", "kind": "Machine",
            "metadata": {"name": "m", "namespace": "default"}, "spec": spec}))
        .unwrap()
    };
    let base = json!({"clusterName": "c", "bootstrap": {"dataSecretName": "s"},
        "infrastructureRef": {"apiGroup": "infrastructure.cluster.x-k8s.io", "kind": "DockerMachine", "name": "m"}});
    let mut with = base.clone();
    with["deletion"] = json!({"nodeDrainTimeoutSeconds": 10});
    apply(&mut api, "capi-machineset", true, m(with)).unwrap();
    let o = apply(&mut api, "capi-machineset", true, m(base)).unwrap();
    assert_eq!(o.at("/spec/deletion"), None, "{:?}", o.at("/spec"));
}

#[test]
fn finalizers_are_a_set_and_owner_references_are_keyed_by_uid() {
    let mut api = api();
    let mut a = cm_config(json!({}), json!({}));
    a.meta.finalizers = vec!["one".into()];
    apply(&mut api, "ctrl", true, a).unwrap();
    api.patch(
        &key(),
        &Patch::Merge(json!({"metadata": {"finalizers": ["one", "two"]}})),
        Subresource::Main,
        WriteOptions::at(1).by("other"),
    )
    .unwrap();
    let o = apply(&mut api, "ctrl", true, cm_config(json!({}), json!({}))).unwrap();
    assert_eq!(o.meta.finalizers, vec!["two".to_string()], "the applier's finalizer goes, the other's stays");
}

#[test]
fn paths_print_as_upstream_prints_them() {
    assert_eq!(display_path("/metadata/labels/cluster.x-k8s.io~1cluster-name"), ".metadata.labels.cluster.x-k8s.io/cluster-name");
    assert_eq!(display_path("/metadata/finalizers/[=\"f\"]"), ".metadata.finalizers[=\"f\"]");
    assert_eq!(display_path("/spec/template/spec/version"), ".spec.template.spec.version");
}

#[test]
fn managed_fields_go_on_the_wire_as_fields_v1() {
    let mut api = api();
    let mut c = cm_config(json!({"a/b": "1"}), json!({"k": "v"}));
    c.meta.finalizers = vec!["f".into()];
    let o = apply(&mut api, "kubectl", false, c).unwrap();
    let wire = to_wire(&o.meta.managed, "v1").unwrap();
    assert_eq!(
        wire,
        json!([{"manager": "kubectl", "operation": "Apply", "apiVersion": "v1", "time": "2026-01-01T00:00:01Z", "fieldsType": "FieldsV1",
            "fieldsV1": {"f:data": {"f:k": {}}, "f:metadata": {"f:finalizers": {"v:\"f\"": {}}, "f:labels": {"f:a/b": {}}}}}])
    );
}

#[test]
fn an_unchanged_apply_writes_nothing() {
    let mut api = api();
    let first = apply(&mut api, "ctrl", true, cm_config(json!({"a": "1"}), json!({"k": "v"}))).unwrap();
    let again =
        api.apply(cm_config(json!({"a": "1"}), json!({"k": "v"})), WriteOptions { force: true, ..WriteOptions::at(9).by("ctrl") }).unwrap();
    assert!(!again.changed);
    assert_eq!(again.object.meta.resource_version, first.meta.resource_version);
}

/// The read-only no-op check agrees with the apply itself (controllers rely on it to skip requests).
#[rstest]
#[case::same(json!({"a": "1"}), json!({"k": "v"}), true)]
#[case::new_value(json!({"a": "2"}), json!({"k": "v"}), false)]
#[case::dropped_label(json!({}), json!({"k": "v"}), false)]
#[case::dropped_field(json!({"a": "1"}), json!({}), false)]
#[case::new_field(json!({"a": "1"}), json!({"k": "v", "j": "w"}), false)]
fn the_no_op_check_agrees_with_the_apply(#[case] labels: serde_json::Value, #[case] data: serde_json::Value, #[case] noop: bool) {
    let mut api = api();
    let cur = apply(&mut api, "ctrl", true, cm_config(json!({"a": "1"}), json!({"k": "v"}))).unwrap();
    let config = cm_config(labels, data);
    assert_eq!(apply_is_noop(&cur, &config, "ctrl"), noop);
    let after = super::apply(&cur, &config, Manager { name: "ctrl", force: true }, 1_000).unwrap();
    assert_eq!(after.meta == cur.meta && after.body == cur.body, noop);
    assert!(!apply_is_noop(&cur, &cm_config(json!({"a": "1"}), json!({"k": "v"})), "someone-else"), "another manager owns nothing yet");
}

/// The fingerprint of an object's leaves, computed while walking it, is the one of the paths an
/// apply records (escaped keys, set items, keyed items, nested and empty maps alike).
#[test]
fn the_walked_fingerprint_is_the_recorded_one() {
    let mut o = cm_config(json!({"a/b": "1", "c~d": "2"}), json!({"k": "v", "n": {"x": {"y": 1}, "e": {}}, "l": [1, 2]}));
    o.meta.finalizers = vec!["f/1".into(), "cluster.x-k8s.io/machine".into()];
    o.meta.owner_references.push(crate::object::OwnerRef::to(&o.clone(), true));
    o.meta.owner_references[0].uid = "u-1".into();
    let (paths, _) = diff(None, &o);
    let fields: Vec<Box<str>> = paths.iter().map(|p| p.clone().into_boxed_str()).collect();
    assert_eq!(config_print(&o), (fields.len(), fields_print(&fields)));
    let mut other = o.clone();
    other.meta.labels.remove("a/b");
    other.meta.labels.insert("a/c".into(), "1".into());
    assert_ne!(config_print(&other).1, fields_print(&fields), "another set of the same size differs");
}

/// Finalizers with `/` (most of CAPI's) are set items like any other: dropped by their applier,
/// printed whole.
#[test]
fn a_finalizer_with_a_slash_is_one_item() {
    let mut api = api();
    let mut a = cm_config(json!({}), json!({}));
    a.meta.finalizers = vec!["cluster.x-k8s.io/machineset".into()];
    let o = apply(&mut api, "ctrl", true, a).unwrap();
    let wire = to_wire(&o.meta.managed, "v1").unwrap();
    assert_eq!(wire[0]["fieldsV1"]["f:metadata"]["f:finalizers"], json!({"v:\"cluster.x-k8s.io/machineset\"": {}}));
    let o = apply(&mut api, "ctrl", true, cm_config(json!({}), json!({}))).unwrap();
    assert!(o.meta.finalizers.is_empty());
    assert_eq!(display_path("/metadata/finalizers/[=\"a~1b\"]"), ".metadata.finalizers[=\"a/b\"]");
}

/// An apply carrying another object's uid (CAPI sets the uid so that an apply never creates) is a
/// conflict, answered with the storage's precondition text, and writes nothing.
#[test]
fn an_apply_with_another_uid_is_a_conflict() {
    let mut api = api();
    let cur = apply(&mut api, "ctrl", true, cm_config(json!({"a": "1"}), json!({}))).unwrap();
    let mut config = cm_config(json!({"a": "2"}), json!({}));
    config.meta.uid = "someone-else".into();
    let e = apply(&mut api, "ctrl", true, config).unwrap_err();
    assert_eq!((e.code, e.reason), (409, "Conflict"));
    assert_eq!(
        e.message,
        format!(
            "Operation cannot be fulfilled on configmaps \"cm\": StorageError: invalid object, Code: 4, Key: /registry/configmaps/default/cm, \
             ResourceVersion: 0, AdditionalErrorMsg: Precondition failed: UID in precondition: someone-else, UID in object meta: {}",
            cur.meta.uid
        )
    );
    assert_eq!(api.store.get(&key()).unwrap().label("a"), Some("1"));
}

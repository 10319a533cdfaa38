//! Store semantics: what the API server guarantees to every client.

use super::api::{AdmissionRequest, ApiServer, Patch, Webhook, WriteOptions};
use super::*;
use crate::features::FeatureGates;
use serde_json::json;

fn cm(name: &str) -> Object {
    let mut o = Object::new(Kind::ConfigMap, "default", name);
    o.set("/data/k", json!("v"));
    o
}

fn machine(name: &str) -> Object {
    let mut o = Object::new(Kind::Machine, "default", name);
    o.set("/spec/clusterName", json!("c"));
    o.set("/spec/bootstrap", json!({"dataSecretName": "s"}));
    o.set("/spec/infrastructureRef", json!({"apiGroup": "infrastructure.cluster.x-k8s.io", "kind": "DockerMachine", "name": name}));
    o
}

/// A MachineDeployment with the fields its schema requires.
fn md(name: &str) -> Object {
    let mut o = Object::new(Kind::MachineDeployment, "default", name);
    o.set(
        "/spec",
        json!({"clusterName": "c", "selector": {"matchLabels": {"md": name}},
            "template": {"metadata": {"labels": {"md": name}}, "spec": {"clusterName": "c", "bootstrap": {"dataSecretName": "s"},
                "infrastructureRef": {"apiGroup": "infrastructure.cluster.x-k8s.io", "kind": "DockerMachineTemplate", "name": name}}}}),
    );
    o
}

#[test]
fn stale_resource_version_conflicts() {
    let mut s = Store::new(1);
    let a = s.create(cm("a"), 0).unwrap();
    let mut stale = (*a).clone();
    let mut fresh = (*a).clone();
    fresh.set("/data/k", json!("w"));
    s.update(fresh, Subresource::Main, Some(a.meta.resource_version)).unwrap();
    stale.set("/data/k", json!("x"));
    let err = s.update(stale, Subresource::Main, Some(a.meta.resource_version)).unwrap_err();
    assert_eq!((err.code, err.reason), (409, "Conflict"));
}

#[test]
fn generation_moves_with_spec_not_status_and_noops_commit_nothing() {
    let mut s = Store::new(1);
    let m = s.create(machine("m"), 0).unwrap();
    assert_eq!(m.meta.generation, 1);
    let mut st = (*m).clone();
    st.set("/status/phase", json!("Pending"));
    let m2 = s.update(st, Subresource::Status, None).unwrap();
    assert_eq!(m2.meta.generation, 1, "status writes do not bump generation");
    assert!(m2.meta.resource_version > m.meta.resource_version);
    let mut sp = (*m2).clone();
    sp.set("/spec/version", json!("v1.34.3"));
    sp.set("/status/phase", json!("Running"));
    let m3 = s.update(sp, Subresource::Main, None).unwrap();
    assert_eq!(m3.meta.generation, 2);
    assert_eq!(m3.str_at("/status/phase"), Some("Pending"), "main-resource writes keep the stored status");
    s.take_changes();
    let same = s.update((*m3).clone(), Subresource::Main, None).unwrap();
    assert_eq!(same.meta.resource_version, m3.meta.resource_version);
    assert!(!s.has_changes(), "a no-op update emits no watch event");
}

#[test]
fn finalizers_block_deletion_until_removed() {
    let mut s = Store::new(1);
    let mut o = cm("a");
    o.meta.finalizers.push("example.com/f".into());
    s.create(o, 0).unwrap();
    let d = s.delete(&ObjKey::new(Kind::ConfigMap, "default", "a"), Propagation::Background, None, 5).unwrap();
    let Deleted::Pending(pending) = d else { panic!("finalizer must keep the object") };
    assert_eq!(pending.meta.deletion_ms, Some(5));
    let mut add = (*pending).clone();
    add.meta.finalizers.push("another".into());
    assert_eq!(s.update(add, Subresource::Main, None).unwrap_err().code, 422, "no new finalizers while deleting");
    let mut done = (*pending).clone();
    done.meta.finalizers.clear();
    s.take_changes();
    s.update(done, Subresource::Main, None).unwrap();
    assert!(s.get(&ObjKey::new(Kind::ConfigMap, "default", "a")).is_none());
    let kinds: Vec<ChangeKind> = s.take_changes().iter().map(|c| c.kind).collect();
    assert_eq!(kinds, vec![ChangeKind::Deleted]);
}

#[test]
fn watch_events_come_in_resource_version_order() {
    let mut s = Store::new(1);
    s.create(cm("a"), 0).unwrap();
    s.create(cm("b"), 0).unwrap();
    s.delete(&ObjKey::new(Kind::ConfigMap, "default", "a"), Propagation::Background, None, 1).unwrap();
    let ch = s.take_changes();
    let rvs: Vec<u64> = ch.iter().map(|c| c.object.meta.resource_version).collect();
    let mut sorted = rvs.clone();
    sorted.sort();
    assert_eq!(rvs, sorted);
    assert_eq!(ch.iter().map(|c| c.kind).collect::<Vec<_>>(), vec![ChangeKind::Added, ChangeKind::Added, ChangeKind::Deleted]);
}

#[test]
fn missing_namespace_and_duplicate_names_are_refused() {
    let mut s = Store::new(1);
    let mut o = cm("a");
    o.meta.namespace = "nope".into();
    assert_eq!(s.create(o, 0).unwrap_err().message, "namespaces \"nope\" not found");
    s.create(cm("a"), 0).unwrap();
    assert_eq!(s.create(cm("a"), 0).unwrap_err().reason, "AlreadyExists");
}

struct DenyReplicas;
impl Webhook for DenyReplicas {
    fn kind(&self) -> Kind {
        Kind::MachineDeployment
    }
    fn name(&self) -> &'static str {
        "validation.machinedeployment.cluster.x-k8s.io"
    }
    fn manager(&self) -> &'static str {
        "capi"
    }
    fn default(&self, _op: super::api::Operation, obj: &mut Object, _s: &Store, _g: &FeatureGates) {
        if obj.at("/spec/replicas").is_none() {
            obj.set("/spec/replicas", json!(1));
        }
    }
    fn validate(&self, req: &AdmissionRequest<'_>) -> Result<Vec<String>, String> {
        match req.object.i64_at("/spec/replicas") {
            Some(r) if r < 0 => Err(format!("MachineDeployment.cluster.x-k8s.io \"{}\" is invalid: spec.replicas: Invalid value: {r}: must be greater than or equal to 0", req.object.name())),
            _ => Ok(vec!["looked at it".into()]),
        }
    }
}

#[test]
fn webhooks_default_deny_and_warn() {
    let mut api = ApiServer::new(Store::new(1), FeatureGates::default(), vec![Box::new(DenyReplicas)]);
    let opts = WriteOptions::at(0);
    let w = api.create(md("md"), opts).unwrap();
    assert_eq!(w.object.i64_at("/spec/replicas"), Some(1), "defaulted");
    assert_eq!(w.warnings, vec!["looked at it".to_string()]);
    let err = api.patch(&w.object.key(), &Patch::Merge(json!({"spec": {"replicas": -1}})), Subresource::Main, opts).unwrap_err();
    assert_eq!(err.code, 422);
    assert!(
        err.message.starts_with("admission webhook \"validation.machinedeployment.cluster.x-k8s.io\" denied the request:"),
        "{}",
        err.message
    );
    let dry = api.create(md("md2"), WriteOptions::at(0).dry()).unwrap();
    assert_eq!(dry.object.name(), "md2");
    assert!(api.store.get(&ObjKey::new(Kind::MachineDeployment, "default", "md2")).is_none(), "dry run persists nothing");
}

#[test]
fn json_patch_test_of_null_on_missing_path_passes_as_in_kubernetes() {
    let mut api = ApiServer::new(Store::new(1), FeatureGates::default(), vec![]);
    let opts = WriteOptions::at(0);
    let w = api.create(cm("a"), opts).unwrap();
    let patch = json!([{"op": "test", "path": "/metadata/finalizers", "value": null}, {"op": "add", "path": "/metadata/finalizers", "value": ["x"]}]);
    let w = api.patch(&w.object.key(), &Patch::Json(patch), Subresource::Main, opts).unwrap();
    assert_eq!(w.object.meta.finalizers, vec!["x".to_string()]);
}

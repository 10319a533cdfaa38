//! Which MachineHealthChecks a Machine or Cluster change wakes, restated from
//! `TestMachineToMachineHealthCheck` and `TestClusterToMachineHealthCheck`
//! (`machinehealthcheck_controller_test.go`).

use capi_sim::controllers::conditions::{self, Cond};
use capi_sim::controllers::machinehealthcheck::MachineHealthCheckReconciler;
use capi_sim::kinds::Kind;
use capi_sim::object::{ObjKey, Object};
use capi_sim::objectset::ObjectSet;
use capi_sim::runtime::Reconciler;
use capi_sim::store::{Change, ChangeKind};
use rstest::rstest;
use serde_json::{json, Value};
use std::sync::Arc;

fn mhc_obj(ns: &str, name: &str, cluster: &str, selector: Value) -> Arc<Object> {
    let mut o = Object::new(Kind::MachineHealthCheck, ns, name);
    o.meta.labels.insert("cluster.x-k8s.io/cluster-name".into(), cluster.into());
    o.set("/spec/clusterName", json!(cluster));
    o.set("/spec/selector", json!({"matchLabels": selector}));
    Arc::new(o)
}

fn machine_obj(ns: &str, cluster: &str, labels: &[(&str, &str)]) -> Arc<Object> {
    let mut m = Object::new(Kind::Machine, ns, "m1");
    m.meta.labels.insert("cluster.x-k8s.io/cluster-name".into(), cluster.into());
    for (k, v) in labels {
        m.meta.labels.insert((*k).into(), (*v).into());
    }
    m.set("/spec/clusterName", json!(cluster));
    Arc::new(m)
}

fn mapped(cache: &ObjectSet, change: Change) -> Vec<String> {
    let mut out: Vec<ObjKey> = Vec::new();
    MachineHealthCheckReconciler.map(&change, cache, &mut out);
    let mut names: Vec<String> = out.into_iter().map(|k| format!("{}/{}", k.ns, k.name)).collect();
    names.sort();
    names
}

/// TestMachineToMachineHealthCheck, every table entry: a Machine maps to the MHCs of its namespace and
/// cluster whose selector matches its labels.
#[rstest]
#[case::matches_labels_in_the_same_namespace(&[("default", "a", "c1", "foo")], vec!["default/a"])]
#[case::two_match_labels_in_the_same_namespace(&[("default", "a", "c1", "foo"), ("default", "b", "c1", "foo")], vec!["default/a", "default/b"])]
#[case::does_not_match_labels(&[("default", "a", "c1", "bar")], vec![])]
#[case::matches_labels_in_another_namespace(&[("other", "a", "c1", "foo")], vec![])]
fn machine_to_machine_health_check(#[case] mhcs: &[(&str, &str, &str, &str)], #[case] want: Vec<&str>) {
    let mut cache = ObjectSet::default();
    for (ns, name, cluster, sel) in mhcs {
        cache.insert(mhc_obj(ns, name, cluster, json!({"role": sel})));
    }
    let m = machine_obj("default", "c1", &[("role", "foo")]);
    assert_eq!(mapped(&cache, Change { kind: ChangeKind::Added, object: m, old: None }), want);
}

/// `machineIsChangedPredicate`: a Machine update that changes none of nodeRef, labels, annotations or
/// conditions (here: only spec.version) reaches no MHC; a condition change does.
#[test]
fn machine_updates_other_than_conditions_labels_annotations_node_ref_are_ignored() {
    let mut cache = ObjectSet::default();
    cache.insert(mhc_obj("default", "a", "c1", json!({"role": "foo"})));
    let old = machine_obj("default", "c1", &[("role", "foo")]);
    let mut new = (*old).clone();
    new.set("/spec/version", json!("v1.35.0"));
    assert!(mapped(&cache, Change { kind: ChangeKind::Modified, object: Arc::new(new.clone()), old: Some(old.clone()) }).is_empty());
    conditions::set(&mut new, [Cond::t("Ready", "Ready")], 1000);
    assert_eq!(mapped(&cache, Change { kind: ChangeKind::Modified, object: Arc::new(new), old: Some(old) }), vec!["default/a"]);
}

/// TestClusterToMachineHealthCheck: a Cluster maps to the MHCs of its namespace labelled with its
/// name (two MHCs: both; another cluster's, or another namespace's: none); behind the
/// `ClusterPausedTransitions` predicate, so only a change of `spec.paused` maps.
#[test]
fn cluster_to_machine_health_check() {
    let mut cache = ObjectSet::default();
    cache.insert(mhc_obj("default", "a", "c1", json!({"role": "foo"})));
    cache.insert(mhc_obj("default", "b", "c1", json!({"role": "bar"})));
    cache.insert(mhc_obj("default", "c", "c2", json!({"role": "foo"})));
    cache.insert(mhc_obj("other", "d", "c1", json!({"role": "foo"})));
    let old = Arc::new(Object::new(Kind::Cluster, "default", "c1"));
    let mut paused = (*old).clone();
    paused.set("/spec/paused", json!(true));
    assert_eq!(
        mapped(&cache, Change { kind: ChangeKind::Modified, object: Arc::new(paused), old: Some(old.clone()) }),
        vec!["default/a", "default/b"]
    );
    let mut other = (*old).clone();
    other.set("/spec/topology/version", json!("v1.35.0"));
    assert!(mapped(&cache, Change { kind: ChangeKind::Modified, object: Arc::new(other), old: Some(old) }).is_empty());
}

//! Tests of the desired state's map merge, template stamping and MachineHealthCheck defaults.

use super::*;
use crate::apply::LAST_APPLIED;
use rstest::rstest;

#[rstest]
#[case(&[("a", "1")], &[("a", "2"), ("b", "3")], &[("a", "1"), ("b", "3")])]
#[case(&[], &[("b", "3")], &[("b", "3")])]
fn merge_map_keeps_the_first(#[case] a: &[(&str, &str)], #[case] b: &[(&str, &str)], #[case] want: &[(&str, &str)]) {
    let m = |x: &[(&str, &str)]| x.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<BTreeMap<_, _>>();
    assert_eq!(merge_first_wins(&m(a), &m(b)), m(want));
}

#[test]
fn templates_stamp_out_objects_with_topology_metadata() {
    let mut cluster = Object::new(Kind::Cluster, "ns1", "c1");
    cluster.meta.uid = "u-c1".into();
    let mut tpl = Object::new(Kind::KubeadmControlPlaneTemplate, "ns1", "qs-cp");
    tpl.set("/spec/template/metadata/labels", json!({"from-template": "x"}));
    tpl.set("/spec/template/spec/kubeadmConfigSpec", json!({"files": []}));
    let cp = template_to_object(&tpl, &tpl.to_json(), &cluster, "c1-abcde", &BTreeMap::new(), &BTreeMap::new()).unwrap();
    assert_eq!(cp.kind, Kind::KubeadmControlPlane);
    assert_eq!(cp.label(keys::CLUSTER_NAME), Some("c1"));
    assert_eq!(cp.label(keys::TOPOLOGY_OWNED), Some(""));
    assert_eq!(cp.label("from-template"), Some("x"));
    assert_eq!(cp.annotation(keys::CLONED_FROM_NAME), Some("qs-cp"));
    assert_eq!(cp.annotation(keys::CLONED_FROM_GROUPKIND), Some("KubeadmControlPlaneTemplate.controlplane.cluster.x-k8s.io"));
    assert_eq!(cp.at("/spec/kubeadmConfigSpec"), Some(&json!({"files": []})));
    assert!(cp.meta.owner_references.is_empty());

    let mut mt = Object::new(Kind::DevMachineTemplate, "ns1", "qs-md");
    mt.meta.annotations.insert(LAST_APPLIED.into(), "{}".into());
    mt.set("/spec/template/spec/backend", json!({"docker": {}}));
    let copy = template_to_template(&mt, &mt.to_json(), &cluster, "c1-md-0-xyz12", &[(keys::TOPOLOGY_DEPLOYMENT_NAME, "md-0")]);
    assert_eq!(copy.kind, Kind::DevMachineTemplate);
    assert_eq!(copy.label(keys::TOPOLOGY_DEPLOYMENT_NAME), Some("md-0"));
    assert!(copy.annotation(LAST_APPLIED).is_none());
    assert_eq!(copy.meta.owner_references[0].name, "c1");
    assert!(!copy.meta.owner_references[0].controller);
}

#[test]
fn health_checks_are_defaulted_like_the_webhook() {
    let mut cluster = Object::new(Kind::Cluster, "ns1", "c1");
    cluster.meta.uid = "u".into();
    let m = machine_health_check("c1-cp", &cluster, json!({"matchLabels": {}}), &json!({"checks": {"unhealthyNodeConditions": []}}));
    assert_eq!(m.i64_at("/spec/checks/nodeStartupTimeoutSeconds"), Some(600));
    assert_eq!(m.label(keys::TOPOLOGY_OWNED), Some(""));
    assert!(m.at("/spec/remediation").is_none());
    assert!(health_check_defined(Some(&json!({"checks": {"a": 1}}))));
    assert!(!health_check_defined(Some(&json!({"enabled": true}))));
}

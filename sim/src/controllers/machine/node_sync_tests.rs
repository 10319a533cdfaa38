//! `node_sync` against the cases of upstream's `machine_controller_noderef_test.go`
//! (`Test_propagateMachineTaintsToNode`, `TestPatchNode`, `Test_shouldNodeHaveOutdatedTaint`),
//! restated.

use super::*;
use crate::world::workload::{Node, Status, Taint};
use rstest::rstest;
use serde_json::json;

fn node(annotations: &[(&str, &str)], labels: &[(&str, &str)], taints: &[Taint]) -> Node {
    Node {
        name: "n".into(),
        provider_id: None,
        labels: labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        annotations: annotations.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        taints: taints.to_vec(),
        unschedulable: false,
        ready: Status::True,
        ready_reason: String::new(),
        ready_message: String::new(),
        ready_since_ms: 0,
        kubelet_version: "v1.34.3".into(),
        control_plane: false,
        registered_ms: 0,
        kubelet_down_since: None,
        cni_ready_at: None,
        extra_conditions: Default::default(),
    }
}

fn mt(key: &str, value: &str, effect: &str, propagation: &str) -> MachineTaint {
    MachineTaint { key: key.into(), value: value.into(), effect: effect.into(), propagation: propagation.into() }
}

fn t(key: &str, value: &str, effect: &str) -> Taint {
    Taint { key: key.into(), value: value.into(), effect: effect.into() }
}

fn always() -> MachineTaint {
    mt("added-always", "always-value", "NoSchedule", "Always")
}
fn on_init() -> MachineTaint {
    mt("added-on-initialization", "on-initialization-value", "NoSchedule", "OnInitialization")
}
fn existing() -> MachineTaint {
    mt("existing-always", "existing-always-value", "NoExecute", "Always")
}
fn transition(p: &str) -> MachineTaint {
    mt("transition-taint", "transition-value", "NoSchedule", p)
}
fn core(m: &MachineTaint) -> Taint {
    t(&m.key, &m.value, &m.effect)
}

/// `Test_propagateMachineTaintsToNode`, case by case.
#[rstest]
#[case::nothing_adds_empty_annotation(None, vec![], vec![], vec![], "", true)]
#[case::nothing_keeps_empty_annotation(Some(""), vec![], vec![], vec![], "", false)]
#[case::cleans_stale_annotation(Some("does-not-exist:NoSchedule"), vec![], vec![], vec![], "", true)]
#[case::add_always_untracked(None, vec![], vec![always()], vec![core(&always())], "added-always:NoSchedule", true)]
#[case::add_always_tracked(Some(""), vec![], vec![always()], vec![core(&always())], "added-always:NoSchedule", true)]
#[case::add_missing_tracked_always(Some("existing-always:NoExecute"), vec![], vec![existing()], vec![core(&existing())], "existing-always:NoExecute", true)]
#[case::delete_always(Some("existing-always:NoExecute"), vec![core(&existing())], vec![], vec![], "", true)]
#[case::add_on_init_untracked(None, vec![], vec![on_init()], vec![core(&on_init())], "", true)]
#[case::skip_on_init_once_tracked(Some(""), vec![], vec![on_init()], vec![], "", false)]
#[case::keep_on_init(Some(""), vec![core(&on_init())], vec![], vec![core(&on_init())], "", false)]
#[case::always_to_on_init(Some("transition-taint:NoSchedule"), vec![core(&transition("Always"))], vec![transition("OnInitialization")], vec![core(&transition("Always"))], "", true)]
#[case::on_init_to_always(Some(""), vec![core(&transition("OnInitialization"))], vec![transition("Always")], vec![core(&transition("Always"))], "transition-taint:NoSchedule", true)]
#[case::new_value(
    Some("existing-always:NoExecute"),
    vec![core(&existing())],
    vec![mt("existing-always", "transition-value-new", "NoExecute", "Always")],
    vec![t("existing-always", "transition-value-new", "NoExecute")],
    "existing-always:NoExecute",
    true
)]
#[case::new_effect(
    Some("existing-always:NoExecute"),
    vec![core(&existing())],
    vec![mt("existing-always", "existing-always-value", "NoSchedule", "Always")],
    vec![t("existing-always", "existing-always-value", "NoSchedule")],
    "existing-always:NoSchedule",
    true
)]
#[case::preserve_other_taints(
    None,
    vec![t("external-taint", "external-value", "NoExecute")],
    vec![always(), on_init()],
    vec![t("external-taint", "external-value", "NoExecute"), core(&always()), core(&on_init())],
    "added-always:NoSchedule",
    true
)]
#[case::adopt_existing(None, vec![core(&existing())], vec![existing()], vec![core(&existing())], "existing-always:NoExecute", true)]
#[case::recover_broken_annotation(Some("existing-always:NoExecute,"), vec![core(&existing())], vec![existing()], vec![core(&existing())], "existing-always:NoExecute", true)]
fn taints_propagate_as_upstream(
    #[case] annotation: Option<&str>,
    #[case] node_taints: Vec<Taint>,
    #[case] machine: Vec<MachineTaint>,
    #[case] want_taints: Vec<Taint>,
    #[case] want_annotation: &str,
    #[case] want_changed: bool,
) {
    let ann: Vec<(&str, &str)> = annotation.map(|a| vec![(TAINTS_FROM_MACHINE, a)]).unwrap_or_default();
    let mut n = node(&ann, &[], &node_taints);
    assert_eq!(propagate_taints(&mut n, &machine).unwrap(), want_changed);
    assert_eq!(n.taints, want_taints);
    assert_eq!(n.annotations.get(TAINTS_FROM_MACHINE).map(String::as_str), Some(want_annotation));
}

#[test]
fn a_tracked_taint_without_an_effect_is_an_error() {
    let mut n = node(&[(TAINTS_FROM_MACHINE, "no-effect")], &[], &[]);
    assert_eq!(propagate_taints(&mut n, &[]).unwrap_err(), r#"invalid taint format: "no-effect""#);
}

fn labels(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
    kv.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn desired(l: &[(&str, &str)], a: &[(&str, &str)], outdated: bool) -> Desired<'static> {
    Desired { labels: labels(l), annotations: labels(a), taints: None, outdated }
}

/// `TestPatchNode`: labels and annotations (what CAPI owns is tracked; everything else stays).
#[rstest]
#[case::preserve_existing_labels(
    node(&[], &[("not-managed-by-capi", "foo")], &[]),
    desired(&[], &[], false),
    labels(&[("not-managed-by-capi", "foo")]),
    labels(&[(ANNOTATIONS_FROM_MACHINE, ""), (LABELS_FROM_MACHINE, "")])
)]
#[case::add_label_preserves(
    node(&[], &[("not-managed-by-capi", "foo")], &[]),
    desired(&[("node-role.kubernetes.io/control-plane", "")], &[], false),
    labels(&[("node-role.kubernetes.io/control-plane", ""), ("not-managed-by-capi", "foo")]),
    labels(&[(ANNOTATIONS_FROM_MACHINE, ""), (LABELS_FROM_MACHINE, "node-role.kubernetes.io/control-plane")])
)]
#[case::takes_ownership(
    node(&[], &[("node-role.kubernetes.io", "foo")], &[]),
    desired(&[("node-role.kubernetes.io", "control-plane")], &[], false),
    labels(&[("node-role.kubernetes.io", "control-plane")]),
    labels(&[(ANNOTATIONS_FROM_MACHINE, ""), (LABELS_FROM_MACHINE, "node-role.kubernetes.io")])
)]
#[case::delete_label_set_before(
    node(&[(LABELS_FROM_MACHINE, "node-role.kubernetes.io")], &[("node-role.kubernetes.io", "foo"), ("not-managed-by-capi", "foo")], &[]),
    desired(&[], &[], false),
    labels(&[("not-managed-by-capi", "foo")]),
    labels(&[(ANNOTATIONS_FROM_MACHINE, ""), (LABELS_FROM_MACHINE, "")])
)]
#[case::label_removed_out_of_band(
    node(&[(LABELS_FROM_MACHINE, "node-role.kubernetes.io")], &[], &[]),
    desired(&[], &[], false),
    labels(&[]),
    labels(&[(ANNOTATIONS_FROM_MACHINE, ""), (LABELS_FROM_MACHINE, "")])
)]
#[case::capi_annotations(
    node(&[("not-managed-by-capi", "foo")], &[], &[]),
    desired(&[], &[(CLUSTER_NAME_ANNOTATION, "foo"), (keys::NODE_CLUSTER_NAMESPACE, "bar"), (keys::NODE_MACHINE, "baz")], false),
    labels(&[]),
    labels(&[
        (CLUSTER_NAME_ANNOTATION, "foo"),
        (keys::NODE_CLUSTER_NAMESPACE, "bar"),
        (keys::NODE_MACHINE, "baz"),
        ("not-managed-by-capi", "foo"),
        (ANNOTATIONS_FROM_MACHINE, ""),
        (LABELS_FROM_MACHINE, "")
    ])
)]
#[case::user_annotations_tracked(
    node(&[], &[], &[]),
    desired(&[], &[(keys::NODE_MACHINE, "m"), ("team.node.cluster.x-k8s.io/owner", "a")], false),
    labels(&[]),
    labels(&[(keys::NODE_MACHINE, "m"), ("team.node.cluster.x-k8s.io/owner", "a"), (ANNOTATIONS_FROM_MACHINE, "team.node.cluster.x-k8s.io/owner"), (LABELS_FROM_MACHINE, "")])
)]
#[case::tracked_annotation_dropped(
    node(&[(ANNOTATIONS_FROM_MACHINE, "team.node.cluster.x-k8s.io/owner"), ("team.node.cluster.x-k8s.io/owner", "a"), ("keep", "x")], &[], &[]),
    desired(&[], &[], false),
    labels(&[]),
    labels(&[("keep", "x"), (ANNOTATIONS_FROM_MACHINE, ""), (LABELS_FROM_MACHINE, "")])
)]
fn patch_node_syncs_metadata(
    #[case] mut n: Node,
    #[case] d: Desired<'static>,
    #[case] want_labels: BTreeMap<String, String>,
    #[case] want_annotations: BTreeMap<String, String>,
) {
    patch_node(&mut n, &d).unwrap();
    assert_eq!(n.labels, want_labels);
    assert_eq!(n.annotations, want_annotations);
}

/// `TestPatchNode`: the uninitialized taint goes, others stay; the outdated-revision taint follows
/// the MachineSet's revision.
#[rstest]
#[case::uninitialized_removed(
    vec![t("node-role.kubernetes.io/control-plane", "", "NoSchedule"), t(UNINITIALIZED_TAINT, "", "NoSchedule")],
    false,
    vec![t("node-role.kubernetes.io/control-plane", "", "NoSchedule")]
)]
#[case::outdated_added(vec![], true, vec![t(OUTDATED_REVISION_TAINT, "", "PreferNoSchedule")])]
#[case::outdated_removed(vec![t(OUTDATED_REVISION_TAINT, "", "PreferNoSchedule")], false, vec![])]
fn patch_node_taints(#[case] taints: Vec<Taint>, #[case] outdated: bool, #[case] want: Vec<Taint>) {
    let mut n = node(&[], &[], &taints);
    assert!(patch_node(&mut n, &desired(&[], &[], outdated)).unwrap());
    assert_eq!(n.taints, want);
}

/// `TestMultiplePatchNode`: a second sync of the same Machine changes nothing.
#[test]
fn a_second_sync_changes_nothing() {
    let mut n = node(&[], &[], &[]);
    let d = desired(
        &[("node-role.kubernetes.io/worker", "")],
        &[
            (CLUSTER_NAME_ANNOTATION, "c"),
            (keys::NODE_CLUSTER_NAMESPACE, "ns"),
            (keys::NODE_MACHINE, "m"),
            (keys::NODE_OWNER_KIND, "MachineSet"),
            (keys::NODE_OWNER_NAME, "ms"),
        ],
        false,
    );
    assert!(patch_node(&mut n, &d).unwrap());
    let before = n.clone();
    assert!(!patch_node(&mut n, &d).unwrap());
    assert_eq!(n.annotations, before.annotations);
}

/// A Machine without a controller owner has no owner annotations, which upstream deletes (and so
/// patches) on every reconcile.
#[test]
fn a_machine_without_an_owner_always_patches() {
    let mut n = node(&[], &[], &[]);
    let d = desired(&[], &[(CLUSTER_NAME_ANNOTATION, "c"), (keys::NODE_CLUSTER_NAMESPACE, "ns"), (keys::NODE_MACHINE, "m")], false);
    assert!(patch_node(&mut n, &d).unwrap());
    assert!(patch_node(&mut n, &d).unwrap());
}

fn with_revision(kind: crate::kinds::Kind, rev: Option<&str>) -> Object {
    let mut o = Object::new(kind, "default", "x");
    if let Some(r) = rev {
        o.meta.annotations.insert(keys::REVISION.into(), r.into());
    }
    o
}

/// `Test_shouldNodeHaveOutdatedTaint`.
#[rstest]
#[case::not_outdated(Some("2"), Some("2"), false)]
#[case::outdated(Some("1"), Some("2"), true)]
#[case::no_revisions(None, None, false)]
fn outdated_when_the_set_is_older(#[case] ms: Option<&str>, #[case] md: Option<&str>, #[case] want: bool) {
    use crate::kinds::Kind;
    let (ms, md) = (with_revision(Kind::MachineSet, ms), with_revision(Kind::MachineDeployment, md));
    assert_eq!(outdated(Some(&ms), Some(&md)).unwrap(), want);
}

#[test]
fn stand_alone_machines_and_sets_are_never_outdated() {
    use crate::kinds::Kind;
    let ms = with_revision(Kind::MachineSet, Some("1"));
    assert!(!outdated(None, None).unwrap());
    assert!(!outdated(Some(&ms), None).unwrap());
}

#[test]
fn an_unparsable_revision_is_strconv_s_error() {
    use crate::kinds::Kind;
    let (ms, md) = (with_revision(Kind::MachineSet, Some("one")), with_revision(Kind::MachineDeployment, Some("2")));
    assert_eq!(outdated(Some(&ms), Some(&md)).unwrap_err(), r#"strconv.ParseInt: parsing "one": invalid syntax"#);
}

/// `TestGetManagedLabels` (util/labels): the default domains only.
#[test]
fn managed_labels_are_the_default_domains() {
    let all = labels(&[
        ("foo", "bar"),
        ("node-role.kubernetes.io", ""),
        ("node-role.kubernetes.io/control-plane", ""),
        ("node-restriction.kubernetes.io/x", "1"),
        ("team.node-restriction.kubernetes.io/y", "2"),
        ("node.cluster.x-k8s.io/z", "3"),
        ("a.b.node.cluster.x-k8s.io/w", "4"),
        ("xnode.cluster.x-k8s.io/no", "5"),
        ("cluster.x-k8s.io/cluster-name", "c"),
    ]);
    let got: Vec<String> = managed_labels(&all).into_keys().collect();
    assert_eq!(
        got,
        [
            "a.b.node.cluster.x-k8s.io/w",
            "node-restriction.kubernetes.io/x",
            "node-role.kubernetes.io",
            "node-role.kubernetes.io/control-plane",
            "node.cluster.x-k8s.io/z",
            "team.node-restriction.kubernetes.io/y"
        ]
    );
}

/// `GetManagedAnnotations`: bookkeeping, the controller owner, and the node domain.
#[test]
fn managed_annotations_name_the_machine_and_its_owner() {
    let m = Object::from_json(&json!({
        "apiVersion": "cluster.x-k8s.io/v1beta2", "kind": "Machine",
        "metadata": {"name": "m", "namespace": "ns",
            "annotations": {"a.node.cluster.x-k8s.io/x": "1", "other": "2"},
            "ownerReferences": [{"apiVersion": "cluster.x-k8s.io/v1beta2", "kind": "MachineSet", "name": "ms", "uid": "u", "controller": true}]},
        "spec": {"clusterName": "c"}
    }))
    .unwrap();
    assert_eq!(
        managed_annotations(&m),
        labels(&[
            ("a.node.cluster.x-k8s.io/x", "1"),
            (CLUSTER_NAME_ANNOTATION, "c"),
            (keys::NODE_CLUSTER_NAMESPACE, "ns"),
            (keys::NODE_MACHINE, "m"),
            (keys::NODE_OWNER_KIND, "MachineSet"),
            (keys::NODE_OWNER_NAME, "ms"),
        ])
    );
}

//! The notices the world hands the engine: Node notices name the Node, and a connection notice
//! comes exactly when a workload API starts or stops answering.

use super::docker::{Bootstrap, Role};
use super::timing::Timing;
use super::workload::{EtcdMember, Node, Status, WorkloadCluster};
use super::{Notice, World};
use capi_scenarios::predicate::{KIND_CLUSTER_LABEL, KIND_ROLE_LABEL};
use rand_chacha::ChaCha8Rng;
use rand_core::SeedableRng;
use std::collections::BTreeMap;

fn labels(role: Role) -> BTreeMap<String, String> {
    BTreeMap::from([(KIND_CLUSTER_LABEL.to_string(), "c".to_string()), (KIND_ROLE_LABEL.to_string(), role.label().to_string())])
}

fn node(name: &str) -> Node {
    Node {
        name: name.into(),
        provider_id: Some(format!("docker:////{name}")),
        labels: BTreeMap::new(),
        annotations: BTreeMap::new(),
        taints: Vec::new(),
        unschedulable: false,
        ready: Status::True,
        ready_reason: "KubeletReady".into(),
        ready_message: String::new(),
        ready_since_ms: 0,
        kubelet_version: "v1.34.3".into(),
        control_plane: true,
        registered_ms: 0,
        kubelet_down_since: None,
        cni_ready_at: Some(0),
        extra_conditions: Default::default(),
    }
}

/// A world with cluster `c`: a load balancer and one control-plane container, not yet serving.
fn world() -> World {
    let mut w = World::new(Timing::default(), ChaCha8Rng::seed_from_u64(1));
    w.run_lb("c-lb", "kindest/haproxy:v20230606-42a2262b", labels(Role::LoadBalancer), 0).unwrap();
    w.run_node("c-cp-1", "kindest/node:v1.34.3", labels(Role::ControlPlane), 0).unwrap();
    w
}

/// Make `c` serve: kubeadm init done on `c-cp-1`, which is the load balancer's backend.
fn serve(w: &mut World) {
    w.docker.get_mut("c-cp-1").unwrap().bootstrap = Bootstrap::Succeeded;
    let mut wl = WorkloadCluster::new("c");
    wl.initialized = true;
    wl.etcd.insert("c-cp-1".into(), EtcdMember { name: "c-cp-1".into(), healthy: true, lost: false });
    wl.nodes.insert("c-cp-1".into(), node("c-cp-1"));
    w.workloads.insert("c".into(), wl);
    w.set_lb_backends("c-lb", vec![("c-cp-1".into(), 1)]).unwrap();
}

fn connections(notices: &[Notice]) -> usize {
    notices.iter().filter(|n| matches!(n, Notice::Connection(_))).count()
}

#[test]
fn a_connection_notice_comes_when_the_api_starts_and_stops_answering() {
    let mut w = world();
    assert_eq!(connections(&w.take_notices()), 0, "the API does not answer yet");
    serve(&mut w);
    assert!(w.take_notices().contains(&Notice::Connection("c".into())), "the API answers now");
    w.notice_workload("c");
    assert_eq!(connections(&w.take_notices()), 0, "still answering: no news");
    w.partitioned.insert("c".into());
    w.notice_workload("c");
    assert!(w.take_notices().contains(&Notice::Connection("c".into())), "partitioned away");
    w.partitioned.remove("c");
    w.notice_workload("c");
    assert!(w.take_notices().contains(&Notice::Connection("c".into())), "back");
}

#[test]
fn node_changes_are_noticed_per_node_with_the_provider_id() {
    let mut w = world();
    serve(&mut w);
    w.take_notices();
    w.patch_node("c", "c-cp-1", |n| {
        n.annotations.insert("cluster.x-k8s.io/machine".into(), "m".into());
    })
    .unwrap();
    let want = Notice::Node { cluster: "c".into(), node: "c-cp-1".into(), provider_id: Some("docker:////c-cp-1".into()) };
    assert_eq!(w.take_notices(), vec![want.clone()]);
    w.patch_node("c", "c-cp-1", |_| {}).unwrap();
    assert_eq!(w.take_notices(), vec![], "a patch that changes nothing is not an event");
    w.delete_node("c", "c-cp-1").unwrap();
    assert_eq!(w.take_notices(), vec![want], "a deleted Node is noticed with its last providerID");
}

/// kube-scheduler as the workload Pods see it: `nodeSelector` must match, `NoSchedule` taints must
/// be tolerated, and among the Nodes left those without `PreferNoSchedule` taints (CAPI's
/// `node.cluster.x-k8s.io/outdated-revision`) come first; a Pod with no fitting Node waits and
/// runs once a Node fits.
#[test]
fn the_scheduler_honours_node_selectors_and_prefers_untainted_nodes() {
    use super::workload::Taint;
    let mut wl = WorkloadCluster::new("c");
    for n in ["w-old", "w-new"] {
        let mut x = node(n);
        x.control_plane = false;
        wl.nodes.insert(n.into(), x);
    }
    let outdated = Taint { key: "node.cluster.x-k8s.io/outdated-revision".into(), value: String::new(), effect: "PreferNoSchedule".into() };
    wl.nodes.get_mut("w-old").unwrap().taints.push(outdated);
    let deployment = |name: &str, selector: serde_json::Value| {
        serde_json::json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "default"},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": name}},
                "template": {"metadata": {"labels": {"app": name}}, "spec": {"nodeSelector": selector}}}})
    };
    wl.apply_workload_object(&deployment("spread", serde_json::json!({})), 0);
    let on = |wl: &WorkloadCluster, d: &str| -> Vec<String> {
        wl.pods.values().filter(|p| p.deployment.as_deref() == Some(d)).map(|p| p.node.clone()).collect()
    };
    assert_eq!(on(&wl, "spread"), ["w-new", "w-new"], "the outdated Node is avoided while another fits");
    wl.apply_workload_object(&deployment("pinned", serde_json::json!({"role": "db"})), 0);
    assert_eq!(on(&wl, "pinned"), ["", ""], "no Node carries the label: the Pods wait");
    wl.nodes.get_mut("w-old").unwrap().labels.insert("role".into(), "db".into());
    assert!(wl.schedule_pending(1));
    assert_eq!(on(&wl, "pinned"), ["w-old", "w-old"], "the only Node that fits, taint or not");
}

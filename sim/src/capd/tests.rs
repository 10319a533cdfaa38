//! Engine-level tests of CAPD in both shapes: an infra cluster gets its load balancer, endpoint and
//! provisioned status; an infra machine of a hand-made Machine (no KubeadmConfig: the bootstrap Secret
//! is written by the test) gets its container, boots, is provisioned and runs the bootstrap; the
//! failure table (name conflict, container lost after the providerID) and deletion (with and without
//! the leaking mutant).

use super::naming::{lb_container_name, provider_id};
use super::shape::Shape;
use crate::controllers::common::b64;
use crate::controllers::conditions;
use crate::engine::{Sim, SimConfig};
use crate::features::FeatureGates;
use crate::kinds::Kind;
use crate::mutants::Mutant;
use crate::object::{ObjKey, Object};
use crate::testing::{apply_yaml, get, run_for};
use crate::world::bootstrap::{render, BootKind, BootstrapInput};
use crate::world::docker::{Bootstrap, RunSpec};
use capi_scenarios::model::Propagation;
use serde_json::json;
use std::collections::BTreeMap;

const CLUSTER: &str = "c1";
const MACHINE: &str = "c1-cp-abcde";

fn sim_with(mutants: &[Mutant]) -> Sim {
    let mut s = Sim::new(SimConfig { seed: 7, mutants: mutants.iter().copied().collect(), ..Default::default() });
    s.add_management("mgmt", FeatureGates { cluster_topology: true, ..Default::default() });
    s
}

fn infra_cluster_yaml(shape: Shape) -> String {
    let kind = shape.cluster_kind();
    let fds = r#"failureDomains: [{name: fd1, controlPlane: true}, {name: fd2}]"#;
    let spec = match shape {
        Shape::Docker => format!("{{{fds}}}"),
        Shape::Dev => format!("{{backend: {{docker: {{{fds}}}}}}}"),
    };
    format!(
        r#"
apiVersion: cluster.x-k8s.io/v1beta2
kind: Cluster
metadata: {{name: {CLUSTER}, namespace: default}}
spec:
  infrastructureRef: {{apiGroup: infrastructure.cluster.x-k8s.io, kind: {kind}, name: {CLUSTER}}}
---
apiVersion: infrastructure.cluster.x-k8s.io/v1beta2
kind: {kind}
metadata: {{name: {CLUSTER}, namespace: default}}
spec: {spec}
"#
    )
}

/// A Cluster, its infra cluster, a control-plane Machine with init bootstrap data, and its infra
/// machine owned by the Machine.
fn machine_setup(sim: &mut Sim, shape: Shape) {
    apply_yaml(sim, &infra_cluster_yaml(shape));
    let data = render(&BootstrapInput {
        kind: BootKind::Init,
        cluster: CLUSTER,
        version: "v1.34.3",
        endpoint: "172.18.0.2:6443",
        token: "",
        taints: &[],
        spec: &json!({}),
    });
    let mk = shape.machine_kind();
    apply_yaml(
        sim,
        &format!(
            r#"
apiVersion: v1
kind: Secret
metadata: {{name: {MACHINE}, namespace: default, labels: {{cluster.x-k8s.io/cluster-name: {CLUSTER}}}}}
type: cluster.x-k8s.io/secret
data: {{value: "{}", format: "{}"}}
---
apiVersion: cluster.x-k8s.io/v1beta2
kind: Machine
metadata:
  name: {MACHINE}
  namespace: default
  labels: {{cluster.x-k8s.io/cluster-name: {CLUSTER}, cluster.x-k8s.io/control-plane: ""}}
spec:
  clusterName: {CLUSTER}
  version: v1.34.3
  bootstrap: {{dataSecretName: {MACHINE}}}
  infrastructureRef: {{apiGroup: infrastructure.cluster.x-k8s.io, kind: {mk}, name: {MACHINE}}}
"#,
            b64(&data),
            b64("cloud-config"),
        ),
    );
    let machine = get(sim, Kind::Machine, "default", MACHINE).expect("machine");
    let spec = match shape {
        Shape::Docker => json!({"extraMounts": [{"containerPath": "/var/run/docker.sock", "hostPath": "/var/run/docker.sock"}]}),
        Shape::Dev => {
            json!({"backend": {"docker": {"extraMounts": [{"containerPath": "/var/run/docker.sock", "hostPath": "/var/run/docker.sock"}]}}})
        }
    };
    let dm = json!({
        "apiVersion": mk.api_version(), "kind": mk.name(),
        "metadata": {"name": MACHINE, "namespace": "default", "labels": {"cluster.x-k8s.io/cluster-name": CLUSTER},
            "ownerReferences": [{"apiVersion": "cluster.x-k8s.io/v1beta2", "kind": "Machine", "name": MACHINE, "uid": machine.meta.uid.to_string(), "controller": true}]},
        "spec": spec,
    });
    sim.apply(0, &dm).expect("infra machine");
}

fn cond<'a>(o: &'a Object, t: &str) -> Option<conditions::CondView<'a>> {
    conditions::get(o, t)
}

#[test]
fn infra_cluster_gets_load_balancer_endpoint_and_provisioned() {
    for shape in Shape::ALL {
        let mut sim = sim_with(&[]);
        apply_yaml(&mut sim, &infra_cluster_yaml(shape));
        run_for(&mut sim, 20_000);
        let lb = sim.world.docker.get(&lb_container_name(CLUSTER)).cloned().unwrap_or_else(|| panic!("{shape:?}: no LB container"));
        assert_eq!(lb.image, "kindest/haproxy:v20230606-42a2262b");
        assert_eq!(lb.labels.get("io.x-k8s.kind.role").map(String::as_str), Some("external-load-balancer"));
        assert_eq!(lb.labels.get("io.x-k8s.kind.cluster").map(String::as_str), Some(CLUSTER));
        let ic = get(&sim, shape.cluster_kind(), "default", CLUSTER).unwrap();
        assert_eq!(ic.str_at("/spec/controlPlaneEndpoint/host"), Some(lb.ip.as_str()), "{shape:?}");
        assert_eq!(ic.i64_at("/spec/controlPlaneEndpoint/port"), Some(6443));
        assert!(ic.bool_at("/status/initialization/provisioned"), "{shape:?}");
        assert!(ic.has_finalizer(super::shape::CLUSTER_FINALIZER));
        assert_eq!(
            ic.at("/status/failureDomains"),
            Some(&json!([{"name": "fd1", "controlPlane": true}, {"name": "fd2", "controlPlane": false}]))
        );
        assert_eq!(cond(&ic, "LoadBalancerAvailable").map(|c| c.reason), Some("Available"));
        assert!(conditions::is_true(&ic, "Ready"), "{shape:?}");
        // Deletion: two passes, then the LB container and the object are gone.
        sim.delete(0, &ObjKey::new(shape.cluster_kind(), "default", CLUSTER), Propagation::Background).unwrap();
        run_for(&mut sim, 10_000);
        assert!(sim.world.docker.get(&lb_container_name(CLUSTER)).is_none(), "{shape:?}");
        assert!(get(&sim, shape.cluster_kind(), "default", CLUSTER).is_none(), "{shape:?}");
    }
}

#[test]
fn infra_machine_gets_container_boots_and_bootstraps() {
    for shape in Shape::ALL {
        let mut sim = sim_with(&[]);
        machine_setup(&mut sim, shape);
        run_for(&mut sim, 40_000);
        let c = sim.world.docker.get(MACHINE).cloned().unwrap_or_else(|| panic!("{shape:?}: no container"));
        assert_eq!(c.image, "kindest/node:v1.34.3");
        assert_eq!(c.labels.get("io.x-k8s.kind.role").map(String::as_str), Some("control-plane"));
        assert!(c.ready(sim.now()), "{shape:?}: not booted");
        assert!(matches!(c.bootstrap, Bootstrap::Running { .. } | Bootstrap::Succeeded), "{shape:?}: {:?}", c.bootstrap);
        // The control-plane container is a load balancer backend.
        let lb = sim.world.docker.get(&lb_container_name(CLUSTER)).unwrap();
        assert_eq!(lb.backends, vec![(MACHINE.to_string(), 100)], "{shape:?}");
        let dm = get(&sim, shape.machine_kind(), "default", MACHINE).unwrap();
        assert!(conditions::is_true(&dm, "ContainerProvisioned"), "{shape:?}");
        match shape {
            Shape::Dev => {
                // The main flow provisions before the bootstrap.
                assert!(conditions::is_true(&dm, "CGroupsReady"));
                assert!(conditions::is_true(&dm, "PreLoadedImagesReady"));
                assert_eq!(dm.str_at("/spec/providerID"), Some(provider_id(MACHINE).as_str()));
                assert!(dm.bool_at("/status/initialization/provisioned"));
                assert_eq!(dm.annotation("devmachine.infrastructure.cluster.x-k8s.io/weight"), Some("100"));
            }
            Shape::Docker => {
                // The v1.13 flow provisions only after the bootstrap and the Node patch.
                assert!(dm.str_at("/spec/providerID").is_none());
                assert!(!dm.bool_at("/status/initialization/provisioned"));
                assert!(dm.bool_at("/status/loadBalancerConfigured"));
            }
        }
        // kubeadm init finishes, the Node registers.
        run_for(&mut sim, 150_000);
        let c = sim.world.docker.get(MACHINE).unwrap();
        assert_eq!(c.bootstrap, Bootstrap::Succeeded, "{shape:?}");
        let dm = get(&sim, shape.machine_kind(), "default", MACHINE).unwrap();
        let done = match shape {
            Shape::Dev => "BootstrapCompleted",
            Shape::Docker => "BootstrapExecSucceeded",
        };
        assert!(conditions::is_true(&dm, done), "{shape:?}: {:?}", cond(&dm, done));
        assert!(conditions::is_true(&dm, "Ready"), "{shape:?}: {:?}", cond(&dm, "Ready"));
        assert_eq!(dm.str_at("/spec/providerID"), Some(provider_id(MACHINE).as_str()), "{shape:?}");
        assert!(dm.bool_at("/status/initialization/provisioned"), "{shape:?}");
        assert_eq!(dm.at("/status/addresses/1"), Some(&json!({"type": "InternalIP", "address": c.ip})));
        let node_pid = sim.world.workloads.get(CLUSTER).and_then(|w| w.nodes.get(MACHINE)).and_then(|n| n.provider_id.clone());
        assert_eq!(node_pid, Some(provider_id(MACHINE)), "{shape:?}");
    }
}

#[test]
fn name_conflict_with_an_unlabeled_container_is_a_reconcile_error() {
    for shape in Shape::ALL {
        let mut sim = sim_with(&[]);
        // Someone else's container holds the name, without CAPD's labels.
        let spec = RunSpec { name: MACHINE.into(), image: "nginx".into(), labels: BTreeMap::new(), memory_mb: 10, boot_ms: 0 };
        sim.world.docker.run(spec, 0).unwrap();
        machine_setup(&mut sim, shape);
        run_for(&mut sim, 30_000);
        let dm = get(&sim, shape.machine_kind(), "default", MACHINE).unwrap();
        assert!(!conditions::is_true(&dm, "ContainerProvisioned"), "{shape:?}");
        assert_eq!(sim.world.docker.get(MACHINE).map(|c| c.image.as_str()), Some("nginx"));
        let errors: u64 = sim.mgmt[0]
            .managers
            .iter()
            .filter(|g| g.name == "capd")
            .flat_map(|g| &g.controllers)
            .filter(|c| c.reconciler.kind() == shape.machine_kind())
            .map(|c| c.stats.errors)
            .sum();
        assert!(errors > 0, "{shape:?}: the conflict must fail reconciles");
    }
}

#[test]
fn container_lost_after_provider_id_is_reported_not_recreated() {
    let mut sim = sim_with(&[]);
    machine_setup(&mut sim, Shape::Dev);
    run_for(&mut sim, 40_000);
    assert!(get(&sim, Kind::DevMachine, "default", MACHINE).unwrap().str_at("/spec/providerID").is_some());
    let now = sim.now();
    assert!(sim.world.docker.kill(MACHINE, "test"));
    sim.world.container_stopped(MACHINE, now);
    sim.after_world();
    run_for(&mut sim, 20_000);
    let dm = get(&sim, Kind::DevMachine, "default", MACHINE).unwrap();
    let c = cond(&dm, "ContainerProvisioned").unwrap();
    assert_eq!((c.status, c.reason), (conditions::Status::False, "NotProvisioned"));
    assert_eq!(c.message, format!("Container {MACHINE} is not running anymore"));
    assert!(!sim.world.docker.get(MACHINE).unwrap().running(), "not re-created");
}

#[test]
fn deletion_removes_the_container_unless_the_mutant_leaks_it() {
    for (mutants, leaked) in [(vec![], false), (vec![Mutant::DockerMachineLeaksContainer], true)] {
        for shape in Shape::ALL {
            let mut sim = sim_with(&mutants);
            machine_setup(&mut sim, shape);
            // Past the bootstrap, which blocks the v1.13 worker.
            run_for(&mut sim, 160_000);
            assert!(sim.world.docker.get(MACHINE).is_some());
            sim.delete(0, &ObjKey::new(shape.machine_kind(), "default", MACHINE), Propagation::Background).unwrap();
            run_for(&mut sim, 10_000);
            assert!(get(&sim, shape.machine_kind(), "default", MACHINE).is_none(), "{shape:?}: finalizer not removed");
            assert_eq!(sim.world.docker.get(MACHINE).is_some(), leaked, "{shape:?} mutants={mutants:?}");
            if !leaked {
                // The load balancer no longer routes to the removed control-plane container.
                assert!(sim.world.docker.get(&lb_container_name(CLUSTER)).unwrap().backends.is_empty(), "{shape:?}");
            }
        }
    }
}

//! A MachinePool of CAPD instances in both shapes, end to end without ClusterClass: a Cluster with
//! one hand-made control-plane Machine (init data), and a pool with join data written by the test.

use crate::capd::Shape;
use crate::controllers::common::b64;
use crate::controllers::conditions;
use crate::kinds::Kind;
use crate::testing::{self, apply_yaml, get, list, run_for};
use crate::world::bootstrap::{render, BootKind, BootstrapInput};
use serde_json::json;

fn data(kind: BootKind) -> String {
    b64(&render(&BootstrapInput {
        kind,
        cluster: "c1",
        version: "v1.34.3",
        endpoint: "172.18.0.2:6443",
        token: "abcdef.0123456789abcdef",
        taints: &[],
        spec: &json!({}),
    }))
}

fn setup(shape: Shape) -> crate::Sim {
    let mut sim = testing::sim(3);
    let (ck, mk, pk) = (shape.cluster_kind(), shape.machine_kind(), shape.pool_kind());
    let (cspec, pspec) = match shape {
        Shape::Docker => ("{}", "{template: {}}"),
        Shape::Dev => ("{backend: {docker: {}}}", "{backend: {docker: {}}}"),
    };
    apply_yaml(
        &mut sim,
        &format!(
            r#"
apiVersion: cluster.x-k8s.io/v1beta2
kind: Cluster
metadata: {{name: c1, namespace: default}}
spec: {{infrastructureRef: {{apiGroup: infrastructure.cluster.x-k8s.io, kind: {ck}, name: c1}}}}
---
apiVersion: infrastructure.cluster.x-k8s.io/v1beta2
kind: {ck}
metadata: {{name: c1, namespace: default}}
spec: {cspec}
---
apiVersion: v1
kind: Secret
metadata: {{name: c1-cp, namespace: default}}
data: {{value: "{init}"}}
---
apiVersion: v1
kind: Secret
metadata: {{name: mp-0-join, namespace: default}}
data: {{value: "{join}"}}
---
apiVersion: cluster.x-k8s.io/v1beta2
kind: Machine
metadata: {{name: c1-cp, namespace: default, labels: {{cluster.x-k8s.io/cluster-name: c1, cluster.x-k8s.io/control-plane: ""}}}}
spec:
  clusterName: c1
  version: v1.34.3
  bootstrap: {{dataSecretName: c1-cp}}
  infrastructureRef: {{apiGroup: infrastructure.cluster.x-k8s.io, kind: {mk}, name: c1-cp}}
---
apiVersion: infrastructure.cluster.x-k8s.io/v1beta2
kind: {mk}
metadata: {{name: c1-cp, namespace: default, labels: {{cluster.x-k8s.io/cluster-name: c1}}}}
spec: {cspec}
---
apiVersion: cluster.x-k8s.io/v1beta2
kind: MachinePool
metadata: {{name: mp-0, namespace: default}}
spec:
  clusterName: c1
  replicas: 2
  template:
    spec:
      clusterName: c1
      version: v1.34.3
      bootstrap: {{dataSecretName: mp-0-join}}
      infrastructureRef: {{apiGroup: infrastructure.cluster.x-k8s.io, kind: {pk}, name: mp-0}}
---
apiVersion: infrastructure.cluster.x-k8s.io/v1beta2
kind: {pk}
metadata: {{name: mp-0, namespace: default}}
spec: {pspec}
"#,
            init = data(BootKind::Init),
            join = data(BootKind::JoinWorker),
        ),
    );
    sim
}

#[test]
fn machine_pool_instances_come_up_in_both_shapes() {
    for shape in Shape::ALL {
        let mut sim = setup(shape);
        run_for(&mut sim, 400_000);
        let pool = get(&sim, shape.pool_kind(), "default", "mp-0").unwrap();
        assert_eq!(pool.str_at("/status/infrastructureMachineKind"), Some(shape.machine_kind().name()), "{shape:?}");
        assert!(pool.bool_at("/status/ready"), "{shape:?}: {pool:?}");
        assert_eq!(pool.at("/spec/providerIDList").and_then(|v| v.as_array()).map(Vec::len), Some(2), "{shape:?}");
        // Two containers labelled with the pool, running their join.
        let label = shape.pool_container_label();
        let containers: Vec<_> = sim.world.docker.list(&[(label, "mp-0")]).into_iter().cloned().collect();
        assert_eq!(containers.len(), 2, "{shape:?}");
        assert!(containers
            .iter()
            .all(|c| c.name.starts_with("c1-worker-") && c.labels.get("io.x-k8s.kind.role").map(String::as_str) == Some("worker")));
        // One Machine per infra machine, controlled by the pool.
        let machines: Vec<_> =
            list(&sim, Kind::Machine).into_iter().filter(|m| m.label("cluster.x-k8s.io/pool-name") == Some("mp-0")).collect();
        assert_eq!(machines.len(), 2, "{shape:?}");
        for m in &machines {
            assert_eq!(m.controller_ref().map(|r| r.kind.as_str()), Some("MachinePool"));
            assert!(conditions::is_true(m, "UpToDate"), "{shape:?}");
            let im = get(&sim, shape.machine_kind(), "default", m.name()).unwrap();
            assert!(im.str_at("/spec/providerID").is_some(), "{shape:?}: {} has no providerID", im.name());
        }
        let mp = get(&sim, Kind::MachinePool, "default", "mp-0").unwrap();
        assert_eq!(mp.i64_at("/status/replicas"), Some(2), "{shape:?}");
        assert_eq!(mp.at("/spec/providerIDList").and_then(|v| v.as_array()).map(Vec::len), Some(2), "{shape:?}");
        assert_eq!(mp.at("/status/nodeRefs").and_then(|v| v.as_array()).map(Vec::len), Some(2), "{shape:?}: {mp:?}");
        assert!(mp.bool_at("/status/initialization/infrastructureProvisioned"));
        assert!(mp.bool_at("/status/initialization/bootstrapDataSecretCreated"));
        // Without a CNI the Nodes stay NotReady: the pool scales up towards ready replicas.
        assert_eq!(mp.str_at("/status/phase"), Some("ScalingUp"), "{shape:?}");
        let nodes = &sim.world.workloads["c1"].nodes;
        for c in &containers {
            let n = &nodes[&c.name];
            assert_eq!(n.annotations.get("cluster.x-k8s.io/owner-kind").map(String::as_str), Some("MachinePool"));
        }
        // Scale down to one: one instance goes with its Machine and container.
        let mut scaled = mp.to_json();
        scaled["spec"]["replicas"] = json!(1);
        crate::testing::apply_yaml(
            &mut sim,
            &serde_yaml::to_string(&json!({
            "apiVersion": "cluster.x-k8s.io/v1beta2", "kind": "MachinePool",
            "metadata": {"name": "mp-0", "namespace": "default"}, "spec": scaled["spec"].clone()}))
            .unwrap(),
        );
        run_for(&mut sim, 120_000);
        let left: Vec<_> = sim.world.docker.list(&[(label, "mp-0")]).into_iter().cloned().collect();
        assert_eq!(left.len(), 1, "{shape:?}");
    }
}

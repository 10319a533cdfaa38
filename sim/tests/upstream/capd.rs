//! CAPD's view of Docker, restated from `test/infrastructure/docker`: the release-1.13 `DockerMachine`
//! flow (`internal/controllers/backends/docker/dockermachine_backend.go` of v1.13.5) and the main
//! `DevMachine` flow (`reconcilers/backends/docker/dockermachine_backend.go` at ae7ff047db). CAPD's
//! unit tests (`internal/docker/types/node_test.go`, `dockermachine_controller_test.go`) cover little of
//! this, so most tests name the upstream function whose rule they restate, and the e2e spec that relies
//! on it where there is one.

use super::{assert_passed, root};
use capi_scenarios::report::RunReport;
use capi_scenarios::runner::{self, RunOptions};
use capi_sim::backend::{SimBackend, SimOptions};
use capi_sim::engine::trace::TraceMode;
use capi_sim::kinds::Kind;
use capi_sim::world::docker::{DockerHost, RunSpec, State};
use rstest::rstest;
use serde_json::Value;
use std::collections::BTreeMap;

/// Run an inline scenario with the full trace kept, so that tests can look for what the Docker host did.
fn traced(yaml: &str) -> (RunReport, SimBackend) {
    let path = root().join("scenarios/library/upstream-inline.yaml");
    let opts = capi_scenarios::LoadOptions { fixtures_dir: Some(root().join("fixtures")), ..Default::default() };
    let scenario = capi_scenarios::parse::load_text(yaml, &path, &opts).unwrap_or_else(|e| panic!("{e}"));
    let mut backend = SimBackend::new(SimOptions { trace: TraceMode::Full, ..Default::default() });
    let report = pollster::block_on(runner::run(&mut backend, &scenario, &RunOptions::default()));
    (report, backend)
}

/// Trace lines mentioning `needle`.
fn trace_lines(backend: &SimBackend, needle: &str) -> Vec<String> {
    let sim = backend.sim().expect("prepared");
    (0..sim.trace.len() as usize).map(|i| sim.trace.json_line("t", i)).filter(|l| l.contains(needle)).collect()
}

fn objects(backend: &SimBackend, kind: Kind) -> Vec<Value> {
    backend.sim().expect("prepared").mgmt[0].api.store.objects().of_kind(kind, None).map(|o| o.to_json()).collect()
}

fn cond<'a>(o: &'a Value, t: &str) -> Option<&'a Value> {
    o["status"]["conditions"].as_array()?.iter().find(|c| c["type"] == t)
}

// ---------------------------------------------------------------------------------------------
// What Docker reports (internal/docker/types/node.go)
// ---------------------------------------------------------------------------------------------

fn host_with(state: &str) -> DockerHost {
    let mut h = DockerHost::new(10_000);
    let spec = RunSpec { name: "n".into(), image: "kindest/node:v1.34.3".into(), labels: BTreeMap::new(), memory_mb: 100, boot_ms: 1000 };
    h.run(spec, 0).unwrap();
    match state {
        "paused" => assert!(h.set_paused("n", true)),
        "exited" => assert!(h.kill("n", "test")),
        _ => {}
    }
    h
}

/// `types.Node.IsRunning` is `strings.HasPrefix(status, "Up")` over the status column Docker lists:
/// `Up …` for a running container, `Up … (Paused)` for a paused one, `Exited (…)` for a stopped one.
/// So CAPD counts a paused container as running.
#[rstest]
#[case::running("running", true, "Up")]
#[case::paused("paused", true, "Up (Paused)")]
#[case::exited("exited", false, "Exited (137)")]
fn is_running_is_the_up_prefix_of_the_status(#[case] state: &str, #[case] up: bool, #[case] status: &str) {
    let h = host_with(state);
    let c = h.get("n").unwrap();
    assert_eq!(c.status_text(), status);
    assert_eq!(c.is_up(), up);
    assert_eq!(c.is_up(), c.status_text().starts_with("Up"));
}

/// `Machine.WaitForMultiUserTarget`, `LoadBalancer.UpdateConfiguration` and the bootstrap run `docker
/// exec`: the daemon refuses an exec into a paused container (moby `errExecPaused`) and into a stopped
/// one (`errNotRunning`), so a paused node is "running" for CAPD's checks but cannot be exec'd into.
#[rstest]
#[case::running("running", None)]
#[case::paused("paused", Some("is paused, unpause the container before exec"))]
#[case::exited("exited", Some("is not running"))]
fn exec_into_a_paused_or_stopped_container_is_refused(#[case] state: &str, #[case] refusal: Option<&str>) {
    let h = host_with(state);
    let c = h.get("n").unwrap();
    match (c.exec_refusal(), refusal) {
        (None, None) => {}
        (Some(got), Some(want)) => assert!(got.ends_with(want) && got.contains(&c.id), "{got}"),
        (got, want) => panic!("{got:?} vs {want:?}"),
    }
    assert_eq!(c.state == State::Running, c.exec_refusal().is_none());
}

// ---------------------------------------------------------------------------------------------
// The release-1.13 DockerMachine flow
// ---------------------------------------------------------------------------------------------

/// A development cluster of the release-1.13 `Docker*` kinds (1 control-plane Machine, `workers`
/// workers, kindnet), Available, then `steps`.
fn docker_cluster(name: &str, workers: u32, steps: &str) -> String {
    format!(
        r#"
name: {name}
seed: 1
vars: {{ CLUSTER_NAME: capd, KUBERNETES_VERSION: v1.34.3, CONTROL_PLANE_MACHINE_COUNT: "1", WORKER_MACHINE_COUNT: "{workers}" }}
steps:
  - apply: {{ file: ../../fixtures/cni/crs-kindnet.yaml }}
  - apply: {{ file: ../../fixtures/manifests/development-kcp-md.yaml }}
  - wait:
      for:
        all:
          - field: {{ target: MachineDeployment/capd-md-0, path: status.availableReplicas, equals: {workers} }}
          - condition: {{ target: {{ kind: Machine, cluster: capd }}, type: Ready, status: "True" }}
      timeout: 15m
{steps}
"#
    )
}

/// release-1.13 `dockermachine_backend.go: ReconcileNormal`: once `spec.providerID` is set only the
/// container's existence counts (`externalMachine.Exists()`), so a paused worker keeps
/// ContainerProvisioned True, is not deleted or re-created, and its Node comes back after the unpause.
#[test]
fn docker_machine_paused_after_provisioning_is_kept() {
    let steps = r#"  - fault: { kind: container-pause, target: { cluster: capd, control-plane: false, index: 0, count: 1 }, duration: 2m }
  - sleep: 1m
  - expect:
      - containers: { cluster: capd, role: worker, state: paused, equals: 1 }
      - condition: { target: { kind: DockerMachine, cluster: capd }, type: ContainerProvisioned, status: "True" }
  - wait:
      for: { condition: { target: { kind: Node, workload: capd }, type: Ready, status: "True" } }
      timeout: 5m
"#;
    let (report, backend) = traced(&docker_cluster("capd-pause-provisioned", 1, steps));
    assert_passed(&report);
    assert!(trace_lines(&backend, "docker rm -f").is_empty(), "{:#?}", trace_lines(&backend, "docker rm -f"));
}

/// release-1.13 `dockermachine_backend.go: ReconcileNormal`: after the providerID a stopped container
/// still exists, so ContainerProvisioned stays True (v1.13 checks existence, not `IsRunning`).
#[test]
fn docker_machine_killed_after_provisioning_is_still_provisioned() {
    let steps = r#"  - fault: { kind: container-kill, target: { cluster: capd, control-plane: false, index: 0, count: 1 } }
  - sleep: 1m
  - expect:
      - containers: { cluster: capd, role: worker, state: exited, equals: 1 }
      - condition: { target: { kind: DockerMachine, cluster: capd }, type: ContainerProvisioned, status: "True", reason: Provisioned }
"#;
    let (report, _) = traced(&docker_cluster("capd-kill-provisioned", 1, steps));
    assert_passed(&report);
}

/// release-1.13 `dockermachine_backend.go: ReconcileNormal`: a container removed after the providerID
/// is reported (`Container <name> does not exist anymore`, NotProvisioned) and never re-created.
#[test]
fn docker_machine_removed_after_provisioning_is_reported_not_recreated() {
    let steps = r#"  - docker: { rm: { cluster: capd, role: worker, pick: first } }
  - wait:
      for: { condition: { target: { kind: DockerMachine, cluster: capd, match: any }, type: ContainerProvisioned, status: "False", reason: NotProvisioned } }
      timeout: 1m
  - sleep: 1m
  - expect:
      - containers: { cluster: capd, role: worker, equals: 0 }
"#;
    let (report, backend) = traced(&docker_cluster("capd-rm-provisioned", 1, steps));
    assert_passed(&report);
    let dm =
        objects(&backend, Kind::DockerMachine).into_iter().find(|d| cond(d, "ContainerProvisioned").unwrap()["status"] == "False").unwrap();
    let machine = dm["metadata"]["ownerReferences"][0]["name"].as_str().unwrap().to_string();
    assert_eq!(cond(&dm, "ContainerProvisioned").unwrap()["message"], format!("Container {machine} does not exist anymore"));
}

/// release-1.13 `dockermachine_backend.go: ReconcileNormal` ("If re-entering the reconcile loop and
/// reaching this point, the container is expected to be running. If it is not, delete it"): running
/// means listed as `Up`, so a worker container paused after its bootstrap (`spec.bootstrapped` set) but
/// before its providerID is neither deleted nor re-created; `CloudProviderNodePatch` finds no Node
/// while the kubelet is frozen and retries, and once unpaused the kubelet registers and the Machine
/// gets its providerID and Node. (The README once reported that such a container is replaced and never
/// bootstrapped, from a simulator that treated paused as stopped.)
#[test]
fn docker_machine_paused_before_provisioning_is_not_recreated() {
    let steps = r#"  - scale: { target: MachineDeployment/capd-md-0, replicas: 1 }
  - fault:
      kind: container-pause
      target: { cluster: capd, control-plane: false, index: 0, count: 1 }
      when:
        all:
          - field: { target: { kind: DockerMachine, cluster: capd, control-plane: false }, path: spec.bootstrapped, equals: true }
          - not: { field: { target: { kind: DockerMachine, cluster: capd, control-plane: false }, path: spec.providerID, exists: true } }
      duration: 3m
  - wait:
      for: { containers: { cluster: capd, role: worker, state: paused, equals: 1 } }
      timeout: 10m
  - sleep: 1m
  - expect:
      - not: { field: { target: { kind: DockerMachine, cluster: capd, control-plane: false }, path: spec.providerID, exists: true } }
      - condition: { target: { kind: DockerMachine, cluster: capd, control-plane: false }, type: ContainerProvisioned, status: "True" }
  - wait:
      for: { field: { target: MachineDeployment/capd-md-0, path: status.availableReplicas, equals: 1 } }
      timeout: 10m
"#;
    let (report, backend) = traced(&docker_cluster("capd-pause-bootstrap", 0, steps));
    assert_passed(&report);
    assert!(trace_lines(&backend, "docker rm -f").is_empty(), "{:#?}", trace_lines(&backend, "docker rm -f"));
}

/// release-1.13 `dockermachine_backend.go: ReconcileNormal` (same rule): a container that stopped
/// before the providerID (here: killed as soon as it exists) is deleted and created again.
#[test]
fn docker_machine_stopped_before_provisioning_is_recreated() {
    let steps = r#"  - scale: { target: MachineDeployment/capd-md-0, replicas: 1 }
  - fault:
      kind: container-kill
      target: { cluster: capd, control-plane: false, index: 0, count: 1 }
      when: { containers: { cluster: capd, role: worker, equals: 1 } }
  - wait:
      for: { field: { target: MachineDeployment/capd-md-0, path: status.availableReplicas, equals: 1 } }
      timeout: 10m
"#;
    let (report, backend) = traced(&docker_cluster("capd-kill-bootstrap", 0, steps));
    assert_passed(&report);
    assert_eq!(trace_lines(&backend, "docker rm -f").len(), 1, "{:#?}", trace_lines(&backend, "docker rm -f"));
}

// ---------------------------------------------------------------------------------------------
// The main DevMachine flow
// ---------------------------------------------------------------------------------------------

/// A quick-start cluster of the main `Dev*` kinds (ClusterClass of the v1.15 provider components),
/// 1 control-plane Machine and 1 worker, Available, then `steps`.
fn dev_cluster(name: &str, steps: &str) -> String {
    format!(
        r#"
name: {name}
seed: 1
vars: {{ CLUSTER_TOPOLOGY: "true", KUBERNETES_VERSION: v1.34.3 }}
steps:
  - apply: {{ file: ../../fixtures/cni/crs-kindnet.yaml }}
  - apply: {{ file: ../../fixtures/providers/docker/v1.15/clusterclass-quick-start.yaml }}
  - apply:
      manifest: |
        apiVersion: cluster.x-k8s.io/v1beta2
        kind: Cluster
        metadata: {{ name: dev, namespace: default, labels: {{ cni: kindnet }} }}
        spec:
          clusterNetwork:
            pods: {{ cidrBlocks: ["192.168.0.0/16"] }}
            services: {{ cidrBlocks: ["10.128.0.0/12"] }}
            serviceDomain: cluster.local
          topology:
            classRef: {{ name: quick-start }}
            version: ${{KUBERNETES_VERSION}}
            controlPlane: {{ replicas: 1 }}
            workers:
              machineDeployments:
                - {{ class: default-worker, name: md-0, replicas: 1 }}
            variables:
              - {{ name: imageRepository, value: "" }}
              - {{ name: etcdImageTag, value: "" }}
              - {{ name: coreDNSImageTag, value: "" }}
              - {{ name: podSecurityStandard, value: {{ enabled: false }} }}
  - wait:
      for:
        all:
          - condition: {{ target: Cluster/dev, type: Available, status: "True" }}
          - condition: {{ target: {{ kind: Machine, cluster: dev }}, type: Ready, status: "True" }}
      timeout: 15m
{steps}
"#
    )
}

/// main `dockermachine_backend.go: reconcileContainer` ("if the machine has been already provisioned,
/// but the container not running anymore, surface it"): `IsRunning` is the `Up` prefix, so a paused
/// worker keeps ContainerProvisioned True and is not re-created.
#[test]
fn dev_machine_paused_after_provisioning_is_still_provisioned() {
    let steps = r#"  - fault: { kind: container-pause, target: { cluster: dev, control-plane: false, index: 0, count: 1 }, duration: 2m }
  - sleep: 1m
  - expect:
      - containers: { cluster: dev, role: worker, state: paused, equals: 1 }
      - condition: { target: { kind: DevMachine, cluster: dev }, type: ContainerProvisioned, status: "True" }
  - wait:
      for: { condition: { target: { kind: Node, workload: dev }, type: Ready, status: "True" } }
      timeout: 5m
"#;
    let (report, backend) = traced(&dev_cluster("dev-pause", steps));
    assert_passed(&report);
    assert!(trace_lines(&backend, "docker rm -f").is_empty());
}

/// main `dockermachine_backend.go: reconcileContainer`: a killed (exited) container after the
/// providerID is surfaced as ContainerProvisioned False/NotProvisioned, `Container <name> is not
/// running anymore`, and not re-created.
#[test]
fn dev_machine_killed_after_provisioning_is_reported() {
    let steps = r#"  - fault: { kind: container-kill, target: { cluster: dev, control-plane: false, index: 0, count: 1 } }
  - wait:
      for: { condition: { target: { kind: DevMachine, cluster: dev, match: any }, type: ContainerProvisioned, status: "False", reason: NotProvisioned } }
      timeout: 1m
  - sleep: 1m
  - expect:
      - containers: { cluster: dev, role: worker, state: exited, equals: 1 }
"#;
    let (report, backend) = traced(&dev_cluster("dev-kill", steps));
    assert_passed(&report);
    let dm =
        objects(&backend, Kind::DevMachine).into_iter().find(|d| cond(d, "ContainerProvisioned").unwrap()["status"] == "False").unwrap();
    let container = dm["metadata"]["name"].as_str().unwrap().to_string();
    let msg = cond(&dm, "ContainerProvisioned").unwrap()["message"].as_str().unwrap().to_string();
    assert!(msg.starts_with("Container ") && msg.ends_with(" is not running anymore"), "{msg}");
    assert!(msg.contains(container.split('-').next().unwrap()), "{msg}");
    assert!(trace_lines(&backend, "docker rm -f").is_empty());
}

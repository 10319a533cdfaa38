//! The kubeadm bootstrap provider (CABPK): `bootstrap/kubeadm/**/*_test.go`, and the e2e specs whose
//! flavors run commands in the node's cloud-init (`test/e2e/kcp_remediations.go`).

use super::{assert_passed, scenario};
use capi_sim::controllers::conditions::{self, Cond, Status};
use capi_sim::controllers::kubeadm_config::ready_summary;
use capi_sim::kinds::Kind;
use capi_sim::object::Object;
use capi_sim::world::bootstrap::{render, BootKind, BootstrapInput, BootstrapPlan};
use capi_sim::world::cloudinit::Step;
use rstest::rstest;
use serde_json::{json, Value};

fn rendered(kind: BootKind, spec: Value) -> (Value, BootstrapPlan) {
    let data = render(&BootstrapInput {
        kind,
        cluster: "c",
        version: "v1.34.3",
        endpoint: "172.18.0.2:6443",
        token: "abcdef.0123456789abcdef",
        taints: &[],
        spec: &spec,
    });
    assert!(data.starts_with("## template: jinja\n#cloud-config\n"), "{data}");
    (serde_yaml::from_str(&data).expect("cloud-config"), BootstrapPlan::parse(&data).expect("plan"))
}

/// `bootstrap/kubeadm/pkg/cloudinit/cloudinit_test.go: TestNewInitControlPlaneCommands`,
/// `TestNewJoinControlPlaneCommands`, `TestNewJoinNodeCommands`: `preKubeadmCommands` run before
/// the kubeadm command (with its success sentinel), `postKubeadmCommands` after it, in order.
#[rstest]
#[case::init(
    BootKind::Init,
    "kubeadm init --config /run/kubeadm/kubeadm.yaml  && echo success > /run/cluster-api/bootstrap-success.complete"
)]
#[case::join_control_plane(
    BootKind::JoinControlPlane,
    "kubeadm join --config /run/kubeadm/kubeadm-join-config.yaml  && echo success > /run/cluster-api/bootstrap-success.complete"
)]
#[case::join_node(
    BootKind::JoinWorker,
    "kubeadm join --config /run/kubeadm/kubeadm-join-config.yaml  && echo success > /run/cluster-api/bootstrap-success.complete"
)]
fn pre_and_post_commands_surround_kubeadm(#[case] kind: BootKind, #[case] kubeadm: &str) {
    let spec = json!({"preKubeadmCommands": ["pre-command", "another pre command"], "postKubeadmCommands": ["post-command", "another post command"]});
    let (cloud, plan) = rendered(kind, spec);
    assert_eq!(cloud["runcmd"], json!(["pre-command", "another pre command", kubeadm, "post-command", "another post command"]));
    assert_eq!(plan.kind, kind);
    assert_eq!(plan.steps.len(), 5);
    assert_eq!(plan.steps[2], Step::Kubeadm);
}

/// `cloudinit_test.go: TestNewInitControlPlaneAdditionalFileEncodings`,
/// `TestNewJoinControlPlaneAdditionalFileEncodings`: the config's `files` go into `write_files`
/// (with their owner, permissions and encoding) before kubeadm's own configuration file, which is
/// `/run/kubeadm/kubeadm.yaml` for init and `/run/kubeadm/kubeadm-join-config.yaml` for joins.
#[rstest]
#[case::init(BootKind::Init, "/run/kubeadm/kubeadm.yaml")]
#[case::join(BootKind::JoinControlPlane, "/run/kubeadm/kubeadm-join-config.yaml")]
fn files_are_written_before_kubeadm_config(#[case] kind: BootKind, #[case] config_path: &str) {
    let spec = json!({"files": [
        {"path": "/tmp/my-path", "encoding": "base64", "content": "aGk=", "permissions": "0644"},
        {"path": "/tmp/my-other-path", "content": "hi", "owner": "root:root"}
    ]});
    let (cloud, _) = rendered(kind, spec);
    let files = cloud["write_files"].as_array().expect("write_files");
    let paths: Vec<&str> = files.iter().map(|f| f["path"].as_str().unwrap()).collect();
    assert_eq!(paths, vec!["/tmp/my-path", "/tmp/my-other-path", config_path, "/run/cluster-api/placeholder"]);
    assert_eq!(files[0]["encoding"], "base64");
    assert_eq!(files[0]["permissions"], "0644");
    assert_eq!(files[1]["owner"], "root:root");
}

/// `kubeadmconfig_controller.go: Reconcile`'s `Ready` summary (restating
/// `kubeadmconfig_controller_test.go`'s v1beta2 condition expectations and
/// `util/conditions/summary_test.go`'s default merge): a missing `CertificatesAvailable` is
/// "Condition not yet reported", issues come with their messages, a True summary has no message.
#[rstest]
#[case::waiting_for_infrastructure(
    Some(Cond::f("DataSecretAvailable", "NotAvailable", "Waiting for Cluster status.infrastructureReady to be true")),
    None,
    Status::False,
    "NotReady",
    "* DataSecretAvailable: Waiting for Cluster status.infrastructureReady to be true\n* CertificatesAvailable: Condition not yet reported"
)]
#[case::certificates_internal_error(
    Some(Cond::f("DataSecretAvailable", "NotAvailable", "Waiting for Cluster control plane to be initialized")),
    Some(Cond::u("CertificatesAvailable", "InternalError", "Please check controller logs for errors")),
    Status::False,
    "NotReady",
    "* DataSecretAvailable: Waiting for Cluster control plane to be initialized\n* CertificatesAvailable: Please check controller logs for errors"
)]
#[case::unknown_only(
    None,
    Some(Cond::t("CertificatesAvailable", "Available")),
    Status::Unknown,
    "ReadyUnknown",
    "* DataSecretAvailable: Condition not yet reported"
)]
#[case::available(
    Some(Cond::t("DataSecretAvailable", "Available")),
    Some(Cond::t("CertificatesAvailable", "Available")),
    Status::True,
    "Ready",
    ""
)]
fn kubeadm_config_ready_summary(
    #[case] data: Option<Cond>,
    #[case] certs: Option<Cond>,
    #[case] status: Status,
    #[case] reason: &str,
    #[case] message: &str,
) {
    let mut o = Object::new(Kind::KubeadmConfig, "default", "cfg");
    conditions::set(&mut o, data.into_iter().chain(certs), 0);
    let c = ready_summary(&o);
    assert_eq!((c.status, c.reason.as_str(), c.message.as_str()), (status, reason, message));
}

/// A KCP-managed development cluster whose KubeadmConfigSpec carries `extra` (YAML at the indent of
/// `kubeadmConfigSpec`'s fields).
fn cluster_with_kcp(name: &str, extra: &str) -> String {
    format!(
        r#"
apiVersion: infrastructure.cluster.x-k8s.io/v1beta2
kind: DockerCluster
metadata: {{ name: {name}, namespace: default }}
spec: {{}}
---
apiVersion: cluster.x-k8s.io/v1beta2
kind: Cluster
metadata: {{ name: {name}, namespace: default }}
spec:
  clusterNetwork:
    pods: {{ cidrBlocks: ["192.168.0.0/16"] }}
    services: {{ cidrBlocks: ["10.128.0.0/12"] }}
  infrastructureRef: {{ apiGroup: infrastructure.cluster.x-k8s.io, kind: DockerCluster, name: {name} }}
  controlPlaneRef: {{ apiGroup: controlplane.cluster.x-k8s.io, kind: KubeadmControlPlane, name: {name}-control-plane }}
---
apiVersion: infrastructure.cluster.x-k8s.io/v1beta2
kind: DockerMachineTemplate
metadata: {{ name: {name}-control-plane, namespace: default }}
spec:
  template:
    spec: {{}}
---
apiVersion: controlplane.cluster.x-k8s.io/v1beta2
kind: KubeadmControlPlane
metadata: {{ name: {name}-control-plane, namespace: default }}
spec:
  replicas: 1
  version: v1.34.3
  machineTemplate:
    spec:
      infrastructureRef: {{ apiGroup: infrastructure.cluster.x-k8s.io, kind: DockerMachineTemplate, name: {name}-control-plane }}
  kubeadmConfigSpec:
    clusterConfiguration:
      apiServer:
        certSANs: [localhost]
{extra}
"#
    )
}

fn indent(manifest: &str) -> String {
    manifest.lines().map(|l| format!("        {l}")).collect::<Vec<_>>().join("\n")
}

/// `test/e2e/kcp_remediations.go` ("Wait for the cluster to get stuck with the first CP machine not
/// completing the bootstrap", `sendSignalToBootstrappingMachine`) with its flavor
/// `cluster-template-kcp-remediation`: a `preKubeadmCommands` script that polls the management
/// cluster's `mhc-test` ConfigMap blocks the bootstrap (the Machine gets no Node) until `signal` is
/// `pass`; the script then acknowledges with `ack-pass` and kubeadm runs.
#[test]
fn a_blocking_pre_kubeadm_command_holds_the_bootstrap_until_signalled() {
    let extra = r#"    files:
    - path: /wait-signal.sh
      permissions: "0777"
      content: |
        #!/bin/bash
        set -o errexit
        set -o pipefail
        echo "Waiting for signal..."
        TOKEN=$1
        SERVER=$2
        NAMESPACE=$3
        while true;
        do
          sleep 1s
          signal=$(curl -k -s --header "Authorization: Bearer $TOKEN" $SERVER/api/v1/namespaces/$NAMESPACE/configmaps/mhc-test | jq -r .data.signal?)
          echo "signal $signal"
          if [ "$signal" == "pass" ]; then
             curl -k -s --header "Authorization: Bearer $TOKEN" -XPATCH -H "Content-Type: application/strategic-merge-patch+json" --data '{"data": {"signal": "ack-pass"}}' $SERVER/api/v1/namespaces/$NAMESPACE/configmaps/mhc-test
             exit 0
          fi
        done
    preKubeadmCommands:
    - ./wait-signal.sh "token" "https://172.18.0.3:6443" "default""#;
    let yaml = format!(
        r#"
name: cabpk-wait-signal
vars: {{ CLUSTER_NAME: ws }}
steps:
  - apply:
      manifest: |
{}
  - apply:
      manifest: |
        apiVersion: v1
        kind: ConfigMap
        metadata: {{ name: mhc-test, namespace: default }}
        data: {{ signal: hold }}
  - wait: {{ for: {{ exists: {{ kind: Machine, cluster: ws, control-plane: true }} }}, timeout: 5m }}
  - sleep: 10m
  - expect: {{ count: {{ target: {{ kind: Machine, cluster: ws, where: {{ field: {{ path: status.nodeRef.name, exists: true }} }} }}, equals: 0 }} }}
  - expect: {{ field: {{ target: ConfigMap/mhc-test, path: data.signal, equals: hold }} }}
  - patch: {{ target: ConfigMap/mhc-test, type: merge, patch: {{ data: {{ signal: pass }} }} }}
  - wait: {{ for: {{ field: {{ target: ConfigMap/mhc-test, path: data.signal, equals: ack-pass }} }}, timeout: 1m }}
  - wait: {{ for: {{ field: {{ target: {{ kind: Machine, cluster: ws }}, path: status.nodeRef.name, exists: true }} }}, timeout: 15m }}
"#,
        indent(&cluster_with_kcp("ws", extra))
    );
    let (report, _) = scenario(&yaml);
    assert_passed(&report);
}

/// `test/infrastructure/docker/internal/docker/machine.go: ExecBootstrap` (release-1.13) runs the
/// cloud-init commands in order and stops at the first failing one: a failing `preKubeadmCommands`
/// entry fails the bootstrap before kubeadm runs, so the Machine never gets a Node and the
/// DockerMachine reports `BootstrapExecSucceeded` False.
#[test]
fn a_failing_pre_kubeadm_command_fails_the_bootstrap() {
    let extra = "    preKubeadmCommands:\n    - echo preparing\n    - exit 3";
    let yaml = format!(
        r#"
name: cabpk-failing-command
vars: {{ CLUSTER_NAME: fc }}
steps:
  - apply:
      manifest: |
{}
  - wait: {{ for: {{ condition: {{ target: {{ kind: DockerMachine, cluster: fc }}, type: BootstrapExecSucceeded, status: "False" }} }}, timeout: 15m }}
  - expect: {{ count: {{ target: {{ kind: Machine, cluster: fc, where: {{ field: {{ path: status.nodeRef.name, exists: true }} }} }}, equals: 0 }} }}
  - expect: {{ containers: {{ cluster: fc, role: control-plane, state: running, equals: 1 }} }}
"#,
        indent(&cluster_with_kcp("fc", extra))
    );
    let (report, backend) = scenario(&yaml);
    assert_passed(&report);
    // kubeadm never ran: the workload cluster was never initialized.
    let sim = backend.sim().expect("prepared");
    assert!(sim.world.workloads.get("fc").is_none_or(|w| !w.initialized));
}

/// `kubeadmconfig_controller_test.go` (the bootstrap data of a control plane Machine) with
/// `test/e2e` flavors' post commands: a `sleep` in `postKubeadmCommands` delays the end of the
/// bootstrap (CAPD's exec returns only when every command ran), kubeadm's effects come first.
#[test]
fn post_kubeadm_commands_run_after_kubeadm() {
    let extra = "    postKubeadmCommands:\n    - sleep 5m";
    let yaml = format!(
        r#"
name: cabpk-post-commands
vars: {{ CLUSTER_NAME: pc }}
steps:
  - apply:
      manifest: |
{}
  - wait: {{ for: {{ field: {{ target: {{ kind: Machine, cluster: pc }}, path: status.nodeRef.name, exists: true }} }}, timeout: 20m }}
  - expect: {{ condition: {{ target: {{ kind: DockerMachine, cluster: pc }}, type: BootstrapExecSucceeded, status: "True" }} }}
"#,
        indent(&cluster_with_kcp("pc", extra))
    );
    let (report, backend) = scenario(&yaml);
    assert_passed(&report);
    let sim = backend.sim().expect("prepared");
    let cfg = sim.mgmt[0].api.store.objects().of_kind(Kind::KubeadmConfig, None).next().expect("config").clone();
    let c = conditions::get(&cfg, "Ready").expect("Ready");
    assert_eq!((c.status, c.reason), (Status::True, "Ready"));
}

//! Node containers of infra machines: what to do with the container found for a machine (the
//! failure table), creating one (`docker run` of kindest/node with the cluster, role and failure
//! domain labels), the addresses CAPD reports, reading the bootstrap Secret, and the bootstrap
//! commands CAPD derives from cloud-init (for progress messages).
//! Sources: `internal/docker/machine.go` (`Create`, `Address`), `backends/docker/dockermachine_backend.go`
//! (`reconcileContainer`, `getBootstrapData`, `setMachineAddress`),
//! `internal/provisioning/cloudinit/{writefiles.go,runcmd.go}`.

use super::naming::{node_image, CLUSTER_LABEL, FAILURE_DOMAIN_LABEL, ROLE_LABEL};
use super::shape::Shape;
use crate::controllers::common::unb64;
use crate::kinds::Kind;
use crate::runtime::Ctx;
use crate::world::docker::{Container, Role};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// What the machine controller does with the container it found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContainerDecision {
    /// Running (or, in the v1.13 flow, existing) as expected: go on.
    Keep,
    /// None yet: create it.
    Create,
    /// Stopped before the machine got its providerID: delete it and create it again.
    Recreate,
    /// Gone or stopped after the providerID was set: report it, never re-create (MHC remediates).
    Lost,
}

/// The failure-table decision. `container` is `None` when no container matches the filters, else
/// whether it runs. The v1.13 flow (`Docker*`) only checks existence once the providerID is set;
/// the main flow (`Dev*`) checks that it runs.
pub fn decide(shape: Shape, provider_id_set: bool, container: Option<bool>) -> ContainerDecision {
    match (provider_id_set, container) {
        (true, Some(true)) => ContainerDecision::Keep,
        (true, Some(false)) if shape == Shape::Docker => ContainerDecision::Keep,
        (true, _) => ContainerDecision::Lost,
        (false, None) => ContainerDecision::Create,
        (false, Some(false)) => ContainerDecision::Recreate,
        (false, Some(true)) => ContainerDecision::Keep,
    }
}

/// What a node container is created from.
pub struct NodeSpec<'a> {
    /// Cluster name (the cluster label).
    pub cluster: &'a str,
    /// Container name.
    pub name: &'a str,
    /// Role label.
    pub role: Role,
    /// Kubernetes version (for the image).
    pub version: &'a str,
    /// `customImage` (empty: derived from the version).
    pub custom_image: &'a str,
    /// Failure domain (empty: none).
    pub failure_domain: &'a str,
    /// More labels (the pool label).
    pub extra_labels: &'a [(&'a str, &'a str)],
}

/// `docker run` of a node container (`Machine.Create`): image from `customImage` or the version,
/// labels cluster + role (+ failure domain, + extra labels), the create time spent by the worker.
pub fn create(ctx: &mut Ctx<'_>, spec: &NodeSpec<'_>) -> Result<(), String> {
    let image = node_image(spec.version, spec.custom_image)?;
    let mut labels =
        BTreeMap::from([(CLUSTER_LABEL.to_string(), spec.cluster.to_string()), (ROLE_LABEL.to_string(), spec.role.label().to_string())]);
    if !spec.failure_domain.is_empty() {
        labels.insert(FAILURE_DOMAIN_LABEL.to_string(), spec.failure_domain.to_string());
    }
    for (k, v) in spec.extra_labels {
        labels.insert(k.to_string(), v.to_string());
    }
    let r = ctx.world.timing.container_create_ms;
    let ms = ctx.world.draw(r);
    ctx.spend(ms);
    let now = ctx.now;
    ctx.world.run_node(spec.name, &image, labels, now).map_err(|e| e.to_string())
}

/// `docker rm -f` of a node container, with the time it takes.
pub fn remove(ctx: &mut Ctx<'_>, name: &str) -> Result<(), String> {
    let r = ctx.world.timing.container_remove_ms;
    let ms = ctx.world.draw(r);
    ctx.spend(ms);
    let now = ctx.now;
    ctx.world.remove_container(name, now).map_err(|e| e.to_string())
}

/// `status.addresses` of a machine: its hostname, then the container IP as internal and external IP.
pub fn addresses(c: &Container) -> Value {
    json!([
        {"type": "Hostname", "address": c.name},
        {"type": "InternalIP", "address": c.ip},
        {"type": "ExternalIP", "address": c.ip},
    ])
}

/// The decoded bootstrap data of a Secret (`value` key), as `getBootstrapData` reads it.
pub fn bootstrap_data(ctx: &Ctx<'_>, namespace: &str, secret: &str) -> Result<String, String> {
    let s = ctx
        .get_parts(Kind::Secret, namespace, secret)
        .ok_or_else(|| format!("failed to retrieve bootstrap data secret {secret}: secrets \"{secret}\" not found"))?;
    let value = s.str_at("/data/value").ok_or_else(|| "error retrieving bootstrap data: secret value key is missing".to_string())?;
    Ok(unb64(value))
}

/// The `docker exec` commands CAPD derives from cloud-init, as the descriptions its task reports:
/// per written file `mkdir`, `cat`, `chmod`, `chown`; per `runcmd` entry a shell command, with the
/// kubeadm call rewritten to drop the "started" sentinel and ignore some preflight errors.
pub fn bootstrap_commands(data: &str) -> Result<Vec<String>, String> {
    let cloud: Value = serde_yaml::from_str(data).map_err(|e| format!("failed to decode machine's bootstrap data: {e}"))?;
    let mut out = Vec::new();
    for f in cloud.get("write_files").and_then(Value::as_array).into_iter().flatten() {
        let path = f.get("path").and_then(Value::as_str).unwrap_or("");
        let dir = path.rsplit_once('/').map_or("/", |(d, _)| if d.is_empty() { "/" } else { d });
        out.push(format!("mkdir -p {dir}"));
        out.push(format!("/bin/sh -c cat > {path} /dev/stdin"));
        if let Some(p) = f.get("permissions").and_then(Value::as_str) {
            out.push(format!("chmod {p} {path}"));
        }
        if let Some(o) = f.get("owner").and_then(Value::as_str) {
            out.push(format!("chown {o} {path}"));
        }
    }
    const SENTINEL: &str = "echo started > /run/cluster-api/capd.bootstrap.started";
    const IGNORE: &str = "--ignore-preflight-errors=SystemVerification,Swap,FileContent--proc-sys-net-bridge-bridge-nf-call-iptables";
    for c in cloud.get("runcmd").and_then(Value::as_array).into_iter().flatten() {
        let line = match c {
            Value::String(s) => s.clone(),
            Value::Array(parts) => parts.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(" "),
            _ => continue,
        };
        let line = line.replacen("kubeadm init", &format!("{SENTINEL} && kubeadm init {IGNORE}"), 1).replacen(
            "kubeadm join",
            &format!("{SENTINEL} && kubeadm join {IGNORE}"),
            1,
        );
        out.push(format!("/bin/sh -c {line}"));
    }
    Ok(out)
}

/// How many bootstrap commands the data makes and the last of them: all the progress messages use.
/// Each reconcile of a bootstrapping machine asks again for the same data; the answer is remembered
/// by the data's XXH3-128 hash (as `memo` keys are) in a bounded per-thread table, so the cloud-init
/// YAML is parsed once per machine rather than once per reconcile. A pure function of the data, so
/// what it returns does not depend on what the table holds.
pub fn bootstrap_summary(data: &str) -> Result<(usize, String), String> {
    type Summary = Result<(usize, String), String>;
    thread_local! {
        static SEEN: std::cell::RefCell<crate::memo::Slots<Summary, 4096>> = const { std::cell::RefCell::new(crate::memo::Slots::new()) };
    }
    let key = xxhash_rust::xxh3::xxh3_128(data.as_bytes());
    if let Some(hit) = SEEN.with(|t| t.borrow().get(key).cloned()) {
        return hit;
    }
    let summary = bootstrap_commands(data).map(|c| (c.len(), c.last().cloned().unwrap_or_default()));
    SEEN.with(|t| t.borrow_mut().put(key, summary.clone()));
    summary
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::bootstrap::{render, BootKind, BootstrapInput};
    use rstest::rstest;

    #[rstest]
    // Main flow (DevMachine).
    #[case(Shape::Dev, false, None, ContainerDecision::Create)]
    #[case(Shape::Dev, false, Some(true), ContainerDecision::Keep)]
    #[case(Shape::Dev, false, Some(false), ContainerDecision::Recreate)]
    #[case(Shape::Dev, true, Some(true), ContainerDecision::Keep)]
    #[case(Shape::Dev, true, Some(false), ContainerDecision::Lost)]
    #[case(Shape::Dev, true, None, ContainerDecision::Lost)]
    // v1.13 flow (DockerMachine): after the providerID only existence counts.
    #[case(Shape::Docker, false, None, ContainerDecision::Create)]
    #[case(Shape::Docker, false, Some(false), ContainerDecision::Recreate)]
    #[case(Shape::Docker, true, Some(false), ContainerDecision::Keep)]
    #[case(Shape::Docker, true, None, ContainerDecision::Lost)]
    fn failure_table(#[case] shape: Shape, #[case] pid: bool, #[case] c: Option<bool>, #[case] want: ContainerDecision) {
        assert_eq!(decide(shape, pid, c), want);
    }

    #[test]
    fn commands_of_cabpk_data() {
        let data = render(&BootstrapInput {
            kind: BootKind::JoinWorker,
            cluster: "c1",
            version: "v1.34.3",
            endpoint: "172.18.0.2:6443",
            token: "t",
            taints: &[],
            spec: &json!({}),
        });
        let cmds = bootstrap_commands(&data).unwrap();
        assert_eq!(cmds.len(), 9, "{cmds:#?}");
        assert_eq!(cmds[0], "mkdir -p /run/kubeadm");
        let last = cmds.last().unwrap();
        assert!(
            last.contains("echo started > /run/cluster-api/capd.bootstrap.started && kubeadm join --ignore-preflight-errors="),
            "{last}"
        );
        assert!(bootstrap_commands("runcmd: [").is_err());
        // The remembered summary is the commands' count and last one, the first time and after.
        for _ in 0..2 {
            assert_eq!(bootstrap_summary(&data), Ok((9, last.clone())));
            assert!(bootstrap_summary("runcmd: [").is_err());
        }
        let empty = bootstrap_summary("#cloud-config\n").unwrap();
        assert_eq!(empty, (0, String::new()));
    }
}

//! The invariant rules. Each function documents the rule and its source.

use super::{Invariants, GC_BOUND_MS};
use crate::controllers::common::{keys, minor, ref_key};
use crate::controllers::conditions;
use crate::engine::Sim;
use crate::kinds::Kind;
use crate::object::{ObjKey, Object};
use crate::store::{Change, ChangeKind};
use capi_scenarios::predicate::KIND_CLUSTER_LABEL;
use serde_json::Value;

/// Deleted by `clusterctl move` (the object lives on in another management cluster).
fn moved(o: &Object) -> bool {
    o.meta.annotations.contains_key(keys::DELETE_FOR_MOVE)
}

fn deletion_started(ch: &Change) -> bool {
    ch.kind == ChangeKind::Modified && ch.object.deleting() && ch.old.as_ref().is_some_and(|o| !o.deleting())
}

/// `resourceVersion` is a strictly increasing counter per API server (Kubernetes API concepts,
/// "Resource versions"; clients rely on it to resume watches).
pub fn resource_version_monotonic(inv: &mut Invariants, sim: &Sim, m: usize, ch: &Change) {
    let rv = ch.object.meta.resource_version;
    let last = inv.last_rv.get(&m).copied().unwrap_or(0);
    if rv <= last {
        inv.violate(
            sim,
            "resource-version-monotonic",
            &format!("{m}/{rv}"),
            format!("resourceVersion {rv} of {} is not greater than the previous {last}", ch.object.key()),
        );
    }
    inv.last_rv.insert(m, rv.max(last));
}

/// Two Machines never share a providerID: it identifies one infrastructure machine
/// (`core/reconcilers/machine/machine_controller_noderef.go` errors on more than one match).
pub fn provider_ids_unique(inv: &mut Invariants, sim: &Sim, m: usize, ch: &Change) {
    let o = &ch.object;
    if o.kind != Kind::Machine {
        return;
    }
    let me = format!("{}/{}", o.namespace(), o.name());
    if let Some(old) = ch.old.as_ref().and_then(|x| x.str_at("/spec/providerID")) {
        if inv.provider_ids.get(&(m, old.to_string())) == Some(&me) {
            inv.provider_ids.remove(&(m, old.to_string()));
        }
    }
    if ch.kind == ChangeKind::Deleted {
        return;
    }
    if let Some(pid) = o.str_at("/spec/providerID") {
        match inv.provider_ids.get(&(m, pid.to_string())) {
            Some(other) if *other != me => {
                let msg = format!("Machines {other} and {me} both have providerID {pid}");
                inv.violate(sim, "provider-ids-unique", pid, msg);
            }
            _ => {
                inv.provider_ids.insert((m, pid.to_string()), me);
            }
        }
    }
}

fn kcp_component_healthy(m: &Object) -> bool {
    m.at("/status/nodeRef").is_some()
        && ["APIServerPodHealthy", "ControllerManagerPodHealthy", "SchedulerPodHealthy", "EtcdPodHealthy", "EtcdMemberHealthy"]
            .iter()
            .all(|t| conditions::is_true(m, t))
}

/// During a KCP rollout with maxSurge 1, KCP removes an outdated Machine only once its replacement is
/// up: after the deletion at least `spec.replicas` non-deleting control-plane Machines remain with a
/// Node and healthy components (`controlplane/kubeadm/reconcilers/kubeadmcontrolplane/{update.go,scale.go}`:
/// scale up to replicas+maxSurge first; `preflight.go`: every Machine healthy before scaling down).
pub fn kcp_rollout_keeps_healthy_machines(inv: &mut Invariants, sim: &Sim, m: usize, actor: &str, ch: &Change) {
    let o = &ch.object;
    if o.kind != Kind::Machine || !deletion_started(ch) || !actor.starts_with("kubeadm-control-plane/") {
        return;
    }
    let Some(kcp_name) = o.label(keys::CONTROL_PLANE_NAME) else { return };
    let store = &sim.mgmt[m].api.store;
    let Some(kcp) = store.get(&ObjKey::new(Kind::KubeadmControlPlane, o.namespace(), kcp_name)) else { return };
    if kcp.deleting() {
        return;
    }
    let surge = kcp.i64_at("/spec/rollout/strategy/rollingUpdate/maxSurge").unwrap_or(1);
    let version = kcp.str_at("/spec/version").unwrap_or("");
    let outdated = o.str_at("/spec/version").is_some_and(|v| v != version);
    // Remediation (the MHC marked it) and scale-down are not rollout deletions.
    let remediation = conditions::is_false(o, "HealthCheckSucceeded") || conditions::is_false(o, "OwnerRemediated");
    if surge != 1 || !outdated || remediation {
        return;
    }
    let replicas = kcp.i64_at("/spec/replicas").unwrap_or(1);
    let others: Vec<_> = store
        .objects()
        .in_cluster_ns(Kind::Machine, o.namespace(), o.label(keys::CLUSTER_NAME).unwrap_or(""))
        .filter(|x| x.label(keys::CONTROL_PLANE_NAME) == Some(kcp_name) && !x.deleting() && x.name() != o.name())
        .collect();
    let healthy = others.iter().filter(|x| kcp_component_healthy(x)).count() as i64;
    if healthy < replicas {
        let msg = format!(
            "KubeadmControlPlane {kcp_name} deleted outdated Machine {} during a maxSurge=1 rollout while only {healthy} of {replicas} other control-plane Machines were up (replacement not ready)",
            o.name()
        );
        inv.violate(sim, "kcp-rollout-replacement-ready", o.name(), msg);
    }
}

/// Resolve an int-or-percent against a total (`intstr.GetScaledValueFromIntOrPercent`).
fn scaled(v: Option<&Value>, total: i64, round_up: bool, default: i64) -> i64 {
    match v {
        Some(Value::Number(n)) => n.as_i64().unwrap_or(default),
        Some(Value::String(s)) => match s.strip_suffix('%').and_then(|p| p.trim().parse::<i64>().ok()) {
            Some(p) if round_up => (total * p + 99) / 100,
            Some(p) => total * p / 100,
            None => s.trim().parse().unwrap_or(default),
        },
        _ => default,
    }
}

/// A MachineDeployment's own actions keep it within `replicas + maxSurge` Machines and never take an
/// Available Machine away below `replicas − maxUnavailable` available
/// (`core/reconcilers/machinedeployment/machinedeployment_rollout_rollingupdate.go`, `mdutil/util.go`).
pub fn md_rollout_bounds(inv: &mut Invariants, sim: &Sim, m: usize, actor: &str, ch: &Change) {
    let o = &ch.object;
    if o.kind != Kind::Machine || actor != "capi/machineset" {
        return;
    }
    let Some(md_name) = o.label(keys::DEPLOYMENT_NAME) else { return };
    let store = &sim.mgmt[m].api.store;
    let Some(md) = store.get(&ObjKey::new(Kind::MachineDeployment, o.namespace(), md_name)) else { return };
    if md.deleting() || md.str_at("/spec/rollout/strategy/type") == Some("OnDelete") {
        return;
    }
    let replicas = md.i64_at("/spec/replicas").unwrap_or(1);
    let mut surge = scaled(md.at("/spec/rollout/strategy/rollingUpdate/maxSurge"), replicas, true, 1);
    let mut unavailable = scaled(md.at("/spec/rollout/strategy/rollingUpdate/maxUnavailable"), replicas, false, 0);
    if surge == 0 && unavailable == 0 {
        unavailable = 1;
    }
    unavailable = unavailable.min(replicas);
    surge = surge.max(0);
    let machines: Vec<_> = store
        .objects()
        .in_cluster_ns(Kind::Machine, o.namespace(), o.label(keys::CLUSTER_NAME).unwrap_or(""))
        .filter(|x| x.label(keys::DEPLOYMENT_NAME) == Some(md_name) && !x.deleting())
        .collect();
    if ch.kind == ChangeKind::Added && machines.len() as i64 > replicas + surge {
        let msg = format!("MachineDeployment {md_name} has {} Machines, more than replicas {replicas} + maxSurge {surge}", machines.len());
        inv.violate(sim, "md-max-surge", &format!("{md_name}@{}", sim.now() / 60_000), msg);
    }
    if deletion_started(ch) {
        let was_available = ch.old.as_ref().is_some_and(|x| conditions::is_true(x, "Available"));
        let remediation = conditions::is_false(o, "OwnerRemediated") || conditions::is_false(o, "HealthCheckSucceeded");
        let available = machines.iter().filter(|x| conditions::is_true(x, "Available")).count() as i64;
        // Scaling the MachineDeployment itself down removes available Machines on purpose.
        let scaling_down = (machines.len() as i64) >= replicas;
        if was_available && !remediation && !scaling_down && available < replicas - unavailable {
            let msg = format!(
                "MachineDeployment {md_name} removed available Machine {} leaving {available} available, below replicas {replicas} − maxUnavailable {unavailable}",
                o.name()
            );
            inv.violate(sim, "md-max-unavailable", o.name(), msg);
        }
    }
}

/// CAPD removes a machine's container before it lets its DockerMachine / DevMachine go (one container
/// per infrastructure machine, none without one): `reconcilers/backends/docker/dockermachine_backend.go`
/// `ReconcileDelete` deletes the container, then removes the finalizer.
pub fn no_container_outlives_its_machine(inv: &mut Invariants, sim: &Sim, ch: &Change) {
    let o = &ch.object;
    if !o.kind.is_infra_machine() || ch.kind != ChangeKind::Deleted || moved(o) {
        return;
    }
    let cluster = o.label(keys::CLUSTER_NAME).unwrap_or("");
    let name = if o.name().starts_with(cluster) { o.name().to_string() } else { format!("{cluster}-{}", o.name()) };
    if let Some(c) = sim.world.docker.get(&name) {
        if c.cluster() == Some(cluster) {
            inv.violate(
                sim,
                "container-per-infra-machine",
                &name,
                format!("{} {} is gone but its container {name} is still there", o.kind, o.name()),
            );
        }
    }
}

/// After a Cluster is deleted no container of it is left (the deletion cascade removes machines, then
/// the load balancer, before the Cluster's finalizer goes: `core/reconcilers/cluster/cluster_controller.go`
/// `reconcileDelete`).
pub fn no_container_leak_after_cluster_deletion(inv: &mut Invariants, sim: &Sim, ch: &Change) {
    let o = &ch.object;
    if o.kind != Kind::Cluster || ch.kind != ChangeKind::Deleted || moved(o) {
        return;
    }
    let left: Vec<String> = sim.world.docker.list(&[(KIND_CLUSTER_LABEL, o.name())]).iter().map(|c| c.name.clone()).collect();
    if !left.is_empty() {
        inv.violate(
            sim,
            "no-container-leak",
            o.name(),
            format!("Cluster {} is gone but its containers remain: {}", o.name(), left.join(", ")),
        );
    }
}

/// Track dependents of removed owners for the GC bound.
pub fn track_gc(inv: &mut Invariants, sim: &Sim, m: usize, ch: &Change) {
    if ch.kind != ChangeKind::Deleted {
        return;
    }
    let uid = ch.object.meta.uid.clone();
    let deps: Vec<_> = sim.mgmt[m].api.store.objects().owned_by(&uid).map(|d| d.meta.uid.clone()).collect();
    if !deps.is_empty() {
        let list = inv.gc_pending.entry(sim.now() + GC_BOUND_MS).or_default();
        list.extend(deps.into_iter().map(|d| (m, d, uid.clone())));
    }
}

/// No object outlives all its owners beyond garbage collection: within the bound, a dependent whose
/// owners are all gone is deleting or gone (kube-controller-manager garbage collector,
/// `attemptToDeleteItem`).
pub fn gc_deadlines(inv: &mut Invariants, sim: &Sim) {
    let now = sim.now();
    while let Some((&deadline, _)) = inv.gc_pending.first_key_value() {
        if deadline > now {
            break;
        }
        let (_, items) = inv.gc_pending.pop_first().expect("non-empty");
        for (m, dep, owner) in items {
            let store = &sim.mgmt[m].api.store;
            let Some(d) = store.objects().by_uid(&dep) else { continue };
            if d.deleting() || store.objects().by_uid(&owner).is_some() {
                continue;
            }
            let live_owner = d.meta.owner_references.iter().any(|r| store.objects().by_uid(&r.uid).is_some());
            if !live_owner {
                let key = d.key().to_string();
                inv.violate(sim, "gc-dependents", &key, format!("{key} outlived its owners by more than {}s", GC_BOUND_MS / 1000));
            }
        }
    }
}

/// At most one `kubeadm init` per cluster: the init lock (`bootstrap/kubeadm/pkg/locking/control_plane_init_mutex.go`)
/// exists because a second init creates a second, separate cluster.
pub fn single_kubeadm_init(inv: &mut Invariants, sim: &Sim, cluster: &str) {
    if let Some(w) = sim.world.workloads.get(cluster) {
        if w.inits > 1 {
            inv.violate(sim, "single-kubeadm-init", cluster, format!("kubeadm init ran {} times in cluster {cluster}", w.inits));
        }
    }
}

/// Kubernetes version skew policy (kubernetes.io/releases/version-skew-policy): kube-apiservers within
/// one minor of each other; a kubelet never newer than the oldest kube-apiserver and at most three
/// minors older than the newest. Control-plane nodes run kubelet and API server of the same version;
/// the rule applies to worker kubelets, which CAPI upgrades only after the control plane
/// (`exp/topology/desiredstate/desired_state.go`: MachineDeployments wait for a stable control plane).
pub fn version_skew(inv: &mut Invariants, sim: &Sim, cluster: &str) {
    let Some(w) = sim.world.workloads.get(cluster) else { return };
    let running = |n: &str| sim.world.container_running(n);
    let cp: Vec<u64> = w.nodes.values().filter(|n| n.control_plane && running(&n.name)).filter_map(|n| minor(&n.kubelet_version)).collect();
    let (Some(&lo), Some(&hi)) = (cp.iter().min(), cp.iter().max()) else { return };
    if hi > lo + 1 {
        inv.violate(
            sim,
            "version-skew",
            &format!("{cluster}/apiserver"),
            format!("kube-apiservers of {cluster} span minors 1.{lo}..1.{hi} (more than one minor)"),
        );
    }
    for n in w.nodes.values().filter(|n| !n.control_plane && running(&n.name)) {
        if let Some(k) = minor(&n.kubelet_version) {
            if k > lo {
                inv.violate(
                    sim,
                    "version-skew",
                    &n.name,
                    format!(
                        "kubelet {} on worker {} is newer than the oldest kube-apiserver 1.{lo} of {cluster}",
                        n.kubelet_version, n.name
                    ),
                );
            } else if k + 3 < hi {
                inv.violate(
                    sim,
                    "version-skew",
                    &n.name,
                    format!(
                        "kubelet {} on worker {} is more than three minors older than kube-apiserver 1.{hi}",
                        n.kubelet_version, n.name
                    ),
                );
            }
        }
    }
}

/// Controllers never take etcd below quorum of the desired members: KCP removes a member only when
/// the remaining ones keep quorum (`controlplane/kubeadm/reconcilers/kubeadmcontrolplane/{scale.go,remediation.go}`:
/// `targetEtcdClusterHealthy` / `canSafelyRemoveEtcdMember`).
pub fn etcd_quorum_kept(inv: &mut Invariants, sim: &Sim, r: &crate::world::EtcdRemoval) {
    let desired = sim
        .mgmt
        .iter()
        .flat_map(|m| m.api.store.objects().in_cluster(Kind::KubeadmControlPlane, &r.cluster))
        .find(|k| !k.deleting())
        .and_then(|k| k.i64_at("/spec/replicas"))
        .unwrap_or(r.total_after as i64 + 1) as usize;
    let quorum = desired / 2 + 1;
    if r.healthy_after < quorum.min(r.total_after.max(1)) && r.healthy_before >= quorum.min(r.total_after + 1) {
        inv.violate(
            sim,
            "etcd-quorum",
            &format!("{}/{}", r.cluster, r.member),
            format!(
                "removing etcd member {} of {} left {} healthy of {} members (quorum of {desired} desired is {quorum})",
                r.member, r.cluster, r.healthy_after, r.total_after
            ),
        );
    }
}

/// A contract reference is resolvable (helper for rules that need the owner).
#[allow(dead_code)]
fn resolve<'a>(sim: &'a Sim, m: usize, o: &Object, pointer: &str) -> Option<&'a std::sync::Arc<Object>> {
    let k = o.at(pointer).and_then(|r| ref_key(r, o.namespace()))?;
    sim.mgmt[m].api.store.get(&k)
}

//! The cluster load balancer: the `<cluster>-lb` HAProxy container found by labels, and its
//! configuration, whose backends are the control-plane containers found by labels (weight 100, or 0
//! for a control-plane machine whose Machine is deleting while other control-plane Machines exist).
//! The infra cluster controller creates the container; the infra machine controller rewrites the
//! configuration (CAPD has no auto-discovery of control-plane nodes).
//! Sources: `test/infrastructure/docker/internal/docker/loadbalancer.go` (`NewLoadBalancer`,
//! `UpdateConfiguration`), `reconcilers/backends/docker/dockermachine_backend.go`
//! (`reconcileLoadBalancerConfiguration`, `getUnsafeLoadBalancerConfigTemplate`).
//!
//! Simplification: the HAProxy configuration text is not rendered; the world keeps the backend list
//! (container name, weight), which is what decides where API traffic goes.

use super::lookup::{containers, is_control_plane};
use super::naming::{container_name, lb_container_name, lb_image, CLUSTER_LABEL, ROLE_LABEL};
use super::shape::Shape;
use crate::controllers::common::keys;
use crate::kinds::Kind;
use crate::object::Object;
use crate::runtime::Ctx;
use crate::world::docker::{Container, Role};
use std::collections::BTreeMap;

/// The load balancer container of a cluster, found by the cluster and role labels (running or not).
pub fn find(ctx: &Ctx<'_>, cluster: &str) -> Result<Option<Container>, String> {
    let mut found = containers(ctx.world, cluster, &[(ROLE_LABEL, Role::LoadBalancer.label())]);
    match found.len() {
        0 => Ok(None),
        1 => Ok(found.pop()),
        n => Err(format!("expected 0 or 1 container, got {n}")),
    }
}

/// `docker run` of the HAProxy container for a cluster (`CreateExternalLoadBalancerNode`); the
/// reconcile waits for it.
pub fn create(ctx: &mut Ctx<'_>, cluster: &str, infra_cluster: &Object, shape: Shape) -> Result<(), String> {
    let lb_spec = format!("{}/loadBalancer", shape.cluster_backend());
    let repo = infra_cluster.str_at(&format!("{lb_spec}/imageRepository")).unwrap_or("");
    let tag = infra_cluster.str_at(&format!("{lb_spec}/imageTag")).unwrap_or("");
    let image = lb_image(repo, tag);
    let labels = BTreeMap::from([
        (CLUSTER_LABEL.to_string(), cluster.to_string()),
        (ROLE_LABEL.to_string(), Role::LoadBalancer.label().to_string()),
    ]);
    let r = ctx.world.timing.lb_create_ms;
    let ms = ctx.world.draw(r);
    ctx.spend(ms);
    let now = ctx.now;
    ctx.world.run_lb(&lb_container_name(cluster), &image, labels, now).map_err(|e| e.to_string())
}

/// The backends CAPD writes: every control-plane container (by label, in name order), weight 100
/// unless its Machine is deleting and more than one control-plane Machine exists (then 0, so that
/// traffic drains before the node goes). `cp_machines` are (Machine name, deleting).
pub fn backend_weights(cluster: &str, cp_containers: &[String], cp_machines: &[(String, bool)]) -> Vec<(String, u32)> {
    let mut weights: BTreeMap<String, u32> = BTreeMap::new();
    for (m, deleting) in cp_machines {
        let w = if *deleting && cp_machines.len() > 1 { 0 } else { 100 };
        weights.insert(container_name(cluster, m), w);
    }
    let mut names: Vec<&String> = cp_containers.iter().collect();
    names.sort();
    names.into_iter().map(|n| (n.clone(), weights.get(n).copied().unwrap_or(100))).collect()
}

/// Rewrite the HAProxy configuration of a cluster from its control-plane Machines and containers
/// and reload it (`reconcileLoadBalancerConfiguration`).
pub fn reconfigure(ctx: &mut Ctx<'_>, cluster: &Object, infra_cluster: &Object, shape: Shape) -> Result<(), String> {
    let name = cluster.name().to_string();
    let ns = cluster.namespace().to_string();
    let cp_machines: Vec<(String, bool)> = ctx
        .cache
        .in_cluster_ns(Kind::Machine, &ns, &name)
        .filter(|m| is_control_plane(m) && m.label(keys::CLUSTER_NAME) == Some(name.as_str()))
        .map(|m| (m.name().to_string(), m.deleting()))
        .collect();
    // A custom HAProxy template must be readable even though the simulator does not render it.
    let tref = format!("{}/loadBalancer/customHAProxyConfigTemplateRef/name", shape.cluster_backend());
    if let Some(cm) = infra_cluster.str_at(&tref).filter(|n| !n.is_empty()) {
        let prefix = "failed to retrieve HAProxy configuration from CustomHAProxyConfigTemplateRef";
        let obj = ctx.get_parts(Kind::ConfigMap, &ns, cm).ok_or_else(|| {
            format!("{prefix}: failed to retrieve custom HAProxy configuration ConfigMap {ns}/{cm}: configmaps \"{cm}\" not found")
        })?;
        if obj.at("/data/value").is_none() {
            return Err(format!("{prefix}: expected key \"value\" to exist in ConfigMap {ns}/{cm}"));
        }
    }
    let prefix = "failed to update DockerCluster.loadbalancer configuration";
    let lb = find(ctx, &name)
        .map_err(|e| format!("{prefix}: {e}"))?
        .ok_or_else(|| format!("{prefix}: unable to configure load balancer: load balancer container does not exists"))?;
    // `UpdateConfiguration` writes the config with an exec, refused in a paused or stopped container.
    if let Some(refusal) = lb.exec_refusal() {
        return Err(format!("{prefix}: Error response from daemon: {refusal}"));
    }
    let cp_containers: Vec<String> =
        containers(ctx.world, &name, &[(ROLE_LABEL, Role::ControlPlane.label())]).into_iter().map(|c| c.name).collect();
    let backends = backend_weights(&name, &cp_containers, &cp_machines);
    let r = ctx.world.timing.lb_reload_ms;
    let ms = ctx.world.draw(r);
    ctx.spend(ms);
    ctx.world.set_lb_backends(&lb.name, backends).map_err(|e| format!("{prefix}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    fn m(v: &[(&str, bool)]) -> Vec<(String, bool)> {
        v.iter().map(|(n, d)| (n.to_string(), *d)).collect()
    }

    #[rstest]
    // One CP machine: full weight.
    #[case(&["c1-cp-a"], &[("c1-cp-a", false)], &[("c1-cp-a", 100)])]
    // The deleting machine of three drains.
    #[case(&["c1-cp-a", "c1-cp-b", "c1-cp-c"], &[("c1-cp-a", false), ("c1-cp-b", true), ("c1-cp-c", false)],
        &[("c1-cp-a", 100), ("c1-cp-b", 0), ("c1-cp-c", 100)])]
    // The last CP machine keeps its weight even while deleting.
    #[case(&["c1-cp-a"], &[("c1-cp-a", true)], &[("c1-cp-a", 100)])]
    // A container without a Machine (e.g. the Machine is already gone) keeps the default weight.
    #[case(&["c1-cp-b", "c1-cp-a"], &[("c1-cp-a", false)], &[("c1-cp-a", 100), ("c1-cp-b", 100)])]
    // Machines whose names do not start with the cluster name map to `<cluster>-<machine>`.
    #[case(&["c1-control-plane-x", "c1-control-plane-y"], &[("control-plane-x", true), ("control-plane-y", false)],
        &[("c1-control-plane-x", 0), ("c1-control-plane-y", 100)])]
    // A machine without a container yet is not a backend.
    #[case(&[], &[("c1-cp-a", false)], &[])]
    fn weights(#[case] containers: &[&str], #[case] machines: &[(&str, bool)], #[case] want: &[(&str, u32)]) {
        let want: Vec<(String, u32)> = want.iter().map(|(n, w)| (n.to_string(), *w)).collect();
        assert_eq!(backend_weights("c1", &s(containers), &m(machines)), want);
    }
}

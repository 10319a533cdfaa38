//! Lookups every CAPD controller makes the same way: owners (`util.GetOwnerCluster`,
//! `GetOwnerMachine`, `GetOwnerMachinePool`), the Cluster of a Machine (`GetClusterFromMetadata`),
//! the MachinePool of a pool-owned infra machine (`GetMachinePoolByLabels`), containers by label
//! filters, and the Cluster watch predicates. Sources: `util/util.go`, `util/labels/helpers.go`,
//! `util/predicates/cluster_predicates.go`, `test/infrastructure/docker/internal/docker/util.go`.

use super::naming::{label_value, CLUSTER_LABEL};
use crate::controllers::common::keys;
use crate::kinds::Kind;
use crate::object::Object;
use crate::objectset::ObjectSet;
use crate::runtime::Ctx;
use crate::store::{Change, ChangeKind};
use crate::world::docker::Container;
use crate::world::World;
use std::sync::Arc;

/// The CAPI API group owners must belong to.
const CAPI_GROUP: &str = "cluster.x-k8s.io";

fn owner_name<'o>(obj: &'o Object, kind: &str) -> Option<&'o str> {
    obj.meta.owner_references.iter().find(|r| r.kind == kind && Kind::group_of(&r.api_version) == CAPI_GROUP).map(|r| r.name.as_str())
}

/// An owner of a CAPI kind: `Ok(None)` without such an owner reference, an error when the
/// reference points at an object the cache does not have (the Get fails).
pub fn owner<'a>(ctx: &Ctx<'a>, obj: &Object, kind: Kind) -> Result<Option<&'a Arc<Object>>, String> {
    let Some(name) = owner_name(obj, kind.name()) else { return Ok(None) };
    match ctx.get_parts(kind, obj.namespace(), name) {
        Some(o) => Ok(Some(o)),
        None if kind == Kind::Cluster => {
            Err(format!("failed to get Cluster {}/{name}: clusters.cluster.x-k8s.io \"{name}\" not found", obj.namespace()))
        }
        None => Err(format!("{} \"{name}\" not found", crate::store::error::resource_name(kind))),
    }
}

/// The Cluster named by an object's cluster-name label (`GetClusterFromMetadata`).
pub fn cluster_from_metadata<'a>(ctx: &Ctx<'a>, obj: &Object) -> Result<&'a Arc<Object>, String> {
    let name =
        obj.label(keys::CLUSTER_NAME).filter(|n| !n.is_empty()).ok_or_else(|| format!("no \"{}\" label present", keys::CLUSTER_NAME))?;
    ctx.get_parts(Kind::Cluster, obj.namespace(), name)
        .ok_or_else(|| format!("failed to get Cluster {}/{name}: clusters.cluster.x-k8s.io \"{name}\" not found", obj.namespace()))
}

/// Whether an object belongs to a MachinePool (`labels.IsMachinePoolOwned`).
pub fn is_pool_owned(obj: &Object) -> bool {
    obj.label(keys::POOL_NAME).is_some() || obj.meta.owner_references.iter().any(|r| r.kind == "MachinePool")
}

/// The MachinePool named by an object's pool-name label (`GetMachinePoolByLabels`).
pub fn pool_by_labels<'a>(cache: &'a ObjectSet, obj: &Object) -> Result<Option<&'a Arc<Object>>, String> {
    let Some(hash) = obj.label(keys::POOL_NAME) else {
        return Err(format!("labels missing required key `{}`", keys::POOL_NAME));
    };
    let cluster = obj.label(keys::CLUSTER_NAME);
    Ok(cache
        .of_kind(Kind::MachinePool, Some(obj.namespace()))
        .filter(|mp| cluster.is_none_or(|c| mp.label(keys::CLUSTER_NAME) == Some(c)))
        .find(|mp| label_value(mp.name()) == hash))
}

/// Whether a Machine is a control-plane Machine.
pub fn is_control_plane(machine: &Object) -> bool {
    machine.label(keys::CONTROL_PLANE).is_some()
}

/// The containers of a cluster whose labels include `labels` (CAPD always filters by the cluster
/// label), in name order.
pub fn containers(world: &World, cluster: &str, labels: &[(&str, &str)]) -> Vec<Container> {
    let mut filter = vec![(CLUSTER_LABEL, cluster)];
    filter.extend_from_slice(labels);
    world.docker.list(&filter).into_iter().cloned().collect()
}

/// The one container of a cluster with an exact name (`getContainer`: 0 or 1, else an error).
pub fn container(world: &World, cluster: &str, name: &str) -> Result<Option<Container>, String> {
    let mut found: Vec<Container> =
        world.docker.list(&[(CLUSTER_LABEL, cluster)]).into_iter().filter(|c| c.name == name).cloned().collect();
    match found.len() {
        0 => Ok(None),
        1 => Ok(found.pop()),
        n => Err(format!("expected 0 or 1 container, got {n}")),
    }
}

/// `spec.paused` of a Cluster.
fn paused(c: &Object) -> bool {
    c.bool_at("/spec/paused")
}

/// `ClusterPausedTransitions`: an update that flips `spec.paused`.
pub fn paused_transition(change: &Change) -> bool {
    change.kind == ChangeKind::Modified && change.old.as_ref().is_some_and(|old| paused(old) != paused(&change.object))
}

/// `ClusterControlPlaneInitialized`: an update that turns the Cluster's `ControlPlaneInitialized`
/// condition true (`util/predicates/cluster_predicates.go`).
pub fn control_plane_initialized_transition(change: &Change) -> bool {
    let init = |o: &Object| crate::controllers::conditions::is_true(o, "ControlPlaneInitialized");
    change.kind == ChangeKind::Modified && change.old.as_ref().is_some_and(|old| !init(old) && init(&change.object))
}

/// `ClusterUpdateInfraProvisioned`: an update that turns `infrastructureProvisioned` true.
pub fn infra_provisioned_transition(change: &Change) -> bool {
    let p = |o: &Object| o.bool_at("/status/initialization/infrastructureProvisioned");
    change.kind == ChangeKind::Modified && change.old.as_ref().is_some_and(|old| !p(old) && p(&change.object))
}

/// `ClusterUnpausedAndInfrastructureProvisioned` (the v1.13 DockerMachinePool predicate): a create
/// of an unpaused, provisioned Cluster, or an update that unpauses it or provisions it.
pub fn unpaused_and_provisioned(change: &Change) -> bool {
    let p = |o: &Object| o.bool_at("/status/initialization/infrastructureProvisioned");
    match change.kind {
        ChangeKind::Added => !paused(&change.object) && p(&change.object),
        ChangeKind::Modified => {
            infra_provisioned_transition(change) || change.old.as_ref().is_some_and(|old| paused(old) && !paused(&change.object))
        }
        ChangeKind::Deleted => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cluster(paused: bool, provisioned: bool) -> Arc<Object> {
        let mut c = Object::new(Kind::Cluster, "default", "c1");
        c.set("/spec/paused", json!(paused));
        c.set("/status/initialization/infrastructureProvisioned", json!(provisioned));
        Arc::new(c)
    }

    fn change(kind: ChangeKind, old: Option<Arc<Object>>, new: Arc<Object>) -> Change {
        Change { kind, object: new, old }
    }

    #[test]
    fn cluster_predicates() {
        let a = cluster(false, false);
        let b = cluster(true, false);
        let c = cluster(false, true);
        assert!(paused_transition(&change(ChangeKind::Modified, Some(a.clone()), b.clone())));
        assert!(!paused_transition(&change(ChangeKind::Modified, Some(a.clone()), a.clone())));
        assert!(!paused_transition(&change(ChangeKind::Added, None, b.clone())));
        assert!(infra_provisioned_transition(&change(ChangeKind::Modified, Some(a.clone()), c.clone())));
        assert!(!infra_provisioned_transition(&change(ChangeKind::Modified, Some(c.clone()), c.clone())));
        assert!(unpaused_and_provisioned(&change(ChangeKind::Added, None, c.clone())));
        assert!(!unpaused_and_provisioned(&change(ChangeKind::Added, None, a.clone())));
        assert!(unpaused_and_provisioned(&change(ChangeKind::Modified, Some(b), a)));
    }
}

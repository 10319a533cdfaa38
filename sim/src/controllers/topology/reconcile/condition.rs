//! The topology controller's `TopologyReconciled` condition: paused, failed, deleting, class not
//! reconciled, upgrading (with the upgrade tracker's reason and message), or reconciled.
//! Source: `core/reconcilers/topology/cluster/status.go` (`reconcileTopologyReconciledCondition`).

use super::scope::Scope;
use crate::controllers::common::keys;
use crate::controllers::conditions::Cond;
use crate::controllers::topology::upgrade;
use crate::object::Object;

/// The `TopologyReconciled` condition type.
pub const TOPOLOGY_RECONCILED: &str = "TopologyReconciled";

/// `TopologyReconciled` as `reconcileTopologyReconciledCondition` computes it.
pub(super) fn topology_condition(cluster: &Object, s: &Scope, err: Option<&String>) -> Cond {
    let spec_paused = cluster.bool_at("/spec/paused");
    let annotated = cluster.meta.annotations.contains_key(keys::PAUSED);
    if spec_paused || annotated {
        let mut msgs = Vec::new();
        if spec_paused {
            msgs.push("Cluster spec.paused is set to true");
        }
        if annotated {
            msgs.push("Cluster has the cluster.x-k8s.io/paused annotation");
        }
        return Cond::f(TOPOLOGY_RECONCILED, "Paused", msgs.join(", "));
    }
    if let Some(e) = err {
        return Cond::f(TOPOLOGY_RECONCILED, "ReconcileFailed", e.clone());
    }
    if cluster.deleting() {
        return Cond::f(TOPOLOGY_RECONCILED, "Deleting", "Cluster is deleting");
    }
    if let Some(cc) = &s.class {
        if cc.meta.generation != cc.i64_at("/status/observedGeneration").unwrap_or(0) {
            return Cond::f(
                TOPOLOGY_RECONCILED,
                "ClusterClassNotReconciled",
                "ClusterClass not reconciled. If this condition persists please check ClusterClass status. A ClusterClass is reconciled if.status.observedGeneration == .metadata.generation is true. If this is not the case either ClusterClass reconciliation failed or the ClusterClass is paused",
            );
        }
    }
    let refs_set = |p: &str| cluster.str_at(p).is_some_and(|n| !n.is_empty());
    if !refs_set("/spec/infrastructureRef/name") && !refs_set("/spec/controlPlaneRef/name") {
        return Cond::t(TOPOLOGY_RECONCILED, "ReconcileSucceeded");
    }
    if upgrade::in_progress(&s.tracker) {
        let version = cluster.str_at("/spec/topology/version").unwrap_or("");
        let (reason, msg) = upgrade::upgrading_condition(&s.tracker, version, &s.desired_cp_version, &s.cp_kind);
        return Cond::f(TOPOLOGY_RECONCILED, &reason, msg);
    }
    Cond::t(TOPOLOGY_RECONCILED, "ReconcileSucceeded")
}

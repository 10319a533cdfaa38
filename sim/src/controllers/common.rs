//! What every CAPI controller does the same way: label and annotation keys, contract references,
//! finding the owning Cluster, the finalizer-then-paused gate, owner references, versions.
//! Sources: `api/core/v1beta2/common_types.go`, `util/finalizers/finalizers.go`,
//! `util/paused/paused.go`, `util/annotations/helpers.go`, `internal/contract/*.go`.

use super::conditions::{self, Cond, Status};
use crate::kinds::Kind;
use crate::object::{ObjKey, Object, OwnerRef};
use crate::runtime::{Action, Ctx, ReconcileError, ReconcileResult};
use serde_json::Value;
use std::sync::Arc;

/// Label and annotation keys.
pub mod keys {
    /// Cluster name on every cluster-owned object.
    pub const CLUSTER_NAME: &str = "cluster.x-k8s.io/cluster-name";
    /// Control-plane Machines.
    pub const CONTROL_PLANE: &str = "cluster.x-k8s.io/control-plane";
    /// KCP name on its Machines.
    pub const CONTROL_PLANE_NAME: &str = "cluster.x-k8s.io/control-plane-name";
    /// MachineSet name on its Machines.
    pub const SET_NAME: &str = "cluster.x-k8s.io/set-name";
    /// MachineDeployment name on its MachineSets and Machines.
    pub const DEPLOYMENT_NAME: &str = "cluster.x-k8s.io/deployment-name";
    /// MachinePool name on its Machines.
    pub const POOL_NAME: &str = "cluster.x-k8s.io/pool-name";
    /// MachineSet identity.
    pub const MACHINE_TEMPLATE_HASH: &str = "machine-template-hash";
    /// Pause one object.
    pub const PAUSED: &str = "cluster.x-k8s.io/paused";
    /// Prefer this Machine on scale-down.
    pub const DELETE_MACHINE: &str = "cluster.x-k8s.io/delete-machine";
    /// MHC opt-out.
    pub const SKIP_REMEDIATION: &str = "cluster.x-k8s.io/skip-remediation";
    /// Force remediation.
    pub const REMEDIATE_MACHINE: &str = "cluster.x-k8s.io/remediate-machine";
    /// Pre-drain hook prefix.
    pub const PRE_DRAIN_HOOK: &str = "pre-drain.delete.hook.machine.cluster.x-k8s.io";
    /// Pre-terminate hook prefix.
    pub const PRE_TERMINATE_HOOK: &str = "pre-terminate.delete.hook.machine.cluster.x-k8s.io";
    /// KCP's pre-terminate hook.
    pub const KCP_CLEANUP_HOOK: &str = "pre-terminate.delete.hook.machine.cluster.x-k8s.io/kcp-cleanup";
    /// Skip drain.
    pub const EXCLUDE_DRAIN: &str = "machine.cluster.x-k8s.io/exclude-node-draining";
    /// Object managed by the topology controller.
    pub const TOPOLOGY_OWNED: &str = "topology.cluster.x-k8s.io/owned";
    /// MD topology name.
    pub const TOPOLOGY_DEPLOYMENT_NAME: &str = "topology.cluster.x-k8s.io/deployment-name";
    /// MP topology name.
    pub const TOPOLOGY_POOL_NAME: &str = "topology.cluster.x-k8s.io/pool-name";
    /// Template the object was cloned from.
    pub const CLONED_FROM_NAME: &str = "cluster.x-k8s.io/cloned-from-name";
    /// Group-kind of the template the object was cloned from.
    pub const CLONED_FROM_GROUPKIND: &str = "cluster.x-k8s.io/cloned-from-groupkind";
    /// MachineSet revision.
    pub const REVISION: &str = "machinedeployment.clusters.x-k8s.io/revision";
    /// MachineSet desired replicas annotation.
    pub const DESIRED_REPLICAS: &str = "machinedeployment.clusters.x-k8s.io/desired-replicas";
    /// MachineSet max replicas annotation.
    pub const MAX_REPLICAS: &str = "machinedeployment.clusters.x-k8s.io/max-replicas";
    /// MachineSet creation gate.
    pub const DISABLE_MACHINE_CREATE: &str = "cluster.x-k8s.io/disable-machine-create";
    /// Node annotation pointing at its Machine.
    pub const NODE_MACHINE: &str = "cluster.x-k8s.io/machine";
    /// Node annotation with the Machine's namespace.
    pub const NODE_CLUSTER_NAMESPACE: &str = "cluster.x-k8s.io/cluster-namespace";
    /// Node annotation with the owner kind.
    pub const NODE_OWNER_KIND: &str = "cluster.x-k8s.io/owner-kind";
    /// Node annotation with the owner name.
    pub const NODE_OWNER_NAME: &str = "cluster.x-k8s.io/owner-name";
    /// clusterctl move: the object is being moved.
    pub const DELETE_FOR_MOVE: &str = "clusterctl.cluster.x-k8s.io/delete-for-move";
    /// clusterctl move: block the move while present.
    pub const BLOCK_MOVE: &str = "clusterctl.cluster.x-k8s.io/block-move";
}

/// The standard Paused condition type.
pub const PAUSED_CONDITION: &str = "Paused";

/// A contract reference (`{apiGroup, kind, name}` in v1beta2, `{apiVersion, kind, name}` in templates)
/// resolved in the referrer's namespace.
pub fn ref_key(r: &Value, namespace: &str) -> Option<ObjKey> {
    let kind = Kind::from_name(r.get("kind")?.as_str()?)?;
    let name = r.get("name")?.as_str()?;
    if name.is_empty() {
        return None;
    }
    Some(ObjKey::new(kind, namespace, name))
}

/// A v1beta2 contract reference to an object.
pub fn contract_ref(obj: &Object) -> Value {
    serde_json::json!({"apiGroup": obj.kind.info().group, "kind": obj.kind.name(), "name": obj.name()})
}

/// The Cluster name of an object: `spec.clusterName`, else the cluster-name label.
pub fn cluster_name(obj: &Object) -> Option<&str> {
    obj.str_at("/spec/clusterName").filter(|s| !s.is_empty()).or_else(|| obj.label(keys::CLUSTER_NAME))
}

/// The Cluster of an object, from the cache.
pub fn cluster_of<'a>(ctx: &Ctx<'a>, obj: &Object) -> Option<&'a Arc<Object>> {
    let name = cluster_name(obj)?;
    ctx.get_parts(Kind::Cluster, obj.namespace(), name)
}

/// Whether reconciliation of `obj` is paused: `Cluster.spec.paused` or the paused annotation.
pub fn is_paused(cluster: Option<&Object>, obj: &Object) -> bool {
    cluster.is_some_and(|c| c.bool_at("/spec/paused")) || obj.meta.annotations.contains_key(keys::PAUSED)
}

/// `util/paused/paused.go: pausedCondition`: True with the reasons it is paused (`Cluster
/// spec.paused is set to true`, `<Kind> has the cluster.x-k8s.io/paused annotation`), else False
/// `NotPaused`.
pub fn paused_condition(cluster: Option<&Object>, obj: &Object) -> Cond {
    let mut messages = Vec::new();
    if cluster.is_some_and(|c| c.bool_at("/spec/paused")) {
        messages.push("Cluster spec.paused is set to true".to_string());
    }
    if obj.meta.annotations.contains_key(keys::PAUSED) {
        messages.push(format!("{} has the cluster.x-k8s.io/paused annotation", obj.kind.name()));
    }
    if messages.is_empty() {
        Cond::f(PAUSED_CONDITION, "NotPaused", "")
    } else {
        Cond::new(PAUSED_CONDITION, Status::True, "Paused", messages.join(", "))
    }
}

/// CAPI's reconcile preamble: add the finalizer first (and return), then keep the `Paused` condition
/// up to date (returning when it changed or when paused). `Some(action)` means: stop with it.
pub fn preamble(
    ctx: &mut Ctx<'_>,
    obj: &Object,
    cluster: Option<&Object>,
    finalizer: Option<&str>,
) -> Result<Option<Action>, ReconcileError> {
    if let Some(f) = finalizer {
        if !obj.deleting() && !obj.has_finalizer(f) {
            ctx.add_finalizer(obj, f)?;
            return Ok(Some(Action::DONE));
        }
    }
    let paused = is_paused(cluster, obj);
    let want = paused_condition(cluster, obj);
    let current = conditions::get(obj, PAUSED_CONDITION);
    // `EnsurePausedCondition`: a change of status, reason or message is written (and ends the reconcile).
    let changed = current.as_ref().is_none_or(|c| c.status != want.status || c.reason != want.reason || c.message != want.message);
    if changed {
        let now = ctx.now;
        ctx.patch_status(&obj.key(), |o| conditions::set(o, [want], now))?;
        return Ok(Some(Action::DONE));
    }
    if paused {
        return Ok(Some(Action::DONE));
    }
    Ok(None)
}

/// Whether `obj` has an owner reference to `owner` (by uid).
pub fn has_owner(obj: &Object, owner: &Object) -> bool {
    obj.meta.owner_references.iter().any(|r| r.uid == owner.meta.uid)
}

/// Add (or fix) an owner reference in place; returns whether it changed.
pub fn set_owner(obj: &mut Object, owner: &Object, controller: bool) -> bool {
    let want = OwnerRef::to(owner, controller);
    match obj.meta.owner_references.iter_mut().find(|r| r.kind == want.kind && r.name == want.name) {
        Some(r) if *r == want => false,
        Some(r) => {
            *r = want;
            true
        }
        None => {
            obj.meta.owner_references.push(want);
            true
        }
    }
}

/// `(major, minor, patch)` of a Kubernetes version (`v1.34.3`, `1.34.3+k3s1`).
pub fn parse_version(v: &str) -> Option<semver::Version> {
    let t = v.trim().trim_start_matches('v');
    semver::Version::parse(t).ok().or_else(|| {
        // Tolerate `v1.34` by adding a patch.
        semver::Version::parse(&format!("{t}.0")).ok()
    })
}

/// Whether two versions differ (semver comparison, ignoring a leading `v`).
pub fn version_differs(a: &str, b: &str) -> bool {
    match (parse_version(a), parse_version(b)) {
        (Some(x), Some(y)) => x != y,
        _ => a != b,
    }
}

/// The minor of a version.
pub fn minor(v: &str) -> Option<u64> {
    parse_version(v).map(|s| s.minor)
}

/// Normalize a version to have a `v` prefix (webhooks do this).
pub fn with_v(v: &str) -> String {
    if v.starts_with('v') || v.is_empty() {
        v.to_string()
    } else {
        format!("v{v}")
    }
}

/// Status from a bool.
pub fn status(b: bool) -> Status {
    Status::from_bool(b)
}

/// Integer replicas at a pointer (default when absent).
pub fn replicas_at(obj: &Object, pointer: &str, default: i64) -> i64 {
    obj.i64_at(pointer).unwrap_or(default)
}

/// The age ordering CAPI uses when it says "oldest": creation time, then name.
pub fn older_first(a: &Object, b: &Object) -> std::cmp::Ordering {
    a.meta.creation_ms.cmp(&b.meta.creation_ms).then_with(|| a.name().cmp(b.name()))
}

/// Base64 of text, as Secrets carry data.
pub fn b64(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// Text of base64 data (lossy on invalid input).
pub fn unb64(data: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(data.trim()).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default()
}

/// `doReconcile`'s loop (`core/reconcilers/{cluster,machine}/*_controller.go`): every phase runs,
/// even after one failed; the reconcile answers the lowest requeue of the phases before the first
/// failure, or the failures together as `kerrors.NewAggregate` prints them (one alone, several as
/// `[a, b]`).
pub struct Phases {
    action: Action,
    errors: Vec<String>,
}

impl Default for Phases {
    fn default() -> Self {
        Phases { action: Action::DONE, errors: Vec::new() }
    }
}

impl Phases {
    /// Take one phase's result.
    pub fn run(&mut self, r: ReconcileResult) {
        match r {
            Ok(a) if self.errors.is_empty() => self.action = self.action.min(a),
            Ok(_) => {}
            Err(e) => self.errors.push(e.0),
        }
    }

    /// The reconcile's result.
    pub fn finish(mut self) -> ReconcileResult {
        match self.errors.len() {
            0 => Ok(self.action),
            1 => Err(ReconcileError(self.errors.remove(0))),
            _ => Err(ReconcileError(format!("[{}]", self.errors.join(", ")))),
        }
    }
}

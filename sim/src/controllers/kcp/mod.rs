//! The KubeadmControlPlane controller (manager `kubeadm-control-plane`): it owns the control-plane
//! Machines of a Cluster and drives them to `spec.replicas` at `spec.version`, one operation at a time.
//!
//! Per reconcile, as CAPI does: owner Cluster (wait for the ownerRef) → finalizer → Paused → scope
//! (owned Machines, adoption) → normal or delete phase → the status, always. The normal phase runs
//! in order: ownerRef on the infra machine template, wait for `infrastructureProvisioned`,
//! certificates, wait for a valid `controlPlaneEndpoint`, kubeconfig, `syncMachines`, Machine and KCP
//! conditions from the workload cluster, stray etcd members, the pre-terminate hook, remediation, rollout,
//! scaling. Afterwards it requeues every 20s while not initialized or while components are unhealthy.
//! Sources: `controlplane/kubeadm/reconcilers/kubeadmcontrolplane/kubeadmcontrolplane_controller.go` and
//! the files named in each module.
//!
//! Watches: KCP; owned Machines; the Cluster (pause transitions, infrastructure provisioned,
//! topology version changes); `Notice::Connection` for the workload cluster: like CAPI, KCP hears
//! of the workload cluster only through the ClusterCache's connect and probe-failure events and
//! otherwise relies on its 20s requeue and on Machine changes.
//! It also caches (without reacting to) Secrets, KubeadmConfigs, infrastructure machines and
//! templates, and MachinePools, which it reads.
//!
//! Simplifications: in-place updates (feature gate off by default), kube-proxy / CoreDNS
//! reconciliation and certificate rotation are not modelled; the certificate-expiry annotation is the
//! KubeadmConfig's creation time plus one year. CAPI v1.15's per-object rate limit of the reconciler
//! wrapper (one reconcile per second) belongs to the runtime and is not applied here; its consistency
//! check for KCP's own Machine writes is (see `consistency`).

pub mod aggregate;
pub mod certs;
pub mod consistency;
pub mod delete;
pub mod desired;
pub mod etcd;
pub mod health;
pub mod preflight;
pub mod remediation;
pub mod rollout;
pub mod scale;
pub mod scope;
pub mod selection;
pub mod status;
pub mod sync;
pub mod uptodate;
pub mod workload;

pub use aggregate::indent_if_multiline;
pub use scope::FINALIZER;

use crate::controllers::common::{self, keys, preamble};
use crate::controllers::conditions::{self, Cond, Status};
use crate::kinds::Kind;
use crate::object::{timestamp, ObjKey, Object, OwnerRef};
use crate::objectset::ObjectSet;
use crate::runtime::{map_controller_owner, Action, Ctx, ReconcileError, ReconcileResult, Reconciler};
use crate::store::{Change, ChangeKind};
use crate::world::Notice;
use consistency::ConsistencyStore;
use scope::{cond, ControlPlane, REMEDIATION_IN_PROGRESS};
use serde_json::{json, Value};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::Arc;

/// `deleteRequeueAfter`.
pub const DELETE_REQUEUE_MS: u64 = 30_000;
/// The field manager of KCP's server-side applies (`kcpManagerName`).
pub const MANAGER: &str = "capi-kubeadmcontrolplane";
/// The field manager of the labels and annotations KCP syncs to infrastructure machines and
/// KubeadmConfigs (`kcpMetadataManagerName`).
pub const METADATA_MANAGER: &str = "capi-kubeadmcontrolplane-metadata";
/// The requeue while not initialized or while components are unhealthy.
pub const HEALTH_REQUEUE_MS: u64 = 20_000;

/// The controllers of this module.
pub fn controllers() -> Vec<Box<dyn Reconciler>> {
    vec![Box::new(KcpReconciler::default())]
}

/// The KubeadmControlPlane controller. Its only memory is CAPI's consistency store: the Machine
/// writes the cache has to show before the next reconcile of the same KCP.
#[derive(Default)]
pub struct KcpReconciler {
    consistency: RefCell<ConsistencyStore>,
    config_matches: uptodate::ConfigMatchMemo,
}

const WATCHES: &[Kind] = &[
    Kind::Machine,
    Kind::Cluster,
    Kind::Secret,
    Kind::KubeadmConfig,
    Kind::DockerMachine,
    Kind::DevMachine,
    Kind::DockerMachineTemplate,
    Kind::DevMachineTemplate,
    Kind::MachinePool,
];

/// The KCP a Cluster points at.
fn kcp_of(cluster: &Object) -> Option<ObjKey> {
    let r = cluster.at("/spec/controlPlaneRef")?;
    if r.get("kind").and_then(Value::as_str) != Some("KubeadmControlPlane") {
        return None;
    }
    common::ref_key(r, cluster.namespace())
}

/// The Cluster update predicates KCP's watch uses: pause transitions, infrastructure becoming
/// provisioned, topology version changes (updates only).
fn cluster_change_matters(change: &Change) -> bool {
    let (Some(old), ChangeKind::Modified) = (&change.old, change.kind) else { return false };
    let new = &change.object;
    let paused = |c: &Object| c.bool_at("/spec/paused");
    let provisioned = |c: &Object| c.bool_at("/status/initialization/infrastructureProvisioned");
    let topo =
        |c: &Object| c.at("/spec/topology").filter(|t| !t.is_null()).map(|_| c.str_at("/spec/topology/version").unwrap_or("").to_string());
    paused(old) != paused(new) || (!provisioned(old) && provisioned(new)) || matches!((topo(old), topo(new)), (Some(a), Some(b)) if a != b)
}

impl Reconciler for KcpReconciler {
    fn name(&self) -> &'static str {
        "kubeadmcontrolplane"
    }
    fn kind(&self) -> Kind {
        Kind::KubeadmControlPlane
    }
    fn watches(&self) -> &[Kind] {
        WATCHES
    }
    fn map(&self, change: &Change, _cache: &ObjectSet, out: &mut Vec<ObjKey>) {
        match change.object.kind {
            Kind::Machine => map_controller_owner(change, Kind::KubeadmControlPlane, out),
            Kind::Cluster if cluster_change_matters(change) => out.extend(kcp_of(&change.object)),
            // Cached for reading only.
            _ => {}
        }
    }
    fn map_notice(&self, notice: &Notice, cache: &ObjectSet, out: &mut Vec<ObjKey>) {
        if let Notice::Connection(cluster) = notice {
            out.extend(cache.in_cluster(Kind::Cluster, cluster).filter_map(|c| kcp_of(c)));
        }
    }
    fn reconcile(&self, ctx: &mut Ctx<'_>, key: &ObjKey) -> ReconcileResult {
        let Some(kcp) = ctx.get(key).cloned() else {
            self.consistency.borrow_mut().clear(key);
            return Ok(Action::DONE);
        };
        let cache = ctx.cache;
        if !self.consistency.borrow_mut().ready(key, &kcp.meta.uid, cache, |k| ctx.live(k).is_some()) {
            ctx.note("Cache stale, reconciles are requeued until the cache is up-to-date");
            return Ok(Action::requeue(consistency::STALE_CACHE_REQUEUE_MS));
        }
        let owner = kcp.meta.owner_references.iter().find(|r| r.kind == "Cluster" && Kind::group_of(&r.api_version) == "cluster.x-k8s.io");
        let Some(owner) = owner else {
            ctx.note("Cluster Controller has not yet set OwnerRef");
            return Ok(Action::DONE);
        };
        let Some(cluster) = ctx.get_parts(Kind::Cluster, kcp.namespace(), &owner.name).cloned() else {
            return Err(ReconcileError(format!(
                "failed to retrieve owner Cluster: {}",
                crate::store::ApiError::not_found(Kind::Cluster, &owner.name).message
            )));
        };
        if let Some(stop) = preamble(ctx, &kcp, Some(&cluster), Some(FINALIZER))? {
            return Ok(stop);
        }
        let Some(mut cp) = init_scope(ctx, &kcp, cluster, &self.config_matches)? else { return Ok(Action::DONE) };
        let result = if kcp.deleting() { delete::reconcile(ctx, &mut cp) } else { reconcile_normal(ctx, &mut cp) };
        self.consistency.borrow_mut().wrote(key, &kcp.meta.uid, std::mem::take(&mut cp.wrote));
        if !cp.kcp.has_finalizer(FINALIZER) {
            self.consistency.borrow_mut().clear(key);
        }
        finish(ctx, &kcp, &mut cp, result.is_ok())?;
        let action = result?;
        if action == Action::DONE && !kcp.deleting() {
            let unhealthy = conditions::is_false(&cp.kcp, cond::COMPONENTS_HEALTHY);
            if !cp.initialized() || unhealthy {
                return Ok(Action::requeue(HEALTH_REQUEUE_MS));
            }
        }
        Ok(action)
    }
}

/// Whether `Cluster.spec.controlPlaneEndpoint` is valid (host and port set).
fn endpoint_valid(cluster: &Object) -> bool {
    cluster.str_at("/spec/controlPlaneEndpoint/host").is_some_and(|h| !h.is_empty())
        && cluster.i64_at("/spec/controlPlaneEndpoint/port").is_some_and(|p| p != 0)
}

/// `initControlPlaneScope`: `None` when Machines were adopted (the ownerRef patches bring the next reconcile).
fn init_scope(
    ctx: &mut Ctx<'_>,
    kcp: &Arc<Object>,
    cluster: Arc<Object>,
    memo: &uptodate::ConfigMatchMemo,
) -> Result<Option<ControlPlane>, ReconcileError> {
    let now = ctx.now;
    if !cluster.bool_at("/status/initialization/infrastructureProvisioned") || !endpoint_valid(&cluster) {
        return Ok(Some(ControlPlane::new(kcp, cluster, Vec::<Arc<Object>>::new(), BTreeMap::new(), BTreeMap::new(), None, now)));
    }
    let cache = ctx.cache;
    let ns = kcp.namespace();
    let cp_machines: Vec<&Arc<Object>> =
        cache.in_cluster_ns(Kind::Machine, ns, cluster.name()).filter(|m| m.label(keys::CONTROL_PLANE).is_some()).collect();
    let adoptable: Vec<&Arc<Object>> = cp_machines.iter().copied().filter(|m| m.controller_ref().is_none()).collect();
    if !kcp.deleting() && !adoptable.is_empty() {
        adopt(ctx, kcp, &adoptable)?;
        return Ok(None);
    }
    let owned: Vec<Arc<Object>> = cp_machines
        .iter()
        .filter(|m| m.controller_ref().is_some_and(|r| r.kind == "KubeadmControlPlane" && r.uid == kcp.meta.uid))
        .map(|m| Arc::clone(m))
        .collect();
    if !kcp.deleting() && owned.len() != cp_machines.len() {
        return Err(
            "not all control plane machines are owned by this KubeadmControlPlane, refusing to operate in mixed management mode".into()
        );
    }
    let mut infra = BTreeMap::new();
    let mut configs = BTreeMap::new();
    for m in &owned {
        if let Some(o) = m.at("/spec/infrastructureRef").and_then(|r| common::ref_key(r, ns)).and_then(|k| cache.get(&k)) {
            infra.insert(m.name().to_string(), o.clone());
        }
        let cfg = m.at("/spec/bootstrap/configRef").filter(|r| r.get("kind").and_then(Value::as_str) == Some("KubeadmConfig"));
        if let Some(o) = cfg.and_then(|r| common::ref_key(r, ns)).and_then(|k| cache.get(&k)) {
            configs.insert(m.name().to_string(), o.clone());
        }
    }
    Ok(Some(ControlPlane::new(kcp, cluster, owned, infra, configs, Some(memo), now)))
}

/// `adoptMachines`: stand-alone control-plane Machines of the Cluster become KCP's (version skew ±1
/// minor; bootstrap must be a KubeadmConfig), and with each the Secrets its KubeadmConfig owns
/// (`adoptOwnedSecrets`: the cluster certificates CABPK generated, not the bootstrap data).
fn adopt(ctx: &mut Ctx<'_>, kcp: &Arc<Object>, machines: &[&Arc<Object>]) -> Result<(), ReconcileError> {
    let Some(kv) = common::parse_version(kcp.str_at("/spec/version").unwrap_or("")) else {
        return Err(format!("failed to parse kubernetes version {:?}", kcp.str_at("/spec/version").unwrap_or("")).into());
    };
    for m in machines {
        if m.str_at("/spec/bootstrap/configRef/kind") != Some("KubeadmConfig") {
            // `%v` of the ContractVersionedObjectReference: its fields in declaration order.
            let r = |f: &str| m.str_at(&format!("/spec/bootstrap/configRef/{f}")).unwrap_or("").to_string();
            return Err(format!(
                "unable to adopt Machine {}/{}: expected a ConfigRef of kind KubeadmConfig but instead found {{{} {} {}}}",
                m.namespace(),
                m.name(),
                r("kind"),
                r("name"),
                r("apiGroup")
            )
            .into());
        }
        let Some(mv) = m.str_at("/spec/version").filter(|v| !v.is_empty()) else { continue };
        let Some(mv) = common::parse_version(mv) else { return Err(format!("failed to parse kubernetes version {mv:?}").into()) };
        if mv.major != kv.major || mv.minor.abs_diff(kv.minor) > 1 {
            // `adoptMachines`: `%q` of both versions.
            let msg = format!(
                "Could not adopt Machine {}/{}: its version ({:?}) is outside supported +/- one minor version skew from KCP's ({:?})",
                m.namespace(),
                m.name(),
                m.str_at("/spec/version").unwrap_or(""),
                kcp.str_at("/spec/version").unwrap_or("")
            );
            ctx.event_warning(kcp, "AdoptionFailed", msg);
            return Ok(());
        }
    }
    for m in machines {
        let cfg_name = m.str_at("/spec/bootstrap/configRef/name").unwrap_or("");
        let Some(cfg) = ctx.get_parts(Kind::KubeadmConfig, kcp.namespace(), cfg_name).cloned() else {
            return Err(format!("kubeadmconfigs.bootstrap.cluster.x-k8s.io {cfg_name:?} not found").into());
        };
        let cluster_name = m.str_at("/spec/clusterName").unwrap_or("").to_string();
        adopt_owned_secrets(ctx, kcp, &cfg, &cluster_name)?;
        let k = (**kcp).clone();
        ctx.patch(&m.key(), |o| {
            if o.controller_ref().is_none() {
                o.meta.owner_references.push(OwnerRef::to(&k, true));
            }
        })?;
    }
    Ok(())
}

/// `adoptOwnedSecrets`: the Secrets of the Cluster that the KubeadmConfig owns, except its
/// bootstrap data, are re-parented to the KubeadmControlPlane (`util.ReplaceOwnerRef`: the config's
/// reference, found by uid, becomes KCP's controller reference).
fn adopt_owned_secrets(ctx: &mut Ctx<'_>, kcp: &Object, cfg: &Object, cluster: &str) -> Result<(), ReconcileError> {
    let kcp_ref = OwnerRef::to(kcp, true);
    let owned_by_cfg = |r: &OwnerRef| {
        r.kind == "KubeadmConfig" && r.name == cfg.name() && r.api_version.split('/').next() == Some("bootstrap.cluster.x-k8s.io")
    };
    let data_secret = cfg.str_at("/status/dataSecretName").unwrap_or("");
    let secrets: Vec<ObjKey> = ctx
        .cache
        .in_cluster_ns(Kind::Secret, kcp.namespace(), cluster)
        .filter(|s| s.meta.owner_references.iter().any(owned_by_cfg) && s.name() != data_secret)
        .filter(|s| {
            // `HasExactOwnerRef`: apiVersion, kind, name and controller.
            !s.meta.owner_references.iter().any(|r| {
                r.api_version == kcp_ref.api_version
                    && r.kind == kcp_ref.kind
                    && r.name == kcp_ref.name
                    && r.controller == kcp_ref.controller
            })
        })
        .map(|s| s.key())
        .collect();
    for key in secrets {
        let (target, uid) = (kcp_ref.clone(), cfg.meta.uid.clone());
        ctx.patch(&key, |o| match o.meta.owner_references.iter_mut().find(|r| r.uid == uid) {
            Some(r) => *r = target,
            None => o.meta.owner_references.push(target),
        })
        .map_err(|e| {
            ReconcileError(format!(
                "error changing secret {} ownership from KubeadmConfig/{} to KubeadmControlPlane/{}: {}",
                key.name,
                cfg.name(),
                kcp.name(),
                e.message
            ))
        })?;
    }
    Ok(())
}

/// The normal reconcile.
fn reconcile_normal(ctx: &mut Ctx<'_>, cp: &mut ControlPlane) -> ReconcileResult {
    let now = ctx.now;
    certs::reconcile_template_owner(ctx, cp)?;
    if !cp.cluster.bool_at("/status/initialization/infrastructureProvisioned") {
        let msg = "Waiting for Cluster status.infrastructureReady to be true";
        conditions::set(
            &mut cp.kcp,
            [Cond::u(cond::ETCD_CLUSTER_HEALTHY, "InspectionFailed", msg), Cond::u(cond::COMPONENTS_HEALTHY, "InspectionFailed", msg)],
            now,
        );
        ctx.note("Cluster infrastructure is not ready yet");
        return Ok(Action::DONE);
    }
    certs::reconcile_certificates(ctx, cp)?;
    if !endpoint_valid(&cp.cluster) {
        let msg = "Waiting for Cluster spec.controlPlaneEndpoint to be set";
        conditions::set(
            &mut cp.kcp,
            [Cond::u(cond::ETCD_CLUSTER_HEALTHY, "InspectionFailed", msg), Cond::u(cond::COMPONENTS_HEALTHY, "InspectionFailed", msg)],
            now,
        );
        ctx.note("Cluster does not yet have a ControlPlaneEndpoint defined");
        return Ok(Action::DONE);
    }
    let a = certs::reconcile_kubeconfig(ctx, cp)?;
    if a != Action::DONE {
        return Ok(a);
    }
    if !sync::sync_machines(ctx, cp)? {
        return Ok(Action::DONE);
    }
    let cluster = cp.cluster_name().to_string();
    let view = workload::read(&*ctx.world, &cluster);
    let health = health::reconcile(cp, view.as_ref().map_err(String::as_str), now);
    patch_machines(ctx, cp)?;
    health.map_err(ReconcileError)?;
    if let Some(a) = etcd::reconcile_members(ctx, cp)? {
        return Ok(a);
    }
    if let Some(a) = etcd::reconcile_pre_terminate_hook(ctx, cp)? {
        return Ok(a);
    }
    if let Some(a) = remediation::reconcile(ctx, cp)? {
        return Ok(a);
    }
    let rollout: Vec<String> = cp.needing_rollout().iter().map(|m| m.name().to_string()).collect();
    if !rollout.is_empty() {
        ctx.note(format!("Machines need rollout: {}", rollout.join(",")));
        return rollout::update(ctx, cp);
    }
    let n = cp.machines.len() as i64;
    let desired = cp.desired_replicas();
    if n < desired && n == 0 {
        return scale::initialize(ctx, cp);
    }
    if n < desired {
        return scale::scale_up(ctx, cp);
    }
    if n > desired {
        let fds = cp.failure_domains();
        let all = cp.all();
        let victim = selection::select_for_scale_down(&fds, &all, &[], cp.etcd_managed()).map(|m| m.name().to_string());
        return scale::scale_down(ctx, cp, victim, false);
    }
    if let Err(e) = ctx.world.workload(&cluster) {
        ctx.note(format!("workload cluster {cluster}: {e}"));
        return Err(ReconcileError(workload::connection_error(cp.cluster.namespace(), &cluster)));
    }
    reconcile_certificate_expiries(ctx, cp)?;
    Ok(Action::DONE)
}

/// `reconcileCertificateExpiries`: annotate KubeadmConfigs of provisioned Machines with the API server
/// certificate expiry (simplified: the config's creation plus one year).
fn reconcile_certificate_expiries(ctx: &mut Ctx<'_>, cp: &ControlPlane) -> Result<(), ReconcileError> {
    if cp.machines.is_empty() || !cp.initialized() {
        return Ok(());
    }
    for m in cp.machines.iter().filter(|m| !m.deleting() && scope::has_node(m)) {
        let Some(cfg) = cp.configs.get(m.name()) else { continue };
        if cfg.annotation(scope::CERTIFICATES_EXPIRY).is_some() {
            continue;
        }
        let expiry = timestamp(cfg.meta.creation_ms + 365 * 86_400_000);
        match ctx.patch(&cfg.key(), |o| {
            o.meta.annotations.insert(scope::CERTIFICATES_EXPIRY.into(), expiry);
        }) {
            Ok(_) => {}
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(format!("failed to reconcile certificate expiry for Machine {}: {}", m.name(), e.message).into()),
        }
    }
    Ok(())
}

/// `PatchMachines`: write the Machine conditions KCP owns that this reconcile changed (merged by
/// type, so other writers keep theirs).
pub(crate) fn patch_machines(ctx: &mut Ctx<'_>, cp: &ControlPlane) -> Result<(), ReconcileError> {
    let now = ctx.now;
    for m in &cp.machines {
        let Some(original) = cp.originals.get(m.name()) else { continue };
        let conds = scope::changed_conditions(original, m, Some(scope::OWNED_MACHINE_CONDITIONS));
        if conds.is_empty() {
            continue;
        }
        match ctx.patch_status(&m.key(), |o| conditions::set(o, conds, now)) {
            Ok(_) => {}
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// The deferred part of every reconcile: compute the status and write it (and the remediation
/// annotation) back to the KCP. `observedGeneration` moves only after a successful reconcile.
fn finish(ctx: &mut Ctx<'_>, original: &Object, cp: &mut ControlPlane, ok: bool) -> Result<(), ReconcileError> {
    let now = ctx.now;
    let cluster = cp.cluster_name().to_string();
    let probe = if status::needs_init_probe(cp) { ctx.world.workload(&cluster).ok().map(|w| w.initialized) } else { None };
    status::update(cp, probe, now);
    if ok {
        let g = cp.kcp.meta.generation;
        cp.kcp.set("/status/observedGeneration", json!(g));
    }
    let key = original.key();
    let want = cp.kcp.annotation(REMEDIATION_IN_PROGRESS).map(str::to_string);
    if original.annotation(REMEDIATION_IN_PROGRESS) != want.as_deref() {
        match ctx.patch(&key, |o| match &want {
            Some(v) => {
                o.meta.annotations.insert(REMEDIATION_IN_PROGRESS.into(), v.clone());
            }
            None => {
                o.meta.annotations.remove(REMEDIATION_IN_PROGRESS);
            }
        }) {
            Ok(_) => {}
            Err(e) if e.is_not_found() => return Ok(()),
            Err(e) => return Err(format!("failed to patch KubeadmControlPlane: {}", e.message).into()),
        }
    }
    let mem = cp.kcp.clone();
    match ctx.patch_status(&key, |o| apply_status(o, original, &mem, now)) {
        Ok(_) => Ok(()),
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => Err(format!("failed to patch KubeadmControlPlane: {}", e.message).into()),
    }
}

/// The status fields KCP owns that this reconcile changed, copied from the in-memory KCP onto the
/// stored one (as CAPI's patch helper applies a diff, a stale read never rolls back newer fields).
fn apply_status(o: &mut Object, original: &Object, mem: &Object, now: u64) {
    for f in [
        "selector",
        "versions",
        "version",
        "replicas",
        "readyReplicas",
        "availableReplicas",
        "upToDateReplicas",
        "lastRemediation",
        "observedGeneration",
        "initialization",
    ] {
        let p = format!("/status/{f}");
        if mem.at(&p) == original.at(&p) {
            continue;
        }
        match mem.at(&p) {
            Some(v) => o.set(&p, v.clone()),
            None => {
                o.remove(&p);
            }
        }
    }
    let conds: Vec<Cond> =
        scope::changed_conditions(original, mem, None).into_iter().filter(|c| c.type_ != common::PAUSED_CONDITION).collect();
    conditions::set(o, conds, now);
}

/// Condition status helper for tests and callers outside the module.
pub fn condition_status(kcp: &Object, type_: &str) -> Option<Status> {
    conditions::get(kcp, type_).map(|c| c.status)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;
    use capi_scenarios::model::Propagation;

    const YAML: &str = r#"
apiVersion: cluster.x-k8s.io/v1beta2
kind: Cluster
metadata:
  name: c1
  namespace: default
spec:
  controlPlaneEndpoint:
    host: 172.18.0.2
    port: 6443
  controlPlaneRef:
    apiGroup: controlplane.cluster.x-k8s.io
    kind: KubeadmControlPlane
    name: c1-cp
---
apiVersion: infrastructure.cluster.x-k8s.io/v1beta2
kind: DockerMachineTemplate
metadata:
  name: c1-cp
  namespace: default
spec:
  template:
    spec:
      extraMounts: []
---
apiVersion: controlplane.cluster.x-k8s.io/v1beta2
kind: KubeadmControlPlane
metadata:
  name: c1-cp
  namespace: default
spec:
  replicas: 3
  version: v1.30.0
  machineTemplate:
    spec:
      infrastructureRef:
        apiGroup: infrastructure.cluster.x-k8s.io
        kind: DockerMachineTemplate
        name: c1-cp
  kubeadmConfigSpec:
    clusterConfiguration:
      apiServer:
        certSANs: [localhost]
    initConfiguration:
      nodeRegistration:
        kubeletExtraArgs:
        - name: eviction-hard
          value: nodefs.available<0%
    joinConfiguration:
      nodeRegistration:
        kubeletExtraArgs:
        - name: eviction-hard
          value: nodefs.available<0%
"#;

    #[test]
    fn first_machine_is_created_with_init_config_and_secrets() {
        let mut sim = testing::sim(7);
        testing::apply_yaml(&mut sim, YAML);
        let key = ObjKey::new(Kind::Cluster, "default", "c1");
        let patch = crate::store::api::Patch::Merge(json!({"status": {"initialization": {"infrastructureProvisioned": true}}}));
        sim.patch(0, &key, &patch, crate::store::Subresource::Status).expect("status patch");
        testing::run_for(&mut sim, 60_000);

        let kcp = testing::get(&sim, Kind::KubeadmControlPlane, "default", "c1-cp").expect("kcp");
        assert!(kcp.has_finalizer(FINALIZER));
        for p in ["ca", "etcd", "sa", "proxy", "kubeconfig"] {
            let s = testing::get(&sim, Kind::Secret, "default", &format!("c1-{p}")).unwrap_or_else(|| panic!("secret c1-{p}"));
            let c = s.controller_ref().expect("controller");
            assert_eq!((c.kind.as_str(), c.name.as_str()), ("KubeadmControlPlane", "c1-cp"));
        }
        assert_eq!(condition_status(&kcp, cond::CERTIFICATES_AVAILABLE), Some(Status::True));

        // Exactly one Machine: later ones wait for the first to get a Node (preflight).
        let machines: Vec<Arc<Object>> =
            testing::list(&sim, Kind::Machine).into_iter().filter(|m| m.label(keys::CONTROL_PLANE_NAME) == Some("c1-cp")).collect();
        assert_eq!(machines.len(), 1, "{:?}", machines.iter().map(|m| m.name().to_string()).collect::<Vec<_>>());
        let m = &machines[0];
        assert!(m.name().starts_with("c1-cp-") && m.name().len() == "c1-cp-".len() + 5);
        assert_eq!(m.str_at("/spec/version"), Some("v1.30.0"));
        assert_eq!(m.annotation(keys::KCP_CLEANUP_HOOK), Some(""));
        assert_eq!(m.label(keys::CLUSTER_NAME), Some("c1"));
        assert!(m.controller_ref().is_some_and(|r| r.kind == "KubeadmControlPlane" && r.name == "c1-cp"));
        assert_eq!(m.str_at("/spec/bootstrap/configRef/kind"), Some("KubeadmConfig"));
        assert_eq!(m.str_at("/spec/infrastructureRef/kind"), Some("DockerMachine"));

        let cfg = testing::get(&sim, Kind::KubeadmConfig, "default", m.name()).expect("KubeadmConfig");
        assert!(cfg.at("/spec/initConfiguration").is_some());
        assert!(cfg.at("/spec/joinConfiguration").is_none());
        assert_eq!(cfg.at("/spec/clusterConfiguration/apiServer/certSANs"), Some(&json!(["localhost"])));
        let dm = testing::get(&sim, Kind::DockerMachine, "default", m.name()).expect("DockerMachine");
        assert_eq!(dm.annotation(keys::CLONED_FROM_NAME), Some("c1-cp"));
        assert_eq!(dm.annotation(keys::CLONED_FROM_GROUPKIND), Some("DockerMachineTemplate.infrastructure.cluster.x-k8s.io"));

        // The template got an ownerRef to the Cluster; status reports the scale-up.
        let t = testing::get(&sim, Kind::DockerMachineTemplate, "default", "c1-cp").unwrap();
        assert!(t.meta.owner_references.iter().any(|r| r.kind == "Cluster" && r.name == "c1"));
        assert_eq!(kcp.str_at("/status/selector"), Some("cluster.x-k8s.io/cluster-name=c1,cluster.x-k8s.io/control-plane"));
        assert_eq!(kcp.i64_at("/status/replicas"), Some(1));
        assert_eq!(condition_status(&kcp, cond::SCALING_UP), Some(Status::True));
        assert_eq!(condition_status(&kcp, cond::INITIALIZED), Some(Status::False));
        assert_eq!(kcp.at("/status/versions"), Some(&json!([{"version": "v1.30.0", "replicas": 1}])));
    }

    #[test]
    fn deletion_removes_machines_then_the_finalizer() {
        let mut sim = testing::sim(11);
        testing::apply_yaml(&mut sim, YAML);
        let key = ObjKey::new(Kind::Cluster, "default", "c1");
        let patch = crate::store::api::Patch::Merge(json!({"status": {"initialization": {"infrastructureProvisioned": true}}}));
        sim.patch(0, &key, &patch, crate::store::Subresource::Status).expect("status patch");
        testing::run_for(&mut sim, 30_000);
        let cp_machines = |sim: &crate::Sim| -> Vec<Arc<Object>> {
            testing::list(sim, Kind::Machine).into_iter().filter(|m| m.label(keys::CONTROL_PLANE_NAME) == Some("c1-cp")).collect()
        };
        assert!(!cp_machines(&sim).is_empty());
        let kcp_key = ObjKey::new(Kind::KubeadmControlPlane, "default", "c1-cp");
        sim.delete(0, &kcp_key, Propagation::Background).expect("delete");
        testing::run_for(&mut sim, 5_000);
        // Every control-plane Machine is being deleted, without the kcp-cleanup hook; KCP waits for them.
        let kcp = testing::get(&sim, Kind::KubeadmControlPlane, "default", "c1-cp").expect("kcp waits for its Machines");
        assert_eq!(conditions::get(&kcp, cond::DELETING).map(|c| c.reason.to_string()).as_deref(), Some("WaitingForMachineDeletion"));
        for m in cp_machines(&sim) {
            assert!(m.deleting(), "{}", m.name());
            assert!(m.annotation(keys::KCP_CLEANUP_HOOK).is_none(), "{}", m.name());
        }
        // Once the Machines are gone (their finalizers stripped here, whatever the other controllers do),
        // KCP drops its finalizer on the next pass.
        for m in cp_machines(&sim) {
            let p = crate::store::api::Patch::Merge(json!({"metadata": {"finalizers": null}}));
            sim.patch(0, &m.key(), &p, crate::store::Subresource::Main).expect("strip finalizers");
        }
        testing::run_for(&mut sim, 60_000);
        assert!(cp_machines(&sim).is_empty());
        assert!(testing::get(&sim, Kind::KubeadmControlPlane, "default", "c1-cp").is_none());
    }
}

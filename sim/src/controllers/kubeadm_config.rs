//! The KubeadmConfig controller (CABPK): waits for its owner Machine (or MachinePool), the cluster
//! infrastructure and the control plane; takes the per-cluster init lock for the first control-plane
//! machine; writes the bootstrap data Secret (cloud-config with the config's `files`, its
//! `preKubeadmCommands`, `kubeadm init` or `kubeadm join`, its `postKubeadmCommands`); `Ready` is the
//! summary of `DataSecretAvailable` and `CertificatesAvailable` ([`ready_summary`]).
//! Source: `bootstrap/kubeadm/reconcilers/kubeadmconfig/kubeadmconfig_controller.go`,
//! `bootstrap/kubeadm/pkg/locking/control_plane_init_mutex.go`.
//!
//! Simplification: bootstrap tokens do not expire in the simulated workload clusters, so the token
//! refresh loop only requeues every 5 minutes (TTL/3) until the Machine has a Node, as CABPK does.
//! `files` with `contentFrom` (Secret references) are written without their content; users,
//! NTP, disk setup and mounts are not rendered.

use super::common::{self, keys, preamble};
use super::conditions::{self, Cond};
use crate::kinds::Kind;
use crate::object::Ptr;
use crate::object::{ObjKey, Object, OwnerRef};
use crate::objectset::ObjectSet;
use crate::runtime::{Action, Ctx, ReconcileError, ReconcileResult, Reconciler};
use crate::store::{Change, ChangeKind};
use crate::world::bootstrap::{render, BootKind, BootstrapInput};
use serde_json::{json, Value};
use std::sync::Arc;

/// Requeue while waiting for the control plane or the init lock.
pub const WAIT_MS: u64 = 30_000;
/// Requeue while the endpoint is not set.
pub const ENDPOINT_WAIT_MS: u64 = 10_000;
/// Bootstrap token TTL (15m) / 3: how often CABPK checks a token.
pub const TOKEN_CHECK_MS: u64 = 5 * 60 * 1000;

/// The controllers of this module.
pub fn controllers() -> Vec<Box<dyn Reconciler>> {
    vec![Box::new(KubeadmConfigReconciler)]
}

/// The KubeadmConfig controller.
pub struct KubeadmConfigReconciler;

// Secrets are watched only so that the manager caches them (the cluster certificates are read from
// the cache); their changes enqueue nothing.
const WATCHES: &[Kind] = &[Kind::Machine, Kind::MachinePool, Kind::Cluster, Kind::Secret];

/// `predicates.ClusterPausedTransitionsOrInfrastructureProvisioned` (CAPI `util/predicates`): a create
/// with `status.initialization.infrastructureProvisioned` true, an update that turns it true, or an
/// update that flips `spec.paused`.
fn cluster_event_passes(change: &Change) -> bool {
    match change.kind {
        ChangeKind::Added => change.object.bool_at("/status/initialization/infrastructureProvisioned"),
        ChangeKind::Modified => crate::capd::lookup::paused_transition(change) || crate::capd::lookup::infra_provisioned_transition(change),
        ChangeKind::Deleted => false,
    }
}

impl Reconciler for KubeadmConfigReconciler {
    fn name(&self) -> &'static str {
        "kubeadmconfig"
    }
    fn kind(&self) -> Kind {
        Kind::KubeadmConfig
    }
    fn watches(&self) -> &[Kind] {
        WATCHES
    }
    fn map(&self, change: &Change, cache: &ObjectSet, out: &mut Vec<ObjKey>) {
        let o = &change.object;
        match o.kind {
            Kind::Machine => {
                if let Some(k) = o.at("/spec/bootstrap/configRef").and_then(|r| common::ref_key(r, o.namespace())) {
                    out.push(k);
                }
            }
            Kind::MachinePool => {
                if let Some(k) = o.at("/spec/template/spec/bootstrap/configRef").and_then(|r| common::ref_key(r, o.namespace())) {
                    out.push(k);
                }
            }
            Kind::Secret => {}
            _ => {
                // `ClusterToKubeadmConfigs` behind `ClusterPausedTransitionsOrInfrastructureProvisioned`:
                // only a Cluster created with its infrastructure provisioned, an update that provisions
                // it, or a pause transition reaches the configs. (CABPK also maps the ClusterCache's
                // connection events to them; that source is not modelled: a config waiting for the
                // control plane requeues every 30 s, as CABPK's does, and its Machine's updates reach it.)
                if !cluster_event_passes(change) {
                    return;
                }
                for m in cache.in_cluster_ns(Kind::Machine, o.namespace(), o.name()) {
                    if let Some(k) = m.at("/spec/bootstrap/configRef").and_then(|r| common::ref_key(r, m.namespace())) {
                        out.push(k);
                    }
                }
                out.extend(cache.in_cluster_ns(Kind::KubeadmConfig, o.namespace(), o.name()).map(|c| c.key()));
            }
        }
    }
    fn reconcile(&self, ctx: &mut Ctx<'_>, key: &ObjKey) -> ReconcileResult {
        let Some(config) = ctx.get(key).cloned() else { return Ok(Action::DONE) };
        // The owner: a Machine or a MachinePool (not yet when only the MachineSet / KCP owns it).
        let Some(owner) = config_owner(ctx, &config) else {
            ctx.note("waiting for a Machine or MachinePool owner");
            return Ok(Action::DONE);
        };
        let Some(cluster_name) = common::cluster_name(&owner).map(str::to_string) else {
            return Err("the owner has no cluster name".into());
        };
        let Some(cluster) = ctx.get_parts(Kind::Cluster, config.namespace(), &cluster_name).cloned() else {
            return Err(ReconcileError(format!("failed to get Cluster {}/{cluster_name}", config.namespace())));
        };
        if let Some(stop) = preamble(ctx, &config, Some(&cluster), None)? {
            return Ok(stop);
        }
        if config.deleting() {
            return Ok(Action::DONE);
        }
        let now = ctx.now;
        if !cluster.bool_at("/status/initialization/infrastructureProvisioned") {
            set_conditions(
                ctx,
                &config,
                // `kubeadmconfig_controller.go: reconcile` (the message still names the v1beta1 field).
                Some(Cond::f("DataSecretAvailable", "NotAvailable", "Waiting for Cluster status.infrastructureReady to be true")),
                None,
            )?;
            return Ok(Action::DONE);
        }
        // The owner already has data: mirror it.
        if let Some(secret) =
            owner.str_at("/spec/bootstrap/dataSecretName").or_else(|| owner.str_at("/spec/template/spec/bootstrap/dataSecretName"))
        {
            if config.str_at("/status/dataSecretName") != Some(secret) {
                let s = secret.to_string();
                ctx.patch_status(key, |o| {
                    o.set("/status/dataSecretName", json!(s));
                    o.set("/status/initialization/dataSecretCreated", json!(true));
                    conditions::set(o, [Cond::t("DataSecretAvailable", "Available"), Cond::t("CertificatesAvailable", "Available")], now);
                    let ready = ready_summary(o);
                    conditions::set(o, [ready], now);
                })?;
            }
            return Ok(Action::DONE);
        }
        if config.bool_at("/status/initialization/dataSecretCreated") {
            // Keep the join token alive until the Machine has a Node.
            if owner.kind == Kind::Machine && owner.at("/status/nodeRef").is_none() {
                return Ok(Action::requeue(TOKEN_CHECK_MS));
            }
            return Ok(Action::DONE);
        }
        let is_cp = owner.kind == Kind::Machine && owner.label(keys::CONTROL_PLANE).is_some();
        if !conditions::is_true(&cluster, "ControlPlaneInitialized") {
            if conditions::get(&config, "DataSecretAvailable").is_none() {
                set_conditions(
                    ctx,
                    &config,
                    Some(Cond::f("DataSecretAvailable", "NotAvailable", "Waiting for Cluster control plane to be initialized")),
                    None,
                )?;
            }
            if !is_cp {
                return Ok(Action::requeue(WAIT_MS));
            }
            if !take_init_lock(ctx, &cluster, &owner)? {
                return Ok(Action::requeue(WAIT_MS));
            }
            return match write_data(ctx, &config, &cluster, &owner, BootKind::Init) {
                Ok(a) => Ok(a),
                Err(e) => {
                    // On error the lock is released so that another machine can try.
                    release_init_lock(ctx, &cluster)?;
                    Err(e)
                }
            };
        }
        // A join: release the init lock first.
        release_init_lock(ctx, &cluster)?;
        let kind = if is_cp { BootKind::JoinControlPlane } else { BootKind::JoinWorker };
        write_data(ctx, &config, &cluster, &owner, kind)
    }
}

/// The Machine or MachinePool among the owner references.
fn config_owner(ctx: &Ctx<'_>, config: &Object) -> Option<Arc<Object>> {
    config.meta.owner_references.iter().find_map(|r: &OwnerRef| match r.kind.as_str() {
        "Machine" => ctx.get_parts(Kind::Machine, config.namespace(), &r.name).cloned(),
        "MachinePool" => ctx.get_parts(Kind::MachinePool, config.namespace(), &r.name).cloned(),
        _ => None,
    })
}

fn set_conditions(ctx: &mut Ctx<'_>, config: &Object, data: Option<Cond>, certs: Option<Cond>) -> Result<(), ReconcileError> {
    let now = ctx.now;
    let mut list: Vec<Cond> = data.into_iter().collect();
    list.extend(certs);
    ctx.patch_status(&config.key(), |o| {
        conditions::set(o, list, now);
        let ready = ready_summary(o);
        conditions::set(o, [ready], now);
    })?;
    Ok(())
}

/// The `Ready` summary of `DataSecretAvailable` and `CertificatesAvailable`, in that order
/// (`kubeadmconfig_controller.go: Reconcile`'s deferred `SetSummaryCondition` with the default merge
/// strategy, `util/conditions/merge_strategies.go: summaryMessage`): a missing condition counts as
/// Unknown "Condition not yet reported"; any False → False `NotReady`, else any Unknown → Unknown
/// `ReadyUnknown`, else True `Ready`; the message lists `* Type: message` (the reason when there is
/// no message) of the conditions that are not True, or, when True, of those with a message.
pub fn ready_summary(o: &Object) -> Cond {
    let mut items: Vec<(conditions::Status, bool, String)> = Vec::new();
    for t in ["DataSecretAvailable", "CertificatesAvailable"] {
        match conditions::get(o, t) {
            Some(c) if c.message.is_empty() => items.push((c.status, false, format!("* {t}: {}", c.reason))),
            Some(c) => items.push((c.status, true, format!("* {t}:{}", crate::controllers::kcp::indent_if_multiline(c.message)))),
            None => items.push((conditions::Status::Unknown, true, format!("* {t}: Condition not yet reported"))),
        }
    }
    use conditions::Status;
    let status = if items.iter().any(|(s, _, _)| *s == Status::False) {
        Status::False
    } else if items.iter().any(|(s, _, _)| *s == Status::Unknown) {
        Status::Unknown
    } else {
        Status::True
    };
    let lines: Vec<String> = items
        .iter()
        .filter(|(s, has_message, _)| *s != Status::True || (status == Status::True && *has_message))
        .map(|(_, _, text)| text.clone())
        .collect();
    let reason = match status {
        Status::False => "NotReady",
        Status::Unknown => "ReadyUnknown",
        Status::True => "Ready",
    };
    Cond::new("Ready", status, reason, lines.join("\n"))
}

/// The init lock: ConfigMap `<cluster>-lock` with `lock-information` = `{"machineName": ...}`,
/// created with Create (AlreadyExists = lost). A lock whose holder Machine is gone is deleted.
fn take_init_lock(ctx: &mut Ctx<'_>, cluster: &Object, machine: &Object) -> Result<bool, ReconcileError> {
    let name = format!("{}-lock", cluster.name());
    let key = ObjKey::new(Kind::ConfigMap, cluster.namespace(), &name);
    // The mutex reads the ConfigMap with an uncached client.
    if let Some(lock) = ctx.live(&key) {
        let holder = lock
            .str_at("/data/lock-information")
            .and_then(|t| serde_json::from_str::<Value>(t).ok())
            .and_then(|v| v.get("machineName").and_then(Value::as_str).map(str::to_string))
            .unwrap_or_default();
        if holder == machine.name() {
            return Ok(true);
        }
        if ctx.live(&ObjKey::new(Kind::Machine, cluster.namespace(), &holder)).is_none() {
            ctx.note(format!("init lock held by {holder}, which no longer exists: releasing it"));
            let _ = ctx.delete(&key);
        } else {
            ctx.note(format!("init lock held by {holder}"));
        }
        return Ok(false);
    }
    let mut cm = Object::new(Kind::ConfigMap, cluster.namespace(), &name);
    cm.meta.labels.insert(keys::CLUSTER_NAME.into(), cluster.name().to_string());
    common::set_owner(&mut cm, cluster, false);
    cm.set("/data/lock-information", json!(json!({"machineName": machine.name()}).to_string()));
    match ctx.create(cm) {
        Ok(_) => {
            ctx.note(format!("init lock taken by {}", machine.name()));
            Ok(true)
        }
        Err(e) if e.is_already_exists() => Ok(false),
        Err(e) => Err(e.into()),
    }
}

fn release_init_lock(ctx: &mut Ctx<'_>, cluster: &Object) -> Result<(), ReconcileError> {
    let key = ObjKey::new(Kind::ConfigMap, cluster.namespace(), &format!("{}-lock", cluster.name()));
    if ctx.live(&key).is_some() {
        match ctx.delete(&key) {
            Ok(_) => {}
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Generate the bootstrap data and store it (Secret named like the config, then the status).
fn write_data(ctx: &mut Ctx<'_>, config: &Arc<Object>, cluster: &Object, owner: &Object, kind: BootKind) -> ReconcileResult {
    let ns = cluster.namespace();
    let cname = cluster.name();
    // Certificates: KCP generates them; without a control plane provider CABPK does
    // (`handleClusterNotInitialized`: `LookupOrGenerateCached` owned by the config, else
    // `LookupCached`).
    let ca = ObjKey::new(Kind::Secret, ns, &format!("{cname}-ca"));
    if ctx.get(&ca).is_none() {
        if cluster.at("/spec/controlPlaneRef").is_some() {
            set_conditions(
                ctx,
                config,
                // `certificates.LookupCached` failed: only CertificatesAvailable changes.
                None,
                Some(Cond::u("CertificatesAvailable", "InternalError", "Please check controller logs for errors")),
            )?;
            return Err(ReconcileError(format!("failed to look up the cluster certificates: secret {cname}-ca not found")));
        }
        for suffix in ["ca", "etcd", "sa", "proxy"] {
            let mut s = Object::new(Kind::Secret, ns, &format!("{cname}-{suffix}"));
            s.meta.labels.insert(keys::CLUSTER_NAME.into(), cname.to_string());
            // `Certificate.AsSecret` with `metav1.NewControllerRef(config)`: the generated
            // certificates belong to the KubeadmConfig (KCP takes them over when it adopts).
            common::set_owner(&mut s, config, true);
            s.set("/type", json!("cluster.x-k8s.io/secret"));
            s.set("/data/tls.crt", json!(common::b64("<certificate>")));
            s.set("/data/tls.key", json!(common::b64("<key>")));
            match ctx.create(s) {
                Ok(_) => {}
                Err(e) if e.is_already_exists() => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    let host = cluster.str_at("/spec/controlPlaneEndpoint/host").unwrap_or("");
    let port = cluster.i64_at("/spec/controlPlaneEndpoint/port").unwrap_or(0);
    if host.is_empty() || port == 0 {
        return Ok(Action::requeue(ENDPOINT_WAIT_MS));
    }
    let endpoint = format!("{host}:{port}");
    let version = owner.str_at("/spec/version").or_else(|| owner.str_at("/spec/template/spec/version")).unwrap_or("").to_string();
    let spec = config.at("/spec").cloned().unwrap_or(json!({}));
    let mut taints: Vec<(String, String)> = spec
        .ptr("/joinConfiguration/nodeRegistration/taints")
        .and_then(Value::as_array)
        .map(|ts| {
            ts.iter()
                .filter_map(|t| {
                    Some((t.get("key")?.as_str()?.to_string(), t.get("effect").and_then(Value::as_str).unwrap_or("NoSchedule").to_string()))
                })
                .collect()
        })
        .unwrap_or_default();
    let token = if kind == BootKind::Init {
        String::new()
    } else {
        // The join's bootstrap token is created in the workload cluster.
        match ctx.world.create_bootstrap_token(cname) {
            Ok(t) => t,
            Err(e) => return Err(ReconcileError(format!("failed to create a bootstrap token: {e}"))),
        }
    };
    if kind == BootKind::JoinWorker && !taints.iter().any(|(k, _)| k == "node.cluster.x-k8s.io/uninitialized") {
        // CABPK adds this taint to worker joins; the Machine controller removes it once the Node is set up.
        taints.push(("node.cluster.x-k8s.io/uninitialized".into(), "NoSchedule".into()));
    }
    let data = render(&BootstrapInput {
        kind,
        cluster: cname,
        version: &version,
        endpoint: &endpoint,
        token: &token,
        taints: &taints,
        spec: &spec,
    });
    let name = config.name().to_string();
    let mut secret = Object::new(Kind::Secret, ns, &name);
    secret.meta.labels.insert(keys::CLUSTER_NAME.into(), cname.to_string());
    common::set_owner(&mut secret, config, true);
    secret.set("/type", json!("cluster.x-k8s.io/secret"));
    secret.set("/data/value", json!(common::b64(&data)));
    secret.set("/data/format", json!(common::b64("cloud-config")));
    match ctx.create(secret.clone()) {
        Ok(_) => {}
        Err(e) if e.is_already_exists() => {
            ctx.patch(&secret.key(), |o| o.body = secret.body.clone())?;
        }
        Err(e) => return Err(e.into()),
    }
    let now = ctx.now;
    ctx.patch_status(&config.key(), |o| {
        o.set("/status/dataSecretName", json!(name));
        o.set("/status/initialization/dataSecretCreated", json!(true));
        conditions::set(o, [Cond::t("DataSecretAvailable", "Available"), Cond::t("CertificatesAvailable", "Available")], now);
        let ready = ready_summary(o);
        conditions::set(o, [ready], now);
        let g = o.meta.generation;
        o.set("/status/observedGeneration", json!(g));
    })?;
    ctx.note(format!("bootstrap data ({kind:?}) written for {}", config.name()));
    Ok(Action::requeue(TOKEN_CHECK_MS))
}

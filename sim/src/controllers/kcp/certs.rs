//! The Secrets KCP owns and the machine-template ownership it fixes before anything else: the
//! cluster certificate authorities (`<cluster>-ca`, `-etcd`, `-sa`, `-proxy`, generated before the
//! control plane is initialized and only looked up afterwards, surfaced as `CertificatesAvailable`),
//! and the admin kubeconfig `<cluster>-kubeconfig`.
//! Sources: `controlplane/kubeadm/reconcilers/kubeadmcontrolplane/kubeadmcontrolplane_controller.go`
//! (`reconcileClusterCertificates`, `ensureCertificatesOwnerRef`), `helpers.go` (`reconcileKubeconfig`,
//! `adoptKubeconfigSecret`, `reconcileExternalReference`), `util/secret/certificates.go`.
//!
//! Simplifications: certificate data is a placeholder (no crypto); with external etcd the `-etcd`
//! Secret is neither generated nor required; kubeconfig client-certificate rotation is not modelled.

use super::scope::{cond, ControlPlane};
use crate::controllers::cluster::kubeconfig_secret;
use crate::controllers::common::{self, keys};
use crate::controllers::conditions::{self, Cond};
use crate::kinds::Kind;
use crate::object::{ObjKey, Object, OwnerRef};
use crate::runtime::{Action, Ctx, ReconcileError};
use serde_json::json;
use std::sync::Arc;

/// Secret type of CAPI-generated Secrets.
pub const CLUSTER_SECRET_TYPE: &str = "cluster.x-k8s.io/secret";
/// `dependentCertRequeueAfter`.
pub const DEPENDENT_CERT_REQUEUE_MS: u64 = 30_000;

/// The certificate purposes (Secret name suffixes) KCP needs.
pub fn purposes(etcd_managed: bool) -> Vec<&'static str> {
    if etcd_managed {
        vec!["ca", "etcd", "sa", "proxy"]
    } else {
        vec!["ca", "sa", "proxy"]
    }
}

/// A generated certificate Secret.
pub fn cert_secret(cluster: &Object, kcp: &Object, purpose: &str, now: u64) -> Object {
    let name = format!("{}-{purpose}", cluster.name());
    let mut s = Object::new(Kind::Secret, cluster.namespace(), &name);
    s.meta.labels.insert(keys::CLUSTER_NAME.into(), cluster.name().to_string());
    s.meta.owner_references.push(OwnerRef::to(kcp, true));
    s.set("/type", json!(CLUSTER_SECRET_TYPE));
    let pem = format!("-----BEGIN CERTIFICATE-----\n{purpose} CA of {} issued at {now}\n-----END CERTIFICATE-----\n", cluster.name());
    s.set("/data/tls.crt", json!(common::b64(&pem)));
    s.set("/data/tls.key", json!(common::b64(&format!("-----BEGIN RSA PRIVATE KEY-----\n{purpose}\n-----END RSA PRIVATE KEY-----\n"))));
    s
}

/// `reconcileExternalReference`: the infrastructure machine template gets a (non-controller) ownerRef
/// to the Cluster. A missing template is an error (and is remembered for the ScalingUp message).
pub fn reconcile_template_owner(ctx: &mut Ctx<'_>, cp: &mut ControlPlane) -> Result<(), ReconcileError> {
    let Some(r) = cp.kcp.at("/spec/machineTemplate/spec/infrastructureRef").cloned() else { return Ok(()) };
    let kind = r.get("kind").and_then(|k| k.as_str()).unwrap_or("");
    if !kind.ends_with("Template") {
        return Ok(());
    }
    let Some(key) = common::ref_key(&r, cp.kcp.namespace()) else {
        return Err(format!("failed to get {kind}: the reference is incomplete").into());
    };
    let Some(t) = ctx.get(&key).cloned() else {
        cp.template_not_found = true;
        return Err(ReconcileError(format!(
            "failed to get {kind} {}/{}: {}",
            key.ns,
            key.name,
            crate::store::ApiError::not_found(key.kind, &key.name).message
        )));
    };
    let cluster = cp.cluster.clone();
    let has = t.meta.owner_references.iter().any(|o| o.kind == "Cluster" && o.name == cluster.name() && o.uid == cluster.meta.uid);
    if !has {
        ctx.patch(&key, |o| {
            let mut r = OwnerRef::to(&cluster, false);
            r.block_owner_deletion = false;
            o.meta.owner_references.retain(|x| !(x.kind == "Cluster" && x.name == cluster.name()));
            o.meta.owner_references.push(r);
        })?;
    }
    Ok(())
}

/// `reconcileClusterCertificates`.
pub fn reconcile_certificates(ctx: &mut Ctx<'_>, cp: &mut ControlPlane) -> Result<(), ReconcileError> {
    let now = ctx.now;
    let ns = cp.cluster.namespace().to_string();
    let cluster = cp.cluster.clone();
    let initialized = conditions::is_true(&cp.kcp, cond::INITIALIZED);
    let mut found: Vec<Arc<Object>> = Vec::new();
    let mut missing = Vec::new();
    for p in purposes(cp.etcd_managed()) {
        let name = format!("{}-{p}", cluster.name());
        let key = ObjKey::new(Kind::Secret, &ns, &name);
        if let Some(s) = ctx.get(&key) {
            found.push(s.clone());
            continue;
        }
        if initialized {
            // After init KCP only looks certificates up: regenerating a CA would break the cluster.
            if let Some(s) = ctx.live(&key) {
                found.push(s);
            } else {
                missing.push(p);
            }
            continue;
        }
        match ctx.create(cert_secret(&cluster, &cp.kcp, p, now)) {
            Ok(s) => found.push(s),
            Err(e) if e.is_already_exists() => {
                if let Some(s) = ctx.live(&key) {
                    found.push(s);
                }
            }
            Err(e) => {
                conditions::set(
                    &mut cp.kcp,
                    [Cond::u(cond::CERTIFICATES_AVAILABLE, "InternalError", "Please check controller logs for errors")],
                    now,
                );
                return Err(ReconcileError(format!("error in look up or create cluster certificates: {}", e.message)));
            }
        }
    }
    if !missing.is_empty() {
        let msg = if missing.len() == 1 {
            format!("Cluster certificate for {} is not available, please check cluster certificate secrets", missing[0])
        } else {
            format!("Cluster certificates for {} are not available, please check cluster certificate secrets", missing.join(", "))
        };
        conditions::set(&mut cp.kcp, [Cond::f(cond::CERTIFICATES_AVAILABLE, "NotAvailable", msg)], now);
        return Ok(());
    }
    // ensureCertificatesOwnerRef: KCP becomes the controller of CAPI-typed certificate Secrets.
    for s in &found {
        let kcp = cp.kcp.clone();
        let fix = move |o: &mut Object| {
            let controller = o.controller_ref().cloned();
            if controller.as_ref().is_some_and(|c| c.kind == "KubeadmControlPlane") {
                common::set_owner(o, &kcp, true);
            }
            if o.str_at("/type") == Some(CLUSTER_SECRET_TYPE) {
                let want = OwnerRef::to(&kcp, true);
                if !o.meta.owner_references.contains(&want) {
                    o.meta.owner_references.retain(|r| !r.controller);
                    common::set_owner(o, &kcp, true);
                }
            }
        };
        let mut probe = (**s).clone();
        fix(&mut probe);
        if probe.meta.owner_references == s.meta.owner_references {
            continue;
        }
        ctx.patch(&s.key(), fix).map_err(|e| {
            ReconcileError(format!("error in ensuring cluster certificates ownership: failed to set ownerReference: {}", e.message))
        })?;
    }
    conditions::set(&mut cp.kcp, [Cond::t(cond::CERTIFICATES_AVAILABLE, "Available")], now);
    Ok(())
}

/// `reconcileKubeconfig`: create `<cluster>-kubeconfig` (controller ownerRef KCP) or adopt it.
pub fn reconcile_kubeconfig(ctx: &mut Ctx<'_>, cp: &ControlPlane) -> Result<Action, ReconcileError> {
    let cluster = cp.cluster.clone();
    let ns = cluster.namespace().to_string();
    let key = ObjKey::new(Kind::Secret, &ns, &format!("{}-kubeconfig", cluster.name()));
    let Some(existing) = ctx.get(&key).cloned() else {
        if ctx.get_parts(Kind::Secret, &ns, &format!("{}-ca", cluster.name())).is_none() {
            return Ok(Action::requeue(DEPENDENT_CERT_REQUEUE_MS));
        }
        return match ctx.create(kubeconfig_secret(&cluster, Some(&cp.kcp))) {
            Ok(_) => Ok(Action::DONE),
            Err(e) if e.is_already_exists() => Ok(Action::DONE),
            Err(e) => Err(ReconcileError(e.message)),
        };
    };
    if existing.str_at("/type") != Some(CLUSTER_SECRET_TYPE) {
        return Ok(Action::DONE);
    }
    let want = OwnerRef::to(&cp.kcp, true);
    if existing.meta.owner_references.contains(&want) {
        return Ok(Action::DONE);
    }
    let kcp = cp.kcp.clone();
    ctx.patch(&key, |o| {
        o.meta.owner_references.retain(|r| !r.controller);
        common::set_owner(o, &kcp, true);
    })
    .map_err(|e| ReconcileError(format!("failed to patch kubeadm config secret: {}", e.message)))?;
    Ok(Action::DONE)
}

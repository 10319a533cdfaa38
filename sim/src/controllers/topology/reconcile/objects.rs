//! One object the topology controller writes: create it (with `TopologyCreate` and CAPI's error
//! wording, generated names kept out), patch the desired fields in (`TopologyUpdate`), rotate a
//! template whose spec changed, and create, update or delete a MachineHealthCheck.
//! Source: `core/reconcilers/topology/cluster/reconcile_state.go` (`reconcileReferencedObject`,
//! `reconcileReferencedTemplate`, `reconcileMachineHealthCheck`, `createErrorWithoutObjectName`).

use super::apply::{applied, patch_applied};
use crate::controllers::topology::desired;
use crate::kinds::Kind;
use crate::object::Object;
use crate::runtime::Ctx;
use crate::store::error::qualified_kind;
use crate::store::ApiError;
use std::sync::Arc;

/// `r.recorder.Eventf(obj, Normal, reason, ...)` (reconcile_state.go: `TopologyCreate`,
/// `TopologyUpdate`, `TopologyDelete`).
pub(super) fn event(ctx: &mut Ctx<'_>, on: &Object, reason: &str, msg: String) {
    ctx.event_normal(on, reason, msg);
}

/// `klog.KObj(o)` printed with `%q`.
pub(super) fn kobj(o: &Object) -> String {
    format!("\"{}/{}\"", o.namespace(), o.name())
}

/// `createErrorWithoutObjectName`: generated names are kept out of the message so it stays stable.
pub(super) fn create_error(kind: Kind, e: &ApiError) -> String {
    match e.message.split_once(" is invalid: ") {
        Some((_, causes)) => format!("failed to create {}: {causes}", qualified_kind(kind)),
        None => format!("failed to create {}", qualified_kind(kind)),
    }
}

pub(super) fn create(ctx: &mut Ctx<'_>, cluster: &Object, obj: Object) -> Result<Arc<Object>, String> {
    let kind = obj.kind;
    let what = format!("{kind} {}", kobj(&obj));
    let created = ctx.apply(super::apply::MANAGER, obj).map_err(|e| create_error(kind, &e))?;
    event(ctx, cluster, "TopologyCreate", format!("Created {what}"));
    Ok(created)
}

/// `reconcileReferencedObject`: create, or patch the desired fields in. Returns whether it created.
pub(super) fn reconcile_object(
    ctx: &mut Ctx<'_>,
    cluster: &Object,
    current: Option<&Arc<Object>>,
    desired: &Object,
) -> Result<bool, String> {
    let Some(cur) = current else {
        create(ctx, cluster, desired.clone())?;
        return Ok(true);
    };
    if cur.name() != desired.name() {
        return Err(format!(
            "metadata.name: Forbidden: metadata.name of {}/{} cannot be changed from {:?} to {:?} to prevent incompatible changes in the Cluster",
            qualified_kind(cur.kind),
            cur.name(),
            cur.name(),
            desired.name()
        ));
    }
    if cur.kind != desired.kind {
        return Err(format!("metadata.kind: Forbidden: apiVersion.kind of {}/{} cannot be changed", qualified_kind(cur.kind), cur.name()));
    }
    let new = applied(cur, desired);
    if new == **cur {
        return Ok(false);
    }
    let version_change = match (cur.str_at("/spec/version"), new.str_at("/spec/version")) {
        (Some(a), Some(b)) if a != b && cur.kind == Kind::KubeadmControlPlane => format!(" with version change from {a} to {b}"),
        _ => String::new(),
    };
    patch_applied(ctx, &cur.key(), desired).map_err(|e| format!("failed to patch {} {}/{}: {e}", cur.kind, cur.namespace(), cur.name()))?;
    event(ctx, cluster, "TopologyUpdate", format!("Updated {} {}{version_change}", cur.kind, kobj(cur)));
    Ok(false)
}

/// `reconcileReferencedTemplate`: create, patch metadata, or — when the spec changed — rotate: create
/// the desired template under a new name (`prefix` + random) and let the caller switch the reference.
/// Returns whether a template was created.
pub(super) fn reconcile_template(
    ctx: &mut Ctx<'_>,
    cluster: &Object,
    current: Option<&Arc<Object>>,
    desired: &mut Object,
    prefix: &str,
) -> Result<bool, String> {
    let Some(cur) = current else {
        create(ctx, cluster, desired.clone())?;
        return Ok(true);
    };
    if cur.kind != desired.kind {
        return Err(format!(
            "metadata.kind: Forbidden: apiVersion.kind of {}/{} cannot be changed from {:?} to {:?} to prevent incompatible changes in the Cluster",
            qualified_kind(cur.kind),
            cur.name(),
            cur.kind.name(),
            desired.kind.name()
        ));
    }
    let new = applied(cur, desired);
    if new == **cur {
        return Ok(false);
    }
    if new.body.get("spec") == cur.body.get("spec") {
        patch_applied(ctx, &cur.key(), desired)
            .map_err(|e| format!("failed to patch {} {}/{}: {e}", cur.kind, cur.namespace(), cur.name()))?;
        event(ctx, cluster, "TopologyUpdate", format!("Updated {} {} (metadata changes)", cur.kind, kobj(cur)));
        return Ok(false);
    }
    let new_name = desired::simple_name(ctx, prefix);
    desired.meta.name = new_name.as_str().into();
    let kind = desired.kind;
    ctx.apply(super::apply::MANAGER, desired.clone()).map_err(|e| create_error(kind, &e))?;
    event(
        ctx,
        cluster,
        "TopologyCreate",
        format!("Created {} {} as a replacement for {:?} (template rotation)", desired.kind, kobj(desired), cur.name()),
    );
    Ok(true)
}

/// `reconcileMachineHealthCheck`.
pub(super) fn reconcile_mhc(
    ctx: &mut Ctx<'_>,
    cluster: &Object,
    current: Option<&Arc<Object>>,
    desired: Option<&Object>,
) -> Result<(), String> {
    match (current, desired) {
        (None, None) => Ok(()),
        (None, Some(d)) => {
            let what = format!("{}/{}", d.namespace(), d.name());
            let created =
                ctx.apply(super::apply::MANAGER, d.clone()).map_err(|e| format!("failed to create MachineHealthCheck {what}: {e}"))?;
            event(ctx, &created, "TopologyCreate", format!("Created MachineHealthCheck {}", kobj(d)));
            let _ = cluster;
            Ok(())
        }
        (Some(c), None) => {
            match ctx.delete(&c.key()) {
                Ok(_) => {}
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(format!("failed to delete MachineHealthCheck {}/{}: {e}", c.namespace(), c.name())),
            }
            event(ctx, c, "TopologyDelete", format!("Deleted MachineHealthCheck {}", kobj(c)));
            Ok(())
        }
        (Some(c), Some(d)) => {
            let new = applied(c, d);
            if new == **c {
                return Ok(());
            }
            patch_applied(ctx, &c.key(), d)
                .map_err(|e| format!("failed to patch MachineHealthCheck {}/{}: {e}", c.namespace(), c.name()))?;
            event(ctx, c, "TopologyUpdate", format!("Updated MachineHealthCheck {}", kobj(c)));
            Ok(())
        }
    }
}

//! Server-side apply as the topology controller uses it: every object it creates or updates is
//! applied by field manager `capi-topology` with forced ownership, so a field the topology stops
//! setting goes from the object unless someone else owns it
//! (`core/reconcilers/topology/cluster/structuredmerge`, `serverSidePatchHelper`). The read-only
//! deep merge ([`merge_json`]) stays for the ClusterClass status and patch engine.

use crate::object::{ObjKey, Object};
use crate::runtime::Ctx;
use crate::store::ApiError;
use serde_json::Value;
use std::sync::Arc;

/// Deep merge: objects merge key by key, anything else takes the desired value (server-side apply of
/// the fields the topology controller sets).
pub fn merge_json(current: &Value, desired: &Value) -> Value {
    let mut out = current.clone();
    merge_into(&mut out, desired);
    out
}

/// [`merge_json`] in place.
fn merge_into(current: &mut Value, desired: &Value) {
    match (current, desired) {
        (Value::Object(c), Value::Object(d)) => {
            for (k, v) in d {
                match c.get_mut(k) {
                    Some(cv) => merge_into(cv, v),
                    None => {
                        c.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (c, d) => *c = d.clone(),
    }
}

/// The field manager of the topology controller's server-side applies
/// (`structuredmerge.TopologyManagerName`).
pub const MANAGER: &str = "capi-topology";

/// `current` as the topology's server-side apply of `desired` would leave it: the desired fields
/// (not status) merged in, fields the topology applied before and no longer sets removed unless
/// someone else owns them ([`crate::store::managed::apply`], forced). An up-to-date object keeps
/// sharing its body.
pub fn applied(current: &Object, desired: &Object) -> Object {
    if crate::store::managed::apply_is_noop(current, desired, MANAGER) {
        return current.clone();
    }
    let m = crate::store::managed::Manager { name: MANAGER, force: true };
    crate::store::managed::apply(current, desired, m, 0).unwrap_or_else(|_| current.clone())
}

/// Apply the desired object (create it when missing), as `serverSidePatchHelper.Patch` does.
pub(super) fn patch_applied(ctx: &mut Ctx<'_>, key: &ObjKey, desired: &Object) -> Result<Arc<Object>, ApiError> {
    debug_assert_eq!(*key, desired.key());
    ctx.apply(MANAGER, desired.clone())
}

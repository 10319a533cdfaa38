//! Server-side apply as the topology controller uses it, modelled as "the desired fields are merged
//! over the current object": the deep merge, the read-only check that a merge changes nothing, and
//! the patch of the desired fields onto the object as the API server holds it.
//! Restates what `core/reconcilers/topology/cluster/structuredmerge` (`serverSidePatchHelper`) does
//! for the fields the topology sets; managed fields are not tracked.

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

/// Whether [`merge_json`] of `desired` into `current` gives `current` back (read-only: most
/// reconciles find the topology as it should be, and then nothing is copied).
pub(super) fn merge_is_noop(current: &Value, desired: &Value) -> bool {
    match (current, desired) {
        (Value::Object(c), Value::Object(d)) => d.iter().all(|(k, v)| c.get(k).is_some_and(|cv| merge_is_noop(cv, v))),
        (c, d) => c == d,
    }
}

/// Insert the entries of `from` that `into` lacks or holds with another value.
fn extend_changed(into: &mut crate::object::StrMap, from: &crate::object::StrMap) {
    for (k, v) in from {
        if into.get(k) != Some(v) {
            into.insert(k.clone(), v.clone());
        }
    }
}

/// `current` with the desired body (not status), labels and annotations applied. Only the top-level
/// fields that the merge changes are written, so an up-to-date object keeps sharing its body.
pub fn applied(current: &Object, desired: &Object) -> Object {
    let mut o = current.clone();
    for (k, v) in &desired.body {
        if k == "status" {
            continue;
        }
        match current.body.get(k) {
            Some(cv) if merge_is_noop(cv, v) => {}
            Some(_) => {
                if let Some(ov) = o.body.get_mut(k) {
                    merge_into(ov, v);
                }
            }
            None => {
                o.body.insert(k.clone(), v.clone());
            }
        }
    }
    extend_changed(&mut o.meta.labels, &desired.meta.labels);
    extend_changed(&mut o.meta.annotations, &desired.meta.annotations);
    o
}

/// Patch the desired fields (body, labels, annotations) onto the object as the API server holds it,
/// so fields written by others since the cache was filled are kept (as server-side apply keeps them).
pub(super) fn patch_applied(ctx: &mut Ctx<'_>, key: &ObjKey, desired: &Object) -> Result<Arc<Object>, ApiError> {
    let d = desired.clone();
    ctx.patch(key, |o| *o = applied(o, &d))
}

//! CAPI's patch helper (`util/patch/patch.go`) for controllers that edit a copy of their object and
//! write it back at the end of the reconcile: only what the reconcile changed is sent (metadata,
//! spec and other top-level fields as a merge patch to the main resource; status as a merge patch to
//! the status subresource, conditions merged by type), so stale fields of the cached copy never
//! overwrite newer ones in the API server.

use crate::controllers::conditions;
use crate::object::Object;
use crate::runtime::{Ctx, ReconcileError};
use serde_json::{Map, Value};

/// A JSON merge patch (RFC 7386) that turns `before` into `after`; `None` when they are equal.
pub fn merge_diff(before: &Value, after: &Value) -> Option<Value> {
    if before == after {
        return None;
    }
    match (before, after) {
        (Value::Object(b), Value::Object(a)) => {
            let mut out = Map::new();
            for (k, av) in a {
                match b.get(k) {
                    Some(bv) => {
                        if let Some(d) = merge_diff(bv, av) {
                            out.insert(k.clone(), d);
                        }
                    }
                    None => {
                        out.insert(k.clone(), av.clone());
                    }
                }
            }
            for k in b.keys() {
                if !a.contains_key(k) {
                    out.insert(k.clone(), Value::Null);
                }
            }
            (!out.is_empty()).then_some(Value::Object(out))
        }
        _ => Some(after.clone()),
    }
}

/// Apply a merge patch in place (null removes).
pub fn merge_apply(target: &mut Value, patch: &Value) {
    match patch {
        Value::Object(p) => {
            if !target.is_object() {
                *target = Value::Object(Map::new());
            }
            let t = target.as_object_mut().expect("object");
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge_apply(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        other => *target = other.clone(),
    }
}

fn body_without_status(o: &Object) -> Value {
    Value::Object(o.body.iter().filter(|(k, _)| k.as_str() != "status").map(|(k, v)| (k.clone(), v.clone())).collect())
}

fn status_without_conditions(o: &Object) -> Value {
    match o.body.get("status") {
        Some(Value::Object(m)) => {
            Value::Object(m.iter().filter(|(k, _)| k.as_str() != "conditions").map(|(k, v)| (k.clone(), v.clone())).collect())
        }
        _ => Value::Object(Map::new()),
    }
}

/// Conditions of `after` that differ from `before`, by type.
fn changed_conditions(before: &Object, after: &Object) -> Vec<Value> {
    conditions::list(after)
        .iter()
        .filter(|c| {
            let t = c.get("type");
            conditions::list(before).iter().find(|b| b.get("type") == t) != Some(*c)
        })
        .cloned()
        .collect()
}

/// Write what changed between `before` (as read) and `after` (as the reconcile left it), in the patch
/// helper's order: the conditions first (optimistic-locked, retried on conflict), then metadata and
/// spec, then the rest of the status. Every part is tried even when an earlier one failed; the first
/// error is returned.
pub fn patch(ctx: &mut Ctx<'_>, before: &Object, after: &Object) -> Result<(), ReconcileError> {
    let key = after.key();
    let mut first_error: Option<ReconcileError> = None;
    let mut keep = |r: Result<(), ReconcileError>| {
        if let Err(e) = r {
            first_error.get_or_insert(e);
        }
    };
    let conds = changed_conditions(before, after);
    if !conds.is_empty() {
        keep(
            ctx.patch_status(&key, |o| {
                let status = o.status_mut();
                let list = status.entry("conditions").or_insert_with(|| Value::Array(Vec::new()));
                if !list.is_array() {
                    *list = Value::Array(Vec::new());
                }
                let list = list.as_array_mut().expect("array");
                for c in &conds {
                    match list.iter_mut().find(|x| x.get("type") == c.get("type")) {
                        Some(x) => *x = c.clone(),
                        None => list.push(c.clone()),
                    }
                }
            })
            .map(drop)
            .map_err(ReconcileError::from),
        );
    }
    // Main resource: labels, annotations, finalizers, ownerReferences, and the body but status.
    let body_diff = merge_diff(&body_without_status(before), &body_without_status(after));
    let meta_changed = before.meta.labels != after.meta.labels
        || before.meta.annotations != after.meta.annotations
        || before.meta.finalizers != after.meta.finalizers
        || before.meta.owner_references != after.meta.owner_references;
    if (body_diff.is_some() || meta_changed) && ctx.live(&key).is_some() {
        let (b, a) = (before.meta.clone(), after.meta.clone());
        keep(
            ctx.patch(&key, |o| {
                for (k, v) in &a.labels {
                    if b.labels.get(k) != Some(v) {
                        o.meta.labels.insert(k.clone(), v.clone());
                    }
                }
                for k in b.labels.keys().filter(|k| !a.labels.contains_key(*k)) {
                    o.meta.labels.remove(k);
                }
                for (k, v) in &a.annotations {
                    if b.annotations.get(k) != Some(v) {
                        o.meta.annotations.insert(k.clone(), v.clone());
                    }
                }
                for k in b.annotations.keys().filter(|k| !a.annotations.contains_key(*k)) {
                    o.meta.annotations.remove(k);
                }
                for f in a.finalizers.iter().filter(|f| !b.finalizers.contains(f)) {
                    if !o.meta.finalizers.contains(f) {
                        o.meta.finalizers.push(f.clone());
                    }
                }
                o.meta.finalizers.retain(|f| !b.finalizers.contains(f) || a.finalizers.contains(f));
                if b.owner_references != a.owner_references {
                    o.meta.owner_references = a.owner_references.clone();
                }
                if let Some(d) = &body_diff {
                    let mut body = Value::Object(std::mem::take(&mut o.body).into_inner());
                    merge_apply(&mut body, d);
                    if let Value::Object(m) = body {
                        o.body = m.into();
                    }
                }
            })
            .map(drop)
            .map_err(ReconcileError::from),
        );
    }
    // Removing the last finalizer may have deleted the object (not an error, as in the helper).
    let status_diff = merge_diff(&status_without_conditions(before), &status_without_conditions(after));
    if let (Some(d), true) = (&status_diff, ctx.live(&key).is_some()) {
        keep(
            ctx.patch_status(&key, |o| {
                let status = o.status_mut();
                let mut v = Value::Object(std::mem::take(status));
                merge_apply(&mut v, d);
                if let Value::Object(m) = v {
                    *status = m;
                }
            })
            .map(drop)
            .map_err(ReconcileError::from),
        );
    }
    first_error.map_or(Ok(()), Err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_diff_round_trips() {
        let before = json!({"a": 1, "b": {"c": 2, "d": 3}, "e": [1]});
        let after = json!({"a": 1, "b": {"c": 5}, "e": [1, 2], "f": "x"});
        let d = merge_diff(&before, &after).unwrap();
        assert_eq!(d, json!({"b": {"c": 5, "d": null}, "e": [1, 2], "f": "x"}));
        let mut t = before.clone();
        merge_apply(&mut t, &d);
        assert_eq!(t, after);
        assert_eq!(merge_diff(&after, &after), None);
    }

    #[test]
    fn only_changes_reach_a_newer_object() {
        // A field changed by someone else after our read survives our patch.
        let mut current = json!({"spec": {"x": 1, "y": "theirs"}});
        let before = json!({"spec": {"x": 1, "y": "old"}});
        let after = json!({"spec": {"x": 2, "y": "old"}});
        merge_apply(&mut current, &merge_diff(&before, &after).unwrap());
        assert_eq!(current, json!({"spec": {"x": 2, "y": "theirs"}}));
    }
}

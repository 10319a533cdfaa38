//! `kubectl apply` (client-side): the object is created with the `last-applied-configuration`
//! annotation, and later applies send a three-way JSON merge patch (fields removed from the file since
//! the last apply are deleted; fields others set are kept), as kubectl computes it.

use crate::object::Object;
use serde_json::{Map, Value};

/// The annotation kubectl keeps the applied configuration in.
pub const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// The last-applied text for a manifest (compact JSON without the annotation itself).
pub fn last_applied(value: &Value) -> String {
    let mut v = value.clone();
    if let Some(a) = v.pointer_mut("/metadata/annotations").and_then(Value::as_object_mut) {
        a.remove(LAST_APPLIED);
        if a.is_empty() {
            v["metadata"].as_object_mut().map(|m| m.remove("annotations"));
        }
    }
    serde_json::to_string(&v).unwrap_or_default()
}

/// The merge patch `kubectl apply` sends for `modified` against `current`, or `None` when nothing
/// changes.
pub fn three_way_patch(current: &Object, modified: &Value, applied: &str) -> Option<Value> {
    let original: Option<Value> = current.annotation(LAST_APPLIED).and_then(|t| serde_json::from_str(t).ok());
    let current_json = current.to_json();
    let mut patch = diff(original.as_ref(), modified, &current_json);
    // The annotation is part of what is applied.
    if current.annotation(LAST_APPLIED) != Some(applied) {
        let p = patch.get_or_insert_with(Map::new);
        let md = p.entry("metadata").or_insert_with(|| Value::Object(Map::new()));
        if let Some(md) = md.as_object_mut() {
            let ann = md.entry("annotations").or_insert_with(|| Value::Object(Map::new()));
            if let Some(a) = ann.as_object_mut() {
                a.insert(LAST_APPLIED.into(), Value::String(applied.to_string()));
            }
        }
    }
    patch.map(Value::Object)
}

fn diff(original: Option<&Value>, modified: &Value, current: &Value) -> Option<Map<String, Value>> {
    let (Some(m), Some(c)) = (modified.as_object(), current.as_object()) else { return None };
    let o = original.and_then(Value::as_object);
    let mut out = Map::new();
    for (k, mv) in m {
        if k == "metadata" || k == "status" || k == "apiVersion" || k == "kind" {
            if k == "metadata" {
                if let Some(d) = diff(o.and_then(|o| o.get(k)), mv, c.get(k).unwrap_or(&Value::Null)) {
                    out.insert(k.clone(), Value::Object(d));
                }
            }
            continue;
        }
        match c.get(k) {
            Some(cv) if cv == mv => {}
            Some(cv) if cv.is_object() && mv.is_object() => {
                if let Some(d) = diff(o.and_then(|o| o.get(k)), mv, cv) {
                    out.insert(k.clone(), Value::Object(d));
                }
            }
            _ => {
                out.insert(k.clone(), mv.clone());
            }
        }
    }
    if let Some(o) = o {
        for k in o.keys() {
            if !m.contains_key(k) && c.contains_key(k) && k != "status" {
                out.insert(k.clone(), Value::Null);
            }
        }
    }
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn removed_fields_are_deleted_and_foreign_fields_kept() {
        let first = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "default"}, "data": {"x": "1", "y": "2"}});
        let mut cur = Object::from_json(&first).unwrap();
        cur.meta.annotations.insert(LAST_APPLIED.into(), last_applied(&first));
        cur.body.get_mut("data").unwrap().as_object_mut().unwrap().insert("z".into(), json!("by-someone-else"));
        let second =
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "default"}, "data": {"x": "1"}});
        let p = three_way_patch(&cur, &second, &last_applied(&second)).unwrap();
        assert_eq!(p["data"], json!({"y": null}));
    }
}

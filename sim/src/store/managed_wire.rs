//! Field ownership as clients see it: `managedFields` on the wire (`FieldsV1`) and the paths and
//! managers of an apply conflict as upstream prints them
//! (`k8s.io/apimachinery/pkg/util/managedfields/internal/conflict.go`,
//! `sigs.k8s.io/structured-merge-diff/fieldpath`).

use super::{unseg, Conflict, Entry, ManagedFields, Operation};
use serde_json::{Map, Value};

/// How upstream prints a path (`fieldpath.Path.String()`): `.spec.replicas`,
/// `.metadata.labels.app`, `.metadata.finalizers[="x"]`, `.metadata.ownerReferences[uid="..."]`.
pub fn display_path(p: &str) -> String {
    let mut out = String::new();
    for s in p.split('/').skip(1) {
        if s.starts_with('[') {
            out.push_str(&unseg(s));
        } else {
            out.push('.');
            out.push_str(&unseg(s));
        }
    }
    out
}

/// How upstream names a manager in a conflict (`printManager`).
pub(super) fn display_manager(e: &Entry, api_version: &str) -> String {
    match e.operation {
        Operation::Apply => format!("{:?}", &*e.manager),
        Operation::Update => format!("{:?} using {api_version} at {}", &*e.manager, crate::object::timestamp(e.time_ms)),
    }
}

/// Upstream's conflict message (`getConflictMessage`): one conflict on one line; several grouped by
/// manager, managers sorted.
pub fn conflict_message(conflicts: &[Conflict]) -> String {
    if let [c] = conflicts {
        return format!("Apply failed with 1 conflict: conflict with {}: {}", c.manager, c.field);
    }
    let mut managers: Vec<&str> = conflicts.iter().map(|c| c.manager.as_str()).collect();
    managers.sort();
    managers.dedup();
    let mut lines = Vec::new();
    for m in managers {
        lines.push(format!("conflicts with {m}:"));
        for c in conflicts.iter().filter(|c| c.manager == m) {
            lines.push(format!("- {}", c.field));
        }
    }
    format!("Apply failed with {} conflicts: {}", conflicts.len(), lines.join("\n"))
}

/// managedFields on the wire (`FieldsV1`).
pub fn to_wire(managed: &ManagedFields, api_version: &str) -> Option<Value> {
    let entries = managed.as_deref()?;
    let list = entries
        .iter()
        .map(|e| {
            let mut tree = Map::new();
            for f in &e.fields {
                let mut node = &mut tree;
                for s in f.split('/').skip(1) {
                    let s = unseg(s);
                    let key = if s.starts_with("[uid=") {
                        format!("k:{{\"uid\":{}}}", &s[5..s.len() - 1])
                    } else if let Some(v) = s.strip_prefix("[=") {
                        format!("v:{}", &v[..v.len() - 1])
                    } else {
                        format!("f:{s}")
                    };
                    let next = node.entry(key).or_insert_with(|| Value::Object(Map::new()));
                    if !next.is_object() {
                        *next = Value::Object(Map::new());
                    }
                    node = next.as_object_mut().expect("object");
                }
            }
            let mut m = Map::new();
            m.insert("manager".into(), Value::String(e.manager.to_string()));
            m.insert("operation".into(), Value::String(e.operation.as_str().into()));
            m.insert("apiVersion".into(), Value::String(api_version.into()));
            m.insert("time".into(), Value::String(crate::object::timestamp(e.time_ms)));
            m.insert("fieldsType".into(), Value::String("FieldsV1".into()));
            m.insert("fieldsV1".into(), Value::Object(tree));
            Value::Object(m)
        })
        .collect();
    Some(Value::Array(list))
}

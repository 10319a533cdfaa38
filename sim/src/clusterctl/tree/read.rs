//! Reading the describe tree's objects as JSON: string and integer fields, kind and name, and the
//! conditions as the tree reads them (`status.v1beta2.conditions` when a v1beta1 provider object has
//! them, else `status.conditions`), with the three grouping compares.
//! Source: `util/conditions` (`UnstructuredGetAll`), `cmd/clusterctl/client/tree/tree.go`
//! (`hasSameAvailableReadyUptoDateStatusAndReason`).

use serde_json::Value;

/// One condition, as the tree reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Cond {
    pub(super) type_: String,
    pub(super) status: String,
    pub(super) reason: String,
    pub(super) message: String,
    pub(super) since_ms: Option<u64>,
}

pub(super) fn s<'a>(v: &'a Value, p: &str) -> &'a str {
    v.pointer(p).and_then(Value::as_str).unwrap_or("")
}

pub(super) fn time_ms(text: &str) -> Option<u64> {
    let t = humantime::parse_rfc3339_weak(text).ok()?;
    Some(t.duration_since(std::time::UNIX_EPOCH).ok()?.as_millis() as u64)
}

/// `status.v1beta2.conditions` when the object has them (a v1beta1 provider object), else
/// `status.conditions` (`conditions.UnstructuredGetAll`).
pub(super) fn conditions(v: &Value) -> Vec<Cond> {
    let list = v.pointer("/status/v1beta2/conditions").or_else(|| v.pointer("/status/conditions")).and_then(Value::as_array);
    list.map(|l| {
        l.iter()
            .map(|c| Cond {
                type_: s(c, "/type").to_string(),
                status: s(c, "/status").to_string(),
                reason: s(c, "/reason").to_string(),
                message: s(c, "/message").to_string(),
                since_ms: time_ms(s(c, "/lastTransitionTime")),
            })
            .collect()
    })
    .unwrap_or_default()
}

pub(super) fn cond(v: &Value, type_: &str) -> Option<Cond> {
    conditions(v).into_iter().find(|c| c.type_ == type_)
}

pub(super) fn kind(v: &Value) -> &str {
    s(v, "/kind")
}

pub(super) fn name(v: &Value) -> &str {
    s(v, "/metadata/name")
}

pub(super) fn int(v: &Value, p: &str) -> Option<i64> {
    v.pointer(p).and_then(Value::as_i64)
}

/// The three conditions grouping compares (`UpToDate` only exists on Machines).
pub(super) fn key_conditions(v: &Value) -> [Option<Cond>; 3] {
    let utd = if kind(v) == "Machine" { cond(v, "UpToDate") } else { None };
    [cond(v, "Available"), cond(v, "Ready"), utd]
}

pub(super) fn same_status_and_reason(a: &Option<Cond>, b: &Option<Cond>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => a.status == b.status && a.reason == b.reason,
        _ => false,
    }
}

pub(super) fn is_true(c: &Option<Cond>) -> bool {
    c.as_ref().is_some_and(|c| c.status == "True")
}

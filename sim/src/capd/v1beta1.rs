//! v1beta1-style conditions (`status.deprecated.v1beta1.conditions`: type, status, severity, reason,
//! message), which MachinePools and infra machine pools still report instead of v1beta2 ones.
//! Source: `util/conditions/deprecated/v1beta1/{setter.go,merge.go,summary.go}`.

use crate::controllers::conditions::Status;
use crate::object::{timestamp, Object};
use serde_json::{json, Map, Value};

/// Where they live.
pub const POINTER: &str = "/status/deprecated/v1beta1/conditions";

/// `Info`, `Warning`, `Error` (empty for True conditions).
pub type Severity = &'static str;

/// The conditions.
pub fn list(obj: &Object) -> Vec<Value> {
    obj.at(POINTER).and_then(Value::as_array).cloned().unwrap_or_default()
}

/// The status of one condition.
pub fn status(obj: &Object, type_: &str) -> Option<Status> {
    list(obj)
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(type_))
        .map(|c| Status::parse(c.get("status").and_then(Value::as_str).unwrap_or("")))
}

/// Set a condition (replacing by type; the transition time moves only with the status).
pub fn set(obj: &mut Object, type_: &str, st: Status, reason: &str, severity: Severity, message: &str, now: u64) {
    let mut conds = list(obj);
    let mut m = Map::new();
    m.insert("type".into(), json!(type_));
    m.insert("status".into(), json!(st.as_str()));
    if st != Status::True && !severity.is_empty() {
        m.insert("severity".into(), json!(severity));
    }
    let old = conds.iter().position(|c| c.get("type").and_then(Value::as_str) == Some(type_));
    let since = match old.map(|i| &conds[i]) {
        Some(c) if c.get("status").and_then(Value::as_str) == Some(st.as_str()) => {
            c.get("lastTransitionTime").cloned().unwrap_or_else(|| json!(timestamp(now)))
        }
        _ => json!(timestamp(now)),
    };
    m.insert("lastTransitionTime".into(), since);
    if st != Status::True && !reason.is_empty() {
        m.insert("reason".into(), json!(reason));
    }
    if st != Status::True && !message.is_empty() {
        m.insert("message".into(), json!(message));
    }
    match old {
        Some(i) => conds[i] = Value::Object(m),
        None => conds.push(Value::Object(m)),
    }
    obj.set(POINTER, Value::Array(conds));
}

/// Mark True.
pub fn mark_true(obj: &mut Object, type_: &str, now: u64) {
    set(obj, type_, Status::True, "", "", "", now);
}

/// Mark False.
pub fn mark_false(obj: &mut Object, type_: &str, reason: &str, severity: Severity, message: &str, now: u64) {
    set(obj, type_, Status::False, reason, severity, message, now);
}

/// `SetSummary`: `Ready` from the listed conditions that are present (the first False one gives
/// the reason, severity and message).
pub fn set_summary(obj: &mut Object, types: &[&str], now: u64) {
    let conds = list(obj);
    let present: Vec<&Value> =
        types.iter().filter_map(|t| conds.iter().find(|c| c.get("type").and_then(Value::as_str) == Some(*t))).collect();
    if present.is_empty() {
        return;
    }
    let s = |c: &Value, k: &str| c.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    if let Some(f) = present.iter().find(|c| s(c, "status") == "False") {
        let sev: Severity = match s(f, "severity").as_str() {
            "Error" => "Error",
            "Warning" => "Warning",
            _ => "Info",
        };
        set(obj, "Ready", Status::False, &s(f, "reason"), sev, &s(f, "message"), now);
    } else if present.iter().any(|c| s(c, "status") != "True") {
        set(obj, "Ready", Status::Unknown, "", "", "", now);
    } else {
        mark_true(obj, "Ready", now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::Kind;

    #[test]
    fn summary_takes_the_first_false() {
        let mut o = Object::new(Kind::MachinePool, "default", "mp");
        mark_true(&mut o, "BootstrapReady", 0);
        mark_false(&mut o, "InfrastructureReady", "WaitingForInfrastructure", "Info", "", 1000);
        set_summary(&mut o, &["BootstrapReady", "InfrastructureReady", "ReplicasReady"], 1000);
        assert_eq!(status(&o, "Ready"), Some(Status::False));
        mark_true(&mut o, "InfrastructureReady", 2000);
        set_summary(&mut o, &["BootstrapReady", "InfrastructureReady"], 2000);
        assert_eq!(status(&o, "Ready"), Some(Status::True));
    }
}

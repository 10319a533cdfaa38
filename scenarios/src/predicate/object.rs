//! Checks on one object: the `where:` of a target (`where: { field: { path: metadata.deletionTimestamp,
//! exists: true } }`), and the per-object part of the `field`, `condition` and `phase` predicates, which
//! use the same functions.

use super::{json_equal, Resource};
use crate::target::FieldPath;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::borrow::Cow;

/// A check on one object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ObjectCheck {
    /// A field has a value (or exists / does not exist).
    Field(FieldCheck),
    /// A `status.conditions` entry has a status (and reason, message).
    Condition(ConditionCheck),
    /// `status.phase`.
    Phase(PhaseCheck),
    /// Every check holds.
    All(Vec<ObjectCheck>),
    /// At least one check holds.
    Any(Vec<ObjectCheck>),
    /// The check does not hold.
    Not(Box<ObjectCheck>),
}

crate::keyed_enum!(ObjectCheck, "a check on one object: field, condition, phase, all, any or not", {
    "field" => Field(FieldCheck),
    "condition" => Condition(ConditionCheck),
    "phase" => Phase(PhaseCheck),
    "all" => All(Vec<ObjectCheck>),
    "any" => Any(Vec<ObjectCheck>),
    "not" => Not(Box<ObjectCheck>),
});

/// `field: { path, equals | exists }` on one object.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct FieldCheck {
    /// Path such as `spec.topology.version` or a JSONPath.
    pub path: FieldPath,
    /// Expected value (compared as JSON; numbers numerically).
    #[serde(default)]
    pub equals: Option<Value>,
    /// Expected presence of the field.
    #[serde(default)]
    pub exists: Option<bool>,
}

/// `condition: { type, status, reason, message }` on one object.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ConditionCheck {
    /// Condition type.
    #[serde(rename = "type")]
    pub type_: String,
    /// `"True"`, `"False"` or `"Unknown"`.
    #[serde(deserialize_with = "super::de_condition_status")]
    #[schemars(schema_with = "crate::schema::condition_status")]
    pub status: String,
    /// Expected reason.
    #[serde(default)]
    pub reason: Option<String>,
    /// Substring the message must contain.
    #[serde(default)]
    pub message: Option<String>,
}

/// `phase: { is }` on one object.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct PhaseCheck {
    /// Expected `status.phase`.
    pub is: String,
}

impl ObjectCheck {
    /// Whether `r` passes.
    pub fn holds(&self, r: &dyn Resource) -> bool {
        match self {
            ObjectCheck::Field(f) => field_ok(r, &f.path, f.equals.as_ref(), f.exists),
            ObjectCheck::Condition(c) => condition_ok(r, &c.type_, &c.status, c.reason.as_deref(), c.message.as_deref()),
            ObjectCheck::Phase(p) => phase_of(r).as_deref() == Some(p.is.as_str()),
            ObjectCheck::All(v) => v.iter().all(|c| c.holds(r)),
            ObjectCheck::Any(v) => v.iter().any(|c| c.holds(r)),
            ObjectCheck::Not(c) => !c.holds(r),
        }
    }
}

/// Whether a field has the expected value and presence.
pub(crate) fn field_ok(r: &dyn Resource, path: &FieldPath, equals: Option<&Value>, exists: Option<bool>) -> bool {
    let v = r.field(path);
    equals.is_none_or(|want| v.as_deref().is_some_and(|v| json_equal(v, want))) && exists.is_none_or(|e| v.is_some() == e)
}

/// A condition's (status, reason, message), when the object has it.
pub(crate) fn condition_of(r: &dyn Resource, type_: &str) -> Option<(String, String, String)> {
    let conds = r.field(conditions_path())?;
    let c = conds.as_array()?.iter().find(|x| x.get("type").and_then(Value::as_str) == Some(type_))?;
    let g = |k: &str| c.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    Some((g("status"), g("reason"), g("message")))
}

/// Whether a condition has the expected status (and reason, and a message containing the text).
pub(crate) fn condition_ok(r: &dyn Resource, type_: &str, status: &str, reason: Option<&str>, message: Option<&str>) -> bool {
    let conds: Option<Cow<'_, Value>> = r.field(conditions_path());
    let Some(cond) =
        conds.as_deref().and_then(Value::as_array).and_then(|a| a.iter().find(|x| x.get("type").and_then(Value::as_str) == Some(type_)))
    else {
        return false;
    };
    let g = |k: &str| cond.get(k).and_then(Value::as_str).unwrap_or("");
    g("status") == status && reason.is_none_or(|w| g("reason") == w) && message.is_none_or(|w| g("message").contains(w))
}

/// `status.phase`.
pub(crate) fn phase_of(r: &dyn Resource) -> Option<String> {
    r.field(phase_path()).and_then(|v| v.as_str().map(str::to_string))
}

pub(crate) fn phase_path() -> &'static FieldPath {
    static P: std::sync::OnceLock<FieldPath> = std::sync::OnceLock::new();
    P.get_or_init(|| FieldPath::parse("status.phase").expect("static path"))
}

pub(crate) fn conditions_path() -> &'static FieldPath {
    static P: std::sync::OnceLock<FieldPath> = std::sync::OnceLock::new();
    P.get_or_init(|| FieldPath::parse("status.conditions").expect("static path"))
}

/// `metadata.creationTimestamp` (RFC 3339 strings order as times).
pub(crate) fn created(r: &dyn Resource) -> String {
    static P: std::sync::OnceLock<FieldPath> = std::sync::OnceLock::new();
    let p = P.get_or_init(|| FieldPath::parse("metadata.creationTimestamp").expect("static path"));
    r.field(p).and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

/// A multi-line condition message (v1beta2's `* ...` bullet lists) on one line, every line kept: the
/// first line alone is often only a heading (`* WorkersAvailable:`).
pub(super) fn one_line(message: &str) -> String {
    message.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ")
}

//! `finished`: a step run in the background (`clusterctl move` with `async: true`) has ended, with
//! the result asked for. Backends report where each background step is through
//! [`WorldView::async_step`](super::WorldView::async_step); a step that has not started yet has not
//! finished.

use super::{Eval, Predicate, WorldView};
use serde::{Deserialize, Serialize};

/// `finished: { step, result, message }`: a background step (`async: true`) has ended.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct FinishedPredicate {
    /// The background step's `name` (`move` for a `clusterctl move` without one).
    pub step: String,
    /// The result wanted: `succeeded` (the default), `failed` or `any`.
    #[serde(default)]
    pub result: FinishedResult,
    /// Substring of the step's output (on success) or error (on failure).
    #[serde(default)]
    pub message: Option<String>,
}

/// What a `finished` predicate wants of the step's result.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum FinishedResult {
    /// It ended without an error.
    #[default]
    Succeeded,
    /// It ended with an error.
    Failed,
    /// It ended.
    Any,
}

/// Where a background step is, as a backend reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AsyncStatus {
    /// Still running.
    Running,
    /// Ended: its output, or its error.
    Done(Result<String, String>),
}

/// Evaluate `finished` against what the backend reports.
pub(super) fn evaluate(p: &FinishedPredicate, world: &dyn WorldView) -> Eval {
    let name = &p.step;
    let Some(status) = world.async_step(name) else {
        return Eval::new(false, format!("background step `{name}` has not started"));
    };
    let (ended_ok, text) = match &status {
        AsyncStatus::Running => return Eval::new(false, format!("background step `{name}` is still running")),
        AsyncStatus::Done(Ok(out)) => (true, out.as_str()),
        AsyncStatus::Done(Err(e)) => (false, e.as_str()),
    };
    let result_ok = match p.result {
        FinishedResult::Succeeded => ended_ok,
        FinishedResult::Failed => !ended_ok,
        FinishedResult::Any => true,
    };
    let message_ok = p.message.as_ref().is_none_or(|m| text.contains(m.as_str()));
    let first = crate::redact::text(text.lines().next().unwrap_or(""));
    let how = if ended_ok { "succeeded" } else { "failed" };
    let mut detail = format!("background step `{name}` {how}: {first}");
    if !result_ok {
        detail.push_str(&format!(
            " (want {})",
            match p.result {
                FinishedResult::Succeeded => "succeeded",
                FinishedResult::Failed => "failed",
                FinishedResult::Any => "any",
            }
        ));
    } else if !message_ok {
        detail.push_str(&format!(" (want a message containing {:?})", p.message.as_deref().unwrap_or("")));
    }
    Eval::new(result_ok && message_ok, detail)
}

impl Predicate {
    /// Call `f` with every `finished` in the predicate (nested ones included).
    pub fn for_each_finished(&self, f: &mut dyn FnMut(&FinishedPredicate)) {
        match self {
            Predicate::Finished(x) => f(x),
            Predicate::All(v) | Predicate::Any(v) => v.iter().for_each(|q| q.for_each_finished(f)),
            Predicate::Not(q) => q.for_each_finished(f),
            _ => {}
        }
    }
}

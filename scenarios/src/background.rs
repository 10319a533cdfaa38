//! Static checks of background steps (`clusterctl move` with `async: true`), made when a scenario is
//! loaded: a background step's result must be read by a later `finished` predicate, so a failure in
//! the background cannot pass unseen.

use crate::error::{Location, Result, ScenarioError};
use crate::model::{ScenarioInvariant, Step, StepEntry};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Background steps (`async: true`): names are unique, every `finished` names one started by an
/// earlier step (or any step, in `invariants`), and every background step's result is waited for or
/// checked by a later step, so a failure in the background cannot pass unseen.
pub(crate) fn check(steps: &[StepEntry], invariants: &[ScenarioInvariant], path: &Path) -> Result<()> {
    let mut started: BTreeMap<&str, usize> = BTreeMap::new();
    let mut read: BTreeSet<&str> = BTreeSet::new();
    for e in steps {
        let here = || Location::new(path, e.line, 1);
        let mut unknown = None;
        e.step.for_each_predicate(&mut |p| {
            p.for_each_finished(&mut |f| {
                if started.contains_key(f.step.as_str()) {
                    read.insert(started.get_key_value(f.step.as_str()).map(|(k, _)| *k).unwrap_or(""));
                } else if unknown.is_none() {
                    unknown = Some(f.step.clone());
                }
            })
        });
        if let Some(n) = unknown {
            let known: Vec<&str> = started.keys().copied().collect();
            let hint = if known.is_empty() {
                "no earlier step runs in the background (`clusterctl: { move: { ..., async: true } }`)".to_string()
            } else {
                format!("the background steps started before it are: {}", known.join(", "))
            };
            return Err(ScenarioError::invalid(here(), format!("`finished` names the background step `{n}`, but {hint}")));
        }
        if let Step::Clusterctl(crate::model::ClusterctlStep::Move(m)) = &e.step {
            if m.name.is_some() && !m.run_async {
                return Err(ScenarioError::invalid(here(), "`name` names a background move: it needs `async: true`"));
            }
        }
        if let Some(n) = e.step.async_name() {
            if let Some(line) = started.insert(n, e.line) {
                return Err(ScenarioError::invalid(
                    here(),
                    format!("a background step named `{n}` already started at line {line}; give this one another `name`"),
                ));
            }
        }
    }
    for inv in invariants {
        let mut unknown = None;
        inv.predicate.for_each_finished(&mut |f| {
            if let Some((k, _)) = started.get_key_value(f.step.as_str()) {
                read.insert(k);
            } else if unknown.is_none() {
                unknown = Some(f.step.clone());
            }
        });
        if let Some(n) = unknown {
            return Err(ScenarioError::invalid(
                Location::new(path, inv.line, 1),
                format!("`finished` names the background step `{n}`, which no step of the scenario starts"),
            ));
        }
    }
    if let Some((n, line)) = started.iter().find(|(n, _)| !read.contains(*n)) {
        return Err(ScenarioError::invalid(
            Location::new(path, *line, 1),
            format!(
                "the background step `{n}` is never waited for: add a later `- wait: {{ for: {{ finished: {{ step: {n} }} }}, timeout: 10m }}` (or check its result with `expect`/`check`)"
            ),
        ));
    }
    Ok(())
}

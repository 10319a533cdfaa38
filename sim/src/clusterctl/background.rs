//! `clusterctl move` in the background (`async: true` in a scenario): the move is started at once
//! (discovery, preflight and pausing the source, as the foreground move does them), and the engine
//! carries on with it as its own actor: it looks at the `block-move` objects when `waitReadyForMove`'s
//! backoff says, waits the settle time, and copies the namespace, while later steps of the scenario
//! run (for example one that removes the annotation the move waits for). Its result is kept under
//! its name for `finished` predicates.
//!
//! Source: `cmd/clusterctl/client/cluster/mover.go` (`Move`, `waitReadyForMove`); the background is
//! a scenario's view of a `clusterctl move` process that runs beside the other steps, as upstream's
//! e2e `ClusterctlUpgradeSpec`/`QuickStartSpec` run it from a goroutine.

use super::movement::{self, MovePlan, Progress, SETTLE_MS};
use crate::engine::Sim;
use capi_scenarios::predicate::AsyncStatus;

/// One background move.
pub struct Job {
    name: String,
    state: Option<State>,
}

enum State {
    /// Waiting for the `block-move` objects.
    Blocked(Box<MovePlan>),
    /// Waiting the settle time before the copy.
    Settling(Box<MovePlan>),
    /// Ended.
    Done(Result<String, String>),
}

impl Job {
    /// The name `finished` predicates use.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Where the move is.
    pub fn status(&self) -> AsyncStatus {
        match &self.state {
            Some(State::Done(r)) => AsyncStatus::Done(r.clone()),
            _ => AsyncStatus::Running,
        }
    }
}

/// Start a background move of namespace `ns` from management cluster `from` to `to`; returns the
/// step's message. A move that fails before it waits (preflight) ends at once, with that error.
pub fn start(sim: &mut Sim, name: &str, from: usize, to: usize, ns: &str) -> Result<String, String> {
    if sim.clusterctl_jobs.iter().any(|j| j.name == name) {
        return Err(format!("a background step named `{name}` is already running or has run"));
    }
    let id = sim.clusterctl_jobs.len();
    sim.clusterctl_jobs.push(Job { name: name.to_string(), state: None });
    sim.record("clusterctl", format_args!("move `{name}` of namespace {ns} started in the background"));
    let state = match movement::begin(sim, from, to, ns) {
        Ok(plan) => poll(sim, id, Box::new(plan)),
        Err(e) => finish(sim, name, Err(e)),
    };
    sim.clusterctl_jobs[id].state = Some(state);
    Ok(format!("clusterctl move of namespace {ns} started in the background as `{name}`"))
}

/// The engine's turn for background move `id`.
pub(crate) fn advance(sim: &mut Sim, id: usize) {
    let Some(state) = sim.clusterctl_jobs.get_mut(id).and_then(|j| j.state.take()) else { return };
    let name = sim.clusterctl_jobs[id].name.clone();
    let next = match state {
        State::Blocked(plan) => poll(sim, id, plan),
        State::Settling(plan) => {
            let r = movement::complete(sim, &plan);
            finish(sim, &name, r)
        }
        done @ State::Done(_) => done,
    };
    sim.clusterctl_jobs[id].state = Some(next);
}

/// One look at the `block-move` objects, and the move's next turn.
fn poll(sim: &mut Sim, id: usize, mut plan: Box<MovePlan>) -> State {
    match plan.poll(sim) {
        Progress::Ready => {
            sim.schedule_clusterctl(sim.now() + SETTLE_MS, id);
            State::Settling(plan)
        }
        Progress::WaitMs(d) => {
            sim.schedule_clusterctl(sim.now() + d, id);
            State::Blocked(plan)
        }
        Progress::Failed(e) => {
            let name = sim.clusterctl_jobs[id].name.clone();
            finish(sim, &name, Err(e))
        }
    }
}

/// The move's end: traced, and made visible to waits.
fn finish(sim: &mut Sim, name: &str, r: Result<String, String>) -> State {
    match &r {
        Ok(m) => sim.record("clusterctl", format_args!("move `{name}` finished: {m}")),
        Err(e) => sim.record("clusterctl", format_args!("move `{name}` failed: {e}")),
    }
    sim.touch();
    State::Done(r)
}

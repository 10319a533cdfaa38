//! The deterministic discrete-event engine. It owns virtual time (ms), the one event queue ordered by
//! (time, sequence number), the seeded random streams, the management clusters (API server + controller
//! managers) and the world, and it is the only place where anything happens: watch deliveries,
//! reconciles, garbage collection, world timers and faults are all events.
//!
//! Architecture invariant: nothing here reads the wall clock, draws OS randomness, spawns threads or
//! iterates a hash map; the same seed and the same inputs give the same trace, byte for byte.

mod events;
mod managers;
mod reconcile;
pub mod rng;
pub mod timeline;
pub mod trace;
mod user;
mod watch;

use crate::controllers;
use crate::kinds::Kind;
use crate::mutants::Mutants;
use crate::object::{ObjKey, Object};
use crate::runtime::Manager;
use crate::store::api::{ApiServer, Patch};
use crate::store::gc;
use crate::store::{Change, Subresource};
use crate::world::timing::Timing;
use crate::world::World;
use rand_chacha::ChaCha8Rng;
use rng::RngTree;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;
use trace::{Trace, TraceMode};

/// How to build a simulation.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// The seed.
    pub seed: u64,
    /// Timing profile.
    pub timing: Timing,
    /// Trace mode.
    pub trace: TraceMode,
    /// Mutants (tests only).
    pub mutants: Mutants,
    /// Stop after this many events (a runaway guard; reported as a failure).
    pub max_events: u64,
    /// Workers of every controller (`MaxConcurrentReconciles`, as CAPI's and CAPD's
    /// `--*-concurrency` flags set them); `None`: each controller's default in the modelled release
    /// (`controllers::flags::default_workers`).
    pub concurrency: Option<u32>,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            seed: 1,
            timing: Timing::default(),
            trace: TraceMode::Hash,
            mutants: Mutants::new(),
            max_events: 50_000_000,
            concurrency: None,
        }
    }
}

/// One management cluster: its API server and its controller managers.
pub struct Management {
    /// Name.
    pub name: String,
    /// The API server.
    pub api: ApiServer,
    /// Controller managers.
    pub managers: Vec<Manager>,
}

use events::Scheduled;
pub(crate) use events::{Ev, RELIST_BACKOFF_MS};

/// A simulation.
pub struct Sim {
    now: u64,
    seq: u64,
    queue: BinaryHeap<Reverse<Scheduled>>,
    /// The seed's streams.
    pub rng: RngTree,
    /// Management clusters.
    pub mgmt: Vec<Management>,
    /// The world.
    pub world: World,
    /// The trace.
    pub trace: Trace,
    /// Mutants.
    pub mutants: Mutants,
    events: u64,
    version: u64,
    gc_rng: ChaCha8Rng,
    max_events: u64,
    concurrency: Option<u32>,
    /// Changes kept for watch streams (served mode), as (management index, change).
    pub change_log: Option<Vec<(usize, Change)>>,
    /// Objects written since a wait last checked its predicate (while a wait follows changes), as
    /// (management index, the object after the write).
    written: Option<Vec<(usize, Arc<Object>)>>,
    /// Fault state.
    pub faults: crate::faults::Faults,
    /// Invariant checkers.
    pub invariants: crate::invariants::Invariants,
    /// Machine phases over time (when recording).
    pub timeline: Option<timeline::TimelineRecorder>,
    /// Who is writing now (for invariants that judge a controller's own actions).
    actor: String,
    /// Raised from outside (a signal, a wall-time limit) to stop processing events; see [`Sim::halted`].
    interrupt: Option<capi_scenarios::StopFlag>,
    /// The scenario's own invariants (`invariants:`), see [`Sim::set_scenario_invariants`].
    scenario_invariants: Vec<ScenarioInvariant>,
    /// The [`Sim::version`] at which they were last checked.
    scenario_invariants_checked: u64,
    /// Background `clusterctl move`s, in the order they started.
    pub(crate) clusterctl_jobs: Vec<crate::clusterctl::background::Job>,
}

/// A scenario-level invariant being checked.
struct ScenarioInvariant {
    label: String,
    predicate: capi_scenarios::Predicate,
    reads_workload: bool,
    broken: bool,
}

impl Sim {
    /// A simulation with no management cluster yet.
    pub fn new(cfg: SimConfig) -> Sim {
        let rng = RngTree::new(cfg.seed);
        Sim {
            now: 0,
            seq: 0,
            queue: BinaryHeap::new(),
            rng,
            mgmt: Vec::new(),
            world: World::new(cfg.timing, rng.stream("world/timing")),
            trace: Trace::new(cfg.trace),
            mutants: cfg.mutants,
            events: 0,
            version: 0,
            gc_rng: rng.stream("gc"),
            max_events: cfg.max_events,
            concurrency: cfg.concurrency.map(|c| c.max(1)),
            change_log: None,
            written: None,
            faults: crate::faults::Faults::new(rng.stream("faults")),
            invariants: crate::invariants::Invariants::default(),
            timeline: None,
            actor: String::new(),
            interrupt: None,
            scenario_invariants: Vec::new(),
            scenario_invariants_checked: u64::MAX,
            clusterctl_jobs: Vec::new(),
        }
    }

    /// Simulated time (ms).
    pub fn now(&self) -> u64 {
        self.now
    }

    /// Events processed.
    pub fn events(&self) -> u64 {
        self.events
    }

    /// A counter that changes whenever anything observable changes.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Reconciles run, over every controller.
    pub fn reconciles(&self) -> u64 {
        self.mgmt.iter().flat_map(|m| &m.managers).map(|g| g.stats().reconciles).sum()
    }

    /// Whether the event budget is used up.
    pub fn out_of_events(&self) -> bool {
        self.events >= self.max_events
    }

    /// Stop processing events once `flag` is raised (the run is being interrupted from outside).
    /// Determinism is unaffected up to the point the flag is raised; an interrupted run's trace ends
    /// there and is reported as interrupted, never compared.
    pub fn set_interrupt(&mut self, flag: capi_scenarios::StopFlag) {
        self.interrupt = Some(flag);
    }

    /// Check these predicates at the end of every simulated instant in which anything changed (the
    /// states a watcher can see), from now on; the first time each does not hold is recorded as a
    /// `scenario-invariant` violation with its label and what was seen.
    pub fn set_scenario_invariants(&mut self, invariants: Vec<(String, capi_scenarios::Predicate)>) {
        self.scenario_invariants = invariants
            .into_iter()
            .map(|(label, predicate)| ScenarioInvariant { reads_workload: predicate.reads_workload(), label, predicate, broken: false })
            .collect();
        self.scenario_invariants_checked = u64::MAX;
    }

    fn check_scenario_invariants(&mut self) {
        if self.scenario_invariants_checked == self.version || self.scenario_invariants.iter().all(|i| i.broken) {
            return;
        }
        self.scenario_invariants_checked = self.version;
        let mut invariants = std::mem::take(&mut self.scenario_invariants);
        if invariants.iter().any(|i| i.reads_workload && !i.broken) {
            let now = self.now;
            self.world.refresh_views(now);
        }
        for inv in invariants.iter_mut().filter(|i| !i.broken) {
            if !capi_scenarios::predicate::holds(&inv.predicate, self) {
                inv.broken = true;
                let detail = capi_scenarios::predicate::evaluate(&inv.predicate, self).detail;
                self.invariants.violations.push(capi_scenarios::report::Violation {
                    invariant: "scenario-invariant".into(),
                    message: format!("{} does not hold: {detail}", inv.label),
                    event_index: self.events,
                    at_ms: self.now,
                });
            }
        }
        self.scenario_invariants = invariants;
    }

    /// Whether event processing must stop: the event budget is used up or the run is interrupted.
    pub fn halted(&self) -> bool {
        self.out_of_events() || self.interrupt.as_ref().is_some_and(capi_scenarios::StopFlag::is_stopped)
    }

    /// Start (`true`) or stop keeping the objects written, for [`Sim::take_written`].
    pub fn keep_written(&mut self, on: bool) {
        self.written = on.then(Vec::new);
    }

    /// The objects written since the last call (or since [`Sim::keep_written`]), as (management
    /// index, the object after the write); empty when not kept.
    pub fn take_written(&mut self) -> Vec<(usize, Arc<Object>)> {
        self.written.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// Index of a management cluster by name (the first for `None`).
    pub fn management_index(&self, name: Option<&str>) -> Option<usize> {
        match name {
            None => (!self.mgmt.is_empty()).then_some(0),
            Some(n) => self.mgmt.iter().position(|m| m.name == n),
        }
    }

    pub(crate) fn schedule(&mut self, at: u64, ev: Ev) {
        self.seq += 1;
        self.queue.push(Reverse(Scheduled { at: at.max(self.now), seq: self.seq, ev }));
    }

    /// Give background move `job` its next turn at `at`.
    pub(crate) fn schedule_clusterctl(&mut self, at: u64, job: usize) {
        self.schedule(at, Ev::Clusterctl { job });
    }

    /// Something a wait may look at changed outside the store (a background step ended).
    pub(crate) fn touch(&mut self) {
        self.version += 1;
    }

    /// Where the background step of that name is.
    pub fn async_step(&self, name: &str) -> Option<capi_scenarios::predicate::AsyncStatus> {
        self.clusterctl_jobs.iter().find(|j| j.name() == name).map(|j| j.status())
    }

    /// Record a trace line.
    pub fn record(&mut self, actor: &str, args: std::fmt::Arguments<'_>) {
        self.trace.record(self.now, self.events, actor, args);
    }

    /// Time of the next event.
    pub fn next_event_at(&self) -> Option<u64> {
        self.queue.peek().map(|Reverse(s)| s.at)
    }

    /// Process one event; false when there is none.
    pub fn step(&mut self) -> bool {
        let Some(Reverse(s)) = self.queue.pop() else { return false };
        self.now = s.at;
        self.events += 1;
        self.handle(s.ev);
        self.check_invariants();
        crate::faults::check_triggers(self);
        if !self.scenario_invariants.is_empty() && self.next_event_at() != Some(self.now) {
            self.check_scenario_invariants();
        }
        true
    }

    /// Process every event up to time `t`, then set the clock to `t`.
    pub fn run_until(&mut self, t: u64) {
        while self.next_event_at().is_some_and(|a| a <= t) && !self.halted() {
            self.step();
        }
        self.now = self.now.max(t);
        self.faults_after_time_advance();
    }

    /// Run until `check` holds or `deadline` passes. Returns whether it held. The check runs at the
    /// end of every simulated instant in which something changed (after the last event of that
    /// millisecond), so a wait sees every state a client watching the API server could see, however
    /// briefly it lasts (a Machine count that dips while a replacement is created).
    pub fn run_while_not(&mut self, deadline: u64, mut check: impl FnMut(&mut Sim) -> bool) -> bool {
        if check(self) {
            return true;
        }
        let mut seen = self.version;
        loop {
            match self.next_event_at() {
                Some(at) if at <= deadline && !self.halted() => {
                    self.step();
                    let instant_over = self.next_event_at() != Some(self.now);
                    if instant_over && self.version != seen {
                        seen = self.version;
                        if check(self) {
                            return true;
                        }
                    }
                }
                _ => {
                    self.now = self.now.max(deadline);
                    return check(self);
                }
            }
        }
    }

    fn handle(&mut self, ev: Ev) {
        match ev {
            Ev::Deliver { m, g } => self.deliver(m, g),
            Ev::Dispatch { m, g, c } => self.dispatch(m, g, c),
            Ev::Wake { m, g, c } => self.wake(m, g, c),
            Ev::WorkerFree { m, g, c, key, epoch, priority, requeue } => self.worker_free((m, g, c), key, epoch, priority, requeue),
            Ev::Gc { m, work } => {
                self.actor.clear();
                self.actor.push_str("garbage-collector");
                let now = self.now;
                let (follow, notes) = gc::process(&mut self.mgmt[m].api, &work, now);
                for n in notes {
                    self.record("garbage-collector", format_args!("{n}"));
                }
                for w in follow {
                    let d = self.gc_delay();
                    self.schedule(now + d, Ev::Gc { m, work: w });
                }
                self.after_writes(m);
                self.actor.clear();
            }
            Ev::World(w) => {
                let now = self.now;
                self.sync_world_configmaps();
                self.world.handle(w, now);
                self.apply_world_patches();
                self.after_world();
            }
            Ev::Resync { m, g } => self.resync(m, g),
            Ev::ManagerRestart { m, g } => self.restart_manager(m, g),
            Ev::Relist { m, g } => self.relist(m, g),
            Ev::Fault(f) => self.handle_fault(f),
            Ev::Clusterctl { job } => crate::clusterctl::background::advance(self, job),
        }
    }

    /// Bootstrap scripts that poll a management-cluster ConfigMap (`world::cloudinit`) see it as the
    /// API server has it now.
    fn sync_world_configmaps(&mut self) {
        for (ns, name) in self.world.wanted_configmaps() {
            let key = ObjKey::new(Kind::ConfigMap, &ns, &name);
            let v = self.mgmt.first().and_then(|m| m.api.store.get(&key)).map(|o| o.to_json());
            self.world.mgmt_configmaps.insert((ns, name), v);
        }
    }

    /// The patches bootstrap scripts sent to management-cluster ConfigMaps, written as a client would.
    fn apply_world_patches(&mut self) {
        for ((ns, name), patch) in std::mem::take(&mut self.world.mgmt_patches) {
            let Ok(p) = serde_json::from_str::<serde_json::Value>(&patch) else { continue };
            let key = ObjKey::new(Kind::ConfigMap, &ns, &name);
            if let Err(e) = self.patch(0, &key, &Patch::Merge(p), Subresource::Main) {
                self.record("world", format_args!("bootstrap script patch of ConfigMap {ns}/{name} failed: {}", e.message));
            }
        }
    }

    fn gc_delay(&mut self) -> u64 {
        let r = self.world.timing.gc_delay_ms;
        rng::between(&mut self.gc_rng, r.0, r.1)
    }

    fn check_invariants(&mut self) {
        let mut inv = std::mem::take(&mut self.invariants);
        inv.check(self);
        self.invariants = inv;
    }

    fn faults_after_time_advance(&mut self) {
        crate::faults::check_triggers(self);
    }

    fn handle_fault(&mut self, f: crate::faults::FaultEvent) {
        crate::faults::handle(self, f);
    }
}

#[cfg(test)]
mod tests;

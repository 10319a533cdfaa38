//! The deterministic discrete-event engine. It owns virtual time (ms), the one event queue ordered by
//! (time, sequence number), the seeded random streams, the management clusters (API server + controller
//! managers) and the world, and it is the only place where anything happens: watch deliveries,
//! reconciles, garbage collection, world timers and faults are all events.
//!
//! Architecture invariant: nothing here reads the wall clock, draws OS randomness, spawns threads or
//! iterates a hash map; the same seed and the same inputs give the same trace, byte for byte.

pub mod rng;
pub mod timeline;
pub mod trace;

use crate::controllers;
use crate::features::FeatureGates;
use crate::kinds::Kind;
use crate::mutants::Mutants;
use crate::object::{ObjKey, Object};
use crate::runtime::{Ctx, Delivery, Manager};
use crate::store::api::{ApiServer, Patch, WriteOptions, Written};
use crate::store::gc::{self, GcWork};
use crate::store::{ApiError, Change, ChangeKind, Deleted, Store, Subresource};
use crate::world::timing::Timing;
use crate::world::{World, WorldEvent};
use capi_scenarios::model::Propagation;
use rand_chacha::ChaCha8Rng;
use rng::RngTree;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fmt::Write as _;
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

/// Reconnect delay of a reflector after its watch broke (client-go's reflector backoff starts at
/// 800ms with full jitter).
const RELIST_BACKOFF_MS: (u64, u64) = (800, 1_600);

/// Engine events.
#[derive(Clone, Debug)]
pub(crate) enum Ev {
    Deliver {
        m: usize,
        g: usize,
    },
    Dispatch {
        m: usize,
        g: usize,
        c: usize,
    },
    Wake {
        m: usize,
        g: usize,
        c: usize,
        key: ObjKey,
        at: u64,
    },
    WorkerFree {
        m: usize,
        g: usize,
        c: usize,
        key: ObjKey,
    },
    Gc {
        m: usize,
        work: GcWork,
    },
    World(WorldEvent),
    Resync {
        m: usize,
        g: usize,
    },
    ManagerRestart {
        m: usize,
        g: usize,
    },
    Relist {
        m: usize,
        g: usize,
    },
    Fault(crate::faults::FaultEvent),
    /// A background `clusterctl move`'s next turn.
    Clusterctl {
        job: usize,
    },
}

struct Scheduled {
    at: u64,
    seq: u64,
    ev: Ev,
}

impl PartialEq for Scheduled {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.seq) == (o.at, o.seq)
    }
}
impl Eq for Scheduled {}
impl PartialOrd for Scheduled {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Scheduled {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(o.at, o.seq))
    }
}

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

    /// Add a management cluster as `clusterctl init` sets it up; returns its index.
    pub fn add_management(&mut self, name: &str, gates: FeatureGates) -> usize {
        let m = self.mgmt.len();
        let store = Store::new(self.rng.derive(&format!("uids/{name}")));
        let api = ApiServer::new(store, gates.clone(), crate::webhooks::all());
        let workers = self.concurrency;
        let managers = controllers::managers(&gates)
            .into_iter()
            .map(|(mgr_name, ctrls)| {
                let rng = self.rng.stream(&format!("manager/{name}/{mgr_name}"));
                let tree = self.rng;
                let mgmt_name = name.to_string();
                Manager::new(mgr_name, ctrls, workers, rng, move |c| tree.stream(&format!("names/{mgmt_name}/{mgr_name}/{c}")))
            })
            .collect::<Vec<_>>();
        let n = managers.len();
        self.mgmt.push(Management { name: name.to_string(), api, managers });
        let now = self.now;
        for g in 0..n {
            let period = self.world.timing.resync_period_ms;
            let d = rng::between(&mut self.mgmt[m].managers[g].rng, period.0, period.1);
            self.schedule(now + d, Ev::Resync { m, g });
        }
        self.record("engine", format_args!("management cluster {name} initialised (feature gates {:?})", gates.describe()));
        m
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
            Ev::Wake { m, g, c, key, at } => {
                let mgr = &mut self.mgmt[m].managers[g];
                if mgr.up {
                    mgr.controllers[c].queue.wake(&key, at);
                    self.ensure_dispatch(m, g, c);
                }
            }
            Ev::WorkerFree { m, g, c, key } => {
                let slot = &mut self.mgmt[m].managers[g].controllers[c];
                slot.queue.done(&key);
                slot.busy = slot.busy.saturating_sub(1);
                self.ensure_dispatch(m, g, c);
            }
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

    fn deliver(&mut self, m: usize, g: usize) {
        let now = self.now;
        let mut keys = Vec::new();
        let mut relist_at = None;
        {
            let mgr = &mut self.mgmt[m].managers[g];
            // Streams of different kinds may schedule an earlier delivery than one already queued; a
            // Deliver event that was overtaken that way finds deliver_scheduled pointing elsewhere.
            if mgr.deliver_scheduled == Some(now) {
                mgr.deliver_scheduled = None;
            }
            while let Some(d) = mgr.inflight.pop_due(now) {
                if !mgr.up {
                    continue;
                }
                match d {
                    Delivery::Change(ch) => {
                        if mgr.watch_broken {
                            continue;
                        }
                        if mgr.drop_probability > 0.0 && rng::chance(&mut mgr.rng, mgr.drop_probability) {
                            // The watch connection breaks: this and every later change is lost until
                            // the reflector reconnects and relists (client-go `Reflector.ListAndWatch`,
                            // retried with a backoff).
                            mgr.dropped += 1;
                            mgr.watch_broken = true;
                            relist_at = Some(now + rng::between(&mut mgr.rng, RELIST_BACKOFF_MS.0, RELIST_BACKOFF_MS.1));
                            continue;
                        }
                        mgr.observe(&ch, &mut keys);
                    }
                    Delivery::Notice(n) => {
                        for (i, slot) in mgr.controllers.iter().enumerate() {
                            let mut out = Vec::new();
                            slot.reconciler.map_notice(&n, &mgr.cache, &mut out);
                            keys.extend(out.into_iter().map(|k| (i, k)));
                        }
                    }
                }
            }
        }
        self.enqueue(m, g, keys);
        if let Some(at) = relist_at {
            let name = self.mgmt[m].managers[g].name;
            self.record("engine", format_args!("manager {name}: watch broken; relists at {at}ms"));
            self.schedule(at, Ev::Relist { m, g });
        }
        let mgr = &mut self.mgmt[m].managers[g];
        if let Some(at) = mgr.inflight.next_at() {
            if mgr.deliver_scheduled.is_none_or(|t| t > at) {
                mgr.deliver_scheduled = Some(at);
                self.schedule(at, Ev::Deliver { m, g });
            }
        }
    }

    fn enqueue(&mut self, m: usize, g: usize, keys: Vec<(usize, ObjKey)>) {
        let mut touched = Vec::new();
        for (c, key) in keys {
            self.mgmt[m].managers[g].controllers[c].queue.add(key);
            if !touched.contains(&c) {
                touched.push(c);
            }
        }
        for c in touched {
            self.ensure_dispatch(m, g, c);
        }
    }

    fn ensure_dispatch(&mut self, m: usize, g: usize, c: usize) {
        let now = self.now;
        let mgr = &mut self.mgmt[m].managers[g];
        if !mgr.up {
            return;
        }
        let slot = &mut mgr.controllers[c];
        if !slot.dispatch_scheduled && slot.busy < slot.workers && slot.queue.ready_len() > 0 {
            slot.dispatch_scheduled = true;
            self.schedule(now, Ev::Dispatch { m, g, c });
        }
    }

    fn dispatch(&mut self, m: usize, g: usize, c: usize) {
        self.mgmt[m].managers[g].controllers[c].dispatch_scheduled = false;
        if !self.mgmt[m].managers[g].up {
            return;
        }
        loop {
            let slot = &mut self.mgmt[m].managers[g].controllers[c];
            if slot.busy >= slot.workers {
                break;
            }
            let Some(key) = slot.queue.get() else { break };
            self.run_reconcile(m, g, c, key);
            if !self.mgmt[m].managers[g].up {
                break;
            }
        }
    }

    /// The controllers of a management cluster as (manager, slot, name, kind of object reconciled).
    pub fn controllers(&self, m: usize) -> Vec<(usize, usize, &'static str, Kind)> {
        let mut out = Vec::new();
        for (g, mgr) in self.mgmt[m].managers.iter().enumerate() {
            for (c, slot) in mgr.controllers.iter().enumerate() {
                out.push((g, c, slot.reconciler.name(), slot.reconciler.kind()));
            }
        }
        out
    }

    /// Run one reconcile at once, outside the schedule (benchmarks and tests): the controller reads
    /// its manager's cache, its writes are committed and fanned out as usual; no requeue is scheduled.
    pub fn reconcile_now(&mut self, m: usize, g: usize, c: usize, key: &ObjKey) -> crate::runtime::ReconcileResult {
        let now = self.now;
        let mgmt = &mut self.mgmt[m];
        let Manager { cache, controllers, .. } = &mut mgmt.managers[g];
        let slot = &mut controllers[c];
        let mut ctx = Ctx::new(now, cache, &mut mgmt.api, &mut self.world, &mut slot.names, &self.mutants, &mgmt.name);
        let result = slot.reconciler.reconcile(&mut ctx, key);
        slot.stats.reconciles += 1;
        self.after_writes(m);
        result
    }

    fn run_reconcile(&mut self, m: usize, g: usize, c: usize, key: ObjKey) {
        let now = self.now;
        // CAPI's reconciler wrapper: at most one reconcile per object per interval.
        if let Some(wait) = self.mgmt[m].managers[g].controllers[c].queue.rate_limit(&key, now) {
            let slot = &mut self.mgmt[m].managers[g].controllers[c];
            slot.queue.done(&key);
            if let Some(at) = slot.queue.add_after(key.clone(), wait, now) {
                self.schedule(at, Ev::Wake { m, g, c, key, at });
            }
            return;
        }
        let crash_after = self.faults.take_crash_for(m, g);
        let mgmt = &mut self.mgmt[m];
        let mgr = &mut mgmt.managers[g];
        let mgr_name = mgr.name;
        let (result, spent, notes, crashed, name) = {
            let Manager { cache, controllers, recorder, .. } = mgr;
            let slot = &mut controllers[c];
            let mut ctx = Ctx::new(now, cache, &mut mgmt.api, &mut self.world, &mut slot.names, &self.mutants, &mgmt.name);
            ctx.crash_after_writes = crash_after;
            let result = slot.reconciler.reconcile(&mut ctx, &key);
            let name = slot.reconciler.name();
            let (spent, mut notes, crashed, events) = (ctx.spent_ms, ctx.notes, ctx.crashed, ctx.events);
            // The recorder writes what the reconcile recorded (client-go's broadcaster does it right
            // after), named for the controller as `GetEventRecorderFor` names it.
            if !events.is_empty() {
                let component = format!("{name}-controller");
                for ev in &events {
                    let done = recorder.record(&mut mgmt.api, now, &component, ev);
                    notes.push(format!(
                        "event {} {} {}/{}: {} ({})",
                        ev.type_.as_str(),
                        ev.reason,
                        ev.object.kind.name(),
                        ev.object.name,
                        ev.message,
                        done.describe()
                    ));
                }
            }
            (result, spent, notes, crashed, name)
        };
        let reconcile_ms = self.world.timing.reconcile_ms;
        let mgr = &mut self.mgmt[m].managers[g];
        let cost = rng::between(&mut mgr.rng, reconcile_ms.0, reconcile_ms.1) + spent;
        let slot = &mut mgr.controllers[c];
        slot.stats.reconciles += 1;
        slot.busy += 1;
        let mut wake = None;
        // The delay the queue applied: a requeue's or an error's backoff (the trace's words for it).
        let delay = match &result {
            Ok(a) => {
                slot.queue.forget(&key);
                // Requeues are never shorter than the rate-limit interval.
                let requeue = a.requeue_after_ms.map(|d| d.max(crate::runtime::workqueue::RATE_LIMIT_INTERVAL_MS));
                if let Some(d) = requeue {
                    slot.stats.requeues += 1;
                    wake = slot.queue.add_after(key.clone(), d, now).map(|at| (key.clone(), at));
                }
                requeue
            }
            Err(_) => {
                slot.stats.errors += 1;
                let d = slot.queue.rate_limited_delay(&key, now);
                wake = slot.queue.add_after(key.clone(), d, now).map(|at| (key.clone(), at));
                Some(d)
            }
        };
        // Who makes the writes below: the trace's actor and the invariants' (one buffer, reused).
        self.actor.clear();
        let _ = write!(self.actor, "{mgr_name}/{name}");
        if self.trace.enabled() {
            let actor = &self.actor;
            for n in &notes {
                self.trace.record(now, self.events, actor, format_args!("note {n}"));
            }
            let (ns, name) = (&key.ns, &key.name);
            match (&result, delay) {
                (Ok(_), Some(d)) => self.trace.record(now, self.events, actor, format_args!("reconcile {ns}/{name} ok requeue={d}")),
                (Ok(_), None) => self.trace.record(now, self.events, actor, format_args!("reconcile {ns}/{name} ok")),
                (Err(e), d) => {
                    self.trace.record(now, self.events, actor, format_args!("reconcile {ns}/{name} error backoff={}: {e}", d.unwrap_or(0)))
                }
            }
        }
        if let Some((k, at)) = wake {
            self.schedule(at, Ev::Wake { m, g, c, key: k, at });
        }
        self.schedule(now + cost, Ev::WorkerFree { m, g, c, key });
        // A reconcile's writes reach watchers when it finishes (synchronous work such as `docker run`
        // delays them), although the API server commits them as they are made.
        self.after_writes_visible(m, now + cost);
        self.actor.clear();
        if crashed {
            self.crash_manager(m, g);
        }
    }

    /// Fan committed writes out: trace, GC triggers, watch deliveries to every manager.
    pub(crate) fn after_writes(&mut self, m: usize) {
        let now = self.now;
        self.after_writes_visible(m, now);
    }

    /// As [`Sim::after_writes`], with watch deliveries and GC reactions starting at `visible_at`.
    fn after_writes_visible(&mut self, m: usize, visible_at: u64) {
        let changes = self.mgmt[m].api.store.take_changes();
        if !changes.is_empty() {
            self.version += 1;
        }
        let now = self.now;
        for ch in changes {
            if self.trace.enabled() {
                let o = &ch.object;
                self.trace.record(
                    now,
                    self.events,
                    "apiserver",
                    format_args!("{} {} {}/{} rv={}", ch.kind.as_str(), o.kind, o.meta.namespace, o.meta.name, o.meta.resource_version),
                );
                if self.trace.full() {
                    if let Some(old) = &ch.old {
                        self.trace.record_changed(trace::changed_paths(&old.to_json(), &o.to_json()));
                    }
                }
            }
            if !self.invariants.disabled {
                let mut inv = std::mem::take(&mut self.invariants);
                let actor = std::mem::take(&mut self.actor);
                inv.observe(self, m, if actor.is_empty() { "user" } else { &actor }, &ch);
                self.actor = actor;
                self.invariants = inv;
            }
            let mut works = Vec::new();
            gc::triggers(&ch, &self.mgmt[m].api, &mut works);
            for w in works {
                let d = self.gc_delay();
                self.schedule(visible_at + d, Ev::Gc { m, work: w });
            }
            let kind = ch.object.kind;
            for g in 0..self.mgmt[m].managers.len() {
                if self.mgmt[m].managers[g].watches(kind) {
                    self.push_delivery_at(m, g, Delivery::Change(ch.clone()), visible_at);
                }
            }
            if let Some(t) = &mut self.timeline {
                t.observe(&ch, now);
            }
            if let Some(w) = &mut self.written {
                w.push((m, ch.object.clone()));
            }
            if let Some(log) = &mut self.change_log {
                log.push((m, ch));
            }
        }
        self.after_world();
    }

    fn push_delivery(&mut self, m: usize, g: usize, d: Delivery) {
        let now = self.now;
        self.push_delivery_at(m, g, d, now);
    }

    fn push_delivery_at(&mut self, m: usize, g: usize, d: Delivery, now: u64) {
        let lag = self.world.timing.watch_delay_ms;
        let mgr = &mut self.mgmt[m].managers[g];
        let delay = rng::between(&mut mgr.rng, lag.0, lag.1) + mgr.extra_lag_ms;
        let at = mgr.inflight.push(now + delay, d);
        if mgr.deliver_scheduled.is_none_or(|t| t > at) {
            mgr.deliver_scheduled = Some(at);
            self.schedule(at, Ev::Deliver { m, g });
        }
    }

    /// After changing the world from outside a reconcile (user actions, faults): schedule its timers
    /// and deliver its notices.
    pub fn after_world_pub(&mut self) {
        self.after_world();
    }

    /// Move world timers into the queue and world notices to the managers.
    pub(crate) fn after_world(&mut self) {
        let timers = self.world.take_timers();
        for (at, ev) in timers {
            self.schedule(at, Ev::World(ev));
        }
        let notes = self.world.take_notes();
        let notices = self.world.take_notices_at(self.now);
        if !notes.is_empty() || !notices.is_empty() {
            self.version += 1;
        }
        let removals = std::mem::take(&mut self.world.etcd_removals);
        if let Some(t) = &mut self.timeline {
            // Node Ready and etcd membership for the timeline: the clusters this batch touched.
            let touched: std::collections::BTreeSet<&str> = notices
                .iter()
                .filter_map(|n| match n {
                    crate::world::Notice::Container { cluster, .. } => Some(cluster.as_str()),
                    n => n.workload_cluster(),
                })
                .chain(removals.iter().map(|r| r.cluster.as_str()))
                .filter(|c| !c.is_empty())
                .collect();
            for c in touched {
                t.observe_workload(c, self.world.workloads.get(c), self.now);
            }
        }
        if !self.invariants.disabled && (!notices.is_empty() || !removals.is_empty()) {
            let clusters: Vec<String> = notices.iter().filter_map(|n| n.workload_cluster().map(str::to_string)).collect();
            let mut inv = std::mem::take(&mut self.invariants);
            inv.observe_world(self, &clusters, &removals);
            self.invariants = inv;
        }
        for n in notes {
            self.record("world", format_args!("{n}"));
        }
        for notice in notices {
            for m in 0..self.mgmt.len() {
                for g in 0..self.mgmt[m].managers.len() {
                    self.push_delivery(m, g, Delivery::Notice(notice.clone()));
                }
            }
        }
    }

    fn resync(&mut self, m: usize, g: usize) {
        let now = self.now;
        let mut keys = Vec::new();
        {
            let mgr = &self.mgmt[m].managers[g];
            if mgr.up {
                for o in mgr.cache.iter() {
                    let ch = Change { kind: ChangeKind::Modified, object: o.clone(), old: Some(o.clone()) };
                    mgr.map_change(&ch, &mut keys);
                }
            }
        }
        self.enqueue(m, g, keys);
        let period = self.world.timing.resync_period_ms;
        let d = rng::between(&mut self.mgmt[m].managers[g].rng, period.0, period.1);
        self.schedule(now + d, Ev::Resync { m, g });
    }

    /// A manager process dies: its cache, queues and in-flight events are lost; it comes back later.
    pub(crate) fn crash_manager(&mut self, m: usize, g: usize) {
        let now = self.now;
        let mgr = &mut self.mgmt[m].managers[g];
        if !mgr.up {
            return;
        }
        mgr.up = false;
        mgr.watch_broken = false;
        mgr.cache = Default::default();
        mgr.inflight.clear();
        for s in &mut mgr.controllers {
            s.queue.clear();
            s.busy = 0;
            s.dispatch_scheduled = false;
        }
        let name = mgr.name;
        let restart = rng::between(&mut mgr.rng, 5_000, 20_000);
        self.record("engine", format_args!("manager {name} crashed; restarts in {restart}ms"));
        self.schedule(now + restart, Ev::ManagerRestart { m, g });
    }

    /// The reflector reconnects after a broken watch: a fresh list replaces the cache, and every
    /// difference from what the cache held is handled as a change.
    fn relist(&mut self, m: usize, g: usize) {
        let mut keys = Vec::new();
        {
            let mgmt = &mut self.mgmt[m];
            let mgr = &mut mgmt.managers[g];
            if !mgr.up || !mgr.watch_broken {
                return;
            }
            mgr.watch_broken = false;
            let mut changes = Vec::new();
            for o in mgmt.api.store.objects().iter().filter(|o| mgr.watches(o.kind)) {
                match mgr.cache.get(&o.key()) {
                    Some(c) if c.meta.resource_version == o.meta.resource_version => {}
                    Some(c) => changes.push(Change { kind: ChangeKind::Modified, object: o.clone(), old: Some(c.clone()) }),
                    None => changes.push(Change { kind: ChangeKind::Added, object: o.clone(), old: None }),
                }
            }
            for c in mgr.cache.iter() {
                if mgmt.api.store.get(&c.key()).is_none() {
                    changes.push(Change { kind: ChangeKind::Deleted, object: c.clone(), old: None });
                }
            }
            for ch in &changes {
                mgr.observe(ch, &mut keys);
            }
        }
        let name = self.mgmt[m].managers[g].name;
        self.record("engine", format_args!("manager {name} relisted after a broken watch"));
        self.enqueue(m, g, keys);
    }

    fn restart_manager(&mut self, m: usize, g: usize) {
        let mut keys = Vec::new();
        {
            let mgmt = &mut self.mgmt[m];
            let mgr = &mut mgmt.managers[g];
            mgr.up = true;
            // Informers start with a fresh list of every watched kind.
            for o in mgmt.api.store.objects().iter() {
                if mgr.watches(o.kind) {
                    mgr.cache.insert(o.clone());
                }
            }
            for o in mgr.cache.iter() {
                let ch = Change { kind: ChangeKind::Added, object: o.clone(), old: None };
                mgr.map_change(&ch, &mut keys);
            }
        }
        let name = self.mgmt[m].managers[g].name;
        self.record("engine", format_args!("manager {name} restarted; caches rebuilt from a fresh list"));
        self.enqueue(m, g, keys);
    }

    // ----- What users do (scenario steps, clusterctl, the served API) -----

    fn user_opts(&self) -> WriteOptions {
        WriteOptions { now: self.now, dry_run: false }
    }

    /// `kubectl apply` (client-side): create, or three-way merge against the last applied configuration.
    pub fn apply(&mut self, m: usize, value: &serde_json::Value) -> Result<Written, ApiError> {
        let mut obj = Object::from_json(value).map_err(ApiError::bad_request)?;
        if obj.kind.info().namespaced && obj.meta.namespace.is_empty() {
            obj.meta.namespace = crate::object::shared_namespace("default");
        }
        let key = obj.key();
        let applied = crate::apply::last_applied(value);
        let opts = self.user_opts();
        let r = match self.mgmt[m].api.store.get(&key).cloned() {
            None => {
                obj.meta.annotations.insert(crate::apply::LAST_APPLIED.into(), applied);
                obj.meta.resource_version = 0;
                obj.meta.uid = "".into();
                self.mgmt[m].api.create(obj, opts)
            }
            Some(cur) => {
                let patch = crate::apply::three_way_patch(&cur, value, &applied);
                match patch {
                    None => Ok(Written { object: cur, warnings: vec![], changed: false }),
                    Some(p) => self.mgmt[m].api.patch(&key, &Patch::Merge(p), Subresource::Main, opts),
                }
            }
        };
        self.after_writes(m);
        r
    }

    /// A user patch.
    pub fn patch(&mut self, m: usize, key: &ObjKey, patch: &Patch, sub: Subresource) -> Result<Written, ApiError> {
        let opts = self.user_opts();
        let r = self.mgmt[m].api.patch(key, patch, sub, opts);
        self.after_writes(m);
        r
    }

    /// A user write of the `/scale` subresource (`kubectl scale`).
    pub fn scale(
        &mut self,
        m: usize,
        key: &ObjKey,
        replicas: i64,
        precondition_rv: Option<u64>,
        dry_run: bool,
    ) -> Result<Written, ApiError> {
        let opts = WriteOptions { now: self.now, dry_run };
        let r = self.mgmt[m].api.scale(key, replicas, precondition_rv, opts);
        self.after_writes(m);
        r
    }

    /// A user create.
    pub fn create(&mut self, m: usize, obj: Object, dry_run: bool) -> Result<Written, ApiError> {
        let opts = WriteOptions { now: self.now, dry_run };
        let r = self.mgmt[m].api.create(obj, opts);
        self.after_writes(m);
        r
    }

    /// A user update.
    pub fn update(
        &mut self,
        m: usize,
        obj: Object,
        sub: Subresource,
        precondition_rv: Option<u64>,
        dry_run: bool,
    ) -> Result<Written, ApiError> {
        let opts = WriteOptions { now: self.now, dry_run };
        let r = self.mgmt[m].api.update(obj, sub, precondition_rv, opts);
        self.after_writes(m);
        r
    }

    /// A user delete.
    pub fn delete(&mut self, m: usize, key: &ObjKey, propagation: Propagation) -> Result<Deleted, ApiError> {
        let opts = self.user_opts();
        let r = self.mgmt[m].api.delete(key, propagation, opts);
        self.after_writes(m);
        r
    }

    /// Apply objects to a workload cluster through its API (kubectl with the workload kubeconfig).
    pub fn apply_to_workload(&mut self, cluster: &str, objects: Vec<serde_json::Value>) -> Result<usize, String> {
        let now = self.now;
        let r = self.world.apply_to_workload(cluster, objects, now);
        self.after_world();
        r
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

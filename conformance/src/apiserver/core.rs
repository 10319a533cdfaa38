//! The one place the simulator lives: a dedicated thread owns the [`Sim`] (single-threaded and
//! deterministic; it is not `Send`, so it is built on that thread and never leaves it). Request
//! handlers send it jobs (closures over [`Core`]) and await the answer; between jobs the thread's
//! clock tick runs the simulation up to the simulated time the wall clock says. After every job and
//! tick the committed changes are published to the watch history and the Docker mirror.
//!
//! With the Docker mirror, the simulated host is compared with what was mirrored after every
//! simulation step, and simulated time stands still while the real engine has operations to do
//! (bounded by [`MAX_MIRROR_HOLD`]); the clock catches up afterwards, as it does after any stall.

use super::clock::Clock;
use super::docker_mirror::MirrorSync;
use super::history::{Event, History};
use super::status::Failure;
use capi_sim::engine::trace::TraceMode;
use capi_sim::features::FeatureGates;
use capi_sim::mutants::Mutants;
use capi_sim::store::Store;
use capi_sim::world::timing::Timing;
use capi_sim::{Sim, SimConfig};
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tokio::sync::{oneshot, watch};

/// How long one clock tick may process events before requests get a turn.
const TICK_BUDGET: Duration = Duration::from_millis(40);
/// How long catching up before a request may take (the rest waits for the next tick).
const JOB_BUDGET: Duration = Duration::from_millis(10);
/// Longest simulated time waits for the real Docker Engine in one go (a hung engine must not freeze
/// the simulation).
pub const MAX_MIRROR_HOLD: Duration = Duration::from_secs(10);

/// What watch streams wait on: the newest resourceVersion and an epoch that changes when every open
/// stream must end (compaction, shutdown).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pulse {
    /// Newest resourceVersion published.
    pub rv: u64,
    /// Bumped to end every open watch.
    pub epoch: u64,
    /// The server is shutting down.
    pub closed: bool,
}

/// The simulator and what its thread publishes to.
pub struct Core {
    /// The simulation.
    pub sim: Sim,
    /// Index of the served management cluster.
    pub m: usize,
    clock: Clock,
    history: Arc<RwLock<History>>,
    pulse: watch::Sender<Pulse>,
    /// The Docker mirror's simulator side (with `--docker`).
    pub mirror: Option<MirrorSync>,
    violations_reported: usize,
    now_ms: Arc<AtomicU64>,
    /// Print log lines.
    pub verbose: bool,
    /// Since when simulated time has been waiting for the mirror.
    held_since: Option<Instant>,
    hold_warned: bool,
}

impl Core {
    /// The pulse as last published (its epoch ends streams when it changes).
    pub fn pulse(&self) -> Pulse {
        *self.pulse.borrow()
    }

    /// The served API server's store.
    pub fn store(&self) -> &Store {
        &self.sim.mgmt[self.m].api.store
    }

    /// Simulated time (ms).
    pub fn now(&self) -> u64 {
        self.sim.now()
    }

    /// The shared history (read by watch streams).
    pub fn history(&self) -> &Arc<RwLock<History>> {
        &self.history
    }

    /// Whether simulated time must wait for the real Docker Engine to do what the mirror asked.
    fn mirror_holds(&mut self) -> bool {
        if !self.mirror.as_ref().is_some_and(MirrorSync::busy) {
            self.held_since = None;
            return false;
        }
        let since = *self.held_since.get_or_insert_with(Instant::now);
        if since.elapsed() < MAX_MIRROR_HOLD {
            return true;
        }
        if !self.hold_warned {
            eprintln!("capi-sim serve: docker mirror: the Docker Engine is slow (over {MAX_MIRROR_HOLD:?}); simulated time goes on");
            self.hold_warned = true;
        }
        false
    }

    /// Run the simulation towards the clock's target for at most `budget` of wall time; true when it
    /// caught up or waits for the Docker mirror.
    fn advance(&mut self, budget: Duration) -> bool {
        let start = Instant::now();
        let target = self.clock.target_ms(start);
        loop {
            if self.mirror_holds() {
                return true;
            }
            match self.sim.next_event_at() {
                Some(at) if at <= target && !self.sim.out_of_events() => {
                    if start.elapsed() >= budget {
                        return false;
                    }
                    self.sim.step();
                    if let Some(mirror) = &mut self.mirror {
                        mirror.sync(&self.sim.world.docker, self.verbose);
                    }
                }
                _ => {
                    self.sim.run_until(target);
                    return true;
                }
            }
        }
    }

    /// Move committed changes into the history, wake watch streams, and mirror the Docker host.
    pub fn publish(&mut self) {
        let changes = self.sim.change_log.as_mut().map(std::mem::take).unwrap_or_default();
        // Every committed write reaches the change log in the same engine call; should one still be
        // pending, the store's resourceVersion is not published, so no client can skip its event.
        let settled = !self.store().has_changes();
        let store_rv = self.store().resource_version();
        let rv = {
            let mut h = self.history.write().unwrap_or_else(|p| p.into_inner());
            for (m, ch) in changes {
                if m == self.m {
                    h.push(Event { rv: ch.object.meta.resource_version, kind: ch.kind, object: ch.object, old: ch.old });
                }
            }
            if settled {
                h.observe_rv(store_rv);
            }
            h.latest()
        };
        self.pulse.send_if_modified(|p| {
            let changed = p.rv != rv;
            p.rv = rv;
            changed
        });
        self.now_ms.store(self.sim.now(), Ordering::Relaxed);
        if let Some(mirror) = &mut self.mirror {
            mirror.sync(&self.sim.world.docker, self.verbose);
        }
        let violations = &self.sim.invariants.violations;
        if violations.len() > self.violations_reported {
            for v in &violations[self.violations_reported..] {
                eprintln!("capi-sim serve: invariant violated: {v:?}");
            }
            self.violations_reported = violations.len();
        }
    }

    /// Drop the retained history and end every open watch (an injected compaction).
    pub fn compact(&mut self) {
        self.history.write().unwrap_or_else(|p| p.into_inner()).compact();
        self.pulse.send_modify(|p| p.epoch += 1);
    }
}

/// What the simulator thread is built from.
pub struct CoreConfig {
    /// Seed.
    pub seed: u64,
    /// Timing profile.
    pub timing: Timing,
    /// `clusterctl init` variables (feature gates).
    pub init_vars: Vec<(String, String)>,
    /// Speed factor.
    pub speed: f64,
    /// Tick period.
    pub tick: Duration,
    /// Events kept for watch resumption.
    pub history_limit: usize,
    /// The Docker mirror's simulator side.
    pub mirror: Option<MirrorSync>,
    /// Where simulated time is published for the request handlers.
    pub now_ms: Arc<AtomicU64>,
    /// Print log lines.
    pub verbose: bool,
}

type Job = Box<dyn FnOnce(&mut Core) + Send>;

enum Msg {
    Job(Job),
    Stop,
}

/// A handle to the simulator thread (cheap to clone).
#[derive(Clone)]
pub struct SimHandle {
    tx: mpsc::Sender<Msg>,
}

impl SimHandle {
    /// Run `f` on the simulator thread at the current simulated time and return its result.
    pub async fn call<R: Send + 'static>(&self, f: impl FnOnce(&mut Core) -> R + Send + 'static) -> Result<R, Failure> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Msg::Job(Box::new(move |core| {
                let _ = tx.send(f(core));
            })))
            .map_err(|_| Failure::unavailable())?;
        rx.await.map_err(|_| Failure::internal("the simulator failed while handling the request (see the server log)"))
    }

    /// Ask the thread to stop after the jobs already queued.
    pub fn stop(&self) {
        let _ = self.tx.send(Msg::Stop);
    }
}

/// The running simulator thread.
pub struct Spawned {
    /// Handle for requests.
    pub handle: SimHandle,
    /// The thread.
    pub thread: JoinHandle<()>,
    /// The history it publishes to.
    pub history: Arc<RwLock<History>>,
    /// The pulse it publishes to.
    pub pulse: watch::Receiver<Pulse>,
    /// Sender side of the pulse (to close streams on shutdown).
    pub pulse_tx: watch::Sender<Pulse>,
}

/// Build the simulation on its own thread and start its clock.
pub fn spawn(cfg: CoreConfig) -> Result<Spawned, String> {
    let (tx, rx) = mpsc::channel::<Msg>();
    let (ready_tx, ready_rx) = mpsc::channel::<Result<(Arc<RwLock<History>>, watch::Sender<Pulse>), String>>();
    let thread = std::thread::Builder::new()
        .name("capi-sim".into())
        .spawn(move || {
            let built = std::panic::catch_unwind(AssertUnwindSafe(|| build(cfg)));
            let (core, tick) = match built {
                Ok(x) => x,
                Err(_) => {
                    let _ = ready_tx.send(Err("building the simulation panicked".into()));
                    return;
                }
            };
            let _ = ready_tx.send(Ok((core.history.clone(), core.pulse.clone())));
            run(core, rx, tick);
        })
        .map_err(|e| format!("cannot start the simulator thread: {e}"))?;
    let (history, pulse_tx) = ready_rx.recv().map_err(|_| "the simulator thread died while starting".to_string())??;
    let pulse = pulse_tx.subscribe();
    Ok(Spawned { handle: SimHandle { tx }, thread, history, pulse, pulse_tx })
}

fn build(cfg: CoreConfig) -> (Core, Duration) {
    let mut sim = Sim::new(SimConfig {
        seed: cfg.seed,
        timing: cfg.timing,
        trace: TraceMode::Off,
        mutants: Mutants::new(),
        max_events: u64::MAX,
        ..Default::default()
    });
    let gates = FeatureGates::from_init_vars(cfg.init_vars.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let m = sim.add_management("mgmt", gates);
    sim.change_log = Some(Vec::new());
    let rv = sim.mgmt[m].api.store.resource_version();
    let history = Arc::new(RwLock::new(History::new(rv, cfg.history_limit)));
    let (pulse, _) = watch::channel(Pulse { rv, epoch: 0, closed: false });
    let core = Core {
        sim,
        m,
        clock: Clock::new(0, cfg.speed),
        history,
        pulse,
        mirror: cfg.mirror,
        violations_reported: 0,
        now_ms: cfg.now_ms,
        verbose: cfg.verbose,
        held_since: None,
        hold_warned: false,
    };
    (core, cfg.tick)
}

fn run(mut core: Core, rx: mpsc::Receiver<Msg>, tick: Duration) {
    let mut next_tick = Instant::now();
    let mut panicked = false;
    loop {
        let now = Instant::now();
        if now >= next_tick {
            let r = std::panic::catch_unwind(AssertUnwindSafe(|| {
                let caught_up = core.advance(TICK_BUDGET);
                core.publish();
                caught_up
            }));
            match r {
                // Behind the clock: go on at once (after any queued request).
                Ok(false) => next_tick = Instant::now(),
                Ok(true) => next_tick = now + tick,
                Err(_) => {
                    if !panicked {
                        eprintln!("capi-sim serve: the simulation panicked; simulated time no longer advances");
                    }
                    panicked = true;
                    next_tick = now + Duration::from_secs(3600);
                }
            }
        }
        match rx.recv_timeout(next_tick.saturating_duration_since(Instant::now())) {
            Ok(Msg::Job(job)) => {
                let r = std::panic::catch_unwind(AssertUnwindSafe(|| {
                    if !panicked {
                        core.advance(JOB_BUDGET);
                    }
                    job(&mut core);
                    core.publish();
                }));
                if r.is_err() {
                    eprintln!("capi-sim serve: a request panicked in the simulator; answered 500");
                }
            }
            Ok(Msg::Stop) | Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
    }
    core.pulse.send_modify(|p| {
        p.closed = true;
        p.epoch += 1;
    });
    if let Some(mirror) = &mut core.mirror {
        mirror.finish();
    }
}

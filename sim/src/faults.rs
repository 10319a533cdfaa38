//! Fault injection (filled by the faults work): scheduled and triggered faults, their healing, and
//! the random fault profiles of swarm runs.

use crate::engine::Sim;
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;

/// A fault event in the engine's queue.
#[derive(Clone, Debug)]
pub enum FaultEvent {
    /// Start fault `id`.
    Start(usize),
    /// Heal fault `id`.
    Heal(usize),
}

/// Fault state.
pub struct Faults {
    /// The fault source's random stream.
    pub rng: ChaCha8Rng,
    crash_next: BTreeMap<(usize, usize), u32>,
}

impl Faults {
    /// No faults.
    pub fn new(rng: ChaCha8Rng) -> Self {
        Faults { rng, crash_next: BTreeMap::new() }
    }

    /// Whether the next reconcile of a manager crashes after N writes.
    pub fn take_crash_for(&mut self, m: usize, g: usize) -> Option<u32> {
        self.crash_next.remove(&(m, g))
    }
}

/// Handle a fault event.
pub fn handle(_sim: &mut Sim, _ev: FaultEvent) {}

/// Inject a fault from a scenario step.
pub fn inject(_sim: &mut Sim, spec: &capi_scenarios::model::FaultSpec) -> Result<String, String> {
    Err(format!("fault `{:?}` cannot be injected yet", spec.kind))
}

/// End of run: the liveness phase.
pub fn finish(_sim: &mut Sim) {}

impl Faults {
    /// Faults injected so far.
    pub fn records(&self) -> Vec<capi_scenarios::report::FaultRecord> {
        Vec::new()
    }
}

//! Invariants checked after every event (filled by the faults work).

use crate::engine::Sim;
use capi_scenarios::report::Violation;

/// The checkers and what they found.
#[derive(Default)]
pub struct Invariants {
    /// Violations found so far.
    pub violations: Vec<Violation>,
}

impl Invariants {
    /// Check after an event.
    pub fn check(&mut self, _sim: &Sim) {}
}

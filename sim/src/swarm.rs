//! Swarm runs (each seed draws its own fault mix from a profile and ends with the liveness phase) and
//! shrinking a failing seed's fault schedule to a minimal one that still breaks the same invariant.
//! The command line (`cargo xtask scenario swarm|replay|shrink`) is a thin layer over this module.

use crate::backend::{SimBackend, SimOptions};
use crate::engine::trace::TraceMode;
use crate::mutants::Mutants;
use capi_scenarios::model::FaultSpec;
use capi_scenarios::report::RunReport;
use capi_scenarios::runner::{self, RunOptions};
use capi_scenarios::{DurationMs, Scenario};

/// Run one seed in swarm mode: faults drawn from `profile` (none when `None`) plus `faults`, step
/// failures tolerated, the liveness phase at the end.
pub fn run_seed(
    scenario: &Scenario,
    seed: u64,
    profile: Option<&str>,
    mutants: &Mutants,
    faults: Vec<FaultSpec>,
    trace: TraceMode,
    timeline: bool,
) -> (RunReport, SimBackend) {
    let opts =
        SimOptions { trace, mutants: mutants.clone(), fault_profile: profile.map(str::to_string), faults, timeline, ..Default::default() };
    let mut backend = SimBackend::new(opts);
    let report =
        pollster::block_on(runner::run(&mut backend, scenario, &RunOptions { seed: Some(seed), swarm: true, ..Default::default() }));
    (report, backend)
}

/// The invariant a failing run broke first (`failed` when it failed otherwise).
pub fn first_invariant(r: &RunReport) -> Option<String> {
    r.violations.first().map(|v| v.invariant.clone()).or_else(|| (!r.passed).then(|| "failed".to_string()))
}

/// The outcome of a shrink.
#[derive(Debug, Clone)]
pub struct Shrunk {
    /// The invariant that fails.
    pub invariant: String,
    /// Faults the swarm run injected.
    pub original: Vec<FaultSpec>,
    /// The minimal schedule.
    pub minimal: Vec<FaultSpec>,
    /// Runs it took.
    pub runs: usize,
}

/// Shrink a failing seed's fault schedule: delta debugging over the faults (fewer), then each fault
/// earlier, shorter and with a simpler target, keeping every change that still breaks the invariant.
pub fn shrink(scenario: &Scenario, seed: u64, profile: &str, mutants: &Mutants) -> Result<Shrunk, String> {
    let (report, _) = run_seed(scenario, seed, Some(profile), mutants, Vec::new(), TraceMode::Hash, false);
    let Some(invariant) = first_invariant(&report) else { return Err(format!("seed {seed} passes: nothing to shrink")) };
    let original: Vec<FaultSpec> = report
        .faults
        .iter()
        .filter_map(|f| {
            let mut s = f.spec.clone()?;
            s.after = Some(DurationMs(f.at_ms));
            s.when = None;
            Some(s)
        })
        .collect();
    let mut runs = 1;
    let mut fails = |s: &[FaultSpec]| -> bool {
        runs += 1;
        let (r, _) = run_seed(scenario, seed, None, mutants, s.to_vec(), TraceMode::Off, false);
        r.violations.iter().any(|v| v.invariant == invariant) || (invariant == "failed" && !r.passed)
    };
    if !fails(&original) {
        return Err(format!(
            "seed {seed} fails with {invariant}, but not when its {} faults are replayed as an explicit schedule",
            original.len()
        ));
    }
    let mut cur = original.clone();
    if fails(&[]) {
        cur.clear();
    }
    let mut n = 2usize;
    while cur.len() >= 2 {
        let chunk = cur.len().div_ceil(n);
        let mut reduced = false;
        let chunks = n;
        for i in 0..chunks {
            let (lo, hi) = (i * chunk, ((i + 1) * chunk).min(cur.len()));
            if lo >= hi {
                continue;
            }
            let complement: Vec<FaultSpec> = cur[..lo].iter().chain(&cur[hi..]).cloned().collect();
            if fails(&complement) {
                cur = complement;
                n = (n - 1).max(2);
                reduced = true;
                break;
            }
        }
        if !reduced {
            if n >= cur.len() {
                break;
            }
            n = (n * 2).min(cur.len());
        }
    }
    for i in 0..cur.len() {
        loop {
            let at = cur[i].after.map_or(0, |d| d.as_ms());
            if at < 2_000 {
                break;
            }
            let mut c = cur.clone();
            c[i].after = Some(DurationMs(at / 2 / 1000 * 1000));
            if fails(&c) {
                cur = c;
            } else {
                break;
            }
        }
        while let Some(d) = cur[i].duration.filter(|d| d.as_ms() >= 10_000) {
            let mut c = cur.clone();
            c[i].duration = Some(DurationMs(d.as_ms() / 2 / 1000 * 1000));
            if fails(&c) {
                cur = c;
            } else {
                break;
            }
        }
        let simplifications: [fn(&mut FaultSpec); 2] = [|f| f.target.index = Some(0), |f| f.target.control_plane = None];
        for simpler in simplifications {
            let mut c = cur.clone();
            simpler(&mut c[i]);
            if c != cur && fails(&c) {
                cur = c;
            }
        }
    }
    Ok(Shrunk { invariant, original, minimal: cur, runs })
}

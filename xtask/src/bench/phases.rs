//! The phases of a fleet run and the metrics a baseline comparison reads from a result.
//!
//! A phase is everything from the end of one `wait` step to the end of the next: the steps that
//! change the fleet and the wait for it to settle. It is named after what those steps do: a phase
//! with a `delete` is `delete`; the first with an `apply` is `create`, a later one `upgrade` (in the
//! fleet-lifecycle scenario, the same Clusters applied again with the new version); anything else
//! after its step kinds (`scale`, `patch+sleep`). A run stopped during a wait has an unfinished last
//! phase, up to its last progress tick. Pure functions of the result JSON, so they are tested on tables.

use serde_json::{json, Value};

/// One phase of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Phase {
    /// `create`, `upgrade`, `delete`, ...
    pub name: String,
    /// Reconciles during the phase.
    pub reconciles: u64,
    /// Simulator events during the phase.
    pub events: u64,
    /// Wall seconds.
    pub wall_s: f64,
    /// Simulated seconds.
    pub sim_s: f64,
    /// The run was stopped before the phase ended.
    pub unfinished: bool,
}

impl Phase {
    /// Wall microseconds per reconcile.
    pub fn us_per_reconcile(&self) -> f64 {
        self.wall_s * 1e6 / self.reconciles.max(1) as f64
    }

    /// As stored in `bench.json`.
    pub fn to_json(&self) -> Value {
        json!({"name": self.name, "reconciles": self.reconciles, "events": self.events, "wall_s": self.wall_s, "sim_s": self.sim_s,
               "us_per_reconcile": self.us_per_reconcile(), "unfinished": self.unfinished})
    }
}

/// The name of a phase made of steps of these kinds (the closing `wait` left out), given how many
/// earlier phases applied something.
pub fn phase_name(kinds: &[&str], earlier_applies: usize) -> String {
    if kinds.contains(&"delete") {
        "delete".into()
    } else if kinds.contains(&"apply") {
        if earlier_applies == 0 { "create" } else { "upgrade" }.into()
    } else if kinds.is_empty() {
        "wait".into()
    } else {
        let mut seen: Vec<&str> = Vec::new();
        for k in kinds {
            if !seen.contains(k) {
                seen.push(k);
            }
        }
        seen.join("+")
    }
}

/// The phases of a result, from its `steps` (and, for a stopped run, its last counts). Phases
/// without reconciles are left out; a name used twice gets a number (`upgrade 2`).
pub fn phases(r: &Value) -> Vec<Phase> {
    let steps = r["steps"].as_array().map(Vec::as_slice).unwrap_or_default();
    let num = |v: &Value, k: &str| v[k].as_u64().unwrap_or(0);
    let float = |v: &Value, k: &str| v[k].as_f64().unwrap_or(0.0);
    let mut out: Vec<Phase> = Vec::new();
    let (mut rec0, mut ev0, mut wall0, mut sim0) = (0, 0, 0.0, 0.0);
    let mut kinds: Vec<&str> = Vec::new();
    let mut applies = 0;
    let push =
        |out: &mut Vec<Phase>, kinds: &[&str], applies: &mut usize, end: (u64, u64, f64, f64), start: (u64, u64, f64, f64), unfinished| {
            let name = phase_name(kinds, *applies);
            if kinds.contains(&"apply") {
                *applies += 1;
            }
            if end.0 <= start.0 {
                return;
            }
            let same = out.iter().filter(|p| p.name == name || p.name.starts_with(&format!("{name} "))).count();
            let name = if same > 0 { format!("{name} {}", same + 1) } else { name };
            out.push(Phase {
                name,
                reconciles: end.0 - start.0,
                events: end.1.saturating_sub(start.1),
                wall_s: end.2 - start.2,
                sim_s: end.3 - start.3,
                unfinished,
            });
        };
    for s in steps {
        let kind = s["kind"].as_str().unwrap_or("");
        if kind != "wait" {
            kinds.push(kind);
            continue;
        }
        let end = (num(s, "reconciles_end"), num(s, "events_end"), float(s, "wall_end_s"), float(s, "sim_end_s"));
        push(&mut out, &kinds, &mut applies, end, (rec0, ev0, wall0, sim0), false);
        (rec0, ev0, wall0, sim0) = end;
        kinds.clear();
    }
    if r["stopped"].as_bool() == Some(true) {
        let end = (num(r, "reconciles"), num(r, "events"), float(r, "wall_s"), float(r, "sim_s"));
        push(&mut out, &kinds, &mut applies, end, (rec0, ev0, wall0, sim0), true);
    }
    out
}

/// Whether a lower or a higher value is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Better {
    /// Costs: time, memory.
    Lower,
    /// Rates.
    Higher,
}

/// What a metric measures, for the comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Microseconds.
    Micros,
    /// Seconds.
    Seconds,
    /// Bytes.
    Bytes,
    /// A ratio (simulated seconds per wall second).
    Ratio,
}

/// The metrics a baseline comparison reads from one run: (key, value, unit, which way is better).
/// Keys are stable (they index `samples` in `bench.json`): `us_per_reconcile`, `wall_s`,
/// `peak_rss_bytes`, `bytes_per_cluster`, `sim_s_per_wall_s`, and per phase
/// `<phase>.us_per_reconcile`, `<phase>.wall_s`.
pub fn metrics(r: &Value) -> Vec<(String, f64, Unit, Better)> {
    let mut out = vec![
        ("us_per_reconcile".to_string(), r["wall_us_per_reconcile"].as_f64().unwrap_or(0.0), Unit::Micros, Better::Lower),
        ("wall_s".to_string(), r["wall_s"].as_f64().unwrap_or(0.0), Unit::Seconds, Better::Lower),
        ("peak_rss_bytes".to_string(), r["peak_rss_bytes"].as_f64().unwrap_or(0.0), Unit::Bytes, Better::Lower),
        ("bytes_per_cluster".to_string(), r["bytes_per_cluster"].as_f64().unwrap_or(0.0), Unit::Bytes, Better::Lower),
        ("sim_s_per_wall_s".to_string(), r["sim_s_per_wall_s"].as_f64().unwrap_or(0.0), Unit::Ratio, Better::Higher),
    ];
    for p in phases(r).into_iter().filter(|p| !p.unfinished) {
        out.push((format!("{}.us_per_reconcile", p.name), p.us_per_reconcile(), Unit::Micros, Better::Lower));
        out.push((format!("{}.wall_s", p.name), p.wall_s, Unit::Seconds, Better::Lower));
    }
    out
}

/// The counts that do not vary from run to run (same seed, same code): a difference means the
/// workload itself changed, so the costs compared are of different work.
pub fn counts(r: &Value) -> Vec<(String, f64)> {
    let mut out = vec![
        ("reconciles".to_string(), r["reconciles"].as_f64().unwrap_or(0.0)),
        ("events".to_string(), r["events"].as_f64().unwrap_or(0.0)),
        ("simulated s".to_string(), r["sim_s"].as_f64().unwrap_or(0.0)),
    ];
    for p in phases(r).into_iter().filter(|p| !p.unfinished) {
        out.push((format!("{} reconciles", p.name), p.reconciles as f64));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case(&["apply", "apply", "apply"], 0, "create")]
    #[case(&["apply"], 1, "upgrade")]
    #[case(&["delete"], 2, "delete")]
    #[case(&["apply", "delete"], 0, "delete")]
    #[case(&["scale"], 0, "scale")]
    #[case(&["patch", "sleep", "patch"], 0, "patch+sleep")]
    #[case(&[], 0, "wait")]
    fn phases_are_named_after_their_steps(#[case] kinds: &[&str], #[case] earlier: usize, #[case] name: &str) {
        assert_eq!(phase_name(kinds, earlier), name);
    }

    fn step(kind: &str, rec: u64, wall: f64, sim: f64) -> Value {
        json!({"kind": kind, "line": 1, "reconciles_end": rec, "events_end": rec * 4, "wall_end_s": wall, "sim_end_s": sim})
    }

    #[test]
    fn the_fleet_lifecycle_has_create_upgrade_and_delete() {
        let r = json!({"steps": [
            step("apply", 0, 0.0, 0.0), step("apply", 0, 0.0, 0.0), step("apply", 0, 0.1, 0.0), step("wait", 1000, 2.0, 300.0),
            step("apply", 1000, 2.1, 300.0), step("wait", 3000, 6.0, 900.0),
            step("delete", 3000, 6.0, 900.0), step("wait", 3500, 6.5, 960.0),
        ]});
        let ph = phases(&r);
        let names: Vec<&str> = ph.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["create", "upgrade", "delete"]);
        assert_eq!((ph[1].reconciles, ph[1].events), (2000, 8000));
        assert_eq!((ph[1].wall_s, ph[1].sim_s), (4.0, 600.0));
        assert_eq!(ph[1].us_per_reconcile(), 2000.0);
        assert!(ph.iter().all(|p| !p.unfinished));
        let keys: Vec<String> = metrics(&r).into_iter().map(|m| m.0).collect();
        assert!(keys.contains(&"upgrade.us_per_reconcile".to_string()), "{keys:?}");
    }

    #[test]
    fn a_stopped_run_ends_with_an_unfinished_phase_and_repeated_names_are_numbered() {
        let r = json!({"stopped": true, "reconciles": 2500, "events": 0, "wall_s": 5.0, "sim_s": 30.0, "steps": [
            step("apply", 0, 0.0, 0.0), step("wait", 1500, 3.0, 20.0), step("apply", 1500, 3.0, 20.0), step("wait", 2000, 4.0, 25.0),
            step("apply", 2000, 4.0, 25.0),
        ]});
        let ph = phases(&r);
        let names: Vec<&str> = ph.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["create", "upgrade", "upgrade 2"]);
        assert!(ph[2].unfinished);
        assert_eq!((ph[2].reconciles, ph[2].wall_s), (500, 1.0));
        // An unfinished phase is not compared with a baseline.
        assert!(!metrics(&r).iter().any(|m| m.0.starts_with("upgrade 2")));
    }
}

//! JUnit XML for CI systems: one `<testcase>` per scenario run, all in one `<testsuite>`.
//!
//! Why this shape: a scenario file holds one scenario, so a suite per file would be a suite of one
//! case, and a case per step would count a 20-step scenario as 20 tests and report the steps after a
//! failure as skipped tests. One suite of one case per run is what the consumers show best:
//!
//! - GitLab lists every `<testcase>` with its `classname` as the "suite" column, and links the `file`
//!   attribute;
//! - Jenkins splits `classname` at its last `.` into package and class, so `<suite>.<backend>` groups
//!   simulator and real-cluster runs, and the test name stays the scenario name across builds (its
//!   history is kept per name; the seed goes in the name only when one batch ran a scenario more than
//!   once);
//! - GitHub has no JUnit view of its own; the common actions (`mikepenz/action-junit-report`,
//!   `dorny/test-reporter`) annotate the `file` and `line` attributes, which point at the failed step.
//!
//! A failed run carries one `<failure>` (a failed step or an invariant violation) or one `<error>`
//! (the run ended outside any step), never both, as strict schemas allow only one. Its `message` is
//! one line (step index, line, first line of the message); its body has the whole failed step
//! message, every violation, the skipped steps and the replay command. `<properties>` hold the seed,
//! the trace hash and the simulated time, and `<system-out>` the per-step log.
//!
//! **Time.** Every `time` attribute (test case, suite, suites) is wall-clock seconds, whatever the
//! backend: how long the run took for the person or CI job waiting on it, as every JUnit consumer
//! reads it. It is the time the caller measured, else the report's own `wall_time_ms` (what
//! `reports.jsonl` keeps, so merged reports keep it too), else 0 with the property
//! `wall_time_measured` `false`. The backend's time (simulated on the simulator; the scenario's clock
//! on a real cluster) is the property `simulated_time_seconds`, on each case and summed on the suite.
//! A suite's `time` is the sum of its cases' (runs in parallel overlap, so it can exceed the batch's
//! elapsed time). No timestamp or host name is written, so the same reports give the same bytes.

use crate::completion::Completion;
use crate::summary::replay_command;
use crate::xml;
use capi_scenarios::report::{RunReport, StepStatus, Violation};
use capi_scenarios::DurationMs;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

/// JUnit XML for `reports`, timed by the wall time each report carries (`wall_time_ms`).
pub fn render_reports(suite: &str, reports: &[RunReport]) -> String {
    render(suite, reports.iter().map(|r| (r, None)))
}

/// JUnit XML for runs, each with the wall-clock time it took when measured (else the report's own
/// `wall_time_ms`). `suite` names the `<testsuites>` and `<testsuite>` and prefixes the class names.
pub fn render<'a>(suite: &str, runs: impl IntoIterator<Item = (&'a RunReport, Option<Duration>)>) -> String {
    render_batch(suite, runs, &Completion::Finished)
}

/// [`render`] for a batch that may not have finished: unless `completion` is finished, one more
/// `<testcase>` (`<suite>: run incomplete`) carries an `<error>` saying what happened, so that a CI
/// gate reading the file never sees an interrupted or killed batch as passed.
pub fn render_batch<'a>(suite: &str, runs: impl IntoIterator<Item = (&'a RunReport, Option<Duration>)>, completion: &Completion) -> String {
    let runs: Vec<(&RunReport, Option<Duration>)> = runs.into_iter().collect();
    let suite_class = suite.replace('.', "_");
    // Names seen more than once (same class) get the seed appended, so that every case is told apart.
    let mut seen: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for (r, _) in &runs {
        *seen.entry((r.backend.as_str(), r.scenario.as_str())).or_default() += 1;
    }
    let mut cases = Vec::with_capacity(runs.len());
    let mut totals = Totals::default();
    let mut sim_total_ms = 0;
    for (r, wall) in &runs {
        let name = if seen[&(r.backend.as_str(), r.scenario.as_str())] > 1 {
            format!("{} [seed {}]", r.scenario, r.seed)
        } else {
            r.scenario.clone()
        };
        // Whole milliseconds, as `reports.jsonl` keeps them: merged reports give the same `time`.
        let wall = wall.map(|d| d.as_millis() as u64).or(r.wall_time_ms);
        let time = wall.map_or(0.0, |ms| ms as f64 / 1000.0);
        let verdict = verdict(r);
        totals.add(&verdict, time);
        sim_total_ms += r.sim_time_ms;
        let line = r.first_failure().map(|s| s.line);
        let mut case = Case::new(&name, &format!("{suite_class}.{}", r.backend.replace('.', "_")), &r.file, line, time);
        case.property("seed", &r.seed.to_string());
        case.property("trace_hash", r.trace_hash.as_deref().unwrap_or(""));
        case.property("backend", &r.backend);
        case.property("simulated_time_seconds", &seconds(r.sim_time_ms as f64 / 1000.0));
        if wall.is_none() {
            case.property("wall_time_measured", "false");
        }
        case.property("reconciles", &r.reconciles.to_string());
        case.property("events", &r.events.to_string());
        case.property("replay", &replay_command(&r.file, r.seed));
        if let Some(v) = verdict {
            case.verdict(&v);
        }
        case.system_out(&step_log(r));
        cases.push(case.finish());
    }
    if let Some(sentence) = completion.sentence(runs.len()) {
        let kind = if matches!(completion, Completion::Interrupted { .. }) { "Interrupted" } else { "Unfinished" };
        let v = Verdict { element: "error", kind, message: sentence.clone(), body: format!("{sentence}\n") };
        totals.add(&Some(v.clone()), 0.0);
        let mut case = Case::new(&format!("{suite}: run incomplete"), &format!("{suite_class}.batch"), "", None, 0.0);
        case.verdict(&v);
        cases.push(case.finish());
    }
    let sim_total = seconds(sim_total_ms as f64 / 1000.0);
    document(suite, &totals, &[("simulated_time_seconds", sim_total.as_str())], &cases)
}

/// One seed of a swarm (many seeds of one scenario).
#[derive(Debug, Clone, PartialEq)]
pub struct SwarmSeed {
    /// The seed.
    pub seed: u64,
    /// The run passed.
    pub passed: bool,
    /// Why it failed, in one line or more (failed step, error), when it did.
    pub message: Option<String>,
    /// Invariant violations.
    pub violations: Vec<Violation>,
    /// The command that replays this seed.
    pub replay_command: String,
    /// Wall-clock time of the run, when measured.
    pub wall_time: Option<Duration>,
    /// Backend (simulated) time at the run's end.
    pub sim_time_ms: u64,
}

impl SwarmSeed {
    /// The seed's entry from its full report.
    pub fn from_report(r: &RunReport, wall_time: Option<Duration>) -> Self {
        let message = if r.passed {
            None
        } else {
            let step = r.first_failure().map(|s| format!("step #{} {} (line {}) failed: {}", s.index, s.kind, s.line, s.message));
            let error = r.error.as_ref().map(|e| format!("error: {e}"));
            match (step, error) {
                (Some(s), Some(e)) => Some(format!("{s}\n{e}")),
                (s, e) => s.or(e),
            }
        };
        SwarmSeed {
            seed: r.seed,
            passed: r.passed,
            message,
            violations: r.violations.clone(),
            replay_command: replay_command(&r.file, r.seed),
            wall_time: wall_time.or(r.wall_time_ms.map(Duration::from_millis)),
            sim_time_ms: r.sim_time_ms,
        }
    }
}

/// A swarm: many seeds of one scenario.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Swarm {
    /// Scenario name.
    pub scenario: String,
    /// Scenario file.
    pub file: String,
    /// Every seed run, in any order (the output lists them by seed).
    pub seeds: Vec<SwarmSeed>,
}

/// JUnit XML for a swarm: one suite with a `<testcase>` per failing seed (named `<scenario> [seed N]`,
/// so that each can be replayed from the CI page) and a summary `<testcase>` (`<scenario>: N seeds`)
/// that fails when any seed failed, lists the failed seeds with their replay commands, and gives the
/// passed seeds as ranges in `<system-out>`; its time is that of the passed seeds. Passing seeds get
/// no case of their own, so that a 10 000-seed swarm does not flood the CI view.
pub fn swarm(suite: &str, swarm: &Swarm) -> String {
    let class = format!("{}.swarm", suite.replace('.', "_"));
    let mut seeds: Vec<&SwarmSeed> = swarm.seeds.iter().collect();
    seeds.sort_by_key(|s| s.seed);
    let failed: Vec<&SwarmSeed> = seeds.iter().copied().filter(|s| !s.passed).collect();
    let mut totals = Totals::default();
    let mut cases = Vec::new();
    for s in &failed {
        let time = s.wall_time.map_or(0.0, |d| d.as_secs_f64());
        let mut body = String::new();
        if let Some(m) = &s.message {
            let _ = writeln!(body, "{m}");
        }
        violations_text(&mut body, &s.violations);
        let _ = writeln!(body, "replay: {}", s.replay_command);
        let v = Verdict { element: "failure", kind: kind_of(s.message.is_some(), &s.violations), message: seed_headline(s), body };
        totals.add(&Some(v.clone()), time);
        let mut case = Case::new(&format!("{} [seed {}]", swarm.scenario, s.seed), &class, &swarm.file, None, time);
        case.property("seed", &s.seed.to_string());
        case.property("replay", &s.replay_command);
        case.property("simulated_time_seconds", &seconds(s.sim_time_ms as f64 / 1000.0));
        if s.wall_time.is_none() {
            case.property("wall_time_measured", "false");
        }
        case.verdict(&v);
        cases.push(case.finish());
    }
    // The failing seeds' time is on their own cases, so the suite's total stays the swarm's.
    let passed_time: f64 = seeds.iter().filter(|s| s.passed).filter_map(|s| s.wall_time).map(|d| d.as_secs_f64()).sum();
    let mut case = Case::new(&format!("{}: {} seeds", swarm.scenario, seeds.len()), &class, &swarm.file, None, passed_time);
    case.property("seeds", &seeds.len().to_string());
    case.property("failed_seeds", &failed.len().to_string());
    case.property(
        "simulated_time_seconds",
        &seconds(seeds.iter().filter(|s| s.passed).map(|s| s.sim_time_ms).sum::<u64>() as f64 / 1000.0),
    );
    let verdict = if failed.is_empty() {
        None
    } else {
        let mut body = String::new();
        for s in &failed {
            let _ = writeln!(body, "seed {}: {}\n  replay: {}", s.seed, seed_headline(s), s.replay_command);
        }
        let list: Vec<String> = failed.iter().map(|s| s.seed.to_string()).collect();
        Some(Verdict {
            element: "failure",
            kind: "SwarmFailed",
            message: format!("{} of {} seeds failed: {}", failed.len(), seeds.len(), list.join(", ")),
            body,
        })
    };
    totals.add(&verdict, passed_time);
    if let Some(v) = &verdict {
        case.verdict(v);
    }
    let passed: Vec<u64> = seeds.iter().filter(|s| s.passed).map(|s| s.seed).collect();
    case.system_out(&format!("passed seeds ({}): {}\n", passed.len(), ranges(&passed)));
    cases.push(case.finish());
    let sim_total = seconds(seeds.iter().map(|s| s.sim_time_ms).sum::<u64>() as f64 / 1000.0);
    let props = [("scenario", swarm.scenario.as_str()), ("file", swarm.file.as_str()), ("simulated_time_seconds", sim_total.as_str())];
    document(&format!("{suite}: {} swarm", swarm.scenario), &totals, &props, &cases)
}

/// The one-line reason a swarm seed failed.
fn seed_headline(s: &SwarmSeed) -> String {
    if let Some(m) = &s.message {
        first_line(m).to_string()
    } else if let Some(v) = s.violations.first() {
        format!("{} invariant {}; first: {}: {}", s.violations.len(), plural(s.violations.len()), v.invariant, first_line(&v.message))
    } else {
        "the run did not pass".to_string()
    }
}

fn kind_of(has_message: bool, violations: &[Violation]) -> &'static str {
    if has_message {
        "StepFailed"
    } else if !violations.is_empty() {
        "InvariantViolated"
    } else {
        "NotPassed"
    }
}

/// `1-3, 5, 7-9` for `[1, 2, 3, 5, 7, 8, 9]` (sorted input).
fn ranges(seeds: &[u64]) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < seeds.len() {
        let start = seeds[i];
        let mut end = start;
        while i + 1 < seeds.len() && seeds[i + 1] == end + 1 {
            i += 1;
            end = seeds[i];
        }
        parts.push(if start == end { start.to_string() } else { format!("{start}-{end}") });
        i += 1;
    }
    if parts.is_empty() {
        "none".to_string()
    } else {
        parts.join(", ")
    }
}

/// How a case ended, when it did not pass.
#[derive(Debug, Clone)]
struct Verdict {
    /// `failure` or `error`.
    element: &'static str,
    /// The `type` attribute.
    kind: &'static str,
    /// One line.
    message: String,
    /// The details.
    body: String,
}

fn verdict(r: &RunReport) -> Option<Verdict> {
    if r.passed {
        return None;
    }
    let failed = r.first_failure();
    let mut body = String::new();
    if let Some(s) = failed {
        let _ = writeln!(
            body,
            "failed step #{} {} (line {}) at {}, after {}:\n{}",
            s.index,
            s.kind,
            s.line,
            DurationMs(s.at_ms),
            DurationMs(s.took_ms),
            indent(&s.message)
        );
    }
    violations_text(&mut body, &r.violations);
    if let Some(e) = &r.error {
        let _ = writeln!(body, "error:\n{}", indent(e));
    }
    let skipped: Vec<String> =
        r.steps.iter().filter(|s| s.status == StepStatus::Skipped).map(|s| format!("#{} {} (line {})", s.index, s.kind, s.line)).collect();
    if !skipped.is_empty() {
        let _ = writeln!(body, "skipped steps: {}", skipped.join(", "));
    }
    let _ = writeln!(body, "replay: {}", replay_command(&r.file, r.seed));
    if let Some(why) = &r.interrupted {
        let _ = writeln!(body, "interrupted: {why}");
    }
    let (element, kind, message) = match (&r.error, failed, r.violations.first()) {
        _ if r.interrupted.is_some() => (
            "error",
            "Interrupted",
            format!(
                "interrupted ({}){}",
                r.interrupted.as_deref().unwrap_or(""),
                failed.map_or_else(String::new, |s| format!(" at step #{} {} (line {})", s.index, s.kind, s.line))
            ),
        ),
        (Some(e), _, _) => ("error", "RunError", first_line(e).to_string()),
        (None, Some(s), _) => {
            ("failure", "StepFailed", format!("step #{} {} (line {}) failed: {}", s.index, s.kind, s.line, first_line(&s.message)))
        }
        (None, None, Some(v)) => (
            "failure",
            "InvariantViolated",
            format!("{} invariant {}; first: {}: {}", r.violations.len(), plural(r.violations.len()), v.invariant, first_line(&v.message)),
        ),
        (None, None, None) => ("failure", "NotPassed", "the run did not pass".to_string()),
    };
    Some(Verdict { element, kind, message, body })
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        "violation"
    } else {
        "violations"
    }
}

fn violations_text(out: &mut String, violations: &[Violation]) {
    if violations.is_empty() {
        return;
    }
    let _ = writeln!(out, "invariant violations ({}):", violations.len());
    for v in violations {
        let _ = writeln!(out, "  - {} at {} (event {}): {}", v.invariant, DurationMs(v.at_ms), v.event_index, v.message);
    }
}

/// The per-step log: one line per step, then faults and `clusterctl describe` output.
fn step_log(r: &RunReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "scenario {} ({}) on {} with seed {}", r.scenario, r.file, r.backend, r.seed);
    if let Some(why) = &r.interrupted {
        let _ = writeln!(out, "INTERRUPTED: {why}");
    }
    for s in &r.steps {
        let status = match s.status {
            StepStatus::Passed => "passed",
            StepStatus::Failed => "FAILED",
            StepStatus::Skipped => "skipped",
            StepStatus::Interrupted => "INTERRUPTED",
        };
        let _ = writeln!(
            out,
            "#{} {} (line {}) {status} at {} took {}: {}",
            s.index,
            s.kind,
            s.line,
            DurationMs(s.at_ms),
            DurationMs(s.took_ms),
            s.message
        );
    }
    for f in &r.faults {
        let healed = f.healed_at_ms.map_or_else(String::new, |t| format!(", healed at {}", DurationMs(t)));
        let _ = writeln!(out, "fault {} on {} at {}{healed}", f.kind, f.target, DurationMs(f.at_ms));
    }
    let _ = writeln!(
        out,
        "ended at {} after {} reconciles and {} events{}",
        DurationMs(r.sim_time_ms),
        r.reconciles,
        r.events,
        r.trace_hash.as_deref().map_or_else(String::new, |h| format!(", trace hash {h}"))
    );
    if let Some(d) = &r.describe {
        let _ = writeln!(out, "clusterctl describe:\n{d}");
    }
    out
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}

fn indent(s: &str) -> String {
    s.lines().map(|l| format!("  {l}")).collect::<Vec<_>>().join("\n")
}

/// Counts for the `<testsuites>` and `<testsuite>` attributes.
#[derive(Debug, Default)]
struct Totals {
    tests: usize,
    failures: usize,
    errors: usize,
    time: f64,
}

impl Totals {
    fn add(&mut self, verdict: &Option<Verdict>, time: f64) {
        self.tests += 1;
        self.time += time;
        match verdict.as_ref().map(|v| v.element) {
            Some("error") => self.errors += 1,
            Some(_) => self.failures += 1,
            None => {}
        }
    }

    fn attrs(&self) -> String {
        format!(r#"tests="{}" failures="{}" errors="{}" skipped="0" time="{}""#, self.tests, self.failures, self.errors, seconds(self.time))
    }
}

fn seconds(s: f64) -> String {
    format!("{s:.3}")
}

/// One `<testcase>` being written.
struct Case {
    out: String,
    properties: Vec<(String, String)>,
    verdict: Option<String>,
    system_out: Option<String>,
}

impl Case {
    fn new(name: &str, classname: &str, file: &str, line: Option<usize>, time: f64) -> Self {
        let mut out =
            format!(r#"    <testcase name="{}" classname="{}" file="{}""#, xml::attr(name), xml::attr(classname), xml::attr(file));
        if let Some(l) = line {
            let _ = write!(out, r#" line="{l}""#);
        }
        let _ = write!(out, r#" time="{}">"#, seconds(time));
        out.push('\n');
        Case { out, properties: Vec::new(), verdict: None, system_out: None }
    }

    fn property(&mut self, name: &str, value: &str) {
        self.properties.push((name.to_string(), value.to_string()));
    }

    fn verdict(&mut self, v: &Verdict) {
        self.verdict = Some(format!(
            "      <{el} message=\"{}\" type=\"{}\">{}</{el}>\n",
            xml::attr(&v.message),
            v.kind,
            xml::text(&v.body),
            el = v.element
        ));
    }

    fn system_out(&mut self, s: &str) {
        self.system_out = Some(format!("      <system-out>{}</system-out>\n", xml::text(s)));
    }

    /// The element, children in schema order: properties, failure or error, system-out.
    fn finish(mut self) -> String {
        if !self.properties.is_empty() {
            self.out.push_str("      <properties>\n");
            for (n, v) in &self.properties {
                let _ = writeln!(self.out, r#"        <property name="{}" value="{}"/>"#, xml::attr(n), xml::attr(v));
            }
            self.out.push_str("      </properties>\n");
        }
        self.out.push_str(self.verdict.as_deref().unwrap_or(""));
        self.out.push_str(self.system_out.as_deref().unwrap_or(""));
        self.out.push_str("    </testcase>\n");
        self.out
    }
}

fn document(suite: &str, totals: &Totals, properties: &[(&str, &str)], cases: &[String]) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let name = xml::attr(suite);
    let _ = writeln!(out, r#"<testsuites name="{name}" {}>"#, totals.attrs());
    let _ = writeln!(out, r#"  <testsuite name="{name}" {}>"#, totals.attrs());
    if !properties.is_empty() {
        out.push_str("    <properties>\n");
        for (n, v) in properties {
            let _ = writeln!(out, r#"      <property name="{}" value="{}"/>"#, xml::attr(n), xml::attr(v));
        }
        out.push_str("    </properties>\n");
    }
    for c in cases {
        out.push_str(c);
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_ranges_compress_consecutive_runs() {
        assert_eq!(ranges(&[1, 2, 3, 5, 7, 8, 9]), "1-3, 5, 7-9");
        assert_eq!(ranges(&[4]), "4");
        assert_eq!(ranges(&[]), "none");
    }
}

//! JUnit XML: what a CI system's parser reads back from passing, failing and errored runs and swarms.

use crate::dom::{parse, Element};
use crate::fixtures::{self, NASTY};
use capi_reports::junit::{self, Swarm, SwarmSeed};
use capi_scenarios::report::Violation;
use std::time::Duration;

fn cases(root: &Element) -> Vec<&Element> {
    root.one("testsuite").all("testcase").collect()
}

#[test]
fn a_passing_run_is_one_case_with_properties_and_a_step_log() {
    let xml = junit::render_reports("scenarios", &[fixtures::passing()]);
    let root = parse(&xml);
    assert_eq!(root.name, "testsuites");
    for el in [&root, root.one("testsuite")] {
        assert_eq!((el.attr("tests"), el.attr("failures"), el.attr("errors")), ("1", "0", "0"), "<{}>", el.name);
        assert_eq!(el.attr("name"), "scenarios");
        // No wall time given nor recorded: 0, never the simulated time.
        assert_eq!(el.attr("time"), "0.000");
    }
    assert_eq!(root.one("testsuite").properties()["simulated_time_seconds"], "95.500");
    let cases = cases(&root);
    assert_eq!(cases.len(), 1);
    let case = cases[0];
    assert_eq!(case.attr("name"), "md-scale-out");
    assert_eq!(case.attr("classname"), "scenarios.sim");
    assert_eq!(case.attr("file"), "scenarios/library/md-scale-out.yaml");
    assert!(!case.attrs.contains_key("line"), "a passing case points at no line");
    assert_eq!(case.all("failure").count() + case.all("error").count(), 0);
    let props = case.properties();
    assert_eq!(props["seed"], "42");
    assert_eq!(props["trace_hash"], "9f3c2a17b4e5d601");
    assert_eq!(props["replay"], "cargo xtask scenario run scenarios/library/md-scale-out.yaml --seed 42");
    assert_eq!(props["simulated_time_seconds"], "95.500");
    assert_eq!(props["wall_time_measured"], "false");
    let log = &case.one("system-out").text;
    assert!(log.contains("#0 apply (line 4) passed at 0s took 0s: applied Cluster default/capi-quickstart\n"), "{log}");
    assert!(log.contains("#1 wait (line 9) passed"), "{log}");
    assert!(log.contains("trace hash 9f3c2a17b4e5d601"), "{log}");
}

#[test]
fn a_failing_run_carries_its_first_failed_step_violations_and_skipped_steps_escaped() {
    let xml = junit::render("scenarios", [(&fixtures::failing(), Some(Duration::from_millis(1_250)))]);
    // The raw text must not contain the markup unescaped anywhere.
    assert!(!xml.contains("<Machine>"), "{xml}");
    assert!(!xml.contains("& \""), "{xml}");
    let root = parse(&xml);
    assert_eq!((root.attr("tests"), root.attr("failures"), root.attr("errors")), ("1", "1", "0"));
    let case = cases(&root)[0];
    // Every escape undone by the parser gives back the original text.
    assert_eq!(case.attr("name"), format!("node dies {NASTY}"));
    assert_eq!(case.attr("line"), "20");
    // Wall time wins over backend time (30 minutes here).
    assert_eq!(case.attr("time"), "1.250");
    let failure = case.one("failure");
    assert_eq!(failure.attr("type"), "StepFailed");
    assert_eq!(failure.attr("message"), format!("step #2 wait (line 20) failed: timed out after 10m: Machine {NASTY} is Provisioning"));
    let body = &failure.text;
    assert!(
        body.contains(&format!(
            "failed step #2 wait (line 20) at 1s, after 10m:\n  timed out after 10m: Machine {NASTY} is Provisioning\n  second line\n"
        )),
        "{body}"
    );
    assert!(body.contains("invariant violations (1):\n  - bootstrap-before-running at 12s (event 456): Machine m-1 Running without a bootstrap <Secret> & data\n"), "{body}");
    assert!(body.contains("skipped steps: #3 expect (line 31)\n"), "{body}");
    assert!(body.contains("replay: cargo xtask scenario run scenarios/library/node-dies.yaml --seed 7\n"), "{body}");
    assert_eq!(case.properties()["seed"], "7");
    let log = &case.one("system-out").text;
    assert!(log.contains("#2 wait (line 20) FAILED at 1s took 10m: timed out"), "{log}");
    assert!(log.contains("#3 expect (line 31) skipped"), "{log}");
    assert!(log.contains("fault container-kill on capi-quickstart-md-0-abcde at 1s\n"), "{log}");
}

#[test]
fn a_run_that_ended_outside_any_step_is_an_error_and_violations_alone_a_failure() {
    let mut violated = fixtures::passing();
    violated.passed = false;
    violated.scenario = "violated".into();
    violated.violations = fixtures::failing().violations;
    let root = parse(&junit::render_reports("s", &[fixtures::errored(), violated, fixtures::passing()]));
    assert_eq!((root.attr("tests"), root.attr("failures"), root.attr("errors")), ("3", "1", "1"));
    let cases = cases(&root);
    let error = cases[0].one("error");
    assert_eq!(error.attr("type"), "RunError");
    assert_eq!(error.attr("message"), "cannot prepare the backend: no such fixture");
    assert_eq!(cases[0].all("failure").count(), 0, "one verdict element per case");
    let failure = cases[1].one("failure");
    assert_eq!(failure.attr("type"), "InvariantViolated");
    assert_eq!(
        failure.attr("message"),
        "1 invariant violation; first: bootstrap-before-running: Machine m-1 Running without a bootstrap <Secret> & data"
    );
}

#[test]
fn the_same_scenario_twice_is_told_apart_by_seed() {
    let mut again = fixtures::passing();
    again.seed = 43;
    let root = parse(&junit::render_reports("s", &[fixtures::passing(), again, fixtures::errored()]));
    let names: Vec<&str> = cases(&root).iter().map(|c| c.attr("name")).collect();
    assert_eq!(names, ["md-scale-out [seed 42]", "md-scale-out [seed 43]", "upgrade"]);
}

#[test]
fn an_empty_batch_is_a_valid_document_with_no_tests() {
    let root = parse(&junit::render_reports("s", &[]));
    assert_eq!((root.attr("tests"), root.attr("failures"), root.attr("time")), ("0", "0", "0.000"));
    assert!(cases(&root).is_empty());
}

fn seed(seed: u64, passed: bool) -> SwarmSeed {
    SwarmSeed {
        seed,
        passed,
        message: None,
        violations: if passed {
            Vec::new()
        } else {
            vec![Violation { invariant: "owner-refs".into(), message: format!("dangling <ref> {seed}"), event_index: seed, at_ms: 1 }]
        },
        replay_command: format!("cargo xtask scenario run s.yaml --seed {seed}"),
        wall_time: Some(Duration::from_millis(100)),
        sim_time_ms: 60_000,
    }
}

#[test]
fn a_swarm_has_a_case_per_failing_seed_and_a_summary_case() {
    // Out of order on purpose: the output lists seeds in order.
    let mut seeds: Vec<SwarmSeed> = (1..=10).rev().map(|s| seed(s, s != 3 && s != 7)).collect();
    seeds[0].message = Some("step #2 wait (line 20) failed: timed out\nmore".into());
    seeds[0].passed = false; // seed 10
    let swarm = Swarm { scenario: "md & co".into(), file: "s.yaml".into(), seeds };
    let root = parse(&junit::swarm("swarm", &swarm));
    let suite = root.one("testsuite");
    assert_eq!(suite.attr("name"), "swarm: md & co swarm");
    assert_eq!((suite.attr("tests"), suite.attr("failures"), suite.attr("errors")), ("4", "4", "0"));
    assert_eq!(suite.attr("time"), "1.000", "every seed's time counted once");
    let cases = cases(&root);
    let names: Vec<&str> = cases.iter().map(|c| c.attr("name")).collect();
    assert_eq!(names, ["md & co [seed 3]", "md & co [seed 7]", "md & co [seed 10]", "md & co: 10 seeds"]);
    let seed3 = cases[0].one("failure");
    assert_eq!(seed3.attr("type"), "InvariantViolated");
    assert_eq!(seed3.attr("message"), "1 invariant violation; first: owner-refs: dangling <ref> 3");
    assert!(seed3.text.contains("replay: cargo xtask scenario run s.yaml --seed 3\n"), "{}", seed3.text);
    let seed10 = cases[2].one("failure");
    assert_eq!(seed10.attr("message"), "step #2 wait (line 20) failed: timed out");
    assert_eq!(cases[2].properties()["replay"], "cargo xtask scenario run s.yaml --seed 10");
    let summary = cases[3];
    assert_eq!(summary.one("failure").attr("message"), "3 of 10 seeds failed: 3, 7, 10");
    assert_eq!(summary.one("system-out").text, "passed seeds (7): 1-2, 4-6, 8-9\n");
    assert_eq!(summary.attr("time"), "0.700", "the passed seeds' wall time");
    assert_eq!(summary.properties()["simulated_time_seconds"], "420.000", "the passed seeds' simulated time");
    assert_eq!(cases[0].properties()["simulated_time_seconds"], "60.000");
    assert_eq!(suite.properties()["simulated_time_seconds"], "600.000");
}

#[test]
fn a_swarm_that_passed_is_one_passing_summary_case() {
    let swarm = Swarm { scenario: "md".into(), file: "s.yaml".into(), seeds: (1..=5).map(|s| seed(s, true)).collect() };
    let root = parse(&junit::swarm("swarm", &swarm));
    let cases = cases(&root);
    assert_eq!(cases.len(), 1);
    assert_eq!(cases[0].all("failure").count(), 0);
    assert_eq!(cases[0].one("system-out").text, "passed seeds (5): 1-5\n");
    assert_eq!(root.attr("failures"), "0");
}

#[test]
fn a_swarm_seed_from_a_report_keeps_step_error_and_violations() {
    let s = SwarmSeed::from_report(&fixtures::failing(), None);
    assert!(!s.passed);
    assert_eq!(
        s.message.as_deref().map(|m| m.lines().next().unwrap()),
        Some(format!("step #2 wait (line 20) failed: timed out after 10m: Machine {NASTY} is Provisioning").as_str())
    );
    assert_eq!(s.violations.len(), 1);
    assert_eq!(s.replay_command, "cargo xtask scenario run scenarios/library/node-dies.yaml --seed 7");
    assert_eq!(SwarmSeed::from_report(&fixtures::passing(), None).message, None);
    assert_eq!(
        SwarmSeed::from_report(&fixtures::errored(), None).message.as_deref(),
        Some("error: cannot prepare the backend: no such fixture")
    );
}

/// `time` is wall-clock seconds wherever it comes from: given by the caller, or kept in the report
/// (`wall_time_ms`, as `reports.jsonl` and merged reports have it); the simulated time is a property.
#[test]
fn time_is_wall_time_and_simulated_time_is_a_property() {
    let mut recorded = fixtures::passing();
    recorded.wall_time_ms = Some(2_500);
    let given = fixtures::failing();
    let xml = junit::render("s", [(&recorded, None), (&given, Some(Duration::from_millis(1_250)))]);
    let root = parse(&xml);
    let cases = cases(&root);
    assert_eq!(cases[0].attr("time"), "2.500", "the report's own wall time");
    assert_eq!(cases[1].attr("time"), "1.250", "the caller's wall time");
    assert_eq!(cases[0].properties()["simulated_time_seconds"], "95.500");
    assert_eq!(cases[1].properties()["simulated_time_seconds"], "1800.000");
    assert!(!cases[0].properties().contains_key("wall_time_measured"));
    for el in [&root, root.one("testsuite")] {
        assert_eq!(el.attr("time"), "3.750", "<{}> sums the cases' wall time", el.name);
    }
    assert_eq!(root.one("testsuite").properties()["simulated_time_seconds"], "1895.500");
    // The same reports rendered without the caller's times (as `report merge` does) keep theirs.
    let mut merged = given.clone();
    merged.wall_time_ms = Some(1_250);
    assert_eq!(junit::render_reports("s", &[recorded, merged]), xml);
}

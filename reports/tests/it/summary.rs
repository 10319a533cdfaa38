//! The Markdown summary: the table of every run and the failure sections with replay commands.

use crate::fixtures::{self, NASTY};
use capi_reports::summary;

#[test]
fn lists_every_run_and_details_each_failure_with_its_replay_command() {
    let mut passing = fixtures::passing();
    passing.wall_time_ms = Some(2_345);
    let md = summary::markdown("Scenarios", &[passing, fixtures::failing(), fixtures::errored()]);
    assert!(md.starts_with("# Scenarios\n\n**2 of 3 scenarios failed**, 1 passed.\n"), "{md}");
    assert!(
        md.contains("| Scenario | Result | Backend | Seed | Wall time | Simulated time | Reconciles | Events | Trace hash |\n"),
        "{md}"
    );
    assert!(md.contains("| md-scale-out | passed | sim | 42 | 2.345 s | 1m 35s 500ms | 1234 | 5678 | `9f3c2a17b4e5d601` |\n"), "{md}");
    // The pipe in the name must not open a new cell, nor the angle brackets an HTML tag.
    assert!(
        md.contains(
            r#"| node dies \<Machine\> \& "quoted" 'single' \| pipe | **failed** | sim | 7 | - | 30m | 10 | 20 | `00ff00ff00ff00ff` |"#
        ),
        "{md}"
    );
    let failures = md.split_once("\n## Failures\n").expect("a failures section").1;
    assert!(!failures.contains("md-scale-out"), "passed runs have no section:\n{failures}");
    assert!(failures.contains("**Failed step:** #2 `wait` at line 20 (started at 1s, took 10m):\n\n```text\n"), "{failures}");
    assert!(failures.contains(&format!("timed out after 10m: Machine {NASTY} is Provisioning\nsecond line\n```\n")), "{failures}");
    assert!(
        failures
            .contains("- `bootstrap-before-running` at 12s (event 456): Machine m-1 Running without a bootstrap \\<Secret\\> \\& data\n"),
        "{failures}"
    );
    assert!(failures.contains("**Skipped:** 1 step: #3 `expect`."), "{failures}");
    assert!(failures.contains("```sh\ncargo xtask scenario run scenarios/library/node-dies.yaml --seed 7\n```\n"), "{failures}");
    assert!(failures.contains("**Error:**\n\n```text\ncannot prepare the backend: no such fixture\n```\n"), "{failures}");
    assert!(failures.contains("```sh\ncargo xtask scenario run scenarios/library/upgrade.yaml --seed 3\n```\n"), "{failures}");
    insta::assert_snapshot!(md);
}

#[test]
fn says_so_when_everything_passed_or_nothing_ran() {
    let md = summary::markdown("Run", &[fixtures::passing()]);
    assert!(md.contains("\nThe scenario passed.\n"), "{md}");
    let two = summary::markdown("Run", &[fixtures::passing(), fixtures::passing()]);
    assert!(two.contains("\nAll 2 scenarios passed.\n"), "{two}");
    assert!(!md.contains("## Failures"), "{md}");
    assert_eq!(summary::markdown("Run", &[]), "# Run\n\nNo scenario was run.\n");
}

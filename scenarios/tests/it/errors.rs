//! Broken scenarios and the exact `file:line:col: message` each produces.

use capi_scenarios::{LoadOptions, ScenarioError};
use rstest::rstest;
use std::path::Path;

fn load(text: &str) -> Result<capi_scenarios::Scenario, ScenarioError> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/data");
    capi_scenarios::parse::load_text(text, &dir.join("broken.yaml"), &LoadOptions::default())
}

fn message(text: &str) -> String {
    let e = load(text).expect_err("the scenario must be refused");
    let s = e.to_string();
    // Print paths relative to the data directory so the table reads well.
    s.replace(&format!("{}/", Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/data").display()), "")
}

#[rstest]
#[case::unknown_step(
    "name: x\nsteps:\n  - aply: { file: a.yaml }\n",
    "broken.yaml:3:5: steps[0]: unknown variant `aply`, expected one of `apply`, `patch`, `delete`, `scale`, `wait`, `expect`, `check`, `never`, `sleep`, `fault`, `clusterctl`, `docker`; did you mean `apply`?"
)]
#[case::unknown_field_in_step(
    "name: x\nsteps:\n  - wait: { for: { exists: Cluster/a }, timout: 5m }\n",
    "broken.yaml:3:41: steps[0].wait: unknown field `timout`, expected `for` or `timeout`"
)]
#[case::bad_duration(
    "name: x\nsteps:\n  - sleep: 5 parsecs\n",
    "broken.yaml:3:12: steps[0].sleep: invalid duration `5 parsecs` (unknown time unit \"parsecs\", supported units: ns, us/µs, ms, sec, min, hours, days, weeks, months, years (and few variations)); expected e.g. `90s`, `30m`, `1h 30m`, `500ms`"
)]
#[case::bad_target(
    "name: x\nsteps:\n  - expect: { exists: cluster }\n",
    "broken.yaml:3:23: steps[0].expect.exists: invalid target `cluster`: expected `Kind/name` or `Kind` with a Kind such as `Cluster` or `Machine`"
)]
#[case::bad_condition_status(
    "name: x\nsteps:\n  - expect:\n      - condition: { target: Cluster/a, type: Ready, status: yes }\n",
    "broken.yaml:4:20: steps[0].expect[0].condition: expected \"True\", \"False\" or \"Unknown\", got \"yes\""
)]
#[case::two_keys_in_one_step(
    "name: x\nsteps:\n  - sleep: 1s\n    wait: { for: { exists: Cluster/a } }\n",
    "broken.yaml:3:5: steps[0]: `sleep` and `wait` in the same item: write one per item (a `-` list entry each)"
)]
#[case::undefined_variable(
    "name: x\nsteps:\n  - expect: { exists: Cluster/${NAME} }\n",
    "broken.yaml:3:31: variable `NAME` is not defined and has no default (set it under `vars:` or with --var NAME=VALUE)"
)]
#[case::apply_without_source(
    "name: x\nsteps:\n  - sleep: 1s\n  - apply: { vars: { A: b } }\n",
    "broken.yaml:4:5: `apply` needs exactly one of `file`, `manifest` or `flavor`"
)]
#[case::missing_manifest_file(
    "name: x\nsteps:\n  - apply: { file: nope.yaml }\n",
    "broken.yaml:3:5: cannot read the manifest nope.yaml: no such file"
)]
#[case::manifest_without_kind(
    "name: x\nsteps:\n  - apply:\n      manifest: |\n        apiVersion: v1\n        metadata: { name: a }\n",
    "broken.yaml:5:1: manifest document 1: missing field `kind`; every object needs `apiVersion`, `kind` and `metadata.name`"
)]
#[case::bad_yaml_in_manifest_file(
    "name: x\nsteps:\n  - apply: { file: bad.yaml }\n",
    "broken.yaml:3:5: in this apply: bad.yaml:5:1: invalid YAML: did not find expected ',' or ']'"
)]
#[case::undefined_variable_in_manifest_file(
    "name: x\nsteps:\n  - apply: { file: needs-var.yaml }\n",
    "broken.yaml:3:5: in this apply: needs-var.yaml:4:9: variable `CLUSTER_NAME` is not defined and has no default (set it under `vars:` or with --var CLUSTER_NAME=VALUE)"
)]
#[case::denied_in_wait(
    "name: x\nsteps:\n  - sleep: 1s\n  - wait: { for: { denied: { apply: { file: ok.yaml }, message: no } } }\n",
    "broken.yaml:4:5: `wait: { for: ... }` cannot use `denied`/`warned`; use them under `expect`"
)]
#[case::not_a_map("- apply: {}\n", "broken.yaml:1:1: a scenario is a map with `name`, `description`, `seed`, `vars` and `steps`")]
#[case::unknown_top_level_key(
    "name: x\nsetps: []\n",
    "broken.yaml:2:1: unknown field `setps`, expected one of `name`, `description`, `seed`, `vars`, `management`, `timing`, `converge-within`, `converged`, `fault-profile`, `invariants`, `steps`; did you mean `steps`?"
)]
#[case::unknown_fault_kind(
    "name: x\nsteps:\n  - fault: { kind: meteor-strike }\n",
    "broken.yaml:3:20: steps[0].fault.kind: unknown variant `meteor-strike`, expected one of `container-kill`, `container-pause`, `container-oom`, `lb-kill`, `docker-restart`, `image-missing`, `kubeadm-init-fail`, `kubeadm-join-fail`, `kubelet-stop`, `cni-crash`, `etcd-member-loss`, `partition`, `slow-disk`, `controller-crash`, `watch-drop`, `stale-cache`, `api-conflict`, `api-throttle`, `api-latency`, `webhook-unavailable`"
)]
#[case::finished_names_no_background_step(
    "name: x\nsteps:\n  - wait: { for: { finished: { step: pivot } } }\n",
    "broken.yaml:3:1: `finished` names the background step `pivot`, but no earlier step runs in the background (`clusterctl: { move: { ..., async: true } }`)"
)]
#[case::finished_before_the_step_starts(
    "name: x\nsteps:\n  - expect: [ { finished: { step: pivot } } ]\n  - clusterctl: { move: { to: b, async: true, name: pivot } }\n  - wait: { for: { finished: { step: pivot } } }\n",
    "broken.yaml:3:1: `finished` names the background step `pivot`, but no earlier step runs in the background (`clusterctl: { move: { ..., async: true } }`)"
)]
#[case::finished_names_another_background_step(
    "name: x\nsteps:\n  - clusterctl: { move: { to: b, async: true } }\n  - wait: { for: { finished: { step: pivot } } }\n",
    "broken.yaml:4:1: `finished` names the background step `pivot`, but the background steps started before it are: move"
)]
#[case::background_step_never_waited_for(
    "name: x\nsteps:\n  - clusterctl: { move: { to: b, async: true, name: pivot } }\n  - sleep: 1m\n",
    "broken.yaml:3:1: the background step `pivot` is never waited for: add a later `- wait: { for: { finished: { step: pivot } }, timeout: 10m }` (or check its result with `expect`/`check`)"
)]
#[case::two_background_steps_with_one_name(
    "name: x\nsteps:\n  - clusterctl: { move: { to: b, async: true } }\n  - clusterctl: { move: { from: b, to: a, async: true } }\n",
    "broken.yaml:4:1: a background step named `move` already started at line 3; give this one another `name`"
)]
#[case::name_without_async(
    "name: x\nsteps:\n  - clusterctl: { move: { to: b, name: pivot } }\n",
    "broken.yaml:3:1: `name` names a background move: it needs `async: true`"
)]
#[case::bad_finished_result(
    "name: x\nsteps:\n  - clusterctl: { move: { to: b, async: true } }\n  - wait: { for: { finished: { step: move, result: done } } }\n",
    "broken.yaml:4:52: steps[1].wait.for.finished.result: unknown variant `done`, expected one of `succeeded`, `failed`, `any`"
)]
fn broken_scenarios_name_file_line_and_column(#[case] text: &str, #[case] expected: &str) {
    assert_eq!(message(text), expected);
}

#[test]
fn valid_scenario_keeps_step_lines() {
    let s = load("name: x\nvars: { A: b }\nsteps:\n  - sleep: 1s\n\n  - expect: { exists: Cluster/${A} }\n").unwrap();
    assert_eq!(s.steps.iter().map(|e| e.line).collect::<Vec<_>>(), vec![4, 6]);
}

#[test]
fn command_line_variables_override_the_scenario() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/data");
    let mut opts = LoadOptions::default();
    opts.vars.insert("A".into(), "from-cli".into());
    let s = capi_scenarios::parse::load_text(
        "name: x\nvars: { A: b }\nsteps:\n  - expect: { exists: Cluster/${A} }\n",
        &dir.join("x.yaml"),
        &opts,
    )
    .unwrap();
    assert_eq!(s.vars["A"], "from-cli");
    let capi_scenarios::Step::Expect(e) = &s.steps[0].step else { panic!() };
    assert!(format!("{:?}", e.0[0]).contains("from-cli"));
}

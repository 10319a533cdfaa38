//! Variables in scenario files: definitions built from earlier ones, values that stay values (never
//! YAML structure), clusterctl's syntax, and the bounds on expansion.

use capi_scenarios::model::Step;
use capi_scenarios::{LoadOptions, Scenario, ScenarioError};
use rstest::rstest;
use std::path::Path;

fn load_with(text: &str, cli: &[(&str, &str)]) -> Result<Scenario, ScenarioError> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/data");
    let mut opts = LoadOptions::default();
    for (k, v) in cli {
        opts.vars.insert(k.to_string(), v.to_string());
    }
    capi_scenarios::parse::load_text(text, &dir.join("vars.yaml"), &opts)
}

fn error(text: &str) -> String {
    let e = load_with(text, &[]).expect_err("the scenario must be refused").to_string();
    e.replace(&format!("{}/", Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/data").display()), "")
}

/// The value of `NAME` after loading.
fn var(text: &str, cli: &[(&str, &str)], name: &str) -> String {
    load_with(text, cli).unwrap_or_else(|e| panic!("{e}")).vars.get(name).cloned().unwrap_or_default()
}

#[rstest]
#[case::built_from_an_earlier_one("vars: { BASE: x, DERIVED: \"${BASE}-1\" }\nsteps: []\n", &[], "x-1")]
#[case::the_command_line_reaches_derived_values("vars: { BASE: x, DERIVED: \"${BASE}-1\" }\nsteps: []\n", &[("BASE", "y")], "y-1")]
#[case::the_command_line_wins("vars: { BASE: x, DERIVED: \"${BASE}-1\" }\nsteps: []\n", &[("DERIVED", "z")], "z")]
#[case::defaults("vars: { DERIVED: \"${UNSET:-d}-${UNSET2:=e}\" }\nsteps: []\n", &[], "d-e")]
#[case::nested_default("vars: { NS: team, DERIVED: \"${CLASS_NS:-${NS}}\" }\nsteps: []\n", &[], "team")]
#[case::blanks_inside_braces("vars: { BASE: x, DERIVED: \"${ BASE }\" }\nsteps: []\n", &[], "x")]
#[case::dollar_escape("vars: { DERIVED: \"$${NOT_A_VAR}\" }\nsteps: []\n", &[], "${NOT_A_VAR}")]
#[case::numbers_are_text("vars: { N: 3, DERIVED: \"${N}0\" }\nsteps: []\n", &[], "30")]
fn definitions(#[case] text: &str, #[case] cli: &[(&str, &str)], #[case] want: &str) {
    assert_eq!(var(text, cli, "DERIVED"), want);
}

#[rstest]
#[case::forward_reference(
    "vars: { DERIVED: \"${LATER}-1\", LATER: x }\nsteps: []\n",
    "vars.yaml:1:19: variable `DERIVED` uses `${LATER}`, which is not defined before it (a definition may use the variables above it and those given with --var)"
)]
#[case::itself("vars: { A: \"${A}${A}\" }\nsteps: []\n", "vars.yaml:1:13: variable `A` uses `${A}`, which is not defined before it (a definition may use the variables above it and those given with --var)")]
#[case::a_step_injected_by_a_line_break(
    "vars: { MSG: \"hi\\n  - sleep: 1h\" }\nsteps:\n  - sleep: 1s\n  - expect: { exists: \"ConfigMap/${MSG}\" }\n",
    "vars.yaml:4:34: the value of `${MSG}` changes the file's structure: a variable's value is substituted as text inside one YAML value and cannot add keys, list items or steps (line breaks, `: `, ` #`, quotes and brackets in a value change the YAML around it)"
)]
#[case::a_key_injected_by_a_colon(
    "vars: { N: \"a: b\" }\nsteps:\n  - expect: { exists: ConfigMap/x }\n    note: ${N}\n",
    "vars.yaml:4:11: the value of `${N}` makes the file invalid YAML: a variable's value is substituted as text inside one YAML value and cannot add keys, list items or steps (line breaks, `: `, ` #`, quotes and brackets in a value change the YAML around it)"
)]
#[case::a_value_cut_by_a_comment(
    "vars: { N: \"x #y\" }\nsteps:\n  - expect: { exists: { kind: ConfigMap, name: ${N} } }\n",
    "vars.yaml:3:48: the value of `${N}` makes the file invalid YAML: a variable's value is substituted as text inside one YAML value and cannot add keys, list items or steps (line breaks, `: `, ` #`, quotes and brackets in a value change the YAML around it)"
)]
#[case::a_quote_closed_early(
    "vars: { N: 'x\", \"y' }\nsteps:\n  - expect: { exists: { kind: ConfigMap, name: \"${N}\" } }\n",
    "vars.yaml:3:49: the value of `${N}` changes the file's structure: a variable's value is substituted as text inside one YAML value and cannot add keys, list items or steps (line breaks, `: `, ` #`, quotes and brackets in a value change the YAML around it)"
)]
fn values_never_become_structure(#[case] text: &str, #[case] want: &str) {
    assert_eq!(error(text), want);
}

#[test]
fn typed_values_keep_their_type() {
    let s = load_with("vars: { N: \"3\" }\nsteps:\n  - scale: { target: MachineDeployment/md, replicas: ${N} }\n", &[]).unwrap();
    match &s.steps[0].step {
        Step::Scale(x) => assert_eq!(x.replicas, 3),
        other => panic!("{other:?}"),
    }
}

#[test]
fn inline_manifests_are_substituted_once_with_the_applys_variables() {
    let text = "vars: { A: x }\nsteps:\n  - apply:\n      vars: { LOCAL: y }\n      manifest: |\n        apiVersion: v1\n        kind: ConfigMap\n        metadata: { name: \"${A}-${LOCAL}\" }\n        data: { v: \"$${KEEP}\" }\n";
    let s = load_with(text, &[]).unwrap();
    let Step::Apply(a) = &s.steps[0].step else { panic!() };
    assert_eq!(a.objects[0].name(), "x-y");
    assert_eq!(a.objects[0].value["data"]["v"], "${KEEP}", "an escaped reference is not substituted twice");
}

#[test]
fn expansion_is_bounded() {
    // Each level ten times the one before: 10^8 bytes would follow without a bound.
    let mut text = String::from("vars:\n  A0: xxxxxxxxxx\n");
    for i in 1..=8 {
        text.push_str(&format!("  A{i}: \"{}\"\n", format!("${{A{}}}", i - 1).repeat(10)));
    }
    text.push_str("steps: []\n");
    let e = error(&text);
    assert!(e.contains("variable substitution too large"), "{e}");
}

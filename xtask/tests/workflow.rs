//! The conformance gate's workflow (`.github/workflows/conformance.yml`) against what the simulator
//! models (`capi_sim::release`): the pinned kind and clusterctl, the providers `conformance up`
//! installs, when it runs (nightly, on a `conformance` PR label, by hand; never on every push), that
//! it builds the harness once in release and runs that binary, and that a failure uploads the
//! diagnostics. README's "real KinD gate" must name the same versions.

use capi_sim::release::{self, CAPI_VERSION, CLUSTERCTL_VERSION, KIND_VERSION};
use serde_yaml::Value;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_path_buf()
}

fn workflow_text() -> String {
    std::fs::read_to_string(root().join(".github/workflows/conformance.yml")).expect("the workflow exists")
}

fn workflow() -> Value {
    serde_yaml::from_str(&workflow_text()).expect("the workflow is valid YAML")
}

fn env<'a>(w: &'a Value, name: &str) -> &'a str {
    w["env"][name].as_str().unwrap_or_else(|| panic!("workflow env {name} is missing or not a string"))
}

fn steps(w: &Value) -> &Vec<Value> {
    w["jobs"]["conformance"]["steps"].as_sequence().expect("jobs.conformance.steps")
}

/// Every `run:` script of the job, with its step's name.
fn scripts(w: &Value) -> Vec<(String, String)> {
    steps(w).iter().filter_map(|s| Some((s["name"].as_str().unwrap_or("").to_string(), s["run"].as_str()?.to_string()))).collect()
}

/// Every `vX.Y.Z` in `text`.
fn versions(text: &str) -> Vec<String> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    for (i, _) in text.match_indices('v') {
        if i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'.') {
            continue;
        }
        let rest = &text[i + 1..];
        let end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let v = rest[..end].trim_end_matches('.');
        if v.split('.').count() == 3 && v.split('.').all(|p| !p.is_empty()) {
            out.push(format!("v{v}"));
        }
    }
    out
}

#[test]
fn pins_are_the_modelled_release() {
    let w = workflow();
    assert_eq!(env(&w, "CLUSTERCTL_VERSION"), CLUSTERCTL_VERSION, "clusterctl pinned in the workflow vs sim/src/release.rs");
    assert_eq!(env(&w, "KIND_VERSION"), KIND_VERSION, "kind pinned in the workflow vs sim/src/release.rs");
    assert_eq!(env(&w, "CAPI_PROVIDERS_VERSION"), CAPI_VERSION, "providers named in the workflow vs sim/src/release.rs");
    // No script names another version of anything (a hand-edited URL, an inline `clusterctl init`).
    for (name, script) in scripts(&w) {
        for v in versions(&script) {
            assert!([CAPI_VERSION, KIND_VERSION].contains(&v.as_str()), "step `{name}` names {v}, not a pinned version");
        }
    }
    // The comment that spells out `clusterctl init` names the same providers.
    let text = workflow_text();
    for p in release::PROVIDERS {
        assert!(text.contains(&format!("--{} {}", p.flag, p.spec())), "the workflow's comment does not name --{} {}", p.flag, p.spec());
    }
}

#[test]
fn runs_nightly_on_a_label_and_by_hand_not_on_every_push() {
    let w = workflow();
    let on = &w["on"];
    assert!(on.get("push").is_none(), "the gate must not run on every push: {on:?}");
    let cron = on["schedule"][0]["cron"].as_str().expect("a schedule with a cron");
    assert_eq!(cron.split_whitespace().count(), 5, "cron {cron}");
    assert!(on.get("workflow_dispatch").is_some(), "workflow_dispatch");
    let types: Vec<&str> =
        on["pull_request"]["types"].as_sequence().expect("pull_request.types").iter().filter_map(Value::as_str).collect();
    assert!(types.contains(&"labeled"), "a PR label starts it: {types:?}");
    let cond = w["jobs"]["conformance"]["if"].as_str().expect("the job is conditional on the label");
    assert!(cond.contains("'conformance'") && cond.contains("pull_request"), "{cond}");
}

#[test]
fn builds_once_in_release_and_runs_that_binary() {
    let w = workflow();
    let xtask = env(&w, "XTASK");
    assert_eq!(xtask, "target/release/xtask");
    let all = scripts(&w);
    let builds: Vec<&String> = all.iter().map(|(_, s)| s).filter(|s| s.contains("cargo build")).collect();
    assert_eq!(builds.len(), 1, "one build: {builds:?}");
    assert!(builds[0].contains("--release") && builds[0].contains("-p xtask"), "{}", builds[0]);
    for (name, s) in &all {
        assert!(!s.contains("cargo xtask") && !s.contains("cargo run"), "step `{name}` builds again: {s}");
    }
    for verb in ["conformance up", "conformance run", "conformance compare", "conformance down"] {
        assert!(all.iter().any(|(_, s)| s.contains(&format!("${{XTASK}} {verb}"))), "no step runs `$XTASK {verb}`");
    }
    // `cargo xtask` (what README tells users) is the same release build.
    let config = std::fs::read_to_string(root().join(".cargo/config.toml")).expect(".cargo/config.toml");
    let alias = config.lines().find(|l| l.trim_start().starts_with("xtask")).expect("the xtask alias");
    assert!(alias.contains("--release") && alias.contains("-p xtask"), "{alias}");
}

#[test]
fn a_failure_uploads_logs_and_describe() {
    let w = workflow();
    let reports = env(&w, "REPORTS");
    let diag = steps(&w).iter().find(|s| s["if"].as_str() == Some("failure()")).expect("a step that runs on failure");
    let run = diag["run"].as_str().expect("its script");
    for needle in [
        "kind export logs",
        "capi-controller-manager",
        "capi-kubeadm-bootstrap-controller-manager",
        "capi-kubeadm-control-plane-controller-manager",
        "capd-controller-manager",
        "clusterctl describe cluster",
        "${REPORTS}/",
    ] {
        assert!(run.contains(needle), "the failure step does not collect `{needle}`:\n{run}");
    }
    let upload = steps(&w).iter().find(|s| s["uses"].as_str().is_some_and(|u| u.starts_with("actions/upload-artifact"))).expect("upload");
    assert_eq!(upload["if"].as_str(), Some("always()"));
    assert!(upload["with"]["path"].as_str().is_some_and(|p| p.contains("env.REPORTS")), "uploads {reports}");
    let run_step = scripts(&w).into_iter().find(|(_, s)| s.contains("conformance run")).expect("the run step").1;
    assert!(run_step.contains("--describe"), "reports keep clusterctl describe of every cluster: {run_step}");
}

#[test]
fn readme_names_the_pinned_versions() {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README.md");
    let start = readme.find("### The real KinD gate").expect("README has the real KinD gate section");
    let section = &readme[start..];
    let section = &section[..section[4..].find("\n### ").map_or(section.len(), |i| i + 4)];
    for v in [KIND_VERSION, CLUSTERCTL_VERSION, CAPI_VERSION] {
        assert!(section.contains(v), "README's KinD gate section does not name {v}");
    }
    for v in versions(section) {
        assert!([CAPI_VERSION, KIND_VERSION].contains(&v.as_str()), "README's KinD gate section names {v}, not a pinned version");
    }
}

#[test]
fn version_scan_finds_versions() {
    assert_eq!(versions("a v1.2.3, kind@v0.32.0 and v4 v1.2"), vec!["v1.2.3", "v0.32.0"]);
}

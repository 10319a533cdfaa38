//! `cargo xtask scenario run` over several scenarios: it ends with one tally line (passed, failed,
//! interrupted, not run, the whole run's wall time), a file that does not load is a failed case in
//! the reports too, and JUnit's `time` is wall-clock seconds (the simulated time a property) in the
//! run's reports and in the reports `report merge` makes of them.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_path_buf()
}

fn xtask() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_xtask"));
    c.current_dir(root()).env_remove("CAPI_SIM_SEED");
    c
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("capi-xtask-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

fn scenario(value: &str) -> String {
    format!(
        r#"name: config-{value}
description: a ConfigMap is applied and read back.
steps:
  - apply:
      manifest: |
        apiVersion: v1
        kind: ConfigMap
        metadata: {{ name: c, namespace: default }}
        data: {{ k: applied }}
  - expect:
      field: {{ target: ConfigMap/c, path: data.k, equals: {value} }}
"#
    )
}

/// `(name, time, simulated_time_seconds)` of every `<testcase>`.
fn cases(junit: &str) -> Vec<(String, f64, Option<f64>)> {
    let mut out = Vec::new();
    for chunk in junit.split("<testcase ").skip(1) {
        let attr = |name: &str| -> String {
            let key = format!(" {name}=\"");
            let head = format!(" {chunk}");
            let start = head.find(&key).map(|i| i + key.len()).unwrap_or_else(|| panic!("no {name} in {chunk}"));
            head[start..].split('"').next().unwrap_or("").to_string()
        };
        let body = chunk.split("</testcase>").next().unwrap_or("");
        let sim = body
            .split("<property name=\"simulated_time_seconds\" value=\"")
            .nth(1)
            .and_then(|v| v.split('"').next())
            .map(|v| v.parse::<f64>().expect("a number"));
        out.push((attr("name"), attr("time").parse().expect("time is a number"), sim));
    }
    out
}

#[test]
fn several_scenarios_end_with_one_tally_line_and_wall_time_junit() {
    let dir = scratch("tally");
    let lib = dir.join("lib");
    std::fs::create_dir_all(&lib).unwrap();
    std::fs::write(lib.join("a-pass.yaml"), scenario("applied")).unwrap();
    std::fs::write(lib.join("b-fail.yaml"), scenario("something-else")).unwrap();
    std::fs::write(lib.join("c-broken.yaml"), "name: broken\nsteps:\n  - aply: {}\n").unwrap();
    let out = dir.join("out");
    let o = xtask().args(["scenario", "run"]).arg(&lib).arg("--out").arg(&out).output().expect("xtask runs");
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{stdout}\n{}", String::from_utf8_lossy(&o.stderr));
    let last = stdout.lines().last().unwrap_or("");
    assert!(last.starts_with("FAILED: 3 scenarios: 1 passed, 2 failed, 0 interrupted, 0 not run in "), "tally: {last}");
    assert!(last.ends_with(" wall time"), "tally: {last}");

    let junit = std::fs::read_to_string(out.join("junit.xml")).expect("junit.xml");
    let runs = cases(&junit);
    let names: Vec<&str> = runs.iter().map(|c| c.0.as_str()).collect();
    assert_eq!(names, ["config-applied", "config-something-else", "c-broken"], "the broken file is a case too");
    assert!(junit.contains(r#"type="RunError""#), "the broken file is an error case: {junit}");
    for (name, time, sim) in &runs[..2] {
        let sim = sim.expect("simulated_time_seconds");
        // The run settles for at least 10 simulated seconds; the wall time of so small a run is far less.
        assert!(sim >= 10.0, "{name}: simulated {sim}");
        assert!(*time < sim, "{name}: time {time} is wall time, not the simulated {sim}");
    }
    let jsonl = std::fs::read_to_string(out.join("reports.jsonl")).expect("reports.jsonl");
    let walls: Vec<Option<u64>> =
        jsonl.lines().map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["wall_time_ms"].as_u64()).collect();
    assert!(walls[0].is_some() && walls[1].is_some(), "{walls:?}");

    // Merged, the cases keep their wall times.
    let merged = dir.join("merged");
    let m = xtask().args(["report", "merge"]).arg(&out).arg("--out").arg(&merged).output().expect("merge runs");
    assert_eq!(m.status.code(), Some(1), "two of the runs failed");
    let again = cases(&std::fs::read_to_string(merged.join("junit.xml")).expect("merged junit.xml"));
    for (name, time, _) in &runs[..2] {
        let (_, t, _) = again.iter().find(|c| &c.0 == name).unwrap_or_else(|| panic!("{name} merged"));
        assert_eq!(t, time, "{name}: merged time");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

//! `cargo xtask bench` end to end at a tiny size (2 clusters): the built binary runs each size by
//! starting itself again, never cargo (a `cargo` on PATH and in `$CARGO` that would leave a marker
//! file is never called); without `--out` the reports go to `$CARGO_TARGET_DIR/bench`, not the
//! source tree; `bench.json` names the phases and keeps every run's samples; a second run with
//! `--baseline` writes the comparison where `--out` says.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_path_buf()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("capi-xtask-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// The xtask binary with a PATH holding only a fake `cargo` that leaves `marker` when run.
fn xtask(fake_bin: &Path, marker: &Path) -> Command {
    let cargo = fake_bin.join("cargo");
    std::fs::write(&cargo, format!("#!/bin/sh\ntouch {}\nexit 1\n", marker.display())).expect("fake cargo");
    #[cfg(unix)]
    std::fs::set_permissions(&cargo, std::os::unix::fs::PermissionsExt::from_mode(0o755)).expect("chmod");
    let mut c = Command::new(env!("CARGO_BIN_EXE_xtask"));
    c.current_dir(root()).env("PATH", fake_bin).env("CARGO", &cargo).env_remove("CAPI_SIM_SEED");
    c
}

fn read_json(p: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))).expect("bench.json parses")
}

#[test]
fn bench_runs_from_the_binary_writes_where_asked_and_compares_with_a_baseline() {
    let dir = scratch("bench");
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).expect("bin dir");
    let marker = dir.join("cargo-was-run");
    let target = dir.join("target");

    // 1. Default output: $CARGO_TARGET_DIR/bench.
    let out =
        xtask(&bin, &marker).args(["bench", "--clusters", "2", "--quiet"]).env("CARGO_TARGET_DIR", &target).output().expect("xtask runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "bench failed: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(!marker.exists(), "cargo was invoked");
    let base = target.join("bench/bench.json");
    let v = read_json(&base);
    let r = &v["results"][0];
    assert_eq!(r["clusters"], 2);
    assert_eq!(r["passed"], true, "{r}");
    let names: Vec<&str> = r["phases"].as_array().expect("phases").iter().filter_map(|p| p["name"].as_str()).collect();
    assert_eq!(names, ["create", "upgrade", "delete"]);
    for p in r["phases"].as_array().expect("phases") {
        assert!(p["reconciles"].as_u64().unwrap_or(0) > 0 && p["sim_s"].as_f64().unwrap_or(0.0) > 0.0, "{p}");
        assert!(p["us_per_reconcile"].as_f64().unwrap_or(0.0) > 0.0, "{p}");
    }
    assert_eq!(r["samples"]["us_per_reconcile"].as_array().map(Vec::len), Some(1));
    assert!(target.join("bench/bench.md").is_file());
    assert!(stdout.contains("| 2 | create |"), "{stdout}");

    // 2. --out and --baseline, two runs: the comparison is written there, and the verdicts are given.
    let out_dir = dir.join("second");
    let out = xtask(&bin, &marker)
        .args(["bench", "--clusters", "2", "--quiet", "--repeat", "2", "--noise-threshold", "1000"])
        .arg("--baseline")
        .arg(&base)
        .arg("--out")
        .arg(&out_dir)
        .env_remove("CARGO_TARGET_DIR")
        .output()
        .expect("xtask runs");
    assert!(out.status.success(), "bench failed: {}", String::from_utf8_lossy(&out.stderr));
    assert!(!marker.exists(), "cargo was invoked");
    let md = std::fs::read_to_string(out_dir.join("bench.md")).expect("bench.md");
    assert!(md.contains("## Against the baseline"), "{md}");
    assert!(md.contains("| 2 | upgrade: µs/reconcile |"), "{md}");
    // With a 1000% noise threshold, wall-time noise cannot be called a change; the counts are equal.
    assert!(!md.contains("| **regressed** |") && !md.contains("| **improved** |"), "{md}");
    assert!(!md.contains("changed from"), "the same seed does the same work: {md}");
    let v = read_json(&out_dir.join("bench.json"));
    assert_eq!(v["results"][0]["samples"]["us_per_reconcile"].as_array().map(Vec::len), Some(2));
    assert_eq!(v["regressed"], false);

    // 3. A missing baseline fails at once, naming the file.
    let out =
        xtask(&bin, &marker).args(["bench", "--clusters", "2", "--quiet", "--baseline", "/nonexistent/bench.json"]).output().expect("runs");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/bench.json"));
    let _ = std::fs::remove_dir_all(&dir);
}

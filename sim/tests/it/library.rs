//! Every scenario of the library runs and passes; its normalized outcome is snapshotted (the snapshot
//! is the reviewed record of what CAPI does in that scenario).

use crate::run;
use capi_sim::engine::trace::TraceMode;

fn check(file: &str) {
    let (report, _) = run(file, None, TraceMode::Hash);
    let failed: Vec<String> = report
        .steps
        .iter()
        .filter(|s| !s.passed)
        .map(|s| format!("step {} ({}, line {}): {:?} {}", s.index, s.kind, s.line, s.status, s.message))
        .collect();
    assert!(report.passed, "{file} failed:\n{}\nviolations: {:?}\nerror: {:?}", failed.join("\n"), report.violations, report.error);
    let outcome = report.outcome().normalized();
    insta::with_settings!({ description => format!("scenarios/library/{file} (seed {})", report.seed), omit_expression => true }, {
        insta::assert_yaml_snapshot!(file.trim_end_matches(".yaml"), outcome);
    });
}

macro_rules! library {
    ($($name:ident => $file:literal),* $(,)?) => { $( #[test] fn $name() { check($file); } )* };
}

library! {
    core_cascade => "core-cascade.yaml",
    quickstart => "quickstart.yaml",
}

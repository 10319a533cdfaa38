//! Every scenario of the library parses.

use std::path::Path;

#[test]
fn every_library_scenario_parses() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("library");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let s = capi_scenarios::load(&path, &Default::default()).unwrap_or_else(|e| panic!("{e}"));
            assert!(!s.description.is_empty(), "{} needs a description", path.display());
            assert!(!s.steps.is_empty());
            n += 1;
        }
    }
    assert!(n >= 10, "the library has {n} scenarios");
}

//! The JSON Schema and the language reference stay true: the committed schema is what the code
//! generates, every library scenario validates against it, and every key of the language is written
//! in docs/scenario-language.md.

use capi_scenarios::schema::{scenario_schema_json, SCHEMA_PATH};
use capi_scenarios::LoadOptions;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_path_buf()
}

fn schema() -> Value {
    serde_json::from_str(&scenario_schema_json()).expect("the schema is JSON")
}

#[test]
fn the_committed_schema_is_the_generated_one() {
    let path = root().join(SCHEMA_PATH);
    if std::env::var_os("CAPI_UPDATE_SCHEMA").is_some() {
        std::fs::create_dir_all(path.parent().expect("schema dir")).expect("schema dir");
        std::fs::write(&path, scenario_schema_json()).expect("write the schema");
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == scenario_schema_json(),
        "{SCHEMA_PATH} is stale: regenerate it with `cargo xtask scenario schema > {SCHEMA_PATH}` (or run this test with CAPI_UPDATE_SCHEMA=1)"
    );
}

#[test]
fn every_library_scenario_validates_against_the_schema() {
    let validator = jsonschema::validator_for(&schema()).expect("a valid JSON Schema");
    let dir = root().join("scenarios/library");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("library")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 10, "the library is there");
    let opts = LoadOptions { fixtures_dir: Some(root().join("fixtures")), ..Default::default() };
    let mut problems = Vec::new();
    for f in &files {
        let doc = capi_scenarios::parse::substituted_document(f, &opts).unwrap_or_else(|e| panic!("{e}"));
        for e in validator.iter_errors(&doc) {
            problems.push(format!("{}: {} at {}", f.display(), e, e.instance_path));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The schema refuses what the loader refuses: a misspelt step, an unknown key, a bare-number
/// duration, a target without a kind.
#[rstest::rstest]
#[case::misspelt_step(r#"{"steps": [{"aply": {}}]}"#)]
#[case::unknown_top_level_key(r#"{"setps": []}"#)]
#[case::bare_duration(r#"{"steps": [{"sleep": "600"}]}"#)]
#[case::target_without_kind(r#"{"steps": [{"expect": {"exists": {"name": "x"}}}]}"#)]
#[case::two_keys_in_one_step(r#"{"steps": [{"sleep": "1s", "wait": {"for": {"exists": "Cluster"}}}]}"#)]
#[case::unknown_fault(r#"{"steps": [{"fault": {"kind": "meteor-strike"}}]}"#)]
fn the_schema_refuses_broken_scenarios(#[case] doc: &str) {
    let validator = jsonschema::validator_for(&schema()).expect("a valid JSON Schema");
    let doc: Value = serde_json::from_str(doc).expect("test JSON");
    assert!(!validator.is_valid(&doc), "accepted {doc}");
}

/// Every property name and enum value the schema knows, recursively.
fn keys(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            if let Some(Value::Object(props)) = m.get("properties") {
                out.extend(props.keys().cloned());
            }
            if let Some(Value::Array(e)) = m.get("enum") {
                out.extend(e.iter().filter_map(Value::as_str).map(str::to_string));
            }
            if let Some(Value::String(c)) = m.get("const") {
                out.insert(c.clone());
            }
            m.values().for_each(|x| keys(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| keys(x, out)),
        _ => {}
    }
}

#[test]
fn every_key_of_the_language_is_documented() {
    let doc = std::fs::read_to_string(root().join("docs/scenario-language.md")).expect("docs/scenario-language.md");
    let mut all = BTreeSet::new();
    keys(&schema(), &mut all);
    assert!(all.len() > 60, "the schema walk found the language's keys: {all:?}");
    let missing: Vec<&String> = all.iter().filter(|k| !doc.contains(&format!("`{k}`")) && !doc.contains(&format!("`{k}:"))).collect();
    assert!(missing.is_empty(), "docs/scenario-language.md does not mention: {missing:?}");
}

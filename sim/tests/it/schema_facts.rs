//! The generated schemas of the served Cluster API kinds against facts read from upstream's Go types
//! (`sim/tests/upstream_facts/<Kind>.txt`: every JSON field path, its JSON type, whether it is
//! required), and the library's manifests against the Rust types they are generated from.

use capi_sim::kinds::KINDS;
use capi_sim::types::schema;
use capi_sim::Kind;
use std::collections::BTreeSet;

fn facts(kind: Kind) -> BTreeSet<String> {
    let path = super::root().join("sim/tests/upstream_facts").join(format!("{}.txt", kind.name()));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()).map(str::to_string).collect()
}

/// Every custom kind's schema is structural and has exactly upstream's fields, types and required
/// fields.
#[test]
fn schemas_match_upstream_facts() {
    let mut failures = Vec::new();
    for k in KINDS.iter().filter(|k| !k.group.is_empty()) {
        let s = schema::of(k.kind).unwrap_or_else(|| panic!("{} has no schema", k.name));
        let errors = schema::structural_errors(s);
        assert!(errors.is_empty(), "{} is not structural: {errors:#?}", k.name);
        let ours: BTreeSet<String> = schema::field_lines(s).into_iter().collect();
        let theirs = facts(k.kind);
        let missing: Vec<&String> = theirs.difference(&ours).collect();
        let extra: Vec<&String> = ours.difference(&theirs).collect();
        if !missing.is_empty() || !extra.is_empty() {
            failures.push(format!("{}:\n  upstream only: {missing:#?}\n  ours only: {extra:#?}", k.name));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// No facts file is left without a served kind.
#[test]
fn every_facts_file_names_a_served_kind() {
    let dir = super::root().join("sim/tests/upstream_facts");
    for e in std::fs::read_dir(&dir).expect("facts dir") {
        let name = e.expect("entry").file_name().to_string_lossy().trim_end_matches(".txt").to_string();
        assert!(Kind::from_name(&name).and_then(schema::of).is_some(), "{name}.txt names no served custom kind");
    }
}

/// Every object of a custom kind the library's quick-start scenarios leave in the store (what the
/// manifests wrote and what the controllers wrote) decodes into its Rust type and encodes back to the
/// same JSON: the simulator writes no field, type or enum value upstream's types do not have.
#[rstest::rstest]
#[case::quickstart("quickstart.yaml")]
#[case::development_flavor("development-flavor.yaml")]
#[case::mhc_remediation("mhc-remediation.yaml")]
#[case::drain("delete-machine-directly.yaml")]
fn stored_objects_round_trip_through_the_types(#[case] file: &str) {
    if !super::root().join("scenarios/library").join(file).exists() {
        eprintln!("SKIPPED {file}: not in the library");
        return;
    }
    let (_report, backend) = super::run(file, Some(1), capi_sim::engine::trace::TraceMode::Off);
    let sim = backend.sim().expect("the scenario ran");
    let mut failures = Vec::new();
    for o in sim.mgmt.iter().flat_map(|m| m.api.store.objects().iter()) {
        let Some(node) = schema::compiled(o.kind) else { continue };
        let json = o.to_json();
        let mut unknown = Vec::new();
        node.unknown_changed(&json, None, "", &mut unknown);
        let mut errors = Vec::new();
        node.validate_changed(&json, None, "", &mut errors);
        let errors: Vec<String> = errors.into_iter().map(|e| format!("{}: {}", e.field, e.message)).collect();
        if !unknown.is_empty() || !errors.is_empty() {
            failures.push(format!("{} {}: unknown fields {unknown:?}, invalid {errors:?}", o.kind, o.meta.name));
            continue;
        }
        match schema::roundtrip(o.kind, &json) {
            None => {}
            Some(Err(e)) => failures.push(format!("{} {}: does not decode: {e}", o.kind, o.meta.name)),
            Some(Ok(back)) => {
                let mut lost = Vec::new();
                diff(&json, &back, String::new(), &mut lost);
                if !lost.is_empty() {
                    failures.push(format!("{} {}: not kept: {lost:?}", o.kind, o.meta.name));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The paths where `a` and `b` differ (metadata is compared loosely: the types keep the fields CAPI
/// objects carry).
fn diff(a: &serde_json::Value, b: &serde_json::Value, path: String, out: &mut Vec<String>) {
    use serde_json::Value;
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, v) in x {
                let p = format!("{path}/{k}");
                match y.get(k) {
                    Some(w) => diff(v, w, p, out),
                    None if v.is_null() => {}
                    None => out.push(p),
                }
            }
            for k in y.keys().filter(|k| !x.contains_key(k.as_str())) {
                out.push(format!("{path}/{k} (added)"));
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (v, w)) in x.iter().zip(y).enumerate() {
                diff(v, w, format!("{path}/{i}"), out);
            }
        }
        (Value::Number(x), Value::Number(y)) if x.as_f64() == y.as_f64() => {}
        _ if a == b => {}
        _ => out.push(format!("{path}: {a} → {b}")),
    }
}

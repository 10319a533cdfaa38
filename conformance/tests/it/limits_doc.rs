//! `docs/limits.md` states every limit with the constant that enforces it; this test reads the
//! table and checks each documented number against the constant, and that no constant is missing.

use std::collections::BTreeMap;

fn constants() -> BTreeMap<&'static str, u64> {
    use capi_scenarios::{k8svalid, limits, vars};
    BTreeMap::from([
        ("capi_scenarios::limits::MAX_SCENARIO_BYTES", limits::MAX_SCENARIO_BYTES),
        ("capi_scenarios::limits::MAX_MANIFEST_BYTES", limits::MAX_MANIFEST_BYTES),
        ("capi_scenarios::limits::MAX_DEPTH", limits::MAX_DEPTH as u64),
        ("capi_scenarios::limits::MAX_ALIASES", limits::MAX_ALIASES as u64),
        ("capi_scenarios::limits::MAX_OBJECTS_PER_APPLY", limits::MAX_OBJECTS_PER_APPLY as u64),
        ("capi_scenarios::limits::MAX_REPEAT", u64::from(limits::MAX_REPEAT)),
        ("capi_scenarios::vars::LIMITS.max_output_bytes", vars::LIMITS.max_output_bytes as u64),
        ("capi_scenarios::vars::LIMITS.max_depth", vars::LIMITS.max_depth as u64),
        ("capi_scenarios::limits::MAX_DURATION_MS", limits::MAX_DURATION_MS),
        ("capi_scenarios::limits::MAX_REPLICAS", limits::MAX_REPLICAS),
        ("capi_conformance::apiserver::handlers::MAX_BODY_BYTES", capi_conformance::apiserver::handlers::MAX_BODY_BYTES as u64),
        ("capi_scenarios::k8svalid::TOTAL_ANNOTATION_SIZE", k8svalid::TOTAL_ANNOTATION_SIZE as u64),
        ("capi_scenarios::k8svalid::MAX_SECRET_SIZE", k8svalid::MAX_SECRET_SIZE as u64),
        ("capi_scenarios::k8svalid::DNS1123_SUBDOMAIN_MAX", k8svalid::DNS1123_SUBDOMAIN_MAX as u64),
        ("capi_scenarios::k8svalid::DNS1123_LABEL_MAX", k8svalid::DNS1123_LABEL_MAX as u64),
        ("capi_scenarios::k8svalid::LABEL_VALUE_MAX", k8svalid::LABEL_VALUE_MAX as u64),
        ("capi_scenarios::k8svalid::QUALIFIED_NAME_MAX", k8svalid::QUALIFIED_NAME_MAX as u64),
    ])
}

/// The rows of the table: (constant, the first number of the limit column).
fn documented(text: &str) -> Vec<(String, u64)> {
    text.lines()
        .filter(|l| l.starts_with('|') && l.contains("`capi_"))
        .map(|l| {
            let cols: Vec<&str> = l.split('|').map(str::trim).collect();
            let limit = cols[2];
            let digits: String = limit.chars().skip_while(|c| !c.is_ascii_digit()).take_while(char::is_ascii_digit).collect();
            let number = digits.parse().unwrap_or_else(|_| panic!("no number in the limit column of: {l}"));
            (cols[3].trim_matches('`').to_string(), number)
        })
        .collect()
}

#[test]
fn documented_limits_match_the_code() {
    let text = std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/limits.md")).expect("docs/limits.md");
    let rows = documented(&text);
    let code = constants();
    for (name, number) in &rows {
        let value = code.get(name.as_str()).unwrap_or_else(|| panic!("docs/limits.md names {name}, which this test does not know"));
        assert_eq!(number, value, "docs/limits.md says {name} = {number}; the code says {value}");
    }
    for name in code.keys() {
        assert!(rows.iter().any(|(n, _)| n == name), "{name} is not documented in docs/limits.md");
    }
}

#[test]
fn a_wrong_number_is_caught() {
    let rows = documented("| x | 5 bytes | `capi_scenarios::limits::MAX_DEPTH` | y |\n");
    assert_eq!(rows, vec![("capi_scenarios::limits::MAX_DEPTH".to_string(), 5)]);
    assert_ne!(rows[0].1, constants()["capi_scenarios::limits::MAX_DEPTH"]);
}

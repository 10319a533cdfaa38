//! What a scenario may touch on a real cluster (its namespaces, its Clusters, the kinds its waits
//! watch): every library scenario's own objects are inside its scope; the quickstart's and the core
//! cascade's scopes are snapshotted, so that widening them shows in review; Kubernetes' own
//! namespaces are never writable.

use capi_conformance::kube_backend::scope::ScenarioScope;
use std::fmt::Write as _;
use std::path::Path;

fn library_files() -> Vec<std::path::PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/library");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml") && !p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect();
    files.sort();
    files
}

fn list(items: impl IntoIterator<Item = String>) -> String {
    let v: Vec<String> = items.into_iter().collect();
    if v.len() > 6 {
        format!("{}, ... ({} in all)", v[..6].join(", "), v.len())
    } else {
        v.join(", ")
    }
}

fn describe(files: &[std::path::PathBuf]) -> String {
    let mut out = String::new();
    for f in files {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        let scenario = match capi_scenarios::load(f, &Default::default()) {
            Ok(s) => s,
            Err(e) => {
                let _ = writeln!(out, "{name}: does not load: {e}");
                continue;
            }
        };
        let s = ScenarioScope::of(&scenario);
        let _ = writeln!(out, "{name}:");
        let _ = writeln!(out, "  namespaces: {}", list(s.namespaces.iter().cloned()));
        let _ = writeln!(out, "  namespace objects: {}", list(s.namespace_objects.iter().cloned()));
        let _ = writeln!(out, "  clusters: {}", list(s.clusters.iter().cloned()));
        let _ = writeln!(out, "  applied clusters: {}", list(s.applied_clusters.iter().map(|(ns, n)| format!("{ns}/{n}"))));
        let _ = writeln!(out, "  watched kinds: {}", list(s.watched_kinds.iter().cloned()));
        // Every object the scenario applies to a management cluster is inside its own scope.
        for e in &scenario.steps {
            if let capi_scenarios::Step::Apply(a) = &e.step {
                if a.workload.is_some() {
                    continue;
                }
                for o in &a.objects {
                    let ns = if o.kind() == "Namespace" { "" } else { o.namespace().unwrap_or("default") };
                    assert!(s.allows_write(o.kind(), ns, o.name()), "{name}: {}/{} is outside its own scope", o.kind(), o.name());
                }
            }
        }
    }
    out
}

#[test]
fn every_library_scenario_stays_inside_its_own_scope() {
    // Asserts inside `describe`; the text is not snapshotted, so new scenarios need no review here.
    let text = describe(&library_files());
    assert!(!text.contains("does not load"), "{text}");
}

#[test]
fn scopes_of_the_quickstart_and_the_core_cascade() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/library");
    insta::assert_snapshot!("scopes", describe(&[dir.join("quickstart.yaml"), dir.join("core-cascade.yaml")]));
}

#[test]
fn kubernetes_namespaces_are_never_writable() {
    let f = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/library/core-cascade.yaml");
    let s = ScenarioScope::of(&capi_scenarios::load(&f, &Default::default()).unwrap());
    assert!(s.allows("Namespace", "", "default"), "reading Namespace/default is fine");
    assert!(!s.allows_write("Namespace", "", "default"), "deleting Namespace/default is not");
    assert!(!s.allows_write("Namespace", "", "kube-system"));
    assert!(!s.allows_write("ConfigMap", "kube-system", "x"));
    assert!(!s.allows_write("ClusterRole", "", "admin"), "cluster-scoped kinds other than the scenario's Namespaces are out");
    assert!(s.allows_write("Namespace", "", "team-a"), "the scenario creates team-a");
}

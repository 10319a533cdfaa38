//! Tests of predicate evaluation: the short-circuiting checks waits use agree with full evaluation.

use super::*;
use rstest::rstest;
use serde_json::json;

/// Objects in a list; one management cluster, no containers.
struct Objects(Vec<Value>);

impl ClusterView for Objects {
    fn get(&self, kind: &str, namespace: &str, name: &str) -> Result<Option<&dyn Resource>, String> {
        Ok(self.0.iter().find(|o| o.kind() == kind && o.namespace() == namespace && o.name() == name).map(|o| o as &dyn Resource))
    }
    fn list(&self, kind: &str, namespace: Option<&str>, selector: &crate::LabelSelector) -> Result<Vec<&dyn Resource>, String> {
        Ok(self
            .0
            .iter()
            .filter(|o| o.kind() == kind && namespace.is_none_or(|n| o.namespace() == n) && selector.matches(|k| o.label(k)))
            .map(|o| o as &dyn Resource)
            .collect())
    }
}

impl WorldView for Objects {
    fn management(&self, _: Option<&str>) -> Result<&dyn ClusterView, String> {
        Ok(self)
    }
    fn containers(&self) -> Vec<ContainerInfo> {
        Vec::new()
    }
}

fn machine(name: &str, phase: &str, ready: &str) -> Value {
    json!({"apiVersion": "cluster.x-k8s.io/v1beta2", "kind": "Machine",
           "metadata": {"name": name, "namespace": "default", "labels": {"cluster.x-k8s.io/cluster-name": "c1"}},
           "status": {"phase": phase, "conditions": [{"type": "Ready", "status": ready}]}})
}

/// The short-circuiting check the simulator's waits use agrees with the full evaluation.
#[rstest]
#[case("phase: { target: { kind: Machine }, is: Running }", false)]
#[case("phase: { target: { kind: Machine, match: any }, is: Running }", true)]
#[case("condition: { target: { kind: Machine }, type: Ready, status: \"True\" }", false)]
#[case("field: { target: { kind: Machine, cluster: c1 }, path: status.phase, exists: true }", true)]
#[case("not: { phase: { target: { kind: Machine }, is: Running } }", true)]
#[case("all: [ { count: { target: { kind: Machine }, equals: 3 } }, { phase: { target: { kind: Machine }, is: Running } } ]", false)]
#[case("any: [ { count: { target: { kind: Machine }, equals: 2 } }, { exists: Machine/m2 } ]", true)]
#[case("gone: Machine/m9", true)]
fn holds_agrees_with_evaluate(#[case] yaml: &str, #[case] want: bool) {
    let world = Objects(vec![machine("m1", "Running", "True"), machine("m2", "Provisioning", "False"), machine("m3", "Running", "True")]);
    let p: Predicate = serde_yaml::from_str(yaml).unwrap_or_else(|e| panic!("{yaml}: {e}"));
    assert_eq!(evaluate(&p, &world).holds, want, "{yaml}: {}", evaluate(&p, &world).detail);
    assert_eq!(holds(&p, &world), want, "{yaml}");
}

fn labelled(name: &str, phase: &str, cluster: &str) -> Value {
    let mut m = machine(name, phase, "True");
    m["metadata"]["labels"]["cluster.x-k8s.io/cluster-name"] = json!(cluster);
    m
}

/// A sequence of worlds in which the object that decides a check changes, leaves the selection
/// (relabelled), comes back, goes away, and new objects appear.
fn changing_worlds() -> Vec<Vec<Value>> {
    vec![
        vec![labelled("m1", "Pending", "c1"), labelled("m2", "Pending", "c1"), labelled("m3", "Running", "c1")],
        vec![labelled("m1", "Running", "c1"), labelled("m2", "Pending", "c1"), labelled("m3", "Running", "c1")],
        // The failing object leaves the selection (relabelled), then comes back.
        vec![labelled("m1", "Running", "c1"), labelled("m2", "Pending", "c2"), labelled("m3", "Running", "c1")],
        vec![labelled("m1", "Running", "c1"), labelled("m2", "Pending", "c1"), labelled("m3", "Pending", "c1")],
        // It goes away.
        vec![labelled("m1", "Running", "c1"), labelled("m3", "Pending", "c1")],
        vec![labelled("m1", "Running", "c1"), labelled("m3", "Running", "c1")],
        vec![labelled("m1", "Deleting", "c1"), labelled("m3", "Running", "c1")],
        vec![labelled("m1", "Pending", "c1")],
        vec![],
        vec![labelled("m4", "Running", "c1"), labelled("m2", "Running", "c1")],
    ]
}

/// A wait's repeated checks through witnesses give the answers a fresh check gives, while the
/// object that decided the last answer changes, leaves the selection or goes away.
#[rstest]
#[case("phase: { target: { kind: Machine, cluster: c1 }, is: Running }")]
#[case("phase: { target: { kind: Machine, cluster: c1, match: any }, is: Running }")]
#[case("condition: { target: { kind: Machine, name-prefix: m }, type: Ready, status: \"True\" }")]
#[case("all: [ { phase: { target: { kind: Machine, cluster: c1 }, is: Running } }, { not: { phase: { target: { kind: Machine, match: any }, is: Deleting } } } ]")]
fn checks_through_witnesses_agree_with_fresh_checks(#[case] yaml: &str) {
    let p: Predicate = serde_yaml::from_str(yaml).unwrap_or_else(|e| panic!("{yaml}: {e}"));
    let worlds = changing_worlds();
    let witnesses = Witnesses::default();
    let mut answers = Vec::new();
    for (i, objects) in worlds.into_iter().enumerate() {
        let world = Objects(objects);
        let fresh = holds(&p, &world);
        assert_eq!(holds_with(&p, &world, &witnesses), fresh, "{yaml}: world {i}");
        assert_eq!(holds_with(&p, &world, &witnesses), fresh, "{yaml}: world {i}, checked again");
        answers.push(fresh);
    }
    // The sequence has both answers, so agreeing is not trivial.
    assert!(answers.contains(&true) && answers.contains(&false), "{yaml}: {answers:?}");
}

/// Objects in a list whose writes are reported to witnesses, as the simulator reports its own.
struct Reporting(Objects);

impl WorldView for Reporting {
    fn management(&self, _: Option<&str>) -> Result<&dyn ClusterView, String> {
        Ok(&self.0)
    }
    fn containers(&self) -> Vec<ContainerInfo> {
        Vec::new()
    }
    fn change_key(&self, _: Option<&str>, kind: &str) -> Option<ChangeKey> {
        Some(ChangeKey { management: "mgmt".into(), kind: kind.into() })
    }
}

/// The objects that differ between two lists (added, removed or changed), as (kind, namespace, name).
fn written(before: &[Value], after: &[Value]) -> Vec<(String, String, String)> {
    let id = |o: &Value| (o.kind().to_string(), o.namespace().to_string(), o.name().to_string());
    let mut out: Vec<_> =
        before.iter().filter(|o| !after.contains(o)).chain(after.iter().filter(|o| !before.contains(o))).map(id).collect();
    out.sort();
    out.dedup();
    out
}

/// With every write reported, a wait's checks give the answers fresh checks give, for per-object
/// checks, counts, existence and absence, while objects change, leave the selection and go away.
#[rstest]
#[case("phase: { target: { kind: Machine, cluster: c1 }, is: Running }")]
#[case("phase: { target: { kind: Machine, cluster: c1, match: any }, is: Running }")]
#[case("condition: { target: { kind: Machine, name-prefix: m }, type: Ready, status: \"True\" }")]
#[case("count: { target: { kind: Machine, cluster: c1 }, equals: 2 }")]
#[case("exists: { kind: Machine, cluster: c2 }")]
#[case("gone: Machine/m2")]
#[case("all: [ { phase: { target: { kind: Machine, cluster: c1 }, is: Running } }, { not: { phase: { target: { kind: Machine, match: any }, is: Deleting } } } ]")]
fn checks_following_reported_writes_agree_with_fresh_checks(#[case] yaml: &str) {
    let p: Predicate = serde_yaml::from_str(yaml).unwrap_or_else(|e| panic!("{yaml}: {e}"));
    let worlds = changing_worlds();
    let witnesses = Witnesses::following_changes();
    let mut answers = Vec::new();
    let mut before: Vec<Value> = Vec::new();
    for (i, objects) in worlds.into_iter().enumerate() {
        for (kind, ns, name) in written(&before, &objects) {
            witnesses.changed("mgmt", &kind, &ns, &name);
        }
        before = objects.clone();
        let world = Reporting(Objects(objects));
        let fresh = holds(&p, &world);
        assert_eq!(holds_with(&p, &world, &witnesses), fresh, "{yaml}: world {i}");
        assert_eq!(holds_with(&p, &world, &witnesses), fresh, "{yaml}: world {i}, checked again");
        answers.push(fresh);
    }
    assert!(answers.contains(&true) && answers.contains(&false), "{yaml}: {answers:?}");
}

/// Following reported writes, a check reads only what was reported: a write it was not told of is
/// not seen (which is what keeps a fleet-wide wait from re-reading the fleet), and writes of other
/// kinds, namespaces or management clusters do not make it re-read an object.
#[test]
fn checks_following_reported_writes_read_only_what_was_reported() {
    let p: Predicate = serde_yaml::from_str("phase: { target: { kind: Machine, cluster: c1 }, is: Running }").unwrap();
    let witnesses = Witnesses::following_changes();
    let pending = Reporting(Objects(vec![labelled("m1", "Running", "c1"), labelled("m2", "Pending", "c1")]));
    assert!(!holds_with(&p, &pending, &witnesses));
    let running = Reporting(Objects(vec![labelled("m1", "Running", "c1"), labelled("m2", "Running", "c1")]));
    assert!(!holds_with(&p, &running, &witnesses), "an unreported write is not read");
    witnesses.changed("mgmt", "MachineSet", "default", "m2");
    witnesses.changed("mgmt", "Machine", "other", "m2");
    witnesses.changed("other-mgmt", "Machine", "default", "m2");
    assert!(!holds_with(&p, &running, &witnesses), "writes of other kinds, namespaces or management clusters");
    witnesses.changed("mgmt", "Machine", "default", "m2");
    assert!(holds_with(&p, &running, &witnesses));
}

/// A failed condition check shows the whole of a multi-line v1beta2 message on one line, not only its
/// first line (which is often just the heading `* WorkersAvailable:`).
#[test]
fn failed_condition_shows_every_line_of_its_message() {
    let cluster = json!({"apiVersion": "cluster.x-k8s.io/v1beta2", "kind": "Cluster",
        "metadata": {"name": "up", "namespace": "default"},
        "status": {"conditions": [{"type": "Available", "status": "False", "reason": "NotAvailable",
            "message": "* WorkersAvailable:\n  * MachineDeployment up-md-0: 0 available replicas, at least 2 required"}]}});
    let p: Predicate = serde_yaml::from_str("condition: { target: Cluster/up, type: Available, status: \"True\" }").unwrap();
    let eval = evaluate(&p, &Objects(vec![cluster]));
    assert!(!eval.holds);
    assert!(
        eval.detail.contains("(NotAvailable): * WorkersAvailable: * MachineDeployment up-md-0: 0 available replicas, at least 2 required"),
        "{}",
        eval.detail
    );
}

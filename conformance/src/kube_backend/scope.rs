//! What a scenario may touch on a real cluster, computed once from its steps: its namespaces (of the
//! objects it applies and of the targets it names), its Cluster names (of the Clusters it applies and
//! names; CAPD labels their containers with them), and the kinds its predicates read (watched).
//! Everything outside this scope is refused by the backend.

use capi_scenarios::manifest::ManifestObject;
use capi_scenarios::model::{ApplyStep, ClusterctlStep, Scenario, Step, WriteExpectation};
use capi_scenarios::predicate::Predicate;
use capi_scenarios::Target;
use std::collections::BTreeSet;

/// Namespaces Kubernetes creates itself; a scenario never owns them (they are not in its outcome).
pub const INITIAL_NAMESPACES: &[&str] = &["default", "kube-node-lease", "kube-public", "kube-system"];

/// What one scenario may touch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScenarioScope {
    /// Namespaces of its objects and targets.
    pub namespaces: BTreeSet<String>,
    /// Namespace objects it creates (cluster-scoped, so named here).
    pub namespace_objects: BTreeSet<String>,
    /// Cluster names (applied or named).
    pub clusters: BTreeSet<String>,
    /// Clusters the scenario applies: (namespace, name).
    pub applied_clusters: BTreeSet<(String, String)>,
    /// Kinds its `wait`s read (watched from the start), as written.
    pub watched_kinds: BTreeSet<String>,
}

impl ScenarioScope {
    /// The scope of a scenario.
    pub fn of(scenario: &Scenario) -> Self {
        let mut s = ScenarioScope::default();
        for e in &scenario.steps {
            s.add_step(&e.step);
        }
        // The liveness phase waits for this goal.
        if let Some(goal) = &scenario.converged {
            s.add_predicate(goal);
        }
        for inv in &scenario.invariants {
            s.add_predicate(&inv.predicate);
            let mut kinds = BTreeSet::new();
            predicate_kinds(&inv.predicate, &mut kinds);
            s.watched_kinds.extend(kinds);
        }
        s
    }

    /// Whether an object may be written (created, patched, deleted): inside the scope, and a
    /// Namespace only when the scenario creates it (never one Kubernetes made).
    pub fn allows_write(&self, kind: &str, namespace: &str, name: &str) -> bool {
        if namespace.is_empty() {
            kind == "Namespace" && self.namespace_objects.contains(name) && !INITIAL_NAMESPACES.contains(&name)
        } else {
            self.namespaces.contains(namespace)
        }
    }

    /// Whether `cluster` is a workload cluster the scenario creates (its objects are the scenario's).
    pub fn owns_workload(&self, cluster: &str) -> bool {
        self.applied_clusters.iter().any(|(_, n)| n == cluster)
    }

    /// Whether an object (namespace "" for cluster-scoped kinds) may be read.
    pub fn allows(&self, kind: &str, namespace: &str, name: &str) -> bool {
        if namespace.is_empty() {
            kind == "Namespace" && (self.namespace_objects.contains(name) || self.namespaces.contains(name))
        } else {
            self.namespaces.contains(namespace)
        }
    }

    fn add_step(&mut self, step: &Step) {
        match step {
            Step::Apply(a) => self.add_apply(a),
            Step::Patch(p) => self.add_target(&p.target),
            Step::Delete(d) => self.add_target(&d.target),
            Step::Scale(sc) => self.add_target(&sc.target),
            Step::Wait(w) => {
                self.add_predicate(&w.until);
                let mut kinds = BTreeSet::new();
                predicate_kinds(&w.until, &mut kinds);
                self.watched_kinds.extend(kinds);
            }
            Step::Expect(x) | Step::Check(x) => x.0.iter().for_each(|p| self.add_predicate(p)),
            Step::Never(n) => {
                self.add_predicate(&n.predicate);
                let mut kinds = BTreeSet::new();
                predicate_kinds(&n.predicate, &mut kinds);
                self.watched_kinds.extend(kinds);
            }
            Step::Sleep(_) => {}
            Step::Fault(f) => {
                if let Some(c) = &f.target.cluster {
                    self.clusters.insert(c.clone());
                }
                if let Some(w) = &f.when {
                    self.add_predicate(w);
                }
            }
            Step::Clusterctl(c) => match c {
                ClusterctlStep::Describe(t) | ClusterctlStep::GetKubeconfig(t) => self.add_target(t),
                ClusterctlStep::Move(m) => {
                    self.namespaces.insert(m.namespace.clone().unwrap_or_else(|| "default".into()));
                }
            },
            Step::Docker(d) => {
                if let Some(c) = d.rm.as_ref().and_then(|r| r.cluster.clone()) {
                    self.clusters.insert(c);
                }
            }
        }
    }

    fn add_apply(&mut self, a: &ApplyStep) {
        if let Some(w) = &a.workload {
            // Objects go into the workload cluster; the management side only reads its kubeconfig.
            self.clusters.insert(w.clone());
            return;
        }
        for o in &a.objects {
            self.add_object(o);
        }
    }

    fn add_object(&mut self, o: &ManifestObject) {
        match o.kind() {
            "Namespace" => {
                self.namespace_objects.insert(o.name().to_string());
                self.namespaces.insert(o.name().to_string());
            }
            kind => {
                let ns = o.namespace().unwrap_or("default").to_string();
                self.namespaces.insert(ns.clone());
                if kind == "Cluster" && !o.name().is_empty() {
                    self.clusters.insert(o.name().to_string());
                    self.applied_clusters.insert((ns, o.name().to_string()));
                }
            }
        }
    }

    fn add_write(&mut self, w: &WriteExpectation) {
        if let Some(a) = &w.apply {
            self.add_apply(a);
        }
        if let Some(p) = &w.patch {
            self.add_target(&p.target);
        }
        if let Some(d) = &w.delete {
            self.add_target(&d.target);
        }
    }

    fn add_target(&mut self, t: &Target) {
        if t.workload.is_some() {
            // Inside a workload cluster: nothing of the management cluster's scope changes (the
            // workload cluster itself must be one the scenario creates).
            return;
        }
        if t.kind == "Namespace" {
            if let Some(n) = &t.name {
                self.namespaces.insert(n.clone());
            }
        } else {
            self.namespaces.insert(t.namespace().to_string());
        }
        if t.kind == "Cluster" {
            if let Some(n) = &t.name {
                self.clusters.insert(n.clone());
            }
        }
        if let Some(c) = &t.cluster {
            self.clusters.insert(c.clone());
        }
    }

    fn add_predicate(&mut self, p: &Predicate) {
        match p {
            Predicate::Exists(t) | Predicate::Gone(t) => self.add_target(t),
            Predicate::Field(f) => self.add_target(&f.target),
            Predicate::Condition(c) => self.add_target(&c.target),
            Predicate::Phase(ph) => self.add_target(&ph.target),
            Predicate::Count(c) => self.add_target(&c.target),
            Predicate::Containers(c) => {
                if let Some(cl) = &c.cluster {
                    self.clusters.insert(cl.clone());
                }
            }
            Predicate::All(v) | Predicate::Any(v) => v.iter().for_each(|p| self.add_predicate(p)),
            Predicate::Not(p) => self.add_predicate(p),
            Predicate::Denied(w) | Predicate::Warned(w) => self.add_write(w),
            Predicate::Finished(_) => {}
        }
    }
}

/// The targets a predicate reads (write expectations excluded).
pub fn predicate_targets<'a>(p: &'a Predicate, out: &mut Vec<&'a Target>) {
    match p {
        Predicate::Exists(t) | Predicate::Gone(t) => out.push(t),
        Predicate::Field(f) => out.push(&f.target),
        Predicate::Condition(c) => out.push(&c.target),
        Predicate::Phase(ph) => out.push(&ph.target),
        Predicate::Count(c) => out.push(&c.target),
        Predicate::All(v) | Predicate::Any(v) => v.iter().for_each(|p| predicate_targets(p, out)),
        Predicate::Not(p) => predicate_targets(p, out),
        Predicate::Containers(_) | Predicate::Finished(_) | Predicate::Denied(_) | Predicate::Warned(_) => {}
    }
}

/// The kinds a predicate reads.
pub fn predicate_kinds(p: &Predicate, out: &mut BTreeSet<String>) {
    let mut targets = Vec::new();
    predicate_targets(p, &mut targets);
    out.extend(targets.into_iter().map(|t| t.kind.clone()));
}

/// Whether a predicate looks at containers.
pub fn reads_containers(p: &Predicate) -> bool {
    match p {
        Predicate::Containers(_) => true,
        Predicate::All(v) | Predicate::Any(v) => v.iter().any(reads_containers),
        Predicate::Not(p) => reads_containers(p),
        _ => false,
    }
}

//! Simulator versus real cluster: two [`Outcome`]s, both normalized by the shared normalizer
//! ([`Outcome::normalized`]), compared object by object and container by container, into a readable
//! report. Differences that the [`allowed`] table explains are reported as allowed, with the rule
//! that allows them; the rest make the scenario non-conformant.
//!
//! Objects are matched by (management, kind, namespace, normalized name). Normalized names collide
//! on purpose (three Machines `c-{rand}-{rand}`), so each group is matched as a multiset: identical
//! summaries pair first, then the rest pair in order and their fields are compared; what is left is
//! missing (only in the simulator) or extra (only on the real cluster). Containers are matched the
//! same way by normalized name.
//!
//! Outcomes of schema 2 are compared in full: besides the schema-1 fields, each paired object's
//! labels, annotations, finalizers (as a set) and owner references, and every field of its `spec`, `status` and
//! other top-level fields (conditions matched by type, with their messages), and the events (as a
//! multiset of kind, normalized object name, type, reason and normalized message, and their counts).
//! An object's creation order is kept in the outcome for people but not compared: its absolute rank
//! shifts with any object one side has and the other has not, which is reported already. Parts a
//! schema-1 outcome lacks are not compared.

pub mod allowed;
pub mod load;

use capi_scenarios::outcome::{ConditionSummary, EventSummary, ObjectSummary, Outcome, ReplicaCounts};
use capi_scenarios::predicate::ContainerInfo;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::{self, Write as _};

pub use load::{load_outcomes, CompareError, NamedOutcome};

/// Which object a difference is about.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct ObjectKey {
    /// Management cluster.
    pub management: String,
    /// Kind.
    pub kind: String,
    /// Namespace.
    pub namespace: String,
    /// Normalized name.
    pub name: String,
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.namespace.is_empty() {
            write!(f, "{} {}", self.kind, self.name)
        } else {
            write!(f, "{} {}/{}", self.kind, self.namespace, self.name)
        }
    }
}

fn key(o: &ObjectSummary) -> ObjectKey {
    ObjectKey { management: o.management.clone(), kind: o.kind.clone(), namespace: o.namespace.clone(), name: o.name.clone() }
}

/// A condition as compared: (status, reason).
pub type Cond = (String, String);

/// One difference between the simulator's outcome and the real one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Difference {
    /// Objects the simulator has and the real cluster has not.
    MissingObject {
        /// The object.
        object: ObjectKey,
        /// How many.
        count: usize,
    },
    /// Objects the real cluster has and the simulator has not.
    ExtraObject {
        /// The object.
        object: ObjectKey,
        /// How many.
        count: usize,
    },
    /// `apiVersion`.
    ApiVersion {
        /// The object.
        object: ObjectKey,
        /// Simulator.
        sim: String,
        /// Real.
        real: String,
    },
    /// `status.phase`.
    Phase {
        /// The object.
        object: ObjectKey,
        /// Simulator.
        sim: Option<String>,
        /// Real.
        real: Option<String>,
    },
    /// One condition (absent on one side, or another status or reason).
    Condition {
        /// The object.
        object: ObjectKey,
        /// Condition type.
        type_: String,
        /// Simulator.
        sim: Option<Cond>,
        /// Real.
        real: Option<Cond>,
    },
    /// Desired replicas.
    Replicas {
        /// The object.
        object: ObjectKey,
        /// Simulator.
        sim: Option<i64>,
        /// Real.
        real: Option<i64>,
    },
    /// Observed replica counters.
    StatusReplicas {
        /// The object.
        object: ObjectKey,
        /// Simulator.
        sim: Option<ReplicaCounts>,
        /// Real.
        real: Option<ReplicaCounts>,
    },
    /// Kubernetes version.
    Version {
        /// The object.
        object: ObjectKey,
        /// Simulator.
        sim: Option<String>,
        /// Real.
        real: Option<String>,
    },
    /// Deletion started on one side only.
    Deleting {
        /// The object.
        object: ObjectKey,
        /// Simulator.
        sim: bool,
        /// Real.
        real: bool,
    },
    /// Containers the simulator has and the real host has not.
    MissingContainer {
        /// Normalized name.
        name: String,
        /// How many.
        count: usize,
    },
    /// Containers the real host has and the simulator has not.
    ExtraContainer {
        /// Normalized name.
        name: String,
        /// How many.
        count: usize,
    },
    /// Container state.
    ContainerState {
        /// Normalized name.
        name: String,
        /// Simulator.
        sim: String,
        /// Real.
        real: String,
    },
    /// Container image.
    ContainerImage {
        /// Normalized name.
        name: String,
        /// Simulator.
        sim: String,
        /// Real.
        real: String,
    },
    /// Container labels (CAPD's, after normalization).
    ContainerLabels {
        /// Normalized name.
        name: String,
        /// Simulator.
        sim: BTreeMap<String, String>,
        /// Real.
        real: BTreeMap<String, String>,
    },
    /// Schema 2: labels, annotations, finalizers or owner references differ.
    Metadata {
        /// The object.
        object: ObjectKey,
        /// `labels`, `annotations`, `finalizers` or `ownerReferences`.
        part: String,
        /// Simulator.
        sim: String,
        /// Real.
        real: String,
    },
    /// Schema 2: a field of `spec`, `status` or another top-level field differs.
    Field {
        /// The object.
        object: ObjectKey,
        /// The field (`status.conditions[type=Ready].message`, `spec.replicas`).
        path: String,
        /// Simulator (absent: `None`).
        sim: Option<Value>,
        /// Real.
        real: Option<Value>,
        /// Inside a condition whose status is the same on both sides and not True (its reason and
        /// message then name what was pending when the outcome was taken).
        pending: bool,
    },
    /// Schema 2: events the simulator recorded and the real cluster did not.
    MissingEvent {
        /// The event (object, type, reason, message).
        event: String,
        /// How many.
        count: usize,
    },
    /// Schema 2: events the real cluster recorded and the simulator did not.
    ExtraEvent {
        /// The event.
        event: String,
        /// How many.
        count: usize,
    },
    /// Schema 2: an event recorded another number of times.
    EventCount {
        /// The event.
        event: String,
        /// Simulator.
        sim: i64,
        /// Real.
        real: i64,
    },
}

fn json_opt(v: &Option<Value>) -> String {
    v.as_ref().map_or_else(|| "<absent>".to_string(), |v| v.to_string())
}

fn opt<T: fmt::Display>(v: &Option<T>) -> String {
    v.as_ref().map_or_else(|| "<none>".to_string(), ToString::to_string)
}

fn cond(c: &Option<Cond>) -> String {
    match c {
        None => "<absent>".into(),
        Some((s, r)) if r.is_empty() => s.clone(),
        Some((s, r)) => format!("{s} ({r})"),
    }
}

fn counts(c: &Option<ReplicaCounts>) -> String {
    c.map_or_else(
        || "<none>".into(),
        |c| {
            format!(
                "{} replicas, {} ready, {} available, {} up to date",
                c.replicas, c.ready_replicas, c.available_replicas, c.up_to_date_replicas
            )
        },
    )
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Difference::MissingObject { object, count } => write!(f, "{object}: only in the simulator (×{count})"),
            Difference::ExtraObject { object, count } => write!(f, "{object}: only on the real cluster (×{count})"),
            Difference::ApiVersion { object, sim, real } => write!(f, "{object}: apiVersion sim {sim}, real {real}"),
            Difference::Phase { object, sim, real } => write!(f, "{object}: phase sim {}, real {}", opt(sim), opt(real)),
            Difference::Condition { object, type_, sim, real } => {
                write!(f, "{object}: condition {type_} sim {}, real {}", cond(sim), cond(real))
            }
            Difference::Replicas { object, sim, real } => write!(f, "{object}: replicas sim {}, real {}", opt(sim), opt(real)),
            Difference::StatusReplicas { object, sim, real } => {
                write!(f, "{object}: status sim [{}], real [{}]", counts(sim), counts(real))
            }
            Difference::Version { object, sim, real } => write!(f, "{object}: version sim {}, real {}", opt(sim), opt(real)),
            Difference::Deleting { object, sim, real } => write!(f, "{object}: deleting sim {sim}, real {real}"),
            Difference::MissingContainer { name, count } => write!(f, "container {name}: only in the simulator (×{count})"),
            Difference::ExtraContainer { name, count } => write!(f, "container {name}: only on the real host (×{count})"),
            Difference::ContainerState { name, sim, real } => write!(f, "container {name}: state sim {sim}, real {real}"),
            Difference::ContainerImage { name, sim, real } => write!(f, "container {name}: image sim {sim}, real {real}"),
            Difference::ContainerLabels { name, sim, real } => write!(f, "container {name}: labels sim {sim:?}, real {real:?}"),
            Difference::Metadata { object, part, sim, real } => write!(f, "{object}: {part} sim {sim}, real {real}"),
            Difference::Field { object, path, sim, real, .. } => {
                write!(f, "{object}: {path} sim {}, real {}", json_opt(sim), json_opt(real))
            }
            Difference::MissingEvent { event, count } => write!(f, "event {event}: only in the simulator (×{count})"),
            Difference::ExtraEvent { event, count } => write!(f, "event {event}: only on the real cluster (×{count})"),
            Difference::EventCount { event, sim, real } => write!(f, "event {event}: recorded sim {sim}×, real {real}×"),
        }
    }
}

/// A difference and the rule that allows it (if any).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The difference.
    pub difference: Difference,
    /// The id of the allowed-difference rule that explains it.
    pub allowed_by: Option<&'static str>,
}

/// The comparison of one scenario.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Comparison {
    /// Scenario name.
    pub scenario: String,
    /// Objects and containers on each side (normalized).
    pub sim_counts: (usize, usize),
    /// Objects and containers on the real side.
    pub real_counts: (usize, usize),
    /// Every difference, in object order.
    pub findings: Vec<Finding>,
}

impl Comparison {
    /// No difference outside the allowed table.
    pub fn is_conformant(&self) -> bool {
        self.findings.iter().all(|f| f.allowed_by.is_some())
    }

    /// Differences that count.
    pub fn real_differences(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| f.allowed_by.is_none())
    }

    /// Differences the table allows.
    pub fn allowed_differences(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| f.allowed_by.is_some())
    }

    /// The report, as Markdown.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let real: Vec<&Finding> = self.real_differences().collect();
        let allowed: Vec<&Finding> = self.allowed_differences().collect();
        let _ = writeln!(out, "## {}: {}", self.scenario, if real.is_empty() { "conformant" } else { "NOT conformant" });
        let _ = writeln!(
            out,
            "\nsim: {} objects, {} containers; real: {} objects, {} containers; {} difference(s), {} allowed\n",
            self.sim_counts.0,
            self.sim_counts.1,
            self.real_counts.0,
            self.real_counts.1,
            real.len(),
            allowed.len()
        );
        if !real.is_empty() {
            let _ = writeln!(out, "### Differences\n");
            for f in &real {
                let _ = writeln!(out, "- {}", f.difference);
            }
            out.push('\n');
        }
        if !allowed.is_empty() {
            let _ = writeln!(out, "### Allowed differences\n");
            for f in &allowed {
                let _ = writeln!(out, "- [{}] {}", f.allowed_by.unwrap_or(""), f.difference);
            }
            out.push('\n');
        }
        out
    }
}

/// The allowed-difference table as Markdown (printed once per report).
pub fn render_allowed_table() -> String {
    let mut out = String::from("### Allowed differences (rules)\n\n| rule | allows | because |\n|---|---|---|\n");
    for r in allowed::ALLOWED {
        let _ = writeln!(out, "| `{}` | {} | {} |", r.id, r.what, r.why);
    }
    out
}

/// A whole report: every comparison, scenarios found on one side only, and the rule table.
pub fn render_report(comparisons: &[Comparison], only_sim: &[String], only_real: &[String]) -> String {
    let conformant = comparisons.iter().filter(|c| c.is_conformant()).count();
    let mut out = format!("# Conformance: simulator vs real cluster\n\n{conformant} of {} scenario(s) conformant.\n\n", comparisons.len());
    for c in comparisons {
        out.push_str(&c.render());
    }
    if !only_sim.is_empty() {
        let _ = writeln!(out, "Scenarios with no real outcome: {}\n", only_sim.join(", "));
    }
    if !only_real.is_empty() {
        let _ = writeln!(out, "Scenarios with no simulator outcome: {}\n", only_real.join(", "));
    }
    out.push_str(&render_allowed_table());
    out
}

fn push(findings: &mut Vec<Finding>, d: Difference) {
    let allowed_by = allowed::allowed_by(&d).map(|r| r.id);
    findings.push(Finding { difference: d, allowed_by });
}

/// Pair two groups of equal keys: identical items first, then the rest in order.
fn pair<'a, T: PartialEq>(sim: Vec<&'a T>, real: Vec<&'a T>) -> (Vec<(&'a T, &'a T)>, Vec<&'a T>, Vec<&'a T>) {
    let mut real_left: Vec<Option<&T>> = real.into_iter().map(Some).collect();
    let mut sim_left = Vec::new();
    for s in sim {
        match real_left.iter_mut().find(|r| r.is_some_and(|r| r == s)) {
            Some(slot) => {
                *slot = None;
            }
            None => sim_left.push(s),
        }
    }
    let real_left: Vec<&T> = real_left.into_iter().flatten().collect();
    let n = sim_left.len().min(real_left.len());
    let pairs = sim_left.iter().zip(real_left.iter()).map(|(a, b)| (*a, *b)).collect();
    (pairs, sim_left[n..].to_vec(), real_left[n..].to_vec())
}

fn conditions(c: &[ConditionSummary]) -> BTreeMap<&str, Cond> {
    c.iter().map(|c| (c.type_.as_str(), (c.status.clone(), c.reason.clone()))).collect()
}

fn compare_objects(k: &ObjectKey, s: &ObjectSummary, r: &ObjectSummary, out: &mut Vec<Finding>) {
    let object = k.clone();
    if s.api_version != r.api_version {
        push(out, Difference::ApiVersion { object: object.clone(), sim: s.api_version.clone(), real: r.api_version.clone() });
    }
    if s.phase != r.phase {
        push(out, Difference::Phase { object: object.clone(), sim: s.phase.clone(), real: r.phase.clone() });
    }
    let (sc, rc) = (conditions(&s.conditions), conditions(&r.conditions));
    let types: std::collections::BTreeSet<&str> = sc.keys().chain(rc.keys()).copied().collect();
    for t in types {
        let (a, b) = (sc.get(t).cloned(), rc.get(t).cloned());
        if a != b {
            push(out, Difference::Condition { object: object.clone(), type_: t.to_string(), sim: a, real: b });
        }
    }
    if s.replicas != r.replicas {
        push(out, Difference::Replicas { object: object.clone(), sim: s.replicas, real: r.replicas });
    }
    if s.status_replicas != r.status_replicas {
        push(out, Difference::StatusReplicas { object: object.clone(), sim: s.status_replicas, real: r.status_replicas });
    }
    if s.version != r.version {
        push(out, Difference::Version { object: object.clone(), sim: s.version.clone(), real: r.version.clone() });
    }
    if s.deleting != r.deleting {
        push(out, Difference::Deleting { object: object.clone(), sim: s.deleting, real: r.deleting });
    }
    if let (Some(a), Some(b)) = (&s.metadata, &r.metadata) {
        let parts = [
            ("labels", format!("{:?}", a.labels), format!("{:?}", b.labels)),
            ("annotations", format!("{:?}", a.annotations), format!("{:?}", b.annotations)),
            // Finalizers as a set: the order is who added first, a race between controllers (a new
            // MachineSet's own and topology's finalizer) that real clusters decide either way.
            ("finalizers", format!("{:?}", sorted(&a.finalizers)), format!("{:?}", sorted(&b.finalizers))),
            ("ownerReferences", owners(&a.owner_references), owners(&b.owner_references)),
        ];
        for (part, x, y) in parts {
            if x != y {
                push(out, Difference::Metadata { object: object.clone(), part: part.to_string(), sim: x, real: y });
            }
        }
    }
    // Schema 2 parts, when both sides have them.
    if s.metadata.is_some() && r.metadata.is_some() {
        let mut fields = Vec::new();
        diff_json("spec", s.spec.as_ref(), r.spec.as_ref(), false, &mut fields);
        diff_json("status", s.status.as_ref(), r.status.as_ref(), false, &mut fields);
        let keys: std::collections::BTreeSet<&String> = s.fields.keys().chain(r.fields.keys()).collect();
        for k in keys {
            diff_json(k, s.fields.get(k), r.fields.get(k), false, &mut fields);
        }
        for (path, sim, real, pending) in fields {
            push(out, Difference::Field { object: object.clone(), path, sim, real, pending });
        }
    }
}

fn owners(o: &[capi_scenarios::outcome::OwnerSummary]) -> String {
    let v: Vec<String> = o.iter().map(|r| format!("{}/{}{}", r.kind, r.name, if r.controller { " (controller)" } else { "" })).collect();
    format!("[{}]", v.join(", "))
}

/// A difference found by [`diff_json`]: path, both values, and whether it lies in a pending condition.
type FieldDiff = (String, Option<Value>, Option<Value>, bool);

/// The differences between two JSON values; conditions (array items with a `type`) are matched by
/// type, other arrays by index. `pending`: inside a condition with the same, not True, status.
fn diff_json(path: &str, a: Option<&Value>, b: Option<&Value>, pending: bool, out: &mut Vec<FieldDiff>) {
    match (a, b) {
        (Some(Value::Object(x)), Some(Value::Object(y))) => {
            let status = |m: &serde_json::Map<String, Value>| m.get("status").and_then(Value::as_str).map(str::to_string);
            let pending = pending
                || (x.contains_key("type") && status(x).is_some() && status(x) == status(y) && status(x).as_deref() != Some("True"));
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                diff_json(&format!("{path}.{k}"), x.get(k), y.get(k), pending, out);
            }
        }
        (Some(Value::Array(x)), Some(Value::Array(y))) if keyed_by_type(x) && keyed_by_type(y) => {
            let by_type = |a: &Vec<Value>| -> BTreeMap<String, Value> {
                a.iter().map(|i| (i.get("type").and_then(Value::as_str).unwrap_or("").to_string(), i.clone())).collect()
            };
            let (mx, my) = (by_type(x), by_type(y));
            let types: std::collections::BTreeSet<&String> = mx.keys().chain(my.keys()).collect();
            for t in types {
                diff_json(&format!("{path}[type={t}]"), mx.get(t), my.get(t), pending, out);
            }
        }
        (Some(Value::Array(x)), Some(Value::Array(y))) => {
            for i in 0..x.len().max(y.len()) {
                diff_json(&format!("{path}[{i}]"), x.get(i), y.get(i), pending, out);
            }
        }
        (x, y) if x != y => out.push((path.to_string(), x.cloned(), y.cloned(), pending)),
        _ => {}
    }
}

fn keyed_by_type(a: &[Value]) -> bool {
    !a.is_empty() && a.iter().all(|i| i.get("type").and_then(Value::as_str).is_some())
}

/// How an event is told apart from others in a comparison.
fn event_key(e: &EventSummary) -> String {
    let ns = if e.involved.namespace.is_empty() { String::new() } else { format!("{}/", e.involved.namespace) };
    format!("{} {ns}{} {} {}: {}", e.involved.kind, e.involved.name, e.type_, e.reason, e.message)
}

fn compare_containers(s: &ContainerInfo, r: &ContainerInfo, out: &mut Vec<Finding>) {
    if s.state != r.state {
        push(out, Difference::ContainerState { name: s.name.clone(), sim: s.state.clone(), real: r.state.clone() });
    }
    if s.image != r.image {
        push(out, Difference::ContainerImage { name: s.name.clone(), sim: s.image.clone(), real: r.image.clone() });
    }
    if s.labels != r.labels {
        push(out, Difference::ContainerLabels { name: s.name.clone(), sim: s.labels.clone(), real: r.labels.clone() });
    }
}

/// Compare the simulator's outcome of a scenario with the real one (both are normalized here).
pub fn compare(scenario: &str, sim: &Outcome, real: &Outcome) -> Comparison {
    let (sim, real) = (sim.normalized(), real.normalized());
    let mut findings = Vec::new();
    let mut groups: BTreeMap<ObjectKey, (Vec<&ObjectSummary>, Vec<&ObjectSummary>)> = BTreeMap::new();
    for o in &sim.objects {
        groups.entry(key(o)).or_default().0.push(o);
    }
    for o in &real.objects {
        groups.entry(key(o)).or_default().1.push(o);
    }
    for (k, (s, r)) in groups {
        let (pairs, only_sim, only_real) = pair(s, r);
        for (a, b) in pairs {
            compare_objects(&k, a, b, &mut findings);
        }
        if !only_sim.is_empty() {
            push(&mut findings, Difference::MissingObject { object: k.clone(), count: only_sim.len() });
        }
        if !only_real.is_empty() {
            push(&mut findings, Difference::ExtraObject { object: k.clone(), count: only_real.len() });
        }
    }
    let mut cgroups: BTreeMap<&str, (Vec<&ContainerInfo>, Vec<&ContainerInfo>)> = BTreeMap::new();
    for c in &sim.containers {
        cgroups.entry(c.name.as_str()).or_default().0.push(c);
    }
    for c in &real.containers {
        cgroups.entry(c.name.as_str()).or_default().1.push(c);
    }
    for (name, (s, r)) in cgroups {
        let (pairs, only_sim, only_real) = pair(s, r);
        for (a, b) in pairs {
            compare_containers(a, b, &mut findings);
        }
        if !only_sim.is_empty() {
            push(&mut findings, Difference::MissingContainer { name: name.to_string(), count: only_sim.len() });
        }
        if !only_real.is_empty() {
            push(&mut findings, Difference::ExtraContainer { name: name.to_string(), count: only_real.len() });
        }
    }
    if sim.schema >= 2 && real.schema >= 2 {
        let mut egroups: BTreeMap<String, (Vec<&EventSummary>, Vec<&EventSummary>)> = BTreeMap::new();
        for e in &sim.events {
            egroups.entry(event_key(e)).or_default().0.push(e);
        }
        for e in &real.events {
            egroups.entry(event_key(e)).or_default().1.push(e);
        }
        for (event, (s, r)) in egroups {
            let (n, m) = (s.len(), r.len());
            if n > m {
                push(&mut findings, Difference::MissingEvent { event: event.clone(), count: n - m });
            }
            if m > n {
                push(&mut findings, Difference::ExtraEvent { event: event.clone(), count: m - n });
            }
            let (cs, cr): (i64, i64) = (s.iter().map(|e| e.count).sum(), r.iter().map(|e| e.count).sum());
            if n == m && cs != cr {
                push(&mut findings, Difference::EventCount { event, sim: cs, real: cr });
            }
        }
    }
    Comparison {
        scenario: scenario.to_string(),
        sim_counts: (sim.objects.len(), sim.containers.len()),
        real_counts: (real.objects.len(), real.containers.len()),
        findings,
    }
}

/// A list's items in sorted order.
fn sorted(items: &[String]) -> Vec<&str> {
    let mut v: Vec<&str> = items.iter().map(String::as_str).collect();
    v.sort_unstable();
    v
}

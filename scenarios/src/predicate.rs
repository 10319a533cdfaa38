//! Predicates over what a backend shows (objects of a management cluster, containers of the Docker
//! host): pure functions of a snapshot, evaluated the same way by the simulator (after every event)
//! and by the conformance backend (from its watch cache, until a deadline).

use crate::target::{FieldPath, Pick, Quantifier, Target};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::borrow::Cow;
use std::collections::BTreeMap;

/// A condition on the world that holds or not.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Predicate {
    /// At least one object matches the target.
    Exists(Target),
    /// No object matches the target.
    Gone(Target),
    /// A field of the target object(s) has a value (or exists / does not exist).
    Field(FieldPredicate),
    /// A `status.conditions` entry of the target object(s) has a status (and reason).
    Condition(ConditionPredicate),
    /// `status.phase` of the target object(s).
    Phase(PhasePredicate),
    /// The number of objects matching the target.
    Count(CountPredicate),
    /// Containers on the Docker host (CAPD's node and load-balancer containers).
    Containers(ContainerPredicate),
    /// Every predicate holds.
    All(Vec<Predicate>),
    /// At least one predicate holds.
    Any(Vec<Predicate>),
    /// The predicate does not hold.
    Not(Box<Predicate>),
    /// A step run in the background (`async: true`) has finished, with the result asked for.
    Finished(FinishedPredicate),
    /// Only in `expect`: the write is refused by admission with a message containing `message`.
    Denied(crate::model::WriteExpectation),
    /// Only in `expect`: the write succeeds with an admission warning containing `message`.
    Warned(crate::model::WriteExpectation),
}

crate::keyed_enum!(Predicate, "a predicate: exists, gone, field, condition, phase, count, containers, all, any, not, finished, denied or warned", {
    "exists" => Exists(Target),
    "gone" => Gone(Target),
    "field" => Field(FieldPredicate),
    "condition" => Condition(ConditionPredicate),
    "phase" => Phase(PhasePredicate),
    "count" => Count(CountPredicate),
    "containers" => Containers(ContainerPredicate),
    "all" => All(Vec<Predicate>),
    "any" => Any(Vec<Predicate>),
    "not" => Not(Box<Predicate>),
    "finished" => Finished(FinishedPredicate),
    "denied" => Denied(crate::model::WriteExpectation),
    "warned" => Warned(crate::model::WriteExpectation),
});

impl Predicate {
    /// Call `f` with every target the predicate reads (and those of the writes it expects).
    pub fn for_each_target(&self, f: &mut dyn FnMut(&Target)) {
        match self {
            Predicate::Exists(t) | Predicate::Gone(t) => f(t),
            Predicate::Field(x) => f(&x.target),
            Predicate::Condition(x) => f(&x.target),
            Predicate::Phase(x) => f(&x.target),
            Predicate::Count(x) => f(&x.target),
            Predicate::Containers(_) | Predicate::Finished(_) => {}
            Predicate::All(v) | Predicate::Any(v) => v.iter().for_each(|q| q.for_each_target(f)),
            Predicate::Not(q) => q.for_each_target(f),
            Predicate::Denied(w) | Predicate::Warned(w) => {
                if let Some(p) = &w.patch {
                    f(&p.target);
                }
                if let Some(d) = &w.delete {
                    f(&d.target);
                }
            }
        }
    }

    /// Whether the predicate reads inside a workload cluster.
    pub fn reads_workload(&self) -> bool {
        let mut found = false;
        self.for_each_target(&mut |t| found |= t.workload.is_some());
        found
    }

    /// Whether this predicate (or one nested in it) is a write expectation, which only `expect` accepts.
    pub fn has_write_expectation(&self) -> bool {
        match self {
            Predicate::Denied(_) | Predicate::Warned(_) => true,
            Predicate::All(v) | Predicate::Any(v) => v.iter().any(Predicate::has_write_expectation),
            Predicate::Not(p) => p.has_write_expectation(),
            _ => false,
        }
    }
}

/// `field: { target, path, equals | exists }`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct FieldPredicate {
    /// Objects.
    pub target: Target,
    /// Path such as `spec.topology.version`.
    pub path: FieldPath,
    /// Expected value (compared as JSON; numbers numerically).
    #[serde(default)]
    pub equals: Option<Value>,
    /// Expected presence of the field.
    #[serde(default)]
    pub exists: Option<bool>,
}

/// `condition: { target, type, status, reason, message }`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ConditionPredicate {
    /// Objects.
    pub target: Target,
    /// Condition type, e.g. `Available`.
    #[serde(rename = "type")]
    pub type_: String,
    /// `"True"`, `"False"` or `"Unknown"` (YAML booleans are accepted too).
    #[serde(deserialize_with = "de_condition_status")]
    #[schemars(schema_with = "crate::schema::condition_status")]
    pub status: String,
    /// Expected reason.
    #[serde(default)]
    pub reason: Option<String>,
    /// Substring the message must contain.
    #[serde(default)]
    pub message: Option<String>,
}

pub(crate) fn de_condition_status<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let v = Value::deserialize(d)?;
    let s = match &v {
        Value::Bool(true) => "True".to_string(),
        Value::Bool(false) => "False".to_string(),
        Value::String(s) => s.clone(),
        other => return Err(serde::de::Error::custom(format!("expected \"True\", \"False\" or \"Unknown\", got {other}"))),
    };
    match s.as_str() {
        "True" | "False" | "Unknown" => Ok(s),
        _ => Err(serde::de::Error::custom(format!("expected \"True\", \"False\" or \"Unknown\", got \"{s}\""))),
    }
}

/// `phase: { target, is }`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct PhasePredicate {
    /// Objects.
    pub target: Target,
    /// Expected `status.phase`.
    pub is: String,
}

/// `count: { target, equals | at-least | at-most }`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct CountPredicate {
    /// Objects to count.
    pub target: Target,
    /// Exactly.
    #[serde(default)]
    pub equals: Option<usize>,
    /// At least.
    #[serde(default)]
    pub at_least: Option<usize>,
    /// At most.
    #[serde(default)]
    pub at_most: Option<usize>,
}

impl CountPredicate {
    /// The bounds.
    pub fn bounds(&self) -> CountBounds {
        CountBounds { equals: self.equals, at_least: self.at_least, at_most: self.at_most }
    }
}

/// Bounds on a count; at least one must be given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CountBounds {
    /// Exactly.
    pub equals: Option<usize>,
    /// At least.
    pub at_least: Option<usize>,
    /// At most.
    pub at_most: Option<usize>,
}

impl CountBounds {
    /// Whether `n` is within the bounds.
    pub fn admits(&self, n: usize) -> bool {
        self.equals.is_none_or(|e| n == e) && self.at_least.is_none_or(|a| n >= a) && self.at_most.is_none_or(|a| n <= a)
    }
    fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(e) = self.equals {
            parts.push(format!("= {e}"));
        }
        if let Some(a) = self.at_least {
            parts.push(format!(">= {a}"));
        }
        if let Some(a) = self.at_most {
            parts.push(format!("<= {a}"));
        }
        parts.join(" and ")
    }
}

/// `containers: { cluster, role, name, name-prefix, state, image, count }`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ContainerPredicate {
    /// `io.x-k8s.kind.cluster` label.
    #[serde(default)]
    pub cluster: Option<String>,
    /// `io.x-k8s.kind.role` label: `control-plane`, `worker`, `external-load-balancer`.
    #[serde(default)]
    pub role: Option<String>,
    /// Exact container name.
    #[serde(default)]
    pub name: Option<String>,
    /// Name prefix.
    #[serde(default)]
    pub name_prefix: Option<String>,
    /// State filter: `running`, `exited`, `paused`, `created`.
    #[serde(default)]
    pub state: Option<String>,
    /// Image filter (exact).
    #[serde(default)]
    pub image: Option<String>,
    /// Exact count; without any count bound at least one container must match.
    #[serde(default)]
    pub equals: Option<usize>,
    /// At least this many.
    #[serde(default)]
    pub at_least: Option<usize>,
    /// At most this many.
    #[serde(default)]
    pub at_most: Option<usize>,
}

/// A container as both backends report it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ContainerInfo {
    /// Name without the leading slash.
    pub name: String,
    /// Image reference.
    pub image: String,
    /// `running`, `exited`, `paused`, `created`, `restarting`, `removing`, `dead`.
    pub state: String,
    /// Labels.
    pub labels: BTreeMap<String, String>,
}

/// Label CAPD puts on every container it creates: the cluster name.
pub const KIND_CLUSTER_LABEL: &str = "io.x-k8s.kind.cluster";
/// Label CAPD puts on every container: its role.
pub const KIND_ROLE_LABEL: &str = "io.x-k8s.kind.role";

impl ContainerPredicate {
    /// The count bounds.
    pub fn bounds(&self) -> CountBounds {
        CountBounds { equals: self.equals, at_least: self.at_least, at_most: self.at_most }
    }

    /// Whether a container passes the filters (not the count).
    pub fn selects(&self, c: &ContainerInfo) -> bool {
        self.cluster.as_ref().is_none_or(|v| c.labels.get(KIND_CLUSTER_LABEL) == Some(v))
            && self.role.as_ref().is_none_or(|v| c.labels.get(KIND_ROLE_LABEL) == Some(v))
            && self.name.as_ref().is_none_or(|v| &c.name == v)
            && self.name_prefix.as_ref().is_none_or(|v| c.name.starts_with(v.as_str()))
            && self.state.as_ref().is_none_or(|v| &c.state == v)
            && self.image.as_ref().is_none_or(|v| &c.image == v)
    }
}

/// One API object as a predicate sees it.
pub trait Resource {
    /// `apiVersion`.
    fn api_version(&self) -> &str;
    /// `kind`.
    fn kind(&self) -> &str;
    /// `metadata.namespace` (empty for cluster-scoped objects).
    fn namespace(&self) -> &str;
    /// `metadata.name`.
    fn name(&self) -> &str;
    /// A label value.
    fn label(&self, key: &str) -> Option<&str>;
    /// A field by path (`metadata.*` included).
    fn field(&self, path: &FieldPath) -> Option<Cow<'_, Value>>;
}

/// The objects of one management cluster as a predicate sees them.
pub trait ClusterView {
    /// One object.
    fn get(&self, kind: &str, namespace: &str, name: &str) -> Result<Option<&dyn Resource>, String>;
    /// Objects of a kind in a namespace (all namespaces for `None`) matching a selector, in name order.
    fn list(&self, kind: &str, namespace: Option<&str>, selector: &crate::LabelSelector) -> Result<Vec<&dyn Resource>, String>;
}

/// Everything predicates can read.
pub trait WorldView {
    /// The management cluster of that name (the first one for `None`).
    fn management(&self, name: Option<&str>) -> Result<&dyn ClusterView, String>;
    /// The objects inside a workload cluster of that management cluster, as its API server shows
    /// them (Nodes, Pods, ConfigMaps, ...); an error when it cannot be reached or the backend does not
    /// read workload clusters.
    fn workload(&self, _management: Option<&str>, cluster: &str) -> Result<&dyn ClusterView, String> {
        Err(format!("this backend cannot read inside the workload cluster `{cluster}`"))
    }
    /// Containers of the Docker host that the backend may look at.
    fn containers(&self) -> Vec<ContainerInfo>;
    /// The names under which this world reports writes of `kind`'s objects in that management
    /// cluster to [`Witnesses::changed`]; `None` (the default) when it does not report them.
    fn change_key(&self, _management: Option<&str>, _kind: &str) -> Option<ChangeKey> {
        None
    }
    /// Where the background step of that name is; `None` when no such step has started.
    fn async_step(&self, _name: &str) -> Option<AsyncStatus> {
        None
    }
}

impl Resource for Value {
    fn api_version(&self) -> &str {
        self.get("apiVersion").and_then(Value::as_str).unwrap_or("")
    }
    fn kind(&self) -> &str {
        self.get("kind").and_then(Value::as_str).unwrap_or("")
    }
    fn namespace(&self) -> &str {
        self.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("")
    }
    fn name(&self) -> &str {
        self.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("")
    }
    fn label(&self, key: &str) -> Option<&str> {
        self.pointer("/metadata/labels")?.get(key)?.as_str()
    }
    fn field(&self, path: &FieldPath) -> Option<Cow<'_, Value>> {
        path.lookup(self)
    }
}

/// The result of evaluating a predicate: whether it holds and what was seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Eval {
    /// Holds.
    pub holds: bool,
    /// What was seen, for people.
    pub detail: String,
}

impl Eval {
    pub(crate) fn new(holds: bool, detail: impl Into<String>) -> Self {
        Eval { holds, detail: detail.into() }
    }
}

/// The objects of a target's cluster: the management cluster's, or a workload cluster's.
fn view_of<'a>(world: &'a dyn WorldView, t: &Target) -> Result<&'a dyn ClusterView, String> {
    match &t.workload {
        Some(cluster) => world.workload(t.management.as_deref(), cluster),
        None => world.management(t.management.as_deref()),
    }
}

/// Resolve a target to objects: in name order, or in creation order (`creationTimestamp`, then name)
/// when it picks `oldest` or `newest`; narrowed to the one it picks (`first`, `last`, `oldest`,
/// `newest`), all of them otherwise.
pub fn select<'a>(world: &'a dyn WorldView, t: &Target) -> Result<Vec<&'a dyn Resource>, String> {
    let view = view_of(world, t)?;
    let mut found: Vec<&dyn Resource> = match &t.name {
        Some(name) => view.get(&t.kind, t.namespace(), name)?.into_iter().collect(),
        None => view.list(&t.kind, Some(t.namespace()), &t.label_selector())?,
    };
    if t.name.is_some() {
        let sel = t.label_selector();
        found.retain(|r| sel.matches(|k| r.label(k)));
    }
    if let Some(p) = &t.name_prefix {
        found.retain(|r| r.name().starts_with(p.as_str()));
    }
    if let Some(f) = &t.filter {
        found.retain(|r| f.holds(*r));
    }
    match t.pick {
        Some(Pick::Oldest | Pick::Newest) => found.sort_by_cached_key(|r| (object::created(*r), r.name().to_string())),
        _ => found.sort_by(|a, b| a.name().cmp(b.name())),
    }
    match t.pick {
        Some(Pick::First | Pick::Oldest) => found.truncate(1),
        Some(Pick::Last | Pick::Newest) => {
            let n = found.len();
            found.drain(..n.saturating_sub(1));
        }
        Some(Pick::All) | None => {}
    }
    Ok(found)
}

/// Whether `r` (read by the target's kind, namespace and its own name) is among what [`select`]
/// returns for `t`, for targets whose selection is decided object by object (see [`per_object_selection`]).
fn selects(t: &Target, r: &dyn Resource) -> bool {
    t.name.as_deref().is_none_or(|n| n == r.name())
        && t.label_selector().matches(|k| r.label(k))
        && t.name_prefix.as_deref().is_none_or(|p| r.name().starts_with(p))
        && t.filter.as_ref().is_none_or(|f| f.holds(r))
}

/// Whether an object's membership in a target's selection depends on that object alone (not on
/// which others exist, as `pick: newest` does), and it lives in the management cluster, whose writes
/// the backend reports: only then can a wait follow the selection from the writes.
fn per_object_selection(t: &Target) -> bool {
    t.pick.is_none_or(|p| !p.narrows()) && t.workload.is_none()
}

/// Evaluate a predicate.
pub fn evaluate(p: &Predicate, world: &dyn WorldView) -> Eval {
    match evaluate_inner(p, world, true, None) {
        Ok(e) => e,
        Err(msg) => Eval::new(false, msg),
    }
}

/// Whether a predicate holds, without the detail: per-object checks stop at the first object that
/// decides the answer. Always equal to `evaluate(p, world).holds`; for waits that re-check a fleet's
/// predicate after every change.
pub fn holds(p: &Predicate, world: &dyn WorldView) -> bool {
    evaluate_inner(p, world, false, None).is_ok_and(|e| e.holds)
}

/// [`holds`] for a predicate that is checked again and again (a wait): the same answer, looked up
/// through `witnesses` first. Use one `Witnesses` per predicate value, for as long as it lives.
pub fn holds_with(p: &Predicate, world: &dyn WorldView, witnesses: &Witnesses) -> bool {
    evaluate_inner(p, world, false, Some(witnesses)).is_ok_and(|e| e.holds)
}

fn evaluate_inner(p: &Predicate, world: &dyn WorldView, detail: bool, w: Option<&Witnesses>) -> Result<Eval, String> {
    Ok(match p {
        Predicate::Exists(t) if !detail && w.is_some() => {
            let n = selected_count(world, t, w)?;
            Eval::new(n > 0, String::new())
        }
        Predicate::Exists(t) => {
            let n = select(world, t)?.len();
            Eval::new(n > 0, format!("{t}: {n} found"))
        }
        Predicate::Gone(t) if !detail && w.is_some() => Eval::new(selected_count(world, t, w)? == 0, String::new()),
        Predicate::Gone(t) => {
            let found = select(world, t)?;
            let names: Vec<&str> = found.iter().take(5).map(|r| r.name()).collect();
            Eval::new(
                found.is_empty(),
                if found.is_empty() { format!("{t}: gone") } else { format!("{t}: still present: {}", names.join(", ")) },
            )
        }
        Predicate::Count(c) => {
            let n = if !detail && w.is_some() { selected_count(world, &c.target, w)? } else { select(world, &c.target)?.len() };
            let b = c.bounds();
            Eval::new(b.admits(n), format!("{}: {n} found, want {}", c.target, b.describe()))
        }
        Predicate::Phase(ph) => per_object(
            world,
            &ph.target,
            detail,
            w,
            |r| object::phase_of(r).as_deref() == Some(ph.is.as_str()),
            |r| {
                let phase = object::phase_of(r).unwrap_or_default();
                (format!("{}/{} phase is {}", r.kind(), r.name(), if phase.is_empty() { "<none>" } else { &phase }), ph.is.clone())
            },
        )?,
        Predicate::Field(f) => per_object(
            world,
            &f.target,
            detail,
            w,
            |r| object::field_ok(r, &f.path, f.equals.as_ref(), f.exists),
            |r| {
                // Values of secret fields are shown as redaction markers (see `redact`), the expected
                // value too, so that the two can still be compared by their markers.
                let head = f.path.key_head();
                let seen = r.field(&f.path).map_or("<absent>".to_string(), |v| crate::redact::field(r.kind(), &head, &v).to_string());
                let want = match (&f.equals, f.exists) {
                    (Some(w), _) => crate::redact::field(r.kind(), &head, w).to_string(),
                    (None, Some(true)) => "<present>".into(),
                    (None, Some(false)) => "<absent>".into(),
                    (None, None) => "<anything>".into(),
                };
                (format!("{}/{} {} = {seen}", r.kind(), r.name(), f.path), want)
            },
        )?,
        Predicate::Condition(c) => per_object(
            world,
            &c.target,
            detail,
            w,
            |r| object::condition_ok(r, &c.type_, &c.status, c.reason.as_deref(), c.message.as_deref()),
            |r| {
                let (status, reason, message) =
                    object::condition_of(r, &c.type_).unwrap_or_else(|| ("<absent>".into(), String::new(), String::new()));
                let ok = object::condition_ok(r, &c.type_, &c.status, c.reason.as_deref(), c.message.as_deref());
                let mut seen = format!("{}/{} {}={status}", r.kind(), r.name(), c.type_);
                if !reason.is_empty() {
                    seen.push_str(&format!(" ({reason})"));
                }
                if !message.is_empty() && !ok {
                    seen.push_str(&format!(": {}", crate::redact::text(&object::one_line(&message))));
                }
                let mut want = c.status.clone();
                if let Some(r) = &c.reason {
                    want.push_str(&format!(" ({r})"));
                }
                if let Some(m) = &c.message {
                    want.push_str(&format!(" with a message containing {m:?}"));
                }
                (seen, want)
            },
        )?,
        Predicate::Containers(q) => {
            let all = world.containers();
            let matching: Vec<&ContainerInfo> = all.iter().filter(|c| q.selects(c)).collect();
            let n = matching.len();
            let bounds = q.bounds();
            let has_bounds = bounds != CountBounds::default();
            let ok = if has_bounds { bounds.admits(n) } else { n > 0 };
            let names: Vec<&str> = matching.iter().take(8).map(|c| c.name.as_str()).collect();
            Eval::new(
                ok,
                format!(
                    "containers{}: {n} match{}{}",
                    describe_container_query(q),
                    if has_bounds { format!(", want {}", bounds.describe()) } else { String::new() },
                    if names.is_empty() { String::new() } else { format!(" ({})", names.join(", ")) }
                ),
            )
        }
        Predicate::Finished(f) => finished::evaluate(f, world),
        Predicate::All(ps) => {
            for p in ps {
                let e = evaluate_inner(p, world, detail, w)?;
                if !e.holds {
                    return Ok(e);
                }
            }
            Eval::new(true, format!("all {} predicates hold", ps.len()))
        }
        Predicate::Any(ps) => {
            let mut details = Vec::new();
            for p in ps {
                let e = evaluate_inner(p, world, detail, w)?;
                if e.holds {
                    return Ok(e);
                }
                details.push(e.detail);
            }
            Eval::new(false, format!("none holds: {}", details.join("; ")))
        }
        Predicate::Not(p) => {
            let e = evaluate_inner(p, world, detail, w)?;
            Eval::new(!e.holds, format!("not ({})", e.detail))
        }
        Predicate::Denied(_) | Predicate::Warned(_) => {
            return Err("`denied` and `warned` perform a write; they can only be used directly under `expect`".into())
        }
    })
}

fn describe_container_query(q: &ContainerPredicate) -> String {
    let mut parts = Vec::new();
    for (k, v) in [
        ("cluster", &q.cluster),
        ("role", &q.role),
        ("name", &q.name),
        ("name-prefix", &q.name_prefix),
        ("state", &q.state),
        ("image", &q.image),
    ] {
        if let Some(v) = v {
            parts.push(format!("{k}={v}"));
        }
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("[{}]", parts.join(" "))
    }
}

/// How many objects `t` selects, through the witnesses' tracked selection when they follow changes.
fn selected_count(world: &dyn WorldView, t: &Target, w: Option<&Witnesses>) -> Result<usize, String> {
    match w.filter(|_| per_object_selection(t)) {
        Some(w) => match w.with_tracked(world, t, None, |tr| tr.selected.len())? {
            Some(n) => Ok(n),
            None => Ok(select(world, t)?.len()),
        },
        None => Ok(select(world, t)?.len()),
    }
}

/// Apply a per-object check with the target's quantifier; `describe` gives (what was seen, what was
/// wanted) and runs only for the objects the detail mentions.
fn per_object(
    world: &dyn WorldView,
    target: &Target,
    detail: bool,
    witnesses: Option<&Witnesses>,
    ok: impl Fn(&dyn Resource) -> bool,
    describe: impl Fn(&dyn Resource) -> (String, String),
) -> Result<Eval, String> {
    // The object that decides: one that fails an `all`, or passes an `any`.
    let decides = |r: &dyn Resource| match target.quantifier {
        Quantifier::All => !ok(r),
        Quantifier::Any => ok(r),
    };
    let decided = target.quantifier == Quantifier::Any;
    let slot = target as *const Target as usize;
    let witnesses = witnesses.filter(|_| per_object_selection(target));
    if let Some(w) = witnesses.filter(|_| !detail) {
        let tracked = w.with_tracked(world, target, Some(&decides), |t| match (t.selected.is_empty(), t.deciders.is_empty()) {
            (true, _) => Eval::new(false, format!("{target}: no such object")),
            (false, false) => Eval::new(decided, String::new()),
            (false, true) => Eval::new(!decided, String::new()),
        })?;
        if let Some(e) = tracked {
            return Ok(e);
        }
        if let Some(name) = w.last(slot) {
            let view = world.management(target.management.as_deref())?;
            if let Some(r) = view.get(&target.kind, target.namespace(), &name)? {
                if selects(target, r) && decides(r) {
                    return Ok(Eval::new(decided, String::new()));
                }
            }
        }
    }
    let objects = select(world, target)?;
    if objects.is_empty() {
        return Ok(Eval::new(false, format!("{target}: no such object")));
    }
    if !detail {
        let decider = objects.iter().find(|r| decides(**r));
        if let Some(w) = witnesses {
            w.set_last(slot, decider.map(|r| r.name()));
        }
        return Ok(Eval::new(if decider.is_some() { decided } else { !decided }, String::new()));
    }
    let oks: Vec<bool> = objects.iter().map(|r| ok(*r)).collect();
    let holds = match target.quantifier {
        Quantifier::All => oks.iter().all(|x| *x),
        Quantifier::Any => oks.iter().any(|x| *x),
    };
    let n = objects.len();
    let detail = match (holds, oks.iter().position(|x| !x)) {
        (true, _) => {
            let first = oks.iter().position(|x| *x).unwrap_or(0);
            format!("{} ({n} object{})", describe(objects[first]).0, if n == 1 { "" } else { "s" })
        }
        (false, Some(i)) => {
            let (seen, want) = describe(objects[i]);
            let bad = oks.iter().filter(|x| !**x).count();
            format!("{seen}, want {want}{}", if bad > 1 { format!(" ({bad} of {n} objects differ)") } else { String::new() })
        }
        (false, None) => format!("{target}: no object matched"),
    };
    Ok(Eval::new(holds, detail))
}

/// JSON equality with numbers compared by value (`3` equals `3.0`).
pub fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_equal(a, b)),
        (Value::Object(x), Value::Object(y)) => x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| json_equal(v, w))),
        _ => a == b,
    }
}

mod finished;
mod object;
mod witnesses;
pub use finished::{AsyncStatus, FinishedPredicate, FinishedResult};
pub use object::{ConditionCheck, FieldCheck, ObjectCheck, PhaseCheck};
pub use witnesses::{ChangeKey, Witnesses};

#[cfg(test)]
mod tests;

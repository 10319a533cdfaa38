//! v1beta2 conditions (`metav1.Condition`): setting them without moving `lastTransitionTime` when the
//! status does not change, reading them, and CAPI's summary rule (any False → False, else any Unknown
//! → Unknown, else True; negative-polarity conditions count as issues when True).
//! Setting a condition that changes something re-sorts the list in CAPI's order (`Available`,
//! `Ready`, `UpToDate`, ... first; `Paused` and `Deleting` last; the rest by name), as
//! `conditions.Set` does. The v1beta2 merge strategies (summary, aggregate, mirror) are in `merge.rs`.
//! Source: `util/conditions/{setter.go,sort.go,summary.go,merge_strategies.go}`.

use crate::object::{parse_timestamp, timestamp, Object};
use serde_json::{json, Map, Value};

/// Condition status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    /// True.
    True,
    /// False.
    False,
    /// Unknown.
    Unknown,
}

impl Status {
    /// As written.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::True => "True",
            Status::False => "False",
            Status::Unknown => "Unknown",
        }
    }
    /// Parse.
    pub fn parse(s: &str) -> Status {
        match s {
            "True" => Status::True,
            "False" => Status::False,
            _ => Status::Unknown,
        }
    }
    /// From a boolean.
    pub fn from_bool(b: bool) -> Status {
        if b {
            Status::True
        } else {
            Status::False
        }
    }
}

/// A condition to set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cond {
    /// Type.
    pub type_: String,
    /// Status.
    pub status: Status,
    /// Reason (required in v1beta2).
    pub reason: String,
    /// Message.
    pub message: String,
    /// lastTransitionTime to use when the status changes (copied from another object, as the Machine's
    /// `NodeReady` copies the Node's); the write time when `None`.
    pub since_ms: Option<u64>,
}

impl Cond {
    /// A condition.
    pub fn new(type_: &str, status: Status, reason: &str, message: impl Into<String>) -> Cond {
        Cond { type_: type_.to_string(), status, reason: reason.to_string(), message: message.into(), since_ms: None }
    }
    /// Use this lastTransitionTime when the status changes.
    pub fn since(mut self, ms: u64) -> Cond {
        self.since_ms = Some(ms);
        self
    }
    /// `True` with a reason.
    pub fn t(type_: &str, reason: &str) -> Cond {
        Cond::new(type_, Status::True, reason, "")
    }
    /// `False` with a reason and message.
    pub fn f(type_: &str, reason: &str, message: impl Into<String>) -> Cond {
        Cond::new(type_, Status::False, reason, message)
    }
    /// `Unknown` with a reason and message.
    pub fn u(type_: &str, reason: &str, message: impl Into<String>) -> Cond {
        Cond::new(type_, Status::Unknown, reason, message)
    }
}

/// A condition as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CondView<'a> {
    /// Status.
    pub status: Status,
    /// Reason.
    pub reason: &'a str,
    /// Message.
    pub message: &'a str,
    /// lastTransitionTime as written (parsed by [`CondView::since_ms`] only when asked: most reads
    /// want the status alone).
    pub since: &'a str,
}

impl CondView<'_> {
    /// lastTransitionTime in simulated ms (0 when absent or unreadable).
    pub fn since_ms(&self) -> u64 {
        parse_timestamp(self.since).unwrap_or(0)
    }
}

/// The `status.conditions` list.
pub fn list(obj: &Object) -> &[Value] {
    stored(obj).map(Vec::as_slice).unwrap_or(&[])
}

/// The stored `status.conditions` array, read by key (conditions are read on every reconcile: no
/// pointer to parse).
fn stored(obj: &Object) -> Option<&Vec<Value>> {
    obj.body.get("status")?.get("conditions")?.as_array()
}

/// The `type` of a stored condition. Conditions are read on every reconcile, so this looks at the
/// map's last key first: `type` sorts after every other field of a `metav1.Condition`.
fn type_of(c: &Value) -> Option<&str> {
    let m = c.as_object()?;
    match m.iter().next_back() {
        Some((k, Value::String(t))) if k == "type" => Some(t),
        _ => m.get("type").and_then(Value::as_str),
    }
}

/// One condition.
pub fn get<'a>(obj: &'a Object, type_: &str) -> Option<CondView<'a>> {
    list(obj).iter().find(|c| type_of(c) == Some(type_)).map(|c| CondView {
        status: Status::parse(c.get("status").and_then(Value::as_str).unwrap_or("")),
        reason: c.get("reason").and_then(Value::as_str).unwrap_or(""),
        message: c.get("message").and_then(Value::as_str).unwrap_or(""),
        since: c.get("lastTransitionTime").and_then(Value::as_str).unwrap_or(""),
    })
}

/// One condition's status (reads nothing else of it).
pub fn status(obj: &Object, type_: &str) -> Option<Status> {
    list(obj).iter().find(|c| type_of(c) == Some(type_)).map(|c| Status::parse(c.get("status").and_then(Value::as_str).unwrap_or("")))
}

/// Whether a condition is True.
pub fn is_true(obj: &Object, type_: &str) -> bool {
    status(obj, type_) == Some(Status::True)
}

/// Whether a condition is False.
pub fn is_false(obj: &Object, type_: &str) -> bool {
    status(obj, type_) == Some(Status::False)
}

/// The order `conditions.Set` sorts conditions in (`util/conditions/sort.go`: `order`); types not
/// listed take the place of the empty entry (readiness and availability gates) and sort by name.
const ORDER: &[&str] = &[
    "Available",
    "Ready",
    "UpToDate",
    "RemoteConnectionProbe",
    "BootstrapConfigReady",
    "InfrastructureReady",
    "ControlPlaneInitialized",
    "ControlPlaneAvailable",
    "WorkersAvailable",
    "CertificatesAvailable",
    "Initialized",
    "EtcdClusterHealthy",
    "ControlPlaneComponentsHealthy",
    "NodeHealthy",
    "NodeReady",
    "NodeKubeadmLabelsAndTaintsSet",
    "EtcdPodHealthy",
    "EtcdMemberHealthy",
    "APIServerPodHealthy",
    "ControllerManagerPodHealthy",
    "SchedulerPodHealthy",
    "HealthCheckSucceeded",
    "OwnerRemediated",
    "TopologyReconciled",
    "Updating",
    "RollingOut",
    "Remediating",
    "ScalingDown",
    "ScalingUp",
    "MachinesReady",
    "ControlPlaneMachinesReady",
    "WorkerMachinesReady",
    "MachinesUpToDate",
    "ControlPlaneMachinesUpToDate",
    "WorkerMachinesUpToDate",
    "",
    "Paused",
    "Deleting",
];

/// The rank of a type in [`ORDER`]: a `match` the compiler dispatches on length, where a scan of
/// [`ORDER`] compared every entry (`rank_is_the_position_in_order` checks they agree).
fn order_rank(t: &str) -> usize {
    match t {
        "Available" => 0,
        "Ready" => 1,
        "UpToDate" => 2,
        "RemoteConnectionProbe" => 3,
        "BootstrapConfigReady" => 4,
        "InfrastructureReady" => 5,
        "ControlPlaneInitialized" => 6,
        "ControlPlaneAvailable" => 7,
        "WorkersAvailable" => 8,
        "CertificatesAvailable" => 9,
        "Initialized" => 10,
        "EtcdClusterHealthy" => 11,
        "ControlPlaneComponentsHealthy" => 12,
        "NodeHealthy" => 13,
        "NodeReady" => 14,
        "NodeKubeadmLabelsAndTaintsSet" => 15,
        "EtcdPodHealthy" => 16,
        "EtcdMemberHealthy" => 17,
        "APIServerPodHealthy" => 18,
        "ControllerManagerPodHealthy" => 19,
        "SchedulerPodHealthy" => 20,
        "HealthCheckSucceeded" => 21,
        "OwnerRemediated" => 22,
        "TopologyReconciled" => 23,
        "Updating" => 24,
        "RollingOut" => 25,
        "Remediating" => 26,
        "ScalingDown" => 27,
        "ScalingUp" => 28,
        "MachinesReady" => 29,
        "ControlPlaneMachinesReady" => 30,
        "WorkerMachinesReady" => 31,
        "MachinesUpToDate" => 32,
        "ControlPlaneMachinesUpToDate" => 33,
        "WorkerMachinesUpToDate" => 34,
        "Paused" => 36,
        "Deleting" => 37,
        _ => ORDER.len() - 3,
    }
}

/// `defaultSortLessFunc`: by rank, then by type.
fn sort_less(a: &Value, b: &Value) -> std::cmp::Ordering {
    let (ta, tb) = (type_of(a).unwrap_or(""), type_of(b).unwrap_or(""));
    order_rank(ta).cmp(&order_rank(tb)).then_with(|| ta.cmp(tb))
}

/// Whether a list is in [`sort_less`] order (each type ranked once).
fn is_sorted(list: &[Value]) -> bool {
    let mut prev: Option<(usize, &str)> = None;
    list.iter().all(|x| {
        let t = type_of(x).unwrap_or("");
        let key = (order_rank(t), t);
        let ok = prev.is_none_or(|p| p <= key);
        prev = Some(key);
        ok
    })
}

/// Set conditions in `status.conditions` of `obj` (replacing by type; when anything changed the list
/// is re-sorted in CAPI's order, as `conditions.Set` does). `lastTransitionTime` moves only when the
/// status changes (to the condition's own `since` when it has one, as `meta.SetStatusCondition`).
pub fn set(obj: &mut Object, conds: impl IntoIterator<Item = Cond>, now: u64) {
    let generation = obj.meta.generation;
    let mut changed = false;
    for c in conds {
        // Read first: most reconciles set the conditions they found, and a condition that would be
        // written as it is costs no write, so that an unchanged object keeps sharing its body.
        let found = stored(obj).and_then(|list| {
            let i = list.iter().position(|x| type_of(x) == Some(c.type_.as_str()))?;
            let x = &list[i];
            let same_status = x.get("status").and_then(Value::as_str) == Some(c.status.as_str());
            Some((i, renders_as(x, &c, generation), same_status.then(|| x.get("lastTransitionTime").cloned()).flatten()))
        });
        if found.as_ref().is_some_and(|(_, unchanged, _)| *unchanged) {
            continue;
        }
        let status = obj.status_mut();
        let slot = status.entry("conditions").or_insert_with(|| Value::Array(Vec::new()));
        if !slot.is_array() {
            *slot = Value::Array(Vec::new());
        }
        let Value::Array(list) = slot else { continue };
        changed = true;
        match found {
            // `lastTransitionTime` moves only when the status changes.
            Some((i, _, since)) if i < list.len() => {
                list[i] = render(&c, since.unwrap_or_else(|| json!(timestamp(c.since_ms.unwrap_or(now)))), generation);
            }
            _ => list.push(render(&c, json!(timestamp(c.since_ms.unwrap_or(now))), generation)),
        }
    }
    if changed {
        let sorted = stored(obj).is_none_or(|l| is_sorted(l));
        if !sorted {
            if let Some(list) = obj.status_mut().get_mut("conditions").and_then(Value::as_array_mut) {
                list.sort_by(sort_less);
            }
        }
    }
}

/// Remove a condition.
pub fn remove(obj: &mut Object, type_: &str) {
    let present = stored(obj).is_some_and(|l| l.iter().any(|x| type_of(x) == Some(type_)));
    if !present {
        return;
    }
    if let Some(list) = obj.status_mut().get_mut("conditions").and_then(Value::as_array_mut) {
        list.retain(|x| type_of(x) != Some(type_));
    }
}

/// Whether setting `c` over the stored condition `x` (same type) would leave `x` as it is: what
/// [`render`] writes, field by field, with `x`'s own `lastTransitionTime`.
fn renders_as(x: &Value, c: &Cond, generation: i64) -> bool {
    let Some(m) = x.as_object() else { return false };
    let str_is = |k: &str, want: &str| m.get(k).and_then(Value::as_str) == Some(want);
    m.len() == field_count(generation)
        && str_is("status", c.status.as_str())
        && str_is("reason", &c.reason)
        && str_is("message", &c.message)
        && (generation <= 0 || m.get("observedGeneration").and_then(Value::as_i64) == Some(generation))
        && m.get("lastTransitionTime").is_some()
}

/// How many fields a condition renders with: type, status, lastTransitionTime, reason, message
/// (always: `metav1.Condition.Message` is required and has no `omitempty`, so Go writes `""`), and
/// observedGeneration when there is one.
fn field_count(generation: i64) -> usize {
    5 + usize::from(generation > 0)
}

/// Rendered conditions kept for reuse: slots indexed by a hash of what a condition renders from.
const RENDERED_SLOTS: usize = 4096;

thread_local! {
    /// Recently rendered conditions by their inputs' hash. A fleet writes the same condition (type,
    /// status, reason, message, time, generation) on many objects: its machines move through the
    /// same phases in the same simulated seconds. Handing out a clone of the JSON rendered last time
    /// shares one map among all of them (maps are copied on write), where each would hold its own
    /// ~350 bytes. The table is bounded (a slot keeps the last condition that hashed to it) and only
    /// ever yields a value equal to a fresh rendering, so it changes no output, only what is shared.
    static RENDERED: std::cell::RefCell<crate::memo::Slots<Value, RENDERED_SLOTS>> = const { std::cell::RefCell::new(crate::memo::Slots::new()) };
}

/// A condition as JSON, shared with an equal one rendered before when the table still has it.
fn render(c: &Cond, since: Value, generation: i64) -> Value {
    use std::hash::Hash;
    let Some(since_text) = since.as_str() else { return render_new(c, since, generation) };
    let key =
        crate::memo::key(|h| (c.type_.as_str(), c.status.as_str(), c.reason.as_str(), c.message.as_str(), since_text, generation).hash(h));
    let hit = RENDERED.with(|t| t.borrow().get(key).filter(|v| renders_exactly(v, c, since_text, generation)).cloned());
    if let Some(v) = hit {
        return v;
    }
    let v = render_new(c, since, generation);
    RENDERED.with(|t| t.borrow_mut().put(key, v.clone()));
    v
}

/// Whether `x` is exactly what [`render_new`] makes of these inputs (a hash match is confirmed, never
/// trusted).
fn renders_exactly(x: &Value, c: &Cond, since: &str, generation: i64) -> bool {
    let Some(m) = x.as_object() else { return false };
    renders_as(x, c, generation)
        && m.get("type").and_then(Value::as_str) == Some(c.type_.as_str())
        && m.get("lastTransitionTime").and_then(Value::as_str) == Some(since)
}

/// A condition as JSON: sized exactly and filled in key order (each insert appends), since an object
/// keeps every condition it carries, a dozen or more on a Machine.
fn render_new(c: &Cond, since: Value, generation: i64) -> Value {
    let mut m = Map::with_capacity(field_count(generation));
    m.insert("lastTransitionTime".into(), since);
    m.insert("message".into(), json!(c.message));
    if generation > 0 {
        m.insert("observedGeneration".into(), json!(generation));
    }
    m.insert("reason".into(), json!(c.reason));
    m.insert("status".into(), json!(c.status.as_str()));
    m.insert("type".into(), json!(c.type_));
    Value::Object(m)
}

/// CAPI's summary of sub-conditions: any issue (False for positive polarity, True for negative)
/// → False; else any Unknown → Unknown; else True. Returns the status and the first issue's message.
pub fn summarize(items: &[(Status, bool, String)]) -> (Status, String) {
    // (status, negative polarity, message)
    let issue = items.iter().find(|(s, neg, _)| if *neg { *s == Status::True } else { *s == Status::False });
    if let Some((_, _, msg)) = issue {
        return (Status::False, msg.clone());
    }
    if let Some((_, _, msg)) = items.iter().find(|(s, _, _)| *s == Status::Unknown) {
        return (Status::Unknown, msg.clone());
    }
    (Status::True, String::new())
}

/// Summary of named conditions of an object (missing ones count as Unknown), e.g. a Machine's
/// `Ready`. `negative` lists negative-polarity types.
pub fn summary_of(obj: &Object, positive: &[&str], negative: &[&str]) -> (Status, String) {
    let mut items = Vec::new();
    for t in positive {
        match get(obj, t) {
            Some(c) => items.push((c.status, false, format!("* {t}: {}", if c.message.is_empty() { c.reason } else { c.message }))),
            None => items.push((Status::Unknown, false, format!("* {t}: Condition not yet reported"))),
        }
    }
    for t in negative {
        if let Some(c) = get(obj, t) {
            items.push((c.status, true, format!("* {t}: {}", if c.message.is_empty() { c.reason } else { c.message })));
        }
    }
    summarize(&items)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::Kind;

    #[test]
    fn transition_time_moves_only_on_status_change() {
        let mut o = Object::new(Kind::Machine, "default", "m");
        set(&mut o, [Cond::f("Ready", "NotReady", "waiting")], 1000);
        set(&mut o, [Cond::f("Ready", "NotReady", "still waiting")], 5000);
        assert_eq!(get(&o, "Ready").unwrap().since_ms(), 1000);
        set(&mut o, [Cond::t("Ready", "Ready")], 9000);
        assert_eq!(get(&o, "Ready").unwrap().since_ms(), 9000);
    }

    /// Setting a condition decides "nothing changes" without rendering; it must agree with what
    /// rendering would write.
    #[rstest::rstest]
    #[case(Cond::f("Ready", "NotReady", "waiting"), 2, false)]
    #[case(Cond::f("Ready", "NotReady", "still waiting"), 2, true)]
    #[case(Cond::f("Ready", "Other", "waiting"), 2, true)]
    #[case(Cond::f("Ready", "NotReady", ""), 2, true)]
    #[case(Cond::u("Ready", "NotReady", "waiting"), 2, true)]
    #[case(Cond::f("Ready", "NotReady", "waiting"), 3, true)]
    #[case(Cond::f("Ready", "NotReady", "waiting"), 0, true)]
    #[case(Cond::t("Other", "Ok"), 2, true)]
    fn an_unchanged_condition_writes_nothing(#[case] c: Cond, #[case] generation: i64, #[case] changes: bool) {
        let mut o = Object::new(Kind::Machine, "default", "m");
        o.meta.generation = 2;
        set(&mut o, [Cond::f("Ready", "NotReady", "waiting")], 1000);
        o.meta.generation = generation;
        let before = o.clone();
        set(&mut o, [c.clone()], 5000);
        assert_eq!(!o.body.shares(&before.body), changes, "{c:?} at generation {generation}");
        // Whatever the path, the stored condition is what was set.
        let got = get(&o, &c.type_).expect("set");
        assert_eq!((got.status, got.reason, got.message), (c.status, c.reason.as_str(), c.message.as_str()));
    }

    /// Objects given the same condition at the same time share one rendered map; any other input
    /// renders its own.
    #[test]
    fn equal_conditions_share_one_map_and_different_ones_do_not() {
        let rendered = |name: &str, c: Cond, now: u64| {
            let mut o = Object::new(Kind::Machine, "default", name);
            o.meta.generation = 1;
            set(&mut o, [c], now);
            o.at("/status/conditions/0").cloned().expect("rendered")
        };
        let first_entry = |v: &Value| v.as_object().and_then(|m| m.values().next()).map(|e| e as *const Value);
        let a = rendered("a", Cond::f("Ready", "NotReady", "waiting"), 7000);
        let b = rendered("b", Cond::f("Ready", "NotReady", "waiting"), 7000);
        assert_eq!(a, b);
        assert_eq!(first_entry(&a), first_entry(&b), "one map, shared");
        for other in [
            rendered("c", Cond::f("Ready", "NotReady", "waiting"), 8000),
            rendered("d", Cond::f("Ready", "NotReady", "other"), 7000),
            rendered("e", Cond::f("Synced", "NotReady", "waiting"), 7000),
        ] {
            assert_ne!(other, a);
            assert_ne!(first_entry(&other), first_entry(&a));
        }
    }

    /// The rank `match` and the [`ORDER`] table agree, for every listed type and an unlisted one.
    #[test]
    fn rank_is_the_position_in_order() {
        for (i, t) in ORDER.iter().enumerate() {
            assert_eq!(order_rank(t), i, "{t}");
        }
        assert_eq!(order_rank("SomeGate"), ORDER.len() - 3);
    }

    #[test]
    fn summary_follows_capi_rule() {
        let t = (Status::True, false, String::new());
        let u = (Status::Unknown, false, "u".to_string());
        let f = (Status::False, false, "f".to_string());
        let neg = (Status::True, true, "deleting".to_string());
        assert_eq!(summarize(&[t.clone(), u.clone()]).0, Status::Unknown);
        assert_eq!(summarize(&[u, f]).0, Status::False);
        assert_eq!(summarize(&[t.clone(), neg]).0, Status::False);
        assert_eq!(summarize(&[t]).0, Status::True);
    }
}

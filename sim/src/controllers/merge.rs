//! CAPI's v1beta2 condition merging, as `util/conditions` does it: the default merge strategy
//! (issues, then unknown, then info; negative polarity; the target's polarity; reasons picked by the
//! caller), the summary of several conditions of one object (`* Type: message` bullets, multi-line
//! messages indented), the aggregate of one condition over many objects (messages grouped by
//! kind and text, at most three groups of at most three names, control-plane Machines first, `And N
//! Machines with other issues`), and mirroring a condition of another object with a fallback.
//! Sources: `util/conditions/{merge_strategies.go,summary.go,aggregate.go,mirror.go,getter.go}`.
//!
//! Simplification: Go sorts the objects of an aggregate by `lastTransitionTime` with a stable sort
//! over an unordered set; we sort by `lastTransitionTime` and then by input order (names), which
//! only decides ties Go leaves to map order and that the message format sorts away again.

use super::conditions::{self, Cond, Status};
use crate::object::Object;
use std::collections::BTreeMap;

/// `MergePriority`: issue < unknown < info.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Priority {
    /// `IssueMergePriority`.
    Issue,
    /// `UnknownMergePriority`.
    Unknown,
    /// `InfoMergePriority`.
    Info,
}

/// `ConditionWithOwnerInfo`: a condition and the object it belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    /// Owner kind (`Machine`, `MachineDeployment`, `KubeadmControlPlane`, ...).
    pub kind: String,
    /// Owner name.
    pub name: String,
    /// Whether the owner is a control-plane Machine (its messages go first).
    pub cp_machine: bool,
    /// Condition type.
    pub type_: String,
    /// Status.
    pub status: Status,
    /// Reason.
    pub reason: String,
    /// Message.
    pub message: String,
    /// lastTransitionTime (0 when not reported).
    pub since_ms: u64,
}

/// `GetDefaultMergePriorityFunc(negativePolarityConditionTypes...)`.
pub fn default_priority(negative: &[&str], item: &Item) -> Priority {
    let neg = negative.contains(&item.type_.as_str());
    match (item.status, neg) {
        (Status::True, false) | (Status::False, true) => Priority::Info,
        (Status::False, false) | (Status::True, true) => Priority::Issue,
        (Status::Unknown, _) => Priority::Unknown,
    }
}

/// `DefaultMergeStrategy` options: the priority of each condition, the target's polarity and the
/// (issue, unknown, info) reasons (`GetDefaultComputeMergeReasonFunc`).
pub struct Strategy<'a> {
    /// `GetPriorityFunc`.
    pub priority: &'a dyn Fn(&Item) -> Priority,
    /// `TargetConditionHasPositivePolarity`.
    pub positive: bool,
    /// Reasons for the issue / unknown / info outcomes.
    pub reasons: (&'a str, &'a str, &'a str),
}

/// `MergeOperation`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Different conditions of one object.
    Summary,
    /// One condition of many objects.
    Aggregate,
}

/// `defaultMergeStrategy.Merge`: status, reason and message. `items` must not be empty.
pub fn merge(op: Op, mut items: Vec<Item>, types: &[&str], s: &Strategy<'_>) -> (Status, String, String) {
    // sortConditions: the caller's order of types, then the oldest transition first (stable).
    let rank = |t: &str| types.iter().position(|x| *x == t).unwrap_or(0);
    items.sort_by(|a, b| rank(&a.type_).cmp(&rank(&b.type_)).then(a.since_ms.cmp(&b.since_ms)));
    let prio: Vec<Priority> = items.iter().map(|i| (s.priority)(i)).collect();
    let has = |p: Priority| prio.contains(&p);
    let (status, reason) = if has(Priority::Issue) {
        (if s.positive { Status::False } else { Status::True }, s.reasons.0)
    } else if has(Priority::Unknown) {
        (Status::Unknown, s.reasons.1)
    } else {
        (if s.positive { Status::True } else { Status::False }, s.reasons.2)
    };
    let message = match op {
        Op::Summary => summary_message(&items, &prio, status),
        Op::Aggregate => {
            let mut n = 3usize;
            let lines = if has(Priority::Issue) || has(Priority::Unknown) {
                // Issues first, then unknown (each group keeps the sorted order).
                let chosen: Vec<(&Item, Priority)> = [Priority::Issue, Priority::Unknown]
                    .into_iter()
                    .flat_map(|p| items.iter().zip(prio.iter().copied()).filter(move |(_, q)| *q == p))
                    .collect();
                aggregate_messages(
                    &chosen,
                    &mut n,
                    false,
                    &[(Priority::Issue, "with other issues"), (Priority::Unknown, "with status unknown")],
                )
            } else {
                let chosen: Vec<(&Item, Priority)> = items.iter().zip(prio.iter().copied()).collect();
                aggregate_messages(&chosen, &mut n, true, &[(Priority::Info, "with additional info")])
            };
            lines.join("\n")
        }
    };
    (status, reason.to_string(), message)
}

/// `summaryMessage`: a `* Type: message` line per condition (the reason when there is no message);
/// info conditions only when the result is True, and then only those with a message.
fn summary_message(items: &[Item], prio: &[Priority], status: Status) -> String {
    let mut lines = Vec::new();
    for (c, p) in items.iter().zip(prio) {
        if *p == Priority::Info && (status != Status::True || c.message.is_empty()) {
            continue;
        }
        let body = if c.message.is_empty() { format!(" {}", c.reason) } else { indent_if_multiline(&c.message) };
        lines.push(format!("* {}:{body}", c.type_));
    }
    lines.join("\n")
}

/// `flect.Pluralize` for the kinds CAPI aggregates over.
fn plural(kind: &str) -> String {
    if kind.ends_with('s') {
        format!("{kind}es")
    } else {
        format!("{kind}s")
    }
}

/// `aggregateMessages`: per kind (sorted), messages ordered by control-plane first, priority, number
/// of objects, then names; the first `n` shown with up to three names each, the rest counted.
fn aggregate_messages(items: &[(&Item, Priority)], n: &mut usize, drop_empty: bool, others_text: &[(Priority, &str)]) -> Vec<String> {
    // kind → message → names (in item order)
    let mut by_kind: BTreeMap<&str, BTreeMap<&str, Vec<&str>>> = BTreeMap::new();
    let mut prio: BTreeMap<&str, Priority> = BTreeMap::new();
    let mut first: BTreeMap<&str, bool> = BTreeMap::new();
    let mut cp: Vec<&str> = Vec::new();
    for (c, p) in items {
        if drop_empty && c.message.is_empty() {
            continue;
        }
        let m = c.message.as_str();
        by_kind.entry(&c.kind).or_default().entry(m).or_default().push(&c.name);
        if c.cp_machine {
            cp.push(&c.name);
            first.insert(m, true);
        }
        // The highest priority a message is reported with applies.
        let e = prio.entry(m).or_insert(*p);
        if *p < *e {
            *e = *p;
        }
    }
    let mut out = Vec::new();
    for (kind, messages) in by_kind {
        let joined = |m: &str| messages[m].join(",");
        let mut order: Vec<&str> = messages.keys().copied().collect();
        order.sort_by(|a, b| {
            let fa = first.get(a).copied().unwrap_or(false);
            let fb = first.get(b).copied().unwrap_or(false);
            fb.cmp(&fa).then(prio[a].cmp(&prio[b])).then(messages[b].len().cmp(&messages[a].len())).then_with(|| joined(a).cmp(&joined(b)))
        });
        let mut others: BTreeMap<Priority, usize> = BTreeMap::new();
        for m in order {
            let names = &messages[m];
            if *n == 0 {
                *others.entry(prio[m]).or_default() += names.len();
                continue;
            }
            let mut names: Vec<&str> = names.clone();
            names.sort_by(|a, b| cp.contains(b).cmp(&cp.contains(a)).then(a.cmp(b)));
            let head = match names.len() {
                1 => format!("* {kind} {}:", names[0]),
                2 | 3 => format!("* {} {}:", plural(kind), names.join(", ")),
                k => format!("* {} {}, ... ({} more):", plural(kind), names[..3].join(", "), k - 3),
            };
            out.push(format!("{head}{}", indent_if_multiline(m)));
            *n -= 1;
        }
        for (p, text) in others_text {
            match others.get(p).copied().unwrap_or(0) {
                0 => {}
                1 => out.push(format!("And 1 {kind} {text}")),
                k => out.push(format!("And {k} {} {text}", plural(kind))),
            }
        }
    }
    out
}

/// Whether a line matches CAPI's bullet regexp `\s*\*\s+` (anywhere in the line).
fn is_bullet(line: &str) -> bool {
    let b = line.as_bytes();
    b.iter().enumerate().any(|(i, c)| *c == b'*' && b.get(i + 1).is_some_and(|n| n.is_ascii_whitespace()))
}

/// `indentIfMultiline`: a one-line message follows the colon after a space; bullets and multi-line
/// messages go below it, indented (lines without a bullet get one, and bullets then go one deeper).
pub fn indent_if_multiline(m: &str) -> String {
    if !(m.contains('\n') || is_bullet(m)) {
        return format!(" {m}");
    }
    let lines: Vec<&str> = m.split('\n').collect();
    let without_bullet = lines.iter().any(|l| !is_bullet(l));
    let indented: Vec<String> = lines
        .iter()
        .map(|l| {
            let prefix = match (without_bullet, is_bullet(l)) {
                (false, _) => "  ",
                (true, true) => "    ",
                (true, false) => "  * ",
            };
            format!("{prefix}{l}")
        })
        .collect();
    format!("\n{}", indented.join("\n"))
}

/// The condition `type_` of `obj` as a merge item (`getConditionsWithOwnerInfo`), or the
/// `NotYetReported` stand-in with `missing_message`.
pub fn item_of(obj: &Object, type_: &str, missing_message: &str) -> Item {
    let cp_machine = obj.kind.name() == "Machine" && obj.label(super::common::keys::CONTROL_PLANE).is_some();
    match conditions::get(obj, type_) {
        Some(c) => Item {
            kind: obj.kind.name().to_string(),
            name: obj.name().to_string(),
            cp_machine,
            type_: type_.to_string(),
            status: c.status,
            // `UnstructuredGet` reports an empty reason as `NoReasonReported`.
            reason: if c.reason.is_empty() { NO_REASON_REPORTED.to_string() } else { c.reason.to_string() },
            message: c.message.to_string(),
            since_ms: c.since_ms(),
        },
        None => Item {
            kind: obj.kind.name().to_string(),
            name: obj.name().to_string(),
            cp_machine,
            type_: type_.to_string(),
            status: Status::Unknown,
            reason: NOT_YET_REPORTED.to_string(),
            message: missing_message.to_string(),
            since_ms: 0,
        },
    }
}

/// `conditions.NotYetReportedReason`.
pub const NOT_YET_REPORTED: &str = "NotYetReported";
/// `conditions.NoReasonReported`.
pub const NO_REASON_REPORTED: &str = "NoReasonReported";

/// `NewAggregateCondition(objs, source, TargetConditionType(target), ...)`: one condition over
/// objects (missing ones count as Unknown `Condition <type> not yet reported`). `negative` marks the
/// source as negative polarity (the target then is too). `priority` overrides the default priority.
pub fn aggregate(objs: &[&Object], source: &str, target: &str, negative: bool, reasons: (&str, &str, &str)) -> Cond {
    // The steady state, without building the merge: every object reports the condition with the
    // info status and no message, so the outcome is the info one and `aggregateMessages`, which
    // drops empty info messages, leaves the message empty.
    let info = if negative { Status::False } else { Status::True };
    if !objs.is_empty() && objs.iter().all(|o| conditions::get(o, source).is_some_and(|c| c.status == info && c.message.is_empty())) {
        return Cond::new(target, info, reasons.2, String::new());
    }
    let neg: &[&str] = if negative { &[source] } else { &[] };
    let priority = |i: &Item| default_priority(neg, i);
    let items: Vec<Item> = objs.iter().map(|o| item_of(o, source, &format!("Condition {source} not yet reported"))).collect();
    let (status, reason, message) = merge(Op::Aggregate, items, &[source], &Strategy { priority: &priority, positive: !negative, reasons });
    Cond::new(target, status, &reason, message)
}

/// `NewSummaryCondition(obj, target, ForConditionTypes(types), IgnoreTypesIfMissing(ignore), ...)`
/// with the given priority function: the object's conditions of those types, the missing ones (unless
/// ignored) as Unknown `Condition not yet reported`. `conds` overrides what `obj` carries (the
/// conditions set earlier in the same reconcile).
pub fn summary(
    obj: &Object,
    conds: &[Cond],
    target: &str,
    types: &[&str],
    ignore_if_missing: &[&str],
    priority: &dyn Fn(&Item) -> Priority,
    reasons: (&str, &str, &str),
) -> Cond {
    let mut items = Vec::with_capacity(types.len());
    for t in types {
        if let Some(c) = conds.iter().find(|c| c.type_ == *t) {
            items.push(Item {
                kind: obj.kind.name().to_string(),
                name: obj.name().to_string(),
                cp_machine: false,
                type_: c.type_.clone(),
                status: c.status,
                reason: c.reason.clone(),
                message: c.message.clone(),
                since_ms: 0,
            });
        } else if conditions::get(obj, t).is_some() {
            items.push(item_of(obj, t, ""));
        } else if !ignore_if_missing.contains(t) {
            items.push(item_of(obj, t, "Condition not yet reported"));
        }
    }
    let (status, reason, message) = merge(Op::Summary, items, types, &Strategy { priority, positive: true, reasons });
    Cond::new(target, status, &reason, message)
}

/// `NewMirrorConditionFromUnstructured(src, source, TargetConditionType(target), FallbackCondition{..})`:
/// the source's condition under another type (keeping its lastTransitionTime), else the fallback.
pub fn mirror(src: &Object, source: &str, target: &str, fallback: Cond) -> Cond {
    match conditions::get(src, source) {
        Some(c) => {
            let reason = if c.reason.is_empty() { NO_REASON_REPORTED } else { c.reason };
            let since = c.since_ms();
            let m = Cond::new(target, c.status, reason, c.message.to_string());
            if since > 0 {
                m.since(since)
            } else {
                m
            }
        }
        None => Cond { type_: target.to_string(), ..fallback },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indent_rules() {
        assert_eq!(indent_if_multiline("plain"), " plain");
        assert_eq!(indent_if_multiline("* a\n* b"), "\n  * a\n  * b");
        assert_eq!(indent_if_multiline("head\n* a"), "\n  * head\n    * a");
    }
}

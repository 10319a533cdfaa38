//! CAPI's v1beta2 condition merging, as `util/conditions` does it: the default merge strategy
//! (issues, then unknown, then info; negative polarity; the target's polarity; reasons picked by the
//! caller), the summary of several conditions of one object (`* Type: message` bullets, multi-line
//! messages indented, an optional `SummaryMessageTransformFunc`), the aggregate of one condition over
//! many objects (messages grouped by kind and text, at most three groups of at most three names,
//! control-plane Machines first, `And N Machines with other issues`), and mirroring a condition of
//! another object with a fallback. Used by the Cluster, Machine, MachineSet and MachineDeployment
//! controllers; any controller may use it.
//! Sources: `util/conditions/{merge_strategies.go,summary.go,aggregate.go,mirror.go,getter.go}`.
//!
//! Merge items borrow their strings (from the objects' stored conditions, or from conditions the
//! caller computed): a merge allocates only the message it writes.
//!
//! Simplification: Go sorts the objects of an aggregate by `lastTransitionTime` with a stable sort
//! over an unordered set; we sort by `lastTransitionTime` and then by input order (names), which
//! only decides ties Go leaves to map order and that the message format sorts away again.

use super::conditions::{self, Cond, Status};
use crate::object::Object;

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

/// `ConditionWithOwnerInfo`: a condition and the object it belongs to, borrowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Item<'a> {
    /// Owner kind (`Machine`, `MachineDeployment`, `KubeadmControlPlane`, ...).
    pub kind: &'a str,
    /// Owner name.
    pub name: &'a str,
    /// Whether the owner is a control-plane Machine (its messages and name go first).
    pub cp_machine: bool,
    /// Condition type.
    pub type_: &'a str,
    /// Status.
    pub status: Status,
    /// Reason.
    pub reason: &'a str,
    /// Message.
    pub message: &'a str,
    /// lastTransitionTime (0 when not reported; ties in the sort order).
    pub since_ms: u64,
}

impl<'a> Item<'a> {
    /// An item from a condition to be set on (or read from) `kind`/`name`.
    pub fn of(kind: &'a str, name: &'a str, c: &'a Cond, since_ms: u64) -> Item<'a> {
        Item { kind, name, cp_machine: false, type_: &c.type_, status: c.status, reason: &c.reason, message: &c.message, since_ms }
    }
}

/// `GetDefaultMergePriorityFunc(negativePolarityConditionTypes...)`.
pub fn default_priority(negative: &[&str], item: &Item<'_>) -> Priority {
    let neg = negative.contains(&item.type_);
    match (item.status, neg) {
        (Status::True, false) | (Status::False, true) => Priority::Info,
        (Status::False, false) | (Status::True, true) => Priority::Issue,
        (Status::Unknown, _) => Priority::Unknown,
    }
}

/// Reasons of the merged condition (`GetDefaultComputeMergeReasonFunc(issue, unknown, info)`).
#[derive(Clone, Copy, Debug)]
pub struct Reasons<'a> {
    /// Some issue.
    pub issue: &'a str,
    /// Some unknown, no issue.
    pub unknown: &'a str,
    /// Only info.
    pub info: &'a str,
}

/// The generic reasons (`IssuesReported`, `UnknownReported`, `InfoReported`).
pub const GENERIC: Reasons<'static> = Reasons { issue: "IssuesReported", unknown: "UnknownReported", info: "InfoReported" };

/// `MergeOperation`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Different conditions of one object.
    Summary,
    /// One condition of many objects.
    Aggregate,
}

/// `SummaryMessageTransformFunc`: rewrites the summary's lines.
pub type Transform<'t> = &'t dyn Fn(Vec<String>) -> Vec<String>;

/// `defaultMergeStrategy.Merge`: status, reason and message. `items` must not be empty for a
/// summary. `types` orders the items (then the oldest transition first, stable); `positive` is the
/// target's polarity.
pub fn merge<'r>(
    op: Op,
    mut items: Vec<Item<'_>>,
    types: &[&str],
    priority: &dyn Fn(&Item<'_>) -> Priority,
    positive: bool,
    reasons: Reasons<'r>,
    transform: Option<Transform<'_>>,
) -> (Status, &'r str, String) {
    // sortConditions: the caller's order of types, then the oldest transition first (stable).
    if types.len() > 1 || items.iter().any(|i| i.since_ms != items[0].since_ms) {
        let rank = |t: &str| types.iter().position(|x| *x == t).unwrap_or(0);
        items.sort_by(|a, b| rank(a.type_).cmp(&rank(b.type_)).then(a.since_ms.cmp(&b.since_ms)));
    }
    let prio: Vec<Priority> = items.iter().map(priority).collect();
    let has = |p: Priority| prio.contains(&p);
    let (status, reason) = if has(Priority::Issue) {
        (if positive { Status::False } else { Status::True }, reasons.issue)
    } else if has(Priority::Unknown) {
        (Status::Unknown, reasons.unknown)
    } else {
        (if positive { Status::True } else { Status::False }, reasons.info)
    };
    let message = match op {
        Op::Summary => {
            let mut lines = summary_lines(&items, &prio, status);
            if let Some(f) = transform {
                lines = f(lines);
            }
            lines.join("\n")
        }
        Op::Aggregate => {
            let mut n = 3usize;
            let lines = if has(Priority::Issue) || has(Priority::Unknown) {
                // Issues first, then unknown (each group keeps the sorted order).
                let chosen: Vec<(&Item<'_>, Priority)> = [Priority::Issue, Priority::Unknown]
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
                let chosen: Vec<(&Item<'_>, Priority)> = items.iter().zip(prio.iter().copied()).collect();
                aggregate_messages(&chosen, &mut n, true, &[(Priority::Info, "with additional info")])
            };
            lines.join("\n")
        }
    };
    (status, reason, message)
}

/// `summaryMessage`: a `* Type: message` line per condition (the reason when there is no message);
/// info conditions only when the result is True, and then only those with a message.
fn summary_lines(items: &[Item<'_>], prio: &[Priority], status: Status) -> Vec<String> {
    let mut lines = Vec::new();
    for (c, p) in items.iter().zip(prio) {
        if *p == Priority::Info && (status != Status::True || c.message.is_empty()) {
            continue;
        }
        let mut line = format!("* {}:", c.type_);
        if c.message.is_empty() {
            line.push(' ');
            line.push_str(c.reason);
        } else {
            push_indented(&mut line, c.message);
        }
        lines.push(line);
    }
    lines
}

/// `flect.Pluralize` for the kinds CAPI aggregates over.
fn plural(kind: &str) -> String {
    match kind {
        k if k.ends_with('s') => format!("{k}es"),
        k if k.ends_with('y') => format!("{}ies", &k[..k.len() - 1]),
        k => format!("{k}s"),
    }
}

/// One message group of one kind: the message, its priority and whether a control-plane Machine
/// reported it (both over every kind, as upstream keys them by message only), the objects (in item
/// order, with their control-plane flag) and those names joined by commas (the last sort key).
struct Group<'a> {
    message: &'a str,
    priority: Priority,
    first: bool,
    names: Vec<(&'a str, bool)>,
    joined: String,
}

/// `aggregateMessages`: per kind (sorted), messages ordered by control-plane first, priority, number
/// of objects, then names; the first `n` shown with up to three names each, the rest counted.
fn aggregate_messages(items: &[(&Item<'_>, Priority)], n: &mut usize, drop_empty: bool, others_text: &[(Priority, &str)]) -> Vec<String> {
    let kept = || items.iter().filter(|(c, _)| !(drop_empty && c.message.is_empty()));
    // The highest priority a message is reported with, and whether a control-plane Machine reports it.
    let mut by_message: Vec<(&str, Priority, bool)> = Vec::new();
    for (c, p) in kept() {
        match by_message.iter_mut().find(|(m, _, _)| *m == c.message) {
            Some(e) => {
                e.1 = e.1.min(*p);
                e.2 |= c.cp_machine;
            }
            None => by_message.push((c.message, *p, c.cp_machine)),
        }
    }
    let mut kinds: Vec<&str> = kept().map(|(c, _)| c.kind).collect();
    kinds.sort_unstable();
    kinds.dedup();
    let mut out = Vec::new();
    for kind in kinds {
        let mut groups: Vec<Group<'_>> = Vec::new();
        for (c, _) in kept().filter(|(c, _)| c.kind == kind) {
            match groups.iter_mut().find(|g| g.message == c.message) {
                Some(g) => g.names.push((c.name, c.cp_machine)),
                None => {
                    let (_, priority, first) =
                        by_message.iter().find(|(m, _, _)| *m == c.message).copied().unwrap_or(("", Priority::Unknown, false));
                    groups.push(Group { message: c.message, priority, first, names: vec![(c.name, c.cp_machine)], joined: String::new() });
                }
            }
        }
        if groups.len() > 1 {
            for g in &mut groups {
                g.joined = g.names.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(",");
            }
            // `sortMessage`: control-plane first, then priority, then more objects, then the names.
            groups.sort_by(|a, b| {
                b.first
                    .cmp(&a.first)
                    .then(a.priority.cmp(&b.priority))
                    .then(b.names.len().cmp(&a.names.len()))
                    .then_with(|| a.joined.cmp(&b.joined))
            });
        }
        let mut others: Vec<(Priority, usize)> = Vec::new();
        for g in &mut groups {
            if *n == 0 {
                match others.iter_mut().find(|(p, _)| *p == g.priority) {
                    Some(e) => e.1 += g.names.len(),
                    None => others.push((g.priority, g.names.len())),
                }
                continue;
            }
            // `sortObj`: control-plane Machines first, then by name.
            g.names.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
            let names: Vec<&str> = g.names.iter().map(|(n, _)| *n).collect();
            let mut line = match names.len() {
                1 => format!("* {kind} {}:", names[0]),
                2 | 3 => format!("* {} {}:", plural(kind), names.join(", ")),
                k => format!("* {} {}, ... ({} more):", plural(kind), names[..3].join(", "), k - 3),
            };
            push_indented(&mut line, g.message);
            out.push(line);
            *n -= 1;
        }
        for (p, text) in others_text {
            match others.iter().find(|(x, _)| x == p).map_or(0, |(_, k)| *k) {
                0 => {}
                1 => out.push(format!("And 1 {kind} {text}")),
                k => out.push(format!("And {k} {} {text}", plural(kind))),
            }
        }
    }
    out
}

/// Whether a line matches CAPI's bullet regexp `\s*\*\s+` (unanchored: any `*` followed by white
/// space, Go's `\s` being `[\t\n\f\r ]`).
fn is_bullet(line: &str) -> bool {
    line.as_bytes().windows(2).any(|w| w[0] == b'*' && matches!(w[1], b' ' | b'\t' | b'\n' | b'\r' | b'\x0c'))
}

/// `indentIfMultiline`: a one-line message follows the colon after a space; bullets and multi-line
/// messages go below it, indented (lines without a bullet get one, and bullets then go one deeper).
pub fn indent_if_multiline(m: &str) -> String {
    let mut out = String::with_capacity(m.len() + 1);
    push_indented(&mut out, m);
    out
}

/// [`indent_if_multiline`] appended to `out`.
fn push_indented(out: &mut String, m: &str) {
    if !(m.contains('\n') || is_bullet(m)) {
        out.push(' ');
        out.push_str(m);
        return;
    }
    let without_bullet = m.split('\n').any(|l| !is_bullet(l));
    for l in m.split('\n') {
        out.push('\n');
        out.push_str(match (without_bullet, is_bullet(l)) {
            (false, _) => "  ",
            (true, true) => "    ",
            (true, false) => "  * ",
        });
        out.push_str(l);
    }
}

/// The condition `type_` of `obj` as a merge item (`getConditionsWithOwnerInfo`), or the
/// `NotYetReported` stand-in with `missing_message`.
pub fn item_of<'a>(obj: &'a Object, type_: &'a str, missing_message: &'a str) -> Item<'a> {
    let cp_machine = obj.kind.name() == "Machine" && obj.label(super::common::keys::CONTROL_PLANE).is_some();
    let (status, reason, message, since_ms) = match conditions::get(obj, type_) {
        // `UnstructuredGet` reports an empty reason as `NoReasonReported`.
        Some(c) => (c.status, if c.reason.is_empty() { NO_REASON_REPORTED } else { c.reason }, c.message, c.since_ms()),
        None => (Status::Unknown, NOT_YET_REPORTED, missing_message, 0),
    };
    Item { kind: obj.kind.name(), name: obj.name(), cp_machine, type_, status, reason, message, since_ms }
}

/// `conditions.NotYetReportedReason`.
pub const NOT_YET_REPORTED: &str = "NotYetReported";
/// `conditions.NoReasonReported`.
pub const NO_REASON_REPORTED: &str = "NoReasonReported";

/// `NewAggregateCondition(objs, source, TargetConditionType(target), ...)`: one condition over
/// objects (missing ones count as Unknown `Condition <type> not yet reported`). `negative` marks the
/// source as negative polarity (the target then is too).
pub fn aggregate(objs: &[&Object], source: &str, target: &str, negative: bool, reasons: (&str, &str, &str)) -> Cond {
    // The steady state, without building the merge: every object reports the condition with the
    // info status and no message, so the outcome is the info one and `aggregateMessages`, which
    // drops empty info messages, leaves the message empty.
    let info = if negative { Status::False } else { Status::True };
    if !objs.is_empty() && objs.iter().all(|o| conditions::get(o, source).is_some_and(|c| c.status == info && c.message.is_empty())) {
        return Cond::new(target, info, reasons.2, String::new());
    }
    let neg: &[&str] = if negative { &[source] } else { &[] };
    let missing = format!("Condition {source} not yet reported");
    let items: Vec<Item<'_>> = objs.iter().map(|o| item_of(o, source, &missing)).collect();
    let reasons = Reasons { issue: reasons.0, unknown: reasons.1, info: reasons.2 };
    let (status, reason, message) = merge(Op::Aggregate, items, &[source], &|i| default_priority(neg, i), !negative, reasons, None);
    Cond::new(target, status, reason, message)
}

/// `NewAggregateCondition` with `DefaultMergeStrategy` over items the caller built (it adds
/// `Condition X not yet reported` Unknown items for objects without the condition). `positive` is
/// the target's polarity.
pub fn aggregate_items<'r>(
    items: Vec<Item<'_>>,
    priority: &dyn Fn(&Item<'_>) -> Priority,
    reasons: Reasons<'r>,
    positive: bool,
) -> (Status, &'r str, String) {
    let types: Vec<&str> = items.first().map(|i| i.type_).into_iter().collect();
    merge(Op::Aggregate, items, &types, priority, positive, reasons, None)
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
    priority: &dyn Fn(&Item<'_>) -> Priority,
    reasons: (&str, &str, &str),
) -> Cond {
    let mut items = Vec::with_capacity(types.len());
    for t in types {
        if let Some(c) = conds.iter().find(|c| c.type_ == *t) {
            items.push(Item { cp_machine: false, ..Item::of(obj.kind.name(), obj.name(), c, 0) });
        } else if conditions::get(obj, t).is_some() {
            items.push(item_of(obj, t, ""));
        } else if !ignore_if_missing.contains(t) {
            items.push(item_of(obj, t, "Condition not yet reported"));
        }
    }
    let reasons = Reasons { issue: reasons.0, unknown: reasons.1, info: reasons.2 };
    let (status, reason, message) = merge(Op::Summary, items, types, priority, true, reasons, None);
    Cond::new(target, status, reason, message)
}

/// `NewSummaryCondition` with `DefaultMergeStrategy` over items the caller built (missing ones
/// added as `NotYetReported`): sorted by `order` then lastTransitionTime; `transform` is
/// `SummaryMessageTransformFunc`. The target has positive polarity.
pub fn summary_items<'r>(
    items: Vec<Item<'_>>,
    order: &[&str],
    priority: &dyn Fn(&Item<'_>) -> Priority,
    reasons: Reasons<'r>,
    transform: Option<Transform<'_>>,
) -> (Status, &'r str, String) {
    merge(Op::Summary, items, order, priority, true, reasons, transform)
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

    fn item(name: &'static str, status: Status, msg: &'static str) -> Item<'static> {
        Item { kind: "Machine", name, cp_machine: false, type_: "Ready", status, reason: "R", message: msg, since_ms: 0 }
    }

    /// `util/conditions/merge_strategies_test.go: TestIndentIfMultiline` (one line, bullets, mixed).
    #[rstest::rstest]
    #[case("foo", " foo")]
    #[case("plain", " plain")]
    #[case("* foo", "\n  * foo")]
    #[case("* foo\n* bar", "\n  * foo\n  * bar")]
    #[case("foo\n* bar", "\n  * foo\n    * bar")]
    #[case("head\n* a", "\n  * head\n    * a")]
    #[case("", " ")]
    fn indent_if_multiline_as_upstream(#[case] message: &str, #[case] want: &str) {
        assert_eq!(indent_if_multiline(message), want);
    }

    /// `util/conditions/merge_strategies_test.go: TestAggregateMessages` (more than three groups:
    /// the rest are counted, issues before unknowns).
    #[test]
    fn aggregate_counts_what_it_does_not_list() {
        let items = vec![
            item("m1", Status::False, "a"),
            item("m2", Status::False, "b"),
            item("m3", Status::False, "c"),
            item("m4", Status::False, "d"),
            item("m5", Status::Unknown, "e"),
            item("m6", Status::False, "a"),
            item("m7", Status::True, ""),
        ];
        let (s, r, m) = aggregate_items(items, &|i| default_priority(&[], i), GENERIC, true);
        assert_eq!((s, r), (Status::False, "IssuesReported"));
        assert_eq!(
            m,
            "* Machines m1, m6: a\n* Machine m2: b\n* Machine m3: c\nAnd 1 Machine with other issues\nAnd 1 Machine with status unknown"
        );
    }

    /// Control-plane Machines go first, among the groups and among the names; more than three names
    /// are cut with a count.
    #[test]
    fn aggregate_puts_control_plane_machines_first() {
        let mut items = vec![
            item("w1", Status::False, "x"),
            item("w2", Status::False, "x"),
            item("w3", Status::False, "x"),
            item("w4", Status::False, "x"),
            item("cp2", Status::False, "y"),
            item("w0", Status::False, "y"),
        ];
        items[4].cp_machine = true;
        let (_, _, m) = aggregate_items(items, &|i| default_priority(&[], i), GENERIC, true);
        assert_eq!(m, "* Machines cp2, w0: y\n* Machines w1, w2, w3, ... (1 more): x");
    }

    /// A summary lists issues and unknowns (the reason when there is no message) and drops info
    /// conditions unless the result is True.
    #[test]
    fn summary_lists_what_is_not_fine() {
        let mut a = item("m", Status::False, "");
        a.type_ = "A";
        let mut b = item("m", Status::Unknown, "* x\n* y");
        b.type_ = "B";
        let mut c = item("m", Status::True, "fine");
        c.type_ = "C";
        let (s, r, m) = summary_items(vec![c, b, a], &["A", "B", "C"], &|i| default_priority(&[], i), GENERIC, None);
        assert_eq!((s, r), (Status::False, "IssuesReported"));
        assert_eq!(m, "* A: R\n* B:\n  * x\n  * y");
    }
}

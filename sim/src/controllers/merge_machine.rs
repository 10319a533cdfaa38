//! CAPI's condition merge strategies (`util/conditions/merge_strategies.go`, `summary.go`,
//! `aggregate.go`), restated: the summary of several conditions of one object (a Machine's `Ready`)
//! and the aggregation of one condition across many objects (a MachineSet's `MachinesReady`), with
//! upstream's exact messages: `* Type: message` lines for a summary, `* Machines a, b, c, ... (N
//! more): message` groups (at most three) and `And N Machines with other issues` for an aggregate,
//! and `indentIfMultiline` for messages that are lists themselves.
//!
//! Used by the Machine, MachineSet and MachineDeployment controllers; any controller may use it.

use super::conditions::{Cond, Status};

/// `MergePriority`: issues first, then unknown, then info.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Priority {
    /// `IssueMergePriority`.
    Issue,
    /// `UnknownMergePriority`.
    Unknown,
    /// `InfoMergePriority`.
    Info,
}

/// `ConditionWithOwnerInfo`: a condition and the object it was read from.
#[derive(Clone, Debug)]
pub struct Item {
    /// Owner kind (`Machine`).
    pub kind: String,
    /// Owner name.
    pub name: String,
    /// A Machine with the control-plane label (its messages and name go first).
    pub control_plane: bool,
    /// Condition type.
    pub type_: String,
    /// Status.
    pub status: Status,
    /// Reason.
    pub reason: String,
    /// Message.
    pub message: String,
    /// lastTransitionTime (ties in the summary order).
    pub since_ms: u64,
}

impl Item {
    /// An item from a condition to be set on (or read from) `kind`/`name`.
    pub fn of(kind: &str, name: &str, c: &Cond, since_ms: u64) -> Item {
        Item {
            kind: kind.to_string(),
            name: name.to_string(),
            control_plane: false,
            type_: c.type_.clone(),
            status: c.status,
            reason: c.reason.clone(),
            message: c.message.clone(),
            since_ms,
        }
    }
}

/// `GetDefaultMergePriorityFunc(negativePolarityConditionTypes...)`.
pub fn default_priority(item: &Item, negative: &[&str]) -> Priority {
    let neg = negative.contains(&item.type_.as_str());
    match item.status {
        Status::True if neg => Priority::Issue,
        Status::True => Priority::Info,
        Status::False if neg => Priority::Info,
        Status::False => Priority::Issue,
        Status::Unknown => Priority::Unknown,
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

/// Go's `regexp.MustCompile(`\s*\*\s+`).MatchString`: unanchored, so any `*` followed by white space.
fn has_bullet(s: &str) -> bool {
    let b = s.as_bytes();
    b.windows(2).any(|w| w[0] == b'*' && matches!(w[1], b' ' | b'\t' | b'\n' | b'\r' | b'\x0c'))
}

/// `indentIfMultiline`: ` message` for a one-line message, else a newline and every line indented
/// by two spaces; when some line is not a bullet, bullet lines get two more spaces and the others a
/// `* ` of their own.
pub fn indent_if_multiline(m: &str) -> String {
    if !(m.contains('\n') || has_bullet(m)) {
        return format!(" {m}");
    }
    let lines: Vec<&str> = m.split('\n').collect();
    let without_bullet = lines.iter().any(|l| !has_bullet(l));
    let out: Vec<String> = lines
        .iter()
        .map(|l| {
            let prefix = match (without_bullet, has_bullet(l)) {
                (false, _) => "  ",
                (true, true) => "    ",
                (true, false) => "  * ",
            };
            format!("{prefix}{l}")
        })
        .collect();
    format!("\n{}", out.join("\n"))
}

fn status_of(issues: usize, unknown: usize, positive: bool) -> Status {
    match (issues > 0, unknown > 0, positive) {
        (true, _, true) => Status::False,
        (true, _, false) => Status::True,
        (false, true, _) => Status::Unknown,
        (false, false, true) => Status::True,
        (false, false, false) => Status::False,
    }
}

fn reason_of(r: Reasons<'_>, issues: usize, unknown: usize) -> String {
    if issues > 0 {
        r.issue.to_string()
    } else if unknown > 0 {
        r.unknown.to_string()
    } else {
        r.info.to_string()
    }
}

/// `NewSummaryCondition` with `DefaultMergeStrategy`: `items` are the object's conditions of the
/// types in `order` (missing ones are added by the caller as `NotYetReported`); sorted by `order`
/// then lastTransitionTime; info conditions are listed only when the result is True and they say
/// something. `transform` is `SummaryMessageTransformFunc`. The target has positive polarity.
pub fn summary(
    mut items: Vec<Item>,
    order: &[&str],
    priority: &dyn Fn(&Item) -> Priority,
    reasons: Reasons<'_>,
    transform: Option<&dyn Fn(Vec<String>) -> Vec<String>>,
) -> (Status, String, String) {
    let pos = |t: &str| order.iter().position(|x| *x == t).unwrap_or(0);
    items.sort_by(|a, b| pos(&a.type_).cmp(&pos(&b.type_)).then(a.since_ms.cmp(&b.since_ms)));
    let issues = items.iter().filter(|i| priority(i) == Priority::Issue).count();
    let unknown = items.iter().filter(|i| priority(i) == Priority::Unknown).count();
    let status = status_of(issues, unknown, true);
    let mut messages = Vec::new();
    for i in &items {
        if priority(i) == Priority::Info && (status != Status::True || i.message.is_empty()) {
            continue;
        }
        let body = if i.message.is_empty() { format!(" {}", i.reason) } else { indent_if_multiline(&i.message) };
        messages.push(format!("* {}:{body}", i.type_));
    }
    if let Some(f) = transform {
        messages = f(messages);
    }
    (status, reason_of(reasons, issues, unknown), messages.join("\n"))
}

/// `NewAggregateCondition` with `DefaultMergeStrategy`: one condition type across objects (the
/// caller adds `Condition X not yet reported` Unknown items for objects without it). `positive` is
/// the target's polarity.
pub fn aggregate(items: &[Item], priority: &dyn Fn(&Item) -> Priority, reasons: Reasons<'_>, positive: bool) -> (Status, String, String) {
    let issues: Vec<&Item> = items.iter().filter(|i| priority(i) == Priority::Issue).collect();
    let unknown: Vec<&Item> = items.iter().filter(|i| priority(i) == Priority::Unknown).collect();
    let info: Vec<&Item> = items.iter().filter(|i| priority(i) == Priority::Info).collect();
    let status = status_of(issues.len(), unknown.len(), positive);
    let mut n = 3usize;
    let messages = if !issues.is_empty() || !unknown.is_empty() {
        let mut both = issues.clone();
        both.extend(unknown.iter().copied());
        aggregate_messages(
            &both,
            &mut n,
            false,
            priority,
            &[(Priority::Issue, "with other issues"), (Priority::Unknown, "with status unknown")],
        )
    } else {
        aggregate_messages(&info, &mut n, true, priority, &[(Priority::Info, "with additional info")])
    };
    (status, reason_of(reasons, issues.len(), unknown.len()), messages.join("\n"))
}

/// `flect.Pluralize` for the kinds CAPI aggregates.
fn plural(kind: &str) -> String {
    match kind {
        k if k.ends_with('s') => format!("{k}es"),
        k if k.ends_with('y') => format!("{}ies", &k[..k.len() - 1]),
        k => format!("{k}s"),
    }
}

/// One message group: the message, its priority, whether a control-plane Machine reported it, and
/// the objects (in the order met).
struct Group<'a> {
    message: &'a str,
    priority: Priority,
    first: bool,
    names: Vec<(&'a str, bool)>,
}

/// `aggregateMessages`.
fn aggregate_messages(
    items: &[&Item],
    n: &mut usize,
    drop_empty: bool,
    priority: &dyn Fn(&Item) -> Priority,
    other_messages: &[(Priority, &str)],
) -> Vec<String> {
    let mut kinds: Vec<&str> = items.iter().map(|i| i.kind.as_str()).collect();
    kinds.sort();
    kinds.dedup();
    let mut out = Vec::new();
    // The priority of a message is the worst among every kind (upstream keys it by message only).
    let mut prio_of: Vec<(&str, Priority, bool)> = Vec::new();
    for i in items.iter().filter(|i| !(drop_empty && i.message.is_empty())) {
        let p = priority(i);
        match prio_of.iter_mut().find(|(m, _, _)| *m == i.message) {
            Some(e) => {
                e.1 = e.1.min(p);
                e.2 |= i.control_plane;
            }
            None => prio_of.push((&i.message, p, i.control_plane)),
        }
    }
    for kind in kinds {
        let mut groups: Vec<Group<'_>> = Vec::new();
        for i in items.iter().filter(|i| i.kind == kind && !(drop_empty && i.message.is_empty())) {
            match groups.iter_mut().find(|g| g.message == i.message) {
                Some(g) => g.names.push((&i.name, i.control_plane)),
                None => {
                    let (_, p, first) = prio_of.iter().find(|(m, _, _)| *m == i.message).copied().unwrap_or(("", Priority::Unknown, false));
                    groups.push(Group { message: &i.message, priority: p, first, names: vec![(&i.name, i.control_plane)] })
                }
            }
        }
        // `sortMessage`: control-plane first, then priority, then more objects, then the names.
        groups.sort_by(|a, b| {
            b.first
                .cmp(&a.first)
                .then(a.priority.cmp(&b.priority))
                .then(b.names.len().cmp(&a.names.len()))
                .then_with(|| join_names(&a.names).cmp(&join_names(&b.names)))
        });
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
            let head = match names.len() {
                1 => format!("* {kind} {}:", names[0]),
                2 | 3 => format!("* {} {}:", plural(kind), names.join(", ")),
                k => format!("* {} {}, ... ({} more):", plural(kind), names[..3].join(", "), k - 3),
            };
            out.push(format!("{head}{}", indent_if_multiline(g.message)));
            *n -= 1;
        }
        for p in [Priority::Issue, Priority::Unknown, Priority::Info] {
            let Some((_, count)) = others.iter().find(|(x, _)| *x == p) else { continue };
            let Some((_, text)) = other_messages.iter().find(|(x, _)| *x == p) else { continue };
            match count {
                1 => out.push(format!("And 1 {kind} {text}")),
                c if *c > 1 => out.push(format!("And {c} {} {text}", plural(kind))),
                _ => {}
            }
        }
    }
    out
}

fn join_names(names: &[(&str, bool)]) -> String {
    names.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(name: &str, status: Status, msg: &str) -> Item {
        Item {
            kind: "Machine".into(),
            name: name.into(),
            control_plane: false,
            type_: "Ready".into(),
            status,
            reason: "R".into(),
            message: msg.into(),
            since_ms: 0,
        }
    }

    /// `util/conditions/merge_strategies_test.go: TestIndentIfMultiline` (one line, bullets, mixed).
    #[test]
    fn indent_if_multiline_as_upstream() {
        assert_eq!(indent_if_multiline("foo"), " foo");
        assert_eq!(indent_if_multiline("* foo"), "\n  * foo");
        assert_eq!(indent_if_multiline("* foo\n* bar"), "\n  * foo\n  * bar");
        assert_eq!(indent_if_multiline("foo\n* bar"), "\n  * foo\n    * bar");
        assert_eq!(indent_if_multiline(""), " ");
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
        let (s, r, m) = aggregate(&items, &|i| default_priority(i, &[]), GENERIC, true);
        assert_eq!((s, r.as_str()), (Status::False, "IssuesReported"));
        assert_eq!(
            m,
            "* Machines m1, m6: a\n* Machine m2: b\n* Machine m3: c\nAnd 1 Machine with other issues\nAnd 1 Machine with status unknown"
        );
    }
}

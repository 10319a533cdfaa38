//! Printing the object tree as rows: what each row counts (`newRowDescriptor`), the tree prefixes,
//! condition rows of `--show-conditions` (zero conditions left out) and multi-line messages.
//! Source: `internal/util/tree/tree.go` (`newRowDescriptor`, `getChildPrefix`,
//! `getRootMultiLineObjectPrefix`, `conditionIsZero`, `addObjectRow`, `addOtherConditions`).

use super::object_tree::{Tree, What};
use super::read::{cond, conditions, int, is_true, key_conditions, kind, Cond};
use super::text::{format_paragraph, human_duration};
use super::{Row, ShowConditions};

/// `newRowDescriptor`.
fn describe_row(t: &Tree<'_>, i: usize) -> Row {
    let mut r = Row::default();
    let shown = |r: &mut Row, c: Option<Cond>| {
        if let Some(c) = c {
            r.status = c.status;
            r.reason = c.reason;
            r.since = human_duration(t.opts.now_unix_ms, c.since_ms);
            r.message = format_paragraph(&c.message, 100);
        }
    };
    let opt = |v: Option<i64>| v.map(|n| n.to_string()).unwrap_or_default();
    match &t.nodes[i].what {
        What::Object { obj, control_plane, .. } => match kind(obj) {
            "Cluster" => {
                let f = |p: &str| [int(obj, &format!("/status/controlPlane/{p}")), int(obj, &format!("/status/workers/{p}"))];
                let sum = |v: [Option<i64>; 2]| (v[0].is_some() || v[1].is_some()).then(|| v[0].unwrap_or(0) + v[1].unwrap_or(0));
                let (desired, current) = (f("desiredReplicas"), f("replicas"));
                if desired.iter().chain(current.iter()).any(Option::is_some) {
                    r.replicas = format!("{}/{}", sum(current).unwrap_or(0), sum(desired).unwrap_or(0));
                }
                r.available = opt(sum(f("availableReplicas")));
                r.ready = opt(sum(f("readyReplicas")));
                r.up_to_date = opt(sum(f("upToDateReplicas")));
                shown(&mut r, cond(obj, "Available"));
            }
            "MachineDeployment" | "MachineSet" => {
                if let Some(d) = int(obj, "/spec/replicas") {
                    r.replicas = format!("{}/{d}", int(obj, "/status/replicas").unwrap_or(0));
                }
                r.available = opt(int(obj, "/status/availableReplicas"));
                r.ready = opt(int(obj, "/status/readyReplicas"));
                r.up_to_date = opt(int(obj, "/status/upToDateReplicas"));
                if kind(obj) == "MachineDeployment" {
                    shown(&mut r, cond(obj, "Available"));
                }
            }
            "Machine" => {
                let [a, ready, u] = key_conditions(obj);
                r.replicas = "1".into();
                r.available = usize::from(is_true(&a)).to_string();
                r.ready = usize::from(is_true(&ready)).to_string();
                r.up_to_date = usize::from(is_true(&u)).to_string();
                shown(&mut r, ready);
            }
            "MachinePool" => {}
            _ => {
                shown(&mut r, cond(obj, "Ready"));
                if *control_plane {
                    if let Some(a) = cond(obj, "Available") {
                        shown(&mut r, Some(a));
                    }
                    if let (Some(c), Some(d)) = (int(obj, "/status/replicas"), int(obj, "/spec/replicas")) {
                        r.replicas = format!("{c}/{d}");
                    }
                    r.available = opt(int(obj, "/status/availableReplicas"));
                    r.ready = opt(int(obj, "/status/readyReplicas"));
                    r.up_to_date = opt(int(obj, "/status/upToDateReplicas"));
                }
            }
        },
        What::Virtual(_) => {}
        What::Group { items, conds, counts, .. } => {
            r.available = counts[0].to_string();
            r.ready = counts[1].to_string();
            r.up_to_date = counts[2].to_string();
            shown(&mut r, conds[1].clone());
            r.message = if items.len() <= 2 { format!("See {}", items.join(", ")) } else { format!("See {}, ...", items[..2].join(", ")) };
        }
    }
    r
}

const FIRST: &str = "├─";
const LAST: &str = "└─";
const PIPE: &str = "│ ";
const INDENT: &str = "  ";

/// `getChildPrefix`.
fn child_prefix(current: &str, index: usize, count: usize) -> String {
    let next = current.replace(FIRST, PIPE).replace(LAST, INDENT);
    format!("{next}{}", if index + 1 < count { FIRST } else { LAST })
}

/// Conditions whose normal state is False.
const NEGATIVE_POLARITY: [&str; 7] = ["Paused", "Deleting", "RollingOut", "ScalingUp", "ScalingDown", "Updating", "Remediating"];

/// `conditionIsZero`: in its normal state and saying nothing.
fn condition_is_zero(c: &Cond) -> bool {
    let positive = !NEGATIVE_POLARITY.contains(&c.type_.as_str());
    match c.status.as_str() {
        "False" if positive => false,
        "Unknown" => false,
        "True" if !positive => false,
        _ => c.message.is_empty(),
    }
}

fn push_message_rows(rows: &mut Vec<Row>, mut first: Row, message: &str, continuation_prefix: &str) {
    let mut lines = message.split('\n');
    first.message = lines.next().unwrap_or("").to_string();
    rows.push(first);
    for l in lines {
        rows.push(Row { name: continuation_prefix.to_string(), message: l.to_string(), ..Default::default() });
    }
}

/// The prefix of a main row's message continuation lines (`getRootMultiLineObjectPrefix`).
fn multiline_prefix(t: &Tree<'_>, i: usize, last_in_tree: usize) -> String {
    if i == last_in_tree {
        return String::new();
    }
    let mut prefix = if t.nodes[i].children.is_empty() { String::new() } else { PIPE.to_string() };
    let mut cur = i;
    while let Some(p) = t.nodes[cur].parent {
        let siblings = t.children(p);
        let is_last = siblings.last() == Some(&cur);
        prefix = format!("{}{prefix}", if !siblings.is_empty() && !is_last { PIPE } else { INDENT });
        cur = p;
    }
    prefix
}

pub(super) fn add_rows(t: &Tree<'_>, i: usize, prefix: &str, last_in_tree: usize, rows: &mut Vec<Row>) {
    let mut row = describe_row(t, i);
    let show = t.nodes[i].show;
    if show != ShowConditions::None {
        row.status.clear();
        row.reason.clear();
        row.since.clear();
        row.message.clear();
    }
    row.name = format!("{prefix}{}", t.row_name(i));
    let message = std::mem::take(&mut row.message);
    push_message_rows(rows, row, &message, &multiline_prefix(t, i, last_in_tree));
    if let (What::Object { obj, .. }, true) = (&t.nodes[i].what, show != ShowConditions::None) {
        let all = conditions(obj);
        let shown: Vec<&Cond> = all
            .iter()
            .filter(|c| show == ShowConditions::All || c.type_ == "Available" || c.type_ == "Ready" || !condition_is_zero(c))
            .collect();
        let pipe = if t.nodes[i].children.is_empty() { INDENT } else { PIPE };
        let base = format!("{prefix}{pipe}{}", " ".repeat(10));
        for (k, c) in shown.iter().enumerate() {
            let p = child_prefix(&base, k, shown.len());
            let cont = match p.strip_suffix(FIRST) {
                Some(stem) => format!("{stem}{PIPE}"),
                None => p.strip_suffix(LAST).unwrap_or(&p).to_string(),
            };
            let r = Row {
                name: format!("{p}{}", c.type_),
                status: c.status.clone(),
                reason: c.reason.clone(),
                since: human_duration(t.opts.now_unix_ms, c.since_ms),
                ..Default::default()
            };
            push_message_rows(rows, r, &format_paragraph(&c.message, 100), &cont);
        }
    }
    let children = t.children(i);
    for (k, &c) in children.iter().enumerate() {
        add_rows(t, c, &child_prefix(prefix, k, children.len()), last_in_tree, rows);
    }
}

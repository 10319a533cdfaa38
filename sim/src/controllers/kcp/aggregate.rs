//! CAPI's two ways of rolling Machine conditions up to the KCP, with their message formats:
//! the generic aggregate of one condition over many objects (`MachinesReady`, `MachinesUpToDate`,
//! `Remediating`), and KCP's own roll-up of the component / etcd conditions
//! (`ControlPlaneComponentsHealthy`, `EtcdClusterHealthy`).
//! Sources: `util/conditions/{aggregate.go,merge_strategies.go}`,
//! `controlplane/kubeadm/pkg/workload_cluster_conditions.go` (`aggregateConditionsFromMachinesToKCP`).

use crate::controllers::conditions::{self, Cond, Status};
use crate::object::Object;
use std::collections::{BTreeMap, BTreeSet};

/// Merge priority of a condition (issue < unknown < info).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Priority {
    Issue,
    Unknown,
    Info,
}

fn priority(status: Status) -> Priority {
    match status {
        Status::True => Priority::Info,
        Status::False => Priority::Issue,
        Status::Unknown => Priority::Unknown,
    }
}

/// `conditions.NewAggregateCondition` of one (positive-polarity) condition over Machines, with the
/// reasons for the issue / unknown / info outcomes. `objs` must not be empty.
pub fn aggregate(objs: &[&Object], source: &str, target: &str, reasons: (&str, &str, &str)) -> Cond {
    // (priority, message, machine, lastTransitionTime)
    let mut items: Vec<(Priority, String, String, u64)> = objs
        .iter()
        .map(|o| match conditions::get(o, source) {
            Some(c) => (priority(c.status), c.message.to_string(), o.name().to_string(), c.since_ms()),
            None => (Priority::Unknown, format!("Condition {source} not yet reported"), o.name().to_string(), 0),
        })
        .collect();
    items.sort_by_key(|i| i.3);
    let has_issue = items.iter().any(|i| i.0 == Priority::Issue);
    let has_unknown = items.iter().any(|i| i.0 == Priority::Unknown);
    let (status, reason) = if has_issue {
        (Status::False, reasons.0)
    } else if has_unknown {
        (Status::Unknown, reasons.1)
    } else {
        (Status::True, reasons.2)
    };
    let mut n = 3usize;
    let messages = if has_issue || has_unknown {
        let selected: Vec<_> = items.iter().filter(|i| i.0 != Priority::Info).cloned().collect();
        aggregate_messages(&selected, &mut n, false, &[(Priority::Issue, "with other issues"), (Priority::Unknown, "with status unknown")])
    } else {
        aggregate_messages(&items, &mut n, true, &[(Priority::Info, "with additional info")])
    };
    Cond::new(target, status, reason, messages.join("\n"))
}

fn aggregate_messages(
    items: &[(Priority, String, String, u64)],
    n: &mut usize,
    drop_empty: bool,
    others_text: &[(Priority, &str)],
) -> Vec<String> {
    let mut by_message: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut prio: BTreeMap<String, Priority> = BTreeMap::new();
    for (p, m, name, _) in items {
        if drop_empty && m.is_empty() {
            continue;
        }
        by_message.entry(m.clone()).or_default().push(name.clone());
        let e = prio.entry(m.clone()).or_insert(*p);
        if *p < *e {
            *e = *p;
        }
    }
    let mut order: Vec<String> = by_message.keys().cloned().collect();
    for names in by_message.values_mut() {
        names.sort();
    }
    order.sort_by(|a, b| {
        prio[a]
            .cmp(&prio[b])
            .then_with(|| by_message[b].len().cmp(&by_message[a].len()))
            .then_with(|| by_message[a].join(",").cmp(&by_message[b].join(",")))
    });
    let mut out = Vec::new();
    let mut others: BTreeMap<Priority, usize> = BTreeMap::new();
    for m in &order {
        let names = &by_message[m];
        if *n == 0 {
            *others.entry(prio[m]).or_default() += names.len();
            continue;
        }
        let head = match names.len() {
            1 => format!("* Machine {}:", names[0]),
            2 | 3 => format!("* Machines {}:", names.join(", ")),
            k => format!("* Machines {}, ... ({} more):", names[..3].join(", "), k - 3),
        };
        out.push(format!("{head}{}", indent_if_multiline(m)));
        *n -= 1;
    }
    for (p, text) in others_text {
        match others.get(p).copied().unwrap_or(0) {
            0 => {}
            1 => out.push(format!("And 1 Machine {text}")),
            k => out.push(format!("And {k} Machines {text}")),
        }
    }
    out
}

fn is_bullet(line: &str) -> bool {
    // CAPI's regexp `\s*\*\s+` matches anywhere in the line.
    let b = line.as_bytes();
    b.iter().enumerate().any(|(i, c)| *c == b'*' && b.get(i + 1).is_some_and(|n| n.is_ascii_whitespace()))
}

/// `indentIfMultiline`: a one-line message follows the colon; bullets and multi-line messages are
/// indented below it.
pub fn indent_if_multiline(m: &str) -> String {
    if !(m.contains('\n') || is_bullet(m)) {
        return format!(" {m}");
    }
    let lines: Vec<&str> = m.split('\n').collect();
    let without_bullet = lines.iter().any(|l| !is_bullet(l));
    let indented: Vec<String> = lines
        .iter()
        .map(|l| {
            let prefix = if without_bullet {
                if is_bullet(l) {
                    "    "
                } else {
                    "  * "
                }
            } else {
                "  "
            };
            format!("{prefix}{l}")
        })
        .collect();
    format!("\n{}", indented.join("\n"))
}

/// `aggregateConditionsFromMachinesToKCP`: any Machine with a False condition (or a KCP-level error)
/// → False; else any Unknown on a Machine with a providerID → Unknown; else True when a Machine
/// reported; else Unknown "No Machines reporting <note> status".
pub fn roll_up(machines: &[&Object], types: &[&str], kcp_errors: &[String], target: &str, reasons: (&str, &str, &str), note: &str) -> Cond {
    let (true_reason, false_reason, unknown_reason) = reasons;
    let mut with_errors = BTreeSet::new();
    let mut with_unknown = BTreeSet::new();
    let mut with_info = BTreeSet::new();
    let mut message_map: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for m in machines {
        let mut lines = Vec::new();
        let mut count = 0;
        let mut distinct = BTreeSet::new();
        for t in types {
            let Some(c) = conditions::get(m, t) else { continue };
            count += 1;
            distinct.insert(c.message.to_string());
            let text = if c.message.is_empty() { format!("condition is {}", c.status.as_str()) } else { c.message.to_string() };
            match c.status {
                Status::True => {
                    with_info.insert(m.name().to_string());
                }
                Status::False => {
                    with_errors.insert(m.name().to_string());
                    lines.push(format!("  * {t}: {text}"));
                }
                Status::Unknown => {
                    if super::scope::provider_id(m).is_empty() {
                        with_info.insert(m.name().to_string());
                    } else {
                        with_unknown.insert(m.name().to_string());
                        lines.push(format!("  * {t}: {text}"));
                    }
                }
            }
        }
        if !lines.is_empty() {
            let key = if count > 1 && distinct.len() == 1 {
                format!("  * Control plane components: {}", distinct.iter().next().expect("one"))
            } else {
                lines.join("\n")
            };
            message_map.entry(key).or_default().push(m.name().to_string());
        }
    }
    let mut order: Vec<String> = message_map.keys().cloned().collect();
    order.sort_by(|a, b| {
        message_map[b].len().cmp(&message_map[a].len()).then_with(|| message_map[a].join(",").cmp(&message_map[b].join(",")))
    });
    let mut messages = Vec::new();
    for m in &order {
        let mut names = message_map[m].clone();
        names.sort();
        let shown = if names.len() > 3 { format!("{}, ... ({} more)", names[..3].join(", "), names.len() - 3) } else { names.join(", ") };
        let noun = if names.len() > 1 { "Machines" } else { "Machine" };
        messages.push(format!("* {noun} {shown}:\n{m}"));
    }
    for e in kcp_errors {
        messages.push(format!("* {e}"));
    }
    let message = messages.join("\n");
    if !kcp_errors.is_empty() || !with_errors.is_empty() {
        return Cond::new(target, Status::False, false_reason, message);
    }
    if !with_unknown.is_empty() {
        return Cond::new(target, Status::Unknown, unknown_reason, message);
    }
    if !with_info.is_empty() {
        return Cond::t(target, true_reason);
    }
    Cond::new(target, Status::Unknown, unknown_reason, format!("No Machines reporting {note} status"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::Kind;
    use serde_json::json;

    fn m(name: &str, conds: &[(&str, Status, &str)], provider: bool) -> Object {
        let mut o = Object::new(Kind::Machine, "default", name);
        if provider {
            o.set("/spec/providerID", json!(format!("docker:////{name}")));
        }
        conditions::set(&mut o, conds.iter().map(|(t, s, msg)| Cond::new(t, *s, "R", *msg)), 0);
        o
    }

    #[test]
    fn aggregate_groups_machines_by_message() {
        let a = m("a", &[("Ready", Status::False, "* NodeHealthy: not ready")], true);
        let b = m("b", &[("Ready", Status::False, "* NodeHealthy: not ready")], true);
        let c = m("c", &[("Ready", Status::True, "")], true);
        let got = aggregate(&[&a, &b, &c], "Ready", "MachinesReady", ("NotReady", "ReadyUnknown", "Ready"));
        assert_eq!(got.status, Status::False);
        assert_eq!(got.reason, "NotReady");
        assert_eq!(got.message, "* Machines a, b:\n  * NodeHealthy: not ready");
        let ok = aggregate(&[&c], "Ready", "MachinesReady", ("NotReady", "ReadyUnknown", "Ready"));
        assert_eq!((ok.status, ok.reason.as_str(), ok.message.as_str()), (Status::True, "Ready", ""));
    }

    #[test]
    fn roll_up_ignores_unknown_before_provider_id() {
        let a = m("a", &[("APIServerPodHealthy", Status::Unknown, "waiting")], false);
        let got = roll_up(
            &[&a],
            &["APIServerPodHealthy"],
            &[],
            "ControlPlaneComponentsHealthy",
            ("Healthy", "NotHealthy", "HealthUnknown"),
            "control plane",
        );
        assert_eq!(got.status, Status::True);
        let b = m("b", &[("APIServerPodHealthy", Status::False, "Pod does not exist")], true);
        let got = roll_up(
            &[&a, &b],
            &["APIServerPodHealthy"],
            &[],
            "ControlPlaneComponentsHealthy",
            ("Healthy", "NotHealthy", "HealthUnknown"),
            "control plane",
        );
        assert_eq!(got.status, Status::False);
        assert_eq!(got.message, "* Machine b:\n  * APIServerPodHealthy: Pod does not exist");
        let none = roll_up(&[], &["APIServerPodHealthy"], &[], "X", ("Healthy", "NotHealthy", "HealthUnknown"), "control plane");
        assert_eq!(none.message, "No Machines reporting control plane status");
    }
}

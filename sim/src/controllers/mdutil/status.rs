//! What the MachineDeployment and MachineSet status share: aggregating a Machine condition into
//! `MachinesReady` / `MachinesUpToDate` / `Remediating` (CAPI's default merge strategy: issues first,
//! then unknown; at most three message groups of at most three names), the stale-deletion and
//! unhealthy-Machine messages, and `status.versions`.
//! Sources: `util/conditions/merge_strategies.go`, `internal/util/version/version.go`,
//! `core/reconcilers/machineset/machineset_controller_status.go`.

use crate::controllers::conditions::{self, Cond, Status};
use crate::object::Object;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Reasons of an aggregated condition: (all True, some False, some Unknown).
pub type Reasons<'a> = (&'a str, &'a str, &'a str);

fn indent_if_multiline(m: &str) -> String {
    if m.contains('\n') || m.starts_with("* ") {
        let lines: Vec<String> = m.lines().map(|l| format!("  {l}")).collect();
        format!("\n{}", lines.join("\n"))
    } else if m.is_empty() {
        String::new()
    } else {
        format!(" {m}")
    }
}

/// Aggregate one condition type over Machines (CAPI's `NewAggregateCondition` with the default merge
/// strategy): any False → False, else any Unknown (or missing) → Unknown, else True; the message
/// groups Machines by message (issues first, then unknown; at most 3 groups, 3 names each).
pub fn aggregate_machines(machines: &[&Object], src: &str, target: &str, reasons: Reasons<'_>, negative: bool) -> Cond {
    // (priority 0 issue / 1 unknown / 2 info, message) → names
    let mut groups: BTreeMap<(u8, String), Vec<String>> = BTreeMap::new();
    let mut worst = 2u8;
    for m in machines {
        let (prio, msg) = match conditions::get(m, src) {
            Some(c) => {
                let issue = if negative { c.status == Status::True } else { c.status == Status::False };
                let p = if issue {
                    0
                } else if c.status == Status::Unknown {
                    1
                } else {
                    2
                };
                (p, c.message.to_string())
            }
            None => (1, format!("Condition {src} not yet reported")),
        };
        worst = worst.min(prio);
        groups.entry((prio, msg)).or_default().push(m.name().to_string());
    }
    let (status, reason) = match (worst, negative) {
        (0, false) => (Status::False, reasons.1),
        (0, true) => (Status::True, reasons.1),
        (1, _) => (Status::Unknown, reasons.2),
        (_, false) => (Status::True, reasons.0),
        (_, true) => (Status::False, reasons.0),
    };
    let mut ordered: Vec<((u8, String), Vec<String>)> = groups.into_iter().filter(|((_, m), _)| !m.is_empty()).collect();
    ordered.sort_by(|a, b| a.0 .0.cmp(&b.0 .0).then_with(|| b.1.len().cmp(&a.1.len())).then_with(|| a.1.join(",").cmp(&b.1.join(","))));
    let mut lines = Vec::new();
    let mut others: BTreeMap<u8, usize> = BTreeMap::new();
    for (i, ((prio, msg), mut names)) in ordered.into_iter().enumerate() {
        if i >= 3 || (worst < 2 && prio == 2) {
            *others.entry(prio).or_default() += names.len();
            continue;
        }
        names.sort();
        let head = match names.len() {
            1 => format!("* Machine {}:", names[0]),
            2 | 3 => format!("* Machines {}:", names.join(", ")),
            n => format!("* Machines {}, ... ({} more):", names[..3].join(", "), n - 3),
        };
        lines.push(format!("{head}{}", indent_if_multiline(&msg)));
    }
    for (prio, n) in others {
        let what = match prio {
            0 => "with other issues",
            1 => "with status unknown",
            _ => continue,
        };
        lines.push(format!("And {n} {} {what}", if n == 1 { "Machine" } else { "Machines" }));
    }
    Cond::new(target, status, reason, lines.join("\n"))
}

/// `clog.ListToString(names, 3)`: `a, b, c, ... (2 more)`.
pub fn list_to_string(names: &[String], n: usize) -> String {
    let mut v: Vec<String> = names.iter().take(n).cloned().collect();
    if names.len() > n {
        v.push(format!("... ({} more)", names.len() - n));
    }
    v.join(", ")
}

/// `aggregateStaleMachines`: Machines deleting for more than 15 minutes.
pub fn stale_machines_message(machines: &[&Object], now: u64) -> String {
    let mut names: Vec<String> = machines
        .iter()
        .filter(|m| m.meta.deletion_ms.is_some_and(|d| now.saturating_sub(d) > 15 * 60_000))
        .map(|m| m.name().to_string())
        .collect();
    if names.is_empty() {
        return String::new();
    }
    names.sort();
    let plural = names.len() > 1;
    format!(
        "Machine{} {} {} in deletion since more than 15m",
        if plural { "s" } else { "" },
        list_to_string(&names, 3),
        if plural { "are" } else { "is" }
    )
}

/// `aggregateUnhealthyMachines`: Machines the MHC found unhealthy but nobody remediates.
pub fn unhealthy_machines_message(machines: &[&Object], owner: &str) -> String {
    let mut names: Vec<String> = machines.iter().map(|m| m.name().to_string()).collect();
    if names.is_empty() {
        return String::new();
    }
    names.sort();
    let plural = names.len() > 1;
    format!(
        "Machine{} {} {} not healthy (not to be remediated by {owner})",
        if plural { "s" } else { "" },
        list_to_string(&names, 3),
        if plural { "are" } else { "is" }
    )
}

/// `collections.IsUnhealthy`: the MHC says so.
pub fn is_unhealthy(m: &Object) -> bool {
    conditions::is_false(m, "HealthCheckSucceeded")
}

/// `collections.IsUnhealthyAndOwnerRemediated`: the MHC asks the owner to remediate.
pub fn is_unhealthy_and_owner_remediated(m: &Object) -> bool {
    conditions::is_false(m, "HealthCheckSucceeded") && conditions::is_false(m, "OwnerRemediated")
}

/// The `Remediating` condition of an MD or MS.
pub fn remediating_condition(machines: &[&Object], owner: &str) -> Cond {
    let to_remediate: Vec<&Object> = machines.iter().copied().filter(|m| is_unhealthy_and_owner_remediated(m)).collect();
    if to_remediate.is_empty() {
        let unhealthy: Vec<&Object> = machines.iter().copied().filter(|m| is_unhealthy(m)).collect();
        return Cond::f("Remediating", "NotRemediating", unhealthy_machines_message(&unhealthy, owner));
    }
    let agg = aggregate_machines(&to_remediate, "OwnerRemediated", "Remediating", ("Remediating", "Remediating", "Remediating"), false);
    Cond::new("Remediating", Status::True, "Remediating", agg.message)
}

/// The `MachinesReady` condition of an MD or MS.
pub fn machines_ready_condition(machines: &[&Object]) -> Cond {
    if machines.is_empty() {
        return Cond::t("MachinesReady", "NoReplicas");
    }
    aggregate_machines(machines, "Ready", "MachinesReady", ("Ready", "NotReady", "ReadyUnknown"), false)
}

/// The `MachinesUpToDate` condition of an MD or MS (Machines younger than 10s without the condition
/// are skipped so the condition does not flicker after a creation).
pub fn machines_up_to_date_condition(machines: &[&Object], now: u64) -> Cond {
    let considered: Vec<&Object> = machines
        .iter()
        .copied()
        .filter(|m| conditions::get(m, "UpToDate").is_some() || now.saturating_sub(m.meta.creation_ms) > 10_000)
        .collect();
    if considered.is_empty() {
        return Cond::t("MachinesUpToDate", "NoReplicas");
    }
    aggregate_machines(&considered, "UpToDate", "MachinesUpToDate", ("UpToDate", "NotUpToDate", "UpToDateUnknown"), false)
}

/// `status.versions` aggregated from Machines (`VersionsFromMachines`): kubelet version when known,
/// else `spec.version`; sorted by semantic version.
pub fn versions_from_machines(machines: &[&Object]) -> Vec<(String, i64)> {
    let mut sorted: Vec<&Object> = machines.to_vec();
    sorted.sort_by(|a, b| crate::controllers::common::older_first(a, b));
    let mut out: Vec<(String, i64)> = Vec::new();
    for m in sorted {
        let v = m.str_at("/status/nodeInfo/kubeletVersion").filter(|v| !v.is_empty()).or_else(|| m.str_at("/spec/version")).unwrap_or("");
        if v.is_empty() {
            continue;
        }
        match out.iter_mut().find(|(x, _)| x == v) {
            Some(e) => e.1 += 1,
            None => out.push((v.to_string(), 1)),
        }
    }
    sort_versions(&mut out);
    out
}

/// Sum `(version, replicas)` lists (`AggregateStatusVersions`).
pub fn aggregate_versions(lists: impl IntoIterator<Item = Vec<(String, i64)>>) -> Vec<(String, i64)> {
    let mut out: Vec<(String, i64)> = Vec::new();
    for (v, n) in lists.into_iter().flatten() {
        if v.is_empty() {
            continue;
        }
        match out.iter_mut().find(|(x, _)| *x == v) {
            Some(e) => e.1 += n,
            None => out.push((v, n)),
        }
    }
    sort_versions(&mut out);
    out
}

fn sort_versions(v: &mut [(String, i64)]) {
    v.sort_by(|a, b| match (crate::controllers::common::parse_version(&a.0), crate::controllers::common::parse_version(&b.0)) {
        (Some(x), Some(y)) => x.cmp(&y).then_with(|| a.0.cmp(&b.0)),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.0.cmp(&b.0),
    });
}

/// `status.versions` JSON.
pub fn versions_json(v: &[(String, i64)]) -> Value {
    Value::Array(
        v.iter()
            .map(|(ver, n)| {
                let mut m = Map::new();
                m.insert("version".into(), Value::String(ver.clone()));
                m.insert("replicas".into(), Value::from(*n));
                Value::Object(m)
            })
            .collect(),
    )
}

/// `status.versions` of an object as a list.
pub fn versions_of(obj: &Object) -> Vec<(String, i64)> {
    obj.at("/status/versions")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|e| Some((e.get("version")?.as_str()?.to_string(), e.get("replicas").and_then(Value::as_i64).unwrap_or(0))))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregation_puts_issues_first() {
        let mk = |n: &str, st: Status, msg: &str| {
            let mut o = Object::new(crate::kinds::Kind::Machine, "default", n);
            conditions::set(&mut o, [Cond::new("Ready", st, "R", msg)], 0);
            o
        };
        let a = mk("a", Status::True, "");
        let b = mk("b", Status::False, "node not ready");
        let c = Object::new(crate::kinds::Kind::Machine, "default", "c");
        let got = aggregate_machines(&[&a, &b, &c], "Ready", "MachinesReady", ("Ready", "NotReady", "ReadyUnknown"), false);
        assert_eq!(got.status, Status::False);
        assert_eq!(got.reason, "NotReady");
        assert_eq!(got.message, "* Machine b: node not ready\n* Machine c: Condition Ready not yet reported");
        let got = aggregate_machines(&[&a], "Ready", "MachinesReady", ("Ready", "NotReady", "ReadyUnknown"), false);
        assert_eq!((got.status, got.reason.as_str(), got.message.as_str()), (Status::True, "Ready", ""));
    }
}

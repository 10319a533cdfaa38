//! What the MachineDeployment and MachineSet status share: aggregating a Machine condition into
//! `MachinesReady` / `MachinesUpToDate` / `Remediating` (CAPI's default merge strategy: issues first,
//! then unknown; at most three message groups of at most three names), the stale-deletion and
//! unhealthy-Machine messages, and `status.versions`.
//! Sources: `util/conditions/merge_strategies.go`, `internal/util/version/version.go`,
//! `core/reconcilers/machineset/machineset_controller_status.go`.

use crate::controllers::conditions::{self, Cond, Status};
use crate::object::Object;
use serde_json::{Map, Value};

/// Reasons of an aggregated condition: (all True, some False, some Unknown).
pub type Reasons<'a> = (&'a str, &'a str, &'a str);

/// Aggregate one condition type over Machines (CAPI's `NewAggregateCondition` with the default merge
/// strategy, [`crate::controllers::merge::aggregate_items`]): any issue → False, else any Unknown (or
/// missing: `Condition X not yet reported`) → Unknown, else True; the message groups Machines by
/// message (control-plane Machines first, issues, then unknown; at most 3 groups of 3 names each).
pub fn aggregate_machines(machines: &[&Object], src: &str, target: &str, reasons: Reasons<'_>, negative: bool) -> Cond {
    use crate::controllers::merge;
    let missing = format!("Condition {src} not yet reported");
    let items: Vec<merge::Item<'_>> = machines
        .iter()
        .map(|m| {
            let (status, reason, message) = match conditions::get(m, src) {
                Some(c) => (c.status, c.reason, c.message),
                None => (Status::Unknown, "NotYetReported", missing.as_str()),
            };
            merge::Item {
                kind: "Machine",
                name: m.name(),
                cp_machine: m.label("cluster.x-k8s.io/control-plane").is_some(),
                type_: src,
                status,
                reason,
                message,
                since_ms: 0,
            }
        })
        .collect();
    let neg: &[&str] = if negative { &[src] } else { &[] };
    let (status, reason, message) = merge::aggregate_items(
        items,
        &|i| merge::default_priority(neg, i),
        merge::Reasons { issue: reasons.1, unknown: reasons.2, info: reasons.0 },
        !negative,
    );
    Cond::new(target, status, reason, message)
}

/// `clog.ListToString(names, 3)`: `a, b, c, ... (2 more)`.
pub fn list_to_string(names: &[String], n: usize) -> String {
    let mut v: Vec<String> = names.iter().take(n).cloned().collect();
    if names.len() > n {
        v.push(format!("... ({} more)", names.len() - n));
    }
    v.join(", ")
}

/// `aggregateStaleMachines`: Machines deleting for more than 15 minutes, and why a drain that
/// started more than 5 minutes ago is slow (read from the Machines' `Deleting` messages).
pub fn stale_machines_message(machines: &[&Object], now: u64) -> String {
    let mut names: Vec<String> = Vec::new();
    let mut delay = [false; 4];
    const REASONS: [(&str, &str); 4] = [
        ("cannot evict pod as it would violate the pod's disruption budget.", "PodDisruptionBudgets"),
        ("deletionTimestamp set, but still not removed from the Node", "Pods not terminating"),
        ("failed to evict Pod", "Pod eviction errors"),
        ("waiting for completion", "Pods not completed yet"),
    ];
    for m in machines.iter().filter(|m| m.meta.deletion_ms.is_some_and(|d| now.saturating_sub(d) > 15 * 60_000)) {
        names.push(m.name().to_string());
        let drain_start = m.str_at("/status/deletion/nodeDrainStartTime").and_then(crate::object::parse_timestamp);
        if let Some(c) = conditions::get(m, "Deleting").filter(|c| c.status == Status::True && c.reason == "DrainingNode") {
            if drain_start.is_some_and(|t| now.saturating_sub(t) > 5 * 60_000) {
                for (i, (needle, _)) in REASONS.iter().enumerate() {
                    delay[i] |= c.message.contains(needle);
                }
            }
        }
    }
    if names.is_empty() {
        return String::new();
    }
    names.sort();
    let plural = names.len() > 1;
    let mut msg = format!(
        "Machine{} {} {} in deletion since more than 15m",
        if plural { "s" } else { "" },
        list_to_string(&names, 3),
        if plural { "are" } else { "is" }
    );
    let why: Vec<&str> = REASONS.iter().zip(delay).filter(|(_, d)| *d).map(|((_, r), _)| *r).collect();
    if !why.is_empty() {
        msg.push_str(&format!(", delay likely due to {}", why.join(", ")));
    }
    msg
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

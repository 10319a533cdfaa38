//! `clusterctl describe cluster NAME --show-conditions all`: the object tree (Cluster →
//! ClusterInfrastructure → ControlPlane with its Machines → Workers with MachineDeployments /
//! MachinePools and their Machines), with replicas, availability and readiness, and every object's
//! conditions. Machines in the same state are grouped, as clusterctl does.
//! Source: `cmd/clusterctl/client/tree/discovery.go`, `cmd/clusterctl/cmd/describe_cluster.go`.

use crate::controllers::common::{self, keys};
use crate::controllers::conditions::{self, Status};
use crate::kinds::Kind;
use crate::object::{ObjKey, Object};
use crate::store::Store;
use std::fmt::Write as _;
use std::sync::Arc;

struct Row {
    prefix: String,
    name: String,
    replicas: String,
    available: String,
    ready: String,
    up_to_date: String,
    status: String,
    reason: String,
    since: String,
    message: String,
    conditions: Vec<String>,
}

fn age(now: u64, since: u64) -> String {
    let s = now.saturating_sub(since) / 1000;
    if s < 120 {
        format!("{s}s")
    } else if s < 7200 {
        format!("{}m", s / 60)
    } else {
        format!("{}h", s / 3600)
    }
}

fn counts(o: &Object) -> (String, String, String, String) {
    let g = |p: &str| o.i64_at(p).map(|x| x.to_string()).unwrap_or_default();
    let desired = match o.kind {
        Kind::Cluster => {
            o.i64_at("/status/controlPlane/desiredReplicas").unwrap_or(0) + o.i64_at("/status/workers/desiredReplicas").unwrap_or(0)
        }
        _ => o.i64_at("/spec/replicas").unwrap_or(0),
    };
    let current = match o.kind {
        Kind::Cluster => o.i64_at("/status/controlPlane/replicas").unwrap_or(0) + o.i64_at("/status/workers/replicas").unwrap_or(0),
        _ => o.i64_at("/status/replicas").unwrap_or(0),
    };
    match o.kind {
        Kind::Cluster => {
            let sum = |a: &str, b: &str| (o.i64_at(a).unwrap_or(0) + o.i64_at(b).unwrap_or(0)).to_string();
            (
                format!("{current}/{desired}"),
                sum("/status/controlPlane/availableReplicas", "/status/workers/availableReplicas"),
                sum("/status/controlPlane/readyReplicas", "/status/workers/readyReplicas"),
                sum("/status/controlPlane/upToDateReplicas", "/status/workers/upToDateReplicas"),
            )
        }
        Kind::KubeadmControlPlane | Kind::MachineDeployment | Kind::MachinePool | Kind::MachineSet => {
            (format!("{current}/{desired}"), g("/status/availableReplicas"), g("/status/readyReplicas"), g("/status/upToDateReplicas"))
        }
        _ => (String::new(), String::new(), String::new(), String::new()),
    }
}

fn row(prefix: &str, label: &str, o: &Object, main_condition: &str, now: u64) -> Row {
    let (replicas, available, ready, up_to_date) = counts(o);
    let (status, reason, since, message) = match conditions::get(o, main_condition) {
        Some(c) => (
            format!("{main_condition}: {}", c.status.as_str()),
            c.reason.to_string(),
            age(now, c.since_ms()),
            c.message.lines().next().unwrap_or("").to_string(),
        ),
        None => (String::new(), String::new(), String::new(), String::new()),
    };
    let conds = conditions::list(o)
        .iter()
        .filter_map(|c| {
            let t = c.get("type")?.as_str()?;
            let st = c.get("status").and_then(|s| s.as_str()).unwrap_or("");
            let r = c.get("reason").and_then(|s| s.as_str()).unwrap_or("");
            let m = c.get("message").and_then(|s| s.as_str()).unwrap_or("").lines().next().unwrap_or("");
            Some(format!("{t}: {st} {r}{}", if m.is_empty() { String::new() } else { format!(" — {m}") }))
        })
        .collect();
    Row {
        prefix: prefix.to_string(),
        name: format!("{label}{}/{}", o.kind, o.name()),
        replicas,
        available,
        ready,
        up_to_date,
        status,
        reason,
        since,
        message,
        conditions: conds,
    }
}

/// Render the tree.
pub fn describe(store: &Store, cluster_key: &ObjKey, now: u64) -> Result<String, String> {
    let cluster = store.get(cluster_key).ok_or_else(|| format!("clusters.cluster.x-k8s.io \"{}\" not found", cluster_key.name))?;
    let ns = cluster.namespace();
    let name = cluster.name();
    let mut rows = vec![row("", "", cluster, "Available", now)];
    let machines: Vec<&Arc<Object>> = store.objects().in_cluster_ns(Kind::Machine, ns, name).collect();
    if let Some(infra) = cluster.at("/spec/infrastructureRef").and_then(|r| common::ref_key(r, ns)).and_then(|k| store.get(&k)) {
        rows.push(row("├─", "ClusterInfrastructure - ", infra, "Ready", now));
    }
    if let Some(cp) = cluster.at("/spec/controlPlaneRef").and_then(|r| common::ref_key(r, ns)).and_then(|k| store.get(&k)) {
        rows.push(row("├─", "ControlPlane - ", cp, "Available", now));
        let cpm: Vec<&Arc<Object>> = machines.iter().copied().filter(|m| m.label(keys::CONTROL_PLANE).is_some()).collect();
        push_machines(&mut rows, "│ ", &cpm, now);
    }
    let mut pools: Vec<&Arc<Object>> = store.objects().in_cluster_ns(Kind::MachineDeployment, ns, name).collect();
    pools.extend(store.objects().in_cluster_ns(Kind::MachinePool, ns, name));
    if !pools.is_empty() {
        rows.push(Row {
            prefix: "└─".into(),
            name: "Workers".into(),
            replicas: String::new(),
            available: String::new(),
            ready: String::new(),
            up_to_date: String::new(),
            status: String::new(),
            reason: String::new(),
            since: String::new(),
            message: String::new(),
            conditions: vec![],
        });
        let n = pools.len();
        for (i, p) in pools.iter().enumerate() {
            let last = i + 1 == n;
            rows.push(row(if last { "  └─" } else { "  ├─" }, "", p, "Available", now));
            let owner_label = if p.kind == Kind::MachinePool { keys::POOL_NAME } else { keys::DEPLOYMENT_NAME };
            let ms: Vec<&Arc<Object>> = machines.iter().copied().filter(|m| m.label(owner_label) == Some(p.name())).collect();
            push_machines(&mut rows, if last { "    " } else { "  │ " }, &ms, now);
        }
    }
    let headers = ["NAME", "REPLICAS", "AVAILABLE", "READY", "UP TO DATE", "STATUS", "REASON", "SINCE", "MESSAGE"];
    let cols: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                format!("{}{}", r.prefix, r.name),
                r.replicas.clone(),
                r.available.clone(),
                r.ready.clone(),
                r.up_to_date.clone(),
                r.status.clone(),
                r.reason.clone(),
                r.since.clone(),
                r.message.clone(),
            ]
        })
        .collect();
    let widths: Vec<usize> =
        (0..headers.len()).map(|i| cols.iter().map(|c| c[i].chars().count()).max().unwrap_or(0).max(headers[i].len())).collect();
    let mut out = String::new();
    let line = |cells: Vec<&str>, out: &mut String| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                let _ = write!(s, "{c:<w$}  ", w = widths[i]);
            }
        }
        out.push_str(s.trim_end());
        out.push('\n');
    };
    line(headers.to_vec(), &mut out);
    for (r, c) in rows.iter().zip(&cols) {
        line(c.iter().map(String::as_str).collect(), &mut out);
        let indent: String = r.prefix.replace("├─", "│ ").replace("└─", "  ");
        for cond in &r.conditions {
            let _ = writeln!(out, "{indent}    {cond}");
        }
    }
    Ok(out)
}

/// Machines grouped by identical state (`Ready` status and reason), as clusterctl groups them.
fn push_machines(rows: &mut Vec<Row>, indent: &str, machines: &[&Arc<Object>], now: u64) {
    let mut groups: Vec<(String, Vec<&Arc<Object>>)> = Vec::new();
    for m in machines {
        let key = conditions::get(m, "Ready").map_or("none".to_string(), |c| format!("{}/{}", c.status.as_str(), c.reason));
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => v.push(m),
            None => groups.push((key, vec![m])),
        }
    }
    let n = groups.len();
    for (i, (_, ms)) in groups.iter().enumerate() {
        let prefix = format!("{indent}{}", if i + 1 == n { "└─" } else { "├─" });
        if ms.len() == 1 {
            rows.push(row(&prefix, "", ms[0], "Ready", now));
        } else {
            let mut r = row(&prefix, "", ms[0], "Ready", now);
            let ready = ms.iter().filter(|m| conditions::get(m, "Ready").is_some_and(|c| c.status == Status::True)).count();
            let avail = ms.iter().filter(|m| conditions::is_true(m, "Available")).count();
            let utd = ms.iter().filter(|m| conditions::is_true(m, "UpToDate")).count();
            r.name = format!("{} Machines...", ms.len());
            r.available = avail.to_string();
            r.ready = ready.to_string();
            r.up_to_date = utd.to_string();
            let names: Vec<&str> = ms.iter().map(|m| m.name()).collect();
            r.message = format!("See {}", names.join(", "));
            r.conditions.clear();
            rows.push(r);
        }
    }
}

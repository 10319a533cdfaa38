//! `meta.k8s.io/v1 Table` answers (`Accept: application/json;as=Table;...`), so `kubectl get` shows
//! Cluster API's printer columns (PHASE, AGE, VERSION...) instead of `NAME AGE`. Ages are rendered
//! by the server from simulated time, as the real server renders `date` columns. Events get the
//! columns of kube-apiserver's own printer (LAST SEEN, TYPE, REASON, OBJECT, MESSAGE; with `-o wide`
//! also SUBOBJECT, SOURCE, FIRST SEEN, COUNT, NAME).

use capi_sim::{Kind, Object};
use serde_json::{json, Value};

/// Where a cell's value comes from.
#[derive(Clone, Copy, Debug)]
enum Cell {
    Name,
    Age,
    /// A JSON pointer into the object body.
    At(&'static str),
    /// `.status.conditions[?(@.type==T)].status`.
    Condition(&'static str),
    /// A label value.
    Label(&'static str),
    /// The number of keys of a map (`DATA` of ConfigMaps and Secrets).
    Count(&'static str),
    /// The age of a timestamp field (`""` when absent).
    Since(&'static str),
    /// An Event's LAST SEEN: the age of `lastTimestamp` (or `eventTime`, `firstTimestamp`), with
    /// `(xN over AGE)` when it happened N > 1 times.
    LastSeen,
    /// An Event's OBJECT: `kind/name` of the involved object, the kind in lower case.
    InvolvedObject,
    /// An Event's SOURCE: `component, host` (or the reporting controller).
    EventSource,
    /// A JSON pointer rendered as text (`""` when absent).
    Text(&'static str),
}

/// One printer column.
#[derive(Clone, Copy, Debug)]
struct Column {
    name: &'static str,
    kind: &'static str,
    priority: u8,
    cell: Cell,
}

const fn col(name: &'static str, kind: &'static str, cell: Cell) -> Column {
    Column { name, kind, priority: 0, cell }
}

const fn wide(name: &'static str, kind: &'static str, cell: Cell) -> Column {
    Column { name, kind, priority: 10, cell }
}

const CLUSTER_LABEL: &str = "cluster.x-k8s.io/cluster-name";

/// The printer columns of a kind (CAPI v1beta2's `+kubebuilder:printcolumn` markers, abridged).
fn columns(kind: Kind) -> Vec<Column> {
    use Cell::*;
    if kind == Kind::Event {
        // kube-apiserver `pkg/printers/internalversion`: `eventColumnDefinitions`.
        return vec![
            col("Last Seen", "string", LastSeen),
            col("Type", "string", Text("/type")),
            col("Reason", "string", Text("/reason")),
            col("Object", "string", InvolvedObject),
            wide("Subobject", "string", Text("/involvedObject/fieldPath")),
            wide("Source", "string", EventSource),
            col("Message", "string", Text("/message")),
            wide("First Seen", "string", Since("/firstTimestamp")),
            wide("Count", "string", At("/count")),
            Column { name: "Name", kind: "string", priority: 1, cell: Name },
        ];
    }
    let mut cols = vec![col("Name", "string", Name)];
    match kind {
        Kind::Cluster => cols.extend([
            col("ClusterClass", "string", At("/spec/topology/classRef/name")),
            col("Available", "string", Condition("Available")),
            col("CP Desired", "integer", At("/status/controlPlane/desiredReplicas")),
            col("CP Available", "integer", At("/status/controlPlane/availableReplicas")),
            col("CP Up-to-date", "integer", At("/status/controlPlane/upToDateReplicas")),
            col("W Desired", "integer", At("/status/workers/desiredReplicas")),
            col("W Available", "integer", At("/status/workers/availableReplicas")),
            col("W Up-to-date", "integer", At("/status/workers/upToDateReplicas")),
            col("Phase", "string", At("/status/phase")),
            col("Age", "date", Age),
            col("Version", "string", At("/spec/topology/version")),
        ]),
        Kind::Machine => cols.extend([
            col("Cluster", "string", At("/spec/clusterName")),
            col("Node Name", "string", At("/status/nodeRef/name")),
            wide("Provider ID", "string", At("/spec/providerID")),
            col("Ready", "string", Condition("Ready")),
            col("Available", "string", Condition("Available")),
            col("Up-to-date", "string", Condition("UpToDate")),
            col("Phase", "string", At("/status/phase")),
            col("Age", "date", Age),
            col("Version", "string", At("/spec/version")),
        ]),
        Kind::MachineDeployment | Kind::MachineSet | Kind::MachinePool => cols.extend([
            col("Cluster", "string", At("/spec/clusterName")),
            col("Available", "string", Condition("Available")),
            col("Desired", "integer", At("/spec/replicas")),
            col("Current", "integer", At("/status/replicas")),
            col("Ready", "integer", At("/status/readyReplicas")),
            col("Available", "integer", At("/status/availableReplicas")),
            col("Up-to-date", "integer", At("/status/upToDateReplicas")),
            col("Phase", "string", At("/status/phase")),
            col("Age", "date", Age),
            col("Version", "string", At("/spec/template/spec/version")),
        ]),
        Kind::KubeadmControlPlane => cols.extend([
            col("Cluster", "string", Label(CLUSTER_LABEL)),
            col("Available", "string", Condition("Available")),
            col("Desired", "integer", At("/spec/replicas")),
            col("Current", "integer", At("/status/replicas")),
            col("Ready", "integer", At("/status/readyReplicas")),
            col("Available", "integer", At("/status/availableReplicas")),
            col("Up-to-date", "integer", At("/status/upToDateReplicas")),
            col("Initialized", "boolean", At("/status/initialization/controlPlaneInitialized")),
            col("Age", "date", Age),
            col("Version", "string", At("/spec/version")),
        ]),
        Kind::DockerMachine | Kind::DevMachine => cols.extend([
            col("Cluster", "string", Label(CLUSTER_LABEL)),
            col("Provisioned", "boolean", At("/status/initialization/provisioned")),
            col("Provider ID", "string", At("/spec/providerID")),
            col("Age", "date", Age),
        ]),
        Kind::DockerCluster | Kind::DevCluster => cols.extend([
            col("Cluster", "string", Label(CLUSTER_LABEL)),
            col("Provisioned", "boolean", At("/status/initialization/provisioned")),
            col("Age", "date", Age),
        ]),
        Kind::KubeadmConfig => cols.extend([
            col("Cluster", "string", Label(CLUSTER_LABEL)),
            col("Data Secret Created", "boolean", At("/status/initialization/dataSecretCreated")),
            col("Age", "date", Age),
        ]),
        Kind::Namespace => cols.extend([col("Status", "string", At("/status/phase")), col("Age", "date", Age)]),
        Kind::ConfigMap => cols.extend([col("Data", "integer", Count("/data")), col("Age", "date", Age)]),
        Kind::Secret => cols.extend([col("Type", "string", At("/type")), col("Data", "integer", Count("/data")), col("Age", "date", Age)]),
        _ => cols.push(col("Age", "date", Age)),
    }
    cols
}

/// A duration as kubectl prints ages (`45s`, `3m20s`, `5h`, `2d3h`...).
pub fn age(ms: u64) -> String {
    let s = ms / 1000;
    let (m, h, d) = (s / 60, s / 3600, s / 86_400);
    let (rest_s, rest_m, rest_h) = (s % 60, m % 60, h % 24);
    if s < 120 {
        format!("{s}s")
    } else if m < 10 {
        if rest_s == 0 {
            format!("{m}m")
        } else {
            format!("{m}m{rest_s}s")
        }
    } else if m < 180 {
        format!("{m}m")
    } else if h < 8 {
        if rest_m == 0 {
            format!("{h}h")
        } else {
            format!("{h}h{rest_m}m")
        }
    } else if h < 48 {
        format!("{h}h")
    } else if h < 24 * 8 {
        if rest_h == 0 {
            format!("{d}d")
        } else {
            format!("{d}d{rest_h}h")
        }
    } else {
        format!("{d}d")
    }
}

fn since(o: &Object, pointer: &str, now: u64) -> Option<String> {
    let t = o.at(pointer).and_then(Value::as_str).and_then(capi_sim::object::parse_timestamp)?;
    Some(age(now.saturating_sub(t)))
}

fn text(o: &Object, pointer: &str) -> String {
    match o.at(pointer) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(v) => v.to_string(),
    }
}

fn cell(c: Cell, o: &Object, now: u64) -> Value {
    match c {
        Cell::Since(p) => Value::String(since(o, p, now).unwrap_or_default()),
        Cell::Text(p) => Value::String(text(o, p)),
        Cell::LastSeen => {
            let last = ["/lastTimestamp", "/eventTime", "/firstTimestamp"]
                .iter()
                .find_map(|p| since(o, p, now))
                .unwrap_or_else(|| "<unknown>".into());
            let count = o.at("/count").and_then(Value::as_u64).unwrap_or(1);
            Value::String(match since(o, "/firstTimestamp", now) {
                Some(first) if count > 1 => format!("{last} (x{count} over {first})"),
                _ => last,
            })
        }
        Cell::InvolvedObject => {
            Value::String(format!("{}/{}", text(o, "/involvedObject/kind").to_ascii_lowercase(), text(o, "/involvedObject/name")))
        }
        Cell::EventSource => {
            let (component, host) = (text(o, "/source/component"), text(o, "/source/host"));
            let component = if component.is_empty() { text(o, "/reportingComponent") } else { component };
            Value::String(if host.is_empty() { component } else { format!("{component}, {host}") })
        }
        Cell::Name => Value::String(o.meta.name.to_string()),
        Cell::Age => Value::String(age(now.saturating_sub(o.meta.creation_ms))),
        Cell::At(p) => o.at(p).cloned().unwrap_or(Value::Null),
        Cell::Condition(t) => o
            .at("/status/conditions")
            .and_then(Value::as_array)
            .and_then(|cs| cs.iter().find(|c| c.get("type").and_then(Value::as_str) == Some(t)))
            .and_then(|c| c.get("status").cloned())
            .unwrap_or(Value::Null),
        Cell::Label(k) => o.label(k).map_or(Value::Null, |v| Value::String(v.to_string())),
        Cell::Count(p) => Value::from(o.at(p).and_then(Value::as_object).map_or(0, |m| m.len())),
    }
}

/// One row: cells and the object's metadata (kubectl reads the namespace from it for `-A`).
fn row(o: &Object, cols: &[Column], now: u64) -> Value {
    let cells: Vec<Value> = cols.iter().map(|c| cell(c.cell, o, now)).collect();
    json!({
        "cells": cells,
        "object": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": o.meta_json()},
    })
}

/// A Table of objects of one kind at simulated time `now`.
pub fn table<'a>(kind: Kind, objects: impl IntoIterator<Item = &'a Object>, now: u64, resource_version: Option<u64>) -> Value {
    let cols = columns(kind);
    let defs: Vec<Value> = cols
        .iter()
        .map(|c| {
            let format = if matches!(c.cell, Cell::Name) { "name" } else { "" };
            // kubectl shows columns of priority 0, and the others with `-o wide`.
            json!({"name": c.name, "type": c.kind, "format": format, "description": "", "priority": c.priority})
        })
        .collect();
    let rows: Vec<Value> = objects.into_iter().map(|o| row(o, &cols, now)).collect();
    let mut meta = json!({});
    if let Some(rv) = resource_version {
        meta["resourceVersion"] = Value::String(rv.to_string());
    }
    json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": meta, "columnDefinitions": defs, "rows": rows})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_like_kubectl() {
        assert_eq!(age(45_000), "45s");
        assert_eq!(age(200_000), "3m20s");
        assert_eq!(age(30 * 60_000), "30m");
        assert_eq!(age(5 * 3_600_000 + 60_000), "5h1m");
        assert_eq!(age(50 * 3_600_000), "2d2h");
    }

    #[test]
    fn event_columns_are_the_api_servers() {
        let mut e = Object::new(Kind::Event, "default", "m1.17a");
        e.set(
            "/involvedObject",
            json!({"kind": "Machine", "name": "m1", "namespace": "default", "uid": "u1", "apiVersion": "cluster.x-k8s.io/v1beta2"}),
        );
        e.set("/type", json!("Normal"));
        e.set("/reason", json!("SuccessfulCreate"));
        e.set("/message", json!("Created node"));
        e.set("/source", json!({"component": "machine-controller"}));
        e.set("/firstTimestamp", json!(capi_sim::object::timestamp(10_000)));
        e.set("/lastTimestamp", json!(capi_sim::object::timestamp(40_000)));
        e.set("/count", json!(3));
        let t = table(Kind::Event, [&e], 100_000, Some(9));
        let defs = t["columnDefinitions"].as_array().unwrap();
        let shown: Vec<&str> = defs.iter().filter(|c| c["priority"] == 0).map(|c| c["name"].as_str().unwrap()).collect();
        assert_eq!(shown, ["Last Seen", "Type", "Reason", "Object", "Message"]);
        let cells = t["rows"][0]["cells"].as_array().unwrap();
        let at = |n: &str| cells[defs.iter().position(|c| c["name"] == n).unwrap()].as_str().unwrap().to_string();
        assert_eq!(
            (at("Last Seen"), at("Object"), at("Source"), at("First Seen"), at("Name")),
            ("60s (x3 over 90s)".into(), "machine/m1".into(), "machine-controller".into(), "90s".into(), "m1.17a".into())
        );
    }

    #[test]
    fn cluster_columns() {
        let mut o = Object::new(Kind::Cluster, "default", "c1");
        o.set("/status/phase", json!("Provisioned"));
        o.set("/spec/topology/version", json!("v1.34.3"));
        o.set("/status/conditions", json!([{"type": "Available", "status": "True"}]));
        let t = table(Kind::Cluster, [&o], 65_000, Some(9));
        let names: Vec<&str> = t["columnDefinitions"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
        let cells = t["rows"][0]["cells"].as_array().unwrap();
        let at = |n: &str| &cells[names.iter().position(|x| *x == n).unwrap()];
        assert_eq!(
            (at("Phase"), at("Age"), at("Version"), at("Available")),
            (&json!("Provisioned"), &json!("65s"), &json!("v1.34.3"), &json!("True"))
        );
        assert_eq!(t["rows"][0]["object"]["metadata"]["namespace"], "default");
    }
}

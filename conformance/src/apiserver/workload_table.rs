//! `meta.k8s.io/v1 Table` answers of the workload endpoints, with the columns kube-apiserver's own
//! printers give the built-in kinds (`pkg/printers/internalversion/printers.go`), so `kubectl get
//! nodes -o wide` and `kubectl get pods -n kube-system -o wide` print what they print against a
//! real cluster. Kinds without a printer here get NAME and AGE. Ages come from simulated time.

use super::table::age;
use capi_sim::object::parse_timestamp;
use serde_json::{json, Value};

/// A column: name, type, priority (0 shown, 1 with `-o wide`) and how a cell is computed.
type Column = (&'static str, &'static str, u8, fn(&Value, u64) -> Value);

fn s(v: &Value, pointer: &str) -> String {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or("").to_string()
}

fn or_none(text: String) -> Value {
    Value::String(if text.is_empty() { "<none>".into() } else { text })
}

fn name(v: &Value, _: u64) -> Value {
    Value::String(s(v, "/metadata/name"))
}

fn created(v: &Value, now: u64) -> Value {
    let t = v.pointer("/metadata/creationTimestamp").and_then(Value::as_str).and_then(parse_timestamp);
    Value::String(t.map_or_else(|| "<unknown>".into(), |t| age(now.saturating_sub(t))))
}

fn condition<'a>(v: &'a Value, t: &str) -> Option<&'a Value> {
    v.pointer("/status/conditions")?.as_array()?.iter().find(|c| c.get("type").and_then(Value::as_str) == Some(t))
}

fn address(v: &Value, t: &str) -> Value {
    let found = v
        .pointer("/status/addresses")
        .and_then(Value::as_array)
        .and_then(|a| a.iter().find(|x| x.get("type").and_then(Value::as_str) == Some(t)))
        .and_then(|x| x.get("address"))
        .and_then(Value::as_str);
    or_none(found.unwrap_or("").to_string())
}

/// NAME STATUS ROLES AGE VERSION | INTERNAL-IP EXTERNAL-IP OS-IMAGE KERNEL-VERSION CONTAINER-RUNTIME.
const NODE: &[Column] = &[
    ("Name", "string", 0, name),
    ("Status", "string", 0, |v, _| {
        let mut status = match condition(v, "Ready").and_then(|c| c.get("status")).and_then(Value::as_str) {
            Some("True") => "Ready".to_string(),
            Some("False") => "NotReady".to_string(),
            _ => "Unknown".to_string(),
        };
        if v.pointer("/spec/unschedulable").and_then(Value::as_bool) == Some(true) {
            status.push_str(",SchedulingDisabled");
        }
        Value::String(status)
    }),
    ("Roles", "string", 0, |v, _| {
        let roles: Vec<&str> = v
            .pointer("/metadata/labels")
            .and_then(Value::as_object)
            .map(|l| l.keys().filter_map(|k| k.strip_prefix("node-role.kubernetes.io/")).filter(|r| !r.is_empty()).collect())
            .unwrap_or_default();
        or_none(roles.join(","))
    }),
    ("Age", "string", 0, created),
    ("Version", "string", 0, |v, _| Value::String(s(v, "/status/nodeInfo/kubeletVersion"))),
    ("Internal-IP", "string", 1, |v, _| address(v, "InternalIP")),
    ("External-IP", "string", 1, |v, _| address(v, "ExternalIP")),
    ("OS-Image", "string", 1, |v, _| or_none(s(v, "/status/nodeInfo/osImage"))),
    ("Kernel-Version", "string", 1, |v, _| or_none(s(v, "/status/nodeInfo/kernelVersion"))),
    ("Container-Runtime", "string", 1, |v, _| or_none(s(v, "/status/nodeInfo/containerRuntimeVersion"))),
];

fn container_statuses(v: &Value) -> &[Value] {
    v.pointer("/status/containerStatuses").and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

/// NAME READY STATUS RESTARTS AGE | IP NODE NOMINATED NODE READINESS GATES.
const POD: &[Column] = &[
    ("Name", "string", 0, name),
    ("Ready", "string", 0, |v, _| {
        let statuses = container_statuses(v);
        let total = v.pointer("/spec/containers").and_then(Value::as_array).map_or(0, Vec::len).max(statuses.len());
        let ready = statuses.iter().filter(|c| c.get("ready").and_then(Value::as_bool) == Some(true)).count();
        // Pods of the drain model carry no containers: their phase says whether they run.
        let (ready, total) = if total == 0 { (usize::from(s(v, "/status/phase") == "Running"), 1) } else { (ready, total) };
        Value::String(format!("{ready}/{total}"))
    }),
    ("Status", "string", 0, |v, _| {
        let waiting =
            container_statuses(v).iter().find_map(|c| c.pointer("/state/waiting/reason").and_then(Value::as_str)).map(str::to_string);
        let status = if v.pointer("/metadata/deletionTimestamp").is_some() {
            "Terminating".to_string()
        } else {
            waiting.unwrap_or_else(|| s(v, "/status/phase"))
        };
        Value::String(status)
    }),
    ("Restarts", "string", 0, |v, _| {
        let n: u64 = container_statuses(v).iter().filter_map(|c| c.get("restartCount").and_then(Value::as_u64)).sum();
        Value::String(n.to_string())
    }),
    ("Age", "string", 0, created),
    ("IP", "string", 1, |v, _| or_none(s(v, "/status/podIP"))),
    ("Node", "string", 1, |v, _| or_none(s(v, "/spec/nodeName"))),
    ("Nominated Node", "string", 1, |v, _| or_none(s(v, "/status/nominatedNodeName"))),
    ("Readiness Gates", "string", 1, |_, _| or_none(String::new())),
];

const NAMESPACE: &[Column] =
    &[("Name", "string", 0, name), ("Status", "string", 0, |v, _| Value::String(s(v, "/status/phase"))), ("Age", "string", 0, created)];

const WITH_DATA: &[Column] = &[
    ("Name", "string", 0, name),
    ("Data", "string", 0, |v, _| {
        let n = |k: &str| v.get(k).and_then(Value::as_object).map_or(0, |m| m.len());
        Value::from(n("data") + n("binaryData"))
    }),
    ("Age", "string", 0, created),
];

const PLAIN: &[Column] = &[("Name", "string", 0, name), ("Age", "string", 0, created)];

fn columns(kind: &str) -> &'static [Column] {
    match kind {
        "Node" => NODE,
        "Pod" => POD,
        "Namespace" => NAMESPACE,
        "ConfigMap" => WITH_DATA,
        _ => PLAIN,
    }
}

/// A Table of workload objects of one kind at simulated time `now`.
pub fn table<'a>(kind: &str, objects: impl IntoIterator<Item = &'a Value>, now: u64) -> Value {
    let cols = columns(kind);
    let defs: Vec<Value> = cols
        .iter()
        .map(|(n, t, p, _)| json!({"name": n, "type": t, "format": if *n == "Name" { "name" } else { "" }, "description": "", "priority": p}))
        .collect();
    let rows: Vec<Value> = objects
        .into_iter()
        .map(|o| {
            let cells: Vec<Value> = cols.iter().map(|(_, _, _, f)| f(o, now)).collect();
            let meta = o.get("metadata").cloned().unwrap_or_else(|| json!({}));
            json!({"cells": cells, "object": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": meta}})
        })
        .collect();
    json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {}, "columnDefinitions": defs, "rows": rows})
}

#[cfg(test)]
mod tests {
    use super::*;
    use capi_sim::object::timestamp;

    fn cells(t: &Value) -> Vec<(String, String)> {
        let defs = t["columnDefinitions"].as_array().unwrap();
        let row = t["rows"][0]["cells"].as_array().unwrap();
        defs.iter()
            .zip(row)
            .map(|(d, c)| (d["name"].as_str().unwrap().to_string(), c.as_str().map_or(c.to_string(), str::to_string)))
            .collect()
    }

    #[test]
    fn nodes_show_status_roles_and_the_wide_columns() {
        let node = json!({"kind": "Node", "metadata": {"name": "c1-cp-x", "creationTimestamp": timestamp(0),
                "labels": {"node-role.kubernetes.io/control-plane": ""}},
            "spec": {"unschedulable": true},
            "status": {"conditions": [{"type": "Ready", "status": "True"}],
                "addresses": [{"type": "InternalIP", "address": "172.18.0.5"}, {"type": "Hostname", "address": "c1-cp-x"}],
                "nodeInfo": {"kubeletVersion": "v1.34.3", "osImage": "Debian", "kernelVersion": "6.1.0", "containerRuntimeVersion": "containerd://2.1.1"}}});
        let got = cells(&table("Node", [&node], 300_000));
        let want = [
            ("Name", "c1-cp-x"),
            ("Status", "Ready,SchedulingDisabled"),
            ("Roles", "control-plane"),
            ("Age", "5m"),
            ("Version", "v1.34.3"),
            ("Internal-IP", "172.18.0.5"),
            ("External-IP", "<none>"),
            ("OS-Image", "Debian"),
            ("Kernel-Version", "6.1.0"),
            ("Container-Runtime", "containerd://2.1.1"),
        ];
        assert_eq!(got, want.map(|(a, b)| (a.to_string(), b.to_string())));
    }

    #[test]
    fn pods_show_readiness_restarts_and_ip() {
        let pod = json!({"kind": "Pod", "metadata": {"name": "etcd-n1", "namespace": "kube-system", "creationTimestamp": timestamp(0)},
            "spec": {"nodeName": "n1", "containers": [{"name": "etcd"}]},
            "status": {"phase": "Running", "podIP": "172.18.0.5",
                "containerStatuses": [{"name": "etcd", "ready": false, "restartCount": 5, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}});
        let got = cells(&table("Pod", [&pod], 45_000));
        assert_eq!(
            &got[..6],
            &[
                ("Name".into(), "etcd-n1".into()),
                ("Ready".into(), "0/1".into()),
                ("Status".into(), "CrashLoopBackOff".into()),
                ("Restarts".into(), "5".into()),
                ("Age".into(), "45s".into()),
                ("IP".into(), "172.18.0.5".into()),
            ]
        );
        let drained = json!({"kind": "Pod", "metadata": {"name": "web"}, "status": {"phase": "Running"}});
        assert_eq!(cells(&table("Pod", [&drained], 0))[1].1, "1/1");
    }
}

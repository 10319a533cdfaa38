//! What a run leaves, summarized the same way for every backend, and normalized so that two runs
//! (simulator and real cluster, or two seeds) can be compared: uids, resourceVersions, timestamps and
//! random name suffixes are stripped; phases, conditions, replicas, versions and container names stay.

use crate::predicate::ContainerInfo;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// The final state of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    /// API objects of the scenario's namespaces, in (management, kind, namespace, name) order.
    pub objects: Vec<ObjectSummary>,
    /// Containers of the scenario's clusters, in name order.
    pub containers: Vec<ContainerInfo>,
}

/// One API object, reduced to what matters for behaviour.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ObjectSummary {
    /// Management cluster it lives in.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub management: String,
    /// apiVersion.
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    /// kind.
    pub kind: String,
    /// namespace.
    pub namespace: String,
    /// name.
    pub name: String,
    /// `status.phase`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    /// `status.conditions` as type/status/reason.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<ConditionSummary>,
    /// Desired replicas (`spec.replicas`, or the topology's control plane replicas for a Cluster).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i64>,
    /// Observed replica counters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_replicas: Option<ReplicaCounts>,
    /// Kubernetes version (`spec.version`, `spec.topology.version`, `spec.template.spec.version`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Whether deletion has started.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleting: bool,
}

/// One condition.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ConditionSummary {
    /// type.
    #[serde(rename = "type")]
    pub type_: String,
    /// status.
    pub status: String,
    /// reason.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
}

/// `status.{replicas,readyReplicas,availableReplicas,upToDateReplicas}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplicaCounts {
    /// replicas.
    pub replicas: i64,
    /// readyReplicas.
    pub ready_replicas: i64,
    /// availableReplicas.
    pub available_replicas: i64,
    /// upToDateReplicas.
    pub up_to_date_replicas: i64,
}

impl ObjectSummary {
    /// Summarize a JSON object.
    pub fn from_value(management: &str, v: &Value) -> Self {
        let s = |p: &str| v.pointer(p).and_then(Value::as_str).map(str::to_string);
        let kind = s("/kind").unwrap_or_default();
        let conditions = v
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .map(|a| {
                let mut c: Vec<ConditionSummary> = a
                    .iter()
                    .filter_map(|c| {
                        Some(ConditionSummary {
                            type_: c.get("type")?.as_str()?.to_string(),
                            status: c.get("status").and_then(Value::as_str).unwrap_or("").to_string(),
                            reason: c.get("reason").and_then(Value::as_str).unwrap_or("").to_string(),
                        })
                    })
                    .collect();
                c.sort();
                c
            })
            .unwrap_or_default();
        let replicas = v
            .pointer("/spec/replicas")
            .or_else(|| if kind == "Cluster" { v.pointer("/spec/topology/controlPlane/replicas") } else { None })
            .and_then(Value::as_i64);
        let status_replicas = v.pointer("/status/replicas").and_then(Value::as_i64).map(|replicas| ReplicaCounts {
            replicas,
            ready_replicas: v.pointer("/status/readyReplicas").and_then(Value::as_i64).unwrap_or(0),
            available_replicas: v.pointer("/status/availableReplicas").and_then(Value::as_i64).unwrap_or(0),
            up_to_date_replicas: v.pointer("/status/upToDateReplicas").and_then(Value::as_i64).unwrap_or(0),
        });
        let version = s("/spec/version").or_else(|| s("/spec/topology/version")).or_else(|| s("/spec/template/spec/version"));
        ObjectSummary {
            management: management.to_string(),
            api_version: s("/apiVersion").unwrap_or_default(),
            kind,
            namespace: s("/metadata/namespace").unwrap_or_default(),
            name: s("/metadata/name").unwrap_or_default(),
            phase: s("/status/phase"),
            conditions,
            replicas,
            status_replicas,
            version,
            deleting: v.pointer("/metadata/deletionTimestamp").is_some_and(|t| !t.is_null()),
        }
    }
}

/// The alphabet Kubernetes' `rand.String` draws generated name suffixes from (no vowels, so that no
/// words appear). A `-` followed by exactly five of these at the end of a name segment is generated.
pub const NAME_SUFFIX_ALPHABET: &str = "bcdfghjklmnpqrstvwxz2456789";

/// Replace generated `-xxxxx` suffixes by `-{rand}` (and `machine-template-hash`-style hashes).
pub fn normalize_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for (i, part) in name.split('-').enumerate() {
        if i > 0 {
            out.push('-');
        }
        let generated = i > 0 && part.len() == 5 && part.chars().all(|c| NAME_SUFFIX_ALPHABET.contains(c));
        out.push_str(if generated { "{rand}" } else { part });
    }
    out
}

impl Outcome {
    /// The normalized form: names with generated suffixes replaced, sorted, labels reduced to CAPD's.
    pub fn normalized(&self) -> Outcome {
        let mut objects: Vec<ObjectSummary> =
            self.objects.iter().map(|o| ObjectSummary { name: normalize_name(&o.name), ..o.clone() }).collect();
        objects.sort();
        let mut containers: Vec<ContainerInfo> = self
            .containers
            .iter()
            .map(|c| ContainerInfo {
                name: normalize_name(&c.name),
                image: c.image.clone(),
                state: c.state.clone(),
                labels: c
                    .labels
                    .iter()
                    .filter(|(k, _)| k.starts_with("io.x-k8s."))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect::<BTreeMap<_, _>>(),
            })
            .collect();
        containers.sort();
        Outcome { objects, containers }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_generated_suffixes_only() {
        assert_eq!(normalize_name("capi-quickstart-md-0-x7b2k-9zzqp"), "capi-quickstart-md-0-{rand}-{rand}");
        assert_eq!(normalize_name("my-tests-lb"), "my-tests-lb");
        assert_eq!(normalize_name("capi-quickstart"), "capi-quickstart");
    }
}

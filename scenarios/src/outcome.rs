//! What a run leaves, summarized the same way for every backend, and normalized so that two runs
//! (simulator and real cluster, or two seeds) can be compared.
//!
//! Schema 2 (`"schema": 2`) is additive over schema 1: every object keeps its schema-1 fields
//! (`phase`, `conditions` as type/status/reason, `replicas`, `status_replicas`, `version`,
//! `deleting`) and gains its `metadata` (labels, annotations, finalizers, owner references as
//! kind/name, whether it is being deleted, its creation order), `spec`, `status` (conditions with
//! their messages) and, for kinds without a spec, their other top-level fields (a ConfigMap's `data`);
//! the outcome gains the ordered list of `events`. Secrets are redacted ([`crate::redact`]).
//!
//! The normalizer ([`Outcome::normalized`]) is shared by both backends: generated name suffixes,
//! times, uids, IP addresses and resourceVersions are replaced by placeholders, maps are sorted.

use crate::predicate::ContainerInfo;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::cmp::Ordering;
use std::collections::BTreeMap;

/// The outcome schema this code writes.
pub const SCHEMA: u32 = 2;

fn schema_1() -> u32 {
    1
}

/// The final state of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    /// The schema of this outcome ([`SCHEMA`]; outcomes written before schemas were numbered read as 1).
    #[serde(default = "schema_1")]
    pub schema: u32,
    /// API objects of the scenario's namespaces, in (management, kind, namespace, name) order.
    pub objects: Vec<ObjectSummary>,
    /// Containers of the scenario's clusters, in name order.
    pub containers: Vec<ContainerInfo>,
    /// Events about the scenario's objects, oldest first (schema 2).
    #[serde(default)]
    pub events: Vec<EventSummary>,
}

impl Default for Outcome {
    fn default() -> Self {
        Outcome { schema: SCHEMA, objects: Vec::new(), containers: Vec::new(), events: Vec::new() }
    }
}

/// One API object, reduced to what matters for behaviour.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
    /// Schema 2: the metadata that carries behaviour.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<MetaSummary>,
    /// Schema 2: `spec` as stored (secrets redacted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<Value>,
    /// Schema 2: `status` as stored, conditions with their messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Value>,
    /// Schema 2: the other top-level fields of kinds without a spec (`data`, `type`, ...; secrets
    /// redacted).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, Value>,
}

/// An object's metadata as the outcome keeps it (schema 2).
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetaSummary {
    /// Labels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Annotations (`kubectl.kubernetes.io/last-applied-configuration` left out).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Finalizers, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub finalizers: Vec<String>,
    /// Owner references as kind and name, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub owner_references: Vec<OwnerSummary>,
    /// `deletionTimestamp` is set.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deletion_timestamp: bool,
    /// The object's place in creation order among the outcome's objects (by `creationTimestamp`,
    /// then kind and name), from 0.
    #[serde(default)]
    pub creation_order: usize,
    /// `creationTimestamp` (dropped by normalization; kept to compute the order).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub creation_timestamp: String,
}

/// An owner reference.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct OwnerSummary {
    /// Kind.
    pub kind: String,
    /// Name.
    pub name: String,
    /// `controller: true`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub controller: bool,
}

/// One Event (schema 2).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct EventSummary {
    /// Management cluster.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub management: String,
    /// `Normal` or `Warning`.
    #[serde(rename = "type")]
    pub type_: String,
    /// Reason.
    pub reason: String,
    /// Message.
    pub message: String,
    /// The object it is about.
    #[serde(rename = "involvedObject")]
    pub involved: InvolvedSummary,
    /// How many times it was recorded.
    pub count: i64,
    /// `firstTimestamp`.
    #[serde(default, rename = "firstTime")]
    pub first_time: String,
    /// `lastTimestamp`.
    #[serde(default, rename = "lastTime")]
    pub last_time: String,
    /// The recording component (`source.component`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub source: String,
}

/// The object an event is about.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct InvolvedSummary {
    /// Kind.
    pub kind: String,
    /// Namespace.
    #[serde(default)]
    pub namespace: String,
    /// Name.
    pub name: String,
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
    /// The schema-1 part of the summary, as a sortable key.
    #[allow(clippy::type_complexity)]
    fn schema1_key(
        &self,
    ) -> (&str, &str, &str, &str, &str, &Option<String>, &Vec<ConditionSummary>, &Option<i64>, &Option<ReplicaCounts>, &Option<String>, bool)
    {
        (
            &self.management,
            &self.api_version,
            &self.kind,
            &self.namespace,
            &self.name,
            &self.phase,
            &self.conditions,
            &self.replicas,
            &self.status_replicas,
            &self.version,
            self.deleting,
        )
    }
}

impl PartialOrd for ObjectSummary {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ObjectSummary {
    /// By identity and the schema-1 fields first (as schema 1 ordered), then the schema-2 parts.
    fn cmp(&self, other: &Self) -> Ordering {
        self.schema1_key().cmp(&other.schema1_key()).then_with(|| self.metadata.cmp(&other.metadata)).then_with(|| {
            let rest = |o: &ObjectSummary| {
                (o.spec.as_ref().map(Value::to_string), o.status.as_ref().map(Value::to_string), serde_json::to_string(&o.fields).ok())
            };
            rest(self).cmp(&rest(other))
        })
    }
}

/// Top-level fields of an object that are neither identity, metadata, spec nor status.
const IDENTITY_FIELDS: &[&str] = &["apiVersion", "kind", "metadata", "spec", "status"];

/// Annotations that repeat the object or its history rather than carry behaviour.
const NOISE_ANNOTATIONS: &[&str] = &["kubectl.kubernetes.io/last-applied-configuration"];

impl ObjectSummary {
    /// Summarize a JSON object (secrets redacted).
    pub fn from_value(management: &str, v: &Value) -> Self {
        let v = crate::redact::object_cow(v);
        let v = v.as_ref();
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
        let deleting = v.pointer("/metadata/deletionTimestamp").is_some_and(|t| !t.is_null());
        let string_map = |p: &str| -> BTreeMap<String, String> {
            v.pointer(p)
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .filter(|(k, _)| !NOISE_ANNOTATIONS.contains(&k.as_str()))
                        .map(|(k, x)| (k.clone(), x.as_str().map_or_else(|| x.to_string(), str::to_string)))
                        .collect()
                })
                .unwrap_or_default()
        };
        let metadata = MetaSummary {
            labels: string_map("/metadata/labels"),
            annotations: string_map("/metadata/annotations"),
            finalizers: v
                .pointer("/metadata/finalizers")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
                .unwrap_or_default(),
            owner_references: v
                .pointer("/metadata/ownerReferences")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .map(|o| OwnerSummary {
                            kind: o.get("kind").and_then(Value::as_str).unwrap_or("").to_string(),
                            name: o.get("name").and_then(Value::as_str).unwrap_or("").to_string(),
                            controller: o.get("controller").and_then(Value::as_bool).unwrap_or(false),
                        })
                        .collect()
                })
                .unwrap_or_default(),
            deletion_timestamp: deleting,
            creation_order: 0,
            creation_timestamp: s("/metadata/creationTimestamp").unwrap_or_default(),
        };
        let fields: BTreeMap<String, Value> = v
            .as_object()
            .map(|m| m.iter().filter(|(k, _)| !IDENTITY_FIELDS.contains(&k.as_str())).map(|(k, x)| (k.clone(), x.clone())).collect())
            .unwrap_or_default();
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
            deleting,
            metadata: Some(metadata),
            spec: v.get("spec").cloned(),
            status: v.get("status").cloned(),
            fields,
        }
    }
}

impl EventSummary {
    /// Summarize a `core/v1` Event object (`None` if it is not one).
    pub fn from_value(management: &str, v: &Value) -> Option<Self> {
        if v.get("kind").and_then(Value::as_str) != Some("Event") {
            return None;
        }
        let s = |p: &str| v.pointer(p).and_then(Value::as_str).unwrap_or("").to_string();
        Some(EventSummary {
            management: management.to_string(),
            type_: s("/type"),
            reason: s("/reason"),
            message: crate::redact::text(&s("/message")).into_owned(),
            involved: InvolvedSummary {
                kind: s("/involvedObject/kind"),
                namespace: s("/involvedObject/namespace"),
                name: s("/involvedObject/name"),
            },
            count: v.get("count").and_then(Value::as_i64).unwrap_or(1),
            first_time: s("/firstTimestamp"),
            last_time: s("/lastTimestamp"),
            source: s("/source/component"),
        })
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
    /// An outcome of the current schema.
    pub fn new(mut objects: Vec<ObjectSummary>, containers: Vec<ContainerInfo>, mut events: Vec<EventSummary>) -> Self {
        assign_creation_order(&mut objects);
        events.sort_by(|a, b| {
            (&a.first_time, &a.last_time, &a.involved, &a.reason, &a.message).cmp(&(
                &b.first_time,
                &b.last_time,
                &b.involved,
                &b.reason,
                &b.message,
            ))
        });
        Outcome { schema: SCHEMA, objects, containers, events }
    }

    /// The normalized form: names with generated suffixes replaced, times, uids, IPs and versions
    /// replaced by placeholders, sorted; labels of containers reduced to CAPD's.
    pub fn normalized(&self) -> Outcome {
        let mut objects: Vec<ObjectSummary> = self.objects.iter().map(normalize_object).collect();
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
        // Events keep their order (it is behaviour); their times go.
        let events = self
            .events
            .iter()
            .map(|e| EventSummary {
                message: normalize_text(&e.message),
                involved: InvolvedSummary { name: normalize_name(&e.involved.name), ..e.involved.clone() },
                first_time: String::new(),
                last_time: String::new(),
                ..e.clone()
            })
            .collect();
        Outcome { schema: self.schema, objects, containers, events }
    }
}

/// Number the objects in creation order (by `creationTimestamp`, then kind and name).
fn assign_creation_order(objects: &mut [ObjectSummary]) {
    let mut order: Vec<usize> = (0..objects.len()).collect();
    let key = |o: &ObjectSummary| {
        (
            o.management.clone(),
            o.metadata.as_ref().map(|m| m.creation_timestamp.clone()).unwrap_or_default(),
            o.kind.clone(),
            o.name.clone(),
        )
    };
    order.sort_by_key(|i| key(&objects[*i]));
    for (rank, i) in order.into_iter().enumerate() {
        if let Some(m) = objects[i].metadata.as_mut() {
            m.creation_order = rank;
        }
    }
}

fn normalize_object(o: &ObjectSummary) -> ObjectSummary {
    ObjectSummary {
        name: normalize_name(&o.name),
        metadata: o.metadata.as_ref().map(|m| MetaSummary {
            labels: m.labels.iter().map(|(k, v)| (k.clone(), normalize_text(v))).collect(),
            annotations: m.annotations.iter().map(|(k, v)| (k.clone(), normalize_text(v))).collect(),
            finalizers: m.finalizers.clone(),
            owner_references: m.owner_references.iter().map(|r| OwnerSummary { name: normalize_name(&r.name), ..r.clone() }).collect(),
            deletion_timestamp: m.deletion_timestamp,
            creation_order: m.creation_order,
            creation_timestamp: String::new(),
        }),
        spec: o.spec.as_ref().map(normalize_value),
        status: o.status.as_ref().map(normalize_value),
        fields: o.fields.iter().map(|(k, v)| (k.clone(), normalize_value(v))).collect(),
        ..o.clone()
    }
}

/// Keys whose values are bookkeeping of one API server or identities one node drew for itself
/// (never behaviour): a KinD node's `/etc/machine-id` and boot id are new in every container, so
/// `status.nodeInfo.machineID` / `bootID` / `systemUUID` cannot match across two runs.
const VOLATILE_KEYS: &[&str] = &["uid", "resourceVersion", "managedFields", "machineID", "bootID", "systemUUID"];

/// A JSON value with the random parts of its strings replaced ([`normalize_text`]) and the keys of
/// [`VOLATILE_KEYS`] removed, maps sorted.
pub fn normalize_value(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut out = Map::new();
            let mut keys: Vec<&String> = m.keys().filter(|k| !VOLATILE_KEYS.contains(&k.as_str())).collect();
            keys.sort();
            for k in keys {
                out.insert(k.clone(), normalize_value(&m[k]));
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(normalize_value).collect()),
        Value::String(s) => Value::String(normalize_text(s)),
        other => other.clone(),
    }
}

/// Text with its random parts replaced: RFC 3339 times by `{time}`, IPv4 addresses by `{ip}`, uids by
/// `{uid}`, and generated name suffixes (inside words separated by `/`, ` `, `:`, `"` ...) by
/// `{rand}`.
pub fn normalize_text(s: &str) -> String {
    if s.is_empty() {
        return String::new();
    }
    let mut out = String::with_capacity(s.len());
    let mut token = String::new();
    let flush = |token: &mut String, out: &mut String| {
        if !token.is_empty() {
            out.push_str(&normalize_token(token));
            token.clear();
        }
    };
    for c in s.chars() {
        if c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == ':' || c == '_' {
            token.push(c);
        } else {
            flush(&mut token, &mut out);
            out.push(c);
        }
    }
    flush(&mut token, &mut out);
    out
}

fn normalize_token(t: &str) -> String {
    // Redacted secrets differ from run to run (keys and certificates are generated): only their
    // presence compares.
    if t.starts_with("redacted:sha256:") {
        return "redacted".into();
    }
    let looks_like_time = t.len() >= 20 && t.as_bytes().get(4) == Some(&b'-') && t.as_bytes().get(10) == Some(&b'T') && t.ends_with('Z');
    if looks_like_time {
        return "{time}".into();
    }
    let (host, port) = match t.rsplit_once(':') {
        Some((h, p)) if !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()) => (h, Some(p)),
        _ => (t, None),
    };
    if host.parse::<std::net::Ipv4Addr>().is_ok() {
        return match port {
            Some(p) => format!("{{ip}}:{p}"),
            None => "{ip}".into(),
        };
    }
    let is_uid =
        t.len() == 36 && t.chars().enumerate().all(|(i, c)| if [8, 13, 18, 23].contains(&i) { c == '-' } else { c.is_ascii_hexdigit() });
    if is_uid {
        return "{uid}".into();
    }
    if t.contains(':') {
        return t.split(':').map(normalize_name).collect::<Vec<_>>().join(":");
    }
    normalize_name(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn normalizes_generated_suffixes_only() {
        assert_eq!(normalize_name("capi-quickstart-md-0-x7b2k-9zzqp"), "capi-quickstart-md-0-{rand}-{rand}");
        assert_eq!(normalize_name("my-tests-lb"), "my-tests-lb");
        assert_eq!(normalize_name("capi-quickstart"), "capi-quickstart");
    }

    #[test]
    fn normalizes_times_ips_uids_and_names_inside_text() {
        assert_eq!(
            normalize_text(
                "Machine default/c-md-0-x7b2k-9zzqp at 2026-01-01T00:10:00Z on 172.18.0.3:6443 (uid 0f8fad5b-d9cb-469f-a165-70867728950e)"
            ),
            "Machine default/c-md-0-{rand}-{rand} at {time} on {ip}:6443 (uid {uid})"
        );
        assert_eq!(normalize_text("docker:////c-md-0-x7b2k"), "docker:////c-md-0-{rand}");
        assert_eq!(normalize_text("<redacted:sha256:31ba8a76>"), "<redacted>");
    }

    #[test]
    fn schema_2_is_additive_and_secrets_are_redacted() {
        let v = json!({
            "apiVersion": "cluster.x-k8s.io/v1beta2", "kind": "Machine",
            "metadata": {"name": "m-x7b2k", "namespace": "default", "labels": {"a": "b"}, "finalizers": ["f"],
                "annotations": {"cluster.x-k8s.io/paused": "", "kubectl.kubernetes.io/last-applied-configuration": "{}"},
                "ownerReferences": [{"kind": "MachineSet", "name": "ms-9zzqp", "controller": true, "uid": "u"}],
                "creationTimestamp": "2026-01-01T00:00:00Z"},
            "spec": {"clusterName": "c", "version": "v1.34.3"},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True", "reason": "Ready", "message": "", "lastTransitionTime": "2026-01-01T00:01:00Z"}]},
        });
        let o = ObjectSummary::from_value("mgmt", &v);
        assert_eq!(o.phase.as_deref(), Some("Running"));
        assert_eq!(o.version.as_deref(), Some("v1.34.3"));
        let m = o.metadata.clone().unwrap();
        assert_eq!(m.annotations.keys().collect::<Vec<_>>(), ["cluster.x-k8s.io/paused"]);
        assert_eq!(m.owner_references, vec![OwnerSummary { kind: "MachineSet".into(), name: "ms-9zzqp".into(), controller: true }]);
        let n = normalize_object(&o);
        assert_eq!(n.status.unwrap()["conditions"][0]["lastTransitionTime"], "{time}");
        assert_eq!(n.metadata.unwrap().owner_references[0].name, "ms-{rand}");
        let secret =
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"value": "c2VjcmV0"}, "type": "Opaque"});
        let s = ObjectSummary::from_value("mgmt", &secret);
        assert!(!serde_json::to_string(&s).unwrap().contains("c2VjcmV0"));
        assert_eq!(s.fields["type"], "Opaque");
    }

    #[test]
    fn schema_1_outcomes_still_load() {
        let old = r#"{"objects":[{"apiVersion":"v1","kind":"ConfigMap","namespace":"default","name":"x"}],"containers":[]}"#;
        let o: Outcome = serde_json::from_str(old).unwrap();
        assert_eq!(o.schema, 1);
        assert!(o.events.is_empty() && o.objects[0].metadata.is_none());
        assert_eq!(Outcome::default().schema, 2);
        let json = serde_json::to_value(Outcome::default()).unwrap();
        assert_eq!(json["schema"], 2);
    }
}

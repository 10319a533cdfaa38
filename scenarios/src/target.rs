//! What a step or predicate points at: one named object (`Cluster/capi-quickstart`) or every object of
//! a kind matching labels, a cluster, a role or a name prefix.

use crate::selector::LabelSelector;
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// The label CAPI puts on every object that belongs to a cluster.
pub const CLUSTER_NAME_LABEL: &str = "cluster.x-k8s.io/cluster-name";
/// The label CAPI puts on control-plane Machines.
pub const CONTROL_PLANE_LABEL: &str = "cluster.x-k8s.io/control-plane";

/// Objects a step acts on or a predicate reads.
///
/// Written either as `Kind/name`, `Kind` (every object of the kind), or as a map:
/// `{ kind: Machine, cluster: capi-quickstart, control-plane: false, selector: {...}, name-prefix: x, pick: first }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Target {
    /// Kubernetes kind, e.g. `Cluster`, `Machine`, `KubeadmControlPlane`.
    pub kind: String,
    /// Exact name.
    pub name: Option<String>,
    /// Namespace; `default` when omitted.
    pub namespace: Option<String>,
    /// Label requirements.
    pub selector: LabelSelector,
    /// Shortcut for the `cluster.x-k8s.io/cluster-name` label.
    pub cluster: Option<String>,
    /// Shortcut: `true` = has the control-plane label, `false` = has not.
    pub control_plane: Option<bool>,
    /// Name must start with this.
    pub name_prefix: Option<String>,
    /// For actions on a multi-object target: which objects (`first`/`last` by name, or `all`).
    pub pick: Option<Pick>,
    /// For predicates on a multi-object target: must `all` match (default) or `any`.
    pub quantifier: Quantifier,
    /// Management cluster to read or act on (the first one when omitted).
    pub management: Option<String>,
    /// Objects inside this workload cluster (read and acted on through its API, as
    /// `kubectl --kubeconfig <cluster>.kubeconfig` would) instead of the management cluster's.
    pub workload: Option<String>,
    /// A check every selected object must pass (`where: { field: {...} }`).
    pub filter: Option<Box<crate::predicate::ObjectCheck>>,
}

/// Which of several matching objects a step or predicate takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Pick {
    /// Lowest name.
    First,
    /// Highest name.
    Last,
    /// Every matching object.
    All,
    /// The one created first (`creationTimestamp`, then name).
    Oldest,
    /// The one created last (`creationTimestamp`, then name).
    Newest,
}

impl Pick {
    /// Whether it narrows a selection to one object.
    pub fn narrows(self) -> bool {
        !matches!(self, Pick::All)
    }
}

/// How a predicate over several objects combines them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Quantifier {
    /// Every matching object satisfies it (and at least one matches).
    #[default]
    All,
    /// At least one matching object satisfies it.
    Any,
}

impl Target {
    /// `Kind/name` in the default namespace.
    pub fn named(kind: &str, name: &str) -> Self {
        Target { kind: kind.into(), name: Some(name.into()), ..Default::default() }
    }

    /// The namespace, defaulted.
    pub fn namespace(&self) -> &str {
        self.namespace.as_deref().unwrap_or("default")
    }

    /// The full label selector, with the `cluster` and `control-plane` shortcuts folded in.
    pub fn label_selector(&self) -> LabelSelector {
        let mut sel = self.selector.clone();
        if let Some(c) = &self.cluster {
            sel.match_labels.insert(CLUSTER_NAME_LABEL.to_string(), c.clone());
        }
        match self.control_plane {
            Some(true) => sel = sel.with_requirement(CONTROL_PLANE_LABEL, crate::selector::Operator::Exists, vec![]),
            Some(false) => sel = sel.with_requirement(CONTROL_PLANE_LABEL, crate::selector::Operator::DoesNotExist, vec![]),
            None => {}
        }
        sel
    }

    /// Parse the `Kind/name` / `Kind` shorthand.
    pub fn parse_short(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let (kind, name) = match text.split_once('/') {
            Some((k, n)) => (k, Some(n)),
            None => (text, None),
        };
        if kind.is_empty() || !kind.chars().next().is_some_and(|c| c.is_ascii_uppercase()) {
            return Err(format!("invalid target `{text}`: expected `Kind/name` or `Kind` with a Kind such as `Cluster` or `Machine`"));
        }
        if let Some(n) = name {
            if n.is_empty() || n.contains('/') {
                return Err(format!("invalid target `{text}`: expected `Kind/name`"));
            }
        }
        Ok(Target { kind: kind.to_string(), name: name.map(str::to_string), ..Default::default() })
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.kind)?;
        if let Some(n) = &self.name {
            write!(f, "/{n}")?;
        }
        let sel = self.label_selector();
        let mut extras = Vec::new();
        if !sel.is_empty() {
            extras.push(format!("{sel}"));
        }
        if let Some(p) = &self.name_prefix {
            extras.push(format!("name^={p}"));
        }
        if let Some(w) = &self.workload {
            extras.push(format!("in workload {w}"));
        }
        if self.filter.is_some() {
            extras.push("where ...".to_string());
        }
        if let Some(p) = self.pick.filter(|p| p.narrows()) {
            extras.push(format!("pick {}", serde_json::to_value(p).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()));
        }
        if !extras.is_empty() {
            write!(f, "[{}]", extras.join(" "))?;
        }
        Ok(())
    }
}

impl<'de> Deserialize<'de> for Target {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Target;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a target: `Kind/name`, `Kind`, or a map with `kind` and optional `name`, `namespace`, `cluster`, `control-plane`, `selector`, `name-prefix`, `pick`, `match`, `management`, `workload`, `where`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Target, E> {
                Target::parse_short(v).map_err(E::custom)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Target, A::Error> {
                let mut t = Target::default();
                let mut kind = None;
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "kind" => kind = Some(map.next_value::<String>()?),
                        "name" => t.name = Some(map.next_value()?),
                        "namespace" => t.namespace = Some(map.next_value()?),
                        "cluster" => t.cluster = Some(map.next_value()?),
                        "control-plane" => t.control_plane = Some(map.next_value()?),
                        "selector" => {
                            let labels: BTreeMap<String, String> = map.next_value()?;
                            t.selector.match_labels.extend(labels);
                        }
                        "name-prefix" => t.name_prefix = Some(map.next_value()?),
                        "pick" => t.pick = Some(map.next_value()?),
                        "match" => t.quantifier = map.next_value()?,
                        "management" => t.management = Some(map.next_value()?),
                        "workload" => t.workload = Some(map.next_value()?),
                        "where" => t.filter = Some(Box::new(map.next_value()?)),
                        other => {
                            return Err(de::Error::unknown_field(
                                other,
                                &[
                                    "kind",
                                    "name",
                                    "namespace",
                                    "cluster",
                                    "control-plane",
                                    "selector",
                                    "name-prefix",
                                    "pick",
                                    "match",
                                    "management",
                                    "workload",
                                    "where",
                                ],
                            ))
                        }
                    }
                }
                t.kind = kind.ok_or_else(|| de::Error::missing_field("kind"))?;
                if t.name.is_some() && t.kind.contains('/') {
                    return Err(de::Error::custom(format!("`kind` must be a bare Kind, got `{}`", t.kind)));
                }
                if t.workload.is_some() && t.management.is_some() {
                    return Err(de::Error::custom("a target takes `workload` or `management`, not both"));
                }
                Ok(t)
            }
        }
        d.deserialize_any(V)
    }
}

/// A path into an object: the dotted form (`spec.replicas`, `status.conditions[type=Ready].status`,
/// `spec.items.0.name`), or, when it starts with `$`, an RFC 9535 JSONPath
/// (`$.metadata.annotations['cluster.x-k8s.io/paused']`,
/// `$.status.conditions[?@.type=='Ready'].message`). A JSONPath that selects one node reads that
/// value; several nodes read as the list of them; none reads as absent.
#[derive(Debug, Clone, Serialize)]
#[serde(into = "String")]
pub struct FieldPath {
    text: String,
    segments: Vec<Segment>,
    json_path: Option<serde_json_path::JsonPath>,
}

impl PartialEq for FieldPath {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for FieldPath {}

/// One step of a [`FieldPath`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// A map key.
    Key(String),
    /// An array index.
    Index(usize),
    /// The array element whose `key` equals `value` (`conditions[type=Ready]`).
    Match(String, String),
}

impl FieldPath {
    /// Parse a path (dotted, or JSONPath when it starts with `$`).
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.trim_start().starts_with('$') {
            let jp = serde_json_path::JsonPath::parse(text.trim()).map_err(|e| format!("invalid JSONPath `{text}`: {e}"))?;
            return Ok(FieldPath { text: text.to_string(), segments: Vec::new(), json_path: Some(jp) });
        }
        let mut segments = Vec::new();
        for raw in text.split('.') {
            if raw.is_empty() {
                return Err(format!(
                    "invalid field path `{text}`: empty segment (for keys with dots use JSONPath: `$.metadata.labels['a.b/c']`)"
                ));
            }
            let (key, filter) = match raw.find('[') {
                Some(i) => {
                    let inner = raw[i + 1..].strip_suffix(']').ok_or_else(|| format!("invalid field path `{text}`: `[` without `]`"))?;
                    (&raw[..i], Some(inner))
                }
                None => (raw, None),
            };
            if !key.is_empty() {
                match key.parse::<usize>() {
                    Ok(i) => segments.push(Segment::Index(i)),
                    Err(_) => segments.push(Segment::Key(key.to_string())),
                }
            }
            if let Some(inner) = filter {
                match inner.split_once('=') {
                    Some((k, v)) => segments.push(Segment::Match(k.to_string(), v.to_string())),
                    None => segments.push(Segment::Index(
                        inner
                            .parse()
                            .map_err(|_| format!("invalid field path `{text}`: `[{inner}]` is neither an index nor `key=value`"))?,
                    )),
                }
            }
        }
        Ok(FieldPath { text: text.to_string(), segments, json_path: None })
    }

    /// The segments of a dotted path (empty for a JSONPath).
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// Whether this is a JSONPath.
    pub fn is_json_path(&self) -> bool {
        self.json_path.is_some()
    }

    /// The leading map keys of the path (up to the first index or match), e.g. `["data", "value"]`;
    /// for a JSONPath, its leading `.name` / `['name']` selectors as written.
    pub fn key_head(&self) -> Vec<&str> {
        if self.json_path.is_some() {
            let mut out = Vec::new();
            let mut rest = self.text.trim().trim_start_matches('$');
            loop {
                if let Some(r) = rest.strip_prefix('.') {
                    let end = r.find(['.', '[']).unwrap_or(r.len());
                    if end == 0 || r.starts_with('.') {
                        break;
                    }
                    out.push(&r[..end]);
                    rest = &r[end..];
                } else if let Some(r) = rest.strip_prefix("['") {
                    let Some(end) = r.find("']") else { break };
                    out.push(&r[..end]);
                    rest = &r[end + 2..];
                } else {
                    break;
                }
            }
            return out;
        }
        self.segments
            .iter()
            .map_while(|s| match s {
                Segment::Key(k) => Some(k.as_str()),
                _ => None,
            })
            .collect()
    }

    /// The path as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Follow the path in a JSON value (see the type's doc for JSONPaths).
    pub fn lookup<'v>(&self, value: &'v serde_json::Value) -> Option<std::borrow::Cow<'v, serde_json::Value>> {
        match &self.json_path {
            Some(jp) => {
                let nodes = jp.query(value).all();
                match nodes.len() {
                    0 => None,
                    1 => Some(std::borrow::Cow::Borrowed(nodes[0])),
                    _ => Some(std::borrow::Cow::Owned(serde_json::Value::Array(nodes.into_iter().cloned().collect()))),
                }
            }
            None => lookup(value, &self.segments).map(std::borrow::Cow::Borrowed),
        }
    }
}

/// Whether a JSON scalar is written `text` (strings as themselves, numbers and booleans as JSON).
fn scalar_is(x: &serde_json::Value, text: &str) -> bool {
    match x.as_str() {
        Some(s) => s == text,
        None => {
            let written = x.to_string();
            written == text
        }
    }
}

/// Follow segments in a JSON value.
pub fn lookup<'v>(mut value: &'v serde_json::Value, segments: &[Segment]) -> Option<&'v serde_json::Value> {
    for seg in segments {
        value = match seg {
            Segment::Key(k) => value.get(k.as_str())?,
            Segment::Index(i) => value.get(*i)?,
            Segment::Match(k, v) => value.as_array()?.iter().find(|item| item.get(k.as_str()).is_some_and(|x| scalar_is(x, v)))?,
        };
    }
    Some(value)
}

impl From<FieldPath> for String {
    fn from(p: FieldPath) -> String {
        p.text
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for FieldPath {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        FieldPath::parse(&s).map_err(de::Error::custom)
    }
}

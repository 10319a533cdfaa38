//! A point-in-time view of a real cluster and Docker host that predicates evaluate over: the objects
//! of the kinds a predicate reads (from the watch caches for `wait`, from fresh lists for `expect`)
//! and the containers the safety policy lets the backend see.

use capi_scenarios::predicate::{AsyncStatus, ClusterView, ContainerInfo, Resource, WorldView};
use capi_scenarios::LabelSelector;
use serde_json::Value;
use std::collections::BTreeMap;

/// Objects of one kind: keyed by (namespace, name), or why they could not be read.
pub type KindObjects = Result<BTreeMap<(String, String), Value>, String>;

/// The objects of one management cluster, by kind as targets write it.
#[derive(Debug, Clone, Default)]
pub struct ClusterSnapshot {
    /// Kind (as written in the scenario) → objects.
    pub kinds: BTreeMap<String, KindObjects>,
    /// Kinds that are cluster-scoped (their namespace is ignored).
    pub cluster_scoped: std::collections::BTreeSet<String>,
}

impl ClusterSnapshot {
    fn objects(&self, kind: &str) -> Result<&BTreeMap<(String, String), Value>, String> {
        match self.kinds.get(kind) {
            Some(Ok(m)) => Ok(m),
            Some(Err(e)) => Err(e.clone()),
            None => Err(format!("kind `{kind}` was not read (internal: the backend did not fetch it)")),
        }
    }
}

impl ClusterView for ClusterSnapshot {
    fn get(&self, kind: &str, namespace: &str, name: &str) -> Result<Option<&dyn Resource>, String> {
        let ns = if self.cluster_scoped.contains(kind) { "" } else { namespace };
        Ok(self.objects(kind)?.get(&(ns.to_string(), name.to_string())).map(|v| v as &dyn Resource))
    }

    fn list(&self, kind: &str, namespace: Option<&str>, selector: &LabelSelector) -> Result<Vec<&dyn Resource>, String> {
        let scoped = self.cluster_scoped.contains(kind);
        let mut out: Vec<&dyn Resource> = self
            .objects(kind)?
            .iter()
            .filter(|((ns, _), _)| scoped || namespace.is_none_or(|want| ns == want))
            .filter(|(_, v)| selector.matches(|k| v.label(k)))
            .map(|(_, v)| v as &dyn Resource)
            .collect();
        out.sort_by(|a, b| a.name().cmp(b.name()));
        Ok(out)
    }
}

/// Everything a predicate can read.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Management clusters by name, in the scenario's order (the first is the default).
    pub managements: Vec<(String, ClusterSnapshot)>,
    /// Containers the policy allows.
    pub containers: Vec<ContainerInfo>,
    /// Objects inside workload clusters (by cluster name) that `workload:` targets read.
    pub workloads: BTreeMap<String, ClusterSnapshot>,
    /// Steps running in the background, by name.
    pub background: BTreeMap<String, AsyncStatus>,
}

impl WorldView for Snapshot {
    fn management(&self, name: Option<&str>) -> Result<&dyn ClusterView, String> {
        let found = match name {
            None => self.managements.first(),
            Some(n) => self.managements.iter().find(|(m, _)| m == n),
        };
        found.map(|(_, c)| c as &dyn ClusterView).ok_or_else(|| format!("no management cluster named `{}`", name.unwrap_or("")))
    }

    fn workload(&self, _management: Option<&str>, cluster: &str) -> Result<&dyn ClusterView, String> {
        self.workloads
            .get(cluster)
            .map(|c| c as &dyn ClusterView)
            .ok_or_else(|| format!("the workload cluster `{cluster}` was not read (internal: the backend did not fetch it)"))
    }

    fn containers(&self) -> Vec<ContainerInfo> {
        self.containers.clone()
    }

    fn async_step(&self, name: &str) -> Option<AsyncStatus> {
        self.background.get(name).cloned()
    }
}

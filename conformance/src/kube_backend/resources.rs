//! From what scenarios write (`Machine`, `apiVersion: cluster.x-k8s.io/v1beta2` + `kind: Cluster`) to
//! what the API server serves ([`ApiResource`]: group, version, plural; and whether it is
//! namespaced), by discovery, cached per client.
//!
//! Bare kind names are looked up first in the simulator's kind catalogue (which group serves
//! `Machine`), and then only that group is discovered, at its preferred version; a kind the catalogue
//! does not know falls back to a full discovery (aggregated when the server supports it). Failures
//! are not cached: CRDs may appear later in a run.

use kube::core::discovery::Scope;
use kube::discovery::{self, ApiGroup, Discovery};
use kube::{api::GroupVersionKind, core::ApiResource, Client};
use std::collections::BTreeMap;

/// A served kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// Group, version, kind, plural.
    pub ar: ApiResource,
    /// Namespaced (or cluster-scoped).
    pub namespaced: bool,
}

impl Resolved {
    /// The kind's dynamic API through `client`: in namespace `ns` when the kind is namespaced, else
    /// cluster-wide (`ns` is then ignored).
    pub fn api(&self, client: &Client, ns: &str) -> kube::Api<kube::api::DynamicObject> {
        if self.namespaced {
            kube::Api::namespaced_with(client.clone(), ns, &self.ar)
        } else {
            kube::Api::all_with(client.clone(), &self.ar)
        }
    }
}

/// Kind resolution for one API server.
pub struct Kinds {
    client: Client,
    by_gvk: BTreeMap<(String, String), Resolved>,
    by_name: BTreeMap<String, Resolved>,
    groups: BTreeMap<String, ApiGroup>,
}

fn resolved(ar: ApiResource, caps: &kube::core::discovery::ApiCapabilities) -> Resolved {
    Resolved { ar, namespaced: caps.scope == Scope::Namespaced }
}

impl Kinds {
    /// Resolution through `client`.
    pub fn new(client: Client) -> Self {
        Kinds { client, by_gvk: BTreeMap::new(), by_name: BTreeMap::new(), groups: BTreeMap::new() }
    }

    /// The kind of a manifest object (`apiVersion` + `kind`).
    pub async fn by_api_version(&mut self, api_version: &str, kind: &str) -> Result<Resolved, String> {
        let key = (api_version.to_string(), kind.to_string());
        if let Some(r) = self.by_gvk.get(&key) {
            return Ok(r.clone());
        }
        let (group, version) = match api_version.rsplit_once('/') {
            Some((g, v)) => (g, v),
            None => ("", api_version),
        };
        let gvk = GroupVersionKind::gvk(group, version, kind);
        let (ar, caps) = discovery::pinned_kind(&self.client, &gvk)
            .await
            .map_err(|e| format!("no matches for kind \"{kind}\" in version \"{api_version}\": {e}"))?;
        let r = resolved(ar, &caps);
        self.by_gvk.insert(key, r.clone());
        Ok(r)
    }

    /// A kind by name as targets write it (`Machine`; plural and singular resource names too).
    pub async fn by_name(&mut self, name: &str) -> Result<Resolved, String> {
        if let Some(r) = self.by_name.get(name) {
            return Ok(r.clone());
        }
        if let Some(kind) = capi_sim::kinds::Kind::lookup(name) {
            let info = kind.info();
            if let Some((ar, caps)) = self.group(info.group).await?.recommended_kind(info.name) {
                let r = resolved(ar, &caps);
                self.by_name.insert(name.to_string(), r.clone());
                return Ok(r);
            }
        }
        let r = self.discover(name).await?;
        self.by_name.insert(name.to_string(), r.clone());
        Ok(r)
    }

    /// A kind of the simulator's catalogue as this server serves it: `None` when its group or the
    /// kind is not served (no full discovery, unlike [`Kinds::by_name`]).
    pub async fn catalogue(&mut self, kind: capi_sim::kinds::Kind) -> Option<Resolved> {
        let info = kind.info();
        if let Some(r) = self.by_name.get(info.name) {
            return Some(r.clone());
        }
        let (ar, caps) = self.group(info.group).await.ok()?.recommended_kind(info.name)?;
        let r = resolved(ar, &caps);
        self.by_name.insert(info.name.to_string(), r.clone());
        Some(r)
    }

    async fn group(&mut self, group: &str) -> Result<&ApiGroup, String> {
        if !self.groups.contains_key(group) {
            let g = discovery::group(&self.client, group)
                .await
                .map_err(|e| format!("the server does not serve the API group \"{group}\": {e}"))?;
            self.groups.insert(group.to_string(), g);
        }
        self.groups.get(group).ok_or_else(|| format!("API group \"{group}\" vanished"))
    }

    async fn discover(&mut self, name: &str) -> Result<Resolved, String> {
        // Aggregated discovery first; a server that does not answer it (or answers with an
        // empty list, as the served workload clusters do) gets the per-group discovery.
        let d = match Discovery::new(self.client.clone()).run_aggregated().await {
            Ok(d) if d.groups().next().is_some() => d,
            _ => Discovery::new(self.client.clone()).run().await.map_err(|e| format!("discovery failed: {e}"))?,
        };
        let lower = name.to_ascii_lowercase();
        let mut found: Vec<(u8, Resolved)> = Vec::new();
        for g in d.groups() {
            for (ar, caps) in g.recommended_resources() {
                if ar.kind == name || ar.plural == lower || ar.kind.to_ascii_lowercase() == lower {
                    // Prefer the core group, then Cluster API's groups, then the rest.
                    let rank = if ar.group.is_empty() {
                        0
                    } else if ar.group.ends_with("cluster.x-k8s.io") {
                        1
                    } else {
                        2
                    };
                    found.push((rank, resolved(ar, &caps)));
                }
            }
        }
        found.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.ar.group.cmp(&b.1.ar.group)));
        found.into_iter().next().map(|(_, r)| r).ok_or_else(|| format!("the server doesn't have a resource type \"{name}\""))
    }
}

//! The Docker layer of the conformance backend (bollard): list, inspect, kill, pause, unpause, stop,
//! start and remove containers, and run decoys.
//!
//! Safety lives here and only here: every action first inspects the container and asks one
//! [`ContainerPolicy`] whether it may be touched. A container may be touched only when it carries
//! CAPD's `io.x-k8s.kind.cluster` label with one of the scenario's Cluster names, or the harness's own
//! `capi-harness.io/owner` label with this run's id. Anything else (the user's containers, the KinD
//! management cluster's node, another run's containers) gets [`DockerError::Refused`]. Listing only
//! ever returns allowed containers, so the rest of the crate never even sees other containers.

use bollard::query_parameters::{
    CreateContainerOptionsBuilder, CreateImageOptionsBuilder, KillContainerOptionsBuilder, ListContainersOptionsBuilder,
    RemoveContainerOptionsBuilder, StopContainerOptionsBuilder,
};
use bollard::Docker;
use capi_scenarios::predicate::{ContainerInfo, KIND_CLUSTER_LABEL};
use futures::StreamExt as _;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Label the harness puts on every container it starts itself; its value is the run id.
pub const HARNESS_OWNER_LABEL: &str = "capi-harness.io/owner";
/// Label naming what a harness container is for (`decoy`).
pub const HARNESS_ROLE_LABEL: &str = "capi-harness.io/role";
/// Image of a decoy when the scenario names none (as the simulator assumes).
pub const DEFAULT_DECOY_IMAGE: &str = "busybox:stable";

/// A failed Docker operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DockerError {
    /// The engine could not be reached (no socket, no permission, version negotiation failed).
    #[error("cannot reach the Docker engine: {0}")]
    Unreachable(String),
    /// The container is not labelled for the scenario's clusters or by this run of the harness.
    #[error("refusing to touch container `{name}`: {reason}")]
    Refused {
        /// Container name (or what was asked for).
        name: String,
        /// Why.
        reason: String,
    },
    /// No such container.
    #[error("no such container: {0}")]
    NotFound(String),
    /// The engine refused or failed the request.
    #[error("docker {op} {target}: {message}")]
    Api {
        /// What was attempted (`kill`, `pause`...).
        op: &'static str,
        /// On what.
        target: String,
        /// The engine's message.
        message: String,
    },
}

/// The result type of this module.
pub type Result<T, E = DockerError> = std::result::Result<T, E>;

/// Why a container may be touched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Allowed {
    /// CAPD created it for this scenario Cluster.
    Scenario(String),
    /// This run of the harness started it.
    Harness,
}

/// Which containers the harness may touch: the scenario's Cluster names (CAPD's
/// `io.x-k8s.kind.cluster` label) and this run's id (the `capi-harness.io/owner` label). Cluster names
/// in `protected` (the KinD management cluster) are never allowed, whatever the scenario says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerPolicy {
    clusters: BTreeSet<String>,
    owner: String,
    protected: BTreeSet<String>,
}

impl ContainerPolicy {
    /// A policy for these Cluster names and this run id. Fails when a Cluster name is protected
    /// (a scenario Cluster named like the management cluster would make its node look like ours).
    pub fn new(
        clusters: impl IntoIterator<Item = String>,
        owner: impl Into<String>,
        protected: impl IntoIterator<Item = String>,
    ) -> Result<Self> {
        let owner = owner.into();
        if owner.trim().is_empty() {
            return Err(DockerError::Refused { name: String::new(), reason: "the harness run id must not be empty".into() });
        }
        let protected: BTreeSet<String> = protected.into_iter().collect();
        let clusters: BTreeSet<String> = clusters.into_iter().filter(|c| !c.is_empty()).collect();
        if let Some(c) = clusters.iter().find(|c| protected.contains(*c)) {
            return Err(DockerError::Refused {
                name: c.clone(),
                reason: format!("a scenario Cluster is named `{c}`, like a protected KinD cluster; rename it"),
            });
        }
        Ok(ContainerPolicy { clusters, owner, protected })
    }

    /// The scenario's Cluster names.
    pub fn clusters(&self) -> &BTreeSet<String> {
        &self.clusters
    }

    /// This run's id.
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// The same policy with more Cluster names (a Cluster created by a later step).
    pub fn with_cluster(&self, cluster: &str) -> Result<Self> {
        let mut clusters = self.clusters.clone();
        clusters.insert(cluster.to_string());
        ContainerPolicy::new(clusters, self.owner.clone(), self.protected.clone())
    }

    /// Whether a container with these labels may be touched, and why (or why not).
    pub fn check(&self, labels: &BTreeMap<String, String>) -> std::result::Result<Allowed, String> {
        if let Some(c) = labels.get(KIND_CLUSTER_LABEL) {
            if self.protected.contains(c) {
                return Err(format!("it belongs to the protected KinD cluster `{c}`"));
            }
            if self.clusters.contains(c) {
                return Ok(Allowed::Scenario(c.clone()));
            }
        }
        match labels.get(HARNESS_OWNER_LABEL) {
            Some(o) if *o == self.owner && !labels.contains_key(KIND_CLUSTER_LABEL) => Ok(Allowed::Harness),
            Some(o) if *o != self.owner => Err(format!("it belongs to another harness run (`{HARNESS_OWNER_LABEL}={o}`)")),
            _ => Err(match labels.get(KIND_CLUSTER_LABEL) {
                Some(c) => format!("its cluster `{c}` is not one of the scenario's clusters"),
                None => format!("it carries neither `{KIND_CLUSTER_LABEL}` of a scenario cluster nor `{HARNESS_OWNER_LABEL}`"),
            }),
        }
    }
}

/// The Docker engine, seen through a [`ContainerPolicy`].
#[derive(Clone)]
pub struct DockerHost {
    docker: Docker,
    policy: ContainerPolicy,
}

impl std::fmt::Debug for DockerHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DockerHost").field("policy", &self.policy).finish()
    }
}

fn api<'a>(op: &'static str, target: &'a str) -> impl FnOnce(bollard::errors::Error) -> DockerError + 'a {
    move |e| match e {
        bollard::errors::Error::DockerResponseServerError { status_code: 404, message } => {
            DockerError::NotFound(format!("{target} ({message})"))
        }
        bollard::errors::Error::DockerResponseServerError { message, .. } => DockerError::Api { op, target: target.to_string(), message },
        other => DockerError::Api { op, target: target.to_string(), message: other.to_string() },
    }
}

fn labels_of(map: Option<HashMap<String, String>>) -> BTreeMap<String, String> {
    map.unwrap_or_default().into_iter().collect()
}

impl DockerHost {
    /// Connect to the local engine (`DOCKER_HOST` or the default socket) and negotiate the API version
    /// (the engine here speaks 1.41; bollard's default is newer).
    pub async fn connect(policy: ContainerPolicy) -> Result<Self> {
        let docker = Docker::connect_with_local_defaults().map_err(|e| DockerError::Unreachable(e.to_string()))?;
        let docker = docker.negotiate_version().await.map_err(|e| DockerError::Unreachable(e.to_string()))?;
        docker.ping().await.map_err(|e| DockerError::Unreachable(e.to_string()))?;
        Ok(DockerHost { docker, policy })
    }

    /// The same engine under another policy.
    pub fn with_policy(&self, policy: ContainerPolicy) -> Self {
        DockerHost { docker: self.docker.clone(), policy }
    }

    /// The policy.
    pub fn policy(&self) -> &ContainerPolicy {
        &self.policy
    }

    /// The raw client, for tests that set up containers of their own.
    pub fn raw(&self) -> &Docker {
        &self.docker
    }

    /// Every container the policy allows (running or not), in name order.
    pub async fn list(&self) -> Result<Vec<ContainerInfo>> {
        let mut filters: Vec<String> = self.policy.clusters.iter().map(|c| format!("{KIND_CLUSTER_LABEL}={c}")).collect();
        filters.push(format!("{HARNESS_OWNER_LABEL}={}", self.policy.owner));
        let mut seen: BTreeMap<String, ContainerInfo> = BTreeMap::new();
        // Docker ANDs label filters, so each allowed label is one query.
        for f in filters {
            let mut by = HashMap::new();
            by.insert("label".to_string(), vec![f]);
            let opts = ListContainersOptionsBuilder::default().all(true).filters(&by).build();
            let found = self.docker.list_containers(Some(opts)).await.map_err(api("ps", "containers"))?;
            for s in found {
                let labels = labels_of(s.labels);
                if self.policy.check(&labels).is_err() {
                    continue;
                }
                let name = s.names.unwrap_or_default().first().map(|n| n.trim_start_matches('/').to_string()).unwrap_or_default();
                let info = ContainerInfo {
                    name: name.clone(),
                    image: s.image.unwrap_or_default(),
                    state: s.state.map(|st| st.to_string()).unwrap_or_default(),
                    labels,
                };
                seen.insert(name, info);
            }
        }
        Ok(seen.into_values().collect())
    }

    /// Inspect a container the policy allows; returns its id and what predicates see of it.
    pub async fn inspect(&self, name: &str) -> Result<(String, ContainerInfo)> {
        let r = self.docker.inspect_container(name, None).await.map_err(api("inspect", name))?;
        let config = r.config.unwrap_or_default();
        let labels = labels_of(config.labels);
        let real_name = r.name.unwrap_or_default().trim_start_matches('/').to_string();
        if let Err(reason) = self.policy.check(&labels) {
            return Err(DockerError::Refused { name: name.to_string(), reason });
        }
        let state = r.state.and_then(|s| s.status).map(|s| s.to_string()).unwrap_or_default();
        let id = r.id.unwrap_or_else(|| name.to_string());
        Ok((id, ContainerInfo { name: real_name, image: config.image.unwrap_or_default(), state, labels }))
    }

    /// Check a container against the policy; its id when allowed.
    async fn guard(&self, name: &str) -> Result<String> {
        self.inspect(name).await.map(|(id, _)| id)
    }

    /// `docker kill --signal SIGNAL`.
    pub async fn kill(&self, name: &str, signal: &str) -> Result<()> {
        let id = self.guard(name).await?;
        let opts = KillContainerOptionsBuilder::default().signal(signal).build();
        self.docker.kill_container(&id, Some(opts)).await.map_err(api("kill", name))
    }

    /// `docker pause`.
    pub async fn pause(&self, name: &str) -> Result<()> {
        let id = self.guard(name).await?;
        self.docker.pause_container(&id).await.map_err(api("pause", name))
    }

    /// `docker unpause`.
    pub async fn unpause(&self, name: &str) -> Result<()> {
        let id = self.guard(name).await?;
        self.docker.unpause_container(&id).await.map_err(api("unpause", name))
    }

    /// `docker stop -t SECONDS`.
    pub async fn stop(&self, name: &str, timeout_s: i32) -> Result<()> {
        let id = self.guard(name).await?;
        let opts = StopContainerOptionsBuilder::default().t(timeout_s).build();
        self.docker.stop_container(&id, Some(opts)).await.map_err(api("stop", name))
    }

    /// `docker start`.
    pub async fn start(&self, name: &str) -> Result<()> {
        let id = self.guard(name).await?;
        self.docker.start_container(&id, None).await.map_err(api("start", name))
    }

    /// `docker rm -f` (with anonymous volumes, as `kind delete` does).
    pub async fn remove(&self, name: &str) -> Result<()> {
        let id = self.guard(name).await?;
        let opts = RemoveContainerOptionsBuilder::default().force(true).v(true).build();
        match self.docker.remove_container(&id, Some(opts)).await.map_err(api("rm", name)) {
            Err(DockerError::NotFound(_)) => Ok(()),
            // Another `rm` of the same container (CAPD's own) is under way: it goes either way.
            Err(DockerError::Api { message, .. }) if message.contains("already in progress") => Ok(()),
            other => other,
        }
    }

    /// Remove every container the policy allows; returns the names removed and the failures. A
    /// container that disappears between the list and its removal (CAPD removed it meanwhile) is
    /// gone, which is what was asked: not a failure.
    pub async fn remove_all(&self) -> (Vec<String>, Vec<DockerError>) {
        let mut removed = Vec::new();
        let mut errors = Vec::new();
        match self.list().await {
            Ok(all) => {
                for c in all {
                    match self.remove(&c.name).await {
                        Ok(()) => removed.push(c.name),
                        Err(DockerError::NotFound(_)) => {}
                        Err(e) => errors.push(e),
                    }
                }
            }
            Err(e) => errors.push(e),
        }
        (removed, errors)
    }

    /// The host port a container publishes for `port` (e.g. `6443/tcp`), if any.
    pub async fn published_port(&self, name: &str, port: &str) -> Result<Option<u16>> {
        self.guard(name).await?;
        let r = self.docker.inspect_container(name, None).await.map_err(api("inspect", name))?;
        let ports = r.network_settings.and_then(|n| n.ports).unwrap_or_default();
        Ok(ports
            .get(port)
            .and_then(|b| b.as_ref())
            .and_then(|b| b.iter().find_map(|p| p.host_port.as_deref().and_then(|h| h.parse::<u16>().ok()))))
    }

    /// `docker run -d --name NAME IMAGE`: a decoy owned by this run (labelled with the harness's
    /// owner label, never with CAPD's). Pulls the image when it is missing. Busybox images get a
    /// long `sleep` so that the decoy keeps running, as the simulator's decoys do.
    pub async fn run_decoy(&self, name: &str, image: &str) -> Result<ContainerInfo> {
        if name.is_empty() {
            return Err(DockerError::Api { op: "run", target: String::new(), message: "a decoy needs a name".into() });
        }
        self.ensure_image(image).await?;
        let mut labels = HashMap::new();
        labels.insert(HARNESS_OWNER_LABEL.to_string(), self.policy.owner.clone());
        labels.insert(HARNESS_ROLE_LABEL.to_string(), "decoy".to_string());
        let cmd = image.starts_with("busybox").then(|| vec!["sleep".to_string(), "86400".to_string()]);
        let body = bollard::models::ContainerCreateBody { image: Some(image.to_string()), cmd, labels: Some(labels), ..Default::default() };
        let opts = CreateContainerOptionsBuilder::default().name(name).build();
        self.docker.create_container(Some(opts), body).await.map_err(api("run", name))?;
        self.start(name).await?;
        Ok(self.inspect(name).await?.1)
    }

    async fn ensure_image(&self, image: &str) -> Result<()> {
        if self.docker.inspect_image(image).await.is_ok() {
            return Ok(());
        }
        let (repo, tag) = match image.rsplit_once(':') {
            Some((r, t)) if !t.contains('/') => (r, t),
            _ => (image, "latest"),
        };
        let opts = CreateImageOptionsBuilder::default().from_image(repo).tag(tag).build();
        let mut pull = self.docker.create_image(Some(opts), None, None);
        while let Some(step) = pull.next().await {
            step.map_err(api("pull", image))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use capi_scenarios::predicate::KIND_ROLE_LABEL;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn policy_allows_only_scenario_clusters_and_this_run() {
        let p = ContainerPolicy::new(["c1".to_string()], "run-1", ["capi-conformance".to_string()]).unwrap();
        assert_eq!(p.check(&labels(&[(KIND_CLUSTER_LABEL, "c1"), (KIND_ROLE_LABEL, "worker")])), Ok(Allowed::Scenario("c1".into())));
        assert_eq!(p.check(&labels(&[(HARNESS_OWNER_LABEL, "run-1")])), Ok(Allowed::Harness));
        assert!(p.check(&labels(&[(KIND_CLUSTER_LABEL, "c2")])).is_err());
        assert!(p.check(&labels(&[(KIND_CLUSTER_LABEL, "capi-conformance")])).is_err());
        assert!(p.check(&labels(&[(HARNESS_OWNER_LABEL, "run-2")])).is_err());
        assert!(p.check(&labels(&[])).is_err());
        // A harness label does not launder another cluster's container.
        assert!(p.check(&labels(&[(KIND_CLUSTER_LABEL, "c2"), (HARNESS_OWNER_LABEL, "run-1")])).is_err());
    }

    #[test]
    fn protected_cluster_names_are_refused() {
        assert!(ContainerPolicy::new(["capi-conformance".to_string()], "r", ["capi-conformance".to_string()]).is_err());
        assert!(ContainerPolicy::new(Vec::<String>::new(), "", Vec::<String>::new()).is_err());
    }
}

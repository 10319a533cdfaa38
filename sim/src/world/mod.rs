//! The world outside the management cluster: the Docker host CAPD drives and the workload clusters
//! that come up inside its containers. Controllers act on it through CAPD (containers, bootstrap exec)
//! and through the workload API (nodes, etcd, resources); it moves on by itself on timers (containers
//! boot, kubeadm finishes, CNI rolls out, silent nodes go Unknown) and tells the engine what changed
//! through notices, as watches and async task completions would.
//!
//! This file holds the world's state, its events and notices, and what readers ask of it;
//! `capd_ops.rs` CAPD's Docker operations, `progress.rs` timers and what the world does by itself,
//! `workload_api.rs` controllers' calls on workload clusters, `static_pods.rs` KCP's view of static
//! Pods, `faults.rs` injected faults.

pub mod bootstrap;
pub mod cloudinit;
pub mod cluster_cache;
pub mod docker;
pub mod objects;
pub mod pods;
pub mod timing;
pub mod workload;

mod capd_ops;
mod faults;
mod progress;
mod static_pods;
mod workload_api;

pub use static_pods::{PodStatus, StaticPods};

#[cfg(test)]
mod tests;

use crate::engine::rng::between;
use bootstrap::BootstrapPlan;
use docker::{Bootstrap, DockerHost, Role, State};
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, BTreeSet};
use timing::{Range, Timing};
use workload::WorkloadCluster;

/// How long `kubeadm join` keeps retrying discovery before it fails.
pub const JOIN_DISCOVERY_TIMEOUT_MS: u64 = 5 * 60 * 1000;

/// Something that happens in the world at a time.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum WorldEvent {
    /// A container's systemd is up (CAPD's CGroupsReady task completes).
    Booted {
        /// Container.
        container: String,
        /// Its life (restart count) when scheduled.
        life: u32,
    },
    /// kubeadm finished (or retries discovery) in a container.
    BootstrapDone {
        /// Container.
        container: String,
        /// Its life.
        life: u32,
    },
    /// The next `runcmd` entry of a bootstrap runs (after a `sleep`, or a waiting script's next poll).
    BootstrapStep {
        /// Container.
        container: String,
        /// Its life.
        life: u32,
    },
    /// The kubelet registers the Node.
    NodeRegister {
        /// Container (= node name).
        container: String,
        /// Its life.
        life: u32,
    },
    /// Node conditions of a cluster may change by themselves now.
    NodeRefresh {
        /// Cluster.
        cluster: String,
    },
    /// Evicted Pods of a cluster may have terminated now.
    PodsGone {
        /// Cluster.
        cluster: String,
    },
}

/// What changed, for the engine to wake the controllers that watch it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Notice {
    /// Something in a workload cluster other than one Node's object: etcd membership and leadership,
    /// bootstrap tokens, the CNI, evictions, kubelets stopping or starting, containers behind it.
    Workload(String),
    /// A Node object of a workload cluster was created, changed or deleted (what a watch on Nodes
    /// through CAPI's ClusterCache delivers).
    Node {
        /// Cluster label.
        cluster: String,
        /// Node name.
        node: String,
        /// Its `spec.providerID` (before deletion, for a deleted Node).
        provider_id: Option<String>,
    },
    /// The management cluster's connection to a workload API came up or went down (ClusterCache's
    /// connect and probe-failure events): checked after every batch of changes to the cluster.
    Connection(String),
    /// A container of a cluster changed or an async task on it finished.
    Container {
        /// Cluster label.
        cluster: String,
        /// Container name.
        name: String,
    },
}

impl Notice {
    /// The workload cluster a notice is about, for the controllers that treat any change inside a
    /// workload cluster alike (Node, connection or anything else); `None` for container notices.
    pub fn workload_cluster(&self) -> Option<&str> {
        match self {
            Notice::Workload(c) | Notice::Connection(c) | Notice::Node { cluster: c, .. } => Some(c),
            Notice::Container { .. } => None,
        }
    }
}

/// KCP removed an etcd member (checked by the etcd quorum invariant).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EtcdRemoval {
    /// Cluster.
    pub cluster: String,
    /// Removed member.
    pub member: String,
    /// Healthy members before.
    pub healthy_before: usize,
    /// Healthy members after.
    pub healthy_after: usize,
    /// Members after.
    pub total_after: usize,
}

/// An injected failure of kubeadm.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KubeadmFault {
    /// Fail every time (else once).
    pub permanent: bool,
}

/// The world.
pub struct World {
    /// The Docker host.
    pub docker: DockerHost,
    /// Workload clusters by name.
    pub workloads: BTreeMap<String, WorkloadCluster>,
    /// Workload objects as last rendered for readers ([`objects`]), and the clusters changed since.
    pub(crate) views: BTreeMap<String, objects::WorkloadObjects>,
    pub(crate) dirty_views: BTreeSet<String>,
    /// Timing profile.
    pub timing: Timing,
    rng: ChaCha8Rng,
    timers: Vec<(u64, WorldEvent)>,
    notices: BTreeSet<Notice>,
    /// Workload clusters whose API answered at the last connection check (see [`Notice::Connection`]).
    connected: BTreeSet<String>,
    /// ClusterCache's connection history per cluster (`cluster_cache`).
    links: BTreeMap<String, cluster_cache::Link>,
    notes: Vec<String>,
    /// Workload clusters the management cluster cannot reach (partition fault).
    pub partitioned: BTreeSet<String>,
    /// Slow-disk factor in percent (100 = normal).
    pub slowdown_pct: u64,
    /// kubeadm failures to inject, by (cluster, init?) — `true` for init, `false` for join.
    pub kubeadm_faults: BTreeMap<(String, bool), KubeadmFault>,
    /// Bootstrap plans in flight or done, by container, with their start time.
    plans: BTreeMap<String, (BootstrapPlan, u64)>,
    /// etcd member removals since the engine last looked.
    pub etcd_removals: Vec<EtcdRemoval>,
    /// Timers of processes inside a paused container that came due while it was paused (`docker
    /// pause` freezes the container's processes: systemd's boot, kubeadm, the kubelet's registration
    /// go on once it is unpaused), by container.
    frozen: BTreeMap<String, Vec<WorldEvent>>,
    /// Where each running bootstrap is in its `runcmd` ([`cloudinit`]).
    runs: BTreeMap<String, cloudinit::RunState>,
    /// Management-cluster ConfigMaps bootstrap scripts wait for, by (namespace, name), as the engine
    /// last read them (`None`: it does not exist).
    pub mgmt_configmaps: BTreeMap<(String, String), Option<serde_json::Value>>,
    /// Strategic-merge patches bootstrap scripts send to management-cluster ConfigMaps
    /// ((namespace, name), patch JSON), drained by the engine.
    pub mgmt_patches: Vec<((String, String), String)>,
}

impl World {
    /// A world with a timing profile and its own random stream.
    pub fn new(timing: Timing, rng: ChaCha8Rng) -> Self {
        World {
            docker: DockerHost::new(timing.host_memory_mb),
            workloads: BTreeMap::new(),
            views: BTreeMap::new(),
            dirty_views: BTreeSet::new(),
            timing,
            rng,
            timers: Vec::new(),
            notices: BTreeSet::new(),
            connected: BTreeSet::new(),
            links: BTreeMap::new(),
            notes: Vec::new(),
            partitioned: BTreeSet::new(),
            slowdown_pct: 100,
            kubeadm_faults: BTreeMap::new(),
            plans: BTreeMap::new(),
            etcd_removals: Vec::new(),
            frozen: BTreeMap::new(),
            runs: BTreeMap::new(),
            mgmt_configmaps: BTreeMap::new(),
            mgmt_patches: Vec::new(),
        }
    }

    /// Draw a duration from a range, slowed by the slow-disk factor.
    pub fn draw(&mut self, r: Range) -> u64 {
        between(&mut self.rng, r.0, r.1) * self.slowdown_pct / 100
    }

    /// Timers to schedule (drained by the engine).
    pub fn take_timers(&mut self) -> Vec<(u64, WorldEvent)> {
        std::mem::take(&mut self.timers)
    }

    /// Notices (drained by the engine). Every cluster something happened to has its connection
    /// checked: a change of reachability adds a [`Notice::Connection`].
    pub fn take_notices(&mut self) -> Vec<Notice> {
        self.take_notices_at(0)
    }

    /// [`World::take_notices`] at `now`, which dates the connection changes for
    /// [`World::health_checking_state`].
    pub fn take_notices_at(&mut self, now: u64) -> Vec<Notice> {
        let mut notices = std::mem::take(&mut self.notices);
        let touched: BTreeSet<&str> = notices
            .iter()
            .filter_map(|n| match n {
                Notice::Container { cluster, .. } => Some(cluster.as_str()),
                n => n.workload_cluster(),
            })
            .filter(|c| !c.is_empty())
            .collect();
        let mut flipped = Vec::new();
        for c in &touched {
            if !self.dirty_views.contains(*c) {
                self.dirty_views.insert(c.to_string());
            }
        }
        for c in touched {
            let up = self.api_reachable(c).is_ok();
            if up != self.connected.contains(c) {
                flipped.push((c.to_string(), up));
            }
        }
        for (c, up) in flipped {
            let link = self.links.entry(c.clone()).or_default();
            if up {
                link.up_since_ms = now;
                link.ever_up = true;
            } else {
                link.down_since_ms = now;
            }
            link.up = up;
            if up {
                self.connected.insert(c.clone());
            } else {
                self.connected.remove(&c);
            }
            notices.insert(Notice::Connection(c));
        }
        notices.into_iter().collect()
    }

    /// Trace notes (drained by the engine).
    pub fn take_notes(&mut self) -> Vec<String> {
        std::mem::take(&mut self.notes)
    }

    fn note(&mut self, s: String) {
        self.notes.push(s);
    }

    fn notice_container(&mut self, name: &str) {
        if let Some(c) = self.docker.get(name) {
            let cluster = c.cluster().unwrap_or("").to_string();
            self.notices.insert(Notice::Container { cluster: cluster.clone(), name: name.to_string() });
            if !cluster.is_empty() {
                self.notices.insert(Notice::Workload(cluster));
            }
        }
    }

    /// Tell watchers that a workload cluster changed.
    pub fn notice_workload(&mut self, cluster: &str) {
        self.notices.insert(Notice::Workload(cluster.to_string()));
    }

    /// Tell watchers that a Node object changed (created, updated or deleted).
    fn notice_node(&mut self, cluster: &str, node: &str, provider_id: Option<String>) {
        self.notices.insert(Notice::Node { cluster: cluster.to_string(), node: node.to_string(), provider_id });
    }

    /// [`World::notice_node`] for a Node that exists.
    fn notice_node_now(&mut self, cluster: &str, node: &str) {
        let provider_id = self.workloads.get(cluster).and_then(|w| w.nodes.get(node)).and_then(|n| n.provider_id.clone());
        self.notice_node(cluster, node, provider_id);
    }
}

impl World {
    /// The bootstrap plan a container ran (or runs).
    pub fn plan_of(&self, container: &str) -> Option<&BootstrapPlan> {
        self.plans.get(container).map(|(p, _)| p)
    }

    /// When the bootstrap exec of a container started (CAPD measures its bootstrap timeout from it).
    pub fn bootstrap_started_at(&self, container: &str) -> Option<u64> {
        self.plans.get(container).map(|(_, t)| *t)
    }

    // ----- Reachability -----

    /// The load-balancer container of a cluster.
    pub fn lb_of(&self, cluster: &str) -> Option<&docker::Container> {
        // The role label first: it rules out a node container at the first comparison.
        self.docker.find(&[
            (capi_scenarios::predicate::KIND_ROLE_LABEL, Role::LoadBalancer.label()),
            (capi_scenarios::predicate::KIND_CLUSTER_LABEL, cluster),
        ])
    }

    /// Whether the workload API answers through its load balancer (ignoring management-side
    /// partitions): LB running, a healthy weighted backend, kubeadm init done, etcd quorum.
    pub fn serving(&self, cluster: &str) -> Result<(), String> {
        let lb = self.lb_of(cluster).ok_or_else(|| format!("dial tcp: lookup {cluster}-lb: no such host"))?;
        if !lb.running() {
            return Err(format!("dial tcp {}:6443: connect: connection refused", lb.ip));
        }
        let wl = self.workloads.get(cluster).filter(|w| w.initialized).ok_or_else(|| format!("Get \"https://{}:6443/api\": EOF", lb.ip))?;
        let healthy_backend = lb.backends.iter().filter(|(_, w)| *w > 0).any(|(name, _)| {
            self.docker.get(name).is_some_and(|c| c.running() && c.bootstrap == Bootstrap::Succeeded) && wl.etcd.contains_key(name.as_str())
        });
        if !healthy_backend {
            return Err(format!("Get \"https://{}:6443/api\": EOF (no healthy kube-apiserver behind the load balancer)", lb.ip));
        }
        if !wl.etcd_quorum() {
            return Err("etcdserver: request timed out (etcd has no quorum)".into());
        }
        Ok(())
    }

    /// Whether the management cluster can reach the workload API.
    pub fn api_reachable(&self, cluster: &str) -> Result<(), String> {
        if self.partitioned.contains(cluster) {
            let ip = self.lb_of(cluster).map_or("0.0.0.0".to_string(), |c| c.ip.clone());
            return Err(format!("Get \"https://{ip}:6443/api\": dial tcp {ip}:6443: i/o timeout"));
        }
        self.serving(cluster)
    }

    /// Read a workload cluster through its API.
    pub fn workload(&self, cluster: &str) -> Result<&WorkloadCluster, String> {
        self.api_reachable(cluster)?;
        self.workloads.get(cluster).ok_or_else(|| "no workload cluster".to_string())
    }

    /// Write to a workload cluster through its API; the caller notices a successful change with
    /// [`World::notice_workload`].
    pub fn workload_mut(&mut self, cluster: &str) -> Result<&mut WorkloadCluster, String> {
        self.api_reachable(cluster)?;
        self.workloads.get_mut(cluster).ok_or_else(|| "no workload cluster".to_string())
    }

    /// Apply resources to a workload cluster (ClusterResourceSet or `kubectl apply`); a CNI starts
    /// rolling out on every registered node.
    pub fn apply_to_workload(&mut self, cluster: &str, objects: Vec<serde_json::Value>, now: u64) -> Result<usize, String> {
        self.api_reachable(cluster)?;
        let mut cni = None;
        let n = objects.len();
        {
            let wl = self.workloads.get_mut(cluster).ok_or("no workload cluster")?;
            for o in objects {
                if let Some(name) = wl.apply_resource(o, now) {
                    cni = Some(name);
                }
            }
        }
        if let Some(name) = cni {
            self.note(format!("cni {name} installed in {cluster}"));
            self.start_cni_rollout(cluster, now);
        }
        self.notice_workload(cluster);
        self.dirty_views.insert(cluster.to_string());
        Ok(n)
    }

    /// Whether a container state counts as running for CAPD.
    pub fn container_running(&self, name: &str) -> bool {
        self.docker.get(name).is_some_and(|c| c.state == State::Running)
    }
}

//! The world outside the management cluster: the Docker host CAPD drives and the workload clusters
//! that come up inside its containers. Controllers act on it through CAPD (containers, bootstrap exec)
//! and through the workload API (nodes, etcd, resources); it moves on by itself on timers (containers
//! boot, kubeadm finishes, CNI rolls out, silent nodes go Unknown) and tells the engine what changed
//! through notices, as watches and async task completions would.

pub mod bootstrap;
pub mod cloudinit;
pub mod cluster_cache;
pub mod docker;
pub mod objects;
pub mod pods;
pub mod timing;
pub mod workload;

#[cfg(test)]
mod tests;

use crate::engine::rng::between;
use bootstrap::{BootKind, BootstrapPlan};
use docker::{Bootstrap, DockerError, DockerHost, Role, RunSpec, State};
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, BTreeSet};
use timing::{Range, Timing};
use workload::{EtcdMember, Node, Status, Taint, WorkloadCluster, CONTROL_PLANE_TAINT};

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

    // ----- Docker operations (CAPD) -----

    /// `docker run` of a kindest/node container for a machine.
    pub fn run_node(&mut self, name: &str, image: &str, labels: BTreeMap<String, String>, now: u64) -> Result<(), DockerError> {
        let boot_ms = self.draw(self.timing.container_boot_ms);
        let spec = RunSpec { name: name.to_string(), image: image.to_string(), labels, memory_mb: self.timing.node_memory_mb, boot_ms };
        let c = self.docker.run(spec, now)?;
        let (booted_at, life) = (c.booted_at, c.life);
        self.timers.push((booted_at, WorldEvent::Booted { container: name.to_string(), life }));
        self.note(format!("docker run {name} image={image}"));
        self.after_memory_change(now);
        self.notice_container(name);
        Ok(())
    }

    /// `docker run` of the HAProxy load balancer.
    pub fn run_lb(&mut self, name: &str, image: &str, labels: BTreeMap<String, String>, now: u64) -> Result<(), DockerError> {
        let spec = RunSpec { name: name.to_string(), image: image.to_string(), labels, memory_mb: self.timing.lb_memory_mb, boot_ms: 0 };
        self.docker.run(spec, now)?;
        self.note(format!("docker run {name} image={image}"));
        self.after_memory_change(now);
        self.notice_container(name);
        Ok(())
    }

    /// `docker rm -f` of a CAPD container.
    pub fn remove_container(&mut self, name: &str, now: u64) -> Result<(), DockerError> {
        self.notice_container(name);
        let c = self.docker.remove(name)?;
        self.frozen.remove(name);
        self.note(format!("docker rm -f {name}"));
        if let Some(cluster) = c.cluster() {
            let cluster = cluster.to_string();
            self.node_lost(&cluster, name, now);
            if c.role() == Some(Role::LoadBalancer.label()) {
                self.notice_workload(&cluster);
            }
        }
        Ok(())
    }

    /// Write the HAProxy configuration of a load balancer (CP container names and weights) and reload.
    pub fn set_lb_backends(&mut self, lb: &str, backends: Vec<(String, u32)>) -> Result<(), DockerError> {
        let mut c = self.docker.get_mut(lb).ok_or_else(|| DockerError::NoSuchContainer(lb.to_string()))?;
        if c.backends != backends {
            c.backends = backends;
            let desc: Vec<String> = c.backends.iter().map(|(n, w)| format!("{n}:{w}")).collect();
            let cluster = c.cluster().unwrap_or("").to_string();
            drop(c);
            self.note(format!("haproxy {lb} backends [{}]", desc.join(",")));
            self.notice_workload(&cluster);
        }
        Ok(())
    }

    /// Run the bootstrap data in a container (CAPD's bootstrap exec task).
    pub fn exec_bootstrap(&mut self, container: &str, data: &str, now: u64) -> Result<(), String> {
        let plan = BootstrapPlan::parse(data)?;
        let duration = match plan.kind {
            BootKind::Init => self.draw(self.timing.kubeadm_init_ms),
            BootKind::JoinControlPlane => self.draw(self.timing.kubeadm_join_control_plane_ms),
            BootKind::JoinWorker => self.draw(self.timing.kubeadm_join_worker_ms),
        };
        let mut c = self.docker.get_mut(container).ok_or_else(|| format!("container {container} does not exist"))?;
        if !c.running() {
            return Err(format!("container {container} is not running"));
        }
        c.bootstrap = Bootstrap::Running { done_at: now + duration };
        let life = c.life;
        drop(c);
        self.plans.insert(container.to_string(), (plan.clone(), now));
        self.runs
            .insert(container.to_string(), cloudinit::RunState { cursor: 0, kubeadm_ms: duration, kubeadm_started: now, waiting: false });
        self.note(format!("exec bootstrap {container}: {:?}", plan.kind));
        self.advance_bootstrap(container, life, now);
        Ok(())
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

    fn start_cni_rollout(&mut self, cluster: &str, now: u64) {
        let names: Vec<String> = self.workloads.get(cluster).map(|w| w.nodes.keys().cloned().collect()).unwrap_or_default();
        for n in names {
            let d = self.draw(self.timing.cni_rollout_ms);
            if let Some(node) = self.workloads.get_mut(cluster).and_then(|w| w.nodes.get_mut(&n)) {
                node.cni_ready_at = Some(now + d);
            }
        }
        self.refresh(cluster, now);
    }

    /// Recompute node conditions of a cluster now; schedule the next change.
    pub fn refresh(&mut self, cluster: &str, now: u64) {
        let grace = self.timing.node_monitor_grace_ms.0;
        let Some(wl) = self.workloads.get_mut(cluster) else { return };
        let (changed, next) = wl.refresh_nodes(now, grace);
        if !changed.is_empty() && wl.schedule_pending(now) {
            self.dirty_views.insert(cluster.to_string());
        }
        for node in changed {
            self.notice_node_now(cluster, &node);
        }
        if let Some(t) = next {
            self.timers.push((t, WorldEvent::NodeRefresh { cluster: cluster.to_string() }));
        }
    }

    /// A node's container died or was removed: its kubelet stops posting status, its etcd member stops answering.
    fn node_lost(&mut self, cluster: &str, node: &str, now: u64) {
        let Some(wl) = self.workloads.get_mut(cluster) else { return };
        if let Some(n) = wl.nodes.get_mut(node) {
            n.kubelet_down_since.get_or_insert(now);
        }
        if let Some(m) = wl.etcd.get_mut(node) {
            m.healthy = false;
        }
        if wl.etcd_leader.as_deref() == Some(node) {
            wl.etcd_leader = wl.etcd.values().find(|m| m.healthy).map(|m| m.name.clone());
        }
        self.refresh(cluster, now);
        self.notice_workload(cluster);
    }

    /// A node's container runs again (restart): kubelet and etcd come back if it had joined.
    fn node_back(&mut self, cluster: &str, node: &str, now: u64) {
        let stopped = self.workloads.get(cluster).is_some_and(|w| w.kubelet_stopped.contains_key(node));
        let Some(wl) = self.workloads.get_mut(cluster) else { return };
        if let Some(n) = wl.nodes.get_mut(node) {
            if !stopped {
                n.kubelet_down_since = None;
            }
        }
        if let Some(m) = wl.etcd.get_mut(node) {
            m.healthy = !m.lost;
        }
        if wl.etcd_leader.is_none() {
            wl.etcd_leader = wl.etcd.values().find(|m| m.healthy).map(|m| m.name.clone());
        }
        self.refresh(cluster, now);
        self.notice_workload(cluster);
    }

    /// A container stopped (kill, OOM, daemon stop): bookkeeping and notices.
    pub fn container_stopped(&mut self, name: &str, now: u64) {
        let Some(c) = self.docker.get(name) else { return };
        let cluster = c.cluster().unwrap_or("").to_string();
        let is_node = c.role() != Some(Role::LoadBalancer.label());
        if let Some(mut c) = self.docker.get_mut(name) {
            if matches!(c.bootstrap, Bootstrap::Running { .. }) {
                c.bootstrap = Bootstrap::Failed("the container stopped while the bootstrap was running".into());
            }
        }
        if is_node {
            self.node_lost(&cluster, name, now);
        }
        self.notice_container(name);
        self.notice_workload(&cluster);
    }

    /// Check memory after a container grew or started; OOM kills restart once (`on-failure:1`).
    pub fn after_memory_change(&mut self, now: u64) {
        for victim in self.docker.enforce_memory() {
            self.note(format!("kernel OOM-killed {victim} (host memory {} MB exceeded)", self.docker.memory_budget_mb));
            self.container_stopped(&victim, now);
            let restart = self.docker.get(&victim).is_some_and(|c| c.restarts_left > 0);
            if restart {
                let boot = self.draw(self.timing.container_boot_ms);
                if let Some(mut c) = self.docker.get_mut(&victim) {
                    c.restarts_left -= 1;
                }
                self.docker.restart(&victim, now, boot);
                if let Some(c) = self.docker.get(&victim) {
                    let (at, life) = (c.booted_at, c.life);
                    self.timers.push((at, WorldEvent::Booted { container: victim.clone(), life }));
                }
                self.note(format!("docker restarted {victim} (restart policy on-failure:1)"));
            }
        }
    }

    /// Handle a timer.
    pub fn handle(&mut self, ev: WorldEvent, now: u64) {
        // A process inside a paused container does not move on: its timer waits for the unpause.
        if let WorldEvent::Booted { container, .. }
        | WorldEvent::BootstrapDone { container, .. }
        | WorldEvent::NodeRegister { container, .. } = &ev
        {
            if self.docker.get(container).is_some_and(|c| c.state == State::Paused) {
                self.frozen.entry(container.clone()).or_default().push(ev);
                return;
            }
        }
        match ev {
            WorldEvent::Booted { container, life } => {
                let Some(c) = self.docker.get(&container) else { return };
                if c.life != life || !c.running() {
                    return;
                }
                let joined = c.bootstrap == Bootstrap::Succeeded;
                let cluster = c.cluster().unwrap_or("").to_string();
                self.note(format!("container {container} booted"));
                if joined && life > 1 {
                    self.node_back(&cluster, &container, now);
                }
                self.notice_container(&container);
                // A restarted node grows back to its full memory use.
                self.after_memory_change(now);
            }
            WorldEvent::BootstrapDone { container, life } => self.bootstrap_done(&container, life, now),
            WorldEvent::BootstrapStep { container, life } => self.bootstrap_step(&container, life, now),
            WorldEvent::NodeRegister { container, life } => self.node_register(&container, life, now),
            WorldEvent::NodeRefresh { cluster } => self.refresh(&cluster, now),
            WorldEvent::PodsGone { cluster } => self.reap_pods(&cluster, now),
        }
    }

    /// Remove the Pods whose termination finished; schedule the next removal.
    fn reap_pods(&mut self, cluster: &str, now: u64) {
        let Some(wl) = self.workloads.get_mut(cluster) else { return };
        let (changed, next) = wl.reap_pods(now);
        if let Some(t) = next.filter(|t| *t > now) {
            self.timers.push((t, WorldEvent::PodsGone { cluster: cluster.to_string() }));
        }
        if changed {
            self.note(format!("pods terminated in {cluster}"));
            self.notice_workload(cluster);
            self.dirty_views.insert(cluster.to_string());
        }
    }

    fn bootstrap_done(&mut self, container: &str, life: u32, now: u64) {
        let Some(c) = self.docker.get(container) else { return };
        if c.life != life || !matches!(c.bootstrap, Bootstrap::Running { .. }) {
            return;
        }
        let cluster = c.cluster().unwrap_or("").to_string();
        let Some((plan, _)) = self.plans.get(container).cloned() else { return };
        // kubeadm started after the `preKubeadmCommands`.
        let started = self.runs.get(container).map_or(now, |r| r.kubeadm_started);
        let init = plan.kind == BootKind::Init;
        if let Some(f) = self.kubeadm_faults.get(&(cluster.clone(), init)).cloned() {
            if !f.permanent {
                self.kubeadm_faults.remove(&(cluster.clone(), init));
            }
            let what = if init { "init" } else { "join" };
            return self.bootstrap_failed(
                container,
                &cluster,
                format!("kubeadm {what} failed: error execution phase preflight: [preflight] Some fatal errors occurred (injected fault)"),
            );
        }
        if !init {
            if let Err(e) = self.serving(&cluster) {
                if now < started + JOIN_DISCOVERY_TIMEOUT_MS {
                    // kubeadm keeps retrying discovery through the load balancer.
                    if let Some(mut c) = self.docker.get_mut(container) {
                        c.bootstrap = Bootstrap::Running { done_at: now + 10_000 };
                    }
                    self.timers.push((now + 10_000, WorldEvent::BootstrapDone { container: container.to_string(), life }));
                    return;
                }
                return self.bootstrap_failed(
                    container,
                    &cluster,
                    format!("kubeadm join: couldn't validate the identity of the API Server: {e}: context deadline exceeded"),
                );
            }
        }
        // A re-init after every earlier etcd member's container is gone starts a new cluster (its data
        // went with the containers); with a member still around it is a second, split cluster.
        let survivors = self.workloads.get(&cluster).is_some_and(|w| w.etcd.keys().any(|m| m != container && self.docker.get(m).is_some()));
        if plan.kind == BootKind::Init && !survivors {
            if let Some(w) = self.workloads.get(&cluster).filter(|w| w.initialized) {
                let inits = w.inits;
                self.note(format!("kubeadm init on {container} starts {cluster} afresh (no earlier etcd member survives)"));
                let mut fresh = WorkloadCluster::new(&cluster);
                fresh.inits = inits.saturating_sub(1);
                self.workloads.insert(cluster.clone(), fresh);
            }
        }
        let wl = self.workloads.entry(cluster.clone()).or_insert_with(|| WorkloadCluster::new(&cluster));
        match plan.kind {
            BootKind::Init => {
                wl.inits += 1;
                wl.initialized = true;
                wl.version = plan.version.clone();
                wl.etcd.insert(container.to_string(), EtcdMember { name: container.to_string(), healthy: true, lost: false });
                if wl.etcd_leader.is_none() {
                    wl.etcd_leader = Some(container.to_string());
                }
            }
            BootKind::JoinControlPlane => {
                wl.etcd.insert(container.to_string(), EtcdMember { name: container.to_string(), healthy: true, lost: false });
            }
            BootKind::JoinWorker => {}
        }
        let extra =
            if plan.kind == BootKind::JoinWorker { self.timing.worker_extra_memory_mb } else { self.timing.control_plane_extra_memory_mb };
        // The `postKubeadmCommands` still to run: the bootstrap ends with them.
        let more = self
            .runs
            .get(container)
            .is_some_and(|r| plan.steps[r.cursor.min(plan.steps.len())..].iter().any(|s| !matches!(s, cloudinit::Step::Run(_))));
        if let Some(mut c) = self.docker.get_mut(container) {
            if !more {
                c.bootstrap = Bootstrap::Succeeded;
            }
            c.memory_mb += extra;
        }
        if !more {
            self.runs.remove(container);
        }
        self.note(format!("kubeadm {:?} succeeded on {container}", plan.kind));
        let d = self.draw(self.timing.node_register_ms);
        self.timers.push((now + d, WorldEvent::NodeRegister { container: container.to_string(), life }));
        self.notice_container(container);
        self.notice_workload(&cluster);
        self.after_memory_change(now);
        if more {
            self.advance_bootstrap(container, life, now);
        }
    }

    fn bootstrap_failed(&mut self, container: &str, cluster: &str, message: String) {
        self.runs.remove(container);
        if let Some(mut c) = self.docker.get_mut(container) {
            c.bootstrap = Bootstrap::Failed(message.clone());
        }
        self.note(format!("bootstrap failed on {container}: {message}"));
        self.notice_container(container);
        self.notice_workload(cluster);
    }

    fn node_register(&mut self, container: &str, life: u32, now: u64) {
        let Some(c) = self.docker.get(container) else { return };
        if c.life != life || !c.running() {
            return;
        }
        let cluster = c.cluster().unwrap_or("").to_string();
        let version = c.image.rsplit_once(':').map(|(_, t)| t.replace('_', "+")).unwrap_or_default();
        let Some(plan) = self.plans.get(container).map(|(p, _)| p.clone()) else { return };
        let control_plane = plan.kind != BootKind::JoinWorker;
        let cni_rollout = self.draw(self.timing.cni_rollout_ms);
        let Some(wl) = self.workloads.get_mut(&cluster) else { return };
        let cni_ready_at = wl.cni.as_ref().filter(|c| !c.crashed).map(|_| now + cni_rollout);
        let mut labels = BTreeMap::new();
        labels.insert("kubernetes.io/hostname".to_string(), container.to_string());
        labels.insert("kubernetes.io/os".to_string(), "linux".to_string());
        let mut taints: Vec<Taint> = plan.taints.iter().map(|(k, e)| Taint { key: k.clone(), effect: e.clone() }).collect();
        if control_plane {
            labels.insert(CONTROL_PLANE_TAINT.to_string(), String::new());
            if !taints.iter().any(|t| t.key == CONTROL_PLANE_TAINT) {
                taints.push(Taint { key: CONTROL_PLANE_TAINT.to_string(), effect: "NoSchedule".to_string() });
            }
        }
        wl.nodes.insert(
            container.to_string(),
            Node {
                name: container.to_string(),
                provider_id: None,
                labels,
                annotations: BTreeMap::new(),
                taints,
                unschedulable: false,
                ready: Status::False,
                ready_reason: String::new(),
                ready_message: String::new(),
                ready_since_ms: now,
                kubelet_version: version,
                control_plane,
                registered_ms: now,
                kubelet_down_since: None,
                cni_ready_at,
                extra_conditions: Default::default(),
            },
        );
        if !control_plane {
            wl.add_default_pods(container, now);
        }
        self.note(format!("node {container} registered in {cluster}"));
        self.refresh(&cluster, now);
        self.notice_node_now(&cluster, container);
    }

    // ----- Workload writes the controllers make -----

    /// Cordon a Node (`drain.Helper.CordonNode`: a patch of `spec.unschedulable`, only when not yet).
    pub fn cordon_node(&mut self, cluster: &str, node: &str) -> Result<(), String> {
        let wl = self.workload_mut(cluster)?;
        let n = wl.nodes.get_mut(node).ok_or_else(|| format!("nodes \"{node}\" not found"))?;
        if !n.unschedulable {
            n.unschedulable = true;
            self.notice_node_now(cluster, node);
        }
        Ok(())
    }

    /// The eviction subresource of a Pod; the Pod terminates after the pod termination time (or
    /// `grace_ms` when given, as CAPI's drain asks for 1s on an unreachable Node).
    pub fn evict_pod(
        &mut self,
        cluster: &str,
        namespace: &str,
        name: &str,
        now: u64,
        grace_ms: Option<u64>,
    ) -> Result<(), pods::EvictError> {
        let drawn = self.draw(self.timing.pod_eviction_ms);
        let grace = grace_ms.unwrap_or(drawn);
        let wl = self.workload_mut(cluster).map_err(pods::EvictError::Internal)?;
        if wl.evict(namespace, name, now, grace)? {
            self.timers.push((now + grace, WorldEvent::PodsGone { cluster: cluster.to_string() }));
            self.notice_workload(cluster);
            self.dirty_views.insert(cluster.to_string());
        }
        Ok(())
    }

    /// Delete a Node object.
    pub fn delete_node(&mut self, cluster: &str, node: &str) -> Result<bool, String> {
        let wl = self.workload_mut(cluster)?;
        let removed = wl.nodes.remove(node);
        wl.drop_pods_of(node, 0);
        let found = removed.is_some();
        if let Some(n) = removed {
            self.notice_node(cluster, node, n.provider_id);
        }
        Ok(found)
    }

    /// Remove an etcd member (KCP, before a control-plane Machine goes).
    ///
    /// As KCP's `Workload.RemoveEtcdMember` goes through etcd (`controlplane/kubeadm/pkg/workload_cluster_etcd.go`):
    /// the member list needs quorum; the last member is never removed; and etcd's
    /// `--strict-reconfig-check` (on by default, `etcdserver: mayRemoveMember`) refuses to remove a
    /// member that answers when the members left that answer would not be a quorum of the members
    /// left (`etcdserver: unhealthy cluster`); a member that does not answer can always go.
    /// Simplification: etcd's member IDs are the member names here.
    pub fn remove_etcd_member(&mut self, cluster: &str, member: &str) -> Result<bool, String> {
        let wl = self.workload_mut(cluster)?;
        if !wl.etcd_quorum() {
            return Err("failed to list etcd members using etcd client: context deadline exceeded".into());
        }
        let Some(m) = wl.etcd.get(member) else { return Ok(false) };
        if wl.etcd.len() == 1 {
            return Err("cannot remove the last etcd member in the cluster".into());
        }
        let voting = wl.etcd.len();
        let active = wl.etcd.values().filter(|m| m.healthy).count();
        if m.healthy && active - 1 < 1 + (voting - 1) / 2 {
            return Err(format!(
                "failed to remove member from etcd: failed to remove etcd member: {member}: etcdserver: unhealthy cluster"
            ));
        }
        let (healthy_before, _) = wl.etcd_health();
        let removed = wl.etcd.remove(member).is_some();
        if wl.etcd_leader.as_deref() == Some(member) {
            wl.etcd_leader = wl.etcd.values().find(|m| m.healthy).map(|m| m.name.clone());
        }
        let (healthy_after, total_after) = wl.etcd_health();
        if removed {
            self.notice_workload(cluster);
            self.etcd_removals.push(EtcdRemoval {
                cluster: cluster.to_string(),
                member: member.to_string(),
                healthy_before,
                healthy_after,
                total_after,
            });
            self.note(format!("etcd member {member} removed from {cluster}"));
        }
        Ok(removed)
    }

    /// Move etcd leadership to a member.
    pub fn move_etcd_leader(&mut self, cluster: &str, to: &str) -> Result<(), String> {
        let wl = self.workload_mut(cluster)?;
        if wl.etcd.get(to).is_some_and(|m| m.healthy) {
            let changed = wl.etcd_leader.as_deref() != Some(to);
            wl.etcd_leader = Some(to.to_string());
            if changed {
                self.notice_workload(cluster);
            }
            Ok(())
        } else {
            Err(format!("etcd member {to} is not healthy"))
        }
    }

    /// Create a bootstrap token for a join.
    pub fn create_bootstrap_token(&mut self, cluster: &str) -> Result<String, String> {
        let wl = self.workload_mut(cluster)?;
        wl.bootstrap_tokens += 1;
        let t = wl.bootstrap_tokens as u64;
        self.notice_workload(cluster);
        Ok(format!("{t:06x}.{:016x}", t.wrapping_mul(0x9e37_79b9_7f4a_7c15)))
    }

    /// Patch a Node (labels, annotations, taints, providerID).
    pub fn patch_node(&mut self, cluster: &str, node: &str, f: impl FnOnce(&mut Node)) -> Result<(), String> {
        let wl = self.workload_mut(cluster)?;
        let n = wl.nodes.get_mut(node).ok_or_else(|| format!("nodes \"{node}\" not found"))?;
        let before = (n.provider_id.clone(), n.labels.clone(), n.annotations.clone(), n.taints.clone(), n.unschedulable);
        f(n);
        let after = (n.provider_id.clone(), n.labels.clone(), n.annotations.clone(), n.taints.clone(), n.unschedulable);
        if before != after {
            self.notice_node_now(cluster, node);
        }
        Ok(())
    }

    /// Whether a container state counts as running for CAPD.
    pub fn container_running(&self, name: &str) -> bool {
        self.docker.get(name).is_some_and(|c| c.state == State::Running)
    }
}

/// Status of a control-plane static pod as KCP reads it (`kube-system/<component>-<node>`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PodStatus {
    /// Running and ready.
    Running,
    /// The Node exists but the pod is not there yet.
    Provisioning,
    /// The pod failed (its container is gone).
    Failed,
    /// The pod runs but its container restarts after failing (an etcd member whose data is lost:
    /// the etcd process exits at once), `CrashLoopBackOff` with a non-zero last exit code.
    CrashLoopBackOff,
    /// No such pod (no Node).
    DoesNotExist,
}

/// The four control-plane static pods of a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StaticPods {
    /// kube-apiserver.
    pub api_server: PodStatus,
    /// kube-controller-manager.
    pub controller_manager: PodStatus,
    /// kube-scheduler.
    pub scheduler: PodStatus,
    /// etcd.
    pub etcd: PodStatus,
}

impl World {
    /// The control-plane static pods of a node, read through the workload API. Static pods keep
    /// running when only the kubelet stops; they fail when the container dies.
    pub fn static_pods(&self, cluster: &str, node: &str) -> Result<StaticPods, String> {
        let wl = self.workload(cluster)?;
        let status = match wl.nodes.get(node) {
            None => PodStatus::DoesNotExist,
            Some(n) if !n.control_plane => PodStatus::DoesNotExist,
            Some(_) => match self.docker.get(node) {
                Some(c) if c.running() && c.bootstrap == Bootstrap::Succeeded => PodStatus::Running,
                Some(c) if c.running() => PodStatus::Provisioning,
                _ => PodStatus::Failed,
            },
        };
        let etcd = match (status, wl.etcd.get(node)) {
            (PodStatus::Running, Some(m)) if m.lost => PodStatus::CrashLoopBackOff,
            (PodStatus::Running, Some(m)) if !m.healthy => PodStatus::Failed,
            (s, _) => s,
        };
        Ok(StaticPods { api_server: status, controller_manager: status, scheduler: status, etcd })
    }
}

// ----- Faults (injected by the fault module; each mirrors how the real thing fails) -----
impl World {
    /// `docker kill` (manual: the restart policy does not apply), or the kernel's OOM killer (the
    /// `on-failure:1` restart policy applies).
    pub fn kill_container(&mut self, name: &str, oom: bool, now: u64) -> bool {
        let reason = if oom { "OOMKilled" } else { "killed" };
        if !self.docker.kill(name, reason) {
            return false;
        }
        self.note(format!("container {name} {reason}"));
        self.container_stopped(name, now);
        if oom && self.docker.get(name).is_some_and(|c| c.restarts_left > 0) {
            let boot = self.draw(self.timing.container_boot_ms);
            if let Some(mut c) = self.docker.get_mut(name) {
                c.restarts_left -= 1;
            }
            self.restart_container(name, now, boot);
            self.note(format!("docker restarted {name} (restart policy on-failure:1)"));
        }
        true
    }

    /// Start an exited container again and schedule its boot.
    pub fn restart_container(&mut self, name: &str, now: u64, boot_ms: u64) -> bool {
        if !self.docker.restart(name, now, boot_ms) {
            return false;
        }
        if let Some(c) = self.docker.get(name) {
            let (at, life) = (c.booted_at, c.life);
            self.timers.push((at, WorldEvent::Booted { container: name.to_string(), life }));
        }
        self.notice_container(name);
        true
    }

    /// `docker pause` / `docker unpause`: a paused node's kubelet and etcd stop answering.
    pub fn pause_container(&mut self, name: &str, paused: bool, now: u64) -> bool {
        if !self.docker.set_paused(name, paused) {
            return false;
        }
        let cluster = self.docker.get(name).and_then(|c| c.cluster().map(str::to_string)).unwrap_or_default();
        let is_node = self.docker.get(name).is_some_and(|c| c.role() != Some(Role::LoadBalancer.label()));
        self.note(format!("container {name} {}", if paused { "paused" } else { "unpaused" }));
        if !paused {
            // What came due while it was frozen happens now.
            for ev in self.frozen.remove(name).unwrap_or_default() {
                self.timers.push((now, ev));
            }
        }
        if is_node {
            if paused {
                self.node_lost(&cluster, name, now);
            } else {
                self.node_back(&cluster, name, now);
            }
        }
        self.notice_container(name);
        self.notice_workload(&cluster);
        true
    }

    /// The Docker daemon stops: every container stops.
    pub fn daemon_stop(&mut self, now: u64) {
        let running: Vec<String> = self
            .docker
            .containers()
            .filter(|c| c.state != State::Exited(130) && !matches!(c.state, State::Exited(_)))
            .map(|c| c.name.clone())
            .collect();
        for n in &running {
            if let Some(mut c) = self.docker.get_mut(n) {
                c.state = State::Exited(130);
                c.exit_reason = Some("daemon shutdown".into());
            }
            self.container_stopped(n, now);
        }
        self.docker.daemon_down = true;
        self.note(format!("docker daemon stopped ({} containers stopped)", running.len()));
    }

    /// The Docker daemon is back: containers stopped by the shutdown restart (CAPD sets a restart
    /// policy on every container it creates).
    pub fn daemon_start(&mut self, now: u64) {
        self.docker.daemon_down = false;
        let stopped: Vec<String> = self.docker.containers().filter(|c| c.state == State::Exited(130)).map(|c| c.name.clone()).collect();
        for n in &stopped {
            let boot = if self.docker.get(n).is_some_and(|c| c.role() == Some(Role::LoadBalancer.label())) {
                0
            } else {
                self.draw(self.timing.container_boot_ms)
            };
            self.restart_container(n, now, boot);
        }
        self.note(format!("docker daemon started ({} containers restarted)", stopped.len()));
    }

    /// The kubelet of a node stops (or starts again).
    pub fn set_kubelet(&mut self, cluster: &str, node: &str, running: bool, now: u64) -> bool {
        let container_up = self.container_running(node);
        let Some(wl) = self.workloads.get_mut(cluster) else { return false };
        if !wl.nodes.contains_key(node) {
            return false;
        }
        if running {
            wl.kubelet_stopped.remove(node);
            if container_up {
                if let Some(n) = wl.nodes.get_mut(node) {
                    n.kubelet_down_since = None;
                }
            }
        } else {
            wl.kubelet_stopped.insert(node.to_string(), now);
            if let Some(n) = wl.nodes.get_mut(node) {
                n.kubelet_down_since.get_or_insert(now);
            }
        }
        self.note(format!("kubelet on {node} {}", if running { "started" } else { "stopped" }));
        self.refresh(cluster, now);
        self.notice_workload(cluster);
        true
    }

    /// The CNI of a cluster crashes (or comes back and rolls out again).
    pub fn set_cni(&mut self, cluster: &str, up: bool, now: u64) -> bool {
        let Some(cni) = self.workloads.get_mut(cluster).and_then(|w| w.cni.as_mut()) else { return false };
        cni.crashed = !up;
        self.note(format!("cni in {cluster} {}", if up { "restored" } else { "crashed" }));
        if up {
            self.start_cni_rollout(cluster, now);
        } else {
            self.refresh(cluster, now);
        }
        self.notice_workload(cluster);
        true
    }

    /// An etcd member loses its data for good: it stays in the member list, unhealthy.
    pub fn lose_etcd_member(&mut self, cluster: &str, member: &str) -> bool {
        let Some(wl) = self.workloads.get_mut(cluster) else { return false };
        let Some(m) = wl.etcd.get_mut(member) else { return false };
        m.lost = true;
        m.healthy = false;
        if wl.etcd_leader.as_deref() == Some(member) {
            wl.etcd_leader = wl.etcd.values().find(|m| m.healthy).map(|m| m.name.clone());
        }
        self.note(format!("etcd member {member} of {cluster} lost"));
        self.notice_workload(cluster);
        true
    }
}

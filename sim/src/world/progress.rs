//! How the world moves on by itself: timer events (containers booting, bootstrap steps, kubeadm
//! finishing, node registration, CNI rollout, Pods terminating, silent nodes going Unknown), a node's
//! container stopping or coming back, and the OOM check after memory grew.
//! Models kind's node containers, kubeadm init/join and the kubelet as CAPI observes them.

use super::{bootstrap, cloudinit, docker, workload};
use super::{World, WorldEvent, JOIN_DISCOVERY_TIMEOUT_MS};
use bootstrap::BootKind;
use docker::{Bootstrap, Role, State};
use std::collections::BTreeMap;
use workload::{EtcdMember, Node, Status, Taint, WorkloadCluster, CONTROL_PLANE_TAINT};

impl World {
    pub(super) fn start_cni_rollout(&mut self, cluster: &str, now: u64) {
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
    pub(super) fn node_lost(&mut self, cluster: &str, node: &str, now: u64) {
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
    pub(super) fn node_back(&mut self, cluster: &str, node: &str, now: u64) {
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

    pub(super) fn bootstrap_failed(&mut self, container: &str, cluster: &str, message: String) {
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
        let mut taints: Vec<Taint> =
            plan.taints.iter().map(|(k, e)| Taint { key: k.clone(), value: String::new(), effect: e.clone() }).collect();
        if control_plane {
            labels.insert(CONTROL_PLANE_TAINT.to_string(), String::new());
            if !taints.iter().any(|t| t.key == CONTROL_PLANE_TAINT) {
                taints.push(Taint { key: CONTROL_PLANE_TAINT.to_string(), value: String::new(), effect: "NoSchedule".to_string() });
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
}

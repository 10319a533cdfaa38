//! Faults injected into the world (by `crate::faults`), each mirroring how the real thing fails:
//! container kill (manual or OOM), restart, pause, Docker daemon stop/start, kubelet stop/start,
//! CNI down/up, losing an etcd member.

use super::docker;
use super::{World, WorldEvent};
use docker::{Role, State};

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

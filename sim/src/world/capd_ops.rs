//! The Docker operations CAPD performs on the world: `docker run` of a node or load balancer
//! container, removing one, the load balancer's backends, and `docker exec` of the bootstrap data.
//! Restates what CAPD's `docker/machine.go` and `docker/loadbalancer.go` do through the container
//! runtime (`Create`, `Delete`, `UpdateConfiguration`, `ExecBootstrap`).

use super::{bootstrap, cloudinit, docker};
use super::{World, WorldEvent};
use bootstrap::{BootKind, BootstrapPlan};
use docker::{Bootstrap, DockerError, Role, RunSpec};
use std::collections::BTreeMap;

impl World {
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

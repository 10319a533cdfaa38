//! The Docker host CAPD drives: containers with names, images, labels, state and memory; a memory
//! budget (too many nodes → the kernel OOM-kills the largest container, as on a Docker Desktop VM
//! that is too small); name conflicts; missing images; restart policies on daemon restart.

use capi_scenarios::predicate::{ContainerInfo, KIND_CLUSTER_LABEL, KIND_ROLE_LABEL};
use std::collections::{BTreeMap, BTreeSet};

/// CAPD's role label values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// `control-plane`.
    ControlPlane,
    /// `worker`.
    Worker,
    /// `external-load-balancer`.
    LoadBalancer,
}

impl Role {
    /// The label value.
    pub fn label(self) -> &'static str {
        match self {
            Role::ControlPlane => "control-plane",
            Role::Worker => "worker",
            Role::LoadBalancer => "external-load-balancer",
        }
    }
}

/// Container states as `docker inspect` reports them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Running.
    Running,
    /// Paused (`docker pause`).
    Paused,
    /// Exited with a code (137 = killed, 130 = stopped by the daemon).
    Exited(i32),
}

impl State {
    /// `running`, `paused`, `exited`.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Running => "running",
            State::Paused => "paused",
            State::Exited(_) => "exited",
        }
    }
}

/// What the bootstrap (kubeadm) inside a node container is doing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Bootstrap {
    /// Not started.
    NotStarted,
    /// `kubeadm init|join` running, finishes at this time.
    Running {
        /// Simulated completion time.
        done_at: u64,
    },
    /// Finished; the sentinel `/run/cluster-api/bootstrap-success.complete` exists.
    Succeeded,
    /// A command failed (terminal in CAPD).
    Failed(String),
}

/// One container.
#[derive(Clone, Debug)]
pub struct Container {
    /// Name.
    pub name: String,
    /// Short id.
    pub id: String,
    /// Image.
    pub image: String,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// State.
    pub state: State,
    /// IP on the `kind` network.
    pub ip: String,
    /// Memory in use.
    pub memory_mb: u64,
    /// When it last started.
    pub started_ms: u64,
    /// When systemd is ready (node containers).
    pub booted_at: u64,
    /// Restarts left under the `on-failure:1` policy CAPD sets.
    pub restarts_left: u32,
    /// Bootstrap progress (node containers).
    pub bootstrap: Bootstrap,
    /// Incremented on every (re)start, so that timers of an earlier life are ignored.
    pub life: u32,
    /// HAProxy backends (load balancer only): CP container names with their weight.
    pub backends: Vec<(String, u32)>,
    /// Why it died, when it did.
    pub exit_reason: Option<String>,
}

impl Container {
    /// What the container counts against the host's memory: its memory unless it has exited.
    fn memory_charged(&self) -> u64 {
        if matches!(self.state, State::Exited(_)) {
            0
        } else {
            self.memory_mb
        }
    }

    /// The role label.
    pub fn role(&self) -> Option<&str> {
        self.labels.get(KIND_ROLE_LABEL).map(String::as_str)
    }
    /// The cluster label.
    pub fn cluster(&self) -> Option<&str> {
        self.labels.get(KIND_CLUSTER_LABEL).map(String::as_str)
    }
    /// Running (not paused, not exited).
    pub fn running(&self) -> bool {
        self.state == State::Running
    }
    /// Whether Docker lists it as `Up`: its status column (`docker ps`, what CAPD's container list
    /// reads) starts with `Up` for a running container and for a paused one (`Up 5 minutes (Paused)`),
    /// and CAPD's `types.Node.IsRunning` is `strings.HasPrefix(status, "Up")`
    /// (`test/infrastructure/docker/internal/docker/types/node.go`). Exited containers show `Exited (…)`.
    pub fn is_up(&self) -> bool {
        matches!(self.state, State::Running | State::Paused)
    }
    /// Docker's status column (`docker ps`): `Up …`, `Up … (Paused)`, `Exited (code) …`; the
    /// duration is left out (CAPD reads only the prefix).
    pub fn status_text(&self) -> String {
        match self.state {
            State::Running => "Up".to_string(),
            State::Paused => "Up (Paused)".to_string(),
            State::Exited(code) => format!("Exited ({code})"),
        }
    }
    /// What the daemon answers a `docker exec` into this container when it refuses one (moby
    /// `daemon/exec.go`: `errExecPaused`, `errNotRunning`); `None` when it runs.
    pub fn exec_refusal(&self) -> Option<String> {
        match self.state {
            State::Running => None,
            State::Paused => Some(format!("Container {} is paused, unpause the container before exec", self.id)),
            State::Exited(_) => Some(format!("container {} is not running", self.id)),
        }
    }
    /// Booted and running.
    pub fn ready(&self, now: u64) -> bool {
        self.running() && now >= self.booted_at
    }
    /// As predicates and outcomes see it.
    pub fn info(&self) -> ContainerInfo {
        ContainerInfo {
            name: self.name.clone(),
            image: self.image.clone(),
            state: self.state.as_str().to_string(),
            labels: self.labels.clone(),
        }
    }
}

/// Errors of the Docker API.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DockerError {
    /// `docker run` with a name in use.
    #[error("Conflict. The container name \"/{0}\" is already in use by another container. You have to remove (or rename) that container to be able to reuse that name.")]
    NameConflict(String),
    /// The image is not on the host (and there is no registry).
    #[error("Unable to find image '{0}' locally: pull access denied, repository does not exist or may require 'docker login'")]
    ImageNotFound(String),
    /// No such container.
    #[error("Error response from daemon: No such container: {0}")]
    NoSuchContainer(String),
    /// The daemon is restarting.
    #[error("Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?")]
    DaemonDown,
}

/// What `docker run` is asked for.
#[derive(Clone, Debug)]
pub struct RunSpec {
    /// Name.
    pub name: String,
    /// Image.
    pub image: String,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Memory the container uses once started.
    pub memory_mb: u64,
    /// Time from start to systemd ready.
    pub boot_ms: u64,
}

/// The host.
#[derive(Clone, Debug)]
pub struct DockerHost {
    containers: BTreeMap<String, Container>,
    /// Container names by the value of their `io.x-k8s.kind.cluster` label (lookups by cluster do not
    /// scan the host).
    by_cluster: BTreeMap<String, BTreeSet<String>>,
    /// Memory used by the containers that are not exited: kept as they change (through
    /// [`ContainerMut`]), so that the OOM check after each start does not sum the host.
    in_use_mb: u64,
    /// Memory containers may use before the kernel OOM-kills one.
    pub memory_budget_mb: u64,
    /// Images that are not on the host (image-missing fault).
    pub missing_images: BTreeSet<String>,
    /// Whether the daemon is down (restarting).
    pub daemon_down: bool,
    next_ip: u32,
    next_id: u64,
}

impl DockerHost {
    /// An empty host.
    pub fn new(memory_budget_mb: u64) -> Self {
        DockerHost {
            containers: BTreeMap::new(),
            by_cluster: BTreeMap::new(),
            in_use_mb: 0,
            memory_budget_mb,
            missing_images: BTreeSet::new(),
            daemon_down: false,
            next_ip: 2,
            next_id: 1,
        }
    }

    /// Every container, by name.
    pub fn containers(&self) -> impl Iterator<Item = &Container> {
        self.containers.values()
    }

    /// One container.
    pub fn get(&self, name: &str) -> Option<&Container> {
        self.containers.get(name)
    }

    /// One container, mutable; the host's memory in use follows what is done to it.
    pub fn get_mut(&mut self, name: &str) -> Option<ContainerMut<'_>> {
        let c = self.containers.get_mut(name)?;
        Some(ContainerMut { before: c.memory_charged(), c, in_use_mb: &mut self.in_use_mb })
    }

    /// Containers whose labels include all of `labels` (CAPD's filters), in name order.
    pub fn list<'a>(&'a self, labels: &[(&str, &str)]) -> Vec<&'a Container> {
        let mut out = Vec::new();
        self.each_matching(labels, |c| {
            out.push(c);
            false
        });
        out
    }

    /// The first container (in name order) whose labels include all of `labels`.
    pub fn find<'a>(&'a self, labels: &[(&str, &str)]) -> Option<&'a Container> {
        let mut found = None;
        self.each_matching(labels, |c| {
            found = Some(c);
            true
        });
        found
    }

    /// Call `f` on each matching container in name order until it returns true. With the cluster
    /// label among `labels`, only that cluster's containers are looked at.
    fn each_matching<'a>(&'a self, labels: &[(&str, &str)], mut f: impl FnMut(&'a Container) -> bool) {
        let matches = |c: &Container| labels.iter().all(|(k, v)| c.labels.get(*k).map(String::as_str) == Some(*v));
        match labels.iter().find(|(k, _)| *k == capi_scenarios::predicate::KIND_CLUSTER_LABEL) {
            Some((_, cluster)) => {
                for c in self.by_cluster.get(*cluster).into_iter().flatten().filter_map(|n| self.containers.get(n)) {
                    if matches(c) && f(c) {
                        return;
                    }
                }
            }
            None => {
                for c in self.containers.values() {
                    if matches(c) && f(c) {
                        return;
                    }
                }
            }
        }
    }

    /// `docker run -d`. The container starts at once and is booted after `boot_ms`.
    pub fn run(&mut self, spec: RunSpec, now: u64) -> Result<&Container, DockerError> {
        if self.daemon_down {
            return Err(DockerError::DaemonDown);
        }
        if self.containers.contains_key(&spec.name) {
            return Err(DockerError::NameConflict(spec.name));
        }
        if self.missing_images.contains(&spec.image) {
            return Err(DockerError::ImageNotFound(spec.image));
        }
        let ip = format!("172.18.{}.{}", self.next_ip / 254, self.next_ip % 254 + 1);
        self.next_ip += 1;
        let id = format!("{:012x}", self.next_id.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 16);
        self.next_id += 1;
        let c = Container {
            name: spec.name.clone(),
            id,
            image: spec.image,
            labels: spec.labels,
            state: State::Running,
            ip,
            memory_mb: spec.memory_mb,
            started_ms: now,
            booted_at: now + spec.boot_ms,
            restarts_left: 1,
            bootstrap: Bootstrap::NotStarted,
            life: 1,
            backends: Vec::new(),
            exit_reason: None,
        };
        if let Some(cluster) = c.labels.get(capi_scenarios::predicate::KIND_CLUSTER_LABEL) {
            self.by_cluster.entry(cluster.clone()).or_default().insert(spec.name.clone());
        }
        self.in_use_mb += c.memory_charged();
        self.containers.insert(spec.name.clone(), c);
        Ok(&self.containers[&spec.name])
    }

    /// `docker rm -f`.
    pub fn remove(&mut self, name: &str) -> Result<Container, DockerError> {
        if self.daemon_down {
            return Err(DockerError::DaemonDown);
        }
        let c = self.containers.remove(name).ok_or_else(|| DockerError::NoSuchContainer(name.to_string()))?;
        self.in_use_mb -= c.memory_charged();
        if let Some(cluster) = c.labels.get(capi_scenarios::predicate::KIND_CLUSTER_LABEL) {
            if let Some(names) = self.by_cluster.get_mut(cluster) {
                names.remove(name);
                if names.is_empty() {
                    self.by_cluster.remove(cluster);
                }
            }
        }
        Ok(c)
    }

    /// `docker kill` (exit 137), or an OOM kill.
    pub fn kill(&mut self, name: &str, reason: &str) -> bool {
        match self.get_mut(name) {
            Some(mut c) if c.state != State::Exited(137) && !matches!(c.state, State::Exited(_)) => {
                c.state = State::Exited(137);
                c.exit_reason = Some(reason.to_string());
                true
            }
            _ => false,
        }
    }

    /// `docker pause` / `docker unpause`.
    pub fn set_paused(&mut self, name: &str, paused: bool) -> bool {
        match self.get_mut(name) {
            Some(mut c) if paused && c.state == State::Running => {
                c.state = State::Paused;
                true
            }
            Some(mut c) if !paused && c.state == State::Paused => {
                c.state = State::Running;
                true
            }
            _ => false,
        }
    }

    /// Start an exited container again (restart policy, or a daemon coming back).
    pub fn restart(&mut self, name: &str, now: u64, boot_ms: u64) -> bool {
        match self.get_mut(name) {
            Some(mut c) if matches!(c.state, State::Exited(_)) => {
                c.state = State::Running;
                c.started_ms = now;
                c.booted_at = now + boot_ms;
                c.life += 1;
                c.exit_reason = None;
                true
            }
            _ => false,
        }
    }

    /// Memory used by running and paused containers.
    pub fn memory_in_use(&self) -> u64 {
        debug_assert_eq!(self.in_use_mb, self.containers.values().map(Container::memory_charged).sum::<u64>());
        self.in_use_mb
    }

    /// Enforce the memory budget: while over it, the kernel OOM-kills the container using the most
    /// memory (ties: the most recently started, then by name). Returns the killed containers.
    pub fn enforce_memory(&mut self) -> Vec<String> {
        let mut killed = Vec::new();
        while self.memory_in_use() > self.memory_budget_mb {
            let victim = self
                .containers
                .values()
                .filter(|c| c.state == State::Running)
                .max_by(|a, b| a.memory_mb.cmp(&b.memory_mb).then(a.started_ms.cmp(&b.started_ms)).then(b.name.cmp(&a.name)))
                .map(|c| c.name.clone());
            match victim {
                Some(v) => {
                    if let Some(mut c) = self.get_mut(&v) {
                        c.state = State::Exited(137);
                        c.exit_reason = Some("OOMKilled".into());
                    }
                    killed.push(v);
                }
                None => break,
            }
        }
        killed
    }
}

/// A container borrowed mutably from its host: when the borrow ends, the host's memory in use is
/// corrected by what changed (its state or its memory).
pub struct ContainerMut<'a> {
    c: &'a mut Container,
    in_use_mb: &'a mut u64,
    before: u64,
}

impl std::ops::Deref for ContainerMut<'_> {
    type Target = Container;
    fn deref(&self) -> &Container {
        self.c
    }
}

impl std::ops::DerefMut for ContainerMut<'_> {
    fn deref_mut(&mut self) -> &mut Container {
        self.c
    }
}

impl Drop for ContainerMut<'_> {
    fn drop(&mut self) {
        *self.in_use_mb = *self.in_use_mb - self.before + self.c.memory_charged();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str, mem: u64) -> RunSpec {
        RunSpec { name: name.into(), image: "kindest/node:v1.34.3".into(), labels: BTreeMap::new(), memory_mb: mem, boot_ms: 1000 }
    }

    #[test]
    fn name_conflict_and_oom_kill_of_the_largest() {
        let mut h = DockerHost::new(1000);
        h.run(spec("a", 400), 0).unwrap();
        assert!(matches!(h.run(spec("a", 1), 0), Err(DockerError::NameConflict(_))));
        h.run(spec("b", 500), 10).unwrap();
        assert!(h.enforce_memory().is_empty());
        h.run(spec("c", 300), 20).unwrap();
        assert_eq!(h.enforce_memory(), vec!["b".to_string()]);
        assert_eq!(h.get("b").unwrap().exit_reason.as_deref(), Some("OOMKilled"));
    }

    /// The memory in use follows every change: growth and state changes made through `get_mut`,
    /// kills, pauses, restarts and removals; the OOM killer acts on it.
    #[test]
    fn memory_in_use_follows_changes() {
        let mut h = DockerHost::new(1000);
        h.run(spec("a", 300), 0).unwrap();
        h.run(spec("b", 200), 0).unwrap();
        assert_eq!(h.memory_in_use(), 500);
        h.get_mut("a").unwrap().memory_mb = 700;
        assert_eq!(h.memory_in_use(), 900);
        assert!(h.kill("b", "killed"));
        assert_eq!(h.memory_in_use(), 700);
        assert!(h.set_paused("a", true));
        assert_eq!(h.memory_in_use(), 700, "a paused container keeps its memory");
        assert!(h.restart("b", 10, 100));
        assert_eq!(h.memory_in_use(), 900);
        h.get_mut("b").unwrap().memory_mb = 400;
        assert_eq!(h.memory_in_use(), 1100);
        // Over budget: only running containers are candidates, so b goes although a is larger.
        assert_eq!(h.enforce_memory(), vec!["b".to_string()]);
        assert_eq!(h.memory_in_use(), 700);
        h.get_mut("a").unwrap().state = State::Exited(0);
        assert_eq!(h.memory_in_use(), 0);
        h.remove("a").unwrap();
        h.remove("b").unwrap();
        assert_eq!(h.memory_in_use(), 0);
    }
}

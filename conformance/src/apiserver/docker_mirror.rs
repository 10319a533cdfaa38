//! `--docker`: mirror the simulated Docker host onto this machine's real Docker Engine. When the
//! simulated CAPD runs a container, a real one with the same name and CAPD labels runs `sleep` from a
//! small local image; when it removes, kills, pauses or restarts one, the real one follows. When a
//! mirrored real container dies or is removed behind the simulator's back (`docker kill`, the OOM
//! killer, `docker rm -f`), the simulator is told, so its CAPD notices as real CAPD would.
//!
//! Simulated time waits for the real engine: while operations are queued or running
//! ([`MirrorSync::busy`]), the simulator thread does not advance (see `core`), as CAPD's `docker run`
//! blocks its reconcile until Docker has done it. Without that, at a high speed the real host trails
//! the simulated one by whole simulated minutes (a `docker run` takes a few hundred milliseconds of
//! wall time), and a client looking at the real containers sees an older world than the API shows.
//!
//! Safety contract: the mirror only ever acts on containers it created itself, by the id Docker gave
//! it; every one carries `capi-harness.io/owner=capi-sim-serve` and this serve instance's id, and the
//! final cleanup removes exactly the containers with both labels. Containers without them (decoys,
//! a real KinD cluster, another serve instance's) are never touched.

use super::core::{Core, SimHandle};
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{
    CreateContainerOptions, EventsOptions, KillContainerOptions, ListContainersOptions, RemoveContainerOptions, StartContainerOptions,
};
use bollard::Docker;
use capi_sim::world::docker::{DockerHost, State};
use futures::StreamExt;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// The harness label every mirrored container carries (the key the scenario harness uses too).
pub const OWNER_LABEL: &str = capi_sim::backend::HARNESS_LABEL;
/// Its value for containers of `sim serve`.
pub const OWNER_VALUE: &str = "capi-sim-serve";
/// The label naming the serve instance that created a container.
pub const INSTANCE_LABEL: &str = "capi-harness.io/instance";
/// What a mirrored container runs (a busybox applet; the test images link `sleep` to busybox).
pub const SLEEP_COMMAND: &[&str] = &["sleep", "1000000000"];

/// What the real side is asked to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MirrorOp {
    /// `docker run -d --name NAME -l ... IMAGE sleep ...`.
    Create {
        /// Container name.
        name: String,
        /// Image.
        image: String,
        /// CAPD's labels.
        labels: BTreeMap<String, String>,
    },
    /// `docker rm -f`.
    Remove {
        /// Container name.
        name: String,
    },
    /// `docker kill`.
    Kill {
        /// Container name.
        name: String,
    },
    /// `docker start` (the simulated container restarted).
    Start {
        /// Container name.
        name: String,
    },
    /// `docker pause` / `docker unpause`.
    Pause {
        /// Container name.
        name: String,
        /// Pause (else unpause).
        paused: bool,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Seen {
    id: String,
    life: u32,
    state: State,
}

/// Operations sent to the real side and not finished yet (shared by both sides).
pub type Pending = Arc<AtomicUsize>;

/// The simulator side: remembers what the simulated host looked like and turns differences into
/// [`MirrorOp`]s. Runs on the simulator thread after every simulation step, job and tick.
pub struct MirrorSync {
    seen: BTreeMap<String, Seen>,
    ops: Option<mpsc::UnboundedSender<MirrorOp>>,
    pending: Pending,
}

impl MirrorSync {
    /// A sync sending to `ops`.
    pub fn new(ops: mpsc::UnboundedSender<MirrorOp>) -> MirrorSync {
        MirrorSync { seen: BTreeMap::new(), ops: Some(ops), pending: Pending::default() }
    }

    /// The counter of unfinished operations (give it to [`Mirror::start`]).
    pub fn pending(&self) -> Pending {
        self.pending.clone()
    }

    /// Whether the real side still has operations to do.
    pub fn busy(&self) -> bool {
        self.ops.is_some() && self.pending.load(Ordering::Acquire) > 0
    }

    fn send(&self, op: MirrorOp, verbose: bool) {
        if verbose {
            eprintln!("capi-sim serve: docker mirror: {op:?}");
        }
        if let Some(tx) = &self.ops {
            self.pending.fetch_add(1, Ordering::AcqRel);
            if tx.send(op).is_err() {
                self.pending.fetch_sub(1, Ordering::AcqRel);
            }
        }
    }

    /// Compare the simulated host with what was last seen and send the differences.
    pub fn sync(&mut self, host: &DockerHost, verbose: bool) {
        let mut ops = Vec::new();
        let mut present = BTreeSet::new();
        for c in host.containers() {
            present.insert(c.name.clone());
            let now = Seen { id: c.id.clone(), life: c.life, state: c.state };
            match self.seen.get(&c.name) {
                Some(old) if old.id == now.id => {
                    if old.life != now.life && !matches!(c.state, State::Exited(_)) {
                        ops.push(MirrorOp::Start { name: c.name.clone() });
                    } else if !matches!(old.state, State::Exited(_)) && matches!(c.state, State::Exited(_)) {
                        ops.push(MirrorOp::Kill { name: c.name.clone() });
                    }
                    match (old.state, c.state) {
                        (State::Running, State::Paused) => ops.push(MirrorOp::Pause { name: c.name.clone(), paused: true }),
                        (State::Paused, State::Running) => ops.push(MirrorOp::Pause { name: c.name.clone(), paused: false }),
                        _ => {}
                    }
                }
                Some(_) => {
                    // Removed and created again between two looks.
                    ops.push(MirrorOp::Remove { name: c.name.clone() });
                    ops.push(MirrorOp::Create { name: c.name.clone(), image: c.image.clone(), labels: c.labels.clone() });
                }
                None => ops.push(MirrorOp::Create { name: c.name.clone(), image: c.image.clone(), labels: c.labels.clone() }),
            }
            self.seen.insert(c.name.clone(), now);
        }
        let gone: Vec<String> = self.seen.keys().filter(|n| !present.contains(*n)).cloned().collect();
        for name in gone {
            self.seen.remove(&name);
            ops.push(MirrorOp::Remove { name });
        }
        for op in ops {
            self.send(op, verbose);
        }
    }

    /// No more operations (the simulator stops); the real side drains what was sent.
    pub fn finish(&mut self) {
        self.ops = None;
    }
}

/// Real container ids by name, for the containers this instance created and still owns.
pub type Registry = Arc<Mutex<BTreeMap<String, String>>>;

fn lock<T>(r: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    r.lock().unwrap_or_else(|p| p.into_inner())
}

/// Ids of real containers the mirror itself is killing: their `die` event is the simulator's own
/// doing, not news (by then the simulated container may already have been restarted).
type OwnKills = Arc<Mutex<BTreeSet<String>>>;

/// The real side: executes [`MirrorOp`]s and reports real deaths to the simulator.
pub struct Mirror {
    docker: Docker,
    instance: String,
    registry: Registry,
    ops_task: Option<JoinHandle<()>>,
    events_task: Option<JoinHandle<()>>,
}

impl Mirror {
    /// Start executing operations from `ops` (counting them down in `pending`) and watching Docker
    /// events for this instance.
    pub fn start(
        docker: Docker,
        instance: String,
        ops: mpsc::UnboundedReceiver<MirrorOp>,
        pending: Pending,
        sim: SimHandle,
        verbose: bool,
    ) -> Mirror {
        let registry: Registry = Arc::default();
        let own_kills: OwnKills = Arc::default();
        let side =
            RealSide { docker: docker.clone(), instance: instance.clone(), registry: registry.clone(), own_kills: own_kills.clone() };
        let ops_task = tokio::spawn(run_ops(side.clone(), ops, pending, verbose));
        let events_task = tokio::spawn(watch_events(side, sim, verbose));
        Mirror { docker, instance, registry, ops_task: Some(ops_task), events_task: Some(events_task) }
    }

    /// The serve instance id on the containers.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// Names and ids of the real containers mirrored now.
    pub fn containers(&self) -> BTreeMap<String, String> {
        lock(&self.registry).clone()
    }

    /// After the simulator stopped: run the queued operations, stop watching events, and remove every
    /// container of this instance. Returns how many were removed.
    pub async fn shutdown(mut self) -> Result<usize, String> {
        if let Some(t) = self.ops_task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(30), t).await;
        }
        if let Some(t) = self.events_task.take() {
            t.abort();
        }
        remove_instance_containers(&self.docker, &self.instance).await
    }
}

impl Drop for Mirror {
    fn drop(&mut self) {
        if let Some(t) = self.ops_task.take() {
            t.abort();
        }
        if let Some(t) = self.events_task.take() {
            t.abort();
        }
    }
}

fn is_ours(labels: Option<&HashMap<String, String>>, instance: &str) -> bool {
    labels.is_some_and(|l| {
        l.get(OWNER_LABEL).map(String::as_str) == Some(OWNER_VALUE) && l.get(INSTANCE_LABEL).map(String::as_str) == Some(instance)
    })
}

/// Remove every container (running or not) that carries both the harness label and this instance's
/// id; nothing else. Returns how many were removed.
pub async fn remove_instance_containers(docker: &Docker, instance: &str) -> Result<usize, String> {
    let filters =
        HashMap::from([("label".to_string(), vec![format!("{OWNER_LABEL}={OWNER_VALUE}"), format!("{INSTANCE_LABEL}={instance}")])]);
    let list = docker
        .list_containers(Some(ListContainersOptions { all: true, filters: Some(filters), ..Default::default() }))
        .await
        .map_err(|e| format!("listing the mirrored containers: {e}"))?;
    let mut removed = 0;
    for c in list {
        // The label filter already selects them; check again so a filter quirk can never widen it.
        let (Some(id), true) = (c.id.as_deref(), is_ours(c.labels.as_ref(), instance)) else { continue };
        match docker.remove_container(id, Some(RemoveContainerOptions { force: true, v: true, ..Default::default() })).await {
            Ok(()) => removed += 1,
            Err(e) if e.to_string().contains("No such container") => {}
            Err(e) => return Err(format!("removing container {id}: {e}")),
        }
    }
    Ok(removed)
}

/// [`remove_instance_containers`] from synchronous code (drop guards, panics): on a thread of its
/// own with its own runtime, so it works inside or outside a runtime.
pub fn remove_instance_containers_blocking(instance: &str) -> Result<usize, String> {
    let instance = instance.to_string();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
        rt.block_on(async {
            let docker = super::images::connect().await?;
            let mut total = remove_instance_containers(&docker, &instance).await?;
            // A create that was in flight when the tasks stopped may land just after the first pass.
            tokio::time::sleep(Duration::from_millis(300)).await;
            total += remove_instance_containers(&docker, &instance).await?;
            Ok(total)
        })
    })
    .join()
    .map_err(|_| "the cleanup thread panicked".to_string())?
}

fn take(registry: &Registry, name: &str) -> Option<String> {
    lock(registry).remove(name)
}

/// What the real side's tasks share.
#[derive(Clone)]
struct RealSide {
    docker: Docker,
    instance: String,
    registry: Registry,
    own_kills: OwnKills,
}

/// Counts an operation as finished when dropped (also when the task is aborted mid-operation).
struct Done<'a>(&'a Pending);

impl Drop for Done<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

async fn run_ops(side: RealSide, mut ops: mpsc::UnboundedReceiver<MirrorOp>, pending: Pending, verbose: bool) {
    let RealSide { docker, instance, registry, own_kills } = side;
    let mut warned_images = BTreeSet::new();
    while let Some(op) = ops.recv().await {
        let _done = Done(&pending);
        let owned = |name: &str| lock(&registry).get(name).cloned();
        let result = match &op {
            MirrorOp::Create { name, image, labels } => {
                let mut labels: HashMap<String, String> = labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
                labels.insert(OWNER_LABEL.into(), OWNER_VALUE.into());
                labels.insert(INSTANCE_LABEL.into(), instance.clone());
                let body = ContainerCreateBody {
                    image: Some(image.clone()),
                    cmd: Some(SLEEP_COMMAND.iter().map(|s| s.to_string()).collect()),
                    labels: Some(labels),
                    host_config: Some(HostConfig { network_mode: Some("none".into()), ..Default::default() }),
                    ..Default::default()
                };
                let opts = CreateContainerOptions { name: Some(name.clone()), ..Default::default() };
                match docker.create_container(Some(opts), body).await {
                    Ok(created) => {
                        lock(&registry).insert(name.clone(), created.id.clone());
                        docker.start_container(&created.id, None::<StartContainerOptions>).await.map_err(|e| e.to_string())
                    }
                    Err(e) if e.to_string().contains("No such image") => {
                        if warned_images.insert(image.clone()) {
                            eprintln!(
                                "capi-sim serve: docker mirror: image {image} is not on this host (no registry here); build the \
                                 test images (capi_conformance::apiserver::images::ensure_images) — containers of it are not mirrored"
                            );
                        }
                        Ok(())
                    }
                    Err(e) => Err(e.to_string()),
                }
            }
            MirrorOp::Remove { name } => match take(&registry, name) {
                Some(id) => {
                    match docker.remove_container(&id, Some(RemoveContainerOptions { force: true, v: true, ..Default::default() })).await {
                        // Someone else (a conformance run's cleanup) is removing it already, or did.
                        Err(e) if e.to_string().contains("already in progress") || e.to_string().contains("No such container") => Ok(()),
                        r => r.map_err(|e| e.to_string()),
                    }
                }
                None => Ok(()),
            },
            MirrorOp::Kill { name } => match owned(name) {
                Some(id) => {
                    lock(&own_kills).insert(id.clone());
                    match docker.kill_container(&id, None::<KillContainerOptions>).await {
                        Ok(()) => Ok(()),
                        Err(e) => {
                            lock(&own_kills).remove(&id);
                            // Killing a container that is already dead (the death came from Docker) is fine.
                            if e.to_string().contains("is not running") {
                                Ok(())
                            } else {
                                Err(e.to_string())
                            }
                        }
                    }
                }
                None => Ok(()),
            },
            MirrorOp::Start { name } => match owned(name) {
                Some(id) => docker.start_container(&id, None::<StartContainerOptions>).await.map_err(|e| e.to_string()),
                None => Ok(()),
            },
            MirrorOp::Pause { name, paused } => match owned(name) {
                Some(id) if *paused => docker.pause_container(&id).await.map_err(|e| e.to_string()),
                Some(id) => docker.unpause_container(&id).await.map_err(|e| e.to_string()),
                None => Ok(()),
            },
        };
        match result {
            Err(e) => eprintln!("capi-sim serve: docker mirror: {op:?} failed: {e}"),
            Ok(()) if verbose => eprintln!("capi-sim serve: docker mirror: done {op:?}"),
            Ok(()) => {}
        }
    }
}

/// What happened to a real container, as the simulator must learn it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RealChange {
    /// It died (`docker kill`, its process exited, or the OOM killer).
    Died {
        /// Killed by the OOM killer.
        oom: bool,
    },
    /// It was removed.
    Removed,
}

/// Apply a real container's change to the simulated host (on the simulator thread).
pub fn apply_real_change(core: &mut Core, name: &str, change: RealChange) {
    let now = core.now();
    let world = &mut core.sim.world;
    let Some(c) = world.docker.get(name) else { return };
    let changed = match change {
        RealChange::Died { oom } => !matches!(c.state, State::Exited(_)) && world.kill_container(name, oom, now),
        RealChange::Removed => world.remove_container(name, now).is_ok(),
    };
    if changed {
        if core.verbose {
            eprintln!("capi-sim serve: docker mirror: real container {name} {change:?}; the simulated host follows");
        }
        core.sim.after_world_pub();
    }
}

async fn watch_events(side: RealSide, sim: SimHandle, verbose: bool) {
    let RealSide { docker, instance, registry, own_kills } = side;
    let filters = HashMap::from([
        ("type".to_string(), vec!["container".to_string()]),
        ("label".to_string(), vec![format!("{INSTANCE_LABEL}={instance}")]),
    ]);
    let mut oom = BTreeSet::new();
    loop {
        let mut events = docker.events(Some(EventsOptions { filters: Some(filters.clone()), ..Default::default() }));
        while let Some(item) = events.next().await {
            let msg = match item {
                Ok(m) => m,
                Err(e) => {
                    eprintln!("capi-sim serve: docker mirror: event stream failed: {e}; reconnecting");
                    break;
                }
            };
            let Some(actor) = msg.actor else { continue };
            let (Some(id), Some(attrs)) = (actor.id, actor.attributes) else { continue };
            let Some(name) = attrs.get("name").cloned() else { continue };
            if !is_ours(Some(&attrs), &instance) {
                continue;
            }
            // Only the container this instance created under that name and still owns: a removal the
            // mirror made itself has already left the registry.
            if lock(&registry).get(&name) != Some(&id) {
                continue;
            }
            let change = match msg.action.as_deref() {
                Some("oom") => {
                    oom.insert(id.clone());
                    continue;
                }
                Some("die") => {
                    let oom = oom.remove(&id);
                    if lock(&own_kills).remove(&id) {
                        continue;
                    }
                    RealChange::Died { oom }
                }
                Some("destroy") => {
                    lock(&registry).remove(&name);
                    RealChange::Removed
                }
                _ => continue,
            };
            if verbose {
                eprintln!("capi-sim serve: docker event: {name} {change:?}");
            }
            if sim.call(move |core| apply_real_change(core, &name, change)).await.is_err() {
                return;
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use capi_sim::world::docker::RunSpec;

    #[test]
    fn sync_turns_host_changes_into_operations() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let mut sync = MirrorSync::new(tx);
        let mut host = DockerHost::new(100_000);
        let labels = BTreeMap::from([("io.x-k8s.kind.cluster".to_string(), "c1".to_string())]);
        host.run(RunSpec { name: "c1-lb".into(), image: "kindest/haproxy:v20230606-42a2262b".into(), labels, memory_mb: 1, boot_ms: 0 }, 0)
            .unwrap();
        sync.sync(&host, false);
        assert!(matches!(rx.try_recv(), Ok(MirrorOp::Create { ref name, .. }) if name == "c1-lb"));
        sync.sync(&host, false);
        assert!(rx.try_recv().is_err(), "nothing changed");
        host.kill("c1-lb", "test");
        sync.sync(&host, false);
        assert_eq!(rx.try_recv(), Ok(MirrorOp::Kill { name: "c1-lb".into() }));
        host.restart("c1-lb", 5, 0);
        sync.sync(&host, false);
        assert_eq!(rx.try_recv(), Ok(MirrorOp::Start { name: "c1-lb".into() }));
        host.remove("c1-lb").unwrap();
        sync.sync(&host, false);
        assert_eq!(rx.try_recv(), Ok(MirrorOp::Remove { name: "c1-lb".into() }));
    }
}

//! Fault injection: faults from `fault:` steps and from random swarm profiles, started at a time or
//! when a predicate first holds, healed after their duration (or at the liveness phase), each recorded
//! with what it hit so that a failure can be replayed and shrunk. Each fault acts the way the real
//! system fails (a killed container stays dead, an OOM kill restarts once, a paused node's kubelet
//! goes silent, a partition makes the workload API time out, a crashed manager loses its cache...).

pub mod profile;
mod targets;

use crate::engine::{Ev, Sim};
use capi_scenarios::model::{FaultKind, FaultSpec};
use capi_scenarios::predicate;
use capi_scenarios::report::FaultRecord;
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;

/// A fault event in the engine's queue.
#[derive(Clone, Debug)]
pub enum FaultEvent {
    /// Start fault `id`.
    Start(usize),
    /// Heal fault `id`.
    Heal(usize),
}

/// How to undo a fault.
#[derive(Clone, Debug)]
enum Undo {
    Unpause(String),
    Restart(String),
    DaemonUp,
    ImageBack(String),
    Kubelet { cluster: String, node: String },
    Cni(String),
    Unpartition(String),
    Speed(u64),
    WatchDrop { m: usize, g: usize, old: f64 },
    Lag { m: usize, g: usize, old: u64 },
    Conflicts { m: usize, old: f64 },
    Throttle { m: usize, old: f64 },
    Latency { m: usize, old: u64 },
    Webhooks { m: usize, manager: String },
    Kubeadm { cluster: String, init: bool },
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum State {
    Armed,
    Scheduled,
    Active,
    Done,
    Cancelled,
}

struct Fault {
    spec: FaultSpec,
    state: State,
    undo: Vec<Undo>,
    record: Option<usize>,
}

/// Fault state of a simulation.
pub struct Faults {
    /// The fault source's random stream (API fault dice, crash points).
    pub rng: ChaCha8Rng,
    crash_next: BTreeMap<(usize, usize), u32>,
    faults: Vec<Fault>,
    records: Vec<FaultRecord>,
    armed: usize,
    last_version: u64,
}

impl Faults {
    /// No faults.
    pub fn new(rng: ChaCha8Rng) -> Self {
        Faults { rng, crash_next: BTreeMap::new(), faults: Vec::new(), records: Vec::new(), armed: 0, last_version: u64::MAX }
    }

    /// Whether the next reconcile of a manager crashes after N writes.
    pub fn take_crash_for(&mut self, m: usize, g: usize) -> Option<u32> {
        self.crash_next.remove(&(m, g))
    }

    /// Faults injected so far.
    pub fn records(&self) -> Vec<FaultRecord> {
        self.records.clone()
    }

    /// Whether any fault was injected or is pending.
    pub fn any(&self) -> bool {
        !self.faults.is_empty()
    }

    /// The time the last fault started or healed (liveness is measured from it).
    pub fn last_activity_ms(&self) -> u64 {
        self.records.iter().map(|r| r.healed_at_ms.unwrap_or(r.at_ms)).max().unwrap_or(0)
    }
}

/// Inject a fault: at once, after a delay, or when a predicate first holds.
pub fn inject(sim: &mut Sim, spec: &FaultSpec) -> Result<String, String> {
    if let Some(p) = spec.probability {
        if !(0.0..=1.0).contains(&p) {
            return Err(format!("fault probability must be within 0..1, got {p}"));
        }
    }
    let id = sim.faults.faults.len();
    let armed = spec.when.is_some();
    sim.faults.faults.push(Fault {
        spec: spec.clone(),
        state: if armed { State::Armed } else { State::Scheduled },
        undo: Vec::new(),
        record: None,
    });
    let kind = kind_name(spec.kind);
    if let Some(w) = &spec.when {
        sim.faults.armed += 1;
        sim.faults.last_version = u64::MAX;
        check_triggers(sim);
        let _ = w;
        return Ok(format!("{kind} armed: starts when its trigger first holds"));
    }
    let at = sim.now() + spec.after.map_or(0, |d| d.as_ms());
    sim.schedule(at, Ev::Fault(FaultEvent::Start(id)));
    Ok(if at == sim.now() { format!("{kind} injected") } else { format!("{kind} scheduled at t={}s", at / 1000) })
}

/// The scenario-language name of a fault kind.
pub fn kind_name(k: FaultKind) -> String {
    serde_json::to_value(k).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

/// After every event: start armed faults whose trigger now holds.
pub fn check_triggers(sim: &mut Sim) {
    if sim.faults.armed == 0 || sim.faults.last_version == sim.version() {
        return;
    }
    sim.faults.last_version = sim.version();
    let ready: Vec<usize> = sim
        .faults
        .faults
        .iter()
        .enumerate()
        .filter(|(_, f)| f.state == State::Armed)
        .filter(|(_, f)| f.spec.when.as_ref().is_some_and(|w| predicate::evaluate(w, sim).holds))
        .map(|(i, _)| i)
        .collect();
    for id in ready {
        sim.faults.armed -= 1;
        sim.faults.faults[id].state = State::Scheduled;
        let at = sim.now() + sim.faults.faults[id].spec.after.map_or(0, |d| d.as_ms());
        sim.schedule(at, Ev::Fault(FaultEvent::Start(id)));
    }
}

/// Handle a fault event.
pub fn handle(sim: &mut Sim, ev: FaultEvent) {
    match ev {
        FaultEvent::Start(id) => start(sim, id),
        FaultEvent::Heal(id) => heal(sim, id),
    }
}

fn start(sim: &mut Sim, id: usize) {
    if sim.faults.faults[id].state != State::Scheduled {
        return;
    }
    let spec = sim.faults.faults[id].spec.clone();
    let now = sim.now();
    let (undo, target) = apply(sim, &spec);
    let kind = kind_name(spec.kind);
    sim.record("faults", format_args!("start {kind} on {target}"));
    if let Some(t) = &mut sim.timeline {
        t.mark(now, "fault", format!("{kind} {target}"));
    }
    let rec = sim.faults.records.len();
    sim.faults.records.push(FaultRecord { kind, target, at_ms: now, healed_at_ms: None, spec: Some(spec.clone()) });
    let f = &mut sim.faults.faults[id];
    f.state = State::Active;
    f.undo = undo;
    f.record = Some(rec);
    if let Some(d) = spec.duration {
        sim.schedule(now + d.as_ms(), Ev::Fault(FaultEvent::Heal(id)));
    } else if sim.faults.faults[id].undo.is_empty() {
        sim.faults.faults[id].state = State::Done;
    }
    sim.after_world_pub();
}

fn heal(sim: &mut Sim, id: usize) {
    if sim.faults.faults[id].state != State::Active {
        return;
    }
    let undo = std::mem::take(&mut sim.faults.faults[id].undo);
    let now = sim.now();
    for u in undo {
        revert(sim, u, now);
    }
    sim.faults.faults[id].state = State::Done;
    if let Some(r) = sim.faults.faults[id].record {
        sim.faults.records[r].healed_at_ms = Some(now);
        let kind = sim.faults.records[r].kind.clone();
        sim.record("faults", format_args!("heal {kind}"));
        if let Some(t) = &mut sim.timeline {
            t.mark(now, "heal", kind);
        }
    }
    sim.after_world_pub();
}

/// The liveness phase begins: no new faults; every active fault heals now.
pub fn heal_all(sim: &mut Sim) {
    for f in &mut sim.faults.faults {
        if matches!(f.state, State::Armed | State::Scheduled) {
            f.state = State::Cancelled;
        }
    }
    sim.faults.armed = 0;
    let active: Vec<usize> = sim.faults.faults.iter().enumerate().filter(|(_, f)| f.state == State::Active).map(|(i, _)| i).collect();
    for id in active {
        heal(sim, id);
    }
}

/// End of run.
pub fn finish(_sim: &mut Sim) {}

/// Apply a fault now; returns how to undo it and a description of what it hit.
fn apply(sim: &mut Sim, spec: &FaultSpec) -> (Vec<Undo>, String) {
    let now = sim.now();
    let t = &spec.target;
    let mut undo = Vec::new();
    let desc: String;
    match spec.kind {
        FaultKind::ContainerKill | FaultKind::ContainerOom | FaultKind::ContainerPause => {
            let names = targets::node_containers(sim, t);
            for n in &names {
                match spec.kind {
                    FaultKind::ContainerKill => {
                        sim.world.kill_container(n, false, now);
                    }
                    FaultKind::ContainerOom => {
                        sim.world.kill_container(n, true, now);
                    }
                    _ => {
                        if sim.world.pause_container(n, true, now) {
                            undo.push(Undo::Unpause(n.clone()));
                        }
                    }
                }
            }
            desc = list_or_none(&names);
        }
        FaultKind::LbKill => {
            let names = targets::lb_containers(sim, t);
            for n in &names {
                if sim.world.kill_container(n, false, now) && spec.duration.is_some() {
                    undo.push(Undo::Restart(n.clone()));
                }
            }
            desc = list_or_none(&names);
        }
        FaultKind::DockerRestart => {
            sim.world.daemon_stop(now);
            undo.push(Undo::DaemonUp);
            desc = "docker daemon".into();
        }
        FaultKind::ImageMissing => {
            let images: Vec<String> = sim
                .world
                .docker
                .containers()
                .filter(|c| c.image.starts_with("kindest/node:"))
                .map(|c| c.image.clone())
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            let images =
                if images.is_empty() { vec!["kindest/node:v1.34.3".to_string(), "kindest/node:v1.35.0".to_string()] } else { images };
            for i in &images {
                if sim.world.docker.missing_images.insert(i.clone()) {
                    undo.push(Undo::ImageBack(i.clone()));
                }
            }
            desc = images.join(",");
        }
        FaultKind::KubeadmInitFail | FaultKind::KubeadmJoinFail => {
            let init = spec.kind == FaultKind::KubeadmInitFail;
            let clusters = targets::clusters(sim, t);
            for c in &clusters {
                sim.world.kubeadm_faults.insert((c.clone(), init), crate::world::KubeadmFault { permanent: spec.permanent });
                if spec.duration.is_some() {
                    undo.push(Undo::Kubeadm { cluster: c.clone(), init });
                }
            }
            desc = list_or_none(&clusters);
        }
        FaultKind::KubeletStop => {
            let nodes = targets::nodes(sim, t);
            for (c, n) in &nodes {
                if sim.world.set_kubelet(c, n, false, now) {
                    undo.push(Undo::Kubelet { cluster: c.clone(), node: n.clone() });
                }
            }
            desc = list_or_none(&nodes.iter().map(|(_, n)| n.clone()).collect::<Vec<_>>());
        }
        FaultKind::CniCrash => {
            let clusters = targets::clusters(sim, t);
            for c in &clusters {
                if sim.world.set_cni(c, false, now) {
                    undo.push(Undo::Cni(c.clone()));
                }
            }
            desc = list_or_none(&clusters);
        }
        FaultKind::EtcdMemberLoss => {
            let nodes = targets::etcd_members(sim, t);
            for (c, n) in &nodes {
                sim.world.lose_etcd_member(c, n);
            }
            desc = list_or_none(&nodes.iter().map(|(_, n)| n.clone()).collect::<Vec<_>>());
        }
        FaultKind::Partition => {
            let clusters = targets::clusters(sim, t);
            for c in &clusters {
                if sim.world.partitioned.insert(c.clone()) {
                    sim.world.notice_workload(c);
                    undo.push(Undo::Unpartition(c.clone()));
                }
            }
            desc = list_or_none(&clusters);
        }
        FaultKind::SlowDisk => {
            let old = sim.world.slowdown_pct;
            sim.world.slowdown_pct = (spec.factor.unwrap_or(3.0).max(1.0) * 100.0) as u64;
            undo.push(Undo::Speed(old));
            desc = format!("{}x slower", sim.world.slowdown_pct as f64 / 100.0);
        }
        FaultKind::ControllerCrash => {
            let mut hit = Vec::new();
            for (m, g) in targets::managers(sim, t) {
                let writes = crate::engine::rng::between(&mut sim.faults.rng, 0, 3) as u32;
                sim.faults.crash_next.insert((m, g), writes);
                hit.push(format!("{}/{} (after {writes} writes)", sim.mgmt[m].name, sim.mgmt[m].managers[g].name));
            }
            desc = list_or_none(&hit);
        }
        FaultKind::WatchDrop | FaultKind::StaleCache => {
            let mut hit = Vec::new();
            for (m, g) in targets::managers(sim, t) {
                let mname = sim.mgmt[m].name.clone();
                let mgr = &mut sim.mgmt[m].managers[g];
                if spec.kind == FaultKind::WatchDrop {
                    undo.push(Undo::WatchDrop { m, g, old: mgr.drop_probability });
                    mgr.drop_probability = spec.probability.unwrap_or(0.2);
                } else {
                    undo.push(Undo::Lag { m, g, old: mgr.extra_lag_ms });
                    mgr.extra_lag_ms = spec.delay.map_or(5_000, |d| d.as_ms());
                }
                hit.push(format!("{mname}/{}", mgr.name));
            }
            desc = list_or_none(&hit);
        }
        FaultKind::ApiConflict | FaultKind::ApiThrottle | FaultKind::ApiLatency | FaultKind::WebhookUnavailable => {
            let mut hit = Vec::new();
            for m in targets::managements(sim, t) {
                let seed = sim.rng.derive(&format!("faults/api/{m}/{}", sim.faults.records.len()));
                let api = &mut sim.mgmt[m].api;
                if api.faults.rng.is_none() {
                    api.faults.rng = Some(<ChaCha8Rng as rand_core::SeedableRng>::seed_from_u64(seed));
                }
                match spec.kind {
                    FaultKind::ApiConflict => {
                        undo.push(Undo::Conflicts { m, old: api.faults.conflict_probability });
                        api.faults.conflict_probability = spec.probability.unwrap_or(0.1);
                    }
                    FaultKind::ApiThrottle => {
                        undo.push(Undo::Throttle { m, old: api.faults.throttle_probability });
                        api.faults.throttle_probability = spec.probability.unwrap_or(0.1);
                    }
                    FaultKind::ApiLatency => {
                        undo.push(Undo::Latency { m, old: api.faults.latency_ms });
                        api.faults.latency_ms = spec.delay.map_or(500, |d| d.as_ms());
                    }
                    _ => {
                        let manager = t.manager.clone().unwrap_or_else(|| "capi".into());
                        if api.faults.webhooks_down.insert(manager.clone()) {
                            undo.push(Undo::Webhooks { m, manager: manager.clone() });
                        }
                        hit.push(format!("{} webhooks of {manager}", sim.mgmt[m].name));
                        continue;
                    }
                }
                hit.push(sim.mgmt[m].name.clone());
            }
            desc = list_or_none(&hit);
        }
    }
    (undo, desc)
}

fn revert(sim: &mut Sim, u: Undo, now: u64) {
    match u {
        Undo::Unpause(n) => {
            sim.world.pause_container(&n, false, now);
        }
        Undo::Restart(n) => {
            sim.world.restart_container(&n, now, 0);
        }
        Undo::DaemonUp => sim.world.daemon_start(now),
        Undo::ImageBack(i) => {
            sim.world.docker.missing_images.remove(&i);
        }
        Undo::Kubelet { cluster, node } => {
            sim.world.set_kubelet(&cluster, &node, true, now);
        }
        Undo::Cni(c) => {
            sim.world.set_cni(&c, true, now);
        }
        Undo::Unpartition(c) => {
            sim.world.partitioned.remove(&c);
            sim.world.notice_workload(&c);
        }
        Undo::Speed(old) => sim.world.slowdown_pct = old,
        Undo::WatchDrop { m, g, old } => sim.mgmt[m].managers[g].drop_probability = old,
        Undo::Lag { m, g, old } => sim.mgmt[m].managers[g].extra_lag_ms = old,
        Undo::Conflicts { m, old } => sim.mgmt[m].api.faults.conflict_probability = old,
        Undo::Throttle { m, old } => sim.mgmt[m].api.faults.throttle_probability = old,
        Undo::Latency { m, old } => sim.mgmt[m].api.faults.latency_ms = old,
        Undo::Webhooks { m, manager } => {
            sim.mgmt[m].api.faults.webhooks_down.remove(&manager);
        }
        Undo::Kubeadm { cluster, init } => {
            sim.world.kubeadm_faults.remove(&(cluster, init));
        }
    }
}

fn list_or_none(v: &[String]) -> String {
    if v.is_empty() {
        "nothing (no target matched)".into()
    } else {
        v.join(", ")
    }
}

//! The simulator as a scenario [`Backend`]: scenario steps become user operations on the simulated
//! management clusters, `wait` runs simulated time until the predicate holds (checked after every
//! event that changed something), and the run ends with the final outcome, trace hash and counters.

use crate::engine::trace::TraceMode;
use crate::engine::{Sim, SimConfig};
use crate::features::FeatureGates;
use crate::kinds::Kind;
use crate::mutants::Mutants;
use crate::object::ObjKey;
use crate::store::api::Patch;
use crate::store::{Store, Subresource};
use crate::world::timing::Timing;
use capi_scenarios::backend::{Applied, ApplyAction, ApplyTarget, Backend, BackendError, ObjectRef, RunFacts, WaitResult};
use capi_scenarios::manifest::ManifestObject;
use capi_scenarios::model::{FaultSpec, MoveSpec, PatchType, Propagation, Scenario};
use capi_scenarios::outcome::{ObjectSummary, Outcome};
use capi_scenarios::predicate::{self, ClusterView, ContainerInfo, Eval, Predicate, Resource, WorldView};
use capi_scenarios::{LabelSelector, Target};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// How the simulator backend runs.
#[derive(Clone, Debug)]
pub struct SimOptions {
    /// Trace mode (Full keeps every line for `--trace`).
    pub trace: TraceMode,
    /// Mutants (tests and mutant swarms only).
    pub mutants: Mutants,
    /// Override the timing profile.
    pub timing: Option<Timing>,
    /// Where `fixtures/` is (for named timing profiles).
    pub fixtures_dir: Option<PathBuf>,
    /// Event budget.
    pub max_events: u64,
    /// Record Machine phases, Node Ready and etcd membership over time for the timeline picture.
    pub timeline: bool,
    /// Draw a random fault schedule from this profile (swarm runs).
    pub fault_profile: Option<String>,
    /// Faults to inject at the start (shrinking replays an explicit schedule).
    pub faults: Vec<FaultSpec>,
    /// Workers per controller (`--*-concurrency`); CAPI's default when `None`.
    pub concurrency: Option<u32>,
    /// Called while `wait` steps run, about once per `every_ms` of simulated time (benchmarks report
    /// progress and partial counts with it; it observes and never changes the simulation).
    pub progress: Option<ProgressHook>,
}

/// A progress observer for long waits: see [`SimOptions::progress`].
#[derive(Clone)]
pub struct ProgressHook {
    /// Simulated milliseconds between calls.
    pub every_ms: u64,
    /// What to call with the simulation.
    pub f: std::sync::Arc<dyn Fn(&Sim) + Send + Sync>,
}

impl std::fmt::Debug for ProgressHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProgressHook").field("every_ms", &self.every_ms).finish_non_exhaustive()
    }
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            trace: TraceMode::Hash,
            mutants: Mutants::new(),
            timing: None,
            fixtures_dir: None,
            max_events: SimConfig::default().max_events,
            timeline: false,
            fault_profile: None,
            faults: Vec::new(),
            concurrency: None,
            progress: None,
        }
    }
}

/// The simulator backend.
pub struct SimBackend {
    opts: SimOptions,
    sim: Option<Sim>,
    stop: Option<capi_scenarios::StopFlag>,
    invariants: Vec<(String, Predicate)>,
}

impl SimBackend {
    /// A backend.
    pub fn new(opts: SimOptions) -> Self {
        SimBackend { opts, sim: None, stop: None, invariants: Vec::new() }
    }

    /// The simulation (after `prepare`).
    pub fn sim(&self) -> Option<&Sim> {
        self.sim.as_ref()
    }

    /// The simulation, mutable.
    pub fn sim_mut(&mut self) -> Option<&mut Sim> {
        self.sim.as_mut()
    }

    /// Take the simulation out (for traces and inspection after a run).
    pub fn into_sim(self) -> Option<Sim> {
        self.sim
    }

    fn s(&mut self) -> Result<&mut Sim, BackendError> {
        self.sim.as_mut().ok_or_else(|| BackendError::Other("the backend was not prepared".into()))
    }

    fn mgmt(&self, name: Option<&str>) -> Result<usize, BackendError> {
        let sim = self.sim.as_ref().ok_or_else(|| BackendError::Other("the backend was not prepared".into()))?;
        sim.management_index(name).ok_or_else(|| BackendError::Other(format!("no management cluster named `{}`", name.unwrap_or(""))))
    }

    fn key(&self, o: &ObjectRef) -> Result<(usize, ObjKey), BackendError> {
        let m = self.mgmt(o.management.as_deref())?;
        let kind =
            Kind::lookup(&o.kind).ok_or_else(|| BackendError::Other(format!("the server doesn't have a resource type \"{}\"", o.kind)))?;
        let ns = if kind.info().namespaced { o.namespace.as_str() } else { "" };
        Ok((m, ObjKey::new(kind, ns, &o.name)))
    }
}

/// Load a timing profile: a path to a YAML file, or a name under `fixtures/timing/`.
pub fn load_timing(spec: &str, scenario: &Path, fixtures: Option<&Path>) -> Result<Timing, String> {
    let as_path = scenario.parent().unwrap_or(Path::new(".")).join(spec);
    let path = if spec.ends_with(".yaml") && as_path.is_file() {
        as_path
    } else {
        let dir = fixtures
            .map(Path::to_path_buf)
            .or_else(|| capi_scenarios::parse::find_fixtures(scenario))
            .ok_or("cannot find fixtures/ for the timing profile")?;
        dir.join("timing").join(format!("{spec}.yaml"))
    };
    let text = capi_scenarios::limits::read_text(&path, capi_scenarios::limits::MAX_MANIFEST_BYTES, "timing profile")
        .map_err(|e| e.to_string())?;
    // Profiles parsed once per process, by content (a swarm loads the same one for every seed);
    // only looked up, never iterated.
    static PARSED: std::sync::Mutex<Option<std::collections::HashMap<String, Timing>>> = std::sync::Mutex::new(None); // determinism-ok: looked up by content, never iterated
    let mut parsed = PARSED.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let parsed = parsed.get_or_insert_with(Default::default);
    if let Some(t) = parsed.get(&text) {
        return Ok(t.clone());
    }
    let t = Timing::parse(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    parsed.insert(text, t.clone());
    Ok(t)
}

impl ClusterView for Store {
    fn get(&self, kind: &str, namespace: &str, name: &str) -> Result<Option<&dyn Resource>, String> {
        let k = Kind::lookup(kind).ok_or_else(|| format!("unknown kind `{kind}`"))?;
        let ns = if k.info().namespaced { namespace } else { "" };
        Ok(self.get(&ObjKey::new(k, ns, name)).map(|o| &**o as &dyn Resource))
    }
    fn list(&self, kind: &str, namespace: Option<&str>, selector: &LabelSelector) -> Result<Vec<&dyn Resource>, String> {
        let k = Kind::lookup(kind).ok_or_else(|| format!("unknown kind `{kind}`"))?;
        let ns = if k.info().namespaced { namespace } else { None };
        Ok(self.objects().select(k, ns, selector).into_iter().map(|o| &**o as &dyn Resource).collect())
    }
}

impl WorldView for Sim {
    fn management(&self, name: Option<&str>) -> Result<&dyn ClusterView, String> {
        let i = self.management_index(name).ok_or_else(|| format!("no management cluster named `{}`", name.unwrap_or("")))?;
        Ok(&self.mgmt[i].api.store)
    }
    fn containers(&self) -> Vec<ContainerInfo> {
        self.world.docker.containers().map(|c| c.info()).collect()
    }
    fn workload(&self, _management: Option<&str>, cluster: &str) -> Result<&dyn ClusterView, String> {
        Ok(self.world.workload_objects(cluster)? as &dyn ClusterView)
    }
    fn async_step(&self, name: &str) -> Option<predicate::AsyncStatus> {
        Sim::async_step(self, name)
    }
    fn change_key(&self, management: Option<&str>, kind: &str) -> Option<predicate::ChangeKey> {
        let m = self.management_index(management)?;
        Some(predicate::ChangeKey { management: self.mgmt[m].name.clone(), kind: Kind::lookup(kind)?.name().to_string() })
    }
}

/// The label the harness puts on containers it starts itself (decoys); never one of CAPD's.
pub const HARNESS_LABEL: &str = "capi-harness.io/owner";

/// Containers a docker step or fault targets, in name order, after `pick` (first by default).
pub fn select_containers(sim: &Sim, t: &capi_scenarios::model::ContainerTarget) -> Vec<String> {
    use capi_scenarios::predicate::{KIND_CLUSTER_LABEL, KIND_ROLE_LABEL};
    let all: Vec<String> = sim
        .world
        .docker
        .containers()
        .filter(|c| t.name.as_ref().is_none_or(|n| &c.name == n))
        .filter(|c| t.cluster.as_ref().is_none_or(|v| c.labels.get(KIND_CLUSTER_LABEL) == Some(v)))
        .filter(|c| t.role.as_ref().is_none_or(|v| c.labels.get(KIND_ROLE_LABEL) == Some(v)))
        .filter(|c| t.name_prefix.as_ref().is_none_or(|p| c.name.starts_with(p.as_str())))
        .map(|c| c.name.clone())
        .collect();
    match t.pick {
        Some(capi_scenarios::target::Pick::All) => all,
        Some(capi_scenarios::target::Pick::Last) => all.into_iter().last().into_iter().collect(),
        _ => all.into_iter().take(1).collect(),
    }
}

/// Let the simulation settle before its outcome is read: run in 10s slices until a slice changes
/// nothing (at most two simulated minutes), so that the last status updates are in.
pub fn settle(sim: &mut Sim) {
    let start = sim.now();
    loop {
        let v = sim.version();
        let t = sim.now() + 10_000;
        sim.run_until(t);
        if sim.version() == v || sim.now() >= start + 120_000 || sim.halted() {
            break;
        }
    }
}

/// The final outcome of a simulation: objects (initial namespaces excepted), containers, and the
/// Events not yet expired (kube-apiserver's `--event-ttl`).
pub fn outcome(sim: &Sim) -> Outcome {
    let mut objects = Vec::new();
    let mut events = Vec::new();
    let ttl_cutoff = sim.now().saturating_sub(crate::events::EVENT_TTL_MS);
    for m in &sim.mgmt {
        for o in m.api.store.objects().iter() {
            if o.kind == Kind::Namespace && crate::store::INITIAL_NAMESPACES.contains(&o.name()) {
                continue;
            }
            // Events are the outcome's own list, not objects whose state it compares.
            if o.kind == Kind::Event {
                let last = o.str_at("/lastTimestamp").and_then(crate::object::parse_timestamp).unwrap_or(0);
                if last >= ttl_cutoff {
                    events.extend(capi_scenarios::outcome::EventSummary::from_value(&m.name, &o.to_json()));
                }
                continue;
            }
            objects.push(ObjectSummary::from_value(&m.name, &o.to_json()));
        }
    }
    let containers = sim.world.docker.containers().map(|c| c.info()).collect();
    Outcome::new(objects, containers, events)
}

impl Backend for SimBackend {
    fn name(&self) -> &str {
        "sim"
    }

    fn now_ms(&self) -> u64 {
        self.sim.as_ref().map_or(0, Sim::now)
    }

    fn set_invariants(&mut self, invariants: Vec<(String, Predicate)>) {
        if let Some(sim) = self.sim.as_mut() {
            sim.set_scenario_invariants(invariants.clone());
        }
        self.invariants = invariants;
    }

    fn set_stop(&mut self, stop: capi_scenarios::StopFlag) {
        if let Some(sim) = self.sim.as_mut() {
            sim.set_interrupt(stop.clone());
        }
        self.stop = Some(stop);
    }

    async fn prepare(&mut self, scenario: &Scenario, seed: u64) -> Result<(), BackendError> {
        let timing = match (&self.opts.timing, &scenario.timing) {
            (Some(t), _) => t.clone(),
            (None, Some(name)) => load_timing(name, &scenario.path, self.opts.fixtures_dir.as_deref()).map_err(BackendError::Other)?,
            (None, None) => Timing::default(),
        };
        let mut sim = Sim::new(SimConfig {
            seed,
            timing,
            trace: self.opts.trace,
            mutants: self.opts.mutants.clone(),
            max_events: self.opts.max_events,
            concurrency: self.opts.concurrency,
        });
        for m in &scenario.management {
            let gates = match &m.init_vars {
                Some(vars) => FeatureGates::from_init_vars(vars.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
                None => FeatureGates::from_init_vars(scenario.vars.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
            };
            sim.add_management(&m.name, gates);
        }
        sim.record("scenario", format_args!("SEED={seed} scenario={}", scenario.name));
        if self.opts.timeline {
            sim.timeline = Some(Default::default());
        }
        if let Some(name) = &self.opts.fault_profile {
            let profile = crate::faults::profile::profile(name).map_err(BackendError::Other)?;
            let mut rng = sim.rng.stream("swarm/schedule");
            for f in crate::faults::profile::draw(profile, &mut rng) {
                crate::faults::inject(&mut sim, &f).map_err(BackendError::Other)?;
            }
        }
        for f in &self.opts.faults {
            crate::faults::inject(&mut sim, f).map_err(BackendError::Other)?;
        }
        if let Some(flag) = &self.stop {
            sim.set_interrupt(flag.clone());
        }
        sim.set_scenario_invariants(self.invariants.clone());
        self.sim = Some(sim);
        Ok(())
    }

    async fn apply(&mut self, objects: &[ManifestObject], target: &ApplyTarget) -> Result<Vec<Applied>, BackendError> {
        match target {
            ApplyTarget::Workload(cluster) => {
                let values: Vec<Value> = objects.iter().map(|o| o.value.clone()).collect();
                let sim = self.s()?;
                sim.apply_to_workload(cluster, values).map_err(|e| BackendError::Other(format!("workload cluster {cluster}: {e}")))?;
                Ok(objects
                    .iter()
                    .map(|o| Applied { kind: o.kind().into(), name: o.name().into(), action: ApplyAction::Created, warnings: vec![] })
                    .collect())
            }
            ApplyTarget::Management(name) => {
                let m = self.mgmt(name.as_deref())?;
                let sim = self.s()?;
                let mut out = Vec::new();
                let mut errors: Vec<BackendError> = Vec::new();
                for o in objects {
                    let existed = {
                        let v = &o.value;
                        crate::object::Object::from_json(v).ok().is_some_and(|obj| {
                            let mut key = obj.key();
                            if obj.kind.info().namespaced && key.ns.is_empty() {
                                key.ns = crate::object::shared_namespace("default");
                            }
                            sim.mgmt[m].api.store.get(&key).is_some()
                        })
                    };
                    match sim.apply(m, &o.value) {
                        Ok(w) => out.push(Applied {
                            kind: o.kind().into(),
                            name: w.object.name().into(),
                            action: if !existed {
                                ApplyAction::Created
                            } else if w.changed {
                                ApplyAction::Configured
                            } else {
                                ApplyAction::Unchanged
                            },
                            warnings: w.warnings,
                        }),
                        Err(e) => {
                            let mut be: BackendError = e.into();
                            if let BackendError::Api { message, .. } = &mut be {
                                *message = format!("error when applying {}/{} ({}): {message}", o.kind(), o.name(), o.origin);
                            }
                            errors.push(be);
                        }
                    }
                }
                match errors.into_iter().next() {
                    Some(e) => Err(e),
                    None => Ok(out),
                }
            }
        }
    }

    async fn patch(
        &mut self,
        object: &ObjectRef,
        patch_type: PatchType,
        patch: &Value,
        subresource: Option<&str>,
    ) -> Result<Vec<String>, BackendError> {
        if let Some(cluster) = &object.workload {
            let sim = self.s()?;
            let now = sim.now();
            sim.world.refresh_views(now);
            let objects = sim.world.workload_objects(cluster).map_err(BackendError::Other)?;
            let mut after =
                objects.value(&object.kind, &object.namespace, &object.name).cloned().ok_or_else(|| BackendError::not_found(object))?;
            match patch_type {
                PatchType::Merge => json_patch::merge(&mut after, patch),
                PatchType::Json => {
                    let ops: json_patch::Patch =
                        serde_json::from_value(patch.clone()).map_err(|e| BackendError::Other(format!("invalid JSON patch: {e}")))?;
                    json_patch::patch(&mut after, &ops).map_err(|e| BackendError::Api {
                        code: 422,
                        reason: "Invalid".into(),
                        message: e.to_string(),
                    })?;
                }
            }
            sim.world.patch_workload_object(cluster, after, subresource == Some("status"), now).map_err(BackendError::Other)?;
            sim.after_world_pub();
            return Ok(vec![]);
        }
        let (m, key) = self.key(object)?;
        let p = match patch_type {
            PatchType::Merge => Patch::Merge(patch.clone()),
            PatchType::Json => Patch::Json(patch.clone()),
        };
        let sub = if subresource == Some("status") { Subresource::Status } else { Subresource::Main };
        let w = self.s()?.patch(m, &key, &p, sub)?;
        Ok(w.warnings)
    }

    async fn delete(&mut self, object: &ObjectRef, propagation: Propagation) -> Result<(), BackendError> {
        if let Some(cluster) = &object.workload {
            let sim = self.s()?;
            if !sim.world.delete_workload_object(cluster, &object.kind, &object.namespace, &object.name).map_err(BackendError::Other)? {
                return Err(BackendError::not_found(object));
            }
            sim.after_world_pub();
            return Ok(());
        }
        let (m, key) = self.key(object)?;
        self.s()?.delete(m, &key, propagation)?;
        Ok(())
    }

    async fn get(&mut self, object: &ObjectRef) -> Result<Option<Value>, BackendError> {
        if let Some(cluster) = &object.workload {
            let sim = self.s()?;
            let now = sim.now();
            sim.world.refresh_views(now);
            let objects = sim.world.workload_objects(cluster).map_err(BackendError::Other)?;
            return Ok(objects.value(&object.kind, &object.namespace, &object.name).cloned());
        }
        let (m, key) = self.key(object)?;
        Ok(self.s()?.mgmt[m].api.store.get(&key).map(|o| o.to_json()))
    }

    async fn resolve(&mut self, target: &Target) -> Result<Vec<ObjectRef>, BackendError> {
        let sim = self.s()?;
        if target.workload.is_some() {
            let now = sim.now();
            sim.world.refresh_views(now);
        }
        let found = predicate::select(sim, target).map_err(BackendError::Other)?;
        Ok(found.into_iter().map(|r| ObjectRef::of(target, r)).collect())
    }

    async fn check(&mut self, predicate: &Predicate) -> Result<Eval, BackendError> {
        let sim = self.s()?;
        if predicate.reads_workload() {
            let now = sim.now();
            sim.world.refresh_views(now);
        }
        Ok(predicate::evaluate(predicate, sim))
    }

    async fn wait(&mut self, predicate: &Predicate, timeout_ms: u64) -> Result<WaitResult, BackendError> {
        let progress = self.opts.progress.clone();
        let sim = self.s()?;
        let start = sim.now();
        let deadline = start + timeout_ms;
        // The wait reports every write to its witnesses, so that a check costs what changed since the
        // last one, not the size of the fleet the predicate selects.
        let witnesses = predicate::Witnesses::following_changes();
        let mut next_tick = start;
        let reads_workload = predicate.reads_workload();
        sim.keep_written(true);
        sim.run_while_not(deadline, |s| {
            if reads_workload {
                let now = s.now();
                s.world.refresh_views(now);
            }
            if let Some(p) = progress.as_ref().filter(|_| s.now() >= next_tick) {
                (p.f)(s);
                next_tick = s.now() + p.every_ms.max(1);
            }
            for (m, o) in s.take_written() {
                witnesses.changed(&s.mgmt[m].name, o.kind.name(), &o.meta.namespace, &o.meta.name);
            }
            predicate::holds_with(predicate, s, &witnesses)
        });
        sim.keep_written(false);
        // And once at the end, so that an observer sees each wait's final counts.
        if let Some(p) = &progress {
            (p.f)(sim);
        }
        if sim.out_of_events() {
            return Err(BackendError::Other(format!(
                "the simulation used up its event budget ({} events) at t={}ms",
                sim.events(),
                sim.now()
            )));
        }
        let eval = predicate::evaluate(predicate, sim);
        Ok(WaitResult { eval, elapsed_ms: sim.now() - start })
    }

    async fn sleep(&mut self, ms: u64) -> Result<(), BackendError> {
        let sim = self.s()?;
        let t = sim.now() + ms;
        sim.run_until(t);
        Ok(())
    }

    async fn fault(&mut self, spec: &FaultSpec) -> Result<String, BackendError> {
        let sim = self.s()?;
        crate::faults::inject(sim, spec).map_err(BackendError::Other)
    }

    async fn describe(&mut self, cluster: &ObjectRef) -> Result<String, BackendError> {
        let (m, key) = self.key(cluster)?;
        let sim = self.s()?;
        crate::clusterctl::describe(&sim.mgmt[m].api.store, &key, sim.now()).map_err(BackendError::Other)
    }

    async fn get_kubeconfig(&mut self, cluster: &ObjectRef) -> Result<String, BackendError> {
        let (m, key) = self.key(cluster)?;
        let sim = self.s()?;
        crate::clusterctl::get_kubeconfig(&sim.mgmt[m].api.store, &key).map_err(BackendError::Other)
    }

    async fn move_objects(&mut self, spec: &MoveSpec) -> Result<String, BackendError> {
        let from = self.mgmt(spec.from.as_deref())?;
        let to = self.mgmt(Some(&spec.to))?;
        let sim = self.s()?;
        let ns = spec.namespace.as_deref().unwrap_or("default");
        match spec.async_name() {
            Some(name) => crate::clusterctl::background::start(sim, name, from, to, ns).map_err(BackendError::Other),
            None => crate::clusterctl::move_objects(sim, from, to, ns).map_err(BackendError::Other),
        }
    }

    async fn docker(&mut self, step: &capi_scenarios::model::DockerStep) -> Result<String, BackendError> {
        let sim = self.s()?;
        let now = sim.now();
        if let Some(run) = &step.run {
            let image = run.image.clone().unwrap_or_else(|| "busybox:stable".into());
            let mut labels = std::collections::BTreeMap::new();
            labels.insert(HARNESS_LABEL.to_string(), "decoy".to_string());
            let spec = crate::world::docker::RunSpec { name: run.name.clone(), image: image.clone(), labels, memory_mb: 5, boot_ms: 0 };
            sim.world.docker.run(spec, now).map_err(|e| BackendError::Other(e.to_string()))?;
            sim.world.after_memory_change(now);
            sim.after_world_pub();
            return Ok(format!("docker run --name {} {image}", run.name));
        }
        let t = step.rm.as_ref().ok_or_else(|| BackendError::Other("`docker` needs `run` or `rm`".into()))?;
        let names = select_containers(sim, t);
        if names.is_empty() {
            return Err(BackendError::Other("no container matches".into()));
        }
        for n in &names {
            sim.world.remove_container(n, now).map_err(|e| BackendError::Other(e.to_string()))?;
        }
        sim.after_world_pub();
        Ok(format!("docker rm -f {}", names.join(" ")))
    }

    async fn heal_faults(&mut self) -> Result<usize, BackendError> {
        let sim = self.s()?;
        crate::faults::heal_all(sim);
        Ok(sim.faults.records().len())
    }

    async fn finish(&mut self) -> Result<RunFacts, BackendError> {
        let sim = self.s()?;
        crate::faults::finish(sim);
        settle(sim);
        Ok(RunFacts {
            trace_hash: sim.trace.hash(),
            sim_time_ms: sim.now(),
            reconciles: sim.reconciles(),
            events: sim.events(),
            violations: sim.invariants.violations.clone(),
            faults: sim.faults.records(),
            outcome: outcome(sim),
            timeline: sim.timeline.as_ref().map(|t| t.finish(sim.now())),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Profiles are kept parsed by content, so a profile edited between two loads is read anew.
    #[test]
    fn a_timing_profile_is_reread_when_its_file_changes() {
        let dir = std::env::temp_dir().join(format!("capi-sim-timing-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("edited.yaml");
        let default = crate::world::timing::DEFAULT_PROFILE;
        std::fs::write(&path, default).unwrap();
        let scenario = dir.join("scenario.yaml");
        let first = load_timing("edited.yaml", &scenario, None).unwrap();
        assert_eq!(first, Timing::default());
        assert_eq!(load_timing("edited.yaml", &scenario, None).unwrap(), first, "the same file loads the same profile");
        let renamed = default.replacen("name: ", "name: edited-", 1);
        assert_ne!(renamed, default, "the default profile has a name line");
        std::fs::write(&path, &renamed).unwrap();
        assert_eq!(load_timing("edited.yaml", &scenario, None).unwrap().name, format!("edited-{}", first.name));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

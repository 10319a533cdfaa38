//! The conformance backend: scenario steps against a real management cluster (through `kube`) and
//! its Docker host (through `bollard`), in real time scaled by a time factor.
//!
//! From the runner's point of view it behaves like the simulator's backend: `apply` answers like
//! `kubectl apply` (server-side apply with the field manager `capi-harness` and force; created,
//! configured or unchanged; admission warnings), `expect` evaluates predicates over fresh lists,
//! `wait` evaluates them over watch caches ([`watch`]) until they hold or the scaled timeout passes,
//! `fault` injects what Docker can inject ([`faults`]), `finish` returns the objects of the
//! scenario's namespaces and the containers of its clusters.
//!
//! Architecture Invariant: the backend never reads or writes an object outside the scenario's
//! namespaces ([`scope::ScenarioScope`]) and never touches a container that is not labelled for the
//! scenario's clusters or by this harness run ([`crate::docker::ContainerPolicy`]). An aborted run is
//! cleaned up by [`cleanup::CleanupGuard`].
//!
//! Time: `now_ms()` is wall time since `prepare` × `time_factor` (1.0 for a real KinD; e.g. 500
//! against the simulator served at 500×). Every duration a scenario gives (wait timeouts, sleeps,
//! fault delays and durations) is divided by the factor before it is waited for; retries and watch
//! backoffs are real time.
//!
//! Outcome: like the simulator, `finish` lets the cluster settle first (until the scenario's objects
//! stop changing for `settle_quiet_ms`, at most `settle_max_ms`), so that both outcomes are read at
//! the same point: when the last step's consequences have played out.

pub mod cleanup;
pub mod client;
pub mod describe;
pub mod faults;
pub mod kube_transport;
pub mod resources;
pub mod retry;
pub mod run;
pub mod scope;
pub mod snapshot;
pub mod wait;
pub mod watch;

mod apply;
mod backend_impl;
mod background;
mod reads;
mod run_faults;
mod workload_conn;
mod workload_objects;

use crate::docker::{ContainerPolicy, DockerError, DockerHost};
use capi_scenarios::backend::BackendError;
use capi_scenarios::predicate::{ContainerInfo, Predicate};
use capi_scenarios::Target;
use client::Clients;
use kube::api::{Api, DynamicObject};
use kube_transport::KubeCollection;
use resources::{Kinds, Resolved};
use retry::RetryPolicy;
use scope::ScenarioScope;
use snapshot::{ClusterSnapshot, KindObjects, Snapshot};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;
use watch::{Changes, JournalEntry, Objects, ReflectorConfig, Store, TransportError, WatchTransport};

pub use run::{run_scenario, run_scenario_async, run_scenario_with, RunConfig};

/// The field manager of every write.
pub const FIELD_MANAGER: &str = "capi-harness";
/// Name of the KinD management cluster `cargo xtask conformance up` creates (always protected).
pub const MANAGEMENT_CLUSTER: &str = "capi-conformance";

/// Whether the backend uses Docker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DockerMode {
    /// Fail `prepare` when the engine cannot be reached.
    Required,
    /// Use it when it can be reached; container predicates and faults fail otherwise.
    IfReachable,
    /// Never connect.
    Off,
}

/// How the backend runs.
#[derive(Debug, Clone)]
pub struct KubeOptions {
    /// Kubeconfig of the (first) management cluster.
    pub kubeconfig: PathBuf,
    /// Context in it (the current one when `None`).
    pub context: Option<String>,
    /// Kubeconfig of a second management cluster (the target of `clusterctl move`).
    pub second_kubeconfig: Option<PathBuf>,
    /// Backend time per wall time (1.0 for a real cluster).
    pub time_factor: f64,
    /// This run's id: the value of the harness's owner label on its containers.
    pub run_id: String,
    /// Docker use.
    pub docker: DockerMode,
    /// KinD cluster names whose containers are never touched (the management cluster's is added).
    pub protected_clusters: Vec<String>,
    /// Retries of writes.
    pub retry: RetryPolicy,
    /// Watch settings.
    pub reflector: ReflectorConfig,
    /// How long a cleanup waits for the scenario's Clusters to be deleted (real time).
    pub cleanup_wait: Duration,
    /// How often `wait` re-reads containers when a predicate looks at them (real time).
    pub container_poll: Duration,
    /// How long to wait for a new watch's first list before a `wait` starts evaluating anyway.
    pub sync_timeout: Duration,
    /// `clusterctl` binary (looked up on PATH when `None`).
    pub clusterctl: Option<PathBuf>,
    /// Refuse to start when a Cluster the scenario applies already exists (a leftover).
    pub refuse_existing: bool,
    /// Before the outcome is read, wait until nothing in the scenario's namespaces changed for this
    /// long (backend milliseconds; 0: read at once), as the simulator settles before its outcome.
    pub settle_quiet_ms: u64,
    /// Settle for at most this long (backend milliseconds).
    pub settle_max_ms: u64,
}

impl KubeOptions {
    /// Defaults for a real KinD management cluster.
    pub fn new(kubeconfig: impl Into<PathBuf>) -> Self {
        KubeOptions {
            kubeconfig: kubeconfig.into(),
            context: None,
            second_kubeconfig: None,
            time_factor: 1.0,
            run_id: new_run_id(),
            docker: DockerMode::IfReachable,
            protected_clusters: vec![MANAGEMENT_CLUSTER.to_string()],
            retry: RetryPolicy::default(),
            reflector: ReflectorConfig::default(),
            cleanup_wait: Duration::from_secs(180),
            container_poll: Duration::from_secs(1),
            sync_timeout: Duration::from_secs(30),
            clusterctl: None,
            refuse_existing: true,
            // The simulator's settling: 10 s slices, at most two minutes.
            settle_quiet_ms: 10_000,
            settle_max_ms: 120_000,
        }
    }
}

/// A run id unique on this host: `run-<unix seconds>-<pid>`.
pub fn new_run_id() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    format!("run-{secs}-{}", std::process::id())
}

/// Backend time: wall time since the start, scaled.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    start: tokio::time::Instant,
    factor: f64,
}

impl Clock {
    /// A clock starting now.
    pub fn start(factor: f64) -> Self {
        Clock { start: tokio::time::Instant::now(), factor }
    }
    /// Backend milliseconds since the start.
    pub fn now_ms(&self) -> u64 {
        (self.start.elapsed().as_secs_f64() * 1000.0 * self.factor) as u64
    }
    /// The wall duration of `ms` backend milliseconds.
    pub fn real(&self, ms: u64) -> Duration {
        Duration::from_secs_f64(ms as f64 / 1000.0 / self.factor)
    }
    /// Backend milliseconds in a wall duration.
    pub fn scaled(&self, d: Duration) -> u64 {
        (d.as_secs_f64() * 1000.0 * self.factor) as u64
    }
}

/// Where `clusterctl` is, if anywhere.
pub fn find_on_path(program: &str) -> Option<PathBuf> {
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths).map(|d| d.join(program)).find(|p| p.is_file())
}

pub(crate) fn backend_error(e: TransportError) -> BackendError {
    match e {
        TransportError::Api { code, reason, message } => BackendError::Api { code, reason, message },
        TransportError::Expired(message) => BackendError::Api { code: 410, reason: "Expired".into(), message },
        other => BackendError::Other(other.to_string()),
    }
}

pub(crate) fn docker_error(e: DockerError) -> BackendError {
    BackendError::Other(e.to_string())
}

/// One watched collection.
struct Watched {
    store: Store,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Watched {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One collection: a kind in one namespace, or one Namespace object (cluster-scoped, by name).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct CollKey {
    /// Kind as written.
    kind: String,
    /// Namespace (namespaced kinds) or object name (cluster-scoped kinds).
    scope: String,
}

/// A connected API server.
struct Conn {
    clients: Clients,
    kinds: Kinds,
    watches: BTreeMap<CollKey, Watched>,
}

/// A management cluster of the scenario.
struct Mgmt {
    name: String,
    kubeconfig: Option<PathBuf>,
    conn: Option<Conn>,
}

/// What a kind resolves to for one predicate: its collections, or why not.
type KindPlan = Result<(Resolved, Vec<String>), String>;

/// Where a snapshot's objects come from.
enum Source<'a> {
    /// Fresh (consistent) lists.
    Fresh,
    /// The watch caches as they are now.
    Cache,
    /// A wait's replay of the caches' journals.
    Replay(&'a Replay),
}

/// A wait's own copy of the watched collections it reads, moved forward change by change from the
/// stores' journals ([`Store::open_journal`]), so that every state the caches went through can be
/// evaluated. The journals close when it is dropped.
struct Replay {
    views: BTreeMap<(usize, CollKey), (Store, Objects, bool)>,
}

impl Replay {
    /// Every change recorded since the last call, over all collections, in the order the API server
    /// made them (resourceVersion, when every change has a numeric one), else as they were applied.
    fn take(&mut self) -> Vec<((usize, CollKey), JournalEntry)> {
        let mut all: Vec<((usize, CollKey), JournalEntry)> = Vec::new();
        for (k, (store, _, _)) in &self.views {
            all.extend(store.take_journal().into_iter().map(|e| (k.clone(), e)));
        }
        if all.iter().all(|(_, e)| e.rv.is_some()) {
            all.sort_by_key(|(_, e)| (e.rv, e.seq));
        } else {
            all.sort_by_key(|(_, e)| e.seq);
        }
        all
    }

    /// Move one collection forward by one change.
    fn apply(&mut self, key: &(usize, CollKey), e: &JournalEntry) {
        if let Some((_, objects, synced)) = self.views.get_mut(key) {
            e.apply_to(objects);
            *synced |= matches!(e.change, watch::Change::Replace(_));
        }
    }
}

impl Drop for Replay {
    fn drop(&mut self) {
        for (store, _, _) in self.views.values() {
            store.close_journal();
        }
    }
}

/// The state of a prepared run.
struct Run {
    scope: ScenarioScope,
    managements: Vec<Mgmt>,
    docker: Option<DockerHost>,
    docker_error: Option<String>,
    changes: Changes,
    faults: faults::FaultBook,
    guard: cleanup::CleanupGuard,
    workloads: BTreeMap<String, Conn>,
    reflector: ReflectorConfig,
    /// The scenario's invariants (label, predicate, broken yet) and what broke them.
    invariants: Vec<(String, capi_scenarios::Predicate, bool)>,
    invariant_violations: Vec<capi_scenarios::report::Violation>,
    /// Steps running in the background (`async: true`).
    background: background::Background,
}

impl Run {
    /// Check the scenario's invariants on what the watch caches show now (called on every change a
    /// wait or sleep sees); the first time each does not hold becomes a violation.
    async fn check_invariants(&mut self, clock: &Clock) {
        let pending: Vec<capi_scenarios::Predicate> = self.invariants.iter().filter(|i| !i.2).map(|i| i.1.clone()).collect();
        if pending.is_empty() {
            return;
        }
        let all = capi_scenarios::Predicate::All(pending);
        let _ = self.ensure_watches(&all).await;
        let Ok(snap) = self.snapshot(&all, false).await else { return };
        for (label, p, broken) in self.invariants.iter_mut().filter(|i| !i.2) {
            let e = capi_scenarios::predicate::evaluate(p, &snap);
            if !e.holds {
                *broken = true;
                self.invariant_violations.push(capi_scenarios::report::Violation {
                    invariant: "scenario-invariant".into(),
                    message: format!("{label} does not hold: {}", e.detail),
                    event_index: 0,
                    at_ms: clock.now_ms(),
                });
            }
        }
    }

    fn mgmt_index(&self, name: Option<&str>) -> Result<usize, BackendError> {
        match name {
            None if !self.managements.is_empty() => Ok(0),
            None => Err(BackendError::Other("the scenario has no management cluster".into())),
            Some(n) => self
                .managements
                .iter()
                .position(|m| m.name == n)
                .ok_or_else(|| BackendError::Other(format!("no management cluster named `{n}`"))),
        }
    }

    fn conn(&mut self, m: usize) -> Result<&mut Conn, BackendError> {
        let mg = self.managements.get_mut(m).ok_or_else(|| BackendError::Other("no such management cluster".into()))?;
        let name = mg.name.clone();
        mg.conn.as_mut().ok_or_else(|| {
            BackendError::Unsupported(format!(
                "management cluster `{name}` has no kubeconfig (give --second-kubeconfig for a second management cluster)"
            ))
        })
    }

    fn docker(&self) -> Result<&DockerHost, BackendError> {
        self.docker.as_ref().ok_or_else(|| {
            BackendError::Unsupported(format!(
                "no Docker engine: {}",
                self.docker_error.as_deref().unwrap_or("Docker is switched off for this run")
            ))
        })
    }

    /// Containers the policy allows.
    async fn containers(&self) -> Result<Vec<ContainerInfo>, BackendError> {
        self.docker()?.list().await.map_err(docker_error)
    }

    /// The collections a target reads.
    async fn plan_target(&mut self, m: usize, t: &Target) -> KindPlan {
        let scope = self.scope.clone();
        let conn = self.conn(m).map_err(|e| e.to_string())?;
        let r = conn.kinds.by_name(&t.kind).await?;
        if r.namespaced {
            let ns = t.namespace().to_string();
            if !scope.allows(&t.kind, &ns, "") {
                return Err(format!("namespace `{ns}` is outside the scenario's namespaces"));
            }
            Ok((r, vec![ns]))
        } else if r.ar.kind == "Namespace" {
            let names: Vec<String> = match &t.name {
                Some(n) if scope.allows("Namespace", "", n) => vec![n.clone()],
                Some(n) => return Err(format!("Namespace `{n}` is not one of the scenario's namespaces")),
                None => scope.namespaces.iter().chain(&scope.namespace_objects).cloned().collect::<BTreeSet<_>>().into_iter().collect(),
            };
            Ok((r, names))
        } else {
            Err(format!("`{}` is cluster-scoped; the harness only reads the scenario's namespaces", t.kind))
        }
    }

    fn collection(conn: &Conn, r: &Resolved, scope: &str) -> KubeCollection {
        if r.namespaced {
            KubeCollection::new(Api::namespaced_with(conn.clients.reader.clone(), scope, &r.ar), None)
        } else {
            KubeCollection::new(Api::all_with(conn.clients.reader.clone(), &r.ar), Some(format!("metadata.name={scope}")))
        }
    }

    /// The plans of every target of a predicate, by management cluster and kind.
    async fn plans(&mut self, p: &Predicate) -> Result<BTreeMap<usize, BTreeMap<String, KindPlan>>, BackendError> {
        let mut targets = Vec::new();
        scope::predicate_targets(p, &mut targets);
        let mut plans: BTreeMap<usize, BTreeMap<String, KindPlan>> = BTreeMap::new();
        // Workload clusters' objects are read by `workload_views`, not planned here.
        for t in targets.into_iter().filter(|t| t.workload.is_none()) {
            let m = self.mgmt_index(t.management.as_deref())?;
            let plan = self.plan_target(m, t).await;
            let entry = plans.entry(m).or_default();
            match (entry.remove(&t.kind), plan) {
                (Some(Ok((r, mut a))), Ok((_, b))) => {
                    a.extend(b);
                    a.sort();
                    a.dedup();
                    entry.insert(t.kind.clone(), Ok((r, a)));
                }
                (Some(Err(e)), _) | (_, Err(e)) => {
                    entry.insert(t.kind.clone(), Err(e));
                }
                (None, Ok(plan)) => {
                    entry.insert(t.kind.clone(), Ok(plan));
                }
            }
        }
        Ok(plans)
    }

    /// Start the watches of a predicate's collections (those not watched yet).
    async fn ensure_watches(&mut self, p: &Predicate) -> Result<(), BackendError> {
        let plans = self.plans(p).await?;
        for (m, kinds) in plans {
            let reflector = self.reflector.clone();
            let changes = self.changes.clone();
            let conn = self.conn(m)?;
            for (kind, plan) in kinds {
                let Ok((r, scopes)) = plan else { continue };
                for sc in scopes {
                    let key = CollKey { kind: kind.clone(), scope: sc.clone() };
                    if conn.watches.contains_key(&key) {
                        continue;
                    }
                    let store = Store::new(changes.clone());
                    let coll = Self::collection(conn, &r, &sc);
                    let task = tokio::spawn(watch::run_reflector(coll, store.clone(), reflector.clone()));
                    conn.watches.insert(key, Watched { store, task });
                }
            }
        }
        Ok(())
    }

    /// Whether every watch a predicate needs has listed once.
    async fn watches_synced(&mut self, p: &Predicate) -> Result<bool, BackendError> {
        let plans = self.plans(p).await?;
        for (m, kinds) in plans {
            let conn = self.conn(m)?;
            for (kind, plan) in kinds {
                let Ok((_, scopes)) = plan else { continue };
                for sc in scopes {
                    let key = CollKey { kind: kind.clone(), scope: sc };
                    if !conn.watches.get(&key).is_some_and(|w| w.store.is_synced()) {
                        return Ok(false);
                    }
                }
            }
        }
        Ok(true)
    }

    /// Open the journals of the watched collections a predicate reads (see [`Replay`]).
    async fn replay(&mut self, p: &Predicate) -> Result<Replay, BackendError> {
        let plans = self.plans(p).await?;
        let mut views = BTreeMap::new();
        for (m, kinds) in plans {
            let conn = self.conn(m)?;
            for (kind, plan) in kinds {
                let Ok((_, scopes)) = plan else { continue };
                for sc in scopes {
                    let key = CollKey { kind: kind.clone(), scope: sc };
                    if let Some(w) = conn.watches.get(&key) {
                        let (objects, synced) = w.store.open_journal();
                        views.insert((m, key), (w.store.clone(), objects, synced));
                    }
                }
            }
        }
        Ok(Replay { views })
    }

    /// The newest resourceVersion of the collections a predicate reads, by fresh lists: a change
    /// with a larger one happened after this call. `None` when a list fails or a resourceVersion is
    /// not a number.
    async fn fresh_resource_version(&mut self, p: &Predicate) -> Option<u64> {
        let plans = self.plans(p).await.ok()?;
        let mut newest = None;
        for (m, kinds) in plans {
            let conn = self.conn(m).ok()?;
            for (_, plan) in kinds {
                let Ok((r, scopes)) = plan else { continue };
                for sc in scopes {
                    let rv: u64 = Self::collection(conn, &r, &sc).list().await.ok()?.resource_version.parse().ok()?;
                    newest = Some(newest.map_or(rv, |n: u64| n.max(rv)));
                }
            }
        }
        newest
    }

    /// What a predicate reads: from fresh lists (`fresh`) or from the watch caches.
    async fn snapshot(&mut self, p: &Predicate, fresh: bool) -> Result<Snapshot, BackendError> {
        self.snapshot_from(p, if fresh { Source::Fresh } else { Source::Cache }).await
    }

    /// What a predicate reads, from `source` (containers are read fresh, except for a replay, whose
    /// caller supplies them).
    async fn snapshot_from(&mut self, p: &Predicate, source: Source<'_>) -> Result<Snapshot, BackendError> {
        let plans = self.plans(p).await?;
        let mut snap = Snapshot {
            managements: self.managements.iter().map(|m| (m.name.clone(), ClusterSnapshot::default())).collect(),
            containers: Vec::new(),
            workloads: BTreeMap::new(),
            background: self.background.statuses(),
        };
        for (m, kinds) in plans {
            let conn = self.conn(m)?;
            let cs = &mut snap.managements[m].1;
            for (kind, plan) in kinds {
                let objects: KindObjects = match plan {
                    Err(e) => Err(e),
                    Ok((r, scopes)) => {
                        if !r.namespaced {
                            cs.cluster_scoped.insert(kind.clone());
                        }
                        let mut all = BTreeMap::new();
                        let mut err = None;
                        for sc in scopes {
                            let key = CollKey { kind: kind.clone(), scope: sc.clone() };
                            if let Source::Replay(replay) = &source {
                                match replay.views.get(&(m, key)) {
                                    Some((_, objects, true)) => all.extend(objects.iter().map(|(k, v)| (k.clone(), v.clone()))),
                                    Some(_) => err = Some(format!("the watch of {kind} in {sc} has not listed yet")),
                                    None => err = Some(format!("{kind} in {sc} is not watched")),
                                }
                            } else if let Source::Fresh = source {
                                match Self::collection(conn, &r, &sc).list().await {
                                    Ok(l) => all.extend(l.items.into_iter().map(|v| (key_of(&v), v))),
                                    Err(e) => err = Some(format!("cannot list {kind} in {sc}: {e}")),
                                }
                            } else {
                                match conn.watches.get(&key) {
                                    Some(w) if w.store.is_synced() => all.extend(w.store.snapshot()),
                                    Some(w) => {
                                        err = Some(format!(
                                            "the watch of {kind} in {sc} has not listed yet{}",
                                            w.store.last_error().map(|e| format!(" ({e})")).unwrap_or_default()
                                        ))
                                    }
                                    None => err = Some(format!("{kind} in {sc} is not watched")),
                                }
                            }
                        }
                        match err {
                            Some(e) => Err(e),
                            None => Ok(all),
                        }
                    }
                };
                cs.kinds.insert(kind, objects);
            }
        }
        if scope::reads_containers(p) && !matches!(source, Source::Replay(_)) {
            snap.containers = self.containers().await?;
        }
        if p.reads_workload() {
            self.workload_views(p, &mut snap).await;
        }
        Ok(snap)
    }
}

fn key_of(v: &serde_json::Value) -> (String, String) {
    let s = |p: &str| v.pointer(p).and_then(serde_json::Value::as_str).unwrap_or("").to_string();
    (s("/metadata/namespace"), s("/metadata/name"))
}

/// The conformance backend.
pub struct KubeBackend {
    opts: KubeOptions,
    clock: Clock,
    run: Option<Run>,
    /// Raised when the run is being stopped (a signal, a wall-time limit): waits and sleeps return.
    stop: Option<capi_scenarios::StopFlag>,
    /// The scenario's invariants, handed to the run at `prepare`.
    invariants: Vec<(String, capi_scenarios::Predicate)>,
}

impl KubeBackend {
    /// A backend (nothing is connected before `prepare`).
    pub fn new(opts: KubeOptions) -> Self {
        let factor = opts.time_factor;
        KubeBackend {
            opts,
            clock: Clock::start(if factor.is_finite() && factor > 0.0 { factor } else { 1.0 }),
            run: None,
            stop: None,
            invariants: Vec::new(),
        }
    }

    /// The options.
    pub fn options(&self) -> &KubeOptions {
        &self.opts
    }

    fn run(&mut self) -> Result<&mut Run, BackendError> {
        self.run.as_mut().ok_or_else(|| BackendError::Other("the backend was not prepared".into()))
    }

    /// Delete the scenario's Clusters, wait for them (briefly), remove their containers and the
    /// harness's; stop the watches. Call after `finish` unless the clusters should stay.
    pub async fn teardown(&mut self) -> cleanup::CleanupReport {
        let Some(mut run) = self.run.take() else { return cleanup::CleanupReport::default() };
        for m in &mut run.managements {
            if let Some(c) = &mut m.conn {
                c.watches.clear();
            }
        }
        if let Some(d) = &run.docker {
            for a in std::mem::take(&mut run.faults.active) {
                for u in a.undo {
                    if let faults::Undo::Unpause(n) = u {
                        let _ = d.unpause(&n).await;
                    }
                }
            }
        }
        run.guard.run_now().await
    }

    /// Keep the scenario's Clusters and containers when the backend is dropped.
    pub fn keep(&mut self) {
        if let Some(r) = &mut self.run {
            r.guard.disarm();
        }
    }

    /// What the watch of a kind in a namespace did so far (for diagnostics).
    pub fn watch_stats(&self, kind: &str, namespace: &str) -> Option<watch::ReflectorStats> {
        let run = self.run.as_ref()?;
        let conn = run.managements.first()?.conn.as_ref()?;
        conn.watches.get(&CollKey { kind: kind.into(), scope: namespace.into() }).map(|w| w.store.stats())
    }
}

/// Connect to a management cluster.
async fn connect(path: &Path, context: Option<&str>) -> Result<Conn, BackendError> {
    let config = client::config_from_file(path, context).await.map_err(|e| BackendError::Other(e.to_string()))?;
    let clients = client::clients(config).map_err(|e| BackendError::Other(e.to_string()))?;
    let kinds = Kinds::new(clients.reader.clone());
    Ok(Conn { clients, kinds, watches: BTreeMap::new() })
}

/// The Docker host under a policy, per mode.
async fn connect_docker(mode: DockerMode, policy: ContainerPolicy) -> Result<(Option<DockerHost>, Option<String>), BackendError> {
    match mode {
        DockerMode::Off => Ok((None, None)),
        DockerMode::Required => DockerHost::connect(policy).await.map(|d| (Some(d), None)).map_err(docker_error),
        DockerMode::IfReachable => match DockerHost::connect(policy).await {
            Ok(d) => Ok((Some(d), None)),
            Err(e) => Ok((None, Some(e.to_string()))),
        },
    }
}

/// The URL path of an object (`/apis/G/V/namespaces/NS/PLURAL/NAME[/SUB]`).
fn object_url(r: &Resolved, namespace: &str, name: &str, subresource: Option<&str>) -> String {
    use kube::Resource as _;
    let ns = if r.namespaced { Some(namespace) } else { None };
    let mut url = format!("{}/{}", DynamicObject::url_path(&r.ar, ns), name);
    if let Some(s) = subresource {
        url.push('/');
        url.push_str(s);
    }
    url
}

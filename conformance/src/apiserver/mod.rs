//! The simulator served as a Kubernetes-compatible API (`cargo xtask sim serve`), so kubectl and
//! kube-rs can drive a simulated management cluster: discovery, a minimal OpenAPI v3, CRUD with
//! Kubernetes write semantics, the status subresource, watches with resumption and `410 Expired`,
//! Tables with Cluster API's printer columns, and optionally real Docker containers mirroring the
//! simulated CAPD host. The surface follows `shared/reference/kube-api-surface.md`.
//!
//! Codemap: [`core`] owns the simulator on its thread and runs its [`clock`]; [`handlers`] decode
//! requests ([`route`], [`selectors`]) and answer reads, [`writes`], [`delete`] and [`scale`] run
//! writes on the simulator thread, [`watch`] streams from the bounded [`history`]; [`discovery`],
//! [`openapi`] and [`table`] build documents, [`status`] shapes errors, [`kubeconfig`] writes the
//! client config, [`docker_mirror`] and [`images`] do `--docker`, [`workload`] serves the simulated
//! workload clusters (under `/workloads/NAMESPACE/CLUSTER`, where their kubeconfig Secrets point).
//!
//! Architecture invariant: only the simulator thread touches the [`capi_sim::Sim`]; handlers and
//! streams see objects as immutable snapshots (`Arc<Object>`), so the simulation stays deterministic
//! given the order of requests and clock ticks.

pub mod auth;
pub mod clock;
pub mod core;
pub mod crd;
pub mod delete;
pub mod discovery;
pub mod docker_mirror;
pub mod handlers;
pub mod history;
pub mod images;
pub mod kubeconfig;
pub mod openapi;
pub mod protobuf;
pub mod protobuf_workload;
pub mod route;
pub mod scale;
pub mod selectors;
pub mod status;
pub mod table;
pub mod tls;
pub mod watch;
pub mod workload;
pub mod workload_openapi;
pub mod workload_table;
pub mod writes;

use self::core::{CoreConfig, Pulse, SimHandle};
use axum::Router;
use capi_sim::world::timing::Timing;
use capi_sim::Sim;
use docker_mirror::{Mirror, MirrorSync};
use handlers::{App, WatchSettings};
use history::History;
use status::Failure;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::{oneshot, watch as tokio_watch};

/// How to serve.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// Listen address (`127.0.0.1:0` picks a free port).
    pub addr: SocketAddr,
    /// Seed of the simulation.
    pub seed: u64,
    /// Simulated seconds per wall second.
    pub speed: f64,
    /// Timing profile.
    pub timing: Timing,
    /// `clusterctl init` variables of the management cluster (feature gates).
    pub init_vars: Vec<(String, String)>,
    /// Mirror the simulated Docker host onto the real Docker Engine.
    pub docker: bool,
    /// Watch events retained for resumption (older resourceVersions get 410 Expired).
    pub history_limit: usize,
    /// Clock tick period.
    pub tick: Duration,
    /// Bookmark period of watches that ask for bookmarks.
    pub bookmark_interval: Duration,
    /// Lifetime of watches without `timeoutSeconds`.
    pub watch_timeout: Duration,
    /// Log mirror actions and simulator events to stderr.
    pub verbose: bool,
    /// `Host` names accepted besides IP addresses and `localhost` (see [`auth`]).
    pub allowed_hosts: Vec<String>,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            seed: 1,
            speed: 1.0,
            timing: Timing::default(),
            init_vars: vec![("CLUSTER_TOPOLOGY".into(), "true".into())],
            docker: false,
            history_limit: 100_000,
            tick: Duration::from_millis(25),
            bookmark_interval: Duration::from_secs(30),
            watch_timeout: Duration::from_secs(30 * 60),
            verbose: false,
            allowed_hosts: Vec::new(),
        }
    }
}

impl ServeOptions {
    /// Set a `clusterctl init` variable (replacing an earlier value).
    pub fn set_var(&mut self, name: &str, value: &str) {
        self.init_vars.retain(|(k, _)| k != name);
        self.init_vars.push((name.to_string(), value.to_string()));
    }
}

/// Why serving failed.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The listen address.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// Address.
        addr: SocketAddr,
        /// Cause.
        source: std::io::Error,
    },
    /// The simulator thread.
    #[error("simulator: {0}")]
    Sim(String),
    /// Docker (with `--docker`).
    #[error("docker: {0}")]
    Docker(String),
    /// Writing the kubeconfig.
    #[error("writing the kubeconfig {path}: {source}")]
    Kubeconfig {
        /// Path.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// The async runtime.
    #[error("runtime: {0}")]
    Runtime(std::io::Error),
    /// The serving token or certificates.
    #[error("{0}")]
    Token(String),
}

/// Removes this instance's real containers when dropped without a clean shutdown (a panic in a test,
/// an early return).
struct CleanupGuard {
    instance: String,
    armed: bool,
}

impl Drop for CleanupGuard {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        if let Err(e) = docker_mirror::remove_instance_containers_blocking(&self.instance) {
            eprintln!("capi-sim serve: cleanup of the containers of instance {}: {e}", self.instance);
        }
    }
}

/// A running server. Dropping it stops everything and removes the real containers it created.
pub struct ServerHandle {
    addr: SocketAddr,
    instance: String,
    sim: SimHandle,
    sim_thread: Option<JoinHandle<()>>,
    pulse_tx: tokio_watch::Sender<Pulse>,
    stop_http: Option<oneshot::Sender<()>>,
    http_task: Option<tokio::task::JoinHandle<()>>,
    mirror: Option<Mirror>,
    guard: Option<CleanupGuard>,
    history: Arc<RwLock<History>>,
    credentials: kubeconfig::Credentials,
}

/// What a clean shutdown did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Real containers removed.
    pub containers_removed: usize,
}

fn new_instance_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    format!("{}-{:08x}-{}", std::process::id(), nanos, COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// Start serving (inside a tokio runtime).
pub async fn start(opts: ServeOptions) -> Result<ServerHandle, ServeError> {
    let listener = tokio::net::TcpListener::bind(opts.addr).await.map_err(|source| ServeError::Bind { addr: opts.addr, source })?;
    let addr = listener.local_addr().map_err(|source| ServeError::Bind { addr: opts.addr, source })?;
    let instance = new_instance_id();
    let credentials = kubeconfig::Credentials { token: auth::new_token().map_err(ServeError::Token)?, ca_pem: String::new() };
    let identity = tls::identity(addr, &opts.allowed_hosts).map_err(ServeError::Token)?;
    let credentials = kubeconfig::Credentials { ca_pem: identity.ca_pem.clone(), ..credentials };
    let access = auth::Guard::new(credentials.token.clone(), opts.allowed_hosts.clone());
    let (mirror_sync, mirror_parts) = if opts.docker {
        let docker = images::connect().await.map_err(ServeError::Docker)?;
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let sync = MirrorSync::new(tx);
        let pending = sync.pending();
        (Some(sync), Some((docker, rx, pending)))
    } else {
        (None, None)
    };
    let now_ms = Arc::new(AtomicU64::new(0));
    let spawned = self::core::spawn(CoreConfig {
        seed: opts.seed,
        timing: opts.timing.clone(),
        init_vars: opts.init_vars.clone(),
        speed: opts.speed,
        tick: opts.tick,
        history_limit: opts.history_limit,
        mirror: mirror_sync,
        now_ms: now_ms.clone(),
        verbose: opts.verbose,
    })
    .map_err(ServeError::Sim)?;
    let guard = opts.docker.then(|| CleanupGuard { instance: instance.clone(), armed: true });
    let mirror = mirror_parts
        .map(|(docker, rx, pending)| Mirror::start(docker, instance.clone(), rx, pending, spawned.handle.clone(), opts.verbose));
    let app = Arc::new(App {
        sim: spawned.handle.clone(),
        history: spawned.history.clone(),
        pulse: spawned.pulse.clone(),
        now_ms,
        server_url: format!("https://{addr}"),
        watch: WatchSettings { bookmark_interval: opts.bookmark_interval, default_timeout: opts.watch_timeout },
        guard: access,
        credentials: credentials.clone(),
    });
    let router = Router::new().fallback(handlers::handle).with_state(app);
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let http_task = tokio::spawn(async move {
        let shutdown = async {
            let _ = stop_rx.await;
        };
        tls::serve(listener, identity.config, router, shutdown).await;
    });
    Ok(ServerHandle {
        addr,
        instance,
        sim: spawned.handle,
        sim_thread: Some(spawned.thread),
        pulse_tx: spawned.pulse_tx,
        stop_http: Some(stop_tx),
        http_task: Some(http_task),
        mirror,
        guard,
        history: spawned.history,
        credentials,
    })
}

impl ServerHandle {
    /// The address served.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `https://ADDR`.
    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// The id on this instance's real containers (`capi-harness.io/instance`).
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// The kubeconfig text.
    pub fn kubeconfig(&self) -> String {
        kubeconfig::render(self.addr, &self.credentials)
    }

    /// The bearer token requests must carry (it is in [`Self::kubeconfig`]).
    pub fn token(&self) -> &str {
        &self.credentials.token
    }

    /// The serving authority's certificate (PEM) clients must trust (it is in [`Self::kubeconfig`]).
    pub fn ca_pem(&self) -> &str {
        &self.credentials.ca_pem
    }

    /// Write the kubeconfig.
    pub fn write_kubeconfig(&self, path: &Path) -> Result<(), ServeError> {
        kubeconfig::write(path, self.addr, &self.credentials)
            .map_err(|source| ServeError::Kubeconfig { path: path.display().to_string(), source })
    }

    /// Run `f` on the simulator thread (inspection and fault injection in tests).
    pub async fn with_sim<R: Send + 'static>(&self, f: impl FnOnce(&mut Sim) -> R + Send + 'static) -> Result<R, Failure> {
        self.sim.call(move |core| f(&mut core.sim)).await
    }

    /// Drop the retained watch history and end every open watch: clients that resume from an older
    /// resourceVersion get `410 Expired` and must list again (an injected etcd compaction).
    pub async fn compact_history(&self) -> Result<(), Failure> {
        self.sim.call(|core| core.compact()).await
    }

    /// Events retained and the compaction point (oldest servable resourceVersion).
    pub fn history_stats(&self) -> (usize, u64) {
        let h = self.history.read().unwrap_or_else(|p| p.into_inner());
        (h.len(), h.floor())
    }

    /// Real containers mirrored now (name → id).
    pub fn mirrored_containers(&self) -> BTreeMap<String, String> {
        self.mirror.as_ref().map(Mirror::containers).unwrap_or_default()
    }

    fn close_streams(&self) {
        self.pulse_tx.send_modify(|p| {
            p.closed = true;
            p.epoch += 1;
        });
    }

    /// Stop serving: end watches, stop the HTTP server and the simulator, and remove every real
    /// container this instance created.
    pub async fn shutdown(mut self) -> Result<ShutdownReport, ServeError> {
        self.close_streams();
        if let Some(tx) = self.stop_http.take() {
            let _ = tx.send(());
        }
        if let Some(mut task) = self.http_task.take() {
            if tokio::time::timeout(Duration::from_secs(5), &mut task).await.is_err() {
                task.abort();
            }
        }
        self.sim.stop();
        if let Some(t) = self.sim_thread.take() {
            let _ = tokio::task::spawn_blocking(move || t.join()).await;
        }
        let mut report = ShutdownReport::default();
        if let Some(m) = self.mirror.take() {
            report.containers_removed = m.shutdown().await.map_err(ServeError::Docker)?;
        }
        // Clean: nothing is left for the guard to do.
        if let Some(mut g) = self.guard.take() {
            g.armed = false;
        }
        Ok(report)
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        if self.sim_thread.is_none() {
            return;
        }
        self.close_streams();
        if let Some(tx) = self.stop_http.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.http_task.take() {
            t.abort();
        }
        self.sim.stop();
        if let Some(t) = self.sim_thread.take() {
            let _ = t.join();
        }
        self.mirror.take();
        // The guard removes the containers on its own thread.
        self.guard.take();
    }
}

/// Ctrl-C, or SIGTERM on Unix.
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// Serve until Ctrl-C (the `cargo xtask sim serve` entry point): start, write the kubeconfig, print
/// how to use it, and on Ctrl-C shut down cleanly (removing mirrored containers).
pub fn run_blocking(opts: ServeOptions, kubeconfig_path: &Path, import_images: bool) -> Result<(), ServeError> {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().map_err(ServeError::Runtime)?;
    rt.block_on(async {
        if opts.docker && import_images {
            let docker = images::connect().await.map_err(ServeError::Docker)?;
            let imported = images::ensure_images(&docker, images::CAPD_IMAGES).await.map_err(ServeError::Docker)?;
            for i in imported {
                eprintln!("capi-sim serve: imported the busybox stand-in image {i}");
            }
        }
        let (seed, speed, docker) = (opts.seed, opts.speed, opts.docker);
        let gates = opts.init_vars.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ");
        let handle = start(opts).await?;
        handle.write_kubeconfig(kubeconfig_path)?;
        let kc = std::fs::canonicalize(kubeconfig_path).unwrap_or_else(|_| kubeconfig_path.to_path_buf());
        println!("SEED={seed} speed={speed}x init vars: {gates}{}", if docker { " docker mirror: on" } else { "" });
        println!("serving the simulated management cluster `mgmt` at {}", handle.url());
        if docker {
            println!(
                "real containers carry the labels {}={} and {}={}",
                docker_mirror::OWNER_LABEL,
                docker_mirror::OWNER_VALUE,
                docker_mirror::INSTANCE_LABEL,
                handle.instance()
            );
        }
        println!("kubeconfig: {}", kc.display());
        println!("  export KUBECONFIG={}", kc.display());
        println!("  kubectl get clusters,machines -A");
        println!("(if kubectl shows stale resource types, clear its discovery cache: rm -rf ~/.kube/cache)");
        println!("Ctrl-C stops the server{}", if docker { " and removes the containers it created" } else { "" });
        stop_signal().await;
        eprintln!("capi-sim serve: stopping");
        let report = handle.shutdown().await?;
        if docker {
            eprintln!("capi-sim serve: removed {} container(s)", report.containers_removed);
        }
        Ok(())
    })
}

//! The Docker safety rules against a real engine (skipped with a message when none is reachable):
//! the docker layer refuses every container that is not labelled for the scenario's clusters or by
//! this harness run; containers that only look like the scenario's (a user's decoy with a CAPD-like
//! name, another run's containers) survive everything; and after a panic or an aborted run the
//! cleanup guard leaves no container of the scenario's clusters behind.
//!
//! The tests need no registry: they import a tiny image made of this host's `sleep` binary and the
//! libraries `ldd` names (or, where that fails, an empty image whose containers are only created).
//! Every container they make carries a name and labels unique to the test, and each test removes
//! its own leftovers.

use bollard::query_parameters::{
    CreateContainerOptionsBuilder, CreateImageOptionsBuilder, ListContainersOptionsBuilder, RemoveContainerOptionsBuilder,
};
use bollard::Docker;
use capi_conformance::docker::{ContainerPolicy, DockerError, DockerHost, HARNESS_OWNER_LABEL};
use capi_conformance::kube_backend::cleanup::{CleanupGuard, CleanupPlan};
use capi_scenarios::predicate::{KIND_CLUSTER_LABEL, KIND_ROLE_LABEL};
use futures::StreamExt as _;
use std::collections::HashMap;
use std::time::Duration;

const SLEEPER: &str = "capi-harness-test/sleeper:1";
const EMPTY: &str = "capi-harness-test/empty:1";

/// A unique suffix for this test's names and labels.
fn unique(test: &str) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    format!("{test}-{}-{nanos:x}", std::process::id())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

/// The engine, or `None` (and a message) when there is none.
async fn engine() -> Option<Docker> {
    let d = match Docker::connect_with_local_defaults() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("skipped: no Docker engine ({e})");
            return None;
        }
    };
    match d.negotiate_version().await {
        Ok(d) if d.ping().await.is_ok() => Some(d),
        _ => {
            eprintln!("skipped: the Docker engine does not answer");
            None
        }
    }
}

/// A ustar archive.
struct Tar(Vec<u8>);

impl Tar {
    fn entry(&mut self, path: &str, data: &[u8], mode: u32, dir: bool) {
        let mut h = [0u8; 512];
        let name = path.trim_start_matches('/');
        h[..name.len()].copy_from_slice(name.as_bytes());
        let field = |h: &mut [u8; 512], at: usize, s: String| h[at..at + s.len()].copy_from_slice(s.as_bytes());
        field(&mut h, 100, format!("{mode:07o}\0"));
        field(&mut h, 108, "0000000\0".into());
        field(&mut h, 116, "0000000\0".into());
        field(&mut h, 124, format!("{:011o}\0", if dir { 0 } else { data.len() }));
        field(&mut h, 136, "00000000000\0".into());
        h[156] = if dir { b'5' } else { b'0' };
        field(&mut h, 257, "ustar\0".into());
        field(&mut h, 263, "00".into());
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|b| *b as u32).sum();
        field(&mut h, 148, format!("{sum:06o}\0 "));
        self.0.extend_from_slice(&h);
        if !dir {
            self.0.extend_from_slice(data);
            self.0.resize(self.0.len().div_ceil(512) * 512, 0);
        }
    }

    fn file(&mut self, path: &str, data: &[u8], dirs: &mut Vec<String>) {
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        for i in 1..parts.len() {
            let d = format!("{}/", parts[..i].join("/"));
            if !dirs.contains(&d) {
                self.entry(&d, &[], 0o755, true);
                dirs.push(d);
            }
        }
        self.entry(path, data, 0o755, false);
    }

    fn finish(mut self) -> Vec<u8> {
        self.0.extend_from_slice(&[0u8; 1024]);
        self.0
    }
}

/// This host's `sleep` and the libraries it loads, as an image root file system.
fn sleeper_rootfs() -> Option<Vec<u8>> {
    let sleep = ["/bin/sleep", "/usr/bin/sleep"].into_iter().find(|p| std::path::Path::new(p).is_file())?;
    let ldd = std::process::Command::new("ldd").arg(sleep).output().ok()?;
    let mut tar = Tar(Vec::new());
    let mut dirs = Vec::new();
    tar.file("bin/sleep", &std::fs::read(sleep).ok()?, &mut dirs);
    for tok in String::from_utf8_lossy(&ldd.stdout).split_whitespace() {
        if tok.starts_with('/') {
            tar.file(tok, &std::fs::read(tok).ok()?, &mut dirs);
        }
    }
    Some(tar.finish())
}

async fn import(d: &Docker, image: &str, rootfs: Vec<u8>, cmd: Option<&str>) -> bool {
    let (repo, tag) = image.split_once(':').unwrap();
    let mut opts = CreateImageOptionsBuilder::default().from_src("-").repo(repo).tag(tag);
    if let Some(c) = cmd {
        opts = opts.changes(vec![format!("CMD {c}")]);
    }
    let mut s = d.create_image(Some(opts.build()), Some(bollard::body_full(rootfs.into())), None);
    while let Some(step) = s.next().await {
        if let Err(e) = step {
            eprintln!("note: cannot import {image}: {e}");
            return false;
        }
    }
    true
}

/// Tests run in parallel: one import at a time.
static IMPORT: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The test image: a running `sleep` when possible, else an empty image (containers only created).
async fn test_image(d: &Docker) -> (&'static str, bool) {
    let _one_at_a_time = IMPORT.lock().await;
    if d.inspect_image(SLEEPER).await.is_ok() {
        return (SLEEPER, true);
    }
    if let Some(fs) = sleeper_rootfs() {
        if import(d, SLEEPER, fs, Some(r#"["/bin/sleep", "3600"]"#)).await {
            return (SLEEPER, true);
        }
    }
    if d.inspect_image(EMPTY).await.is_err() {
        import(d, EMPTY, Tar(Vec::new()).finish(), Some(r#"["/nothing"]"#)).await;
    }
    eprintln!("note: no runnable test image; the containers are only created");
    (EMPTY, false)
}

/// Create (and, when the image can run, start) a container with these labels, outside the layer.
async fn make(d: &Docker, image: &str, runs: bool, name: &str, labels: &[(&str, &str)]) {
    let labels: HashMap<String, String> = labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let body = bollard::models::ContainerCreateBody { image: Some(image.into()), labels: Some(labels), ..Default::default() };
    d.create_container(Some(CreateContainerOptionsBuilder::default().name(name).build()), body).await.unwrap();
    if runs {
        d.start_container(name, None).await.unwrap();
    }
}

async fn exists(d: &Docker, name: &str) -> bool {
    d.inspect_container(name, None).await.is_ok()
}

async fn state(d: &Docker, name: &str) -> String {
    let r = d.inspect_container(name, None).await.unwrap();
    r.state.and_then(|s| s.status).map(|s| s.to_string()).unwrap_or_default()
}

/// The container's state once it is `want`, or the last one seen after 10s: the engine reports a
/// pause or an unpause a moment after the call returns when it is busy (seen with the end-to-end
/// tests running beside this one).
async fn settled_state(d: &Docker, name: &str, want: &str) -> String {
    let mut last = state(d, name).await;
    for _ in 0..100 {
        if last == want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        last = state(d, name).await;
    }
    last
}

/// Removes the named containers when a test panics before its own cleanup (through the Docker
/// CLI: the engine's async client cannot run in `Drop`); a missing CLI leaves them, as before.
struct RemoveOnPanic(Vec<String>);

impl Drop for RemoveOnPanic {
    fn drop(&mut self) {
        if std::thread::panicking() && !self.0.is_empty() {
            let _ = std::process::Command::new("docker").arg("rm").arg("-f").args(&self.0).output();
        }
    }
}

/// Containers carrying a label (as `key=value`), by name.
async fn labelled(d: &Docker, label: &str) -> Vec<String> {
    let mut f = HashMap::new();
    f.insert("label".to_string(), vec![label.to_string()]);
    let opts = ListContainersOptionsBuilder::default().all(true).filters(&f).build();
    let mut names: Vec<String> = d
        .list_containers(Some(opts))
        .await
        .unwrap()
        .into_iter()
        .filter_map(|c| c.names.and_then(|n| n.first().map(|n| n.trim_start_matches('/').to_string())))
        .collect();
    names.sort();
    names
}

async fn remove(d: &Docker, names: &[&str]) {
    for n in names {
        let _ = d.remove_container(n, Some(RemoveContainerOptionsBuilder::default().force(true).build())).await;
    }
}

async fn host(cluster: &str, owner: &str) -> DockerHost {
    let policy = ContainerPolicy::new([cluster.to_string()], owner, ["capi-conformance".to_string()]).unwrap();
    DockerHost::connect(policy).await.unwrap()
}

#[test]
fn the_docker_layer_refuses_containers_it_does_not_own() {
    runtime().block_on(async {
        let Some(d) = engine().await else { return };
        let (image, runs) = test_image(&d).await;
        let u = unique("refuse");
        let (cluster, owner) = (format!("c-{u}"), format!("run-{u}"));
        let user = format!("{cluster}-lb");
        let other_cluster = format!("other-{u}");
        let other_run = format!("other-run-{u}");
        let kind_node = format!("kind-{u}");
        // A user's container named like the scenario's load balancer, but without CAPD's labels.
        make(&d, image, runs, &user, &[]).await;
        make(&d, image, runs, &other_cluster, &[(KIND_CLUSTER_LABEL, "someone-else"), (KIND_ROLE_LABEL, "worker")]).await;
        make(&d, image, runs, &other_run, &[(HARNESS_OWNER_LABEL, "run-that-is-not-this-one")]).await;
        make(&d, image, runs, &kind_node, &[(KIND_CLUSTER_LABEL, "capi-conformance"), (KIND_ROLE_LABEL, "control-plane")]).await;
        let h = host(&cluster, &owner).await;
        for name in [&user, &other_cluster, &other_run, &kind_node] {
            let refused = |r: Result<(), DockerError>| matches!(r, Err(DockerError::Refused { .. }));
            assert!(refused(h.kill(name, "SIGKILL").await), "kill {name}");
            assert!(refused(h.pause(name).await), "pause {name}");
            assert!(refused(h.unpause(name).await), "unpause {name}");
            assert!(refused(h.stop(name, 1).await), "stop {name}");
            assert!(refused(h.start(name).await), "start {name}");
            assert!(refused(h.remove(name).await), "remove {name}");
            assert!(matches!(h.published_port(name, "6443/tcp").await, Err(DockerError::Refused { .. })));
            assert!(matches!(h.inspect(name).await, Err(DockerError::Refused { .. })));
        }
        assert!(h.list().await.unwrap().is_empty(), "none of them is listed");
        let (removed, _) = h.remove_all().await;
        assert!(removed.is_empty());
        for name in [&user, &other_cluster, &other_run, &kind_node] {
            assert!(exists(&d, name).await, "{name} survived");
            if runs {
                assert_eq!(state(&d, name).await, "running", "{name} untouched");
            }
        }
        remove(&d, &[&user, &other_cluster, &other_run, &kind_node]).await;
    });
}

#[test]
fn faults_act_on_scenario_containers_and_decoys_survive() {
    runtime().block_on(async {
        let Some(d) = engine().await else { return };
        let (image, runs) = test_image(&d).await;
        if !runs {
            eprintln!("skipped: pause/kill need a running container and no runnable test image could be built here");
            return;
        }
        let u = unique("faults");
        let (cluster, owner) = (format!("c-{u}"), format!("run-{u}"));
        let node = format!("{cluster}-cp-1");
        let decoy = format!("{cluster}-cp-2");
        let _guard = RemoveOnPanic(vec![node.clone(), decoy.clone(), format!("{cluster}-harness")]);
        make(&d, image, true, &node, &[(KIND_CLUSTER_LABEL, &cluster), (KIND_ROLE_LABEL, "control-plane")]).await;
        make(&d, image, true, &decoy, &[]).await;
        let h = host(&cluster, &owner).await;
        h.pause(&node).await.unwrap();
        assert_eq!(settled_state(&d, &node, "paused").await, "paused");
        h.unpause(&node).await.unwrap();
        assert_eq!(settled_state(&d, &node, "running").await, "running");
        h.kill(&node, "SIGKILL").await.unwrap();
        assert_eq!(settled_state(&d, &node, "exited").await, "exited");
        assert!(h.pause(&decoy).await.is_err());
        assert_eq!(state(&d, &decoy).await, "running", "the decoy is untouched");
        // A harness decoy is ours: listed, removable.
        let mine = format!("{cluster}-harness");
        h.run_decoy(&mine, image).await.unwrap();
        let listed: Vec<String> = h.list().await.unwrap().into_iter().map(|c| c.name).collect();
        assert_eq!(listed, vec![node.clone(), mine.clone()]);
        h.remove(&mine).await.unwrap();
        assert!(!exists(&d, &mine).await);
        remove(&d, &[&node, &decoy]).await;
    });
}

fn plan(cluster: &str, owner: &str) -> CleanupPlan {
    CleanupPlan {
        kubeconfig: None,
        context: None,
        cluster_resource: None,
        clusters: [("default".to_string(), cluster.to_string())].into_iter().collect(),
        objects: Vec::new(),
        docker: true,
        owner: owner.to_string(),
        protected: vec!["capi-conformance".to_string()],
        wait: Duration::from_secs(1),
    }
}

/// Scenario containers (3 nodes and a load balancer), one harness decoy, and the containers that must
/// survive: a user's look-alike and another run's decoy.
async fn populate(d: &Docker, image: &str, runs: bool, cluster: &str, owner: &str) -> (Vec<String>, Vec<String>) {
    let mut ours = Vec::new();
    for (suffix, role) in [("lb", "external-load-balancer"), ("cp-1", "control-plane"), ("md-1", "worker"), ("md-2", "worker")] {
        let name = format!("{cluster}-{suffix}");
        make(d, image, runs, &name, &[(KIND_CLUSTER_LABEL, cluster), (KIND_ROLE_LABEL, role)]).await;
        ours.push(name);
    }
    let decoy = format!("{cluster}-decoy");
    make(d, image, runs, &decoy, &[(HARNESS_OWNER_LABEL, owner)]).await;
    ours.push(decoy);
    let survivors = vec![format!("{cluster}-md-3"), format!("{cluster}-other-run")];
    make(d, image, runs, &survivors[0], &[]).await;
    make(d, image, runs, &survivors[1], &[(HARNESS_OWNER_LABEL, "another-run")]).await;
    (ours, survivors)
}

async fn assert_cleaned(d: &Docker, cluster: &str, owner: &str, survivors: &[String]) {
    assert_eq!(
        labelled(d, &format!("{KIND_CLUSTER_LABEL}={cluster}")).await,
        Vec::<String>::new(),
        "no container of the scenario's cluster is left"
    );
    assert_eq!(labelled(d, &format!("{HARNESS_OWNER_LABEL}={owner}")).await, Vec::<String>::new(), "no container of this run is left");
    for s in survivors {
        assert!(exists(d, s).await, "{s} is not ours and must survive the cleanup");
    }
    let names: Vec<&str> = survivors.iter().map(String::as_str).collect();
    remove(d, &names).await;
}

#[test]
fn a_panic_leaves_no_scenario_container() {
    let rt = runtime();
    let setup = rt.block_on(async {
        let d = engine().await?;
        let (image, runs) = test_image(&d).await;
        let u = unique("panic");
        let (cluster, owner) = (format!("c-{u}"), format!("run-{u}"));
        let (_, survivors) = populate(&d, image, runs, &cluster, &owner).await;
        Some((d, cluster, owner, survivors))
    });
    let Some((d, cluster, owner, survivors)) = setup else { return };
    let p = plan(&cluster, &owner);
    // The run panics on a runtime thread with the guard alive, as a bug in a step would.
    let run = std::thread::spawn(move || {
        runtime().block_on(async move {
            let _guard = CleanupGuard::new(p);
            tokio::time::sleep(Duration::from_millis(10)).await;
            panic!("a step panicked");
        })
    });
    assert!(run.join().is_err(), "the run panicked");
    rt.block_on(assert_cleaned(&d, &cluster, &owner, &survivors));
}

#[test]
fn an_aborted_run_leaves_no_scenario_container() {
    let rt = runtime();
    let setup = rt.block_on(async {
        let d = engine().await?;
        let (image, runs) = test_image(&d).await;
        let u = unique("abort");
        let (cluster, owner) = (format!("c-{u}"), format!("run-{u}"));
        let (_, survivors) = populate(&d, image, runs, &cluster, &owner).await;
        Some((d, cluster, owner, survivors))
    });
    let Some((d, cluster, owner, survivors)) = setup else { return };
    let p = plan(&cluster, &owner);
    rt.block_on(async {
        // A run that never ends, cut off by a timeout: its future (and the guard in it) is dropped.
        let never = async move {
            let _guard = CleanupGuard::new(p);
            std::future::pending::<()>().await;
        };
        assert!(tokio::time::timeout(Duration::from_millis(50), never).await.is_err());
    });
    rt.block_on(assert_cleaned(&d, &cluster, &owner, &survivors));
}

#[test]
fn a_disarmed_guard_leaves_everything() {
    let rt = runtime();
    let setup = rt.block_on(async {
        let d = engine().await?;
        let (image, runs) = test_image(&d).await;
        let u = unique("keep");
        let (cluster, owner) = (format!("c-{u}"), format!("run-{u}"));
        let (ours, survivors) = populate(&d, image, runs, &cluster, &owner).await;
        Some((d, cluster, owner, ours, survivors))
    });
    let Some((d, cluster, owner, ours, survivors)) = setup else { return };
    let mut guard = CleanupGuard::new(plan(&cluster, &owner));
    guard.disarm();
    drop(guard);
    rt.block_on(async {
        for n in ours.iter().chain(&survivors) {
            assert!(exists(&d, n).await, "{n} kept (--keep)");
        }
        let all: Vec<&str> = ours.iter().chain(&survivors).map(String::as_str).collect();
        remove(&d, &all).await;
    });
}

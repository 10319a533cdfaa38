//! Leaving nothing behind: the scenario's Clusters are unpaused and deleted (and waited for, briefly,
//! so that CAPD removes its containers the normal way), then the other objects the run created are
//! deleted (newest first), then every container still labelled for those Clusters or by this
//! harness run is removed. Objects that existed before the run (applied as "configured" or
//! "unchanged") are never deleted.
//!
//! [`CleanupGuard`] runs this when it is dropped while still armed: after a panic, when the run's
//! future is dropped (a timeout, a Ctrl-C handler that drops it, an aborted task). `Drop` cannot be
//! async and may run on a runtime thread, so the cleanup runs on a fresh OS thread with its own
//! runtime, and the guard waits for it. The cleanup opens its own connections (from the kubeconfig
//! and the Docker socket): pooled connections of the dying run may belong to a runtime that is
//! blocked in this very `Drop`. Only Clusters that this run applied are deleted, and only
//! their containers (and the harness's own) are removed, never anything that was there before.

use crate::docker::{ContainerPolicy, DockerHost};
use kube::api::{Api, DeleteParams, DynamicObject, PropagationPolicy};
use kube::core::{ApiResource, GroupVersionKind};
use kube::Client;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What a cleanup removes.
#[derive(Clone, Default)]
pub struct CleanupPlan {
    /// The management cluster's kubeconfig (none in tests without a cluster).
    pub kubeconfig: Option<PathBuf>,
    /// Its context (the current one when `None`).
    pub context: Option<String>,
    /// The Cluster resource (group/version/plural) to delete through.
    pub cluster_resource: Option<ApiResource>,
    /// Clusters this run applied: (namespace, name).
    pub clusters: BTreeSet<(String, String)>,
    /// Other objects this run created, in creation order.
    pub objects: Vec<CreatedObject>,
    /// Remove containers (false when Docker is off for the run).
    pub docker: bool,
    /// This run's id (the harness owner label).
    pub owner: String,
    /// Protected KinD cluster names.
    pub protected: Vec<String>,
    /// How long to wait for the Clusters to go before removing containers by force.
    pub wait: Duration,
}

/// An object a run created (deleted by the cleanup).
#[derive(Debug, Clone, PartialEq)]
pub struct CreatedObject {
    /// Its resource.
    pub resource: ApiResource,
    /// Namespace ("" for cluster-scoped objects).
    pub namespace: String,
    /// Name.
    pub name: String,
}

/// The label and annotation that pause Cluster API objects.
const PAUSED_ANNOTATION: &str = "cluster.x-k8s.io/paused";

/// What a cleanup did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CleanupReport {
    /// Clusters deleted (or already gone).
    pub clusters_deleted: Vec<String>,
    /// Clusters still present when the wait ended.
    pub clusters_left: Vec<String>,
    /// Other objects deleted.
    pub objects_deleted: usize,
    /// Containers removed by force.
    pub containers_removed: Vec<String>,
    /// What failed.
    pub errors: Vec<String>,
}

impl std::fmt::Display for CleanupReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "deleted {} Cluster(s)", self.clusters_deleted.len())?;
        if !self.clusters_left.is_empty() {
            write!(f, " ({} still deleting: {})", self.clusters_left.len(), self.clusters_left.join(", "))?;
        }
        write!(f, ", {} other object(s)", self.objects_deleted)?;
        write!(f, ", removed {} container(s)", self.containers_removed.len())?;
        if !self.errors.is_empty() {
            write!(f, "; errors: {}", self.errors.join("; "))?;
        }
        Ok(())
    }
}

/// The default Cluster resource (CAPI v1beta2).
pub fn default_cluster_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk("cluster.x-k8s.io", "v1beta2", "Cluster"), "clusters")
}

/// Run a cleanup now.
pub async fn cleanup(plan: &CleanupPlan) -> CleanupReport {
    let mut report = CleanupReport::default();
    let client = match &plan.kubeconfig {
        Some(path) => match super::client::config_from_file(path, plan.context.as_deref()).await.map(Client::try_from) {
            Ok(Ok(c)) => Some(c),
            Ok(Err(e)) => {
                report.errors.push(format!("cannot connect to the management cluster: {e}"));
                None
            }
            Err(e) => {
                report.errors.push(e.to_string());
                None
            }
        },
        None => None,
    };
    if let Some(client) = &client {
        unpause(client, plan).await;
        let ar = plan.cluster_resource.clone().unwrap_or_else(default_cluster_resource);
        let dp = DeleteParams { propagation_policy: Some(PropagationPolicy::Background), ..Default::default() };
        for (ns, name) in &plan.clusters {
            let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &ar);
            match tokio::time::timeout(Duration::from_secs(20), api.delete(name, &dp)).await {
                Ok(Ok(_)) => report.clusters_deleted.push(format!("{ns}/{name}")),
                Ok(Err(kube::Error::Api(s))) if s.code == 404 => report.clusters_deleted.push(format!("{ns}/{name}")),
                Ok(Err(e)) => report.errors.push(format!("delete Cluster {ns}/{name}: {e}")),
                Err(_) => report.errors.push(format!("delete Cluster {ns}/{name}: no answer")),
            }
        }
        let deadline = tokio::time::Instant::now() + plan.wait;
        loop {
            let mut left = Vec::new();
            for (ns, name) in &plan.clusters {
                let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &ar);
                match tokio::time::timeout(Duration::from_secs(10), api.get_opt(name)).await {
                    Ok(Ok(None)) => {}
                    _ => left.push(format!("{ns}/{name}")),
                }
            }
            if left.is_empty() || tokio::time::Instant::now() >= deadline {
                report.clusters_left = left;
                break;
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
        for o in plan.objects.iter().rev() {
            let api: Api<DynamicObject> = if o.namespace.is_empty() {
                Api::all_with(client.clone(), &o.resource)
            } else {
                Api::namespaced_with(client.clone(), &o.namespace, &o.resource)
            };
            match tokio::time::timeout(Duration::from_secs(20), api.delete(&o.name, &dp)).await {
                Ok(Ok(_)) => report.objects_deleted += 1,
                Ok(Err(kube::Error::Api(s))) if s.code == 404 => {}
                Ok(Err(e)) => report.errors.push(format!("delete {} {}: {e}", o.resource.kind, o.name)),
                Err(_) => report.errors.push(format!("delete {} {}: no answer", o.resource.kind, o.name)),
            }
        }
    }
    if plan.docker {
        let names = plan.clusters.iter().map(|(_, n)| n.clone());
        let host = match ContainerPolicy::new(names, plan.owner.clone(), plan.protected.clone()) {
            Ok(policy) => DockerHost::connect(policy).await,
            Err(e) => Err(e),
        };
        match host {
            Ok(docker) => {
                let (removed, errors) = docker.remove_all().await;
                report.containers_removed = removed;
                report.errors.extend(errors.into_iter().map(|e| e.to_string()));
            }
            Err(e) => report.errors.push(e.to_string()),
        }
    }
    report
}

/// Unpause the scenario's Clusters and their objects (a paused object never finishes deleting).
async fn unpause(client: &Client, plan: &CleanupPlan) {
    let mut kinds = super::resources::Kinds::new(client.clone());
    let patch = serde_json::json!({"metadata": {"annotations": {PAUSED_ANNOTATION: null}}});
    let pp = kube::api::PatchParams::default();
    for (ns, cluster) in &plan.clusters {
        let ar = plan.cluster_resource.clone().unwrap_or_else(default_cluster_resource);
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &ar);
        let unpause = serde_json::json!({"spec": {"paused": null}, "metadata": {"annotations": {PAUSED_ANNOTATION: null}}});
        let _ = tokio::time::timeout(Duration::from_secs(10), api.patch(cluster, &pp, &kube::api::Patch::Merge(&unpause))).await;
        let selector = format!("cluster.x-k8s.io/cluster-name={cluster}");
        for kind in ["KubeadmControlPlane", "MachineDeployment", "MachineSet", "Machine", "MachinePool"] {
            let Ok(r) = kinds.by_name(kind).await else { continue };
            let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &r.ar);
            let Ok(Ok(list)) =
                tokio::time::timeout(Duration::from_secs(10), api.list(&kube::api::ListParams::default().labels(&selector))).await
            else {
                continue;
            };
            for o in list.items.iter().filter(|o| o.metadata.annotations.as_ref().is_some_and(|a| a.contains_key(PAUSED_ANNOTATION))) {
                if let Some(name) = &o.metadata.name {
                    let _ = tokio::time::timeout(Duration::from_secs(10), api.patch(name, &pp, &kube::api::Patch::Merge(&patch))).await;
                }
            }
        }
    }
}

/// Runs [`cleanup`] when dropped while armed. Clones share the plan, so Clusters registered through
/// any clone are cleaned up.
pub struct CleanupGuard {
    plan: Arc<Mutex<CleanupPlan>>,
    armed: bool,
}

impl CleanupGuard {
    /// An armed guard.
    pub fn new(plan: CleanupPlan) -> Self {
        CleanupGuard { plan: Arc::new(Mutex::new(plan)), armed: true }
    }

    fn with<R>(&self, f: impl FnOnce(&mut CleanupPlan) -> R) -> R {
        f(&mut self.plan.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Register a Cluster this run applies (before applying it, so that an abort during the apply
    /// still removes it).
    pub fn add_cluster(&self, namespace: &str, name: &str) {
        self.with(|p| {
            p.clusters.insert((namespace.to_string(), name.to_string()));
        });
    }

    /// Register an object this run created (deleted by the cleanup after the Clusters).
    pub fn add_object(&self, object: CreatedObject) {
        self.with(|p| {
            if !p.objects.contains(&object) {
                p.objects.push(object);
            }
        });
    }

    /// Set the Cluster resource as the server serves it.
    pub fn set_cluster_resource(&self, ar: ApiResource) {
        self.with(|p| p.cluster_resource = Some(ar));
    }

    /// The plan as it stands.
    pub fn plan(&self) -> CleanupPlan {
        self.with(|p| p.clone())
    }

    /// Clean up now (and disarm).
    pub async fn run_now(&mut self) -> CleanupReport {
        self.armed = false;
        let plan = self.plan();
        cleanup(&plan).await
    }

    /// Do not clean up on drop (the run ended and its objects are meant to stay).
    pub fn disarm(&mut self) {
        self.armed = false;
    }
}

impl Drop for CleanupGuard {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let plan = self.plan();
        if plan.clusters.is_empty() && !plan.docker {
            return;
        }
        let worker = std::thread::Builder::new().name("capi-harness-cleanup".into()).spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(rt) => rt,
                Err(e) => return Err(format!("cannot start a runtime for the cleanup: {e}")),
            };
            let limit = plan.wait + Duration::from_secs(60);
            // The timer must be created inside the runtime.
            match rt.block_on(async { tokio::time::timeout(limit, cleanup(&plan)).await }) {
                Ok(r) => Ok(r),
                Err(_) => Err(format!("the cleanup did not finish within {limit:?}")),
            }
        });
        let result = match worker {
            Ok(h) => h.join().unwrap_or_else(|_| Err("the cleanup thread panicked".into())),
            Err(e) => Err(format!("cannot start the cleanup thread: {e}")),
        };
        match result {
            Ok(r) => eprintln!("capi-harness: aborted run cleaned up: {r}"),
            Err(e) => eprintln!("capi-harness: aborted run NOT fully cleaned up: {e}"),
        }
    }
}

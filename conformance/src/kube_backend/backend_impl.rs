//! `impl Backend for KubeBackend`: each scenario operation as kubectl, clusterctl and docker would do
//! it, inside the scenario's scope.

use super::cleanup::{CleanupGuard, CleanupPlan, CreatedObject};
use super::faults::{self, Pending};
use super::kube_transport::transport_error;
use super::retry::{with_retries, Idempotence, RetryPolicy};
use super::scope::ScenarioScope;
use super::watch::{Changes, TransportError};
use super::{
    backend_error, client, connect, connect_docker, docker_error, find_on_path, object_url, Clock, KubeBackend, Mgmt, Run, FIELD_MANAGER,
};
use crate::docker::ContainerPolicy;
use capi_scenarios::backend::{Applied, ApplyAction, ApplyTarget, Backend, BackendError, ObjectRef, RunFacts, WaitResult};
use capi_scenarios::manifest::ManifestObject;
use capi_scenarios::model::{DockerStep, FaultSpec, MoveSpec, PatchType, Propagation, Scenario, Step};
use capi_scenarios::outcome::{EventSummary, ObjectSummary, Outcome};
use capi_scenarios::predicate::{self, ContainerInfo, Eval, Predicate, KIND_CLUSTER_LABEL, KIND_ROLE_LABEL};
use capi_scenarios::target::Pick;
use capi_scenarios::Target;
use kube::api::{Api, DeleteParams, DynamicObject, PropagationPolicy};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use super::apply::{answer, apply_object, decorate};
use super::reads::fingerprint;
use super::workload_conn::refuse;

/// Containers a docker step names, after `pick` (first by default), as the simulator selects them.
fn select_containers(all: &[ContainerInfo], t: &capi_scenarios::model::ContainerTarget) -> Vec<String> {
    let found: Vec<String> = all
        .iter()
        .filter(|c| t.name.as_ref().is_none_or(|n| &c.name == n))
        .filter(|c| t.cluster.as_ref().is_none_or(|v| c.labels.get(KIND_CLUSTER_LABEL) == Some(v)))
        .filter(|c| t.role.as_ref().is_none_or(|v| c.labels.get(KIND_ROLE_LABEL) == Some(v)))
        .filter(|c| t.name_prefix.as_ref().is_none_or(|p| c.name.starts_with(p.as_str())))
        .map(|c| c.name.clone())
        .collect();
    match t.pick {
        Some(Pick::All) => found,
        Some(Pick::Last) => found.into_iter().last().into_iter().collect(),
        _ => found.into_iter().take(1).collect(),
    }
}

async fn run_command(program: &Path, args: &[String]) -> Result<String, BackendError> {
    let out = tokio::process::Command::new(program)
        .args(args)
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| BackendError::Other(format!("cannot run {}: {e}", program.display())))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(BackendError::Other(format!(
            "{} {} failed ({}): {}",
            program.display(),
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

impl KubeBackend {
    fn clusterctl(&self) -> Option<std::path::PathBuf> {
        self.opts.clusterctl.clone().or_else(|| find_on_path("clusterctl"))
    }
}

impl Backend for KubeBackend {
    fn name(&self) -> &str {
        "kube"
    }

    fn now_ms(&self) -> u64 {
        if self.run.is_some() {
            self.clock.now_ms()
        } else {
            0
        }
    }

    async fn prepare(&mut self, scenario: &Scenario, _seed: u64) -> Result<(), BackendError> {
        let factor = self.opts.time_factor;
        if !(factor.is_finite() && factor > 0.0) {
            return Err(BackendError::Other(format!("the time factor must be a positive number, got {factor}")));
        }
        self.run = None;
        let scope = ScenarioScope::of(scenario);
        let mut protected = self.opts.protected_clusters.clone();
        if let Some(k) = client::kind_cluster_of(&self.opts.kubeconfig, self.opts.context.as_deref()) {
            protected.push(k);
        }
        let policy =
            ContainerPolicy::new(scope.clusters.iter().cloned(), self.opts.run_id.clone(), protected.clone()).map_err(docker_error)?;
        let (docker, docker_error) = connect_docker(self.opts.docker, policy).await?;
        let mut managements = Vec::new();
        for (i, spec) in scenario.management.iter().enumerate() {
            let path = match i {
                0 => Some(self.opts.kubeconfig.clone()),
                1 => self.opts.second_kubeconfig.clone(),
                _ => None,
            };
            let conn = match &path {
                Some(p) => Some(connect(p, if i == 0 { self.opts.context.as_deref() } else { None }).await?),
                None => None,
            };
            managements.push(Mgmt { name: spec.name.clone(), kubeconfig: path, conn });
        }
        let guard = CleanupGuard::new(CleanupPlan {
            kubeconfig: Some(self.opts.kubeconfig.clone()),
            context: self.opts.context.clone(),
            cluster_resource: None,
            clusters: Default::default(),
            objects: Vec::new(),
            docker: docker.is_some(),
            owner: self.opts.run_id.clone(),
            protected,
            wait: self.opts.cleanup_wait,
        });
        let mut run = Run {
            scope,
            managements,
            docker,
            docker_error,
            changes: Changes::default(),
            faults: Default::default(),
            guard,
            workloads: BTreeMap::new(),
            reflector: self.opts.reflector.clone(),
            invariants: self.invariants.iter().map(|(l, p)| (l.clone(), p.clone(), false)).collect(),
            invariant_violations: Vec::new(),
            background: Default::default(),
        };
        if self.opts.refuse_existing {
            if let Err(e) = run.check_leftovers().await {
                run.guard.disarm();
                return Err(e);
            }
        }
        // Watch from the start what the scenario's waits read; other kinds are watched when needed.
        for e in &scenario.steps {
            if let Step::Wait(w) = &e.step {
                let _ = run.ensure_watches(&w.until).await;
            }
        }
        self.run = Some(run);
        self.clock = Clock::start(factor);
        Ok(())
    }

    async fn apply(&mut self, objects: &[ManifestObject], target: &ApplyTarget) -> Result<Vec<Applied>, BackendError> {
        let clock = self.clock;
        let policy = self.opts.retry.clone();
        let run = self.run()?;
        run.poll_faults(&clock).await;
        let mut out = Vec::new();
        let mut errors = Vec::new();
        match target {
            ApplyTarget::Workload(cluster) => {
                if !run.scope.clusters.contains(cluster) {
                    return Err(BackendError::Other(format!("refusing to apply into `{cluster}`: not one of the scenario's clusters")));
                }
                // A young workload API server is flaky: retry for longer.
                let policy = RetryPolicy {
                    deadline: policy.deadline.max(Duration::from_secs(180)),
                    max_attempts: policy.max_attempts.max(12),
                    ..policy
                };
                let conn = run.workload(cluster).await?;
                for o in objects {
                    let api_version = o.value.get("apiVersion").and_then(Value::as_str).unwrap_or("");
                    let r = match conn.kinds.by_api_version(api_version, o.kind()).await {
                        Ok(r) => r,
                        Err(e) => {
                            errors.push(decorate(BackendError::Other(e), o));
                            continue;
                        }
                    };
                    match apply_object(conn, &r, o, &policy).await {
                        Ok(a) => out.push(a),
                        Err(e) => errors.push(decorate(e, o)),
                    }
                }
            }
            ApplyTarget::Management(name) => {
                let m = run.mgmt_index(name.as_deref())?;
                for o in objects {
                    let api_version = o.value.get("apiVersion").and_then(Value::as_str).unwrap_or("").to_string();
                    let scope = run.scope.clone();
                    let conn = run.conn(m)?;
                    let r = match conn.kinds.by_api_version(&api_version, o.kind()).await {
                        Ok(r) => r,
                        Err(e) => {
                            errors.push(decorate(BackendError::Other(e), o));
                            continue;
                        }
                    };
                    let ns = if r.namespaced { o.namespace().unwrap_or("default") } else { "" };
                    if !scope.allows_write(o.kind(), ns, o.name()) {
                        errors.push(decorate(refuse(&format!("{}/{}", o.kind(), o.name())), o));
                        continue;
                    }
                    if r.ar.kind == "Cluster" && r.ar.group == "cluster.x-k8s.io" && !o.name().is_empty() {
                        run.guard.add_cluster(ns, o.name());
                    }
                    let conn = run.conn(m)?;
                    match apply_object(conn, &r, o, &policy).await {
                        Ok(a) => {
                            if a.action == ApplyAction::Created && r.ar.kind != "Cluster" {
                                run.guard.add_object(CreatedObject {
                                    resource: r.ar.clone(),
                                    namespace: ns.to_string(),
                                    name: a.name.clone(),
                                });
                            }
                            out.push(a)
                        }
                        Err(e) => errors.push(decorate(e, o)),
                    }
                }
            }
        }
        match errors.into_iter().next() {
            Some(e) => Err(e),
            None => Ok(out),
        }
    }

    async fn patch(
        &mut self,
        object: &ObjectRef,
        patch_type: PatchType,
        patch: &Value,
        subresource: Option<&str>,
    ) -> Result<Vec<String>, BackendError> {
        let clock = self.clock;
        let policy = self.opts.retry.clone();
        let run = self.run()?;
        run.poll_faults(&clock).await;
        let scope = run.scope.clone();
        let (conn, in_workload) = run.conn_of(object).await?;
        let r = conn.kinds.by_name(&object.kind).await.map_err(BackendError::Other)?;
        let ns = if r.namespaced { object.namespace.as_str() } else { "" };
        if !in_workload && !scope.allows_write(&object.kind, ns, &object.name) {
            return Err(refuse(&object.to_string()));
        }
        let url = format!("{}?fieldManager={FIELD_MANAGER}", object_url(&r, ns, &object.name, subresource));
        let content_type = match patch_type {
            PatchType::Merge => "application/merge-patch+json",
            PatchType::Json => "application/json-patch+json",
        };
        let body = serde_json::to_vec(patch).map_err(|e| BackendError::Other(format!("invalid patch: {e}")))?;
        // Retried as idempotent: merge patches are; the JSON patches scenarios write replace values
        // (scale) or test-and-set. An `add` to the end of an array whose answer was lost would be
        // applied twice, which the outcome would show.
        let client = &conn.clients.writer;
        let (url, body) = (&url, &body);
        conn.clients.warnings.drain();
        answer(
            with_retries(&policy, Idempotence::Idempotent, |_| async move {
                let req = http::Request::patch(url.as_str())
                    .header(http::header::CONTENT_TYPE, content_type)
                    .body(body.clone())
                    .map_err(|e| TransportError::Decode(e.to_string()))?;
                client.request::<Value>(req).await.map_err(transport_error)
            })
            .await,
        )?;
        Ok(conn.clients.warnings.drain())
    }

    async fn delete(&mut self, object: &ObjectRef, propagation: Propagation) -> Result<(), BackendError> {
        let clock = self.clock;
        let policy = self.opts.retry.clone();
        let run = self.run()?;
        run.poll_faults(&clock).await;
        let scope = run.scope.clone();
        let (conn, in_workload) = run.conn_of(object).await?;
        let r = conn.kinds.by_name(&object.kind).await.map_err(BackendError::Other)?;
        let ns = if r.namespaced { object.namespace.as_str() } else { "" };
        if !in_workload && !scope.allows_write(&object.kind, ns, &object.name) {
            return Err(refuse(&object.to_string()));
        }
        let api: Api<DynamicObject> = r.api(&conn.clients.writer, ns);
        let dp = DeleteParams {
            propagation_policy: Some(match propagation {
                Propagation::Background => PropagationPolicy::Background,
                Propagation::Foreground => PropagationPolicy::Foreground,
                Propagation::Orphan => PropagationPolicy::Orphan,
            }),
            ..Default::default()
        };
        let (api, dp, name) = (&api, &dp, object.name.as_str());
        answer(
            with_retries(&policy, Idempotence::Delete, |_| async move { api.delete(name, dp).await.map(|_| ()).map_err(transport_error) })
                .await,
        )?;
        Ok(())
    }

    async fn get(&mut self, object: &ObjectRef) -> Result<Option<Value>, BackendError> {
        let run = self.run()?;
        let scope = run.scope.clone();
        let (conn, in_workload) = run.conn_of(object).await?;
        let r = conn.kinds.by_name(&object.kind).await.map_err(BackendError::Other)?;
        let ns = if r.namespaced { object.namespace.as_str() } else { "" };
        if !in_workload && !scope.allows(&object.kind, ns, &object.name) {
            return Err(refuse(&object.to_string()));
        }
        let api: Api<DynamicObject> = r.api(&conn.clients.reader, ns);
        let o = api.get_opt(&object.name).await.map_err(|e| backend_error(transport_error(e)))?;
        Ok(o.and_then(|o| serde_json::to_value(o).ok()))
    }

    async fn resolve(&mut self, target: &Target) -> Result<Vec<ObjectRef>, BackendError> {
        let run = self.run()?;
        let p = Predicate::Exists(target.clone());
        let snap = run.snapshot(&p, true).await?;
        let found = predicate::select(&snap, target).map_err(BackendError::Other)?;
        Ok(found.into_iter().map(|r| ObjectRef::of(target, r)).collect())
    }

    async fn check(&mut self, p: &Predicate) -> Result<Eval, BackendError> {
        let clock = self.clock;
        let run = self.run()?;
        run.poll_faults(&clock).await;
        let snap = run.snapshot(p, true).await?;
        Ok(predicate::evaluate(p, &snap))
    }

    async fn wait(&mut self, p: &Predicate, timeout_ms: u64) -> Result<WaitResult, BackendError> {
        super::wait::wait(self, p, timeout_ms).await
    }

    fn set_stop(&mut self, stop: capi_scenarios::StopFlag) {
        self.stop = Some(stop);
    }

    fn set_invariants(&mut self, invariants: Vec<(String, Predicate)>) {
        self.invariants = invariants;
    }

    async fn sleep(&mut self, ms: u64) -> Result<(), BackendError> {
        let clock = self.clock;
        let stop = self.stop.clone();
        let run = self.run()?;
        let deadline = tokio::time::Instant::now() + clock.real(ms);
        loop {
            run.poll_faults(&clock).await;
            run.check_invariants(&clock).await;
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Ok(());
            }
            if stop.as_ref().is_some_and(capi_scenarios::StopFlag::is_stopped) {
                return Err(BackendError::Other("the run was stopped".into()));
            }
            tokio::time::sleep((deadline - now).min(Duration::from_secs(1))).await;
        }
    }

    async fn fault(&mut self, spec: &FaultSpec) -> Result<String, BackendError> {
        let clock = self.clock;
        let kind = faults::kind_name(spec.kind);
        if !faults::injectable(spec.kind) {
            return Err(BackendError::Unsupported(format!("`{kind}` is not injectable on a real cluster")));
        }
        let run = self.run()?;
        run.docker()?;
        if let Some(w) = &spec.when {
            run.ensure_watches(w).await?;
            run.faults.pending.push(Pending { spec: spec.clone(), due_ms: None });
            run.poll_faults(&clock).await;
            return Ok(format!("{kind} armed: starts when its trigger first holds"));
        }
        if let Some(after) = spec.after.filter(|a| a.as_ms() > 0) {
            let at = clock.now_ms() + after.as_ms();
            run.faults.pending.push(Pending { spec: spec.clone(), due_ms: Some(at) });
            return Ok(format!("{kind} scheduled at t={}s", at / 1000));
        }
        run.inject(&clock, spec).await
    }

    async fn describe(&mut self, cluster: &ObjectRef) -> Result<String, BackendError> {
        let clusterctl = self.clusterctl();
        let context = self.opts.context.clone();
        let run = self.run()?;
        let m = run.mgmt_index(cluster.management.as_deref())?;
        if !run.scope.allows("Cluster", &cluster.namespace, &cluster.name) {
            return Err(refuse(&cluster.to_string()));
        }
        if let (Some(bin), Some(kc)) = (clusterctl, run.managements[m].kubeconfig.clone()) {
            let mut args: Vec<String> =
                ["describe", "cluster", &cluster.name, "-n", &cluster.namespace, "--show-conditions", "all", "--kubeconfig"]
                    .iter()
                    .map(|s| s.to_string())
                    .collect();
            args.push(kc.display().to_string());
            if let (0, Some(c)) = (m, context) {
                args.push("--kubeconfig-context".into());
                args.push(c);
            }
            if let Ok(out) = run_command(&bin, &args).await {
                return Ok(out);
            }
        }
        let objects = run.describe_objects(m, cluster).await?;
        Ok(super::describe::render(&objects))
    }

    async fn get_kubeconfig(&mut self, cluster: &ObjectRef) -> Result<String, BackendError> {
        let run = self.run()?;
        let m = run.mgmt_index(cluster.management.as_deref())?;
        run.kubeconfig_of(m, &cluster.namespace, &cluster.name).await
    }

    async fn move_objects(&mut self, spec: &MoveSpec) -> Result<String, BackendError> {
        let clusterctl = self.clusterctl();
        let context = self.opts.context.clone();
        let run = self.run()?;
        let from = run.mgmt_index(spec.from.as_deref())?;
        let to = run.mgmt_index(Some(&spec.to))?;
        let (Some(bin), Some(from_kc), Some(to_kc)) =
            (clusterctl, run.managements[from].kubeconfig.clone(), run.managements.get(to).and_then(|m| m.kubeconfig.clone()))
        else {
            return Err(BackendError::Unsupported(
                "`clusterctl move` needs clusterctl on PATH and a kubeconfig for both management clusters (--second-kubeconfig)".into(),
            ));
        };
        if from == to {
            return Err(BackendError::Other("`move` needs two different management clusters".into()));
        }
        let ns = spec.namespace.clone().unwrap_or_else(|| "default".into());
        if !run.scope.namespaces.contains(&ns) {
            return Err(refuse(&format!("namespace {ns}")));
        }
        let mut args: Vec<String> = vec!["move".into(), "--kubeconfig".into(), from_kc.display().to_string()];
        if let (0, Some(c)) = (from, context) {
            args.push("--kubeconfig-context".into());
            args.push(c);
        }
        args.extend(["--to-kubeconfig".into(), to_kc.display().to_string(), "-n".into(), ns.clone()]);
        match spec.async_name() {
            Some(name) => {
                run.background.start(name, async move { run_command(&bin, &args).await })?;
                Ok(format!("clusterctl move of namespace {ns} started in the background as `{name}`"))
            }
            None => run_command(&bin, &args).await,
        }
    }

    async fn docker(&mut self, step: &DockerStep) -> Result<String, BackendError> {
        let run = self.run()?;
        let d = run.docker()?.clone();
        if let Some(r) = &step.run {
            let image = r.image.clone().unwrap_or_else(|| crate::docker::DEFAULT_DECOY_IMAGE.to_string());
            d.run_decoy(&r.name, &image).await.map_err(docker_error)?;
            return Ok(format!("docker run --name {} {image}", r.name));
        }
        let t = step.rm.as_ref().ok_or_else(|| BackendError::Other("`docker` needs `run` or `rm`".into()))?;
        let all = d.list().await.map_err(docker_error)?;
        let names = select_containers(&all, t);
        if names.is_empty() {
            if let Some(n) = &t.name {
                // Say why, when the container exists but is not ours.
                if let Err(e @ crate::docker::DockerError::Refused { .. }) = d.inspect(n).await {
                    return Err(docker_error(e));
                }
            }
            return Err(BackendError::Other("no container matches".into()));
        }
        for n in &names {
            d.remove(n).await.map_err(docker_error)?;
        }
        Ok(format!("docker rm -f {}", names.join(" ")))
    }

    async fn heal_faults(&mut self) -> Result<usize, BackendError> {
        let clock = self.clock;
        let run = self.run()?;
        run.faults.pending.clear();
        let now = clock.now_ms();
        for a in std::mem::take(&mut run.faults.active) {
            run.revert(a, now).await;
        }
        Ok(run.faults.records.len())
    }

    async fn finish(&mut self) -> Result<RunFacts, BackendError> {
        let clock = self.clock;
        let (quiet_ms, max_ms) = (self.opts.settle_quiet_ms, self.opts.settle_max_ms);
        let run = self.run()?;
        // Settle as the simulator does before its outcome is read: look again every `quiet_ms` (backend
        // time) until nothing in the scenario's namespaces changed in between, for at most `max_ms`.
        let settle_start = clock.now_ms();
        let mut listed = run.outcome_objects().await;
        while quiet_ms > 0 && clock.now_ms() < settle_start + max_ms {
            tokio::time::sleep(clock.real(quiet_ms)).await;
            let again = run.outcome_objects().await;
            let settled = fingerprint(&again) == fingerprint(&listed);
            listed = again;
            if settled {
                break;
            }
        }
        run.check_invariants(&clock).await;
        let mut violations = std::mem::take(&mut run.invariant_violations);
        violations.sort();
        let events: Vec<EventSummary> = listed.iter().filter_map(|(m, v)| EventSummary::from_value(m, v)).collect();
        let mut objects: Vec<ObjectSummary> = listed
            .iter()
            .filter(|(_, v)| v.get("kind").and_then(Value::as_str) != Some("Event"))
            .map(|(m, v)| ObjectSummary::from_value(m, v))
            .collect();
        objects.sort();
        let containers = match &run.docker {
            Some(d) => d.list().await.map_err(docker_error)?,
            None => Vec::new(),
        };
        Ok(RunFacts {
            trace_hash: None,
            sim_time_ms: clock.now_ms(),
            reconciles: 0,
            events: 0,
            violations,
            faults: run.faults.records.clone(),
            outcome: Outcome::new(objects, containers, events),
            timeline: None,
        })
    }
}

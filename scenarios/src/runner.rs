//! Drives a [`Backend`] through a scenario's steps and records what happened. Never panics on user
//! input: every failure becomes a failed step with a message, and the report is always produced.

use crate::backend::{ApplyAction, ApplyTarget, Backend, BackendError, ObjectRef};
use crate::model::{ApplyStep, ClusterctlStep, PatchStep, PatchType, Scenario, Step};
use crate::predicate::Predicate;
use crate::report::{RunReport, StepReport, StepStatus};
use crate::target::{Pick, Target};
use serde_json::{json, Value};

/// Default `wait` timeout.
pub const DEFAULT_WAIT_MS: u64 = 10 * 60 * 1000;

/// Default bound of the liveness phase: after the last fault, the run converges within this.
pub const DEFAULT_CONVERGE_MS: u64 = 30 * 60 * 1000;

/// Options of one run.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Seed (the scenario's when `None`).
    pub seed: Option<u64>,
    /// Run `clusterctl describe` for every Cluster at the end and keep the output.
    pub describe: bool,
    /// Swarm mode: faults may legitimately make steps time out, so a failed step does not stop the
    /// run and does not fail it; what fails a run is an invariant violation, including the liveness
    /// phase not converging.
    pub swarm: bool,
    /// Run the liveness phase at the end (always on in swarm mode).
    pub liveness: bool,
    /// Called with each step's report as soon as the step ends (progress bars, benchmarks).
    pub on_step: Option<StepHook>,
    /// Stop early when raised (a signal, a wall-time limit): the steps done so far are kept, the
    /// rest are reported as not run, and the report is marked interrupted.
    pub stop: Option<crate::StopSignal>,
}

/// A callback for finished steps.
#[derive(Clone)]
pub struct StepHook(pub std::sync::Arc<dyn Fn(&StepReport) + Send + Sync>);

impl std::fmt::Debug for StepHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StepHook")
    }
}

/// The scenario's convergence goal: its `converged:` predicate when it has one, else the predicates of its
/// last `wait` and the `expect` steps after it (sleeps between them are skipped). `None` when the scenario
/// does not end with a wait or an expect.
pub fn convergence_goal(scenario: &Scenario) -> Option<Predicate> {
    if let Some(goal) = &scenario.converged {
        return Some(goal.clone());
    }
    // The end state a scenario asserts is its last `wait` and the `expect`s after it: earlier waits and
    // expects may describe transient states (e.g. "TopologyReconciled is False while upgrading").
    let mut preds = Vec::new();
    for e in scenario.steps.iter().rev() {
        match &e.step {
            Step::Wait(w) => {
                preds.push(w.until.clone());
                break;
            }
            Step::Expect(x) => {
                preds.extend(x.0.iter().rev().filter(|p| !matches!(p, Predicate::Denied(_) | Predicate::Warned(_))).cloned())
            }
            Step::Sleep(_) => {}
            _ => break,
        }
    }
    if preds.is_empty() {
        return None;
    }
    preds.reverse();
    Some(Predicate::All(preds))
}

/// Run a scenario to the end (or to its first failed step) and report.
pub async fn run<B: Backend>(backend: &mut B, scenario: &Scenario, opts: &RunOptions) -> RunReport {
    let seed = opts.seed.unwrap_or(scenario.seed);
    let mut report = RunReport {
        scenario: scenario.name.clone(),
        file: scenario.path.display().to_string(),
        backend: backend.name().to_string(),
        seed,
        ..RunReport::default()
    };
    let stopped = || opts.stop.as_ref().and_then(crate::StopSignal::reason);
    if let Some(stop) = &opts.stop {
        backend.set_stop(stop.flag());
    }
    let invariants: Vec<(String, Predicate)> =
        scenario.invariants.iter().enumerate().map(|(i, inv)| (inv.label(i), inv.predicate.clone())).collect();
    backend.set_invariants(invariants);
    if let Err(e) = backend.prepare(scenario, seed).await {
        report.error = Some(format!("cannot prepare the backend: {e}"));
        report.interrupted = stopped();
        return report;
    }
    let mut failed = false;
    // `check` steps that failed: the run goes on and fails at its end.
    let mut soft_failed = false;
    for (index, entry) in scenario.steps.iter().enumerate() {
        let kind = entry.step.keyword().to_string();
        let not_run = match stopped() {
            Some(why) => Some(format!("not run: {why}")),
            None if failed => Some("skipped: an earlier step failed".to_string()),
            None => None,
        };
        if let Some(message) = not_run {
            report.steps.push(StepReport {
                index,
                line: entry.line,
                kind,
                passed: false,
                status: StepStatus::Skipped,
                at_ms: backend.now_ms(),
                took_ms: 0,
                message,
            });
            continue;
        }
        let at_ms = backend.now_ms();
        let result = run_step(backend, &entry.step).await;
        let took_ms = backend.now_ms().saturating_sub(at_ms);
        let (passed, message) = match result {
            Ok(msg) => (true, msg),
            Err(msg) => (false, msg),
        };
        // A step that did not get to its end because the run was stopped did not fail on its own.
        let (status, message) = match (passed, stopped()) {
            (true, _) => (StepStatus::Passed, message),
            (false, Some(why)) => (StepStatus::Interrupted, format!("interrupted ({why}): {message}")),
            (false, None) => (StepStatus::Failed, message),
        };
        if matches!(entry.step, Step::Check(_)) {
            soft_failed |= !passed;
        } else {
            failed |= !passed && !opts.swarm;
        }
        report.steps.push(StepReport {
            index,
            line: entry.line,
            kind,
            passed,
            status,
            at_ms,
            took_ms,
            message: crate::redact::text(&message).into_owned(),
        });
        if let (Some(hook), Some(step)) = (&opts.on_step, report.steps.last()) {
            (hook.0)(step);
        }
    }
    report.interrupted = stopped();
    let mut liveness_violation = None;
    if (opts.swarm || opts.liveness) && report.interrupted.is_none() {
        match backend.heal_faults().await {
            Ok(_) => {
                if let Some(goal) = convergence_goal(scenario) {
                    let bound = scenario.converge_within.map_or(DEFAULT_CONVERGE_MS, |d| d.as_ms());
                    match backend.wait(&goal, bound).await {
                        Ok(r) if r.eval.holds => {}
                        // Stopped from outside: the phase did not get its time, nothing was shown.
                        Ok(_) if stopped().is_some() => {}
                        Ok(r) => {
                            liveness_violation = Some(crate::report::Violation {
                                invariant: "liveness/no-convergence".into(),
                                message: format!(
                                    "no convergence within {} after the faults healed; still pending: {}",
                                    crate::DurationMs(bound),
                                    r.eval.detail
                                ),
                                event_index: 0,
                                at_ms: backend.now_ms(),
                            })
                        }
                        Err(e) => report.error = Some(format!("liveness phase: {e}")),
                    }
                }
            }
            Err(e) => report.error = Some(format!("cannot heal faults: {e}")),
        }
    }
    match backend.finish().await {
        Ok(facts) => {
            report.trace_hash = facts.trace_hash;
            report.sim_time_ms = facts.sim_time_ms;
            report.reconciles = facts.reconciles;
            report.events = facts.events;
            report.violations = facts.violations;
            report.violations.extend(liveness_violation);
            report.faults = facts.faults;
            report.schema = facts.outcome.schema;
            report.objects = facts.outcome.objects;
            report.containers = facts.outcome.containers;
            report.recorded_events = facts.outcome.events;
            report.timeline = facts.timeline.map(|mut t| {
                for s in &report.steps {
                    if s.status != StepStatus::Skipped {
                        t.marks.push(crate::report::TimelineMark {
                            at_ms: s.at_ms,
                            kind: "step".into(),
                            label: format!("#{} {}", s.index, s.kind),
                        });
                    }
                }
                for v in &report.violations {
                    t.marks.push(crate::report::TimelineMark { at_ms: v.at_ms, kind: "violation".into(), label: v.invariant.clone() });
                }
                t.marks.sort_by_key(|m| m.at_ms);
                t
            });
        }
        Err(e) => report.error = Some(format!("cannot finish the run: {e}")),
    }
    // Described once the backend has settled (`finish`), as a person would run `clusterctl describe`
    // after the run: the Cluster's counters are copied from its control plane and workers by the
    // Cluster controller, so a tree taken at the instant the last step ended can show them a
    // reconcile apart.
    if opts.describe && report.interrupted.is_none() {
        if let Ok(clusters) = backend.resolve(&Target { kind: "Cluster".into(), ..Default::default() }).await {
            let mut out = String::new();
            for c in clusters {
                match backend.describe(&c).await {
                    Ok(tree) => out.push_str(&tree),
                    Err(e) => out.push_str(&format!("{c}: {e}\n")),
                }
            }
            report.describe = Some(out);
        }
    }
    // Whatever a backend said outside the steps goes through the same redaction as step messages.
    report.error = report.error.map(|e| crate::redact::text(&e).into_owned());
    report.describe = report.describe.map(|d| crate::redact::text(&d).into_owned());
    for v in &mut report.violations {
        if let std::borrow::Cow::Owned(m) = crate::redact::text(&v.message) {
            v.message = m;
        }
    }
    // A stop that came after the last step (during the liveness phase or the final read) counts too.
    report.interrupted = report.interrupted.take().or_else(stopped);
    report.passed = !failed && !soft_failed && report.violations.is_empty() && report.error.is_none() && report.interrupted.is_none();
    report
}

/// Run one step; `Ok` carries the success message, `Err` the failure message.
async fn run_step<B: Backend>(backend: &mut B, step: &Step) -> Result<String, String> {
    match step {
        Step::Apply(a) => apply(backend, a).await.map_err(|e| e.to_string()),
        Step::Patch(p) => patch(backend, p).await.map_err(|e| e.to_string()),
        Step::Delete(d) => {
            let objects = resolve_for_action(backend, &d.target).await?;
            for o in &objects {
                backend.delete(o, d.propagation).await.map_err(|e| format!("delete {o}: {e}"))?;
            }
            Ok(format!("deleted {}", names(&objects)))
        }
        Step::Scale(s) => {
            let objects = resolve_for_action(backend, &s.target).await?;
            let o = single(&objects, &s.target)?;
            let (ptype, doc) = if o.kind == "Cluster" {
                let cluster = backend.get(o).await.map_err(|e| e.to_string())?.ok_or_else(|| format!("{o} not found"))?;
                scale_topology_patch(&cluster, s.machine_deployment.as_deref(), s.machine_pool.as_deref(), s.replicas)?
            } else {
                (PatchType::Merge, json!({"spec": {"replicas": s.replicas}}))
            };
            backend.patch(o, ptype, &doc, None).await.map_err(|e| format!("scale {o}: {e}"))?;
            Ok(format!("scaled {o} to {}", s.replicas))
        }
        Step::Wait(w) => {
            let timeout = w.timeout.map_or(DEFAULT_WAIT_MS, |d| d.as_ms());
            let r = backend.wait(&w.until, timeout).await.map_err(|e| e.to_string())?;
            if r.eval.holds {
                Ok(format!("met after {}: {}", crate::DurationMs(r.elapsed_ms), r.eval.detail))
            } else {
                Err(format!("timed out after {}: {}", crate::DurationMs(timeout), r.eval.detail))
            }
        }
        Step::Expect(e) => {
            let mut messages = Vec::new();
            for p in &e.0 {
                messages.push(expect_one(backend, p).await?);
            }
            Ok(messages.join("; "))
        }
        Step::Check(e) => {
            // Every predicate is checked; the step fails with all that failed, each on its own line.
            let (mut ok, mut bad) = (Vec::new(), Vec::new());
            for (i, p) in e.0.iter().enumerate() {
                match expect_one(backend, p).await {
                    Ok(m) => ok.push(m),
                    Err(m) => bad.push(format!("check {} of {}: {m}", i + 1, e.0.len())),
                }
            }
            if bad.is_empty() {
                Ok(ok.join("; "))
            } else {
                Err(bad.join("\n"))
            }
        }
        Step::Never(n) => {
            let r = backend.wait(&n.predicate, n.within.as_ms()).await.map_err(|e| e.to_string())?;
            if r.eval.holds {
                Err(format!("held after {} (within {}): {}", crate::DurationMs(r.elapsed_ms), n.within, r.eval.detail))
            } else {
                Ok(format!("did not hold within {}", n.within))
            }
        }
        Step::Sleep(d) => {
            backend.sleep(d.as_ms()).await.map_err(|e| e.to_string())?;
            Ok(format!("slept {d}"))
        }
        Step::Fault(f) => backend.fault(f).await.map_err(|e| e.to_string()),
        Step::Clusterctl(c) => match c {
            ClusterctlStep::Describe(t) => {
                let objects = resolve_for_action(backend, t).await?;
                let o = single(&objects, t)?;
                backend.describe(o).await.map_err(|e| e.to_string())
            }
            ClusterctlStep::GetKubeconfig(t) => {
                let objects = resolve_for_action(backend, t).await?;
                let o = single(&objects, t)?;
                backend.get_kubeconfig(o).await.map_err(|e| e.to_string())
            }
            ClusterctlStep::Move(m) => backend.move_objects(m).await.map_err(|e| e.to_string()),
        },
        Step::Docker(d) => {
            if d.run.is_some() == d.rm.is_some() {
                return Err("`docker` needs exactly one of `run` or `rm`".into());
            }
            backend.docker(d).await.map_err(|e| e.to_string())
        }
    }
}

async fn expect_one<B: Backend>(backend: &mut B, p: &Predicate) -> Result<String, String> {
    match p {
        Predicate::Denied(w) => {
            let r = write(backend, w).await;
            match r {
                Err(e) if e.is_denial() && e.message().contains(&w.message) => Ok(format!("denied as expected: {}", e.message())),
                Err(e) if e.is_denial() => Err(format!("denied, but the message does not contain `{}`: {}", w.message, e.message())),
                Err(e) => Err(format!("expected a denial, got another error: {e}")),
                Ok(_) => Err(format!("expected a denial containing `{}`, but the write was accepted", w.message)),
            }
        }
        Predicate::Warned(w) => match write(backend, w).await {
            Ok(warnings) if warnings.iter().any(|x| x.contains(&w.message)) => {
                Ok(format!("accepted with warning: {}", warnings.join(" | ")))
            }
            Ok(warnings) => Err(format!("accepted, but no warning contains `{}` (warnings: {:?})", w.message, warnings)),
            Err(e) => Err(format!("expected acceptance with a warning, got: {e}")),
        },
        other => {
            let e = backend.check(other).await.map_err(|e| e.to_string())?;
            if e.holds {
                Ok(e.detail)
            } else {
                Err(e.detail)
            }
        }
    }
}

/// Perform the write of a `denied`/`warned` expectation; returns the admission warnings.
async fn write<B: Backend>(backend: &mut B, w: &crate::model::WriteExpectation) -> Result<Vec<String>, BackendError> {
    if let Some(a) = &w.apply {
        let applied = backend.apply(&a.objects, &apply_target(a)).await?;
        return Ok(applied.into_iter().flat_map(|x| x.warnings).collect());
    }
    if let Some(p) = &w.patch {
        let objects = backend.resolve(&p.target).await?;
        let o = objects.first().ok_or_else(|| BackendError::not_found(&p.target))?;
        return backend.patch(o, p.patch_type, &p.patch, p.subresource.as_deref()).await;
    }
    if let Some(d) = &w.delete {
        let objects = backend.resolve(&d.target).await?;
        let o = objects.first().ok_or_else(|| BackendError::not_found(&d.target))?;
        backend.delete(o, d.propagation).await?;
        return Ok(vec![]);
    }
    Err(BackendError::Other("nothing to write".into()))
}

fn apply_target(a: &ApplyStep) -> ApplyTarget {
    match &a.workload {
        Some(w) => ApplyTarget::Workload(w.clone()),
        None => ApplyTarget::Management(a.management.clone()),
    }
}

async fn apply<B: Backend>(backend: &mut B, a: &ApplyStep) -> Result<String, BackendError> {
    let applied = backend.apply(&a.objects, &apply_target(a)).await?;
    let count = |x: ApplyAction| applied.iter().filter(|a| a.action == x).count();
    let mut msg = format!(
        "{} created, {} configured, {} unchanged",
        count(ApplyAction::Created),
        count(ApplyAction::Configured),
        count(ApplyAction::Unchanged)
    );
    let warnings: Vec<String> =
        applied.iter().flat_map(|a| a.warnings.iter().map(move |w| format!("{}/{}: {w}", a.kind, a.name))).collect();
    if !warnings.is_empty() {
        msg.push_str(&format!("; warnings: {}", warnings.join(" | ")));
    }
    Ok(msg)
}

async fn patch<B: Backend>(backend: &mut B, p: &PatchStep) -> Result<String, String> {
    let objects = resolve_for_action(backend, &p.target).await?;
    let mut warnings = Vec::new();
    for o in &objects {
        warnings.extend(backend.patch(o, p.patch_type, &p.patch, p.subresource.as_deref()).await.map_err(|e| format!("patch {o}: {e}"))?);
    }
    let mut msg = format!("patched {}", names(&objects));
    if !warnings.is_empty() {
        msg.push_str(&format!("; warnings: {}", warnings.join(" | ")));
    }
    Ok(msg)
}

/// Resolve a target for an action: a named target must exist; a selection must match exactly one
/// object unless `pick` says which.
async fn resolve_for_action<B: Backend>(backend: &mut B, t: &Target) -> Result<Vec<ObjectRef>, String> {
    let found = backend.resolve(t).await.map_err(|e| e.to_string())?;
    if found.is_empty() {
        return Err(format!("{t}: not found"));
    }
    match t.pick {
        Some(Pick::All) => Ok(found),
        // The backend's selection already narrowed to the picked object (see `predicate::select`).
        Some(Pick::First | Pick::Oldest) => Ok(found.into_iter().take(1).collect()),
        Some(Pick::Last | Pick::Newest) => Ok(found.into_iter().last().into_iter().collect()),
        None if found.len() == 1 => Ok(found),
        None => Err(format!("{t} matches {} objects ({}); add `pick: first|last|oldest|newest|all`", found.len(), names(&found))),
    }
}

fn single<'a>(objects: &'a [ObjectRef], t: &Target) -> Result<&'a ObjectRef, String> {
    match objects {
        [one] => Ok(one),
        _ => Err(format!("{t} must name exactly one object")),
    }
}

fn names(objects: &[ObjectRef]) -> String {
    let mut s: Vec<String> = objects.iter().take(6).map(ToString::to_string).collect();
    if objects.len() > 6 {
        s.push(format!("and {} more", objects.len() - 6));
    }
    s.join(", ")
}

/// The patch that scales a topology Cluster's control plane, machine deployment or machine pool.
pub fn scale_topology_patch(cluster: &Value, md: Option<&str>, mp: Option<&str>, replicas: u32) -> Result<(PatchType, Value), String> {
    let (list, name) = match (md, mp) {
        (Some(n), _) => ("machineDeployments", n),
        (None, Some(n)) => ("machinePools", n),
        (None, None) => return Ok((PatchType::Merge, json!({"spec": {"topology": {"controlPlane": {"replicas": replicas}}}}))),
    };
    let items = cluster
        .pointer(&format!("/spec/topology/workers/{list}"))
        .and_then(Value::as_array)
        .ok_or_else(|| format!("the Cluster has no spec.topology.workers.{list}"))?;
    let index = items
        .iter()
        .position(|i| i.get("name").and_then(Value::as_str) == Some(name))
        .ok_or_else(|| format!("the Cluster's topology has no {list} entry named `{name}`"))?;
    Ok((PatchType::Json, json!([{"op": "replace", "path": format!("/spec/topology/workers/{list}/{index}/replicas"), "value": replicas}])))
}

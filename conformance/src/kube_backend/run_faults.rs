//! The faults of a run on a real Docker host over time: arming `when:` faults, starting those that
//! are due (all targets at once), and healing them (unpause, start) when their duration ends.
//! Restates the simulator's fault schedule (`capi_sim::faults`) for containers.

use super::faults::{self, Active, Undo};
use super::{docker_error, Clock, Run};
use capi_scenarios::backend::BackendError;
use capi_scenarios::model::{FaultKind, FaultSpec};
use capi_scenarios::predicate::{self, ContainerInfo, Predicate, KIND_CLUSTER_LABEL};
use capi_scenarios::report::FaultRecord;

impl Run {
    /// Start, arm and heal faults whose time has come.
    pub(super) async fn poll_faults(&mut self, clock: &Clock) {
        let now = clock.now_ms();
        let armed: Vec<(usize, Predicate, u64)> = self
            .faults
            .pending
            .iter()
            .enumerate()
            .filter(|(_, p)| p.due_ms.is_none())
            .filter_map(|(i, p)| Some((i, p.spec.when.clone()?, p.spec.after.map_or(0, |d| d.as_ms()))))
            .collect();
        for (i, when, after) in armed {
            if let Ok(s) = self.snapshot(&when, false).await {
                if predicate::evaluate(&when, &s).holds {
                    self.faults.pending[i].due_ms = Some(now + after);
                }
            }
        }
        for spec in self.faults.take_due(now) {
            // A failure is recorded in the fault's record; a background start has no step to fail.
            let _ = self.inject(clock, &spec).await;
        }
        for a in self.faults.take_healable(now) {
            self.revert(a, now).await;
        }
    }

    /// Inject a fault now.
    pub(super) async fn inject(&mut self, clock: &Clock, spec: &FaultSpec) -> Result<String, BackendError> {
        let d = self.docker()?.clone();
        let now = clock.now_ms();
        let nodes: Vec<ContainerInfo> =
            d.list().await.map_err(docker_error)?.into_iter().filter(|c| c.labels.contains_key(KIND_CLUSTER_LABEL)).collect();
        let names = faults::targets(&nodes, &spec.target, spec.kind == FaultKind::LbKill);
        if !faults::injectable(spec.kind) {
            return Err(BackendError::Unsupported(format!("`{}` is not injectable on a real cluster", faults::kind_name(spec.kind))));
        }
        // All targets at once, as one fault hits them in the simulator: one after the other, the last
        // would die a few hundred milliseconds later (whole simulated seconds against a fast server).
        let results = futures::future::join_all(names.iter().map(|n| {
            let d = &d;
            async move {
                match spec.kind {
                    FaultKind::ContainerPause => d.pause(n).await.map(|()| Some(Undo::Unpause(n.clone()))),
                    FaultKind::LbKill => d.kill(n, "SIGKILL").await.map(|()| spec.duration.is_some().then(|| Undo::Start(n.clone()))),
                    _ => d.kill(n, "SIGKILL").await.map(|()| None),
                }
            }
        }))
        .await;
        let mut undo = Vec::new();
        let mut errors = Vec::new();
        for r in results {
            match r {
                Ok(u) => undo.extend(u),
                Err(e) => errors.push(e.to_string()),
            }
        }
        let kind = faults::kind_name(spec.kind);
        let target = if names.is_empty() { "nothing (no container matched)".to_string() } else { names.join(", ") };
        let record = self.faults.records.len();
        self.faults.records.push(FaultRecord {
            kind: kind.clone(),
            target: if errors.is_empty() { target.clone() } else { format!("{target} (failed: {})", errors.join("; ")) },
            at_ms: now,
            healed_at_ms: None,
            spec: Some(spec.clone()),
        });
        if !undo.is_empty() {
            self.faults.active.push(Active { record, undo, heal_at_ms: spec.duration.map(|d| now + d.as_ms()) });
        }
        if !errors.is_empty() {
            return Err(BackendError::Other(format!("{kind} on {target}: {}", errors.join("; "))));
        }
        Ok(format!("{kind} injected on {target}"))
    }

    pub(super) async fn revert(&mut self, a: Active, now: u64) {
        if let Some(d) = self.docker.clone() {
            for u in a.undo {
                let _ = match u {
                    Undo::Unpause(n) => d.unpause(&n).await,
                    Undo::Start(n) => d.start(&n).await,
                };
            }
        }
        if let Some(r) = self.faults.records.get_mut(a.record) {
            r.healed_at_ms = Some(now);
        }
    }
}

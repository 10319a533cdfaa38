//! The runner against a scripted backend: step results, skipping after a failure, denials, scale
//! patches, the liveness goal.

use capi_scenarios::backend::*;
use capi_scenarios::manifest::ManifestObject;
use capi_scenarios::model::{FaultSpec, MoveSpec, PatchType, Propagation, Scenario};
use capi_scenarios::predicate::{Eval, Predicate};
use capi_scenarios::report::StepStatus;
use capi_scenarios::runner::{self, RunOptions};
use capi_scenarios::{LoadOptions, Target};
use serde_json::{json, Value};
use std::path::Path;

/// A backend whose answers are scripted: applies are denied when a name contains "deny", waits hold
/// when the predicate mentions "ready".
#[derive(Default)]
struct Scripted {
    now: u64,
    patches: Vec<(String, Value)>,
}

impl Backend for Scripted {
    fn name(&self) -> &str {
        "scripted"
    }
    fn now_ms(&self) -> u64 {
        self.now
    }
    async fn prepare(&mut self, _s: &Scenario, _seed: u64) -> Result<(), BackendError> {
        Ok(())
    }
    async fn apply(&mut self, objects: &[ManifestObject], _t: &ApplyTarget) -> Result<Vec<Applied>, BackendError> {
        if objects.iter().any(|o| o.name().contains("deny")) {
            return Err(BackendError::Api {
                code: 422,
                reason: "Invalid".into(),
                message: "admission webhook \"v\" denied the request: no".into(),
            });
        }
        Ok(objects
            .iter()
            .map(|o| Applied { kind: o.kind().into(), name: o.name().into(), action: ApplyAction::Created, warnings: vec![] })
            .collect())
    }
    async fn patch(&mut self, o: &ObjectRef, _t: PatchType, p: &Value, _s: Option<&str>) -> Result<Vec<String>, BackendError> {
        self.patches.push((o.to_string(), p.clone()));
        Ok(vec![])
    }
    async fn delete(&mut self, _o: &ObjectRef, _p: Propagation) -> Result<(), BackendError> {
        Ok(())
    }
    async fn get(&mut self, _o: &ObjectRef) -> Result<Option<Value>, BackendError> {
        Ok(Some(json!({"spec": {"topology": {"workers": {"machineDeployments": [{"name": "md-0"}, {"name": "md-1"}]}}}})))
    }
    async fn resolve(&mut self, t: &Target) -> Result<Vec<ObjectRef>, BackendError> {
        Ok(vec![ObjectRef {
            kind: t.kind.clone(),
            namespace: "default".into(),
            name: t.name.clone().unwrap_or_else(|| "x".into()),
            management: None,
            workload: None,
        }])
    }
    async fn check(&mut self, p: &Predicate) -> Result<Eval, BackendError> {
        let holds = format!("{p:?}").contains("ready");
        Ok(Eval { holds, detail: if holds { "ok".into() } else { "not ready".into() } })
    }
    async fn wait(&mut self, p: &Predicate, timeout_ms: u64) -> Result<WaitResult, BackendError> {
        let eval = self.check(p).await?;
        self.now += if eval.holds { 1000 } else { timeout_ms };
        Ok(WaitResult { eval, elapsed_ms: 1000 })
    }
    async fn sleep(&mut self, ms: u64) -> Result<(), BackendError> {
        self.now += ms;
        Ok(())
    }
    async fn fault(&mut self, _f: &FaultSpec) -> Result<String, BackendError> {
        Err(BackendError::Unsupported("faults".into()))
    }
    async fn describe(&mut self, _o: &ObjectRef) -> Result<String, BackendError> {
        Ok(String::new())
    }
    async fn get_kubeconfig(&mut self, _o: &ObjectRef) -> Result<String, BackendError> {
        Ok(String::new())
    }
    async fn move_objects(&mut self, _m: &MoveSpec) -> Result<String, BackendError> {
        Ok(String::new())
    }
    async fn docker(&mut self, _d: &capi_scenarios::model::DockerStep) -> Result<String, BackendError> {
        Ok(String::new())
    }
    async fn heal_faults(&mut self) -> Result<usize, BackendError> {
        Ok(0)
    }
    async fn finish(&mut self) -> Result<RunFacts, BackendError> {
        Ok(RunFacts { sim_time_ms: self.now, ..Default::default() })
    }
}

fn scenario(text: &str) -> Scenario {
    capi_scenarios::parse::load_text(text, &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/data/s.yaml"), &LoadOptions::default())
        .unwrap()
}

#[test]
fn a_failed_step_skips_the_rest_and_fails_the_run() {
    let s = scenario("name: x\nsteps:\n  - wait: { for: { exists: Cluster/ready } }\n  - wait: { for: { exists: Cluster/never }, timeout: 1m }\n  - sleep: 1s\n");
    let mut b = Scripted::default();
    let r = pollster::block_on(runner::run(&mut b, &s, &RunOptions::default()));
    assert!(!r.passed);
    assert_eq!(r.steps.iter().map(|s| s.status).collect::<Vec<_>>(), vec![StepStatus::Passed, StepStatus::Failed, StepStatus::Skipped]);
    assert_eq!(r.steps[1].line, 4);
    assert!(r.steps[1].message.starts_with("timed out after 1m"), "{}", r.steps[1].message);
}

#[test]
fn denied_expectations_match_the_message() {
    let s = scenario(
        "name: x\nsteps:\n  - expect:\n      denied:\n        apply: { manifest: \"apiVersion: v1\\nkind: ConfigMap\\nmetadata: {name: deny-me}\\n\" }\n        message: denied the request\n  - expect:\n      denied:\n        apply: { manifest: \"apiVersion: v1\\nkind: ConfigMap\\nmetadata: {name: fine}\\n\" }\n        message: denied\n",
    );
    let mut b = Scripted::default();
    let r = pollster::block_on(runner::run(&mut b, &s, &RunOptions::default()));
    assert_eq!(r.steps[0].status, StepStatus::Passed, "{}", r.steps[0].message);
    assert_eq!(r.steps[1].status, StepStatus::Failed);
    assert!(r.steps[1].message.contains("was accepted"));
}

#[test]
fn scaling_a_topology_cluster_patches_the_right_machine_deployment() {
    let s = scenario("name: x\nsteps:\n  - scale: { target: Cluster/c, machine-deployment: md-1, replicas: 7 }\n  - scale: { target: Cluster/c, replicas: 5 }\n");
    let mut b = Scripted::default();
    let r = pollster::block_on(runner::run(&mut b, &s, &RunOptions::default()));
    assert!(r.passed, "{:?}", r.steps);
    assert_eq!(b.patches[0].1, json!([{"op": "replace", "path": "/spec/topology/workers/machineDeployments/1/replicas", "value": 7}]));
    assert_eq!(b.patches[1].1, json!({"spec": {"topology": {"controlPlane": {"replicas": 5}}}}));
}

#[test]
fn the_convergence_goal_is_the_last_wait_and_the_expects_after_it() {
    let s = scenario("name: x\nsteps:\n  - wait: { for: { exists: Cluster/a } }\n  - delete: { target: Cluster/a }\n  - wait: { for: { gone: Cluster/z } }\n  - expect: [ { exists: Cluster/y } ]\n  - wait: { for: { exists: Cluster/b } }\n  - sleep: 1s\n  - expect: [ { exists: Cluster/c }, { gone: Cluster/d } ]\n");
    let Some(Predicate::All(goal)) = runner::convergence_goal(&s) else { panic!("a goal") };
    let shown: Vec<String> = goal.iter().map(|p| serde_json::to_string(p).unwrap()).collect();
    assert_eq!(shown.len(), 3, "{shown:?}");
    assert!(shown[0].contains(r#""name":"b""#) && shown[1].contains(r#""name":"c""#) && shown[2].contains(r#""gone""#), "{shown:?}");
}

#[test]
fn an_explicit_converged_predicate_is_the_goal() {
    let s = scenario("name: x\nconverged: { exists: Cluster/goal }\nsteps:\n  - wait: { for: { exists: Cluster/b } }\n");
    let goal = runner::convergence_goal(&s).expect("a goal");
    assert!(serde_json::to_string(&goal).unwrap().contains(r#""name":"goal""#));
}

#[test]
fn a_scenario_without_trailing_checks_has_no_goal() {
    let s = scenario("name: x\nsteps:\n  - wait: { for: { exists: Cluster/b } }\n  - delete: { target: Cluster/b }\n");
    assert!(runner::convergence_goal(&s).is_none());
}

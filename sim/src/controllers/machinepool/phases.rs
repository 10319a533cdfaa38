//! The MachinePool's reconcile phases that follow its references: the bootstrap config and the infra
//! machine pool (each made controlled by the pool, with the v1beta1 `BootstrapReady` and
//! `InfrastructureReady` mirrors), the workload cluster's Nodes by providerID, and a Machine for each
//! infra machine when the provider reports `status.infrastructureMachineKind`.
//! Source: `core/reconcilers/machinepool/machinepool_controller_phases.go` (`reconcileExternal`,
//! `reconcileBootstrap`, `reconcileInfrastructure`, `getNodeRefMap`, `reconcileMachines`,
//! `createOrUpdateMachines`, `computeDesiredMachine`).

use super::scope::{NodeInfo, Scope};
use crate::capd::naming::label_value;
use crate::capd::patch;
use crate::capd::v1beta1;
use crate::controllers::common::{self, keys, ref_key};
use crate::controllers::conditions::Status;
use crate::kinds::Kind;
use crate::object::{Object, OwnerRef};
use crate::runtime::{Action, Ctx, ReconcileError, ReconcileResult};
use crate::world::workload::Status as NodeStatus;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

/// `reconcileExternal`: the referenced object, made controlled by the pool and labelled.
fn reconcile_external(ctx: &mut Ctx<'_>, mp: &Object, r: &Value) -> Result<Arc<Object>, ReconcileError> {
    let kind = r.get("kind").and_then(Value::as_str).unwrap_or("");
    let name = r.get("name").and_then(Value::as_str).unwrap_or("");
    let missing = || {
        ReconcileError(format!(
            "could not find {kind} {}/{name} for MachinePool {}/{}, requeuing: {} \"{name}\" not found",
            mp.namespace(),
            mp.namespace(),
            mp.name(),
            Kind::from_name(kind).map_or(kind.to_lowercase(), crate::store::error::resource_name)
        ))
    };
    let key = ref_key(r, mp.namespace()).ok_or_else(missing)?;
    let obj = ctx.get(&key).cloned().ok_or_else(missing)?;
    if let Some(c) = obj.controller_ref().filter(|c| c.uid != mp.meta.uid) {
        return Err(ReconcileError(format!(
            "Object {}/{} is already owned by another {} controller {}",
            obj.namespace(),
            obj.name(),
            c.kind,
            c.name
        )));
    }
    let cname = mp.str_at("/spec/clusterName").unwrap_or("").to_string();
    let mut probe = (*obj).clone();
    let changed = common::set_owner(&mut probe, mp, true);
    if changed || obj.label(keys::CLUSTER_NAME) != Some(cname.as_str()) {
        let owner = mp.clone();
        ctx.patch(&key, |o| {
            common::set_owner(o, &owner, true);
            o.meta.labels.insert(keys::CLUSTER_NAME.into(), cname);
        })?;
    }
    Ok(obj)
}

/// `SetMirror` of a v1beta1 `Ready` condition with the contract fallback.
fn mirror(to: &mut Object, target: &str, from: &Object, fallback: bool, fallback_reason: &str, now: u64) {
    let src = v1beta1::list(from).into_iter().find(|c| c.get("type").and_then(Value::as_str) == Some("Ready"));
    match src {
        Some(c) => {
            let s = |k: &str| c.get(k).and_then(Value::as_str).unwrap_or("").to_string();
            let sev: v1beta1::Severity = match s("severity").as_str() {
                "Error" => "Error",
                "Warning" => "Warning",
                "Info" => "Info",
                _ => "",
            };
            v1beta1::set(to, target, Status::parse(&s("status")), &s("reason"), sev, &s("message"), now);
        }
        None if fallback => v1beta1::mark_true(to, target, now),
        None => v1beta1::mark_false(to, target, fallback_reason, "Info", "", now),
    }
}

pub(super) fn reconcile_bootstrap(ctx: &mut Ctx<'_>, mp: &mut Object) -> ReconcileResult {
    let now = ctx.now;
    if let Some(r) = mp.at("/spec/template/spec/bootstrap/configRef").filter(|r| r.get("name").is_some()).cloned() {
        let config = reconcile_external(ctx, mp, &r)?;
        if config.deleting() {
            return Ok(Action::DONE);
        }
        let created = config.bool_at("/status/initialization/dataSecretCreated");
        mirror(mp, "BootstrapReady", &config, created, "WaitingForDataSecret", now);
        if !created {
            ctx.note(format!("Waiting for bootstrap provider to generate data secret and report status.ready {}", config.name()));
            mp.set("/status/initialization/bootstrapDataSecretCreated", json!(false));
            return Ok(Action::DONE);
        }
        let Some(secret) = config.str_at("/status/dataSecretName").map(str::to_string) else {
            return Err(ReconcileError(format!(
                "retrieved empty dataSecretName from bootstrap provider for MachinePool {:?} in namespace {:?}",
                mp.name(),
                mp.namespace()
            )));
        };
        mp.set("/spec/template/spec/bootstrap/dataSecretName", json!(secret));
        mp.set("/status/initialization/bootstrapDataSecretCreated", json!(true));
        return Ok(Action::DONE);
    }
    if mp.str_at("/spec/template/spec/bootstrap/dataSecretName").is_some() {
        mp.set("/status/initialization/bootstrapDataSecretCreated", json!(true));
        v1beta1::mark_true(mp, "BootstrapReady", now);
        return Ok(Action::DONE);
    }
    Err(ReconcileError(format!(
        "neither .spec.bootstrap.configRef nor .spec.bootstrap.dataSecretName are set for MachinePool {:?} in namespace {:?}",
        mp.name(),
        mp.namespace()
    )))
}

/// The Nodes of a workload cluster by providerID, read through its API.
fn node_map(ctx: &Ctx<'_>, cluster: &str) -> Result<BTreeMap<String, NodeInfo>, String> {
    let wl = ctx.world.workload(cluster)?;
    Ok(wl
        .nodes
        .values()
        .filter_map(|n| {
            let pid = n.provider_id.clone()?;
            Some((
                pid,
                NodeInfo {
                    name: n.name.clone(),
                    ready: n.ready == NodeStatus::True,
                    ready_since_ms: n.ready_since_ms,
                    kubelet_version: n.kubelet_version.clone(),
                },
            ))
        })
        .collect())
}

pub(super) fn cluster_client_error(e: &str) -> ReconcileError {
    ReconcileError(format!("connection to the workload cluster is down: {e}"))
}

pub(super) fn reconcile_infrastructure(ctx: &mut Ctx<'_>, cluster: &Object, mp: &mut Object, s: &mut Scope) -> ReconcileResult {
    let now = ctx.now;
    let r = mp.at("/spec/template/spec/infrastructureRef").cloned().unwrap_or(Value::Null);
    let infra = match reconcile_external(ctx, mp, &r) {
        Ok(i) => i,
        Err(e) => {
            if e.0.starts_with("could not find") {
                let kind = r.get("kind").and_then(Value::as_str).unwrap_or("");
                let name = r.get("name").and_then(Value::as_str).unwrap_or("");
                if mp.bool_at("/status/initialization/infrastructureProvisioned") {
                    mp.set("/status/deprecated/v1beta1/failureReason", json!("InvalidConfiguration"));
                    mp.set(
                        "/status/deprecated/v1beta1/failureMessage",
                        json!(format!(
                            "MachinePool infrastructure resource {kind} {}/{name} has been deleted after being ready",
                            mp.namespace()
                        )),
                    );
                }
                let msg = format!("could not find infra reference of kind {kind} with name {name}");
                v1beta1::mark_false(mp, "InfrastructureReady", "IncorrectExternalRef", "Error", &msg, now);
            }
            return Err(e);
        }
    };
    s.infra = Some(infra.clone());
    if infra.deleting() {
        return Ok(Action::DONE);
    }
    let ready = infra.bool_at("/status/ready");
    mp.set("/status/initialization/infrastructureProvisioned", json!(ready));
    mirror(mp, "InfrastructureReady", &infra, ready, "WaitingForInfrastructure", now);
    let nodes = node_map(ctx, cluster.name()).map_err(|e| cluster_client_error(&e))?;
    s.nodes = Some(nodes);
    reconcile_machines(ctx, mp, &infra, s)
        .map_err(|e| ReconcileError(format!("failed to reconcile Machines for MachinePool {}/{}: {}", mp.namespace(), mp.name(), e.0)))?;
    if !ready {
        ctx.note(format!("Infrastructure provider is not yet ready {} {}", infra.kind, infra.name()));
        return Ok(Action::DONE);
    }
    let pids: Vec<Value> = infra.at("/spec/providerIDList").and_then(Value::as_array).cloned().unwrap_or_default();
    if let Some(replicas) = infra.i64_at("/status/replicas") {
        mp.set("/status/replicas", json!(replicas));
    }
    if pids.is_empty() && mp.i64_at("/status/replicas").unwrap_or(0) != 0 {
        ctx.note("Retrieved empty spec.providerIDList from infrastructure provider but status.replicas is not zero.");
        return Ok(Action::DONE);
    }
    if mp.at("/spec/providerIDList").and_then(Value::as_array).cloned().unwrap_or_default() != pids {
        mp.set("/spec/providerIDList", Value::Array(pids));
        mp.set("/status/deprecated/v1beta1/readyReplicas", json!(0));
        mp.set("/status/deprecated/v1beta1/availableReplicas", json!(0));
        let replicas = mp.i64_at("/status/replicas").unwrap_or(0);
        mp.set("/status/deprecated/v1beta1/unavailableReplicas", json!(replicas));
    }
    Ok(Action::DONE)
}

/// Machines for the pool's infra machines (`reconcileMachines`, `createOrUpdateMachines`).
fn reconcile_machines(ctx: &mut Ctx<'_>, mp: &Object, infra: &Object, s: &Scope) -> Result<(), ReconcileError> {
    let Some(kind_name) = infra.str_at("/status/infrastructureMachineKind").filter(|k| !k.is_empty()) else {
        return Ok(());
    };
    let Some(kind) = Kind::from_name(kind_name) else {
        return Err(ReconcileError(format!("failed to list infra machines: no matches for kind {kind_name:?}")));
    };
    let cname = mp.str_at("/spec/clusterName").unwrap_or("").to_string();
    let pool = label_value(mp.name());
    let infra_machines: Vec<Arc<Object>> = ctx
        .cache
        .in_cluster_ns(kind, mp.namespace(), &cname)
        .filter(|m| m.label(keys::POOL_NAME) == Some(pool.as_str()))
        .cloned()
        .collect();
    let machines: Vec<Arc<Object>> = ctx
        .cache
        .in_cluster_ns(Kind::Machine, mp.namespace(), &cname)
        .filter(|m| m.label(keys::POOL_NAME) == Some(pool.as_str()))
        .cloned()
        .collect();
    let mut errs = Vec::new();
    for im in &infra_machines {
        let node = im.str_at("/spec/providerID").and_then(|p| s.nodes.as_ref().and_then(|n| n.get(p)));
        let desired = desired_machine(mp, im, node);
        let existing = machines.iter().find(|m| m.str_at("/spec/infrastructureRef/name") == Some(im.name()));
        match existing {
            Some(m) => {
                let mut want = (**m).clone();
                want.meta.labels.extend(desired.meta.labels.to_inner());
                want.meta.annotations.extend(desired.meta.annotations.to_inner());
                if !want.meta.owner_references.iter().any(|r| r.uid == mp.meta.uid && r.controller) {
                    common::set_owner(&mut want, mp, true);
                }
                for p in ["/spec/clusterName", "/spec/bootstrap/dataSecretName", "/spec/infrastructureRef", "/spec/version"] {
                    if let Some(v) = desired.at(p) {
                        want.set(p, v.clone());
                    }
                }
                if want != **m {
                    if let Err(e) = patch::patch(ctx, m, &want) {
                        errs.push(format!("failed to update Machine {}/{}: {}", m.namespace(), m.name(), e.0));
                    }
                }
            }
            None => {
                ctx.note(format!("Creating new Machine for infraMachine {}", im.name()));
                match ctx.create(desired) {
                    Ok(_) => {}
                    Err(e) if e.is_already_exists() => {}
                    Err(e) => errs.push(format!(
                        "failed to create new Machine for infraMachine {:?} in namespace {:?}: {e}",
                        im.name(),
                        im.namespace()
                    )),
                }
            }
        }
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(ReconcileError(errs.join(", ")))
    }
}

/// `computeDesiredMachine`.
pub(super) fn desired_machine(mp: &Object, infra_machine: &Object, node: Option<&NodeInfo>) -> Object {
    let mut m = Object::new(Kind::Machine, mp.namespace(), infra_machine.name());
    m.meta.owner_references.push(OwnerRef::to(mp, true));
    if let Some(labels) = mp.at("/spec/template/metadata/labels").and_then(Value::as_object) {
        for (k, v) in labels {
            m.meta.labels.insert(k.clone(), v.as_str().unwrap_or("").to_string());
        }
    }
    if let Some(ann) = mp.at("/spec/template/metadata/annotations").and_then(Value::as_object) {
        for (k, v) in ann {
            m.meta.annotations.insert(k.clone(), v.as_str().unwrap_or("").to_string());
        }
    }
    let cname = mp.str_at("/spec/clusterName").unwrap_or("");
    m.meta.labels.insert(keys::POOL_NAME.into(), label_value(mp.name()));
    m.meta.labels.insert(keys::CLUSTER_NAME.into(), cname.to_string());
    m.set("/spec/clusterName", json!(cname));
    m.set("/spec/bootstrap/dataSecretName", json!(""));
    m.set(
        "/spec/infrastructureRef",
        json!({"apiGroup": infra_machine.kind.info().group, "kind": infra_machine.kind.name(), "name": infra_machine.name()}),
    );
    if let Some(n) = node.filter(|n| !n.kubelet_version.is_empty()) {
        m.set("/spec/version", json!(n.kubelet_version));
    }
    m
}

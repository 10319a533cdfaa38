//! `syncMachines`: the MachineSet propagates its in-place mutable fields to existing Machines (labels,
//! annotations, readiness gates, deletion timeouts, minReadySeconds, taints; for deleting Machines only
//! the fields that matter for the teardown) and labels/annotations to their infrastructure machines and
//! bootstrap configs; and the Machines' `UpToDate` condition (False `NotUpToDate` when the
//! MachineSet's template no longer matches its MachineDeployment's, True `UpToDate` otherwise).
//! Sources: `core/reconcilers/machineset/machineset_controller.go` (`syncMachines`,
//! `computeDesiredMachine`), `core/reconcilers/machine/machine_controller_status.go`
//! (`setUpToDateCondition`).

use super::create::{machine_annotations, machine_labels};
use super::Scope;
use crate::controllers::common;
use crate::controllers::conditions::{self, Cond};
use crate::controllers::mdutil;
use crate::object::Object;
use crate::runtime::{Ctx, ReconcileError};
use serde_json::Value;
use std::collections::BTreeMap;

/// In-place spec fields (pointer under `spec`), and whether they matter for a deleting Machine.
const IN_PLACE: &[(&str, bool)] = &[
    ("/readinessGates", true),
    ("/deletion/nodeDrainTimeoutSeconds", true),
    ("/deletion/nodeDeletionTimeoutSeconds", true),
    ("/deletion/nodeVolumeDetachTimeoutSeconds", true),
    ("/minReadySeconds", true),
    ("/taints", true),
];

/// The `UpToDate` condition a MachineDeployment-owned Machine should carry, or `None` for Machines of
/// stand-alone MachineSets (nobody sets it for them).
pub fn machine_up_to_date(ms: &Object, md: Option<&Object>, m: &Object, now: u64) -> Option<Cond> {
    let md = md?;
    let current = ms.at("/spec/template").cloned().unwrap_or(Value::Null);
    let desired = md.at("/spec/template").cloned().unwrap_or(Value::Null);
    let mut r = mdutil::template_up_to_date(&current, &desired);
    if mdutil::rollout_after_expired(md, ms, now) {
        r.up_to_date = false;
        r.condition_messages.push("MachineDeployment spec.rolloutAfter expired".into());
    }
    if !r.up_to_date {
        let msg = r.condition_messages.iter().map(|m| format!("* {m}")).collect::<Vec<_>>().join("\n");
        return Some(Cond::f("UpToDate", "NotUpToDate", msg));
    }
    let kubelet = m.str_at("/status/nodeInfo/kubeletVersion").unwrap_or("");
    let version = m.str_at("/spec/version").unwrap_or("");
    if !kubelet.is_empty() && kubelet != version {
        return Some(Cond::f("UpToDate", "Updating", format!("* Node.status.nodeInfo.kubeletVersion {kubelet}, {version} required")));
    }
    Some(Cond::t("UpToDate", "UpToDate"))
}

fn set_in_place(o: &mut Object, ms: &Object) {
    for (p, for_deleting) in IN_PLACE {
        if !for_deleting {
            continue;
        }
        match ms.at(&format!("/spec/template/spec{p}")).filter(|v| !v.is_null()) {
            Some(v) => o.set(&format!("/spec{p}"), v.clone()),
            // `DefaultMachineNodeDeletionTimeoutSeconds`: the Machine keeps its defaulted value.
            None if *p == "/deletion/nodeDeletionTimeoutSeconds" => {}
            None => {
                o.remove(&format!("/spec{p}"));
            }
        }
    }
}

/// `computeDesiredMachine` for an existing Machine: the MachineSet's Machine with the existing
/// one's name, uid, finalizers (plus the Machine finalizer), references, version and failure
/// domain, which syncing never changes.
fn desired_existing(ms: &Object, m: &Object) -> Object {
    let mut d = super::create::desired_machine(ms, m.name());
    d.meta.uid = m.meta.uid.clone();
    let mut finalizers = m.meta.finalizers.clone();
    if !finalizers.iter().any(|f| f == super::create::MACHINE_FINALIZER) {
        finalizers.push(super::create::MACHINE_FINALIZER.into());
    }
    d.meta.finalizers = finalizers;
    for p in ["/spec/bootstrap/configRef", "/spec/infrastructureRef", "/spec/version", "/spec/failureDomain"] {
        match m.at(p) {
            Some(v) => d.set(p, v.clone()),
            None => {
                d.remove(p);
            }
        }
    }
    d
}

/// `updateLabelsAndAnnotations`: an apply by `capi-machineset-metadata` of only the labels and
/// annotations the MachineSet gives its Machines.
fn metadata_only(o: &Object, labels: &BTreeMap<String, String>, annotations: &BTreeMap<String, String>) -> Object {
    let mut d = Object::new(o.kind, o.namespace(), o.name());
    d.meta.uid = o.meta.uid.clone();
    d.meta.labels = labels.clone().into();
    d.meta.annotations = annotations.clone().into();
    d
}

/// Propagate in-place fields and the `UpToDate` condition to the MachineSet's Machines.
pub(super) fn sync_machines(ctx: &mut Ctx<'_>, s: &mut Scope) -> Result<(), ReconcileError> {
    let ms = s.ms.clone();
    let labels = machine_labels(&ms);
    let annotations = machine_annotations(&ms);
    for i in 0..s.machines.len() {
        let m = s.machines[i].clone();
        let deleting = m.deleting();
        // A deleting Machine gets a merge patch of the fields that matter for its teardown; the
        // others get the MachineSet's desired Machine, server-side applied by `capi-machineset`
        // (so a label or field dropped from the template goes from the Machine too).
        let updated =
            if deleting { ctx.patch(&m.key(), |o| set_in_place(o, &ms)) } else { ctx.apply(super::MANAGER, desired_existing(&ms, &m)) };
        let mut current = match updated {
            Ok(o) => o,
            Err(e) if e.is_not_found() => continue,
            Err(e) => return Err(format!("failed to update Machine {}/{}: {}", m.namespace(), m.name(), e.message).into()),
        };
        if !deleting {
            for (ptr, what) in [("/spec/infrastructureRef", "InfrastructureMachine"), ("/spec/bootstrap/configRef", "BootstrapConfig")] {
                let Some(r) = current.at(ptr).filter(|r| r.get("name").and_then(Value::as_str).is_some_and(|n| !n.is_empty())) else {
                    continue;
                };
                let kind = r.get("kind").and_then(Value::as_str).unwrap_or("").to_string();
                let name = r.get("name").and_then(Value::as_str).unwrap_or("").to_string();
                let Some(key) = common::ref_key(r, m.namespace()).filter(|k| ctx.get(k).is_some()) else {
                    return Err(format!("failed to get {what} {kind} {}/{name}: not found", m.namespace()).into());
                };
                let Some(target) = ctx.get(&key).cloned() else { continue };
                ctx.apply(super::METADATA_MANAGER, metadata_only(&target, &labels, &annotations))
                    .map_err(|e| format!("failed to update {what} {}/{name}: {}", m.namespace(), e.message))?;
            }
        }
        if let Some(want) = machine_up_to_date(&ms, s.md.as_deref(), &current, ctx.now) {
            let have = conditions::get(&current, "UpToDate");
            let same = have.is_some_and(|h| h.status == want.status && h.reason == want.reason && h.message == want.message);
            if !same {
                let now = ctx.now;
                let patched = ctx.patch_status(&current.key(), |o| conditions::set(o, [want.clone()], now));
                match patched {
                    Ok(o) => current = o,
                    Err(e) if e.is_not_found() => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        s.machines[i] = current;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controllers::conditions::Status;
    use crate::kinds::Kind;
    use serde_json::json;

    #[test]
    fn up_to_date_follows_the_deployment_template() {
        let mut md = Object::new(Kind::MachineDeployment, "default", "md");
        md.set("/spec/template/spec", json!({"version": "v1.34.0"}));
        let mut ms = Object::new(Kind::MachineSet, "default", "ms");
        ms.set("/spec/template/spec", json!({"version": "v1.33.0"}));
        let mut m = Object::new(Kind::Machine, "default", "m");
        m.set("/spec/version", json!("v1.33.0"));
        let c = machine_up_to_date(&ms, Some(&md), &m, 0).unwrap();
        assert_eq!(
            (c.status, c.reason.as_str(), c.message.as_str()),
            (Status::False, "NotUpToDate", "* Version v1.33.0, v1.34.0 required")
        );
        ms.set("/spec/template/spec/version", json!("v1.34.0"));
        m.set("/spec/version", json!("v1.34.0"));
        assert_eq!(machine_up_to_date(&ms, Some(&md), &m, 0).unwrap().status, Status::True);
        assert!(machine_up_to_date(&ms, None, &m, 0).is_none());
    }
}

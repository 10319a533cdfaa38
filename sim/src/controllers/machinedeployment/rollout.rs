//! The MachineDeployment's rollout: classify MachineSets into new and old, compute each one's desired
//! state (labels, selector and template labels with the `machine-template-hash`, annotations derived
//! from the MachineDeployment, revision annotations, `disable-machine-create`, in-place propagated
//! fields), create the new MachineSet if needed, run the planner for the strategy (RollingUpdate,
//! OnDelete, or proportional scaling while `spec.paused`), write every MachineSet, and delete old empty
//! MachineSets once the rollout is complete.
//! Sources: `core/reconcilers/machinedeployment/{machinedeployment_controller.go,machinedeployment_rollout_planner.go,machinedeployment_rollout_rollingupdate.go,machinedeployment_rollout_ondelete.go,machinedeployment_sync.go}`.

use super::Scope;
use crate::controllers::common::{self, keys};
use crate::controllers::machineset::consistency::Guard;
use crate::controllers::machineset::string_map;
use crate::controllers::mdutil::{self, MsState, Planner, Rollout};
use crate::kinds::Kind;
use crate::mutants::Mutant;
use crate::object::Object;
use crate::runtime::{Ctx, ReconcileError};
use crate::store::Deleted;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

/// How the MachineSets are planned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `RollingUpdate`.
    Rolling,
    /// `OnDelete`.
    OnDelete,
    /// `spec.paused`: only scale, never create a MachineSet.
    Paused,
}

/// Fields of the Machine template propagated in place (never a rollout), under `spec/template/spec`.
const IN_PLACE: &[&str] = &[
    "/minReadySeconds",
    "/readinessGates",
    "/deletion/nodeDrainTimeoutSeconds",
    "/deletion/nodeDeletionTimeoutSeconds",
    "/deletion/nodeVolumeDetachTimeoutSeconds",
    "/taints",
];

fn copy_or_remove(to: &mut Object, from: &Object, from_ptr: &str, to_ptr: &str) {
    match from.at(from_ptr).filter(|v| !v.is_null()) {
        Some(v) => to.set(to_ptr, v.clone()),
        None => {
            if to.remove(to_ptr).is_some() {
                // Do not leave an empty parent map behind (`spec.deletion: {}`).
                if let Some((parent, _)) = to_ptr.rsplit_once('/') {
                    if to.at(parent).and_then(Value::as_object).is_some_and(|m| m.is_empty()) {
                        to.remove(parent);
                    }
                }
            }
        }
    }
}

/// `computeNewMachineSetName`: `<md>-<rand5>` (the base cut to 58 characters), and the suffix.
pub fn new_ms_name(md: &str, suffix: &str) -> String {
    let mut base = format!("{md}-");
    base.truncate(58);
    format!("{base}{suffix}")
}

/// `computeDesiredMS`: the MachineSet the MachineDeployment wants, from the existing one or new.
/// `new` gives (name, random suffix) for a MachineSet to create.
pub fn desired_ms(md: &Object, rollout: &Rollout, current: Option<&Object>, new: Option<(&str, &str)>, now: u64) -> Result<Object, String> {
    let template = md.at("/spec/template").cloned().unwrap_or(Value::Null);
    let (mut ms, unique) = match (current, new) {
        (Some(cur), _) => {
            let unique = cur
                .label(keys::MACHINE_TEMPLATE_HASH)
                .ok_or("failed to compute desired MachineSet: failed to get unique identifier from \"machine-template-hash\" annotation")?;
            let mut ms = cur.clone();
            // The labels are the MachineDeployment's alone (`desiredMS.Labels = ...`): labels the
            // template no longer has go by the apply, others' labels stay theirs.
            ms.meta.labels = Default::default();
            (ms, unique.to_string())
        }
        (None, Some((name, suffix))) => {
            let mut ms = Object::new(Kind::MachineSet, md.namespace(), name);
            ms.meta.creation_ms = now;
            ms.set("/spec/replicas", Value::from(0));
            ms.set("/spec/template/spec", template.get("spec").cloned().unwrap_or_else(|| Value::Object(Default::default())));
            (ms, format!("{}-{suffix}", mdutil::template_hash(&template)))
        }
        (None, None) => return Err("a new MachineSet needs a name".into()),
    };
    common::set_owner(&mut ms, md, true);
    ms.set("/spec/clusterName", Value::String(md.str_at("/spec/clusterName").unwrap_or("").to_string()));
    let mut labels = string_map(md, "/spec/template/metadata/labels");
    labels.insert(keys::MACHINE_TEMPLATE_HASH.into(), unique.clone());
    for (k, v) in &labels {
        ms.meta.labels.insert(k.clone(), v.clone());
    }
    ms.meta.labels.insert(keys::DEPLOYMENT_NAME.into(), md.name().to_string());
    ms.set("/spec/template/metadata/labels", Value::Object(labels.into_iter().map(|(k, v)| (k, Value::String(v))).collect()));
    let mut selector = md.at("/spec/selector").cloned().filter(Value::is_object).unwrap_or_else(|| Value::Object(Default::default()));
    selector.as_object_mut().expect("object").remove("matchLabels");
    ms.set("/spec/selector", selector);
    let mut match_labels = string_map(md, "/spec/selector/matchLabels");
    match_labels.insert(keys::MACHINE_TEMPLATE_HASH.into(), unique);
    ms.set("/spec/selector/matchLabels", Value::Object(match_labels.into_iter().map(|(k, v)| (k, Value::String(v))).collect()));
    for (k, v) in mdutil::ms_annotations_from_md(md, rollout) {
        ms.meta.annotations.insert(k, v);
    }
    copy_or_remove(&mut ms, md, "/spec/template/metadata/annotations", "/spec/template/metadata/annotations");
    copy_or_remove(&mut ms, md, "/spec/deletion/order", "/spec/deletion/order");
    copy_or_remove(&mut ms, md, "/spec/machineNaming", "/spec/machineNaming");
    for p in IN_PLACE {
        let ptr = format!("/spec/template/spec{p}");
        copy_or_remove(&mut ms, md, &ptr, &ptr);
    }
    Ok(ms)
}

/// The apply configuration for an existing MachineSet: the desired one with the stored one's uid
/// (the apply must not create) and owner references (the MachineDeployment's ensured).
fn desired_existing(cur: &Object, d: &Object, md: &Object) -> Object {
    let mut o = d.clone();
    o.meta.uid = cur.meta.uid.clone();
    o.meta.owner_references = cur.meta.owner_references.clone();
    common::set_owner(&mut o, md, true);
    o
}

/// The MachineSets after this reconcile's writes (as the server returned them).
pub struct Outcome {
    /// The new (current) MachineSet, if any.
    pub new: Option<Arc<Object>>,
    /// The old MachineSets.
    pub old: Vec<Arc<Object>>,
}

/// The field manager of the MachineDeployment's server-side applies (`machineDeploymentManagerName`):
/// it creates MachineSets and updates their in-place fields by apply, so what the template drops
/// goes from them too.
pub const MANAGER: &str = "capi-machinedeployment";

/// Plan and write the MachineSets of a MachineDeployment.
pub fn rollout(ctx: &mut Ctx<'_>, guard: &Guard, s: &mut Scope, mode: Mode, template_exists: bool) -> Result<Outcome, ReconcileError> {
    let md = s.md.clone();
    let key = format!("{}/{}", md.namespace(), md.name());
    let plan = Rollout::of(&md);
    if plan.replicas.is_none() {
        return Err(format!("spec.replicas for MachineDeployment {key} is nil, this is unexpected").into());
    }
    for ms in &s.mss {
        if ms.i64_at("/spec/replicas").is_none() {
            return Err(format!("spec.replicas for MachineSet {}/{} is nil, this is unexpected", ms.namespace(), ms.name()).into());
        }
    }
    let cls = mdutil::find_new_and_old(&md, &s.mss, ctx.now);
    // Desired old MachineSets: revision annotations carried over; creation disabled under OnDelete.
    let mut old: Vec<(Arc<Object>, Object)> = Vec::new();
    for cur in &cls.old {
        let mut d = desired_ms(&md, &plan, Some(cur), None, ctx.now)?;
        let disable = if plan.strategy == mdutil::StrategyType::OnDelete { "true" } else { "false" };
        d.meta.annotations.insert(keys::DISABLE_MACHINE_CREATE.into(), disable.into());
        old.push((cur.clone(), d));
    }
    let old_refs: Vec<&Object> = old.iter().map(|(c, _)| &**c).collect();
    let mut revision = String::new();
    let new: Option<(Option<Arc<Object>>, Object)> = match &cls.new {
        Some(cur) => {
            let mut d = desired_ms(&md, &plan, Some(cur), None, ctx.now)?;
            let (ann, rev) = mdutil::compute_revision_annotations(Some(cur), &old_refs)?;
            if cur.annotation(keys::REVISION) != Some(rev.as_str()) {
                ctx.note(format!("MachineSet {} is now the current MachineSet", cur.name()));
            }
            d.meta.annotations.extend(ann);
            d.meta.annotations.insert(keys::DISABLE_MACHINE_CREATE.into(), "false".into());
            revision = rev;
            Some((Some(cur.clone()), d))
        }
        None if mode == Mode::Paused => None,
        None => {
            if !template_exists {
                return Err("cannot create a MachineSet when templates do not exist".into());
            }
            let suffix = ctx.suffix();
            let name = new_ms_name(md.name(), &suffix);
            let mut d = desired_ms(&md, &plan, None, Some((&name, &suffix)), ctx.now)?;
            let (ann, rev) = mdutil::compute_revision_annotations(None, &old_refs)?;
            d.meta.annotations.extend(ann);
            d.meta.annotations.insert(keys::DISABLE_MACHINE_CREATE.into(), "false".into());
            revision = rev;
            if !old.is_empty() {
                let names: Vec<&str> = old.iter().map(|(c, _)| c.name()).collect();
                ctx.note(format!("MachineSets need rollout: {} (reason: {})", names.join(", "), cls.create_reason));
            }
            Some((None, d))
        }
    };
    // Plan.
    let old_states: Vec<MsState> = old.iter().map(|(_, d)| MsState::of(d)).collect();
    let intents: BTreeMap<String, i64> = match (&new, mode) {
        (Some((_, d)), Mode::Rolling | Mode::OnDelete) => {
            let mut p = Planner::new(plan.clone(), MsState::of(d), old_states);
            p.ignore_max_unavailable = ctx.mutant(Mutant::MdIgnoreMaxUnavailable);
            if mode == Mode::Rolling {
                p.rolling_update()?;
            } else {
                p.on_delete()?;
            }
            for (ms, notes) in &p.notes {
                ctx.note(format!("plan {ms}: {}", notes.join(", ")));
            }
            p.intents
        }
        (_, Mode::Paused) => {
            let new_state = new.as_ref().map(|(_, d)| MsState::of(d));
            mdutil::scale_paused(&plan, md.i64_at("/status/replicas").unwrap_or(0), new_state.as_ref(), &old_states)
        }
        (None, _) => BTreeMap::new(),
    };
    // Write: the new MachineSet first, then the old ones.
    let mut out = Outcome { new: None, old: Vec::new() };
    let entries: Vec<(bool, Option<Arc<Object>>, Object)> =
        new.into_iter().map(|(c, d)| (true, c, d)).chain(old.into_iter().map(|(c, d)| (false, Some(c), d))).collect();
    for (is_new, current, mut d) in entries {
        if let Some(v) = intents.get(d.name()) {
            d.set("/spec/replicas", Value::from(*v));
        }
        let want = d.i64_at("/spec/replicas").unwrap_or(0);
        let written = match &current {
            None => {
                d.body.remove("status");
                let ms_kobj = format!("{}/{}", d.namespace(), d.name());
                let created = ctx.apply(MANAGER, d).map_err(|e| {
                    // `machinedeployment_controller.go: createOrUpdateMachineSetsAndSyncMachineDeploymentRevision`.
                    ctx.event_warning(&md, "FailedCreate", format!("Failed to create MachineSet {ms_kobj}: {}", e.message));
                    ReconcileError(format!("failed to create MachineSet: {}", e.message))
                })?;
                guard.wrote(&md, Kind::MachineSet, created.meta.resource_version, ctx.now);
                ctx.event_normal(
                    &md,
                    "SuccessfulCreate",
                    format!("Created MachineSet {}/{} with {want} replicas", created.namespace(), created.name()),
                );
                created
            }
            Some(cur) => {
                let res = ctx.apply(MANAGER, desired_existing(cur, &d, &md));
                let obj = match res {
                    Ok(o) => o,
                    Err(e) if (e.is_not_found() || e.is_conflict()) && cur.deleting() => continue,
                    Err(e) => {
                        ctx.event_warning(
                            &md,
                            "FailedUpdate",
                            format!("Failed to update MachineSet {}/{}: {}", cur.namespace(), cur.name(), e.message),
                        );
                        return Err(format!("failed to update MachineSet {}/{}: {}", cur.namespace(), cur.name(), e.message).into());
                    }
                };
                if obj.meta.resource_version != cur.meta.resource_version {
                    guard.wrote(&md, Kind::MachineSet, obj.meta.resource_version, ctx.now);
                }
                let was = cur.i64_at("/spec/replicas").unwrap_or(0);
                if mode == Mode::Paused && want != was {
                    // `machinedeployment_sync.go: scaleMachineSet` (the paused path, `sync`).
                    let text = format!("Scaled MachineSet {}/{}: {was} -> {want}", cur.namespace(), cur.name());
                    ctx.event_normal(&md, "SuccessfulScale", text);
                } else if want < was {
                    ctx.event_normal(&md, "SuccessfulScale", format!("Scaled down MachineSet {}: {was} -> {want}", cur.name()));
                } else if want > was {
                    ctx.event_normal(&md, "SuccessfulScale", format!("Scaled up MachineSet {}: {was} -> {want}", cur.name()));
                }
                obj
            }
        };
        if is_new {
            out.new = Some(written);
        } else {
            out.old.push(written);
        }
    }
    // The MachineDeployment carries the current revision.
    s.md.meta.annotations.insert(keys::REVISION.into(), revision);
    Ok(out)
}

/// `DeploymentComplete`: every replica updated and available, none old, generation observed.
pub fn deployment_complete(md: &Object, out: &Outcome) -> bool {
    let replicas = md.i64_at("/spec/replicas").unwrap_or(0);
    let all: Vec<&Arc<Object>> = out.old.iter().chain(out.new.iter()).collect();
    let sum = |p: &str| -> i64 { all.iter().filter_map(|m| m.i64_at(p)).sum() };
    let observed = md.i64_at("/status/observedGeneration").unwrap_or(0);
    sum("/status/upToDateReplicas") == replicas
        && sum("/status/replicas") == replicas
        && sum("/status/availableReplicas") == replicas
        && observed >= md.meta.generation
}

/// `cleanupDeployment`: delete old MachineSets that have neither desired nor actual replicas and whose
/// spec the MachineSet controller has observed, oldest first.
pub fn cleanup(ctx: &mut Ctx<'_>, guard: &Guard, md: &Object, out: &Outcome) -> Result<(), ReconcileError> {
    let mut old: Vec<&Arc<Object>> = out.old.iter().filter(|m| !m.deleting()).collect();
    old.sort_by(|a, b| common::older_first(a, b));
    for ms in old {
        let empty = ms.i64_at("/status/replicas").unwrap_or(0) == 0 && ms.i64_at("/spec/replicas").unwrap_or(0) == 0;
        let observed = ms.meta.generation <= ms.i64_at("/status/observedGeneration").unwrap_or(0);
        if !empty || !observed {
            continue;
        }
        match ctx.delete(&ms.key()) {
            Ok(Deleted::Pending(o)) => {
                guard.wrote(md, Kind::MachineSet, o.meta.resource_version, ctx.now);
                // `machinedeployment_sync.go: cleanupDeployment`.
                ctx.event_normal(md, "SuccessfulDelete", format!("Deleted MachineSet {:?}", ms.name()));
            }
            Ok(Deleted::Removed(_)) => ctx.event_normal(md, "SuccessfulDelete", format!("Deleted MachineSet {:?}", ms.name())),
            Err(e) if e.is_not_found() => {}
            Err(e) => {
                ctx.event_warning(md, "FailedDelete", format!("Failed to delete MachineSet {:?}: {}", ms.name(), e.message));
                return Err(format!(
                    "failed to delete MachineSet {}/{} (cleanup of old MachineSets): {}",
                    ms.namespace(),
                    ms.name(),
                    e.message
                )
                .into());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn md() -> Object {
        let mut md = Object::from_json(&json!({
            "apiVersion": "cluster.x-k8s.io/v1beta2", "kind": "MachineDeployment",
            "metadata": {"name": "md-0", "namespace": "default", "uid": "u-md", "generation": 2,
                "annotations": {"team": "a", "machinedeployment.clusters.x-k8s.io/revision": "7"}},
            "spec": {"clusterName": "c1", "replicas": 3,
                "selector": {"matchLabels": {"cluster.x-k8s.io/cluster-name": "c1", "pool": "a"}},
                "rollout": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}},
                "deletion": {"order": "Oldest"},
                "template": {"metadata": {"labels": {"cluster.x-k8s.io/cluster-name": "c1", "pool": "a"}, "annotations": {"note": "x"}},
                    "spec": {"clusterName": "c1", "version": "v1.34.0", "minReadySeconds": 10,
                        "bootstrap": {"configRef": {"apiGroup": "bootstrap.cluster.x-k8s.io", "kind": "KubeadmConfigTemplate", "name": "t"}},
                        "infrastructureRef": {"apiGroup": "infrastructure.cluster.x-k8s.io", "kind": "DockerMachineTemplate", "name": "d"}}}},
            "status": {"observedGeneration": 2}
        }))
        .unwrap();
        md.meta.creation_ms = 1;
        md
    }

    #[test]
    fn a_new_machineset_carries_the_hash_everywhere() {
        let md = md();
        let r = Rollout::of(&md);
        let ms = desired_ms(&md, &r, None, Some(("md-0-abcde", "abcde")), 5_000).unwrap();
        let hash = format!("{}-abcde", mdutil::template_hash(md.at("/spec/template").unwrap()));
        assert_eq!(ms.label(keys::MACHINE_TEMPLATE_HASH), Some(hash.as_str()));
        assert_eq!(ms.label(keys::DEPLOYMENT_NAME), Some("md-0"));
        assert_eq!(ms.label("pool"), Some("a"));
        assert_eq!(string_map(&ms, "/spec/selector/matchLabels").get(keys::MACHINE_TEMPLATE_HASH), Some(&hash));
        assert_eq!(string_map(&ms, "/spec/template/metadata/labels").get(keys::MACHINE_TEMPLATE_HASH), Some(&hash));
        assert!(!string_map(&ms, "/spec/template/metadata/labels").contains_key(keys::DEPLOYMENT_NAME));
        assert_eq!(ms.annotation("team"), Some("a"));
        assert_eq!(ms.annotation(keys::REVISION), None, "the MD's revision is not copied");
        assert_eq!(ms.annotation(keys::DESIRED_REPLICAS), Some("3"));
        assert_eq!(ms.annotation(keys::MAX_REPLICAS), Some("4"));
        assert_eq!(ms.i64_at("/spec/replicas"), Some(0));
        assert_eq!(ms.str_at("/spec/deletion/order"), Some("Oldest"));
        assert_eq!(ms.i64_at("/spec/template/spec/minReadySeconds"), Some(10));
        assert!(ms.controller_ref().is_some_and(|o| o.kind == "MachineDeployment" && &*o.uid == "u-md"));
        assert_eq!(new_ms_name(&"m".repeat(70), "abcde").len(), 63);
    }

    #[test]
    fn an_existing_machineset_keeps_its_identity_and_gets_in_place_fields() {
        let md0 = md();
        let r = Rollout::of(&md0);
        let mut cur = desired_ms(&md0, &r, None, Some(("md-0-abcde", "abcde")), 0).unwrap();
        cur.set("/spec/replicas", json!(3));
        // In-place change on the MD: minReadySeconds and the template annotations.
        let mut md1 = md0.clone();
        md1.set("/spec/template/spec/minReadySeconds", json!(30));
        md1.remove("/spec/template/metadata/annotations");
        md1.remove("/spec/deletion");
        let d = desired_ms(&md1, &r, Some(&cur), None, 0).unwrap();
        assert_eq!(d.label(keys::MACHINE_TEMPLATE_HASH), cur.label(keys::MACHINE_TEMPLATE_HASH));
        assert_eq!(d.i64_at("/spec/replicas"), Some(3));
        assert_eq!(d.i64_at("/spec/template/spec/minReadySeconds"), Some(30));
        assert!(d.at("/spec/template/metadata/annotations").is_none());
        assert!(d.at("/spec/deletion").is_none(), "no empty map left behind");
        // A MachineSet without the hash label cannot be reconciled.
        let mut bad = cur.clone();
        bad.meta.labels.remove(keys::MACHINE_TEMPLATE_HASH);
        assert!(desired_ms(&md1, &r, Some(&bad), None, 0).is_err());
    }

    #[test]
    fn completeness_needs_every_counter_and_the_observed_generation() {
        let md = md();
        let ms = |spec: i64, status: i64, avail: i64, utd: i64| {
            let mut o = Object::new(Kind::MachineSet, "default", "x");
            o.set("/spec/replicas", json!(spec));
            o.set("/status", json!({"replicas": status, "availableReplicas": avail, "upToDateReplicas": utd}));
            Arc::new(o)
        };
        let done = Outcome { new: Some(ms(3, 3, 3, 3)), old: vec![ms(0, 0, 0, 0)] };
        assert!(deployment_complete(&md, &done));
        let not_available = Outcome { new: Some(ms(3, 3, 2, 3)), old: vec![] };
        assert!(!deployment_complete(&md, &not_available));
        let old_left = Outcome { new: Some(ms(3, 3, 3, 3)), old: vec![ms(0, 1, 1, 0)] };
        assert!(!deployment_complete(&md, &old_left));
        let mut newer = md.clone();
        newer.meta.generation = 3;
        assert!(!deployment_complete(&newer, &done));
    }
}

//! Creating Machines for a MachineSet scale-up: preflight checks first, then per Machine (one after the
//! other) the bootstrap config cloned from the bootstrap template, the infrastructure machine cloned
//! from the infrastructure template (both named like the Machine, plain owner reference to the
//! MachineSet), then the Machine itself (controller owner reference to the MachineSet, finalizer
//! pre-set). A failure cleans up what this Machine's attempt created.
//! Source: `core/reconcilers/machineset/machineset_controller.go` (`createMachines`,
//! `computeDesiredMachine`, `createBootstrapConfig`, `createInfraMachine`), `controllers/external/util.go`
//! (`GenerateTemplate`), `internal/topology/names/names.go`.

use super::consistency::Guard;
use super::preflight;
use super::{string_map, Scope};
use crate::controllers::common::{self, keys};
use crate::kinds::Kind;
use crate::object::{Object, OwnerRef};
use crate::runtime::{Action, Ctx, ReconcileError, ReconcileResult};
use serde_json::Value;
use std::collections::BTreeMap;

/// The Machine finalizer (set at creation so deletion always goes through the Machine controller).
pub const MACHINE_FINALIZER: &str = "machine.cluster.x-k8s.io";
/// The default `spec.machineNaming.template`.
pub const DEFAULT_NAME_TEMPLATE: &str = "{{ .machineSet.name }}-{{ .random }}";

/// Render a Machine name template (`{{ .machineSet.name }}`, `{{ .cluster.name }}`, `{{ .random }}`);
/// names over 63 characters are cut to 58 and get another random suffix.
pub fn render_name(template: &str, ms: &str, cluster: &str, mut suffix: impl FnMut() -> String) -> Result<String, String> {
    let random = suffix();
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find("}}").ok_or_else(|| format!("parsing template {template:?}: unclosed action"))?;
        let field = after[..end].trim().trim_start_matches('-').trim_end_matches('-').trim();
        match field {
            ".machineSet.name" => out.push_str(ms),
            ".cluster.name" => out.push_str(cluster),
            ".random" => out.push_str(&random),
            other => return Err(format!("rendering template: map has no entry for key {other:?}")),
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    if out.len() > 63 {
        out.truncate(58);
        out.push_str(&suffix());
    }
    Ok(out)
}

/// Labels of the MachineSet's Machines: template labels + set-name + deployment-name.
pub fn machine_labels(ms: &Object) -> BTreeMap<String, String> {
    let mut l = string_map(ms, "/spec/template/metadata/labels");
    l.insert(keys::SET_NAME.into(), ms.name().to_string());
    if let Some(md) = ms.label(keys::DEPLOYMENT_NAME) {
        l.insert(keys::DEPLOYMENT_NAME.into(), md.to_string());
    }
    l
}

/// Annotations of the MachineSet's Machines: the template annotations.
pub fn machine_annotations(ms: &Object) -> BTreeMap<String, String> {
    string_map(ms, "/spec/template/metadata/annotations")
}

/// `computeDesiredMachine` for a new Machine (refs are filled in once the objects exist).
pub fn desired_machine(ms: &Object, name: &str) -> Object {
    let mut m = Object::new(Kind::Machine, ms.namespace(), name);
    m.meta.owner_references.push(OwnerRef::to(ms, true));
    m.meta.labels = machine_labels(ms).into();
    m.meta.annotations = machine_annotations(ms).into();
    m.meta.finalizers.push(MACHINE_FINALIZER.into());
    let spec = ms.at("/spec/template/spec").cloned().unwrap_or_else(|| Value::Object(Default::default()));
    m.set("/spec", spec);
    m.set("/spec/clusterName", Value::String(ms.str_at("/spec/clusterName").unwrap_or("").to_string()));
    m.remove("/spec/infrastructureRef");
    m.remove("/spec/bootstrap/configRef");
    if m.at("/spec/bootstrap").is_some_and(|b| b.as_object().is_some_and(|o| o.is_empty())) {
        m.remove("/spec/bootstrap");
    }
    m
}

/// `external.GenerateTemplate`: an object cloned from `spec.template` of a template, named `name`,
/// with the template's metadata plus `labels`/`annotations`, the cluster-name label, the cloned-from
/// annotations and a plain owner reference.
pub fn generate_from_template(
    template: &Object,
    name: &str,
    cluster: &str,
    owner: &Object,
    labels: &crate::object::StrMap,
    annotations: &crate::object::StrMap,
) -> Result<Object, String> {
    let kind = template.kind.template_target().ok_or_else(|| format!("{} is not a template kind", template.kind))?;
    let mut o = Object::new(kind, template.namespace(), name);
    if let Some(t) = template.at("/spec/template").and_then(Value::as_object) {
        for (k, v) in t {
            if k != "metadata" {
                o.body.insert(k.clone(), v.clone());
            }
        }
    }
    o.meta.annotations = string_map(template, "/spec/template/metadata/annotations").into();
    o.meta.annotations.extend(annotations.iter().map(|(k, v)| (k.clone(), v.clone())));
    o.meta.annotations.insert(keys::CLONED_FROM_NAME.into(), template.name().to_string());
    o.meta.annotations.insert(keys::CLONED_FROM_GROUPKIND.into(), format!("{}.{}", template.kind, template.kind.info().group));
    o.meta.labels = string_map(template, "/spec/template/metadata/labels").into();
    o.meta.labels.extend(labels.iter().map(|(k, v)| (k.clone(), v.clone())));
    o.meta.labels.insert(keys::CLUSTER_NAME.into(), cluster.to_string());
    o.meta.owner_references = vec![OwnerRef::to(owner, false)];
    Ok(o)
}

/// `createInfraMachine` / `createBootstrapConfig`: the clone is applied whole by `capi-machineset`,
/// which then gives up its labels and annotations (`ssa.RemoveManagedFieldsForLabelsAndAnnotations`)
/// so that `capi-machineset-metadata` owns them from the next `syncMachines` on.
fn create_owned(ctx: &mut Ctx<'_>, o: Object) -> Result<std::sync::Arc<Object>, crate::store::ApiError> {
    let created = ctx.apply(super::MANAGER, o)?;
    ctx.disown(&created.key(), super::MANAGER, &["/metadata/labels", "/metadata/annotations"])?;
    Ok(ctx.current(&created.key()).unwrap_or(created))
}

/// Clone the object the template at `pointer` of the MachineSet describes, for `machine`.
fn clone_for(ctx: &mut Ctx<'_>, ms: &Object, pointer: &str, machine: &Object) -> Result<Object, String> {
    let r = ms.at(pointer).ok_or("object reference not set")?;
    let kind = r.get("kind").and_then(Value::as_str).unwrap_or("");
    let name = r.get("name").and_then(Value::as_str).unwrap_or("");
    let key = common::ref_key(r, ms.namespace()).ok_or_else(|| format!("unknown kind {kind:?}"))?;
    let template = ctx.get(&key).ok_or_else(|| format!("{} \"{name}\" not found", crate::store::error::resource_name(key.kind)))?.clone();
    let cluster = machine.str_at("/spec/clusterName").unwrap_or("");
    generate_from_template(&template, machine.name(), cluster, ms, &machine.meta.labels, &machine.meta.annotations)
}

/// `createMachines`.
pub(super) fn create_machines(ctx: &mut Ctx<'_>, guard: &Guard, s: &mut Scope, n: usize) -> ReconcileResult {
    match preflight::run(ctx, &s.cluster, &s.ms, "Scale up") {
        Err(e) => {
            s.preflight_msgs = vec![e.clone()];
            return Err(ReconcileError(e));
        }
        Ok(msgs) if !msgs.is_empty() => {
            ctx.note(format!(
                "Scale up on hold because {}. The operation will continue after the preflight check(s) pass",
                msgs.join("; ")
            ));
            s.preflight_msgs = msgs;
            return Ok(Action::requeue(preflight::PREFLIGHT_FAILED_REQUEUE_MS));
        }
        Ok(_) => {}
    }
    let ms = s.ms.clone();
    let ns = ms.namespace().to_string();
    let cluster_name = ms.str_at("/spec/clusterName").unwrap_or("").to_string();
    let template = ms.str_at("/spec/machineNaming/template").filter(|t| !t.is_empty()).unwrap_or(DEFAULT_NAME_TEMPLATE).to_string();
    for _i in 0..n {
        if !template.contains("{{ .random }}") {
            return Err("failed to create Machine: failed to compute desired Machine: cannot generate Machine name: {{ .random }} is missing in machineNaming.template".into());
        }
        let name = render_name(&template, ms.name(), &cluster_name, || ctx.suffix())
            .map_err(|e| format!("failed to create Machine: failed to compute desired Machine: failed to generate Machine name: {e}"))?;
        let mut machine = desired_machine(&ms, &name);
        let mut bootstrap: Option<Object> = None;
        if super::has_ref(&ms, "/spec/template/spec/bootstrap/configRef") {
            let what = |e: String| {
                format!(
                    "failed to clone bootstrap configuration from {} {ns}/{} while creating a Machine: failed to create BootstrapConfig: {e}",
                    ms.str_at("/spec/template/spec/bootstrap/configRef/kind").unwrap_or(""),
                    ms.str_at("/spec/template/spec/bootstrap/configRef/name").unwrap_or("")
                )
            };
            let cfg = clone_for(ctx, &ms, "/spec/template/spec/bootstrap/configRef", &machine).map_err(what)?;
            let created = create_owned(ctx, cfg).map_err(|e| what(e.message))?;
            guard.wrote(&ms, created.kind, created.meta.resource_version, ctx.now);
            machine.set("/spec/bootstrap/configRef", common::contract_ref(&created));
            bootstrap = Some((*created).clone());
        }
        let infra_what = |e: String| {
            format!(
                "failed to clone infrastructure machine from {} {ns}/{} while creating a Machine: failed to create InfraMachine: {e}",
                ms.str_at("/spec/template/spec/infrastructureRef/kind").unwrap_or(""),
                ms.str_at("/spec/template/spec/infrastructureRef/name").unwrap_or("")
            )
        };
        let infra = clone_for(ctx, &ms, "/spec/template/spec/infrastructureRef", &machine)
            .and_then(|o| create_owned(ctx, o).map_err(|e| e.message));
        let infra = match infra {
            Ok(o) => o,
            Err(e) => {
                // Do not leak the bootstrap config.
                let mut msg = infra_what(e);
                if let Some(b) = &bootstrap {
                    if let Err(de) = ctx.delete(&b.key()) {
                        if !de.is_not_found() {
                            msg.push_str(&format!("; failed to cleanup {} {ns}/{}: {}", b.kind, b.name(), de.message));
                        }
                    }
                }
                return Err(ReconcileError(msg));
            }
        };
        guard.wrote(&ms, infra.kind, infra.meta.resource_version, ctx.now);
        machine.set("/spec/infrastructureRef", common::contract_ref(&infra));
        match ctx.apply(super::MANAGER, machine) {
            Ok(m) => {
                guard.wrote(&ms, Kind::Machine, m.meta.resource_version, ctx.now);
                // `machineset_controller.go: syncReplicas`.
                ctx.event_normal(&ms, "SuccessfulCreate", format!("Created Machine {:?}", m.name()));
            }
            Err(e) => {
                let mut errs = vec![e.message.clone()];
                for k in std::iter::once(infra.key()).chain(bootstrap.as_ref().map(|b| b.key())) {
                    if let Err(de) = ctx.delete(&k) {
                        if !de.is_not_found() {
                            errs.push(format!(
                                "failed to cleanup {} {}/{} after Machine creation failed: {}",
                                k.kind, k.ns, k.name, de.message
                            ));
                        }
                    }
                }
                return Err(ReconcileError(errs.join("; ")));
            }
        }
    }
    Ok(Action::DONE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_follow_the_template() {
        let mut n = 0;
        let mut sfx = || {
            n += 1;
            format!("r{n:04}")
        };
        assert_eq!(render_name(DEFAULT_NAME_TEMPLATE, "md-abcde", "c", &mut sfx).unwrap(), "md-abcde-r0001");
        assert_eq!(render_name("{{.cluster.name}}-w-{{ .random }}", "ms", "c1", &mut sfx).unwrap(), "c1-w-r0002");
        assert!(render_name("{{ .nope }}", "ms", "c", &mut sfx).is_err());
        let long = "x".repeat(70);
        let got = render_name(DEFAULT_NAME_TEMPLATE, &long, "c", &mut sfx).unwrap();
        assert_eq!(got.len(), 63);
        // The failed render above drew r0003; this one draws r0004 for `.random` and r0005 for the cut.
        assert!(got.ends_with("r0005"), "{got}");
        assert!(got.starts_with(&"x".repeat(58)));
    }

    #[test]
    fn clone_carries_template_spec_and_metadata() {
        let mut t = Object::new(Kind::DockerMachineTemplate, "default", "workers");
        t.set("/spec/template/spec", json!({"extraMounts": []}));
        t.set("/spec/template/metadata/labels", json!({"tier": "w"}));
        let mut ms = Object::new(Kind::MachineSet, "default", "ms");
        ms.meta.uid = "u-ms".into();
        let labels = crate::object::StrMap::from_iter([("a".to_string(), "b".to_string())]);
        let o = generate_from_template(&t, "ms-x", "c1", &ms, &labels, &Default::default()).unwrap();
        assert_eq!(o.kind, Kind::DockerMachine);
        assert_eq!(o.at("/spec"), Some(&json!({"extraMounts": []})));
        assert_eq!(o.label("tier"), Some("w"));
        assert_eq!(o.label("a"), Some("b"));
        assert_eq!(o.label(keys::CLUSTER_NAME), Some("c1"));
        assert_eq!(o.annotation(keys::CLONED_FROM_GROUPKIND), Some("DockerMachineTemplate.infrastructure.cluster.x-k8s.io"));
        assert!(!o.meta.owner_references[0].controller);
    }

    #[test]
    fn desired_machine_drops_template_refs() {
        let mut ms = Object::new(Kind::MachineSet, "default", "ms");
        ms.meta.labels.insert(keys::DEPLOYMENT_NAME.into(), "md".into());
        ms.set("/spec/clusterName", json!("c1"));
        ms.set(
            "/spec/template",
            json!({"metadata": {"labels": {"x": "y"}}, "spec": {"clusterName": "c1", "version": "v1.34.0", "minReadySeconds": 5,
                "bootstrap": {"configRef": {"kind": "KubeadmConfigTemplate", "name": "t"}},
                "infrastructureRef": {"kind": "DockerMachineTemplate", "name": "d"}}}),
        );
        let m = desired_machine(&ms, "ms-abcde");
        assert_eq!(m.str_at("/spec/version"), Some("v1.34.0"));
        assert_eq!(m.i64_at("/spec/minReadySeconds"), Some(5));
        assert!(m.at("/spec/infrastructureRef").is_none() && m.at("/spec/bootstrap").is_none());
        assert_eq!(m.label(keys::SET_NAME), Some("ms"));
        assert_eq!(m.label(keys::DEPLOYMENT_NAME), Some("md"));
        assert_eq!(m.label("x"), Some("y"));
        assert!(m.controller_ref().is_some_and(|r| r.kind == "MachineSet"));
        assert_eq!(m.meta.finalizers, vec![MACHINE_FINALIZER.to_string()]);
    }
}

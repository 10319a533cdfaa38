//! The desired state of a topology Cluster: which objects should exist, with which names, labels,
//! references and versions, generated from the ClusterClass templates after the ClusterClass patches
//! were applied to them (with the builtin variables describing the desired objects).
//! Source: `exp/topology/desiredstate/desired_state.go` (`Generate`, `computeInfrastructureCluster`,
//! `computeControlPlane*`, `computeCluster`, `computeMachineDeployment`, `computeMachinePool`,
//! `templateToObject`, `templateToTemplate`, `computeMachineHealthCheck`),
//! `internal/topology/names/names.go`, `internal/topology/selectors/selectors.go`,
//! `core/reconcilers/topology/cluster/patches/variables/variables.go` (builtins).
//!
//! Names are generated only for objects that do not exist yet; existing objects keep theirs (found
//! through the Cluster's references and the topology labels).
//!
//! This file holds `Generate` (the infrastructure cluster, the control plane and its machine template
//! and MachineHealthCheck, the Cluster's references, the upgrade step, then the workers);
//! `workers.rs` the MachineDeployments and MachinePools, `templates.rs` stamping objects out of
//! templates, `builtins.rs` the Cluster's builtin variables, `names.rs` generated names.

use super::patches::{self, Holder, Item, Version};
use super::state::{Blueprint, Current};
use super::upgrade::{self, CurrentCp, Tracker};
use crate::controllers::common::keys;
use crate::kinds::Kind;
use crate::mutants::Mutant;
use crate::object::Object;
use crate::object::Ptr;
use crate::runtime::Ctx;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

mod builtins;
mod names;
mod templates;
mod workers;

pub use builtins::cluster_builtins;
use builtins::metadata_builtin;
pub use names::{simple_name, templated_name};
pub use templates::{
    contract_ref, machine_health_check, merge_first_wins, str_map, template_to_object, template_to_template,
    DEFAULT_NODE_STARTUP_TIMEOUT_SECONDS,
};
use templates::{first_defined, health_check_defined, map_json};
use workers::{machine_deployment, machine_pool, worker_plan};
pub use workers::{DesiredMd, DesiredMp};

/// The desired state.
#[derive(Clone, Debug)]
pub struct Desired {
    /// Infrastructure cluster.
    pub infra: Object,
    /// Control plane.
    pub cp: Object,
    /// Control plane machine template.
    pub cp_machine: Option<Object>,
    /// Control plane MachineHealthCheck.
    pub cp_mhc: Option<Object>,
    /// `Cluster.spec.infrastructureRef`.
    pub infra_ref: Value,
    /// `Cluster.spec.controlPlaneRef`.
    pub cp_ref: Value,
    /// The upgrade-step annotation (None: remove it).
    pub upgrade_step: Option<String>,
    /// MachineDeployments by topology name, in topology order.
    pub mds: Vec<(String, DesiredMd)>,
    /// MachinePools by topology name, in topology order.
    pub mps: Vec<(String, DesiredMp)>,
}

/// A JSON array as a slice (empty when absent or not an array).
fn json_list(v: Option<&Value>) -> &[Value] {
    v.and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

/// Compute the desired state (`Generate`). `cluster` carries the defaulted topology.
pub fn generate(
    ctx: &mut Ctx<'_>,
    memo: &patches::Memo,
    cluster: &Object,
    bp: &Blueprint,
    cur: &Current,
    t: &mut Tracker,
) -> Result<Desired, String> {
    let topo = cluster.at("/spec/topology").cloned().unwrap_or(Value::Null);
    let topology_version = topo.get("version").and_then(Value::as_str).unwrap_or("").to_string();
    let class = &bp.class;
    let cname = cluster.name().to_string();
    let ns = cluster.namespace().to_string();

    // Names of the infrastructure cluster, the control plane and its machine template.
    let infra_name = match cluster.str_at("/spec/infrastructureRef/name").filter(|n| !n.is_empty()) {
        Some(n) => n.to_string(),
        None => {
            let tpl = class
                .str_at("/spec/infrastructure/naming/template")
                .filter(|t| !t.is_empty())
                .unwrap_or("{{ .cluster.name }}-{{ .random }}");
            templated_name(ctx, tpl, &cname, json!({}))?
        }
    };
    let current_cp_machine =
        cur.cp.as_ref().and_then(|cp| cp.str_at("/spec/machineTemplate/spec/infrastructureRef/name")).filter(|n| !n.is_empty());
    let cp_machine_name = if bp.cp_machine.is_none() {
        None
    } else if let Some(n) = current_cp_machine {
        Some(n.to_string())
    } else {
        Some(simple_name(ctx, &format!("{cname}-")))
    };

    // Upgrade plan and what is upgrading now.
    let md_versions: Vec<String> = cur.mds.values().map(|m| m.md.str_at("/spec/template/spec/version").unwrap_or("").to_string()).collect();
    let mp_versions: Vec<String> = cur.mps.values().map(|m| m.mp.str_at("/spec/template/spec/version").unwrap_or("").to_string()).collect();
    let class_versions: Vec<String> = class
        .at("/spec/kubernetesVersions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect();
    upgrade::compute_plan(
        t,
        &topology_version,
        cur.cp.as_ref().and_then(|c| c.str_at("/spec/version")),
        &md_versions,
        &mp_versions,
        &class_versions,
    )?;
    for st in cur.mds.values() {
        let version = st.md.str_at("/spec/template/spec/version").unwrap_or("");
        let selector = str_map(st.md.at("/spec/selector/matchLabels"));
        let machines = ctx
            .cache
            .in_cluster_ns(Kind::Machine, &ns, &cname)
            .filter(|m| selector.iter().all(|(k, v)| m.label(k) == Some(v.as_str())))
            .map(|m| &**m);
        let upgrading = upgrade::machines_upgrading(version, machines).map_err(|e| {
            format!("failed to check if any MachineDeployment is upgrading: failed to list upgrading MachineDeployments: failed to check if MachineDeployment {} is upgrading: {e}", st.md.name())
        })?;
        if upgrading {
            t.mds.upgrading.insert(st.md.name().to_string());
        }
    }
    let pools_have_machines =
        cur.mps.values().any(|m| m.mp.at("/status/nodeRefs").and_then(Value::as_array).is_some_and(|a| !a.is_empty()));
    if pools_have_machines {
        let wl = ctx.world.workload(&cname).map_err(|e| format!("failed to check if any MachinePool is upgrading: {e}"))?;
        for st in cur.mps.values() {
            let version = st.mp.str_at("/spec/template/spec/version").unwrap_or("");
            if version.is_empty() {
                continue;
            }
            for r in st.mp.at("/status/nodeRefs").and_then(Value::as_array).into_iter().flatten() {
                let node = r.get("name").and_then(Value::as_str).unwrap_or("");
                let kubelet = wl.nodes.get(node).map(|n| n.kubelet_version.as_str()).ok_or_else(|| {
                    format!("failed to check if any MachinePool is upgrading: failed to check if MachinePool {} is upgrading: failed to get Node {node}", st.mp.name())
                })?;
                if kubelet != version {
                    t.mps.upgrading.insert(st.mp.name().to_string());
                    break;
                }
            }
        }
    }

    // Control plane version, name and metadata.
    let current_cp = match &cur.cp {
        Some(cp) => Some(CurrentCp {
            version: cp.str_at("/spec/version").unwrap_or("").to_string(),
            provisioning: upgrade::cp_provisioning(cp),
            upgrading: upgrade::cp_upgrading(cp)
                .map_err(|e| format!("failed to compute ControlPlane: failed to compute version of ControlPlane: {e}"))?,
        }),
        None => None,
    };
    let cp_version = upgrade::control_plane_version(t, &topology_version, current_cp.as_ref())
        .map_err(|e| format!("failed to compute ControlPlane: failed to compute version of ControlPlane: {e}"))?;
    let cp_name = match cluster.str_at("/spec/controlPlaneRef/name").filter(|n| !n.is_empty()) {
        Some(n) => n.to_string(),
        None => {
            let tpl =
                class.str_at("/spec/controlPlane/naming/template").filter(|t| !t.is_empty()).unwrap_or("{{ .cluster.name }}-{{ .random }}");
            templated_name(ctx, tpl, &cname, json!({}))?
        }
    };
    let mut cp_labels =
        merge_first_wins(&str_map(topo.ptr("/controlPlane/metadata/labels")), &str_map(class.at("/spec/controlPlane/metadata/labels")));
    cp_labels.insert(keys::CLUSTER_NAME.into(), cname.clone());
    cp_labels.insert(keys::TOPOLOGY_OWNED.into(), String::new());
    let cp_annotations = merge_first_wins(
        &str_map(topo.ptr("/controlPlane/metadata/annotations")),
        &str_map(class.at("/spec/controlPlane/metadata/annotations")),
    );
    let cp_replicas = topo.ptr("/controlPlane/replicas").cloned().filter(|r| !r.is_null());

    // Workers: names, versions, metadata.
    let workers_first = ctx.mutant(Mutant::TopologyWorkersFirst);
    let md_list: Vec<Value> = topo.ptr("/workers/machineDeployments").and_then(Value::as_array).cloned().unwrap_or_default();
    let mut md_plans = Vec::new();
    for md in &md_list {
        md_plans.push(worker_plan(ctx, cluster, bp, cur, t, md, &md_list, false, &topology_version, workers_first)?);
    }
    let mp_list: Vec<Value> = topo.ptr("/workers/machinePools").and_then(Value::as_array).cloned().unwrap_or_default();
    let mut mp_plans = Vec::new();
    for mp in &mp_list {
        mp_plans.push(worker_plan(ctx, cluster, bp, cur, t, mp, &mp_list, true, &topology_version, workers_first)?);
    }

    // Patches, applied to copies of the templates.
    let mut cp_builtin = json!({"version": cp_version, "name": cp_name});
    if let Some(r) = &cp_replicas {
        cp_builtin["replicas"] = r.clone();
    }
    let mut cp_all_labels = str_map(bp.cp.at("/spec/template/metadata/labels"));
    cp_all_labels.extend(cp_labels.clone());
    let mut cp_all_annotations = str_map(bp.cp.at("/spec/template/metadata/annotations"));
    cp_all_annotations.extend(cp_annotations.clone());
    if let Some(m) = metadata_builtin(&cp_all_labels, &cp_all_annotations) {
        cp_builtin["metadata"] = m;
    }
    if let Some(n) = &cp_machine_name {
        cp_builtin["machineTemplate"] = json!({"infrastructureRef": {"name": n}});
    }
    let cp_builtin = json!({"controlPlane": cp_builtin});
    let cp_overrides: Vec<Value> = topo.ptr("/controlPlane/variables/overrides").and_then(Value::as_array).cloned().unwrap_or_default();
    let mut items = vec![
        Item {
            holder: Holder::InfraCluster,
            template: memo.template_json(&bp.infra),
            source: Version::of(&bp.infra),
            builtin: json!({}),
            overrides: vec![],
        },
        Item {
            holder: Holder::ControlPlane,
            template: memo.template_json(&bp.cp),
            source: Version::of(&bp.cp),
            builtin: cp_builtin.clone(),
            overrides: cp_overrides.clone(),
        },
    ];
    if let Some(m) = &bp.cp_machine {
        items.push(Item {
            holder: Holder::ControlPlaneMachine,
            template: memo.template_json(m),
            source: Version::of(m),
            builtin: cp_builtin,
            overrides: cp_overrides,
        });
    }
    for (plans, pools) in [(&md_plans, false), (&mp_plans, true)] {
        for p in plans.iter() {
            let key = if pools { "machinePool" } else { "machineDeployment" };
            let mut b = json!({"version": p.version, "class": p.topo.get("class").cloned().unwrap_or(json!("")), "name": p.name, "topologyName": p.topo_name,
                "bootstrap": {"configRef": {"name": p.bootstrap_name}}, "infrastructureRef": {"name": p.infra_name}});
            if let Some(r) = p.topo.get("replicas").filter(|r| !r.is_null()) {
                b["replicas"] = r.clone();
            }
            if let Some(m) = metadata_builtin(&p.labels, &p.annotations) {
                b["metadata"] = m;
            }
            let builtin = json!({key: b});
            let overrides: Vec<Value> = p.topo.ptr("/variables/overrides").and_then(Value::as_array).cloned().unwrap_or_default();
            let (hb, hi) = if pools {
                (Holder::MpBootstrap(p.topo_name.clone()), Holder::MpInfra(p.topo_name.clone()))
            } else {
                (Holder::MdBootstrap(p.topo_name.clone()), Holder::MdInfra(p.topo_name.clone()))
            };
            let (b, i) = (&p.class.bootstrap, &p.class.infra);
            items.push(Item {
                holder: hb,
                template: memo.template_json(b),
                source: Version::of(b),
                builtin: builtin.clone(),
                overrides: overrides.clone(),
            });
            items.push(Item { holder: hi, template: memo.template_json(i), source: Version::of(i), builtin, overrides });
        }
    }
    let class_patches = json_list(class.at("/spec/patches"));
    if !class_patches.is_empty() {
        let (status_vars, topo_vars) = (json_list(class.at("/status/variables")), json_list(topo.get("variables")));
        patches::apply(memo, Version::of(class).as_ref(), class_patches, status_vars, topo_vars, &cluster_builtins(cluster), &mut items)
            .map_err(|e| format!("failed to apply patches: {e}"))?;
    }
    let patched = |h: &Holder| items.iter().find(|i| &i.holder == h).map_or(&Value::Null, |i| &*i.template);

    // Infrastructure cluster.
    let mut infra = template_to_object(&bp.infra, patched(&Holder::InfraCluster), cluster, &infra_name, &BTreeMap::new(), &BTreeMap::new())
        .map_err(|e| format!("failed to compute InfrastructureCluster: {e}"))?;
    drop_zero_endpoint(&mut infra);

    // Control plane machine template and control plane.
    let cp_machine = match (&bp.cp_machine, &cp_machine_name) {
        (Some(m), Some(n)) => Some(template_to_template(m, patched(&Holder::ControlPlaneMachine), cluster, n, &[])),
        _ => None,
    };
    let mut cp = template_to_object(&bp.cp, patched(&Holder::ControlPlane), cluster, &cp_name, &cp_labels, &cp_annotations)
        .map_err(|e| format!("failed to compute ControlPlane: {e}"))?;
    drop_zero_endpoint(&mut cp);
    if let Some(m) = &cp_machine {
        cp.set("/spec/machineTemplate/spec/infrastructureRef", contract_ref(m.kind, m.name()));
        let l = merge_first_wins(&cp_labels, &str_map(cp.at("/spec/machineTemplate/metadata/labels")));
        let a = merge_first_wins(&cp_annotations, &str_map(cp.at("/spec/machineTemplate/metadata/annotations")));
        cp.set("/spec/machineTemplate/metadata/labels", map_json(&l));
        if a.is_empty() {
            cp.remove("/spec/machineTemplate/metadata/annotations");
        } else {
            cp.set("/spec/machineTemplate/metadata/annotations", map_json(&a));
        }
    }
    if let Some(r) = &cp_replicas {
        cp.set("/spec/replicas", r.clone());
    }
    if let Some(after) = topo.ptr("/controlPlane/rollout/after").filter(|a| !a.is_null()) {
        cp.set("/spec/rollout/after", after.clone());
    }
    for (field, pointer) in
        [("readinessGates", "/spec/machineTemplate/spec/readinessGates"), ("taints", "/spec/machineTemplate/spec/taints")]
    {
        if let Some(v) = first_defined(topo.ptr(&format!("/controlPlane/{field}")), class.at(&format!("/spec/controlPlane/{field}"))) {
            cp.set(pointer, v.clone());
        }
    }
    for t_ in ["nodeDrainTimeoutSeconds", "nodeVolumeDetachTimeoutSeconds", "nodeDeletionTimeoutSeconds"] {
        if let Some(v) =
            first_defined(topo.ptr(&format!("/controlPlane/deletion/{t_}")), class.at(&format!("/spec/controlPlane/deletion/{t_}")))
        {
            cp.set(&format!("/spec/machineTemplate/spec/deletion/{t_}"), v.clone());
        }
    }
    cp.set("/spec/version", json!(cp_version));

    // Control plane MachineHealthCheck.
    let cp_mhc = if bp.cp_machine.is_some() {
        let topo_hc = topo.ptr("/controlPlane/healthCheck");
        let class_hc = class.at("/spec/controlPlane/healthCheck");
        let defined = health_check_defined(topo_hc) || health_check_defined(class_hc);
        let enabled = topo_hc.and_then(|h| h.get("enabled")).and_then(Value::as_bool).unwrap_or(true);
        (defined && enabled).then(|| {
            let hc = if health_check_defined(topo_hc) { topo_hc } else { class_hc };
            let selector = json!({"matchLabels": {keys::TOPOLOGY_OWNED: "", keys::CONTROL_PLANE: ""}});
            machine_health_check(&cp_name, cluster, selector, hc.unwrap_or(&Value::Null))
        })
    } else {
        None
    };

    // MachineDeployments.
    let mut mds = Vec::new();
    for p in md_plans {
        let pb = patched(&Holder::MdBootstrap(p.topo_name.clone()));
        let pi = patched(&Holder::MdInfra(p.topo_name.clone()));
        mds.push((p.topo_name.clone(), machine_deployment(cluster, &p, pb, pi)));
    }
    let mut mps = Vec::new();
    for p in mp_plans {
        let pb = patched(&Holder::MpBootstrap(p.topo_name.clone()));
        let pi = patched(&Holder::MpInfra(p.topo_name.clone()));
        mps.push((p.topo_name.clone(), machine_pool(cluster, &p, pb, pi)?));
    }

    let upgrading = !t.cp.plan.is_empty() || !t.mds.plan.is_empty() || !t.mps.plan.is_empty();
    Ok(Desired {
        infra_ref: contract_ref(infra.kind, infra.name()),
        cp_ref: contract_ref(cp.kind, cp.name()),
        upgrade_step: upgrading.then(|| cp_version.clone()),
        infra,
        cp,
        cp_machine,
        cp_mhc,
        mds,
        mps,
    })
}

/// `IgnorePaths`: a zero control plane endpoint in a template is not reconciled (the provider sets it).
fn drop_zero_endpoint(o: &mut Object) {
    if o.str_at("/spec/controlPlaneEndpoint/host") == Some("") {
        o.remove("/spec/controlPlaneEndpoint/host");
    }
    if o.i64_at("/spec/controlPlaneEndpoint/port") == Some(0) {
        o.remove("/spec/controlPlaneEndpoint/port");
    }
    if o.at("/spec/controlPlaneEndpoint").and_then(Value::as_object).is_some_and(Map::is_empty) {
        o.remove("/spec/controlPlaneEndpoint");
    }
}

#[cfg(test)]
mod tests;

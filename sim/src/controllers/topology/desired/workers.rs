//! The desired MachineDeployments and MachinePools of a topology: per worker topology the plan
//! (names, version, labels, annotations, builtins) before patches, then the objects from the patched
//! templates (MachineDeployment with its bootstrap and infrastructure templates and
//! MachineHealthCheck; MachinePool with its bootstrap config and infrastructure pool).
//! Source: `exp/topology/desiredstate/desired_state.go` (`computeMachineDeployment`,
//! `computeMachinePool`, `computeMachineDeploymentVersion`, `computeMachinePoolVersion`).

use crate::controllers::common::{keys, set_owner};
use crate::controllers::topology::state::{Blueprint, Current, WorkerClass};
use crate::controllers::topology::upgrade::{self, Tracker};
use crate::kinds::Kind;
use crate::object::Object;
use crate::object::Ptr;
use crate::runtime::Ctx;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

use super::names::{simple_name, templated_name};
use super::templates::{
    contract_ref, first_defined, health_check_defined, machine_health_check, map_json, merge_first_wins, str_map, template_to_object,
    template_to_template,
};

/// The desired objects of one MachineDeployment topology.
#[derive(Clone, Debug)]
pub struct DesiredMd {
    /// The MachineDeployment.
    pub md: Object,
    /// Its bootstrap template.
    pub bootstrap: Object,
    /// Its infrastructure machine template.
    pub infra: Object,
    /// Its MachineHealthCheck.
    pub mhc: Option<Object>,
}

/// The desired objects of one MachinePool topology.
#[derive(Clone, Debug)]
pub struct DesiredMp {
    /// The MachinePool.
    pub mp: Object,
    /// Its bootstrap config.
    pub bootstrap: Object,
    /// Its infrastructure machine pool.
    pub infra: Object,
}

/// The per-topology plan of a MachineDeployment/MachinePool before patches: names and builtins.
pub(super) struct WorkerPlan {
    pub(super) topo: Value,
    pub(super) topo_name: String,
    pub(super) class: WorkerClass,
    pub(super) name: String,
    pub(super) bootstrap_name: String,
    pub(super) infra_name: String,
    pub(super) version: String,
    pub(super) labels: BTreeMap<String, String>,
    pub(super) annotations: BTreeMap<String, String>,
}

#[allow(clippy::too_many_arguments)]
pub(super) fn worker_plan(
    ctx: &mut Ctx<'_>,
    cluster: &Object,
    bp: &Blueprint,
    cur: &Current,
    t: &mut Tracker,
    topo: &Value,
    list: &[Value],
    pools: bool,
    topology_version: &str,
    workers_first: bool,
) -> Result<WorkerPlan, String> {
    let (what, classes, name_label, name_key) = if pools {
        ("MachinePool", &bp.mps, keys::TOPOLOGY_POOL_NAME, "machinePool")
    } else {
        ("MachineDeployment", &bp.mds, keys::TOPOLOGY_DEPLOYMENT_NAME, "machineDeployment")
    };
    let topo_name = topo.get("name").and_then(Value::as_str).unwrap_or("").to_string();
    let class_name = topo.get("class").and_then(Value::as_str).unwrap_or("");
    let class = classes.get(class_name).cloned().ok_or_else(|| {
        format!(
            "failed to compute {what}s: failed to compute {what} for topology {topo_name:?}: {what} class {class_name} not found in ClusterClass {}/{}",
            bp.class.namespace(),
            bp.class.name()
        )
    })?;
    let cname = cluster.name();
    let (existing, bootstrap_cur, infra_cur) = if pools {
        match cur.mps.get(&topo_name) {
            Some(s) => (Some(s.mp.clone()), Some(s.bootstrap.name().to_string()), Some(s.infra.name().to_string())),
            None => (None, None, None),
        }
    } else {
        match cur.mds.get(&topo_name) {
            Some(s) => {
                (Some(s.md.clone()), s.bootstrap.as_ref().map(|b| b.name().to_string()), s.infra.as_ref().map(|i| i.name().to_string()))
            }
            None => (None, None, None),
        }
    };
    let prefix = format!("{cname}-{topo_name}-");
    let bootstrap_name = match bootstrap_cur {
        Some(n) => n,
        None => simple_name(ctx, &prefix),
    };
    let infra_name = match infra_cur {
        Some(n) => n,
        None => simple_name(ctx, &prefix),
    };
    let current =
        existing.as_ref().map(|o: &Arc<Object>| (o.name().to_string(), o.str_at("/spec/template/spec/version").unwrap_or("").to_string()));
    let version = upgrade::worker_version(
        t,
        pools,
        topology_version,
        list,
        &topo_name,
        current.as_ref().map(|(n, v)| (n.as_str(), v.as_str())),
        workers_first,
    )
    .map_err(|e| format!("failed to compute {what}s: failed to compute {what} for topology {topo_name:?}: {e}"))?;
    let name = match &existing {
        Some(o) => o.name().to_string(),
        None => {
            let default_tpl = format!("{{{{ .cluster.name }}}}-{{{{ .{name_key}.topologyName }}}}-{{{{ .random }}}}");
            let tpl = class
                .def
                .ptr("/naming/template")
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty())
                .map(str::to_string)
                .unwrap_or(default_tpl);
            templated_name(ctx, &tpl, cname, json!({name_key: {"topologyName": topo_name}}))?
        }
    };
    let mut annotations = merge_first_wins(&str_map(topo.ptr("/metadata/annotations")), &str_map(class.def.ptr("/metadata/annotations")));
    annotations.remove(upgrade::HOLD_UPGRADE_SEQUENCE);
    annotations.remove(upgrade::DEFER_UPGRADE);
    let mut labels = merge_first_wins(&str_map(topo.ptr("/metadata/labels")), &str_map(class.def.ptr("/metadata/labels")));
    labels.insert(keys::CLUSTER_NAME.into(), cname.to_string());
    labels.insert(keys::TOPOLOGY_OWNED.into(), String::new());
    labels.insert(name_label.into(), topo_name.clone());
    Ok(WorkerPlan { topo: topo.clone(), topo_name, class, name, bootstrap_name, infra_name, version, labels, annotations })
}

pub(super) fn machine_deployment(cluster: &Object, p: &WorkerPlan, patched_bootstrap: &Value, patched_infra: &Value) -> DesiredMd {
    let cname = cluster.name();
    let label = [(keys::TOPOLOGY_DEPLOYMENT_NAME, p.topo_name.as_str())];
    let bootstrap = template_to_template(&p.class.bootstrap, patched_bootstrap, cluster, &p.bootstrap_name, &label);
    let infra = template_to_template(&p.class.infra, patched_infra, cluster, &p.infra_name, &label);
    let topo = &p.topo;
    let cls = &p.class.def;
    let mut md = Object::new(Kind::MachineDeployment, cluster.namespace(), &p.name);
    md.meta.labels = p.labels.clone().into();
    md.meta.annotations = p.annotations.clone().into();
    md.set("/spec/clusterName", json!(cname));
    if let Some(r) = topo.get("replicas").filter(|r| !r.is_null()) {
        md.set("/spec/replicas", r.clone());
    }
    md.set(
        "/spec/selector",
        json!({"matchLabels": {keys::CLUSTER_NAME: cname, keys::TOPOLOGY_OWNED: "", keys::TOPOLOGY_DEPLOYMENT_NAME: p.topo_name}}),
    );
    md.set("/spec/template/metadata/labels", map_json(&p.labels));
    if !p.annotations.is_empty() {
        md.set("/spec/template/metadata/annotations", map_json(&p.annotations));
    }
    md.set("/spec/template/spec/clusterName", json!(cname));
    md.set("/spec/template/spec/version", json!(p.version));
    md.set("/spec/template/spec/bootstrap/configRef", contract_ref(bootstrap.kind, bootstrap.name()));
    md.set("/spec/template/spec/infrastructureRef", contract_ref(infra.kind, infra.name()));
    if let Some(fd) = first_defined(
        topo.get("failureDomain").filter(|f| f.as_str() != Some("")),
        cls.get("failureDomain").filter(|f| f.as_str() != Some("")),
    ) {
        md.set("/spec/template/spec/failureDomain", fd.clone());
    }
    for t_ in ["nodeDrainTimeoutSeconds", "nodeVolumeDetachTimeoutSeconds", "nodeDeletionTimeoutSeconds"] {
        if let Some(v) = first_defined(topo.ptr(&format!("/deletion/{t_}")), cls.ptr(&format!("/deletion/{t_}"))) {
            md.set(&format!("/spec/template/spec/deletion/{t_}"), v.clone());
        }
    }
    for (field, pointer) in [
        ("readinessGates", "/spec/template/spec/readinessGates"),
        ("taints", "/spec/template/spec/taints"),
        ("minReadySeconds", "/spec/template/spec/minReadySeconds"),
    ] {
        if let Some(v) = first_defined(topo.get(field), cls.get(field)) {
            md.set(pointer, v.clone());
        }
    }
    if let Some(o) = first_defined(
        topo.ptr("/deletion/order").filter(|o| o.as_str() != Some("")),
        cls.ptr("/deletion/order").filter(|o| o.as_str() != Some("")),
    ) {
        md.set("/spec/deletion/order", o.clone());
    }
    if let Some(m) = first_defined(topo.ptr("/healthCheck/remediation/maxInFlight"), cls.ptr("/healthCheck/remediation/maxInFlight")) {
        md.set("/spec/remediation/maxInFlight", m.clone());
    }
    let non_empty = |v: Option<&Value>| v.and_then(Value::as_object).is_some_and(|m| !m.is_empty());
    if non_empty(topo.get("rollout")) {
        md.set("/spec/rollout", topo["rollout"].clone());
    } else if non_empty(cls.get("rollout")) {
        md.set("/spec/rollout", cls["rollout"].clone());
    }
    let topo_hc = topo.get("healthCheck");
    let class_hc = cls.get("healthCheck");
    let defined = health_check_defined(topo_hc) || health_check_defined(class_hc);
    let enabled = topo_hc.and_then(|h| h.get("enabled")).and_then(Value::as_bool).unwrap_or(true);
    let mhc = (defined && enabled).then(|| {
        let hc = if health_check_defined(topo_hc) { topo_hc } else { class_hc };
        let selector = json!({"matchLabels": {keys::TOPOLOGY_OWNED: "", keys::TOPOLOGY_DEPLOYMENT_NAME: p.topo_name}});
        machine_health_check(&p.name, cluster, selector, hc.unwrap_or(&Value::Null))
    });
    DesiredMd { md, bootstrap, infra, mhc }
}

pub(super) fn machine_pool(
    cluster: &Object,
    p: &WorkerPlan,
    patched_bootstrap: &Value,
    patched_infra: &Value,
) -> Result<DesiredMp, String> {
    let cname = cluster.name();
    let extra: BTreeMap<String, String> = BTreeMap::from([(keys::TOPOLOGY_POOL_NAME.to_string(), p.topo_name.clone())]);
    let mut bootstrap = template_to_object(&p.class.bootstrap, patched_bootstrap, cluster, &p.bootstrap_name, &extra, &BTreeMap::new())
        .map_err(|e| format!("failed to compute bootstrap object for topology {:?}: {e}", p.topo_name))?;
    set_owner(&mut bootstrap, cluster, false);
    let mut infra = template_to_object(&p.class.infra, patched_infra, cluster, &p.infra_name, &extra, &BTreeMap::new())
        .map_err(|e| format!("failed to compute infrastructure object for topology {:?}: {e}", p.topo_name))?;
    set_owner(&mut infra, cluster, false);
    let topo = &p.topo;
    let cls = &p.class.def;
    let mut mp = Object::new(Kind::MachinePool, cluster.namespace(), &p.name);
    mp.meta.labels = p.labels.clone().into();
    mp.meta.annotations = p.annotations.clone().into();
    mp.set("/spec/clusterName", json!(cname));
    if let Some(r) = topo.get("replicas").filter(|r| !r.is_null()) {
        mp.set("/spec/replicas", r.clone());
    }
    if let Some(fd) = first_defined(topo.get("failureDomains"), cls.get("failureDomains")) {
        mp.set("/spec/failureDomains", fd.clone());
    }
    mp.set("/spec/template/metadata/labels", map_json(&p.labels));
    if !p.annotations.is_empty() {
        mp.set("/spec/template/metadata/annotations", map_json(&p.annotations));
    }
    mp.set("/spec/template/spec/clusterName", json!(cname));
    mp.set("/spec/template/spec/version", json!(p.version));
    mp.set("/spec/template/spec/bootstrap/configRef", contract_ref(bootstrap.kind, bootstrap.name()));
    mp.set("/spec/template/spec/infrastructureRef", contract_ref(infra.kind, infra.name()));
    for t_ in ["nodeDrainTimeoutSeconds", "nodeVolumeDetachTimeoutSeconds", "nodeDeletionTimeoutSeconds"] {
        if let Some(v) = first_defined(topo.ptr(&format!("/deletion/{t_}")), cls.ptr(&format!("/deletion/{t_}"))) {
            mp.set(&format!("/spec/template/spec/deletion/{t_}"), v.clone());
        }
    }
    for (field, pointer) in [("taints", "/spec/template/spec/taints"), ("minReadySeconds", "/spec/template/spec/minReadySeconds")] {
        if let Some(v) = first_defined(topo.get(field), cls.get(field)) {
            mp.set(pointer, v.clone());
        }
    }
    Ok(DesiredMp { mp, bootstrap, infra })
}

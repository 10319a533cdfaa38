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

use super::gotmpl;
use super::patches::{self, Holder, Item, Version};
use super::state::{Blueprint, Current, WorkerClass};
use super::upgrade::{self, CurrentCp, Tracker};
use crate::apply::LAST_APPLIED;
use crate::controllers::common::{keys, set_owner};
use crate::kinds::Kind;
use crate::mutants::Mutant;
use crate::object::Object;
use crate::object::Ptr;
use crate::runtime::Ctx;
use crate::store::error::qualified_kind;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

/// `DefaultNodeStartupTimeoutSeconds` of the MachineHealthCheck webhook.
pub const DEFAULT_NODE_STARTUP_TIMEOUT_SECONDS: i64 = 600;
/// Kubernetes' name length limit and the length of a random suffix.
const MAX_NAME: usize = 63;
const RANDOM: usize = 5;

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

/// Labels/annotations from a JSON map.
pub fn str_map(v: Option<&Value>) -> BTreeMap<String, String> {
    v.and_then(Value::as_object)
        .map(|m| m.iter().filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string()))).collect())
        .unwrap_or_default()
}

/// `util.MergeMap`: keys of the first map win.
pub fn merge_first_wins(first: &BTreeMap<String, String>, second: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut out = second.clone();
    for (k, v) in first {
        out.insert(k.clone(), v.clone());
    }
    out
}

fn map_json(m: &BTreeMap<String, String>) -> Value {
    Value::Object(m.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect())
}

/// A v1beta2 contract reference.
pub fn contract_ref(kind: Kind, name: &str) -> Value {
    json!({"apiGroup": kind.info().group, "kind": kind.name(), "name": name})
}

/// `names.SimpleNameGenerator(prefix)`: the prefix (cut to fit) and five random characters.
pub fn simple_name(ctx: &mut Ctx<'_>, prefix: &str) -> String {
    let max = MAX_NAME - RANDOM;
    let base: String = prefix.chars().take(max).collect();
    format!("{base}{}", ctx.suffix())
}

/// A name from a ClusterClass naming template (`{{ .cluster.name }}-{{ .random }}` by default).
pub fn templated_name(ctx: &mut Ctx<'_>, template: &str, cluster: &str, extra: Value) -> Result<String, String> {
    let mut data = json!({"cluster": {"name": cluster}, "random": ctx.suffix()});
    patches::merge_into(&mut data, &extra);
    let name = gotmpl::render(template, &data).map_err(|e| format!("failed to generate name: rendering template: {e}"))?;
    if name.chars().count() > MAX_NAME {
        let base: String = name.chars().take(MAX_NAME - RANDOM).collect();
        return Ok(format!("{base}{}", ctx.suffix()));
    }
    Ok(name)
}

fn cloned_from(annotations: &mut BTreeMap<String, String>, template: &Object) {
    annotations.insert(keys::CLONED_FROM_NAME.into(), template.name().to_string());
    annotations.insert(keys::CLONED_FROM_GROUPKIND.into(), qualified_kind(template.kind));
}

/// `templateToObject`: the object a template stamps out (its `spec.template`), named `name`, with the
/// cluster and topology labels and the cloned-from annotations.
pub fn template_to_object(
    template: &Object,
    patched: &Value,
    cluster: &Object,
    name: &str,
    labels: &BTreeMap<String, String>,
    annotations: &BTreeMap<String, String>,
) -> Result<Object, String> {
    let kind = template.kind.template_target().ok_or_else(|| format!("{} is not a template kind", template.kind))?;
    let mut o = Object::new(kind, cluster.namespace(), name);
    let mut l = str_map(patched.ptr("/spec/template/metadata/labels"));
    l.extend(labels.iter().map(|(k, v)| (k.clone(), v.clone())));
    l.insert(keys::CLUSTER_NAME.into(), cluster.name().to_string());
    l.insert(keys::TOPOLOGY_OWNED.into(), String::new());
    let mut a = str_map(patched.ptr("/spec/template/metadata/annotations"));
    a.extend(annotations.iter().map(|(k, v)| (k.clone(), v.clone())));
    cloned_from(&mut a, template);
    o.meta.labels = l.into();
    o.meta.annotations = a.into();
    o.set("/spec", patched.ptr("/spec/template/spec").cloned().unwrap_or_else(|| json!({})));
    Ok(o)
}

/// `templateToTemplate`: a per-cluster copy of a template, owned by the Cluster.
pub fn template_to_template(template: &Object, patched: &Value, cluster: &Object, name: &str, extra_labels: &[(&str, &str)]) -> Object {
    let mut o = Object::new(template.kind, cluster.namespace(), name);
    let mut l = str_map(patched.ptr("/metadata/labels"));
    l.insert(keys::CLUSTER_NAME.into(), cluster.name().to_string());
    l.insert(keys::TOPOLOGY_OWNED.into(), String::new());
    for (k, v) in extra_labels {
        l.insert(k.to_string(), v.to_string());
    }
    let mut a = str_map(patched.ptr("/metadata/annotations"));
    cloned_from(&mut a, template);
    a.remove(LAST_APPLIED);
    o.meta.labels = l.into();
    o.meta.annotations = a.into();
    set_owner(&mut o, cluster, false);
    o.set("/spec", patched.get("spec").cloned().unwrap_or_else(|| json!({})));
    o
}

/// Whether a health check definition (`checks` / `remediation`) is set.
fn health_check_defined(hc: Option<&Value>) -> bool {
    let non_empty = |k: &str| hc.and_then(|h| h.get(k)).is_some_and(|v| v.as_object().is_some_and(|m| !m.is_empty()));
    non_empty("checks") || non_empty("remediation")
}

/// `computeMachineHealthCheck`: an MHC named like its target, owned by the Cluster, defaulted as the
/// MHC webhook defaults it.
pub fn machine_health_check(name: &str, cluster: &Object, selector: Value, hc: &Value) -> Object {
    let mut o = Object::new(Kind::MachineHealthCheck, cluster.namespace(), name);
    o.meta.labels.insert(keys::TOPOLOGY_OWNED.into(), String::new());
    o.meta.labels.insert(keys::CLUSTER_NAME.into(), cluster.name().to_string());
    set_owner(&mut o, cluster, false);
    let mut checks = hc.get("checks").filter(|c| c.is_object()).cloned().unwrap_or_else(|| json!({}));
    if checks.get("nodeStartupTimeoutSeconds").is_none() {
        checks["nodeStartupTimeoutSeconds"] = json!(DEFAULT_NODE_STARTUP_TIMEOUT_SECONDS);
    }
    o.set("/spec/clusterName", json!(cluster.name()));
    o.set("/spec/selector", selector);
    o.set("/spec/checks", checks);
    let mut remediation = Map::new();
    for k in ["triggerIf", "templateRef"] {
        if let Some(v) = hc.ptr(&format!("/remediation/{k}")).filter(|v| v.as_object().is_some_and(|m| !m.is_empty())) {
            remediation.insert(k.to_string(), v.clone());
        }
    }
    if !remediation.is_empty() {
        o.set("/spec/remediation", Value::Object(remediation));
    }
    o
}

/// `builtin.*.metadata`: none when there are neither labels nor annotations; otherwise the labels
/// and the annotations but kubectl's last-applied one, each only when there is one. Both maps come
/// in key order.
fn metadata_builtin<'a>(
    labels: impl IntoIterator<Item = (&'a String, &'a String)>,
    annotations: impl IntoIterator<Item = (&'a String, &'a String)>,
) -> Option<Value> {
    let mut annotations = annotations.into_iter().peekable();
    let had_annotations = annotations.peek().is_some();
    let labels: Map<String, Value> = labels.into_iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
    if labels.is_empty() && !had_annotations {
        return None;
    }
    let annotations: Map<String, Value> =
        annotations.filter(|(k, _)| *k != LAST_APPLIED).map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
    let mut m = Map::new();
    if !labels.is_empty() {
        m.insert("labels".into(), Value::Object(labels));
    }
    if !annotations.is_empty() {
        m.insert("annotations".into(), Value::Object(annotations));
    }
    Some(Value::Object(m))
}

/// The cluster-wide builtin variables (`builtin.cluster.*`).
pub fn cluster_builtins(cluster: &Object) -> Value {
    let topo = cluster.at("/spec/topology").cloned().unwrap_or(Value::Null);
    let class = topo.ptr("/classRef/name").and_then(Value::as_str).unwrap_or("");
    let class_ns = topo.ptr("/classRef/namespace").and_then(Value::as_str).filter(|s| !s.is_empty()).unwrap_or(cluster.namespace());
    let mut c = json!({
        "name": cluster.name(),
        "namespace": cluster.namespace(),
        "uid": &*cluster.meta.uid,
        "topology": {"version": topo.get("version").cloned().unwrap_or(json!("")), "class": class, "classNamespace": class_ns,
            "classRef": {"name": class, "namespace": class_ns}},
    });
    if let Some(m) = metadata_builtin(&*cluster.meta.labels, &*cluster.meta.annotations) {
        c["metadata"] = m;
    }
    let mut network = Map::new();
    if let Some(d) = cluster.str_at("/spec/clusterNetwork/serviceDomain").filter(|d| !d.is_empty()) {
        network.insert("serviceDomain".into(), json!(d));
    }
    if let Some(s) = cluster.at("/spec/clusterNetwork/services/cidrBlocks") {
        network.insert("services".into(), s.clone());
    }
    if let Some(p) = cluster.at("/spec/clusterNetwork/pods/cidrBlocks") {
        network.insert("pods".into(), p.clone());
    }
    if !network.is_empty() {
        c["network"] = Value::Object(network);
    }
    json!({"cluster": c})
}

fn first_defined<'a>(topology: Option<&'a Value>, class: Option<&'a Value>) -> Option<&'a Value> {
    topology.filter(|v| !v.is_null()).or(class.filter(|v| !v.is_null()))
}

/// The per-topology plan of a MachineDeployment/MachinePool before patches: names and builtins.
struct WorkerPlan {
    topo: Value,
    topo_name: String,
    class: WorkerClass,
    name: String,
    bootstrap_name: String,
    infra_name: String,
    version: String,
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
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

#[allow(clippy::too_many_arguments)]
fn worker_plan(
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

fn machine_deployment(cluster: &Object, p: &WorkerPlan, patched_bootstrap: &Value, patched_infra: &Value) -> DesiredMd {
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

fn machine_pool(cluster: &Object, p: &WorkerPlan, patched_bootstrap: &Value, patched_infra: &Value) -> Result<DesiredMp, String> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case(&[("a", "1")], &[("a", "2"), ("b", "3")], &[("a", "1"), ("b", "3")])]
    #[case(&[], &[("b", "3")], &[("b", "3")])]
    fn merge_map_keeps_the_first(#[case] a: &[(&str, &str)], #[case] b: &[(&str, &str)], #[case] want: &[(&str, &str)]) {
        let m = |x: &[(&str, &str)]| x.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<BTreeMap<_, _>>();
        assert_eq!(merge_first_wins(&m(a), &m(b)), m(want));
    }

    #[test]
    fn templates_stamp_out_objects_with_topology_metadata() {
        let mut cluster = Object::new(Kind::Cluster, "ns1", "c1");
        cluster.meta.uid = "u-c1".into();
        let mut tpl = Object::new(Kind::KubeadmControlPlaneTemplate, "ns1", "qs-cp");
        tpl.set("/spec/template/metadata/labels", json!({"from-template": "x"}));
        tpl.set("/spec/template/spec/kubeadmConfigSpec", json!({"files": []}));
        let cp = template_to_object(&tpl, &tpl.to_json(), &cluster, "c1-abcde", &BTreeMap::new(), &BTreeMap::new()).unwrap();
        assert_eq!(cp.kind, Kind::KubeadmControlPlane);
        assert_eq!(cp.label(keys::CLUSTER_NAME), Some("c1"));
        assert_eq!(cp.label(keys::TOPOLOGY_OWNED), Some(""));
        assert_eq!(cp.label("from-template"), Some("x"));
        assert_eq!(cp.annotation(keys::CLONED_FROM_NAME), Some("qs-cp"));
        assert_eq!(cp.annotation(keys::CLONED_FROM_GROUPKIND), Some("KubeadmControlPlaneTemplate.controlplane.cluster.x-k8s.io"));
        assert_eq!(cp.at("/spec/kubeadmConfigSpec"), Some(&json!({"files": []})));
        assert!(cp.meta.owner_references.is_empty());

        let mut mt = Object::new(Kind::DevMachineTemplate, "ns1", "qs-md");
        mt.meta.annotations.insert(LAST_APPLIED.into(), "{}".into());
        mt.set("/spec/template/spec/backend", json!({"docker": {}}));
        let copy = template_to_template(&mt, &mt.to_json(), &cluster, "c1-md-0-xyz12", &[(keys::TOPOLOGY_DEPLOYMENT_NAME, "md-0")]);
        assert_eq!(copy.kind, Kind::DevMachineTemplate);
        assert_eq!(copy.label(keys::TOPOLOGY_DEPLOYMENT_NAME), Some("md-0"));
        assert!(copy.annotation(LAST_APPLIED).is_none());
        assert_eq!(copy.meta.owner_references[0].name, "c1");
        assert!(!copy.meta.owner_references[0].controller);
    }

    #[test]
    fn health_checks_are_defaulted_like_the_webhook() {
        let mut cluster = Object::new(Kind::Cluster, "ns1", "c1");
        cluster.meta.uid = "u".into();
        let m = machine_health_check("c1-cp", &cluster, json!({"matchLabels": {}}), &json!({"checks": {"unhealthyNodeConditions": []}}));
        assert_eq!(m.i64_at("/spec/checks/nodeStartupTimeoutSeconds"), Some(600));
        assert_eq!(m.label(keys::TOPOLOGY_OWNED), Some(""));
        assert!(m.at("/spec/remediation").is_none());
        assert!(health_check_defined(Some(&json!({"checks": {"a": 1}}))));
        assert!(!health_check_defined(Some(&json!({"enabled": true}))));
    }
}

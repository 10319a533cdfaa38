//! What the topology controller reads before deciding anything: the blueprint (the ClusterClass and
//! the templates it references) and the current state (the objects generated for the Cluster so far,
//! found through the Cluster's references and the topology labels — never by name guessing).
//! Sources: `core/reconcilers/topology/cluster/blueprint.go`, `core/reconcilers/topology/cluster/current_state.go`,
//! `core/reconcilers/topology/cluster/util.go`.

use crate::controllers::common::{keys, ref_key};
use crate::kinds::Kind;
use crate::object::Object;
use crate::object::Ptr;
use crate::runtime::Ctx;
use crate::store::error::resource_name;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

/// A MachineDeployment or MachinePool class of the blueprint.
#[derive(Clone, Debug)]
pub struct WorkerClass {
    /// The class definition (`spec.workers.machineDeployments[]` entry).
    pub def: Value,
    /// Its bootstrap template.
    pub bootstrap: Arc<Object>,
    /// Its infrastructure template.
    pub infra: Arc<Object>,
}

/// The ClusterClass and its templates.
#[derive(Clone, Debug)]
pub struct Blueprint {
    /// The ClusterClass.
    pub class: Arc<Object>,
    /// Infrastructure cluster template.
    pub infra: Arc<Object>,
    /// Control plane template.
    pub cp: Arc<Object>,
    /// Control plane machine infrastructure template, when the class has one.
    pub cp_machine: Option<Arc<Object>>,
    /// MachineDeployment classes by name.
    pub mds: BTreeMap<String, WorkerClass>,
    /// MachinePool classes by name.
    pub mps: BTreeMap<String, WorkerClass>,
}

/// `failed to retrieve <Kind> <ns>/<name>: ...` as `external.Get` reports a missing object.
pub fn get_ref(ctx: &Ctx<'_>, r: &Value, ns: &str) -> Result<Arc<Object>, String> {
    let kind_name = r.get("kind").and_then(Value::as_str).unwrap_or("");
    let name = r.get("name").and_then(Value::as_str).unwrap_or("");
    let Some(key) = ref_key(r, ns) else {
        return Err(format!("failed to retrieve {kind_name} {ns}/{name}: no matches for kind {kind_name:?}"));
    };
    ctx.get(&key).cloned().ok_or_else(|| {
        let inner = format!("failed to retrieve {kind_name} {ns}/{name}: {} \"{name}\" not found", resource_name(key.kind));
        format!("failed to retrieve {kind_name} {ns}/{name}: {inner}")
    })
}

impl Blueprint {
    /// Read the templates of a ClusterClass (`getBlueprint`).
    pub fn read(ctx: &Ctx<'_>, class: &Arc<Object>) -> Result<Blueprint, String> {
        let ns = class.namespace();
        let cc = format!("{ns}/{}", class.name());
        let tref = |p: &str| class.at(p).cloned().unwrap_or(Value::Null);
        let infra = get_ref(ctx, &tref("/spec/infrastructure/templateRef"), ns)
            .map_err(|e| format!("failed to get infrastructure cluster template for ClusterClass {cc}: {e}"))?;
        let cp = get_ref(ctx, &tref("/spec/controlPlane/templateRef"), ns)
            .map_err(|e| format!("failed to get control plane template for ClusterClass {cc}: {e}"))?;
        let cp_machine = match class.at("/spec/controlPlane/machineInfrastructure/templateRef") {
            Some(r) if r.get("name").and_then(Value::as_str).is_some_and(|n| !n.is_empty()) => Some(
                get_ref(ctx, r, ns).map_err(|e| format!("failed to get control plane's machine template for ClusterClass {cc}: {e}"))?,
            ),
            _ => None,
        };
        let mut mds = BTreeMap::new();
        for def in class.at("/spec/workers/machineDeployments").and_then(Value::as_array).into_iter().flatten() {
            let name = def.get("class").and_then(Value::as_str).unwrap_or("").to_string();
            let infra = get_ref(ctx, def.ptr("/infrastructure/templateRef").unwrap_or(&Value::Null), ns).map_err(|e| {
                format!("failed to get infrastructure machine template for ClusterClass {cc}, MachineDeployment class {name:?}: {e}")
            })?;
            let bootstrap = get_ref(ctx, def.ptr("/bootstrap/templateRef").unwrap_or(&Value::Null), ns).map_err(|e| {
                format!("failed to get bootstrap config template for ClusterClass {cc}, MachineDeployment class {name:?}: {e}")
            })?;
            mds.insert(name, WorkerClass { def: def.clone(), bootstrap, infra });
        }
        let mut mps = BTreeMap::new();
        for def in class.at("/spec/workers/machinePools").and_then(Value::as_array).into_iter().flatten() {
            let name = def.get("class").and_then(Value::as_str).unwrap_or("").to_string();
            let infra = get_ref(ctx, def.ptr("/infrastructure/templateRef").unwrap_or(&Value::Null), ns).map_err(|e| {
                format!("failed to get InfrastructureMachinePoolTemplate for ClusterClass {cc}, MachinePool class {name:?}: {e}")
            })?;
            let bootstrap = get_ref(ctx, def.ptr("/bootstrap/templateRef").unwrap_or(&Value::Null), ns)
                .map_err(|e| format!("failed to get bootstrap config for ClusterClass {cc}, MachinePool class {name:?}: {e}"))?;
            mps.insert(name, WorkerClass { def: def.clone(), bootstrap, infra });
        }
        Ok(Blueprint { class: class.clone(), infra, cp, cp_machine, mds, mps })
    }
}

/// The generated objects of one MachineDeployment topology.
#[derive(Clone, Debug)]
pub struct MdState {
    /// The MachineDeployment.
    pub md: Arc<Object>,
    /// Its bootstrap template (absent while the MD is being deleted).
    pub bootstrap: Option<Arc<Object>>,
    /// Its infrastructure machine template (absent while the MD is being deleted).
    pub infra: Option<Arc<Object>>,
    /// Its MachineHealthCheck.
    pub mhc: Option<Arc<Object>>,
}

/// The generated objects of one MachinePool topology.
#[derive(Clone, Debug)]
pub struct MpState {
    /// The MachinePool.
    pub mp: Arc<Object>,
    /// Its bootstrap config.
    pub bootstrap: Arc<Object>,
    /// Its infrastructure machine pool.
    pub infra: Arc<Object>,
}

/// The current state of a topology Cluster.
#[derive(Clone, Debug, Default)]
pub struct Current {
    /// Infrastructure cluster.
    pub infra: Option<Arc<Object>>,
    /// Control plane.
    pub cp: Option<Arc<Object>>,
    /// Control plane machine template.
    pub cp_machine: Option<Arc<Object>>,
    /// Control plane MachineHealthCheck.
    pub cp_mhc: Option<Arc<Object>>,
    /// MachineDeployments by topology name.
    pub mds: BTreeMap<String, MdState>,
    /// MachinePools by topology name.
    pub mps: BTreeMap<String, MpState>,
}

fn owned_or_err(o: &Arc<Object>, referrer: &str) -> Result<(), String> {
    if o.label(keys::TOPOLOGY_OWNED).is_some() {
        Ok(())
    } else {
        Err(format!("{} {}/{} referenced from {referrer} is not topology owned", o.kind, o.namespace(), o.name()))
    }
}

fn read_ref(ctx: &Ctx<'_>, r: &Value, ns: &str) -> Result<Arc<Object>, String> {
    let kind = r.get("kind").and_then(Value::as_str).unwrap_or("");
    let name = r.get("name").and_then(Value::as_str).unwrap_or("");
    get_ref(ctx, r, ns).map_err(|e| format!("failed to read {kind} {ns}/{name}: {e}"))
}

fn is_set(v: Option<&Value>) -> bool {
    v.and_then(|r| r.get("name")).and_then(Value::as_str).is_some_and(|n| !n.is_empty())
}

impl Current {
    /// Read the current state from the cache (`getCurrentState`).
    pub fn read(ctx: &Ctx<'_>, cluster: &Object) -> Result<Current, String> {
        let ns = cluster.namespace();
        let me = format!("Cluster {ns}/{}", cluster.name());
        let mut cur = Current::default();
        if let Some(r) = cluster.at("/spec/infrastructureRef").filter(|r| is_set(Some(r))) {
            let infra = read_ref(ctx, r, ns)?;
            owned_or_err(&infra, &me)?;
            cur.infra = Some(infra);
        }
        if let Some(r) = cluster.at("/spec/controlPlaneRef").filter(|r| is_set(Some(r))) {
            let cp = read_ref(ctx, r, ns)?;
            owned_or_err(&cp, &me)?;
            if let Some(mr) = cp.at("/spec/machineTemplate/spec/infrastructureRef").filter(|r| is_set(Some(r))) {
                let t = get_ref(ctx, mr, ns)
                    .map_err(|e| format!("failed to get InfrastructureMachineTemplate for {} {ns}/{}: {e}", cp.kind, cp.name()))?;
                owned_or_err(&t, &format!("{} {ns}/{}", cp.kind, cp.name()))?;
                cur.cp_machine = Some(t);
                cur.cp_mhc = ctx.get_parts(Kind::MachineHealthCheck, ns, cp.name()).cloned();
            }
            cur.cp = Some(cp);
        }
        let mut mds: Vec<&Arc<Object>> = ctx.cache.in_cluster_ns(Kind::MachineDeployment, ns, cluster.name()).collect();
        mds.retain(|m| m.label(keys::TOPOLOGY_OWNED).is_some());
        for md in mds {
            let topo = md.label(keys::TOPOLOGY_DEPLOYMENT_NAME).filter(|t| !t.is_empty()).ok_or_else(|| {
                format!("failed to find label {} in MachineDeployment {ns}/{}", keys::TOPOLOGY_DEPLOYMENT_NAME, md.name())
            })?;
            if cur.mds.contains_key(topo) {
                return Err(format!(
                    "duplicate MachineDeployment {ns}/{} found for label {}: {topo}",
                    md.name(),
                    keys::TOPOLOGY_DEPLOYMENT_NAME
                ));
            }
            let (mut bootstrap, mut infra) = (None, None);
            if !md.deleting() {
                let referrer = format!("MachineDeployment {ns}/{}", md.name());
                let br = md.at("/spec/template/spec/bootstrap/configRef").filter(|r| is_set(Some(r)));
                let br = br.ok_or_else(|| format!("{referrer} does not have a reference to a Bootstrap Config"))?;
                let ir = md.at("/spec/template/spec/infrastructureRef").filter(|r| is_set(Some(r)));
                let ir = ir.ok_or_else(|| format!("{referrer} does not have a reference to a InfrastructureMachineTemplate"))?;
                let b = get_ref(ctx, br, ns).map_err(|e| format!("{referrer} Bootstrap reference could not be retrieved: {e}"))?;
                owned_or_err(&b, &referrer)?;
                let i = get_ref(ctx, ir, ns).map_err(|e| format!("{referrer} Infrastructure reference could not be retrieved: {e}"))?;
                owned_or_err(&i, &referrer)?;
                bootstrap = Some(b);
                infra = Some(i);
            }
            let mhc = ctx.get_parts(Kind::MachineHealthCheck, ns, md.name()).cloned();
            cur.mds.insert(topo.to_string(), MdState { md: md.clone(), bootstrap, infra, mhc });
        }
        let mut mps: Vec<&Arc<Object>> = ctx.cache.in_cluster_ns(Kind::MachinePool, ns, cluster.name()).collect();
        mps.retain(|m| m.label(keys::TOPOLOGY_OWNED).is_some());
        for mp in mps {
            let topo = mp
                .label(keys::TOPOLOGY_POOL_NAME)
                .filter(|t| !t.is_empty())
                .ok_or_else(|| format!("failed to find label {} in MachinePool {ns}/{}", keys::TOPOLOGY_POOL_NAME, mp.name()))?;
            if cur.mps.contains_key(topo) {
                return Err(format!("duplicate MachinePool {ns}/{} found for label {}: {topo}", mp.name(), keys::TOPOLOGY_POOL_NAME));
            }
            let referrer = format!("MachinePool {ns}/{}", mp.name());
            let br = mp.at("/spec/template/spec/bootstrap/configRef").filter(|r| is_set(Some(r)));
            let br = br.ok_or_else(|| format!("{referrer} does not have a reference to a Bootstrap Config"))?;
            let ir = mp.at("/spec/template/spec/infrastructureRef").filter(|r| is_set(Some(r)));
            let ir = ir.ok_or_else(|| format!("{referrer} does not have a reference to a InfrastructureMachinePool"))?;
            let bootstrap = get_ref(ctx, br, ns).map_err(|e| format!("{referrer} Bootstrap reference could not be retrieved: {e}"))?;
            owned_or_err(&bootstrap, &referrer)?;
            let infra = get_ref(ctx, ir, ns).map_err(|e| format!("{referrer} Infrastructure reference could not be retrieved: {e}"))?;
            owned_or_err(&infra, &referrer)?;
            cur.mps.insert(topo.to_string(), MpState { mp: mp.clone(), bootstrap, infra });
        }
        Ok(cur)
    }
}

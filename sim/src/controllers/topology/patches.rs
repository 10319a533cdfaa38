//! The inline patch engine of ClusterClass: for every patch in order, the templates it selects get its
//! JSON patches, with values from the patch, from variables (user variables and the builtins), or from
//! Go templates over them; `enabledIf` switches a patch per template. Patches accumulate on the same
//! template copies, and only `spec`, labels and annotations of the patched templates are kept.
//! Sources: `core/reconcilers/topology/cluster/patches/engine.go`,
//! `core/reconcilers/topology/cluster/patches/inline/json_patch_generator.go`,
//! `core/reconcilers/topology/cluster/patches/variables/{variables.go,value.go}`,
//! `exp/runtime/topologymutation/variables.go` (`MergeVariableMaps`).
//!
//! Simplification: external (RuntimeSDK) patches are not supported; a patch without `definitions`
//! fails as CAPI fails it with the RuntimeSDK gate off.

use super::gotmpl;
use super::variables::{BUILTIN, FROM_INLINE};
use crate::memo;
use crate::object::Ptr;
use serde_json::{json, Map, Value};
use std::hash::Hasher;

/// Which field of which object holds a template (`HolderReference` in CAPI).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Holder {
    /// `Cluster.spec.infrastructureRef`.
    InfraCluster,
    /// `Cluster.spec.controlPlaneRef`.
    ControlPlane,
    /// `<ControlPlane>.spec.machineTemplate.spec.infrastructureRef`.
    ControlPlaneMachine,
    /// `MachineDeployment.spec.template.spec.bootstrap.configRef` (MD topology name).
    MdBootstrap(String),
    /// `MachineDeployment.spec.template.spec.infrastructureRef` (MD topology name).
    MdInfra(String),
    /// `MachinePool.spec.template.spec.bootstrap.configRef` (MP topology name).
    MpBootstrap(String),
    /// `MachinePool.spec.template.spec.infrastructureRef` (MP topology name).
    MpInfra(String),
}

/// An API object as stored, named by its uid and resourceVersion: together they fix its content, so
/// the memo of [`apply`] keys on them instead of hashing the content (a quick-start class and its
/// templates are tens of kilobytes of JSON, read on every topology reconcile).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    /// metadata.uid.
    pub uid: std::sync::Arc<str>,
    /// metadata.resourceVersion.
    pub resource_version: u64,
}

impl Version {
    /// The version of a stored object; `None` for one never stored (no uid or resourceVersion yet),
    /// whose content must be hashed.
    pub fn of(o: &crate::object::Object) -> Option<Version> {
        (!o.meta.uid.is_empty() && o.meta.resource_version > 0)
            .then(|| Version { uid: o.meta.uid.clone(), resource_version: o.meta.resource_version })
    }
}

/// A template the patches work on, with its template-specific variables.
#[derive(Clone, Debug)]
pub struct Item {
    /// Its holder.
    pub holder: Holder,
    /// The template as JSON (`apiVersion`, `kind`, `metadata`, `spec`), shared: a memo hit hands out
    /// the stored result without copying it.
    pub template: std::sync::Arc<Value>,
    /// The stored template object `template` was read from, when it was (see [`Version`]).
    pub source: Option<Version>,
    /// Template-specific builtins (`{"controlPlane": {...}}`, `{"machineDeployment": {...}}`...).
    pub builtin: Value,
    /// Variable overrides of the control plane / MachineDeployment / MachinePool topology.
    pub overrides: Vec<Value>,
}

/// Apply the ClusterClass patches to `items`. `topology_variables` are the Cluster's (defaulted)
/// `spec.topology.variables`; `status_variables` the ClusterClass's `status.variables`;
/// `global_builtin` the `{"cluster": {...}}` builtins.
///
/// The result is a pure function of the arguments, so it is memoized (in `memo`, the topology
/// reconciler's: one per simulation, so stored objects' uids and resourceVersions name the same
/// content in every key) by a 128-bit hash of them: a fleet's clusters share a class, and a cluster's
/// topology is recomputed on every reconcile although its inputs rarely change. Nothing observable
/// depends on the memo.
pub fn apply(
    memo: &Memo,
    class: Option<&Version>,
    patches: &[Value],
    status_variables: &[Value],
    topology_variables: &[Value],
    global_builtin: &Value,
    items: &mut [Item],
) -> Result<(), String> {
    // `class` is the stored ClusterClass `patches` and `status_variables` were read from, if they were.
    let key = memo::key(|h| {
        match class {
            Some(v) => {
                h.write_u8(1);
                std::hash::Hash::hash(v, h);
            }
            None => {
                h.write_u8(0);
                patches.iter().chain(status_variables).for_each(|v| memo::hash_json(v, h));
                h.write_usize(patches.len());
            }
        }
        for v in topology_variables.iter().chain([global_builtin]) {
            memo::hash_json(v, h);
        }
        for item in items.iter() {
            std::hash::Hash::hash(&item.holder, h);
            match &item.source {
                Some(v) => {
                    h.write_u8(1);
                    std::hash::Hash::hash(v, h);
                }
                None => {
                    h.write_u8(0);
                    memo::hash_json(&item.template, h);
                }
            }
            memo::hash_json(&item.builtin, h);
            h.write_usize(item.overrides.len());
            item.overrides.iter().for_each(|o| memo::hash_json(o, h));
        }
    });
    // One slot per Cluster (by its builtin namespace, name and uid), holding its last few results:
    // a Cluster's inputs change a few times in its life and rarely go back, so this hits as often as
    // a global table would while its memory stays proportional to the live fleet.
    let cluster = global_builtin.get("cluster");
    let slot = ["namespace", "name", "uid"].map(|k| cluster.and_then(|c| c.get(k)).and_then(Value::as_str).unwrap_or("").to_string());
    let hit = memo.patched.borrow().get(&slot).and_then(|entries| entries.iter().find(|(k, _)| *k == key).map(|(_, r)| r.clone()));
    if let Some(hit) = hit {
        let templates = hit?;
        for (item, t) in items.iter_mut().zip(templates.iter()) {
            item.template = t.clone();
        }
        return Ok(());
    }
    let result = apply_uncached(patches, status_variables, topology_variables, global_builtin, items);
    let stored = result.clone().map(|()| std::sync::Arc::new(items.iter().map(|i| i.template.clone()).collect::<Vec<_>>()));
    let mut m = memo.patched.borrow_mut();
    if m.len() >= MEMO_CLUSTERS && !m.contains_key(&slot) {
        m.clear();
    }
    let entries = m.entry(slot).or_default();
    if entries.len() >= MEMO_PER_CLUSTER {
        drop(entries.remove(0));
    }
    entries.push((key, stored));
    result
}

/// Results kept per Cluster by the memo of [`apply`].
const MEMO_PER_CLUSTER: usize = 2;

/// Clusters the memo of [`apply`] holds before it starts over (a bound for very long processes).
const MEMO_CLUSTERS: usize = 100_000;

/// Memoized results of [`apply`]: per Cluster slot, `(key of the inputs, patched templates)`.
type PatchMemo = std::collections::HashMap<[String; 3], Vec<(u128, Result<std::sync::Arc<Vec<std::sync::Arc<Value>>>, String>)>>; // determinism-ok: looked up by key, never iterated

/// The memo of [`apply`], owned by one simulation's topology reconciler (it goes with the
/// simulation; two simulations in one thread may give different objects the same uid and
/// resourceVersion). Looked up by key only, never iterated.
#[derive(Default)]
pub struct Memo {
    patched: std::cell::RefCell<PatchMemo>, // determinism-ok
    /// Stored templates as JSON, by [`Version`] (see [`Memo::template_json`]).
    templates: std::cell::RefCell<std::collections::BTreeMap<Version, std::sync::Arc<Value>>>,
}

/// Template versions [`Memo::template_json`] keeps before it starts over.
const MEMO_TEMPLATES: usize = 4096;

impl Memo {
    /// `o.to_json()`, kept by uid and resourceVersion for a stored object: the ClusterClass's
    /// templates, which every Cluster of the class reads on every topology reconcile.
    pub fn template_json(&self, o: &crate::object::Object) -> std::sync::Arc<Value> {
        let Some(v) = Version::of(o) else { return std::sync::Arc::new(o.to_json()) };
        if let Some(t) = self.templates.borrow().get(&v) {
            return t.clone();
        }
        let t = std::sync::Arc::new(o.to_json());
        let mut m = self.templates.borrow_mut();
        if m.len() >= MEMO_TEMPLATES {
            m.clear();
        }
        m.insert(v, t.clone());
        t
    }
}

fn apply_uncached(
    patches: &[Value],
    status_variables: &[Value],
    topology_variables: &[Value],
    global_builtin: &Value,
    items: &mut [Item],
) -> Result<(), String> {
    for patch in patches {
        let name = patch.get("name").and_then(Value::as_str).unwrap_or("");
        let definitions = patch.get("definitions").and_then(Value::as_array).filter(|d| !d.is_empty());
        let Some(definitions) = definitions else {
            if patch.get("external").is_some() {
                return Err(format!("can not use external patch {} if RuntimeSDK feature flag is disabled", q(name)));
            }
            return Err(format!("failed to create patch generator for patch {}", q(name)));
        };
        // Only variables defined inline are visible to inline patches.
        let defined: Vec<&str> = status_variables
            .iter()
            .filter(|v| {
                v.get("definitions")
                    .and_then(Value::as_array)
                    .is_some_and(|ds| ds.iter().any(|d| d.get("from").and_then(Value::as_str) == Some(FROM_INLINE)))
            })
            .filter_map(|v| v.get("name").and_then(Value::as_str))
            .collect();
        let visible = |vars: &[Value]| -> Map<String, Value> {
            vars.iter()
                .filter_map(|v| {
                    let n = v.get("name").and_then(Value::as_str)?;
                    (n != BUILTIN && defined.contains(&n)).then(|| (n.to_string(), v.get("value").cloned().unwrap_or(Value::Null)))
                })
                .collect()
        };
        let mut global = visible(topology_variables);
        global.insert(BUILTIN.into(), global_builtin.clone());
        let enabled_if = patch.get("enabledIf").and_then(Value::as_str).unwrap_or("");

        let mut errs: Vec<String> = Vec::new();
        let mut generated: Vec<(usize, Vec<Value>)> = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let kind = item.template.get("kind").and_then(Value::as_str).unwrap_or("").to_string();
            let mut vars = global.clone();
            for (k, v) in visible(&item.overrides) {
                vars.insert(k, v);
            }
            let mut builtin = global_builtin.clone();
            merge_into(&mut builtin, &item.builtin);
            vars.insert(BUILTIN.into(), builtin);
            let matching: Vec<&Value> =
                definitions.iter().filter(|d| matches_selector(item, &vars, d.get("selector").unwrap_or(&Value::Null))).collect();
            if matching.is_empty() {
                continue;
            }
            let data = Value::Object(vars);
            match is_enabled(enabled_if, &data) {
                Err(e) => {
                    errs.push(format!("failed to calculate if patch is enabled for {}: {e}", q(&kind)));
                    continue;
                }
                Ok(false) => continue,
                Ok(true) => {}
            }
            for d in matching {
                match json_patches(d.get("jsonPatches").and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[]), &data) {
                    Ok(ops) => generated.push((i, ops)),
                    Err(e) => errs.push(format!("failed to generate JSON patches for {}: {e}", q(&kind))),
                }
            }
        }
        if !errs.is_empty() {
            return Err(format!("failed to generate patches for patch {}: {}", q(name), super::field::aggregate(&errs)));
        }
        for (i, ops) in generated {
            apply_to_item(&mut items[i], ops).map_err(|e| format!("failed to apply patches for patch {}: {e}", q(name)))?;
        }
    }
    Ok(())
}

fn q(s: &str) -> String {
    super::field::go_quote(s)
}

/// Deep-merge `extra` into `base` (objects merge, everything else is replaced), as builtins merge.
pub fn merge_into(base: &mut Value, extra: &Value) {
    match (base, extra) {
        (Value::Object(b), Value::Object(e)) => {
            for (k, v) in e {
                match b.get_mut(k) {
                    Some(slot) if slot.is_object() && v.is_object() => merge_into(slot, v),
                    _ => {
                        b.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (b, e) => *b = e.clone(),
    }
}

fn name_matches(pattern: &str, class: &str) -> bool {
    if pattern == "*" || pattern == class {
        return true;
    }
    if let Some(suffix) = pattern.strip_prefix('*') {
        return class.ends_with(suffix);
    }
    if let Some(prefix) = pattern.strip_suffix('*') {
        return class.starts_with(prefix);
    }
    false
}

/// Whether a patch definition's selector matches a template (`matchesSelector`).
pub fn matches_selector(item: &Item, vars: &Map<String, Value>, selector: &Value) -> bool {
    let t = &item.template;
    if t.get("apiVersion").and_then(Value::as_str) != selector.get("apiVersion").and_then(Value::as_str)
        || t.get("kind").and_then(Value::as_str) != selector.get("kind").and_then(Value::as_str)
    {
        return false;
    }
    let mr = selector.get("matchResources").cloned().unwrap_or(Value::Null);
    let flag = |k: &str| mr.get(k).and_then(Value::as_bool).unwrap_or(false);
    if flag("infrastructureCluster") && item.holder == Holder::InfraCluster {
        return true;
    }
    if flag("controlPlane") && matches!(item.holder, Holder::ControlPlane | Holder::ControlPlaneMachine) {
        return true;
    }
    let class_of = |key: &str| vars.get(BUILTIN).and_then(|b| b.ptr(&format!("/{key}/class"))).and_then(Value::as_str).map(str::to_string);
    let names = |key: &str| -> Vec<String> {
        mr.ptr(&format!("/{key}/names"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect()
    };
    if mr.get("machineDeploymentClass").is_some() && matches!(item.holder, Holder::MdBootstrap(_) | Holder::MdInfra(_)) {
        if let Some(class) = class_of("machineDeployment") {
            if names("machineDeploymentClass").iter().any(|n| name_matches(n, &class)) {
                return true;
            }
        }
    }
    if mr.get("machinePoolClass").is_some() && matches!(item.holder, Holder::MpBootstrap(_) | Holder::MpInfra(_)) {
        if let Some(class) = class_of("machinePool") {
            if names("machinePoolClass").iter().any(|n| name_matches(n, &class)) {
                return true;
            }
        }
    }
    false
}

/// Render a value template and read the result as YAML (so it can be a string, a map, a list...).
pub fn render_value(template: &str, data: &Value) -> Result<Value, String> {
    let text = gotmpl::render(template, data).map_err(|e| format!("failed to render template: {}: {e}", q(template)))?;
    let v: Value = serde_yaml::from_str::<Value>(&text).map_err(|e| format!("failed to unmarshal rendered template: {}: {e}", q(&text)))?;
    Ok(v)
}

/// `enabledIf`: empty means enabled; else the rendered template must read as `true`.
pub fn is_enabled(enabled_if: &str, data: &Value) -> Result<bool, String> {
    if enabled_if.is_empty() {
        return Ok(true);
    }
    let v = render_value(enabled_if, data).map_err(|e| format!("failed to calculate value for enabledIf: {e}"))?;
    Ok(v == Value::Bool(true))
}

/// The value of a variable path (`builtin.controlPlane.version`, `list[0].name`).
pub fn variable_value(vars: &Value, path: &str) -> Result<Value, String> {
    let mut segs = path.split('.');
    let first = segs.next().unwrap_or("");
    let (name, index) = parse_segment(first).map_err(|e| format!("variable {} is invalid: {e}", q(path)))?;
    let mut cur = vars.get(name).cloned().ok_or_else(|| format!("variable {} does not exist", q(name)))?;
    if let Some(i) = index {
        cur = element(&cur, i, path)?;
    }
    for seg in segs {
        let (field, index) = parse_segment(seg).map_err(|e| format!("variable {} has invalid syntax: {e}", q(path)))?;
        cur =
            cur.get(field).cloned().ok_or_else(|| format!("variable {} does not exist: failed to lookup segment {}", q(path), q(field)))?;
        if let Some(i) = index {
            cur = element(&cur, i, path)?;
        }
    }
    Ok(cur)
}

fn parse_segment(seg: &str) -> Result<(&str, Option<usize>), String> {
    match (seg.find('['), seg.find(']')) {
        (None, None) => Ok((seg, None)),
        (Some(l), Some(r)) if r > l => {
            let i = seg[l + 1..r].parse::<usize>().map_err(|_| format!("failed to parse array index in path segment {}", q(seg)))?;
            Ok((&seg[..l], Some(i)))
        }
        _ => Err(format!("failed to parse path segment {}", q(seg))),
    }
}

fn element(v: &Value, i: usize, path: &str) -> Result<Value, String> {
    let arr = v.as_array().ok_or_else(|| format!("variable {} is invalid: failed to get array", q(path)))?;
    arr.get(i).cloned().ok_or_else(|| format!("variable {} is invalid: array does not have index {i}", q(path)))
}

/// Turn a definition's `jsonPatches` into RFC 6902 operations with their values computed.
pub fn json_patches(patches: &[Value], data: &Value) -> Result<Vec<Value>, String> {
    let mut out = Vec::new();
    for p in patches {
        let op = p.get("op").and_then(Value::as_str).unwrap_or("");
        let path = p.get("path").and_then(Value::as_str).unwrap_or("");
        let mut o = json!({"op": op, "path": path});
        if op == "add" || op == "replace" {
            o["value"] = calculate_value(p, data)?;
        }
        out.push(o);
    }
    Ok(out)
}

fn calculate_value(p: &Value, data: &Value) -> Result<Value, String> {
    let value = p.get("value");
    let from = p.get("valueFrom");
    match (value, from) {
        (None, None) => Err("failed to calculate value: neither .value nor .valueFrom are set".into()),
        (Some(_), Some(_)) => Err("failed to calculate value: both .value and .valueFrom are set".into()),
        (Some(v), None) => Ok(v.clone()),
        (None, Some(f)) => {
            let var = f.get("variable").and_then(Value::as_str).unwrap_or("");
            let tpl = f.get("template").and_then(Value::as_str).unwrap_or("");
            match (var.is_empty(), tpl.is_empty()) {
                (true, true) => {
                    Err("failed to calculate value: .valueFrom is set, but neither .valueFrom.variable nor .valueFrom.template are set"
                        .into())
                }
                (false, false) => {
                    Err("failed to calculate value: .valueFrom is set, but both .valueFrom.variable and .valueFrom.template are set".into())
                }
                (false, true) => variable_value(data, var).map_err(|e| format!("failed to calculate value: {e}")),
                (true, false) => render_value(tpl, data).map_err(|e| format!("failed to calculate value for template: {e}")),
            }
        }
    }
}

/// Apply operations to an item's template and keep only `spec`, labels and annotations from the result.
fn apply_to_item(item: &mut Item, ops: Vec<Value>) -> Result<(), String> {
    if ops.is_empty() {
        return Ok(());
    }
    let patch: json_patch::Patch = serde_json::from_value(Value::Array(ops))
        .map_err(|e| format!("failed to apply patch: error decoding json patch (RFC6902): {e}"))?;
    let mut doc = (*item.template).clone();
    json_patch::patch(&mut doc, &patch).map_err(|e| format!("failed to apply patch: error applying json patch (RFC6902): {e}"))?;
    for pointer in ["/spec", "/metadata/labels", "/metadata/annotations"] {
        let new = doc.ptr(pointer).cloned();
        set_pointer(std::sync::Arc::make_mut(&mut item.template), pointer, new);
    }
    Ok(())
}

/// Set (or remove, for `None`) the value at a simple JSON pointer, creating parent objects.
pub fn set_pointer(doc: &mut Value, pointer: &str, value: Option<Value>) {
    let segs: Vec<&str> = pointer.trim_start_matches('/').split('/').collect();
    let mut cur = doc;
    for (i, seg) in segs.iter().enumerate() {
        if !cur.is_object() {
            *cur = Value::Object(Map::new());
        }
        let m = cur.as_object_mut().expect("object");
        if i + 1 == segs.len() {
            match value {
                Some(v) => {
                    m.insert(seg.to_string(), v);
                }
                None => {
                    m.remove(*seg);
                }
            }
            return;
        }
        cur = m.entry(seg.to_string()).or_insert_with(|| Value::Object(Map::new()));
    }
}

#[cfg(test)]
#[path = "patches_tests.rs"]
mod tests;

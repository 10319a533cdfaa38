//! Which objects of a Cluster the tree shows where: objects by name, controller references, referenced
//! objects, and a Machine with its infrastructure machine and bootstrap config unless they only echo it.
//! Source: `cmd/clusterctl/client/tree/discovery.go` (`Discovery`, `addMachineFunc`),
//! `util.IsControlledBy`.

use serde_json::Value;

use super::object_tree::{Add, Tree, What};
use super::read::{kind, name, s};
use super::ClusterObjects;

pub(super) fn by_name(list: &[Value]) -> Vec<&Value> {
    let mut v: Vec<&Value> = list.iter().collect();
    v.sort_by(|a, b| name(a).cmp(name(b)));
    v
}

/// `util.IsControlledBy`: the object's controller reference names `owner` (by kind and name, and
/// uid when both have one).
pub(super) fn controlled_by(obj: &Value, owner: &Value) -> bool {
    let refs = obj.pointer("/metadata/ownerReferences").and_then(Value::as_array);
    refs.is_some_and(|refs| {
        refs.iter().any(|r| {
            r.get("controller").and_then(Value::as_bool) == Some(true)
                && s(r, "/kind") == kind(owner)
                && s(r, "/name") == name(owner)
                && (s(r, "/uid").is_empty() || s(owner, "/metadata/uid").is_empty() || s(r, "/uid") == s(owner, "/metadata/uid"))
        })
    })
}

pub(super) fn find_ref<'a>(objects: &'a ClusterObjects, r: Option<&Value>) -> Option<&'a Value> {
    let r = r?;
    let (k, n) = (s(r, "/kind"), s(r, "/name"));
    if n.is_empty() {
        return None;
    }
    objects.referenced.iter().find(|o| kind(o) == k && name(o) == n)
}

/// `addMachineFunc`: a Machine, and under it (when it is shown on its own) its infrastructure
/// machine and bootstrap config unless they only echo its state.
pub(super) fn add_machine<'a>(t: &mut Tree<'a>, placed: &mut Vec<&'a str>, objects: &'a ClusterObjects, parent: usize, m: &'a Value) {
    placed.push(name(m));
    let Some(i) = t.add(parent, What::Object { obj: m, meta: None, control_plane: false }, Add::default()) else { return };
    let echo = |meta| Add { meta: Some(meta), no_echo: true, ..Add::default() };
    if let Some(infra) = find_ref(objects, m.pointer("/spec/infrastructureRef")) {
        t.add(i, What::Object { obj: infra, meta: None, control_plane: false }, echo("MachineInfrastructure"));
    }
    if let Some(bs) = find_ref(objects, m.pointer("/spec/bootstrap/configRef")) {
        t.add(i, What::Object { obj: bs, meta: None, control_plane: false }, echo("BootstrapConfig"));
    }
}

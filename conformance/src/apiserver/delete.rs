//! Deletes on the simulator thread: `DeleteOptions` from the JSON body or the query
//! (propagationPolicy, preconditions, dryRun), 200 with the object while finalizers are pending, a
//! `Status` when it is removed at once, and deletecollection.

use super::core::Core;
use super::handlers::Reply;
use super::route::{Params, ResourcePath};
use super::selectors::Filter;
use super::status::{deleted_status, Failure};
use super::writes::{api_failure, list_json, not_found};
use capi_scenarios::model::Propagation;
use capi_sim::store::api::WriteOptions;
use capi_sim::store::Deleted;
use capi_sim::ObjKey;
use serde_json::Value;

/// `DeleteOptions`, from the JSON body (kubectl, kube-rs) or the query.
#[derive(Clone, Debug, Default)]
pub struct DeleteOptions {
    propagation: Option<Propagation>,
    uid: Option<String>,
    resource_version: Option<String>,
    dry_run: bool,
}

fn propagation(v: &str) -> Result<Propagation, Failure> {
    match v {
        "Background" => Ok(Propagation::Background),
        "Foreground" => Ok(Propagation::Foreground),
        "Orphan" => Ok(Propagation::Orphan),
        other => Err(Failure::new(
            422,
            "Invalid",
            format!("DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: Unsupported value: \"{other}\": supported values: \"Foreground\", \"Background\", \"Orphan\""),
        )),
    }
}

pub fn delete_options(body: &[u8], params: &Params) -> Result<DeleteOptions, Failure> {
    let mut o = DeleteOptions { dry_run: params.dry_run, ..Default::default() };
    if params.orphan_dependents {
        o.propagation = Some(Propagation::Orphan);
    }
    if let Some(p) = &params.propagation_policy {
        o.propagation = Some(propagation(p)?);
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(o);
    }
    let v: Value = serde_json::from_slice(body).map_err(|e| Failure::bad_request(format!("couldn't decode DeleteOptions: {e}")))?;
    if let Some(p) = v.get("propagationPolicy").and_then(Value::as_str) {
        o.propagation = Some(propagation(p)?);
    } else if v.get("orphanDependents").and_then(Value::as_bool) == Some(true) {
        o.propagation = Some(Propagation::Orphan);
    }
    o.uid = v.pointer("/preconditions/uid").and_then(Value::as_str).map(str::to_string);
    o.resource_version = v.pointer("/preconditions/resourceVersion").and_then(Value::as_str).map(str::to_string);
    if let Some(d) = v.get("dryRun").and_then(Value::as_array) {
        o.dry_run |= d.iter().any(|x| x == "All");
    }
    Ok(o)
}

fn delete_key(core: &mut Core, key: &ObjKey, opts: &DeleteOptions) -> Result<Reply, Failure> {
    let (kind, name) = (key.kind, key.name.to_string());
    let cur = core.store().get(key).cloned().ok_or_else(|| not_found(kind, &name))?;
    if let Some(uid) = &opts.uid {
        if uid.as_str() != &*cur.meta.uid {
            let msg = format!("Precondition failed: UID in precondition: {uid}, UID in object meta: {}", cur.meta.uid);
            return Err(Failure::new(409, "Conflict", msg).with_object(kind, &name));
        }
    }
    if let Some(rv) = &opts.resource_version {
        if *rv != cur.meta.resource_version.to_string() {
            let msg = format!(
                "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {}",
                cur.meta.resource_version
            );
            return Err(Failure::new(409, "Conflict", msg).with_object(kind, &name));
        }
    }
    let prop = opts.propagation.unwrap_or(Propagation::Background);
    let m = core.m;
    if opts.dry_run {
        let now = core.now();
        let d = core.sim.mgmt[m].api.delete(key, prop, WriteOptions::at(now).dry()).map_err(|e| api_failure(e, kind, &name))?;
        return Ok(Reply::ok(d.object().to_json()));
    }
    match core.sim.delete(m, key, prop).map_err(|e| api_failure(e, kind, &name))? {
        Deleted::Removed(o) => Ok(Reply::ok(deleted_status(kind, &name, &o.meta.uid))),
        Deleted::Pending(o) => Ok(Reply::ok(o.to_json())),
    }
}

pub fn delete(core: &mut Core, rp: &ResourcePath, opts: &DeleteOptions) -> Result<Reply, Failure> {
    let key = ObjKey::new(rp.kind, rp.namespace.as_deref().unwrap_or(""), rp.name.as_deref().unwrap_or(""));
    delete_key(core, &key, opts)
}

pub fn delete_collection(core: &mut Core, filter: &Filter, opts: &DeleteOptions) -> Result<Reply, Failure> {
    let keys: Vec<ObjKey> =
        core.store().objects().of_kind(filter.kind, filter.namespace.as_deref()).filter(|o| filter.matches(o)).map(|o| o.key()).collect();
    let mut items = Vec::new();
    for key in keys {
        let r = delete_key(core, &key, opts)?;
        if r.body.get("kind").and_then(Value::as_str) != Some("Status") {
            items.push(r.body);
        }
    }
    Ok(Reply::ok(list_json(filter.kind, items, Some(core.store().resource_version()))))
}

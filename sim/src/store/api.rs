//! The API server in front of the store: decoding and the server's own validation
//! ([`super::validate`], before anything else), admission (defaulting and validating webhooks registered per
//! kind, as CAPI registers its own), patch decoding (merge, JSON, server-side apply), dry-run, and the
//! API faults the fault injector can switch on (conflicts, throttling, webhook outages).

use super::managed;
use super::schema::{self, FieldValidation};
use super::{ApiError, Deleted, Store, Subresource};
use crate::features::FeatureGates;
use crate::kinds::Kind;
use crate::object::Ptr;
use crate::object::{ObjKey, Object};
use capi_scenarios::model::Propagation;
use serde_json::Value;
use std::collections::BTreeSet;
use std::sync::Arc;

/// The operation under admission.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    /// POST.
    Create,
    /// PUT / PATCH.
    Update,
    /// DELETE.
    Delete,
}

/// What a validating webhook sees.
pub struct AdmissionRequest<'a> {
    /// Operation.
    pub op: Operation,
    /// The object after defaulting (for Delete: the stored object).
    pub object: &'a Object,
    /// The stored object for updates and deletes.
    pub old: Option<&'a Object>,
    /// Read access to the API (webhooks look up ClusterClasses, Clusters...).
    pub store: &'a Store,
    /// The management cluster's feature gates.
    pub gates: &'a FeatureGates,
    /// Whether the request is a dry run (`AdmissionRequest.DryRun`).
    pub dry_run: bool,
}

/// A webhook pair (defaulting + validating) for one kind, served by one controller manager.
pub trait Webhook {
    /// The kind it admits.
    fn kind(&self) -> Kind;
    /// Validating webhook name, as it appears in denial messages.
    fn name(&self) -> &'static str;
    /// The controller manager that serves it (an outage of that manager makes it unreachable).
    fn manager(&self) -> &'static str;
    /// Mutating webhook: set defaults.
    fn default(&self, _op: Operation, _obj: &mut Object, _store: &Store, _gates: &FeatureGates) {}
    /// Mutating webhook name (CAPI names it like the validating one with `default.`).
    fn default_name(&self) -> String {
        self.name().replacen("validation.", "default.", 1)
    }
    /// The mutating webhook's denial, checked before `default` (CAPI's defaulters can fail, e.g. on
    /// unparsable autoscaler annotations): `Err(message)` after "denied the request: ".
    fn check_default(&self, _op: Operation, _obj: &Object, _store: &Store, _gates: &FeatureGates) -> Result<(), String> {
        Ok(())
    }
    /// The name of the validating webhook of the kind's `/scale` subresource, if it has one.
    fn scale_name(&self) -> Option<&'static str> {
        None
    }
    /// Validate a write of `/scale` to `replicas` (`obj` is the stored object).
    fn validate_scale(&self, _obj: &Object, _replicas: i64) -> Result<(), String> {
        Ok(())
    }
    /// Validating webhook: `Ok(warnings)` or `Err(message)` (the part after "denied the request: ").
    fn validate(&self, req: &AdmissionRequest<'_>) -> Result<Vec<String>, String>;
}

/// A write as the API server committed it.
#[derive(Clone, Debug)]
pub struct Written {
    /// The object as stored (as it would be stored, for a dry run).
    pub object: Arc<Object>,
    /// Admission warnings.
    pub warnings: Vec<String>,
    /// Whether anything changed (`false` = kubectl's "unchanged").
    pub changed: bool,
}

/// Patch encodings.
#[derive(Clone, Debug)]
pub enum Patch {
    /// `application/merge-patch+json` (RFC 7386).
    Merge(Value),
    /// `application/json-patch+json` (RFC 6902).
    Json(Value),
    /// `application/apply-patch+yaml`: server-side apply, modelled as an upsert with merge semantics
    /// (no managedFields, no field-manager conflicts).
    Apply(Value),
}

/// Who writes and how.
#[derive(Clone, Copy, Debug)]
pub struct WriteOptions<'a> {
    /// Simulated time.
    pub now: u64,
    /// Validate and answer, but do not persist.
    pub dry_run: bool,
    /// What to say of fields the schema does not declare (`?fieldValidation=`).
    pub field_validation: FieldValidation,
    /// The field manager (`?fieldManager=`) that owns what this write sets ([`managed`]).
    pub manager: &'a str,
    /// Whether a server-side apply takes fields other managers own (`?force=true`).
    pub force: bool,
}

/// The field manager of a write that names none.
pub const UNKNOWN_MANAGER: &str = "unknown";

impl WriteOptions<'static> {
    /// A write at `now`, persisted, with the server's default field validation (`Warn`).
    pub const fn at(now: u64) -> WriteOptions<'static> {
        WriteOptions { now, dry_run: false, field_validation: FieldValidation::Warn, manager: UNKNOWN_MANAGER, force: false }
    }
}

impl<'a> WriteOptions<'a> {
    /// The same write as a dry run.
    pub const fn dry(self) -> WriteOptions<'a> {
        WriteOptions { dry_run: true, ..self }
    }

    /// The same write by another field manager.
    pub const fn by(self, manager: &'a str) -> WriteOptions<'a> {
        WriteOptions { manager, ..self }
    }
}

/// Faults the injector can turn on at the API server.
#[derive(Clone, Debug, Default)]
pub struct ApiFaults {
    /// Managers whose webhooks are unreachable.
    pub webhooks_down: BTreeSet<String>,
    /// Probability that a controller write fails with 409 Conflict.
    pub conflict_probability: f64,
    /// Probability that a controller write fails with 429 TooManyRequests.
    pub throttle_probability: f64,
    /// Extra latency of every controller write (it keeps the worker busy).
    pub latency_ms: u64,
    /// The fault source's random stream (set when a rate-based fault starts).
    pub rng: Option<rand_chacha::ChaCha8Rng>,
}

impl ApiFaults {
    /// Draw whether the next controller write fails. Only a write with a resourceVersion
    /// precondition (`locked`: an update, or the optimistic-locked conditions patch of CAPI's patch
    /// helper) can meet a 409 Conflict: the API server applies a plain patch to the latest object.
    /// Any write can be throttled (429).
    pub fn roll(&mut self, kind: Kind, name: &str, locked: bool) -> Option<ApiError> {
        let rng = self.rng.as_mut()?;
        if locked && crate::engine::rng::chance(rng, self.conflict_probability) {
            return Some(ApiError::conflict(kind, name));
        }
        if crate::engine::rng::chance(rng, self.throttle_probability) {
            return Some(ApiError::too_many_requests());
        }
        None
    }
}

/// The API server of one management cluster.
pub struct ApiServer {
    /// Storage.
    pub store: Store,
    /// Feature gates (from `clusterctl init`).
    pub gates: FeatureGates,
    /// Active faults.
    pub faults: ApiFaults,
    webhooks: Vec<Box<dyn Webhook>>,
}

impl ApiServer {
    /// An API server over a store with webhooks.
    pub fn new(store: Store, gates: FeatureGates, webhooks: Vec<Box<dyn Webhook>>) -> Self {
        ApiServer { store, gates, faults: ApiFaults::default(), webhooks }
    }

    fn admit_defaults(&self, op: Operation, obj: &mut Object) -> Result<(), ApiError> {
        let kind = obj.kind;
        for w in self.webhooks.iter().filter(|w| w.kind() == kind) {
            if self.faults.webhooks_down.contains(w.manager()) {
                return Err(ApiError::webhook_unreachable(&w.default_name(), &format!("{}-webhook-service", w.manager())));
            }
            w.check_default(op, obj, &self.store, &self.gates).map_err(|m| ApiError::denied(&w.default_name(), m))?;
            w.default(op, obj, &self.store, &self.gates);
        }
        Ok(())
    }

    fn admit_validate(&self, op: Operation, obj: &Object, old: Option<&Object>, dry_run: bool) -> Result<Vec<String>, ApiError> {
        let mut warnings = Vec::new();
        for w in self.webhooks.iter().filter(|w| w.kind() == obj.kind) {
            if self.faults.webhooks_down.contains(w.manager()) {
                return Err(ApiError::webhook_unreachable(w.name(), &format!("{}-webhook-service", w.manager())));
            }
            let req = AdmissionRequest { op, object: obj, old, store: &self.store, gates: &self.gates, dry_run };
            match w.validate(&req) {
                Ok(ws) => warnings.extend(ws),
                Err(msg) => return Err(ApiError::denied(w.name(), msg)),
            }
        }
        Ok(warnings)
    }

    /// Create an object (admission, then storage).
    pub fn create(&mut self, obj: Object, opts: WriteOptions<'_>) -> Result<Written, ApiError> {
        self.create_tracked(obj, opts, false)
    }

    /// Create; `applied`: the object comes from a server-side apply and already holds its
    /// managedFields.
    fn create_tracked(&mut self, mut obj: Object, opts: WriteOptions<'_>, applied: bool) -> Result<Written, ApiError> {
        super::validate::decode(&obj)?;
        let mut warnings = schema::prune(&mut obj, None, opts.field_validation)?;
        if !applied {
            obj.meta.managed = managed::on_create(&obj, opts.manager, opts.now);
        }
        self.admit_defaults(Operation::Create, &mut obj)?;
        let prepared = self.store.prepare_create(obj, opts.now)?;
        warnings.extend(self.admit_validate(Operation::Create, &prepared, None, opts.dry_run)?);
        if opts.dry_run {
            return Ok(Written { object: Arc::new(prepared), warnings, changed: true });
        }
        // prepare_create drew the uid; create again from the prepared object keeps it.
        let obj = self.store.commit_create(prepared);
        Ok(Written { object: obj, warnings, changed: true })
    }

    /// Update an object (main resource or status), with an optional resourceVersion precondition.
    pub fn update(
        &mut self,
        obj: Object,
        sub: Subresource,
        precondition_rv: Option<u64>,
        opts: WriteOptions<'_>,
    ) -> Result<Written, ApiError> {
        self.update_tracked(obj, sub, precondition_rv, opts, false)
    }

    /// Update; `applied`: the object comes from a server-side apply and already holds its
    /// managedFields; otherwise the fields this write changes become its manager's.
    fn update_tracked(
        &mut self,
        mut obj: Object,
        sub: Subresource,
        precondition_rv: Option<u64>,
        opts: WriteOptions<'_>,
        applied: bool,
    ) -> Result<Written, ApiError> {
        let key = obj.key();
        let old = self.store.get(&key).cloned().ok_or_else(|| ApiError::not_found(key.kind, &key.name))?;
        super::validate::decode(&obj)?;
        let mut warnings = schema::prune(&mut obj, Some(&old), opts.field_validation)?;
        if sub == Subresource::Main {
            if !applied {
                obj.meta.managed = managed::on_update(&old, &obj, opts.manager, opts.now);
            }
            self.admit_defaults(Operation::Update, &mut obj)?;
        }
        let (cur, new) = self.store.prepare_update(obj, sub, precondition_rv)?;
        let Some(new) = new else { return Ok(Written { object: cur, warnings, changed: false }) };
        if sub == Subresource::Main {
            warnings.extend(self.admit_validate(Operation::Update, &new, Some(&old), opts.dry_run)?);
        }
        if opts.dry_run {
            return Ok(Written { object: Arc::new(new), warnings, changed: true });
        }
        let object = self.store.update(new, sub, None)?;
        Ok(Written { object, warnings, changed: true })
    }

    /// Patch an object. Server-side apply creates it when missing, and keeps field ownership as
    /// [`managed::apply`] says.
    pub fn patch(&mut self, key: &ObjKey, patch: &Patch, sub: Subresource, opts: WriteOptions<'_>) -> Result<Written, ApiError> {
        if let Patch::Apply(body) = patch {
            if !body.is_object() {
                return Err(ApiError::bad_request("a merge patch must be a JSON object"));
            }
            if sub == Subresource::Main || self.store.get(key).is_none() {
                let config = Object::from_json(body).map_err(|e| match self.store.get(key) {
                    Some(_) => ApiError::invalid(key.kind, &key.name, e),
                    None => ApiError::bad_request(e),
                })?;
                if config.key() != *key {
                    return Err(ApiError::invalid(
                        key.kind,
                        &key.name,
                        "metadata.name, metadata.namespace and kind cannot be changed by a patch",
                    ));
                }
                return self.apply(config, opts);
            }
        }
        let Some(cur) = self.store.get(key).cloned() else { return Err(ApiError::not_found(key.kind, &key.name)) };
        let mut precondition = None;
        if let Patch::Merge(p) | Patch::Apply(p) = patch {
            if !p.is_object() {
                return Err(ApiError::bad_request("a merge patch must be a JSON object"));
            }
            if let Some(rv) = p.ptr("/metadata/resourceVersion").and_then(Value::as_str) {
                precondition = Some(rv.parse::<u64>().map_err(|_| ApiError::bad_request("metadata.resourceVersion must be a number"))?);
            }
        }
        let mut json = cur.to_json();
        match patch {
            Patch::Merge(p) | Patch::Apply(p) => json_patch::merge(&mut json, p),
            Patch::Json(p) => {
                let ops: json_patch::Patch = serde_json::from_value(kubernetes_json_patch(p, &json))
                    .map_err(|e| ApiError::bad_request(format!("invalid JSON patch: {e}")))?;
                json_patch::patch(&mut json, &ops)
                    .map_err(|e| ApiError::invalid(key.kind, &key.name, format!("the JSON patch cannot be applied: {e}")))?;
            }
        }
        let mut obj = Object::from_json(&json).map_err(|e| ApiError::invalid(key.kind, &key.name, e))?;
        if obj.key() != *key {
            return Err(ApiError::invalid(key.kind, &key.name, "metadata.name, metadata.namespace and kind cannot be changed by a patch"));
        }
        obj.meta.resource_version = cur.meta.resource_version;
        obj.meta.managed = cur.meta.managed.clone();
        self.update(obj, sub, precondition, opts)
    }

    /// Server-side apply of `config` by `opts.manager` (forcing ownership when `opts.force`):
    /// creates the object when missing; a `metadata.resourceVersion` in it is a precondition.
    pub fn apply(&mut self, mut config: Object, opts: WriteOptions<'_>) -> Result<Written, ApiError> {
        let key = config.key();
        let precondition = (config.meta.resource_version > 0).then_some(config.meta.resource_version);
        let Some(cur) = self.store.get(&key).cloned() else {
            config.meta.resource_version = 0;
            config.meta.uid = "".into();
            let obj = managed::apply_create(config, opts.manager, opts.now);
            return self.create_tracked(obj, opts, true);
        };
        if !config.meta.uid.is_empty() && config.meta.uid != cur.meta.uid {
            // The uid of an apply configuration is a precondition, checked by the storage
            // (`apiserver/pkg/storage/etcd3/store.go: checkPreconditions` → `NewInvalidObjError`)
            // and answered as a conflict (`registry/generic/registry/storage_error.go:
            // InterpretUpdateError`), the storage error's text included.
            let info = key.kind.info();
            let group = if info.group.is_empty() { String::new() } else { format!("{}/", info.group) };
            let ns = if key.ns.is_empty() { String::new() } else { format!("{}/", key.ns) };
            return Err(ApiError::new(
                409,
                "Conflict",
                format!(
                    "Operation cannot be fulfilled on {} \"{}\": StorageError: invalid object, Code: 4, Key: /registry/{group}{}/{ns}{}, \
                     ResourceVersion: 0, AdditionalErrorMsg: Precondition failed: UID in precondition: {}, UID in object meta: {}",
                    super::error::resource_name(key.kind),
                    key.name,
                    info.plural,
                    key.name,
                    config.meta.uid,
                    cur.meta.uid
                ),
            ));
        }
        let manager = managed::Manager { name: opts.manager, force: opts.force };
        let mut obj =
            managed::apply(&cur, &config, manager, opts.now).map_err(|c| ApiError::apply_conflict(&managed::conflict_message(&c), &c))?;
        obj.meta.resource_version = cur.meta.resource_version;
        self.update_tracked(obj, Subresource::Main, precondition, opts, true)
    }

    /// Replace an object's managedFields (a JSON patch of `metadata.managedFields` with a
    /// resourceVersion precondition, as CAPI's `ssa` helpers send it).
    pub fn set_managed(
        &mut self,
        key: &ObjKey,
        managed: managed::ManagedFields,
        rv: u64,
        opts: WriteOptions<'_>,
    ) -> Result<Written, ApiError> {
        let cur = self.store.get(key).cloned().ok_or_else(|| ApiError::not_found(key.kind, &key.name))?;
        let mut obj = (*cur).clone();
        obj.meta.managed = managed;
        self.update_tracked(obj, Subresource::Main, Some(rv), opts, true)
    }

    /// Write the `/scale` subresource: only the kind's scale webhooks are called (CAPI registers its
    /// object webhooks for the main resource, which a `/scale` request does not match), then
    /// `.spec.replicas` is updated.
    pub fn scale(
        &mut self,
        key: &ObjKey,
        replicas: i64,
        precondition_rv: Option<u64>,
        opts: WriteOptions<'_>,
    ) -> Result<Written, ApiError> {
        let cur = self.store.get(key).cloned().ok_or_else(|| ApiError::not_found(key.kind, &key.name))?;
        for w in self.webhooks.iter().filter(|w| w.kind() == key.kind) {
            let Some(name) = w.scale_name() else { continue };
            if self.faults.webhooks_down.contains(w.manager()) {
                return Err(ApiError::webhook_unreachable(name, &format!("{}-webhook-service", w.manager())));
            }
            w.validate_scale(&cur, replicas).map_err(|m| ApiError::denied(name, m))?;
        }
        let mut obj = (*cur).clone();
        obj.set("/spec/replicas", Value::from(replicas));
        obj.meta.managed = managed::on_update(&cur, &obj, opts.manager, opts.now);
        let (cur, new) = self.store.prepare_update(obj, Subresource::Main, precondition_rv)?;
        let Some(new) = new else { return Ok(Written { object: cur, warnings: Vec::new(), changed: false }) };
        if opts.dry_run {
            return Ok(Written { object: Arc::new(new), warnings: Vec::new(), changed: true });
        }
        let object = self.store.update(new, Subresource::Main, None)?;
        Ok(Written { object, warnings: Vec::new(), changed: true })
    }

    /// Delete an object.
    pub fn delete(&mut self, key: &ObjKey, propagation: Propagation, opts: WriteOptions<'_>) -> Result<Deleted, ApiError> {
        super::validate::delete(key.kind, &key.name)?;
        let cur = self.store.get(key).cloned().ok_or_else(|| ApiError::not_found(key.kind, &key.name))?;
        if !cur.deleting() {
            self.admit_validate(Operation::Delete, &cur, Some(&cur), opts.dry_run)?;
        }
        if opts.dry_run {
            return Ok(Deleted::Pending(cur));
        }
        self.store.delete(key, propagation, None, opts.now)
    }
}

/// Kubernetes' JSON patch quirk (evanphx/json-patch): a `test` of `null` on a missing path passes.
/// kube-runtime's finalizer helper relies on it; json-patch would fail, so such tests are dropped.
fn kubernetes_json_patch(ops: &Value, doc: &Value) -> Value {
    match ops.as_array() {
        Some(list) => Value::Array(
            list.iter()
                .filter(|op| {
                    !(op.get("op").and_then(Value::as_str) == Some("test")
                        && op.get("value").is_some_and(Value::is_null)
                        && op.get("path").and_then(Value::as_str).is_some_and(|p| doc.ptr(p).is_none()))
                })
                .cloned()
                .collect(),
        ),
        None => ops.clone(),
    }
}

//! The API server in front of the store: decoding and the server's own validation
//! ([`super::validate`], before anything else), admission (defaulting and validating webhooks registered per
//! kind, as CAPI registers its own), patch decoding (merge, JSON, server-side apply), dry-run, and the
//! API faults the fault injector can switch on (conflicts, throttling, webhook outages).

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
pub struct WriteOptions {
    /// Simulated time.
    pub now: u64,
    /// Validate and answer, but do not persist.
    pub dry_run: bool,
    /// What to say of fields the schema does not declare (`?fieldValidation=`).
    pub field_validation: FieldValidation,
}

impl WriteOptions {
    /// A write at `now`, persisted, with the server's default field validation (`Warn`).
    pub const fn at(now: u64) -> WriteOptions {
        WriteOptions { now, dry_run: false, field_validation: FieldValidation::Warn }
    }

    /// The same write as a dry run.
    pub const fn dry(self) -> WriteOptions {
        WriteOptions { dry_run: true, ..self }
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
    pub fn create(&mut self, mut obj: Object, opts: WriteOptions) -> Result<Written, ApiError> {
        super::validate::decode(&obj)?;
        let mut warnings = schema::prune(&mut obj, None, opts.field_validation)?;
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
        mut obj: Object,
        sub: Subresource,
        precondition_rv: Option<u64>,
        opts: WriteOptions,
    ) -> Result<Written, ApiError> {
        let key = obj.key();
        let old = self.store.get(&key).cloned().ok_or_else(|| ApiError::not_found(key.kind, &key.name))?;
        super::validate::decode(&obj)?;
        let mut warnings = schema::prune(&mut obj, Some(&old), opts.field_validation)?;
        if sub == Subresource::Main {
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

    /// Patch an object. Server-side apply creates it when missing.
    pub fn patch(&mut self, key: &ObjKey, patch: &Patch, sub: Subresource, opts: WriteOptions) -> Result<Written, ApiError> {
        let Some(cur) = self.store.get(key).cloned() else {
            return match patch {
                Patch::Apply(body) => {
                    let mut obj = Object::from_json(body).map_err(ApiError::bad_request)?;
                    obj.meta.resource_version = 0;
                    self.create(obj, opts)
                }
                _ => Err(ApiError::not_found(key.kind, &key.name)),
            };
        };
        let mut json = cur.to_json();
        let mut precondition = None;
        match patch {
            Patch::Merge(p) | Patch::Apply(p) => {
                if !p.is_object() {
                    return Err(ApiError::bad_request("a merge patch must be a JSON object"));
                }
                if let Some(rv) = p.ptr("/metadata/resourceVersion").and_then(Value::as_str) {
                    precondition = Some(rv.parse::<u64>().map_err(|_| ApiError::bad_request("metadata.resourceVersion must be a number"))?);
                }
                json_patch::merge(&mut json, p);
            }
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
        self.update(obj, sub, precondition, opts)
    }

    /// Write the `/scale` subresource: only the kind's scale webhooks are called (CAPI registers its
    /// object webhooks for the main resource, which a `/scale` request does not match), then
    /// `.spec.replicas` is updated.
    pub fn scale(&mut self, key: &ObjKey, replicas: i64, precondition_rv: Option<u64>, opts: WriteOptions) -> Result<Written, ApiError> {
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
        let (cur, new) = self.store.prepare_update(obj, Subresource::Main, precondition_rv)?;
        let Some(new) = new else { return Ok(Written { object: cur, warnings: Vec::new(), changed: false }) };
        if opts.dry_run {
            return Ok(Written { object: Arc::new(new), warnings: Vec::new(), changed: true });
        }
        let object = self.store.update(new, Subresource::Main, None)?;
        Ok(Written { object, warnings: Vec::new(), changed: true })
    }

    /// Delete an object.
    pub fn delete(&mut self, key: &ObjKey, propagation: Propagation, opts: WriteOptions) -> Result<Deleted, ApiError> {
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

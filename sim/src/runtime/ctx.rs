//! What a reconcile gets: its manager's (possibly stale) informer cache to read, the API server to
//! write through, the world (Docker, workload clusters) behind its reachability rules, a random stream
//! for generated names, and the clock. Nothing else: no controller sees another's memory.
//!
//! Every API call (a write, an uncached read) first takes a token from the manager's client
//! (`runtime::ratelimit::ClientLimiter`, client-go's `--kube-api-qps`/`--kube-api-burst` bucket of
//! that kind's REST client); when the bucket is empty the worker waits, in simulated time, and the
//! wait is part of the reconcile's duration. Cached reads are free.

use crate::kinds::Kind;
use crate::mutants::{Mutant, Mutants};
use crate::object::{ObjKey, Object};
use crate::objectset::ObjectSet;
use crate::store::api::{ApiServer, WriteOptions};
use crate::store::{ApiError, Deleted, Subresource};
use crate::world::World;
use capi_scenarios::model::Propagation;
use rand_chacha::ChaCha8Rng;
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Tries of the patch helper's conditions patch before a conflict is returned.
const CONDITIONS_PATCH_ATTEMPTS: u32 = 5;

/// The field manager of a controller's creates, updates and patches.
pub const CONTROLLER_MANAGER: &str = "manager";

/// The reconcile context.
pub struct Ctx<'a> {
    /// Simulated time.
    pub now: u64,
    /// The manager's informer cache.
    pub cache: &'a ObjectSet,
    /// The world outside the management cluster.
    pub world: &'a mut World,
    /// Mutants switched on (tests only).
    pub mutants: &'a Mutants,
    /// The management cluster's name.
    pub management: &'a str,
    pub(crate) api: &'a mut ApiServer,
    pub(crate) names: &'a mut ChaCha8Rng,
    pub(crate) spent_ms: u64,
    pub(crate) notes: Vec<String>,
    pub(crate) events: Vec<crate::events::Recorded>,
    pub(crate) writes: u32,
    /// Abort after this many writes (controller-crash fault).
    pub(crate) crash_after_writes: Option<u32>,
    pub(crate) crashed: bool,
    /// The manager's client (`None`: calls are not rate limited, as in unit tests).
    pub(crate) client: Option<RefCell<&'a mut crate::runtime::ratelimit::ClientLimiter>>,
    /// Time waited for the client's tokens so far.
    pub(crate) throttled_ms: Cell<u64>,
    /// `DeferNextReconcile` calls: (object, earliest time of its next reconcile).
    pub(crate) deferred: Vec<(ObjKey, u64)>,
    /// Objects as this reconcile last wrote them (`None`: its write made the object go).
    pub(crate) own: BTreeMap<ObjKey, Option<Arc<Object>>>,
}

impl<'a> Ctx<'a> {
    pub(crate) fn new(
        now: u64,
        cache: &'a ObjectSet,
        api: &'a mut ApiServer,
        world: &'a mut World,
        names: &'a mut ChaCha8Rng,
        mutants: &'a Mutants,
        management: &'a str,
    ) -> Self {
        Ctx {
            now,
            cache,
            world,
            mutants,
            management,
            api,
            names,
            spent_ms: 0,
            notes: Vec::new(),
            events: Vec::new(),
            writes: 0,
            crash_after_writes: None,
            crashed: false,
            client: None,
            throttled_ms: Cell::new(0),
            deferred: Vec::new(),
            own: BTreeMap::new(),
        }
    }

    /// Rate-limit this reconcile's API calls with the manager's client.
    pub(crate) fn with_client(mut self, client: &'a mut crate::runtime::ratelimit::ClientLimiter) -> Self {
        self.client = Some(RefCell::new(client));
        self
    }

    /// Simulated time the reconcile has taken so far (synchronous work, injected latency, waits for
    /// the client's tokens).
    pub fn elapsed_ms(&self) -> u64 {
        self.spent_ms + self.throttled_ms.get()
    }

    /// One API call on `kind`: wait for the client's token (client-go's `tryThrottle`).
    fn throttle(&self, kind: Kind) {
        if let Some(c) = &self.client {
            let wait = c.borrow_mut().reserve(kind, self.now + self.elapsed_ms());
            self.throttled_ms.set(self.throttled_ms.get() + wait);
        }
    }

    /// CAPI's `DeferNextReconcileForObject` (`util/controller/controller.go`): the next reconcile of
    /// `obj` by this controller not before `at`, even when an event asks earlier (with
    /// `ReconcilerRateLimiting` on).
    pub fn defer_next_reconcile(&mut self, obj: &Object, at: u64) {
        self.deferred.push((obj.key(), at));
    }

    /// The management cluster's feature gates.
    pub fn gates(&self) -> &crate::features::FeatureGates {
        &self.api.gates
    }

    /// Whether a mutant is on.
    pub fn mutant(&self, m: Mutant) -> bool {
        self.mutants.contains(&m)
    }

    // ----- Reads (cache) -----

    /// One object from the cache.
    pub fn get(&self, key: &ObjKey) -> Option<&'a Arc<Object>> {
        self.cache.get(key)
    }

    /// One object from the cache, by parts.
    pub fn get_parts(&self, kind: Kind, ns: &str, name: &str) -> Option<&'a Arc<Object>> {
        self.cache.get_parts(kind, ns, name)
    }

    /// One object by an uncached read (CAPI's `APIReader`), for the few places that need it.
    pub fn live(&self, key: &ObjKey) -> Option<Arc<Object>> {
        self.throttle(key.kind);
        self.api.store.get(key).cloned()
    }

    /// The object as the reconcile holds it in memory: as it last wrote it, else as the cache has
    /// it. What CAPI's reconcilers read after their own changes (they modify the object they got and
    /// patch it), without another API call: `None` when it is unknown or a write of this reconcile
    /// made it go (its last finalizer removed).
    pub fn current(&self, key: &ObjKey) -> Option<Arc<Object>> {
        match self.own.get(key) {
            Some(o) => o.clone(),
            None => self.cache.get(key).cloned(),
        }
    }

    fn remember(&mut self, key: ObjKey) {
        let now = self.api.store.get(&key).cloned();
        self.own.insert(key, now);
    }

    /// Objects of a kind in a namespace of a cluster by an uncached list (CAPI's `APIReader.List`), for
    /// the few places that must not trust a stale cache (e.g. before creating a generated object).
    pub fn live_in_cluster(&self, kind: Kind, ns: &str, cluster: &str) -> Vec<Arc<Object>> {
        self.throttle(kind);
        self.api.store.objects().in_cluster_ns(kind, ns, cluster).cloned().collect()
    }

    // ----- Writes -----

    fn opts(&self) -> WriteOptions<'static> {
        // CAPI's managers run as `/manager`: client-go names the field manager of their
        // non-apply writes after the binary.
        WriteOptions::at(self.now).by(CONTROLLER_MANAGER)
    }

    fn before_write(&mut self, what: &str, key: &ObjKey, locked: bool) -> Result<(), ApiError> {
        if self.crashed {
            return Err(ApiError::new(500, "ControllerCrashed", "the controller process crashed"));
        }
        if let Some(limit) = self.crash_after_writes {
            if self.writes >= limit {
                self.crashed = true;
                return Err(ApiError::new(500, "ControllerCrashed", "the controller process crashed"));
            }
        }
        self.throttle(key.kind);
        self.spent_ms += self.api.faults.latency_ms;
        if let Some(e) = self.api.faults.roll(key.kind, &key.name, locked) {
            self.notes.push(format!("{what} {key} failed: {} (injected)", e.reason));
            return Err(e);
        }
        self.writes += 1;
        Ok(())
    }

    /// The optimistic-locked conditions patch of CAPI's patch helper (`util/patch/patch.go`,
    /// `patchStatusConditions`): on a conflict it re-reads the object and tries again, five times with
    /// a backoff from 100ms, before it gives up with the conflict.
    fn before_conditions_write(&mut self, key: &ObjKey) -> Result<(), ApiError> {
        let mut wait = 100;
        for attempt in 1..=CONDITIONS_PATCH_ATTEMPTS {
            match self.before_write("patch-conditions", key, true) {
                Err(e) if e.code == 409 && attempt < CONDITIONS_PATCH_ATTEMPTS => {
                    self.spent_ms += wait;
                    wait *= 2;
                }
                other => return other,
            }
        }
        Ok(())
    }

    /// Create.
    pub fn create(&mut self, obj: Object) -> Result<Arc<Object>, ApiError> {
        let key = obj.key();
        self.before_write("create", &key, false)?;
        let w = self.api.create(obj, self.opts())?;
        self.remember(key);
        Ok(w.object)
    }

    /// Update with a resourceVersion precondition (optimistic locking).
    pub fn update(&mut self, obj: Object) -> Result<Arc<Object>, ApiError> {
        self.before_write("update", &obj.key(), true)?;
        let (rv, key) = (obj.meta.resource_version, obj.key());
        let w = self.api.update(obj, Subresource::Main, Some(rv), self.opts())?;
        self.remember(key);
        Ok(w.object)
    }

    /// Patch the main resource: `f` is applied to the current object and the difference is written
    /// without a resourceVersion precondition, as CAPI's patch helper does.
    pub fn patch(&mut self, key: &ObjKey, f: impl FnOnce(&mut Object)) -> Result<Arc<Object>, ApiError> {
        self.patch_sub(key, Subresource::Main, f)
    }

    /// Patch the status subresource.
    pub fn patch_status(&mut self, key: &ObjKey, f: impl FnOnce(&mut Object)) -> Result<Arc<Object>, ApiError> {
        self.patch_sub(key, Subresource::Status, f)
    }

    fn patch_sub(&mut self, key: &ObjKey, sub: Subresource, f: impl FnOnce(&mut Object)) -> Result<Arc<Object>, ApiError> {
        let cur = self.api.store.get(key).cloned().ok_or_else(|| ApiError::not_found(key.kind, &key.name))?;
        let mut new = (*cur).clone();
        f(&mut new);
        if new == *cur {
            return Ok(cur);
        }
        if sub == Subresource::Status && crate::controllers::conditions::list(&new) != crate::controllers::conditions::list(&cur) {
            self.before_conditions_write(key)?;
        } else {
            self.before_write(if sub == Subresource::Status { "patch-status" } else { "patch" }, key, false)?;
        }
        let w = self.api.update(new, sub, None, self.opts())?;
        self.remember(key.clone());
        Ok(w.object)
    }

    /// Server-side apply of `desired` as field manager `manager`, forcing ownership, as CAPI's
    /// `ssa.Patch` and the topology's `serverSidePatchHelper` do (`client.ForceOwnership`): the
    /// object is created when missing; fields this manager applied before and leaves out now are
    /// removed unless another manager owns them. `status`, resourceVersion and creation metadata
    /// of `desired` are not sent (`ssa.PrepareModified`); its uid, when set, is a precondition.
    pub fn apply(&mut self, manager: &'static str, mut desired: Object) -> Result<Arc<Object>, ApiError> {
        let key = desired.key();
        desired.meta.resource_version = 0;
        desired.meta.managed = None;
        if desired.body.contains_key("status") {
            desired.body.remove("status");
        }
        // CAPI's `ssa.WithCachingProxy` (and the topology's dry-run diff) skip a request that would
        // change nothing: so does the model, without an API call.
        if let Some(cur) = self.api.store.get(&key) {
            let uid_ok = desired.meta.uid.is_empty() || desired.meta.uid == cur.meta.uid;
            if uid_ok && crate::store::managed::apply_is_noop(cur, &desired, manager) {
                return Ok(cur.clone());
            }
        }
        self.before_write("apply", &key, false)?;
        let w = self.api.apply(desired, WriteOptions { force: true, ..self.opts().by(manager) })?;
        self.remember(key);
        Ok(w.object)
    }

    /// Drop what `manager`'s apply owns under `prefixes` (`metadata/labels`, ...) of an object, as
    /// CAPI's `ssa.RemoveManagedFieldsForLabelsAndAnnotations` does with a JSON patch of
    /// managedFields after creating an object, so that another manager can own them.
    pub fn disown(&mut self, key: &ObjKey, manager: &str, prefixes: &[&str]) -> Result<(), ApiError> {
        let Some(cur) = self.api.store.get(key).cloned() else { return Ok(()) };
        let next = crate::store::managed::disown(&cur.meta.managed, manager, crate::store::managed::Operation::Apply, prefixes);
        if next == cur.meta.managed {
            return Ok(());
        }
        self.before_write("patch", key, true)?;
        self.api.set_managed(key, next, cur.meta.resource_version, self.opts())?;
        self.remember(key.clone());
        Ok(())
    }

    /// Delete (background propagation).
    pub fn delete(&mut self, key: &ObjKey) -> Result<Deleted, ApiError> {
        self.delete_with(key, Propagation::Background)
    }

    /// Delete with a propagation policy.
    pub fn delete_with(&mut self, key: &ObjKey, propagation: Propagation) -> Result<Deleted, ApiError> {
        if self.api.store.get(key).is_some_and(|o| o.deleting()) {
            return Ok(Deleted::Pending(self.api.store.get(key).cloned().expect("checked")));
        }
        self.before_write("delete", key, false)?;
        self.api.delete(key, propagation, self.opts())
    }

    /// Add a finalizer (returns whether it was added).
    pub fn add_finalizer(&mut self, obj: &Object, finalizer: &str) -> Result<bool, ApiError> {
        if obj.has_finalizer(finalizer) {
            return Ok(false);
        }
        let f = finalizer.to_string();
        self.patch(&obj.key(), |o| {
            if !o.has_finalizer(&f) {
                o.meta.finalizers.push(f.clone());
            }
        })?;
        Ok(true)
    }

    /// Remove a finalizer.
    pub fn remove_finalizer(&mut self, obj: &Object, finalizer: &str) -> Result<(), ApiError> {
        let key = obj.key();
        if self.api.store.get(&key).is_none_or(|o| !o.has_finalizer(finalizer)) {
            return Ok(());
        }
        self.patch(&key, |o| o.meta.finalizers.retain(|f| f != finalizer))?;
        Ok(())
    }

    // ----- Misc -----

    /// Five random characters for a generated name.
    pub fn suffix(&mut self) -> String {
        crate::engine::rng::name_suffix(self.names)
    }

    /// The controller's random stream (for the few decisions CAPI leaves to chance).
    pub fn rng(&mut self) -> &mut ChaCha8Rng {
        self.names
    }

    /// Account for synchronous work inside the reconcile (e.g. `docker run` blocks the worker).
    pub fn spend(&mut self, ms: u64) {
        self.spent_ms += ms;
    }

    /// A note for the trace.
    pub fn note(&mut self, msg: impl Into<String>) {
        self.notes.push(msg.into());
    }

    /// Record a Kubernetes Event about `obj`, where upstream calls `recorder.Event`/`Eventf`: the
    /// manager's recorder writes it after the reconcile ([`crate::events`]).
    pub fn event(&mut self, obj: &Object, type_: crate::events::EventType, reason: &str, message: impl Into<String>) {
        self.events.push(crate::events::Recorded::about(obj, type_, reason, message.into()));
    }

    /// [`Ctx::event`] of type Normal.
    pub fn event_normal(&mut self, obj: &Object, reason: &str, message: impl Into<String>) {
        self.event(obj, crate::events::EventType::Normal, reason, message);
    }

    /// [`Ctx::event`] of type Warning.
    pub fn event_warning(&mut self, obj: &Object, reason: &str, message: impl Into<String>) {
        self.event(obj, crate::events::EventType::Warning, reason, message);
    }
}

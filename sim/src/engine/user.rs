//! What users do: scenario steps, `clusterctl` and the served API write through the API server as
//! a client would, and the engine fans the writes out at once.

use super::Sim;
use crate::object::{ObjKey, Object};
use crate::store::api::{Patch, WriteOptions, Written};
use crate::store::{ApiError, Deleted, Subresource};
use capi_scenarios::model::Propagation;

impl Sim {
    // ----- What users do (scenario steps, clusterctl, the served API) -----

    /// A user's write: its field manager is kubectl's for the command (`kubectl patch`, ...).
    pub(super) fn user_opts(&self) -> WriteOptions<'static> {
        WriteOptions::at(self.now).by("kubectl-patch")
    }

    /// `kubectl apply` (client-side): create, or three-way merge against the last applied configuration.
    pub fn apply(&mut self, m: usize, value: &serde_json::Value) -> Result<Written, ApiError> {
        let mut obj = Object::from_json(value).map_err(ApiError::bad_request)?;
        if obj.kind.info().namespaced && obj.meta.namespace.is_empty() {
            obj.meta.namespace = crate::object::shared_namespace("default");
        }
        let key = obj.key();
        let applied = crate::apply::last_applied(value);
        let opts = self.user_opts().by("kubectl-client-side-apply");
        let r = match self.mgmt[m].api.store.get(&key).cloned() {
            None => {
                obj.meta.annotations.insert(crate::apply::LAST_APPLIED.into(), applied);
                obj.meta.resource_version = 0;
                obj.meta.uid = "".into();
                self.mgmt[m].api.create(obj, opts)
            }
            Some(cur) => {
                let patch = crate::apply::three_way_patch(&cur, value, &applied);
                match patch {
                    None => Ok(Written { object: cur, warnings: vec![], changed: false }),
                    Some(p) => self.mgmt[m].api.patch(&key, &Patch::Merge(p), Subresource::Main, opts),
                }
            }
        };
        self.after_writes(m);
        r
    }

    /// A user patch.
    pub fn patch(&mut self, m: usize, key: &ObjKey, patch: &Patch, sub: Subresource) -> Result<Written, ApiError> {
        let opts = self.user_opts();
        self.patch_as(m, key, patch, sub, opts)
    }

    /// A user patch with the client's options (dry run, field validation); the time is the engine's.
    pub fn patch_as(&mut self, m: usize, key: &ObjKey, patch: &Patch, sub: Subresource, opts: WriteOptions) -> Result<Written, ApiError> {
        let opts = WriteOptions { now: self.now, ..opts };
        let r = self.mgmt[m].api.patch(key, patch, sub, opts);
        self.after_writes(m);
        r
    }

    /// A user write of the `/scale` subresource (`kubectl scale`).
    pub fn scale(
        &mut self,
        m: usize,
        key: &ObjKey,
        replicas: i64,
        precondition_rv: Option<u64>,
        dry_run: bool,
    ) -> Result<Written, ApiError> {
        let opts = WriteOptions { dry_run, ..WriteOptions::at(self.now) };
        let r = self.mgmt[m].api.scale(key, replicas, precondition_rv, opts);
        self.after_writes(m);
        r
    }

    /// A user create.
    pub fn create(&mut self, m: usize, obj: Object, dry_run: bool) -> Result<Written, ApiError> {
        self.create_as(m, obj, WriteOptions { dry_run, ..WriteOptions::at(self.now) })
    }

    /// A user create with the client's options (dry run, field validation); the time is the engine's.
    pub fn create_as(&mut self, m: usize, obj: Object, opts: WriteOptions) -> Result<Written, ApiError> {
        let opts = WriteOptions { now: self.now, ..opts };
        let r = self.mgmt[m].api.create(obj, opts);
        self.after_writes(m);
        r
    }

    /// A user update.
    pub fn update(
        &mut self,
        m: usize,
        obj: Object,
        sub: Subresource,
        precondition_rv: Option<u64>,
        dry_run: bool,
    ) -> Result<Written, ApiError> {
        self.update_as(m, obj, sub, precondition_rv, WriteOptions { dry_run, ..WriteOptions::at(self.now) })
    }

    /// A user update with the client's options (dry run, field validation); the time is the engine's.
    pub fn update_as(
        &mut self,
        m: usize,
        obj: Object,
        sub: Subresource,
        precondition_rv: Option<u64>,
        opts: WriteOptions,
    ) -> Result<Written, ApiError> {
        let opts = WriteOptions { now: self.now, ..opts };
        let r = self.mgmt[m].api.update(obj, sub, precondition_rv, opts);
        self.after_writes(m);
        r
    }

    /// A user delete.
    pub fn delete(&mut self, m: usize, key: &ObjKey, propagation: Propagation) -> Result<Deleted, ApiError> {
        let opts = self.user_opts();
        let r = self.mgmt[m].api.delete(key, propagation, opts);
        self.after_writes(m);
        r
    }

    /// Apply objects to a workload cluster through its API (kubectl with the workload kubeconfig).
    pub fn apply_to_workload(&mut self, cluster: &str, objects: Vec<serde_json::Value>) -> Result<usize, String> {
        let now = self.now;
        let r = self.world.apply_to_workload(cluster, objects, now);
        self.after_world();
        r
    }
}

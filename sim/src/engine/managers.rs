//! The managers' lifecycle: a management cluster set up as `clusterctl init` does it, informer
//! resyncs, a manager process crashing and restarting with a fresh list, and a reflector relisting
//! after its watch broke.
//!
//! What each enqueues, as controller-runtime's event handlers and CAPI's builder do it: the initial
//! list's create events get the priority queue's low priority (`IsInInitialList`); a resync is an
//! update with an unchanged resourceVersion, so low priority too, and only the controllers' `For`
//! watch sees it (`ResourceIsChanged` drops it on every other watch); a relist hands out what changed
//! as ordinary events and what did not as such unchanged updates.

use super::{controllers, rng, Ev, Management, Sim};
use crate::features::FeatureGates;
use crate::runtime::priorityqueue::LOW_PRIORITY;
use crate::runtime::Manager;
use crate::store::api::ApiServer;
use crate::store::{Change, ChangeKind, Store};

impl Sim {
    /// Add a management cluster as `clusterctl init` sets it up; returns its index.
    pub fn add_management(&mut self, name: &str, gates: FeatureGates) -> usize {
        let m = self.mgmt.len();
        let store = Store::new(self.rng.derive(&format!("uids/{name}")));
        let api = ApiServer::new(store, gates.clone(), crate::webhooks::all());
        let workers = self.concurrency;
        let managers = controllers::managers(&gates)
            .into_iter()
            .map(|(mgr_name, ctrls)| {
                let rng = self.rng.stream(&format!("manager/{name}/{mgr_name}"));
                let tree = self.rng;
                let mgmt_name = name.to_string();
                Manager::new(mgr_name, ctrls, &gates, workers, rng, move |c| tree.stream(&format!("names/{mgmt_name}/{mgr_name}/{c}")))
            })
            .collect::<Vec<_>>();
        let n = managers.len();
        self.mgmt.push(Management { name: name.to_string(), api, managers });
        let now = self.now;
        for g in 0..n {
            let period = self.world.timing.resync_period_ms;
            let d = rng::between(&mut self.mgmt[m].managers[g].rng, period.0, period.1);
            self.schedule(now + d, Ev::Resync { m, g });
        }
        self.record("engine", format_args!("management cluster {name} initialised (feature gates {:?})", gates.describe()));
        if gates.reconciler_rate_limiting && !gates.priority_queue {
            // util/controller/builder.go: Build refuses, SetupWithManager fails, every manager exits.
            for g in 0..n {
                self.mgmt[m].managers[g].up = false;
                let mgr_name = self.mgmt[m].managers[g].name;
                self.record(
                    "engine",
                    format_args!("manager {mgr_name} exited: if feature gate ReconcilerRateLimiting is enabled, feature gate PriorityQueue must be enabled as well"),
                );
            }
        }
        m
    }

    /// An informer resync (the manager's sync period): every cached object of a controller's `For`
    /// kind is enqueued at low priority.
    pub(super) fn resync(&mut self, m: usize, g: usize) {
        let now = self.now;
        let mut keys = Vec::new();
        {
            let mgr = &self.mgmt[m].managers[g];
            if mgr.up {
                for o in mgr.cache.iter() {
                    mgr.map_for(o, &mut keys);
                }
            }
        }
        self.enqueue(m, g, keys, LOW_PRIORITY);
        let period = self.world.timing.resync_period_ms;
        let d = rng::between(&mut self.mgmt[m].managers[g].rng, period.0, period.1);
        self.schedule(now + d, Ev::Resync { m, g });
    }

    /// A manager process dies: its cache, queues and in-flight events are lost; it comes back later.
    pub(crate) fn crash_manager(&mut self, m: usize, g: usize) {
        let now = self.now;
        let mgr = &mut self.mgmt[m].managers[g];
        if !mgr.up {
            return;
        }
        mgr.up = false;
        mgr.epoch += 1;
        mgr.watch_broken = false;
        mgr.cache = Default::default();
        mgr.inflight.clear();
        mgr.client.reset();
        for s in &mut mgr.controllers {
            s.queue.clear();
            s.busy = 0;
            s.dispatch_scheduled = false;
        }
        let name = mgr.name;
        let restart = rng::between(&mut mgr.rng, 5_000, 20_000);
        self.record("engine", format_args!("manager {name} crashed; restarts in {restart}ms"));
        self.schedule(now + restart, Ev::ManagerRestart { m, g });
    }

    /// The reflector reconnects after a broken watch: a fresh list replaces the cache, and every
    /// difference from what the cache held is handled as a change; the objects that did not change
    /// come as unchanged updates (`DeltaFIFO.Replace` hands out the whole list).
    pub(super) fn relist(&mut self, m: usize, g: usize) {
        let mut keys = Vec::new();
        let mut unchanged = Vec::new();
        {
            let mgmt = &mut self.mgmt[m];
            let mgr = &mut mgmt.managers[g];
            if !mgr.up || !mgr.watch_broken {
                return;
            }
            mgr.watch_broken = false;
            let mut changes = Vec::new();
            for o in mgmt.api.store.objects().iter().filter(|o| mgr.watches(o.kind)) {
                match mgr.cache.get(&o.key()) {
                    Some(c) if c.meta.resource_version == o.meta.resource_version => mgr.map_for(o, &mut unchanged),
                    Some(c) => changes.push(Change { kind: ChangeKind::Modified, object: o.clone(), old: Some(c.clone()) }),
                    None => changes.push(Change { kind: ChangeKind::Added, object: o.clone(), old: None }),
                }
            }
            for c in mgr.cache.iter() {
                if mgmt.api.store.get(&c.key()).is_none() {
                    changes.push(Change { kind: ChangeKind::Deleted, object: c.clone(), old: None });
                }
            }
            for ch in &changes {
                mgr.observe(ch, &mut keys);
            }
        }
        let name = self.mgmt[m].managers[g].name;
        self.record("engine", format_args!("manager {name} relisted after a broken watch"));
        self.enqueue(m, g, keys, 0);
        self.enqueue(m, g, unchanged, LOW_PRIORITY);
    }

    pub(super) fn restart_manager(&mut self, m: usize, g: usize) {
        let mut keys = Vec::new();
        {
            let mgmt = &mut self.mgmt[m];
            let mgr = &mut mgmt.managers[g];
            mgr.up = true;
            // Informers start with a fresh list of every watched kind.
            for o in mgmt.api.store.objects().iter() {
                if mgr.watches(o.kind) {
                    mgr.cache.insert(o.clone());
                }
            }
            for o in mgr.cache.iter() {
                let ch = Change { kind: ChangeKind::Added, object: o.clone(), old: None };
                mgr.map_change(&ch, &mut keys);
            }
        }
        let name = self.mgmt[m].managers[g].name;
        self.record("engine", format_args!("manager {name} restarted; caches rebuilt from a fresh list"));
        self.enqueue(m, g, keys, LOW_PRIORITY);
    }
}

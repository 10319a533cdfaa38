//! Watch fan-out: committed writes become trace lines, garbage-collector work and watch events in
//! flight to every manager that caches the kind (after a seeded delay, in order within a kind); world
//! notices go the same way; a delivery updates the manager's cache and enqueues the keys it maps to.

use super::{rng, trace, Ev, Sim, RELIST_BACKOFF_MS};
use crate::runtime::Delivery;
use crate::store::gc;

impl Sim {
    pub(super) fn deliver(&mut self, m: usize, g: usize) {
        let now = self.now;
        let mut keys = Vec::new();
        let mut relist_at = None;
        {
            let mgr = &mut self.mgmt[m].managers[g];
            // Streams of different kinds may schedule an earlier delivery than one already queued; a
            // Deliver event that was overtaken that way finds deliver_scheduled pointing elsewhere.
            if mgr.deliver_scheduled == Some(now) {
                mgr.deliver_scheduled = None;
            }
            while let Some(d) = mgr.inflight.pop_due(now) {
                if !mgr.up {
                    continue;
                }
                match d {
                    Delivery::Change(ch) => {
                        if mgr.watch_broken {
                            continue;
                        }
                        if mgr.drop_probability > 0.0 && rng::chance(&mut mgr.rng, mgr.drop_probability) {
                            // The watch connection breaks: this and every later change is lost until
                            // the reflector reconnects and relists (client-go `Reflector.ListAndWatch`,
                            // retried with a backoff).
                            mgr.dropped += 1;
                            mgr.watch_broken = true;
                            relist_at = Some(now + rng::between(&mut mgr.rng, RELIST_BACKOFF_MS.0, RELIST_BACKOFF_MS.1));
                            continue;
                        }
                        mgr.observe(&ch, &mut keys);
                    }
                    Delivery::Notice(n) => {
                        for (i, slot) in mgr.controllers.iter().enumerate() {
                            let mut out = Vec::new();
                            slot.reconciler.map_notice(&n, &mgr.cache, &mut out);
                            keys.extend(out.into_iter().map(|k| (i, k)));
                        }
                    }
                }
            }
        }
        self.enqueue(m, g, keys, 0);
        if let Some(at) = relist_at {
            let name = self.mgmt[m].managers[g].name;
            self.record("engine", format_args!("manager {name}: watch broken; relists at {at}ms"));
            self.schedule(at, Ev::Relist { m, g });
        }
        let mgr = &mut self.mgmt[m].managers[g];
        if let Some(at) = mgr.inflight.next_at() {
            if mgr.deliver_scheduled.is_none_or(|t| t > at) {
                mgr.deliver_scheduled = Some(at);
                self.schedule(at, Ev::Deliver { m, g });
            }
        }
    }

    /// Fan committed writes out: trace, GC triggers, watch deliveries to every manager.
    pub(crate) fn after_writes(&mut self, m: usize) {
        let now = self.now;
        self.after_writes_visible(m, now);
    }

    /// As [`Sim::after_writes`], with watch deliveries and GC reactions starting at `visible_at`.
    pub(super) fn after_writes_visible(&mut self, m: usize, visible_at: u64) {
        let changes = self.mgmt[m].api.store.take_changes();
        if !changes.is_empty() {
            self.version += 1;
        }
        let now = self.now;
        for ch in changes {
            if self.trace.enabled() {
                let o = &ch.object;
                self.trace.record(
                    now,
                    self.events,
                    "apiserver",
                    format_args!("{} {} {}/{} rv={}", ch.kind.as_str(), o.kind, o.meta.namespace, o.meta.name, o.meta.resource_version),
                );
                if self.trace.full() {
                    if let Some(old) = &ch.old {
                        self.trace.record_changed(trace::changed_paths(&old.to_json(), &o.to_json()));
                    }
                }
            }
            if !self.invariants.disabled {
                let mut inv = std::mem::take(&mut self.invariants);
                let actor = std::mem::take(&mut self.actor);
                inv.observe(self, m, if actor.is_empty() { "user" } else { &actor }, &ch);
                self.actor = actor;
                self.invariants = inv;
            }
            let mut works = Vec::new();
            gc::triggers(&ch, &self.mgmt[m].api, &mut works);
            for w in works {
                let d = self.gc_delay();
                self.schedule(visible_at + d, Ev::Gc { m, work: w });
            }
            let kind = ch.object.kind;
            for g in 0..self.mgmt[m].managers.len() {
                if self.mgmt[m].managers[g].watches(kind) {
                    self.push_delivery_at(m, g, Delivery::Change(ch.clone()), visible_at);
                }
            }
            if let Some(t) = &mut self.timeline {
                t.observe(&ch, now);
            }
            if let Some(w) = &mut self.written {
                w.push((m, ch.object.clone()));
            }
            if let Some(log) = &mut self.change_log {
                log.push((m, ch));
            }
        }
        self.after_world();
    }

    pub(super) fn push_delivery(&mut self, m: usize, g: usize, d: Delivery) {
        let now = self.now;
        self.push_delivery_at(m, g, d, now);
    }

    pub(super) fn push_delivery_at(&mut self, m: usize, g: usize, d: Delivery, now: u64) {
        let lag = self.world.timing.watch_delay_ms;
        let mgr = &mut self.mgmt[m].managers[g];
        let delay = rng::between(&mut mgr.rng, lag.0, lag.1) + mgr.extra_lag_ms;
        let at = mgr.inflight.push(now + delay, d);
        if mgr.deliver_scheduled.is_none_or(|t| t > at) {
            mgr.deliver_scheduled = Some(at);
            self.schedule(at, Ev::Deliver { m, g });
        }
    }

    /// After changing the world from outside a reconcile (user actions, faults): schedule its timers
    /// and deliver its notices.
    pub fn after_world_pub(&mut self) {
        self.after_world();
    }

    /// Move world timers into the queue and world notices to the managers.
    pub(crate) fn after_world(&mut self) {
        let timers = self.world.take_timers();
        for (at, ev) in timers {
            self.schedule(at, Ev::World(ev));
        }
        let notes = self.world.take_notes();
        let notices = self.world.take_notices_at(self.now);
        if !notes.is_empty() || !notices.is_empty() {
            self.version += 1;
        }
        let removals = std::mem::take(&mut self.world.etcd_removals);
        if let Some(t) = &mut self.timeline {
            // Node Ready and etcd membership for the timeline: the clusters this batch touched.
            let touched: std::collections::BTreeSet<&str> = notices
                .iter()
                .filter_map(|n| match n {
                    crate::world::Notice::Container { cluster, .. } => Some(cluster.as_str()),
                    n => n.workload_cluster(),
                })
                .chain(removals.iter().map(|r| r.cluster.as_str()))
                .filter(|c| !c.is_empty())
                .collect();
            for c in touched {
                t.observe_workload(c, self.world.workloads.get(c), self.now);
            }
        }
        if !self.invariants.disabled && (!notices.is_empty() || !removals.is_empty()) {
            let clusters: Vec<String> = notices.iter().filter_map(|n| n.workload_cluster().map(str::to_string)).collect();
            let mut inv = std::mem::take(&mut self.invariants);
            inv.observe_world(self, &clusters, &removals);
            self.invariants = inv;
        }
        for n in notes {
            self.record("world", format_args!("{n}"));
        }
        for notice in notices {
            for m in 0..self.mgmt.len() {
                for g in 0..self.mgmt[m].managers.len() {
                    self.push_delivery(m, g, Delivery::Notice(notice.clone()));
                }
            }
        }
    }
}

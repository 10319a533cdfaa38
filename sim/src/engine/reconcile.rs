//! Dispatch and reconcile: keys enqueued per controller (with the priority queue's priority),
//! workers handed the next key, CAPI's reconciler wrapper (at most one reconcile per object per
//! rate-limit interval), one reconcile run against the manager's cache with its API calls waiting for
//! the manager's client and its writes committed through the API server, and, when the worker is
//! free again, the result handed back to the controller's queue (`reconcileHandler`: an error
//! re-added rate limited, a `RequeueAfter` after that long, both with the key's priority).

use super::{rng, Ev, Sim};
use crate::kinds::Kind;
use crate::object::ObjKey;
use crate::runtime::workqueue::Requeue;
use crate::runtime::{Ctx, Manager};
use std::fmt::Write as _;

impl Sim {
    /// Add keys to their controllers' queues with one priority (0 for events, the priority queue's
    /// low priority for initial lists and resyncs).
    pub(super) fn enqueue(&mut self, m: usize, g: usize, keys: Vec<(usize, ObjKey)>, priority: i32) {
        let mut touched = Vec::new();
        for (c, key) in keys {
            self.mgmt[m].managers[g].controllers[c].queue.add(key, priority);
            if !touched.contains(&c) {
                touched.push(c);
            }
        }
        for c in touched {
            self.ensure_dispatch(m, g, c);
        }
    }

    pub(super) fn ensure_dispatch(&mut self, m: usize, g: usize, c: usize) {
        let now = self.now;
        let mgr = &mut self.mgmt[m].managers[g];
        if !mgr.up {
            return;
        }
        let slot = &mut mgr.controllers[c];
        if !slot.dispatch_scheduled && slot.busy < slot.workers && slot.queue.has_ready() {
            slot.dispatch_scheduled = true;
            self.schedule(now, Ev::Dispatch { m, g, c });
        }
    }

    pub(super) fn dispatch(&mut self, m: usize, g: usize, c: usize) {
        self.mgmt[m].managers[g].controllers[c].dispatch_scheduled = false;
        if !self.mgmt[m].managers[g].up {
            return;
        }
        loop {
            let slot = &mut self.mgmt[m].managers[g].controllers[c];
            if slot.busy >= slot.workers {
                break;
            }
            let Some((key, priority)) = slot.queue.get() else { break };
            self.run_reconcile(m, g, c, key, priority);
            if !self.mgmt[m].managers[g].up {
                break;
            }
        }
    }

    /// Delayed adds of a controller's queue came due.
    pub(super) fn wake(&mut self, m: usize, g: usize, c: usize) {
        let now = self.now;
        let mgr = &mut self.mgmt[m].managers[g];
        if mgr.up && mgr.controllers[c].queue.wake(now) {
            self.ensure_dispatch(m, g, c);
        }
    }

    /// Add `key` to a queue after `delay` (scheduling the wake) or now.
    fn requeue_after(&mut self, m: usize, g: usize, c: usize, key: ObjKey, delay: u64, priority: i32) {
        let now = self.now;
        let slot = &mut self.mgmt[m].managers[g].controllers[c];
        if let Some(at) = slot.queue.add_after(key, delay, priority, now) {
            self.schedule(at, Ev::Wake { m, g, c });
        }
    }

    /// A worker finished `key` (`processNextWorkItem`): the result goes back to the queue, then the
    /// key is done. A worker of a process that crashed since is ignored.
    pub(super) fn worker_free(&mut self, (m, g, c): (usize, usize, usize), key: ObjKey, epoch: u64, priority: i32, requeue: Requeue) {
        let mgr = &self.mgmt[m].managers[g];
        if mgr.epoch != epoch {
            return;
        }
        if let Some(d) = requeue.delay() {
            self.requeue_after(m, g, c, key.clone(), d, priority);
        }
        let slot = &mut self.mgmt[m].managers[g].controllers[c];
        slot.queue.done(&key);
        slot.busy = slot.busy.saturating_sub(1);
        self.ensure_dispatch(m, g, c);
    }

    /// The controllers of a management cluster as (manager, slot, name, kind of object reconciled).
    pub fn controllers(&self, m: usize) -> Vec<(usize, usize, &'static str, Kind)> {
        let mut out = Vec::new();
        for (g, mgr) in self.mgmt[m].managers.iter().enumerate() {
            for (c, slot) in mgr.controllers.iter().enumerate() {
                out.push((g, c, slot.reconciler.name(), slot.reconciler.kind()));
            }
        }
        out
    }

    /// Run one reconcile at once, outside the schedule (benchmarks and tests): the controller reads
    /// its manager's cache, its writes are committed and fanned out as usual; no requeue is scheduled.
    pub fn reconcile_now(&mut self, m: usize, g: usize, c: usize, key: &ObjKey) -> crate::runtime::ReconcileResult {
        let now = self.now;
        let mgmt = &mut self.mgmt[m];
        let Manager { cache, controllers, client, .. } = &mut mgmt.managers[g];
        let slot = &mut controllers[c];
        let mut ctx = Ctx::new(now, cache, &mut mgmt.api, &mut self.world, &mut slot.names, &self.mutants, &mgmt.name).with_client(client);
        let result = slot.reconciler.reconcile(&mut ctx, key);
        slot.stats.reconciles += 1;
        self.after_writes(m);
        result
    }

    pub(super) fn run_reconcile(&mut self, m: usize, g: usize, c: usize, key: ObjKey, priority: i32) {
        let now = self.now;
        // CAPI's reconciler wrapper: an object reconciled less than the interval ago is requeued for
        // the time left (`RequeueAfter`; controller-runtime forgets, adds it after that long with its
        // priority, and is done with it).
        if let Some(wait) = self.mgmt[m].managers[g].controllers[c].queue.begin(&key, now) {
            self.mgmt[m].managers[g].controllers[c].stats.rate_limited += 1;
            self.requeue_after(m, g, c, key.clone(), wait, priority);
            // Done; the dispatch loop this runs in goes on with the next key.
            self.mgmt[m].managers[g].controllers[c].queue.done(&key);
            return;
        }
        let crash_after = self.faults.take_crash_for(m, g);
        let mgmt = &mut self.mgmt[m];
        let mgr = &mut mgmt.managers[g];
        let mgr_name = mgr.name;
        let (result, spent, notes, crashed, name, deferred) = {
            let Manager { cache, controllers, recorder, client, .. } = mgr;
            let slot = &mut controllers[c];
            let mut ctx =
                Ctx::new(now, cache, &mut mgmt.api, &mut self.world, &mut slot.names, &self.mutants, &mgmt.name).with_client(client);
            ctx.crash_after_writes = crash_after;
            let result = slot.reconciler.reconcile(&mut ctx, &key);
            let name = slot.reconciler.name();
            let spent = ctx.elapsed_ms();
            let (mut notes, crashed, events, deferred) = (ctx.notes, ctx.crashed, ctx.events, ctx.deferred);
            // The recorder writes what the reconcile recorded (client-go's broadcaster does it right
            // after), named for the controller as `GetEventRecorderFor` names it.
            if !events.is_empty() {
                let component = format!("{name}-controller");
                for ev in &events {
                    let done = recorder.record(&mut mgmt.api, now, &component, ev);
                    notes.push(format!(
                        "event {} {} {}/{}: {} ({})",
                        ev.type_.as_str(),
                        ev.reason,
                        ev.object.kind.name(),
                        ev.object.name,
                        ev.message,
                        done.describe()
                    ));
                }
            }
            (result, spent, notes, crashed, name, deferred)
        };
        let reconcile_ms = self.world.timing.reconcile_ms;
        let mgr = &mut self.mgmt[m].managers[g];
        let cost = rng::between(&mut mgr.rng, reconcile_ms.0, reconcile_ms.1) + spent;
        let end = now + cost;
        let epoch = mgr.epoch;
        let slot = &mut mgr.controllers[c];
        slot.stats.reconciles += 1;
        slot.busy += 1;
        for (k, at) in deferred {
            slot.queue.defer_next(&k, at, now);
        }
        // What the queue does when the worker is free: a requeue's delay or an error's backoff (the
        // trace's words for it), computed as of the end of the reconcile.
        let requeue = slot.queue.finish(&key, result.as_ref().map(|a| a.requeue_after_ms).map_err(|_| ()), end);
        match requeue {
            Requeue::After(_) => slot.stats.requeues += 1,
            Requeue::RateLimited(_) => slot.stats.errors += 1,
            Requeue::No => {}
        }
        // Who makes the writes below: the trace's actor and the invariants' (one buffer, reused).
        self.actor.clear();
        let _ = write!(self.actor, "{mgr_name}/{name}");
        if self.trace.enabled() {
            let actor = &self.actor;
            for n in &notes {
                self.trace.record(now, self.events, actor, format_args!("note {n}"));
            }
            let (ns, name) = (&key.ns, &key.name);
            match (&result, requeue.delay()) {
                (Ok(_), Some(d)) => self.trace.record(now, self.events, actor, format_args!("reconcile {ns}/{name} ok requeue={d}")),
                (Ok(_), None) => self.trace.record(now, self.events, actor, format_args!("reconcile {ns}/{name} ok")),
                (Err(e), d) => {
                    self.trace.record(now, self.events, actor, format_args!("reconcile {ns}/{name} error backoff={}: {e}", d.unwrap_or(0)))
                }
            }
        }
        self.schedule(end, Ev::WorkerFree { m, g, c, key, epoch, priority, requeue });
        // A reconcile's writes reach watchers when it finishes (synchronous work such as `docker run`
        // and waits for the client's tokens delay them), although the API server commits them as they
        // are made.
        self.after_writes_visible(m, end);
        self.actor.clear();
        if crashed {
            self.crash_manager(m, g);
        }
    }
}

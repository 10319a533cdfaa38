//! A controller's work queue as controller-runtime and CAPI's controller builder put it together
//! (CAPI v1.13.5 `util/controller/builder.go: Build`, `util/controller/controller.go`):
//! - the queue: controller-runtime's priority queue ([`super::priorityqueue`]) while the
//!   `PriorityQueue` gate is on (`controller.Options.UsePriorityQueue`, set from the gate in every
//!   manager's `main.go`), else client-go's FIFO queue ([`super::fifo`]);
//! - its failure limiter ([`QueueRateLimiter`]): CAPI's, with the controller's rate-limit interval,
//!   while `ReconcilerRateLimiting` is on, else controller-runtime's default for the queue in use;
//! - CAPI's reconciler wrapper (`reconcilerWrapper.Reconcile`) while `ReconcilerRateLimiting` is on:
//!   an object reconciled less than the interval ago (or deferred with `DeferNextReconcile`) is not
//!   reconciled but requeued for the time left ([`WorkQueue::begin`]); a `RequeueAfter` is raised to
//!   what the reconcile cache still asks for, at least the interval; errors drop the `RequeueAfter`
//!   and back off; success and `RequeueAfter` forget the failures ([`WorkQueue::finish`]);
//! - controller-runtime's `reconcileHandler`: an error is re-added rate limited, a `RequeueAfter`
//!   after that long, each with the priority the key was handed out with.
//!
//! The rate-limit interval is 1s for every controller but the MachineHealthCheck controller's 15s
//! (`WithRateLimitInterval`), see `controllers::flags::rate_limit_interval_ms`.

use super::fifo::FifoQueue;
use super::priorityqueue::PriorityQueue;
pub use super::ratelimit::{QueueRateLimiter, ReconcileCache, DEFAULT_INTERVAL_MS};
use crate::features::FeatureGates;
use crate::object::ObjKey;

/// How a controller's queue is built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueConfig {
    /// `PriorityQueue`.
    pub priority_queue: bool,
    /// `ReconcilerRateLimiting`.
    pub reconciler_rate_limiting: bool,
    /// The controller's rate-limit interval.
    pub interval_ms: u64,
}

impl QueueConfig {
    /// The queue of `controller` under `gates`.
    pub fn new(gates: &FeatureGates, controller: &str) -> Self {
        QueueConfig {
            priority_queue: gates.priority_queue,
            reconciler_rate_limiting: gates.reconciler_rate_limiting,
            interval_ms: crate::controllers::flags::rate_limit_interval_ms(controller),
        }
    }
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig::new(&FeatureGates::default(), "")
    }
}

#[derive(Clone, Debug)]
enum Order {
    Fifo(FifoQueue),
    Priority(PriorityQueue),
}

/// What the queue does with a key once its reconcile is over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Requeue {
    /// Nothing (wait for the next event).
    No,
    /// Added again after this long (`RequeueAfter`).
    After(u64),
    /// Added again rate limited, after this long (an error).
    RateLimited(u64),
}

impl Requeue {
    /// The delay, if any.
    pub fn delay(self) -> Option<u64> {
        match self {
            Requeue::No => None,
            Requeue::After(d) | Requeue::RateLimited(d) => Some(d),
        }
    }
}

/// The queue.
#[derive(Clone, Debug)]
pub struct WorkQueue {
    cfg: QueueConfig,
    order: Order,
    /// The failure limiter.
    pub limiter: QueueRateLimiter,
    /// CAPI's reconcile cache.
    pub cache: ReconcileCache,
}

impl Default for WorkQueue {
    fn default() -> Self {
        WorkQueue::new(QueueConfig::default())
    }
}

impl WorkQueue {
    /// An empty queue.
    pub fn new(cfg: QueueConfig) -> Self {
        WorkQueue {
            cfg,
            order: if cfg.priority_queue { Order::Priority(PriorityQueue::default()) } else { Order::Fifo(FifoQueue::default()) },
            limiter: QueueRateLimiter::for_gates(cfg.priority_queue, cfg.reconciler_rate_limiting, cfg.interval_ms),
            cache: ReconcileCache::default(),
        }
    }

    /// How it is built.
    pub fn config(&self) -> QueueConfig {
        self.cfg
    }

    /// Add a key now with a priority (ignored by the FIFO queue).
    pub fn add(&mut self, key: ObjKey, priority: i32) {
        match &mut self.order {
            Order::Fifo(q) => q.add(key),
            Order::Priority(q) => {
                q.add(key, priority, None);
            }
        }
    }

    /// Add a key after a delay; returns the time to wake the queue if the engine must schedule one.
    pub fn add_after(&mut self, key: ObjKey, delay_ms: u64, priority: i32, now: u64) -> Option<u64> {
        if delay_ms == 0 {
            self.add(key, priority);
            return None;
        }
        let at = now + delay_ms;
        match &mut self.order {
            Order::Fifo(q) => q.add_at(key, at),
            Order::Priority(q) => q.add(key, priority, Some(at)),
        }
    }

    /// Delayed adds due at `now` come in; whether any did.
    pub fn wake(&mut self, now: u64) -> bool {
        match &mut self.order {
            Order::Fifo(q) => q.wake(now),
            Order::Priority(q) => q.wake(now),
        }
    }

    /// Take the next key to process, with its priority.
    pub fn get(&mut self) -> Option<(ObjKey, i32)> {
        match &mut self.order {
            Order::Fifo(q) => q.get().map(|k| (k, 0)),
            Order::Priority(q) => q.get(),
        }
    }

    /// Processing of a key finished.
    pub fn done(&mut self, key: &ObjKey) {
        match &mut self.order {
            Order::Fifo(q) => q.done(key),
            Order::Priority(q) => q.done(key),
        }
    }

    /// Whether [`WorkQueue::get`] would hand out a key.
    pub fn has_ready(&self) -> bool {
        match &self.order {
            Order::Fifo(q) => q.ready_len() > 0,
            Order::Priority(q) => q.has_ready(),
        }
    }

    /// Keys ready to be processed.
    pub fn ready_len(&self) -> usize {
        match &self.order {
            Order::Fifo(q) => q.ready_len(),
            Order::Priority(q) => q.ready_len(),
        }
    }

    /// Keys waiting for a delayed add.
    pub fn waiting_len(&self) -> usize {
        match &self.order {
            Order::Fifo(q) => q.waiting_len(),
            Order::Priority(q) => q.waiting_len(),
        }
    }

    /// When the next delayed add comes due.
    pub fn next_ready_at(&self) -> Option<u64> {
        match &self.order {
            Order::Fifo(q) => q.next_ready_at(),
            Order::Priority(q) => q.next_ready_at(),
        }
    }

    /// Whether a key is queued, processing or waiting.
    pub fn is_pending(&self, key: &ObjKey) -> bool {
        match &self.order {
            Order::Fifo(q) => q.is_pending(key),
            Order::Priority(q) => q.is_pending(key),
        }
    }

    /// The priority of a key's queued item (the priority queue only).
    pub fn priority_of(&self, key: &ObjKey) -> Option<i32> {
        match &self.order {
            Order::Fifo(_) => None,
            Order::Priority(q) => q.priority_of(key),
        }
    }

    /// Drop everything (a crashed manager restarts with empty queues and caches).
    pub fn clear(&mut self) {
        *self = WorkQueue::new(self.cfg);
    }

    /// Failures recorded for a key (`NumRequeues`).
    pub fn failures(&self, key: &ObjKey) -> u32 {
        self.limiter.num_requeues(key)
    }

    /// CAPI's wrapper at the start of a reconcile at `now`: `Some(wait)` when the object must not be
    /// reconciled yet (the wrapper returns `RequeueAfter: wait`); otherwise the next reconcile is
    /// held back until `now` + the interval and `None` is returned. Always `None` with the gate off.
    pub fn begin(&mut self, key: &ObjKey, now: u64) -> Option<u64> {
        if !self.cfg.reconciler_rate_limiting {
            return None;
        }
        if let Some(wait) = self.cache.should_requeue(key, now) {
            return Some(wait);
        }
        self.cache.add(key.clone(), now + self.cfg.interval_ms, now);
        None
    }

    /// `DeferNextReconcile(key, at)` (ignored with the gate off, as the wrapper then never reads it).
    pub fn defer_next(&mut self, key: &ObjKey, at: u64, now: u64) {
        if self.cfg.reconciler_rate_limiting {
            self.cache.add(key.clone(), at, now);
        }
    }

    /// The wrapper and `reconcileHandler` after a reconcile of `key` that ended at `end`:
    /// `Ok(requeue_after)` or an error. Counts the failure or forgets the failures, and says how the
    /// key comes back (the caller adds it, with its priority, before `done`).
    pub fn finish(&mut self, key: &ObjKey, result: Result<Option<u64>, ()>, end: u64) -> Requeue {
        match result {
            Err(()) => Requeue::RateLimited(self.limiter.when(key, end)),
            Ok(requeue) => {
                // CAPI's wrapper: ActualForget on success and RequeueAfter; controller-runtime's
                // Forget for its own limiters.
                self.limiter.actual_forget(key);
                match requeue {
                    None => Requeue::No,
                    Some(d) if self.cfg.reconciler_rate_limiting => {
                        let minimum = self.cache.should_requeue(key, end).unwrap_or(self.cfg.interval_ms);
                        Requeue::After(d.max(minimum))
                    }
                    Some(d) => Requeue::After(d),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::Kind;
    use rstest::rstest;

    fn k(n: &str) -> ObjKey {
        ObjKey::new(Kind::Machine, "default", n)
    }

    fn queue(pq: bool, rrl: bool, interval_ms: u64) -> WorkQueue {
        WorkQueue::new(QueueConfig { priority_queue: pq, reconciler_rate_limiting: rrl, interval_ms })
    }

    #[test]
    fn an_object_is_reconciled_at_most_once_per_interval() {
        let mut q = queue(true, true, 1_000);
        assert_eq!(q.begin(&k("a"), 0), None);
        assert_eq!(q.begin(&k("a"), 400), Some(600));
        assert_eq!(q.begin(&k("b"), 400), None);
        assert_eq!(q.begin(&k("a"), 1_000), None);
        let mut off = queue(true, false, 1_000);
        assert_eq!((off.begin(&k("a"), 0), off.begin(&k("a"), 1)), (None, None));
    }

    #[rstest]
    #[case::raised_to_the_interval(1, 0, None, 1_000)]
    #[case::longer_kept(30_000, 0, None, 30_000)]
    #[case::interval_left_at_the_end(1, 300, None, 700)]
    #[case::deferred(1, 0, Some(5_000), 5_000)]
    fn requeue_after_is_at_least_what_the_cache_asks(
        #[case] asked: u64,
        #[case] end: u64,
        #[case] deferred: Option<u64>,
        #[case] want: u64,
    ) {
        let mut q = queue(true, true, 1_000);
        assert_eq!(q.begin(&k("a"), 0), None);
        if let Some(at) = deferred {
            q.defer_next(&k("a"), at, 0);
        }
        assert_eq!(q.finish(&k("a"), Ok(Some(asked)), end), Requeue::After(want));
    }

    #[test]
    fn errors_back_off_and_success_forgets() {
        let mut q = queue(true, true, 1_000);
        assert_eq!(q.finish(&k("a"), Err(()), 0), Requeue::RateLimited(1_005));
        assert_eq!(q.finish(&k("a"), Err(()), 0), Requeue::RateLimited(1_010));
        assert_eq!(q.failures(&k("a")), 2);
        assert_eq!(q.finish(&k("a"), Ok(None), 0), Requeue::No);
        assert_eq!(q.failures(&k("a")), 0);
        let mut off = queue(true, false, 1_000);
        assert_eq!(off.finish(&k("a"), Ok(Some(1)), 0), Requeue::After(1), "no minimum without the gate");
    }

    #[test]
    fn the_gate_picks_the_queue() {
        for pq in [true, false] {
            let mut q = queue(pq, false, 1_000);
            q.add(k("low"), super::super::priorityqueue::LOW_PRIORITY);
            q.add(k("high"), 0);
            let first = q.get().map(|(key, _)| key.name.to_string());
            assert_eq!(first.as_deref(), Some(if pq { "high" } else { "low" }));
        }
    }
}

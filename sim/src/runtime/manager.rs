//! A controller manager process (capi-controller-manager, the kubeadm bootstrap and control-plane
//! managers, capd-controller-manager): one shared informer cache for all its controllers, watch
//! events in flight to it (delivered in order, after a delay), its controllers' queues, and its client
//! (a token bucket per kind, `--kube-api-qps` / `--kube-api-burst`).

use super::ratelimit::ClientLimiter;
use super::workqueue::{QueueConfig, WorkQueue};
use super::Reconciler;
use crate::kinds::{Kind, KindSet};
use crate::object::ObjKey;
use crate::objectset::ObjectSet;
use crate::store::{Change, ChangeKind};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;

/// Something delivered to a manager in order: a watch event or a world notice.
#[derive(Clone, Debug)]
pub enum Delivery {
    /// A watch event.
    Change(Change),
    /// A workload-cluster or container notice (ClusterCache events, async task completions).
    Notice(crate::world::Notice),
}

/// Watch events in flight to one manager. Each kind's events arrive in the order they were written,
/// as on one watch stream (client-go runs a reflector per type); the streams of different kinds are
/// independent, so a write that becomes visible late (the end of a reconcile that blocked for a
/// minute) holds back later events of its own kind only. Notices form a stream of their own.
#[derive(Debug, Default)]
pub struct Inflight {
    queue: BTreeMap<(u64, u64), Delivery>,
    seq: u64,
    last: BTreeMap<Option<Kind>, u64>,
}

impl Inflight {
    /// Queue `d` for delivery at `earliest` or, to keep its stream in order, later; returns when.
    pub fn push(&mut self, earliest: u64, d: Delivery) -> u64 {
        let stream = match &d {
            Delivery::Change(c) => Some(c.object.kind),
            Delivery::Notice(_) => None,
        };
        let last = self.last.entry(stream).or_insert(0);
        let at = earliest.max(*last);
        *last = at;
        self.seq += 1;
        self.queue.insert((at, self.seq), d);
        at
    }

    /// When the next event is due.
    pub fn next_at(&self) -> Option<u64> {
        self.queue.first_key_value().map(|((at, _), _)| *at)
    }

    /// The next event due at or before `now`.
    pub fn pop_due(&mut self, now: u64) -> Option<Delivery> {
        if self.next_at()? > now {
            return None;
        }
        self.queue.pop_first().map(|(_, d)| d)
    }

    /// Drop everything (the process died).
    pub fn clear(&mut self) {
        self.queue.clear();
        self.last.clear();
    }
}

/// Counters of one controller.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ControllerStats {
    /// Reconciles run.
    pub reconciles: u64,
    /// Reconciles that returned an error.
    pub errors: u64,
    /// Reconciles that asked to be requeued after a delay.
    pub requeues: u64,
    /// Reconciles not run because the object was reconciled less than the rate-limit interval ago
    /// (CAPI's reconciler wrapper requeued it instead).
    pub rate_limited: u64,
}

/// A controller inside a manager.
pub struct ControllerSlot {
    /// The reconciler.
    pub reconciler: Box<dyn Reconciler>,
    /// Its work queue.
    pub queue: WorkQueue,
    /// Workers busy now.
    pub busy: u32,
    /// `MaxConcurrentReconciles` (the release's `--*-concurrency` default, `controllers::flags`).
    pub workers: u32,
    /// Counters.
    pub stats: ControllerStats,
    /// Random stream for generated names.
    pub names: ChaCha8Rng,
    /// Whether a Dispatch event is scheduled.
    pub dispatch_scheduled: bool,
}

/// A manager process.
pub struct Manager {
    /// Name (`capi`, `kubeadm-bootstrap`, `kubeadm-control-plane`, `capd`).
    pub name: &'static str,
    /// The shared informer cache.
    pub cache: ObjectSet,
    /// Kinds any of its controllers watches.
    pub watched: KindSet,
    /// Its controllers.
    pub controllers: Vec<ControllerSlot>,
    /// Watch events in flight, with their delivery time.
    pub inflight: Inflight,
    /// When the next Deliver event is scheduled.
    pub deliver_scheduled: Option<u64>,
    /// Random stream for delays and reconcile durations.
    pub rng: ChaCha8Rng,
    /// Running (false while crashed).
    pub up: bool,
    /// Extra informer lag (stale-cache fault).
    pub extra_lag_ms: u64,
    /// Probability of dropping a watch event (watch-drop fault).
    pub drop_probability: f64,
    /// Watch connections broken so far (watch-drop fault).
    pub dropped: u64,
    /// The watch is broken: change events are lost until the reflector relists.
    pub watch_broken: bool,
    /// The manager's event recorder (one broadcaster and correlator per manager, as in
    /// controller-runtime).
    pub recorder: crate::events::Recorder,
    /// The manager's client: its token buckets.
    pub client: ClientLimiter,
    /// Process incarnation: bumped by a crash, so that the end of a reconcile the dead process was
    /// running is ignored by the new one.
    pub epoch: u64,
}

impl Manager {
    /// A manager with controllers.
    pub fn new(
        name: &'static str,
        controllers: Vec<Box<dyn Reconciler>>,
        gates: &crate::features::FeatureGates,
        workers: Option<u32>,
        rng: ChaCha8Rng,
        mut names: impl FnMut(&str) -> ChaCha8Rng,
    ) -> Self {
        let mut watched = KindSet::EMPTY;
        let slots = controllers
            .into_iter()
            .map(|r| {
                watched.insert(r.kind());
                for k in r.watches() {
                    watched.insert(*k);
                }
                let names = names(r.name());
                let workers = workers.unwrap_or_else(|| crate::controllers::flags::default_workers(r.name()));
                let queue = WorkQueue::new(QueueConfig::new(gates, r.name()));
                ControllerSlot {
                    reconciler: r,
                    queue,
                    busy: 0,
                    workers,
                    stats: ControllerStats::default(),
                    names,
                    dispatch_scheduled: false,
                }
            })
            .collect();
        Manager {
            name,
            cache: ObjectSet::cache(),
            watched,
            controllers: slots,
            inflight: Inflight::default(),
            deliver_scheduled: None,
            rng,
            up: true,
            extra_lag_ms: 0,
            drop_probability: 0.0,
            dropped: 0,
            watch_broken: false,
            recorder: crate::events::Recorder::default(),
            client: ClientLimiter::new(
                u64::from(crate::controllers::flags::KUBE_API_QPS),
                u64::from(crate::controllers::flags::KUBE_API_BURST),
            ),
            epoch: 0,
        }
    }

    /// Apply a delivered change to the cache and collect, per controller, the keys to enqueue.
    pub fn observe(&mut self, change: &Change, out: &mut Vec<(usize, ObjKey)>) {
        match change.kind {
            ChangeKind::Deleted => {
                self.cache.remove_observed(&change.object);
            }
            _ => {
                self.cache.insert(change.object.clone());
            }
        }
        self.map_change(change, out);
    }

    /// Keys a change maps to (without touching the cache): `For` plus each controller's mappers.
    pub fn map_change(&self, change: &Change, out: &mut Vec<(usize, ObjKey)>) {
        let kind = change.object.kind;
        let mut keys = Vec::new();
        for (i, slot) in self.controllers.iter().enumerate() {
            let r = &slot.reconciler;
            if r.kind() == kind {
                out.push((i, change.object.key()));
            }
            if r.watches().contains(&kind) {
                keys.clear();
                r.map(change, &self.cache, &mut keys);
                out.extend(keys.drain(..).map(|k| (i, k)));
            }
        }
    }

    /// Keys a change of an object maps to through the controllers' `For` only: what a resync (or a
    /// relist that finds an object unchanged) enqueues, since CAPI's builder puts
    /// `ResourceIsChanged` in front of every other watch (`util/controller/builder.go: Owns, Watches`)
    /// and it drops updates whose resourceVersion did not change.
    pub fn map_for(&self, object: &crate::object::Object, out: &mut Vec<(usize, ObjKey)>) {
        for (i, slot) in self.controllers.iter().enumerate() {
            if slot.reconciler.kind() == object.kind {
                out.push((i, object.key()));
            }
        }
    }

    /// Whether the manager caches a kind.
    pub fn watches(&self, kind: Kind) -> bool {
        self.watched.contains(kind)
    }

    /// Total counters.
    pub fn stats(&self) -> ControllerStats {
        self.controllers.iter().fold(ControllerStats::default(), |a, s| ControllerStats {
            reconciles: a.reconciles + s.stats.reconciles,
            errors: a.errors + s.stats.errors,
            requeues: a.requeues + s.stats.requeues,
            rate_limited: a.rate_limited + s.stats.rate_limited,
        })
    }
}

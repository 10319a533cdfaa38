//! The rate limiters of a controller manager, in simulated milliseconds:
//! - [`TokenBucket`]: `golang.org/x/time/rate`'s limiter as client-go uses it (`flowcontrol.
//!   NewTokenBucketRateLimiter` for a REST client's `--kube-api-qps`/`--kube-api-burst`, and the
//!   overall bucket of the work queue's default limiter): it starts full, refills continuously, and a
//!   caller that finds it empty reserves the next token and waits for it (tokens go negative).
//! - [`QueueRateLimiter`]: what a failed reconcile waits, as the queue's limiter computes it: CAPI's
//!   `typedItemExponentialFailureRateLimiter` (`util/controller/builder.go`: the rate-limit interval
//!   plus 5ms·2ⁿ, capped at 1000s, whose `Forget` does nothing) when `ReconcilerRateLimiting` is on;
//!   otherwise controller-runtime's default (`controller.NewTypedUnmanaged`): client-go's
//!   `TypedItemExponentialFailureRateLimiter(5ms, 1000s)` with the priority queue, and
//!   `DefaultTypedControllerRateLimiter` (the larger of that and a 10 qps / 100 burst bucket) without.
//! - [`ReconcileCache`]: CAPI's reconcile cache (`util/controller/controller.go`): the earliest time
//!   each object may be reconciled again (start + the interval, or later through
//!   `DeferNextReconcile`).
//! - [`ClientLimiter`]: a manager's client. controller-runtime builds one REST client per
//!   GroupVersionKind (`client_rest_resources.go`) and client-go gives each its own token bucket from
//!   the rest config's QPS and burst (`rest.RESTClientForConfigAndClient`), so the bucket is per kind.
//!
//! Simplification: upstream keeps separate REST clients (so buckets) for typed and unstructured
//! access to the same kind; the simulator has one per kind. The reconcile cache's 10 minute TTL
//! (`util/cache.DefaultTTL`) only bounds memory upstream; entries whose time has passed change nothing,
//! and the simulator drops them when the cache has doubled since it last did.

use crate::kinds::Kind;
use crate::object::ObjKey;
use std::collections::BTreeMap;

/// Per-item backoff base of every failure limiter (5ms).
pub const BASE_DELAY_MS: u64 = 5;
/// Per-item backoff cap (1000s).
pub const MAX_DELAY_MS: u64 = 1_000_000;
/// CAPI's default rate-limit interval (`util/controller/builder.go: Build`, 1s; shorter intervals
/// are ignored).
pub const DEFAULT_INTERVAL_MS: u64 = 1_000;
/// The overall bucket of client-go's `DefaultTypedControllerRateLimiter`: tokens per second.
pub const DEFAULT_BUCKET_QPS: u64 = 10;
/// Its burst.
pub const DEFAULT_BUCKET_BURST: u64 = 100;

const MILLI: i64 = 1_000;

/// A token bucket (`rate.Limiter`), tokens kept in thousandths so that integer milliseconds are
/// exact for any whole qps.
#[derive(Clone, Debug)]
pub struct TokenBucket {
    qps: u64,
    burst: u64,
    millitokens: i64,
    at: u64,
    started: bool,
}

impl TokenBucket {
    /// A bucket of `qps` tokens per second holding at most `burst`; full at its first use.
    pub fn new(qps: u64, burst: u64) -> Self {
        TokenBucket { qps: qps.max(1), burst, millitokens: 0, at: 0, started: false }
    }

    /// Take one token at `now`; the wait before it may be used (`Reserve().Delay()`, `Wait`).
    /// Time never runs backwards for the bucket: a reservation made for an earlier instant than the
    /// last one refills nothing.
    pub fn reserve(&mut self, now: u64) -> u64 {
        let full = self.burst as i64 * MILLI;
        if !self.started {
            self.started = true;
            self.millitokens = full;
            self.at = now;
        }
        if now > self.at {
            // qps tokens per second = qps thousandths per millisecond.
            let refill = (now - self.at).saturating_mul(self.qps) as i64;
            self.millitokens = self.millitokens.saturating_add(refill).min(full);
            self.at = now;
        }
        self.millitokens -= MILLI;
        if self.millitokens >= 0 {
            0
        } else {
            (self.millitokens.unsigned_abs()).div_ceil(self.qps)
        }
    }
}

/// The failure limiter of a controller's queue.
#[derive(Clone, Debug)]
pub enum QueueRateLimiter {
    /// CAPI's `typedItemExponentialFailureRateLimiter(interval, 5ms, 1000s)`.
    Capi {
        /// The controller's rate-limit interval.
        interval_ms: u64,
        /// Failures per key.
        failures: BTreeMap<ObjKey, u32>,
    },
    /// client-go's `TypedItemExponentialFailureRateLimiter(5ms, 1000s)` (the priority queue's default).
    ItemExponential {
        /// Failures per key.
        failures: BTreeMap<ObjKey, u32>,
    },
    /// client-go's `DefaultTypedControllerRateLimiter`: the larger of the per-item exponential backoff
    /// and an overall 10 qps / 100 burst bucket.
    Default {
        /// Failures per key.
        failures: BTreeMap<ObjKey, u32>,
        /// The overall bucket.
        bucket: TokenBucket,
    },
}

/// `base·2ⁿ` (+ `extra`), capped at `MAX_DELAY_MS` (Go computes it in float64 and caps the same way).
fn exponential(extra: u64, n: u32) -> u64 {
    if n >= 40 {
        return MAX_DELAY_MS;
    }
    extra.saturating_add(BASE_DELAY_MS.saturating_mul(1u64 << n)).min(MAX_DELAY_MS)
}

impl QueueRateLimiter {
    /// The limiter a controller's queue gets from the feature gates (see the module doc).
    pub fn for_gates(priority_queue: bool, reconciler_rate_limiting: bool, interval_ms: u64) -> Self {
        let failures = BTreeMap::new();
        match (reconciler_rate_limiting, priority_queue) {
            (true, _) => QueueRateLimiter::Capi { interval_ms, failures },
            (false, true) => QueueRateLimiter::ItemExponential { failures },
            (false, false) => QueueRateLimiter::Default { failures, bucket: TokenBucket::new(DEFAULT_BUCKET_QPS, DEFAULT_BUCKET_BURST) },
        }
    }

    fn failures(&mut self) -> &mut BTreeMap<ObjKey, u32> {
        match self {
            QueueRateLimiter::Capi { failures, .. }
            | QueueRateLimiter::ItemExponential { failures }
            | QueueRateLimiter::Default { failures, .. } => failures,
        }
    }

    /// `When`: the delay of a rate-limited add of `key` at `now`, counting one more failure.
    pub fn when(&mut self, key: &ObjKey, now: u64) -> u64 {
        let extra = match self {
            QueueRateLimiter::Capi { interval_ms, .. } => *interval_ms,
            _ => 0,
        };
        let n = self.failures().entry(key.clone()).or_insert(0);
        let exp = exponential(extra, *n);
        *n = n.saturating_add(1);
        match self {
            QueueRateLimiter::Default { bucket, .. } => exp.max(bucket.reserve(now)),
            _ => exp,
        }
    }

    /// `NumRequeues`.
    pub fn num_requeues(&self, key: &ObjKey) -> u32 {
        let f = match self {
            QueueRateLimiter::Capi { failures, .. }
            | QueueRateLimiter::ItemExponential { failures }
            | QueueRateLimiter::Default { failures, .. } => failures,
        };
        f.get(key).copied().unwrap_or(0)
    }

    /// `Forget`, as controller-runtime calls it after a successful reconcile or a `RequeueAfter`:
    /// a no-op for CAPI's limiter, whose reconciler wrapper forgets by itself.
    pub fn forget(&mut self, key: &ObjKey) {
        if !matches!(self, QueueRateLimiter::Capi { .. }) {
            self.failures().remove(key);
        }
    }

    /// CAPI's `ActualForget`.
    pub fn actual_forget(&mut self, key: &ObjKey) {
        self.failures().remove(key);
    }
}

/// CAPI's reconcile cache: per object, the earliest time of its next reconcile.
#[derive(Clone, Debug, Default)]
pub struct ReconcileCache {
    entries: BTreeMap<ObjKey, u64>,
    pruned_len: usize,
}

impl ReconcileCache {
    /// `reconcileCacheEntry.ShouldRequeue`: the wait left before `key` may be reconciled at `now`.
    pub fn should_requeue(&self, key: &ObjKey, now: u64) -> Option<u64> {
        match self.entries.get(key) {
            Some(&after) if after > now => Some(after - now),
            _ => None,
        }
    }

    /// `Add` (also `DeferNextReconcile`): the next reconcile of `key` not before `reconcile_after`
    /// (replacing what was there, earlier or later).
    pub fn add(&mut self, key: ObjKey, reconcile_after: u64, now: u64) {
        self.entries.insert(key, reconcile_after);
        if self.entries.len() > 2 * self.pruned_len.max(512) {
            self.entries.retain(|_, after| *after > now);
            self.pruned_len = self.entries.len();
        }
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// A manager's client: a token bucket per kind, each with the manager's QPS and burst.
#[derive(Clone, Debug)]
pub struct ClientLimiter {
    qps: u64,
    burst: u64,
    buckets: BTreeMap<Kind, TokenBucket>,
    /// Total time calls waited for a token.
    pub throttled_ms: u64,
    /// Calls that waited.
    pub throttled_calls: u64,
}

impl ClientLimiter {
    /// A client with `--kube-api-qps` and `--kube-api-burst`.
    pub fn new(qps: u64, burst: u64) -> Self {
        ClientLimiter { qps, burst, buckets: BTreeMap::new(), throttled_ms: 0, throttled_calls: 0 }
    }

    /// One API call on `kind` made at `at`: the wait before it is sent.
    pub fn reserve(&mut self, kind: Kind, at: u64) -> u64 {
        let (qps, burst) = (self.qps, self.burst);
        let wait = self.buckets.entry(kind).or_insert_with(|| TokenBucket::new(qps, burst)).reserve(at);
        if wait > 0 {
            self.throttled_ms += wait;
            self.throttled_calls += 1;
        }
        wait
    }

    /// A fresh client (the process restarted).
    pub fn reset(&mut self) {
        self.buckets.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn k(n: &str) -> ObjKey {
        ObjKey::new(Kind::Machine, "default", n)
    }

    #[test]
    fn a_bucket_starts_full_then_hands_out_one_token_per_interval() {
        let mut b = TokenBucket::new(100, 200);
        let waits: Vec<u64> = (0..203).map(|_| b.reserve(0)).collect();
        assert!(waits[..200].iter().all(|&w| w == 0));
        assert_eq!(&waits[200..], &[10, 20, 30]);
        // 1s later: 100 tokens refilled, 3 of them already promised.
        let later: Vec<u64> = (0..98).map(|_| b.reserve(1_000)).collect();
        assert!(later[..97].iter().all(|&w| w == 0), "{later:?}");
        assert_eq!(later[97], 10);
    }

    #[rstest]
    #[case::capi(true, true, vec![1005, 1010, 1020, 1040])]
    #[case::priority_queue_default(false, true, vec![5, 10, 20, 40])]
    #[case::controller_default(false, false, vec![5, 10, 20, 40])]
    fn failures_back_off_by_the_gates(#[case] rrl: bool, #[case] pq: bool, #[case] want: Vec<u64>) {
        let mut l = QueueRateLimiter::for_gates(pq, rrl, DEFAULT_INTERVAL_MS);
        let got: Vec<u64> = (0..4).map(|_| l.when(&k("a"), 0)).collect();
        assert_eq!(got, want);
        assert_eq!(l.num_requeues(&k("a")), 4);
        l.forget(&k("a"));
        assert_eq!(l.num_requeues(&k("a")), if rrl { 4 } else { 0 }, "CAPI's Forget is a no-op");
        l.actual_forget(&k("a"));
        assert_eq!(l.num_requeues(&k("a")), 0);
    }

    #[test]
    fn the_default_limiter_is_held_back_by_its_overall_bucket() {
        let mut l = QueueRateLimiter::for_gates(false, false, DEFAULT_INTERVAL_MS);
        let keys: Vec<ObjKey> = (0..101).map(|i| k(&format!("m{i}"))).collect();
        let d: Vec<u64> = keys.iter().map(|key| l.when(key, 0)).collect();
        assert_eq!(d[99], 5);
        assert_eq!(d[100], 100, "the 101st first failure waits for a token at 10 qps");
    }

    #[test]
    fn the_reconcile_cache_answers_the_time_left() {
        let mut c = ReconcileCache::default();
        assert_eq!(c.should_requeue(&k("a"), 0), None);
        c.add(k("a"), 15_000, 0);
        assert_eq!(c.should_requeue(&k("a"), 0), Some(15_000));
        assert_eq!(c.should_requeue(&k("a"), 4_000), Some(11_000));
        assert_eq!(c.should_requeue(&k("a"), 15_000), None, "reconcileAfter == now does not requeue");
    }

    #[test]
    fn the_client_limits_each_kind_on_its_own() {
        let mut c = ClientLimiter::new(100, 200);
        for _ in 0..200 {
            assert_eq!(c.reserve(Kind::Machine, 0), 0);
        }
        assert_eq!(c.reserve(Kind::Machine, 0), 10);
        assert_eq!(c.reserve(Kind::Cluster, 0), 0, "another kind is another REST client");
        assert_eq!((c.throttled_calls, c.throttled_ms), (1, 10));
    }
}

//! A controller's work queue with client-go's contract: one slot per key (a key added while queued is
//! not added twice; a key added while being processed is processed again afterwards), delayed adds
//! where the earliest time wins, and controller-runtime's default rate limiter for failures
//! (per-item exponential 5ms·2ⁿ capped at 1000s, combined with an overall 10 qps / 100 burst bucket).

use crate::object::ObjKey;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// Per-item backoff base (controller-runtime `DefaultTypedControllerRateLimiter`).
pub const BACKOFF_BASE_MS: u64 = 5;
/// Per-item backoff cap.
pub const BACKOFF_MAX_MS: u64 = 1_000_000;
/// Overall bucket: tokens per second.
pub const BUCKET_QPS: u64 = 10;
/// Overall bucket: burst.
pub const BUCKET_BURST: u64 = 100;
/// CAPI's reconciler rate limiting (`ReconcilerRateLimiting`, GA in v1.15,
/// `util/controller/controller.go`): an object is reconciled at most once per interval, requeues are
/// never shorter, and failure backoff adds it.
pub const RATE_LIMIT_INTERVAL_MS: u64 = 1_000;

/// The queue.
#[derive(Default)]
pub struct WorkQueue {
    ready: VecDeque<ObjKey>,
    dirty: BTreeSet<ObjKey>,
    processing: BTreeSet<ObjKey>,
    waiting: BTreeMap<ObjKey, u64>,
    failures: BTreeMap<ObjKey, u32>,
    /// When each key was last reconciled (for CAPI's per-object rate limit).
    last_reconcile: BTreeMap<ObjKey, u64>,
    /// Bucket state: tokens ×1000 and the time they were last refilled.
    bucket_millitokens: u64,
    bucket_at_ms: u64,
    bucket_started: bool,
}

impl WorkQueue {
    /// Add a key now.
    pub fn add(&mut self, key: ObjKey) {
        if self.dirty.contains(&key) {
            return;
        }
        if !self.processing.contains(&key) {
            self.ready.push_back(key.clone());
        }
        self.dirty.insert(key);
    }

    /// Add a key after a delay; returns the time to wake it if the engine must schedule one.
    pub fn add_after(&mut self, key: ObjKey, delay_ms: u64, now: u64) -> Option<u64> {
        if delay_ms == 0 {
            self.add(key);
            return None;
        }
        let at = now + delay_ms;
        match self.waiting.get(&key) {
            Some(&t) if t <= at => None,
            _ => {
                self.waiting.insert(key, at);
                Some(at)
            }
        }
    }

    /// A delayed add came due (ignored if superseded by an earlier one).
    pub fn wake(&mut self, key: &ObjKey, at: u64) {
        if self.waiting.get(key) == Some(&at) {
            self.waiting.remove(key);
            self.add(key.clone());
        }
    }

    /// Take the next key to process.
    pub fn get(&mut self) -> Option<ObjKey> {
        let key = self.ready.pop_front()?;
        self.dirty.remove(&key);
        self.processing.insert(key.clone());
        Some(key)
    }

    /// Processing of a key finished.
    pub fn done(&mut self, key: &ObjKey) {
        self.processing.remove(key);
        if self.dirty.contains(key) {
            self.ready.push_back(key.clone());
        }
    }

    /// The rate-limited delay for a failed key (and count the failure): CAPI's limiter adds the rate
    /// limit interval to controller-runtime's exponential backoff.
    pub fn rate_limited_delay(&mut self, key: &ObjKey, now: u64) -> u64 {
        let n = self.failures.entry(key.clone()).or_insert(0);
        let exp = (RATE_LIMIT_INTERVAL_MS + BACKOFF_BASE_MS.saturating_mul(1u64 << (*n).min(40))).min(BACKOFF_MAX_MS);
        *n += 1;
        exp.max(self.bucket_delay(now))
    }

    /// CAPI's per-object rate limit: if the key was reconciled less than the interval ago, the time
    /// to wait; otherwise record this reconcile and return `None`.
    pub fn rate_limit(&mut self, key: &ObjKey, now: u64) -> Option<u64> {
        match self.last_reconcile.get(key) {
            Some(&t) if now < t + RATE_LIMIT_INTERVAL_MS => Some(t + RATE_LIMIT_INTERVAL_MS - now),
            _ => {
                self.last_reconcile.insert(key.clone(), now);
                None
            }
        }
    }

    /// Forget the rate-limit record of a key that is gone.
    pub fn forget_key(&mut self, key: &ObjKey) {
        self.last_reconcile.remove(key);
        self.failures.remove(key);
    }

    /// Reset a key's failure count.
    pub fn forget(&mut self, key: &ObjKey) {
        self.failures.remove(key);
    }

    /// Failures recorded for a key.
    pub fn failures(&self, key: &ObjKey) -> u32 {
        self.failures.get(key).copied().unwrap_or(0)
    }

    fn bucket_delay(&mut self, now: u64) -> u64 {
        const MILLI: u64 = 1000;
        if !self.bucket_started {
            self.bucket_started = true;
            self.bucket_millitokens = BUCKET_BURST * MILLI;
            self.bucket_at_ms = now;
        }
        // Refill: BUCKET_QPS tokens per second = BUCKET_QPS millitokens per ms.
        if now > self.bucket_at_ms {
            let refill = (now - self.bucket_at_ms) * BUCKET_QPS;
            self.bucket_millitokens = (self.bucket_millitokens + refill).min(BUCKET_BURST * MILLI);
            self.bucket_at_ms = now;
        }
        if self.bucket_millitokens >= MILLI {
            self.bucket_millitokens -= MILLI;
            0
        } else {
            // Reserve a future token: the wait until it exists.
            let missing = MILLI - self.bucket_millitokens;
            self.bucket_millitokens = 0;
            self.bucket_at_ms = now + missing.div_ceil(BUCKET_QPS);
            missing.div_ceil(BUCKET_QPS)
        }
    }

    /// Keys ready to be processed.
    pub fn ready_len(&self) -> usize {
        self.ready.len()
    }

    /// Keys waiting for a delayed add.
    pub fn waiting_len(&self) -> usize {
        self.waiting.len()
    }

    /// Whether a key is queued, processing or waiting.
    pub fn is_pending(&self, key: &ObjKey) -> bool {
        self.dirty.contains(key) || self.processing.contains(key) || self.waiting.contains_key(key)
    }

    /// Drop everything (a crashed manager restarts with empty queues).
    pub fn clear(&mut self) {
        *self = WorkQueue::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::Kind;

    fn k(n: &str) -> ObjKey {
        ObjKey::new(Kind::Machine, "default", n)
    }

    #[test]
    fn deduplicates_and_requeues_keys_added_while_processing() {
        let mut q = WorkQueue::default();
        q.add(k("a"));
        q.add(k("a"));
        assert_eq!(q.ready_len(), 1);
        let a = q.get().unwrap();
        q.add(k("a"));
        assert_eq!(q.ready_len(), 0, "processing keys are not handed out twice");
        q.done(&a);
        assert_eq!(q.get(), Some(k("a")));
    }

    #[test]
    fn earliest_delayed_add_wins() {
        let mut q = WorkQueue::default();
        assert_eq!(q.add_after(k("a"), 100, 0), Some(100));
        assert_eq!(q.add_after(k("a"), 200, 0), None);
        assert_eq!(q.add_after(k("a"), 50, 0), Some(50));
        q.wake(&k("a"), 100);
        assert_eq!(q.ready_len(), 0, "superseded wake is ignored");
        q.wake(&k("a"), 50);
        assert_eq!(q.ready_len(), 1);
    }

    #[test]
    fn failures_back_off_exponentially() {
        let mut q = WorkQueue::default();
        let d: Vec<u64> = (0..4).map(|_| q.rate_limited_delay(&k("a"), 0)).collect();
        assert_eq!(d, vec![1005, 1010, 1020, 1040]);
        q.forget(&k("a"));
        assert_eq!(q.rate_limited_delay(&k("a"), 0), 1005);
    }

    #[test]
    fn an_object_is_reconciled_at_most_once_per_second() {
        let mut q = WorkQueue::default();
        assert_eq!(q.rate_limit(&k("a"), 0), None);
        assert_eq!(q.rate_limit(&k("a"), 400), Some(600));
        assert_eq!(q.rate_limit(&k("b"), 400), None);
        assert_eq!(q.rate_limit(&k("a"), 1000), None);
    }
}

//! client-go's work queue (`util/workqueue`: `Typed` with the delaying queue on top), which a
//! controller gets when the `PriorityQueue` gate is off: one slot per key (a key added while queued is
//! not added twice; a key added while being processed is processed again afterwards), first in first
//! out, and delayed adds kept apart from the queue (`waitingForQueue`, the earliest time per key
//! wins) that add the key when they come due, whatever happened to it meanwhile.

use crate::object::ObjKey;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// The queue.
#[derive(Clone, Debug, Default)]
pub struct FifoQueue {
    queue: VecDeque<ObjKey>,
    dirty: BTreeSet<ObjKey>,
    processing: BTreeSet<ObjKey>,
    /// Delayed adds: the time per key, and the keys by (time, order of the add).
    waiting: BTreeMap<ObjKey, (u64, u64)>,
    due: BTreeMap<(u64, u64), ObjKey>,
    seq: u64,
}

impl FifoQueue {
    /// `Add`.
    pub fn add(&mut self, key: ObjKey) {
        if self.dirty.contains(&key) {
            return;
        }
        if !self.processing.contains(&key) {
            self.queue.push_back(key.clone());
        }
        self.dirty.insert(key);
    }

    /// `AddAfter` with a positive delay: returns the time to wake it when it is a new earliest time.
    pub fn add_at(&mut self, key: ObjKey, at: u64) -> Option<u64> {
        if let Some(&(t, seq)) = self.waiting.get(&key) {
            if t <= at {
                return None;
            }
            self.due.remove(&(t, seq));
        }
        self.seq += 1;
        self.waiting.insert(key.clone(), (at, self.seq));
        self.due.insert((at, self.seq), key);
        Some(at)
    }

    /// Delayed adds due at `now` are added, earliest first.
    pub fn wake(&mut self, now: u64) -> bool {
        let mut moved = false;
        while let Some((&(at, _), _)) = self.due.first_key_value() {
            if at > now {
                break;
            }
            let (_, key) = self.due.pop_first().expect("peeked");
            self.waiting.remove(&key);
            self.add(key);
            moved = true;
        }
        moved
    }

    /// `Get`.
    pub fn get(&mut self) -> Option<ObjKey> {
        let key = self.queue.pop_front()?;
        self.dirty.remove(&key);
        self.processing.insert(key.clone());
        Some(key)
    }

    /// `Done`.
    pub fn done(&mut self, key: &ObjKey) {
        self.processing.remove(key);
        if self.dirty.contains(key) {
            self.queue.push_back(key.clone());
        }
    }

    /// Keys ready to be processed.
    pub fn ready_len(&self) -> usize {
        self.queue.len()
    }

    /// Keys waiting for a delayed add.
    pub fn waiting_len(&self) -> usize {
        self.waiting.len()
    }

    /// The earliest delayed add.
    pub fn next_ready_at(&self) -> Option<u64> {
        self.due.first_key_value().map(|((at, _), _)| *at)
    }

    /// Whether a key is queued, processing or waiting.
    pub fn is_pending(&self, key: &ObjKey) -> bool {
        self.dirty.contains(key) || self.processing.contains(key) || self.waiting.contains_key(key)
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
        let mut q = FifoQueue::default();
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
    fn earliest_delayed_add_wins_and_survives_an_add_meanwhile() {
        let mut q = FifoQueue::default();
        assert_eq!(q.add_at(k("a"), 100), Some(100));
        assert_eq!(q.add_at(k("a"), 200), None);
        assert_eq!(q.add_at(k("a"), 50), Some(50));
        q.add(k("a"));
        let a = q.get().unwrap();
        q.done(&a);
        assert!(!q.wake(49));
        assert!(q.wake(100));
        assert_eq!(q.get(), Some(k("a")), "the delayed add still comes");
    }
}

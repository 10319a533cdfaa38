//! controller-runtime's priority queue (`pkg/controller/priorityqueue/priorityqueue.go`, v0.23, the
//! queue every CAPI controller gets while the `PriorityQueue` gate is on), in simulated time.
//!
//! One item per key, either waiting (with a ready time) or ready. Adding a key that has an item
//! merges into it: the earlier ready time wins, a key already ready stays ready (a later
//! `AddAfter` is absorbed), and a higher priority raises the item and moves it behind the other items
//! of that priority. Ready items are handed out by priority (higher first), then in the order they
//! became ready; a waiting item that comes due gets a fresh place in that order. A key handed out
//! is locked until `Done`: a new item for it may be added meanwhile but is not handed out before.
//!
//! Event handlers give the initial list's create events and resyncs (updates with an unchanged
//! resourceVersion) [`LOW_PRIORITY`] (`pkg/handler/eventhandler.go`, `enqueue_mapped.go`); every
//! other add has priority 0, and a requeue keeps the priority its item was handed out with
//! (`pkg/internal/controller/controller.go: reconcileHandler`).

use crate::object::ObjKey;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet};

/// `handler.LowPriority`.
pub const LOW_PRIORITY: i32 = -100;

#[derive(Clone, Debug)]
struct Item {
    counter: u64,
    priority: i32,
    ready_at: Option<u64>,
}

/// The queue.
#[derive(Clone, Debug, Default)]
pub struct PriorityQueue {
    items: BTreeMap<ObjKey, Item>,
    /// Ready items in hand-out order (`lessReady`).
    ready: BTreeMap<(Reverse<i32>, u64), ObjKey>,
    /// Waiting items by ready time (`lessWaiting`).
    waiting: BTreeMap<(u64, Reverse<i32>, u64), ObjKey>,
    /// Keys handed out and not yet done.
    locked: BTreeSet<ObjKey>,
    added_counter: u64,
}

impl PriorityQueue {
    fn next_counter(&mut self) -> u64 {
        let c = self.added_counter;
        self.added_counter += 1;
        c
    }

    fn unlink(&mut self, it: &Item) {
        match it.ready_at {
            None => self.ready.remove(&(Reverse(it.priority), it.counter)),
            Some(at) => self.waiting.remove(&(at, Reverse(it.priority), it.counter)),
        };
    }

    fn link(&mut self, key: ObjKey, it: Item) {
        match it.ready_at {
            None => self.ready.insert((Reverse(it.priority), it.counter), key.clone()),
            Some(at) => self.waiting.insert((at, Reverse(it.priority), it.counter), key.clone()),
        };
        self.items.insert(key, it);
    }

    /// `AddWithOpts` for one key: ready at `ready_at` (`None`: now), with `priority`. Returns the
    /// item's ready time when it is waiting and that time is new (the engine schedules a wake).
    pub fn add(&mut self, key: ObjKey, priority: i32, ready_at: Option<u64>) -> Option<u64> {
        let Some(old) = self.items.get(&key).cloned() else {
            let counter = self.next_counter();
            self.link(key, Item { counter, priority, ready_at });
            return ready_at;
        };
        let ready_at = match (old.ready_at, ready_at) {
            (None, _) | (_, None) => None,
            (Some(a), Some(b)) => Some(a.min(b)),
        };
        let (priority, counter) = if priority > old.priority { (priority, self.next_counter()) } else { (old.priority, old.counter) };
        self.unlink(&old);
        let wake = ready_at.filter(|&at| old.ready_at != Some(at));
        self.link(key, Item { counter, priority, ready_at });
        wake
    }

    /// Waiting items due at `now` become ready, in the order of their ready times, each placed as
    /// if added now (`handleWaitingItems`).
    pub fn wake(&mut self, now: u64) -> bool {
        let mut moved = false;
        while let Some((&(at, _, _), _)) = self.waiting.first_key_value() {
            if at > now {
                break;
            }
            let (_, key) = self.waiting.pop_first().expect("peeked");
            let counter = self.next_counter();
            let it = self.items.get_mut(&key).expect("indexed");
            it.ready_at = None;
            it.counter = counter;
            let priority = it.priority;
            self.ready.insert((Reverse(priority), counter), key);
            moved = true;
        }
        moved
    }

    /// The next ready item whose key is not locked, with its priority; the key is locked.
    pub fn get(&mut self) -> Option<(ObjKey, i32)> {
        let (&slot, key) = self.ready.iter().find(|(_, k)| !self.locked.contains(*k))?;
        let key = key.clone();
        self.ready.remove(&slot);
        self.items.remove(&key);
        self.locked.insert(key.clone());
        Some((key, slot.0 .0))
    }

    /// `Done`: the key may be handed out again.
    pub fn done(&mut self, key: &ObjKey) {
        self.locked.remove(key);
    }

    /// Whether [`PriorityQueue::get`] would hand something out.
    pub fn has_ready(&self) -> bool {
        self.ready.values().any(|k| !self.locked.contains(k))
    }

    /// Ready items (`Len`).
    pub fn ready_len(&self) -> usize {
        self.ready.len()
    }

    /// Waiting items.
    pub fn waiting_len(&self) -> usize {
        self.waiting.len()
    }

    /// The earliest ready time of a waiting item.
    pub fn next_ready_at(&self) -> Option<u64> {
        self.waiting.first_key_value().map(|((at, _, _), _)| *at)
    }

    /// Whether a key has an item or is being processed.
    pub fn is_pending(&self, key: &ObjKey) -> bool {
        self.items.contains_key(key) || self.locked.contains(key)
    }

    /// The priority of a key's item.
    pub fn priority_of(&self, key: &ObjKey) -> Option<i32> {
        self.items.get(key).map(|i| i.priority)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::Kind;

    fn k(n: &str) -> ObjKey {
        ObjKey::new(Kind::Machine, "default", n)
    }

    fn drain(q: &mut PriorityQueue) -> Vec<String> {
        let mut out = Vec::new();
        while let Some((key, _)) = q.get() {
            q.done(&key);
            out.push(key.name.to_string());
        }
        out
    }

    #[test]
    fn higher_priority_first_then_fifo() {
        let mut q = PriorityQueue::default();
        q.add(k("low-1"), LOW_PRIORITY, None);
        q.add(k("a"), 0, None);
        q.add(k("low-2"), LOW_PRIORITY, None);
        q.add(k("b"), 0, None);
        q.add(k("low-1"), 0, None); // raised: behind the other items of priority 0
        assert_eq!(drain(&mut q), ["a", "b", "low-1", "low-2"]);
    }

    #[test]
    fn a_ready_key_absorbs_a_later_add_after_and_a_ready_add_cancels_a_wait() {
        let mut q = PriorityQueue::default();
        q.add(k("a"), 0, None);
        assert_eq!(q.add(k("a"), 0, Some(500)), None);
        assert_eq!((q.ready_len(), q.waiting_len()), (1, 0));
        q.add(k("b"), 0, Some(500));
        q.add(k("b"), 0, None);
        assert_eq!((q.ready_len(), q.waiting_len()), (2, 0));
    }

    #[test]
    fn the_earliest_ready_time_wins_and_items_come_due_in_that_order() {
        let mut q = PriorityQueue::default();
        assert_eq!(q.add(k("a"), 0, Some(300)), Some(300));
        assert_eq!(q.add(k("a"), 0, Some(400)), None);
        assert_eq!(q.add(k("a"), 0, Some(100)), Some(100));
        q.add(k("b"), 0, Some(50));
        assert!(!q.wake(49));
        assert!(q.wake(100));
        assert_eq!(drain(&mut q), ["b", "a"]);
    }

    #[test]
    fn a_locked_key_is_not_handed_out_twice() {
        let mut q = PriorityQueue::default();
        q.add(k("a"), 0, None);
        let (a, _) = q.get().unwrap();
        q.add(k("a"), 0, None);
        assert!(!q.has_ready());
        assert_eq!(q.get(), None);
        q.done(&a);
        assert_eq!(q.get(), Some((k("a"), 0)));
    }
}

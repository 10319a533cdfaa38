//! The bounded event history watch streams resume from: every committed change of the served
//! management cluster in resourceVersion order, the oldest dropped once more than the limit are
//! kept. Dropping is the compaction point: a watch from a resourceVersion whose later events are
//! gone gets `410 Expired`; a resourceVersion a LIST returned is always watchable (the
//! compaction rule of the reference: too old only when `rv < floor`).

use capi_sim::store::ChangeKind;
use capi_sim::Object;
use std::collections::VecDeque;
use std::sync::Arc;

/// One committed change.
#[derive(Clone, Debug)]
pub struct Event {
    /// The resourceVersion the change took.
    pub rv: u64,
    /// ADDED, MODIFIED or DELETED.
    pub kind: ChangeKind,
    /// The object after the change (its last state for DELETED).
    pub object: Arc<Object>,
    /// The object before the change (to turn label changes into ADDED/DELETED for selectors).
    pub old: Option<Arc<Object>>,
}

/// Events after some resourceVersion could not be served: they were dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Expired {
    /// The oldest resourceVersion still served.
    pub floor: u64,
}

/// The retained events.
#[derive(Debug)]
pub struct History {
    events: VecDeque<Event>,
    /// Every event with `rv > floor` is retained.
    floor: u64,
    /// The newest resourceVersion known (the store's when nothing happened since the start).
    latest: u64,
    limit: usize,
}

impl History {
    /// An empty history starting at the store's current resourceVersion.
    pub fn new(start_rv: u64, limit: usize) -> History {
        History { events: VecDeque::new(), floor: start_rv, latest: start_rv, limit: limit.max(1) }
    }

    /// Append an event and drop the oldest beyond the limit. The store's resourceVersions increase
    /// strictly in commit order; an event out of order is dropped (with a message) rather than
    /// breaking the ordered search of [`History::after`].
    pub fn push(&mut self, ev: Event) {
        if ev.rv <= self.latest {
            eprintln!("capi-sim serve: watch history: event rv={} after rv={} dropped (out of order)", ev.rv, self.latest);
            return;
        }
        self.latest = self.latest.max(ev.rv);
        self.events.push_back(ev);
        while self.events.len() > self.limit {
            if let Some(e) = self.events.pop_front() {
                self.floor = e.rv;
            }
        }
    }

    /// Note the store's resourceVersion when no event carried it (kept monotonic).
    pub fn observe_rv(&mut self, rv: u64) {
        self.latest = self.latest.max(rv);
    }

    /// Drop every retained event (an injected compaction).
    pub fn compact(&mut self) {
        self.events.clear();
        self.floor = self.latest;
    }

    /// The newest resourceVersion.
    pub fn latest(&self) -> u64 {
        self.latest
    }

    /// The compaction point.
    pub fn floor(&self) -> u64 {
        self.floor
    }

    /// Events retained.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// Whether no event is retained.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// Whether a watch may start (or go on) after `rv`.
    pub fn check(&self, rv: u64) -> Result<(), Expired> {
        if rv < self.floor {
            Err(Expired { floor: self.floor })
        } else {
            Ok(())
        }
    }

    /// Up to `max` events with `rv > after`, and the resourceVersion the reader has seen everything
    /// up to afterwards.
    pub fn after(&self, after: u64, max: usize) -> Result<(Vec<Event>, u64), Expired> {
        self.check(after)?;
        let start = self.events.partition_point(|e| e.rv <= after);
        let batch: Vec<Event> = self.events.range(start..).take(max).cloned().collect();
        let seen = match batch.last() {
            Some(last) if start + batch.len() < self.events.len() => last.rv,
            _ => self.latest.max(after),
        };
        Ok((batch, seen))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use capi_sim::Kind;

    fn ev(rv: u64) -> Event {
        Event { rv, kind: ChangeKind::Added, object: Arc::new(Object::new(Kind::ConfigMap, "default", "x")), old: None }
    }

    #[test]
    fn bounded_with_a_real_compaction_point() {
        let mut h = History::new(4, 3);
        for rv in 5..=9 {
            h.push(ev(rv));
        }
        assert_eq!(h.floor(), 6);
        assert_eq!(h.check(5), Err(Expired { floor: 6 }));
        let (evs, seen) = h.after(6, 10).unwrap();
        assert_eq!(evs.iter().map(|e| e.rv).collect::<Vec<_>>(), vec![7, 8, 9]);
        assert_eq!(seen, 9);
        let (evs, seen) = h.after(6, 2).unwrap();
        assert_eq!((evs.len(), seen), (2, 8));
        // The newest resourceVersion (what a LIST returns) is always watchable.
        h.compact();
        assert!(h.after(h.latest(), 10).unwrap().0.is_empty());
        assert!(h.check(8).is_err());
    }
}

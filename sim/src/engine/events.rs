//! The engine's events: what can happen at a simulated instant, and their order in the one queue
//! (time, then the sequence number they were scheduled with).

use crate::object::ObjKey;
use crate::runtime::workqueue::Requeue;
use crate::store::gc::GcWork;
use crate::world::WorldEvent;

/// Reconnect delay of a reflector after its watch broke (client-go's reflector backoff starts at
/// 800ms with full jitter).
pub(crate) const RELIST_BACKOFF_MS: (u64, u64) = (800, 1_600);

/// Engine events.
#[derive(Clone, Debug)]
pub(crate) enum Ev {
    Deliver {
        m: usize,
        g: usize,
    },
    Dispatch {
        m: usize,
        g: usize,
        c: usize,
    },
    /// Delayed adds of a controller's queue come due.
    Wake {
        m: usize,
        g: usize,
        c: usize,
    },
    /// A worker finished `key`: `requeue` goes back to the queue with `priority`, unless the process
    /// it ran in (`epoch`) crashed since.
    WorkerFree {
        m: usize,
        g: usize,
        c: usize,
        key: ObjKey,
        epoch: u64,
        priority: i32,
        requeue: Requeue,
    },
    Gc {
        m: usize,
        work: GcWork,
    },
    World(WorldEvent),
    Resync {
        m: usize,
        g: usize,
    },
    ManagerRestart {
        m: usize,
        g: usize,
    },
    Relist {
        m: usize,
        g: usize,
    },
    Fault(crate::faults::FaultEvent),
    /// A background `clusterctl move`'s next turn.
    Clusterctl {
        job: usize,
    },
}

pub(super) struct Scheduled {
    pub(super) at: u64,
    pub(super) seq: u64,
    pub(super) ev: Ev,
}

impl PartialEq for Scheduled {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.seq) == (o.at, o.seq)
    }
}
impl Eq for Scheduled {}
impl PartialOrd for Scheduled {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Scheduled {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(o.at, o.seq))
    }
}

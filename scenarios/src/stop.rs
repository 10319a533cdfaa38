//! Stopping a run early and saying why: a signal (SIGINT, SIGTERM) or a wall-time limit sets the
//! [`StopSignal`]; the runner checks it between steps, backends check it inside long steps (the
//! simulator between events, the conformance backend while it waits), and the run ends with its
//! completed steps kept and the report marked interrupted, never green.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A shared "stop now, because ..." flag. Cloning shares it.
#[derive(Clone, Debug, Default)]
pub struct StopSignal {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    stopped: AtomicBool,
    reason: Mutex<Option<String>>,
    /// A child is stopped when its parent is (see [`StopSignal::child`]).
    parent: Option<Arc<Inner>>,
}

impl Inner {
    fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::Relaxed) || self.parent.as_ref().is_some_and(|p| p.is_stopped())
    }

    fn reason(&self) -> Option<String> {
        if let Some(r) = self.parent.as_ref().and_then(|p| p.reason()) {
            return Some(r);
        }
        if !self.stopped.load(Ordering::Relaxed) {
            return None;
        }
        self.reason.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl StopSignal {
    /// A signal nobody has raised yet.
    pub fn new() -> Self {
        StopSignal::default()
    }

    /// Raise it. The first reason given is kept.
    pub fn stop(&self, reason: impl Into<String>) {
        let mut r = self.inner.reason.lock().unwrap_or_else(|p| p.into_inner());
        if r.is_none() {
            *r = Some(reason.into());
        }
        self.inner.stopped.store(true, Ordering::SeqCst);
    }

    /// Whether it (or its parent) was raised.
    pub fn is_stopped(&self) -> bool {
        self.inner.is_stopped()
    }

    /// Why it was raised (the parent's reason first).
    pub fn reason(&self) -> Option<String> {
        self.inner.reason()
    }

    /// A signal raised with this one, or on its own (one run's wall-time limit inside a batch that
    /// a signal may stop as a whole).
    pub fn child(&self) -> StopSignal {
        StopSignal { inner: Arc::new(Inner { parent: Some(self.inner.clone()), ..Inner::default() }) }
    }

    /// The flag itself, for code that only needs to poll it cheaply (the simulator's event loop).
    pub fn flag(&self) -> StopFlag {
        StopFlag(self.inner.clone())
    }

    /// Raise the signal when `limit` of wall time has passed from now (a watchdog thread that ends
    /// with the process or when the signal is raised otherwise).
    pub fn after(&self, limit: Duration) {
        let me = self.clone();
        let deadline = Instant::now() + limit; // determinism-ok: the user's wall-time limit on a run, outside the simulation
        let spawned = std::thread::Builder::new().name("wall-limit".into()).spawn(move || loop {
            if me.is_stopped() {
                return;
            }
            let now = Instant::now(); // determinism-ok: see above
            if now >= deadline {
                me.stop(format!("stopped at the wall-time limit of {}", humantime::format_duration(limit)));
                return;
            }
            std::thread::sleep((deadline - now).min(Duration::from_millis(200)));
        });
        if spawned.is_err() {
            // No thread, no watchdog: say so rather than run without the limit.
            self.stop("cannot start the wall-time watchdog");
        }
    }
}

/// A read-only view of a [`StopSignal`]'s flag.
#[derive(Clone, Debug)]
pub struct StopFlag(Arc<Inner>);

impl StopFlag {
    /// Whether the signal was raised.
    pub fn is_stopped(&self) -> bool {
        self.0.is_stopped()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_first_reason() {
        let s = StopSignal::new();
        assert!(!s.is_stopped() && s.reason().is_none());
        s.clone().stop("SIGINT");
        s.stop("SIGTERM");
        assert!(s.flag().is_stopped());
        assert_eq!(s.reason().as_deref(), Some("SIGINT"));
    }

    #[test]
    fn a_child_stops_with_its_parent_but_not_the_other_way() {
        let parent = StopSignal::new();
        let child = parent.child();
        child.stop("limit");
        assert!(!parent.is_stopped());
        assert_eq!(child.reason().as_deref(), Some("limit"));
        let other = parent.child();
        parent.stop("SIGTERM");
        assert!(other.flag().is_stopped());
        assert_eq!(other.reason().as_deref(), Some("SIGTERM"));
    }

    #[test]
    fn a_wall_limit_raises_it() {
        let s = StopSignal::new();
        s.after(Duration::from_millis(20));
        let start = Instant::now(); // determinism-ok: a test's own timeout
        while !s.is_stopped() && start.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(s.reason().as_deref(), Some("stopped at the wall-time limit of 20ms"));
    }
}

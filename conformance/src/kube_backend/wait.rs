//! `wait` on a real (or served) cluster: the predicate is evaluated on every state the watch caches
//! pass through (replayed from their journals, from the wait's start on) and on every container state
//! Docker's events report, not only on what is there when it looks; a success seen in a cache is
//! confirmed by a consistent read, and a timeout gets the last word from fresh lists.

use super::snapshot::Snapshot;
use super::{scope, KubeBackend, Source};
use crate::container_feed::ContainerFeed;
use capi_scenarios::backend::{BackendError, WaitResult};
use capi_scenarios::predicate::{self, Predicate};
use std::time::Duration;

/// Wait until `p` holds or `timeout_ms` (scenario time) passes.
pub(super) async fn wait(backend: &mut KubeBackend, p: &Predicate, timeout_ms: u64) -> Result<WaitResult, BackendError> {
    let clock = backend.clock;
    let stop = backend.stop.clone();
    let stopping = move || stop.as_ref().is_some_and(capi_scenarios::StopFlag::is_stopped);
    let tick = Duration::from_secs(1);
    let container_poll = backend.opts.container_poll;
    let sync_timeout = backend.opts.sync_timeout;
    let run = backend.run()?;
    let start = tokio::time::Instant::now();
    let deadline = start + clock.real(timeout_ms);
    run.ensure_watches(p).await?;
    let mut changed = run.changes.subscribe();
    let sync_deadline = (start + sync_timeout).min(deadline);
    while !run.watches_synced(p).await? && tokio::time::Instant::now() < sync_deadline {
        let _ = tokio::time::timeout(Duration::from_millis(200), changed.changed()).await;
    }
    let reads_containers = scope::reads_containers(p);
    // Every state the caches pass through is looked at, not only those there when we look (a
    // Machine deleted and replaced within milliseconds). States older than the wait's start may
    // not show the scenario's last writes yet, so they do not count; nor does replay serve
    // predicates on containers, whose past states are not recorded.
    let mut replay = run.replay(p).await?;
    let barrier = if reads_containers { None } else { run.fresh_resource_version(p).await };
    // Containers likewise: every state Docker's events report, not only what `docker ps` shows
    // when it is asked (a container CAPD removes and recreates at once is `exited` for
    // milliseconds). Without events (an engine that does not stream them), polling remains.
    let mut feed = match reads_containers {
        true => ContainerFeed::start(run.docker()?).await.ok(),
        false => None,
    };
    // An event the select below took and applied, not yet evaluated.
    let mut fed = false;
    loop {
        run.poll_faults(&clock).await;
        run.check_invariants(&clock).await;
        if let Some(f) = feed.as_mut() {
            // No periodic re-list while the stream is alive: Docker's event stream loses nothing while
            // connected, and a list replaces the states the queued events have not yet shown (a busy
            // machine lets a whole `die`, `destroy`, `create` sequence queue up in one turn of this
            // loop; listing then skipped the `exited` state the wait was for). A stream that ends is
            // started again below, from a fresh list.
            let mut objects: Option<Snapshot> = None;
            loop {
                if !std::mem::take(&mut fed) {
                    match f.try_next() {
                        Some(true) => {}
                        Some(false) => continue,
                        None => break,
                    }
                }
                if objects.is_none() {
                    objects = Some(match run.snapshot_from(p, Source::Replay(&replay)).await {
                        Ok(s) => s,
                        Err(_) => run.snapshot(p, false).await?,
                    });
                }
                if let Some(snap) = objects.as_mut() {
                    snap.containers = f.containers();
                    let eval = predicate::evaluate(p, snap);
                    if eval.holds {
                        return Ok(WaitResult { eval, elapsed_ms: clock.scaled(start.elapsed()) });
                    }
                }
            }
        }
        for (key, e) in replay.take() {
            replay.apply(&key, &e);
            if barrier.is_some_and(|b| e.rv.is_some_and(|rv| rv > b)) {
                let eval = predicate::evaluate(p, &run.snapshot_from(p, Source::Replay(&replay)).await?);
                if eval.holds {
                    return Ok(WaitResult { eval, elapsed_ms: clock.scaled(start.elapsed()) });
                }
            }
        }
        let snap = run.snapshot(p, false).await?;
        let mut eval = predicate::evaluate(p, &snap);
        if eval.holds {
            // A cache that has not yet seen our own writes can make `gone` or `count` hold too
            // early: a success is confirmed by a consistent read before it is reported.
            let snap = run.snapshot(p, true).await?;
            eval = predicate::evaluate(p, &snap);
            if eval.holds {
                return Ok(WaitResult { eval, elapsed_ms: clock.scaled(start.elapsed()) });
            }
        }
        let now = tokio::time::Instant::now();
        if stopping() {
            // The run is being stopped: the wait ends here with what it saw last.
            return Ok(WaitResult { eval, elapsed_ms: clock.scaled(start.elapsed()) });
        }
        if now >= deadline {
            if !eval.holds {
                // The caches may lag: the last word goes to a fresh read.
                let snap = run.snapshot(p, true).await?;
                eval = predicate::evaluate(p, &snap);
            }
            return Ok(WaitResult { eval, elapsed_ms: clock.scaled(start.elapsed()) });
        }
        let nap = if reads_containers { container_poll.min(tick) } else { tick }.min(deadline - now);
        tokio::select! {
            r = changed.changed() => {
                if r.is_err() {
                    tokio::time::sleep(nap).await;
                }
            }
            _ = tokio::time::sleep(nap) => {}
            alive = async {
                match feed.as_mut() {
                    Some(f) => f.next().await,
                    None => std::future::pending().await,
                }
            } => {
                fed = alive;
                if !alive {
                    feed = None;
                }
            }
        }
        if reads_containers && feed.is_none() {
            // The event stream ended (the engine restarted, a proxy cut it): start again from a
            // fresh list; until that works, the snapshots' own container lists are the polling.
            feed = ContainerFeed::start(run.docker()?).await.ok();
        }
    }
}

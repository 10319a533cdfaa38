//! Watch streams: HTTP 200, chunked, one `{"type":…,"object":…}` JSON line per event. A stream
//! starts with synthetic ADDED events for the current objects (`resourceVersion` empty or `0`, or
//! `sendInitialEvents=true`, which ends the initial set with the `k8s.io/initial-events-end`
//! bookmark) or resumes after a resourceVersion from the bounded history; a resourceVersion older
//! than the history gets `410 Expired` as an ERROR event in the stream, never as an HTTP error.
//! Label changes become ADDED/DELETED for selector watches, as the real watch cache does. Streams end
//! after `timeoutSeconds` (30 minutes without), on compaction, and on shutdown.

use super::handlers::{sim_now, App};
use super::history::{Event, History};
use super::route::{Accept, Params};
use super::selectors::Filter;
use super::status::{expired, Failure};
use super::table;
use axum::body::{Body, Bytes};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use capi_sim::store::ChangeKind;
use capi_sim::Object;
use serde_json::{json, Value};
use std::convert::Infallible;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Events read from the history per lock.
const BATCH: usize = 500;
/// The longest watch a client can ask for (a day).
const MAX_TIMEOUT_SECS: u64 = 86_400;

/// How a stream starts, decided on the simulator thread (atomic with the history).
enum Start {
    /// Initial objects (synthetic ADDED), then events after `cursor`.
    From { initial: Vec<Arc<Object>>, cursor: u64, epoch: u64 },
    /// The requested resourceVersion is older than the history.
    Expired { requested: u64, floor: u64 },
}

/// Serve a watch request.
pub async fn serve(app: &Arc<App>, filter: Filter, params: &Params, accept: Accept) -> Result<Response, Failure> {
    let rv = params.resource_version.clone().unwrap_or_default();
    let send_initial = params.send_initial_events;
    let requested: Option<u64> = match rv.as_str() {
        "" | "0" => None,
        s => Some(s.parse().map_err(|_| Failure::bad_request(format!("invalid resourceVersion \"{s}\": must be an unsigned integer")))?),
    };
    let start_filter = filter.clone();
    let start = app
        .sim
        .call(move |core| {
            let epoch = core.pulse().epoch;
            let latest = core.store().resource_version();
            let initial = |core: &super::core::Core| -> Vec<Arc<Object>> {
                let f = &start_filter;
                core.store().objects().of_kind(f.kind, f.namespace.as_deref()).filter(|o| f.matches(o)).cloned().collect()
            };
            match requested {
                _ if send_initial => Start::From { initial: initial(core), cursor: latest, epoch },
                None => Start::From { initial: initial(core), cursor: latest, epoch },
                Some(r) => match core.history().read().unwrap_or_else(|p| p.into_inner()).check(r) {
                    Ok(()) => Start::From { initial: Vec::new(), cursor: r, epoch },
                    Err(e) => Start::Expired { requested: r, floor: e.floor },
                },
            }
        })
        .await?;
    // Bounded so that `now + timeout` cannot overflow whatever a client sends.
    let timeout = match params.timeout_seconds {
        Some(s) if s > 0 => Duration::from_secs(s.min(MAX_TIMEOUT_SECS)),
        _ => app.watch.default_timeout,
    };
    let stream = Stream {
        filter,
        table: accept.table,
        bookmarks: params.bookmarks,
        send_initial,
        deadline: Instant::now() + timeout,
        history: app.history.clone(),
        pulse: app.pulse.clone(),
        app: app.clone(),
    };
    let (tx, rx) = mpsc::channel::<Bytes>(64);
    tokio::spawn(stream.run(start, tx));
    let body =
        Body::from_stream(futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|b| (Ok::<_, Infallible>(b), rx)) }));
    let mut resp = (StatusCode::OK, body).into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache, private"));
    Ok(resp)
}

/// What a change means to a watch with this filter (`None`: nothing).
pub fn event_type(filter: &Filter, e: &Event) -> Option<&'static str> {
    let now = filter.matches(&e.object);
    let before = e.old.as_deref().map_or(now, |o| filter.matches(o));
    match e.kind {
        ChangeKind::Added => now.then_some("ADDED"),
        ChangeKind::Deleted => (now || before).then_some("DELETED"),
        ChangeKind::Modified => match (before, now) {
            (true, true) => Some("MODIFIED"),
            (false, true) => Some("ADDED"),
            (true, false) => Some("DELETED"),
            (false, false) => None,
        },
    }
}

struct Stream {
    filter: Filter,
    table: bool,
    bookmarks: bool,
    send_initial: bool,
    deadline: Instant,
    history: Arc<RwLock<History>>,
    pulse: tokio::sync::watch::Receiver<super::core::Pulse>,
    app: Arc<App>,
}

fn line(kind: &str, object: &Value) -> Bytes {
    let mut v = serde_json::to_vec(&json!({"type": kind, "object": object})).unwrap_or_default();
    v.push(b'\n');
    Bytes::from(v)
}

impl Stream {
    fn object(&self, o: &Object) -> Value {
        if self.table {
            table::table(o.kind, [o], sim_now(&self.app), Some(o.meta.resource_version))
        } else {
            self.app.present(o)
        }
    }

    fn bookmark(&self, rv: u64, initial_end: bool) -> Bytes {
        let mut meta = json!({"resourceVersion": rv.to_string()});
        if initial_end {
            meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        let kind = self.filter.kind;
        line("BOOKMARK", &json!({"kind": kind.name(), "apiVersion": kind.api_version(), "metadata": meta}))
    }

    async fn run(mut self, start: Start, tx: mpsc::Sender<Bytes>) {
        let (initial, mut cursor, epoch) = match start {
            Start::Expired { requested, floor } => {
                let _ = tx.send(line("ERROR", &expired(requested, floor))).await;
                return;
            }
            Start::From { initial, cursor, epoch } => (initial, cursor, epoch),
        };
        for o in &initial {
            if tx.send(line("ADDED", &self.object(o))).await.is_err() {
                return;
            }
        }
        if self.send_initial && tx.send(self.bookmark(cursor, true)).await.is_err() {
            return;
        }
        let interval = self.app.watch.bookmark_interval;
        let mut next_bookmark = Instant::now() + interval;
        loop {
            let p = *self.pulse.borrow_and_update();
            if p.closed || p.epoch != epoch {
                return;
            }
            // Everything published so far, in batches so the lock is held briefly.
            loop {
                let read = self.history.read().unwrap_or_else(|p| p.into_inner()).after(cursor, BATCH);
                let (events, seen) = match read {
                    Ok(x) => x,
                    Err(e) => {
                        // This stream fell behind the compaction point.
                        let _ = tx.send(line("ERROR", &expired(cursor, e.floor))).await;
                        return;
                    }
                };
                for e in &events {
                    if let Some(t) = event_type(&self.filter, e) {
                        if tx.send(line(t, &self.object(&e.object))).await.is_err() {
                            return;
                        }
                    }
                }
                cursor = seen;
                if events.len() < BATCH {
                    break;
                }
            }
            tokio::select! {
                changed = self.pulse.changed() => {
                    if changed.is_err() {
                        return;
                    }
                }
                _ = tokio::time::sleep_until(self.deadline) => return,
                _ = tokio::time::sleep_until(next_bookmark), if self.bookmarks => {
                    if tx.send(self.bookmark(cursor, false)).await.is_err() {
                        return;
                    }
                    next_bookmark = Instant::now() + interval;
                }
                _ = tx.closed() => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use capi_sim::Kind;

    #[test]
    fn label_changes_enter_and_leave_a_selection() {
        let f = Filter::new(Kind::ConfigMap, None, Some("app=x"), None).unwrap();
        let mut a = Object::new(Kind::ConfigMap, "default", "c");
        let b = a.clone();
        a.meta.labels.insert("app".into(), "x".into());
        let (with, without) = (Arc::new(a), Arc::new(b));
        let ev = |kind, object: &Arc<Object>, old: Option<&Arc<Object>>| Event { rv: 9, kind, object: object.clone(), old: old.cloned() };
        assert_eq!(event_type(&f, &ev(ChangeKind::Modified, &with, Some(&without))), Some("ADDED"));
        assert_eq!(event_type(&f, &ev(ChangeKind::Modified, &without, Some(&with))), Some("DELETED"));
        assert_eq!(event_type(&f, &ev(ChangeKind::Modified, &without, Some(&without))), None);
        assert_eq!(event_type(&f, &ev(ChangeKind::Added, &with, None)), Some("ADDED"));
    }
}

//! Watched state: one reflector per watched collection keeps a local copy of its objects, the way
//! kube-runtime's `watcher` + `reflector` do, written against a small [`WatchTransport`] trait so that
//! the same logic runs over the real API (the kube transport) and over a fake API server hosted by
//! turmoil in the tests.
//!
//! The state machine ([`Phase`]) is: **List** (replace the whole store atomically, remember the list's
//! resourceVersion) → **Watch** from that resourceVersion (apply ADDED / MODIFIED / DELETED, advance
//! the resourceVersion on every event and BOOKMARK) → when the stream ends cleanly, watch again from
//! the last resourceVersion; when the connection drops or goes silent for longer than the idle
//! timeout, back off and watch again from the last resourceVersion; when the server says the
//! resourceVersion is too old (410 `Expired`, in the stream or on the request), list again. Failed
//! lists back off too. Backoff is exponential without jitter (deterministic), reset by progress.
//!
//! A store can keep a journal of its changes ([`Store::open_journal`]): a `wait` replays it to
//! evaluate its predicate on every state the cache went through, not only on the states that happen
//! to be there when it looks (a Machine deleted and replaced within a few milliseconds).

use serde_json::Value;
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// What went wrong talking to the API server.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// No answer: connection refused, reset, dropped, or timed out.
    #[error("connection: {0}")]
    Connection(String),
    /// The resourceVersion is too old (410 Gone / reason `Expired`): only a new list helps.
    #[error("resourceVersion expired: {0}")]
    Expired(String),
    /// The API server answered with an error `Status`.
    #[error("{reason} ({code}): {message}")]
    Api {
        /// HTTP code.
        code: u16,
        /// `Status.reason`.
        reason: String,
        /// `Status.message`.
        message: String,
    },
    /// An answer that could not be understood.
    #[error("bad answer: {0}")]
    Decode(String),
}

impl TransportError {
    /// Whether trying again may succeed: connection trouble, throttling, server-side errors.
    pub fn is_transient(&self) -> bool {
        match self {
            TransportError::Connection(_) => true,
            TransportError::Api { code, .. } => matches!(code, 429 | 500 | 502 | 503 | 504),
            TransportError::Expired(_) | TransportError::Decode(_) => false,
        }
    }
}

/// A list: the objects and the resourceVersion to watch from.
#[derive(Debug, Clone, PartialEq)]
pub struct Listed {
    /// Objects (JSON, with `metadata.namespace`, `metadata.name`, `metadata.resourceVersion`).
    pub items: Vec<Value>,
    /// `metadata.resourceVersion` of the list.
    pub resource_version: String,
}

/// One event of a watch stream.
#[derive(Debug, Clone, PartialEq)]
pub enum WatchEvent {
    /// ADDED.
    Added(Value),
    /// MODIFIED.
    Modified(Value),
    /// DELETED (the last state).
    Deleted(Value),
    /// BOOKMARK: nothing changed up to this resourceVersion.
    Bookmark(String),
}

/// A stream of watch events. `None` means the server ended the stream cleanly (its timeout).
pub trait EventStream: Send {
    /// The next event.
    fn next_event(&mut self) -> impl Future<Output = Option<Result<WatchEvent, TransportError>>> + Send;
}

/// How a reflector reaches one collection (a kind in a namespace, maybe with a field selector).
pub trait WatchTransport: Send + Sync + 'static {
    /// The event stream of a watch.
    type Stream: EventStream + 'static;
    /// A consistent list.
    fn list(&self) -> impl Future<Output = Result<Listed, TransportError>> + Send;
    /// A watch of every change after `resource_version`.
    fn watch(&self, resource_version: &str) -> impl Future<Output = Result<Self::Stream, TransportError>> + Send;
}

/// Exponential backoff: `base`, `2·base`, `4·base`... capped at `max`; no jitter, so tests are exact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backoff {
    base: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    /// A backoff.
    pub fn new(base: Duration, max: Duration) -> Self {
        Backoff { base, max, next: base }
    }
    /// The next delay.
    pub fn next_delay(&mut self) -> Duration {
        let d = self.next;
        self.next = (self.next * 2).min(self.max);
        d
    }
    /// Start again from `base` (after progress).
    pub fn reset(&mut self) {
        self.next = self.base;
    }
}

/// Reflector settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReflectorConfig {
    /// First backoff delay.
    pub backoff_base: Duration,
    /// Longest backoff delay.
    pub backoff_max: Duration,
    /// A watch that delivers nothing (not even a bookmark) for this long is considered dead.
    pub idle_timeout: Duration,
    /// A list that takes longer than this is abandoned (and retried after a backoff).
    pub list_timeout: Duration,
}

impl Default for ReflectorConfig {
    fn default() -> Self {
        // kube-runtime treats a watch as dead after its server timeout (290 s) + 5 s of silence.
        ReflectorConfig {
            backoff_base: Duration::from_millis(200),
            backoff_max: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(295),
            list_timeout: Duration::from_secs(60),
        }
    }
}

/// What a reflector did, for tests and diagnostics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReflectorStats {
    /// Successful lists (the first one included).
    pub lists: u64,
    /// Lists that failed.
    pub list_errors: u64,
    /// Lists caused by an expired resourceVersion.
    pub relists_after_expiry: u64,
    /// Watches opened.
    pub watches: u64,
    /// Watches that failed to open or broke (dropped, idle, error).
    pub watch_errors: u64,
    /// Watches that the server ended cleanly.
    pub watch_closes: u64,
    /// Events applied (bookmarks included).
    pub events: u64,
    /// resourceVersions each watch was opened from, in order (the last 64).
    pub watched_from: Vec<String>,
}

/// The phases of a reflector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// Must list (first start, or the resourceVersion expired).
    List,
    /// Watching (or about to watch again) from this resourceVersion.
    Watch(String),
}

/// Objects by (namespace, name).
pub type Objects = BTreeMap<(String, String), Value>;

/// One change of a store's objects.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// ADDED or MODIFIED.
    Upsert((String, String), Value),
    /// DELETED.
    Remove((String, String)),
    /// A list replaced everything.
    Replace(Objects),
}

/// A change as a journal records it.
#[derive(Debug, Clone, PartialEq)]
pub struct JournalEntry {
    /// Order of application over every store sharing one [`Changes`].
    pub seq: u64,
    /// The resourceVersion the change brought (the object's, or the list's), when it is a number.
    pub rv: Option<u64>,
    /// The change.
    pub change: Change,
}

impl JournalEntry {
    /// Apply to a copy of the store's objects.
    pub fn apply_to(&self, objects: &mut Objects) {
        match &self.change {
            Change::Upsert(k, v) => {
                objects.insert(k.clone(), v.clone());
            }
            Change::Remove(k) => {
                objects.remove(k);
            }
            Change::Replace(all) => *objects = all.clone(),
        }
    }
}

#[derive(Debug, Default)]
struct StoreState {
    objects: Objects,
    synced: bool,
    resource_version: String,
    last_error: Option<String>,
    stats: ReflectorStats,
    journal: Option<Vec<JournalEntry>>,
}

/// The local copy of one collection, shared between its reflector and readers. Every change bumps a
/// shared version counter and wakes whoever waits on [`Changes`].
#[derive(Debug, Clone)]
pub struct Store {
    state: Arc<RwLock<StoreState>>,
    changes: Changes,
}

/// A version counter bumped on every change of any store created with it.
#[derive(Debug, Clone)]
pub struct Changes {
    tx: Arc<tokio::sync::watch::Sender<u64>>,
    seq: Arc<AtomicU64>,
}

impl Default for Changes {
    fn default() -> Self {
        Changes { tx: Arc::new(tokio::sync::watch::channel(0).0), seq: Arc::default() }
    }
}

impl Changes {
    fn next_seq(&self) -> u64 {
        self.seq.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Subscribe.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.tx.subscribe()
    }
    fn bump(&self) {
        self.tx.send_modify(|v| *v += 1);
    }
}

fn key_of(v: &Value) -> (String, String) {
    let s = |p: &str| v.pointer(p).and_then(Value::as_str).unwrap_or("").to_string();
    (s("/metadata/namespace"), s("/metadata/name"))
}

fn rv_of(v: &Value) -> Option<String> {
    v.pointer("/metadata/resourceVersion").and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string)
}

impl Store {
    /// An empty store reporting to `changes`.
    pub fn new(changes: Changes) -> Self {
        Store { state: Arc::new(RwLock::new(StoreState::default())), changes }
    }

    fn write<R>(&self, f: impl FnOnce(&mut StoreState) -> R) -> R {
        // A poisoned lock only means a reader panicked; the data is still consistent.
        let mut g = self.state.write().unwrap_or_else(|p| p.into_inner());
        let r = f(&mut g);
        drop(g);
        self.changes.bump();
        r
    }

    fn read<R>(&self, f: impl FnOnce(&StoreState) -> R) -> R {
        let g = self.state.read().unwrap_or_else(|p| p.into_inner());
        f(&g)
    }

    /// Every object, in (namespace, name) order.
    pub fn objects(&self) -> Vec<Value> {
        self.read(|s| s.objects.values().cloned().collect())
    }

    /// The objects keyed by (namespace, name).
    pub fn snapshot(&self) -> BTreeMap<(String, String), Value> {
        self.read(|s| s.objects.clone())
    }

    /// One object.
    pub fn get(&self, namespace: &str, name: &str) -> Option<Value> {
        self.read(|s| s.objects.get(&(namespace.to_string(), name.to_string())).cloned())
    }

    /// Whether the first list has been applied.
    pub fn is_synced(&self) -> bool {
        self.read(|s| s.synced)
    }

    /// The last resourceVersion seen.
    pub fn resource_version(&self) -> String {
        self.read(|s| s.resource_version.clone())
    }

    /// The last error of the reflector (cleared by progress).
    pub fn last_error(&self) -> Option<String> {
        self.read(|s| s.last_error.clone())
    }

    /// What the reflector did so far.
    pub fn stats(&self) -> ReflectorStats {
        self.read(|s| s.stats.clone())
    }

    /// Start recording every change (dropping what an earlier journal recorded); returns the objects
    /// now, which the recorded changes apply to, and whether the store has listed.
    pub fn open_journal(&self) -> (Objects, bool) {
        let mut g = self.state.write().unwrap_or_else(|p| p.into_inner());
        g.journal = Some(Vec::new());
        (g.objects.clone(), g.synced)
    }

    /// The changes recorded since the journal was opened or last taken.
    pub fn take_journal(&self) -> Vec<JournalEntry> {
        let mut g = self.state.write().unwrap_or_else(|p| p.into_inner());
        g.journal.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// Stop recording.
    pub fn close_journal(&self) {
        self.state.write().unwrap_or_else(|p| p.into_inner()).journal = None;
    }

    fn record(&self, s: &mut StoreState, rv: Option<&str>, change: impl FnOnce() -> Change) {
        if let Some(j) = &mut s.journal {
            j.push(JournalEntry { seq: self.changes.next_seq(), rv: rv.and_then(|r| r.parse().ok()), change: change() });
        }
    }

    fn replace(&self, listed: Listed, after_expiry: bool) {
        self.write(|s| {
            s.objects = listed.items.into_iter().map(|v| (key_of(&v), v)).collect();
            if s.journal.is_some() {
                let all = Change::Replace(s.objects.clone());
                self.record(s, Some(&listed.resource_version), || all);
            }
            s.resource_version = listed.resource_version;
            s.synced = true;
            s.last_error = None;
            s.stats.lists += 1;
            if after_expiry {
                s.stats.relists_after_expiry += 1;
            }
        })
    }

    /// Apply one event; returns the resourceVersion to resume from.
    fn apply(&self, ev: WatchEvent) -> Option<String> {
        self.write(|s| {
            s.stats.events += 1;
            s.last_error = None;
            let rv = match ev {
                WatchEvent::Added(v) | WatchEvent::Modified(v) => {
                    let rv = rv_of(&v);
                    self.record(s, rv.as_deref(), || Change::Upsert(key_of(&v), v.clone()));
                    s.objects.insert(key_of(&v), v);
                    rv
                }
                WatchEvent::Deleted(v) => {
                    let rv = rv_of(&v);
                    self.record(s, rv.as_deref(), || Change::Remove(key_of(&v)));
                    s.objects.remove(&key_of(&v));
                    rv
                }
                WatchEvent::Bookmark(rv) => Some(rv).filter(|r| !r.is_empty()),
            };
            if let Some(r) = &rv {
                s.resource_version = r.clone();
            }
            rv
        })
    }

    fn note(&self, f: impl FnOnce(&mut ReflectorStats), error: Option<String>) {
        self.write(|s| {
            f(&mut s.stats);
            if error.is_some() {
                s.last_error = error;
            }
        })
    }
}

/// Keep `store` in step with the collection behind `transport`, for ever (abort the task to stop).
pub async fn run_reflector<T: WatchTransport>(transport: T, store: Store, config: ReflectorConfig) {
    let mut backoff = Backoff::new(config.backoff_base, config.backoff_max);
    let mut phase = Phase::List;
    let mut after_expiry = false;
    // Expiries in a row with no event between them: a server that expires every watch at once must
    // not turn this into a LIST → WATCH → 410 loop at full speed (the pitfall kube-rs users hit).
    let mut expiry_streak = 0u32;
    loop {
        phase = match phase {
            Phase::List => {
                if expiry_streak > 1 {
                    tokio::time::sleep(backoff.next_delay()).await;
                }
                match tokio::time::timeout(config.list_timeout, transport.list()).await {
                    Ok(Ok(listed)) => {
                        let rv = listed.resource_version.clone();
                        store.replace(listed, after_expiry);
                        after_expiry = false;
                        if expiry_streak == 0 {
                            backoff.reset();
                        }
                        Phase::Watch(rv)
                    }
                    Ok(Err(e)) => {
                        store.note(|s| s.list_errors += 1, Some(format!("list: {e}")));
                        tokio::time::sleep(backoff.next_delay()).await;
                        Phase::List
                    }
                    Err(_) => {
                        store.note(|s| s.list_errors += 1, Some("list: timed out".into()));
                        tokio::time::sleep(backoff.next_delay()).await;
                        Phase::List
                    }
                }
            }
            Phase::Watch(rv) => {
                let w = watch_once(&transport, &store, &config, &mut backoff, rv).await;
                after_expiry = w.expired;
                if w.got_events {
                    expiry_streak = 0;
                }
                if w.expired {
                    expiry_streak += 1;
                }
                w.next
            }
        };
    }
}

/// What one watch ended with.
struct WatchEnd {
    next: Phase,
    expired: bool,
    got_events: bool,
}

/// One watch: open it, apply its events, and say what to do next.
async fn watch_once<T: WatchTransport>(
    transport: &T,
    store: &Store,
    config: &ReflectorConfig,
    backoff: &mut Backoff,
    mut rv: String,
) -> WatchEnd {
    let end = |next, expired, got_events| WatchEnd { next, expired, got_events };
    let opened = tokio::time::timeout(config.idle_timeout, transport.watch(&rv)).await;
    let mut stream = match opened {
        Ok(Ok(s)) => s,
        Ok(Err(TransportError::Expired(msg))) => {
            store.note(|s| s.watch_errors += 1, Some(format!("watch from {rv}: expired: {msg}")));
            return end(Phase::List, true, false);
        }
        Ok(Err(e)) => {
            store.note(|s| s.watch_errors += 1, Some(format!("watch from {rv}: {e}")));
            tokio::time::sleep(backoff.next_delay()).await;
            return end(Phase::Watch(rv), false, false);
        }
        Err(_) => {
            store.note(|s| s.watch_errors += 1, Some(format!("watch from {rv}: no answer")));
            tokio::time::sleep(backoff.next_delay()).await;
            return end(Phase::Watch(rv), false, false);
        }
    };
    let from = rv.clone();
    store.note(
        |s| {
            s.watches += 1;
            s.watched_from.push(from);
            if s.watched_from.len() > 64 {
                s.watched_from.remove(0);
            }
        },
        None,
    );
    let mut got_any = false;
    loop {
        match tokio::time::timeout(config.idle_timeout, stream.next_event()).await {
            Ok(Some(Ok(ev))) => {
                got_any = true;
                backoff.reset();
                if let Some(new_rv) = store.apply(ev) {
                    rv = new_rv;
                }
            }
            Ok(Some(Err(TransportError::Expired(msg)))) => {
                store.note(|s| s.watch_errors += 1, Some(format!("watch from {rv}: expired: {msg}")));
                return end(Phase::List, true, got_any);
            }
            Ok(Some(Err(e))) => {
                store.note(|s| s.watch_errors += 1, Some(format!("watch from {rv}: {e}")));
                tokio::time::sleep(backoff.next_delay()).await;
                return end(Phase::Watch(rv), false, got_any);
            }
            Ok(None) => {
                store.note(|s| s.watch_closes += 1, None);
                // A server that closes at once, again and again, must not make us spin.
                if !got_any {
                    tokio::time::sleep(backoff.next_delay()).await;
                }
                return end(Phase::Watch(rv), false, got_any);
            }
            Err(_) => {
                store.note(|s| s.watch_errors += 1, Some(format!("watch from {rv}: silent for {:?}", config.idle_timeout)));
                tokio::time::sleep(backoff.next_delay()).await;
                return end(Phase::Watch(rv), false, got_any);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_its_cap_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(350));
        let got: Vec<u128> = (0..4).map(|_| b.next_delay().as_millis()).collect();
        assert_eq!(got, vec![100, 200, 350, 350]);
        b.reset();
        assert_eq!(b.next_delay().as_millis(), 100);
    }

    #[test]
    fn transient_errors_are_the_retryable_ones() {
        assert!(TransportError::Connection("reset".into()).is_transient());
        assert!(TransportError::Api { code: 503, reason: "ServiceUnavailable".into(), message: String::new() }.is_transient());
        assert!(!TransportError::Api { code: 422, reason: "Invalid".into(), message: String::new() }.is_transient());
        assert!(!TransportError::Expired(String::new()).is_transient());
    }
}

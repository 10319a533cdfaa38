//! Kubernetes Events as Cluster API's controllers record them: `core/v1` Event objects in the API
//! store, written by each manager's recorder the way client-go's `tools/record` writes them.
//!
//! A controller calls [`crate::runtime::Ctx::event`] where upstream calls `recorder.Event`/`Eventf`;
//! after the reconcile, the engine hands the events to the manager's [`Recorder`], which runs
//! client-go's `EventCorrelator` (`tools/record/events_cache.go`) before writing:
//!
//! - **aggregation**: more than [`AGGREGATE_MAX_EVENTS`] events of one source, object, type and reason
//!   with different messages within [`AGGREGATE_INTERVAL_MS`] become one event whose message is
//!   `(combined from similar events): <message>`;
//! - **deduplication**: an event equal to one already written (source, object, type, reason,
//!   message) increments that event's `count` and moves its `lastTimestamp` instead of making a new
//!   object (the recorder remembers [`LRU_ENTRIES`] events);
//! - **spam filter**: per source and object a token bucket of [`SPAM_BURST`] events refilled at one
//!   per five minutes; events beyond it are dropped.
//!
//! Events are named `<object name>.<hex of the event time in nanoseconds>` as client-go names them
//! (the simulator adds the recorder's sequence number to the nanoseconds so that events of one
//! millisecond get distinct names), live in the object's namespace, carry `source.component` =
//! the controller's recorder name (`machine-controller`, `kubeadmcontrolplane-controller`, ...) and
//! expire [`EVENT_TTL_MS`] after their last write, as the API server's `--event-ttl` makes them.
//!
//! Simplification (docs/fidelity.md): client-go writes events asynchronously from a broadcaster
//! goroutine and retries failed writes; here they are written at the end of the reconcile that
//! recorded them, and a failed write (a terminating namespace) is dropped.

use crate::kinds::Kind;
use crate::object::{timestamp, ObjKey, Object, SIM_EPOCH_UNIX_SECS};
use crate::store::api::{ApiServer, WriteOptions};
use crate::store::Subresource;
use indexmap::IndexMap;
use serde_json::{json, Value};

/// client-go's `maxLruCacheEntries`.
pub const LRU_ENTRIES: usize = 4096;
/// client-go's `defaultAggregateMaxEvents`.
pub const AGGREGATE_MAX_EVENTS: usize = 10;
/// client-go's `defaultAggregateIntervalInSeconds`.
pub const AGGREGATE_INTERVAL_MS: u64 = 600_000;
/// client-go's `defaultSpamBurst`.
pub const SPAM_BURST: f64 = 25.0;
/// client-go's `defaultSpamQPS` (one event per 300 s), per millisecond.
pub const SPAM_REFILL_PER_MS: f64 = 1.0 / 300_000.0;
/// kube-apiserver's default `--event-ttl` (1h).
pub const EVENT_TTL_MS: u64 = 3_600_000;

/// `Normal` or `Warning` (`corev1.EventTypeNormal`, `corev1.EventTypeWarning`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EventType {
    /// Normal.
    Normal,
    /// Warning.
    Warning,
}

impl EventType {
    /// As written.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Normal => "Normal",
            EventType::Warning => "Warning",
        }
    }
}

/// An event a reconcile recorded, not yet written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recorded {
    /// The involved object: kind, namespace, name.
    pub object: ObjKey,
    /// Its uid.
    pub uid: String,
    /// Its resourceVersion when recorded.
    pub resource_version: u64,
    /// Normal or Warning.
    pub type_: EventType,
    /// Reason (CamelCase).
    pub reason: String,
    /// Message.
    pub message: String,
}

impl Recorded {
    /// An event about `obj`.
    pub fn about(obj: &Object, type_: EventType, reason: &str, message: String) -> Recorded {
        Recorded {
            object: obj.key(),
            uid: obj.meta.uid.to_string(),
            resource_version: obj.meta.resource_version,
            type_,
            reason: reason.to_string(),
            message,
        }
    }
}

/// What the recorder did with an event (for the trace).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A new Event object.
    Created(String),
    /// An existing Event's count went up.
    Counted(String, u64),
    /// Dropped by the spam filter.
    Dropped,
    /// The write failed (the namespace is terminating, the object kind has no namespace...).
    Failed(String),
}

#[derive(Clone, Debug)]
struct Observed {
    name: String,
    count: u64,
}

#[derive(Clone, Debug)]
struct Aggregate {
    messages: Vec<String>,
    last_ms: u64,
}

#[derive(Clone, Debug)]
struct Bucket {
    tokens: f64,
    at_ms: u64,
}

/// One manager's event recorder and correlator (see the module doc). Its caches are insertion-ordered
/// maps evicting their oldest entry, as client-go's LRU caches do.
#[derive(Clone, Debug, Default)]
pub struct Recorder {
    seq: u64,
    observed: IndexMap<String, Observed>,
    aggregates: IndexMap<String, Aggregate>,
    buckets: IndexMap<String, Bucket>,
}

fn bounded_insert<V>(map: &mut IndexMap<String, V>, key: String, value: V) {
    map.shift_remove(&key);
    if map.len() >= LRU_ENTRIES {
        map.shift_remove_index(0);
    }
    map.insert(key, value);
}

impl Recorder {
    /// Write one event recorded by `component` at `now`.
    pub fn record(&mut self, api: &mut ApiServer, now: u64, component: &str, ev: &Recorded) -> Outcome {
        let object = format!(
            "{}\u{0}{}\u{0}{}\u{0}{}\u{0}{}",
            ev.object.kind.name(),
            ev.object.ns,
            ev.object.name,
            ev.uid,
            ev.object.kind.api_version()
        );
        // Aggregation by source, object, type and reason (`EventAggregatorByReasonFunc`).
        let aggregate_key = format!("{component}\u{0}{object}\u{0}{}\u{0}{}", ev.type_.as_str(), ev.reason);
        let mut agg = self.aggregates.get(&aggregate_key).cloned().unwrap_or(Aggregate { messages: Vec::new(), last_ms: now });
        if now.saturating_sub(agg.last_ms) > AGGREGATE_INTERVAL_MS {
            agg = Aggregate { messages: Vec::new(), last_ms: now };
        }
        if !agg.messages.contains(&ev.message) {
            agg.messages.push(ev.message.clone());
        }
        agg.last_ms = now;
        let combined = agg.messages.len() >= AGGREGATE_MAX_EVENTS;
        bounded_insert(&mut self.aggregates, aggregate_key.clone(), agg);
        let (message, key) = if combined {
            (format!("(combined from similar events): {}", ev.message), aggregate_key)
        } else {
            (ev.message.clone(), format!("{component}\u{0}{object}\u{0}{}\u{0}{}\u{0}{}", ev.type_.as_str(), ev.reason, ev.message))
        };
        // Deduplication (`eventLogger.eventObserve`).
        let seen = self.observed.get(&key).cloned();
        // The spam filter (`EventSourceObjectSpamFilter`): a token bucket per source and object.
        let spam_key = format!("{component}\u{0}{object}");
        let mut bucket = self.buckets.get(&spam_key).cloned().unwrap_or(Bucket { tokens: SPAM_BURST, at_ms: now });
        bucket.tokens = (bucket.tokens + (now.saturating_sub(bucket.at_ms)) as f64 * SPAM_REFILL_PER_MS).min(SPAM_BURST);
        bucket.at_ms = now;
        let allowed = bucket.tokens >= 1.0;
        if allowed {
            bucket.tokens -= 1.0;
        }
        bounded_insert(&mut self.buckets, spam_key, bucket);
        if !allowed {
            return Outcome::Dropped;
        }
        let opts = WriteOptions::at(now);
        let ns = if ev.object.kind.info().namespaced { ev.object.ns.to_string() } else { "default".to_string() };
        if let Some(o) = seen {
            let ekey = ObjKey::new(Kind::Event, &ns, &o.name);
            if let Some(cur) = api.store.get(&ekey).cloned() {
                let count = o.count + 1;
                let mut new = (*cur).clone();
                new.set("/count", json!(count));
                new.set("/lastTimestamp", json!(timestamp(now)));
                new.set("/message", json!(message));
                bounded_insert(&mut self.observed, key, Observed { count, ..o });
                return match api.update(new, Subresource::Main, None, opts) {
                    Ok(_) => Outcome::Counted(ekey.name.to_string(), count),
                    Err(e) => Outcome::Failed(e.message),
                };
            }
        }
        self.seq += 1;
        let nanos = (SIM_EPOCH_UNIX_SECS * 1000 + now) as u128 * 1_000_000 + u128::from(self.seq % 1_000_000);
        let name = format!("{}.{nanos:x}", ev.object.name);
        let mut obj = Object::new(Kind::Event, &ns, &name);
        let body = json!({
            "involvedObject": {
                "kind": ev.object.kind.name(),
                "namespace": if ev.object.kind.info().namespaced { Value::String(ev.object.ns.to_string()) } else { Value::Null },
                "name": ev.object.name.to_string(),
                "uid": ev.uid,
                "apiVersion": ev.object.kind.api_version(),
                "resourceVersion": ev.resource_version.to_string(),
            },
            "reason": ev.reason,
            "message": message,
            "source": {"component": component},
            "firstTimestamp": timestamp(now),
            "lastTimestamp": timestamp(now),
            "count": 1,
            "type": ev.type_.as_str(),
            "eventTime": null,
            "reportingComponent": "",
            "reportingInstance": "",
        });
        if let Value::Object(m) = body {
            for (k, v) in m {
                if !(k == "involvedObject" && v.is_null()) {
                    obj.body.insert(k, v);
                }
            }
        }
        if let Some(Value::Object(io)) = obj.body.get_mut("involvedObject") {
            io.retain(|_, v| !v.is_null());
        }
        match api.create(obj, opts) {
            Ok(_) => {
                bounded_insert(&mut self.observed, key, Observed { name: name.clone(), count: 1 });
                Outcome::Created(name)
            }
            Err(e) => Outcome::Failed(e.message),
        }
    }
}

impl Outcome {
    /// For the trace.
    pub fn describe(&self) -> String {
        match self {
            Outcome::Created(n) => format!("created {n}"),
            Outcome::Counted(n, c) => format!("{n} count={c}"),
            Outcome::Dropped => "dropped by the spam filter".into(),
            Outcome::Failed(e) => format!("not written: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::FeatureGates;
    use crate::store::Store;

    fn api() -> ApiServer {
        ApiServer::new(Store::new(1), FeatureGates::default(), vec![])
    }

    fn machine() -> Object {
        let mut m = Object::new(Kind::Machine, "default", "m1");
        m.meta.uid = "uid-1".into();
        m
    }

    fn events(api: &ApiServer) -> Vec<std::sync::Arc<Object>> {
        api.store.objects().iter().filter(|o| o.kind == Kind::Event).cloned().collect()
    }

    #[test]
    fn equal_events_count_up_on_one_object() {
        let mut api = api();
        let mut r = Recorder::default();
        let ev = Recorded::about(&machine(), EventType::Normal, "SuccessfulDrainNode", "success draining Machine's node \"n1\"".into());
        let first = r.record(&mut api, 1_000, "machine-controller", &ev);
        let Outcome::Created(name) = first else { panic!("{first:?}") };
        assert_eq!(r.record(&mut api, 5_000, "machine-controller", &ev), Outcome::Counted(name.clone(), 2));
        let all = events(&api);
        assert_eq!(all.len(), 1);
        let e = all[0].to_json();
        assert_eq!(e["count"], 2);
        assert_eq!(e["firstTimestamp"], timestamp(1_000));
        assert_eq!(e["lastTimestamp"], timestamp(5_000));
        assert_eq!(
            e["involvedObject"],
            json!({"kind": "Machine", "namespace": "default", "name": "m1", "uid": "uid-1", "apiVersion": "cluster.x-k8s.io/v1beta2", "resourceVersion": "0"})
        );
        assert_eq!(e["source"]["component"], "machine-controller");
        assert_eq!(e["type"], "Normal");
        assert!(name.starts_with("m1."), "{name}");
    }

    #[test]
    fn many_messages_of_one_reason_are_combined() {
        let mut api = api();
        let mut r = Recorder::default();
        for i in 0..12 {
            let ev = Recorded::about(&machine(), EventType::Warning, "FailedCreate", format!("attempt {i}"));
            r.record(&mut api, 1_000 + i, "machineset-controller", &ev);
        }
        let all = events(&api);
        // Nine separate events, then one combined event counted up (10th, 11th, 12th).
        assert_eq!(all.len(), 10, "{:?}", all.iter().map(|e| e.to_json()["message"].clone()).collect::<Vec<_>>());
        let combined: Vec<Value> =
            all.iter().map(|e| e.to_json()).filter(|e| e["message"].as_str().unwrap().starts_with("(combined")).collect();
        assert_eq!(combined.len(), 1);
        assert_eq!(combined[0]["count"], 3);
        assert_eq!(combined[0]["message"], "(combined from similar events): attempt 11");
    }

    #[test]
    fn a_noisy_object_is_throttled_after_the_burst() {
        let mut api = api();
        let mut r = Recorder::default();
        let mut dropped = 0;
        for i in 0..30 {
            let ev = Recorded::about(&machine(), EventType::Normal, "Reason", "same".into());
            if r.record(&mut api, 1_000 + i, "c", &ev) == Outcome::Dropped {
                dropped += 1;
            }
        }
        assert_eq!(dropped, 5);
        // Five minutes later one more token is there.
        let ev = Recorded::about(&machine(), EventType::Normal, "Reason", "same".into());
        assert!(matches!(r.record(&mut api, 1_030 + 300_000, "c", &ev), Outcome::Counted(_, 26)));
    }
}

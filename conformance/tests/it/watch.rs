//! The reflector that keeps the conformance backend's watched state, under turmoil: a fake API
//! server on host `api`, the reflector on host `client`, and the network between them partitioned,
//! delayed, or the server crashed and restarted. Each test states what must hold afterwards: the
//! store equals the server's objects, and it got there the cheap way (resumed from the last
//! resourceVersion) unless the server forced a relist (410), which happens exactly once.

use crate::fake_api::{serve, FakeApi, FakeTransport, Shared};
use capi_conformance::kube_backend::watch::{run_reflector, Changes, ReflectorConfig, Store};
use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn config() -> ReflectorConfig {
    ReflectorConfig {
        backoff_base: Duration::from_millis(100),
        backoff_max: Duration::from_secs(2),
        idle_timeout: Duration::from_secs(3),
        list_timeout: Duration::from_secs(2),
    }
}

fn sim<'a>() -> turmoil::Sim<'a> {
    turmoil::Builder::new().simulation_duration(Duration::from_secs(600)).build()
}

fn with_api(sim: &mut turmoil::Sim<'_>, api: &Shared) {
    let api = api.clone();
    sim.host("api", move || serve(api.clone()));
}

fn names(store: &Store) -> Vec<String> {
    store.objects().iter().map(|o| o["metadata"]["name"].as_str().unwrap_or("").to_string()).collect()
}

fn server_names(api: &Shared) -> Vec<String> {
    api.lock().unwrap().objects.keys().cloned().collect()
}

/// Poll (in simulated time) until `f` holds.
async fn until(what: &str, limit: Duration, f: impl Fn() -> bool) -> turmoil::Result {
    let start = tokio::time::Instant::now();
    while !f() {
        if start.elapsed() > limit {
            return Err(format!("not within {limit:?}: {what}").into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// The store mirrors the server, object for object (resourceVersions included).
fn mirrors(store: &Store, api: &Shared) -> bool {
    let a = api.lock().unwrap();
    let mine = store.objects();
    mine.len() == a.objects.len() && mine.iter().zip(a.objects.values()).all(|(x, y)| x == y)
}

fn start(store: &Store) -> tokio::task::JoinHandle<()> {
    tokio::spawn(run_reflector(FakeTransport::new(), store.clone(), config()))
}

#[test]
fn lists_once_then_follows_added_modified_and_deleted_events() {
    let api = FakeApi::shared();
    {
        let mut a = api.lock().unwrap();
        a.put("a", json!(1));
        a.put("b", json!(2));
    }
    let mut sim = sim();
    with_api(&mut sim, &api);
    let api2 = api.clone();
    sim.client("client", async move {
        let store = Store::new(Changes::default());
        let task = start(&store);
        until("first list", Duration::from_secs(5), || store.is_synced()).await?;
        assert_eq!(names(&store), ["a", "b"]);
        {
            let mut a = api2.lock().unwrap();
            a.put("c", json!(3));
            a.put("a", json!(10));
            a.delete("b");
        }
        until("events applied", Duration::from_secs(5), || mirrors(&store, &api2)).await?;
        assert_eq!(names(&store), ["a", "c"]);
        assert_eq!(store.get("default", "a").unwrap()["data"], json!(10));
        let st = store.stats();
        assert_eq!(st.lists, 1, "{st:?}");
        assert_eq!(st.relists_after_expiry, 0);
        task.abort();
        Ok(())
    });
    sim.run().unwrap();
}

#[test]
fn resumes_from_the_last_resource_version_after_a_partition() {
    let api = FakeApi::shared();
    api.lock().unwrap().put("a", json!(1));
    let mut sim = sim();
    with_api(&mut sim, &api);
    let api2 = api.clone();
    sim.client("client", async move {
        let store = Store::new(Changes::default());
        let task = start(&store);
        until("first list", Duration::from_secs(5), || store.is_synced()).await?;
        let before: u64 = store.resource_version().parse()?;
        turmoil::partition("client", "api");
        api2.lock().unwrap().put("b", json!(2));
        api2.lock().unwrap().delete("a");
        tokio::time::sleep(Duration::from_secs(8)).await;
        assert_eq!(names(&store), ["a"], "nothing can arrive through the partition");
        turmoil::repair("client", "api");
        until("caught up after the partition", Duration::from_secs(15), || mirrors(&store, &api2)).await?;
        let st = store.stats();
        assert_eq!(st.lists, 1, "a dropped connection resumes the watch, it does not relist: {st:?}");
        assert!(st.watch_errors >= 1, "the partition broke the watch: {st:?}");
        let resumed_from: u64 = st.watched_from.last().unwrap().parse()?;
        assert!(resumed_from >= before, "resumed from {resumed_from}, the list was at {before}");
        task.abort();
        Ok(())
    });
    sim.run().unwrap();
}

#[test]
fn relists_exactly_once_when_the_stream_says_410_expired() {
    let api = FakeApi::shared();
    api.lock().unwrap().put("a", json!(1));
    let mut sim = sim();
    with_api(&mut sim, &api);
    let api2 = api.clone();
    sim.client("client", async move {
        let store = Store::new(Changes::default());
        let task = start(&store);
        until("first list", Duration::from_secs(5), || store.is_synced()).await?;
        turmoil::partition("client", "api");
        {
            let mut a = api2.lock().unwrap();
            a.put("b", json!(2));
            a.delete("a");
            // The history the client would resume from is gone.
            a.compact();
        }
        tokio::time::sleep(Duration::from_secs(6)).await;
        turmoil::repair("client", "api");
        until("relisted", Duration::from_secs(15), || mirrors(&store, &api2)).await?;
        tokio::time::sleep(Duration::from_secs(10)).await;
        let st = store.stats();
        assert_eq!(st.relists_after_expiry, 1, "{st:?}");
        assert_eq!(st.lists, 2, "the first list and one relist: {st:?}");
        assert_eq!(names(&store), ["b"], "an object deleted during the gap is gone after the relist");
        task.abort();
        Ok(())
    });
    sim.run().unwrap();
}

#[test]
fn a_server_that_expires_every_watch_request_is_not_hammered() {
    let api = FakeApi::shared();
    api.lock().unwrap().put("a", json!(1));
    let mut sim = sim();
    with_api(&mut sim, &api);
    let api2 = api.clone();
    sim.client("client", async move {
        let store = Store::new(Changes::default());
        let task = start(&store);
        until("first list", Duration::from_secs(5), || store.is_synced()).await?;
        // The kube-rs pitfall: LIST, WATCH → 410, LIST... The reflector must back off instead.
        api2.lock().unwrap().expire_watch_requests = true;
        tokio::time::sleep(Duration::from_secs(10)).await;
        let lists_while_broken = api2.lock().unwrap().count("list");
        assert!(lists_while_broken <= 12, "{lists_while_broken} lists in ~10 s: no backoff");
        assert!(lists_while_broken >= 2, "it must keep trying ({lists_while_broken} lists)");
        api2.lock().unwrap().expire_watch_requests = false;
        api2.lock().unwrap().put("b", json!(2));
        until("recovered", Duration::from_secs(15), || mirrors(&store, &api2)).await?;
        task.abort();
        Ok(())
    });
    sim.run().unwrap();
}

#[test]
fn survives_an_api_server_restart_and_backs_off_while_it_is_down() {
    let api = FakeApi::shared();
    api.lock().unwrap().put("a", json!(1));
    let mut sim = sim();
    with_api(&mut sim, &api);
    let synced = Arc::new(AtomicBool::new(false));
    let restarted = Arc::new(AtomicBool::new(false));
    let (api2, synced2, restarted2) = (api.clone(), synced.clone(), restarted.clone());
    sim.client("client", async move {
        let store = Store::new(Changes::default());
        let task = start(&store);
        until("first list", Duration::from_secs(5), || store.is_synced()).await?;
        synced2.store(true, Ordering::SeqCst);
        until("the restart", Duration::from_secs(60), || restarted2.load(Ordering::SeqCst)).await?;
        until("caught up after the restart", Duration::from_secs(20), || mirrors(&store, &api2)).await?;
        let st = store.stats();
        // 20 s down, a connect timeout of 2 s and a backoff capped at 2 s: a handful of attempts.
        assert!(st.watch_errors >= 2 && st.watch_errors <= 15, "{st:?}");
        assert_eq!(st.lists, 1, "the server kept its history: resume, no relist: {st:?}");
        assert_eq!(server_names(&api2), names(&store));
        task.abort();
        Ok(())
    });
    while !synced.load(Ordering::SeqCst) {
        sim.step().unwrap();
    }
    sim.crash("api");
    let down_until = sim.elapsed() + Duration::from_secs(20);
    while sim.elapsed() < down_until {
        sim.step().unwrap();
    }
    api.lock().unwrap().put("b", json!(2));
    sim.bounce("api");
    restarted.store(true, Ordering::SeqCst);
    sim.run().unwrap();
}

#[test]
fn converges_under_message_delays() {
    let api = FakeApi::shared();
    let mut sim = turmoil::Builder::new()
        .simulation_duration(Duration::from_secs(600))
        .min_message_latency(Duration::from_millis(20))
        .max_message_latency(Duration::from_millis(400))
        .build();
    with_api(&mut sim, &api);
    let api2 = api.clone();
    sim.client("client", async move {
        let store = Store::new(Changes::default());
        let task = start(&store);
        until("first list", Duration::from_secs(10), || store.is_synced()).await?;
        for i in 0..40 {
            {
                let mut a = api2.lock().unwrap();
                a.put(&format!("o{}", i % 7), json!(i));
                if i % 5 == 4 {
                    a.delete(&format!("o{}", (i + 3) % 7));
                }
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
        until("converged", Duration::from_secs(30), || mirrors(&store, &api2)).await?;
        task.abort();
        Ok(())
    });
    sim.run().unwrap();
}

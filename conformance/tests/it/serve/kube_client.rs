//! The kube-rs client and runtime against the served simulator: discovery (legacy and aggregated),
//! typed and dynamic `Api` calls, `kube::runtime::watcher` in both initial-list modes, and a watcher
//! that recovers from `410 Expired` after an injected compaction with exactly one relist.

use super::{eventually, kube_client, serve};
use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use kube::discovery::Discovery;
use kube::runtime::watcher::{self, Event};
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn cm(name: &str, labels: &[(&str, &str)]) -> ConfigMap {
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "labels": labels.iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>()},
        "data": {"k": "v"},
    }))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_rs_discovery_and_api_calls() {
    let s = serve(|_| {}).await;
    let client = kube_client(&s).await;
    let d = Discovery::new(client.clone()).run().await.expect("legacy discovery");
    assert!(d.groups().any(|g| g.name() == "cluster.x-k8s.io"));
    let d = Discovery::new(client.clone()).run_aggregated().await.expect("aggregated discovery");
    let (ar, caps) = d.resolve_gvk(&GroupVersionKind::gvk("cluster.x-k8s.io", "v1beta2", "Cluster")).expect("Cluster discovered");
    assert_eq!(ar.plural, "clusters");
    assert!(caps.subresources.iter().any(|(sr, _)| sr.plural == "clusters/status" || sr.plural == "status"), "{:?}", caps.subresources);
    assert_eq!(client.apiserver_version().await.unwrap().minor, "32");

    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let created = cms.create(&PostParams::default(), &cm("k1", &[("app", "x")])).await.unwrap();
    let rv = created.metadata.resource_version.clone().unwrap();
    assert_eq!(cms.get("k1").await.unwrap().metadata.uid, created.metadata.uid);
    assert!(cms.get_opt("missing").await.unwrap().is_none());
    let listed = cms.list(&ListParams::default().labels("app=x")).await.unwrap();
    assert_eq!(listed.items.len(), 1);
    assert!(listed.metadata.resource_version.is_some_and(|r| !r.is_empty()));

    let patched = cms.patch("k1", &PatchParams::default(), &Patch::Merge(json!({"data": {"k": "w"}}))).await.unwrap();
    assert_eq!(patched.data.unwrap()["k"], "w");
    let applied = cms
        .patch(
            "k2",
            &PatchParams::apply("kprobe").force(),
            &Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": "1"}})),
        )
        .await
        .unwrap();
    assert_eq!(applied.metadata.name.as_deref(), Some("k2"));

    // A replace with the resourceVersion of the first write conflicts.
    let mut stale = created.clone();
    stale.metadata.resource_version = Some(rv);
    let err = cms.replace("k1", &PostParams::default(), &stale).await.unwrap_err();
    assert!(matches!(&err, kube::Error::Api(s) if s.is_conflict()), "{err:?}");

    let gone = cms.delete("k2", &DeleteParams::default()).await.unwrap();
    assert!(gone.is_right(), "an immediate removal answers a Status");
    let err = cms.delete("k2", &DeleteParams::default()).await.unwrap_err();
    assert!(matches!(&err, kube::Error::Api(s) if s.is_not_found()), "{err:?}");

    // Dynamic objects of a CAPI kind, across all namespaces.
    let ar = ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk("cluster.x-k8s.io", "v1beta2", "Cluster"), "clusters");
    let clusters: Api<DynamicObject> = Api::all_with(client.clone(), &ar);
    assert!(clusters.list(&ListParams::default()).await.unwrap().items.is_empty());
    s.server.shutdown().await.unwrap();
}

/// How many watch events a test records at most.
const MAX_RECORDED: usize = 10_000;

/// Collects a watcher's events as short strings.
fn collect(stream: impl futures::Stream<Item = Result<Event<ConfigMap>, watcher::Error>> + Send + 'static) -> Arc<Mutex<Vec<String>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let out = seen.clone();
    tokio::spawn(async move {
        let mut stream = std::pin::pin!(stream);
        while let Some(e) = stream.next().await {
            if e.is_err() {
                // A watcher without backoff retries an error at once; once the server is gone that
                // is a loop that may never wait on I/O. Sleeping here keeps the task yielding, so the
                // runtime can shut down (it drops tasks only where they yield).
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            let text = match e {
                Ok(Event::Init) => "Init".to_string(),
                Ok(Event::InitApply(o)) => format!("InitApply {}", o.metadata.name.unwrap_or_default()),
                Ok(Event::InitDone) => "InitDone".to_string(),
                Ok(Event::Apply(o)) => format!("Apply {}", o.metadata.name.unwrap_or_default()),
                Ok(Event::Delete(o)) => format!("Delete {}", o.metadata.name.unwrap_or_default()),
                Err(e) => format!("Error {e}"),
            };
            // Bounded: a watcher without backoff retries an error at once, and a test that is stuck
            // while its server is gone must not turn that loop into unbounded memory.
            let mut out = out.lock().unwrap();
            if out.len() < MAX_RECORDED {
                out.push(text);
            }
        }
    });
    seen
}

fn count(seen: &Arc<Mutex<Vec<String>>>, what: &str) -> usize {
    seen.lock().unwrap().iter().filter(|e| e.as_str() == what).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_rs_watcher_sees_events_and_relists_once_after_a_compaction() {
    let s = serve(|_| {}).await;
    let client = kube_client(&s).await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    cms.create(&PostParams::default(), &cm("w0", &[("sel", "w")])).await.unwrap();

    // Without bookmarks the watcher's resourceVersion stays at its last matching event, so a
    // compaction after unrelated writes leaves it behind the history.
    let cfg = watcher::Config::default().labels("sel=w").disable_bookmarks();
    let seen = collect(watcher::watcher(cms.clone(), cfg));
    let streaming = collect(watcher::watcher(cms.clone(), watcher::Config::default().labels("sel=w").streaming_lists()));
    eventually(Duration::from_secs(10), "the initial list", || async { (count(&seen, "InitDone") == 1).then_some(()) }).await;
    eventually(Duration::from_secs(10), "the streaming list", || async { (count(&streaming, "InitDone") == 1).then_some(()) }).await;
    assert_eq!(seen.lock().unwrap()[..3], ["Init", "InitApply w0", "InitDone"]);

    cms.create(&PostParams::default(), &cm("w1", &[("sel", "w")])).await.unwrap();
    eventually(Duration::from_secs(10), "Apply w1", || async { (count(&seen, "Apply w1") == 1).then_some(()) }).await;
    eventually(Duration::from_secs(10), "Apply w1 (streaming)", || async { (count(&streaming, "Apply w1") == 1).then_some(()) }).await;
    cms.create(&PostParams::default(), &cm("other", &[])).await.unwrap();
    cms.patch("other", &PatchParams::default(), &Patch::Merge(json!({"data": {"x": "y"}}))).await.unwrap();

    s.server.compact_history().await.unwrap();
    eventually(Duration::from_secs(15), "a relist after 410", || async { (count(&seen, "InitDone") == 2).then_some(()) }).await;
    let events = seen.lock().unwrap().clone();
    assert!(
        events.iter().any(|e| e.starts_with("Error") && e.contains("too old resource version")),
        "the stream carried 410 Expired: {events:?}"
    );
    assert_eq!(count(&seen, "Init"), 2, "exactly one relist: {events:?}");

    // Live again after the relist.
    cms.delete("w1", &DeleteParams::default()).await.unwrap();
    eventually(Duration::from_secs(10), "Delete w1", || async { (count(&seen, "Delete w1") == 1).then_some(()) }).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(count(&seen, "Init"), 2, "no relist loop: {:?}", seen.lock().unwrap());
    tokio::time::timeout(Duration::from_secs(60), s.server.shutdown())
        .await
        .expect("the server shuts down within a minute while watchers retry")
        .unwrap();
}

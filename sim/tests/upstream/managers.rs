//! The controller managers as CAPI v1.13.5 ships them: the defaults of the `--*-concurrency` flags
//! (`main.go`, `controlplane/kubeadm/main.go`, `bootstrap/kubeadm/main.go`,
//! `test/infrastructure/docker/main.go` of release-1.13) and of `--kube-api-qps`/`--kube-api-burst`;
//! CAPI's reconciler rate limiting (`util/controller/builder_test.go`, `controller_test.go`);
//! controller-runtime v0.23's priority queue (`pkg/controller/priorityqueue/priorityqueue_test.go`)
//! and the client's token bucket applied to the managers' API calls.
//! Upstream has no unit tests for flag defaults; each test names the flag definitions it restates.

use capi_sim::controllers::flags;
use capi_sim::engine::{Sim, SimConfig};
use capi_sim::features::FeatureGates;
use capi_sim::kinds::Kind;
use capi_sim::object::ObjKey;
use capi_sim::runtime::priorityqueue::{PriorityQueue, LOW_PRIORITY};
use capi_sim::runtime::ratelimit::{ClientLimiter, QueueRateLimiter, ReconcileCache};
use capi_sim::runtime::workqueue::{QueueConfig, Requeue, WorkQueue};
use rstest::rstest;
use std::collections::BTreeMap;

/// Workers per (manager, controller) of a management cluster set up as `clusterctl init` does (with
/// ClusterTopology and MachinePool on).
fn workers(concurrency: Option<u32>) -> BTreeMap<(String, String), u32> {
    let mut sim = Sim::new(SimConfig { concurrency, ..Default::default() });
    sim.add_management("mgmt", FeatureGates { cluster_topology: true, machine_pool: true, ..Default::default() });
    sim.mgmt[0]
        .managers
        .iter()
        .flat_map(|m| m.controllers.iter().map(move |c| ((m.name.to_string(), c.reconciler.name().to_string()), c.workers)))
        .collect()
}

/// release-1.13 `main.go` (`--cluster-concurrency` 50, `--clusterclass-concurrency` 10,
/// `--clustertopology-concurrency` 50, `--machine-concurrency` 100, `--machineset-concurrency` 50,
/// `--machinedeployment-concurrency` 50, `--machinepool-concurrency` 50,
/// `--clusterresourceset-concurrency` 10 for both ClusterResourceSet controllers,
/// `--machinehealthcheck-concurrency` 50, the topology MachineDeployment/MachineSet controllers at a
/// fixed 25); `bootstrap/kubeadm/main.go` (`--kubeadmconfig-concurrency` 100);
/// `controlplane/kubeadm/main.go` (`--kubeadmcontrolplane-concurrency` 100).
#[rstest]
#[case("capi", "cluster", 50)]
#[case("capi", "clusterclass", 10)]
#[case("capi", "topology/cluster", 50)]
#[case("capi", "topology/machinedeployment", 25)]
#[case("capi", "topology/machineset", 25)]
#[case("capi", "machine", 100)]
#[case("capi", "machineset", 50)]
#[case("capi", "machinedeployment", 50)]
#[case("capi", "machinepool", 50)]
#[case("capi", "machinehealthcheck", 50)]
#[case("capi", "clusterresourceset", 10)]
#[case("capi", "clusterresourcesetbinding", 10)]
#[case("kubeadm-bootstrap", "kubeadmconfig", 100)]
#[case("kubeadm-control-plane", "kubeadmcontrolplane", 100)]
fn core_kcp_and_cabpk_workers(#[case] manager: &str, #[case] controller: &str, #[case] want: u32) {
    let w = workers(None);
    assert_eq!(w.get(&(manager.to_string(), controller.to_string())), Some(&want), "{manager}/{controller} in {w:?}");
}

/// release-1.13 `test/infrastructure/docker/main.go`: `--concurrency` (100) for DockerMachine and
/// DockerMachinePool (and their Dev* twins); DockerCluster and DockerMachineTemplate are set up with
/// `controller.Options{}`, so controller-runtime's default of one worker.
#[rstest]
#[case("dockermachine", 100)]
#[case("dockermachinepool", 100)]
#[case("devmachine", 100)]
#[case("dockercluster", 1)]
#[case("devcluster", 1)]
#[case("dockermachinetemplate", 1)]
fn capd_workers(#[case] controller: &str, #[case] want: u32) {
    let w = workers(None);
    assert_eq!(w.get(&("capd".to_string(), controller.to_string())), Some(&want), "{controller} in {w:?}");
}

/// `--*-concurrency` set explicitly (the simulator's `--concurrency`) applies to every controller.
#[test]
fn an_explicit_concurrency_applies_to_every_controller() {
    let w = workers(Some(7));
    assert!(w.len() > 15, "{w:?}");
    assert!(w.values().all(|&n| n == 7), "{w:?}");
}

/// Every manager's `--kube-api-qps` (100) and `--kube-api-burst` (200) since v1.13, and the release
/// the bench report names.
#[test]
fn client_rate_limits_and_release() {
    assert_eq!((flags::KUBE_API_QPS, flags::KUBE_API_BURST), (100, 200));
    assert_eq!(flags::RELEASE, "CAPI v1.13.5");
    assert_eq!(flags::flag_of("machine"), Some("--machine-concurrency"));
    assert_eq!(flags::flag_of("dockercluster"), None);
}

fn req(name: &str) -> ObjKey {
    ObjKey::new(Kind::Cluster, "default", name)
}

/// `util/controller/builder_test.go: TestTypedItemExponentialFailureRateLimiter`: with
/// `ReconcilerRateLimiting` the failure backoff is the rate-limit interval plus 5ms·2ⁿ, capped at
/// 1000s, for 100 failures in a row.
#[test]
fn capi_failure_rate_limiter_adds_the_interval_to_the_exponential_backoff() {
    let mut l = QueueRateLimiter::for_gates(true, true, 1_000);
    let got: Vec<u64> = (0..100).map(|_| l.when(&req("cluster-1"), 0)).collect();
    let mut want: Vec<u64> = (0..18).map(|n| 1_000 + 5 * (1u64 << n)).collect();
    want.resize(100, 1_000_000);
    assert_eq!(got, want);
}

/// `util/controller/controller_test.go: TestShouldRequeue`: no entry or a time that is not in the
/// future does not requeue; a time 15s ahead requeues after 15s.
#[rstest]
#[case::no_entry(None, 0, None)]
#[case::fifteen_seconds(Some(15_000), 0, Some(15_000))]
#[case::now(Some(5_000), 5_000, None)]
#[case::before_now(Some(5_000), 6_000, None)]
fn reconcile_cache_should_requeue(#[case] after: Option<u64>, #[case] now: u64, #[case] want: Option<u64>) {
    let mut c = ReconcileCache::default();
    if let Some(a) = after {
        c.add(req("c"), a, 0);
    }
    assert_eq!(c.should_requeue(&req("c"), now), want);
}

/// `util/controller/controller_test.go: TestReconcile`, step by step in simulated time: a second
/// reconcile within the interval is not run but requeued for the time left; `DeferNextReconcile`
/// holds the next one back (11s, then 7s after 4s; 55s); a `RequeueAfter` of 1ms is raised to the
/// interval, or to a deferral made during the reconcile (5s); errors back off interval + 5ms·2ⁿ and
/// a success forgets them.
#[test]
fn capi_reconciler_wrapper_rate_limits_defers_and_raises_requeues() {
    let mut q = WorkQueue::new(QueueConfig { priority_queue: true, reconciler_rate_limiting: true, interval_ms: 1_000 });
    let r = req("cluster-1");
    let mut t = 0;
    assert_eq!(q.begin(&r, t), None, "reconciles");
    assert_eq!(q.finish(&r, Ok(None), t), Requeue::No);
    assert_eq!(q.begin(&r, t), Some(1_000), "not reconciled, RequeueAfter 1s");
    t += 1_000;
    assert_eq!(q.begin(&r, t), None);
    q.defer_next(&r, t + 11_000, t);
    assert_eq!(q.begin(&r, t), Some(11_000));
    t += 4_000;
    assert_eq!(q.begin(&r, t), Some(7_000));
    t += 7_000;
    assert_eq!(q.begin(&r, t), None);
    q.defer_next(&r, t + 55_000, t);
    assert_eq!(q.begin(&r, t), Some(55_000));
    t += 55_000;
    assert_eq!(q.begin(&r, t), None);
    assert_eq!(q.finish(&r, Ok(Some(1)), t), Requeue::After(1_000), "at least the interval");
    t += 1_000;
    assert_eq!(q.begin(&r, t), None);
    q.defer_next(&r, t + 5_000, t);
    assert_eq!(q.finish(&r, Ok(Some(1)), t), Requeue::After(5_000), "at least the deferral");
    t += 5_000;
    assert_eq!(q.begin(&r, t), None);
    assert_eq!(q.finish(&r, Err(()), t), Requeue::RateLimited(1_005));
    assert_eq!(q.failures(&r), 1);
    t += 1_005;
    assert_eq!(q.begin(&r, t), None);
    assert_eq!(q.finish(&r, Err(()), t), Requeue::RateLimited(1_010));
    assert_eq!(q.failures(&r), 2);
    t += 1_010;
    assert_eq!(q.begin(&r, t), None);
    assert_eq!(q.finish(&r, Ok(None), t), Requeue::No);
    assert_eq!(q.failures(&r), 0);
}

/// `util/controller/builder.go: Build` (1s unless `WithRateLimitInterval` asks for more) and
/// `internal/controllers/machinehealthcheck/machinehealthcheck_controller.go: SetupWithManager`
/// (15s): each controller's queue gets its interval and CAPI's limiter with both gates on.
#[rstest]
#[case("machinehealthcheck", 15_000)]
#[case("machine", 1_000)]
#[case("kubeadmcontrolplane", 1_000)]
#[case("dockermachine", 1_000)]
fn rate_limit_interval_per_controller(#[case] controller: &str, #[case] want: u64) {
    assert_eq!(flags::rate_limit_interval_ms(controller), want);
    let mut sim = Sim::new(SimConfig::default());
    sim.add_management("mgmt", FeatureGates { cluster_topology: true, ..Default::default() });
    let slot = sim.mgmt[0].managers.iter().flat_map(|m| &m.controllers).find(|c| c.reconciler.name() == controller).expect(controller);
    assert_eq!(slot.queue.config(), QueueConfig { priority_queue: true, reconciler_rate_limiting: true, interval_ms: want });
}

/// `util/controller/builder.go: Build`: `ReconcilerRateLimiting` without `PriorityQueue` is refused,
/// so every manager exits at start-up; with both off the managers run with client-go's FIFO queue.
#[test]
fn rate_limiting_needs_the_priority_queue() {
    let mut sim = Sim::new(SimConfig::default());
    sim.add_management("mgmt", FeatureGates { priority_queue: false, ..Default::default() });
    assert!(sim.mgmt[0].managers.iter().all(|m| !m.up));
    sim.add_management("other", FeatureGates { priority_queue: false, reconciler_rate_limiting: false, ..Default::default() });
    assert!(sim.mgmt[1].managers.iter().all(|m| m.up));
    let q = &sim.mgmt[1].managers[0].controllers[0].queue;
    assert!(!q.config().priority_queue && !q.config().reconciler_rate_limiting);
}

fn drain(q: &mut PriorityQueue) -> Vec<(String, i32)> {
    let mut out = Vec::new();
    while let Some((key, p)) = q.get() {
        q.done(&key);
        out.push((key.name.to_string(), p));
    }
    out
}

/// controller-runtime `priorityqueue_test.go`: "retains the highest priority", "will not decrease
/// the priority", "gets pushed to the front if the priority increases", "follows FIFO order in the
/// new priority queue when item priority changes", "retains the lowest after duration".
#[rstest]
#[case::retains_the_highest(&[("foo", 1, None), ("foo", 2, None)], &[("foo", 2)])]
#[case::does_not_decrease(&[("foo", 2, None), ("foo", 1, None)], &[("foo", 2)])]
#[case::pushed_to_the_front(&[("foo", 0, None), ("bar", 0, None), ("baz", 0, None), ("baz", 1, None)], &[("baz", 1), ("foo", 0), ("bar", 0)])]
#[case::fifo_in_the_new_priority(&[("foo", 0, None), ("bar", 1, None), ("foo", 1, None)], &[("bar", 1), ("foo", 1)])]
#[case::lowest_after_wins(&[("foo", 0, None), ("foo", 0, Some(3_600_000))], &[("foo", 0)])]
fn priority_queue_order(#[case] adds: &[(&str, i32, Option<u64>)], #[case] want: &[(&str, i32)]) {
    let mut q = PriorityQueue::default();
    for (name, p, after) in adds {
        q.add(req(name), *p, *after);
    }
    let want: Vec<(String, i32)> = want.iter().map(|(n, p)| (n.to_string(), *p)).collect();
    assert_eq!(drain(&mut q), want);
}

/// controller-runtime `priorityqueue_test.go: TestHighPriorityItemThatBecameReadyIsReturnedBefore
/// LowPriorityItem`, `TestMultipleItemsWithAfterAreReturnedInCorrectOrder`,
/// `TestWaitingItemIsReturnedRightAfterReadWithoutAfter`, "doesn't return an item that is currently
/// locked" and "returns an item as soon as its unlocked".
#[test]
fn priority_queue_waiting_items_and_locks() {
    let mut q = PriorityQueue::default();
    q.add(req("foo"), LOW_PRIORITY, None);
    q.add(req("prio"), 0, Some(1_000));
    q.wake(1_000);
    assert_eq!(drain(&mut q), [("prio".to_string(), 0), ("foo".to_string(), LOW_PRIORITY)]);

    q.add(req("foo"), 0, Some(1_000));
    q.add(req("bar"), 0, Some(200));
    assert!(q.get().is_none(), "nothing is ready before its time");
    q.wake(1_000);
    assert_eq!(drain(&mut q), [("bar".to_string(), 0), ("foo".to_string(), 0)]);

    q.add(req("foo"), 0, Some(60_000));
    q.add(req("foo"), 0, None);
    let (foo, _) = q.get().expect("ready at once without after");
    q.add(req("foo"), 0, None);
    assert!(q.get().is_none(), "locked");
    q.done(&foo);
    assert_eq!(q.get().map(|(k, _)| k), Some(req("foo")));
}

/// client-go `rest.RESTClientForConfigAndClient` with `flowcontrol.NewTokenBucketRateLimiter(100,
/// 200)` per REST client, which controller-runtime creates per kind (`client_rest_resources.go`):
/// 200 calls at once pass, each further call waits 10ms more; another kind has its own bucket.
#[test]
fn client_token_bucket_per_kind() {
    let mut c = ClientLimiter::new(u64::from(flags::KUBE_API_QPS), u64::from(flags::KUBE_API_BURST));
    let waits: Vec<u64> = (0..203).map(|_| c.reserve(Kind::Machine, 0)).collect();
    assert!(waits[..200].iter().all(|&w| w == 0));
    assert_eq!(&waits[200..], &[10, 20, 30]);
    assert_eq!(c.reserve(Kind::Cluster, 0), 0);
}

/// The client's limit reaches the managers' API calls: hundreds of Clusters created at once make the
/// core manager's Cluster client wait for tokens (the workers wait, in simulated time), a handful
/// does not (`--kube-api-qps` 100 / `--kube-api-burst` 200, release-1.13 `main.go`).
#[rstest]
#[case(20, false)]
#[case(400, true)]
fn fleets_wait_for_the_clients_tokens(#[case] clusters: usize, #[case] throttled: bool) {
    let mut sim = capi_sim::testing::sim(1);
    for i in 0..clusters {
        let v = serde_json::json!({
            "apiVersion": "cluster.x-k8s.io/v1beta2", "kind": "Cluster",
            "metadata": { "name": format!("c-{i}"), "namespace": "default" },
            "spec": { "infrastructureRef": { "apiGroup": "infrastructure.cluster.x-k8s.io", "kind": "DockerCluster", "name": format!("c-{i}") } }
        });
        sim.apply(0, &v).expect("create");
    }
    capi_sim::testing::run_for(&mut sim, 30_000);
    let capi = sim.mgmt[0].managers.iter().find(|m| m.name == "capi").expect("capi manager");
    assert_eq!(capi.client.throttled_calls > 0, throttled, "{} calls waited {} ms", capi.client.throttled_calls, capi.client.throttled_ms);
}

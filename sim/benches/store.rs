//! Store operations on a management cluster holding a converged fleet: get by key, list by the
//! cluster-name label (the index every controller uses), a label-selector list, a status patch
//! committed through the API server, and the watch fan-out of one change to every manager's cache.

mod common;

use capi_sim::kinds::Kind;
use capi_sim::object::ObjKey;
use capi_sim::store::api::Patch;
use capi_sim::store::{Change, ChangeKind, Subresource};
use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion};
use serde_json::json;
use std::hint::black_box;

fn store_ops(c: &mut Criterion) {
    let mut group = c.benchmark_group("store");
    for clusters in [10usize, 100] {
        let mut backend = common::converged_fleet(clusters);
        let sim = common::sim(&mut backend);
        let store = &sim.mgmt[0].api.store;
        let machine = store.objects().of_kind(Kind::Machine, None).next().expect("machines").clone();
        let key = machine.key();
        let cluster = machine.label("cluster.x-k8s.io/cluster-name").unwrap_or_default().to_string();
        group.bench_with_input(BenchmarkId::new("get", clusters), &key, |b, key| b.iter(|| black_box(store.get(black_box(key)))));
        group.bench_with_input(BenchmarkId::new("list-machines-of-cluster", clusters), &cluster, |b, cluster| {
            b.iter(|| black_box(store.objects().in_cluster(Kind::Machine, black_box(cluster)).count()))
        });
        let selector: capi_scenarios::LabelSelector =
            serde_json::from_value(json!({"cluster.x-k8s.io/cluster-name": cluster})).expect("selector");
        group.bench_with_input(BenchmarkId::new("select-by-label", clusters), &selector, |b, sel| {
            b.iter(|| black_box(store.objects().select(Kind::Machine, Some("default"), black_box(sel)).len()))
        });
        let mut n = 0u64;
        group.bench_function(BenchmarkId::new("patch-status", clusters), |b| {
            b.iter(|| {
                n += 1;
                let patch = Patch::Merge(json!({"status": {"observedGeneration": n}}));
                black_box(sim.patch(0, &key, &patch, Subresource::Status).expect("patch"))
            })
        });
        // One change observed by every manager: cache update plus mapping to reconcile keys.
        let obj = sim.mgmt[0].api.store.get(&key).expect("machine").clone();
        let change = Change { kind: ChangeKind::Modified, object: obj.clone(), old: Some(obj) };
        group.bench_function(BenchmarkId::new("watch-fan-out", clusters), |b| {
            b.iter_batched(
                Vec::new,
                |mut keys| {
                    for mgr in &mut sim.mgmt[0].managers {
                        mgr.observe(&change, &mut keys);
                    }
                    keys
                },
                BatchSize::SmallInput,
            )
        });
        let _ = ObjKey::new(Kind::Cluster, "default", "fleet-1");
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).warm_up_time(std::time::Duration::from_millis(500)).measurement_time(std::time::Duration::from_secs(2));
    targets = store_ops
}
criterion_main!(benches);

//! One reconcile of each controller on a realistic cache: a management cluster holding a converged
//! fleet of quick-start clusters (so most reconciles find nothing to change, as in a steady fleet).
//! Comparing the 10- and 100-cluster groups shows how the cost per reconcile grows with the fleet.

mod common;

use capi_sim::object::ObjKey;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use std::hint::black_box;

fn reconcile_each_controller(c: &mut Criterion) {
    for clusters in [10usize, 100] {
        let mut backend = common::converged_fleet(clusters);
        let sim = common::sim(&mut backend);
        let mut group = c.benchmark_group(format!("reconcile/{clusters}-clusters"));
        for (g, slot, name, kind) in sim.controllers(0) {
            // The middle object of the controller's kind: a typical one.
            let keys: Vec<ObjKey> = sim.mgmt[0].api.store.objects().of_kind(kind, None).map(|o| o.key()).collect();
            let Some(key) = keys.get(keys.len() / 2).cloned() else { continue };
            group.bench_function(BenchmarkId::from_parameter(name), |b| {
                b.iter(|| black_box(sim.reconcile_now(0, g, slot, black_box(&key)).is_ok()))
            });
        }
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).warm_up_time(std::time::Duration::from_millis(300)).measurement_time(std::time::Duration::from_secs(1));
    targets = reconcile_each_controller
}
criterion_main!(benches);

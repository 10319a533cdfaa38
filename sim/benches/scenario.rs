//! Whole scenarios, wall time per run with tracing off: the quick-start (create one cluster until it
//! is Available), and one quick-start cluster's full lifecycle (create → upgrade → delete).

mod common;

use criterion::{criterion_group, criterion_main, Criterion};

fn scenarios(c: &mut Criterion) {
    let mut group = c.benchmark_group("scenario");
    let quickstart = common::scenario("quickstart.yaml", &[]);
    group.bench_function("quickstart", |b| b.iter(|| common::run(&quickstart)));
    let lifecycle = common::scenario("fleet-lifecycle.yaml", &[("FLEET_SIZE", "1")]);
    group.bench_function("quickstart-create-upgrade-delete", |b| b.iter(|| common::run(&lifecycle)));
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).warm_up_time(std::time::Duration::from_millis(500)).measurement_time(std::time::Duration::from_secs(5));
    targets = scenarios
}
criterion_main!(benches);

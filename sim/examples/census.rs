//! Memory census (diagnostic): runs the create phase of the fleet-lifecycle scenario for N clusters
//! and prints an estimate of the heap held by each kind of object (distinct versions across the store
//! and every informer cache) and by the world.

use capi_scenarios::runner::{self, RunOptions};
use capi_sim::backend::{SimBackend, SimOptions};
use capi_sim::engine::trace::TraceMode;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn value_bytes(v: &Value) -> usize {
    match v {
        Value::String(s) => s.capacity(),
        Value::Array(a) => a.capacity() * 32 + a.iter().map(value_bytes).sum::<usize>(),
        Value::Object(m) => {
            let n = m.len();
            let nodes = if n == 0 {
                0
            } else if n <= 11 {
                1
            } else {
                n.div_ceil(8) + 1
            };
            nodes * 632 + m.iter().map(|(k, v)| k.capacity() + value_bytes(v)).sum::<usize>()
        }
        _ => 0,
    }
}

fn vec_bytes(v: &Value) -> usize {
    match v {
        Value::String(s) => s.capacity(),
        Value::Array(a) => a.capacity() * 32 + a.iter().map(vec_bytes).sum::<usize>(),
        Value::Object(m) => m.len() * 56 + m.iter().map(|(k, v)| k.capacity() + vec_bytes(v)).sum::<usize>(),
        _ => 0,
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let clusters: u64 = args.get(1).and_then(|v| v.parse().ok()).unwrap_or(10);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let path = root.join("scenarios/library/fleet-lifecycle.yaml");
    let mut load = capi_scenarios::LoadOptions::default();
    load.vars.insert("FLEET_SIZE".into(), clusters.to_string());
    let mut scenario = capi_scenarios::load(&path, &load).expect("scenario");
    scenario.steps.truncate(4);
    let mut backend = SimBackend::new(SimOptions { trace: TraceMode::Off, ..Default::default() });
    let opts = RunOptions { seed: Some(1), ..Default::default() };
    let report = pollster::block_on(runner::run(&mut backend, &scenario, &opts));
    eprintln!("passed {} reconciles {}", report.passed, report.reconciles);
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    for l in status.lines().filter(|l| l.starts_with("VmRSS") || l.starts_with("VmHWM")) {
        println!("{l}");
    }
    let sim = backend.sim().expect("sim");
    let mut seen_obj = BTreeSet::new();
    let mut seen_body = BTreeSet::new();
    // kind -> (versions, distinct bodies, body bytes, in store)
    let mut per_kind: BTreeMap<String, (usize, usize, usize, usize, usize)> = BTreeMap::new();
    let mut sets = Vec::new();
    for m in &sim.mgmt {
        sets.push(("store".to_string(), m.api.store.objects()));
        for g in &m.managers {
            sets.push((g.name.to_string(), &g.cache));
        }
    }
    for (i, (_, set)) in sets.iter().enumerate() {
        for o in set.iter() {
            let e = per_kind.entry(o.kind.info().kind.to_string()).or_default();
            if i == 0 {
                e.3 += 1;
            }
            if seen_obj.insert(std::sync::Arc::as_ptr(o) as usize) {
                e.0 += 1;
                let body: &serde_json::Map<String, Value> = &o.body;
                if seen_body.insert(body as *const _ as usize) {
                    e.1 += 1;
                    e.2 += value_bytes(&Value::Object(body.clone()));
                    e.4 += vec_bytes(&Value::Object(body.clone()));
                }
            }
        }
    }
    let mut total = 0;
    let mut total_vec = 0;
    let mut rows: Vec<_> = per_kind.into_iter().collect();
    rows.sort_by_key(|(_, v)| std::cmp::Reverse(v.2));
    println!("{:<32} {:>8} {:>8} {:>8} {:>12} {:>10}", "kind", "store", "versions", "bodies", "body bytes", "per cluster");
    for (k, (versions, bodies, bytes, store, vbytes)) in &rows {
        total += bytes;
        total_vec += vbytes;
        println!("{k:<32} {store:>8} {versions:>8} {bodies:>8} {bytes:>12} {:>10}", bytes / clusters as usize);
    }
    println!("objects total {} per cluster {}", total, total / clusters as usize);
    println!("objects as sorted vecs {} per cluster {}", total_vec, total_vec / clusters as usize);
    let mut resources = 0;
    let mut nodes = 0;
    for w in sim.world.workloads.values() {
        resources += w.resources.values().map(value_bytes).sum::<usize>() + w.resources.keys().map(|k| k.capacity() + 64).sum::<usize>();
        nodes += w.nodes.len();
    }
    println!("workload resources {} per cluster {} (nodes {nodes})", resources, resources / clusters as usize);
}

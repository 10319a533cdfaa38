//! Memory census (diagnostic): runs the create phase of the fleet-lifecycle scenario for N clusters
//! and estimates, per cluster, the heap held by the objects (distinct versions across the store and
//! every informer cache): JSON bodies by part (map vectors and their unused room, string values,
//! arrays), labels and annotations, and the rest of the metadata; then where maps keep unused room.
//! Sizes are rounded up to the allocator's size classes (8-byte steps to 64 bytes, then four steps
//! per power of two), so the figures approximate what the heap holds, not what the JSON prints as.
//!
//! `cargo run --release -p capi-sim --example census -- 30 [--dump Machine]` (`--dump KIND` prints one
//! stored object of that kind, to see what a body holds).

use capi_scenarios::runner::{self, RunOptions};
use capi_sim::backend::{SimBackend, SimOptions};
use capi_sim::engine::trace::TraceMode;
use capi_sim::object::{Object, OwnerRef, StrMap};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Bytes of one entry of a JSON object (an interned key and a value).
const MAP_ENTRY: usize = 40;
/// Bytes of one label or annotation (two `String`s).
const STR_ENTRY: usize = 48;

/// An allocation of `n` bytes as the allocator rounds it.
fn rounded(n: usize) -> usize {
    if n == 0 {
        0
    } else if n <= 64 {
        n.div_ceil(8) * 8
    } else {
        let step = 1usize << (usize::BITS - (n - 1).leading_zeros() - 3);
        n.div_ceil(step) * step
    }
}

/// What the JSON bodies hold.
#[derive(Default)]
struct Bodies {
    maps: usize,
    entries: usize,
    map_bytes: usize,
    unused: usize,
    strings: usize,
    string_bytes: usize,
    array_bytes: usize,
    /// Unused map room by the first keys of the map that has it.
    unused_by_map: BTreeMap<String, usize>,
}

impl Bodies {
    fn value(&mut self, v: &Value) {
        match v {
            Value::String(s) => {
                self.strings += 1;
                self.string_bytes += rounded(s.capacity());
            }
            Value::Array(a) => {
                self.array_bytes += rounded(a.capacity() * std::mem::size_of::<Value>());
                a.iter().for_each(|x| self.value(x));
            }
            Value::Object(m) => self.map(m),
            _ => {}
        }
    }

    fn map(&mut self, m: &Map<String, Value>) {
        self.maps += 1;
        self.entries += m.len();
        self.map_bytes += rounded(m.capacity() * MAP_ENTRY);
        let unused = (m.capacity() - m.len()) * MAP_ENTRY;
        if unused > 0 {
            self.unused += unused;
            *self.unused_by_map.entry(m.keys().take(3).cloned().collect::<Vec<_>>().join(",")).or_default() += unused;
        }
        m.values().for_each(|x| self.value(x));
    }
}

fn string_map_bytes(m: &StrMap) -> usize {
    if m.is_empty() {
        return 0;
    }
    rounded(STR_ENTRY * m.len()) + m.iter().map(|(k, v)| rounded(k.capacity()) + rounded(v.capacity())).sum::<usize>()
}

/// The object's metadata outside labels and annotations: the object itself, its names and uid,
/// owner references and finalizers.
fn other_meta_bytes(o: &Object) -> usize {
    let m = &o.meta;
    let refs = rounded(m.owner_references.capacity() * std::mem::size_of::<OwnerRef>())
        + m.owner_references
            .iter()
            .map(|r| rounded(r.api_version.capacity()) + rounded(r.kind.capacity()) + rounded(r.name.capacity()))
            .sum::<usize>();
    let finalizers = rounded(m.finalizers.capacity() * 24) + m.finalizers.iter().map(|f| rounded(f.capacity())).sum::<usize>();
    let names = [&m.name, &m.namespace, &m.uid].iter().map(|s| rounded(s.len() + 16)).sum::<usize>();
    rounded(std::mem::size_of::<Object>() + 16) + refs + finalizers + names
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let clusters: usize = args.get(1).and_then(|v| v.parse().ok()).unwrap_or(10);
    let dump = args.iter().position(|a| a == "--dump").and_then(|i| args.get(i + 1));
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
    let mut sets = Vec::new();
    for m in &sim.mgmt {
        sets.push(m.api.store.objects());
        sets.extend(m.managers.iter().map(|g| &g.cache));
    }
    let (mut seen_objects, mut seen_bodies) = (BTreeSet::new(), BTreeSet::new());
    let mut bodies = Bodies::default();
    let (mut label_bytes, mut meta_bytes) = (0, 0);
    // kind -> (in the store, versions, distinct bodies, body bytes)
    let mut per_kind: BTreeMap<String, (usize, usize, usize, usize)> = BTreeMap::new();
    for (i, set) in sets.iter().enumerate() {
        for o in set.iter() {
            let row = per_kind.entry(o.kind.to_string()).or_default();
            row.0 += usize::from(i == 0);
            if !seen_objects.insert(Arc::as_ptr(o) as usize) {
                continue;
            }
            row.1 += 1;
            label_bytes += string_map_bytes(&o.meta.labels) + string_map_bytes(&o.meta.annotations);
            meta_bytes += other_meta_bytes(o);
            let body: &Map<String, Value> = &o.body;
            if seen_bodies.insert(body as *const _ as usize) {
                row.2 += 1;
                let before = bodies.map_bytes + bodies.string_bytes + bodies.array_bytes;
                bodies.map(body);
                row.3 += bodies.map_bytes + bodies.string_bytes + bodies.array_bytes - before;
            }
        }
    }
    let per = |n: usize| n / clusters.max(1);
    let mut rows: Vec<_> = per_kind.into_iter().collect();
    rows.sort_by_key(|(_, v)| std::cmp::Reverse(v.3));
    println!("{:<28} {:>8} {:>8} {:>8} {:>12} {:>12}", "kind", "store", "versions", "bodies", "body bytes", "per cluster");
    for (k, (store, versions, distinct, bytes)) in &rows {
        println!("{k:<28} {store:>8} {versions:>8} {distinct:>8} {bytes:>12} {:>12}", per(*bytes));
    }
    let body_total = bodies.map_bytes + bodies.string_bytes + bodies.array_bytes;
    println!(
        "\nper cluster: bodies {} (maps {} in {} maps of {} entries, {} of it unused room; strings {} in {}; arrays {})",
        per(body_total),
        per(bodies.map_bytes),
        per(bodies.maps),
        per(bodies.entries),
        per(bodies.unused),
        per(bodies.string_bytes),
        per(bodies.strings),
        per(bodies.array_bytes)
    );
    println!("per cluster: labels and annotations {}, other metadata {}", per(label_bytes), per(meta_bytes));
    let mut unused: Vec<_> = bodies.unused_by_map.iter().map(|(k, v)| (*v, k.as_str())).collect();
    unused.sort_by(|a, b| b.cmp(a));
    for (bytes, keys) in unused.iter().take(10) {
        println!("unused map room {bytes:>9} in maps starting {keys}");
    }
    if let Some(kind) = dump {
        if let Some(o) = sim.mgmt[0].api.store.objects().iter().find(|o| o.kind.to_string() == *kind) {
            println!("{}", serde_json::to_string_pretty(&Value::Object((*o.body).clone())).unwrap_or_default());
        }
    }
    let mut world = Bodies::default();
    let mut nodes = 0;
    for w in sim.world.workloads.values() {
        w.resources.values().for_each(|v| world.value(v));
        nodes += w.nodes.len();
    }
    println!("workload resources per cluster {} (nodes {nodes})", per(world.map_bytes + world.string_bytes + world.array_bytes));
}

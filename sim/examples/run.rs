//! Run one scenario against the simulator without the xtask CLI (handy for profiling):
//! `cargo run -p capi-sim --example run -- scenarios/library/quickstart.yaml [seed] [trace.jsonl]`;
//! `FAULT_PROFILE=control-plane` runs it as a swarm run with that random fault profile;
//! `MUTANTS=a,b` switches mutants on; `VARS=K=V,K2=V2` overrides scenario variables.

use capi_scenarios::runner::{self, RunOptions};
use capi_sim::backend::{SimBackend, SimOptions};
use capi_sim::engine::trace::TraceMode;
use std::io::Write as _;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let Some(path) = args.get(1) else {
        eprintln!("usage: run SCENARIO [SEED] [TRACE_FILE]");
        std::process::exit(2);
    };
    let seed = args.get(2).and_then(|s| s.parse().ok());
    let trace_file = args.get(3);
    let mut load = capi_scenarios::LoadOptions::default();
    for kv in std::env::var("VARS").unwrap_or_default().split(',').filter(|s| !s.is_empty()) {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        load.vars.insert(k.to_string(), v.to_string());
    }
    let scenario = match capi_scenarios::load(std::path::Path::new(path), &load) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let fault_profile = std::env::var("FAULT_PROFILE").ok();
    let swarm = fault_profile.is_some();
    let mutants = match std::env::var("MUTANTS").unwrap_or_default().split(',').filter(|m| !m.is_empty()).map(str::parse).collect() {
        Ok(m) => m,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let mut backend = SimBackend::new(SimOptions {
        trace: if trace_file.is_some() { TraceMode::Full } else { TraceMode::Hash },
        fault_profile,
        mutants,
        ..Default::default()
    });
    let t = std::time::Instant::now(); // determinism-ok: wall time printed after the run, never read by the simulation
    let report = pollster::block_on(runner::run(&mut backend, &scenario, &RunOptions { seed, swarm, ..Default::default() }));
    let wall = t.elapsed();
    for s in &report.steps {
        println!(
            "{:?} [{}] {} line {} t={}s: {}",
            s.status,
            s.index,
            s.kind,
            s.line,
            s.at_ms / 1000,
            s.message.lines().next().unwrap_or("")
        );
    }
    for f in &report.faults {
        println!("fault t={}s: {:?}", f.at_ms / 1000, f.spec);
    }
    for v in &report.violations {
        println!("violation {} t={}s: {}", v.invariant, v.at_ms / 1000, v.message);
    }
    println!(
        "{} sim={}s wall={:.3}s reconciles={} events={} hash={:?}",
        if report.passed { "PASSED" } else { "FAILED" },
        report.sim_time_ms / 1000,
        wall.as_secs_f64(),
        report.reconciles,
        report.events,
        report.trace_hash
    );
    if let (Some(f), Some(sim)) = (trace_file, backend.sim()) {
        let mut out = std::io::BufWriter::new(std::fs::File::create(f).expect("trace file"));
        for l in sim.trace.lines() {
            writeln!(out, "{l}").expect("write");
        }
    }
    // `DUMP=Kind/name` prints that object (namespace `default`) as the run left it.
    if let (Ok(d), Some(sim)) = (std::env::var("DUMP"), backend.sim()) {
        let found = d.split_once('/').and_then(|(k, n)| Some((capi_sim::kinds::Kind::from_name(k)?, n)));
        match found.and_then(|(k, n)| sim.mgmt[0].api.store.objects().get_parts(k, "default", n)) {
            Some(o) => println!("{}", serde_json::to_string_pretty(&o.to_json()).unwrap_or_default()),
            None => println!("{d}: not found"),
        }
    }
    std::process::exit(if report.passed { 0 } else { 1 });
}

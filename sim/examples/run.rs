//! Run one scenario against the simulator without the xtask CLI (handy for profiling):
//! `cargo run -p capi-sim --example run -- scenarios/library/quickstart.yaml [seed] [trace.jsonl]`.

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
    let scenario = match capi_scenarios::load(std::path::Path::new(path), &Default::default()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let mut backend = SimBackend::new(SimOptions { trace: if trace_file.is_some() { TraceMode::Full } else { TraceMode::Hash }, ..Default::default() });
    let t = std::time::Instant::now();
    let report = pollster::block_on(runner::run(&mut backend, &scenario, &RunOptions { seed, ..Default::default() }));
    let wall = t.elapsed();
    for s in &report.steps {
        println!("{:?} [{}] {} line {} t={}s: {}", s.status, s.index, s.kind, s.line, s.at_ms / 1000, s.message.lines().next().unwrap_or(""));
    }
    for v in &report.violations {
        println!("violation {} t={}s: {}", v.invariant, v.at_ms / 1000, v.message);
    }
    println!("{} sim={}s wall={:.3}s reconciles={} events={} hash={:?}", if report.passed { "PASSED" } else { "FAILED" }, report.sim_time_ms / 1000, wall.as_secs_f64(), report.reconciles, report.events, report.trace_hash);
    if let (Some(f), Some(sim)) = (trace_file, backend.sim()) {
        let mut out = std::io::BufWriter::new(std::fs::File::create(f).expect("trace file"));
        for l in sim.trace.lines() {
            writeln!(out, "{l}").expect("write");
        }
    }
    std::process::exit(if report.passed { 0 } else { 1 });
}

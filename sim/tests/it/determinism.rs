//! Same scenario, same seed → the same trace, byte for byte (checked the way madsim does it: run twice,
//! compare, and name the first event that differs).

use crate::run;
use capi_sim::engine::trace::TraceMode;

fn first_difference(a: &[String], b: &[String]) -> Option<(usize, String, String)> {
    a.iter().zip(b).enumerate().find(|(_, (x, y))| x != y).map(|(i, (x, y))| (i, x.clone(), y.clone())).or_else(|| {
        (a.len() != b.len())
            .then(|| (a.len().min(b.len()), a.get(b.len()).cloned().unwrap_or_default(), b.get(a.len()).cloned().unwrap_or_default()))
    })
}

#[test]
fn same_seed_same_trace() {
    let (r1, b1) = run("quickstart-upgrade.yaml", Some(3), TraceMode::Full);
    let (r2, b2) = run("quickstart-upgrade.yaml", Some(3), TraceMode::Full);
    let (t1, t2) = (b1.sim().unwrap().trace.lines(), b2.sim().unwrap().trace.lines());
    if let Some((i, x, y)) = first_difference(t1, t2) {
        panic!("the runs diverge at trace line {i}:\n  first:  {x}\n  second: {y}");
    }
    assert_eq!(r1.trace_hash, r2.trace_hash);
    assert!(t1.len() > 1000, "a real run, not an empty one ({} lines)", t1.len());
}

#[test]
fn hash_mode_gives_the_same_hash_as_full_mode() {
    let (r1, _) = run("quickstart.yaml", Some(5), TraceMode::Full);
    let (r2, _) = run("quickstart.yaml", Some(5), TraceMode::Hash);
    assert_eq!(r1.trace_hash, r2.trace_hash);
}

#[test]
fn another_seed_gives_another_trace() {
    let (r1, _) = run("quickstart.yaml", Some(1), TraceMode::Hash);
    let (r2, _) = run("quickstart.yaml", Some(2), TraceMode::Hash);
    assert_ne!(r1.trace_hash, r2.trace_hash, "the seed must reach timing and names");
}

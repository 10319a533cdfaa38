//! Static checks of a loaded scenario against what the simulator knows, for `scenario check` (and
//! before a run): the timing profile loads, the fault profile exists, and every kind a target names
//! is one the API server serves (with a did-you-mean). Each problem is one `file:line:col: message`
//! line; nothing here reads or repeats a file's contents.

use crate::kinds::{Kind, KINDS};
use capi_scenarios::model::{ClusterctlStep, Step};
use capi_scenarios::{Scenario, Target};
use std::path::Path;

/// Every problem found, in step order.
pub fn check(s: &Scenario, fixtures: Option<&Path>) -> Vec<String> {
    let mut out = Vec::new();
    let file = s.path.display();
    if let Some(t) = &s.timing {
        if let Err(e) = crate::backend::load_timing(t, &s.path, fixtures) {
            out.push(format!("{file}:1:1: timing profile `{t}`: {e}"));
        }
    }
    if let Some(p) = &s.fault_profile {
        if let Err(e) = crate::faults::profile::profile(p) {
            out.push(format!("{file}:1:1: {e}"));
        }
    }
    if let Some(goal) = &s.converged {
        goal.for_each_target(&mut |t| kind(t, &format!("{file}:1:1"), &mut out));
    }
    for inv in &s.invariants {
        inv.predicate.for_each_target(&mut |t| kind(t, &format!("{file}:{}:1", inv.line), &mut out));
    }
    for e in &s.steps {
        let at = format!("{file}:{}:1", e.line);
        let mut on = |t: &Target| kind(t, &at, &mut out);
        match &e.step {
            Step::Patch(p) => on(&p.target),
            Step::Delete(d) => on(&d.target),
            Step::Scale(x) => on(&x.target),
            Step::Wait(w) => w.until.for_each_target(&mut on),
            Step::Expect(x) | Step::Check(x) => x.0.iter().for_each(|p| p.for_each_target(&mut on)),
            Step::Never(n) => n.predicate.for_each_target(&mut on),
            Step::Fault(f) => {
                if let Some(p) = &f.when {
                    p.for_each_target(&mut on);
                }
            }
            Step::Clusterctl(ClusterctlStep::Describe(t) | ClusterctlStep::GetKubeconfig(t)) => on(t),
            Step::Apply(_) | Step::Sleep(_) | Step::Clusterctl(ClusterctlStep::Move(_)) | Step::Docker(_) => {}
        }
    }
    out
}

fn kind(t: &Target, at: &str, out: &mut Vec<String>) {
    // Workload clusters serve Kubernetes' own kinds, which the management kind table does not list.
    if t.workload.is_some() || Kind::lookup(&t.kind).is_some() {
        return;
    }
    let guess = KINDS
        .iter()
        .map(|k| (strsim::damerau_levenshtein(&t.kind.to_ascii_lowercase(), &k.name.to_ascii_lowercase()), k.name))
        .min()
        .filter(|(d, _)| *d <= 3)
        .map(|(_, n)| format!(" (did you mean `{n}`?)"))
        .unwrap_or_default();
    let line = format!("{at}: unknown kind `{}`{guess}", t.kind);
    if !out.contains(&line) {
        out.push(line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(text: &str) -> Scenario {
        capi_scenarios::parse::load_text(text, Path::new("s.yaml"), &Default::default()).unwrap()
    }

    #[test]
    fn unknown_kinds_and_profiles_are_named() {
        let s = scenario(
            "timing: no-such-profile\nfault-profile: meteors\nsteps:\n  - wait: { for: { exists: Machin/x } }\n  - expect: { gone: Cluster/y }\n",
        );
        let found = check(&s, Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures").as_path()));
        assert_eq!(found.len(), 3, "{found:#?}");
        assert!(found[0].starts_with("s.yaml:1:1: timing profile `no-such-profile`: "), "{}", found[0]);
        assert!(found[1].starts_with("s.yaml:1:1: unknown fault profile `meteors`"), "{}", found[1]);
        assert_eq!(found[2], "s.yaml:4:1: unknown kind `Machin` (did you mean `Machine`?)");
    }
}

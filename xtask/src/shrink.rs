//! `cargo xtask scenario shrink`: minimize the fault schedule of a failing swarm seed (fewer faults,
//! earlier, shorter, simpler targets) while the same invariant still fails, and write the minimal case
//! as a scenario with explicit `fault:` steps that fails deterministically.

use crate::swarm::parse_mutants;
use anyhow::{Context, Result};
use capi_scenarios::model::FaultSpec;
use capi_scenarios::Scenario;
use capi_sim::engine::trace::TraceMode;
use capi_sim::swarm::{run_seed, shrink as shrink_schedule, Shrunk};
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

/// `scenario shrink` flags.
#[derive(Args)]
pub struct ShrinkArgs {
    /// The scenario.
    pub path: PathBuf,
    /// The failing seed.
    #[arg(long)]
    pub seed: u64,
    /// Fault profile of the swarm run (default: the scenario's, else `default`).
    #[arg(long)]
    pub profile: Option<String>,
    /// Mutants of the swarm run.
    #[arg(long = "mutant")]
    pub mutants: Vec<String>,
    /// Where to write the minimal scenario (default: next to the scenario, `<name>.seed<N>.shrunk.yaml`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Set a variable (repeatable).
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,
    /// Where `fixtures/` is (found by walking up from the scenario by default).
    #[arg(long)]
    pub fixtures: Option<PathBuf>,
}

/// A fault spec as YAML without empty fields.
fn fault_yaml(f: &FaultSpec) -> Result<serde_yaml::Value> {
    let mut v = serde_yaml::to_value(f)?;
    fn prune(v: &mut serde_yaml::Value) {
        if let serde_yaml::Value::Mapping(m) = v {
            m.retain(|_, x| !x.is_null() && !matches!(x, serde_yaml::Value::Bool(false)));
            for (_, x) in m.iter_mut() {
                prune(x);
            }
            m.retain(|_, x| !matches!(x, serde_yaml::Value::Mapping(mm) if mm.is_empty()));
        }
    }
    prune(&mut v);
    let mut step = serde_yaml::Mapping::new();
    step.insert("fault".into(), v);
    Ok(serde_yaml::Value::Mapping(step))
}

/// Write the minimal case as a scenario file beside the original (so relative paths still work).
pub fn write_minimal(
    original_path: &std::path::Path,
    scenario: &Scenario,
    seed: u64,
    shrunk: &Shrunk,
    out: &std::path::Path,
) -> Result<()> {
    let text = std::fs::read_to_string(original_path)?;
    let mut doc: serde_yaml::Value = serde_yaml::from_str(&text)?;
    let map = doc.as_mapping_mut().context("the scenario is not a map")?;
    map.insert("name".into(), format!("{}-seed{seed}-shrunk", scenario.name).into());
    map.insert(
        "description".into(),
        format!(
            "Minimal fault schedule shrunk from swarm seed {seed} of {} ({} faults → {}); fails with {}.\n",
            original_path.display(),
            shrunk.original.len(),
            shrunk.minimal.len(),
            shrunk.invariant
        )
        .into(),
    );
    map.insert("seed".into(), seed.into());
    map.remove("fault-profile");
    let mut steps: Vec<serde_yaml::Value> = shrunk.minimal.iter().map(fault_yaml).collect::<Result<_>>()?;
    if let Some(serde_yaml::Value::Sequence(orig)) = map.get("steps") {
        steps.extend(orig.iter().cloned());
    }
    map.insert("steps".into(), serde_yaml::Value::Sequence(steps));
    std::fs::write(out, serde_yaml::to_string(&doc)?).with_context(|| format!("cannot write {}", out.display()))?;
    Ok(())
}

/// Run a shrink from the command line.
pub fn shrink(args: &ShrinkArgs) -> Result<ExitCode> {
    let vars = crate::scenario::parse_vars(&args.vars)?;
    let scenario =
        capi_scenarios::load(&args.path, &capi_scenarios::LoadOptions { vars: vars.clone(), fixtures_dir: args.fixtures.clone() })
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    let profile = args.profile.clone().or_else(|| scenario.fault_profile.clone()).unwrap_or_else(|| "default".into());
    let mutants = parse_mutants(&args.mutants)?;
    let shrunk = shrink_schedule(&scenario, args.seed, &profile, &mutants).map_err(anyhow::Error::msg)?;
    let out = args.out.clone().unwrap_or_else(|| {
        let stem = args.path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        args.path.with_file_name(format!("{stem}.seed{}.shrunk.yaml", args.seed))
    });
    write_minimal(&args.path, &scenario, args.seed, &shrunk, &out)?;
    // The written case must fail by itself.
    let written = capi_scenarios::load(&out, &capi_scenarios::LoadOptions { vars, fixtures_dir: args.fixtures.clone() })
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let (r, _) = run_seed(&written, args.seed, None, &mutants, Vec::new(), TraceMode::Hash, false);
    let still = r.violations.iter().any(|v| v.invariant == shrunk.invariant) || (shrunk.invariant == "failed" && !r.passed);
    outln!(
        "shrunk seed {}: {} faults → {} ({} runs); invariant {}; written to {}; {}",
        args.seed,
        shrunk.original.len(),
        shrunk.minimal.len(),
        shrunk.runs,
        shrunk.invariant,
        out.display(),
        if still { "fails deterministically" } else { "WARNING: the written case does not fail" }
    );
    let flags = crate::swarm::ReplayFlags { vars: &args.vars, fixtures: args.fixtures.as_deref(), mutants: &args.mutants };
    let cmd = crate::swarm::replay_command(&out.display().to_string(), args.seed, "none", &flags);
    outln!("replay: {cmd}");
    Ok(if still { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

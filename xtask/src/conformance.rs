//! `cargo xtask conformance up|run|compare|down`: a KinD + CAPD management cluster, the scenario
//! library against it (through `capi_conformance::kube_backend`), and the comparison of its outcomes
//! with the simulator's (`capi_conformance::compare`). The logic lives in the library; this module
//! parses flags, runs the external tools `up`/`down` need, and prints.

use anyhow::{bail, Context, Result};
use capi_conformance::compare::{self, NamedOutcome};
use capi_conformance::kube_backend::{self, DockerMode, KubeOptions, RunConfig, MANAGEMENT_CLUSTER};
use capi_scenarios::report::{RunReport, StepStatus};
use capi_scenarios::runner::{self, RunOptions};
use capi_scenarios::LoadOptions;
use capi_sim::backend::{SimBackend, SimOptions};
use clap::{Args, Subcommand};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

/// Conformance commands.
#[derive(Subcommand)]
pub enum ConformanceCmd {
    /// Create the KinD management cluster and install Cluster API with the Docker provider.
    Up(UpArgs),
    /// Run scenarios against a management cluster; exit non-zero if any fails.
    Run(RunArgs),
    /// Compare real outcomes with the simulator's (given, or simulated now).
    Compare(CompareArgs),
    /// Remove what `up` created (per its state file), and nothing else.
    Down(DownArgs),
}

/// `conformance up` flags.
#[derive(Args)]
pub struct UpArgs {
    /// Name of the KinD cluster.
    #[arg(long, default_value = MANAGEMENT_CLUSTER)]
    pub name: String,
    /// Where to write the management cluster's kubeconfig.
    #[arg(long)]
    pub kubeconfig_out: Option<PathBuf>,
    /// The state file recording what `up` created (read by `down`).
    #[arg(long)]
    pub state: Option<PathBuf>,
    /// KinD node image (kind's default when omitted).
    #[arg(long)]
    pub image: Option<String>,
    /// How long to wait for the providers to become available.
    #[arg(long, default_value = "10m")]
    pub wait_providers: String,
    /// Use an existing KinD cluster of that name instead of failing (it is then not deleted by `down`).
    #[arg(long)]
    pub reuse: bool,
}

/// `conformance run` flags.
#[derive(Args)]
pub struct RunArgs {
    /// Scenario files or directories.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Kubeconfig of the management cluster.
    #[arg(long, env = "CAPI_CONFORMANCE_KUBECONFIG")]
    pub kubeconfig: PathBuf,
    /// Context in the kubeconfig (its current context by default).
    #[arg(long)]
    pub context: Option<String>,
    /// Kubeconfig of a second management cluster (for `clusterctl move`).
    #[arg(long)]
    pub second_kubeconfig: Option<PathBuf>,
    /// Scenario time per wall time: 1 for a real cluster, the served simulator's speed-up otherwise.
    #[arg(long, default_value_t = 1.0)]
    pub time_factor: f64,
    /// Write reports here: reports.jsonl, junit.xml, summary.md, outcomes/<scenario>.real.json.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Set a variable (repeatable): --var KUBERNETES_VERSION=v1.34.0.
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,
    /// Where `fixtures/` is (found by walking up from the scenario by default).
    #[arg(long)]
    pub fixtures: Option<PathBuf>,
    /// Keep each scenario's clusters at the end (default: delete them and their containers).
    #[arg(long)]
    pub keep: bool,
    /// Print `clusterctl describe` of every Cluster at the end.
    #[arg(long)]
    pub describe: bool,
    /// Do not use Docker (container predicates, faults and docker steps then fail).
    #[arg(long)]
    pub no_docker: bool,
    /// Stop a scenario (and clean up) after this many minutes of wall time.
    #[arg(long)]
    pub wall_limit_minutes: Option<u64>,
    /// Print one JSON report per scenario instead of the human summary.
    #[arg(long)]
    pub json: bool,
}

/// `conformance compare` flags.
#[derive(Args)]
pub struct CompareArgs {
    /// Real outcomes: a `conformance run --out` directory, a reports.jsonl, or outcome JSON files.
    #[arg(long)]
    pub real: PathBuf,
    /// Simulator outcomes (a `scenario run --out` directory...); simulated now when omitted.
    #[arg(long)]
    pub sim: Option<PathBuf>,
    /// Variables for the simulated runs (repeatable).
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,
    /// Write comparison.md and comparison.json here (printed otherwise).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// `conformance down` flags.
#[derive(Args)]
pub struct DownArgs {
    /// The state file `up` wrote.
    #[arg(long)]
    pub state: Option<PathBuf>,
}

/// What `up` created; `down` removes exactly this.
#[derive(Debug, Serialize, Deserialize)]
struct State {
    kind_cluster: String,
    created_kind_cluster: bool,
    kubeconfig: PathBuf,
    kind_config: PathBuf,
    clusterctl_initialized: bool,
}

/// Run a conformance command.
pub fn run(cmd: ConformanceCmd) -> Result<ExitCode> {
    match cmd {
        ConformanceCmd::Up(a) => up(&a),
        ConformanceCmd::Run(a) => run_scenarios(&a),
        ConformanceCmd::Compare(a) => compare_outcomes(&a),
        ConformanceCmd::Down(a) => down(&a),
    }
}

fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."))
}

fn work_dir() -> PathBuf {
    project_root().join("target").join("conformance")
}

fn default_state() -> PathBuf {
    work_dir().join("state.json")
}

/// How to install each tool `up` needs (the versions are the modelled release's, `capi_sim::release`).
fn tools() -> Vec<(&'static str, String)> {
    use capi_sim::release::{CLUSTERCTL_VERSION, KIND_VERSION};
    vec![
        ("docker", "install Docker Engine (https://docs.docker.com/engine/install/) and make sure `docker info` works for this user".into()),
        (
            "kind",
            format!("install kind {KIND_VERSION}: `go install sigs.k8s.io/kind@{KIND_VERSION}`, or download https://kind.sigs.k8s.io/dl/{KIND_VERSION}/kind-linux-amd64 to a directory on PATH and `chmod +x` it"),
        ),
        (
            "clusterctl",
            format!("install clusterctl {CLUSTERCTL_VERSION}: download https://github.com/kubernetes-sigs/cluster-api/releases/download/{CLUSTERCTL_VERSION}/clusterctl-linux-amd64 to a directory on PATH as `clusterctl` and `chmod +x` it"),
        ),
    ]
}

/// The `clusterctl init` arguments of `up`: exactly the modelled release's providers
/// (`capi_sim::release::PROVIDERS`), whatever version the `clusterctl` binary defaults to.
pub fn init_args(kubeconfig: &str, wait_seconds: u64) -> Vec<String> {
    let mut args = vec!["init".to_string()];
    args.extend(capi_sim::release::clusterctl_init_args());
    args.extend([
        "--kubeconfig".to_string(),
        kubeconfig.to_string(),
        "--wait-providers".to_string(),
        format!("--wait-provider-timeout={wait_seconds}"),
    ]);
    args
}

/// Warn when the `clusterctl` on PATH is not the modelled release's: it still installs the pinned
/// providers, but its own behaviour (describe, move) may differ.
fn check_clusterctl_version() {
    let Ok(out) = Command::new("clusterctl").args(["version", "-o", "short"]).output() else { return };
    let v = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if out.status.success() && v != capi_sim::release::CLUSTERCTL_VERSION {
        eprintln!(
            "note: clusterctl on PATH is {v}, the simulator models {}; the providers are pinned to {} either way",
            capi_sim::release::CLUSTERCTL_VERSION,
            capi_sim::release::CAPI_VERSION
        );
    }
}

fn check_tools() -> Result<()> {
    let mut missing = Vec::new();
    for (tool, how) in tools() {
        if kube_backend::find_on_path(tool).is_none() {
            missing.push(format!("  - `{tool}` is not on PATH: {how}"));
        }
    }
    if missing.is_empty() && !Command::new("docker").arg("info").output().is_ok_and(|o| o.status.success()) {
        missing.push("  - `docker info` fails: start the Docker daemon, or add this user to the `docker` group".into());
    }
    if !missing.is_empty() {
        bail!("conformance up needs tools that are missing:\n{}", missing.join("\n"));
    }
    Ok(())
}

fn run_tool(program: &str, args: &[&str], envs: &[(&str, &str)]) -> Result<()> {
    eprintln!("$ {}{} {}", envs.iter().map(|(k, v)| format!("{k}={v} ")).collect::<String>(), program, args.join(" "));
    let status = Command::new(program).args(args).envs(envs.iter().copied()).status().with_context(|| format!("cannot run {program}"))?;
    if !status.success() {
        bail!("`{program} {}` failed ({status})", args.join(" "));
    }
    Ok(())
}

fn kind_clusters() -> Result<Vec<String>> {
    let out = Command::new("kind").args(["get", "clusters"]).output().context("cannot run kind")?;
    Ok(String::from_utf8_lossy(&out.stdout).lines().map(|l| l.trim().to_string()).filter(|l| !l.is_empty()).collect())
}

fn write_state(path: &Path, state: &State) -> Result<()> {
    capi_reports::write_atomic(path, serde_json::to_string_pretty(state)?.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))
}

/// The KinD config: one node that mounts the Docker socket, so that CAPD (running in the management
/// cluster) creates the workload clusters' containers on this host.
fn kind_config(image: Option<&str>) -> String {
    let image = image.map(|i| format!("    image: {i}\n")).unwrap_or_default();
    format!(
        "# Written by `cargo xtask conformance up`: a KinD management cluster for CAPD.\n\
         kind: Cluster\n\
         apiVersion: kind.x-k8s.io/v1alpha4\n\
         networking:\n  ipFamily: ipv4\n\
         nodes:\n  - role: control-plane\n{image}    extraMounts:\n      - hostPath: /var/run/docker.sock\n        containerPath: /var/run/docker.sock\n"
    )
}

fn up(a: &UpArgs) -> Result<ExitCode> {
    check_tools()?;
    let state_path = a.state.clone().unwrap_or_else(default_state);
    let kubeconfig = a.kubeconfig_out.clone().unwrap_or_else(|| work_dir().join("kubeconfig"));
    let config_path = work_dir().join("kind-config.yaml");
    if state_path.is_file() {
        let s: State = serde_json::from_str(&std::fs::read_to_string(&state_path)?)
            .with_context(|| format!("{} is not a state file", state_path.display()))?;
        if kind_clusters()?.contains(&s.kind_cluster) && s.clusterctl_initialized {
            outln!("already up: KinD cluster `{}` (state {})", s.kind_cluster, state_path.display());
            outln!("kubeconfig: {}", s.kubeconfig.display());
            return Ok(ExitCode::SUCCESS);
        }
    }
    let exists = kind_clusters()?.contains(&a.name);
    if exists && !a.reuse {
        bail!("a KinD cluster named `{}` already exists and this harness did not create it (no state file); pass --reuse to use it (then `down` leaves it alone), or choose --name", a.name);
    }
    capi_reports::write_atomic(&config_path, kind_config(a.image.as_deref()).as_bytes())?;
    let kc = kubeconfig.display().to_string();
    let mut state = State {
        kind_cluster: a.name.clone(),
        created_kind_cluster: !exists,
        kubeconfig: kubeconfig.clone(),
        kind_config: config_path.clone(),
        clusterctl_initialized: false,
    };
    if exists {
        run_tool("kind", &["export", "kubeconfig", "--name", &a.name, "--kubeconfig", &kc], &[])?;
    } else {
        // Record before creating: an interrupted `up` can still be taken `down`.
        write_state(&state_path, &state)?;
        let cfg = config_path.display().to_string();
        run_tool("kind", &["create", "cluster", "--name", &a.name, "--config", &cfg, "--kubeconfig", &kc, "--wait", "180s"], &[])?;
    }
    write_state(&state_path, &state)?;
    check_clusterctl_version();
    let args = init_args(&kc, humantime_secs(&a.wait_providers)?);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run_tool("clusterctl", &args, &[("CLUSTER_TOPOLOGY", "true"), ("EXP_MACHINE_POOL", "true")])?;
    state.clusterctl_initialized = true;
    write_state(&state_path, &state)?;
    outln!("management cluster ready: KinD `{}` with Cluster API and the Docker provider ({})", a.name, capi_sim::release::RELEASE);
    outln!("kubeconfig: {}", kubeconfig.display());
    outln!("state: {}", state_path.display());
    Ok(ExitCode::SUCCESS)
}

/// `10m` → `600`.
fn humantime_secs(text: &str) -> Result<u64> {
    let ms =
        capi_scenarios::duration::parse_duration(text).map_err(anyhow::Error::msg).with_context(|| format!("invalid duration `{text}`"))?;
    Ok(ms.as_ms().div_ceil(1000))
}

fn down(a: &DownArgs) -> Result<ExitCode> {
    let state_path = a.state.clone().unwrap_or_else(default_state);
    if !state_path.is_file() {
        outln!("nothing to take down: no state file at {} (`up` records what it creates there)", state_path.display());
        return Ok(ExitCode::SUCCESS);
    }
    let s: State = serde_json::from_str(&std::fs::read_to_string(&state_path)?)
        .with_context(|| format!("{} is not a state file", state_path.display()))?;
    if s.created_kind_cluster {
        if kube_backend::find_on_path("kind").is_none() {
            bail!("`kind` is not on PATH; it is needed to delete the KinD cluster `{}`", s.kind_cluster);
        }
        if kind_clusters()?.contains(&s.kind_cluster) {
            run_tool("kind", &["delete", "cluster", "--name", &s.kind_cluster], &[])?;
        } else {
            outln!("KinD cluster `{}` is already gone", s.kind_cluster);
        }
        for f in [&s.kubeconfig, &s.kind_config] {
            let _ = std::fs::remove_file(f);
        }
    } else {
        outln!("KinD cluster `{}` was not created by `up` (--reuse): leaving it", s.kind_cluster);
    }
    std::fs::remove_file(&state_path).with_context(|| format!("cannot remove {}", state_path.display()))?;
    outln!("down: removed what `up` created");
    Ok(ExitCode::SUCCESS)
}

fn print_human(r: &RunReport, wall: Duration) {
    outln!("▶ {} ({}) on a real cluster", r.scenario, r.file);
    for s in &r.steps {
        let mark = match s.status {
            StepStatus::Passed => "✓",
            StepStatus::Failed => "✗",
            StepStatus::Skipped => "·",
            StepStatus::Interrupted => "⏹",
        };
        outln!(
            "  {mark} [{}] {:<10} line {:<4} t={}s  {}",
            s.index,
            s.kind,
            s.line,
            s.at_ms / 1000,
            s.message.lines().next().unwrap_or("")
        );
    }
    for f in &r.faults {
        outln!("  ! fault {} on {} at t={}s", f.kind, f.target, f.at_ms / 1000);
    }
    if let Some(e) = &r.error {
        outln!("  ! {e}");
    }
    if let Some(d) = &r.describe {
        for l in d.lines() {
            outln!("    {l}");
        }
    }
    outln!(
        "  {} — {}s of scenario time in {:.0}s wall, {} objects, {} containers",
        if r.passed {
            "PASSED"
        } else if r.interrupted.is_some() {
            "INTERRUPTED"
        } else {
            "FAILED"
        },
        r.sim_time_ms / 1000,
        wall.as_secs_f64(),
        r.objects.len(),
        r.containers.len()
    );
}

fn slug(s: &str) -> String {
    let out: String = s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '-' }).collect();
    if out.is_empty() {
        "_".into()
    } else {
        out
    }
}

fn run_scenarios(a: &RunArgs) -> Result<ExitCode> {
    let files = crate::scenario::expand(&a.paths)?;
    if !a.kubeconfig.is_file() {
        bail!("--kubeconfig {}: no such file (run `cargo xtask conformance up` first, it prints the path)", a.kubeconfig.display());
    }
    if !(a.time_factor.is_finite() && a.time_factor > 0.0) {
        bail!("--time-factor must be a positive number, got {}", a.time_factor);
    }
    let mut kube = KubeOptions::new(&a.kubeconfig);
    kube.context = a.context.clone();
    kube.second_kubeconfig = a.second_kubeconfig.clone();
    kube.time_factor = a.time_factor;
    kube.docker = if a.no_docker { DockerMode::Off } else { DockerMode::Required };
    let mut cfg = RunConfig::new(kube);
    cfg.vars = crate::scenario::parse_vars(&a.vars)?;
    cfg.fixtures = a.fixtures.clone();
    cfg.keep = a.keep;
    cfg.describe = a.describe;
    cfg.wall_limit = a.wall_limit_minutes.map(|m| Duration::from_secs(m * 60));
    let mut sink = match &a.out {
        Some(dir) => Some(capi_reports::write::ReportSink::create(dir.clone(), "conformance run")?),
        None => None,
    };
    if let Some(s) = sink.as_mut() {
        s.expect_runs(files.len());
        s.flush()?;
    }
    // Signals stop the batch; each run also has its own wall-time limit (`cfg.wall_limit`).
    let stop = crate::stop::install(None);
    cfg.stop = Some(stop.clone());
    cfg.handle_ctrl_c = false;
    let batch_started = Instant::now();
    let mut tally = crate::scenario::Tally::new(files.len());
    for file in &files {
        if stop.is_stopped() {
            break;
        }
        // A fresh run id per scenario: its containers are told apart from the previous one's.
        cfg.kube.run_id = kube_backend::new_run_id();
        let started = Instant::now();
        let mut report = kube_backend::run_scenario_with(file, &cfg);
        let wall = started.elapsed();
        report.wall_time_ms = Some(wall.as_millis() as u64);
        tally.count(&report);
        if a.json {
            outln!("{}", serde_json::to_string(&report)?);
        } else {
            print_human(&report, wall);
        }
        if let Some(dir) = &a.out {
            let path = dir.join("outcomes").join(format!("{}.real.json", slug(&report.scenario)));
            capi_reports::write_atomic(&path, serde_json::to_string_pretty(&report.outcome())?.as_bytes())?;
        }
        if let Some(s) = sink.as_mut() {
            s.push(report, Some(wall))?;
            s.flush()?;
        }
    }
    let interrupted = stop.reason();
    if let (Some(s), Some(why)) = (sink.as_mut(), &interrupted) {
        eprintln!("{why}: not running the remaining scenarios");
        s.interrupt(why)?;
    }
    if let Some(s) = sink {
        let files = s.finish()?;
        if !a.json {
            outln!("reports: {}", files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>().join(", "));
        }
    }
    let line = tally.line(interrupted.as_deref(), batch_started.elapsed());
    if a.json {
        eprintln!("{line}");
    } else {
        outln!("{line}");
    }
    Ok(if interrupted.is_some() {
        ExitCode::from(crate::stop::INTERRUPTED_EXIT)
    } else if tally.failed + tally.interrupted > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Simulate the scenario a real outcome came from.
fn simulate(real: &NamedOutcome, vars: &capi_scenarios::vars::Vars) -> Result<NamedOutcome> {
    let file = real
        .file
        .clone()
        .with_context(|| format!("{}: the real outcome does not name its scenario file; pass --sim", real.source.display()))?;
    let scenario = capi_scenarios::load(&file, &LoadOptions { vars: vars.clone(), fixtures_dir: None })?;
    let mut backend = SimBackend::new(SimOptions::default());
    let report = pollster::block_on(runner::run(&mut backend, &scenario, &RunOptions::default()));
    Ok(NamedOutcome {
        scenario: report.scenario.clone(),
        source: file.clone(),
        outcome: report.outcome(),
        passed: Some(report.passed),
        file: Some(file),
    })
}

fn compare_outcomes(a: &CompareArgs) -> Result<ExitCode> {
    let real = compare::load_outcomes(&a.real)?;
    let vars = crate::scenario::parse_vars(&a.vars)?;
    let sim: Vec<NamedOutcome> = match &a.sim {
        Some(p) => compare::load_outcomes(p)?,
        None => real.iter().map(|r| simulate(r, &vars)).collect::<Result<_>>()?,
    };
    let mut comparisons = Vec::new();
    let mut only_real = Vec::new();
    for r in &real {
        match sim.iter().find(|s| s.scenario == r.scenario) {
            Some(s) => comparisons.push(compare::compare(&r.scenario, &s.outcome, &r.outcome)),
            None => only_real.push(r.scenario.clone()),
        }
    }
    let only_sim: Vec<String> = sim.iter().filter(|s| !real.iter().any(|r| r.scenario == s.scenario)).map(|s| s.scenario.clone()).collect();
    let report = compare::render_report(&comparisons, &only_sim, &only_real);
    match &a.out {
        Some(dir) => {
            capi_reports::write_atomic(&dir.join("comparison.md"), report.as_bytes())?;
            capi_reports::write_atomic(&dir.join("comparison.json"), serde_json::to_string_pretty(&comparisons)?.as_bytes())?;
            outln!("{}", report.lines().take(3).collect::<Vec<_>>().join("\n"));
            outln!("comparison: {}", dir.join("comparison.md").display());
        }
        None => outln!("{report}"),
    }
    Ok(if comparisons.iter().all(|c| c.is_conformant()) && only_real.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

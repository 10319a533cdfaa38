//! `cargo xtask sim serve`: the simulator served as a Kubernetes-compatible API for kubectl and
//! kube-rs (one management cluster `mgmt`), optionally mirroring CAPD's containers onto the local
//! Docker Engine. Flag parsing only; the server is `capi_conformance::apiserver`.

use anyhow::{bail, Context, Result};
use capi_conformance::apiserver::{self, ServeOptions};
use clap::{Args, Subcommand};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

/// Simulator commands.
#[derive(Subcommand)]
pub enum SimCmd {
    /// Serve the simulator as a Kubernetes API until Ctrl-C (writes a kubeconfig for it).
    Serve(ServeArgs),
}

/// `sim serve` flags.
#[derive(Args)]
pub struct ServeArgs {
    /// Listen address (plain HTTP; loopback unless you say otherwise). Every request needs the bearer
    /// token written into the kubeconfig; browser requests (with an Origin header) are refused.
    #[arg(long, default_value = "127.0.0.1:6443")]
    pub addr: SocketAddr,
    /// A `Host` name clients may use besides IP addresses and `localhost` (repeatable), e.g. the
    /// machine's DNS name when serving on a non-loopback address.
    #[arg(long = "allow-host", value_name = "NAME")]
    pub allow_hosts: Vec<String>,
    /// Seed of the simulation; also read from CAPI_SIM_SEED.
    #[arg(long, env = "CAPI_SIM_SEED", default_value_t = 1)]
    pub seed: u64,
    /// Simulated seconds per wall-clock second (60 = one simulated minute per second).
    #[arg(long, default_value_t = 1.0)]
    pub speed: f64,
    /// Where to write the kubeconfig.
    #[arg(long, default_value = "capi-sim.kubeconfig")]
    pub kubeconfig: PathBuf,
    /// Mirror CAPD's containers onto the local Docker Engine (real containers running `sleep`).
    #[arg(long)]
    pub docker: bool,
    /// With --docker: import busybox stand-ins for missing CAPD images (needs busybox-static).
    #[arg(long, requires = "docker")]
    pub import_images: bool,
    /// Timing profile: a name under fixtures/timing/ or a YAML file.
    #[arg(long)]
    pub timing: Option<String>,
    /// A `clusterctl init` variable (repeatable), e.g. --var EXP_MACHINE_POOL=false.
    /// CLUSTER_TOPOLOGY=true is set unless given.
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,
    /// Watch events kept for resumption; older resourceVersions get 410 Expired.
    #[arg(long, default_value_t = 100_000)]
    pub history: usize,
    /// Log Docker mirror actions.
    #[arg(long)]
    pub verbose: bool,
}

/// Run a simulator command.
pub fn run(cmd: SimCmd) -> Result<ExitCode> {
    match cmd {
        SimCmd::Serve(args) => serve(args),
    }
}

fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."))
}

fn serve(args: ServeArgs) -> Result<ExitCode> {
    if !(args.speed.is_finite() && args.speed >= 0.0) {
        bail!("--speed must be a non-negative number, got {}", args.speed);
    }
    let mut opts = ServeOptions {
        addr: args.addr,
        seed: args.seed,
        speed: args.speed,
        docker: args.docker,
        history_limit: args.history.max(1),
        verbose: args.verbose,
        allowed_hosts: args.allow_hosts.clone(),
        ..ServeOptions::default()
    };
    if !args.addr.ip().is_loopback() {
        eprintln!(
            "warning: serving on {} (not loopback): anyone who can reach it and has the kubeconfig's token can drive the simulator{}",
            args.addr,
            if args.docker { " and start containers on this Docker Engine" } else { "" }
        );
    }
    if let Some(t) = &args.timing {
        let fixtures = project_root().join("fixtures");
        opts.timing = capi_sim::backend::load_timing(t, Path::new("./serve"), Some(&fixtures))
            .map_err(anyhow::Error::msg)
            .with_context(|| format!("--timing {t}"))?;
    }
    for v in &args.vars {
        let Some((k, val)) = v.split_once('=') else { bail!("--var {v}: expected NAME=VALUE") };
        opts.set_var(k.trim(), val.trim());
    }
    opts.tick = Duration::from_millis(25);
    apiserver::run_blocking(opts, &args.kubeconfig, args.import_images)?;
    Ok(ExitCode::SUCCESS)
}

//! Known-wrong controller variants, switched on only by tests and the swarm's mutant runs, to prove
//! that the invariants and the swarm find real bugs. Production runs never enable any.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

/// A deliberately wrong controller behaviour.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Mutant {
    /// KCP deletes the outdated Machine before its replacement is Ready (maxSurge 1 rollout).
    KcpDeleteBeforeReady,
    /// MachineDeployment rolling update ignores maxUnavailable when scaling old MachineSets down.
    MdIgnoreMaxUnavailable,
    /// DockerMachine / DevMachine deletion forgets to remove the container.
    DockerMachineLeaksContainer,
    /// DockerMachine (release-1.13 flow) gives up after a failed bootstrap exec instead of repeating it.
    CapdNoBootstrapRetry,
    /// The topology controller upgrades MachineDeployments before the control plane.
    TopologyWorkersFirst,
}

impl Mutant {
    /// Every mutant.
    pub const ALL: [Mutant; 5] = [
        Mutant::KcpDeleteBeforeReady,
        Mutant::MdIgnoreMaxUnavailable,
        Mutant::DockerMachineLeaksContainer,
        Mutant::CapdNoBootstrapRetry,
        Mutant::TopologyWorkersFirst,
    ];

    /// Name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Mutant::KcpDeleteBeforeReady => "kcp-delete-before-ready",
            Mutant::MdIgnoreMaxUnavailable => "md-ignore-max-unavailable",
            Mutant::DockerMachineLeaksContainer => "dockermachine-leaks-container",
            Mutant::CapdNoBootstrapRetry => "capd-no-bootstrap-retry",
            Mutant::TopologyWorkersFirst => "topology-workers-first",
        }
    }
}

impl fmt::Display for Mutant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Mutant {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Mutant::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| format!("unknown mutant `{s}`; known: {}", Mutant::ALL.iter().map(|m| m.name()).collect::<Vec<_>>().join(", ")))
    }
}

/// The mutants switched on in a run.
pub type Mutants = BTreeSet<Mutant>;

//! MachineDeployment rollout arithmetic shared by the MachineDeployment and MachineSet controllers
//! (CAPI's `mdutil` package and the rollout planner), split by job: [`intstr`] (maxSurge /
//! maxUnavailable), [`planner`] (scale intents per strategy), [`template`] (hash, up-to-date, new vs old
//! MachineSets, revisions) and [`status`] (aggregated Machine conditions, versions).
//!
//! The in-place update and "move Machines" paths (feature gate `InPlaceUpdates`, off by default) are
//! not modelled.

pub mod intstr;
pub mod planner;
pub mod status;
pub mod template;

pub use intstr::*;
pub use planner::*;
pub use status::*;
pub use template::*;

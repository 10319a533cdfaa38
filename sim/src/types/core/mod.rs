//! API group types (core); one file per upstream Go file.

mod cluster;
mod clusterclass;
mod clusterclass_2;
mod common;
mod condition;
mod machine;
mod machinedeployment;
mod machinedrainrules;
mod machinehealthcheck;
mod machinepool;
mod machineset;

pub use cluster::*;
pub use clusterclass::*;
pub use clusterclass_2::*;
pub use common::*;
pub use condition::*;
pub use machine::*;
pub use machinedeployment::*;
pub use machinedrainrules::*;
pub use machinehealthcheck::*;
pub use machinepool::*;
pub use machineset::*;

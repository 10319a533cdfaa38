//! API group types (capd_docker); one file per upstream Go file.

mod dockercluster;
mod dockerclustertemplate;
mod dockermachine;
mod dockermachinepool;
mod dockermachinepooltemplate;
mod dockermachinetemplate;

pub use dockercluster::*;
pub use dockerclustertemplate::*;
pub use dockermachine::*;
pub use dockermachinepool::*;
pub use dockermachinepooltemplate::*;
pub use dockermachinetemplate::*;

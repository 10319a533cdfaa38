//! API group types (capd_dev); one file per upstream Go file.

mod devcluster;
mod devclustertemplate;
mod devmachine;
mod devmachinepool;
mod devmachinepooltemplate;
mod devmachinetemplate;

pub use devcluster::*;
pub use devclustertemplate::*;
pub use devmachine::*;
pub use devmachinepool::*;
pub use devmachinepooltemplate::*;
pub use devmachinetemplate::*;

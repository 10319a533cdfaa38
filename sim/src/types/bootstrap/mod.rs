//! API group types (bootstrap); one file per upstream Go file.

mod kubeadm;
mod kubeadmconfig;
mod kubeadmconfigtemplate;

pub use kubeadm::*;
pub use kubeadmconfig::*;
pub use kubeadmconfigtemplate::*;

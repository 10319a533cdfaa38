//! API group types (controlplane); one file per upstream Go file.

mod kubeadm_control_plane;
mod kubeadmcontrolplanetemplate;

pub use kubeadm_control_plane::*;
pub use kubeadmcontrolplanetemplate::*;

//! The CAPI controller set, one module per controller, grouped into the managers that run them.

use crate::features::FeatureGates;
use crate::runtime::Reconciler;

/// The controller managers `clusterctl init --infrastructure docker` installs, with their controllers.
pub fn managers(_gates: &FeatureGates) -> Vec<(&'static str, Vec<Box<dyn Reconciler>>)> {
    vec![("capi", vec![]), ("kubeadm-bootstrap", vec![]), ("kubeadm-control-plane", vec![]), ("capd", vec![])]
}

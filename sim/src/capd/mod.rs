//! CAPD, the Docker infrastructure provider: (not yet written)

use crate::features::FeatureGates;
use crate::runtime::Reconciler;

/// CAPD's controllers (both API shapes: `Docker*` and `Dev*`).
pub fn controllers(_gates: &FeatureGates) -> Vec<Box<dyn Reconciler>> {
    vec![]
}

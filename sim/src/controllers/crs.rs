//! (not yet written)

use crate::runtime::Reconciler;

/// The controllers of this module.
pub fn controllers() -> Vec<Box<dyn Reconciler>> {
    vec![]
}

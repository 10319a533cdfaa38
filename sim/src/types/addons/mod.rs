//! API group types (addons); one file per upstream Go file.

mod clusterresourceset;
mod clusterresourcesetbinding;

pub use clusterresourceset::*;
pub use clusterresourcesetbinding::*;

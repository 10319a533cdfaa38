//! `clusterctl move`: (implemented with the management-cluster work).

use crate::engine::Sim;

/// Move the Cluster API objects of a namespace from one management cluster to another.
pub fn move_objects(_sim: &mut Sim, _from: usize, _to: usize, _namespace: &str) -> Result<String, String> {
    Err("clusterctl move is not implemented yet".into())
}

//! clusterctl verbs over the simulated management clusters: `describe cluster` (its tree in `tree`,
//! shared with the conformance backend), `get kubeconfig`, `move` (in the foreground, or in the
//! background: `background`). `generate cluster` lives in the scenario language (it only renders
//! templates).

pub mod background;
mod describe;
mod movement;
pub mod tree;

pub use describe::{cluster_objects, describe};
pub use movement::{block_move_delay_ms, check_not_paused, check_provisioning_completed, move_objects, BLOCK_MOVE_ATTEMPTS, SETTLE_MS};

use crate::controllers::common::unb64;
use crate::kinds::Kind;
use crate::object::ObjKey;
use crate::store::Store;

/// `clusterctl get kubeconfig NAME`: the `value` of Secret `<name>-kubeconfig`.
pub fn get_kubeconfig(store: &Store, cluster: &ObjKey) -> Result<String, String> {
    let key = ObjKey::new(Kind::Secret, &cluster.ns, &format!("{}-kubeconfig", cluster.name));
    let secret = store.get(&key).ok_or_else(|| format!("\"{}-kubeconfig\" not found in namespace \"{}\"", cluster.name, cluster.ns))?;
    let data = secret.str_at("/data/value").ok_or_else(|| format!("failed to get kubeconfig: secret {} has no key \"value\"", key.name))?;
    Ok(unb64(data))
}

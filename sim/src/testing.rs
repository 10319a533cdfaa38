//! Helpers for tests that drive the simulator directly (no scenario file): a simulation with one
//! management cluster, applying YAML, letting time pass, reading objects.

use crate::engine::{Sim, SimConfig};
use crate::features::FeatureGates;
use crate::kinds::Kind;
use crate::object::{ObjKey, Object};
use std::sync::Arc;

/// A simulation with one management cluster `mgmt` (ClusterTopology on, as the quick-start sets it).
pub fn sim(seed: u64) -> Sim {
    let mut s = Sim::new(SimConfig { seed, ..Default::default() });
    s.add_management("mgmt", FeatureGates { cluster_topology: true, ..Default::default() });
    s
}

/// Apply every document of a YAML text (like `kubectl apply -f`); panics on errors (tests only).
pub fn apply_yaml(sim: &mut Sim, yaml: &str) {
    for doc in serde_yaml::Deserializer::from_str(yaml) {
        let v: serde_json::Value = serde::Deserialize::deserialize(doc).expect("valid YAML");
        if v.is_null() {
            continue;
        }
        sim.apply(0, &v).unwrap_or_else(|e| panic!("apply failed: {e}\n{v}"));
    }
}

/// Let `ms` of simulated time pass.
pub fn run_for(sim: &mut Sim, ms: u64) {
    let t = sim.now() + ms;
    sim.run_until(t);
}

/// One object of the first management cluster.
pub fn get(sim: &Sim, kind: Kind, ns: &str, name: &str) -> Option<Arc<Object>> {
    sim.mgmt[0].api.store.get(&ObjKey::new(kind, ns, name)).cloned()
}

/// Objects of a kind in the first management cluster.
pub fn list(sim: &Sim, kind: Kind) -> Vec<Arc<Object>> {
    sim.mgmt[0].api.store.objects().of_kind(kind, None).cloned().collect()
}

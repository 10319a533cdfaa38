//! CAPD, the Docker infrastructure provider, in both API shapes users have: the `Docker*` kinds of the
//! v1.13 line (release-1.13 controllers, with the older machine flow) and the `Dev*` kinds of main
//! (`spec.backend.docker`, the main-branch flow). It drives the world's Docker host: a `<cluster>-lb`
//! HAProxy container per cluster, a kindest/node container per machine, the bootstrap exec inside it,
//! and the Node's providerID once the workload API answers.
//!
//! Modules: [`shape`] (where each shape keeps its fields), [`naming`] (container names, images,
//! providerIDs), [`lookup`] (owners, containers by label, Cluster predicates), [`patch`] (CAPI's patch
//! helper), [`lb`] (the load balancer and its backends), [`container`] (node containers and the
//! failure table), [`cluster`] (infra clusters), [`machine`] + [`machine_docker`] + [`machine_dev`]
//! (infra machines), [`pool`] (infra machine pools), [`template`] (machine template capacity),
//! [`v1beta1`] (deprecated conditions the pools still report).
//!
//! Registration: the `DockerMachinePool`/`DevMachinePool` controllers only run with the MachinePool
//! feature gate, as CAPD's main.go registers them (`EXP_MACHINE_POOL`).

pub mod cluster;
pub mod container;
pub mod lb;
pub mod lookup;
pub mod machine;
pub mod machine_dev;
pub mod machine_docker;
pub mod naming;
pub mod patch;
pub mod pool;
pub mod shape;
pub mod template;
pub mod v1beta1;

#[cfg(test)]
mod tests;

use crate::features::FeatureGates;
use crate::runtime::Reconciler;
pub use shape::Shape;

/// CAPD's controllers (both API shapes: `Docker*` and `Dev*`).
pub fn controllers(gates: &FeatureGates) -> Vec<Box<dyn Reconciler>> {
    let mut v: Vec<Box<dyn Reconciler>> = Vec::new();
    for shape in Shape::ALL {
        v.push(Box::new(cluster::InfraClusterReconciler { shape }));
        v.push(Box::new(machine::InfraMachineReconciler { shape }));
        v.push(Box::new(template::MachineTemplateReconciler { shape }));
        if gates.machine_pool {
            v.push(Box::new(pool::InfraMachinePoolReconciler { shape }));
        }
    }
    v
}

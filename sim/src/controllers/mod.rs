//! The CAPI controller set, one module per controller, grouped into the managers that run them
//! (capi-controller-manager, the kubeadm bootstrap and control-plane managers, capd-controller-manager).

pub mod common;
pub mod conditions;
pub mod merge;

pub mod cluster;
pub mod cluster_status;
pub mod crs;
pub mod flags;
pub mod kcp;
pub mod kubeadm_config;
pub mod machine;
pub mod machinedeployment;
pub mod machinehealthcheck;
pub mod machinepool;
pub mod machineset;
pub mod mdutil;
pub mod topology;

use crate::features::FeatureGates;
use crate::runtime::Reconciler;

/// The controller managers `clusterctl init --infrastructure docker` installs, with their controllers.
/// Controllers behind a feature gate are only registered when the gate is on, as in CAPI's main.go.
pub fn managers(gates: &FeatureGates) -> Vec<(&'static str, Vec<Box<dyn Reconciler>>)> {
    let mut capi: Vec<Box<dyn Reconciler>> = vec![Box::new(cluster::ClusterReconciler::default())];
    if gates.cluster_topology {
        capi.extend(topology::controllers());
    }
    capi.extend(machine::controllers());
    capi.extend(machineset::controllers());
    capi.extend(machinedeployment::controllers());
    capi.extend(machinehealthcheck::controllers());
    capi.extend(crs::controllers());
    if gates.machine_pool {
        capi.extend(machinepool::controllers());
    }
    vec![
        ("capi", capi),
        ("kubeadm-bootstrap", kubeadm_config::controllers()),
        ("kubeadm-control-plane", kcp::controllers()),
        ("capd", crate::capd::controllers(gates)),
    ]
}

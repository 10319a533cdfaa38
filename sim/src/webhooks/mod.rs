//! Admission webhooks of CAPI, CABPK, KCP and CAPD: defaulting and validation per kind, served by the
//! manager that owns the kind (so a manager outage makes its webhooks unreachable).
//!
//! - CAPI core (`capi`): Cluster (`cluster.rs`, versions in `cluster_version.rs`), ClusterClass
//!   (`clusterclass.rs`), Machine and MachineHealthCheck (`machine.rs`), MachineSet and
//!   MachineDeployment (`machinedeployment.rs`), MachinePool (`machinepool.rs`),
//!   ClusterResourceSet and its Binding (`crs.rs`), MachineDrainRule (`machinedrainrule.rs`).
//! - CABPK (`kubeadm-bootstrap`): KubeadmConfig and KubeadmConfigTemplate (`cabpk.rs`).
//! - KCP (`kubeadm-control-plane`): KubeadmControlPlane with its `/scale` webhook (`kcp.rs`,
//!   `kcp_update.rs`), KubeadmControlPlaneTemplate (`kcp_template.rs`).
//! - CAPD (`capd`): Docker* and Dev* clusters, machines and templates (`capd.rs`).
//!
//! Field errors render as `apimachinery`'s `field.Error` (`controllers::topology::field`); shared
//! label, annotation, taint and Go-value rendering rules are in `meta.rs`.
//!
//! Not modelled: ExtensionConfig, IPAddress and IPAddressClaim (no such kinds: no Runtime SDK, no
//! IPAM).

pub mod cabpk;
pub mod capd;
pub mod cluster;
mod cluster_version;
pub mod clusterclass;
pub mod crs;
pub mod kcp;
pub mod kcp_template;
mod kcp_update;
pub mod machine;
pub mod machinedeployment;
pub mod machinedrainrule;
pub mod machinepool;
pub mod meta;

use crate::store::api::Webhook;

/// Every webhook.
pub fn all() -> Vec<Box<dyn Webhook>> {
    let mut v: Vec<Box<dyn Webhook>> = Vec::new();
    v.extend(cluster::webhooks());
    v.extend(kcp::webhooks());
    v.extend(kcp_template::webhooks());
    v.extend(cabpk::webhooks());
    v.extend(machine::webhooks());
    v.extend(machinepool::webhooks());
    v.extend(machinedeployment::webhooks());
    v.extend(crs::webhooks());
    v.extend(machinedrainrule::webhooks());
    v.extend(capd::webhooks());
    v
}

//! Admission webhooks of CAPI, CABPK, KCP and CAPD: defaulting and validation per kind, served by the
//! manager that owns the kind (so a manager outage makes its webhooks unreachable).

pub mod capd;
pub mod cluster;
pub mod kcp;
pub mod machine;
pub mod machinedeployment;

use crate::store::api::Webhook;

/// Every webhook.
pub fn all() -> Vec<Box<dyn Webhook>> {
    let mut v: Vec<Box<dyn Webhook>> = Vec::new();
    v.extend(cluster::webhooks());
    v.extend(kcp::webhooks());
    v.extend(machine::webhooks());
    v.extend(machinedeployment::webhooks());
    v.extend(capd::webhooks());
    v
}

//! Admission webhooks of CAPI, CABPK, KCP and CAPD.

use crate::store::api::Webhook;

/// Every webhook.
pub fn all() -> Vec<Box<dyn Webhook>> {
    vec![]
}
